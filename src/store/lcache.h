/*
 * lcache.h - a lookup cache for one read transaction of a memory-mapped
 * store (lmdb.c): storage key -> where the record lies in the map, or that
 * there is none. It saves the B-tree descent of a key asked again while the
 * snapshot has not changed.
 *
 * The cache knows nothing of validity by itself: its owner names the view
 * (three numbers, e.g. a snapshot's id, the map's epoch and the tree's root
 * page) the next lookups are in (lcache_view), and a
 * view other than the last drops every entry in O(1) (a generation tag per
 * slot). Only the owner can argue that a pointer kept from an earlier
 * snapshot of the same view still points at the same bytes (lmdb.c does).
 *
 * Direct-mapped: a key's hash picks one 64-byte slot; a hit compares the
 * whole key, never the hash alone. Keys longer than LCACHE_KEY_MAX are not
 * kept. Memory: it starts at LCACHE_START_BYTES (or the bound, if smaller)
 * and doubles, dropping its entries, whenever it has taken in more new
 * entries than it has slots, up to the bound given to lcache_new.
 *
 * Ownership: lcache_new allocates, lcache_free frees. Values returned by
 * lcache_get are the pointers given to lcache_put (borrowed from the owner).
 */
#ifndef IDN_STORE_LCACHE_H
#define IDN_STORE_LCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

enum {
	LCACHE_SLOT = 64,    /* bytes per slot */
	LCACHE_KEY_MAX = 47, /* longest key kept */
};
#define LCACHE_START_BYTES ((size_t)1 << 20)

typedef struct lcache lcache;

/* A cache of at most max_bytes of slots (at least one slot); NULL when out of memory. */
lcache *lcache_new(size_t max_bytes);
void lcache_free(lcache *c);

/* The lookups that follow are in this view; another than the last forgets everything. */
void lcache_view(lcache *c, uint64_t snapshot, uint64_t epoch, uint64_t root);

/*
 * 1 when key is known in the current view: *val is its value, or
 * {NULL, 0} when it is known to be absent; 0 when not known.
 */
int lcache_get(lcache *c, idn_slice key, idn_slice *val);

/*
 * Keeps key -> val (val.p NULL: absent) in the current view, replacing its
 * slot's entry. Right after lcache_get missed the same key (same pointer and
 * length, bytes unchanged) it reuses that call's hash.
 */
void lcache_put(lcache *c, idn_slice key, idn_slice val);

/* The bytes of slots the cache holds now (never above its bound). */
size_t lcache_bytes(const lcache *c);

#endif
