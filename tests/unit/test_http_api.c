/*
 * test_http_api.c - the pieces of src/api that need no network: the HTTP
 * status of each response code, value JSON in the reference shapes, HTML and
 * JSON escaping, percent-decoding and query parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/reply.h"
#include "proto/reserved.h"

static const char *body(http_resp *r)
{
	http_resp_append(r, "", 1); /* NUL-terminate for string checks */
	r->len--;
	return (const char *)r->body;
}

static void reset(http_resp *r)
{
	r->len = 0;
}

static void test_status_map(void **state)
{
	(void)state;
	static const struct {
		uint32_t rc;
		int status;
	} want[] = {{1, 200},   {2, 500},   {3, 503},   {5, 501},   {7, 503},
	            {100, 404}, {101, 409}, {102, 400}, {201, 409}, {202, 400},
	            {301, 400}, {302, 300}, {303, 300}, {400, 403}, {401, 403},
	            {402, 401}, {403, 403}, {404, 403}, {9999, 500}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(api_http_status(want[i].rc), want[i].status);
}

static proto_value val(uint32_t index, const char *type, const void *data, size_t len)
{
	proto_value v = {.index = index, .timestamp = 1767225600, .ttl = 86400, .perms = 0x0e};
	v.type = idn_slice_of(type, strlen(type));
	v.data = idn_slice_of(data, len);
	return v;
}

static void test_value_formats(void **state)
{
	(void)state;
	http_resp r = {0};
	proto_value v = val(1, "URL", "https://x/\"q\"\n", 14);
	api_json_value(&r, &v);
	assert_string_equal(
	    body(&r), "{\"index\":1,\"type\":\"URL\",\"data\":{\"format\":\"string\",\"value\":"
	              "\"https://x/\\\"q\\\"\\n\"},\"ttl\":86400,\"timestamp\":"
	              "\"2026-01-01T00:00:00Z\"}");
	reset(&r);
	v = val(2, "BIN", "\x00\xff\x10", 3);
	api_json_value(&r, &v);
	assert_non_null(strstr(body(&r), "{\"format\":\"base64\",\"value\":\"AP8Q\"}"));

	/* HS_ADMIN: rights 0x0FF3 -> 12 bits, highest first */
	uint8_t adm[64];
	wire_wr w = wire_wr_init(adm, sizeof(adm));
	proto_admin a = {
	    .rights = 0x0FF3, .handle = idn_slice_of("0.NA/88.100.1", 13), .index = 200};
	proto_admin_put(&w, &a);
	reset(&r);
	v = val(100, "HS_ADMIN", adm, wire_wr_len(&w));
	api_json_value(&r, &v);
	assert_non_null(strstr(body(&r), "\"data\":{\"format\":\"admin\",\"value\":{\"handle\":"
	                                 "\"0.NA/88.100.1\",\"index\":200,\"permissions\":"
	                                 "\"111111110011\"}}"));
	/* A broken HS_ADMIN is not lost: it is shown as base64. */
	reset(&r);
	v = val(100, "HS_ADMIN", "\xff", 1);
	api_json_value(&r, &v);
	assert_non_null(strstr(body(&r), "\"format\":\"base64\",\"value\":\"/w==\""));

	/* HS_VLIST */
	uint8_t vl[64];
	w = wire_wr_init(vl, sizeof(vl));
	proto_ref refs[] = {{idn_slice_of("88.1/A", 6), 300}};
	proto_vlist_put(&w, refs, 1);
	reset(&r);
	v = val(200, "HS_VLIST", vl, wire_wr_len(&w));
	api_json_value(&r, &v);
	assert_non_null(strstr(body(&r), "{\"format\":\"vlist\",\"value\":[{\"handle\":\"88.1/A\","
	                                 "\"index\":300}]}"));
	free(r.body);
}

/* Numbers of every length, at each side of a power of ten, as printf writes them. */
static void test_numbers(void **state)
{
	(void)state;
	http_resp r = {0};
	uint32_t xs[40];
	size_t n = 0;
	xs[n++] = 0;
	xs[n++] = UINT32_MAX;
	for (uint64_t p = 10; p <= 1000000000; p *= 10) {
		xs[n++] = (uint32_t)p - 1;
		xs[n++] = (uint32_t)p;
		xs[n++] = (uint32_t)p + 7;
	}
	for (size_t i = 0; i < n; i++) {
		reset(&r);
		proto_value v = val(xs[i], "T", "x", 1);
		v.ttl = xs[n - 1 - i];
		api_json_value(&r, &v);
		char want[64];
		snprintf(want, sizeof(want), "{\"index\":%u,", xs[i]);
		assert_memory_equal(r.body, want, strlen(want));
		snprintf(want, sizeof(want), ",\"ttl\":%u,", xs[n - 1 - i]);
		assert_non_null(strstr(body(&r), want));
	}
	free(r.body);
}

/* An HS_ADMIN's rights, each of the 4,096, as 12 bits highest first. */
static void test_admin_permissions(void **state)
{
	(void)state;
	http_resp r = {0};
	for (unsigned rights = 0; rights < 4096; rights++) {
		uint8_t adm[] = {(uint8_t)(rights >> 8),
		                 (uint8_t)rights,
		                 0,
		                 0,
		                 0,
		                 4,
		                 '8',
		                 '8',
		                 '.',
		                 '1',
		                 0,
		                 0,
		                 1,
		                 44};
		reset(&r);
		proto_value v = val(100, "HS_ADMIN", adm, sizeof(adm));
		api_json_value(&r, &v);
		char want[64] = "\"index\":300,\"permissions\":\"";
		size_t n = strlen(want);
		for (int i = 11; i >= 0; i--)
			want[n++] = (char)('0' + (rights >> i & 1));
		want[n] = 0;
		assert_non_null(strstr(body(&r), want));
	}
	free(r.body);
}

static void test_json_string_escapes(void **state)
{
	(void)state;
	http_resp r = {0};
	api_json_str(&r, idn_slice_of("a\x01\x7f\\b", 5));
	assert_string_equal(body(&r), "\"a\\u0001\\u007f\\\\b\"");
	reset(&r);
	api_json_str(&r, idn_slice_of("\xc3\xbc", 2)); /* valid UTF-8 passes */
	assert_string_equal(body(&r), "\"\xc3\xbc\"");
	reset(&r);
	api_json_str(&r, idn_slice_of("x\xff", 2)); /* invalid UTF-8: U+FFFD */
	assert_string_equal(body(&r), "\"x\\ufffd\"");
	free(r.body);
}

static void test_html_escapes(void **state)
{
	(void)state;
	http_resp r = {0};
	const char *in = "<a href='x'>\"&\"</a>";
	api_html(&r, idn_slice_of(in, strlen(in)));
	assert_string_equal(body(&r), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
	free(r.body);
}

static void test_pct_and_query(void **state)
{
	(void)state;
	uint8_t out[32];
	int n = api_pct_decode(idn_slice_of("88.1%2FA%20b+c", 14), false, out, sizeof(out));
	assert_int_equal(n, 10);
	assert_memory_equal(out, "88.1/A b+c", 10);
	n = api_pct_decode(idn_slice_of("a+b", 3), true, out, sizeof(out));
	assert_memory_equal(out, "a b", 3);
	assert_int_equal(api_pct_decode(idn_slice_of("%4", 2), false, out, sizeof(out)), -1);
	assert_int_equal(api_pct_decode(idn_slice_of("%zz", 3), false, out, sizeof(out)), -1);
	assert_int_equal(api_pct_decode(idn_slice_of("abcd", 4), false, out, 3), -1);
	/* the run before the first escape, copied whole: its bounds */
	assert_int_equal(api_pct_decode(idn_slice_of("abc", 3), false, out, 3), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(api_pct_decode(idn_slice_of("abc%41", 6), false, out, 3), -1);
	assert_int_equal(api_pct_decode(idn_slice_of("abc%41", 6), false, out, 4), 4);
	assert_memory_equal(out, "abcA", 4);
	assert_int_equal(api_pct_decode(idn_slice_of("%41bc", 5), false, out, 3), 3);
	assert_memory_equal(out, "Abc", 3);
	assert_int_equal(api_pct_decode(idn_slice_of("ab%", 3), false, out, sizeof(out)), -1);
	assert_int_equal(api_pct_decode(idn_slice_of(NULL, 0), false, out, sizeof(out)), 0);
	assert_int_equal(api_pct_decode(idn_slice_of(NULL, 0), false, out, 0), 0);
	assert_int_equal(api_query_has(idn_slice_of("a=1&noredirect", 14), "noredirect"), 1);
	assert_int_equal(api_query_has(idn_slice_of("noredirect=1", 12), "noredirect"), 1);
	assert_int_equal(api_query_has(idn_slice_of("xnoredirect", 11), "noredirect"), 0);
	assert_int_equal(api_query_has(idn_slice_of("", 0), "noredirect"), 0);
}

static void test_error_body(void **state)
{
	(void)state;
	http_resp r = {0};
	http_resp_error(&r, 413, 2, "too \"big\"");
	assert_int_equal(r.status, 413);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(body(&r), "{\"responseCode\":2,\"message\":\"too \\\"big\\\"\"}");
	free(r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_map),
	    cmocka_unit_test(test_value_formats),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_admin_permissions),
	    cmocka_unit_test(test_json_string_escapes),
	    cmocka_unit_test(test_html_escapes),
	    cmocka_unit_test(test_pct_and_query),
	    cmocka_unit_test(test_error_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
