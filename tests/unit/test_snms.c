/*
 * test_snms.c - the pure mappings of the SNMS management API
 * (src/api/api_snms_map.c): identifier bodies to Handle values and back
 * (auth to permissions, templateVersion to the TEMPLATE value, the HS_ADMIN
 * added for the caller, reserved indexes, unknown fields), the comparison a
 * retried create makes, and SNMS templates to TEMPLATE.DEF and back (a
 * definition made either way is one node/template.c accepts and enforces).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/snms.h"
#include "node/template.h"
#include "proto/reserved.h"

static const char *body(http_resp *r)
{
	http_resp_append(r, "", 1);
	r->len--;
	return (const char *)r->body;
}

static json_t *js(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);
	assert_non_null(j);
	return j;
}

/* Parses and encodes s; returns the count (or -1) with err. */
static int encode(const char *s, const char *tref, const ident *admin, uint8_t *buf, size_t cap,
                  size_t *len, char *err)
{
	json_t *d = js(s);
	snms_item it;
	int n = snms_item_parse(d, true, "", &it, err, 256);
	if (!n) {
		wire_wr w = wire_wr_init(buf, cap);
		n = snms_values_encode(&it, idn_slice_of(tref, strlen(tref)), admin, &w, "", err,
		                       256);
		*len = wire_wr_len(&w);
	}
	json_decref(d);
	return n;
}

static void test_body_to_values(void **state)
{
	(void)state;
	ident id = {.hlen = 13, .index = 300};
	memcpy(id.handle, "0.NA/88.100.7", 13);
	uint8_t buf[4096];
	size_t len;
	char err[256];
	int n = encode("{\"handle\":\"88.100.7/A\",\"templateVersion\":\"1.0\",\"value\":["
	               "{\"index\":1,\"type\":\"URL\",\"auth\":0,\"data\":{\"format\":\"string\","
	               "\"value\":\"https://x/a\"}},"
	               "{\"index\":2000,\"type\":\"model\",\"auth\":1,\"data\":{\"format\":"
	               "\"string\",\"value\":\"M1\"}}]}",
	               "88.100/TEMPLATE.1.0", &id, buf, sizeof(buf), &len, err);
	assert_int_equal(n, 4);
	proto_values_it it = proto_values_begin(idn_slice_of(buf, len), 4);
	proto_value v;
	assert_int_equal(proto_values_next(&it, &v), 1);
	assert_int_equal(v.index, 1);
	assert_int_equal(v.perms, 0x0e); /* auth 0: anyone reads */
	assert_int_equal(proto_values_next(&it, &v), 1);
	assert_int_equal(v.index, 2000);
	assert_int_equal(v.perms, 0x0c); /* auth 1: administrators only */
	assert_true(idn_slice_eq(v.type, IDN_SLICE("model")));
	assert_int_equal(proto_values_next(&it, &v), 1);
	assert_int_equal(v.index, 1001);
	assert_true(idn_slice_eq(v.type, IDN_SLICE("TEMPLATE")));
	assert_true(idn_slice_eq(v.data, IDN_SLICE("88.100/TEMPLATE.1.0")));
	assert_int_equal(proto_values_next(&it, &v), 1);
	assert_int_equal(v.index, 100);
	proto_admin a;
	assert_int_equal(proto_admin_decode(v.data, &a), 0);
	assert_int_equal(a.rights, PROTO_ADM_ALL);
	assert_int_equal(a.index, 300);
	assert_true(idn_slice_eq(a.handle, IDN_SLICE("0.NA/88.100.7")));

	/* Back: templateVersion from the TEMPLATE value, auth from the permissions. */
	http_resp r = {0};
	snms_values_json(&r, idn_slice_of(buf, len), 4);
	const char *b = body(&r);
	assert_non_null(strstr(b, "\"templateVersion\":\"1.0\""));
	assert_non_null(strstr(b, "{\"index\":2000,\"type\":\"model\",\"auth\":1"));
	assert_null(strstr(b, "\"index\":1001"));
	free(r.body);

	/* An HS_ADMIN of the body is kept alone; index 100 taken: the next one. */
	n = encode("{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":100,\"type\":\"URL\","
	           "\"data\":{\"format\":\"string\",\"value\":\"u\"}}]}",
	           "", &id, buf, sizeof(buf), &len, err);
	assert_int_equal(n, 2);
	it = proto_values_begin(idn_slice_of(buf, len), 2);
	proto_values_next(&it, &v);
	proto_values_next(&it, &v);
	assert_int_equal(v.index, 101);
	n = encode("{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":100,\"type\":\"HS_ADMIN\","
	           "\"data\":{\"format\":\"admin\",\"value\":{\"handle\":\"0.NA/88.100.7\","
	           "\"index\":300,\"permissions\":\"111111111111\"}}}]}",
	           "", &id, buf, sizeof(buf), &len, err);
	assert_int_equal(n, 1);
}

static void test_body_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *body, *want;
	} bad[] = {
	    {"[]", "expected an object"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[],\"extra\":1}", "extra: unknown field"},
	    {"{\"handle\":\"nosuffix\",\"value\":[{}]}", "handle: 'nosuffix' is not PREFIX/SUFFIX"},
	    {"{\"handle\":5,\"value\":[{}]}", "handle: expected a string"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[]}", "value: expected a non-empty array"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":{}}", "value: expected an array"},
	    {"{\"handle\":\"88.100.7/A\",\"templateVersion\":\"a/b\",\"value\":[{}]}",
	     "templateVersion: expected a string"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":1001,\"type\":\"TEMPLATE\","
	     "\"data\":{\"format\":\"string\",\"value\":\"x\"}}]}",
	     "value[0].index: 1001 is reserved"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":1999,\"type\":\"X\","
	     "\"data\":{\"format\":\"string\",\"value\":\"x\"}}]}",
	     "value[0].index: 1999 is reserved"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":2,\"type\":\"X\",\"auth\":7,"
	     "\"data\":{\"format\":\"string\",\"value\":\"x\"}}]}",
	     "value[0].auth: expected 0"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":2,\"type\":\"X\",\"idx\":7,"
	     "\"data\":{\"format\":\"string\",\"value\":\"x\"}}]}",
	     "value[0]: idx: unknown field"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":2,\"type\":\"X\","
	     "\"data\":{\"format\":\"string\",\"value\":\"x\",\"more\":1}}]}",
	     "value[0]: more: unknown field"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":\"2\",\"type\":\"X\","
	     "\"data\":{\"format\":\"string\",\"value\":\"x\"}}]}",
	     "value[0].index: expected an integer"},
	    {"{\"handle\":\"88.100.7/A\",\"value\":[{\"index\":2,\"type\":\"X\","
	     "\"data\":{\"format\":\"nope\",\"value\":\"x\"}}]}",
	     "value[0].data.format: 'nope'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t buf[1024];
		size_t len;
		char err[256] = "";
		assert_int_equal(encode(bad[i].body, "", NULL, buf, sizeof(buf), &len, err), -1);
		if (!strstr(err, bad[i].want))
			fail_msg("%s: got '%s', want '%s'", bad[i].body, err, bad[i].want);
	}
}

static void test_retry_compare(void **state)
{
	(void)state;
	ident id = {.hlen = 1, .index = 300, .handle = "x"};
	uint8_t a[2048], b[2048], c[2048];
	size_t la, lb, lc;
	char err[256];
	const char *one = "{\"handle\":\"1/A\",\"value\":[{\"index\":1,\"type\":\"URL\",\"data\":"
	                  "{\"format\":\"string\",\"value\":\"u\"}},{\"index\":2,\"type\":\"E\","
	                  "\"data\":{\"format\":\"string\",\"value\":\"e\"}}]}";
	/* The same values in another order are the same values. */
	const char *two = "{\"handle\":\"1/A\",\"value\":[{\"index\":2,\"type\":\"E\",\"data\":"
	                  "{\"format\":\"string\",\"value\":\"e\"}},{\"index\":1,\"type\":\"URL\","
	                  "\"data\":{\"format\":\"string\",\"value\":\"u\"}}]}";
	const char *other = "{\"handle\":\"1/A\",\"value\":[{\"index\":1,\"type\":\"URL\",\"data\":"
	                    "{\"format\":\"string\",\"value\":\"v\"}},{\"index\":2,\"type\":\"E\","
	                    "\"data\":{\"format\":\"string\",\"value\":\"e\"}}]}";
	int na = encode(one, "", &id, a, sizeof(a), &la, err);
	int nb = encode(two, "", &id, b, sizeof(b), &lb, err);
	int nc = encode(other, "", &id, c, sizeof(c), &lc, err);
	bool partial;
	assert_true(snms_values_same(idn_slice_of(a, la), (uint32_t)na, idn_slice_of(b, lb),
	                             (uint32_t)nb, &partial));
	assert_false(partial);
	assert_false(snms_values_same(idn_slice_of(a, la), (uint32_t)na, idn_slice_of(c, lc),
	                              (uint32_t)nc, &partial));
	/* One value fewer on either side differs. */
	assert_false(snms_values_same(idn_slice_of(a, la), (uint32_t)na, idn_slice_of(b, lb),
	                              (uint32_t)nb - 1, &partial));
}

static void test_template_both_ways(void **state)
{
	(void)state;
	json_t *t = js("{\"prefix\":\"88.100\",\"version\":\"1.0\",\"industryCategory\":\"C\","
	               "\"type\":1,\"description\":\"Motor\",\"items\":["
	               "{\"name\":\"model\",\"idType\":\"x\",\"idIndex\":2000,\"required\":1,"
	               "\"state\":1,\"metadata\":{\"type\":\"string\",\"minLength\":1,"
	               "\"maxLength\":8}},"
	               "{\"name\":\"made\",\"idIndex\":2001,\"required\":false,"
	               "\"metadata\":{\"type\":\"date\"}}]}");
	json_t *def, *meta;
	char err[256];
	assert_int_equal(snms_tmpl_to_def(t, &def, &meta, err, sizeof(err)), 0);
	char *ds = json_dumps(def, JSON_COMPACT), *ms = json_dumps(meta, JSON_COMPACT);
	/* idnode's own parser takes it, and enforces it. */
	tmpl *tp = NULL;
	assert_int_equal(tmpl_parse(idn_slice_of(ds, strlen(ds)), &tp, err, sizeof(err)), 0);
	assert_int_equal(tmpl_nfields(tp), 2);
	proto_value vals[2] = {
	    {.index = 2000, .type = IDN_SLICE("model"), .data = IDN_SLICE("TOO-LONG-MODEL")},
	    {.index = 2001, .type = IDN_SLICE("made"), .data = IDN_SLICE("2026-01-01")}};
	assert_int_not_equal(tmpl_check(tp, vals, 2, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "model"));
	vals[0].data = IDN_SLICE("M1");
	assert_int_equal(tmpl_check(tp, vals, 2, err, sizeof(err)), 0);
	assert_int_not_equal(tmpl_check(tp, vals + 1, 1, err, sizeof(err)), 0); /* required */
	tmpl_free(tp);

	/* Back to SNMS: the kept header and items' idIndex. */
	json_t *back =
	    snms_tmpl_from_def(idn_slice_of(ds, strlen(ds)), idn_slice_of(ms, strlen(ms)),
	                       IDN_SLICE("88.100"), IDN_SLICE("1.0"));
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "industryCategory")), "C");
	json_t *i0 = json_array_get(json_object_get(back, "items"), 0);
	assert_int_equal(json_integer_value(json_object_get(i0, "idIndex")), 2000);
	assert_int_equal(json_integer_value(json_object_get(i0, "required")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(i0, "metadata"), "maxLength")), 8);
	json_decref(back);

	/* A TEMPLATE.DEF written over Handle/REST: idIndex from 2000 by rank. */
	static const char hdl[] =
	    "{\"name\":\"M\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"},"
	    "{\"name\":\"b\",\"type\":\"number\",\"required\":true}]}";
	back = snms_tmpl_from_def(IDN_SLICE(hdl), idn_slice_of("", 0), IDN_SLICE("88.100"),
	                          IDN_SLICE("2"));
	json_t *i1 = json_array_get(json_object_get(back, "items"), 1);
	assert_int_equal(json_integer_value(json_object_get(i1, "idIndex")), 2001);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(i1, "metadata"), "type")), "number");
	assert_string_equal(json_string_value(json_object_get(back, "description")), "M");
	json_decref(back);
	free(ds);
	free(ms);
	json_decref(def);
	json_decref(meta);
	json_decref(t);
}

static void test_template_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *items, *want;
	} bad[] = {
	    {"[{\"name\":\"a\",\"idIndex\":1000}]", "items[0].idIndex: 1000 is reserved"},
	    {"[{\"name\":\"a\",\"idIndex\":1001}]", "items[0].idIndex: 1001 is reserved"},
	    {"[{\"name\":\"a\",\"idIndex\":1999}]", "items[0].idIndex: 1999 is reserved"},
	    {"[{\"name\":\"a\",\"idIndex\":1500}]", "items[0].idIndex: 1500 is below 2000"},
	    {"[{\"name\":\"a\",\"idIndex\":\"2000\"}]", "items[0].idIndex: expected an integer"},
	    {"[{\"idIndex\":2000}]", "items[0].name"},
	    {"[{\"name\":\"a\",\"idIndex\":2000,\"metadata\":{\"type\":\"blob\"}}]",
	     "items[0].metadata.type"},
	    {"[{\"name\":\"a\",\"idIndex\":2000,\"metadata\":{\"maxLength\":-1}}]",
	     "items[0].metadata.maxLength"},
	    {"[{\"name\":\"a\",\"idIndex\":2000,\"colour\":1}]", "items[0].colour: unknown field"},
	    {"[{\"name\":\"a\",\"idIndex\":2000},{\"name\":\"a\",\"idIndex\":2001}]",
	     "items[1]: name or idIndex repeats"},
	    {"[]", "items: expected an array of 1 to 256"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char doc[512], err[256] = "";
		snprintf(doc, sizeof(doc), "{\"prefix\":\"88.100\",\"version\":\"1\",\"items\":%s}",
		         bad[i].items);
		json_t *t = js(doc), *def, *meta;
		assert_int_equal(snms_tmpl_to_def(t, &def, &meta, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].want))
			fail_msg("%s: got '%s', want '%s'", bad[i].items, err, bad[i].want);
		json_decref(t);
	}
	json_t *t = js("{\"prefix\":\"88.100\",\"version\":\"1\",\"owner\":\"x\",\"items\":[]}");
	json_t *def, *meta;
	char err[256];
	assert_int_equal(snms_tmpl_to_def(t, &def, &meta, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "owner: unknown field"));
	json_decref(t);
}

static void test_array_split(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		long n;
		const char *second; /* the second element's text, if any */
	} cases[] = {
	    {"[]", 0, NULL},
	    {" [ ] \n", 0, NULL},
	    {"[1]", 1, NULL},
	    {"[{\"a\":[1,2],\"b\":\"x,]}\"}, \"q\\\",\" ]", 2, " \"q\\\",\" "},
	    {"[[1,[2]],{\"k\":{}}]", 2, "{\"k\":{}}"},
	    {"[1,]", -1, NULL},
	    {"[,1]", -1, NULL},
	    {"[1,,2]", -1, NULL},
	    {"[1", -1, NULL},
	    {"[\"abc]", -1, NULL},
	    {"[1] x", -1, NULL},
	    {"{\"a\":1}", -1, NULL},
	    {"", -1, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snms_span sp[4];
		idn_slice in = idn_slice_of(cases[i].in, strlen(cases[i].in));
		long n = snms_array_split(in, sp, 4);
		if (n != cases[i].n)
			fail_msg("'%s': %ld elements, want %ld", cases[i].in, n, cases[i].n);
		if (cases[i].second) {
			assert_int_equal(sp[1].len, strlen(cases[i].second));
			assert_memory_equal(cases[i].in + sp[1].off, cases[i].second, sp[1].len);
		}
	}
	/* A NUL is not whitespace; more elements than recorded are still counted. */
	assert_int_equal(snms_array_split(idn_slice_of("[1]\0", 4), NULL, 0), -1);
	snms_span one[1];
	assert_int_equal(snms_array_split(IDN_SLICE("[1,2,3]"), one, 1), 3);
	assert_int_equal(one[0].len, 1);
}

static void test_answers(void **state)
{
	(void)state;
	http_resp r = {0};
	snms_fail(&r, SNMS_NOT_LOGGED_IN, "token %s", "expired");
	assert_int_equal(r.status, 401);
	assert_string_equal(body(&r),
	                    "{\"status\":-1,\"message\":\"token expired\",\"data\":null}");
	snms_fail(&r, SNMS_BUSINESS, "x");
	assert_int_equal(r.status, 200);
	snms_fail(&r, SNMS_NO_PERMISSION, "x");
	assert_int_equal(r.status, 403);
	snms_fail(&r, SNMS_INTERNAL, "x");
	assert_int_equal(r.status, 500);
	assert_int_equal(snms_status_of_rc(PROTO_RC_INSUFFICIENT_PERMISSIONS), SNMS_NO_PERMISSION);
	assert_int_equal(snms_status_of_rc(PROTO_RC_HANDLE_ALREADY_EXISTS), SNMS_BUSINESS);
	assert_int_equal(snms_status_of_rc(PROTO_RC_ERROR), SNMS_INTERNAL);
	char h[64];
	assert_int_equal(snms_tmpl_handle(IDN_SLICE("88.100"), IDN_SLICE("1.0"), h, sizeof(h)), 19);
	assert_string_equal(h, "88.100/TEMPLATE.1.0");
	assert_int_equal(snms_tmpl_handle(IDN_SLICE("88.100"), IDN_SLICE("1.0"), h, 10), -1);
	free(r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_body_to_values),    cmocka_unit_test(test_body_refusals),
	    cmocka_unit_test(test_retry_compare),     cmocka_unit_test(test_template_both_ways),
	    cmocka_unit_test(test_template_refusals), cmocka_unit_test(test_answers),
	    cmocka_unit_test(test_array_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
