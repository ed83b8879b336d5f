/*
 * cache.c - sharded answer cache: hash chains + LRU list + in-flight table per
 * shard, all under the shard's mutex. See cache.h.
 */
#include "resolver/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "proto/proto.h"

/* LRU links; first in an entry, so a link is its entry. The list head = most recent. */
struct lru_link {
	struct lru_link *prev, *next;
};

struct entry {
	struct lru_link l;
	struct entry *hnext;
	uint64_t hash;
	uint32_t klen, blen, rcode;
	uint32_t expires;     /* unix seconds: fresh before */
	uint32_t stale_until; /* usable as stale before */
	cache_origin from;
	uint8_t data[]; /* key, then body */
};

/* A miss someone is asking upstream about; waiters sleep on the shard's cv. */
struct inflight {
	struct inflight *next;
	uint64_t hash;
	uint32_t klen;
	unsigned waiters;
	bool done;
	uint8_t key[];
};

struct shard {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct entry **buckets;
	size_t nbuckets, nentries;
	size_t bytes, budget;
	struct lru_link lru; /* sentinel */
	struct inflight *inflight;
	uint64_t hits, misses, coalesced, stale, evictions, inserts;
} __attribute__((aligned(64)));

struct cache {
	cache_opts o;
	unsigned nshards;
	struct shard *shards;
};

static uint32_t default_clock(void)
{
	return (uint32_t)time(NULL);
}

/* FNV-1a, 64 bits: keys are short and this is on the hit path. */
static uint64_t key_hash(const uint8_t *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= k[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

/*
 * What an entry costs the process: glibc's chunk (request + 8, rounded to 16)
 * is counted, so the budget bounds the memory really used, not the payload.
 */
static size_t entry_size(size_t klen, size_t blen)
{
	return (sizeof(struct entry) + klen + blen + 8 + 15) & ~(size_t)15;
}

int cache_new(const cache_opts *o, cache **out)
{
	cache *c = calloc(1, sizeof(*c));
	if (!c)
		return IDN_ENOMEM;
	c->o = *o;
	if (!c->o.max_bytes)
		c->o.max_bytes = 64u << 20;
	if (!c->o.neg_ttl)
		c->o.neg_ttl = 60;
	if (!c->o.stale_ttl)
		c->o.stale_ttl = 300;
	if (!c->o.max_ttl)
		c->o.max_ttl = 86400;
	if (!c->o.clock)
		c->o.clock = default_clock;
	unsigned n = 1;
	while (n < (o->shards ? o->shards : 64) && n < 4096)
		n <<= 1;
	c->nshards = n;
	c->shards = aligned_alloc(64, sizeof(struct shard) * n);
	if (!c->shards) {
		free(c);
		return IDN_ENOMEM;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* waits immune to clock steps */
	for (unsigned i = 0; i < n; i++) {
		struct shard *s = &c->shards[i];
		memset(s, 0, sizeof(*s));
		pthread_mutex_init(&s->mu, NULL);
		pthread_cond_init(&s->cv, &ca);
		s->lru.prev = s->lru.next = &s->lru;
		s->budget = c->o.max_bytes / n;
	}
	pthread_condattr_destroy(&ca);
	*out = c;
	return IDN_OK;
}

void cache_free(cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];
		for (struct lru_link *l = s->lru.next, *nx; l != &s->lru; l = nx) {
			nx = l->next;
			free(l); /* the entry it starts */
		}
		for (struct inflight *f = s->inflight, *nx; f; f = nx) {
			nx = f->next;
			free(f);
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
	free(c->shards);
	free(c);
}

const cache_opts *cache_options(const cache *c)
{
	return &c->o;
}

static struct shard *shard_of(cache *c, uint64_t h)
{
	return &c->shards[(h >> 48) & (c->nshards - 1)];
}

static struct entry **find_slot(struct shard *s, uint64_t h, const uint8_t *k, size_t klen)
{
	if (!s->nbuckets)
		return NULL;
	struct entry **pp = &s->buckets[h & (s->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->hnext) {
		struct entry *e = *pp;
		if (e->hash == h && e->klen == klen && !memcmp(e->data, k, klen))
			return pp;
	}
	return NULL;
}

static void lru_unlink(struct entry *e)
{
	e->l.prev->next = e->l.next;
	e->l.next->prev = e->l.prev;
}

static void lru_push(struct shard *s, struct entry *e)
{
	e->l.next = s->lru.next;
	e->l.prev = &s->lru;
	s->lru.next->prev = &e->l;
	s->lru.next = &e->l;
}

/* Unlinks *pp from its chain and the LRU and frees it. */
static void remove_at(struct shard *s, struct entry **pp)
{
	struct entry *e = *pp;
	*pp = e->hnext;
	lru_unlink(e);
	s->bytes -= entry_size(e->klen, e->blen);
	s->nentries--;
	free(e);
}

static void copy_out(const struct entry *e, uint32_t now, cache_answer *a, uint8_t *buf, size_t cap)
{
	a->rcode = e->rcode;
	a->ttl_left = now < e->expires ? e->expires - now : 0;
	a->body_len = e->blen;
	a->from = e->from;
	if (e->blen <= cap)
		memcpy(buf, e->data + e->klen, e->blen);
}

/*
 * Looks key up under the lock: CACHE_HIT (fresh), CACHE_STALE when stale_ok
 * and within the window, else CACHE_MISS. Drops entries past their window.
 */
static int lookup_locked(cache *c, struct shard *s, uint64_t h, const uint8_t *key, size_t klen,
                         bool stale_ok, cache_answer *a, uint8_t *buf, size_t cap)
{
	struct entry **pp = find_slot(s, h, key, klen);
	if (!pp)
		return CACHE_MISS;
	struct entry *e = *pp;
	uint32_t now = c->o.clock();
	if (now < e->expires) {
		lru_unlink(e);
		lru_push(s, e);
		copy_out(e, now, a, buf, cap);
		return CACHE_HIT;
	}
	if (now >= e->stale_until) {
		remove_at(s, pp);
		return CACHE_MISS;
	}
	if (!stale_ok)
		return CACHE_MISS;
	copy_out(e, now, a, buf, cap);
	return CACHE_STALE;
}

static int get_counting(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf,
                        size_t cap, bool count_hit, bool count_miss)
{
	uint64_t h = key_hash(key, klen);
	struct shard *s = shard_of(c, h);
	pthread_mutex_lock(&s->mu);
	int r = lookup_locked(c, s, h, key, klen, false, a, buf, cap);
	if (r == CACHE_HIT)
		s->hits += count_hit;
	else if (count_miss)
		s->misses++;
	pthread_mutex_unlock(&s->mu);
	return r;
}

int cache_get(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf, size_t cap)
{
	return get_counting(c, key, klen, a, buf, cap, true, true);
}

int cache_peek(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf, size_t cap)
{
	return get_counting(c, key, klen, a, buf, cap, true, false);
}

int cache_probe(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf,
                size_t cap)
{
	return get_counting(c, key, klen, a, buf, cap, false, false);
}

int cache_get_stale(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf,
                    size_t cap)
{
	uint64_t h = key_hash(key, klen);
	struct shard *s = shard_of(c, h);
	pthread_mutex_lock(&s->mu);
	int r = lookup_locked(c, s, h, key, klen, true, a, buf, cap);
	if (r == CACHE_STALE)
		s->stale++;
	else if (r == CACHE_HIT)
		s->hits++;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static struct inflight *find_inflight(struct shard *s, uint64_t h, const uint8_t *k, size_t klen,
                                      struct inflight ***prev)
{
	struct inflight **pp = &s->inflight;
	for (; *pp; pp = &(*pp)->next) {
		struct inflight *f = *pp;
		if (f->hash == h && f->klen == klen && !memcmp(f->key, k, klen)) {
			if (prev)
				*prev = pp;
			return f;
		}
	}
	return NULL;
}

int cache_fetch(cache *c, const uint8_t *key, size_t klen, unsigned wait_ms, cache_answer *a,
                uint8_t *buf, size_t cap)
{
	uint64_t h = key_hash(key, klen);
	struct shard *s = shard_of(c, h);
	int r;
	pthread_mutex_lock(&s->mu);
	if ((r = lookup_locked(c, s, h, key, klen, false, a, buf, cap)) == CACHE_HIT) {
		s->hits++;
		goto out;
	}
	struct inflight *f = find_inflight(s, h, key, klen, NULL);
	if (!f) {
		f = malloc(sizeof(*f) + klen);
		if (!f) { /* cannot coalesce: the caller still may ask upstream */
			r = CACHE_MISS;
			goto out;
		}
		*f = (struct inflight){.next = s->inflight, .hash = h, .klen = (uint32_t)klen};
		memcpy(f->key, key, klen);
		s->inflight = f;
		r = CACHE_LEAD;
		goto out;
	}
	s->coalesced++;
	f->waiters++;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += wait_ms / 1000;
	dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (!f->done) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
			break;
	}
	bool done = f->done;
	/* Once done, the leader unlinked f and left it to the last waiter. */
	if (--f->waiters == 0 && done)
		free(f);
	r = lookup_locked(c, s, h, key, klen, false, a, buf, cap);
	if (r == CACHE_HIT)
		s->hits++;
out:
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* Ends a lead on key, if any: unlinks it and wakes its waiters. Under the lock. */
static void end_lead_locked(struct shard *s, uint64_t h, const uint8_t *key, size_t klen)
{
	struct inflight **pp;
	struct inflight *f = find_inflight(s, h, key, klen, &pp);
	if (!f)
		return;
	*pp = f->next;
	f->done = true;
	if (f->waiters == 0)
		free(f);
	else
		pthread_cond_broadcast(&s->cv);
}

void cache_abandon(cache *c, const uint8_t *key, size_t klen)
{
	uint64_t h = key_hash(key, klen);
	struct shard *s = shard_of(c, h);
	pthread_mutex_lock(&s->mu);
	end_lead_locked(s, h, key, klen);
	pthread_mutex_unlock(&s->mu);
}

/* Doubles the table when chains grow past one entry per bucket on average. */
static void maybe_grow(struct shard *s)
{
	if (s->nentries < s->nbuckets)
		return;
	size_t n = s->nbuckets ? s->nbuckets * 2 : 16;
	struct entry **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct entry *e = s->buckets[i], *nx; e; e = nx) {
			nx = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->bytes += (n - s->nbuckets) * sizeof(*b); /* the table counts against the budget too */
	s->nbuckets = n;
}

int cache_put(cache *c, const uint8_t *key, size_t klen, uint32_t rcode, const uint8_t *body,
              size_t body_len, uint32_t ttl)
{
	return cache_put_from(c, key, klen, rcode, body, body_len, ttl, NULL);
}

int cache_put_from(cache *c, const uint8_t *key, size_t klen, uint32_t rcode, const uint8_t *body,
                   size_t body_len, uint32_t ttl, const cache_origin *from)
{
	uint64_t h = key_hash(key, klen);
	struct shard *s = shard_of(c, h);
	size_t sz = entry_size(klen, body_len);
	int ret = IDN_OK;
	struct entry *e = NULL;
	if (ttl > c->o.max_ttl)
		ttl = c->o.max_ttl;
	if (ttl && sz <= s->budget && klen <= UINT32_MAX && body_len <= UINT32_MAX) {
		/* Built outside the lock: a put must not hold up the shard's hits. */
		if (!(e = malloc(sz)))
			ret = IDN_ENOMEM;
	} else if (ttl) {
		ret = IDN_ERANGE;
	}
	if (e) {
		uint32_t now = c->o.clock();
		*e = (struct entry){.hash = h,
		                    .klen = (uint32_t)klen,
		                    .blen = (uint32_t)body_len,
		                    .rcode = rcode,
		                    .expires = now + ttl,
		                    .stale_until = now + ttl + c->o.stale_ttl};
		if (from)
			e->from = *from;
		if (!e->from.fetched)
			e->from.fetched = now;
		memcpy(e->data, key, klen);
		if (body_len)
			memcpy(e->data + klen, body, body_len);
	}

	pthread_mutex_lock(&s->mu);
	if (e) {
		struct entry **pp = find_slot(s, h, key, klen);
		if (pp)
			remove_at(s, pp);
		while (s->bytes + sz > s->budget && s->lru.prev != &s->lru) {
			struct entry *old = (struct entry *)s->lru.prev;
			remove_at(s, find_slot(s, old->hash, old->data, old->klen));
			s->evictions++;
		}
		maybe_grow(s);
		struct entry **b = &s->buckets[h & (s->nbuckets - 1)];
		e->hnext = *b;
		*b = e;
		lru_push(s, e);
		s->bytes += sz;
		s->nentries++;
		s->inserts++;
	}
	end_lead_locked(s, h, key, klen);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

int cache_values_ttl(idn_slice values, uint32_t n, uint32_t now, uint32_t max_ttl, uint32_t *ttl)
{
	proto_values_it it = proto_values_begin(values, n);
	proto_value v;
	uint32_t best = max_ttl;
	int rc;
	while ((rc = proto_values_next(&it, &v)) == 1) {
		uint32_t t = v.ttl;
		if (v.ttl_type == 1) /* absolute: an expiry time */
			t = v.ttl > now ? v.ttl - now : 0;
		if (t < best)
			best = t;
	}
	if (rc)
		return rc;
	*ttl = best;
	return IDN_OK;
}

void cache_stats(cache *c, struct cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];
		pthread_mutex_lock(&s->mu);
		st->hits += s->hits;
		st->misses += s->misses;
		st->coalesced += s->coalesced;
		st->stale += s->stale;
		st->evictions += s->evictions;
		st->inserts += s->inserts;
		st->entries += s->nentries;
		st->bytes += s->bytes;
		pthread_mutex_unlock(&s->mu);
	}
}
