/*
 * index_assert.h - the test assertion that a store's search index equals the
 * one its records make (store/index.h: store_index_check), for the store
 * suite and the replication tests.
 */
#ifndef IDN_TESTS_INDEX_ASSERT_H
#define IDN_TESTS_INDEX_ASSERT_H

#include "store/index.h"
#include "store/store.h"

static inline void index_assert_consistent(store *s)
{
	store_txn *t;
	uint64_t missing, extra;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_index_check(t, &missing, &extra), IDN_OK);
	store_txn_abort(t);
	assert_int_equal(missing, 0);
	assert_int_equal(extra, 0);
}

#endif
