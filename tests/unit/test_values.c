/*
 * test_values.c - the walk over encoded values (proto/proto.h
 * proto_values_next / proto_values_find / proto_values_span): every value in
 * order with its encoding, matching by index and type (case or not), and
 * malformed values stopping the walk with an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "proto/proto.h"

/* Four values: 1 URL, 2 EMAIL, 3 url, 100 HS_ADMIN; their encoding into buf. */
static idn_slice four_values(uint8_t *buf, size_t cap)
{
	static const struct {
		uint32_t index;
		const char *type, *data;
	} vals[] = {
	    {1, "URL", "https://a"}, {2, "EMAIL", "x@y"}, {3, "url", "b"}, {100, "HS_ADMIN", ""}};
	wire_wr w = wire_wr_init(buf, cap);
	for (int i = 0; i < 4; i++) {
		proto_value v = {.index = vals[i].index,
		                 .type = idn_slice_of(vals[i].type, strlen(vals[i].type)),
		                 .data = idn_slice_of(vals[i].data, strlen(vals[i].data)),
		                 .ttl = 86400,
		                 .perms = PROTO_PERM_PUBLIC_READ};
		proto_value_put(&w, &v);
	}
	assert_int_equal(w.err, IDN_OK);
	return idn_slice_of(buf, wire_wr_len(&w));
}

static void test_next_walks_all(void **state)
{
	(void)state;
	uint8_t buf[512];
	idn_slice vals = four_values(buf, sizeof(buf));
	proto_values_it it = proto_values_begin(vals, 4);
	proto_value v;
	uint32_t seen[4], n = 0;
	size_t bytes = 0;
	while (proto_values_next(&it, &v) == 1) {
		seen[n++] = v.index;
		/* raw is exactly this value's encoding, right after the previous one */
		assert_ptr_equal(it.raw.p, buf + bytes);
		assert_int_equal(it.raw.len, proto_value_size(&v));
		bytes += it.raw.len;
	}
	assert_int_equal(n, 4);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[3], 100);
	assert_int_equal(bytes, vals.len);
	assert_int_equal(proto_values_next(&it, &v), 0);
	/* fewer values asked for than there are: the walk stops at n */
	it = proto_values_begin(vals, 2);
	n = 0;
	while (proto_values_next(&it, &v) == 1)
		n++;
	assert_int_equal(n, 2);
}

static void test_find_by_index_and_type(void **state)
{
	(void)state;
	uint8_t buf[512];
	idn_slice vals = four_values(buf, sizeof(buf));
	proto_value v;

	proto_values_match url = {.type = IDN_SLICE("URL")};
	proto_values_it it = proto_values_begin(vals, 4);
	assert_int_equal(proto_values_find(&it, &url, &v), 1);
	assert_int_equal(v.index, 1);
	assert_int_equal(proto_values_find(&it, &url, &v), 0); /* "url" differs in case */

	proto_values_match any_case = {.type = IDN_SLICE("URL"), .type_nocase = true};
	it = proto_values_begin(vals, 4);
	assert_int_equal(proto_values_find(&it, &any_case, &v), 1);
	assert_int_equal(proto_values_find(&it, &any_case, &v), 1);
	assert_int_equal(v.index, 3);
	assert_memory_equal(v.data.p, "b", 1);
	assert_int_equal(proto_values_find(&it, &any_case, &v), 0);

	proto_values_match idx = {.index = 100};
	it = proto_values_begin(vals, 4);
	assert_int_equal(proto_values_find(&it, &idx, &v), 1);
	assert_true(idn_slice_eq(v.type, IDN_SLICE("HS_ADMIN")));

	proto_values_match both = {.index = 2, .type = IDN_SLICE("URL")};
	it = proto_values_begin(vals, 4);
	assert_int_equal(proto_values_find(&it, &both, &v), 0);
}

static void test_malformed_stops(void **state)
{
	(void)state;
	uint8_t buf[512];
	idn_slice vals = four_values(buf, sizeof(buf));
	/* cut inside the fourth value (34 bytes) */
	idn_slice cut = idn_slice_of(buf, vals.len - 20);
	proto_values_it it = proto_values_begin(cut, 4);
	proto_value v;
	int rc, n = 0;
	while ((rc = proto_values_next(&it, &v)) == 1)
		n++;
	assert_true(rc < 0);
	assert_int_equal(n, 3);
	assert_true(proto_values_next(&it, &v) < 0); /* and stays failed */
	proto_values_match any = {0};
	it = proto_values_begin(cut, 4);
	while ((rc = proto_values_find(&it, &any, &v)) == 1)
		;
	assert_true(rc < 0);
}

static void test_span(void **state)
{
	(void)state;
	uint8_t buf[512];
	idn_slice vals = four_values(buf, sizeof(buf));
	wire_rd c = wire_rd_init(vals.p, vals.len);
	idn_slice raw;
	proto_values_span(&c, 3, &raw);
	assert_int_equal(c.err, IDN_OK);
	assert_ptr_equal(raw.p, buf);
	assert_true(raw.len < vals.len);
	proto_values_span(&c, 2, &raw); /* only one is left */
	assert_true(c.err != IDN_OK);
	assert_null(raw.p);
	assert_int_equal(raw.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_next_walks_all),
	    cmocka_unit_test(test_find_by_index_and_type),
	    cmocka_unit_test(test_malformed_stops),
	    cmocka_unit_test(test_span),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
