/*
 * test_page.c - the proxy's pages for people (src/api/api_render.c) fed
 * answers made by hand: a template record with Chinese labels, an answer
 * from another node, a stale one, a node that is down, not found, invalid
 * and other codes; escaping, links only for http(s) and checked e-mail,
 * readable dates only for real ISO-8601 dates; and the --proxy-schemes
 * rules (api_proxy_schemes_parse).
 *
 * `test_page --write DIR` writes the record, stale, down and not-found pages
 * to DIR (NAME.html, the HTTP status in NAME.status) for the browser test
 * (tests/system/test_http_browser.py), which serves them over loopback:
 * stale and down answers need a gateway, so they come from here, with no
 * test code in idnode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/routes.h"
#include "proto/reserved.h"

static const char tdef[] =
    "{\"name\":\"电机 Motor\",\"fields\":["
    "{\"name\":\"serial\",\"type\":\"string\",\"description\":\"序列号 Serial number\"},"
    "{\"name\":\"model\",\"type\":\"string\",\"description\":\"型号 Model\"},"
    "{\"name\":\"made\",\"type\":\"date\",\"description\":\"生产日期 Production date\"},"
    "{\"name\":\"power\",\"type\":\"number\",\"description\":\"功率 Power (kW)\"},"
    "{\"name\":\"datasheet\",\"type\":\"url\",\"description\":\"说明书 Datasheet\"},"
    "{\"name\":\"manual\",\"type\":\"file\"}]}";

/* A record as the node answers it: the values, wire-encoded. */
typedef struct sample {
	uint8_t buf[4096];
	api_answer ans;
} sample;

static void put(wire_wr *w, uint32_t index, const char *type, const void *data, size_t len)
{
	proto_value v = {.index = index,
	                 .timestamp = 1690000000 + index, /* the newest: index 2004 */
	                 .ttl = 86400,
	                 .perms = PROTO_PERM_PUBLIC_READ | PROTO_PERM_ADMIN_READ,
	                 .type = idn_slice_of(type, strlen(type)),
	                 .data = idn_slice_of(data, len)};
	proto_value_put(w, &v);
}

static void puts_v(wire_wr *w, uint32_t index, const char *type, const char *data)
{
	put(w, index, type, data, strlen(data));
}

static void make_sample(sample *s)
{
	wire_wr w = wire_wr_init(s->buf, sizeof(s->buf));
	puts_v(&w, 1, "URL", "https://example.com/motor/1?a=1&b=2");
	puts_v(&w, 2, "EMAIL", "service@example.com");
	puts_v(&w, 3, "DESC", "Three-phase motor <b>bold</b> & \"quoted\"");
	puts_v(&w, 4, "LINK", "javascript:alert(1)");
	puts_v(&w, 5, "UPDATED", "2026-11-02T08:30:00Z");
	static const uint8_t bin[] = {0x00, 0xff, 0x10, 0x80};
	put(&w, 6, "BIN", bin, sizeof(bin));
	uint8_t adm[128];
	wire_wr aw = wire_wr_init(adm, sizeof(adm));
	proto_admin a = {
	    .rights = 0x0ff2, .handle = idn_slice_of("0.NA/88.100.1", 13), .index = 300};
	proto_admin_put(&aw, &a);
	put(&w, 100, "HS_ADMIN", adm, wire_wr_len(&aw));
	puts_v(&w, 1001, "TEMPLATE", "88.100.1/TEMPLATE-MOTOR");
	puts_v(&w, 2000, "model", "YE3-132M <script>alert(2)</script>");
	puts_v(&w, 2001, "serial", "SN-2026-000001");
	puts_v(&w, 2002, "made", "2026-03-14");
	puts_v(&w, 2003, "datasheet", "https://example.com/ds/ye3.pdf");
	puts_v(&w, 2004, "manual", "88.100.1/MANUAL YE3");
	assert_int_equal(w.err, IDN_OK);
	s->ans = (api_answer){
	    .rc = PROTO_RC_SUCCESS, .nvalues = 13, .values = idn_slice_of(s->buf, wire_wr_len(&w))};
}

static const char *body(http_resp *r)
{
	http_resp_append(r, "", 1);
	r->len--;
	return (const char *)r->body;
}

static const char *handle = "88.100.1/MOTOR-2026-000001";

static void render_record(http_resp *r, const api_answer *ans)
{
	api_page_extra x = {.url = "https://example.com/motor/1?a=1&b=2"};
	assert_int_equal(api_page_template(&x, idn_slice_of(tdef, strlen(tdef)),
	                                   idn_slice_of("88.100.1/TEMPLATE-MOTOR", 23)),
	                 0);
	api_page_prefixes(&x, idn_slice_of(handle, strlen(handle)));
	snprintf(x.enterprise, sizeof(x.enterprise), "%s", "浙江电机有限公司 Zhejiang Motor Co");
	x.enterprise_named = true;
	http_req req = {.method = "GET"};
	api_page_record(r, &req, idn_slice_of(handle, strlen(handle)), ans, &x);
	api_page_extra_free(&x);
}

/* The text between the first "from" and the next "to" after it. */
static char *between(const char *page, const char *from, const char *to)
{
	const char *a = strstr(page, from);
	assert_non_null(a);
	const char *b = strstr(a, to);
	assert_non_null(b);
	return strndup(a, (size_t)(b - a));
}

/* Each of want[] (NULL-ended) is in text, or (yes false) none is. */
static void has(const char *text, const char *const *want, bool yes)
{
	for (; *want; want++)
		if ((strstr(text, *want) != NULL) != yes)
			fail_msg("%s: %s", yes ? "missing" : "present", *want);
}

static void test_record_page(void **state)
{
	(void)state;
	sample s;
	make_sample(&s);
	http_resp r = {0};
	render_record(&r, &s.ans);
	const char *p = body(&r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.extra_headers, "default-src 'none'"));
	assert_null(strstr(p, "<script"));
	/* The fields in the template's order, under its labels. */
	char *f = between(p, "<dl class=\"card\" id=\"fields\">", "</dl>");
	const char *order[] = {"serial", "model", "made", "power", "datasheet", "manual"};
	const char *at = f;
	for (size_t i = 0; i < 6; i++) {
		char want[64];
		snprintf(want, sizeof(want), "<div data-field=\"%s\">", order[i]);
		const char *n = strstr(at, want);
		assert_non_null(n);
		at = n + 1;
	}
	assert_non_null(strstr(f, "<span class=\"label\">序列号 Serial number</span>"));
	assert_non_null(strstr(f, "<time datetime=\"2026-03-14\">14 Mar 2026</time>"));
	assert_non_null(strstr(f, "YE3-132M &lt;script&gt;alert(2)&lt;/script&gt;"));
	assert_non_null(strstr(f, "class=\"data missing\">not set")); /* power */
	assert_non_null(strstr(f, "href=\"https://example.com/ds/ye3.pdf\""));
	assert_non_null(strstr(f, "href=\"/88.100.1/MANUAL%20YE3\"")); /* a file: an identifier */
	free(f);
	/* The enterprise and its industry; the product's page. */
	assert_non_null(strstr(p, "<b id=\"enterprise\">浙江电机有限公司 Zhejiang Motor Co</b>"));
	assert_non_null(strstr(p, "<b id=\"industry\">88.100</b> <small>(prefix)</small>"));
	assert_non_null(strstr(p, "id=\"location\" rel=\"nofollow noopener\" "
	                          "href=\"https://example.com/motor/1?a=1&amp;b=2\""));
	/* Readable values: mailto, a date-time, escaped text; javascript: is text. */
	char *info = between(p, "id=\"info\"", "</dl>");
	static const char *const info_has[] = {
	    "href=\"mailto:service@example.com\"",
	    "<time datetime=\"2026-11-02T08:30:00Z\">2 Nov 2026, 08:30 UTC</time>",
	    "Three-phase motor &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;",
	    ">javascript:alert(1)<", NULL};
	static const char *const info_not[] = {"HS_ADMIN", "TEMPLATE", "BIN", NULL};
	has(info, info_has, true);
	has(info, info_not, false);
	free(info);
	assert_null(strstr(p, "href=\"javascript"));
	/* The technical fold: closed, with HS_ADMIN decoded and the binary value. */
	char *tech = between(p, "<details id=\"tech\">", "</details>");
	static const char *const tech_has[] = {">HS_ADMIN<",
	                                       "admin 0.NA/88.100.1 (index 300, rights 0xff2)",
	                                       "4 bytes: AP8QgA==", ">TEMPLATE<", NULL};
	has(tech, tech_has, true);
	free(tech);
	assert_non_null(strstr(
	    p,
	    "Record last changed <time datetime=\"2023-07-22T05:00:04Z\">22 Jul 2023, 05:00 UTC"));
	/* This node answered, now; no stale banner. */
	assert_null(strstr(p, "id=\"stale\""));
	assert_non_null(strstr(p, "Answered by <b id=\"source-node\">this node</b>, <time"));
	assert_non_null(strstr(p, "hdl:88.100.1/MOTOR-2026-000001")); /* QR text, no Host */
	free(r.body);
}

static void test_stale_from_another_node(void **state)
{
	(void)state;
	sample s;
	make_sample(&s);
	s.ans.src = (api_source){.node = "127.0.0.1:2641", .fetched = 1700000000, .stale = true};
	http_resp r = {0};
	render_record(&r, &s.ans);
	const char *p = body(&r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(p,
	                       "id=\"stale\" role=\"alert\"><b>Stale:</b> the node holding this "
	                       "identifier is not answering; this is the record as of <time "
	                       "datetime=\"2023-11-14T22:13:20Z\">14 Nov 2023, 22:13 UTC</time>"));
	assert_non_null(strstr(p, "Answered by node <b id=\"source-node\">127.0.0.1:2641</b>, "
	                          "fetched <time datetime=\"2023-11-14T22:13:20Z\">"));
	assert_non_null(strstr(p, " (stale)</footer>"));
	/* Fresh from another node: no banner. */
	s.ans.src.stale = false;
	render_record(&r, &s.ans);
	assert_null(strstr(body(&r), "id=\"stale\""));
	assert_non_null(strstr(body(&r), "node <b id=\"source-node\">127.0.0.1:2641</b>"));
	free(r.body);
}

static void test_error_pages(void **state)
{
	(void)state;
	static const struct {
		uint32_t rc;
		bool down;
		int status;
		const char *title;
	} cases[] = {
	    {PROTO_RC_ERROR, true, 504, "The node holding this identifier is not answering"},
	    {PROTO_RC_HANDLE_NOT_FOUND, false, 404, "Identifier not found"},
	    {PROTO_RC_INVALID_HANDLE, false, 400, "Not a valid identifier"},
	    {PROTO_RC_ERROR, false, 500, "Cannot resolve this identifier"},
	    {PROTO_RC_SERVER_NOT_RESP, false, 404, "Not held on this node"},
	    {PROTO_RC_SERVICE_REFERRAL, false, 502, "Cannot resolve this identifier"},
	};
	const char *h = "88.100.1/<img src=x onerror=alert(1)>";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_resp r = {0};
		api_answer a = {.rc = cases[i].rc, .message = idn_slice_of("<why>", 5)};
		a.src.down = cases[i].down;
		if (cases[i].down)
			snprintf(a.src.node, sizeof(a.src.node), "%s", "10.0.0.7:2641");
		api_page_error(&r, idn_slice_of(h, strlen(h)), &a);
		const char *p = body(&r);
		assert_int_equal(r.status, cases[i].status);
		assert_non_null(strstr(p, cases[i].title));
		assert_non_null(strstr(p, "88.100.1/&lt;img src=x onerror=alert(1)&gt;"));
		assert_null(strstr(p, "<img"));
		assert_non_null(strstr(r.extra_headers, "default-src 'none'"));
		if (cases[i].down)
			assert_non_null(
			    strstr(p, "Asked node <b id=\"source-node\">10.0.0.7:2641</b>"));
		if (cases[i].status >= 500 && !cases[i].down)
			assert_non_null(strstr(p, "&lt;why&gt;"));
		free(r.body);
	}
	http_resp r = {0};
	api_page_invalid(&r, idn_slice_of("88.100.1/\xff\xfe", 11), "bad");
	assert_int_equal(r.status, 400);
	assert_null(strstr(body(&r), "\xff"));
	free(r.body);
}

static void test_values_that_are_not_what_they_seem(void **state)
{
	(void)state;
	static const char *const not_dates[] = {"2026-02-30",       "2026-13-01",
	                                        "2026-1-01",        "2025-02-29",
	                                        "2026-03-14T25:00", "2026-03-14T10:00+99:00",
	                                        "2026-03-14 x"};
	static const char *const not_emails[] = {
	    "a@b", "x@y.com?cc=z@evil.example", "@x.com", "x y@z.com", "x@-z.com", "x@z.com."};
	uint8_t buf[512];
	http_resp r = {0};
	for (size_t k = 0; k < 2; k++) {
		size_t n = k ? sizeof(not_emails) / sizeof(not_emails[0])
		             : sizeof(not_dates) / sizeof(not_dates[0]);
		for (size_t i = 0; i < n; i++) {
			const char *d = k ? not_emails[i] : not_dates[i];
			wire_wr w = wire_wr_init(buf, sizeof(buf));
			puts_v(&w, 1, k ? "EMAIL" : "MADE", d);
			api_answer a = {
			    .rc = 1, .nvalues = 1, .values = idn_slice_of(buf, wire_wr_len(&w))};
			api_page_extra x = {0};
			api_page_record(&r, &(http_req){.method = "GET"}, idn_slice_of("1.2/3", 5),
			                &a, &x);
			const char *p = body(&r);
			assert_null(strstr(p, "mailto:"));
			char t[96];
			snprintf(t, sizeof(t), "<time datetime=\"%s", d);
			assert_null(strstr(p, t));
			assert_non_null(strstr(p, "<dd class=\"data\">"));
		}
	}
	free(r.body);
}

static void test_http_url_rule(void **state)
{
	(void)state;
	static const struct {
		const char *u;
		bool ok;
	} cases[] = {{"https://example.com/x", true},
	             {"HTTP://example.com", true},
	             {"https://u@h/x", true},
	             {"https:///path", false},
	             {"//evil.example/x", false},
	             {"javascript:alert(1)", false},
	             {"https://a.example/\r\nX: y", false},
	             {"https://a b", false},
	             {"https://:80/", false},
	             {"ftp://example.com/", false}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(api_is_http_url(idn_slice_of(cases[i].u, strlen(cases[i].u))),
		                 cases[i].ok);
}

static void test_proxy_schemes(void **state)
{
	(void)state;
	char s[API_SCHEMES_MAX][API_SCHEME_MAX + 1], err[200];
	unsigned n = 99;
	assert_int_equal(
	    api_proxy_schemes_parse(" FTP, sftp ,,tn3270+x.y-z", s, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(s[0], "ftp");
	assert_string_equal(s[1], "sftp");
	assert_string_equal(s[2], "tn3270+x.y-z");
	assert_int_equal(api_proxy_schemes_parse("", s, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(api_proxy_schemes_parse(NULL, s, &n, err, sizeof(err)), 0);
	static const struct {
		const char *list, *why;
	} bad[] = {{"ftp,JavaScript", "'JavaScript': never allowed"},
	           {"data", "'data': never allowed"},
	           {"vbscript", "never allowed"},
	           {"file", "never allowed"},
	           {"1ftp", "'1ftp': not a URL scheme"},
	           {"ftp:", "'ftp:': not a URL scheme"},
	           {"f_t", "not a URL scheme"},
	           {"a23456789012345678901234567890123", "not a URL scheme"},
	           {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "'q': too many"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(api_proxy_schemes_parse(bad[i].list, s, &n, err, sizeof(err)),
		                 IDN_EINVAL);
		assert_non_null(strstr(err, "--proxy-schemes: "));
		assert_non_null(strstr(err, bad[i].why));
	}
}

/* --write DIR: the pages the browser test opens. */
static int write_pages(const char *dir)
{
	static const char *const names[] = {"record", "stale", "down", "notfound"};
	for (size_t i = 0; i < 4; i++) {
		sample s;
		make_sample(&s);
		http_resp r = {0};
		if (i == 1)
			s.ans.src = (api_source){
			    .node = "127.0.0.1:2641", .fetched = 1700000000, .stale = true};
		if (i < 2) {
			render_record(&r, &s.ans);
		} else {
			api_answer a = {.rc = i == 2 ? PROTO_RC_ERROR : PROTO_RC_HANDLE_NOT_FOUND};
			a.src.down = i == 2;
			if (i == 2)
				snprintf(a.src.node, sizeof(a.src.node), "%s", "127.0.0.1:2641");
			api_page_error(&r, idn_slice_of(handle, strlen(handle)), &a);
		}
		char path[4096];
		for (int k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/%s.%s", dir, names[i],
			         k ? "status" : "html");
			FILE *f = fopen(path, "w");
			if (!f) {
				perror(path);
				return 1;
			}
			if (k)
				fprintf(f, "%d\n", r.status);
			else
				fwrite(r.body, 1, r.len, f);
			fclose(f);
		}
		free(r.body);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--write"))
		return write_pages(argv[2]);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_page),
	    cmocka_unit_test(test_stale_from_another_node),
	    cmocka_unit_test(test_error_pages),
	    cmocka_unit_test(test_values_that_are_not_what_they_seem),
	    cmocka_unit_test(test_http_url_rule),
	    cmocka_unit_test(test_proxy_schemes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
