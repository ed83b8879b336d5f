/*
 * repl.h - primary -> mirror replication over the store's transaction log
 * (store.h): the bodies of ops 1000 (log state), 1001 (retrieve the log) and
 * 1002 (dump identifiers and homed prefixes), the primary's side that builds
 * them from a read transaction, and the mirror's side that decides what to
 * ask next and applies each answer in one write transaction. The format is
 * idnode's own (docs/replication.md says where it differs from the
 * reference's); no sockets here: the caller moves the bytes, so every step
 * is testable on two stores in one process.
 *
 * Mirror state lives in the mirror store's meta values ("repl.*"), written
 * in the same commit as the data it describes, so a mirror killed at any
 * point resumes where its last commit left it: a bootstrap from the key
 * after the last one copied, the log from the next change.
 *
 * Consistency: a bootstrap's pages come from successive snapshots of the
 * primary, each at or after the first page's sequence number S0; replaying
 * the log from S0 + 1 afterwards (puts of whole records, deletes, home,
 * unhome are idempotent) brings the mirror to the primary's state. If the
 * primary pruned its log past the mirror's position, the mirror starts a new
 * bootstrap (repl_mirror_restart).
 *
 * Ownership: every function borrows its buffers for the call only.
 */
#ifndef IDN_REPL_REPL_H
#define IDN_REPL_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/txlog_pages.h"

/* ---- the mirror ---- */

typedef struct repl_req {
	uint32_t opcode; /* PROTO_OP_RETRIEVE_TXN_LOG or PROTO_OP_DUMP_HANDLES */
	bool tables;     /* a dump page of the logged tables (txlog_pages.h, part 1) */
	size_t len;
	uint8_t body[TXLOG_REQ_MAX];
} repl_req;

typedef struct repl_progress {
	bool bootstrapping;   /* still copying the dump */
	uint64_t applied;     /* changes (log) or records (dump) applied by this call */
	uint64_t primary_seq; /* the primary's last sequence number in the answer */
	uint64_t next_seq;    /* the mirror's position: the next transaction it needs */
	uint64_t lag;         /* primary_seq - (next_seq - 1): transactions behind */
} repl_progress;

/* What to ask the primary next, from the mirror store's state. */
int repl_mirror_request(store *s, uint32_t max_bytes, repl_req *r);
/*
 * Applies the answer to a request made by repl_mirror_request (same opcode)
 * in one write transaction. IDN_EPROTO for an answer that does not decode
 * or does not continue where the mirror stands.
 */
int repl_mirror_apply(store *s, uint32_t opcode, const uint8_t *ans, size_t len, repl_progress *p);
/*
 * The primary refused the tables' dump (a primary before version 2 of
 * txlog_pages.h): the mirror follows the log without the tables' history.
 */
int repl_mirror_skip_tables(store *s);
/* The primary no longer has the log the mirror needs: bootstrap again. */
int repl_mirror_restart(store *s);

#endif
