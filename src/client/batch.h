/*
 * batch.h - a batch file in the reference's GenericBatch format, run against
 * one node over one persistent TCP connection (`idnode batch`).
 *
 * The format (plain text; a blank line ends a block):
 *   AUTHENTICATE PUBKEY:INDEX:HANDLE      next line: PEM private key file[|passphrase]
 *   AUTHENTICATE SECKEY:INDEX:HANDLE      next line: the secret
 *   CREATE HANDLE | ADD HANDLE | MODIFY HANDLE, then value lines:
 *       INDEX TYPE TTL PERMS DATATYPE DATA
 *       PERMS: 4 digits 0/1: admin read, admin write, public read, public write
 *       DATATYPE: UTF8 (text), ADMIN (INDEX:RIGHTS:HANDLE, RIGHTS 12 digits 0/1 in
 *       the reference's order), FILE (the bytes of a file; a PEM public key for
 *       HS_PUBKEY is converted), LIST (HS_VLIST: INDEX:HANDLE;INDEX:HANDLE...)
 *   REMOVE INDEX[,INDEX...]:HANDLE        one line
 *   DELETE HANDLE                         one line
 *   HOME ADDRESS:PORT:PROTOCOL | UNHOME ADDRESS:PORT:PROTOCOL, then one
 *       prefix a line (0.NA/88.100); sent to that address over TCP
 *   SESSIONSETUP ...                      block skipped: its options are not read
 *
 * Operations run in order. Consecutive ones under the same identity are
 * pipelined in windows: the requests of a window go out together, then the
 * answers to every challenge together, so a window costs two round trips
 * rather than two per record. Every record gets a result naming its line
 * (opts.on_result), in file order.
 *
 * As the reference 9.x client, records go through a session (client/
 * session.h; opts.no_session: without): one per identity, set up on the
 * connection; in a new session the first record goes alone, and answering
 * its challenge authenticates the session, so the rest need no challenge at
 * all: a window then costs one round trip. A server that refuses sessions
 * gets plain challenge-response.
 *
 * Ownership: a client_batch is one run's state (connection, session,
 * identity), used by one thread; client_batch_free() closes and frees it.
 * Strings given to the callbacks live for the call only.
 */
#ifndef IDN_CLIENT_BATCH_H
#define IDN_CLIENT_BATCH_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client/client.h"

typedef struct client_batch client_batch;

typedef struct client_batch_opts {
	client_addr server;      /* where records go (HOME blocks name their own) */
	const char *server_name; /* the server as messages show it; borrowed */
	bool no_session;         /* plain challenge-response for every record */
	/* A record's result: err is NULL when it succeeded, else the reason. */
	void (*on_result)(void *arg, unsigned line, const char *op, const char *handle,
	                  const char *err);
	/* A remark on the file that is no record's result (an ignored block). */
	void (*on_notice)(void *arg, unsigned line, const char *msg);
	void *arg;
} client_batch_opts;

/* A batch run; opts is copied. IDN_OK or IDN_ENOMEM. */
int client_batch_new(const client_batch_opts *opts, client_batch **out);
void client_batch_free(client_batch *b);

/*
 * The identity records are authenticated as before the file's first
 * AUTHENTICATE block: ref is "INDEX:HANDLE" (IDN_EINVAL otherwise), then a
 * private key (taken: b frees it) or a secret (copied; IDN_EINVAL when
 * longer than 4096 bytes) completes it.
 */
int client_batch_identity(client_batch *b, const char *ref);
void client_batch_identity_key(client_batch *b, EVP_PKEY *key);
int client_batch_identity_secret(client_batch *b, const uint8_t *secret, size_t slen);

/* A PEM private key file (pass: its passphrase, or NULL); NULL when unreadable. */
EVP_PKEY *client_batch_read_key(const char *path, const char *pass);

/* Runs the file f to its end (every record reported), then the last window. */
void client_batch_run(client_batch *b, FILE *f);

/* Records that succeeded and failed so far. */
void client_batch_counts(const client_batch *b, unsigned *ok, unsigned *failed);

#endif
