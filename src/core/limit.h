/*
 * limit.h - the one table of protective limits, and what happens when one
 * acts.
 *
 * Every limit that refuses, trims, delays or evicts something a stranger sent
 * (an answer over the UDP budget, a connection over a per-source cap, a
 * pending challenge over its memory budget, a failed login slowed down, ...)
 * has one row here. When it acts, limit_hit() counts it and logs it, at most
 * once per LIMIT_LOG_MS per limit with the number of times it acted since
 * the last line, so an attack cannot fill the log. The counters are read by
 * the statistics (limit_line, limit_count). docs/security.md explains each
 * row and the setting that bounds it.
 *
 * Thread-safe and lock-free: counters are relaxed atomics, and the right to
 * log is taken with one compare-and-swap on the next log time.
 */
#ifndef IDN_CORE_LIMIT_H
#define IDN_CORE_LIMIT_H

#include <stddef.h>
#include <stdint.h>

enum idn_limit_id {
	LIM_UDP_ANSWER_SIZE, /* a UDP answer over the per-request byte budget */
	LIM_UDP_RATE,        /* answers to one source prefix over its rate */
	LIM_CONN_PER_SOURCE, /* a connection over the per-source cap */
	LIM_CONN_EVICTED,    /* an idle connection closed to admit a new one */
	LIM_MSG_DEADLINE,    /* a message not whole within its deadline */
	LIM_FD_EXHAUSTED,    /* accept() found no descriptor left */
	LIM_HTTP_BODY,       /* an HTTP body or chunk over its bound */
	LIM_ANSWER_STREAM,   /* a streamed answer paused for a slow reader */
	LIM_PENDING_AUTH,    /* a pending challenge refused or evicted */
	LIM_SESSIONS,        /* a session refused or evicted */
	LIM_LOGIN_FAILURES,  /* a login delayed after repeated failures */
	LIM_VALUE_SYNTAX,    /* a value type refused (NUL, control, spaces) */
	LIM_RECORD_SIZE,     /* a record refused that no answer could carry */
	LIM_REDIRECT_SCHEME, /* a proxy redirect refused for its URL scheme */
	LIM_STORAGE_FULL,    /* a write refused: the disk or the LMDB map is full */
	LIM_TRUST_CHAIN,     /* a trusted query's chain walk stopped: too many links, a loop */
	LIM_QUOTA,           /* a request refused by a quota (603-605, node/quota.h) */
	LIM_GATEWAY_QUEUE,   /* an HTTP read refused: the gateway's queue of waiting ones is full */
	LIM_LABEL_BATCH,     /* a POST /api/labels over --label-max identifiers */
	LIM_GATEWAY_ANSWER,  /* a gateway's whole answer (a drained stream) over its byte bound */
	LIM_SEARCH_SCAN,     /* a search stopped at its bound of index entries visited */
	LIM_APPLICATIONS,    /* an enterprise application refused: too many pending */
	LIM_STATS_PREFIXES,  /* a prefix beyond the statistics' bound, counted under "other" */
	LIM_STATS_REPORTS,   /* a child's statistics report refused: forged, replayed, oversized,
	                        malformed */
	LIM_COUNT
};

enum { LIMIT_LOG_MS = 10000 };

/* The limit's name as the statistics and the log say it ("udp-rate"). */
const char *limit_name(enum idn_limit_id id);

/*
 * Counts one action of limit id. When no line was logged for it in the last
 * LIMIT_LOG_MS, logs "idnode: limit <name>: <detail> (N times since the last
 * report)" to stderr; detail is printf-formatted and may be NULL.
 */
void limit_hit(enum idn_limit_id id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How many times limit id acted since the process started. */
uint64_t limit_count(enum idn_limit_id id);

/*
 * "limits: udp-answer-size=3 udp-rate=0 ..." into out (always terminated).
 * Returns the length it needed, like snprintf.
 */
int limit_line(char *out, size_t cap);

/* Clock used for the log interval: monotonic milliseconds. */
int64_t limit_now_ms(void);

#endif
