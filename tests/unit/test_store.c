/*
 * test_store.c - the store interface (store/store.h) against the LMDB backend.
 *
 * Every test gets a fresh directory under /tmp, removed afterwards. The
 * backend-neutral tests only use store.h; the LMDB-specific ones (map growth,
 * corrupt entries written with raw LMDB) say so in their names.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <openssl/sha.h>

#include "core/err.h"
#include "store/store.h"

/* ---- fixtures ---- */

struct fx {
	char dir[64];
	store *s;
};

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

static store *open_at(const char *dir, uint64_t map_size, int no_sync)
{
	store_opts o = {.map_size = map_size, .no_sync = no_sync};
	store *s = NULL;
	int rc = store_open(dir, &o, &s);
	assert_int_equal(rc, IDN_OK);
	assert_non_null(s);
	return s;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/idn_store_XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->s = open_at(f->dir, 0, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	rm_tree(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static idn_slice S(const char *s)
{
	return idn_slice_of(s, strlen(s));
}

static void put1(store *s, idn_slice k, idn_slice v, unsigned flags, int want)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	int rc = store_put(t, k, v, flags);
	assert_int_equal(rc, want);
	if (rc == IDN_OK)
		assert_int_equal(store_txn_commit(t), IDN_OK);
	else
		store_txn_abort(t);
}

/* Gets k in a fresh read txn; checks the result and, if found, the value. */
static void expect_get(store *s, idn_slice k, int want, idn_slice wantv)
{
	store_txn *t;
	idn_slice v = {0};
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_get(t, k, &v), want);
	if (want == IDN_OK) {
		assert_int_equal(v.len, wantv.len);
		if (v.len)
			assert_memory_equal(v.p, wantv.p, v.len);
	}
	store_txn_abort(t);
}

static uint64_t count_of(store *s)
{
	store_txn *t;
	uint64_t n = 0;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_count(t, &n), IDN_OK);
	store_txn_abort(t);
	return n;
}

/* A key of len bytes: head_fill repeated, then a tag at the very end. */
static uint8_t *make_key(size_t len, char head_fill, char tag)
{
	uint8_t *k = malloc(len);
	assert_non_null(k);
	memset(k, head_fill, len);
	k[len - 1] = (uint8_t)tag;
	return k;
}

/* Deterministic record i: 1 KiB to 4 KiB of pseudo-random bytes. */
static size_t rec_fill(uint32_t i, uint8_t *buf)
{
	size_t len = 1024 + (i * 7919u) % 3073;
	uint32_t x = i * 2654435761u + 1;
	for (size_t j = 0; j < len; j++) {
		x = x * 1103515245u + 12345u;
		buf[j] = (uint8_t)(x >> 16);
	}
	return len;
}

static size_t rec_key(uint32_t i, char *buf)
{
	return (size_t)sprintf(buf, "88.100.1/REC-%08u", i);
}

struct collect {
	int n;
	int stop_after; /* 0 = never */
	char keys[32][64];
	size_t lens[32];
	uint8_t lastbyte[32];
};

static int collect_cb(void *arg, idn_slice key, idn_slice val)
{
	struct collect *c = arg;
	(void)val;
	if (c->n < 32) {
		size_t n = key.len < 63 ? key.len : 63;
		memcpy(c->keys[c->n], key.p, n);
		c->keys[c->n][n] = '\0';
		c->lens[c->n] = key.len;
		c->lastbyte[c->n] = key.p[key.len - 1];
	}
	c->n++;
	if (c->stop_after && c->n >= c->stop_after)
		return 42;
	return 0;
}

/* ---- backend-neutral tests ---- */

static void test_put_get_del(void **state)
{
	struct fx *f = *state;
	store_txn *t;

	expect_get(f->s, S("88.100.1/A"), IDN_ENOTFOUND, S(""));
	put1(f->s, S("88.100.1/A"), S("one"), 0, IDN_OK);
	expect_get(f->s, S("88.100.1/A"), IDN_OK, S("one"));

	/* overwrite */
	put1(f->s, S("88.100.1/A"), S("two!"), 0, IDN_OK);
	expect_get(f->s, S("88.100.1/A"), IDN_OK, S("two!"));

	/* NOOVERWRITE */
	put1(f->s, S("88.100.1/A"), S("three"), STORE_NOOVERWRITE, IDN_EEXIST);
	expect_get(f->s, S("88.100.1/A"), IDN_OK, S("two!"));
	put1(f->s, S("88.100.1/B"), S("b"), STORE_NOOVERWRITE, IDN_OK);

	/* empty record */
	put1(f->s, S("88.100.1/E"), S(""), 0, IDN_OK);
	expect_get(f->s, S("88.100.1/E"), IDN_OK, S(""));

	/* del */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_del(t, S("88.100.1/A")), IDN_OK);
	assert_int_equal(store_del(t, S("88.100.1/A")), IDN_ENOTFOUND);
	assert_int_equal(store_del(t, S("88.100.1/none")), IDN_ENOTFOUND);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	expect_get(f->s, S("88.100.1/A"), IDN_ENOTFOUND, S(""));
	expect_get(f->s, S("88.100.1/B"), IDN_OK, S("b"));
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	idn_slice v;
	uint8_t *big = make_key(STORE_KEY_MAX + 1, 'k', 'z');
	idn_slice kbig = idn_slice_of(big, STORE_KEY_MAX + 1);

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S(""), S("x"), 0), IDN_EINVAL);
	assert_int_equal(store_get(t, S(""), &v), IDN_EINVAL);
	assert_int_equal(store_del(t, S("")), IDN_EINVAL);
	assert_int_equal(store_put(t, kbig, S("x"), 0), IDN_ERANGE);
	assert_int_equal(store_get(t, kbig, &v), IDN_ERANGE);
	assert_int_equal(store_del(t, kbig), IDN_ERANGE);
	assert_int_equal(store_home(t, S("")), IDN_EINVAL);
	assert_int_equal(store_is_homed(t, S("")), IDN_EINVAL);
	assert_int_equal(store_home(t, kbig), IDN_ERANGE);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	/* writes in a read txn are refused, not attempted */
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_put(t, S("k"), S("x"), 0), IDN_EINVAL);
	assert_int_equal(store_del(t, S("k")), IDN_EINVAL);
	assert_int_equal(store_home(t, S("88")), IDN_EINVAL);
	assert_int_equal(store_unhome(t, S("88")), IDN_EINVAL);
	/* a reset txn has no snapshot to read from */
	store_txn_reset(t);
	assert_int_equal(store_get(t, S("k"), &v), IDN_EINVAL);
	store_txn_abort(t);
	free(big);
}

static void test_append(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	char k[32];

	/* in order */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "88.100.1/K%04d", i);
		assert_int_equal(store_put(t, S(k), S(k), STORE_APPEND), IDN_OK);
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);

	/* out of order: falls back to a normal put */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S("88.100.1/A"), S("a"), STORE_APPEND), IDN_OK);
	assert_int_equal(store_put(t, S("88.100.1/K0100"), S("new"), STORE_APPEND), IDN_OK);
	assert_int_equal(
	    store_put(t, S("88.100.1/K0050"), S("no"), STORE_APPEND | STORE_NOOVERWRITE),
	    IDN_EEXIST);
	/* the last key itself: not after it, so not an append either */
	assert_int_equal(store_put(t, S("88.100.1/K0199"), S("last"), STORE_APPEND), IDN_OK);
	assert_int_equal(store_put(t, S("88.100.1/Z"), S("z"), STORE_APPEND | STORE_NOOVERWRITE),
	                 IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	expect_get(f->s, S("88.100.1/A"), IDN_OK, S("a"));
	expect_get(f->s, S("88.100.1/K0000"), IDN_OK, S("88.100.1/K0000"));
	expect_get(f->s, S("88.100.1/K0050"), IDN_OK, S("88.100.1/K0050"));
	expect_get(f->s, S("88.100.1/K0100"), IDN_OK, S("new"));
	expect_get(f->s, S("88.100.1/K0199"), IDN_OK, S("last"));
	expect_get(f->s, S("88.100.1/Z"), IDN_OK, S("z"));
	assert_int_equal(count_of(f->s), 202);

	/* long keys with APPEND take the normal path */
	uint8_t *lk = make_key(900, 'L', '1');
	put1(f->s, idn_slice_of(lk, 900), S("long"), STORE_APPEND, IDN_OK);
	lk[899] = '0'; /* sorts before the previous one in full-key order */
	put1(f->s, idn_slice_of(lk, 900), S("long0"), STORE_APPEND, IDN_OK);
	expect_get(f->s, idn_slice_of(lk, 900), IDN_OK, S("long0"));
	lk[899] = '1';
	expect_get(f->s, idn_slice_of(lk, 900), IDN_OK, S("long"));
	free(lk);
}

static void test_long_keys(void **state)
{
	struct fx *f = *state;
	static const size_t lens[] = {1, 477, 478, 479, 510, 511, 512, 600, 2047, 2048};
	char val[32];
	store_txn *t;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *k = make_key(lens[i], 'a' + (char)(i % 26), 'Q');
		idn_slice ks = idn_slice_of(k, lens[i]);
		snprintf(val, sizeof(val), "len=%zu", lens[i]);
		put1(f->s, ks, S(val), 0, IDN_OK);
		expect_get(f->s, ks, IDN_OK, S(val));
		put1(f->s, ks, S("again"), STORE_NOOVERWRITE, IDN_EEXIST);
		put1(f->s, ks, S("over"), 0, IDN_OK);
		expect_get(f->s, ks, IDN_OK, S("over"));
		/* the same key one byte shorter is a different key */
		if (lens[i] > 1)
			expect_get(f->s, idn_slice_of(k, lens[i] - 1), IDN_ENOTFOUND, S(""));
		free(k);
	}
	assert_int_equal(count_of(f->s), sizeof(lens) / sizeof(lens[0]));

	/* two long keys sharing their first 478 bytes (same LMDB key head) */
	uint8_t *k1 = make_key(600, 'S', '1');
	uint8_t *k2 = make_key(600, 'S', '2');
	uint8_t *k3 = make_key(2048, 'S', '3');
	idn_slice s1 = idn_slice_of(k1, 600), s2 = idn_slice_of(k2, 600),
	          s3 = idn_slice_of(k3, 2048);
	put1(f->s, s1, S("one"), 0, IDN_OK);
	expect_get(f->s, s2, IDN_ENOTFOUND, S(""));
	put1(f->s, s2, S("two"), STORE_NOOVERWRITE, IDN_OK);
	put1(f->s, s3, S("three"), 0, IDN_OK);
	expect_get(f->s, s1, IDN_OK, S("one"));
	expect_get(f->s, s2, IDN_OK, S("two"));
	expect_get(f->s, s3, IDN_OK, S("three"));

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_del(t, s1), IDN_OK);
	assert_int_equal(store_del(t, s1), IDN_ENOTFOUND);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	expect_get(f->s, s1, IDN_ENOTFOUND, S(""));
	expect_get(f->s, s2, IDN_OK, S("two"));
	expect_get(f->s, s3, IDN_OK, S("three"));
	free(k1);
	free(k2);
	free(k3);
}

static void test_scan(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	struct collect c;
	static const char *keys[] = {"88.100.2/A", "88.100.1/B", "88.1001/X", "89/Z",
	                             "88.100.1/A", "88.100/",    "88.100.1/C"};

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(store_put(t, S(keys[i]), S("v"), 0), IDN_OK);
	/* long keys under 88.100.1/: 600 bytes, and two sharing the head */
	uint8_t *l1 = make_key(600, 'x', 'A');
	uint8_t *l2 = make_key(700, 'x', 'B');
	uint8_t *l3 = make_key(700, 'x', 'C');
	memcpy(l1, "88.100.1/", 9);
	memcpy(l2, "88.100.1/", 9);
	memcpy(l3, "88.100.1/", 9);
	assert_int_equal(store_put(t, idn_slice_of(l1, 600), S("l1"), 0), IDN_OK);
	assert_int_equal(store_put(t, idn_slice_of(l2, 700), S("l2"), 0), IDN_OK);
	assert_int_equal(store_put(t, idn_slice_of(l3, 700), S("l3"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan(t, S("88.100.1/"), collect_cb, &c), 0);
	assert_int_equal(c.n, 6);
	assert_string_equal(c.keys[0], "88.100.1/A");
	assert_string_equal(c.keys[1], "88.100.1/B");
	assert_string_equal(c.keys[2], "88.100.1/C");
	/* the long keys come out whole */
	for (int i = 3; i < 6; i++)
		assert_true(c.lens[i] == 600 || c.lens[i] == 700);
	assert_int_equal(c.lens[3] + c.lens[4] + c.lens[5], 2000);

	/* a prefix beyond the 478-byte head filters on the full key */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan(t, idn_slice_of(l2, 699), collect_cb, &c), 0);
	assert_int_equal(c.n, 2); /* l2 and l3 (l1 is shorter) */
	assert_true((c.lastbyte[0] == 'B' && c.lastbyte[1] == 'C') ||
	            (c.lastbyte[0] == 'C' && c.lastbyte[1] == 'B'));
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan(t, idn_slice_of(l3, 700), collect_cb, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.lastbyte[0], 'C');

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan(t, S("88.100"), collect_cb, &c), 0);
	assert_int_equal(c.n, 9);
	assert_string_equal(c.keys[0], "88.100.1/A");
	assert_string_equal(c.keys[6], "88.100.2/A");
	assert_string_equal(c.keys[7], "88.100/");
	assert_string_equal(c.keys[8], "88.1001/X");

	/* everything */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan(t, S(""), collect_cb, &c), 0);
	assert_int_equal(c.n, 10);
	assert_string_equal(c.keys[9], "89/Z");

	/* nothing */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan(t, S("90"), collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(store_scan(t, S("88.100.1/AA"), collect_cb, &c), 0);
	assert_int_equal(c.n, 0);

	/* early stop: the callback's value comes back */
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(store_scan(t, S("88"), collect_cb, &c), 42);
	assert_int_equal(c.n, 2);

	store_txn_abort(t);
	free(l1);
	free(l2);
	free(l3);
}

static void test_homed(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	struct collect c;

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_is_homed(t, S("88.100")), 0);
	assert_int_equal(store_home(t, S("88.200")), IDN_OK);
	assert_int_equal(store_home(t, S("88.100")), IDN_OK);
	assert_int_equal(store_home(t, S("88.100")), IDN_OK); /* idempotent */
	assert_int_equal(store_home(t, S("88.100.1")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_is_homed(t, S("88.100")), 1);
	assert_int_equal(store_is_homed(t, S("88.10")), 0);
	assert_int_equal(store_is_homed(t, S("88.300")), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_list_homed(t, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.keys[0], "88.100");
	assert_string_equal(c.keys[1], "88.100.1");
	assert_string_equal(c.keys[2], "88.200");
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	assert_int_equal(store_list_homed(t, collect_cb, &c), 42);
	assert_int_equal(c.n, 1);
	store_txn_abort(t);

	/* homed prefixes are not records */
	assert_int_equal(count_of(f->s), 0);

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_unhome(t, S("88.100")), IDN_OK);
	assert_int_equal(store_unhome(t, S("88.100")), IDN_ENOTFOUND);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_is_homed(t, S("88.100")), 0);
	assert_int_equal(store_is_homed(t, S("88.100.1")), 1);
	store_txn_abort(t);
}

static void test_durability(void **state)
{
	struct fx *f = *state;
	store_txn *t;

	uint8_t *lk = make_key(1500, 'D', 'x');
	put1(f->s, S("88.100.1/durable"), S("yes"), 0, IDN_OK);
	put1(f->s, idn_slice_of(lk, 1500), S("long"), 0, IDN_OK);
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_home(t, S("88.100.1")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	store_close(f->s);
	f->s = open_at(f->dir, 0, 0);

	expect_get(f->s, S("88.100.1/durable"), IDN_OK, S("yes"));
	expect_get(f->s, idn_slice_of(lk, 1500), IDN_OK, S("long"));
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_is_homed(t, S("88.100.1")), 1);
	store_txn_abort(t);
	assert_int_equal(count_of(f->s), 2);
	free(lk);
}

static void test_abort(void **state)
{
	struct fx *f = *state;
	store_txn *t;

	put1(f->s, S("keep"), S("k"), 0, IDN_OK);
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S("gone"), S("g"), 0), IDN_OK);
	assert_int_equal(store_put(t, S("keep"), S("changed"), 0), IDN_OK);
	assert_int_equal(store_home(t, S("88.9")), IDN_OK);
	store_txn_abort(t);

	expect_get(f->s, S("gone"), IDN_ENOTFOUND, S(""));
	expect_get(f->s, S("keep"), IDN_OK, S("k"));
	assert_int_equal(count_of(f->s), 1);
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_is_homed(t, S("88.9")), 0);
	assert_int_equal(store_txn_commit(t), IDN_OK); /* commit of a read txn just ends it */
}

static void test_reset_renew(void **state)
{
	struct fx *f = *state;
	store_txn *r;
	idn_slice v;
	uint64_t n;

	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &r), IDN_OK);
	assert_int_equal(store_get(r, S("k"), &v), IDN_ENOTFOUND);

	put1(f->s, S("k"), S("v1"), 0, IDN_OK);
	/* still the old snapshot */
	assert_int_equal(store_get(r, S("k"), &v), IDN_ENOTFOUND);
	store_txn_reset(r);
	store_txn_reset(r); /* twice is harmless */
	assert_int_equal(store_txn_renew(r), IDN_OK);
	assert_int_equal(store_get(r, S("k"), &v), IDN_OK);
	assert_int_equal(v.len, 2);
	assert_memory_equal(v.p, "v1", 2);

	/* renew of a live txn takes a fresh snapshot too */
	put1(f->s, S("k2"), S("v2"), 0, IDN_OK);
	assert_int_equal(store_txn_renew(r), IDN_OK);
	assert_int_equal(store_count(r, &n), IDN_OK);
	assert_int_equal(n, 2);

	/* a thread holding a read txn may write (no self-deadlock) */
	put1(f->s, S("k3"), S("v3"), 0, IDN_OK);
	store_txn_reset(r);
	assert_int_equal(store_txn_renew(r), IDN_OK);
	assert_int_equal(store_count(r, &n), IDN_OK);
	assert_int_equal(n, 3);

	/* abort of a reset txn frees it */
	store_txn_reset(r);
	store_txn_abort(r);

	/* reset/renew are read-only operations */
	store_txn *w;
	assert_int_equal(store_txn_begin(f->s, 0, &w), IDN_OK);
	store_txn_reset(w); /* no-op */
	assert_int_equal(store_txn_renew(w), IDN_EINVAL);
	assert_int_equal(store_put(w, S("k4"), S("v4"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(w), IDN_OK);
	expect_get(f->s, S("k4"), IDN_OK, S("v4"));
}

static void test_count(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	char k[32];
	uint64_t n;

	assert_int_equal(count_of(f->s), 0);
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "88.100.1/%d", i);
		assert_int_equal(store_put(t, S(k), S("x"), 0), IDN_OK);
	}
	uint8_t *lk = make_key(1000, 'c', 'c');
	assert_int_equal(store_put(t, idn_slice_of(lk, 1000), S("x"), 0), IDN_OK);
	/* the writer sees its own writes */
	assert_int_equal(store_count(t, &n), IDN_OK);
	assert_int_equal(n, 1001);
	assert_int_equal(store_del(t, S("88.100.1/7")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	assert_int_equal(count_of(f->s), 1000);
	free(lk);
}

static void test_open(void **state)
{
	struct fx *f = *state;
	store *s = (store *)1;
	char path[128];
	struct stat st;

	assert_int_equal(store_open("postgresql://localhost/idn", NULL, &s), IDN_ENOTSUP);
	assert_null(s);
	assert_int_equal(store_open("postgres://u@h/db", NULL, &s), IDN_ENOTSUP);
	assert_int_equal(store_open("PostgreSQL://h/db", NULL, &s), IDN_ENOTSUP);
	assert_int_equal(store_open("", NULL, &s), IDN_EINVAL);
	assert_int_equal(store_open(NULL, NULL, &s), IDN_EINVAL);

	/* mkdir -p, mode 0750, NULL opts = defaults */
	snprintf(path, sizeof(path), "%s/a/b/c/", f->dir);
	assert_int_equal(store_open(path, NULL, &s), IDN_OK);
	assert_string_equal(store_lmdb_ops.name, s->ops->name);
	put1(s, S("x"), S("y"), 0, IDN_OK);
	store_close(s);
	snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777 & ~0750, 0);
	s = open_at(path, 0, 0);
	expect_get(s, S("x"), IDN_OK, S("y"));
	store_close(s);

	/* a file where the directory should be */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_true(store_open(path, NULL, &s) < 0);
	assert_null(s);
	snprintf(path, sizeof(path), "%s/file/sub", f->dir);
	assert_true(store_open(path, NULL, &s) < 0);
	assert_null(s);
}

/* ---- LMDB-specific: corrupt entries written behind the store's back ---- */

static void raw_put(const char *dir, const void *k, size_t klen, const void *v, size_t vlen)
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
	raw_put(f->dir, "bad-kind", 8, "\x07rec", 4);
	/* empty value (no kind byte) */
	raw_put(f->dir, "empty", 5, "", 0);
	/* a short key claiming to be long */
	raw_put(f->dir, "fake-long", 9, "\x01\x00\x00\x00\x05hello", 10);

	/* long key A's slot holding key B (same head, other tail): a "collision" */
	uint8_t *ka = make_key(600, 'H', 'A');
	uint8_t *kb = make_key(600, 'H', 'B');
	long_db_key(ka, 600, dbk);
	val[0] = 1;
	idn_put_be32(val + 1, 600);
	memcpy(val + 5, kb, 600);
	memcpy(val + 605, "rec", 3);
	raw_put(f->dir, dbk, 510, val, 608);

	/* long key C: announced key length beyond the value */
	uint8_t *kc = make_key(700, 'J', 'C');
	long_db_key(kc, 700, dbk);
	val[0] = 1;
	idn_put_be32(val + 1, 5000);
	memcpy(val + 5, kc, 700);
	raw_put(f->dir, dbk, 510, val, 705);
	/* long key D: header cut short */
	uint8_t *kd = make_key(800, 'K', 'D');
	long_db_key(kd, 800, dbk);
	raw_put(f->dir, dbk, 510, "\x01\x00\x00", 3);
	/* long key E: key length announced as short (<= 478) */
	uint8_t *ke = make_key(800, 'M', 'E');
	long_db_key(ke, 800, dbk);
	val[0] = 1;
	idn_put_be32(val + 1, 10);
	memcpy(val + 5, ke, 800);
	raw_put(f->dir, dbk, 510, val, 805);

	f->s = open_at(f->dir, 0, 0);
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
	char path[128];

	assert_non_null(buf);
	store_close(f->s);
	rm_tree(f->dir);
	f->s = open_at(f->dir, 1u << 20, 1);

	int retries = write_records(f->s, 0, n, buf);
	print_message("map growth: %u records, %d batch retries\n", n, retries);
	verify_records(f->s, n, buf);

	/* it persists, and a reopen with a small map size adapts */
	store_close(f->s);
	f->s = open_at(f->dir, 1u << 20, 0);
	verify_records(f->s, n, buf);
	write_records(f->s, n, n + 1000, buf);
	verify_records(f->s, n + 1000, buf);

	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
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
	rm_tree(f->dir);
	f->s = open_at(f->dir, 1u << 20, 1);

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
	rm_tree(f->dir);
	f->s = open_at(f->dir, 1u << 20, 1);
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
	rm_tree(f->dir);
	f->s = open_at(f->dir, 1u << 20, 1);
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
	    cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_homed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_durability, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_renew, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_map_growth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_map_full_then_grow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_growth_with_readers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_write_while_reading, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
