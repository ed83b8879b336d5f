/*
 * lib_client.c - libidnode's client handle (include/idnode.h): its settings
 * and identity, errors in words, and resolution, from one server
 * (client_resolve) or through a root (client_resolve_root), into records
 * the caller reads without the wire format.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/batch.h"
#include "client/lib.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/handle.h"

#ifndef IDN_VERSION
#define IDN_VERSION "0.1.0"
#endif

const char *idnode_version(void)
{
	return IDN_VERSION;
}

const char *idnode_strerror(int err)
{
	switch (err) {
	case IDNODE_ESERVER:
		return "the server answered with an error code";
	case IDNODE_EDENIED:
		return "the server refused the identity or its rights";
	case IDNODE_ENOIDENTITY:
		return "no identity set for an authenticated call";
	case IDNODE_ENOTFOUND:
		return "not found";
	case IDNODE_EEXIST:
		return "already exists";
	default:
		return idn_strerror(err);
	}
}

int lib_err(int err)
{
	switch (err) {
	case IDN_OK:
	case IDN_EINVAL:
	case IDN_ENOMEM:
	case IDN_ENOTFOUND:
	case IDN_EEXIST:
	case IDN_EIO:
	case IDN_ETIMEOUT:
	case IDN_ENET:
	case IDN_EPROTO:
	case IDN_ECRYPTO:
	case IDN_ERANGE:
	case IDN_ENOTSUP:
	case IDN_EMISMATCH:
		return err; /* the public codes keep these values */
	case IDN_ETRUNC:
	case IDN_EVERSION:
		return IDNODE_EPROTO;
	case IDN_ESPACE:
		return IDNODE_ERANGE;
	case IDN_EAGAIN:
		return IDNODE_ETIMEOUT;
	case IDN_ECONFIG:
		return IDNODE_EINVAL;
	default:
		return err < -99 ? err : IDNODE_EIO;
	}
}

void lib_clear(idnode_client *c)
{
	c->rcode = 0;
	c->err[0] = 0;
	c->server_msg[0] = 0;
}

int lib_fail(idnode_client *c, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return lib_err(err);
}

int lib_answer(idnode_client *c, const proto_msg *m, idn_slice *rest)
{
	idn_slice body;
	uint32_t rc = m->hdr.rcode;
	c->rcode = rc;
	if (proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, NULL, NULL, &body))
		return lib_fail(c, IDN_EPROTO, "malformed answer from the server");
	if (rest)
		*rest = body;
	if (rc == PROTO_RC_SUCCESS)
		return IDNODE_OK;
	idn_slice text = {NULL, 0};
	proto_error_decode(body, &text);
	size_t tl = text.len < sizeof c->server_msg ? text.len : sizeof c->server_msg - 1;
	if (tl) /* no message at all: text.p is NULL */
		memcpy(c->server_msg, text.p, tl);
	c->server_msg[tl] = 0;
	int err = rc == PROTO_RC_HANDLE_NOT_FOUND || rc == PROTO_RC_VALUE_NOT_FOUND
	              ? IDNODE_ENOTFOUND
	          : rc == PROTO_RC_HANDLE_ALREADY_EXISTS || rc == PROTO_RC_VALUE_ALREADY_EXISTS
	              ? IDNODE_EEXIST
	          : rc >= PROTO_RC_INVALID_ADMIN && rc <= PROTO_RC_AUTHEN_ERROR ? IDNODE_EDENIED
	                                                                        : IDNODE_ESERVER;
	return lib_fail(c, err, "%u %s%s%s", rc, proto_rc_name(rc), tl ? ": " : "", c->server_msg);
}

int lib_net_fail(idnode_client *c, int err, const char *where)
{
	const char *why = client_strerror(err);
	if (why != idn_strerror(err)) /* it names the peer and what happened */
		return lib_fail(c, err, "%s", why);
	return lib_fail(c, err, "%s: %s", where, why);
}

client_identity lib_identity(const idnode_client *c)
{
	return (client_identity){.index = c->id_index,
	                         .handle = idn_slice_of(c->id_handle, strlen(c->id_handle)),
	                         .key = c->key,
	                         .secret = idn_slice_of(c->secret, c->slen)};
}

int idnode_client_new(idnode_client **out)
{
	idnode_client *c = calloc(1, sizeof(*c));
	*out = c;
	if (!c)
		return IDNODE_ENOMEM;
	c->timeout_ms = 3000;
	c->minor = PROTO_MINOR_MAX;
	int ret = idnode_client_set_server(c, "127.0.0.1:2641");
	if (ret) {
		free(c);
		*out = NULL;
	}
	return ret;
}

void idnode_client_free(idnode_client *c)
{
	if (!c)
		return;
	idnode_client_end_session(c);
	EVP_PKEY_free(c->key);
	OPENSSL_cleanse(c->secret, sizeof c->secret);
	free(c);
}

/* Parses hostport into a (named name) for option opt. */
static int set_addr(idnode_client *c, const char *opt, const char *hostport, client_addr *a,
                    char *name, size_t namelen)
{
	char why[256];
	lib_clear(c);
	if (!hostport)
		return lib_fail(c, IDN_EINVAL, "%s: no address", opt);
	if (client_addr_parse(hostport, 2641, a, why, sizeof why))
		return lib_fail(c, IDN_EINVAL, "%s %s", opt, why);
	snprintf(name, namelen, "%s", hostport);
	return IDNODE_OK;
}

int idnode_client_set_server(idnode_client *c, const char *hostport)
{
	client_addr a;
	char name[sizeof c->server_name];
	int ret = set_addr(c, "server", hostport, &a, name, sizeof name);
	if (ret)
		return ret;
	idnode_client_end_session(c);
	c->server = a;
	memcpy(c->server_name, name, sizeof name);
	c->from_root = false;
	return IDNODE_OK;
}

int idnode_client_set_root(idnode_client *c, const char *hostport)
{
	int ret = set_addr(c, "root", hostport, &c->root, c->root_name, sizeof c->root_name);
	if (!ret)
		c->from_root = true;
	return ret;
}

int idnode_client_set_transport(idnode_client *c, int transport)
{
	lib_clear(c);
	if (transport != IDNODE_UDP && transport != IDNODE_TCP)
		return lib_fail(c, IDN_ENOTSUP, "transport %d: UDP (0) or TCP (1)", transport);
	c->transport = transport == IDNODE_TCP ? CLIENT_TCP : CLIENT_UDP;
	return IDNODE_OK;
}

int idnode_client_set_timeout(idnode_client *c, unsigned ms)
{
	lib_clear(c);
	if (ms < 1 || ms > 600000)
		return lib_fail(c, IDN_EINVAL, "timeout %u ms: 1 .. 600000", ms);
	c->timeout_ms = ms;
	return IDNODE_OK;
}

int idnode_client_set_protocol_minor(idnode_client *c, unsigned minor)
{
	lib_clear(c);
	if (minor < 1 || minor > PROTO_MINOR_MAX)
		return lib_fail(c, IDN_EINVAL, "protocol version 2.%u: 2.1 .. 2.%d", minor,
		                PROTO_MINOR_MAX);
	c->minor = (uint8_t)minor;
	return IDNODE_OK;
}

int idnode_client_set_auth(idnode_client *c, int auth)
{
	lib_clear(c);
	if (auth < IDNODE_AUTH_SESSION || auth > IDNODE_AUTH_IDIS_IDS_SM4)
		return lib_fail(c, IDN_EINVAL, "authentication mode %d unknown", auth);
	idnode_client_end_session(c);
	c->auth = auth;
	return IDNODE_OK;
}

/* Sets the identity's index and handle (dropping the former identity). */
static int set_identity(idnode_client *c, uint32_t index, const char *handle)
{
	lib_clear(c);
	if (!handle || !strchr(handle, '/') || index == 0)
		return lib_fail(c, IDN_EINVAL, "identity %u:%s: expected INDEX:PREFIX/SUFFIX",
		                index, handle ? handle : "(null)");
	if (strlen(handle) > PROTO_HANDLE_MAX)
		return lib_fail(c, IDN_ERANGE, "identity handle longer than %d bytes",
		                PROTO_HANDLE_MAX);
	idnode_client_end_session(c);
	EVP_PKEY_free(c->key);
	c->key = NULL;
	OPENSSL_cleanse(c->secret, sizeof c->secret);
	c->slen = 0;
	c->has_id = false;
	c->id_index = index;
	snprintf(c->id_handle, sizeof c->id_handle, "%s", handle);
	return IDNODE_OK;
}

int idnode_client_set_identity_key(idnode_client *c, uint32_t index, const char *handle,
                                   const char *pem_path, const char *passphrase)
{
	int ret = set_identity(c, index, handle);
	if (ret)
		return ret;
	c->key = pem_path ? client_batch_read_key(pem_path, passphrase) : NULL;
	if (!c->key)
		return lib_fail(c, IDN_EIO, "%s: not a readable PEM private key",
		                pem_path ? pem_path : "(null)");
	c->has_id = true;
	return IDNODE_OK;
}

int idnode_client_set_identity_secret(idnode_client *c, uint32_t index, const char *handle,
                                      const void *secret, size_t len)
{
	int ret = set_identity(c, index, handle);
	if (ret)
		return ret;
	if (!secret || len == 0 || len > LIB_SECRET_MAX)
		return lib_fail(c, IDN_ERANGE, "a secret of 1 .. %d bytes", LIB_SECRET_MAX);
	memcpy(c->secret, secret, len);
	c->slen = len;
	c->has_id = true;
	return IDNODE_OK;
}

int idnode_client_set_identity_secret_file(idnode_client *c, uint32_t index, const char *handle,
                                           const char *path)
{
	int ret = set_identity(c, index, handle);
	if (ret)
		return ret;
	if (!path || client_identity_read_secret(path, c->secret, sizeof c->secret, &c->slen))
		return lib_fail(c, IDN_EIO, "%s: cannot read: %m", path ? path : "(null)");
	c->has_id = true;
	return IDNODE_OK;
}

const char *idnode_client_error(const idnode_client *c)
{
	return c->err;
}

uint32_t idnode_client_rcode(const idnode_client *c)
{
	return c->rcode;
}

const char *idnode_client_server_message(const idnode_client *c)
{
	return c->server_msg;
}

int idnode_client_end_session(idnode_client *c)
{
	return lib_drop(c, true);
}

int lib_drop(idnode_client *c, bool terminate)
{
	int ret = IDN_OK;
	client_login_close(c->lg);
	if (c->sess)
		ret = client_session_close(c->sess, terminate && c->cn != NULL);
	client_conn_close(c->cn);
	c->lg = NULL;
	c->sess = NULL;
	c->cn = NULL;
	return lib_err(ret);
}

void idnode_free(void *p)
{
	free(p);
}

/* ---- records ---- */

struct idnode_record {
	uint8_t *ans; /* the answer: values and handle in wire form */
	idn_slice wire;
	uint32_t nwire;
	const char *handle;
	size_t n;
	idnode_value *v;
	idnode_ref *refs;
	char *pool; /* NUL-terminated copies the values point into */
};

/* Copies s into *pool as a C string; returns it. */
static const char *pool_put(char **pool, idn_slice s)
{
	char *p = *pool;
	if (s.len)
		memcpy(p, s.p, s.len);
	p[s.len] = 0;
	*pool = p + s.len + 1;
	return p;
}

/* Fills r's values and references from its wire values (counted before: nrefs, bytes). */
static void record_fill(idnode_record *r, size_t nrefs)
{
	proto_values_it it = proto_values_begin(r->wire, r->nwire);
	proto_value v;
	char *pool = r->pool + strlen(r->handle) + 1;
	size_t i = 0, k = 0;
	while (proto_values_next(&it, &v) == 1 && i < r->n) {
		idnode_value *o = &r->v[i++];
		*o = (idnode_value){.index = v.index,
		                    .type_len = v.type.len,
		                    .len = v.data.len,
		                    .ttl = v.ttl,
		                    .ttl_absolute = v.ttl_type,
		                    .perms = v.perms,
		                    .timestamp = v.timestamp,
		                    .refs = r->refs + k};
		o->type = pool_put(&pool, v.type);
		o->data = (const uint8_t *)pool_put(&pool, v.data);
		wire_rd rc = wire_rd_init(v.refs.p, v.refs.len);
		proto_ref ref;
		while (k < nrefs && proto_ref_next(&rc, &ref) == 1) {
			r->refs[k++] =
			    (idnode_ref){.handle = pool_put(&pool, ref.handle), .index = ref.index};
			o->nrefs++;
		}
	}
}

/* A record of the values of answer ans (taken). IDN_EPROTO when they are malformed. */
static int record_new(uint8_t *ans, const proto_resolve_resp *rr, idnode_record **out)
{
	size_t bytes = rr->handle.len + 1, nrefs = 0;
	proto_values_it it = proto_values_begin(rr->values, rr->nvalues);
	proto_value v;
	int rc;
	while ((rc = proto_values_next(&it, &v)) == 1) {
		bytes += v.type.len + 1 + v.data.len + 1;
		wire_rd c = wire_rd_init(v.refs.p, v.refs.len);
		proto_ref ref;
		while (proto_ref_next(&c, &ref) == 1) {
			bytes += ref.handle.len + 1;
			nrefs++;
		}
	}
	if (rc < 0) {
		free(ans);
		return IDN_EPROTO;
	}
	idnode_record *r = calloc(1, sizeof(*r));
	if (r) {
		r->v = calloc(rr->nvalues + 1, sizeof(*r->v));
		r->refs = calloc(nrefs + 1, sizeof(*r->refs));
		r->pool = malloc(bytes);
	}
	if (!r || !r->v || !r->refs || !r->pool) {
		free(ans);
		idnode_record_free(r);
		return IDN_ENOMEM;
	}
	r->ans = ans;
	r->wire = rr->values;
	r->nwire = rr->nvalues;
	r->n = rr->nvalues;
	char *pool = r->pool;
	r->handle = pool_put(&pool, rr->handle);
	record_fill(r, nrefs);
	*out = r;
	return IDN_OK;
}

/* Asks c's server or root; the answer in *ans, decoded in msg. */
static int ask(idnode_client *c, idn_slice h, const client_resolve_opts *o, uint8_t **ans,
               proto_msg *msg)
{
	size_t alen;
	proto_env env;
	if (!c->from_root) {
		int ret = client_resolve(&c->server, h, o, ans, &alen, &env, msg);
		if (ret) {
			char as[96];
			client_addr_str(&c->server, as, sizeof as);
			strcat(as, o->transport == CLIENT_UDP ? " over UDP" : " over TCP");
			return lib_net_fail(c, ret, as);
		}
		return IDN_OK;
	}
	client_root_opts ro = {.base = *o};
	char why[512] = "";
	int ret = client_resolve_root(&c->root, h, &ro, ans, &alen, &env, msg, why, sizeof why);
	if (ret)
		return lib_fail(c, ret, "from root %s: %s", c->root_name,
		                why[0] ? why : idn_strerror(ret));
	return IDN_OK;
}

int idnode_resolve(idnode_client *c, const char *handle, const char *const *types, size_t ntypes,
                   const uint32_t *indexes, size_t nindexes, idnode_record **out)
{
	*out = NULL;
	lib_clear(c);
	if (!handle || !*handle)
		return lib_fail(c, IDN_EINVAL, "no handle to resolve");
	if (strlen(handle) > PROTO_HANDLE_MAX)
		return lib_fail(c, IDN_ERANGE, "handle longer than %d bytes", PROTO_HANDLE_MAX);
	if (ntypes > 1024 || nindexes > 1024)
		return lib_fail(c, IDN_ERANGE, "at most 1024 types and 1024 indexes");
	idn_slice tv[ntypes ? ntypes : 1];
	for (size_t i = 0; i < ntypes; i++)
		tv[i] = idn_slice_of(types[i], strlen(types[i]));
	client_resolve_opts o = {.transport = c->transport,
	                         .timeout_ms = c->timeout_ms,
	                         .minor = c->minor,
	                         .indexes = indexes,
	                         .nindexes = (uint32_t)nindexes,
	                         .types = tv,
	                         .ntypes = (uint32_t)ntypes};
	uint8_t *ans = NULL;
	proto_msg msg;
	int ret = ask(c, idn_slice_of(handle, strlen(handle)), &o, &ans, &msg);
	idn_slice rest;
	if (!ret)
		ret = lib_answer(c, &msg, &rest);
	proto_resolve_resp rr;
	if (!ret && proto_resolve_resp_decode(rest, &rr))
		ret = lib_fail(c, IDN_EPROTO, "malformed answer from the server");
	if (ret) {
		free(ans);
		return ret;
	}
	ret = record_new(ans, &rr, out);
	return ret ? lib_fail(c, ret, "%s",
	                      ret == IDN_EPROTO ? "malformed values in the answer"
	                                        : idn_strerror(ret))
	           : IDNODE_OK;
}

const char *idnode_record_handle(const idnode_record *r)
{
	return r->handle;
}

size_t idnode_record_count(const idnode_record *r)
{
	return r->n;
}

const idnode_value *idnode_record_value(const idnode_record *r, size_t i)
{
	return i < r->n ? &r->v[i] : NULL;
}

const idnode_value *idnode_record_find(const idnode_record *r, const char *type)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcasecmp(r->v[i].type, type))
			return &r->v[i];
	return NULL;
}

int idnode_value_is_text(const idnode_value *v)
{
	if (!handle_utf8_valid(idn_slice_of(v->data, v->len)))
		return 0;
	for (size_t i = 0; i < v->len; i++)
		if (v->data[i] < 0x20 && v->data[i] != '\t' && v->data[i] != '\n' &&
		    v->data[i] != '\r')
			return 0;
	return 1;
}

void idnode_record_free(idnode_record *r)
{
	if (!r)
		return;
	free(r->ans);
	free(r->v);
	free(r->refs);
	free(r->pool);
	free(r);
}

void lib_record_wire(const idnode_record *r, idn_slice *values, uint32_t *n)
{
	*values = r->wire;
	*n = r->nwire;
}

void lib_trust_src(const idnode_client *c, client_trust_src *src)
{
	*src = (client_trust_src){.addr = c->from_root ? c->root : c->server,
	                          .from_root = c->from_root,
	                          .transport = c->transport,
	                          .timeout_ms = c->timeout_ms};
}
