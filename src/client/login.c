/*
 * login.c - the client side of the national login, op 2001 (login.h).
 */
#include "client/login.h"

#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sm.h"
#include "client/client.h"
#include "core/err.h"
#include "proto/admin.h"

struct client_login {
	client_conn *cn;
	uint32_t session_id;
	bool sm4; /* client_login_encrypt */
	uint8_t key[AUTH_SM4_KEY_LEN];
};

static atomic_uint next_session = 10000;

uint32_t client_login_next_session(void)
{
	return atomic_fetch_add(&next_session, 1) + 1;
}

uint32_t client_login_session(const client_login *l)
{
	return l->session_id;
}

enum { CAP = PROTO_ENV_LEN + PROTO_HANDLE_MAX + 256 };

/* GET_SITE_INFO on "/" (a), or 2001 for id (b): the SDKs' first two requests. */
static int build_step(uint8_t *buf, uint32_t sid, const client_identity *id, bool login,
                      bool ids_body)
{
	proto_env env = {.major = 2,
	                 .minor = PROTO_MINOR_MAX,
	                 .session_id = sid,
	                 .request_id = client_request_id()};
	proto_hdr hdr = {.opcode = login ? PROTO_OP_IDIS_LOGIN : PROTO_OP_GET_SITE_INFO,
	                 .flags = login ? PROTO_F_RD : 0,
	                 .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, buf, CAP, &env, &hdr);
	if (login) {
		proto_login_req lr = {
		    .handle = id->handle, .index = id->index, .cred_len = ids_body};
		proto_login_req_encode(&b.w, &lr);
	} else {
		proto_handle_req_encode(&b.w, IDN_SLICE("/"));
	}
	return proto_build_end(&b, NULL, 0);
}

/* The site info, then 2001 and its challenge; 0 once logged in. */
static int login_steps(client_login *l, const client_identity *id, const client_login_opts *o,
                       uint32_t *rc)
{
	uint8_t req[CAP], *ans = NULL, *creq = NULL;
	size_t alen = 0, clen = 0;
	proto_env env;
	proto_msg m;
	int len = build_step(req, l->session_id, id, false, false);
	int ret =
	    len < 0 ? len : client_exchange_on(l->cn, req, (size_t)len, &ans, &alen, &env, &m);
	free(ans);
	ans = NULL;
	if (ret)
		return ret;
	len = build_step(req, l->session_id, id, true, o->ids_body);
	ret = len < 0 ? len : client_exchange_on(l->cn, req, (size_t)len, &ans, &alen, &env, &m);
	if (!ret && m.hdr.rcode != PROTO_RC_AUTHENTICATION_NEEDED)
		ret = m.hdr.rcode == PROTO_RC_SUCCESS ? IDN_EPROTO : IDN_ENOTSUP;
	if (!ret && m.hdr.opcode != PROTO_OP_IDIS_LOGIN)
		ret = IDN_EPROTO;
	if (!ret)
		ret = client_admin_challenge_answer(id, &env, &m, &creq, &clen);
	if (rc && ret == IDN_ENOTSUP)
		*rc = m.hdr.rcode;
	free(ans);
	ans = NULL;
	if (ret)
		return ret;
	ret = client_exchange_on(l->cn, creq, clen, &ans, &alen, &env, &m);
	free(creq);
	if (!ret && m.hdr.rcode != PROTO_RC_SUCCESS) {
		ret = IDN_ENOTSUP;
		if (rc)
			*rc = m.hdr.rcode;
	}
	free(ans);
	return ret;
}

int client_login_open(client_conn *cn, const client_identity *id, const client_login_opts *o,
                      client_login **out, uint32_t *rc)
{
	static const client_login_opts none;
	*out = NULL;
	if (!id->key)
		return IDN_EINVAL;
	client_login *l = calloc(1, sizeof(*l));
	if (!l)
		return IDN_ENOMEM;
	l->cn = cn;
	l->session_id = client_login_next_session();
	int ret = login_steps(l, id, o ? o : &none, rc);
	if (ret) {
		free(l);
		return ret;
	}
	*out = l;
	return IDN_OK;
}

/* Reads one message; decrypts it when it came encrypted with the login's key. */
static int recv_msg(client_login *l, uint8_t **ans, size_t *alen, proto_env *env, proto_msg *m)
{
	int ret = client_conn_recv(l->cn, ans, alen);
	if (ret)
		return ret;
	if (*alen < PROTO_ENV_LEN || proto_env_decode(*ans, *alen, env))
		return IDN_EPROTO;
	if (env->flags & PROTO_ENV_ENCRYPTED) {
		size_t ml = 0;
		if (!l->sm4 || auth_sm4_decrypt(l->key, *ans + PROTO_ENV_LEN, *alen - PROTO_ENV_LEN,
		                                *ans + PROTO_ENV_LEN, *alen - PROTO_ENV_LEN, &ml))
			return IDN_EPROTO;
		env->flags &= (uint8_t)~PROTO_ENV_ENCRYPTED;
		env->msg_len = (uint32_t)ml;
		(*ans)[2] = env->flags;
		idn_put_be32(*ans + 16, (uint32_t)ml);
		*alen = PROTO_ENV_LEN + ml;
	}
	return proto_msg_decode(*ans + PROTO_ENV_LEN, *alen - PROTO_ENV_LEN, m) ? IDN_EPROTO
	                                                                        : IDN_OK;
}

int client_login_exchange(client_login *l, const uint8_t *req, size_t len, uint8_t **ans,
                          size_t *alen, proto_env *env, proto_msg *m)
{
	*ans = NULL;
	if (len < PROTO_ENV_LEN)
		return IDN_EINVAL;
	uint8_t *copy = malloc(len + AUTH_SM4_BLOCK);
	if (!copy)
		return IDN_ENOMEM;
	memcpy(copy, req, PROTO_ENV_LEN);
	idn_put_be32(copy + 4, l->session_id);
	size_t clen = len - PROTO_ENV_LEN;
	int ret = IDN_OK;
	if (l->sm4) {
		ret = auth_sm4_encrypt(l->key, req + PROTO_ENV_LEN, len - PROTO_ENV_LEN,
		                       copy + PROTO_ENV_LEN, len - PROTO_ENV_LEN + AUTH_SM4_BLOCK,
		                       &clen);
		copy[2] |= PROTO_ENV_ENCRYPTED;
		idn_put_be32(copy + 16, (uint32_t)clen);
	} else {
		memcpy(copy + PROTO_ENV_LEN, req + PROTO_ENV_LEN, clen);
	}
	if (!ret)
		ret = client_conn_send(l->cn, copy, PROTO_ENV_LEN + clen);
	free(copy);
	if (!ret)
		ret = recv_msg(l, ans, alen, env, m);
	if (!ret && env->request_id != idn_be32(req + 8))
		ret = IDN_EPROTO;
	return ret;
}

int client_login_recv_continued(client_login *l, uint32_t request_id, uint8_t **ans, size_t *alen,
                                proto_msg *m)
{
	proto_env env;
	*ans = NULL;
	int ret = recv_msg(l, ans, alen, &env, m);
	if (!ret && (env.request_id != request_id || m->hdr.rcode != PROTO_RC_SUCCESS))
		ret = IDN_EPROTO;
	return ret;
}

int client_login_encrypt(client_login *l, const client_identity *id, uint32_t *rc)
{
	uint8_t req[CAP], *ans = NULL, plain[64];
	size_t alen = 0, plen = 0;
	proto_env env = {.major = 2,
	                 .minor = PROTO_MINOR_MAX,
	                 .session_id = l->session_id,
	                 .request_id = client_request_id()};
	proto_hdr hdr = {.opcode = PROTO_OP_SESSION_SETUP, .site_serial = 0xFFFF};
	proto_session_req sr = {.mode = PROTO_KX_CIPHER_HDL,
	                        .identity = id->handle,
	                        .identity_index = id->index,
	                        .key_handle = id->handle,
	                        .key_index = id->index};
	proto_build b;
	proto_build_begin(&b, req, CAP, &env, &hdr);
	proto_session_req_encode(&b.w, &sr);
	int len = proto_build_end(&b, NULL, 0);
	proto_msg m;
	proto_session_resp resp;
	int ret =
	    len < 0 ? len : client_exchange_on(l->cn, req, (size_t)len, &ans, &alen, &env, &m);
	if (!ret && m.hdr.rcode != PROTO_RC_SUCCESS) {
		ret = IDN_ENOTSUP;
		if (rc)
			*rc = m.hdr.rcode;
	}
	idn_slice body = m.body;
	if (!ret && (proto_answer_split(m.body, m.hdr.flags & PROTO_F_RD, NULL, NULL, &body) ||
	             proto_session_resp_decode(body, &resp) || resp.mode != PROTO_KX_CIPHER_HDL ||
	             auth_privkey_decrypt(id->key, resp.data, plain, sizeof(plain), &plen) ||
	             plen != 4 + AUTH_SM4_KEY_LEN || idn_be32(plain) != 4))
		ret = IDN_EPROTO;
	if (!ret) {
		memcpy(l->key, plain + 4, AUTH_SM4_KEY_LEN);
		l->sm4 = true;
	}
	OPENSSL_cleanse(plain, sizeof(plain));
	free(ans);
	return ret;
}

void client_login_close(client_login *l)
{
	if (l)
		OPENSSL_cleanse(l->key, sizeof(l->key));
	free(l);
}
