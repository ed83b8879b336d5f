/*
 * account_apply.c - the enterprise admission workflow (account.h):
 * applications ("p/<16 hex digits of the id>" rows of STORE_TAB_ACCOUNT, the
 * last id in "c/app"), approval (the prefix record 0.NA/<prefix> with
 * HS_ADMIN for the enterprise identity, the prefix homed, the enterprise
 * account: one transaction) and rejection; account_approve_as checks the
 * approver's Handle rights with node_authz as the protocol does.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "node/account.h"
#include "node/account_row.h"
#include "node/admin.h"
#include "node/answer.h"
#include "node/authz.h"
#include "node/quota.h"
#include "proto/handle.h"
#include "proto/record.h"
#include "proto/reserved.h"

enum {
	NEXT_FREE_MAX = 100000, /* children of a parent tried for "next free" */
	ENT_ADMIN_INDEX = 100,  /* HS_ADMIN of a new prefix record */
	ENT_ID_INDEX = 300,     /* the enterprise identity's index (its HS_PUBKEY) */
	PUBKEY_MAX = 1024,      /* bytes of an HS_PUBKEY given with an application */
	APP_SCAN_MAX = 100000,  /* applications looked at for a name already asked */
};

static const char *jstr(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return s ? s : "";
}

static const char *state_name(enum application_state s)
{
	return s == APP_APPROVED ? "approved" : s == APP_REJECTED ? "rejected" : "pending";
}

static void app_key(uint64_t id, char buf[24], idn_slice *key)
{
	snprintf(buf, 24, "p/%016llx", (unsigned long long)id);
	*key = idn_slice_of(buf, 18);
}

static void app_from_json(json_t *j, application *a)
{
	memset(a, 0, sizeof(*a));
	a->id = (uint64_t)json_integer_value(json_object_get(j, "id"));
	const char *st = jstr(j, "state");
	a->state = !strcmp(st, "approved")   ? APP_APPROVED
	           : !strcmp(st, "rejected") ? APP_REJECTED
	                                     : APP_PENDING;
#define S(f) snprintf(a->f, sizeof(a->f), "%s", jstr(j, #f))
	S(company);
	S(contact);
	S(prefix);
	S(parent);
	S(account);
	S(reason);
	S(from);
	S(decided_by);
#undef S
	snprintf(a->pubkey_hex, sizeof(a->pubkey_hex), "%s", jstr(j, "pubkey"));
	a->created_ms = json_integer_value(json_object_get(j, "created"));
	a->decided_ms = json_integer_value(json_object_get(j, "decided"));
}

/* A prefix as an application may name it: [A-Za-z0-9.-], not starting or ending with '.'. */
static bool prefix_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > ACCOUNT_PREFIX_MAX || p[0] == '.' || p[n - 1] == '.' || strstr(p, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '.' && p[i] != '-')
			return false;
	return true;
}

struct taken_arg {
	const char *name;
	unsigned seen;
};

static int taken_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)key;
	struct taken_arg *ta = arg;
	if (++ta->seen > APP_SCAN_MAX)
		return 1;
	json_t *j = json_loadb((const char *)val.p, val.len, 0, NULL);
	int hit =
	    j && !strcmp(jstr(j, "state"), "pending") && !strcmp(jstr(j, "account"), ta->name);
	json_decref(j);
	return hit ? 2 : 0;
}

/* IDN_EEXIST when name is an account, or asked for by a pending application. */
static int name_taken(store_txn *t, const char *name)
{
	account a;
	int ret = account_get(t, name, &a);
	if (ret != IDN_ENOTFOUND)
		return ret ? ret : IDN_EEXIST;
	struct taken_arg ta = {name, 0};
	ret = store_tab_scan(t, STORE_TAB_ACCOUNT, IDN_SLICE("p/"), IDN_SLICE(""), taken_cb, &ta);
	return ret == 2 ? IDN_EEXIST : ret < 0 ? ret : 0;
}

static int check_app(const application *app)
{
	char why[128];
	uint8_t key[PUBKEY_MAX];
	size_t kl = strlen(app->pubkey_hex);
	if (account_name_check(app->account, why, sizeof(why)) || !app->company[0] ||
	    (app->prefix[0] ? !prefix_ok(app->prefix) : !prefix_ok(app->parent)))
		return IDN_EINVAL;
	if (kl &&
	    codec_hex_decode((const uint8_t *)app->pubkey_hex, kl, key, sizeof(key), NULL) <= 0)
		return IDN_EINVAL;
	return 0;
}

static json_t *app_to_json(const application *a)
{
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "id",
	                 (json_int_t)a->id, "state", state_name(a->state), "company", a->company,
	                 "contact", a->contact, "prefix", a->prefix, "parent", a->parent, "account",
	                 a->account, "pubkey", a->pubkey_hex, "reason", a->reason, "from", a->from,
	                 "created", (json_int_t)a->created_ms, "decided", (json_int_t)a->decided_ms,
	                 "decided_by", a->decided_by);
}

int account_apply(store_txn *t, application *app, const char *password, size_t plen,
                  const account_kdf *kdf, int64_t now_ms)
{
	if (check_app(app) || (plen == 0 && !app->pubkey_hex[0]))
		return IDN_EINVAL;
	int ret = name_taken(t, app->account);
	if (ret)
		return ret;
	idn_slice ck = IDN_SLICE("c/app"), v;
	uint64_t last = 0;
	ret = store_tab_get(t, STORE_TAB_ACCOUNT, ck, &v);
	if (ret && ret != IDN_ENOTFOUND)
		return ret;
	for (size_t i = 0; !ret && i < 8 && v.len == 8; i++)
		last = last << 8 | v.p[i];
	uint8_t nb[8];
	for (int i = 0; i < 8; i++)
		nb[i] = (uint8_t)((last + 1) >> (56 - 8 * i));
	if ((ret = store_tab_put(t, STORE_TAB_ACCOUNT, ck, idn_slice_of(nb, 8), 0)))
		return ret;
	app->id = last + 1;
	app->state = APP_PENDING;
	app->created_ms = now_ms;
	app->decided_ms = 0;
	app->decided_by[0] = app->reason[0] = 0;
	json_t *j = app_to_json(app);
	if (!j)
		return IDN_ENOMEM;
	if (plen)
		ret = account_set_secret(t, j, app->account, password, plen, true, kdf);
	char kb[24];
	idn_slice key;
	app_key(app->id, kb, &key);
	if (!ret)
		ret = account_row_put(t, key, j, STORE_NOOVERWRITE);
	json_decref(j);
	return ret;
}

static json_t *app_row(store_txn *t, uint64_t id, int *err)
{
	char kb[24];
	idn_slice key;
	app_key(id, kb, &key);
	return account_row_get(t, key, err);
}

int account_application_get(store_txn *t, uint64_t id, application *out)
{
	int ret;
	json_t *j = app_row(t, id, &ret);
	if (!j)
		return ret;
	app_from_json(j, out);
	json_decref(j);
	return 0;
}

struct apps_arg {
	int state;
	int (*fn)(void *arg, const application *app);
	void *arg;
};

static int apps_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)key;
	struct apps_arg *a = arg;
	json_t *j = json_loadb((const char *)val.p, val.len, 0, NULL);
	if (!j)
		return 0;
	application app;
	app_from_json(j, &app);
	json_decref(j);
	return a->state < 0 || (int)app.state == a->state ? a->fn(a->arg, &app) : 0;
}

int account_applications(store_txn *t, int state, uint64_t after_id,
                         int (*fn)(void *arg, const application *app), void *arg)
{
	char kb[24];
	idn_slice start;
	app_key(after_id + 1, kb, &start);
	struct apps_arg a = {state, fn, arg};
	return store_tab_scan(t, STORE_TAB_ACCOUNT, IDN_SLICE("p/"), start, apps_cb, &a);
}

/* 1 when the record of handle h exists in t, 0 not, < 0 error. */
static int record_exists(store_txn *t, const char *h, bool cs)
{
	uint8_t key[HANDLE_KEY_MAX];
	int kl = handle_key(idn_slice_of(h, strlen(h)), cs, key);
	if (kl < 0)
		return kl;
	idn_slice v;
	int ret = store_get(t, idn_slice_of(key, (size_t)kl), &v);
	return ret == IDN_ENOTFOUND ? 0 : ret ? ret : 1;
}

/* The prefix an approval gives: the one asked, or the first free child of parent. */
static int choose_prefix(store_txn *t, const application *app, bool cs, char *out, size_t cap)
{
	char h[ACCOUNT_PREFIX_MAX + 32];
	if (app->prefix[0]) {
		snprintf(h, sizeof(h), "0.NA/%s", app->prefix);
		int ex = record_exists(t, h, cs);
		if (ex)
			return ex > 0 ? IDN_EEXIST : ex;
		snprintf(out, cap, "%s", app->prefix);
		return 0;
	}
	for (unsigned i = 1; i <= NEXT_FREE_MAX; i++) {
		snprintf(h, sizeof(h), "0.NA/%s.%u", app->parent, i);
		int ex = record_exists(t, h, cs);
		if (ex < 0)
			return ex;
		if (!ex) {
			snprintf(out, cap, "%s.%u", app->parent, i);
			return 0;
		}
	}
	return IDN_EEXIST;
}

/* Writes 0.NA/<prefix>: HS_ADMIN (every right) for 300:0.NA/<prefix>, HS_PUBKEY if given. */
static int put_prefix_record(store_txn *t, const char *prefix, const char *pubkey_hex, bool cs,
                             int64_t now_ms)
{
	char h[ACCOUNT_PREFIX_MAX + 8];
	int hl = snprintf(h, sizeof(h), "0.NA/%s", prefix);
	uint8_t adm[ACCOUNT_PREFIX_MAX + 32], pk[PUBKEY_MAX];
	wire_wr w = wire_wr_init(adm, sizeof(adm));
	proto_admin a = {
	    .rights = PROTO_ADM_ALL, .handle = idn_slice_of(h, (size_t)hl), .index = ENT_ID_INDEX};
	proto_admin_put(&w, &a);
	proto_value v[2] = {
	    {.index = ENT_ADMIN_INDEX,
	     .timestamp = (uint32_t)(now_ms / 1000),
	     .ttl = 86400,
	     .perms = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE | PROTO_PERM_PUBLIC_READ,
	     .type = IDN_SLICE("HS_ADMIN"),
	     .data = idn_slice_of(adm, wire_wr_len(&w))}};
	uint32_t n = 1;
	size_t kl = strlen(pubkey_hex);
	if (kl) {
		ssize_t pl =
		    codec_hex_decode((const uint8_t *)pubkey_hex, kl, pk, sizeof(pk), NULL);
		if (pl <= 0)
			return IDN_EINVAL;
		v[1] = v[0];
		v[1].index = ENT_ID_INDEX;
		v[1].type = IDN_SLICE("HS_PUBKEY");
		v[1].data = idn_slice_of(pk, (size_t)pl);
		n = 2;
	}
	uint8_t rec[PUBKEY_MAX + 1024], key[HANDLE_KEY_MAX];
	int rl = record_build(v, n, rec, sizeof(rec));
	int klen = handle_key(idn_slice_of(h, (size_t)hl), cs, key);
	if (rl < 0 || klen < 0)
		return rl < 0 ? rl : klen;
	return store_put(t, idn_slice_of(key, (size_t)klen), idn_slice_of(rec, (size_t)rl),
	                 STORE_NOOVERWRITE);
}

static int home_if_not(store_txn *t, const char *prefix)
{
	uint8_t norm[HANDLE_KEY_MAX];
	int n = handle_prefix_norm(idn_slice_of(prefix, strlen(prefix)), norm, sizeof(norm));
	if (n < 0)
		return n;
	idn_slice p = idn_slice_of(norm, (size_t)n);
	int h = store_is_homed(t, p);
	return h < 0 ? h : h ? 0 : store_home(t, p);
}

/* The enterprise account of an approved application (its password fields copied). */
static int put_enterprise(store_txn *t, json_t *aj, const application *app, const char *prefix,
                          int64_t now_ms)
{
	account a = {.role = ACCOUNT_ENTERPRISE,
	             .gen = 1,
	             .id_index = ENT_ID_INDEX,
	             .nprefixes = 1,
	             .created_ms = now_ms};
	snprintf(a.name, sizeof(a.name), "%s", app->account);
	snprintf(a.id_handle, sizeof(a.id_handle), "0.NA/%s", prefix);
	snprintf(a.prefixes[0], sizeof(a.prefixes[0]), "%s", prefix);
	json_t *j = account_to_json(&a);
	if (!j)
		return IDN_ENOMEM;
	json_object_set(j, "pw",
	                json_object_get(aj, "pw") ? json_object_get(aj, "pw") : json_string(""));
	if (json_object_get(aj, "v1"))
		json_object_set(j, "v1", json_object_get(aj, "v1"));
	char kb[ACCOUNT_NAME_MAX + 8];
	idn_slice key;
	int ret = account_row_key("a", a.name, kb, sizeof(kb), &key);
	if (!ret)
		ret = account_row_put(t, key, j, STORE_NOOVERWRITE);
	json_decref(j);
	return ret;
}

/* Marks application j decided (state, by, when, reason, prefix) and writes it back. */
static int decide(store_txn *t, json_t *j, uint64_t id, enum application_state st, const char *by,
                  const char *reason, const char *prefix, int64_t now_ms)
{
	json_object_set_new(j, "state", json_string(state_name(st)));
	json_object_set_new(j, "decided_by", json_string(by));
	json_object_set_new(j, "decided", json_integer(now_ms));
	json_object_set_new(j, "reason", json_string(reason ? reason : ""));
	if (prefix)
		json_object_set_new(j, "prefix", json_string(prefix));
	json_object_del(j, "pw"); /* the account holds them now, or nobody does */
	json_object_del(j, "v1");
	char kb[24];
	idn_slice key;
	app_key(id, kb, &key);
	return account_row_put(t, key, j, 0);
}

static json_t *pending_row(store_txn *t, uint64_t id, application *app, char *why, size_t whylen,
                           int *err)
{
	json_t *j = app_row(t, id, err);
	if (!j) {
		snprintf(why, whylen, "no application %llu", (unsigned long long)id);
		return NULL;
	}
	app_from_json(j, app);
	if (app->state != APP_PENDING) {
		snprintf(why, whylen, "application %llu is %s already", (unsigned long long)id,
		         state_name(app->state));
		json_decref(j);
		*err = IDN_EINVAL;
		return NULL;
	}
	return j;
}

int account_approve(store_txn *t, uint64_t id, const char *by, int64_t now_ms, bool case_sensitive,
                    char *prefix_out, size_t cap, char *why, size_t whylen)
{
	application app;
	int ret;
	why[0] = 0;
	json_t *j = pending_row(t, id, &app, why, whylen, &ret);
	if (!j)
		return ret;
	char prefix[ACCOUNT_PREFIX_MAX + 16];
	ret = choose_prefix(t, &app, case_sensitive, prefix, sizeof(prefix));
	if (ret == IDN_EEXIST)
		snprintf(why, whylen, "prefix %s is taken (0.NA/%s exists)",
		         app.prefix[0] ? app.prefix : app.parent,
		         app.prefix[0] ? app.prefix : "...");
	if (!ret && (ret = put_prefix_record(t, prefix, app.pubkey_hex, case_sensitive, now_ms)))
		snprintf(why, whylen, "0.NA/%s could not be written", prefix);
	if (!ret && (ret = home_if_not(t, prefix)))
		snprintf(why, whylen, "prefix %s could not be homed", prefix);
	if (!ret && (ret = put_enterprise(t, j, &app, prefix, now_ms)))
		snprintf(why, whylen, "account %s %s", app.account,
		         ret == IDN_EEXIST ? "exists already" : "could not be written");
	if (!ret)
		ret = decide(t, j, id, APP_APPROVED, by, NULL, prefix, now_ms);
	json_decref(j);
	if (!ret)
		snprintf(prefix_out, cap, "%s", prefix);
	return ret;
}

int account_reject(store_txn *t, uint64_t id, const char *by, const char *reason, int64_t now_ms)
{
	application app;
	char why[128];
	int ret;
	json_t *j = pending_row(t, id, &app, why, sizeof(why), &ret);
	if (!j)
		return ret;
	ret = decide(t, j, id, APP_REJECTED, by, reason, NULL, now_ms);
	json_decref(j);
	return ret;
}

/* The parent prefix of an application: asked, or the one its prefix is under ("88.100.7"). */
static void parent_of(const application *app, char *out, size_t cap)
{
	if (!app->prefix[0]) {
		snprintf(out, cap, "%s", app->parent);
		return;
	}
	snprintf(out, cap, "%s", app->prefix);
	char *dot = strrchr(out, '.');
	if (dot)
		*dot = 0;
}

/*
 * The node's quota of child prefixes (node/quota.h), as a Handle create of
 * 0.NA/<prefix> counts it: before the record is put (homing it after does not
 * count it again). 0, ACCOUNT_QUOTA with why, or a store error.
 */
static int approve_quota(node_authz *c, const application *app, char *why, size_t whylen)
{
	char prefix[ACCOUNT_PREFIX_MAX + 16], h[ACCOUNT_PREFIX_MAX + 24];
	int ret =
	    choose_prefix(c->t, app, c->rq->w->node->cfg.case_sensitive, prefix, sizeof(prefix));
	if (ret)
		return ret == IDN_EEXIST ? 0 : ret; /* account_approve says why */
	int hl = snprintf(h, sizeof(h), "0.NA/%s", prefix);
	if (!node_quota_created(c, idn_slice_of(h, (size_t)hl)))
		return 0;
	snprintf(why, whylen, "a quota of this node refuses %s (response code %u)", h,
	         node_worker_rcode(c->rq->w));
	return ACCOUNT_QUOTA;
}

int account_approve_as(node_worker *w, idn_slice id_handle, uint32_t id_index, uint64_t app_id,
                       const char *by, int64_t now_ms, char *prefix_out, size_t cap, char *why,
                       size_t whylen)
{
	node *n = w->node;
	if (!n->store)
		return IDN_ENOTSUP;
	uint8_t out[1024];
	req rq = {.w = w, .out = out, .cap = sizeof(out)};
	node_authz c = {
	    .rq = &rq, .id_handle = id_handle, .id_index = id_index, .now = n->cfg.clock()};
	c.admins = node_admin_list(n, &c.nadmins);
	c.id_klen = handle_key(id_handle, n->cfg.case_sensitive, c.id_key);
	node_worker_end(w);
	int ret = w->wtxn ? store_txn_nest(w->wtxn, &c.t) : store_txn_begin(n->store, 0, &c.t);
	if (ret)
		return ret;
	application app;
	ret = account_application_get(c.t, app_id, &app);
	char parent[ACCOUNT_PREFIX_MAX + 8], ph[ACCOUNT_PREFIX_MAX + 16];
	parent_of(&app, parent, sizeof(parent));
	int pl = snprintf(ph, sizeof(ph), "0.NA/%s", parent);
	record pr;
	int pf = ret ? 0 : node_authz_read_record(&c, idn_slice_of(ph, (size_t)pl), &pr);
	if (ret == IDN_ENOTFOUND)
		snprintf(why, whylen, "no application %llu", (unsigned long long)app_id);
	else if (!ret && pf < 0)
		ret = pf;
	else if (!ret &&
	         node_authz_check(&c, pf > 0 ? &pr : NULL, NULL, PROTO_ADM_ADD_DERIVED_PREFIX,
	                          idn_slice_of(ph, (size_t)pl))) {
		snprintf(why, whylen, "%u:%.*s lacks the \"add derived prefix\" right on %s",
		         id_index, (int)id_handle.len, (const char *)id_handle.p, ph);
		ret = ACCOUNT_NO_RIGHT;
	}
	if (!ret)
		ret = approve_quota(&c, &app, why, whylen);
	if (!ret)
		ret = account_approve(c.t, app_id, by, now_ms, n->cfg.case_sensitive, prefix_out,
		                      cap, why, whylen);
	if (ret) {
		store_txn_abort(c.t);
		return ret;
	}
	return store_txn_commit(c.t);
}

int account_txn_begin(node_worker *w, bool write, store_txn **t)
{
	node *n = w->node;
	if (!n->store)
		return IDN_ENOTSUP;
	node_worker_end(w);
	if (w->wtxn)
		return store_txn_nest(w->wtxn, t);
	return store_txn_begin(n->store, write ? 0 : STORE_RDONLY, t);
}

int account_txn_end(store_txn *t, bool write, int ret)
{
	if (ret || !write) {
		store_txn_abort(t);
		return ret;
	}
	return store_txn_commit(t);
}

struct pending_arg {
	const char *from;
	unsigned total, mine;
};

static int pending_cb(void *arg, const application *app)
{
	struct pending_arg *p = arg;
	p->total++;
	p->mine += !strcmp(app->from, p->from);
	return p->total > APP_SCAN_MAX;
}

int account_pending_count(store_txn *t, const char *from, unsigned *total, unsigned *from_n)
{
	struct pending_arg p = {from, 0, 0};
	int ret = account_applications(t, APP_PENDING, 0, pending_cb, &p);
	*total = p.total;
	*from_n = p.mine;
	return ret < 0 ? ret : 0;
}
