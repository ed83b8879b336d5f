/*
 * http.c - the HTTP/1.1 server: epoll worker threads, llhttp framing, limits,
 * deadlines, pipelining, access log. See http.h for the contract.
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
#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net/http.h"
#include "core/err.h"

enum {
	MAX_LISTEN = 64,
	MAX_THREADS = 256,
	READ_CHUNK = 16384,
	OUT_HIGH = 4 << 20, /* pending output above this: stop parsing (back-pressure) */
	SWEEP_MS = 100,
};

enum phase { PH_IDLE, PH_HEADERS, PH_BODY };

typedef struct span {
	size_t off, len;
} span;

typedef struct conn conn;
typedef struct worker worker;

struct conn {
	int fd;
	worker *w;
	conn *prev, *next;
	llhttp_t parser;
	uint8_t *in;
	size_t in_len, in_cap, parsed, msg_start;
	/* the request being parsed: offsets into `in` until the headers end */
	span url, hname[HTTP_MAX_HEADERS], hval[HTTP_MAX_HEADERS];
	unsigned nhdr;
	bool in_value;
	size_t hdr_bytes;
	/* after the headers: copies in `head` */
	uint8_t *head;
	size_t head_len;
	http_header headers[HTTP_MAX_HEADERS];
	idn_slice target;
	uint8_t *body;
	size_t body_len, body_cap;
	enum phase phase;
	uint64_t deadline, msg_t0;
	int err_status; /* set by a callback that refuses the request */
	const char *err_msg;
	bool complete, keep, closing;
	bool linger;     /* refused: stop sending, read and drop until EOF or a deadline */
	uint32_t events; /* what epoll watches for */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	SSL *ssl;            /* on an HTTPS listener: the handshake runs inside SSL_read */
	bool tls_want_write; /* TLS must write (handshake) before it can read on */
};

struct worker {
	http_server *s;
	unsigned idx;
	pthread_t tid;
	int ep;
	int *lfd; /* one listener per address */
	void *wctx;
	conn *conns;
	http_resp resp;
	int err;
};

struct http_server {
	http_config cfg;
	unsigned nthreads, nlisten;
	unsigned ports[MAX_LISTEN];
	int stopfd;
	atomic_uint nconns;
	worker *w;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned started, failed;
	SSL_CTX *tls; /* with cfg.ntls HTTPS listeners */
};

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- responses ---- */

static bool grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return false;
	*buf = p;
	*cap = n;
	return true;
}

void http_resp_append(http_resp *r, const void *p, size_t n)
{
	if (!n)
		return;
	if (r->oom || !grow(&r->body, &r->cap, r->len + n)) {
		r->oom = true;
		return;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
}

void http_resp_puts(http_resp *r, const char *s)
{
	http_resp_append(r, s, strlen(s));
}

void http_resp_printf(http_resp *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char small[512];
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		http_resp_append(r, small, (size_t)n);
		return;
	}
	if (r->oom || !grow(&r->body, &r->cap, r->len + (size_t)n + 1)) {
		r->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf((char *)r->body + r->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r->len += (size_t)n;
}

/* Appends s as the inside of a JSON string. */
static void json_esc(http_resp *r, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			http_resp_printf(r, "\\%c", ch);
		else if (ch < 0x20)
			http_resp_printf(r, "\\u%04x", ch);
		else
			http_resp_append(r, &ch, 1);
	}
}

void http_resp_error(http_resp *r, int status, int rc, const char *msg)
{
	r->len = 0;
	r->status = status;
	r->content_type = "application/json";
	http_resp_printf(r, "{\"responseCode\":%d,\"message\":\"", rc);
	json_esc(r, msg);
	http_resp_puts(r, "\"}");
}

int http_req_header(const http_req *req, const char *name, idn_slice *value)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < req->nheaders; i++) {
		const http_header *h = &req->headers[i];
		if (h->name.len == n && !strncasecmp((const char *)h->name.p, name, n)) {
			*value = h->value;
			return 1;
		}
	}
	return 0;
}

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
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {503, "Service Unavailable"},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].code == status)
			return tab[i].text;
	return "Unknown";
}

/* ---- connection output ---- */

static bool out_append(conn *c, const void *p, size_t n)
{
	if (!grow(&c->out, &c->out_cap, c->out_len + n))
		return false;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return true;
}

static void access_log(conn *c, const char *method, idn_slice target, int status, size_t len)
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
	uint64_t us = c->msg_t0 ? (now_ms() - c->msg_t0) * 1000 : 0;
	fprintf(f, "%s - - [%s] \"%s %s%s HTTP/1.1\" %d %zu %llums\n", host, ts, method, tgt,
	        target.len > n ? "..." : "", status, len, (unsigned long long)(us / 1000));
}

/* Serialises resp onto the connection's output. */
static void emit(conn *c, const http_resp *r, bool head_only, bool keep, int http_minor)
{
	char hdr[4096];
	int n =
	    snprintf(hdr, sizeof(hdr),
	             "HTTP/1.1 %d %s\r\nServer: idnode\r\nContent-Type: %s\r\n"
	             "Content-Length: %zu\r\n%s%s%s%s%s\r\n",
	             r->status, reason(r->status), r->content_type ? r->content_type : "text/plain",
	             r->len, r->location[0] ? "Location: " : "", r->location,
	             r->location[0] ? "\r\n" : "", r->extra_headers ? r->extra_headers : "",
	             !keep             ? "Connection: close\r\n"
	             : http_minor == 0 ? "Connection: keep-alive\r\n"
	                               : "");
	if (n < 0 || (size_t)n >= sizeof(hdr) || !out_append(c, hdr, (size_t)n) ||
	    (!head_only && r->len && !out_append(c, r->body, r->len)))
		c->closing = true, c->keep = false;
	if (!keep)
		c->closing = true;
}

/* A refusal by the server itself (framing, limits): answer and close. */
static void refuse(conn *c, int status, const char *msg)
{
	http_resp *r = &c->w->resp;
	r->len = 0;
	r->oom = false;
	r->location[0] = 0;
	r->extra_headers = NULL;
	http_resp_error(r, status, 2, msg);
	emit(c, r, false, false, 1);
	access_log(c, "-", idn_slice_of("-", 1), status, r->len);
	c->closing = true;
	c->linger = true;
}

/* ---- llhttp callbacks ---- */

static conn *conn_of(llhttp_t *p)
{
	return p->data;
}

static int on_message_begin(llhttp_t *p)
{
	conn *c = conn_of(p);
	c->url = (span){0, 0};
	c->nhdr = 0;
	c->in_value = false;
	c->hdr_bytes = 0;
	c->body_len = 0;
	c->phase = PH_HEADERS;
	c->msg_t0 = now_ms();
	c->deadline = c->msg_t0 + c->w->s->cfg.header_timeout_ms;
	return 0;
}

static int count_head(conn *c, size_t len)
{
	c->hdr_bytes += len;
	if (c->hdr_bytes > c->w->s->cfg.max_header) {
		c->err_status = 431;
		c->err_msg = "request line and headers are too large";
		return HPE_USER;
	}
	return 0;
}

static void extend(span *s, conn *c, const char *at, size_t len)
{
	size_t off = (size_t)((const uint8_t *)at - c->in);
	if (s->len == 0)
		s->off = off;
	s->len = off + len - s->off;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	conn *c = conn_of(p);
	extend(&c->url, c, at, len);
	return count_head(c, len);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	conn *c = conn_of(p);
	if (c->in_value || c->nhdr == 0) {
		if (c->nhdr == HTTP_MAX_HEADERS) {
			c->err_status = 431;
			c->err_msg = "too many header fields";
			return HPE_USER;
		}
		c->hname[c->nhdr] = (span){0, 0};
		c->hval[c->nhdr] = (span){0, 0};
		c->nhdr++;
		c->in_value = false;
	}
	extend(&c->hname[c->nhdr - 1], c, at, len);
	return count_head(c, len + 4);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	conn *c = conn_of(p);
	c->in_value = true;
	extend(&c->hval[c->nhdr - 1], c, at, len);
	return count_head(c, len);
}

static idn_slice copy_span(conn *c, span s)
{
	uint8_t *d = c->head + c->head_len;
	memcpy(d, c->in + s.off, s.len);
	c->head_len += s.len;
	return idn_slice_of(d, s.len);
}

static int on_headers_complete(llhttp_t *p)
{
	conn *c = conn_of(p);
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
		c->err_status = 413;
		c->err_msg = "request body is too large";
		return -1; /* on_headers_complete has no HPE_USER; err_status says why */
	}
	/* curl waits a second for this before sending a body of 1 KiB or more. */
	if (expect && p->http_major == 1 && p->http_minor == 1)
		out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	c->phase = PH_BODY;
	c->deadline = now_ms() + cfg->body_timeout_ms;
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	conn *c = conn_of(p);
	if (c->body_len + len > c->w->s->cfg.max_body) {
		c->err_status = 413;
		c->err_msg = "request body is too large";
		return HPE_USER;
	}
	if (!grow(&c->body, &c->body_cap, c->body_len + len)) {
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
	conn *c = conn_of(p);
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
	settings.on_body = on_body;
	settings.on_message_complete = on_message_complete;
}

/* ---- requests ---- */

static void dispatch(conn *c)
{
	worker *w = c->w;
	http_resp *r = &w->resp;
	r->status = 200;
	r->content_type = "application/json";
	r->location[0] = 0;
	r->extra_headers = NULL;
	r->close = false;
	r->len = 0;
	r->oom = false;
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
	if (ret < 0 || r->oom) {
		r->oom = false;
		r->location[0] = 0;
		http_resp_error(r, 500, 2, ret < 0 ? idn_strerror(ret) : "out of memory");
	}
	bool head = c->parser.method == HTTP_HEAD;
	emit(c, r, head, c->keep && !r->close, c->parser.http_minor);
	access_log(c, req.method, c->target, r->status, r->len);
}

static void conn_close(conn *c)
{
	worker *w = c->w;
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&w->s->nconns, 1);
	SSL_free(c->ssl);
	free(c->in);
	free(c->head);
	free(c->body);
	free(c->out);
	free(c);
}

/* Parses what is buffered, answering each complete request. */
static void process(conn *c)
{
	while (!c->closing && c->parsed < c->in_len && c->out_len - c->out_off < OUT_HIGH) {
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
			c->phase = PH_IDLE;
			dispatch(c);
			c->msg_t0 = 0;
			c->deadline = now_ms() + c->w->s->cfg.idle_ms;
			c->msg_start = c->parsed;
			continue;
		}
		if (c->err_status) {
			refuse(c, c->err_status, c->err_msg);
		} else {
			char msg[160];
			snprintf(msg, sizeof(msg), "malformed HTTP request: %s",
			         llhttp_get_error_reason(&c->parser)
			             ? llhttp_get_error_reason(&c->parser)
			             : llhttp_errno_name(e));
			refuse(c, 400, msg);
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

/*
 * recv/send, through TLS on an HTTPS connection: > 0 bytes, 0 end of
 * stream, -1 with errno (EAGAIN when TLS waits for the socket).
 */
static ssize_t conn_recv(conn *c, void *buf, size_t n)
{
	if (!c->ssl)
		return recv(c->fd, buf, n, 0);
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		c->tls_want_write = true;
		/* fall through */
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default: /* a failed handshake or a broken record: drop the connection */
		errno = ECONNRESET;
		return -1;
	}
}

static ssize_t conn_send(conn *c, const void *buf, size_t n)
{
	if (!c->ssl)
		return send(c->fd, buf, n, MSG_NOSIGNAL);
	ERR_clear_error();
	int r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(c->ssl, r);
	errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : EPIPE;
	return -1;
}

static void flush(conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = conn_send(c, c->out + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			if (c->phase == PH_IDLE)
				c->deadline = now_ms() + c->w->s->cfg.idle_ms;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		c->closing = true;
		c->out_off = c->out_len; /* the peer is gone: nothing more to send */
		break;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	/* While the client does not read its answers, stop reading its requests. */
	uint32_t events = (c->out_len || c->tls_want_write ? EPOLLOUT : 0) |
	                  (c->out_len - c->out_off < OUT_HIGH && !c->closing ? EPOLLIN : 0);
	if (events != c->events) {
		struct epoll_event ev = {.events = events, .data.ptr = c};
		epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = events;
	}
}

/*
 * After a refusal the client may still be sending (a huge header, a body):
 * closing with unread bytes would make the kernel send a reset, which can
 * destroy the answer before the client reads it. So: half-close, then read
 * and drop until the client closes or a second passes (the sweep ends it).
 */
static bool linger(conn *c)
{
	if (c->events != EPOLLIN) {
		shutdown(c->fd, SHUT_WR);
		c->phase = PH_IDLE;
		c->deadline = now_ms() + 1000;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = EPOLLIN;
	}
	uint8_t sink[4096];
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), 0);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return true;
		break;
	}
	conn_close(c);
	return false;
}

/* Returns false when the connection was closed. */
static bool conn_step(conn *c, bool readable)
{
	if (c->linger) {
		flush(c);
		return c->out_len ? true : linger(c);
	}
	/* TLS may hold decrypted bytes the socket no longer signals, or wait to write. */
	if (c->ssl && (SSL_pending(c->ssl) > 0 || c->tls_want_write)) {
		readable = true;
		c->tls_want_write = false;
	}
	while (readable && !c->closing && c->out_len - c->out_off < OUT_HIGH) {
		if (c->in_cap - c->in_len < READ_CHUNK / 4) {
			/* `in` is full of one unfinished header block: over the limit. */
			refuse(c, 431, "request line and headers are too large");
			break;
		}
		ssize_t n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			c->in_len += (size_t)n;
			process(c);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EOF or reset: answer what is complete, then close. */
		process(c);
		c->closing = true;
		break;
	}
	/* Each turn either drains output, parses buffered requests, or stops. */
	for (;;) {
		size_t parsed = c->parsed, pending = c->out_len - c->out_off;
		process(c);
		flush(c);
		if (c->closing || c->parsed >= c->in_len ||
		    (c->parsed == parsed && c->out_len - c->out_off >= pending))
			break;
	}
	if (c->closing && c->out_len == 0 && c->linger)
		return linger(c);
	if (c->closing && c->out_len == 0) {
		conn_close(c);
		return false;
	}
	return true;
}

static void accept_all(worker *w, unsigned li)
{
	http_server *s = w->s;
	int lfd = w->lfd[li];
	bool tls = li >= s->nlisten - s->cfg.ntls;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd =
		    accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (atomic_fetch_add(&s->nconns, 1) >= s->cfg.max_conns) {
			atomic_fetch_sub(&s->nconns, 1);
			static const char busy[] =
			    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
			    "Content-Length: 57\r\nConnection: close\r\n\r\n"
			    "{\"responseCode\":3,\"message\":\"too many HTTP connections\"}";
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* best effort: the client is told if it listens */
			}
			close(fd);
			continue;
		}
		conn *c = calloc(1, sizeof(*c));
		size_t in_cap = s->cfg.max_header + READ_CHUNK;
		if (c) {
			c->in = malloc(in_cap);
			c->head = malloc(s->cfg.max_header + 4 * HTTP_MAX_HEADERS + 16);
		}
		if (!c || !c->in || !c->head) {
			if (c) {
				free(c->in);
				free(c->head);
			}
			free(c);
			close(fd);
			atomic_fetch_sub(&s->nconns, 1);
			continue;
		}
		if (tls && (!(c->ssl = SSL_new(s->tls)) || !SSL_set_fd(c->ssl, fd))) {
			SSL_free(c->ssl);
			free(c->in);
			free(c->head);
			free(c);
			close(fd);
			atomic_fetch_sub(&s->nconns, 1);
			continue;
		}
		if (tls)
			SSL_set_accept_state(c->ssl);
		c->fd = fd;
		c->w = w;
		c->in_cap = in_cap;
		c->peer = peer;
		c->peer_len = plen;
		c->phase = PH_IDLE;
		c->deadline = now_ms() + s->cfg.idle_ms;
		llhttp_init(&c->parser, HTTP_REQUEST, &settings);
		c->parser.data = c;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->events = EPOLLIN;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev)) {
			SSL_free(c->ssl);
			free(c->in);
			free(c->head);
			free(c);
			close(fd);
			atomic_fetch_sub(&s->nconns, 1);
			continue;
		}
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
	}
}

static void sweep(worker *w)
{
	uint64_t now = now_ms();
	for (conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (now < c->deadline)
			continue;
		if (c->phase == PH_IDLE || c->closing) {
			conn_close(c);
			continue;
		}
		/* A request still arriving after its deadline: slowloris or a stall. */
		refuse(c, 408,
		       c->phase == PH_HEADERS ? "request headers not received in time"
		                              : "request body not received in time");
		c->deadline = now + 1000; /* one more second to take the answer */
		c->phase = PH_IDLE;
		flush(c);
		if (c->out_len == 0)
			linger(c);
	}
}

/* ---- threads ---- */

static void *worker_main(void *arg)
{
	worker *w = arg;
	http_server *s = w->s;
	w->wctx = s->cfg.worker_init ? s->cfg.worker_init(s->cfg.arg, w->idx) : s->cfg.arg;
	pthread_mutex_lock(&s->mu);
	s->started++;
	if (!w->wctx)
		s->failed++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (!w->wctx)
		return NULL;

	struct epoll_event evs[64];
	uint64_t next_sweep = now_ms() + SWEEP_MS;
	for (;;) {
		int n = epoll_wait(w->ep, evs, 64, SWEEP_MS);
		if (n < 0 && errno != EINTR) {
			w->err = idn_errno(errno);
			break;
		}
		bool stop = false;
		for (int i = 0; i < n; i++) {
			void *ptr = evs[i].data.ptr;
			if (ptr == &s->stopfd) {
				stop = true;
			} else if ((int *)ptr >= w->lfd && (int *)ptr < w->lfd + s->nlisten) {
				accept_all(w, (unsigned)((int *)ptr - w->lfd));
			} else {
				conn *c = ptr;
				conn_step(c, evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR));
			}
		}
		if (stop)
			break;
		uint64_t now = now_ms();
		if (now >= next_sweep) {
			sweep(w);
			next_sweep = now + SWEEP_MS;
		}
	}
	while (w->conns)
		conn_close(w->conns);
	if (s->cfg.worker_fini)
		s->cfg.worker_fini(w->wctx);
	return NULL;
}

/* "ADDR:PORT", "[V6]:PORT", ":PORT" -> a sockaddr. */
static int parse_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	if (!colon)
		return IDN_EINVAL;
	size_t hl = (size_t)(colon - spec);
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535 || hl >= sizeof(host))
		return IDN_EINVAL;
	memcpy(host, spec, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		host[hl - 1] = 0;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return IDN_EINVAL;
		*len = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (hl && inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return IDN_EINVAL;
	*len = sizeof(*a);
	return 0;
}

static int bind_one(http_server *s, unsigned i, int *fd_out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *spec = s->cfg.listen[i];
	if (parse_addr(spec, &ss, &len)) {
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len,
		         "http listen '%s': not ADDR:PORT, [V6]:PORT or :PORT (numeric)", spec);
		return IDN_EINVAL;
	}
	if (s->ports[i]) /* port 0 resolved by the first thread's socket */
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)s->ports[i]);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, ret;
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1024))
		goto fail;
	if (!s->ports[i]) {
		struct sockaddr_storage b;
		socklen_t bl = sizeof(b);
		getsockname(fd, (struct sockaddr *)&b, &bl);
		s->ports[i] = ntohs(((struct sockaddr_in *)&b)->sin_port);
	}
	*fd_out = fd;
	return 0;
fail:
	ret = idn_errno(errno);
	snprintf(s->cfg.errbuf, s->cfg.errbuf_len, "http listen %s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

static void server_free(http_server *s)
{
	for (unsigned t = 0; s->w && t < s->nthreads; t++) {
		worker *w = &s->w[t];
		for (unsigned i = 0; w->lfd && i < s->nlisten; i++)
			if (w->lfd[i] >= 0)
				close(w->lfd[i]);
		free(w->lfd);
		if (w->ep >= 0)
			close(w->ep);
		free(w->resp.body);
	}
	free(s->w);
	SSL_CTX_free(s->tls);
	if (s->stopfd >= 0)
		close(s->stopfd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

/* The HTTPS context: certificate chain and key, TLS 1.2 at least. */
static int tls_setup(http_server *s)
{
	const char *cert = s->cfg.tls_cert, *key = s->cfg.tls_key;
	if (!cert || !key) {
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len,
		         "https needs a certificate and a key (--tls-cert FILE --tls-key FILE)");
		return IDN_EINVAL;
	}
	s->tls = SSL_CTX_new(TLS_server_method());
	if (!s->tls)
		return IDN_ENOMEM;
	SSL_CTX_set_min_proto_version(s->tls, TLS1_2_VERSION);
	/* flush() resends from a buffer that moves as the output grows. */
	SSL_CTX_set_mode(s->tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                             SSL_MODE_RELEASE_BUFFERS);
	const char *bad = NULL;
	if (SSL_CTX_use_certificate_chain_file(s->tls, cert) != 1)
		bad = cert;
	else if (SSL_CTX_use_PrivateKey_file(s->tls, key, SSL_FILETYPE_PEM) != 1)
		bad = key;
	if (bad) {
		char why[256];
		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len, "tls %s: %s", bad, why);
		return IDN_ECONFIG;
	}
	if (SSL_CTX_check_private_key(s->tls) != 1) {
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len, "tls: the key %s does not match %s", key,
		         cert);
		return IDN_ECONFIG;
	}
	return 0;
}

static void cfg_defaults(http_config *c)
{
	if (!c->threads)
		c->threads = 2;
	if (c->threads > MAX_THREADS)
		c->threads = MAX_THREADS;
	if (!c->max_conns)
		c->max_conns = 4096;
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
	pthread_once(&settings_once, settings_init);
	http_server s = {.stopfd = -1, .cfg = *cfg};
	cfg_defaults(&s.cfg);
	worker w = {.s = &s, .wctx = wctx, .ep = -1};
	conn c = {.fd = -1, .w = &w, .phase = PH_IDLE};
	int ret = IDN_ENOMEM;
	c.in_cap = s.cfg.max_header + READ_CHUNK;
	c.in = malloc(c.in_cap);
	c.head = malloc(s.cfg.max_header + 4 * HTTP_MAX_HEADERS + 16);
	if (!c.in || !c.head)
		goto out;
	llhttp_init(&c.parser, HTTP_REQUEST, &settings);
	c.parser.data = &c;
	if (!chunk)
		chunk = len ? len : 1;
	/* As conn_step, with `data` for the socket and no back-pressure. */
	for (size_t off = 0; off < len && !c.closing;) {
		size_t room = c.in_cap - c.in_len;
		if (room < READ_CHUNK / 4) {
			refuse(&c, 431, "request line and headers are too large");
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
			process(&c);
		} while (!c.closing && c.parsed < c.in_len && c.parsed != before);
	}
	if (!c.closing)
		process(&c); /* EOF: what is complete is answered */
	*out = c.out;
	*out_len = c.out_len;
	c.out = NULL;
	ret = 0;
out:
	free(c.in);
	free(c.head);
	free(c.body);
	free(c.out);
	free(w.resp.body);
	return ret;
}

int http_start(const http_config *cfg, http_server **out)
{
	static char dummy[1];
	pthread_once(&settings_once, settings_init);
	if (cfg->nlisten == 0 || cfg->nlisten > MAX_LISTEN || !cfg->handle)
		return IDN_EINVAL;
	http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	s->stopfd = -1;
	s->cfg = *cfg;
	if (!s->cfg.errbuf) {
		s->cfg.errbuf = dummy;
		s->cfg.errbuf_len = sizeof(dummy);
	}
	cfg_defaults(&s->cfg);
	s->nlisten = cfg->nlisten;
	s->nthreads = s->cfg.threads;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	int ret = IDN_ENOMEM;
	if (s->cfg.ntls > s->nlisten) {
		ret = IDN_EINVAL;
		goto fail;
	}
	if (s->cfg.ntls && (ret = tls_setup(s)))
		goto fail;
	ret = IDN_ENOMEM;
	s->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->w = calloc(s->nthreads, sizeof(worker));
	if (s->stopfd < 0 || !s->w)
		goto fail;
	for (unsigned t = 0; t < s->nthreads; t++)
		s->w[t].ep = -1;
	for (unsigned t = 0; t < s->nthreads; t++) {
		worker *w = &s->w[t];
		w->s = s;
		w->idx = t;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->lfd = malloc(s->nlisten * sizeof(int));
		if (w->ep < 0 || !w->lfd)
			goto fail;
		for (unsigned i = 0; i < s->nlisten; i++)
			w->lfd[i] = -1;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->stopfd};
		epoll_ctl(w->ep, EPOLL_CTL_ADD, s->stopfd, &ev);
		for (unsigned i = 0; i < s->nlisten; i++) {
			if ((ret = bind_one(s, i, &w->lfd[i])))
				goto fail;
			ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &w->lfd[i]};
			epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd[i], &ev);
		}
	}
	/* The workers inherit a mask with the stop signals blocked. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	/* TLS writes with write(2): a peer gone must be EPIPE, not a killed process. */
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	unsigned made = 0;
	for (; made < s->nthreads; made++)
		if (pthread_create(&s->w[made].tid, NULL, worker_main, &s->w[made]))
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&s->mu);
	while (s->started < made)
		pthread_cond_wait(&s->cv, &s->mu);
	bool failed = s->failed || made < s->nthreads;
	pthread_mutex_unlock(&s->mu);
	if (failed) {
		uint64_t one = 1;
		if (write(s->stopfd, &one, sizeof(one)) < 0) {
			/* an eventfd write only fails on overflow; the workers see it set */
		}
		for (unsigned t = 0; t < made; t++)
			pthread_join(s->w[t].tid, NULL);
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len, "http: a worker failed to start");
		ret = IDN_ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	server_free(s);
	return ret;
}

void http_stop(http_server *s)
{
	uint64_t one = 1;
	if (write(s->stopfd, &one, sizeof(one)) < 0) {
		/* already signalled */
	}
}

int http_wait(http_server *s)
{
	int ret = 0;
	for (unsigned t = 0; t < s->nthreads; t++) {
		pthread_join(s->w[t].tid, NULL);
		if (!ret)
			ret = s->w[t].err;
	}
	server_free(s);
	return ret;
}

unsigned http_bound_port(const http_server *s, unsigned idx)
{
	return idx < s->nlisten ? s->ports[idx] : 0;
}
