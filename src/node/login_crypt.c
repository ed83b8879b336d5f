/*
 * login_crypt.c - SM4 transport encryption on a national login's connection
 * (IDIS.md section 2; id-pointer-sdk's transport/TransportEncryptHandler.java):
 * op 400 with key exchange mode 3 makes the key, encrypted requests are
 * decrypted and their answers encrypted (login.h).
 *
 * Wire: the setup answer is 1 with the session-setup body (int2 3, bytes
 * data), data = the identity's public key's encryption of [u32 4][16-byte
 * key] (ENCRYPT_ALG_SM4 = 4; SM2 C1C3C2 or RSA PKCS#1 v1.5, auth/sm.h). An
 * encrypted message is SM4-CBC/PKCS#5 of the whole message (header, body,
 * credential) with IV = the key, none on the wire; its envelope has flag
 * 0x40 and announces the ciphertext's length.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sm.h"
#include "auth/verify.h"
#include "node/admin.h"
#include "node/answer.h"
#include "node/login.h"
#include "proto/admin.h"

enum { ALG_SM4 = 4, KEY_LEN = AUTH_SM4_KEY_LEN };

int node_login_setup(req *rq)
{
	node *n = rq->w->node;
	proto_session_req r;
	if (proto_session_req_decode(rq->msg.body, &r) || r.mode != PROTO_KX_CIPHER_HDL)
		return 0; /* the session step answers it (node/session.h) */
	if (rq->transport != NODE_TCP || !rq->conn)
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED,
		                         "key exchange mode 3 (SM4) needs a TCP connection");
	/* The key it is encrypted to: the exchange key named, else the identity's. */
	idn_slice h = r.key_handle.len ? r.key_handle : r.identity;
	uint32_t index = r.key_handle.len ? r.key_index : r.identity_index;
	idn_slice keydata;
	char msg[200];
	if (!h.len || h.len > PROTO_HANDLE_MAX ||
	    node_admin_identity_key(rq, h, index, IDN_SLICE("HS_PUBKEY"), &keydata)) {
		snprintf(msg, sizeof(msg), "no HS_PUBKEY at %u:%.*s on this node", index,
		         (int)(h.len > 128 ? 128 : h.len), (const char *)h.p);
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED, msg);
	}
	EVP_PKEY *pk = NULL;
	if (auth_pubkey_parse(keydata, &pk, msg, sizeof(msg)))
		return node_answer_error(rq, PROTO_RC_SESSION_FAILED, msg);
	uint8_t plain[4 + KEY_LEN], data[1024];
	idn_put_be32(plain, ALG_SM4);
	wire_wr w = wire_wr_init(data, sizeof(data));
	int ret = node_random_bytes(n, plain + 4, KEY_LEN);
	if (!ret)
		ret = auth_pubkey_encrypt(pk, plain, sizeof(plain), &w);
	EVP_PKEY_free(pk);
	if (!ret)
		ret = node_logins_set_key(n->conn_logins, rq->conn, rq->env.session_id, plain + 4);
	OPENSSL_cleanse(plain, sizeof(plain));
	if (ret)
		return node_answer_error(
		    rq, PROTO_RC_SESSION_FAILED,
		    ret == IDN_ENOTSUP ? "the identity's key cannot encrypt (SM2 or RSA needed)"
		                       : "cannot make the session key");
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	proto_session_resp sr = {.mode = PROTO_KX_CIPHER_HDL,
	                         .data = idn_slice_of(data, wire_wr_len(&w))};
	proto_session_resp_encode(&b.w, &sr);
	return node_answer_end(rq, &b);
}

int node_login_decrypt(req *rq, const uint8_t *in, size_t len, uint8_t **plain, size_t *plen)
{
	*plain = NULL;
	node *n = rq->w->node;
	uint32_t key_sid = 0;
	if (rq->transport != NODE_TCP || !rq->conn ||
	    !node_logins_get_key(n->conn_logins, rq->conn, &key_sid, rq->sm4_key))
		return 0;
	if (rq->env.session_id != key_sid && node_handle_session_live(n, rq->env.session_id)) {
		OPENSSL_cleanse(rq->sm4_key, sizeof(rq->sm4_key));
		return 0; /* a Handle session's AES (node/session.h) */
	}
	size_t ml = 0;
	uint8_t *p = malloc(len);
	int ret = p ? auth_sm4_decrypt(rq->sm4_key, in + PROTO_ENV_LEN, len - PROTO_ENV_LEN,
	                               p + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &ml)
	            : IDN_ENOMEM;
	/*
	 * No MAC: a wrong key passes the padding check about once in 256; what
	 * it gives is not a message (header and lengths), and is refused as such.
	 */
	proto_msg m;
	if (!ret && proto_msg_decode(p + PROTO_ENV_LEN, ml, &m))
		ret = IDN_EMISMATCH;
	if (ret) {
		free(p);
		OPENSSL_cleanse(rq->sm4_key, sizeof(rq->sm4_key));
		/* Unreadable: answered in the clear (the client's key may be what is wrong). */
		return node_answer_error(
		    rq, ret == IDN_ENOMEM ? PROTO_RC_SERVER_BUSY : PROTO_RC_SESSION_NO_KEY,
		    ret == IDN_ENOMEM ? "out of memory"
		                      : "cannot decrypt the request with the SM4 "
		                        "session key (wrong key, or damaged)");
	}
	memcpy(p, in, PROTO_ENV_LEN);
	p[2] &= (uint8_t)~PROTO_ENV_ENCRYPTED;
	idn_put_be32(p + 16, (uint32_t)ml);
	rq->env.flags &= (uint8_t)~PROTO_ENV_ENCRYPTED;
	rq->env.msg_len = (uint32_t)ml;
	rq->sm4 = true;
	*plain = p;
	*plen = PROTO_ENV_LEN + ml;
	return 0;
}

int node_login_encrypt(const req *rq, uint8_t *out, size_t n, size_t cap)
{
	/* Each message grows by 1 to 16 bytes; a list is several messages. */
	size_t room = n + AUTH_SM4_BLOCK * (n / (PROTO_ENV_LEN + PROTO_HDR_LEN) + 1);
	if (room < cap)
		cap = room;
	uint8_t *tmp = malloc(cap);
	if (!tmp)
		return IDN_ENOMEM;
	size_t in = 0, o = 0;
	int ret = IDN_OK;
	while (!ret && in < n) {
		proto_env env;
		if (n - in < PROTO_ENV_LEN || proto_env_decode(out + in, n - in, &env) ||
		    env.msg_len > n - in - PROTO_ENV_LEN || cap - o < PROTO_ENV_LEN) {
			ret = IDN_EINVAL;
			break;
		}
		size_t clen = 0, plen = env.msg_len;
		ret = auth_sm4_encrypt(rq->sm4_key, out + in + PROTO_ENV_LEN, plen,
		                       tmp + o + PROTO_ENV_LEN, cap - o - PROTO_ENV_LEN, &clen);
		if (ret)
			break;
		env.flags |= PROTO_ENV_ENCRYPTED;
		env.msg_len = (uint32_t)clen;
		proto_env_encode(&env, tmp + o);
		in += PROTO_ENV_LEN + plen;
		o += PROTO_ENV_LEN + clen;
	}
	if (!ret)
		memcpy(out, tmp, o);
	free(tmp);
	return ret ? ret : (int)o;
}
