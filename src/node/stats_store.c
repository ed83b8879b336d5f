/*
 * stats_store.c - the statistics in the store (node/stats.h): the flush of
 * what the workers counted into hour and day buckets of STORE_TAB_STATS,
 * the identifiers held, retention, reading buckets back, the filters the
 * API and the CLI share, and the rows as CSV and JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/stats_int.h"
#include "node/stats_map.h"

enum { KEY_HDR = 5, VAL_LEN = 1 + 8 * (1 + NST_COUNT) };

size_t node_stats_key(uint8_t *key, char kind, uint32_t bucket, const char *name, size_t n)
{
	key[0] = (uint8_t)kind;
	key[1] = (uint8_t)(bucket >> 24);
	key[2] = (uint8_t)(bucket >> 16);
	key[3] = (uint8_t)(bucket >> 8);
	key[4] = (uint8_t)bucket;
	memcpy(key + KEY_HDR, name, n);
	return KEY_HDR + n;
}

static bool val_parse(idn_slice v, uint64_t *held, uint64_t c[NST_COUNT])
{
	if (v.len < VAL_LEN || v.p[0] != NODE_STATS_VERSION)
		return false;
	*held = store_be64(v.p + 1);
	for (int i = 0; i < NST_COUNT; i++)
		c[i] = store_be64(v.p + 9 + 8 * i);
	return true;
}

size_t node_stats_industry(const char *prefix, size_t len)
{
	for (size_t i = len; i > 0; i--)
		if (prefix[i - 1] == '.')
			return i - 1;
	return len;
}

/* Adds delta to the bucket (kind, bucket, name) and sets its identifiers held. */
static int add_bucket(store_txn *t, char kind, uint32_t bucket, const char *name, size_t n,
                      const uint64_t delta[NST_COUNT], uint64_t held)
{
	uint8_t key[KEY_HDR + NODE_STATS_KEY_MAX], val[VAL_LEN];
	idn_slice k = idn_slice_of(key, node_stats_key(key, kind, bucket, name, n)), old;
	uint64_t c[NST_COUNT] = {0}, h;
	int ret = store_tab_get(t, STORE_TAB_STATS, k, &old);
	if (ret && ret != IDN_ENOTFOUND)
		return ret;
	if (!ret && !val_parse(old, &h, c))
		memset(c, 0, sizeof(c));
	val[0] = NODE_STATS_VERSION;
	store_put_be64(val + 1, held);
	for (int i = 0; i < NST_COUNT; i++)
		store_put_be64(val + 9 + 8 * i, c[i] + delta[i]);
	return store_tab_put(t, STORE_TAB_STATS, k, idn_slice_of(val, VAL_LEN), 0);
}

int node_stats_add(store_txn *t, bool hourly, bool industry, uint32_t bucket, const char *name,
                   uint64_t held, const uint64_t c[NST_COUNT])
{
	size_t n = strlen(name);
	if (!n || n > NODE_STATS_KEY_MAX)
		return IDN_EINVAL;
	char kind = hourly ? 'h' : 'd';
	return add_bucket(t, industry ? (char)(kind - 'a' + 'A') : kind, bucket, name, n, c, held);
}

static int count_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)key;
	(void)val;
	++*(uint64_t *)arg;
	return 0;
}

/* Records under prefix p (upper-case, as stored) into *count. */
static int count_prefix(store_txn *t, const char *p, size_t n, uint64_t *count)
{
	uint8_t key[NODE_STATS_KEY_MAX + 1];
	memcpy(key, p, n);
	key[n] = '/';
	*count = 0;
	return store_scan(t, idn_slice_of(key, n + 1), count_cb, count);
}

static int homed_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	stats_map *last = arg;
	if (key.len && key.len <= NODE_STATS_KEY_MAX && last->n < last->max)
		stats_map_get(last, (const char *)key.p, key.len); /* new: counted below */
	return 0;
}

/*
 * A full count's figures, saved so that the next one (a start, a new day)
 * takes them while the records are as they were: STORE_TAB_STATS key
 * 'c' | be32 0 | prefix, value version | be64 changed | be64 others | be64
 * held (store_gen: the generation of the snapshot the prefix was counted in).
 */
enum { SAVED_LEN = 1 + 3 * 8 };

/* The held of e saved for generation g: true, or false (none, or of another). */
static bool saved_held(store_txn *t, const stats_ent *e, const store_gen *g, uint64_t *held)
{
	uint8_t key[KEY_HDR + NODE_STATS_KEY_MAX];
	idn_slice v;
	idn_slice k = idn_slice_of(key, node_stats_key(key, 'c', 0, e->key, e->klen));
	if (store_tab_get(t, STORE_TAB_STATS, k, &v) || v.len != SAVED_LEN ||
	    v.p[0] != NODE_STATS_VERSION || store_be64(v.p + 1) != g->changed ||
	    store_be64(v.p + 9) != g->others)
		return false;
	*held = store_be64(v.p + 17);
	return true;
}

/* The saved rows of another generation than g's (stale_cb), to delete. */
typedef struct stale_rows {
	const store_gen *g;
	uint8_t (*keys)[KEY_HDR + NODE_STATS_KEY_MAX];
	uint8_t *lens;
	size_t n, cap;
} stale_rows;

static int stale_cb(void *arg, idn_slice key, idn_slice val)
{
	stale_rows *r = arg;
	if (val.len == SAVED_LEN && store_be64(val.p + 1) == r->g->changed &&
	    store_be64(val.p + 9) == r->g->others)
		return 0;
	if (key.len > sizeof(*r->keys))
		return 0; /* never written so */
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		void *k = realloc(r->keys, cap * sizeof(*r->keys)), *l = NULL;
		if (k)
			r->keys = k;
		if (!k || !(l = realloc(r->lens, cap)))
			return IDN_ENOMEM;
		r->lens = l;
		r->cap = cap;
	}
	memcpy(r->keys[r->n], key.p, key.len);
	r->lens[r->n++] = (uint8_t)key.len;
	return 0;
}

/* Deletes the saved rows of generations before g's: prefixes not counted in g's. */
static int drop_stale(store_txn *t, const store_gen *g)
{
	stale_rows r = {.g = g};
	uint8_t kind = 'c';
	idn_slice k = idn_slice_of(&kind, 1);
	int ret = store_tab_scan(t, STORE_TAB_STATS, k, k, stale_cb, &r);
	for (size_t i = 0; i < r.n && !ret; i++)
		ret = store_tab_del(t, STORE_TAB_STATS, idn_slice_of(r.keys[i], r.lens[i]));
	free(r.keys);
	free(r.lens);
	return ret;
}

/*
 * Saves every counted prefix's held in last for generation g (saved_held),
 * and drops the rows of earlier generations.
 */
static int save_held(store_txn *t, const stats_map *last, const store_gen *g)
{
	uint8_t key[KEY_HDR + NODE_STATS_KEY_MAX], val[SAVED_LEN];
	val[0] = NODE_STATS_VERSION;
	store_put_be64(val + 1, g->changed);
	store_put_be64(val + 9, g->others);
	int ret = drop_stale(t, g);
	for (uint32_t i = 0; i < last->n && !ret; i++) {
		const stats_ent *e = stats_map_at(last, i);
		if (!e->held_known || !strcmp(e->key, NODE_STATS_OTHER))
			continue;
		store_put_be64(val + 17, e->held);
		idn_slice k = idn_slice_of(key, node_stats_key(key, 'c', 0, e->key, e->klen));
		ret = store_tab_put(t, STORE_TAB_STATS, k, idn_slice_of(val, SAVED_LEN), 0);
	}
	return ret;
}

/*
 * The identifiers held by every homed prefix and every prefix not yet
 * counted, from one snapshot: as saved for its generation, else by a scan
 * of the prefix. True when every one is exact for the generation in *g
 * (the store has one): then save_held may save them.
 */
static bool count_held(struct node_stats *s, store *st, store_gen *g)
{
	store_txn *t;
	stats_map *last = &s->last;
	if (store_txn_begin(st, STORE_RDONLY, &t))
		return false;
	bool exact = store_handles_gen(t, g) == IDN_OK;
	store_list_homed(t, homed_cb, last);
	for (uint32_t k = 0; k < last->n; k++) {
		stats_ent *e = stats_map_at(last, k);
		if (e->held_known || !strcmp(e->key, NODE_STATS_OTHER))
			continue;
		if (exact && saved_held(t, e, g, &e->held)) {
			s->held_saved++;
		} else if (count_prefix(t, e->key, e->klen, &e->held) == IDN_OK) {
			s->held_scanned++;
		} else { /* counted in part: followed till the next count, not saved */
			exact = false;
			s->held_scanned++;
		}
		e->held_known = e->fresh = true;
	}
	store_txn_abort(t);
	return exact;
}

/*
 * The counts since the last flush: cur's entries become deltas, and the
 * totals in last follow (a prefix beyond the bound is summed under other).
 */
static void take_deltas(stats_map *cur, stats_map *last)
{
	stats_ent *other = NULL;
	uint64_t other_tot[NST_COUNT] = {0};
	for (uint32_t i = 0; i < cur->n; i++) {
		stats_ent *e = stats_map_at(cur, i);
		stats_ent *l = stats_map_find(last, e->key, e->klen);
		bool is_other = !strcmp(e->key, NODE_STATS_OTHER);
		if (!l && !is_other && last->n < last->max)
			l = stats_map_get(last, e->key, e->klen);
		if (!l || is_other) {
			for (int k = 0; k < NST_COUNT; k++)
				other_tot[k] += e->c[k];
			memset(e->c, 0, sizeof(e->c)); /* summed into other below */
			continue;
		}
		for (int k = 0; k < NST_COUNT; k++) {
			uint64_t d = e->c[k] > l->c[k] ? e->c[k] - l->c[k] : 0;
			l->c[k] += d;
			e->c[k] = d;
		}
	}
	bool any = false;
	for (int k = 0; k < NST_COUNT; k++)
		any |= other_tot[k] != 0;
	if (!any)
		return;
	stats_ent *lo = stats_map_get(last, NODE_STATS_OTHER, strlen(NODE_STATS_OTHER));
	other = stats_map_get(cur, NODE_STATS_OTHER, strlen(NODE_STATS_OTHER));
	for (int k = 0; k < NST_COUNT; k++) {
		uint64_t d = other_tot[k] > lo->c[k] ? other_tot[k] - lo->c[k] : 0;
		lo->c[k] += d;
		other->c[k] = d;
	}
}

static bool nonzero(const uint64_t c[NST_COUNT])
{
	for (int k = 0; k < NST_COUNT; k++)
		if (c[k])
			return true;
	return false;
}

/* The prefix rows, and the industry sums into ind; every row when `all`. */
static int write_prefixes(store_txn *t, stats_map *last, const stats_map *cur, stats_map *ind,
                          uint32_t hour, uint32_t day, bool all)
{
	static const uint64_t zero[NST_COUNT];
	int ret = IDN_OK;
	for (uint32_t i = 0; i < last->n && !ret; i++) {
		stats_ent *l = stats_map_at(last, i);
		const stats_ent *d = stats_map_find(cur, l->key, l->klen);
		const uint64_t *delta = d ? d->c : zero;
		if (l->fresh)
			l->fresh = false; /* its count saw this flush's writes */
		else if (l->held_known) {
			l->held += delta[NST_REGISTERED];
			l->held = l->held > delta[NST_DELETED] ? l->held - delta[NST_DELETED] : 0;
		}
		size_t in = node_stats_industry(l->key, l->klen);
		stats_ent *ie = stats_map_get(ind, l->key, in);
		ie->held += l->held;
		for (int k = 0; k < NST_COUNT; k++)
			ie->c[k] += delta[k];
		ie->held_known |= all || nonzero(delta);
		if (!all && !nonzero(delta))
			continue;
		ret = add_bucket(t, 'h', hour, l->key, l->klen, delta, l->held);
		if (!ret)
			ret = add_bucket(t, 'd', day, l->key, l->klen, delta, l->held);
	}
	for (uint32_t i = 0; i < ind->n && !ret; i++) {
		stats_ent *e = stats_map_at(ind, i);
		if (!e->held_known) /* (held_known: touched) */
			continue;
		ret = add_bucket(t, 'H', hour, e->key, e->klen, e->c, e->held);
		if (!ret)
			ret = add_bucket(t, 'D', day, e->key, e->klen, e->c, e->held);
	}
	return ret;
}

int node_stats_flush(node *n, uint32_t now)
{
	struct node_stats *s = node_stats_of(n);
	if (!s)
		return IDN_OK;
	stats_map_clear(&s->cur);
	stats_map_clear(&s->ind);
	node_stats_sum(s, &s->cur);
	uint32_t hour = now / 3600, day = now / 86400;
	/* A new day counts the identifiers held again (and the first flush counts them). */
	bool all = !s->held_counted || hour != s->last_hour;
	pthread_mutex_lock(&s->lock);
	take_deltas(&s->cur, &s->last);
	bool any = all;
	for (uint32_t i = 0; i < s->cur.n && !any; i++)
		any = nonzero(stats_map_at(&s->cur, i)->c);
	bool full = !s->held_counted || day != s->last_day;
	if (full)
		for (uint32_t i = 0; i < s->last.n; i++)
			stats_map_at(&s->last, i)->held_known = false;
	uint64_t scanned = s->held_scanned, saved = s->held_saved;
	store_gen g;
	/* all again, or the prefixes new since; all exact for g: saved below, as they are */
	bool save = count_held(s, n->store, &g) && full;
	if (full)
		fprintf(stderr,
		        "idnode: statistics: identifiers held of %" PRIu64 " prefixes: %" PRIu64
		        " counted in the store, %" PRIu64 " as saved (no record changed since)\n",
		        s->held_scanned - scanned + s->held_saved - saved,
		        s->held_scanned - scanned, s->held_saved - saved);
	store_txn *t;
	int ret = any ? store_txn_begin(n->store, 0, &t) : IDN_OK; /* nothing new: no write */
	if (!ret && any) {
		ret = save ? save_held(t, &s->last, &g) : IDN_OK;
		if (!ret)
			ret = write_prefixes(t, &s->last, &s->cur, &s->ind, hour, day, all);
		if (ret)
			store_txn_abort(t);
		else
			ret = store_txn_commit(t);
	}
	if (!ret) {
		s->held_counted = true;
		s->last_hour = hour;
		s->last_day = day;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}
