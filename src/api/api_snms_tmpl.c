/*
 * api_snms_tmpl.c - GET/POST/PUT/DELETE /snms/api/v5/template (snms.h):
 * SNMS templates kept as idnode data templates. The template of prefix P,
 * version V is the identifier P/TEMPLATE.V holding the TEMPLATE.DEF value
 * the node enforces (index 1, node/template.h) and the SNMS header and
 * items' idIndex/idType/state beside it (TEMPLATE.SNMS, index 2). Written
 * as the caller's identity like any identifier (so the node checks the
 * definition and the caller's rights on P), it is enforced on every write
 * path that names it: an identifier whose TEMPLATE value (index 1001) is
 * P/TEMPLATE.V, as templateVersion V sets it. A TEMPLATE.DEF written over
 * the Handle protocol or REST reads back here too (idIndex 2000 + its rank).
 *
 * GET and DELETE take ?prefix=&version= (DELETE also a body {prefix,
 * version}); GET with ?prefix= alone lists the prefix's templates (found
 * through the search index); POST (create) and PUT (replace) the body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/snms.h"
#include "core/err.h"
#include "node/template.h"

enum { TMPL_LIST_MAX = 1000 }; /* templates a GET without version lists */

/* The prefix and version of a query string. */
typedef struct pv_query {
	uint8_t prefix[PROTO_HANDLE_MAX], version[SNMS_VERSION_MAX + 1];
	int plen, vlen; /* -1: malformed */
} pv_query;

static int pv_cb(void *arg, idn_slice name, idn_slice value)
{
	pv_query *q = arg;
	if (api_name_is(name, "prefix"))
		q->plen = api_pct_decode(value, true, q->prefix, sizeof(q->prefix));
	else if (api_name_is(name, "version"))
		q->vlen = api_pct_decode(value, true, q->version, sizeof(q->version));
	return 0;
}

/* prefix and version into h (checked): its length, or 0 with the -2 answer written. */
static int tmpl_id(http_resp *r, idn_slice prefix, idn_slice version, char *h, size_t cap)
{
	if (!prefix.len || memchr(prefix.p, '/', prefix.len) || memchr(prefix.p, 0, prefix.len)) {
		snms_fail(r, SNMS_BUSINESS, "prefix: expected a prefix such as 88.100");
		return 0;
	}
	bool bad = false;
	for (size_t i = 0; i < version.len; i++)
		bad = bad || !version.p[i] || strchr("/ \t\r\n", version.p[i]);
	if (!version.len || version.len > SNMS_VERSION_MAX || bad) {
		snms_fail(r, SNMS_BUSINESS,
		          "version: expected a string of 1 to %d bytes without '/' or spaces",
		          SNMS_VERSION_MAX);
		return 0;
	}
	int n = snms_tmpl_handle(prefix, version, h, cap);
	if (n <= 0)
		snms_fail(r, SNMS_BUSINESS, "prefix: too long");
	return n < 0 ? 0 : n;
}

static idn_slice str_of(json_t *j)
{
	return json_is_string(j) ? idn_slice_of(json_string_value(j), json_string_length(j))
	                         : idn_slice_of("", 0);
}

/* The SNMS template held by h (prefix, version its parts): 0 with *out (NULL: none), < 0. */
static int tmpl_read(api_worker *w, idn_slice h, idn_slice prefix, idn_slice version, json_t **out)
{
	api_answer ans;
	*out = NULL;
	int ret = api_resolve_here(w, h, &ans);
	if (ret)
		return ret;
	idn_slice def = {0}, meta = {0};
	proto_values_it it = proto_values_begin(ans.values, ans.rc == 1 ? ans.nvalues : 0);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		if (idn_slice_eq(v.type, IDN_SLICE(TMPL_DEF_TYPE)))
			def = v.data;
		else if (idn_slice_eq(v.type, IDN_SLICE(SNMS_TMPL_META_TYPE)))
			meta = v.data;
	}
	*out = def.p ? snms_tmpl_from_def(def, meta, prefix, version) : NULL;
	return 0;
}

/* Writes t as the answer's data (freed). */
static int tmpl_answer(http_resp *r, json_t *t)
{
	char *js = json_dumps(t, JSON_COMPACT);
	json_decref(t);
	if (!js)
		return IDN_ENOMEM;
	snms_ok_begin(r);
	http_resp_puts(r, js);
	http_resp_puts(r, "}");
	free(js);
	return 0;
}

/* GET ?prefix=P alone: every template P/TEMPLATE.<version> (found by the search index). */
static int tmpl_list(api_worker *w, http_resp *r, const snms_caller *c, idn_slice prefix)
{
	char **k;
	size_t n;
	int ret =
	    snms_search_keys(w, c, IDN_SLICE(TMPL_DEF_TYPE "=*"), prefix, TMPL_LIST_MAX, &k, &n, r);
	if (ret)
		return ret > 0 ? 0 : ret;
	json_t *all = json_array();
	for (size_t i = 0; i < n && !ret; i++) {
		const char *slash = strchr(k[i], '/');
		size_t sl = sizeof(SNMS_TMPL_SUFFIX) - 1;
		json_t *t = NULL;
		if (slash && !strncasecmp(slash + 1, SNMS_TMPL_SUFFIX, sl))
			ret = tmpl_read(w, idn_slice_of(k[i], strlen(k[i])), prefix,
			                idn_slice_of(slash + 1 + sl, strlen(slash + 1 + sl)), &t);
		if (t)
			json_array_append_new(all, t);
	}
	for (size_t i = 0; i < n; i++)
		free(k[i]);
	free(k);
	if (ret) {
		json_decref(all);
		return ret;
	}
	return tmpl_answer(r, all);
}

static int tmpl_get(api_worker *w, const http_req *req, http_resp *r, const snms_caller *c)
{
	pv_query q = {0};
	api_query_each(req->query, pv_cb, &q);
	char h[PROTO_HANDLE_MAX + 1];
	idn_slice prefix = idn_slice_of(q.prefix, q.plen > 0 ? (size_t)q.plen : 0);
	idn_slice version = idn_slice_of(q.version, q.vlen > 0 ? (size_t)q.vlen : 0);
	if (prefix.len && !version.len && q.vlen <= 0)
		return tmpl_list(w, r, c, prefix);
	int hl = tmpl_id(r, prefix, version, h, sizeof(h));
	if (!hl)
		return 0;
	json_t *t;
	int ret = tmpl_read(w, idn_slice_of(h, (size_t)hl), prefix, version, &t);
	if (ret)
		return ret;
	if (!t) {
		snms_fail(r, SNMS_BUSINESS, "no template %.*s of prefix %.*s here (%s)",
		          (int)version.len, (const char *)version.p, (int)prefix.len,
		          (const char *)prefix.p, h);
		return 0;
	}
	return tmpl_answer(r, t);
}

/* {index, type, data:{format:"string", value: dump(j)}} */
static json_t *json_value(int index, const char *type, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_t *v = json_pack("{s:i,s:s,s:{s:s,s:s}}", "index", index, "type", type, "data",
	                      "format", "string", "value", s ? s : "");
	free(s);
	return v;
}

static int tmpl_put(api_worker *w, const http_req *req, http_resp *r, const snms_caller *c,
                    bool update)
{
	json_t *body = snms_body(req, r);
	if (!body)
		return 0;
	json_t *def = NULL, *meta = NULL, *doc = NULL;
	char err[SNMS_MSG_MAX], h[PROTO_HANDLE_MAX + 1];
	int ret = 0, hl;
	if (!json_is_object(body)) {
		snms_fail(r, SNMS_BUSINESS, "body: expected a template object");
		goto out;
	}
	idn_slice prefix = str_of(json_object_get(body, "prefix"));
	if (!(hl = tmpl_id(r, prefix, str_of(json_object_get(body, "version")), h, sizeof(h))))
		goto out;
	if (!snms_may(c, prefix, r))
		goto out;
	if (snms_tmpl_to_def(body, &def, &meta, err, sizeof(err))) {
		snms_fail(r, SNMS_BUSINESS, "%s", err);
		goto out;
	}
	json_object_del(meta, "prefix");
	json_object_del(meta, "version");
	doc = json_pack("{s:s,s:[o,o]}", "handle", h, "value",
	                json_value(SNMS_TMPL_DEF_INDEX, TMPL_DEF_TYPE, def),
	                json_value(SNMS_TMPL_META_INDEX, SNMS_TMPL_META_TYPE, meta));
	int status;
	if (!doc || (ret = snms_write_one(w, c, doc, update, &status, err, sizeof(err))))
		goto out;
	api_audit(w, req, c, update ? "template.update" : "template.create",
	          idn_slice_of(h, (size_t)hl), status, err);
	if (status != SNMS_OK) {
		snms_fail(r, status, "%s", err);
		goto out;
	}
	snms_ok_handle(r, err, idn_slice_of(h, (size_t)hl));
out:
	json_decref(body);
	json_decref(def);
	json_decref(meta);
	json_decref(doc);
	return ret;
}

static int tmpl_delete(api_worker *w, const http_req *req, http_resp *r, const snms_caller *c)
{
	pv_query q = {0};
	api_query_each(req->query, pv_cb, &q);
	idn_slice prefix = idn_slice_of(q.prefix, q.plen > 0 ? (size_t)q.plen : 0);
	idn_slice version = idn_slice_of(q.version, q.vlen > 0 ? (size_t)q.vlen : 0);
	json_t *body = NULL;
	if (!prefix.len && req->body.len) {
		if (!(body = snms_body(req, r)))
			return 0;
		prefix = str_of(json_object_get(body, "prefix"));
		version = str_of(json_object_get(body, "version"));
	}
	char h[PROTO_HANDLE_MAX + 1], msg[SNMS_MSG_MAX];
	int hl = tmpl_id(r, prefix, version, h, sizeof(h)), ret = 0, status;
	if (!hl || !snms_may(c, prefix, r))
		goto out;
	if ((ret = snms_delete_one(w, c, idn_slice_of(h, (size_t)hl), &status, msg, sizeof(msg))))
		goto out;
	api_audit(w, req, c, "template.delete", idn_slice_of(h, (size_t)hl), status, msg);
	if (status != SNMS_OK) {
		snms_fail(r, status, "%s", msg);
		goto out;
	}
	snms_ok_begin(r);
	http_resp_puts(r, "null}");
out:
	json_decref(body);
	return ret;
}

int snms_template(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	snms_caller c;
	int ret = snms_auth(w, req, r, &c);
	if (ret <= 0)
		return ret;
	if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
		return tmpl_get(w, req, r, &c);
	if (!strcmp(req->method, "DELETE"))
		return tmpl_delete(w, req, r, &c);
	return tmpl_put(w, req, r, &c, !strcmp(req->method, "PUT"));
}
