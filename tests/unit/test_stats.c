/*
 * test_stats.c - the statistics of node/stats.h on an LMDB store, time
 * injected: counts of several workers (one freed before the flush) merged
 * into one bucket and never counted twice by later flushes; the identifiers
 * held counted from the store at the first flush and followed by writes;
 * the rollover at midnight and at the hour (23:59:50, then 00:00:05); the
 * held figures saved by a count and taken, with no scan, by the next start
 * or day while no record changed (a write through the store or by raw LMDB
 * counts again; a prefix homed since is counted alone); the
 * bound on prefixes (the rest under "other", LIM_STATS_PREFIXES counted);
 * retention pruning of hourly and daily buckets; the filters' errors and
 * the CSV and JSON rows; and resolutions through node_answer() counted by
 * transport and outcome. On LMDB, and on PostgreSQL when IDN_TEST_PG names
 * a server (a database of its own, dropped at the end).
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

#include "core/limit.h"
#include "node/stats_int.h"
#include "proto/handle.h"
#include "proto/record.h"
#include "unit_msgs.h"
#include "unit_lmdb.h"
#include "unit_pg.h"

/* 2026-12-07 23:59:50 UTC: ten seconds before a new day. */
enum { T0 = 1796687990u, DAY = 86400 };

struct fx {
	char loc[1024];
	store *s;
	node *n;
	node_worker *w[2];
};

static void put_url(store *s, const char *h)
{
	proto_value v = {.index = 1, .type = IDN_SLICE("URL"), .data = IDN_SLICE("https://x")};
	put_record(s, h, &v, 1);
}
static void start(struct fx *f, uint32_t prefixes)
{
	node_config cfg;
	node_config_init(&cfg);
	cfg.stats_prefixes = prefixes;
	assert_int_equal(node_new(&cfg, f->s, &f->n), IDN_OK);
	for (int i = 0; i < 2; i++)
		assert_int_equal(node_worker_new(f->n, &f->w[i]), IDN_OK);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (use_pg) {
		sql(pg_uri, "DROP TABLE IF EXISTS idn_records, handles, nas, idn_txlog, idn_meta, "
		            "idn_tab CASCADE");
		sql(pg_uri, "DROP FUNCTION IF EXISTS idn_handles_changed() CASCADE");
		snprintf(f->loc, sizeof(f->loc), "%s", pg_uri);
	} else {
		strcpy(f->loc, "/tmp/idn_stats_XXXXXX");
		if (!mkdtemp(f->loc))
			return -1;
	}
	store_opts o = {.no_sync = 1};
	if (store_open(f->loc, &o, &f->s))
		return -1;
	home(f->s, "88.100.1");
	home(f->s, "88.100.2");
	put_url(f->s, "88.100.1/a");
	put_url(f->s, "88.100.1/b");
	put_url(f->s, "88.100.2/c");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 2; i++)
		node_worker_free(f->w[i]);
	node_free(f->n);
	store_close(f->s);
	char cmd[1100];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->loc);
	if (!use_pg && system(cmd)) {
	}
	free(f);
	return 0;
}

static void count(node_worker *w, const char *h, unsigned stat, int times)
{
	for (int i = 0; i < times; i++)
		node_stats_count(w, idn_slice_of(h, strlen(h)), stat);
}

/* The one row of q (name, kind and bucket), or a zeroed row with bucket 0 if none. */
typedef struct got {
	int n;
	node_stats_row last;
} got;

static int got_cb(void *arg, const node_stats_row *r)
{
	got *g = arg;
	g->n++;
	g->last = *r;
	return 0;
}

static got one(store *s, const char *name, bool industry, bool hourly, uint32_t t)
{
	node_stats_query q = {.hourly = hourly,
	                      .industry = industry,
	                      .name = name,
	                      .from = hourly ? t / 3600 : t / DAY,
	                      .to = hourly ? t / 3600 : t / DAY};
	got g = {0};
	assert_int_equal(node_stats_read(s, &q, got_cb, &g), IDN_OK);
	assert_true(g.n <= 1);
	return g;
}

static void test_merge(void **state)
{
	struct fx *f = *state;
	start(f, 100);
	count(f->w[0], "88.100.1/x", NST_REGISTERED, 2);
	count(f->w[1], "88.100.1/y", NST_REGISTERED, 3);
	count(f->w[1], "88.100.2/z", NST_AUTH_FAIL, 1);
	count(f->w[0], "88.100.1/x", NST_RES_FIRST + NODE_TCP * 3 + NST_FOUND, 7);
	/* a worker that goes leaves its counts behind */
	node_worker_free(f->w[1]);
	f->w[1] = NULL;
	assert_int_equal(node_stats_flush(f->n, T0 - 3600), IDN_OK);
	got g = one(f->s, "88.100.1", false, false, T0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.last.c[NST_REGISTERED], 5);
	assert_int_equal(g.last.c[NST_RES_FIRST + 3 + NST_FOUND], 7);
	/* held: two in the store at the first flush (its registrations were not made there) */
	assert_int_equal(g.last.held, 2);
	/* a second flush adds only what came since */
	count(f->w[0], "88.100.1/x", NST_REGISTERED, 1);
	count(f->w[0], "88.100.1/x", NST_DELETED, 1);
	assert_int_equal(node_stats_flush(f->n, T0 - 3000), IDN_OK);
	g = one(f->s, "88.100.1", false, false, T0);
	assert_int_equal(g.last.c[NST_REGISTERED], 6);
	assert_int_equal(g.last.c[NST_DELETED], 1);
	assert_int_equal(g.last.held, 2); /* +1 -1 */
	assert_int_equal(node_stats_flush(f->n, T0 - 2900), IDN_OK);
	g = one(f->s, "88.100.1", false, false, T0);
	assert_int_equal(g.last.c[NST_REGISTERED], 6);
	/* the industry sums its prefixes */
	g = one(f->s, "88.100", true, false, T0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.last.c[NST_REGISTERED], 6);
	assert_int_equal(g.last.c[NST_AUTH_FAIL], 1);
	assert_int_equal(g.last.held, 3);
	/* the hour of the first flush and of the later ones */
	g = one(f->s, "88.100.1", false, true, T0 - 3600);
	assert_int_equal(g.last.c[NST_REGISTERED], 5);
	g = one(f->s, "88.100.1", false, true, T0 - 3000);
	assert_int_equal(g.last.c[NST_REGISTERED], 1);
}

static void test_day_rollover(void **state)
{
	struct fx *f = *state;
	start(f, 100);
	count(f->w[0], "88.100.2/a", NST_MODIFIED, 4);
	assert_int_equal(node_stats_flush(f->n, T0), IDN_OK); /* 23:59:50 */
	count(f->w[0], "88.100.2/a", NST_MODIFIED, 3);
	count(f->w[1], "88.100.2/a", NST_REGISTERED, 1);
	assert_int_equal(node_stats_flush(f->n, T0 + 15), IDN_OK); /* 00:00:05 next day */
	got d1 = one(f->s, "88.100.2", false, false, T0);
	got d2 = one(f->s, "88.100.2", false, false, T0 + 15);
	assert_int_equal(d1.last.c[NST_MODIFIED], 4);
	assert_int_equal(d2.last.c[NST_MODIFIED], 3);
	assert_int_equal(d1.last.c[NST_REGISTERED], 0);
	assert_int_equal(d2.last.c[NST_REGISTERED], 1);
	assert_int_equal(d2.last.bucket, d1.last.bucket + 1);
	/* the new day counted the store again: one record (the registration was not made) */
	assert_int_equal(d2.last.held, 1);
	got h = one(f->s, "88.100.2", false, true, T0 + 15);
	assert_int_equal(h.last.c[NST_MODIFIED], 3);
	/* a prefix quiet through the day still has its row, with what it holds */
	got quiet = one(f->s, "88.100.1", false, false, T0 + 15);
	assert_int_equal(quiet.n, 1);
	assert_int_equal(quiet.last.held, 2);
	/* over a period: one row per day, in order */
	node_stats_query q;
	char err[200];
	assert_int_equal(node_stats_query_parse(&q, "88.100.2", NULL, "2026-12-01", "2026-12-08",
	                                        "day", T0, err, sizeof(err)),
	                 IDN_OK);
	got all = {0};
	assert_int_equal(node_stats_read(f->s, &q, got_cb, &all), IDN_OK);
	assert_int_equal(all.n, 2);
	char period[32];
	node_stats_period(&all.last, period, sizeof(period));
	assert_string_equal(period, "2026-12-08");
}

/* The node gone, and a new one on the same store (a restart). */
static void restart(struct fx *f, uint32_t prefixes)
{
	for (int i = 0; i < 2; i++)
		node_worker_free(f->w[i]);
	node_free(f->n);
	start(f, prefixes);
}

/* The identifiers held of prefix p in the day row of t. */
static uint64_t held_of(struct fx *f, const char *p, uint32_t t)
{
	got g = one(f->s, p, false, false, t);
	assert_int_equal(g.n, 1);
	return g.last.held;
}

/* The prefixes counted in the store and taken as saved since the node began. */
static void assert_counts(struct fx *f, uint64_t scanned, uint64_t saved)
{
	uint64_t sc, sa;
	node_stats_held_counts(f->n, &sc, &sa);
	if (!store_can_gen(f->s)) { /* PostgreSQL: no generation, every count scans */
		scanned += saved;
		saved = 0;
	}
	assert_int_equal(sc, scanned);
	assert_int_equal(sa, saved);
}

static int count_row(void *arg, idn_slice key, idn_slice val)
{
	(void)key;
	(void)val;
	++*(int *)arg;
	return 0;
}

/* The rows a count saved (kind 'c'). */
static int saved_rows(struct fx *f)
{
	store_txn *t;
	int n = 0;
	assert_int_equal(store_txn_begin(f->s, STORE_RDONLY, &t), IDN_OK);
	assert_int_equal(
	    store_tab_scan(t, STORE_TAB_STATS, IDN_SLICE("c"), IDN_SLICE("c"), count_row, &n),
	    IDN_OK);
	store_txn_abort(t);
	return n;
}

/*
 * A restart with no record changed takes the saved figures (no scan); one
 * after a write counts again and shows it; a prefix homed while the node
 * was down is counted alone; the map's bound raised counts the prefix that
 * was beyond it.
 */
static void test_held_saved(void **state)
{
	struct fx *f = *state;
	put_url(f->s, "88.100.3/a"); /* not homed yet */
	start(f, 1);                 /* only one prefix fits */
	assert_int_equal(node_stats_flush(f->n, T0 - 3600), IDN_OK);
	assert_counts(f, 1, 0);
	restart(f, 100);
	assert_int_equal(node_stats_flush(f->n, T0 - 3500), IDN_OK);
	assert_counts(f, 1, 1); /* the one saved, the other beyond the bound before */
	assert_int_equal(held_of(f, "88.100.1", T0), 2);
	assert_int_equal(held_of(f, "88.100.2", T0), 1);
	restart(f, 100);
	home(f->s, "88.100.3"); /* while the node is down: no record changed */
	assert_int_equal(node_stats_flush(f->n, T0 - 3400), IDN_OK);
	assert_counts(f, 1, 2);
	assert_int_equal(held_of(f, "88.100.3", T0), 1);
	assert_int_equal(held_of(f, "88.100.1", T0), 2);
	restart(f, 100);
	assert_int_equal(node_stats_flush(f->n, T0 - 3300), IDN_OK);
	assert_counts(f, 0, 3);
	/* a record written by another process (here: through the store) while down */
	restart(f, 100);
	put_url(f->s, "88.100.1/new");
	assert_int_equal(node_stats_flush(f->n, T0 - 3200), IDN_OK);
	assert_counts(f, 3, 0);
	assert_int_equal(held_of(f, "88.100.1", T0), 3);
	restart(f, 100);
	assert_int_equal(node_stats_flush(f->n, T0 - 3100), IDN_OK);
	assert_counts(f, 0, 3);
	assert_int_equal(held_of(f, "88.100.1", T0), 3);
	assert_int_equal(held_of(f, "88.100.3", T0), 1);
	assert_int_equal(saved_rows(f), store_can_gen(f->s) ? 3 : 0);
	/* a prefix no longer homed, and a record written: its saved row goes at the next save */
	restart(f, 100);
	store_txn *t;
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_unhome(t, IDN_SLICE("88.100.3")), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	put_url(f->s, "88.100.2/new");
	assert_int_equal(node_stats_flush(f->n, T0 - 3000), IDN_OK);
	assert_counts(f, 2, 0);
	assert_int_equal(saved_rows(f), store_can_gen(f->s) ? 2 : 0);
}

/* A new day with no record changed takes the saved figures; after a write it counts. */
static void test_held_saved_day(void **state)
{
	struct fx *f = *state;
	start(f, 100);
	assert_int_equal(node_stats_flush(f->n, T0), IDN_OK); /* 23:59:50 */
	assert_counts(f, 2, 0);
	assert_int_equal(node_stats_flush(f->n, T0 + 15), IDN_OK); /* the next day */
	assert_counts(f, 2, 2);
	assert_int_equal(held_of(f, "88.100.1", T0 + 15), 2);
	put_url(f->s, "88.100.2/d");
	assert_int_equal(node_stats_flush(f->n, T0 + 15 + DAY), IDN_OK);
	assert_counts(f, 4, 2);
	assert_int_equal(held_of(f, "88.100.2", T0 + 15 + DAY), 2);
	assert_int_equal(node_stats_flush(f->n, T0 + 15 + 2 * DAY), IDN_OK);
	assert_counts(f, 4, 4);
	assert_int_equal(held_of(f, "88.100.2", T0 + 15 + 2 * DAY), 2);
}

/* A record put by raw LMDB while the node was down is counted, not taken as saved. */
static void test_held_raw_write(void **state)
{
	struct fx *f = *state;
	if (use_pg)
		skip();
	start(f, 100);
	assert_int_equal(node_stats_flush(f->n, T0 - 3600), IDN_OK);
	assert_counts(f, 2, 0);
	for (int i = 0; i < 2; i++)
		node_worker_free(f->w[i]);
	node_free(f->n);
	store_close(f->s);
	raw_put(f->loc, "88.100.2/raw", 12, "\0https://raw", 13);
	store_opts o = {.no_sync = 1};
	assert_int_equal(store_open(f->loc, &o, &f->s), IDN_OK);
	start(f, 100);
	assert_int_equal(node_stats_flush(f->n, T0 - 3500), IDN_OK);
	assert_counts(f, 2, 0);
	assert_int_equal(held_of(f, "88.100.2", T0), 2);
}

static void test_prefix_bound(void **state)
{
	struct fx *f = *state;
	start(f, 2);
	uint64_t before = limit_count(LIM_STATS_PREFIXES);
	count(f->w[0], "88.100.1/a", NST_REGISTERED, 1);
	count(f->w[0], "88.100.2/a", NST_REGISTERED, 1);
	count(f->w[0], "88.100.3/a", NST_REGISTERED, 5);
	count(f->w[0], "88.100.4/a", NST_REGISTERED, 6);
	assert_true(limit_count(LIM_STATS_PREFIXES) >= before + 2);
	assert_int_equal(node_stats_flush(f->n, T0), IDN_OK);
	got o = one(f->s, NODE_STATS_OTHER, false, false, T0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.last.c[NST_REGISTERED], 11);
	assert_int_equal(one(f->s, "88.100.3", false, false, T0).n, 0);
	assert_int_equal(one(f->s, "88.100.1", false, false, T0).last.c[NST_REGISTERED], 1);
	assert_true(node_stats_tracked(f->n) <= 3);
}

static void test_prune(void **state)
{
	struct fx *f = *state;
	start(f, 100);
	count(f->w[0], "88.100.1/a", NST_REGISTERED, 1);
	assert_int_equal(node_stats_flush(f->n, T0 - 40 * DAY), IDN_OK);
	count(f->w[0], "88.100.1/a", NST_REGISTERED, 1);
	assert_int_equal(node_stats_flush(f->n, T0 - 10 * DAY), IDN_OK);
	count(f->w[0], "88.100.1/a", NST_REGISTERED, 1);
	assert_int_equal(node_stats_flush(f->n, T0), IDN_OK);
	size_t gone = 0;
	/* hourly kept 7 days, daily 30: the hour rows of 40 and 10 days ago, the day of 40 */
	assert_int_equal(node_stats_prune(f->s, T0, 7, 30, 0, &gone), IDN_OK);
	/*
	 * Each flush in a new hour writes every prefix homed (88.100.1, 88.100.2)
	 * and their industry (88.100): hour rows at -40 and -10, day rows at -40.
	 */
	assert_int_equal(gone, 9);
	assert_int_equal(one(f->s, "88.100.1", false, true, T0 - 40 * DAY).n, 0);
	assert_int_equal(one(f->s, "88.100.1", false, true, T0 - 10 * DAY).n, 0);
	assert_int_equal(one(f->s, "88.100.1", false, false, T0 - 40 * DAY).n, 0);
	assert_int_equal(one(f->s, "88.100.1", false, false, T0 - 10 * DAY).n, 1);
	assert_int_equal(one(f->s, "88.100.1", false, true, T0).n, 1);
	assert_int_equal(one(f->s, "88.100", true, false, T0 - 10 * DAY).n, 1);
	/* 0 keeps forever; a bound stops early */
	assert_int_equal(node_stats_prune(f->s, T0, 0, 0, 0, &gone), IDN_OK);
	assert_int_equal(gone, 0);
	assert_int_equal(node_stats_prune(f->s, T0 + 100 * DAY, 1, 1, 1, &gone), IDN_OK);
	assert_int_equal(gone, 1);
}

/* node_stats_add (a history written elsewhere, as idnode demo's): adds, sets held, both kinds. */
static void test_add(void **state)
{
	struct fx *f = *state;
	uint64_t c[NST_COUNT] = {0};
	c[NST_REGISTERED] = 5;
	c[NST_RES_FIRST + NST_FOUND] = 40;
	uint32_t day = T0 / DAY - 3;
	store_txn *t;
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(node_stats_add(t, false, false, day, "88.100.1", 100, c), IDN_OK);
	assert_int_equal(node_stats_add(t, false, false, day, "88.100.1", 105, c), IDN_OK);
	assert_int_equal(node_stats_add(t, false, true, day, "88.100", 300, c), IDN_OK);
	assert_int_equal(node_stats_add(t, true, false, day * 24, "88.100.2", 7, c), IDN_OK);
	assert_int_equal(node_stats_add(t, false, false, day, "", 1, c), IDN_EINVAL);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	got g = one(f->s, "88.100.1", false, false, day * DAY);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.last.held, 105); /* the last held given */
	assert_int_equal(g.last.c[NST_REGISTERED], 10);
	assert_int_equal(g.last.c[NST_RES_FIRST + NST_FOUND], 80);
	g = one(f->s, "88.100", true, false, day * DAY);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.last.held, 300);
	assert_int_equal(g.last.c[NST_REGISTERED], 5);
	g = one(f->s, "88.100.2", false, true, day * DAY);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.last.held, 7);
	assert_int_equal(one(f->s, "88.100.2", false, false, day * DAY).n, 0); /* hour only */
}

static void test_query_errors(void **state)
{
	(void)state;
	node_stats_query q;
	char err[200];
	static const char *const bad[][5] = {
	    {NULL, NULL, "2026-13-01", NULL, NULL},
	    {NULL, NULL, "2026-02-30", NULL, NULL},
	    {NULL, NULL, "yesterday", NULL, NULL},
	    {NULL, NULL, "2026-12-07T05", NULL, "day"},
	    {NULL, NULL, "2026-12-08", "2026-12-01", NULL},
	    {NULL, NULL, "2020-01-01", NULL, NULL},
	    {NULL, NULL, "2026-01-01", NULL, "hour"},
	    {"88.1", NULL, NULL, NULL, "week"},
	    {"88 1", NULL, NULL, NULL, NULL},
	    {"88.1", "88", NULL, NULL, NULL},
	    {NULL, NULL, "2026-12-07 ", NULL, NULL},
	    {NULL, NULL, "+026-12-07", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(node_stats_query_parse(&q, bad[i][0], bad[i][1], bad[i][2],
		                                        bad[i][3], bad[i][4], T0, err, sizeof(err)),
		                 IDN_EINVAL);
		assert_true(strlen(err) > 10);
	}
	assert_int_equal(node_stats_query_parse(&q, NULL, NULL, "2026-12-07T05", "2026-12-07T09",
	                                        "hour", T0, err, sizeof(err)),
	                 IDN_OK);
	assert_int_equal(q.to - q.from, 4);
	assert_int_equal(
	    node_stats_query_parse(&q, NULL, NULL, NULL, NULL, NULL, T0, err, sizeof(err)), IDN_OK);
	assert_int_equal(q.to, T0 / DAY);
	assert_int_equal(q.to - q.from, 6);
}

static void test_rows(void **state)
{
	(void)state;
	node_stats_row r = {.bucket = T0 / 3600, .hourly = true, .name = "88.100.7", .held = 9};
	r.c[NST_REGISTERED] = 3;
	r.c[NST_AUTH_FAIL] = 1;
	char line[2048], head[1024];
	node_stats_csv_header(head, sizeof(head));
	node_stats_csv_row(&r, line, sizeof(line));
	assert_non_null(strstr(head, "period,granularity,kind,name,industry,held,registered,"));
	assert_string_equal(line, "2026-12-07T23,hour,prefix,\"88.100.7\",\"88.100\",9,3,0,0,0,"
	                          "0,0,0,0,0,0,0,0,0,1\r\n");
	node_stats_json_row(&r, line, sizeof(line));
	assert_non_null(strstr(line, "{\"period\":\"2026-12-07T23\",\"prefix\":\"88.100.7\","
	                             "\"industry\":\"88.100\",\"held\":9,\"registered\":3,"));
	assert_non_null(strstr(line, "\"auth_failed\":1}"));
	assert_int_equal(node_stats_industry("88", 2), 2);
}

static void test_resolutions(void **state)
{
	struct fx *f = *state;
	start(f, 100);
	static uint8_t rbuf[1024], out[PROTO_ENV_LEN + PROTO_MSG_MAX];
	const char *hs[] = {"88.100.1/a", "88.100.1/a", "88.100.1/nope", "88.999/elsewhere"};
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 4; i++) {
			size_t n = resolution(hs[i], PROTO_F_PO, 10, rbuf, sizeof(rbuf));
			assert_true(node_answer(f->w[t], t, rbuf, n, out, sizeof(out)) > 0);
		}
	node_metrics *m = calloc(1, sizeof(*m));
	node_metrics_get(f->n, m);
	assert_int_equal(m->ops[NODE_UDP][0][1], 2); /* resolution (row 0), rcode 1 */
	assert_int_equal(m->ops[NODE_TCP][0][1], 2);
	free(m);
	assert_int_equal(node_stats_flush(f->n, T0), IDN_OK);
	got g = one(f->s, "88.100.1", false, false, T0);
	assert_int_equal(g.last.c[NST_RES_FIRST + NST_FOUND], 2);
	assert_int_equal(g.last.c[NST_RES_FIRST + NST_NOT_FOUND], 1);
	assert_int_equal(g.last.c[NST_RES_FIRST + 3 + NST_FOUND], 2);
	g = one(f->s, "88.999", false, false, T0);
	assert_int_equal(g.last.c[NST_RES_FIRST + NST_REFERRED], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_day_rollover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_saved, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_saved_day, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_raw_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prefix_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resolutions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add, setup, teardown),
	    cmocka_unit_test(test_query_errors),
	    cmocka_unit_test(test_rows),
	};
	pg_db_name = "idn_stats";
	int fails = cmocka_run_group_tests_name("stats/lmdb", tests, NULL, NULL);
	pg_base = getenv("IDN_TEST_PG");
	if (!pg_base || !*pg_base) {
		printf("SKIP stats/postgresql: IDN_TEST_PG is not set (scripts/pg.sh start)\n");
		return fails;
	}
	return fails + cmocka_run_group_tests_name("stats/postgresql", tests, pg_group_setup,
	                                           pg_group_teardown);
}
