/*
 * login.c - the client side of the national login, op 2001 (login.h).
 */
#include "client/login.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "core/err.h"
#include "proto/admin.h"

struct client_login {
	client_conn *cn;
	uint32_t session_id;
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

int client_login_exchange(client_login *l, const uint8_t *req, size_t len, uint8_t **ans,
                          size_t *alen, proto_env *env, proto_msg *m)
{
	*ans = NULL;
	uint8_t *copy = malloc(len);
	if (!copy)
		return IDN_ENOMEM;
	memcpy(copy, req, len);
	idn_put_be32(copy + 4, l->session_id);
	int ret = client_exchange_on(l->cn, copy, len, ans, alen, env, m);
	free(copy);
	return ret;
}

void client_login_close(client_login *l)
{
	free(l);
}
