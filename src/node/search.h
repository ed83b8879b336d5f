/*
 * search.h - finding identifiers by their values through the store's search
 * index (store/index.h): the query's terms, and its run as a caller, who
 * sees only what it may read. docs/search.md describes the query language.
 *
 * Terms (all must hold, AND):
 *   type=value     a value of that type equal to value
 *   type=head*     a value of that type starting with head
 *   type=*         any value of that type
 *   type>=date     a value of that type >= date (YYYY-MM-DD), and type<=date;
 *                  both on one type make one range
 * Types compare ignoring ASCII case, values exactly (bytes). A '*' anywhere
 * but at the end (a leading wildcard, a substring) is refused.
 *
 * Results are store keys of identifiers, in key order, paged: a page holds
 * up to `limit` identifiers after `cursor` (the last identifier of the page
 * before), so a page is stable under concurrent writes (an identifier added
 * before the cursor is not seen, none is seen twice).
 */
#ifndef IDN_NODE_SEARCH_H
#define IDN_NODE_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "node/node.h"
#include "store/index.h"

enum {
	SEARCH_TERMS_MAX = 8,
	SEARCH_LIMIT_DEFAULT = 100,
	SEARCH_LIMIT_MAX = 10000,     /* identifiers per page */
	SEARCH_SCAN_DEFAULT = 100000, /* index entries a search visits at most */
	SEARCH_WHY_MAX = 200,
};

enum search_op { SEARCH_EXACT, SEARCH_PREFIX, SEARCH_ANY, SEARCH_RANGE };

typedef struct search_term {
	enum search_op op;
	uint8_t type[INDEX_TYPE_MAX]; /* folded (index_fold_type) */
	size_t type_len;
	idn_slice value;  /* EXACT, PREFIX: borrowed from the text parsed */
	idn_slice lo, hi; /* RANGE: empty = open */
} search_term;

typedef struct search_query {
	search_term terms[SEARCH_TERMS_MAX];
	size_t nterms;
	uint8_t prefix[HANDLE_KEY_MAX]; /* "88.100.1/" normalised; empty: anywhere */
	size_t prefix_len;
	uint32_t limit;               /* 1 .. SEARCH_LIMIT_MAX */
	uint64_t skip;                /* matches skipped before the page (offset paging) */
	uint8_t cursor[INDEX_ID_MAX]; /* results start after this identifier key */
	size_t cursor_len;
} search_query;

/* An empty query: no terms, limit SEARCH_LIMIT_DEFAULT. */
void search_query_init(search_query *q);

/*
 * Adds the term text (borrowed: it must live as long as q). IDN_EINVAL with
 * why (SEARCH_WHY_MAX bytes) saying what is wrong with it.
 */
int search_add_term(search_query *q, idn_slice text, char *why);
/* As search_add_term, the type and the value given apart (?URL=value). */
int search_add_pair(search_query *q, idn_slice type, idn_slice value, char *why);
/* Restricts the search to identifiers under prefix ("88.100.1"). */
int search_set_prefix(search_query *q, idn_slice prefix, char *why);

/* One identifier found (its store key); non-zero stops the search. */
typedef int (*search_hit_fn)(void *arg, idn_slice id);

typedef struct search_page {
	uint64_t found; /* identifiers given to hit */
	bool more;      /* there may be more: ask again with cursor = next */
	uint8_t next[INDEX_ID_MAX];
	size_t next_len;
} search_page;

/* node_search's answers besides IDN_OK and store errors */
enum {
	SEARCH_OFF = 1,       /* the store's index is off */
	SEARCH_STALE = 2,     /* the index is being rebuilt */
	SEARCH_TOO_BROAD = 3, /* a term matches more entries than the scan bound */
};

/*
 * Runs q on w's read snapshot as the identity id_handle:id_index (empty
 * handle: anonymous): an identifier matches when every term matches a value
 * the caller may read (public-read; or admin-read and the caller holds the
 * read right through the HS_ADMIN of the identifier or of its prefix, or is
 * a node-wide admin). scan_max bounds the index entries visited (0:
 * SEARCH_SCAN_DEFAULT). IDN_ENOTSUP when the node has no store.
 */
int node_search(node_worker *w, idn_slice id_handle, uint32_t id_index, const search_query *q,
                uint32_t scan_max, search_hit_fn hit, void *arg, search_page *pg);

#endif
