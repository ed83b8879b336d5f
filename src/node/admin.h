/*
 * admin.h - administration: how the authenticated opcodes (the NODE_OP_AUTH
 * rows of node.c: 100-105 create, delete, add/remove/modify value, list
 * handles; 300-302 home, unhome, list homed; 1000-1002 replication) are
 * authenticated (402 then op 200) and run. Who may do what is node/authz.h;
 * the ops themselves are node/edit.h, node/listing.h, node/homing.h and
 * node/repl_ops.h.
 *
 * Flow: an admin request that passes the checks the reference answers first
 * (malformed, invalid UTF-8, duplicate index, not homed here) is held in a
 * table under a fresh random session id and answered 402 with a nonce. An op
 * 200 naming that session id (on any connection, any worker) takes the
 * request out of the table (once: a replay finds nothing), verifies the
 * signature against the identity's HS_PUBKEY / HS_SECKEY value in the local
 * store (or, for an identity homed elsewhere, as node/identity.h does),
 * checks the identity's rights and runs the request. Writes run in one
 * store write transaction, committed before the answer is built; the
 * worker's read snapshot is released first (a thread must not hold a read
 * transaction while it starts a write one). LMDB serialises writers.
 *
 * Ownership: node_admin belongs to the node (node_new / node_free); the
 * pending table is shared by all workers behind one mutex and holds a copy
 * of each challenged request until it is answered or expires.
 */
#ifndef IDN_NODE_ADMIN_H
#define IDN_NODE_ADMIN_H

#include "node/authz.h"
#include "node/identity.h"
#include "node/internal.h"
#include "proto/admin.h"

typedef struct node_admin node_admin;

/* IDN_ECONFIG when a server_admins entry is not INDEX:HANDLE. */
int node_admin_new(const node_config *cfg, node_admin **out);
void node_admin_free(node_admin *a);

/*
 * Frees up to max expired challenges, oldest first (node_sweep; every new
 * challenge frees all of them first). Gives freed memory back to the system.
 */
void node_admin_sweep(node_admin *a, uint32_t now, size_t max);
/* The bytes of challenged requests held now (tests). */
size_t node_admin_pending_bytes(node_admin *a);

/*
 * An authenticated op over TCP/HTTP: the early refusals, else the 402
 * challenge (or, for a worker acting as an identity, the op itself).
 */
int node_admin_request(req *rq);

/*
 * The data of identity index:handle's value of type (HS_PUBKEY, HS_SECKEY)
 * in this node's store, borrowed from the worker's snapshot. IDN_ENOTFOUND
 * when there is none here, IDN_ESTORE for a damaged record.
 */
int node_admin_identity_key(req *rq, idn_slice handle, uint32_t index, idn_slice type,
                            idn_slice *data);

/* Op 200: verifies the answer to a challenge and runs the held request. */
int node_admin_challenge_response(req *rq);

/*
 * Records the verdict on an op-200 answer from src as a login
 * (node_login_result): a success, or a failure the client made (a signature
 * that does not verify, a malformed one, no such identity or key). Called
 * by the finish functions, where the verdict lands, also when it comes
 * later from a lookup elsewhere.
 */
void node_admin_login_verdict(node *n, const node_source *src, idn_slice handle, uint32_t index,
                              int verdict);

/*
 * Checks an op-200 answer to a challenge (nonce, request digest) as op 200
 * does, also for challenges held elsewhere (node/session.h), and answers the
 * held request with finish (node/identity.h: at once, or later when the
 * identity is checked on another node and the caller can answer later; then
 * *held_bytes is taken and 0 returned).
 */
int node_admin_check_chresp(req *rq, req *held, uint8_t **held_bytes, const proto_chresp *cr,
                            idn_slice nonce, idn_slice digest, node_identity_finish_fn finish,
                            const void *ctx, size_t ctxlen);

/* The node-wide administrators (node_config.server_admins), for a node_authz. */
const node_server_admin *node_admin_list(const node *n, size_t *count);

#endif
