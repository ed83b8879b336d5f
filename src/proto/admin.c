/*
 * admin.c - administrative, authentication, session and referral bodies.
 */
#include "proto/admin.h"

#include <stdlib.h>

/* ---- helpers ---- */

int proto_answer_split(idn_slice body, bool rd, uint8_t *alg, idn_slice *digest, idn_slice *rest)
{
	wire_rd c = wire_rd_init(body.p, body.len);
	uint8_t a = 0;
	idn_slice d = {NULL, 0};

	if (rd) {
		a = body.len ? body.p[0] : 0;
		proto_skip_digest(&c);
		if (c.err)
			return c.err;
		d = idn_slice_of(body.p + 1, wire_rd_off(&c) - 1);
	}
	if (alg)
		*alg = a;
	if (digest)
		*digest = d;
	*rest = idn_slice_of(c.pos, wire_rd_left(&c));
	return IDN_OK;
}

void proto_put_values(wire_wr *w, const proto_value *values, uint32_t n)
{
	wire_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++)
		proto_value_put(w, &values[i]);
}

/* ---- handle-only requests ---- */

int proto_handle_req_decode(idn_slice body, idn_slice *handle)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	*handle = wire_get_lbytes(&c);
	return c.err;
}

/* ---- create / add / modify ---- */

/* int4 count + that many values, checked; the values are kept raw. */
static void get_values(wire_rd *c, uint32_t *n, idn_slice *raw)
{
	*n = wire_get_count(c, PROTO_VALUE_MIN);
	proto_values_span(c, *n, raw);
}

int proto_values_req_decode(idn_slice body, proto_values_req *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->handle = wire_get_lbytes(&c);
	get_values(&c, &r->nvalues, &r->values);
	return c.err;
}

void proto_values_req_encode(wire_wr *w, idn_slice handle, const proto_value *values, uint32_t n)
{
	wire_put_slice(w, handle);
	proto_put_values(w, values, n);
}

void proto_values_req_encode_raw(wire_wr *w, idn_slice handle, uint32_t n, idn_slice raw)
{
	wire_put_slice(w, handle);
	wire_put_u32(w, n);
	wire_put_data(w, raw.p, raw.len);
}

/* (index, position) pairs, sorted by index then position. */
static int cmp_pair(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

int proto_values_find_dup(idn_slice values, uint32_t nvalues, uint32_t *scratch, size_t scratch_len,
                          uint32_t *pos, uint32_t *index)
{
	wire_rd c = wire_rd_init(values.p, values.len);
	bool sorted = scratch && scratch_len / 2 >= nvalues;
	uint32_t best = UINT32_MAX, best_index = 0;

	if (sorted) {
		for (uint32_t i = 0; i < nvalues && c.err == IDN_OK; i++) {
			proto_value v;
			proto_value_get(&c, &v);
			scratch[2 * i] = v.index;
			scratch[2 * i + 1] = i;
		}
		if (c.err)
			return c.err;
		qsort(scratch, nvalues, 2 * sizeof(uint32_t), cmp_pair);
		/* In a run of equal indexes, the first position has a later twin. */
		for (uint32_t i = 0; i + 1 < nvalues; i++) {
			if (scratch[2 * i] != scratch[2 * i + 2])
				continue;
			if (scratch[2 * i + 1] < best) {
				best = scratch[2 * i + 1];
				best_index = scratch[2 * i];
			}
			while (i + 1 < nvalues && scratch[2 * i] == scratch[2 * i + 2])
				i++;
		}
	} else {
		/* Quadratic, in the reference's order: the first i with a later twin. */
		wire_rd outer = c;
		for (uint32_t i = 0; i < nvalues && best == UINT32_MAX; i++) {
			proto_value vi;
			proto_value_get(&outer, &vi);
			if (outer.err)
				return outer.err;
			wire_rd inner = outer;
			for (uint32_t j = i + 1; j < nvalues; j++) {
				proto_value vj;
				proto_value_get(&inner, &vj);
				if (inner.err)
					return inner.err;
				if (vj.index == vi.index) {
					best = i;
					best_index = vi.index;
					break;
				}
			}
		}
	}
	if (best == UINT32_MAX)
		return 0;
	*pos = best;
	*index = best_index;
	return 1;
}

int proto_create_resp_decode(idn_slice body, idn_slice *handle)
{
	*handle = (idn_slice){NULL, 0};
	if (body.len == 0)
		return IDN_OK; /* no MINT: the reference sends an empty body */
	return proto_handle_req_decode(body, handle);
}

/* ---- remove value ---- */

int proto_remove_req_decode(idn_slice body, proto_remove_req *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->handle = wire_get_lbytes(&c);
	r->nindexes = wire_get_count(&c, 4);
	r->indexes = wire_get_raw(&c, (size_t)r->nindexes * 4);
	return c.err;
}

void proto_remove_req_encode(wire_wr *w, idn_slice handle, const uint32_t *indexes, uint32_t n)
{
	wire_put_slice(w, handle);
	wire_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++)
		wire_put_u32(w, indexes[i]);
}

/* ---- lists ---- */

int proto_list_resp_decode(idn_slice body, proto_list_resp *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->n = wire_get_count(&c, 4);
	const uint8_t *start = c.pos;
	for (uint32_t i = 0; i < r->n && c.err == IDN_OK; i++)
		wire_get_lbytes(&c);
	r->names = c.err ? (idn_slice){NULL, 0} : idn_slice_of(start, (size_t)(c.pos - start));
	return c.err;
}

int proto_list_next(wire_rd *it, idn_slice *name)
{
	if (it->err)
		return it->err;
	if (wire_rd_left(it) == 0)
		return 0;
	*name = wire_get_lbytes(it);
	return it->err ? it->err : 1;
}

void proto_list_resp_encode(wire_wr *w, const idn_slice *names, uint32_t n)
{
	wire_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++)
		wire_put_slice(w, names[i]);
}

uint32_t proto_list_fit(const idn_slice *names, uint32_t n, size_t room)
{
	size_t used = 4;
	uint32_t k = 0;

	while (k < n && used + 4 + (size_t)names[k].len <= room) {
		used += 4 + (size_t)names[k].len;
		k++;
	}
	return k == 0 && n > 0 ? 1 : k;
}

/* ---- challenge response ---- */

int proto_login_req_decode(idn_slice body, proto_login_req *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->handle = wire_get_lbytes(&c);
	r->index = wire_get_u32(&c);
	r->cred_len = false;
	if (!c.err && wire_rd_left(&c)) {
		r->cred_len = true;
		wire_get_lbytes(&c); /* what it counts: nothing, from the SDK */
		if (!c.err && wire_rd_left(&c))
			return IDN_EINVAL;
	}
	return c.err;
}

void proto_login_req_encode(wire_wr *w, const proto_login_req *r)
{
	wire_put_slice(w, r->handle);
	wire_put_u32(w, r->index);
	if (r->cred_len)
		wire_put_u32(w, 0);
}

int proto_chresp_decode(idn_slice body, proto_chresp *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->auth_type = wire_get_lbytes(&c);
	r->handle = wire_get_lbytes(&c);
	r->index = wire_get_u32(&c);
	r->signed_resp = wire_get_lbytes(&c);
	return c.err;
}

void proto_chresp_encode(wire_wr *w, const proto_chresp *r)
{
	wire_put_slice(w, r->auth_type);
	wire_put_slice(w, r->handle);
	wire_put_u32(w, r->index);
	wire_put_slice(w, r->signed_resp);
}

int proto_sig_resp_decode(idn_slice signed_resp, proto_sig_resp *s)
{
	wire_rd c = wire_rd_init(signed_resp.p, signed_resp.len);

	s->hash_alg = wire_get_lbytes(&c);
	s->sig = wire_get_lbytes(&c);
	return c.err;
}

void proto_sig_resp_put(wire_wr *w, const proto_sig_resp *s)
{
	wire_put_slice(w, s->hash_alg);
	wire_put_slice(w, s->sig);
}

/* MAC length of the fixed-length secret-key forms, 0 for the others. */
static size_t seckey_mac_len(uint8_t alg)
{
	switch (alg) {
	case PROTO_SECKEY_MD5:
		return 16;
	case PROTO_SECKEY_SHA1:
	case PROTO_SECKEY_HMAC_SHA1:
		return 20;
	case PROTO_SECKEY_SHA256:
	case PROTO_SECKEY_HMAC_SHA256:
		return 32;
	}
	return 0;
}

int proto_seckey_resp_decode(idn_slice signed_resp, proto_seckey_resp *s)
{
	wire_rd c = wire_rd_init(signed_resp.p, signed_resp.len);

	memset(s, 0, sizeof(*s));
	s->alg = wire_get_u8(&c);
	if (c.err)
		return c.err;
	if (s->alg == PROTO_SECKEY_PBKDF2) {
		s->salt = wire_get_lbytes(&c);
		s->iterations = wire_get_u32(&c);
		s->key_bits = wire_get_u32(&c);
		s->mac = wire_get_lbytes(&c);
		return c.err;
	}
	s->mac = idn_slice_of(c.pos, wire_rd_left(&c));
	size_t want = seckey_mac_len(s->alg);
	if (want == 0)
		return IDN_ENOTSUP;
	return s->mac.len == want ? IDN_OK : IDN_EINVAL;
}

void proto_seckey_resp_put(wire_wr *w, const proto_seckey_resp *s)
{
	wire_put_u8(w, s->alg);
	if (s->alg == PROTO_SECKEY_PBKDF2) {
		wire_put_slice(w, s->salt);
		wire_put_u32(w, s->iterations);
		wire_put_u32(w, s->key_bits);
		wire_put_slice(w, s->mac);
		return;
	}
	wire_put_data(w, s->mac.p, s->mac.len);
}

/* ---- verify response ---- */

int proto_verify_req_decode(idn_slice body, proto_verify_req *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->handle = wire_get_lbytes(&c);
	r->index = wire_get_u32(&c);
	r->nonce = wire_get_lbytes(&c);
	/*
	 * The reference peeks at one byte: 0 is the top byte of an int4 length
	 * (the length-prefixed form), anything else a digest algorithm.
	 */
	const uint8_t *peek = wire_get_raw(&c, 1);
	if (c.err)
		return c.err;
	r->digest_alg = peek[0];
	if (r->digest_alg == 0) {
		c.pos--;
		r->digest = wire_get_lbytes(&c);
	} else {
		size_t n = proto_digest_len((enum proto_hash)r->digest_alg);
		if (n == 0)
			return IDN_EINVAL;
		const uint8_t *d = wire_get_raw(&c, n);
		r->digest = d ? idn_slice_of(d, n) : (idn_slice){NULL, 0};
	}
	r->signed_resp = wire_get_lbytes(&c);
	return c.err;
}

void proto_verify_req_encode(wire_wr *w, const proto_verify_req *r)
{
	wire_put_slice(w, r->handle);
	wire_put_u32(w, r->index);
	wire_put_slice(w, r->nonce);
	if (r->digest_alg == 0) {
		wire_put_slice(w, r->digest);
	} else {
		wire_put_u8(w, r->digest_alg);
		wire_put_data(w, r->digest.p, r->digest.len);
	}
	wire_put_slice(w, r->signed_resp);
}

int proto_verify_resp_decode(idn_slice body, bool *valid)
{
	wire_rd c = wire_rd_init(body.p, body.len);
	uint8_t v = wire_get_u8(&c);

	*valid = (v & 0x01) != 0;
	return c.err;
}

/* ---- 402 challenge ---- */

int proto_challenge_decode(idn_slice body, bool rd, proto_challenge *c)
{
	idn_slice rest;
	int rc = proto_answer_split(body, rd, &c->hash, &c->digest, &rest);
	if (rc)
		return rc;
	return proto_handle_req_decode(rest, &c->nonce);
}

void proto_challenge_encode(wire_wr *w, const proto_challenge *c)
{
	if (c->hash) {
		wire_put_u8(w, c->hash);
		wire_put_data(w, c->digest.p, c->digest.len);
	}
	wire_put_slice(w, c->nonce);
}

/* ---- sessions ---- */

int proto_session_req_decode(idn_slice body, proto_session_req *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	memset(r, 0, sizeof(*r));
	r->mode = wire_get_u16(&c);
	r->timeout = wire_get_u32(&c);
	r->identity = wire_get_lbytes(&c);
	r->identity_index = wire_get_u32(&c);
	switch (r->mode) {
	case PROTO_KX_CIPHER_CLIENT:
	case PROTO_KX_DH:
		r->pubkey = wire_get_lbytes(&c);
		break;
	case PROTO_KX_CIPHER_HDL:
		r->key_handle = wire_get_lbytes(&c);
		r->key_index = wire_get_u32(&c);
		break;
	default:
		break; /* nothing follows; the node decides whether the mode is acceptable */
	}
	return c.err;
}

void proto_session_req_encode(wire_wr *w, const proto_session_req *r)
{
	wire_put_u16(w, r->mode);
	wire_put_u32(w, r->timeout);
	wire_put_slice(w, r->identity);
	wire_put_u32(w, r->identity_index);
	switch (r->mode) {
	case PROTO_KX_CIPHER_CLIENT:
	case PROTO_KX_DH:
		wire_put_slice(w, r->pubkey);
		break;
	case PROTO_KX_CIPHER_HDL:
		wire_put_slice(w, r->key_handle);
		wire_put_u32(w, r->key_index);
		break;
	default:
		break;
	}
	wire_put_u16(w, 0); /* the reference's spare bytes (mode counted as int4) */
}

int proto_session_resp_decode(idn_slice body, proto_session_resp *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);

	r->mode = wire_get_u16(&c);
	r->data = wire_get_lbytes(&c);
	return c.err;
}

void proto_session_resp_encode(wire_wr *w, const proto_session_resp *r)
{
	wire_put_u16(w, r->mode);
	wire_put_slice(w, r->data);
	wire_put_u16(w, 0); /* the reference's spare bytes, as in the request */
}

/* ---- referrals ---- */

int proto_referral_decode(idn_slice body, proto_resolve_resp *r)
{
	wire_rd c = wire_rd_init(body.p, body.len);
	idn_slice handle = wire_get_lbytes(&c);

	if (c.err)
		return c.err;
	if (wire_rd_left(&c) == 0) {
		r->handle = handle;
		r->nvalues = 0;
		r->values = idn_slice_of(c.pos, 0);
		return IDN_OK;
	}
	return proto_resolve_resp_decode(body, r);
}

void proto_referral_encode(wire_wr *w, idn_slice handle, uint32_t nvalues, idn_slice raw_values)
{
	wire_put_slice(w, handle);
	wire_put_u32(w, nvalues);
	wire_put_data(w, raw_values.p, raw_values.len);
}
