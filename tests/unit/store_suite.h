/*
 * store_suite.h - the storage test suite every backend passes (store/store.h
 * only). A backend's test file defines a struct suite_backend (how to make a
 * fresh, empty store location and remove it), sets suite_be, and registers
 * STORE_SUITE_TESTS beside its own backend-specific cases:
 *
 *   test_store.c     LMDB (a temp directory per test)
 *   test_store_pg.c  PostgreSQL (a database per test program, emptied per test)
 *
 * Included by exactly one .c per test program: it defines static functions.
 */
#ifndef IDN_TESTS_STORE_SUITE_H
#define IDN_TESTS_STORE_SUITE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/err.h"
#include "proto/record.h"
#include "store/bulkload.h"
#include "store/index.h"
#include "index_assert.h"
#include "store/store.h"

struct suite_backend {
	const char *name;
	/* Writes a fresh, empty location into loc (cap bytes); 0 or -1. */
	int (*make)(char *loc, size_t cap);
	/* Removes what make() created. */
	void (*destroy)(const char *loc);
};

/* Set by the backend's test file before the tests run. */
static const struct suite_backend *suite_be;

/* ---- fixtures ---- */

struct fx {
	char loc[1024]; /* a directory (LMDB) or a connection URI (PostgreSQL) */
	store *s;
};

static inline store *suite_open(const char *loc)
{
	store *s = NULL;
	int rc = store_open(loc, NULL, &s);
	assert_int_equal(rc, IDN_OK);
	assert_non_null(s);
	return s;
}

static inline void suite_reopen(struct fx *f)
{
	store_close(f->s);
	f->s = suite_open(f->loc);
}

static inline int suite_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (suite_be->make(f->loc, sizeof(f->loc))) {
		free(f);
		return -1;
	}
	f->s = suite_open(f->loc);
	*state = f;
	return 0;
}

static inline int suite_teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	suite_be->destroy(f->loc);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static inline idn_slice S(const char *s)
{
	return idn_slice_of(s, strlen(s));
}

static inline void put1(store *s, idn_slice k, idn_slice v, unsigned flags, int want)
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

/* Gets k in t; checks the result and, if found, the value. */
static inline void expect_get_in(store_txn *t, idn_slice k, int want, idn_slice wantv)
{
	idn_slice v = {0};
	assert_int_equal(store_get(t, k, &v), want);
	if (want == IDN_OK) {
		assert_int_equal(v.len, wantv.len);
		if (v.len)
			assert_memory_equal(v.p, wantv.p, v.len);
	}
}

/* Gets k in a fresh read txn; checks the result and, if found, the value. */
static inline void expect_get(store *s, idn_slice k, int want, idn_slice wantv)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	expect_get_in(t, k, want, wantv);
	store_txn_abort(t);
}

static inline uint64_t count_of(store *s)
{
	store_txn *t;
	uint64_t n = 0;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_count(t, &n), IDN_OK);
	store_txn_abort(t);
	return n;
}

/* A key of len bytes: head_fill repeated, then a tag at the very end. */
static inline uint8_t *make_key(size_t len, char head_fill, char tag)
{
	uint8_t *k = malloc(len);
	assert_non_null(k);
	memset(k, head_fill, len);
	k[len - 1] = (uint8_t)tag;
	return k;
}

/* Deterministic record i: 1 KiB to 4 KiB of pseudo-random bytes. */
static inline size_t rec_fill(uint32_t i, uint8_t *buf)
{
	size_t len = 1024 + (i * 7919u) % 3073;
	uint32_t x = i * 2654435761u + 1;
	for (size_t j = 0; j < len; j++) {
		x = x * 1103515245u + 12345u;
		buf[j] = (uint8_t)(x >> 16);
	}
	return len;
}

static inline size_t rec_key(uint32_t i, char *buf)
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

static inline int collect_cb(void *arg, idn_slice key, idn_slice val)
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
	/* in key order: l1 (its 'A' sorts before the others' 'x'), l2, l3 */
	assert_int_equal(c.lastbyte[3], 'A');
	assert_int_equal(c.lastbyte[4], 'B');
	assert_int_equal(c.lastbyte[5], 'C');

	/* a prefix beyond the 478-byte head filters on the full key */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan(t, idn_slice_of(l2, 699), collect_cb, &c), 0);
	assert_int_equal(c.n, 2);             /* l2 and l3 (l1 is shorter) */
	assert_int_equal(c.lastbyte[0], 'B'); /* key order, though LMDB stores them by hash */
	assert_int_equal(c.lastbyte[1], 'C');
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

/* scan_from: the keys of the prefix from the first >= start on */
static void test_scan_from(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	struct collect c;
	static const char *keys[] = {"88.100.2/A", "88.100.1/B", "88.1001/X", "89/Z",
	                             "88.100.1/A", "88.100/",    "88.100.1/C"};

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(store_put(t, S(keys[i]), S("v"), 0), IDN_OK);
	/* long keys: l2 and l3 share their first 478 bytes (and l1 sorts before both) */
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
	/* an existing key is included */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan_from(t, S("88.100.1/"), S("88.100.1/B"), collect_cb, &c), 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.keys[0], "88.100.1/B");
	assert_string_equal(c.keys[1], "88.100.1/C");
	/* a start between keys, and an extension of a key (after it) */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan_from(t, S("88.100.1/"), S("88.100.1/A\x01"), collect_cb, &c),
	                 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.keys[0], "88.100.1/B");
	/* a start before the prefix is the prefix's start; empty is too */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan_from(t, S("88.100.1/"), S("0"), collect_cb, &c), 0);
	assert_int_equal(c.n, 6);
	assert_string_equal(c.keys[0], "88.100.1/A");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan_from(t, S("88.100.1/"), S(""), collect_cb, &c), 0);
	assert_int_equal(c.n, 6);
	/* a start after the prefix's keys: nothing */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan_from(t, S("88.100.1/"), S("88.100.2"), collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	/* no prefix: from the start to the end of the store */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan_from(t, S(""), S("88.100/"), collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.keys[0], "88.100/");
	assert_string_equal(c.keys[1], "88.1001/X");
	assert_string_equal(c.keys[2], "89/Z");
	/* a start among long keys sharing their head: only the keys >= it */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan_from(t, S("88.100.1/"), idn_slice_of(l2, 700), collect_cb, &c),
	                 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.lastbyte[0], 'B'); /* in key order, as every scan */
	assert_int_equal(c.lastbyte[1], 'C');
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_scan_from(t, S("88.100.1/"), idn_slice_of(l3, 700), collect_cb, &c),
	                 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.lastbyte[0], 'C');
	/* early stop */
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	assert_int_equal(store_scan_from(t, S("88"), S("88.100.2/A"), collect_cb, &c), 42);
	assert_string_equal(c.keys[0], "88.100.2/A");
	/* bad input */
	uint8_t *big = make_key(STORE_KEY_MAX + 1, 'b', 'b');
	assert_int_equal(
	    store_scan_from(t, S(""), idn_slice_of(big, STORE_KEY_MAX + 1), collect_cb, &c),
	    IDN_ERANGE);
	assert_int_equal(store_scan_from(t, S(""), idn_slice_of(NULL, 3), collect_cb, &c),
	                 IDN_EINVAL);
	free(big);
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

	suite_reopen(f);

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

/*
 * store_snapshot_id: a store that can say gives two snapshots with no write
 * committed between them the same identity and a snapshot after a write
 * another; one that cannot says 0 always.
 */
static void test_snapshot_id(void **state)
{
	struct fx *f = *state;
	store_txn *r, *w;

	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &r), IDN_OK);
	uint64_t a = store_snapshot_id(r);
	store_txn_reset(r);
	assert_int_equal(store_snapshot_id(r), 0); /* no snapshot held */
	assert_int_equal(store_txn_renew(r), IDN_OK);
	assert_true(store_snapshot_id(r) == a);

	/* an aborted write changes nothing */
	assert_int_equal(store_txn_begin(f->s, 0, &w), IDN_OK);
	assert_int_equal(store_snapshot_id(w), 0); /* a write txn has no fixed snapshot */
	assert_int_equal(store_home(w, S("88.7")), IDN_OK);
	store_txn_abort(w);
	assert_int_equal(store_txn_renew(r), IDN_OK);
	assert_true(store_snapshot_id(r) == a);

	/* a committed one (homing, then a record) does */
	assert_int_equal(store_txn_begin(f->s, 0, &w), IDN_OK);
	assert_int_equal(store_home(w, S("88.7")), IDN_OK);
	assert_int_equal(store_txn_commit(w), IDN_OK);
	assert_true(store_snapshot_id(r) == a); /* the snapshot taken before */
	assert_int_equal(store_txn_renew(r), IDN_OK);
	uint64_t b = store_snapshot_id(r);
	assert_int_equal(store_is_homed(r, S("88.7")), 1);
	put1(f->s, S("k"), S("v"), 0, IDN_OK);
	assert_int_equal(store_txn_renew(r), IDN_OK);
	uint64_t c = store_snapshot_id(r);
	if (a == 0) { /* cannot say */
		assert_true(b == 0 && c == 0);
	} else {
		assert_true(b != 0 && c != 0 && a != b && b != c && a != c);
	}
	store_txn_abort(r);
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

/* Scans longer than a backend's page (PostgreSQL: 1000 rows), a full-length key inside. */
struct ordered {
	int n, bad_order;
	uint8_t last[STORE_KEY_MAX];
	size_t lastlen;
};

static int ordered_cb(void *arg, idn_slice key, idn_slice val)
{
	struct ordered *o = arg;
	(void)val;
	if (o->n) {
		size_t m = key.len < o->lastlen ? key.len : o->lastlen;
		int c = memcmp(o->last, key.p, m);
		if (c > 0 || (c == 0 && o->lastlen >= key.len))
			o->bad_order++;
	}
	memcpy(o->last, key.p, key.len);
	o->lastlen = key.len;
	o->n++;
	return 0;
}

static void test_scan_many(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	char k[32];
	static struct ordered o;

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (int i = 0; i < 2500; i++) {
		snprintf(k, sizeof(k), "88.100.1/M%05d", i);
		assert_int_equal(store_put(t, S(k), S("v"), 0), IDN_OK);
	}
	/* the longest key there is, sorting among the others, and one right after it */
	uint8_t *lk = make_key(STORE_KEY_MAX, 'z', 'z');
	memcpy(lk, "88.100.1/M00999", 15);
	assert_int_equal(store_put(t, idn_slice_of(lk, STORE_KEY_MAX), S("long"), 0), IDN_OK);
	assert_int_equal(store_put(t, S("88.100.1/M01000"), S("v2"), 0), IDN_OK);
	assert_int_equal(store_put(t, S("88.100.2/OTHER"), S("v"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	memset(&o, 0, sizeof(o));
	assert_int_equal(store_scan(t, S("88.100.1/"), ordered_cb, &o), 0);
	assert_int_equal(o.n, 2501);
	assert_int_equal(o.bad_order, 0);
	memset(&o, 0, sizeof(o));
	assert_int_equal(store_scan(t, S(""), ordered_cb, &o), 0);
	assert_int_equal(o.n, 2502);
	assert_int_equal(o.bad_order, 0);
	store_txn_abort(t);
	free(lk);
}

/* A paged reader: pages of PAGE keys, each resumed from the last key seen. */
struct pager {
	int n, page, in_page, bad_order;
	uint8_t last[STORE_KEY_MAX];
	size_t lastlen;
	bool skip_last; /* the page starts at last itself: skip it */
};

static int pager_cb(void *arg, idn_slice key, idn_slice val)
{
	struct pager *p = arg;
	(void)val;
	if (p->skip_last) {
		p->skip_last = false;
		if (key.len == p->lastlen && memcmp(key.p, p->last, key.len) == 0)
			return 0;
		p->bad_order++; /* the resume key itself must come first */
	}
	if (p->n) {
		size_t m = key.len < p->lastlen ? key.len : p->lastlen;
		int c = memcmp(p->last, key.p, m);
		if (c > 0 || (c == 0 && p->lastlen >= key.len))
			p->bad_order++;
	}
	memcpy(p->last, key.p, key.len);
	p->lastlen = key.len;
	p->n++;
	return ++p->in_page == p->page ? 1 : 0;
}

static void test_scan_pages(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	char k[32];
	static struct pager p;

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (int i = 0; i < 2500; i++) {
		snprintf(k, sizeof(k), "88.100.1/P%05d", i);
		assert_int_equal(store_put(t, S(k), S("v"), 0), IDN_OK);
	}
	uint8_t *lk = make_key(STORE_KEY_MAX, 'z', 'z');
	memcpy(lk, "88.100.1/P01499", 15);
	assert_int_equal(store_put(t, idn_slice_of(lk, STORE_KEY_MAX), S("long"), 0), IDN_OK);
	/* 30 long keys sharing their first 478 bytes (LMDB keeps them in hash
	 * order), of several lengths: pages end inside the group too */
	uint8_t *gk = make_key(600, 'g', 'g');
	memcpy(gk, "88.100.1/G", 10);
	for (int i = 0; i < 30; i++) {
		size_t len = 500 + (size_t)(i % 3) * 40;
		gk[len - 2] = (uint8_t)('A' + i / 3);
		gk[len - 1] = (uint8_t)('a' + i % 3);
		assert_int_equal(store_put(t, idn_slice_of(gk, len), S("g"), 0), IDN_OK);
		gk[len - 2] = gk[len - 1] = 'g';
	}
	free(gk);
	assert_int_equal(store_put(t, S("88.100.2/OTHER"), S("v"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	/* pages of 7 (not a divisor of anything here), 1 and 1200 (across the
	 * backends' own internal pages) */
	static const int sizes[] = {7, 1, 1200};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		memset(&p, 0, sizeof(p));
		p.page = sizes[s];
		int pages = 0, rc;
		assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
		do {
			idn_slice from = idn_slice_of(p.n ? p.last : NULL, p.n ? p.lastlen : 0);
			p.in_page = 0;
			p.skip_last = p.n > 0;
			rc = store_scan_from(t, S("88.100.1/"), from, pager_cb, &p);
			assert_true(rc == 0 || rc == 1);
			pages++;
			assert_true(pages <= 2700);
		} while (rc == 1);
		store_txn_abort(t);
		assert_int_equal(p.n, 2531);
		assert_int_equal(p.bad_order, 0);
		assert_int_equal(pages, 2531 / p.page + 1);
	}
	free(lk);
}

/* ---- the transaction log ---- */

struct logged {
	int n;
	uint64_t seq[64];
	uint32_t idx[64];
	int op[64];
	char key[64][48];
	char val[64][128];
	uint64_t bytes; /* 25 + key + val per change, as the backends count */
	uint64_t time_ms;
};

static inline int logged_cb(void *arg, const store_change *c)
{
	struct logged *l = arg;
	if (l->n < 64) {
		snprintf(l->key[l->n], sizeof(l->key[0]), "%.*s", (int)c->key.len,
		         (const char *)c->key.p);
		snprintf(l->val[l->n], sizeof(l->val[0]), "%.*s", (int)c->val.len,
		         (const char *)c->val.p);
		l->seq[l->n] = c->seq;
		l->idx[l->n] = c->n;
		l->op[l->n] = c->op;
	}
	l->bytes += 25 + c->key.len + c->val.len;
	l->time_ms = c->time_ms;
	l->n++;
	return 0;
}

/* Reads the log from `from` in a fresh read txn; returns store_log_read's code. */
static inline int log_from(store *s, uint64_t from, uint64_t max_txns, struct logged *l)
{
	store_txn *t;
	memset(l, 0, sizeof(*l));
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	int rc = store_log_read(t, from, max_txns, logged_cb, l);
	store_txn_abort(t);
	return rc;
}

static inline void log_state_is(store *s, uint64_t last, uint64_t oldest)
{
	store_txn *t;
	uint64_t l = 99, o = 99;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_log_state(t, &l, &o), IDN_OK);
	store_txn_abort(t);
	assert_int_equal(l, last);
	assert_int_equal(o, oldest);
}

static inline void suite_reopen_opts(struct fx *f, const store_opts *o)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->loc, o, &f->s), IDN_OK);
}

static void test_log_changes(void **state)
{
	struct fx *f = *state;
	struct logged l;
	store_txn *t;

	log_state_is(f->s, 0, 1);
	assert_int_equal(log_from(f->s, 1, 0, &l), IDN_OK);
	assert_int_equal(l.n, 0);

	uint64_t before = store_now_ms();
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S("88.1/a"), S("rec-a"), 0), IDN_OK);
	assert_int_equal(store_put(t, S("88.1/b"), S("rec-b"), 0), IDN_OK);
	assert_int_equal(store_del(t, S("88.1/a")), IDN_OK);
	assert_int_equal(store_home(t, S("88.1")), IDN_OK);
	assert_int_equal(store_home(t, S("88.2")), IDN_OK);
	assert_int_equal(store_unhome(t, S("88.2")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	log_state_is(f->s, 1, 1);

	assert_int_equal(log_from(f->s, 1, 0, &l), IDN_OK);
	assert_int_equal(l.n, 6);
	static const int ops[6] = {STORE_LOG_PUT,  STORE_LOG_PUT,  STORE_LOG_DEL,
	                           STORE_LOG_HOME, STORE_LOG_HOME, STORE_LOG_UNHOME};
	static const char *const keys[6] = {"88.1/a", "88.1/b", "88.1/a", "88.1", "88.2", "88.2"};
	static const char *const vals[6] = {"rec-a", "rec-b", "", "", "", ""};
	for (int i = 0; i < 6; i++) {
		assert_int_equal(l.seq[i], 1);
		assert_int_equal(l.idx[i], i);
		assert_int_equal(l.op[i], ops[i]);
		assert_string_equal(l.key[i], keys[i]);
		assert_string_equal(l.val[i], vals[i]);
	}
	assert_true(l.time_ms >= before && l.time_ms <= store_now_ms());

	/* nothing changed: failed writes, reads, an abort take no sequence number */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_del(t, S("88.1/missing")), IDN_ENOTFOUND);
	assert_int_equal(store_put(t, S("88.1/b"), S("x"), STORE_NOOVERWRITE), IDN_EEXIST);
	assert_int_equal(store_unhome(t, S("88.9")), IDN_ENOTFOUND);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S("88.1/c"), S("aborted"), 0), IDN_OK);
	store_txn_abort(t);
	log_state_is(f->s, 1, 1);

	put1(f->s, S("88.1/c"), S("rec-c"), 0, IDN_OK);
	log_state_is(f->s, 2, 1);
	assert_int_equal(log_from(f->s, 2, 0, &l), IDN_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.seq[0], 2);
	assert_string_equal(l.key[0], "88.1/c");
	assert_string_equal(l.val[0], "rec-c");

	/* a bound on transactions; the end of the log; positions it never had */
	assert_int_equal(log_from(f->s, 1, 1, &l), IDN_OK);
	assert_int_equal(l.n, 6);
	assert_int_equal(log_from(f->s, 3, 0, &l), IDN_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(log_from(f->s, 4, 0, &l), IDN_ERANGE);
	assert_int_equal(log_from(f->s, 0, 0, &l), IDN_ERANGE);

	/* a read txn sees the log of its snapshot (PostgreSQL takes it at the first read) */
	store_txn *r;
	uint64_t last, oldest;
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &r), IDN_OK);
	assert_int_equal(store_log_state(r, &last, &oldest), IDN_OK);
	put1(f->s, S("88.1/d"), S("rec-d"), 0, IDN_OK);
	assert_int_equal(store_log_state(r, &last, &oldest), IDN_OK);
	assert_int_equal(last, 2);
	store_txn_abort(r);
	log_state_is(f->s, 3, 1);

	suite_reopen(f);
	log_state_is(f->s, 3, 1);
	assert_int_equal(log_from(f->s, 1, 0, &l), IDN_OK);
	assert_int_equal(l.n, 8);
	assert_int_equal(l.seq[7], 3);
	assert_string_equal(l.key[7], "88.1/d");
}

/* Group commit: requests nested in one write txn, each kept or dropped whole. */
static void test_nested(void **state)
{
	struct fx *f = *state;
	store_txn *t, *c;
	struct logged l;

	if (!store_can_nest(f->s)) {
		assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
		assert_int_equal(store_txn_nest(t, &c), IDN_ENOTSUP);
		store_txn_abort(t);
		skip();
	}
	put1(f->s, S("88.1/old"), S("o"), 0, IDN_OK);
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	/* kept: its changes are seen by the parent and the children after it */
	assert_int_equal(store_txn_nest(t, &c), IDN_OK);
	assert_int_equal(store_put(c, S("88.1/a"), S("a"), 0), IDN_OK);
	assert_int_equal(store_home(c, S("88.1")), IDN_OK);
	assert_int_equal(store_txn_commit(c), IDN_OK);
	/* dropped: a change and a delete vanish, the parent unharmed */
	assert_int_equal(store_txn_nest(t, &c), IDN_OK);
	expect_get_in(c, S("88.1/a"), IDN_OK, S("a"));
	assert_int_equal(store_put(c, S("88.1/b"), S("b"), 0), IDN_OK);
	assert_int_equal(store_del(c, S("88.1/old")), IDN_OK);
	store_txn_abort(c);
	expect_get_in(t, S("88.1/b"), IDN_ENOTFOUND, S(""));
	expect_get_in(t, S("88.1/old"), IDN_OK, S("o"));
	/* kept, after a dropped one */
	assert_int_equal(store_txn_nest(t, &c), IDN_OK);
	assert_int_equal(store_put(c, S("88.1/c"), S("c"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(c), IDN_OK);
	/* nothing is visible outside, nor durable, before the parent commits */
	expect_get(f->s, S("88.1/a"), IDN_ENOTFOUND, S(""));
	assert_int_equal(store_txn_commit(t), IDN_OK);

	suite_reopen(f);
	expect_get(f->s, S("88.1/a"), IDN_OK, S("a"));
	expect_get(f->s, S("88.1/b"), IDN_ENOTFOUND, S(""));
	expect_get(f->s, S("88.1/c"), IDN_OK, S("c"));
	expect_get(f->s, S("88.1/old"), IDN_OK, S("o"));
	/* one transaction in the log, with the kept children's changes only */
	log_state_is(f->s, 2, 1);
	assert_int_equal(log_from(f->s, 2, 0, &l), IDN_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.key[0], "88.1/a");
	assert_int_equal(l.op[1], STORE_LOG_HOME);
	assert_string_equal(l.key[2], "88.1/c");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(l.seq[i], 2);
		assert_int_equal(l.idx[i], i);
	}
}

static void test_log_prune_size(void **state)
{
	struct fx *f = *state;
	store_opts o = {.log_max_bytes = 1000};
	struct logged l;
	char key[32], val[101];

	suite_reopen_opts(f, &o);
	memset(val, 'v', 100);
	val[100] = '\0';
	for (int i = 1; i <= 50; i++) {
		snprintf(key, sizeof(key), "88.1/k%03d", i);
		put1(f->s, S(key), S(val), 0, IDN_OK);
	}
	store_txn *t;
	uint64_t last, oldest;
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_log_state(t, &last, &oldest), IDN_OK);
	store_txn_abort(t);
	assert_int_equal(last, 50);
	/* 133 bytes a transaction: 7 fit in 1000 */
	assert_int_equal(oldest, 44);
	assert_int_equal(log_from(f->s, oldest, 0, &l), IDN_OK);
	assert_int_equal(l.n, 7);
	assert_true(l.bytes <= 1000);
	assert_int_equal(l.seq[0], 44);
	assert_string_equal(l.key[0], "88.1/k044");
	assert_int_equal(log_from(f->s, oldest - 1, 0, &l), IDN_ERANGE);
	assert_int_equal(count_of(f->s), 50); /* pruning the log never touches the data */

	/* one transaction larger than the bound: not kept, the log restarts after it */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "88.1/big%03d", i);
		assert_int_equal(store_put(t, S(key), S(val), 0), IDN_OK);
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);
	log_state_is(f->s, 51, 52);
	assert_int_equal(log_from(f->s, 51, 0, &l), IDN_ERANGE);
	assert_int_equal(log_from(f->s, 52, 0, &l), IDN_OK);
	assert_int_equal(l.n, 0);
	expect_get(f->s, S("88.1/big019"), IDN_OK, S(val));
	/* a txn told not to log: the same */
	assert_int_equal(store_txn_begin(f->s, STORE_NOLOG, &t), IDN_OK);
	assert_int_equal(store_put(t, S("88.1/nolog"), S("x"), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	log_state_is(f->s, 52, 53);
	assert_int_equal(log_from(f->s, 53, 0, &l), IDN_OK);
	assert_int_equal(l.n, 0);
	expect_get(f->s, S("88.1/nolog"), IDN_OK, S("x"));
	put1(f->s, S("88.1/after"), S("x"), 0, IDN_OK);
	log_state_is(f->s, 53, 53);
	assert_int_equal(log_from(f->s, 53, 0, &l), IDN_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.key[0], "88.1/after");
}

static void test_log_prune_age(void **state)
{
	struct fx *f = *state;
	store_opts o = {.log_max_age = 1};
	struct logged l;

	suite_reopen_opts(f, &o);
	put1(f->s, S("88.1/old"), S("x"), 0, IDN_OK);
	put1(f->s, S("88.1/old2"), S("x"), 0, IDN_OK);
	struct timespec ts = {1, 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
	put1(f->s, S("88.1/new"), S("y"), 0, IDN_OK);
	log_state_is(f->s, 3, 3);
	assert_int_equal(log_from(f->s, 3, 0, &l), IDN_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.key[0], "88.1/new");
}

static void test_meta(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	idn_slice v;
	char longname[STORE_META_NAME_MAX + 2];

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_meta_get(t, "repl.pos", &v), IDN_ENOTFOUND);
	assert_int_equal(store_meta_put(t, "repl.pos", S("12345")), IDN_OK);
	assert_int_equal(store_meta_put(t, "log.seq", S("not the log's")), IDN_OK);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(store_meta_put(t, longname, S("x")), IDN_ERANGE);
	assert_int_equal(store_meta_put(t, "", S("x")), IDN_EINVAL);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	log_state_is(f->s, 0, 1); /* meta values are not logged */

	suite_reopen(f);
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_meta_get(t, "repl.pos", &v), IDN_OK);
	assert_int_equal(v.len, 5);
	assert_memory_equal(v.p, "12345", 5);
	assert_int_equal(store_meta_put(t, "repl.pos", S("1")), IDN_EINVAL); /* read-only */
	store_txn_abort(t);

	/* the log is untouched by a meta value of the same name */
	put1(f->s, S("88.1/x"), S("x"), 0, IDN_OK);
	log_state_is(f->s, 1, 1);
}

/* The store's format version, read through the meta API; 0 when absent. */
static inline uint64_t format_version(store *s)
{
	store_txn *t;
	idn_slice v;
	uint64_t ver = 0;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	int rc = store_meta_get(t, STORE_FORMAT_META, &v);
	if (rc == IDN_OK) {
		assert_int_equal(v.len, 8);
		ver = store_be64(v.p);
	} else {
		assert_int_equal(rc, IDN_ENOTFOUND);
	}
	store_txn_abort(t);
	return ver;
}

/* The backend's own open, without store_open's format check. */
static inline store *raw_open(const char *loc)
{
	store *s = NULL;
	const struct store_ops *ops = strncmp(loc, "postgres", 8) ? &store_lmdb_ops : &store_pg_ops;
	assert_int_equal(ops->open(loc, NULL, &s), IDN_OK);
	return s;
}

static inline void raw_format(const char *loc, uint64_t ver, size_t len)
{
	store *s = raw_open(loc);
	store_txn *t;
	uint8_t be[8];
	store_put_be64(be, ver);
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_meta_put(t, STORE_FORMAT_META, idn_slice_of(be, len)), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	store_close(s);
}

/*
 * The on-disk format version: a new store is stamped; a store written
 * without one (as by the release before versions: records, a homed prefix,
 * no format value) opens with its data and is stamped; a newer one, or an
 * unreadable value, is refused and left as it was.
 */
static void test_format_version(void **state)
{
	struct fx *f = *state;
	assert_int_equal(format_version(f->s), STORE_FORMAT_VERSION);
	store_close(f->s);
	f->s = NULL;
	suite_be->destroy(f->loc);
	assert_int_equal(suite_be->make(f->loc, sizeof(f->loc)), 0);

	/* Written by the backend alone, as before versions were kept. */
	store *old = raw_open(f->loc);
	put1(old, S("88.1/old"), S("old record"), 0, IDN_OK);
	const char *pfx = "88.1";
	size_t bad;
	assert_int_equal(store_home_prefixes(old, &pfx, 1, &bad), IDN_OK);
	assert_int_equal(format_version(old), 0);
	store_close(old);

	f->s = suite_open(f->loc);
	assert_int_equal(format_version(f->s), STORE_FORMAT_VERSION);
	store_txn *t;
	idn_slice v;
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_get(t, S("88.1/old"), &v), IDN_OK);
	assert_memory_equal(v.p, "old record", 10);
	assert_int_equal(store_is_homed(t, S("88.1")), 1);
	store_txn_abort(t);
	store_close(f->s);
	f->s = NULL;

	/* A newer store: refused, untouched. */
	raw_format(f->loc, STORE_FORMAT_VERSION + 1, 8);
	store *s = (store *)0x1;
	assert_int_equal(store_open(f->loc, NULL, &s), IDN_EVERSION);
	assert_null(s);
	s = raw_open(f->loc);
	assert_int_equal(format_version(s), STORE_FORMAT_VERSION + 1);
	store_close(s);
	/* A value that is no version: refused. */
	raw_format(f->loc, 1, 3);
	assert_int_equal(store_open(f->loc, NULL, &s), IDN_EVERSION);
	raw_format(f->loc, STORE_FORMAT_VERSION, 8);
	f->s = suite_open(f->loc);
}

struct log_order {
	uint64_t n, seq;
	uint32_t next_n;
	int bad;
};

static inline int log_order_cb(void *arg, const store_change *c)
{
	struct log_order *o = arg;
	/* in (seq, n) order without a gap: a change of the same txn or the next one's first */
	if (!(c->seq == o->seq && c->n == o->next_n) && !(c->seq == o->seq + 1 && c->n == 0))
		o->bad++;
	o->seq = c->seq;
	o->next_n = c->n + 1;
	o->n++;
	return 0;
}

/* More changes than a backend fetches at once (PostgreSQL pages them). */
static void test_log_many(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	char key[32];

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (int i = 0; i < 2500; i++) {
		snprintf(key, sizeof(key), "88.1/m%05d", i);
		assert_int_equal(store_put(t, S(key), S("v"), 0), IDN_OK);
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);
	for (int i = 0; i < 3; i++)
		put1(f->s, S("88.1/after"), S("w"), 0, IDN_OK);
	struct log_order o = {0};
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_log_read(t, 1, 0, log_order_cb, &o), IDN_OK);
	assert_int_equal(o.n, 2503);
	assert_int_equal(o.bad, 0);
	assert_int_equal(o.seq, 4);
	memset(&o, 0, sizeof(o));
	o.seq = 1;
	o.next_n = 0;
	assert_int_equal(store_log_read(t, 2, 2, log_order_cb, &o), IDN_OK);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.seq, 3);
	store_txn_abort(t);
}

/* Tables: keyed, ordered, paged past what a backend fetches at once; logged or not by table. */
static void test_tables(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	idn_slice v;
	char key[32];
	uint8_t big[STORE_TAB_KEY_MAX + 1];

	memset(big, 'k', sizeof(big));
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_tab_get(t, STORE_TAB_ACCOUNT, S("alice"), &v), IDN_ENOTFOUND);
	assert_int_equal(store_tab_put(t, STORE_TAB_ACCOUNT, S("alice"), S("a1"), 0), IDN_OK);
	assert_int_equal(
	    store_tab_put(t, STORE_TAB_ACCOUNT, S("alice"), S("a2"), STORE_NOOVERWRITE),
	    IDN_EEXIST);
	assert_int_equal(store_tab_put(t, STORE_TAB_ACCOUNT, S("bob"), S("b1"), 0), IDN_OK);
	/* the same key in another table is another entry */
	assert_int_equal(store_tab_put(t, STORE_TAB_INDEX, S("alice"), S("i1"), 0), IDN_OK);
	for (int i = 0; i < 2100; i++) {
		snprintf(key, sizeof(key), "k%05d", i);
		assert_int_equal(store_tab_put(t, STORE_TAB_INDEX, S(key), S(""), 0), IDN_OK);
	}
	assert_int_equal(store_tab_put(t, 0, S("x"), S("x"), 0), IDN_EINVAL);
	assert_int_equal(store_tab_put(t, STORE_TAB_MAX + 1, S("x"), S("x"), 0), IDN_EINVAL);
	assert_int_equal(
	    store_tab_put(t, STORE_TAB_AUDIT, idn_slice_of(big, sizeof(big)), S("x"), 0),
	    IDN_ERANGE);
	assert_int_equal(store_tab_del(t, STORE_TAB_ACCOUNT, S("carol")), IDN_ENOTFOUND);
	assert_int_equal(store_tab_del(t, STORE_TAB_ACCOUNT, S("bob")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);

	/* account changes are logged (put alice, put bob, del bob); index ones not */
	struct logged l;
	assert_int_equal(log_from(f->s, 1, 0, &l), IDN_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.op[0], STORE_LOG_TAB_PUT);
	assert_int_equal(l.op[2], STORE_LOG_TAB_DEL);

	suite_reopen(f);
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_tab_get(t, STORE_TAB_ACCOUNT, S("alice"), &v), IDN_OK);
	assert_int_equal(v.len, 2);
	assert_memory_equal(v.p, "a1", 2);
	assert_int_equal(store_tab_get(t, STORE_TAB_ACCOUNT, S("bob"), &v), IDN_ENOTFOUND);
	assert_int_equal(store_tab_put(t, STORE_TAB_ACCOUNT, S("x"), S("x"), 0), IDN_EINVAL);
	struct collect c = {0};
	assert_int_equal(store_tab_scan(t, STORE_TAB_INDEX, S("k"), S(""), collect_cb, &c), 0);
	assert_int_equal(c.n, 2100);
	assert_string_equal(c.keys[0], "k00000");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_tab_scan(t, STORE_TAB_INDEX, S("k"), S("k02090"), collect_cb, &c),
	                 0);
	assert_int_equal(c.n, 10);
	assert_string_equal(c.keys[0], "k02090");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_tab_scan(t, STORE_TAB_INDEX, S(""), S(""), collect_cb, &c), 0);
	assert_int_equal(c.n, 2101);
	assert_string_equal(c.keys[0], "alice");
	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	assert_int_equal(store_tab_scan(t, STORE_TAB_INDEX, S("k"), S("a"), collect_cb, &c), 42);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_tab_scan(t, STORE_TAB_AUDIT, S(""), S(""), collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	store_txn_abort(t);
}

/* ---- the search index (index.h) ---- */

/* A record of n values: types[i] = data[i], index 100 + i, perms[i]. */
static idn_slice ix_record(uint8_t *buf, size_t cap, size_t n, const char *const *types,
                           const char *const *data, const uint8_t *perms)
{
	proto_value v[8];
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		v[i] = (proto_value){.index = (uint32_t)(100 + i),
		                     .perms = perms[i],
		                     .type = idn_slice_of(types[i], strlen(types[i])),
		                     .data = idn_slice_of(data[i], strlen(data[i]))};
	int len = record_build(v, (uint32_t)n, buf, cap);
	assert_true(len > 0);
	return idn_slice_of(buf, (size_t)len);
}

static int ix_count_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)key;
	(void)val;
	++*(size_t *)arg;
	return 0;
}

static size_t ix_entries(store *s)
{
	store_txn *t;
	size_t n = 0;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_tab_scan(t, STORE_TAB_INDEX, S(""), S(""), ix_count_cb, &n), IDN_OK);
	store_txn_abort(t);
	return n;
}

static enum index_state ix_state(store *s)
{
	store_txn *t;
	enum index_state st;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_index_state(t, &st), IDN_OK);
	store_txn_abort(t);
	return st;
}

static void ix_set(store *s, enum index_state st)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_index_set(t, st), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

static void test_index(void **state)
{
	struct fx *f = *state;
	uint8_t b1[4096], b2[4096];
	char longurl[400];
	const char *ty[] = {"URL", "batch", "HS_ADMIN", "EMAIL", "bin"};
	const char *d1[] = {"http://a.example/1", "B7", "\x0f\xff", "x@example.org", "\xff\xfe"};
	const uint8_t pub[] = {0x0e, 0x0e, 0x0e, 0x0c, 0x0e}; /* EMAIL: admins only */
	store_txn *t, *c;

	assert_int_equal(ix_state(f->s), INDEX_ON); /* a new store */
	/* put: URL, batch and EMAIL are searchable, HS_ADMIN and bad UTF-8 are not */
	put1(f->s, S("88.1/a"), ix_record(b1, sizeof(b1), 5, ty, d1, pub), 0, IDN_OK);
	assert_int_equal(ix_entries(f->s), 3);
	index_assert_consistent(f->s);
	/* overwrite: the old URL's entry goes, the batch's stays */
	const char *d2[] = {"http://a.example/2", "B7"};
	put1(f->s, S("88.1/a"), ix_record(b2, sizeof(b2), 2, ty, d2, pub), 0, IDN_OK);
	assert_int_equal(ix_entries(f->s), 2);
	index_assert_consistent(f->s);
	/* a long value is indexed by its head */
	memset(longurl, 'u', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = 0;
	const char *d3[] = {longurl, "B7"};
	put1(f->s, S("88.1/b"), ix_record(b1, sizeof(b1), 2, ty, d3, pub), 0, IDN_OK);
	assert_int_equal(ix_entries(f->s), 4);
	index_assert_consistent(f->s);
	/* del */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_del(t, S("88.1/b")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	assert_int_equal(ix_entries(f->s), 2);
	index_assert_consistent(f->s);
	/* a nested child that aborts leaves no entry; one that commits keeps its own */
	if (store_can_nest(f->s)) {
		assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
		assert_int_equal(store_txn_nest(t, &c), IDN_OK);
		assert_int_equal(
		    store_put(c, S("88.1/c"), ix_record(b1, sizeof(b1), 2, ty, d1, pub), 0),
		    IDN_OK);
		assert_int_equal(store_del(c, S("88.1/a")), IDN_OK);
		store_txn_abort(c);
		assert_int_equal(store_txn_nest(t, &c), IDN_OK);
		assert_int_equal(
		    store_put(c, S("88.1/d"), ix_record(b1, sizeof(b1), 1, ty, d1, pub), 0),
		    IDN_OK);
		assert_int_equal(store_txn_commit(c), IDN_OK);
		assert_int_equal(store_txn_commit(t), IDN_OK);
		assert_int_equal(ix_entries(f->s), 3);
		index_assert_consistent(f->s);
	}
	/* a whole aborted txn */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S("88.1/e"), ix_record(b1, sizeof(b1), 2, ty, d1, pub), 0),
	                 IDN_OK);
	store_txn_abort(t);
	index_assert_consistent(f->s);
	/* off: no entries, writes make none; on again: built for what is there */
	size_t on = ix_entries(f->s);
	ix_set(f->s, INDEX_OFF);
	assert_int_equal(ix_state(f->s), INDEX_OFF);
	assert_int_equal(ix_entries(f->s), 0);
	put1(f->s, S("88.1/f"), ix_record(b1, sizeof(b1), 2, ty, d1, pub), 0, IDN_OK);
	assert_int_equal(ix_entries(f->s), 0);
	ix_set(f->s, INDEX_ON);
	assert_int_equal(ix_entries(f->s), on + 2);
	index_assert_consistent(f->s);
	/* a bulk (STORE_NOLOG) txn leaves it stale; the refresh rebuilds it */
	assert_int_equal(store_txn_begin(f->s, STORE_NOLOG, &t), IDN_OK);
	assert_int_equal(store_put(t, S("88.1/g"), ix_record(b1, sizeof(b1), 2, ty, d1, pub), 0),
	                 IDN_OK);
	assert_int_equal(store_del(t, S("88.1/f")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	assert_int_equal(ix_state(f->s), INDEX_STALE);
	assert_int_equal(store_index_refresh(f->s), IDN_OK);
	assert_int_equal(ix_state(f->s), INDEX_ON);
	assert_int_equal(ix_entries(f->s), on + 2);
	index_assert_consistent(f->s);
}

/* One bulk load of n records from first (URL and an odd/even batch). */
static void ix_bulk(store *s, int first, int n, uint64_t keep_max)
{
	uint8_t b[4096];
	char key[32], url[64];
	const char *ty[] = {"URL", "batch"};
	const uint8_t pub[] = {0x0e, 0x0e};
	bulkload *L;
	bulkload_opts o = {.memory = 1 << 20, .index_keep_max = keep_max}; /* several runs */

	assert_int_equal(bulkload_new(s, &o, &L), IDN_OK);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "88.1/x%05d", first + (i * 7919) % n);
		snprintf(url, sizeof(url), "http://example.org/%d", first + i);
		const char *d[] = {url, i % 2 ? "odd" : "even"};
		assert_int_equal(bulkload_add(L, S(key), ix_record(b, sizeof(b), 2, ty, d, pub)),
		                 IDN_OK);
	}
	assert_int_equal(bulkload_finish(L), IDN_OK);
	bulkload_free(L);
}

/*
 * The bulk loader's records are in the index when the load returns: a big
 * run leaves it to one rebuild (forced here by index_keep_max 1), a small
 * one keeps it as it writes.
 */
static void test_index_bulk(void **state)
{
	struct fx *f = *state;

	put1(f->s, S("88.1/x00001"), S("not a record"), 0, IDN_OK);
	ix_bulk(f->s, 0, 3000, 1);
	assert_int_equal(ix_state(f->s), INDEX_ON);
	assert_int_equal(ix_entries(f->s), 6000);
	index_assert_consistent(f->s);
	/* small: overwrites half of them and adds 500, the index kept all along */
	ix_bulk(f->s, 2500, 1000, 0);
	assert_int_equal(ix_state(f->s), INDEX_ON);
	assert_int_equal(ix_entries(f->s), 7000);
	index_assert_consistent(f->s);
}

#define STORE_SUITE_TESTS                                                                          \
	cmocka_unit_test_setup_teardown(test_put_get_del, suite_setup, suite_teardown),            \
	    cmocka_unit_test_setup_teardown(test_bad_input, suite_setup, suite_teardown),          \
	    cmocka_unit_test_setup_teardown(test_append, suite_setup, suite_teardown),             \
	    cmocka_unit_test_setup_teardown(test_long_keys, suite_setup, suite_teardown),          \
	    cmocka_unit_test_setup_teardown(test_scan, suite_setup, suite_teardown),               \
	    cmocka_unit_test_setup_teardown(test_scan_many, suite_setup, suite_teardown),          \
	    cmocka_unit_test_setup_teardown(test_homed, suite_setup, suite_teardown),              \
	    cmocka_unit_test_setup_teardown(test_durability, suite_setup, suite_teardown),         \
	    cmocka_unit_test_setup_teardown(test_abort, suite_setup, suite_teardown),              \
	    cmocka_unit_test_setup_teardown(test_reset_renew, suite_setup, suite_teardown),        \
	    cmocka_unit_test_setup_teardown(test_count, suite_setup, suite_teardown),              \
	    cmocka_unit_test_setup_teardown(test_snapshot_id, suite_setup, suite_teardown),        \
	    cmocka_unit_test_setup_teardown(test_log_changes, suite_setup, suite_teardown),        \
	    cmocka_unit_test_setup_teardown(test_log_prune_size, suite_setup, suite_teardown),     \
	    cmocka_unit_test_setup_teardown(test_log_prune_age, suite_setup, suite_teardown),      \
	    cmocka_unit_test_setup_teardown(test_meta, suite_setup, suite_teardown),               \
	    cmocka_unit_test_setup_teardown(test_log_many, suite_setup, suite_teardown),           \
	    cmocka_unit_test_setup_teardown(test_scan_from, suite_setup, suite_teardown),          \
	    cmocka_unit_test_setup_teardown(test_nested, suite_setup, suite_teardown),             \
	    cmocka_unit_test_setup_teardown(test_scan_pages, suite_setup, suite_teardown),         \
	    cmocka_unit_test_setup_teardown(test_tables, suite_setup, suite_teardown),             \
	    cmocka_unit_test_setup_teardown(test_index, suite_setup, suite_teardown),              \
	    cmocka_unit_test_setup_teardown(test_index_bulk, suite_setup, suite_teardown),         \
	    cmocka_unit_test_setup_teardown(test_format_version, suite_setup, suite_teardown)

#endif
