/*
 * lcache.c - the direct-mapped lookup cache shared by a store's read
 * transactions (lcache.h).
 *
 * A slot is read and written with relaxed atomics under its sequence
 * number (a seqlock): the writer makes it odd (CAS, acquire: after the last
 * writer's end), fences (release) so no data store moves before that,
 * stores, and makes it even again (release); the reader loads it (acquire),
 * loads the data, fences (acquire) and loads it again: a data load that saw
 * a store of a writer that began after the first load makes the second
 * differ. Any check that fails is a miss, never a wrong answer.
 */
#include "store/lcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { KEY_WORDS = LCACHE_KEY_MAX / 8 };
_Static_assert(LCACHE_KEY_MAX % 8 == 0, "the key is whole words");

typedef struct slot {
	_Atomic uint32_t seq;            /* odd while a writer fills it */
	_Atomic uint32_t vlen;           /* the value's length */
	_Atomic uintptr_t val;           /* 0: the key is absent */
	_Atomic uint64_t tk;             /* tag << 8 | key length; 0: never filled */
	_Atomic uint64_t key[KEY_WORDS]; /* zero after the key's last byte */
} slot;

_Static_assert(sizeof(slot) == LCACHE_SLOT, "one slot, one cache line");

struct lcache {
	slot *slots;
	size_t mask;          /* slots - 1 (a power of two) */
	_Atomic uint64_t cur; /* the current view's tag; 0 before the first */
	pthread_mutex_t lock; /* view, last: lcache_tag */
	lcache_view view;     /* the current view, when cur != 0 */
	uint64_t last;        /* the last tag given out; tags fit 56 bits */
};

static size_t floor_pow2(size_t n)
{
	size_t p = 1;
	while (p <= n / 2)
		p *= 2;
	return p;
}

lcache *lcache_new(size_t max_bytes)
{
	lcache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	size_t n = floor_pow2(max_bytes / LCACHE_SLOT ? max_bytes / LCACHE_SLOT : 1);
	/* zero pages: memory is taken as slots are written */
	void *p = mmap(NULL, n * sizeof(slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	if (p == MAP_FAILED || pthread_mutex_init(&c->lock, NULL) != 0) {
		if (p != MAP_FAILED)
			munmap(p, n * sizeof(slot));
		free(c);
		return NULL;
	}
	c->slots = p;
	c->mask = n - 1;
	return c;
}

void lcache_free(lcache *c)
{
	if (!c)
		return;
	munmap(c->slots, lcache_bytes(c));
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint64_t lcache_tag(lcache *c, const lcache_view *v)
{
	uint64_t tag = 0;
	pthread_mutex_lock(&c->lock);
	const lcache_view *w = &c->view;
	bool have = atomic_load_explicit(&c->cur, memory_order_relaxed) != 0;
	if (have && v->gen == w->gen && v->epoch == w->epoch && v->others == w->others) {
		tag = atomic_load_explicit(&c->cur, memory_order_relaxed);
	} else if (!have || v->epoch > w->epoch || (v->epoch == w->epoch && v->txnid > w->txnid)) {
		c->view = *v;
		tag = ++c->last;
		atomic_store_explicit(&c->cur, tag, memory_order_relaxed);
	}
	pthread_mutex_unlock(&c->lock);
	return tag;
}

uint64_t lcache_current(lcache *c)
{
	return atomic_load_explicit(&c->cur, memory_order_relaxed);
}

/* The key as zero-padded words; returns how many hold it. */
static size_t key_words(idn_slice key, uint64_t *w)
{
	size_t i = 0, n = 0;
	for (; i + 8 <= key.len; i += 8)
		memcpy(&w[n++], key.p + i, 8);
	if (i < key.len) {
		uint64_t x = 0;
		for (unsigned sh = 0; i < key.len; i++, sh += 8) /* no call for the tail */
			x |= (uint64_t)key.p[i] << sh;
		w[n++] = x;
	}
	return n;
}

/* Mixes the words; any fixed function does, as a hit compares the key. */
static size_t hash_words(const uint64_t *w, size_t n, size_t len)
{
	uint64_t h = 0x9E3779B97F4A7C15u ^ len;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ w[i]) * 0xBF58476D1CE4E5B9u;
		h ^= h >> 31;
	}
	h ^= h >> 29;
	return (size_t)h;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int lcache_get(lcache *c, uint64_t tag, idn_slice key, idn_slice *val, lcache_key *k)
{
	k->len = 0;
	if (!tag || key.len > LCACHE_KEY_MAX || key.len == 0)
		return 0;
	uint64_t *w = k->w;
	size_t n = key_words(key, w), h = hash_words(w, n, key.len);
	k->len = key.len;
	k->hash = h;
	const slot *s = &c->slots[h & c->mask];
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if ((seq & 1) || LOAD(s->tk) != (tag << 8 | key.len))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (LOAD(s->key[i]) != w[i])
			return 0;
	uintptr_t p = LOAD(s->val);
	uint32_t len = LOAD(s->vlen);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
		return 0; /* a writer was in it */
	*val = idn_slice_of((const void *)p, p ? len : 0);
	return 1;
}

size_t lcache_prefetch(const lcache *c, idn_slice key)
{
	if (key.len > LCACHE_KEY_MAX || key.len == 0)
		return 0;
	uint64_t w[KEY_WORDS];
	size_t h = hash_words(w, key_words(key, w), key.len) & c->mask;
	__builtin_prefetch(&c->slots[h]);
	return h + 1;
}

void lcache_prefetch_value(const lcache *c, size_t hint)
{
	if (hint == 0 || hint > c->mask + 1)
		return;
	uintptr_t p = LOAD(c->slots[hint - 1].val);
	if (p) {
		__builtin_prefetch((const void *)p);
		__builtin_prefetch((const void *)(p + 64));
	}
}

#define STORE(x, v) atomic_store_explicit(&(x), v, memory_order_relaxed)

void lcache_put(lcache *c, uint64_t tag, const lcache_key *k, idn_slice val)
{
	if (!tag || k->len == 0 || val.len > UINT32_MAX || lcache_current(c) != tag)
		return;
	slot *s = &c->slots[k->hash & c->mask];
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
	if ((seq & 1) || !atomic_compare_exchange_strong_explicit(
	                     &s->seq, &seq, seq + 1, memory_order_acquire, memory_order_relaxed))
		return; /* another writer has it: this entry is not kept */
	atomic_thread_fence(memory_order_release);
	STORE(s->tk, tag << 8 | k->len);
	STORE(s->val, (uintptr_t)val.p);
	STORE(s->vlen, (uint32_t)val.len);
	for (size_t i = 0; i < (k->len + 7) / 8; i++) /* a hit compares no more */
		STORE(s->key[i], k->w[i]);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

size_t lcache_bytes(const lcache *c)
{
	return (c->mask + 1) * sizeof(slot);
}
