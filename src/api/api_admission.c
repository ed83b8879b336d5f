/*
 * api_admission.c - idnode's own management routes (api_account.h), under
 * /snms/api/idn/ (not part of SNMS: IDIS.md §4 has no admission workflow):
 *
 *   POST /snms/api/idn/apply                          an enterprise asks for a prefix
 *   GET  /snms/api/idn/applications?state=&after=&limit=   operators
 *   POST /snms/api/idn/applications/{id}/approve|reject    operators
 *   GET  /snms/api/idn/audit?from=&to=&account=&limit=&cursor=   operators
 *
 * Approval runs as the operator's identity: it needs the "add derived
 * prefix" right on 0.NA/<parent> (or a node admin), as the Handle protocol
 * would (account_approve_as). Every change is written to the audit log.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_account.h"
#include "auth/verify.h"
#include "core/codec.h"
#include "core/limit.h"

enum { APPS_PER_SOURCE = 10, PAGE_DEFAULT = 100, PAGE_MAX = 1000 };

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const apply_fields[] = {"company",  "contact",  "prefix", "parent",
                                           "username", "password", "pubkey", NULL};

/* An application from the body into app; 0, or -1 with the 400 naming the field. */
static int apply_from(json_t *doc, application *app, const char **pw, http_resp *r)
{
	const char *k;
	json_t *v;
	json_object_foreach(doc, k, v)
	{
		size_t i = 0;
		while (apply_fields[i] && strcmp(apply_fields[i], k))
			i++;
		if (!apply_fields[i]) {
			char msg[200];
			snprintf(msg, sizeof(msg), "%.100s: unknown field", k);
			api_snms_answer(r, 400, SNMS_BUSINESS, msg);
			return -1;
		}
	}
	bool bad = false;
	const char *company = api_snms_field(doc, "company", true, ACCOUNT_TEXT_MAX, r, &bad);
	const char *contact = api_snms_field(doc, "contact", false, ACCOUNT_TEXT_MAX, r, &bad);
	const char *prefix = api_snms_field(doc, "prefix", false, ACCOUNT_PREFIX_MAX, r, &bad);
	const char *parent = api_snms_field(doc, "parent", false, ACCOUNT_PREFIX_MAX, r, &bad);
	const char *user = api_snms_field(doc, "username", true, ACCOUNT_NAME_MAX, r, &bad);
	*pw = api_snms_field(doc, "password", false, ACCOUNT_PASSWORD_MAX, r, &bad);
	const char *pem = api_snms_field(doc, "pubkey", false, 16384, r, &bad);
	if (bad)
		return -1;
	char why[200];
	const char *err = NULL;
	if (account_name_check(user, why, sizeof(why)))
		err = why;
	else if (!!prefix == !!parent)
		err =
		    "prefix or parent: give exactly one (a prefix, or the parent to take the next "
		    "free one under)";
	else if (!*pw && !pem)
		err = "password or pubkey: give at least one";
	else if (*pw && !**pw)
		err = "password: empty";
	if (!err && pem) {
		EVP_PKEY *pk = NULL;
		uint8_t buf[1024];
		wire_wr w = wire_wr_init(buf, sizeof(buf));
		char kwhy[160];
		if (auth_pubkey_parse(idn_slice_of(pem, strlen(pem)), &pk, kwhy, sizeof(kwhy)) ||
		    auth_pubkey_encode(pk, &w) || w.err) {
			snprintf(why, sizeof(why), "pubkey: %s", kwhy);
			err = why;
		} else {
			codec_hex_encode(buf, wire_wr_len(&w), app->pubkey_hex);
		}
		EVP_PKEY_free(pk);
	}
	if (err) {
		api_snms_answer(r, 400, SNMS_BUSINESS, err);
		return -1;
	}
	snprintf(app->company, sizeof(app->company), "%s", company);
	snprintf(app->contact, sizeof(app->contact), "%s", contact ? contact : "");
	snprintf(app->prefix, sizeof(app->prefix), "%s", prefix ? prefix : "");
	snprintf(app->parent, sizeof(app->parent), "%s", parent ? parent : "");
	snprintf(app->account, sizeof(app->account), "%s", user);
	return 0;
}

/*
 * The route's transaction (write: nested in the batch's under group
 * commit), or false after answering 500 with the reason.
 */
static bool txn_or_500(api_worker *w, bool write, store_txn **t, http_resp *r)
{
	int ret = account_txn_begin(w->nw, write, t);
	if (ret)
		api_snms_answer(r, 500, SNMS_INTERNAL, idn_strerror(ret));
	return ret == 0;
}

/* Room for one more application (total and from this address): 0, or -1 with the 429. */
static int apply_room(api_worker *w, store_txn *t, const char *from, http_resp *r)
{
	unsigned total, mine;
	int ret = account_pending_count(t, from, &total, &mine);
	if (ret) {
		api_snms_answer(r, 500, SNMS_INTERNAL, "storage error");
		return -1;
	}
	char msg[200];
	if (total >= w->a->applications_max)
		snprintf(msg, sizeof(msg),
		         "%u applications are pending, this node's bound (--applications-max): "
		         "try again once the operator has decided some",
		         total);
	else if (mine >= APPS_PER_SOURCE)
		snprintf(msg, sizeof(msg), "%u applications from this address are pending already",
		         mine);
	else
		return 0;
	limit_hit(LIM_APPLICATIONS, "source %s: %s", from, msg);
	api_snms_answer(r, 429, SNMS_BUSINESS, msg);
	return -1;
}

int api_snms_apply(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	if (!w->a->s || !w->nw) {
		api_snms_answer(r, 501, SNMS_INTERNAL, "this node has no store: no applications");
		return 0;
	}
	json_t *doc = api_snms_body(req, r, false);
	if (!doc)
		return 0;
	application app = {0};
	const char *pw = NULL;
	int bad = apply_from(doc, &app, &pw, r);
	api_peer_text(req, app.from, sizeof(app.from));
	store_txn *t;
	if (bad || !txn_or_500(w, true, &t, r)) {
		json_decref(doc);
		return 0;
	}
	if (apply_room(w, t, app.from, r)) {
		account_txn_end(t, true, -1);
		json_decref(doc);
		return 0;
	}
	int ret = account_apply(t, &app, pw, pw ? strlen(pw) : 0, NULL, now_ms());
	json_decref(doc);
	char target[64];
	snprintf(target, sizeof(target), "application %llu", (unsigned long long)app.id);
	audit_entry e = {.result = SNMS_OK};
	snprintf(e.who, sizeof(e.who), "%s", app.account);
	snprintf(e.op, sizeof(e.op), "application.apply");
	snprintf(e.target, sizeof(e.target), "%s", target);
	snprintf(e.message, sizeof(e.message), "%.80s asks for %.80s%.80s", app.company,
	         app.prefix[0] ? app.prefix : "the next prefix under ", app.parent);
	snprintf(e.from, sizeof(e.from), "%s", app.from);
	if (!ret)
		ret = audit_append(t, &e, now_ms(), w->a->audit_days);
	ret = account_txn_end(t, true, ret);
	if (ret == IDN_EEXIST)
		api_snms_answer(r, 409, SNMS_BUSINESS,
		                "username: taken, or asked for by a pending application");
	else if (ret == IDN_EINVAL)
		api_snms_answer(
		    r, 400, SNMS_BUSINESS,
		    "prefix or parent: letters, digits, '.' and '-' only (e.g. 88.100.7)");
	else if (ret)
		api_snms_answer(r, 500, SNMS_INTERNAL, idn_strerror(ret));
	else {
		api_snms_begin(r);
		http_resp_printf(r, "{\"id\":%llu,\"state\":\"pending\"}",
		                 (unsigned long long)app.id);
		api_snms_end(r);
	}
	return 0;
}

/* ---- operators: applications ---- */

struct page {
	http_resp *r;
	unsigned n, limit;
	uint64_t last;
	bool more;
};

static void app_json(http_resp *r, const application *a)
{
	static const char *st[] = {"pending", "approved", "rejected"};
	json_t *j = json_pack(
	    "{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:I,s:I,s:s,s:s}", "id", (json_int_t)a->id,
	    "state", st[a->state], "company", a->company, "contact", a->contact, "prefix",
	    a->prefix, "parent", a->parent, "username", a->account, "pubkey", a->pubkey_hex[0] != 0,
	    "from", a->from, "created", (json_int_t)a->created_ms, "decided",
	    (json_int_t)a->decided_ms, "decidedBy", a->decided_by, "reason", a->reason);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	http_resp_puts(r, s ? s : "null");
	free(s);
	json_decref(j);
}

static int page_app(void *arg, const application *a)
{
	struct page *p = arg;
	if (p->n == p->limit) {
		p->more = true;
		return 1;
	}
	if (p->n++)
		http_resp_puts(p->r, ",");
	app_json(p->r, a);
	p->last = a->id;
	return 0;
}

struct list_q {
	int state;
	uint64_t after;
	long limit;
	const char *bad;
};

static int list_param(void *arg, idn_slice name, idn_slice value)
{
	struct list_q *q = arg;
	char v[32];
	snprintf(v, sizeof(v), "%.*s", (int)(value.len < 31 ? value.len : 31),
	         (const char *)value.p);
	char *end;
	if (api_name_is(name, "state")) {
		q->state = !strcmp(v, "pending")    ? APP_PENDING
		           : !strcmp(v, "approved") ? APP_APPROVED
		           : !strcmp(v, "rejected") ? APP_REJECTED
		           : !strcmp(v, "all")      ? -1
		                                    : -2;
		if (q->state == -2)
			q->bad = "state: expected pending, approved, rejected or all";
	} else if (api_name_is(name, "after")) {
		q->after = strtoull(v, &end, 10);
		if (!*v || *end)
			q->bad = "after: expected an application id";
	} else if (api_name_is(name, "limit")) {
		q->limit = strtol(v, &end, 10);
		if (!*v || *end || q->limit < 1 || q->limit > PAGE_MAX)
			q->bad = "limit: expected 1 to 1000";
	}
	return 0;
}

static int list_apps(api_worker *w, const http_req *req, http_resp *r)
{
	struct list_q q = {.state = APP_PENDING, .limit = PAGE_DEFAULT};
	api_query_each(req->query, list_param, &q);
	if (q.bad) {
		api_snms_answer(r, 400, SNMS_BUSINESS, q.bad);
		return 0;
	}
	store_txn *t;
	if (!txn_or_500(w, false, &t, r))
		return 0;
	struct page p = {.r = r, .limit = (unsigned)q.limit};
	api_snms_begin(r);
	http_resp_puts(r, "{\"items\":[");
	int ret = account_applications(t, q.state, q.after, page_app, &p);
	account_txn_end(t, false, 0);
	if (ret < 0) {
		api_snms_answer(r, 500, SNMS_INTERNAL, idn_strerror(ret));
		return 0;
	}
	if (p.more)
		http_resp_printf(r, "],\"next\":%llu}", (unsigned long long)p.last);
	else
		http_resp_puts(r, "],\"next\":null}");
	api_snms_end(r);
	return 0;
}

static void decided(api_worker *w, const http_req *req, const api_caller *c, bool approve,
                    unsigned long long id, int ret, const char *prefix, const char *why,
                    http_resp *r)
{
	char target[64];
	snprintf(target, sizeof(target), "application %llu", id);
	int st =
	    ret == ACCOUNT_NO_RIGHT ? SNMS_NO_PERMISSION
	    : ret == IDN_ENOTFOUND || ret == IDN_EINVAL || ret == IDN_EEXIST || ret == ACCOUNT_QUOTA
	        ? SNMS_BUSINESS
	    : ret ? SNMS_INTERNAL
	          : SNMS_OK;
	const char *msg = ret ? (why[0] ? why : idn_strerror(ret)) : approve ? prefix : "rejected";
	api_audit(w, req, c, approve ? "application.approve" : "application.reject",
	          idn_slice_of(target, strlen(target)), st, msg);
	if (ret) {
		int http = st == SNMS_NO_PERMISSION ? 403
		           : ret == IDN_ENOTFOUND   ? 404
		           : st == SNMS_BUSINESS    ? 409
		                                    : 500;
		api_snms_answer(r, http, st, msg);
		return;
	}
	api_snms_begin(r);
	if (approve) {
		http_resp_printf(r, "{\"id\":%llu,\"state\":\"approved\",\"prefix\":", id);
		api_json_str(r, idn_slice_of(prefix, strlen(prefix)));
		http_resp_printf(r, ",\"identity\":\"300:0.NA/%s\"}", prefix);
	} else {
		http_resp_printf(r, "{\"id\":%llu,\"state\":\"rejected\"}", id);
	}
	api_snms_end(r);
}

/* POST /snms/api/idn/applications/{id}/approve|reject */
static int decide(api_worker *w, const http_req *req, idn_slice rest, const api_caller *c,
                  http_resp *r)
{
	char path[64], *end;
	snprintf(path, sizeof(path), "%.*s", (int)(rest.len < 63 ? rest.len : 63),
	         (const char *)rest.p);
	size_t digits = strspn(path, "0123456789");
	unsigned long long id = digits && digits <= 15 ? strtoull(path, &end, 10) : 0;
	end = path + digits;
	bool approve = !strcmp(end, "/approve");
	if (!id || (!approve && strcmp(end, "/reject"))) {
		api_snms_answer(r, 404, SNMS_BUSINESS,
		                "expected /snms/api/idn/applications/{id}/approve or .../reject, "
		                "{id} an application's number");
		return 0;
	}
	json_t *doc = api_snms_body(req, r, true);
	if (!doc)
		return 0;
	bool bad = false;
	const char *reason = api_snms_field(doc, "reason", false, ACCOUNT_TEXT_MAX, r, &bad);
	if (bad) {
		json_decref(doc);
		return 0;
	}
	char prefix[ACCOUNT_PREFIX_MAX + 16] = "", why[300] = "";
	int ret;
	if (approve) {
		ret = account_approve_as(w->nw, idn_slice_of(c->id.handle, c->id.hlen), c->id.index,
		                         id, c->acct.name, now_ms(), prefix, sizeof(prefix), why,
		                         sizeof(why));
	} else {
		store_txn *t;
		ret = account_txn_begin(w->nw, true, &t);
		if (!ret)
			ret = account_txn_end(
			    t, true,
			    account_reject(t, id, c->acct.name, reason ? reason : "", now_ms()));
		if (ret == IDN_EINVAL)
			snprintf(why, sizeof(why), "application %llu is not pending", id);
	}
	if (ret == IDN_ENOTFOUND && !why[0])
		snprintf(why, sizeof(why), "no application %llu", id);
	json_decref(doc);
	decided(w, req, c, approve, id, ret, prefix, why, r);
	return 0;
}

int api_snms_applications(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	api_caller c;
	if (!api_snms_auth(w, req, r, &c) || !api_snms_need_operator(&c, r))
		return 0;
	if (!strcmp(req->method, "GET") && rest.len == 0)
		return list_apps(w, req, r);
	if (rest.len && rest.p[0] == '/') /* the GET route's rest keeps its '/' */
		rest = idn_slice_of(rest.p + 1, rest.len - 1);
	if (!strcmp(req->method, "POST") && rest.len)
		return decide(w, req, rest, &c, r);
	api_snms_answer(r, 404, SNMS_BUSINESS,
	                "expected GET /snms/api/idn/applications or POST "
	                "/snms/api/idn/applications/{id}/approve|reject");
	return 0;
}

/* ---- operators: the audit log ---- */

struct audit_q {
	audit_query q;
	char account[ACCOUNT_NAME_MAX + 1], cursor[64];
	const char *bad;
};

static int64_t time_param(const char *v)
{
	char *end;
	long long ms = strtoll(v, &end, 10);
	if (*v && !*end && strlen(v) > 10)
		return ms;
	struct tm tm = {0};
	const char *rest = strptime(v, "%Y-%m-%d", &tm);
	if (rest && *rest == 'T')
		rest = strptime(rest + 1, "%H:%M:%S", &tm);
	if (rest && *rest == 'Z')
		rest++;
	return rest && !*rest ? (int64_t)timegm(&tm) * 1000 : -1;
}

static int audit_param(void *arg, idn_slice name, idn_slice value)
{
	struct audit_q *a = arg;
	char v[96];
	int n = api_pct_decode(value, true, (uint8_t *)v, sizeof(v) - 1);
	if (n < 0) {
		a->bad = "a parameter is malformed or too long";
		return 0;
	}
	v[n] = 0;
	char *end;
	if (api_name_is(name, "from") || api_name_is(name, "to")) {
		int64_t t = time_param(v);
		if (t < 0)
			a->bad = "from, to: expected unix milliseconds or YYYY-MM-DD[THH:MM:SS]";
		*(api_name_is(name, "from") ? &a->q.from_ms : &a->q.to_ms) = t;
	} else if (api_name_is(name, "account")) {
		snprintf(a->account, sizeof(a->account), "%.64s", v);
	} else if (api_name_is(name, "limit")) {
		long l = strtol(v, &end, 10);
		if (!*v || *end || l < 1 || l > PAGE_MAX)
			a->bad = "limit: expected 1 to 1000";
		a->q.limit = (unsigned)l;
	} else if (api_name_is(name, "cursor")) {
		snprintf(a->cursor, sizeof(a->cursor), "%.63s", v);
	}
	return 0;
}

static int audit_item(void *arg, const audit_entry *e)
{
	struct page *p = arg;
	json_t *j =
	    json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:s,s:s}", "time", (json_int_t)e->time_ms, "who",
	              e->who, "identity", e->identity, "op", e->op, "target", e->target, "result",
	              e->result, "message", e->message, "from", e->from);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (p->n++)
		http_resp_puts(p->r, ",");
	http_resp_puts(p->r, s ? s : "null");
	free(s);
	json_decref(j);
	return 0;
}

int api_snms_audit(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	api_caller c;
	if (!api_snms_auth(w, req, r, &c) || !api_snms_need_operator(&c, r))
		return 0;
	struct audit_q a = {.q = {.limit = PAGE_DEFAULT}};
	api_query_each(req->query, audit_param, &a);
	a.q.account = a.account;
	a.q.cursor = a.cursor;
	if (a.bad) {
		api_snms_answer(r, 400, SNMS_BUSINESS, a.bad);
		return 0;
	}
	store_txn *t;
	if (!txn_or_500(w, false, &t, r))
		return 0;
	struct page p = {.r = r};
	char next[64];
	api_snms_begin(r);
	http_resp_puts(r, "{\"items\":[");
	int ret = audit_read(t, &a.q, audit_item, &p, next, sizeof(next));
	account_txn_end(t, false, 0);
	if (ret == IDN_EINVAL)
		api_snms_answer(r, 400, SNMS_BUSINESS, "cursor: not a cursor this route gave");
	else if (ret)
		api_snms_answer(r, 500, SNMS_INTERNAL, idn_strerror(ret));
	if (ret)
		return 0;
	if (next[0])
		http_resp_printf(r, "],\"cursor\":\"%s\"}", next);
	else
		http_resp_puts(r, "],\"cursor\":null}");
	api_snms_end(r);
	return 0;
}
