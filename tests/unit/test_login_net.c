/*
 * test_login_net.c - net's connection ids and close reports, which logins
 * (op 2001) are bound to: every TCP connection gets its own id (UDP 0), and
 * its close is reported exactly once, on the worker that owned it, whoever
 * closes it (the client, or net_wait at the end).
 *
 * Loopback only; every socket has a receive timeout and every wait loop a
 * bound in count and time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/wire.h"
#include "net/net.h"
#include "proto/proto.h"

enum { NCONN = 6, MAXREP = 64, TIMEOUT_MS = 3000 };

/* The close reports: (id, worker) in the order they came. */
static pthread_mutex_t rep_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rep_id[MAXREP];
static unsigned rep_worker[MAXREP];
static unsigned nrep;
static atomic_int fini_done[8], reports_after_fini;

struct wctx {
	unsigned idx;
};

static void *w_init(void *arg, unsigned idx)
{
	(void)arg;
	struct wctx *c = calloc(1, sizeof(*c));
	c->idx = idx;
	return c;
}

static void w_fini(void *wctx)
{
	struct wctx *c = wctx;
	atomic_store(&fini_done[c->idx % 8], 1);
	free(wctx);
}

static void w_closed(void *wctx, uint64_t id)
{
	struct wctx *c = wctx;
	if (atomic_load(&fini_done[c->idx % 8]))
		atomic_fetch_add(&reports_after_fini, 1);
	pthread_mutex_lock(&rep_lock);
	if (nrep < MAXREP) {
		rep_id[nrep] = id;
		rep_worker[nrep] = c->idx;
	}
	nrep++;
	pthread_mutex_unlock(&rep_lock);
}

/* Answers the envelope, then u64 conn id and u32 worker index as the message. */
static int w_handle(void *wctx, const net_req *req, uint8_t *out, size_t cap)
{
	struct wctx *c = wctx;
	proto_env env;
	if (cap < PROTO_ENV_LEN + 12 || proto_env_decode(req->msg, req->len, &env))
		return -1;
	env.msg_len = 12;
	proto_env_encode(&env, out);
	idn_put_be32(out + PROTO_ENV_LEN, (uint32_t)(req->conn_id >> 32));
	idn_put_be32(out + PROTO_ENV_LEN + 4, (uint32_t)req->conn_id);
	idn_put_be32(out + PROTO_ENV_LEN + 8, c->idx);
	return PROTO_ENV_LEN + 12;
}

static const char *lo[] = {"127.0.0.1:0"};

static int dial(int type, unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int fd = socket(AF_INET, type, 0);
	assert_true(fd >= 0);
	struct timeval tv = {TIMEOUT_MS / 1000, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* One request on fd; the conn id and worker index the handler saw. */
static uint64_t ask(int fd, unsigned *worker)
{
	uint8_t buf[PROTO_ENV_LEN + 12];
	proto_env env = {2, 10, 0, 0, 0, 7, 0, 0};
	proto_env_encode(&env, buf);
	assert_int_equal(send(fd, buf, PROTO_ENV_LEN, 0), PROTO_ENV_LEN);
	size_t got = 0;
	for (int i = 0; i < 100 && got < sizeof(buf); i++) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(got, sizeof(buf));
	*worker = idn_be32(buf + PROTO_ENV_LEN + 8);
	return (uint64_t)idn_be32(buf + PROTO_ENV_LEN) << 32 | idn_be32(buf + PROTO_ENV_LEN + 4);
}

static unsigned reports(void)
{
	pthread_mutex_lock(&rep_lock);
	unsigned n = nrep;
	pthread_mutex_unlock(&rep_lock);
	return n;
}

/* How often id was reported, and (when once) on which worker. */
static unsigned times_reported(uint64_t id, unsigned *worker)
{
	unsigned k = 0;
	pthread_mutex_lock(&rep_lock);
	for (unsigned i = 0; i < nrep && i < MAXREP; i++)
		if (rep_id[i] == id) {
			k++;
			*worker = rep_worker[i];
		}
	pthread_mutex_unlock(&rep_lock);
	return k;
}

static void wait_reports(unsigned want)
{
	for (int i = 0; i < 300 && reports() < want; i++) /* at most 3 s */
		usleep(10000);
}

static void test_ids_and_close_reports(void **state)
{
	(void)state;
	net_config cfg = {.listen = lo,
	                  .nlisten = 1,
	                  .threads = 2,
	                  .worker_init = w_init,
	                  .worker_fini = w_fini,
	                  .handle = w_handle,
	                  .conn_closed = w_closed};
	net_server *s = NULL;
	assert_int_equal(net_start(&cfg, &s), 0);
	unsigned port = net_bound_port(s, 0);

	int fd[NCONN];
	uint64_t id[NCONN];
	unsigned worker[NCONN];
	for (int i = 0; i < NCONN; i++) {
		fd[i] = dial(SOCK_STREAM, port);
		id[i] = ask(fd[i], &worker[i]);
		assert_true(id[i] != 0);
		unsigned w2;
		assert_true(ask(fd[i], &w2) == id[i]); /* the same connection keeps its id */
		for (int j = 0; j < i; j++)
			assert_true(id[j] != id[i]);
	}
	/* UDP has no connection: id 0. */
	int u = dial(SOCK_DGRAM, port);
	unsigned uw;
	assert_true(ask(u, &uw) == 0);
	close(u);
	assert_int_equal(reports(), 0);

	/* The client closes half: each reported once, on the worker that served it. */
	for (int i = 0; i < NCONN / 2; i++)
		close(fd[i]);
	wait_reports(NCONN / 2);
	usleep(50000); /* room for a wrong second report */
	assert_int_equal(reports(), NCONN / 2);
	for (int i = 0; i < NCONN / 2; i++) {
		unsigned w = 99;
		assert_int_equal(times_reported(id[i], &w), 1);
		assert_int_equal(w, worker[i]);
	}
	/* The rest close at net_wait, before each worker's fini. */
	net_stop(s);
	assert_int_equal(net_wait(s), 0);
	assert_int_equal(reports(), NCONN);
	for (int i = NCONN / 2; i < NCONN; i++) {
		unsigned w = 99;
		assert_int_equal(times_reported(id[i], &w), 1);
		assert_int_equal(w, worker[i]);
		close(fd[i]);
	}
	assert_int_equal(atomic_load(&reports_after_fini), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ids_and_close_reports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
