/*
 * identity.c - identities whose key lives on another node, checked through
 * node_config.identity_lookup (the wait for its verdict, or the answer built
 * later on its thread), and our side of op 201. See identity.h.
 */
#include "node/identity.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verify.h"
#include "node/answer.h"
#include "node/login.h"
#include "proto/handle.h"
#include "proto/record.h"

struct node_identity {
	pthread_mutex_t mu;
	pthread_cond_t idle; /* building went to 0 */
	unsigned building;   /* deferred answers not yet handed over: node_free waits */
};

int node_identity_new(const node_config *cfg, node_identity **out)
{
	node_identity *id = calloc(1, sizeof(*id));
	if (!id)
		return IDN_ENOMEM;
	pthread_mutex_init(&id->mu, NULL);
	pthread_cond_init(&id->idle, NULL);
	*out = id;
	return IDN_OK;
}

void node_identity_free(node_identity *id)
{
	if (!id)
		return;
	pthread_mutex_lock(&id->mu);
	while (id->building)
		pthread_cond_wait(&id->idle, &id->mu);
	pthread_mutex_unlock(&id->mu);
	pthread_cond_destroy(&id->idle);
	pthread_mutex_destroy(&id->mu);
	free(id);
}

static void no_lookup_reason(const proto_chresp *cr, char *why, size_t whylen)
{
	bool pub = idn_slice_eq(cr->auth_type, IDN_SLICE("HS_PUBKEY"));
	snprintf(why, whylen,
	         "no %s value at %u:%.*s on this node, and no root configured (serve "
	         "--root) to find the node that holds it",
	         pub ? "HS_PUBKEY" : "HS_SECKEY", cr->index, (int)cr->handle.len,
	         (const char *)cr->handle.p);
}

static void start_failed_reason(const proto_chresp *cr, int err, char *why, size_t whylen)
{
	snprintf(why, whylen, "identity %u:%.*s: could not be checked: %s", cr->index,
	         (int)cr->handle.len, (const char *)cr->handle.p, idn_strerror(err));
}

/* ---- waiting for the verdict ---- */

struct verdict_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int verdict;
	char *why;
	size_t whylen;
};

static void verdict_arrived(void *arg, int verdict, const char *why)
{
	struct verdict_wait *vw = arg;
	pthread_mutex_lock(&vw->mu);
	vw->verdict = verdict;
	snprintf(vw->why, vw->whylen, "%s", why ? why : "");
	vw->done = true;
	pthread_cond_signal(&vw->cv);
	pthread_mutex_unlock(&vw->mu); /* the waiter may free vw from here on */
}

int node_identity_verify_remote(node *n, const proto_chresp *cr, idn_slice nonce, idn_slice digest,
                                char *why, size_t whylen)
{
	if (!n->cfg.identity_lookup) {
		no_lookup_reason(cr, why, whylen);
		return IDN_ENOTFOUND;
	}
	struct verdict_wait vw = {.why = why, .whylen = whylen};
	pthread_mutex_init(&vw.mu, NULL);
	pthread_cond_init(&vw.cv, NULL);
	int ret = n->cfg.identity_lookup(n->cfg.identity_lookup_arg, cr, nonce, digest,
	                                 verdict_arrived, &vw);
	if (ret) {
		start_failed_reason(cr, ret, why, whylen);
	} else {
		pthread_mutex_lock(&vw.mu);
		while (!vw.done)
			pthread_cond_wait(&vw.cv, &vw.mu);
		pthread_mutex_unlock(&vw.mu);
		ret = vw.verdict;
	}
	pthread_cond_destroy(&vw.cv);
	pthread_mutex_destroy(&vw.mu);
	return ret;
}

/* ---- answering later ---- */

/* A held request waiting for its verdict, with everything its answer needs. */
struct later_check {
	node *n;
	req held;            /* .w, .out and .cap are set when the answer is built */
	uint8_t *held_bytes; /* what held's slices point into, owned */
	node_identity_finish_fn finish;
	uint32_t index; /* the identity: index, handle (after ctx) */
	size_t ctxlen, hlen;
	void (*answer)(void *token, const uint8_t *ans, size_t len);
	void *token;
	max_align_t ctx[]; /* finish's context, copied; then the identity's handle */
};

/* Builds the answer to lc's held request on w, into out. */
static int later_build(struct later_check *lc, node_worker *w, uint8_t *out, size_t cap,
                       int verdict, const char *why)
{
	lc->held.w = w;
	lc->held.out = out;
	lc->held.cap = cap;
	idn_slice handle = idn_slice_of((uint8_t *)lc->ctx + lc->ctxlen, lc->hlen);
	int len = lc->finish(&lc->held, lc->ctx, handle, lc->index, verdict, why);
	/* It came SM4-encrypted (node/login.h): so goes its answer. */
	if (len > 0 && lc->held.sm4)
		len = node_login_encrypt(&lc->held, out, (size_t)len, cap);
	return len;
}

/* Hands the answer (len <= 0: none, the request is dropped) over and frees lc. */
static void later_hand_over(struct later_check *lc, const uint8_t *ans, int len)
{
	node_identity *id = lc->n->identity;
	void (*answer)(void *, const uint8_t *, size_t) = lc->answer;
	void *token = lc->token;
	free(lc->held_bytes);
	OPENSSL_cleanse(lc->held.sm4_key, sizeof(lc->held.sm4_key));
	free(lc);
	answer(token, ans, len > 0 ? (size_t)len : 0);
	pthread_mutex_lock(&id->mu);
	if (--id->building == 0)
		pthread_cond_broadcast(&id->idle);
	pthread_mutex_unlock(&id->mu); /* node_free may go on from here */
}

/* node_identity_done_fn: on the lookup's thread, with a worker of its own. */
static void later_verdict(void *arg, int verdict, const char *why)
{
	struct later_check *lc = arg;
	size_t cap = PROTO_ENV_LEN + PROTO_MSG_MAX;
	uint8_t *out = malloc(cap);
	node_worker *w;
	int len = IDN_ENOMEM;
	if (out && (len = node_worker_new(lc->n, &w)) == IDN_OK) {
		node_worker_begin(w); /* a read snapshot, as node_answer takes one */
		len = later_build(lc, w, out, cap, verdict, why);
		node_worker_end(w);
		node_worker_free(w);
	}
	later_hand_over(lc, out, len);
	free(out);
}

int node_identity_check(req *rq, req *held, uint8_t **held_bytes, const proto_chresp *cr,
                        idn_slice nonce, idn_slice digest, node_identity_finish_fn finish,
                        const void *ctx, size_t ctxlen)
{
	node *n = rq->w->node;
	const node_later *later = rq->w->later;
	char why[PROTO_HANDLE_MAX + 256];
	if (n->cfg.identity_lookup && later) {
		struct later_check *lc = malloc(sizeof(*lc) + ctxlen + cr->handle.len);
		void *token = lc ? later->defer(later->arg) : NULL;
		if (token) {
			*lc = (struct later_check){.n = n,
			                           .held = *held,
			                           .held_bytes = *held_bytes,
			                           .finish = finish,
			                           .index = cr->index,
			                           .ctxlen = ctxlen,
			                           .hlen = cr->handle.len,
			                           .answer = later->answer,
			                           .token = token};
			if (ctxlen)
				memcpy(lc->ctx, ctx, ctxlen);
			if (cr->handle.len)
				memcpy((uint8_t *)lc->ctx + ctxlen, cr->handle.p, cr->handle.len);
			*held_bytes = NULL;
			rq->w->deferred = true; /* node_session_request's 0 is not "go on" here */
			pthread_mutex_lock(&n->identity->mu);
			n->identity->building++;
			pthread_mutex_unlock(&n->identity->mu);
			int ret = n->cfg.identity_lookup(n->cfg.identity_lookup_arg, cr, nonce,
			                                 digest, later_verdict, lc);
			if (ret) { /* refused at once: answered (later) from here */
				start_failed_reason(cr, ret, why, sizeof(why));
				later_hand_over(lc, rq->out,
				                later_build(lc, rq->w, rq->out, rq->cap, ret, why));
			}
			return 0;
		}
		free(lc);
	}
	int verdict = node_identity_verify_remote(n, cr, nonce, digest, why, sizeof(why));
	return finish(held, ctx, cr->handle, cr->index, verdict, why);
}

/* Here rather than in node.c: answering later exists for identities held elsewhere. */
int node_answer_deferrable(node_worker *w, enum node_transport t, const uint8_t *in, size_t len,
                           uint8_t *out, size_t cap, const node_later *later)
{
	w->later = later;
	int ret = node_answer(w, t, in, len, out, cap);
	w->later = NULL;
	w->deferred = false;
	return ret;
}

/* ---- op 201 served ---- */

int node_identity_serve_verify(req *rq)
{
	proto_verify_req vr;
	if (proto_verify_req_decode(rq->msg.body, &vr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed verify request");
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(vr.handle, rq->w->node->cfg.case_sensitive, key);
	idn_slice raw;
	record r;
	if (klen < 0)
		return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
	int g = store_get(node_rtxn(rq->w), idn_slice_of(key, (size_t)klen), &raw);
	if (g == IDN_ENOTFOUND)
		return node_answer_error(rq, PROTO_RC_HANDLE_NOT_FOUND, "");
	if (g || record_parse(raw, &r))
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		if (c.err)
			return node_answer_error(rq, PROTO_RC_ERROR,
			                         "storage error: damaged record");
		if (v.index != vr.index)
			continue;
		int ok;
		if (idn_slice_eq(v.type, IDN_SLICE("HS_SECKEY")))
			ok = auth_verify_seckey(v.data, vr.nonce, vr.digest, vr.signed_resp);
		else if (idn_slice_eq(v.type, IDN_SLICE("HS_PUBKEY")))
			ok = auth_verify_pubkey(v.data, vr.handle, vr.nonce, vr.digest,
			                        vr.signed_resp);
		else
			break;
		proto_build b;
		node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
		proto_verify_resp_encode(&b.w, ok == IDN_OK);
		return node_answer_end(rq, &b);
	}
	char msg[PROTO_HANDLE_MAX + 96];
	snprintf(msg, sizeof(msg), "no HS_SECKEY or HS_PUBKEY value at %u:%.*s", vr.index,
	         (int)vr.handle.len, (const char *)vr.handle.p);
	return node_answer_error(rq, PROTO_RC_VALUE_NOT_FOUND, msg);
}
