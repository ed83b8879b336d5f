/*
 * test_json_pinned.c - the JSON of GET /api/handles for a template record,
 * pinned byte for byte (issue 18): an industrial record as the template
 * profile of bench/gendata makes them (URL, EMAIL, HS_ADMIN, TEMPLATE at
 * 1001, fields from 2000 on with Chinese and English names and values),
 * plus the edge cases a faster renderer could get wrong (escapes, control
 * bytes, DEL, invalid UTF-8, binary data longer than one base64 chunk, an
 * absolute TTL, references, an HS_VLIST, a broken HS_ADMIN). The expected
 * text was produced by the renderer before it was optimised, so speed work
 * cannot change the output.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/reply.h"
#include "proto/handle.h"
#include "proto/reserved.h"

typedef struct spec {
	uint32_t index;
	const char *type;
	const char *data; /* NULL: the caller fills data */
	uint32_t ttl;
	uint8_t ttl_type;
} spec;

static const spec record[] = {
    {1, "URL", "https://trace.example.cn/88.100.1/MOTOR-2026-000042", 86400, 0},
    {2, "EMAIL", "qa17@plant03.example.cn", 3600, 0},
    {100, "HS_ADMIN", NULL, 86400, 0},
    {1001, "TEMPLATE", "88.100.1/TPL-MOTOR", 86400, 0},
    {2000, "productName",
     "\xe4\xb8\x89\xe7\x9b\xb8\xe5\xbc\x82\xe6\xad\xa5\xe7\x94\xb5\xe5\x8a"
     "\xa8\xe6\x9c\xba Y2-132M-4",
     86400, 0},
    {2001, "\xe5\x88\xb6\xe9\x80\xa0\xe5\x95\x86", /* 制造商 */
     "\xe6\xb1\x9f\xe8\x8b\x8f\xe6\xb3\xb0\xe5\xb7\x9e\xe7\x94\xb5\xe6\x9c\xba\xe6\x9c\x89\xe9"
     "\x99\x90\xe5\x85\xac\xe5\x8f\xb8",
     86400, 0},
    {2002, "model", "Y2-132M-4", 86400, 0},
    {2003, "ratedPower", "7.5 kW", 86400, 0},
    {2004, "productionDate", "2026-03-15", 86400, 0},
    {2005, "\xe6\x89\xb9\xe6\xac\xa1\xe5\x8f\xb7", "B2026-0315-07", 86400, 0}, /* 批次号 */
    {2006, "description", "Housing: cast iron; \"IP55\" rated\ttab\nline 2\\end\r", 86400, 0},
    {2007, "certificate", "CCC 2026\x01\x1f\x7f", 86400, 0},
    {2008, "emoji", "ok \xf0\x9f\x91\x8d", 86400, 0},
    {2009, "broken\xff", "x\xc3(y", 86400, 0}, /* invalid UTF-8: type U+FFFD, data base64 */
    {2010, "origin", "\xe4\xb8\xad\xe5\x9b\xbd \xe6\xb1\x9f\xe8\x8b\x8f", 1800000000, 1},
    {2011, "binary", NULL, 86400, 0},
    {2012, "nul", "a\0b", 86400, 0},
    {2013, "empty", "", 86400, 0},
    {200, "HS_VLIST", NULL, 86400, 0},
    {101, "HS_ADMIN", "\xff", 86400, 0},
};

/* The record's values encoded as in an answer; returns the count. */
static uint32_t build(uint8_t *buf, size_t cap, size_t *len)
{
	static uint8_t adm[64], vl[64], bin[800];
	wire_wr aw = wire_wr_init(adm, sizeof(adm));
	proto_admin a = {
	    .rights = 0x0FF2, .handle = idn_slice_of("0.NA/88.100.1", 13), .index = 300};
	proto_admin_put(&aw, &a);
	wire_wr vw = wire_wr_init(vl, sizeof(vl));
	proto_ref vrefs[] = {{idn_slice_of("88.1/A", 6), 300}, {idn_slice_of("88.1/\"B", 7), 1}};
	proto_vlist_put(&vw, vrefs, 2);
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 37 + 11);
	uint8_t refs[64];
	wire_wr rw = wire_wr_init(refs, sizeof(refs));
	wire_put_cstr(&rw, "88.100.1/TPL-MOTOR");
	wire_put_u32(&rw, 1001);

	wire_wr w = wire_wr_init(buf, cap);
	uint32_t n = sizeof(record) / sizeof(record[0]);
	for (uint32_t i = 0; i < n; i++) {
		const spec *s = &record[i];
		proto_value v = {.index = s->index,
		                 .timestamp = 1767225600 + i * 3601,
		                 .ttl = s->ttl,
		                 .ttl_type = s->ttl_type,
		                 .perms = 0x0e,
		                 .type = idn_slice_of(s->type, strlen(s->type))};
		if (s->data)
			v.data = idn_slice_of(s->data, s->index == 2012 ? 3 : strlen(s->data));
		else if (s->index == 100)
			v.data = idn_slice_of(adm, wire_wr_len(&aw));
		else if (s->index == 200)
			v.data = idn_slice_of(vl, wire_wr_len(&vw));
		else
			v.data = idn_slice_of(bin, sizeof(bin));
		if (s->index == 2010) {
			v.nrefs = 1;
			v.refs = idn_slice_of(refs, wire_wr_len(&rw));
		}
		proto_value_put(&w, &v);
	}
	assert_false(w.err);
	*len = wire_wr_len(&w);
	return n;
}

static const char expected[] =
    "[{\"index\":1,\"type\":\"URL\",\"data\":{\"format\":\"string\",\"value\":\"https://trace.ex"
    "ample.cn/88.100.1/MOTOR-2026-000042\"},\"ttl\":86400,\"timestamp\":\"2026-01-01T00"
    ":00:00Z\"},"
    "{\"index\":2,\"type\":\"EMAIL\",\"data\":{\"format\":\"string\",\"value\":\"qa17@plant03.ex"
    "ample.cn\"},\"ttl\":3600,\"timestamp\":\"2026-01-01T01:00:01Z\"},"
    "{\"index\":100,\"type\":\"HS_ADMIN\",\"data\":{\"format\":\"admin\",\"value\":{\"handle\":\"0"
    ".NA/88.100.1\",\"index\":300,\"permissions\":\"111111110010\"}},\"ttl\":86400,\"timest"
    "amp\":\"2026-01-01T02:00:02Z\"},"
    "{\"index\":1001,\"type\":\"TEMPLATE\",\"data\":{\"format\":\"string\",\"value\":\"88.100.1/"
    "TPL-MOTOR\"},\"ttl\":86400,\"timestamp\":\"2026-01-01T03:00:03Z\"},"
    "{\"index\":2000,\"type\":\"productName\",\"data\":{\"format\":\"string\",\"value\":"
    "\"三相异步电动"
    "机 Y2-132M-4\"},\"ttl\":86400,\"timestamp\":\"2026-01-01T04:00:04Z\"},"
    "{\"index\":2001,\"type\":\"制造商\",\"data\":{\"format\":\"string\",\"value\":"
    "\"江苏泰州电机有限公司\"},\""
    "ttl\":86400,\"timestamp\":\"2026-01-01T05:00:05Z\"},"
    "{\"index\":2002,\"type\":\"model\",\"data\":{\"format\":\"string\",\"value\":\"Y2-132M-4\"},"
    "\"ttl\":86400,\"timestamp\":\"2026-01-01T06:00:06Z\"},"
    "{\"index\":2003,\"type\":\"ratedPower\",\"data\":{\"format\":\"string\",\"value\":\"7.5 kW\""
    "},\"ttl\":86400,\"timestamp\":\"2026-01-01T07:00:07Z\"},"
    "{\"index\":2004,\"type\":\"productionDate\",\"data\":{\"format\":\"string\",\"value\":\"202"
    "6-03-15\"},\"ttl\":86400,\"timestamp\":\"2026-01-01T08:00:08Z\"},"
    "{\"index\":2005,\"type\":\"批次号\",\"data\":{\"format\":\"string\",\"value\":\"B2026-0315-"
    "07\""
    "},\"ttl\":86400,\"timestamp\":\"2026-01-01T09:00:09Z\"},"
    "{\"index\":2006,\"type\":\"description\",\"data\":{\"format\":\"string\",\"value\":\"Housin"
    "g: cast iron; \\\"IP55\\\" rated\\ttab\\nline 2\\\\end\\r\"},\"ttl\":86400,\"timestamp\":\""
    "2026-01-01T10:00:10Z\"},"
    "{\"index\":2007,\"type\":\"certificate\",\"data\":{\"format\":\"string\",\"value\":\"CCC 20"
    "26\\u0001\\u001f\\u007f\"},\"ttl\":86400,\"timestamp\":\"2026-01-01T11:00:11Z\"},"
    "{\"index\":2008,\"type\":\"emoji\",\"data\":{\"format\":\"string\",\"value\":\"ok 👍\"},\"ttl\""
    ":86400,\"timestamp\":\"2026-01-01T12:00:12Z\"},"
    "{\"index\":2009,\"type\":\"broken\\ufffd\",\"data\":{\"format\":\"base64\",\"value\":\"eMMoe"
    "Q==\"},\"ttl\":86400,\"timestamp\":\"2026-01-01T13:00:13Z\"},"
    "{\"index\":2010,\"type\":\"origin\",\"data\":{\"format\":\"string\",\"value\":\"中国 "
    "江苏\"},\"tt"
    "l\":1800000000,\"timestamp\":\"2026-01-01T14:00:14Z\",\"ttlType\":1,\"refs\":[{\"handl"
    "e\":\"88.100.1/TPL-MOTOR\",\"index\":1001}]},"
    "{\"index\":2011,\"type\":\"binary\",\"data\":{\"format\":\"base64\",\"value\":\"CzBVep/E6Q4"
    "zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW+yBFao+02f4jSG2St9wBJkt"
    "wlbrfBClOc5i94gcsUXabwOUKL1R5nsPoDTJXfKHG6xA1Wn+kye4TOF2Cp8zxFjtgharP9Bk+Y4i"
    "t0vccQWaLsNX6H0RpjrPY/SJHbJG22wAlSm+Uud4DKE1yl7zhBitQdZq/5AkuU3idwucMMVZ7oMX"
    "qDzRZfqPI7RI3XIGmy/AVOl+Eqc7zGD1ih6zR9htAZYqv1PkeQ2iNstf8IUZrkLXa/yRJbpO43QI"
    "nTHGWu+AFKk90mb7jCC1Sd5zB5gswVXqfxOkOM1h9osfsETZbgKXK7xQ5XoOozfIXPGGGq9D1Gj9"
    "kia7T+B1CZ4yx1vsgRWqPtNn+I0htkrfcASZLcJW63wQpTnOYveIHLFF2m8DlCi9UeZ7D6A0yV3y"
    "hxusQNVp/pMnuEzhdgqfM8RY7YIWqz/QZPmOIrdL3HEFmi7DV+h9EaY6z2P0iR2yRttsAJUpvlLn"
    "eAyhNcpe84QYrUHWav+QJLlN4ncLnDDFWe6DF6g80WX6jyO0SN1yBpsvwFTpfhKnO8xg9Yoes0fY"
    "bQGWKr9T5HkNojbLX/CFGa5C12v8kSW6TuN0CJ0xxlrvgBSpPdJm+4wgtUnecweYLMFV6n8TpDjN"
    "YfaLH7BE2W4Clyu8UOV6DqM3yFzxhhqvQ9Ro/ZImu0/gdQmeMsdb7IEVqj7TZ/iNIbZK33AEmS3C"
    "Vut8EKU5zmL3iByxRdpvA5QovVHmew+gNMld8ocbrEDVaf6TJ7hM4XYKnzPEWO2CFqs/0GT5jiK3"
    "S9xxBZouw1fofRGmOs9j9IkdskbbbACVKb5S53gMoTXKXvOEGK1B1mr/kCS5TeJ3C5wwxVnugxeo"
    "PNFl+o8jtEjdcgabL8BU6X4SpzvMYPWKHrNH2G0Bliq/U+R5DaI2y1/whRmuQtdr/JEluk7jdAid"
    "McZa74AUqT3SZvuMILVJ3nMHmCzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYY=\"},\"ttl"
    "\":86400,\"timestamp\":\"2026-01-01T15:00:15Z\"},"
    "{\"index\":2012,\"type\":\"nul\",\"data\":{\"format\":\"base64\",\"value\":\"YQBi\"},\"ttl\":8"
    "6400,\"timestamp\":\"2026-01-01T16:00:16Z\"},"
    "{\"index\":2013,\"type\":\"empty\",\"data\":{\"format\":\"string\",\"value\":\"\"},\"ttl\":864"
    "00,\"timestamp\":\"2026-01-01T17:00:17Z\"},"
    "{\"index\":200,\"type\":\"HS_VLIST\",\"data\":{\"format\":\"vlist\",\"value\":[{\"handle\":\""
    "88.1/A\",\"index\":300},{\"handle\":\"88.1/\\\"B\",\"index\":1}]},\"ttl\":86400,\"timestam"
    "p\":\"2026-01-01T18:00:18Z\"},"
    "{\"index\":101,\"type\":\"HS_ADMIN\",\"data\":{\"format\":\"base64\",\"value\":\"/w==\"},\"tt"
    "l\":86400,\"timestamp\":\"2026-01-01T19:00:19Z\"}]";

static void test_template_record(void **state)
{
	(void)state;
	static uint8_t buf[8192];
	size_t len;
	uint32_t n = build(buf, sizeof(buf), &len);
	http_resp r = {0};
	api_json_values(&r, idn_slice_of(buf, len), n);
	assert_false(r.oom);
	if (r.len != strlen(expected) || memcmp(r.body, expected, r.len)) {
		fprintf(stderr, "got %zu bytes:\n%.*s\n", r.len, (int)r.len, (const char *)r.body);
		fail_msg("the JSON of the template record changed");
	}
	/* Rendered again into a buffer that already holds text: appended, the same. */
	size_t at = r.len;
	api_json_values(&r, idn_slice_of(buf, len), n);
	assert_int_equal(r.len, 2 * at);
	assert_memory_equal(r.body + at, expected, at);
	free(r.body);
}

/* A thread's first timestamp, whatever it is, is rendered (not a cached one). */
static void *first_stamp(void *arg)
{
	http_resp *r = arg;
	proto_value v = {.index = 1, .timestamp = 1, .ttl = 1};
	v.type = idn_slice_of("X", 1);
	api_json_value(r, &v);
	return NULL;
}

/* Timestamps over the whole uint32 range, leap days and year ends, as gmtime_r says. */
static void test_timestamps(void **state)
{
	(void)state;
	http_resp r = {0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, first_stamp, &r), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	http_resp_append(&r, "", 1);
	assert_non_null(strstr((const char *)r.body, "\"timestamp\":\"1970-01-01T00:00:01Z\""));
	uint32_t fixed[] = {0,          59,         86399,      86400, 951782400, /* 2000-02-29 */
	                    951868799,  4107542400,                               /* 2100-03-01 */
	                    1767225599, 1767225600, 4294967295u};
	uint32_t t = 12345;
	for (int i = 0; i < 2000; i++) {
		uint32_t ts = i < (int)(sizeof(fixed) / sizeof(fixed[0]))
		                  ? fixed[i]
		                  : (t = t * 2654435761u + 1);
		proto_value v = {.index = 1, .timestamp = ts, .ttl = 1};
		v.type = idn_slice_of("X", 1);
		r.len = 0;
		api_json_value(&r, &v);
		char want[64];
		time_t tt = (time_t)ts;
		struct tm tm;
		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "\"timestamp\":\"%Y-%m-%dT%H:%M:%SZ\"}", &tm);
		size_t wl = strlen(want);
		assert_true(r.len > wl);
		if (memcmp(r.body + r.len - wl, want, wl))
			fail_msg("timestamp %u: got %.*s, want %s", ts, (int)wl,
			         (const char *)r.body + r.len - wl, want);
	}
	free(r.body);
}

/* The escaping as it was before the speed work: byte by byte, UTF-8 checked first. */
static void ref_json_str(http_resp *r, idn_slice s)
{
	bool utf8 = handle_utf8_valid(s);
	http_resp_append(r, "\"", 1);
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.p[i];
		char u[8];
		if (ch == '"')
			http_resp_append(r, "\\\"", 2);
		else if (ch == '\\')
			http_resp_append(r, "\\\\", 2);
		else if (ch == '\n')
			http_resp_append(r, "\\n", 2);
		else if (ch == '\r')
			http_resp_append(r, "\\r", 2);
		else if (ch == '\t')
			http_resp_append(r, "\\t", 2);
		else if (ch < 0x20 || ch == 0x7f)
			http_resp_append(r, u, (size_t)snprintf(u, sizeof(u), "\\u%04x", ch));
		else if (ch >= 0x80 && !utf8)
			http_resp_append(r, "\\ufffd", 6);
		else
			http_resp_append(r, &ch, 1);
	}
	http_resp_append(r, "\"", 1);
}

/*
 * api_json_str(s) is what ref_json_str(s) writes. s is copied to a heap
 * block of exactly its length first, so that a load past its end (the 16-
 * and 8-byte steps) is a heap overflow the sanitizer build reports.
 */
static void same_as_before(http_resp *got, http_resp *want, idn_slice s)
{
	uint8_t *exact = malloc(s.len ? s.len : 1);
	assert_non_null(exact);
	if (s.len)
		memcpy(exact, s.p, s.len);
	got->len = want->len = 0;
	api_json_str(got, idn_slice_of(exact, s.len));
	ref_json_str(want, s);
	free(exact);
	assert_int_equal(got->len, want->len);
	assert_memory_equal(got->body, want->body, want->len);
}

/* n bytes at s, mostly letters (long runs for the fast steps), else from alphabet. */
static void mostly_plain(uint8_t *s, size_t n, const uint8_t *alphabet, size_t na, uint32_t *x)
{
	for (size_t j = 0; j < n; j++) {
		*x = *x * 1103515245u + 12345u;
		s[j] = (*x >> 16) % 4 ? (uint8_t)('A' + (*x >> 8) % 26) : alphabet[(*x >> 20) % na];
	}
}

/*
 * Strings of the bytes escaping and UTF-8 checking turn on (overlong forms,
 * surrogates, truncated and 4-byte sequences, controls, quotes), at every
 * offset around the 8-byte steps: as the byte-by-byte escaping made them.
 */
static void test_escapes_as_before(void **state)
{
	(void)state;
	static const uint8_t alphabet[] = {'a',  '"',  '\\', '\n', 0,    0x1f, 0x7f, 0xc3, 0xbc,
	                                   0xe4, 0xb8, 0xad, 0xe0, 0x80, 0xed, 0xa0, 0xf0, 0x9f,
	                                   0x91, 0x8d, 0xc0, 0xff, 0xef, 0xbf, 0xbd, ' '};
	http_resp got = {0}, want = {0};
	uint32_t x = 7;
	for (int i = 0; i < 20000; i++) {
		uint8_t s[40];
		size_t n = (size_t)(i % 40);
		mostly_plain(s, n, alphabet, sizeof(alphabet), &x);
		same_as_before(&got, &want, idn_slice_of(s, n));
	}
	free(got.body);
	free(want.body);
}

/* A writable page followed by an unreadable one (munmap 2 pages when done). */
static uint8_t *page_then_hole(long pg)
{
	uint8_t *m =
	    mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	return m;
}

/*
 * Strings that end where a page ends, the next page unreadable: a short
 * string or tail is read 16 bytes at once only when they stay in its page
 * (a read past would fault here). Every length to 40 at every end in the
 * page's last 40 bytes, as the byte-by-byte escaping made them.
 */
static void test_escapes_at_page_end(void **state)
{
	(void)state;
	static const uint8_t alphabet[] = {'a', '"', '\\', '\n', 0x1f, 0x7f, 0xc3, 0xbc, 0xff, ' '};
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *m = page_then_hole(pg);
	http_resp got = {0}, want = {0};
	uint32_t x = 5;
	for (size_t gap = 0; gap < 40; gap++) {
		for (size_t n = 0; n <= 40; n++) {
			uint8_t *s = m + pg - gap - n;
			mostly_plain(s, n, alphabet, sizeof(alphabet), &x);
			same_as_before(&got, &want, idn_slice_of(s, n));
		}
	}
	free(got.body);
	free(want.body);
	munmap(m, 2 * (size_t)pg);
}

/*
 * Strings of whole characters (CJK, Latin, a 4-byte one, plain ASCII,
 * escapes) with a stray byte now and then, 0 to 120 bytes: long valid runs
 * of three-byte sequences, the fast path's own, as the byte-by-byte
 * escaping made them.
 */
static void test_text_as_before(void **state)
{
	(void)state;
	static const char *const tokens[] = {"\xe4\xb8\xad",
	                                     "\xe6\x96\x87",
	                                     "\xef\xbf\xbd",
	                                     "\xe1\x80\x80",
	                                     "\xec\xbf\xbf",
	                                     "\xc3\xa9",
	                                     "\xf0\x9f\x98\x80",
	                                     "\xe0\xa0\x80",
	                                     "\xed\x9f\xbf",
	                                     "\xed\xa0\x80",
	                                     "\xe0\x9f\xbf",
	                                     "\xe4\xb8",
	                                     "abc",
	                                     "x",
	                                     "\"",
	                                     "\\",
	                                     "\n",
	                                     "\x01",
	                                     " "};
	static const uint8_t stray[] = {0x80, 0xbf, 0xc0, 0xe4, 0xed, 0xf5, 0xff, 0};
	http_resp got = {0}, want = {0};
	uint32_t x = 11;
	for (int i = 0; i < 20000; i++) {
		uint8_t s[128];
		size_t n = 0, len = (size_t)(i % 121);
		while (n < len) {
			x = x * 1103515245u + 12345u;
			if ((x >> 16) % 64 == 0) {
				s[n++] = stray[(x >> 8) % sizeof(stray)];
				continue;
			}
			const char *t = tokens[(x >> 20) % (sizeof(tokens) / sizeof(tokens[0]))];
			size_t tl = strlen(t);
			if (n + tl > len)
				break;
			memcpy(s + n, t, tl);
			n += tl;
		}
		same_as_before(&got, &want, idn_slice_of(s, n));
	}
	free(got.body);
	free(want.body);
}

/* Values cut at every byte, and one more counted than there are, rendered as by proto_values_next.
 */
static void same_as_proto(const uint8_t *buf, size_t len, uint32_t n)
{
	http_resp got = {0}, want = {0};
	for (size_t cut = 0; cut <= len; cut++) {
		for (uint32_t count = n; count <= n + 1; count++) {
			idn_slice vals = idn_slice_of(cut ? buf : NULL, cut);
			got.len = want.len = 0;
			int rc = api_json_values(&got, vals, count);
			assert_non_null(http_resp_room(&want, 64));
			want.body[want.len++] = '[';
			proto_values_it it = proto_values_begin(vals, count);
			proto_value v;
			int wrc;
			for (uint32_t i = 0; (wrc = proto_values_next(&it, &v)) == 1; i++) {
				if (i)
					http_resp_append(&want, ",", 1);
				api_json_value(&want, &v);
			}
			http_resp_append(&want, "]", 1);
			assert_int_equal(rc, wrc);
			assert_int_equal(got.len, want.len);
			assert_memory_equal(got.body, want.body, got.len);
		}
	}
	free(got.body);
	free(want.body);
}

/*
 * The values read as proto_values_next reads them: the template record and
 * values of every field's odd case (absolute TTL without references, empty
 * type and data, large numbers), each cut at every byte (a damaged record)
 * and counted one too many, render the same JSON and result as a loop over
 * proto_values_next.
 */
static void test_values_as_proto(void **state)
{
	(void)state;
	static uint8_t buf[8192];
	size_t len;
	uint32_t n = build(buf, sizeof(buf), &len);
	same_as_proto(buf, len, n);

	proto_value odd[] = {
	    {.index = 5, .timestamp = 0xFFFFFFFF, .ttl_type = 1, .ttl = 1900000000, .perms = 3},
	    {.index = 0xFFFFFFFF, .timestamp = 86399, .ttl = 0},
	    {.index = 9, .timestamp = 1, .ttl = 7, .ttl_type = 2},
	};
	odd[0].type = idn_slice_of("DESC", 4);
	odd[0].data = idn_slice_of("absolute", 8);
	odd[2].type = idn_slice_of("URL", 3);
	odd[2].data = idn_slice_of("https://x.example", 17);
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		proto_value_put(&w, &odd[i]);
	assert_false(w.err);
	same_as_proto(buf, wire_wr_len(&w), 3);
}

/*
 * Types as api_json_str writes them, whatever the thread rendered before:
 * types that share a memo slot (same length and first 8 bytes) in turn,
 * short ones that differ in one byte, escapes, invalid UTF-8, types of 8,
 * 20 (the longest remembered) and 21 bytes.
 */
static void test_types_remembered(void **state)
{
	(void)state;
	static const char *const types[] = {"abcdefghX1",
	                                    "abcdefghY1",
	                                    "abcdefghX1",
	                                    "abcdefgh",
	                                    "abcdefgh-twenty-byte",
	                                    "abcdefgh-twenty-bytes",
	                                    "abcdefgh-twenty-byts",
	                                    "abcdefgh-twenty-byte",
	                                    "aXcde",
	                                    "aYcde",
	                                    "aXcde",
	                                    "aZcde",
	                                    "URL",
	                                    "a\"c",
	                                    "x\xffy",
	                                    "\xe6\x89\xb9\xe6\xac\xa1\xe5\x8f\xb7",
	                                    "\xe6\x89\xb9\xe6\xad\xa1\xe5\x8f\xb7",
	                                    "a-type-name-longer-than-twenty-four-bytes",
	                                    "aYcde",
	                                    "URL",
	                                    "\x01"};
	static const char head[] = "{\"index\":7,\"type\":";
	http_resp got = {0}, want = {0};
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			proto_value v = {.index = 7, .timestamp = 1, .ttl = 60};
			v.type = idn_slice_of(types[i], strlen(types[i]));
			got.len = want.len = 0;
			api_json_value(&got, &v);
			http_resp_append(&want, head, sizeof(head) - 1);
			api_json_str(&want, v.type);
			assert_true(got.len > want.len);
			assert_memory_equal(got.body, want.body, want.len);
		}
	}
	/* a letter and 0-7 spaces: the same first 8 bytes as read, lengths apart */
	for (int round = 0; round < 2; round++) {
		for (int k = 0; k < 26 * 8; k++) {
			char t[8] = "        ";
			t[0] = (char)('a' + k / 8);
			proto_value v = {.index = 7, .timestamp = 1, .ttl = 60};
			v.type = idn_slice_of(t, (size_t)(k % 8 + 1));
			got.len = want.len = 0;
			api_json_value(&got, &v);
			http_resp_append(&want, head, sizeof(head) - 1);
			api_json_str(&want, v.type);
			assert_memory_equal(got.body, want.body, want.len);
		}
	}
	free(got.body);
	free(want.body);
}

/* api_json_value(v)'s type is api_json_str(v->type): what it writes up to the type's end. */
static void type_as_str(http_resp *got, http_resp *want, idn_slice type)
{
	static const char head[] = "{\"index\":7,\"type\":";
	proto_value v = {.index = 7, .timestamp = 1, .ttl = 60, .type = type};
	got->len = want->len = 0;
	api_json_value(got, &v);
	http_resp_append(want, head, sizeof(head) - 1);
	api_json_str(want, type);
	assert_true(got->len > want->len);
	assert_memory_equal(got->body, want->body, want->len);
}

/*
 * The memo's key is the type's bytes read 16 at once and masked to its
 * length: types of every length to 21 that end where a page ends, the next
 * page unreadable (a read past it would fault here), each after one that
 * differs only in its last byte, in its first, or in what lies past its end
 * (a byte the mask must drop), and types sharing their first 16 bytes that
 * differ in bytes 16-19.
 */
static void test_types_at_page_end(void **state)
{
	(void)state;
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *m = page_then_hole(pg);
	http_resp got = {0}, want = {0};
	for (int round = 0; round < 2; round++) {
		for (size_t n = 1; n <= 21; n++) {
			uint8_t *t = m + pg - n, *u = m + pg - 2 * n - 8;
			for (size_t j = 0; j < n; j++)
				t[j] = u[j] = (uint8_t)('a' + j);
			u[n] = 'A'; /* past u's end, where t differs */
			type_as_str(&got, &want, idn_slice_of(u, n));
			type_as_str(&got, &want, idn_slice_of(t, n));
			u[n - 1] = 'Z';
			type_as_str(&got, &want, idn_slice_of(u, n));
			type_as_str(&got, &want, idn_slice_of(t, n));
			u[n - 1] = t[n - 1], u[0] = 'Z';
			type_as_str(&got, &want, idn_slice_of(u, n));
			type_as_str(&got, &want, idn_slice_of(t, n));
		}
	}
	static const char *const long_ones[] = {"abcdefghijklmnopQ",    "abcdefghijklmnopR",
	                                        "abcdefghijklmnopQRST", "abcdefghijklmnopQRSU",
	                                        "abcdefghijklmnopQRST", "abcdefghijklmnopQR",
	                                        "abcdefghijklmnopQS",   "abcdefghijklmnopQRS"};
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(long_ones) / sizeof(long_ones[0]); i++)
			type_as_str(&got, &want, idn_slice_of(long_ones[i], strlen(long_ones[i])));
	free(got.body);
	free(want.body);
	munmap(m, 2 * (size_t)pg);
}

/* api_json_value(v) opens with {"index":<v's index in decimal>, */
static void index_as_printf(http_resp *r, uint32_t index)
{
	char want[64];
	int n = snprintf(want, sizeof(want), "{\"index\":%u,", index);
	proto_value v = {.index = index, .timestamp = 1, .ttl = 60};
	v.type = idn_slice_of("URL", 3);
	r->len = 0;
	api_json_value(r, &v);
	assert_true(r->len > (size_t)n);
	assert_memory_equal(r->body, want, (size_t)n);
}

/*
 * Indexes as printf writes them, whatever came before: counting up through
 * 0-2,100 (every carry to 3 digits and 4: 9, 19, 99, 999 and on), down, the
 * same twice, jumps, and counting up to UINT32_MAX and on to 0.
 */
static void test_indexes(void **state)
{
	(void)state;
	http_resp r = {0};
	for (uint32_t i = 0; i <= 2100; i++)
		index_as_printf(&r, i);
	for (uint32_t i = 2100; i > 0; i -= 7)
		index_as_printf(&r, i);
	static const uint32_t odd[] = {5,          5,          6,          1,          100,
	                               1001,       2000,       2001,       9,          10,
	                               99999,      100000,     100001,     4294967290, 4294967291,
	                               4294967292, 4294967293, 4294967294, 4294967295, 0,
	                               1,          4294967295, 0,          0,          1};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		index_as_printf(&r, odd[i]);
	free(r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_template_record),   cmocka_unit_test(test_timestamps),
	    cmocka_unit_test(test_escapes_as_before), cmocka_unit_test(test_escapes_at_page_end),
	    cmocka_unit_test(test_text_as_before),    cmocka_unit_test(test_values_as_proto),
	    cmocka_unit_test(test_types_remembered),  cmocka_unit_test(test_types_at_page_end),
	    cmocka_unit_test(test_indexes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
