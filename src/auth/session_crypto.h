/*
 * session_crypto.h - the cryptography of Handle protocol sessions (op 400
 * mode 4), shared by the node (node/session.h) and the client
 * (client/session.h):
 *
 *  - Diffie-Hellman in the group the client chose: keys travel in the
 *    DH_PUB_KEY encoding (str "DH_PUB_KEY", int2 0, bytes y, bytes p,
 *    bytes g; big-endian two's-complement integers, as Java writes them).
 *  - The session key: the agreed secret (as long as p), leading zero bytes
 *    stripped while more than 32 bytes remain, then cut to 32 bytes. AES
 *    (algorithm 3) encrypts with the first 16 of them; the MAC uses all.
 *  - HS_MAC credentials: from protocol 2.7, HMAC-SHA256 (hash name
 *    "HMAC-SHA256") over major, minor, [suggested major, suggested minor from
 *    2.8], session id, request id, session counter, then header + body. At
 *    2.5 and 2.6 the reference computes a SHA-1 digest over a buffer its
 *    encoder fills with overlapping writes (its "broken" 2.5/2.6 form); that
 *    layout is reproduced byte for byte. Below 2.5 is not supported.
 *  - Message encryption: AES-128-CBC with PKCS#5 padding over the whole
 *    message after the envelope (header, body, credential), IV prepended.
 *  - The data a server signature (HS_SIGNED) covers before header + body
 *    from protocol 2.6 (auth_sig_prefix).
 *
 * Ownership: EVP_PKEYs returned belong to the caller. Everything else
 * borrows its arguments for the duration of the call. Thread-safe.
 */
#ifndef IDN_AUTH_SESSION_CRYPTO_H
#define IDN_AUTH_SESSION_CRYPTO_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "proto/cred.h"
#include "proto/proto.h"

enum {
	AUTH_SESSION_KEY_LEN = 32, /* session key bytes kept from the DH secret */
	AUTH_AES_KEY_LEN = 16,     /* AES-128: the first 16 bytes of the session key */
	AUTH_AES_BLOCK = 16,
	AUTH_CIPHER_AES = 3, /* the reference's code for AES in the setup answer */
	AUTH_DH_MIN_BITS = 1024,
	AUTH_DH_MAX_BITS = 4096, /* bounds the work a peer can ask of us */
	AUTH_MAC_MAX = 32,
};

/* DH_PUB_KEY data -> public key. IDN_EINVAL malformed, IDN_ERANGE p out of bounds. */
int auth_dh_pub_decode(idn_slice data, EVP_PKEY **out);
/* A DH key (public part used) -> DH_PUB_KEY data. */
int auth_dh_pub_encode(EVP_PKEY *pk, wire_wr *w);
/*
 * A fresh DH key pair: in the group (p, g) of `group` when given (the
 * server answering a client), else in RFC 7919 ffdhe2048 (our client).
 */
int auth_dh_keygen(EVP_PKEY *group, EVP_PKEY **out);
/* Agrees on the session key: key gets AUTH_SESSION_KEY_LEN bytes (fewer only for a tiny secret). */
int auth_dh_session_key(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t key[AUTH_SESSION_KEY_LEN],
                        size_t *klen);
/* The derivation step alone, on a raw secret: returns the key length. */
size_t auth_session_key_from_secret(const uint8_t *secret, size_t len,
                                    uint8_t key[AUTH_SESSION_KEY_LEN]);

/* The envelope facts a MAC or a 2.6+ server signature covers. */
typedef struct auth_msg_ctx {
	uint8_t major, minor;
	uint8_t sugg_major, sugg_minor;
	uint32_t session_id, request_id, counter;
} auth_msg_ctx;

/* The context of a message with envelope env (no suggestion: its own version). */
auth_msg_ctx auth_msg_ctx_of(const proto_env *env);

/* What a server signature covers before header + body; 0 bytes below 2.6. */
size_t auth_sig_prefix(const auth_msg_ctx *c, uint8_t out[16]);

/* Writes a whole HS_MAC credential section for hb (c->counter as its counter). */
int auth_mac_cred(const uint8_t *key, size_t klen, const auth_msg_ctx *c, idn_slice hb, wire_wr *w);
/*
 * Checks a decoded HS_MAC credential over hb (the counter is taken from the
 * credential). IDN_OK, IDN_EMISMATCH when it does not verify, IDN_EVERSION
 * below 2.5, IDN_ENOTSUP for an unknown MAC algorithm, IDN_EINVAL when cred
 * is not HS_MAC.
 */
int auth_mac_check(const uint8_t *key, size_t klen, const auth_msg_ctx *c, idn_slice hb,
                   const proto_cred *cred);

/*
 * AES-128-CBC/PKCS#5 with a random IV written first: out needs len + 32
 * bytes. Decrypt: IDN_EINVAL for a length that is not whole blocks after the
 * IV, IDN_EMISMATCH for bad padding (wrong key or damaged data).
 */
int auth_session_encrypt(const uint8_t *key, const uint8_t *in, size_t len, uint8_t *out,
                         size_t cap, size_t *olen);
int auth_session_decrypt(const uint8_t *key, const uint8_t *in, size_t len, uint8_t *out,
                         size_t cap, size_t *olen);

#endif
