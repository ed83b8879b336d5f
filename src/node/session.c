/*
 * session.c - Handle protocol sessions, server side (session.h).
 *
 * The flow, as the reference (Handle.Net 9.x HandleServer / hdllib) runs it:
 *
 *  1. Setup, op 400 (any transport; the 9.x client sends it over UDP). The
 *     client names an identity (index:handle, may be empty), a timeout and a
 *     key exchange mode. Mode 4: its DH_PUB_KEY (y, p, g). We make a key
 *     pair in its group, derive the session key (auth/session_crypto.h),
 *     store the session under a fresh random id, and answer 1 with that id
 *     in the envelope and the body int2 4, bytes (int4 3 = AES, our
 *     DH_PUB_KEY). The answer is signed with the node's key when CT is set
 *     (the client always sets it), never MACed: the client cannot check a
 *     MAC before it has the key. Other modes: 501.
 *  2. The first admin request in the session (MACed by the client with
 *     counter 1, 2, ...) is not yet trusted: it is held in the session and
 *     answered 402 with a nonce, in the session (same session id).
 *  3. The client answers with op 200 in the same session. The signature is
 *     verified as for any challenge (node/admin.h); when the identity is the
 *     one the session named, the session becomes authenticated. The held
 *     request's MAC must verify (it was not checked in step 2); then the
 *     held request runs as the identity, answered with op 200's request id
 *     in the session.
 *  4. Later admin requests in an authenticated session carry an HS_MAC
 *     credential with a session counter. No MAC: 404. A MAC that does not
 *     verify: 502. A counter seen before (or older than the replay window):
 *     505. Otherwise they run as the session's identity with no challenge.
 *  5. Every answer in a live session carries an HS_MAC with the session key
 *     and our own counter; a request that came encrypted (envelope flag
 *     0x40: AES-128-CBC, IV first) or asked for ENC is answered encrypted.
 *  6. Op 401, MACed, ends the session. An unknown or expired session id gets
 *     500 "Invalid session id or session time out. Please try again.".
 *     Sessions expire after their idle timeout (the client's, capped by
 *     node_config.max_session_time).
 *
 * Where idnode differs from the reference:
 *  - Counters: the reference remembers the last 200 counters it saw; we keep
 *    the highest and a 256-counter window below it, and refuse counter 0 on
 *    an authenticated request (the reference skips its check for 0).
 *  - The table is bounded (node_config.max_sessions), and sessions not yet
 *    authenticated have their own smaller share of it and a per-source
 *    share (node_config.unauth_sessions*): a setup over either evicts the
 *    least recently used session not authenticated (its client gets 500 and
 *    sets up a new one, as the reference client does); an authenticated
 *    session is never evicted by a setup (docs/security.md, "Sessions").
 *    The requests held by challenges in sessions share a byte budget
 *    (node_config.pending_auth_bytes), the oldest dropped first.
 *  - In step 2 the reference checks a few things (homing, indexes) before
 *    it challenges; we challenge first and run every check after step 3.
 *  - Requests for resolution or site info with an unknown session id are
 *    answered as if they had none (the reference answers 500).
 *  - Only mode 4 (Diffie-Hellman), only AES (no DES / DESede), and only
 *    clients at 2.4 or later; HS_MAC from protocol 2.5.
 */
#include "node/session.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/session_crypto.h"
#include "node/admin.h"
#include "node/answer.h"
#include "node/resolve.h"
#include "node/session_table.h"
#include "proto/admin.h"
#include "proto/cred.h"

static const char MSG_BAD_SESSION[] = "Invalid session id or session time out. Please try again.";

/* Checks a request's HS_MAC; 0 ok, else the idn_err (IDN_ENOTFOUND: no credential). */
static int check_mac(const req *rq, const proto_env *env, const proto_msg *m, uint32_t *counter)
{
	if (!m->cred.len)
		return IDN_ENOTFOUND;
	proto_cred cr;
	if (proto_cred_decode(m->cred, &cr))
		return IDN_EINVAL;
	*counter = cr.signer_index;
	auth_msg_ctx c = auth_msg_ctx_of(env);
	return auth_mac_check(rq->sess.key, rq->sess.klen, &c, m->hb, &cr);
}

/* ---- encryption of requests and answers ---- */

int node_session_decrypt(req *rq, const uint8_t *in, size_t len, uint8_t **plain, size_t *plen)
{
	node *n = rq->w->node;
	node_sessions *s = n->sessions;
	if (proto_ver(PROTO_MAJOR, rq->minor) < proto_ver(2, 5))
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED,
		                         "sessions need protocol 2.5 or later");
	pthread_mutex_lock(&s->lock);
	struct node_sess *x = node_sessions_find(s, rq->env.session_id, n->cfg.clock());
	if (x) {
		rq->sess.id = x->id;
		rq->sess.klen = x->klen;
		memcpy(rq->sess.key, x->key, x->klen);
	}
	pthread_mutex_unlock(&s->lock);
	if (!x)
		return node_answer_error(rq, PROTO_RC_SESSION_TIMEOUT, MSG_BAD_SESSION);
	*plain = malloc(len);
	if (!*plain)
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
	size_t ml = 0;
	int ret = auth_session_decrypt(rq->sess.key, in + PROTO_ENV_LEN, len - PROTO_ENV_LEN,
	                               *plain + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &ml);
	if (ret) {
		free(*plain);
		*plain = NULL;
		/* Unreadable: answer in the clear, and without a MAC the client could not check. */
		memset(&rq->sess, 0, sizeof(rq->sess));
		return node_answer_error(rq, PROTO_RC_SESSION_NO_KEY,
		                         "cannot decrypt the request with the session key");
	}
	memcpy(*plain, in, PROTO_ENV_LEN);
	(*plain)[2] &= (uint8_t)~PROTO_ENV_ENCRYPTED;
	idn_put_be32(*plain + 16, (uint32_t)ml);
	rq->env.flags &= (uint8_t)~PROTO_ENV_ENCRYPTED;
	rq->env.msg_len = (uint32_t)ml;
	rq->sess.encrypt = true;
	*plen = PROTO_ENV_LEN + ml;
	return 0;
}

/* ---- op 400 ---- */

static int do_setup(req *rq)
{
	node *n = rq->w->node;
	node_sessions *s = n->sessions;
	proto_session_req r;
	char msg[160];
	if (proto_session_req_decode(rq->msg.body, &r))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR,
		                         "malformed session setup request");
	if (r.mode != PROTO_KX_DH) {
		snprintf(msg, sizeof(msg),
		         "key exchange mode %u is not supported here: use 4 (Diffie-Hellman)",
		         r.mode);
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED, msg);
	}
	/* Older clients expect a DES key and no algorithm code in the answer. */
	unsigned sugg =
	    (rq->env.flags & PROTO_ENV_SUGG_MAJOR_MASK)
	        ? proto_ver(rq->env.flags & PROTO_ENV_SUGG_MAJOR_MASK, rq->env.sugg_minor)
	        : proto_ver(rq->env.major, rq->env.minor);
	if (sugg < proto_ver(2, 4))
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED,
		                         "Diffie-Hellman sessions need protocol 2.4 or later");
	if (r.identity.len > PROTO_HANDLE_MAX)
		return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "identity handle too long");

	EVP_PKEY *peer = NULL, *mine = NULL;
	uint8_t key[AUTH_SESSION_KEY_LEN];
	size_t klen = 0;
	int v = auth_dh_pub_decode(r.pubkey, &peer);
	if (v) {
		snprintf(msg, sizeof(msg), "%s",
		         v == IDN_ERANGE ? "DH_PUB_KEY: p must be an odd prime of 1024 to 4096 bits"
		                         : "DH_PUB_KEY: malformed, or y or g out of range");
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED, msg);
	}
	uint8_t data[1200];
	wire_wr dw = wire_wr_init(data, sizeof(data));
	wire_put_u32(&dw, AUTH_CIPHER_AES);
	if (auth_dh_keygen(peer, &mine) || auth_dh_pub_encode(mine, &dw) ||
	    auth_dh_session_key(mine, peer, key, &klen) || klen < AUTH_AES_KEY_LEN) {
		EVP_PKEY_free(peer);
		EVP_PKEY_free(mine);
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED,
		                         "Error encoding public session key");
	}
	EVP_PKEY_free(peer);
	EVP_PKEY_free(mine);

	uint8_t *handle = NULL;
	if (r.identity.len && !(handle = malloc(r.identity.len))) {
		OPENSSL_cleanse(key, sizeof(key));
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
	}
	if (handle)
		memcpy(handle, r.identity.p, r.identity.len);
	uint8_t rb[2];
	if (node_random_bytes(n, rb, sizeof(rb))) {
		free(handle);
		OPENSSL_cleanse(key, sizeof(key));
		return node_answer_error(rq, PROTO_RC_ERROR, "no random bytes for a session id");
	}
	uint32_t now = n->cfg.clock();
	pthread_mutex_lock(&s->lock);
	struct node_sess *x = NULL;
	if (rq->env.session_id && !node_sessions_find(s, rq->env.session_id, now)) {
		/* Changing a session that is gone: the client must start over. */
		pthread_mutex_unlock(&s->lock);
		free(handle);
		OPENSSL_cleanse(key, sizeof(key));
		return node_answer_error(rq, PROTO_RC_SESSION_TIMEOUT, MSG_BAD_SESSION);
	}
	x = node_sessions_alloc(s, now, &rq->w->src);
	if (!x) {
		pthread_mutex_unlock(&s->lock);
		free(handle);
		OPENSSL_cleanse(key, sizeof(key));
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY,
		                         "too many sessions: try again later");
	}
	uint32_t slot = (uint32_t)(x - s->slots);
	/* Positive (Java keeps it in a signed int), non-zero, slot in the low bits. */
	uint32_t hi = (((uint32_t)rb[0] << 8 | rb[1]) & 0x7FFF) | 1;
	x->id = hi << 16 | slot;
	memcpy(x->key, key, klen);
	x->klen = (uint8_t)klen;
	x->handle = handle;
	x->hlen = r.identity.len;
	x->index = r.identity_index;
	x->last_used = now;
	x->timeout = r.timeout && r.timeout < s->max_time ? r.timeout : s->max_time;
	x->src = rq->w->src;
	uint32_t id = x->id;
	pthread_mutex_unlock(&s->lock);
	OPENSSL_cleanse(key, sizeof(key));

	/* Signed with the node's key (CT), not MACed: the client has no key yet. */
	rq->env.session_id = id;
	memset(&rq->sess, 0, sizeof(rq->sess));
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	proto_session_resp sr = {.mode = PROTO_KX_DH, .data = idn_slice_of(data, wire_wr_len(&dw))};
	proto_session_resp_encode(&b.w, &sr);
	return node_answer_end(rq, &b);
}

/* ---- op 401 ---- */

static int do_terminate(req *rq)
{
	node *n = rq->w->node;
	node_sessions *s = n->sessions;
	uint32_t ctr = 0;
	int v = check_mac(rq, &rq->env, &rq->msg, &ctr);
	if (v)
		return node_answer_error(rq, PROTO_RC_SESSION_NO_KEY, "Invalid session key.");
	pthread_mutex_lock(&s->lock);
	struct node_sess *x = node_sessions_find(s, rq->sess.id, n->cfg.clock());
	if (x)
		node_sess_clear(s, x);
	pthread_mutex_unlock(&s->lock);
	/* The answer is still MACed with the key (counter 0: the session is gone). */
	if (!x)
		return node_answer_error(rq, PROTO_RC_SESSION_TIMEOUT, MSG_BAD_SESSION);
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	return node_answer_end(rq, &b);
}

/* ---- admin requests in a session ---- */

/* Runs rq as index:handle (the admin module's usual checks and rights, no challenge). */
static int run_as(req *rq, idn_slice handle, uint32_t index)
{
	node_worker *w = rq->w;
	idn_slice prev = w->as_handle;
	uint32_t prev_index = w->as_index;
	node_worker_act_as(w, handle, index);
	int ret = node_admin_request(rq);
	node_worker_act_as(w, prev, prev_index);
	return ret;
}

/* Step 2: hold the request in the session and challenge it. */
static int challenge(req *rq)
{
	node *n = rq->w->node;
	node_sessions *s = n->sessions;
	uint32_t now = n->cfg.clock();
	struct node_held h = {
	    .live = true, .op = rq->op, .minor = rq->minor, .expires = now + s->max_auth_time};
	h.hash = (uint8_t)proto_digest_alg(PROTO_MAJOR, rq->minor);
	if (proto_digest(h.hash, rq->msg.hb.p, rq->msg.hb.len, h.digest) ||
	    node_random_bytes(n, h.nonce, SESSION_NONCE_LEN))
		return node_answer_error(rq, PROTO_RC_ERROR, "cannot make a challenge");
	h.len = PROTO_ENV_LEN + rq->env.msg_len;
	if (!(h.req = malloc(h.len)))
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
	/* The envelope as received (decrypted: flags and length already fixed by the caller). */
	proto_env_encode(&rq->env, h.req);
	memcpy(h.req + PROTO_ENV_LEN, rq->msg.hb.p, h.len - PROTO_ENV_LEN);
	pthread_mutex_lock(&s->lock);
	struct node_sess *x = node_sessions_find(s, rq->sess.id, now);
	bool room = false;
	if (x) {
		/* A new challenge in the session replaces an unanswered one, as the reference. */
		node_sess_drop_held(s, x);
		room = node_sessions_hold_room(s, x, h.len);
		if (room) {
			x->held = h;
			s->held_bytes += h.len;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!x || !room) {
		free(h.req);
		return x ? node_answer_error(
		               rq, PROTO_RC_SERVER_BUSY,
		               "too many authentications in progress, try again later")
		         : node_answer_error(rq, PROTO_RC_SESSION_TIMEOUT, MSG_BAD_SESSION);
	}
	rq->msg.hdr.flags |= PROTO_F_RD; /* a 402 always carries the request digest */
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_AUTHENTICATION_NEEDED);
	wire_put_lbytes(&b.w, h.nonce, SESSION_NONCE_LEN);
	return node_answer_end(rq, &b);
}

/* What step 3 needs once the challenge response is verified (node_identity_finish_fn's ctx). */
struct verified_ctx {
	proto_env henv;  /* the held request's envelope as received: what its MAC covers */
	node_source src; /* who sent op 200 (its verdict counts as a login) */
	bool has_id;     /* the session was set up for an identity: */
	uint32_t shlen, sindex;
	uint8_t sh[PROTO_HANDLE_MAX];
};

/* Step 3, once verified: the held request runs as index:handle, in the session. */
static int run_verified(req *held, const void *ctx, idn_slice handle, uint32_t index, int verdict,
                        const char *why)
{
	const struct verified_ctx *x = ctx;
	node_sessions *s = held->w->node->sessions;
	node_admin_login_verdict(held->w->node, &x->src, handle, index, verdict);
	if (verdict)
		return node_answer_error(held, PROTO_RC_AUTHENTICATION_FAILED,
		                         verdict == IDN_EMISMATCH ? "" : why);
	uint32_t hctr = 0;
	if (check_mac(held, &x->henv, &held->msg, &hctr))
		return node_answer_error(held, PROTO_RC_SESSION_NO_KEY,
		                         "The session key authentication failed.");
	bool same = x->has_id && x->shlen == handle.len && !memcmp(x->sh, handle.p, x->shlen) &&
	            x->sindex == index;
	pthread_mutex_lock(&s->lock);
	struct node_sess *sx = node_sessions_find(s, held->sess.id, held->w->node->cfg.clock());
	if (sx) {
		/* Only the identity the session was set up for makes it authenticated. */
		if (same)
			sx->authenticated = true;
		node_sess_counter_accept(sx, hctr, false);
	}
	pthread_mutex_unlock(&s->lock);
	return run_as(held, handle, index);
}

/* Step 3: op 200 in the session answering the challenge of step 2. */
static int answer_challenge(req *rq, struct node_held *h, const uint8_t *sh, uint32_t shlen,
                            uint32_t sindex)
{
	node *n = rq->w->node;
	int ret;
	proto_chresp cr;
	if (proto_chresp_decode(rq->msg.body, &cr)) {
		ret =
		    node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed challenge response");
		goto out;
	}
	if ((int32_t)(n->cfg.clock() - h->expires) > 0) {
		ret = node_answer_error(rq, PROTO_RC_AUTHEN_TIMEOUT, "");
		goto out;
	}
	/* From here on the answer is the held request's, in the session, with op 200's id. */
	req held = {.op = h->op,
	            .w = rq->w,
	            .transport = rq->transport,
	            .out = rq->out,
	            .cap = rq->cap,
	            .minor = h->minor,
	            .sess = rq->sess,
	            .sm4 = rq->sm4}; /* an SM4 request's answer (node/login.h), also a later one */
	memcpy(held.sm4_key, rq->sm4_key, sizeof(held.sm4_key));
	if (proto_env_decode(h->req, h->len, &held.env) ||
	    proto_msg_decode(h->req + PROTO_ENV_LEN, h->len - PROTO_ENV_LEN, &held.msg)) {
		ret = node_answer_error(rq, PROTO_RC_ERROR, "held request lost");
		goto out;
	}
	struct verified_ctx x = {.henv = held.env,
	                         .src = rq->w->src,
	                         .has_id = sh != NULL,
	                         .shlen = shlen,
	                         .sindex = sindex};
	if (sh)
		memcpy(x.sh, sh, shlen);
	held.env.request_id = rq->env.request_id;
	ret = node_admin_check_chresp(
	    rq, &held, &h->req, &cr, idn_slice_of(h->nonce, SESSION_NONCE_LEN),
	    idn_slice_of(h->digest, proto_digest_len(h->hash)), run_verified, &x, sizeof(x));
out:
	free(h->req); /* NULL when the answer is built later (node/identity.h) */
	return ret;
}

/* Step 4: an admin request in an authenticated session. */
static int authenticated_request(req *rq, const uint8_t *sh, uint32_t shlen, uint32_t sindex)
{
	node *n = rq->w->node;
	node_sessions *s = n->sessions;
	uint32_t ctr = 0;
	int v = check_mac(rq, &rq->env, &rq->msg, &ctr);
	if (v == IDN_ENOTFOUND)
		return node_answer_error(rq, PROTO_RC_INVALID_CREDENTIAL,
		                         "Session request missing MAC code.");
	if (v)
		return node_answer_error(rq, PROTO_RC_SESSION_NO_KEY,
		                         "Session authentication failed.");
	pthread_mutex_lock(&s->lock);
	struct node_sess *x = node_sessions_find(s, rq->sess.id, n->cfg.clock());
	bool ok = x && node_sess_counter_accept(x, ctr, true);
	pthread_mutex_unlock(&s->lock);
	if (!x)
		return node_answer_error(rq, PROTO_RC_SESSION_TIMEOUT, MSG_BAD_SESSION);
	if (!ok) {
		char msg[96];
		snprintf(msg, sizeof(msg), "Duplicate session counter %u in session %u", ctr,
		         rq->sess.id);
		return node_answer_error(rq, PROTO_RC_SESSION_COUNTER, msg);
	}
	return run_as(rq, idn_slice_of(sh, shlen), sindex);
}

int node_session_request(req *rq)
{
	node *n = rq->w->node;
	node_sessions *s = n->sessions;
	uint32_t op = rq->msg.hdr.opcode;
	if (op == PROTO_OP_SESSION_SETUP)
		return do_setup(rq);
	uint32_t sid = rq->env.session_id;
	if (!sid)
		return op == PROTO_OP_SESSION_TERMINATE
		           ? node_answer_error(rq, PROTO_RC_SESSION_TIMEOUT, MSG_BAD_SESSION)
		           : 0;
	if (proto_ver(PROTO_MAJOR, rq->minor) < proto_ver(2, 5)) {
		/* No HS_MAC below 2.5: such a message cannot be in a session. */
		if (rq->op->flags & NODE_OP_OUTSIDE_SESSION)
			return 0;
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED,
		                         "sessions need protocol 2.5 or later");
	}

	/* A copy of what this request needs: the session may go meanwhile. */
	uint8_t handle[PROTO_HANDLE_MAX];
	uint32_t hlen = 0, index = 0;
	bool has_id = false, authed = false, pending = false;
	struct node_held h = {0};
	pthread_mutex_lock(&s->lock);
	struct node_sess *x = node_sessions_find(s, sid, n->cfg.clock());
	if (x) {
		rq->sess.id = x->id;
		rq->sess.klen = x->klen;
		memcpy(rq->sess.key, x->key, x->klen);
		x->last_used = n->cfg.clock();
		has_id = x->handle != NULL;
		if (has_id) {
			hlen = x->hlen;
			memcpy(handle, x->handle, hlen);
			index = x->index;
		}
		authed = x->authenticated;
		if (op == PROTO_OP_CHALLENGE_RESPONSE && x->held.live) {
			pending = true;
			h = x->held; /* taken: an op 200 answers a challenge once */
			s->held_bytes -= h.len;
			memset(&x->held, 0, sizeof(x->held));
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!x) {
		/* Challenges outside sessions use these ids too (node/admin.h). */
		if (rq->op->flags & NODE_OP_OUTSIDE_SESSION)
			return 0;
		return node_answer_error(rq, PROTO_RC_SESSION_TIMEOUT, MSG_BAD_SESSION);
	}
	if (rq->msg.hdr.flags & PROTO_F_ENC)
		rq->sess.encrypt = true;
	if (op == PROTO_OP_SESSION_TERMINATE)
		return do_terminate(rq);
	if (pending)
		return answer_challenge(rq, &h, has_id ? handle : NULL, hlen, index);
	/* A resolution asking for every value runs as the session's identity (node/resolve.h). */
	if (rq->transport == NODE_UDP ||
	    !((rq->op->flags & NODE_OP_AUTH) || node_resolution_wants_auth(rq)))
		return 0; /* answered as usual, with a MAC */
	if (authed)
		return authenticated_request(rq, handle, hlen, index);
	return challenge(rq);
}
