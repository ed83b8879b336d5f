/*
 * test_referral.c - prefix referrals (303), the recursion limit and the split
 * of a multi-server site, through node_answer() on a real LMDB store.
 *
 * The store holds 0.NA/88.1000 exactly as the reference's x61 answer shows it
 * (HS_SITE and HS_SITE.PREFIX, both public); x72's captured request must get
 * x73's bytes (the 303 the 9.3.1 server code builds), byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/handle.h"
#include "node/node.h"
#include "proto/record.h"
#include "node/referral.h"
#include "proto/admin.h"
#include "proto/reserved.h"
#include "vectors.h"

static char tmpdir[] = "/tmp/idn-ref-XXXXXX";
static store *st;
static uint32_t pinned_now = 1700000000;
static uint8_t out[PROTO_ENV_LEN + PROTO_MSG_MAX];

static uint32_t test_clock(void)
{
	return pinned_now;
}

static void put_record(const char *key, const proto_value *vals, uint32_t n)
{
	static uint8_t rec[65536];
	int len = record_build(vals, n, rec, sizeof(rec));
	assert_true(len > 0);
	store_txn *t;
	assert_int_equal(store_txn_begin(st, 0, &t), 0);
	assert_int_equal(
	    store_put(t, idn_slice_of(key, strlen(key)), idn_slice_of(rec, (size_t)len), 0), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static void home(const char *prefix)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(st, 0, &t), 0);
	assert_int_equal(store_home(t, idn_slice_of(prefix, strlen(prefix))), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

/* Seeds key with the values of a captured resolution answer. */
static void seed_from(const char *vec, const char *key)
{
	const struct tvec *ans = tvec_find(vec);
	assert_non_null(ans);
	proto_msg m;
	proto_resolve_resp rr;
	assert_int_equal(proto_msg_decode(ans->bytes + PROTO_ENV_LEN, ans->len - PROTO_ENV_LEN, &m),
	                 0);
	assert_int_equal(proto_resolve_resp_decode(m.body, &rr), 0);
	proto_value vals[16];
	assert_true(rr.nvalues <= 16);
	wire_rd c = wire_rd_init(rr.values.p, rr.values.len);
	for (uint32_t i = 0; i < rr.nvalues; i++)
		proto_value_get(&c, &vals[i]);
	assert_int_equal(c.err, 0);
	put_record(key, vals, rr.nvalues);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	store_opts so = {.no_sync = 1};
	assert_int_equal(store_open(tmpdir, &so, &st), 0);
	home("88.1000");
	home("0.NA");
	seed_from("x61-prefix-0NA-tcp-raw/02-response", "0.NA/88.1000");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* A node over the shared store; site may be empty. */
static void node_up(node **n, node_worker **w, idn_slice site, uint32_t server_id)
{
	node_config cfg;
	node_config_init(&cfg);
	cfg.case_sensitive = false;
	cfg.clock = test_clock;
	cfg.site_info = site;
	cfg.server_id = server_id;
	assert_int_equal(node_new(&cfg, st, n), 0);
	assert_int_equal(node_worker_new(*n, w), 0);
}

static void node_down(node *n, node_worker *w)
{
	node_worker_free(w);
	node_free(n);
}

/* Sends a resolution request for handle with flags and recursion; returns the answer's rc. */
static uint32_t resolve(node_worker *w, const char *handle, uint32_t flags, uint8_t recursion,
                        proto_msg *m)
{
	uint8_t req[4096];
	proto_env env = {.major = 2, .minor = 5, .request_id = 77};
	proto_hdr hdr = {.opcode = PROTO_OP_RESOLUTION,
	                 .flags = flags,
	                 .site_serial = 0xFFFF,
	                 .recursion = recursion};
	proto_build b;
	proto_build_begin(&b, req, sizeof(req), &env, &hdr);
	proto_resolve_req_encode(&b.w, idn_slice_of(handle, strlen(handle)), NULL, 0, NULL, 0);
	int len = proto_build_end(&b, NULL, 0);
	assert_true(len > 0);
	int n = node_answer(w, NODE_UDP, req, (size_t)len, out, sizeof(out));
	assert_true(n > PROTO_ENV_LEN + PROTO_HDR_LEN);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, m), 0);
	return m->hdr.rcode;
}

/* x72's request gets x73's answer, byte for byte. */
static void test_x73_replay(void **state)
{
	(void)state;
	node *n;
	node_worker *w;
	node_up(&n, &w, (idn_slice){0}, 0);
	const struct tvec *req = tvec_find("x72-derived-prefix-0NA-udp-raw/01-request");
	const struct tvec *ref = tvec_find("x73-synthetic-prefix-referral-303/01-response");
	assert_non_null(req);
	assert_non_null(ref);
	assert_true(ref->synthetic);
	/* x73's expiration was copied from the request; our answers stamp now + 12 h. */
	pinned_now = idn_be32(ref->bytes + PROTO_ENV_LEN + 16) - 43200;
	int len = node_answer(w, NODE_UDP, req->bytes, req->len, out, sizeof(out));
	assert_int_equal(len, (int)ref->len);
	for (size_t i = 0; i < ref->len; i++)
		if (out[i] != ref->bytes[i])
			fail_msg("x73: first difference at byte %zu: %02x vs %02x", i, out[i],
			         ref->bytes[i]);
	node_down(n, w);
}

/* Only HS_SITE.PREFIX is carried (not HS_SITE), and DNRF turns the referral off. */
static void test_referral_values_and_dnrf(void **state)
{
	(void)state;
	node *n;
	node_worker *w;
	node_up(&n, &w, (idn_slice){0}, 0);
	proto_msg m;

	/* Two levels below the delegating ancestor: 88.1000.5 is missing too. */
	assert_int_equal(resolve(w, "0.NA/88.1000.5.7", 0, 0, &m), PROTO_RC_PREFIX_REFERRAL);
	proto_resolve_resp rr;
	assert_int_equal(proto_referral_decode(m.body, &rr), 0);
	assert_int_equal(rr.handle.len, 0);
	assert_int_equal(rr.nvalues, 1);
	proto_value v;
	wire_rd c = wire_rd_init(rr.values.p, rr.values.len);
	proto_value_get(&c, &v);
	assert_int_equal(c.err, 0);
	assert_int_equal(v.index, 2);
	assert_memory_equal(v.type.p, "HS_SITE.PREFIX", 14);

	assert_int_equal(resolve(w, "0.NA/88.1000.5", PROTO_F_DNRF, 0, &m),
	                 PROTO_RC_HANDLE_NOT_FOUND);
	/* A handle under a derived prefix not homed here: 303 (x70 in 9.x), DNRF 301 (x71). */
	assert_int_equal(resolve(w, "88.1000.5/x", 0, 0, &m), PROTO_RC_PREFIX_REFERRAL);
	assert_int_equal(resolve(w, "88.1000.5/x", PROTO_F_DNRF, 0, &m), PROTO_RC_SERVER_NOT_RESP);
	/* No ancestor delegates: 100 for a prefix handle, 301 for another prefix. */
	assert_int_equal(resolve(w, "0.NA/77.5", 0, 0, &m), PROTO_RC_HANDLE_NOT_FOUND);
	assert_int_equal(resolve(w, "77.5/x", 0, 0, &m), PROTO_RC_SERVER_NOT_RESP);
	/* The prefix record itself exists: no referral (the client follows 0.NA/88.1000). */
	assert_int_equal(resolve(w, "0.NA/88.1000", 0, 0, &m), PROTO_RC_SUCCESS);
	node_down(n, w);
}

/* An ancestor whose HS_SITE.PREFIX is not public, or that has none, is passed over. */
static void test_walk_skips_private_and_plain(void **state)
{
	(void)state;
	static const uint8_t site[] = {0, 1, 2, 5, 0, 1, 0x80, 0, 0, 0,
	                               0, 0, 0, 0, 0, 0, 0,    0, 0, 0};
	proto_value priv = {.index = 2,
	                    .ttl = 86400,
	                    .perms = PROTO_PERM_ADMIN_READ,
	                    .type = IDN_SLICE("HS_SITE.PREFIX"),
	                    .data = idn_slice_of(site, sizeof(site))};
	put_record("0.NA/66.1", &priv, 1);
	proto_value plain = {.index = 1,
	                     .ttl = 86400,
	                     .perms = PROTO_PERM_PUBLIC_READ,
	                     .type = IDN_SLICE("URL"),
	                     .data = IDN_SLICE("http://x")};
	put_record("0.NA/66.1.2", &plain, 1);
	proto_value pub = priv;
	pub.perms = PROTO_PERM_PUBLIC_READ;
	pub.type = IDN_SLICE("HS_SERV.PREFIX");
	pub.data = IDN_SLICE("0.SERV/66");
	put_record("0.NA/66", &pub, 1);

	node *n;
	node_worker *w;
	node_up(&n, &w, (idn_slice){0}, 0);
	proto_msg m;
	assert_int_equal(resolve(w, "0.NA/66.1.2.3", 0, 0, &m), PROTO_RC_PREFIX_REFERRAL);
	proto_resolve_resp rr;
	assert_int_equal(proto_referral_decode(m.body, &rr), 0);
	assert_int_equal(rr.nvalues, 1);
	proto_value v;
	wire_rd c = wire_rd_init(rr.values.p, rr.values.len);
	proto_value_get(&c, &v);
	assert_int_equal(c.err, 0);
	assert_memory_equal(v.type.p, "HS_SERV.PREFIX", 14);
	assert_memory_equal(v.data.p, "0.SERV/66", 9);
	node_down(n, w);
}

static void test_recursion_limit(void **state)
{
	(void)state;
	node *n;
	node_worker *w;
	node_up(&n, &w, (idn_slice){0}, 0);
	proto_msg m;
	assert_int_equal(resolve(w, "0.NA/88.1000", 0, 40, &m), PROTO_RC_SUCCESS);
	assert_int_equal(resolve(w, "0.NA/88.1000", 0, 41, &m), PROTO_RC_RECURSION_COUNT_TOO_HIGH);
	node_down(n, w);
}

/* A site of three servers: each answers its share and 301 for the rest. */
static void test_multi_server_split(void **state)
{
	(void)state;
	static const proto_iface ifs[] = {{PROTO_IF_BOTH, PROTO_IF_UDP, 2641},
	                                  {PROTO_IF_BOTH, PROTO_IF_TCP, 2641}};
	proto_server_desc srv[3];
	memset(srv, 0, sizeof(srv));
	for (int i = 0; i < 3; i++) {
		srv[i].id = (uint32_t)(10 + i);
		srv[i].addr[15] = (uint8_t)(i + 1);
		srv[i].ifaces = ifs;
		srv[i].nifaces = 2;
	}
	proto_site_desc d = {.major = 2,
	                     .minor = 11,
	                     .serial = 1,
	                     .flags = PROTO_SITE_PRIMARY,
	                     .hash_opt = PROTO_SITE_HASH_ALL,
	                     .servers = srv,
	                     .nservers = 3};
	uint8_t sitebuf[1024];
	wire_wr sw = wire_wr_init(sitebuf, sizeof(sitebuf));
	proto_site_put(&sw, &d);
	assert_int_equal(sw.err, 0);
	idn_slice site = idn_slice_of(sitebuf, wire_wr_len(&sw));

	proto_value url = {.index = 1,
	                   .ttl = 86400,
	                   .perms = PROTO_PERM_PUBLIC_READ | PROTO_PERM_ADMIN_WRITE,
	                   .type = IDN_SLICE("URL"),
	                   .data = IDN_SLICE("http://example.com/")};
	char key[64];
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "88.1000/SPLIT-%d", i);
		put_record(key, &url, 1);
	}
	node *n[3];
	node_worker *w[3];
	for (int s = 0; s < 3; s++)
		node_up(&n[s], &w[s], site, (uint32_t)(10 + s));
	int per_server[3] = {0};
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "88.1000/SPLIT-%d", i);
		int want =
		    proto_site_server_index(idn_slice_of(key, strlen(key)), PROTO_SITE_HASH_ALL, 3);
		assert_true(want >= 0 && want < 3);
		for (int s = 0; s < 3; s++) {
			proto_msg m;
			uint32_t rc = resolve(w[s], key, 0, 0, &m);
			assert_int_equal(rc,
			                 s == want ? PROTO_RC_SUCCESS : PROTO_RC_SERVER_NOT_RESP);
		}
		per_server[want]++;
	}
	/* 30 handles over 3 servers: each gets some (else the split is not exercised). */
	for (int s = 0; s < 3; s++)
		assert_true(per_server[s] > 0);
	for (int s = 0; s < 3; s++)
		node_down(n[s], w[s]);

	/* A server id the site does not list answers for everything. */
	node *lone;
	node_worker *lw;
	node_up(&lone, &lw, site, 99);
	proto_msg m;
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "88.1000/SPLIT-%d", i);
		assert_int_equal(resolve(lw, key, 0, 0, &m), PROTO_RC_SUCCESS);
	}
	node_down(lone, lw);
}

/*
 * Whether a prefix is homed is kept for the rest of a read snapshot
 * (resolve.c's homed_memo), never past it: a request on a snapshot of its
 * own, or after a write ended the batch's (write_begin), sees the prefix
 * homed by another writer in between.
 */
static void test_homed_memo_follows_snapshot(void **state)
{
	(void)state;
	node *n;
	node_worker *w;
	node_up(&n, &w, (idn_slice){0}, 0);
	proto_msg m;

	/* Requests on their own snapshots (no batch). */
	assert_int_equal(resolve(w, "61.9/x", 0, 0, &m), PROTO_RC_SERVER_NOT_RESP);
	home("61.9");
	assert_int_equal(resolve(w, "61.9/x", 0, 0, &m), PROTO_RC_HANDLE_NOT_FOUND);

	/* In a batch whose snapshot a write ended (as write_begin does). */
	node_worker_begin(w);
	assert_int_equal(resolve(w, "62.9/x", 0, 0, &m), PROTO_RC_SERVER_NOT_RESP);
	node_worker_end(w);
	home("62.9");
	assert_int_equal(resolve(w, "62.9/x", 0, 0, &m), PROTO_RC_HANDLE_NOT_FOUND);
	node_worker_end(w);

	/* Within one snapshot the answer is the snapshot's. */
	node_worker_begin(w);
	assert_int_equal(resolve(w, "63.9/x", 0, 0, &m), PROTO_RC_SERVER_NOT_RESP);
	home("63.9");
	assert_int_equal(resolve(w, "63.9/x", 0, 0, &m), PROTO_RC_SERVER_NOT_RESP);
	node_worker_end(w);
	assert_int_equal(resolve(w, "63.9/x", 0, 0, &m), PROTO_RC_HANDLE_NOT_FOUND);
	node_down(n, w);
}

/*
 * Held snapshots (node_worker_hold, the HTTP API's one per turn): a request's
 * snapshot stays for the next ones, but a commit of this process in between
 * (here another txn on the store, as another thread's write) is seen by the
 * very next request; node_worker_end lets it go.
 */
static void test_held_snapshot_follows_commits(void **state)
{
	(void)state;
	node *n;
	node_worker *w;
	node_up(&n, &w, (idn_slice){0}, 0);
	proto_msg m;

	assert_int_equal(node_worker_read(w), 1); /* not holding: the caller's own */
	node_worker_end(w);
	node_worker_hold(w, true);
	assert_int_equal(resolve(w, "64.9/x", 0, 0, &m), PROTO_RC_SERVER_NOT_RESP);
	assert_int_equal(node_worker_read(w), 0); /* held from the request before */
	home("64.9");
	assert_int_equal(resolve(w, "64.9/x", 0, 0, &m), PROTO_RC_HANDLE_NOT_FOUND);
	home("65.9");
	assert_int_equal(resolve(w, "65.9/x", 0, 0, &m), PROTO_RC_HANDLE_NOT_FOUND);
	node_worker_end(w);                       /* the turn's end */
	assert_int_equal(node_worker_read(w), 0); /* taken and held again */
	node_worker_hold(w, false);
	assert_int_equal(node_worker_read(w), 1);
	node_worker_end(w);
	node_down(n, w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_x73_replay),
	    cmocka_unit_test(test_referral_values_and_dnrf),
	    cmocka_unit_test(test_walk_skips_private_and_plain),
	    cmocka_unit_test(test_recursion_limit),
	    cmocka_unit_test(test_multi_server_split),
	    cmocka_unit_test(test_homed_memo_follows_snapshot),
	    cmocka_unit_test(test_held_snapshot_follows_commits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
