/*
 * backup.h - backups of a store as JSON Lines (`idnode dump`, `restore`,
 * `verify`).
 *
 * A dump holds one identifier per line in the format `idnode load` reads
 * (node/import.h), written from one read transaction, so it is a consistent
 * snapshot even while a node serves and writes the same store (LMDB: an MVCC
 * read txn; PostgreSQL: a REPEATABLE READ snapshot). Every field is written
 * explicitly (ttl, ttl_type, perms, timestamp, references), and data that is
 * not text (UTF-8 without NUL) as base64, so a restore gives back the same
 * records byte for byte. Homed prefixes come first, one line each:
 * {"home":"88.100.1"} (restore homes them; `idnode load` does not know these
 * lines).
 *
 * A restore reads such lines into a store in transactions of
 * BACKUP_RESTORE_BATCH lines; a bad line is reported and skipped.
 *
 * A verify reads every record in one read transaction and checks that it
 * decodes whole (proto/record.h record_check).
 *
 * Ownership: everything is borrowed for the call; keys and messages given to
 * the callbacks live for the call only.
 */
#ifndef IDN_NODE_BACKUP_H
#define IDN_NODE_BACKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/wire.h"
#include "node/import.h"
#include "store/store.h"

enum { BACKUP_RESTORE_BATCH = 1000 };

/* What a dump, restore or verify went through. */
typedef struct backup_counts {
	uint64_t records; /* written, restored, or checked */
	uint64_t bad;     /* records skipped or bad; lines skipped */
} backup_counts;

/* A record a dump skips or a verify finds bad: its key and why. */
typedef void (*backup_bad_fn)(void *arg, idn_slice key, const char *why);

/*
 * Writes into out the homed prefixes (when homes) and then every record of t
 * whose key starts with prefix. IDN_OK, a store error, IDN_EIO (writing to
 * out failed; errno says why) or IDN_ENOMEM.
 */
int backup_dump(store_txn *t, idn_slice prefix, bool homes, FILE *out, backup_bad_fn bad, void *arg,
                backup_counts *c);

/*
 * Writes one identifier's line as a dump writes it, from its nvalues values
 * in wire encoding (what a resolution answers): `idnode export`. IDN_OK,
 * IDN_EINVAL (why says what: values that do not decode, a name or type not
 * UTF-8, out of memory) or IDN_EIO.
 */
int backup_write_values(FILE *out, idn_slice handle, uint32_t nvalues, idn_slice values,
                        const char **why);
/* Writes the line {"home":"PREFIX"}. IDN_OK, IDN_ENOMEM or IDN_EIO. */
int backup_write_home(FILE *out, idn_slice prefix);

/* Checks every record of t; bad ones go to bad. IDN_OK or a store error. */
int backup_verify(store_txn *t, backup_bad_fn bad, void *arg, backup_counts *c);

/* The records and homed prefixes s holds. IDN_OK or a store error. */
int backup_store_size(store *s, uint64_t *records, uint64_t *homes);

/* Where a restore stopped (backup_restore_result.failed_at). */
typedef enum backup_stage {
	BACKUP_AT_BEGIN,  /* a write transaction could not begin */
	BACKUP_AT_LINE,   /* writing the record or prefix of a line failed */
	BACKUP_AT_COMMIT, /* a commit failed */
	BACKUP_AT_READ,   /* reading the input failed: read_errno */
} backup_stage;

typedef struct backup_restore_result {
	backup_counts counts;
	uint64_t line; /* lines read */
	backup_stage failed_at;
	int read_errno;
} backup_restore_result;

/*
 * Reads the lines of in into s (import: how identifiers are keyed), not
 * logged (store.h: mirrors copy the store again). A bad line goes to
 * line_error ("FIELD: reason") and is skipped. IDN_OK, or the error that
 * stopped the restore (r->failed_at says where, r->line at which line);
 * committed batches stay.
 */
int backup_restore(store *s, FILE *in, const import_opts *import,
                   void (*line_error)(void *arg, uint64_t line, const char *msg), void *arg,
                   backup_restore_result *r);

#endif
