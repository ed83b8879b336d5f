/*
 * verify.c - identity keys and challenge responses (see verify.h).
 */
#include "auth/verify.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sm.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/reserved.h"

/* nonce || digest, what every form signs; both are short (16 + 32 from the reference). */
enum { AUTH_MSG_MAX = 512 };

static int join(idn_slice nonce, idn_slice digest, uint8_t *buf, size_t *len)
{
	if ((size_t)nonce.len + digest.len > AUTH_MSG_MAX)
		return IDN_ERANGE;
	memcpy(buf, nonce.p, nonce.len);
	memcpy(buf + nonce.len, digest.p, digest.len);
	*len = (size_t)nonce.len + digest.len;
	return IDN_OK;
}

/* ---- keys ---- */

static int push_bn(OSSL_PARAM_BLD *bld, const char *name, idn_slice v, BIGNUM **keep)
{
	*keep = BN_bin2bn(v.p, (int)v.len, NULL);
	if (!*keep || !OSSL_PARAM_BLD_push_BN(bld, name, *keep))
		return IDN_ECRYPTO;
	return IDN_OK;
}

/* Builds a public key of type name ("RSA", "DSA") from named big numbers. */
static int key_from_bns(const char *name, const char *const *names, const idn_slice *vals, int n,
                        EVP_PKEY **out)
{
	int ret = IDN_ECRYPTO;
	BIGNUM *bns[4] = {0};
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (!bld)
		return IDN_ENOMEM;
	for (int i = 0; i < n; i++) {
		if (vals[i].len == 0 || vals[i].len > AUTH_KEY_MAX_BITS / 8 + 1) {
			ret = IDN_EINVAL;
			goto out;
		}
		if (push_bn(bld, names[i], vals[i], &bns[i]))
			goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	*out = NULL;
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	ret = IDN_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	for (int i = 0; i < 4; i++)
		BN_free(bns[i]);
	return ret;
}

/* Fills why (when given) with "HS_PUBKEY: " and the message; returns err. */
static int key_fail(char *why, size_t cap, int err, const char *fmt, ...)
{
	ERR_clear_error(); /* what OpenSSL queued on the way is said by the message */
	if (why && cap) {
		int n = snprintf(why, cap, "HS_PUBKEY: ");
		va_list ap;
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < cap)
			vsnprintf(why + n, cap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return err;
}

/*
 * RSA's and DSA's public numbers must be positive, and DSA's y below p: DER
 * integers may be negative, and such a key decodes but can neither verify
 * nor be written back.
 */
static int numbers_check(EVP_PKEY *pk, char *why, size_t cap)
{
	static const char *const rsa[] = {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, NULL};
	static const char *const dsa[] = {OSSL_PKEY_PARAM_PUB_KEY, OSSL_PKEY_PARAM_FFC_P,
	                                  OSSL_PKEY_PARAM_FFC_Q, OSSL_PKEY_PARAM_FFC_G, NULL};
	bool is_dsa = EVP_PKEY_is_a(pk, "DSA");
	BIGNUM *bn[4] = {NULL};
	int ret = IDN_OK;
	for (int i = 0; (is_dsa ? dsa : rsa)[i]; i++) {
		const char *name = (is_dsa ? dsa : rsa)[i];
		if (EVP_PKEY_get_bn_param(pk, name, &bn[i]) != 1 || BN_is_negative(bn[i]) ||
		    BN_is_zero(bn[i])) {
			ret = key_fail(why, cap, IDN_EINVAL, "%s key: %s is not a positive number",
			               is_dsa ? "DSA" : "RSA", name);
			break;
		}
	}
	if (!ret && is_dsa && BN_cmp(bn[0], bn[1]) >= 0)
		ret = key_fail(why, cap, IDN_EINVAL, "DSA key: y is not below p");
	for (int i = 0; i < 4; i++)
		BN_free(bn[i]);
	ERR_clear_error();
	return ret;
}

/* The key types an identity may have; an EC key only on the SM2 curve. */
static int key_type_check(EVP_PKEY *pk, char *why, size_t cap)
{
	if (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "DSA") || EVP_PKEY_is_a(pk, "SM2")) {
		if (EVP_PKEY_get_bits(pk) > AUTH_KEY_MAX_BITS)
			return key_fail(
			    why, cap, IDN_ERANGE, "%s key of %d bits: at most %d accepted",
			    EVP_PKEY_get0_type_name(pk), EVP_PKEY_get_bits(pk), AUTH_KEY_MAX_BITS);
		return EVP_PKEY_is_a(pk, "SM2") ? IDN_OK : numbers_check(pk, why, cap);
	}
	if (EVP_PKEY_is_a(pk, "EC")) {
		char curve[64] = "?";
		size_t n;
		EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
		                               &n);
		return key_fail(why, cap, IDN_ENOTSUP, "EC key on curve %s: only SM2 accepted",
		                curve);
	}
	const char *t = EVP_PKEY_get0_type_name(pk);
	return key_fail(why, cap, IDN_ENOTSUP, "%s key: not supported (RSA, DSA or SM2)",
	                t ? t : "unknown");
}

/* DER X.509 SubjectPublicKeyInfo -> key. form names the encoding in messages. */
static int spki_decode(const uint8_t *der, size_t len, const char *form, EVP_PKEY **out, char *why,
                       size_t cap)
{
	const uint8_t *p = der;
	if (len > AUTH_KEY_DATA_MAX)
		return key_fail(why, cap, IDN_ERANGE, "%s: %zu bytes, over %d", form, len,
		                AUTH_KEY_DATA_MAX);
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
	if (!pk)
		return key_fail(why, cap, IDN_EINVAL,
		                "%s: not an X.509 SubjectPublicKeyInfo of a known key type", form);
	int ret = IDN_OK;
	if (p != der + len)
		ret = key_fail(why, cap, IDN_EINVAL, "%s: %zu byte(s) after the key", form,
		               (size_t)(der + len - p));
	else
		ret = key_type_check(pk, why, cap);
	if (ret) {
		EVP_PKEY_free(pk);
		return ret;
	}
	*out = pk;
	return IDN_OK;
}

/* PEM text "-----BEGIN PUBLIC KEY-----" (LF or CRLF lines) -> key. */
static int pem_decode(idn_slice text, EVP_PKEY **out, char *why, size_t cap)
{
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	if (text.len > AUTH_KEY_DATA_MAX * 2)
		return key_fail(why, cap, IDN_ERANGE, "PEM: %zu bytes, over %d", text.len,
		                AUTH_KEY_DATA_MAX * 2);
	BIO *bio = BIO_new_mem_buf(text.p, (int)text.len);
	if (!bio)
		return IDN_ENOMEM;
	int ok = PEM_read_bio(bio, &name, &header, &der, &len);
	BIO_free(bio);
	int ret;
	if (ok != 1)
		ret = key_fail(why, cap, IDN_EINVAL,
		               "PEM: no complete -----BEGIN/-----END block with valid base64");
	else if (strcmp(name, PEM_STRING_PUBLIC))
		ret = key_fail(why, cap, IDN_EINVAL,
		               "PEM: not a public key (-----BEGIN %.40s-----; expected BEGIN %s)",
		               name, PEM_STRING_PUBLIC);
	else
		ret = spki_decode(der, (size_t)len, "PEM", out, why, cap);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return ret;
}

static bool is_pem(idn_slice d)
{
	while (d.len && (d.p[0] == ' ' || d.p[0] == '\t' || d.p[0] == '\r' || d.p[0] == '\n'))
		d = idn_slice_of(d.p + 1, d.len - 1);
	return d.len >= 10 && !memcmp(d.p, "-----BEGIN", 10);
}

/* key_type_check on *out; a refused key is freed. */
static int checked(EVP_PKEY **out, char *why, size_t cap)
{
	int ret = key_type_check(*out, why, cap);
	if (ret) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	return ret;
}

/* The Handle binary forms: RSA_PUB_KEY, DSA_PUB_KEY, SM2_PUB_KEY around PEM or DER. */
static int binary_decode(idn_slice data, EVP_PKEY **out, char *why, size_t cap)
{
	proto_pubkey k;
	if (proto_pubkey_decode(data, &k))
		return key_fail(why, cap, IDN_EINVAL,
		                "neither PEM, DER nor a Handle key encoding (str type, int2 flags, "
		                "...): cut short");
	switch (k.kind) {
	case PROTO_KEY_RSA: {
		static const char *const names[] = {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E};
		idn_slice vals[] = {k.rsa.n, k.rsa.e};
		if (key_from_bns("RSA", names, vals, 2, out))
			return key_fail(why, cap, IDN_EINVAL, "RSA_PUB_KEY: not a valid RSA key");
		return checked(out, why, cap);
	}
	case PROTO_KEY_DSA: {
		static const char *const names[] = {OSSL_PKEY_PARAM_FFC_P, OSSL_PKEY_PARAM_FFC_Q,
		                                    OSSL_PKEY_PARAM_FFC_G, OSSL_PKEY_PARAM_PUB_KEY};
		idn_slice vals[] = {k.dsa.p, k.dsa.q, k.dsa.g, k.dsa.y};
		if (key_from_bns("DSA", names, vals, 4, out))
			return key_fail(why, cap, IDN_EINVAL, "DSA_PUB_KEY: not a valid DSA key");
		return checked(out, why, cap);
	}
	case PROTO_KEY_SM2: {
		EVP_PKEY *pk = NULL;
		int ret = is_pem(k.sm2.pem) ? pem_decode(k.sm2.pem, &pk, why, cap)
		                            : spki_decode(k.sm2.pem.p, k.sm2.pem.len,
		                                          "SM2_PUB_KEY: DER", &pk, why, cap);
		if (ret)
			return ret;
		if (!EVP_PKEY_is_a(pk, "SM2")) {
			ret = key_fail(why, cap, IDN_EINVAL, "SM2_PUB_KEY holds a %s key",
			               EVP_PKEY_get0_type_name(pk));
			EVP_PKEY_free(pk);
			return ret;
		}
		*out = pk;
		return IDN_OK;
	}
	case PROTO_KEY_DH:
		return key_fail(why, cap, IDN_ENOTSUP, "DH_PUB_KEY: a DH key cannot sign");
	default:
		return key_fail(why, cap, IDN_ENOTSUP, "unknown key type \"%.*s\"",
		                (int)(k.type.len > 40 ? 40 : k.type.len), (const char *)k.type.p);
	}
}

int auth_pubkey_parse(idn_slice data, EVP_PKEY **out, char *why, size_t cap)
{
	*out = NULL;
	if (why && cap)
		why[0] = 0;
	if (data.len == 0)
		return key_fail(why, cap, IDN_EINVAL, "empty");
	if (is_pem(data))
		return pem_decode(data, out, why, cap);
	/* A Handle encoding starts with a type length below 2^24: never the 0x30 of a DER SEQUENCE.
	 */
	if (data.p[0] == 0x30)
		return spki_decode(data.p, data.len, "DER", out, why, cap);
	return binary_decode(data, out, why, cap);
}

/*
 * Decoded identity keys, kept for the logins that follow: decoding a key
 * through OpenSSL's decoders costs a node more than the check it precedes
 * (28% of its CPU per SM2 login under bench/run_login.sh, against 53% for
 * the SM2 verify itself; most of an RSA login). A direct-mapped table, one
 * lock per slot; a slot holds the value data its key was decoded from,
 * compared whole, and a reference to the key, which is read-only once made
 * and so shared by every thread. Keys are at most KEY_CACHE_DATA_MAX bytes
 * of value data to be kept; the table holds at most 512 x 4 KiB.
 */
enum { KEY_CACHE_SLOTS = 512, KEY_CACHE_DATA_MAX = 4096 };

static struct key_slot {
	pthread_mutex_t mu;
	uint8_t *data;
	size_t len;
	EVP_PKEY *pk;
} key_cache[KEY_CACHE_SLOTS];
static pthread_once_t key_cache_once = PTHREAD_ONCE_INIT;

static void key_cache_init(void)
{
	for (size_t i = 0; i < KEY_CACHE_SLOTS; i++)
		pthread_mutex_init(&key_cache[i].mu, NULL);
}

static struct key_slot *key_slot_of(idn_slice data)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < data.len; i++)
		h = (h ^ data.p[i]) * 1099511628211ull;
	return &key_cache[h % KEY_CACHE_SLOTS];
}

/* The cached key decoded from data, with a reference for the caller; NULL when none. */
static EVP_PKEY *key_cache_get(struct key_slot *k, idn_slice data)
{
	EVP_PKEY *pk = NULL;
	pthread_mutex_lock(&k->mu);
	if (k->pk && k->len == data.len && !memcmp(k->data, data.p, data.len) &&
	    EVP_PKEY_up_ref(k->pk))
		pk = k->pk;
	pthread_mutex_unlock(&k->mu);
	return pk;
}

/* Keeps pk (a reference of its own) as the key of data in slot k, replacing what was there. */
static void key_cache_put(struct key_slot *k, idn_slice data, EVP_PKEY *pk)
{
	uint8_t *copy = malloc(data.len);
	if (!copy || !EVP_PKEY_up_ref(pk)) {
		free(copy);
		return;
	}
	memcpy(copy, data.p, data.len);
	pthread_mutex_lock(&k->mu);
	uint8_t *old = k->data;
	EVP_PKEY *old_pk = k->pk;
	k->data = copy;
	k->len = data.len;
	k->pk = pk;
	pthread_mutex_unlock(&k->mu);
	free(old);
	EVP_PKEY_free(old_pk);
}

int auth_pubkey_decode(idn_slice data, EVP_PKEY **out)
{
	if (data.len == 0 || data.len > KEY_CACHE_DATA_MAX)
		return auth_pubkey_parse(data, out, NULL, 0);
	pthread_once(&key_cache_once, key_cache_init);
	struct key_slot *k = key_slot_of(data);
	if ((*out = key_cache_get(k, data)))
		return IDN_OK;
	int ret = auth_pubkey_parse(data, out, NULL, 0);
	if (!ret)
		key_cache_put(k, data, *out);
	return ret;
}

/* pk's SubjectPublicKeyInfo as PEM text, in a memory BIO the caller frees. */
static BIO *pem_text(EVP_PKEY *pk, idn_slice *text)
{
	char *pem = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return NULL;
	if (PEM_write_bio_PUBKEY(bio, pk) != 1) {
		BIO_free(bio);
		return NULL;
	}
	long n = BIO_get_mem_data(bio, &pem);
	*text = idn_slice_of(pem, (size_t)n);
	return bio;
}

int auth_pubkey_encode_pem(EVP_PKEY *pk, wire_wr *w)
{
	idn_slice text;
	BIO *bio = pem_text(pk, &text);
	if (!bio)
		return IDN_ECRYPTO;
	wire_put_data(w, text.p, text.len);
	BIO_free(bio);
	return w->err;
}

/* A big number as Java's BigInteger.toByteArray() writes it: a 00 before a set top bit. */
static int get_bn(EVP_PKEY *pk, const char *name, uint8_t *buf, size_t cap, idn_slice *out)
{
	BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
		return IDN_ECRYPTO;
	int n = BN_num_bytes(bn);
	int ret = IDN_ESPACE;
	if ((size_t)n + 1 <= cap) {
		buf[0] = 0;
		BN_bn2bin(bn, buf + 1);
		bool pad = n == 0 || (buf[1] & 0x80);
		*out = pad ? idn_slice_of(buf, (size_t)n + 1) : idn_slice_of(buf + 1, (size_t)n);
		ret = IDN_OK;
	}
	BN_free(bn);
	return ret;
}

int auth_pubkey_encode(EVP_PKEY *pk, wire_wr *w)
{
	uint8_t b[4][AUTH_KEY_MAX_BITS / 8 + 1]; /* a 00 may precede the top byte */
	proto_pubkey k = {.flags = 0};
	int ret;

	if (EVP_PKEY_is_a(pk, "RSA")) {
		k.kind = PROTO_KEY_RSA;
		k.type = IDN_SLICE("RSA_PUB_KEY");
		k.rest = PROTO_PUBKEY_RSA_PAD;
		if ((ret = get_bn(pk, OSSL_PKEY_PARAM_RSA_E, b[0], sizeof(b[0]), &k.rsa.e)) ||
		    (ret = get_bn(pk, OSSL_PKEY_PARAM_RSA_N, b[1], sizeof(b[1]), &k.rsa.n)))
			return ret;
	} else if (EVP_PKEY_is_a(pk, "DSA")) {
		k.kind = PROTO_KEY_DSA;
		k.type = IDN_SLICE("DSA_PUB_KEY");
		if ((ret = get_bn(pk, OSSL_PKEY_PARAM_FFC_Q, b[0], sizeof(b[0]), &k.dsa.q)) ||
		    (ret = get_bn(pk, OSSL_PKEY_PARAM_FFC_P, b[1], sizeof(b[1]), &k.dsa.p)) ||
		    (ret = get_bn(pk, OSSL_PKEY_PARAM_FFC_G, b[2], sizeof(b[2]), &k.dsa.g)) ||
		    (ret = get_bn(pk, OSSL_PKEY_PARAM_PUB_KEY, b[3], sizeof(b[3]), &k.dsa.y)))
			return ret;
	} else if (EVP_PKEY_is_a(pk, "SM2")) {
		BIO *bio = pem_text(pk, &k.sm2.pem);
		if (!bio)
			return IDN_ECRYPTO;
		k.kind = PROTO_KEY_SM2;
		k.type = IDN_SLICE("SM2_PUB_KEY");
		proto_pubkey_put(w, &k);
		BIO_free(bio);
		return w->err;
	} else {
		return IDN_ENOTSUP;
	}
	proto_pubkey_put(w, &k);
	return w->err;
}

/* ---- signatures ---- */

enum hash_kind { H_NONE, H_SHA1, H_SHA256, H_SM3 };

static enum hash_kind hash_by_name(idn_slice name)
{
	static const struct {
		const char *name;
		enum hash_kind h;
	} names[] = {
	    {"SHA1", H_SHA1},      {"SHA-1", H_SHA1}, {"SHA256", H_SHA256},
	    {"SHA-256", H_SHA256}, {"SM3", H_SM3},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == name.len &&
		    !strncasecmp(names[i].name, (const char *)name.p, name.len))
			return names[i].h;
	return H_NONE;
}

/*
 * What an SM2 answer signs: SM3(nonce || digest), 32 bytes, as
 * id-pointer-sdk core/PublicKeyAuthenticationInfo.java (hutool's
 * SM2.signHex over SmUtil.sm3 of the pair, the handle as user ID).
 */
static int sm2_message(const uint8_t *msg, size_t mlen, uint8_t m[32])
{
	return auth_sm3(msg, mlen, m);
}

/* RSA / DSA: md ready to sign or verify with pk; the hash must go with the key type. */
static int digest_init(EVP_MD_CTX *md, EVP_PKEY *pk, enum hash_kind h, int sign)
{
	if (h != H_SHA1 && h != H_SHA256)
		return IDN_ENOTSUP;
	const EVP_MD *alg = h == H_SHA1 ? EVP_sha1() : EVP_sha256();
	int ok = sign ? EVP_DigestSignInit(md, NULL, alg, NULL, pk)
	              : EVP_DigestVerifyInit(md, NULL, alg, NULL, pk);
	return ok == 1 ? IDN_OK : IDN_ECRYPTO;
}

/* Checks sig over msg with pk under hash h (SM2: the identity as user ID). */
static int verify_sig(EVP_PKEY *pk, enum hash_kind h, idn_slice identity, const uint8_t *msg,
                      size_t mlen, idn_slice sig)
{
	int ret;
	if (EVP_PKEY_is_a(pk, "SM2")) {
		uint8_t m[32];
		if (h != H_SM3)
			return IDN_ENOTSUP;
		if ((ret = sm2_message(msg, mlen, m)))
			return ret;
		return auth_sm2_verify(pk, identity, idn_slice_of(m, sizeof(m)), sig);
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return IDN_ENOMEM;
	ret = digest_init(md, pk, h, 0);
	if (!ret)
		ret = EVP_DigestVerify(md, sig.p, sig.len, msg, mlen) == 1 ? IDN_OK : IDN_EMISMATCH;
	EVP_MD_CTX_free(md);
	return ret;
}

int auth_verify_pubkey(idn_slice hs_pubkey, idn_slice identity, idn_slice nonce, idn_slice digest,
                       idn_slice signed_resp)
{
	proto_sig_resp sr;
	uint8_t msg[AUTH_MSG_MAX];
	size_t mlen;
	EVP_PKEY *pk = NULL;

	if (proto_sig_resp_decode(signed_resp, &sr))
		return IDN_EINVAL;
	int ret = join(nonce, digest, msg, &mlen);
	if (ret)
		return ret;
	if ((ret = auth_pubkey_decode(hs_pubkey, &pk)))
		return ret;
	ret = verify_sig(pk, hash_by_name(sr.hash_alg), identity, msg, mlen, sr.sig);
	EVP_PKEY_free(pk);
	return ret;
}

int auth_respond_pubkey(EVP_PKEY *priv, idn_slice identity, int sha256, idn_slice nonce,
                        idn_slice digest, wire_wr *w)
{
	uint8_t msg[AUTH_MSG_MAX], sig[2048];
	size_t mlen, slen = sizeof(sig);
	int ret = join(nonce, digest, msg, &mlen);
	if (ret)
		return ret;
	bool sm2 = EVP_PKEY_is_a(priv, "SM2");
	const char *name = sm2 ? "SM3" : sha256 ? "SHA-256" : "SHA1";
	if ((size_t)EVP_PKEY_get_size(priv) > sizeof(sig))
		return IDN_ERANGE;
	if (sm2) {
		uint8_t m[32];
		wire_wr sw = wire_wr_init(sig, sizeof(sig));
		if ((ret = sm2_message(msg, mlen, m)) ||
		    (ret = auth_sm2_sign(priv, identity, idn_slice_of(m, sizeof(m)), &sw)))
			return ret;
		slen = wire_wr_len(&sw);
	} else {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		if (!md)
			return IDN_ENOMEM;
		ret = digest_init(md, priv, sha256 ? H_SHA256 : H_SHA1, 1);
		if (!ret && EVP_DigestSign(md, sig, &slen, msg, mlen) != 1)
			ret = IDN_ECRYPTO;
		EVP_MD_CTX_free(md);
		if (ret)
			return ret;
	}
	proto_sig_resp sr = {.hash_alg = idn_slice_of(name, strlen(name)),
	                     .sig = idn_slice_of(sig, slen)};
	proto_sig_resp_put(w, &sr);
	return w->err;
}

/* ---- secret keys ---- */

/* H(key || nonce || digest || key), the pre-HMAC forms. */
static int keyed_hash(const EVP_MD *alg, idn_slice key, const uint8_t *msg, size_t mlen,
                      uint8_t *out, unsigned *olen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return IDN_ENOMEM;
	int ok =
	    EVP_DigestInit_ex(md, alg, NULL) == 1 && EVP_DigestUpdate(md, key.p, key.len) == 1 &&
	    EVP_DigestUpdate(md, msg, mlen) == 1 && EVP_DigestUpdate(md, key.p, key.len) == 1 &&
	    EVP_DigestFinal_ex(md, out, olen) == 1;
	EVP_MD_CTX_free(md);
	return ok ? IDN_OK : IDN_ECRYPTO;
}

static int hmac(const EVP_MD *alg, const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
                uint8_t *out, unsigned *olen)
{
	return HMAC(alg, key, (int)klen, msg, mlen, out, olen) ? IDN_OK : IDN_ECRYPTO;
}

/*
 * Computes the MAC of form s->alg (with s's PBKDF2 parameters) into out.
 * IDN_ENOTSUP for an unknown form, IDN_ERANGE for PBKDF2 parameters over
 * our limits.
 */
static int seckey_mac(idn_slice secret, const proto_seckey_resp *s, const uint8_t *msg, size_t mlen,
                      uint8_t *out, unsigned *olen)
{
	switch (s->alg) {
	case PROTO_SECKEY_MD5:
		return keyed_hash(EVP_md5(), secret, msg, mlen, out, olen);
	case PROTO_SECKEY_SHA1:
		return keyed_hash(EVP_sha1(), secret, msg, mlen, out, olen);
	case PROTO_SECKEY_SHA256:
		return keyed_hash(EVP_sha256(), secret, msg, mlen, out, olen);
	case PROTO_SECKEY_HMAC_SHA1:
		return hmac(EVP_sha1(), secret.p, secret.len, msg, mlen, out, olen);
	case PROTO_SECKEY_HMAC_SHA256:
		return hmac(EVP_sha256(), secret.p, secret.len, msg, mlen, out, olen);
	case PROTO_SECKEY_PBKDF2: {
		uint8_t dk[AUTH_PBKDF2_MAX_BITS / 8];
		if (s->iterations == 0 || s->iterations > AUTH_PBKDF2_MAX_ITER ||
		    s->key_bits == 0 || s->key_bits % 8 || s->key_bits > AUTH_PBKDF2_MAX_BITS)
			return IDN_ERANGE;
		if (PKCS5_PBKDF2_HMAC((const char *)secret.p, (int)secret.len, s->salt.p,
		                      (int)s->salt.len, (int)s->iterations, EVP_sha1(),
		                      (int)(s->key_bits / 8), dk) != 1)
			return IDN_ECRYPTO;
		int ret = hmac(EVP_sha1(), dk, s->key_bits / 8, msg, mlen, out, olen);
		OPENSSL_cleanse(dk, sizeof(dk));
		return ret;
	}
	default:
		return IDN_ENOTSUP;
	}
}

int auth_verify_seckey(idn_slice secret, idn_slice nonce, idn_slice digest, idn_slice signed_resp)
{
	proto_seckey_resp s;
	uint8_t msg[AUTH_MSG_MAX], mac[EVP_MAX_MD_SIZE];
	size_t mlen;
	unsigned maclen = 0;
	int ret = proto_seckey_resp_decode(signed_resp, &s);
	if (ret == IDN_ENOTSUP)
		return ret;
	if (ret)
		return IDN_EINVAL;
	if ((ret = join(nonce, digest, msg, &mlen)))
		return ret;
	if ((ret = seckey_mac(secret, &s, msg, mlen, mac, &maclen)))
		return ret;
	if (maclen != s.mac.len || CRYPTO_memcmp(mac, s.mac.p, maclen) != 0)
		return IDN_EMISMATCH;
	return IDN_OK;
}

int auth_respond_seckey(idn_slice secret, uint8_t alg, idn_slice nonce, idn_slice digest,
                        wire_wr *w)
{
	uint8_t msg[AUTH_MSG_MAX], mac[EVP_MAX_MD_SIZE], salt[16];
	size_t mlen;
	unsigned maclen = 0;
	proto_seckey_resp s = {.alg = alg};
	int ret = join(nonce, digest, msg, &mlen);
	if (ret)
		return ret;
	if (alg == PROTO_SECKEY_PBKDF2) {
		if (RAND_bytes(salt, sizeof(salt)) != 1)
			return IDN_ECRYPTO;
		s.salt = idn_slice_of(salt, sizeof(salt));
		s.iterations = 10000;
		s.key_bits = 160;
	}
	if ((ret = seckey_mac(secret, &s, msg, mlen, mac, &maclen)))
		return ret;
	s.mac = idn_slice_of(mac, maclen);
	proto_seckey_resp_put(w, &s);
	return w->err;
}

/* ---- key generation ---- */

static int dsa_keygen(EVP_PKEY **out)
{
	EVP_PKEY *params = NULL;
	EVP_PKEY_CTX *kctx = NULL;
	int ret = IDN_ECRYPTO;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
	if (!pctx)
		return IDN_ENOMEM;
	if (EVP_PKEY_paramgen_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx, 2048) != 1 ||
	    EVP_PKEY_CTX_set_dsa_paramgen_q_bits(pctx, 256) != 1 ||
	    EVP_PKEY_paramgen(pctx, &params) != 1)
		goto out;
	kctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
	*out = NULL;
	if (!kctx || EVP_PKEY_keygen_init(kctx) != 1 || EVP_PKEY_keygen(kctx, out) != 1)
		goto out;
	ret = IDN_OK;
out:
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_free(params);
	EVP_PKEY_CTX_free(pctx);
	return ret;
}

int auth_keygen(const char *type, EVP_PKEY **out)
{
	EVP_PKEY *pk = NULL;
	if (!strcasecmp(type, "rsa"))
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (!strcasecmp(type, "sm2"))
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	else if (!strcasecmp(type, "dsa"))
		return dsa_keygen(out);
	else
		return IDN_EINVAL;
	if (!pk)
		return IDN_ECRYPTO;
	*out = pk;
	return IDN_OK;
}
