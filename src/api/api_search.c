/*
 * api_search.c - search over HTTP (api_search.h): GET /api/search (idnode's
 * own: terms, prefix, limit, cursor), GET /hrls/handles[/PREFIX] and
 * /hrls/ping (Handle.Net's reverse lookup servlet as PYHANDLE's
 * search_handle and curl call it). Authentication is optional on both: an
 * anonymous caller finds identifiers by their public values only.
 */
#include "api/api_search.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/*
 * A cursor is sealed: TAG || (id XOR STREAM), TAG = HMAC(key, "c" id) cut
 * to 16 bytes, STREAM = HMAC(key, "s" TAG i) blocks, key random for the
 * process's life. The identifier a walk stopped at may be one whose value
 * the caller may not read: in clear, the cursor would name it.
 */
enum { CURSOR_TAG = 16 };

static uint8_t cursor_key[32];
static pthread_once_t cursor_once = PTHREAD_ONCE_INIT;

static void cursor_key_make(void)
{
	if (RAND_bytes(cursor_key, sizeof(cursor_key)) == 1)
		return;
	/* no randomness: still unguessable enough to hide an identifier from a page */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint8_t seed[sizeof(ts) + sizeof(void *)];
	void *self = &ts;
	memcpy(seed, &ts, sizeof(ts));
	memcpy(seed + sizeof(ts), &self, sizeof(self));
	SHA256(seed, sizeof(seed), cursor_key);
}

static void cursor_mac(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                       uint8_t out[32])
{
	uint8_t msg[1 + CURSOR_TAG + INDEX_ID_MAX + 1];
	memcpy(msg, a, alen);
	if (blen)
		memcpy(msg + alen, b, blen);
	unsigned len = 32;
	HMAC(EVP_sha256(), cursor_key, sizeof(cursor_key), msg, alen + blen, out, &len);
}

/* out[i] = in[i] XOR the stream of tag */
static void cursor_xor(const uint8_t *tag, const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t blk[32], head[2 + CURSOR_TAG];
	head[0] = 's';
	memcpy(head + 1, tag, CURSOR_TAG);
	for (size_t i = 0; i < n; i++) {
		if (i % 32 == 0) {
			head[1 + CURSOR_TAG] = (uint8_t)(i / 32);
			cursor_mac(head, sizeof(head), NULL, 0, blk);
		}
		out[i] = in[i] ^ blk[i % 32];
	}
}

static void cursor_tag(const uint8_t *id, size_t n, uint8_t tag[CURSOR_TAG])
{
	uint8_t mac[32];
	cursor_mac((const uint8_t *)"c", 1, id, n, mac);
	memcpy(tag, mac, CURSOR_TAG);
}

void api_search_cursor(const search_page *pg, char *out)
{
	uint8_t sealed[CURSOR_TAG + INDEX_ID_MAX];
	size_t n = pg->next_len < INDEX_ID_MAX ? pg->next_len : INDEX_ID_MAX;
	pthread_once(&cursor_once, cursor_key_make);
	cursor_tag(pg->next, n, sealed);
	cursor_xor(sealed, pg->next, n, sealed + CURSOR_TAG);
	codec_hex_encode(sealed, CURSOR_TAG + n, out);
}

int api_search_cursor_set(search_query *q, idn_slice text)
{
	uint8_t sealed[CURSOR_TAG + INDEX_ID_MAX], tag[CURSOR_TAG];
	size_t bad;
	ssize_t n = codec_hex_decode(text.p, text.len, sealed, sizeof(sealed), &bad);
	if (n <= CURSOR_TAG)
		return IDN_EINVAL;
	size_t idl = (size_t)n - CURSOR_TAG;
	pthread_once(&cursor_once, cursor_key_make);
	cursor_xor(sealed, sealed + CURSOR_TAG, idl, q->cursor);
	cursor_tag(q->cursor, idl, tag);
	if (CRYPTO_memcmp(tag, sealed, CURSOR_TAG)) {
		q->cursor_len = 0;
		return IDN_EINVAL;
	}
	q->cursor_len = idl;
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

int api_search_hit_json(void *arg, idn_slice id)
{
	api_search_hits *h = arg;
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
	api_search_hits h = {r, 0};
	http_resp_puts(r, "{\"responseCode\":1,\"handles\":[");
	if (!api_search_run(w, idn_slice_of(id.handle, id.hlen), id.index, &p->q,
	                    api_search_hit_json, &h, &pg, r)) {
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
	api_search_hits h = {r, 0};
	http_resp_puts(r, "[");
	if (!api_search_run(w, idn_slice_of(id.handle, id.hlen), id.index, &p->q,
	                    api_search_hit_json, &h, &pg, r))
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
