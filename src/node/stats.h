/*
 * stats.h - the node's statistics (docs/statistics.md): per prefix
 * (enterprise), per industry (the prefix's parent) and per hour and day,
 * the identifiers registered, modified, deleted and held, the resolutions
 * answered by transport and outcome, and the authenticated operations and
 * their failures; and the counters /metrics shows (requests by opcode,
 * transport and response code, latency and group-commit histograms).
 *
 * Counting costs nothing measurable on the request path: each node worker
 * (one per thread) has its own counters, written only by its thread with
 * plain loads and stores (relaxed atomics: no lock, no read-modify-write),
 * and a per-worker table of prefixes bounded by node_config.stats_prefixes
 * (beyond it, counted under NODE_STATS_OTHER and LIM_STATS_PREFIXES).
 * node_stats_flush(), called by one background thread every few seconds,
 * sums the workers (the counters only grow; a worker freed leaves its
 * counts behind), takes the difference from its last flush and adds it to
 * the hour and day buckets of each prefix and industry in STORE_TAB_STATS,
 * with the identifiers held then. node_stats_prune() drops buckets older
 * than the retention. node_stats_read() reads buckets back (the API, the
 * CLI), with the store only, so it also works beside a running node.
 *
 * Table keys: kind byte | be32 bucket | name, where kind is 'h' (hour of a
 * prefix), 'd' (day of a prefix), 'H' and 'D' (of an industry), bucket the
 * unix time / 3600 or / 86400. Value: NODE_STATS_VERSION, then held and
 * the NST_COUNT counters, each a be64.
 */
#ifndef IDN_NODE_STATS_H
#define IDN_NODE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/node.h"

enum node_stat {
	NST_REGISTERED = 0,
	NST_MODIFIED,
	NST_DELETED,
	NST_RES_FIRST, /* + transport * 3 + enum node_stat_outcome */
	NST_AUTH_OK = NST_RES_FIRST + 9,
	NST_AUTH_FAIL,
	NST_COUNT,
};
enum node_stat_outcome { NST_FOUND = 0, NST_NOT_FOUND = 1, NST_REFERRED = 2 };

enum {
	NODE_STATS_KEY_MAX = 64,       /* longer prefixes count under NODE_STATS_OTHER */
	NODE_STATS_PREFIXES = 10000,   /* node_config.stats_prefixes' default */
	NODE_STATS_MAX_BUCKETS = 1000, /* buckets one read may span */
	NODE_STATS_MAX_ROWS = 200000,  /* rows one read may return */
	NODE_STATS_VERSION = 1,
	NODE_OP_SLOTS = 32, /* the opcode table's rows, then "other" */
	NODE_RC_SLOTS = 48, /* the known response codes, then "other" */
	NODE_LAT_BUCKETS = 14,
	NODE_COMMIT_BUCKETS = 9,
};
#define NODE_STATS_OTHER "other"

/* The counter's name as the API, CSV and CLI say it ("resolved_udp_found"). */
const char *node_stat_name(unsigned i);

/* ---- the request path (node workers) ---- */

/*
 * A batch of n requests over transport t took ns nanoseconds (the server
 * times each batch of a network worker, the API each HTTP request): the
 * latency histogram. Nothing without statistics.
 */
void node_worker_observe(node_worker *w, enum node_transport t, uint64_t n, uint64_t ns);
/* Whether w counts (node_config.stats_prefixes > 0). */
bool node_worker_counts(const node_worker *w);

/*
 * Whether index:handle is a node-wide administrator (node_config.server_admins,
 * or a member of one's group), read on w's snapshot: 1, 0, or < 0 on a
 * store error. Per-prefix statistics are theirs (docs/statistics.md).
 */
int node_worker_is_server_admin(node_worker *w, idn_slice handle, uint32_t index);

/* ---- /metrics ---- */

/* Upper bounds of the histograms' buckets: seconds, and writes per commit. */
extern const double node_lat_bounds[NODE_LAT_BUCKETS];
extern const double node_commit_bounds[NODE_COMMIT_BUCKETS];

typedef struct node_metrics {
	uint64_t ops[3][NODE_OP_SLOTS][NODE_RC_SLOTS]; /* [transport][opcode slot][rcode slot] */
	uint64_t lat[3][NODE_LAT_BUCKETS + 1];         /* per bucket, not cumulative; last +Inf */
	uint64_t lat_sum_ns[3];
	uint64_t commit[NODE_COMMIT_BUCKETS + 1];
	uint64_t commit_sum;
} node_metrics;

/* The opcode of slot i (UINT32_MAX: "other"), and the response code of slot i (same). */
uint32_t node_metrics_opcode(unsigned i);
uint32_t node_metrics_rcode(unsigned i);
/* The sums over every worker, live and gone, now. */
void node_metrics_get(node *n, node_metrics *m);

/* One prefix's totals as of the last flush (node_stats_each). */
typedef struct node_stats_total {
	const char *prefix;
	uint64_t held;
	uint64_t c[NST_COUNT];
} node_stats_total;
/* Calls fn for every prefix tracked (as of the last flush), under the stats lock. */
void node_stats_each(node *n, void (*fn)(void *arg, const node_stats_total *t), void *arg);
/* Prefixes tracked now (at most stats_prefixes, plus NODE_STATS_OTHER). */
size_t node_stats_tracked(node *n);
/*
 * How many times a prefix's identifiers held were counted in the store
 * (a scan of its records) and taken as saved by an earlier count of the
 * same records (node_stats_flush), since n began.
 */
void node_stats_held_counts(node *n, uint64_t *scanned, uint64_t *saved);

/* ---- the background thread ---- */

/*
 * Adds what the workers counted since the last flush to the buckets of the
 * hour and day of `now` (unix seconds) and writes them, with the
 * identifiers held, in one write transaction. The identifiers held are
 * counted from the store at the first flush and at the first of each day,
 * and follow registrations and deletions between; a count takes the
 * figures the last full count saved instead, when no record changed since
 * (a store with store_handles_gen). One thread at a time.
 */
int node_stats_flush(node *n, uint32_t now);

/*
 * Deletes the hourly buckets older than hour_days days before now and the
 * daily ones older than day_days (0: keep forever), at most `max` keys
 * (0: no bound); *deleted says how many went.
 */
int node_stats_prune(store *s, uint32_t now, unsigned hour_days, unsigned day_days, size_t max,
                     size_t *deleted);

/*
 * Adds c to one bucket (hour or day, of a prefix or an industry, bucket as
 * in the table keys) and sets its identifiers held, in t: what a flush
 * writes, for a history made elsewhere (`idnode demo`'s back-filled days).
 */
int node_stats_add(store_txn *t, bool hourly, bool industry, uint32_t bucket, const char *name,
                   uint64_t held, const uint64_t c[NST_COUNT]);

/* ---- reading ---- */

typedef struct node_stats_query {
	bool hourly;       /* hour buckets, else day ones */
	bool industry;     /* industry rows, else prefix rows */
	bool reported;     /* what children reported ('x', 'X'; daily only), else own counts */
	const char *name;  /* one prefix or industry; NULL: all */
	uint32_t from, to; /* buckets (unix time / 3600 or / 86400), inclusive */
	size_t max_rows;   /* 0: NODE_STATS_MAX_ROWS */
} node_stats_query;

typedef struct node_stats_row {
	uint32_t bucket;
	bool hourly, industry;
	char name[NODE_STATS_KEY_MAX + 8];
	uint64_t held;
	uint64_t c[NST_COUNT];
} node_stats_row;

/*
 * Calls fn for each row of q in (bucket, name) order; a non-zero return
 * stops and is returned. IDN_ERANGE past max_rows (nothing more is read).
 */
int node_stats_read(store *s, const node_stats_query *q,
                    int (*fn)(void *arg, const node_stats_row *r), void *arg);

/*
 * Builds a query from the filters the API and the CLI share (each may be
 * NULL): prefix, industry (not both), from and to ("YYYY-MM-DD" or, hourly,
 * "YYYY-MM-DDTHH", UTC; default: the last 7 days or 24 hours up to now),
 * granularity ("hour" or "day", default day). IDN_EINVAL with err saying
 * what is wrong (a malformed date, from after to, a period over
 * NODE_STATS_MAX_BUCKETS buckets).
 */
int node_stats_query_parse(node_stats_query *q, const char *prefix, const char *industry,
                           const char *from, const char *to, const char *granularity, uint32_t now,
                           char *err, size_t errlen);

/* "2026-12-07" or "2026-12-07T13" of a row's bucket. */
void node_stats_period(const node_stats_row *r, char *out, size_t cap);
/* The CSV header and one row (RFC 4180; names quoted when needed), each ending "\r\n". */
int node_stats_csv_header(char *out, size_t cap);
int node_stats_csv_row(const node_stats_row *r, char *out, size_t cap);
/* One row as a JSON object. */
int node_stats_json_row(const node_stats_row *r, char *out, size_t cap);

/* The industry of a prefix: its parent ("88.100.7" -> "88.100"), itself without a dot. */
size_t node_stats_industry(const char *prefix, size_t len);

#endif
