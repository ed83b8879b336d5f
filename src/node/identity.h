/*
 * identity.h - identities whose key lives on another node, and op 201.
 *
 * The challenge-response (node/admin.h) first looks an identity's key up in
 * this node's store. When it is not there, node_config.identity_lookup
 * checks it (client/identity_lookup.h: HS_PUBKEY by resolution from the
 * root, HS_SECKEY with op 201 to the identity's node), off the worker's
 * thread: when the caller of node_answer can answer later
 * (node_answer_deferrable), the request waits for the verdict as a deferred
 * answer and is finished on the lookup's thread, with a worker of its own;
 * otherwise (HTTP, tests) node_answer waits for the verdict, bounded by the
 * lookup's deadline. The node itself opens no socket and starts no thread.
 *
 * This node answers op 201 for identities in its own store, so two idnode
 * nodes can check each other's secret-key identities.
 *
 * Ownership: node_identity belongs to the node (node_new / node_free);
 * node_free waits for the deferred answers still being built.
 */
#ifndef IDN_NODE_IDENTITY_H
#define IDN_NODE_IDENTITY_H

#include "node/internal.h"
#include "proto/admin.h"

typedef struct node_identity node_identity;

int node_identity_new(const node_config *cfg, node_identity **out);
void node_identity_free(node_identity *id);

/*
 * Verifies cr->signed_resp for an identity that is not in the local store,
 * waiting for the lookup. IDN_OK when it verifies, IDN_EMISMATCH when it
 * does not; otherwise another idn_err with why (a sentence naming the
 * identity and the reason: not found, timeout, no root configured, ...) for
 * the 403 answer.
 */
int node_identity_verify_remote(node *n, const proto_chresp *cr, idn_slice nonce, idn_slice digest,
                                char *why, size_t whylen);

/*
 * Builds the answer to a held request once the challenge response of the
 * identity index:handle has a verdict (IDN_OK, IDN_EMISMATCH, or another
 * error with why for the 403). ctx is the caller's, as given to
 * node_identity_check (a copy, when the answer is built later).
 */
typedef int (*node_identity_finish_fn)(req *held, const void *ctx, idn_slice handle, uint32_t index,
                                       int verdict, const char *why);

/*
 * Checks cr for an identity not in the local store and answers the held
 * request with finish(held, ctx, cr->handle, cr->index, verdict, why). held's message lies in
 * *held_bytes (malloc'd). When rq's caller can answer later, the check runs
 * off this thread: *held_bytes is taken (set to NULL), ctx (ctxlen bytes) is
 * copied, and 0 is returned (nothing to send now). Otherwise the verdict is
 * waited for here and finish's result returned.
 */
int node_identity_check(req *rq, req *held, uint8_t **held_bytes, const proto_chresp *cr,
                        idn_slice nonce, idn_slice digest, node_identity_finish_fn finish,
                        const void *ctx, size_t ctxlen);

/* Op 201 (any transport): does the signed response verify against our local key? */
int node_identity_serve_verify(req *rq);

#endif
