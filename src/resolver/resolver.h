/*
 * resolver.h - the recursive node: answers resolution requests by resolving
 * from a root site through the client library (client_resolve_root: 303
 * referrals, HS_SERV, the site's hash, UDP then TCP), from a cache
 * (resolver/cache.h).
 *
 * Threads and the network: resolver_answer() runs on a net worker. A cache
 * hit is answered inline. A UDP miss is queued to a small pool of resolver
 * threads and the worker moves on (returns 0); the pool thread that resolves
 * it sends the answer itself with sendto() on the socket the request came in
 * on (net_req.udp_fd), so the reply comes from the port the client asked - a
 * connected client socket drops anything else. A TCP miss goes to the same
 * pool when the caller can take an answer later (resolver_req.defer: the net
 * layer's net_defer/net_answer, which keep the connection's answers in
 * order); without that it is resolved inline on the worker with a short
 * per-question timeout (tcp_timeout_ms). Concurrent misses of one request
 * are coalesced in the cache.
 * The records a walk reads to find a prefix's site (0.NA/<prefix>, HS_SERV
 * handles) are kept for their TTL in a small cache of their own, so a miss
 * of a known prefix asks its site only.
 * When every upstream fails, an expired answer within the stale window is
 * served; otherwise the client gets response code 2 with the reason (6 when
 * the referral chain loops or exceeds 40 hops).
 *
 * Ownership: the resolver owns its cache and threads; resolver_free() stops
 * the pool (queued misses are dropped) and joins it. Requests are copied when
 * queued.
 */
#ifndef IDN_RESOLVER_RESOLVER_H
#define IDN_RESOLVER_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "resolver/cache.h"

typedef struct resolver_opts {
	const char *root; /* "HOST:PORT" of the root site (bootstrap 0.NA/0.NA) */
	cache_opts cache;
	unsigned threads;          /* pool threads resolving UDP misses; 0 = 4 */
	unsigned queue_max;        /* UDP misses waiting for the pool; 0 = 1024; beyond: 3 busy */
	unsigned timeout_ms;       /* per upstream question (UDP misses); 0 = 1000 */
	unsigned tcp_timeout_ms;   /* per upstream question (TCP misses, inline); 0 = 500 */
	unsigned coalesce_wait_ms; /* a coalesced miss waits for the leader at most; 0 = 3000 */
	/* A UDP answer sent from the pool keeps to the net layer's budget (net.h); 0 = 1232, 10. */
	unsigned udp_answer_max, udp_amplification;
	bool all; /* resolve every resolution request, not only those with REC set */
	/*
	 * Trusted resolution (auth/trust.h): the PEM public key file of the
	 * trust root, and its handle (NULL: TRUST_ROOT_HANDLE). With a root, a
	 * request carrying PROTO_F_IDIS_TRUSTED is answered with that bit
	 * echoed and PROTO_F_IDIS_VERIFIED set only when the record's
	 * HS_SIGNATURE covers every value (but HS_SIGNATURE / HS_CERT), the
	 * digests match and the HS_CERT chain verifies to the root at this
	 * moment. The certificates are fetched through the cache like any
	 * answer; the verdict is cached with the answer (its own cache key).
	 */
	const char *trust_root, *trust_root_handle;
	/* Most certificates one verification walks (0: TRUST_MAX_LINKS); over: limit trust-chain.
	 */
	unsigned trust_max_links;
	/*
	 * The time all the upstream questions of one verification may take
	 * together (0: 3000 ms); over it, not verified: limit trust-chain.
	 */
	unsigned trust_budget_ms;
	/*
	 * The upstream hold-down (resolver/holddown.h): a server whose
	 * question timed out is asked nothing for holddown_ms (0: 1000),
	 * doubling after each failed probe up to holddown_max_ms (0: 60000);
	 * questions to it fail at once meanwhile ("node ADDR is not answering
	 * (since HH:MM:SS)"), so a stale answer or that error comes without
	 * waiting. holddown_off: no hold-down.
	 */
	unsigned holddown_ms, holddown_max_ms;
	bool holddown_off;
} resolver_opts;

typedef struct resolver resolver;

/* IDN_EINVAL with the reason in err (a bad root address), IDN_ENOMEM. */
int resolver_new(const resolver_opts *o, resolver **out, char *err, size_t errlen);
void resolver_free(resolver *r);

/* 1 if the request is the resolver's: a resolution (op 1) with REC, or any when opts.all. */
bool resolver_wants(const resolver *r, const uint8_t *msg, size_t len);

typedef struct resolver_req {
	bool udp;
	int udp_fd; /* UDP: where a queued miss is answered from */
	const struct sockaddr *peer;
	socklen_t peer_len;
	const uint8_t *msg; /* envelope + message */
	size_t len;
	/*
	 * Optional, for a miss not over UDP: defer(defer_arg) asks to answer
	 * later and returns a context (NULL: resolve inline); the pool then
	 * calls answer(ctx, ans, len) exactly once (len 0: no answer), from
	 * its thread, also for a miss dropped when the resolver stops.
	 */
	void *(*defer)(void *defer_arg);
	void *defer_arg;
	void (*answer)(void *ctx, const uint8_t *ans, size_t len);
} resolver_req;

/*
 * Answers a request resolver_wants() (other operations get 5, not
 * supported, for a recursive node without a store): returns the answer's length (written to
 * out, cap >= 20 + PROTO_MSG_MAX), 0 when a pool thread will answer (UDP
 * miss), or a negative idn_err (not a request we can answer: drop it).
 */
int resolver_answer(resolver *r, const resolver_req *q, uint8_t *out, size_t cap);

/*
 * Where an answer came from (resolver_lookup): the server that gave it, or
 * for a failure the one that did not answer.
 */
typedef struct resolver_meta {
	char node[64];    /* "127.0.0.1:2641"; "" when not known */
	uint32_t fetched; /* unix seconds the answer was fetched there; 0: no answer */
	bool stale;       /* an expired answer served because every upstream failed */
	bool down;        /* upstream failed and nothing was cached: the answer is rc 2 */
} resolver_meta;

enum resolver_wait {
	RESOLVER_CACHED = 0, /* from the cache only: IDN_EAGAIN when not cached fresh */
	RESOLVER_BLOCK = 1,  /* on a miss, ask upstream on the caller's thread */
	RESOLVER_PROBE = 2,  /* as RESOLVER_CACHED, counted in no statistic: a check only */
};

/*
 * A resolution request (envelope + message) from this process (the HTTP
 * gateway, src/api), answered as resolver_answer() answers (same cache,
 * TTLs, negative and stale answers, coalescing, hold-down), whatever its
 * REC flag. RESOLVER_CACHED never waits: a fresh hit is answered, anything
 * else is IDN_EAGAIN (nothing is asked, and the miss is not counted: the
 * caller asks again, waiting, and that counts it). RESOLVER_BLOCK asks upstream on
 * the caller's thread with timeout_ms per question and coalesce_wait_ms
 * behind another's question: for threads that may wait (not a net
 * worker). meta (optional) is filled for every answer. Returns the answer's
 * length, or a negative idn_err.
 */
int resolver_lookup(resolver *r, const uint8_t *msg, size_t len, enum resolver_wait wait,
                    uint8_t *out, size_t cap, resolver_meta *meta);

struct resolver_stats {
	struct cache_stats cache;
	uint64_t upstream;      /* resolutions started from the root */
	uint64_t upstream_fail; /* ... that failed (network, timeout, loops) */
	uint64_t queued;        /* misses handed to the pool (UDP, and deferred TCP) */
	uint64_t busy;          /* misses refused with 3: queue full */
	uint64_t verified;      /* trusted queries resolved and verified */
	uint64_t unverified;    /* ... that did not verify */
	uint64_t held;          /* questions not sent: their server was held down */
	uint64_t held_now;      /* servers held down now */
	uint64_t sites;         /* prefix and service records kept for walks (the site cache) */
};

void resolver_stats(resolver *r, struct resolver_stats *st);

/* One line "resolver: hits=.. misses=.. ..." (what SIGUSR1 and shutdown log). */
void resolver_stats_line(resolver *r, char *buf, size_t len);

#endif
