/*
 * cache.h - the recursive node's answer cache.
 *
 * Maps a key (the normalised identifier and the request's filters, built by
 * the resolver) to an answer: its response code and body (for a success: the
 * identifier and its values, in wire encoding). Positive answers live as long
 * as their values' TTL, negative ones (100, 200) a configured TTL. An expired
 * answer is kept a further stale window, served only when every upstream
 * fails. Memory is bounded by a byte budget (entry bookkeeping included),
 * split over shards, each with its own mutex, hash table and LRU list: a hit
 * takes one shard's lock for a lookup and a copy, never a global lock.
 *
 * Concurrent misses of one key are coalesced: the first caller of
 * cache_fetch() leads (asks upstream, then cache_put() or cache_abandon()),
 * the others wait on the shard's condition variable, bounded in time.
 *
 * Threads: every function is thread-safe. The cache owns its entries; what a
 * lookup returns is copied into the caller's buffer.
 */
#ifndef IDN_RESOLVER_CACHE_H
#define IDN_RESOLVER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

typedef struct cache_opts {
	size_t max_bytes;        /* budget: entries as allocated, and hash tables; 0 = 64 MiB */
	uint32_t neg_ttl;        /* seconds a 100/200 answer is kept; default 60 (set it: 0 = 60) */
	uint32_t stale_ttl;      /* seconds past expiry an answer may still be served; 0 = 300 */
	uint32_t max_ttl;        /* longest any answer is kept fresh; 0 = 86400 */
	unsigned shards;         /* 0 = 64; rounded up to a power of two */
	uint32_t (*clock)(void); /* unix seconds; default time(). Tests pin it. */
} cache_opts;

typedef struct cache cache;

int cache_new(const cache_opts *o, cache **out);
/* No thread may be inside the cache (leaders and waiters included). */
void cache_free(cache *c);

enum cache_result {
	CACHE_MISS = 0,  /* nothing usable */
	CACHE_HIT = 1,   /* a fresh answer, copied out */
	CACHE_STALE = 2, /* an expired answer within the stale window, copied out */
	CACHE_LEAD = 3,  /* a miss the caller now owns: cache_put() or cache_abandon() */
};

/*
 * Where an answer came from: the server that gave it and when. Kept with
 * the entry (20 bytes, copied out with the answer: a hit costs no more
 * lookups), so a gateway can say which node answered and when.
 */
typedef struct cache_origin {
	uint32_t fetched; /* unix seconds (the cache's clock) the answer was stored */
	uint16_t port;
	uint8_t family; /* AF_INET or AF_INET6; 0: not known */
	uint8_t addr[16];
} cache_origin;

/* What a lookup copies out: the body goes to buf. */
typedef struct cache_answer {
	uint32_t rcode;
	uint32_t ttl_left; /* seconds until expiry (0 when stale) */
	size_t body_len;   /* bytes written to buf; larger than cap: did not fit, not copied */
	cache_origin from; /* who answered, when */
} cache_answer;

/*
 * A fresh answer (CACHE_HIT) or CACHE_MISS; never waits, never leads. The
 * path a worker takes inline.
 */
int cache_get(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf, size_t cap);
/*
 * As cache_get(), but a miss is not counted: the caller looks again where it
 * may wait (a gateway's HTTP worker hands its request to a gateway thread),
 * and that lookup counts it, so a request's miss counts once.
 */
int cache_peek(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf,
               size_t cap);
/* As cache_get(), counting nothing: a check before the lookup that counts. */
int cache_probe(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf,
                size_t cap);

/*
 * As cache_get(), but on a miss: when nobody is asking upstream for key,
 * returns CACHE_LEAD (the caller must then call cache_put() or
 * cache_abandon() for key, which wakes the waiters); when someone is, waits
 * for them up to wait_ms and returns what is cached then (CACHE_HIT, or
 * CACHE_MISS when the leader failed or was too slow).
 */
int cache_fetch(cache *c, const uint8_t *key, size_t klen, unsigned wait_ms, cache_answer *a,
                uint8_t *buf, size_t cap);

/* An expired answer still within its stale window (CACHE_STALE), or CACHE_MISS. */
int cache_get_stale(cache *c, const uint8_t *key, size_t klen, cache_answer *a, uint8_t *buf,
                    size_t cap);

/*
 * Stores an answer for ttl seconds (replacing any), evicting the least
 * recently used entries of the shard to stay within budget. ttl 0 stores
 * nothing. Ends the caller's lead on key if it had one. IDN_ERANGE if the
 * entry alone exceeds a shard's budget (not stored), IDN_ENOMEM.
 */
int cache_put(cache *c, const uint8_t *key, size_t klen, uint32_t rcode, const uint8_t *body,
              size_t body_len, uint32_t ttl);
/*
 * As cache_put(), remembering from (its fetched 0: now); cache_put() is
 * this with from NULL (origin unknown, fetched now).
 */
int cache_put_from(cache *c, const uint8_t *key, size_t klen, uint32_t rcode, const uint8_t *body,
                   size_t body_len, uint32_t ttl, const cache_origin *from);

/* Ends a lead without an answer (upstream failed); waiters return CACHE_MISS. */
void cache_abandon(cache *c, const uint8_t *key, size_t klen);

/*
 * The TTL of a success answer's values (value[] in wire encoding, n of
 * them): the smallest, relative TTLs as they are, absolute ones (ttl_type 1)
 * as the seconds left until then (0 once past); capped at max_ttl. No
 * values: max_ttl. IDN_ETRUNC/IDN_EINVAL on malformed values.
 */
int cache_values_ttl(idn_slice values, uint32_t n, uint32_t now, uint32_t max_ttl, uint32_t *ttl);

struct cache_stats {
	uint64_t hits;      /* fresh answers served */
	uint64_t misses;    /* lookups that found nothing fresh */
	uint64_t coalesced; /* misses that waited for another's upstream query */
	uint64_t stale;     /* stale answers served */
	uint64_t evictions; /* entries dropped for room (not expiry) */
	uint64_t inserts;
	uint64_t entries;
	uint64_t bytes;
};

void cache_stats(cache *c, struct cache_stats *st);

/* The configured values after defaults (neg_ttl, stale_ttl, max_ttl). */
const cache_opts *cache_options(const cache *c);

#endif
