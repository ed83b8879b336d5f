/*
 * test_admin.c - administrative, authentication, session and referral bodies
 * and credential sections, against the reference captures in shared/vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "proto/admin.h"
#include "proto/cred.h"
#include "proto/proto.h"
#include "proto/reserved.h"
#include "vectors.h"

/* ---- helpers ---- */

static int vec_msg(const struct tvec *v, proto_msg *m)
{
	if (v->len < PROTO_ENV_LEN || v->frag_index > 0)
		return -1;
	return proto_msg_decode(v->bytes + PROTO_ENV_LEN, v->len - PROTO_ENV_LEN, m);
}

static void load_msg(const char *name, proto_msg *m)
{
	const struct tvec *v = tvec_find(name);
	if (!v)
		fail_msg("no vector %s", name);
	assert_int_equal(vec_msg(v, m), 0);
}

static uint8_t *exact_copy(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);
	assert_non_null(q);
	if (len)
		memcpy(q, p, len);
	return q;
}

static void assert_bytes(const uint8_t *buf, const wire_wr *w, idn_slice want)
{
	assert_int_equal(w->err, 0);
	assert_int_equal(wire_wr_len(w), want.len);
	assert_memory_equal(buf, want.p, want.len);
}

/* Requests (from any producer) with a given opcode, complete messages only. */
typedef void (*vec_fn)(const struct tvec *v, const proto_msg *m);

static size_t for_each(const char *direction, uint32_t opcode, int rcode, vec_fn fn)
{
	size_t n, count = 0;
	const struct tvec *all = tvec_all(&n);
	for (size_t i = 0; i < n; i++) {
		proto_msg m;
		if (strcmp(all[i].direction, direction) || vec_msg(&all[i], &m) ||
		    m.hdr.opcode != opcode || (rcode >= 0 && m.hdr.rcode != (uint32_t)rcode))
			continue;
		/* A multi-datagram answer is checked through its reassembled copy. */
		if (all[i].frag_count > 1)
			continue;
		fn(&all[i], &m);
		count++;
	}
	return count;
}

/* The request a response answers: same exchange, "01-request". */
static const struct tvec *original_request(const struct tvec *v)
{
	char name[256];
	snprintf(name, sizeof(name), "%s/01-request", v->exchange);
	return tvec_find(name);
}

static uint32_t rng_state = 0x9e3779b9;
static uint8_t rnd8(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return (uint8_t)rng_state;
}

/* Runs every body decoder over s; none may fail other than by returning an error. */
static void all_decoders(idn_slice s)
{
	idn_slice h;
	proto_values_req vr;
	proto_remove_req rr;
	proto_list_resp lr;
	proto_chresp cr;
	proto_sig_resp sr;
	proto_seckey_resp kr;
	proto_verify_req vq;
	proto_challenge ch;
	proto_session_req sq;
	proto_session_resp sp;
	proto_resolve_resp rf;
	proto_cred cd;
	bool valid;
	uint32_t pos, idx, scratch[64];

	(void)proto_handle_req_decode(s, &h);
	if (proto_values_req_decode(s, &vr) == 0) {
		(void)proto_values_find_dup(vr.values, vr.nvalues, scratch, 64, &pos, &idx);
		(void)proto_values_find_dup(vr.values, vr.nvalues, NULL, 0, &pos, &idx);
		wire_rd c = wire_rd_init(vr.values.p, vr.values.len);
		for (uint32_t i = 0; i < vr.nvalues; i++) {
			proto_value v;
			proto_value_get(&c, &v);
			assert_int_equal(c.err, 0);
		}
	}
	if (proto_remove_req_decode(s, &rr) == 0 && rr.nindexes)
		(void)proto_index_at(rr.indexes, rr.nindexes - 1);
	if (proto_list_resp_decode(s, &lr) == 0) {
		wire_rd it = proto_list_names(&lr);
		while (proto_list_next(&it, &h) == 1)
			;
	}
	(void)proto_create_resp_decode(s, &h);
	(void)proto_chresp_decode(s, &cr);
	(void)proto_sig_resp_decode(s, &sr);
	(void)proto_seckey_resp_decode(s, &kr);
	(void)proto_verify_req_decode(s, &vq);
	(void)proto_verify_resp_decode(s, &valid);
	(void)proto_challenge_decode(s, true, &ch);
	(void)proto_challenge_decode(s, false, &ch);
	(void)proto_session_req_decode(s, &sq);
	(void)proto_session_resp_decode(s, &sp);
	if (proto_referral_decode(s, &rf) == 0) {
		wire_rd c = wire_rd_init(rf.values.p, rf.values.len);
		for (uint32_t i = 0; i < rf.nvalues; i++) {
			proto_value v;
			proto_value_get(&c, &v);
			assert_int_equal(c.err, 0);
		}
	}
	(void)proto_cred_decode(s, &cd);
	uint8_t alg;
	idn_slice d, rest;
	(void)proto_answer_split(s, true, &alg, &d, &rest);
}

/* Every prefix of body in an exact-size buffer through every decoder. */
static void truncations(idn_slice body)
{
	for (size_t len = 0; len <= body.len; len++) {
		uint8_t *p = exact_copy(body.p, len);
		all_decoders(idn_slice_of(p, len));
		free(p);
	}
}

/* ---- 100 / 102 / 104 ---- */

static void check_values_req(const struct tvec *v, const proto_msg *m)
{
	proto_values_req r;
	proto_value vals[64];
	uint8_t out[8192];

	assert_int_equal(proto_values_req_decode(m->body, &r), 0);
	assert_true(r.nvalues > 0 && r.nvalues <= 64);
	assert_int_equal(r.handle.p + r.handle.len + 4, r.values.p);
	assert_int_equal(r.values.p + r.values.len, m->body.p + m->body.len);

	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++)
		proto_value_get(&c, &vals[i]);
	assert_int_equal(c.err, 0);

	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_values_req_encode(&w, r.handle, vals, r.nvalues);
	assert_bytes(out, &w, m->body);
	w = wire_wr_init(out, sizeof(out));
	proto_values_req_encode_raw(&w, r.handle, r.nvalues, r.values);
	assert_bytes(out, &w, m->body);

	/* Only x8b repeats an index within the request. */
	uint32_t scratch[128], pos = 99, idx = 99;
	int dup = proto_values_find_dup(r.values, r.nvalues, scratch, 128, &pos, &idx);
	int dup2 = proto_values_find_dup(r.values, r.nvalues, NULL, 0, &pos, &idx);
	assert_int_equal(dup, dup2);
	if (strncmp(v->exchange, "x8b", 3) == 0) {
		assert_int_equal(dup, 1);
		assert_int_equal(pos, 0);
		assert_int_equal(idx, 9);
	} else {
		assert_int_equal(dup, 0);
	}
	truncations(m->body);
}

static void test_values_requests(void **state)
{
	size_t n = for_each("request", PROTO_OP_CREATE_HANDLE, 0, check_values_req);
	assert_int_equal(n, 15);
	assert_int_equal(for_each("request", PROTO_OP_ADD_VALUE, 0, check_values_req), 4);
	assert_int_equal(for_each("request", PROTO_OP_MODIFY_VALUE, 0, check_values_req), 1);

	proto_msg m;
	proto_values_req r;
	load_msg("x01-create-demo1-rsa/01-request", &m);
	assert_int_equal(proto_values_req_decode(m.body, &r), 0);
	assert_true(idn_slice_eq(r.handle, IDN_SLICE("88.1000/demo1")));
	assert_int_equal(r.nvalues, 5);
}

static void test_find_dup(void **state)
{
	static const uint32_t cases[][7] = {
	    /* n, up to 5 indexes, then the expected position (99: none) */
	    {4, 1, 2, 3, 4, 0, 99}, {5, 1, 2, 3, 2, 1, 0}, {4, 3, 1, 2, 2, 0, 2},
	    {5, 4, 8, 6, 8, 4, 0},  {5, 4, 8, 6, 8, 6, 1}, {2, 7, 7, 0, 0, 0, 0},
	    {1, 5, 0, 0, 0, 0, 99},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint8_t buf[1024];
		proto_value vals[5];
		uint32_t n = cases[k][0];
		for (uint32_t i = 0; i < n; i++)
			vals[i] = (proto_value){.index = cases[k][1 + i], .type = IDN_SLICE("URL")};
		wire_wr w = wire_wr_init(buf, sizeof(buf));
		for (uint32_t i = 0; i < n; i++)
			proto_value_put(&w, &vals[i]);
		assert_int_equal(w.err, 0);
		idn_slice raw = idn_slice_of(buf, wire_wr_len(&w));
		uint32_t want = cases[k][6], scratch[16], pos, idx;
		for (int variant = 0; variant < 2; variant++) {
			int rc =
			    proto_values_find_dup(raw, n, variant ? NULL : scratch, 16, &pos, &idx);
			if (want == 99) {
				assert_int_equal(rc, 0);
			} else {
				assert_int_equal(rc, 1);
				assert_int_equal(pos, want);
				assert_int_equal(idx, cases[k][1 + want]);
			}
		}
	}
	/* Too little scratch falls back to the scan; malformed values are errors. */
	uint32_t scratch[2], pos, idx;
	assert_int_equal(proto_values_find_dup(IDN_SLICE("\0\0\0\1"), 1, scratch, 2, &pos, &idx),
	                 IDN_ETRUNC);
	assert_int_equal(proto_values_find_dup(IDN_SLICE("\0\0\0\1"), 2, NULL, 0, &pos, &idx),
	                 IDN_ETRUNC);
}

/* ---- 101 / 105 / 103 ---- */

static void check_handle_req(const struct tvec *v, const proto_msg *m)
{
	idn_slice h;
	uint8_t out[512];
	assert_int_equal(proto_handle_req_decode(m->body, &h), 0);
	assert_true(h.len > 0);
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_handle_req_encode(&w, h);
	assert_bytes(out, &w, m->body);
	truncations(m->body);
}

static void test_handle_requests(void **state)
{
	assert_int_equal(for_each("request", PROTO_OP_DELETE_HANDLE, 0, check_handle_req), 2);
	assert_int_equal(for_each("request", PROTO_OP_LIST_HANDLES, 0, check_handle_req), 1);

	proto_msg m;
	idn_slice h;
	load_msg("x99-list-handles-raw/01-request", &m);
	assert_int_equal(proto_handle_req_decode(m.body, &h), 0);
	assert_true(idn_slice_eq(h, IDN_SLICE("0.NA/88.1000")));
	load_msg("x83-delete-handle-rsa/01-request", &m);
	assert_int_equal(proto_handle_req_decode(m.body, &h), 0);
	assert_true(idn_slice_eq(h, IDN_SLICE("88.1000/temp")));
}

static void check_remove_req(const struct tvec *v, const proto_msg *m)
{
	proto_remove_req r;
	uint32_t idx[16];
	uint8_t out[512];
	assert_int_equal(proto_remove_req_decode(m->body, &r), 0);
	assert_true(r.nindexes > 0 && r.nindexes <= 16);
	for (uint32_t i = 0; i < r.nindexes; i++)
		idx[i] = proto_index_at(r.indexes, i);
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_remove_req_encode(&w, r.handle, idx, r.nindexes);
	assert_bytes(out, &w, m->body);
	truncations(m->body);
}

static void test_remove_requests(void **state)
{
	assert_int_equal(for_each("request", PROTO_OP_REMOVE_VALUE, 0, check_remove_req), 2);
	proto_msg m;
	proto_remove_req r;
	load_msg("x82-remove-value-rsa/01-request", &m);
	assert_int_equal(proto_remove_req_decode(m.body, &r), 0);
	assert_true(idn_slice_eq(r.handle, IDN_SLICE("88.1000/demo1")));
	assert_int_equal(r.nindexes, 1);
	assert_int_equal(proto_index_at(r.indexes, 0), 7);
}

/* ---- 105 answer ---- */

static void test_list_answer(void **state)
{
	static const char *const want[] = {"88.1000/BIG",        "88.1000/DEMO1",
	                                   "88.1000/DEMO2",      "88.1000/RAW1",
	                                   "88.1000/RESTRICTED", "88.1000/SECADMIN"};
	proto_msg m;
	proto_list_resp r;
	idn_slice names[8], rest;
	uint8_t out[512];
	int rc;
	uint32_t n = 0;

	load_msg("x99-list-handles-raw/04-response", &m);
	assert_int_equal(m.hdr.flags & PROTO_F_CN, 0);
	assert_int_equal(proto_answer_split(m.body, m.hdr.flags & PROTO_F_RD, NULL, NULL, &rest),
	                 0);
	assert_int_equal(proto_list_resp_decode(rest, &r), 0);
	assert_int_equal(r.n, 6);
	wire_rd it = proto_list_names(&r);
	while ((rc = proto_list_next(&it, &names[n])) == 1) {
		assert_true(idn_slice_eq(names[n], idn_slice_of(want[n], strlen(want[n]))));
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 6);
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_list_resp_encode(&w, names, n);
	assert_bytes(out, &w, m.body);
	truncations(m.body);

	/* Splitting for CN: 4 + (4 + 11) + (4 + 13) = 36 bytes hold two names. */
	assert_int_equal(proto_list_fit(names, 6, 36), 2);
	assert_int_equal(proto_list_fit(names, 6, 35), 1);
	assert_int_equal(proto_list_fit(names, 6, 10), 1); /* never 0: the caller must not loop */
	assert_int_equal(proto_list_fit(names, 6, 1000), 6);
	assert_int_equal(proto_list_fit(names, 0, 1000), 0);
}

/* ---- 402 challenges ---- */

static void check_challenge(const struct tvec *v, const proto_msg *m)
{
	proto_challenge c;
	proto_msg orig;
	uint8_t md[PROTO_DIGEST_MAX], out[256];

	assert_true(m->hdr.flags & PROTO_F_RD);
	assert_int_equal(proto_challenge_decode(m->body, true, &c), 0);
	assert_int_equal(c.nonce.len, 16);
	assert_int_equal(c.digest.len, proto_digest_len((enum proto_hash)c.hash));
	/* The digest is that of the original request's header + body. */
	const struct tvec *req = original_request(v);
	assert_non_null(req);
	assert_int_equal(vec_msg(req, &orig), 0);
	assert_int_equal(proto_digest((enum proto_hash)c.hash, orig.hb.p, orig.hb.len, md), 0);
	assert_memory_equal(md, c.digest.p, c.digest.len);
	/* 2.11 (the stub) uses SHA-256, the 7.3.1 server at 2.5 SHA-1. */
	assert_int_equal(c.hash, strncmp(v->exchange, "x9", 2) == 0 &&
	                                 (v->exchange[2] == 'c' || v->exchange[2] == 'd')
	                             ? PROTO_HASH_SHA256
	                             : PROTO_HASH_SHA1);
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_challenge_encode(&w, &c);
	assert_bytes(out, &w, m->body);
	truncations(m->body);
}

static void test_challenges(void **state)
{
	size_t n = 0;
	static const uint32_t ops[] = {PROTO_OP_CREATE_HANDLE, PROTO_OP_ADD_VALUE,
	                               PROTO_OP_MODIFY_VALUE,  PROTO_OP_REMOVE_VALUE,
	                               PROTO_OP_DELETE_HANDLE, PROTO_OP_LIST_HANDLES,
	                               PROTO_OP_RESOLUTION};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		n += for_each("response", ops[i], PROTO_RC_AUTHENTICATION_NEEDED, check_challenge);
	assert_int_equal(n, 23);

	/* Without a digest: just the nonce. */
	proto_challenge c = {.nonce = IDN_SLICE("0123456789abcdef")}, d;
	uint8_t out[64];
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_challenge_encode(&w, &c);
	assert_int_equal(wire_wr_len(&w), 20);
	assert_int_equal(proto_challenge_decode(idn_slice_of(out, 20), false, &d), 0);
	assert_int_equal(d.hash, 0);
	assert_true(idn_slice_eq(d.nonce, c.nonce));
	/* An unknown digest algorithm is refused. */
	out[0] = 9;
	assert_int_equal(proto_challenge_decode(idn_slice_of(out, 20), true, &d), IDN_EINVAL);
}

/* ---- 200 challenge responses ---- */

static void check_chresp(const struct tvec *v, const proto_msg *m)
{
	proto_chresp r;
	uint8_t out[1024], inner[1024];

	assert_int_equal(proto_chresp_decode(m->body, &r), 0);
	assert_int_equal(r.index, 300);
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_chresp_encode(&w, &r);
	assert_bytes(out, &w, m->body);

	wire_wr wi = wire_wr_init(inner, sizeof(inner));
	if (idn_slice_eq(r.auth_type, IDN_SLICE("HS_PUBKEY"))) {
		proto_sig_resp s;
		assert_true(idn_slice_eq(r.handle, IDN_SLICE("0.NA/88.1000")));
		assert_int_equal(proto_sig_resp_decode(r.signed_resp, &s), 0);
		assert_int_equal(s.sig.len, 256);
		if (strncmp(v->exchange, "x9c", 3) == 0)
			assert_true(idn_slice_eq(s.hash_alg, IDN_SLICE("SHA-256")));
		else
			assert_true(idn_slice_eq(s.hash_alg, IDN_SLICE("SHA1")));
		proto_sig_resp_put(&wi, &s);
	} else {
		proto_seckey_resp s;
		assert_true(idn_slice_eq(r.auth_type, IDN_SLICE("HS_SECKEY")));
		assert_true(idn_slice_eq(r.handle, IDN_SLICE("88.1000/secadmin")));
		assert_int_equal(proto_seckey_resp_decode(r.signed_resp, &s), 0);
		assert_int_equal(s.mac.len, 20);
		if (strncmp(v->exchange, "x9d", 3) == 0) {
			assert_int_equal(s.alg, PROTO_SECKEY_PBKDF2);
			assert_int_equal(s.salt.len, 16);
			assert_int_equal(s.iterations, 10000);
			assert_int_equal(s.key_bits, 160);
		} else {
			assert_int_equal(s.alg, PROTO_SECKEY_SHA1);
		}
		proto_seckey_resp_put(&wi, &s);
	}
	assert_bytes(inner, &wi, r.signed_resp);
	truncations(m->body);
	truncations(r.signed_resp);
}

static void test_challenge_responses(void **state)
{
	size_t n = for_each("request", PROTO_OP_CHALLENGE_RESPONSE, 0, check_chresp);
	assert_int_equal(n, 23);

	/* Building one with the length patched afterwards. */
	uint8_t out[256];
	proto_sig_resp s = {IDN_SLICE("SHA256"), IDN_SLICE("sig")};
	wire_wr w = wire_wr_init(out, sizeof(out));
	wire_put_slice(&w, IDN_SLICE("HS_PUBKEY"));
	wire_put_slice(&w, IDN_SLICE("0.NA/88.1000"));
	wire_put_u32(&w, 300);
	uint8_t *l = proto_put_len_begin(&w);
	proto_sig_resp_put(&w, &s);
	proto_put_len_end(&w, l);
	proto_chresp r;
	proto_sig_resp s2;
	assert_int_equal(proto_chresp_decode(idn_slice_of(out, wire_wr_len(&w)), &r), 0);
	assert_int_equal(proto_sig_resp_decode(r.signed_resp, &s2), 0);
	assert_true(idn_slice_eq(s2.hash_alg, s.hash_alg));
	assert_true(idn_slice_eq(s2.sig, s.sig));
}

static void test_seckey_forms(void **state)
{
	uint8_t buf[64];
	proto_seckey_resp s;

	memset(buf, 0xaa, sizeof(buf));
	buf[0] = PROTO_SECKEY_HMAC_SHA256;
	assert_int_equal(proto_seckey_resp_decode(idn_slice_of(buf, 33), &s), 0);
	assert_int_equal(s.mac.len, 32);
	assert_int_equal(proto_seckey_resp_decode(idn_slice_of(buf, 32), &s), IDN_EINVAL);
	buf[0] = PROTO_SECKEY_HMAC_SHA1;
	assert_int_equal(proto_seckey_resp_decode(idn_slice_of(buf, 21), &s), 0);
	buf[0] = PROTO_SECKEY_SHA1;
	assert_int_equal(proto_seckey_resp_decode(idn_slice_of(buf, 22), &s), IDN_EINVAL);
	buf[0] = 0x77;
	assert_int_equal(proto_seckey_resp_decode(idn_slice_of(buf, 5), &s), IDN_ENOTSUP);
	assert_int_equal(s.alg, 0x77);
	assert_int_equal(s.mac.len, 4);
	assert_int_equal(proto_seckey_resp_decode(idn_slice_of(buf, 0), &s), IDN_ETRUNC);
	/* PBKDF2 with a huge salt length */
	buf[0] = PROTO_SECKEY_PBKDF2;
	memcpy(buf + 1, "\xff\xff\xff\xf0", 4);
	assert_int_equal(proto_seckey_resp_decode(idn_slice_of(buf, 40), &s), IDN_ETRUNC);
}

/* ---- 201 verify response (not captured: built here) ---- */

static void test_verify(void **state)
{
	uint8_t out[256];
	for (int form = 0; form < 2; form++) {
		uint8_t dg[20];
		memset(dg, 0x5a, sizeof(dg));
		proto_verify_req q = {
		    .handle = IDN_SLICE("88.1000/secadmin"),
		    .index = 300,
		    .nonce = IDN_SLICE("0123456789abcdef"),
		    .digest_alg = form ? PROTO_HASH_SHA1 : 0,
		    .digest = idn_slice_of(dg, 20),
		    .signed_resp = IDN_SLICE("\x02mac-bytes-twenty-b"),
		};
		proto_verify_req r;
		wire_wr w = wire_wr_init(out, sizeof(out));
		proto_verify_req_encode(&w, &q);
		assert_int_equal(w.err, 0);
		size_t len = wire_wr_len(&w);
		assert_int_equal(len,
		                 4 + 16 + 4 + 4 + 16 + (form ? 21 : 24) + 4 + q.signed_resp.len);
		assert_int_equal(proto_verify_req_decode(idn_slice_of(out, len), &r), 0);
		assert_int_equal(r.digest_alg, q.digest_alg);
		assert_true(idn_slice_eq(r.digest, q.digest));
		assert_true(idn_slice_eq(r.signed_resp, q.signed_resp));
		assert_int_equal(r.index, 300);
		truncations(idn_slice_of(out, len));
	}
	/* An unknown digest algorithm byte is refused. */
	wire_wr w = wire_wr_init(out, sizeof(out));
	wire_put_slice(&w, IDN_SLICE("a/b"));
	wire_put_u32(&w, 1);
	wire_put_slice(&w, IDN_SLICE("n"));
	wire_put_u8(&w, 7);
	wire_put_data(&w, "xxxxxxxx", 8);
	proto_verify_req r;
	assert_int_equal(proto_verify_req_decode(idn_slice_of(out, wire_wr_len(&w)), &r),
	                 IDN_EINVAL);

	bool valid = false;
	w = wire_wr_init(out, sizeof(out));
	proto_verify_resp_encode(&w, true);
	assert_int_equal(proto_verify_resp_decode(idn_slice_of(out, 1), &valid), 0);
	assert_true(valid);
	assert_int_equal(proto_verify_resp_decode(IDN_SLICE("\x00"), &valid), 0);
	assert_false(valid);
	assert_int_equal(proto_verify_resp_decode(idn_slice_of(out, 0), &valid), IDN_ETRUNC);
}

/* ---- create answers ---- */

static void test_create_answers(void **state)
{
	proto_msg m;
	idn_slice h, rest;
	load_msg("x01-create-demo1-rsa/04-response", &m);
	assert_int_equal(m.hdr.rcode, PROTO_RC_SUCCESS);
	assert_int_equal(m.body.len, 0);
	assert_int_equal(proto_answer_split(m.body, m.hdr.flags & PROTO_F_RD, NULL, NULL, &rest),
	                 0);
	assert_int_equal(proto_create_resp_decode(rest, &h), 0);
	assert_int_equal(h.len, 0);

	uint8_t out[64];
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_create_resp_encode(&w, IDN_SLICE("88.1000/000123"));
	assert_int_equal(proto_create_resp_decode(idn_slice_of(out, wire_wr_len(&w)), &h), 0);
	assert_true(idn_slice_eq(h, IDN_SLICE("88.1000/000123")));
	assert_int_equal(proto_create_resp_decode(idn_slice_of(out, 3), &h), IDN_ETRUNC);
}

/* ---- 400 session setup (x98) ---- */

static void check_session_req(const struct tvec *v, const proto_msg *m)
{
	proto_session_req r;
	proto_pubkey k;
	uint8_t out[1024];

	assert_int_equal(proto_session_req_decode(m->body, &r), 0);
	assert_int_equal(r.mode, PROTO_KX_DH);
	assert_int_equal(r.timeout, 86400);
	assert_true(idn_slice_eq(r.identity, IDN_SLICE("0.NA/88.1000")));
	assert_int_equal(r.identity_index, 300);
	/* The reference's 2 spare bytes end the body. */
	assert_int_equal(r.pubkey.p + r.pubkey.len + 2, m->body.p + m->body.len);
	assert_memory_equal(r.pubkey.p + r.pubkey.len, "\0\0", 2);

	assert_int_equal(proto_pubkey_decode(r.pubkey, &k), 0);
	assert_int_equal(k.kind, PROTO_KEY_DH);
	assert_int_equal(k.dh.y.len, 129);
	assert_int_equal(k.dh.p.len, 129);
	assert_true(idn_slice_eq(k.dh.g, IDN_SLICE("\x02")));
	assert_int_equal(k.rest.len, 0);

	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_session_req_encode(&w, &r);
	assert_bytes(out, &w, m->body);
	truncations(m->body);
}

static void check_session_err(const struct tvec *v, const proto_msg *m)
{
	uint8_t alg, md[PROTO_DIGEST_MAX];
	idn_slice digest, rest, msg;
	proto_msg orig;

	assert_int_equal(m->hdr.rcode, PROTO_RC_SESSION_FAILED);
	assert_true(m->hdr.flags & PROTO_F_RD);
	assert_int_equal(proto_answer_split(m->body, true, &alg, &digest, &rest), 0);
	assert_int_equal(alg, PROTO_HASH_SHA1);
	/* The response answers the request just before it. */
	const struct tvec *req =
	    tvec_find(strstr(v->name, "/02-") ? "x98-session-setup-java/01-request"
	                                      : "x98-session-setup-java/03-request");
	assert_non_null(req);
	assert_int_equal(vec_msg(req, &orig), 0);
	assert_int_equal(proto_digest(PROTO_HASH_SHA1, orig.hb.p, orig.hb.len, md), 0);
	assert_memory_equal(md, digest.p, 20);
	assert_int_equal(proto_error_decode(rest, &msg), 0);
	assert_true(idn_slice_eq(msg, IDN_SLICE("Error encoding public session key")));
}

static void test_session(void **state)
{
	assert_int_equal(for_each("request", PROTO_OP_SESSION_SETUP, 0, check_session_req), 2);
	assert_int_equal(for_each("response", PROTO_OP_SESSION_SETUP, -1, check_session_err), 2);

	/* Other modes and the answer, built here (no success was captured). */
	static const proto_session_req reqs[] = {
	    {.mode = PROTO_KX_CIPHER_HDL,
	     .timeout = 60,
	     .identity = IDN_SLICE("0.NA/88.1000"),
	     .identity_index = 300,
	     .key_handle = IDN_SLICE("88.1000/keys"),
	     .key_index = 7},
	    {.mode = PROTO_KX_CIPHER_SERVER, .timeout = 60},
	    {.mode = PROTO_KX_CIPHER_CLIENT, .pubkey = IDN_SLICE("key")},
	};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		uint8_t out[256];
		proto_session_req r;
		wire_wr w = wire_wr_init(out, sizeof(out));
		proto_session_req_encode(&w, &reqs[i]);
		assert_int_equal(w.err, 0);
		assert_int_equal(proto_session_req_decode(idn_slice_of(out, wire_wr_len(&w)), &r),
		                 0);
		assert_int_equal(r.mode, reqs[i].mode);
		assert_int_equal(r.key_index, reqs[i].key_index);
		assert_true(idn_slice_eq(r.key_handle, reqs[i].key_handle));
		assert_true(idn_slice_eq(r.pubkey, reqs[i].pubkey));
	}

	uint8_t out[64];
	proto_session_resp a = {.mode = PROTO_KX_DH, .data = IDN_SLICE("\0\0\0\3dh-key")}, b;
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_session_resp_encode(&w, &a);
	assert_int_equal(wire_wr_len(&w), 2 + 4 + 10 + 2);
	assert_int_equal(proto_session_resp_decode(idn_slice_of(out, wire_wr_len(&w)), &b), 0);
	assert_int_equal(b.mode, PROTO_KX_DH);
	assert_true(idn_slice_eq(b.data, a.data));
	truncations(idn_slice_of(out, wire_wr_len(&w)));
}

/* ---- credentials ---- */

static void check_cred_sig(const proto_msg *m, const proto_cred *c)
{
	size_t len;
	uint8_t *pem = tvec_read_file("vectors/keys/server_rsa_pub_spki.pem", &len);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	assert_non_null(key);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha1(), NULL, key), 1);
	/* Header + body only: no envelope, no credential length. */
	assert_int_equal(EVP_DigestVerify(ctx, c->sig.p, c->sig.len, m->hb.p, m->hb.len), 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(pem);
}

static void test_credentials(void **state)
{
	static const char *const names[] = {
	    "x00-server-startup-rootinfo-query/03-response",
	    "x30-notfound-udp-java/05r-response-REASSEMBLED",
	    "x96-certify-resolve-udp-raw/03r-response-REASSEMBLED",
	    "x98-session-setup-java/02-response",
	    "x98-session-setup-java/04-response",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		proto_msg m;
		proto_cred c;
		uint8_t out[512];
		load_msg(names[i], &m);
		assert_int_equal(m.cred.len, 169);
		assert_int_equal(proto_cred_decode(m.cred, &c), 0);
		assert_int_equal(c.version, 0);
		assert_int_equal(c.reserved, 0);
		assert_int_equal(c.options, 0);
		assert_int_equal(c.signer.len, 0);
		assert_int_equal(c.signer_index, 0);
		assert_true(idn_slice_eq(c.type, IDN_SLICE(PROTO_CRED_SIGNED)));
		assert_int_equal(c.section.len, 140);
		assert_true(idn_slice_eq(c.hash_alg, IDN_SLICE("SHA1")));
		assert_int_equal(c.sig.len, 128);
		check_cred_sig(&m, &c);

		assert_int_equal(proto_cred_size(&c), 169);
		wire_wr w = wire_wr_init(out, sizeof(out));
		proto_cred_put(&w, &c);
		assert_bytes(out, &w, m.cred);
		truncations(m.cred);

		/* The section can hold more than hash + signature. */
		uint8_t big[200];
		memcpy(big, m.cred.p, 169);
		memcpy(big + 169, "zz", 2);
		idn_put_be32(big + 25, 142);
		proto_cred c2;
		assert_int_equal(proto_cred_decode(idn_slice_of(big, 171), &c2), 0);
		assert_int_equal(c2.sig.len, 128);
		idn_put_be32(big + 25, 0x7fffffff);
		assert_int_equal(proto_cred_decode(idn_slice_of(big, 171), &c2), IDN_ETRUNC);
	}

	/* An HS_MAC credential as built for a session (counter, HMAC). */
	proto_cred mac =
	               {
	                   .signer_index = 42,
	                   .type = IDN_SLICE(PROTO_CRED_MAC),
	                   .hash_alg = IDN_SLICE("HmacSHA256"),
	                   .sig = IDN_SLICE("0123456789abcdef0123456789abcdef"),
	               },
	           back;
	uint8_t out[256];
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_cred_put(&w, &mac);
	assert_int_equal(wire_wr_len(&w), proto_cred_size(&mac));
	assert_int_equal(proto_cred_decode(idn_slice_of(out, wire_wr_len(&w)), &back), 0);
	assert_int_equal(back.signer_index, 42);
	assert_true(idn_slice_eq(back.sig, mac.sig));
}

/* ---- 303 referral (x73) ---- */

static void test_referral(void **state)
{
	proto_msg m;
	proto_resolve_resp r;
	idn_slice rest;
	uint8_t out[1024];

	load_msg("x73-synthetic-prefix-referral-303/01-response", &m);
	assert_int_equal(m.hdr.rcode, PROTO_RC_PREFIX_REFERRAL);
	assert_int_equal(proto_answer_split(m.body, m.hdr.flags & PROTO_F_RD, NULL, NULL, &rest),
	                 0);
	assert_int_equal(proto_referral_decode(rest, &r), 0);
	assert_int_equal(r.handle.len, 0);
	assert_int_equal(r.nvalues, 1);
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	proto_value v;
	proto_value_get(&c, &v);
	assert_int_equal(c.err, 0);
	assert_true(idn_slice_eq(v.type, IDN_SLICE("HS_SITE.PREFIX")));
	proto_site s;
	assert_int_equal(proto_site_decode(v.data, &s), 0);
	assert_int_equal(s.nservers, 1);

	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_referral_encode(&w, r.handle, r.nvalues, r.values);
	assert_bytes(out, &w, m.body);
	truncations(m.body);

	/* A referral that stops after the handle has no values. */
	assert_int_equal(proto_referral_decode(IDN_SLICE("\0\0\0\0038.1"), &r), 0);
	assert_int_equal(r.nvalues, 0);
	assert_true(idn_slice_eq(r.handle, IDN_SLICE("8.1")));
}

/* ---- malformed input ---- */

static void test_answer_split(void **state)
{
	idn_slice rest, d;
	uint8_t alg;
	assert_int_equal(proto_answer_split(IDN_SLICE("abc"), false, &alg, &d, &rest), 0);
	assert_int_equal(rest.len, 3);
	assert_int_equal(alg, 0);
	assert_int_equal(proto_answer_split(IDN_SLICE("\x02short"), true, &alg, &d, &rest),
	                 IDN_ETRUNC);
	assert_int_equal(proto_answer_split(IDN_SLICE("\x09xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), true,
	                                    &alg, &d, &rest),
	                 IDN_EINVAL);
	assert_int_equal(proto_answer_split(IDN_SLICE(""), true, &alg, &d, &rest), IDN_ETRUNC);
}

static void test_huge_counts(void **state)
{
	uint8_t buf[64];
	wire_wr w;
	proto_values_req vr;
	proto_remove_req rr;
	proto_list_resp lr;
	proto_resolve_resp rf;

	w = wire_wr_init(buf, sizeof(buf));
	wire_put_slice(&w, IDN_SLICE("a/b"));
	wire_put_u32(&w, 0xffffffff);
	wire_put_data(&w, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 26);
	assert_int_equal(proto_values_req_decode(idn_slice_of(buf, wire_wr_len(&w)), &vr),
	                 IDN_ETRUNC);
	assert_int_equal(proto_referral_decode(idn_slice_of(buf, wire_wr_len(&w)), &rf),
	                 IDN_ETRUNC);

	w = wire_wr_init(buf, sizeof(buf));
	wire_put_slice(&w, IDN_SLICE("a/b"));
	wire_put_u32(&w, 0x40000001); /* x 4 wraps 32 bits */
	wire_put_u32(&w, 1);
	assert_int_equal(proto_remove_req_decode(idn_slice_of(buf, wire_wr_len(&w)), &rr),
	                 IDN_ETRUNC);

	w = wire_wr_init(buf, sizeof(buf));
	wire_put_u32(&w, 0x80000000);
	wire_put_u32(&w, 0);
	assert_int_equal(proto_list_resp_decode(idn_slice_of(buf, wire_wr_len(&w)), &lr),
	                 IDN_ETRUNC);
	/* A count that fits but a name that does not. */
	w = wire_wr_init(buf, sizeof(buf));
	wire_put_u32(&w, 1);
	wire_put_u32(&w, 0xffffff00);
	assert_int_equal(proto_list_resp_decode(idn_slice_of(buf, wire_wr_len(&w)), &lr),
	                 IDN_ETRUNC);
}

static void test_garbage(void **state)
{
	for (int round = 0; round < 20000; round++) {
		size_t len = rnd8() % 80;
		uint8_t *p = malloc(len ? len : 1);
		for (size_t i = 0; i < len; i++)
			p[i] = rnd8();
		/* Plausible small lengths now and then, to get past the first field. */
		if (len >= 8 && (round & 1)) {
			memset(p, 0, 3);
			p[3] &= 7;
		}
		all_decoders(idn_slice_of(p, len));
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values_requests),
	    cmocka_unit_test(test_find_dup),
	    cmocka_unit_test(test_handle_requests),
	    cmocka_unit_test(test_remove_requests),
	    cmocka_unit_test(test_list_answer),
	    cmocka_unit_test(test_challenges),
	    cmocka_unit_test(test_challenge_responses),
	    cmocka_unit_test(test_seckey_forms),
	    cmocka_unit_test(test_verify),
	    cmocka_unit_test(test_create_answers),
	    cmocka_unit_test(test_session),
	    cmocka_unit_test(test_credentials),
	    cmocka_unit_test(test_referral),
	    cmocka_unit_test(test_answer_split),
	    cmocka_unit_test(test_huge_counts),
	    cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
