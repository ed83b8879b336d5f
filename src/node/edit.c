/*
 * edit.c - the writes of records (edit.h): create and delete a handle, and
 * the one value-editing path add, modify and remove share.
 */
#include "node/edit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limit.h"
#include "node/answer.h"
#include "node/quota.h"
#include "node/template.h"
#include "proto/admin.h"
#include "proto/handle.h"
#include "proto/record.h"
#include "proto/reserved.h"

enum { MINT_TRIES = 8 };

/* Decodes a record's values into a malloc'd array (of at least `extra` more slots). */
static proto_value *values_of(idn_slice raw, uint32_t n, uint32_t extra)
{
	proto_value *v = calloc((size_t)n + extra + 1, sizeof(*v));
	if (!v)
		return NULL;
	wire_rd c = wire_rd_init(raw.p, raw.len);
	for (uint32_t i = 0; i < n; i++)
		proto_value_get(&c, &v[i]);
	if (c.err) {
		free(v);
		return NULL;
	}
	return v;
}

/* Checks the data of the value types the node itself interprets. */
static int value_check(req *rq, const proto_value *v)
{
	char msg[96];
	proto_admin ad;
	proto_vlist vl;
	const char *bad = "is longer than value_type_max";
	uint32_t max = rq->w->node->cfg.value_type_max ? rq->w->node->cfg.value_type_max : 1024;
	if (v->type.len > max || proto_type_check(v->type, &bad)) {
		limit_hit(LIM_VALUE_SYNTAX, "value type at index %u %s", v->index, bad);
		snprintf(msg, sizeof(msg), "value at index %u: its type %s", v->index, bad);
		return node_answer_error(rq, PROTO_RC_INVALID_VALUE, msg);
	}
	if (idn_slice_eq(v->type, IDN_SLICE("HS_ADMIN")) && proto_admin_decode(v->data, &ad)) {
		snprintf(msg, sizeof(msg), "invalid HS_ADMIN data at index %u", v->index);
		return node_answer_error(rq, PROTO_RC_INVALID_VALUE, msg);
	}
	if (idn_slice_eq(v->type, IDN_SLICE("HS_VLIST")) && proto_vlist_decode(v->data, &vl)) {
		snprintf(msg, sizeof(msg), "invalid HS_VLIST data at index %u", v->index);
		return node_answer_error(rq, PROTO_RC_INVALID_VALUE, msg);
	}
	/* A template definition is checked when written, not when first used. */
	if (idn_slice_eq(v->type, IDN_SLICE(TMPL_DEF_TYPE))) {
		char why[256], full[320];
		tmpl *t = NULL;
		int ret = tmpl_parse(v->data, &t, why, sizeof(why));
		tmpl_free(t);
		if (ret == IDN_ENOMEM)
			return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
		if (ret) {
			snprintf(full, sizeof(full), "invalid " TMPL_DEF_TYPE " at index %u: %s",
			         v->index, why);
			return node_answer_error(rq, PROTO_RC_INVALID_VALUE, full);
		}
	}
	return 0;
}

/*
 * When the values name a template (TEMPLATE at index 1001), checks their
 * fields (index 2000 and up) against its definition, read from this node's
 * store in the write transaction. Returns 0 or the answer (202 naming the
 * field and the rule).
 */
/*
 * The parsed template of definition def: the worker's, kept from the last
 * write that named the same definition (the same bytes: a batch of
 * identifiers of one template parses it once), else parsed now and kept.
 * *out is borrowed from the worker. tmpl_parse's codes.
 */
static int worker_tmpl(node_worker *w, idn_slice def, tmpl **out, char *why, size_t whylen)
{
	if (w->tmpl && w->tmpl_def_len == def.len && !memcmp(w->tmpl_def, def.p, def.len)) {
		*out = w->tmpl;
		return 0;
	}
	tmpl *t = NULL;
	int ret = tmpl_parse(def, &t, why, whylen);
	if (ret)
		return ret;
	uint8_t *copy = malloc(def.len ? def.len : 1);
	if (!copy) {
		tmpl_free(t);
		return IDN_ENOMEM;
	}
	memcpy(copy, def.p, def.len);
	tmpl_free(w->tmpl);
	free(w->tmpl_def);
	w->tmpl = t;
	w->tmpl_def = copy;
	w->tmpl_def_len = def.len;
	*out = t;
	return 0;
}

static int template_check(node_authz *c, const proto_value *vals, uint32_t n)
{
	const proto_value *ref = NULL;
	for (uint32_t i = 0; i < n; i++)
		if (vals[i].index == TMPL_INDEX &&
		    idn_slice_eq(vals[i].type, IDN_SLICE(TMPL_REF_TYPE)))
			ref = &vals[i];
	if (!ref)
		return 0;
	char msg[PROTO_HANDLE_MAX + 400], why[320];
	int th = ref->data.len > PROTO_HANDLE_MAX ? PROTO_HANDLE_MAX : (int)ref->data.len;
	const char *tn = (const char *)ref->data.p;
	record r = {0};
	int found = node_authz_read_record(c, ref->data, &r);
	if (found < 0)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	/* The last definition; a damaged value ends the walk, as no error. */
	idn_slice def = {0};
	proto_values_match defs = {.type = IDN_SLICE(TMPL_DEF_TYPE)};
	proto_values_it it = proto_values_begin(r.values, found ? r.nvalues : 0);
	proto_value v;
	while (proto_values_find(&it, &defs, &v) == 1)
		def = v.data;
	if (!found || !def.p) {
		snprintf(msg, sizeof(msg),
		         "TEMPLATE (index %d) names %.*s, which is not a template on this node (no "
		         "%s value)",
		         TMPL_INDEX, th, tn, TMPL_DEF_TYPE);
		return node_answer_error(c->rq, PROTO_RC_INVALID_VALUE, msg);
	}
	tmpl *t = NULL;
	int ret = worker_tmpl(c->rq->w, def, &t, why, sizeof(why));
	if (!ret)
		ret = tmpl_check(t, vals, n, why, sizeof(why));
	if (ret == IDN_ENOMEM)
		return node_answer_error(c->rq, PROTO_RC_SERVER_BUSY, "out of memory");
	if (ret) {
		snprintf(msg, sizeof(msg), "template %.*s: %s", th, tn, why);
		return node_answer_error(c->rq, PROTO_RC_INVALID_VALUE, msg);
	}
	return 0;
}

/*
 * Stores vals[0..n) as the record of key (the answer on failure, 0 on
 * success). Every write goes through here, so every record written is
 * checked against the template it names.
 */
static int put_record(node_authz *c, idn_slice key, const proto_value *vals, uint32_t n)
{
	int tret = template_check(c, vals, n);
	if (tret)
		return tret;
	size_t size = record_size(vals, n);
	/* A record must still fit in a resolution answer, on every transport. */
	/* The key is as long as the handle an answer echoes (handle_key changes case only). */
	size_t max = record_write_max(key.len, c->rq->w->node->cfg.max_record);
	if (size > max) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "record too large to serve: %zu bytes of values, at most %zu fit in an "
		         "answer",
		         size, max);
		limit_hit(LIM_RECORD_SIZE, "a write of a %zu-byte record refused", size);
		return node_answer_error(c->rq, PROTO_RC_INVALID_VALUE, msg);
	}
	uint8_t *buf = malloc(size);
	if (!buf)
		return node_answer_error(c->rq, PROTO_RC_SERVER_BUSY, "out of memory");
	int len = record_build(vals, n, buf, size);
	int ret = len < 0 ? len : store_put(c->t, key, idn_slice_of(buf, (size_t)len), 0);
	free(buf);
	if (ret)
		return node_answer_store_error(c->rq, ret, "the change was not saved");
	c->commit = true;
	return 0;
}

static bool is_admin_type(const proto_value *v)
{
	return idn_slice_eq(v->type, IDN_SLICE("HS_ADMIN"));
}

int node_edit_create(node_authz *c)
{
	req *rq = c->rq;
	proto_values_req vr;
	if (proto_values_req_decode(rq->msg.body, &vr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	record pr;
	int pf = node_authz_read_prefix_record(c, vr.handle, &pr);
	if (pf < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");

	/* MINT: the server picks the suffix, appended to what the client sent. */
	char minted[PROTO_HANDLE_MAX + 40];
	idn_slice h = vr.handle;
	uint8_t key[HANDLE_KEY_MAX];
	int klen = 0;
	idn_slice old;
	int ex = IDN_ENOTFOUND;
	for (int i = 0; i < ((rq->msg.hdr.flags & PROTO_F_MINT) ? MINT_TRIES : 1); i++) {
		if (rq->msg.hdr.flags & PROTO_F_MINT) {
			uint8_t r[8];
			if (node_random_bytes(rq->w->node, r, sizeof(r)))
				return node_answer_error(rq, PROTO_RC_ERROR, "no randomness");
			int n =
			    snprintf(minted, sizeof(minted), "%.*s%02x%02x%02x%02x%02x%02x%02x%02x",
			             (int)vr.handle.len, (const char *)vr.handle.p, r[0], r[1],
			             r[2], r[3], r[4], r[5], r[6], r[7]);
			h = idn_slice_of(minted, (size_t)n);
		}
		klen = handle_key(h, node_authz_case_sensitive(c), key);
		if (klen < 0)
			return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
		ex = store_get(c->t, idn_slice_of(key, (size_t)klen), &old);
		if (ex != 0)
			break;
	}
	if (ex && ex != IDN_ENOTFOUND)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	bool exists = ex == 0;
	if (exists && !(rq->msg.hdr.flags & PROTO_F_OVRW))
		return node_answer_error(rq, PROTO_RC_HANDLE_ALREADY_EXISTS, "");

	record own;
	if (exists && record_parse(old, &own))
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error: damaged record");
	/* Overwriting replaces a handle: that takes the right to delete it too. */
	uint16_t need = PROTO_ADM_ADD_HANDLE | (exists ? PROTO_ADM_DELETE_HANDLE : 0);
	int ret = node_authz_check(c, exists ? &own : NULL, pf > 0 ? &pr : NULL, need, h);
	if (ret)
		return ret;

	proto_value *vals = values_of(vr.values, vr.nvalues, 0);
	if (!vals)
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed values");
	for (uint32_t i = 0; i < vr.nvalues && !ret; i++) {
		vals[i].timestamp = c->now;
		ret = value_check(rq, &vals[i]);
	}
	if (!ret && !exists) /* a new record: its prefix's quota (604, 605) */
		ret = node_quota_created(c, h);
	if (!ret)
		ret = put_record(c, idn_slice_of(key, (size_t)klen), vals, vr.nvalues);
	free(vals);
	if (ret)
		return ret;
	if (!(rq->msg.hdr.flags & PROTO_F_MINT))
		return node_answer_ok(rq);
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	proto_create_resp_encode(&b.w, h);
	return node_answer_end(rq, &b);
}

/* Reads the record a value op acts on; the answer (100) when there is none. */
static int load_target(node_authz *c, idn_slice h, uint8_t *key, int *klen, record *r)
{
	*klen = handle_key(h, node_authz_case_sensitive(c), key);
	if (*klen < 0)
		return node_answer_error(c->rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
	idn_slice raw;
	int ret = store_get(c->t, idn_slice_of(key, (size_t)*klen), &raw);
	if (ret == IDN_ENOTFOUND)
		return node_answer_error(c->rq, PROTO_RC_HANDLE_NOT_FOUND, "");
	if (ret || record_parse(raw, r))
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	return 0;
}

int node_edit_delete(node_authz *c)
{
	req *rq = c->rq;
	idn_slice h;
	if (proto_handle_req_decode(rq->msg.body, &h))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	uint8_t key[HANDLE_KEY_MAX];
	int klen;
	record own, pr;
	int ret = load_target(c, h, key, &klen, &own);
	if (ret)
		return ret;
	int pf = node_authz_read_prefix_record(c, h, &pr);
	if (pf < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	if ((ret = node_authz_check(c, &own, pf > 0 ? &pr : NULL, PROTO_ADM_DELETE_HANDLE, h)))
		return ret;
	if ((ret = node_quota_deleting(c, h)))
		return ret;
	if ((ret = store_del(c->t, idn_slice_of(key, (size_t)klen))))
		return node_answer_store_error(rq, ret, "the delete was not saved");
	c->commit = true;
	return node_answer_ok(rq);
}

/*
 * One edit of a record's values. Add, modify and remove share the path
 * decode -> load -> plan -> authorize -> apply -> put; each supplies only its
 * plan (the refusals the reference makes before the rights, and the rights
 * the edit needs) and its apply (the edit itself, on vals[0..n)).
 */
typedef struct value_edit {
	idn_slice handle;       /* the record edited, as the request names it */
	uint32_t room;          /* slots the edit adds after the record's values */
	uint32_t unreadable_rc; /* the answer when the record's values do not decode */
	const char *unreadable;
	int (*plan)(node_authz *c, struct value_edit *e, uint16_t *need);
	int (*apply)(node_authz *c, struct value_edit *e);
	/* The request's part (what plan and apply read). */
	proto_values_req vr; /* add, modify */
	proto_remove_req rr; /* remove */
	/* Filled by the path: the record's values (room more slots), owned. */
	proto_value *vals;
	uint32_t n;
	/* The op's own arrays, freed by the path. */
	proto_value *given; /* the request's values decoded (add, modify) */
	uint32_t *at;       /* modify: where each given value goes in vals */
	uint32_t missing;   /* remove: the first index not in the record */
	bool any_missing;
} value_edit;

static int edit_values(node_authz *c, value_edit *e)
{
	req *rq = c->rq;
	uint8_t key[HANDLE_KEY_MAX];
	int klen;
	record own;
	int ret = load_target(c, e->handle, key, &klen, &own);
	if (ret)
		return ret;
	e->vals = values_of(own.values, own.nvalues, e->room);
	e->n = own.nvalues;
	uint16_t need = 0;
	if (!e->vals)
		ret = node_answer_error(rq, e->unreadable_rc, e->unreadable);
	if (!ret)
		ret = e->plan(c, e, &need);
	if (!ret)
		ret = node_authz_check(c, &own, NULL, need, e->handle);
	if (!ret)
		ret = e->apply(c, e);
	/* put_record checks the template: a required field cannot be removed. */
	if (!ret)
		ret = put_record(c, idn_slice_of(key, (size_t)klen), e->vals, e->n);
	if (!ret)
		ret = node_answer_ok(rq);
	free(e->vals);
	free(e->given);
	free(e->at);
	return ret;
}

/* Timestamps a value the request gives, and checks what the node interprets of it. */
static int edit_take(node_authz *c, proto_value *v)
{
	v->timestamp = c->now;
	return value_check(c->rq, v);
}

/* As the reference: an index already there is refused before the rights are checked. */
static int add_plan(node_authz *c, value_edit *e, uint16_t *need)
{
	e->given = values_of(e->vr.values, e->vr.nvalues, 0);
	if (!e->given)
		return node_answer_error(c->rq, PROTO_RC_PROTOCOL_ERROR, "malformed values");
	for (uint32_t i = 0; i < e->vr.nvalues; i++) {
		for (uint32_t j = 0; j < e->n; j++)
			if (e->vals[j].index == e->given[i].index) {
				char msg[64];
				snprintf(msg, sizeof(msg), "Index conflict for %u",
				         e->given[i].index);
				return node_answer_error(c->rq, PROTO_RC_VALUE_ALREADY_EXISTS, msg);
			}
		*need |= is_admin_type(&e->given[i]) ? PROTO_ADM_ADD_ADMIN : PROTO_ADM_ADD_VALUE;
	}
	return 0;
}

static int add_apply(node_authz *c, value_edit *e)
{
	int ret = 0;
	for (uint32_t i = 0; i < e->vr.nvalues && !ret; i++) {
		ret = edit_take(c, &e->given[i]);
		e->vals[e->n + i] = e->given[i];
	}
	e->n += e->vr.nvalues;
	return ret;
}

static int modify_plan(node_authz *c, value_edit *e, uint16_t *need)
{
	e->given = values_of(e->vr.values, e->vr.nvalues, 0);
	e->at = calloc((size_t)e->vr.nvalues + 1, sizeof(*e->at));
	if (!e->given || !e->at)
		return node_answer_error(c->rq, PROTO_RC_PROTOCOL_ERROR, "malformed values");
	for (uint32_t i = 0; i < e->vr.nvalues; i++) {
		e->at[i] = UINT32_MAX;
		for (uint32_t j = 0; j < e->n; j++)
			if (e->vals[j].index == e->given[i].index)
				e->at[i] = j;
		if (e->at[i] == UINT32_MAX)
			continue;
		/* Turning a value into an admin, or an admin into anything, is an admin change. */
		*need |= is_admin_type(&e->given[i]) || is_admin_type(&e->vals[e->at[i]])
		             ? PROTO_ADM_MODIFY_ADMIN
		             : PROTO_ADM_MODIFY_VALUE;
	}
	if (!*need)
		*need = PROTO_ADM_MODIFY_VALUE;
	return 0;
}

static int modify_apply(node_authz *c, value_edit *e)
{
	int ret = 0;
	for (uint32_t i = 0; i < e->vr.nvalues && !ret; i++) {
		if (e->at[i] == UINT32_MAX) {
			char msg[64];
			snprintf(msg, sizeof(msg), "no value at index %u to modify",
			         e->given[i].index);
			return node_answer_error(c->rq, PROTO_RC_VALUE_NOT_FOUND, msg);
		}
		ret = edit_take(c, &e->given[i]);
		e->vals[e->at[i]] = e->given[i];
	}
	return ret;
}

static int remove_plan(node_authz *c, value_edit *e, uint16_t *need)
{
	(void)c;
	for (uint32_t i = 0; i < e->rr.nindexes; i++) {
		uint32_t idx = proto_index_at(e->rr.indexes, i);
		bool found = false;
		for (uint32_t j = 0; j < e->n; j++)
			if (e->vals[j].index == idx) {
				found = true;
				*need |= is_admin_type(&e->vals[j]) ? PROTO_ADM_REMOVE_ADMIN
				                                    : PROTO_ADM_REMOVE_VALUE;
			}
		if (!found && !e->any_missing) {
			e->any_missing = true;
			e->missing = idx;
		}
	}
	if (!*need)
		*need = PROTO_ADM_REMOVE_VALUE;
	return 0;
}

static int remove_apply(node_authz *c, value_edit *e)
{
	if (e->any_missing) {
		char msg[64];
		snprintf(msg, sizeof(msg), "no value at index %u to remove", e->missing);
		return node_answer_error(c->rq, PROTO_RC_VALUE_NOT_FOUND, msg);
	}
	uint32_t n = 0;
	for (uint32_t j = 0; j < e->n; j++) {
		bool drop = false;
		for (uint32_t i = 0; i < e->rr.nindexes && !drop; i++)
			drop = e->vals[j].index == proto_index_at(e->rr.indexes, i);
		if (!drop)
			e->vals[n++] = e->vals[j];
	}
	e->n = n;
	return 0;
}

/* Add and modify: the request names a handle and values. */
static int edit_by_values(node_authz *c, value_edit *e, bool adds)
{
	e->unreadable_rc = PROTO_RC_PROTOCOL_ERROR;
	e->unreadable = "malformed values";
	if (proto_values_req_decode(c->rq->msg.body, &e->vr))
		return node_answer_error(c->rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	e->handle = e->vr.handle;
	e->room = adds ? e->vr.nvalues : 0;
	return edit_values(c, e);
}

int node_edit_add(node_authz *c)
{
	value_edit e = {.plan = add_plan, .apply = add_apply};
	return edit_by_values(c, &e, true);
}

int node_edit_modify(node_authz *c)
{
	value_edit e = {.plan = modify_plan, .apply = modify_apply};
	return edit_by_values(c, &e, false);
}

int node_edit_remove(node_authz *c)
{
	value_edit e = {.plan = remove_plan,
	                .apply = remove_apply,
	                .unreadable_rc = PROTO_RC_ERROR,
	                .unreadable = "storage error: damaged record"};
	if (proto_remove_req_decode(c->rq->msg.body, &e.rr))
		return node_answer_error(c->rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	e.handle = e.rr.handle;
	return edit_values(c, &e);
}
