/*
 * api_batch.c - POST /api/batch: up to 10,000 register / modify / delete
 * operations in one request, each run as its own Handle admin request
 * through the node (so each succeeds or fails alone: a result per item,
 * partial success reported), and the Idempotency-Key that makes a retry
 * after a timeout return the stored result instead of running twice.
 *
 * Request:  {"operations":[{"op":"create","handle":"88.100.1/A","values":[..],
 *            "overwrite":false}, {"op":"add"|"modify","handle":..,"values":[..]},
 *            {"op":"remove","handle":..,"index":[2,3]}, {"op":"delete","handle":..}]}
 * Answer:   {"responseCode":1,"succeeded":n,"failed":m,"results":[{"handle":..,
 *            "responseCode":1,"status":201}, {"handle":..,"responseCode":101,
 *            "status":409,"message":..}]}  - 200 when all succeeded, else 207.
 *
 * Idempotency: results are kept per (identity, key) for IDEM_TTL_S, at most
 * IDEM_MAX entries and IDEM_BYTES bytes of stored answers (the oldest go
 * first). The same key with another body is refused (422); a retry while
 * the first is still running gets 409.
 */
#include <jansson.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/routes.h"
#include "core/err.h"
#include "proto/admin.h"

enum {
	BATCH_MAX = 10000,
	IDEM_MAX = 1024,
	IDEM_KEY_MAX = 200,
	IDEM_TTL_S = 24 * 3600,
	IDEM_BYTES = 64 << 20,
};

struct idem_entry {
	bool used, done;
	char key[PROTO_HANDLE_MAX + 16 + IDEM_KEY_MAX + 2]; /* index:handle \n key */
	uint8_t body_hash[SHA256_DIGEST_LENGTH];
	time_t created;
	int status;
	uint8_t *answer;
	size_t len;
};

struct api_idem {
	pthread_mutex_t lock;
	struct idem_entry e[IDEM_MAX];
	size_t bytes;
};

int api_idem_new(api_idem **out)
{
	api_idem *d = calloc(1, sizeof(*d));
	if (!d)
		return IDN_ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return 0;
}

void api_idem_free(api_idem *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < IDEM_MAX; i++)
		free(d->e[i].answer);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void idem_drop(api_idem *d, struct idem_entry *x)
{
	d->bytes -= x->len;
	free(x->answer);
	memset(x, 0, sizeof(*x));
}

/* Lock held: the entry for key, dropping expired ones on the way. */
static struct idem_entry *idem_find(api_idem *d, const char *key, time_t now)
{
	struct idem_entry *hit = NULL;
	for (size_t i = 0; i < IDEM_MAX; i++) {
		struct idem_entry *x = &d->e[i];
		if (!x->used)
			continue;
		if (x->done && now - x->created > IDEM_TTL_S)
			idem_drop(d, x);
		else if (!strcmp(x->key, key))
			hit = x;
	}
	return hit;
}

/* Lock held: a slot for a new entry (a free one, else the oldest finished one). */
static struct idem_entry *idem_slot(api_idem *d)
{
	struct idem_entry *old = NULL;
	for (size_t i = 0; i < IDEM_MAX; i++) {
		struct idem_entry *x = &d->e[i];
		if (!x->used)
			return x;
		if (x->done && (!old || x->created < old->created))
			old = x;
	}
	if (old)
		idem_drop(d, old);
	return old;
}

/* Lock held: makes room for n more stored bytes, oldest finished first. */
static void idem_room(api_idem *d, size_t n)
{
	while (d->bytes + n > IDEM_BYTES) {
		struct idem_entry *old = NULL;
		for (size_t i = 0; i < IDEM_MAX; i++) {
			struct idem_entry *x = &d->e[i];
			if (x->used && x->done && x->len && (!old || x->created < old->created))
				old = x;
		}
		if (!old)
			return;
		idem_drop(d, old);
	}
}

/* ---- one operation ---- */

static const struct batch_op {
	const char *name;
	uint32_t opcode;
	bool values;
} batch_ops[] = {
    {"create", PROTO_OP_CREATE_HANDLE, true},  {"add", PROTO_OP_ADD_VALUE, true},
    {"modify", PROTO_OP_MODIFY_VALUE, true},   {"remove", PROTO_OP_REMOVE_VALUE, false},
    {"delete", PROTO_OP_DELETE_HANDLE, false},
};

static void item_error(http_resp *r, idn_slice h, uint32_t rc, int status, const char *msg)
{
	http_resp_puts(r, "{\"handle\":");
	api_json_str(r, h);
	http_resp_printf(r, ",\"responseCode\":%u,\"status\":%d,\"message\":", rc, status);
	api_json_str(r, idn_slice_of(msg, strlen(msg)));
	http_resp_puts(r, "}");
}

/* Runs item i and appends its result; 1 success, 0 failure, < 0 fatal. */
static int run_item(api_worker *w, const ident *id, json_t *it, size_t i, uint8_t *vals,
                    http_resp *r)
{
	char msg[200];
	json_t *jop = json_object_get(it, "op"), *jh = json_object_get(it, "handle");
	idn_slice h = json_is_string(jh)
	                  ? idn_slice_of(json_string_value(jh), json_string_length(jh))
	                  : idn_slice_of("", 0);
	const struct batch_op *op = NULL;
	for (size_t k = 0; json_is_string(jop) && k < sizeof(batch_ops) / sizeof(batch_ops[0]); k++)
		if (!strcmp(json_string_value(jop), batch_ops[k].name))
			op = &batch_ops[k];
	if (!json_is_object(it) || !op || !h.len || h.len > PROTO_HANDLE_MAX) {
		snprintf(msg, sizeof(msg),
		         "operations[%zu]: needs \"op\" (create, add, modify, remove, delete) and "
		         "a \"handle\"",
		         i);
		item_error(r, h, PROTO_RC_PROTOCOL_ERROR, 400, msg);
		return 0;
	}
	proto_build b;
	json_t *jo = json_object_get(it, "overwrite");
	api_admin_begin(w, &b, op->opcode,
	                op->opcode == PROTO_OP_CREATE_HANDLE && json_is_true(jo) ? PROTO_F_OVRW
	                                                                         : 0);
	if (op->values) {
		json_t *jv = json_object_get(it, "values");
		if (!json_is_array(jv) || !json_array_size(jv)) {
			snprintf(msg, sizeof(msg),
			         "operations[%zu]: \"values\" must be a non-empty array", i);
			item_error(r, h, PROTO_RC_PROTOCOL_ERROR, 400, msg);
			return 0;
		}
		wire_wr vw = wire_wr_init(vals, ANS_CAP);
		for (size_t k = 0; k < json_array_size(jv); k++) {
			char err[128];
			uint32_t vi;
			const char *why =
			    api_value_from_json(json_array_get(jv, k), &vw, &vi, err, sizeof(err));
			if (why) {
				snprintf(msg, sizeof(msg), "operations[%zu].values[%zu]: %s", i, k,
				         why);
				item_error(r, h, PROTO_RC_INVALID_VALUE, 400, msg);
				return 0;
			}
		}
		proto_values_req_encode_raw(&b.w, h, (uint32_t)json_array_size(jv),
		                            idn_slice_of(vals, wire_wr_len(&vw)));
		if (vw.err)
			b.w.err = vw.err;
	} else if (op->opcode == PROTO_OP_REMOVE_VALUE) {
		json_t *ji = json_object_get(it, "index");
		uint32_t idx[MAX_FILTER];
		size_t n = json_array_size(ji);
		bool ok = json_is_array(ji) && n > 0 && n <= MAX_FILTER;
		for (size_t k = 0; ok && k < n; k++) {
			json_t *x = json_array_get(ji, k);
			ok = json_is_integer(x) && json_integer_value(x) >= 0 &&
			     json_integer_value(x) <= 0x7FFFFFFF;
			if (ok)
				idx[k] = (uint32_t)json_integer_value(x);
		}
		if (!ok) {
			snprintf(msg, sizeof(msg),
			         "operations[%zu]: remove needs \"index\": [1..64 indexes]", i);
			item_error(r, h, PROTO_RC_PROTOCOL_ERROR, 400, msg);
			return 0;
		}
		proto_remove_req_encode(&b.w, h, idx, (uint32_t)n);
	} else {
		proto_handle_req_encode(&b.w, h);
	}
	if (b.w.err) {
		snprintf(msg, sizeof(msg), "operations[%zu]: too large for one message", i);
		item_error(r, h, PROTO_RC_PROTOCOL_ERROR, 413, msg);
		return 0;
	}
	proto_msg m;
	int ret = api_admin_run(w, &b, id, &m);
	if (ret)
		return ret;
	uint32_t rc = m.hdr.rcode;
	if (rc != PROTO_RC_SUCCESS) {
		idn_slice em = {0};
		proto_error_decode(m.body, &em);
		const char *name = proto_rc_name(rc);
		http_resp_puts(r, "{\"handle\":");
		api_json_str(r, h);
		http_resp_printf(r, ",\"responseCode\":%u,\"status\":%d,\"message\":", rc,
		                 api_http_status(rc));
		api_json_str(r, em.len ? em : idn_slice_of(name, strlen(name)));
		http_resp_puts(r, "}");
		return 0;
	}
	http_resp_puts(r, "{\"handle\":");
	api_json_str(r, h);
	http_resp_printf(r, ",\"responseCode\":1,\"status\":%d}",
	                 op->opcode == PROTO_OP_CREATE_HANDLE ? 201 : 200);
	return 1;
}

/* Runs every operation of doc into r (after a header written by the caller). */
static int run_batch(api_worker *w, const ident *id, json_t *ops, http_resp *r)
{
	uint8_t *vals = malloc(ANS_CAP);
	if (!vals)
		return IDN_ENOMEM;
	size_t n = json_array_size(ops), ok = 0;
	int ret = 0;
	/*
	 * The items share one commit (node_worker_group): each still stands or
	 * falls alone, and the answer, built before the commit, is only given
	 * once it is durable.
	 */
	node_worker_group(w->nw, true);
	http_resp_puts(r, "{\"responseCode\":1,\"results\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			http_resp_puts(r, ",");
		ret = run_item(w, id, json_array_get(ops, i), i, vals, r);
		if (ret < 0)
			goto out;
		ok += (size_t)ret;
		ret = 0;
	}
	http_resp_printf(r, "],\"succeeded\":%zu,\"failed\":%zu}", ok, n - ok);
	r->status = ok == n ? 200 : 207;
out:
	node_worker_group(w->nw, false);
	if (ret < 0) {
		node_worker_rollback(w->nw); /* the answer will be a 500: nothing happened */
	} else {
		int err = node_worker_commit(w->nw);
		if (idn_err_full(err))
			http_resp_error(r, 507, PROTO_RC_ERROR,
			                NODE_MSG_STORAGE_FULL
			                ": no operation of the batch was saved (disk or map full)");
		else if (err < 0)
			http_resp_error(r, 500, PROTO_RC_ERROR,
			                "storage error: no operation of the batch was saved");
	}
	free(vals);
	return ret;
}

/* POST /api/batch (see the top of this file). */
int api_post_batch(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	ident id;
	if (api_need_auth(w, req, r, &id) <= 0)
		return 0;
	idn_slice ik = {0};
	bool has_key = http_req_header(req, "idempotency-key", &ik);
	if (has_key && (!ik.len || ik.len > IDEM_KEY_MAX)) {
		http_resp_error(r, 400, PROTO_RC_PROTOCOL_ERROR,
		                "Idempotency-Key: 1 to 200 characters");
		return 0;
	}
	json_t *doc = api_json_body(req, r);
	if (!doc)
		return 0;
	int ret = 0;
	json_t *ops = json_is_object(doc) ? json_object_get(doc, "operations") : NULL;
	if (!json_is_array(ops) || json_array_size(ops) > BATCH_MAX) {
		http_resp_error(
		    r, json_array_size(ops) > BATCH_MAX ? 413 : 400, PROTO_RC_PROTOCOL_ERROR,
		    "expected {\"operations\":[{\"op\":..,\"handle\":..}, ...]} with at "
		    "most 10000 operations");
		goto out;
	}
	if (!has_key) {
		ret = run_batch(w, &id, ops, r);
		goto out;
	}

	/* The key is the caller's: another identity's retry is not this one. */
	char key[sizeof(((struct idem_entry *)0)->key)];
	snprintf(key, sizeof(key), "%u:%.*s\n%.*s", id.index, (int)id.hlen, (const char *)id.handle,
	         (int)ik.len, (const char *)ik.p);
	uint8_t hash[SHA256_DIGEST_LENGTH];
	SHA256(req->body.p, req->body.len, hash);
	api_idem *d = w->a->idem;
	time_t now = time(NULL);
	pthread_mutex_lock(&d->lock);
	struct idem_entry *x = idem_find(d, key, now);
	if (x) {
		if (memcmp(x->body_hash, hash, sizeof(hash)))
			http_resp_error(r, 422, PROTO_RC_PROTOCOL_ERROR,
			                "Idempotency-Key already used with another request body");
		else if (!x->done)
			http_resp_error(r, 409, PROTO_RC_SERVER_BUSY,
			                "a batch with this Idempotency-Key is still running");
		else {
			r->status = x->status;
			http_resp_append(r, x->answer, x->len);
			r->extra_headers = "Idempotent-Replayed: true\r\n";
		}
		pthread_mutex_unlock(&d->lock);
		goto out;
	}
	x = idem_slot(d);
	if (!x) {
		pthread_mutex_unlock(&d->lock);
		http_resp_error(r, 503, PROTO_RC_SERVER_BUSY,
		                "too many batches in progress, try again later");
		goto out;
	}
	*x = (struct idem_entry){.used = true, .created = now};
	memcpy(x->key, key, sizeof(key));
	memcpy(x->body_hash, hash, sizeof(hash));
	pthread_mutex_unlock(&d->lock);

	ret = run_batch(w, &id, ops, r);

	pthread_mutex_lock(&d->lock);
	/* The slot is still ours: only finished entries are ever evicted. */
	if (ret || r->oom) {
		memset(x, 0, sizeof(*x));
	} else {
		idem_room(d, r->len);
		x->answer = malloc(r->len ? r->len : 1);
		if (x->answer) {
			memcpy(x->answer, r->body, r->len);
			x->len = r->len;
			d->bytes += r->len;
			x->status = r->status;
			x->done = true;
			x->created = time(NULL);
		} else {
			memset(x, 0, sizeof(*x));
		}
	}
	pthread_mutex_unlock(&d->lock);
out:
	json_decref(doc);
	return ret;
}
