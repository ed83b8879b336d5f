/*
 * test_txlog_repl.c - replication over the transaction log (repl/repl.h) on
 * two LMDB stores in one process: a mirror bootstraps from dump pages while
 * the primary keeps writing, then follows the log; it resumes after being
 * closed mid-bootstrap and mid-transaction, and bootstraps again when the
 * primary pruned its log past the mirror. Every test ends comparing the two
 * stores record by record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "proto/proto.h"
#include "repl/repl.h"
#include "store/txlog_pages.h"
#include "proto/record.h"
#include "store/index.h"
#include "index_assert.h"
#include "store/store.h"

enum { ANS_CAP = 256 * 1024 };

struct pair {
	char pdir[64], mdir[64];
	store *p, *m;
	store_opts popts;
	uint8_t *ans;
};

static store *open_at(const char *dir, const store_opts *o)
{
	store *s = NULL;
	assert_int_equal(store_open(dir, o, &s), IDN_OK);
	return s;
}

static int setup(void **state)
{
	struct pair *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	strcpy(x->pdir, "/tmp/idn_repl_p_XXXXXX");
	strcpy(x->mdir, "/tmp/idn_repl_m_XXXXXX");
	if (!mkdtemp(x->pdir) || !mkdtemp(x->mdir))
		return -1;
	x->popts.no_sync = 1;
	x->p = open_at(x->pdir, &x->popts);
	store_opts mo = {.no_sync = 1};
	x->m = open_at(x->mdir, &mo);
	x->ans = malloc(ANS_CAP);
	*state = x;
	return x->ans ? 0 : -1;
}

static void rm_dir(const char *dir)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct pair *x = *state;
	store_close(x->p);
	store_close(x->m);
	rm_dir(x->pdir);
	rm_dir(x->mdir);
	free(x->ans);
	free(x);
	return 0;
}

static void reopen_mirror(struct pair *x)
{
	store_close(x->m);
	store_opts mo = {.no_sync = 1};
	x->m = open_at(x->mdir, &mo);
}

static void reopen_primary(struct pair *x)
{
	store_close(x->p);
	x->p = open_at(x->pdir, &x->popts);
}

static idn_slice S(const char *s)
{
	return idn_slice_of(s, strlen(s));
}

static void put(store *s, const char *k, const char *v)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S(k), S(v), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

static void del(store *s, const char *k)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_del(t, S(k)), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

static void home(store *s, const char *p, bool on)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(on ? store_home(t, S(p)) : store_unhome(t, S(p)), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/* Record i: a key and a value of 20..800 bytes. */
static void fill(store *s, int from, int to, const char *tag)
{
	store_txn *t;
	char k[64], v[1024];
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	for (int i = from; i < to; i++) {
		snprintf(k, sizeof(k), "88.1/R%05d", i);
		int len = 20 + (i * 37) % 780;
		for (int j = 0; j < len; j++)
			v[j] = (char)('a' + (i + j) % 26);
		memcpy(v, tag, strlen(tag));
		assert_int_equal(store_put(t, S(k), idn_slice_of(v, (size_t)len), 0), IDN_OK);
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/* The last round's opcode: a dump page is never "nothing new" (the tables' last may copy none). */
static uint32_t last_op;

/* One request/answer round; returns the mirror's progress. */
static int step(struct pair *x, uint32_t page, repl_progress *p)
{
	repl_req r;
	store_txn *t;
	assert_int_equal(repl_mirror_request(x->m, page, &r), IDN_OK);
	last_op = r.opcode;
	assert_int_equal(store_txn_begin(x->p, STORE_RDONLY, &t), IDN_OK);
	int n = r.opcode == PROTO_OP_DUMP_HANDLES
	            ? txlog_serve_dump(t, r.body, r.len, x->ans, ANS_CAP)
	            : txlog_serve_log(t, r.body, r.len, x->ans, ANS_CAP);
	store_txn_abort(t);
	if (n == IDN_ERANGE && r.opcode == PROTO_OP_RETRIEVE_TXN_LOG) {
		assert_int_equal(repl_mirror_restart(x->m), IDN_OK);
		return IDN_ERANGE;
	}
	assert_true(n > 0);
	return repl_mirror_apply(x->m, r.opcode, x->ans, (size_t)n, p);
}

/* Steps until the mirror has nothing left to apply; returns the rounds taken. */
static int sync_all(struct pair *x, uint32_t page)
{
	repl_progress p;
	for (int rounds = 1; rounds < 10000; rounds++) {
		int rc = step(x, page, &p);
		if (rc == IDN_ERANGE)
			continue;
		assert_int_equal(rc, IDN_OK);
		if (!p.bootstrapping && p.applied == 0 && last_op == PROTO_OP_RETRIEVE_TXN_LOG) {
			assert_int_equal(p.lag, 0);
			return rounds;
		}
	}
	fail_msg("the mirror never caught up");
	return -1;
}

/* ---- comparing two stores ---- */

struct snap {
	size_t n, cap;
	char **kv; /* "key\0value" copies, in scan order */
	size_t *len;
};

static int snap_cb(void *arg, idn_slice k, idn_slice v)
{
	struct snap *s = arg;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->kv = realloc(s->kv, s->cap * sizeof(*s->kv));
		s->len = realloc(s->len, s->cap * sizeof(*s->len));
		assert_non_null(s->kv);
		assert_non_null(s->len);
	}
	char *b = malloc(k.len + 1 + v.len + 1);
	assert_non_null(b);
	memcpy(b, k.p, k.len);
	b[k.len] = 0;
	if (v.len)
		memcpy(b + k.len + 1, v.p, v.len);
	s->kv[s->n] = b;
	s->len[s->n++] = k.len + 1 + v.len;
	return 0;
}

static void snap_take(store *st, struct snap *recs, struct snap *homed)
{
	store_txn *t;
	memset(recs, 0, sizeof(*recs));
	memset(homed, 0, sizeof(*homed));
	assert_int_equal(store_txn_begin(st, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_scan(t, idn_slice_of(NULL, 0), snap_cb, recs), IDN_OK);
	assert_int_equal(store_list_homed(t, snap_cb, homed), IDN_OK);
	store_txn_abort(t);
}

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->kv[i]);
	free(s->kv);
	free(s->len);
}

static void snap_equal(const struct snap *a, const struct snap *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		if (a->len[i] != b->len[i] || memcmp(a->kv[i], b->kv[i], a->len[i]) != 0)
			fail_msg("record %zu differs: %s vs %s", i, a->kv[i], b->kv[i]);
	}
}

/* Primary and mirror hold the same records and homed prefixes; returns the count. */
static size_t same(struct pair *x)
{
	struct snap pr, ph, mr, mh;
	snap_take(x->p, &pr, &ph);
	snap_take(x->m, &mr, &mh);
	snap_equal(&pr, &mr);
	snap_equal(&ph, &mh);
	size_t n = pr.n;
	snap_free(&pr);
	snap_free(&ph);
	snap_free(&mr);
	snap_free(&mh);
	return n;
}

/* ---- tests ---- */

/* A table's entries as a snap. */
static void snap_tab(store *st, unsigned tab, struct snap *out)
{
	store_txn *t;
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_txn_begin(st, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_tab_scan(t, tab, S(""), S(""), snap_cb, out), IDN_OK);
	store_txn_abort(t);
}

/* Table tab is the same on both stores; returns its entries. */
static size_t same_tab(struct pair *x, unsigned tab)
{
	struct snap a, b;
	snap_tab(x->p, tab, &a);
	snap_tab(x->m, tab, &b);
	snap_equal(&a, &b);
	size_t n = a.n;
	snap_free(&a);
	snap_free(&b);
	return n;
}

static void tab_put1(store *s, unsigned tab, const char *k, const char *v)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_tab_put(t, tab, S(k), S(v), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/* Records with searchable values: URL and batch. */
static void fill_indexed(store *s, int from, int to)
{
	store_txn *t;
	char k[64], url[64], batch[16];
	uint8_t rec[512];
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	for (int i = from; i < to; i++) {
		snprintf(k, sizeof(k), "88.1/I%05d", i);
		snprintf(url, sizeof(url), "http://example.org/%d", i);
		snprintf(batch, sizeof(batch), "B%d", i % 7);
		proto_value v[2] = {
		    {.index = 1, .perms = 0x0e, .type = S("URL"), .data = S(url)},
		    {.index = 2000, .perms = 0x0e, .type = S("batch"), .data = S(batch)}};
		int len = record_build(v, 2, rec, sizeof(rec));
		assert_true(len > 0);
		assert_int_equal(store_put(t, S(k), idn_slice_of(rec, (size_t)len), 0), IDN_OK);
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/*
 * A bootstrap copies the logged tables (accounts, audit) after the records,
 * not the index: the mirror makes its own from the records it applies, the
 * same as the primary's; later changes of both come through the log.
 */
static void test_tables_and_index(void **state)
{
	struct pair *x = *state;
	char k[32];

	fill_indexed(x->p, 0, 400);
	for (int i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "acct-%04d", i);
		tab_put1(x->p, STORE_TAB_ACCOUNT, k, "an account's bytes");
	}
	tab_put1(x->p, STORE_TAB_AUDIT, "0001", "first");
	tab_put1(x->p, STORE_TAB_STATS, "hits", "the primary's own");
	tab_put1(x->m, STORE_TAB_ACCOUNT, "leftover", "goes at bootstrap");
	/* small pages: the tables take several */
	int rounds = sync_all(x, 4096);
	assert_true(rounds > 10);
	assert_int_equal(same(x), 400);
	assert_int_equal(same_tab(x, STORE_TAB_ACCOUNT), 300);
	assert_int_equal(same_tab(x, STORE_TAB_AUDIT), 1);
	assert_int_equal(same_tab(x, STORE_TAB_INDEX), 800);
	index_assert_consistent(x->m);
	struct snap st;
	snap_tab(x->m, STORE_TAB_STATS, &st);
	assert_int_equal(st.n, 0); /* statistics are each node's own */
	snap_free(&st);

	/* then the log: records, their index, and the tables */
	fill_indexed(x->p, 390, 420);
	store_txn *t;
	assert_int_equal(store_txn_begin(x->p, 0, &t), IDN_OK);
	assert_int_equal(store_del(t, S("88.1/I00000")), IDN_OK);
	assert_int_equal(store_tab_del(t, STORE_TAB_ACCOUNT, S("acct-0000")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	tab_put1(x->p, STORE_TAB_AUDIT, "0002", "second");
	sync_all(x, 0);
	assert_int_equal(same(x), 419);
	assert_int_equal(same_tab(x, STORE_TAB_ACCOUNT), 299);
	assert_int_equal(same_tab(x, STORE_TAB_AUDIT), 2);
	assert_int_equal(same_tab(x, STORE_TAB_INDEX), 838);
	index_assert_consistent(x->m);
}

/* A primary before the tables' dump refuses it: the mirror goes on with the log. */
static void test_tables_refused(void **state)
{
	struct pair *x = *state;
	repl_progress p;
	repl_req r;

	fill(x->p, 0, 10, "old");
	assert_int_equal(step(x, 0, &p), IDN_OK); /* the records: one page */
	assert_int_equal(repl_mirror_request(x->m, 0, &r), IDN_OK);
	assert_true(r.tables);
	assert_int_equal(r.body[r.len - 1], TXLOG_PART_TABLES);
	/* what a version 1 primary says of the extra byte */
	store_txn *t;
	assert_int_equal(store_txn_begin(x->p, STORE_RDONLY, &t), IDN_OK);
	uint8_t v1[TXLOG_REQ_MAX];
	memcpy(v1, r.body, r.len);
	v1[r.len - 1] = 2; /* no such part */
	assert_int_equal(txlog_serve_dump(t, v1, r.len, x->ans, ANS_CAP), IDN_EINVAL);
	store_txn_abort(t);
	assert_int_equal(repl_mirror_skip_tables(x->m), IDN_OK);
	assert_int_equal(repl_mirror_request(x->m, 0, &r), IDN_OK);
	assert_int_equal(r.opcode, PROTO_OP_RETRIEVE_TXN_LOG);
	put(x->p, "88.1/after", "through the log");
	sync_all(x, 0);
	assert_int_equal(same(x), 11);
}

static void test_bootstrap_while_writing(void **state)
{
	struct pair *x = *state;
	repl_progress p;

	fill(x->p, 0, 300, "first");
	home(x->p, "88.1", true);
	home(x->p, "88.2", true);
	put(x->m, "88.9/stale", "a mirror's leftover goes at bootstrap");

	/* the first pages, then the primary changes what was and was not copied yet */
	assert_int_equal(step(x, 4096, &p), IDN_OK);
	assert_true(p.bootstrapping);
	assert_true(p.applied > 0 && p.applied < 300);
	assert_int_equal(step(x, 4096, &p), IDN_OK);
	put(x->p, "88.1/R00000", "changed after it was copied");
	del(x->p, "88.1/R00001");
	del(x->p, "88.1/R00299");
	put(x->p, "88.1/R99999", "new, after the copy started");
	home(x->p, "88.2", false);
	home(x->p, "88.3", true);
	int rounds = sync_all(x, 4096);
	assert_true(rounds > 5); /* it really went page by page */
	assert_int_equal(same(x), 299);

	/* streaming: a transaction of several changes, and the reported lag */
	store_txn *t;
	assert_int_equal(store_txn_begin(x->p, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S("88.1/multi-a"), S("a"), 0), IDN_OK);
	assert_int_equal(store_put(t, S("88.1/multi-b"), S("b"), 0), IDN_OK);
	assert_int_equal(store_del(t, S("88.1/R00002")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	put(x->p, "88.1/R00003", "rewritten");
	repl_req r;
	assert_int_equal(repl_mirror_request(x->m, 0, &r), IDN_OK);
	assert_int_equal(r.opcode, PROTO_OP_RETRIEVE_TXN_LOG);
	assert_int_equal(step(x, TXLOG_PAGE_MIN, &p), IDN_OK);
	assert_false(p.bootstrapping);
	assert_int_equal(p.applied, 4);
	assert_int_equal(p.lag, 0);
	assert_int_equal(same(x), 300);
}

static void test_resume_after_kill(void **state)
{
	struct pair *x = *state;
	repl_progress p;

	fill(x->p, 0, 200, "resume");
	home(x->p, "88.1", true);
	for (int i = 0; i < 3; i++)
		assert_int_equal(step(x, 2048, &p), IDN_OK);
	assert_true(p.bootstrapping);
	reopen_mirror(x); /* killed mid-bootstrap: commits are whole, the position too */
	fill(x->p, 100, 250, "again");
	sync_all(x, 2048);
	assert_int_equal(same(x), 250);

	/* one transaction larger than a page: the mirror is killed inside it */
	fill(x->p, 0, 40, "big-txn");
	assert_int_equal(step(x, TXLOG_PAGE_MIN, &p), IDN_OK);
	assert_true(p.applied > 0 && p.applied < 40);
	assert_int_equal(p.lag, 0); /* started: counted as applied */
	reopen_mirror(x);
	reopen_primary(x);
	sync_all(x, TXLOG_PAGE_MIN);
	assert_int_equal(same(x), 250);
}

static void test_pruned_log_rebootstraps(void **state)
{
	struct pair *x = *state;
	repl_progress p;

	store_close(x->p);
	x->popts.log_max_bytes = 4000;
	x->p = open_at(x->pdir, &x->popts);
	fill(x->p, 0, 50, "pruned");
	sync_all(x, 0);
	assert_int_equal(same(x), 50);
	/* far more than the log keeps, one small transaction at a time */
	for (int i = 0; i < 60; i++)
		fill(x->p, i, i + 1, "overrun");
	del(x->p, "88.1/R00049");
	repl_req r;
	assert_int_equal(repl_mirror_request(x->m, 0, &r), IDN_OK);
	assert_int_equal(r.opcode, PROTO_OP_RETRIEVE_TXN_LOG);
	assert_int_equal(step(x, 0, &p), IDN_ERANGE);
	assert_int_equal(repl_mirror_request(x->m, 0, &r), IDN_OK);
	assert_int_equal(r.opcode, PROTO_OP_DUMP_HANDLES);
	sync_all(x, 0);
	assert_int_equal(same(x), 59);
}

/*
 * The primary's store with its scans counted: every record a scan hands to
 * a callback, whether the caller keeps it or skips it.
 */
static struct store_ops counting_ops;
static uint64_t visited;

struct counted {
	store_scan_cb cb;
	void *arg;
};

static int counted_cb(void *arg, idn_slice k, idn_slice v)
{
	struct counted *c = arg;
	visited++;
	return c->cb(c->arg, k, v);
}

static int counting_scan_from(store_txn *t, idn_slice prefix, idn_slice start, store_scan_cb cb,
                              void *arg)
{
	struct counted c = {cb, arg};
	return store_lmdb_ops.scan_from(t, prefix, start, counted_cb, &c);
}

static int counting_scan(store_txn *t, idn_slice prefix, store_scan_cb cb, void *arg)
{
	return counting_scan_from(t, prefix, idn_slice_of(NULL, 0), cb, arg);
}

/* A dump page costs O(page): it resumes at its key, not at the first record. */
static void test_dump_page_cost(void **state)
{
	struct pair *x = *state;
	repl_progress p;
	enum { N = 4000, PAGE = 4096 };

	fill(x->p, 0, N, "cost");
	counting_ops = store_lmdb_ops;
	counting_ops.scan = counting_scan;
	counting_ops.scan_from = counting_scan_from;
	x->p->ops = &counting_ops;
	uint64_t pages = 0, records = 0, worst = 0;
	do {
		visited = 0;
		assert_int_equal(step(x, PAGE, &p), IDN_OK);
		if (!p.bootstrapping && p.applied == 0)
			break;
		pages++;
		records += p.applied;
		/* the page's records, the resume key itself and the one that did not fit */
		uint64_t extra = visited > p.applied ? visited - p.applied : 0;
		worst = extra > worst ? extra : worst;
		assert_true(pages < N);
	} while (true);
	assert_true(pages > 100); /* many pages, so a rescan from the start would show */
	assert_int_equal(records, N);
	assert_true(worst <= 2);
	x->p->ops = &store_lmdb_ops;
	assert_int_equal(same(x), N);
}

/* Long keys sharing their first 478 bytes (LMDB keeps them by hash) cross
 * page boundaries and arrive whole and in order. */
static void test_long_keys_bootstrap(void **state)
{
	struct pair *x = *state;
	store_txn *t;
	uint8_t k[900];
	char v[600];
	memset(k, 'h', sizeof(k));
	memcpy(k, "88.1/LONG-", 10);
	memset(v, 'v', sizeof(v));
	assert_int_equal(store_txn_begin(x->p, 0, &t), IDN_OK);
	for (int i = 0; i < 60; i++) {
		size_t len = 500 + (size_t)(i % 4) * 100;
		k[len - 2] = (uint8_t)('A' + i / 4);
		k[len - 1] = (uint8_t)('a' + i % 4);
		assert_int_equal(store_put(t, idn_slice_of(k, len), idn_slice_of(v, 100 + i), 0),
		                 IDN_OK);
		k[len - 2] = k[len - 1] = 'h';
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);
	fill(x->p, 0, 20, "around");
	sync_all(x, 2048); /* a few long records per page */
	assert_int_equal(same(x), 80);
}

static void test_bad_input(void **state)
{
	struct pair *x = *state;
	store_txn *t;
	repl_progress p;
	uint8_t junk[16] = {0};

	fill(x->p, 0, 10, "bad");
	assert_int_equal(store_txn_begin(x->p, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(txlog_serve_log(t, junk, 15, x->ans, ANS_CAP), IDN_EINVAL);
	assert_int_equal(txlog_serve_dump(t, junk, 3, x->ans, ANS_CAP), IDN_EINVAL);
	/* a dump key length beyond the body */
	uint8_t lied[8] = {0, 0, 1, 0, 0, 0, 0, 0};
	assert_int_equal(txlog_serve_dump(t, lied, sizeof(lied), x->ans, ANS_CAP), IDN_EINVAL);
	int n = txlog_serve_state(t, x->ans, ANS_CAP);
	assert_int_equal(n, 16);
	assert_int_equal(store_be64(x->ans), 1);     /* last */
	assert_int_equal(store_be64(x->ans + 8), 1); /* oldest */
	/* asking the log from a position this primary never had */
	uint8_t far[16] = {0};
	store_put_be64(far, 0);
	assert_int_equal(txlog_serve_log(t, far, sizeof(far), x->ans, ANS_CAP), IDN_ERANGE);
	store_txn_abort(t);

	/* answers that do not decode leave the mirror as it was */
	assert_int_equal(repl_mirror_apply(x->m, PROTO_OP_DUMP_HANDLES, junk, 5, &p), IDN_EPROTO);
	assert_int_equal(repl_mirror_apply(x->m, PROTO_OP_RETRIEVE_TXN_LOG, junk, 16, &p),
	                 IDN_EPROTO); /* no log answer before a bootstrap */
	sync_all(x, 0);
	put(x->p, "88.1/one-more", "x");
	repl_req r;
	assert_int_equal(repl_mirror_request(x->m, 0, &r), IDN_OK);
	assert_int_equal(store_txn_begin(x->p, STORE_RDONLY, &t), IDN_OK);
	n = txlog_serve_log(t, r.body, r.len, x->ans, ANS_CAP);
	store_txn_abort(t);
	assert_true(n > 20);
	assert_int_equal(repl_mirror_apply(x->m, r.opcode, x->ans, (size_t)n - 1, &p), IDN_EPROTO);
	assert_int_equal(repl_mirror_apply(x->m, r.opcode, x->ans, (size_t)n, &p), IDN_OK);
	/* the same page again does not continue where the mirror stands */
	assert_int_equal(repl_mirror_apply(x->m, r.opcode, x->ans, (size_t)n, &p), IDN_EPROTO);
	assert_int_equal(same(x), 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bootstrap_while_writing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_after_kill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pruned_log_rebootstraps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dump_page_cost, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_keys_bootstrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tables_and_index, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tables_refused, setup, teardown),
	};
	return cmocka_run_group_tests_name("txlog/repl", tests, NULL, NULL);
}
