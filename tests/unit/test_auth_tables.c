/*
 * test_auth_tables.c - the bounded tables of the authentication path, with
 * an injected clock:
 *  - failed logins (node/login_guard.h): the free failures, the doubling
 *    back-off and its cap, per (account, address) so another address is not
 *    locked out, the address's own higher threshold, success and forgetting,
 *    and a fixed-size table under a flood of keys;
 *  - pending challenges (node/admin.h) through node_answer(): bounded in
 *    bytes, a source over its share loses its own oldest, one client's
 *    challenge outlives a flood from another source, expired ones freed by
 *    node_sweep() without any further request;
 *  - sessions (node/session_table.h): setups not authenticated never evict an
 *    authenticated session, have their own bound and a per-source share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "node/admin.h"
#include "node/internal.h"
#include "node/login_guard.h"
#include "node/session_table.h"
#include "proto/admin.h"
#include "proto/proto.h"

static node_source src_of(const char *ip)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	node_source s;
	node_source_of((const struct sockaddr *)&a, sizeof(a), &s);
	assert_true(s.known);
	return s;
}

/* ---- failed logins ---- */

static void test_login_backoff(void **state)
{
	(void)state;
	login_guard *g;
	login_guard_cfg cfg = {.entries = 1024, .free_failures = 5, .backoff_max_ms = 8000};
	assert_int_equal(login_guard_new(&cfg, &g), 0);
	node_source a = src_of("192.0.2.1"), b = src_of("192.0.2.2");
	uint64_t acct = login_account(IDN_SLICE("88.1/admin"), 300);
	uint64_t other = login_account(IDN_SLICE("88.1/other"), 300);
	assert_int_not_equal(acct, other);
	int64_t now = 1000000;
	/* Someone else behind a logs in as "trusted" first. */
	uint64_t trusted = login_account(IDN_SLICE("88.1/trusted"), 300);
	login_guard_succeeded(g, &a, trusted, now);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(login_guard_wait(g, &a, acct, now), 0);
		login_guard_failed(g, &a, acct, now);
	}
	assert_int_equal(login_guard_wait(g, &a, acct, now), 0); /* five were free */
	/* Each further failure doubles the wait: 1, 2, 4, 8 s, then the 8 s cap. */
	int64_t want[] = {1000, 2000, 4000, 8000, 8000, 8000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		login_guard_failed(g, &a, acct, now);
		assert_int_equal(login_guard_wait(g, &a, acct, now), want[i]);
		assert_int_equal(login_guard_wait(g, &a, acct, now + want[i] - 1), 1);
		/* The owner at another address is not held back. */
		assert_int_equal(login_guard_wait(g, &b, acct, now), 0);
		now += want[i];
		assert_int_equal(login_guard_wait(g, &a, acct, now), 0);
	}
	/* 11 failures from a: another account from a is not slowed yet (20 for the address). */
	assert_int_equal(login_guard_wait(g, &a, other, now), 0);
	for (int i = 0; i < 10; i++)
		login_guard_failed(g, &a, other, now);
	/* 21 failures from a in all: any account from a waits now. */
	assert_true(login_guard_wait(g, &a, other, now) > 0);
	assert_true(login_guard_wait(g, &a, login_account(IDN_SLICE("x/y"), 1), now) > 0);
	assert_int_equal(login_guard_wait(g, &b, other, now), 0);
	/* ... but not the account that logged in from a: only its own failures count. */
	assert_int_equal(login_guard_wait(g, &a, trusted, now), 0);
	for (int i = 0; i < 5; i++)
		login_guard_failed(g, &a, trusted, now);
	assert_true(login_guard_wait(g, &a, trusted, now) > 0);
	/* A success clears the pair (the address's count decays on its own). */
	login_guard_succeeded(g, &b, acct, now);
	now += 8000;
	login_guard_succeeded(g, &a, acct, now);
	login_guard_failed(g, &a, acct, now);
	assert_true(login_guard_wait(g, &a, acct, now) > 0); /* the address is past 20 */
	/* Forgotten after ten minutes without a failure. */
	now += 600001;
	assert_int_equal(login_guard_wait(g, &a, acct, now), 0);
	assert_int_equal(login_guard_wait(g, &a, other, now), 0);
	login_guard_failed(g, &a, acct, now);
	assert_int_equal(login_guard_wait(g, &a, acct, now), 0);
	login_guard_free(g);
}

static void test_login_table_bounded(void **state)
{
	(void)state;
	login_guard *g;
	login_guard_cfg cfg = {.entries = 64, .free_failures = 1, .backoff_max_ms = 60000};
	assert_int_equal(login_guard_new(&cfg, &g), 0);
	uint64_t acct = login_account(IDN_SLICE("88.1/admin"), 300);
	int64_t now = 5000;
	/* 20,000 keys through a table of 64 entries: each new one takes a set's stalest. */
	char ip[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		node_source s = src_of(ip);
		now++;
		login_guard_failed(g, &s, acct, now);
		login_guard_failed(g, &s, acct, now);
		assert_true(login_guard_wait(g, &s, acct, now) > 0);
	}
	/* The table still counts a new key from its first failure. */
	node_source z = src_of("198.51.100.7");
	assert_int_equal(login_guard_wait(g, &z, acct, now), 0);
	login_guard_failed(g, &z, acct, now + 1);
	login_guard_failed(g, &z, acct, now + 1);
	assert_int_equal(login_guard_wait(g, &z, acct, now + 1), 1000);
	login_guard_free(g);
}

/* ---- pending challenges, through node_answer ---- */

static char tmpdir[] = "/tmp/idn-auth-tables-XXXXXX";
static store *st;
static node *nd;
static node_worker *wk;
static uint32_t pinned_now = 1700000000;
static uint8_t out[PROTO_ENV_LEN + PROTO_MSG_MAX];
static uint8_t reqbuf[PROTO_ENV_LEN + PROTO_MSG_MAX];

static uint32_t test_clock(void)
{
	return pinned_now;
}

enum { BIG = 100000, PER_SOURCE = 4, MAX_AUTH = 30 };

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	store_opts so = {.no_sync = 1};
	assert_int_equal(store_open(tmpdir, &so, &st), 0);
	store_txn *t;
	assert_int_equal(store_txn_begin(st, 0, &t), 0);
	assert_int_equal(store_home(t, IDN_SLICE("88.1")), 0);
	assert_int_equal(store_txn_commit(t), 0);
	node_config cfg;
	node_config_init(&cfg);
	cfg.clock = test_clock;
	cfg.max_auth_time = MAX_AUTH;
	cfg.max_pending_auth = 64;
	cfg.pending_auth_bytes = 600000; /* room for five BIG requests */
	cfg.pending_auth_per_source = PER_SOURCE;
	assert_int_equal(node_new(&cfg, st, &nd), 0);
	assert_int_equal(node_worker_new(nd, &wk), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	node_worker_free(wk);
	node_free(nd);
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static uint32_t rcode(const uint8_t *ans)
{
	return idn_be32(ans + PROTO_ENV_LEN + 4);
}

static size_t build(uint32_t op, uint32_t sid, const uint8_t *body, size_t blen)
{
	proto_env env = {.major = 2, .minor = 11, .session_id = sid, .request_id = 7};
	proto_hdr hdr = {.opcode = op, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, reqbuf, sizeof(reqbuf), &env, &hdr);
	wire_put_data(&b.w, body, blen);
	int n = proto_build_end(&b, NULL, 0);
	assert_true(n > 0);
	return (size_t)n;
}

/* A create with a value of len bytes from ip: its 402's session id. */
static uint32_t challenged_create(const char *ip, size_t len)
{
	static uint8_t data[BIG], body[BIG + 512];
	memset(data, 'x', len);
	wire_wr w = wire_wr_init(body, sizeof(body));
	proto_value v = {
	    .index = 1, .perms = 0x0e, .type = IDN_SLICE("URL"), .data = idn_slice_of(data, len)};
	proto_values_req_encode(&w, IDN_SLICE("88.1/x"), &v, 1);
	size_t n = build(PROTO_OP_CREATE_HANDLE, 0, body, wire_wr_len(&w));
	node_source s = src_of(ip);
	struct sockaddr_in a = {.sin_family = AF_INET};
	memcpy(&a.sin_addr, s.addr + 12, 4);
	node_worker_source(wk, (const struct sockaddr *)&a, sizeof(a));
	int k = node_answer(wk, NODE_TCP, reqbuf, n, out, sizeof(out));
	assert_true(k > 0);
	assert_int_equal(rcode(out), PROTO_RC_AUTHENTICATION_NEEDED);
	return idn_be32(out + 4);
}

/*
 * Whether the challenge sid is still held: an op 200 with a wrong secret
 * finds it (403) or does not (500). It takes it out either way.
 */
static bool held(uint32_t sid)
{
	uint8_t body[256], mac[33] = {PROTO_SECKEY_HMAC_SHA256};
	wire_wr w = wire_wr_init(body, sizeof(body));
	proto_chresp cr = {.auth_type = IDN_SLICE("HS_SECKEY"),
	                   .handle = IDN_SLICE("88.1/nobody"),
	                   .index = 300,
	                   .signed_resp = idn_slice_of(mac, sizeof(mac))};
	proto_chresp_encode(&w, &cr);
	size_t n = build(PROTO_OP_CHALLENGE_RESPONSE, sid, body, wire_wr_len(&w));
	node_worker_source(wk, NULL, 0); /* (no failed login counted against a source) */
	int k = node_answer(wk, NODE_TCP, reqbuf, n, out, sizeof(out));
	assert_true(k > 0);
	assert_true(rcode(out) == PROTO_RC_AUTHENTICATION_FAILED ||
	            rcode(out) == PROTO_RC_SESSION_TIMEOUT);
	return rcode(out) == PROTO_RC_AUTHENTICATION_FAILED;
}

static void test_pending_bounded(void **state)
{
	(void)state;
	node_admin *a = nd->admin;
	/* One client's small challenge, then a flood of big ones from two others. */
	uint32_t mine = challenged_create("192.0.2.1", 100);
	uint32_t first_flood = challenged_create("192.0.2.66", BIG);
	size_t most = 0;
	for (int i = 0; i < 200; i++) {
		challenged_create(i % 2 ? "192.0.2.66" : "192.0.2.77", BIG);
		size_t b = node_admin_pending_bytes(a);
		most = b > most ? b : most;
	}
	assert_true(most <= 600000);
	assert_true(most > 400000);
	/* The flood gave way to itself: its first challenge is gone, the client's is held. */
	assert_false(held(first_flood));
	assert_true(held(mine));
	/* A source over its share loses its own oldest first, even with bytes to spare. */
	pinned_now += MAX_AUTH + 1;
	node_sweep(nd);
	assert_int_equal(node_admin_pending_bytes(a), 0);
	uint32_t ids[PER_SOURCE + 1];
	for (int i = 0; i <= PER_SOURCE; i++)
		ids[i] = challenged_create("192.0.2.9", 50);
	assert_false(held(ids[0]));
	for (int i = 1; i <= PER_SOURCE; i++)
		assert_true(held(ids[i]));
	/* Expired challenges are freed by the sweep, with no request to trigger it. */
	for (int i = 0; i < 3; i++)
		challenged_create("192.0.2.10", BIG);
	assert_true(node_admin_pending_bytes(a) >= 3 * BIG);
	pinned_now += MAX_AUTH;
	node_sweep(nd);
	assert_true(node_admin_pending_bytes(a) >= 3 * BIG); /* not yet expired */
	pinned_now += 1;
	node_sweep(nd);
	assert_int_equal(node_admin_pending_bytes(a), 0);
}

/* ---- sessions ---- */

static void test_sessions_split(void **state)
{
	(void)state;
	node_config cfg;
	node_config_init(&cfg);
	cfg.max_sessions = 64;
	cfg.unauth_sessions = 16;
	cfg.unauth_sessions_per_source = 4;
	node_sessions *s;
	assert_int_equal(node_sessions_new(&cfg, &s), 0);
	uint32_t now = 1000;
	node_source legit = src_of("192.0.2.1");
	/* 40 authenticated sessions, idle from the start. */
	for (uint32_t i = 0; i < 40; i++) {
		struct node_sess *x = node_sessions_alloc(s, now, &legit);
		assert_non_null(x);
		x->id = (i + 1) << 16 | (uint32_t)(x - s->slots);
		x->last_used = now;
		x->timeout = 86400;
		x->src = legit;
		x->authenticated = true;
	}
	/* 5,000 setups from 50 addresses, newer and newer: none takes an authenticated one. */
	char ip[32];
	for (uint32_t i = 0; i < 5000; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%u", i % 50);
		node_source src = src_of(ip);
		struct node_sess *x = node_sessions_alloc(s, now + 1 + i, &src);
		assert_non_null(x);
		assert_int_equal(x->id, 0);
		x->id = (i + 100) << 16 | (uint32_t)(x - s->slots);
		x->last_used = now + 1 + i;
		x->timeout = 86400;
		x->src = src;
	}
	uint32_t authed = 0, unauth = 0, from0 = 0;
	node_source s0 = src_of("203.0.113.0");
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct node_sess *x = &s->slots[i];
		if (!x->id)
			continue;
		authed += x->authenticated;
		unauth += !x->authenticated;
		from0 += !x->authenticated && !memcmp(x->src.addr, s0.addr, 16);
	}
	assert_int_equal(authed, 40);
	assert_int_equal(unauth, 16);
	assert_true(from0 <= 4);
	/*
	 * A client's one setup, not yet authenticated, outlives a flood from two
	 * other sources: each flooding source is soon the one holding the most,
	 * and loses its own oldest; neither ever holds more than its share.
	 */
	node_source lone = src_of("192.0.2.200"), s1 = src_of("203.0.113.1");
	struct node_sess *mine = node_sessions_alloc(s, now + 5500, &lone);
	uint32_t mine_id = 1 << 30 | (uint32_t)(mine - s->slots);
	*mine = (struct node_sess){.id = mine_id, .last_used = now + 5500, .timeout = 86400};
	mine->src = lone;
	for (uint32_t i = 0; i < 1000; i++) {
		const node_source *src = i % 2 ? &s0 : &s1;
		struct node_sess *x = node_sessions_alloc(s, now + 6000 + i, src);
		assert_non_null(x);
		assert_int_not_equal(x - s->slots, mine - s->slots);
		x->id = (i + 9000) << 16 | (uint32_t)(x - s->slots);
		x->last_used = now + 6000 + i;
		x->timeout = 86400;
		x->src = *src;
		uint32_t n0 = 0, n1 = 0;
		for (uint32_t k = 0; k < s->nslots; k++) {
			n0 += s->slots[k].id && !memcmp(s->slots[k].src.addr, s0.addr, 16);
			n1 += s->slots[k].id && !memcmp(s->slots[k].src.addr, s1.addr, 16);
		}
		assert_true(n0 <= 4 && n1 <= 4);
	}
	assert_int_equal(mine->id, mine_id);
	node_sessions_free(s);
}

/* Requests held by challenges in sessions share one byte budget, oldest dropped first. */
static void test_session_held_budget(void **state)
{
	(void)state;
	node_config cfg;
	node_config_init(&cfg);
	cfg.max_sessions = 16;
	cfg.pending_auth_bytes = 1; /* raised to one whole message */
	node_sessions *s;
	assert_int_equal(node_sessions_new(&cfg, &s), 0);
	size_t whole = PROTO_ENV_LEN + PROTO_MSG_MAX, len = whole / 3;
	assert_int_equal(s->max_held, whole);
	node_source src = src_of("192.0.2.5");
	struct node_sess *x[5];
	for (uint32_t i = 0; i < 5; i++) {
		x[i] = node_sessions_alloc(s, 100, &src);
		x[i]->id = (i + 1) << 16 | (uint32_t)(x[i] - s->slots);
		x[i]->last_used = 100;
		x[i]->timeout = 600;
		assert_true(node_sessions_hold_room(s, x[i], len));
		x[i]->held = (struct node_held){.live = true, .expires = 200 + i, .len = len};
		x[i]->held.req = malloc(len);
		assert_non_null(x[i]->held.req);
		s->held_bytes += len;
		assert_true(s->held_bytes <= s->max_held);
	}
	/* Three fit; each later one dropped the one that expires first. */
	assert_null(x[0]->held.req);
	assert_null(x[1]->held.req);
	for (int i = 2; i < 5; i++)
		assert_non_null(x[i]->held.req);
	assert_int_equal(s->held_bytes, 3 * len);
	/* More than the whole budget never fits, and drops nothing trying. */
	assert_false(node_sessions_hold_room(s, x[4], whole + 1));
	assert_int_equal(s->held_bytes, 3 * len);
	node_sessions_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_login_backoff),
	    cmocka_unit_test(test_login_table_bounded),
	    cmocka_unit_test_setup_teardown(test_pending_bounded, setup, teardown),
	    cmocka_unit_test(test_sessions_split),
	    cmocka_unit_test(test_session_held_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
