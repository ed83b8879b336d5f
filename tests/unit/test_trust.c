/*
 * test_trust.c - trusted resolution against an in-memory hierarchy: a root
 * key, a secondary (0.NA/88.300) and an enterprise (0.NA/88.300.5)
 * certificate, a signed record 88.300.5/item1. The chain verifies; each case
 * of the acceptance list fails with its own code and message: a changed
 * value, an expired and a not-yet-valid certificate, permissions that do not
 * cover the handle, a loop in `chain`, a chain longer than 50, a wrong root
 * key; and a missing value, an unsigned value, a bad signature, a broken chain.
 * The value digest is checked against sha256 of the encoding computed by
 * `openssl dgst -sha256 -binary | base64`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/jws.h"
#include "auth/trust.h"
#include "auth/verify.h"
#include "core/err.h"
#include "proto/proto.h"

enum { NOW = 1800000000, DAY = 86400, MAX_HANDLES = 80, MAX_VALS = 8 };

/* An in-memory store: handle -> values (index, type, data). */
typedef struct mval {
	uint32_t index;
	const char *type;
	char *data;
} mval;
typedef struct mrec {
	char handle[64];
	mval v[MAX_VALS];
	uint32_t n;
} mrec;
static mrec store[MAX_HANDLES];
static size_t nstore;
static unsigned fetches;

static mrec *rec_of(const char *h)
{
	for (size_t i = 0; i < nstore; i++)
		if (!strcmp(store[i].handle, h))
			return &store[i];
	assert_true(nstore < MAX_HANDLES);
	memset(&store[nstore], 0, sizeof store[nstore]);
	snprintf(store[nstore].handle, sizeof store[nstore].handle, "%s", h);
	return &store[nstore++];
}

/* Sets (adds or replaces) the value at index of handle; takes data. */
static void put(const char *h, uint32_t index, const char *type, char *data)
{
	mrec *r = rec_of(h);
	for (uint32_t i = 0; i < r->n; i++)
		if (r->v[i].index == index) {
			free(r->v[i].data);
			r->v[i] = (mval){index, type, data};
			return;
		}
	assert_true(r->n < MAX_VALS);
	r->v[r->n++] = (mval){index, type, data};
}

static void store_clear(void)
{
	for (size_t i = 0; i < nstore; i++)
		for (uint32_t k = 0; k < store[i].n; k++)
			free(store[i].v[k].data);
	nstore = 0;
	fetches = 0;
}

/* The record of h encoded as a resolution answer carries it; malloc'd. */
static uint8_t *encode(const mrec *r, size_t *len)
{
	uint8_t *buf = malloc(65536);
	wire_wr w = wire_wr_init(buf, 65536);
	for (uint32_t i = 0; i < r->n; i++) {
		proto_value v = {.index = r->v[i].index,
		                 .timestamp = 1700000000 + i,
		                 .ttl = 86400,
		                 .perms = 0x0E,
		                 .type = idn_slice_of(r->v[i].type, strlen(r->v[i].type)),
		                 .data = idn_slice_of(r->v[i].data, strlen(r->v[i].data))};
		proto_value_put(&w, &v);
	}
	assert_int_equal(w.err, 0);
	*len = wire_wr_len(&w);
	return buf;
}

static int mem_fetch(void *arg, const char *handle, uint8_t **vals, size_t *len, uint32_t *n,
                     char *err, size_t errlen)
{
	fetches++;
	assert_true(fetches < 500); /* a walk is bounded */
	for (size_t i = 0; i < nstore; i++)
		if (!strcmp(store[i].handle, handle)) {
			*vals = encode(&store[i], len);
			*n = store[i].n;
			return IDN_OK;
		}
	return IDN_ENOTFOUND;
}

static EVP_PKEY *root_key, *sec_key, *ent_key, *other_key;
static bool strict;          /* trust_ctx.require_all */
static unsigned links_bound; /* trust_ctx.max_links */

static int setup(void **st)
{
	assert_int_equal(auth_keygen("sm2", &root_key), IDN_OK);
	assert_int_equal(auth_keygen("rsa", &sec_key), IDN_OK);
	assert_int_equal(auth_keygen("sm2", &ent_key), IDN_OK);
	assert_int_equal(auth_keygen("sm2", &other_key), IDN_OK);
	return 0;
}

static int teardown(void **st)
{
	store_clear();
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(sec_key);
	EVP_PKEY_free(ent_key);
	EVP_PKEY_free(other_key);
	return 0;
}

static char *sign(const char *payload, EVP_PKEY *k)
{
	char *out = NULL, err[200];
	int rc = jws_sign(payload, strlen(payload), k, JWS_SM2256, &out, err, sizeof err);
	assert_int_equal(rc, IDN_OK);
	return out;
}

/* A certificate for sub (subject key pub) by iss (signed with k), valid nbf..exp. */
static char *cert(const char *iss, const char *sub, EVP_PKEY *pub, EVP_PKEY *k,
                  const trust_perm *perms, size_t nperms, int64_t nbf, int64_t exp)
{
	trust_issue is = {.iss = iss,
	                  .sub = sub,
	                  .iat = NOW - DAY,
	                  .nbf = nbf,
	                  .exp = exp,
	                  .perms = perms,
	                  .nperms = nperms,
	                  .pubkey = pub,
	                  .sm2_xy = 1};
	char *p = trust_cert_payload(&is);
	assert_non_null(p);
	char *j = sign(p, k);
	free(p);
	return j;
}

/* The enterprise's certificate (subject key ent_key) by iss, signed with signer. */
static void ent_cert(const char *iss, EVP_PKEY *signer, const trust_perm *perms, size_t n,
                     int64_t nbf, int64_t exp)
{
	put("0.NA/88.300.5", 400, "HS_CERT",
	    cert(iss, "300:0.NA/88.300.5", ent_key, signer, perms, n, nbf, exp));
}

/* The secondary's certificate by the root. */
static void sec_cert(const trust_perm *perms, size_t n, int64_t nbf, int64_t exp)
{
	put("0.NA/88.300", 400, "HS_CERT",
	    cert("300:88.111.1/0.0", "300:0.NA/88.300", sec_key, root_key, perms, n, nbf, exp));
}

static trust_perm sec_perms[] = {{"0.NA/88.300", TRUST_PERM_DERIVED_PREFIXES},
                                 {"0.NA/88.300", TRUST_PERM_HANDLES_UNDER_PREFIX}};
static trust_perm ent_perms[] = {{"0.NA/88.300.5", TRUST_PERM_HANDLES_UNDER_PREFIX}};

/* A signature by iss (key k) over item1's values idx (all when nidx is 0), stored at 400. */
static void sign_record(const char *iss, const char *const *chain, size_t nchain,
                        const uint32_t *idx, size_t nidx, EVP_PKEY *k)
{
	mrec *r = rec_of("88.300.5/item1");
	size_t len;
	uint8_t *vals = encode(r, &len);
	trust_issue is = {.iss = iss,
	                  .sub = "88.300.5/item1",
	                  .iat = NOW,
	                  .nbf = NOW - DAY,
	                  .exp = NOW + DAY,
	                  .chain = chain,
	                  .nchain = nchain};
	char *p = NULL, err[200];
	assert_int_equal(
	    trust_sig_payload(&is, idn_slice_of(vals, len), r->n, idx, nidx, &p, err, sizeof err),
	    IDN_OK);
	free(vals);
	put("88.300.5/item1", 400, "HS_SIGNATURE", sign(p, k));
	free(p);
}

/* The enterprise's signature over item1's values 1 and 2. */
static void sign_item(EVP_PKEY *k)
{
	static const uint32_t idx[] = {1, 2};
	sign_record("300:0.NA/88.300.5", NULL, 0, idx, 2, k);
}

/* The hierarchy, every part valid. */
static void build(void)
{
	store_clear();
	sec_cert(sec_perms, 2, NOW - DAY, NOW + 365 * DAY);
	ent_cert("300:0.NA/88.300", sec_key, ent_perms, 1, NOW - DAY, NOW + 365 * DAY);
	put("88.300.5/item1", 1, "URL", strdup("https://example.com/item1"));
	put("88.300.5/item2", 1, "URL", strdup("unused"));
	put("88.300.5/item1", 2, "EMAIL", strdup("ops@example.com"));
	sign_item(ent_key);
}

/* Verifies item1 as the store has it; checks the code and that msg holds want. */
static void expect(enum trust_code code, const char *want)
{
	mrec *r = rec_of("88.300.5/item1");
	size_t len;
	uint8_t *vals = encode(r, &len);
	trust_ctx t = {.root_key = root_key,
	               .now = NOW,
	               .fetch = mem_fetch,
	               .require_all = strict,
	               .max_links = links_bound};
	trust_result res;
	enum trust_code c =
	    trust_verify_record(&t, "88.300.5/item1", idn_slice_of(vals, len), r->n, &res);
	free(vals);
	if (c != code || !strstr(res.msg, want))
		print_error("got %s: \"%s\"; wanted %s with \"%s\"\n", trust_code_name(c), res.msg,
		            trust_code_name(code), want);
	assert_int_equal(c, code);
	assert_non_null(strstr(res.msg, want));
}

static void test_three_levels_verify(void **st)
{
	build();
	expect(TRUST_OK, "verified: 2 values signed by 300:0.NA/88.300.5, 2 certificates");
	/* The root key given as another key: wrong root. */
	EVP_PKEY *saved = root_key;
	root_key = other_key;
	expect(TRUST_WRONG_ROOT, "wrong root: certificate 2 (300:0.NA/88.300, issued by "
	                         "300:88.111.1/0.0) is not signed by the trusted root key");
	root_key = saved;
}

static void test_changed_value(void **st)
{
	build();
	put("88.300.5/item1", 2, "EMAIL", strdup("attacker@example.com"));
	expect(TRUST_DIGEST, "digest of value 2 (EMAIL) does not match");
	build();
	put("88.300.5/item1", 2, "EMAIL2", strdup("ops@example.com")); /* type changed */
	expect(TRUST_DIGEST, "digest of value 2 (EMAIL2)");
}

static void test_missing_and_unsigned(void **st)
{
	build();
	mrec *r = rec_of("88.300.5/item1");
	/* Drop value 2 (the values are 1, 2, 400 in that order). */
	free(r->v[1].data);
	r->v[1] = r->v[2];
	r->n--;
	expect(TRUST_MISSING, "value 2 is signed but not in the record");
	build();
	put("88.300.5/item1", 3, "URL", strdup("https://evil.example/"));
	expect(TRUST_OK, "verified: 2 values signed by 300:0.NA/88.300.5, 2 certificates up to the "
	                 "trust root; not covered by the signature: 3 (URL)");
	strict = true;
	expect(TRUST_UNSIGNED, "value 3 (URL) is not covered by the signature");
	strict = false;
	/* A signature over nothing verifies nothing. */
	build();
	r = rec_of("88.300.5/item1");
	for (uint32_t i = 0; i < r->n; i++)
		free(r->v[i].data);
	r->n = 0;
	sign_record("300:0.NA/88.300.5", NULL, 0, NULL, 0, ent_key); /* the record is empty */
	expect(TRUST_UNSIGNED, "the signature covers no value");
}

static void test_expired_and_not_yet(void **st)
{
	build();
	ent_cert("300:0.NA/88.300", sec_key, ent_perms, 1, NOW - 30 * DAY, NOW - DAY);
	expect(TRUST_EXPIRED,
	       "certificate 1 (300:0.NA/88.300.5, issued by 300:0.NA/88.300) expired");
	build();
	sec_cert(sec_perms, 2, NOW + DAY, NOW + 365 * DAY);
	expect(TRUST_NOT_YET_VALID, "certificate 2 (300:0.NA/88.300, issued by 300:88.111.1/0.0) "
	                            "is not valid before");
}

static void test_permissions(void **st)
{
	build();
	static trust_perm other[] = {{"0.NA/88.300.6", TRUST_PERM_HANDLES_UNDER_PREFIX}};
	ent_cert("300:0.NA/88.300", sec_key, other, 1, NOW - DAY, NOW + DAY);
	expect(TRUST_PERMISSION,
	       "permission: the certificate of 300:0.NA/88.300.5 does not cover 88.300.5/item1");
	/* The secondary may not certify a prefix outside its own. */
	build();
	static trust_perm narrow[] = {{"0.NA/88.301", TRUST_PERM_DERIVED_PREFIXES}};
	sec_cert(narrow, 1, NOW - DAY, NOW + DAY);
	expect(TRUST_PERMISSION,
	       "the certificate of 300:0.NA/88.300 does not cover 88.300.5/item1");
	/* Each perm kind, as the SDK reads it. */
	trust_perm p = {"0.NA/88.300", TRUST_PERM_THIS_HANDLE};
	assert_true(trust_perms_cover(&p, 1, "0.NA/88.300"));
	assert_true(trust_perms_cover(&p, 1, "88.300/x"));
	assert_false(trust_perms_cover(&p, 1, "88.300.5/x"));
	p.kind = TRUST_PERM_DERIVED_PREFIXES;
	assert_true(trust_perms_cover(&p, 1, "0.na/88.300.5"));
	assert_true(trust_perms_cover(&p, 1, "88.300.5.7/x"));
	assert_false(trust_perms_cover(&p, 1, "88.300/x"));
	assert_false(trust_perms_cover(&p, 1, "0.NA/88.3001"));
	p.kind = TRUST_PERM_HANDLES_UNDER_PREFIX;
	assert_true(trust_perms_cover(&p, 1, "88.300/X"));
	assert_false(trust_perms_cover(&p, 1, "88.300.5/x"));
	p.kind = TRUST_PERM_EVERYTHING;
	assert_true(trust_perms_cover(&p, 1, "99/anything"));
	assert_false(trust_perms_cover(NULL, 0, "99/anything"));
}

static void test_loop(void **st)
{
	build();
	/* The enterprise's issuer 0.NA/88.400 is certified by 0.NA/88.300.5: a cycle. */
	static trust_perm all[] = {{"0.NA/88", TRUST_PERM_EVERYTHING}};
	ent_cert("300:0.NA/88.400", other_key, all, 1, NOW - DAY, NOW + DAY);
	put("0.NA/88.400", 400, "HS_CERT",
	    cert("300:0.NA/88.300.5", "300:0.NA/88.400", other_key, ent_key, all, 1, NOW - DAY,
	         NOW + DAY));
	expect(TRUST_LOOP, "loop in the chain: 0.NA/88.300.5 is met twice");
	/* A `chain` list naming the same link twice. */
	build();
	const char *twice[] = {"400:0.NA/88.300.5", "400:0.NA/88.300.5"};
	sign_record("300:0.NA/88.300.5", twice, 2, NULL, 0, ent_key);
	/* The first link's certificate names an issuer (0.NA/88.400) that is not the root. */
	ent_cert("300:0.NA/88.400", other_key, all, 1, NOW - DAY, NOW + DAY);
	expect(TRUST_LOOP, "loop in the chain: 400:0.NA/88.300.5 is met twice");
	/* A self-issued certificate that is not the root's ends the walk. */
	ent_cert("300:0.NA/88.300.5", ent_key, all, 1, NOW - DAY, NOW + DAY);
	expect(TRUST_WRONG_ROOT, "self-issued 300:0.NA/88.300.5");
}

/* A line of k intermediates L.0 .. L.(k-1) under the root; item signed by the last. */
static void build_line(int k)
{
	store_clear();
	static trust_perm all[] = {{"0.NA/88", TRUST_PERM_EVERYTHING}};
	for (int i = 0; i < k; i++) {
		char iss[64], sub[64], h[64];
		if (i == 0)
			snprintf(iss, sizeof iss, "300:88.111.1/0.0");
		else
			snprintf(iss, sizeof iss, "300:0.NA/88.300.%d", i - 1);
		snprintf(sub, sizeof sub, "300:0.NA/88.300.%d", i);
		snprintf(h, sizeof h, "0.NA/88.300.%d", i);
		put(h, 400, "HS_CERT",
		    cert(iss, sub, ent_key, i == 0 ? root_key : ent_key, all, 1, NOW - DAY,
		         NOW + DAY));
	}
	put("88.300.5/item1", 1, "URL", strdup("https://example.com/item1"));
	put("88.300.5/item1", 2, "EMAIL", strdup("ops@example.com"));
	char iss[64];
	snprintf(iss, sizeof iss, "300:0.NA/88.300.%d", k - 1);
	sign_record(iss, NULL, 0, NULL, 0, ent_key);
}

static void test_chain_length(void **st)
{
	build_line(50);
	expect(TRUST_OK, "50 certificates up to the trust root");
	build_line(51);
	expect(TRUST_TOO_LONG, "chain longer than 50 certificates");
	/* A smaller bound (a recursive node's --trust-max-links); a larger one is 50. */
	build_line(3);
	links_bound = 2;
	expect(TRUST_TOO_LONG, "chain longer than 2 certificates");
	links_bound = 3;
	expect(TRUST_OK, "3 certificates up to the trust root");
	build_line(51);
	links_bound = 1000;
	expect(TRUST_TOO_LONG, "chain longer than 50 certificates");
	links_bound = 0;
}

static void test_bad_signature_and_broken(void **st)
{
	build();
	/* The enterprise certificate signed by a key that is not the secondary's. */
	ent_cert("300:0.NA/88.300", other_key, ent_perms, 1, NOW - DAY, NOW + DAY);
	expect(TRUST_BAD_SIGNATURE, "certificate 1 (300:0.NA/88.300.5, issued by 300:0.NA/88.300) "
	                            "does not verify with the key of 300:0.NA/88.300");
	/* The item signed by another key than the one its certificate names. */
	build();
	sign_item(other_key);
	expect(TRUST_BAD_SIGNATURE, "the signature (by 300:0.NA/88.300.5) does not verify");
	/* The secondary's certificate gone. */
	build();
	rec_of("0.NA/88.300")->v[0].type = "URL";
	expect(TRUST_BROKEN, "broken chain: no HS_CERT about 300:0.NA/88.300 at 0.NA/88.300");
	build();
	snprintf(rec_of("0.NA/88.300")->handle, 64, "0.NA/88.999");
	expect(TRUST_BROKEN, "0.NA/88.300 (issuer of certificate 1");
	/* No signature at all; a signature that is not JWS. */
	build();
	rec_of("88.300.5/item1")->v[2].type = "URL";
	expect(TRUST_NO_SIGNATURE, "has no readable HS_SIGNATURE");
	build();
	put("0.NA/88.300.5", 400, "HS_CERT", strdup("not.a.jws"));
	expect(TRUST_BROKEN, "no HS_CERT about 300:0.NA/88.300.5");
	/* A certificate about another index of the handle: another identity. */
	build();
	put("0.NA/88.300.5", 400, "HS_CERT",
	    cert("300:0.NA/88.300", "301:0.NA/88.300.5", ent_key, sec_key, ent_perms, 1, NOW - DAY,
	         NOW + DAY));
	expect(TRUST_BROKEN, "no HS_CERT about 300:0.NA/88.300.5 at 0.NA/88.300.5");
}

static void test_claims_malformed(void **st)
{
	static const char *const bad[][2] = {
	    {"[]", "not a JSON object"},
	    {"{\"iss\":1,\"sub\":\"a\"}", "\"iss\" is not a string"},
	    {"{\"sub\":\"a\"}", "lack \"iss\""},
	    {"{\"iss\":\"a\",\"sub\":\"b\",\"exp\":\"soon\"}", "\"exp\" is not an integer"},
	    {"{\"iss\":\"a\",\"sub\":\"b\",\"chain\":[1]}", "\"chain\" entry 0"},
	    {"{\"iss\":\"a\",\"sub\":\"b\",\"perms\":[{\"handle\":\"x\",\"perm\":\"all\"}]}",
	     "unknown perm \"all\""},
	    {"{\"iss\":\"a\",\"sub\":\"b\",\"perms\":[{\"handle\":\"x\"}]}",
	     "lacks handle or perm"},
	    {"{\"iss\":\"a\",\"sub\":\"b\",\"digests\":{\"alg\":\"SHA-256\"}}",
	     "\"digests\" is not"},
	    {"{\"iss\":\"a\",\"sub\":\"b\",\"digests\":{\"alg\":\"SHA-256\",\"digests\":[{"
	     "\"index\":-1,"
	     "\"digest\":\"x\"}]}}",
	     "entry 0 lacks index"},
	    {"{\"iss\":\"a\",\"sub\":\"b\",\"publicKey\":{\"kty\":\"RSA\"}}", "\"publicKey\": JWK"},
	    {"{\"iss\":\"a\",\"iss\":\"b\",\"sub\":\"c\"}", "not JSON"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		trust_claims c;
		char err[200] = "";
		assert_int_equal(trust_claims_parse((const uint8_t *)bad[i][0], strlen(bad[i][0]),
		                                    &c, err, sizeof err),
		                 IDN_EINVAL);
		if (!strstr(err, bad[i][1]))
			print_error("%s: got \"%s\"\n", bad[i][0], err);
		assert_non_null(strstr(err, bad[i][1]));
	}
}

/*
 * The digest of one encoded value, against the openssl CLI: the bytes after
 * the index and timestamp of {index 1, ts 0x65000000, ttl type 0, ttl 86400,
 * perms 0x0E, type "URL", data "https://example.com/", no refs} are
 *   00 00 01 51 80 0e 00000003 55524c 00000014 "https://example.com/" 00000000
 * and `printf '\x00\x00\x01\x51\x80\x0e\x00\x00\x00\x03URL\x00\x00\x00\x14
 * https://example.com/\x00\x00\x00\x00' | openssl dgst -sha256 -binary |
 * base64` gives the constant below.
 */
#define SHA256_URL_VALUE "DgCYkmdtLQ8of3+8BtdogpY12tX+yHFrnk0DRsCEfX4="

static void test_value_digest(void **st)
{
	uint8_t buf[128];
	wire_wr w = wire_wr_init(buf, sizeof buf);
	proto_value v = {.index = 1,
	                 .timestamp = 0x65000000,
	                 .ttl = 86400,
	                 .perms = 0x0E,
	                 .type = IDN_SLICE("URL"),
	                 .data = IDN_SLICE("https://example.com/")};
	proto_value_put(&w, &v);
	char d[100];
	assert_int_equal(
	    trust_value_digest(idn_slice_of(buf, wire_wr_len(&w)), "SHA-256", d, sizeof d), IDN_OK);
	assert_string_equal(d, SHA256_URL_VALUE);
	assert_int_equal(trust_value_digest(idn_slice_of(buf, wire_wr_len(&w)), "MD4", d, sizeof d),
	                 IDN_ENOTSUP);
	uint32_t ix;
	assert_string_equal(trust_link_handle("400:0.NA/88", &ix), "0.NA/88");
	assert_int_equal(ix, 400);
	assert_string_equal(trust_link_handle("0.NA/88", &ix), "0.NA/88");
	assert_int_equal(ix, 0);
	assert_string_equal(trust_link_handle("x1:0.NA/88", &ix), "x1:0.NA/88");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_value_digest),
	    cmocka_unit_test(test_three_levels_verify),
	    cmocka_unit_test(test_changed_value),
	    cmocka_unit_test(test_missing_and_unsigned),
	    cmocka_unit_test(test_expired_and_not_yet),
	    cmocka_unit_test(test_permissions),
	    cmocka_unit_test(test_loop),
	    cmocka_unit_test(test_chain_length),
	    cmocka_unit_test(test_bad_signature_and_broken),
	    cmocka_unit_test(test_claims_malformed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
