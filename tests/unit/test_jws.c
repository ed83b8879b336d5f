/*
 * test_jws.c - JWS and JWK known answers: RFC 7515 Appendix A.2 (RS256) from
 * the published key and signature; SM2SM3 / SM2256 and DS256 signatures made
 * with the openssl command line; tampered, malformed and mismatched ones
 * refused; our own signatures verify both ways; the JWK forms round-trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "auth/jws.h"
#include "auth/verify.h"
#include "core/err.h"

/* RFC 7515 A.2.1: the RSA public key (n with the display breaks removed). */
static const char RFC_N[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4"
    "QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdb"
    "BYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-D"
    "WNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
/* RFC 7515 A.2.1: the complete JWS in compact serialization. */
static const char RFC_JWS[] = "eyJhbGciOiJSUzI1NiJ9"
                              ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGx"
                              "lLmNvbS9pc19yb290Ijp0cnVlfQ"
                              ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__"
                              "dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujG"
                              "bds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_"
                              "nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0G"
                              "arZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-"
                              "eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY"
                              "9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
static const char RFC_PAYLOAD[] =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

/*
 * An SM2 key made with `openssl genpkey -algorithm SM2` (OpenSSL 3.0.19),
 * public half from `openssl pkey -pubout`. The JWSs below: header and payload
 * base64url-encoded with `base64 | tr '+/' '-_' | tr -d =`, the signing input
 * "H.P" signed with `openssl pkeyutl -sign -rawin -digest sm3 -inkey sm2.pem
 * -pkeyopt distid:1234567812345678` (DER signature), checked with `openssl
 * pkeyutl -verify` the same way.
 */
static const char SM2_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEZPcuz5uuSC0jm5CIbj8uA+75Ht84\n"
                              "/zMJsnDmXSqvFeqghHNSQTHL3tt8aw/CVgJ16KIlOZQ6RWI5Ac//i8elqA==\n"
                              "-----END PUBLIC KEY-----\n";
static const char SM2SM3_JWS[] =
    "eyJhbGciOiJTTTJTTTMifQ.eyJpc3MiOiIzMDA6ODguMTExLjEvMC4wIiwic3ViIjoiMTo4OC4xMTEuMS94In0."
    "MEUCIFoddZwLf0wwVk5y1v138_"
    "NmEQOiFpxepXJrH7f4raxqAiEAjNRrX1XF8RHSmZqJjy8HQoP38Ip7KO1jp8zLLgxqa20";
static const char SM2256_JWS[] =
    "eyJhbGciOiJTTTIyNTYifQ.eyJpc3MiOiIzMDA6ODguMTExLjEvMC4wIiwic3ViIjoiMTo4OC4xMTEuMS94In0."
    "MEUCIFeX5T8rtq83PQkSFQmVgusQMsUSFzWCP3Xu-ktGiuS9AiEAxGO2BFgxCnDrcZGJVHwUAHP72wIDLniuuD_AOuS_"
    "KfM";
static const char KAT_PAYLOAD[] = "{\"iss\":\"300:88.111.1/0.0\",\"sub\":\"1:88.111.1/x\"}";
/* The same SM2 key as JWKs: SPKI DER (`openssl pkey -pubin -outform DER`), and its last 64 bytes.
 */
static const char SM2_JWK_D[] =
    "{\"kty\":\"SM2\",\"d\":\"MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEZPcuz5uuSC0jm5CIbj8uA-75Ht84_"
    "zMJsnDmXSqvFeqghHNSQTHL3tt8aw_CVgJ16KIlOZQ6RWI5Ac__i8elqA\"}";
static const char SM2_JWK_XY[] =
    "{\"kty\":\"SM2\",\"x\":\"ZPcuz5uuSC0jm5CIbj8uA-75Ht84_zMJsnDmXSqvFeo\","
    "\"y\":\"oIRzUkExy97bfGsPwlYCdeiiJTmUOkViOQHP_4vHpag\"}";

/*
 * A DSA key (2048-bit p, 256-bit q) from `openssl genpkey -genparam
 * -algorithm DSA` then `openssl genpkey -paramfile`; the JWS's input signed
 * with `openssl dgst -sha256 -sign dsa.pem` (DER signature).
 */
static const char DSA_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MIIDSDCCAjoGByqGSM44BAEwggItAoIBAQDgL7CH1lK7Cq3wpQUZo9fpfKq19riS\n"
                              "tQVv2Lb2Dshly8iPTHW4E5AsOx0Tg8CIr+WibjZvurg9HYG4sKB5CGCRlcAcBYQ7\n"
                              "3S5rHejimXPtvUtkidWHQdbVuzNCYieeGQWT6FAwMh8xCvmySjuIoeoDuizeGgfj\n"
                              "lTimPdMq68TaY7pfzzZ8RSPGyY132X7iY9iQdyEKCFcklipawhH9VF3tRt/Hl9lu\n"
                              "KohuSXquMYR5CwpYzWqYJZIISFf2ND7a9Xa45QwcV1cy39F2yCrMoK9MxwsUM1mG\n"
                              "UaBzpoYpZz7evuARUCZw27xPerJQ5bBtaw6Fx15/0Rm6fqiFy5aqE8TpAiEAgqWo\n"
                              "Co9/IQmzG7pkhTbBGVN/BIsPw8ZJiRRTjZF9V0UCggEBANr+FjgNqzYhiYw+MAtq\n"
                              "Ia9a1t9+310GSjy6V+V5kwHk9N3+lYbFv2oJH3Fm/l4zGeKhSP7ps1H1vQ8gG4Pf\n"
                              "KK71JVgSrLf38rIplnqZk9ZY7jId+wK3L+Rv1f7Ci+JHK2KpQTNf1h8Ska7sq8vu\n"
                              "v/VpobDBa9NnrJF94PHtm/LyGPFuzcU2gg+LgXSrb+3p7QAIfkGccT9XN/Lg4kMf\n"
                              "NqMjOS2+Yl11tNxaauZXOY22XPJRNBftsTMDnSyMb9JjFPhtsQLIwZ0c6dK1DLAr\n"
                              "SClxx1GKYMJR+/IkUUdN0z5z+VWko2YL2qW+x85bIZHutF60AS0tPGFUIkdvxnyq\n"
                              "sG4DggEGAAKCAQEAh0+CFy8qfN2InWUj1Q1EZlyZglLMYImZpDEhiujVkca//E2f\n"
                              "RNjrmVNyP/+F0A85HcWMEJEkbJgpaT36aAXjX/aWN0tWNaGvG1AnQ5/IyheFUiw1\n"
                              "CephtvMut2/qfj7xOKOYZ7J7Ys0YIVaCzdBBOmB0aP9FizfbTNrJ8uSfIMEVjsXj\n"
                              "uCCWPC9iA+DhpQJg7SjnUyjAtegL+br2zTQK2G0sHmo7g/N2a7U4ejszEN1CImXS\n"
                              "Drv8E+yJ9y+ufTil2yEvP80o4kWZdzLYI/cvl8JqWrSnSPLWOrNigDzu16I8ZJqR\n"
                              "qLmIOBzX8VfCjuKVmBqNRfRNlTnpv1ZK1Uc+VQ==\n"
                              "-----END PUBLIC KEY-----\n";
static const char DS256_JWS[] =
    "eyJhbGciOiJEUzI1NiJ9.eyJpc3MiOiIzMDA6ODguMTExLjEvMC4wIiwic3ViIjoiMTo4OC4xMTEuMS94In0."
    "MEQCIAdJN5YHAuwmZmpJAT7Sy7MA1vLnzD3R2zUChy4qDH7vAiBz9XkUm-uzHsLZnRVlUR_xERwdYHPgfWDEdXE4-"
    "rid3Q";

static EVP_PKEY *pem_pub(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(pk);
	return pk;
}

static EVP_PKEY *jwk_of(const char *text)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	assert_non_null(o);
	EVP_PKEY *pk = NULL;
	char err[200];
	int rc = jwk_parse(o, &pk, err, sizeof err);
	json_decref(o);
	if (rc)
		print_error("jwk: %s\n", err);
	assert_int_equal(rc, IDN_OK);
	return pk;
}

/* The compact JSON text of pk's JWK (malloc'd). */
static char *jwk_text(EVP_PKEY *pk, enum jwk_sm2_form f)
{
	json_t *w = jwk_write(pk, f);
	assert_non_null(w);
	char *s = json_dumps(w, JSON_COMPACT);
	json_decref(w);
	return s;
}

/* Parses text, expects alg and payload, and the verdict of pk on it. */
static void check_jws(const char *text, jws_alg alg, const char *payload, EVP_PKEY *pk, int want)
{
	jws j;
	char err[200] = "";
	int rc = jws_parse(text, strlen(text), &j, err, sizeof err);
	if (rc)
		print_error("parse: %s\n", err);
	assert_int_equal(rc, IDN_OK);
	assert_int_equal(j.alg, alg);
	assert_int_equal(j.payload_len, strlen(payload));
	assert_memory_equal(j.payload, payload, j.payload_len);
	assert_int_equal(jws_verify(&j, pk, err, sizeof err), want);
	jws_free(&j);
}

/* A copy of text with the character at i replaced by c. */
static char *altered(const char *text, size_t i, char c)
{
	char *s = strdup(text);
	s[i] = c;
	return s;
}

static void test_rfc7515_a2(void **st)
{
	char jwk[600];
	snprintf(jwk, sizeof jwk, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", RFC_N);
	EVP_PKEY *pk = jwk_of(jwk);
	assert_int_equal(EVP_PKEY_get_bits(pk), 2048);
	check_jws(RFC_JWS, JWS_RS256, RFC_PAYLOAD, pk, IDN_OK);
	/* The JSON serialization of the same JWS (RFC 7515 A.6 shape) verifies too. */
	jws j;
	assert_int_equal(jws_parse(RFC_JWS, strlen(RFC_JWS), &j, NULL, 0), IDN_OK);
	char *json = jws_to_json(&j);
	jws_free(&j);
	check_jws(json, JWS_RS256, RFC_PAYLOAD, pk, IDN_OK);
	free(json);
	/* Flattened JSON serialization. */
	const char *d1 = strchr(RFC_JWS, '.'), *d2 = strchr(d1 + 1, '.');
	char flat[1200];
	snprintf(flat, sizeof flat,
	         " {\"protected\":\"%.*s\",\"payload\":\"%.*s\",\"signature\":\"%s\"}\n",
	         (int)(d1 - RFC_JWS), RFC_JWS, (int)(d2 - d1 - 1), d1 + 1, d2 + 1);
	check_jws(flat, JWS_RS256, RFC_PAYLOAD, pk, IDN_OK);
	/* One character of the payload, or of the signature, changed: no longer verifies. */
	char *t = altered(RFC_JWS, 30, RFC_JWS[30] == 'A' ? 'B' : 'A');
	jws tj;
	assert_int_equal(jws_parse(t, strlen(t), &tj, NULL, 0), IDN_OK);
	assert_int_equal(jws_verify(&tj, pk, NULL, 0), IDN_EMISMATCH);
	jws_free(&tj);
	free(t);
	size_t last = strlen(RFC_JWS) - 10;
	t = altered(RFC_JWS, last, RFC_JWS[last] == 'A' ? 'B' : 'A');
	assert_int_equal(jws_parse(t, strlen(t), &tj, NULL, 0), IDN_OK);
	assert_int_equal(jws_verify(&tj, pk, NULL, 0), IDN_EMISMATCH);
	jws_free(&tj);
	free(t);
	EVP_PKEY_free(pk);
}

static void test_sm2_openssl(void **st)
{
	EVP_PKEY *pk = pem_pub(SM2_PUB);
	check_jws(SM2SM3_JWS, JWS_SM2SM3, KAT_PAYLOAD, pk, IDN_OK);
	check_jws(SM2256_JWS, JWS_SM2256, KAT_PAYLOAD, pk, IDN_OK);
	/* Both JWK forms give the same key, and it verifies. */
	EVP_PKEY *kd = jwk_of(SM2_JWK_D), *kxy = jwk_of(SM2_JWK_XY);
	assert_true(jwk_same_key(pk, kd));
	assert_true(jwk_same_key(pk, kxy));
	check_jws(SM2SM3_JWS, JWS_SM2SM3, KAT_PAYLOAD, kxy, IDN_OK);
	/* An SM2256 signature with its header renamed SM2SM3: the input changed, fails. */
	char *t = strdup(SM2256_JWS);
	const char *h = strchr(SM2SM3_JWS, '.');
	memcpy(t, SM2SM3_JWS, (size_t)(h - SM2SM3_JWS));
	check_jws(t, JWS_SM2SM3, KAT_PAYLOAD, pk, IDN_EMISMATCH);
	free(t);
	/* Our own JWK writer gives back the openssl forms exactly. */
	char *s = jwk_text(pk, JWK_SM2_SPKI);
	assert_string_equal(s, SM2_JWK_D);
	free(s);
	s = jwk_text(pk, JWK_SM2_XY);
	assert_string_equal(s, SM2_JWK_XY);
	free(s);
	/* An RSA key never verifies an SM2 signature. */
	char jwk[600];
	snprintf(jwk, sizeof jwk, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", RFC_N);
	EVP_PKEY *rsa = jwk_of(jwk);
	check_jws(SM2SM3_JWS, JWS_SM2SM3, KAT_PAYLOAD, rsa, IDN_ENOTSUP);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(kd);
	EVP_PKEY_free(kxy);
	EVP_PKEY_free(pk);
}

static void test_dsa_openssl(void **st)
{
	EVP_PKEY *pk = pem_pub(DSA_PUB);
	check_jws(DS256_JWS, JWS_DS256, KAT_PAYLOAD, pk, IDN_OK);
	char *s = jwk_text(pk, JWK_SM2_SPKI);
	EVP_PKEY *back = jwk_of(s);
	assert_true(jwk_same_key(pk, back));
	check_jws(DS256_JWS, JWS_DS256, KAT_PAYLOAD, back, IDN_OK);
	free(s);
	EVP_PKEY_free(back);
	size_t last = strlen(DS256_JWS) - 5;
	char *t = altered(DS256_JWS, last, DS256_JWS[last] == 'A' ? 'B' : 'A');
	check_jws(t, JWS_DS256, KAT_PAYLOAD, pk, IDN_EMISMATCH);
	free(t);
	EVP_PKEY_free(pk);
}

/* Our signatures, every key type, verify; with another key of the same type they do not. */
static void test_sign_roundtrip(void **st)
{
	static const char *const types[] = {"rsa", "dsa", "sm2"};
	static const char payload[] = "{\"sub\":\"1:88.111.1/x\"}";
	for (int i = 0; i < 3; i++) {
		for (int form = 0; form < 2; form++) {
			EVP_PKEY *k1 = NULL, *k2 = NULL;
			assert_int_equal(auth_keygen(types[i], &k1), IDN_OK);
			assert_int_equal(auth_keygen(types[i], &k2), IDN_OK);
			char *out = NULL;
			jws_alg sm2 = form ? JWS_SM2SM3 : JWS_SM2256;
			assert_int_equal(jws_sign(payload, strlen(payload), k1, sm2, &out, NULL, 0),
			                 IDN_OK);
			jws_alg want = i == 0 ? JWS_RS256 : i == 1 ? JWS_DS256 : sm2;
			check_jws(out, want, payload, k1, IDN_OK);
			check_jws(out, want, payload, k2, IDN_EMISMATCH);
			/* The key through its JWK (both SM2 forms) verifies the same. */
			char *s = jwk_text(k1, form ? JWK_SM2_XY : JWK_SM2_SPKI);
			EVP_PKEY *back = jwk_of(s);
			check_jws(out, want, payload, back, IDN_OK);
			EVP_PKEY_free(back);
			free(s);
			free(out);
			EVP_PKEY_free(k1);
			EVP_PKEY_free(k2);
		}
	}
}

/* A signature that verified is remembered; what differs in any byte is checked again. */
static void test_verified_remembered(void **st)
{
	(void)st;
	static const char payload[] = "{\"sub\":\"1:88.111.1/y\"}";
	EVP_PKEY *k = NULL;
	assert_int_equal(auth_keygen("sm2", &k), IDN_OK);
	char *out = NULL;
	assert_int_equal(jws_sign(payload, strlen(payload), k, JWS_SM2256, &out, NULL, 0), IDN_OK);
	check_jws(out, JWS_SM2256, payload, k, IDN_OK);
	check_jws(out, JWS_SM2256, payload, k, IDN_OK);
	/* The last signature character changed: the DER signature no longer verifies. */
	size_t n = strlen(out);
	char *bad = altered(out, n - 2, out[n - 2] == 'A' ? 'B' : 'A');
	jws j;
	char err[200];
	assert_int_equal(jws_parse(bad, strlen(bad), &j, err, sizeof err), IDN_OK);
	assert_int_not_equal(jws_verify(&j, k, err, sizeof err), IDN_OK);
	jws_free(&j);
	free(bad);
	/* The same JWS under another key of the same type. */
	EVP_PKEY *other = NULL;
	assert_int_equal(auth_keygen("sm2", &other), IDN_OK);
	check_jws(out, JWS_SM2256, payload, other, IDN_EMISMATCH);
	EVP_PKEY_free(other);
	free(out);
	EVP_PKEY_free(k);
}

static void expect_bad(const char *text, const char *why)
{
	jws j;
	char err[200] = "";
	int rc = jws_parse(text, strlen(text), &j, err, sizeof err);
	assert_true(rc < 0);
	if (!strstr(err, why))
		print_error("for %s: got \"%s\", wanted \"%s\"\n", text, err, why);
	assert_non_null(strstr(err, why));
}

static void test_malformed_jws(void **st)
{
	expect_bad("", "empty");
	expect_bad("abc.def", "three dot-separated parts");
	expect_bad("a.b.c.d", "three dot-separated parts");
	expect_bad("eyJhbGciOiJSUzI1NiJ9.e30=.AAAA", "payload is not base64url");
	expect_bad("eyJhbGciOiJSUzI1NiJ9.e3+w.AAAA", "payload is not base64url");
	expect_bad("eyJhbGciOiJSUzI1NiJ9.e31.AAAA", "payload is not base64url"); /* stray bits */
	expect_bad("eyJhbGciOiJSUzI1NiJ9.e30.", "signature is empty");
	expect_bad("e30.e30.AAAA", "no \"alg\"");                                /* {} */
	expect_bad("eyJhbGciOiJub25lIn0.e30.AAAA", "\"none\" is not supported"); /* alg none */
	expect_bad("eyJhbGciOiJIUzI1NiJ9.e30.AAAA", "not supported");            /* HS256 */
	expect_bad("WzFd.e30.AAAA", "not a JSON object");                        /* [1] */
	expect_bad("{\"payload\":\"e30\"}", "no \"protected\"");
	expect_bad("{\"payload\":\"e30\",\"signatures\":[]}", "non-empty array");
	expect_bad("{\"payload\":1}", "no \"payload\"");
	expect_bad("{\"payload\":", "JSON serialization");
	char *big = malloc(JWS_MAX_TEXT + 10);
	memset(big, 'A', JWS_MAX_TEXT + 9);
	big[JWS_MAX_TEXT + 9] = 0;
	expect_bad(big, "too long");
	free(big);
}

static void expect_bad_jwk(const char *text, const char *why)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	assert_non_null(o);
	EVP_PKEY *pk = NULL;
	char err[200] = "";
	assert_true(jwk_parse(o, &pk, err, sizeof err) < 0);
	assert_null(pk);
	if (!strstr(err, why))
		print_error("for %s: got \"%s\", wanted \"%s\"\n", text, err, why);
	assert_non_null(strstr(err, why));
	json_decref(o);
}

static void test_malformed_jwk(void **st)
{
	expect_bad_jwk("[]", "not an object");
	expect_bad_jwk("{}", "no \"kty\"");
	expect_bad_jwk("{\"kty\":\"EC\"}", "not supported");
	expect_bad_jwk("{\"kty\":\"RSA\",\"e\":\"AQAB\"}", "no \"n\"");
	expect_bad_jwk("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
	               "unusable"); /* 17-bit n */
	expect_bad_jwk("{\"kty\":\"RSA\",\"n\":\"a+b/\",\"e\":\"AQAB\"}", "not base64url");
	expect_bad_jwk("{\"kty\":\"SM2\",\"d\":\"AAAA\"}", "not an SM2 public key");
	/* A point off the curve (y changed in its last byte). */
	expect_bad_jwk("{\"kty\":\"SM2\",\"x\":\"ZPcuz5uuSC0jm5CIbj8uA-75Ht84_zMJsnDmXSqvFeo\","
	               "\"y\":\"oIRzUkExy97bfGsPwlYCdeiiJTmUOkViOQHP_4vHpak\"}",
	               "not on the curve");
	expect_bad_jwk("{\"kty\":\"SM2\",\"x\":\"AA\"}", "\"y\"");
	expect_bad_jwk("{\"kty\":\"DSA\",\"p\":\"AQAB\",\"q\":\"AQAB\",\"g\":\"Ag\",\"y\":\"Ag\"}",
	               "DSA");
}

/* b64url of n bytes of value v (n a multiple of 3: no padding to strip), malloc'd. */
static char *b64_fill(size_t n, uint8_t first, uint8_t v, uint8_t last)
{
	uint8_t *b = malloc(n);
	assert_non_null(b);
	memset(b, v, n);
	b[0] = first;
	b[n - 1] = last;
	char *s = jws_b64url_encode(b, n);
	free(b);
	assert_non_null(s);
	return s;
}

/*
 * A DSA JWK (p of 8184 bits) whose q has 7991 bits: its public-key check
 * raises y to q mod p, a quarter second of CPU (measured before the fix) for
 * each such key in a stranger's HS_CERT or HS_SIGNATURE, which a trusted
 * resolution parses by the dozen. DSA signs with a q of 160, 224 or 256
 * bits only: refused for its q, before any arithmetic.
 */
static void test_dsa_jwk_long_q(void **st)
{
	(void)st;
	char *p = b64_fill(1023, 0xFF, 0xFF, 0xFF), *q = b64_fill(999, 0x7F, 0xFF, 0xFD);
	char *text = NULL;
	assert_true(asprintf(&text,
	                     "{\"kty\":\"DSA\",\"p\":\"%s\",\"q\":\"%s\",\"g\":\"Ag\","
	                     "\"y\":\"Aw\"}",
	                     p, q) > 0);
	/* This thread's CPU time, not wall time: a busy machine stretches that. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	expect_bad_jwk(text, "q of 7991 bits");
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("DSA JWK with a 7991-bit q refused in %.3f s of CPU\n", s);
	assert_true(s < 0.05);
	free(p);
	free(q);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7515_a2),     cmocka_unit_test(test_sm2_openssl),
	    cmocka_unit_test(test_dsa_openssl),    cmocka_unit_test(test_sign_roundtrip),
	    cmocka_unit_test(test_malformed_jws),  cmocka_unit_test(test_malformed_jwk),
	    cmocka_unit_test(test_dsa_jwk_long_q), cmocka_unit_test(test_verified_remembered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
