/*
 * api_page.c - the proxy: GET /{handle} redirects to the identifier's URL or
 * renders its record page (for people who scanned a QR code on a product).
 *
 * The redirect target is chosen as the reference proxy does: a 10320/loc
 * value's <location> entries by weight (weight="0" never, default 1), else
 * the first URL value; HS_ALIAS is followed first (a bounded number of hops).
 * Only an absolute http(s) URL with a host (api_is_http_url), or a URL of a
 * scheme the node was told to allow (--proxy-schemes), is redirected to; any
 * other (javascript:, data:, //host, control bytes or spaces, too long) is
 * shown on the page instead, counted as LIM_REDIRECT_SCHEME.
 *
 * A record naming a template (index 1001, type TEMPLATE) gets the template's
 * fields in its order; the registering enterprise and its industry are the
 * desc attributes of the HS_SITE at 0.NA/<prefix> and 0.NA/<parent prefix>
 * when they resolve, else the prefixes. The pages themselves are rendered by
 * api_render.c.
 */
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

static int schemes_fail(char *err, size_t errlen, const char *s, size_t n, const char *why)
{
	if (err)
		snprintf(err, errlen, "--proxy-schemes: '%.*s': %s", (int)(n > 40 ? 40 : n), s,
		         why);
	return IDN_EINVAL;
}

int api_proxy_schemes_parse(const char *list, char (*out)[API_SCHEME_MAX + 1], unsigned *n,
                            char *err, size_t errlen)
{
	static const char *const never[] = {"javascript", "data", "vbscript", "file"};
	unsigned k = 0;
	for (const char *p = list ? list : ""; *p;) {
		size_t len = strcspn(p, ",");
		const char *s = p;
		p += len + (p[len] == ',');
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (!len)
			continue;
		/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
		bool ok = len <= API_SCHEME_MAX && ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z');
		for (size_t i = 1; ok && i < len; i++)
			ok = ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
			     (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
			     s[i] == '.';
		if (!ok)
			return schemes_fail(
			    err, errlen, s, len,
			    "not a URL scheme (a letter, then letters, digits, + - ., "
			    "at most 32)");
		for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
			if (strlen(never[i]) == len && !strncasecmp(s, never[i], len))
				return schemes_fail(
				    err, errlen, s, len,
				    "never allowed (it can run code or read files in the "
				    "browser)");
		if (k == API_SCHEMES_MAX)
			return schemes_fail(err, errlen, s, len, "too many schemes (at most 16)");
		if (out) {
			for (size_t i = 0; i < len; i++)
				out[k][i] = (char)(s[i] | (s[i] >= 'A' && s[i] <= 'Z' ? 0x20 : 0));
			out[k][len] = 0;
		}
		k++;
	}
	if (n)
		*n = k;
	return 0;
}

/* A URL of a scheme in the --proxy-schemes allow-list: scheme ":" rest, ASCII, no space. */
static bool allowed_scheme_url(const api *a, idn_slice d)
{
	const uint8_t *colon =
	    memchr(d.p, ':', d.len < API_SCHEME_MAX + 1 ? d.len : API_SCHEME_MAX + 1);
	if (!colon || colon == d.p || d.len >= URL_MAX || (size_t)(colon - d.p) + 1 == d.len)
		return false;
	for (size_t i = 0; i < d.len; i++)
		if (d.p[i] <= ' ' || d.p[i] >= 0x7f)
			return false;
	size_t sl = (size_t)(colon - d.p);
	for (unsigned i = 0; i < a->nschemes; i++)
		if (strlen(a->schemes[i]) == sl &&
		    !strncasecmp(a->schemes[i], (const char *)d.p, sl))
			return true;
	return false;
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
 * copy). Gathered before rendering because each resolution reuses the
 * worker's answer buffer: x owns what it keeps. IDN_EAGAIN: not cached on a
 * gateway (api_resolve), else 0.
 */
static int gather_template(api_worker *w, const api_answer *rec, api_page_extra *x)
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
	int ret = api_resolve(w, tname, NULL, 0, &want, 1, false, &tans);
	if (ret == IDN_EAGAIN)
		return ret;
	if (ret || tans.rc != PROTO_RC_SUCCESS ||
	    !find_value(tans.values, tans.nvalues, TMPL_DEF_TYPE, 0, &def))
		return 0;
	api_page_template(x, def.data, tname);
	return 0;
}

/*
 * The desc of 0.NA/<prefix>'s HS_SITE into name (cap bytes): 1 if there is
 * one, 0 if not, IDN_EAGAIN when not cached on a gateway.
 */
static int site_name(api_worker *w, const char *prefix, char *name, size_t cap)
{
	char na[PROTO_HANDLE_MAX + 8];
	int nl = snprintf(na, sizeof(na), "0.NA/%s", prefix);
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
		    desc.len >= cap || !text_ok(desc))
			continue;
		memcpy(name, desc.p, desc.len);
		name[desc.len] = 0;
		return 1;
	}
	return 0;
}

/*
 * The registering enterprise and its industry: their sites' desc, else the
 * prefixes. IDN_EAGAIN: not cached on a gateway, else 0.
 */
static int gather_maker(api_worker *w, const api_answer *rec, idn_slice h, api_page_extra *x)
{
	(void)rec;
	api_page_prefixes(x, h);
	int ret = 0;
	if (x->enterprise[0] &&
	    (ret = site_name(w, x->enterprise, x->enterprise, sizeof(x->enterprise))) >= 0)
		x->enterprise_named = ret == 1;
	if (ret >= 0 && x->industry[0] &&
	    (ret = site_name(w, x->industry, x->industry, sizeof(x->industry))) >= 0)
		x->industry_named = ret == 1;
	return ret < 0 ? ret : 0;
}

int api_proxy(api_worker *w, const http_req *req, idn_slice handle, http_resp *r)
{
	if (handle.len == 0) {
		api_page_message(r, 200, "idnode identifier resolver", handle,
		                 "Append an identifier to this address to resolve it, e.g. "
		                 "<code>/88.100.1/EXAMPLE</code>.");
		return 0;
	}
	if (!text_ok(handle)) {
		api_page_invalid(r, handle, "an identifier is UTF-8 text without NUL bytes.");
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
			api_page_message(r, 400, "Alias loop", handle,
			                 "the identifier&#39;s HS_ALIAS chain is too long.");
			return 0;
		}
		memmove(cur, target.p, target.len);
		h = idn_slice_of(cur, target.len);
	}
	if (ans.rc != PROTO_RC_SUCCESS) {
		/* src.down (the gateway: the node holding it did not answer) gives 504. */
		api_page_error(r, h, &ans);
		return 0;
	}
	char url[URL_MAX];
	int ul = choose_url(&ans, url, sizeof(url));
	idn_slice u = idn_slice_of(url, ul > 0 ? (size_t)ul : 0);
	bool can_redirect = ul > 0 && (api_is_http_url(u) || allowed_scheme_url(w->a, u));
	bool redirect = ul > 0 && !api_query_has(req->query, "noredirect");
	if (redirect && !can_redirect)
		limit_hit(LIM_REDIRECT_SCHEME,
		          "a URL value that is neither an absolute http(s) URL "
		          "with a host nor of an allowed scheme: page served");
	if (redirect && can_redirect) {
		api_page_redirect(r, u);
		api_source_headers(w, &ans.src, r);
		return 0;
	}
	/* The template and site lookups reuse the answer buffer: keep a copy of the record. */
	uint8_t *copy = malloc(ans.values.len ? ans.values.len : 1);
	if (!copy)
		return IDN_ENOMEM;
	memcpy(copy, ans.values.p, ans.values.len);
	ans.values = idn_slice_of(copy, ans.values.len);
	api_page_extra x = {.url = ul > 0 ? url : NULL,
	                    .alias_target = h.p == handle.p ? idn_slice_of("", 0) : h,
	                    .qr_base = w->a->nlabel_base ? w->a->label_base[0] : NULL};
	if ((ret = gather_template(w, &ans, &x)) || (ret = gather_maker(w, &ans, h, &x))) {
		api_page_extra_free(&x);
		free(copy);
		return ret; /* IDN_EAGAIN: run again by the gateway's threads */
	}
	api_page_record(r, req, handle, &ans, &x);
	api_source_headers(w, &ans.src, r);
	api_page_extra_free(&x);
	free(copy);
	return 0;
}
