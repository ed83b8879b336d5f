/*
 * api_snms_map.c - the pure parts of the SNMS management API (snms.h): the
 * {"status","message","data"} answers, an identifier's body {handle, templateVersion, value:[..]}
 * to Handle values and back, the comparison a retried create needs, and SNMS templates to idnode's
 * TEMPLATE.DEF definitions and back. No I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/snms.h"
#include "proto/admin.h"
#include "proto/reserved.h"

enum {
	VALUES_MAX = 4096,
	PERMS_PUBLIC = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE | PROTO_PERM_PUBLIC_READ,
	PERMS_PRIVATE = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE,
	FIELD_TEXT_MAX = 1024,
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- answers ---- */

int snms_http_status(int status)
{
	switch (status) {
	case SNMS_NOT_LOGGED_IN:
		return 401;
	case SNMS_NO_PERMISSION:
		return 403;
	case SNMS_INTERNAL:
		return 500;
	default:
		return 200;
	}
}

void snms_fail(http_resp *r, int status, const char *fmt, ...)
{
	char msg[SNMS_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->len = 0;
	r->status = snms_http_status(status);
	r->content_type = "application/json";
	http_resp_printf(r, "{\"status\":%d,\"message\":", status);
	api_json_str(r, idn_slice_of(msg, strlen(msg)));
	http_resp_puts(r, ",\"data\":null}");
}

void snms_ok_begin(http_resp *r)
{
	r->len = 0;
	r->status = 200;
	r->content_type = "application/json";
	http_resp_puts(r, "{\"status\":1,\"message\":\"success\",\"data\":");
}

void snms_ok_handle(http_resp *r, const char *msg, idn_slice h)
{
	r->len = 0;
	r->status = 200;
	r->content_type = "application/json";
	http_resp_puts(r, "{\"status\":1,\"message\":");
	api_json_str(r, idn_slice_of(msg, strlen(msg)));
	http_resp_puts(r, ",\"data\":{\"handle\":");
	api_json_str(r, h);
	http_resp_puts(r, "}}");
}

int snms_status_of_rc(uint32_t rc)
{
	switch (rc) {
	case PROTO_RC_SUCCESS:
		return SNMS_OK;
	case PROTO_RC_INVALID_ADMIN:
	case PROTO_RC_INSUFFICIENT_PERMISSIONS:
	case PROTO_RC_AUTHENTICATION_FAILED:
	case PROTO_RC_AUTHENTICATION_NEEDED:
		return SNMS_NO_PERMISSION;
	case PROTO_RC_ERROR:
	case PROTO_RC_SERVER_BUSY:
	case PROTO_RC_SERVER_BACKUP:
		return SNMS_INTERNAL;
	default:
		return SNMS_BUSINESS;
	}
}

json_t *snms_body(const http_req *req, http_resp *r)
{
	json_error_t jerr;
	json_t *doc =
	    json_loadb((const char *)req->body.p, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		snms_fail(r, SNMS_BUSINESS, "body: invalid JSON at line %d column %d: %s",
		          jerr.line, jerr.column, jerr.text);
		r->status = 400;
	}
	return doc;
}

/* ---- identifiers ---- */

/* JSON whitespace (a NUL is not). */
static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

long snms_array_split(idn_slice b, snms_span *out, size_t cap)
{
	size_t i = 0, start, n = 0;
	int depth = 1;
	bool in_str = false, blank = true;
	while (i < b.len && is_ws(b.p[i]))
		i++;
	if (i == b.len || b.p[i] != '[')
		return -1;
	start = ++i;
	for (; i < b.len && depth; i++) {
		uint8_t c = b.p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '[' || c == '{')
			depth++;
		else if (c == ']' || c == '}')
			depth--;
		if ((c == ',' && depth == 1) || !depth) {
			if (blank && (c == ',' || n))
				return -1; /* an empty element: "[1,,2]", "[1,]" */
			if (!blank && n++ < cap)
				out[n - 1] = (snms_span){start, i - start};
			start = i + 1;
			blank = true;
			continue;
		}
		blank = blank && is_ws(c);
	}
	while (i < b.len && is_ws(b.p[i]))
		i++;
	return depth || in_str || i != b.len ? -1 : (long)n;
}

/* The first key of o not in known[] (NULL-terminated), or NULL. */
static const char *unknown_key(json_t *o, const char *const *known)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		size_t k = 0;
		while (known[k] && strcmp(known[k], key))
			k++;
		if (!known[k])
			return key;
	}
	return NULL;
}

int snms_item_parse(json_t *doc, bool need_value, const char *where, snms_item *out, char *err,
                    size_t errlen)
{
	static const char *const known[] = {"handle", "templateVersion", "value", NULL};
	*out = (snms_item){0};
	if (!json_is_object(doc))
		return fail(err, errlen, "%sexpected an object {handle, templateVersion, value}",
		            where);
	const char *bad = unknown_key(doc, known);
	if (bad)
		return fail(err, errlen,
		            "%s%.64s: unknown field (expected handle, templateVersion, value)",
		            where, bad);
	json_t *h = json_object_get(doc, "handle"), *tv = json_object_get(doc, "templateVersion");
	json_t *v = json_object_get(doc, "value");
	if (!json_is_string(h))
		return fail(err, errlen, "%shandle: expected a string PREFIX/SUFFIX", where);
	const char *hs = json_string_value(h), *slash = strchr(hs, '/');
	size_t hl = json_string_length(h);
	if (!slash || slash == hs || !slash[1] || hl > PROTO_HANDLE_MAX || strlen(hs) != hl)
		return fail(err, errlen,
		            "%shandle: '%.80s' is not PREFIX/SUFFIX (at most %d bytes, no NUL)",
		            where, hs, PROTO_HANDLE_MAX);
	out->handle = idn_slice_of(hs, hl);
	if (tv && !json_is_null(tv)) {
		if (!json_is_string(tv) || json_string_length(tv) > SNMS_VERSION_MAX ||
		    strcspn(json_string_value(tv), "/ \t\r\n") != json_string_length(tv))
			return fail(err, errlen,
			            "%stemplateVersion: expected a string of at most %d bytes "
			            "without '/' or spaces",
			            where, SNMS_VERSION_MAX);
		out->version = idn_slice_of(json_string_value(tv), json_string_length(tv));
	}
	if (v && !json_is_array(v))
		return fail(err, errlen, "%svalue: expected an array", where);
	if (need_value && !json_array_size(v))
		return fail(err, errlen, "%svalue: expected a non-empty array", where);
	if (json_array_size(v) > VALUES_MAX)
		return fail(err, errlen, "%svalue: at most %d values", where, VALUES_MAX);
	out->value = v;
	return 0;
}

/* auth: 0/"0"/""/absent public read, 1/"1" administrators only; -1 otherwise. */
static int auth_perms(json_t *a)
{
	if (!a || json_is_null(a) || (json_is_string(a) && !json_string_length(a)))
		return PERMS_PUBLIC;
	long long x = -1;
	if (json_is_integer(a))
		x = json_integer_value(a);
	else if (json_is_string(a) && json_string_length(a) == 1)
		x = json_string_value(a)[0] - '0';
	return x == 0 ? PERMS_PUBLIC : x == 1 ? PERMS_PRIVATE : -1;
}

static bool index_used(json_t *vals, uint32_t idx)
{
	size_t i;
	json_t *v;
	json_array_foreach(vals, i, v)
	{
		json_t *ji = json_object_get(v, "index");
		if (json_is_integer(ji) && json_integer_value(ji) == (json_int_t)idx)
			return true;
	}
	return false;
}

/* One SNMS value into w; 0, or -1 with err. *admin set when it is an HS_ADMIN. */
static int value_encode(json_t *jv, size_t k, wire_wr *w, bool *admin, const char *where, char *err,
                        size_t errlen)
{
	static const char *const known[] = {"index", "type", "auth", "data", "ttl", NULL};
	static const char *const dknown[] = {"format", "value", NULL};
	if (!json_is_object(jv))
		return fail(err, errlen, "%svalue[%zu]: expected an object", where, k);
	const char *bad = unknown_key(jv, known);
	json_t *jd = json_object_get(jv, "data");
	if (!bad && json_is_object(jd))
		bad = unknown_key(jd, dknown);
	if (bad)
		return fail(err, errlen,
		            "%svalue[%zu]: %.64s: unknown field (expected index, type, auth, "
		            "data:{format, value}, ttl)",
		            where, k, bad);
	json_t *ji = json_object_get(jv, "index");
	if (json_is_integer(ji) &&
	    (json_integer_value(ji) == SNMS_TMPL_ID_INDEX || json_integer_value(ji) == 1001 ||
	     json_integer_value(ji) == SNMS_TMPL_RESERVED))
		return fail(
		    err, errlen,
		    "%svalue[%zu].index: %lld is reserved (1000 TEMPLATE_ID, 1001 TEMPLATE: "
		    "set by templateVersion, 1999)",
		    where, k, (long long)json_integer_value(ji));
	int perms = auth_perms(json_object_get(jv, "auth"));
	if (perms < 0)
		return fail(
		    err, errlen,
		    "%svalue[%zu].auth: expected 0 (anyone reads) or 1 (administrators only)",
		    where, k);
	size_t at = wire_wr_len(w);
	char why[160];
	uint32_t idx;
	const char *msg = api_value_from_json(jv, w, &idx, why, sizeof(why));
	if (msg)
		return fail(err, errlen, "%svalue[%zu].%s", where, k, msg);
	if (!w->err && wire_wr_len(w) > at + PROTO_VALUE_PERMS_OFF)
		w->start[at + PROTO_VALUE_PERMS_OFF] = (uint8_t)perms;
	json_t *jt = json_object_get(jv, "type");
	*admin = *admin || !strcmp(json_string_value(jt), "HS_ADMIN");
	return 0;
}

int snms_values_encode(const snms_item *it, idn_slice tmpl, const ident *admin, wire_wr *w,
                       const char *where, char *err, size_t errlen)
{
	bool has_admin = false;
	int n = 0;
	size_t k;
	json_t *jv;
	json_array_foreach(it->value, k, jv)
	{
		if (value_encode(jv, k, w, &has_admin, where, err, errlen))
			return -1;
		n++;
	}
	if (tmpl.len) {
		proto_value v = {.index = 1001,
		                 .ttl = 86400,
		                 .perms = PERMS_PUBLIC,
		                 .type = IDN_SLICE("TEMPLATE"),
		                 .data = tmpl};
		proto_value_put(w, &v);
		n++;
	}
	if (!has_admin && admin) {
		uint32_t idx = SNMS_ADMIN_INDEX;
		while (index_used(it->value, idx))
			idx++;
		uint8_t buf[PROTO_HANDLE_MAX + 16];
		wire_wr aw = wire_wr_init(buf, sizeof(buf));
		proto_admin a = {.rights = PROTO_ADM_ALL,
		                 .handle = idn_slice_of(admin->handle, admin->hlen),
		                 .index = admin->index};
		proto_admin_put(&aw, &a);
		proto_value v = {.index = idx,
		                 .ttl = 86400,
		                 .perms = PERMS_PUBLIC, /* as the reference makes HS_ADMIN */
		                 .type = IDN_SLICE("HS_ADMIN"),
		                 .data = idn_slice_of(buf, wire_wr_len(&aw))};
		proto_value_put(w, &v);
		n++;
	}
	if (w->err)
		return fail(err, errlen, "%svalue: too large for one record", where);
	return n;
}

/* Printable UTF-8 without control characters: shown as format "string". */
static bool is_text(idn_slice d)
{
	for (size_t i = 0; i < d.len;) {
		uint8_t c = d.p[i];
		size_t n = c < 0x80         ? 1
		           : (c >> 5) == 6  ? 2
		           : (c >> 4) == 14 ? 3
		           : (c >> 3) == 30 ? 4
		                            : 0;
		if (!n || i + n > d.len || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f)
			return false;
		for (size_t j = 1; j < n; j++)
			if ((d.p[i + j] & 0xC0) != 0x80)
				return false;
		i += n;
	}
	return true;
}

static void value_json(http_resp *r, const proto_value *v)
{
	http_resp_printf(r, "{\"index\":%u,\"type\":", v->index);
	api_json_str(r, v->type);
	http_resp_printf(r, ",\"auth\":%d,\"ttl\":%u,\"data\":",
	                 v->perms & PROTO_PERM_PUBLIC_READ ? 0 : 1, v->ttl);
	proto_admin a;
	if (idn_slice_eq(v->type, IDN_SLICE("HS_ADMIN")) && !proto_admin_decode(v->data, &a)) {
		char bits[13];
		for (int i = 0; i < 12; i++)
			bits[i] = a.rights & (1u << (11 - i)) ? '1' : '0';
		bits[12] = 0;
		http_resp_puts(r, "{\"format\":\"admin\",\"value\":{\"handle\":");
		api_json_str(r, a.handle);
		http_resp_printf(r, ",\"index\":%u,\"permissions\":\"%s\"}}", a.index, bits);
	} else if (is_text(v->data)) {
		http_resp_puts(r, "{\"format\":\"string\",\"value\":");
		api_json_str(r, v->data);
		http_resp_puts(r, "}");
	} else {
		http_resp_puts(r, "{\"format\":\"base64\",\"value\":\"");
		api_base64(r, v->data);
		http_resp_puts(r, "\"}");
	}
	http_resp_puts(r, "}");
}

/* The version of a template's identifier <prefix>/TEMPLATE.<version>; else all of it. */
static idn_slice version_of(idn_slice d)
{
	static const char pat[] = "/" SNMS_TMPL_SUFFIX;
	size_t pl = sizeof(pat) - 1;
	for (size_t i = 0; i + pl <= d.len; i++)
		if (!memcmp(d.p + i, pat, pl))
			return idn_slice_of(d.p + i + pl, d.len - i - pl);
	return d;
}

void snms_values_json(http_resp *r, idn_slice values, uint32_t n)
{
	proto_values_it it = proto_values_begin(values, n);
	proto_value v;
	idn_slice version = {0};
	bool first = true;
	http_resp_puts(r, "\"value\":[");
	while (proto_values_next(&it, &v) == 1) {
		if (v.index == 1001 && idn_slice_eq(v.type, IDN_SLICE("TEMPLATE"))) {
			version = version_of(v.data);
			continue;
		}
		http_resp_puts(r, first ? "" : ",");
		first = false;
		value_json(r, &v);
	}
	http_resp_puts(r, "],\"templateVersion\":");
	if (version.p)
		api_json_str(r, version);
	else
		http_resp_puts(r, "null");
}

/* Whether value v (encoded raw) is in the list b: same index, type, data, perms, ttl. */
static bool value_in(const proto_value *v, idn_slice b, uint32_t nb)
{
	proto_values_it it = proto_values_begin(b, nb);
	proto_value x;
	while (proto_values_next(&it, &x) == 1)
		if (x.index == v->index)
			return idn_slice_eq(x.type, v->type) && idn_slice_eq(x.data, v->data) &&
			       x.perms == v->perms && x.ttl == v->ttl && x.ttl_type == v->ttl_type;
	return false;
}

bool snms_values_same(idn_slice a, uint32_t na, idn_slice b, uint32_t nb, bool *partial)
{
	proto_values_it it = proto_values_begin(a, na);
	proto_value v;
	uint32_t seen = 0;
	*partial = false;
	while (proto_values_next(&it, &v) == 1) {
		if (!(v.perms & PROTO_PERM_PUBLIC_READ)) {
			*partial = true;
			continue;
		}
		if (!value_in(&v, b, nb))
			return false;
		seen++;
	}
	return seen == nb;
}

int snms_tmpl_handle(idn_slice prefix, idn_slice version, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%.*s/" SNMS_TMPL_SUFFIX "%.*s", (int)prefix.len,
	                 (const char *)prefix.p, (int)version.len, (const char *)version.p);
	return n < 0 || (size_t)n >= cap || n > PROTO_HANDLE_MAX ? -1 : n;
}

/* ---- templates ---- */

static const char *const field_types[] = {"string", "number", "date", "url", "file", NULL};

/* One item into a TEMPLATE.DEF field (*f) and its kept part (*m). */
static int item_to_field(json_t *it, size_t i, json_t *f, json_t *m, char *err, size_t errlen)
{
	static const char *const known[] = {"name",  "idType",   "idIndex", "required",
	                                    "state", "metadata", NULL};
	static const char *const mknown[] = {"type", "minLength", "maxLength", NULL};
	if (!json_is_object(it))
		return fail(err, errlen, "items[%zu]: expected an object", i);
	const char *bad = unknown_key(it, known);
	json_t *md = json_object_get(it, "metadata");
	if (!bad && json_is_object(md))
		bad = unknown_key(md, mknown);
	if (bad)
		return fail(err, errlen, "items[%zu].%.64s: unknown field", i, bad);
	json_t *name = json_object_get(it, "name"), *idx = json_object_get(it, "idIndex");
	json_t *req = json_object_get(it, "required");
	if (!json_is_string(name) || !json_string_length(name))
		return fail(err, errlen, "items[%zu].name: expected a non-empty string", i);
	if (!json_is_integer(idx) || json_integer_value(idx) < 1000 ||
	    json_integer_value(idx) > 0x7FFFFFFF)
		return fail(err, errlen, "items[%zu].idIndex: expected an integer from 2000", i);
	json_int_t ix = json_integer_value(idx);
	if (ix == SNMS_TMPL_ID_INDEX || ix == 1001 || ix == SNMS_TMPL_RESERVED)
		return fail(
		    err, errlen,
		    "items[%zu].idIndex: %lld is reserved (1000 TEMPLATE_ID, 1001 TEMPLATE, "
		    "1999)",
		    i, (long long)ix);
	if (ix < 2000)
		return fail(err, errlen,
		            "items[%zu].idIndex: %lld is below 2000, where fields start", i,
		            (long long)ix);
	if (req && !json_is_boolean(req) &&
	    !(json_is_integer(req) &&
	      (json_integer_value(req) == 0 || json_integer_value(req) == 1)))
		return fail(err, errlen, "items[%zu].required: expected true/false or 1/0", i);
	if (md && !json_is_object(md))
		return fail(err, errlen, "items[%zu].metadata: expected an object", i);
	json_t *mt = json_object_get(md, "type");
	const char *ts = mt ? json_string_value(mt) : "string";
	size_t k = 0;
	while (ts && field_types[k] && strcmp(field_types[k], ts))
		k++;
	if (!ts || !field_types[k])
		return fail(err, errlen,
		            "items[%zu].metadata.type: expected string, number, date, url or file",
		            i);
	json_object_set(f, "name", name);
	json_object_set_new(f, "type", json_string(ts));
	json_object_set_new(f, "required",
	                    json_boolean(json_is_true(req) || json_integer_value(req) == 1));
	static const char *const lens[] = {"minLength", "maxLength"};
	for (int j = 0; j < 2; j++) {
		json_t *l = json_object_get(md, lens[j]);
		if (!l || json_is_null(l))
			continue;
		if (!json_is_integer(l) || json_integer_value(l) < 0 ||
		    json_integer_value(l) > 0x7FFFFFFF)
			return fail(err, errlen, "items[%zu].metadata.%s: expected an integer >= 0",
			            i, lens[j]);
		json_object_set(f, lens[j], l);
	}
	json_object_set(m, "name", name);
	json_object_set(m, "idIndex", idx);
	static const char *const kept[] = {"idType", "state"};
	for (int j = 0; j < 2; j++)
		if (json_object_get(it, kept[j]))
			json_object_set(m, kept[j], json_object_get(it, kept[j]));
	return 0;
}

int snms_tmpl_to_def(json_t *body, json_t **def, json_t **meta, char *err, size_t errlen)
{
	static const char *const known[] = {"prefix",
	                                    "version",
	                                    "industryCategory",
	                                    "industrySpecific",
	                                    "industryTrade",
	                                    "industrySubclass",
	                                    "type",
	                                    "description",
	                                    "items",
	                                    "id",
	                                    NULL};
	*def = *meta = NULL;
	if (!json_is_object(body))
		return fail(err, errlen, "expected an object {prefix, version, items, ...}");
	const char *bad = unknown_key(body, known);
	if (bad)
		return fail(err, errlen, "%.64s: unknown field", bad);
	json_t *items = json_object_get(body, "items");
	size_t n = json_array_size(items);
	if (!json_is_array(items) || !n || n > 256)
		return fail(err, errlen, "items: expected an array of 1 to 256 items");
	for (size_t k = 0; known[k]; k++) {
		json_t *x = json_object_get(body, known[k]);
		bool num = !strcmp(known[k], "type") || !strcmp(known[k], "id");
		if (x && !json_is_null(x) && strcmp(known[k], "items") &&
		    (num ? !json_is_integer(x) && !json_is_string(x)
		         : !json_is_string(x) || json_string_length(x) > FIELD_TEXT_MAX))
			return fail(err, errlen, "%s: expected %s", known[k],
			            num ? "a number" : "a string of at most 1024 bytes");
	}
	json_t *type = json_object_get(body, "type");
	if (type && json_is_integer(type) && json_integer_value(type) != 1 &&
	    json_integer_value(type) != 2)
		return fail(err, errlen, "type: expected 1 (active carrier) or 2 (other)");
	json_t *d = json_object(), *fields = json_array(), *m = json_deep_copy(body);
	json_t *mitems = json_array();
	int ret = 0;
	for (size_t i = 0; i < n && !ret; i++) {
		json_t *f = json_object(), *mi = json_object();
		ret = item_to_field(json_array_get(items, i), i, f, mi, err, errlen);
		for (size_t j = 0; !ret && j < i; j++) {
			json_t *o = json_array_get(mitems, j);
			if (json_equal(json_object_get(o, "idIndex"),
			               json_object_get(mi, "idIndex")) ||
			    json_equal(json_object_get(o, "name"), json_object_get(mi, "name")))
				ret =
				    fail(err, errlen,
				         "items[%zu]: name or idIndex repeats items[%zu]'s", i, j);
		}
		json_array_append_new(fields, f);
		json_array_append_new(mitems, mi);
	}
	json_t *desc = json_object_get(body, "description");
	if (json_is_string(desc) && json_string_length(desc))
		json_object_set(d, "name", desc);
	json_object_set_new(d, "fields", fields);
	json_object_set_new(m, "items", mitems);
	if (ret) {
		json_decref(d);
		json_decref(m);
		return ret;
	}
	*def = d;
	*meta = m;
	return 0;
}

/* The kept item of name in meta's items, or NULL. */
static json_t *meta_item(json_t *meta, json_t *name)
{
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(meta, "items"), i, it)
	{
		if (json_equal(json_object_get(it, "name"), name))
			return it;
	}
	return NULL;
}

json_t *snms_tmpl_from_def(idn_slice def, idn_slice meta, idn_slice prefix, idn_slice version)
{
	json_t *d = json_loadb((const char *)def.p, def.len, 0, NULL);
	if (!json_is_object(d)) {
		json_decref(d);
		return NULL;
	}
	json_t *m = meta.len ? json_loadb((const char *)meta.p, meta.len, 0, NULL) : NULL;
	json_t *out = json_is_object(m) ? json_deep_copy(m) : json_object();
	json_object_set_new(out, "prefix", json_stringn((const char *)prefix.p, prefix.len));
	json_object_set_new(out, "version", json_stringn((const char *)version.p, version.len));
	if (!json_object_get(out, "description") && json_is_string(json_object_get(d, "name")))
		json_object_set(out, "description", json_object_get(d, "name"));
	json_t *items = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(d, "fields"), i, f)
	{
		json_t *it = json_object(), *md = json_object();
		json_t *name = json_object_get(f, "name"), *kept = meta_item(m, name);
		json_object_set(it, "name", name);
		json_t *idx = json_object_get(kept, "idIndex");
		json_object_set_new(it, "idIndex",
		                    idx ? json_copy(idx) : json_integer(2000 + (json_int_t)i));
		if (json_object_get(kept, "idType"))
			json_object_set(it, "idType", json_object_get(kept, "idType"));
		if (json_object_get(kept, "state"))
			json_object_set(it, "state", json_object_get(kept, "state"));
		json_object_set_new(it, "required",
		                    json_integer(json_is_true(json_object_get(f, "required"))));
		json_object_set(md, "type", json_object_get(f, "type"));
		static const char *const lens[] = {"minLength", "maxLength"};
		for (int j = 0; j < 2; j++)
			if (json_object_get(f, lens[j]))
				json_object_set(md, lens[j], json_object_get(f, lens[j]));
		json_object_set_new(it, "metadata", md);
		json_array_append_new(items, it);
	}
	json_object_set_new(out, "items", items);
	json_decref(d);
	json_decref(m);
	return out;
}
