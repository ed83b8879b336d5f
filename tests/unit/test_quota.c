/*
 * test_quota.c - the quotas of node/quota.h through node_answer(), with an
 * injected clock: the daily request limit (the limit-th passes, the next is
 * 603 naming when it resets, a new UTC day starts again, node-wide admins
 * are never refused), its counts reaching the store by the sweep and at
 * node_free, the identifiers of a prefix (a store filled before any counter
 * is counted once by a scan; a delete gives room back; an overwrite adds
 * none), child prefixes (0.NA records and homes counted once, grandchildren
 * not), the codes of --national-codes, and a node admin's changes. Every
 * case runs on LMDB, and on PostgreSQL when IDN_TEST_PG names a server
 * (a database of its own, dropped at the end; skipped without one).
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
#include <libpq-fe.h>

#include "core/limit.h"
#include "node/internal.h"
#include "node/quota.h"
#include "proto/admin.h"
#include "proto/record.h"
#include "proto/reserved.h"
#include "unit_msgs.h"
#include "unit_pg.h"

enum { BUF = PROTO_ENV_LEN + PROTO_MSG_MAX, DAY = 86400 };

/* 2026-12-07 23:59:50 UTC: ten seconds before a new day. */
static uint32_t now_s = 1796687990u;
static uint32_t test_clock(void)
{
	return now_s;
}

struct fx {
	char loc[1024];
	store *s;
	node *n;
	node_worker *w;
	node_config cfg;
	uint8_t req[BUF], out[BUF];
	char msg[512];
};

/* A record whose only value is an HS_ADMIN giving every right to 300:88.900/u. */
static void admin_record(store *s, const char *h)
{
	uint8_t data[128];
	wire_wr w = wire_wr_init(data, sizeof(data));
	proto_admin a = {.rights = PROTO_ADM_ALL, .handle = IDN_SLICE("88.900/u"), .index = 300};
	proto_admin_put(&w, &a);
	proto_value v = {.index = 100,
	                 .type = IDN_SLICE("HS_ADMIN"),
	                 .data = idn_slice_of(data, wire_wr_len(&w)),
	                 .perms = 0x0e};
	put_record(s, h, &v, 1);
}

static void url_record(store *s, const char *h)
{
	proto_value v = {.index = 1, .type = IDN_SLICE("URL"), .data = IDN_SLICE("https://x")};
	put_record(s, h, &v, 1);
}

static void start_node(struct fx *f)
{
	assert_int_equal(node_new(&f->cfg, f->s, &f->n), IDN_OK);
	assert_int_equal(node_worker_new(f->n, &f->w), IDN_OK);
	node_worker_act_as(f->w, IDN_SLICE("88.900/u"), 300);
}

static void stop_node(struct fx *f)
{
	node_worker_free(f->w);
	node_free(f->n);
	f->w = NULL;
	f->n = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (use_pg) {
		sql(pg_uri,
		    "DROP TABLE IF EXISTS idn_records, handles, nas, idn_txlog, idn_meta CASCADE");
		sql(pg_uri, "DROP FUNCTION IF EXISTS idn_handles_changed() CASCADE");
		snprintf(f->loc, sizeof(f->loc), "%s", pg_uri);
	} else {
		strcpy(f->loc, "/tmp/idn_quota_XXXXXX");
		if (!mkdtemp(f->loc))
			return -1;
	}
	store_opts o = {.no_sync = 1};
	if (store_open(f->loc, &o, &f->s))
		return -1;
	home(f->s, "88.100.1");
	home(f->s, "0.NA");
	admin_record(f->s, "0.NA/88.100.1");
	admin_record(f->s, "0.NA/0.NA");
	node_config_init(&f->cfg);
	f->cfg.clock = test_clock;
	static const char *const admins[] = {"300:88.900/boss"};
	f->cfg.server_admins = admins;
	f->cfg.nserver_admins = 1;
	now_s = 1796687990u;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	stop_node(f);
	store_close(f->s);
	if (!use_pg) {
		char path[1100];
		snprintf(path, sizeof(path), "%s/data.mdb", f->loc);
		unlink(path);
		snprintf(path, sizeof(path), "%s/lock.mdb", f->loc);
		unlink(path);
		rmdir(f->loc);
	}
	free(f);
	return 0;
}

/*
 * Runs one request (op on handle h, with a value when values) as the acting
 * identity; its code, the message in f->msg.
 */
static uint32_t run_flags(struct fx *f, uint32_t op, const char *h, bool values, uint32_t flags)
{
	proto_env env = {.major = PROTO_MAJOR, .minor = 10, .request_id = 9};
	proto_hdr hdr = {.opcode = op, .flags = flags, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, f->req, sizeof(f->req), &env, &hdr);
	idn_slice hs = idn_slice_of(h, strlen(h));
	proto_value v = {.index = 1, .type = IDN_SLICE("URL"), .data = IDN_SLICE("https://q")};
	if (values)
		proto_values_req_encode(&b.w, hs, &v, 1);
	else
		proto_handle_req_encode(&b.w, hs);
	int len = proto_build_end(&b, NULL, 0);
	assert_true(len > 0);
	int n = node_answer(f->w, NODE_TCP, f->req, (size_t)len, f->out, sizeof(f->out));
	assert_true(n > PROTO_ENV_LEN);
	proto_msg m;
	assert_int_equal(proto_msg_decode(f->out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &m),
	                 IDN_OK);
	idn_slice msg = {0};
	f->msg[0] = 0;
	if (m.hdr.rcode != PROTO_RC_SUCCESS && !proto_error_decode(m.body, &msg))
		snprintf(f->msg, sizeof(f->msg), "%.*s", (int)msg.len, (const char *)msg.p);
	return m.hdr.rcode;
}

static uint32_t run(struct fx *f, uint32_t op, const char *h, bool values)
{
	return run_flags(f, op, h, values, 0);
}

static uint32_t create(struct fx *f, const char *h)
{
	return run(f, PROTO_OP_CREATE_HANDLE, h, true);
}

static uint32_t del(struct fx *f, const char *h)
{
	return run(f, PROTO_OP_DELETE_HANDLE, h, false);
}

static uint32_t list(struct fx *f)
{
	return run(f, PROTO_OP_LIST_HANDLES, "0.NA/88.100.1", false);
}

static node_quota_info look(struct fx *f, const char *who, enum node_quota_kind k, const char *key,
                            enum node_quota_op op, uint64_t limit, int want)
{
	node_quota_info in;
	char why[160];
	int ret =
	    node_quota_admin(f->w, idn_slice_of(who, strlen(who)), 300, k,
	                     idn_slice_of(key, strlen(key)), op, limit, &in, why, sizeof(why));
	assert_int_equal(ret, want);
	return in;
}

/* ---- daily requests ---- */

static void test_daily_limit_and_new_day(void **state)
{
	struct fx *f = *state;
	f->cfg.quota_daily = 3;
	start_node(f);
	uint64_t hits = limit_count(LIM_QUOTA);
	for (int i = 0; i < 3; i++)
		assert_int_equal(list(f), PROTO_RC_SUCCESS);
	assert_int_equal(list(f), PROTO_RC_IDIS_DAILY_LIMIT);
	assert_string_equal(f->msg, "quota: daily requests of 300:88.900/u: limit 3 a day reached; "
	                            "resets at 2026-12-08T00:00:00Z");
	assert_int_equal(limit_count(LIM_QUOTA), hits + 1);
	/* A refused request does not count: still 3 used. */
	assert_int_equal(look(f, "88.900/boss", QUOTA_DAILY, "300:88.900/u", QUOTA_GET, 0, 0).used,
	                 3);
	now_s += 10; /* 00:00:00 UTC: a new day */
	for (int i = 0; i < 3; i++)
		assert_int_equal(list(f), PROTO_RC_SUCCESS);
	assert_int_equal(list(f), PROTO_RC_IDIS_DAILY_LIMIT);
	assert_non_null(strstr(f->msg, "resets at 2026-12-09T00:00:00Z"));
}

static void test_daily_codes_and_admins(void **state)
{
	struct fx *f = *state;
	f->cfg.quota_daily = 1;
	f->cfg.codes = NODE_CODES_IDS;
	start_node(f);
	assert_int_equal(list(f), PROTO_RC_SUCCESS);
	assert_int_equal(list(f), PROTO_RC_SERVER_BUSY);
	assert_non_null(strstr(f->msg, "quota: daily requests of 300:88.900/u: limit 1"));
	stop_node(f);
	f->cfg.codes = NODE_CODES_HANDLE;
	start_node(f);
	assert_int_equal(list(f), PROTO_RC_SERVER_BUSY); /* the count came back from the store */
	/* A node-wide admin is counted, never refused. */
	node_worker_act_as(f->w, IDN_SLICE("88.900/boss"), 300);
	for (int i = 0; i < 3; i++)
		assert_int_equal(list(f), PROTO_RC_SUCCESS);
	assert_int_equal(
	    look(f, "88.900/boss", QUOTA_DAILY, "300:88.900/boss", QUOTA_GET, 0, 0).used, 3);
}

/* The sweep writes the counts once QUOTA_FLUSH_S passed; a crash after it loses nothing. */
static void test_daily_flush_by_sweep(void **state)
{
	struct fx *f = *state;
	f->cfg.quota_daily = 2;
	now_s = 1796680000u;
	start_node(f);
	assert_int_equal(list(f), PROTO_RC_SUCCESS);
	node_sweep(f->n); /* the first count: written at once */
	assert_int_equal(list(f), PROTO_RC_SUCCESS);
	node_sweep(f->n); /* within QUOTA_FLUSH_S of the last write: not yet */
	/* A node started now (as after kill -9) reads what the store holds. */
	node *n2;
	node_worker *w2;
	assert_int_equal(node_new(&f->cfg, f->s, &n2), IDN_OK);
	assert_int_equal(node_worker_new(n2, &w2), IDN_OK);
	node_quota_info in;
	char why[160];
	assert_int_equal(node_quota_admin(w2, IDN_SLICE("88.900/boss"), 300, QUOTA_DAILY,
	                                  IDN_SLICE("300:88.900/u"), QUOTA_GET, 0, &in, why,
	                                  sizeof(why)),
	                 IDN_OK);
	assert_int_equal(in.used, 1);
	now_s += QUOTA_FLUSH_S;
	node_sweep(f->n);
	assert_int_equal(node_quota_admin(w2, IDN_SLICE("88.900/boss"), 300, QUOTA_DAILY,
	                                  IDN_SLICE("300:88.900/u"), QUOTA_GET, 0, &in, why,
	                                  sizeof(why)),
	                 IDN_OK);
	assert_int_equal(in.used, 2);
	node_worker_free(w2);
	node_free(n2); /* (it counted nothing: it writes nothing) */
	assert_int_equal(list(f), PROTO_RC_IDIS_DAILY_LIMIT);
}

/* ---- identifiers under a prefix ---- */

static void test_identifiers(void **state)
{
	struct fx *f = *state;
	/* Three identifiers before any counter: the first counted write scans them. */
	url_record(f->s, "88.100.1/old-1");
	url_record(f->s, "88.100.1/old-2");
	url_record(f->s, "88.100.1/old-3");
	url_record(f->s, "88.100.10/not-under"); /* another prefix sharing the digits */
	f->cfg.quota_identifiers = 4;
	start_node(f);
	assert_false(
	    look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_GET, 0, 0).counted);
	/* Over the limit from the start: the refusal keeps the count it made (no scan again). */
	look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_SET, 2, 0);
	assert_int_equal(create(f, "88.100.1/new-0"), PROTO_RC_IDIS_HANDLE_LIMIT);
	node_quota_info in0 =
	    look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_GET, 0, 0);
	assert_true(in0.counted);
	assert_int_equal(in0.used, 3);
	assert_int_equal(del(f, "88.100.1/new-0"), PROTO_RC_HANDLE_NOT_FOUND);
	look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_UNSET, 0, 0);
	assert_int_equal(create(f, "88.100.1/new-1"), PROTO_RC_SUCCESS); /* the 4th */
	assert_int_equal(create(f, "88.100.1/new-2"), PROTO_RC_IDIS_HANDLE_LIMIT);
	assert_string_equal(f->msg, "quota: identifiers under prefix 88.100.1: limit 4 reached");
	node_quota_info in = look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_GET, 0, 0);
	assert_true(in.counted);
	assert_int_equal(in.used, 4);
	/* The refused create left nothing. */
	assert_int_equal(del(f, "88.100.1/new-2"), PROTO_RC_HANDLE_NOT_FOUND);
	assert_int_equal(del(f, "88.100.1/old-1"), PROTO_RC_SUCCESS);
	assert_int_equal(create(f, "88.100.1/new-2"), PROTO_RC_SUCCESS);
	/* Overwriting an existing handle adds none; the count stays exact. */
	assert_int_equal(create(f, "88.100.1/new-2"), PROTO_RC_HANDLE_ALREADY_EXISTS);
	assert_int_equal(run_flags(f, PROTO_OP_CREATE_HANDLE, "88.100.1/new-2", true, PROTO_F_OVRW),
	                 PROTO_RC_SUCCESS);
	assert_int_equal(
	    look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_GET, 0, 0).used, 4);
	/* ID-SDK's codes: 2 ERROR with the same message, after a restart. */
	stop_node(f);
	f->cfg.codes = NODE_CODES_IDS;
	start_node(f);
	assert_int_equal(create(f, "88.100.1/new-3"), PROTO_RC_ERROR);
	assert_string_equal(f->msg, "quota: identifiers under prefix 88.100.1: limit 4 reached");
}

/* Group commit: each request in a nested transaction; a refusal undoes only its own. */
static void test_identifiers_group_commit(void **state)
{
	struct fx *f = *state;
	url_record(f->s, "88.100.1/old-1");
	f->cfg.quota_identifiers = 3;
	start_node(f);
	node_worker_group(f->w, true);
	assert_int_equal(create(f, "88.100.1/g1"), PROTO_RC_SUCCESS);
	assert_int_equal(create(f, "88.100.1/g2"), PROTO_RC_SUCCESS);
	assert_int_equal(create(f, "88.100.1/g3"), PROTO_RC_IDIS_HANDLE_LIMIT);
	assert_int_equal(del(f, "88.100.1/g1"), PROTO_RC_SUCCESS);
	assert_int_equal(create(f, "88.100.1/g3"), PROTO_RC_SUCCESS);
	assert_int_equal(node_worker_commit(f->w), IDN_OK);
	node_worker_group(f->w, false);
	node_quota_info in = look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_GET, 0, 0);
	assert_int_equal(in.used, 3);
	assert_int_equal(create(f, "88.100.1/g4"), PROTO_RC_IDIS_HANDLE_LIMIT);
	assert_int_equal(del(f, "88.100.1/g2"), PROTO_RC_SUCCESS);
	assert_int_equal(del(f, "88.100.1/g1"), PROTO_RC_HANDLE_NOT_FOUND);
}

/* ---- child prefixes ---- */

static void test_child_prefixes(void **state)
{
	struct fx *f = *state;
	url_record(f->s, "0.NA/88.100.1.1");   /* a child before any counter */
	url_record(f->s, "0.NA/88.100.1.1.5"); /* a grandchild: not counted */
	home(f->s, "88.100.1.1");              /* the same child homed: counted once */
	f->cfg.quota_children = 3;
	start_node(f);
	assert_int_equal(create(f, "0.NA/88.100.1.2"), PROTO_RC_SUCCESS);
	node_worker_act_as(f->w, IDN_SLICE("88.900/boss"), 300);
	assert_int_equal(run(f, PROTO_OP_HOME_NA, "0.NA/88.100.1.3", false), PROTO_RC_SUCCESS);
	assert_int_equal(run(f, PROTO_OP_HOME_NA, "0.NA/88.100.1.4", false),
	                 PROTO_RC_IDIS_PREFIX_LIMIT);
	assert_string_equal(f->msg, "quota: child prefixes of 88.100.1: limit 3 reached");
	node_worker_act_as(f->w, IDN_SLICE("88.900/u"), 300);
	assert_int_equal(create(f, "0.NA/88.100.1.4"), PROTO_RC_IDIS_PREFIX_LIMIT);
	/* The record of a homed child: no new child. */
	assert_int_equal(create(f, "0.NA/88.100.1.3"), PROTO_RC_SUCCESS);
	/* Its record deleted, the child still homed: still counted. */
	assert_int_equal(del(f, "0.NA/88.100.1.3"), PROTO_RC_SUCCESS);
	assert_int_equal(create(f, "0.NA/88.100.1.4"), PROTO_RC_IDIS_PREFIX_LIMIT);
	/* Unhomed too: room again. */
	node_worker_act_as(f->w, IDN_SLICE("88.900/boss"), 300);
	assert_int_equal(run(f, PROTO_OP_UNHOME_NA, "0.NA/88.100.1.3", false), PROTO_RC_SUCCESS);
	node_worker_act_as(f->w, IDN_SLICE("88.900/u"), 300);
	assert_int_equal(create(f, "0.NA/88.100.1.4"), PROTO_RC_SUCCESS);
	assert_int_equal(
	    look(f, "88.900/boss", QUOTA_CHILDREN, "0.NA/88.100.1", QUOTA_GET, 0, 0).used, 3);
	/* A parent this node does not know (not homed, no 0.NA record) is not counted. */
	for (int i = 1; i <= 4; i++) {
		char p[32];
		snprintf(p, sizeof(p), "0.NA/88.777.%d", i);
		node_worker_act_as(f->w, IDN_SLICE("88.900/boss"), 300);
		assert_int_equal(run(f, PROTO_OP_HOME_NA, p, false), PROTO_RC_SUCCESS);
		node_worker_act_as(f->w, IDN_SLICE("88.900/u"), 300);
	}
	assert_false(look(f, "88.900/boss", QUOTA_CHILDREN, "88.777", QUOTA_GET, 0, 0).counted);
	/* 0.NA records are prefixes, not identifiers of the prefix 0.NA. */
	assert_false(look(f, "88.900/boss", QUOTA_IDENTIFIERS, "0.NA", QUOTA_GET, 0, 0).counted);
}

/* ---- a node admin's changes ---- */

static void test_admin_changes(void **state)
{
	struct fx *f = *state;
	f->cfg.quota_identifiers = 1;
	f->cfg.quota_daily = 100;
	start_node(f);
	/* Not a node admin: refused, nothing read or changed. */
	look(f, "88.900/u", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_SET, 9, QUOTA_NOT_ADMIN);
	look(f, "88.900/u", QUOTA_DAILY, "300:88.900/u", QUOTA_GET, 0, QUOTA_NOT_ADMIN);
	/* Malformed keys. */
	look(f, "88.900/boss", QUOTA_DAILY, "88.900/u", QUOTA_GET, 0, IDN_EINVAL);
	look(f, "88.900/boss", QUOTA_DAILY, "-1:88.900/u", QUOTA_GET, 0, IDN_EINVAL);
	look(f, "88.900/boss", QUOTA_DAILY, "300:no-slash", QUOTA_GET, 0, IDN_EINVAL);
	look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1/x", QUOTA_GET, 0, IDN_EINVAL);
	look(f, "88.900/boss", QUOTA_IDENTIFIERS, "", QUOTA_GET, 0, IDN_EINVAL);
	assert_int_equal(create(f, "88.100.1/a"), PROTO_RC_SUCCESS);
	assert_int_equal(create(f, "88.100.1/b"), PROTO_RC_IDIS_HANDLE_LIMIT);
	node_quota_info in = look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_SET, 2, 0);
	assert_true(in.override);
	assert_int_equal(in.limit, 2);
	assert_int_equal(in.dflt, 1);
	assert_string_equal(in.key, "88.100.1");
	assert_int_equal(create(f, "88.100.1/b"), PROTO_RC_SUCCESS);
	assert_int_equal(create(f, "88.100.1/c"), PROTO_RC_IDIS_HANDLE_LIMIT);
	/* 0: no limit for this prefix, whatever the default. */
	look(f, "88.900/boss", QUOTA_IDENTIFIERS, "0.NA/88.100.1", QUOTA_SET, 0, 0);
	assert_int_equal(create(f, "88.100.1/c"), PROTO_RC_SUCCESS);
	/* Back to the default; the count kept all along. */
	in = look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_UNSET, 0, 0);
	assert_false(in.override);
	assert_int_equal(in.limit, 1);
	assert_int_equal(in.used, 3);
	/* A daily override reaches requests already counted (a cached limit is read again). */
	assert_int_equal(list(f), PROTO_RC_SUCCESS);
	look(f, "88.900/boss", QUOTA_DAILY, "300:88.900/u", QUOTA_SET, 6, 0);
	in = look(f, "88.900/boss", QUOTA_DAILY, "300:88.900/u", QUOTA_GET, 0, 0);
	assert_int_equal(in.used, 6); /* 5 creates (2 refused by their quota) and a list */
	assert_int_equal(in.resets, (now_s / DAY + 1) * DAY);
	assert_int_equal(list(f), PROTO_RC_IDIS_DAILY_LIMIT);
	/* A new default (SIGHUP) reaches keys without an override, counted ones too. */
	look(f, "88.900/boss", QUOTA_DAILY, "300:88.900/u", QUOTA_UNSET, 0, 0);
	assert_int_equal(list(f), PROTO_RC_SUCCESS); /* the 7th of 100 */
	node_quota_set_defaults(f->n, 7, 1, 0);      /* the 8th is one too many */
	assert_int_equal(list(f), PROTO_RC_IDIS_DAILY_LIMIT);
	in = look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_GET, 0, 0);
	assert_int_equal(in.dflt, 1);
	node_quota_set_defaults(f->n, 100, 1, 0);
	assert_int_equal(list(f), PROTO_RC_SUCCESS);
	look(f, "88.900/boss", QUOTA_DAILY, "300:88.900/u", QUOTA_SET, 6, 0);
	/* Overrides are in the store: a restart keeps them. */
	stop_node(f);
	start_node(f);
	assert_int_equal(list(f), PROTO_RC_IDIS_DAILY_LIMIT);
	assert_int_equal(look(f, "88.900/boss", QUOTA_DAILY, "300:88.900/u", QUOTA_GET, 0, 0).limit,
	                 6);
}

/* Records written beneath the counters (a bulk load): a recount makes the count exact again. */
static void test_recount(void **state)
{
	struct fx *f = *state;
	f->cfg.quota_identifiers = 10;
	f->cfg.quota_children = 10;
	start_node(f);
	assert_int_equal(create(f, "88.100.1/a"), PROTO_RC_SUCCESS);
	assert_int_equal(create(f, "0.NA/88.100.1.1"), PROTO_RC_SUCCESS);
	url_record(f->s, "88.100.1/loaded-1");
	url_record(f->s, "88.100.1/loaded-2");
	url_record(f->s, "0.NA/88.100.1.2");
	home(f->s, "88.100.1.3");
	assert_int_equal(
	    look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_GET, 0, 0).used, 1);
	look(f, "88.900/u", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_RECOUNT, 0, QUOTA_NOT_ADMIN);
	node_quota_info in =
	    look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.100.1", QUOTA_RECOUNT, 0, 0);
	assert_int_equal(in.used, 3);
	in = look(f, "88.900/boss", QUOTA_CHILDREN, "88.100.1", QUOTA_RECOUNT, 0, 0);
	assert_int_equal(in.used, 3);
	look(f, "88.900/boss", QUOTA_DAILY, "300:88.900/u", QUOTA_RECOUNT, 0, IDN_EINVAL);
	/* A recount is a count like the first: a prefix never counted gets one. */
	in = look(f, "88.900/boss", QUOTA_IDENTIFIERS, "88.999", QUOTA_RECOUNT, 0, 0);
	assert_true(in.counted);
	assert_int_equal(in.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_daily_limit_and_new_day, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_daily_codes_and_admins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_daily_flush_by_sweep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identifiers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identifiers_group_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_child_prefixes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admin_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recount, setup, teardown),
	};
	pg_db_name = "idn_quota";
	int fails = cmocka_run_group_tests_name("quota/lmdb", tests, NULL, NULL);
	pg_base = getenv("IDN_TEST_PG");
	if (!pg_base || !*pg_base) {
		printf("SKIP quota/postgresql: IDN_TEST_PG is not set (scripts/pg.sh start)\n");
		return fails;
	}
	return fails + cmocka_run_group_tests_name("quota/postgresql", tests, pg_group_setup,
	                                           pg_group_teardown);
}
