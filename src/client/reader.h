/*
 * reader.h - reads many identifiers whole from one node as an administrator
 * (`idnode export`): a list of the handles under a prefix (op 105, its
 * continued messages), then resolutions without the PO flag, so restricted
 * values come too, pipelined in windows on one TCP connection.
 *
 * As the 9.x client does admin work: a session (client/session.h) is set up
 * first, and the list, the first request in it, is challenged; answering
 * that challenge authenticates the session, so the reads that follow run as
 * the identity with no challenge at all: a window costs one round trip. A
 * server that refuses sessions gets plain challenge-response: each read is
 * then challenged and answered, two round trips a window.
 *
 * Ownership: client_reader_open() allocates the reader (its connection and
 * session); the identity is borrowed and must outlive it;
 * client_reader_close() frees it. Messages given to callbacks live for the
 * call only. One thread.
 */
#ifndef IDN_CLIENT_READER_H
#define IDN_CLIENT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/admin_auth.h"
#include "client/client.h"

typedef struct client_reader client_reader;

typedef struct client_reader_opts {
	bool no_session;     /* plain challenge-response for every read */
	unsigned window;     /* reads in flight; 0: 256 */
	unsigned timeout_ms; /* per network wait; 0: 30000 */
} client_reader_opts;

/* Connects to a and sets up the session. Errors as client_conn_open / client_session_open. */
int client_reader_open(const client_addr *a, const client_identity *id, const client_reader_opts *o,
                       client_reader **out);
void client_reader_close(client_reader *r);

/*
 * Lists the handles under prefix ("88.100.1" or "0.NA/88.100.1"), calling
 * name for each (a non-zero return stops the list and is returned). IDN_OK;
 * IDN_EMISMATCH when the node refused (its code in *rc, its message in msg,
 * msglen bytes); a network or protocol error otherwise.
 */
int client_reader_list(client_reader *r, const char *prefix,
                       int (*name)(void *arg, idn_slice handle), void *arg, uint32_t *rc, char *msg,
                       size_t msglen);

/*
 * The final answer to the read of names[i] (a success, or any error code:
 * the body after the request digest, if any, in body). A non-zero return
 * stops the run (client_reader_read returns it).
 */
typedef int (*client_reader_fn)(void *arg, size_t i, const proto_msg *m, idn_slice body);

/*
 * Reads names[0..n) whole, window by window, calling got for each in
 * order of the answers. IDN_OK when every read got an answer; a network
 * error (or got's refusal) stops the run: the window it stopped in is then
 * names[*done .. *inflight_end) (some of them may have been answered).
 */
int client_reader_read(client_reader *r, const char *const *names, size_t n, client_reader_fn got,
                       void *arg, size_t *done, size_t *inflight_end);

#endif
