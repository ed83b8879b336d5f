/*
 * api.c - the route table and the JSON routes: /api/handles/{handle},
 * /api/resolve, /api/site, /api/prefixes, and Handle messages over HTTP.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "core/codec.h"
#include "core/err.h"
#include "proto/admin.h"

enum {
	MAX_BATCH = 1000, /* identifiers per POST /api/resolve */
	REQ_CAP = PROTO_ENV_LEN + PROTO_HDR_LEN + 4 + PROTO_HANDLE_MAX + 8 +
	          MAX_FILTER * (4 + 4 + 256) + 64,
	TYPE_MAX = 256,
};

int api_new(const api_config *cfg, api **out)
{
	api *a = calloc(1, sizeof(*a));
	if (!a)
		return IDN_ENOMEM;
	a->n = cfg->n;
	a->s = cfg->s;
	int ret = api_sessions_new(&a->sessions);
	if (!ret && (ret = api_idem_new(&a->idem)))
		api_sessions_free(a->sessions);
	if (ret) {
		free(a);
		return ret;
	}
	*out = a;
	return 0;
}

void api_free(api *a)
{
	if (!a)
		return;
	api_sessions_free(a->sessions);
	api_idem_free(a->idem);
	free(a);
}

void *api_worker_init(void *arg, unsigned idx)
{
	api_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->a = arg;
	w->next_id = idx << 24 | 1;
	w->req = malloc(REQ_CAP);
	w->ans = malloc(ANS_CAP);
	w->wreq = malloc(ANS_CAP);
	if (!w->req || !w->ans || !w->wreq || node_worker_new(w->a->n, &w->nw)) {
		api_worker_fini(w);
		return NULL;
	}
	return w;
}

void api_worker_fini(void *wctx)
{
	api_worker *w = wctx;
	if (!w)
		return;
	if (w->nw)
		node_worker_free(w->nw);
	free(w->req);
	free(w->ans);
	free(w->wreq);
	free(w);
}

int api_http_status(uint32_t rc)
{
	static const struct {
		uint32_t rc;
		int status;
	} map[] = {
	    {PROTO_RC_SUCCESS, 200},
	    {PROTO_RC_ERROR, 500},
	    {PROTO_RC_SERVER_BUSY, 503},
	    {PROTO_RC_PROTOCOL_ERROR, 400},
	    {PROTO_RC_OPERATION_NOT_SUPPORTED, 501},
	    {PROTO_RC_SERVER_BACKUP, 503},
	    {PROTO_RC_HANDLE_NOT_FOUND, 404},
	    {PROTO_RC_HANDLE_ALREADY_EXISTS, 409},
	    {PROTO_RC_INVALID_HANDLE, 400},
	    {PROTO_RC_VALUE_NOT_FOUND, 200},
	    {PROTO_RC_VALUE_ALREADY_EXISTS, 409},
	    {PROTO_RC_INVALID_VALUE, 400},
	    {PROTO_RC_OUT_OF_DATE_SITE_INFO, 400},
	    {PROTO_RC_SERVER_NOT_RESP, 400},
	    {PROTO_RC_SERVICE_REFERRAL, 300},
	    {PROTO_RC_PREFIX_REFERRAL, 300},
	    {PROTO_RC_INVALID_ADMIN, 403},
	    {PROTO_RC_INSUFFICIENT_PERMISSIONS, 403},
	    {PROTO_RC_AUTHENTICATION_NEEDED, 401},
	    {PROTO_RC_AUTHENTICATION_FAILED, 403},
	    {PROTO_RC_INVALID_CREDENTIAL, 403},
	    {PROTO_RC_AUTHEN_TIMEOUT, 401},
	    {PROTO_RC_AUTHEN_ERROR, 401},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].rc == rc)
			return map[i].status;
	return 500;
}

/* ---- resolution through the node ---- */

static int build_request(api_worker *w, uint32_t op, idn_slice handle, const uint32_t *idx,
                         uint32_t nidx, const idn_slice *types, uint32_t ntypes, bool public_only)
{
	proto_env env = {
	    .major = PROTO_MAJOR, .minor = PROTO_MINOR_MAX, .request_id = w->next_id++};
	proto_hdr hdr = {
	    .opcode = op,
	    .flags = public_only ? PROTO_F_PO : 0,
	    .site_serial = 0xFFFF,
	};
	proto_build b;
	proto_build_begin(&b, w->req, REQ_CAP, &env, &hdr);
	if (op == PROTO_OP_RESOLUTION)
		proto_resolve_req_encode(&b.w, handle, idx, nidx, types, ntypes);
	return proto_build_end(&b, NULL, 0);
}

int api_exchange(api_worker *w, const uint8_t *buf, int len, proto_msg *m)
{
	if (len < 0)
		return len;
	int n = node_answer(w->nw, NODE_HTTP, buf, (size_t)len, w->ans, ANS_CAP);
	if (n <= PROTO_ENV_LEN)
		return n < 0 ? n : IDN_EINVAL;
	int ret = proto_msg_decode(w->ans + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, m);
	if (ret)
		return ret;
	uint8_t alg;
	idn_slice digest;
	return proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, &alg, &digest, &m->body);
}

/* Runs the request in w->req through the node and splits the answer. */
static int exchange(api_worker *w, int len, proto_msg *m)
{
	return api_exchange(w, w->req, len, m);
}

int api_resolve(api_worker *w, idn_slice handle, const uint32_t *idx, uint32_t nidx,
                const idn_slice *types, uint32_t ntypes, bool public_only, api_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	if (handle.len > PROTO_HANDLE_MAX) {
		ans->rc = PROTO_RC_INVALID_HANDLE;
		ans->message = idn_slice_of("identifier too long", 19);
		return 0;
	}
	proto_msg m;
	int ret = exchange(
	    w, build_request(w, PROTO_OP_RESOLUTION, handle, idx, nidx, types, ntypes, public_only),
	    &m);
	if (ret)
		return ret;
	ans->rc = m.hdr.rcode;
	if (ans->rc == PROTO_RC_SUCCESS) {
		proto_resolve_resp rr;
		if ((ret = proto_resolve_resp_decode(m.body, &rr)))
			return ret;
		ans->nvalues = rr.nvalues;
		ans->values = rr.values;
	} else {
		proto_error_decode(m.body, &ans->message);
	}
	return 0;
}

/* ---- query strings ---- */

int api_pct_decode(idn_slice in, bool form, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < in.len; i++) {
		if (n == cap)
			return -1;
		uint8_t ch = in.p[i];
		if (ch == '%') {
			if (i + 2 >= in.len)
				return -1;
			int h = codec_hex_digit(in.p[i + 1]), l = codec_hex_digit(in.p[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			ch = (uint8_t)(h << 4 | l);
			i += 2;
		} else if (ch == '+' && form) {
			ch = ' ';
		}
		out[n++] = ch;
	}
	return (int)n;
}

/* Calls fn for each name=value pair (raw, not decoded). */
int api_query_each(idn_slice q, int (*fn)(void *arg, idn_slice name, idn_slice value), void *arg)
{
	if (!q.len) /* an empty slice may have a NULL pointer: no arithmetic on it */
		return 0;
	const uint8_t *p = q.p, *end = q.p + q.len;
	while (p < end) {
		const uint8_t *amp = memchr(p, '&', (size_t)(end - p));
		const uint8_t *e = amp ? amp : end;
		const uint8_t *eq = memchr(p, '=', (size_t)(e - p));
		idn_slice name = idn_slice_of(p, (size_t)((eq ? eq : e) - p));
		idn_slice value =
		    eq ? idn_slice_of(eq + 1, (size_t)(e - eq - 1)) : idn_slice_of(e, 0);
		int ret = name.len ? fn(arg, name, value) : 0;
		if (ret)
			return ret;
		p = amp ? amp + 1 : end;
	}
	return 0;
}

bool api_name_is(idn_slice s, const char *name)
{
	size_t n = strlen(name);
	return s.len == n && !memcmp(s.p, name, n);
}

struct has_ctx {
	const char *name;
};

static int has_cb(void *arg, idn_slice name, idn_slice value)
{
	(void)value;
	return api_name_is(name, ((struct has_ctx *)arg)->name);
}

int api_query_has(idn_slice query, const char *name)
{
	struct has_ctx c = {name};
	return api_query_each(query, has_cb, &c);
}

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

bool api_truthy(idn_slice v)
{
	/* "publicOnly" alone, or =true/=1/=yes, as the reference's boolean params. */
	return v.len == 0 || (v.len == 4 && !strncasecmp((const char *)v.p, "true", 4)) ||
	       (v.len == 1 && v.p[0] == '1') ||
	       (v.len == 3 && !strncasecmp((const char *)v.p, "yes", 3));
}

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

/* {"responseCode":rc,"handle":h,"message":m} with the mapped status. */
void api_handle_error(http_resp *r, uint32_t rc, idn_slice handle, idn_slice msg)
{
	r->len = 0;
	r->status = api_http_status(rc);
	r->content_type = "application/json";
	http_resp_printf(r, "{\"responseCode\":%u,\"handle\":", rc);
	api_json_str(r, handle);
	if (!msg.len) {
		const char *name = proto_rc_name(rc);
		msg = idn_slice_of(name, strlen(name));
	}
	http_resp_puts(r, ",\"message\":");
	api_json_str(r, msg);
	http_resp_puts(r, "}");
}

static void values_json(http_resp *r, const api_answer *ans)
{
	http_resp_puts(r, "[");
	wire_rd c = wire_rd_init(ans->values.p, ans->values.len);
	for (uint32_t i = 0; i < ans->nvalues; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		if (c.err)
			break;
		if (i)
			http_resp_puts(r, ",");
		api_json_value(r, &v);
	}
	http_resp_puts(r, "]");
}

/* ---- routes ---- */

typedef int (*route_fn)(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);

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
	filters *f = calloc(1, sizeof(*f));
	if (!f)
		return IDN_ENOMEM;
	int ret = 0;
	if (api_query_each(req->query, filter_cb, f)) {
		api_handle_error(r, PROTO_RC_INVALID_VALUE, h,
		                 idn_slice_of(f->err, strlen(f->err)));
		goto out;
	}
	api_answer ans;
	if ((ret = api_resolve(w, h, f->idx, f->nidx, f->types, f->ntypes, f->public_only, &ans)))
		goto out;
	if (ans.rc != PROTO_RC_SUCCESS) {
		api_handle_error(r, ans.rc, h, ans.message);
		goto out;
	}
	r->status = 200;
	http_resp_puts(r, "{\"responseCode\":1,\"handle\":");
	api_json_str(r, h);
	http_resp_puts(r, ",\"values\":");
	values_json(r, &ans);
	http_resp_puts(r, "}");
out:
	free(f);
	return ret;
}

/* POST /api/resolve {"handles":[...]} -> {"results":[...]} in request order. */
static int post_resolve(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)req->body.p, req->body.len, 0, &jerr);
	int ret = 0;
	if (!doc) {
		char msg[256];
		snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR, msg);
		return 0;
	}
	json_t *hs = json_is_object(doc) ? json_object_get(doc, "handles") : NULL;
	if (!json_is_array(hs)) {
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR,
		                "expected an object {\"handles\":[\"PREFIX/SUFFIX\", ...]}");
		goto out;
	}
	size_t n = json_array_size(hs);
	if (n > MAX_BATCH) {
		char msg[96];
		snprintf(msg, sizeof(msg), "at most %d identifiers per request, got %zu", MAX_BATCH,
		         n);
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
	http_resp_puts(r, "{\"results\":[");
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(hs, i);
		idn_slice h = idn_slice_of(json_string_value(s), json_string_length(s));
		api_answer ans;
		if ((ret = api_resolve(w, h, NULL, 0, NULL, 0, false, &ans)))
			goto out;
		http_resp_puts(r, i ? ",{\"handle\":" : "{\"handle\":");
		api_json_str(r, h);
		http_resp_printf(r, ",\"responseCode\":%u", ans.rc);
		if (ans.rc == PROTO_RC_SUCCESS) {
			http_resp_puts(r, ",\"values\":");
			values_json(r, &ans);
		} else {
			const char *name = proto_rc_name(ans.rc);
			http_resp_puts(r, ",\"message\":");
			api_json_str(r, ans.message.len ? ans.message
			                                : idn_slice_of(name, strlen(name)));
		}
		http_resp_puts(r, "}");
	}
	http_resp_puts(r, "]}");
out:
	json_decref(doc);
	return ret;
}

static int get_site(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)req;
	(void)rest;
	proto_msg m;
	int ret = exchange(
	    w,
	    build_request(w, PROTO_OP_GET_SITE_INFO, idn_slice_of("", 0), NULL, 0, NULL, 0, false),
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

/* POST application/x-hdl-message: the body is envelope + message. */
static int post_hdl(api_worker *w, const http_req *req, http_resp *r)
{
	if (req->body.len < PROTO_ENV_LEN || req->body.len > PROTO_ENV_LEN + PROTO_MSG_MAX) {
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR,
		                "body must be a Handle envelope and message");
		return 0;
	}
	int n = node_answer(w->nw, NODE_HTTP, req->body.p, req->body.len, w->ans, ANS_CAP);
	if (n <= 0) {
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR,
		                n == 0 ? "not a Handle request this node can answer"
		                       : idn_strerror(n));
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
} routes[] = {
    {"GET", "/api/handles/", true, get_handle},
    {"PUT", "/api/handles/", true, api_put_handle},
    {"DELETE", "/api/handles/", true, api_delete_handle},
    {"GET", "/api/handles", false, api_list_handles},
    {"POST", "/api/sessions", false, api_post_session},
    {"GET", "/api/sessions/", true, api_session_this},
    {"PUT", "/api/sessions/", true, api_session_this},
    {"DELETE", "/api/sessions/", true, api_session_this},
    {"POST", "/api/batch", false, api_post_batch},
    {"GET", "/api/openapi.json", false, api_get_openapi},
    {"POST", "/api/resolve", false, post_resolve},
    {"GET", "/api/site", false, get_site},
    {"GET", "/api/prefixes", false, get_prefixes},
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

int api_handle(void *wctx, const http_req *req, http_resp *r)
{
	api_worker *w = wctx;
	bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
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
	if (!get) {
		http_resp_error(r, 405, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                "the proxy answers GET and HEAD only");
		return 0;
	}
	uint8_t hbuf[PROTO_HANDLE_MAX + 1];
	int hn = api_pct_decode(idn_slice_of(req->path.p + 1, req->path.len - 1), false, hbuf,
	                        sizeof(hbuf));
	if (hn < 0) {
		http_resp_error(r, 400, PROTO_RC_INVALID_HANDLE,
		                "identifier malformed (bad %-escape) or too long");
		return 0;
	}
	return api_proxy(w, req, idn_slice_of(hbuf, (size_t)hn), r);
}

/* ---- the HTTP side of `idnode serve` ---- */

struct api_server {
	api *a;
	http_server *srv;
	FILE *log;
};

int api_serve_start(node *n, store *s, const api_serve_opts *o, api_server **out)
{
	api_server *hs = calloc(1, sizeof(*hs));
	if (!hs)
		return IDN_ENOMEM;
	int ret;
	api_config ac = {.n = n, .s = s};
	if ((ret = api_new(&ac, &hs->a)))
		goto fail;
	if (o->access_log && strcmp(o->access_log, "-")) {
		hs->log = fopen(o->access_log, "a");
		if (!hs->log) {
			ret = idn_errno(errno);
			snprintf(o->errbuf, o->errbuf_len, "access log %s: %s", o->access_log,
			         strerror(errno));
			goto fail;
		}
		setvbuf(hs->log, NULL, _IOLBF, 0);
	}
	http_config hc = {
	    .listen = o->listen,
	    .nlisten = o->nlisten,
	    .ntls = o->ntls,
	    .tls_cert = o->tls_cert,
	    .tls_key = o->tls_key,
	    .threads = o->threads,
	    .access_log = hs->log         ? hs->log
	                  : o->access_log ? stderr
	                                  : NULL,
	    .max_conns = o->max_conns,
	    .max_body = o->max_body,
	    .idle_ms = o->idle_ms,
	    .header_timeout_ms = o->header_timeout_ms,
	    .body_timeout_ms = o->header_timeout_ms * 3,
	    .worker_init = api_worker_init,
	    .worker_fini = api_worker_fini,
	    .handle = api_handle,
	    .arg = hs->a,
	    .errbuf = o->errbuf,
	    .errbuf_len = o->errbuf_len,
	};
	if ((ret = http_start(&hc, &hs->srv)))
		goto fail;
	*out = hs;
	return 0;
fail:
	api_serve_stop(hs);
	return ret;
}

unsigned api_serve_port(const api_server *hs, unsigned idx)
{
	return http_bound_port(hs->srv, idx);
}

void api_serve_stop(api_server *hs)
{
	if (!hs)
		return;
	if (hs->srv) {
		http_stop(hs->srv);
		http_wait(hs->srv);
	}
	if (hs->log)
		fclose(hs->log);
	api_free(hs->a);
	free(hs);
}
