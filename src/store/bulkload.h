/*
 * bulkload.h - the bulk loader: many identifiers written into a store at
 * append speed, sorted before they are written.
 *
 * LMDB appends keys in ascending order at memory speed; in random order the
 * same puts are ~20x slower. So the loader collects entries (storage key +
 * record) into a run, and when the run is full (opts.memory) or the load
 * ends, sorts it by key and writes it with STORE_APPEND in big transactions
 * that bypass the transaction log (it is emptied: mirrors copy the store
 * afresh).
 *
 * Entries come in two ways, mixable in one load:
 *   - bulkload_add(): one already-built entry from memory (a REST or
 *     management batch);
 *   - bulkload_lines() / bulkload_read_fd(): lines of text, parsed on two
 *     threads by the caller's parser (opts.parse, e.g. node/import.h's
 *     import_line for JSON Lines), which writes each entry straight into the
 *     loader's arena.
 * Every entry has a line number (1, 2, ... in the order entries and lines
 * came); errors are reported with it through opts.on_error.
 *
 * Duplicates: entries sort by (key, line number), so among entries with the
 * same key the last one is written ("last wins"), across runs too, since runs
 * are written in order; the others count as superseded.
 *
 * Bounded memory (opts.spill_dir set): a run that fills opts.memory before
 * the input ends is sorted and spilled to a temporary file there (deleted
 * as soon as it is made, so nothing is left behind), and so is the last
 * run; bulkload_finish() then merges the files (k-way, by key then line)
 * into one pass of ordered appends. Without spill_dir, each full run is
 * written to the store as it fills (runs after the first insert between
 * keys already written, slower).
 *
 * Key ranges (opts.key set, bulkload_read_fd() of a regular file whose
 * entries would not fit in one run): rather than spilling, the loader
 * samples lines spread over the file to choose key ranges whose entries fit
 * in opts.memory, then reads the file once per range: each pass takes every
 * line's key with opts.key, parses only the lines of its range, sorts them
 * and appends them. The ranges ascend, so the load is still one ordered pass
 * of appends (resumable as below); nothing is written but the store. A range
 * that turns out bigger than the memory is spilled and merged as above.
 * Each bad line is reported once (line numbers are the file's).
 *
 * Resuming (opts.resume_id set): every write transaction also records
 * BULKLOAD_RESUME_META = resume_id, NUL, be32 resume_now, the last key
 * written. A load is one pass in key order (one run, or spilled runs
 * merged), so after an interruption the same load (same resume_id) skips
 * every key up to that one: nothing committed is written again. A finished
 * load clears the value. bulkload_resume_point() reads it back.
 *
 * The search index (index.h): a load into a store whose index is on makes
 * the entries of each record it writes, sorts them like the records (in
 * what opts.memory leaves beside the records' run being written, at least
 * a quarter of it; runs spilled to spill_dir and merged) and writes
 * them in key order at the end; see bulkload.c's ix_begin for when it
 * rebuilds the index instead, or keeps it current put by put.
 *
 * Ownership: bulkload_new() borrows the store (it must outlive the loader);
 * bulkload_free() frees the loader. What was committed stays in the store
 * whatever happens later; everything is durable when bulkload_finish()
 * returns IDN_OK. A loader is used by one thread (it starts its own helpers).
 */
#ifndef IDN_STORE_BULKLOAD_H
#define IDN_STORE_BULKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "store/store.h"

enum {
	BULKLOAD_MSG_MAX = 512,            /* a message given to on_error, NUL included */
	BULKLOAD_SKIP = 1,                 /* opts.parse: the line holds nothing (blank) */
	BULKLOAD_LINE_MAX = STORE_VAL_MAX, /* a longer line is an error */
	BULKLOAD_INDEX_KEEP_MAX = 50000,   /* bulkload_opts.index_keep_max's default */
};

typedef struct bulkload bulkload;

typedef struct bulkload_stats {
	uint64_t lines;         /* lines and entries seen, blank lines included */
	uint64_t loaded;        /* identifiers written */
	uint64_t errors;        /* lines refused (each reported to on_error) */
	uint64_t superseded;    /* entries not written: a later one has the same key */
	uint64_t resumed;       /* entries skipped: an interrupted run of this load wrote them */
	uint64_t bytes;         /* input bytes parsed (bulkload_read_fd) */
	uint64_t spilled;       /* entries written to spill files (merged at finish) */
	uint64_t runs;          /* spill files */
	uint64_t index_ms;      /* milliseconds spent on the search index at the end */
	uint64_t index_entries; /* search index entries written in key order (no rebuild) */
	bool indexing;          /* the rebuild is running */
	uint32_t passes;        /* key ranges read in passes over a file (0, 1: one pass) */
	uint32_t pass;          /* the pass being read (0 ..) */
	uint64_t pass_bytes;    /* input bytes this pass has gone through */
	bool lines_recorded;    /* passes: each line's range recorded in the first pass */
	uint64_t commits;       /* write transactions committed */
	uint64_t lazy_commits;  /* of them, not waited for on the disk (opts.boot_id) */
	bool overlapped;        /* passes: each pass parsed while the one before was written */
} bulkload_stats;

/* The store meta value of a resumable load (see above). */
#define BULKLOAD_RESUME_META "bulkload.resume"
/*
 * The store meta value of a load into an empty store whose commits are not
 * waited for on the disk (opts.boot_id): the boot id, set in its first
 * commit (durable) and cleared by its last (which makes all durable).
 */
#define BULKLOAD_LAZY_META "bulkload.lazy"
enum { BULKLOAD_BOOT_ID_MAX = 64 };
enum { BULKLOAD_RESUME_ID_MAX = 256 };

/* Returns memory for len bytes, or NULL when there is none. */
typedef void *(*bulkload_alloc_fn)(void *arg, size_t len);

/*
 * Parses one line (without its newline) with the parser state `parser`.
 * Returns IDN_OK after calling alloc(alloc_arg, n) once and writing the
 * storage key (*key_len bytes, no NUL byte) then the record (*record_len
 * bytes) at its start; BULKLOAD_SKIP for a line with nothing to store;
 * IDN_EINVAL with *why set (valid until the next call on parser); or
 * IDN_ENOMEM.
 */
typedef int (*bulkload_parse_fn)(void *parser, const uint8_t *line, size_t len,
                                 bulkload_alloc_fn alloc, void *alloc_arg, size_t *key_len,
                                 size_t *record_len, const char **why);

/*
 * The storage key of one line, cheaply (without parsing the rest): writes
 * it into key (HANDLE_KEY_MAX bytes) and returns its length, which must be
 * that of the key opts.parse makes of the line; 0 when only opts.parse can
 * tell (the line is then parsed in every pass).
 */
typedef size_t (*bulkload_key_fn)(void *parser, const uint8_t *line, size_t len, uint8_t *key);

typedef struct bulkload_opts {
	bool no_overwrite; /* keep keys already in the store: their lines are errors */
	/* Passes over a file (index off): parse pass k+1 while pass k is
	 * written, each with half the memory, so about twice the passes. */
	bool overlap;
	/* Bytes for one run (arenas and index; the records' run at most three
	 * quarters of it, the search index's entries the rest, and all of it
	 * while spilled runs are merged); 0: a quarter of the RAM,
	 * within 256 MiB .. 16 GiB. A bigger load is written in several runs;
	 * runs after the first are slower to write. */
	uint64_t memory;
	/* For bulkload_lines() and bulkload_read_fd(): the parser, and one
	 * parser state per thread (parser[0] and parser[1] run at once). */
	bulkload_parse_fn parse;
	void *parser[2];
	/* Optional, for a regular file whose entries do not fit in one run: the
	 * load reads it in passes, one key range each (see below). */
	bulkload_key_fn key;
	/*
	 * A refused line: code IDN_EINVAL (msg says what is wrong with it) or
	 * IDN_EEXIST (no_overwrite and the key is in the store; msg is "handle:
	 * KEY is already in the store"). Called on the loader's thread.
	 */
	void (*on_error)(void *arg, uint64_t line, int code, const char *msg);
	/*
	 * The search index (index.h): a run of fewer entries than this, or
	 * under a quarter of the records already stored, keeps the index
	 * current as it is written; a bigger one leaves it to one rebuild at
	 * bulkload_finish. 0: BULKLOAD_INDEX_KEEP_MAX.
	 */
	uint64_t index_keep_max;
	/* A directory for spill files (see above); NULL: runs are written as they fill. */
	const char *spill_dir;
	/* Resumable load (see above): what identifies it (NUL-terminated, at
	 * most BULKLOAD_RESUME_ID_MAX bytes), and a number kept with it. */
	const char *resume_id;
	uint32_t resume_now;
	/*
	 * The machine's boot id (NUL-terminated, at most BULKLOAD_BOOT_ID_MAX
	 * bytes; NULL: none). With it, a load into an LMDB store holding no
	 * identifiers commits without waiting for the disk (STORE_LAZY) and
	 * makes everything durable in its last commit: a kill loses nothing,
	 * but a power loss during the load can damage the store. The first
	 * commit records the boot id (BULKLOAD_LAZY_META); a later load that
	 * finds another boot's id refuses the store, IDN_ESTORE: it must be
	 * deleted and loaded again.
	 */
	const char *boot_id;
	/* Record bytes per write transaction (0: the default, 64 MiB). */
	uint64_t txn_bytes;
	/* Now and then during the load (NULL: none), on the loader's thread. */
	void (*on_progress)(void *arg, const bulkload_stats *stats);
	void *arg;
} bulkload_opts;

/*
 * IDN_ESTORE when s was being loaded with lazy commits (opts.boot_id) by a
 * load that did not finish before the machine restarted (its mark holds
 * another boot id than boot_id): the store may be damaged. IDN_OK, or a
 * store error.
 */
int bulkload_lazy_check(store *s, const char *boot_id);

/*
 * The machine's boot id (a new one at each boot, Linux), for opts.boot_id
 * and bulkload_lazy_check; "" when unknown (a load then waits for each
 * commit).
 */
void bulkload_boot_id(char *buf, size_t cap);

/* A loader writing into s; opts is copied. IDN_OK, or IDN_ENOMEM. */
int bulkload_new(store *s, const bulkload_opts *opts, bulkload **out);
void bulkload_free(bulkload *b);

/*
 * One entry: key (1 .. STORE_KEY_MAX bytes, no NUL byte) and record (up to
 * STORE_VAL_MAX bytes), both copied; its line number is the next one. May
 * write a full run. IDN_OK, IDN_EINVAL (a bad key or record, nothing added),
 * or a store error that stopped the load.
 */
int bulkload_add(bulkload *b, idn_slice key, idn_slice record);

/*
 * Whole lines buf[0 .. len) (the last one may lack its newline), parsed by
 * opts.parse; line numbers go on from the lines and entries before. May
 * write full runs. IDN_OK (lines refused went to on_error), IDN_EINVAL
 * without opts.parse, or an error that stopped the load.
 */
int bulkload_lines(bulkload *b, const uint8_t *buf, size_t len);

/*
 * Lines from fd to its end (a regular file is mapped, anything else read in
 * big chunks; a leading UTF-8 byte order mark is skipped), as
 * bulkload_lines(). IDN_EIO when reading failed: bulkload_errno() says why.
 */
int bulkload_read_fd(bulkload *b, int fd);

/* Writes what is left; IDN_OK: everything loaded is durable. */
int bulkload_finish(bulkload *b);

/*
 * The resume point of an interrupted load with this resume_id: IDN_OK and
 * *now (its resume_now) and *key_len (the length of the last key written)
 * when there is one; IDN_ENOTFOUND when there is none (or another load's).
 */
int bulkload_resume_point(store *s, const char *resume_id, uint32_t *now, size_t *key_len);

/* The counts so far; the pointer lives as long as b. */
const bulkload_stats *bulkload_stats_of(const bulkload *b);

/* The errno of the read that made bulkload_read_fd() fail with IDN_EIO. */
int bulkload_errno(const bulkload *b);

/* The errno of the spill file operation that made a load fail with IDN_EIO
 * (0: it was not a spill file). */
int bulkload_spill_errno(const bulkload *b);

#endif
