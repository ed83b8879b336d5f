/*
 * answer.h - the answer builders every file of the node module answers
 * with, so that every answer carries the same flags, expiration, and
 * signature (CT) or session MAC and encryption.
 *
 * Lengths: each returns the answer's length in rq->out, or a negative
 * idn_err (IDN_ESPACE when it does not fit rq->cap).
 */
#ifndef IDN_NODE_ANSWER_H
#define IDN_NODE_ANSWER_H

#include "auth/session_crypto.h"
#include "node/internal.h"

/* Envelope + header (+ request digest when RD is set) of an answer with code rc. */
void node_answer_begin(req *rq, proto_build *b, uint32_t rc);
/* Finishes (and signs for CT, or MACs and encrypts in a session) the answer. */
int node_answer_end(req *rq, proto_build *b);
/* A whole error answer: code + message ("answer too large" when that does not fit). */
int node_answer_error(req *rq, uint32_t rc, const char *message);
/*
 * A write the store refused (err < 0): 2 ERROR, "storage full: what" when
 * the map or the disk is full (NODE_MSG_STORAGE_FULL), else "storage error:
 * what".
 */
int node_answer_store_error(req *rq, int err, const char *what);
/* A success with an empty body. */
int node_answer_ok(req *rq);

/*
 * An error built outside a request context, as the reference does for a
 * request it will not look into (admin over UDP, a bad message length):
 * version 2.3, the library's default flags, unknown site serial, no AT.
 */
int node_answer_bare_error(const proto_env *renv, uint32_t opcode, uint32_t rc, const char *message,
                           uint8_t *out, size_t cap);

#endif
