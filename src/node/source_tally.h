/*
 * source_tally.h - what each source holds in a table, counted afresh: the
 * tables strangers fill (pending challenges, sessions not authenticated, the
 * REST API's sessions) find with it the source holding the most, whose
 * oldest entry gives way first (docs/security.md, the policy's point 2).
 *
 * A tally has room for max sources (2 * max slots, open addressing); reset
 * empties it in O(1) (a generation count). Not thread-safe: it belongs to
 * one table and is used under that table's lock.
 */
#ifndef IDN_NODE_SOURCE_TALLY_H
#define IDN_NODE_SOURCE_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"

typedef struct source_count {
	uint32_t gen;
	uint8_t addr[16];
	uint32_t n;     /* entries */
	size_t bytes;   /* and what they hold, when the table counts bytes */
	int64_t oldest; /* the age key (a time) of its oldest entry */
} source_count;

typedef struct source_tally source_tally;

int source_tally_new(size_t max, source_tally **out);
void source_tally_free(source_tally *t);
/* Counts one entry of c's source: bytes, and its age key (smaller: older). */
void source_count_add(source_count *c, size_t bytes, int64_t age);
/* Forgets every count. */
void source_tally_reset(source_tally *t);
/* The count of src (made empty when new); at most max different sources per reset. */
source_count *source_tally_of(source_tally *t, const node_source *src);
/*
 * The source with the most bytes (by_bytes) or entries, among those with
 * any, the one with the oldest entry among equals; NULL if none.
 */
source_count *source_tally_top(source_tally *t, bool by_bytes);
/* Whether src is the source c counts. */
bool source_is(const source_count *c, const node_source *src);

#endif
