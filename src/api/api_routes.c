/*
 * api_routes.c - the route table (api_handle), and the JSON routes that need
 * no file of their own: /api/handles/{handle}, /api/resolve, /api/site,
 * /api/prefixes, and Handle messages over HTTP.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api_account.h"
#include "api/reply.h"
#include "api/routes.h"
#include "api/snms.h"
#include "core/err.h"
#include "core/limit.h"
#include "node/stats.h"
#include "proto/admin.h"

enum {
	TYPE_MAX = 256,
};

/* The filters of GET /api/handles/{handle}. */
typedef struct filters {
	uint32_t idx[MAX_FILTER];
	uint32_t nidx;
	idn_slice types[MAX_FILTER];
	uint8_t tbuf[MAX_FILTER][TYPE_MAX];
	uint32_t ntypes;
	bool public_only;
	char err[200];
} filters;

static int filter_cb(void *arg, idn_slice name, idn_slice value)
{
	filters *f = arg;
	if (api_name_is(name, "index")) {
		uint8_t d[16];
		int n = api_pct_decode(value, true, d, sizeof(d) - 1);
		char *end;
		if (n <= 0 || d[0] == '-')
			goto bad_index;
		d[n] = 0;
		unsigned long x = strtoul((char *)d, &end, 10);
		if (*end || x > 0x7FFFFFFF)
			goto bad_index;
		if (f->nidx == MAX_FILTER) {
			snprintf(f->err, sizeof(f->err), "at most %d index parameters", MAX_FILTER);
			return 1;
		}
		f->idx[f->nidx++] = (uint32_t)x;
	} else if (api_name_is(name, "type")) {
		if (f->ntypes == MAX_FILTER) {
			snprintf(f->err, sizeof(f->err), "at most %d type parameters", MAX_FILTER);
			return 1;
		}
		int n = api_pct_decode(value, true, f->tbuf[f->ntypes], TYPE_MAX);
		if (n <= 0) {
			snprintf(f->err, sizeof(f->err),
			         "type: empty, malformed or longer than %d bytes", TYPE_MAX);
			return 1;
		}
		f->types[f->ntypes] = idn_slice_of(f->tbuf[f->ntypes], (size_t)n);
		f->ntypes++;
	} else if (api_name_is(name, "publicOnly")) {
		f->public_only = api_truthy(value);
	}
	return 0;
bad_index:
	snprintf(f->err, sizeof(f->err), "index: '%.*s' is not a number 0..2147483647",
	         value.len > 32 ? 32 : (int)value.len, (const char *)value.p);
	return 1;
}

/* ---- routes ---- */

typedef int (*route_fn)(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);

/*
 * The unfiltered GET of a record this node holds whole and public: its JSON
 * written from the stored values (node_resolve_plain), no Handle answer built
 * and decoded in between, into the buffer the connection sends from. 1 answered, 0 not (the general
 * path answers), or a negative idn_err for a damaged record, as the general path would give.
 */
static int get_plain(api_worker *w, idn_slice h, http_resp *r)
{
	if (!w->nw)
		return 0;
	int own = node_worker_read(w->nw);
	if (own < 0)
		return 0; /* the general path answers the store's failure */
	idn_slice values;
	uint32_t n;
	int ret = node_resolve_plain(w->nw, h, &values, &n);
	if (ret == 1) {
		http_resp_head_room(r); /* written where it is sent from: no copy after */
		http_resp_puts(r, "{\"responseCode\":1,\"handle\":");
		api_json_str(r, h);
		http_resp_puts(r, ",\"values\":");
		int err = api_json_values(r, values, n);
		http_resp_puts(r, "}");
		if (err)
			ret = err;
	}
	if (own)
		node_worker_end(w->nw);
	return ret;
}

static int get_handle(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	uint8_t hbuf[PROTO_HANDLE_MAX + 1];
	int hn = api_pct_decode(rest, false, hbuf, sizeof(hbuf));
	if (hn <= 0) {
		http_resp_error(r, 400, PROTO_RC_INVALID_HANDLE,
		                hn == 0 ? "no identifier in the path: /api/handles/PREFIX/SUFFIX"
		                        : "identifier malformed (bad %-escape) or too long");
		return 0;
	}
	idn_slice h = idn_slice_of(hbuf, (size_t)hn);
	/* This thread's, reused: its 16 KB of type buffers are not cleared per request. */
	static _Thread_local filters tf;
	filters *f = &tf;
	f->nidx = f->ntypes = 0;
	f->public_only = false;
	f->err[0] = 0;
	int ret = 0;
	if (api_query_each(req->query, filter_cb, f)) {
		api_handle_error(r, PROTO_RC_INVALID_VALUE, h,
		                 idn_slice_of(f->err, strlen(f->err)));
		goto out;
	}
	if (!f->nidx && !f->ntypes && (ret = get_plain(w, h, r)) != 0) {
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	api_answer ans;
	if ((ret = api_resolve(w, h, f->idx, f->nidx, f->types, f->ntypes, f->public_only, &ans)))
		goto out;
	if (ans.rc != PROTO_RC_SUCCESS) {
		api_answer_error(r, &ans, h);
		goto out;
	}
	r->status = 200;
	api_source_headers(w, &ans.src, r);
	http_resp_puts(r, "{\"responseCode\":1,\"handle\":");
	api_json_str(r, h);
	http_resp_puts(r, ",\"values\":");
	ret = api_json_values(r, ans.values, ans.nvalues);
	http_resp_puts(r, "}");
out:
	return ret;
}

/* One result of POST /api/resolve: {"handle":..,"responseCode":..,"values"|"message":..}. */
static void resolve_item(api_worker *w, json_t *s, http_resp *r)
{
	idn_slice h = idn_slice_of(json_string_value(s), json_string_length(s));
	api_answer ans;
	int ret = api_resolve(w, h, NULL, 0, NULL, 0, false, &ans);
	if (ret == IDN_EAGAIN) /* cached when the request came, expired since: rare */
		ans = (api_answer){.rc = PROTO_RC_SERVER_BUSY,
		                   .message = idn_slice_of("not cached any more: ask again", 30)};
	else if (ret < 0) {
		const char *why = idn_strerror(ret);
		ans = (api_answer){.rc = PROTO_RC_ERROR, .message = idn_slice_of(why, strlen(why))};
	}
	http_resp_puts(r, "{\"handle\":");
	api_json_str(r, h);
	http_resp_printf(r, ",\"responseCode\":%u", ans.rc);
	if (ans.rc == PROTO_RC_SUCCESS) {
		http_resp_puts(r, ",\"values\":");
		api_json_values(r, ans.values, ans.nvalues);
	} else {
		const char *name = proto_rc_name(ans.rc);
		http_resp_puts(r, ",\"message\":");
		api_json_str(r, ans.message.len ? ans.message : idn_slice_of(name, strlen(name)));
	}
	http_resp_puts(r, "}");
}

/* A POST /api/resolve answer being streamed: one identifier per part. */
typedef struct resolve_stream {
	api_worker *w;
	json_t *doc, *hs;
	size_t i, n;
} resolve_stream;

static int resolve_next(void *arg, http_resp *part)
{
	resolve_stream *rs = arg;
	if (rs->i < rs->n) {
		if (rs->i)
			http_resp_puts(part, ",");
		resolve_item(rs->w, json_array_get(rs->hs, rs->i), part);
		rs->i++;
	}
	if (rs->i < rs->n)
		return 1;
	http_resp_puts(part, "]}");
	return 0;
}

static void resolve_done(void *arg)
{
	resolve_stream *rs = arg;
	json_decref(rs->doc);
	free(rs);
}

/*
 * POST /api/resolve {"handles":[...]} -> {"results":[...]} in request order,
 * streamed: each identifier is resolved as the client takes the answer, so
 * a batch of large records costs one record's answer, not the batch's.
 */
static int post_resolve(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	json_t *doc = api_json_body(req, r);
	if (!doc)
		return 0;
	json_t *hs = json_is_object(doc) ? json_object_get(doc, "handles") : NULL;
	if (!json_is_array(hs)) {
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR,
		                "expected an object {\"handles\":[\"PREFIX/SUFFIX\", ...]}");
		goto out;
	}
	size_t n = json_array_size(hs);
	if (n > w->a->resolve_max) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "at most %u identifiers per request (http-resolve-max), got %zu",
		         w->a->resolve_max, n);
		limit_hit(LIM_ANSWER_STREAM, "POST /api/resolve of %zu identifiers refused", n);
		http_resp_error(r, 413, PROTO_RC_PROTOCOL_ERROR, msg);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!json_is_string(json_array_get(hs, i))) {
			char msg[96];
			snprintf(msg, sizeof(msg), "handles[%zu]: expected a string", i);
			http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR, msg);
			goto out;
		}
	}
	/*
	 * An HTTP worker of a gateway answers here only what is cached: any
	 * identifier that is not goes to the gateway's threads (the whole
	 * request, api_gateway.c).
	 */
	int miss = 0;
	w->probe = true; /* the lookups that count are the stream's */
	for (size_t i = 0; w->a->res && !w->wait && !miss && i < n; i++) {
		json_t *s = json_array_get(hs, i);
		api_answer ans;
		miss = api_resolve(w, idn_slice_of(json_string_value(s), json_string_length(s)),
		                   NULL, 0, NULL, 0, false, &ans) == IDN_EAGAIN;
	}
	w->probe = false;
	if (miss) {
		json_decref(doc);
		return IDN_EAGAIN;
	}
	resolve_stream *rs = malloc(sizeof(*rs));
	if (!rs) {
		json_decref(doc);
		return IDN_ENOMEM;
	}
	*rs = (resolve_stream){.w = w, .doc = doc, .hs = hs, .n = n};
	http_resp_puts(r, "{\"results\":[");
	http_resp_stream(r, resolve_next, resolve_done, rs);
	return 0;
out:
	json_decref(doc);
	return 0;
}

static int get_site(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)req;
	(void)rest;
	proto_msg m;
	int ret = api_exchange(w, w->req,
	                       api_build_request(w, PROTO_OP_GET_SITE_INFO, idn_slice_of("", 0),
	                                         NULL, 0, NULL, 0, false),
	                       &m);
	if (ret)
		return ret;
	if (m.hdr.rcode != PROTO_RC_SUCCESS) {
		idn_slice msg = {0};
		proto_error_decode(m.body, &msg);
		api_handle_error(r, m.hdr.rcode, idn_slice_of("", 0), msg);
		return 0;
	}
	http_resp_puts(r, "{\"responseCode\":1,\"site\":");
	api_json_site(r, m.body);
	http_resp_puts(r, "}");
	return 0;
}

struct prefix_ctx {
	http_resp *r;
	int n;
};

static int prefix_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	struct prefix_ctx *c = arg;
	http_resp_puts(c->r, c->n++ ? "," : "");
	api_json_str(c->r, key);
	return 0;
}

static int get_prefixes(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)req;
	(void)rest;
	store_txn *t;
	int ret = store_txn_begin(w->a->s, STORE_RDONLY, &t);
	if (ret)
		return ret;
	struct prefix_ctx c = {r, 0};
	http_resp_puts(r, "{\"responseCode\":1,\"prefixes\":[");
	ret = store_list_homed(t, prefix_cb, &c);
	store_txn_abort(t);
	http_resp_puts(r, "]}");
	return ret;
}

/* Handle over HTTP answered later: http_defer / http_answer behind node_later. */
typedef struct hdl_later {
	http_resp *r;
	bool deferred;
} hdl_later;

static void *hdl_defer(void *arg)
{
	hdl_later *hl = arg;
	http_later *l = http_defer(hl->r);
	hl->deferred = l != NULL;
	return l;
}

static const char hdl_unanswered[] = "not a Handle request this node can answer";

static void hdl_answer(void *token, const uint8_t *ans, size_t len)
{
	if (len) {
		http_answer(token, 200, "application/x-hdl-message", NULL, ans, len);
		return;
	}
	/* The same error as an answer given at once (post_hdl). */
	http_resp e = {0};
	http_resp_error(&e, 400, PROTO_RC_PROTOCOL_ERROR, hdl_unanswered);
	http_answer(token, e.oom ? 500 : e.status, e.content_type, NULL, e.body, e.len);
	free(e.body);
}

/*
 * A Handle resolution posted to a gateway, for what the node does not hold
 * (or all, without one): the resolver answers from its cache at once, or
 * later from its pool through http_defer (hdl_answer); 0 when deferred.
 */
static int hdl_resolve(api_worker *w, const http_req *req, http_resp *r)
{
	hdl_later hl = {r, false};
	resolver_req rq = {.peer = req->peer,
	                   .peer_len = req->peer_len,
	                   .msg = req->body.p,
	                   .len = req->body.len,
	                   .defer = hdl_defer,
	                   .defer_arg = &hl,
	                   .answer = hdl_answer};
	return resolver_answer(w->a->res, &rq, w->ans, ANS_CAP);
}

/*
 * POST application/x-hdl-message: the body is envelope + message.
 * A challenge answer whose identity lives on another node is answered
 * later (node_answer_deferrable), so this worker serves others meanwhile;
 * where it cannot be deferred, node_answer waits for the lookup.
 */
static int post_hdl(api_worker *w, const http_req *req, http_resp *r)
{
	if (req->body.len < PROTO_ENV_LEN || req->body.len > PROTO_ENV_LEN + PROTO_MSG_MAX) {
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR,
		                "body must be a Handle envelope and message");
		return 0;
	}
	hdl_later hl = {r, false};
	int n = 0;
	bool res = w->a->res && resolver_wants(w->a->res, req->body.p, req->body.len);
	if (w->nw) {
		n = node_answer_deferrable(w->nw, NODE_HTTP, req->body.p, req->body.len, w->ans,
		                           ANS_CAP, &(node_later){hdl_defer, &hl, hdl_answer});
		if (hl.deferred)
			return 0; /* hdl_answer answers */
		/* As over UDP/TCP (server/requests.c): only what is not homed here goes on. */
		uint32_t rc = node_worker_rcode(w->nw);
		res = res && n > 0 &&
		      (rc == PROTO_RC_SERVER_NOT_RESP || rc == PROTO_RC_PREFIX_REFERRAL);
	} else if (!w->a->res) {
		n = IDN_ENOTSUP;
	}
	if (res || (!w->nw && w->a->res)) {
		n = hdl_resolve(w, req, r);
		if (n == 0)
			return 0; /* answered later (hdl_answer) */
	}
	if (n <= 0) {
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR,
		                n == 0 ? hdl_unanswered : idn_strerror(n));
		return 0;
	}
	r->content_type = "application/x-hdl-message";
	http_resp_append(r, w->ans, (size_t)n);
	return 0;
}

static const struct route {
	const char *method;
	const char *path;
	bool prefix; /* path is a prefix; the rest goes to the route */
	route_fn fn;
	bool store; /* needs this node's store: a gateway without one refuses it */
} routes[] = {
    {"GET", "/api/handles/", true, get_handle, false},
    {"PUT", "/api/handles/", true, api_put_handle, true},
    {"DELETE", "/api/handles/", true, api_delete_handle, true},
    {"GET", "/api/handles", false, api_list_handles, true},
    {"POST", "/api/sessions", false, api_post_session, true},
    {"GET", "/api/sessions/", true, api_session_this, true},
    {"PUT", "/api/sessions/", true, api_session_this, true},
    {"DELETE", "/api/sessions/", true, api_session_this, true},
    {"POST", "/api/batch", false, api_post_batch, true},
    {"GET", "/api/openapi.json", false, api_get_openapi, false},
    {"POST", "/api/resolve", false, post_resolve, false},
    {"GET", "/api/site", false, get_site, true},
    {"GET", "/api/prefixes", false, get_prefixes, true},
    {"GET", "/api/quotas/", true, api_quota, true},
    {"PUT", "/api/quotas/", true, api_quota, true},
    {"DELETE", "/api/quotas/", true, api_quota, true},
    {"GET", "/api/labels/", true, api_get_label, false},
    {"POST", "/api/labels", false, api_post_labels, false},
    {"GET", "/api/search", false, api_search, true},
    {"GET", "/hrls/handles", false, api_hrls_handles, true},
    {"GET", "/hrls/handles/", true, api_hrls_handles, true},
    {"GET", "/hrls/ping", false, api_hrls_ping, true},
    /* The SNMS management API (api_snms*.c, docs/secondary-node.md). */
    {"GET", "/identityv2/data/detail", false, snms_detail, true},
    {"GET", "/identityv2/data/search", false, snms_search, true},
    {"POST", "/identityv2/data", false, snms_data, true},
    {"PUT", "/identityv2/data", false, snms_data, true},
    {"DELETE", "/identityv2/data", false, snms_data, true},
    {"POST", "/identityv2/data/batchCreate", false, snms_batch, true},
    {"PUT", "/identityv2/data/batchUpdate", false, snms_batch, true},
    {"DELETE", "/identityv2/data/batchDelete", false, snms_batch, true},
    {"GET", "/snms/api/v5/template", false, snms_template, true},
    {"POST", "/snms/api/v5/template", false, snms_template, true},
    {"PUT", "/snms/api/v5/template", false, snms_template, true},
    {"DELETE", "/snms/api/v5/template", false, snms_template, true},
    {"POST", "/snms/api/ent/config", false, snms_ent_config, true},
    {"GET", "/snms/api/prefix/query", false, snms_prefix_list, true},
    {"GET", "/snms/api/prefix/page", false, snms_prefix_list, true},
    {"POST", "/identity/token", false, api_identity_token, true},
    {"POST", "/identity/token/v1", false, api_identity_token_v1, true},
    {"POST", "/snms/api/idn/apply", false, api_snms_apply, true},
    {"GET", "/snms/api/idn/applications", false, api_snms_applications, true},
    {"POST", "/snms/api/idn/applications/", true, api_snms_applications, true},
    {"GET", "/snms/api/idn/audit", false, api_snms_audit, true},
    {"GET", "/api/stats", false, api_get_stats, true},
    {"POST", "/api/stats/report", false, api_post_stats_report, true},
    {"GET", "/metrics", false, api_get_metrics, false},
    {"GET", "/console", false, api_console, false},
    {"GET", "/console/", true, api_console, false},
    {"GET", "/api/console/me", false, api_console_me, true},
    {"GET", "/api/console/health", false, api_console_health, true},
};

int api_route_at(size_t i, const char **method, const char **path, bool *prefix)
{
	if (i >= sizeof(routes) / sizeof(routes[0]))
		return 0;
	*method = routes[i].method;
	*path = routes[i].path;
	*prefix = routes[i].prefix;
	return 1;
}

static bool is_hdl(const http_req *req)
{
	idn_slice ct;
	static const char want[] = "application/x-hdl-message";
	return http_req_header(req, "content-type", &ct) && ct.len >= sizeof(want) - 1 &&
	       !strncasecmp((const char *)ct.p, want, sizeof(want) - 1);
}

static int handle(api_worker *w, const http_req *req, http_resp *r);

/* Each request timed for the HTTP latency histogram (node/stats.h). */
int api_handle(void *wctx, const http_req *req, http_resp *r)
{
	api_worker *w = wctx;
	if (!w->nw || !node_worker_counts(w->nw))
		return handle(w, req, r);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ret = handle(w, req, r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	node_worker_observe(
	    w->nw, NODE_HTTP, 1,
	    (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec)));
	return ret;
}

static int handle(api_worker *w, const http_req *req, http_resp *r)
{
	int ret = api_route(w, req, r);
	if (ret != IDN_EAGAIN)
		return ret;
	/* A gateway's read that would wait: run again, and answered, by the gateway's threads. */
	r->status = 200;
	r->content_type = "application/json";
	r->len = 0;
	r->location[0] = 0;
	r->extra_headers = NULL;
	if ((ret = api_gateway_defer(w->a->gw, req, r)) != IDN_EAGAIN)
		return ret;
	w->wait = true; /* cannot be answered later here (http_feed): wait */
	ret = api_route(w, req, r);
	w->wait = false;
	return ret;
}

int api_route(api_worker *w, const http_req *req, http_resp *r)
{
	/* What the caller may hold in the node's tables, and its failed logins, count against it.
	 */
	bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
	if (w->nw) {
		node_worker_source(w->nw, req->peer, req->peer_len);
		/*
		 * What may write lets go of the turn's snapshot first: a thread must
		 * not hold one while it writes (the map grower waits for it).
		 */
		if (!get)
			node_worker_end(w->nw);
	}
	const char *method = get ? "GET" : req->method;
	if (!strcmp(req->method, "POST") && is_hdl(req))
		return post_hdl(w, req, r);
	bool path_known = false;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];
		size_t n = strlen(rt->path);
		if (req->path.len < n || memcmp(req->path.p, rt->path, n) ||
		    (!rt->prefix && req->path.len != n))
			continue;
		path_known = true;
		if (strcmp(method, rt->method))
			continue;
		if (rt->store && !w->nw) {
			http_resp_error(
			    r, 501, PROTO_RC_OPERATION_NOT_SUPPORTED,
			    "this node has no store: it is a recursive gateway, which "
			    "only resolves (GET /api/handles/{handle}, POST /api/resolve, "
			    "/{handle})");
			return 0;
		}
		return rt->fn(w, req, idn_slice_of(req->path.p + n, req->path.len - n), r);
	}
	if (path_known) {
		http_resp_error(r, 405, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                "method not allowed on this path");
		return 0;
	}
	if (req->path.len >= 4 && !memcmp(req->path.p, "/api", 4) &&
	    (req->path.len == 4 || req->path.p[4] == '/')) {
		http_resp_error(r, 404, PROTO_RC_OPERATION_NOT_SUPPORTED, "no such API route");
		return 0;
	}
	if (api_gs1_wants(w->a, req)) /* GS1 Digital Link URIs (docs/gs1-resolver.md) */
		return api_gs1(w, req, r);
	if (!get) {
		http_resp_error(r, 405, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                "the proxy answers GET and HEAD only");
		return 0;
	}
	uint8_t hbuf[PROTO_HANDLE_MAX + 1];
	int hn = api_pct_decode(idn_slice_of(req->path.p + 1, req->path.len - 1), false, hbuf,
	                        sizeof(hbuf));
	if (hn < 0) {
		api_page_invalid(r, idn_slice_of(req->path.p + 1, req->path.len - 1),
		                 "malformed (a bad %-escape) or longer than an identifier may be.");
		return 0;
	}
	return api_proxy(w, req, idn_slice_of(hbuf, (size_t)hn), r);
}
