/*
 * server.c - a running node assembled from its settings (server/server.h):
 * store, node, resolver, listeners, mirror, in that order up, in the
 * reverse order down.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "client/identity_lookup.h"
#include "repl/mirror.h"
#include "server/internal.h"
#include "server/server.h"
#include "store/bulkload.h"

static const char prog[] = "idnode serve";

/* What one run holds; torn down by stop(). */
typedef struct running {
	server_settings *cfg;           /* reloadable settings change on SIGHUP (reload.c) */
	store *store;                   /* NULL: a recursive node without one */
	node *node;                     /* NULL with no store */
	client_identity_lookup *lookup; /* identities homed elsewhere, from --root */
	auth_key *key;                  /* server_key: signs answers to CT requests */
	net_server *net;                /* the Handle UDP/TCP listeners */
	api_server *http;               /* the HTTP(S) listeners, NULL without any */
	repl_mirror *mirror;
	server_requests requests;
	net_conn_budget budget; /* max_connections, TCP and HTTP together */
	server_stats stats;
	server_sweeper sweeper;   /* frees what expired in the node's tables */
	server_flusher flusher;   /* writes the statistics (node/stats.h) */
	server_reporter reporter; /* sends them to --stats-parent */
	server_metrics metrics;   /* what GET /metrics reads */
	char err[256];            /* what a start step failed on, from the module that failed */
	bool serving;             /* every part started: SIGHUP may reload (atomic) */
	bool hup_held;            /* a SIGHUP came while starting: reload once serving (atomic) */
} running;

static int say(running *r, int ret)
{
	fprintf(stderr, "%s: %s\n", prog, r->err[0] ? r->err : idn_strerror(ret));
	return ret;
}

/* The limits on what strangers make the node hold (docs/security.md); 0 keeps the node's default.
 */
static void node_limits(const server_settings *c, node_config *n)
{
	if (c->pending_auth_mb)
		n->pending_auth_bytes = (size_t)c->pending_auth_mb << 20;
	if (c->pending_auth_per_source)
		n->pending_auth_per_source = c->pending_auth_per_source;
	if (c->unauth_sessions)
		n->unauth_sessions = c->unauth_sessions;
	if (c->unauth_sessions_per_source)
		n->unauth_sessions_per_source = c->unauth_sessions_per_source;
	if (c->login_free_failures)
		n->login_free_failures = c->login_free_failures;
	if (c->login_backoff_max)
		n->login_backoff_max = c->login_backoff_max;
	if (c->login_entries)
		n->login_entries = c->login_entries;
	n->codes = (enum node_codes)c->national_codes;
	n->quota_daily = c->quota_daily;
	n->quota_identifiers = c->quota_identifiers;
	n->quota_children = c->quota_children;
}

/* The store, with the prefixes it homes; a recursive node may have none. */
static int open_store(running *r)
{
	const server_settings *c = r->cfg;
	if (!c->data)
		return IDN_OK;
	store_opts so = {.map_size = (uint64_t)c->map_size_mb << 20,
	                 .warm = c->warm == 3 ? STORE_WARM_NONE : c->warm + 1,
	                 .warm_rate = c->warm_rate,
	                 .huge_map = c->huge_map,
	                 .lookup_cache = (size_t)c->lookup_cache_mb << 20,
	                 .log_max_bytes = c->log_max_bytes,
	                 .log_max_age = c->log_max_age,
	                 .read_location = c->store_read};
	int ret = store_open(c->data, &so, &r->store);
	if (ret) {
		fprintf(stderr, "%s: %s: cannot open the store: %s\n", prog, c->data,
		        idn_strerror(ret));
		return ret;
	}
	char boot[BULKLOAD_BOOT_ID_MAX + 1];
	bulkload_boot_id(boot, sizeof(boot));
	if ((ret = bulkload_lazy_check(r->store, boot)) == IDN_ESTORE) {
		fprintf(stderr,
		        "%s: %s: a load into this store, empty then, was cut by a restart of the "
		        "machine before it was made durable: the store may be damaged; delete it "
		        "and load again\n",
		        prog, c->data);
		return ret;
	}
	size_t bad = 0;
	ret = store_home_prefixes(r->store, (const char *const *)c->home.v, c->home.n, &bad);
	if (ret == IDN_EINVAL)
		fprintf(stderr, "%s: --home '%s': not a prefix\n", prog, c->home.v[bad]);
	else if (ret)
		fprintf(stderr, "%s: %s: homing prefixes: %s\n", prog, c->data, idn_strerror(ret));
	return ret;
}

/*
 * The reports to --stats-parent (stats_report.c), when one is named, or to
 * the parent found through --root when only --stats-report is given.
 */
static int start_reporter(running *r)
{
	const server_settings *c = r->cfg;
	bool parent = c->stats_parent && c->stats_parent[0], root = c->root && c->root[0];
	if (!parent && !c->stats_report.n)
		return IDN_OK;
	if (!c->stats || !r->key || !c->stats_report.n || (!parent && !root)) {
		snprintf(r->err, sizeof(r->err),
		         "stats_parent, stats_report: reports need statistics on, server_key (the "
		         "reports are signed with it), at least one stats_report prefix, and "
		         "stats_parent or root (the parent is then found through the root)");
		return IDN_ECONFIG;
	}
	if (!server_reporter_start(&r->reporter, r->store, r->key, parent ? c->stats_parent : NULL,
	                           c->root, (const char *const *)c->stats_report.v,
	                           c->stats_report.n, c->stats_report_s, c->stats_report_days))
		return IDN_ENOMEM;
	return IDN_OK;
}

static int make_node(running *r)
{
	const server_settings *c = r->cfg;
	uint8_t site[8192]; /* node_new copies it */
	int sitelen = server_site_info(c, &r->key, site, sizeof(site), r->err, sizeof(r->err));
	if (sitelen < 0) {
		say(r, IDN_EINVAL);
		return IDN_EINVAL;
	}
	if (!r->store)
		return IDN_OK;
	node_config ncfg;
	node_config_init(&ncfg);
	ncfg.case_sensitive = c->case_sensitive;
	ncfg.site_serial = (uint16_t)c->site_serial;
	if (r->key) {
		/* Answers to CT requests (session setups above all) are signed with it. */
		ncfg.sign = auth_sign_answer;
		ncfg.sign_arg = r->key;
	}
	ncfg.site_info = idn_slice_of(site, (size_t)sitelen);
	ncfg.server_id = c->server_id;
	ncfg.server_admins = (const char *const *)c->server_admin.v;
	ncfg.nserver_admins = c->server_admin.n;
	ncfg.mirror_of = c->mirror_of;
	ncfg.max_record = c->max_record_bytes;
	if (c->max_auth_time)
		ncfg.max_auth_time = c->max_auth_time;
	ncfg.value_type_max = c->value_type_max;
	/* Identities homed elsewhere are found from the same root (client/identity_lookup.h). */
	client_identity_lookup_opts lo = {c->root, c->identity_timeout_ms, c->case_sensitive};
	int ret = c->root && c->root[0] ? client_identity_lookup_new(&lo, &r->lookup) : IDN_OK;
	ncfg.identity_lookup = r->lookup ? client_identity_lookup_start : NULL;
	ncfg.identity_lookup_arg = r->lookup;
	node_limits(c, &ncfg);
	ncfg.stats_prefixes = c->stats ? c->stats_prefixes : 0;
	if (!ret)
		ret = node_new(&ncfg, r->store, &r->node);
	if (!ret && c->stats &&
	    !server_flusher_start(&r->flusher, r->node, r->store, c->stats_flush_s,
	                          c->stats_hour_days, c->stats_day_days))
		ret = IDN_ENOMEM;
	if (!ret && !server_sweeper_start(&r->sweeper, r->node))
		ret = IDN_ENOMEM;
	if (!ret)
		ret = start_reporter(r);
	if (ret)
		say(r, ret);
	return ret;
}

static int start_resolver(running *r)
{
	const server_settings *c = r->cfg;
	if (!c->recursive)
		return IDN_OK;
	resolver_opts ro = {
	    .root = c->root,
	    .threads = c->resolver_threads,
	    .udp_answer_max = c->udp_answer_max,
	    .udp_amplification = c->udp_amplification,
	    .all = c->recursive_all || !r->store,
	    .cache = {.max_bytes = (size_t)c->cache_mb << 20,
	              .neg_ttl = c->neg_ttl,
	              .stale_ttl = c->stale_ttl},
	    .trust_root = c->trust_root,
	    .trust_root_handle = c->trust_root_handle,
	    .trust_max_links = c->trust_max_links,
	    .trust_budget_ms = c->trust_budget_ms,
	    .holddown_ms = c->holddown_ms,
	    .holddown_max_ms = c->holddown_max_ms,
	};
	int ret = resolver_new(&ro, &r->requests.resolver, r->err, sizeof(r->err));
	if (ret)
		return say(r, ret);
	r->err[0] = 0;
	return IDN_OK;
}

/*
 * The connections TCP and HTTP share: --max-connections, the share of one
 * source, and what the descriptors allow. RLIMIT_NOFILE is raised to its hard
 * limit; if the connection caps still do not fit under it (beside the fds of
 * listeners, store and threads), the total is lowered to fit, and said once.
 */
static int make_budget(running *r)
{
	const server_settings *c = r->cfg;
	unsigned long long fds = net_fd_raise();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long long threads = c->threads ? c->threads
	                             : cpus > 0 ? (unsigned long long)cpus
	                                        : 1;
	/*
	 * Beside connections: per worker thread its UDP and TCP sockets on each
	 * Handle address (two families at most), its HTTP listeners, epoll,
	 * eventfds and a store connection; then the store's files, logs, the
	 * resolver's sockets.
	 */
	unsigned long long spare = 64 + threads * (4ull * c->listen.n + c->http.n + c->https.n + 6);
	unsigned long long room = fds > spare + 16 ? fds - spare : 16;
	unsigned long long tcp = c->max_tcp_conns ? c->max_tcp_conns : NET_DEF_CONNS;
	unsigned long long http = c->http.n + c->https.n == 0 ? 0
	                          : c->http_max_conns         ? c->http_max_conns
	                                                      : NET_DEF_CONNS;
	unsigned long long want =
	    c->max_connections && c->max_connections < tcp + http ? c->max_connections : tcp + http;
	unsigned max = c->max_connections;
	if (want > room) {
		max = (unsigned)room;
		fprintf(
		    stderr,
		    "%s: %llu file descriptors (RLIMIT_NOFILE): connections capped at %u in all, "
		    "not %llu\n",
		    prog, fds, max, want);
	}
	unsigned per_source =
	    c->max_conns_per_source ? c->max_conns_per_source : NET_DEF_CONNS_PER_SOURCE;
	int ret =
	    net_budget_init(&r->budget, max, per_source, (unsigned)(want < room ? want : room));
	if (ret)
		say(r, ret);
	return ret;
}

static int start_listeners(running *r)
{
	const server_settings *c = r->cfg;
	r->requests.node = r->node;
	r->requests.group_commit = c->group_commit;
	int ret = make_budget(r);
	if (ret)
		return ret;
	net_conn_budget *budget = &r->budget;
	net_config nc = {
	    .listen = (const char **)c->listen.v,
	    .nlisten = c->listen.n,
	    .threads = c->threads,
	    .max_tcp_conns = c->max_tcp_conns,
	    .tcp_idle_ms = c->tcp_idle_ms,
	    .udp_answer_max = c->udp_answer_max,
	    .udp_amplification = c->udp_amplification,
	    .udp_rate_limit = c->udp_rate_limit,
	    .udp_rate_slip = c->udp_rate_slip,
	    .udp_no_gso = !c->udp_gso,
	    .udp_rate_exempt = (const char *const *)c->udp_rate_exempt.v,
	    .n_udp_rate_exempt = c->udp_rate_exempt.n,
	    .tcp_message_ms = c->tcp_message_ms,
	    .held = true, /* until every listener and the mirror are up (server_run) */
	    .budget = budget,
	    .errbuf = r->err,
	    .errbuf_len = sizeof(r->err),
	};
	server_requests_wire(&r->requests, &nc);
	ret = net_start(&nc, &r->net);
	if (ret)
		return say(r, ret);
	if (!c->http.n && !c->https.n)
		return IDN_OK;
	r->metrics.node = r->node;
	r->metrics.store = r->store;
	r->metrics.resolver = r->requests.resolver;
	r->metrics.budget = budget;
	r->metrics.data_dir = c->data && strncmp(c->data, "postgres", 8) ? c->data : NULL;
	r->metrics.started = time(NULL);
	/* HTTP listeners first, then the HTTPS ones (api_serve_opts.ntls). */
	const char *hl[2 * SETTINGS_LIST_MAX];
	memcpy(hl, c->http.v, c->http.n * sizeof(hl[0]));
	memcpy(hl + c->http.n, c->https.v, c->https.n * sizeof(hl[0]));
	api_serve_opts ho = {
	    .listen = hl,
	    .nlisten = c->http.n + c->https.n,
	    .ntls = c->https.n,
	    .tls_cert = c->tls_cert,
	    .tls_key = c->tls_key,
	    .threads = c->threads,
	    .access_log = c->access_log,
	    .proxy_schemes = c->proxy_schemes,
	    .max_conns = c->http_max_conns,
	    .budget = budget,
	    .max_body = c->http_max_body,
	    .idle_ms = c->http_idle_ms,
	    .header_timeout_ms = c->http_timeout_ms,
	    .resolve_max = c->http_resolve_max,
	    .res = r->requests.resolver, /* a recursive node's HTTP is the public gateway */
	    .gateway_threads = c->http_gateway_threads,
	    .gateway_queue = c->http_gateway_queue,
	    .gateway_answer_max = c->http_gateway_answer_max,
	    .label_base = (const char *const *)c->label_base.v,
	    .nlabel_base = c->label_base.n,
	    .label_max = c->label_max,
	    .search_scan_max = c->search_scan_max,
	    .gs1_registry = (const char *const *)c->gs1_registry.v,
	    .ngs1_registry = c->gs1_registry.n,
	    .token_life_s = c->token_life,
	    .audit_days = c->audit_days,
	    .applications_max = c->applications_max,
	    .stats = {.stats_public = c->stats_public,
	              .metrics = c->metrics ? server_metrics_write : NULL,
	              .metrics_arg = &r->metrics,
	              .status = server_metrics_write,
	              .metrics_allow = (const char *const *)c->metrics_allow.v,
	              .nmetrics_allow = c->metrics_allow.n},
	    .errbuf = r->err,
	    .errbuf_len = sizeof(r->err),
	    .held = true,
	};
	if ((ret = api_serve_start(r->node, r->store, &ho, &r->http)))
		return say(r, ret);
	return IDN_OK;
}

static int stop_at_first(void *arg, idn_slice key, idn_slice val)
{
	return 1;
}

/*
 * A node answers only for the prefixes homed in its store: with none, no
 * --home, no recursive role and no primary to mirror, every request would
 * be answered 301 (not homed). That is a mistake, not a node: refuse, and
 * say what to add. Server administrators can still home a prefix later
 * (`idnode home`), so with some the node starts, with a warning.
 */
static int check_something_to_serve(running *r)
{
	const server_settings *c = r->cfg;
	store_txn *t;
	if (!r->store || c->home.n || c->recursive || c->mirror_of)
		return IDN_OK;
	int ret = store_txn_begin(r->store, STORE_RDONLY, &t);
	if (!ret) {
		ret = store_list_homed(t, stop_at_first, NULL);
		store_txn_abort(t);
	}
	if (ret == 1)
		return IDN_OK;
	if (ret) {
		fprintf(stderr, "%s: %s: reading the homed prefixes: %s\n", prog, c->data,
		        idn_strerror(ret));
		return ret;
	}
	if (c->server_admin.n) {
		fprintf(stderr,
		        "%s: warning: no prefix is homed in %s: every request is answered 301 (not "
		        "homed) until a server administrator homes one (idnode home PREFIX)\n",
		        prog, c->data);
		return IDN_OK;
	}
	fprintf(stderr,
	        "%s: nothing to serve: no prefix is homed in %s and no --home was given, so "
	        "every request would be answered 301 (not homed). Add --home PREFIX (or load "
	        "a dump that homes prefixes), or run as --recursive --root HOST:PORT, or as "
	        "--mirror-of HOST:PORT, or name a --server-admin INDEX:HANDLE who will home "
	        "prefixes (idnode home)\n",
	        prog, c->data);
	return IDN_ECONFIG;
}

static int start_mirror(running *r)
{
	const server_settings *c = r->cfg;
	if (!c->mirror_of)
		return IDN_OK;
	repl_mirror_opts mo = {.primary = c->mirror_of,
	                       .id = c->mirror_id,
	                       .key_file = c->mirror_key,
	                       .secret_file = c->mirror_secret_file,
	                       .page_bytes = c->mirror_page_bytes,
	                       .lag_log_s = c->mirror_lag_log,
	                       .errbuf = r->err,
	                       .errbuf_len = sizeof(r->err)};
	r->err[0] = 0;
	int ret = repl_mirror_start(r->store, &mo, &r->mirror);
	if (ret)
		return say(r, ret);
	server_metrics_mirror(&r->metrics, r->mirror);
	return IDN_OK;
}

/* "idnode: serving N identifiers from ..., on ADDR (port P) ..." */
static void print_banner(const running *r)
{
	const server_settings *c = r->cfg;
	uint64_t count = 0;
	store_txn *t;
	if (r->store && store_txn_begin(r->store, STORE_RDONLY, &t) == 0) {
		store_count(t, &count);
		store_txn_abort(t);
	}
	unsigned threads = net_threads(r->net);
	fprintf(stderr, "idnode: serving %llu identifiers from %s, %u thread%s, on",
	        (unsigned long long)count, c->data ? c->data : "(no store)", threads,
	        threads == 1 ? "" : "s");
	for (unsigned i = 0; i < c->listen.n; i++)
		fprintf(stderr, " %s (port %u)", c->listen.v[i], net_bound_port(r->net, i));
	for (unsigned i = 0; i < c->http.n; i++)
		fprintf(stderr, " http %s (port %u)", c->http.v[i], api_serve_port(r->http, i));
	for (unsigned i = 0; i < c->https.n; i++)
		fprintf(stderr, " https %s (port %u)", c->https.v[i],
		        api_serve_port(r->http, c->http.n + i));
	if (r->mirror)
		fprintf(stderr, "; mirror of %s", c->mirror_of);
	if (r->requests.resolver)
		fprintf(stderr, "; recursive from %s%s", c->root,
		        c->recursive_all || !r->store ? " (every request)" : " (REC requests)");
	fprintf(stderr, "\n");
}

/* Stops and frees whatever r holds, the last started first. */
static void stop(running *r)
{
	server_metrics_mirror(&r->metrics, NULL);
	repl_mirror_stop(r->mirror);
	api_serve_stop(r->http);
	if (r->net) {
		net_stop(r->net);
		net_wait(r->net);
	}
	server_stats_stop(&r->stats);
	server_reporter_stop(&r->reporter);
	server_flusher_stop(&r->flusher); /* the last counts, before the node goes */
	server_stats_log(r->requests.resolver);
	resolver_free(r->requests.resolver);
	server_sweeper_stop(&r->sweeper);
	node_free(r->node);
	client_identity_lookup_free(r->lookup);
	store_close(r->store);
	auth_key_free(r->key);
	net_budget_fini(&r->budget);
}

/*
 * SIGHUP: what can change while running does (reload.c); the listeners are up
 * by then. One that comes while the node starts is held: marked first, then
 * whoever of this thread and serve_held() takes the mark acts on it, so none
 * is lost between the two.
 */
static void reload(void *arg)
{
	running *r = arg;
	__atomic_store_n(&r->hup_held, true, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&r->serving, __ATOMIC_SEQ_CST)) {
		fprintf(stderr, "idnode: reload: still starting: held until the node serves\n");
		return;
	}
	if (__atomic_exchange_n(&r->hup_held, false, __ATOMIC_SEQ_CST)) {
		server_notify_reloading();
		server_reload(r->cfg, r->node, r->http);
		server_notify("READY=1");
	}
}

/* The node serves now: a SIGHUP held while it started is sent to the stats thread again. */
static void serve_held(running *r)
{
	__atomic_store_n(&r->serving, true, __ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&r->hup_held, false, __ATOMIC_SEQ_CST) && r->stats.running)
		pthread_kill(r->stats.thread, SIGHUP);
}

int server_run(server_settings *s)
{
	running *r = calloc(1, sizeof(*r));
	if (!r)
		return IDN_ENOMEM;
	r->cfg = s;
	pthread_mutex_init(&r->metrics.lock, NULL);
	/* Before any thread starts, so only the stats thread's sigwait takes SIGUSR1. */
	server_hold_signals();
	int ret = open_store(r);
	if (!ret)
		ret = make_node(r);
	if (!ret)
		ret = start_resolver(r);
	if (!ret) { /* kill -USR1: the cache (recursive nodes) and the limits' counters */
		r->stats.res = r->requests.resolver;
		r->stats.reload = reload; /* kill -HUP */
		r->stats.arg = r;
		server_stats_start(&r->stats);
	}
	/*
	 * From the first answer on (the listeners, then the banner and READY=1)
	 * SIGTERM/SIGINT wait for the signalfd in net_run_until_signal, so one
	 * sent as soon as the node answers or says it serves stops it cleanly.
	 * Left unblocked until this thread waits there, such a signal killed the
	 * node (exit -15, no STOPPING=1) whenever a loaded machine kept this
	 * thread off the CPU past the banner. Before the listeners they still
	 * end a start at once.
	 */
	sigset_t stopsig, unheld;
	sigemptyset(&stopsig);
	sigaddset(&stopsig, SIGTERM);
	sigaddset(&stopsig, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stopsig, &unheld);
	if (!ret)
		ret = start_listeners(r);
	if (!ret)
		ret = check_something_to_serve(r);
	if (!ret)
		ret = start_mirror(r);
	if (!ret) {
		/* Every address bound, nothing left to fail: the first answer. */
		net_go(r->net);
		if (r->http)
			api_serve_go(r->http);
		print_banner(r);
		server_notify("READY=1");
		serve_held(r);
		ret = net_run_until_signal(r->net);
		pthread_sigmask(SIG_SETMASK, &unheld, NULL);
		server_notify("STOPPING=1");
		r->net = NULL;                /* freed by net_run_until_signal */
		server_stats_stop(&r->stats); /* a reload in progress ends before what it uses */
		server_metrics_mirror(&r->metrics, NULL);
		repl_mirror_stop(r->mirror);
		r->mirror = NULL;
		api_serve_stop(r->http);
		r->http = NULL;
		fprintf(stderr, "idnode: stopped%s%s\n", ret ? ": " : "",
		        ret ? idn_strerror(ret) : "");
	}
	stop(r);
	free(r);
	pthread_sigmask(SIG_SETMASK, &unheld, NULL); /* a start that failed */
	return ret;
}
