/*
 * answer.c - the answer builders (answer.h): envelope, header, signature or
 * session MAC, error answers.
 */
#include "node/answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/session_crypto.h"
#include "core/limit.h"
#include "node/session_table.h"

/* Messages the reference sends, kept byte for byte. */
static const char MSG_SERVER_ERROR[] = "Server error processing request, see server logs";

/*
 * Ends an answer built in a session: HS_MAC credential with the session key
 * and the session's next counter, then encryption when rq->sess asks for it.
 */
static int answer_end_in_session(req *rq, proto_build *b)
{
	node *n = rq->w->node;
	idn_slice hb = proto_build_body_end(b);
	if (b->w.err)
		return b->w.err;
	proto_env env;
	proto_env_decode(b->env, PROTO_ENV_LEN, &env);
	/* No HS_MAC below 2.5 (callers refuse it first). */
	if (proto_ver(env.major, env.minor) < proto_ver(2, 5))
		return proto_build_end(b, NULL, 0);
	auth_msg_ctx c = auth_msg_ctx_of(&env);
	/* 0 once the session is gone (terminated) */
	c.counter = node_sessions_next_counter(n->sessions, rq->sess.id, n->cfg.clock());
	uint8_t cred[256];
	wire_wr cw = wire_wr_init(cred, sizeof(cred));
	int ret = auth_mac_cred(rq->sess.key, rq->sess.klen, &c, hb, &cw);
	if (ret)
		return ret;
	int total = proto_build_end(b, cred, (uint32_t)wire_wr_len(&cw));
	if (total < 0 || !rq->sess.encrypt)
		return total;

	/* Encrypt the message after the envelope in place (it grows by at most 32 bytes). */
	uint8_t *msg = b->env + PROTO_ENV_LEN;
	size_t mlen = idn_be32(b->env + 16), clen = 0;
	uint8_t *tmp = malloc(mlen ? mlen : 1);
	if (!tmp)
		return IDN_ENOMEM;
	memcpy(tmp, msg, mlen);
	ret = auth_session_encrypt(rq->sess.key, tmp, mlen, msg, (size_t)(b->w.end - msg), &clen);
	free(tmp);
	if (ret)
		return ret;
	b->env[2] |= PROTO_ENV_ENCRYPTED;
	idn_put_be32(b->env + 16, (uint32_t)clen);
	return total + (int)(clen - mlen);
}

/*
 * Starts an answer: envelope in our answer version (advertising our own), the
 * header with AT, and the request digest when asked for.
 */
void node_answer_begin(req *rq, proto_build *b, uint32_t rc)
{
	const node_config *cfg = &rq->w->node->cfg;
	proto_env env = {
	    .major = PROTO_MAJOR,
	    .minor = rq->minor,
	    .flags = PROTO_MAJOR & PROTO_ENV_SUGG_MAJOR_MASK,
	    .sugg_minor = cfg->max_minor,
	    .session_id = rq->env.session_id,
	    .request_id = rq->env.request_id,
	};
	/*
	 * The reference sets AT and REC on every answer and echoes CT, CA, PO
	 * and RD; it does not echo DNRF, KA or the admin flags.
	 */
	const uint32_t echo = PROTO_F_CT | PROTO_F_CA | PROTO_F_PO | PROTO_F_RD;
	proto_hdr hdr = {
	    .opcode = rq->msg.hdr.opcode,
	    .rcode = rc,
	    .flags = PROTO_F_AT | PROTO_F_REC | (rq->msg.hdr.flags & echo),
	    .site_serial = cfg->site_serial,
	    .recursion = rq->msg.hdr.recursion,
	    .expiration = cfg->clock() + cfg->answer_ttl,
	};
	proto_build_begin(b, rq->out, rq->cap, &env, &hdr);
	rq->w->rcode = rc;
	if (rq->msg.hdr.flags & PROTO_F_RD)
		proto_put_digest(&b->w, proto_digest_alg(PROTO_MAJOR, rq->minor), rq->msg.hb);
}

int node_answer_end(req *rq, proto_build *b)
{
	const node_config *cfg = &rq->w->node->cfg;
	if (b->w.err)
		return b->w.err;
	if (rq->sess.id)
		return answer_end_in_session(rq, b); /* HS_MAC with the session key */
	if (!(rq->msg.hdr.flags & PROTO_F_CT) || !cfg->sign)
		return proto_build_end(b, NULL, 0);

	/*
	 * Sign header + body; the credential goes after the body. From 2.6 the
	 * reference also signs envelope fields first (auth/session_crypto.h):
	 * 9.x clients check that, the session setup answer above all.
	 */
	uint8_t cred[2048];
	idn_slice hb = proto_build_body_end(b);
	uint8_t *tbs = NULL;
	proto_env aenv;
	proto_env_decode(b->env, PROTO_ENV_LEN, &aenv);
	auth_msg_ctx mc = {.major = aenv.major,
	                   .minor = aenv.minor,
	                   .sugg_major = aenv.flags & PROTO_ENV_SUGG_MAJOR_MASK,
	                   .sugg_minor = aenv.sugg_minor,
	                   .session_id = aenv.session_id,
	                   .request_id = aenv.request_id};
	uint8_t pre[16];
	size_t plen = hb.len ? auth_sig_prefix(&mc, pre) : 0;
	if (plen) {
		if (!(tbs = malloc(plen + hb.len)))
			return IDN_ENOMEM;
		memcpy(tbs, pre, plen);
		memcpy(tbs + plen, hb.p, hb.len);
		hb = idn_slice_of(tbs, plen + hb.len);
	}
	int n = cfg->sign(cfg->sign_arg, PROTO_MAJOR, rq->minor, hb, cred, sizeof(cred));
	free(tbs);
	if (n < 0)
		return n;
	return proto_build_end(b, cred, (uint32_t)n);
}

int node_answer_error(req *rq, uint32_t rc, const char *message)
{
	proto_build b;
	node_answer_begin(rq, &b, rc);
	wire_put_cstr(&b.w, message ? message : "");
	int ret = node_answer_end(rq, &b);
	if (ret == IDN_ESPACE && rc != PROTO_RC_ERROR)
		return node_answer_error(rq, PROTO_RC_ERROR, "answer too large");
	return ret;
}

int node_answer_store_error(req *rq, int err, const char *what)
{
	char msg[200];
	if (idn_err_full(err))
		limit_hit(LIM_STORAGE_FULL, "a write refused: %s", idn_strerror(err));
	snprintf(msg, sizeof(msg), "%s: %s",
	         idn_err_full(err) ? NODE_MSG_STORAGE_FULL : "storage error", what);
	return node_answer_error(rq, PROTO_RC_ERROR, msg);
}

int node_answer_ok(req *rq)
{
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	return node_answer_end(rq, &b);
}

/*
 * An error built outside a request context, as the reference does for a
 * request it will not look into (admin over UDP, a bad message length):
 * version 2.3, the library's default flags, unknown site serial, no AT.
 */
int node_answer_bare_error(const proto_env *renv, uint32_t opcode, uint32_t rc, const char *message,
                           uint8_t *out, size_t cap)
{
	proto_env env = {
	    .major = 2,
	    .minor = 3,
	    .session_id = renv->session_id,
	    .request_id = renv->request_id,
	};
	proto_hdr hdr = {
	    .opcode = opcode,
	    .rcode = rc,
	    .flags = PROTO_F_REC | PROTO_F_CA | PROTO_F_PO,
	    .site_serial = 0xFFFF,
	    .expiration = (uint32_t)time(NULL) + 43200,
	};
	proto_build b;
	proto_build_begin(&b, out, cap, &env, &hdr);
	wire_put_cstr(&b.w, message);
	return proto_build_end(&b, NULL, 0);
}

int node_bad_envelope(const uint8_t envb[PROTO_ENV_LEN], uint8_t *out, size_t cap)
{
	proto_env env;
	proto_env_decode(envb, PROTO_ENV_LEN, &env);
	return node_answer_bare_error(&env, 0, PROTO_RC_ERROR, MSG_SERVER_ERROR, out, cap);
}
