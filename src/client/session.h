/*
 * session.h - the client side of Handle protocol sessions, on a persistent
 * connection (client/conn.h), as the reference 9.x client runs them before
 * admin requests: op 400 mode 4 (Diffie-Hellman), then admin requests with
 * an HS_MAC credential and increasing counters, optionally encrypted; the
 * first one is challenged (402) and answered with op 200 in the session,
 * which authenticates the session; later ones run without a challenge.
 * Op 401 ends it. See node/session.c for the server's half.
 *
 * Requests given here are whole messages as proto_build_end(.., NULL, 0)
 * makes them (no credential): the session code sets the session id and
 * version, adds the MAC, and encrypts. Answers are decrypted, their MAC
 * checked (a success answer without one is refused), then decoded.
 *
 * Ownership: client_session_open() allocates; client_session_close() frees.
 * The connection and the identity are borrowed and must outlive the
 * session. Not thread-safe: one session, one thread.
 */
#ifndef IDN_CLIENT_SESSION_H
#define IDN_CLIENT_SESSION_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/admin_auth.h"
#include "client/conn.h"
#include "proto/proto.h"

typedef struct client_session client_session;

typedef struct client_session_opts {
	uint32_t timeout; /* idle timeout asked for, seconds; 0: the server's maximum */
	bool encrypt;     /* encrypt requests and ask for encrypted answers */
	/* Optional: the server's public key; the setup answer's signature must verify with it. */
	EVP_PKEY *server_key;
} client_session_opts;

/*
 * Sets up a session for identity id on cn. IDN_ENOTSUP when the server
 * answered the setup with an error code (then in *rc, if rc is not NULL:
 * the caller may fall back to plain challenge-response), IDN_EMISMATCH when
 * the answer's signature or request digest does not verify, IDN_EPROTO for
 * an answer that does not decode.
 */
int client_session_open(client_conn *cn, const client_identity *id, const client_session_opts *o,
                        client_session **out, uint32_t *rc);

uint32_t client_session_id(const client_session *s);
bool client_session_authenticated(const client_session *s);

/*
 * Puts a request into the session: *out (malloc'd, the caller's) is req
 * with the session id, an HS_MAC with the next counter (when mac), and
 * encrypted when the session encrypts.
 */
int client_session_wrap(client_session *s, const uint8_t *req, size_t len, bool mac, uint8_t **out,
                        size_t *olen);

/*
 * Reads an answer received in the session: decrypts *ans in place (it may
 * be replaced), checks its MAC and counter, decodes env and m (borrowing
 * *ans). IDN_EMISMATCH for a MAC that does not verify, a repeated counter
 * or a success answer without a MAC.
 */
int client_session_unwrap(client_session *s, uint8_t **ans, size_t *alen, proto_env *env,
                          proto_msg *m);

/*
 * The op 200 answering the 402 m in the session, wrapped (not MACed, as the
 * reference sends it): for callers that pipeline (client/batch.c).
 */
int client_session_answer_challenge(client_session *s, const proto_env *aenv, const proto_msg *m,
                                    uint8_t **out, size_t *olen);

/*
 * Sends one admin request in the session and returns its final answer,
 * answering a 402 with op 200 in the session. Errors as client_admin_exchange;
 * *ans is the caller's even on error.
 */
int client_session_exchange(client_session *s, const uint8_t *req, size_t len, uint8_t **ans,
                            size_t *alen, proto_env *env, proto_msg *m);

/*
 * The next message of a successful answer continued (CN set) on cn, in the
 * session s (NULL: none): *ans (the caller's, even on error) and m, which
 * borrows it. IDN_EPROTO for a message that does not decode, answers
 * another request than request_id, or is no success.
 */
int client_recv_continued(client_conn *cn, client_session *s, uint32_t request_id, uint8_t **ans,
                          size_t *alen, proto_msg *m);

/* Sends op 401 when terminate (and reads its answer), then frees s. NULL is fine. */
int client_session_close(client_session *s, bool terminate);

#endif
