/*
 * test_node_parts.c - identifier syntax, storage keys and records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/handle.h"
#include "proto/record.h"

static idn_slice S(const char *s)
{
	return idn_slice_of(s, strlen(s));
}

static void test_split(void **state)
{
	(void)state;
	handle_parts p;
	assert_int_equal(handle_split(S("88.100.1/MOTOR/42"), &p), 0);
	assert_int_equal(p.prefix.len, 8);
	assert_memory_equal(p.suffix.p, "MOTOR/42", 8);
	assert_int_equal(handle_split(S("no-slash"), &p), IDN_EINVAL);
	assert_int_equal(handle_split(S(""), &p), IDN_EINVAL);
	assert_int_equal(handle_split(S("/x"), &p), 0);
	assert_int_equal(p.prefix.len, 0);
}

static void test_key(void **state)
{
	(void)state;
	uint8_t key[HANDLE_KEY_MAX];
	int n = handle_key(S("88.abc.1/Motor-x"), true, key);
	assert_int_equal(n, 16);
	assert_memory_equal(key, "88.ABC.1/Motor-x", 16);
	n = handle_key(S("88.abc.1/Motor-x"), false, key);
	assert_memory_equal(key, "88.ABC.1/MOTOR-X", 16);
	/* Only ASCII letters change case; UTF-8 bytes pass through. */
	n = handle_key(S("88.1/caf\xc3\xa9"), false, key);
	assert_memory_equal(key, "88.1/CAF\xc3\xa9", (size_t)n);
	assert_int_equal(handle_key(S("nothing"), true, key), IDN_EINVAL);
	static char longh[HANDLE_KEY_MAX + 10];
	memset(longh, 'x', sizeof(longh) - 1);
	longh[2] = '/';
	assert_int_equal(handle_key(S(longh), true, key), IDN_ERANGE);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(handle_utf8_valid(S("Gr\xc3\xbc\xc3\x9f"
	                                "e \xe2\x9c\x93 \xf0\x9f\x98\x80")));
	assert_false(handle_utf8_valid(S("\xc3\x28")));         /* bad continuation */
	assert_false(handle_utf8_valid(S("\xc0\xaf")));         /* overlong */
	assert_false(handle_utf8_valid(S("\xed\xa0\x80")));     /* surrogate */
	assert_false(handle_utf8_valid(S("\xf4\x90\x80\x80"))); /* > U+10FFFF */
	assert_false(handle_utf8_valid(S("\xe2\x9c")));         /* truncated */
	assert_false(handle_utf8_valid(S("\xff")));
}

static void test_na_prefix(void **state)
{
	(void)state;
	idn_slice p;
	assert_int_equal(handle_na_prefix(S("0.na/88.100"), &p), 0);
	assert_int_equal(p.len, 6);
	assert_int_equal(handle_na_prefix(S("0.NA/"), &p), IDN_EINVAL);
	assert_int_equal(handle_na_prefix(S("88.100"), &p), IDN_EINVAL);
}

static void test_record(void **state)
{
	(void)state;
	proto_value v[2] = {
	    {.index = 1, .ttl = 86400, .perms = 0x0e, .type = S("URL"), .data = S("https://x")},
	    {.index = 2, .ttl = 60, .perms = 0x0c, .type = S("EMAIL"), .data = S("a@b")},
	};
	uint8_t buf[512];
	int n = record_build(v, 2, buf, sizeof(buf));
	assert_int_equal((size_t)n, record_size(v, 2));
	record r;
	assert_int_equal(record_parse(idn_slice_of(buf, (size_t)n), &r), 0);
	assert_int_equal(r.nvalues, 2);
	assert_false(r.flags & RECORD_F_ALL_PUBLIC); /* value 2 is not public */
	assert_int_equal(record_check(idn_slice_of(buf, (size_t)n)), 0);

	n = record_build(v, 1, buf, sizeof(buf));
	assert_int_equal(record_parse(idn_slice_of(buf, (size_t)n), &r), 0);
	assert_true(r.flags & RECORD_F_ALL_PUBLIC);

	/* Every truncation and a wrong version are refused by the full check. */
	for (int len = 0; len < n; len++)
		assert_int_not_equal(record_check(idn_slice_of(buf, (size_t)len)), 0);
	buf[0] = 9;
	assert_int_equal(record_parse(idn_slice_of(buf, (size_t)n), &r), IDN_ESTORE);
	buf[0] = RECORD_VERSION;
	/* A count that cannot fit is refused by the cheap parse already. */
	idn_put_be32(buf + RECORD_HDR_LEN, 1000);
	assert_int_equal(record_parse(idn_slice_of(buf, (size_t)n), &r), IDN_ESTORE);
	assert_int_equal(record_build(v, 2, buf, 10), IDN_ESPACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),  cmocka_unit_test(test_key),
	    cmocka_unit_test(test_utf8),   cmocka_unit_test(test_na_prefix),
	    cmocka_unit_test(test_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
