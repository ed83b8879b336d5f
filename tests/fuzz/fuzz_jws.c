/*
 * fuzz_jws.c - any bytes through the trust parsers and the chain walk. The
 * first byte picks the part: 0 a JWS (parse, re-serialize, read its claims,
 * verify), 1 a JWK, 2 a claims set, 3 a whole verification: the rest split at
 * "\n--\n" into the HS_SIGNATURE of 88.300.5/item1 (beside two fixed values)
 * and HS_CERT values that the fetch returns for whatever handle is asked.
 * The trust root is the fixed test key below (a throwaway SM2 key made with
 * `openssl genpkey -algorithm SM2` for fuzzing only), so seeds signed with it
 * reach the end of the walk. Nothing may crash, leak or read out of bounds,
 * and a walk must end.
 */
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jws.h"
#include "auth/trust.h"
#include "core/err.h"
#include "proto/proto.h"

static const char ROOT_PEM[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgooL8FUhvc74J0sm2\n"
                               "qhlFL5eRwUjPJUh81aLbiUrquFOhRANCAAR98tbCY7oWwl4noxf+byWF8UuENUL+\n"
                               "r2IIc8o9qlqvaRu/vDU6nK1kmQUlpAMpuoUaY2aCoNst8FQme1cwFyTz\n"
                               "-----END PRIVATE KEY-----\n";

enum { MAX_SEGS = 64 };

static EVP_PKEY *root(void)
{
	static EVP_PKEY *k;
	if (!k) {
		BIO *b = BIO_new_mem_buf(ROOT_PEM, -1);
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
		if (!k)
			abort();
	}
	return k;
}

typedef struct segs {
	const uint8_t *p[MAX_SEGS];
	size_t len[MAX_SEGS];
	size_t n;
	unsigned fetches;
} segs;

static void put_value(wire_wr *w, uint32_t index, const char *type, const void *data, size_t len)
{
	proto_value v = {.index = index,
	                 .timestamp = 1700000000,
	                 .ttl = 86400,
	                 .perms = 0x0E,
	                 .type = idn_slice_of(type, strlen(type)),
	                 .data = idn_slice_of(data, len)};
	proto_value_put(w, &v);
}

static int seg_fetch(void *arg, const char *handle, uint8_t **vals, size_t *len, uint32_t *n,
                     char *err, size_t errlen)
{
	segs *s = arg;
	if (++s->fetches > 4 * TRUST_MAX_LINKS)
		abort(); /* the walk must be bounded */
	if (s->n < 2 || !strcmp(handle, "0.NA/404"))
		return IDN_ENOTFOUND;
	size_t cap = 64;
	for (size_t i = 1; i < s->n; i++)
		cap += s->len[i] + 64;
	uint8_t *b = malloc(cap);
	if (!b)
		return IDN_ENOMEM;
	wire_wr w = wire_wr_init(b, cap);
	for (size_t i = 1; i < s->n; i++)
		put_value(&w, 400 + (uint32_t)i - 1, "HS_CERT", s->p[i], s->len[i]);
	*vals = b;
	*len = wire_wr_len(&w);
	*n = (uint32_t)(s->n - 1);
	return IDN_OK;
}

static void fuzz_chain(const uint8_t *d, size_t len)
{
	segs s = {0};
	static const char sep[] = "\n--\n";
	while (s.n < MAX_SEGS) {
		const uint8_t *e = memmem(d, len, sep, 4);
		size_t l = e ? (size_t)(e - d) : len;
		s.p[s.n] = d;
		s.len[s.n++] = l;
		if (!e)
			break;
		d += l + 4;
		len -= l + 4;
	}
	size_t cap = s.len[0] + 256;
	uint8_t *rec = malloc(cap);
	wire_wr w = wire_wr_init(rec, cap);
	put_value(&w, 1, "URL", "https://example.com/item1", 25);
	put_value(&w, 2, "EMAIL", "ops@example.com", 15);
	put_value(&w, 400, "HS_SIGNATURE", s.p[0], s.len[0]);
	trust_ctx t = {.root_key = root(), .now = 1800000000, .fetch = seg_fetch, .fetch_arg = &s};
	trust_result r;
	trust_verify_record(&t, "88.300.5/item1", idn_slice_of(rec, wire_wr_len(&w)), 3, &r);
	free(rec);
}

static void fuzz_one_jws(const uint8_t *d, size_t len)
{
	jws j;
	char err[200];
	if (jws_parse((const char *)d, len, &j, err, sizeof err))
		return;
	free(jws_to_json(&j));
	trust_claims c;
	if (!trust_claims_parse(j.payload, j.payload_len, &c, err, sizeof err)) {
		if (c.pubkey)
			jws_verify(&j, c.pubkey, err, sizeof err);
		trust_claims_free(&c);
	}
	jws_verify(&j, root(), err, sizeof err);
	jws_free(&j);
}

static void fuzz_jwk(const uint8_t *d, size_t len)
{
	json_error_t je;
	json_t *o = json_loadb((const char *)d, len, 0, &je);
	EVP_PKEY *pk = NULL;
	char err[200];
	if (o && !jwk_parse(o, &pk, err, sizeof err)) {
		json_decref(jwk_write(pk, JWK_SM2_SPKI));
		json_decref(jwk_write(pk, JWK_SM2_XY));
		EVP_PKEY_free(pk);
	}
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *d = data + 1;
	size_t len = size - 1;
	trust_claims c;
	char err[200];
	switch (data[0] % 4) {
	case 0:
		fuzz_one_jws(d, len);
		break;
	case 1:
		fuzz_jwk(d, len);
		break;
	case 2:
		if (!trust_claims_parse(d, len, &c, err, sizeof err))
			trust_claims_free(&c);
		break;
	default:
		fuzz_chain(d, len);
		break;
	}
	return 0;
}
