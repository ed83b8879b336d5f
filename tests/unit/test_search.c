/*
 * test_search.c - node/search.h: the query terms (every form and every
 * refusal, with its message), and runs on an LMDB store through a node
 * worker: exact, prefix, any and range terms, AND, the prefix restriction,
 * cursor and offset pages, values longer than the index keeps, the scan
 * bound (a page that ends early, a query too broad), permissions (anonymous,
 * the handle's admin, a node-wide admin), and an index off or stale.
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

#include "node/search.h"
#include "proto/admin.h"
#include "proto/handle.h"
#include "proto/reserved.h"
#include "proto/record.h"
#include "store/index.h"
#include "store/store.h"

#define T(s) idn_slice_of(s, strlen(s))

/* ---- parsing ---- */

static void parse_ok(search_query *q, const char *text)
{
	char why[SEARCH_WHY_MAX] = "";
	if (search_add_term(q, T(text), why))
		fail_msg("%s: %s", text, why);
}

static void parse_bad(const char *text, const char *word)
{
	search_query q;
	char why[SEARCH_WHY_MAX] = "";
	search_query_init(&q);
	assert_int_equal(search_add_term(&q, T(text), why), IDN_EINVAL);
	if (!strstr(why, word))
		fail_msg("%s: \"%s\" does not say %s", text, why, word);
	assert_int_equal(q.nterms, 0);
}

static void test_parse(void **state)
{
	(void)state;
	search_query q;
	search_query_init(&q);
	assert_int_equal(q.limit, SEARCH_LIMIT_DEFAULT);
	parse_ok(&q, "URL=http://example.org/a=b");
	assert_int_equal(q.terms[0].op, SEARCH_EXACT);
	assert_memory_equal(q.terms[0].type, "url", 3); /* types fold */
	assert_true(idn_slice_eq(q.terms[0].value, T("http://example.org/a=b")));
	parse_ok(&q, "batch=B7*");
	assert_int_equal(q.terms[1].op, SEARCH_PREFIX);
	assert_true(idn_slice_eq(q.terms[1].value, T("B7")));
	parse_ok(&q, "EMAIL=*");
	assert_int_equal(q.terms[2].op, SEARCH_ANY);
	/* two bounds on one type make one range; the type's case does not matter */
	parse_ok(&q, "produced>=2026-01-01");
	parse_ok(&q, "Produced<=2026-12-31");
	assert_int_equal(q.nterms, 4);
	assert_int_equal(q.terms[3].op, SEARCH_RANGE);
	assert_true(idn_slice_eq(q.terms[3].lo, T("2026-01-01")));
	assert_true(idn_slice_eq(q.terms[3].hi, T("2026-12-31")));
	parse_ok(&q, "10320/loc=<locations/>");
	assert_int_equal(q.nterms, 5);

	char why[SEARCH_WHY_MAX];
	assert_int_equal(search_set_prefix(&q, T("88.100.a"), why), IDN_OK);
	assert_int_equal(q.prefix_len, 9);
	assert_memory_equal(q.prefix, "88.100.A/", 9);
	assert_int_equal(search_set_prefix(&q, T("88.100/x"), why), IDN_EINVAL);
	assert_int_equal(search_set_prefix(&q, T(""), why), IDN_EINVAL);
	/* the pair form (?URL=value) */
	search_query_init(&q);
	assert_int_equal(search_add_pair(&q, T("URL"), T("http://x/*"), why), IDN_OK);
	assert_int_equal(q.terms[0].op, SEARCH_PREFIX);
	assert_int_equal(search_add_pair(&q, T("URL"), T(""), why), IDN_EINVAL);
	for (int i = 1; i < SEARCH_TERMS_MAX; i++)
		parse_ok(&q, "a=b");
	assert_int_equal(search_add_term(&q, T("a=b"), why), IDN_EINVAL);
	assert_non_null(strstr(why, "at most 8"));

	parse_bad("URL", "a term is");
	parse_bad("=x", "a term is");
	parse_bad("URL=*example*", "leading wildcard");
	parse_bad("URL=*x", "leading wildcard");
	parse_bad("URL=a*b", "'*' may only end");
	parse_bad("URL=a**", "'*' may only end");
	parse_bad("URL=", "needs a value");
	parse_bad("HS_ADMIN=x", "not searchable");
	parse_bad("hs_pubkey=x", "not searchable");
	parse_bad("HS_SITE.PREFIX=x", "not searchable");
	parse_bad("URL=\xff\xfe", "UTF-8");
	parse_bad("d>=2026-1-01", "YYYY-MM-DD");
	parse_bad("d<=yesterday", "YYYY-MM-DD");
	parse_bad(">=2026-01-01", "needs a type");
	char longtype[INDEX_TYPE_MAX + 8];
	memset(longtype, 't', sizeof(longtype));
	memcpy(longtype + INDEX_TYPE_MAX + 1, "=x", 3);
	parse_bad(longtype, "not searchable");
}

/* ---- runs ---- */

struct fx {
	char loc[64];
	store *s;
	node_config cfg;
	node *n;
	node_worker *w;
};

static uint32_t test_clock(void)
{
	return 1796687990u;
}

static void put_values(store *s, const char *h, const proto_value *v, uint32_t n)
{
	uint8_t rec[8192], key[HANDLE_KEY_MAX];
	int len = record_build(v, n, rec, sizeof(rec));
	int kl = handle_key(T(h), true, key);
	assert_true(len > 0 && kl > 0);
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(
	    store_put(t, idn_slice_of(key, (size_t)kl), idn_slice_of(rec, (size_t)len), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

static idn_slice admin_of(uint8_t *buf, size_t cap, const char *h, uint32_t index)
{
	wire_wr w = wire_wr_init(buf, cap);
	proto_admin a = {.rights = PROTO_ADM_ALL, .handle = T(h), .index = index};
	proto_admin_put(&w, &a);
	return idn_slice_of(buf, wire_wr_len(&w));
}

static char longv[2][300];

/* 88.1/Rnn: URL, batch, day, and a secret; 0.NA/88.1 names 300:88.1/adm. */
static void fill(store *s)
{
	uint8_t adm[128];
	proto_value pv = {.index = 100,
	                  .type = T("HS_ADMIN"),
	                  .perms = 0x0e,
	                  .data = admin_of(adm, sizeof(adm), "88.1/adm", 300)};
	put_values(s, "0.NA/88.1", &pv, 1);
	for (int i = 0; i < 50; i++) {
		char h[32], url[64], batch[8], day[16];
		snprintf(h, sizeof(h), "88.1/R%02d", i);
		snprintf(url, sizeof(url), "http://example.org/%d", i);
		snprintf(batch, sizeof(batch), "B%d", i % 5);
		snprintf(day, sizeof(day), "2026-02-%02d", i % 28 + 1);
		proto_value v[] = {
		    {.index = 1, .perms = 0x0e, .type = T("URL"), .data = T(url)},
		    {.index = 2000, .perms = 0x0e, .type = T("batch"), .data = T(batch)},
		    {.index = 2001, .perms = 0x0e, .type = T("day"), .data = T(day)},
		    {.index = 2002, .perms = 0x0c, .type = T("secret"), .data = T("s")},
		};
		put_values(s, h, v, 4);
	}
	/* two values sharing their first 250 bytes: longer than the index keeps */
	for (int i = 0; i < 2; i++) {
		memset(longv[i], 'L', sizeof(longv[i]) - 1);
		longv[i][sizeof(longv[i]) - 2] = (char)('a' + i);
		longv[i][sizeof(longv[i]) - 1] = 0;
		proto_value v = {.index = 1, .perms = 0x0e, .type = T("URL"), .data = T(longv[i])};
		put_values(s, i ? "88.2/long-b" : "88.2/long-a", &v, 1);
	}
	/* exactly INDEX_DATA_MAX bytes: its key holds it whole */
	char exact[INDEX_DATA_MAX + 1];
	memset(exact, 'L', INDEX_DATA_MAX);
	exact[INDEX_DATA_MAX] = 0;
	proto_value v = {.index = 1, .perms = 0x0e, .type = T("URL"), .data = T(exact)};
	put_values(s, "88.2/long-c", &v, 1);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->loc, "/tmp/idn_search_XXXXXX");
	if (!mkdtemp(f->loc))
		return -1;
	store_opts o = {.no_sync = 1};
	if (store_open(f->loc, &o, &f->s))
		return -1;
	fill(f->s);
	node_config_init(&f->cfg);
	f->cfg.clock = test_clock;
	static const char *const admins[] = {"300:88.9/boss"};
	f->cfg.server_admins = admins;
	f->cfg.nserver_admins = 1;
	if (node_new(&f->cfg, f->s, &f->n) || node_worker_new(f->n, &f->w))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	node_worker_free(f->w);
	node_free(f->n);
	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->loc);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

struct found {
	char all[4096];
	int n;
};

static int hit(void *arg, idn_slice id)
{
	struct found *fd = arg;
	size_t l = strlen(fd->all);
	snprintf(fd->all + l, sizeof(fd->all) - l, "%s%.*s", fd->n++ ? " " : "", (int)id.len,
	         (const char *)id.p);
	return 0;
}

/* Runs the terms (';'-separated) as who ("" anonymous): the identifiers, ' '-separated. */
static int run(struct fx *f, const char *who, const char *terms, search_query *q, uint32_t scan,
               search_page *pg, struct found *fd)
{
	char buf[1024], why[SEARCH_WHY_MAX];
	snprintf(buf, sizeof(buf), "%s", terms);
	memset(fd, 0, sizeof(*fd));
	static char keep[8][1024]; /* the terms borrow their text */
	int k = 0;
	for (char *save, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		strcpy(keep[k], tok);
		if (search_add_term(q, T(keep[k]), why))
			fail_msg("%s: %s", tok, why);
		k++;
	}
	return node_search(f->w, T(who), 300, q, scan, hit, fd, pg);
}

static const char *find(struct fx *f, const char *who, const char *terms)
{
	static struct found fd;
	search_query q;
	search_page pg;
	search_query_init(&q);
	assert_int_equal(run(f, who, terms, &q, 0, &pg, &fd), IDN_OK);
	assert_false(pg.more);
	return fd.all;
}

static void test_terms(void **state)
{
	struct fx *f = *state;
	assert_string_equal(find(f, "", "URL=http://example.org/7"), "88.1/R07");
	assert_string_equal(find(f, "", "url=http://example.org/4*"),
	                    "88.1/R04 88.1/R40 88.1/R41 88.1/R42 88.1/R43 88.1/R44 88.1/R45 "
	                    "88.1/R46 88.1/R47 88.1/R48 88.1/R49");
	assert_string_equal(find(f, "", "batch=B3;day<=2026-02-10"),
	                    "88.1/R03 88.1/R08 88.1/R28 88.1/R33");
	assert_string_equal(find(f, "", "day>=2026-02-27"), "88.1/R26 88.1/R27");
	assert_string_equal(find(f, "", "day>=2026-02-03;day<=2026-02-03"), "88.1/R02 88.1/R30");
	assert_string_equal(find(f, "", "batch=B9"), "");
	assert_string_equal(find(f, "", "batch=B"), "");
	assert_int_equal(strlen(find(f, "", "batch=*")), 50 * 9 - 1);
	/* values longer than the index keeps are told apart by their records */
	char q[400];
	snprintf(q, sizeof(q), "URL=%s", longv[1]);
	assert_string_equal(find(f, "", q), "88.2/long-b");
	snprintf(q, sizeof(q), "URL=%.*s*", 280, longv[0]);
	assert_string_equal(find(f, "", q), "88.2/long-a 88.2/long-b");
	snprintf(q, sizeof(q), "URL=%.*s", INDEX_DATA_MAX, longv[0]);
	assert_string_equal(find(f, "", q), "88.2/long-c");
	snprintf(q, sizeof(q), "URL=%.*s*", INDEX_DATA_MAX, longv[0]);
	assert_string_equal(find(f, "", q), "88.2/long-a 88.2/long-b 88.2/long-c");
}

static void test_prefix_and_pages(void **state)
{
	struct fx *f = *state;
	struct found fd;
	search_query q;
	search_page pg;
	char why[SEARCH_WHY_MAX];

	search_query_init(&q);
	assert_int_equal(search_set_prefix(&q, T("88.2"), why), IDN_OK);
	assert_int_equal(run(f, "", "URL=L*", &q, 0, &pg, &fd), IDN_OK);
	assert_string_equal(fd.all, "88.2/long-a 88.2/long-b 88.2/long-c");
	search_query_init(&q);
	assert_int_equal(search_set_prefix(&q, T("88.2"), why), IDN_OK);
	assert_int_equal(run(f, "", "batch=B1", &q, 0, &pg, &fd), IDN_OK);
	assert_int_equal(fd.n, 0);

	/* cursor pages: every match once, in order */
	char all[4096] = "";
	uint8_t cur[INDEX_ID_MAX];
	size_t cl = 0;
	for (int page = 0; page < 10; page++) {
		search_query_init(&q);
		q.limit = 3;
		memcpy(q.cursor, cur, cl);
		q.cursor_len = cl;
		assert_int_equal(run(f, "", "batch=B2", &q, 0, &pg, &fd), IDN_OK);
		strcat(all, fd.all);
		strcat(all, "|");
		if (!pg.more)
			break;
		memcpy(cur, pg.next, pg.next_len);
		cl = pg.next_len;
	}
	assert_string_equal(all, "88.1/R02 88.1/R07 88.1/R12|88.1/R17 88.1/R22 88.1/R27|"
	                         "88.1/R32 88.1/R37 88.1/R42|88.1/R47|");
	/* offset pages (/hrls's page) */
	search_query_init(&q);
	q.limit = 2;
	q.skip = 4;
	assert_int_equal(run(f, "", "day>=2026-02-20", &q, 0, &pg, &fd), IDN_OK);
	assert_string_equal(fd.all, "88.1/R23 88.1/R24");
	assert_true(pg.more);
}

static void test_scan_bound(void **state)
{
	struct fx *f = *state;
	struct found fd;
	search_query q;
	search_page pg;
	/* a gathered term over the bound: too broad */
	search_query_init(&q);
	assert_int_equal(run(f, "", "URL=http*", &q, 20, &pg, &fd), SEARCH_TOO_BROAD);
	/* an exact term's page ends at the bound and goes on from there */
	search_query_init(&q);
	assert_int_equal(run(f, "", "batch=B0", &q, 4, &pg, &fd), IDN_OK);
	assert_string_equal(fd.all, "88.1/R00 88.1/R05 88.1/R10 88.1/R15");
	assert_true(pg.more);
	search_query_init(&q);
	memcpy(q.cursor, pg.next, pg.next_len);
	q.cursor_len = pg.next_len;
	assert_int_equal(run(f, "", "batch=B0", &q, 100, &pg, &fd), IDN_OK);
	assert_string_equal(fd.all, "88.1/R20 88.1/R25 88.1/R30 88.1/R35 88.1/R40 88.1/R45");
}

static void test_permissions(void **state)
{
	struct fx *f = *state;
	/* secret is admin-read only */
	assert_string_equal(find(f, "", "secret=s"), "");
	assert_int_equal(strlen(find(f, "88.1/adm", "secret=s;batch=B4")), 10 * 9 - 1);
	assert_string_equal(find(f, "88.1/other", "secret=s"), "");
	assert_int_equal(strlen(find(f, "88.9/boss", "secret=s;day=2026-02-01")), 2 * 9 - 1);
}

static void test_index_states(void **state)
{
	struct fx *f = *state;
	struct found fd;
	search_query q;
	search_page pg;
	store_txn *t;
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_index_set(t, INDEX_STALE), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	search_query_init(&q);
	assert_int_equal(run(f, "", "batch=B1", &q, 0, &pg, &fd), SEARCH_STALE);
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_index_set(t, INDEX_OFF), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	search_query_init(&q);
	assert_int_equal(run(f, "", "batch=B1", &q, 0, &pg, &fd), SEARCH_OFF);
	assert_int_equal(store_index_refresh(f->s), IDN_OK); /* off stays off */
	search_query_init(&q);
	assert_int_equal(run(f, "", "batch=B1", &q, 0, &pg, &fd), SEARCH_OFF);
	assert_int_equal(store_txn_begin(f->s, 0, &t), IDN_OK);
	assert_int_equal(store_index_set(t, INDEX_ON), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
	assert_int_equal(strlen(find(f, "", "batch=B1")), 10 * 9 - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test_setup_teardown(test_terms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prefix_and_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_states, setup, teardown),
	};
	return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
