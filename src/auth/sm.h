/*
 * sm.h - the Chinese commercial ciphers as the national system's SDKs use
 * them (../shared/IDIS.md section 2): SM4-CBC for session traffic, SM2 (and
 * RSA) encryption of a session key to a user's public key, SM2 signatures
 * with a chosen user ID.
 *
 *  - SM4: CBC with PKCS#5 padding and IV = the key itself; the IV is not
 *    written (IDIS.md section 2).
 *  - SM2 encryption: the raw C1C3C2 form, 04 || x || y || C3 || C2 (x, y 32
 *    bytes each, C3 the 32-byte SM3 check value), as BouncyCastle's
 *    SM2Engine in C1C3C2 mode writes it (hutool's SM2, which the SDK calls
 *    in transport/TransportEncryptHandler.java). OpenSSL writes the DER form
 *    SEQUENCE {x, y, C3, C2}; the conversion is done here.
 *  - RSA encryption: PKCS#1 v1.5 padding (Cipher.getInstance("RSA") in
 *    id-pointer-sdk util/EncryptionUtils.java, which TransportEncryptHandler
 *    uses for RSA keys).
 *  - SM2 signatures: SM3 over Z(id) || message, DER (r, s).
 *
 * Ownership: keys are borrowed. Thread-safe.
 */
#ifndef IDN_AUTH_SM_H
#define IDN_AUTH_SM_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

enum {
	AUTH_SM4_KEY_LEN = 16,
	AUTH_SM4_BLOCK = 16,
	AUTH_SM2_C1_LEN = 65, /* 04 || x || y */
	AUTH_SM2_C3_LEN = 32,
	AUTH_SM2_ENC_MAX = 4096, /* longest plaintext auth_pubkey_encrypt takes */
};

/* The SM2 user ID used when none is given (GB/T 35276), e.g. in JWS. */
#define AUTH_SM2_DEFAULT_ID "1234567812345678"

/*
 * SM4-CBC, PKCS#5 padding, IV = key. out needs len + 16 bytes (cap less
 * than the padded length: IDN_ESPACE); *olen gets the ciphertext length.
 */
int auth_sm4_encrypt(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                     size_t *olen);

/*
 * The inverse. IDN_EINVAL when len is 0 or not whole blocks, IDN_EMISMATCH
 * when the padding is wrong (a wrong key, a garbled message), IDN_ESPACE
 * when cap < len (out needs len bytes).
 */
int auth_sm4_decrypt(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                     size_t *olen);

/*
 * Encrypts in (at most AUTH_SM2_ENC_MAX bytes) to pub and writes the
 * ciphertext (no length prefix) through w: SM2 keys in C1C3C2 form, RSA with
 * PKCS#1 v1.5. IDN_ENOTSUP for another key type, IDN_ESPACE when w is short.
 */
int auth_pubkey_encrypt(EVP_PKEY *pub, const uint8_t *in, size_t len, wire_wr *w);

/*
 * The inverse with the private key. IDN_EINVAL for input that is not a
 * ciphertext of this key's form (too short, not a curve point, not the
 * modulus length), IDN_EMISMATCH when it does not decrypt (another key, a
 * changed byte), IDN_ESPACE when cap is short, IDN_ENOTSUP for other keys.
 */
int auth_privkey_decrypt(EVP_PKEY *priv, idn_slice in, uint8_t *out, size_t cap, size_t *olen);

/*
 * SM2 signature of msg with user ID id (SM3 over Z || msg), DER written
 * through w; and its check: IDN_OK, IDN_EMISMATCH when it does not verify
 * (a malformed signature included), IDN_ENOTSUP when the key is not SM2.
 */
int auth_sm2_sign(EVP_PKEY *priv, idn_slice id, idn_slice msg, wire_wr *w);
int auth_sm2_verify(EVP_PKEY *pub, idn_slice id, idn_slice msg, idn_slice sig);

/* SM3 of data. */
int auth_sm3(const void *data, size_t len, uint8_t out[32]);

#endif
