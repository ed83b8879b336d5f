/*
 * test_net_conn.c - how the Handle TCP server keeps its connections under
 * attack: the deadline of a request (tcp_message_ms), which connection makes
 * room at the cap (eviction), the share of one source, running out of file
 * descriptors; and the per-source table of the connection budget.
 *
 * The handler sends each request back as its answer, except "HOLD", which
 * it defers (net_defer) until the test answers it: a request in flight.
 * Servers listen on 127.0.0.1:0; clients have receive timeouts and every
 * loop a count bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/limit.h"
#include "core/wire.h"
#include "net/common.h"
#include "net/http.h"
#include "net/net.h"
#include "proto/proto.h"

enum { WAIT_MS = 3000, MAX_HELD = 512 };

static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static net_later *held[MAX_HELD];
static unsigned nheld;

static int echo(void *wctx, const net_req *req, uint8_t *out, size_t cap)
{
	(void)wctx;
	if (req->len >= PROTO_ENV_LEN + 4 && !memcmp(req->msg + PROTO_ENV_LEN, "HOLD", 4)) {
		net_later *l = net_defer(req);
		pthread_mutex_lock(&held_mu);
		if (l && nheld < MAX_HELD)
			held[nheld++] = l;
		else if (l)
			net_answer(l, NULL, 0);
		pthread_mutex_unlock(&held_mu);
		return 0;
	}
	if (req->len > cap)
		return -1;
	memcpy(out, req->msg, req->len);
	return (int)req->len;
}

/* Ends every deferred request: their connections close. */
static void release_held(void)
{
	pthread_mutex_lock(&held_mu);
	for (unsigned i = 0; i < nheld; i++)
		net_answer(held[i], NULL, 0);
	nheld = 0;
	pthread_mutex_unlock(&held_mu);
}

static const char *lo[] = {"127.0.0.1:0"};

static net_server *serve(net_config cfg, unsigned *port)
{
	static char err[256];
	net_server *s = NULL;
	cfg.listen = lo;
	cfg.nlisten = 1;
	cfg.threads = 1;
	cfg.handle = echo;
	cfg.errbuf = err;
	cfg.errbuf_len = sizeof(err);
	assert_int_equal(net_start(&cfg, &s), 0);
	*port = net_bound_port(s, 0);
	return s;
}

static void finish(net_server *s)
{
	release_held();
	net_stop(s);
	assert_int_equal(net_wait(s), 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A TCP connection from address `from` (127.0.0.x) to port; -1 when refused. */
static int dial(const char *from, unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, from, &a.sin_addr);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A request whose message is body: envelope + body. */
static size_t frame(uint8_t *buf, const char *body)
{
	size_t n = strlen(body);
	proto_env env = {2, 5, 0, 0, 0, 7, 0, (uint32_t)n};
	proto_env_encode(&env, buf);
	memcpy(buf + PROTO_ENV_LEN, body, n);
	return PROTO_ENV_LEN + n;
}

/* Sends one request and reads its echo: whether the connection served it. */
static bool ask(int fd, const char *body)
{
	uint8_t req[128], ans[128];
	size_t n = frame(req, body);
	if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
		return false;
	size_t got = 0;
	while (got < n) {
		ssize_t k = recv(fd, ans + got, n - got, 0);
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return !memcmp(ans, req, n);
}

/* Whether the server has closed fd (EOF or reset) within WAIT_MS. */
static bool gone(int fd)
{
	uint8_t b[64];
	ssize_t k = recv(fd, b, sizeof(b), 0);
	return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Whether fd is still open on the server's side right now (no EOF waiting). */
static bool open_now(int fd)
{
	uint8_t b[64];
	ssize_t k = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/*
 * At the cap, the newcomer is admitted and the connection that made progress
 * longest ago goes; bytes of a request trickled in are not progress.
 */
static void test_evicts_least_progress(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = serve((net_config){.max_tcp_conns = 4}, &port);
	uint64_t evicted = limit_count(LIM_CONN_EVICTED);
	int c[4];
	uint8_t req[64];
	frame(req, "partial");

	c[0] = dial("127.0.0.1", port);
	assert_true(ask(c[0], "a"));
	usleep(30000);
	c[1] = dial("127.0.0.1", port);
	assert_true(ask(c[1], "b"));
	usleep(30000);
	c[2] = dial("127.0.0.1", port); /* the slow one: a request never finished */
	assert_int_equal(send(c[2], req, 5, 0), 5);
	usleep(30000);
	c[3] = dial("127.0.0.1", port);
	assert_true(ask(c[3], "d"));
	usleep(30000);
	assert_true(ask(c[0], "a again")); /* c[0] made progress last */
	/* The slow one trickles on: not progress. */
	for (int i = 5; i < 9; i++) {
		assert_int_equal(send(c[2], req + i, 1, 0), 1);
		usleep(10000);
	}

	int x = dial("127.0.0.1", port);
	assert_true(ask(x, "newcomer"));
	assert_true(gone(c[1])); /* least recent progress */
	assert_true(open_now(c[0]) && open_now(c[2]) && open_now(c[3]));
	int y = dial("127.0.0.1", port);
	assert_true(ask(y, "another"));
	assert_true(gone(c[2])); /* the trickler, though it sent a byte 10 ms ago */
	assert_true(open_now(c[0]) && open_now(c[3]) && open_now(x));
	assert_int_equal(limit_count(LIM_CONN_EVICTED) - evicted, 2);

	/* A connection with a request in flight is never the one to go. */
	assert_int_equal(send(c[0], req, frame(req, "HOLD"), 0), PROTO_ENV_LEN + 4);
	usleep(30000);
	assert_true(ask(c[3], "d again"));
	assert_true(ask(x, "x again"));
	assert_true(ask(y, "y again"));
	int z = dial("127.0.0.1", port);
	assert_true(ask(z, "z"));
	assert_true(open_now(c[0]));
	assert_true(gone(c[3]));
	for (int i = 0; i < 4; i++)
		close(c[i]);
	close(x);
	close(y);
	close(z);
	finish(s);
}

/*
 * A request must be whole tcp_message_ms after its first byte, however it
 * trickles; the idle time between requests is tcp_idle_ms.
 */
static void test_message_deadline(void **state)
{
	(void)state;
	unsigned port;
	net_server *s = serve((net_config){.tcp_message_ms = 400, .tcp_idle_ms = 5000}, &port);
	uint64_t hits = limit_count(LIM_MSG_DEADLINE);
	uint8_t req[64];
	size_t n = frame(req, "slowly, slowly");

	int slow = dial("127.0.0.1", port);
	int steady = dial("127.0.0.1", port);
	uint64_t t0 = now_ms();
	bool closed = false;
	for (size_t i = 0; i < n && !closed; i++) {
		if (send(slow, req + i, 1, MSG_NOSIGNAL) != 1)
			closed = true;
		closed = closed || !open_now(slow);
		assert_true(ask(steady, "steady")); /* each answered in between */
		usleep(50000);
	}
	if (!closed)
		assert_true(gone(slow));
	uint64_t took = now_ms() - t0;
	assert_true(took >= 350 && took < 1500);
	assert_int_equal(limit_count(LIM_MSG_DEADLINE) - hits, 1);
	/* The steady one, idle between its requests, stays. */
	usleep(300000);
	assert_true(ask(steady, "still here"));
	close(slow);
	close(steady);
	finish(s);
}

/* One source holds per_source connections at most; others are not affected. */
static void test_per_source(void **state)
{
	(void)state;
	net_conn_budget b = {0};
	assert_int_equal(net_budget_init(&b, 0, 3, 64), 0);
	unsigned port;
	net_server *s = serve((net_config){.budget = &b}, &port);
	uint64_t hits = limit_count(LIM_CONN_PER_SOURCE);
	int c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = dial("127.0.0.2", port);
		assert_true(ask(c[i], "mine"));
	}
	int extra = dial("127.0.0.2", port);
	assert_true(extra < 0 || gone(extra));
	if (extra >= 0)
		close(extra);
	assert_int_equal(limit_count(LIM_CONN_PER_SOURCE) - hits, 1);
	int other = dial("127.0.0.3", port);
	assert_true(ask(other, "another source"));
	/* One closes: the source may connect again. */
	close(c[0]);
	bool again = false;
	for (int i = 0; i < 50 && !again; i++) {
		usleep(20000);
		int fd = dial("127.0.0.2", port);
		again = fd >= 0 && ask(fd, "again");
		if (fd >= 0 && !again)
			close(fd);
		else if (again)
			c[0] = fd;
	}
	assert_true(again);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	close(other);
	finish(s);
	net_budget_fini(&b);
}

/* The table itself: many sources come and go, each keeps its own count. */
static void test_source_table(void **state)
{
	(void)state;
	net_conn_budget b = {0};
	assert_int_equal(net_budget_init(&b, 0, 2, 500), 0);
	struct sockaddr_storage ss[400];
	for (int i = 0; i < 400; i++) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss[i];
		memset(&ss[i], 0, sizeof(ss[i]));
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i * 7919u);
		assert_true(net_budget_src_take(&b, &ss[i]));
	}
	for (int i = 0; i < 400; i++)
		assert_true(net_budget_src_take(&b, &ss[i]));
	for (int i = 0; i < 400; i++)
		assert_false(net_budget_src_take(&b, &ss[i]));
	/* Every other source leaves entirely: the rest keep their counts. */
	for (int i = 0; i < 400; i += 2) {
		net_budget_src_give(&b, &ss[i]);
		net_budget_src_give(&b, &ss[i]);
	}
	for (int i = 0; i < 400; i++)
		assert_true(net_budget_src_take(&b, &ss[i]) == (i % 2 == 0));
	/* An IPv6 /64 is one source. */
	struct sockaddr_in6 v6a = {.sin6_family = AF_INET6}, v6b = v6a, v6c = v6a;
	inet_pton(AF_INET6, "2001:db8:1:2::1", &v6a.sin6_addr);
	inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &v6b.sin6_addr);
	inet_pton(AF_INET6, "2001:db8:1:3::1", &v6c.sin6_addr);
	assert_true(net_budget_src_take(&b, (struct sockaddr_storage *)&v6a));
	assert_true(net_budget_src_take(&b, (struct sockaddr_storage *)&v6b));
	assert_false(net_budget_src_take(&b, (struct sockaddr_storage *)&v6a));
	assert_true(net_budget_src_take(&b, (struct sockaddr_storage *)&v6c));
	net_budget_fini(&b);
}

static int http_ok(void *wctx, const http_req *req, http_resp *resp)
{
	(void)wctx;
	(void)req;
	http_resp_puts(resp, "ok");
	return 0;
}

/*
 * --max-connections spent by idle HTTP connections: a Handle client is still
 * served, and the HTTP server gives one back (the budget's debt).
 */
static void test_budget_shared_fairly(void **state)
{
	(void)state;
	net_conn_budget b = {0};
	assert_int_equal(net_budget_init(&b, 4, 0, 0), 0);
	unsigned port;
	net_server *s = serve((net_config){.budget = &b}, &port);
	static const char *hl[] = {"127.0.0.1:0"};
	http_config hc = {
	    .listen = hl, .nlisten = 1, .threads = 1, .budget = &b, .handle = http_ok, .arg = &b};
	http_server *h = NULL;
	assert_int_equal(http_start(&hc, &h), 0);
	unsigned hport = http_bound_port(h, 0);
	int idle[4];
	for (int i = 0; i < 4; i++)
		assert_true((idle[i] = dial("127.0.0.1", hport)) >= 0);
	usleep(100000);
	assert_int_equal(atomic_load(&b.open), 4);

	int c = dial("127.0.0.1", port);
	assert_true(ask(c, "over the budget, not refused"));
	int closed = 0;
	for (int i = 0; i < 4; i++) {
		struct timeval tv = {.tv_sec = 1};
		setsockopt(idle[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		closed += gone(idle[i]);
	}
	assert_int_equal(closed, 1); /* the debt paid by the HTTP server */
	assert_int_equal(atomic_load(&b.open), 4);
	assert_int_equal(atomic_load(&b.debt[NET_BUDGET_HTTP]), 0);
	for (int i = 0; i < 4; i++)
		close(idle[i]);
	close(c);
	http_stop(h);
	assert_int_equal(http_wait(h), 0);
	finish(s);
	net_budget_fini(&b);
}

/* A listener on 127.0.0.1:port in the SO_REUSEPORT group there (0: pick one). */
static int group_listener(unsigned *port)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	*port = net_sock_port(fd);
	return fd;
}

/*
 * Two nodes whose probes passed at the same instant both join one
 * SO_REUSEPORT group: each sees a listener there that is not its own.
 */
static void test_listen_shared(void **state)
{
	(void)state;
	unsigned port = 0;
	int mine = group_listener(&port);
	struct net_addr a[2];
	unsigned na, p;
	char spec[32];
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
	assert_int_equal(net_listen_parse("", NULL, 0, spec, false, a, &na, &p), 0);
	assert_false(net_listen_shared(&a[0], port, &mine, 1));
	int theirs = group_listener(&port);
	assert_true(net_listen_shared(&a[0], port, &mine, 1));
	int both[2] = {mine, theirs};
	assert_false(net_listen_shared(&a[0], port, both, 2));
	/* A wildcard listener of the family on the port is shared with too. */
	close(theirs);
	snprintf(spec, sizeof(spec), ":%u", port);
	assert_int_equal(net_listen_parse("", NULL, 0, spec, false, a, &na, &p), 0);
	assert_true(net_listen_shared(&a[0], port, NULL, 0));
	close(mine);
	assert_false(net_listen_shared(&a[0], port, NULL, 0));
}

static uint64_t cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/*
 * Out of descriptors with every connection busy (a request in flight, so
 * none may go): the listener sheds newcomers and rests instead of spinning,
 * says so, and serves again once descriptors are free.
 */
static void test_out_of_descriptors(void **state)
{
	(void)state;
	struct rlimit old;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	unsigned port;
	net_server *s = serve((net_config){0}, &port);
	uint64_t hits = limit_count(LIM_FD_EXHAUSTED);
	int fds[200], n = 0;
	int probe = dup(0);
	struct rlimit low = {(rlim_t)probe + 60, old.rlim_max};
	close(probe);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	uint8_t req[64];
	size_t len = frame(req, "HOLD");
	while (n < 200) {
		int fd = dial("127.0.0.1", port);
		if (fd < 0)
			break;
		fds[n++] = fd;
		if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
			break;
		usleep(2000);
	}
	assert_true(n < 200);
	usleep(200000);
	uint64_t c0 = cpu_ms(), t0 = now_ms();
	usleep(1000000);
	uint64_t cpu = cpu_ms() - c0, wall = now_ms() - t0;
	print_message("out of descriptors: %d connections, %llu ms of CPU in %llu ms\n", n,
	              (unsigned long long)cpu, (unsigned long long)wall);
	assert_true(cpu < wall / 4);
	assert_true(limit_count(LIM_FD_EXHAUSTED) > hits);

	release_held();
	for (int i = 0; i < n; i++)
		close(fds[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	bool served = false;
	for (int i = 0; i < 100 && !served; i++) {
		int fd = dial("127.0.0.1", port);
		served = fd >= 0 && ask(fd, "back");
		if (fd >= 0)
			close(fd);
		if (!served)
			usleep(20000);
	}
	assert_true(served);
	finish(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_evicts_least_progress),
	    cmocka_unit_test(test_message_deadline),
	    cmocka_unit_test(test_per_source),
	    cmocka_unit_test(test_source_table),
	    cmocka_unit_test(test_out_of_descriptors),
	    cmocka_unit_test(test_budget_shared_fairly),
	    cmocka_unit_test(test_listen_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
