/*
 * login.h - the national system's login (op 2001, IDIS.md section 1): the
 * logins of TCP connections, and the steps of a request that meet them.
 *
 * Flow: a client sends 2001 naming index:handle, with a session id it chose
 * (id-pointer-sdk counts up from 10001). The connection's entry is begun
 * (that session id, no identity yet) and the request is challenged like
 * any authenticated op (node/admin.h: 402 with a nonce, opCode 2001). The
 * client's op 200 comes in the 402's session id (id-pointer-sdk) or in its
 * own (ID-SDK, which sends every request of a connection in one session id:
 * on the connection that sent the 2001, that id leads to the 402's). It is
 * verified as any; when it verifies, on the same
 * connection, the connection is logged in as index:handle under the
 * session id of the 2001 and the answer is 1 with an empty body, opCode
 * 2001. From then on every authenticated request on that connection
 * carrying that session id runs as the identity without a challenge, its
 * rights checked by node/authz.h as after any challenge.
 *
 * Bounds: one entry per TCP connection, made only on the connection's own
 * worker thread while it is open and dropped when net reports it closed
 * (node_conn_closed), so the table is bounded by the connection caps
 * (net's max_tcp_conns, the budget). Finishing a login later, from an
 * identity lookup's thread, only fills an entry that is still there.
 *
 * Threads: the table belongs to the node, shared by all workers behind one
 * mutex held only for a copy.
 */
#ifndef IDN_NODE_LOGIN_H
#define IDN_NODE_LOGIN_H

#include "node/authz.h"
#include "node/internal.h"

typedef struct node_logins node_logins;

int node_logins_new(node_logins **out);
void node_logins_free(node_logins *l);

/* Connections with an entry (begun or logged in), for tests and statistics. */
size_t node_logins_count(node_logins *l);

/* What a connection's entry holds: a copy. */
typedef struct node_login_view {
	uint32_t session_id; /* the logged-in session id (0: not logged in) */
	uint32_t index;
	uint32_t hlen;
	uint8_t handle[PROTO_HANDLE_MAX];
} node_login_view;

/* 1 and *v when conn has a login, 0 when not. */
int node_logins_get(node_logins *l, uint64_t conn, node_login_view *v);

/* Drops conn's entry (the connection closed). */
void node_logins_drop(node_logins *l, uint64_t conn);

/*
 * The SM4 session key of conn, set up by session session_id
 * (node/login_crypt.c): set makes conn's entry if it has none (a setup may
 * come before the login, as id-pointer-sdk sends it; only on conn's own
 * worker, while it is open); get copies it and that session id: 1 when
 * there is one, else 0.
 */
int node_logins_set_key(node_logins *l, uint64_t conn, uint32_t session_id, const uint8_t key[16]);
int node_logins_get_key(node_logins *l, uint64_t conn, uint32_t *session_id, uint8_t key[16]);

/* Whether sid names a live Handle session (node/session.h). */
bool node_handle_session_live(node *n, uint32_t sid);

/*
 * SM4 transport encryption (IDIS.md section 2; node/login_crypt.c).
 * node_login_setup: op 400 with key exchange mode 3 on a TCP connection:
 * a fresh SM4 key, sent as [u32 4][key] encrypted to the named identity's
 * HS_PUBKEY (SM2 C1C3C2, or RSA); 0 when the request is not that (the
 * session step answers it). node_login_decrypt: an encrypted request
 * (envelope flag 0x40) on a connection with an SM4 key, whatever its
 * session id (the SDK's op 200 carries the challenge's) unless that names a
 * live Handle session of its own, is decrypted into *plain (malloc'd, the
 * caller's) and rq->sm4 set, so the
 * answer is encrypted too (node_login_encrypt); returns 0 with *plain NULL
 * when it is not such a request, an answer when it cannot be read.
 */
int node_login_setup(req *rq);
int node_login_decrypt(req *rq, const uint8_t *in, size_t len, uint8_t **plain, size_t *plen);
/* Encrypts each whole message of the answer in out (n bytes, cap); its new length, or < 0. */
int node_login_encrypt(const req *rq, uint8_t *out, size_t n, size_t cap);

/*
 * The login step of a request, before the session step: answers 2001 and
 * 2000, runs an authenticated request on a logged-in connection as its
 * identity, and refuses one that needs a login first (ID-SDK's 408).
 * Returns the answer (> 0 or a negative idn_err), or 0 to go on with the
 * session step and the dispatch.
 */
int node_login_step(req *rq);

/*
 * The challenge of a resolution that comes to restricted values
 * (node/resolve.c): run as the connection's login when the request carries
 * its session id, else challenged as any admin request (node_admin_request).
 */
int node_login_challenge(req *rq);

/* The run of the 2001 row (node/authz.h): the identity is proven; binds it. */
int node_login_run(node_authz *c);

/* The answer to the legacy password login, op 2000: refused, naming 2001. */
int node_login_password(req *rq);

/* The code that answers a failed op 200 of a held request (403, or ID-SDK's 3001). */
uint32_t node_login_failed_code(const req *held);

#endif
