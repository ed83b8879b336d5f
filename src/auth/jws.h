/*
 * jws.h - JSON Web Signatures as the national system's trust values
 * (HS_CERT, HS_SIGNATURE) carry them (../shared/IDIS.md section 3), and the
 * JWK form of the public keys inside them.
 *
 * Serializations: compact (b64url(header) "." b64url(payload) "."
 * b64url(signature)) and JSON ({"payload", "signatures":[{"protected",
 * "signature"}]}, first signature used, as the SDKs do; the flattened form
 * {"payload","protected","signature"} too). Base64url is strict: only the
 * url alphabet, no padding, no stray bits. What is signed is the ASCII
 * b64url(header) "." b64url(payload).
 *
 * Algorithms (the header's "alg"):
 *   RS256            RSA PKCS#1 v1.5 with SHA-256
 *   DS256            DSA with SHA-256, DER signature (Java's SHA256withDSA)
 *   SM2256 / SM2SM3  SM2 with SM3, user ID 1234567812345678, DER signature
 *                    (SM2256 is id-pointer-sdk's name, SM2SM3 ID-SDK's)
 * The key's type must go with alg; anything else never verifies.
 *
 * JWK (public keys): {"kty":"RSA","n","e"}, {"kty":"DSA","y","p","q","g"},
 * {"kty":"SM2","d":b64url(SubjectPublicKeyInfo DER)} (id-pointer-sdk) and
 * {"kty":"SM2","x","y"} (ID-SDK, 32-byte affine coordinates).
 *
 * Errors: IDN_EINVAL malformed input (err says what), IDN_ENOTSUP an alg or
 * key type not listed, IDN_EMISMATCH a signature that does not verify,
 * IDN_ENOMEM, IDN_ECRYPTO. err (errlen bytes, may be NULL) gets a reason.
 * Ownership: a parsed jws owns its buffers (jws_free); EVP_PKEYs and json_t
 * returned belong to the caller. Thread-safe.
 */
#ifndef IDN_AUTH_JWS_H
#define IDN_AUTH_JWS_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of what is parsed: a whole JWS, its decoded signature, a JWK integer. */
enum { JWS_MAX_TEXT = 64 * 1024, JWS_MAX_SIG = 1024, JWK_MAX_INT = 2048 };

typedef enum jws_alg { JWS_NONE = 0, JWS_RS256, JWS_DS256, JWS_SM2256, JWS_SM2SM3 } jws_alg;

/* The SM2 user ID the trust signatures use (GB/T 32918 default). */
#define JWS_SM2_ID "1234567812345678"

typedef struct jws {
	jws_alg alg;
	char *input; /* b64url(header) "." b64url(payload), NUL-terminated */
	size_t input_len;
	uint8_t *payload; /* decoded, NUL-terminated (payload_len excludes it) */
	size_t payload_len;
	uint8_t *sig;
	size_t sig_len;
} jws;

/* "RS256" ... for an alg, NULL for JWS_NONE. */
const char *jws_alg_name(jws_alg a);
/* The alg of a name (exact, case-sensitive), JWS_NONE for an unknown one. */
jws_alg jws_alg_of(const char *name);

/* Parses a compact or JSON serialization (leading/trailing whitespace allowed). */
int jws_parse(const char *text, size_t len, jws *out, char *err, size_t errlen);
void jws_free(jws *j);

/* Verifies j's signature with pub. IDN_OK, IDN_EMISMATCH, IDN_ENOTSUP (wrong key type). */
int jws_verify(const jws *j, EVP_PKEY *pub, char *err, size_t errlen);

/*
 * Signs payload with priv (RSA -> RS256, DSA -> DS256, SM2 -> sm2_alg, which
 * is JWS_SM2256 or JWS_SM2SM3) and writes the compact serialization into
 * *out (malloc'd, NUL-terminated).
 */
int jws_sign(const void *payload, size_t len, EVP_PKEY *priv, jws_alg sm2_alg, char **out,
             char *err, size_t errlen);

/* The JSON serialization of a parsed jws, malloc'd (NULL: no memory). */
char *jws_to_json(const jws *j);

/* Strict base64url (no padding) of in -> out; returns the length, -1 if bad or too long. */
long jws_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Base64url without padding, malloc'd and NUL-terminated (NULL: no memory). */
char *jws_b64url_encode(const uint8_t *in, size_t n);

/* The SM2 JWK forms that jwk_write can produce. */
enum jwk_sm2_form { JWK_SM2_SPKI = 0, JWK_SM2_XY = 1 };

/* A JWK object -> public key (checked: RSA 1024..16384 bits, DSA and SM2 on their groups). */
int jwk_parse(const json_t *o, EVP_PKEY **out, char *err, size_t errlen);
/* Public key -> JWK object (NULL: unsupported key type or no memory). */
json_t *jwk_write(EVP_PKEY *pk, enum jwk_sm2_form sm2_form);
/* 1 when a and b are the same public key. */
int jwk_same_key(EVP_PKEY *a, EVP_PKEY *b);

#endif
