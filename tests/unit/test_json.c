/*
 * test_json.c - the strict JSON pull parser (core/json.h).
 *
 * Every document is parsed from an exact-size heap copy, with a scratch of
 * exactly the document's size (what json.h promises is enough), so that
 * AddressSanitizer catches a read past the document or a write past the
 * scratch. Each verdict is compared with jansson's, except for the
 * documented differences, which are checked to still be differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/json.h"

static const char trailing[] = "text after the value";

/* An exact-size heap copy of p[0 .. n). */
static uint8_t *dup_exact(const void *p, size_t n)
{
	uint8_t *c = malloc(n);
	assert_non_null(c);
	if (n)
		memcpy(c, p, n);
	return c;
}

struct verdict {
	int rc;
	const char *err; /* static text from the parser */
	size_t col;      /* 0-based offset of the error */
};

/* One whole document: a value, then only whitespace. */
static struct verdict parse_doc(const void *doc, size_t n)
{
	uint8_t *d = dup_exact(doc, n), *scratch = malloc(n ? n : 1);
	jp j;
	jp_init(&j, d, n, scratch);
	struct verdict v = {.rc = jp_skip(&j)};
	if (v.rc == IDN_OK) {
		jp_ws(&j);
		if (j.p != j.end)
			v.rc = jp_fail(&j, trailing);
	}
	if (v.rc) {
		v.err = j.err;
		v.col = (size_t)(j.err_at - d);
	}
	assert_true(j.p >= d && j.p <= d + n);
	free(d);
	free(scratch);
	return v;
}

static bool jansson_ok(const void *doc, size_t n)
{
	json_error_t e;
	json_t *t =
	    json_loadb(doc, n, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
	json_decref(t);
	return t != NULL;
}

enum { SAME, DIFF }; /* jansson agrees, or this is a documented difference */

struct jcase {
	const char *doc;
	size_t len;
	const char *err; /* NULL: valid */
	int jansson;
	int col; /* expected error offset, or -1 for any */
};

#define OK(lit)                                                                                    \
	{                                                                                          \
		lit, sizeof(lit) - 1, NULL, SAME, -1                                               \
	}
#define OK_DIFF(lit)                                                                               \
	{                                                                                          \
		lit, sizeof(lit) - 1, NULL, DIFF, -1                                               \
	}
#define BAD(lit, err)                                                                              \
	{                                                                                          \
		lit, sizeof(lit) - 1, err, SAME, -1                                                \
	}
#define BAD_AT(lit, err, col)                                                                      \
	{                                                                                          \
		lit, sizeof(lit) - 1, err, SAME, col                                               \
	}

static const char bad_utf8[] = "invalid UTF-8 in a string";
static const char ctrl[] = "control character in a string (escape it)";
static const char unterminated[] = "unterminated string";
static const char eol_value[] = "unexpected end of line, expected a value";

static const struct jcase cases[] = {
    /* grammar */
    OK("{}"),
    OK("[]"),
    OK("{\"a\":1}"),
    OK(" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } }\r\n "),
    OK("[1,-2,3.5,-0.0e+10,1E5,2e-3,true,false,null,\"s\",{},[]]"),
    OK("{\"a\":{\"a\":{\"a\":[[[{}]]]}}}"),
    OK("{\"a\":1,\"a\":2}"), /* duplicate keys are the caller's business */
    OK("\"str\""),
    OK("0"),
    OK("-0"),
    OK("123"),
    OK("true"),
    OK("null"),
    OK("1e-400"), /* underflow is fine for both */
    OK("12345678901234567890123456789"),
    BAD_AT("", eol_value, 0),
    BAD_AT("   ", eol_value, 3),
    BAD_AT("{", "expected a string key", 1),
    BAD_AT("[", eol_value, 1),
    BAD_AT("[1,]", "expected a value", 3),
    BAD_AT("[,1]", "expected a value", 1),
    BAD_AT("[1 2]", "expected ',' or ']'", 3),
    BAD_AT("[1}", "expected ',' or ']'", 2),
    BAD_AT("{\"a\" 1}", "expected ':'", 5),
    BAD_AT("{\"a\":1,}", "expected a string key", 7),
    BAD_AT("{1:2}", "expected a string key", 1),
    BAD_AT("{\"a\":1]", "expected ',' or '}'", 6),
    BAD_AT("{\"a\"}", "expected ':'", 4),
    BAD_AT("{\"a\":}", "expected a value", 5),
    BAD_AT("[1]]", trailing, 3),
    BAD_AT("{}{}", trailing, 2),
    BAD("tru", "invalid literal"),
    BAD("nul", "invalid literal"),
    BAD("[falsy]", "invalid literal"),
    BAD("True", "expected a value"),
    BAD("truex", trailing),
    BAD("NaN", "expected a value"),
    BAD("Infinity", "expected a value"),
    BAD("'a'", "expected a value"),
    /* numbers */
    BAD("01", trailing),
    BAD("-01", trailing),
    BAD("0x10", trailing),
    BAD("-", "bad number"),
    BAD("-a", "bad number"),
    BAD("-Infinity", "bad number"),
    BAD("+1", "expected a value"),
    BAD(".5", "expected a value"),
    BAD_AT("1.", "bad number: digits must follow '.'", 2),
    BAD("1.e5", "bad number: digits must follow '.'"),
    BAD("[1.]", "bad number: digits must follow '.'"),
    BAD("1e", "bad number: digits must follow the exponent"),
    BAD("1e+", "bad number: digits must follow the exponent"),
    BAD("1E-x", "bad number: digits must follow the exponent"),
    BAD("1.5.2", trailing),
    /* escapes */
    OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
    OK("\"\\u00e9\\u20AC\\u0041\""),
    OK("\"\\u0000\""),           /* jansson too, with JSON_ALLOW_NUL */
    OK_DIFF("{\"a\\u0000\":1}"), /* but not in a key */
    OK("\"\\ud83d\\ude00\""),
    OK("\"\\uDBFF\\uDFFF\""),
    BAD_AT("\"abc", unterminated, 4),
    BAD_AT("\"ab\\", unterminated, 3),
    BAD_AT("\"a\\x\"", "bad escape in a string", 2),
    BAD("\"\\'\"", "bad escape in a string"),
    BAD("\"\\U0041\"", "bad escape in a string"),
    BAD_AT("\"\\u12\"", "bad \\u escape", 1),
    BAD("\"\\u12", "bad \\u escape"),
    BAD("\"\\u12G4\"", "bad \\u escape"),
    BAD("\"\\u-123\"", "bad \\u escape"),
    BAD_AT("\"x\\ud83d\"", "lone high surrogate in \\u escape", 2),
    BAD("\"\\ud83dx\"", "lone high surrogate in \\u escape"),
    BAD("\"\\ud83d\\u0041\"", "lone high surrogate in \\u escape"),
    BAD("\"\\ud83d\\ud83d\"", "lone high surrogate in \\u escape"),
    BAD("\"\\ud83d\\n\"", "lone high surrogate in \\u escape"),
    BAD("\"\\ud83d\\ude0\"", "lone high surrogate in \\u escape"),
    BAD("\"\\ude00\"", "lone low surrogate in \\u escape"),
    BAD("\"\\udfff\\ud800\"", "lone low surrogate in \\u escape"),
    /* control characters: escaped only */
    BAD_AT("\"a\tb\"", ctrl, 2),
    BAD("\"a\nb\"", ctrl),
    BAD("\"\x1f\"", ctrl),
    {"\"a\0b\"", 5, ctrl, SAME, 2},
    {"[\0]", 3, "expected a value", SAME, 1},
    {"[1\0]", 4, "expected ',' or ']'", DIFF, 2}, /* jansson skips a NUL after a token */
    {"[null\0]", 7, "expected ',' or ']'", DIFF, 5},
    OK("\"\x7f\""), /* DEL is not a control character in JSON */
    /* UTF-8 */
    OK("\"\xc2\x80\xdf\xbf\""),
    OK("\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\""),
    OK("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""),
    OK("\"Gr\xc3\xbc\xc3\x9f\x65 \xe2\x9c\x93 \xf0\x9f\x98\x80\""),
    BAD_AT("\"ab\x80\"", bad_utf8, 3), /* a lone continuation byte */
    BAD("\"\xbf\"", bad_utf8),
    BAD("\"\xc0\xaf\"", bad_utf8),         /* overlong '/' */
    BAD("\"\xc1\xbf\"", bad_utf8),         /* overlong */
    BAD("\"\xe0\x80\xaf\"", bad_utf8),     /* overlong, 3 bytes */
    BAD("\"\xe0\x9f\xbf\"", bad_utf8),     /* overlong, 3 bytes */
    BAD("\"\xed\xa0\x80\"", bad_utf8),     /* a surrogate */
    BAD("\"\xed\xbf\xbf\"", bad_utf8),     /* a surrogate */
    BAD("\"\xf0\x80\x80\xaf\"", bad_utf8), /* overlong, 4 bytes */
    BAD("\"\xf0\x8f\xbf\xbf\"", bad_utf8), /* overlong, 4 bytes */
    BAD("\"\xf4\x90\x80\x80\"", bad_utf8), /* above U+10FFFF */
    BAD("\"\xf5\x80\x80\x80\"", bad_utf8),
    BAD("\"\xf8\x88\x80\x80\x80\"", bad_utf8),
    BAD("\"\xfe\"", bad_utf8),
    BAD("\"\xff\"", bad_utf8),
    BAD("\"\xc3\"", bad_utf8),         /* cut before the quote */
    BAD("\"\xc3\x28\"", bad_utf8),     /* bad continuation */
    BAD("\"\xe2\x82\"", bad_utf8),     /* cut */
    BAD("\"\xe2\x28\xa1\"", bad_utf8), /* bad continuation */
    BAD("\"\xf0\x9f\x98\"", bad_utf8), /* cut */
    BAD("\"\xf0\x9f\x98", bad_utf8),   /* cut at the end of the document */
    BAD("\"\xe2\x82", bad_utf8),
    BAD("\"\xc3", bad_utf8),
    /* outside strings only the four whitespace bytes and the grammar's own */
    BAD_AT("\xef\xbb\xbf{}", "expected a value", 0), /* a BOM is the caller's business */
    BAD_AT("\f{}", "expected a value", 0),
    BAD_AT("{}\v", trailing, 2),
    BAD_AT("\xc2\xa0{}", "expected a value", 0),
    BAD("[1,\xc3\xa9]", "expected a value"),
    /* numbers too large for jansson, which reports an overflow */
    OK_DIFF("1e400"),
    OK_DIFF("[-1.5e999]"),
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct jcase *c = &cases[i];
		struct verdict v = parse_doc(c->doc, c->len);
		if (c->err) {
			if (v.rc != IDN_EINVAL || strcmp(v.err, c->err) != 0)
				fail_msg("case %zu '%s': expected error '%s', got rc %d '%s'", i,
				         c->doc, c->err, v.rc, v.err ? v.err : "");
			if (c->col >= 0 && v.col != (size_t)c->col)
				fail_msg("case %zu '%s': error at %zu, expected %d", i, c->doc,
				         v.col, c->col);
		} else if (v.rc != IDN_OK) {
			fail_msg("case %zu '%s': rejected: %s at %zu", i, c->doc, v.err, v.col);
		}
		bool ours = v.rc == IDN_OK, theirs = jansson_ok(c->doc, c->len);
		if ((ours == theirs) != (c->jansson == SAME))
			fail_msg("case %zu '%s': ours %d, jansson %d, expected %s", i, c->doc, ours,
			         theirs, c->jansson == SAME ? "the same" : "a difference");
	}
}

/* Decodes the one string that is doc; returns its bytes in out (cap 256). */
static size_t decode(const char *doc, uint8_t *out, bool *borrowed)
{
	size_t n = strlen(doc);
	uint8_t *d = dup_exact(doc, n), *scratch = malloc(n);
	jp j;
	jp_init(&j, d, n, scratch);
	idn_slice s;
	assert_int_equal(jp_string(&j, &s), IDN_OK);
	assert_ptr_equal(j.p, d + n);
	assert_true(s.len <= 256);
	*borrowed = s.len == 0 || (s.p >= d && s.p < d + n);
	if (!*borrowed)
		assert_true(s.p >= scratch && s.p + s.len <= scratch + n);
	memcpy(out, s.p, s.len);
	free(d);
	free(scratch);
	return s.len;
}

static void expect_decoded(const char *doc, const char *want, size_t wlen, bool borrowed)
{
	uint8_t out[256];
	bool b;
	size_t n = decode(doc, out, &b);
	if (n != wlen || memcmp(out, want, n) != 0)
		fail_msg("%s: decoded to %zu bytes, expected %zu", doc, n, wlen);
	assert_int_equal(b, borrowed);
}

#define DECODED(doc, want, borrowed) expect_decoded(doc, want, sizeof(want) - 1, borrowed)

static void test_strings(void **state)
{
	(void)state;
	DECODED("\"\"", "", true);
	DECODED("\"plain text, no escapes\"", "plain text, no escapes", true);
	DECODED("\"caf\xc3\xa9\"", "caf\xc3\xa9", true);
	DECODED("\"a\\\"b\"", "a\"b", false);
	DECODED("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", false);
	DECODED("\"\\u0041\\u00e9\\u20ac\"", "A\xc3\xa9\xe2\x82\xac", false);
	DECODED("\"\\u0000x\"", "\0x", false);
	DECODED("\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"",
	        "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", false);
	DECODED("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", false);
	DECODED("\"\\ud800\\udc00\\udbff\\udfff\"", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", false);
	DECODED("\"before \\n after, and a long tail past the fast scan\"",
	        "before \n after, and a long tail past the fast scan", false);

	/* Several escaped strings share the scratch, one after another. */
	const char doc[] = "[\"\\u00e9\\u00e9\",\"\\n\\n\\n\",\"x\\/y\"]";
	size_t n = sizeof(doc) - 1;
	uint8_t *d = dup_exact(doc, n), *scratch = malloc(n);
	jp j;
	jp_init(&j, d, n, scratch);
	idn_slice s[3];
	assert_int_equal(jp_open(&j, ']'), 1);
	for (int i = 0; i < 3; i++) {
		jp_ws(&j);
		assert_int_equal(jp_string(&j, &s[i]), IDN_OK);
		assert_int_equal(jp_next(&j, ']'), i < 2 ? 1 : 0);
	}
	assert_memory_equal(s[0].p, "\xc3\xa9\xc3\xa9", 4);
	assert_memory_equal(s[1].p, "\n\n\n", 3);
	assert_memory_equal(s[2].p, "x/y", 3);
	assert_ptr_equal(j.p, d + n);
	free(d);
	free(scratch);
}

/*
 * The fast scan looks at 8 or 16 bytes at a time: put the byte that stops it
 * at every offset of a long string, with the string's end at every offset.
 */
static void test_scan_offsets(void **state)
{
	(void)state;
	char doc[128];
	for (int pos = 0; pos < 40; pos++) {
		for (int tail = 0; tail < 20; tail++) {
			static const struct {
				const char *bytes;
				const char *err;
				const char *decoded;
			} stops[] = {
			    {"\\n", NULL, "\n"},      {"\xc3\xa9", NULL, "\xc3\xa9"},
			    {"\x7f", NULL, "\x7f"},   {"\t", ctrl, NULL},
			    {"\x01", ctrl, NULL},     {"\xc3", bad_utf8, NULL},
			    {"\x80", bad_utf8, NULL}, {"\xed\xa0\x80", bad_utf8, NULL},
			};
			for (size_t k = 0; k < sizeof(stops) / sizeof(stops[0]); k++) {
				size_t n = 0;
				doc[n++] = '"';
				memset(doc + n, 'a', (size_t)pos);
				n += (size_t)pos;
				size_t bl = strlen(stops[k].bytes);
				memcpy(doc + n, stops[k].bytes, bl);
				n += bl;
				memset(doc + n, 'b', (size_t)tail);
				n += (size_t)tail;
				doc[n++] = '"';
				uint8_t *d = dup_exact(doc, n), *scratch = malloc(n);
				jp j;
				jp_init(&j, d, n, scratch);
				idn_slice s;
				int rc = jp_string(&j, &s);
				if (stops[k].err) {
					assert_int_equal(rc, IDN_EINVAL);
					assert_string_equal(j.err, stops[k].err);
					assert_ptr_equal(j.err_at, d + 1 + pos);
				} else {
					size_t dl = strlen(stops[k].decoded);
					assert_int_equal(rc, IDN_OK);
					assert_int_equal(s.len, (size_t)pos + dl + (size_t)tail);
					assert_memory_equal(s.p + pos, stops[k].decoded, dl);
					assert_ptr_equal(j.p, d + n);
				}
				/* Without the closing quote: unterminated, or the same fault. */
				jp_init(&j, d, n - 1, scratch);
				rc = jp_string(&j, &s);
				assert_int_equal(rc, IDN_EINVAL);
				if (!stops[k].err)
					assert_string_equal(j.err, unterminated);
				free(d);
				free(scratch);
			}
		}
	}
}

static void test_numbers(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		bool is_int;
		uint64_t v;
		size_t used; /* bytes that are the number */
	} nums[] = {
	    {"0", true, 0, 1},
	    {"-0", true, 0, 2},
	    {"7", true, 7, 1},
	    {"2147483647", true, 2147483647, 10},
	    {"18446744073709551615", true, UINT64_MAX / 2, 20}, /* saturates */
	    {"99999999999999999999999999", true, UINT64_MAX / 2, 26},
	    {"-1", false, 1, 2},
	    {"1.0", false, 1, 3},
	    {"1e2", false, 1, 3},
	    {"12E+2", false, 12, 5},
	    {"3.25e-7", false, 3, 7},
	    {"-0.5", false, 0, 4},
	    {"01", true, 0, 1}, /* the number is "0"; the caller sees the '1' */
	    {"5,", true, 5, 1},
	    {"5}", true, 5, 1},
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		size_t n = strlen(nums[i].text);
		uint8_t *d = dup_exact(nums[i].text, n);
		jp j;
		jp_init(&j, d, n, NULL);
		bool is_int = !nums[i].is_int;
		uint64_t v = 12345;
		assert_int_equal(jp_number(&j, &is_int, &v), IDN_OK);
		assert_int_equal(is_int, nums[i].is_int);
		assert_true(v == nums[i].v);
		assert_ptr_equal(j.p, d + nums[i].used);
		free(d);
	}
}

/* A walk with the object and array helpers, as import.c does it. */
static void test_walk(void **state)
{
	(void)state;
	const char doc[] = "{ \"a\" : [1, \"x\"] , \"b\":{} ,\"c\":{\"d\":null}}";
	size_t n = sizeof(doc) - 1;
	uint8_t *d = dup_exact(doc, n), *scratch = malloc(n);
	jp j;
	jp_init(&j, d, n, scratch);
	idn_slice k, s;
	bool is_int;
	uint64_t v;

	assert_int_equal(jp_open(&j, '}'), 1);
	assert_int_equal(jp_key(&j, &k), IDN_OK);
	assert_memory_equal(k.p, "a", 1);
	assert_int_equal(*j.p, '[');
	assert_int_equal(jp_open(&j, ']'), 1);
	jp_ws(&j);
	assert_int_equal(jp_number(&j, &is_int, &v), IDN_OK);
	assert_true(is_int && v == 1);
	assert_int_equal(jp_next(&j, ']'), 1);
	jp_ws(&j);
	assert_int_equal(jp_string(&j, &s), IDN_OK);
	assert_memory_equal(s.p, "x", 1);
	assert_int_equal(jp_next(&j, ']'), 0);
	assert_int_equal(jp_next(&j, '}'), 1);
	assert_int_equal(jp_key(&j, &k), IDN_OK);
	assert_memory_equal(k.p, "b", 1);
	assert_int_equal(jp_open(&j, '}'), 0); /* empty, and closed */
	assert_int_equal(jp_next(&j, '}'), 1);
	assert_int_equal(jp_key(&j, &k), IDN_OK);
	assert_memory_equal(k.p, "c", 1);
	assert_int_equal(jp_skip(&j), IDN_OK);
	assert_int_equal(jp_next(&j, '}'), 0);
	assert_ptr_equal(j.p, d + n);

	/* jp_next at anything else, and jp_key at the end of the document */
	jp_init(&j, d, 6, scratch); /* `{ "a" ` */
	assert_int_equal(jp_open(&j, '}'), 1);
	assert_int_equal(jp_key(&j, &k), IDN_EINVAL);
	assert_string_equal(j.err, "expected ':'");
	jp_init(&j, d, 8, scratch); /* `{ "a" : ` */
	assert_int_equal(jp_open(&j, '}'), 1);
	assert_int_equal(jp_key(&j, &k), IDN_EINVAL);
	assert_string_equal(j.err, eol_value);
	jp_init(&j, d, 13, scratch); /* `{ "a" : [1, ` */
	j.p = d + 10;                /* at the ',' */
	assert_int_equal(jp_next(&j, ']'), 1);
	j.p = d + 9; /* at the 1 */
	assert_int_equal(jp_next(&j, '}'), IDN_EINVAL);
	assert_string_equal(j.err, "expected ',' or '}'");
	free(d);
	free(scratch);
}

/* depth containers around inner: arrays, every third one (from inside) an object. */
static char *nested(int depth, const char *inner)
{
	size_t il = strlen(inner);
	char *s = malloc(5 * (size_t)depth + il + 1), *o = s;
	for (int i = 0; i < depth; i++) {
		if ((depth - 1 - i) % 3 == 2) {
			memcpy(o, "{\"\":", 4);
			o += 4;
		} else {
			*o++ = '[';
		}
	}
	memcpy(o, inner, il);
	o += il;
	for (int i = depth - 1; i >= 0; i--)
		*o++ = (depth - 1 - i) % 3 == 2 ? '}' : ']';
	*o = 0;
	return s;
}

static void test_depth(void **state)
{
	(void)state;
	char *s = nested(JP_MAX_DEPTH, "");
	struct verdict v = parse_doc(s, strlen(s));
	assert_int_equal(v.rc, IDN_OK);
	assert_true(jansson_ok(s, strlen(s)));
	free(s);

	s = nested(JP_MAX_DEPTH + 1, "");
	v = parse_doc(s, strlen(s));
	assert_int_equal(v.rc, IDN_EINVAL);
	assert_string_equal(v.err, "nested too deeply");
	assert_false(jansson_ok(s, strlen(s)));
	free(s);

	/* A documented difference: jansson counts the scalar as a level. */
	s = nested(JP_MAX_DEPTH, "1");
	v = parse_doc(s, strlen(s));
	assert_int_equal(v.rc, IDN_OK);
	assert_false(jansson_ok(s, strlen(s)));
	free(s);

	/* Deep, then many siblings: the bit stack is reused, not grown. */
	s = nested(1000, "1,[2],{\"k\":[3]}");
	v = parse_doc(s, strlen(s));
	assert_int_equal(v.rc, IDN_OK);
	free(s);
}

/*
 * Every proper prefix of a document that is an object or an array is
 * invalid: each is parsed from an exact-size copy, so reading one byte too
 * far is caught by ASan.
 */
static void test_truncation(void **state)
{
	(void)state;
	static const char *const docs[] = {
	    ("{\"handle\":\"88.100.1/X\",\"values\":[{\"index\":1,\"type\":\"URL\",\"data\":"
	     "\"https://example.com/x\"}]}"),
	    "[1,-2.5e+3,true,false,null,\"\\u00e9\\ud83d\\ude00\\n\",{\"a\":{}},[[]]]",
	    "{ \"s\" : \"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 and a longer tail\" }",
	    "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",0,-0,1E5,0.125]",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		size_t n = strlen(docs[i]);
		assert_int_equal(parse_doc(docs[i], n).rc, IDN_OK);
		assert_true(jansson_ok(docs[i], n));
		for (size_t len = 0; len < n; len++) {
			struct verdict v = parse_doc(docs[i], len);
			if (v.rc != IDN_EINVAL)
				fail_msg("doc %zu cut at %zu: accepted", i, len);
			assert_true(v.col <= len);
			assert_false(jansson_ok(docs[i], len));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),        cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_scan_offsets), cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_walk),         cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
