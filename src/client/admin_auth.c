/*
 * admin_auth.c - the client side of the challenge-response (admin_auth.h).
 */
#include "client/admin_auth.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth/verify.h"
#include "client/client.h"
#include "core/err.h"
#include "proto/admin.h"

int client_exchange_on(client_conn *cn, const uint8_t *req, size_t len, uint8_t **ans, size_t *alen,
                       proto_env *env, proto_msg *m)
{
	int ret = client_conn_send(cn, req, len);
	if (!ret)
		ret = client_conn_recv(cn, ans, alen);
	if (ret)
		return ret;
	if (*alen < PROTO_ENV_LEN || proto_env_decode(*ans, *alen, env) ||
	    proto_msg_decode(*ans + PROTO_ENV_LEN, *alen - PROTO_ENV_LEN, m) ||
	    env->request_id != idn_be32(req + 8))
		return IDN_EPROTO;
	return IDN_OK;
}

/* The form of an HS_SECKEY answer as id to a challenge of version aenv->minor. */
static uint8_t seckey_form(const client_identity *id, const proto_env *aenv)
{
	if (id->seckey_form)
		return id->seckey_form;
	return aenv->minor >= 7 ? PROTO_SECKEY_PBKDF2 : PROTO_SECKEY_SHA1;
}

int client_admin_challenge_answer(const client_identity *id, const proto_env *aenv,
                                  const proto_msg *m, uint8_t **req, size_t *len)
{
	/* A challenge response is small: a key signature and the identity. */
	enum { CAP = PROTO_ENV_LEN + 16384 };
	*req = NULL;
	proto_challenge c;
	if (proto_challenge_decode(m->body, m->hdr.flags & PROTO_F_RD, &c) || !c.hash)
		return IDN_EPROTO;
	uint8_t sig[4096];
	wire_wr sw = wire_wr_init(sig, sizeof(sig));
	int ret =
	    id->key
	        ? auth_respond_pubkey(id->key, id->handle, aenv->minor >= 7, c.nonce, c.digest, &sw)
	        : auth_respond_seckey(id->secret, seckey_form(id, aenv), c.nonce, c.digest, &sw);
	if (ret)
		return ret;
	proto_chresp cr = {.auth_type = id->key ? IDN_SLICE("HS_PUBKEY") : IDN_SLICE("HS_SECKEY"),
	                   .handle = id->handle,
	                   .index = id->index,
	                   .signed_resp = idn_slice_of(sig, wire_wr_len(&sw))};
	/* The answer to a challenge speaks the challenge's version, in its session. */
	proto_env cenv = {.major = 2,
	                  .minor = aenv->minor,
	                  .session_id = aenv->session_id,
	                  .request_id = client_request_id()};
	proto_hdr chdr = {.opcode = PROTO_OP_CHALLENGE_RESPONSE,
	                  .flags = PROTO_F_REC | PROTO_F_CA,
	                  .site_serial = 0xFFFF};
	if (!(*req = malloc(CAP)))
		return IDN_ENOMEM;
	proto_build b;
	proto_build_begin(&b, *req, CAP, &cenv, &chdr);
	proto_chresp_encode(&b.w, &cr);
	int clen = proto_build_end(&b, NULL, 0);
	if (clen < 0) {
		free(*req);
		*req = NULL;
		return clen;
	}
	*len = (size_t)clen;
	return IDN_OK;
}

int client_admin_exchange(client_conn *cn, const client_identity *id, const uint8_t *req,
                          size_t len, uint8_t **ans, size_t *alen, proto_env *env, proto_msg *m)
{
	uint8_t *creq = NULL;
	size_t clen = 0;
	*ans = NULL;
	int ret = client_exchange_on(cn, req, len, ans, alen, env, m);
	if (ret || m->hdr.rcode != PROTO_RC_AUTHENTICATION_NEEDED)
		return ret;
	ret = client_admin_challenge_answer(id, env, m, &creq, &clen);
	if (ret)
		return ret;
	free(*ans);
	*ans = NULL;
	ret = client_exchange_on(cn, creq, clen, ans, alen, env, m);
	free(creq);
	return ret;
}

int client_identity_read_secret(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	*len = fread(buf, 1, cap, f);
	fclose(f);
	/* A trailing newline from an editor is not part of the secret. */
	while (*len && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r'))
		(*len)--;
	return 0;
}
