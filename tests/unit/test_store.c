/*
 * test_store.c - the store interface (store/store.h) against the LMDB backend:
 * the shared suite (store_suite.h) plus LMDB-specific cases.
 *
 * Every test gets a fresh directory under /tmp, removed afterwards. The
 * LMDB-specific tests (map growth, corrupt entries written with raw LMDB) say
 * so in their names.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/sha.h>

#include "store_suite.h"
#include "unit_lmdb.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int lmdb_make(char *loc, size_t cap)
{
	if (cap < sizeof("/tmp/idn_store_XXXXXX"))
		return -1;
	strcpy(loc, "/tmp/idn_store_XXXXXX");
	return mkdtemp(loc) ? 0 : -1;
}

static const struct suite_backend lmdb_backend = {
    .name = "lmdb",
    .make = lmdb_make,
    .destroy = rm_tree,
};

static store *open_at(const char *dir, uint64_t map_size, int no_sync)
{
	store_opts o = {.map_size = map_size, .no_sync = no_sync};
	store *s = NULL;
	int rc = store_open(dir, &o, &s);
	assert_int_equal(rc, IDN_OK);
	assert_non_null(s);
	return s;
}

/* ---- LMDB-specific: opening ---- */

static void test_open(void **state)
{
	struct fx *f = *state;
	store *s = (store *)1;
	char path[1200];
	struct stat st;

	/* URIs go to the PostgreSQL backend (nothing listens on port 1: a clear failure) */
	assert_int_equal(store_open("postgresql://127.0.0.1:1/idn?connect_timeout=2", NULL, &s),
	                 IDN_ESTORE);
	assert_null(s);
	assert_int_equal(store_open("postgres://u@127.0.0.1:1/db", NULL, &s), IDN_ESTORE);
	assert_int_equal(store_open("PostgreSQL://127.0.0.1:1/db", NULL, &s), IDN_ESTORE);
	assert_null(s);
	assert_int_equal(store_open("", NULL, &s), IDN_EINVAL);
	assert_int_equal(store_open(NULL, NULL, &s), IDN_EINVAL);

	/* mkdir -p, mode 0750, NULL opts = defaults */
	snprintf(path, sizeof(path), "%s/a/b/c/", f->loc);
	assert_int_equal(store_open(path, NULL, &s), IDN_OK);
	assert_string_equal(store_lmdb_ops.name, s->ops->name);
	put1(s, S("x"), S("y"), 0, IDN_OK);
	store_close(s);
	snprintf(path, sizeof(path), "%s/a/b/c", f->loc);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777 & ~0750, 0);
	s = open_at(path, 0, 0);
	expect_get(s, S("x"), IDN_OK, S("y"));
	store_close(s);

	/* a file where the directory should be */
	snprintf(path, sizeof(path), "%s/file", f->loc);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_true(store_open(path, NULL, &s) < 0);
	assert_null(s);
	snprintf(path, sizeof(path), "%s/file/sub", f->loc);
	assert_true(store_open(path, NULL, &s) < 0);
	assert_null(s);
}

/* ---- LMDB-specific: corrupt entries written behind the store's back ---- */

/* The LMDB key of a long key: its first 478 bytes + SHA-256 of the whole. */
static void long_db_key(const uint8_t *k, size_t len, uint8_t out[510])
{
	memcpy(out, k, 478);
	SHA256(k, len, out + 478);
}

static void test_lmdb_corrupt(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	struct collect c;
	uint8_t dbk[510];
	uint8_t *val = malloc(8192);
	assert_non_null(val);

	store_close(f->s);
	f->s = NULL;

	/* unknown kind byte */
	raw_put(f->loc, "bad-kind", 8, "\x07rec", 4);
	/* empty value (no kind byte) */
	raw_put(f->loc, "empty", 5, "", 0);
	/* a short key claiming to be long */
	raw_put(f->loc, "fake-long", 9, "\x01\x00\x00\x00\x05hello", 10);

	/* long key A's slot holding key B (same head, other tail): a "collision" */
	uint8_t *ka = make_key(600, 'H', 'A');
	uint8_t *kb = make_key(600, 'H', 'B');
	long_db_key(ka, 600, dbk);
	val[0] = 1;
	idn_put_be32(val + 1, 600);
	memcpy(val + 5, kb, 600);
	memcpy(val + 605, "rec", 3);
	raw_put(f->loc, dbk, 510, val, 608);

	/* long key C: announced key length beyond the value */
	uint8_t *kc = make_key(700, 'J', 'C');
	long_db_key(kc, 700, dbk);
	val[0] = 1;
	idn_put_be32(val + 1, 5000);
	memcpy(val + 5, kc, 700);
	raw_put(f->loc, dbk, 510, val, 705);
	/* long key D: header cut short */
	uint8_t *kd = make_key(800, 'K', 'D');
	long_db_key(kd, 800, dbk);
	raw_put(f->loc, dbk, 510, "\x01\x00\x00", 3);
	/* long key E: key length announced as short (<= 478) */
	uint8_t *ke = make_key(800, 'M', 'E');
	long_db_key(ke, 800, dbk);
	val[0] = 1;
	idn_put_be32(val + 1, 10);
	memcpy(val + 5, ke, 800);
	raw_put(f->loc, dbk, 510, val, 805);

	f->s = open_at(f->loc, 0, 0);
	expect_get(f->s, S("bad-kind"), IDN_ESTORE, S(""));
	expect_get(f->s, S("empty"), IDN_ESTORE, S(""));
	expect_get(f->s, S("fake-long"), IDN_ESTORE, S(""));
	expect_get(f->s, idn_slice_of(ka, 600), IDN_ENOTFOUND, S(""));
	expect_get(f->s, idn_slice_of(kc, 700), IDN_ESTORE, S(""));
	expect_get(f->s, idn_slice_of(kd, 800), IDN_ESTORE, S(""));
	expect_get(f->s, idn_slice_of(ke, 800), IDN_ESTORE, S(""));

	/* a put onto a slot held by a different key is refused, not an overwrite */
	put1(f->s, idn_slice_of(ka, 600), S("mine"), 0, IDN_ESTORE);
	put1(f->s, idn_slice_of(kc, 700), S("mine"), 0, IDN_ESTORE);
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_del(t, idn_slice_of(ka, 600)), IDN_ENOTFOUND);
	assert_int_equal(store_del(t, idn_slice_of(kd, 800)), IDN_ESTORE);
	store_txn_abort(t);

	/* a scan reaching a corrupt entry stops with IDN_ESTORE */
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan(t, S("bad"), collect_cb, &c), IDN_ESTORE);
	assert_int_equal(store_scan(t, S("H"), collect_cb, &c), IDN_ESTORE); /* hash != key */
	assert_int_equal(store_scan(t, S("J"), collect_cb, &c), IDN_ESTORE);
	assert_int_equal(c.n, 0);
	store_txn_abort(t);

	free(ka);
	free(kb);
	free(kc);
	free(kd);
	free(ke);
	free(val);
}

/* ---- LMDB-specific: map growth ---- */

enum { BATCH = 32 };

/*
 * Writes records [from, to) in commits of BATCH, retrying a batch that hit
 * IDN_ESTORE_FULL (the next write txn grows the map). Returns the retries.
 */
static int write_records(store *s, uint32_t from, uint32_t to, uint8_t *buf)
{
	char k[64];
	int retries = 0;

	for (uint32_t i = from; i < to;) {
		uint32_t end = i + BATCH < to ? i + BATCH : to;
		store_txn *t;
		int rc = store_txn_begin(s, 0, &t);
		assert_int_equal(rc, IDN_OK);
		for (uint32_t j = i; j < end && rc == IDN_OK; j++) {
			size_t kl = rec_key(j, k);
			size_t vl = rec_fill(j, buf);
			rc = store_put(t, idn_slice_of(k, kl), idn_slice_of(buf, vl), STORE_APPEND);
		}
		if (rc == IDN_OK)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
		if (rc == IDN_ESTORE_FULL) {
			assert_true(++retries < 64);
			continue;
		}
		assert_int_equal(rc, IDN_OK);
		i = end;
	}
	return retries;
}

static void verify_records(store *s, uint32_t n, uint8_t *buf)
{
	store_txn *t;
	char k[64];
	idn_slice v;
	uint64_t cnt;

	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_count(t, &cnt), IDN_OK);
	assert_int_equal(cnt, n);
	for (uint32_t i = 0; i < n; i++) {
		size_t kl = rec_key(i, k);
		size_t vl = rec_fill(i, buf);
		assert_int_equal(store_get(t, idn_slice_of(k, kl), &v), IDN_OK);
		assert_int_equal(v.len, vl);
		assert_memory_equal(v.p, buf, vl);
	}
	store_txn_abort(t);
}

static void test_lmdb_map_growth(void **state)
{
	struct fx *f = *state;
	uint8_t *buf = malloc(8192);
	/* ~64 MiB of records averaging 2.5 KiB */
	const uint32_t n = (64u << 20) / 2560;
	struct stat st;
	char path[1200];

	assert_non_null(buf);
	store_close(f->s);
	rm_tree(f->loc);
	f->s = open_at(f->loc, 1u << 20, 1);

	int retries = write_records(f->s, 0, n, buf);
	print_message("map growth: %u records, %d batch retries\n", n, retries);
	verify_records(f->s, n, buf);

	/* it persists, and a reopen with a small map size adapts */
	store_close(f->s);
	f->s = open_at(f->loc, 1u << 20, 0);
	verify_records(f->s, n, buf);
	write_records(f->s, n, n + 1000, buf);
	verify_records(f->s, n + 1000, buf);

	snprintf(path, sizeof(path), "%s/data.mdb", f->loc);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size >= (off_t)(60u << 20));
	free(buf);
}

/* One big record at a time: a single txn larger than the free map hits
 * MDB_MAP_FULL, and the next write txn grows the map (remembered pressure). */
static void test_lmdb_map_full_then_grow(void **state)
{
	struct fx *f = *state;
	size_t big = 3u << 20;
	uint8_t *buf = malloc(big);
	store_txn *t;

	assert_non_null(buf);
	memset(buf, 0xab, big);
	store_close(f->s);
	rm_tree(f->loc);
	f->s = open_at(f->loc, 1u << 20, 1);

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	int rc = store_put(t, S("big"), idn_slice_of(buf, big), 0);
	if (rc == IDN_OK)
		rc = store_txn_commit(t);
	else
		store_txn_abort(t);
	assert_int_equal(rc, IDN_ESTORE_FULL);

	/* each failed attempt doubles the map: 2, 4, 8 MiB ... */
	int tries = 0;
	do {
		assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
		rc = store_put(t, S("big"), idn_slice_of(buf, big), 0);
		if (rc == IDN_OK)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
		assert_true(rc == IDN_OK || rc == IDN_ESTORE_FULL);
	} while (rc != IDN_OK && ++tries < 8);
	assert_int_equal(rc, IDN_OK);
	expect_get(f->s, S("big"), IDN_OK, idn_slice_of(buf, big));
	free(buf);
}

struct reader {
	store *s;
	volatile int stop;
	int err;
	long iterations;
	uint64_t last_count;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A worker's hot path: one read txn, renewed and reset around each "batch". */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	store_txn *t;
	idn_slice v;
	uint64_t n;
	int64_t deadline = now_ms() + 3000;

	r->err = store_txn_begin(r->s, STORE_RDONLY, &t);
	if (r->err)
		return NULL;
	store_txn_reset(t);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) && now_ms() < deadline) {
		int rc = store_txn_renew(t);
		if (rc == IDN_OK)
			rc = store_count(t, &n);
		if (rc == IDN_OK && n < r->last_count)
			rc = IDN_EMISMATCH; /* snapshots must not go back in time */
		if (rc == IDN_OK && n > 0) {
			r->last_count = n;
			rc = store_get(t, S("88.100.1/REC-00000000"), &v);
		}
		if (rc != IDN_OK) {
			r->err = rc;
			break;
		}
		store_txn_reset(t);
		r->iterations++;
		/* between batches, as a worker waits for its next packets */
		sched_yield();
	}
	store_txn_abort(t);
	return NULL;
}

static void test_lmdb_growth_with_readers(void **state)
{
	struct fx *f = *state;
	uint8_t *buf = malloc(8192);
	struct reader rd[2];
	pthread_t th[2];
	uint32_t written = 0;

	assert_non_null(buf);
	store_close(f->s);
	rm_tree(f->loc);
	f->s = open_at(f->loc, 1u << 20, 1);
	write_records(f->s, 0, 1, buf);
	written = 1;

	for (int i = 0; i < 2; i++) {
		rd[i] = (struct reader){.s = f->s};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	/* ~24 MiB, bounded in time so the readers (3 s cap) outlive the writer */
	int64_t deadline = now_ms() + 2500;
	while (written < (24u << 20) / 2560 && now_ms() < deadline) {
		write_records(f->s, written, written + 256, buf);
		written += 256;
	}
	for (int i = 0; i < 2; i++) {
		__atomic_store_n(&rd[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(th[i], NULL);
	}
	print_message("growth with readers: %u records; reader iterations %ld, %ld\n", written,
	              rd[0].iterations, rd[1].iterations);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rd[i].err, IDN_OK);
		assert_true(rd[i].iterations > 0);
	}
	/* >= 2.5 MiB written: the 1 MiB map grew at least twice under the readers */
	assert_true(written >= 1024);
	verify_records(f->s, written, buf);
	free(buf);
}

/* A thread that keeps its read txn while writing cannot grow the map (it would
 * wait for itself): it gets IDN_ESTORE_FULL, not a deadlock, and once it lets
 * go the next write grows the map. */
static void test_lmdb_write_while_reading(void **state)
{
	struct fx *f = *state;
	uint8_t *buf = malloc(8192);
	store_txn *r, *t;
	char k[64];
	int rc = IDN_OK;
	uint32_t i = 0;

	assert_non_null(buf);
	store_close(f->s);
	rm_tree(f->loc);
	f->s = open_at(f->loc, 1u << 20, 1);
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &r), IDN_OK);
	for (; i < 4096 && rc == IDN_OK; i++) {
		assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
		size_t kl = rec_key(i, k);
		size_t vl = rec_fill(i, buf);
		rc = store_put(t, idn_slice_of(k, kl), idn_slice_of(buf, vl), 0);
		if (rc == IDN_OK)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
	}
	assert_int_equal(rc, IDN_ESTORE_FULL);
	store_txn_abort(r);
	i--; /* the failed one */
	write_records(f->s, i, i + 2000, buf);
	verify_records(f->s, i + 2000, buf);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    STORE_SUITE_TESTS,
	    cmocka_unit_test_setup_teardown(test_open, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_corrupt, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_map_growth, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_map_full_then_grow, suite_setup,
	                                    suite_teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_growth_with_readers, suite_setup,
	                                    suite_teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_write_while_reading, suite_setup,
	                                    suite_teardown),
	};
	suite_be = &lmdb_backend;
	return cmocka_run_group_tests_name("store/lmdb", tests, NULL, NULL);
}
