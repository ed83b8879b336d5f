/*
 * admin_auth.h - the client side of the challenge-response (402 then op 200):
 * sends an admin request on a persistent connection and, when the server
 * challenges it, proves the identity with a private key (HS_PUBKEY) or a
 * secret (HS_SECKEY) and returns the answer to the held request. Used by the
 * mirror thread (repl/mirror.h); `idnode create` and friends (cli/cmd_admin.c)
 * do the same exchange, inside a session by default (client/session.h), and
 * batch files (client/batch.h) answer their challenges with it.
 *
 * Ownership: the identity is borrowed for the call. The answer (*ans) is
 * malloc'd and owned by the caller; env/m describe it and borrow it.
 */
#ifndef IDN_CLIENT_ADMIN_AUTH_H
#define IDN_CLIENT_ADMIN_AUTH_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "client/conn.h"
#include "proto/proto.h"

typedef struct client_identity {
	uint32_t index;   /* the index of the key value in the identity's handle */
	idn_slice handle; /* e.g. 0.NA/88.1000 */
	EVP_PKEY *key;    /* private key, or NULL to use secret */
	idn_slice secret; /* HS_SECKEY secret when key is NULL */
	/* The HS_SECKEY answer's form: a PROTO_SECKEY_*, or 0 for the
	 * challenge version's (PBKDF2 from 2.7, else SHA-1). */
	uint8_t seckey_form;
} client_identity;

/*
 * Sends req (len bytes, one whole request) on cn and reads the answer; a 402
 * is answered with op 200 in the challenge's session and version, and the
 * answer to that is returned. IDN_EPROTO for an answer that does not decode,
 * answers another request id, or a malformed challenge; IDN_ECRYPTO when the
 * challenge cannot be signed. A non-success rcode is returned in m as is.
 */
int client_admin_exchange(client_conn *cn, const client_identity *id, const uint8_t *req,
                          size_t len, uint8_t **ans, size_t *alen, proto_env *env, proto_msg *m);

/*
 * Sends req on cn and reads one answer, decoded into env and m (borrowing
 * *ans, the caller's even on error). IDN_EPROTO for an answer that does not
 * decode or answers another request id.
 */
int client_exchange_on(client_conn *cn, const uint8_t *req, size_t len, uint8_t **ans, size_t *alen,
                       proto_env *env, proto_msg *m);

/*
 * The op 200 answering the 402 m (whose envelope is aenv) as identity id, in
 * the challenge's session and version: *req (malloc'd, the caller's) holds
 * *len bytes. IDN_EPROTO for a malformed challenge, IDN_ECRYPTO when it
 * cannot be signed. client/session.h sends it inside a session.
 */
int client_admin_challenge_answer(const client_identity *id, const proto_env *aenv,
                                  const proto_msg *m, uint8_t **req, size_t *len);

/*
 * Reads an identity's secret from the file at path into buf (cap bytes; a
 * longer file is cut), without the line ends an editor leaves at its end.
 * -1 (errno set) when the file cannot be opened.
 */
int client_identity_read_secret(const char *path, uint8_t *buf, size_t cap, size_t *len);

#endif
