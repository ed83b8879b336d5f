/*
 * lib_admin.c - libidnode's authenticated calls (include/idnode.h): create,
 * add, modify, remove, delete, list, home and unhome as the client's
 * identity on one TCP connection kept between calls, in a session
 * (client/session.h), with plain challenge-response (client/admin_auth.h)
 * or in the national login (client/login.h); and GenericBatch files
 * (client/batch.h). `idnode create` and friends call these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/batch.h"
#include "client/lib.h"
#include "core/err.h"
#include "proto/admin.h"

/* One authenticated request: what it is and what it carries. */
typedef struct lib_op {
	uint32_t opcode;
	uint32_t flags;
	const char *what;        /* the handle or prefix as given, for messages */
	idn_slice handle;        /* as sent */
	bool has_values;         /* create, add, modify: */
	const idnode_values *vs; /* these (NULL: none) */
	const uint32_t *indexes; /* remove */
	uint32_t nindexes;
	bool na; /* a prefix: sent as 0.NA/<prefix> */
} lib_op;

/* Logs in on c's new connection as the national SDKs do, with SM4 after it when asked. */
static int open_login(idnode_client *c)
{
	bool ids = c->auth == IDNODE_AUTH_IDIS_IDS || c->auth == IDNODE_AUTH_IDIS_IDS_SM4;
	bool sm4 = c->auth == IDNODE_AUTH_IDIS_SM4 || c->auth == IDNODE_AUTH_IDIS_IDS_SM4;
	client_login_opts lo = {.ids_body = ids};
	uint32_t rc = 0;
	if (!c->key)
		return lib_fail(c, IDN_ENOTSUP,
		                "the national login (2001) proves a private key, "
		                "not a secret: idnode_client_set_identity_key");
	int ret = client_login_open(c->cn, &c->ident, &lo, &c->lg, &rc);
	if (ret == IDN_ENOTSUP) {
		c->rcode = rc;
		return lib_fail(c, IDNODE_EDENIED, "%s: login (2001) refused: %u %s",
		                c->server_name, rc, proto_rc_name(rc));
	}
	if (!ret && sm4)
		ret = client_login_encrypt(c->lg, &c->ident, &rc);
	if (ret == IDN_ENOTSUP) {
		c->rcode = rc;
		return lib_fail(c, ret, "%s: SM4 encryption (op 400) refused: %u %s",
		                c->server_name, rc, proto_rc_name(rc));
	}
	return ret;
}

/* Opens c's connection and its session or login, when none is open. */
static int open_conn(idnode_client *c, bool *fresh)
{
	*fresh = false;
	if (c->cn)
		return IDN_OK;
	if (c->auth >= IDNODE_AUTH_IDIS && !c->key)
		return lib_fail(c, IDN_ENOTSUP,
		                "the national login (2001) proves a private key, "
		                "not a secret: idnode_client_set_identity_key");
	c->ident = lib_identity(c);
	int ret = client_conn_open(&c->server, c->timeout_ms, &c->cn);
	if (ret)
		return lib_net_fail(c, ret, c->server_name);
	*fresh = true;
	uint32_t rc = 0;
	if (c->auth >= IDNODE_AUTH_IDIS) {
		ret = open_login(c);
	} else if (c->auth != IDNODE_AUTH_PLAIN) {
		bool enc = c->auth == IDNODE_AUTH_ENCRYPTED;
		client_session_opts so = {.encrypt = enc};
		ret = client_session_open(c->cn, &c->ident, &so, &c->sess, &rc);
		if (ret == IDN_ENOTSUP && !enc)
			ret = IDN_OK; /* no sessions there: go without, as the reference */
		else if (ret == IDN_ENOTSUP)
			ret = lib_fail(c, IDN_ENOTSUP, "%s: session refused: %u %s", c->server_name,
			               rc, proto_rc_name(rc));
	}
	if (ret && !c->err[0])
		ret = ret == IDN_EPROTO
		          ? lib_fail(c, ret, "%s: malformed answer or challenge", c->server_name)
		          : lib_net_fail(c, ret, c->server_name);
	if (ret)
		lib_drop(c, false);
	return ret;
}

/* Sends req in c's login, session or neither; the answer in *ans, aenv and m. */
static int send_req(idnode_client *c, const uint8_t *req, size_t len, uint8_t **ans,
                    proto_env *aenv, proto_msg *m)
{
	size_t alen;
	if (c->lg)
		return client_login_exchange(c->lg, req, len, ans, &alen, aenv, m);
	if (c->sess)
		return client_session_exchange(c->sess, req, len, ans, &alen, aenv, m);
	return client_admin_exchange(c->cn, &c->ident, req, len, ans, &alen, aenv, m);
}

/* Builds op's request into req (cap bytes); its length or a negative idn_err. */
static int build(const lib_op *op, uint8_t *req, size_t cap, uint32_t request_id, uint8_t minor)
{
	proto_env env = {.major = 2, .minor = minor, .request_id = request_id};
	proto_hdr hdr = {.opcode = op->opcode,
	                 .flags = PROTO_F_REC | PROTO_F_CA | op->flags,
	                 .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, cap, &env, &hdr);
	if (op->has_values) {
		uint32_t n = 0;
		const proto_value *v = op->vs ? lib_values(op->vs, &n) : NULL;
		proto_values_req_encode(&b.w, op->handle, v, n);
	} else if (op->indexes) {
		proto_remove_req_encode(&b.w, op->handle, op->indexes, op->nindexes);
	} else {
		proto_handle_req_encode(&b.w, op->handle);
	}
	return proto_build_end(&b, NULL, 0);
}

/*
 * Runs op: its answer in *ans (the caller's), aenv and m. A connection kept
 * from an earlier call that the server closed since, or a session it timed
 * out, is opened again once.
 */
static int run_op(idnode_client *c, const lib_op *op, uint8_t **ans, proto_env *aenv, proto_msg *m)
{
	lib_clear(c);
	if (!c->has_id)
		return lib_fail(c, IDNODE_ENOIDENTITY, "%s: no identity to authenticate with",
		                op->what);
	size_t cap = PROTO_ENV_LEN + PROTO_MSG_MAX;
	uint8_t *req = malloc(cap);
	if (!req)
		return lib_fail(c, IDN_ENOMEM, "out of memory");
	int len = build(op, req, cap, client_request_id(), c->minor), ret = len < 0 ? len : IDN_OK;
	for (int attempt = 0; !ret && attempt < 2; attempt++) {
		bool fresh;
		ret = open_conn(c, &fresh);
		if (ret)
			break;
		*ans = NULL;
		ret = send_req(c, req, (size_t)len, ans, aenv, m);
		bool stale = ret == IDN_ENET || (!ret && m->hdr.rcode >= PROTO_RC_SESSION_TIMEOUT &&
		                                 m->hdr.rcode <= PROTO_RC_SESSION_COUNTER);
		if (!stale || fresh)
			break;
		free(*ans);
		*ans = NULL;
		lib_drop(c, false); /* and try once more on a new connection */
		ret = IDN_OK;
	}
	free(req);
	if (ret)
		lib_drop(c, false);
	if (ret && !c->err[0]) {
		return ret == IDN_EPROTO
		           ? lib_fail(c, ret, "%s: malformed answer or challenge", c->server_name)
		           : lib_net_fail(c, ret, c->server_name);
	}
	return ret ? lib_err(ret) : IDNODE_OK;
}

/* Runs op and reads its answer's outcome; *body is the answer's body after the digest. */
static int simple_op(idnode_client *c, const lib_op *op, char **minted)
{
	uint8_t *ans = NULL;
	proto_env aenv;
	proto_msg m;
	idn_slice body;
	int ret = run_op(c, op, &ans, &aenv, &m);
	if (!ret)
		ret = lib_answer(c, &m, &body);
	if (!ret && minted) {
		idn_slice name;
		*minted = NULL;
		if (!proto_create_resp_decode(body, &name) && (*minted = malloc(name.len + 1))) {
			memcpy(*minted, name.p, name.len);
			(*minted)[name.len] = 0;
		}
	}
	free(ans);
	return ret;
}

/* Checks handle and fills op's handle from it (0.NA/ in front when op->na). */
static int op_handle(idnode_client *c, lib_op *op, const char *handle, char *buf, size_t cap)
{
	lib_clear(c);
	if (!handle || !*handle)
		return lib_fail(c, IDN_EINVAL, "no handle");
	if (strlen(handle) + 5 > PROTO_HANDLE_MAX)
		return lib_fail(c, IDN_ERANGE, "handle longer than %d bytes", PROTO_HANDLE_MAX - 5);
	snprintf(buf, cap, "%s%s", op->na && strncmp(handle, "0.NA/", 5) ? "0.NA/" : "", handle);
	op->what = handle;
	op->handle = idn_slice_of(buf, strlen(buf));
	return IDN_OK;
}

/* An operation on one handle with values (or none). */
static int values_op(idnode_client *c, uint32_t opcode, uint32_t flags, const char *handle,
                     const idnode_values *vs, char **minted)
{
	char buf[PROTO_HANDLE_MAX + 8];
	lib_op op = {.opcode = opcode,
	             .flags = flags,
	             .has_values = opcode != PROTO_OP_DELETE_HANDLE,
	             .vs = vs};
	int ret = op_handle(c, &op, handle, buf, sizeof buf);
	return ret ? ret : simple_op(c, &op, minted);
}

int idnode_create(idnode_client *c, const char *handle, const idnode_values *vs, unsigned flags,
                  char **minted)
{
	uint32_t f = (flags & IDNODE_CREATE_MINT ? PROTO_F_MINT : 0) |
	             (flags & IDNODE_CREATE_OVERWRITE ? PROTO_F_OVRW : 0);
	if (minted)
		*minted = NULL;
	return values_op(c, PROTO_OP_CREATE_HANDLE, f, handle, vs,
	                 flags & IDNODE_CREATE_MINT ? minted : NULL);
}

int idnode_add_values(idnode_client *c, const char *handle, const idnode_values *vs)
{
	return values_op(c, PROTO_OP_ADD_VALUE, 0, handle, vs, NULL);
}

int idnode_modify_values(idnode_client *c, const char *handle, const idnode_values *vs)
{
	return values_op(c, PROTO_OP_MODIFY_VALUE, 0, handle, vs, NULL);
}

int idnode_delete(idnode_client *c, const char *handle)
{
	return values_op(c, PROTO_OP_DELETE_HANDLE, 0, handle, NULL, NULL);
}

int idnode_remove_values(idnode_client *c, const char *handle, const uint32_t *indexes, size_t n)
{
	char buf[PROTO_HANDLE_MAX + 8];
	lib_op op = {.opcode = PROTO_OP_REMOVE_VALUE, .indexes = indexes, .nindexes = (uint32_t)n};
	int ret = op_handle(c, &op, handle, buf, sizeof buf);
	if (!ret && (!indexes || n == 0 || n > 256))
		ret = lib_fail(c, IDN_EINVAL, "%s: 1 .. 256 indexes to remove", handle);
	return ret ? ret : simple_op(c, &op, NULL);
}

/* Home or unhome prefix. */
static int na_op(idnode_client *c, uint32_t opcode, const char *prefix)
{
	char buf[PROTO_HANDLE_MAX + 8];
	lib_op op = {.opcode = opcode, .na = true};
	int ret = op_handle(c, &op, prefix, buf, sizeof buf);
	return ret ? ret : simple_op(c, &op, NULL);
}

int idnode_home(idnode_client *c, const char *prefix)
{
	return na_op(c, PROTO_OP_HOME_NA, prefix);
}

int idnode_unhome(idnode_client *c, const char *prefix)
{
	return na_op(c, PROTO_OP_UNHOME_NA, prefix);
}

/* Calls name for each handle of one list message: its non-zero return, IDN_EPROTO, or 0. */
static int list_names(const proto_msg *m, int (*name)(void *, const char *), void *arg)
{
	idn_slice body, nm;
	proto_list_resp lr;
	if (proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, NULL, NULL, &body))
		body = m->body;
	if (proto_list_resp_decode(body, &lr))
		return IDN_EPROTO;
	wire_rd it = proto_list_names(&lr);
	char h[PROTO_HANDLE_MAX + 1];
	while (proto_list_next(&it, &nm) == 1) {
		size_t n = nm.len < sizeof h ? nm.len : sizeof h - 1;
		memcpy(h, nm.p, n);
		h[n] = 0;
		int ret = name(arg, h);
		if (ret)
			return ret;
	}
	return it.err ? IDN_EPROTO : IDN_OK;
}

int idnode_list(idnode_client *c, const char *prefix, int (*name)(void *arg, const char *handle),
                void *arg)
{
	char buf[PROTO_HANDLE_MAX + 8];
	lib_op op = {.opcode = PROTO_OP_LIST_HANDLES, .na = true};
	int ret = op_handle(c, &op, prefix, buf, sizeof buf);
	if (!ret && !name)
		ret = lib_fail(c, IDN_EINVAL, "no function to call with the names");
	uint8_t *ans = NULL;
	proto_env aenv;
	proto_msg m;
	if (!ret)
		ret = run_op(c, &op, &ans, &aenv, &m);
	if (!ret)
		ret = lib_answer(c, &m, NULL);
	if (ret) {
		free(ans);
		return ret;
	}
	/* The answer may continue (CN) in further messages with the same request id. */
	ret = list_names(&m, name, arg);
	bool more = m.hdr.flags & PROTO_F_CN;
	while (!ret && more) {
		uint8_t *a = NULL;
		size_t alen;
		proto_msg next;
		ret = c->lg ? client_login_recv_continued(c->lg, aenv.request_id, &a, &alen, &next)
		            : client_recv_continued(c->cn, c->sess, aenv.request_id, &a, &alen,
		                                    &next);
		if (!ret) {
			ret = list_names(&next, name, arg);
			more = next.hdr.flags & PROTO_F_CN;
		}
		free(a);
	}
	free(ans);
	if (ret < 0) {
		lib_drop(c, false); /* the rest of the list may still come: drop it */
		return ret == IDN_EPROTO ? lib_fail(c, ret, "%s: malformed list answer", prefix)
		                         : lib_net_fail(c, ret, c->server_name);
	}
	if (ret > 0 && more)
		lib_drop(c, false);
	return ret;
}

/* ---- batch files ---- */

typedef struct batch_cb {
	void (*result)(void *arg, unsigned line, const char *op, const char *handle,
	               const char *err);
	void *arg;
} batch_cb;

static void batch_result(void *arg, unsigned line, const char *op, const char *handle,
                         const char *err)
{
	const batch_cb *b = arg;
	if (b->result)
		b->result(b->arg, line, op, handle, err);
}

static void batch_notice(void *arg, unsigned line, const char *msg)
{
	batch_result(arg, line, NULL, NULL, msg);
}

/* Gives b c's identity (a copy). */
static int batch_identity(idnode_client *c, client_batch *b)
{
	char ref[PROTO_HANDLE_MAX + 16];
	snprintf(ref, sizeof ref, "%u:%s", c->id_index, c->id_handle);
	if (client_batch_identity(b, ref))
		return IDN_EINVAL;
	if (c->key) {
		EVP_PKEY_up_ref(c->key);
		client_batch_identity_key(b, c->key);
		return IDN_OK;
	}
	return client_batch_identity_secret(b, c->secret, c->slen);
}

int idnode_batch_file(idnode_client *c, const char *path,
                      void (*result)(void *arg, unsigned line, const char *op, const char *handle,
                                     const char *err),
                      void *arg, unsigned *ok, unsigned *failed)
{
	lib_clear(c);
	if (c->auth != IDNODE_AUTH_SESSION && c->auth != IDNODE_AUTH_PLAIN)
		return lib_fail(c, IDN_ENOTSUP, "batch files go in a plain session or none");
	batch_cb cb = {result, arg};
	client_batch_opts bo = {.server = c->server,
	                        .server_name = c->server_name,
	                        .no_session = c->auth == IDNODE_AUTH_PLAIN,
	                        .on_result = batch_result,
	                        .on_notice = batch_notice,
	                        .arg = &cb};
	client_batch *b = NULL;
	if (client_batch_new(&bo, &b))
		return lib_fail(c, IDN_ENOMEM, "out of memory");
	FILE *f = NULL;
	int ret = c->has_id ? batch_identity(c, b) : IDN_OK;
	if (ret)
		ret = lib_fail(c, ret, "identity %u:%s refused", c->id_index, c->id_handle);
	else if (!path || !(f = strcmp(path, "-") ? fopen(path, "r") : stdin))
		ret = lib_fail(c, IDN_EIO, "%s: %m", path ? path : "(null)");
	unsigned nok = 0, nfail = 0;
	if (f) {
		client_batch_run(b, f);
		client_batch_counts(b, &nok, &nfail);
		if (f != stdin)
			fclose(f);
	}
	client_batch_free(b);
	if (ok)
		*ok = nok;
	if (failed)
		*failed = nfail;
	return ret;
}
