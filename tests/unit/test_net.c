/*
 * test_net.c - the network layer on loopback, with an echo-style handler.
 *
 * Servers listen on 127.0.0.1:0 (the kernel picks a free port, the same for
 * UDP and TCP) and net_bound_port() says which. Every client socket has a
 * receive timeout and every loop a count bound, so a broken server fails a
 * test instead of hanging it.
 *
 * The handler answers with the request's envelope (same request id; the
 * suggested-minor byte set to 1 for UDP, 2 for TCP) and:
 *   "GROW" + u32 n  -> n bytes of a pattern derived from the request id;
 *   "NOCK" + u32 n  -> the same, after turning UDP checksums off on the
 *                      server's socket (SO_NO_CHECK: the kernel then refuses
 *                      UDP GSO, and the worker falls back);
 *   "NONE"          -> no answer;
 *   "FAIL"          -> an error (the TCP connection is closed);
 *   "LATR" + u32 ms -> as anything else, but answered from another thread
 *                      after ms (net_defer / net_answer); "LATZ": no answer
 *   "WRIT"          -> as anything else, and the worker has a write pending
 *                      until commit (group commit; the test sets commit's rc);
 *   anything else   -> the message with every byte inverted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limit.h"
#include "net/net.h"
#include "proto/proto.h"
#include "proto/udp.h"

enum { TIMEOUT_MS = 3000 };

/* ---- the handler and its per-thread context ---- */

struct wctx {
	unsigned idx;
	int in_batch;
	int pending; /* a "WRIT" awaits commit */
};

/* Group commit: what commit returns, how often it ran, when it last returned. */
static atomic_int commit_rc, n_commits, n_writes;
static atomic_ullong committed_ms;
static uint64_t ms_now(void);
static int t_defer(const net_req *req, const uint8_t *ans, size_t len, unsigned ms);
static int t_parts(const net_req *req, uint32_t request_id, uint32_t parts, uint32_t size,
                   uint8_t *out);

static atomic_int n_init, n_fini, batch_violations, n_batches;

static void *t_worker_init(void *arg, unsigned idx)
{
	struct wctx *c = calloc(1, sizeof(*c));
	c->idx = idx;
	atomic_fetch_add(&n_init, 1);
	return c;
}

static void t_worker_fini(void *wctx)
{
	atomic_fetch_add(&n_fini, 1);
	free(wctx);
}

static void t_batch_begin(void *wctx)
{
	struct wctx *c = wctx;
	if (c->in_batch)
		atomic_fetch_add(&batch_violations, 1);
	c->in_batch = 1;
	atomic_fetch_add(&n_batches, 1);
}

static void t_batch_end(void *wctx)
{
	struct wctx *c = wctx;
	if (!c->in_batch)
		atomic_fetch_add(&batch_violations, 1);
	c->in_batch = 0;
}

static uint8_t pattern(uint32_t request_id, size_t i)
{
	return (uint8_t)(i * 7 + request_id);
}

static int t_handle(void *wctx, const net_req *req, uint8_t *out, size_t cap)
{
	struct wctx *c = wctx;
	proto_env env;

	if (!c->in_batch)
		atomic_fetch_add(&batch_violations, 1);
	if (!req->peer || req->peer_len == 0 || cap < PROTO_ENV_LEN + PROTO_MSG_MAX)
		return -1;
	if (proto_env_decode(req->msg, req->len, &env) < 0)
		return -1;
	if (req->transport == NET_TCP && req->len == PROTO_ENV_LEN && env.msg_len > 0) {
		/* An oversized request's envelope: answer an empty message. */
		env.msg_len = 0;
		proto_env_encode(&env, out);
		return PROTO_ENV_LEN;
	}
	if (env.msg_len != req->len - 20)
		return -1;
	const uint8_t *m = req->msg + PROTO_ENV_LEN;
	size_t n = env.msg_len, alen;
	if (n >= 8 && (memcmp(m, "GROW", 4) == 0 || memcmp(m, "NOCK", 4) == 0)) {
		/* NOCK: as GROW, with UDP checksums off on the socket, which UDP GSO refuses */
		int one = 1;
		if (m[0] == 'N' && req->transport == NET_UDP)
			setsockopt(req->udp_fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one));
		alen = idn_be32(m + 4);
		if (alen > PROTO_MSG_MAX)
			return -1;
		for (size_t i = 0; i < alen; i++)
			out[PROTO_ENV_LEN + i] = pattern(env.request_id, i);
	} else if (n >= 12 && memcmp(m, "PART", 4) == 0) {
		return t_parts(req, env.request_id, idn_be32(m + 4), idn_be32(m + 8), out);
	} else if (n >= 4 && memcmp(m, "NONE", 4) == 0) {
		return 0;
	} else if (n >= 4 && memcmp(m, "FAIL", 4) == 0) {
		return IDN_EPROTO;
	} else if (n >= 4 && memcmp(m, "WRIT", 4) == 0) {
		c->pending = 1;
		atomic_fetch_add(&n_writes, 1);
		alen = n;
		for (size_t i = 0; i < n; i++)
			out[PROTO_ENV_LEN + i] = (uint8_t)~m[i];
	} else if (n >= 4 && (memcmp(m, "TWO!", 4) == 0 || memcmp(m, "LIE!", 4) == 0)) {
		/*
		 * Two whole messages back to back, as a continued list answer is
		 * sent; with LIE! the second envelope announces a byte more than
		 * the answer holds.
		 */
		env.sugg_minor = 2;
		for (int k = 0; k < 2; k++) {
			env.msg_len = k && m[0] == 'L' ? 5 : 4;
			proto_env_encode(&env, out + k * (PROTO_ENV_LEN + 4));
			memcpy(out + k * (PROTO_ENV_LEN + 4) + PROTO_ENV_LEN, k ? "two!" : "one!",
			       4);
		}
		return 2 * (PROTO_ENV_LEN + 4);
	} else {
		alen = n;
		for (size_t i = 0; i < n; i++)
			out[PROTO_ENV_LEN + i] = (uint8_t)~m[i];
	}
	env.seq = 0;
	env.flags &= (uint8_t)~PROTO_ENV_TRUNCATED;
	env.sugg_minor = req->transport == NET_UDP ? 1 : 2;
	env.msg_len = (uint32_t)alen;
	proto_env_encode(&env, out);
	if (n >= 8 && (memcmp(m, "LATR", 4) == 0 || memcmp(m, "LATZ", 4) == 0))
		return t_defer(req, out, m[3] == 'R' ? PROTO_ENV_LEN + alen : 0, idn_be32(m + 4));
	return (int)(PROTO_ENV_LEN + alen);
}

/*
 * An answer in parts (net_more): "PART" int4 parts int4 size is answered
 * with `parts` messages of `size` bytes, the first from the handler, the
 * others from t_more; each message's body starts with its part number.
 */
struct parts_job {
	uint32_t request_id, parts, size, next;
};

static atomic_int n_more_calls, n_more_done;

static size_t part_msg(const struct parts_job *j, uint8_t *out)
{
	proto_env env = {2, 5, 0, 2, 0x1234, j->request_id, 0, j->size};
	proto_env_encode(&env, out);
	idn_put_be32(out + PROTO_ENV_LEN, j->next);
	for (size_t i = 4; i < j->size; i++)
		out[PROTO_ENV_LEN + i] = pattern(j->next, i);
	return PROTO_ENV_LEN + j->size;
}

static int t_more(void *wctx, void *arg, uint8_t *out, size_t cap, bool *last)
{
	(void)wctx;
	struct parts_job *j = arg;
	atomic_fetch_add(&n_more_calls, 1);
	if (cap < PROTO_ENV_LEN + j->size)
		return -1;
	j->next++;
	*last = j->next == j->parts - 1;
	return (int)part_msg(j, out);
}

static void t_more_done(void *arg)
{
	atomic_fetch_add(&n_more_done, 1);
	free(arg);
}

static int t_parts(const net_req *req, uint32_t request_id, uint32_t parts, uint32_t size,
                   uint8_t *out)
{
	struct parts_job *j = malloc(sizeof(*j));
	if (!j || parts < 2 || size < 4 || size > PROTO_MSG_MAX) {
		free(j);
		return -1;
	}
	*j = (struct parts_job){request_id, parts, size, 0};
	size_t len = part_msg(j, out);
	if (!net_more(req, t_more, t_more_done, j)) {
		free(j);
		return -1;
	}
	return (int)len;
}

/* A deferred answer, given by its own thread after a delay. */
struct later_job {
	net_later *l;
	unsigned ms;
	size_t len;
	uint8_t ans[];
};

static atomic_int n_deferred, n_answered_later;

static void *later_main(void *arg)
{
	struct later_job *j = arg;
	usleep(j->ms * 1000);
	atomic_fetch_add(&n_answered_later, 1); /* before: net_wait may return once it is in */
	net_answer(j->l, j->len ? j->ans : NULL, j->len);
	free(j);
	return NULL;
}

/* Defers the answer ans (len; 0 = none) to a thread that gives it after ms. */
static int t_defer(const net_req *req, const uint8_t *ans, size_t len, unsigned ms)
{
	net_later *l = net_defer(req);
	if (!l)
		return IDN_EINVAL;
	struct later_job *j = malloc(sizeof(*j) + len);
	j->l = l;
	j->ms = ms;
	j->len = len;
	memcpy(j->ans, ans, len);
	pthread_t th;
	pthread_create(&th, NULL, later_main, j);
	pthread_detach(th);
	atomic_fetch_add(&n_deferred, 1);
	return 0;
}

static bool t_pending(void *wctx)
{
	return ((struct wctx *)wctx)->pending;
}

static int t_commit(void *wctx)
{
	struct wctx *c = wctx;
	if (!c->pending)
		atomic_fetch_add(&batch_violations, 1); /* commit without pending writes */
	c->pending = 0;
	atomic_fetch_add(&n_commits, 1);
	usleep(20 * 1000); /* an fsync */
	atomic_store(&committed_ms, ms_now());
	return atomic_load(&commit_rc);
}

/* ---- server set-up ---- */

static const char *lo_any[] = {"127.0.0.1:0"};

static net_config base_cfg(void)
{
	return (net_config){
	    .listen = lo_any,
	    .nlisten = 1,
	    .threads = 2,
	    .worker_init = t_worker_init,
	    .worker_fini = t_worker_fini,
	    .batch_begin = t_batch_begin,
	    .batch_end = t_batch_end,
	    .handle = t_handle,
	    /* Framing: answers far longer than their requests (the budget's own test sets it). */
	    .udp_answer_max = 1 << 20,
	    .udp_amplification = 1000000,
	};
}

static char errbuf[256];

static net_server *start(net_config cfg, unsigned *port)
{
	net_server *s = NULL;
	cfg.errbuf = errbuf;
	cfg.errbuf_len = sizeof(errbuf);
	int rc = net_start(&cfg, &s);
	if (rc != 0)
		fail_msg("net_start: %s (%s)", idn_strerror(rc), errbuf);
	*port = net_bound_port(s, 0);
	assert_true(*port > 0);
	return s;
}

static void stop(net_server *s)
{
	net_stop(s);
	assert_int_equal(net_wait(s), 0);
	assert_int_equal(atomic_load(&batch_violations), 0);
}

/* ---- client helpers ---- */

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int client(int type, const char *ip, unsigned port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &a->sin6_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &a->sin_addr);
		len = sizeof(*a);
	}
	int fd = socket(ss.ss_family, type, 0);
	assert_true(fd >= 0);
	set_timeout(fd, TIMEOUT_MS);
	if (type == SOCK_STREAM) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else {
		int sz = 1 << 20; /* best effort: multi-packet answers arrive in a burst */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

/* envelope + body into buf; returns the length. */
static size_t build(uint8_t *buf, uint32_t request_id, const void *body, size_t blen)
{
	proto_env env = {2, 5, 0, 0, 0x1234, request_id, 0, (uint32_t)blen};
	proto_env_encode(&env, buf);
	if (blen)
		memcpy(buf + PROTO_ENV_LEN, body, blen);
	return PROTO_ENV_LEN + blen;
}

static size_t build_grow(uint8_t *buf, uint32_t request_id, uint32_t n)
{
	uint8_t body[8] = {'G', 'R', 'O', 'W'};
	idn_put_be32(body + 4, n);
	return build(buf, request_id, body, sizeof(body));
}

static void check_grow(const uint8_t *ans, size_t len, uint32_t request_id, uint32_t n,
                       uint8_t transport_mark)
{
	assert_int_equal(len, PROTO_ENV_LEN + n);
	assert_int_equal(idn_be32(ans + 8), request_id);
	assert_int_equal(idn_be32(ans + 16), n);
	assert_int_equal(ans[3], transport_mark);
	for (size_t i = 0; i < n; i++)
		if (ans[PROTO_ENV_LEN + i] != pattern(request_id, i))
			fail_msg("byte %zu of answer %u differs", i, request_id);
}

static void check_inverted(const uint8_t *ans, size_t len, const uint8_t *req, size_t rlen,
                           uint8_t transport_mark)
{
	assert_int_equal(len, rlen);
	assert_int_equal(idn_be32(ans + 8), idn_be32(req + 8));
	assert_int_equal(idn_be32(ans + 16), rlen - PROTO_ENV_LEN);
	assert_int_equal(ans[3], transport_mark);
	for (size_t i = PROTO_ENV_LEN; i < len; i++)
		if ((ans[i] ^ req[i]) != 0xFF)
			fail_msg("byte %zu differs", i);
}

/* Sends a message over UDP, fragmented when longer than one packet. */
static void udp_send_msg(int fd, const uint8_t *msg, size_t len, int reverse)
{
	static proto_udp_frag frags[PROTO_UDP_MAX_PKTS];
	uint8_t pkt[PROTO_UDP_PKT];
	int n = proto_udp_fragment(msg, len, frags, PROTO_UDP_MAX_PKTS);
	assert_true(n > 0);
	for (int k = 0; k < n; k++) {
		int i = reverse ? n - 1 - k : k;
		size_t plen = proto_udp_frag_copy(&frags[i], pkt);
		assert_int_equal(send(fd, pkt, plen, 0), (ssize_t)plen);
	}
}

/*
 * Receives one whole answer over UDP, reassembling as a client does. Returns
 * its length (copied to out), or 0 on timeout. *npkts: datagrams seen.
 */
static size_t udp_recv_msg(int fd, uint8_t *out, size_t cap, int *npkts, int want_tc)
{
	proto_udp_rasm r;
	uint8_t pkt[2048];
	size_t got = 0;
	assert_int_equal(proto_udp_rasm_init(&r, 4, 1 << 20, 0, 10000), 0);
	*npkts = 0;
	for (int i = 0; i < 2 * PROTO_UDP_MAX_PKTS; i++) {
		ssize_t n = recv(fd, pkt, sizeof(pkt), 0);
		if (n < 0)
			break;
		(*npkts)++;
		assert_true(n <= PROTO_UDP_PKT);
		if (want_tc >= 0)
			assert_int_equal(!!(pkt[2] & PROTO_ENV_TRUNCATED), want_tc);
		const uint8_t *msg;
		size_t len;
		int rc = proto_udp_rasm_add(&r, NULL, 0, pkt, (size_t)n, 0, &msg, &len);
		assert_true(rc >= 0);
		if (rc == 1) {
			assert_true(len <= cap);
			memcpy(out, msg, len);
			got = len;
			break;
		}
	}
	proto_udp_rasm_free(&r);
	return got;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads exactly n bytes; < 0 on timeout, error or EOF. */
static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = recv(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One TCP answer: envelope + message. Returns its length or 0. */
static size_t tcp_read_msg(int fd, uint8_t *out, size_t cap)
{
	if (read_all(fd, out, PROTO_ENV_LEN) < 0)
		return 0;
	size_t len = PROTO_ENV_LEN + idn_be32(out + 16);
	assert_true(len <= cap);
	if (read_all(fd, out + PROTO_ENV_LEN, len - PROTO_ENV_LEN) < 0)
		return 0;
	return len;
}

/* Whether the server closed the connection within TIMEOUT_MS. */
static int closed_by_peer(int fd)
{
	uint8_t b[256];
	uint64_t end = ms_now() + TIMEOUT_MS;
	while (ms_now() < end) {
		ssize_t n = recv(fd, b, sizeof(b), 0);
		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return 1;
		if (n < 0 && errno != EINTR)
			return 0; /* timeout */
	}
	return 0;
}

static struct net_stats stats(net_server *s)
{
	struct net_stats st;
	net_stats(s, &st);
	return st;
}

/*
 * Counters move on the server's threads, some just after the client has its
 * answer (datagrams sent, connections closed): wait for cond, at most 2 s.
 */
#define EVENTUALLY(s, cond)                                                                        \
	do {                                                                                       \
		struct net_stats st_;                                                              \
		for (int i_ = 0; i_ < 200; i_++) {                                                 \
			net_stats((s), &st_);                                                      \
			if (cond)                                                                  \
				break;                                                             \
			usleep(10 * 1000);                                                         \
		}                                                                                  \
		net_stats((s), &st_);                                                              \
		assert_true(cond);                                                                 \
	} while (0)

static uint8_t big_a[PROTO_ENV_LEN + PROTO_MSG_MAX];
static uint8_t big_b[PROTO_ENV_LEN + PROTO_MSG_MAX];

/* ---- tests ---- */

/* Whether a UDP answer is the short RC_ERROR standing for one not sent (net.h). */
static bool is_refusal(const uint8_t *ans, size_t len, uint32_t request_id, const char *says)
{
	proto_msg m;
	idn_slice text;
	if (len < PROTO_ENV_LEN || idn_be32(ans + 8) != request_id ||
	    proto_msg_decode(ans + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &m) ||
	    m.hdr.rcode != PROTO_RC_ERROR || proto_error_decode(m.body, &text))
		return false;
	return memmem(text.p, text.len, says, strlen(says)) != NULL;
}

/*
 * The UDP answer budget at its defaults: an answer over 10 x its request's
 * bytes (or 1232) is the short RC_ERROR asking for TCP, one datagram with
 * the request's id; one within it is unchanged.
 */
static void test_udp_budget(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.udp_answer_max = 0;
	cfg.udp_amplification = 0;
	net_server *s = start(cfg, &port);
	int fd = client(SOCK_DGRAM, "127.0.0.1", port);
	uint8_t req[64];
	int npkts;

	/* A 28-byte request: 280 bytes of answer at most. */
	size_t len = build_grow(req, 5, 260);
	send(fd, req, len, 0);
	assert_int_equal(udp_recv_msg(fd, big_a, sizeof(big_a), &npkts, 0), 280);
	check_grow(big_a, 280, 5, 260, 1);
	len = build_grow(req, 6, 261);
	send(fd, req, len, 0);
	size_t alen = udp_recv_msg(fd, big_a, sizeof(big_a), &npkts, 0);
	assert_int_equal(npkts, 1);
	assert_true(alen <= 280);
	assert_true(
	    is_refusal(big_a, alen, 6, "answer of 281 bytes is over this node's UDP limit"));
	/* 100 kB, which used to be 204 datagrams: one short one. */
	len = build_grow(req, 7, 100000);
	send(fd, req, len, 0);
	alen = udp_recv_msg(fd, big_a, sizeof(big_a), &npkts, 0);
	assert_int_equal(npkts, 1);
	assert_true(is_refusal(big_a, alen, 7, "ask over TCP"));
	EVENTUALLY(s, st_.udp_pkts_out == 3);
	assert_true(limit_count(LIM_UDP_ANSWER_SIZE) >= 2);
	close(fd);
	net_stop(s);
	assert_int_equal(net_wait(s), 0);
}

/*
 * The rate limit: 10 answers a second to one source network, a second's
 * worth at once; over it every third is the RC_ERROR asking for TCP, the
 * others nothing.
 */
static void test_udp_rate(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.udp_rate_limit = 10;
	cfg.udp_rate_slip = 3;
	net_server *s = start(cfg, &port);
	int fd = client(SOCK_DGRAM, "127.0.0.1", port);
	set_timeout(fd, 300);
	uint8_t req[64], ans[600], body[8] = "PING";
	uint64_t before = limit_count(LIM_UDP_RATE);

	for (uint32_t id = 1; id <= 60; id++) {
		size_t len = build(req, id, body, sizeof(body));
		assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
	}
	unsigned ok = 0, slips = 0;
	for (int i = 0; i < 60; i++) {
		ssize_t n = recv(fd, ans, sizeof(ans), 0);
		if (n < 0)
			break;
		if (is_refusal(ans, (size_t)n, idn_be32(ans + 8), "ask over TCP"))
			slips++;
		else
			ok++;
	}
	/* Sent within well under a tenth of a second: the burst, perhaps one more. */
	assert_in_range(ok, 10, 11);
	assert_in_range(slips, (60 - ok) / 3 - 1, (60 - ok) / 3 + 1);
	assert_int_equal(limit_count(LIM_UDP_RATE) - before, 60 - ok);
	close(fd);
	net_stop(s);
	assert_int_equal(net_wait(s), 0);
}

static void test_udp_single(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	int fd = client(SOCK_DGRAM, "127.0.0.1", port);
	uint8_t req[600], ans[600], body[300];
	int npkts;

	for (uint32_t id = 1; id <= 20; id++) {
		size_t blen = id * 10;
		for (size_t i = 0; i < blen; i++)
			body[i] = (uint8_t)(i + id);
		size_t len = build(req, id, body, blen);
		assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
		size_t alen = udp_recv_msg(fd, ans, sizeof(ans), &npkts, 0);
		assert_int_equal(npkts, 1);
		check_inverted(ans, alen, req, len, 1);
	}
	/* 492-byte answer: one 512-byte datagram, no TC. 493: two, with TC. */
	size_t len = build_grow(req, 77, 492);
	send(fd, req, len, 0);
	assert_int_equal(udp_recv_msg(fd, big_a, sizeof(big_a), &npkts, 0), 512);
	assert_int_equal(npkts, 1);
	len = build_grow(req, 78, 493);
	send(fd, req, len, 0);
	assert_int_equal(udp_recv_msg(fd, big_a, sizeof(big_a), &npkts, 1), 513);
	assert_int_equal(npkts, 2);
	check_grow(big_a, 513, 78, 493, 1);

	EVENTUALLY(s, st_.udp_pkts_out == 23);
	struct net_stats st = stats(s);
	assert_int_equal(st.udp_requests, 22);
	assert_int_equal(st.udp_answers, 22);
	assert_int_equal(st.udp_pkts_in, 22);
	assert_int_equal(st.udp_drops, 0);
	assert_int_equal(st.udp_send_fail, 0);
	close(fd);
	stop(s);
}

static void test_udp_multi_answer(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	int fd = client(SOCK_DGRAM, "127.0.0.1", port);
	uint8_t req[64];
	int npkts;
	/* Up to 82 datagrams: within a default socket receive buffer. */
	static const uint32_t sizes[] = {5000, 984, 985, 20000, 40000};

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = build_grow(req, 100 + k, sizes[k]);
		assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
		size_t alen = udp_recv_msg(fd, big_a, sizeof(big_a), &npkts, 1);
		assert_int_equal(npkts, (int)proto_udp_npackets(sizes[k]));
		check_grow(big_a, alen, 100 + k, sizes[k], 1);
	}
	close(fd);
	stop(s);
}

/*
 * The datagrams of one answer as they arrive, each whole (up to max):
 * concatenated into out, their lengths into lens. Returns how many came
 * before the socket's timeout.
 */
static int udp_recv_raw(int fd, uint8_t *out, size_t *lens, int max)
{
	int n = 0;
	while (n < max) {
		ssize_t k = recv(fd, out, PROTO_UDP_PKT + 1, 0);
		if (k < 0)
			break;
		lens[n++] = (size_t)k;
		out += k;
	}
	return n;
}

/*
 * Sends req to both servers (fg with UDP GSO, f1 without) and checks the
 * datagrams of the two answers are the same: count (want), lengths, bytes.
 */
static void gso_same(int fg, int f1, const uint8_t *req, size_t len, int want)
{
	static size_t lens_g[80], lens_1[80];
	assert_int_equal(send(fg, req, len, 0), (ssize_t)len);
	assert_int_equal(udp_recv_raw(fg, big_a, lens_g, 80), want);
	assert_int_equal(send(f1, req, len, 0), (ssize_t)len);
	assert_int_equal(udp_recv_raw(f1, big_b, lens_1, 80), want);
	size_t total = 0;
	for (int j = 0; j < want; j++) {
		assert_int_equal(lens_g[j], lens_1[j]);
		if (j < want - 1)
			assert_int_equal(lens_g[j], PROTO_UDP_PKT);
		total += lens_g[j];
	}
	assert_int_equal(total, proto_udp_wire_len(PROTO_ENV_LEN + idn_be32(req + 24)));
	assert_memory_equal(big_a, big_b, total);
}

/*
 * A multi-packet answer sent with UDP GSO (one message the kernel cuts at
 * 512 bytes) arrives as exactly the datagrams a send per datagram gives:
 * the same count, lengths and bytes, for a 2 KB answer (5 datagrams), for
 * the most datagrams one segmented send takes (64) and one more (65, sent
 * one by one on both). The GSO server says it used GSO; the other never.
 * When the kernel refuses GSO (checksums turned off on the socket), the
 * answer still goes out as the same datagrams, and the worker stops asking.
 */
static void test_udp_gso_same_datagrams(void **state)
{
	(void)state;
	unsigned port_gso, port_one;
	net_config cfg = base_cfg();
	cfg.udp_answer_max = 1 << 20;
	cfg.udp_amplification = 100000;
	net_server *sg = start(cfg, &port_gso);
	cfg.udp_no_gso = true;
	net_server *s1 = start(cfg, &port_one);
	int fg = client(SOCK_DGRAM, "127.0.0.1", port_gso);
	int f1 = client(SOCK_DGRAM, "127.0.0.1", port_one);
	set_timeout(fg, 300);
	set_timeout(f1, 300);
	static const uint32_t sizes[] = {2048, 64 * PROTO_UDP_CHUNK, 64 * PROTO_UDP_CHUNK + 1};
	uint8_t req[64];

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = build_grow(req, 500 + k, sizes[k]);
		gso_same(fg, f1, req, len, (int)proto_udp_npackets(sizes[k]));
	}
	EVENTUALLY(sg, st_.udp_pkts_out == 5 + 64 + 65);
	EVENTUALLY(s1, st_.udp_pkts_out == 5 + 64 + 65);
	assert_int_equal(stats(sg).udp_gso, 2);
	assert_int_equal(stats(s1).udp_gso, 0);
	assert_int_equal(stats(sg).udp_bytes_out, stats(s1).udp_bytes_out);

	/* Refused: sent one by one all the same, and from then on. */
	size_t len = build_grow(req, 600, 2048);
	memcpy(req + PROTO_ENV_LEN, "NOCK", 4);
	gso_same(fg, f1, req, len, 5);
	len = build_grow(req, 601, 2048);
	gso_same(fg, f1, req, len, 5);
	EVENTUALLY(sg, st_.udp_pkts_out == 5 + 64 + 65 + 10);
	assert_int_equal(stats(sg).udp_gso, 2);
	assert_int_equal(stats(sg).udp_send_fail, 0);
	assert_int_equal(stats(sg).udp_bytes_out, stats(s1).udp_bytes_out);
	close(fg);
	close(f1);
	stop(sg);
	stop(s1);
}

/*
 * A multi-packet answer that cannot go to its peer (a request from source
 * port 0, which the kernel refuses to answer: EINVAL, as it says when it
 * refuses UDP GSO) is a failed send, and does not turn UDP GSO off: the next
 * answer to a good peer still goes as one segmented send. Needs a raw socket
 * (CAP_NET_RAW) to send from port 0; skipped without one.
 */
static void test_udp_gso_bad_peer(void **state)
{
	(void)state;
	int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	if (raw < 0) {
		print_message("no raw socket (%s): skipped\n", strerror(errno));
		skip();
	}
	unsigned port;
	net_config cfg = base_cfg();
	cfg.udp_answer_max = 1 << 20;
	cfg.udp_amplification = 100000;
	net_server *s = start(cfg, &port);
	int fd = client(SOCK_DGRAM, "127.0.0.1", port);
	set_timeout(fd, 300);
	uint8_t pkt[8 + 64], ans[PROTO_ENV_LEN + 4096];

	/* From source port 0 (IPv4 allows a zero checksum): refused to the peer. */
	size_t len = build_grow(pkt + 8, 700, 2048);
	memset(pkt, 0, 8);
	idn_put_be16(pkt + 2, (uint16_t)port);
	idn_put_be16(pkt + 4, (uint16_t)(8 + len));
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(sendto(raw, pkt, 8 + len, 0, (struct sockaddr *)&to, sizeof(to)),
	                 (ssize_t)(8 + len));
	EVENTUALLY(s, st_.udp_send_fail == 5);
	assert_int_equal(stats(s).udp_gso, 0);

	/* A good peer: still one segmented send. */
	len = build_grow(pkt, 701, 2048);
	assert_int_equal(send(fd, pkt, len, 0), (ssize_t)len);
	for (int j = 0; j < 5; j++)
		assert_true(recv(fd, ans, sizeof(ans), 0) > 0);
	EVENTUALLY(s, st_.udp_pkts_out == 5);
	assert_int_equal(stats(s).udp_gso, 1);
	close(raw);
	close(fd);
	stop(s);
}

/* A server on ":0" (0.0.0.0 and [::]: answers carry their source, pktinfo). */
static net_server *start_wildcard(unsigned *port)
{
	net_config cfg = base_cfg();
	static const char *l[] = {":0"};
	cfg.listen = l;
	return start(cfg, port);
}

/* Whether this host has an IPv6 loopback to test with. */
static bool ipv6_loopback(void)
{
	int probe = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
	bool ok = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (probe >= 0)
		close(probe);
	if (!ok)
		printf("(no IPv6 loopback here: [::1] not tested)\n");
	return ok;
}

/*
 * On a wildcard listener the answers carry their source address (pktinfo)
 * beside the segment size: a multi-packet answer still goes as one
 * segmented send, to IPv4 and IPv6 peers, and when the kernel refuses GSO
 * the datagrams sent one by one keep the pktinfo.
 */
static void test_udp_gso_pktinfo(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start_wildcard(&port);
	const char *ips[] = {"127.0.0.1", "::1"};
	static uint8_t ans[8 * PROTO_UDP_PKT];
	uint8_t req[64];
	unsigned gso = 0, pkts = 0;

	for (int k = 0; k < 3; k++) {
		if (k == 1 && !ipv6_loopback())
			continue;
		int u = client(SOCK_DGRAM, ips[k % 2], port);
		set_timeout(u, 300);
		size_t len = build_grow(req, 800 + (uint32_t)k, 2048);
		if (k == 2) /* IPv4 with checksums off: GSO refused, sent one by one */
			memcpy(req + PROTO_ENV_LEN, "NOCK", 4);
		assert_int_equal(send(u, req, len, 0), (ssize_t)len);
		int n = 0;
		while (n < 8 && recv(u, ans, sizeof(ans), 0) > 0)
			n++;
		assert_int_equal(n, 5);
		close(u);
		pkts += 5;
		gso += k < 2;
		EVENTUALLY(s, st_.udp_pkts_out == pkts);
		assert_int_equal(stats(s).udp_gso, gso);
		assert_int_equal(stats(s).udp_send_fail, 0);
	}
	stop(s);
}

/* A 3000-byte request in 7 datagrams, sent last first; its answer is 7 too. */
static void test_udp_multi_request(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	int fd = client(SOCK_DGRAM, "127.0.0.1", port);
	int npkts;

	for (uint32_t id = 1; id <= 3; id++) {
		size_t blen = 3000 * id;
		for (size_t i = 0; i < blen; i++)
			big_b[PROTO_ENV_LEN + i] = (uint8_t)(i * 13 + id);
		size_t len = build(big_a, id, big_b + PROTO_ENV_LEN, blen);
		udp_send_msg(fd, big_a, len, id == 1);
		size_t alen = udp_recv_msg(fd, big_b, sizeof(big_b), &npkts, 1);
		assert_int_equal(npkts, (int)proto_udp_npackets(blen));
		check_inverted(big_b, alen, big_a, len, 1);
	}
	EVENTUALLY(s, st_.udp_requests == 3 && st_.udp_reasm_pending == 0);
	close(fd);
	stop(s);
}

static void test_udp_garbage(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	int fd = client(SOCK_DGRAM, "127.0.0.1", port);
	uint8_t p[600] = {0}, ans[600];
	int npkts;

	send(fd, p, 5, 0);  /* shorter than an envelope */
	send(fd, p, 19, 0); /* likewise */
	build(p, 1, NULL, 0);
	idn_put_be32(p + 16, 100);
	send(fd, p, 70, 0); /* announces 100 bytes, carries 50 */
	idn_put_be32(p + 12, 9);
	idn_put_be32(p + 16, 1000);
	send(fd, p, 20 + 492, 0); /* sequence 9 of a 3-packet message */
	idn_put_be32(p + 16, PROTO_MSG_MAX + 1);
	idn_put_be32(p + 12, 0);
	send(fd, p, 20 + 492, 0); /* over the limit */
	/* The first chunk of a message whose rest never comes: held, not answered. */
	idn_put_be32(p + 8, 55);
	idn_put_be32(p + 16, 1000);
	send(fd, p, 20 + 492, 0);

	size_t len = build(p, 2, "hello", 5);
	send(fd, p, len, 0);
	size_t alen = udp_recv_msg(fd, ans, sizeof(ans), &npkts, 0);
	assert_int_equal(npkts, 1); /* the first datagram back is the answer to "hello" */
	check_inverted(ans, alen, p, len, 1);

	EVENTUALLY(s, st_.udp_drops == 5 && st_.udp_requests == 1 && st_.udp_pkts_in == 7 &&
	                  st_.udp_reasm_pending == 1);
	close(fd);
	stop(s);
}

static void test_tcp_oneshot(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	uint8_t req[128], ans[128];

	/* As the reference client: connect, send, read the answer, close. */
	for (uint32_t id = 1; id <= 20; id++) {
		int fd = client(SOCK_STREAM, "127.0.0.1", port);
		size_t len = build(req, id, "resolve me", 10);
		assert_int_equal(write_all(fd, req, len), 0);
		size_t alen = tcp_read_msg(fd, ans, sizeof(ans));
		check_inverted(ans, alen, req, len, 2);
		close(fd);
	}
	/* A big answer on a fresh connection. */
	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	size_t len = build_grow(req, 99, PROTO_MSG_MAX);
	assert_int_equal(write_all(fd, req, len), 0);
	size_t alen = tcp_read_msg(fd, big_a, sizeof(big_a));
	check_grow(big_a, alen, 99, PROTO_MSG_MAX, 2);
	/* Half-close after the request: the answer still comes, then the close. */
	len = build(req, 100, "bye", 3);
	assert_int_equal(write_all(fd, req, len), 0);
	shutdown(fd, SHUT_WR);
	alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_inverted(ans, alen, req, len, 2);
	assert_true(closed_by_peer(fd));
	close(fd);

	EVENTUALLY(s, st_.tcp_requests == 22 && st_.tcp_answers == 22 && st_.tcp_accepted == 21 &&
	                  st_.tcp_conns == 0);
	stop(s);
}

/* 100 requests in one write, answered in order; then answers far larger than the buffers. */
static void test_tcp_pipelined(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	static uint8_t reqs[100 * 128];
	size_t off = 0, lens[100], offs[100];

	for (uint32_t id = 0; id < 100; id++) {
		uint8_t body[100];
		size_t blen = 1 + id;
		for (size_t i = 0; i < blen; i++)
			body[i] = (uint8_t)(id ^ i);
		offs[id] = off;
		lens[id] = build(reqs + off, id, body, blen);
		off += lens[id];
	}
	assert_int_equal(write_all(fd, reqs, off), 0);
	for (uint32_t id = 0; id < 100; id++) {
		size_t alen = tcp_read_msg(fd, big_a, sizeof(big_a));
		check_inverted(big_a, alen, reqs + offs[id], lens[id], 2);
	}

	/*
	 * Backpressure: 40 requests for 200 KB each (8 MB) sent before reading
	 * anything. The server must stop handling while its output waits, and
	 * every answer must still come, whole and in order.
	 */
	off = 0;
	for (uint32_t id = 0; id < 40; id++)
		off += build_grow(reqs + off, 1000 + id, id % 5 == 4 ? 10 : 200000);
	assert_int_equal(write_all(fd, reqs, off), 0);
	usleep(200 * 1000);
	for (uint32_t id = 0; id < 40; id++) {
		size_t alen = tcp_read_msg(fd, big_a, sizeof(big_a));
		check_grow(big_a, alen, 1000 + id, id % 5 == 4 ? 10 : 200000, 2);
	}
	close(fd);
	stop(s);
}

/*
 * Group commit: answers to writes leave only after commit() returned 0, and
 * pipelined writes share commits; a failed commit closes the connection
 * without the answers and drops the UDP ones.
 */
static void test_group_commit(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.pending = t_pending;
	cfg.commit = t_commit;
	atomic_store(&commit_rc, 0);
	atomic_store(&n_commits, 0);
	atomic_store(&n_writes, 0);
	net_server *s = start(cfg, &port);
	uint8_t req[128], ans[128];

	/* one write: its answer comes after the commit */
	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	size_t len = build(req, 1, "WRIT one", 8);
	assert_int_equal(write_all(fd, req, len), 0);
	size_t alen = tcp_read_msg(fd, ans, sizeof(ans));
	uint64_t got = ms_now();
	check_inverted(ans, alen, req, len, 2);
	assert_int_equal(atomic_load(&n_commits), 1);
	assert_true(got >= atomic_load(&committed_ms));

	/* 64 pipelined writes and reads: all answered in order, in few commits */
	static uint8_t reqs[64 * 64];
	size_t off = 0, lens[64], offs[64];
	for (uint32_t id = 0; id < 64; id++) {
		offs[id] = off;
		lens[id] = build(reqs + off, 100 + id, id % 2 ? "WRIT x" : "read x", 6);
		off += lens[id];
	}
	assert_int_equal(write_all(fd, reqs, off), 0);
	for (uint32_t id = 0; id < 64; id++) {
		alen = tcp_read_msg(fd, ans, sizeof(ans));
		check_inverted(ans, alen, reqs + offs[id], lens[id], 2);
	}
	assert_int_equal(atomic_load(&n_writes), 33);
	assert_true(atomic_load(&n_commits) <= 1 + 8);

	/* a failed commit: no answer, the connection closes */
	atomic_store(&commit_rc, IDN_EIO);
	len = build(req, 2, "WRIT two", 8);
	assert_int_equal(write_all(fd, req, len), 0);
	assert_true(closed_by_peer(fd));
	close(fd);
	int u = client(SOCK_DGRAM, "127.0.0.1", port);
	set_timeout(u, 300);
	len = build(req, 3, "WRIT udp", 8);
	assert_int_equal(send(u, req, len, 0), (ssize_t)len);
	assert_true(recv(u, ans, sizeof(ans), 0) < 0);
	/* reads still answered, and writes again once commits succeed */
	atomic_store(&commit_rc, 0);
	set_timeout(u, TIMEOUT_MS);
	len = build(req, 4, "WRIT ok", 7);
	assert_int_equal(send(u, req, len, 0), (ssize_t)len);
	ssize_t n = recv(u, ans, sizeof(ans), 0);
	assert_true(n > 0);
	check_inverted(ans, (size_t)n, req, len, 1);
	close(u);
	EVENTUALLY(s, st_.commits >= 4 && st_.commit_fail == 2);
	stop(s);
}

/* unsaved(): an error to the same request ("LOST" + the commit's error), or < 0 when told. */
static atomic_int unsaved_rc, n_unsaved;

static int t_unsaved(void *wctx, const uint8_t *ans, size_t len, int err, uint8_t *out, size_t cap)
{
	(void)wctx;
	atomic_fetch_add(&n_unsaved, 1);
	if (atomic_load(&unsaved_rc) < 0 || len < PROTO_ENV_LEN || cap < PROTO_ENV_LEN + 8)
		return atomic_load(&unsaved_rc) < 0 ? atomic_load(&unsaved_rc) : IDN_ESPACE;
	memcpy(out, ans, PROTO_ENV_LEN);
	idn_put_be32(out + 16, 8);
	memcpy(out + PROTO_ENV_LEN, "LOST", 4);
	idn_put_be32(out + PROTO_ENV_LEN + 4, (uint32_t)err);
	return PROTO_ENV_LEN + 8;
}

/* The answer t_unsaved() makes for req after a commit failed with err. */
static void check_lost(const uint8_t *ans, size_t len, const uint8_t *req, int err)
{
	assert_int_equal(len, PROTO_ENV_LEN + 8);
	assert_int_equal(idn_be32(ans + 8), idn_be32(req + 8));
	assert_memory_equal(ans + PROTO_ENV_LEN, "LOST", 4);
	assert_int_equal((int32_t)idn_be32(ans + PROTO_ENV_LEN + 4), err);
}

/*
 * A failed group commit with unsaved(): every held answer of the turn (the
 * write's and the pipelined read's) is replaced by unsaved()'s, in order,
 * and the connection stays open for the next write; when unsaved() fails,
 * the connection closes as without it.
 */
static void test_group_commit_unsaved(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.pending = t_pending;
	cfg.commit = t_commit;
	cfg.unsaved = t_unsaved;
	atomic_store(&commit_rc, IDN_EDISK_FULL);
	atomic_store(&unsaved_rc, 0);
	atomic_store(&n_unsaved, 0);
	net_server *s = start(cfg, &port);
	uint8_t reqs[3][64], ans[128];
	size_t lens[3];
	lens[0] = build(reqs[0], 7, "WRIT full", 9);
	lens[1] = build(reqs[1], 8, "read x", 6);
	lens[2] = build(reqs[2], 9, "WRIT ok", 7);

	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	uint8_t both[128];
	memcpy(both, reqs[0], lens[0]);
	memcpy(both + lens[0], reqs[1], lens[1]);
	assert_int_equal(write_all(fd, both, lens[0] + lens[1]), 0);
	size_t alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_lost(ans, alen, reqs[0], IDN_EDISK_FULL);
	/* the read came in the same turn or the next one (then answered as usual) */
	alen = tcp_read_msg(fd, ans, sizeof(ans));
	if (alen == PROTO_ENV_LEN + 8)
		check_lost(ans, alen, reqs[1], IDN_EDISK_FULL);
	else
		check_inverted(ans, alen, reqs[1], lens[1], 2);
	assert_true(atomic_load(&n_unsaved) >= 1);

	/* space again: the next write on the same connection is answered as usual */
	atomic_store(&commit_rc, 0);
	assert_int_equal(write_all(fd, reqs[2], lens[2]), 0);
	alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_inverted(ans, alen, reqs[2], lens[2], 2);

	/* unsaved() cannot answer: the connection closes unanswered */
	atomic_store(&commit_rc, IDN_EDISK_FULL);
	atomic_store(&unsaved_rc, IDN_EINVAL);
	assert_int_equal(write_all(fd, reqs[0], lens[0]), 0);
	assert_true(closed_by_peer(fd));
	close(fd);
	atomic_store(&commit_rc, 0);
	stop(s);
}

static size_t build_later(uint8_t *buf, uint32_t request_id, const char *kind, unsigned ms)
{
	uint8_t body[8];
	memcpy(body, kind, 4);
	idn_put_be32(body + 4, ms);
	return build(buf, request_id, body, sizeof(body));
}

/*
 * Deferred answers: in request order behind the requests that wait for
 * them, the worker serving other connections meanwhile; no answer ends the
 * connection; a connection gone before its answer, and a stop with answers
 * outstanding, are handled (net_wait waits for them).
 */
static void test_tcp_deferred(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.threads = 1; /* one worker: the other connection is served by the same one */
	net_server *s = start(cfg, &port);
	uint8_t reqs[4][64], ans[128];
	size_t lens[4];

	/* pipelined: late, now, late, now - answered in that order */
	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	lens[0] = build_later(reqs[0], 1, "LATR", 400);
	lens[1] = build(reqs[1], 2, "now b", 5);
	lens[2] = build_later(reqs[2], 3, "LATR", 50);
	lens[3] = build(reqs[3], 4, "now d", 5);
	uint8_t all[256];
	size_t off = 0;
	for (int i = 0; i < 4; i++) {
		memcpy(all + off, reqs[i], lens[i]);
		off += lens[i];
	}
	uint64_t t0 = ms_now();
	assert_int_equal(write_all(fd, all, off), 0);
	/* meanwhile another connection on the same worker is answered at once */
	int fd2 = client(SOCK_STREAM, "127.0.0.1", port);
	size_t len = build(ans, 9, "other", 5);
	uint8_t other[64];
	memcpy(other, ans, len);
	assert_int_equal(write_all(fd2, other, len), 0);
	size_t alen = tcp_read_msg(fd2, ans, sizeof(ans));
	check_inverted(ans, alen, other, len, 2);
	assert_true(ms_now() - t0 < 300); /* not behind the 400 ms one */
	close(fd2);
	for (int i = 0; i < 4; i++) {
		alen = tcp_read_msg(fd, ans, sizeof(ans));
		check_inverted(ans, alen, reqs[i], lens[i], 2);
	}
	assert_true(ms_now() - t0 >= 400);

	/* no answer: the connection ends */
	len = build_later(reqs[0], 5, "LATZ", 10);
	assert_int_equal(write_all(fd, reqs[0], len), 0);
	assert_true(closed_by_peer(fd));
	close(fd);

	/* the client leaves before its answer; then a stop with one outstanding */
	fd = client(SOCK_STREAM, "127.0.0.1", port);
	len = build_later(reqs[0], 6, "LATR", 100);
	assert_int_equal(write_all(fd, reqs[0], len), 0);
	usleep(20 * 1000);
	close(fd);
	fd = client(SOCK_STREAM, "127.0.0.1", port);
	len = build_later(reqs[0], 7, "LATR", 300);
	assert_int_equal(write_all(fd, reqs[0], len), 0);
	usleep(50 * 1000);
	int before = atomic_load(&n_answered_later);
	stop(s); /* returns once the outstanding answer was given (and dropped) */
	assert_int_equal(atomic_load(&n_answered_later), atomic_load(&n_deferred));
	assert_true(atomic_load(&n_answered_later) > before);
	close(fd);
}

/* A request in 1-byte writes, then two requests split across one write boundary. */
static void test_tcp_split(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	uint8_t req[2 * 400], ans[400], body[300];

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;
	size_t len = build(req, 5, body, sizeof(body));
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(write_all(fd, req + i, 1), 0);
		if (i % 64 == 0)
			usleep(1000); /* let some bytes arrive alone */
	}
	size_t alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_inverted(ans, alen, req, len, 2);

	size_t l1 = build(req, 6, body, 100);
	size_t l2 = build(req + l1, 7, body, 200);
	assert_int_equal(write_all(fd, req, l1 + 10), 0);
	usleep(20 * 1000);
	assert_int_equal(write_all(fd, req + l1 + 10, l2 - 10), 0);
	alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_inverted(ans, alen, req, l1, 2);
	alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_inverted(ans, alen, req + l1, l2, 2);
	close(fd);
	stop(s);
}

/* An announced length over max_msg closes that connection only. */
static void test_tcp_oversized(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.max_msg = 4096;
	net_server *s = start(cfg, &port);
	int other = client(SOCK_STREAM, "127.0.0.1", port);
	int bad = client(SOCK_STREAM, "127.0.0.1", port);
	int udp = client(SOCK_DGRAM, "127.0.0.1", port);
	uint8_t req[64], ans[8192];
	int npkts;

	/* The handler sees the envelope alone and answers; then the close. */
	build(req, 1, NULL, 0);
	idn_put_be32(req + 16, 4097);
	assert_int_equal(write_all(bad, req, PROTO_ENV_LEN), 0);
	size_t alen = tcp_read_msg(bad, ans, sizeof(ans));
	assert_int_equal(alen, PROTO_ENV_LEN);
	assert_int_equal(idn_be32(ans + 8), 1);
	assert_true(closed_by_peer(bad));
	close(bad);

	/*
	 * A good request then garbage (0xFF..: length 0xFFFFFFFF): the answer,
	 * the answer to the garbage's envelope, then the close.
	 */
	bad = client(SOCK_STREAM, "127.0.0.1", port);
	size_t glen = build(ans, 11, "good", 4);
	memset(ans + glen, 0xFF, 100);
	assert_int_equal(write_all(bad, ans, glen + 100), 0);
	memcpy(req, ans, glen);
	alen = tcp_read_msg(bad, ans, sizeof(ans));
	check_inverted(ans, alen, req, glen, 2);
	alen = tcp_read_msg(bad, ans, sizeof(ans));
	assert_int_equal(alen, PROTO_ENV_LEN);
	assert_int_equal(idn_be32(ans + 8), 0xFFFFFFFF);
	assert_true(closed_by_peer(bad));
	close(bad);

	/* The limit itself is fine. */
	static uint8_t max_req[PROTO_ENV_LEN + 4096];
	memset(max_req + PROTO_ENV_LEN, 0xAB, 4096);
	size_t len = build(max_req, 2, max_req + PROTO_ENV_LEN, 4096);
	assert_int_equal(write_all(other, max_req, len), 0);
	alen = tcp_read_msg(other, ans, sizeof(ans));
	check_inverted(ans, alen, max_req, len, 2);

	len = build(req, 3, "udp", 3);
	send(udp, req, len, 0);
	alen = udp_recv_msg(udp, ans, sizeof(ans), &npkts, 0);
	check_inverted(ans, alen, req, len, 1);

	/* Over UDP, the same limit drops the datagram. */
	idn_put_be32(max_req + 16, 4097);
	send(udp, max_req, 20 + 492, 0);
	len = build(req, 4, "udp", 3);
	send(udp, req, len, 0);
	alen = udp_recv_msg(udp, ans, sizeof(ans), &npkts, 0);
	check_inverted(ans, alen, req, len, 1);

	EVENTUALLY(s, st_.tcp_drops == 2 && st_.udp_drops == 1);
	close(other);
	close(udp);
	stop(s);
}

/* "NONE" sends nothing and keeps the connection; "FAIL" closes it. */
static void test_tcp_handler_results(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	uint8_t req[256], ans[256];

	size_t l1 = build(req, 1, "NONE", 4);
	size_t l2 = build(req + l1, 2, "next", 4);
	assert_int_equal(write_all(fd, req, l1 + l2), 0);
	size_t alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_inverted(ans, alen, req + l1, l2, 2);

	/* A good request, a failing one, another good one, in one write: the first is
	 * answered, the rest is not, and the connection is closed. */
	l1 = build(req, 3, "good", 4);
	l2 = build(req + l1, 4, "FAIL", 4);
	size_t l3 = build(req + l1 + l2, 5, "late", 4);
	assert_int_equal(write_all(fd, req, l1 + l2 + l3), 0);
	alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_inverted(ans, alen, req, l1, 2);
	assert_true(closed_by_peer(fd));
	close(fd);
	EVENTUALLY(s, st_.tcp_drops == 1 && st_.tcp_conns == 0);
	stop(s);
}

/* An answer of several whole messages goes out whole; one whose envelopes lie ends the connection.
 */
static void test_tcp_multi_message_answer(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	uint8_t req[256], ans[256];

	size_t l1 = build(req, 7, "TWO!", 4);
	size_t l2 = build(req + l1, 8, "next", 4);
	assert_int_equal(write_all(fd, req, l1 + l2), 0);
	for (int k = 0; k < 2; k++) {
		size_t alen = tcp_read_msg(fd, ans, sizeof(ans));
		assert_int_equal(alen, PROTO_ENV_LEN + 4);
		assert_int_equal(idn_be32(ans + 8), 7);
		assert_memory_equal(ans + PROTO_ENV_LEN, k ? "two!" : "one!", 4);
	}
	size_t alen = tcp_read_msg(fd, ans, sizeof(ans)); /* the connection goes on */
	check_inverted(ans, alen, req + l1, l2, 2);

	l1 = build(req, 9, "LIE!", 4);
	assert_int_equal(write_all(fd, req, l1), 0);
	assert_true(closed_by_peer(fd));
	close(fd);
	EVENTUALLY(s, st_.tcp_drops == 1 && st_.tcp_conns == 0);
	stop(s);
}

static void test_tcp_idle_timeout(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.tcp_idle_ms = 300;
	net_server *s = start(cfg, &port);
	uint8_t req[64], ans[64];

	/* A silent connection goes after ~300 ms. */
	uint64_t t0 = ms_now();
	int idle = client(SOCK_STREAM, "127.0.0.1", port);
	assert_true(closed_by_peer(idle));
	uint64_t waited = ms_now() - t0;
	assert_true(waited >= 250 && waited < 2000);
	close(idle);

	/* A busy one stays: a request every 100 ms for a second. */
	int busy = client(SOCK_STREAM, "127.0.0.1", port);
	for (uint32_t id = 0; id < 10; id++) {
		size_t len = build(req, id, "ping", 4);
		assert_int_equal(write_all(busy, req, len), 0);
		size_t alen = tcp_read_msg(busy, ans, sizeof(ans));
		check_inverted(ans, alen, req, len, 2);
		usleep(100 * 1000);
	}
	assert_true(closed_by_peer(busy)); /* idle in its turn now */
	close(busy);
	EVENTUALLY(s, st_.tcp_closed_idle == 2);
	stop(s);
}

static void test_tcp_conn_limit(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.threads = 1; /* room is made on the worker the newcomer reaches */
	cfg.max_tcp_conns = 4;
	net_server *s = start(cfg, &port);
	uint8_t req[64], ans[64];
	int fds[4];

	for (int i = 0; i < 4; i++) {
		fds[i] = client(SOCK_STREAM, "127.0.0.1", port);
		size_t len = build(req, (uint32_t)i, "hi", 2);
		assert_int_equal(write_all(fds[i], req, len), 0);
		assert_true(tcp_read_msg(fds[i], ans, sizeof(ans)) > 0);
	}
	EVENTUALLY(s, st_.tcp_conns == 4);
	/* At the cap the newcomer is served: an idle one made room (test_net_conn.c: which). */
	int extra = client(SOCK_STREAM, "127.0.0.1", port);
	size_t elen = build(req, 8, "extra", 5);
	assert_int_equal(write_all(extra, req, elen), 0);
	assert_true(tcp_read_msg(extra, ans, sizeof(ans)) > 0);
	close(extra);
	EVENTUALLY(s, st_.tcp_conns <= 4);
	assert_int_equal(stats(s).tcp_refused, 0);

	/* Once one closes, a new connection is served. */
	close(fds[0]);
	int served = 0;
	for (int attempt = 0; attempt < 50 && !served; attempt++) {
		usleep(20 * 1000);
		if (stats(s).tcp_conns > 3)
			continue;
		int fd = client(SOCK_STREAM, "127.0.0.1", port);
		size_t len = build(req, 9, "again", 5);
		if (write_all(fd, req, len) == 0 && tcp_read_msg(fd, ans, sizeof(ans)) > 0)
			served = 1;
		close(fd);
	}
	assert_true(served);
	for (int i = 1; i < 4; i++)
		close(fds[i]);
	stop(s);
}

/* Stop with connections open: workers exit, contexts are finished, sockets closed. */
static void test_clean_stop(void **state)
{
	(void)state;
	unsigned port;
	net_config cfg = base_cfg();
	cfg.threads = 3;
	atomic_store(&n_init, 0);
	atomic_store(&n_fini, 0);
	net_server *s = start(cfg, &port);
	assert_int_equal(net_threads(s), 3);
	assert_int_equal(atomic_load(&n_init), 3);
	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	uint8_t req[64], ans[64];
	size_t len = build(req, 1, "x", 1);
	assert_int_equal(write_all(fd, req, len), 0);
	assert_true(tcp_read_msg(fd, ans, sizeof(ans)) > 0);

	net_stop(s);
	net_stop(s); /* idempotent */
	assert_int_equal(net_wait(s), 0);
	assert_int_equal(atomic_load(&n_fini), 3);
	assert_true(closed_by_peer(fd));
	close(fd);

	/* The port is free again: nothing is left bound. */
	char spec[32];
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
	const char *l[] = {spec};
	cfg.listen = l;
	net_server *s2 = start(cfg, &port);
	stop(s2);
}

static pthread_t main_thread;

static void *send_sigterm(void *arg)
{
	(void)arg;
	usleep(100 * 1000);
	pthread_kill(main_thread, SIGTERM);
	return NULL;
}

static void test_run_until_signal(void **state)
{
	(void)state;
	unsigned port;
	sigset_t set, old;

	/* Blocked before the helper exists, so no thread can take the default action. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	net_server *s = start(base_cfg(), &port);
	main_thread = pthread_self();
	pthread_t t;
	pthread_create(&t, NULL, send_sigterm, NULL);
	uint64_t t0 = ms_now();
	assert_int_equal(net_run_until_signal(s), 0);
	assert_true(ms_now() - t0 < TIMEOUT_MS);
	pthread_join(t, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void test_bad_config(void **state)
{
	(void)state;
	net_server *s = NULL;
	net_config cfg = base_cfg();
	cfg.errbuf = errbuf;
	cfg.errbuf_len = sizeof(errbuf);
	static const char *bad[] = {"1.2.3.4.5:80", "[::1:80", "127.0.0.1:99999",
	                            "127.0.0.1",    "::1:80",  "127.0.0.1:x"};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *l[] = {bad[i]};
		cfg.listen = l;
		errbuf[0] = '\0';
		assert_int_equal(net_start(&cfg, &s), IDN_ECONFIG);
		assert_null(s);
		assert_non_null(strstr(errbuf, bad[i]));
	}
	cfg.listen = NULL;
	assert_int_equal(net_start(&cfg, &s), IDN_EINVAL);

	/* A port in use by another server: an error naming the address, not a shared port. */
	unsigned port;
	net_server *s1 = start(base_cfg(), &port);
	char spec[32];
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
	const char *l[] = {spec};
	cfg.listen = l;
	errbuf[0] = '\0';
	assert_true(net_start(&cfg, &s) < 0);
	assert_non_null(strstr(errbuf, spec));
	assert_non_null(strstr(errbuf, "in use"));

	/* worker_init failing fails the start. */
	cfg = base_cfg();
	cfg.worker_init = NULL;
	cfg.arg = NULL;
	assert_int_equal(net_start(&cfg, &s), 0);
	stop(s);
	stop(s1);
}

static void *fail_init(void *arg, unsigned idx)
{
	return idx == 1 ? NULL : t_worker_init(arg, idx);
}

static void test_worker_init_fails(void **state)
{
	(void)state;
	net_server *s = NULL;
	net_config cfg = base_cfg();
	cfg.worker_init = fail_init;
	atomic_store(&n_init, 0);
	atomic_store(&n_fini, 0);
	assert_int_equal(net_start(&cfg, &s), IDN_ECONFIG);
	assert_null(s);
	assert_int_equal(atomic_load(&n_fini), atomic_load(&n_init));
}

/* ":0": 0.0.0.0 and [::]; answers leave from the address asked (pktinfo). */
static void test_wildcard(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start_wildcard(&port);
	uint8_t req[64], ans[64];
	int npkts;
	const char *ips[] = {"127.0.0.1", "::1"};

	for (int k = 0; k < 2; k++) {
		if (k == 1 && !ipv6_loopback())
			break;
		/* A connected UDP socket accepts only answers from the address it asked. */
		int u = client(SOCK_DGRAM, ips[k], port);
		size_t len = build(req, 1, "wild", 4);
		send(u, req, len, 0);
		size_t alen = udp_recv_msg(u, ans, sizeof(ans), &npkts, 0);
		check_inverted(ans, alen, req, len, 1);
		close(u);
		int t = client(SOCK_STREAM, ips[k], port);
		assert_int_equal(write_all(t, req, len), 0);
		alen = tcp_read_msg(t, ans, sizeof(ans));
		check_inverted(ans, alen, req, len, 2);
		close(t);
	}
	stop(s);
}

/*
 * The receive headers are set again after a batch only where the kernel
 * wrote to them (udp_io.c): bursts of 1 to 12 datagrams on a wildcard
 * listener (pktinfo), IPv4 and IPv6 in turn, each burst with an oversized
 * datagram (dropped, MSG_TRUNC) in its middle, every other answer intact.
 */
static void test_udp_batches(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start_wildcard(&port);
	const char *ips[] = {"127.0.0.1", "::1"};
	bool v6 = ipv6_loopback();
	uint8_t req[64], ans[64];
	static uint8_t huge[3000];
	uint64_t sent = 0, dropped = 0;
	int npkts;

	for (uint32_t burst = 1; burst <= 12; burst++) {
		for (int k = 0; k < (v6 ? 2 : 1); k++) {
			int u = client(SOCK_DGRAM, ips[k], port);
			for (uint32_t i = 0; i < burst; i++) {
				if (i == burst / 2) {
					assert_int_equal(send(u, huge, sizeof(huge), 0),
					                 (ssize_t)sizeof(huge));
					dropped++;
				}
				size_t len = build(req, burst << 8 | i, &i, sizeof(i));
				assert_int_equal(send(u, req, len, 0), (ssize_t)len);
			}
			for (uint32_t i = 0; i < burst; i++) {
				size_t len = build(req, burst << 8 | i, &i, sizeof(i));
				size_t alen = udp_recv_msg(u, ans, sizeof(ans), &npkts, 0);
				check_inverted(ans, alen, req, len, 1);
			}
			sent += burst;
			close(u);
		}
	}
	EVENTUALLY(s, st_.udp_answers == sent && st_.udp_drops == dropped);
	stop(s);
}

/* Many clients at once over both transports: counters add up, nothing is lost. */
struct load_arg {
	unsigned port;
	int id;
	int ok;
};

static void *load_client(void *p)
{
	struct load_arg *a = p;
	uint8_t req[128], ans[128];
	int fd = a->id % 2 ? client(SOCK_STREAM, "127.0.0.1", a->port)
	                   : client(SOCK_DGRAM, "127.0.0.1", a->port);
	int npkts;
	a->ok = 0;
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t rid = (uint32_t)a->id << 16 | i;
		size_t len = build(req, rid, &rid, 4);
		size_t alen;
		if (a->id % 2) {
			if (write_all(fd, req, len) < 0)
				break;
			alen = tcp_read_msg(fd, ans, sizeof(ans));
		} else {
			send(fd, req, len, 0);
			alen = udp_recv_msg(fd, ans, sizeof(ans), &npkts, 0);
		}
		if (alen != len || idn_be32(ans + 8) != rid)
			break;
		a->ok++;
	}
	close(fd);
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	pthread_t t[8];
	struct load_arg a[8];

	for (int i = 0; i < 8; i++) {
		a[i] = (struct load_arg){.port = port, .id = i};
		pthread_create(&t[i], NULL, load_client, &a[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].ok, 200);
	}
	EVENTUALLY(s, st_.udp_requests + st_.tcp_requests == 1600 &&
	                  st_.udp_answers + st_.tcp_answers == 1600);
	assert_true(atomic_load(&n_batches) > 0);
	stop(s);
}

static size_t build_parts(uint8_t *buf, uint32_t request_id, uint32_t parts, uint32_t size)
{
	uint8_t body[12] = {'P', 'A', 'R', 'T'};
	idn_put_be32(body + 4, parts);
	idn_put_be32(body + 8, size);
	return build(buf, request_id, body, sizeof(body));
}

/*
 * net_more: a long answer goes out in parts as the client reads them, in
 * order, and the request pipelined behind it is answered after its last
 * part; a client that stops reading stops the parts (a bounded number is
 * made), and closing ends the answer (done called once each time).
 */
static void test_tcp_parts(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = start(base_cfg(), &port);
	uint8_t req[256], ans[128];
	atomic_store(&n_more_calls, 0);
	atomic_store(&n_more_done, 0);

	int fd = client(SOCK_STREAM, "127.0.0.1", port);
	size_t len = build_parts(req, 7, 40, 200000);
	size_t len2 = build(req + len, 8, "after", 5);
	assert_int_equal(write_all(fd, req, len + len2), 0);
	for (uint32_t k = 0; k < 40; k++) {
		size_t alen = tcp_read_msg(fd, big_a, sizeof(big_a));
		assert_int_equal(alen, PROTO_ENV_LEN + 200000);
		assert_int_equal(idn_be32(big_a + 8), 7);
		assert_int_equal(idn_be32(big_a + PROTO_ENV_LEN), k);
		for (size_t i = 4; i < 200000; i += 997)
			assert_int_equal(big_a[PROTO_ENV_LEN + i], pattern(k, i));
	}
	size_t alen = tcp_read_msg(fd, ans, sizeof(ans));
	check_inverted(ans, alen, req + len, len2, 2);
	assert_int_equal(atomic_load(&n_more_calls), 39);
	assert_int_equal(atomic_load(&n_more_done), 1);
	close(fd);

	uint64_t paused = limit_count(LIM_ANSWER_STREAM);
	/* 200 MB asked for, nothing read: the parts stop (kernel buffers + the high mark). */
	fd = client(SOCK_STREAM, "127.0.0.1", port);
	len = build_parts(req, 9, 1000, 200000);
	assert_int_equal(write_all(fd, req, len), 0);
	struct timespec pause = {0, 500 * 1000 * 1000};
	nanosleep(&pause, NULL);
	int made = atomic_load(&n_more_calls) - 39;
	assert_true(made > 0 && made < 100);
	nanosleep(&pause, NULL);
	assert_int_equal(atomic_load(&n_more_calls) - 39, made);
	/* A reader that stopped: counted once (answer-stream). */
	assert_int_equal(limit_count(LIM_ANSWER_STREAM), paused + 1);
	close(fd);
	EVENTUALLY(s, st_.tcp_conns == 0);
	assert_int_equal(atomic_load(&n_more_done), 2);
	stop(s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_udp_single),
	    cmocka_unit_test(test_udp_multi_answer),
	    cmocka_unit_test(test_udp_multi_request),
	    cmocka_unit_test(test_udp_gso_same_datagrams),
	    cmocka_unit_test(test_udp_gso_bad_peer),
	    cmocka_unit_test(test_udp_gso_pktinfo),
	    cmocka_unit_test(test_udp_garbage),
	    cmocka_unit_test(test_udp_budget),
	    cmocka_unit_test(test_udp_rate),
	    cmocka_unit_test(test_tcp_oneshot),
	    cmocka_unit_test(test_tcp_pipelined),
	    cmocka_unit_test(test_tcp_split),
	    cmocka_unit_test(test_group_commit),
	    cmocka_unit_test(test_group_commit_unsaved),
	    cmocka_unit_test(test_tcp_deferred),
	    cmocka_unit_test(test_tcp_oversized),
	    cmocka_unit_test(test_tcp_handler_results),
	    cmocka_unit_test(test_tcp_multi_message_answer),
	    cmocka_unit_test(test_tcp_idle_timeout),
	    cmocka_unit_test(test_tcp_conn_limit),
	    cmocka_unit_test(test_clean_stop),
	    cmocka_unit_test(test_run_until_signal),
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_worker_init_fails),
	    cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_udp_batches),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_tcp_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
