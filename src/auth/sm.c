/*
 * sm.c - SM4-CBC, SM2/RSA session-key encryption in the SDKs' forms, SM2
 * signatures with a user ID, SM3 (see sm.h).
 */
#include "auth/sm.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <string.h>

#include "core/err.h"

/* ---- SM4 ---- */

static int sm4_run(int enc, const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out,
                   size_t *olen)
{
	int n1 = 0, n2 = 0, ret = IDN_ECRYPTO;
	if (len > (size_t)INT32_MAX - AUTH_SM4_BLOCK)
		return IDN_ERANGE;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return IDN_ENOMEM;
	/* IV = the key: the SDKs' convention. Padding (PKCS#5) is OpenSSL's default. */
	if (EVP_CipherInit_ex(c, EVP_sm4_cbc(), NULL, key, key, enc) != 1 ||
	    EVP_CipherUpdate(c, out, &n1, in, (int)len) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n1, &n2) != 1) {
		ret = enc ? IDN_ECRYPTO : IDN_EMISMATCH; /* decrypting: the padding is wrong */
		ERR_clear_error(); /* the peer's mistake, said by the return code */
		goto out;
	}
	*olen = (size_t)n1 + (size_t)n2;
	ret = IDN_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return ret;
}

int auth_sm4_encrypt(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                     size_t *olen)
{
	if (cap < len / AUTH_SM4_BLOCK * AUTH_SM4_BLOCK + AUTH_SM4_BLOCK)
		return IDN_ESPACE;
	return sm4_run(1, key, in, len, out, olen);
}

int auth_sm4_decrypt(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                     size_t *olen)
{
	if (len == 0 || len % AUTH_SM4_BLOCK)
		return IDN_EINVAL;
	if (cap < len)
		return IDN_ESPACE;
	return sm4_run(0, key, in, len, out, olen);
}

/* ---- DER, just what OpenSSL's SM2 ciphertext needs ---- */

/* Reads one element with tag from [*p, end): its contents. 0 or IDN_EINVAL. */
static int der_get(const uint8_t **p, const uint8_t *end, uint8_t tag, idn_slice *content)
{
	const uint8_t *q = *p;
	if (end - q < 2 || q[0] != tag)
		return IDN_EINVAL;
	size_t len = q[1];
	q += 2;
	if (len & 0x80) {
		size_t nb = len & 0x7f;
		if (nb == 0 || nb > 2 || (size_t)(end - q) < nb)
			return IDN_EINVAL;
		len = 0;
		for (size_t i = 0; i < nb; i++)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return IDN_EINVAL;
	*content = idn_slice_of(q, len);
	*p = q + len;
	return IDN_OK;
}

static void der_put_hdr(wire_wr *w, uint8_t tag, size_t len)
{
	wire_put_u8(w, tag);
	if (len < 0x80) {
		wire_put_u8(w, (uint8_t)len);
	} else if (len < 0x100) {
		wire_put_u8(w, 0x81);
		wire_put_u8(w, (uint8_t)len);
	} else {
		wire_put_u8(w, 0x82);
		wire_put_u16(w, (uint16_t)len);
	}
}

/* A 32-byte unsigned big-endian number as a DER INTEGER's contents (minimal, 00 before a set top
 * bit). */
static size_t der_uint(const uint8_t v[32], uint8_t out[33])
{
	size_t i = 0;
	while (i < 31 && v[i] == 0)
		i++;
	size_t n = 0;
	if (v[i] & 0x80)
		out[n++] = 0;
	memcpy(out + n, v + i, 32 - i);
	return n + 32 - i;
}

/* A DER INTEGER's contents as 32 bytes; IDN_EINVAL for a negative or longer one. */
static int der_to32(idn_slice v, uint8_t out[32])
{
	if (v.len == 0 || (v.p[0] & 0x80))
		return IDN_EINVAL;
	while (v.len > 1 && v.p[0] == 0) {
		v.p++;
		v.len--;
	}
	if (v.len > 32)
		return IDN_EINVAL;
	memset(out, 0, 32 - v.len);
	memcpy(out + 32 - v.len, v.p, v.len);
	return IDN_OK;
}

/* OpenSSL's SEQUENCE {INTEGER x, INTEGER y, OCTET STRING C3, OCTET STRING C2} -> C1C3C2. */
static int sm2_der_to_raw(const uint8_t *der, size_t len, wire_wr *w)
{
	const uint8_t *p = der, *end = der + len;
	idn_slice seq, x, y, c3, c2;
	uint8_t xb[32], yb[32];
	if (der_get(&p, end, 0x30, &seq) || p != end)
		return IDN_ECRYPTO;
	p = seq.p;
	end = seq.p + seq.len;
	if (der_get(&p, end, 0x02, &x) || der_get(&p, end, 0x02, &y) ||
	    der_get(&p, end, 0x04, &c3) || der_get(&p, end, 0x04, &c2) || p != end ||
	    c3.len != AUTH_SM2_C3_LEN || der_to32(x, xb) || der_to32(y, yb))
		return IDN_ECRYPTO;
	wire_put_u8(w, 0x04);
	wire_put_data(w, xb, 32);
	wire_put_data(w, yb, 32);
	wire_put_data(w, c3.p, c3.len);
	wire_put_data(w, c2.p, c2.len);
	return w->err;
}

/* C1C3C2 -> OpenSSL's DER form. C1 must be an uncompressed point on the SM2 curve. */
static int sm2_raw_to_der(idn_slice in, wire_wr *w)
{
	if (in.len <= AUTH_SM2_C1_LEN + AUTH_SM2_C3_LEN ||
	    in.len > AUTH_SM2_C1_LEN + AUTH_SM2_C3_LEN + AUTH_SM2_ENC_MAX || in.p[0] != 0x04)
		return IDN_EINVAL;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
	int on_curve = pt && EC_POINT_oct2point(g, pt, in.p, AUTH_SM2_C1_LEN, NULL) == 1 &&
	               EC_POINT_is_on_curve(g, pt, NULL) == 1;
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	if (!on_curve) {
		ERR_clear_error();
		return IDN_EINVAL;
	}

	uint8_t x[33], y[33];
	size_t xl = der_uint(in.p + 1, x), yl = der_uint(in.p + 33, y);
	idn_slice c3 = idn_slice_of(in.p + AUTH_SM2_C1_LEN, AUTH_SM2_C3_LEN);
	idn_slice c2 = idn_slice_of(c3.p + c3.len, in.len - AUTH_SM2_C1_LEN - AUTH_SM2_C3_LEN);
	size_t c2hdr = c2.len < 0x80 ? 2 : c2.len < 0x100 ? 3 : 4;
	size_t body = 2 + xl + 2 + yl + 2 + c3.len + c2hdr + c2.len;
	der_put_hdr(w, 0x30, body);
	der_put_hdr(w, 0x02, xl);
	wire_put_data(w, x, xl);
	der_put_hdr(w, 0x02, yl);
	wire_put_data(w, y, yl);
	der_put_hdr(w, 0x04, c3.len);
	wire_put_data(w, c3.p, c3.len);
	der_put_hdr(w, 0x04, c2.len);
	wire_put_data(w, c2.p, c2.len);
	return w->err;
}

/* ---- public-key encryption of a session key ---- */

enum { SM2_DER_MAX = AUTH_SM2_ENC_MAX + 160, RSA_MAX_BYTES = 2048 };

/* A context for pk with PKCS#1 v1.5 set when pk is RSA. */
static EVP_PKEY_CTX *cipher_ctx(EVP_PKEY *pk, int enc, int *ret)
{
	bool rsa = EVP_PKEY_is_a(pk, "RSA");
	*ret = IDN_ENOTSUP;
	if (!rsa && !EVP_PKEY_is_a(pk, "SM2"))
		return NULL;
	*ret = IDN_ECRYPTO;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (!c)
		return NULL;
	if ((enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) != 1 ||
	    (rsa && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1)) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
#ifdef OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION
	/* From OpenSSL 3.2 a bad padding decrypts to random bytes unless this is off. */
	if (rsa && !enc) {
		unsigned int off = 0;
		OSSL_PARAM p[] = {
		    OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, &off),
		    OSSL_PARAM_construct_end()};
		EVP_PKEY_CTX_set_params(c, p);
	}
#endif
	return c;
}

int auth_pubkey_encrypt(EVP_PKEY *pub, const uint8_t *in, size_t len, wire_wr *w)
{
	int ret;
	uint8_t buf[SM2_DER_MAX > RSA_MAX_BYTES ? SM2_DER_MAX : RSA_MAX_BYTES];
	size_t n = sizeof(buf);
	if (len == 0 || len > AUTH_SM2_ENC_MAX)
		return IDN_EINVAL;
	EVP_PKEY_CTX *c = cipher_ctx(pub, 1, &ret);
	if (!c)
		return ret;
	if (EVP_PKEY_encrypt(c, NULL, &n, in, len) != 1 || n > sizeof(buf) ||
	    EVP_PKEY_encrypt(c, buf, &n, in, len) != 1) {
		ret = EVP_PKEY_is_a(pub, "RSA") ? IDN_EINVAL
		                                : IDN_ECRYPTO; /* RSA: too long for the key */
		goto out;
	}
	if (EVP_PKEY_is_a(pub, "SM2")) {
		ret = sm2_der_to_raw(buf, n, w);
	} else {
		wire_put_data(w, buf, n);
		ret = w->err;
	}
out:
	EVP_PKEY_CTX_free(c);
	return ret;
}

int auth_privkey_decrypt(EVP_PKEY *priv, idn_slice in, uint8_t *out, size_t cap, size_t *olen)
{
	int ret;
	uint8_t der[SM2_DER_MAX], buf[SM2_DER_MAX];
	idn_slice ct = in;
	size_t n = sizeof(buf);
	bool sm2 = EVP_PKEY_is_a(priv, "SM2");
	if (sm2) {
		wire_wr w = wire_wr_init(der, sizeof(der));
		if ((ret = sm2_raw_to_der(in, &w)))
			return ret;
		ct = idn_slice_of(der, wire_wr_len(&w));
	} else if (EVP_PKEY_is_a(priv, "RSA") && in.len != (size_t)EVP_PKEY_get_size(priv)) {
		return IDN_EINVAL;
	}
	EVP_PKEY_CTX *c = cipher_ctx(priv, 0, &ret);
	if (!c)
		return ret;
	if (EVP_PKEY_decrypt(c, NULL, &n, ct.p, ct.len) != 1 || n > sizeof(buf) ||
	    EVP_PKEY_decrypt(c, buf, &n, ct.p, ct.len) != 1) {
		ret = IDN_EMISMATCH;
		ERR_clear_error();
		goto out;
	}
	if (n > cap) {
		ret = IDN_ESPACE;
		goto out;
	}
	memcpy(out, buf, n);
	*olen = n;
	ret = IDN_OK;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_PKEY_CTX_free(c);
	return ret;
}

/* ---- SM2 signatures, SM3 ---- */

/* md ready to sign or verify with pk under user ID id; *pctx is md's key context, the caller frees
 * it. */
static int sm2_md_init(EVP_MD_CTX *md, EVP_PKEY *pk, idn_slice id, int sign, EVP_PKEY_CTX **pctx)
{
	if (!EVP_PKEY_is_a(pk, "SM2"))
		return IDN_ENOTSUP;
	*pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (!*pctx)
		return IDN_ENOMEM;
	if (EVP_PKEY_CTX_set1_id(*pctx, id.p, id.len) != 1)
		return IDN_ECRYPTO;
	EVP_MD_CTX_set_pkey_ctx(md, *pctx);
	int ok = sign ? EVP_DigestSignInit(md, NULL, EVP_sm3(), NULL, pk)
	              : EVP_DigestVerifyInit(md, NULL, EVP_sm3(), NULL, pk);
	return ok == 1 ? IDN_OK : IDN_ECRYPTO;
}

static void sm2_md_free(EVP_MD_CTX *md, EVP_PKEY_CTX *pctx)
{
	if (md)
		EVP_MD_CTX_set_pkey_ctx(md, NULL);
	EVP_MD_CTX_free(md);
	EVP_PKEY_CTX_free(pctx);
}

int auth_sm2_sign(EVP_PKEY *priv, idn_slice id, idn_slice msg, wire_wr *w)
{
	uint8_t sig[80];
	size_t slen = sizeof(sig);
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return IDN_ENOMEM;
	int ret = sm2_md_init(md, priv, id, 1, &pctx);
	if (!ret && EVP_DigestSign(md, sig, &slen, msg.p, msg.len) != 1)
		ret = IDN_ECRYPTO;
	if (!ret) {
		wire_put_data(w, sig, slen);
		ret = w->err;
	}
	sm2_md_free(md, pctx);
	return ret;
}

int auth_sm2_verify(EVP_PKEY *pub, idn_slice id, idn_slice msg, idn_slice sig)
{
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return IDN_ENOMEM;
	int ret = sm2_md_init(md, pub, id, 0, &pctx);
	if (!ret && EVP_DigestVerify(md, sig.p, sig.len, msg.p, msg.len) != 1) {
		ret = IDN_EMISMATCH;
		ERR_clear_error();
	}
	sm2_md_free(md, pctx);
	return ret;
}

int auth_sm3(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;
	return EVP_Digest(data, len, out, &n, EVP_sm3(), NULL) == 1 && n == 32 ? IDN_OK
	                                                                       : IDN_ECRYPTO;
}
