/*
 * api_labels.c - QR labels for printing on carriers: GET
 * /api/labels/{handle}.svg and .png (size, margin, ecc, text, base as query
 * parameters) and POST /api/labels (up to --label-max identifiers: one PDF
 * of A4 sheets, or a ZIP of PNG or SVG images, streamed part by part so a
 * worker serves its other connections between pages).
 *
 * A label encodes the gateway's proxy URL of the identifier: a configured
 * --label-base (or one of them, chosen with base=) or http(s)://HOST/ of
 * the request, then the identifier %-encoded as a path (label_url). Labels
 * never resolve the identifier: one is printed before or independently of
 * its registration, and making one costs no network work.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/label.h"
#include "api/routes.h"
#include "core/err.h"
#include "core/limit.h"

int api_label_bases(api *a, const char *const *base, unsigned n)
{
	for (unsigned i = 0; i < a->nlabel_base; i++)
		free(a->label_base[i]);
	free(a->label_base);
	a->label_base = NULL;
	a->nlabel_base = 0;
	if (!n)
		return 0;
	if (!(a->label_base = calloc(n, sizeof(char *))))
		return IDN_ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (label_base_check(base[i]))
			return IDN_ECONFIG;
		size_t len = strlen(base[i]);
		char *b = malloc(len + 2);
		if (!b)
			return IDN_ENOMEM;
		memcpy(b, base[i], len + 1);
		if (!len || b[len - 1] != '/')
			memcpy(b + len, "/", 2);
		a->label_base[a->nlabel_base++] = b;
	}
	return 0;
}

enum { BASE_CAP = LABEL_BASE_MAX + 8, ERR_CAP = 256 };

/* What a request asks of its labels, from the query or the JSON body. */
typedef struct label_ask {
	label_opts o;
	label_sheet_opts so;
	char base_want[BASE_CAP]; /* base= as given, "" = none */
	char base[BASE_CAP];      /* the base chosen */
	char err[ERR_CAP];
	bool gs1; /* gs1=1: the identifier's GS1 Digital Link URI (api_gs1_rules.c) */
} label_ask;

/* The base the labels point under; 0, or -1 with a->err set. */
static int choose_base(api_worker *w, const http_req *req, label_ask *a)
{
	const api *ap = w->a;
	if (a->base_want[0]) {
		size_t n = strlen(a->base_want);
		for (unsigned i = 0; i < ap->nlabel_base; i++) {
			const char *b = ap->label_base[i];
			size_t bl = strlen(b);
			if ((n == bl && !memcmp(b, a->base_want, n)) ||
			    (n + 1 == bl && !memcmp(b, a->base_want, n))) {
				snprintf(a->base, sizeof(a->base), "%s", b);
				return 0;
			}
		}
		snprintf(a->err, sizeof(a->err),
		         "base: not one of the --label-base URLs this node was given");
		return -1;
	}
	if (ap->nlabel_base) {
		snprintf(a->base, sizeof(a->base), "%s", ap->label_base[0]);
		return 0;
	}
	idn_slice host = {0};
	if (!http_req_header(req, "host", &host) ||
	    label_host_base(req->tls, host, a->base, sizeof(a->base)) < 0) {
		snprintf(a->err, sizeof(a->err),
		         "Host: missing or not HOST[:PORT]; a label's URL is made from it "
		         "(or from the node's --label-base)");
		return -1;
	}
	return 0;
}

/* A number 0..max of a query parameter; -1 if it is not one. */
static long query_num(idn_slice v, long max)
{
	char d[12], *end;
	int n = api_pct_decode(v, true, (uint8_t *)d, sizeof(d) - 1);
	if (n <= 0 || d[0] < '0' || d[0] > '9')
		return -1;
	d[n] = 0;
	unsigned long x = strtoul(d, &end, 10);
	return *end || x > (unsigned long)max ? -1 : (long)x;
}

static int query_cb(void *arg, idn_slice name, idn_slice value)
{
	label_ask *a = arg;
	if (api_name_is(name, "size") || api_name_is(name, "margin")) {
		bool size = api_name_is(name, "size");
		long x = query_num(value, 1000000);
		if (x < 0) {
			snprintf(a->err, sizeof(a->err), "%s: expected a whole number",
			         size ? "size" : "margin");
			return 1;
		}
		*(size ? &a->o.px : &a->o.margin) = (unsigned)x;
	} else if (api_name_is(name, "ecc")) {
		a->o.ecc = value.len == 1 ? (char)(value.p[0] & ~0x20) : '?';
	} else if (api_name_is(name, "text")) {
		a->o.text = api_truthy(value);
	} else if (api_name_is(name, "gs1")) {
		a->gs1 = api_truthy(value);
	} else if (api_name_is(name, "base")) {
		int n =
		    api_pct_decode(value, true, (uint8_t *)a->base_want, sizeof(a->base_want) - 1);
		if (n <= 0) {
			snprintf(a->err, sizeof(a->err), "base: empty, malformed or too long");
			return 1;
		}
		a->base_want[n] = 0;
	}
	return 0;
}

/* The answer is written straight into an http_resp. */
static int resp_sink(void *arg, const void *p, size_t n)
{
	http_resp *r = arg;
	http_resp_append(r, p, n);
	return r->oom ? IDN_ENOMEM : 0;
}

/* A URL for handle the code can carry; 0, or -1 with err naming field. */
static int label_url_for(const label_ask *a, char ecc, idn_slice h, const char *field, char *url,
                         size_t cap, char *err, size_t errlen)
{
	int n = label_url(a->base, h, url, cap);
	if (n < 0 || (size_t)n > label_capacity(ecc)) {
		snprintf(err, errlen,
		         "%s: its URL (%d bytes) does not fit a QR code at ecc %c (at most %zu "
		         "bytes)",
		         field, n < 0 ? (int)cap : n, ecc, label_capacity(ecc));
		return -1;
	}
	return 0;
}

/*
 * The URL a label of h encodes: its proxy URL, or with gs1 its GS1 Digital
 * Link URI (api_gs1_uri_of). 0; IDN_EINVAL with a->err naming field; or
 * IDN_EAGAIN (the GS1 rules are not cached) / another error.
 */
static int label_url_any(api_worker *w, label_ask *a, idn_slice h, const char *field, char *url,
                         size_t cap)
{
	if (!a->gs1)
		return label_url_for(a, a->o.ecc, h, field, url, cap, a->err, sizeof(a->err))
		           ? IDN_EINVAL
		           : 0;
	char why[ERR_CAP - 64];
	int ret = api_gs1_uri_of(w, h, a->base, url, cap, why, sizeof(why));
	if (ret == IDN_EINVAL)
		snprintf(a->err, sizeof(a->err), "%s: gs1: %s", field, why);
	else if (!ret && strlen(url) > label_capacity(a->o.ecc))
		snprintf(a->err, sizeof(a->err),
		         "%s: gs1: the URI does not fit a QR code at ecc %c", field, a->o.ecc);
	return ret ? ret : a->err[0] ? IDN_EINVAL : 0;
}

static const char single_headers[] =
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
    "X-Content-Type-Options: nosniff\r\n";

/* GET /api/labels/{handle}.svg|.png */
int api_get_label(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	bool svg = rest.len >= 4 && !memcmp(rest.p + rest.len - 4, ".svg", 4);
	bool png = rest.len >= 4 && !memcmp(rest.p + rest.len - 4, ".png", 4);
	if (!svg && !png) {
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE,
		                "format: the path must be /api/labels/PREFIX/SUFFIX.svg or .png");
		return 0;
	}
	uint8_t hbuf[LABEL_HANDLE_MAX + 1];
	int hn = api_pct_decode(idn_slice_of(rest.p, rest.len - 4), false, hbuf, sizeof(hbuf));
	idn_slice h = idn_slice_of(hbuf, hn > 0 ? (size_t)hn : 0);
	const char *why =
	    hn < 0 ? "malformed %-escape or longer than 1024 bytes" : label_handle_check(h);
	label_ask *a = calloc(1, sizeof(*a));
	if (!a)
		return IDN_ENOMEM;
	if (why) {
		snprintf(a->err, sizeof(a->err), "handle: %s", why);
		goto bad;
	}
	a->o = label_opts_default();
	if (api_query_each(req->query, query_cb, a))
		goto bad;
	if ((why = label_opts_check(&a->o))) {
		snprintf(a->err, sizeof(a->err), "%s", why);
		goto bad;
	}
	char url[LABEL_URL_MAX];
	if (choose_base(w, req, a))
		goto bad;
	int ret = label_url_any(w, a, h, "handle", url, sizeof(url));
	if (ret && ret != IDN_EINVAL) {
		free(a);
		return ret; /* IDN_EAGAIN: the GS1 rules are not cached; run again where it may wait
		             */
	}
	if (ret)
		goto bad;
	if (png && (why = label_unavailable())) {
		http_resp_error(r, 503, PROTO_RC_ERROR, why);
		free(a);
		return 0;
	}
	r->content_type = svg ? "image/svg+xml" : "image/png";
	r->extra_headers = single_headers;
	ret = (svg ? label_svg : label_png)(url, h, &a->o, resp_sink, r, a->err, sizeof(a->err));
	if (ret == IDN_EINVAL)
		goto bad;
	free(a);
	return ret;
bad:
	http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, a->err);
	free(a);
	return 0;
}

/* ---- POST /api/labels ---- */

/* A batch being streamed: four labels of a PDF, or one image of a ZIP, per part. */
typedef struct label_batch {
	json_t *doc, *hs;
	size_t i, n;
	bool zip, svg;
	label_ask a;
	label_sheet *sheet;
	label_zip *z;
	http_resp *part; /* where the sheet's or the ZIP's bytes go now */
	json_t *urls;    /* with gs1: each identifier's GS1 URI, found before the answer */
	http_resp img;   /* one image of the ZIP, before it is added */
} label_batch;

static int part_sink(void *arg, const void *p, size_t n)
{
	label_batch *b = arg;
	return resp_sink(b->part, p, n);
}

static int batch_one(label_batch *b)
{
	json_t *s = json_array_get(b->hs, b->i);
	idn_slice h = idn_slice_of(json_string_value(s), json_string_length(s));
	char url[LABEL_URL_MAX], err[ERR_CAP];
	if (b->urls)
		snprintf(url, sizeof(url), "%s", json_string_value(json_array_get(b->urls, b->i)));
	else if (label_url(b->a.base, h, url, sizeof(url)) < 0)
		return IDN_EINVAL; /* checked before the answer began */
	if (!b->zip)
		return label_sheet_add(b->sheet, url, h, err, sizeof(err));
	b->img.len = 0;
	int ret =
	    (b->svg ? label_svg : label_png)(url, h, &b->a.o, resp_sink, &b->img, err, sizeof(err));
	if (ret)
		return ret;
	char name[160];
	label_zip_name(b->i, h, b->svg ? "svg" : "png", name, sizeof(name));
	return label_zip_add(b->z, name, b->img.body, b->img.len);
}

static int batch_next(void *arg, http_resp *part)
{
	label_batch *b = arg;
	b->part = part;
	/* Small parts (an image, a few labels): the worker serves others in between. */
	size_t step = b->zip ? 1 : 4;
	for (size_t k = 0; k < step && b->i < b->n; k++, b->i++)
		if (batch_one(b))
			return -1;
	if (b->i < b->n)
		return 1;
	int ret = b->zip ? label_zip_finish(b->z) : label_sheet_finish(b->sheet);
	b->z = NULL;
	b->sheet = NULL;
	return ret ? -1 : 0;
}

static void batch_done(void *arg)
{
	label_batch *b = arg;
	label_sheet_free(b->sheet);
	label_zip_free(b->z);
	json_decref(b->doc);
	json_decref(b->urls);
	free(b->img.body);
	free(b);
}

/* An unsigned member 0..max of the body into *out; -1 with err set if it is not one. */
static int json_uint(json_t *v, const char *key, unsigned max, unsigned *out, char *err,
                     size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
		snprintf(err, errlen, "%s: expected a whole number 0..%u", key, max);
		return -1;
	}
	*out = (unsigned)json_integer_value(v);
	return 0;
}

/* One member of the body; -1 with b->a.err set when it is wrong. */
static int batch_member(label_batch *b, const char *key, json_t *v, bool *columns_rows)
{
	label_ask *a = &b->a;
	char *err = a->err;
	size_t el = sizeof(a->err);
	const char *sv = json_is_string(v) ? json_string_value(v) : NULL;
	if (!strcmp(key, "handles")) {
		b->hs = v;
	} else if (!strcmp(key, "format")) {
		if (!sv || (strcmp(sv, "pdf") && strcmp(sv, "zip")))
			goto bad_choice;
		b->zip = !strcmp(sv, "zip");
	} else if (!strcmp(key, "image")) {
		if (!sv || (strcmp(sv, "png") && strcmp(sv, "svg")))
			goto bad_choice;
		b->svg = !strcmp(sv, "svg");
	} else if (!strcmp(key, "ecc")) {
		if (!sv || strlen(sv) != 1)
			goto bad_choice;
		a->o.ecc = a->so.ecc = (char)(sv[0] & ~0x20);
	} else if (!strcmp(key, "text")) {
		if (!json_is_boolean(v)) {
			snprintf(err, el, "text: expected true or false");
			return -1;
		}
		a->o.text = a->so.text = json_is_true(v);
	} else if (!strcmp(key, "base")) {
		if (!sv || strlen(sv) >= sizeof(a->base_want) || !sv[0])
			goto bad_choice;
		snprintf(a->base_want, sizeof(a->base_want), "%s", sv);
	} else if (!strcmp(key, "gs1")) {
		if (!json_is_boolean(v)) {
			snprintf(err, el, "gs1: expected true or false");
			return -1;
		}
		a->gs1 = json_is_true(v);
	} else if (!strcmp(key, "size")) {
		return json_uint(v, key, 1000000, &a->o.px, err, el);
	} else if (!strcmp(key, "margin")) {
		if (json_uint(v, key, 1000000, &a->o.margin, err, el))
			return -1;
		a->so.margin = a->o.margin;
	} else if (!strcmp(key, "width_mm") || !strcmp(key, "height_mm")) {
		if (!json_is_number(v)) {
			snprintf(err, el, "%s: expected a number of millimetres", key);
			return -1;
		}
		*columns_rows = true;
		*(!strcmp(key, "width_mm") ? &a->so.width_mm : &a->so.height_mm) =
		    json_number_value(v);
	} else if (!strcmp(key, "columns") || !strcmp(key, "rows")) {
		*columns_rows = true;
		return json_uint(v, key, 1000000,
		                 !strcmp(key, "rows") ? &a->so.rows : &a->so.columns, err, el);
	} else {
		snprintf(err, el, "%.64s: not a field of a label request", key);
		return -1;
	}
	return 0;
bad_choice:
	snprintf(err, el, "%s: %s", key,
	         !strcmp(key, "format")  ? "must be \"pdf\" or \"zip\""
	         : !strcmp(key, "image") ? "must be \"png\" or \"svg\""
	         : !strcmp(key, "ecc")   ? "must be one of \"L\", \"M\", \"Q\", \"H\""
	                                 : "expected a base URL given to --label-base");
	return -1;
}

/*
 * The body's members, then the identifiers: 0, 413 when there are too many,
 * or -1 with b->a.err set.
 */
static int batch_parse(api_worker *w, label_batch *b)
{
	label_ask *a = &b->a;
	if (!json_is_object(b->doc)) {
		snprintf(a->err, sizeof(a->err), "expected an object {\"handles\":[...], ...}");
		return -1;
	}
	bool columns_rows = false, has_image = false, has_size = false, has_grid = false;
	const char *key;
	json_t *v;
	json_object_foreach(b->doc, key, v)
	{
		has_image |= !strcmp(key, "image");
		has_size |= !strcmp(key, "size");
		has_grid |= !strcmp(key, "columns") || !strcmp(key, "rows");
		if (batch_member(b, key, v, &columns_rows))
			return -1;
	}
	const char *why = NULL;
	if (!json_is_array(b->hs))
		why = "handles: expected an array of identifiers";
	else if (!(b->n = json_array_size(b->hs)))
		why = "handles: empty";
	else if (!b->zip && (has_image || has_size))
		why = has_image
		          ? "image: only for format \"zip\""
		          : "size: only for format \"zip\" (a sheet is set by columns and rows)";
	else if (b->zip && columns_rows)
		why = "columns, rows, width_mm, height_mm: only for format \"pdf\"";
	else if ((a->so.width_mm || a->so.height_mm) && has_grid)
		why = "columns, rows: not with width_mm and height_mm (they set the grid)";
	else
		why = b->zip ? label_opts_check(&a->o) : label_sheet_opts_check(&a->so);
	if (why) {
		snprintf(a->err, sizeof(a->err), "%s", why);
		return -1;
	}
	if (b->n > w->a->label_max) {
		snprintf(a->err, sizeof(a->err),
		         "handles: at most %u identifiers per request (--label-max), got %zu",
		         w->a->label_max, b->n);
		limit_hit(LIM_LABEL_BATCH, "POST /api/labels of %zu identifiers refused", b->n);
		return 413;
	}
	return 0;
}

/*
 * Every identifier checked, and its URL fits a code; a ZIP of PNGs also
 * needs the largest code (the longest URL's) to fit the size asked.
 */
static int batch_check(api_worker *w, label_batch *b)
{
	label_ask *a = &b->a;
	char field[48], url[LABEL_URL_MAX];
	size_t longest = 0, at = 0;
	if (a->gs1 && !(b->urls = json_array()))
		return IDN_ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		json_t *s = json_array_get(b->hs, i);
		snprintf(field, sizeof(field), "handles[%zu]", i);
		if (!json_is_string(s)) {
			snprintf(a->err, sizeof(a->err), "%s: expected a string", field);
			return -1;
		}
		idn_slice h = idn_slice_of(json_string_value(s), json_string_length(s));
		const char *why = label_handle_check(h);
		if (why) {
			snprintf(a->err, sizeof(a->err), "%s: %s", field, why);
			return -1;
		}
		int ret = label_url_any(w, a, h, field, url, sizeof(url));
		if (ret)
			return ret;
		if (b->urls && json_array_append_new(b->urls, json_string(url)))
			return IDN_ENOMEM;
		if (strlen(url) > longest) {
			longest = strlen(url);
			at = i;
		}
	}
	if (!b->zip || b->svg)
		return 0;
	json_t *s = json_array_get(b->hs, at);
	idn_slice h = idn_slice_of(json_string_value(s), json_string_length(s));
	if (b->urls)
		snprintf(url, sizeof(url), "%s", json_string_value(json_array_get(b->urls, at)));
	else
		label_url(a->base, h, url, sizeof(url));
	b->img.len = 0;
	int ret = label_png(url, h, &a->o, resp_sink, &b->img, a->err, sizeof(a->err));
	if (ret == IDN_EINVAL)
		return -1;
	return ret;
}

/* POST /api/labels {"handles":[...], "format":"pdf"|"zip", ...} */
int api_post_labels(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	json_t *doc = api_json_body(req, r);
	if (!doc)
		return 0;
	label_batch *b = calloc(1, sizeof(*b));
	if (!b) {
		json_decref(doc);
		return IDN_ENOMEM;
	}
	b->doc = doc;
	b->a.o = label_opts_default();
	b->a.o.text = true;
	b->a.so = label_sheet_opts_default();
	int ret = batch_parse(w, b);
	const char *why = ret ? NULL : label_unavailable();
	if (why) {
		http_resp_error(r, 503, PROTO_RC_ERROR, why);
		batch_done(b);
		return 0;
	}
	if (!ret && !(ret = choose_base(w, req, &b->a)))
		ret = batch_check(w, b);
	if (ret) {
		if (ret < 0 && ret != -1) {
			batch_done(b);
			return ret;
		}
		http_resp_error(r, ret == 413 ? 413 : 400, PROTO_RC_INVALID_VALUE, b->a.err);
		batch_done(b);
		return 0;
	}
	b->part = r;
	ret = b->zip ? label_zip_new(!b->svg, part_sink, b, &b->z)
	             : label_sheet_new(&b->a.so, part_sink, b, &b->sheet);
	if (ret) {
		batch_done(b);
		return ret;
	}
	r->content_type = b->zip ? "application/zip" : "application/pdf";
	r->extra_headers = b->zip ? "Content-Disposition: attachment; filename=\"labels.zip\"\r\n"
	                          : "Content-Disposition: attachment; filename=\"labels.pdf\"\r\n";
	http_resp_stream(r, batch_next, batch_done, b);
	return 0;
}
