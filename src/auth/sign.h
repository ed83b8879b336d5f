/*
 * sign.h - the node's own key, signing answers to requests that set CT.
 *
 * The credential section follows PROTOCOL.md: HS_SIGNED, empty signer, the
 * hash algorithm name and the signature over header + body. Below protocol
 * 2.7 the reference signs with SHA-1 (SHA1withRSA); from 2.7 idnode signs
 * with SHA-256.
 *
 * Ownership: auth_key_load() allocates, auth_key_free() frees; a key is
 * read-only after loading and may be used from several threads at once.
 */
#ifndef IDN_AUTH_SIGN_H
#define IDN_AUTH_SIGN_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

typedef struct auth_key auth_key;

/*
 * Loads a PEM private key (PKCS#8 or traditional). err gets a reason on
 * failure; a key that cannot sign an answer (SM2: OpenSSL signs it with SM3
 * only) is IDN_ENOTSUP.
 */
int auth_key_load(const char *path, auth_key **out, char *err, size_t errlen);
void auth_key_free(auth_key *k);
/* The key itself, borrowed (signing other documents: node/stats_report.h). */
EVP_PKEY *auth_key_pkey(const auth_key *k);
/* The public half as HS_PUBKEY value data (for the site's HS_SITE). */
int auth_key_public(const auth_key *k, wire_wr *w);

/*
 * A node_sign_fn: writes the credential section for hb, answered in protocol
 * major.minor, into out. arg is the auth_key.
 */
int auth_sign_answer(void *arg, uint8_t major, uint8_t minor, idn_slice hb, uint8_t *out,
                     size_t cap);

#endif
