/*
 * test_auth_verify.c - challenge responses against known answers: every
 * captured CHALLENGE_RESPONSE (nonce and digest from the 402 it answers, keys
 * from shared/vectors/keys), plus freshly generated RSA, DSA and SM2 keys and
 * every secret-key form, both ways (our responses verify, altered ones do
 * not).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/verify.h"
#include "core/err.h"
#include "proto/admin.h"
#include "vectors.h"

static const char SECRET[] = "vector-secret-2026";

/* The 402 in the same exchange as chresp, decoded. */
static void challenge_of(const struct tvec *chresp, proto_challenge *c, proto_msg *m402)
{
	char prefix[256];
	snprintf(prefix, sizeof(prefix), "%s/02-response", chresp->exchange);
	const struct tvec *v = tvec_find(prefix);
	assert_non_null(v);
	assert_int_equal(proto_msg_decode(v->bytes + PROTO_ENV_LEN, v->len - PROTO_ENV_LEN, m402),
	                 0);
	assert_int_equal(m402->hdr.rcode, 402);
	assert_int_equal(proto_challenge_decode(m402->body, true, c), 0);

	/* The digest is of the original request's header + body. */
	snprintf(prefix, sizeof(prefix), "%s/01-request", chresp->exchange);
	const struct tvec *orig = tvec_find(prefix);
	assert_non_null(orig);
	proto_msg om;
	assert_int_equal(
	    proto_msg_decode(orig->bytes + PROTO_ENV_LEN, orig->len - PROTO_ENV_LEN, &om), 0);
	uint8_t d[PROTO_DIGEST_MAX];
	assert_int_equal(proto_digest(c->hash, om.hb.p, om.hb.len, d), 0);
	assert_int_equal(c->digest.len, proto_digest_len(c->hash));
	assert_memory_equal(d, c->digest.p, c->digest.len);
}

static void test_captured_responses(void **state)
{
	(void)state;
	size_t n, klen, checked = 0, failed = 0;
	uint8_t *pub = tvec_read_file("vectors/keys/admin_rsa_pub.bin", &klen);
	idn_slice pubkey = idn_slice_of(pub, klen);
	const struct tvec *all = tvec_all(&n);

	for (size_t i = 0; i < n; i++) {
		const struct tvec *v = &all[i];
		if (strcmp(v->direction, "request") || !strstr(v->name, "CHALLENGE_RESPONSE"))
			continue;
		if (!strncmp(v->exchange, "x92", 3))
			continue; /* answers no challenge: an unknown session */
		proto_msg m, m402;
		proto_chresp cr;
		proto_challenge c;
		assert_int_equal(
		    proto_msg_decode(v->bytes + PROTO_ENV_LEN, v->len - PROTO_ENV_LEN, &m), 0);
		assert_int_equal(proto_chresp_decode(m.body, &cr), 0);
		challenge_of(v, &c, &m402);

		int ret;
		if (idn_slice_eq(cr.auth_type, IDN_SLICE("HS_PUBKEY")))
			ret = auth_verify_pubkey(pubkey, cr.handle, c.nonce, c.digest,
			                         cr.signed_resp);
		else
			ret = auth_verify_seckey(IDN_SLICE(SECRET), c.nonce, c.digest,
			                         cr.signed_resp);
		bool bad = !strncmp(v->exchange, "x88", 3);
		if (bad) {
			assert_int_equal(ret, IDN_EMISMATCH);
			failed++;
		} else {
			if (ret)
				fail_msg("%s: %s", v->name, idn_strerror(ret));
			/* ... and against another nonce it must fail. */
			uint8_t other[16];
			memcpy(other, c.nonce.p, 16);
			other[0] ^= 1;
			idn_slice on = idn_slice_of(other, 16);
			ret = idn_slice_eq(cr.auth_type, IDN_SLICE("HS_PUBKEY"))
			          ? auth_verify_pubkey(pubkey, cr.handle, on, c.digest,
			                               cr.signed_resp)
			          : auth_verify_seckey(IDN_SLICE(SECRET), on, c.digest,
			                               cr.signed_resp);
			assert_int_equal(ret, IDN_EMISMATCH);
			/* ... and with the wrong secret / key. */
			if (!idn_slice_eq(cr.auth_type, IDN_SLICE("HS_PUBKEY")))
				assert_int_equal(auth_verify_seckey(IDN_SLICE("vector-secret-2027"),
				                                    c.nonce, c.digest,
				                                    cr.signed_resp),
				                 IDN_EMISMATCH);
		}
		checked++;
	}
	assert_true(checked >= 21);
	assert_int_equal(failed, 1);
	free(pub);
}

/* The HS_PUBKEY encoding of the admin key round-trips to the captured bytes. */
static void test_pubkey_encoding(void **state)
{
	(void)state;
	size_t klen;
	uint8_t *pub = tvec_read_file("vectors/keys/admin_rsa_pub.bin", &klen);
	EVP_PKEY *pk;
	assert_int_equal(auth_pubkey_decode(idn_slice_of(pub, klen), &pk), 0);
	uint8_t buf[2048];
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	assert_int_equal(auth_pubkey_encode(pk, &w), 0);
	assert_int_equal(wire_wr_len(&w), klen);
	assert_memory_equal(buf, pub, klen);
	EVP_PKEY_free(pk);
	free(pub);

	/* Garbage and unsupported kinds are refused, not crashed on. */
	assert_int_equal(auth_pubkey_decode(IDN_SLICE("\0\0\0\x03XYZ\0\0"), &pk), IDN_ENOTSUP);
	assert_int_equal(auth_pubkey_decode(IDN_SLICE("\0\0"), &pk), IDN_EINVAL);
	static const uint8_t bad_sm2[] = "\0\0\0\x0bSM2_PUB_KEY\0\0\0\0\0\x05hello";
	assert_int_equal(auth_pubkey_decode(idn_slice_of(bad_sm2, sizeof(bad_sm2) - 1), &pk),
	                 IDN_EINVAL);
}

/* Round trip with a generated key of each type: sign, encode the public half, verify. */
static void roundtrip(const char *type)
{
	EVP_PKEY *priv;
	assert_int_equal(auth_keygen(type, &priv), 0);
	uint8_t pub[4096], resp[4096];
	wire_wr pw = wire_wr_init(pub, sizeof(pub));
	assert_int_equal(auth_pubkey_encode(priv, &pw), 0);
	idn_slice pubs = idn_slice_of(pub, wire_wr_len(&pw));

	const idn_slice id = IDN_SLICE("88.1000/admin");
	const idn_slice nonce = IDN_SLICE("0123456789abcdef");
	const idn_slice digest = IDN_SLICE("ABCDEFGHIJKLMNOPQRST");
	for (int sha256 = 0; sha256 < 2; sha256++) {
		wire_wr rw = wire_wr_init(resp, sizeof(resp));
		assert_int_equal(auth_respond_pubkey(priv, id, sha256, nonce, digest, &rw), 0);
		idn_slice r = idn_slice_of(resp, wire_wr_len(&rw));
		assert_int_equal(auth_verify_pubkey(pubs, id, nonce, digest, r), 0);
		assert_int_equal(auth_verify_pubkey(pubs, id, digest, nonce, r), IDN_EMISMATCH);
		if (!strcmp(type, "sm2")) /* the signer id is part of an SM2 signature */
			assert_int_equal(
			    auth_verify_pubkey(pubs, IDN_SLICE("88.1000/other"), nonce, digest, r),
			    IDN_EMISMATCH);
	}
	/* A hash that does not go with the key is refused. */
	uint8_t fake[64];
	wire_wr fw = wire_wr_init(fake, sizeof(fake));
	wire_put_cstr(&fw, strcmp(type, "sm2") ? "SM3" : "SHA1");
	wire_put_cstr(&fw, "x");
	assert_int_equal(
	    auth_verify_pubkey(pubs, id, nonce, digest, idn_slice_of(fake, wire_wr_len(&fw))),
	    IDN_ENOTSUP);
	EVP_PKEY_free(priv);
}

static void test_generated_rsa(void **state)
{
	(void)state;
	roundtrip("rsa");
}
static void test_generated_dsa(void **state)
{
	(void)state;
	roundtrip("dsa");
}
static void test_generated_sm2(void **state)
{
	(void)state;
	roundtrip("sm2");
}

static void test_seckey_forms(void **state)
{
	(void)state;
	static const uint8_t algs[] = {PROTO_SECKEY_MD5,         PROTO_SECKEY_SHA1,
	                               PROTO_SECKEY_SHA256,      PROTO_SECKEY_HMAC_SHA1,
	                               PROTO_SECKEY_HMAC_SHA256, PROTO_SECKEY_PBKDF2};
	const idn_slice nonce = IDN_SLICE("0123456789abcdef");
	const idn_slice digest = IDN_SLICE("ABCDEFGHIJKLMNOPQRST");
	for (size_t i = 0; i < sizeof(algs); i++) {
		uint8_t resp[256];
		wire_wr w = wire_wr_init(resp, sizeof(resp));
		assert_int_equal(auth_respond_seckey(IDN_SLICE(SECRET), algs[i], nonce, digest, &w),
		                 0);
		idn_slice r = idn_slice_of(resp, wire_wr_len(&w));
		assert_int_equal(auth_verify_seckey(IDN_SLICE(SECRET), nonce, digest, r), 0);
		assert_int_equal(auth_verify_seckey(IDN_SLICE("other"), nonce, digest, r),
		                 IDN_EMISMATCH);
		resp[wire_wr_len(&w) - 1] ^= 0x80;
		assert_int_equal(auth_verify_seckey(IDN_SLICE(SECRET), nonce, digest, r),
		                 IDN_EMISMATCH);
	}
	/* HMAC-SHA256 known answer (RFC 4231 test case 2: key "Jefe"). */
	static const uint8_t kat[] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
	                              0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
	                              0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
	                              0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
	uint8_t resp[64];
	wire_wr w = wire_wr_init(resp, sizeof(resp));
	wire_put_u8(&w, PROTO_SECKEY_HMAC_SHA256);
	wire_put_data(&w, kat, sizeof(kat));
	idn_slice r = idn_slice_of(resp, wire_wr_len(&w));
	assert_int_equal(auth_verify_seckey(IDN_SLICE("Jefe"), IDN_SLICE("what do ya want "),
	                                    IDN_SLICE("for nothing?"), r),
	                 0);

	/* PBKDF2 parameters a peer could use to make us burn CPU are refused. */
	wire_wr pw = wire_wr_init(resp, sizeof(resp));
	wire_put_u8(&pw, PROTO_SECKEY_PBKDF2);
	wire_put_lbytes(&pw, "0123456789abcdef", 16);
	wire_put_u32(&pw, 100000000);
	wire_put_u32(&pw, 160);
	wire_put_lbytes(&pw, "01234567890123456789", 20);
	assert_int_equal(auth_verify_seckey(IDN_SLICE(SECRET), nonce, digest,
	                                    idn_slice_of(resp, wire_wr_len(&pw))),
	                 IDN_ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_captured_responses), cmocka_unit_test(test_pubkey_encoding),
	    cmocka_unit_test(test_generated_rsa),      cmocka_unit_test(test_generated_dsa),
	    cmocka_unit_test(test_generated_sm2),      cmocka_unit_test(test_seckey_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
