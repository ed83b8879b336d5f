/*
 * proto.c - envelope, header, message framing, values, resolution bodies and
 * request digests.
 */
#include "proto/proto.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

int proto_env_decode(const uint8_t *p, size_t len, proto_env *env)
{
	if (len < PROTO_ENV_LEN)
		return IDN_ETRUNC;
	env->major = p[0];
	env->minor = p[1];
	env->flags = p[2];
	env->sugg_minor = p[3];
	env->session_id = idn_be32(p + 4);
	env->request_id = idn_be32(p + 8);
	env->seq = idn_be32(p + 12);
	env->msg_len = idn_be32(p + 16);
	return IDN_OK;
}

void proto_env_encode(const proto_env *env, uint8_t out[PROTO_ENV_LEN])
{
	out[0] = env->major;
	out[1] = env->minor;
	out[2] = env->flags;
	out[3] = env->sugg_minor;
	idn_put_be32(out + 4, env->session_id);
	idn_put_be32(out + 8, env->request_id);
	idn_put_be32(out + 12, env->seq);
	idn_put_be32(out + 16, env->msg_len);
}

int proto_msg_decode(const uint8_t *p, size_t len, proto_msg *m)
{
	wire_rd c = wire_rd_init(p, len);
	proto_hdr *h = &m->hdr;

	h->opcode = wire_get_u32(&c);
	h->rcode = wire_get_u32(&c);
	h->flags = wire_get_u32(&c);
	h->site_serial = wire_get_u16(&c);
	h->recursion = wire_get_u8(&c);
	h->reserved = wire_get_u8(&c);
	h->expiration = wire_get_u32(&c);
	h->body_len = wire_get_u32(&c);
	const uint8_t *body = wire_get_raw(&c, h->body_len);
	if (c.err)
		return c.err;
	m->body = idn_slice_of(body, h->body_len);
	m->hb = idn_slice_of(p, PROTO_HDR_LEN + (size_t)h->body_len);
	m->cred = (idn_slice){NULL, 0};
	if (wire_rd_left(&c) == 0)
		return IDN_OK; /* no credential-length field: no credential */
	m->cred = wire_get_lbytes(&c);
	return c.err;
}

void proto_hdr_encode(wire_wr *w, const proto_hdr *h)
{
	wire_put_u32(w, h->opcode);
	wire_put_u32(w, h->rcode);
	wire_put_u32(w, h->flags);
	wire_put_u16(w, h->site_serial);
	wire_put_u8(w, h->recursion);
	wire_put_u8(w, h->reserved);
	wire_put_u32(w, h->expiration);
	wire_put_u32(w, h->body_len);
}

void proto_build_begin(proto_build *b, void *buf, size_t cap, const proto_env *env,
                       const proto_hdr *hdr)
{
	b->w = wire_wr_init(buf, cap);
	b->env = wire_put_raw(&b->w, PROTO_ENV_LEN);
	if (b->env)
		proto_env_encode(env, b->env);
	b->hdr = b->w.pos;
	proto_hdr_encode(&b->w, hdr);
}

idn_slice proto_build_body_end(proto_build *b)
{
	if (b->w.err)
		return (idn_slice){NULL, 0};
	size_t body_len = (size_t)(b->w.pos - b->hdr) - PROTO_HDR_LEN;
	idn_put_be32(b->hdr + 20, (uint32_t)body_len);
	return idn_slice_of(b->hdr, PROTO_HDR_LEN + body_len);
}

int proto_build_end(proto_build *b, const uint8_t *cred, uint32_t cred_len)
{
	proto_build_body_end(b);
	wire_put_lbytes(&b->w, cred, cred_len);
	if (b->w.err)
		return b->w.err;
	size_t total = wire_wr_len(&b->w);
	if (total - PROTO_ENV_LEN > PROTO_MSG_MAX)
		return IDN_ERANGE;
	idn_put_be32(b->env + 16, (uint32_t)(total - PROTO_ENV_LEN));
	return (int)total;
}

/* ---- request digests ---- */

enum proto_hash proto_digest_alg(uint8_t major, uint8_t minor)
{
	unsigned v = proto_ver(major, minor);
	if (v < proto_ver(2, 1))
		return PROTO_HASH_MD5;
	if (v < proto_ver(2, 7))
		return PROTO_HASH_SHA1;
	return PROTO_HASH_SHA256;
}

size_t proto_digest_len(enum proto_hash alg)
{
	switch (alg) {
	case PROTO_HASH_MD5:
		return 16;
	case PROTO_HASH_SHA1:
		return 20;
	case PROTO_HASH_SHA256:
		return 32;
	}
	return 0;
}

int proto_digest(enum proto_hash alg, const uint8_t *data, size_t len, uint8_t *out)
{
	switch (alg) {
	case PROTO_HASH_MD5:
		return EVP_Digest(data, len, out, NULL, EVP_md5(), NULL) == 1 ? IDN_OK
		                                                              : IDN_ECRYPTO;
	case PROTO_HASH_SHA1:
		SHA1(data, len, out);
		return IDN_OK;
	case PROTO_HASH_SHA256:
		SHA256(data, len, out);
		return IDN_OK;
	}
	return IDN_EINVAL;
}

void proto_put_digest(wire_wr *w, enum proto_hash alg, idn_slice hb)
{
	size_t n = proto_digest_len(alg);
	uint8_t *p = wire_put_raw(w, 1 + n);
	if (!p)
		return;
	p[0] = (uint8_t)alg;
	proto_digest(alg, hb.p, hb.len, p + 1);
}

void proto_skip_digest(wire_rd *c)
{
	size_t n = proto_digest_len((enum proto_hash)wire_get_u8(c));
	if (c->err == IDN_OK && n == 0)
		wire_rd_fail(c, IDN_EINVAL);
	wire_skip(c, n);
}

/* ---- values ---- */

/* A value's fields; inlined into the walk below: one call per value, as a hand loop. */
static inline __attribute__((always_inline)) void value_get(wire_rd *c, proto_value *v)
{
	v->index = wire_get_u32(c);
	v->timestamp = wire_get_u32(c);
	v->ttl_type = wire_get_u8(c);
	v->ttl = wire_get_u32(c);
	v->perms = wire_get_u8(c);
	v->type = wire_get_lbytes(c);
	v->data = wire_get_lbytes(c);
	v->nrefs = wire_get_count(c, 8);
	const uint8_t *refs = c->pos;
	for (uint32_t i = 0; i < v->nrefs && c->err == IDN_OK; i++) {
		wire_get_lbytes(c);
		wire_skip(c, 4);
	}
	v->refs = c->err ? (idn_slice){NULL, 0} : idn_slice_of(refs, (size_t)(c->pos - refs));
}

void proto_value_get(wire_rd *c, proto_value *v)
{
	value_get(c, v);
}

int proto_values_next(proto_values_it *it, proto_value *v)
{
	if (it->c.err)
		return it->c.err;
	if (it->left == 0)
		return 0;
	const uint8_t *start = it->c.pos;
	value_get(&it->c, v);
	if (it->c.err)
		return it->c.err;
	it->left--;
	it->raw = idn_slice_of(start, (size_t)(it->c.pos - start));
	return 1;
}

static bool type_matches(idn_slice t, const proto_values_match *m)
{
	if (m->type.len == 0)
		return true;
	if (t.len != m->type.len)
		return false;
	if (!m->type_nocase)
		return memcmp(t.p, m->type.p, t.len) == 0;
	return strncasecmp((const char *)t.p, (const char *)m->type.p, t.len) == 0;
}

int proto_values_find(proto_values_it *it, const proto_values_match *m, proto_value *v)
{
	int rc;
	while ((rc = proto_values_next(it, v)) == 1)
		if ((m->index == 0 || v->index == m->index) && type_matches(v->type, m))
			return 1;
	return rc;
}

void proto_values_span(wire_rd *c, uint32_t n, idn_slice *raw)
{
	const uint8_t *start = c->pos;
	for (uint32_t i = 0; i < n && c->err == IDN_OK; i++) {
		proto_value v;
		proto_value_get(c, &v);
	}
	*raw = c->err ? (idn_slice){NULL, 0} : idn_slice_of(start, (size_t)(c->pos - start));
}

void proto_value_put(wire_wr *w, const proto_value *v)
{
	wire_put_u32(w, v->index);
	wire_put_u32(w, v->timestamp);
	wire_put_u8(w, v->ttl_type);
	wire_put_u32(w, v->ttl);
	wire_put_u8(w, v->perms);
	wire_put_slice(w, v->type);
	wire_put_slice(w, v->data);
	wire_put_u32(w, v->nrefs);
	wire_put_data(w, v->refs.p, v->refs.len);
}

size_t proto_value_size(const proto_value *v)
{
	return PROTO_VALUE_MIN + v->type.len + v->data.len + v->refs.len;
}

int proto_ref_next(wire_rd *refs, proto_ref *r)
{
	if (refs->err)
		return refs->err;
	if (wire_rd_left(refs) == 0)
		return 0;
	r->handle = wire_get_lbytes(refs);
	r->index = wire_get_u32(refs);
	return refs->err ? refs->err : 1;
}

/* ---- resolution ---- */

int proto_resolve_req_decode(idn_slice body, proto_resolve_req *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->handle = wire_get_lbytes(&c);
	r->nindexes = wire_get_count(&c, 4);
	r->indexes = wire_get_raw(&c, (size_t)r->nindexes * 4);
	r->ntypes = wire_get_count(&c, 4);
	const uint8_t *types = c.pos;
	for (uint32_t i = 0; i < r->ntypes && c.err == IDN_OK; i++)
		wire_get_lbytes(&c);
	r->types = c.err ? (idn_slice){NULL, 0} : idn_slice_of(types, (size_t)(c.pos - types));
	r->auth = (idn_slice){NULL, 0};
	if (!c.err && wire_rd_left(&c))
		r->auth = wire_get_lbytes(&c);
	return c.err;
}

void proto_resolve_req_encode(wire_wr *w, idn_slice handle, const uint32_t *indexes,
                              uint32_t nindexes, const idn_slice *types, uint32_t ntypes)
{
	wire_put_slice(w, handle);
	wire_put_u32(w, nindexes);
	for (uint32_t i = 0; i < nindexes; i++)
		wire_put_u32(w, indexes[i]);
	wire_put_u32(w, ntypes);
	for (uint32_t i = 0; i < ntypes; i++)
		wire_put_slice(w, types[i]);
}

int proto_resolve_resp_decode(idn_slice body, proto_resolve_resp *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->handle = wire_get_lbytes(&c);
	r->nvalues = wire_get_count(&c, PROTO_VALUE_MIN);
	proto_values_span(&c, r->nvalues, &r->values);
	return c.err;
}

int proto_error_decode(idn_slice body, idn_slice *message)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	*message = (idn_slice){NULL, 0};
	if (body.len == 0)
		return IDN_OK; /* some servers send no message at all */
	*message = wire_get_lbytes(&c);
	return c.err;
}

/* ---- names ---- */

const char *proto_op_name(uint32_t op)
{
	switch (op) {
	case PROTO_OP_RESOLUTION:
		return "RESOLUTION";
	case PROTO_OP_GET_SITE_INFO:
		return "GET_SITE_INFO";
	case PROTO_OP_CREATE_HANDLE:
		return "CREATE_HANDLE";
	case PROTO_OP_DELETE_HANDLE:
		return "DELETE_HANDLE";
	case PROTO_OP_ADD_VALUE:
		return "ADD_VALUE";
	case PROTO_OP_REMOVE_VALUE:
		return "REMOVE_VALUE";
	case PROTO_OP_MODIFY_VALUE:
		return "MODIFY_VALUE";
	case PROTO_OP_LIST_HANDLES:
		return "LIST_HANDLES";
	case PROTO_OP_LIST_NAS:
		return "LIST_NAS";
	case PROTO_OP_CHALLENGE_RESPONSE:
		return "CHALLENGE_RESPONSE";
	case PROTO_OP_VERIFY_RESPONSE:
		return "VERIFY_RESPONSE";
	case PROTO_OP_HOME_NA:
		return "HOME_NA";
	case PROTO_OP_UNHOME_NA:
		return "UNHOME_NA";
	case PROTO_OP_LIST_HOMED_NAS:
		return "LIST_HOMED_NAS";
	case PROTO_OP_SESSION_SETUP:
		return "SESSION_SETUP";
	case PROTO_OP_SESSION_TERMINATE:
		return "SESSION_TERMINATE";
	case PROTO_OP_SESSION_EXCHANGEKEY:
		return "SESSION_EXCHANGEKEY";
	case PROTO_OP_GET_NEXT_TXN_ID:
		return "GET_NEXT_TXN_ID";
	case PROTO_OP_RETRIEVE_TXN_LOG:
		return "RETRIEVE_TXN_LOG";
	case PROTO_OP_DUMP_HANDLES:
		return "DUMP_HANDLES";
	case PROTO_OP_BACKUP_SERVER:
		return "BACKUP_SERVER";
	case PROTO_OP_IDIS_LOGIN:
		return "IDIS_LOGIN";
	}
	return "UNKNOWN";
}

const char *proto_rc_name(uint32_t rc)
{
	switch (rc) {
	case PROTO_RC_RESERVED:
		return "RESERVED";
	case PROTO_RC_SUCCESS:
		return "SUCCESS";
	case PROTO_RC_ERROR:
		return "ERROR";
	case PROTO_RC_SERVER_BUSY:
		return "SERVER_BUSY";
	case PROTO_RC_PROTOCOL_ERROR:
		return "PROTOCOL_ERROR";
	case PROTO_RC_OPERATION_NOT_SUPPORTED:
		return "OPERATION_NOT_SUPPORTED";
	case PROTO_RC_RECURSION_COUNT_TOO_HIGH:
		return "RECURSION_COUNT_TOO_HIGH";
	case PROTO_RC_SERVER_BACKUP:
		return "SERVER_BACKUP";
	case PROTO_RC_HANDLE_NOT_FOUND:
		return "HANDLE_NOT_FOUND";
	case PROTO_RC_HANDLE_ALREADY_EXISTS:
		return "HANDLE_ALREADY_EXISTS";
	case PROTO_RC_INVALID_HANDLE:
		return "INVALID_HANDLE";
	case PROTO_RC_VALUE_NOT_FOUND:
		return "VALUE_NOT_FOUND";
	case PROTO_RC_VALUE_ALREADY_EXISTS:
		return "VALUE_ALREADY_EXISTS";
	case PROTO_RC_INVALID_VALUE:
		return "INVALID_VALUE";
	case PROTO_RC_OUT_OF_DATE_SITE_INFO:
		return "OUT_OF_DATE_SITE_INFO";
	case PROTO_RC_SERVER_NOT_RESP:
		return "SERVER_NOT_RESPONSIBLE";
	case PROTO_RC_SERVICE_REFERRAL:
		return "SERVICE_REFERRAL";
	case PROTO_RC_PREFIX_REFERRAL:
		return "PREFIX_REFERRAL";
	case PROTO_RC_INVALID_ADMIN:
		return "INVALID_ADMIN";
	case PROTO_RC_INSUFFICIENT_PERMISSIONS:
		return "INSUFFICIENT_PERMISSIONS";
	case PROTO_RC_AUTHENTICATION_NEEDED:
		return "AUTHENTICATION_NEEDED";
	case PROTO_RC_AUTHENTICATION_FAILED:
		return "AUTHENTICATION_FAILED";
	case PROTO_RC_INVALID_CREDENTIAL:
		return "INVALID_CREDENTIAL";
	case PROTO_RC_AUTHEN_TIMEOUT:
		return "AUTHENTICATION_TIMEOUT";
	case PROTO_RC_AUTHEN_ERROR:
		return "AUTHENTICATION_ERROR";
	case PROTO_RC_SESSION_TIMEOUT:
		return "SESSION_TIMEOUT";
	case PROTO_RC_SESSION_FAILED:
		return "SESSION_FAILED";
	case PROTO_RC_SESSION_NO_KEY:
		return "SESSION_NO_KEY";
	case PROTO_RC_SESSION_NEED_MSG:
		return "SESSION_NEEDS_MESSAGE";
	case PROTO_RC_SESSION_INVALID_MSG:
		return "SESSION_INVALID_MESSAGE";
	case PROTO_RC_SESSION_COUNTER:
		return "SESSION_COUNTER";
	case 601:
		return "NATIONAL_LIMIT";
	case 602:
		return "NATIONAL_LIMIT";
	case 603:
		return "DAILY_REQUEST_LIMIT";
	case 604:
		return "REGISTRATION_LIMIT";
	case 605:
		return "PREFIX_LIMIT";
	}
	return "UNKNOWN";
}
