/*
 * api_gs1.c - the GS1-conformant resolver of a node with --gs1-registry (the
 * public gateway): GET, HEAD and OPTIONS of a GS1 Digital Link path
 * (/01/09520123456788/21/A1?linkType=gs1:pip, or the compressed form) and
 * the resolver description at /.well-known/gs1resolver.
 *
 * A DL path is mapped to an identifier by the registries' rules
 * (api_gs1_rules.c), the identifier is resolved like any other (through the
 * resolver's cache on a gateway: a miss is IDN_EAGAIN, run again by the
 * gateway's threads), and its values give the links: GS1.LINK.<linkType>
 * ("URL [lang=xx[,yy]] [type=MIME] [title=TEXT]"), the first URL value as
 * the default link when there is no GS1.LINK.defaultLink, and the record
 * page of the identifier (gs1:pip when the record has none, else rel
 * describedby; the default link when there is nothing else). The answer is
 * a 307 to the link chosen by linkType, Accept-Language and Accept, with
 * the query string passed on, or with linkType=linkset (or all, or Accept:
 * application/linkset+json) the RFC 9264 linkset. A key with qualifiers is
 * looked up at each level (the whole key, ..., the key alone), each mapped
 * by its own rule: the most specific level with a link answers, the linkset
 * lists every level. Every answer
 * carries CORS headers; malformed URIs are 400 with the parser's reason.
 * docs/gs1-resolver.md.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/label.h"
#include "api/routes.h"
#include "core/err.h"
#include "node/search.h"

enum {
	LINKS_MAX = 64,
	REL_MAX = 48,
	LANGS_MAX = 16,
	HDRS_CAP = 2200, /* our headers: the gateway's copy takes Location + 256 more */
	LINK_HDR_MAX = 1600,
	/* all headers besides the fixed ones: what the gateway's copy (Location + 256) holds */
	HDRS_BUDGET = 2560 + 256 - 64,
	URL_CAP = 2048,
};

static const char voc[] = "https://gs1.org/voc/";
static const char well_known[] = "/.well-known/gs1resolver";
/* CORS: every answer may be read by any origin's scripts, Link header included;
 * Vary: answers differ by these request headers. */
static const char cors_vary[] = "Access-Control-Allow-Origin: *\r\n"
                                "Access-Control-Expose-Headers: Link\r\n"
                                "Vary: Accept, Accept-Language\r\n";
/* ... and a preflight (OPTIONS) allows the methods and headers a resolver takes. */
static const char cors_preflight[] =
    "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
    "Access-Control-Allow-Headers: Accept, Accept-Language\r\n"
    "Access-Control-Max-Age: 86400\r\nAllow: GET, HEAD, OPTIONS\r\n";

/* The headers of the answer being built: the gateway's threads copy them before answering. */
static _Thread_local char tl_hdrs[HDRS_CAP];

typedef struct link {
	char rel[REL_MAX]; /* "pip", "defaultLink", "describedby" (not a GS1 one) */
	idn_slice href;
	char lang[32]; /* "en" or "en,fr"; "" = any */
	char type[64]; /* "text/html"; "" = unknown */
	idn_slice title;
	int level; /* of g->level[] */
	bool page; /* the level's record page: href and title made when used (page_link) */
} link;

/* One level of the request's key: the key, then with each of its qualifiers. */
typedef struct level {
	char handle[PROTO_HANDLE_MAX + 1]; /* "" when no rule maps this level */
	char anchor[GS1_URI_MAX + 1];      /* its canonical URI under this resolver */
	char page[URL_CAP];                /* the identifier's record page */
	char page_title[PROTO_HANDLE_MAX + 32];
	uint8_t *values; /* a copy of the record's values; NULL when it does not resolve */
	uint32_t nvalues;
	size_t vlen;
	uint32_t rc;
	bool down;
} level;

typedef struct gs1_req {
	gs1_dl dl;
	gs1_dl tmp;                 /* one level of dl */
	const api_gs1_rules *rules; /* the worker's (api_gs1_rules_get) */
	char uri[GS1_URI_MAX + 1];
	char base[GS1_STEM_MAX + 1]; /* "https://host" (no final '/') */
	bool compressed;
	level
	    level[GS1_QUAL_MAX + 1]; /* [0]: the whole key (all qualifiers), last: the key alone */
	int nlevel, mapped;
	link links[LINKS_MAX];
	int nlinks;
	bool handled; /* a handledBy rule answers (handled_by) */
	/* The Host (and TLS) g->base was last made from: the next request from the
	 * same Host reuses it (the scratch outlives requests: api_gs1_scratch). */
	char host[256];
	size_t host_len;
	bool host_tls, host_ok;
	char handled_at[URL_CAP]; /* the item's URI on the resolver that handles it */
	bool html;                /* Accept prefers HTML: error pages are pages */
} gs1_req;

/* Appends a whole line to tl_hdrs (nothing when it does not fit). */
static void hdr_add(http_resp *r, const char *line, size_t n)
{
	size_t have = strlen(tl_hdrs);
	if (have + n + 1 > sizeof(tl_hdrs))
		return;
	memcpy(tl_hdrs + have, line, n);
	tl_hdrs[have + n] = 0;
	r->extra_headers = tl_hdrs;
}

static void hdr_line(http_resp *r, const char *line)
{
	hdr_add(r, line, strlen(line));
}

/* CORS and Vary, after whatever the answer already has (Age, Warning). */
static void hdr_begin(http_resp *r)
{
	if (r->extra_headers != tl_hdrs) {
		size_t n = r->extra_headers ? strlen(r->extra_headers) : 0;
		n = n < sizeof(tl_hdrs) ? n : 0; /* never cut short */
		memcpy(tl_hdrs, r->extra_headers ? r->extra_headers : "", n);
		tl_hdrs[n] = 0;
	}
	r->extra_headers = tl_hdrs;
	hdr_add(r, cors_vary, sizeof(cors_vary) - 1);
}

static bool slice_is(idn_slice s, const char *t)
{
	size_t n = strlen(t);
	return s.len == n && !memcmp(s.p, t, n);
}

/*
 * Appends n bytes of s to out (cap bytes, NUL-terminated) at *o; false, out
 * unchanged past *o, when they do not fit. The hot path's string building:
 * snprintf was a tenth of a GS1 request's CPU.
 */
static bool put(char *out, size_t cap, size_t *o, const void *s, size_t n)
{
	if (*o + n >= cap)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = 0;
	return true;
}

static bool puts_(char *out, size_t cap, size_t *o, const char *s)
{
	return put(out, cap, o, s, strlen(s));
}

static bool is_b64url(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* The target (path and query) as a C string; false when longer than a DL URI may be. */
static bool target_str(const http_req *req, char *out, size_t cap)
{
	if (req->target.len >= cap)
		return false;
	memcpy(out, req->target.p, req->target.len);
	out[req->target.len] = 0;
	return true;
}

bool api_gs1_wants(const api *a, const http_req *req)
{
	if (!a->ngs1_registry || req->path.len < 2 || req->path.p[0] != '/')
		return false;
	if (slice_is(req->path, well_known))
		return true;
	const uint8_t *s = req->path.p + 1;
	size_t n = req->path.len - 1;
	const uint8_t *sl = memchr(s, '/', n);
	size_t seg = sl ? (size_t)(sl - s) : n;
	if (sl && seg >= 2 && seg <= GS1_AI_MAX) {
		const gs1_ai *x = gs1_ai_findn((const char *)s, seg);
		return x && x->key;
	}
	/* One segment of base64url: a compressed DL when it decompresses to one. */
	if (sl || seg < 8 || !is_b64url(s, seg))
		return false;
	char uri[GS1_URI_MAX + 1], err[8];
	gs1_dl *dl = malloc(sizeof(*dl));
	bool ok =
	    dl && target_str(req, uri, sizeof(uri)) && gs1_dl_parse(uri, dl, err, sizeof(err)) == 0;
	free(dl);
	return ok;
}

static bool accepts(const http_req *req, const char *mime)
{
	idn_slice acc;
	return http_req_header(req, "accept", &acc) && memmem(acc.p, acc.len, mime, strlen(mime));
}

/* 4xx/5xx: JSON {"responseCode":..,"message":..}, or an HTML page for a browser. */
static void fail(http_resp *r, const gs1_req *g, int status, uint32_t rc, const char *title,
                 const char *msg)
{
	if (g && g->html) {
		r->status = status;
		r->content_type = "text/html; charset=utf-8";
		r->len = 0;
		http_resp_puts(r, "<!doctype html><meta charset=\"utf-8\"><meta name=\"viewport\" "
		                  "content=\"width=device-width\"><title>");
		api_html(r, idn_slice_of(title, strlen(title)));
		http_resp_puts(r, "</title><h1>");
		api_html(r, idn_slice_of(title, strlen(title)));
		http_resp_puts(r, "</h1><p>");
		api_html(r, idn_slice_of(msg, strlen(msg)));
		http_resp_puts(r, "</p><p>A GS1 Digital Link URI is /AI/value paths such as "
		                  "<code>/01/09520123456788/21/ABC</code>; "
		                  "<code>?linkType=all</code> lists an item's links. This "
		                  "resolver is described at <a href=\"/.well-known/gs1resolver\">"
		                  "/.well-known/gs1resolver</a>.</p>");
	} else {
		http_resp_error(r, status, (int)rc, msg);
	}
	hdr_begin(r);
	if (g && g->html)
		hdr_line(r, "Content-Security-Policy: default-src 'none'\r\n"
		            "X-Content-Type-Options: nosniff\r\n");
}

/* 200 with doc (taken) as the body, in order. */
static void json_answer(http_resp *r, json_t *doc, const char *type)
{
	char *s = json_dumps(doc, JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_decref(doc);
	r->status = s ? 200 : 500;
	r->content_type = type;
	http_resp_puts(r, s ? s : "{}");
	free(s);
}

/* GET /.well-known/gs1resolver: the resolver description file. */
static void describe(http_resp *r, const char *base)
{
	static const char *const keys[] = {"01",   "00",   "253",  "255",  "401",  "402",
	                                   "414",  "415",  "417",  "8003", "8004", "8006",
	                                   "8010", "8013", "8017", "8018"};
	json_t *d = json_object(), *pk = json_array(), *lt = json_array(), *t = json_object();
	json_object_set_new(d, "name", json_string("idnode GS1-conformant resolver"));
	json_object_set_new(d, "resolverRoot", json_string(base));
	json_object_set_new(t, "namespace", json_string(voc));
	json_object_set_new(t, "prefix", json_string("gs1:"));
	json_object_set_new(t, "profile", json_string("https://gs1.org/voc/?show=linktypes"));
	json_array_append_new(lt, t);
	json_object_set_new(d, "supportedLinkType", lt);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const gs1_ai *a = gs1_ai_find(keys[i]);
		if (a && a->key)
			json_array_append_new(pk, json_string(keys[i]));
	}
	json_object_set_new(d, "supportedPrimaryKeys", pk);
	json_object_set_new(d, "linkTypeDefaultCanBeLinkset", json_true());
	json_answer(r, d, "application/json");
	hdr_begin(r);
}

/* ---- the links of a record ---- */

static bool token_ok(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* "URL [lang=xx] [type=MIME] [title=TEXT]" into l (rel set); false if not a link. */
static bool link_parse(idn_slice d, link *l)
{
	const uint8_t *sp = memchr(d.p, ' ', d.len);
	l->href = idn_slice_of(d.p, sp ? (size_t)(sp - d.p) : d.len);
	if (!api_is_http_url(l->href))
		return false;
	for (const uint8_t *p = sp, *end = d.p + d.len; p && p < end;) {
		while (p < end && *p == ' ')
			p++;
		const uint8_t *e = memchr(p, ' ', (size_t)(end - p));
		size_t n = (size_t)((e ? e : end) - p);
		if (n > 6 && !memcmp(p, "title=", 6)) {
			l->title = idn_slice_of(p + 6, (size_t)(end - p - 6)); /* the rest */
			break;
		}
		char *dst = n > 5 && !memcmp(p, "lang=", 5)   ? l->lang
		            : n > 5 && !memcmp(p, "type=", 5) ? l->type
		                                              : NULL;
		size_t cap = dst == l->lang ? sizeof(l->lang) : sizeof(l->type);
		if (dst && n - 5 < cap) {
			memcpy(dst, p + 5, n - 5);
			dst[n - 5] = 0;
			if (!token_ok(dst, dst == l->lang ? "-," : "!#$&^_.+-/"))
				dst[0] = 0;
		}
		p = e;
	}
	return true;
}

static void add_link(gs1_req *g, int lv, const char *rel, idn_slice href, idn_slice title)
{
	if (g->nlinks == LINKS_MAX)
		return;
	link *l = &g->links[g->nlinks++];
	size_t o = 0;
	l->rel[0] = l->lang[0] = l->type[0] = 0;
	puts_(l->rel, sizeof(l->rel), &o, rel);
	l->href = href;
	l->title = title;
	l->level = lv;
	l->page = !href.p;
	/* "The default link SHALL NOT have any optional attributes" */
	o = 0;
	if (strcmp(rel, "defaultLink"))
		puts_(l->type, sizeof(l->type), &o, "text/html");
}

static bool has_rel(const gs1_req *g, int lv, const char *rel)
{
	for (int i = 0; i < g->nlinks; i++)
		if (g->links[i].level == lv && !strcmp(g->links[i].rel, rel))
			return true;
	return false;
}

/*
 * The links of level lv's record: its GS1.LINK.* values; the first URL value
 * as the default link (and gs1:pip) when there is no GS1.LINK.defaultLink;
 * the record page as gs1:pip when there is none (else "describedby"), and as
 * the default link when there is nothing else.
 */
static void collect_links(gs1_req *g, int lv)
{
	static const char pre[] = "GS1.LINK.";
	level *L = &g->level[lv];
	proto_values_it it = proto_values_begin(idn_slice_of(L->values, L->vlen), L->nvalues);
	proto_value v;
	idn_slice url = {0};
	while (proto_values_next(&it, &v) == 1 && g->nlinks < LINKS_MAX) {
		if (slice_is(v.type, "URL") && !url.p && api_is_http_url(v.data))
			url = v.data;
		if (v.type.len <= sizeof(pre) - 1 || v.type.len - (sizeof(pre) - 1) >= REL_MAX ||
		    memcmp(v.type.p, pre, sizeof(pre) - 1))
			continue;
		link *l = &g->links[g->nlinks];
		memset(l, 0, sizeof(*l));
		memcpy(l->rel, v.type.p + sizeof(pre) - 1, v.type.len - (sizeof(pre) - 1));
		l->level = lv;
		if (token_ok(l->rel, "_-") && link_parse(v.data, l))
			g->nlinks++;
	}
	idn_slice page = idn_slice_of(NULL, 0); /* made when used: page_link */
	idn_slice web = idn_slice_of("Web page", 8);
	if (!has_rel(g, lv, "defaultLink")) {
		add_link(g, lv, "defaultLink", url.p ? url : page, url.p ? web : page);
		if (url.p && !has_rel(g, lv, "pip"))
			add_link(g, lv, "pip", url, web);
	}
	add_link(g, lv, has_rel(g, lv, "pip") ? "describedby" : "pip", page, page);
}

/* A record page link's href and title, made the first time they are needed. */
static void page_link(gs1_req *g, link *l)
{
	if (!l->page)
		return;
	level *L = &g->level[l->level];
	if (!L->page[0]) {
		char base[GS1_STEM_MAX + 2];
		size_t o = 0, hl = strlen(L->handle);
		puts_(base, sizeof(base), &o, g->base);
		put(base, sizeof(base), &o, "/", 1);
		if (label_url(base, idn_slice_of(L->handle, hl), L->page, sizeof(L->page)) < 0)
			L->page[0] = 0;
		o = 0;
		put(L->page_title, sizeof(L->page_title), &o, "Record ", 7);
		put(L->page_title, sizeof(L->page_title), &o, L->handle, hl);
	}
	l->href = idn_slice_of(L->page, strlen(L->page));
	l->title = idn_slice_of(L->page_title, strlen(L->page_title));
	l->page = false;
}

static void page_links(gs1_req *g)
{
	for (int i = 0; i < g->nlinks; i++)
		page_link(g, &g->links[i]);
}

/* ---- negotiation ---- */

typedef struct pref {
	char tag[64];
	double q;
} pref;

/* An Accept or Accept-Language header as (tag, q) pairs; the count. */
static int prefs_parse(const http_req *req, const char *name, pref *out, int max)
{
	idn_slice h;
	if (!http_req_header(req, name, &h))
		return 0;
	int n = 0;
	for (const uint8_t *p = h.p, *end = h.p + h.len; p < end && n < max;) {
		const uint8_t *c = memchr(p, ',', (size_t)(end - p)), *e = c ? c : end;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		const uint8_t *semi = p < e ? memchr(p, ';', (size_t)(e - p)) : NULL;
		const uint8_t *te = semi ? semi : e;
		while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		pref *f = &out[n];
		f->q = 1;
		if (te > p && (size_t)(te - p) < sizeof(f->tag)) {
			memcpy(f->tag, p, (size_t)(te - p));
			f->tag[te - p] = 0;
			const uint8_t *qp = semi ? memmem(semi, (size_t)(e - semi), "q=", 2) : NULL;
			if (qp) {
				char qb[8] = {0};
				memcpy(qb, qp + 2,
				       (size_t)(e - qp - 2) < 7 ? (size_t)(e - qp - 2) : 7);
				f->q = strtod(qb, NULL);
			}
			n++;
		}
		p = c ? c + 1 : end;
	}
	return n;
}

/* The q of the best entry of prefs matching one of the comma-separated items of have. */
static double match_q(const char *have, const pref *prefs, int n, bool lang)
{
	double best = -1;
	for (const char *h = have; *h;) {
		size_t hl = strcspn(h, ",");
		for (int i = 0; i < n; i++) {
			const char *t = prefs[i].tag;
			size_t tl = strlen(t);
			const char *slash = strchr(t, '/');
			bool m = !strcmp(t, "*") || !strcmp(t, "*/*") ||
			         (tl == hl && !strncasecmp(t, h, hl)) ||
			         (lang && tl < hl && h[tl] == '-' && !strncasecmp(t, h, tl)) ||
			         (lang && hl < tl && t[hl] == '-' && !strncasecmp(t, h, hl)) ||
			         (!lang && slash && !strcmp(slash, "/*") &&
			          !strncasecmp(t, h, (size_t)(slash - t + 1)));
			if (m && prefs[i].q > best)
				best = prefs[i].q + (tl == hl ? 0.001 : 0);
		}
		h += hl + (h[hl] == ',');
	}
	return best;
}

/*
 * How well a link's languages or media types suit the request: 1 when the
 * request or the link says none, 2 + q when one matches, 0 when none does.
 */
static double suit(const char *have, const pref *prefs, int n, bool lang)
{
	if (!n || !have[0])
		return 1;
	double q = match_q(have, prefs, n, lang);
	return q > 0 ? 2 + q : 0;
}

/*
 * The link of rel that suits the request best, or -1: the most specific
 * level that has one; among its links, languages first (Accept-Language),
 * then media types (Accept); the first listed on a tie.
 */
static int choose(const gs1_req *g, const http_req *req, const char *rel)
{
	pref langs[LANGS_MAX], types[LANGS_MAX];
	int nl = -1, nt = -1; /* the headers parsed only when links of rel compete */
	for (int lv = 0; lv < g->nlevel; lv++) {
		int best = -1, n = 0;
		double bs = -1;
		for (int i = 0; i < g->nlinks; i++)
			if (g->links[i].level == lv && !strcmp(g->links[i].rel, rel) && !n++)
				best = i;
		if (n == 1)
			return best;
		if (n && nl < 0) {
			nl = prefs_parse(req, "accept-language", langs, LANGS_MAX);
			nt = prefs_parse(req, "accept", types, LANGS_MAX);
		}
		for (int i = 0; n && i < g->nlinks; i++) {
			const link *l = &g->links[i];
			if (l->level != lv || strcmp(l->rel, rel))
				continue;
			double s =
			    suit(l->lang, langs, nl, true) * 10 + suit(l->type, types, nt, false);
			if (s > bs)
				bs = s, best = i;
		}
		if (best >= 0)
			return best;
	}
	return -1;
}

/* ---- answers ---- */

/* One link object of a linkset: href, title, type, hreflang. */
static json_t *link_json(const link *l)
{
	json_t *o = json_object();
	json_object_set_new(o, "href", json_stringn((const char *)l->href.p, l->href.len));
	json_t *t = l->title.len ? json_stringn((const char *)l->title.p, l->title.len) : NULL;
	json_object_set_new(o, "title", t ? t : json_string(l->rel));
	if (l->type[0])
		json_object_set_new(o, "type", json_string(l->type));
	if (l->lang[0]) {
		json_t *hl = json_array();
		for (const char *p = l->lang; *p;) {
			size_t n = strcspn(p, ",");
			json_array_append_new(hl, json_stringn(p, n));
			p += n + (p[n] == ',');
		}
		json_object_set_new(o, "hreflang", hl);
	}
	return o;
}

/* A linkset (RFC 9264 JSON): one context object per level that has a record. */
static void linkset(http_resp *r, const gs1_req *g)
{
	json_t *doc = json_object(), *ls = json_array();
	for (int lv = 0; lv < g->nlevel; lv++) {
		if (!g->level[lv].values && !(lv == 0 && g->handled))
			continue;
		json_t *ctx = json_object();
		json_object_set_new(ctx, "anchor", json_string(g->level[lv].anchor));
		for (int i = 0; i < g->nlinks; i++) {
			const link *l = &g->links[i];
			if (l->level != lv)
				continue;
			char rel[sizeof(voc) + REL_MAX];
			snprintf(rel, sizeof(rel), "%s%s", strcmp(l->rel, "describedby") ? voc : "",
			         l->rel);
			json_t *arr = json_object_get(ctx, rel);
			if (!arr)
				json_object_set_new(ctx, rel, arr = json_array());
			json_array_append_new(arr, link_json(l));
		}
		if (g->compressed && lv == 0) {
			json_t *same = json_array(), *so = json_object();
			json_object_set_new(so, "href", json_string(g->level[0].anchor));
			json_array_append_new(same, so);
			json_object_set_new(ctx, "http://www.w3.org/2002/07/owl#sameAs", same);
		}
		json_array_append_new(ls, ctx);
	}
	json_object_set_new(doc, "linkset", ls);
	json_answer(r, doc, "application/linkset+json");
}

/* Text fit for a quoted header parameter: printable ASCII and UTF-8, no quote or backslash. */
static bool hdr_text(idn_slice s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] < 0x20 || s.p[i] == 0x7f || s.p[i] == '"' || s.p[i] == '\\')
			return false;
	return true;
}

/* ", <href>; rel=...; hreflang=...; type=...; title=..." of l into out; its length or -1. */
static int link_param(const link *l, char *out, size_t cap)
{
	bool t = l->title.len && l->title.len < 256 && hdr_text(l->title);
	if (strchr(l->lang, ','))
		return -1; /* several languages: the linkset in the body has it */
	return snprintf(out, cap, ", <%.*s>; rel=\"%s%s\"%s%s%s%s%s%s%s%.*s%s", (int)l->href.len,
	                (const char *)l->href.p, strcmp(l->rel, "describedby") ? voc : "", l->rel,
	                l->lang[0] ? "; hreflang=\"" : "", l->lang, l->lang[0] ? "\"" : "",
	                l->type[0] ? "; type=\"" : "", l->type, l->type[0] ? "\"" : "",
	                t ? "; title=\"" : "", t ? (int)l->title.len : 0,
	                t ? (const char *)l->title.p : "", t ? "\"" : "");
}

/*
 * The Link header: the linkset, the uncompressed URI of a compressed request
 * (owl:sameAs); with all, the JSON-LD context and the links themselves (as
 * many as fit).
 */
static void link_header(http_resp *r, const gs1_req *g, bool all)
{
	const char *anchor = g->level[0].anchor;
	char h[GS1_URI_MAX + LINK_HDR_MAX];
	/* Location and the headers already there come first: the Link header is a SHOULD. */
	size_t used = strlen(tl_hdrs) + strlen(r->location) + 16;
	size_t max = used >= HDRS_BUDGET ? 0 : HDRS_BUDGET - used;
	max = max < LINK_HDR_MAX ? max : LINK_HDR_MAX;
	size_t len = 0, al = strlen(anchor);
	if (!puts_(h, max, &len, "Link: <") || !put(h, max, &len, anchor, al) ||
	    !puts_(h, max, &len,
	           "?linkType=linkset>; rel=\"linkset\"; type=\"application/linkset+json\""))
		return;
	size_t keep = len;
	if (g->compressed && (!puts_(h, max, &len, ", <") || !put(h, max, &len, anchor, al) ||
	                      !puts_(h, max, &len, ">; rel=\"owl:sameAs\"")))
		h[len = keep] = 0;
	if (all)
		puts_(h, max, &len,
		      ", <https://ref.gs1.org/standards/resolver/linkset-context>; "
		      "rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"");
	char one[URL_CAP + 512];
	int n;
	for (int i = 0; all && i < g->nlinks; i++) {
		n = link_param(&g->links[i], one, sizeof(one));
		if (n > 0 && len + (size_t)n < max)
			memcpy(h + len, one, (size_t)n + 1), len += (size_t)n;
	}
	memcpy(h + len, "\r\n", 3);
	hdr_add(r, h, len + 2);
}

/* 307 to l's target, the request's query string passed on. */
static void redirect(http_resp *r, const http_req *req, const gs1_req *g, const link *l)
{
	r->status = 307;
	r->content_type = "text/html; charset=utf-8";
	size_t o = 0, cap = sizeof(r->location);
	r->location[0] = 0;
	put(r->location, cap, &o, l->href.p, l->href.len);
	size_t keep = o;
	if (req->query.len &&
	    (!puts_(r->location, cap, &o, memchr(l->href.p, '?', l->href.len) ? "&" : "?") ||
	     !put(r->location, cap, &o, req->query.p, req->query.len)))
		r->location[keep] = 0; /* too long with the query: the link alone */
	http_resp_puts(r, "<!doctype html><title>Redirect</title><a href=\"");
	api_html(r, idn_slice_of(r->location, strlen(r->location)));
	http_resp_puts(r, "\">Moved here</a>");
	hdr_begin(r);
	link_header(r, g, false);
}

typedef struct lt_arg {
	char *out;
	size_t cap;
	int ret;
} lt_arg;

static int lt_cb(void *arg, idn_slice name, idn_slice value)
{
	lt_arg *a = arg;
	if (!api_name_is(name, "linkType"))
		return 0;
	int n = api_pct_decode(value, true, (uint8_t *)a->out, a->cap - 1);
	if (n <= 0) {
		a->ret = -1;
		return 1;
	}
	a->out[n] = 0;
	static const char *const pre[] = {"gs1:", "https://gs1.org/voc/",
	                                  "https://ref.gs1.org/voc/", "http://gs1.org/voc/"};
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t pl = strlen(pre[i]);
		if (!strncmp(a->out, pre[i], pl)) {
			memmove(a->out, a->out + pl, strlen(a->out + pl) + 1);
			break;
		}
	}
	if (!a->out[0] || !token_ok(a->out, "_-"))
		a->ret = -1;
	return 1;
}

/* The linkType asked for, as a GS1 vocabulary term ("pip"), "all", or "" when none; -1 if bad. */
static int link_type(const http_req *req, char *out, size_t cap)
{
	out[0] = 0;
	lt_arg a = {out, cap, 0};
	api_query_each(req->query, lt_cb, &a);
	return a.ret;
}

/* The base of the URIs this resolver writes (g->base): --label-base, else http(s)://Host. */
static int base_of(api_worker *w, const http_req *req, gs1_req *g)
{
	char *out = g->base;
	size_t cap = sizeof(g->base);
	idn_slice host = idn_slice_of(NULL, 0);
	bool have = !w->a->nlabel_base && http_req_header(req, "host", &host);
	if (have && g->host_ok && host.len == g->host_len && req->tls == g->host_tls &&
	    !memcmp(host.p, g->host, host.len))
		return 0; /* the same Host as the last request's: its base */
	g->host_ok = false;
	int n = w->a->nlabel_base ? snprintf(out, cap, "%s", w->a->label_base[0])
	        : have            ? label_host_base(req->tls, host, out, cap)
	                          : -1;
	if (n <= 0 || (size_t)n >= cap)
		return -1;
	while (n && out[n - 1] == '/')
		out[--n] = 0;
	if (have && host.len <= sizeof(g->host)) {
		memcpy(g->host, host.p, host.len);
		g->host_len = host.len;
		g->host_tls = req->tls;
		g->host_ok = true;
	}
	return 0;
}

/* Whether the template of r names AI ai. */
static bool names_ai(const gs1_rule *r, const char *ai)
{
	size_t n = strlen(ai);
	for (const char *p = strchr(r->tmpl, '{'); p; p = strchr(p + 1, '{'))
		if (!strncmp(p + 1, ai, n) && p[n + 1] == '}')
			return true;
	return false;
}

/* Level lv of g->dl (its key and first qualifiers, no query) in g->tmp. */
static const gs1_dl *level_dl(gs1_req *g, int lv)
{
	gs1_dl *d = &g->tmp;
	d->key = g->dl.key;
	d->nqual = g->dl.nqual - lv;
	memcpy(d->qual, g->dl.qual, sizeof(d->qual[0]) * (size_t)d->nqual);
	d->nattr = d->nother = 0; /* d->stem: g->base (answer) */
	return d;
}

/*
 * The whole key's canonical URI without building it, when the request's path
 * already is canonical: no stem, nothing percent-encoded (every byte a
 * letter, digit, - . _ or /), a key value not lengthened (a GTIN-13 becomes
 * a GTIN-14); the parser has checked the qualifiers' order. base + path.
 */
static bool anchor_as_sent(const gs1_req *g, char *out, size_t cap)
{
	static const bool ok[256] = {
	    ['A' ... 'Z'] = true, ['a' ... 'z'] = true, ['0' ... '9'] = true, ['-'] = true,
	    ['.'] = true,         ['/'] = true,         ['_'] = true};
	size_t pl = 0, kl = strlen(g->dl.key.ai), o = 0;
	while (ok[(unsigned char)g->uri[pl]])
		pl++;
	if (g->compressed || g->dl.stem[0] || pl < kl + 3 || (g->uri[pl] && g->uri[pl] != '?'))
		return false;
	size_t vl = strcspn(g->uri + kl + 2, "/?"); /* "/01/" then the key's value */
	return vl == strlen(g->dl.key.value) && puts_(out, cap, &o, g->base) &&
	       put(out, cap, &o, g->uri, pl);
}

/* The canonical URI of level lv under this resolver. */
static void level_anchor(gs1_req *g, int lv)
{
	level *L = &g->level[lv];
	if (lv == 0 && anchor_as_sent(g, L->anchor, sizeof(L->anchor)))
		return;
	if (gs1_dl_build(level_dl(g, lv), L->anchor, sizeof(L->anchor)) < 0)
		snprintf(L->anchor, sizeof(L->anchor), "%s", g->base);
}

static int search_hit(void *arg, idn_slice id)
{
	level *L = arg;
	if (id.len < sizeof(L->handle)) {
		memcpy(L->handle, id.p, id.len);
		L->handle[id.len] = 0;
	}
	return 1; /* the first is enough */
}

/*
 * A search rule (api_gs1_rule_is_search): the identifier under the rule's
 * prefix holding a public GS1 value equal to d's path, found through this
 * node's search index. Nothing when the node has no store or no index: the
 * rule applies where the identifiers are.
 */
static void search_level(api_worker *w, gs1_req *g, const gs1_rule *r, level *L)
{
	gs1_dl *d = &g->tmp; /* the level's (level_dl) */
	static const char host[] = "https://id.gs1.org";
	char uri[GS1_URI_MAX + 1], why[SEARCH_WHY_MAX];
	char stem[sizeof(d->stem)];
	memcpy(stem, d->stem, sizeof(stem));
	d->stem[0] = 0; /* the canonical URI under id.gs1.org: its path follows the host */
	int n = gs1_dl_build(d, uri, sizeof(uri));
	memcpy(d->stem, stem, sizeof(stem));
	const char *pfx = r->tmpl + sizeof(API_GS1_SEARCH) - 1;
	search_query q;
	search_query_init(&q);
	q.limit = 1;
	search_page pg;
	if (!w->nw || n <= (int)sizeof(host) - 1 || strncmp(uri, host, sizeof(host) - 1) ||
	    search_add_pair(&q, idn_slice_of(API_GS1_VALUE_TYPE, sizeof(API_GS1_VALUE_TYPE) - 1),
	                    idn_slice_of(uri + sizeof(host) - 1, (size_t)n - (sizeof(host) - 1)),
	                    why) ||
	    search_set_prefix(&q, idn_slice_of(pfx, strlen(pfx)), why))
		return;
	node_search(w->nw, idn_slice_of(NULL, 0), 0, &q, w->a->search_scan_max, search_hit, L, &pg);
}

/*
 * Level lv of g->dl (0: the whole key, then without its last qualifier, ...,
 * the key alone) with the identifier the rules map it to: the rules that
 * apply to it and name its last qualifier; among them the one of the
 * longest company prefix. 1 when mapped (g->mapped counts them).
 */
static int map_level(api_worker *w, gs1_req *g, int lv)
{
	level *L = &g->level[lv];
	const gs1_dl *d = level_dl(g, lv);
	size_t best = 0; /* the length of the company prefix of the rule applied */
	const gs1_rule *search = NULL;
	char h[sizeof(L->handle)];
	L->handle[0] = 0;
	for (int i = 0; i < g->rules->n; i++) {
		const gs1_rule *r = &g->rules->r[i];
		size_t gl = strlen(r->gcp);
		int n;
		if (api_gs1_rule_handled_by(r))
			continue; /* handled_by's */
		if (api_gs1_rule_is_search(r)) {
			if (gs1_rule_find(r, 1, d) && (!search || gl > strlen(search->gcp)))
				search = r;
			continue;
		}
		if (gs1_rule_find(r, 1, d) && gl > best &&
		    (!d->nqual || names_ai(r, d->qual[d->nqual - 1].ai)) &&
		    (n = gs1_rule_apply(r, d, h, sizeof(h))) > 0) {
			memcpy(L->handle, h, (size_t)n + 1);
			best = gl;
		}
	}
	if (!L->handle[0] && search)
		search_level(w, g, search, L);
	return L->handle[0] ? (++g->mapped, 1) : 0;
}

/*
 * Resolves the mapped levels' identifiers, the most specific first (copying
 * its values: each resolution reuses the answer buffer), until one has a
 * link of type want (NULL: all of them). 0, or IDN_EAGAIN / an error.
 */
static int resolve_levels(api_worker *w, gs1_req *g, const char *want, http_resp *r)
{
	for (int lv = 0; lv < g->nlevel; lv++) {
		level *L = &g->level[lv];
		if (!map_level(w, g, lv))
			continue;
		idn_slice h = idn_slice_of(L->handle, strlen(L->handle));
		api_answer ans;
		int ret = api_resolve(w, h, NULL, 0, NULL, 0, false, &ans);
		if (ret)
			return ret; /* IDN_EAGAIN: run again by the gateway's threads */
		L->rc = ans.rc;
		L->down = ans.src.down;
		if (ans.rc != PROTO_RC_SUCCESS)
			continue;
		if (!(L->values = malloc(ans.values.len ? ans.values.len : 1)))
			return IDN_ENOMEM;
		memcpy(L->values, ans.values.p, ans.values.len);
		L->vlen = ans.values.len;
		L->nvalues = ans.nvalues;
		if (lv == 0)
			api_source_headers(w, &ans.src, r);
		if (!L->anchor[0])
			level_anchor(g, lv);
		collect_links(g, lv);
		if (want && has_rel(g, lv, want))
			break;
	}
	return 0;
}

/* 404 (or 504 when a node did not answer): why no level has a record. */
static void not_found(http_resp *r, gs1_req *g, int mapped)
{
	char msg[PROTO_HANDLE_MAX + 512];
	const level *L = &g->level[0];
	for (int lv = 0; lv < g->nlevel && !L->handle[0]; lv++)
		L = &g->level[lv];
	if (!mapped)
		snprintf(msg, sizeof(msg),
		         "no enterprise has registered a rule for the company prefix of %s %s "
		         "with this resolver's operator",
		         g->dl.key.ai, g->dl.key.value);
	else
		snprintf(msg, sizeof(msg),
		         L->down ? "the node holding identifier %s did not answer"
		         : L->rc == PROTO_RC_HANDLE_NOT_FOUND
		             ? "this GS1 key maps to identifier %s, which is not registered"
		             : "identifier %s did not resolve",
		         L->handle);
	fail(r, g, L->down ? 504 : 404, PROTO_RC_HANDLE_NOT_FOUND, "No link for this GS1 key", msg);
}

/*
 * The handledBy rule of the request's key (api_gs1_rule_handled_by): among
 * the rules for the key, the one of the longest company prefix, when that is
 * a handledBy rule (it wins a tie with a mapping rule); NULL when none.
 */
static const gs1_rule *handled_by(const gs1_req *g)
{
	const gs1_rule *hb = NULL;
	size_t best = 0, hbl = 0;
	for (int i = 0; i < g->rules->n; i++) {
		const gs1_rule *r = &g->rules->r[i];
		if (!gs1_rule_find(r, 1, &g->dl))
			continue;
		size_t gl = strlen(r->gcp);
		if (api_gs1_rule_handled_by(r) && gl > hbl)
			hb = r, hbl = gl;
		else if (!api_gs1_rule_handled_by(r) && gl > best)
			best = gl;
	}
	return hb && hbl >= best ? hb : NULL;
}

/*
 * Another resolver handles the key's company prefix (gs1:handledBy): a 307
 * there without further processing (its URL, then the request's path and
 * query), or with linkType=linkset a linkset whose links are the item's URI
 * there, as gs1:handledBy and as the default link.
 */
static void handled(http_resp *r, const http_req *req, gs1_req *g, const gs1_rule *hb, bool all)
{
	const char *url = api_gs1_rule_handled_by(hb);
	size_t ul = strlen(url), o = 0;
	while (ul && url[ul - 1] == '/')
		ul--;
	if (!put(g->handled_at, sizeof(g->handled_at), &o, url, ul) ||
	    !put(g->handled_at, sizeof(g->handled_at), &o, req->path.p, req->path.len))
		g->handled_at[ul] = 0; /* too long with the path: the resolver itself */
	g->handled = true;
	idn_slice at = idn_slice_of(g->handled_at, strlen(g->handled_at));
	add_link(g, 0, "handledBy", at, idn_slice_of("Resolver that handles this item", 31));
	add_link(g, 0, "defaultLink", at, idn_slice_of("Resolver that handles this item", 31));
	g->links[0].type[0] = 0;
	if (all) {
		linkset(r, g);
		hdr_begin(r);
		link_header(r, g, true);
		return;
	}
	redirect(r, req, g, &g->links[0]);
}

/* The answer of a parsed DL: links from the levels' identifiers. */
static int answer(api_worker *w, const http_req *req, gs1_req *g, const char *lt, http_resp *r)
{
	int ret = api_gs1_rules_get(w, &g->rules);
	if (ret)
		return ret;
	/* The levels: each mapped (map_level) as it is reached (resolve_levels). */
	g->nlevel = g->dl.nqual + 1;
	g->mapped = 0;
	size_t o = 0;
	g->tmp.stem[0] = 0;
	puts_(g->tmp.stem, sizeof(g->tmp.stem), &o, g->base);
	for (int lv = 0; lv < g->nlevel; lv++) {
		level *L = &g->level[lv];
		L->values = NULL;
		L->rc = 0;
		L->down = false;
		L->handle[0] = L->page[0] = L->page_title[0] = L->anchor[0] = 0;
	}
	level_anchor(g, 0);
	bool all = !strcmp(lt, "all") || !strcmp(lt, "linkset") ||
	           (!lt[0] && accepts(req, "application/linkset+json"));
	const gs1_rule *hb = handled_by(g);
	if (hb) {
		handled(r, req, g, hb, all);
		return 0;
	}
	if ((ret = resolve_levels(w, g, all ? NULL : lt[0] ? lt : "defaultLink", r)))
		return ret;
	if (!g->nlinks) {
		not_found(r, g, g->mapped);
		return 0;
	}
	if (all) {
		page_links(g);
		linkset(r, g);
		hdr_begin(r);
		link_header(r, g, true);
		return 0;
	}
	int i = choose(g, req, lt[0] ? lt : "defaultLink");
	if (i < 0) {
		char msg[REL_MAX + 128];
		snprintf(msg, sizeof(msg),
		         "no link of type gs1:%s for this item (?linkType=linkset lists its links)",
		         lt);
		fail(r, g, 404, PROTO_RC_VALUE_NOT_FOUND, "No link of this type", msg);
		link_header(r, g, false);
		return 0;
	}
	page_link(g, &g->links[i]);
	redirect(r, req, g, &g->links[i]);
	return 0;
}

/* The request's URI, a trailing '/' of the path dropped (tolerated). */
static bool request_uri(const http_req *req, char *out, size_t cap)
{
	if (!target_str(req, out, cap))
		return false;
	size_t pl = req->path.len;
	if (pl > 1 && out[pl - 1] == '/')
		memmove(out + pl - 1, out + pl, strlen(out + pl) + 1);
	return true;
}

int api_gs1(api_worker *w, const http_req *req, http_resp *r)
{
	tl_hdrs[0] = 0;
	r->extra_headers = NULL;
	if (!strcmp(req->method, "OPTIONS")) {
		r->status = 204;
		r->len = 0;
		hdr_begin(r);
		hdr_line(r, cors_preflight);
		return 0;
	}
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		fail(r, NULL, 405, PROTO_RC_OPERATION_NOT_SUPPORTED, "",
		     "a GS1 resolver answers GET, HEAD and OPTIONS");
		hdr_line(r, "Allow: GET, HEAD, OPTIONS\r\n");
		return 0;
	}
	/* Large (45 KB): the worker's, kept; only what is read is set. */
	gs1_req *g = api_gs1_scratch(w, sizeof(*g));
	if (!g)
		return IDN_ENOMEM;
	g->nlevel = g->nlinks = 0;
	g->compressed = g->handled = false;
	g->html = accepts(req, "text/html");
	int ret = 0;
	char lt[REL_MAX + 32], err[256];
	if (base_of(w, req, g)) {
		fail(r, g, 400, PROTO_RC_PROTOCOL_ERROR, "Bad request",
		     "Host: missing or not HOST[:PORT]; this resolver's URIs are made from it");
	} else if (slice_is(req->path, well_known)) {
		describe(r, g->base);
	} else if (!request_uri(req, g->uri, sizeof(g->uri))) {
		fail(r, g, 400, PROTO_RC_INVALID_HANDLE, "Not a GS1 Digital Link URI",
		     "the URI is longer than 4096 characters");
	} else if (gs1_dl_parse(g->uri, &g->dl, err, sizeof(err))) {
		fail(r, g, 400, PROTO_RC_INVALID_HANDLE, "Not a GS1 Digital Link URI", err);
	} else if (link_type(req, lt, sizeof(lt))) {
		fail(r, g, 400, PROTO_RC_INVALID_VALUE, "Not a GS1 Digital Link URI",
		     "linkType: expected linkset, all, or a link type such as gs1:pip");
	} else {
		size_t pl = strcspn(g->uri, "?");
		g->compressed = !memchr(g->uri + 1, '/', pl > 1 ? pl - 1 : 0);
		ret = answer(w, req, g, lt, r);
	}
	for (int lv = 0; lv < g->nlevel; lv++)
		free(g->level[lv].values);
	return ret;
}
