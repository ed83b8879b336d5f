/*
 * test_bulkload.c - the bulk loader (store/bulkload.h) on an LMDB store:
 * key order, duplicates (last wins, across runs too), loading into a store
 * that already holds keys (replace, or --no-overwrite errors), refused lines
 * and bad entries. Every test gets a fresh directory under /tmp.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>

#include "core/err.h"
#include "store/bulkload.h"
#include "store/index.h"
#include "store/store.h"

struct fixture {
	char dir[32];
	store *s;
};

/* What the loader told the test. */
struct seen {
	int nerr;
	uint64_t line[16];
	int code[16];
	char msg[16][BULKLOAD_MSG_MAX];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	store_opts so = {.map_size = 64 << 20, .no_sync = 1};
	strcpy(f->dir, "/tmp/idn_bulkload_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, &so, &f->s), IDN_OK);
	*state = f;
	return 0;
}

/*
 * Runs after a failed assertion too (cmocka jumps out of the test to here),
 * so a failing run leaves no directory in /tmp either; only a killed one
 * (a sanitizer's abort, ctest's timeout) can.
 */
static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->s)
		store_close(f->s);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* An empty directory only, for a test that opens its store itself (into f->s). */
static int setup_dir(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/idn_bulklazy_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static void on_error(void *arg, uint64_t line, int code, const char *msg)
{
	struct seen *w = arg;
	if (w->nerr < 16) {
		w->line[w->nerr] = line;
		w->code[w->nerr] = code;
		snprintf(w->msg[w->nerr], sizeof(w->msg[0]), "%s", msg);
	}
	w->nerr++;
}

static idn_slice str(const char *s)
{
	return idn_slice_of(s, strlen(s));
}

static void put(store *s, const char *key, const char *val)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, str(key), str(val), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/* Asserts that key holds val (NULL: that key is absent). */
static void expect(store *s, const char *key, const char *val)
{
	store_txn *t;
	idn_slice v;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	int rc = store_get(t, str(key), &v);
	if (!val) {
		assert_int_equal(rc, IDN_ENOTFOUND);
	} else {
		assert_int_equal(rc, IDN_OK);
		assert_int_equal(v.len, strlen(val));
		assert_memory_equal(v.p, val, v.len);
	}
	store_txn_abort(t);
}

struct order {
	char last[64];
	size_t n;
	int bad;
};

static int check_order(void *arg, idn_slice key, idn_slice val)
{
	struct order *o = arg;
	char k[64];
	snprintf(k, sizeof(k), "%.*s", (int)key.len, (const char *)key.p);
	if (o->n && strcmp(o->last, k) >= 0)
		o->bad++;
	/* each record is "V" and the digits of its key */
	if (val.len != key.len - 6 || memcmp(val.p, "V", 1) != 0 ||
	    memcmp((const uint8_t *)val.p + 1, (const uint8_t *)key.p + 7, key.len - 7) != 0)
		o->bad++;
	strcpy(o->last, k);
	o->n++;
	return 0;
}

/* Loads n keys in a shuffled order, with runs small enough to need several. */
static void load_shuffled(store *s, size_t n, uint64_t memory)
{
	bulkload *b;
	bulkload_opts o = {.memory = memory};
	assert_int_equal(bulkload_new(s, &o, &b), IDN_OK);
	for (size_t i = 0; i < n; i++) {
		size_t k = (i * 7919) % n; /* 7919 is prime, n is not its multiple */
		char key[32], val[32];
		snprintf(key, sizeof(key), "88.100/%06zu", k);
		snprintf(val, sizeof(val), "V%06zu", k);
		assert_int_equal(bulkload_add(b, str(key), str(val)), IDN_OK);
	}
	assert_int_equal(bulkload_finish(b), IDN_OK);
	const bulkload_stats *st = bulkload_stats_of(b);
	assert_int_equal(st->lines, n);
	assert_int_equal(st->loaded, n);
	assert_int_equal(st->errors, 0);
	assert_int_equal(st->superseded, 0);
	bulkload_free(b);
}

/* Loads 20000 shuffled keys and checks that all are there, in key order. */
static void expect_ordered_load(store *s, uint64_t memory)
{
	load_shuffled(s, 20000, memory);
	struct order o = {0};
	store_txn *t;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_scan(t, str("88.100/"), check_order, &o), IDN_OK);
	store_txn_abort(t);
	assert_int_equal(o.n, 20000);
	assert_int_equal(o.bad, 0);
}

static void test_order_one_run(void **state)
{
	struct fixture *f = *state;
	expect_ordered_load(f->s, 0);
}

static void test_order_many_runs(void **state)
{
	struct fixture *f = *state;
	/* 64 KiB runs: about 600 entries each, so some 30 runs */
	expect_ordered_load(f->s, 64 << 10);
}

static void test_duplicates_last_wins(void **state)
{
	struct fixture *f = *state;
	bulkload *b;
	bulkload_opts o = {.memory = 64 << 10};
	assert_int_equal(bulkload_new(f->s, &o, &b), IDN_OK);
	assert_int_equal(bulkload_add(b, str("88.100/A"), str("first")), IDN_OK);
	assert_int_equal(bulkload_add(b, str("88.100/B"), str("b")), IDN_OK);
	assert_int_equal(bulkload_add(b, str("88.100/A"), str("second")), IDN_OK);
	/* enough entries between them to put the last A in a later run */
	for (int i = 0; i < 5000; i++) {
		char key[32];
		snprintf(key, sizeof(key), "88.100/F%05d", i);
		assert_int_equal(bulkload_add(b, str(key), str("f")), IDN_OK);
	}
	assert_int_equal(bulkload_add(b, str("88.100/A"), str("last")), IDN_OK);
	assert_int_equal(bulkload_finish(b), IDN_OK);
	const bulkload_stats *st = bulkload_stats_of(b);
	assert_int_equal(st->lines, 5004);
	assert_int_equal(st->superseded, 1); /* the two A of the first run */
	bulkload_free(b);
	expect(f->s, "88.100/A", "last");
	expect(f->s, "88.100/B", "b");
}

static void test_merge_replaces(void **state)
{
	struct fixture *f = *state;
	put(f->s, "88.100/X", "old x");
	put(f->s, "88.100/Z", "old z");
	bulkload *b;
	bulkload_opts o = {0};
	assert_int_equal(bulkload_new(f->s, &o, &b), IDN_OK);
	assert_int_equal(bulkload_add(b, str("88.100/Y"), str("new y")), IDN_OK);
	assert_int_equal(bulkload_add(b, str("88.100/X"), str("new x")), IDN_OK);
	assert_int_equal(bulkload_add(b, str("88.100/A"), str("new a")), IDN_OK);
	assert_int_equal(bulkload_finish(b), IDN_OK);
	assert_int_equal(bulkload_stats_of(b)->loaded, 3);
	bulkload_free(b);
	expect(f->s, "88.100/A", "new a");
	expect(f->s, "88.100/X", "new x");
	expect(f->s, "88.100/Y", "new y");
	expect(f->s, "88.100/Z", "old z");
}

static void test_merge_no_overwrite(void **state)
{
	struct fixture *f = *state;
	put(f->s, "88.100/X", "old x");
	struct seen w = {0};
	bulkload *b;
	bulkload_opts o = {.no_overwrite = true, .on_error = on_error, .arg = &w};
	assert_int_equal(bulkload_new(f->s, &o, &b), IDN_OK);
	assert_int_equal(bulkload_add(b, str("88.100/Y"), str("new y")), IDN_OK);
	assert_int_equal(bulkload_add(b, str("88.100/X"), str("new x")), IDN_OK);
	assert_int_equal(bulkload_finish(b), IDN_OK);
	const bulkload_stats *st = bulkload_stats_of(b);
	assert_int_equal(st->loaded, 1);
	assert_int_equal(st->errors, 1);
	bulkload_free(b);
	assert_int_equal(w.nerr, 1);
	assert_int_equal(w.line[0], 2);
	assert_int_equal(w.code[0], IDN_EEXIST);
	assert_string_equal(w.msg[0], "handle: 88.100/X is already in the store");
	expect(f->s, "88.100/X", "old x");
	expect(f->s, "88.100/Y", "new y");
}

/* A test parser: "KEY=RECORD"; a blank line is skipped; anything else is wrong. */
static int parse_kv(void *parser, const uint8_t *line, size_t len, bulkload_alloc_fn alloc,
                    void *alloc_arg, size_t *key_len, size_t *record_len, const char **why)
{
	(void)parser;
	if (len == 0)
		return BULKLOAD_SKIP;
	const uint8_t *eq = memchr(line, '=', len);
	if (!eq || eq == line) {
		*why = "no KEY=RECORD";
		return IDN_EINVAL;
	}
	uint8_t *m = alloc(alloc_arg, len - 1);
	if (!m)
		return IDN_ENOMEM;
	*key_len = (size_t)(eq - line);
	*record_len = len - *key_len - 1;
	memcpy(m, line, *key_len);
	memcpy(m + *key_len, eq + 1, *record_len);
	return IDN_OK;
}

static void test_lines_and_errors(void **state)
{
	struct fixture *f = *state;
	struct seen w = {0};
	bulkload *b;
	bulkload_opts o = {.parse = parse_kv, .on_error = on_error, .arg = &w};
	const char text[] = "88.100/L2=two\n"
	                    "\n"
	                    "broken\n"
	                    "88.100/L1=one\n"
	                    "=nokey";
	assert_int_equal(bulkload_new(f->s, &o, &b), IDN_OK);
	/* an entry from memory first: the lines are numbered after it */
	assert_int_equal(bulkload_add(b, str("88.100/M"), str("mem")), IDN_OK);
	assert_int_equal(bulkload_lines(b, (const uint8_t *)text, sizeof(text) - 1), IDN_OK);
	assert_int_equal(bulkload_finish(b), IDN_OK);
	const bulkload_stats *st = bulkload_stats_of(b);
	assert_int_equal(st->lines, 6);
	assert_int_equal(st->loaded, 3);
	assert_int_equal(st->errors, 2);
	bulkload_free(b);
	assert_int_equal(w.nerr, 2);
	assert_int_equal(w.line[0], 4);
	assert_int_equal(w.code[0], IDN_EINVAL);
	assert_string_equal(w.msg[0], "no KEY=RECORD");
	assert_int_equal(w.line[1], 6);
	expect(f->s, "88.100/L1", "one");
	expect(f->s, "88.100/L2", "two");
	expect(f->s, "88.100/M", "mem");
	expect(f->s, "broken", NULL);
}

static void test_bad_entries(void **state)
{
	struct fixture *f = *state;
	bulkload *b;
	bulkload_opts o = {0};
	assert_int_equal(bulkload_new(f->s, &o, &b), IDN_OK);
	assert_int_equal(bulkload_add(b, idn_slice_of("a\0b", 3), str("x")), IDN_EINVAL);
	assert_int_equal(bulkload_add(b, str(""), str("x")), IDN_EINVAL);
	/* no parser: lines cannot be loaded */
	assert_int_equal(bulkload_lines(b, (const uint8_t *)"k=v\n", 4), IDN_EINVAL);
	assert_int_equal(bulkload_finish(b), IDN_OK);
	assert_int_equal(bulkload_stats_of(b)->lines, 0);
	assert_int_equal(bulkload_stats_of(b)->loaded, 0);
	bulkload_free(b);
}

/* Kills the loading process (the child of test_lazy_mark_*) once this many are loaded. */
static void kill_after(void *arg, const bulkload_stats *st)
{
	if (st->loaded >= *(const uint64_t *)arg)
		raise(SIGKILL);
}

/*
 * A load into an empty store whose first write transaction met a full map
 * (and was redone in a grown one): its later commits are not waited for on
 * the disk, so the mark of the lazy load must be durable before any of
 * them. The load is killed part-way; a load after another boot of the
 * machine must find the mark (and refuse the store).
 */
static void test_lazy_mark_survives_full_map(void **state)
{
	struct fixture *f = *state;
	const char *dir = f->dir;
	enum { N = 40000 };
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		store *s;
		store_opts so = {.map_size = 1 << 20}; /* the first transaction fills it */
		uint64_t at = N / 2;
		bulkload *b;
		bulkload_opts o = {.boot_id = "boot-a",
		                   .txn_bytes = 2 << 20,
		                   .on_progress = kill_after,
		                   .arg = &at};
		if (store_open(dir, &so, &s) || bulkload_new(s, &o, &b))
			_exit(3);
		char val[200];
		memset(val, 'v', sizeof(val));
		for (size_t i = 0; i < N; i++) {
			char key[32];
			snprintf(key, sizeof(key), "88.100/%06zu", i);
			if (bulkload_add(b, str(key), idn_slice_of(val, sizeof(val))))
				_exit(4);
		}
		bulkload_finish(b);
		_exit(5); /* not killed */
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	store_opts so = {0};
	assert_int_equal(store_open(dir, &so, &f->s), IDN_OK);
	store *s = f->s;
	uint64_t n = 0;
	store_txn *t;
	assert_int_equal(store_txn_begin(s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_count(t, &n), IDN_OK);
	store_txn_abort(t);
	assert_true(n > 0 && n < N); /* some commits were made */
	assert_int_equal(bulkload_lazy_check(s, "boot-a"), IDN_OK);
	assert_int_equal(bulkload_lazy_check(s, "boot-b"), IDN_ESTORE);
}

/* The key of a parse_kv line: what is before '='. */
static size_t key_kv(void *parser, const uint8_t *line, size_t len, uint8_t *key)
{
	(void)parser;
	const uint8_t *eq = memchr(line, '=', len);
	if (!eq || eq == line)
		return 0;
	memcpy(key, line, (size_t)(eq - line));
	return (size_t)(eq - line);
}

enum { RW_N = 20000 };

/* Writes the RW_N lines "88.100/K=V<K><padding>" (all as long), in order i*step. */
static void write_kv(int fd, size_t step)
{
	static char pad[64];
	memset(pad, 'p', sizeof(pad) - 1);
	FILE *f = fdopen(dup(fd), "w");
	assert_non_null(f);
	for (size_t i = 0; i < RW_N; i++) {
		size_t k = (i * step) % RW_N;
		fprintf(f, "88.100/%06zu=V%06zu%s\n", k, k, pad);
	}
	assert_int_equal(fclose(f), 0);
}

struct rewrite {
	int fd;
	uint64_t size;
	bool done;
	uint32_t passes;
	bool recorded;
};

/* Once the first pass read it all, the file is rewritten in place: the same lines in another order.
 */
static void rewrite_at_pass(void *arg, const bulkload_stats *st)
{
	struct rewrite *r = arg;
	if (st->pass == 0 && st->pass_bytes == r->size && !r->done) {
		r->done = true;
		r->passes = st->passes;
		r->recorded = st->lines_recorded;
		assert_int_equal(lseek(r->fd, 0, SEEK_SET), 0);
		write_kv(r->fd, RW_N - 1);
	}
}

static int check_kv(void *arg, idn_slice key, idn_slice val)
{
	size_t *n = arg;
	char want[128];
	size_t k = (size_t)atol((const char *)key.p + 7);
	static char pad[64];
	memset(pad, 'p', sizeof(pad) - 1);
	snprintf(want, sizeof(want), "V%06zu%s", k, pad);
	if (val.len == strlen(want) && !memcmp(val.p, want, val.len))
		(*n)++;
	return 0;
}

/*
 * A file read in passes, with each line's range noted in the first, that
 * is rewritten in place before the second: the same lines (all as long) in
 * another order, so the lines' lengths and the chunks' bounds still fit
 * but the noted ranges do not, and must not be trusted. Every line is
 * loaded, as a load that reads each line's key in every pass does.
 */
static void test_passes_file_rewritten(void **state)
{
	struct fixture *f = *state;
	char path[64];
	snprintf(path, sizeof(path), "%s/input", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	write_kv(fd, 1);
	/* written long ago: the rewrite cannot fall in the same clock tick */
	const struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
	assert_int_equal(futimens(fd, old), 0);
	struct rewrite r = {.fd = fd, .size = (uint64_t)lseek(fd, 0, SEEK_END)};
	bulkload *b;
	bulkload_opts o = {.parse = parse_kv,
	                   .key = key_kv,
	                   .memory = 1 << 20,
	                   .on_progress = rewrite_at_pass,
	                   .arg = &r};
	assert_int_equal(bulkload_new(f->s, &o, &b), IDN_OK);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(bulkload_read_fd(b, fd), IDN_OK);
	assert_int_equal(bulkload_finish(b), IDN_OK);
	bulkload_free(b);
	close(fd);
	assert_true(r.done);
	assert_true(r.passes > 1);
	assert_true(r.recorded);
	size_t n = 0;
	store_txn *t;
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_scan(t, str("88.100/"), check_kv, &n), IDN_OK);
	store_txn_abort(t);
	assert_int_equal(n, RW_N);
}

/*
 * Overlapped passes (--overlap, index off), then more lines through
 * bulkload_lines, few enough for one run: that run is written before
 * bulkload_finish returns, as any run outside the passes, so the figures
 * and the store it leaves hold every line.
 */
static void test_overlap_then_lines(void **state)
{
	struct fixture *f = *state;
	enum { M = 3000 };
	char path[64];
	assert_int_equal(store_index_apply(f->s, INDEX_OFF, false), IDN_OK);
	snprintf(path, sizeof(path), "%s/input", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	write_kv(fd, 1);
	bulkload *b;
	bulkload_opts o = {.parse = parse_kv, .key = key_kv, .memory = 1 << 20, .overlap = true};
	assert_int_equal(bulkload_new(f->s, &o, &b), IDN_OK);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(bulkload_read_fd(b, fd), IDN_OK);
	close(fd);
	assert_true(bulkload_stats_of(b)->overlapped);
	static char more[M * 24];
	size_t len = 0;
	for (int i = 0; i < M; i++)
		len +=
		    (size_t)snprintf(more + len, sizeof(more) - len, "88.101/%06d=W%06d\n", i, i);
	assert_int_equal(bulkload_lines(b, (const uint8_t *)more, len), IDN_OK);
	assert_int_equal(bulkload_finish(b), IDN_OK);
	assert_int_equal(bulkload_stats_of(b)->loaded, RW_N + M);
	uint64_t n = 0;
	store_txn *t;
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_count(t, &n), IDN_OK);
	store_txn_abort(t);
	bulkload_free(b);
	assert_int_equal(n, RW_N + M);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order_one_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_order_many_runs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates_last_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_merge_replaces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_merge_no_overwrite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lines_and_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lazy_mark_survives_full_map, setup_dir, teardown),
	    cmocka_unit_test_setup_teardown(test_passes_file_rewritten, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlap_then_lines, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
