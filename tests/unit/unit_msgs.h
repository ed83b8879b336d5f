/*
 * unit_msgs.h - what several unit tests build the same way: a record put
 * straight into a store, a prefix homed, and a resolution request as a
 * client sends it (envelope + message). Test code only (cmocka asserts).
 */
#ifndef IDN_TESTS_UNIT_MSGS_H
#define IDN_TESTS_UNIT_MSGS_H

#include <string.h>

#include "proto/handle.h"
#include "proto/proto.h"
#include "proto/record.h"
#include "store/store.h"

static inline void put_record(store *s, const char *h, const proto_value *v, uint32_t n)
{
	uint8_t rec[4096], key[HANDLE_KEY_MAX];
	int len = record_build(v, n, rec, sizeof(rec));
	int kl = handle_key(idn_slice_of(h, strlen(h)), true, key);
	assert_true(len > 0 && kl > 0);
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(
	    store_put(t, idn_slice_of(key, (size_t)kl), idn_slice_of(rec, (size_t)len), 0), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

static inline void home(store *s, const char *p)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(s, 0, &t), IDN_OK);
	assert_int_equal(store_home(t, idn_slice_of(p, strlen(p))), IDN_OK);
	assert_int_equal(store_txn_commit(t), IDN_OK);
}

/* A resolution request for handle, as a client sends it (envelope + message). */
static inline size_t resolution(const char *handle, uint32_t flags, uint8_t minor, uint8_t *out,
                                size_t cap)
{
	proto_env env = {.major = 2, .minor = minor, .request_id = 0x01020304, .session_id = 9};
	proto_hdr hdr = {.opcode = PROTO_OP_RESOLUTION, .flags = flags, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, out, cap, &env, &hdr);
	proto_resolve_req_encode(&b.w, idn_slice_of(handle, strlen(handle)), NULL, 0, NULL, 0);
	int n = proto_build_end(&b, NULL, 0);
	assert_true(n > 0);
	return (size_t)n;
}

#endif
