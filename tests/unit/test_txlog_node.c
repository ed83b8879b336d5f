/*
 * test_txlog_node.c - the primary node's answers to the replication ops
 * (node/repl_ops.h) as Handle messages: a mirror store bootstraps and
 * follows a node's store through encoded requests and answers, and
 * replication requests that are not authenticated never get data.
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

#include "core/err.h"
#include "node/internal.h"
#include "node/repl_ops.h"
#include "proto/proto.h"
#include "repl/repl.h"
#include "store/store.h"

enum { BUF = PROTO_ENV_LEN + PROTO_MSG_MAX };

struct fx {
	char pdir[64], mdir[64];
	store *p, *m;
	node *n;
	node_worker *w;
	uint8_t req[BUF], out[BUF];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	node_config cfg;
	store_opts o = {.no_sync = 1};
	if (!f)
		return -1;
	strcpy(f->pdir, "/tmp/idn_rnode_p_XXXXXX");
	strcpy(f->mdir, "/tmp/idn_rnode_m_XXXXXX");
	if (!mkdtemp(f->pdir) || !mkdtemp(f->mdir))
		return -1;
	if (store_open(f->pdir, &o, &f->p) || store_open(f->mdir, &o, &f->m))
		return -1;
	node_config_init(&cfg);
	if (node_new(&cfg, f->p, &f->n) || node_worker_new(f->n, &f->w))
		return -1;
	*state = f;
	return 0;
}

static void rm_dir(const char *dir)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	node_worker_free(f->w);
	node_free(f->n);
	store_close(f->p);
	store_close(f->m);
	rm_dir(f->pdir);
	rm_dir(f->mdir);
	free(f);
	return 0;
}

static void put(store *s, const char *k, const char *v)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_put(t, idn_slice_of(k, strlen(k)), idn_slice_of(v, strlen(v)), 0),
	                 IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/* A request message for opcode with body. */
static size_t build(struct fx *f, uint32_t opcode, const uint8_t *body, size_t len)
{
	proto_env env = {.major = PROTO_MAJOR, .minor = 10, .request_id = 7};
	proto_hdr hdr = {.opcode = opcode, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, f->req, sizeof(f->req), &env, &hdr);
	wire_put_data(&b.w, body, len);
	int n = proto_build_end(&b, NULL, 0);
	assert_true(n > 0);
	return (size_t)n;
}

/* The node's answer to a replication request, as node_repl_answer builds it. */
static int answer(struct fx *f, size_t len, proto_msg *am)
{
	req rq = {.w = f->w, .transport = NODE_TCP, .out = f->out, .cap = sizeof(f->out)};
	proto_env aenv;
	assert_int_equal(proto_env_decode(f->req, len, &rq.env), IDN_OK);
	assert_int_equal(proto_msg_decode(f->req + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &rq.msg),
	                 IDN_OK);
	rq.minor = rq.env.minor;
	node_worker_begin(f->w);
	int n = node_repl_answer(&rq, f->w->rtxn);
	node_worker_end(f->w);
	assert_true(n > PROTO_ENV_LEN);
	assert_int_equal(proto_env_decode(f->out, (size_t)n, &aenv), IDN_OK);
	assert_int_equal(aenv.request_id, 7);
	assert_int_equal(proto_msg_decode(f->out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, am),
	                 IDN_OK);
	return (int)am->hdr.rcode;
}

static int sync_rounds(struct fx *f, uint32_t page)
{
	repl_req r;
	repl_progress p;
	proto_msg am;
	for (int rounds = 1; rounds < 1000; rounds++) {
		assert_int_equal(repl_mirror_request(f->m, page, &r), IDN_OK);
		size_t len = build(f, r.opcode, r.body, r.len);
		int rc = answer(f, len, &am);
		assert_int_equal(am.hdr.opcode, r.opcode);
		if (rc != PROTO_RC_SUCCESS) {
			idn_slice msg = {0};
			proto_error_decode(am.body, &msg);
			fail_msg("answer %d: %.*s", rc, (int)msg.len, (const char *)msg.p);
		}
		assert_int_equal(repl_mirror_apply(f->m, r.opcode, am.body.p, am.body.len, &p),
		                 IDN_OK);
		if (!p.bootstrapping && p.applied == 0)
			return rounds;
	}
	fail_msg("the mirror never caught up");
	return -1;
}

static void expect_same(struct fx *f, const char *k, const char *v)
{
	store_txn *t;
	idn_slice got;
	assert_int_equal(store_txn_begin(f->m, STORE_RDONLY, &t), IDN_OK);
	int rc = store_get(t, idn_slice_of(k, strlen(k)), &got);
	if (!v) {
		assert_int_equal(rc, IDN_ENOTFOUND);
	} else {
		assert_int_equal(rc, IDN_OK);
		assert_int_equal(got.len, strlen(v));
		assert_memory_equal(got.p, v, got.len);
	}
	store_txn_abort(t);
}

static void test_mirror_through_messages(void **state)
{
	struct fx *f = *state;
	char k[32], v[600];
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "88.5/N%03d", i);
		put(f->p, k, v);
	}
	assert_true(sync_rounds(f, 2048) > 5); /* paged */
	expect_same(f, "88.5/N039", v);
	put(f->p, "88.5/N000", "changed");
	put(f->p, "88.5/new", "new");
	assert_int_equal(sync_rounds(f, 0), 2);
	expect_same(f, "88.5/N000", "changed");
	expect_same(f, "88.5/new", "new");

	/* op 1000: the log state, as the mirror asks after an error */
	proto_msg am;
	size_t len = build(f, PROTO_OP_GET_NEXT_TXN_ID, NULL, 0);
	assert_int_equal(answer(f, len, &am), PROTO_RC_SUCCESS);
	assert_int_equal(am.body.len, 16);
	assert_int_equal(store_be64(am.body.p), 42);    /* last: 40 + 2 puts */
	assert_int_equal(store_be64(am.body.p + 8), 1); /* oldest */

	/* a malformed request, and a position the log never had */
	len = build(f, PROTO_OP_RETRIEVE_TXN_LOG, (const uint8_t *)"short", 5);
	assert_int_equal(answer(f, len, &am), PROTO_RC_PROTOCOL_ERROR);
	uint8_t zero[16] = {0};
	len = build(f, PROTO_OP_RETRIEVE_TXN_LOG, zero, sizeof(zero));
	assert_int_equal(answer(f, len, &am), PROTO_RC_ERROR);
	idn_slice msg;
	assert_int_equal(proto_error_decode(am.body, &msg), IDN_OK);
	assert_non_null(memmem(msg.p, msg.len, "pruned", 6));
}

/* Through node_answer, as a peer would: never data without authentication. */
static void test_unauthenticated_refused(void **state)
{
	struct fx *f = *state;
	proto_env aenv;
	proto_msg am;
	uint8_t dump_req[8] = {0};
	put(f->p, "88.5/secret", "not for anyone");
	size_t len = build(f, PROTO_OP_DUMP_HANDLES, dump_req, sizeof(dump_req));
	int n = node_answer(f->w, NODE_TCP, f->req, len, f->out, sizeof(f->out));
	assert_true(n > PROTO_ENV_LEN);
	assert_int_equal(proto_env_decode(f->out, (size_t)n, &aenv), IDN_OK);
	assert_int_equal(proto_msg_decode(f->out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &am),
	                 IDN_OK);
	assert_int_not_equal(am.hdr.rcode, PROTO_RC_SUCCESS);
	assert_null(memmem(f->out, (size_t)n, "not for anyone", 14));
	n = node_answer(f->w, NODE_UDP, f->req, len, f->out, sizeof(f->out));
	assert_true(n > PROTO_ENV_LEN);
	assert_int_equal(proto_msg_decode(f->out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &am),
	                 IDN_OK);
	assert_int_equal(am.hdr.rcode, PROTO_RC_PROTOCOL_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mirror_through_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unauthenticated_refused, setup, teardown),
	};
	return cmocka_run_group_tests_name("txlog/node", tests, NULL, NULL);
}
