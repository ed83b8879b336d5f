/*
 * test_lcache.c - the lookup cache of LMDB read transactions
 * (store/lcache.h): on its own (keys compared in full, the bound, a new view
 * forgets), and in the store, where a worker's read txn keeps it across
 * reset and renew: a write, a delete or an insert committed between two
 * renewals is seen by the second, whoever made it (this store, a nested
 * txn, another process, a writer of raw LMDB).
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "store/lcache.h"
#include "store/store.h"

static idn_slice S(const char *s)
{
	return idn_slice_of(s, strlen(s));
}

/* ---- the cache on its own ---- */

/* One slot: every key lands in it, so a hit must compare the whole key. */
static void test_one_slot_compares_keys(void **state)
{
	(void)state;
	lcache *c = lcache_new(LCACHE_SLOT);
	idn_slice v;
	assert_non_null(c);
	assert_int_equal(lcache_bytes(c), LCACHE_SLOT);
	lcache_view(c, 7, 0, 0);
	lcache_put(c, S("88.100.1/a"), S("value a"));
	assert_int_equal(lcache_get(c, S("88.100.1/a"), &v), 1);
	assert_true(idn_slice_eq(v, S("value a")));
	/* same length, last byte differs; shorter; longer */
	assert_int_equal(lcache_get(c, S("88.100.1/b"), &v), 0);
	assert_int_equal(lcache_get(c, S("88.100.1/"), &v), 0);
	assert_int_equal(lcache_get(c, S("88.100.1/aa"), &v), 0);
	lcache_put(c, S("88.100.1/b"), S("value b"));
	assert_int_equal(lcache_get(c, S("88.100.1/a"), &v), 0); /* evicted, not confused */
	assert_int_equal(lcache_get(c, S("88.100.1/b"), &v), 1);
	assert_true(idn_slice_eq(v, S("value b")));
	/* a known absence is a hit with no value */
	lcache_put(c, S("88.100.1/none"), idn_slice_of(NULL, 0));
	v = S("x");
	assert_int_equal(lcache_get(c, S("88.100.1/none"), &v), 1);
	assert_null(v.p);
	lcache_free(c);
}

/* Many keys in a larger table: every hit is the key's own value. */
static void test_hits_are_exact(void **state)
{
	(void)state;
	lcache *c = lcache_new(64 * 1024);
	char k[32], want[32];
	static char vals[4096][32];
	idn_slice v;
	int hits = 0;
	assert_non_null(c);
	lcache_view(c, 1, 0, 0);
	for (int i = 0; i < 4096; i++) {
		snprintf(k, sizeof k, "88.100.1/%d", i);
		snprintf(vals[i], sizeof vals[i], "v%d", i);
		lcache_put(c, S(k), S(vals[i]));
	}
	for (int i = 0; i < 4096; i++) {
		snprintf(k, sizeof k, "88.100.1/%d", i);
		snprintf(want, sizeof want, "v%d", i);
		if (lcache_get(c, S(k), &v)) {
			assert_true(idn_slice_eq(v, S(want)));
			hits++;
		}
	}
	/* 1024 slots for 4096 keys: the last one put in each slot stays */
	assert_true(hits > 0 && hits <= 1024);
	lcache_free(c);
}

/* A key too long for a slot is not kept (and not confused with its head). */
static void test_long_key_not_kept(void **state)
{
	(void)state;
	char k[LCACHE_KEY_MAX + 2];
	idn_slice v;
	lcache *c = lcache_new(LCACHE_SLOT);
	assert_non_null(c);
	memset(k, 'x', sizeof k);
	lcache_view(c, 1, 0, 0);
	lcache_put(c, idn_slice_of(k, LCACHE_KEY_MAX + 1), S("long"));
	assert_int_equal(lcache_get(c, idn_slice_of(k, LCACHE_KEY_MAX + 1), &v), 0);
	lcache_put(c, idn_slice_of(k, LCACHE_KEY_MAX), S("max"));
	assert_int_equal(lcache_get(c, idn_slice_of(k, LCACHE_KEY_MAX), &v), 1);
	assert_int_equal(lcache_get(c, idn_slice_of(k, LCACHE_KEY_MAX + 1), &v), 0);
	lcache_free(c);
}

/* Another view forgets everything, also when it comes back to the first. */
static void test_view_change_forgets(void **state)
{
	(void)state;
	lcache *c = lcache_new(1 << 16);
	idn_slice v;
	assert_non_null(c);
	assert_int_equal(lcache_get(c, S("k"), &v), 0); /* no view yet: nothing */
	lcache_view(c, 5, 0, 0);
	lcache_put(c, S("k"), S("v5"));
	lcache_view(c, 5, 0, 0); /* the same view again (a renewal that saw no write) */
	assert_int_equal(lcache_get(c, S("k"), &v), 1);
	lcache_view(c, 6, 0, 0); /* a write committed */
	assert_int_equal(lcache_get(c, S("k"), &v), 0);
	lcache_put(c, S("k"), S("v6"));
	lcache_view(c, 6, 1, 0); /* the map moved */
	assert_int_equal(lcache_get(c, S("k"), &v), 0);
	lcache_view(c, 6, 0, 0); /* back: still forgotten */
	assert_int_equal(lcache_get(c, S("k"), &v), 0);
	lcache_free(c);
}

/* The table starts small, doubles with the working set, never past the bound. */
static void test_bound_holds(void **state)
{
	(void)state;
	char k[32];
	const size_t bound = 3u << 20; /* not a power of two: 2 MiB of slots at most */
	lcache *c = lcache_new(bound);
	assert_non_null(c);
	assert_int_equal(lcache_bytes(c), LCACHE_START_BYTES);
	lcache_view(c, 1, 0, 0);
	size_t most = 0;
	for (int i = 0; i < 300000; i++) {
		int n = snprintf(k, sizeof k, "88.100.1/%d", i);
		lcache_put(c, idn_slice_of(k, (size_t)n), S("v"));
		if (lcache_bytes(c) > most)
			most = lcache_bytes(c);
	}
	assert_int_equal(most, 2u << 20);
	lcache_free(c);

	/* a bound below the start: the bound from the start */
	c = lcache_new(256 * 1024);
	assert_non_null(c);
	assert_int_equal(lcache_bytes(c), 256 * 1024);
	lcache_view(c, 1, 0, 0);
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(k, sizeof k, "p/%d", i);
		lcache_put(c, idn_slice_of(k, (size_t)n), S("v"));
	}
	assert_int_equal(lcache_bytes(c), 256 * 1024);
	lcache_free(c);
}

/* ---- in the LMDB store, as a worker uses its read txn ---- */

struct fx {
	char dir[64];
	store *s;
	store_txn *r; /* the worker's read txn: begun, then reset and renewed */
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/idn_lcache_XXXXXX");
	store_opts o = {.no_sync = 1, .lookup_cache = 1u << 20};
	if (!mkdtemp(f->dir) || store_open(f->dir, &o, &f->s) ||
	    store_txn_begin(f->s, STORE_RDONLY, &f->r)) {
		free(f);
		return -1;
	}
	store_txn_reset(f->r);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	store_txn_abort(f->r);
	store_close(f->s);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void write1(store *s, const char *k, const char *v)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	if (v)
		assert_int_equal(store_put(t, S(k), S(v), 0), IDN_OK);
	else
		assert_int_equal(store_del(t, S(k)), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/* One request: renew, get k, reset; its answer (NULL: not found) compared to want. */
static void request(struct fx *f, const char *k, const char *want)
{
	idn_slice v = {0};
	assert_int_equal(store_txn_renew(f->r), IDN_OK);
	for (int i = 0; i < 2; i++) { /* the second from the cache */
		int rc = store_get(f->r, S(k), &v);
		assert_int_equal(rc, want ? IDN_OK : IDN_ENOTFOUND);
		if (want)
			assert_true(idn_slice_eq(v, S(want)));
	}
	store_txn_reset(f->r);
}

static void test_store_write_seen(void **state)
{
	struct fx *f = *state;
	write1(f->s, "88.100.1/x", "one");
	write1(f->s, "88.100.1/y", "why");
	request(f, "88.100.1/x", "one");
	request(f, "88.100.1/x", "one"); /* same snapshot */
	write1(f->s, "88.100.1/x", "two");
	request(f, "88.100.1/x", "two");
	/* a write to another key also makes a new view */
	request(f, "88.100.1/y", "why");
	write1(f->s, "88.100.1/z", "zed");
	write1(f->s, "88.100.1/x", "three, longer than before");
	request(f, "88.100.1/x", "three, longer than before");
	request(f, "88.100.1/y", "why");
}

static void test_store_delete_seen(void **state)
{
	struct fx *f = *state;
	write1(f->s, "88.100.1/d", "here");
	request(f, "88.100.1/d", "here");
	write1(f->s, "88.100.1/d", NULL);
	request(f, "88.100.1/d", NULL);
	/* a known absence, then an insert */
	request(f, "88.100.1/d", NULL);
	write1(f->s, "88.100.1/d", "back");
	request(f, "88.100.1/d", "back");
}

/* A write by another process on the same data is seen too. */
static void test_store_other_process_write_seen(void **state)
{
	struct fx *f = *state;
	write1(f->s, "88.100.1/o", "first");
	request(f, "88.100.1/o", "first");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) { /* a fresh environment in the child, as `idnode load` would */
		store *other = NULL;
		store_opts o = {.no_sync = 1};
		store_txn *t;
		int ok = store_open(f->dir, &o, &other) == IDN_OK &&
		         store_txn_begin(other, 0, &t) == IDN_OK &&
		         store_put(t, S("88.100.1/o"), S("second"), 0) == IDN_OK &&
		         store_txn_commit(t) == IDN_OK;
		_exit(ok ? 0 : 1);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	request(f, "88.100.1/o", "second");
}

/* A txn live while another writes keeps its snapshot; the next renewal sees the write. */
static void test_store_live_snapshot_kept(void **state)
{
	struct fx *f = *state;
	idn_slice v;
	write1(f->s, "88.100.1/l", "old");
	assert_int_equal(store_txn_renew(f->r), IDN_OK);
	assert_int_equal(store_get(f->r, S("88.100.1/l"), &v), IDN_OK);
	write1(f->s, "88.100.1/l", "new");
	assert_int_equal(store_get(f->r, S("88.100.1/l"), &v), IDN_OK);
	assert_true(idn_slice_eq(v, S("old")));
	store_txn_reset(f->r);
	request(f, "88.100.1/l", "new");
}

/*
 * A commit that leaves "handles" alone (a statistics flush) keeps the
 * cache's view; the next that changes it is seen all the same.
 */
static void test_store_table_write_keeps_view(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	write1(f->s, "88.100.1/s", "one");
	request(f, "88.100.1/s", "one");
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_tab_put(t, STORE_TAB_STATS, S("h-key"), S("7"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	request(f, "88.100.1/s", "one");
	request(f, "88.100.1/none", NULL);
	write1(f->s, "88.100.1/s", "two");
	write1(f->s, "88.100.1/none", "now here");
	request(f, "88.100.1/s", "two");
	request(f, "88.100.1/none", "now here");
}

/* A write in a nested txn (group commit) marks its parent's commit. */
static void test_store_nested_write_seen(void **state)
{
	struct fx *f = *state;
	store_txn *t, *c;
	write1(f->s, "88.100.1/n", "one");
	request(f, "88.100.1/n", "one");
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_txn_nest(t, &c), IDN_OK);
	assert_int_equal(store_put(c, S("88.100.1/n"), S("two"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(c), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	request(f, "88.100.1/n", "two");
	/* an aborted child, then a table write: still "two" */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_txn_nest(t, &c), IDN_OK);
	assert_int_equal(store_put(c, S("88.100.1/n"), S("three"), 0), IDN_OK);
	store_txn_abort(c);
	assert_int_equal(store_tab_put(t, STORE_TAB_STATS, S("k"), S("v"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	request(f, "88.100.1/n", "two");
}

/*
 * n commits of raw LMDB in a child process (a writer that does not keep
 * "handles.gen", as an idnode from before it), each setting 88.100.1/r:
 * the last to `last`, those before to "z".
 */
static void raw_writes(const char *dir, int n, const char *last)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		char val[32];
		MDB_val k = {10, (void *)"88.100.1/r"}, v;
		int ok = mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 8) == 0 &&
		         mdb_env_open(env, dir, MDB_NOTLS, 0640) == 0;
		for (int j = 0; ok && j < n; j++) {
			val[0] = 0; /* KIND_PLAIN */
			v = (MDB_val){1 + (size_t)snprintf(val + 1, sizeof val - 1, "%s",
			                                   j == n - 1 ? last : "z"),
			              val};
			ok = mdb_txn_begin(env, NULL, 0, &txn) == 0 &&
			     mdb_dbi_open(txn, "handles", 0, &dbi) == 0 &&
			     mdb_put(txn, dbi, &k, &v, 0) == 0 && mdb_txn_commit(txn) == 0;
		}
		_exit(ok ? 0 : 1);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A raw writer's change is seen. */
static void test_store_raw_write_seen(void **state)
{
	struct fx *f = *state;
	write1(f->s, "88.100.1/r", "one");
	request(f, "88.100.1/r", "one");
	raw_writes(f->dir, 1, "raw");
	request(f, "88.100.1/r", "raw");
}

/*
 * Raw writers one after another (no reader holds a snapshot between them):
 * LMDB reuses the pages the writer before last freed, so the handles DB's
 * root comes back to the page number the cache's view was read with (here
 * every third commit). Each change must still be seen.
 */
static void test_store_raw_writes_reuse_root(void **state)
{
	struct fx *f = *state;
	char want[16];
	write1(f->s, "88.100.1/r", "v00");
	request(f, "88.100.1/r", "v00");
	for (int i = 1; i < 12; i++) {
		snprintf(want, sizeof want, "v%.*s", i, "xxxxxxxxxxxx"); /* a length per round */
		raw_writes(f->dir, i, want);
		request(f, "88.100.1/r", want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_slot_compares_keys),
	    cmocka_unit_test(test_hits_are_exact),
	    cmocka_unit_test(test_long_key_not_kept),
	    cmocka_unit_test(test_view_change_forgets),
	    cmocka_unit_test(test_bound_holds),
	    cmocka_unit_test_setup_teardown(test_store_write_seen, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_delete_seen, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_other_process_write_seen, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_live_snapshot_kept, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_table_write_keeps_view, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_nested_write_seen, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_raw_write_seen, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_raw_writes_reuse_root, fx_setup,
	                                    fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
