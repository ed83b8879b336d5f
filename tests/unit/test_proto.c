/*
 * test_proto.c - the core codec (envelope, header, message framing, values,
 * resolution bodies, digests) on every reference capture, and on malformed
 * input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/admin.h"
#include "proto/proto.h"
#include "vectors.h"

static bool decodable(const struct tvec *v)
{
	/* Fragments after the first carry no header; x37 announces 2 GiB. */
	return v->frag_index <= 0 && !v->frag_count && strncmp(v->exchange, "x37", 3) &&
	       strncmp(v->exchange, "x38", 3);
}

/* Every capture: envelope and message decode; re-encoding the header gives the same bytes. */
static void test_all_messages(void **state)
{
	(void)state;
	size_t n, done = 0;
	const struct tvec *all = tvec_all(&n);
	assert_int_equal(n, 222);
	for (size_t i = 0; i < n; i++) {
		const struct tvec *v = &all[i];
		proto_env env;
		assert_int_equal(proto_env_decode(v->bytes, v->len, &env), 0);
		uint8_t eb[PROTO_ENV_LEN];
		proto_env_encode(&env, eb);
		assert_memory_equal(eb, v->bytes, PROTO_ENV_LEN);
		if (!decodable(v) && !v->reassembled)
			continue;
		assert_int_equal(env.msg_len, v->len - PROTO_ENV_LEN);
		proto_msg m;
		if (proto_msg_decode(v->bytes + PROTO_ENV_LEN, v->len - PROTO_ENV_LEN, &m))
			fail_msg("%s does not decode", v->name);
		uint8_t hb[PROTO_HDR_LEN];
		wire_wr w = wire_wr_init(hb, sizeof(hb));
		proto_hdr_encode(&w, &m.hdr);
		assert_memory_equal(hb, v->bytes + PROTO_ENV_LEN, PROTO_HDR_LEN);
		done++;
	}
	assert_true(done > 150);
}

/* Resolution requests decode and re-encode byte for byte. */
static void test_resolution_requests(void **state)
{
	(void)state;
	size_t n, done = 0;
	const struct tvec *all = tvec_all(&n);
	for (size_t i = 0; i < n; i++) {
		const struct tvec *v = &all[i];
		if (strcmp(v->direction, "request") || !decodable(v))
			continue;
		proto_msg m;
		assert_int_equal(proto_msg_decode(v->bytes + 20, v->len - 20, &m), 0);
		if (m.hdr.opcode != PROTO_OP_RESOLUTION)
			continue;
		proto_resolve_req r;
		assert_int_equal(proto_resolve_req_decode(m.body, &r), 0);
		uint32_t idx[64];
		idn_slice types[64];
		assert_true(r.nindexes <= 64 && r.ntypes <= 64);
		for (uint32_t k = 0; k < r.nindexes; k++)
			idx[k] = idn_be32(r.indexes + 4 * k);
		wire_rd t = wire_rd_init(r.types.p, r.types.len);
		for (uint32_t k = 0; k < r.ntypes; k++)
			types[k] = wire_get_lbytes(&t);
		uint8_t buf[4096];
		wire_wr w = wire_wr_init(buf, sizeof(buf));
		proto_resolve_req_encode(&w, r.handle, idx, r.nindexes, types, r.ntypes);
		assert_int_equal(wire_wr_len(&w), m.body.len);
		assert_memory_equal(buf, m.body.p, m.body.len);
		done++;
	}
	assert_true(done >= 40);
}

/* Resolution answers: values decode and re-encode byte for byte; errors decode. */
static void test_resolution_answers(void **state)
{
	(void)state;
	size_t n, values = 0, errors = 0;
	const struct tvec *all = tvec_all(&n);
	for (size_t i = 0; i < n; i++) {
		const struct tvec *v = &all[i];
		if (strcmp(v->direction, "response") || (!decodable(v) && !v->reassembled))
			continue;
		proto_msg m;
		assert_int_equal(proto_msg_decode(v->bytes + 20, v->len - 20, &m), 0);
		idn_slice rest;
		assert_int_equal(
		    proto_answer_split(m.body, m.hdr.flags & PROTO_F_RD, NULL, NULL, &rest), 0);
		if (m.hdr.rcode != PROTO_RC_SUCCESS) {
			idn_slice text;
			assert_int_equal(proto_error_decode(rest, &text), 0);
			errors++;
			continue;
		}
		if (m.hdr.opcode != PROTO_OP_RESOLUTION)
			continue;
		proto_resolve_resp r;
		assert_int_equal(proto_resolve_resp_decode(rest, &r), 0);
		wire_rd c = wire_rd_init(r.values.p, r.values.len);
		for (uint32_t k = 0; k < r.nvalues; k++) {
			const uint8_t *start = c.pos;
			proto_value val;
			proto_value_get(&c, &val);
			assert_int_equal(c.err, 0);
			uint8_t buf[4096];
			wire_wr w = wire_wr_init(buf, sizeof(buf));
			proto_value_put(&w, &val);
			assert_int_equal(wire_wr_len(&w), (size_t)(c.pos - start));
			assert_int_equal(proto_value_size(&val), (size_t)(c.pos - start));
			assert_memory_equal(buf, start, wire_wr_len(&w));
			values++;
		}
	}
	assert_true(values > 100);
	assert_true(errors > 20);
}

/* The captured RD answer carries SHA-1 of its request's header + body. */
static void test_digest(void **state)
{
	(void)state;
	const struct tvec *req = tvec_find("x97-rd-resolve-udp-raw/01-request");
	const struct tvec *ans = tvec_find("x97-rd-resolve-udp-raw/02-response");
	assert_non_null(req);
	assert_non_null(ans);
	proto_msg rm, am;
	assert_int_equal(proto_msg_decode(req->bytes + 20, req->len - 20, &rm), 0);
	assert_int_equal(proto_msg_decode(ans->bytes + 20, ans->len - 20, &am), 0);
	assert_int_equal(proto_digest_alg(2, 5), PROTO_HASH_SHA1);
	assert_int_equal(proto_digest_alg(2, 7), PROTO_HASH_SHA256);
	assert_int_equal(proto_digest_alg(2, 0), PROTO_HASH_MD5);
	uint8_t buf[64];
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	proto_put_digest(&w, PROTO_HASH_SHA1, rm.hb);
	assert_int_equal(wire_wr_len(&w), 21);
	assert_memory_equal(buf, am.body.p, 21);
	w = wire_wr_init(buf, sizeof(buf));
	proto_put_digest(&w, PROTO_HASH_SHA256, rm.hb);
	assert_int_equal(wire_wr_len(&w), 33);
	w = wire_wr_init(buf, sizeof(buf));
	proto_put_digest(&w, PROTO_HASH_MD5, rm.hb);
	assert_int_equal(wire_wr_len(&w), 17);
	wire_rd c = wire_rd_init(am.body.p, am.body.len);
	proto_skip_digest(&c);
	assert_int_equal(wire_rd_off(&c), 21);
	uint8_t bad[3] = {9, 0, 0};
	c = wire_rd_init(bad, 3);
	proto_skip_digest(&c);
	assert_int_equal(c.err, IDN_EINVAL);
}

/* A built message has consistent lengths; the buffer running out is an error. */
static void test_build(void **state)
{
	(void)state;
	uint8_t buf[256];
	proto_env env = {.major = 2, .minor = 11, .request_id = 7};
	proto_hdr hdr = {.opcode = 1, .flags = PROTO_F_PO, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, buf, sizeof(buf), &env, &hdr);
	proto_resolve_req_encode(&b.w, IDN_SLICE("88.1/x"), NULL, 0, NULL, 0);
	idn_slice hb = proto_build_body_end(&b);
	assert_int_equal(hb.len, PROTO_HDR_LEN + 18);
	int len = proto_build_end(&b, (const uint8_t *)"cred", 4);
	assert_int_equal(len, 20 + 24 + 18 + 4 + 4);
	proto_env e2;
	proto_msg m;
	assert_int_equal(proto_env_decode(buf, (size_t)len, &e2), 0);
	assert_int_equal(e2.msg_len, (uint32_t)len - 20);
	assert_int_equal(proto_msg_decode(buf + 20, (size_t)len - 20, &m), 0);
	assert_int_equal(m.cred.len, 4);
	assert_memory_equal(m.cred.p, "cred", 4);
	/* Too small a buffer. */
	proto_build_begin(&b, buf, 50, &env, &hdr);
	proto_resolve_req_encode(&b.w, IDN_SLICE("88.1/a-rather-long-suffix"), NULL, 0, NULL, 0);
	assert_int_equal(proto_build_end(&b, NULL, 0), IDN_ESPACE);
}

/* Every prefix of every capture: decoders fail cleanly or succeed, never overrun. */
static void test_truncations(void **state)
{
	(void)state;
	size_t n;
	const struct tvec *all = tvec_all(&n);
	for (size_t i = 0; i < n; i++) {
		const struct tvec *v = &all[i];
		if (v->len < 20)
			continue;
		size_t ml = v->len - 20;
		for (size_t len = 0; len <= ml && len < 600; len++) {
			uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overruns */
			memcpy(copy, v->bytes + 20, len);
			proto_msg m;
			if (proto_msg_decode(copy, len, &m) == 0) {
				proto_resolve_req rq;
				proto_resolve_resp rs;
				idn_slice t;
				proto_resolve_req_decode(m.body, &rq);
				proto_resolve_resp_decode(m.body, &rs);
				proto_error_decode(m.body, &t);
			}
			idn_slice body = idn_slice_of(copy, len);
			proto_resolve_req rq;
			proto_resolve_resp rs;
			proto_resolve_req_decode(body, &rq);
			proto_resolve_resp_decode(body, &rs);
			free(copy);
		}
		proto_msg m;
		assert_int_not_equal(proto_msg_decode(v->bytes + 20, 23, &m), 0);
	}
}

static void test_huge_counts(void **state)
{
	(void)state;
	/* handle "88.1/x", then 0xFFFFFFFF indexes in an 18-byte body. */
	uint8_t b[] = {0,   0,    0,    6,    '8',  '8', '.', '1', '/',
	               'x', 0xFF, 0xFF, 0xFF, 0xFF, 0,   0,   0,   0};
	proto_resolve_req r;
	assert_int_equal(proto_resolve_req_decode(idn_slice_of(b, sizeof(b)), &r), IDN_ETRUNC);
	proto_resolve_resp rs;
	assert_int_equal(proto_resolve_resp_decode(idn_slice_of(b, sizeof(b)), &rs), IDN_ETRUNC);
	/* A value whose reference count is absurd. */
	proto_value v = {.index = 1, .type = IDN_SLICE("URL"), .data = IDN_SLICE("x")};
	uint8_t buf[64];
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	proto_value_put(&w, &v);
	idn_put_be32(buf + wire_wr_len(&w) - 4, 0x7FFFFFFF);
	wire_rd c = wire_rd_init(buf, wire_wr_len(&w));
	proto_value_get(&c, &v);
	assert_int_equal(c.err, IDN_ETRUNC);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(proto_op_name(1), "RESOLUTION");
	assert_string_equal(proto_op_name(12345), "UNKNOWN");
	assert_string_equal(proto_rc_name(100), "HANDLE_NOT_FOUND");
	assert_string_equal(proto_rc_name(303), "PREFIX_REFERRAL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_messages),
	    cmocka_unit_test(test_resolution_requests),
	    cmocka_unit_test(test_resolution_answers),
	    cmocka_unit_test(test_digest),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_huge_counts),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
