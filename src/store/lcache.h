/*
 * lcache.h - a lookup cache shared by the read transactions of a
 * memory-mapped store (lmdb.c): storage key -> where the record lies in the
 * map, or that there is none. It saves the B-tree descent of a key asked
 * again while the records have not changed, whichever worker asked first.
 *
 * The cache knows nothing of validity by itself: a reader names the view
 * its snapshot is in (lcache_view: three numbers, e.g. the last change's
 * id, the map's epoch and the count of other writers' commits, plus the snapshot's age)
 * and gets a tag; entries are read and written under that tag only, and a
 * tag names one view for the life of the cache (64-bit numbers, never
 * reused). One view is current: a reader whose view differs and whose
 * snapshot is newer makes its own current; one whose snapshot is older gets
 * tag 0, and looks everything up itself. Only the owner can argue that a
 * pointer kept from an earlier snapshot of the same view still points at
 * the same bytes (lmdb.c does).
 *
 * Threads: lcache_get and lcache_put take no lock. Each slot has a sequence
 * number, odd while a writer fills it; a writer takes the slot by CAS (and
 * gives up if another holds it), a reader checks the number is even and
 * unchanged after reading the slot, else it is a miss. lcache_view takes a
 * mutex, and is called only when a reader's snapshot moved.
 *
 * Direct-mapped: a key's hash picks one 64-byte slot; a hit compares the
 * whole key, never the hash alone. Keys longer than LCACHE_KEY_MAX are not
 * kept. Memory: the table of the bound is allocated at once, zero pages
 * from the kernel (calloc), so it takes memory only as its slots fill.
 *
 * Ownership: lcache_new allocates, lcache_free frees (no thread may use it
 * then). Values returned by lcache_get are the pointers given to
 * lcache_put (borrowed from the owner).
 */
#ifndef IDN_STORE_LCACHE_H
#define IDN_STORE_LCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

enum {
	LCACHE_SLOT = 64,    /* bytes per slot */
	LCACHE_KEY_MAX = 40, /* longest key kept */
};

typedef struct lcache lcache;

/* A view: what must be equal for entries to be shared, and the snapshot's age. */
typedef struct lcache_view {
	uint64_t gen, epoch, others; /* equal in both: the same view */
	uint64_t txnid;              /* with epoch, orders snapshots: (epoch, txnid) */
} lcache_view;

/* A cache of at most max_bytes of slots (at least one slot); NULL when out of memory. */
lcache *lcache_new(size_t max_bytes);
void lcache_free(lcache *c);

/*
 * The tag of a reader's lookups in view v: the current view's if v is it;
 * a new one, made current, if v differs and its (epoch, txnid) is above the
 * current's; 0 (no lookups) if older.
 */
uint64_t lcache_tag(lcache *c, const lcache_view *v);

/* The current view's tag (a put under another is not kept). */
uint64_t lcache_current(lcache *c);

/* A key as lcache_get read it (its words and hash), for lcache_put. */
typedef struct lcache_key {
	uint64_t w[LCACHE_KEY_MAX / 8]; /* zero after the last byte */
	size_t len, hash;               /* len 0: not kept (too long) */
} lcache_key;

/*
 * 1 when key is known under tag: *val is its value, or {NULL, 0} when it is
 * known to be absent; 0 when not known. *k is the key as read, for
 * lcache_put.
 */
int lcache_get(lcache *c, uint64_t tag, idn_slice key, idn_slice *val, lcache_key *k);

/*
 * Keeps k (from lcache_get) -> val (val.p NULL: absent) under tag,
 * replacing its slot's entry; nothing when tag is not the current view's
 * or another writer holds the slot.
 */
void lcache_put(lcache *c, uint64_t tag, const lcache_key *k, idn_slice val);

/*
 * Hints, no answers. lcache_prefetch brings key's slot toward the CPU cache
 * and returns the slot's number + 1 (0: a key the cache does not keep);
 * lcache_prefetch_value, given that number, the first bytes of the value
 * the slot holds by then, whatever its key or tag (a prefetch never
 * faults, so a stale pointer does no harm). A worker with several requests
 * in hand asks the first for each, then the second for each, before it
 * looks any up: their memory latencies overlap instead of adding up.
 */
size_t lcache_prefetch(const lcache *c, idn_slice key);
void lcache_prefetch_value(const lcache *c, size_t hint);

/* The bytes of slots the cache holds (its bound, rounded down to a power of two). */
size_t lcache_bytes(const lcache *c);

#endif
