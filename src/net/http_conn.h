/*
 * http_conn.h - what the files of net's HTTP server share: its connections,
 * workers and server, and the functions one file gives the others. Not for
 * use outside src/net.
 *
 * Files: http.c (workers, connections' I/O, deadlines, start and stop),
 * http_framing.c (llhttp framing, limits, dispatch to the handler, access
 * log), http_resp.c (what a handler writes its answer with), http_later.c
 * (answers given later: http_defer, http_answer), tls.c (HTTPS).
 *
 * Ownership: http_start() allocates the server and its workers; a connection
 * and its buffers belong to the worker that accepted it (http_conn_close
 * frees them). An http_later is counted in the server from http_defer to
 * its free (by the worker once answered, or by http_answer when the worker
 * has stopped); while its connection lives, c->later and l->c point at each
 * other (worker thread only).
 */
#ifndef IDN_NET_HTTP_CONN_H
#define IDN_NET_HTTP_CONN_H

#include <llhttp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net/common.h"
#include "net/http.h"

enum {
	HTTP_MAX_LISTEN = 64,
	HTTP_MAX_THREADS = 256,
	HTTP_READ_CHUNK = 16384,
	HTTP_OUT_HIGH = 4 << 20, /* pending output above this: stop parsing (back-pressure) */
	HTTP_SWEEP_MS = 100,
	/*
	 * Connections read and hinted before their answers (http.c: pre_read): a
	 * few, so their sockets are still in the CPU's cache when answered.
	 */
	HTTP_PEND_MAX = 8,
	HTTP_STREAM_LOW = 256 << 10, /* a streamed body is produced while less is unsent */
	/* ... and for this long at most per fill, so slow parts (QR labels) share the worker */
	HTTP_STREAM_SLICE_US = 5000,
};

enum http_phase { PH_IDLE, PH_HEADERS, PH_BODY };

typedef struct http_span {
	size_t off, len;
} http_span;

typedef struct http_conn http_conn;
typedef struct http_worker http_worker;

struct http_conn {
	int fd;
	http_worker *w;
	http_conn *prev, *next;
	llhttp_t parser;
	uint8_t *in;
	size_t in_len, in_cap, parsed, msg_start;
	/* the request being parsed: offsets into `in` until the headers end */
	http_span url, hname[HTTP_MAX_HEADERS], hval[HTTP_MAX_HEADERS];
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
	enum http_phase phase;
	uint64_t deadline, msg_t0;
	uint64_t progress; /* ms of the last whole request or answer bytes sent (eviction) */
	int err_status;    /* set by a callback that refuses the request */
	const char *err_msg;
	bool complete, keep, closing;
	bool linger;     /* refused: stop sending, read and drop until EOF or a deadline */
	bool dead;       /* closed to make room: freed at the end of the turn */
	bool pending;    /* read this turn, answered at its end (http.c: pre_read) */
	http_conn *pend; /* the next pending connection */
	uint64_t hint;   /* what http_config.prefetch returned for it */
	uint32_t events; /* what epoll watches for */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	SSL *ssl;                 /* on an HTTPS listener: the handshake runs inside SSL_read */
	bool tls_want_write;      /* TLS must write (handshake) before it can read on */
	struct http_later *later; /* a deferred answer this connection waits for */
	/* a streamed body being sent (http_stream.c) */
	http_stream_fn stream;
	void (*stream_done)(void *arg);
	void *stream_arg;
	bool stream_chunked, stream_close, stream_paused;
};

/* A deferred answer (http.h: http_defer, http_answer). */
struct http_later {
	struct net_later_link link; /* on the worker's queue (first) */
	http_worker *w;
	http_conn *c; /* the worker's: NULL once the connection is gone */
	/* the request, noted by http_defer */
	const char *method;
	bool head_only, keep;
	int http_minor;
	/* the answer, from http_answer: resp.body and text owned */
	http_resp resp;
	char *text; /* content type and extra headers */
	bool oom;   /* a copy failed: the worker answers 500 */
};

struct http_worker {
	http_server *s;
	unsigned idx;
	pthread_t tid;
	int ep;
	int *lfd; /* one listener per address */
	void *wctx;
	http_conn *conns, *conns_tail; /* by progress: the least recent first */
	http_conn *dead;               /* closed this turn, freed at its end (via next) */
	uint64_t paused;               /* listeners resting after EMFILE (bit per address) */
	uint64_t paused_until;
	http_resp resp;
	http_resp part; /* a streamed body's next part (http_stream.c) */
	int err;
	uint64_t now;        /* ms, read once per loop turn */
	uint64_t next_sweep; /* when the deadlines are next checked */
	/* deferred answers: http_answer queues them, the worker takes them in */
	struct net_later_q lq; /* wakefd -1 under http_feed; closed once the worker stopped */
	bool woken;            /* its event came this turn: drain at the turn's end */
	/* connections read this turn whose requests wait for its end (pre_read) */
	http_conn *pend, *pend_tail;
	unsigned npend;
};

enum { HTTP_TLS_RETIRED = 8 };

struct http_server {
	http_config cfg;
	unsigned nthreads, nlisten;
	unsigned ports[HTTP_MAX_LISTEN];
	int stopfd;
	atomic_uint nconns;
	http_worker *w;
	struct net_crew crew; /* start-up handshake only */
	SSL_CTX *tls;         /* with cfg.ntls HTTPS listeners (atomic: reloads) */
	SSL_CTX *tls_retired[HTTP_TLS_RETIRED]; /* replaced by http_tls_reload, newest first */
	struct net_later_count nlater;          /* http_laters outstanding, for http_wait */
};

/* http_resp.c: grows *buf (capacity *cap) to hold need bytes; false if out of memory. */
bool http_buf_grow(uint8_t **buf, size_t *cap, size_t need);

/* http_framing.c */
/* Fills in the defaults of the limits (0 = default). */
void http_cfg_defaults(http_config *c);
/* A new connection's parser, its data pointing at c. */
void http_parser_init(http_conn *c);
/* Parses what is buffered, answering each complete request. */
void http_process(http_conn *c);
/* A refusal by the server itself (framing, limits): answer and close. */
void http_refuse(http_conn *c, int status, const char *msg);

/* http_framing.c: writes l's answer on its connection, as dispatch would have. */
void http_later_emit(http_conn *c, struct http_later *l);

/* http.c: after a deferred answer is written, the connection goes on. */
void http_conn_resume(http_conn *c);
/* http.c: a whole request came in, or answer bytes went out (eviction order). */
void http_conn_progress(http_conn *c);

/* http_later.c */
/* Writes the answers that came in (at the end of a turn the wake event came in). */
void http_later_drain(http_worker *w);
/* Called when c closes: its answer, when it comes, has nowhere to go. */
void http_later_orphan(http_conn *c);
/* At the worker's exit, after its connections are closed: later answers are freed. */
void http_later_fini(http_worker *w);

/* http_stream.c */
/* Takes r's stream (and its first part, r's body) onto c; chunked for HTTP/1.1. */
void http_stream_begin(http_conn *c, http_resp *r, bool chunked, bool close_after);
/*
 * Produces parts while less than low bytes are unsent, for
 * HTTP_STREAM_SLICE_US at most (the rest at the next turn); true when it wrote
 * any. At the end writes the last chunk and lets the connection go on.
 */
bool http_stream_fill(http_conn *c, size_t low);
/*
 * After a flush: counts (once per stream, LIM_ANSWER_STREAM) a stream held
 * back because its reader is slower than the node (the socket took not all).
 */
void http_stream_note_pause(http_conn *c);
/* Ends c's stream: complete (ok) or cut short (the connection closes). */
void http_stream_end(http_conn *c, bool ok);
/* Drops a stream the handler set but that will not be sent (HEAD, an error). */
void http_resp_stream_drop(http_resp *r);
/* Appends to c's output; false when out of memory. */
bool http_out_append(http_conn *c, const void *p, size_t n);

/* tls.c */
/* The HTTPS context of s: certificate chain and key, TLS 1.2 at least. */
int http_tls_setup(http_server *s);
/*
 * recv/send, through TLS on an HTTPS connection: > 0 bytes, 0 end of
 * stream, -1 with errno (EAGAIN when TLS waits for the socket).
 */
ssize_t http_conn_recv(http_conn *c, void *buf, size_t n);
ssize_t http_conn_send(http_conn *c, const void *buf, size_t n);

#endif
