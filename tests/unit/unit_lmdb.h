/*
 * unit_lmdb.h - a record written straight into an LMDB store's "handles"
 * with raw LMDB, behind the store's back (as a writer that does not keep
 * its meta: an older idnode, another tool). The store must be closed.
 * Test code only (cmocka asserts).
 */
#ifndef IDN_TESTS_UNIT_LMDB_H
#define IDN_TESTS_UNIT_LMDB_H

#include <lmdb.h>

static inline void raw_put(const char *dir, const void *k, size_t klen, const void *v, size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val mk = {klen, (void *)k}, mv = {vlen, (void *)v};

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 256u << 20), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "handles", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &mk, &mv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

#endif
