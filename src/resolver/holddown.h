/*
 * holddown.h - upstream servers that stopped answering, remembered for a
 * while, as a DNS resolver's infrastructure cache remembers them: a server
 * whose question timed out is held down for an interval, during which
 * questions to it fail at once instead of each waiting for the timeout
 * again. When the interval has passed, one question is let through (the
 * probe); if it is answered the server is forgotten, if it times out too
 * the interval doubles, up to a cap. Everyone else stays held down while
 * the probe is out.
 *
 * The table is bounded (max entries); when full, the entry held down the
 * shortest is replaced. Keys are opaque bytes (the resolver uses the
 * server's address and the transport).
 *
 * Threads: every function is thread-safe (one mutex; it is taken once per
 * upstream question, never on a cache hit).
 */
#ifndef IDN_RESOLVER_HOLDDOWN_H
#define IDN_RESOLVER_HOLDDOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { HOLDDOWN_KEY_MAX = 32 };

typedef struct holddown_opts {
	unsigned max;            /* servers remembered; 0 = 256 */
	unsigned first_ms;       /* the first interval; 0 = 1000 */
	unsigned max_ms;         /* the longest interval; 0 = 60000 */
	int64_t (*now_ms)(void); /* a monotonic clock in ms; default limit_now_ms. Tests pin it. */
	uint32_t (*wall)(void);  /* unix seconds (for "since"); default time() */
} holddown_opts;

typedef struct holddown holddown;

int holddown_new(const holddown_opts *o, holddown **out);
void holddown_free(holddown *h);

/*
 * Whether a question to key may go now: true when the server is not held
 * down, or when its interval has passed and no probe is out (this question
 * is then the probe). false while it is held down; *since (optional) is
 * then the unix time of the failure that began the hold-down.
 */
bool holddown_may_ask(holddown *h, const void *key, size_t klen, uint32_t *since);

/*
 * The result of a question to key: answered (any answer) forgets the
 * server; a timeout holds it down (first_ms), or, for a probe, doubles its
 * interval (up to max_ms). A timeout of a question that was already out
 * when the hold-down began changes nothing.
 */
void holddown_result(holddown *h, const void *key, size_t klen, bool answered);

/* Servers held down now (whose interval has not passed). */
size_t holddown_count(holddown *h);

#endif
