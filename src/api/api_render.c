/*
 * api_render.c - the proxy's HTML pages for people (routes.h): the record
 * page a phone opens when someone scans the QR code on a product, and the
 * pages for an identifier not found, a node that is down, an invalid
 * identifier and any other error.
 *
 * The record page puts first what a person understands: the template's
 * fields in the template's order under the template's labels, the
 * registering enterprise and its industry, and the record's other readable
 * values (web links, e-mail addresses, dates). HS_ values, the template
 * reference, 10320/loc and binary data are in a "Technical details" fold
 * (<details>: no script needed, closed by default). Where the answer came
 * from (api_source) is said at the foot, and a stale answer has a banner.
 *
 * Everything taken from a value goes through api_html(); only http(s) URLs
 * (api_is_http_url) and mailto: links built from checked addresses become
 * links; the Content-Security-Policy forbids scripts, so a missed escape
 * could not run code. The layout is one column up to 600 px, no element
 * wider than the screen (long text wraps anywhere).
 */
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/label.h"
#include "api/routes.h"
#include "core/err.h"
#include "node/template.h"
#include "proto/handle.h"
#include "proto/reserved.h"

enum { URL_MAX = 2048 };

static const char page_csp[] =
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:\r\n"
    "X-Content-Type-Options: nosniff\r\n";

static bool type_eq(idn_slice t, const char *s)
{
	size_t n = strlen(s);
	return t.len == n && !memcmp(t.p, s, n);
}

static bool type_ieq(idn_slice t, const char *s)
{
	size_t n = strlen(s);
	return t.len == n && !strncasecmp((const char *)t.p, s, n);
}

/* Shown as text: valid UTF-8 without NUL bytes. */
static bool text_ok(idn_slice d)
{
	return handle_utf8_valid(d) && !memchr(d.p, 0, d.len);
}

static idn_slice cstr(const char *s)
{
	return idn_slice_of(s, strlen(s));
}

bool api_is_http_url(idn_slice d)
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

/* ---- what a value means to a person ---- */

static bool is_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* local@domain.tld with a plain local part: safe to put after mailto: as is. */
static bool email_ok(idn_slice d)
{
	const uint8_t *at = d.len >= 5 && d.len <= 254 ? memchr(d.p, '@', d.len) : NULL;
	if (!at || at == d.p)
		return false;
	size_t local = (size_t)(at - d.p), dl = d.len - local - 1;
	const uint8_t *dom = at + 1;
	for (size_t i = 0; i < local; i++)
		if (!is_alnum(d.p[i]) && !strchr("._+-", d.p[i]))
			return false;
	if (dl < 3 || dom[0] == '.' || dom[0] == '-' || dom[dl - 1] == '.' || !memchr(dom, '.', dl))
		return false;
	for (size_t i = 0; i < dl; i++)
		if (!is_alnum(dom[i]) && dom[i] != '.' && dom[i] != '-')
			return false;
	return true;
}

/* n decimal digits at p into *out. */
static bool digits(const uint8_t *p, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * An ISO-8601 date (YYYY-MM-DD) or date-time (its T or a space, HH:MM, optional
 * :SS and fraction, optional Z or +HH:MM / -HH:MM / +HHMM): its readable form,
 * "7 Dec 2026" or "7 Dec 2026, 10:30 UTC". Anything else: false.
 */
static bool iso_readable(idn_slice d, char *out, size_t cap)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const uint8_t *p = d.p;
	int y, m, day, hh, mm, ss;
	if (d.len < 10 || d.len > 35 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &m) ||
	    p[7] != '-' || !digits(p + 8, 2, &day) || m < 1 || m > 12 || day < 1 ||
	    day > mdays[m - 1] || (m == 2 && day == 29 && (y % 4 || (y % 100 == 0 && y % 400))))
		return false;
	if (d.len == 10) {
		snprintf(out, cap, "%d %s %d", day, mon[m - 1], y);
		return true;
	}
	if (d.len < 16 || (p[10] != 'T' && p[10] != ' ') || !digits(p + 11, 2, &hh) ||
	    p[13] != ':' || !digits(p + 14, 2, &mm) || hh > 23 || mm > 59)
		return false;
	size_t i = 16;
	if (i < d.len && p[i] == ':') {
		if (i + 3 > d.len || !digits(p + i + 1, 2, &ss) || ss > 60)
			return false;
		for (i += 3; i < d.len && (p[i] == '.' || p[i] == ','); i++)
			while (i + 1 < d.len && p[i + 1] >= '0' && p[i + 1] <= '9')
				i++;
	}
	const char *zone = "";
	char off[40] = "";
	if (i < d.len && (p[i] == 'Z' || p[i] == 'z') && i + 1 == d.len) {
		zone = " UTC";
	} else if (i < d.len) {
		int oh, om = 0;
		size_t rest = d.len - i;
		if ((p[i] != '+' && p[i] != '-') || rest < 3 || !digits(p + i + 1, 2, &oh) ||
		    oh > 14 ||
		    !(rest == 3 || (rest == 5 && digits(p + i + 3, 2, &om)) ||
		      (rest == 6 && p[i + 3] == ':' && digits(p + i + 4, 2, &om))) ||
		    om > 59)
			return false;
		snprintf(off, sizeof(off), " (UTC%c%02d:%02d)", p[i], oh, om);
		zone = off;
	}
	snprintf(out, cap, "%d %s %d, %02d:%02d%s", day, mon[m - 1], y, hh, mm, zone);
	return true;
}

/* Percent-encodes handle after out[0..o) for a URL path; returns the new length. */
static size_t pct_handle(char *out, size_t o, size_t cap, idn_slice handle)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < handle.len && o + 4 < cap; i++) {
		uint8_t ch = handle.p[i];
		if (ch && (is_alnum(ch) || strchr("-._~/", ch))) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = 0;
	return o;
}

/* prefix/suffix with text on both sides and no scheme: an identifier to link to. */
static bool looks_like_handle(idn_slice d)
{
	const uint8_t *slash = memchr(d.p, '/', d.len);
	return slash && slash > d.p && slash + 1 < d.p + d.len && !memchr(d.p, ':', d.len) &&
	       d.len <= PROTO_HANDLE_MAX && text_ok(d);
}

static void put_time(http_resp *r, uint32_t t)
{
	time_t tt = t ? (time_t)t : time(NULL);
	struct tm tm;
	char iso[32], human[48];
	gmtime_r(&tt, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(human, sizeof(human), "%e %b %Y, %H:%M UTC", &tm);
	http_resp_printf(r, "<time datetime=\"%s\">%s</time>", iso,
	                 human[0] == ' ' ? human + 1 : human);
}

static void binary_html(http_resp *r, idn_slice d)
{
	http_resp_printf(r, "<code>%zu bytes: ", (size_t)d.len);
	api_base64(r, idn_slice_of(d.p, d.len > 96 ? 96 : d.len));
	http_resp_puts(r, d.len > 96 ? "&hellip;</code>" : "</code>");
}

static void link_html(http_resp *r, const char *scheme, idn_slice href, idn_slice text)
{
	http_resp_puts(r, "<a rel=\"nofollow noopener\" href=\"");
	http_resp_puts(r, scheme);
	api_html(r, href);
	http_resp_puts(r, "\">");
	api_html(r, text);
	http_resp_puts(r, "</a>");
}

/* A value as a person reads it; ftype is its template field's type (NULL if none). */
static void value_html(http_resp *r, const proto_value *v, const char *ftype)
{
	idn_slice d = v->data;
	char when[64];
	if (!text_ok(d)) {
		binary_html(r, d);
	} else if (api_is_http_url(d)) {
		link_html(r, "", d, d);
	} else if (type_ieq(v->type, "EMAIL") && email_ok(d)) {
		link_html(r, "mailto:", d, d);
	} else if (ftype && !strcmp(ftype, "file") && looks_like_handle(d)) {
		char href[PROTO_HANDLE_MAX * 3 + 8] = "/";
		pct_handle(href, 1, sizeof(href), d);
		link_html(r, "", cstr(href), d);
	} else if (iso_readable(d, when, sizeof(when))) {
		http_resp_puts(r, "<time datetime=\"");
		api_html(r, d);
		http_resp_printf(r, "\">%s</time>", when);
	} else {
		api_html(r, d);
	}
}

/* For the technical table: HS_ADMIN decoded, text as text, binary as base64. */
static void tech_value_html(http_resp *r, const proto_value *v)
{
	proto_admin a;
	if (type_eq(v->type, "HS_ADMIN") && proto_admin_decode(v->data, &a) == 0) {
		http_resp_puts(r, "admin ");
		api_html(r, a.handle);
		http_resp_printf(r, " (index %u, rights 0x%03x)", a.index, a.rights);
	} else if (text_ok(v->data)) {
		api_html(r, v->data);
	} else {
		binary_html(r, v->data);
	}
}

/* HS_ values, template references, 10320/loc, empty or binary data: for the fold only. */
static bool technical(const proto_value *v)
{
	return (v->type.len >= 3 && !memcmp(v->type.p, "HS_", 3)) ||
	       type_eq(v->type, TMPL_REF_TYPE) || type_eq(v->type, TMPL_DEF_TYPE) ||
	       type_eq(v->type, "10320/loc") || !text_ok(v->type) || !v->data.len ||
	       !text_ok(v->data);
}

/* ---- the template ---- */

typedef struct field_info {
	const char *name, *label, *type;
} field_info;

static size_t nfields(const api_page_extra *x)
{
	return x->tdef ? json_array_size(json_object_get(x->tdef, "fields")) : 0;
}

static field_info field_at(const api_page_extra *x, size_t i)
{
	json_t *f = json_array_get(json_object_get(x->tdef, "fields"), i);
	field_info fi = {json_string_value(json_object_get(f, "name")),
	                 json_string_value(json_object_get(f, "description")),
	                 json_string_value(json_object_get(f, "type"))};
	if (!fi.name)
		fi.name = "";
	if (!fi.label || !fi.label[0])
		fi.label = fi.name;
	return fi;
}

/* The template field a value fills, if any (index >= 2000, type = field name). */
static bool is_field(const api_page_extra *x, const proto_value *v)
{
	if (v->index < TMPL_FIELD_FIRST)
		return false;
	for (size_t i = 0; i < nfields(x); i++)
		if (type_eq(v->type, field_at(x, i).name))
			return true;
	return false;
}

int api_page_template(api_page_extra *x, idn_slice def, idn_slice tmpl_handle)
{
	tmpl *t;
	char err[160];
	int ret = tmpl_parse(def, &t, err, sizeof(err));
	if (ret)
		return ret;
	tmpl_free(t);
	json_t *root = json_loadb((const char *)def.p, def.len, 0, NULL);
	if (!root)
		return IDN_EINVAL;
	const char *name = json_string_value(json_object_get(root, "name"));
	if (name && name[0])
		snprintf(x->tname, sizeof(x->tname), "%s", name);
	else
		snprintf(x->tname, sizeof(x->tname), "%.*s", (int)tmpl_handle.len,
		         (const char *)tmpl_handle.p);
	json_decref(x->tdef);
	x->tdef = root;
	return 0;
}

void api_page_prefixes(api_page_extra *x, idn_slice handle)
{
	const uint8_t *slash = memchr(handle.p, '/', handle.len);
	size_t pl = slash ? (size_t)(slash - handle.p) : 0;
	x->enterprise[0] = x->industry[0] = 0;
	x->enterprise_named = x->industry_named = false;
	if (!pl || pl >= sizeof(x->enterprise))
		return;
	memcpy(x->enterprise, handle.p, pl);
	x->enterprise[pl] = 0;
	/* The parent of 88.100.1 is 88.100; 0.NA and single-segment prefixes have none shown. */
	const char *dot = strrchr(x->enterprise, '.');
	if (dot && strncmp(x->enterprise, "0.", 2))
		snprintf(x->industry, sizeof(x->industry), "%.*s", (int)(dot - x->enterprise),
		         x->enterprise);
}

void api_page_extra_free(api_page_extra *x)
{
	json_decref(x->tdef);
	x->tdef = NULL;
}

/* ---- the page's frame ---- */

static const char page_head[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
    "<meta name=\"robots\" content=\"noindex\"><title>";

static const char page_style[] =
    "</title><style>"
    "*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}"
    "body{font:17px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',"
    "'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;margin:0;"
    "background:#f2f4f7;color:#1b2430}"
    "main{max-width:760px;margin:0 auto;padding:14px 14px 28px}"
    "h1{font-size:1.3em;line-height:1.3;overflow-wrap:anywhere;margin:.2em 0 .15em}"
    "h2{font-size:1em;margin:1.3em 0 .45em;color:#3a4653}"
    ".sub{color:#56636f;margin:0 0 .9em;font-size:.95em;overflow-wrap:anywhere}"
    ".card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.09);"
    "padding:2px 16px;margin:0 0 12px}"
    "dl{margin:0}.card>div{padding:10px 0;border-bottom:1px solid #e7eaee}"
    ".card>div:last-child{border-bottom:0}"
    "dt{font-size:.85em;color:#56636f;margin:0 0 1px}"
    "dt .name{color:#7d8893;font:.9em ui-monospace,Menlo,Consolas,monospace;margin-left:.4em}"
    "dd{margin:0;overflow-wrap:anywhere;white-space:pre-wrap}"
    "dd.missing{color:#8a6100;font-style:italic}a{color:#0a58b0}"
    ".go{display:block;text-align:center;background:#0a58b0;color:#fff;text-decoration:none;"
    "padding:13px 12px;border-radius:10px;font-weight:600;margin:4px 0 14px}"
    ".go small{display:block;font-weight:400;opacity:.85;overflow-wrap:anywhere}"
    ".banner{border-radius:10px;padding:11px 14px;margin:4px 0 14px;overflow-wrap:anywhere}"
    ".stale{background:#fff3d1;border:1px solid #e0b000;color:#4d3a00}"
    ".down{background:#fde8e8;border:1px solid #d93b3b;color:#6b1010}"
    "details{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.09);"
    "margin:12px 0;padding:0 16px}summary{cursor:pointer;padding:12px 0;font-weight:600;"
    "color:#3a4653}"
    "table{width:100%;border-collapse:collapse;font-size:.85em;margin-bottom:10px}"
    "th,td{text-align:left;padding:6px 6px 6px 0;border-top:1px solid #e7eaee;"
    "vertical-align:top;overflow-wrap:anywhere}th{color:#56636f;font-weight:600}"
    "#values .idx,#values .ts{white-space:nowrap}#values .type{overflow-wrap:break-word;"
    "font-weight:600}#values .ts{color:#56636f}"
    "code{font:.9em ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere;"
    "word-break:break-all}"
    ".qr{background:#fff;border-radius:12px;padding:14px;margin:14px 0;text-align:center;"
    "box-shadow:0 1px 3px rgba(0,0,0,.09)}.qr svg{width:200px;height:200px;max-width:100%}"
    ".qr p{font-size:.8em;overflow-wrap:anywhere;margin:.4em 0 0;color:#56636f}"
    "footer{color:#56636f;font-size:.85em;margin-top:18px;overflow-wrap:anywhere}"
    "@media (max-width:600px){#values thead{display:none}#values tr,#values td{display:block}"
    "#values tr{border-top:1px solid #e7eaee;padding:6px 0}#values td{border:0;padding:1px 0}"
    "#values td.idx,#values td.type{display:inline;margin-right:.5em}"
    "#values td.idx:before{content:'#'}}"
    "@media (min-width:601px){main{padding-top:28px}.card>div{display:grid;"
    "grid-template-columns:36% 1fr;gap:14px}dt{font-size:.9em;margin:0}}"
    "</style></head><body><main>";

static void page_begin(http_resp *r, int status, idn_slice title)
{
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
	r->extra_headers = page_csp;
	r->len = 0;
	http_resp_puts(r, page_head);
	api_html(r, title);
	http_resp_puts(r, page_style);
}

/* Where the answer came from (or who did not answer), at the foot of the page. */
static void page_source(http_resp *r, const api_source *src)
{
	idn_slice who = idn_slice_of(src->node, strnlen(src->node, sizeof(src->node)));
	http_resp_puts(r, "<footer id=\"source\">");
	if (src->down && !who.len) {
		http_resp_puts(r, "No answer from the node holding it");
	} else {
		http_resp_puts(r, src->down ? "Asked " : "Answered by ");
		http_resp_puts(r,
		               who.len ? "node <b id=\"source-node\">" : "<b id=\"source-node\">");
		api_html(r, who.len ? who : cstr("this node"));
		http_resp_puts(r, "</b>");
	}
	http_resp_puts(r, src->fetched ? ", fetched " : ", ");
	put_time(r, src->fetched);
	if (src->stale || src->down)
		http_resp_puts(r, src->down ? " (no answer)" : " (stale)");
	http_resp_puts(r, "</footer>");
}

static void page_end(http_resp *r, const api_source *src)
{
	if (src)
		page_source(r, src);
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

/*
 * The absolute proxy URL of handle, for the QR code: the URL a printed label
 * of it carries (label_url under the first --label-base, else under Host as
 * label_host_base checks it), so the page's code and the label's agree;
 * hdl:handle when Host is missing or malformed.
 */
static void page_url(const http_req *req, const char *base, idn_slice handle, char *out, size_t cap)
{
	char hb[LABEL_BASE_MAX + 16];
	idn_slice host;
	if (!base && req && http_req_header(req, "host", &host) &&
	    label_host_base(req->tls, host, hb, sizeof(hb)) > 0)
		base = hb;
	if (base && label_url(base, handle, out, cap) >= 0)
		return;
	pct_handle(out, (size_t)snprintf(out, cap, "hdl:"), cap, handle);
}

/* ---- the record page ---- */

static void stale_banner(http_resp *r, const api_source *src)
{
	if (!src->stale)
		return;
	http_resp_puts(r, "<p class=\"banner stale\" id=\"stale\" role=\"alert\"><b>Stale:</b> the "
	                  "node holding this identifier is not answering; this is the record as "
	                  "of ");
	put_time(r, src->fetched);
	http_resp_puts(r, ".</p>");
}

static void maker_row(http_resp *r, const char *label, const char *id, const char *name, bool named)
{
	http_resp_printf(r, "<div><dt>%s</dt><dd><b id=\"%s\">", label, id);
	api_html(r, cstr(name));
	http_resp_puts(r, "</b>");
	if (!named)
		http_resp_puts(r, " <small>(prefix)</small>");
	http_resp_puts(r, "</dd></div>");
}

/* The title, the enterprise card and the button to the product's own page. */
static void record_head(http_resp *r, idn_slice handle, const api_answer *ans,
                        const api_page_extra *x)
{
	stale_banner(r, &ans->src);
	http_resp_puts(r, "<h1 id=\"handle\">");
	api_html(r, handle);
	http_resp_puts(r, "</h1>");
	if (x->tdef || x->alias_target.len) {
		http_resp_puts(r, "<p class=\"sub\">");
		if (x->tdef) {
			http_resp_puts(r, "<span id=\"kind\">");
			api_html(r, cstr(x->tname));
			http_resp_puts(r, "</span>");
		}
		if (x->alias_target.len) {
			http_resp_puts(r, x->tdef ? " &middot; an alias: values of <b id=\"alias\">"
			                          : "an alias: values of <b id=\"alias\">");
			api_html(r, x->alias_target);
			http_resp_puts(r, "</b>");
		}
		http_resp_puts(r, "</p>");
	}
	if (x->enterprise[0]) {
		http_resp_puts(r, "<dl class=\"card\" id=\"maker\">");
		maker_row(r, "Registered by", "enterprise", x->enterprise, x->enterprise_named);
		if (x->industry[0])
			maker_row(r, "Industry", "industry", x->industry, x->industry_named);
		http_resp_puts(r, "</dl>");
	}
	if (!x->url || !x->url[0])
		return;
	idn_slice u = cstr(x->url);
	if (api_is_http_url(u)) {
		http_resp_puts(r,
		               "<a class=\"go\" id=\"location\" rel=\"nofollow noopener\" href=\"");
		api_html(r, u);
		http_resp_puts(r, "\">Open the product&#39;s page<small>");
		api_html(r, u);
		http_resp_puts(r, "</small></a>");
	} else {
		/* Not a link: a URL of another scheme is only shown. */
		http_resp_puts(r, "<p class=\"sub\">Location: <code id=\"location\">");
		api_html(r, text_ok(u) ? u : cstr("(not text)"));
		http_resp_puts(r, "</code></p>");
	}
}

/* The template's fields in its order, with their labels and the record's values. */
static void fields_section(http_resp *r, const api_answer *ans, const api_page_extra *x)
{
	http_resp_puts(r, "<h2 id=\"template\">");
	api_html(r, cstr(x->tname));
	http_resp_puts(r, "</h2><dl class=\"card\" id=\"fields\">");
	for (size_t i = 0; i < nfields(x); i++) {
		field_info f = field_at(x, i);
		proto_values_match m = {.type = cstr(f.name)};
		proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
		proto_value v;
		bool found = false;
		while (!found && proto_values_find(&it, &m, &v) == 1)
			found = v.index >= TMPL_FIELD_FIRST;
		http_resp_puts(r, "<div data-field=\"");
		api_html(r, cstr(f.name));
		http_resp_puts(r, "\"><dt><span class=\"label\">");
		api_html(r, cstr(f.label));
		http_resp_puts(r, "</span>");
		if (strcmp(f.label, f.name)) {
			http_resp_puts(r, "<span class=\"name\">");
			api_html(r, cstr(f.name));
			http_resp_puts(r, "</span>");
		}
		http_resp_puts(r, found ? "</dt><dd class=\"data\">"
		                        : "</dt><dd class=\"data missing\">"
		                          "not set");
		if (found)
			value_html(r, &v, f.type);
		http_resp_puts(r, "</dd></div>");
	}
	http_resp_puts(r, "</dl>");
}

/* The record's other values a person reads (not a template field, not technical). */
static void info_section(http_resp *r, const api_answer *ans, const api_page_extra *x)
{
	static const struct {
		const char *type, *label;
	} labels[] = {{"URL", "Web page"},        {"EMAIL", "E-mail"},
	              {"DESC", "Description"},    {"manufacturer", "Manufacturer"},
	              {"10320/loc", "Locations"}, {"TITLE", "Title"}};
	proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
	proto_value v;
	bool any = false;
	while (proto_values_next(&it, &v) == 1) {
		if (technical(&v) || is_field(x, &v))
			continue;
		http_resp_puts(r, any ? "" : "<h2>Details</h2><dl class=\"card\" id=\"info\">");
		any = true;
		const char *label = NULL;
		for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]) && !label; i++)
			if (type_ieq(v.type, labels[i].type))
				label = labels[i].label;
		http_resp_puts(r, "<div><dt><span class=\"label\">");
		api_html(r, label ? cstr(label) : v.type);
		http_resp_puts(r, "</span>");
		if (label) {
			http_resp_puts(r, "<span class=\"name\">");
			api_html(r, v.type);
			http_resp_puts(r, "</span>");
		}
		http_resp_puts(r, "</dt><dd class=\"data\">");
		value_html(r, &v, NULL);
		http_resp_puts(r, "</dd></div>");
	}
	if (any)
		http_resp_puts(r, "</dl>");
}

/* Every value, HS_ ones and binary data included, behind a closed fold. */
static void tech_section(http_resp *r, const api_answer *ans)
{
	http_resp_printf(
	    r,
	    "<details id=\"tech\"><summary>Technical details (%u value%s)</summary>"
	    "<table id=\"values\"><thead><tr><th class=\"idx\">Index</th><th class=\"type\">"
	    "Type</th><th>Value</th><th class=\"ts\">Updated</th></tr></thead><tbody>",
	    ans->nvalues, ans->nvalues == 1 ? "" : "s");
	proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		http_resp_printf(r, "<tr><td class=\"idx\">%u</td><td class=\"type\">", v.index);
		api_html(r, v.type);
		http_resp_puts(r, "</td><td class=\"data\">");
		tech_value_html(r, &v);
		http_resp_puts(r, "</td><td class=\"ts\">");
		if (v.timestamp)
			put_time(r, v.timestamp);
		http_resp_puts(r, "</td></tr>");
	}
	http_resp_puts(r, "</tbody></table></details>");
}

void api_page_record(http_resp *r, const http_req *req, idn_slice handle, const api_answer *ans,
                     const api_page_extra *x)
{
	page_begin(r, 200, handle);
	record_head(r, handle, ans, x);
	if (x->tdef)
		fields_section(r, ans, x);
	info_section(r, ans, x);
	tech_section(r, ans);
	/* The newest value's timestamp: when the record last changed. */
	uint32_t newest = 0;
	proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
	proto_value v;
	while (proto_values_next(&it, &v) == 1)
		newest = v.timestamp > newest ? v.timestamp : newest;
	if (newest) {
		http_resp_puts(r, "<p class=\"sub\" id=\"updated\">Record last changed ");
		put_time(r, newest);
		http_resp_puts(r, "</p>");
	}
	http_resp_puts(r, "<div class=\"qr\" id=\"qr\">");
	char purl[URL_MAX + 512];
	page_url(req, x->qr_base, handle, purl, sizeof(purl));
	qr_svg(r, purl);
	http_resp_puts(r, "<p>");
	api_html(r, cstr(purl));
	http_resp_puts(r, "</p></div>");
	page_end(r, &ans->src);
}

/* ---- the other pages ---- */

/* title and text are static HTML; handle is escaped. */
static void message_body(http_resp *r, const char *cls, const char *title, idn_slice handle,
                         const char *text)
{
	http_resp_printf(r, "<div class=\"banner %s\" id=\"message\"><h1>%s</h1><p>", cls, title);
	if (handle.len) {
		http_resp_puts(r, "<b id=\"handle\">");
		api_html(r, handle);
		http_resp_puts(r, "</b>: ");
	}
	http_resp_puts(r, text);
	http_resp_puts(r, "</p></div>");
}

void api_page_message(http_resp *r, int status, const char *title, idn_slice handle,
                      const char *text)
{
	page_begin(r, status, cstr(title));
	message_body(r, "card", title, handle, text);
	page_end(r, NULL);
}

void api_page_redirect(http_resp *r, idn_slice url)
{
	r->status = 302;
	r->content_type = "text/html; charset=utf-8";
	r->extra_headers = page_csp;
	r->len = 0;
	snprintf(r->location, sizeof(r->location), "%.*s", (int)url.len, (const char *)url.p);
	http_resp_puts(r, "<!doctype html><title>Redirect</title><a href=\"");
	api_html(r, url);
	http_resp_puts(r, "\">Moved here</a>");
}

void api_page_invalid(http_resp *r, idn_slice raw, const char *why)
{
	page_begin(r, 400, cstr("Not a valid identifier"));
	/* The path as sent, if it is text; a part of it when long. */
	idn_slice shown = idn_slice_of(raw.p, raw.len > 200 ? 200 : raw.len);
	if (!text_ok(shown))
		shown = idn_slice_of("", 0);
	message_body(r, "down", "Not a valid identifier", shown, why);
	http_resp_puts(r, "<p class=\"sub\">An identifier is a prefix and a suffix, e.g. "
	                  "<code>88.100.1/MOTOR-2026-000001</code>.</p>");
	page_end(r, NULL);
}

void api_page_error(http_resp *r, idn_slice handle, const api_answer *ans)
{
	const char *name = proto_rc_name(ans->rc);
	if (ans->src.down) {
		page_begin(r, 504, cstr("Node not answering"));
		message_body(r, "down", "The node holding this identifier is not answering", handle,
		             "its record cannot be fetched now, and no copy of it is kept here. "
		             "Try again in a few minutes.");
	} else if (ans->rc == PROTO_RC_HANDLE_NOT_FOUND) {
		page_begin(r, 404, cstr("Identifier not found"));
		message_body(r, "card", "Identifier not found", handle,
		             "no such identifier is registered. Check the spelling (the part "
		             "after the / is case-sensitive).");
	} else if (ans->rc == PROTO_RC_INVALID_HANDLE) {
		page_begin(r, 400, cstr("Not a valid identifier"));
		message_body(r, "down", "Not a valid identifier", handle,
		             "an identifier is a prefix and a suffix, e.g. "
		             "<code>88.100.1/MOTOR-2026-000001</code>.");
	} else if (ans->rc == PROTO_RC_SERVER_NOT_RESP) {
		page_begin(r, 404, cstr("Not held here"));
		message_body(r, "card", "Not held on this node", handle,
		             "this node does not serve its prefix. Open it on the public "
		             "gateway (a recursive node), which finds the node that does.");
	} else {
		int st = api_http_status(ans->rc);
		page_begin(r, st == 200 || st < 400 ? 502 : st,
		           cstr("Cannot resolve this identifier"));
		message_body(r, "down", "Cannot resolve this identifier", handle, "");
		http_resp_printf(r, "<p class=\"sub\" id=\"code\">The node answered %u (", ans->rc);
		api_html(r, cstr(name ? name : "unknown"));
		http_resp_puts(r, ")");
		if (ans->message.len && text_ok(ans->message)) {
			http_resp_puts(r, ": ");
			api_html(r, ans->message);
		}
		http_resp_puts(r, ".</p>");
	}
	page_end(r, &ans->src);
}
