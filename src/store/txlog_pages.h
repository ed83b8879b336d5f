/*
 * txlog_pages.h - the pages of primary -> mirror replication over the
 * store's transaction log: the bodies of ops 1000 (log state), 1001 (a page
 * of the log) and 1002 (a page of the dump: identifiers and homed prefixes),
 * the primary's side that builds them from a read transaction, and the
 * readers the mirror (repl/repl.h) decodes them with. One format, one place:
 * the node answers the ops with the encoders (node/repl_ops.h), the mirror
 * asks and applies with the decoders. No sockets here.
 *
 * Wire formats (all integers big-endian, u64 as two u32, lbytes = u32 length
 * + bytes):
 *   1000 answer  u64 last | u64 oldest
 *   1001 request u64 seq | u32 n | u32 max bytes
 *        answer  u64 last | u64 oldest | u32 count |
 *                count x (u64 seq | u32 n | u64 time_ms | u8 op | lbytes key | lbytes val)
 *   1002 request lbytes after-key | u32 max bytes [| u8 part]
 *        answer  u64 last | u8 done | u32 nhomed | nhomed x lbytes prefix |
 *                u32 count | count x (lbytes key | lbytes record)
 * Homed prefixes travel with the first dump page only (after-key empty).
 *
 * Version 2 (the optional part byte): part 0 (or absent, as version 1
 * mirrors send it) is the records as above; part 1 is the logged tables
 * (store.h: accounts, audit log), copied after the records: keys are table
 * byte | key, values the table values, nhomed 0, after-key the last such key.
 * A version 1 primary answers part 1 as a malformed request (protocol
 * error); a mirror then follows the log without the tables' history.
 *
 * Ownership: every function borrows its buffers for the call only; decoded
 * slices point into the page being read.
 */
#ifndef IDN_STORE_TXLOG_PAGES_H
#define IDN_STORE_TXLOG_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "store/store.h"

enum {
	TXLOG_PAGE_DEFAULT = 192 * 1024, /* answer bytes per page (under PROTO_MSG_MAX) */
	TXLOG_PAGE_MIN = 1024,
	TXLOG_REQ_MAX = 4 + STORE_KEY_MAX + 4 + 1, /* the largest request body */
	TXLOG_PART_RECORDS = 0,
	TXLOG_PART_TABLES = 1,
	/* The fixed part of one change in a log page (count checks use it). */
	TXLOG_CHANGE_HDR = 8 + 4 + 8 + 1 + 4 + 4,
};

/* ---- the primary: answer bodies, built on the caller's read txn ---- */

/* Op 1000: u64 last | u64 oldest. Returns the length or a negative idn_err. */
int txlog_serve_state(store_txn *t, uint8_t *out, size_t cap);
/*
 * Op 1001: request u64 seq | u32 n | u32 max bytes (0 = default); changes
 * from (seq, n) on. IDN_ERANGE when the log no longer holds them (the mirror
 * must bootstrap), IDN_EINVAL for a malformed request.
 */
int txlog_serve_log(store_txn *t, const uint8_t *req, size_t len, uint8_t *out, size_t cap);
/* Op 1002: request lbytes after-key | u32 max bytes; records after that key. */
int txlog_serve_dump(store_txn *t, const uint8_t *req, size_t len, uint8_t *out, size_t cap);

/* ---- the mirror: requests, and readers of the answers ---- */

void txlog_put_u64(wire_wr *w, uint64_t v);
uint64_t txlog_get_u64(wire_rd *c);

/* Request bodies of ops 1001 and 1002 (after may be empty: from the start). */
void txlog_log_request(wire_wr *w, uint64_t seq, uint32_t n, uint32_t max_bytes);
void txlog_dump_request(wire_wr *w, idn_slice after, uint32_t max_bytes);
/* Op 1002 for the logged tables (part 1), after the table key after (empty: from the first). */
void txlog_dump_tables_request(wire_wr *w, idn_slice after, uint32_t max_bytes);

/* One change of a log page, as txlog_serve_log wrote it. */
typedef struct txlog_change {
	uint64_t seq;
	uint32_t n;
	uint64_t time_ms;
	uint8_t op; /* STORE_LOG_* */
	idn_slice key;
	idn_slice val;
} txlog_change;

/* Reads the next change of a log page; the cursor's sticky error says whether it was there. */
void txlog_get_change(wire_rd *c, txlog_change *ch);

/* Store keys in scan order (bytewise, a prefix before its extensions). */
int txlog_key_cmp(idn_slice a, idn_slice b);

#endif
