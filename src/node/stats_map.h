/*
 * stats_map.h - the background side's table of prefixes and their counts
 * (node/stats.c, stats_store.c): open addressing, at most `max` names plus
 * NODE_STATS_OTHER, which takes what comes beyond (counting
 * LIM_STATS_PREFIXES). Not thread-safe: its owner locks.
 */
#ifndef IDN_NODE_STATS_MAP_H
#define IDN_NODE_STATS_MAP_H

#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>

#include "node/stats.h"

typedef struct stats_ent {
	bool used;
	bool held_known; /* held was counted from the store (or follows writes since) */
	bool fresh;      /* held counted during this flush: its writes are in it already */
	uint8_t klen;
	char key[NODE_STATS_KEY_MAX + 1]; /* NUL-terminated */
	uint64_t held;
	uint64_t c[NST_COUNT];
} stats_ent;

typedef struct stats_map {
	stats_ent *e;
	uint32_t *idx; /* where the n entries are, in the order they came: walks cost n, not the
	                  capacity */
	uint32_t mask, n, max;
} stats_map;

/* The k-th entry (k < m->n). */
static inline stats_ent *stats_map_at(const stats_map *m, uint32_t k)
{
	return &m->e[m->idx[k]];
}

int stats_map_init(stats_map *m, uint32_t max);
void stats_map_fini(stats_map *m);
void stats_map_clear(stats_map *m);
/* The entry of key k (upper-case already); made when absent (beyond max: NODE_STATS_OTHER's). */
stats_ent *stats_map_get(stats_map *m, const char *k, size_t n);
/* The entry of k or NULL. */
stats_ent *stats_map_find(const stats_map *m, const char *k, size_t n);
void stats_map_add(stats_map *m, const char *k, size_t n, const uint64_t c[NST_COUNT]);
/* Adds every count of from into into. */
void stats_map_merge(stats_map *into, const stats_map *from);

/* The node's side (node/stats.c); lock guards workers, gone, gone_m and last. */
struct node_stats_w;
struct node_stats {
	pthread_mutex_t lock;
	uint32_t max;
	struct node_stats_w *workers;
	stats_map gone;      /* what freed workers counted, by prefix */
	node_metrics gone_m; /* and their metrics */
	stats_map last;      /* the totals as of the last flush, and the identifiers held */
	stats_map cur, ind;  /* node_stats_flush's: the sums now, and the industries' */
	uint32_t last_hour, last_day;
	bool held_counted;
	uint64_t held_scanned, held_saved; /* prefixes counted in the store, taken as saved */
};
struct node_stats *node_stats_of(node *n);
/* The sums of every worker, live and gone, added into `into` (takes the lock). */
void node_stats_sum(struct node_stats *s, stats_map *into);

#endif
