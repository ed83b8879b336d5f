/*
 * http.h - net's HTTP/1.1 server, which idnode's REST API, Handle-over-HTTP
 * and proxy (src/api) run on: listeners, connections, framing (llhttp),
 * limits, access log, HTTPS.
 *
 * Why its own worker threads rather than more sockets in the Handle workers
 * (the loop code, listeners and start-up are shared, see common.h): the Handle
 * UDP/TCP workers are tuned for one thing (recvmmsg batches, no per-request
 * allocation), and HTTP needs buffers that grow, per-connection deadlines and
 * a parser state per connection. Keeping HTTP on separate epoll threads (same
 * shape: one loop and one SO_REUSEPORT listener per thread and address,
 * shared-nothing) leaves the Handle hot path untouched and lets a flood of
 * slow HTTP clients never delay a UDP answer.
 *
 * The server never interprets a request: it frames it (method, target,
 * headers, body; chunked bodies decoded), checks the limits, hands it to the
 * handler, and writes back what the handler put in the http_resp, in request
 * order (pipelining), keeping the connection alive when both sides allow.
 *
 * Limits and the answers they give (JSON {"responseCode":2,"message":...}):
 * bad framing 400, header block over max_header 431, body over max_body 413,
 * headers not complete within header_timeout_ms or body not within
 * body_timeout_ms 408 (slowloris), connections over max_conns 503; each of
 * these closes the connection after the answer. Idle keep-alive connections
 * are closed silently after idle_ms.
 *
 * HTTPS (OpenSSL): a TLS listener's connections run the handshake inside the
 * same non-blocking loop (SSL_read/SSL_write on the connection's socket), so
 * a slow handshake is just another slow client under the idle deadline.
 *
 * Threads: worker_init/fini and the handler run on the worker thread that
 * owns the context. http_stop() may be called from any thread.
 */
#ifndef IDN_NET_HTTP_H
#define IDN_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/wire.h"
#include "net/net.h"

enum { HTTP_MAX_HEADERS = 64 };

typedef struct http_header {
	idn_slice name, value;
} http_header;

/* One request. Everything is borrowed for the duration of the handler call. */
typedef struct http_req {
	const char *method; /* "GET", "POST", ... (static text) */
	idn_slice target;   /* as sent: path and query, still percent-encoded */
	idn_slice path;     /* target up to '?' */
	idn_slice query;    /* after '?' (empty if none) */
	bool has_query;     /* a '?' was present (so "?noredirect" alone is seen) */
	const http_header *headers;
	unsigned nheaders;
	idn_slice body; /* decoded (chunked bodies joined) */
	const struct sockaddr *peer;
	socklen_t peer_len;
	bool tls; /* arrived on an HTTPS listener */
} http_req;

typedef struct http_resp http_resp;

/*
 * A streamed body's producer (http_resp_stream): appends the next part of the
 * body to part (emptied before each call) and returns 1 when more follows,
 * 0 when that was the last part, < 0 on failure (the connection is closed
 * with the body cut short, so the client sees it incomplete).
 */
typedef int (*http_stream_fn)(void *arg, http_resp *part);

/*
 * The answer. The handler sets status, content_type (static text or a string
 * that lives until the connection handles its next request) and appends the
 * body with http_resp_append/printf; location is sent as a Location header
 * when set. body is owned by the server and reused across requests.
 */
struct http_resp {
	int status;
	const char *content_type;
	char location[2048 + 512];
	const char *extra_headers; /* optional raw "Name: value\r\n" lines, static text */
	bool close;                /* close the connection after this answer */
	uint8_t *body;
	size_t len, cap;
	bool oom;               /* an append failed: the server answers 500 instead */
	struct http_conn *conn; /* net's own: the connection being answered (http_defer) */
	/* a streamed body (http_resp_stream); NULL: the body above is all */
	http_stream_fn stream;
	void (*stream_done)(void *arg);
	void *stream_arg;
	/*
	 * http_resp_head_room: the body starts at body + head, the bytes before
	 * it are room for the response head (len counts them too). head_ok: the
	 * server's own answer, that may take it (net's; false elsewhere).
	 */
	size_t head;
	bool head_ok;
};

void http_resp_append(http_resp *r, const void *p, size_t n);
/*
 * Room for n more bytes after the body, to write in place and then count in
 * r->len; NULL (and r->oom set) when there is none.
 */
uint8_t *http_resp_room(http_resp *r, size_t n);
/*
 * Called first, before anything is appended: keeps room for the response
 * head before the body, so the server writes the head there and hands the
 * buffer to the connection as its output instead of copying the body into
 * it. True when taken; false (nothing changed) for an answer that is not
 * the server's own (a deferred or batched one) or a body already begun.
 * http_resp_error drops the room.
 */
bool http_resp_head_room(http_resp *r);
void http_resp_puts(http_resp *r, const char *s);
void http_resp_printf(http_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces any body with {"responseCode":rc,"message":msg} and sets status. */
void http_resp_error(http_resp *r, int status, int rc, const char *msg);

/*
 * Answers with a streamed body: what the handler appended to r is its first
 * part, then next(arg, part) is called on the worker thread for each further
 * part whenever the connection's unsent output is below HTTP_STREAM_LOW, so
 * a connection holds at most that much plus one part however long the body
 * is; a reader that stops reading stops the producer (and the idle deadline
 * closes it). HTTP/1.1 gets chunked transfer encoding; HTTP/1.0 a body ended
 * by closing the connection. done(arg) is called exactly once, when the body
 * is complete, the connection closes, or the request was HEAD (then next is
 * never called). The connection's next request waits for the stream's end.
 */
void http_resp_stream(http_resp *r, http_stream_fn next, void (*done)(void *arg), void *arg);

/* Case-insensitive header lookup; 1 and *value if present. */
int http_req_header(const http_req *req, const char *name, idn_slice *value);

/* Returns 0; a negative value makes the server answer 500. */
typedef int (*http_handler_fn)(void *wctx, const http_req *req, http_resp *resp);

/*
 * Answering a request later, from another thread (a Handle challenge answer
 * whose identity lives on another node): the handler calls http_defer(resp)
 * and returns; what it wrote in resp and its return value are then ignored.
 * The connection handles none of its further requests (they wait, buffered:
 * reading stops when the buffer is full) until http_answer() brings this
 * one's answer, so answers stay in request order while the worker serves its
 * other connections. The idle and slowloris deadlines do not run while a
 * connection waits: the caller bounds the wait (it must answer).
 *
 * http_answer: from any thread (the handler's own too, before it returns),
 * exactly once per http_later, which it frees; also after http_stop():
 * http_wait() waits for every outstanding one. status, content_type,
 * extra_headers (raw "Name: value\r\n" lines, NULL = none) and body are
 * copied. The answer is written by the connection's worker with the request's
 * keep-alive, then its pipelined requests go on. If the connection closed
 * meanwhile (peer gone, EOF, error, the server stopping), the answer is dropped.
 *
 * http_defer returns NULL when the request cannot be answered later: under
 * http_feed() (no worker to wake), for a resp the server did not pass to the
 * handler, or out of memory. The handler then answers in resp as usual.
 */
typedef struct http_later http_later;
http_later *http_defer(http_resp *resp);
void http_answer(http_later *later, int status, const char *content_type, const char *extra_headers,
                 const void *body, size_t len);

typedef struct http_config {
	/* "ADDR:PORT", "[V6]:PORT" or ":PORT" (0.0.0.0), numeric; port 0 picks one. */
	const char **listen;
	unsigned nlisten;
	/* Optional: a limit on connections shared with other servers (net/net.h). */
	net_conn_budget *budget;
	unsigned threads;   /* 0 = 2 */
	unsigned max_conns; /* per process; 0 = 4096; beyond, the idlest goes (net.h) */
	size_t max_header;  /* request line + headers; 0 = 16 KiB */
	size_t max_body;    /* 0 = 8 MiB */
	unsigned idle_ms;   /* keep-alive idle; 0 = 30000 */
	unsigned
	    header_timeout_ms; /* from the first byte of a request to its last header; 0 = 10000 */
	unsigned body_timeout_ms; /* from the last header to the end of the body; 0 = 30000 */
	FILE *access_log;         /* one line per request; NULL = none */
	/* HTTPS: the last ntls of listen[] speak TLS with this PEM chain and key. */
	unsigned ntls;
	const char *tls_cert, *tls_key;
	void *(*worker_init)(void *arg, unsigned idx);
	void (*worker_fini)(void *wctx);
	/* Optional: at the end of each event-loop turn, after its last request (and deferred
	 * answer). */
	void (*turn_end)(void *wctx);
	/*
	 * Optional: a hint about a connection's new request bytes (p, n: from the
	 * first unparsed one), before the turn's requests are answered. Called
	 * with hint 0 for every connection read this turn, then, for each whose
	 * call returned a hint other than 0, again with that hint (p, n the
	 * same), then the answers. It must not answer, block or keep p.
	 */
	uint64_t (*prefetch)(void *wctx, const uint8_t *p, size_t n, uint64_t hint);
	http_handler_fn handle;
	void *arg;
	/* Tests: every request through llhttp, none through the fast path (http_framing.c). */
	bool no_fast_path;
	bool held;    /* no request read until http_go() (net_config.held) */
	char *errbuf; /* where http_start writes what went wrong, naming the address */
	size_t errbuf_len;
} http_config;

typedef struct http_server http_server;

/*
 * Binds, starts the threads (SIGINT/SIGTERM blocked in them), runs
 * worker_init on each. Returns 0 or an idn_err; on failure nothing runs.
 */
int http_start(const http_config *cfg, http_server **out);
/* A held server's workers (http_config.held) begin to serve. */
void http_go(http_server *s);
/* Asks the workers to stop; idempotent, any thread. */
void http_stop(http_server *s);
/*
 * Waits for the workers, then for every outstanding http_answer() (their
 * answers are dropped), closes everything, frees s.
 */
int http_wait(http_server *s);
unsigned http_bound_port(const http_server *s, unsigned idx);
/*
 * Loads the HTTPS certificate chain and key again (SIGHUP): connections
 * accepted from now on use them, those open keep theirs. Any thread. 0, or
 * an idn_err with why in err (the running certificate stays).
 */
int http_tls_reload(http_server *s, const char *cert, const char *key, char *err, size_t errlen);

/*
 * Without a socket (fuzzing, tests): data goes through the framing, limits
 * and dispatch one connection uses, in pieces of chunk bytes (0 = at once),
 * then EOF. The handler runs with wctx; cfg gives the limits (0 = defaults;
 * listen, threads and timeouts are not used). *out (malloc'd, the caller
 * frees it) gets the bytes the connection would have sent. http_defer()
 * returns NULL here: a handler under http_feed answers at once.
 */
int http_feed(const http_config *cfg, void *wctx, const uint8_t *data, size_t len, size_t chunk,
              uint8_t **out, size_t *out_len);

#endif
