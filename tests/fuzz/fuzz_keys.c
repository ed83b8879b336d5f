/*
 * fuzz_keys.c - any bytes through the identity-key decoders (HS_PUBKEY in
 * every form: PEM, DER, the Handle binary forms, SM2_PUB_KEY around PEM or
 * DER), a challenge answer checked against such a key, and the session-key
 * and SM4 decryptions (auth/verify.h, auth/sm.h). The first byte picks the
 * path. Nothing may crash, leak or read out of bounds; a key that decodes must
 * encode again (both forms) to a key that decodes equal.
 */
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sm.h"
#include "auth/verify.h"
#include "proto/reserved.h"
#include "../unit/sm_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed private keys of test_sm.c, with which the ciphertext seeds were made. */
static EVP_PKEY *load(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!k)
		abort();
	return k;
}

/* A decoded key encodes again, in both forms, to data that decodes to the same key. */
static void reencode(EVP_PKEY *pk)
{
	static uint8_t buf[32768];
	for (int pem = 0; pem < 2; pem++) {
		wire_wr w = wire_wr_init(buf, sizeof(buf));
		int ret = pem ? auth_pubkey_encode_pem(pk, &w) : auth_pubkey_encode(pk, &w);
		if (ret)
			abort();
		EVP_PKEY *back = NULL;
		if (auth_pubkey_decode(idn_slice_of(buf, wire_wr_len(&w)), &back) ||
		    EVP_PKEY_eq(back, pk) != 1)
			abort();
		EVP_PKEY_free(back);
	}
}

static void parse(idn_slice d)
{
	char why[256];
	EVP_PKEY *pk = NULL;
	int ret = auth_pubkey_parse(d, &pk, why, sizeof(why));
	if (ret == IDN_OK) {
		reencode(pk);
		EVP_PKEY_free(pk);
	} else if (pk || strncmp(why, "HS_PUBKEY: ", 11)) {
		abort(); /* a failure leaves no key and always says what is wrong */
	}
}

/* The bytes inside SM2_PUB_KEY, flags 0. */
static void parse_wrapped(idn_slice inner)
{
	static uint8_t buf[16384];
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	proto_pubkey k = {
	    .type = IDN_SLICE("SM2_PUB_KEY"), .kind = PROTO_KEY_SM2, .sm2.pem = inner};
	proto_pubkey_put(&w, &k);
	if (!w.err)
		parse(idn_slice_of(buf, wire_wr_len(&w)));
}

/* [u16 key length][HS_PUBKEY data][signed response]: checked with a fixed nonce and digest. */
static void answer(idn_slice d)
{
	if (d.len < 2)
		return;
	size_t klen = (size_t)d.p[0] << 8 | d.p[1];
	if (klen > d.len - 2)
		return;
	idn_slice key = idn_slice_of(d.p + 2, klen);
	idn_slice resp = idn_slice_of(d.p + 2 + klen, d.len - 2 - klen);
	auth_verify_pubkey(key, IDN_SLICE("88.100.1/admin"), IDN_SLICE("0123456789abcdef"),
	                   IDN_SLICE("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"), resp);
}

static void decrypt(EVP_PKEY *priv, idn_slice d)
{
	static uint8_t out[8192];
	size_t olen = 0;
	int ret = auth_privkey_decrypt(priv, d, out, sizeof(out), &olen);
	if (ret == IDN_OK && olen > sizeof(out))
		abort();
}

static void sm4(idn_slice d)
{
	static uint8_t out[16384];
	size_t olen = 0;
	if (d.len < AUTH_SM4_KEY_LEN)
		return;
	idn_slice ct = idn_slice_of(d.p + AUTH_SM4_KEY_LEN, d.len - AUTH_SM4_KEY_LEN);
	int ret = auth_sm4_decrypt(d.p, ct.p, ct.len, out, sizeof(out), &olen);
	if (ret == IDN_OK && (olen > ct.len || ct.len - olen == 0 || ct.len - olen > 16))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *sm2, *rsa;
	if (!sm2) {
		sm2 = load(SM2_PRIV);
		rsa = load(RSA_PRIV);
	}
	if (size < 1)
		return 0;
	idn_slice d = idn_slice_of(data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		parse(d);
		break;
	case 1:
		parse_wrapped(d);
		break;
	case 2:
		answer(d);
		break;
	case 3:
		decrypt(sm2, d);
		break;
	case 4:
		decrypt(rsa, d);
		break;
	default:
		sm4(d);
		break;
	}
	return 0;
}
