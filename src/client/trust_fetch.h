/*
 * trust_fetch.h - the trust_fetch_fn (auth/trust.h) of a client: the values
 * of a handle, resolved from one server (client_resolve) or from a root
 * through the hierarchy (client_resolve_root), and the values of an answer.
 *
 * Blocking; thread-safe (each call makes its own exchange).
 */
#ifndef IDN_CLIENT_TRUST_FETCH_H
#define IDN_CLIENT_TRUST_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "proto/proto.h"

typedef struct client_trust_src {
	client_addr addr; /* the server, or the root when from_root */
	bool from_root;
	enum client_transport transport;
	unsigned timeout_ms; /* per question; 0 = 3000 */
} client_trust_src;

/*
 * The values of a successful resolution answer m: *values borrows m's body.
 * IDN_ENOTFOUND for "handle not found" / "value not found", IDN_EPROTO for
 * another error code (err says which) or a malformed answer.
 */
int client_answer_values(const proto_msg *m, idn_slice *values, uint32_t *n, char *err,
                         size_t errlen);

/* A trust_fetch_fn; arg is a client_trust_src. */
int client_trust_fetch(void *arg, const char *handle, uint8_t **vals, size_t *len, uint32_t *n,
                       char *err, size_t errlen);

#endif
