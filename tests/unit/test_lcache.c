/*
 * test_lcache.c - the lookup cache shared by LMDB read transactions
 * (store/lcache.h): on its own (keys compared in full, the bound, one tag
 * per view, older snapshots get none, threads on contended slots), and in
 * the store, where workers' read txns use it across reset and renew: a
 * write, a delete or an insert committed between two renewals is seen by
 * the second, whoever made it (this store, a nested txn, another process, a
 * writer of raw LMDB), a worker in an older snapshot neither reads nor
 * leaves entries of another view, and threads reading while a writer
 * commits each see one snapshot.
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
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
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

/* A view's tag: gen and epoch name it, txnid orders snapshots. */
static uint64_t tag_of(lcache *c, uint64_t gen, uint64_t epoch, uint64_t txnid)
{
	lcache_view v = {.gen = gen, .epoch = epoch, .others = 0, .txnid = txnid};
	return lcache_tag(c, &v);
}

static int get(lcache *c, uint64_t tag, idn_slice k, idn_slice *v)
{
	lcache_key ck;
	return lcache_get(c, tag, k, v, &ck);
}

/* A lookup that missed, then its fill, as lmdb_get does. */
static void put(lcache *c, uint64_t tag, idn_slice k, idn_slice v)
{
	idn_slice old;
	lcache_key ck;
	(void)lcache_get(c, tag, k, &old, &ck); /* a hit is replaced all the same */
	lcache_put(c, tag, &ck, v);
}

/* One slot: every key lands in it, so a hit must compare the whole key. */
static void test_one_slot_compares_keys(void **state)
{
	(void)state;
	idn_slice v;
	lcache *c = lcache_new(LCACHE_SLOT);
	assert_non_null(c);
	assert_int_equal(lcache_bytes(c), LCACHE_SLOT);
	uint64_t t = tag_of(c, 7, 0, 7);
	assert_true(t != 0);
	put(c, t, S("88.100.1/a"), S("value a"));
	assert_int_equal(get(c, t, S("88.100.1/a"), &v), 1);
	assert_true(idn_slice_eq(v, S("value a")));
	assert_int_equal(get(c, t, S("88.100.1/b"), &v), 0);
	assert_int_equal(get(c, t, S("88.100.1/"), &v), 0);
	assert_int_equal(get(c, t, S("88.100.1/aa"), &v), 0);
	/* the same words (zero-padded), another length */
	assert_int_equal(get(c, t, idn_slice_of("88.100.1/a\0", 11), &v), 0);
	put(c, t, S("88.100.1/b"), S("value b"));
	assert_int_equal(get(c, t, S("88.100.1/a"), &v), 0); /* evicted, not confused */
	assert_int_equal(get(c, t, S("88.100.1/b"), &v), 1);
	/* a known absence */
	put(c, t, S("88.100.1/none"), idn_slice_of(NULL, 0));
	v = S("x");
	assert_int_equal(get(c, t, S("88.100.1/none"), &v), 1);
	assert_null(v.p);
	lcache_free(c);
}

/* Many keys, many collisions: every hit is the value put for that very key. */
static void test_hits_are_exact(void **state)
{
	(void)state;
	lcache *c = lcache_new(64 * 1024);
	char k[32];
	static char vals[5000][16];
	idn_slice v;
	size_t hits = 0;
	assert_non_null(c);
	uint64_t t = tag_of(c, 1, 0, 1);
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "88.100.1/%d", i);
		snprintf(vals[i], sizeof vals[i], "v%d", i);
		put(c, t, S(k), S(vals[i]));
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "88.100.1/%d", i);
		if (get(c, t, S(k), &v)) {
			assert_ptr_equal(v.p, vals[i]);
			hits++;
		}
	}
	assert_true(hits > 500); /* 1,024 slots */
	lcache_free(c);
}

/* Keys up to LCACHE_KEY_MAX bytes are kept, longer ones never (nor confused). */
static void test_long_key_not_kept(void **state)
{
	(void)state;
	char k[LCACHE_KEY_MAX + 2];
	idn_slice v;
	lcache *c = lcache_new(LCACHE_SLOT);
	assert_non_null(c);
	memset(k, 'k', sizeof k);
	uint64_t t = tag_of(c, 1, 0, 1);
	put(c, t, idn_slice_of(k, LCACHE_KEY_MAX + 1), S("long"));
	assert_int_equal(get(c, t, idn_slice_of(k, LCACHE_KEY_MAX + 1), &v), 0);
	put(c, t, idn_slice_of(k, LCACHE_KEY_MAX), S("max"));
	assert_int_equal(get(c, t, idn_slice_of(k, LCACHE_KEY_MAX), &v), 1);
	assert_int_equal(get(c, t, idn_slice_of(k, LCACHE_KEY_MAX + 1), &v), 0);
	assert_int_equal(get(c, t, idn_slice_of(k, LCACHE_KEY_MAX - 1), &v), 0);
	lcache_free(c);
}

/*
 * Tags: one per view, shared by every snapshot in it; a newer snapshot in
 * another view makes a new tag current, an older one gets none; a tag sees
 * only its own entries, and a put under a tag no longer current is not kept.
 */
static void test_views_and_tags(void **state)
{
	(void)state;
	idn_slice v;
	lcache *c = lcache_new(1 << 16);
	assert_non_null(c);
	assert_int_equal(lcache_current(c), 0);
	assert_int_equal(get(c, 0, S("k"), &v), 0); /* no tag: nothing */
	uint64_t t5 = tag_of(c, 5, 0, 5);
	assert_true(t5 != 0);
	put(c, t5, S("k"), S("v5"));
	assert_int_equal(tag_of(c, 5, 0, 9), t5); /* another worker, a later snapshot, same view */
	assert_int_equal(get(c, t5, S("k"), &v), 1);
	uint64_t t6 = tag_of(c, 10, 0, 10); /* a write committed */
	assert_true(t6 != 0 && t6 != t5);
	assert_int_equal(lcache_current(c), t6);
	assert_int_equal(get(c, t6, S("k"), &v), 0);
	assert_int_equal(get(c, t5, S("k"), &v), 1); /* still right for a worker in view 5 */
	put(c, t5, S("j"), S("old j"));              /* not kept: t5 is not current */
	assert_int_equal(get(c, t5, S("j"), &v), 0);
	assert_int_equal(get(c, t6, S("j"), &v), 0);
	put(c, t6, S("k"), S("v6"));
	assert_int_equal(get(c, t6, S("k"), &v), 1);
	assert_true(idn_slice_eq(v, S("v6")));
	assert_int_equal(get(c, t5, S("k"), &v), 0); /* the slot is view 6's now */
	/* snapshots older than the current view's: no tag, the view stays */
	assert_int_equal(tag_of(c, 5, 0, 9), 0);
	assert_int_equal(tag_of(c, 7, 0, 7), 0);
	assert_int_equal(lcache_current(c), t6);
	put(c, 0, S("k"), S("none"));
	assert_int_equal(get(c, t6, S("k"), &v), 1);
	assert_true(idn_slice_eq(v, S("v6")));
	/* the map moved: a new view even with the same gen, and older epochs get none */
	uint64_t t7 = tag_of(c, 10, 1, 10);
	assert_true(t7 != 0 && t7 != t6);
	assert_int_equal(get(c, t7, S("k"), &v), 0);
	assert_int_equal(tag_of(c, 10, 0, 11), 0);
	/* the same gen and epoch with other writers' commits between: another view */
	lcache_view r = {.gen = 10, .epoch = 1, .others = 99, .txnid = 12};
	uint64_t t8 = lcache_tag(c, &r);
	assert_true(t8 != 0 && t8 != t7);
	lcache_free(c);
}

/* The table is the bound (rounded down to a power of two) from the start. */
static void test_bound_holds(void **state)
{
	(void)state;
	char k[32];
	lcache *c = lcache_new(3u << 20); /* not a power of two: 2 MiB of slots */
	assert_non_null(c);
	assert_int_equal(lcache_bytes(c), 2u << 20);
	uint64_t t = tag_of(c, 1, 0, 1);
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(k, sizeof k, "88.100.1/%d", i);
		put(c, t, idn_slice_of(k, (size_t)n), S("v"));
	}
	assert_int_equal(lcache_bytes(c), 2u << 20);
	lcache_free(c);
	c = lcache_new(100);
	assert_non_null(c);
	assert_int_equal(lcache_bytes(c), LCACHE_SLOT);
	lcache_free(c);
}

/*
 * lcache_prefetch names the slot a lookup uses: on 16 slots, putting key b
 * after key a drops a exactly when the prefetch gave both the same slot;
 * keys the cache does not keep give no hint; lcache_prefetch_value takes
 * any hint.
 */
static void test_prefetch_names_the_slot(void **state)
{
	(void)state;
	lcache *c = lcache_new(16 * LCACHE_SLOT);
	assert_non_null(c);
	uint64_t t;
	char ka[32], kb[32];
	unsigned same = 0, apart = 0;
	for (int i = 0; i < 40; i++) {
		for (int j = 0; j < 40; j++) {
			if (i == j)
				continue;
			idn_slice a =
			    idn_slice_of(ka, (size_t)snprintf(ka, sizeof ka, "88.1/%d", i));
			idn_slice b =
			    idn_slice_of(kb, (size_t)snprintf(kb, sizeof kb, "88.1/%d", j));
			uint64_t view =
			    (uint64_t)(i * 100 + j + 2); /* a new view: no entry of its own */
			t = tag_of(c, view, 0, view);
			assert_true(t != 0);
			put(c, t, a, S("va"));
			lcache_prefetch_value(c, lcache_prefetch(c, a));
			put(c, t, b, S("vb"));
			idn_slice v;
			bool kept = get(c, t, a, &v) == 1;
			bool shared = lcache_prefetch(c, a) == lcache_prefetch(c, b);
			assert_true(kept != shared);
			same += shared, apart += !shared;
			assert_true(lcache_prefetch(c, a) >= 1 && lcache_prefetch(c, a) <= 16);
		}
	}
	assert_true(same > 0 && apart > 0);             /* both cases were seen */
	assert_int_equal(lcache_prefetch(c, S("")), 0); /* not kept: no hint */
	char longk[LCACHE_KEY_MAX + 2];
	memset(longk, 'k', sizeof longk);
	assert_int_equal(lcache_prefetch(c, idn_slice_of(longk, sizeof longk)), 0);
	lcache_prefetch_value(c, 0);  /* nothing */
	lcache_prefetch_value(c, 17); /* out of range: nothing */
	lcache_free(c);
}

/*
 * Threads on one small cache (64 slots, 512 keys: every slot contended):
 * each puts key i -> (&base[i], length = its tag) and checks every hit is
 * exactly that under its own tag, while one thread keeps moving the view.
 * A torn slot read, or a hit under another tag, shows as a wrong pointer
 * or length.
 */
enum { HAM_KEYS = 512, HAM_THREADS = 4, HAM_ROUNDS = 400000 };
static char ham_base[HAM_KEYS];
static atomic_uint_fast64_t ham_gen;

struct ham {
	lcache *c;
	int id;
	size_t hits, bad;
};

static void *hammer(void *arg)
{
	struct ham *h = arg;
	char k[32];
	unsigned x = (unsigned)h->id * 2654435761u + 1;
	uint64_t tag = 0;
	for (int r = 0; r < HAM_ROUNDS; r++) {
		x = x * 1103515245u + 12345u;
		if (h->id == 0 && r % 1000 == 0) {
			uint64_t g = atomic_fetch_add(&ham_gen, 1) + 1;
			tag = tag_of(h->c, g, 0, g);
		} else if (r % 1000 == 0) {
			uint64_t g = atomic_load(&ham_gen);
			tag = tag_of(h->c, g, 0, g); /* 0 when the view moved in between */
		}
		unsigned i = (x >> 8) % HAM_KEYS;
		int n = snprintf(k, sizeof k, "88.100.1/%u", i);
		idn_slice key = idn_slice_of(k, (size_t)n), v;
		lcache_key ck;
		if (lcache_get(h->c, tag, key, &v, &ck)) {
			h->hits++;
			if (v.p != (const uint8_t *)(ham_base + i) || v.len != (uint32_t)tag)
				h->bad++;
		} else if (tag) {
			lcache_put(h->c, tag, &ck, idn_slice_of(ham_base + i, (uint32_t)tag));
		}
	}
	return NULL;
}

static void test_threads_hammer(void **state)
{
	(void)state;
	pthread_t th[HAM_THREADS];
	struct ham h[HAM_THREADS];
	lcache *c = lcache_new(64 * LCACHE_SLOT);
	assert_non_null(c);
	atomic_store(&ham_gen, 0);
	for (int i = 0; i < HAM_THREADS; i++) {
		h[i] = (struct ham){.c = c, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &h[i]), 0);
	}
	size_t hits = 0, bad = 0;
	for (int i = 0; i < HAM_THREADS; i++) {
		pthread_join(th[i], NULL);
		hits += h[i].hits;
		bad += h[i].bad;
	}
	assert_int_equal(bad, 0);
	assert_true(hits > 0);
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

/*
 * Runs writer(dir, arg) in a child process (a writer on the test's data
 * besides its store) and fails unless it returns nonzero (done).
 */
static void in_child(int (*writer)(const char *dir, const void *arg), const char *dir,
                     const void *arg)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(writer(dir, arg) ? 0 : 1);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Puts 88.100.1/o = "second" through a fresh environment, as `idnode load` would. */
static int store_writer(const char *dir, const void *arg)
{
	(void)arg;
	store *other = NULL;
	store_opts o = {.no_sync = 1};
	store_txn *t;
	return store_open(dir, &o, &other) == IDN_OK && store_txn_begin(other, 0, &t) == IDN_OK &&
	       store_put(t, S("88.100.1/o"), S("second"), 0) == IDN_OK &&
	       store_txn_commit(t) == IDN_OK;
}

/* A write by another process on the same data is seen too. */
static void test_store_other_process_write_seen(void **state)
{
	struct fx *f = *state;
	write1(f->s, "88.100.1/o", "first");
	request(f, "88.100.1/o", "first");
	in_child(store_writer, f->dir, NULL);
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

struct raw {
	int n;
	const char *last;
};

/*
 * n commits of raw LMDB (a writer that does not keep "handles.gen", as an
 * idnode from before it), each setting 88.100.1/r: the last to `last`,
 * those before to "z".
 */
static int raw_writer(const char *dir, const void *arg)
{
	const struct raw *r = arg;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	char val[32];
	MDB_val k = {10, (void *)"88.100.1/r"}, v;
	int ok = mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 8) == 0 &&
	         mdb_env_open(env, dir, MDB_NOTLS, 0640) == 0;
	for (int j = 0; ok && j < r->n; j++) {
		val[0] = 0; /* KIND_PLAIN */
		v = (MDB_val){1 + (size_t)snprintf(val + 1, sizeof val - 1, "%s",
		                                   j == r->n - 1 ? r->last : "z"),
		              val};
		ok = mdb_txn_begin(env, NULL, 0, &txn) == 0 &&
		     mdb_dbi_open(txn, "handles", 0, &dbi) == 0 &&
		     mdb_put(txn, dbi, &k, &v, 0) == 0 && mdb_txn_commit(txn) == 0;
	}
	return ok;
}

/* raw_writer in a child process. */
static void raw_writes(const char *dir, int n, const char *last)
{
	in_child(raw_writer, dir, &(struct raw){n, last});
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

/* A compacting copy of the store in dir into `arg` (mdb_copy -c): its txn ids restart at 1. */
static int compact_copier(const char *dir, const void *arg)
{
	MDB_env *env;
	int ok = mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 8) == 0 &&
	         mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0640) == 0 &&
	         mdb_env_copy2(env, arg, MDB_CP_COMPACT) == 0;
	mdb_env_close(env);
	return ok;
}

/* One commit of ours that writes meta, not "handles": the txn id moves on. */
static void meta_commit(store *s)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_meta_put(t, "test.tick", S("x")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/* The id of the last commit the store holds. */
static uint64_t last_txnid(store *s)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	uint64_t id = store_snapshot_id(t) - 1;
	store_txn_abort(t);
	return id;
}

/*
 * A store copied with mdb_copy -c starts again at txn id 1 while its
 * "handles.gen" names a txn of the original: a change to the records in
 * the copy's txn of that number must still be a new generation (the lookup
 * cache's view, the identifiers held saved with it), not the copy's first.
 */
static void test_store_compact_copy_gen(void **state)
{
	struct fx *f = *state;
	char copy[sizeof f->dir + 8];
	for (int i = 0; i < 12; i++)
		write1(f->s, "88.100.1/c", i % 2 ? "odd" : "even");
	write1(f->s, "88.100.1/c", "one");
	snprintf(copy, sizeof copy, "%s/copy", f->dir);
	assert_int_equal(mkdir(copy, 0700), 0);
	in_child(compact_copier, f->dir, copy);
	store *c;
	store_txn *r, *t;
	store_gen g0, g1;
	idn_slice v;
	store_opts o = {.no_sync = 1, .lookup_cache = 1u << 20};
	assert_int_equal(store_open(copy, &o, &c), IDN_OK);
	assert_int_equal(store_txn_begin(c, STORE_RDONLY, &r), IDN_OK);
	assert_int_equal(store_handles_gen(r, &g0), IDN_OK);
	assert_true(store_snapshot_id(r) - 1 < g0.changed); /* the copy's txn ids restarted */
	store_txn_reset(r);
	assert_int_equal(store_txn_renew(r), IDN_OK); /* a worker's txn: the cache's */
	for (int i = 0; i < 2; i++) {                 /* the second from the lookup cache */
		assert_int_equal(store_get(r, S("88.100.1/c"), &v), IDN_OK);
		assert_true(idn_slice_eq(v, S("one")));
	}
	store_txn_reset(r);
	while (last_txnid(c) + 1 < g0.changed)
		meta_commit(c);
	write1(c, "88.100.1/c", "two"); /* in the copy's txn numbered as the original's change */
	assert_int_equal(store_txn_begin(c, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_handles_gen(t, &g1), IDN_OK);
	store_txn_abort(t);
	assert_false(g1.changed == g0.changed && g1.others == g0.others);
	assert_int_equal(store_txn_renew(r), IDN_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_get(r, S("88.100.1/c"), &v), IDN_OK);
		assert_true(idn_slice_eq(v, S("two")));
	}
	store_txn_abort(r);
	store_close(c);
}

/*
 * Two workers renew at different moments: the one still in the old
 * snapshot neither reads the new view's entries nor leaves its own for the
 * worker in the new view.
 */
static void test_store_workers_in_two_views(void **state)
{
	struct fx *f = *state;
	store_txn *r2;
	idn_slice v;
	write1(f->s, "88.100.1/x", "x old");
	write1(f->s, "88.100.1/z", "z old");
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &r2), IDN_OK);
	store_txn_reset(r2);
	request(f, "88.100.1/x", "x old");               /* the view of the old snapshot, filled */
	assert_int_equal(store_txn_renew(f->r), IDN_OK); /* worker 1 stays in it */
	write1(f->s, "88.100.1/x", "x new");
	write1(f->s, "88.100.1/z", "z new");
	assert_int_equal(store_txn_renew(r2), IDN_OK); /* worker 2: the new view */
	assert_int_equal(store_get(r2, S("88.100.1/x"), &v), IDN_OK);
	assert_true(idn_slice_eq(v, S("x new")));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_get(f->r, S("88.100.1/x"), &v), IDN_OK);
		assert_true(idn_slice_eq(v, S("x old")));
		assert_int_equal(store_get(f->r, S("88.100.1/z"), &v), IDN_OK);
		assert_true(idn_slice_eq(v, S("z old")));
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_get(r2, S("88.100.1/z"), &v), IDN_OK);
		assert_true(idn_slice_eq(v, S("z new")));
	}
	store_txn_reset(r2);
	store_txn_reset(f->r);
	request(f, "88.100.1/z", "z new");
	request(f, "88.100.1/x", "x new");
	store_txn_abort(r2);
}

/*
 * Readers on their own threads, each renewing its txn for every round,
 * while a writer rewrites all keys in one txn per version: every round
 * must read one version for all keys (its snapshot's), never less than its
 * last round's. A cache entry from another view would mix versions.
 */
enum { MT_KEYS = 16, MT_READERS = 3, MT_VERSIONS = 300 };

struct mt {
	store *s;
	atomic_int *done;
	atomic_int bad;
	atomic_long rounds;
};

static void *mt_reader(void *arg)
{
	struct mt *m = arg;
	store_txn *r;
	char k[32];
	long last = 0;
	if (store_txn_begin(m->s, STORE_RDONLY, &r) != IDN_OK) {
		m->bad++;
		return NULL;
	}
	store_txn_reset(r);
	while (!atomic_load(m->done) && !m->bad) {
		if (store_txn_renew(r) != IDN_OK) {
			m->bad++;
			break;
		}
		long first = -1;
		for (int pass = 0; pass < 2; pass++) /* the second pass mostly from the cache */
			for (int i = 0; i < MT_KEYS; i++) {
				idn_slice v;
				snprintf(k, sizeof k, "88.100.1/mt%d", i);
				if (store_get(r, S(k), &v) != IDN_OK || v.len >= 32) {
					m->bad++;
					continue;
				}
				char buf[32];
				memcpy(buf, v.p, v.len);
				buf[v.len] = 0;
				long ver = strtol(buf, NULL, 10);
				if (first < 0)
					first = ver;
				if (ver != first || ver < last)
					m->bad++;
			}
		last = first;
		atomic_fetch_add(&m->rounds, 1);
		store_txn_reset(r);
	}
	store_txn_abort(r);
	return NULL;
}

static void write_version(store *s, int ver)
{
	store_txn *t;
	char k[32], v[32];
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	for (int i = 0; i < MT_KEYS; i++) {
		snprintf(k, sizeof k, "88.100.1/mt%d", i);
		snprintf(v, sizeof v, "%d%s", ver, ver % 2 ? "" : " (even)");
		assert_int_equal(store_put(t, S(k), S(v), 0), IDN_OK);
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

static void test_store_threads_see_one_snapshot(void **state)
{
	struct fx *f = *state;
	pthread_t th[MT_READERS];
	struct mt m[MT_READERS];
	atomic_int done = 0;
	write_version(f->s, 0);
	for (int i = 0; i < MT_READERS; i++) {
		m[i] = (struct mt){.s = f->s, .done = &done};
		assert_int_equal(pthread_create(&th[i], NULL, mt_reader, &m[i]), 0);
	}
	/*
	 * Every reader in its loop before the writes begin, so they overlap:
	 * on a loaded machine a thread may not run at all for a while (bounded
	 * at 60 s, not asserted on speed).
	 */
	for (int i = 0; i < MT_READERS; i++) {
		for (int ms = 0; ms < 60000 && !atomic_load(&m[i].rounds) && !m[i].bad; ms++)
			usleep(1000);
		assert_true(atomic_load(&m[i].rounds) > 0);
	}
	for (int ver = 1; ver <= MT_VERSIONS; ver++) {
		write_version(f->s, ver);
		if (ver % 50 == 0) { /* a commit that leaves the records: the same view */
			store_txn *t;
			assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
			assert_int_equal(store_tab_put(t, STORE_TAB_STATS, S("k"), S("v"), 0),
			                 IDN_OK);
			assert_int_equal(store_txn_commit(t), IDN_OK);
		}
	}
	atomic_store(&done, 1);
	for (int i = 0; i < MT_READERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(m[i].bad, 0);
	}
	request(f, "88.100.1/mt3", "300 (even)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_slot_compares_keys),
	    cmocka_unit_test(test_hits_are_exact),
	    cmocka_unit_test(test_long_key_not_kept),
	    cmocka_unit_test(test_views_and_tags),
	    cmocka_unit_test(test_bound_holds),
	    cmocka_unit_test(test_prefetch_names_the_slot),
	    cmocka_unit_test(test_threads_hammer),
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
	    cmocka_unit_test_setup_teardown(test_store_compact_copy_gen, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_workers_in_two_views, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_store_threads_see_one_snapshot, fx_setup,
	                                    fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
