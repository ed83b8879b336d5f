/*
 * session.c - the client side of Handle protocol sessions (session.h).
 */
#include "client/session.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/session_crypto.h"
#include "client/client.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/cred.h"

enum { WINDOW = 64 };

struct client_session {
	client_conn *cn;
	const client_identity *id;
	uint32_t sid;
	uint8_t minor; /* the version of the setup answer: the session's */
	uint8_t key[AUTH_SESSION_KEY_LEN];
	size_t klen;
	bool encrypt;
	bool authenticated;
	uint32_t counter;   /* our last request counter */
	uint32_t peer_high; /* the server's highest answer counter */
	uint64_t peer_seen; /* bit i: peer_high - i seen */
};

uint32_t client_session_id(const client_session *s)
{
	return s->sid;
}

bool client_session_authenticated(const client_session *s)
{
	return s->authenticated;
}

static int recv_one(client_conn *cn, uint32_t want, uint8_t **ans, size_t *alen)
{
	int ret = client_conn_recv(cn, ans, alen);
	if (!ret && (*alen < PROTO_ENV_LEN || idn_be32(*ans + 8) != want))
		ret = IDN_EPROTO;
	return ret;
}

/* Verifies the server's HS_SIGNED credential on a message (2.6+: envelope fields first). */
static int verify_signed(EVP_PKEY *pub, const proto_env *env, const proto_msg *m)
{
	proto_cred cr;
	if (!m->cred.len || proto_cred_decode(m->cred, &cr) ||
	    !idn_slice_eq(cr.type, IDN_SLICE(PROTO_CRED_SIGNED)))
		return IDN_EMISMATCH;
	const char *h = (const char *)cr.hash_alg.p;
	const EVP_MD *md = NULL;
	if ((cr.hash_alg.len == 4 && !strncasecmp(h, "SHA1", 4)) ||
	    (cr.hash_alg.len == 5 && !strncasecmp(h, "SHA-1", 5)))
		md = EVP_sha1();
	else if ((cr.hash_alg.len == 7 && !strncasecmp(h, "SHA-256", 7)) ||
	         (cr.hash_alg.len == 6 && !strncasecmp(h, "SHA256", 6)))
		md = EVP_sha256();
	if (!md)
		return IDN_ENOTSUP;
	auth_msg_ctx c = {.major = env->major,
	                  .minor = env->minor,
	                  .sugg_major = env->flags & PROTO_ENV_SUGG_MAJOR_MASK,
	                  .sugg_minor = env->sugg_minor,
	                  .session_id = env->session_id,
	                  .request_id = env->request_id,
	                  .counter = cr.signer_index};
	uint8_t pre[16];
	size_t plen = auth_sig_prefix(&c, pre);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = IDN_EMISMATCH;
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, pre, plen) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, m->hb.p, m->hb.len) == 1 &&
	    EVP_DigestVerifyFinal(ctx, cr.sig.p, cr.sig.len) == 1)
		ret = IDN_OK;
	EVP_MD_CTX_free(ctx);
	return ret;
}

int client_session_open(client_conn *cn, const client_identity *id, const client_session_opts *o,
                        client_session **out, uint32_t *rc)
{
	enum { CAP = 4096 };
	uint8_t *req = malloc(CAP), *ans = NULL;
	EVP_PKEY *mine = NULL, *peer = NULL;
	client_session *s = calloc(1, sizeof(*s));
	size_t alen = 0;
	int ret = IDN_ENOMEM;
	if (rc)
		*rc = 0;
	if (!req || !s)
		goto out;
	if ((ret = auth_dh_keygen(NULL, &mine)))
		goto out;
	uint8_t pk[1024];
	wire_wr pw = wire_wr_init(pk, sizeof(pk));
	if ((ret = auth_dh_pub_encode(mine, &pw)))
		goto out;
	proto_session_req sr = {.mode = PROTO_KX_DH,
	                        .timeout = o ? o->timeout : 0,
	                        .identity = id->handle,
	                        .identity_index = id->index,
	                        .pubkey = idn_slice_of(pk, wire_wr_len(&pw))};
	/* As the 9.x client: certified, with the request digest, suggesting our version. */
	proto_env env = {.major = PROTO_MAJOR,
	                 .minor = PROTO_MINOR_MAX,
	                 .flags = PROTO_MAJOR & PROTO_ENV_SUGG_MAJOR_MASK,
	                 .sugg_minor = PROTO_MINOR_MAX,
	                 .request_id = client_request_id()};
	proto_hdr hdr = {.opcode = PROTO_OP_SESSION_SETUP,
	                 .flags = PROTO_F_CT | PROTO_F_REC | PROTO_F_CA | PROTO_F_RD,
	                 .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, CAP, &env, &hdr);
	proto_session_req_encode(&b.w, &sr);
	idn_slice rhb = proto_build_body_end(&b);
	int len = proto_build_end(&b, NULL, 0);
	if (len < 0) {
		ret = len;
		goto out;
	}
	if ((ret = client_conn_send(cn, req, (size_t)len)) ||
	    (ret = recv_one(cn, env.request_id, &ans, &alen)))
		goto out;
	proto_env aenv;
	proto_msg m;
	ret = IDN_EPROTO;
	if (proto_env_decode(ans, alen, &aenv) ||
	    proto_msg_decode(ans + PROTO_ENV_LEN, alen - PROTO_ENV_LEN, &m))
		goto out;
	if (m.hdr.rcode != PROTO_RC_SUCCESS) {
		if (rc)
			*rc = m.hdr.rcode;
		ret = IDN_ENOTSUP;
		goto out;
	}
	uint8_t dalg = 0;
	idn_slice digest, body;
	if (proto_answer_split(m.body, m.hdr.flags & PROTO_F_RD, &dalg, &digest, &body))
		goto out;
	/* The answer must be to this request, signed by the server when we know its key. */
	uint8_t want[PROTO_DIGEST_MAX];
	ret = IDN_EMISMATCH;
	if (dalg && (proto_digest(dalg, rhb.p, rhb.len, want) ||
	             digest.len != proto_digest_len(dalg) || memcmp(want, digest.p, digest.len)))
		goto out;
	if (o && o->server_key && (ret = verify_signed(o->server_key, &aenv, &m)))
		goto out;
	proto_session_resp resp;
	ret = IDN_EPROTO;
	if (proto_session_resp_decode(body, &resp) || resp.mode != PROTO_KX_DH ||
	    resp.data.len < 4 || !aenv.session_id)
		goto out;
	if (idn_be32(resp.data.p) != AUTH_CIPHER_AES) {
		ret = IDN_ENOTSUP; /* DES, DESede: not spoken here */
		goto out;
	}
	if ((ret = auth_dh_pub_decode(idn_slice_of(resp.data.p + 4, resp.data.len - 4), &peer)) ||
	    (ret = auth_dh_session_key(mine, peer, s->key, &s->klen)))
		goto out;
	if (s->klen < AUTH_AES_KEY_LEN) {
		ret = IDN_ECRYPTO;
		goto out;
	}
	s->cn = cn;
	s->id = id;
	s->sid = aenv.session_id;
	s->minor = aenv.minor;
	s->encrypt = o && o->encrypt;
	*out = s;
	s = NULL;
	ret = IDN_OK;
out:
	EVP_PKEY_free(mine);
	EVP_PKEY_free(peer);
	free(req);
	free(ans);
	if (s)
		OPENSSL_clear_free(s, sizeof(*s));
	return ret;
}

int client_session_wrap(client_session *s, const uint8_t *req, size_t len, bool mac, uint8_t **out,
                        size_t *olen)
{
	proto_env env;
	proto_msg m;
	*out = NULL;
	if (len < PROTO_ENV_LEN || proto_env_decode(req, len, &env) ||
	    proto_msg_decode(req + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &m))
		return IDN_EINVAL;
	size_t cap = PROTO_ENV_LEN + m.hb.len + 4 + 256 + 2 * AUTH_AES_BLOCK;
	uint8_t *buf = malloc(cap), *msg = malloc(cap);
	if (!buf || !msg) {
		free(buf);
		free(msg);
		return IDN_ENOMEM;
	}
	/* The session's version and id; ENC asks the server to encrypt its answer. */
	env.minor = s->minor;
	env.flags = (uint8_t)((env.flags & ~(PROTO_ENV_ENCRYPTED | PROTO_ENV_SUGG_MAJOR_MASK)) |
	                      (PROTO_MAJOR & PROTO_ENV_SUGG_MAJOR_MASK));
	env.sugg_minor = PROTO_MINOR_MAX;
	env.session_id = s->sid;
	memcpy(msg, m.hb.p, m.hb.len);
	uint32_t flags = idn_be32(msg + 8);
	idn_put_be32(msg + 8, s->encrypt ? flags | PROTO_F_ENC : flags);
	wire_wr w = wire_wr_init(msg + m.hb.len, cap - m.hb.len);
	uint8_t *clen = proto_put_len_begin(&w);
	int ret = IDN_OK;
	if (mac) {
		auth_msg_ctx c = {.major = env.major,
		                  .minor = env.minor,
		                  .sugg_major = PROTO_MAJOR,
		                  .sugg_minor = env.sugg_minor,
		                  .session_id = env.session_id,
		                  .request_id = env.request_id,
		                  .counter = ++s->counter};
		ret = auth_mac_cred(s->key, s->klen, &c, idn_slice_of(msg, m.hb.len), &w);
	}
	proto_put_len_end(&w, clen);
	if (!ret)
		ret = w.err;
	size_t mlen = m.hb.len + wire_wr_len(&w);
	if (!ret && s->encrypt) {
		ret = auth_session_encrypt(s->key, msg, mlen, buf + PROTO_ENV_LEN,
		                           cap - PROTO_ENV_LEN, &mlen);
		env.flags |= PROTO_ENV_ENCRYPTED;
	} else if (!ret) {
		memcpy(buf + PROTO_ENV_LEN, msg, mlen);
	}
	free(msg);
	if (ret) {
		free(buf);
		return ret;
	}
	env.msg_len = (uint32_t)mlen;
	proto_env_encode(&env, buf);
	*out = buf;
	*olen = PROTO_ENV_LEN + mlen;
	return IDN_OK;
}

/* Records the server's counter c; false when seen before or too old. */
static bool peer_counter(client_session *s, uint32_t c)
{
	if (c == 0)
		return true; /* the answer to op 401: the server has dropped the session */
	if (c > s->peer_high) {
		uint32_t shift = c - s->peer_high;
		s->peer_seen = shift >= WINDOW ? 0 : s->peer_seen << shift;
		s->peer_seen |= 1;
		s->peer_high = c;
		return true;
	}
	uint32_t age = s->peer_high - c;
	if (age >= WINDOW || (s->peer_seen >> age & 1))
		return false;
	s->peer_seen |= (uint64_t)1 << age;
	return true;
}

int client_session_unwrap(client_session *s, uint8_t **ans, size_t *alen, proto_env *env,
                          proto_msg *m)
{
	if (*alen < PROTO_ENV_LEN || proto_env_decode(*ans, *alen, env))
		return IDN_EPROTO;
	if (env->flags & PROTO_ENV_ENCRYPTED) {
		uint8_t *plain = malloc(*alen);
		size_t plen = 0;
		if (!plain)
			return IDN_ENOMEM;
		int ret = auth_session_decrypt(s->key, *ans + PROTO_ENV_LEN, *alen - PROTO_ENV_LEN,
		                               plain + PROTO_ENV_LEN, *alen - PROTO_ENV_LEN, &plen);
		if (ret) {
			free(plain);
			return ret == IDN_EINVAL ? IDN_EPROTO : IDN_EMISMATCH;
		}
		env->flags &= (uint8_t)~PROTO_ENV_ENCRYPTED;
		env->msg_len = (uint32_t)plen;
		proto_env_encode(env, plain);
		free(*ans);
		*ans = plain;
		*alen = PROTO_ENV_LEN + plen;
	}
	if (proto_msg_decode(*ans + PROTO_ENV_LEN, *alen - PROTO_ENV_LEN, m))
		return IDN_EPROTO;
	proto_cred cr;
	if (!m->cred.len || proto_cred_decode(m->cred, &cr) ||
	    !idn_slice_eq(cr.type, IDN_SLICE(PROTO_CRED_MAC))) {
		/* Errors from outside the session (unknown session, bad envelope) carry no MAC. */
		return m->hdr.rcode == PROTO_RC_SUCCESS ? IDN_EMISMATCH : IDN_OK;
	}
	auth_msg_ctx c = auth_msg_ctx_of(env);
	if (auth_mac_check(s->key, s->klen, &c, m->hb, &cr) || !peer_counter(s, cr.signer_index))
		return IDN_EMISMATCH;
	return IDN_OK;
}

int client_session_answer_challenge(client_session *s, const proto_env *aenv, const proto_msg *m,
                                    uint8_t **out, size_t *olen)
{
	uint8_t *creq = NULL;
	size_t clen = 0;
	int ret = client_admin_challenge_answer(s->id, aenv, m, &creq, &clen);
	if (ret)
		return ret;
	ret = client_session_wrap(s, creq, clen, false, out, olen);
	free(creq);
	return ret;
}

static int exchange_one(client_session *s, const uint8_t *req, size_t len, bool mac, uint8_t **ans,
                        size_t *alen, proto_env *env, proto_msg *m)
{
	uint8_t *w = NULL;
	size_t wlen = 0;
	int ret = client_session_wrap(s, req, len, mac, &w, &wlen);
	if (!ret)
		ret = client_conn_send(s->cn, w, wlen);
	if (!ret)
		ret = recv_one(s->cn, idn_be32(w + 8), ans, alen);
	free(w);
	if (!ret)
		ret = client_session_unwrap(s, ans, alen, env, m);
	return ret;
}

int client_session_exchange(client_session *s, const uint8_t *req, size_t len, uint8_t **ans,
                            size_t *alen, proto_env *env, proto_msg *m)
{
	*ans = NULL;
	int ret = exchange_one(s, req, len, true, ans, alen, env, m);
	if (ret || m->hdr.rcode != PROTO_RC_AUTHENTICATION_NEEDED)
		return ret;
	uint8_t *creq = NULL;
	size_t clen = 0;
	ret = client_admin_challenge_answer(s->id, env, m, &creq, &clen);
	if (ret)
		return ret;
	free(*ans);
	*ans = NULL;
	ret = exchange_one(s, creq, clen, false, ans, alen, env, m);
	free(creq);
	/* The server authenticated the session unless it refused the identity itself. */
	if (!ret && m->hdr.rcode != PROTO_RC_AUTHENTICATION_FAILED &&
	    m->hdr.rcode != PROTO_RC_INVALID_CREDENTIAL && m->hdr.rcode < PROTO_RC_SESSION_TIMEOUT)
		s->authenticated = true;
	return ret;
}

int client_session_close(client_session *s, bool terminate)
{
	if (!s)
		return IDN_OK;
	int ret = IDN_OK;
	if (terminate) {
		uint8_t req[PROTO_ENV_LEN + PROTO_HDR_LEN + 64];
		proto_env env = {
		    .major = PROTO_MAJOR, .minor = s->minor, .request_id = client_request_id()};
		proto_hdr hdr = {.opcode = PROTO_OP_SESSION_TERMINATE,
		                 .flags = PROTO_F_REC | PROTO_F_CA,
		                 .site_serial = 0xFFFF};
		proto_build b;
		proto_build_begin(&b, req, sizeof(req), &env, &hdr);
		int len = proto_build_end(&b, NULL, 0);
		uint8_t *ans = NULL;
		size_t alen = 0;
		proto_env aenv;
		proto_msg m;
		ret =
		    len < 0 ? len : exchange_one(s, req, (size_t)len, true, &ans, &alen, &aenv, &m);
		if (!ret && m.hdr.rcode != PROTO_RC_SUCCESS)
			ret = IDN_EPROTO;
		free(ans);
	}
	OPENSSL_clear_free(s, sizeof(*s));
	return ret;
}

int client_recv_continued(client_conn *cn, client_session *s, uint32_t request_id, uint8_t **ans,
                          size_t *alen, proto_msg *m)
{
	proto_env e;
	*ans = NULL;
	int ret = client_conn_recv(cn, ans, alen);
	if (!ret && s)
		ret = client_session_unwrap(s, ans, alen, &e, m);
	if (!ret && ((!s && (proto_env_decode(*ans, *alen, &e) ||
	                     proto_msg_decode(*ans + PROTO_ENV_LEN, *alen - PROTO_ENV_LEN, m))) ||
	             e.request_id != request_id || m->hdr.rcode != PROTO_RC_SUCCESS))
		ret = IDN_EPROTO;
	return ret;
}
