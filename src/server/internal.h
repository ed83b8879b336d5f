/*
 * internal.h - what the files of server/ share: the net callbacks that take
 * every request to the node or the resolver (requests.c), the thread
 * that logs the resolver's statistics on SIGUSR1 and reloads on SIGHUP
 * (stats.c), and the reload (reload.c).
 */
#ifndef IDN_SERVER_INTERNAL_H
#define IDN_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "api/api.h"
#include "auth/sign.h"
#include "net/http.h"
#include "net/net.h"
#include "node/node.h"
#include "repl/mirror.h"
#include "resolver/resolver.h"
#include "server/settings.h"

/*
 * Set before net_start, read-only while serving. node NULL: a recursive
 * node without a store, whose every request goes to the resolver.
 */
typedef struct server_requests {
	node *node;
	resolver *resolver; /* NULL: not a recursive node */
	bool group_commit;  /* the node workers group their writes (node_worker_group) */
} server_requests;

/* Fills the callbacks of nc (worker_init ... handle, arg = rq); rq must outlive the net server. */
void server_requests_wire(server_requests *rq, net_config *nc);

/*
 * The sweeper: a thread that calls node_sweep() about once a second, so
 * what expired in the node's tables is freed without waiting for a request.
 */
typedef struct server_sweeper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	node *node;
	bool running, stop;
} server_sweeper;
bool server_sweeper_start(server_sweeper *sw, node *n);
void server_sweeper_stop(server_sweeper *sw);

/*
 * The statistics thread: SIGUSR1 is blocked in the calling thread first (so
 * every thread started after inherits the mask), then the thread sigwaits
 * for it. Returns whether the thread runs.
 */
typedef struct server_stats {
	pthread_t thread;
	bool running;
	resolver *res;
	void (*reload)(void *arg); /* SIGHUP (reload.c), on this thread */
	void *arg;
} server_stats;
/* st->res, reload and arg set by the caller. */
bool server_stats_start(server_stats *st);
void server_stats_stop(server_stats *st);
/* Logs the resolver's cache line (when r) and the protective limits' counters. */
void server_stats_log(resolver *r);

/*
 * (reload.c) SIGHUP: the -c file and the flags read again. The settings
 * marked reload in the table take their new values (cur keeps them); the
 * HTTPS certificate and key are loaded again even when their paths did not
 * change (a renewed certificate); each other changed setting is logged as
 * needing a restart. A file that does not parse changes nothing.
 */
void server_reload(server_settings *cur, node *n, api_server *http);

/*
 * (notify.c) The service manager's readiness protocol: state ("READY=1",
 * "STOPPING=1") sent to $NOTIFY_SOCKET when it is set, else nothing;
 * server_notify_reloading sends "RELOADING=1" with the monotonic clock.
 */
void server_notify(const char *state);
void server_notify_reloading(void);

/*
 * The statistics' writer (node/stats.h): a thread that flushes the
 * counters to the store every flush_s seconds and at stop, and prunes
 * buckets past their retention every hour. clock: unix seconds (time()
 * when NULL).
 */
typedef struct server_flusher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	node *node;
	store *store;
	unsigned flush_s, hour_days, day_days;
	bool running, stop;
} server_flusher;
bool server_flusher_start(server_flusher *f, node *n, store *s, unsigned flush_s,
                          unsigned hour_days, unsigned day_days);
/* Stops the thread after one last flush (nothing when it never ran). */
void server_flusher_stop(server_flusher *f);

/*
 * The reports to the parent (stats_report.c, node/stats_report.h): a thread
 * that sends the days of prefixes not yet acknowledged to parent
 * ("HOST:PORT" of its HTTP listener) every interval_s seconds, signed with
 * key, retrying with back-off. Borrows every argument until stopped.
 */
typedef struct server_reporter {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	store *store;
	EVP_PKEY *key;
	const char *parent; /* NULL: found through root (stats_parent.c) */
	const char *root;
	const char *const *prefixes;
	size_t nprefixes;
	unsigned interval_s, days;
	bool running, stop;
} server_reporter;
bool server_reporter_start(server_reporter *rp, store *s, const auth_key *key, const char *parent,
                           const char *root, const char *const *prefixes, size_t n,
                           unsigned interval_s, unsigned days);
void server_reporter_stop(server_reporter *rp);
/*
 * The report address ("ADDR:PORT" into out) of prefix's parent, found
 * through root (stats_parent.c): the first HTTP interface of the HS_SITE in
 * 0.NA/<parent prefix>. IDN_OK, or an idn_err with why.
 */
int server_stats_parent_find(const char *root, const char *prefix, char *out, size_t cap, char *why,
                             size_t whylen);
/*
 * The rule server_stats_parent_find applies to one HS_SITE value's data:
 * the first server, in record order, with an HTTP interface (protocol 2),
 * as "A.B.C.D:PORT" or "[V6]:PORT" into out. False when there is none or
 * the data is not a site.
 */
bool server_site_http(idn_slice d, char *out, size_t cap);

/* What GET /metrics reads (metrics.c); mirror under lock, set and cleared by the server. */
typedef struct server_metrics {
	node *node;
	store *store;
	resolver *resolver;
	net_conn_budget *budget;
	const char *data_dir; /* LMDB's directory, NULL with PostgreSQL */
	time_t started;
	pthread_mutex_t lock;
	repl_mirror *mirror;
} server_metrics;
/* api_stats_opts.metrics: the exposition text into r. */
void server_metrics_write(void *arg, http_resp *r);
void server_metrics_mirror(server_metrics *sm, repl_mirror *m);

#endif
