/*
 * test_label.c - the QR label renderer (src/api/label.h): SVG, PNG, PDF
 * sheets and ZIPs are produced with the sizes asked, a sheet's pages go out
 * before the document ends, the URL a label encodes is the identifier
 * %-encoded under its base, and bad options, identifiers, bases and Host
 * headers are refused with a message naming the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/label.h"
#include "core/err.h"

/* A growing buffer as a label_sink; fail_after >= 0 makes the sink fail then. */
typedef struct buf {
	uint8_t *p;
	size_t len, cap;
	long fail_after;
} buf;

static int buf_sink(void *arg, const void *p, size_t n)
{
	buf *b = arg;
	if (b->fail_after >= 0 && (long)(b->len + n) > b->fail_after)
		return -1;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static buf buf_new(void)
{
	return (buf){.fail_after = -1};
}

static size_t count(const buf *b, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	for (const uint8_t *p = b->p; p && (p = memmem(p, b->len - (size_t)(p - b->p), needle, k));
	     p += k)
		n++;
	return n;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define S(str) idn_slice_of(str, strlen(str))

static const char url[] = "http://id.example/88.100.1/MOTOR-2026-000001";

static void test_svg(void **state)
{
	(void)state;
	label_opts o = label_opts_default();
	o.px = 256;
	char err[200] = "";
	buf b = buf_new();
	assert_int_equal(label_svg(url, S("88.100.1/<a&b>"), &o, buf_sink, &b, err, sizeof(err)),
	                 0);
	assert_true(b.len > 100 && !memcmp(b.p, "<?xml", 5));
	assert_int_equal(count(&b, "width=\"256\" height=\"256\""), 1);
	assert_int_equal(count(&b, "<path"), 1);
	assert_int_equal(count(&b, "<text"), 0); /* no caption unless asked */
	free(b.p);
	o.text = true;
	b = buf_new();
	assert_int_equal(label_svg(url, S("88.100.1/<a&b>"), &o, buf_sink, &b, err, sizeof(err)),
	                 0);
	assert_int_equal(count(&b, ">88.100.1/&lt;a&amp;b&gt;</text>"), 1);
	assert_int_equal(count(&b, "<a&b>"), 0);
	free(b.p);
}

static void test_png(void **state)
{
	(void)state;
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	char err[200] = "";
	unsigned sizes[] = {LABEL_PX_MIN, 300, 1024};
	for (size_t i = 0; i < 3; i++) {
		for (int text = 0; text < 2; text++) {
			label_opts o = label_opts_default();
			o.px = sizes[i];
			o.margin = 1;
			o.text = text;
			buf b = buf_new();
			assert_int_equal(
			    label_png("http://h/1/A", S("1/A"), &o, buf_sink, &b, err, sizeof(err)),
			    0);
			assert_true(b.len > 33 && !memcmp(b.p, sig, 8) &&
			            !memcmp(b.p + 12, "IHDR", 4));
			assert_int_equal(be32(b.p + 16), sizes[i]);
			if (text)
				assert_true(be32(b.p + 20) >
				            sizes[i]); /* the caption's band under it */
			else
				assert_int_equal(be32(b.p + 20), sizes[i]);
			free(b.p);
		}
	}
}

static void test_too_small_or_too_long(void **state)
{
	(void)state;
	char err[200] = "", big[3000];
	label_opts o = label_opts_default();
	o.px = 64;
	/* ~200 bytes need a code of over 60 modules, 68 with the quiet zone */
	memset(big, 'x', 200);
	memcpy(big, "http://h/", 9);
	big[200] = 0;
	buf b = buf_new();
	assert_int_equal(label_png(big, S("x"), &o, buf_sink, &b, err, sizeof(err)), IDN_EINVAL);
	assert_non_null(strstr(err, "size"));
	/* SVG is vector: any size takes any code */
	assert_int_equal(label_svg(big, S("x"), &o, buf_sink, &b, err, sizeof(err)), 0);
	free(b.p);
	/* more than a QR code carries at H (1273 bytes) */
	memset(big, 'x', sizeof(big) - 1);
	big[1400] = 0;
	o.ecc = 'H';
	err[0] = 0;
	b = buf_new();
	assert_int_equal(label_svg(big, S("x"), &o, buf_sink, &b, err, sizeof(err)), IDN_EINVAL);
	assert_non_null(strstr(err, "does not fit a QR code"));
	assert_true(strlen(big) > label_capacity('H'));
	o.ecc = 'L';
	assert_int_equal(label_svg(big, S("x"), &o, buf_sink, &b, err, sizeof(err)), 0);
	free(b.p);
}

static void test_sink_failure(void **state)
{
	(void)state;
	char err[200];
	label_opts o = label_opts_default();
	buf b = buf_new();
	b.fail_after = 10;
	assert_int_equal(label_png(url, S("x"), &o, buf_sink, &b, err, sizeof(err)), IDN_EIO);
	assert_int_equal(label_svg(url, S("x"), &o, buf_sink, &b, err, sizeof(err)), IDN_EIO);
	free(b.p);
}

static void test_pdf_sheet(void **state)
{
	(void)state;
	label_sheet_opts o = label_sheet_opts_default(); /* 4 x 6 a page */
	buf b = buf_new();
	label_sheet *s;
	char err[200], u[128];
	assert_int_equal(label_sheet_new(&o, buf_sink, &b, &s), 0);
	size_t before_page_2 = 0;
	for (int i = 0; i < 30; i++) {
		if (i == 24)
			before_page_2 = b.len;
		snprintf(u, sizeof(u), "http://h/88.100.1/%d", i);
		assert_int_equal(label_sheet_add(s, u, S("88.100.1/中文"), err, sizeof(err)), 0);
	}
	/* the first page went out when the second began, before the end */
	size_t at_25 = b.len;
	assert_true(at_25 > before_page_2 + 1000);
	assert_int_equal(label_sheet_count(s), 30);
	assert_int_equal(label_sheet_finish(s), 0);
	assert_true(b.len > at_25);
	assert_true(b.len > 8 && !memcmp(b.p, "%PDF-", 5));
	assert_int_equal(count(&b, "%%EOF"), 1);
	assert_int_equal(
	    count(&b, "/Type /Page\n") + count(&b, "/Type /Page ") + count(&b, "/Type /Page/"), 2);
	free(b.p);
	/* freed unfinished: nothing more is written */
	b = buf_new();
	assert_int_equal(label_sheet_new(&o, buf_sink, &b, &s), 0);
	assert_int_equal(label_sheet_add(s, url, S("x"), err, sizeof(err)), 0);
	size_t had = b.len;
	label_sheet_free(s);
	assert_int_equal(b.len, had);
	free(b.p);
}

static void test_zip(void **state)
{
	(void)state;
	buf b = buf_new();
	label_zip *z;
	assert_int_equal(label_zip_new(true, buf_sink, &b, &z), 0);
	char name[160];
	label_zip_name(0, S("88.100.1/A B/../中"), "svg", name, sizeof(name));
	assert_string_equal(name, "0001-88.100.1_A_B_..____.svg");
	assert_int_equal(label_zip_add(z, name, "<svg/>", 6), 0);
	label_zip_name(41, S("1/X"), "png", name, sizeof(name));
	assert_string_equal(name, "0042-1_X.png");
	assert_int_equal(label_zip_add(z, name, "png!", 4), 0);
	assert_int_equal(label_zip_finish(z), 0);
	assert_true(b.len > 22 && !memcmp(b.p, "PK\3\4", 4));
	const uint8_t *end = memmem(b.p, b.len, "PK\5\6", 4);
	assert_non_null(end);
	assert_int_equal(end[10] | end[11] << 8, 2);    /* entries in the central directory */
	assert_int_equal(count(&b, "0042-1_X.png"), 2); /* local header and directory */
	free(b.p);
}

static void test_bad_options(void **state)
{
	(void)state;
	label_opts o = label_opts_default();
	assert_null(label_opts_check(&o));
	o.px = 63;
	assert_non_null(strstr(label_opts_check(&o), "size"));
	o.px = 4097;
	assert_non_null(strstr(label_opts_check(&o), "size"));
	o = label_opts_default();
	o.margin = 17;
	assert_non_null(strstr(label_opts_check(&o), "margin"));
	o = label_opts_default();
	o.ecc = 'X';
	assert_non_null(strstr(label_opts_check(&o), "ecc"));
	label_sheet_opts so = label_sheet_opts_default();
	assert_null(label_sheet_opts_check(&so));
	so.columns = 0;
	assert_non_null(strstr(label_sheet_opts_check(&so), "columns"));
	so.columns = 13;
	assert_non_null(strstr(label_sheet_opts_check(&so), "columns"));
	so = label_sheet_opts_default();
	so.rows = 21;
	assert_non_null(strstr(label_sheet_opts_check(&so), "rows"));
	so = label_sheet_opts_default();
	so.width_mm = 50;
	assert_non_null(strstr(label_sheet_opts_check(&so), "height_mm"));
	so.height_mm = 30;
	assert_null(label_sheet_opts_check(&so));
	so.width_mm = 9.5;
	assert_non_null(strstr(label_sheet_opts_check(&so), "width_mm"));
	so.width_mm = 190.5;
	assert_non_null(strstr(label_sheet_opts_check(&so), "width_mm"));
	so.width_mm = 50;
	so.height_mm = 278;
	assert_non_null(strstr(label_sheet_opts_check(&so), "height_mm"));
	so = label_sheet_opts_default();
	so.ecc = 'm';
	assert_non_null(strstr(label_sheet_opts_check(&so), "ecc"));
}

static void test_handles(void **state)
{
	(void)state;
	const char *good[] = {"88.100.1/A", "88.100.1/a..b/.x", "88.100.1/中文 %?#", "0.NA/88"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(label_handle_check(S(good[i])));
	const char *bad[] = {"",         "88.100.1", "88.100.1/",      "/A",
	                     "1/a/../b", "1/..",     "1/./x",          "1/a\nb",
	                     "1/a\x7f",  "1/\xc3(",  "1/\xed\xa0\x80", "1/\xc0\xaf"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(label_handle_check(S(bad[i])));
	char big[LABEL_HANDLE_MAX + 2];
	memset(big, 'a', sizeof(big));
	big[1] = '/';
	assert_null(label_handle_check(idn_slice_of(big, LABEL_HANDLE_MAX)));
	assert_non_null(label_handle_check(idn_slice_of(big, LABEL_HANDLE_MAX + 1)));
}

static void test_bases_and_hosts(void **state)
{
	(void)state;
	const char *good[] = {"http://id.example", "https://id.example.com/", "HTTP://a:8080/gw/",
	                      "http://[::1]:80/", "https://10.0.0.1/x/y"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(label_base_check(good[i]));
	const char *bad[] = {"ftp://x/",     "http://",      "http:///x",        "http://a b/",
	                     "http://x/a b", "http://x/?q",  "http://x/#f",      "http://x\r\n",
	                     "javascript:1", "http://u@x/",  "http://x:123456/", "//x/",
	                     "http://x:/",   "http://x/<a>/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(label_base_check(bad[i]));
	char out[300];
	assert_int_equal(label_host_base(false, S("id.example:8080"), out, sizeof(out)),
	                 (int)strlen("http://id.example:8080/"));
	assert_string_equal(out, "http://id.example:8080/");
	assert_true(label_host_base(true, S("[::1]:443"), out, sizeof(out)) > 0);
	assert_string_equal(out, "https://[::1]:443/");
	const char *bad_hosts[] = {"", "a b", "a/b", "a\r\nX-Evil: 1", "u@h", "h:", "h:x", "[]"};
	for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++)
		assert_int_equal(label_host_base(false, S(bad_hosts[i]), out, sizeof(out)), -1);
}

static void test_url(void **state)
{
	(void)state;
	char out[256];
	const char *h = "88.100.1/A B%?#中/~x-_.";
	int n = label_url("http://id.example/gw", S(h), out, sizeof(out));
	assert_string_equal(out, "http://id.example/gw/88.100.1/A%20B%25%3F%23%E4%B8%AD/~x-_.");
	assert_int_equal(n, (int)strlen(out));
	label_url("https://x/", S("1/a+b&c=d"), out, sizeof(out));
	assert_string_equal(out, "https://x/1/a%2Bb%26c%3Dd");
	assert_int_equal(label_url("http://x/", S(h), out, 20), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_svg),
	    cmocka_unit_test(test_png),
	    cmocka_unit_test(test_too_small_or_too_long),
	    cmocka_unit_test(test_sink_failure),
	    cmocka_unit_test(test_pdf_sheet),
	    cmocka_unit_test(test_zip),
	    cmocka_unit_test(test_bad_options),
	    cmocka_unit_test(test_handles),
	    cmocka_unit_test(test_bases_and_hosts),
	    cmocka_unit_test(test_url),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	label_process_done();
	return ret;
}
