/*
 * session_crypto.c - Diffie-Hellman, session keys, HS_MAC and message
 * encryption for Handle sessions (session_crypto.h).
 */
#include "auth/session_crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "proto/proto.h"

#define DH_KEY_TYPE "DH_PUB_KEY"

/* ---- Diffie-Hellman ---- */

int auth_dh_pub_decode(idn_slice data, EVP_PKEY **out)
{
	wire_rd c = wire_rd_init(data.p, data.len);
	idn_slice type = wire_get_lbytes(&c);
	wire_get_u16(&c); /* flags, 0 */
	idn_slice y = wire_get_lbytes(&c), p = wire_get_lbytes(&c), g = wire_get_lbytes(&c);
	if (c.err || !idn_slice_eq(type, IDN_SLICE(DH_KEY_TYPE)) || !y.len || !p.len || !g.len)
		return IDN_EINVAL;
	int ret = IDN_ECRYPTO;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bp = BN_bin2bn(p.p, (int)p.len, NULL), *bg = BN_bin2bn(g.p, (int)g.len, NULL);
	BIGNUM *by = BN_bin2bn(y.p, (int)y.len, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	if (!bld || !bp || !bg || !by)
		goto out;
	/* Java writes signed integers: a set top bit would be a negative number. */
	if ((p.p[0] & 0x80) || (g.p[0] & 0x80) || (y.p[0] & 0x80)) {
		ret = IDN_EINVAL;
		goto out;
	}
	int bits = BN_num_bits(bp);
	if (bits < AUTH_DH_MIN_BITS || bits > AUTH_DH_MAX_BITS || !BN_is_odd(bp)) {
		ret = IDN_ERANGE;
		goto out;
	}
	/* 1 < g < p - 1 and 1 < y < p - 1: anything else gives a guessable secret. */
	BIGNUM *pm1 = BN_dup(bp);
	bool ok = pm1 && BN_sub_word(pm1, 1) && BN_cmp(bg, BN_value_one()) > 0 &&
	          BN_cmp(bg, pm1) < 0 && BN_cmp(by, BN_value_one()) > 0 && BN_cmp(by, pm1) < 0;
	BN_free(pm1);
	if (!ok) {
		ret = IDN_EINVAL;
		goto out;
	}
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, bp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, bg) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, by) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)))
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	*out = NULL;
	if (ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1)
		ret = IDN_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bp);
	BN_free(bg);
	BN_free(by);
	return ret;
}

/* A non-negative integer as Java's BigInteger.toByteArray(): a leading 0 when the top bit is set.
 */
static int put_bn(wire_wr *w, EVP_PKEY *pk, const char *name)
{
	BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
		return IDN_ECRYPTO;
	int n = BN_num_bytes(bn);
	int pad = BN_num_bits(bn) % 8 == 0 ? 1 : 0;
	wire_put_u32(w, (uint32_t)(n + pad));
	uint8_t *dst = wire_put_raw(w, (size_t)(n + pad));
	if (dst) {
		if (pad)
			dst[0] = 0;
		BN_bn2bin(bn, dst + pad);
	}
	BN_free(bn);
	return w->err;
}

int auth_dh_pub_encode(EVP_PKEY *pk, wire_wr *w)
{
	wire_put_cstr(w, DH_KEY_TYPE);
	wire_put_u16(w, 0);
	int ret = put_bn(w, pk, OSSL_PKEY_PARAM_PUB_KEY);
	if (!ret)
		ret = put_bn(w, pk, OSSL_PKEY_PARAM_FFC_P);
	if (!ret)
		ret = put_bn(w, pk, OSSL_PKEY_PARAM_FFC_G);
	return ret;
}

int auth_dh_keygen(EVP_PKEY *group, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx = group ? EVP_PKEY_CTX_new_from_pkey(NULL, group, NULL)
	                          : EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	int ret = IDN_ECRYPTO;
	*out = NULL;
	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1)
		goto out;
	if (!group) {
		OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		                                                        (char *)"ffdhe2048", 0),
		                       OSSL_PARAM_construct_end()};
		if (EVP_PKEY_CTX_set_params(ctx, params) != 1)
			goto out;
	}
	if (EVP_PKEY_generate(ctx, out) == 1)
		ret = IDN_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

size_t auth_session_key_from_secret(const uint8_t *secret, size_t len,
                                    uint8_t key[AUTH_SESSION_KEY_LEN])
{
	/* As the reference: drop leading zeros only while more than 32 bytes remain. */
	size_t i = 0;
	while (i + AUTH_SESSION_KEY_LEN < len && secret[i] == 0)
		i++;
	size_t n = len - i < AUTH_SESSION_KEY_LEN ? len - i : AUTH_SESSION_KEY_LEN;
	memcpy(key, secret + i, n);
	return n;
}

int auth_dh_session_key(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t key[AUTH_SESSION_KEY_LEN],
                        size_t *klen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	uint8_t *secret = NULL;
	size_t slen = 0;
	int ret = IDN_ECRYPTO;
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_CTX_set_dh_pad(ctx, 1) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) != 1 ||
	    EVP_PKEY_derive(ctx, NULL, &slen) != 1 || !(secret = malloc(slen)) ||
	    EVP_PKEY_derive(ctx, secret, &slen) != 1)
		goto out;
	*klen = auth_session_key_from_secret(secret, slen, key);
	ret = IDN_OK;
out:
	if (secret)
		OPENSSL_clear_free(secret, slen);
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

/* ---- what MACs and signatures cover ---- */

auth_msg_ctx auth_msg_ctx_of(const proto_env *env)
{
	auth_msg_ctx c = {.major = env->major,
	                  .minor = env->minor,
	                  .sugg_major = env->flags & PROTO_ENV_SUGG_MAJOR_MASK,
	                  .sugg_minor = env->sugg_minor,
	                  .session_id = env->session_id,
	                  .request_id = env->request_id};
	/* A message without a suggestion reads as suggesting its own version. */
	if (!c.sugg_major) {
		c.sugg_major = env->major;
		c.sugg_minor = env->minor;
	}
	return c;
}

size_t auth_sig_prefix(const auth_msg_ctx *c, uint8_t out[16])
{
	unsigned v = proto_ver(c->major, c->minor);
	if (v < proto_ver(2, 6))
		return 0;
	memset(out, 0, 16);
	out[0] = c->major;
	out[1] = c->minor;
	if (v == proto_ver(2, 6)) {
		/*
		 * The reference's 2.6 encoder writes session id, request id and
		 * counter at offsets 2, 4, 4 of a 14-byte buffer (it reassigns the
		 * offset to each write's length): what survives is this.
		 */
		uint8_t sid[4];
		idn_put_be32(sid, c->session_id);
		out[2] = sid[0];
		out[3] = sid[1];
		idn_put_be32(out + 4, c->counter);
		return 14;
	}
	size_t n = 2;
	if (v >= proto_ver(2, 8)) {
		out[n++] = c->sugg_major;
		out[n++] = c->sugg_minor;
	}
	idn_put_be32(out + n, c->session_id);
	idn_put_be32(out + n + 4, c->request_id);
	idn_put_be32(out + n + 8, c->counter);
	return n + 12;
}

static const EVP_MD *digest_by_name(idn_slice alg)
{
	if (alg.len == 1)
		return alg.p[0] == PROTO_HASH_MD5      ? EVP_md5()
		       : alg.p[0] == PROTO_HASH_SHA1   ? EVP_sha1()
		       : alg.p[0] == PROTO_HASH_SHA256 ? EVP_sha256()
		                                       : NULL;
	const char *s = (const char *)alg.p;
	if ((alg.len == 4 && !strncasecmp(s, "SHA1", 4)) ||
	    (alg.len == 5 && !strncasecmp(s, "SHA-1", 5)))
		return EVP_sha1();
	if ((alg.len == 6 && !strncasecmp(s, "SHA256", 6)) ||
	    (alg.len == 7 && !strncasecmp(s, "SHA-256", 7)))
		return EVP_sha256();
	if (alg.len == 3 && !strncasecmp(s, "MD5", 3))
		return EVP_md5();
	return NULL;
}

static const EVP_MD *hmac_by_name(idn_slice alg)
{
	const char *s = (const char *)alg.p;
	if (alg.len == 11 && !strncasecmp(s, "HMAC-SHA256", 11))
		return EVP_sha256();
	if (alg.len == 9 && !strncasecmp(s, "HMAC-SHA1", 9))
		return EVP_sha1();
	return NULL;
}

/*
 * The reference's 2.5/2.6 session MAC: a digest over a buffer of
 * 2K + H + 14 zero bytes into which its encoder writes the key, the version,
 * session id, request id and counter, then header + body and the key again;
 * its offset bookkeeping makes the later writes land at offset 4, over the
 * earlier ones. Reproduced step by step so every length comes out the same.
 */
static int broken_mac(const EVP_MD *md, const uint8_t *key, size_t klen, const auth_msg_ctx *c,
                      idn_slice hb, uint8_t *out, unsigned *olen)
{
	size_t len = 2 * klen + hb.len + 14;
	uint8_t *buf = calloc(1, len);
	if (!buf)
		return IDN_ENOMEM;
	memcpy(buf, key, klen);
	size_t off = klen;
	buf[off++] = c->major;
	buf[off++] = c->minor;
	idn_put_be32(buf + off, c->session_id);
	off = 4;
	idn_put_be32(buf + off, c->request_id);
	idn_put_be32(buf + off, c->counter);
	memcpy(buf + off, hb.p, hb.len);
	memcpy(buf + off + hb.len, key, klen);
	int ret = EVP_Digest(buf, len, out, olen, md, NULL) == 1 ? IDN_OK : IDN_ECRYPTO;
	free(buf);
	return ret;
}

static int new_mac(const EVP_MD *md, const uint8_t *key, size_t klen, const auth_msg_ctx *c,
                   idn_slice hb, uint8_t *out, unsigned *olen)
{
	uint8_t pre[16];
	size_t n = 2;
	pre[0] = c->major;
	pre[1] = c->minor;
	if (proto_ver(c->major, c->minor) >= proto_ver(2, 8)) {
		pre[n++] = c->sugg_major;
		pre[n++] = c->sugg_minor;
	}
	idn_put_be32(pre + n, c->session_id);
	idn_put_be32(pre + n + 4, c->request_id);
	idn_put_be32(pre + n + 8, c->counter);
	n += 12;
	int ret = IDN_ECRYPTO;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	                                                        (char *)EVP_MD_get0_name(md), 0),
	                       OSSL_PARAM_construct_end()};
	size_t outl = 0;
	if (ctx && EVP_MAC_init(ctx, key, klen, params) == 1 && EVP_MAC_update(ctx, pre, n) == 1 &&
	    EVP_MAC_update(ctx, hb.p, hb.len) == 1 &&
	    EVP_MAC_final(ctx, out, &outl, AUTH_MAC_MAX) == 1) {
		*olen = (unsigned)outl;
		ret = IDN_OK;
	}
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

int auth_mac_cred(const uint8_t *key, size_t klen, const auth_msg_ctx *c, idn_slice hb, wire_wr *w)
{
	unsigned v = proto_ver(c->major, c->minor);
	if (v < proto_ver(2, 5))
		return IDN_EVERSION;
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;
	static const uint8_t code_sha1[1] = {PROTO_HASH_SHA1};
	idn_slice alg = v >= proto_ver(2, 7)   ? IDN_SLICE("HMAC-SHA256")
	                : v == proto_ver(2, 6) ? IDN_SLICE("SHA1")
	                                       : idn_slice_of(code_sha1, 1);
	int ret = v >= proto_ver(2, 7) ? new_mac(EVP_sha256(), key, klen, c, hb, mac, &mlen)
	                               : broken_mac(EVP_sha1(), key, klen, c, hb, mac, &mlen);
	if (ret)
		return ret;
	proto_cred cr = {.signer_index = c->counter,
	                 .type = IDN_SLICE(PROTO_CRED_MAC),
	                 .hash_alg = alg,
	                 .sig = idn_slice_of(mac, mlen)};
	proto_cred_put(w, &cr);
	return w->err;
}

int auth_mac_check(const uint8_t *key, size_t klen, const auth_msg_ctx *c, idn_slice hb,
                   const proto_cred *cred)
{
	if (!idn_slice_eq(cred->type, IDN_SLICE(PROTO_CRED_MAC)))
		return IDN_EINVAL;
	unsigned v = proto_ver(c->major, c->minor);
	if (v < proto_ver(2, 5))
		return IDN_EVERSION;
	auth_msg_ctx k = *c;
	k.counter = cred->signer_index;
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;
	int ret;
	if (v >= proto_ver(2, 7)) {
		const EVP_MD *md = hmac_by_name(cred->hash_alg);
		if (!md)
			return IDN_ENOTSUP;
		ret = new_mac(md, key, klen, &k, hb, mac, &mlen);
	} else {
		const EVP_MD *md = digest_by_name(cred->hash_alg);
		if (!md)
			return IDN_ENOTSUP;
		ret = broken_mac(md, key, klen, &k, hb, mac, &mlen);
	}
	if (ret)
		return ret;
	if (cred->sig.len != mlen || CRYPTO_memcmp(cred->sig.p, mac, mlen))
		return IDN_EMISMATCH;
	return IDN_OK;
}

/* ---- encryption ---- */

int auth_session_encrypt(const uint8_t *key, const uint8_t *in, size_t len, uint8_t *out,
                         size_t cap, size_t *olen)
{
	if (cap < len + 2 * AUTH_AES_BLOCK || len > INT32_MAX)
		return IDN_ESPACE;
	if (RAND_bytes(out, AUTH_AES_BLOCK) != 1)
		return IDN_ECRYPTO;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, ret = IDN_ECRYPTO;
	if (ctx && EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, out) == 1 &&
	    EVP_EncryptUpdate(ctx, out + AUTH_AES_BLOCK, &n1, in, (int)len) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + AUTH_AES_BLOCK + n1, &n2) == 1) {
		*olen = AUTH_AES_BLOCK + (size_t)n1 + (size_t)n2;
		ret = IDN_OK;
	}
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

int auth_session_decrypt(const uint8_t *key, const uint8_t *in, size_t len, uint8_t *out,
                         size_t cap, size_t *olen)
{
	if (len < 2 * AUTH_AES_BLOCK || len % AUTH_AES_BLOCK || len > INT32_MAX)
		return IDN_EINVAL;
	if (cap < len)
		return IDN_ESPACE;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, ret = IDN_ECRYPTO;
	if (ctx && EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, in) == 1 &&
	    EVP_DecryptUpdate(ctx, out, &n1, in + AUTH_AES_BLOCK, (int)(len - AUTH_AES_BLOCK)) ==
	        1) {
		if (EVP_DecryptFinal_ex(ctx, out + n1, &n2) == 1) {
			*olen = (size_t)n1 + (size_t)n2;
			ret = IDN_OK;
		} else {
			ret = IDN_EMISMATCH; /* bad padding */
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}
