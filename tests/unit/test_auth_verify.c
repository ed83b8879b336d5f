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

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>

#include "auth/verify.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/reserved.h"
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

/* The HS_PUBKEY encodings of a key: the index names them in failure messages. */
enum { ENC_BINARY, ENC_PEM, ENC_PEM_CRLF, ENC_DER, ENC_SM2_PEM, ENC_SM2_DER, ENC_N };
static const char *const ENC_NAME[ENC_N] = {
    "binary", "PEM", "PEM CRLF 76", "DER", "SM2_PUB_KEY PEM", "SM2_PUB_KEY DER"};

/* SM2_PUB_KEY, flags 0, then inner as bytes. */
static size_t sm2_wrap(idn_slice inner, uint8_t *buf, size_t cap)
{
	wire_wr w = wire_wr_init(buf, cap);
	proto_pubkey k = {
	    .type = IDN_SLICE("SM2_PUB_KEY"), .kind = PROTO_KEY_SM2, .sm2.pem = inner};
	proto_pubkey_put(&w, &k);
	assert_int_equal(w.err, 0);
	return wire_wr_len(&w);
}

/*
 * Every encoding of pk: the Handle binary form, PEM as OpenSSL writes it (LF,
 * 64 columns), PEM as Java's KeyConverter.toX509Pem writes it (CRLF, MIME
 * base64 in 76 columns), DER, and the SM2_PUB_KEY wrapper around PEM and DER.
 */
static void encodings(EVP_PKEY *pk, uint8_t bufs[ENC_N][4096], idn_slice out[ENC_N])
{
	wire_wr w = wire_wr_init(bufs[ENC_BINARY], 4096);
	assert_int_equal(auth_pubkey_encode(pk, &w), 0);
	out[ENC_BINARY] = idn_slice_of(bufs[ENC_BINARY], wire_wr_len(&w));
	w = wire_wr_init(bufs[ENC_PEM], 4096);
	assert_int_equal(auth_pubkey_encode_pem(pk, &w), 0);
	out[ENC_PEM] = idn_slice_of(bufs[ENC_PEM], wire_wr_len(&w));

	unsigned char *der = NULL;
	int dlen = i2d_PUBKEY(pk, &der);
	assert_true(dlen > 0 && dlen < 2048);
	memcpy(bufs[ENC_DER], der, (size_t)dlen);
	out[ENC_DER] = idn_slice_of(bufs[ENC_DER], (size_t)dlen);

	char b64[4096];
	int blen = EVP_EncodeBlock((unsigned char *)b64, der, dlen);
	OPENSSL_free(der);
	char *p = (char *)bufs[ENC_PEM_CRLF];
	p += sprintf(p, "-----BEGIN PUBLIC KEY-----\r\n");
	for (int i = 0; i < blen; i += 76)
		p += sprintf(p, "%.*s\r\n", blen - i < 76 ? blen - i : 76, b64 + i);
	p += sprintf(p, "-----END PUBLIC KEY-----\r\n");
	out[ENC_PEM_CRLF] =
	    idn_slice_of(bufs[ENC_PEM_CRLF], (size_t)(p - (char *)bufs[ENC_PEM_CRLF]));

	out[ENC_SM2_PEM] =
	    idn_slice_of(bufs[ENC_SM2_PEM], sm2_wrap(out[ENC_PEM_CRLF], bufs[ENC_SM2_PEM], 4096));
	out[ENC_SM2_DER] =
	    idn_slice_of(bufs[ENC_SM2_DER], sm2_wrap(out[ENC_DER], bufs[ENC_SM2_DER], 4096));
}

/*
 * Round trip with a generated key of each type: sign a challenge, verify it
 * against the public half in every encoding (the SM2_PUB_KEY wrapper only
 * for SM2 keys: around an RSA or DSA key it is refused).
 */
static void roundtrip(const char *type)
{
	EVP_PKEY *priv;
	assert_int_equal(auth_keygen(type, &priv), 0);
	static uint8_t bufs[ENC_N][4096];
	idn_slice enc[ENC_N];
	uint8_t resp[4096];
	encodings(priv, bufs, enc);
	bool sm2 = !strcmp(type, "sm2");

	const idn_slice id = IDN_SLICE("88.1000/admin");
	const idn_slice nonce = IDN_SLICE("0123456789abcdef");
	const idn_slice digest = IDN_SLICE("ABCDEFGHIJKLMNOPQRST");
	for (int e = 0; e < ENC_N; e++) {
		print_message("%s key as %s\n", type, ENC_NAME[e]);
		idn_slice pubs = enc[e];
		char why[256];
		EVP_PKEY *pk = NULL;
		if (!sm2 && (e == ENC_SM2_PEM || e == ENC_SM2_DER)) {
			assert_int_equal(auth_pubkey_parse(pubs, &pk, why, sizeof(why)),
			                 IDN_EINVAL);
			assert_non_null(strstr(why, "HS_PUBKEY: SM2_PUB_KEY holds a"));
			continue;
		}
		assert_int_equal(auth_pubkey_parse(pubs, &pk, why, sizeof(why)), 0);
		assert_int_equal(EVP_PKEY_eq(pk, priv), 1);
		EVP_PKEY_free(pk);
		for (int sha256 = 0; sha256 < 2; sha256++) {
			wire_wr rw = wire_wr_init(resp, sizeof(resp));
			assert_int_equal(auth_respond_pubkey(priv, id, sha256, nonce, digest, &rw),
			                 0);
			idn_slice r = idn_slice_of(resp, wire_wr_len(&rw));
			assert_int_equal(auth_verify_pubkey(pubs, id, nonce, digest, r), 0);
			assert_int_equal(auth_verify_pubkey(pubs, id, digest, nonce, r),
			                 IDN_EMISMATCH);
			if (sm2) /* the user ID is part of an SM2 signature */
				assert_int_equal(auth_verify_pubkey(pubs,
				                                    IDN_SLICE("88.1000/other"),
				                                    nonce, digest, r),
				                 IDN_EMISMATCH);
		}
		/* A hash that does not go with the key is refused. */
		uint8_t fake[64];
		wire_wr fw = wire_wr_init(fake, sizeof(fake));
		wire_put_cstr(&fw, sm2 ? "SHA1" : "SM3");
		wire_put_cstr(&fw, "x");
		assert_int_equal(auth_verify_pubkey(pubs, id, nonce, digest,
		                                    idn_slice_of(fake, wire_wr_len(&fw))),
		                 IDN_ENOTSUP);
	}
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

/* Parses data expecting err and a message containing want. */
static void refused(idn_slice data, int err, const char *want)
{
	char why[256];
	EVP_PKEY *pk = NULL;
	int ret = auth_pubkey_parse(data, &pk, why, sizeof(why));
	print_message("%d %s\n", ret, why);
	assert_int_equal(ret, err);
	assert_null(pk);
	assert_non_null(strstr(why, want));
}

/* A key of another kind (EC on P-256, Ed25519, an SM2 private key) in PEM and DER. */
static void other_key_pem(EVP_PKEY *pk, int priv, char *pem, size_t cap)
{
	BIO *bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	assert_int_equal(priv ? PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL)
	                      : PEM_write_bio_PUBKEY(bio, pk),
	                 1);
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	assert_true((size_t)n < cap);
	memcpy(pem, p, (size_t)n);
	pem[n] = 0;
	BIO_free(bio);
}

static void test_pubkey_malformed(void **state)
{
	(void)state;
	char pem[4096];
	refused(IDN_SLICE(""), IDN_EINVAL, "HS_PUBKEY: empty");

	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(ec);
	other_key_pem(ec, 0, pem, sizeof(pem));
	refused(idn_slice_of(pem, strlen(pem)), IDN_ENOTSUP,
	        "HS_PUBKEY: EC key on curve prime256v1: only SM2 accepted");
	unsigned char *der = NULL;
	int dlen = i2d_PUBKEY(ec, &der);
	refused(idn_slice_of(der, (size_t)dlen), IDN_ENOTSUP, "only SM2 accepted");
	OPENSSL_free(der);
	EVP_PKEY_free(ec);

	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(ed);
	other_key_pem(ed, 0, pem, sizeof(pem));
	refused(idn_slice_of(pem, strlen(pem)), IDN_ENOTSUP,
	        "key: not supported (RSA, DSA or SM2)");
	EVP_PKEY_free(ed);

	EVP_PKEY *sm2 = NULL;
	assert_int_equal(auth_keygen("sm2", &sm2), 0);
	other_key_pem(sm2, 1, pem, sizeof(pem));
	refused(idn_slice_of(pem, strlen(pem)), IDN_EINVAL,
	        "HS_PUBKEY: PEM: not a public key (-----BEGIN PRIVATE KEY-----");

	/* Cut, garbled and padded forms of a good SM2 key. */
	static uint8_t bufs[ENC_N][4096];
	idn_slice enc[ENC_N];
	encodings(sm2, bufs, enc);
	idn_slice d = enc[ENC_DER];
	for (size_t n = 1; n < d.len; n++) {
		EVP_PKEY *pk = NULL;
		assert_int_not_equal(auth_pubkey_decode(idn_slice_of(d.p, n), &pk), 0);
		assert_null(pk);
	}
	refused(idn_slice_of(d.p, d.len - 1), IDN_EINVAL,
	        "HS_PUBKEY: DER: not an X.509 SubjectPublicKeyInfo");
	uint8_t longer[4096];
	memcpy(longer, d.p, d.len);
	longer[d.len] = 0;
	refused(idn_slice_of(longer, d.len + 1), IDN_EINVAL,
	        "HS_PUBKEY: DER: 1 byte(s) after the key");
	/* A point off the curve. */
	memcpy(longer, d.p, d.len);
	longer[d.len - 1] ^= 1;
	refused(idn_slice_of(longer, d.len), IDN_EINVAL, "DER: not an X.509");
	/* PEM cut before its END line, or with a broken base64 body. */
	idn_slice pm = enc[ENC_PEM];
	size_t end_line = strlen("-----END PUBLIC KEY-----\n");
	for (size_t n = 0; n + end_line < pm.len; n++) {
		EVP_PKEY *pk = NULL;
		assert_int_not_equal(auth_pubkey_decode(idn_slice_of(pm.p, n), &pk), 0);
	}
	refused(idn_slice_of(pm.p, pm.len - end_line), IDN_EINVAL,
	        "HS_PUBKEY: PEM: no complete -----BEGIN/-----END block");
	memcpy(longer, pm.p, pm.len);
	memcpy(longer + 30, "!!!!", 4);
	refused(idn_slice_of(longer, pm.len), IDN_EINVAL, "HS_PUBKEY: PEM:");
	/* Inside SM2_PUB_KEY: nothing, garbage, DER with a byte less. */
	uint8_t w[4096];
	refused(idn_slice_of(w, sm2_wrap(IDN_SLICE(""), w, sizeof(w))), IDN_EINVAL,
	        "HS_PUBKEY: SM2_PUB_KEY: DER: not an X.509");
	refused(idn_slice_of(w, sm2_wrap(IDN_SLICE("hello"), w, sizeof(w))), IDN_EINVAL,
	        "SM2_PUB_KEY: DER");
	refused(idn_slice_of(w, sm2_wrap(idn_slice_of(d.p, d.len - 1), w, sizeof(w))), IDN_EINVAL,
	        "SM2_PUB_KEY: DER");
	EVP_PKEY_free(sm2);

	/* Handle forms: cut short, DH, unknown. */
	refused(IDN_SLICE("\0\0"), IDN_EINVAL, "neither PEM, DER nor a Handle key encoding");
	refused(IDN_SLICE("\0\0\0\x0a"
	                  "DH_PUB_KEY\0\0\0\0\0\x01\x05\0\0\0\x01\x07\0\0\0\x01\x02"),
	        IDN_ENOTSUP, "HS_PUBKEY: DH_PUB_KEY: a DH key cannot sign");
	refused(IDN_SLICE("\0\0\0\x03XYZ\0\0"), IDN_ENOTSUP, "HS_PUBKEY: unknown key type \"XYZ\"");
	refused(IDN_SLICE("\0\0\0\x0bRSA_PUB_KEY\0\0\0\0\0\0\0\0\0\0"), IDN_EINVAL,
	        "RSA_PUB_KEY: not a valid RSA key");
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

/* A key decoded again comes from the cache: the same key, each caller holding a reference. */
static void test_pubkey_cache(void **state)
{
	(void)state;
	size_t klen;
	uint8_t *pub = tvec_read_file("vectors/keys/admin_rsa_pub.bin", &klen);
	EVP_PKEY *a, *b, *c;
	assert_int_equal(auth_pubkey_decode(idn_slice_of(pub, klen), &a), 0);
	assert_int_equal(auth_pubkey_decode(idn_slice_of(pub, klen), &b), 0);
	assert_ptr_equal(a, b);
	EVP_PKEY_free(a);
	/* The data is compared whole: one byte changed is another key, or none. */
	pub[klen - 1] ^= 1;
	int ret = auth_pubkey_decode(idn_slice_of(pub, klen), &c);
	if (!ret) {
		assert_ptr_not_equal(c, b);
		EVP_PKEY_free(c);
	}
	pub[klen - 1] ^= 1;
	/* b outlives the caller's copy of the data and still verifies keys' sizes. */
	free(pub);
	assert_int_equal(EVP_PKEY_get_bits(b), 2048);
	EVP_PKEY_free(b);
}

/* A DSA key whose y is a negative DER integer (found by fuzz_keys) is refused, saying why. */
static void test_pubkey_negative_number(void **state)
{
	(void)state;
	static const char pem[] =
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MIIBvjCCATMGByqGSM44BAEwggEmAoGBAIf+ntiaQQ8aAFfw3BtIBFgw/De65HAU\n"
	    "+zbQu32J8WLSz663HGsPwjYsyFfNh6W5NX2Aud/OeNsDCFI5pdTuBZgxseYrhyt3\n"
	    "9YI9y2tkqrI7MNnLyevArUtCxr6RioV2OaSERkgYQoxkDztCeUqn1nKli91T+jjb\n"
	    "O4Cid/XxRPFjAh0A+JyKTocNWVz5rI/25Kku4ZeiwkBmPcGbCWGV9QKBgAeRpfM2\n"
	    "MEGj4eyaQrO3UNw5qirFs0Hyc7TR/HKko2JmzN2vUn/rQWjynSgmeKAc8BEBM3Ba\n"
	    "HaafMYAvCEwgvts7cny136zcF2zqfkhb1bUyYqE0veIJa58vL7EFuDLz2has+dY5\n"
	    "HR2kLaXrJdNUejLXxYAlc5FDB+2n7QWZ25XtA4GEAAKBX6g+yEqga/Aol4AkJRhP\n"
	    "C3J0fBNMdUUaf5W6i99ara7tct0ISNsYZrAXEWrGP428SLxqPyfODM56A8kmYpym\n"
	    "40jRt7er7oD7J1NcJGm2DDUX80CVHf1vACozOwbIHjsnkZD/WgPQx23DHn2b5o6q\n"
	    "7zFKO1HeEok04TfJRumS4bhs\n"
	    "-----END PUBLIC KEY-----\n";
	EVP_PKEY *pk = NULL;
	char why[256];
	assert_int_equal(auth_pubkey_parse(IDN_SLICE(pem), &pk, why, sizeof(why)), IDN_EINVAL);
	assert_null(pk);
	assert_non_null(strstr(why, "is not a positive number"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_captured_responses),     cmocka_unit_test(test_pubkey_encoding),
	    cmocka_unit_test(test_generated_rsa),          cmocka_unit_test(test_generated_dsa),
	    cmocka_unit_test(test_generated_sm2),          cmocka_unit_test(test_pubkey_malformed),
	    cmocka_unit_test(test_seckey_forms),           cmocka_unit_test(test_pubkey_cache),
	    cmocka_unit_test(test_pubkey_negative_number),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
