/*
 * test_conn.c - client/conn.h against small loopback servers: a persistent
 * server keeps one connection; a server that closes after each answer (as
 * the reference 7.3.1 server) gets each request on a new connection, whether
 * the client sees the close before sending (proactive) or only when the
 * answer fails to start (a reset: resent once); a pipelined pair is never
 * resent; failures name the peer (client_strerror). And the LMDB store opened
 * with must_exist makes nothing where there is no store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/client.h"
#include "client/conn.h"
#include "core/err.h"
#include "core/wire.h"
#include "proto/proto.h"
#include "store/store.h"

enum mode {
	PERSISTENT,  /* answers every request on the connection */
	CLOSE_EACH,  /* answers one request, then closes */
	CLOSE_RESET, /* answers one, waits for the next to arrive, closes unread: a reset */
	PIPE_ONE,    /* reads two requests, answers the first, closes */
};

struct server {
	int lfd;
	uint16_t port;
	enum mode mode;
	int conns, requests; /* written by the server thread, read after join */
	int expect_conns;    /* the thread ends after this many connections */
	pthread_t th;
};

/* Reads one whole message (envelope + body) into buf; 0, or -1 at EOF/error. */
static int read_msg(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	size_t got = 0, need = PROTO_ENV_LEN;
	while (got < need) {
		ssize_t n = read(fd, buf + got, need - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		if (got == PROTO_ENV_LEN) {
			need = PROTO_ENV_LEN + idn_be32(buf + 16);
			if (need > cap)
				return -1;
		}
	}
	*len = got;
	return 0;
}

/* The answer to req: its envelope, a 4-byte body "ans!". */
static void answer(int fd, const uint8_t *req)
{
	uint8_t a[PROTO_ENV_LEN + 4];
	memcpy(a, req, PROTO_ENV_LEN);
	idn_put_be32(a + 16, 4);
	memcpy(a + PROTO_ENV_LEN, "ans!", 4);
	assert_int_equal(write(fd, a, sizeof(a)), (ssize_t)sizeof(a));
}

static void serve_conn(struct server *s, int c)
{
	uint8_t buf[4096];
	size_t len;
	if (s->mode == PIPE_ONE) {
		uint8_t second[4096];
		size_t l2;
		if (read_msg(c, buf, sizeof(buf), &len) || read_msg(c, second, sizeof(second), &l2))
			return;
		s->requests += 2;
		answer(c, buf);
		return;
	}
	while (read_msg(c, buf, sizeof(buf), &len) == 0) {
		s->requests++;
		answer(c, buf);
		if (s->mode == CLOSE_EACH)
			return;
		if (s->mode == CLOSE_RESET) {
			/* The next request arrives; closing with it unread sends a reset. */
			struct pollfd p = {.fd = c, .events = POLLIN};
			poll(&p, 1, 3000);
			return;
		}
	}
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	while (s->conns < s->expect_conns) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			break; /* bounded: the test is over or stuck */
		int c = accept(s->lfd, NULL, NULL);
		if (c < 0)
			break;
		s->conns++;
		serve_conn(s, c);
		close(c);
	}
	return NULL;
}

static void server_start(struct server *s, enum mode mode, int expect_conns)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->expect_conns = expect_conns;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void server_join(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static client_addr addr_of(uint16_t port)
{
	char txt[32];
	client_addr a;
	snprintf(txt, sizeof(txt), "127.0.0.1:%u", port);
	assert_int_equal(client_addr_parse(txt, 2641, &a, NULL, 0), IDN_OK);
	return a;
}

/* A request: an envelope with request id id and a 4-byte body. */
static void make_req(uint8_t *r, uint32_t id)
{
	memset(r, 0, PROTO_ENV_LEN + 4);
	r[0] = 2;
	r[1] = 11;
	idn_put_be32(r + 8, id);
	idn_put_be32(r + 16, 4);
	memcpy(r + PROTO_ENV_LEN, "req?", 4);
}

/*
 * Three requests in a row on one client_conn to a server in mode: each is
 * answered with its id, over want_conns connections.
 */
static void three_in_a_row(enum mode mode, int want_conns)
{
	struct server s;
	client_conn *c = NULL;
	server_start(&s, mode, want_conns);
	client_addr a = addr_of(s.port);
	assert_int_equal(client_conn_open(&a, 5000, &c), IDN_OK);
	for (uint32_t i = 0; i < 3; i++) {
		uint8_t req[PROTO_ENV_LEN + 4], *ans = NULL;
		size_t alen = 0;
		make_req(req, 100 + i);
		assert_int_equal(client_conn_send(c, req, sizeof(req)), IDN_OK);
		assert_int_equal(client_conn_recv(c, &ans, &alen), IDN_OK);
		assert_int_equal(alen, PROTO_ENV_LEN + 4);
		assert_int_equal(idn_be32(ans + 8), 100 + i);
		free(ans);
	}
	client_conn_close(c);
	server_join(&s);
	assert_int_equal(s.conns, want_conns);
	assert_int_equal(s.requests, 3);
}

static void test_persistent_keeps_one_connection(void **state)
{
	(void)state;
	three_in_a_row(PERSISTENT, 1);
}

static void test_close_after_each_answer(void **state)
{
	(void)state;
	three_in_a_row(CLOSE_EACH, 3);
}

static void test_reset_before_the_answer_is_resent_once(void **state)
{
	(void)state;
	/* Each request after the first arrives on the old connection (still open
	 * when sent), is reset unread, and is sent again on a new one. */
	three_in_a_row(CLOSE_RESET, 3);
}

static void test_pipelined_requests_are_not_resent(void **state)
{
	(void)state;
	struct server s;
	server_start(&s, PIPE_ONE, 1);
	client_addr a = addr_of(s.port);
	client_conn *c = NULL;
	uint8_t two[2 * (PROTO_ENV_LEN + 4)], *ans = NULL;
	size_t alen;
	make_req(two, 1);
	make_req(two + PROTO_ENV_LEN + 4, 2);
	assert_int_equal(client_conn_open(&a, 5000, &c), IDN_OK);
	assert_int_equal(client_conn_send(c, two, sizeof(two)), IDN_OK);
	assert_int_equal(client_conn_recv(c, &ans, &alen), IDN_OK);
	free(ans);
	ans = NULL;
	int ret = client_conn_recv(c, &ans, &alen);
	assert_int_equal(ret, IDN_ENET);
	assert_non_null(strstr(client_strerror(ret), "closed by the peer"));
	client_conn_close(c);
	server_join(&s);
	assert_int_equal(s.conns, 1); /* no second connection: nothing resent */
}

static void test_refused_names_the_peer(void **state)
{
	(void)state;
	/* Bound, not listening: a connection is refused. */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	client_addr a = addr_of(ntohs(sa.sin_port));
	client_conn *c = NULL;
	int ret = client_conn_open(&a, 2000, &c);
	assert_int_equal(ret, IDN_ENET);
	char want[64];
	snprintf(want, sizeof(want), "connection to 127.0.0.1:%u refused", ntohs(sa.sin_port));
	assert_string_equal(client_strerror(ret), want);
	/* Another code than the one recorded: the plain description. */
	assert_string_equal(client_strerror(IDN_EPROTO), idn_strerror(IDN_EPROTO));
	close(fd);
}

static void test_store_must_exist(void **state)
{
	(void)state;
	char dir[] = "/tmp/idn-conn-XXXXXX", missing[64], made[64];
	assert_non_null(mkdtemp(dir));
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	snprintf(made, sizeof(made), "%s/made", dir);
	store *s = NULL;
	store_opts must = {.must_exist = 1}, create = {0};
	struct stat st;
	assert_int_equal(store_open(missing, &must, &s), IDN_ENOTFOUND);
	assert_null(s);
	assert_int_equal(stat(missing, &st), -1); /* nothing made */
	assert_int_equal(store_open(made, &create, &s), IDN_OK);
	store_close(s);
	s = NULL;
	assert_int_equal(store_open(made, &must, &s), IDN_OK); /* it exists now */
	store_close(s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_persistent_keeps_one_connection),
	    cmocka_unit_test(test_close_after_each_answer),
	    cmocka_unit_test(test_reset_before_the_answer_is_resent_once),
	    cmocka_unit_test(test_pipelined_requests_are_not_resent),
	    cmocka_unit_test(test_refused_names_the_peer),
	    cmocka_unit_test(test_store_must_exist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
