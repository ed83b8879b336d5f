/*
 * identity.h - identities whose key lives on another node, and op 201.
 *
 * The challenge-response (node/admin.h) first looks an identity's key up in
 * this node's store. When it is not there:
 *  - HS_PUBKEY: the identity handle is resolved from the configured root
 *    (node_config.identity_root, following referrals as client/root.c does)
 *    and the key is cached for its TTL in a small bounded table;
 *  - HS_SECKEY: the secret never leaves its node, so the signed response is
 *    sent with op 201 (verify response) to the server that answers for the
 *    identity handle (found by the same resolution), which says whether it
 *    verifies.
 * Each check has one deadline (node_config.identity_timeout_ms) for all of
 * its questions together.
 *
 * This node answers op 201 for identities in its own store, so two idnode
 * nodes can check each other's secret-key identities.
 *
 * Threads: the cache is shared by all workers behind one mutex, never held
 * across network I/O. The questions are asked on the worker's thread: it is
 * blocked for at most the deadline (a bounded wait, accepted for now; an
 * asynchronous hand-off would keep the worker serving meanwhile).
 *
 * Ownership: node_identity belongs to the node (node_new / node_free).
 */
#ifndef IDN_NODE_IDENTITY_H
#define IDN_NODE_IDENTITY_H

#include "node/internal.h"
#include "proto/admin.h"

typedef struct node_identity node_identity;

/* IDN_ECONFIG when cfg->identity_root is set but is not HOST:PORT. */
int node_identity_new(const node_config *cfg, node_identity **out);
void node_identity_free(node_identity *id);

/*
 * Verifies cr->signed_resp (over nonce and the request digest) for an
 * identity that is not in the local store. IDN_OK when it verifies,
 * IDN_EMISMATCH when it does not; otherwise another idn_err with why (a
 * sentence naming the identity and the reason: not found, timeout, no root
 * configured, ...) for the 403 answer.
 */
int node_identity_verify_remote(node *n, const proto_chresp *cr, idn_slice nonce, idn_slice digest,
                                char *why, size_t whylen);

/* Op 201 (any transport): does the signed response verify against our local key? */
int node_identity_serve_verify(req *rq);

/* Cached remote keys, for tests and statistics. */
size_t node_identity_cached(node_identity *id);

#endif
