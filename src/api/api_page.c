/*
 * api_page.c - the proxy: GET /{handle} redirects to the identifier's URL or
 * renders its record page (for people who scanned a QR code on a product).
 *
 * The redirect target is chosen as the reference proxy does: a 10320/loc
 * value's <location> entries by weight (weight="0" never, default 1), else
 * the first URL value; HS_ALIAS is followed first (a bounded number of hops).
 * Only an absolute http(s) URL with a host is redirected to (is_http_url);
 * any other (javascript:, data:, //host, control bytes or spaces, too long)
 * is shown on the page instead, counted as LIM_REDIRECT_SCHEME.
 *
 * A record naming a template (index 1001, type TEMPLATE) gets a section
 * listing the template's fields in its order; the registering enterprise is
 * the record's "manufacturer" value, else the desc attribute of the prefix's
 * HS_SITE at 0.NA/<prefix> when this node has it, else the prefix itself.
 *
 * Everything taken from a value goes through api_html(); only http(s) URLs
 * become links; the page carries a Content-Security-Policy that forbids
 * scripts, so even a missed escape could not run code.
 */
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/routes.h"
#include "core/limit.h"
#include "proto/handle.h"
#include "node/template.h"
#include "proto/reserved.h"

enum { MAX_ALIAS_HOPS = 8, URL_MAX = 2048 };

static const char page_csp[] =
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:\r\n"
    "X-Content-Type-Options: nosniff\r\n";

static bool type_eq(idn_slice t, const char *s)
{
	size_t n = strlen(s);
	return t.len == n && !memcmp(t.p, s, n);
}

/* Shown as text: valid UTF-8 without NUL bytes. */
static bool text_ok(idn_slice d)
{
	return handle_utf8_valid(d) && !memchr(d.p, 0, d.len);
}

/*
 * The one rule for a URL the proxy redirects to or a page links to: an
 * absolute http:// or https:// URL with a host, no control byte, space or
 * DEL anywhere (so a Location header cannot be split), shorter than
 * URL_MAX. javascript:, data:, vbscript:, file: and scheme-relative //host
 * are not.
 */
static bool is_http_url(idn_slice d)
{
	size_t at = d.len > 7 && !strncasecmp((const char *)d.p, "http://", 7)    ? 7
	            : d.len > 8 && !strncasecmp((const char *)d.p, "https://", 8) ? 8
	                                                                          : 0;
	if (!at || d.len >= URL_MAX)
		return false;
	for (size_t i = 0; i < d.len; i++)
		if (d.p[i] <= ' ' || d.p[i] == 0x7f)
			return false;
	/* The host: after any user info, before the port, path, query or fragment. */
	size_t host = at, end = at;
	for (; end < d.len && !memchr("/?#\\", d.p[end], 4); end++)
		if (d.p[end] == '@')
			host = end + 1;
	return host < end && d.p[host] != ':';
}

/* Value of attribute name="..." inside one tag [p, end); decoded into out. */
static int xml_attr(const uint8_t *p, const uint8_t *end, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	for (const uint8_t *a = p; a + n + 2 < end; a++) {
		if (memcmp(a, name, n) || a[n] != '=' || (a[n + 1] != '"' && a[n + 1] != '\'') ||
		    (a > p && a[-1] != ' ' && a[-1] != '\t' && a[-1] != '\n'))
			continue;
		uint8_t q = a[n + 1];
		const uint8_t *v = a + n + 2, *ve = memchr(v, q, (size_t)(end - v));
		if (!ve)
			return -1;
		static const struct {
			const char *ent;
			char ch;
		} ents[] = {{"&amp;", '&'},
		            {"&lt;", '<'},
		            {"&gt;", '>'},
		            {"&quot;", '"'},
		            {"&apos;", '\''}};
		size_t o = 0;
		while (v < ve && o + 1 < cap) {
			char ch = (char)*v++;
			for (size_t e = 0; ch == '&' && e < sizeof(ents) / sizeof(ents[0]); e++) {
				size_t el = strlen(ents[e].ent);
				if ((size_t)(ve - v + 1) >= el && !memcmp(v - 1, ents[e].ent, el)) {
					ch = ents[e].ch;
					v += el - 1;
					break;
				}
			}
			out[o++] = ch;
		}
		out[o] = 0;
		return (int)o;
	}
	return -1;
}

/* Picks a location href from 10320/loc XML, by weight. */
static int loc_choose(idn_slice xml, char *out, size_t cap)
{
	const uint8_t *p = xml.p, *end = xml.p + xml.len;
	double total = 0, pick = -1;
	/* Two passes: sum the weights, then walk to the drawn one. */
	for (int pass = 0; pass < 2; pass++) {
		double acc = 0;
		for (const uint8_t *t = p; t < end;) {
			const uint8_t *tag = memmem(t, (size_t)(end - t), "<location", 9);
			if (!tag)
				break;
			const uint8_t *te = memchr(tag, '>', (size_t)(end - tag));
			if (!te)
				break;
			char wbuf[32], href[URL_MAX];
			double w = 1;
			if (xml_attr(tag + 9, te, "weight", wbuf, sizeof(wbuf)) >= 0)
				w = strtod(wbuf, NULL);
			if (!(w >= 0))
				w = 0;
			int hl = xml_attr(tag + 9, te, "href", href, sizeof(href));
			t = te + 1;
			if (hl <= 0 || w == 0)
				continue;
			acc += w;
			if (pass == 1 && pick < acc) {
				snprintf(out, cap, "%s", href);
				return hl;
			}
		}
		if (pass == 0) {
			total = acc;
			if (total <= 0)
				return -1;
			pick = total * ((double)(rand() & 0x7fffffff) / 2147483648.0);
		}
	}
	return -1;
}

/* The redirect target: 10320/loc, else the first URL value. */
static int choose_url(const api_answer *ans, char *out, size_t cap)
{
	proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
	proto_value v;
	idn_slice first_url = {0};
	while (proto_values_next(&it, &v) == 1) {
		if (type_eq(v.type, "10320/loc")) {
			int n = loc_choose(v.data, out, cap);
			if (n > 0)
				return n;
		}
		if (type_eq(v.type, "URL") && !first_url.p && v.data.len && v.data.len < cap)
			first_url = v.data;
	}
	if (!first_url.p)
		return -1;
	memcpy(out, first_url.p, first_url.len);
	out[first_url.len] = 0;
	return (int)first_url.len;
}

/* The target of an HS_ALIAS value, if any. */
static bool find_alias(const api_answer *ans, idn_slice *target)
{
	proto_values_match aliases = {.type = IDN_SLICE("HS_ALIAS")};
	proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
	proto_value v;
	while (proto_values_find(&it, &aliases, &v) == 1)
		if (v.data.len) {
			*target = proto_serv_handle(v.data);
			return true;
		}
	return false;
}

/*
 * What the page shows besides the record's values. Gathered before rendering
 * because each resolution reuses the worker's answer buffer: everything here
 * is owned (t by tmpl_free) or borrowed from the caller's copy of the record.
 */
typedef struct page_extra {
	tmpl *t;         /* the record's template; NULL when none or unusable */
	char tname[256]; /* its "name" for people, else its identifier */
	idn_slice maker; /* the enterprise: borrowed from the record, or from site_desc */
	char site_desc[256];
	const char *maker_from; /* "manufacturer", "prefix site" or "prefix" */
} page_extra;

/* The first value of type t at index >= min_index, if any. */
static bool find_value(idn_slice values, uint32_t n, const char *t, uint32_t min_index,
                       proto_value *out)
{
	proto_values_match of_type = {.type = idn_slice_of(t, strlen(t))};
	proto_values_it it = proto_values_begin(values, n);
	proto_value v;
	while (proto_values_find(&it, &of_type, &v) == 1)
		if (v.index >= min_index) {
			*out = v;
			return true;
		}
	return false;
}

/*
 * The template named by the record (rec's values stay valid: they are a
 * copy). IDN_EAGAIN: not cached on a gateway (api_resolve), else 0.
 */
static int gather_template(api_worker *w, const api_answer *rec, page_extra *x)
{
	proto_value ref;
	uint8_t th[PROTO_HANDLE_MAX];
	if (!find_value(rec->values, rec->nvalues, TMPL_REF_TYPE, 0, &ref) ||
	    ref.index != TMPL_INDEX || ref.data.len == 0 || ref.data.len > sizeof(th))
		return 0;
	memcpy(th, ref.data.p, ref.data.len);
	idn_slice tname = idn_slice_of(th, ref.data.len);
	idn_slice want = idn_slice_of(TMPL_DEF_TYPE, strlen(TMPL_DEF_TYPE));
	api_answer tans;
	proto_value def;
	char err[160];
	int ret = api_resolve(w, tname, NULL, 0, &want, 1, false, &tans);
	if (ret == IDN_EAGAIN)
		return ret;
	if (ret || tans.rc != PROTO_RC_SUCCESS ||
	    !find_value(tans.values, tans.nvalues, TMPL_DEF_TYPE, 0, &def) ||
	    tmpl_parse(def.data, &x->t, err, sizeof(err)))
		return 0;
	/* tmpl keeps no display name; the definition is already known to be valid JSON. */
	json_t *root = json_loadb((const char *)def.data.p, def.data.len, 0, NULL);
	const char *name = json_string_value(json_object_get(root, "name"));
	if (name && name[0])
		snprintf(x->tname, sizeof(x->tname), "%s", name);
	else
		snprintf(x->tname, sizeof(x->tname), "%.*s", (int)tname.len, (const char *)tname.p);
	json_decref(root);
	return 0;
}

/*
 * The registering enterprise: manufacturer, else the prefix's site desc,
 * else the prefix. IDN_EAGAIN: not cached on a gateway, else 0.
 */
static int gather_maker(api_worker *w, const api_answer *rec, idn_slice h, page_extra *x)
{
	proto_value m;
	if (find_value(rec->values, rec->nvalues, "manufacturer", 0, &m) && m.data.len &&
	    text_ok(m.data)) {
		x->maker = m.data;
		x->maker_from = "manufacturer";
		return 0;
	}
	const uint8_t *slash = memchr(h.p, '/', h.len);
	if (!slash)
		return 0;
	idn_slice prefix = idn_slice_of(h.p, (size_t)(slash - h.p));
	x->maker = prefix;
	x->maker_from = "prefix";
	char na[PROTO_HANDLE_MAX + 8];
	int nl = snprintf(na, sizeof(na), "0.NA/%.*s", (int)prefix.len, (const char *)prefix.p);
	if (nl <= 0 || (size_t)nl >= sizeof(na))
		return 0;
	idn_slice want = idn_slice_of("HS_SITE", 7);
	api_answer sans;
	int ret = api_resolve(w, idn_slice_of(na, (size_t)nl), NULL, 0, &want, 1, false, &sans);
	if (ret == IDN_EAGAIN)
		return ret;
	if (ret || sans.rc != PROTO_RC_SUCCESS)
		return 0;
	proto_values_match sites = {.type = want};
	proto_values_it it = proto_values_begin(sans.values, sans.nvalues);
	proto_value v;
	while (proto_values_find(&it, &sites, &v) == 1) {
		proto_site site;
		idn_slice desc;
		if (proto_site_decode(v.data, &site) ||
		    proto_site_attr_get(&site, idn_slice_of("desc", 4), &desc) != 1 || !desc.len ||
		    desc.len >= sizeof(x->site_desc) || !text_ok(desc))
			continue;
		memcpy(x->site_desc, desc.p, desc.len);
		x->maker = idn_slice_of(x->site_desc, desc.len);
		x->maker_from = "prefix site";
		return 0;
	}
	return 0;
}

static const char page_head[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>";

static const char page_style[] =
    "</title><style>"
    "body{font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "background:#f4f6f8;color:#1d2630}"
    "main{max-width:860px;margin:0 auto;padding:16px}"
    "h1{font-size:1.35em;word-break:break-all;margin:.4em 0}"
    ".meta{color:#56636f;margin:0 0 1em}"
    "table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;"
    "overflow:hidden;box-shadow:0 1px 3px rgba(0,0,0,.08)}"
    "th,td{text-align:left;padding:10px 12px;border-bottom:1px solid #e6e9ec;"
    "vertical-align:top;word-break:break-word}"
    "thead th{background:#e9eef3;font-size:.85em;text-transform:uppercase;color:#56636f}"
    "td.idx{color:#56636f;width:4em}code{font-size:.85em;word-break:break-all}"
    "a{color:#0b62c4}h2{font-size:1.1em;margin:1.2em 0 .5em}"
    "#fields{margin-bottom:8px}td.missing{color:#9a6700;font-style:italic}"
    ".qr{background:#fff;border-radius:8px;padding:12px;margin:16px 0;text-align:center}"
    ".qr svg{width:200px;height:200px}.qr p{font-size:.85em;word-break:break-all;margin:.4em 0 0}"
    "@media (max-width:600px){thead{display:none}table,tbody,tr,td{display:block;width:auto}"
    "tr{border-bottom:1px solid #e6e9ec;padding:6px 0}td{border:0;padding:2px 12px}"
    "td.idx{width:auto}td.type{font-weight:600}}"
    "</style></head><body><main>";

static void page_begin(http_resp *r, idn_slice title)
{
	r->content_type = "text/html; charset=utf-8";
	r->extra_headers = page_csp;
	r->len = 0;
	http_resp_puts(r, page_head);
	api_html(r, title);
	http_resp_puts(r, page_style);
}

static void page_end(http_resp *r)
{
	http_resp_puts(r, "</main></body></html>");
}

static void qr_svg(http_resp *r, const char *text)
{
	QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	if (!q)
		return;
	int w = q->width, quiet = 4;
	http_resp_printf(
	    r,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	    "role=\"img\" aria-label=\"QR code\" shape-rendering=\"crispEdges\">"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	    w + 2 * quiet, w + 2 * quiet);
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w; x++)
			if (q->data[y * w + x] & 1)
				http_resp_printf(r, "M%d %dh1v1h-1z", x + quiet, y + quiet);
	http_resp_puts(r, "\"/></svg>");
	QRcode_free(q);
}

/* The absolute proxy URL of handle, for the QR code; Host is checked first. */
static void page_url(const http_req *req, idn_slice handle, char *out, size_t cap)
{
	idn_slice host;
	size_t o = 0;
	bool ok = http_req_header(req, "host", &host) && host.len && host.len < 256;
	for (size_t i = 0; ok && i < host.len; i++) {
		uint8_t ch = host.p[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':' || ch == '[' ||
		     ch == ']';
	}
	if (ok)
		o = (size_t)snprintf(out, cap, "%s://%.*s/", req->tls ? "https" : "http",
		                     (int)host.len, (const char *)host.p);
	else
		o = (size_t)snprintf(out, cap, "hdl:");
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < handle.len && o + 4 < cap; i++) {
		uint8_t ch = handle.p[i];
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || strchr("-._~/", ch);
		if (plain && ch) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = 0;
}

static void value_cell(http_resp *r, const proto_value *v)
{
	if (type_eq(v->type, "HS_ADMIN")) {
		proto_admin a;
		if (proto_admin_decode(v->data, &a) == 0) {
			http_resp_puts(r, "admin ");
			api_html(r, a.handle);
			http_resp_printf(r, " (index %u, rights 0x%03x)", a.index, a.rights);
			return;
		}
	}
	if (is_http_url(v->data) && text_ok(v->data)) {
		http_resp_puts(r, "<a rel=\"nofollow noopener\" href=\"");
		api_html(r, v->data);
		http_resp_puts(r, "\">");
		api_html(r, v->data);
		http_resp_puts(r, "</a>");
		return;
	}
	if (text_ok(v->data)) {
		api_html(r, v->data);
		return;
	}
	http_resp_printf(r, "<code>%zu bytes: ", (size_t)v->data.len);
	api_base64(r, idn_slice_of(v->data.p, v->data.len > 96 ? 96 : v->data.len));
	http_resp_puts(r, v->data.len > 96 ? "&hellip;</code>" : "</code>");
}

/* The template's fields in its order, with the record's values (index >= 2000). */
static void fields_section(http_resp *r, const api_answer *ans, const page_extra *x)
{
	http_resp_puts(r, "<h2 id=\"template\">");
	api_html(r, idn_slice_of(x->tname, strlen(x->tname)));
	http_resp_puts(r, "</h2><table id=\"fields\"><thead><tr><th>Field</th><th>Value</th>"
	                  "</tr></thead><tbody>");
	for (size_t i = 0; i < tmpl_nfields(x->t); i++) {
		const char *name = tmpl_field_name(x->t, i);
		proto_value v;
		http_resp_puts(r, "<tr><td class=\"type\">");
		api_html(r, idn_slice_of(name, strlen(name)));
		if (find_value(ans->values, ans->nvalues, name, TMPL_FIELD_FIRST, &v)) {
			http_resp_puts(r, "</td><td class=\"data\">");
			value_cell(r, &v);
		} else {
			http_resp_puts(r, "</td><td class=\"data missing\">not set");
		}
		http_resp_puts(r, "</td></tr>");
	}
	http_resp_puts(r, "</tbody></table><h2>All values</h2>");
}

static void record_page(http_resp *r, const http_req *req, idn_slice handle, idn_slice shown,
                        const api_answer *ans, const char *url, const page_extra *x)
{
	page_begin(r, handle);
	http_resp_puts(r, "<h1 id=\"handle\">");
	api_html(r, handle);
	http_resp_puts(r, "</h1><p class=\"meta\">");
	const uint8_t *slash = memchr(handle.p, '/', handle.len);
	if (slash) {
		http_resp_puts(r, "Registered under prefix <b id=\"prefix\">");
		api_html(r, idn_slice_of(handle.p, (size_t)(slash - handle.p)));
		http_resp_puts(r, "</b>");
	}
	if (shown.len) {
		http_resp_puts(r, " &middot; an alias: values of <b>");
		api_html(r, shown);
		http_resp_puts(r, "</b>");
	}
	http_resp_printf(r, " &middot; %u value%s</p>", ans->nvalues, ans->nvalues == 1 ? "" : "s");
	if (x->maker.len) {
		http_resp_puts(r, "<p class=\"meta\">Registered by <b id=\"enterprise\">");
		api_html(r, x->maker);
		http_resp_printf(r, "</b> <small>(%s)</small></p>", x->maker_from);
	}
	if (url && url[0]) {
		http_resp_puts(r, "<p class=\"meta\">Location: <a id=\"location\" href=\"");
		idn_slice u = idn_slice_of(url, strlen(url));
		if (is_http_url(u))
			api_html(r, u);
		http_resp_puts(r, "\">");
		api_html(r, u);
		http_resp_puts(r, "</a></p>");
	}
	if (x->t)
		fields_section(r, ans, x);
	http_resp_puts(r, "<table id=\"values\"><thead><tr><th>Index</th><th>Field</th>"
	                  "<th>Value</th></tr></thead><tbody>");
	proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		http_resp_printf(r, "<tr><td class=\"idx\">%u</td><td class=\"type\">", v.index);
		api_html(r, v.type);
		http_resp_puts(r, "</td><td class=\"data\">");
		value_cell(r, &v);
		http_resp_puts(r, "</td></tr>");
	}
	http_resp_puts(r, "</tbody></table><div class=\"qr\" id=\"qr\">");
	char purl[URL_MAX + 512];
	page_url(req, handle, purl, sizeof(purl));
	qr_svg(r, purl);
	http_resp_puts(r, "<p>");
	api_html(r, idn_slice_of(purl, strlen(purl)));
	http_resp_puts(r, "</p></div>");
	page_end(r);
}

static void message_page(http_resp *r, int status, const char *title, idn_slice handle,
                         const char *text)
{
	page_begin(r, idn_slice_of(title, strlen(title)));
	r->status = status;
	http_resp_printf(r, "<h1>%s</h1><p class=\"meta\">", title);
	if (handle.len) {
		http_resp_puts(r, "<b id=\"handle\">");
		api_html(r, handle);
		http_resp_puts(r, "</b>: ");
	}
	http_resp_puts(r, text);
	http_resp_puts(r, "</p>");
	page_end(r);
}

int api_proxy(api_worker *w, const http_req *req, idn_slice handle, http_resp *r)
{
	if (handle.len == 0) {
		message_page(r, 200, "idnode identifier resolver", handle,
		             "Append an identifier to this address to resolve it, e.g. "
		             "<code>/88.100.1/EXAMPLE</code>.");
		return 0;
	}
	/* HS_ALIAS hops need their own copy of the target: the answer buffer is reused. */
	uint8_t cur[PROTO_HANDLE_MAX + 1];
	idn_slice h = handle;
	api_answer ans;
	int ret;
	for (int hop = 0;; hop++) {
		if ((ret = api_resolve(w, h, NULL, 0, NULL, 0, false, &ans)))
			return ret;
		if (ans.rc != PROTO_RC_SUCCESS)
			break;
		idn_slice target;
		if (!find_alias(&ans, &target))
			break;
		if (hop == MAX_ALIAS_HOPS || target.len > PROTO_HANDLE_MAX) {
			message_page(r, 508, "Alias loop", handle,
			             "the identifier's HS_ALIAS chain is too long.");
			r->status = 400;
			return 0;
		}
		memmove(cur, target.p, target.len);
		h = idn_slice_of(cur, target.len);
	}
	if (ans.rc == PROTO_RC_HANDLE_NOT_FOUND) {
		message_page(r, 404, "Identifier not found", h,
		             "no such identifier is registered on this node. Check the spelling "
		             "(the part after the / is case-sensitive).");
		return 0;
	}
	if (ans.src.down) {
		/* The gateway: the node holding it did not answer, and nothing was cached. */
		char text[400];
		snprintf(text, sizeof(text),
		         "the node that holds this identifier%s%s%s is not answering, and no "
		         "earlier answer is kept here. Try again later.",
		         ans.src.node[0] ? " (" : "", ans.src.node, ans.src.node[0] ? ")" : "");
		message_page(r, 504, "Node not answering", h, text);
		return 0;
	}
	if (ans.rc != PROTO_RC_SUCCESS) {
		char text[300];
		snprintf(text, sizeof(text), "the node answered %u (%s).", ans.rc,
		         proto_rc_name(ans.rc));
		message_page(r, api_http_status(ans.rc) == 200 ? 404 : api_http_status(ans.rc),
		             "Cannot resolve this identifier", h, text);
		return 0;
	}
	char url[URL_MAX];
	int ul = choose_url(&ans, url, sizeof(url));
	bool can_redirect = ul > 0 && is_http_url(idn_slice_of(url, (size_t)ul));
	bool redirect = ul > 0 && !api_query_has(req->query, "noredirect");
	if (redirect && !can_redirect)
		limit_hit(
		    LIM_REDIRECT_SCHEME,
		    "a URL value that is not an absolute http(s) URL with a host: page served");
	if (redirect && can_redirect) {
		r->status = 302;
		r->content_type = "text/html; charset=utf-8";
		r->extra_headers = page_csp;
		api_source_headers(w, &ans.src, r);
		snprintf(r->location, sizeof(r->location), "%s", url);
		http_resp_puts(r, "<!doctype html><title>Redirect</title><a href=\"");
		api_html(r, idn_slice_of(url, (size_t)ul));
		http_resp_puts(r, "\">Moved here</a>");
		return 0;
	}
	/* The template and site lookups reuse the answer buffer: keep a copy of the record. */
	uint8_t *copy = malloc(ans.values.len ? ans.values.len : 1);
	if (!copy)
		return IDN_ENOMEM;
	memcpy(copy, ans.values.p, ans.values.len);
	ans.values = idn_slice_of(copy, ans.values.len);
	page_extra x = {0};
	if ((ret = gather_template(w, &ans, &x)) || (ret = gather_maker(w, &ans, h, &x))) {
		tmpl_free(x.t);
		free(copy);
		return ret; /* IDN_EAGAIN: run again by the gateway's threads */
	}
	r->status = 200;
	record_page(r, req, handle, h.p == handle.p ? idn_slice_of("", 0) : h, &ans,
	            ul > 0 ? url : NULL, &x);
	api_source_headers(w, &ans.src, r);
	tmpl_free(x.t);
	free(copy);
	return 0;
}
