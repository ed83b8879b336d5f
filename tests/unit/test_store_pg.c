/*
 * test_store_pg.c - the store interface against the PostgreSQL backend: the
 * shared suite (store_suite.h) plus PostgreSQL-specific cases (the
 * reference's row layout both ways, rows changed behind idnode's back,
 * connections dropped by the server, two stores on one database).
 *
 * IDN_TEST_PG = a libpq URI of a server this test may create databases on
 * (scripts/pg.sh starts a private one; scripts/test exports it). Without it
 * the test says so and passes, unless IDN_TEST_PG_REQUIRED=1 (scripts/test),
 * where a missing server is a failure. The program creates its own database
 * idn_unit_<pid> (so parallel test programs do not meet), empties it before
 * every test and drops it at the end.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <unistd.h>

#include "store_suite.h"

#include "proto/record.h"
#include "store/pg_rows.h"
#define IDN_PQ_IMPL /* the table only: this file calls libpq itself */
#include "store/pq.h"

/*
 * libpq's own PQpipelineSync, PQsendQueryPrepared and PQexitPipelineMode,
 * failing on demand before they do anything (as when libpq runs out of
 * memory): the connection is up, a pipeline's statements went without a
 * sync, a put's first statement went and its second did not, or the
 * connection stays in pipeline mode. Put in the store's table
 * of libpq functions (store/pq.h) by the test that uses it.
 */
static __typeof__(PQpipelineSync) *real_sync;
static __typeof__(PQsendQueryPrepared) *real_send;
static __typeof__(PQexitPipelineMode) *real_exit;
static int fail_syncs, fail_exits, fail_send_at; /* fail_send_at: the nth send from now */

static int failing_sync(PGconn *c)
{
	if (fail_syncs > 0) {
		fail_syncs--;
		return 0;
	}
	return real_sync(c);
}

static int failing_exit(PGconn *c)
{
	if (fail_exits > 0) {
		fail_exits--;
		return 0;
	}
	return real_exit(c);
}

static int failing_send(PGconn *c, const char *name, int n, const char *const *vals,
                        const int *lens, const int *fmts, int rfmt)
{
	if (fail_send_at > 0 && --fail_send_at == 0)
		return 0;
	return real_send(c, name, n, vals, lens, fmts, rfmt);
}

static char db_uri[1024];   /* our database */
static char base_uri[1024]; /* IDN_TEST_PG */
static char db_name[64];

/* Runs sql on uri; returns the first field of the first row (static) or "". */
static const char *sql1(const char *uri, const char *sql)
{
	static char out[256];
	PGconn *c = PQconnectdb(uri);
	out[0] = '\0';
	if (PQstatus(c) != CONNECTION_OK) {
		print_error("connect %s: %s", uri, PQerrorMessage(c));
		PQfinish(c);
		fail();
	}
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		print_error("%s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		fail();
	}
	if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0)
		snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return out;
}

/* base URI with its database replaced by name */
static int uri_with_db(const char *base, const char *name, char *out, size_t cap)
{
	const char *hostpart = strstr(base, "://");
	if (!hostpart)
		return -1;
	const char *slash = strchr(hostpart + 3, '/');
	const char *query = strchr(hostpart + 3, '?');
	size_t head = slash   ? (size_t)(slash - base)
	              : query ? (size_t)(query - base)
	                      : strlen(base);
	int n = snprintf(out, cap, "%.*s/%s%s", (int)head, base, name, query ? query : "");
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int pg_make(char *loc, size_t cap)
{
	sql1(
	    db_uri,
	    "DROP TABLE IF EXISTS idn_records, handles, nas, idn_txlog, idn_meta, idn_tab CASCADE");
	sql1(db_uri, "DROP FUNCTION IF EXISTS idn_handles_changed() CASCADE");
	if (strlen(db_uri) >= cap)
		return -1;
	strcpy(loc, db_uri);
	return 0;
}

static void pg_destroy(const char *loc)
{
	(void)loc; /* emptied by the next make, dropped at the end */
}

static const struct suite_backend pg_backend = {
    .name = "postgresql",
    .make = pg_make,
    .destroy = pg_destroy,
};

static int group_setup(void **state)
{
	char sql[128];
	(void)state;
	snprintf(db_name, sizeof(db_name), "idn_unit_%ld", (long)getpid());
	if (uri_with_db(base_uri, db_name, db_uri, sizeof(db_uri)))
		return -1;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db_name);
	sql1(base_uri, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db_name);
	sql1(base_uri, sql);
	return 0;
}

static int group_teardown(void **state)
{
	char sql[128];
	(void)state;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
	sql1(base_uri, sql);
	return 0;
}

/* ---- records and the reference's rows ---- */

/* Two values: a public URL, and an admin-only value with two references. */
static int sample_record(uint8_t *out, size_t cap, uint8_t *refbuf)
{
	wire_wr w = wire_wr_init(refbuf, 128);
	wire_put_lbytes(&w, "0.NA/88.100", 11);
	wire_put_u32(&w, 300);
	wire_put_lbytes(&w, "88.100.1/Ü-other", strlen("88.100.1/Ü-other"));
	wire_put_u32(&w, 7);
	proto_value v[2] = {
	    {.index = 1,
	     .timestamp = 1700000000,
	     .ttl_type = 0,
	     .ttl = 3600,
	     .perms = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE | PROTO_PERM_PUBLIC_READ,
	     .type = IDN_SLICE("URL"),
	     .data = IDN_SLICE("https://example.com/x")},
	    {.index = 100,
	     .timestamp = 1700000001,
	     .ttl_type = 1,
	     .ttl = 1800000000,
	     .perms = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE,
	     .type = IDN_SLICE("HS_ADMIN"),
	     .data = IDN_SLICE("\x00\x01\x02"),
	     .nrefs = 2,
	     .refs = idn_slice_of(refbuf, wire_wr_len(&w))},
	};
	return record_build(v, 2, out, cap);
}

static void test_pg_rows_written(void **state)
{
	struct fx *f = *state;
	uint8_t rec[512], refbuf[128];
	int len = sample_record(rec, sizeof(rec), refbuf);
	assert_true(len > 0);
	put1(f->s, S("88.100.1/ROWS"), idn_slice_of(rec, (size_t)len), 0, IDN_OK);

	/* the rows as the reference software lays them out */
	assert_string_equal(sql1(f->loc, "SELECT count(*) FROM handles WHERE handle = "
	                                 "'88.100.1/ROWS'::bytea"),
	                    "2");
	assert_string_equal(
	    sql1(f->loc,
	         "SELECT concat_ws('|', idx, convert_from(type, 'UTF8'),"
	         " convert_from(data, 'UTF8'), ttl_type, ttl, timestamp, coalesce(refs, ''),"
	         " admin_read, admin_write, pub_read, pub_write) FROM handles"
	         " WHERE handle = '88.100.1/ROWS'::bytea AND idx = 1"),
	    "1|URL|https://example.com/x|0|3600|1700000000||t|t|t|f");
	assert_string_equal(sql1(f->loc, "SELECT concat_ws('|', idx, ttl_type, ttl, refs, pub_read)"
	                                 " FROM handles WHERE idx = 100"),
	                    "100|1|1800000000|300:0.NA/88.100\t7:88.100.1/Ü-other|f");

	/* the rows alone give back the same record, byte for byte */
	sql1(f->loc, "DELETE FROM idn_records");
	expect_get(f->s, S("88.100.1/ROWS"), IDN_OK, idn_slice_of(rec, (size_t)len));
	assert_int_equal(count_of(f->s), 1);

	/* opaque bytes (not a record) leave no rows behind */
	put1(f->s, S("88.100.1/ROWS"), S("opaque"), 0, IDN_OK);
	assert_string_equal(sql1(f->loc, "SELECT count(*) FROM handles"), "0");
	expect_get(f->s, S("88.100.1/ROWS"), IDN_OK, S("opaque"));

	/* del removes both */
	put1(f->s, S("88.100.1/ROWS"), idn_slice_of(rec, (size_t)len), 0, IDN_OK);
	store_txn *t;
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_del(t, S("88.100.1/ROWS")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	assert_string_equal(sql1(f->loc, "SELECT count(*) FROM handles"), "0");
	assert_string_equal(sql1(f->loc, "SELECT count(*) FROM idn_records"), "0");
}

struct found {
	int n;
	char keys[4][32];
	int check[4];
};

static int found_cb(void *arg, idn_slice key, idn_slice val)
{
	struct found *fo = arg;
	if (fo->n < 4) {
		snprintf(fo->keys[fo->n], sizeof(fo->keys[0]), "%.*s", (int)key.len,
		         (const char *)key.p);
		fo->check[fo->n] = record_check(val);
	}
	fo->n++;
	return 0;
}

/* A database written by the reference server: rows only, NULLs where it leaves them. */
static void test_pg_reference_rows(void **state)
{
	struct fx *f = *state;
	store_txn *t;
	idn_slice v;
	record r;

	sql1(f->loc, "INSERT INTO nas VALUES ('0.NA/88.100'::bytea), ('something else'::bytea)");
	sql1(f->loc,
	     "INSERT INTO handles VALUES"
	     " ('88.100.1/REF'::bytea, 2, 'EMAIL'::bytea, 'qa@example.com'::bytea, 0, 86400,"
	     "  1600000000, '', true, true, true, false),"
	     " ('88.100.1/REF'::bytea, 1, 'URL'::bytea, 'https://r.example/'::bytea, 0, 60,"
	     "  1600000000, '5:0.NA/88.100', true, true, false, false),"
	     " ('88.100.1/NULLS'::bytea, 1, 'URL'::bytea, NULL, NULL, NULL, NULL, NULL,"
	     "  NULL, NULL, NULL, NULL)");
	put1(f->s, S("88.100.1/IDN"), S("x"), 0, IDN_OK);

	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_get(t, S("88.100.1/REF"), &v), IDN_OK);
	assert_int_equal(record_check(v), IDN_OK);
	assert_int_equal(record_parse(v, &r), IDN_OK);
	assert_int_equal(r.nvalues, 2);
	assert_int_equal(r.flags & RECORD_F_ALL_PUBLIC, 0); /* idx 1 is not public */
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	proto_value pv;
	proto_value_get(&c, &pv); /* in index order */
	assert_int_equal(pv.index, 1);
	assert_int_equal(pv.ttl, 60);
	assert_int_equal(pv.nrefs, 1);
	wire_rd refs = wire_rd_init(pv.refs.p, pv.refs.len);
	proto_ref ref;
	assert_int_equal(proto_ref_next(&refs, &ref), 1);
	assert_int_equal(ref.index, 5);
	assert_true(idn_slice_eq(ref.handle, S("0.NA/88.100")));
	proto_value_get(&c, &pv);
	assert_int_equal(pv.index, 2);
	assert_true(idn_slice_eq(pv.data, S("qa@example.com")));
	assert_int_equal(pv.perms,
	                 PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE | PROTO_PERM_PUBLIC_READ);

	/* NULL columns: the reference's defaults */
	assert_int_equal(store_get(t, S("88.100.1/NULLS"), &v), IDN_OK);
	assert_int_equal(record_parse(v, &r), IDN_OK);
	c = wire_rd_init(r.values.p, r.values.len);
	proto_value_get(&c, &pv);
	assert_int_equal(c.err, 0);
	assert_int_equal(pv.ttl, 86400);
	assert_int_equal(pv.data.len, 0);
	assert_int_equal(pv.perms & PROTO_PERM_PUBLIC_READ, PROTO_PERM_PUBLIC_READ);

	/* scan and count see rows-only identifiers beside idnode's records */
	struct found fo = {0};
	assert_int_equal(store_scan(t, S("88.100.1/"), found_cb, &fo), 0);
	assert_int_equal(fo.n, 3);
	assert_string_equal(fo.keys[0], "88.100.1/IDN");
	assert_string_equal(fo.keys[1], "88.100.1/NULLS");
	assert_string_equal(fo.keys[2], "88.100.1/REF");
	assert_int_equal(fo.check[2], IDN_OK);
	uint64_t n;
	assert_int_equal(store_count(t, &n), IDN_OK);
	assert_int_equal(n, 3);

	/* nas: "0.NA/<prefix>" rows are the homed prefixes */
	assert_int_equal(store_is_homed(t, S("88.100")), 1);
	fo.n = 0;
	assert_int_equal(store_list_homed(t, found_cb, &fo), 0);
	assert_int_equal(fo.n, 1);
	assert_string_equal(fo.keys[0], "88.100");
	store_txn_abort(t);
	assert_string_equal(sql1(f->loc, "SELECT count(*) FROM nas WHERE na = '0.NA/88.100'"), "1");

	/* a bad refs text is a store error, not a crash */
	sql1(f->loc,
	     "INSERT INTO handles (handle, idx, refs) VALUES ('88.100.1/BAD', 1, 'nocolon')");
	expect_get(f->s, S("88.100.1/BAD"), IDN_ESTORE, S(""));
}

struct order {
	char last[64];
	unsigned n, rows_only;
	bool sorted;
};

static int order_cb(void *arg, idn_slice key, idn_slice val)
{
	struct order *o = arg;
	char k[64];
	snprintf(k, sizeof(k), "%.*s", (int)key.len, (const char *)key.p);
	if (o->n && strcmp(o->last, k) >= 0)
		o->sorted = false;
	snprintf(o->last, sizeof(o->last), "%s", k);
	o->n++;
	o->rows_only += strstr(k, "/R") != NULL && record_check(val) == IDN_OK;
	return 0;
}

/*
 * Scans page by page (SCAN_PAGE rows) through idnode records and rows-only
 * identifiers interleaved, far more of either than a page: each key once,
 * in order, from any start.
 */
static void test_pg_scan_pages_mixed(void **state)
{
	struct fx *f = *state;
	store_txn *t;

	/* 3000 rows-only identifiers, two rows each: 88.100.1/R0000 .. R2999 */
	sql1(f->loc, "INSERT INTO handles SELECT convert_to('88.100.1/R' || lpad(i::text, 4, '0'),"
	             " 'UTF8'), j, 'URL'::bytea, 'https://r/'::bytea, 0, 60, 1600000000, '',"
	             " true, true, true, false FROM generate_series(0, 2999) i,"
	             " generate_series(1, 2) j");
	/* 2500 idnode records around them: 88.100.1/Q0000.., /S0000.. */
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (int i = 0; i < 2500; i++) {
		char k[32];
		snprintf(k, sizeof(k), "88.100.1/%c%04d", i % 2 ? 'S' : 'Q', i);
		assert_int_equal(store_put(t, idn_slice_of(k, strlen(k)), S("v"), 0), IDN_OK);
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);

	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	struct order o = {.sorted = true};
	assert_int_equal(store_scan(t, S("88.100.1/"), order_cb, &o), 0);
	assert_int_equal(o.n, 5500);
	assert_int_equal(o.rows_only, 3000);
	assert_true(o.sorted);
	/* from a start in the middle of the rows-only ones */
	o = (struct order){.sorted = true};
	assert_int_equal(store_scan_from(t, S("88.100.1/"), S("88.100.1/R1500"), order_cb, &o), 0);
	assert_int_equal(o.n, 1500 + 1250);
	assert_true(o.sorted);
	store_txn_abort(t);
}

/* Someone else (the reference server, an SQL tool) changes rows idnode wrote. */
static void test_pg_rows_changed_elsewhere(void **state)
{
	struct fx *f = *state;
	uint8_t rec[512], refbuf[128];
	store_txn *t;
	idn_slice v;
	record r;
	int len = sample_record(rec, sizeof(rec), refbuf);
	put1(f->s, S("88.100.1/CHG"), idn_slice_of(rec, (size_t)len), 0, IDN_OK);

	sql1(f->loc, "UPDATE handles SET data = 'https://changed/'::bytea"
	             " WHERE handle = '88.100.1/CHG'::bytea AND idx = 1");
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_get(t, S("88.100.1/CHG"), &v), IDN_OK);
	assert_int_equal(record_parse(v, &r), IDN_OK);
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	proto_value pv;
	proto_value_get(&c, &pv);
	assert_true(idn_slice_eq(pv.data, S("https://changed/")));
	store_txn_abort(t);

	sql1(f->loc, "DELETE FROM handles WHERE handle = '88.100.1/CHG'::bytea");
	expect_get(f->s, S("88.100.1/CHG"), IDN_ENOTFOUND, S(""));
}

/* pg_rows_values() decodes what record_build() wrote, exactly. */
static void test_pg_rows_build_agrees(void **state)
{
	(void)state;
	uint8_t a[512], b[512], refbuf[128];
	proto_value vals[4];
	int len = sample_record(a, sizeof(a), refbuf);
	assert_true(len > 0);
	int n = pg_rows_values(idn_slice_of(a, (size_t)len), vals, 4);
	assert_int_equal(n, 2);
	assert_int_equal(record_size(vals, 2), (size_t)len);
	assert_int_equal(record_build(vals, 2, b, sizeof(b)), len);
	assert_memory_equal(a, b, (size_t)len);
	/* not records */
	assert_int_equal(pg_rows_values(S("opaque"), vals, 4), IDN_ESTORE);
	a[len - 1] ^= 0; /* a record cut short is no record */
	assert_int_equal(pg_rows_values(idn_slice_of(a, (size_t)len - 1), vals, 4), IDN_ESTORE);
	/* a tab inside a reference cannot be written as the reference's refs text */
	char text[256];
	wire_wr w = wire_wr_init(refbuf, sizeof(refbuf));
	wire_put_lbytes(&w, "a\tb", 3);
	wire_put_u32(&w, 1);
	proto_value tv = {.nrefs = 1, .refs = idn_slice_of(refbuf, wire_wr_len(&w))};
	assert_int_equal(pg_rows_refs_text(&tv, text, sizeof(text)), IDN_ERANGE);
}

/* The server drops every connection (as a restart does): the next transactions recover. */
static void test_pg_reconnect(void **state)
{
	struct fx *f = *state;
	store_txn *r, *w;
	idn_slice v;
	const char *kill_sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
	                       " WHERE datname = current_database() AND pid <> pg_backend_pid()";

	put1(f->s, S("k"), S("v1"), 0, IDN_OK);
	/* a few pooled connections */
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &r), IDN_OK);
	assert_int_equal(store_txn_begin(f->s, 0, &w), IDN_OK);
	store_txn_abort(w);
	assert_int_equal(store_get(r, S("k"), &v), IDN_OK);

	sql1(f->loc, kill_sql);
	/* the open transaction fails clearly ... */
	assert_int_equal(store_get(r, S("k"), &v), IDN_ESTORE);
	/* ... and a renew gets a new connection */
	assert_int_equal(store_txn_renew(r), IDN_OK);
	assert_int_equal(store_get(r, S("k"), &v), IDN_OK);
	assert_memory_equal(v.p, "v1", 2);
	store_txn_abort(r);

	/* dead pooled connections are replaced at begin, unseen by the caller */
	sql1(f->loc, kill_sql);
	put1(f->s, S("k"), S("v2"), 0, IDN_OK);
	expect_get(f->s, S("k"), IDN_OK, S("v2"));
}

/* Two stores on one database (two idnode processes): one truth, one writer at a time. */
static void test_pg_two_stores(void **state)
{
	struct fx *f = *state;
	store *s2 = suite_open(f->loc);
	store_txn *w1, *r2;
	idn_slice v;

	assert_int_equal(store_txn_begin(s2, STORE_RDONLY, &r2), IDN_OK);
	assert_int_equal(store_txn_begin(f->s, 0, &w1), IDN_OK);
	assert_int_equal(store_put(w1, S("shared"), S("one"), 0), IDN_OK);
	assert_int_equal(store_home(w1, S("88.7")), IDN_OK);
	/* not committed: invisible elsewhere */
	assert_int_equal(store_get(r2, S("shared"), &v), IDN_ENOTFOUND);
	assert_int_equal(store_txn_commit(w1), IDN_OK);
	/* r2's snapshot predates the commit */
	assert_int_equal(store_get(r2, S("shared"), &v), IDN_ENOTFOUND);
	assert_int_equal(store_txn_renew(r2), IDN_OK);
	assert_int_equal(store_get(r2, S("shared"), &v), IDN_OK);
	assert_int_equal(store_is_homed(r2, S("88.7")), 1);
	store_txn_abort(r2);

	/* NOOVERWRITE across stores */
	put1(s2, S("shared"), S("two"), STORE_NOOVERWRITE, IDN_EEXIST);
	put1(s2, S("shared"), S("two"), 0, IDN_OK);
	expect_get(f->s, S("shared"), IDN_OK, S("two"));
	store_close(s2);
}

/* must_exist (dump, verify): a database without idnode's schema is "no store", and stays bare. */
static void test_pg_must_exist(void **state)
{
	(void)state;
	char loc[1024];
	assert_int_equal(pg_make(loc, sizeof(loc)), 0);
	store_opts must = {.must_exist = 1};
	store *s = NULL;
	assert_int_equal(store_open(loc, &must, &s), IDN_ENOTFOUND);
	assert_null(s);
	assert_string_equal(sql1(db_uri, "SELECT to_regclass('idn_records') IS NULL"), "t");
	assert_int_equal(store_open(loc, NULL, &s), IDN_OK); /* serve, load: made */
	store_close(s);
	assert_int_equal(store_open(loc, &must, &s), IDN_OK);
	store_close(s);
}

struct log_writer {
	store *s;
	char tag;
	int rc;
};

static void *log_writer_main(void *arg)
{
	struct log_writer *lw = arg;
	char key[32];
	for (int i = 0; i < 40 && !lw->rc; i++) {
		store_txn *t;
		snprintf(key, sizeof(key), "88.7/%c%02d", lw->tag, i);
		lw->rc = store_txn_begin(lw->s, 0, &t);
		if (lw->rc)
			break;
		lw->rc = store_put(t, S(key), S("v"), 0);
		if (!lw->rc)
			lw->rc = store_put(t, S("88.7/last"), idn_slice_of(&lw->tag, 1), 0);
		lw->rc = lw->rc ? (store_txn_abort(t), lw->rc) : store_txn_commit(t);
	}
	return NULL;
}

struct last_put {
	uint64_t n, prev_seq;
	int gaps;
	char last;
};

static int last_put_cb(void *arg, const store_change *c)
{
	struct last_put *lp = arg;
	if (c->n == 0 && c->seq != lp->prev_seq + 1)
		lp->gaps++;
	lp->prev_seq = c->seq;
	if (c->key.len == 9 && memcmp(c->key.p, "88.7/last", 9) == 0)
		lp->last = (char)c->val.p[0];
	lp->n++;
	return 0;
}

/* Two stores (two processes) writing at once: one sequence, in commit order. */
static void test_pg_two_writers_log(void **state)
{
	struct fx *f = *state;
	store *s2 = suite_open(f->loc);
	struct log_writer a = {.s = f->s, .tag = 'a'}, b = {.s = s2, .tag = 'b'};
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, log_writer_main, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, log_writer_main, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.rc, IDN_OK);
	assert_int_equal(b.rc, IDN_OK);

	store_txn *t;
	struct last_put lp = {0};
	uint64_t last, oldest;
	idn_slice v;
	assert_int_equal(store_txn_begin(s2, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_log_state(t, &last, &oldest), IDN_OK);
	assert_int_equal(last, 80);
	assert_int_equal(oldest, 1);
	assert_int_equal(store_log_read(t, 1, 0, last_put_cb, &lp), IDN_OK);
	assert_int_equal(lp.n, 160);
	assert_int_equal(lp.gaps, 0);
	/* the log's last word on a key is the data's */
	assert_int_equal(store_get(t, S("88.7/last"), &v), IDN_OK);
	assert_int_equal(v.p[0], lp.last);
	store_txn_abort(t);
	store_close(s2);
}

/* ---- bulk writes (STORE_NOLOG): the same tables as one put at a time ---- */

/* Record kind i % 4: the sample; opaque bytes; two values of one index; refs
 * the reference's text cannot hold (a tab in a handle: no rows). */
static size_t bulk_value(int i, int variant, uint8_t *out, size_t cap)
{
	uint8_t refbuf[128];
	char data[64];
	snprintf(data, sizeof(data), "https://bulk/%d/%d", i, variant);
	proto_value v[2] = {
	    {.index = 1,
	     .ttl = 60,
	     .perms = 0xf,
	     .type = IDN_SLICE("URL"),
	     .data = idn_slice_of(data, strlen(data))},
	    {.index = 1,
	     .ttl = 60,
	     .perms = 0x3,
	     .type = IDN_SLICE("EMAIL"),
	     .data = IDN_SLICE("second@example.com")},
	};
	int len;
	switch (i % 4) {
	case 0:
		len = sample_record(out, cap, refbuf);
		break;
	case 1:
		len = snprintf((char *)out, cap, "opaque-%d-%d", i, variant);
		break;
	case 2:
		len = record_build(v, 2, out, cap);
		break;
	default: {
		wire_wr w = wire_wr_init(refbuf, sizeof(refbuf));
		wire_put_lbytes(&w, "88.100.1/a\tb", 12);
		wire_put_u32(&w, 1);
		v[0].nrefs = 1;
		v[0].refs = idn_slice_of(refbuf, wire_wr_len(&w));
		len = record_build(v, 1, out, cap);
	}
	}
	assert_true(len > 0);
	return (size_t)len;
}

enum { BULK_N = 3000 };

/* Puts, overwrites, a read of its own write, a delete: in one transaction. */
static void bulk_ops(store *s, unsigned flags)
{
	store_txn *t;
	uint8_t rec[1024];
	char k[32];
	assert_int_equal(store_txn_begin(s, flags, &t), IDN_OK);
	for (int i = 0; i < BULK_N; i++) {
		snprintf(k, sizeof(k), "88.100.1/B%05d", i);
		size_t len = bulk_value(i, 0, rec, sizeof(rec));
		assert_int_equal(store_put(t, S(k), idn_slice_of(rec, len), 0), IDN_OK);
		if (i == 1500) {
			/* a read sees the writes before it */
			idn_slice got;
			assert_int_equal(store_get(t, S("88.100.1/B00020"), &got), IDN_OK);
			len = bulk_value(20, 0, rec, sizeof(rec));
			assert_int_equal(got.len, len);
			assert_memory_equal(got.p, rec, len);
			assert_int_equal(store_del(t, S("88.100.1/B00021")), IDN_OK);
		}
	}
	/* the last put of a key wins: a record over opaque bytes and back */
	for (int v = 1; v <= 2; v++) {
		size_t len = bulk_value(10 + v, v, rec, sizeof(rec));
		assert_int_equal(store_put(t, S("88.100.1/B00010"), idn_slice_of(rec, len), 0),
		                 IDN_OK);
	}
	size_t len = bulk_value(20, 9, rec, sizeof(rec));
	assert_int_equal(store_put(t, S("88.100.1/B00022"), idn_slice_of(rec, len), 0), IDN_OK);
	assert_int_equal(store_del(t, S("88.100.1/B00023")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

static void tables_digest(const char *uri, char *out, size_t cap)
{
	snprintf(out, cap, "%s",
	         sql1(uri, "SELECT md5(coalesce(string_agg(concat_ws('|', encode(handle, 'hex'),"
	                   " idx, encode(type, 'hex'), encode(data, 'hex'), ttl_type, ttl,"
	                   " timestamp, refs, admin_read, admin_write, pub_read, pub_write), ','"
	                   " ORDER BY handle, idx), '')) || ':' || count(*) FROM handles"));
	size_t n = strlen(out);
	snprintf(out + n, cap - n, "/%s",
	         sql1(uri, "SELECT md5(coalesce(string_agg(encode(k, 'hex') || '=' ||"
	                   " encode(rec, 'hex'), ',' ORDER BY k), '')) || ':' || count(*)"
	                   " FROM idn_records"));
}

static void test_pg_bulk_same_as_single(void **state)
{
	struct fx *f = *state;
	char one[128], bulk[128];
	bulk_ops(f->s, 0);
	tables_digest(f->loc, one, sizeof(one));
	assert_int_equal(count_of(f->s), BULK_N - 2);

	store_txn *t;
	uint64_t last, oldest;
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	for (int i = 0; i < BULK_N; i++) {
		char k[32];
		snprintf(k, sizeof(k), "88.100.1/B%05d", i);
		int rc = store_del(t, S(k));
		assert_true(rc == IDN_OK || rc == IDN_ENOTFOUND);
	}
	assert_int_equal(store_txn_commit(t), IDN_OK);
	assert_int_equal(count_of(f->s), 0);

	bulk_ops(f->s, STORE_NOLOG);
	tables_digest(f->loc, bulk, sizeof(bulk));
	assert_string_equal(bulk, one);
	assert_int_equal(count_of(f->s), BULK_N - 2);
	/* not logged: the log restarts after the bulk transaction */
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(store_log_state(t, &last, &oldest), IDN_OK);
	assert_int_equal(oldest, last + 1);
	store_txn_abort(t);
	/* the rows are the reference's: they alone give back the same records */
	sql1(f->loc, "DELETE FROM idn_records WHERE k = '88.100.1/B00000'::bytea");
	uint8_t rec[1024];
	size_t len = bulk_value(0, 0, rec, sizeof(rec));
	expect_get(f->s, S("88.100.1/B00000"), IDN_OK, idn_slice_of(rec, len));
}

/*
 * A put whose row the database refuses (a CHECK added here) fails, though
 * its statements go in one pipeline. In a nested child (a batch's item) only
 * that child is lost: its savepoint is rolled back and the parent commits
 * the others. Outside one, the transaction fails whole.
 */
static void test_pg_nested_failed_put(void **state)
{
	struct fx *f = *state;
	uint8_t rec[512], refbuf[128];
	store_txn *t, *c;
	int len = sample_record(rec, sizeof(rec), refbuf);
	idn_slice r = idn_slice_of(rec, (size_t)len);
	sql1(f->loc, "ALTER TABLE handles ADD CONSTRAINT idn_test_no_bad"
	             " CHECK (handle <> '88.100.1/BAD'::bytea)");
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_txn_nest(t, &c), IDN_OK);
	assert_int_equal(store_put(c, S("88.100.1/OK1"), r, 0), IDN_OK);
	assert_int_equal(store_txn_commit(c), IDN_OK);
	assert_int_equal(store_txn_nest(t, &c), IDN_OK);
	assert_int_equal(store_put(c, S("88.100.1/BAD"), r, 0), IDN_ESTORE);
	assert_int_equal(store_txn_commit(c), IDN_ESTORE); /* rolled back, not committed */
	assert_int_equal(store_txn_nest(t, &c), IDN_OK);
	assert_int_equal(store_put(c, S("88.100.1/OK2"), r, 0), IDN_OK);
	assert_int_equal(store_txn_commit(c), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	expect_get(f->s, S("88.100.1/OK1"), IDN_OK, r);
	expect_get(f->s, S("88.100.1/OK2"), IDN_OK, r);
	expect_get(f->s, S("88.100.1/BAD"), IDN_ENOTFOUND, S(""));
	assert_string_equal(sql1(f->loc, "SELECT count(DISTINCT handle) FROM handles"), "2");

	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, S("88.100.1/OK3"), r, 0), IDN_OK);
	assert_int_equal(store_put(t, S("88.100.1/BAD"), r, 0), IDN_ESTORE);
	assert_int_not_equal(store_txn_commit(t), IDN_OK);
	expect_get(f->s, S("88.100.1/OK3"), IDN_ENOTFOUND, S(""));
	expect_get(f->s, S("88.100.1/BAD"), IDN_ENOTFOUND, S(""));
}

/*
 * The server ends the connection while a nested put is in pipeline mode
 * (group commit's children): killed from outside before the put, and by a
 * trigger on the pipeline's first statement, so the sync and the other
 * statements meet a dead connection; and the pipeline's sync, its second
 * statement or leaving pipeline mode fails with the connection up. The put, the child and the
 * parent fail with a clear error, none waits for results that will never come (alarm: a hang ends
 * the test as a failure), and the next transaction gets a new connection.
 */
static void test_pg_pipeline_conn_lost(void **state)
{
	struct fx *f = *state;
	const char *kill_sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
	                       " WHERE datname = current_database() AND pid <> pg_backend_pid()";
	sql1(f->loc, "CREATE FUNCTION idn_test_die() RETURNS trigger LANGUAGE plpgsql AS $$"
	             " BEGIN IF NEW.k = '88.100.1/DIE'::bytea THEN"
	             " PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(30);"
	             " END IF; RETURN NEW; END $$");
	sql1(f->loc, "CREATE TRIGGER idn_test_die BEFORE INSERT OR UPDATE ON idn_records"
	             " FOR EACH ROW EXECUTE FUNCTION idn_test_die()");
	store_txn *t, *c;
	real_sync = idn_pq.PQpipelineSync; /* loaded when the store was opened */
	idn_pq.PQpipelineSync = failing_sync;
	real_send = idn_pq.PQsendQueryPrepared;
	idn_pq.PQsendQueryPrepared = failing_send;
	real_exit = idn_pq.PQexitPipelineMode;
	idn_pq.PQexitPipelineMode = failing_exit;
	for (int round = 0; round < 5; round++) {
		assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
		assert_int_equal(store_txn_nest(t, &c), IDN_OK);
		assert_int_equal(store_put(c, S("88.100.1/A"), S("a"), 0), IDN_OK);
		assert_int_equal(store_txn_commit(c), IDN_OK);
		assert_int_equal(store_txn_nest(t, &c), IDN_OK);
		alarm(60);
		if (round == 0) {
			sql1(f->loc, kill_sql);
			assert_int_equal(store_put(c, S("88.100.1/B"), S("b"), 0), IDN_ESTORE);
		} else if (round == 1) {
			assert_int_equal(store_put(c, S("88.100.1/DIE"), S("d"), 0), IDN_ESTORE);
		} else if (round == 2) { /* the sync not sent: the server would keep the answers */
			fail_syncs = 1;
			assert_int_equal(store_put(c, S("88.100.1/B"), S("b"), 0), IDN_ESTORE);
		} else if (round == 3) { /* the record sent, its rows not: half a put */
			fail_send_at = 2;
			assert_int_equal(store_put(c, S("88.100.1/B"), S("b"), 0), IDN_ESTORE);
		} else { /* still in pipeline mode: a put that failed must not commit */
			fail_exits = 1;
			assert_int_equal(store_put(c, S("88.100.1/B"), S("b"), 0), IDN_ESTORE);
		}
		assert_int_equal(store_put(c, S("88.100.1/C"), S("c"), 0), IDN_ESTORE);
		assert_int_equal(store_txn_commit(c), IDN_ESTORE);
		assert_int_not_equal(store_txn_commit(t), IDN_OK);
		alarm(0);
		expect_get(f->s, S("88.100.1/A"), IDN_ENOTFOUND, S(""));
	}
	idn_pq.PQpipelineSync = real_sync;
	idn_pq.PQsendQueryPrepared = real_send;
	idn_pq.PQexitPipelineMode = real_exit;
	/* usable again: a new connection */
	put1(f->s, S("88.100.1/A"), S("a"), 0, IDN_OK);
	expect_get(f->s, S("88.100.1/A"), IDN_OK, S("a"));
}

int main(void)
{
	const char *uri = getenv("IDN_TEST_PG");
	const char *req = getenv("IDN_TEST_PG_REQUIRED");
	if (!uri || !*uri) {
		if (req && strcmp(req, "1") == 0) {
			fprintf(stderr, "test_store_pg: IDN_TEST_PG is not set but required "
			                "(scripts/pg.sh start prints a URI)\n");
			return 1;
		}
		printf(
		    "SKIP test_store_pg: IDN_TEST_PG is not set; run scripts/pg.sh start and "
		    "export IDN_TEST_PG=<the URI it prints> to run the PostgreSQL store tests\n");
		return 0;
	}
	snprintf(base_uri, sizeof(base_uri), "%s", uri);
	const struct CMUnitTest tests[] = {
	    STORE_SUITE_TESTS,
	    cmocka_unit_test(test_pg_rows_build_agrees),
	    cmocka_unit_test_setup_teardown(test_pg_rows_written, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_reference_rows, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_scan_pages_mixed, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_rows_changed_elsewhere, suite_setup,
	                                    suite_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_reconnect, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_two_stores, suite_setup, suite_teardown),
	    cmocka_unit_test(test_pg_must_exist),
	    cmocka_unit_test_setup_teardown(test_pg_two_writers_log, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_bulk_same_as_single, suite_setup,
	                                    suite_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_nested_failed_put, suite_setup, suite_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_pipeline_conn_lost, suite_setup,
	                                    suite_teardown),
	};
	suite_be = &pg_backend;
	return cmocka_run_group_tests_name("store/postgresql", tests, group_setup, group_teardown);
}
