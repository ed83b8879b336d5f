/*
 * stats_int.h - the node's side of the statistics that nobody outside
 * src/node calls (node/stats.h is the public side): the counting calls on
 * the request path, and the per-worker and per-node state they fill.
 */
#ifndef IDN_NODE_STATS_INT_H
#define IDN_NODE_STATS_INT_H

#include "node/internal.h"
#include "node/stats.h"

/* Makes n's statistics (nothing with cfg.stats_prefixes 0); frees them. */
int node_stats_new(node *n);
void node_stats_free(node *n);
/* A worker's counters, registered with its node; at free, its counts stay with the node. */
int node_stats_worker_new(node_worker *w);
void node_stats_worker_free(node_worker *w);

/* One more of stat for the prefix of handle h (the part before '/'; all of h without one). */
void node_stats_count(node_worker *w, idn_slice h, unsigned stat);
/*
 * The answer of a request over t with opcode row op_slot (NODE_OP_SLOTS - 1:
 * unknown) and response code rc; a resolution (w->st_prefix set) also counts
 * for its prefix by outcome.
 */
void node_stats_answered(node_worker *w, enum node_transport t, unsigned op_slot, uint32_t rc);
/* A commit of n writes (1: a write committed on its own). */
void node_stats_commit(node_worker *w, unsigned n);

/*
 * Writes the STORE_TAB_STATS key kind | be32 bucket | name (n bytes) into key
 * (5 + n bytes) and returns its length. Kinds: docs/statistics.md.
 */
size_t node_stats_key(uint8_t *key, char kind, uint32_t bucket, const char *name, size_t n);

#endif
