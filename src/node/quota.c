/*
 * quota.c - the quotas 603-605 (quota.h): the daily request counts in
 * memory and their flush, the prefix counters kept in the write
 * transaction of each change, the overrides in store meta values, and the
 * answer when a quota acts.
 *
 * Store meta values (not logged, so a mirror has none; a dump does not carry
 * them): "qd.<h>" be32 day | be64 count, an identity's requests that day;
 * "qi.<h>" / "qc.<h>" be64, the identifiers / child prefixes of a prefix;
 * "qo.<kind>.<h>" be64 limit, an override (empty: none). <h> is 48 hex
 * digits of SHA-256 of the key ("INDEX:" + the identity's store key, or the
 * normalised prefix), since meta names are short and keys are not.
 */
#include "node/quota.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/limit.h"
#include "node/admin.h"
#include "node/answer.h"
#include "node/authz.h"
#include "proto/handle.h"

enum {
	DAY_S = 86400,
	BUCKETS = 256,
	HEX_LEN = 48,
	NAME_LEN = 8 + HEX_LEN,                /* "qo.x." + hex + NUL, rounded up */
	QKEY_MAX = HANDLE_KEY_MAX + 12,        /* "INDEX:" + a store key */
	MAX_IDENTITIES = QUOTA_SHARDS * 65536, /* counted at once; past it, uncounted and logged */
};

static const char *const kind_names[QUOTA_KINDS] = {"daily", "identifiers", "child-prefixes"};
static const char kind_tag[QUOTA_KINDS] = {'d', 'i', 'c'};

/* One identity's requests today. */
struct day_entry {
	struct day_entry *next;
	uint64_t hash;
	uint32_t day;
	uint64_t count;
	uint64_t limit; /* as read at generation gen - 1 (0: never read) */
	unsigned gen;
	bool dirty; /* count not yet in the store */
	char name[NAME_LEN];
	size_t klen;
	uint8_t key[];
};

struct shard {
	pthread_mutex_t lock;
	struct day_entry *b[BUCKETS];
};

struct node_quota {
	uint64_t dflt[QUOTA_KINDS];
	struct shard shards[QUOTA_SHARDS];
	atomic_uint gen;   /* bumped by every override change and new default */
	atomic_bool dirty; /* some entry is dirty */
	atomic_size_t entries;
	pthread_mutex_t flush_lock;
	uint32_t last_flush;
};

int node_quota_new(const node_config *cfg, node_quota **out)
{
	node_quota *q = calloc(1, sizeof(*q));
	if (!q)
		return IDN_ENOMEM;
	q->dflt[QUOTA_DAILY] = cfg->quota_daily;
	q->dflt[QUOTA_IDENTIFIERS] = cfg->quota_identifiers;
	q->dflt[QUOTA_CHILDREN] = cfg->quota_children;
	for (int i = 0; i < QUOTA_SHARDS; i++)
		pthread_mutex_init(&q->shards[i].lock, NULL);
	pthread_mutex_init(&q->flush_lock, NULL);
	*out = q;
	return IDN_OK;
}

void node_quota_set_defaults(node *n, uint64_t daily, uint64_t identifiers, uint64_t children)
{
	node_quota *q = n->quota;
	if (!q)
		return;
	__atomic_store_n(&q->dflt[QUOTA_DAILY], daily, __ATOMIC_RELAXED);
	__atomic_store_n(&q->dflt[QUOTA_IDENTIFIERS], identifiers, __ATOMIC_RELAXED);
	__atomic_store_n(&q->dflt[QUOTA_CHILDREN], children, __ATOMIC_RELAXED);
	atomic_fetch_add(&q->gen, 1); /* cached daily limits are read again */
}

void node_quota_free(node_quota *q)
{
	if (!q)
		return;
	for (int i = 0; i < QUOTA_SHARDS; i++) {
		for (int b = 0; b < BUCKETS; b++)
			for (struct day_entry *e = q->shards[i].b[b], *nx; e; e = nx) {
				nx = e->next;
				free(e);
			}
		pthread_mutex_destroy(&q->shards[i].lock);
	}
	pthread_mutex_destroy(&q->flush_lock);
	free(q);
}

int node_quota_kind(const char *name, size_t len)
{
	for (int k = 0; k < QUOTA_KINDS; k++)
		if (strlen(kind_names[k]) == len && !memcmp(kind_names[k], name, len))
			return k;
	return -1;
}

const char *node_quota_kind_name(enum node_quota_kind k)
{
	return (unsigned)k < QUOTA_KINDS ? kind_names[k] : "unknown";
}

/* ---- names and values in the store ---- */

/* tag + 48 hex digits of SHA-256(key). */
static void meta_name(char *out, const char *tag, idn_slice key)
{
	uint8_t d[PROTO_DIGEST_MAX];
	proto_digest(PROTO_HASH_SHA256, key.p, key.len, d);
	size_t n = strlen(tag);
	memcpy(out, tag, n);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < HEX_LEN / 2; i++) {
		out[n + 2 * i] = hex[d[i] >> 4];
		out[n + 2 * i + 1] = hex[d[i] & 15];
	}
	out[n + HEX_LEN] = 0;
}

static void override_name(char *out, enum node_quota_kind k, idn_slice key)
{
	char tag[6] = {'q', 'o', '.', kind_tag[k], '.', 0};
	meta_name(out, tag, key);
}

/* The limit of kind k for key in t: the override, else the default. */
static int limit_of(node_quota *q, store_txn *t, enum node_quota_kind k, idn_slice key,
                    uint64_t *limit, bool *override)
{
	char name[NAME_LEN];
	override_name(name, k, key);
	idn_slice v;
	int ret = store_meta_get(t, name, &v);
	if (ret && ret != IDN_ENOTFOUND)
		return ret;
	*override = !ret && v.len == 8;
	*limit = *override ? store_be64(v.p) : __atomic_load_n(&q->dflt[k], __ATOMIC_RELAXED);
	return IDN_OK;
}

/* A be64 counter, IDN_ENOTFOUND when there is none. */
static int counter_get(store_txn *t, const char *name, uint64_t *n)
{
	idn_slice v;
	int ret = store_meta_get(t, name, &v);
	if (!ret && v.len != 8)
		ret = IDN_ENOTFOUND;
	if (!ret)
		*n = store_be64(v.p);
	return ret;
}

static int counter_put(store_txn *t, const char *name, uint64_t n)
{
	uint8_t v[8];
	store_put_be64(v, n);
	return store_meta_put(t, name, idn_slice_of(v, sizeof(v)));
}

/* ---- the answer ---- */

static void utc_text(uint32_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The refusal of quota k on `what`, as node_config.codes says; counted (LIM_QUOTA). */
static int refuse(node_authz *c, enum node_quota_kind k, idn_slice what, uint64_t limit)
{
	char msg[PROTO_HANDLE_MAX + 160], at[32];
	int wl = what.len > PROTO_HANDLE_MAX ? PROTO_HANDLE_MAX : (int)what.len;
	const char *w = (const char *)what.p;
	if (k == QUOTA_DAILY) {
		utc_text((c->now / DAY_S + 1) * DAY_S, at, sizeof(at));
		snprintf(msg, sizeof(msg),
		         NODE_MSG_QUOTA_DAILY " of %.*s: limit %llu a day reached; resets at %s",
		         wl, w, (unsigned long long)limit, at);
	} else {
		snprintf(msg, sizeof(msg), NODE_MSG_QUOTA "%s %.*s: limit %llu reached",
		         k == QUOTA_IDENTIFIERS ? "identifiers under prefix" : "child prefixes of",
		         wl, w, (unsigned long long)limit);
	}
	limit_hit(LIM_QUOTA, "%s", msg);
	static const uint32_t ips[QUOTA_KINDS] = {
	    PROTO_RC_IDIS_DAILY_LIMIT, PROTO_RC_IDIS_HANDLE_LIMIT, PROTO_RC_IDIS_PREFIX_LIMIT};
	uint32_t rc = c->rq->w->node->cfg.codes == NODE_CODES_IPS ? ips[k]
	              : k == QUOTA_DAILY                          ? PROTO_RC_SERVER_BUSY
	                                                          : PROTO_RC_ERROR;
	return node_answer_error(c->rq, rc, msg);
}

/* ---- daily requests ---- */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* "INDEX:" + the identity's store key into key; its length. */
static size_t daily_key(uint32_t index, const uint8_t *hkey, size_t hlen, uint8_t *key)
{
	int n = snprintf((char *)key, 16, "%u:", index);
	memcpy(key + n, hkey, hlen);
	return (size_t)n + hlen;
}

static struct day_entry *entry_find(struct shard *s, uint64_t h, const uint8_t *key, size_t klen)
{
	for (struct day_entry *e = s->b[h % BUCKETS]; e; e = e->next)
		if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
			return e;
	return NULL;
}

/* A new entry, with the count the store holds for it today. Locked. */
static struct day_entry *entry_load(node_quota *q, struct shard *s, store_txn *t, uint64_t h,
                                    const uint8_t *key, size_t klen, uint32_t day)
{
	if (atomic_load(&q->entries) >= MAX_IDENTITIES)
		return NULL;
	struct day_entry *e = calloc(1, sizeof(*e) + klen);
	if (!e)
		return NULL;
	e->hash = h;
	e->klen = klen;
	memcpy(e->key, key, klen);
	meta_name(e->name, "qd.", idn_slice_of(key, klen));
	e->day = day;
	idn_slice v;
	if (!store_meta_get(t, e->name, &v) && v.len == 12 && idn_be32(v.p) == day)
		e->count = store_be64(v.p + 4);
	e->next = s->b[h % BUCKETS];
	s->b[h % BUCKETS] = e;
	atomic_fetch_add(&q->entries, 1);
	return e;
}

/* The entry of key today, its limit current. NULL when it cannot be held. Locked. */
static struct day_entry *entry_today(node_quota *q, struct shard *s, store_txn *t,
                                     const uint8_t *key, size_t klen, uint32_t day)
{
	uint64_t h = fnv1a(key, klen);
	unsigned gen = atomic_load(&q->gen);
	struct day_entry *e = entry_find(s, h, key, klen);
	if (!e && !(e = entry_load(q, s, t, h, key, klen, day)))
		return NULL;
	if (e->day != day) {
		e->day = day;
		e->count = 0;
	}
	if (e->gen != gen + 1) {
		bool ov;
		if (limit_of(q, t, QUOTA_DAILY, idn_slice_of(key, klen), &e->limit, &ov))
			return NULL;
		e->gen = gen + 1;
	}
	return e;
}

static struct shard *shard_of(node_quota *q, const uint8_t *key, size_t klen)
{
	return &q->shards[fnv1a(key, klen) % QUOTA_SHARDS];
}

int node_quota_request(node_authz *c)
{
	node_quota *q = c->rq->w->node->quota;
	if (!q || c->id_klen < 0)
		return 0;
	uint8_t key[QKEY_MAX];
	size_t klen = daily_key(c->id_index, c->id_key, (size_t)c->id_klen, key);
	struct shard *s = shard_of(q, key, klen);
	pthread_mutex_lock(&s->lock);
	struct day_entry *e = entry_today(q, s, c->t, key, klen, c->now / DAY_S);
	if (!e) {
		pthread_mutex_unlock(&s->lock);
		limit_hit(LIM_QUOTA,
		          "a request not counted: %zu identities counted today (at most %d), no "
		          "memory, or a store error",
		          atomic_load(&q->entries), MAX_IDENTITIES);
		return 0;
	}
	uint64_t limit = e->limit;
	/* Node-wide admins are never refused (they are who raises a limit). */
	bool over = limit && e->count >= limit && node_authz_is_server_admin(c) == 0;
	if (!over) {
		e->count++;
		e->dirty = true;
		atomic_store(&q->dirty, true);
	}
	pthread_mutex_unlock(&s->lock);
	if (!over)
		return 0;
	char who[PROTO_HANDLE_MAX + 16];
	int n = snprintf(who, sizeof(who), "%u:%.*s", c->id_index, (int)c->id_handle.len,
	                 (const char *)c->id_handle.p);
	return refuse(c, QUOTA_DAILY, idn_slice_of(who, (size_t)n < sizeof(who) ? (size_t)n : 0),
	              limit);
}

/* ---- the flush ---- */

/* A count to write. Entries are freed only under flush_lock, so e stays valid. */
struct flush_item {
	struct day_entry *e;
	struct shard *s;
	uint32_t day;
	uint64_t count;
};

/*
 * Takes the dirty counts into *items (they stay dirty until written) and
 * frees the entries of days past that are written. The number taken, or -1.
 */
static long flush_collect(node_quota *q, uint32_t today, struct flush_item **items)
{
	size_t cap = atomic_load(&q->entries) + 1, n = 0;
	struct flush_item *it = calloc(cap, sizeof(*it));
	if (!it)
		return -1;
	for (int i = 0; i < QUOTA_SHARDS; i++) {
		struct shard *s = &q->shards[i];
		pthread_mutex_lock(&s->lock);
		for (int b = 0; b < BUCKETS; b++) {
			for (struct day_entry **pe = &s->b[b], *e; (e = *pe);) {
				if (e->dirty && n < cap)
					it[n++] = (struct flush_item){e, s, e->day, e->count};
				else if (e->dirty) /* (came since cap was taken: the next flush) */
					atomic_store(&q->dirty, true);
				if (!e->dirty && e->day < today) {
					*pe = e->next;
					free(e);
					atomic_fetch_sub(&q->entries, 1);
				} else {
					pe = &e->next;
				}
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	*items = it;
	return (long)n;
}

/* Writes the items in one transaction. */
static int flush_write(store *st, const struct flush_item *it, long n)
{
	store_txn *t;
	int ret = store_txn_begin(st, 0, &t);
	if (ret)
		return ret;
	for (long i = 0; i < n && !ret; i++) {
		uint8_t v[12];
		idn_put_be32(v, it[i].day);
		store_put_be64(v + 4, it[i].count);
		ret = store_meta_put(t, it[i].e->name, idn_slice_of(v, sizeof(v)));
	}
	if (ret) {
		store_txn_abort(t);
		return ret;
	}
	return store_txn_commit(t);
}

int node_quota_flush(node *n, bool force)
{
	node_quota *q = n->quota;
	if (!q || !n->store)
		return IDN_OK;
	uint32_t now = n->cfg.clock();
	pthread_mutex_lock(&q->flush_lock);
	int ret = IDN_OK;
	if ((!force && (uint32_t)(now - q->last_flush) < QUOTA_FLUSH_S) ||
	    !atomic_exchange(&q->dirty, false))
		goto out;
	q->last_flush = now;
	struct flush_item *it;
	long cnt = flush_collect(q, now / DAY_S, &it);
	ret = cnt < 0 ? IDN_ENOMEM : cnt ? flush_write(n->store, it, cnt) : IDN_OK;
	if (ret) {
		fprintf(stderr,
		        "idnode: quota: the day's request counts not saved (%s); retrying\n",
		        idn_strerror(ret));
		atomic_store(&q->dirty, true);
	}
	/* Written: clean, unless counted again meanwhile. */
	for (long i = 0; !ret && i < cnt; i++) {
		pthread_mutex_lock(&it[i].s->lock);
		if (it[i].e->day == it[i].day && it[i].e->count == it[i].count)
			it[i].e->dirty = false;
		pthread_mutex_unlock(&it[i].s->lock);
	}
	if (cnt >= 0)
		free(it);
out:
	pthread_mutex_unlock(&q->flush_lock);
	return ret;
}

/* ---- prefix counters ---- */

static bool is_na(idn_slice p)
{
	return p.len == 4 && !memcmp(p.p, "0.NA", 4);
}

/* Visits keys under a prefix, counting them (direct children only when direct). */
typedef struct count_scan {
	size_t skip; /* the scanned prefix's length */
	bool direct; /* child prefixes: the rest has no '.' */
	uint64_t n;
} count_scan;

static int count_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	count_scan *cs = arg;
	const uint8_t *rest = key.p + cs->skip;
	size_t rlen = key.len - cs->skip;
	if (!cs->direct || (rlen && !memchr(rest, '.', rlen) && !memchr(rest, '/', rlen)))
		cs->n++;
	return 0;
}

/* "0.NA/" + a normalised prefix as its store key; the length or < 0. */
static int na_key(node_authz *c, idn_slice p, uint8_t *key)
{
	uint8_t h[HANDLE_KEY_MAX];
	if (p.len + 5 > sizeof(h))
		return IDN_ERANGE;
	memcpy(h, "0.NA/", 5);
	memcpy(h + 5, p.p, p.len);
	return handle_key(idn_slice_of(h, p.len + 5), node_authz_case_sensitive(c), key);
}

/* Whether 0.NA/<p> (p normalised) has a record: 1, 0, or a negative error. */
static int has_na_record(node_authz *c, idn_slice p)
{
	uint8_t key[HANDLE_KEY_MAX];
	idn_slice v;
	int kl = na_key(c, p, key);
	int g = kl < 0 ? IDN_ENOTFOUND : store_get(c->t, idn_slice_of(key, (size_t)kl), &v);
	return g == IDN_ENOTFOUND ? 0 : g ? g : 1;
}

/* Homed children of a prefix that have no 0.NA record (those count by their record). */
typedef struct homed_scan {
	node_authz *c;
	idn_slice parent;
	uint64_t n;
	int err;
} homed_scan;

static int homed_cb(void *arg, idn_slice p, idn_slice val)
{
	(void)val;
	homed_scan *hs = arg;
	size_t pl = hs->parent.len;
	if (p.len <= pl + 1 || memcmp(p.p, hs->parent.p, pl) || p.p[pl] != '.' ||
	    memchr(p.p + pl + 1, '.', p.len - pl - 1))
		return 0;
	int g = has_na_record(hs->c, p);
	if (g < 0)
		return hs->err = g;
	hs->n += g == 0;
	return 0;
}

/*
 * The count of kind k under prefix p as the transaction sees it now: one
 * scan, when a prefix is first counted; logged with what it found.
 */
static int establish(node_authz *c, enum node_quota_kind k, idn_slice p, uint64_t *n)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint8_t scan[HANDLE_KEY_MAX + 8];
	size_t sl = 0;
	if (k == QUOTA_CHILDREN) {
		memcpy(scan, "0.NA/", 5);
		sl = 5;
	}
	if (p.len + sl + 1 > sizeof(scan))
		return IDN_ERANGE;
	memcpy(scan + sl, p.p, p.len);
	sl += p.len;
	scan[sl++] = k == QUOTA_CHILDREN ? '.' : '/';
	count_scan cs = {.skip = sl, .direct = k == QUOTA_CHILDREN};
	int ret = store_scan(c->t, idn_slice_of(scan, sl), count_cb, &cs);
	homed_scan hs = {.c = c, .parent = p};
	if (!ret && k == QUOTA_CHILDREN)
		ret = store_list_homed(c->t, homed_cb, &hs);
	if (!ret && hs.err)
		ret = hs.err;
	if (ret)
		return ret;
	*n = cs.n + hs.n;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr,
	        "idnode: quota: counted %llu %s of %.*s once (%.1f ms); kept counted since\n",
	        (unsigned long long)*n, k == QUOTA_CHILDREN ? "child prefixes" : "identifiers",
	        (int)p.len, (const char *)p.p,
	        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return IDN_OK;
}

/*
 * Adds delta (+1 or -1) to the count of kind k under prefix p, before the
 * change is made in c->t. A prefix is counted from the first change after a
 * limit applies to it (then always). 0, or the answer.
 */
static int count_change(node_authz *c, enum node_quota_kind k, idn_slice p, int delta)
{
	node_quota *q = c->rq->w->node->quota;
	char name[NAME_LEN];
	meta_name(name, k == QUOTA_IDENTIFIERS ? "qi." : "qc.", p);
	uint64_t limit, n = 0;
	bool ov, fresh = false;
	int ret = limit_of(q, c->t, k, p, &limit, &ov);
	if (!ret && (ret = counter_get(c->t, name, &n)) == IDN_ENOTFOUND) {
		ret = limit ? establish(c, k, p, &n) : 1;
		fresh = ret == IDN_OK;
	}
	if (ret == 1) /* not counted, no limit */
		return 0;
	if (ret)
		return node_answer_store_error(c->rq, ret, "quota count");
	if (delta > 0 && limit && n + 1 > limit) {
		/* A fresh count stands though the change does not: the next refusal scans nothing.
		 */
		if (fresh && counter_put(c->t, name, n) == IDN_OK)
			c->commit = true;
		return refuse(c, k, p, limit);
	}
	n = delta > 0 ? n + 1 : (n ? n - 1 : 0);
	if ((ret = counter_put(c->t, name, n)))
		return node_answer_store_error(c->rq, ret, "quota count");
	return 0;
}

/*
 * Child prefix cn (normalised) gained or lost one of its two marks (a 0.NA
 * record, or homed here; by_home says which): its parent's count changes
 * unless the other mark already counts it.
 */
static int child_change(node_authz *c, idn_slice cn, int delta, bool by_home)
{
	const uint8_t *dot = memrchr(cn.p, '.', cn.len);
	if (!dot || dot == cn.p || memchr(cn.p, '/', cn.len))
		return 0;
	idn_slice parent = idn_slice_of(cn.p, (size_t)(dot - cn.p));
	int other = by_home ? has_na_record(c, cn) : store_is_homed(c->t, cn);
	/*
	 * Only a prefix this node knows (homed here, or with its 0.NA record
	 * here) has children to count: an enterprise node homing 88.100.1 and
	 * 88.100.2 does not count them against 88.100, which lives elsewhere.
	 */
	int known = other ? 0 : store_is_homed(c->t, parent);
	if (!other && !known)
		known = has_na_record(c, parent);
	if (other < 0 || known < 0)
		return node_answer_store_error(c->rq, other < 0 ? other : known, "quota count");
	if (other || !known)
		return 0;
	return count_change(c, QUOTA_CHILDREN, parent, delta);
}

/* A record h made or removed: counted under its prefix, or for 0.NA/P.C as a child of P. */
static int record_change(node_authz *c, idn_slice h, int delta)
{
	if (!c->rq->w->node->quota)
		return 0;
	handle_parts parts;
	uint8_t pn[HANDLE_KEY_MAX], cn[HANDLE_KEY_MAX];
	if (handle_split(h, &parts))
		return 0;
	int pl = handle_prefix_norm(parts.prefix, pn, sizeof(pn));
	if (pl <= 0)
		return 0;
	idn_slice p = idn_slice_of(pn, (size_t)pl);
	if (!is_na(p))
		return count_change(c, QUOTA_IDENTIFIERS, p, delta);
	int cl = handle_prefix_norm(parts.suffix, cn, sizeof(cn));
	return cl <= 0 ? 0 : child_change(c, idn_slice_of(cn, (size_t)cl), delta, false);
}

int node_quota_created(node_authz *c, idn_slice h)
{
	return record_change(c, h, 1);
}

int node_quota_deleting(node_authz *c, idn_slice h)
{
	return record_change(c, h, -1);
}

int node_quota_homing(node_authz *c, idn_slice p, bool home)
{
	if (!c->rq->w->node->quota)
		return 0;
	int homed = store_is_homed(c->t, p);
	if (homed < 0)
		return node_answer_store_error(c->rq, homed, "quota count");
	if (homed == home) /* nothing changes */
		return 0;
	return child_change(c, p, home ? 1 : -1, true);
}

/* ---- a node admin's look and change ---- */

/* The key of kind k as the store keeps it (into key); its length, or IDN_EINVAL with why. */
static int admin_key(node_authz *c, enum node_quota_kind k, idn_slice in, uint8_t *key, char *why,
                     size_t whylen)
{
	if (k == QUOTA_DAILY) {
		const uint8_t *colon = memchr(in.p, ':', in.len);
		char num[12];
		size_t nl = colon ? (size_t)(colon - in.p) : 0;
		char *end;
		if (nl) {
			memcpy(num, in.p, nl < sizeof(num) ? nl : sizeof(num) - 1);
			num[nl < sizeof(num) ? nl : sizeof(num) - 1] = 0;
		}
		unsigned long idx = nl && nl < sizeof(num) ? strtoul(num, &end, 10) : 0;
		idn_slice h = colon ? idn_slice_of(colon + 1, in.len - nl - 1) : (idn_slice){0};
		uint8_t hk[HANDLE_KEY_MAX];
		int hl = -1;
		if (nl && nl < sizeof(num) && !*end && num[0] != '-' && idx <= UINT32_MAX)
			hl = handle_key(h, node_authz_case_sensitive(c), hk);
		if (hl < 0) {
			snprintf(why, whylen,
			         "a daily quota's key is INDEX:HANDLE (e.g. 300:0.NA/88.100)");
			return IDN_EINVAL;
		}
		return (int)daily_key((uint32_t)idx, hk, (size_t)hl, key);
	}
	idn_slice p = in;
	if (handle_na_prefix(in, &p))
		p = in;
	int n = p.len && !memchr(p.p, '/', p.len) ? handle_prefix_norm(p, key, HANDLE_KEY_MAX) : -1;
	if (n <= 0) {
		snprintf(why, whylen, "a %s quota's key is a prefix (88.100 or 0.NA/88.100)",
		         kind_names[k]);
		return IDN_EINVAL;
	}
	return n;
}

/* What is used of key's quota k now (in t, and today's count in memory). */
static int admin_used(node_quota *q, store_txn *t, enum node_quota_kind k, idn_slice key,
                      uint32_t now, node_quota_info *out)
{
	out->used = 0;
	out->counted = true;
	if (k != QUOTA_DAILY) {
		char name[NAME_LEN];
		meta_name(name, k == QUOTA_IDENTIFIERS ? "qi." : "qc.", key);
		int ret = counter_get(t, name, &out->used);
		out->counted = ret != IDN_ENOTFOUND;
		return ret == IDN_ENOTFOUND ? IDN_OK : ret;
	}
	out->resets = (now / DAY_S + 1) * DAY_S;
	struct shard *s = shard_of(q, key.p, key.len);
	pthread_mutex_lock(&s->lock);
	struct day_entry *e = entry_find(s, fnv1a(key.p, key.len), key.p, key.len);
	bool mem = e != NULL;
	if (e && e->day == now / DAY_S)
		out->used = e->count;
	pthread_mutex_unlock(&s->lock);
	if (mem)
		return IDN_OK;
	char name[NAME_LEN];
	idn_slice v;
	meta_name(name, "qd.", key);
	if (!store_meta_get(t, name, &v) && v.len == 12 && idn_be32(v.p) == now / DAY_S)
		out->used = store_be64(v.p + 4);
	return IDN_OK;
}

/* A prefix counted again from what the store holds (after a bulk load or restore). */
static int admin_recount(node_authz *c, enum node_quota_kind k, idn_slice key, char *why,
                         size_t whylen)
{
	if (k == QUOTA_DAILY) {
		snprintf(why, whylen,
		         "only a prefix's counts are recounted (identifiers, child-prefixes)");
		return IDN_EINVAL;
	}
	char name[NAME_LEN];
	meta_name(name, k == QUOTA_IDENTIFIERS ? "qi." : "qc.", key);
	uint64_t n;
	int ret = establish(c, k, key, &n);
	return ret ? ret : counter_put(c->t, name, n);
}

/* The change itself, in c->t; then what is in force. */
static int admin_apply(node_authz *c, enum node_quota_kind k, idn_slice key, enum node_quota_op op,
                       uint64_t limit, node_quota_info *out, char *why, size_t whylen)
{
	node_quota *q = c->rq->w->node->quota;
	store_txn *t = c->t;
	char name[NAME_LEN];
	override_name(name, k, key);
	uint8_t v[8];
	store_put_be64(v, limit);
	int ret = IDN_OK;
	if (op == QUOTA_SET || op == QUOTA_UNSET)
		ret = store_meta_put(t, name, idn_slice_of(v, op == QUOTA_SET ? 8 : 0));
	else if (op == QUOTA_RECOUNT)
		ret = admin_recount(c, k, key, why, whylen);
	if (!ret)
		ret = limit_of(q, t, k, key, &out->limit, &out->override);
	out->dflt = __atomic_load_n(&q->dflt[k], __ATOMIC_RELAXED);
	if (!ret)
		ret = admin_used(q, t, k, key, c->now, out);
	int kl = key.len < sizeof(out->key) ? (int)key.len : (int)sizeof(out->key) - 1;
	memcpy(out->key, key.p, (size_t)kl);
	out->key[kl] = 0;
	return ret;
}

/* The admin check and the look or change, in c->t. */
static int admin_in(node_authz *c, enum node_quota_kind kind, idn_slice key, enum node_quota_op op,
                    uint64_t limit, node_quota_info *out, char *why, size_t whylen)
{
	uint8_t kb[QKEY_MAX];
	int kl = admin_key(c, kind, key, kb, why, whylen);
	int sa = c->id_klen < 0 ? 0 : node_authz_is_server_admin(c);
	int ret = sa < 0 ? sa : !sa ? QUOTA_NOT_ADMIN : kl < 0 ? kl : IDN_OK;
	if (!ret)
		ret =
		    admin_apply(c, kind, idn_slice_of(kb, (size_t)kl), op, limit, out, why, whylen);
	return ret;
}

int node_quota_admin(node_worker *w, idn_slice id_handle, uint32_t id_index,
                     enum node_quota_kind kind, idn_slice key, enum node_quota_op op,
                     uint64_t limit, node_quota_info *out, char *why, size_t whylen)
{
	node *n = w->node;
	if (!n->quota || (unsigned)kind >= QUOTA_KINDS)
		return IDN_EINVAL;
	if (!n->store)
		return IDN_ENOTSUP; /* a recursive node without a store keeps no quotas */
	memset(out, 0, sizeof(*out));
	why[0] = 0;
	req rq = {.w = w};
	node_authz c = {
	    .rq = &rq, .id_handle = id_handle, .id_index = id_index, .now = n->cfg.clock()};
	c.admins = node_admin_list(n, &c.nadmins);
	c.id_klen = handle_key(id_handle, n->cfg.case_sensitive, c.id_key);
	/* A look, and every refusal, on a read snapshot: no writer's lock for them. */
	bool began = !w->in_batch && !w->wtxn;
	node_worker_begin(w);
	c.t = node_rtxn(w);
	int ret = admin_in(&c, kind, key, QUOTA_GET, 0, out, why, whylen);
	if (began)
		node_worker_end(w);
	if (ret || op == QUOTA_GET)
		return ret;
	/* A change: checked again in its write transaction, which it commits. */
	node_worker_end(w);
	ret = w->wtxn ? store_txn_nest(w->wtxn, &c.t) : store_txn_begin(n->store, 0, &c.t);
	if (ret)
		return ret;
	ret = admin_in(&c, kind, key, op, limit, out, why, whylen);
	if (ret) {
		store_txn_abort(c.t);
		return ret;
	}
	ret = store_txn_commit(c.t);
	atomic_fetch_add(&n->quota->gen, 1); /* cached daily limits are read again */
	return ret;
}
