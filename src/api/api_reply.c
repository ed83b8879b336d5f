/*
 * api_reply.c - the helpers every route calls: resolution through the node,
 * query strings and percent-decoding, Handle response codes as HTTP status
 * and JSON errors. Calls no route.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/reply.h"
#include "core/codec.h"
#include "core/err.h"
#include "node/quota.h"
#include "proto/admin.h"

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
	    {PROTO_RC_IDIS_DAILY_LIMIT, 429},
	    {PROTO_RC_IDIS_HANDLE_LIMIT, 409},
	    {PROTO_RC_IDIS_PREFIX_LIMIT, 409},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].rc == rc)
			return map[i].status;
	return 500;
}

/* ---- resolution through the node ---- */

int api_build_request(api_worker *w, uint32_t op, idn_slice handle, const uint32_t *idx,
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

/* Decodes the answer of n bytes in w->ans into m, the request digest split off. */
static int decode_answer(api_worker *w, int n, proto_msg *m)
{
	if (n <= PROTO_ENV_LEN)
		return n < 0 ? n : IDN_EINVAL;
	int ret = proto_msg_decode(w->ans + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, m);
	if (ret)
		return ret;
	uint8_t alg;
	idn_slice digest;
	return proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, &alg, &digest, &m->body);
}

int api_exchange(api_worker *w, const uint8_t *buf, int len, proto_msg *m)
{
	if (len < 0)
		return len;
	if (!w->nw)
		return IDN_ENOTSUP;
	return decode_answer(w, node_answer(w->nw, NODE_HTTP, buf, (size_t)len, w->ans, ANS_CAP),
	                     m);
}

/*
 * A resolution request in w->req: through the node when it may be ours
 * (the rule of server/requests.c: only 301 and 303 go on), else through the
 * resolver, cache only unless this worker may wait.
 */
static int resolve_exchange(api_worker *w, int len, bool here, proto_msg *m, api_source *src)
{
	if (len < 0)
		return len;
	if (w->nw) {
		int ret = api_exchange(w, w->req, len, m);
		if (ret || here || !w->a->res ||
		    (m->hdr.rcode != PROTO_RC_SERVER_NOT_RESP &&
		     m->hdr.rcode != PROTO_RC_PREFIX_REFERRAL))
			return ret;
	} else if (!w->a->res) {
		return IDN_ENOTSUP;
	}
	resolver_meta meta;
	int n = resolver_lookup(w->a->res, w->req, (size_t)len,
	                        w->wait    ? RESOLVER_BLOCK
	                        : w->probe ? RESOLVER_PROBE
	                                   : RESOLVER_CACHED,
	                        w->ans, ANS_CAP, &meta);
	if (n < 0)
		return n;
	snprintf(src->node, sizeof(src->node), "%s", meta.node);
	src->fetched = meta.fetched;
	src->stale = meta.stale;
	src->down = meta.down;
	return decode_answer(w, n, m);
}

static int resolve_in(api_worker *w, idn_slice handle, const uint32_t *idx, uint32_t nidx,
                      const idn_slice *types, uint32_t ntypes, bool public_only, bool here,
                      api_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	if (handle.len > PROTO_HANDLE_MAX) {
		ans->rc = PROTO_RC_INVALID_HANDLE;
		ans->message = idn_slice_of("identifier too long", 19);
		return 0;
	}
	proto_msg m;
	int ret = resolve_exchange(w,
	                           api_build_request(w, PROTO_OP_RESOLUTION, handle, idx, nidx,
	                                             types, ntypes, public_only),
	                           here, &m, &ans->src);
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

int api_resolve(api_worker *w, idn_slice handle, const uint32_t *idx, uint32_t nidx,
                const idn_slice *types, uint32_t ntypes, bool public_only, api_answer *ans)
{
	return resolve_in(w, handle, idx, nidx, types, ntypes, public_only, false, ans);
}

int api_resolve_here(api_worker *w, idn_slice handle, api_answer *ans)
{
	return resolve_in(w, handle, NULL, 0, NULL, 0, false, true, ans);
}

void api_source_headers(api_worker *w, const api_source *src, http_resp *r)
{
	if (!src->fetched)
		return;
	uint32_t now = (uint32_t)time(NULL);
	unsigned age = now > src->fetched ? now - src->fetched : 0;
	char prev[sizeof(w->hdrs) - 64];
	int n = snprintf(prev, sizeof(prev), "%s", r->extra_headers ? r->extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof(prev))
		return; /* not cut short: those headers are kept whole */
	snprintf(w->hdrs, sizeof(w->hdrs), "%s%sAge: %u\r\n", prev,
	         src->stale ? "Warning: 110 - \"Response is Stale\"\r\n" : "", age);
	r->extra_headers = w->hdrs;
}

/* ---- query strings ---- */

int api_pct_decode(idn_slice in, bool form, uint8_t *out, size_t cap)
{
	size_t n = 0, i = 0;
	if (!form) { /* a path: the run before the first escape (mostly all of it) copied whole */
		const uint8_t *pct = in.len ? memchr(in.p, '%', in.len) : NULL;
		n = i = pct ? (size_t)(pct - in.p) : in.len;
		if (n > cap)
			return -1;
		if (n)
			memcpy(out, in.p, n);
	}
	for (; i < in.len; i++) {
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

bool api_truthy(idn_slice v)
{
	/* "publicOnly" alone, or =true/=1/=yes, as the reference's boolean params. */
	return v.len == 0 || (v.len == 4 && !strncasecmp((const char *)v.p, "true", 4)) ||
	       (v.len == 1 && v.p[0] == '1') ||
	       (v.len == 3 && !strncasecmp((const char *)v.p, "yes", 3));
}

/* {"responseCode":rc,"handle":h,"message":m} with the mapped status. */
static bool msg_starts(idn_slice msg, const char *with)
{
	size_t n = strlen(with);
	return msg.len >= n && !memcmp(msg.p, with, n);
}

void api_handle_error(http_resp *r, uint32_t rc, idn_slice handle, idn_slice msg)
{
	r->len = 0;
	r->status = api_http_status(rc);
	/* A write refused for want of room (map or disk full): 507, not a server fault. */
	size_t full = strlen(NODE_MSG_STORAGE_FULL);
	if (rc == PROTO_RC_ERROR && msg.len >= full && !memcmp(msg.p, NODE_MSG_STORAGE_FULL, full))
		r->status = 507;
	/*
	 * A quota, whichever code the node sends for it (node/quota.h): 409, or
	 * 429 for the daily one, with Retry-After: the seconds to 00:00 UTC.
	 * (The answer is sent before this thread builds another.)
	 */
	if (msg_starts(msg, NODE_MSG_QUOTA))
		r->status = 409;
	if (msg_starts(msg, NODE_MSG_QUOTA_DAILY)) {
		static _Thread_local char retry[40];
		snprintf(retry, sizeof(retry), "Retry-After: %ld\r\n",
		         86400L - (long)(time(NULL) % 86400));
		r->status = 429;
		r->extra_headers = retry;
	}
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

void api_answer_error(http_resp *r, const api_answer *ans, idn_slice handle)
{
	api_handle_error(r, ans->rc, handle, ans->message);
	/* The node holding it did not answer, and nothing was cached: a gateway timeout. */
	if (ans->src.down)
		r->status = 504;
}

json_t *api_json_body(const http_req *req, http_resp *r)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)req->body.p, req->body.len, 0, &jerr);
	if (!doc) {
		char msg[256];
		snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR, msg);
	}
	return doc;
}
