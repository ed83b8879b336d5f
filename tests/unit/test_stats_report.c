/*
 * test_stats_report.c - the reports of daily statistics to the parent
 * (node/stats_report.h) between two LMDB stores, a child's and a parent's,
 * time injected: a report signed with the child's key is accepted and
 * summed per prefix and industry; the same report again is acknowledged
 * without counting twice; a report signed by another key, altered after
 * signing, for a prefix the parent has no record of, or with a row outside
 * its prefix is refused and changes nothing; a replay (the same or an older
 * sequence with another body) is refused; a newer report of a day replaces
 * the older one (exactly once); days accepted out of order each keep their
 * own rows; malformed and oversized envelopes are refused; the child sends
 * nothing for a day the parent acknowledged until its rows change, and after
 * a replay refusal sends a higher sequence that replaces the day's report.
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

#include "auth/verify.h"
#include "node/stats_int.h"
#include "node/stats_report.h"
#include "proto/handle.h"
#include "proto/record.h"
#include "unit_msgs.h"

/* 2026-12-07 12:00:00 UTC */
enum { T0 = 1796644800u, DAY = 86400 };

struct fx {
	char cdir[64], pdir[64];
	store *child, *parent;
	node *n;
	node_worker *w;
	EVP_PKEY *key, *other;
};

static store *open_store(char *dir)
{
	strcpy(dir, "/tmp/idn_srep_XXXXXX");
	assert_non_null(mkdtemp(dir));
	store_opts o = {.no_sync = 1};
	store *s;
	assert_int_equal(store_open(dir, &o, &s), IDN_OK);
	return s;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->child = open_store(f->cdir);
	f->parent = open_store(f->pdir);
	home(f->child, "88.100.1");
	assert_int_equal(auth_keygen("rsa", &f->key), IDN_OK);
	assert_int_equal(auth_keygen("rsa", &f->other), IDN_OK);
	uint8_t pub[4096];
	wire_wr w = wire_wr_init(pub, sizeof(pub));
	assert_int_equal(auth_pubkey_encode(f->key, &w), IDN_OK);
	proto_value v = {.index = 300,
	                 .type = IDN_SLICE("HS_PUBKEY"),
	                 .data = idn_slice_of(pub, (size_t)(w.pos - w.start))};
	put_record(f->parent, "0.NA/88.100.1", &v, 1);
	node_config cfg;
	node_config_init(&cfg);
	cfg.stats_prefixes = NODE_STATS_PREFIXES;
	assert_int_equal(node_new(&cfg, f->child, &f->n), IDN_OK);
	assert_int_equal(node_worker_new(f->n, &f->w), IDN_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	node_worker_free(f->w);
	node_free(f->n);
	store_close(f->child);
	store_close(f->parent);
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->other);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", f->cdir, f->pdir);
	if (system(cmd)) {
	}
	free(f);
	return 0;
}

/* Counts stat n times for handle h at the child, flushed at time t. */
static void count(struct fx *f, const char *h, unsigned stat, int n, uint32_t t)
{
	for (int i = 0; i < n; i++)
		node_stats_count(f->w, idn_slice_of(h, strlen(h)), stat);
	assert_int_equal(node_stats_flush(f->n, t), IDN_OK);
}

static int first_cb(void *arg, const node_stats_row *r)
{
	*(node_stats_row *)arg = *r;
	return 0;
}

/* The parent's reported row of name (prefix or, industry, industry) on day; zeros if none. */
static node_stats_row reported(struct fx *f, const char *name, bool industry, uint32_t day)
{
	node_stats_row r = {0};
	node_stats_query q = {
	    .reported = true, .industry = industry, .name = name, .from = day, .to = day};
	assert_int_equal(node_stats_read(f->parent, &q, first_cb, &r), IDN_OK);
	return r;
}

static int take(struct fx *f, const node_report *r, enum node_report_outcome *o)
{
	char err[256] = "";
	int ret = node_report_accept(f->parent, (const uint8_t *)r->envelope, r->len, false, o, err,
	                             sizeof(err));
	if (ret)
		assert_true(err[0] != 0); /* every refusal says why */
	return ret;
}

/* Builds the day's report of 88.100.1 (sequence seq), has the parent accept it as new. */
static void send_new(struct fx *f, uint32_t day, uint64_t seq)
{
	node_report r;
	enum node_report_outcome o;
	assert_int_equal(node_report_build(f->child, "88.100.1", day, f->key, &r), 1);
	assert_int_equal(r.seq, seq);
	assert_int_equal(take(f, &r, &o), IDN_OK);
	assert_int_equal(o, NODE_REPORT_ACCEPTED);
	node_report_free(&r);
}

static void test_signed_and_duplicate(void **state)
{
	struct fx *f = *state;
	uint32_t day = T0 / DAY;
	count(f, "88.100.1/a", NST_REGISTERED, 3, T0);
	count(f, "88.100.1/a", NST_RES_FIRST, 5, T0 + 10); /* udp found */
	node_report r;
	assert_int_equal(node_report_build(f->child, "88.100.1", day, f->key, &r), 1);
	assert_int_equal(r.seq, 1);
	enum node_report_outcome o;
	assert_int_equal(take(f, &r, &o), IDN_OK);
	assert_int_equal(o, NODE_REPORT_ACCEPTED);
	node_stats_row p = reported(f, "88.100.1", false, day);
	assert_int_equal(p.c[NST_REGISTERED], 3);
	assert_int_equal(p.c[NST_RES_FIRST], 5);
	assert_int_equal(reported(f, "88.100", true, day).c[NST_REGISTERED], 3);
	/* the same again: acknowledged, not counted twice */
	assert_int_equal(take(f, &r, &o), IDN_OK);
	assert_int_equal(o, NODE_REPORT_DUPLICATE);
	assert_int_equal(reported(f, "88.100.1", false, day).c[NST_REGISTERED], 3);
	assert_int_equal(reported(f, "88.100", true, day).c[NST_REGISTERED], 3);
	/* acknowledged at the child: nothing new to send until the rows change */
	assert_int_equal(node_report_acked(f->child, "88.100.1", day, &r), IDN_OK);
	node_report_free(&r);
	assert_int_equal(node_report_build(f->child, "88.100.1", day, f->key, &r), 0);
	count(f, "88.100.1/b", NST_REGISTERED, 1, T0 + 20);
	send_new(f, day, 2);
	/* replaced, not added: 4, not 3 + 4 */
	assert_int_equal(reported(f, "88.100.1", false, day).c[NST_REGISTERED], 4);
	assert_int_equal(reported(f, "88.100", true, day).c[NST_REGISTERED], 4);
	node_report_free(&r);
}

static void test_forged(void **state)
{
	struct fx *f = *state;
	uint32_t day = T0 / DAY;
	count(f, "88.100.1/a", NST_REGISTERED, 2, T0);
	node_report r;
	enum node_report_outcome o;
	/* another key */
	assert_int_equal(node_report_build(f->child, "88.100.1", day, f->other, &r), 1);
	assert_int_equal(take(f, &r, &o), IDN_EMISMATCH);
	node_report_free(&r);
	/* the right key, the document altered after signing */
	assert_int_equal(node_report_build(f->child, "88.100.1", day, f->key, &r), 1);
	char *at = strstr(r.envelope, "registered\\\":2");
	assert_non_null(at);
	at[strlen("registered\\\":")] = '9';
	assert_int_equal(take(f, &r, &o), IDN_EMISMATCH);
	node_report_free(&r);
	assert_int_equal(reported(f, "88.100.1", false, day).c[NST_REGISTERED], 0);
	/* a prefix the parent has no 0.NA record of */
	home(f->child, "88.200.5");
	count(f, "88.200.5/x", NST_REGISTERED, 1, T0 + 5);
	assert_int_equal(node_report_build(f->child, "88.200.5", day, f->key, &r), 1);
	assert_int_equal(take(f, &r, &o), IDN_EMISMATCH);
	node_report_free(&r);
	assert_int_equal(reported(f, "88.200.5", false, day).c[NST_REGISTERED], 0);
	/* a row outside the prefix reported for */
	const char *bad = "{\"report\":\"{\\\"v\\\":1,\\\"prefix\\\":\\\"88.100.1\\\",\\\"day\\\":"
	                  "\\\"2026-12-07\\\",\\\"seq\\\":1,\\\"rows\\\":[{\\\"prefix\\\":"
	                  "\\\"88.200.5\\\"}]}\",\"signature\":\"00\"}";
	char err[256];
	assert_int_equal(node_report_accept(f->parent, (const uint8_t *)bad, strlen(bad), false, &o,
	                                    err, sizeof(err)),
	                 IDN_EMISMATCH);
	assert_non_null(strstr(err, "not under 88.100.1"));
}

static void test_replay(void **state)
{
	struct fx *f = *state;
	uint32_t day = T0 / DAY;
	count(f, "88.100.1/a", NST_REGISTERED, 1, T0);
	node_report r1, r2, r2b;
	enum node_report_outcome o;
	assert_int_equal(node_report_build(f->child, "88.100.1", day, f->key, &r1), 1);
	assert_int_equal(take(f, &r1, &o), IDN_OK);
	assert_int_equal(node_report_acked(f->child, "88.100.1", day, &r1), IDN_OK);
	count(f, "88.100.1/a", NST_REGISTERED, 1, T0 + 1);
	assert_int_equal(node_report_build(f->child, "88.100.1", day, f->key, &r2), 1);
	/* not acknowledged: the next build has the same sequence with another body */
	count(f, "88.100.1/a", NST_REGISTERED, 1, T0 + 2);
	assert_int_equal(node_report_build(f->child, "88.100.1", day, f->key, &r2b), 1);
	assert_int_equal(r2.seq, 2);
	assert_int_equal(r2b.seq, 2);
	assert_int_equal(take(f, &r2, &o), IDN_OK);
	assert_int_equal(reported(f, "88.100.1", false, day).c[NST_REGISTERED], 2);
	assert_int_equal(take(f, &r2b, &o), IDN_EEXIST); /* same sequence, another body */
	assert_int_equal(take(f, &r1, &o), IDN_EEXIST);  /* an older one */
	assert_int_equal(reported(f, "88.100.1", false, day).c[NST_REGISTERED], 2);
	assert_int_equal(reported(f, "88.100", true, day).c[NST_REGISTERED], 2);
	/* the child learns its sequence 2 was used (the parent's answer lost): 3 replaces it */
	assert_int_equal(node_report_used(f->child, "88.100.1", day, &r2b), IDN_OK);
	send_new(f, day, 3);
	assert_int_equal(reported(f, "88.100.1", false, day).c[NST_REGISTERED], 3);
	assert_int_equal(reported(f, "88.100", true, day).c[NST_REGISTERED], 3);
	node_report_free(&r1);
	node_report_free(&r2);
	node_report_free(&r2b);
}

static void test_out_of_order(void **state)
{
	struct fx *f = *state;
	uint32_t d1 = T0 / DAY, d2 = d1 + 1;
	count(f, "88.100.1/a", NST_REGISTERED, 2, T0);
	count(f, "88.100.1/a", NST_REGISTERED, 7, T0 + DAY);
	node_report a, b;
	enum node_report_outcome o;
	assert_int_equal(node_report_build(f->child, "88.100.1", d1, f->key, &a), 1);
	assert_int_equal(node_report_build(f->child, "88.100.1", d2, f->key, &b), 1);
	assert_int_equal(take(f, &b, &o), IDN_OK);
	assert_int_equal(take(f, &a, &o), IDN_OK);
	assert_int_equal(take(f, &b, &o), IDN_OK);
	assert_int_equal(o, NODE_REPORT_DUPLICATE);
	assert_int_equal(reported(f, "88.100.1", false, d1).c[NST_REGISTERED], 2);
	assert_int_equal(reported(f, "88.100.1", false, d2).c[NST_REGISTERED], 7);
	node_report_free(&a);
	node_report_free(&b);
}

static void test_malformed(void **state)
{
	struct fx *f = *state;
	enum node_report_outcome o;
	char err[256];
	const char *cases[] = {
	    "not json",
	    "{\"report\":\"{}\",\"signature\":\"00\"}",
	    "{\"report\":\"{}\",\"signature\":\"zz\"}",
	    "{\"report\":\"{\\\"v\\\":1,\\\"prefix\\\":\\\"88.100.1\\\",\\\"day\\\":\\\"2026-02-"
	    "30\\\","
	    "\\\"seq\\\":1,\\\"rows\\\":[]}\",\"signature\":\"00\"}",
	    "{\"report\":\"x\",\"signature\":\"00\",\"more\":1}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		assert_int_equal(node_report_accept(f->parent, (const uint8_t *)cases[i],
		                                    strlen(cases[i]), false, &o, err, sizeof(err)),
		                 IDN_EINVAL);
		assert_true(err[0] != 0);
	}
	size_t big = NODE_REPORT_MAX + 1;
	uint8_t *b = calloc(1, big);
	assert_int_equal(node_report_accept(f->parent, b, big, false, &o, err, sizeof(err)),
	                 IDN_ERANGE);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_signed_and_duplicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
