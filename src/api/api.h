/*
 * api.h - what idnode answers over HTTP: the reference-compatible REST API
 * (/api/handles, /api/site, /api/prefixes), batch resolution (/api/resolve),
 * the Handle protocol over HTTP (POST application/x-hdl-message) and the
 * proxy (GET /{handle}: a redirect, or a record page for people).
 *
 * Every read is a Handle request handed to node_answer() (transport HTTP), so
 * the REST answers say exactly what the binary protocol says: the same
 * homing, refusals, referrals and public-read filtering. Every write (PUT /
 * DELETE /api/handles, list, /api/batch) is a Handle admin request run by the
 * node as the identity authenticated over HTTP (sessions signed with an
 * HS_PUBKEY, or Basic with an HS_SECKEY secret), so the node's rights checks
 * decide. The api and `serve`'s HTTP side live in api.c; the routes in one
 * table in api_routes.c (routes.h), with the helpers they share in
 * api_reply.c (reply.h); the JSON value shapes in api_json.c; the HTML
 * record page in api_page.c (its HTML in api_render.c); sessions and writes in api_write.c; batches
 * and Idempotency-Key in api_batch.c; the OpenAPI document (src/api/openapi.json, embedded) in
 * api_openapi.c. The HTTP server itself is net's (net/http.h).
 *
 * Sessions and idempotency results live in the api (shared by the workers,
 * behind mutexes, bounded in count and bytes, expiring).
 *
 * Ownership: an api borrows the node and the store (both must outlive it).
 * A worker context (api_worker_init) belongs to one HTTP worker thread.
 */
#ifndef IDN_API_API_H
#define IDN_API_API_H

#include <stdbool.h>

#include "net/http.h"
#include "node/node.h"
#include "resolver/resolver.h"
#include "store/store.h"

/*
 * The public gateway: with a resolver (a recursive node), every read
 * (REST, /api/resolve, Handle over HTTP, the proxy and its page) resolves
 * what the node does not hold itself (answered 301/303, or every identifier
 * when there is no node) through the resolver's cache, as UDP/TCP do. A
 * read that would wait for the network is not run on the HTTP worker: it
 * is queued (at most gateway_queue, beyond: 503) to gateway_threads threads
 * that run it again, blocking, and answer it through http_defer/http_answer
 * (api_gateway.c).
 */
typedef struct api_config {
	node *n;                  /* NULL: no store (a gateway only; routes that need one say so) */
	store *s;                 /* NULL with n */
	resolver *res;            /* borrowed, optional */
	unsigned resolve_max;     /* identifiers per POST /api/resolve; 0 = API_RESOLVE_MAX */
	unsigned gateway_threads; /* 0 = API_GATEWAY_THREADS */
	unsigned gateway_queue;   /* 0 = API_GATEWAY_QUEUE */
	/* bytes of an answer a gateway thread builds whole (a streamed body drained
	 * for http_answer); 0 = API_GATEWAY_ANSWER_MAX */
	size_t gateway_answer_max;
	/* QR labels: the base URLs they may point under (the first by default; none:
	 * from the request's Host), and identifiers per POST /api/labels (0 = API_LABEL_MAX). */
	const char *const *label_base;
	unsigned nlabel_base;
	unsigned label_max;
	unsigned search_scan_max; /* index entries a search visits; 0 = SEARCH_SCAN_DEFAULT */
	/* GS1 Digital Link: the records holding the GS1.RULE values; none: not served */
	const char *const *gs1_registry;
	unsigned ngs1_registry;
	/* management accounts (api_account.c): token lifetime (0 = 86400 s), audit
	 * retention in days (0: forever), pending applications (0 = 1000) */
	unsigned token_life_s, audit_days, applications_max;
} api_config;

enum {
	API_RESOLVE_MAX = 1000,
	API_GATEWAY_THREADS = 16,
	API_GATEWAY_QUEUE = 1024,
	API_LABEL_MAX = 1000,
	API_GATEWAY_ANSWER_MAX = 16 << 20
};

typedef struct api api;

int api_new(const api_config *cfg, api **out);
void api_free(api *a);

/* For http_config: arg = the api. */
void *api_worker_init(void *arg, unsigned idx);
void api_worker_fini(void *wctx);
int api_handle(void *wctx, const http_req *req, http_resp *resp);

/*
 * The whole HTTP side of `idnode serve`: an api plus an http server on the
 * given listeners. access_log: a file appended to, "-" = stderr, NULL = none.
 */
/*
 * Statistics over HTTP (api_stats.c, docs/statistics.md): GET /api/stats
 * (node admins only unless public) and GET /metrics, served when metrics is
 * set, to the networks of metrics_allow only ("ADDR" or "ADDR/BITS"; none:
 * loopback, 127.0.0.0/8 and ::1).
 */
typedef struct api_stats_opts {
	bool stats_public; /* GET /api/stats without authentication */
	void (*metrics)(void *arg,
	                http_resp *r); /* writes the exposition text; NULL: no /metrics */
	void *metrics_arg;
	void (*status)(void *arg, http_resp *r); /* the same text for the console's health page */
	const char *const *metrics_allow;
	unsigned nmetrics_allow;
} api_stats_opts;

typedef struct api_serve_opts {
	const char **listen;
	unsigned nlisten;
	/* HTTPS: the last ntls of listen[] speak TLS (PEM certificate chain and key) */
	unsigned ntls;
	const char *tls_cert, *tls_key;
	unsigned threads; /* 0 = the http default */
	const char *access_log;
	const char *proxy_schemes; /* "ftp,sftp": more URL schemes the proxy redirects to */
	/* limits, 0 = the http defaults (see http.h) */
	unsigned max_conns;
	net_conn_budget *budget; /* optional: shared with the Handle listeners (net/net.h) */
	size_t max_body;
	unsigned idle_ms;
	unsigned header_timeout_ms; /* the body gets three times as long */
	unsigned resolve_max;       /* identifiers per POST /api/resolve; 0 = API_RESOLVE_MAX */
	resolver *res;              /* a recursive node's: the gateway (api_config) */
	unsigned gateway_threads, gateway_queue;
	size_t gateway_answer_max;
	char *errbuf; /* what went wrong, naming the address or file */
	size_t errbuf_len;
	bool held; /* nothing served until api_serve_go() (net/http.h) */

	/* QR labels: as api_config's */
	const char *const *label_base;
	unsigned nlabel_base, label_max;
	unsigned search_scan_max; /* as api_config's */
	/* GS1 Digital Link: the records holding the GS1.RULE values (docs/gs1-resolver.md) */
	const char *const *gs1_registry;
	unsigned ngs1_registry;
	unsigned token_life_s, audit_days, applications_max; /* as api_config's */
	api_stats_opts stats;                                /* GET /api/stats, GET /metrics */
} api_serve_opts;

typedef struct api_server api_server;

int api_serve_start(node *n, store *s, const api_serve_opts *o, api_server **out);
unsigned api_serve_port(const api_server *hs, unsigned idx);
/* The HTTPS certificate and key again (SIGHUP; http_tls_reload): 0, or why in err. */
int api_serve_reload_tls(api_server *hs, const char *cert, const char *key, char *err,
                         size_t errlen);
/* A held server (api_serve_opts.held) begins to serve. */
void api_serve_go(api_server *hs);
/* Stops the workers, waits for them, frees hs (NULL is fine). */
void api_serve_stop(api_server *hs);

/* The HTTP status the reference REST API gives a Handle response code. */
int api_http_status(uint32_t rc);

enum { API_SCHEMES_MAX = 16, API_SCHEME_MAX = 32 };

/*
 * Checks a --proxy-schemes list (comma-separated, RFC 3986 scheme syntax, at
 * most API_SCHEMES_MAX of at most API_SCHEME_MAX bytes; javascript, data,
 * vbscript and file are never allowed): 0, or IDN_EINVAL with err saying
 * which scheme and why. With out, the schemes are copied there (lower case)
 * and *n is their number (api_page.c).
 */
int api_proxy_schemes_parse(const char *list, char (*out)[API_SCHEME_MAX + 1], unsigned *n,
                            char *err, size_t errlen);

#endif
