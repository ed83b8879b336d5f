/*
 * test_http_defer.c - HTTP answers given later (http_defer, http_answer) on
 * a real server over loopback: others served meanwhile, pipelined requests
 * in order after the deferred one, the peer gone before the answer, stopping
 * with an answer outstanding, over HTTPS, and http_feed's fallback (no
 * deferral).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "net/http.h"
#include "net/http_conn.h" /* HTTP_PEND_MAX */

enum { MAX_LATER_THREADS = 16, LATER_MS = 400, SLOW_MS = 1500 };

static pthread_mutex_t threads_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t later_tids[MAX_LATER_THREADS];
static unsigned nthreads;
static atomic_uint deferred; /* requests deferred so far */
static atomic_uint answered; /* http_answer calls made (counted just before) */

typedef struct later_job {
	http_later *l;
	unsigned ms;
	char body[128];
} later_job;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *later_thread(void *arg)
{
	later_job *j = arg;
	usleep(j->ms * 1000);
	/* Counted first: http_wait may return as soon as http_answer has handed it over. */
	atomic_fetch_add(&answered, 1);
	http_answer(j->l, 200, "text/plain", "X-Later: yes\r\n", j->body, strlen(j->body));
	free(j);
	return NULL;
}

static void join_all(void)
{
	pthread_mutex_lock(&threads_mu);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(later_tids[i], NULL);
	nthreads = 0;
	pthread_mutex_unlock(&threads_mu);
}

/*
 * /later/X: answered "later X" by another thread after LATER_MS (/slow/X:
 * "later /slow/X" after SLOW_MS);
 * /inline/X: deferred and answered before the handler returns;
 * anything else: answered at once, "now PATH".
 */
static int handler(void *wctx, const http_req *req, http_resp *r)
{
	(void)wctx;
	int slow = req->path.len > 6 && !memcmp(req->path.p, "/slow/", 6);
	int later = slow || (req->path.len > 7 && !memcmp(req->path.p, "/later/", 7));
	int inl = req->path.len > 8 && !memcmp(req->path.p, "/inline/", 8);
	http_later *l = later || inl ? http_defer(r) : NULL;
	if (!l) {
		http_resp_printf(r, "now %.*s", (int)req->path.len, (const char *)req->path.p);
		return 0;
	}
	atomic_fetch_add(&deferred, 1);
	later_job *j = malloc(sizeof(*j));
	assert_non_null(j);
	j->l = l;
	j->ms = slow ? SLOW_MS : LATER_MS;
	snprintf(j->body, sizeof(j->body), "later %.*s", (int)req->path.len,
	         (const char *)req->path.p);
	if (inl) {
		atomic_fetch_add(&answered, 1);
		http_answer(l, 200, "text/plain", NULL, j->body, strlen(j->body));
		free(j);
		return 0;
	}
	pthread_mutex_lock(&threads_mu);
	assert_true(nthreads < MAX_LATER_THREADS);
	assert_int_equal(pthread_create(&later_tids[nthreads++], NULL, later_thread, j), 0);
	pthread_mutex_unlock(&threads_mu);
	return -1; /* ignored once deferred */
}

/* hc on 127.0.0.1, a port of its own (the last listener TLS when hc->ntls), started. */
static http_server *start_cfg(http_config *hc, unsigned *port)
{
	static const char *listen[] = {"127.0.0.1:0"};
	hc->listen = listen;
	hc->nlisten = 1;
	hc->arg = &later_tids; /* a context is required */
	http_server *s = NULL;
	assert_int_equal(http_start(hc, &s), 0);
	*port = http_bound_port(s, 0);
	return s;
}

static http_server *start_tls(unsigned threads, unsigned idle_ms, unsigned *port, const char *cert,
                              const char *key)
{
	http_config hc = {.ntls = cert ? 1 : 0,
	                  .tls_cert = cert,
	                  .tls_key = key,
	                  .threads = threads,
	                  .idle_ms = idle_ms,
	                  .header_timeout_ms = idle_ms,
	                  .handle = handler};
	http_server *s = start_cfg(&hc, port);
	atomic_store(&deferred, 0);
	atomic_store(&answered, 0);
	return s;
}

static http_server *start(unsigned threads, unsigned idle_ms, unsigned *port)
{
	return start_tls(threads, idle_ms, port, NULL, NULL);
}

static int dial(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);
	assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Where answers are read from: a socket, or TLS on it. */
typedef struct reader {
	int fd;
	SSL *ssl;
} reader;

static ssize_t rd(const reader *r, void *buf, size_t n)
{
	return r->ssl ? SSL_read(r->ssl, buf, (int)n) : recv(r->fd, buf, n, 0);
}

/*
 * Reads n whole responses; bodies[i] gets each body (NUL-ended), heads[i] its
 * head. Bit i of head_only: answer i is to a HEAD (no body).
 */
static void read_from(const reader *rr, unsigned n, char bodies[][128], char heads[][512],
                      unsigned head_only)
{
	static char buf[65536];
	size_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		for (;;) {
			buf[len] = 0;
			char *end = strstr(buf, "\r\n\r\n");
			char *cl = end ? strstr(buf, "Content-Length: ") : NULL;
			size_t blen = cl && cl < end && !(head_only >> i & 1)
			                  ? strtoul(cl + 16, NULL, 10)
			                  : 0;
			size_t hlen = end ? (size_t)(end + 4 - buf) : 0;
			if (end && len >= hlen + blen) {
				assert_true(blen < 128 && hlen < 512);
				memcpy(bodies[i], end + 4, blen);
				bodies[i][blen] = 0;
				if (heads) {
					memcpy(heads[i], buf, hlen);
					heads[i][hlen] = 0;
				}
				memmove(buf, buf + hlen + blen, len - hlen - blen);
				len -= hlen + blen;
				break;
			}
			ssize_t r = rd(rr, buf + len, sizeof(buf) - 1 - len);
			assert_true(r > 0); /* an answer, not EOF or the 5 s timeout */
			len += (size_t)r;
		}
	}
}

static void read_answers(int fd, unsigned n, char bodies[][128], char heads[][512],
                         unsigned head_only)
{
	reader r = {fd, NULL};
	read_from(&r, n, bodies, heads, head_only);
}

/*
 * One worker: a request deferred on one connection while another connection
 * is answered; the deferred one outlives the idle deadline (200 ms) and
 * keeps its connection alive for the next request.
 */
static void test_other_served_meanwhile(void **state)
{
	(void)state;
	unsigned port;
	http_server *s = start(1, 200, &port);
	int a = dial(port), b = dial(port);
	uint64_t t0 = now_ms();
	send_all(a, "GET /later/a HTTP/1.1\r\nHost: x\r\n\r\n");
	while (atomic_load(&deferred) == 0)
		usleep(1000);
	char bodies[2][128], heads[2][512];
	send_all(b, "GET /now/b HTTP/1.1\r\nHost: x\r\n\r\n");
	read_answers(b, 1, bodies, NULL, 0);
	uint64_t tb = now_ms() - t0;
	assert_string_equal(bodies[0], "now /now/b");
	assert_int_equal(atomic_load(&answered), 0); /* b came first */
	read_answers(a, 1, bodies, heads, 0);
	uint64_t ta = now_ms() - t0;
	assert_string_equal(bodies[0], "later /later/a");
	assert_non_null(strstr(heads[0], "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(heads[0], "Content-Type: text/plain\r\n"));
	assert_non_null(strstr(heads[0], "X-Later: yes\r\n"));
	assert_null(strstr(heads[0], "Connection: close"));
	assert_true(tb < ta);
	assert_true(ta >= LATER_MS);
	/* the connection goes on */
	send_all(a, "GET /now/again HTTP/1.1\r\nHost: x\r\n\r\n");
	read_answers(a, 1, bodies, NULL, 0);
	assert_string_equal(bodies[0], "now /now/again");
	close(a);
	close(b);
	http_stop(s);
	assert_int_equal(http_wait(s), 0);
	join_all();
}

/* Pipelined requests wait for the deferred one and are answered in order. */
static void test_pipelined_in_order(void **state)
{
	(void)state;
	unsigned port;
	http_server *s = start(1, 0, &port);
	int a = dial(port);
	send_all(a, "GET /later/1 HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /now/2 HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /inline/3 HTTP/1.1\r\nHost: x\r\n\r\n"
	            "HEAD /later/4 HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /later/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	            "GET /now/6 HTTP/1.1\r\nHost: x\r\n\r\n");
	char bodies[5][128], heads[5][512];
	read_answers(a, 4, bodies, heads, 1u << 3);
	assert_string_equal(bodies[0], "later /later/1");
	assert_string_equal(bodies[1], "now /now/2");
	assert_string_equal(bodies[2], "later /inline/3");
	/* HEAD: the length of the body, without it */
	assert_string_equal(bodies[3], "");
	assert_non_null(strstr(heads[3], "Content-Length: 14\r\n"));
	read_answers(a, 1, bodies + 4, heads + 4, 0);
	assert_string_equal(bodies[4], "later /later/5");
	assert_non_null(strstr(heads[4], "Connection: close\r\n"));
	char c;
	assert_int_equal(recv(a, &c, 1, 0), 0); /* closed after it: /now/6 is not answered */
	close(a);
	http_stop(s);
	assert_int_equal(http_wait(s), 0);
	join_all();
	assert_int_equal(atomic_load(&deferred), 4);
}

/* The peer closes before the answer: it is dropped, the server goes on. */
static void test_peer_gone(void **state)
{
	(void)state;
	unsigned port;
	http_server *s = start(1, 0, &port);
	int a = dial(port);
	send_all(a, "GET /later/gone HTTP/1.1\r\nHost: x\r\n\r\n");
	while (atomic_load(&deferred) == 0)
		usleep(1000);
	close(a);
	/* a second one resets instead of closing */
	int b = dial(port);
	send_all(b, "GET /later/reset HTTP/1.1\r\nHost: x\r\n\r\n");
	while (atomic_load(&deferred) < 2)
		usleep(1000);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(b);
	join_all(); /* both answered, to connections gone */
	assert_int_equal(atomic_load(&answered), 2);
	int c = dial(port);
	char bodies[1][128];
	send_all(c, "GET /now/c HTTP/1.1\r\nHost: x\r\n\r\n");
	read_answers(c, 1, bodies, NULL, 0);
	assert_string_equal(bodies[0], "now /now/c");
	close(c);
	http_stop(s);
	assert_int_equal(http_wait(s), 0);
}

/* http_stop with an answer outstanding: http_wait waits for it, then frees. */
static void test_stop_outstanding(void **state)
{
	(void)state;
	unsigned port;
	http_server *s = start(2, 0, &port);
	int a = dial(port);
	send_all(a, "GET /later/stop HTTP/1.1\r\nHost: x\r\n\r\n");
	while (atomic_load(&deferred) == 0)
		usleep(1000);
	uint64_t t0 = now_ms();
	http_stop(s);
	assert_int_equal(http_wait(s), 0);
	assert_int_equal(atomic_load(&answered), 1); /* http_wait waited for it */
	assert_true(now_ms() - t0 >= LATER_MS / 2);
	char c;
	assert_true(recv(a, &c, 1, 0) <= 0); /* closed unanswered */
	close(a);
	join_all();
}

/*
 * Over HTTPS: the deferred answer and the pipelined one after it, through
 * TLS; the wait outlives the idle deadline (generous enough for a handshake
 * under valgrind).
 */
static void test_tls(void **state)
{
	(void)state;
	char dir[] = "/tmp/idn-http-defer-XXXXXX", cmd[512], cert[64], key[64];
	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
	         "-subj /CN=localhost -keyout %s -out %s >/dev/null 2>&1",
	         key, cert);
	assert_int_equal(system(cmd), 0);
	unsigned port;
	http_server *s = start_tls(1, 700, &port, cert, key);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	SSL *ssl = SSL_new(ctx);
	int a = dial(port);
	SSL_set_fd(ssl, a);
	assert_int_equal(SSL_connect(ssl), 1);
	static const char req[] = "GET /slow/t HTTP/1.1\r\nHost: x\r\n\r\n"
	                          "GET /now/u HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(SSL_write(ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
	char bodies[2][128];
	reader r = {a, ssl};
	read_from(&r, 2, bodies, NULL, 0);
	assert_string_equal(bodies[0], "later /slow/t");
	assert_string_equal(bodies[1], "now /now/u");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(a);
	http_stop(s);
	assert_int_equal(http_wait(s), 0);
	join_all();
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

/* Under http_feed nothing can be deferred: http_defer is NULL, the handler answers. */
static void test_feed_no_defer(void **state)
{
	(void)state;
	static const char in[] = "GET /later/f HTTP/1.1\r\nHost: x\r\n\r\n"
	                         "GET /inline/g HTTP/1.1\r\nHost: x\r\n\r\n";
	http_config hc = {.handle = handler};
	uint8_t *out = NULL;
	size_t n = 0;
	atomic_store(&deferred, 0);
	assert_int_equal(http_feed(&hc, NULL, (const uint8_t *)in, sizeof(in) - 1, 0, &out, &n), 0);
	char *text = malloc(n + 1);
	assert_non_null(text);
	memcpy(text, out, n);
	text[n] = 0;
	assert_non_null(strstr(text, "now /later/f"));
	assert_non_null(strstr(text, "now /inline/g"));
	assert_int_equal(atomic_load(&deferred), 0);
	free(text);
	free(out);
}

/* ---- the prefetch hook: every connection of a turn read and hinted before any answer ---- */

enum { LOG_MAX = 64 };
static char hint_log[LOG_MAX][48]; /* "0 PATH", "1 PATH" (the hook), "a PATH" (answered) */
static unsigned hint_n;            /* one worker: no lock */

static void log_line(char what, const uint8_t *p, size_t n)
{
	assert_true(hint_n < LOG_MAX);
	snprintf(hint_log[hint_n++], sizeof hint_log[0], "%c %.*s", what, n > 40 ? 40 : (int)n,
	         (const char *)p);
}

/* Logs the request line's path (after "GET ", up to the space); its hint is its log line + 100. */
static uint64_t hint(void *wctx, const uint8_t *p, size_t n, uint64_t h)
{
	(void)wctx;
	assert_true(n > 4 && !memcmp(p, "GET ", 4));
	const uint8_t *e = memchr(p + 4, ' ', n - 4);
	assert_non_null(e);
	if (h) { /* the second call: with the first one's hint */
		assert_true(h >= 100 && h - 100 < hint_n);
		assert_memory_equal(hint_log[h - 100] + 2, p + 4, (size_t)(e - p - 4));
	}
	log_line(h ? '1' : '0', p + 4, (size_t)(e - p - 4));
	return h ? 0 : 100 + hint_n - 1;
}

static int log_handler(void *wctx, const http_req *req, http_resp *r)
{
	(void)wctx;
	log_line('a', req->path.p, req->path.len);
	http_resp_printf(r, "now %.*s", (int)req->path.len, (const char *)req->path.p);
	return 0;
}

static unsigned log_at(const char *line)
{
	for (unsigned i = 0; i < hint_n; i++)
		if (!strcmp(hint_log[i], line))
			return i;
	fail_msg("'%s' is not in the log", line);
	return 0;
}

/*
 * Ten connections whose GETs are all in before the (held) worker starts: one
 * turn reads them; each is hinted, hinted again with its hint, then
 * answered; the first HTTP_PEND_MAX are hinted before any answer, and
 * answered before the rest are read (their sockets still in the cache); the
 * answers are right, and a second request on a connection goes the same way.
 */
static void test_prefetch_before_answers(void **state)
{
	(void)state;
	enum { N = HTTP_PEND_MAX + 2 };
	http_config hc = {.threads = 1, .held = true, .handle = log_handler, .prefetch = hint};
	unsigned port;
	http_server *s = start_cfg(&hc, &port);
	hint_n = 0;
	int fd[N];
	char req[64], path[N][16];
	for (int i = 0; i < N; i++) {
		fd[i] = dial(port);
		snprintf(path[i], sizeof path[i], "/h/%d", i);
		snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path[i]);
		send_all(fd[i], req);
	}
	http_go(s);
	char bodies[1][128], want[32], line[48];
	for (int i = 0; i < N; i++) {
		read_answers(fd[i], 1, bodies, NULL, 0);
		snprintf(want, sizeof want, "now %.12s", path[i]);
		assert_string_equal(bodies[0], want);
	}
	assert_int_equal(hint_n, 3 * N);
	for (int i = 0; i < N; i++) {
		snprintf(line, sizeof line, "0 %.12s", path[i]);
		unsigned h0 = log_at(line);
		snprintf(line, sizeof line, "1 %.12s", path[i]);
		unsigned h1 = log_at(line);
		snprintf(line, sizeof line, "a %.12s", path[i]);
		assert_true(h0 < h1 && h1 < log_at(line));
	}
	unsigned first = 0, reads = 0; /* the first answer, and the reads before it */
	while (hint_log[first][0] != 'a')
		reads += hint_log[first++][0] == '0';
	assert_int_equal(reads, HTTP_PEND_MAX);
	/* the next request on a connection: hinted, then answered */
	send_all(fd[1], "GET /h/next HTTP/1.1\r\nHost: x\r\n\r\n");
	read_answers(fd[1], 1, bodies, NULL, 0);
	assert_string_equal(bodies[0], "now /h/next");
	assert_true(log_at("0 /h/next") < log_at("1 /h/next"));
	assert_true(log_at("1 /h/next") < log_at("a /h/next"));
	for (int i = 0; i < N; i++)
		close(fd[i]);
	http_stop(s);
	assert_int_equal(http_wait(s), 0);
}

static atomic_int blocking; /* 1: block_handler holds the worker in a request */

/* "/block": holds the worker for 300 ms (blocking set meanwhile); else "now PATH". */
static int block_handler(void *wctx, const http_req *req, http_resp *r)
{
	(void)wctx;
	if (req->path.len == 6 && !memcmp(req->path.p, "/block", 6)) {
		atomic_store(&blocking, 1);
		usleep(300 * 1000);
		atomic_store(&blocking, 0);
	}
	http_resp_printf(r, "now %.*s", (int)req->path.len, (const char *)req->path.p);
	return 0;
}

static uint64_t no_hint(void *wctx, const uint8_t *p, size_t n, uint64_t h)
{
	(void)wctx;
	(void)p;
	(void)n;
	(void)h;
	return 0;
}

/*
 * At http-max-conns a newcomer makes the idlest connection go: never one
 * whose request was read this turn and waits for its answer (pre_read). The
 * worker is held by a request on D while A (the idlest by its last answer)
 * sends its next request and C connects: in the next turn A is read, then
 * C taken; D goes, A is answered.
 */
static void test_pending_not_evicted(void **state)
{
	(void)state;
	http_config hc = {
	    .threads = 1, .max_conns = 2, .handle = block_handler, .prefetch = no_hint};
	unsigned port;
	http_server *s = start_cfg(&hc, &port);
	char bodies[1][128];
	int a = dial(port);
	send_all(a, "GET /a1 HTTP/1.1\r\nHost: x\r\n\r\n");
	read_answers(a, 1, bodies, NULL, 0);
	int d = dial(port);
	send_all(d, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
	for (int i = 0; i < 500 && !atomic_load(&blocking); i++)
		usleep(1000);
	assert_true(atomic_load(&blocking));
	send_all(a, "GET /a2 HTTP/1.1\r\nHost: x\r\n\r\n");
	usleep(20 * 1000);
	int c = dial(port); /* in the backlog: accepted after A is read */
	read_answers(d, 1, bodies, NULL, 0);
	assert_string_equal(bodies[0], "now /block");
	read_answers(a, 1, bodies, NULL, 0);
	assert_string_equal(bodies[0], "now /a2");
	for (int *fd = (int[]){a, c, d, -1}; *fd >= 0; fd++)
		close(*fd);
	http_stop(s);
	assert_int_equal(http_wait(s), 0);
}

static atomic_uint inits, finis; /* worker_init, worker_fini calls */

static void *count_init(void *arg, unsigned idx)
{
	(void)idx;
	atomic_fetch_add(&inits, 1);
	return arg;
}

static void count_fini(void *wctx)
{
	(void)wctx;
	atomic_fetch_add(&finis, 1);
}

/*
 * A held server (http_config.held) stopped before http_go: its workers,
 * set up, never serve, and each one's context is finished as a served
 * one's is (worker_fini).
 */
static void test_held_stopped_finishes_workers(void **state)
{
	(void)state;
	static const char *listen[] = {"127.0.0.1:0"};
	for (int go = 0; go < 2; go++) {
		atomic_store(&inits, 0);
		atomic_store(&finis, 0);
		http_config hc = {.listen = listen,
		                  .nlisten = 1,
		                  .threads = 2,
		                  .handle = handler,
		                  .worker_init = count_init,
		                  .worker_fini = count_fini,
		                  .arg = &later_tids,
		                  .held = true};
		http_server *s = NULL;
		assert_int_equal(http_start(&hc, &s), 0);
		if (go)
			http_go(s);
		http_stop(s);
		assert_int_equal(http_wait(s), 0);
		assert_int_equal(atomic_load(&inits), 2);
		assert_int_equal(atomic_load(&finis), 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_other_served_meanwhile),
	    cmocka_unit_test(test_pipelined_in_order),
	    cmocka_unit_test(test_peer_gone),
	    cmocka_unit_test(test_stop_outstanding),
	    cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_feed_no_defer),
	    cmocka_unit_test(test_held_stopped_finishes_workers),
	    cmocka_unit_test(test_prefetch_before_answers),
	    cmocka_unit_test(test_pending_not_evicted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
