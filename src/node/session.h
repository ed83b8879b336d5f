/*
 * session.h - Handle protocol sessions, server side (op 400 setup, op 401
 * terminate, and everything a request carrying a session id means). The
 * table of sessions is node/session_table.h; answers in a session are MACed
 * and encrypted by node/answer.h. The flow, and where idnode differs from
 * the reference, is described at the top of session.c.
 *
 * Threads: the session table belongs to the node and is shared by all
 * workers behind one mutex, never held across storage or crypto work longer
 * than a copy. A request's view of its session (node_sess_ref in
 * node/internal.h) is a copy of the key, so an answer can still be MACed
 * after the session is terminated or evicted by another worker.
 *
 * Ownership: node_sessions is created by node_new() and freed by node_free().
 */
#ifndef IDN_NODE_SESSION_H
#define IDN_NODE_SESSION_H

#include "node/internal.h"
#include "node/session_table.h"

/*
 * Decrypts an encrypted request (envelope flag 0x40) with its session's key
 * into a malloc'd copy (envelope + plaintext message, *plain, owned by the
 * caller), and sets rq->sess so the answer is encrypted and MACed too.
 * Returns 0, or an answer (> 0) / negative idn_err when the request cannot
 * be read (unknown session: 500; bad padding: 504).
 */
int node_session_decrypt(req *rq, const uint8_t *in, size_t len, uint8_t **plain, size_t *plen);

/*
 * Called for every decoded request before the opcode dispatch. Returns the
 * answer (> 0, or a negative idn_err) when the session machinery answered
 * it, 0 to let the normal dispatch go on (with rq->sess set when the
 * request belongs to a live session, so its answer carries an HS_MAC).
 */
int node_session_request(req *rq);

#endif
