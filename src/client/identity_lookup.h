/*
 * identity_lookup.h - checking an identity whose key lives on another node,
 * from the client side, for a node that does not hold it (node_config's
 * identity_lookup callback, wired by the server).
 *
 *  - HS_PUBKEY: the identity handle is resolved from the root (following
 *    referrals as client/root.c does) and the key is cached for its TTL in a
 *    small bounded table; the signed response is verified here;
 *  - HS_SECKEY: the secret never leaves its node, so the signed response is
 *    sent with op 201 (verify response) to the server that answers for the
 *    identity handle (found by the same resolution), which says whether it
 *    verifies.
 * Each check has one deadline (timeout_ms) for all of its questions together.
 *
 * Threads: client_identity_lookup_start runs each check on a thread of its
 * own (at most 64 at once), so the node worker that asked goes on
 * serving; the cache is shared behind one mutex, never held across network
 * I/O.
 *
 * Ownership: a client_identity_lookup is the caller's (new / free); free
 * waits for the checks still running.
 */
#ifndef IDN_CLIENT_IDENTITY_LOOKUP_H
#define IDN_CLIENT_IDENTITY_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/admin.h"

typedef struct client_identity_lookup client_identity_lookup;

typedef struct client_identity_lookup_opts {
	const char *root;    /* "HOST:PORT" identity handles are resolved from (parsed) */
	unsigned timeout_ms; /* one whole check; 0 = 2000 */
	bool case_sensitive; /* suffixes case-sensitive: how the cache names identities */
} client_identity_lookup_opts;

/* IDN_ECONFIG when root is not HOST:PORT; *out stays NULL on any error. */
int client_identity_lookup_new(const client_identity_lookup_opts *o, client_identity_lookup **out);
void client_identity_lookup_free(client_identity_lookup *lk);

/*
 * Verifies cr->signed_resp (over nonce and the request digest) for an
 * identity held elsewhere, blocking for at most the deadline. IDN_OK when it
 * verifies, IDN_EMISMATCH when it does not; otherwise another idn_err with
 * why (a sentence naming the identity and the reason: not found, timeout,
 * ...) for the 403 answer.
 */
int client_identity_lookup_verify(client_identity_lookup *lk, const proto_chresp *cr,
                                  idn_slice nonce, idn_slice digest, char *why, size_t whylen);

/*
 * The same check off the caller's thread (node_config.identity_lookup):
 * copies cr, nonce and digest, and returns IDN_OK when done(done_arg,
 * verdict, why) will be called exactly once from the check's thread (why is
 * borrowed for that call); IDN_EBUSY when 64 checks are running,
 * or another idn_err (done is then never called). lookup is a
 * client_identity_lookup.
 */
int client_identity_lookup_start(void *lookup, const proto_chresp *cr, idn_slice nonce,
                                 idn_slice digest,
                                 void (*done)(void *done_arg, int verdict, const char *why),
                                 void *done_arg);

/* Cached remote keys, for tests and statistics. */
size_t client_identity_lookup_cached(client_identity_lookup *lk);

#endif
