/*
 * test_node_unsaved.c - node_worker_unsaved(): the error that replaces an
 * answer held for a group commit that failed (net_config.unsaved).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/answer.h"
#include "node/node.h"

/* A held success answer to request 77 of session 5, opcode 102 (add value). */
static int held_answer(uint8_t *buf, size_t cap, uint8_t env_flags)
{
	proto_env env = {.major = 2, .minor = 10, .session_id = 5, .request_id = 77};
	int len = node_answer_bare_error(&env, PROTO_OP_ADD_VALUE, PROTO_RC_SUCCESS, "", buf, cap);
	assert_true(len > PROTO_ENV_LEN);
	buf[2] = env_flags;
	return len;
}

/* Decodes out[0..len) and checks it answers the held request with 2 and a message. */
static void check_error(const uint8_t *out, int len, const char *starts)
{
	proto_env env;
	proto_msg m;
	idn_slice msg;
	assert_true(len > PROTO_ENV_LEN);
	assert_int_equal(proto_env_decode(out, (size_t)len, &env), 0);
	assert_int_equal(env.request_id, 77);
	assert_int_equal(env.session_id, 5);
	assert_int_equal(env.msg_len, (uint32_t)len - PROTO_ENV_LEN);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)len - PROTO_ENV_LEN, &m), 0);
	assert_int_equal(m.hdr.opcode, PROTO_OP_ADD_VALUE);
	assert_int_equal(m.hdr.rcode, PROTO_RC_ERROR);
	assert_int_equal(proto_error_decode(m.body, &msg), 0);
	assert_true(msg.len > strlen(starts));
	assert_memory_equal(msg.p, starts, strlen(starts));
}

static void test_full_and_other_errors(void **state)
{
	(void)state;
	uint8_t held[256], out[512];
	int hl = held_answer(held, sizeof(held), 0);
	check_error(out, node_worker_unsaved(held, (size_t)hl, IDN_EDISK_FULL, out, sizeof(out)),
	            NODE_MSG_STORAGE_FULL ": the change was not saved");
	check_error(out, node_worker_unsaved(held, (size_t)hl, IDN_ESTORE_FULL, out, sizeof(out)),
	            NODE_MSG_STORAGE_FULL ": ");
	check_error(out, node_worker_unsaved(held, (size_t)hl, IDN_EIO, out, sizeof(out)),
	            "storage error: the change was not saved");
}

static void test_cannot_rewrite(void **state)
{
	(void)state;
	uint8_t held[256], out[512];
	int hl = held_answer(held, sizeof(held), PROTO_ENV_ENCRYPTED);
	/* an encrypted answer: its connection must close */
	assert_true(node_worker_unsaved(held, (size_t)hl, IDN_EDISK_FULL, out, sizeof(out)) < 0);
	hl = held_answer(held, sizeof(held), 0);
	/* shorter than an envelope and a header */
	assert_true(
	    node_worker_unsaved(held, PROTO_ENV_LEN + 10, IDN_EDISK_FULL, out, sizeof(out)) < 0);
	/* no room for the error */
	assert_true(node_worker_unsaved(held, (size_t)hl, IDN_EDISK_FULL, out, 30) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_and_other_errors),
	    cmocka_unit_test(test_cannot_rewrite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
