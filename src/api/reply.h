/*
 * reply.h - what the routes of src/api share: the api and its worker
 * context, JSON and HTML writers over an http_resp (api_json.c), resolution
 * and admin requests through the node, query strings, errors (api_reply.c),
 * authentication of the caller (api_write.c). Not for use outside src/api.
 *
 * The layering inside api/: api.c and api_routes.c call the routes
 * (routes.h); the routes call these helpers; no helper calls a route.
 */
#ifndef IDN_API_REPLY_H
#define IDN_API_REPLY_H

#include <jansson.h>

#include "api/api.h"
#include "gs1/gs1.h"
#include "proto/proto.h"

/* A JSON string (quotes included); invalid UTF-8 bytes become U+FFFD. */
void api_json_str(http_resp *r, idn_slice s);
/* One value in the reference REST shape:
 * {"index":..,"type":..,"data":{..},"ttl":..,"timestamp":..}. */
void api_json_value(http_resp *r, const proto_value *v);
/*
 * The n encoded values (an answer's value[]) as a JSON array of
 * api_json_value. 0, or the decoding error of a damaged value (the array is
 * then cut short: the caller answers the error instead).
 */
int api_json_values(http_resp *r, idn_slice values, uint32_t n);
/* A decoded HS_SITE as the reference's "site" format. */
void api_json_site(http_resp *r, idn_slice data);
/* Text for HTML (element content and quoted attributes): & < > " ' escaped. */
void api_html(http_resp *r, idn_slice s);
/* Base64 of data into r (no quotes). */
void api_base64(http_resp *r, idn_slice data);

/*
 * Where an answer came from, for the record page: this node's own store, or
 * (on a recursive node, the public gateway) the node that answered the
 * resolver, when, and whether the answer is served past its TTL because
 * every upstream failed. All zero: this node, now.
 */
typedef struct api_source {
	char node[64];    /* "127.0.0.1:2641" of the server that answered; "" = this node */
	uint32_t fetched; /* unix seconds the answer was fetched there; 0 = now */
	bool stale;       /* served past its TTL: the node holding it did not answer */
	bool down;        /* no answer at all: the node holding it did not answer (rc 2) */
} api_source;

/*
 * A resolution's outcome. values is a raw value[] (nvalues entries) borrowed
 * from the worker's answer buffer: valid until its next resolution.
 */
typedef struct api_answer {
	uint32_t rc;
	uint32_t nvalues;
	idn_slice values;
	idn_slice message; /* error text from the node, may be empty */
	api_source src;
} api_answer;

enum {
	MAX_FILTER = 64, /* type= and index= parameters per request */
	ANS_CAP = PROTO_ENV_LEN + PROTO_MSG_MAX,
	/* api_worker.req: the largest resolution request, filters included */
	REQ_CAP = PROTO_ENV_LEN + PROTO_HDR_LEN + 4 + PROTO_HANDLE_MAX + 8 +
	          MAX_FILTER * (4 + 4 + 256) + 64,
};

/* REST sessions (api_write.c): shared by all workers, behind a mutex. */
typedef struct api_sessions api_sessions;
/* Sessions not authenticated are bounded as the node's Handle sessions are (node_session_limits).
 */
int api_sessions_new(const node *n, api_sessions **out);
void api_sessions_free(api_sessions *s);

/* Idempotency-Key results of batches (api_batch.c): shared, behind a mutex. */
typedef struct api_idem api_idem;
int api_idem_new(api_idem **out);
void api_idem_free(api_idem *d);

/* The gateway's pool (api_gateway.c): requests that would wait, run again on threads that may. */
typedef struct api_gateway api_gateway;

struct api {
	node *n; /* NULL: a gateway without a store */
	store *s;
	resolver *res; /* NULL: not a recursive node */
	api_gateway *gw;
	api_sessions *sessions;
	/* URL schemes the proxy redirects to besides http and https (--proxy-schemes) */
	char schemes[API_SCHEMES_MAX][API_SCHEME_MAX + 1];
	unsigned nschemes;
	api_idem *idem;
	unsigned resolve_max; /* identifiers per POST /api/resolve */
	char **label_base;    /* QR labels' base URLs, each ending in '/' (api_labels.c) */
	unsigned nlabel_base;
	unsigned label_max;       /* identifiers per POST /api/labels */
	unsigned search_scan_max; /* index entries a search visits (0: SEARCH_SCAN_DEFAULT) */

	/* bytes of an answer a gateway thread builds whole (api_gateway.c) */
	size_t gateway_answer_max;
	char **gs1_registry; /* records of GS1.RULE values (api_gs1_rules.c); none: no GS1 */
	unsigned ngs1_registry;
	/* management accounts (api_account.c): token lifetime, audit retention (0: forever) */
	uint32_t token_life_s;
	uint32_t audit_days;
	uint32_t applications_max; /* pending enterprise applications */
	struct api_stats *stats;   /* GET /api/stats and /metrics (api_stats.c) */
};

/* Checks and keeps o (the networks /metrics answers); frees them. */
int api_stats_setup(api *a, const api_stats_opts *o, char *err, size_t errlen);
void api_stats_free(api *a);

/* One HTTP worker thread's context. */
typedef struct api_worker {
	api *a;
	node_worker *nw;
	uint8_t *req;  /* small requests (resolution), REQ_CAP bytes */
	uint8_t *ans;  /* the node's answer, ANS_CAP bytes */
	uint8_t *wreq; /* admin requests, ANS_CAP bytes */
	uint32_t next_id;
	char hdrs[512]; /* extra headers of the answer being built (Retry-After, Warning) */
	/*
	 * A gateway thread's worker: resolver lookups wait for the network.
	 * Else (an HTTP worker) a lookup the cache cannot answer is IDN_EAGAIN,
	 * and api_handle hands the request to the gateway's threads.
	 */
	bool wait;
	bool probe; /* cache-only lookups counted nowhere: a check before the real ones */
	struct api_gs1_cache *gs1; /* the GS1 rules last read (api_gs1_rules.c), owned */
} api_worker;

/*
 * Runs the Handle request buf[0..len) through the node (a negative len is
 * passed through as the error) and decodes the answer into m, the request
 * digest split off; m borrows w->ans until the next exchange.
 */
int api_exchange(api_worker *w, const uint8_t *buf, int len, proto_msg *m);

/* Query strings: fn is called per name=value (raw); a non-zero return stops. */
int api_query_each(idn_slice q, int (*fn)(void *arg, idn_slice name, idn_slice value), void *arg);
bool api_name_is(idn_slice s, const char *name);
/* A parameter's number 0 .. 999999999, or -2 when it is not one. */
long api_small_num(idn_slice v);
/* A boolean parameter: present alone, or true/1/yes. */
bool api_truthy(idn_slice v);
/* The request body as JSON (the caller json_decref()s it); NULL with the 400 answer written. */
json_t *api_json_body(const http_req *req, http_resp *r);
/* {"responseCode":rc,"handle":h,"message":m} with the mapped HTTP status. */
void api_handle_error(http_resp *r, uint32_t rc, idn_slice handle, idn_slice msg);
/*
 * As api_handle_error() for a resolution's answer: a node that did not
 * answer (src.down) is 504 naming it.
 */
void api_answer_error(http_resp *r, const api_answer *ans, idn_slice handle);
/*
 * The headers of an answer that came through the gateway, into w->hdrs
 * (r->extra_headers, after any already there): a stale one says so
 * (Warning: 110, Age), others their Age. Nothing for this node's own answers.
 */
void api_source_headers(api_worker *w, const api_source *src, http_resp *r);

/* The gateway's pool (api_gateway.c). */
int api_gateway_new(api *a, unsigned threads, unsigned queue_max, api_gateway **out);
/*
 * Stops the threads (once; waits for those answering); queued requests
 * are answered 503, as are any deferred after it.
 */
void api_gateway_stop(api_gateway *g);
void api_gateway_free(api_gateway *g); /* stops it first */
/*
 * Hands req to the pool (copied) and defers r: a thread runs the route
 * again with w->wait set and answers it. Over the queue: 503 in r.
 */
int api_gateway_defer(api_gateway *g, const http_req *req, http_resp *r);
/* The route table without the gateway's hand-off (api_routes.c): what a gateway thread runs. */
int api_route(api_worker *w, const http_req *req, http_resp *r);

/* An identity that proved who it is: index:handle. */
typedef struct ident {
	uint8_t handle[PROTO_HANDLE_MAX];
	uint32_t hlen;
	uint32_t index;
} ident;

/*
 * The caller's identity from Authorization (Basic or Handle): 1 and *id,
 * else <= 0 with the 401 answer written.
 */
int api_need_auth(api_worker *w, const http_req *req, http_resp *r, ident *id);
/* As api_need_auth, the header optional: 0 without one (anonymous), 1, or -1 answered. */
int api_auth_optional(api_worker *w, const http_req *req, http_resp *r, ident *id);
/* Admin requests: begin one of op in w->wreq, write its body through b->w, run it as id. */
void api_admin_begin(api_worker *w, proto_build *b, uint32_t op, uint32_t flags);
int api_admin_run(api_worker *w, proto_build *b, const ident *id, proto_msg *m);
/* A non-success admin answer as the reference's JSON error. */
void api_admin_error(http_resp *r, const proto_msg *m, idn_slice h);
/*
 * One value in the reference's JSON shape, encoded into w; NULL on success,
 * else what is wrong (static text or err). *index = its index.
 */
const char *api_value_from_json(json_t *jv, wire_wr *w, uint32_t *index, char *err, size_t errlen);

/*
 * A resolution request (op, handle, filters) in w->req, as the node takes
 * it; returns its length, or < 0 if it does not fit.
 */
int api_build_request(api_worker *w, uint32_t op, idn_slice handle, const uint32_t *idx,
                      uint32_t nidx, const idn_slice *types, uint32_t ntypes, bool public_only);
/*
 * Resolves handle (optionally filtered) through node_answer(); on a
 * recursive node what is not homed here (301/303), or everything without a
 * node, through the resolver (ans->src says where from). IDN_EAGAIN: not
 * cached, and this worker may not wait (w->wait false): the caller gives
 * up, and the request is run again where it may.
 */
int api_resolve(api_worker *w, idn_slice handle, const uint32_t *idx, uint32_t nidx,
                const idn_slice *types, uint32_t ntypes, bool public_only, api_answer *ans);
/* Through this node's store only, never the resolver: what a write reads. */
int api_resolve_here(api_worker *w, idn_slice handle, api_answer *ans);

/*
 * Sets a's QR label bases to copies of base[0..n) (each checked, given a
 * final '/'), freeing those it had; (NULL, 0) frees them. IDN_ECONFIG when
 * one is not a base URL (label.h label_base_check), IDN_ENOMEM.
 */
int api_label_bases(api *a, const char *const *base, unsigned n);

/*
 * GS1 Digital Link (api_gs1_rules.c). Sets a's GS1 registries to copies of
 * reg[0..n) (each a handle); (NULL, 0) frees them. IDN_EINVAL when one is
 * not PREFIX/SUFFIX, IDN_ENOMEM.
 */
int api_gs1_registries(api *a, const char *const *reg, unsigned n);
enum { API_GS1_RULES_MAX = 64 };
/*
 * A rule "GCP KEY search:PREFIX" maps a key by the search index instead of a
 * template: the identifier under PREFIX holding a public value of type GS1
 * (API_GS1_VALUE_TYPE) whose data is the key's path ("/01/09520123456788",
 * "/01/09520123456788/21/A1": the canonical URI without its host).
 */
#define API_GS1_SEARCH     "search:"
#define API_GS1_VALUE_TYPE "GS1"
bool api_gs1_rule_is_search(const gs1_rule *r);
/*
 * A rule "GCP KEY handledBy:URL" says another resolver handles the keys of
 * the company prefix (gs1:handledBy): every request for them is redirected
 * there, the request's path and query appended to URL, without resolving
 * anything here; a linkset lists it. NULL, or the URL (the rule's).
 */
#define API_GS1_HANDLED_BY "handledBy:"
const char *api_gs1_rule_handled_by(const gs1_rule *r);
typedef struct api_gs1_rules {
	gs1_rule r[API_GS1_RULES_MAX];
	int n;
} api_gs1_rules;
/*
 * The rules of the registries' GS1.RULE values (a value the rules cannot
 * use is skipped and logged once), in *out until w's next call (parsed
 * again only when the registries' values change). 0, IDN_EAGAIN (not
 * cached: run again where it may wait), or another error.
 */
int api_gs1_rules_get(api_worker *w, const api_gs1_rules **out);
void api_gs1_cache_free(api_worker *w);
/* The worker's scratch space for one GS1 request (size bytes, the same every
 * call, zeroed at first, then as the last request left it), allocated once
 * and freed with the rules; NULL when out of memory. */
void *api_gs1_scratch(api_worker *w, size_t size);
/*
 * One GS1.RULE value's data: "GCP TEMPLATE" or "GCP KEY TEMPLATE" (the key
 * AI defaults to the template's first placeholder that is a primary key).
 * 0, or -1 with err.
 */
int api_gs1_rule_parse(idn_slice data, gs1_rule *r, char *err, size_t errlen);
/*
 * The GS1 Digital Link URI of handle under base (an absolute base URL,
 * a final '/' dropped), by the first rule whose template it matches:
 * 0, IDN_EAGAIN, or -1 with err saying why (no rule matches, a value is
 * not valid for its AI, too long).
 */
int api_gs1_uri_of(api_worker *w, idn_slice handle, const char *base, char *out, size_t cap,
                   char *err, size_t errlen);

/* Percent-decoding ('+' as space when form is set); returns the length or -1 if malformed. */
int api_pct_decode(idn_slice in, bool form, uint8_t *out, size_t cap);

/* 1 if the query has parameter name (with or without a value). */
int api_query_has(idn_slice query, const char *name);

#endif
