/*
 * test_http_feed.c - the HTTP framing without a socket (http_feed, the
 * path the fuzz target takes): pipelined requests cut into 1-byte reads,
 * chunked bodies, keep-alive, and the refusals for bad framing, oversized
 * headers and bodies, each answered once with a JSON message; the fast path
 * for the common GET against llhttp alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/http.h"

/* Echoes method, path and body length. */
static int echo(void *wctx, const http_req *req, http_resp *r)
{
	(*(int *)wctx)++;
	http_resp_printf(r, "%s %.*s %zu", req->method, (int)req->path.len,
	                 (const char *)req->path.p, (size_t)req->body.len);
	return 0;
}

/* The answers to `in` cut into reads of `chunk` bytes; *calls: the handler's (wctx). */
static char *feed_cfg(const http_config *hc, const char *in, size_t len, size_t chunk, int *calls)
{
	uint8_t *out = NULL;
	size_t n = 0;
	*calls = 0;
	assert_int_equal(http_feed(hc, calls, (const uint8_t *)in, len, chunk, &out, &n), 0);
	char *s = malloc(n + 1);
	assert_non_null(s);
	if (n)
		memcpy(s, out, n);
	s[n] = 0;
	free(out);
	return s;
}

static char *feed(const char *in, size_t len, size_t chunk, int *calls)
{
	http_config hc = {.max_header = 1024, .max_body = 64, .handle = echo};
	return feed_cfg(&hc, in, len, chunk, calls);
}

/*
 * /room: the body written after room for the head (http_resp_head_room);
 * /late: room asked after the body began (refused); /err: room, then an error.
 */
static int roomy(void *wctx, const http_req *req, http_resp *r)
{
	(void)wctx;
	r->content_type = "text/plain";
	if (req->path.len == 5 &&
	    (!memcmp(req->path.p, "/json", 5) || !memcmp(req->path.p, "/made", 5))) {
		/* JSON: a 200's first lines are copied whole, a 201's built */
		r->content_type = "application/json";
		r->status = req->path.p[1] == 'j' ? 200 : 201;
		assert_true(http_resp_head_room(r));
		http_resp_puts(r, "{}");
		return 0;
	}
	if (req->path.len == 5 && !memcmp(req->path.p, "/late", 5)) {
		http_resp_puts(r, "late");
		assert_false(http_resp_head_room(r));
		return 0;
	}
	assert_true(http_resp_head_room(r));
	http_resp_puts(r, "hello");
	if (req->path.len == 4 && !memcmp(req->path.p, "/err", 4))
		http_resp_error(r, 404, 100, "gone");
	return 0;
}

static void test_head_room(void **state)
{
	(void)state;
	static const char in[] = "GET /room HTTP/1.1\r\n\r\n"
	                         "GET /late HTTP/1.1\r\n\r\n"
	                         "HEAD /room HTTP/1.1\r\n\r\n"
	                         "GET /err HTTP/1.1\r\n\r\n"
	                         "GET /room HTTP/1.1\r\n\r\n"
	                         "GET /json HTTP/1.1\r\n\r\n"
	                         "GET /made HTTP/1.1\r\n\r\n";
#define HEAD_OF(n)                                                                                 \
	"HTTP/1.1 200 OK\r\nServer: idnode\r\nContent-Type: text/plain\r\n"                        \
	"Content-Length: " n "\r\n\r\n"
	static const char want[] =
	    HEAD_OF("5") "hello" HEAD_OF("4") "late" HEAD_OF("5") /* HEAD: no body */
	    "HTTP/1.1 404 Not Found\r\nServer: idnode\r\nContent-Type: application/json\r\n"
	    "Content-Length: 37\r\n\r\n{\"responseCode\":100,\"message\":\"gone\"}" HEAD_OF(
	        "5") "hello"
	             "HTTP/1.1 200 OK\r\nServer: idnode\r\nContent-Type: application/json\r\n"
	             "Content-Length: 2\r\n\r\n{}"
	             "HTTP/1.1 201 Created\r\nServer: idnode\r\nContent-Type: application/json\r\n"
	             "Content-Length: 2\r\n\r\n{}";
#undef HEAD_OF
	for (size_t chunk = 0; chunk < 3; chunk++) {
		http_config hc = {.handle = roomy};
		uint8_t *out = NULL;
		size_t n = 0;
		assert_int_equal(http_feed(&hc, NULL, (const uint8_t *)in, sizeof(in) - 1,
		                           chunk ? sizeof(in) / chunk : 0, &out, &n),
		                 0);
		assert_int_equal(n, sizeof(want) - 1);
		assert_memory_equal(out, want, n);
		free(out);
	}
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static void test_pipelined_bytewise(void **state)
{
	(void)state;
	static const char in[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	                         "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
	                         "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	                         "2\r\nab\r\n1\r\nc\r\n0\r\n\r\n";
	for (size_t chunk = 0; chunk < 4; chunk++) {
		int calls;
		char *s = feed(in, sizeof(in) - 1, chunk, &calls);
		assert_int_equal(calls, 3);
		assert_int_equal(count(s, "HTTP/1.1 200 OK"), 3);
		assert_non_null(strstr(s, "GET /a 0"));
		assert_non_null(strstr(s, "POST /b 3"));
		assert_non_null(strstr(s, "PUT /c 3"));
		assert_null(strstr(s, "Connection: close"));
		free(s);
	}
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *status;
	} cases[] = {
	    {"GET /a HTTP/1.1\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 400"},
	    {"BLAH\r\n\r\n", "HTTP/1.1 400"},
	    {"POST /a HTTP/1.1\r\nContent-Length: 65\r\n\r\n", "HTTP/1.1 413"},
	    /* A chunk over max_body is refused when announced, before its bytes come. */
	    {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n",
	     "HTTP/1.1 413"},
	    {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n"
	     "0123456789abcdef0123456789abcdef\r\n21\r\n",
	     "HTTP/1.1 413"},
	    {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1FFFFFFFFFFFFFFFF\r\n",
	     "HTTP/1.1 400"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int calls;
		char *s = feed(cases[i].in, strlen(cases[i].in), 0, &calls);
		assert_int_equal(calls, 0);
		assert_int_equal(strncmp(s, cases[i].status, strlen(cases[i].status)), 0);
		assert_non_null(strstr(s, "\"message\":"));
		assert_non_null(strstr(s, "Connection: close"));
		free(s);
	}
	/* A header block over max_header: 431, the handler never runs. */
	size_t n = 8192;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'a', n);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	int calls;
	char *s = feed(big, n, 100, &calls);
	assert_int_equal(calls, 0);
	assert_int_equal(strncmp(s, "HTTP/1.1 431", 12), 0);
	free(s);
	free(big);
}

/* A streamed answer: "<" + "part1".."part3" + ">", counting its producer's calls. */
struct counted_stream {
	int next, done;
};

static int stream_next(void *arg, http_resp *part)
{
	struct counted_stream *cs = arg;
	cs->next++;
	http_resp_printf(part, "part%d", cs->next);
	if (cs->next < 3)
		return 1;
	http_resp_puts(part, ">");
	return 0;
}

static void stream_done(void *arg)
{
	((struct counted_stream *)arg)->done++;
}

static int streamer(void *wctx, const http_req *req, http_resp *r)
{
	(void)req;
	http_resp_puts(r, "<");
	http_resp_stream(r, stream_next, stream_done, wctx);
	return 0;
}

static char *feed_stream(const char *in, struct counted_stream *cs)
{
	http_config hc = {.handle = streamer};
	uint8_t *out = NULL;
	size_t n = 0;
	*cs = (struct counted_stream){0};
	assert_int_equal(http_feed(&hc, cs, (const uint8_t *)in, strlen(in), 0, &out, &n), 0);
	char *s = calloc(1, n + 1);
	assert_non_null(s);
	memcpy(s, out, n);
	free(out);
	return s;
}

/*
 * http_resp_stream: HTTP/1.1 gets the parts as chunks and the request after
 * it its answer in turn; HTTP/1.0 a body ended by closing; HEAD none, and
 * the producer never runs. done is called once each time.
 */
static void test_streamed_body(void **state)
{
	(void)state;
	struct counted_stream cs;
	char *s = feed_stream("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", &cs);
	assert_non_null(strstr(s, "Transfer-Encoding: chunked\r\n"));
	assert_null(strstr(s, "Content-Length"));
	assert_non_null(
	    strstr(s, "\r\n\r\n1\r\n<\r\n5\r\npart1\r\n5\r\npart2\r\n6\r\npart3>\r\n0\r\n\r\n"
	              "HTTP/1.1 200"));
	assert_int_equal(count(s, "HTTP/1.1 200 OK"), 2);
	assert_int_equal(cs.done, 2);
	free(s);

	s = feed_stream("GET /a HTTP/1.0\r\n\r\n", &cs);
	assert_non_null(strstr(s, "Connection: close\r\n\r\n<part1part2part3>"));
	assert_null(strstr(s, "chunked"));
	assert_int_equal(cs.done, 1);
	free(s);

	s = feed_stream("HEAD /a HTTP/1.1\r\n\r\n", &cs);
	assert_null(strstr(s, "part"));
	assert_int_equal(cs.next, 0);
	assert_int_equal(cs.done, 1);
	free(s);
}

/*
 * The fast path for the common GET (http_framing.c, fast_request) against
 * llhttp alone: the same byte streams, valid and invalid, fed with the fast
 * path and without it (http_config.no_fast_path), cut into reads of every
 * length from 1 byte to the whole stream, must give the same answers byte
 * for byte. echo_all echoes what the handler was given (method, target,
 * every header, the body's length); the framing's own answers (keep-alive,
 * Connection: close, the refusals) are compared too. Then the same for
 * streams mutated at random (a fixed seed).
 */
static int echo_all(void *wctx, const http_req *req, http_resp *r)
{
	(*(int *)wctx)++;
	r->content_type = "text/plain";
	http_resp_printf(r, "%s [%.*s] %zu", req->method, (int)req->target.len,
	                 (const char *)req->target.p, (size_t)req->body.len);
	for (size_t i = 0; i < req->nheaders; i++)
		http_resp_printf(r, " <%.*s>=<%.*s>", (int)req->headers[i].name.len,
		                 (const char *)req->headers[i].name.p,
		                 (int)req->headers[i].value.len,
		                 (const char *)req->headers[i].value.p);
	return 0;
}

static char *feed_way(const char *in, size_t len, size_t chunk, bool fast, int *calls)
{
	http_config hc = {.max_header = 1024, .max_body = 64, .handle = echo_all};
	hc.no_fast_path = !fast;
	return feed_cfg(&hc, in, len, chunk, calls);
}

/* Both ways at every read length; returns the handler's calls on the whole stream. */
static int same_both_ways(const char *in, size_t len)
{
	int whole = -1;
	for (size_t chunk = 1; chunk <= len + 1; chunk++) {
		int ca, cb;
		char *a = feed_way(in, len, chunk, true, &ca),
		     *b = feed_way(in, len, chunk, false, &cb);
		if (strcmp(a, b) || ca != cb) {
			print_error("stream %.*s\nreads of %zu: fast path %d calls:\n%s\nllhttp %d "
			            "calls:\n%s\n",
			            (int)len, in, chunk, ca, a, cb, b);
			fail();
		}
		if (chunk == len + 1)
			whole = ca;
		free(a);
		free(b);
	}
	return whole;
}

#define GET(t) "GET " t " HTTP/1.1\r\n"
static const struct {
	const char *in;
	int calls; /* answered by the handler, the stream whole */
} streams[] = {
    {GET("/api/handles/88.1/x") "Host: 127.0.0.1:8332\r\n\r\n", 1},
    {GET("/x") "\r\n", 1},
    {GET("/a?x=1&y=%20") "Host: h\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n" GET(
         "/b") "Host: h\r\n\r\n" GET("/c") "Accept:  two spaces\r\n\r\n",
     3},
    {GET("/a") "Host: h\r\nConnection: close\r\n\r\n" GET("/b") "Host: h\r\n\r\n", 1},
    {GET("/a") "connection: Close\r\n\r\n" GET("/b") "\r\n", 1},
    {GET("/a") "Connection: keep-alive\r\n\r\n" GET("/b") "\r\n", 2},
    {GET("/a") "Proxy-Connection: close\r\n\r\n" GET("/b") "\r\n", 1},
    {"GET /a HTTP/1.0\r\nHost: h\r\n\r\n" GET("/b") "\r\n", 1},
    {"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" GET("/b") "\r\n", 2},
    {GET("/a") "Content-Length: 3\r\n\r\nabc" GET("/b") "\r\n", 2},
    {GET("/a") "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 0},
    {GET("/a") "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" GET("/b") "\r\n", 2},
    {GET("/a") "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", 0},
    {GET("/a") "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nab", 1},
    {GET("/a") "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1},
    {GET("/a") "UPGRADE: h2c\r\n\r\n" GET("/b") "\r\n", 2},
    {GET("/a") "Host: a\r\n b\r\n\r\n", 1}, /* obs-fold */
    {GET("/a") "Host: a \r\n\r\n", 1},      /* trailing space */
    {GET("/a") "Host:\ta\r\n\r\n", 1},      /* tab */
    {GET("/a") "Host: a\tb\r\n\r\n", 1},    /* tab inside */
    {GET("/a") "Host:a\r\n\r\n", 1},        /* no space */
    {GET("/a") "Host: \r\n\r\n", 1},        /* empty */
    {GET("/a") "Host:\r\n\r\n", 1},         /* empty, no space */
    {GET("/a") "Host : a\r\n\r\n", 1},      /* space before the colon */
    {GET("/a") "Ho st: a\r\n\r\n", 1},
    {GET("/a") "Host: a\x7f\r\n\r\n", 0},
    {GET("/a") "Host: a\x01\r\n\r\n", 0},
    {GET("/a") "Host: \xc3\xa9\r\n\r\n", 1},
    {GET("/a") "Host: a\nX: b\n\n", 0},     /* bare LF */
    {GET("/a") "Host: a\rX: b\r\n\r\n", 0}, /* bare CR */
    {"GET /a HTTP/1.1\n\n", 1},
    {"GET  /a HTTP/1.1\r\n\r\n", 1},
    {"GET /a  HTTP/1.1\r\n\r\n", 1},
    {"GET /a#frag HTTP/1.1\r\n\r\n", 1},
    {"GET /!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~ HTTP/1.1\r\n"
     "X-All: !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~ x\r\n\r\n",
     1},
    {"GET /0123456789abcdef0123456789abcdef\x7f HTTP/1.1\r\n\r\n", 0},
    {"GET /0123456789abcdef0123456789abcde\x80 HTTP/1.1\r\n\r\n", 1},
    {GET("/a") "X: 0123456789abcdef0123456789abcdef\x01\r\n\r\n", 0},
    {"GET /a\xc3\xa9 HTTP/1.1\r\n\r\n", 1},
    {"GET /a\"b HTTP/1.1\r\n\r\n", 1},
    {"GET /a{b}|c HTTP/1.1\r\n\r\n", 1},
    {"GET * HTTP/1.1\r\n\r\n", 1},
    {"GET http://h/a HTTP/1.1\r\n\r\n", 1},
    {"get /a HTTP/1.1\r\n\r\n", 0},
    {"GET /a HTTP/1.2\r\n\r\n", 0},
    {"GET /a HTTP/2.0\r\n\r\n", 1},
    {"GET /a http/1.1\r\n\r\n", 0},
    {"GET /a HTTP/1.1\r\n", 0}, /* not whole at EOF */
    {"HEAD /a HTTP/1.1\r\n\r\n" GET("/b") "\r\n", 2},
    {"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi" GET("/b") "\r\n", 2},
    {"\r\n\r\n" GET("/a") "\r\n"
                          "\r\n" GET("/b") "\r\n",
     2},
    {GET("/a") "X-1: 1\r\nX-2: 2\r\nX-3: 3\r\nAuthorization: Basic eDp5\r\n"
               "Accept-Encoding: gzip, deflate\r\nAccept-Language: en;q=0.9\r\n\r\n",
     1},
    {"\x16\x03\x01\x00\xa5\x01\x00\x00", 0},
    {"", 0},
};

/* 65 headers (one over HTTP_MAX_HEADERS), then a header block over max_header. */
static void test_fast_limits(void **state)
{
	(void)state;
	char big[4096];
	size_t n = (size_t)snprintf(big, sizeof(big), GET("/a"));
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(same_both_ways(big, n), 0);
	/* 64 exactly: answered */
	n = (size_t)snprintf(big, sizeof(big), GET("/a"));
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(same_both_ways(big, n), 1);
	/* the header bytes just under, at and over max_header (1024, as llhttp counts them) */
	for (size_t v = 1000; v < 1012; v++) {
		n = (size_t)snprintf(big, sizeof(big), GET("/a") "X: ");
		memset(big + n, 'v', v);
		n += v;
		n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n\r\n");
		same_both_ways(big, n);
	}
}

static void test_fast_streams(void **state)
{
	(void)state;
	bool bad = false;
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		int calls = same_both_ways(streams[i].in, strlen(streams[i].in));
		if (calls != streams[i].calls) {
			print_error("stream %zu (%s): %d calls, not %d\n", i, streams[i].in, calls,
			            streams[i].calls);
			bad = true;
		}
	}
	assert_false(bad);
}

/* The streams with a byte changed, dropped or put in, at random (a fixed seed). */
static void test_fast_mutated(void **state)
{
	(void)state;
	static const char pick[] = "\r\n :\t\x7f\x80/?#GETHP1.0aA-\"{\x01";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char buf[512];
	for (int round = 0; round < 3000; round++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		const char *in = streams[x % (sizeof(streams) / sizeof(streams[0]))].in;
		size_t len = strlen(in);
		if (!len || len > sizeof(buf) - 8)
			continue;
		memcpy(buf, in, len);
		for (int k = 0; k < 1 + (int)(x >> 60) % 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t at = (size_t)(x >> 8) % len;
			char b = pick[(x >> 40) % (sizeof(pick) - 1)];
			switch ((x >> 52) % 3) {
			case 0:
				buf[at] = b;
				break;
			case 1:
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			default:
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = b;
				len++;
			}
			if (!len)
				break;
		}
		if (len)
			same_both_ways(buf, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipelined_bytewise), cmocka_unit_test(test_head_room),
	    cmocka_unit_test(test_refusals),           cmocka_unit_test(test_streamed_body),
	    cmocka_unit_test(test_fast_streams),       cmocka_unit_test(test_fast_limits),
	    cmocka_unit_test(test_fast_mutated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
