/*
 * login.h - the client side of the national system's login (op 2001,
 * IDIS.md section 1), as its SDKs run it on one TCP connection:
 * GET_SITE_INFO on "/", then 2001 naming the identity with RD set, answered
 * 402 (opCode 2001) and op 200 as any challenge (client/admin_auth.h), and
 * rc 1. The session id is the client's own (counting from 10001 as the
 * SDKs do), on every later request of the connection, none challenged.
 * See node/login.h for the server's half.
 *
 * Ownership: client_login_open() allocates, client_login_close() frees.
 * The connection and the identity are borrowed and must outlive it. Not
 * thread-safe: one login, one thread.
 */
#ifndef IDN_CLIENT_LOGIN_H
#define IDN_CLIENT_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/admin_auth.h"
#include "client/conn.h"
#include "proto/proto.h"

typedef struct client_login client_login;

/* The next session id of this process's logins: 10001, 10002, ... */
uint32_t client_login_next_session(void);

typedef struct client_login_opts {
	bool ids_body;     /* send ID-SDK's 2001 body (with the trailing credential length) */
	bool no_site_info; /* skip the SDKs' GET_SITE_INFO first (a benchmark's bare login) */
} client_login_opts;

/*
 * Logs in on cn as id (a private key: 2001 has no secret-key form); o may
 * be NULL (id-pointer-sdk's way).
 * IDN_ENOTSUP when the server answered 2001 or op 200 with an error code
 * (then in *rc, if rc is not NULL), IDN_EPROTO for an answer that does not
 * decode or a success where the SDKs expect a 402.
 */
int client_login_open(client_conn *cn, const client_identity *id, const client_login_opts *o,
                      client_login **out, uint32_t *rc);

uint32_t client_login_session(const client_login *l);

/*
 * SM4 transport encryption from now on (IDIS.md section 2): op 400 with key
 * exchange mode 3 naming id, the answer's [u32 4][key] decrypted with id's
 * private key; later requests are sent SM4-encrypted and their answers
 * decrypted. IDN_ENOTSUP when the server refused (code in *rc), IDN_EPROTO
 * for an answer that does not decode or decrypt, or another algorithm.
 */
int client_login_encrypt(client_login *l, const client_identity *id, uint32_t *rc);

/*
 * The next message of a successful answer continued (CN) in the login,
 * decrypted when the login encrypts; errors as client_recv_continued.
 */
int client_login_recv_continued(client_login *l, uint32_t request_id, uint8_t **ans, size_t *alen,
                                proto_msg *m);

/*
 * Sends one request in the login (req as proto_build_end(.., NULL, 0)
 * makes it; its session id is set here) and returns its answer decoded
 * (*ans the caller's, even on error). Errors as client_admin_exchange.
 */
int client_login_exchange(client_login *l, const uint8_t *req, size_t len, uint8_t **ans,
                          size_t *alen, proto_env *env, proto_msg *m);

void client_login_close(client_login *l);

#endif
