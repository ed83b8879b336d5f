/*
 * http_framing.c - HTTP/1.1 framing with llhttp: the request's target,
 * headers and body, the limits, dispatch to the handler in request order,
 * the answer's serialisation, the access log; http_feed() runs it without a
 * socket.
 *
 * A connection's bytes go into `in`; llhttp runs over them and its callbacks
 * note where the target and headers are (offsets, since a span may arrive in
 * several reads but always lies contiguous in `in`). At the end of the
 * headers they are copied into `head`, so that `in` can be compacted while a
 * long body streams into `body`. on_message_complete pauses the parser: the
 * request is answered before the next pipelined one is parsed, so answers
 * leave in request order without a queue.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h> /* baseline on x86-64 */
#endif

#include "core/err.h"
#include "core/codec.h"
#include "core/limit.h"
#include "net/http_conn.h"

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static const char *reason(int status)
{
	static const struct {
		int code;
		const char *text;
	} tab[] = {
	    {100, "Continue"},
	    {200, "OK"},
	    {201, "Created"},
	    {204, "No Content"},
	    {300, "Multiple Choices"},
	    {301, "Moved Permanently"},
	    {302, "Found"},
	    {304, "Not Modified"},
	    {307, "Temporary Redirect"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {411, "Length Required"},
	    {413, "Content Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {429, "Too Many Requests"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {503, "Service Unavailable"},
	    {507, "Insufficient Storage"},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].code == status)
			return tab[i].text;
	return "Unknown";
}

static bool out_append(http_conn *c, const void *p, size_t n)
{
	if (!http_buf_grow(&c->out, &c->out_cap, c->out_len + n))
		return false;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return true;
}

bool http_out_append(http_conn *c, const void *p, size_t n)
{
	return out_append(c, p, n);
}

static void access_log(http_conn *c, const char *method, idn_slice target, int status, size_t len)
{
	FILE *f = c->w->s->cfg.access_log;
	if (!f)
		return;
	char host[INET6_ADDRSTRLEN] = "-";
	if (c->peer.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&c->peer)->sin_addr, host, sizeof(host));
	else if (c->peer.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&c->peer)->sin6_addr, host,
		          sizeof(host));
	char ts[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%d/%b/%Y:%H:%M:%S +0000", &tm);
	/* Control bytes in the target are logged as '?', so a line stays a line. */
	char tgt[512];
	size_t n = target.len < sizeof(tgt) - 1 ? target.len : sizeof(tgt) - 1;
	for (size_t i = 0; i < n; i++)
		tgt[i] = target.p[i] < 0x20 || target.p[i] == 0x7f || target.p[i] == '"'
		             ? '?'
		             : (char)target.p[i];
	tgt[n] = 0;
	uint64_t us = c->msg_t0 ? (net_now_ms() - c->msg_t0) * 1000 : 0;
	fprintf(f, "%s - - [%s] \"%s %s%s HTTP/1.1\" %d %zu %llums\n", host, ts, method, tgt,
	        target.len > n ? "..." : "", status, len, (unsigned long long)(us / 1000));
}

/*
 * Serialises resp onto the connection's output. A streamed body goes on
 * after the headers (http_stream.c); HTTP/1.0 has no chunks: its body ends
 * with the connection.
 */
static void emit(http_conn *c, http_resp *r, bool head_only, bool keep, int http_minor)
{
	bool stream = r->stream && !head_only;
	if (stream && http_minor == 0)
		keep = false;
	/* The header, built with copies (no printf: this runs for every answer). */
	char hdr[4096], num[CODEC_DEC_MAX];
	size_t n = 0;
	bool fits = true;
#define HDR_PUT(s, l)                                                                              \
	do {                                                                                       \
		size_t l_ = (l);                                                                   \
		if (fits && l_ <= sizeof(hdr) - n)                                                 \
			memcpy(hdr + n, (s), l_), n += l_;                                         \
		else                                                                               \
			fits = false;                                                              \
	} while (0)
#define HDR_STR(s) HDR_PUT((s), strlen(s))
	/* the JSON answer's first lines, the same every time, in one copy */
	static const char json_200[] = "HTTP/1.1 200 OK\r\nServer: idnode\r\nContent-Type: "
	                               "application/json\r\n";
	if (r->status == 200 && r->content_type && !strcmp(r->content_type, "application/json")) {
		HDR_PUT(json_200, sizeof(json_200) - 1);
	} else {
		HDR_STR("HTTP/1.1 ");
		HDR_PUT(num, codec_dec(r->status < 0 ? 0 : (uint64_t)r->status, num));
		HDR_STR(" ");
		HDR_STR(reason(r->status));
		HDR_STR("\r\nServer: idnode\r\nContent-Type: ");
		HDR_STR(r->content_type ? r->content_type : "text/plain");
		HDR_STR("\r\n");
	}
	if (!r->stream) {
		HDR_STR("Content-Length: ");
		HDR_PUT(num, codec_dec(r->len - r->head, num));
		HDR_STR("\r\n");
	} else if (http_minor) {
		HDR_STR("Transfer-Encoding: chunked\r\n");
	}
	if (r->location[0]) {
		HDR_STR("Location: ");
		HDR_STR(r->location);
		HDR_STR("\r\n");
	}
	if (r->extra_headers)
		HDR_STR(r->extra_headers);
	HDR_STR(!keep             ? "Connection: close\r\n\r\n"
	        : http_minor == 0 ? "Connection: keep-alive\r\n\r\n"
	                          : "\r\n");
#undef HDR_STR
#undef HDR_PUT
	if (!fits || (stream && !out_append(c, hdr, n))) {
		c->closing = true, c->keep = false;
		http_resp_stream_drop(r);
		return;
	}
	if (stream) {
		http_stream_begin(c, r, http_minor > 0, !keep);
		return;
	}
	http_resp_stream_drop(r);
	if (!keep)
		c->closing = true;
	if (r->head && !head_only && n <= r->head && c->out_len == 0) {
		/* in place: the head just before the body, the buffer the connection's output */
		memcpy(r->body + r->head - n, hdr, n);
		uint8_t *spare = c->out;
		size_t spare_cap = c->out_cap;
		c->out = r->body, c->out_cap = r->cap;
		c->out_off = r->head - n, c->out_len = r->len;
		r->body = spare, r->cap = spare_cap;
		r->len = r->head = 0;
		return;
	}
	if (!out_append(c, hdr, n)) {
		c->closing = true, c->keep = false;
		return;
	}
	size_t blen = r->len - r->head;
	if (!head_only && blen && !out_append(c, r->body + r->head, blen))
		c->closing = true, c->keep = false;
}

/* A refusal by the server itself (framing, limits): answer and close. */
void http_refuse(http_conn *c, int status, const char *msg)
{
	http_resp *r = &c->w->resp;
	r->len = r->head = 0;
	r->oom = false;
	r->location[0] = 0;
	r->extra_headers = NULL;
	http_resp_error(r, status, 2, msg);
	emit(c, r, false, false, 1);
	access_log(c, "-", idn_slice_of("-", 1), status, r->len);
	c->closing = true;
	c->linger = true;
}

static http_conn *conn_of(llhttp_t *p)
{
	return p->data;
}

static int on_message_begin(llhttp_t *p)
{
	http_conn *c = conn_of(p);
	c->url = (http_span){0, 0};
	c->nhdr = 0;
	c->in_value = false;
	c->hdr_bytes = 0;
	c->body_len = 0;
	c->phase = PH_HEADERS;
	c->msg_t0 = net_now_ms();
	c->deadline = c->msg_t0 + c->w->s->cfg.header_timeout_ms;
	return 0;
}

static int count_head(http_conn *c, size_t len)
{
	c->hdr_bytes += len;
	if (c->hdr_bytes > c->w->s->cfg.max_header) {
		c->err_status = 431;
		c->err_msg = "request line and headers are too large";
		return HPE_USER;
	}
	return 0;
}

static void extend(http_span *s, http_conn *c, const char *at, size_t len)
{
	size_t off = (size_t)((const uint8_t *)at - c->in);
	if (s->len == 0)
		s->off = off;
	s->len = off + len - s->off;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	http_conn *c = conn_of(p);
	extend(&c->url, c, at, len);
	return count_head(c, len);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	http_conn *c = conn_of(p);
	if (c->in_value || c->nhdr == 0) {
		if (c->nhdr == HTTP_MAX_HEADERS) {
			c->err_status = 431;
			c->err_msg = "too many header fields";
			return HPE_USER;
		}
		c->hname[c->nhdr] = (http_span){0, 0};
		c->hval[c->nhdr] = (http_span){0, 0};
		c->nhdr++;
		c->in_value = false;
	}
	extend(&c->hname[c->nhdr - 1], c, at, len);
	return count_head(c, len + 4);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	http_conn *c = conn_of(p);
	c->in_value = true;
	extend(&c->hval[c->nhdr - 1], c, at, len);
	return count_head(c, len);
}

static idn_slice copy_span(http_conn *c, http_span s)
{
	uint8_t *d = c->head + c->head_len;
	memcpy(d, c->in + s.off, s.len);
	c->head_len += s.len;
	return idn_slice_of(d, s.len);
}

/* 413: the body (or a chunk of it, announced as n bytes) is over max_body. */
static void body_too_large(http_conn *c, uint64_t n)
{
	c->err_status = 413;
	c->err_msg = "request body is too large";
	limit_hit(LIM_HTTP_BODY, "http: a body of %llu bytes or more refused (http-max-body %zu)",
	          (unsigned long long)n, c->w->s->cfg.max_body);
}

static int on_headers_complete(llhttp_t *p)
{
	http_conn *c = conn_of(p);
	const http_config *cfg = &c->w->s->cfg;
	/* hdr_bytes bounds what is copied: max_header + 4 per header. */
	c->head_len = 0;
	c->target = copy_span(c, c->url);
	bool expect = false;
	for (unsigned i = 0; i < c->nhdr; i++) {
		c->headers[i].name = copy_span(c, c->hname[i]);
		c->headers[i].value = copy_span(c, c->hval[i]);
		if (c->headers[i].name.len == 6 &&
		    !strncasecmp((const char *)c->headers[i].name.p, "expect", 6) &&
		    c->headers[i].value.len == 12 &&
		    !strncasecmp((const char *)c->headers[i].value.p, "100-continue", 12))
			expect = true;
	}
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > cfg->max_body) {
		body_too_large(c, p->content_length);
		return -1; /* on_headers_complete has no HPE_USER; err_status says why */
	}
	/* curl waits a second for this before sending a body of 1 KiB or more. */
	if (expect && p->http_major == 1 && p->http_minor == 1)
		out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	c->phase = PH_BODY;
	c->deadline = net_now_ms() + cfg->body_timeout_ms;
	return 0;
}

/*
 * A chunk announced: refused at once when the body would pass max_body with
 * it, rather than waiting for bytes that would be refused anyway (or never
 * come: a size of FFFFFFFFFFFFFFFF). llhttp keeps the size in content_length.
 */
static int on_chunk_header(llhttp_t *p)
{
	http_conn *c = conn_of(p);
	if (p->content_length > c->w->s->cfg.max_body - c->body_len) {
		uint64_t n = p->content_length;
		body_too_large(c, n > UINT64_MAX - c->body_len ? UINT64_MAX : n + c->body_len);
		return HPE_USER;
	}
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	http_conn *c = conn_of(p);
	if (c->body_len + len > c->w->s->cfg.max_body) {
		body_too_large(c, c->body_len + len);
		return HPE_USER;
	}
	if (!http_buf_grow(&c->body, &c->body_cap, c->body_len + len)) {
		c->err_status = 503;
		c->err_msg = "out of memory";
		return HPE_USER;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	http_conn *c = conn_of(p);
	c->complete = true;
	c->keep = llhttp_should_keep_alive(p);
	return HPE_PAUSED;
}

static void settings_init(void)
{
	llhttp_settings_init(&settings);
	settings.on_message_begin = on_message_begin;
	settings.on_url = on_url;
	settings.on_header_field = on_header_field;
	settings.on_header_value = on_header_value;
	settings.on_headers_complete = on_headers_complete;
	settings.on_chunk_header = on_chunk_header;
	settings.on_body = on_body;
	settings.on_message_complete = on_message_complete;
}

void http_parser_init(http_conn *c)
{
	pthread_once(&settings_once, settings_init);
	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	c->parser.data = c;
}

void http_later_emit(http_conn *c, struct http_later *l)
{
	http_resp *r = &l->resp;
	if (l->oom) {
		r = &c->w->resp;
		r->location[0] = 0;
		r->extra_headers = NULL;
		r->oom = false;
		http_resp_error(r, 500, 2, "out of memory");
	}
	emit(c, r, l->head_only, l->keep, l->http_minor);
	access_log(c, l->method, c->target, r->status, r->len);
	c->msg_t0 = 0;
}

/* Answers the request parsed; false when the handler deferred its answer (http_defer). */
static bool dispatch(http_conn *c)
{
	http_worker *w = c->w;
	http_resp *r = &w->resp;
	r->status = 200;
	r->content_type = "application/json";
	r->location[0] = 0;
	r->extra_headers = NULL;
	r->close = false;
	r->len = r->head = 0;
	r->head_ok = true; /* this answer may be written in place (http_resp_head_room) */
	r->oom = false;
	r->conn = c;
	http_resp_stream_drop(r);
	http_req req = {
	    .method = llhttp_method_name(c->parser.method),
	    .target = c->target,
	    .headers = c->headers,
	    .nheaders = c->nhdr,
	    .body = idn_slice_of(c->body, c->body_len),
	    .peer = (struct sockaddr *)&c->peer,
	    .peer_len = c->peer_len,
	    .tls = c->ssl != NULL,
	};
	const uint8_t *q = memchr(c->target.p, '?', c->target.len);
	req.path = idn_slice_of(c->target.p, q ? (size_t)(q - c->target.p) : c->target.len);
	if (q) {
		req.has_query = true;
		req.query = idn_slice_of(q + 1, c->target.len - req.path.len - 1);
	}
	int ret = w->s->cfg.handle(w->wctx, &req, r);
	r->conn = NULL;
	r->head_ok = false;
	if (c->later) {
		http_resp_stream_drop(r);
		return false; /* http_later_emit writes it */
	}
	if (ret < 0 || r->oom) {
		http_resp_stream_drop(r);
		r->oom = false;
		r->location[0] = 0;
		http_resp_error(r, 500, 2, ret < 0 ? idn_strerror(ret) : "out of memory");
	}
	bool head = c->parser.method == HTTP_HEAD;
	size_t blen = r->len - r->head; /* emit may hand the body over */
	emit(c, r, head, c->keep && !r->close, c->parser.http_minor);
	access_log(c, req.method, c->target, r->status, blen);
	return true;
}

/*
 * The end of the run from p of bytes from lo to 0x7e (a target: visible
 * ASCII, all of which llhttp keeps in it, '#' included; a header's value:
 * space too), 16 bytes a step with SSE2 while 16 remain.
 */
static const uint8_t *ascii_run(const uint8_t *p, const uint8_t *end, uint8_t lo)
{
#ifdef __SSE2__
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)p);
		/* signed: bytes of 0x80 and above are below lo too */
		unsigned m = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8((char)lo)),
		                 _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));
		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
#endif
	while (p < end && *p >= lo && *p < 0x7f)
		p++;
	return p;
}
/* Of a header's name: 1 a letter, digit or '-'; 2 also a first letter llhttp never looks at. */
static const uint8_t fast_name[256] = {
    ['0' ... '9'] = 1, ['-'] = 1, ['C'] = 1,         ['c'] = 1,         ['E'] = 1,
    ['e'] = 1,         ['P'] = 1, ['p'] = 1,         ['T'] = 1,         ['t'] = 1,
    ['A' ... 'B'] = 2, ['D'] = 2, ['F' ... 'O'] = 2, ['Q' ... 'S'] = 2, ['U' ... 'Z'] = 2,
    ['a' ... 'b'] = 2, ['d'] = 2, ['f' ... 'o'] = 2, ['q' ... 's'] = 2, ['u' ... 'z'] = 2,
};

/*
 * The common request parsed without llhttp: "GET /<target> HTTP/1.1" (the
 * target visible ASCII), then "Name: value" lines of plain ASCII (one space
 * after the colon, none at the value's end), then an empty line, all of it
 * in `in` already. No header llhttp or the framing reads (Connection, Content-Length,
 * Proxy-Connection, Transfer-Encoding, Expect: names from C, E, P or T, and Upgrade), so no body
 * and keep-alive, as llhttp would find. Anything else, a request not whole yet or over the limits
 * included, is 0: llhttp parses it as before, so what a client sees does not change (test_http_feed
 * feeds both the same bytes). Returns the request's length, its target and headers copied into
 * `head` as on_headers_complete does.
 */
static size_t fast_request(http_conn *c)
{
	const uint8_t *s = c->in + c->parsed, *end = c->in + c->in_len, *p = s + 4;
	if (end - s < 18 || memcmp(s, "GET /", 5))
		return 0;
	p = ascii_run(p, end, 0x21);
	size_t ulen = (size_t)(p - (s + 4)), bytes = ulen;
	if (end - p < 11 || memcmp(p, " HTTP/1.1\r\n", 11))
		return 0;
	p += 11;
	unsigned n = 0;
	for (;;) {
		if (end - p < 2)
			return 0;
		if (p[0] == '\r') {
			if (p[1] != '\n')
				return 0;
			p += 2;
			break;
		}
		const uint8_t *name = p;
		if (fast_name[*p] != 2 || n == HTTP_MAX_HEADERS)
			return 0;
		while (p < end && fast_name[*p])
			p++;
		size_t nlen = (size_t)(p - name);
		if (nlen == 7 && !strncasecmp((const char *)name, "upgrade", 7))
			return 0;
		if (end - p < 3 || p[0] != ':' || p[1] != ' ' || p[2] == ' ')
			return 0;
		const uint8_t *val = p += 2;
		p = ascii_run(p, end, 0x20);
		size_t vlen = (size_t)(p - val);
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n' || !vlen || val[vlen - 1] == ' ')
			return 0;
		p += 2;
		c->hname[n] = (http_span){(size_t)(name - c->in), nlen};
		c->hval[n] = (http_span){(size_t)(val - c->in), vlen};
		n++;
		bytes += nlen + 4 + vlen;
	}
	if (bytes > c->w->s->cfg.max_header)
		return 0;
	/* as on_message_begin, on_headers_complete and on_message_complete */
	c->msg_t0 = net_now_ms();
	c->head_len = 0;
	c->target = copy_span(c, (http_span){(size_t)(s + 4 - c->in), ulen});
	for (unsigned i = 0; i < n; i++) {
		c->headers[i].name = copy_span(c, c->hname[i]);
		c->headers[i].value = copy_span(c, c->hval[i]);
	}
	c->nhdr = n;
	c->body_len = 0;
	c->parser.method = HTTP_GET;
	c->parser.http_major = 1;
	c->parser.http_minor = 1;
	c->keep = true;
	return (size_t)(p - s);
}

/* A whole request parsed up to c->parsed: answered. */
static void parsed_one(http_conn *c)
{
	c->phase = PH_IDLE;
	http_conn_progress(c);
	if (dispatch(c))
		c->msg_t0 = 0;
	c->deadline = net_now_ms() + c->w->s->cfg.idle_ms;
	c->msg_start = c->parsed;
}

/*
 * Parses what is buffered, answering each complete request. While a request
 * waits for its deferred answer, the rest stays buffered. Between requests
 * (llhttp holds no part of one) the common request takes the fast path.
 */
void http_process(http_conn *c)
{
	while (!c->closing && !c->later && !c->stream && c->parsed < c->in_len &&
	       c->out_len - c->out_off < HTTP_OUT_HIGH) {
		size_t fast;
		if (c->phase == PH_IDLE && !c->w->s->cfg.no_fast_path && (fast = fast_request(c))) {
			c->parsed += fast;
			parsed_one(c);
			continue;
		}
		const char *start = (const char *)c->in + c->parsed;
		llhttp_errno_t e = llhttp_execute(&c->parser, start, c->in_len - c->parsed);
		if (e == HPE_OK) {
			c->parsed = c->in_len;
			break;
		}
		if (e == HPE_PAUSED && c->complete) {
			c->parsed =
			    (size_t)((const uint8_t *)llhttp_get_error_pos(&c->parser) - c->in);
			llhttp_resume(&c->parser);
			c->complete = false;
			parsed_one(c);
			continue;
		}
		if (c->err_status) {
			http_refuse(c, c->err_status, c->err_msg);
		} else {
			char msg[160];
			snprintf(msg, sizeof(msg), "malformed HTTP request: %s",
			         llhttp_get_error_reason(&c->parser)
			             ? llhttp_get_error_reason(&c->parser)
			             : llhttp_errno_name(e));
			http_refuse(c, 400, msg);
		}
		return;
	}
	/* Drop what is parsed, keeping a header block being read (its offsets). */
	size_t keep_from = c->phase == PH_HEADERS ? c->msg_start : c->parsed;
	if (keep_from > 0) {
		memmove(c->in, c->in + keep_from, c->in_len - keep_from);
		c->in_len -= keep_from;
		c->parsed -= keep_from;
		c->msg_start -= keep_from > c->msg_start ? c->msg_start : keep_from;
		for (unsigned i = 0; c->phase == PH_HEADERS && i < c->nhdr; i++) {
			c->hname[i].off -= keep_from;
			c->hval[i].off -= keep_from;
		}
		if (c->phase == PH_HEADERS && c->url.len)
			c->url.off -= keep_from;
	}
}

void http_cfg_defaults(http_config *c)
{
	if (!c->threads)
		c->threads = 2;
	if (c->threads > HTTP_MAX_THREADS)
		c->threads = HTTP_MAX_THREADS;
	if (!c->max_conns)
		c->max_conns = NET_DEF_CONNS;
	if (!c->max_header)
		c->max_header = 16384;
	if (!c->max_body)
		c->max_body = 8 << 20;
	if (!c->idle_ms)
		c->idle_ms = 30000;
	if (!c->header_timeout_ms)
		c->header_timeout_ms = 10000;
	if (!c->body_timeout_ms)
		c->body_timeout_ms = 30000;
}

int http_feed(const http_config *cfg, void *wctx, const uint8_t *data, size_t len, size_t chunk,
              uint8_t **out, size_t *out_len)
{
	http_server s = {.stopfd = -1, .cfg = *cfg};
	http_cfg_defaults(&s.cfg);
	http_worker w = {.s = &s, .wctx = wctx, .ep = -1, .lq = {.wakefd = -1}};
	http_conn c = {.fd = -1, .w = &w, .phase = PH_IDLE};
	int ret = IDN_ENOMEM;
	c.in_cap = s.cfg.max_header + HTTP_READ_CHUNK;
	c.in = malloc(c.in_cap);
	c.head = malloc(s.cfg.max_header + 4 * HTTP_MAX_HEADERS + 16);
	if (!c.in || !c.head)
		goto out;
	http_parser_init(&c);
	if (!chunk)
		chunk = len ? len : 1;
	/* As conn_step, with `data` for the socket and no back-pressure. */
	for (size_t off = 0; off < len && !c.closing;) {
		size_t room = c.in_cap - c.in_len;
		if (room < HTTP_READ_CHUNK / 4) {
			http_refuse(&c, 431, "request line and headers are too large");
			break;
		}
		size_t n = len - off < chunk ? len - off : chunk;
		n = n < room ? n : room;
		memcpy(c.in + c.in_len, data + off, n);
		c.in_len += n;
		off += n;
		size_t before;
		do {
			before = c.parsed;
			http_process(&c);
			while (http_stream_fill(&c, (size_t)-1))
				;
		} while (!c.closing && c.parsed < c.in_len && c.parsed != before);
	}
	if (!c.closing)
		http_process(&c); /* EOF: what is complete is answered */
	while (http_stream_fill(&c, (size_t)-1))
		;
	http_stream_end(&c, false);
	/* an answer written in place (http_resp_head_room) starts its buffer at out_off */
	if (c.out_off)
		memmove(c.out, c.out + c.out_off, c.out_len - c.out_off);
	*out = c.out;
	*out_len = c.out_len - c.out_off;
	c.out = NULL;
	ret = 0;
out:
	free(c.in);
	free(c.head);
	free(c.body);
	free(c.out);
	free(w.resp.body);
	free(w.part.body);
	return ret;
}
