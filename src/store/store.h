/*
 * store.h - the storage interface: identifiers to their values, and the
 * prefixes homed on this node.
 *
 * The store keeps opaque records; what a record holds (the identifier's values
 * in wire encoding) is defined in proto/record.h. Keys are the
 * normalised identifier bytes, up to STORE_KEY_MAX bytes; a backend whose
 * native key limit is lower (LMDB: 511) handles longer keys itself.
 *
 * Backends are a table of function pointers (struct store_ops), so a
 * PostgreSQL backend plugs in beside LMDB and every backend passes the same
 * test suite (tests/unit/store_suite.h, run by test_store.c on LMDB and by
 * test_store_pg.c on PostgreSQL).
 *
 * Transactions: a read transaction sees one consistent snapshot; pointers it
 * returns live until the transaction ends (or is reset). Only one write
 * transaction runs at a time per store; it is durable once commit returns 0.
 * A read transaction belongs to one thread. Hot paths keep one read
 * transaction per thread and call store_txn_reset()/store_txn_renew() around
 * each batch instead of begin/abort.
 *
 * Transaction log: every write transaction that changes something gets the
 * next sequence number (1, 2, ...) at its first change, and each change (put,
 * del, home, unhome) is appended to the log as change n = 0, 1, ... of that
 * sequence, inside the same commit, so the log and the data never disagree.
 * Sequence order is commit order (one writer at a time). The log is pruned
 * at commit, whole transactions from the oldest, while it is older than
 * log_max_age or larger than log_max_bytes; a transaction whose own changes
 * exceed log_max_bytes empties the log (its changes are not kept), so a
 * reader behind it must copy the whole store again. store_log_read() from a
 * pruned position is IDN_ERANGE. Changes made to a PostgreSQL database by
 * another program than idnode are not logged. Meta values (store_meta_*)
 * are small named values kept beside the data and not logged: replication
 * keeps its position there, in the same commit as the changes it applied.
 */
#ifndef IDN_STORE_STORE_H
#define IDN_STORE_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/wire.h"
#include "proto/handle.h"

enum {
	STORE_KEY_MAX = HANDLE_KEY_MAX,
	STORE_VAL_MAX = 64 * 1024 * 1024,
};

/* store_txn_begin flags */
enum {
	STORE_RDONLY = 1,
	/*
	 * A write txn whose changes are not logged (bulk load, restore): at
	 * commit the log is emptied and restarts after it, as for a transaction
	 * over log_max_bytes, so mirrors copy the store again instead of
	 * reading a log that misses changes.
	 */
	STORE_NOLOG = 2,
	/*
	 * A write txn whose commit is not waited for on the disk (LMDB's
	 * MDB_NOSYNC): it reaches the OS, so it survives the process being
	 * killed, but not a power loss, which can even damage what was durable
	 * before it. The next commit without the flag makes it durable. For
	 * loads into an empty store only (bulkload.c); ignored by PostgreSQL.
	 */
	STORE_LAZY = 4,
};

/* What a backend can do beyond the required ops (store_ops.caps). */
enum {
	/*
	 * STORE_LAZY is honoured: a commit can skip waiting for the disk, so
	 * a bulk load into an empty store marks it and commits lazily.
	 */
	STORE_CAP_LAZY = 1,
	/*
	 * A point read amid a write txn's puts is cheap (PostgreSQL's is not:
	 * it flushes the COPY stream), so a bulk load merging into a
	 * non-empty store can emit index entries as it goes.
	 */
	STORE_CAP_READ_AMID_PUTS = 2,
};

/* store_put flags */
enum {
	STORE_NOOVERWRITE = 1, /* IDN_EEXIST if the key exists */
	STORE_APPEND = 2,      /* hint: keys arrive in ascending order */
};

/*
 * The warm-up at open (LMDB; other backends ignore it), in a background
 * thread, so serving starts at once; it stops when the store closes, and
 * says on stderr when it starts and ends ("store: warm-up (MODE) done: N
 * branch pages in T s, M MB read in T s"). TREE: the identifiers' B-tree
 * above its leaves (after it, an uncached lookup costs one read); FILE: the
 * data file from its start, up to the memory available (MemAvailable less an
 * eighth of the RAM); ALL: both,
 * the tree first.
 *
 * huge_map (LMDB): a FILE or ALL warm-up that is not paced, when the
 * whole data file fits in the memory it may fill and the page cache holds it
 * mostly in small pieces (after a load, which writes 4 KiB pages), reads it
 * again through a map asking for huge pages, dropping each 2 MiB piece's
 * clean, unmapped pages just before (POSIX_FADV_DONTNEED), so the kernel
 * caches and maps the file
 * in 2 MiB pages: a random lookup then costs fewer TLB misses. Dirty pages
 * stay; it says on stderr what it did ("store: huge map: ...").
 */
enum store_warm { STORE_WARM_NONE, STORE_WARM_ALL, STORE_WARM_TREE, STORE_WARM_FILE };

typedef struct store_opts {
	uint64_t map_size;      /* initial map size in bytes, 0 = default */
	unsigned max_readers;   /* 0 = default (126) */
	int no_sync;            /* 1: skip fsync on commit (bulk loads, tests only) */
	int warm;               /* enum store_warm: read the data into the page cache (servers) */
	unsigned warm_rate;     /* the warm-up's pace in MB/s, 0 = as fast as the disk */
	int huge_map;           /* 1: the map in 2 MiB pages where the kernel can (LMDB, below) */
	uint64_t log_max_bytes; /* transaction log bound, 0 = STORE_LOG_MAX_BYTES */
	uint64_t log_max_age;   /* seconds, 0 = STORE_LOG_MAX_AGE */
	/*
	 * PostgreSQL only (NULL: none): read-only transactions run on this
	 * location instead, e.g. a streaming replica, while writes go to the
	 * primary. A replica lags: a read may miss a write just committed.
	 */
	const char *read_location;
	/*
	 * 1: open only a store that exists (LMDB: the directory holds a data
	 * file; PostgreSQL: the database holds idnode's tables), IDN_ENOTFOUND
	 * otherwise, making nothing: for commands that read one (dump, verify),
	 * where a mistyped path must not make an empty store.
	 */
	int must_exist;
	/*
	 * LMDB only: the bound in bytes of the lookup cache all renewed read
	 * txns share (store/lcache.h), which answers a key asked again while
	 * the records have not changed without the B-tree descent; 0 = none.
	 */
	size_t lookup_cache;
} store_opts;

#define STORE_LOG_MAX_BYTES ((uint64_t)64 << 20)
#define STORE_LOG_MAX_AGE   ((uint64_t)7 * 86400)

/* Kinds of logged change. */
enum store_log_op {
	STORE_LOG_PUT = 1,     /* key = identifier, val = its new record */
	STORE_LOG_DEL = 2,     /* key = identifier */
	STORE_LOG_HOME = 3,    /* key = prefix */
	STORE_LOG_UNHOME = 4,  /* key = prefix */
	STORE_LOG_TAB_PUT = 5, /* key = table byte | key, val = the new value */
	STORE_LOG_TAB_DEL = 6, /* key = table byte | key */
};

/*
 * Tables: small ordered key spaces beside the records, for what a node keeps
 * about its own business (accounts, the audit log, statistics) and for what
 * it derives from the records (the search index). Keys are bytes, up to
 * STORE_TAB_KEY_MAX, in bytewise order; values up to STORE_TAB_VAL_MAX.
 * Changes to tables below STORE_TAB_UNLOGGED are logged (STORE_LOG_TAB_*), so
 * mirrors replicate them; the others are not: a mirror derives the index from
 * the records it applies, and statistics are each node's own.
 */
enum store_tab {
	STORE_TAB_ACCOUNT = 1, /* management accounts, applications, token keys */
	STORE_TAB_AUDIT = 2,   /* the audit log */
	STORE_TAB_UNLOGGED = 16,
	STORE_TAB_INDEX = 16, /* the search index */
	STORE_TAB_STATS = 17, /* statistics counters */
	STORE_TAB_MAX = 31,
};

enum {
	STORE_TAB_KEY_MAX = 480,
	STORE_TAB_VAL_MAX = 1024 * 1024,
};

/* One logged change; key and val are borrowed for the callback only. */
typedef struct store_change {
	uint64_t seq;     /* the write transaction's sequence number */
	uint32_t n;       /* the change's place in its transaction, from 0 */
	uint64_t time_ms; /* wall clock (ms since the epoch) of the transaction */
	int op;           /* enum store_log_op */
	idn_slice key;
	idn_slice val; /* empty unless STORE_LOG_PUT */
} store_change;

/* Called per change by store_log_read; non-zero stops (that value is returned). */
typedef int (*store_log_cb)(void *arg, const store_change *c);

typedef struct store store;
typedef struct store_txn store_txn;

/*
 * The generation of a store's records (store_handles_gen): changed, the
 * last commit that changed one; others, how many commits came from writers
 * that do not keep `changed` (raw LMDB, an older idnode).
 */
typedef struct store_gen {
	uint64_t changed, others;
} store_gen;

/* Called per record by store_scan; return non-zero to stop (that value is returned). */
typedef int (*store_scan_cb)(void *arg, idn_slice key, idn_slice val);

struct store_ops {
	const char *name;
	unsigned caps; /* STORE_CAP_* */
	int (*open)(const char *location, const store_opts *opts, store **out);
	void (*close)(store *s);

	int (*txn_begin)(store *s, unsigned flags, store_txn **out);
	int (*txn_commit)(store_txn *t); /* frees t, even on error */
	void (*txn_abort)(store_txn *t); /* frees t */
	void (*txn_reset)(store_txn *t); /* read-only: release the snapshot, keep t */
	int (*txn_renew)(store_txn *t);  /* read-only: take a fresh snapshot */

	/* IDN_ENOTFOUND if absent; *val borrowed until the transaction ends. */
	int (*get)(store_txn *t, idn_slice key, idn_slice *val);
	/*
	 * Optional (NULL: nothing): a hint that get(key) comes soon, in two
	 * steps (lcache.h): with hint 0, the first, returning the hint for the
	 * second (0: none); with that hint, the second (key unused), returning
	 * 0. No snapshot needed, nothing read that could fault.
	 */
	uint64_t (*prefetch)(store *s, idn_slice key, uint64_t hint);
	int (*put)(store_txn *t, idn_slice key, idn_slice val, unsigned flags);
	/* IDN_ENOTFOUND if absent. */
	int (*del)(store_txn *t, idn_slice key);
	/*
	 * Visits keys starting with prefix (all if empty), in key order (bytewise,
	 * a prefix before its extensions). key and val are valid during the
	 * callback only.
	 */
	int (*scan)(store_txn *t, idn_slice prefix, store_scan_cb cb, void *arg);

	/* Homed prefixes (normalised, e.g. "88.100"). */
	int (*home)(store_txn *t, idn_slice prefix);
	int (*unhome)(store_txn *t, idn_slice prefix);   /* IDN_ENOTFOUND if not homed */
	int (*is_homed)(store_txn *t, idn_slice prefix); /* 1 yes, 0 no, <0 error */
	int (*list_homed)(store_txn *t, store_scan_cb cb, void *arg); /* key = prefix */

	/* Number of records, for stats. */
	int (*count)(store_txn *t, uint64_t *n);

	/*
	 * The log as this transaction sees it: last = the newest sequence
	 * number (0 if none yet), oldest = the first one still readable
	 * (last + 1 when the log is empty).
	 */
	int (*log_state)(store_txn *t, uint64_t *last, uint64_t *oldest);
	/*
	 * Visits the changes of transactions from..last in order, at most
	 * max_txns transactions (0 = no bound). IDN_ERANGE if from < oldest
	 * (pruned) or from > last + 1 (a log this store never had).
	 */
	int (*log_read)(store_txn *t, uint64_t from, uint64_t max_txns, store_log_cb cb, void *arg);
	/* Named values (name up to 64 bytes); IDN_ENOTFOUND if absent, *val as get's. */
	int (*meta_get)(store_txn *t, const char *name, idn_slice *val);
	int (*meta_put)(store_txn *t, const char *name, idn_slice val);
	/*
	 * As scan, from the first key >= start (start empty: from the first
	 * key of the prefix). A paged reader resumes here at its last key, so
	 * a page costs what it visits, not a walk from the prefix's start.
	 */
	int (*scan_from)(store_txn *t, idn_slice prefix, idn_slice start, store_scan_cb cb,
	                 void *arg);
	/*
	 * Optional (NULL: IDN_ENOTSUP). A write txn nested in the write txn
	 * parent, on the parent's thread: it sees the parent's changes, and its
	 * own reach the parent when it commits (durable only when the parent
	 * commits) or vanish when it aborts, the parent unharmed. One child at
	 * a time; end it before the parent. Group commit runs each request in
	 * a child of one transaction per batch.
	 */
	int (*txn_nest)(store_txn *parent, store_txn **child);
	/*
	 * Optional (NULL: 0). The identity of a live read txn's snapshot, not
	 * 0: two snapshots of one store with the same identity see the same
	 * data (no write committed between them), so what was read in one holds
	 * in the other. 0: this store cannot say.
	 */
	uint64_t (*snapshot_id)(store_txn *t);
	/*
	 * Optional (NULL: IDN_ENOTSUP). The generation of the records the live
	 * read txn t sees: two snapshots of one store with equal generations
	 * hold the same records (no commit between them changed one, whoever
	 * wrote it), so what was counted in one holds in the other. A snapshot
	 * after a change never has the generation of one before it.
	 */
	int (*handles_gen)(store_txn *t, store_gen *out);

	/*
	 * Tables (enum store_tab). tab_get: IDN_ENOTFOUND if absent, *val as
	 * get's. tab_put: flags STORE_NOOVERWRITE (IDN_EEXIST if present).
	 * tab_del: IDN_ENOTFOUND if absent. tab_scan: keys starting with prefix,
	 * from the first >= start, in order; key and val valid during the
	 * callback only, which must not write to the table it scans.
	 */
	int (*tab_get)(store_txn *t, unsigned tab, idn_slice key, idn_slice *val);
	int (*tab_put)(store_txn *t, unsigned tab, idn_slice key, idn_slice val, unsigned flags);
	int (*tab_del)(store_txn *t, unsigned tab, idn_slice key);
	int (*tab_scan)(store_txn *t, unsigned tab, idn_slice prefix, idn_slice start,
	                store_scan_cb cb, void *arg);
};

struct store {
	const struct store_ops *ops;
	/*
	 * How many commits this process has made (store_txn_commit, counted
	 * after the store's commit returns, whatever it returned): a read
	 * snapshot taken when it read c sees every commit counted in c, so a
	 * reader that kept its snapshot knows it is still the newest of ours
	 * while the count has not moved (node_worker_read).
	 */
	_Atomic uint64_t commits;
};

struct store_txn {
	store *s;
	unsigned ix; /* the search index's upkeep in this txn (index.c), set by store_txn_begin */
};

/* The write and its search index upkeep (index.h). */
int store_index_put(store_txn *t, idn_slice key, idn_slice val, unsigned flags);
int store_index_del(store_txn *t, idn_slice key);
enum { STORE_IX_NOLOG = 1 };

/* The LMDB backend. location = a directory (created if missing, unless must_exist). */
extern const struct store_ops store_lmdb_ops;
/*
 * The PostgreSQL backend (pg.c says how). location = a libpq connection URI;
 * the reference software's tables (nas, handles) plus idn_records are created
 * if missing. opts: only no_sync applies.
 */
extern const struct store_ops store_pg_ops;

/*
 * Picks a backend by location ("postgresql://..." or a directory) and opens
 * it, then checks its on-disk format version, the meta value
 * STORE_FORMAT_META (kept as "u.store.format", as callers' meta values are:
 * LMDB's meta database; PostgreSQL's idn_meta table):
 * - absent (a store written before versions were kept, or a new one): the
 *   store is migrated from there and stamped STORE_FORMAT_VERSION;
 * - older: migrated, one version at a time, and stamped;
 * - newer, or unreadable: refused, IDN_EVERSION, after a line on stderr
 *   naming both versions ("upgrade idnode").
 */
int store_open(const char *location, const store_opts *opts, store **out);

/*
 * The format this idnode writes. Version 1: the layout of the first
 * release (handles, homed, txlog and meta; PostgreSQL's tables of pg.c).
 * A change a previous idnode cannot read bumps it and adds its migration
 * to store.c's table.
 */
enum { STORE_FORMAT_VERSION = 1 };
#define STORE_FORMAT_META "store.format" /* be64 */

static inline void store_close(store *s)
{
	if (s)
		s->ops->close(s);
}
static inline int store_txn_begin(store *s, unsigned flags, store_txn **out)
{
	int rc = s->ops->txn_begin(s, flags, out);
	if (rc == IDN_OK)
		(*out)->ix = (flags & STORE_NOLOG) ? STORE_IX_NOLOG : 0;
	return rc;
}
static inline int store_txn_commit(store_txn *t)
{
	store *s = t->s; /* t is gone after the commit */
	int rc = s->ops->txn_commit(t);
	atomic_fetch_add_explicit(&s->commits, 1, memory_order_release);
	return rc;
}
/* store.commits now. */
static inline uint64_t store_commits(store *s)
{
	return atomic_load_explicit(&s->commits, memory_order_acquire);
}
static inline void store_txn_abort(store_txn *t)
{
	t->s->ops->txn_abort(t);
}
static inline void store_txn_reset(store_txn *t)
{
	t->s->ops->txn_reset(t);
}
static inline int store_txn_renew(store_txn *t)
{
	return t->s->ops->txn_renew(t);
}
static inline int store_get(store_txn *t, idn_slice key, idn_slice *val)
{
	return t->s->ops->get(t, key, val);
}
static inline uint64_t store_prefetch(store *s, idn_slice key, uint64_t hint)
{
	return s->ops->prefetch ? s->ops->prefetch(s, key, hint) : 0;
}
/* put and del keep the search index current (index.h) */
static inline int store_put(store_txn *t, idn_slice key, idn_slice val, unsigned flags)
{
	return store_index_put(t, key, val, flags);
}
static inline int store_del(store_txn *t, idn_slice key)
{
	return store_index_del(t, key);
}
static inline int store_scan(store_txn *t, idn_slice prefix, store_scan_cb cb, void *arg)
{
	return t->s->ops->scan(t, prefix, cb, arg);
}
static inline int store_scan_from(store_txn *t, idn_slice prefix, idn_slice start, store_scan_cb cb,
                                  void *arg)
{
	return t->s->ops->scan_from(t, prefix, start, cb, arg);
}
static inline bool store_can(const store *s, unsigned cap)
{
	return (s->ops->caps & cap) == cap;
}
static inline bool store_can_nest(const store *s)
{
	return s->ops->txn_nest != NULL;
}
static inline uint64_t store_snapshot_id(store_txn *t)
{
	return t->s->ops->snapshot_id ? t->s->ops->snapshot_id(t) : 0;
}
static inline bool store_can_gen(const store *s)
{
	return s->ops->handles_gen != NULL;
}
static inline int store_handles_gen(store_txn *t, store_gen *out)
{
	return t->s->ops->handles_gen ? t->s->ops->handles_gen(t, out) : IDN_ENOTSUP;
}
static inline int store_txn_nest(store_txn *parent, store_txn **child)
{
	return parent->s->ops->txn_nest ? parent->s->ops->txn_nest(parent, child) : IDN_ENOTSUP;
}
static inline int store_home(store_txn *t, idn_slice prefix)
{
	return t->s->ops->home(t, prefix);
}
static inline int store_unhome(store_txn *t, idn_slice prefix)
{
	return t->s->ops->unhome(t, prefix);
}
static inline int store_is_homed(store_txn *t, idn_slice prefix)
{
	return t->s->ops->is_homed(t, prefix);
}
static inline int store_list_homed(store_txn *t, store_scan_cb cb, void *arg)
{
	return t->s->ops->list_homed(t, cb, arg);
}
static inline int store_count(store_txn *t, uint64_t *n)
{
	return t->s->ops->count(t, n);
}
static inline int store_log_state(store_txn *t, uint64_t *last, uint64_t *oldest)
{
	return t->s->ops->log_state(t, last, oldest);
}
static inline int store_log_read(store_txn *t, uint64_t from, uint64_t max_txns, store_log_cb cb,
                                 void *arg)
{
	return t->s->ops->log_read(t, from, max_txns, cb, arg);
}
static inline int store_meta_get(store_txn *t, const char *name, idn_slice *val)
{
	return t->s->ops->meta_get(t, name, val);
}
static inline int store_meta_put(store_txn *t, const char *name, idn_slice val)
{
	return t->s->ops->meta_put(t, name, val);
}

static inline int store_tab_get(store_txn *t, unsigned tab, idn_slice key, idn_slice *val)
{
	return t->s->ops->tab_get(t, tab, key, val);
}
static inline int store_tab_put(store_txn *t, unsigned tab, idn_slice key, idn_slice val,
                                unsigned flags)
{
	return t->s->ops->tab_put(t, tab, key, val, flags);
}
static inline int store_tab_del(store_txn *t, unsigned tab, idn_slice key)
{
	return t->s->ops->tab_del(t, tab, key);
}
static inline int store_tab_scan(store_txn *t, unsigned tab, idn_slice prefix, idn_slice start,
                                 store_scan_cb cb, void *arg)
{
	return t->s->ops->tab_scan(t, tab, prefix, start, cb, arg);
}

/*
 * Homes the prefixes given as text ("88.100.1", or "0.NA/88.100.1") in one
 * write transaction: all or none. IDN_EINVAL with *bad = i when prefixes[i]
 * is not a prefix; else IDN_OK or a store error.
 */
int store_home_prefixes(store *s, const char *const *prefixes, size_t n, size_t *bad);

/* ---- helpers shared by the backends (store.c) ---- */

enum { STORE_META_NAME_MAX = 64, STORE_LOG_KEY = 12 /* be64 seq | be32 n */ };

/* The wall clock in ms since the epoch. */
uint64_t store_now_ms(void);
void store_put_be64(uint8_t *p, uint64_t v);
uint64_t store_be64(const uint8_t *p);
/*
 * A table key as the backends keep it: the table's byte, then the key, in
 * buf (STORE_TAB_KEY_MAX + 1 bytes). IDN_EINVAL for a bad table, IDN_ERANGE
 * for a key too long.
 */
int store_tab_key(unsigned tab, idn_slice key, uint8_t *buf, idn_slice *out);
static inline bool store_tab_logged(unsigned tab)
{
	return tab < STORE_TAB_UNLOGGED;
}

#endif
