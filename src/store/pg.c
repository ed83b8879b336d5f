/*
 * pg.c - the PostgreSQL store backend (libpq). location = a libpq connection
 * URI, "postgresql://user@host:port/db?...".
 *
 * Schema. The reference software's SQL layout, so that a database written by
 * the reference server is served unchanged and one written by idnode can be
 * served by the reference:
 *
 *   nas(na bytea primary key)                  homed prefixes, as "0.NA/<prefix>"
 *   handles(handle bytea, idx int4, type bytea, data bytea, ttl_type int2,
 *           ttl int4, timestamp int4, refs text, admin_read bool,
 *           admin_write bool, pub_read bool, pub_write bool,
 *           primary key (handle, idx))          one row per value
 *
 * plus idnode's own table
 *
 *   idn_records(k bytea primary key, rec bytea) the record, as LMDB holds it
 *
 * Why both: store.h's records are opaque bytes, and the resolution path
 * wants the record whole (a lookup plus a copy). Rebuilding it from rows on
 * every lookup costs a row per value and an encode; keeping the record
 * costs a second copy of the data on disk and a few more row writes per put.
 * So a put writes the record and, when the bytes are a record (pg_rows.h),
 * replaces the identifier's handles rows in the same transaction. A get
 * reads idn_records and, if the key is absent there, the handles rows (a
 * database the reference wrote), rebuilding the record; both in one round
 * trip. A trigger on handles drops the idn_records copy whenever someone
 * other than idnode (the reference server, an SQL tool) changes the rows, so
 * the rows stay the truth and the copy is never stale. idnode's own writes
 * set idnode.writer = on for their transaction so the trigger leaves them be.
 * The reference's optional index on handles(data) is not created: btree
 * entries are limited to ~2.7 kB, and idnode never searches by data.
 *
 * and for the tables (store.h)
 *
 *   idn_tab(k bytea primary key, v bytea)      table byte | key -> value
 *
 * and for the transaction log (store.h)
 *
 *   idn_txlog(seq int8, n int4, at int8, op int2, k bytea, v bytea,
 *             primary key (seq, n))        one row per change, at = time in ms
 *   idn_meta(name text primary key, val bytea)  "log.seq", "log.oldest",
 *                                               "log.bytes" (int8 as 8 bytes
 *                                               big-endian); callers' values
 *                                               under "u." + name
 *
 * Sequence numbers are taken under the writer's advisory lock, so sequence
 * order is commit order across processes sharing the database.
 *
 * Connections: a small pool per store. A transaction takes a connection
 * from the pool (or opens one) for its life and gives it back at the end, so
 * any number of threads run transactions at once and a thread may hold a
 * read transaction while it writes. A reset read transaction keeps its
 * connection (its COMMIT sent, the answer read at renew), so the per-batch
 * reset/renew of the hot paths costs one round trip. Read transactions are REPEATABLE READ
 * READ ONLY (one snapshot); write transactions take a transaction-level
 * advisory lock, so one writer at a time across every idnode process on the
 * database, as store.h promises. Statements are prepared once per
 * connection; parameters and results are binary. A put's statements (the
 * record, its rows, its log entry) go in one round trip (pipeline mode).
 *
 * Nested write transactions (store_txn_nest: group commit, one per batch
 * item) are SAVEPOINTs on the parent's connection: one round trip each and
 * no commit of their own (pg_txn_nest).
 *
 * Read replicas: with store_opts.read_location, read-only transactions
 * take their connections from a second pool on that URI (a streaming
 * replica: hot standby), write transactions from the primary's. The schema
 * is created on the primary only; a replica has it by replication.
 *
 * Bulk writes: in a STORE_NOLOG write transaction (load, restore) puts
 * without STORE_NOOVERWRITE are not sent one by one (a round trip per
 * record and per value) but buffered as binary COPY data and written in
 * batches: COPY into two temporary tables, then three set statements replace
 * the records and their rows. Any other statement of the transaction (and
 * its commit) writes the batch first, so the transaction reads its own writes.
 *
 * Outages: a statement that fails on a broken connection makes the
 * transaction fail with IDN_ESTORE (and a message on stderr, at most once a
 * second); the broken connection is dropped rather than pooled. The next
 * begin/renew opens a fresh connection, so service resumes by itself once the
 * server is back. Pooled connections that died meanwhile are found at begin
 * (their BEGIN fails) and replaced transparently.
 *
 * Pointers returned by get live until the transaction ends or is reset (the
 * transaction keeps the results); scan's key and value are valid during the
 * callback only (pages of SCAN_PAGE rows are fetched by key, inside the
 * transaction's snapshot).
 */
#include "store/store.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/err.h"
#include "proto/record.h"
#include "store/pg_rows.h"
#include "store/pq.h"

enum {
	POOL_MAX = 64,         /* idle connections kept */
	SCAN_PAGE = 1000,      /* rows per scan round trip */
	ANALYZE_AFTER = 10000, /* bulk puts in one transaction that call for ANALYZE */
	MAX_VALUES = 65536,
	BYTEA_OID = 17,
	INT4_OID = 23,
	INT8_OID = 20,
	INT2_OID = 21,
	BOOL_OID = 16,
	TEXT_OID = 25,
};
/* Advisory lock keys in the SQL below: 1768189489 ("idn1", schema creation),
 * 1768189490 ("idn2", the writer). */

static const char NA_PREFIX[] = "0.NA/";

static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS nas (na bytea NOT NULL, PRIMARY KEY (na));"
    "CREATE TABLE IF NOT EXISTS handles (handle bytea NOT NULL, idx int4 NOT NULL,"
    " type bytea, data bytea, ttl_type int2, ttl int4, timestamp int4, refs text,"
    " admin_read bool, admin_write bool, pub_read bool, pub_write bool,"
    " PRIMARY KEY (handle, idx));"
    "CREATE TABLE IF NOT EXISTS idn_records (k bytea PRIMARY KEY, rec bytea NOT NULL);"
    "CREATE TABLE IF NOT EXISTS idn_txlog (seq int8 NOT NULL, n int4 NOT NULL, at int8 NOT NULL,"
    " op int2 NOT NULL, k bytea NOT NULL, v bytea NOT NULL, PRIMARY KEY (seq, n));"
    "CREATE TABLE IF NOT EXISTS idn_meta (name text PRIMARY KEY, val bytea NOT NULL);"
    "CREATE TABLE IF NOT EXISTS idn_tab (k bytea PRIMARY KEY, v bytea NOT NULL);"
    "CREATE OR REPLACE FUNCTION idn_handles_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF current_setting('idnode.writer', true) IS DISTINCT FROM 'on' THEN"
    "   IF TG_OP <> 'INSERT' THEN DELETE FROM idn_records WHERE k = OLD.handle; END IF;"
    "   IF TG_OP <> 'DELETE' THEN DELETE FROM idn_records WHERE k = NEW.handle; END IF;"
    "  END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE OR REPLACE TRIGGER idn_handles_changed AFTER INSERT OR UPDATE OR DELETE ON handles"
    " FOR EACH ROW EXECUTE FUNCTION idn_handles_changed();";

/* The columns of a rows query, in this order, after rec (see S_GET). */
#define ROW_COLS                                                                                   \
	"idx, type, data, ttl_type, ttl, timestamp, refs, admin_read, admin_write, pub_read, "     \
	"pub_write"

enum stmt {
	S_GET,
	S_EXISTS,
	S_PUT,
	S_DELREC,
	S_DELROWS,
	S_INSROW,
	S_SCAN,
	S_COUNT,
	S_HOME,
	S_UNHOME,
	S_ISHOMED,
	S_LISTHOMED,
	S_META_GET,
	S_META_PUT,
	S_LOG_INS,
	S_LOG_READ,
	S_LOG_HEAD,
	S_LOG_FIRST_AT,
	S_LOG_DROP_BELOW,
	S_TAB_GET,
	S_TAB_PUT,
	S_TAB_INS,
	S_TAB_DEL,
	S_TAB_SCAN,
	S_COUNT_STMTS
};

static const struct {
	const char *name;
	const char *sql;
	int nparams;
	Oid types[12];
} stmts[S_COUNT_STMTS] = {
    /* the record, or else the handles rows (a database the reference wrote) */
    [S_GET] = {"idn_get",
               "SELECT rec, NULL::int4 AS idx, NULL::bytea AS type, NULL::bytea AS data,"
               " NULL::int2 AS ttl_type, NULL::int4 AS ttl, NULL::int4 AS timestamp,"
               " NULL::text AS refs, NULL::bool, NULL::bool, NULL::bool, NULL::bool"
               " FROM idn_records WHERE k = $1"
               " UNION ALL (SELECT NULL::bytea, " ROW_COLS " FROM handles WHERE handle = $1"
               " AND NOT EXISTS (SELECT 1 FROM idn_records WHERE k = $1) ORDER BY idx)",
               1,
               {BYTEA_OID}},
    [S_EXISTS] = {"idn_exists",
                  "SELECT 1 FROM idn_records WHERE k = $1"
                  " UNION ALL (SELECT 1 FROM handles WHERE handle = $1 LIMIT 1)",
                  1,
                  {BYTEA_OID}},
    [S_PUT] = {"idn_put",
               "INSERT INTO idn_records (k, rec) VALUES ($1, $2)"
               " ON CONFLICT (k) DO UPDATE SET rec = EXCLUDED.rec",
               2,
               {BYTEA_OID, BYTEA_OID}},
    [S_DELREC] = {"idn_delrec", "DELETE FROM idn_records WHERE k = $1", 1, {BYTEA_OID}},
    [S_DELROWS] = {"idn_delrows", "DELETE FROM handles WHERE handle = $1", 1, {BYTEA_OID}},
    /* a record with two values of one index keeps the first as a row */
    [S_INSROW] = {"idn_insrow",
                  "INSERT INTO handles (handle, " ROW_COLS ")"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                  " ON CONFLICT (handle, idx) DO NOTHING",
                  12,
                  {BYTEA_OID, INT4_OID, BYTEA_OID, BYTEA_OID, INT2_OID, INT4_OID, INT4_OID,
                   TEXT_OID, BOOL_OID, BOOL_OID, BOOL_OID, BOOL_OID}},
    /*
     * keys >= $1 and < $2 (no bound when NULL), records or identifiers with
     * rows only. Each branch reads one page along its primary key: the first
     * page of the merged order is within the first page of records and the
     * first page of distinct handles, so a page costs a page, not a walk of
     * every handle row after $1 (which made a dump of 1 M quadratic).
     */
    [S_SCAN] = {"idn_scan",
                "SELECT k, rec FROM ("
                "(SELECT k, rec FROM idn_records WHERE k >= $1 AND ($2::bytea IS NULL OR k < $2)"
                " ORDER BY k LIMIT " /* SCAN_PAGE */ "1000)"
                " UNION ALL (SELECT d.handle, NULL::bytea FROM (SELECT DISTINCT handle"
                " FROM handles WHERE handle >= $1 AND ($2::bytea IS NULL OR handle < $2)"
                " ORDER BY handle LIMIT " /* SCAN_PAGE */ "1000) d"
                " WHERE NOT EXISTS (SELECT 1 FROM idn_records r WHERE r.k = d.handle))"
                ") u ORDER BY 1 LIMIT " /* SCAN_PAGE */ "1000",
                2,
                {BYTEA_OID, BYTEA_OID}},
    [S_COUNT] = {"idn_count",
                 "SELECT (SELECT count(*) FROM idn_records) + (SELECT count(DISTINCT handle)"
                 " FROM handles h WHERE NOT EXISTS"
                 " (SELECT 1 FROM idn_records r WHERE r.k = h.handle))",
                 0,
                 {0}},
    [S_HOME] = {"idn_home",
                "INSERT INTO nas (na) VALUES ($1) ON CONFLICT DO NOTHING",
                1,
                {BYTEA_OID}},
    [S_UNHOME] = {"idn_unhome", "DELETE FROM nas WHERE na = $1", 1, {BYTEA_OID}},
    [S_ISHOMED] = {"idn_ishomed", "SELECT 1 FROM nas WHERE na = $1", 1, {BYTEA_OID}},
    [S_LISTHOMED] = {"idn_listhomed", "SELECT na FROM nas ORDER BY na", 0, {0}},
    [S_META_GET] = {"idn_meta_get", "SELECT val FROM idn_meta WHERE name = $1", 1, {TEXT_OID}},
    [S_META_PUT] = {"idn_meta_put",
                    "INSERT INTO idn_meta (name, val) VALUES ($1, $2)"
                    " ON CONFLICT (name) DO UPDATE SET val = EXCLUDED.val",
                    2,
                    {TEXT_OID, BYTEA_OID}},
    [S_LOG_INS] = {"idn_log_ins",
                   "INSERT INTO idn_txlog (seq, n, at, op, k, v) VALUES ($1, $2, $3, $4, $5, $6)",
                   6,
                   {INT8_OID, INT4_OID, INT8_OID, INT2_OID, BYTEA_OID, BYTEA_OID}},
    /* changes after (seq $1, n $2) up to seq $3, a page at a time */
    [S_LOG_READ] = {"idn_log_read",
                    "SELECT seq, n, at, op, k, v FROM idn_txlog WHERE (seq, n) > ($1, $2)"
                    " AND seq <= $3 ORDER BY seq, n LIMIT " /* SCAN_PAGE */ "1000",
                    3,
                    {INT8_OID, INT4_OID, INT8_OID}},
    /* the oldest transactions: seq, bytes (as the LMDB backend counts them), time */
    [S_LOG_HEAD] = {"idn_log_head",
                    "SELECT seq, sum(25 + length(k) + length(v))::int8, min(at) FROM idn_txlog"
                    " GROUP BY seq ORDER BY seq LIMIT " /* SCAN_PAGE */ "1000",
                    0,
                    {0}},
    /* the oldest change's time, by the primary key: cheap at every commit */
    [S_LOG_FIRST_AT] = {"idn_log_first_at",
                        "SELECT at FROM idn_txlog ORDER BY seq, n LIMIT 1",
                        0,
                        {0}},
    [S_LOG_DROP_BELOW] = {"idn_log_drop", "DELETE FROM idn_txlog WHERE seq < $1", 1, {INT8_OID}},
    [S_TAB_GET] = {"idn_tab_get", "SELECT v FROM idn_tab WHERE k = $1", 1, {BYTEA_OID}},
    [S_TAB_PUT] = {"idn_tab_put",
                   "INSERT INTO idn_tab (k, v) VALUES ($1, $2)"
                   " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                   2,
                   {BYTEA_OID, BYTEA_OID}},
    [S_TAB_INS] = {"idn_tab_ins",
                   "INSERT INTO idn_tab (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
                   2,
                   {BYTEA_OID, BYTEA_OID}},
    [S_TAB_DEL] = {"idn_tab_del", "DELETE FROM idn_tab WHERE k = $1", 1, {BYTEA_OID}},
    /* keys >= $1 and < $2 (no bound when NULL), a page at a time */
    [S_TAB_SCAN] = {"idn_tab_scan",
                    "SELECT k, v FROM idn_tab WHERE k >= $1 AND ($2::bytea IS NULL OR k < $2)"
                    " ORDER BY k LIMIT " /* SCAN_PAGE */ "1000",
                    2,
                    {BYTEA_OID, BYTEA_OID}},
};

struct pg_store {
	store base;
	char *uri;
	bool no_sync;
	uint64_t log_max_bytes;
	uint64_t log_max_age_ms;
	pthread_mutex_t mu; /* guards pool, nidle, rpool, rnidle, last_log */
	PGconn *pool[POOL_MAX];
	int nidle;
	time_t last_log;
	/* read-only transactions' connections: to read_uri (a replica), if set */
	char *read_uri;
	PGconn *rpool[POOL_MAX];
	int rnidle;
};

struct pg_txn {
	store_txn base;
	struct pg_store *ps;
	PGconn *c;
	bool rdonly;
	bool live;        /* a transaction is open on c */
	bool commit_sent; /* reset: COMMIT sent on c, its answer not read yet */
	/* kept until the end or reset: results and buffers borrowed by callers */
	PGresult **res;
	size_t nres, capres;
	void **bufs;
	size_t nbufs, capbufs;
	/* the log of a write txn: seq 0 until the first change */
	uint64_t seq;
	uint64_t time_ms;
	uint64_t log_bytes;
	uint32_t nchg;
	bool overflow;  /* more than log_max_bytes: not kept, the log is emptied at commit */
	bool disk_full; /* a statement failed with SQLSTATE 53100 (disk_full) */
	/* bulk writes (STORE_NOLOG): puts waiting to be copied, as COPY data */
	bool bulk;
	bool flushing;
	uint64_t nbulk;       /* puts buffered */
	uint64_t nbulk_total; /* puts of this transaction, for ANALYZE after a large one */
	struct bbuf {
		uint8_t *p;
		size_t len, cap;
	} brec, brows;
	/* nesting (pg_txn_nest): a child is a SAVEPOINT on its parent's connection */
	struct pg_txn *parent; /* a child's: it borrows the parent's c */
	bool sp_set;           /* a parent's: a child's savepoint is still set (see pg_txn_nest) */
	/* pipeline mode (put_pipelined): run() sends and counts, the results are read after */
	bool pipe;
	int npipe;
};

static void pg_log(struct pg_store *ps, const char *what, PGconn *c)
{
	time_t now = time(NULL);
	pthread_mutex_lock(&ps->mu);
	bool say = now != ps->last_log;
	ps->last_log = now;
	pthread_mutex_unlock(&ps->mu);
	if (!say)
		return;
	const char *msg = c ? PQerrorMessage(c) : "";
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	fprintf(stderr, "store: postgresql: %s: %.*s\n", what, (int)n, msg);
}

/* ---- connections ---- */

static int conn_prepare(PGconn *c, bool no_sync)
{
	PGresult *r;
	/* no_sync: a commit returns before the WAL is flushed (bulk loads, tests) */
	r = PQexec(c, no_sync ? "SET synchronous_commit = off" : "SET synchronous_commit = on");
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return IDN_ESTORE;
	for (int i = 0; i < S_COUNT_STMTS; i++) {
		r = PQprepare(c, stmts[i].name, stmts[i].sql, stmts[i].nparams, stmts[i].types);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok)
			return IDN_ESTORE;
	}
	return IDN_OK;
}

/* Whether a transaction's connection is to the read location (a replica). */
static bool on_replica(const struct pg_store *ps, bool rdonly)
{
	return rdonly && ps->read_uri;
}

static PGconn *conn_open(struct pg_store *ps, bool replica)
{
	PGconn *c = PQconnectdb(replica ? ps->read_uri : ps->uri);
	if (!c)
		return NULL;
	if (PQstatus(c) != CONNECTION_OK) {
		pg_log(ps, "cannot connect", c);
		PQfinish(c);
		return NULL;
	}
	if (conn_prepare(c, ps->no_sync)) {
		pg_log(ps, "cannot prepare statements", c);
		PQfinish(c);
		return NULL;
	}
	return c;
}

static PGconn *pool_take(struct pg_store *ps, bool replica)
{
	PGconn *c = NULL;
	PGconn **pool = replica ? ps->rpool : ps->pool;
	int *nidle = replica ? &ps->rnidle : &ps->nidle;
	pthread_mutex_lock(&ps->mu);
	if (*nidle)
		c = pool[--*nidle];
	pthread_mutex_unlock(&ps->mu);
	return c;
}

static void pool_give(struct pg_store *ps, PGconn *c, bool replica)
{
	if (!c)
		return;
	/* a broken connection, or one left inside a transaction, is not reused */
	if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE) {
		PQfinish(c);
		return;
	}
	PGconn **pool = replica ? ps->rpool : ps->pool;
	int *nidle = replica ? &ps->rnidle : &ps->nidle;
	pthread_mutex_lock(&ps->mu);
	if (*nidle < POOL_MAX) {
		pool[(*nidle)++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&ps->mu);
	if (c)
		PQfinish(c);
}

/* Runs a statement without result rows of interest (BEGIN, COMMIT ...). */
static bool exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	PQclear(r);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static const char *begin_sql(bool rdonly)
{
	if (rdonly)
		return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	/* one writer at a time, across processes; the trigger skips our own writes */
	return "BEGIN; SET LOCAL idnode.writer = 'on'; SELECT pg_advisory_xact_lock(1768189490)";
}

/*
 * Opens a transaction on t, taking a connection if t has none. Pooled
 * connections may have died (server restart): each failed BEGIN drops its
 * connection and tries the next, then a fresh one.
 */
static int txn_open(struct pg_txn *t)
{
	for (int tries = 0; tries <= POOL_MAX + 1; tries++) {
		if (!t->c)
			t->c = pool_take(t->ps, on_replica(t->ps, t->rdonly));
		if (!t->c)
			t->c = conn_open(t->ps, on_replica(t->ps, t->rdonly));
		if (!t->c)
			return IDN_ESTORE;
		if (exec_ok(t->c, begin_sql(t->rdonly))) {
			t->live = true;
			return IDN_OK;
		}
		bool broken = PQstatus(t->c) != CONNECTION_OK;
		if (!broken)
			pg_log(t->ps, "cannot begin a transaction", t->c);
		PQfinish(t->c);
		t->c = NULL;
		if (!broken)
			return IDN_ESTORE;
	}
	return IDN_ESTORE;
}

static void txn_release_results(struct pg_txn *t)
{
	for (size_t i = 0; i < t->nres; i++)
		PQclear(t->res[i]);
	t->nres = 0;
	for (size_t i = 0; i < t->nbufs; i++)
		free(t->bufs[i]);
	t->nbufs = 0;
}

static int keep_res(struct pg_txn *t, PGresult *r)
{
	if (t->nres == t->capres) {
		size_t cap = t->capres ? t->capres * 2 : 8;
		PGresult **n = realloc(t->res, cap * sizeof(*n));
		if (!n) {
			PQclear(r);
			return IDN_ENOMEM;
		}
		t->res = n;
		t->capres = cap;
	}
	t->res[t->nres++] = r;
	return IDN_OK;
}

static void *keep_buf(struct pg_txn *t, size_t len)
{
	if (t->nbufs == t->capbufs) {
		size_t cap = t->capbufs ? t->capbufs * 2 : 4;
		void **n = realloc(t->bufs, cap * sizeof(*n));
		if (!n)
			return NULL;
		t->bufs = n;
		t->capbufs = cap;
	}
	void *b = malloc(len ? len : 1);
	if (b)
		t->bufs[t->nbufs++] = b;
	return b;
}

/* A failed statement's result: notes a full disk (SQLSTATE 53100, disk_full). */
static void note_full(struct pg_txn *t, const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state && !strcmp(state, "53100"))
		t->disk_full = true;
}

static int bulk_flush(struct pg_txn *t);

/*
 * Ends t's connection after a failure in pipeline mode that leaves the
 * transaction in an unknown state (what = the step that failed). It cannot
 * go on: each later call on the connection fails at once, as after a
 * server restart, the server rolls back, and the pool drops it.
 */
static void conn_kill(struct pg_txn *t, const char *what)
{
	if (PQstatus(t->c) != CONNECTION_OK)
		return; /* gone already: the results say so at once */
	pg_log(t->ps, what, t->c);
	shutdown(PQsocket(t->c), SHUT_RDWR);
	PQconsumeInput(t->c); /* reads the end: libpq says CONNECTION_BAD from now on */
}

/* Runs prepared statement s with binary parameters; NULL result = error (logged). */
static PGresult *run(struct pg_txn *t, enum stmt s, const char *const *vals, const int *lens,
                     ExecStatusType want)
{
	static const int fmts[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	/* buffered puts first: the statement may read what they wrote */
	if (t->nbulk && bulk_flush(t))
		return NULL;
	if (t->pipe) { /* sent; its answer is read by pipe_end (want: COMMAND_OK) */
		if (!PQsendQueryPrepared(t->c, stmts[s].name, stmts[s].nparams, vals, lens, fmts,
		                         1)) {
			/* the put's earlier statements would stay: half a put */
			conn_kill(t, stmts[s].name);
			return NULL;
		}
		t->npipe++;
		return PQmakeEmptyPGresult(t->c, PGRES_COMMAND_OK);
	}
	PGresult *r = PQexecPrepared(t->c, stmts[s].name, stmts[s].nparams, vals, lens, fmts, 1);
	if (PQresultStatus(r) == want)
		return r;
	note_full(t, r);
	if (PQstatus(t->c) != CONNECTION_OK)
		pg_log(t->ps, "connection lost", t->c);
	else
		pg_log(t->ps, stmts[s].name, t->c);
	PQclear(r);
	return NULL;
}

static int check_key(idn_slice k)
{
	if (k.len == 0)
		return IDN_EINVAL;
	if (k.len > STORE_KEY_MAX)
		return IDN_ERANGE;
	return IDN_OK;
}

/* ---- the transaction log and meta values ---- */

static const char META_SEQ[] = "log.seq", META_OLDEST[] = "log.oldest", META_BYTES[] = "log.bytes";

static uint64_t be64v(const char *p)
{
	return store_be64((const uint8_t *)p);
}

/* A meta value, kept until the transaction ends; IDN_ENOTFOUND if absent. */
static int meta_get_raw(struct pg_txn *t, const char *name, idn_slice *val)
{
	const char *pv[1] = {name};
	int pl[1] = {(int)strlen(name)};
	PGresult *r = run(t, S_META_GET, pv, pl, PGRES_TUPLES_OK);
	if (!r)
		return IDN_ESTORE;
	int rc = keep_res(t, r);
	if (rc)
		return rc;
	if (PQntuples(r) == 0)
		return IDN_ENOTFOUND;
	*val = idn_slice_of(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	return IDN_OK;
}

static int meta_put_raw(struct pg_txn *t, const char *name, idn_slice val)
{
	const char *pv[2] = {name, val.len ? (const char *)val.p : ""};
	int pl[2] = {(int)strlen(name), (int)val.len};
	PGresult *r = run(t, S_META_PUT, pv, pl, PGRES_COMMAND_OK);
	if (!r)
		return IDN_ESTORE;
	PQclear(r);
	return IDN_OK;
}

static int meta_u64(struct pg_txn *t, const char *name, uint64_t dflt, uint64_t *out)
{
	idn_slice v;
	int rc = meta_get_raw(t, name, &v);
	*out = dflt;
	if (rc == IDN_ENOTFOUND)
		return IDN_OK;
	if (rc)
		return rc;
	if (v.len != 8)
		return IDN_ESTORE;
	*out = store_be64(v.p);
	return IDN_OK;
}

static int meta_put_u64(struct pg_txn *t, const char *name, uint64_t val)
{
	uint8_t b[8];
	store_put_be64(b, val);
	return meta_put_raw(t, name, idn_slice_of(b, 8));
}

/* The txn's sequence number, read at its first change. */
static int log_start(struct pg_txn *t)
{
	if (t->seq)
		return IDN_OK;
	uint64_t last;
	int rc = meta_u64(t, META_SEQ, 0, &last);
	if (rc)
		return rc;
	t->seq = last + 1;
	t->time_ms = store_now_ms();
	return IDN_OK;
}

/* Appends one change of a write txn to idn_txlog (see store.h). */
static int log_append(struct pg_txn *t, int op, idn_slice key, idn_slice val)
{
	int rc = log_start(t);
	if (rc)
		return rc;
	if (t->overflow)
		return IDN_OK;
	uint64_t size = 25 + key.len + val.len; /* as S_LOG_HEAD counts */
	if (t->log_bytes + size > t->ps->log_max_bytes) {
		t->overflow = true; /* part of a transaction would be worse than none */
		return IDN_OK;
	}
	uint8_t seq[8], n[4], at[8], opb[2];
	store_put_be64(seq, t->seq);
	idn_put_be32(n, t->nchg);
	store_put_be64(at, t->time_ms);
	idn_put_be16(opb, (uint16_t)op);
	const char *pv[6] = {(const char *)seq,   (const char *)n,
	                     (const char *)at,    (const char *)opb,
	                     (const char *)key.p, val.len ? (const char *)val.p : ""};
	int pl[6] = {8, 4, 8, 2, (int)key.len, (int)val.len};
	PGresult *r = run(t, S_LOG_INS, pv, pl, PGRES_COMMAND_OK);
	if (!r)
		return IDN_ESTORE;
	PQclear(r);
	t->nchg++;
	t->log_bytes += size;
	return IDN_OK;
}

static int drop_below(struct pg_txn *t, uint64_t seq)
{
	uint8_t b[8];
	store_put_be64(b, seq);
	const char *pv[1] = {(const char *)b};
	int pl[1] = {8};
	PGresult *r = run(t, S_LOG_DROP_BELOW, pv, pl, PGRES_COMMAND_OK);
	if (!r)
		return IDN_ESTORE;
	PQclear(r);
	return IDN_OK;
}

/*
 * Before the commit of a write txn that changed something: records its
 * sequence number and prunes whole transactions from the oldest while the
 * log is too old or too large (never the one committing).
 */
static int log_finish(struct pg_txn *t)
{
	uint64_t bytes, oldest, now = store_now_ms();
	uint64_t cutoff = now > t->ps->log_max_age_ms ? now - t->ps->log_max_age_ms : 0;
	int rc;

	if ((rc = meta_u64(t, META_BYTES, 0, &bytes)) ||
	    (rc = meta_u64(t, META_OLDEST, 1, &oldest)))
		return rc;
	if (t->overflow) {
		if ((rc = drop_below(t, UINT64_MAX >> 1)))
			return rc;
		bytes = 0;
		oldest = t->seq + 1;
		goto out;
	}
	bytes += t->log_bytes;
	if (bytes <= t->ps->log_max_bytes) {
		/* within the size bound: prune only when the oldest change is too old */
		PGresult *r = run(t, S_LOG_FIRST_AT, NULL, NULL, PGRES_TUPLES_OK);
		if (!r)
			return IDN_ESTORE;
		bool young = PQntuples(r) == 0 || be64v(PQgetvalue(r, 0, 0)) >= cutoff;
		PQclear(r);
		if (young)
			goto out;
	}
	/* pages of the oldest transactions until one may stay */
	for (bool more = true; more;) {
		PGresult *r = run(t, S_LOG_HEAD, NULL, NULL, PGRES_TUPLES_OK);
		if (!r)
			return IDN_ESTORE;
		uint64_t keep = oldest;
		int n = PQntuples(r);
		more = n == SCAN_PAGE;
		for (int i = 0; i < n; i++) {
			uint64_t seq = be64v(PQgetvalue(r, i, 0));
			uint64_t size = be64v(PQgetvalue(r, i, 1));
			uint64_t at = be64v(PQgetvalue(r, i, 2));
			if (seq == t->seq || (bytes <= t->ps->log_max_bytes && at >= cutoff)) {
				more = false;
				break;
			}
			bytes = bytes > size ? bytes - size : 0;
			keep = seq + 1;
		}
		PQclear(r);
		if (keep > oldest) {
			if ((rc = drop_below(t, keep)))
				return rc;
			oldest = keep;
		} else {
			more = false;
		}
	}
out:
	if ((rc = meta_put_u64(t, META_SEQ, t->seq)) || (rc = meta_put_u64(t, META_OLDEST, oldest)))
		return rc;
	return meta_put_u64(t, META_BYTES, bytes);
}

static int pg_log_state(store_txn *bt, uint64_t *last, uint64_t *oldest)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	int rc;
	if (!t->live || !last || !oldest)
		return IDN_EINVAL;
	if ((rc = meta_u64(t, META_SEQ, 0, last)) || (rc = meta_u64(t, META_OLDEST, 1, oldest)))
		return rc;
	return IDN_OK;
}

static int pg_log_read(store_txn *bt, uint64_t from, uint64_t max_txns, store_log_cb cb, void *arg)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	uint64_t last, oldest;
	int rc = cb ? pg_log_state(bt, &last, &oldest) : IDN_EINVAL;
	if (rc)
		return rc;
	if (from < oldest || from > last + 1)
		return IDN_ERANGE;
	/* sequence numbers in the log have no gaps: the bound is a range */
	uint64_t upto = max_txns && max_txns - 1 < last - from ? from + max_txns - 1 : last;
	uint8_t seq[8], n[4], hi[8];
	store_put_be64(seq, from);
	idn_put_be32(n, 0);
	store_put_be64(hi, upto);
	bool first = true;
	for (;;) {
		/* the first page starts at (from, 0) itself: ask for after (from - 1, max) */
		uint8_t s0[8], n0[4];
		if (first) {
			store_put_be64(s0, from - 1);
			idn_put_be32(n0, 0x7fffffff);
		} else {
			memcpy(s0, seq, 8);
			memcpy(n0, n, 4);
		}
		const char *pv[3] = {(const char *)s0, (const char *)n0, (const char *)hi};
		int pl[3] = {8, 4, 8};
		PGresult *r = run(t, S_LOG_READ, pv, pl, PGRES_TUPLES_OK);
		if (!r)
			return IDN_ESTORE;
		int rows = PQntuples(r);
		for (int i = 0; i < rows && !rc; i++) {
			store_change c = {
			    .seq = be64v(PQgetvalue(r, i, 0)),
			    .n = idn_be32((const uint8_t *)PQgetvalue(r, i, 1)),
			    .time_ms = be64v(PQgetvalue(r, i, 2)),
			    .op = (int16_t)idn_be16((const uint8_t *)PQgetvalue(r, i, 3)),
			    .key = idn_slice_of(PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4)),
			    .val = idn_slice_of(PQgetvalue(r, i, 5), (size_t)PQgetlength(r, i, 5)),
			};
			rc = cb(arg, &c);
			if (i == rows - 1) {
				memcpy(seq, PQgetvalue(r, i, 0), 8);
				memcpy(n, PQgetvalue(r, i, 1), 4);
			}
		}
		PQclear(r);
		first = false;
		if (rc || rows < SCAN_PAGE)
			break;
	}
	return rc;
}

/* "u." + name: callers' names never meet the log's own. */
static int meta_name(const char *name, char *buf)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return IDN_EINVAL;
	if (n > STORE_META_NAME_MAX)
		return IDN_ERANGE;
	memcpy(buf, "u.", 2);
	memcpy(buf + 2, name, n + 1);
	return IDN_OK;
}

static int pg_meta_get(store_txn *bt, const char *name, idn_slice *val)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	char buf[STORE_META_NAME_MAX + 3];
	int rc = meta_name(name, buf);
	if (rc)
		return rc;
	if (!t->live || !val)
		return IDN_EINVAL;
	return meta_get_raw(t, buf, val);
}

static int pg_meta_put(store_txn *bt, const char *name, idn_slice val)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	char buf[STORE_META_NAME_MAX + 3];
	int rc = meta_name(name, buf);
	if (rc)
		return rc;
	if (!t->live || t->rdonly || (val.len && !val.p))
		return IDN_EINVAL;
	if (val.len > 4096)
		return IDN_ERANGE;
	return meta_put_raw(t, buf, val);
}

/* ---- open / close ---- */

static void pg_close(store *s)
{
	struct pg_store *ps = (struct pg_store *)s;
	if (!ps)
		return;
	for (int i = 0; i < ps->nidle; i++)
		PQfinish(ps->pool[i]);
	for (int i = 0; i < ps->rnidle; i++)
		PQfinish(ps->rpool[i]);
	pthread_mutex_destroy(&ps->mu);
	free(ps->uri);
	free(ps->read_uri);
	free(ps);
}

static int pg_open(const char *location, const store_opts *opts, store **out);

/* ---- transactions ---- */

static int pg_txn_begin(store *s, unsigned flags, store_txn **out)
{
	struct pg_store *ps = (struct pg_store *)s;
	struct pg_txn *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t)
		return IDN_ENOMEM;
	t->base.s = s;
	t->ps = ps;
	t->rdonly = (flags & STORE_RDONLY) != 0;
	t->overflow = !t->rdonly && (flags & STORE_NOLOG);
	t->bulk = t->overflow;
	int rc = txn_open(t);
	if (rc) {
		free(t);
		return rc;
	}
	*out = &t->base;
	return IDN_OK;
}

/* Reads the answer to the COMMIT a reset sent; a connection it failed on goes. */
static void drain_commit(struct pg_txn *t)
{
	if (!t->commit_sent)
		return;
	t->commit_sent = false;
	bool ok = true;
	PGresult *r;
	while ((r = PQgetResult(t->c))) {
		ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (!ok || PQstatus(t->c) != CONNECTION_OK || PQtransactionStatus(t->c) != PQTRANS_IDLE) {
		PQfinish(t->c);
		t->c = NULL;
	}
}

static void txn_free(struct pg_txn *t)
{
	drain_commit(t);
	txn_release_results(t);
	free(t->res);
	free(t->bufs);
	free(t->brec.p);
	free(t->brows.p);
	pool_give(t->ps, t->c, on_replica(t->ps, t->rdonly));
	free(t);
}

static void pg_txn_abort(store_txn *bt);

static int write_err(const struct pg_txn *t, int rc);

/*
 * A write txn nested in parent (store.h): a SAVEPOINT on the parent's
 * connection, so a child costs one round trip and no commit of its own.
 * Group commit and the batch routes run one child per request or item.
 *
 * The savepoint is one name, idn_nest, set again by each child: a child
 * that commits leaves it set (nothing to send), and the next child's
 * "RELEASE SAVEPOINT idn_nest; SAVEPOINT idn_nest" goes in the same round
 * trip as its own SAVEPOINT; one that aborts rolls back to it. The parent's
 * COMMIT or ROLLBACK ends whatever is still set. The child starts from the
 * parent's log state (sequence number, changes so far) and hands it back
 * only when it commits; its log rows go with its savepoint otherwise.
 */
static int pg_txn_nest(store_txn *bp, store_txn **out)
{
	struct pg_txn *p = (struct pg_txn *)bp, *t;
	if (!out)
		return IDN_EINVAL;
	*out = NULL;
	if (!p->live || p->rdonly || p->bulk || p->parent)
		return IDN_EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return IDN_ENOMEM;
	t->base = p->base;
	t->ps = p->ps;
	t->c = p->c;
	t->live = true;
	t->parent = p;
	t->seq = p->seq;
	t->time_ms = p->time_ms;
	t->log_bytes = p->log_bytes;
	t->nchg = p->nchg;
	t->overflow = p->overflow;
	if (!exec_ok(p->c, p->sp_set ? "RELEASE SAVEPOINT idn_nest; SAVEPOINT idn_nest"
	                             : "SAVEPOINT idn_nest")) {
		pg_log(p->ps, "cannot set a savepoint", p->c);
		free(t);
		return IDN_ESTORE;
	}
	p->sp_set = true;
	*out = &t->base;
	return IDN_OK;
}

/*
 * Ends child t: commit hands its changes and log state to the parent (no
 * round trip), unless a statement of it failed, which leaves the whole
 * transaction failed in PostgreSQL: then, as an abort, one ROLLBACK TO.
 */
static int nest_end(struct pg_txn *t, bool commit)
{
	struct pg_txn *p = t->parent;
	int rc = IDN_OK;
	if (commit && PQtransactionStatus(t->c) == PQTRANS_INTRANS) {
		p->seq = t->seq;
		p->time_ms = t->time_ms;
		p->log_bytes = t->log_bytes;
		p->nchg = t->nchg;
		p->overflow = t->overflow;
		p->base.ix = t->base.ix; /* what it learnt of the search index's state */
	} else {
		if (commit)
			rc = write_err(t, IDN_ESTORE);
		if (PQstatus(t->c) != CONNECTION_OK ||
		    !exec_ok(t->c, "ROLLBACK TO SAVEPOINT idn_nest"))
			pg_log(t->ps, "cannot roll back to a savepoint", t->c);
	}
	p->disk_full = p->disk_full || t->disk_full;
	txn_release_results(t);
	free(t->res);
	free(t->bufs);
	free(t);
	return rc;
}

/* COMMIT; false when it failed (disk_full set when for want of room). */
static bool commit_ok(struct pg_txn *t)
{
	PGresult *r = PQexec(t->c, "COMMIT");
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		note_full(t, r);
	PQclear(r);
	return ok;
}

static int pg_txn_commit(store_txn *bt)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	int rc = IDN_OK;
	if (t->parent)
		return nest_end(t, true);
	if (t->live && t->nbulk && (rc = bulk_flush(t)) != IDN_OK) {
		rc = write_err(t, rc);
		pg_txn_abort(bt);
		return rc;
	}
	if (t->live && t->seq && (rc = log_finish(t)) != IDN_OK) {
		rc = write_err(t, rc);
		pg_txn_abort(bt);
		return rc;
	}
	if (t->live && !commit_ok(t)) {
		pg_log(t->ps, "commit failed", t->c);
		rc = write_err(t, IDN_ESTORE);
		if (PQtransactionStatus(t->c) != PQTRANS_IDLE)
			exec_ok(t->c, "ROLLBACK");
	} else if (t->live && t->nbulk_total >= ANALYZE_AFTER) {
		/*
		 * A large load leaves the planner's statistics of an empty table
		 * until autovacuum comes by; plans made meanwhile (the scan's
		 * anti-join above all) can walk whole tables. Best effort.
		 */
		exec_ok(t->c, "ANALYZE idn_records, handles");
	}
	txn_free(t);
	return rc;
}

static void pg_txn_abort(store_txn *bt)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	if (t->parent) {
		nest_end(t, false);
		return;
	}
	if (t->live && PQstatus(t->c) == CONNECTION_OK)
		exec_ok(t->c, "ROLLBACK");
	txn_free(t);
}

static void pg_txn_reset(store_txn *bt)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	if (!t->rdonly || !t->live)
		return;
	txn_release_results(t);
	t->live = false;
	/*
	 * End the snapshot now, but read the answer at renew: the transaction
	 * keeps its connection, so a renew costs one round trip (BEGIN), not
	 * two. Hot paths reset and renew around every batch.
	 */
	if (PQstatus(t->c) == CONNECTION_OK && PQsendQuery(t->c, "COMMIT")) {
		t->commit_sent = true;
		return;
	}
	pool_give(t->ps, t->c, on_replica(t->ps, t->rdonly));
	t->c = NULL;
}

static int pg_txn_renew(store_txn *bt)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	if (!t->rdonly)
		return IDN_EINVAL;
	pg_txn_reset(bt);
	drain_commit(t);
	return txn_open(t);
}

/* ---- records ---- */

static uint32_t be32(const char *p)
{
	return idn_be32((const uint8_t *)p);
}

/* Rebuilds a record from rows [first, n) of r (S_GET's columns 1..11). */
static int rows_to_record(struct pg_txn *t, PGresult *r, int first, idn_slice *val)
{
	int n = PQntuples(r) - first;
	int rc = IDN_ESTORE;
	if (n > MAX_VALUES)
		return IDN_ERANGE;
	proto_value *vals = calloc((size_t)n + 1, sizeof(*vals));
	uint8_t **refbufs = calloc((size_t)n + 1, sizeof(*refbufs));
	if (!vals || !refbufs) {
		rc = IDN_ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int row = first + i;
		pg_row pr = {0};
		pr.idx = PQgetisnull(r, row, 1) ? 0 : (int32_t)be32(PQgetvalue(r, row, 1));
		pr.type = idn_slice_of(PQgetvalue(r, row, 2), (size_t)PQgetlength(r, row, 2));
		pr.data = idn_slice_of(PQgetvalue(r, row, 3), (size_t)PQgetlength(r, row, 3));
		pr.ttl_type = PQgetisnull(r, row, 4)
		                  ? 0
		                  : (int16_t)idn_be16((const uint8_t *)PQgetvalue(r, row, 4));
		/* NULL ttl: the reference's default of a day */
		pr.ttl = PQgetisnull(r, row, 5) ? 86400 : (int32_t)be32(PQgetvalue(r, row, 5));
		pr.timestamp = PQgetisnull(r, row, 6) ? 0 : (int32_t)be32(PQgetvalue(r, row, 6));
		pr.refs = idn_slice_of(PQgetvalue(r, row, 7), (size_t)PQgetlength(r, row, 7));
		/* NULL permissions: the reference's defaults (admin rw, public read) */
		pr.admin_read = PQgetisnull(r, row, 8) || PQgetvalue(r, row, 8)[0];
		pr.admin_write = PQgetisnull(r, row, 9) || PQgetvalue(r, row, 9)[0];
		pr.pub_read = PQgetisnull(r, row, 10) || PQgetvalue(r, row, 10)[0];
		pr.pub_write = !PQgetisnull(r, row, 11) && PQgetvalue(r, row, 11)[0];
		/* each reference grows by at most 8 bytes of framing over ~2 bytes of text */
		size_t cap = 4 * (size_t)pr.refs.len + 16;
		refbufs[i] = malloc(cap);
		if (!refbufs[i]) {
			rc = IDN_ENOMEM;
			goto out;
		}
		if (pg_rows_to_value(&pr, refbufs[i], cap, &vals[i])) {
			fprintf(stderr, "store: postgresql: handles row idx %d: bad refs text\n",
			        pr.idx);
			rc = IDN_ESTORE;
			goto out;
		}
	}
	size_t len = record_size(vals, (uint32_t)n);
	uint8_t *buf = keep_buf(t, len);
	if (!buf) {
		rc = IDN_ENOMEM;
		goto out;
	}
	int got = record_build(vals, (uint32_t)n, buf, len);
	if (got < 0) {
		rc = got;
		goto out;
	}
	*val = idn_slice_of(buf, (size_t)got);
	rc = IDN_OK;
out:
	if (refbufs)
		for (int i = 0; i < n; i++)
			free(refbufs[i]);
	free(refbufs);
	free(vals);
	return rc;
}

static int get_keep(struct pg_txn *t, idn_slice key, idn_slice *val)
{
	const char *pv[1] = {(const char *)key.p};
	int pl[1] = {(int)key.len};
	PGresult *r = run(t, S_GET, pv, pl, PGRES_TUPLES_OK);
	if (!r)
		return IDN_ESTORE;
	int rc = keep_res(t, r);
	if (rc)
		return rc;
	if (PQntuples(r) == 0)
		return IDN_ENOTFOUND;
	if (!PQgetisnull(r, 0, 0)) {
		*val = idn_slice_of(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
		return IDN_OK;
	}
	return rows_to_record(t, r, 0, val);
}

static int pg_get(store_txn *bt, idn_slice key, idn_slice *val)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	int rc = check_key(key);
	if (rc)
		return rc;
	if (!t->live)
		return IDN_EINVAL;
	return get_keep(t, key, val);
}

static int key_exists(struct pg_txn *t, idn_slice key)
{
	const char *pv[1] = {(const char *)key.p};
	int pl[1] = {(int)key.len};
	PGresult *r = run(t, S_EXISTS, pv, pl, PGRES_TUPLES_OK);
	if (!r)
		return IDN_ESTORE;
	int n = PQntuples(r);
	PQclear(r);
	return n > 0;
}

static int simple(struct pg_txn *t, enum stmt s, idn_slice key, uint64_t *affected)
{
	const char *pv[1] = {(const char *)key.p};
	int pl[1] = {(int)key.len};
	PGresult *r = run(t, s, pv, pl, PGRES_COMMAND_OK);
	if (!r)
		return IDN_ESTORE;
	if (affected)
		*affected = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return IDN_OK;
}

/* Replaces key's handles rows with the values of rec (none if rec is no record). */
static int write_rows(struct pg_txn *t, idn_slice key, idn_slice rec)
{
	int rc = simple(t, S_DELROWS, key, NULL);
	if (rc)
		return rc;
	uint32_t cap = rec.len / PROTO_VALUE_MIN + 1;
	proto_value *vals = calloc(cap, sizeof(*vals));
	char *refs = NULL;
	if (!vals)
		return IDN_ENOMEM;
	int n = pg_rows_values(rec, vals, cap);
	if (n < 0) {
		rc = IDN_OK; /* opaque bytes, not a record: kept in idn_records only */
		goto out;
	}
	size_t refcap = 64;
	for (int i = 0; i < n; i++)
		if (vals[i].refs.len * 2 + 64 > refcap)
			refcap = vals[i].refs.len * 2 + 64;
	refs = malloc(refcap);
	if (!refs) {
		rc = IDN_ENOMEM;
		goto out;
	}
	/* every row must be representable, or none is written */
	for (int i = 0; i < n; i++)
		if (pg_rows_refs_text(&vals[i], refs, refcap) < 0)
			goto out;
	for (int i = 0; i < n && !rc; i++) {
		const proto_value *v = &vals[i];
		uint8_t idx[4], ttl_type[2], ttl[4], ts[4];
		char ar = (v->perms & PROTO_PERM_ADMIN_READ) != 0;
		char aw = (v->perms & PROTO_PERM_ADMIN_WRITE) != 0;
		char pr = (v->perms & PROTO_PERM_PUBLIC_READ) != 0;
		char pw = (v->perms & PROTO_PERM_PUBLIC_WRITE) != 0;
		idn_put_be32(idx, v->index);
		idn_put_be16(ttl_type, v->ttl_type);
		idn_put_be32(ttl, v->ttl);
		idn_put_be32(ts, v->timestamp);
		int rl = pg_rows_refs_text(v, refs, refcap);
		const char *pv[12] = {(const char *)key.p,
		                      (const char *)idx,
		                      v->type.len ? (const char *)v->type.p : "",
		                      v->data.len ? (const char *)v->data.p : "",
		                      (const char *)ttl_type,
		                      (const char *)ttl,
		                      (const char *)ts,
		                      refs,
		                      &ar,
		                      &aw,
		                      &pr,
		                      &pw};
		int pl[12] = {
		    (int)key.len, 4, (int)v->type.len, (int)v->data.len, 2, 4, 4, rl, 1, 1, 1, 1};
		PGresult *r = run(t, S_INSROW, pv, pl, PGRES_COMMAND_OK);
		if (!r)
			rc = IDN_ESTORE;
		PQclear(r);
	}
out:
	free(refs);
	free(vals);
	return rc;
}

/* ---- bulk writes: binary COPY (see the top of the file) ---- */

enum {
	BULK_RECORDS = 20000,  /* puts per batch */
	BULK_BYTES = 16 << 20, /* COPY data per batch */
	COPY_HDR = 11 + 4 + 4, /* signature, flags, header extension length */
};

static const char BULK_TABLES[] =
    "SET LOCAL client_min_messages = warning;"
    "CREATE TEMP TABLE IF NOT EXISTS idn_bulk_rec (ord int8, k bytea, rec bytea)"
    " ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS idn_bulk_rows (ord int8, vord int4, handle bytea,"
    " idx int4, type bytea, data bytea, ttl_type int2, ttl int4, timestamp int4, refs text,"
    " admin_read bool, admin_write bool, pub_read bool, pub_write bool)"
    " ON COMMIT DELETE ROWS;"
    "TRUNCATE idn_bulk_rec, idn_bulk_rows";

/*
 * The batch's last put of a key wins (DISTINCT ON ... ord DESC), as if the
 * puts had run one by one; a record keeps the first of two values with one
 * index as a row (vord), as write_rows does.
 */
static const char BULK_APPLY[] =
    "ANALYZE idn_bulk_rec;"
    "DELETE FROM handles h USING (SELECT DISTINCT k FROM idn_bulk_rec) b WHERE h.handle = b.k;"
    "INSERT INTO idn_records (k, rec) SELECT DISTINCT ON (k) k, rec FROM idn_bulk_rec"
    " ORDER BY k, ord DESC ON CONFLICT (k) DO UPDATE SET rec = EXCLUDED.rec;"
    "INSERT INTO handles (handle, " ROW_COLS ")"
    " SELECT DISTINCT ON (r.handle, r.idx) r.handle, r.idx, r.type, r.data, r.ttl_type, r.ttl,"
    " r.timestamp, r.refs, r.admin_read, r.admin_write, r.pub_read, r.pub_write"
    " FROM idn_bulk_rows r JOIN (SELECT k, max(ord) AS ord FROM idn_bulk_rec GROUP BY k) m"
    " ON m.k = r.handle AND m.ord = r.ord ORDER BY r.handle, r.idx, r.vord"
    " ON CONFLICT (handle, idx) DO NOTHING";

static uint8_t *bb_room(struct bbuf *b, size_t n)
{
	if (b->len == 0)
		n += COPY_HDR;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		while (cap - b->len < n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return NULL;
		b->p = p;
		b->cap = cap;
	}
	if (b->len == 0) {
		/* COPY's binary header: signature, no flags, no extension */
		memcpy(b->p, "PGCOPY\n\377\r\n\0", 11);
		memset(b->p + 11, 0, 8);
		b->len = COPY_HDR;
	}
	return b->p + b->len;
}

/* One field: int4 length + bytes. */
static uint8_t *bb_field(uint8_t *w, const void *p, size_t len)
{
	idn_put_be32(w, (uint32_t)len);
	if (len)
		memcpy(w + 4, p, len);
	return w + 4 + len;
}

static uint8_t *bb_u64(uint8_t *w, uint64_t v)
{
	uint8_t b[8];
	store_put_be64(b, v);
	return bb_field(w, b, 8);
}

static uint8_t *bb_u32(uint8_t *w, uint32_t v)
{
	uint8_t b[4];
	idn_put_be32(b, v);
	return bb_field(w, b, 4);
}

static uint8_t *bb_u16(uint8_t *w, uint16_t v)
{
	uint8_t b[2];
	idn_put_be16(b, v);
	return bb_field(w, b, 2);
}

static uint8_t *bb_bool(uint8_t *w, bool v)
{
	uint8_t b = v;
	return bb_field(w, &b, 1);
}

/* Appends the rows of record rec (if it is one, and representable) to brows. */
static int bulk_rows(struct pg_txn *t, uint64_t ord, idn_slice key, idn_slice rec)
{
	uint32_t cap = rec.len / PROTO_VALUE_MIN + 1;
	proto_value *vals = calloc(cap, sizeof(*vals));
	char *refs = NULL;
	int rc = IDN_OK;
	if (!vals)
		return IDN_ENOMEM;
	int n = pg_rows_values(rec, vals, cap);
	if (n <= 0)
		goto out; /* opaque bytes, not a record (or no values): no rows */
	size_t refcap = 64;
	for (int i = 0; i < n; i++)
		if (vals[i].refs.len * 2 + 64 > refcap)
			refcap = vals[i].refs.len * 2 + 64;
	if (!(refs = malloc(refcap))) {
		rc = IDN_ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (pg_rows_refs_text(&vals[i], refs, refcap) < 0)
			goto out; /* every row representable, or none is written */
	for (int i = 0; i < n; i++) {
		const proto_value *v = &vals[i];
		int rl = pg_rows_refs_text(v, refs, refcap);
		/* 14 fields: 2 + 14 * 4 bytes of header, and the data */
		size_t need = 2 + 14 * 4 + 8 + 4 + key.len + 4 + v->type.len + v->data.len + 2 + 4 +
		              4 + (size_t)rl + 4;
		uint8_t *w = bb_room(&t->brows, need);
		if (!w) {
			rc = IDN_ENOMEM;
			goto out;
		}
		uint8_t *w0 = w;
		idn_put_be16(w, 14);
		w += 2;
		w = bb_u64(w, ord);
		w = bb_u32(w, (uint32_t)i);
		w = bb_field(w, key.p, key.len);
		w = bb_u32(w, v->index);
		w = bb_field(w, v->type.p, v->type.len);
		w = bb_field(w, v->data.p, v->data.len);
		w = bb_u16(w, v->ttl_type);
		w = bb_u32(w, v->ttl);
		w = bb_u32(w, v->timestamp);
		w = bb_field(w, refs, (size_t)rl);
		w = bb_bool(w, (v->perms & PROTO_PERM_ADMIN_READ) != 0);
		w = bb_bool(w, (v->perms & PROTO_PERM_ADMIN_WRITE) != 0);
		w = bb_bool(w, (v->perms & PROTO_PERM_PUBLIC_READ) != 0);
		w = bb_bool(w, (v->perms & PROTO_PERM_PUBLIC_WRITE) != 0);
		t->brows.len += (size_t)(w - w0);
	}
out:
	free(refs);
	free(vals);
	return rc;
}

static int bulk_put(struct pg_txn *t, idn_slice key, idn_slice val)
{
	uint64_t ord = t->nbulk;
	uint8_t *w = bb_room(&t->brec, 2 + 3 * 4 + 8 + key.len + val.len);
	if (!w)
		return IDN_ENOMEM;
	uint8_t *w0 = w;
	idn_put_be16(w, 3);
	w += 2;
	w = bb_u64(w, ord);
	w = bb_field(w, key.p, key.len);
	w = bb_field(w, val.p, val.len);
	t->brec.len += (size_t)(w - w0);
	int rc = bulk_rows(t, ord, key, val);
	if (rc)
		return rc;
	t->nbulk++;
	t->nbulk_total++;
	if (t->nbulk >= BULK_RECORDS || t->brec.len + t->brows.len >= BULK_BYTES)
		return bulk_flush(t);
	return IDN_OK;
}

/* COPY table FROM STDIN with the data in b (header added, trailer here). */
static int copy_in(struct pg_txn *t, const char *table, struct bbuf *b)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "COPY %s FROM STDIN (FORMAT binary)", table);
	uint8_t *w = bb_room(b, 2);
	if (!w)
		return IDN_ENOMEM;
	idn_put_be16(w, 0xffff); /* the trailer: field count -1 */
	b->len += 2;
	PGresult *r = PQexec(t->c, sql);
	bool ok = PQresultStatus(r) == PGRES_COPY_IN;
	PQclear(r);
	if (ok) {
		/* in slices: PQputCopyData takes an int length */
		for (size_t off = 0; ok && off < b->len; off += 1 << 20) {
			size_t n = b->len - off < (1 << 20) ? b->len - off : (1 << 20);
			ok = PQputCopyData(t->c, (const char *)b->p + off, (int)n) == 1;
		}
		ok = PQputCopyEnd(t->c, ok ? NULL : "idnode: copy failed") == 1 && ok;
		while ((r = PQgetResult(t->c))) {
			ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
			PQclear(r);
		}
	}
	if (!ok)
		pg_log(t->ps, PQstatus(t->c) != CONNECTION_OK ? "connection lost" : "bulk copy",
		       t->c);
	return ok ? IDN_OK : IDN_ESTORE;
}

/* Writes the buffered puts. */
static int bulk_flush(struct pg_txn *t)
{
	if (t->flushing || !t->nbulk)
		return IDN_OK;
	t->flushing = true;
	int rc = IDN_ESTORE;
	if (!exec_ok(t->c, BULK_TABLES)) {
		pg_log(t->ps, "bulk tables", t->c);
		goto out;
	}
	if ((rc = copy_in(t, "idn_bulk_rec", &t->brec)))
		goto out;
	if (t->brows.len && (rc = copy_in(t, "idn_bulk_rows", &t->brows)))
		goto out;
	rc = IDN_OK;
	if (!exec_ok(t->c, BULK_APPLY)) {
		pg_log(t->ps, "bulk apply", t->c);
		rc = IDN_ESTORE;
	}
out:
	t->nbulk = 0;
	t->brec.len = t->brows.len = 0;
	t->flushing = false;
	return rc;
}

/* A write's storage error: IDN_EDISK_FULL when the server said its disk is full. */
static int write_err(const struct pg_txn *t, int rc)
{
	return rc == IDN_ESTORE && t->disk_full ? IDN_EDISK_FULL : rc;
}

static int pg_put_one(struct pg_txn *t, idn_slice key, idn_slice val, unsigned flags);

/*
 * Ends the pipeline run() sent t->npipe statements into (no-op outside
 * one): a sync, then each statement's answer. IDN_ESTORE when any failed.
 */
static int pipe_end(struct pg_txn *t)
{
	if (!t->pipe)
		return IDN_OK;
	t->pipe = false;
	bool ok = PQpipelineSync(t->c) == 1;
	if (!ok)
		/*
		 * The statements went without a sync (libpq out of memory): the
		 * server keeps their answers until one comes, so reading them
		 * would wait forever, and the pipeline cannot be left with them
		 * pending.
		 */
		conn_kill(t, "cannot end a pipeline");
	/* each statement: its result, then NULL; the sync: its result alone */
	for (int nulls = 0; ok || nulls <= t->npipe;) {
		PGresult *r = PQgetResult(t->c);
		if (!r) {
			if (++nulls > t->npipe)
				break; /* the connection is gone: no sync will come */
			continue;
		}
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (st != PGRES_COMMAND_OK) {
			note_full(t, r);
			if (st != PGRES_PIPELINE_ABORTED)
				pg_log(t->ps, "a pipelined statement failed", t->c);
			ok = false;
		}
		PQclear(r);
	}
	if (PQexitPipelineMode(t->c) != 1) {
		/* still in it: a later put would read what this one left */
		conn_kill(t, "cannot leave pipeline mode");
		ok = false;
	}
	return ok ? IDN_OK : IDN_ESTORE;
}

static int pg_put(store_txn *bt, idn_slice key, idn_slice val, unsigned flags)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	return write_err(t, pg_put_one(t, key, val, flags));
}

static int pg_put_one(struct pg_txn *t, idn_slice key, idn_slice val, unsigned flags)
{
	int rc = check_key(key);
	if (rc)
		return rc;
	if (t->rdonly || !t->live)
		return IDN_EINVAL;
	if (val.len > STORE_VAL_MAX)
		return IDN_ERANGE;
	if (flags & STORE_NOOVERWRITE) {
		rc = key_exists(t, key);
		if (rc < 0)
			return rc;
		if (rc)
			return IDN_EEXIST;
	}
	/* NOOVERWRITE puts go one by one: each check would write the batch first */
	if (t->bulk && !(flags & STORE_NOOVERWRITE)) {
		/* the log first: its first call reads the sequence number */
		rc = log_append(t, STORE_LOG_PUT, key, val);
		return rc ? rc : bulk_put(t, key, val);
	}
	/* the record, its rows and its log entry: one round trip */
	if ((rc = log_start(t)))
		return rc;
	t->pipe = PQenterPipelineMode(t->c) == 1;
	t->npipe = 0;
	const char *pv[2] = {(const char *)key.p, val.len ? (const char *)val.p : ""};
	int pl[2] = {(int)key.len, (int)val.len};
	PGresult *r = run(t, S_PUT, pv, pl, PGRES_COMMAND_OK);
	if (r) {
		PQclear(r);
		rc = write_rows(t, key, val);
		if (!rc)
			rc = log_append(t, STORE_LOG_PUT, key, val);
	} else {
		rc = IDN_ESTORE;
	}
	int prc = pipe_end(t);
	return rc ? rc : prc;
}

static int pg_del(store_txn *bt, idn_slice key)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	uint64_t a = 0, b = 0;
	int rc = check_key(key);
	if (rc)
		return rc;
	if (t->rdonly || !t->live)
		return IDN_EINVAL;
	if ((rc = simple(t, S_DELREC, key, &a)) || (rc = simple(t, S_DELROWS, key, &b)))
		return write_err(t, rc);
	if (!a && !b)
		return IDN_ENOTFOUND;
	return write_err(t, log_append(t, STORE_LOG_DEL, key, idn_slice_of(NULL, 0)));
}

/* The smallest key above every key starting with p; 0 when there is none. */
static size_t prefix_upper(idn_slice p, uint8_t *out)
{
	size_t n = p.len;
	if (n)
		memcpy(out, p.p, n);
	while (n && out[n - 1] == 0xff)
		n--;
	if (n)
		out[n - 1]++;
	return n;
}

static int pg_scan_from(store_txn *bt, idn_slice prefix, idn_slice start, store_scan_cb cb,
                        void *arg)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	if (!t->live || !cb || (prefix.len && !prefix.p) || (start.len && !start.p))
		return IDN_EINVAL;
	if (prefix.len > STORE_KEY_MAX || start.len > STORE_KEY_MAX)
		return IDN_ERANGE;
	uint8_t upper[STORE_KEY_MAX];
	size_t ulen = prefix_upper(prefix, upper);
	/* the next page starts right after the last key: last key || 0x00 */
	uint8_t *lo = malloc(STORE_KEY_MAX + 1);
	int rc = 0;
	if (!lo)
		return IDN_ENOMEM;
	/* the first page: keys >= the later of the prefix and the start (bytea
	 * compares bytewise, a key before its extensions, as store.h orders) */
	idn_slice from = prefix;
	size_t common = prefix.len < start.len ? prefix.len : start.len;
	int order = common ? memcmp(start.p, prefix.p, common) : 0;
	if (order > 0 || (order == 0 && start.len > prefix.len))
		from = start;
	memcpy(lo, from.p ? from.p : (const uint8_t *)"", from.len);
	size_t lolen = from.len;
	for (;;) {
		const char *pv[2] = {(const char *)lo, ulen ? (const char *)upper : NULL};
		int pl[2] = {(int)lolen, (int)ulen};
		PGresult *r = run(t, S_SCAN, pv, pl, PGRES_TUPLES_OK);
		if (!r) {
			rc = IDN_ESTORE;
			break;
		}
		int n = PQntuples(r);
		size_t results_before = t->nres, bufs_before = t->nbufs;
		for (int i = 0; i < n && !rc; i++) {
			idn_slice k =
			    idn_slice_of(PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
			idn_slice v;
			if (!PQgetisnull(r, i, 1)) {
				v = idn_slice_of(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
			} else {
				rc = get_keep(t, k, &v); /* rows only: rebuild the record */
				if (rc)
					break;
			}
			rc = cb(arg, k, v);
			if (i == n - 1) {
				memcpy(lo, k.p, k.len);
				lo[k.len] = 0;
				lolen = k.len + 1;
			}
		}
		/* results kept for rebuilt records are done with once the page is */
		while (t->nres > results_before)
			PQclear(t->res[--t->nres]);
		while (t->nbufs > bufs_before)
			free(t->bufs[--t->nbufs]);
		PQclear(r);
		if (rc || n < SCAN_PAGE)
			break;
	}
	free(lo);
	return rc;
}

static int pg_scan(store_txn *bt, idn_slice prefix, store_scan_cb cb, void *arg)
{
	return pg_scan_from(bt, prefix, idn_slice_of(NULL, 0), cb, arg);
}

/* ---- homed prefixes: nas rows "0.NA/<prefix>" ---- */

static int na_key(idn_slice prefix, uint8_t *out)
{
	if (prefix.len == 0)
		return IDN_EINVAL;
	if (prefix.len > STORE_KEY_MAX - (sizeof(NA_PREFIX) - 1))
		return IDN_ERANGE;
	memcpy(out, NA_PREFIX, sizeof(NA_PREFIX) - 1);
	memcpy(out + sizeof(NA_PREFIX) - 1, prefix.p, prefix.len);
	return (int)(prefix.len + sizeof(NA_PREFIX) - 1);
}

static int homed_op(store_txn *bt, idn_slice prefix, enum stmt s, bool write)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	uint8_t k[STORE_KEY_MAX];
	int len = na_key(prefix, k);
	if (len < 0)
		return len;
	if (!t->live || (write && t->rdonly))
		return IDN_EINVAL;
	const char *pv[1] = {(const char *)k};
	int pl[1] = {len};
	PGresult *r = run(t, s, pv, pl, write ? PGRES_COMMAND_OK : PGRES_TUPLES_OK);
	if (!r)
		return IDN_ESTORE;
	int ret = write ? (strtoull(PQcmdTuples(r), NULL, 10) > 0) : PQntuples(r) > 0;
	PQclear(r);
	return ret;
}

static int pg_home(store_txn *bt, idn_slice prefix)
{
	int rc = homed_op(bt, prefix, S_HOME, true);
	if (rc < 0)
		return rc;
	return log_append((struct pg_txn *)bt, STORE_LOG_HOME, prefix, idn_slice_of(NULL, 0));
}

static int pg_unhome(store_txn *bt, idn_slice prefix)
{
	int rc = homed_op(bt, prefix, S_UNHOME, true);
	if (rc <= 0)
		return rc < 0 ? rc : IDN_ENOTFOUND;
	return log_append((struct pg_txn *)bt, STORE_LOG_UNHOME, prefix, idn_slice_of(NULL, 0));
}

static int pg_is_homed(store_txn *bt, idn_slice prefix)
{
	return homed_op(bt, prefix, S_ISHOMED, false);
}

static int pg_list_homed(store_txn *bt, store_scan_cb cb, void *arg)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	if (!t->live)
		return IDN_EINVAL;
	PGresult *r = run(t, S_LISTHOMED, NULL, NULL, PGRES_TUPLES_OK);
	if (!r)
		return IDN_ESTORE;
	int rc = 0;
	const size_t pl = sizeof(NA_PREFIX) - 1;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		const char *na = PQgetvalue(r, i, 0);
		size_t len = (size_t)PQgetlength(r, i, 0);
		/* other rows (a reference's own bookkeeping) are not homed prefixes */
		if (len <= pl || memcmp(na, NA_PREFIX, pl) != 0)
			continue;
		rc = cb(arg, idn_slice_of(na + pl, len - pl), idn_slice_of("", 0));
	}
	PQclear(r);
	return rc;
}

static int pg_count(store_txn *bt, uint64_t *n)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	if (!t->live)
		return IDN_EINVAL;
	PGresult *r = run(t, S_COUNT, NULL, NULL, PGRES_TUPLES_OK);
	if (!r)
		return IDN_ESTORE;
	/* int8 in binary: 8 bytes big-endian */
	const uint8_t *p = (const uint8_t *)PQgetvalue(r, 0, 0);
	*n = ((uint64_t)idn_be32(p) << 32) | idn_be32(p + 4);
	PQclear(r);
	return IDN_OK;
}

/* ---- tables ---- */

static int pg_tab_get(store_txn *bt, unsigned tab, idn_slice key, idn_slice *val)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	uint8_t kb[STORE_TAB_KEY_MAX + 1];
	idn_slice tk;
	int rc = store_tab_key(tab, key, kb, &tk);
	if (rc)
		return rc;
	if (!t->live || !val)
		return IDN_EINVAL;
	const char *pv[1] = {(const char *)tk.p};
	int pl[1] = {(int)tk.len};
	PGresult *r = run(t, S_TAB_GET, pv, pl, PGRES_TUPLES_OK);
	if (!r)
		return IDN_ESTORE;
	if ((rc = keep_res(t, r)))
		return rc;
	if (PQntuples(r) == 0)
		return IDN_ENOTFOUND;
	*val = idn_slice_of(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	return IDN_OK;
}

/* Runs a table write; the number of rows it changed, or an error. */
static int tab_write(struct pg_txn *t, enum stmt s, idn_slice tk, idn_slice val)
{
	const char *pv[2] = {(const char *)tk.p, val.len ? (const char *)val.p : ""};
	int pl[2] = {(int)tk.len, (int)val.len};
	PGresult *r = run(t, s, pv, pl, PGRES_COMMAND_OK);
	if (!r)
		return write_err(t, IDN_ESTORE);
	int n = (int)strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return n;
}

static int pg_tab_put(store_txn *bt, unsigned tab, idn_slice key, idn_slice val, unsigned flags)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	uint8_t kb[STORE_TAB_KEY_MAX + 1];
	idn_slice tk;
	int rc = store_tab_key(tab, key, kb, &tk);
	if (rc)
		return rc;
	if (!t->live || t->rdonly || (val.len && !val.p))
		return IDN_EINVAL;
	if (val.len > STORE_TAB_VAL_MAX)
		return IDN_ERANGE;
	int n = tab_write(t, (flags & STORE_NOOVERWRITE) ? S_TAB_INS : S_TAB_PUT, tk, val);
	if (n < 0)
		return n;
	if (n == 0)
		return IDN_EEXIST;
	return store_tab_logged(tab) ? log_append(t, STORE_LOG_TAB_PUT, tk, val) : IDN_OK;
}

static int pg_tab_del(store_txn *bt, unsigned tab, idn_slice key)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	uint8_t kb[STORE_TAB_KEY_MAX + 1];
	idn_slice tk;
	int rc = store_tab_key(tab, key, kb, &tk);
	if (rc)
		return rc;
	if (!t->live || t->rdonly)
		return IDN_EINVAL;
	int n = tab_write(t, S_TAB_DEL, tk, idn_slice_of(NULL, 0));
	if (n < 0)
		return n;
	if (n == 0)
		return IDN_ENOTFOUND;
	return store_tab_logged(tab) ? log_append(t, STORE_LOG_TAB_DEL, tk, idn_slice_of(NULL, 0))
	                             : IDN_OK;
}

static int pg_tab_scan(store_txn *bt, unsigned tab, idn_slice prefix, idn_slice start,
                       store_scan_cb cb, void *arg)
{
	struct pg_txn *t = (struct pg_txn *)bt;
	uint8_t pb[STORE_TAB_KEY_MAX + 1], lo[STORE_TAB_KEY_MAX + 2], upper[STORE_TAB_KEY_MAX + 1];
	idn_slice tp, ts;
	int rc = store_tab_key(tab, prefix, pb, &tp);
	if (!rc)
		rc = store_tab_key(tab, start, lo, &ts);
	if (rc)
		return rc;
	if (!t->live || !cb)
		return IDN_EINVAL;
	size_t ulen = prefix_upper(tp, upper);
	size_t common = tp.len < ts.len ? tp.len : ts.len;
	int order = memcmp(ts.p, tp.p, common);
	if (order < 0 || (order == 0 && ts.len < tp.len))
		memcpy(lo, tp.p, tp.len), ts.len = tp.len;
	size_t lolen = ts.len;
	for (;;) {
		const char *pv[2] = {(const char *)lo, ulen ? (const char *)upper : NULL};
		int pl[2] = {(int)lolen, (int)ulen};
		PGresult *r = run(t, S_TAB_SCAN, pv, pl, PGRES_TUPLES_OK);
		if (!r)
			return IDN_ESTORE;
		int n = PQntuples(r);
		for (int i = 0; i < n && !rc; i++) {
			const uint8_t *k = (const uint8_t *)PQgetvalue(r, i, 0);
			size_t klen = (size_t)PQgetlength(r, i, 0);
			if (klen == 0 || klen > STORE_TAB_KEY_MAX + 1) {
				rc = IDN_ESTORE;
				break;
			}
			rc = cb(arg, idn_slice_of(k + 1, klen - 1),
			        idn_slice_of(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1)));
			if (i == n - 1) {
				memcpy(lo, k, klen);
				lo[klen] = 0;
				lolen = klen + 1;
			}
		}
		PQclear(r);
		if (rc || n < SCAN_PAGE)
			return rc;
	}
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .txn_begin = pg_txn_begin,
    .txn_commit = pg_txn_commit,
    .txn_abort = pg_txn_abort,
    .txn_reset = pg_txn_reset,
    .txn_renew = pg_txn_renew,
    .get = pg_get,
    .put = pg_put,
    .del = pg_del,
    .scan = pg_scan,
    .home = pg_home,
    .unhome = pg_unhome,
    .is_homed = pg_is_homed,
    .list_homed = pg_list_homed,
    .count = pg_count,
    .log_state = pg_log_state,
    .log_read = pg_log_read,
    .meta_get = pg_meta_get,
    .meta_put = pg_meta_put,
    .tab_get = pg_tab_get,
    .tab_put = pg_tab_put,
    .tab_del = pg_tab_del,
    .tab_scan = pg_tab_scan,
    .scan_from = pg_scan_from,
    .txn_nest = pg_txn_nest,
};

/* Whether the database holds idnode's schema (its records table). */
static bool schema_exists(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT to_regclass('idn_records') IS NOT NULL");
	bool yes = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	           PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return yes;
}

static int pg_open(const char *location, const store_opts *opts, store **out)
{
	int rc = IDN_ESTORE;
	PGconn *c = NULL;
	char err[256];
	*out = NULL;
	if (idn_pq_load(err, sizeof(err))) {
		fprintf(stderr, "idnode: %s\n", err);
		return IDN_ENOTSUP;
	}
	struct pg_store *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return IDN_ENOMEM;
	ps->base.ops = &store_pg_ops;
	ps->no_sync = opts && opts->no_sync;
	ps->log_max_bytes = opts && opts->log_max_bytes ? opts->log_max_bytes : STORE_LOG_MAX_BYTES;
	ps->log_max_age_ms =
	    (opts && opts->log_max_age ? opts->log_max_age : STORE_LOG_MAX_AGE) * 1000;
	pthread_mutex_init(&ps->mu, NULL);
	ps->uri = strdup(location);
	ps->read_uri = opts && opts->read_location ? strdup(opts->read_location) : NULL;
	if (!ps->uri || (opts && opts->read_location && !ps->read_uri)) {
		rc = IDN_ENOMEM;
		goto out;
	}
	/* libpq knows the scheme in lower case only; URI schemes are case-insensitive */
	for (char *p = ps->uri; *p && *p != ':'; p++)
		*p = (char)tolower((unsigned char)*p);
	for (char *p = ps->read_uri; p && *p && *p != ':'; p++)
		*p = (char)tolower((unsigned char)*p);
	/* the schema first: statements are prepared against it */
	c = PQconnectdb(ps->uri);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "store: postgresql: cannot connect: %s",
		        c ? PQerrorMessage(c) : "out of memory\n");
		goto out;
	}
	/* a command that only reads a store (dump, verify) makes none */
	if (opts && opts->must_exist && !schema_exists(c)) {
		rc = IDN_ENOTFOUND;
		goto out;
	}
	/* several processes may open a new database at once: one creates */
	if (!exec_ok(c, "BEGIN") || !exec_ok(c, "SET LOCAL client_min_messages = warning") ||
	    !exec_ok(c, "SELECT pg_advisory_xact_lock(1768189489)") || !exec_ok(c, SCHEMA_SQL) ||
	    !exec_ok(c, "COMMIT")) {
		fprintf(stderr, "store: postgresql: cannot create the schema: %s",
		        PQerrorMessage(c));
		goto out;
	}
	if (conn_prepare(c, ps->no_sync)) {
		fprintf(stderr, "store: postgresql: cannot prepare statements: %s",
		        PQerrorMessage(c));
		goto out;
	}
	ps->pool[ps->nidle++] = c;
	c = NULL;
	/* a read location that does not work is a configuration error: say so now */
	if (ps->read_uri) {
		if (!(c = conn_open(ps, true))) {
			fprintf(stderr, "store: postgresql: the read location is not usable (is it "
			                "reachable, and a replica of this database?)\n");
			goto out;
		}
		ps->rpool[ps->rnidle++] = c;
		c = NULL;
	}
	*out = &ps->base;
	rc = IDN_OK;
out:
	if (c)
		PQfinish(c);
	if (rc)
		pg_close(&ps->base);
	return rc;
}
