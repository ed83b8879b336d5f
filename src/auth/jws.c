/*
 * jws.c - JWS parse, verify and sign (RS256, DS256, SM2256/SM2SM3) and JWK
 * public keys, for the national system's HS_CERT and HS_SIGNATURE values.
 */
#include "auth/jws.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verify.h"
#include "core/codec.h"
#include "core/err.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const struct {
	jws_alg a;
	const char *name;
} alg_names[] = {
    {JWS_RS256, "RS256"}, {JWS_DS256, "DS256"}, {JWS_SM2256, "SM2256"}, {JWS_SM2SM3, "SM2SM3"}};

const char *jws_alg_name(jws_alg a)
{
	for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++)
		if (alg_names[i].a == a)
			return alg_names[i].name;
	return NULL;
}

jws_alg jws_alg_of(const char *name)
{
	for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++)
		if (!strcmp(alg_names[i].name, name))
			return alg_names[i].a;
	return JWS_NONE;
}

static int b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

long jws_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!b64url_char(in[i]))
			return -1;
	ssize_t n = codec_base64_decode((const uint8_t *)in, len, CODEC_B64_URL, out, cap, NULL);
	if (n < 0)
		return -1;
	/* Canonical only: the bits past the last whole byte must be zero. */
	if (len % 4) {
		static const char alpha[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		const char *pos = strchr(alpha, in[len - 1]);
		int v = (int)(pos - alpha);
		int spare = len % 4 == 2 ? 0x0F : 0x03;
		if (v & spare)
			return -1;
	}
	return (long)n;
}

char *jws_b64url_encode(const uint8_t *in, size_t n)
{
	char *s = malloc(codec_base64_len(n) + 1);
	if (!s)
		return NULL;
	size_t len = codec_base64_encode(in, n, s);
	while (len && s[len - 1] == '=')
		len--;
	s[len] = 0;
	for (size_t i = 0; i < len; i++)
		s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	return s;
}

/* Decodes a b64url part into a fresh buffer (one spare NUL byte); part names it in err. */
static int part_decode(const char *in, size_t len, size_t max, uint8_t **out, size_t *outlen,
                       const char *part, char *err, size_t errlen)
{
	size_t cap = len / 4 * 3 + 3;
	if (cap > max)
		return fail(err, errlen, IDN_EINVAL, "JWS %s too long (%zu characters)", part, len);
	uint8_t *b = malloc(cap + 1);
	if (!b)
		return IDN_ENOMEM;
	long n = jws_b64url_decode(in, len, b, cap);
	if (n < 0) {
		free(b);
		return fail(err, errlen, IDN_EINVAL, "JWS %s is not base64url", part);
	}
	b[n] = 0;
	*out = b;
	*outlen = (size_t)n;
	return IDN_OK;
}

/* Reads the protected header: a JSON object whose "alg" names a known algorithm. */
static int header_alg(const uint8_t *h, size_t len, jws_alg *alg, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb((const char *)h, len, JSON_REJECT_DUPLICATES, &je);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return fail(err, errlen, IDN_EINVAL, "JWS header is not a JSON object");
	}
	const char *name = json_string_value(json_object_get(o, "alg"));
	int rc = IDN_OK;
	if (!name)
		rc = fail(err, errlen, IDN_EINVAL, "JWS header has no \"alg\" string");
	else if ((*alg = jws_alg_of(name)) == JWS_NONE)
		rc = fail(err, errlen, IDN_ENOTSUP, "JWS alg \"%.32s\" is not supported", name);
	json_decref(o);
	return rc;
}

/* The three b64url parts, from the compact or the JSON serialization. */
typedef struct parts {
	const char *h, *p, *s;
	size_t hl, pl, sl;
} parts;

static int split_compact(const char *t, size_t len, parts *pt, char *err, size_t errlen)
{
	const char *d1 = memchr(t, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)))
		return fail(err, errlen, IDN_EINVAL, "JWS is not three dot-separated parts");
	*pt = (parts){
	    t, d1 + 1, d2 + 1, (size_t)(d1 - t), (size_t)(d2 - d1 - 1), len - (size_t)(d2 + 1 - t)};
	return IDN_OK;
}

/* A JSON member that must be a string; its text stays owned by o. */
static int member_str(json_t *o, const char *k, const char **s, size_t *l, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		return fail(err, errlen, IDN_EINVAL, "JWS JSON has no \"%s\" string", k);
	*s = json_string_value(v);
	*l = json_string_length(v);
	return IDN_OK;
}

static int split_json(json_t *o, parts *pt, char *err, size_t errlen)
{
	if (!json_is_object(o))
		return fail(err, errlen, IDN_EINVAL, "JWS JSON serialization is not an object");
	int rc = member_str(o, "payload", &pt->p, &pt->pl, err, errlen);
	if (rc)
		return rc;
	json_t *sig = o;
	json_t *sigs = json_object_get(o, "signatures");
	if (sigs) {
		if (!json_is_array(sigs) || json_array_size(sigs) == 0)
			return fail(err, errlen, IDN_EINVAL,
			            "JWS \"signatures\" is not a non-empty array");
		sig = json_array_get(sigs, 0);
		if (!json_is_object(sig))
			return fail(err, errlen, IDN_EINVAL,
			            "JWS signature entry is not an object");
	}
	if ((rc = member_str(sig, "protected", &pt->h, &pt->hl, err, errlen)))
		return rc;
	return member_str(sig, "signature", &pt->s, &pt->sl, err, errlen);
}

static int parse_parts(const parts *pt, jws *j, char *err, size_t errlen)
{
	uint8_t *hdr = NULL;
	size_t hdrlen = 0;
	int rc = part_decode(pt->h, pt->hl, JWS_MAX_TEXT, &hdr, &hdrlen, "header", err, errlen);
	if (rc)
		return rc;
	rc = header_alg(hdr, hdrlen, &j->alg, err, errlen);
	free(hdr);
	if (rc)
		return rc;
	rc = part_decode(pt->p, pt->pl, JWS_MAX_TEXT, &j->payload, &j->payload_len, "payload", err,
	                 errlen);
	if (!rc)
		rc = part_decode(pt->s, pt->sl, JWS_MAX_SIG, &j->sig, &j->sig_len, "signature", err,
		                 errlen);
	if (!rc && j->sig_len == 0)
		rc = fail(err, errlen, IDN_EINVAL, "JWS signature is empty");
	if (rc)
		return rc;
	j->input_len = pt->hl + 1 + pt->pl;
	if (!(j->input = malloc(j->input_len + 1)))
		return IDN_ENOMEM;
	memcpy(j->input, pt->h, pt->hl);
	j->input[pt->hl] = '.';
	memcpy(j->input + pt->hl + 1, pt->p, pt->pl);
	j->input[j->input_len] = 0;
	return IDN_OK;
}

int jws_parse(const char *text, size_t len, jws *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	while (len && (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n'))
		text++, len--;
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r' ||
	               text[len - 1] == '\n'))
		len--;
	if (len == 0)
		return fail(err, errlen, IDN_EINVAL, "JWS is empty");
	if (len > JWS_MAX_TEXT)
		return fail(err, errlen, IDN_EINVAL, "JWS too long (%zu bytes, at most %d)", len,
		            JWS_MAX_TEXT);
	parts pt = {0};
	int rc;
	json_t *o = NULL;
	if (*text == '{') {
		json_error_t je;
		o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
		if (!o)
			return fail(err, errlen, IDN_EINVAL, "JWS JSON serialization: %s", je.text);
		rc = split_json(o, &pt, err, errlen);
	} else {
		rc = split_compact(text, len, &pt, err, errlen);
	}
	if (!rc)
		rc = parse_parts(&pt, out, err, errlen);
	json_decref(o);
	if (rc)
		jws_free(out);
	return rc;
}

void jws_free(jws *j)
{
	free(j->input);
	free(j->payload);
	free(j->sig);
	memset(j, 0, sizeof *j);
}

/* Whether a key's type is the one alg signs with. */
static int key_fits(jws_alg a, EVP_PKEY *pk)
{
	switch (a) {
	case JWS_RS256:
		return EVP_PKEY_is_a(pk, "RSA");
	case JWS_DS256:
		return EVP_PKEY_is_a(pk, "DSA");
	case JWS_SM2256:
	case JWS_SM2SM3:
		return EVP_PKEY_is_a(pk, "SM2");
	default:
		return 0;
	}
}

/*
 * Sets md up to sign or verify with pk under alg; *pctx_owned receives the
 * SM2 key context the caller frees after md (md only borrows it).
 */
static int md_setup(EVP_MD_CTX *md, EVP_PKEY *pk, jws_alg a, int sign, EVP_PKEY_CTX **pctx_owned)
{
	*pctx_owned = NULL;
	if (a == JWS_SM2256 || a == JWS_SM2SM3) {
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(pk, NULL);
		if (!pc)
			return IDN_ENOMEM;
		*pctx_owned = pc;
		if (EVP_PKEY_CTX_set1_id(pc, JWS_SM2_ID, strlen(JWS_SM2_ID)) != 1)
			return IDN_ECRYPTO;
		EVP_MD_CTX_set_pkey_ctx(md, pc);
		int ok = sign ? EVP_DigestSignInit(md, NULL, EVP_sm3(), NULL, pk)
		              : EVP_DigestVerifyInit(md, NULL, EVP_sm3(), NULL, pk);
		return ok == 1 ? IDN_OK : IDN_ECRYPTO;
	}
	int ok = sign ? EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk)
	              : EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk);
	return ok == 1 ? IDN_OK : IDN_ECRYPTO;
}

/*
 * Signatures that verified, remembered: the certificates of a chain are the
 * same for every identifier under a prefix, so a node verifying answers
 * checked the same signatures again for each (an SM2 verify is about 0.4 ms,
 * most of a trusted miss). Whether a signature verifies depends only on the
 * signed input, the signature, the algorithm and the key, so the SHA-256 of
 * the four, once it verified, verifies again. A direct-mapped table of
 * JWS_SEEN_SLOTS digests under one lock; a failure is never kept, so a
 * stranger can only add entries by presenting signatures that verify.
 */
enum { JWS_SEEN_SLOTS = 4096 };
static uint8_t seen[JWS_SEEN_SLOTS][32];
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

/* One length-prefixed field of a verdict's digest. */
static bool digest_field(EVP_MD_CTX *md, const void *p, size_t len)
{
	uint32_t n = (uint32_t)len;
	return EVP_DigestUpdate(md, &n, sizeof(n)) == 1 && EVP_DigestUpdate(md, p, len) == 1;
}

/*
 * pub's public numbers into md: SM2's point; RSA's n, e; DSA's y, p, q, g.
 * (Read as parameters: i2d_PUBKEY's encoder costs more than a digest.)
 */
static bool digest_key(EVP_MD_CTX *md, EVP_PKEY *pub)
{
	if (EVP_PKEY_is_a(pub, "SM2")) {
		uint8_t pt[133];
		size_t n = 0;
		return EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt,
		                                       &n) == 1 &&
		       digest_field(md, "SM2", 3) && digest_field(md, pt, n);
	}
	static const char *const rsa[] = {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, NULL};
	static const char *const dsa[] = {OSSL_PKEY_PARAM_PUB_KEY, OSSL_PKEY_PARAM_FFC_P,
	                                  OSSL_PKEY_PARAM_FFC_Q, OSSL_PKEY_PARAM_FFC_G, NULL};
	bool is_rsa = EVP_PKEY_is_a(pub, "RSA");
	if (!is_rsa && !EVP_PKEY_is_a(pub, "DSA"))
		return false;
	if (!digest_field(md, is_rsa ? "RSA" : "DSA", 3))
		return false;
	for (const char *const *name = is_rsa ? rsa : dsa; *name; name++) {
		BIGNUM *bn = NULL;
		uint8_t buf[2048]; /* 16384 bits, the most a key may have */
		bool ok = EVP_PKEY_get_bn_param(pub, *name, &bn) == 1 &&
		          BN_num_bytes(bn) <= (int)sizeof(buf);
		ok = ok && digest_field(md, buf, (size_t)BN_bn2bin(bn, buf));
		BN_free(bn);
		if (!ok)
			return false;
	}
	return true;
}

/* The digest of what decides j's verdict under pub; false when it cannot be made. */
static bool verdict_digest(const jws *j, EVP_PKEY *pub, uint8_t out[32])
{
	uint8_t alg = (uint8_t)j->alg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned olen = 0;
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	          digest_field(md, &alg, 1) && digest_key(md, pub) &&
	          digest_field(md, j->sig, j->sig_len) &&
	          digest_field(md, j->input, j->input_len) &&
	          EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

static uint8_t (*seen_slot(const uint8_t d[32]))[32]
{
	uint32_t h;
	memcpy(&h, d, sizeof(h));
	return &seen[h % JWS_SEEN_SLOTS];
}

static bool seen_before(const uint8_t d[32])
{
	pthread_mutex_lock(&seen_mu);
	bool hit = !memcmp(*seen_slot(d), d, 32);
	pthread_mutex_unlock(&seen_mu);
	return hit;
}

static void seen_now(const uint8_t d[32])
{
	pthread_mutex_lock(&seen_mu);
	memcpy(*seen_slot(d), d, 32);
	pthread_mutex_unlock(&seen_mu);
}

int jws_verify(const jws *j, EVP_PKEY *pub, char *err, size_t errlen)
{
	if (!pub || !key_fits(j->alg, pub))
		return fail(err, errlen, IDN_ENOTSUP, "a %s signature needs a %s key",
		            jws_alg_name(j->alg) ? jws_alg_name(j->alg) : "?",
		            j->alg == JWS_RS256   ? "RSA"
		            : j->alg == JWS_DS256 ? "DSA"
		                                  : "SM2");
	uint8_t vd[32];
	bool digested = verdict_digest(j, pub, vd);
	if (digested && seen_before(vd))
		return IDN_OK;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return IDN_ENOMEM;
	EVP_PKEY_CTX *pc;
	int rc = md_setup(md, pub, j->alg, 0, &pc);
	if (!rc) {
		int ok = EVP_DigestVerify(md, j->sig, j->sig_len, (const uint8_t *)j->input,
		                          j->input_len);
		rc = ok == 1 ? IDN_OK : IDN_EMISMATCH;
	}
	EVP_MD_CTX_free(md);
	EVP_PKEY_CTX_free(pc);
	ERR_clear_error(); /* a bad signature leaves OpenSSL's reasons on this thread's queue */
	if (rc == IDN_EMISMATCH)
		return fail(err, errlen, rc, "%s signature does not verify", jws_alg_name(j->alg));
	if (rc)
		return fail(err, errlen, rc, "cannot verify: %s", idn_strerror(rc));
	if (digested)
		seen_now(vd);
	return IDN_OK;
}

static int sign_input(const char *input, size_t len, EVP_PKEY *priv, jws_alg a, uint8_t **sig,
                      size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return IDN_ENOMEM;
	EVP_PKEY_CTX *pc;
	int rc = md_setup(md, priv, a, 1, &pc);
	size_t n = 0;
	*sig = NULL;
	if (!rc && EVP_DigestSign(md, NULL, &n, (const uint8_t *)input, len) != 1)
		rc = IDN_ECRYPTO;
	if (!rc && !(*sig = malloc(n)))
		rc = IDN_ENOMEM;
	if (!rc && EVP_DigestSign(md, *sig, &n, (const uint8_t *)input, len) != 1)
		rc = IDN_ECRYPTO;
	EVP_MD_CTX_free(md);
	EVP_PKEY_CTX_free(pc);
	if (rc) {
		free(*sig);
		*sig = NULL;
	}
	*siglen = n;
	return rc;
}

int jws_sign(const void *payload, size_t len, EVP_PKEY *priv, jws_alg sm2_alg, char **out,
             char *err, size_t errlen)
{
	jws_alg a = EVP_PKEY_is_a(priv, "RSA")   ? JWS_RS256
	            : EVP_PKEY_is_a(priv, "DSA") ? JWS_DS256
	            : EVP_PKEY_is_a(priv, "SM2") ? (sm2_alg == JWS_SM2SM3 ? JWS_SM2SM3 : JWS_SM2256)
	                                         : JWS_NONE;
	if (a == JWS_NONE)
		return fail(err, errlen, IDN_ENOTSUP, "signing key is not RSA, DSA or SM2");
	char hdr[32];
	int hl = snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\"}", jws_alg_name(a));
	char *h = jws_b64url_encode((const uint8_t *)hdr, (size_t)hl);
	char *p = jws_b64url_encode(payload, len);
	char *input = NULL, *s = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int rc = h && p ? IDN_OK : IDN_ENOMEM;
	if (!rc && asprintf(&input, "%s.%s", h, p) < 0) {
		input = NULL;
		rc = IDN_ENOMEM;
	}
	if (!rc)
		rc = sign_input(input, strlen(input), priv, a, &sig, &siglen);
	if (!rc && !(s = jws_b64url_encode(sig, siglen)))
		rc = IDN_ENOMEM;
	if (!rc && asprintf(out, "%s.%s", input, s) < 0)
		rc = IDN_ENOMEM;
	free(h);
	free(p);
	free(input);
	free(sig);
	free(s);
	if (rc)
		return fail(err, errlen, rc, "signing failed: %s", idn_strerror(rc));
	return IDN_OK;
}

char *jws_to_json(const jws *j)
{
	const char *dot = strchr(j->input, '.');
	char *s = jws_b64url_encode(j->sig, j->sig_len);
	char *out = NULL;
	if (s && dot &&
	    asprintf(&out,
	             "{\"payload\":\"%s\",\"signatures\":[{\"protected\":\"%.*s\",\"signature\":\"%"
	             "s\"}]}",
	             dot + 1, (int)(dot - j->input), j->input, s) < 0)
		out = NULL;
	free(s);
	return out;
}

/* ---- JWK ---- */

/* A member holding a b64url big-endian unsigned integer -> BIGNUM. */
static int jwk_int(const json_t *o, const char *k, BIGNUM **bn, char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(o, k));
	if (!s)
		return fail(err, errlen, IDN_EINVAL, "JWK has no \"%s\" string", k);
	size_t len = strlen(s);
	uint8_t buf[JWK_MAX_INT];
	if (len > (size_t)JWK_MAX_INT * 4 / 3 + 4)
		return fail(err, errlen, IDN_EINVAL, "JWK \"%s\" too long", k);
	long n = jws_b64url_decode(s, len, buf, sizeof buf);
	if (n <= 0)
		return fail(err, errlen, IDN_EINVAL, "JWK \"%s\" is not base64url", k);
	if (!(*bn = BN_bin2bn(buf, (int)n, NULL)))
		return IDN_ENOMEM;
	return IDN_OK;
}

/* Builds a key of type from params; check: EVP_PKEY_public_check afterwards. */
static int key_fromdata(const char *type, OSSL_PARAM *params, int check, EVP_PKEY **out)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int rc = IDN_EINVAL;
	*out = NULL;
	if (pc && EVP_PKEY_fromdata_init(pc) == 1 &&
	    EVP_PKEY_fromdata(pc, out, EVP_PKEY_PUBLIC_KEY, params) == 1)
		rc = IDN_OK;
	EVP_PKEY_CTX_free(pc);
	if (!rc && check) {
		EVP_PKEY_CTX *cc = EVP_PKEY_CTX_new(*out, NULL);
		if (!cc || EVP_PKEY_public_check(cc) != 1)
			rc = IDN_EINVAL;
		EVP_PKEY_CTX_free(cc);
	}
	if (rc) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Pushes the named b64url integers of o (names[i] -> params keys[i]) and builds the key. */
static int jwk_ints_key(const json_t *o, const char *type, const char *const *names,
                        const char *const *keys, int n, int check, EVP_PKEY **out, char *err,
                        size_t errlen)
{
	BIGNUM *bn[4] = {0};
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	int rc = bld ? IDN_OK : IDN_ENOMEM;
	for (int i = 0; i < n && !rc; i++)
		if (!(rc = jwk_int(o, names[i], &bn[i], err, errlen)) &&
		    !OSSL_PARAM_BLD_push_BN(bld, keys[i], bn[i]))
			rc = IDN_ENOMEM;
	if (!rc && !(params = OSSL_PARAM_BLD_to_param(bld)))
		rc = IDN_ENOMEM;
	if (!rc && key_fromdata(type, params, check, out))
		rc = fail(err, errlen, IDN_EINVAL, "JWK is not a valid %s public key", type);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	for (int i = 0; i < n; i++)
		BN_free(bn[i]);
	return rc;
}

static int jwk_rsa(const json_t *o, EVP_PKEY **out, char *err, size_t errlen)
{
	static const char *const names[] = {"n", "e"};
	static const char *const keys[] = {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E};
	int rc = jwk_ints_key(o, "RSA", names, keys, 2, 0, out, err, errlen);
	if (rc)
		return rc;
	BIGNUM *e = NULL;
	int bits = EVP_PKEY_get_bits(*out);
	if (bits < 1024 || bits > 16384 ||
	    EVP_PKEY_get_bn_param(*out, OSSL_PKEY_PARAM_RSA_E, &e) != 1 || !BN_is_odd(e) ||
	    BN_is_one(e) || BN_num_bits(e) > 64) {
		rc = fail(err, errlen, IDN_EINVAL,
		          "JWK RSA key: %d-bit modulus or exponent unusable", bits);
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	BN_free(e);
	return rc;
}

static int jwk_dsa(const json_t *o, EVP_PKEY **out, char *err, size_t errlen)
{
	static const char *const names[] = {"p", "q", "g", "y"};
	static const char *const keys[] = {OSSL_PKEY_PARAM_FFC_P, OSSL_PKEY_PARAM_FFC_Q,
	                                   OSSL_PKEY_PARAM_FFC_G, OSSL_PKEY_PARAM_PUB_KEY};
	/*
	 * q first: DSA signs with a q of 160, 224 or 256 bits (FIPS 186-4), and
	 * the key's check raises y to q mod p, which a long q makes costly.
	 */
	BIGNUM *q = NULL;
	int rc = jwk_int(o, "q", &q, err, errlen);
	int qbits = rc ? 0 : BN_num_bits(q);
	BN_free(q);
	if (rc)
		return rc;
	if (qbits != 160 && qbits != 224 && qbits != 256)
		return fail(err, errlen, IDN_EINVAL, "JWK DSA key: q of %d bits (160, 224 or 256)",
		            qbits);
	rc = jwk_ints_key(o, "DSA", names, keys, 4, 1, out, err, errlen);
	int bits = rc ? 0 : EVP_PKEY_get_bits(*out);
	if (!rc && (bits < 1024 || bits > 16384)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		rc = fail(err, errlen, IDN_EINVAL, "JWK DSA key: %d-bit p unusable", bits);
	}
	return rc;
}

/* The id-pointer-sdk form: "d" holds the SubjectPublicKeyInfo DER. */
static int jwk_sm2_spki(const char *d, EVP_PKEY **out, char *err, size_t errlen)
{
	uint8_t der[512];
	long n = strlen(d) > 680 ? -1 : jws_b64url_decode(d, strlen(d), der, sizeof der);
	if (n <= 0)
		return fail(err, errlen, IDN_EINVAL, "JWK SM2 \"d\" is not base64url DER");
	/* Through the identity keys' decoder: it keeps the keys it decoded (auth/verify.h). */
	EVP_PKEY *pk = NULL;
	if (der[0] != 0x30 || auth_pubkey_decode(idn_slice_of(der, (size_t)n), &pk) ||
	    !EVP_PKEY_is_a(pk, "SM2")) {
		EVP_PKEY_free(pk);
		return fail(err, errlen, IDN_EINVAL, "JWK SM2 \"d\" is not an SM2 public key");
	}
	*out = pk;
	return IDN_OK;
}

/* A b64url coordinate of at most 32 bytes, left-padded into out[32]. */
static int sm2_coord(const json_t *o, const char *k, uint8_t out[32], char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(o, k));
	uint8_t buf[40];
	long n = !s || strlen(s) > 48 ? -1 : jws_b64url_decode(s, strlen(s), buf, sizeof buf);
	/* BigInteger.toByteArray() may lead with one zero byte. */
	if (n == 33 && buf[0] == 0)
		memmove(buf, buf + 1, (size_t)--n);
	if (n <= 0 || n > 32)
		return fail(err, errlen, IDN_EINVAL, "JWK SM2 \"%s\" is not a 32-byte coordinate",
		            k);
	memset(out, 0, 32);
	memcpy(out + 32 - n, buf, (size_t)n);
	return IDN_OK;
}

/* The ID-SDK form: affine "x" and "y". */
static int jwk_sm2_xy(const json_t *o, EVP_PKEY **out, char *err, size_t errlen)
{
	uint8_t pt[65];
	pt[0] = 0x04;
	int rc = sm2_coord(o, "x", pt + 1, err, errlen);
	if (!rc)
		rc = sm2_coord(o, "y", pt + 33, err, errlen);
	if (rc)
		return rc;
	char group[] = "SM2";
	OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 3),
	                       OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt),
	                       OSSL_PARAM_END};
	if (key_fromdata("SM2", params, 1, out))
		return fail(err, errlen, IDN_EINVAL, "JWK SM2 point is not on the curve");
	return IDN_OK;
}

static int jwk_parse_kty(const json_t *o, EVP_PKEY **out, char *err, size_t errlen);

int jwk_parse(const json_t *o, EVP_PKEY **out, char *err, size_t errlen)
{
	int rc = jwk_parse_kty(o, out, err, errlen);
	ERR_clear_error(); /* a refused key leaves OpenSSL's reasons on this thread's queue */
	return rc;
}

static int jwk_parse_kty(const json_t *o, EVP_PKEY **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!json_is_object(o))
		return fail(err, errlen, IDN_EINVAL, "JWK is not an object");
	const char *kty = json_string_value(json_object_get(o, "kty"));
	if (!kty)
		return fail(err, errlen, IDN_EINVAL, "JWK has no \"kty\" string");
	if (!strcasecmp(kty, "RSA"))
		return jwk_rsa(o, out, err, errlen);
	if (!strcasecmp(kty, "DSA"))
		return jwk_dsa(o, out, err, errlen);
	if (!strcasecmp(kty, "SM2")) {
		const char *d = json_string_value(json_object_get(o, "d"));
		return d ? jwk_sm2_spki(d, out, err, errlen) : jwk_sm2_xy(o, out, err, errlen);
	}
	return fail(err, errlen, IDN_ENOTSUP, "JWK kty \"%.16s\" is not supported", kty);
}

/* Sets o[k] to the b64url of a BIGNUM parameter of pk; 0 on failure. */
static int put_bn(json_t *o, const char *k, EVP_PKEY *pk, const char *param)
{
	BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(pk, param, &bn) != 1)
		return 0;
	int n = BN_num_bytes(bn);
	uint8_t *b = malloc((size_t)n + 1);
	int ok = 0;
	if (b) {
		BN_bn2bin(bn, b);
		char *s = jws_b64url_encode(b, (size_t)n);
		ok = s && json_object_set_new(o, k, json_string(s)) == 0;
		free(s);
	}
	free(b);
	BN_free(bn);
	return ok;
}

static int put_b64(json_t *o, const char *k, const uint8_t *b, size_t n)
{
	char *s = jws_b64url_encode(b, n);
	int ok = s && json_object_set_new(o, k, json_string(s)) == 0;
	free(s);
	return ok;
}

static int jwk_write_sm2(json_t *o, EVP_PKEY *pk, enum jwk_sm2_form f)
{
	if (f == JWK_SM2_XY) {
		uint8_t pt[65];
		size_t n = 0;
		if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
		                                    sizeof pt, &n) != 1 ||
		    n != 65 || pt[0] != 4)
			return 0;
		return put_b64(o, "x", pt + 1, 32) && put_b64(o, "y", pt + 33, 32);
	}
	uint8_t *der = NULL;
	int n = i2d_PUBKEY(pk, &der);
	int ok = n > 0 && put_b64(o, "d", der, (size_t)n);
	OPENSSL_free(der);
	return ok;
}

json_t *jwk_write(EVP_PKEY *pk, enum jwk_sm2_form sm2_form)
{
	json_t *o = json_object();
	int ok = 0;
	if (!o)
		return NULL;
	if (EVP_PKEY_is_a(pk, "RSA"))
		ok = !json_object_set_new(o, "kty", json_string("RSA")) &&
		     put_bn(o, "n", pk, OSSL_PKEY_PARAM_RSA_N) &&
		     put_bn(o, "e", pk, OSSL_PKEY_PARAM_RSA_E);
	else if (EVP_PKEY_is_a(pk, "DSA"))
		ok = !json_object_set_new(o, "kty", json_string("DSA")) &&
		     put_bn(o, "y", pk, OSSL_PKEY_PARAM_PUB_KEY) &&
		     put_bn(o, "p", pk, OSSL_PKEY_PARAM_FFC_P) &&
		     put_bn(o, "q", pk, OSSL_PKEY_PARAM_FFC_Q) &&
		     put_bn(o, "g", pk, OSSL_PKEY_PARAM_FFC_G);
	else if (EVP_PKEY_is_a(pk, "SM2"))
		ok = !json_object_set_new(o, "kty", json_string("SM2")) &&
		     jwk_write_sm2(o, pk, sm2_form);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int jwk_same_key(EVP_PKEY *a, EVP_PKEY *b)
{
	return a && b && EVP_PKEY_eq(a, b) == 1;
}
