/*
 * stats.c - counting (node/stats.h): each worker's counters and prefix
 * table, written by its own thread only with relaxed loads and stores; the
 * node's list of workers and what freed workers left; the sums /metrics
 * and node_stats_flush (stats_store.c) read.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/limit.h"
#include "node/admin.h"
#include "node/authz.h"
#include "proto/handle.h"
#include "node/stats_int.h"
#include "node/stats_map.h"

typedef _Atomic uint64_t counter;

/* One prefix in a worker's table; key and klen are set before used is published. */
typedef struct st_slot {
	_Atomic uint8_t used;
	uint8_t klen;
	char key[NODE_STATS_KEY_MAX];
	counter c[NST_COUNT];
} st_slot;

/* node_metrics as one worker writes it: the same counters in the same order. */
typedef struct wmetrics {
	counter ops[3][NODE_OP_SLOTS][NODE_RC_SLOTS];
	counter lat[3][NODE_LAT_BUCKETS + 1];
	counter lat_sum_ns[3];
	counter commit[NODE_COMMIT_BUCKETS + 1];
	counter commit_sum;
} wmetrics;
_Static_assert(sizeof(wmetrics) == sizeof(node_metrics), "wmetrics mirrors node_metrics");

struct node_stats_w {
	struct node_stats_w *next, *prev; /* the node's list */
	uint32_t mask, nused, max;
	_Atomic uint32_t npub; /* slots listed in order[] for the reader (released after them) */
	uint32_t *order;       /* the slots used, in the order they came */
	st_slot *last;         /* the slot found last: a run of one prefix skips the hash */
	uint8_t last_len, last_raw[NODE_STATS_KEY_MAX]; /* its prefix as the request wrote it */
	st_slot other;
	wmetrics m;
	st_slot slots[]; /* mask + 1 */
};

const double node_lat_bounds[NODE_LAT_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};
const double node_commit_bounds[NODE_COMMIT_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

static const char *const names[NST_COUNT] = {
    "registered",
    "modified",
    "deleted",
    "resolved_udp_found",
    "resolved_udp_not_found",
    "resolved_udp_referred",
    "resolved_tcp_found",
    "resolved_tcp_not_found",
    "resolved_tcp_referred",
    "resolved_http_found",
    "resolved_http_not_found",
    "resolved_http_referred",
    "auth_ok",
    "auth_failed",
};

const char *node_stat_name(unsigned i)
{
	return i < NST_COUNT ? names[i] : "unknown";
}

/* The response codes /metrics tells apart; the rest count as "other". */
static const uint32_t rcodes[] = {
    0,   1,   2,   3,   4,   5,   6,   7,   100, 101, 102, 200, 201,
    202, 300, 301, 302, 303, 400, 401, 402, 403, 404, 405, 406, 407,
    408, 500, 501, 502, 503, 504, 505, 601, 602, 603, 604, 605, 3001,
};
enum { NRCODES = sizeof(rcodes) / sizeof(rcodes[0]) };
_Static_assert((int)NRCODES < (int)NODE_RC_SLOTS, "a slot for other response codes");

static unsigned rc_slot(uint32_t rc)
{
	if (rc <= 7)
		return rc;
	for (unsigned i = 8; i < NRCODES; i++)
		if (rcodes[i] == rc)
			return i;
	return NODE_RC_SLOTS - 1;
}

uint32_t node_metrics_rcode(unsigned i)
{
	return i < NRCODES ? rcodes[i] : UINT32_MAX;
}

static inline void bump(counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline uint64_t get(const counter *c)
{
	return atomic_load_explicit((counter *)c, memory_order_relaxed);
}

/* ---- the node's side ---- */

static void node_stats_maps_fini(struct node_stats *s)
{
	stats_map_fini(&s->gone);
	stats_map_fini(&s->last);
	stats_map_fini(&s->cur);
	stats_map_fini(&s->ind);
}

int node_stats_new(node *n)
{
	if (!n->cfg.stats_prefixes)
		return IDN_OK;
	struct node_stats *s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	s->max = n->cfg.stats_prefixes;
	pthread_mutex_init(&s->lock, NULL);
	/* the sums of the workers may hold what several of them track (4x): see take_deltas */
	if (stats_map_init(&s->gone, 4 * s->max) || stats_map_init(&s->last, s->max) ||
	    stats_map_init(&s->cur, 4 * s->max) || stats_map_init(&s->ind, s->max + 1)) {
		node_stats_maps_fini(s);
		free(s);
		return IDN_ENOMEM;
	}
	n->stats = s;
	return IDN_OK;
}

void node_stats_free(node *n)
{
	struct node_stats *s = n->stats;
	if (!s)
		return;
	node_stats_maps_fini(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
	n->stats = NULL;
}

struct node_stats *node_stats_of(node *n)
{
	return n->stats;
}

/* Adds w's metrics into m: the counters lie in node_metrics' order (wmetrics). */
static void add_metrics(node_metrics *m, const struct node_stats_w *w)
{
	uint64_t *to = (uint64_t *)m;
	const counter *from = (const counter *)&w->m;
	for (size_t i = 0; i < sizeof(*m) / sizeof(uint64_t); i++)
		to[i] += get(&from[i]);
}
static void add_slot(stats_map *m, const st_slot *sl, size_t klen)
{
	uint64_t c[NST_COUNT];
	for (int i = 0; i < NST_COUNT; i++)
		c[i] = get(&sl->c[i]);
	stats_map_add(m, sl->key, klen, c);
}

/* Adds w's prefix counts into m. */
static void add_prefixes(stats_map *m, const struct node_stats_w *w)
{
	uint32_t n = atomic_load_explicit((_Atomic uint32_t *)&w->npub, memory_order_acquire);
	for (uint32_t k = 0; k < n; k++) {
		const st_slot *sl = &w->slots[w->order[k]];
		add_slot(m, sl, sl->klen);
	}
	add_slot(m, &w->other, strlen(NODE_STATS_OTHER));
}

int node_stats_worker_new(node_worker *w)
{
	struct node_stats *s = w->node->stats;
	if (!s)
		return IDN_OK;
	uint32_t cap = 16;
	while (cap < 2 * s->max)
		cap <<= 1;
	/* calloc: a table's pages are touched only as prefixes come */
	struct node_stats_w *sw = calloc(1, sizeof(*sw) + (size_t)cap * sizeof(st_slot));
	if (!sw || !(sw->order = malloc((size_t)s->max * sizeof(uint32_t)))) {
		free(sw);
		return IDN_ENOMEM;
	}
	sw->mask = cap - 1;
	sw->max = s->max;
	memcpy(sw->other.key, NODE_STATS_OTHER, strlen(NODE_STATS_OTHER));
	pthread_mutex_lock(&s->lock);
	sw->next = s->workers;
	if (s->workers)
		s->workers->prev = sw;
	s->workers = sw;
	pthread_mutex_unlock(&s->lock);
	w->st = sw;
	return IDN_OK;
}

void node_stats_worker_free(node_worker *w)
{
	struct node_stats_w *sw = w->st;
	if (!sw)
		return;
	struct node_stats *s = w->node->stats;
	pthread_mutex_lock(&s->lock);
	add_prefixes(&s->gone, sw);
	add_metrics(&s->gone_m, sw);
	if (sw->prev)
		sw->prev->next = sw->next;
	else
		s->workers = sw->next;
	if (sw->next)
		sw->next->prev = sw->prev;
	pthread_mutex_unlock(&s->lock);
	free(sw->order);
	free(sw);
	w->st = NULL;
}

void node_stats_sum(struct node_stats *s, stats_map *into)
{
	pthread_mutex_lock(&s->lock);
	for (const struct node_stats_w *w = s->workers; w; w = w->next)
		add_prefixes(into, w);
	stats_map_merge(into, &s->gone);
	pthread_mutex_unlock(&s->lock);
}

void node_metrics_get(node *n, node_metrics *m)
{
	memset(m, 0, sizeof(*m));
	struct node_stats *s = n ? n->stats : NULL;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	for (const struct node_stats_w *w = s->workers; w; w = w->next)
		add_metrics(m, w);
	const uint64_t *g = (const uint64_t *)&s->gone_m;
	for (size_t i = 0; i < sizeof(*m) / sizeof(uint64_t); i++)
		((uint64_t *)m)[i] += g[i];
	pthread_mutex_unlock(&s->lock);
}

/* ---- the request path ---- */

bool node_worker_counts(const node_worker *w)
{
	return w->st != NULL;
}

/* ASCII upper case without the locale's table: prefixes are keyed as the store keys them. */
static inline uint8_t up(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
}

static uint32_t hash_upper(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ up(p[i])) * 16777619u;
	return h;
}

static inline bool same(const st_slot *sl, const uint8_t *p, size_t n)
{
	if (sl->klen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)sl->key[i] != up(p[i]))
			return false;
	return true;
}

/* The slot of prefix p (upper-cased as the store keys it), made on first sight. */
static st_slot *find_slot(struct node_stats_w *sw, const uint8_t *p, size_t n)
{
	for (uint32_t i = hash_upper(p, n) & sw->mask;; i = (i + 1) & sw->mask) {
		st_slot *sl = &sw->slots[i];
		if (atomic_load_explicit(&sl->used, memory_order_relaxed)) {
			if (same(sl, p, n))
				return sl;
			continue;
		}
		if (sw->nused >= sw->max) {
			limit_hit(LIM_STATS_PREFIXES, "a prefix counted under \"%s\": %u tracked",
			          NODE_STATS_OTHER, sw->max);
			return &sw->other;
		}
		for (size_t k = 0; k < n; k++)
			sl->key[k] = (char)up(p[k]);
		sl->klen = (uint8_t)n;
		atomic_store_explicit(&sl->used, 1, memory_order_relaxed);
		sw->order[sw->nused++] = i;
		atomic_store_explicit(&sw->npub, sw->nused, memory_order_release);
		return sl;
	}
}

/* As find_slot, the last prefix first, byte for byte as its request wrote it (one memcmp). */
static inline st_slot *slot_of(struct node_stats_w *sw, const uint8_t *p, size_t n)
{
	if (n == sw->last_len && sw->last && !memcmp(sw->last_raw, p, n))
		return sw->last;
	/* a prefix that is not UTF-8 (or holds a NUL) would make answers naming it malformed */
	if (n == 0 || n > NODE_STATS_KEY_MAX || memchr(p, 0, n) ||
	    !handle_utf8_valid(idn_slice_of(p, n)))
		return &sw->other;
	st_slot *sl = find_slot(sw, p, n);
	memcpy(sw->last_raw, p, n);
	sw->last_len = (uint8_t)n;
	return sw->last = sl;
}

void node_stats_count(node_worker *w, idn_slice h, unsigned stat)
{
	if (!w->st || stat >= NST_COUNT)
		return;
	const uint8_t *slash = h.len ? memchr(h.p, '/', h.len) : NULL;
	size_t n = slash ? (size_t)(slash - h.p) : h.len;
	bump(&slot_of(w->st, h.p, n)->c[stat], 1);
}

void node_stats_answered(node_worker *w, enum node_transport t, unsigned op_slot, uint32_t rc)
{
	struct node_stats_w *sw = w->st;
	if (!sw)
		return;
	bump(&sw->m.ops[t][op_slot < NODE_OP_SLOTS ? op_slot : NODE_OP_SLOTS - 1][rc_slot(rc)], 1);
	if (!w->st_prefix.len)
		return;
	int out = rc == PROTO_RC_SUCCESS ? NST_FOUND
	          : rc == PROTO_RC_HANDLE_NOT_FOUND || rc == PROTO_RC_VALUE_NOT_FOUND
	              ? NST_NOT_FOUND
	          : rc == PROTO_RC_PREFIX_REFERRAL || rc == PROTO_RC_SERVER_NOT_RESP ? NST_REFERRED
	                                                                             : -1;
	if (out >= 0)
		bump(&slot_of(sw, w->st_prefix.p, w->st_prefix.len)->c[NST_RES_FIRST + t * 3 + out],
		     1);
	w->st_prefix.len = 0;
}

void node_stats_commit(node_worker *w, unsigned n)
{
	struct node_stats_w *sw = w->st;
	if (!sw || !n)
		return;
	unsigned b = 0;
	while (b < NODE_COMMIT_BUCKETS && n > node_commit_bounds[b])
		b++;
	bump(&sw->m.commit[b], 1);
	bump(&sw->m.commit_sum, n);
}

void node_worker_observe(node_worker *w, enum node_transport t, uint64_t n, uint64_t ns)
{
	struct node_stats_w *sw = w ? w->st : NULL;
	if (!sw || !n)
		return;
	static const uint64_t bound_ns[NODE_LAT_BUCKETS] = {
	    50000,    100000,   250000,   500000,    1000000,   2500000,   5000000,
	    10000000, 25000000, 50000000, 100000000, 250000000, 500000000, 1000000000};
	unsigned b = 0;
	while (b < NODE_LAT_BUCKETS && ns > bound_ns[b])
		b++;
	bump(&sw->m.lat[t][b], n);
	bump(&sw->m.lat_sum_ns[t], ns * n);
}

void node_stats_each(node *n, void (*fn)(void *arg, const node_stats_total *t), void *arg)
{
	struct node_stats *s = n ? n->stats : NULL;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < s->last.n; i++) {
		const stats_ent *e = stats_map_at(&s->last, i);
		node_stats_total t = {.prefix = e->key, .held = e->held};
		memcpy(t.c, e->c, sizeof(t.c));
		fn(arg, &t);
	}
	pthread_mutex_unlock(&s->lock);
}

size_t node_stats_tracked(node *n)
{
	struct node_stats *s = n ? n->stats : NULL;
	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	size_t k = s->last.n;
	pthread_mutex_unlock(&s->lock);
	return k;
}

void node_stats_held_counts(node *n, uint64_t *scanned, uint64_t *saved)
{
	struct node_stats *s = n ? n->stats : NULL;
	*scanned = *saved = 0;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	*scanned = s->held_scanned;
	*saved = s->held_saved;
	pthread_mutex_unlock(&s->lock);
}

int node_worker_is_server_admin(node_worker *w, idn_slice handle, uint32_t index)
{
	node *n = w->node;
	req rq = {.w = w}; /* what node_authz reads of a request: its worker */
	node_authz c = {.rq = &rq,
	                .admins = node_admin_list(n, &c.nadmins),
	                .id_handle = handle,
	                .id_index = index,
	                .now = n->cfg.clock()};
	c.id_klen = handle_key(handle, n->cfg.case_sensitive, c.id_key);
	if (c.id_klen < 0)
		return 0;
	bool own = !w->in_batch && !w->wtxn;
	if (own)
		node_worker_begin(w);
	c.t = node_rtxn(w);
	int ret = node_authz_is_server_admin(&c);
	if (own)
		node_worker_end(w);
	return ret;
}
