/*
 * conn.h - a persistent TCP connection to a Handle server, for clients that
 * send several requests in a row (an admin request and its op 200, a batch
 * file pipelined) or read an answer that comes as several continued (CN)
 * messages, such as a long list of handles.
 *
 * Blocking; every call waits at most the timeout given at open (per call).
 * Ownership: client_conn_open() allocates the connection, client_conn_close()
 * closes and frees it. Messages returned by client_conn_recv() are malloc'd
 * and owned by the caller.
 */
#ifndef IDN_CLIENT_CONN_H
#define IDN_CLIENT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "client/client.h"

typedef struct client_conn client_conn;

/* Connects; IDN_ETIMEOUT, IDN_ENET or an errno-derived idn_err. */
int client_conn_open(const client_addr *a, unsigned timeout_ms, client_conn **out);

/* Sends len bytes (one or more whole requests). */
int client_conn_send(client_conn *c, const uint8_t *p, size_t len);

/*
 * Reads the next whole message (envelope + message) into *msg (malloc'd).
 * IDN_ENET when the peer closed, IDN_EPROTO for a length over PROTO_MSG_MAX.
 */
int client_conn_recv(client_conn *c, uint8_t **msg, size_t *len);

/*
 * Waits at most ms for input: 1 when some is there (client_conn_recv may
 * still wait for the rest of a message), 0 after ms, < 0 on error. For
 * clients that also have something to send at a given time.
 */
int client_conn_wait(client_conn *c, unsigned ms);
void client_conn_close(client_conn *c);

#endif
