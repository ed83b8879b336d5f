/*
 * test_import.c - one JSON line -> storage key + record (node/import.h):
 * good lines against records built by hand with record_build(), and the
 * exact message of every error a line can have.
 *
 * Lines are passed as exact-size heap copies and the allocator hands out
 * exact-size blocks, so that ASan catches a read past the line or a write
 * past the result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/handle.h"
#include "node/import.h"
#include "proto/record.h"

enum { NOW = 1700000123, DTTL = 86400, DPERMS = 0x0e };

static idn_slice S(const char *s)
{
	return idn_slice_of(s, strlen(s));
}

struct heap {
	uint8_t *p;
	size_t len;
	int calls;
	bool fail;
};

static void *heap_alloc(void *arg, size_t len)
{
	struct heap *h = arg;
	h->calls++;
	if (h->fail)
		return NULL;
	free(h->p);
	h->p = malloc(len);
	h->len = len;
	return h->p;
}

struct result {
	int rc;
	bool bad_json;
	char msg[IMPORT_MSG_MAX];
	uint8_t key[HANDLE_KEY_MAX];
	uint32_t klen;
	uint8_t *rec; /* malloc'd */
	uint32_t rlen, nvalues;
};

/* Imports line[0 .. len) from an exact-size copy. */
static struct result import_n(import_ctx *c, const char *line, size_t len)
{
	struct result r = {0};
	struct heap h = {0};
	char *copy = malloc(len ? len : 1);
	memcpy(copy, line, len);
	import_out o;
	r.rc = import_line(c, copy, len, heap_alloc, &h, &o);
	if (r.rc == IDN_OK) {
		assert_int_equal(h.calls, 1);
		assert_ptr_equal(o.key.p, h.p);
		assert_ptr_equal(o.record.p, h.p + o.key.len);
		assert_true(o.key.len + o.record.len <= h.len);
		assert_true(o.key.len <= HANDLE_KEY_MAX);
		memcpy(r.key, o.key.p, o.key.len);
		r.klen = o.key.len;
		r.rec = malloc(o.record.len);
		memcpy(r.rec, o.record.p, o.record.len);
		r.rlen = o.record.len;
		r.nvalues = o.nvalues;
		assert_int_equal(record_check(o.record), IDN_OK);
	} else {
		assert_int_equal(h.calls, 0);
		if (r.rc == IDN_EINVAL) {
			snprintf(r.msg, sizeof(r.msg), "%s", import_msg(c));
			r.bad_json = import_bad_json(c);
		}
	}
	free(h.p);
	free(copy);
	return r;
}

static struct result import_s(import_ctx *c, const char *line)
{
	return import_n(c, line, strlen(line));
}

static import_ctx *ctx(bool case_sensitive)
{
	import_opts o = {.case_sensitive = case_sensitive, .now = NOW};
	import_ctx *c = import_new(&o);
	assert_non_null(c);
	return c;
}

static void expect_record(import_ctx *c, const char *line, const char *key, const proto_value *v,
                          uint32_t n)
{
	struct result r = import_s(c, line);
	if (r.rc != IDN_OK)
		fail_msg("%s\n  rejected: %s", line, r.msg);
	assert_int_equal(r.klen, strlen(key));
	assert_memory_equal(r.key, key, r.klen);
	assert_int_equal(r.nvalues, n);
	size_t want = record_size(v, n);
	uint8_t *buf = malloc(want);
	assert_int_equal(record_build(v, n, buf, want), (int)want);
	assert_int_equal(r.rlen, want);
	assert_memory_equal(r.rec, buf, want);
	free(buf);
	free(r.rec);
}

/* A value with the defaults of a line that gives only index, type and data. */
static proto_value V(uint32_t index, const char *type, idn_slice data)
{
	return (proto_value){.index = index,
	                     .timestamp = NOW,
	                     .ttl = DTTL,
	                     .perms = DPERMS,
	                     .type = S(type),
	                     .data = data};
}

static void test_good(void **state)
{
	(void)state;
	import_ctx *c = ctx(true);

	proto_value x[2] = {V(1, "URL", S("https://example.com/x")),
	                    V(2, "EMAIL", S("qa@example.com"))};
	x[1].ttl = 3600;
	expect_record(c,
	              "{\"handle\":\"88.100.1/X\",\"values\":[{\"index\":1,\"type\":\"URL\","
	              "\"data\":\"https://example.com/x\"},{\"index\":2,\"type\":\"EMAIL\","
	              "\"data\":\"qa@example.com\",\"ttl\":3600}]}",
	              "88.100.1/X", x, 2);

	/* Key order is free; whitespace anywhere, a CR before the newline. */
	expect_record(c,
	              " { \"values\" : [ { \"data\" : \"https://example.com/x\" , \"type\" : "
	              "\"URL\" , \"index\" : 1 } ] ,\t\"handle\" : \"88.100.1/X\" }\r",
	              "88.100.1/X", x, 1);

	/* The prefix is upper-cased; the suffix too when case-insensitive. */
	proto_value u = V(1, "URL", S("u"));
	const char *mixed = "{\"handle\":\"88.abc.1/Motor-x\",\"values\":[{\"index\":1,"
	                    "\"type\":\"URL\",\"data\":\"u\"}]}";
	expect_record(c, mixed, "88.ABC.1/Motor-x", &u, 1);
	import_ctx *ci = ctx(false);
	expect_record(ci, mixed, "88.ABC.1/MOTOR-X", &u, 1);
	import_free(ci);

	/* Escapes in the handle, the type and the data. */
	proto_value esc = V(1, "T\"1", S("a\"b\\\xc3\xa9\n\xf0\x9f\x98\x80"));
	expect_record(c,
	              "{\"handle\":\"88.100.1\\/caf\\u00e9\",\"values\":[{\"index\":1,"
	              "\"type\":\"T\\\"1\",\"data\":\"a\\\"b\\\\\\u00e9\\n\\ud83d\\ude00\"}]}",
	              "88.100.1/caf\xc3\xa9", &esc, 1);

	/* Every optional field, the data formats, references; unknown top-level
	 * keys are skipped whatever they hold. */
	static const uint8_t refs[] = {0,   0,   0,   10,  '8', '8', '.', '1', '0', '0',
	                               '.', '1', '/', 'X', 0,   0,   0,   1,   0,   0,
	                               0,   3,   'a', '/', 'b', 0,   0,   0,   0};
	proto_value y[6] = {
	    V(1, "BIN", idn_slice_of("\x0f\xff\x00", 3)),
	    V(2, "TXT", S("hello")),
	    V(3, "HS_VLIST", S("")),
	    V(4, "PLAIN", S("\xc3\xa9\n")),
	    V(2000, "B64", S("hi")),
	    V(2147483647, "HEX", S("")),
	};
	y[1].ttl_type = 1;
	y[1].ttl = 1900000000;
	y[1].perms = 15;
	y[1].timestamp = 1714558830;
	y[2].nrefs = 2;
	y[2].refs = idn_slice_of(refs, sizeof(refs));
	y[2].timestamp = 1700000000;
	y[3].ttl = 0;
	y[3].perms = 0;
	y[3].ttl_type = 0;
	y[4].perms = 8;
	y[4].ttl_type = 1;
	y[4].timestamp = 1714530030;
	y[5].timestamp = 0;
	expect_record(
	    c,
	    "{\"handle\":\"88.100.1/Y-Gr\xc3\xbc\xc3\x9f\x65\",\"comment\":\"ignored\","
	    "\"nested\":{\"a\":[1,2.5e3,null,true,{\"b\":\"c\\u00e9\"}]},\"values\":["
	    "{\"index\":1,\"type\":\"BIN\",\"data\":{\"format\":\"hex\",\"value\":\"0fFF00\"}},"
	    "{\"index\":2,\"type\":\"TXT\",\"data\":{\"value\":\"aGVsbG8=\",\"format\":\"base64\"},"
	    "\"ttl_type\":\"absolute\",\"ttl\":1900000000,\"perms\":15,"
	    "\"timestamp\":\"2024-05-01T10:20:30Z\"},"
	    "{\"index\":3,\"type\":\"HS_VLIST\",\"data\":\"\",\"references\":[{\"handle\":"
	    "\"88.100.1/X\",\"index\":1},{\"index\":0,\"handle\":\"a/"
	    "b\"}],\"timestamp\":1700000000},"
	    "{\"index\":4,\"type\":\"PLAIN\",\"data\":{\"format\":\"string\",\"value\":"
	    "\"\\u00e9\\n\"},\"ttl\":0,\"permissions\":0,\"ttlType\":\"relative\"},"
	    "{\"index\":2000,\"type\":\"B64\",\"data\":{\"format\":\"base64\",\"value\":\"aGk\"},"
	    "\"perms\":8,\"ttlType\":1,\"timestamp\":\"2024-05-01t10:20:30.125+08:00\"},"
	    "{\"index\":2147483647,\"type\":\"HEX\",\"data\":{\"format\":\"hex\",\"value\":\"\"},"
	    "\"timestamp\":0,\"references\":[],\"ttl_type\":0}"
	    "],\"trailer\":[]}",
	    "88.100.1/Y-Gr\xc3\xbc\xc3\x9f\x65", y, 6);

	/* ISO 8601 forms, and the limits of unix seconds. */
	static const struct {
		const char *text;
		uint32_t t;
	} iso[] = {
	    {"\"2000-02-29T23:59:59-05:30\"", 951888599},
	    {"\"2000-02-29 23:59:59-05:30\"", 951888599},
	    {"\"2038-01-19T03:14:07Z\"", 2147483647},
	    {"\"1970-01-01T00:00:00z\"", 0},
	    {"\"2016-12-31T23:59:60Z\"", 1483228800}, /* a leap second */
	    {"\"2024-05-01T10:20:30.5Z\"", 1714558830},
	    {"2147483647", 2147483647},
	};
	for (size_t i = 0; i < sizeof(iso) / sizeof(iso[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line),
		         "{\"handle\":\"1/t\",\"values\":[{\"index\":1,\"type\":\"T\","
		         "\"data\":\"d\",\"timestamp\":%s}]}",
		         iso[i].text);
		proto_value t = V(1, "T", S("d"));
		t.timestamp = iso[i].t;
		expect_record(c, line, "1/t", &t, 1);
	}

	/* Base64 with and without padding, standard alphabet. */
	static const struct {
		const char *b64, *bytes;
	} b64[] = {
	    {"", ""},
	    {"YQ==", "a"},
	    {"YQ", "a"},
	    {"YWI=", "ab"},
	    {"YWI", "ab"},
	    {"YWJj", "abc"},
	    {"+/+/", "\xfb\xff\xbf"},
	    {"AAAA", "\0\0\0"},
	};
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line),
		         "{\"handle\":\"1/b\",\"values\":[{\"index\":1,\"type\":\"T\","
		         "\"data\":{\"format\":\"base64\",\"value\":\"%s\"}}]}",
		         b64[i].b64);
		size_t n = strlen(b64[i].b64), len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
		if (n >= 2 && b64[i].b64[n - 1] == '=')
			len -= b64[i].b64[n - 2] == '=' ? 2 : 1;
		proto_value t = V(1, "T", idn_slice_of(b64[i].bytes, len));
		expect_record(c, line, "1/b", &t, 1);
	}
	import_free(c);
}

/* Many values (the sorted duplicate check, growing the context), and a long line. */
static void test_many(void **state)
{
	(void)state;
	import_ctx *c = ctx(true);
	enum { N = 1000 };
	size_t cap = 64 * N + 64;
	char *line = malloc(cap);
	proto_value *v = malloc(N * sizeof(*v));
	char(*types)[16] = malloc(N * sizeof(*types));
	size_t o = (size_t)snprintf(line, cap, "{\"handle\":\"88.1/many\",\"values\":[");
	for (int i = 0; i < N; i++) {
		snprintf(types[i], sizeof(types[i]), "T%d", i);
		o += (size_t)snprintf(line + o, cap - o,
		                      "%s{\"index\":%d,\"type\":\"%s\",\"data\":\"\\u0041%d\"}",
		                      i ? "," : "", N - i, types[i], i);
		v[i] = V((uint32_t)(N - i), types[i], S(""));
	}
	snprintf(line + o, cap - o, "]}");
	/* the data are decoded into the scratch: build them the same way */
	char(*data)[16] = malloc(N * sizeof(*data));
	for (int i = 0; i < N; i++) {
		snprintf(data[i], sizeof(data[i]), "A%d", i);
		v[i].data = S(data[i]);
	}
	expect_record(c, line, "88.1/many", v, N);

	/* A short line after the long one, then the long one again. */
	proto_value one = V(1, "U", S("u"));
	expect_record(
	    c, "{\"handle\":\"1/s\",\"values\":[{\"index\":1,\"type\":\"U\",\"data\":\"u\"}]}",
	    "1/s", &one, 1);
	expect_record(c, line, "88.1/many", v, N);

	/* One index used twice among many: the message names both values. */
	char *p = strstr(line, "\"index\":700,");
	assert_non_null(p);
	memcpy(p, "\"index\":998,", 12); /* values[300] repeats values[2]'s 998 */
	struct result r = import_s(c, line);
	assert_int_equal(r.rc, IDN_EINVAL);
	assert_string_equal(r.msg, "values[300].index: 998 is already used by values[2]");
	free(line);
	free(v);
	free(types);
	free(data);
	import_free(c);
}

static void test_blank(void **state)
{
	(void)state;
	import_ctx *c = ctx(true);
	assert_int_equal(import_n(c, "", 0).rc, IMPORT_BLANK);
	assert_int_equal(import_s(c, "   ").rc, IMPORT_BLANK);
	assert_int_equal(import_s(c, " \t\r").rc, IMPORT_BLANK);
	import_free(c);
}

#define H          "{\"handle\":\"88.100.1/E\","
#define VS         "\"values\":["
#define VAL(extra) "{\"index\":1,\"type\":\"U\",\"data\":\"u\"" extra "}"
#define LINE(vals) H VS vals "]}"
#define DATA(obj)  LINE("{\"index\":1,\"type\":\"U\",\"data\":" obj "}")
#define REFS(refs) LINE(VAL(",\"references\":" refs))

static const struct {
	const char *line;
	const char *msg;
} errors[] = {
    /* the line */
    {"[" LINE(VAL("")) "]", "a line must be one JSON object {\"handle\":...,\"values\":[...]}"},
    {"\"88.100.1/E\"", "a line must be one JSON object {\"handle\":...,\"values\":[...]}"},
    {"{" VS VAL("") "]}", "handle: missing"},
    {"{\"handle\":\"88.100.1/E\"}", "values: missing"},
    {"{}", "handle: missing"},
    {H "\"handle\":\"88.100.1/E\"," VS VAL("") "]}", "handle: given twice"},
    {H VS VAL("") "]," VS VAL("") "]}", "values: given twice"},
    /* the handle */
    {"{\"handle\":\"88.100.1-no-slash\"," VS VAL("") "]}",
     "handle: must be PREFIX/SUFFIX (there is no '/')"},
    {"{\"handle\":\"/X\"," VS VAL("") "]}", "handle: the prefix before '/' is empty"},
    {"{\"handle\":\"88.1/\"," VS VAL("") "]}", "handle: the suffix after '/' is empty"},
    {"{\"handle\":\"\"," VS VAL("") "]}", "handle: must not be empty"},
    {"{\"handle\":\"88.1/a\\u0000b\"," VS VAL("") "]}", "handle: must not contain NUL (\\u0000)"},
    {"{\"handle\":5," VS VAL("") "]}", "handle: must be a string"},
    {"{\"handle\":null," VS VAL("") "]}", "handle: must be a string"},
    {"{\"handle\":\"88.1/\xc3\"," VS VAL("") "]}", "handle: not valid UTF-8"},
    /* values */
    {H "\"values\":{}}", "values: must be an array of values"},
    {H "\"values\":\"x\"}", "values: must be an array of values"},
    {LINE(""), "values: must not be empty"},
    {LINE("1"), "values[0]: must be an object"},
    {LINE(VAL("") ",[]"), "values[1]: must be an object"},
    {LINE("{\"type\":\"U\",\"data\":\"u\"}"), "values[0].index: missing"},
    {LINE("{\"index\":1,\"data\":\"u\"}"), "values[0].type: missing"},
    {LINE("{\"index\":1,\"type\":\"U\"}"), "values[0].data: missing"},
    {LINE("{}"), "values[0].index: missing"},
    {LINE(VAL("") "," VAL("")), "values[1].index: 1 is already used by values[0]"},
    {LINE("{\"index\":7,\"type\":\"U\",\"data\":\"u\"},{\"index\":8,\"type\":\"U\",\"data\":"
          "\"u\"},{\"index\":7,\"type\":\"U\",\"data\":\"v\"}"),
     "values[2].index: 7 is already used by values[0]"},
    /* index, ttl, perms, ttl_type, timestamp */
    {LINE("{\"index\":0,\"type\":\"U\",\"data\":\"u\"}"),
     "values[0].index: must be an integer 1..2147483647"},
    {LINE("{\"index\":2147483648,\"type\":\"U\",\"data\":\"u\"}"),
     "values[0].index: must be an integer 1..2147483647"},
    {LINE("{\"index\":-1,\"type\":\"U\",\"data\":\"u\"}"),
     "values[0].index: must be an integer 1..2147483647"},
    {LINE("{\"index\":1.0,\"type\":\"U\",\"data\":\"u\"}"),
     "values[0].index: must be an integer 1..2147483647"},
    {LINE("{\"index\":1e2,\"type\":\"U\",\"data\":\"u\"}"),
     "values[0].index: must be an integer 1..2147483647"},
    {LINE("{\"index\":\"1\",\"type\":\"U\",\"data\":\"u\"}"),
     "values[0].index: must be an integer 1..2147483647"},
    {LINE("{\"index\":99999999999999999999999,\"type\":\"U\",\"data\":\"u\"}"),
     "values[0].index: must be an integer 1..2147483647"},
    {LINE(VAL(",\"index\":2")), "values[0].index: given twice"},
    {LINE(VAL(",\"ttl\":\"3600\"")), "values[0].ttl: must be an integer 0..2147483647"},
    {LINE(VAL(",\"ttl\":-1")), "values[0].ttl: must be an integer 0..2147483647"},
    {LINE(VAL(",\"ttl\":2147483648")), "values[0].ttl: must be an integer 0..2147483647"},
    {LINE(VAL(",\"ttl\":1,\"ttl\":2")), "values[0].ttl: given twice"},
    {LINE(VAL(",\"perms\":16")), "values[0].perms: must be an integer 0..15"},
    {LINE(VAL(",\"permissions\":-0.5")), "values[0].perms: must be an integer 0..15"},
    {LINE(VAL(",\"perms\":1,\"permissions\":2")),
     "values[0].permissions: given twice (perms and permissions are one field)"},
    {LINE(VAL(",\"ttl_type\":\"sometimes\"")),
     "values[0].ttl_type: must be \"relative\" or \"absolute\" (or 0/1)"},
    {LINE(VAL(",\"ttlType\":true")),
     "values[0].ttl_type: must be \"relative\" or \"absolute\" (or 0/1)"},
    {LINE(VAL(",\"ttl_type\":2")), "values[0].ttl_type: must be an integer 0..1"},
    {LINE(VAL(",\"ttlType\":1,\"ttl_type\":1")),
     "values[0].ttl_type: given twice (ttl_type and ttlType are one field)"},
    {LINE(VAL(",\"timestamp\":\"2024-02-30T00:00:00Z\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":\"2023-02-29T00:00:00Z\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":\"2038-01-19T03:14:08Z\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":\"1969-12-31T23:59:59Z\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":\"2024-05-01T10:20:30\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":\"2024-05-01T24:00:00Z\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":\"2024-05-01T10:20:30+0800\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":\"2024-05-01T10:20:30.Z\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":\"\"")),
     "values[0].timestamp: must be unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)"},
    {LINE(VAL(",\"timestamp\":-5")), "values[0].timestamp: must be an integer 0..2147483647"},
    {LINE(VAL(",\"timestamp\":true")), "values[0].timestamp: must be an integer 0..2147483647"},
    /* type */
    {LINE("{\"index\":1,\"type\":\"\",\"data\":\"u\"}"), "values[0].type: must not be empty"},
    {LINE("{\"index\":1,\"type\":\"a\\u0000\",\"data\":\"u\"}"),
     "values[0].type: contains a NUL byte"},
    {LINE("{\"index\":1,\"type\":\"HS_ADMIN \",\"data\":\"u\"}"),
     "values[0].type: has whitespace at its start or end"},
    {LINE("{\"index\":1,\"type\":\"A\\u0001B\",\"data\":\"u\"}"),
     "values[0].type: contains a control character"},
    {LINE("{\"index\":1,\"type\":\"hs_vlist\",\"data\":\"u\"}"),
     "values[0].type: differs from a reserved type only by case"},
    {LINE("{\"index\":1,\"type\":1,\"data\":\"u\"}"), "values[0].type: must be a string"},
    {LINE(VAL(",\"type\":\"V\"")), "values[0].type: given twice"},
    /* data */
    {DATA("5"), "values[0].data: must be a string or {\"format\":...,\"value\":...}"},
    {DATA("[]"), "values[0].data: must be a string or {\"format\":...,\"value\":...}"},
    {DATA("{\"format\":\"hex\"}"), "values[0].data.value: missing"},
    {DATA("{\"value\":\"00\"}"), "values[0].data.format: missing (string, hex or base64)"},
    {DATA("{}"), "values[0].data.format: missing (string, hex or base64)"},
    {DATA("{\"format\":\"hex\",\"format\":\"hex\"}"), "values[0].data.format: given twice"},
    {DATA("{\"value\":\"0\",\"value\":\"0\"}"), "values[0].data.value: given twice"},
    {DATA("{\"format\":5,\"value\":\"0\"}"), "values[0].data.format: must be a string"},
    {DATA("{\"format\":\"hex\",\"value\":0}"), "values[0].data.value: must be a string"},
    {DATA("{\"format\":\"hex\",\"value\":\"00\",\"x\":1}"), "values[0].data.x: unknown field"},
    {DATA("{\"format\":\"hex\",\"value\":\"0g\"}"),
     "values[0].data.value: bad hex digit at offset 1"},
    {DATA("{\"format\":\"hex\",\"value\":\"x0\"}"),
     "values[0].data.value: bad hex digit at offset 0"},
    {DATA("{\"format\":\"hex\",\"value\":\"abc\"}"),
     "values[0].data.value: odd number of hex digits"},
    {DATA("{\"format\":\"base64\",\"value\":\"a$==\"}"),
     "values[0].data.value: bad base64 character at offset 1"},
    {DATA("{\"format\":\"base64\",\"value\":\"ab=c\"}"),
     "values[0].data.value: bad base64 character at offset 2"},
    {DATA("{\"format\":\"base64\",\"value\":\"abcde\"}"),
     "values[0].data.value: bad base64: wrong length"},
    {DATA("{\"format\":\"base64\",\"value\":\"a===\"}"),
     "values[0].data.value: bad base64 character at offset 1"},
    {DATA("{\"format\":\"octal\",\"value\":\"17\"}"),
     "values[0].data.format: unknown format \"octal\" (string, hex or base64)"},
    {DATA("{\"format\":\"HEX\",\"value\":\"17\"}"),
     "values[0].data.format: unknown format \"HEX\" (string, hex or base64)"},
    {DATA("{\"format\":\"o\\u0001\\\"\\\\\",\"value\":\"17\"}"),
     "values[0].data.format: unknown format \"o\\x01\\x22\\x5c\" (string, hex or base64)"},
    {DATA("{\"format\":\"0123456789012345678901234567890123456789-and-more\",\"value\":\"\"}"),
     "values[0].data.format: unknown format \"0123456789012345678901234567890123456789...\" "
     "(string, hex or base64)"},
    {DATA("{\"format\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
          "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\",\"value\":\"\"}"),
     /* cut at 40 bytes, then back to a character boundary (which drops the
      * 20th character even when it was whole) */
     "values[0].data.format: unknown format \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9...\" (string, hex or base64)"},
    {DATA("{\"format\":\"hex\",\"value\":\"\xff\"}"), "values[0].data.value: not valid UTF-8"},
    {LINE(VAL(",\"data\":\"v\"")), "values[0].data: given twice"},
    /* unknown keys in a value */
    {LINE(VAL(",\"tll\":5")), "values[0].tll: unknown field"},
    {LINE(VAL(",\"\":5")), "values[0]: unknown field"},
    {LINE(VAL(",\"a\\u0001\\\"\\u007f\":5")), "values[0].a\\x01\\x22\\x7f: unknown field"},
    {LINE(VAL("") "," VAL(",\"Index\":5")), "values[1].Index: unknown field"},
    /* references */
    {REFS("\"x\""), "values[0].references: must be an array"},
    {REFS("{}"), "values[0].references: must be an array"},
    {REFS("[1]"), "values[0].references[0]: must be an object {\"handle\":...,\"index\":...}"},
    {REFS("[{\"handle\":\"88.100.1/X\"}]"), "values[0].references[0].index: missing"},
    {REFS("[{\"index\":1}]"), "values[0].references[0].handle: missing"},
    {REFS("[{\"handle\":\"nohandle\",\"index\":1}]"),
     "values[0].references[0].handle: must be PREFIX/SUFFIX (there is no '/')"},
    {REFS("[{\"handle\":\"\",\"index\":1}]"), "values[0].references[0].handle: must not be empty"},
    {REFS("[{\"handle\":1,\"index\":1}]"), "values[0].references[0].handle: must be a string"},
    {REFS("[{\"handle\":\"a/b\",\"index\":-1}]"),
     "values[0].references[0].index: must be an integer 0..2147483647"},
    {REFS("[{\"handle\":\"a/b\",\"index\":0},{\"handle\":\"a/\",\"index\":0}]"),
     "values[0].references[1].handle: the suffix after '/' is empty"},
    {REFS("[{\"handle\":\"a/b\",\"index\":0,\"x\":1}]"),
     "values[0].references[0].x: unknown field"},
    {REFS("[{\"handle\":\"a/b\",\"handle\":\"a/b\",\"index\":0}]"),
     "values[0].references[0].handle: given twice"},
    {REFS("[{\"index\":0,\"handle\":\"a/b\",\"index\":0}]"),
     "values[0].references[0].index: given twice"},
    {REFS("[]"
          ",\"references\":[]"),
     "values[0].references: given twice"},
    /* a broken line is reported as broken JSON, whatever came first */
    {"{\"handle\":\"88.100.1/BAD1\",\"values\":[",
     "invalid JSON at column 37: unexpected end of line"},
    {"{\"handle\":5,\"values\":[", "invalid JSON at column 23: unexpected end of line, "
                                   "expected a value"},
    {LINE(VAL("")) " x", "invalid JSON at column 70: text after the object (one object per line)"},
    {LINE(VAL("")) "{}", "invalid JSON at column 69: text after the object (one object per line)"},
    {H "\"x\":[1,,2]," VS VAL("") "]}", "invalid JSON at column 31: expected a value"},
    {H "\"x\":\"\xff\"," VS VAL("") "]}", "invalid JSON at column 29: invalid UTF-8 in a string"},
    {H "\"\xff\":1," VS VAL("") "]}", "invalid JSON at column 25: invalid UTF-8 in a string"},
    {LINE(VAL(",\"tll\":5,")), "invalid JSON at column 75: expected a string key"},
    {LINE("{\"index\":1,\"type\":\"U\",\"data\":\"u\"]}"),
     "invalid JSON at column 66: expected ',' or '}'"},
    {"{\"handle\":\"88.100.1/E\",\"values\":[{\"index\":01,\"type\":\"U\",\"data\":\"u\"}]}",
     "invalid JSON at column 44: expected ',' or '}'"},
    {"{\"handle\":\"a\\q\"}", "invalid JSON at column 13: bad escape in a string"},
    {"{\"handle\":\"88.1/\\ud800\"," VS VAL("") "]}",
     "invalid JSON at column 17: lone high surrogate in \\u escape"},
    {"{\"handle\":\"88.1/\t\"," VS VAL("") "]}",
     "invalid JSON at column 17: control character in a string (escape it)"},
};

static void test_errors(void **state)
{
	(void)state;
	import_ctx *c = ctx(true);
	int failed = 0;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		struct result r = import_s(c, errors[i].line);
		bool json = strncmp(r.msg, "invalid JSON", 12) == 0 ||
		            strstr(r.msg, "not valid UTF-8") != NULL;
		if (r.rc != IDN_EINVAL || strcmp(r.msg, errors[i].msg) != 0 || r.bad_json != json) {
			print_error("line %zu: %s\n  expected: %s\n  got (%d, bad_json %d): %s\n",
			            i, errors[i].line, errors[i].msg, r.rc, r.bad_json, r.msg);
			failed++;
		}
		free(r.rec);
	}
	import_free(c);
	assert_int_equal(failed, 0);
}

/* Handles at the length limit, built at run time. */
static void test_long_handle(void **state)
{
	(void)state;
	import_ctx *c = ctx(true);
	enum { CAP = PROTO_HANDLE_MAX + 128 };
	char *line = malloc(CAP), *h = malloc(PROTO_HANDLE_MAX + 2);
	for (size_t len = PROTO_HANDLE_MAX; len <= PROTO_HANDLE_MAX + 1; len++) {
		memset(h, 'L', len);
		h[2] = '/';
		h[len] = 0;
		snprintf(
		    line, CAP,
		    "{\"handle\":\"%s\",\"values\":[{\"index\":1,\"type\":\"U\",\"data\":\"u\"}]}",
		    h);
		if (len == PROTO_HANDLE_MAX) {
			proto_value v = V(1, "U", S("u"));
			expect_record(c, line, h, &v, 1);
		} else {
			struct result r = import_s(c, line);
			assert_int_equal(r.rc, IDN_EINVAL);
			assert_string_equal(r.msg, "handle: longer than 2048 bytes");
		}
	}
	free(line);
	free(h);
	import_free(c);
}

/*
 * A record whose answer no transport carries is refused at the exact bound
 * (record_servable_max, or a lower max_record), naming "values"; a restore
 * (IMPORT_ANY_SIZE) keeps it.
 */
static void test_record_too_big(void **state)
{
	(void)state;
	static const char h[] = "88.1/BIG";
	size_t max = record_servable_max(sizeof(h) - 1);
	enum { CAP = 300000 };
	char *line = malloc(CAP), *data = malloc(CAP);
	/* A record of one value is a fixed overhead plus the data: measured on one byte. */
	snprintf(line, CAP,
	         "{\"handle\":\"%s\",\"values\":[{\"index\":1,\"type\":\"U\",\"data\":\"x\"}]}", h);
	import_ctx *c1 = ctx(true);
	struct result one = import_s(c1, line);
	assert_int_equal(one.rc, IDN_OK);
	size_t data_fit = max - (one.rlen - 1);
	free(one.rec);
	import_free(c1);
	for (size_t d = data_fit; d <= data_fit + 1; d++) {
		memset(data, 'x', d);
		data[d] = 0;
		snprintf(
		    line, CAP,
		    "{\"handle\":\"%s\",\"values\":[{\"index\":1,\"type\":\"U\",\"data\":\"%s\"}]}",
		    h, data);
		import_ctx *c = ctx(true);
		struct result r = import_s(c, line);
		if (d == data_fit) {
			assert_int_equal(r.rc, IDN_OK);
			assert_int_equal(r.rlen, max);
		} else {
			assert_int_equal(r.rc, IDN_EINVAL);
			assert_non_null(strstr(r.msg, "values: the record ("));
			assert_non_null(strstr(r.msg, "is too large to serve"));
		}
		free(r.rec);
		import_free(c);
		import_opts any = {
		    .case_sensitive = true, .now = NOW, .max_record = IMPORT_ANY_SIZE};
		c = import_new(&any);
		r = import_s(c, line);
		assert_int_equal(r.rc, IDN_OK);
		free(r.rec);
		import_free(c);
		import_opts low = {.case_sensitive = true, .now = NOW, .max_record = 100};
		c = import_new(&low);
		r = import_s(c, line);
		assert_int_equal(r.rc, IDN_EINVAL);
		import_free(c);
	}
	free(line);
	free(data);
}

/*
 * Every prefix of good lines is refused as broken JSON (or is blank), from an
 * exact-size copy; and the whole line still loads after all of them.
 */
static void test_truncation(void **state)
{
	(void)state;
	import_ctx *c = ctx(true);
	static const char *const lines[] = {
	    (" {\"handle\":\"88.100.1/X\",\"values\":[{\"index\":1,\"type\":\"URL\",\"data\":"
	     "\"https://example.com/x\",\"ttl\":60,\"perms\":15,\"ttl_type\":\"absolute\","
	     "\"timestamp\":\"2024-05-01T10:20:30Z\"}]}"),
	    ("{\"x\":[1,{\"y\":null}],\"handle\":\"88.1/caf\\u00e9\\ud83d\\ude00\",\"values\":[{"
	     "\"index\":1,\"type\":\"B\",\"data\":{\"format\":\"base64\",\"value\":\"aGVsbG8=\"},"
	     "\"references\":[{\"handle\":\"88.1/r\",\"index\":2}]},{\"index\":2,\"type\":\"H\","
	     "\"data\":{\"format\":\"hex\",\"value\":\"00ff\"}}]}"),
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t n = strlen(lines[i]);
		for (size_t len = 0; len < n; len++) {
			struct result r = import_n(c, lines[i], len);
			if (len <= 1 && r.rc == IMPORT_BLANK)
				continue;
			if (r.rc != IDN_EINVAL || !r.bad_json ||
			    strncmp(r.msg, "invalid JSON at column ", 23) != 0)
				fail_msg("line %zu cut at %zu: rc %d: %s", i, len, r.rc, r.msg);
		}
		struct result r = import_n(c, lines[i], n);
		assert_int_equal(r.rc, IDN_OK);
		free(r.rec);
	}
	import_free(c);
}

static void test_nomem_and_format(void **state)
{
	(void)state;
	import_ctx *c = ctx(true);
	const char *line = LINE(VAL(""));
	char *copy = strdup(line);
	struct heap h = {.fail = true};
	import_out o;
	assert_int_equal(import_line(c, copy, strlen(copy), heap_alloc, &h, &o), IDN_ENOMEM);
	assert_int_equal(h.calls, 1);
	h.fail = false;
	assert_int_equal(import_line(c, copy, strlen(copy), heap_alloc, &h, &o), IDN_OK);
	assert_memory_equal(o.handle.p, "88.100.1/E", 10);
	assert_int_equal(o.nvalues, 1);
	assert_int_equal(o.values[0].index, 1);
	free(h.p);
	free(copy);

	char buf[64];
	assert_int_equal(import_format(buf, sizeof(buf), "ids.jsonl", 12, "handle: missing"), 29);
	assert_string_equal(buf, "ids.jsonl:12: handle: missing");
	assert_int_equal(import_format(buf, 8, "ids.jsonl", 12, "x"), 15);
	assert_string_equal(buf, "ids.jso");
	import_free(c);
	import_free(NULL);
}

/* import_key gives import_line's key, or 0 when only a full parse can tell. */
static void test_key(void **state)
{
	(void)state;
	static const char *const same[] = {
	    "{\"handle\":\"88.100.a/Xy\",\"values\":[]}",
	    (" { \"handle\" : \"88.100.a/Xy\",\"values\":[{\"index\":1,\"type\":\"URL\","
	     "\"data\":\"u\"}]}"),
	    "{\"handle\":\"88.100.a/\xc3\xa9\",\"values\":[",
	};
	static const char *const unknown[] = {
	    "{\"values\":[],\"handle\":\"88.100.a/Xy\"}",
	    "{\"handle\":\"88.100.a\\/Xy\",\"values\":[]}",
	    "{\"handle\":\"88.100.a\"}",
	    "{\"handle\":\"/Xy\"}",
	    "{\"handle\":\"88.100.a/\"}",
	    "{\"handle\":\"\"}",
	    "{\"handle\":\"88.100.a/\xc3\"}",
	    "{\"handle\":\"88.100.a/X",
	    "[\"handle\"]",
	    "",
	    "{\"handle\":88}",
	};
	for (int cs = 0; cs < 2; cs++) {
		import_ctx *c = ctx(cs);
		uint8_t key[HANDLE_KEY_MAX], want[HANDLE_KEY_MAX];
		for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
			size_t kl = import_key(c, same[i], strlen(same[i]), key);
			const char *h = strchr(strchr(same[i], ':'), '"') + 1;
			int wl =
			    handle_key(idn_slice_of(h, (size_t)(strchr(h, '"') - h)), cs, want);
			assert_true(wl > 0);
			assert_int_equal(kl, (size_t)wl);
			assert_memory_equal(key, want, kl);
		}
		for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
			assert_int_equal(import_key(c, unknown[i], strlen(unknown[i]), key), 0);
		import_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),        cmocka_unit_test(test_many),
	    cmocka_unit_test(test_blank),       cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_long_handle), cmocka_unit_test(test_record_too_big),
	    cmocka_unit_test(test_truncation),  cmocka_unit_test(test_nomem_and_format),
	    cmocka_unit_test(test_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
