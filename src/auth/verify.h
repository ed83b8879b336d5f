/*
 * verify.h - identity keys and challenge responses (PROTOCOL.md,
 * "Authentication"), both sides: the node verifies an op-200 answer against
 * the identity's HS_PUBKEY or HS_SECKEY value; the client (CLI, tests)
 * produces one.
 *
 * What is signed or MACed is always nonce || digest, where digest is the raw
 * request digest the 402 carried (without its algorithm byte).
 *
 *  - HS_PUBKEY: RSA with SHA-1 or SHA-256 (PKCS#1 v1.5), DSA (DER signature),
 *    SM2 the national system's way: the signed message is SM3(nonce ||
 *    digest), signed with SM2 (SM3 over Z || message) whose user ID is the
 *    identity handle, DER signature (../shared/IDIS.md section 2). Hash names
 *    as sent: "SHA1", "SHA-1", "SHA256", "SHA-256", "SM3" (case-insensitive).
 *  - HS_PUBKEY data in every encoding the national SDKs use: PEM text of an
 *    X.509 SubjectPublicKeyInfo (LF or CRLF lines) for RSA, DSA and SM2; the
 *    same as DER; the Handle binary forms RSA_PUB_KEY / DSA_PUB_KEY, and
 *    SM2_PUB_KEY around the key as PEM or DER. An SM2 key is an EC
 *    SubjectPublicKeyInfo on curve 1.2.156.10197.1.301; an EC key on any
 *    other curve is refused.
 *  - HS_SECKEY: 0x22 PBKDF2-HMAC-SHA1 then HMAC-SHA1, 0x12 HMAC-SHA1,
 *    0x13 HMAC-SHA256, and the digest forms 0x01 MD5 / 0x02 SHA-1 (legacy) /
 *    0x03 SHA-256 of key || nonce || digest || key.
 *
 * Ownership: EVP_PKEYs returned here belong to the caller (EVP_PKEY_free).
 * Everything else borrows its inputs for the duration of the call. All
 * functions are thread-safe.
 */
#ifndef IDN_AUTH_VERIFY_H
#define IDN_AUTH_VERIFY_H

#include <openssl/evp.h>
#include <stdint.h>

#include "core/wire.h"

/*
 * Limits on what a peer may make us compute: PBKDF2 iterations and derived
 * key size. The reference uses 10000 iterations and 160 bits.
 */
enum { AUTH_PBKDF2_MAX_ITER = 100000, AUTH_PBKDF2_MAX_BITS = 512 };

/*
 * Limits on an identity key: its size in bits (RSA modulus, DSA p), and the
 * bytes of a DER key (PEM text may be twice that).
 */
enum { AUTH_KEY_MAX_BITS = 16384, AUTH_KEY_DATA_MAX = 8192 };

/*
 * HS_PUBKEY value data (any of the encodings above) -> public key.
 * IDN_ENOTSUP for a key type we do not verify with (DH, EC off SM2, Ed25519,
 * unknown Handle type), IDN_EINVAL for malformed data, IDN_ERANGE for a key
 * over the limits. With why (cap bytes), a failure says what is wrong, as
 * "HS_PUBKEY: PEM: not a public key (-----BEGIN PRIVATE KEY-----; ...)" or
 * "HS_PUBKEY: EC key on curve prime256v1: only SM2 accepted".
 */
int auth_pubkey_parse(idn_slice data, EVP_PKEY **out, char *why, size_t cap);
/*
 * The same without the message, for the checks of every login: the keys
 * decoded last (512 slots) are kept and shared, so a key logging in again
 * is not decoded again. *out is a reference of the caller's (EVP_PKEY_free).
 */
int auth_pubkey_decode(idn_slice data, EVP_PKEY **out);

/* Public key -> HS_PUBKEY value data (RSA with the reference's 4 pad bytes, DSA, SM2 PEM). */
int auth_pubkey_encode(EVP_PKEY *pk, wire_wr *w);
/*
 * Public key -> HS_PUBKEY value data in the national SDKs' form: the PEM text
 * of its SubjectPublicKeyInfo (id-pointer-sdk client/ValueHelper.java).
 * Written for any key OpenSSL can write; auth_pubkey_parse accepts RSA, DSA
 * and SM2 only.
 */
int auth_pubkey_encode_pem(EVP_PKEY *pk, wire_wr *w);

/*
 * Verifies a HS_PUBKEY signed response (str hash alg, bytes signature).
 * identity is the identity handle (SM2's signer id).
 * IDN_OK when valid; IDN_EMISMATCH when the signature does not verify;
 * IDN_EINVAL malformed response or key; IDN_ENOTSUP unknown hash or key type,
 * or a hash that does not go with the key (SM2 needs SM3, RSA/DSA refuse it).
 */
int auth_verify_pubkey(idn_slice hs_pubkey, idn_slice identity, idn_slice nonce, idn_slice digest,
                       idn_slice signed_resp);

/* The same for a HS_SECKEY signed response, against the raw secret. */
int auth_verify_seckey(idn_slice secret, idn_slice nonce, idn_slice digest, idn_slice signed_resp);

/*
 * Client side: writes a signed response (str hash alg, bytes signature) for
 * a private key. sha256 picks SHA-256 over SHA-1 for RSA/DSA (SM2 always
 * signs SM3(nonce || digest) with identity as user ID). The hash name written is the one the
 * 9.3.1 client sends: "SHA1" or "SHA-256".
 */
int auth_respond_pubkey(EVP_PKEY *priv, idn_slice identity, int sha256, idn_slice nonce,
                        idn_slice digest, wire_wr *w);

/*
 * Client side, secret key: alg is one of the PROTO_SECKEY_* forms; for
 * PBKDF2 a fresh 16-byte salt and 10000 iterations are used, as the reference.
 */
int auth_respond_seckey(idn_slice secret, uint8_t alg, idn_slice nonce, idn_slice digest,
                        wire_wr *w);

/*
 * Generates a private key: type "rsa" (2048 bits), "dsa" (2048-bit p,
 * 256-bit q) or "sm2". IDN_EINVAL for an unknown type.
 */
int auth_keygen(const char *type, EVP_PKEY **out);

#endif
