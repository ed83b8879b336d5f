/*
 * api_snms.c - the SNMS identifier routes (snms.h, IDIS.md §4):
 * GET /identityv2/data/detail?handle=, POST/PUT/DELETE /identityv2/data,
 * POST .../batchCreate, PUT .../batchUpdate, DELETE .../batchDelete; the
 * {"status","message","data"} answers every SNMS route gives, and the
 * caller's authentication.
 *
 * Each identifier is one Handle admin request run as the caller's identity
 * (api_admin_run): create = CREATE_HANDLE, update = CREATE_HANDLE with
 * overwrite on an identifier that exists (its HS_ADMIN values kept when the
 * body has none), delete = DELETE_HANDLE. A batch runs its items under group
 * commit (node_worker_group): one store transaction and one commit, each
 * item in a nested transaction, so a failed item leaves nothing and the
 * others stand.
 *
 * Retries (IDIS.md: 504 means "outcome unknown, retry"): a create of an
 * identifier that exists with the same values answers status 1, message
 * "already exists: identical values ..." (the first call took effect); with
 * other values, status -2 "already exists with other values". A delete of an
 * identifier that does not exist answers -2 "does not exist".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/snms.h"
#include "core/err.h"
#include "node/template.h"
#include "proto/admin.h"
#include "proto/reserved.h"
#include "proto/handle.h"

/* ---- the caller ---- */

int snms_auth(api_worker *w, const http_req *req, http_resp *r, snms_caller *c)
{
	*c = (snms_caller){0};
	idn_slice az;
	if (!http_req_header(req, "authorization", &az)) {
		snms_fail(
		    r, SNMS_NOT_LOGGED_IN,
		    "not logged in: send Authorization: Bearer <token> (POST /identity/token)");
		return 0;
	}
	if (az.len >= 7 && !strncasecmp((const char *)az.p, "Bearer ", 7))
		return api_snms_auth(w, req, r, c);
	/* The REST API's own credentials: a Handle identity, no account. */
	int ret = api_need_auth(w, req, r, &c->id);
	if (ret <= 0) {
		if (ret == 0)
			snms_fail(r, SNMS_NOT_LOGGED_IN,
			          "not logged in: the credentials of Authorization were refused");
		return ret;
	}
	snprintf(c->acct.name, sizeof(c->acct.name), "%u:%.*s", c->id.index,
	         c->id.hlen > ACCOUNT_NAME_MAX - 12 ? ACCOUNT_NAME_MAX - 12 : (int)c->id.hlen,
	         (const char *)c->id.handle);
	api_peer_text(req, c->from, sizeof(c->from));
	return 1;
}

/* Whether the caller may act on what (see snms_may); why says why not. */
static bool may(const snms_caller *c, idn_slice what, char *why, size_t whylen)
{
	if (!c->acct.role || api_caller_may(c, what))
		return true;
	snprintf(why, whylen,
	         "no permission: %.*s is not under a prefix of account %s (another enterprise's)",
	         (int)what.len, (const char *)what.p, c->acct.name);
	return false;
}

int snms_may(const snms_caller *c, idn_slice what, http_resp *r)
{
	char why[SNMS_MSG_MAX];
	if (may(c, what, why, sizeof(why)))
		return 1;
	snms_fail(r, SNMS_NO_PERMISSION, "%s", why);
	return 0;
}

/* ---- one identifier ---- */

/* The result of one item. */
typedef struct item_res {
	int status;
	char msg[SNMS_MSG_MAX];
} item_res;

static void res_set(item_res *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void res_set(item_res *res, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	res->status = status;
	vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
}

/* The template last found for a (prefix, version): one lookup per batch, not per item. */
typedef struct tmpl_cache {
	char prefix[PROTO_HANDLE_MAX + 1];
	char version[SNMS_VERSION_MAX + 1];
	char handle[PROTO_HANDLE_MAX + 1];
	int hlen; /* 0: none cached */
} tmpl_cache;

/* Whether h is a template here: an identifier with a TEMPLATE.DEF value. */
static int is_template(api_worker *w, idn_slice h, bool *yes)
{
	api_answer ans;
	int ret = api_resolve_here(w, h, &ans);
	*yes = false;
	if (ret || ans.rc != PROTO_RC_SUCCESS)
		return ret;
	proto_values_match m = {.type = IDN_SLICE(TMPL_DEF_TYPE)};
	proto_values_it it = proto_values_begin(ans.values, ans.nvalues);
	proto_value v;
	*yes = proto_values_find(&it, &m, &v) == 1;
	return 0;
}

/*
 * The template of version for handle's prefix: <prefix>/TEMPLATE.<version>,
 * else the same under each parent prefix (88.100.7 -> 88.100 -> 88), the
 * first that exists. 0 with tc filled, 1 none (res set), < 0 fatal.
 */
static int find_template(api_worker *w, idn_slice handle, idn_slice version, tmpl_cache *tc,
                         item_res *res)
{
	const uint8_t *slash = memchr(handle.p, '/', handle.len);
	idn_slice prefix = idn_slice_of(handle.p, (size_t)(slash - handle.p));
	if (tc->hlen && strlen(tc->prefix) == prefix.len &&
	    !memcmp(tc->prefix, prefix.p, prefix.len) && strlen(tc->version) == version.len &&
	    !memcmp(tc->version, version.p, version.len))
		return 0;
	tc->hlen = 0;
	for (idn_slice p = prefix; p.len;) {
		int n = snms_tmpl_handle(p, version, tc->handle, sizeof(tc->handle));
		bool yes = false;
		int ret = n < 0 ? 0 : is_template(w, idn_slice_of(tc->handle, (size_t)n), &yes);
		if (ret)
			return ret;
		if (yes) {
			snprintf(tc->prefix, sizeof(tc->prefix), "%.*s", (int)prefix.len,
			         (const char *)prefix.p);
			snprintf(tc->version, sizeof(tc->version), "%.*s", (int)version.len,
			         (const char *)version.p);
			tc->hlen = n;
			return 0;
		}
		size_t k = p.len;
		while (k && p.p[k - 1] != '.')
			k--;
		p.len = k ? k - 1 : 0;
	}
	res_set(res, SNMS_BUSINESS,
	        "templateVersion: no template %.*s for prefix %.*s or its parents "
	        "(%.*s/" SNMS_TMPL_SUFFIX "%.*s)",
	        (int)version.len, (const char *)version.p, (int)prefix.len, (const char *)prefix.p,
	        (int)prefix.len, (const char *)prefix.p, (int)version.len, (const char *)version.p);
	return 1;
}

/* What the writes of one request share. */
typedef struct snms_run {
	api_worker *w;
	const snms_caller *c;
	uint8_t *vals; /* ANS_CAP bytes: the values of the item being written */
	tmpl_cache tc;
} snms_run;

/* A non-success answer m of an admin request for h into res. */
static void res_of_answer(item_res *res, const proto_msg *m)
{
	idn_slice em = {0};
	proto_error_decode(m->body, &em);
	const char *name = proto_rc_name(m->hdr.rcode);
	res_set(res, snms_status_of_rc(m->hdr.rcode), "%.*s",
	        em.len ? (int)em.len : (int)strlen(name), em.len ? (const char *)em.p : name);
}

/*
 * A create that met an identifier already there: identical values (a retry
 * whose first call took effect) are status 1, others -2.
 */
static int create_exists(snms_run *s, idn_slice h, idn_slice ours, uint32_t n, item_res *res)
{
	api_answer ans;
	int ret = api_resolve_here(s->w, h, &ans);
	if (ret)
		return ret;
	bool partial = false;
	if (ans.rc == PROTO_RC_SUCCESS &&
	    snms_values_same(ours, n, ans.values, ans.nvalues, &partial))
		res_set(res, SNMS_OK,
		        "already exists: identical values%s, so an earlier call took effect",
		        partial ? " (those only administrators read were not compared)" : "");
	else
		res_set(res, SNMS_BUSINESS, "already exists with other values");
	return 0;
}

/* Whether a body's values hold an HS_ADMIN. */
static bool has_admin(json_t *value)
{
	size_t k;
	json_t *jv;
	json_array_foreach(value, k, jv)
	{
		const char *t = json_string_value(json_object_get(jv, "type"));
		if (t && !strcmp(t, "HS_ADMIN"))
			return true;
	}
	return false;
}

/* Runs one create (or, with update, a replacement): 0 with res set, < 0 fatal. */
static int run_write(snms_run *s, json_t *doc, bool update, const char *where, item_res *res)
{
	snms_item it;
	if (snms_item_parse(doc, true, where, &it, res->msg, sizeof(res->msg))) {
		res->status = SNMS_BUSINESS;
		return 0;
	}
	if (!may(s->c, it.handle, res->msg, sizeof(res->msg))) {
		res->status = SNMS_NO_PERMISSION;
		return 0;
	}
	int ret;
	if (it.version.len && (ret = find_template(s->w, it.handle, it.version, &s->tc, res)))
		return ret > 0 ? 0 : ret;
	idn_slice tref =
	    it.version.len ? idn_slice_of(s->tc.handle, (size_t)s->tc.hlen) : idn_slice_of("", 0);
	wire_wr vw = wire_wr_init(s->vals, ANS_CAP);
	uint32_t nkept = 0;
	bool body_admin = has_admin(it.value);
	if (update) {
		/* It must exist; its HS_ADMIN values stay when the body has none. */
		api_answer ans;
		if ((ret = api_resolve_here(s->w, it.handle, &ans)))
			return ret;
		if (ans.rc == PROTO_RC_HANDLE_NOT_FOUND) {
			res_set(res, SNMS_BUSINESS, "%shandle: %.*s does not exist", where,
			        (int)it.handle.len, (const char *)it.handle.p);
			return 0;
		}
		proto_values_match m = {.type = IDN_SLICE("HS_ADMIN")};
		proto_values_it vi = proto_values_begin(ans.values, ans.nvalues);
		proto_value v;
		while (!body_admin && proto_values_find(&vi, &m, &v) == 1) {
			wire_put_data(&vw, vi.raw.p, vi.raw.len);
			nkept++;
		}
	}
	int n = snms_values_encode(&it, tref, nkept || body_admin ? NULL : &s->c->id, &vw, where,
	                           res->msg, sizeof(res->msg));
	if (n < 0) {
		res->status = SNMS_BUSINESS;
		return 0;
	}
	idn_slice raw = idn_slice_of(s->vals, wire_wr_len(&vw));
	proto_build b;
	proto_msg m;
	api_admin_begin(s->w, &b, PROTO_OP_CREATE_HANDLE, update ? PROTO_F_OVRW : 0);
	proto_values_req_encode_raw(&b.w, it.handle, (uint32_t)n + nkept, raw);
	if ((ret = api_admin_run(s->w, &b, &s->c->id, &m)))
		return ret;
	if (m.hdr.rcode == PROTO_RC_HANDLE_ALREADY_EXISTS && !update)
		return create_exists(s, it.handle, raw, (uint32_t)n + nkept, res);
	if (m.hdr.rcode != PROTO_RC_SUCCESS)
		res_of_answer(res, &m);
	else
		res_set(res, SNMS_OK, "success");
	return 0;
}

/* Runs one delete of h: 0 with res set, < 0 fatal. */
static int run_delete(snms_run *s, idn_slice h, item_res *res)
{
	if (!may(s->c, h, res->msg, sizeof(res->msg))) {
		res->status = SNMS_NO_PERMISSION;
		return 0;
	}
	proto_build b;
	proto_msg m;
	api_admin_begin(s->w, &b, PROTO_OP_DELETE_HANDLE, 0);
	proto_handle_req_encode(&b.w, h);
	int ret = api_admin_run(s->w, &b, &s->c->id, &m);
	if (ret)
		return ret;
	if (m.hdr.rcode == PROTO_RC_HANDLE_NOT_FOUND)
		res_set(res, SNMS_BUSINESS, "does not exist (a retried delete: already deleted)");
	else if (m.hdr.rcode != PROTO_RC_SUCCESS)
		res_of_answer(res, &m);
	else
		res_set(res, SNMS_OK, "success");
	return 0;
}

int snms_write_one(api_worker *w, const snms_caller *c, json_t *doc, bool update, int *status,
                   char *msg, size_t msglen)
{
	snms_run s = {.w = w, .c = c, .vals = malloc(ANS_CAP)};
	item_res res = {0};
	int ret = s.vals ? run_write(&s, doc, update, "", &res) : IDN_ENOMEM;
	free(s.vals);
	*status = res.status;
	snprintf(msg, msglen, "%s", res.msg);
	return ret;
}

int snms_delete_one(api_worker *w, const snms_caller *c, idn_slice h, int *status, char *msg,
                    size_t msglen)
{
	snms_run s = {.w = w, .c = c};
	item_res res = {0};
	int ret = run_delete(&s, h, &res);
	*status = res.status;
	snprintf(msg, msglen, "%s", res.msg);
	return ret;
}

/* The handle member of doc, or empty. */
static idn_slice handle_of(json_t *doc)
{
	json_t *h = json_is_string(doc) ? doc : json_object_get(doc, "handle");
	return json_is_string(h) ? idn_slice_of(json_string_value(h), json_string_length(h))
	                         : idn_slice_of("", 0);
}

/* ---- single routes ---- */

/* Starts a request: the caller, then the body (NULL: answered). */
static json_t *begin(api_worker *w, const http_req *req, http_resp *r, snms_caller *c, int *ret)
{
	*ret = snms_auth(w, req, r, c);
	if (*ret <= 0)
		return NULL;
	*ret = 0;
	return snms_body(req, r);
}

static int single_write(api_worker *w, const http_req *req, http_resp *r, bool update)
{
	snms_caller c;
	int ret;
	json_t *doc = begin(w, req, r, &c, &ret);
	if (!doc)
		return ret;
	snms_run s = {.w = w, .c = &c, .vals = malloc(ANS_CAP)};
	item_res res = {0};
	if (!s.vals)
		ret = IDN_ENOMEM;
	else
		ret = run_write(&s, doc, update, "", &res);
	if (!ret && res.status == SNMS_OK) {
		snms_ok_handle(r, res.msg, handle_of(doc));
	} else if (!ret) {
		snms_fail(r, res.status, "%s", res.msg);
	}
	if (!ret)
		api_audit(w, req, &c, update ? "identity.update" : "identity.create",
		          handle_of(doc), res.status, res.msg);
	free(s.vals);
	json_decref(doc);
	return ret;
}

static int single_delete(api_worker *w, const http_req *req, http_resp *r)
{
	snms_caller c;
	int ret;
	json_t *doc = begin(w, req, r, &c, &ret);
	if (!doc)
		return ret;
	static const char *const known[] = {"handle", NULL};
	const char *key;
	json_t *v;
	idn_slice h = handle_of(doc);
	json_object_foreach(doc, key, v)
	{
		if (strcmp(key, known[0])) {
			snms_fail(r, SNMS_BUSINESS, "%.64s: unknown field (expected handle)", key);
			goto out;
		}
	}
	if (!json_is_object(doc) || !h.len || h.len > PROTO_HANDLE_MAX) {
		snms_fail(r, SNMS_BUSINESS, "handle: expected {\"handle\":\"PREFIX/SUFFIX\"}");
		goto out;
	}
	snms_run s = {.w = w, .c = &c};
	item_res res = {0};
	if ((ret = run_delete(&s, h, &res)))
		goto out;
	api_audit(w, req, &c, "identity.delete", h, res.status, res.msg);
	if (res.status == SNMS_OK) {
		snms_ok_begin(r);
		http_resp_puts(r, "null}");
	} else {
		snms_fail(r, res.status, "%s", res.msg);
	}
out:
	json_decref(doc);
	return ret;
}

static int detail_cb(void *arg, idn_slice name, idn_slice value)
{
	uint8_t *buf = arg;
	if (!api_name_is(name, "handle"))
		return 0;
	int n = api_pct_decode(value, true, buf + 2, PROTO_HANDLE_MAX);
	if (n > 0)
		memcpy(buf, &(uint16_t){(uint16_t)n}, 2);
	return 1;
}

int snms_detail(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	snms_caller c;
	int ret = snms_auth(w, req, r, &c);
	if (ret <= 0)
		return ret;
	uint8_t buf[PROTO_HANDLE_MAX + 2] = {0};
	api_query_each(req->query, detail_cb, buf);
	uint16_t hl;
	memcpy(&hl, buf, 2);
	if (!hl) {
		snms_fail(r, SNMS_BUSINESS, "handle: the query needs handle=PREFIX/SUFFIX");
		return 0;
	}
	idn_slice h = idn_slice_of(buf + 2, hl);
	api_answer ans;
	if ((ret = api_resolve_here(w, h, &ans)))
		return ret;
	if (ans.rc != PROTO_RC_SUCCESS) {
		const char *name = proto_rc_name(ans.rc);
		snms_fail(r,
		          ans.rc == PROTO_RC_HANDLE_NOT_FOUND ? SNMS_BUSINESS
		                                              : snms_status_of_rc(ans.rc),
		          "%.*s: %.*s", (int)h.len, (const char *)h.p,
		          ans.message.len ? (int)ans.message.len : (int)strlen(name),
		          ans.message.len ? (const char *)ans.message.p : name);
		return 0;
	}
	snms_ok_begin(r);
	http_resp_puts(r, "{\"handle\":");
	api_json_str(r, h);
	http_resp_puts(r, ",");
	snms_values_json(r, ans.values, ans.nvalues);
	http_resp_puts(r, "}}");
	return 0;
}

/* ---- batches ---- */

enum batch_kind { BATCH_CREATE, BATCH_UPDATE, BATCH_DELETE };

/* Runs every item of a into r's data array under one group commit. */
/* A batch: the body and its items' byte ranges. */
typedef struct batch_in {
	idn_slice body;
	const snms_span *sp;
	size_t n;
} batch_in;

/* Item i of a batch, parsed alone; NULL with res set when it is not JSON. */
static json_t *batch_item(const batch_in *in, size_t i, item_res *res)
{
	json_error_t jerr;
	json_t *it = json_loadb((const char *)in->body.p + in->sp[i].off, in->sp[i].len,
	                        JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!it)
		res_set(res, SNMS_BUSINESS, "[%zu]: invalid JSON: %s", i, jerr.text);
	return it;
}

/* Runs one item of a batch into res: 0, or < 0 fatal. */
static int batch_one(snms_run *s, json_t *it, size_t i, enum batch_kind kind, item_res *res)
{
	char where[32];
	snprintf(where, sizeof(where), "[%zu].", i);
	if (kind != BATCH_DELETE)
		return run_write(s, it, kind == BATCH_UPDATE, where, res);
	idn_slice h = handle_of(it);
	if (h.len && h.len <= PROTO_HANDLE_MAX)
		return run_delete(s, h, res);
	res_set(res, SNMS_BUSINESS, "[%zu]: expected a handle PREFIX/SUFFIX", i);
	return 0;
}

/* Runs every item of in into r's data array under one group commit. */
static int run_batch(snms_run *s, const batch_in *in, enum batch_kind kind, http_resp *r,
                     size_t *okp)
{
	size_t ok = 0;
	int ret = 0;
	item_res *res = malloc(sizeof(*res));
	if (!res)
		return IDN_ENOMEM;
	node_worker_group(s->w->nw, true);
	r->status = 200;
	r->content_type = "application/json";
	http_resp_puts(r, "{\"status\":1,\"data\":[");
	for (size_t i = 0; i < in->n && ret >= 0; i++) {
		*res = (item_res){0};
		json_t *it = batch_item(in, i, res);
		if (it)
			ret = batch_one(s, it, i, kind, res);
		ok += res->status == SNMS_OK;
		http_resp_puts(r, i ? ",{\"handle\":" : "{\"handle\":");
		api_json_str(r, handle_of(it));
		http_resp_printf(r, ",\"code\":%d,\"msg\":", res->status);
		api_json_str(r, idn_slice_of(res->msg, strlen(res->msg)));
		http_resp_puts(r, "}");
		json_decref(it);
	}
	free(res);
	node_worker_group(s->w->nw, false);
	if (ret < 0) {
		node_worker_rollback(s->w->nw);
		return ret;
	}
	int err = node_worker_commit(s->w->nw);
	if (err < 0) {
		snms_fail(r, SNMS_INTERNAL, "%s: no item of the batch was saved",
		          idn_err_full(err) ? NODE_MSG_STORAGE_FULL : "storage error");
		return 0;
	}
	*okp = ok;
	/* The message counts; each item's code says how it went. */
	http_resp_printf(r, "],\"message\":\"%zu succeeded, %zu failed\"}", ok, in->n - ok);
	return 0;
}

/* The audit entry of a batch: its first identifier, how many, how it went. */
static void batch_audit(api_worker *w, const http_req *req, const snms_caller *c,
                        const batch_in *in, enum batch_kind kind, size_t ok)
{
	static const char *const ops[] = {"identity.batchCreate", "identity.batchUpdate",
	                                  "identity.batchDelete"};
	item_res res;
	json_t *it = batch_item(in, 0, &res);
	idn_slice first = handle_of(it);
	char msg[96], target[PROTO_HANDLE_MAX + 32];
	snprintf(msg, sizeof(msg), "%zu succeeded, %zu failed", ok, in->n - ok);
	snprintf(target, sizeof(target), "%.*s (+%zu more)", (int)first.len, (const char *)first.p,
	         in->n - 1);
	json_decref(it);
	api_audit(w, req, c, ops[kind], idn_slice_of(target, strlen(target)),
	          ok == in->n ? SNMS_OK : SNMS_BUSINESS, msg);
}

static int batch(api_worker *w, const http_req *req, http_resp *r, enum batch_kind kind)
{
	snms_caller c;
	int ret = snms_auth(w, req, r, &c);
	if (ret <= 0)
		return ret;
	snms_span *sp = malloc((SNMS_BATCH_MAX + 1) * sizeof(*sp));
	if (!sp)
		return IDN_ENOMEM;
	batch_in in = {.body = req->body, .sp = sp};
	long n = snms_array_split(req->body, sp, SNMS_BATCH_MAX + 1);
	json_t *doc = NULL;
	if (n < 0 && !(doc = snms_body(req, r))) {
		/* not JSON: answered */
	} else if (n < 0) {
		snms_fail(r, SNMS_BUSINESS, "body: expected an array of %s",
		          kind == BATCH_DELETE ? "handles" : "{handle, templateVersion, value}");
	} else if (n > SNMS_BATCH_MAX) {
		snms_fail(r, SNMS_BUSINESS,
		          "body: %ld items, at most %d a batch (nothing was written)", n,
		          SNMS_BATCH_MAX);
	} else if (!n) {
		snms_fail(r, SNMS_BUSINESS, "body: an empty batch");
	} else {
		snms_run s = {.w = w, .c = &c, .vals = malloc(ANS_CAP)};
		size_t ok = 0;
		in.n = (size_t)n;
		ret = s.vals ? run_batch(&s, &in, kind, r, &ok) : IDN_ENOMEM;
		free(s.vals);
		if (!ret)
			batch_audit(w, req, &c, &in, kind, ok);
	}
	json_decref(doc);
	free(sp);
	return ret;
}

int snms_data(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	if (!strcmp(req->method, "DELETE"))
		return single_delete(w, req, r);
	return single_write(w, req, r, !strcmp(req->method, "PUT"));
}

int snms_batch(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	enum batch_kind k = !strcmp(req->method, "POST")  ? BATCH_CREATE
	                    : !strcmp(req->method, "PUT") ? BATCH_UPDATE
	                                                  : BATCH_DELETE;
	return batch(w, req, r, k);
}
