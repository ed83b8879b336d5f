/*
 * api_search.c - search over HTTP (api_search.h): GET /api/search (idnode's
 * own: terms, prefix, limit, cursor), GET /hrls/handles[/PREFIX] and
 * /hrls/ping (Handle.Net's reverse lookup servlet as PYHANDLE's
 * search_handle and curl call it). Authentication is optional on both: an
 * anonymous caller finds identifiers by their public values only.
 */
#include "api/api_search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "core/codec.h"
#include "core/err.h"

enum {
	HRLS_LIMIT_DEFAULT = 1000, /* the servlet's default page */
	TEXT_MAX = 4096,           /* a decoded parameter */
	/* a term's text, or an /hrls term's type and value, and a prefix */
	TEXT_SLOTS = 2 * SEARCH_TERMS_MAX + 1,
};

/* ---- shared ---- */

void api_search_cursor(const search_page *pg, char *out)
{
	codec_hex_encode(pg->next, pg->next_len, out);
}

int api_search_cursor_set(search_query *q, idn_slice text)
{
	size_t bad;
	ssize_t n = codec_hex_decode(text.p, text.len, q->cursor, sizeof(q->cursor), &bad);
	if (n <= 0)
		return IDN_EINVAL;
	q->cursor_len = (size_t)n;
	return IDN_OK;
}

int api_search_run(api_worker *w, idn_slice id_handle, uint32_t id_index, const search_query *q,
                   search_hit_fn hit, void *arg, search_page *pg, http_resp *r)
{
	char msg[256];
	if (!w->nw) {
		http_resp_error(r, 501, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                "this node has no store: nothing to search");
		return -1;
	}
	int rc = node_search(w->nw, id_handle, id_index, q, w->a->search_scan_max, hit, arg, pg);
	switch (rc) {
	case IDN_OK:
		return 0;
	case SEARCH_OFF:
		http_resp_error(
		    r, 501, PROTO_RC_OPERATION_NOT_SUPPORTED,
		    "the search index is off on this node (idnode index on --data ...)");
		return -1;
	case SEARCH_STALE:
		http_resp_error(r, 503, PROTO_RC_SERVER_BUSY,
		                "the search index is being rebuilt (after a load or a restore): "
		                "try again later, or run idnode index rebuild");
		return -1;
	case SEARCH_TOO_BROAD:
		snprintf(msg, sizeof(msg),
		         "the query matches more than %u index entries (--search-scan-max): "
		         "add an exact term (type=value) or a longer beginning",
		         w->a->search_scan_max ? w->a->search_scan_max : SEARCH_SCAN_DEFAULT);
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, msg);
		return -1;
	case IDN_EINVAL:
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, "a search needs at least one term");
		return -1;
	default:
		http_resp_error(r, 500, PROTO_RC_ERROR, idn_strerror(rc));
		return -1;
	}
}

typedef struct params {
	search_query q;
	uint8_t text[TEXT_SLOTS][TEXT_MAX]; /* decoded terms: q borrows them */
	size_t nt;
	long limit, page;
	bool hrls;
	int bad; /* 1: a 400 is written */
	http_resp *r;
} params;

static int param_bad(params *p, const char *fmt, idn_slice name)
{
	char msg[SEARCH_WHY_MAX + 64];
	snprintf(msg, sizeof(msg), fmt, (int)(name.len > 64 ? 64 : name.len), (const char *)name.p);
	http_resp_error(p->r, 400, PROTO_RC_INVALID_VALUE, msg);
	p->bad = 1;
	return 1;
}

/* Decodes v into the next text slot. */
static int decode(params *p, idn_slice name, idn_slice v, idn_slice *out)
{
	if (p->nt == TEXT_SLOTS) {
		char msg[64];
		snprintf(msg, sizeof(msg), "at most %d terms", SEARCH_TERMS_MAX);
		return param_bad(p, msg, name);
	}
	int n = api_pct_decode(v, false, p->text[p->nt], TEXT_MAX);
	if (n < 0)
		return param_bad(p, "%.*s: a bad %%-escape, or longer than 4096 bytes", name);
	*out = idn_slice_of(p->text[p->nt++], (size_t)n);
	return 0;
}

static int term_done(params *p, int rc, const char *why)
{
	if (rc == IDN_OK)
		return 0;
	http_resp_error(p->r, 400, PROTO_RC_INVALID_VALUE, why);
	p->bad = 1;
	return 1;
}

/* limit, page and prefix: both routes' */
static int common_param(params *p, idn_slice name, idn_slice value, bool *taken)
{
	char why[SEARCH_WHY_MAX];
	idn_slice v;
	*taken = true;
	if (api_name_is(name, "limit") || (p->hrls && api_name_is(name, "pageSize"))) {
		p->limit = api_small_num(value);
		if (p->limit < 1 || p->limit > SEARCH_LIMIT_MAX) {
			char msg[96];
			snprintf(msg, sizeof(msg), "%%.*s: a number from 1 to %d",
			         SEARCH_LIMIT_MAX);
			return param_bad(p, msg, name);
		}
		return 0;
	}
	if (api_name_is(name, "prefix")) {
		if (decode(p, name, value, &v))
			return 1;
		return term_done(p, search_set_prefix(&p->q, v, why), why);
	}
	*taken = false;
	return 0;
}

static int api_param(void *arg, idn_slice name, idn_slice value)
{
	params *p = arg;
	bool taken;
	char why[SEARCH_WHY_MAX];
	idn_slice v;
	if (common_param(p, name, value, &taken) || taken)
		return p->bad;
	if (api_name_is(name, "q")) {
		if (decode(p, name, value, &v))
			return 1;
		return term_done(p, search_add_term(&p->q, v, why), why);
	}
	if (api_name_is(name, "cursor")) {
		if (api_search_cursor_set(&p->q, value))
			return param_bad(p, "%.*s: not a cursor this search gave", name);
		return 0;
	}
	return param_bad(p,
	                 "unknown parameter %.*s (q, prefix, limit and cursor are; a term is "
	                 "q=type=value)",
	                 name);
}

static int hrls_param(void *arg, idn_slice name, idn_slice value)
{
	params *p = arg;
	bool taken;
	char why[SEARCH_WHY_MAX];
	idn_slice type, v;
	if (common_param(p, name, value, &taken) || taken)
		return p->bad;
	if (api_name_is(name, "page")) {
		p->page = api_small_num(value);
		return p->page < 0 ? param_bad(p, "%.*s: a number from 0", name) : 0;
	}
	if (api_name_is(name, "retrieverecords")) {
		if (!value.len || api_truthy(value))
			return param_bad(p, "%.*s=true is not supported: resolve the handles found",
			                 name);
		return 0;
	}
	/* any other parameter is a type: URL=..., CHECKSUM=... */
	if (decode(p, name, name, &type) || decode(p, name, value, &v))
		return 1;
	return term_done(p, search_add_pair(&p->q, type, v, why), why);
}

typedef struct hits {
	http_resp *r;
	size_t n;
} hits;

static int hit_json(void *arg, idn_slice id)
{
	hits *h = arg;
	http_resp_puts(h->r, h->n++ ? "," : "");
	api_json_str(h->r, id);
	return 0;
}

/* The caller, if it says who it is: 0 anonymous or authenticated, -1 refused (answered). */
static int who(api_worker *w, const http_req *req, http_resp *r, ident *id)
{
	memset(id, 0, sizeof(*id));
	return api_auth_optional(w, req, r, id) < 0 ? -1 : 0;
}

/* The parameters, parsed by fn; NULL when answered (400, or no memory). */
static params *parse(const http_req *req, http_resp *r, bool hrls,
                     int (*fn)(void *, idn_slice, idn_slice))
{
	params *p = calloc(1, sizeof(*p));
	if (!p) {
		http_resp_error(r, 500, PROTO_RC_ERROR, "out of memory");
		return NULL;
	}
	search_query_init(&p->q);
	p->r = r;
	p->hrls = hrls;
	p->limit = hrls ? HRLS_LIMIT_DEFAULT : SEARCH_LIMIT_DEFAULT;
	api_query_each(req->query, fn, p);
	if (!p->bad && p->q.nterms == 0) {
		http_resp_error(
		    r, 400, PROTO_RC_INVALID_VALUE,
		    hrls ? "a search term is needed: /hrls/handles?URL=https://example.org/*"
		         : "q is needed: GET /api/search?q=URL=https://example.org/*");
		p->bad = 1;
	}
	if (p->bad) {
		free(p);
		return NULL;
	}
	p->q.limit = (uint32_t)p->limit;
	return p;
}

/* ---- GET /api/search ---- */

/*
 * GET /api/search?q=TERM[&q=TERM...][&prefix=P][&limit=N][&cursor=C]:
 * {"responseCode":1,"handles":[...],"next":C or null}.
 */
int api_search(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	ident id;
	params *p = parse(req, r, false, api_param);
	if (!p || who(w, req, r, &id)) {
		free(p);
		return 0;
	}
	search_page pg;
	hits h = {r, 0};
	http_resp_puts(r, "{\"responseCode\":1,\"handles\":[");
	if (!api_search_run(w, idn_slice_of(id.handle, id.hlen), id.index, &p->q, hit_json, &h, &pg,
	                    r)) {
		http_resp_puts(r, "],\"next\":");
		if (pg.more) {
			char cur[API_SEARCH_CURSOR_MAX];
			api_search_cursor(&pg, cur);
			http_resp_printf(r, "\"%s\"}", cur);
		} else {
			http_resp_puts(r, "null}");
		}
	}
	free(p);
	return 0;
}

/* ---- Handle.Net's reverse lookup ---- */

/*
 * GET /hrls/handles[/PREFIX]?TYPE=VALUE[&TYPE=VALUE...][&limit=N][&page=K]:
 * a JSON list of handles, page K (from 0) of N (default 1000).
 */
int api_hrls_handles(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	ident id;
	params *p = parse(req, r, true, hrls_param);
	if (!p)
		return 0;
	if (rest.len) { /* /hrls/handles/PREFIX */
		char why[SEARCH_WHY_MAX];
		uint8_t buf[PROTO_HANDLE_MAX];
		int n = api_pct_decode(rest, false, buf, sizeof(buf));
		if (n < 0)
			snprintf(why, sizeof(why), "the prefix in the path is malformed");
		if (n < 0 || search_set_prefix(&p->q, idn_slice_of(buf, (size_t)n), why)) {
			http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, why);
			free(p);
			return 0;
		}
	}
	if (who(w, req, r, &id)) {
		free(p);
		return 0;
	}
	p->q.skip = p->page > 0 ? (uint64_t)p->page * p->q.limit : 0;
	search_page pg;
	hits h = {r, 0};
	http_resp_puts(r, "[");
	if (!api_search_run(w, idn_slice_of(id.handle, id.hlen), id.index, &p->q, hit_json, &h, &pg,
	                    r))
		http_resp_puts(r, "]");
	free(p);
	return 0;
}

/* GET /hrls/ping: "OK", as the servlet answers (after the same optional authentication). */
int api_hrls_ping(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	ident id;
	if (who(w, req, r, &id))
		return 0;
	r->content_type = "text/plain";
	http_resp_puts(r, "OK");
	return 0;
}
