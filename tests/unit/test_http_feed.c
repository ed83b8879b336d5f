/*
 * test_http_feed.c - the HTTP framing without a socket (http_feed, the
 * path the fuzz target takes): pipelined requests cut into 1-byte reads,
 * chunked bodies, keep-alive, and the refusals for bad framing, oversized
 * headers and bodies, each answered once with a JSON message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static char *feed(const char *in, size_t len, size_t chunk, int *calls)
{
	http_config hc = {.max_header = 1024, .max_body = 64, .handle = echo};
	uint8_t *out = NULL;
	size_t n = 0;
	*calls = 0;
	assert_int_equal(http_feed(&hc, calls, (const uint8_t *)in, len, chunk, &out, &n), 0);
	char *s = malloc(n + 1);
	assert_non_null(s);
	if (n)
		memcpy(s, out, n);
	s[n] = 0;
	free(out);
	return s;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipelined_bytewise),
	    cmocka_unit_test(test_head_room),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_streamed_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
