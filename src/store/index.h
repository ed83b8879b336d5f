/*
 * index.h - the search index: which values of a record are searchable, the
 * entries they make in the store's STORE_TAB_INDEX table, and the index's
 * state (on, off, stale) per store. docs/search.md says why.
 *
 * An entry is one searchable value of one identifier:
 *
 *   key   = fold(type) 0x00 data[0 .. INDEX_DATA_MAX) 0x00 identifier key
 *   value = be32 value index | u8 permissions (PROTO_PERM_*) | u8 flags
 *
 * fold() lower-cases ASCII letters. A value is searchable when its type is
 * 1 .. INDEX_TYPE_MAX bytes without a NUL and not one of the binary or
 * administrative types (index_type_searchable), and its data is 1 or more
 * bytes of valid UTF-8 without a NUL. Data longer than INDEX_DATA_MAX is
 * indexed by its first INDEX_DATA_MAX bytes (flag INDEX_F_TRUNC): a query
 * checks such an entry against the record. Identifiers whose key is longer
 * than INDEX_ID_MAX bytes are not indexed.
 *
 * Upkeep: store_put() and store_del() (store.h) keep the entries current in
 * the same transaction as the write, nested transactions included (an
 * aborted child takes its entries with it). In a STORE_NOLOG transaction
 * (bulk load, restore) they do not, unless it asked (store_index_keep): the
 * first write marks the index stale in that transaction; the bulk loader
 * makes the entries itself (index_ents_make) and writes them in key order
 * at the end (store_index_mark ON), or rebuilds the index once
 * (store_index_refresh), as a crash in the middle leaves it for `idnode
 * index rebuild`. Searches refuse a stale index.
 */
#ifndef IDN_STORE_INDEX_H
#define IDN_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "store/store.h"

enum {
	INDEX_TYPE_MAX = 64,
	INDEX_DATA_MAX = 160,
	INDEX_ID_MAX = STORE_TAB_KEY_MAX - INDEX_TYPE_MAX - INDEX_DATA_MAX - 2, /* 254 */
	INDEX_VAL_LEN = 6,
	INDEX_F_TRUNC = 1, /* the key holds only the first INDEX_DATA_MAX bytes of the data */
};

enum index_state {
	INDEX_OFF = 0,
	INDEX_ON = 1,
	INDEX_STALE = 2, /* on, but behind the records: rebuild before searching */
};

/*
 * In a STORE_NOLOG transaction: keep the index current on each put and del
 * instead of leaving it stale, for bulk writes too small to be worth a
 * rebuild of the whole index (bulkload.h's index_keep_max).
 */
enum { STORE_IX_KEEP = 16 };
static inline void store_index_keep(store_txn *t)
{
	t->ix |= STORE_IX_KEEP;
}

/* The meta value (store_meta_*) holding the state: "on", "off" or "stale". */
#define INDEX_META "index"

/*
 * The state as transaction t sees it. A store that never had one is ON when
 * it holds no record yet (a new store), else OFF.
 */
int store_index_state(store_txn *t, enum index_state *st);

/*
 * Sets the state in write transaction t. ON builds the entries of every
 * record (after removing any there), OFF removes them all; STALE only marks.
 */
int store_index_set(store_txn *t, enum index_state st);

/*
 * store_index_set in its own write transaction (only if the index is stale,
 * with only_stale), tried again when the store was too small for it (LMDB
 * grows its map at the next begin).
 */
int store_index_apply(store *s, enum index_state st, bool only_stale);
/* store_index_apply(s, INDEX_ON, true): rebuilds the index if it is stale. */
int store_index_refresh(store *s);

/*
 * For a bulk load that makes the entries itself (bulkload.c), in key order,
 * instead of a rebuild that reads every record back: it marks the index ON
 * when they are all written (store_index_mark).
 */
typedef struct index_ents index_ents; /* a buffer of one record's entries */
index_ents *index_ents_new(void);     /* NULL: no memory */
void index_ents_free(index_ents *es);
/*
 * The entries record rec of identifier id makes, exactly as a rebuild makes
 * them (sorted by key, equal keys merged): *n of them, read with
 * index_ents_at (valid until the next make). IDN_OK or IDN_ENOMEM.
 */
int index_ents_make(index_ents *es, idn_slice id, idn_slice rec, size_t *n);
void index_ents_at(const index_ents *es, size_t i, idn_slice *key, idn_slice *val);
/* Removes from t's index the entries record rec of id makes (es: scratch). */
int store_index_unmake(store_txn *t, index_ents *es, idn_slice id, idn_slice rec);
/* Writes the state only, in write transaction t. */
int store_index_mark(store_txn *t, enum index_state st);

/* Whether values of this type are searchable (by type only). */
bool index_type_searchable(idn_slice type);
/* Whether data is indexable: non-empty valid UTF-8 without NUL. */
bool index_data_ok(idn_slice data);
/* type, ASCII lower-cased, into out (INDEX_TYPE_MAX bytes): its length, or -1. */
int index_fold_type(idn_slice type, uint8_t *out);

/* The parts of an index key (borrowed from it): IDN_OK or IDN_ESTORE. */
int index_key_split(idn_slice key, idn_slice *type, idn_slice *data, idn_slice *id);

/*
 * Compares the index with the one the records make (for tests and `idnode
 * index verify`): *missing entries the records make that the index lacks
 * (or holds with another value), *extra entries it holds that they do not make.
 */
int store_index_check(store_txn *t, uint64_t *missing, uint64_t *extra);

/* For store.h's store_put / store_del: the write and its index upkeep. */
int store_index_put(store_txn *t, idn_slice key, idn_slice val, unsigned flags);
int store_index_del(store_txn *t, idn_slice key);

#endif
