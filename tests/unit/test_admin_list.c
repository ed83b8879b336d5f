/*
 * test_admin_list.c - list handles (105) and list homed prefixes (302) as
 * several continued messages: 20,000 handles under one prefix, answered over
 * NODE_TCP after a challenge-response, must come back as whole messages back
 * to back, every one but the last with CN, each carrying its own count, and
 * together every handle exactly once. Over HTTP (one message only) the same
 * list is refused with a message saying to use TCP, never cut short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/verify.h"
#include "node/node.h"
#include "proto/record.h"
#include "proto/admin.h"
#include "proto/reserved.h"

enum { NHANDLES = 20000 };

static char tmpdir[] = "/tmp/idn-list-XXXXXX";
static store *st;
static node *nd;
static node_worker *wk;
static uint8_t out[PROTO_ENV_LEN + PROTO_MSG_MAX + (1 << 20)];
static const char secret[] = "list-test-secret";

static const char *const server_admins[] = {"300:0.NA/88.200"};

/* Puts a record of vals under key. */
static void put(store_txn *t, const char *key, const proto_value *vals, uint32_t n)
{
	static uint8_t rec[4096];
	int len = record_build(vals, n, rec, sizeof(rec));
	assert_true(len > 0);
	assert_int_equal(
	    store_put(t, idn_slice_of(key, strlen(key)), idn_slice_of(rec, (size_t)len), 0), 0);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	store_opts so = {.no_sync = 1};
	assert_int_equal(store_open(tmpdir, &so, &st), 0);
	store_txn *t;
	assert_int_equal(store_txn_begin(st, 0, &t), 0);
	assert_int_equal(store_home(t, IDN_SLICE("88.200")), 0);
	for (int i = 0; i < 3; i++) {
		char p[32];
		snprintf(p, sizeof(p), "88.2%02d.9", i);
		assert_int_equal(store_home(t, idn_slice_of(p, strlen(p))), 0);
	}
	/* The identity: 0.NA/88.200, HS_SECKEY at 300, an HS_ADMIN with every right. */
	uint8_t adm[128];
	wire_wr aw = wire_wr_init(adm, sizeof(adm));
	proto_admin_put(&aw, &(proto_admin){.rights = PROTO_ADM_ALL,
	                                    .handle = IDN_SLICE("0.NA/88.200"),
	                                    .index = 300});
	proto_value id[2] = {
	    {.index = 100,
	     .type = IDN_SLICE("HS_ADMIN"),
	     .data = idn_slice_of(adm, wire_wr_len(&aw)),
	     .perms = 0x0e},
	    {.index = 300,
	     .type = IDN_SLICE("HS_SECKEY"),
	     .data = idn_slice_of(secret, strlen(secret)),
	     .perms = 0x0c},
	};
	put(t, "0.NA/88.200", id, 2);
	/* Neighbours that must not be listed: another prefix sharing the first bytes. */
	proto_value url = {.index = 1, .type = IDN_SLICE("URL"), .data = IDN_SLICE("http://x/")};
	put(t, "88.2001/NOT-LISTED", &url, 1);
	for (int i = 0; i < NHANDLES; i++) {
		char h[64];
		snprintf(h, sizeof(h), "88.200/ITEM-%06d", i);
		put(t, h, &url, 1);
	}
	assert_int_equal(store_txn_commit(t), 0);
	node_config cfg;
	node_config_init(&cfg);
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

/* Sends op with handle h, answers the 402, returns the answer length in out. */
static int authenticated(enum node_transport t, uint32_t op, const char *h, uint32_t reqid,
                         size_t cap)
{
	static uint8_t req[4096];
	proto_env env = {.major = 2, .minor = 11, .request_id = reqid};
	proto_hdr hdr = {.opcode = op, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, sizeof(req), &env, &hdr);
	proto_handle_req_encode(&b.w, idn_slice_of(h, strlen(h)));
	int len = proto_build_end(&b, NULL, 0);
	assert_true(len > 0);
	int n = node_answer(wk, t, req, (size_t)len, out, sizeof(out));
	assert_true(n > PROTO_ENV_LEN);
	proto_env aenv;
	proto_msg m;
	assert_int_equal(proto_env_decode(out, (size_t)n, &aenv), 0);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &m), 0);
	assert_int_equal(m.hdr.rcode, PROTO_RC_AUTHENTICATION_NEEDED);
	proto_challenge c;
	assert_int_equal(proto_challenge_decode(m.body, m.hdr.flags & PROTO_F_RD, &c), 0);
	uint8_t sig[512];
	wire_wr sw = wire_wr_init(sig, sizeof(sig));
	assert_int_equal(auth_respond_seckey(idn_slice_of(secret, strlen(secret)),
	                                     PROTO_SECKEY_HMAC_SHA256, c.nonce, c.digest, &sw),
	                 0);
	proto_chresp cr = {.auth_type = IDN_SLICE("HS_SECKEY"),
	                   .handle = IDN_SLICE("0.NA/88.200"),
	                   .index = 300,
	                   .signed_resp = idn_slice_of(sig, wire_wr_len(&sw))};
	proto_env cenv = {
	    .major = 2, .minor = 11, .session_id = aenv.session_id, .request_id = reqid + 1};
	proto_hdr chdr = {.opcode = PROTO_OP_CHALLENGE_RESPONSE, .site_serial = 0xFFFF};
	proto_build_begin(&b, req, sizeof(req), &cenv, &chdr);
	proto_chresp_encode(&b.w, &cr);
	len = proto_build_end(&b, NULL, 0);
	assert_true(len > 0);
	return node_answer(wk, t, req, (size_t)len, out, cap);
}

/*
 * Walks the answer messages in out[0..n): checks each envelope, the CN
 * chain and the counts; marks each name in seen (for handles) or counts
 * names. Returns the number of messages.
 */
static int walk_part(int n, uint32_t reqid, uint32_t op, unsigned char *seen, uint32_t *names,
                     bool final)
{
	size_t off = 0;
	int msgs = 0;
	bool more = true;
	*names = 0;
	while (off < (size_t)n) {
		assert_true(more); /* nothing after a message without CN */
		proto_env e;
		proto_msg m;
		assert_int_equal(proto_env_decode(out + off, (size_t)n - off, &e), 0);
		size_t total = PROTO_ENV_LEN + e.msg_len;
		assert_true(total <= (size_t)n - off);
		assert_int_equal(proto_msg_decode(out + off + PROTO_ENV_LEN, e.msg_len, &m), 0);
		assert_int_equal(e.request_id, reqid);
		assert_int_equal(m.hdr.opcode, op);
		assert_int_equal(m.hdr.rcode, PROTO_RC_SUCCESS);
		assert_true(e.msg_len <= PROTO_MSG_MAX);
		proto_list_resp lr;
		assert_int_equal(proto_list_resp_decode(m.body, &lr), 0);
		wire_rd it = proto_list_names(&lr);
		idn_slice nm;
		uint32_t k = 0;
		while (proto_list_next(&it, &nm) == 1) {
			k++;
			if (seen) {
				char buf[64];
				assert_true(nm.len < sizeof(buf));
				memcpy(buf, nm.p, nm.len);
				buf[nm.len] = 0;
				int idx = -1;
				assert_int_equal(sscanf(buf, "88.200/ITEM-%d", &idx), 1);
				assert_true(idx >= 0 && idx < NHANDLES);
				assert_int_equal(seen[idx], 0);
				seen[idx] = 1;
			}
		}
		assert_int_equal(it.err, 0);
		assert_int_equal(k, lr.n);
		*names += k;
		more = m.hdr.flags & PROTO_F_CN;
		off += total;
		msgs++;
	}
	assert_int_equal(more, !final); /* the last message ends the list, or says more follow */
	return msgs;
}

static int walk(int n, uint32_t reqid, uint32_t op, unsigned char *seen, uint32_t *names)
{
	return walk_part(n, reqid, op, seen, names, true);
}

static void test_list_many_tcp(void **state)
{
	(void)state;
	int n = authenticated(NODE_TCP, PROTO_OP_LIST_HANDLES, "0.NA/88.200", 1000, sizeof(out));
	assert_true(n > 0);
	static unsigned char seen[NHANDLES];
	memset(seen, 0, sizeof(seen));
	uint32_t names;
	int msgs = walk(n, 1001, PROTO_OP_LIST_HANDLES, seen, &names);
	assert_true(msgs > 1);
	assert_int_equal(names, NHANDLES);
	for (int i = 0; i < NHANDLES; i++)
		assert_int_equal(seen[i], 1);
}

static void test_list_many_http_refused(void **state)
{
	(void)state;
	int n = authenticated(NODE_HTTP, PROTO_OP_LIST_HANDLES, "0.NA/88.200", 2000, sizeof(out));
	assert_true(n > 0);
	proto_env e;
	proto_msg m;
	assert_int_equal(proto_env_decode(out, (size_t)n, &e), 0);
	assert_int_equal((size_t)n, PROTO_ENV_LEN + e.msg_len); /* one message */
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, e.msg_len, &m), 0);
	assert_int_equal(m.hdr.rcode, PROTO_RC_ERROR);
	idn_slice msg;
	assert_int_equal(proto_error_decode(m.body, &msg), 0);
	assert_non_null(memmem(msg.p, msg.len, "TCP", 3));
}

/* A short list stays one message without CN, on any transport. */
static void test_list_homed_one_message(void **state)
{
	(void)state;
	int n = authenticated(NODE_TCP, PROTO_OP_LIST_HOMED_NAS, "", 3000, sizeof(out));
	uint32_t names;
	assert_int_equal(walk(n, 3001, PROTO_OP_LIST_HOMED_NAS, NULL, &names), 1);
	assert_int_equal(names, 4);
}

/* A buffer too small for the whole list: refused whole (one error message), never cut. */
static void test_list_buffer_too_small(void **state)
{
	(void)state;
	int n = authenticated(NODE_TCP, PROTO_OP_LIST_HANDLES, "0.NA/88.200", 4000,
	                      PROTO_ENV_LEN + PROTO_MSG_MAX);
	assert_true(n > 0);
	proto_env e;
	proto_msg m;
	assert_int_equal(proto_env_decode(out, (size_t)n, &e), 0);
	assert_int_equal((size_t)n, PROTO_ENV_LEN + e.msg_len);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, e.msg_len, &m), 0);
	assert_int_equal(m.hdr.rcode, PROTO_RC_ERROR);
	assert_false(m.hdr.flags & PROTO_F_CN);
}

/*
 * A caller that takes parts (node_worker_allow_more): a buffer of one
 * message's size holds the first part; node_more_next gives the others,
 * each ending with CN but the last, every handle once in all.
 */
static void test_list_in_parts(void **state)
{
	(void)state;
	node_worker_allow_more(wk, true);
	size_t cap = PROTO_ENV_LEN + PROTO_MSG_MAX;
	int n = authenticated(NODE_TCP, PROTO_OP_LIST_HANDLES, "0.NA/88.200", 5000, cap);
	node_more *more = node_worker_take_more(wk);
	assert_non_null(more);
	assert_null(node_worker_take_more(wk)); /* handed over once */
	static unsigned char seen[NHANDLES];
	memset(seen, 0, sizeof(seen));
	uint32_t names, total = 0;
	walk_part(n, 5001, PROTO_OP_LIST_HANDLES, seen, &names, false);
	total += names;
	int parts = 1;
	for (bool last = false; !last; parts++) {
		assert_true(parts < 100);
		n = node_more_next(wk, more, out, cap, &last);
		assert_true(n > 0);
		walk_part(n, 5001, PROTO_OP_LIST_HANDLES, seen, &names, last);
		total += names;
	}
	node_more_free(more);
	node_worker_allow_more(wk, false);
	assert_true(parts >= 2);
	assert_int_equal(total, NHANDLES);
	for (int i = 0; i < NHANDLES; i++)
		assert_int_equal(seen[i], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_many_tcp),
	    cmocka_unit_test(test_list_many_http_refused),
	    cmocka_unit_test(test_list_homed_one_message),
	    cmocka_unit_test(test_list_buffer_too_small),
	    cmocka_unit_test(test_list_in_parts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
