/*
 * test_resolver_gateway.c - resolver_lookup(), the gateway's way into the
 * resolver: cache-only lookups never wait (IDN_EAGAIN on a miss, nothing
 * asked), a blocking one against an upstream that never answers (a bound
 * UDP and TCP socket on loopback that nobody reads) fails with rc 2 and
 * meta.down naming the server, and the next one fails at once because the
 * server is held down ("is not answering (since ...)"), counted in held=.
 * A request looked up cache-only, then again waiting, counts one miss.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limit.h"
#include "proto/proto.h"
#include "resolver/resolver.h"

enum { CAP = PROTO_ENV_LEN + PROTO_MSG_MAX };

/* A loopback UDP socket and a listening TCP socket on one port: nobody answers. */
static int silent_port(int *udp, int *tcp)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	*tcp = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*tcp >= 0);
	assert_int_equal(bind(*tcp, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(*tcp, 16), 0);
	assert_int_equal(getsockname(*tcp, (struct sockaddr *)&a, &al), 0);
	*udp = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(*udp >= 0);
	assert_int_equal(bind(*udp, (struct sockaddr *)&a, sizeof(a)), 0);
	return ntohs(a.sin_port);
}

static int request(const char *handle, uint8_t *buf, size_t cap)
{
	proto_env env = {.major = PROTO_MAJOR, .minor = PROTO_MINOR_MAX, .request_id = 7};
	proto_hdr hdr = {.opcode = PROTO_OP_RESOLUTION, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, buf, cap, &env, &hdr);
	proto_resolve_req_encode(&b.w, idn_slice_of(handle, strlen(handle)), NULL, 0, NULL, 0);
	return proto_build_end(&b, NULL, 0);
}

static uint32_t rcode(const uint8_t *ans, int n)
{
	proto_msg m;
	assert_true(n > PROTO_ENV_LEN);
	assert_int_equal(proto_msg_decode(ans + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &m), 0);
	return m.hdr.rcode;
}

static void test_cached_only_then_down_then_held(void **state)
{
	(void)state;
	int udp, tcp;
	int port = silent_port(&udp, &tcp);
	char root[32], node[32];
	snprintf(root, sizeof(root), "127.0.0.1:%d", port);
	snprintf(node, sizeof(node), "127.0.0.1:%d", port);
	resolver_opts o = {.root = root, .threads = 1, .timeout_ms = 300, .holddown_ms = 5000};
	resolver *r;
	char err[200];
	assert_int_equal(resolver_new(&o, &r, err, sizeof(err)), IDN_OK);
	uint8_t req[1024];
	uint8_t *ans = malloc(CAP);
	int len = request("88.100.1/X", req, sizeof(req));
	assert_true(len > 0);
	resolver_meta meta;

	/* From the cache only: a miss is not asked upstream. */
	int64_t t0 = limit_now_ms();
	assert_int_equal(resolver_lookup(r, req, (size_t)len, RESOLVER_CACHED, ans, CAP, &meta),
	                 IDN_EAGAIN);
	assert_true(limit_now_ms() - t0 < 100);
	struct resolver_stats st;
	resolver_stats(r, &st);
	assert_int_equal(st.upstream, 0);

	/* Waiting: the root never answers (UDP, then TCP): rc 2, down, naming it. */
	t0 = limit_now_ms();
	int n = resolver_lookup(r, req, (size_t)len, RESOLVER_BLOCK, ans, CAP, &meta);
	int64_t took = limit_now_ms() - t0;
	assert_int_equal(rcode(ans, n), PROTO_RC_ERROR);
	assert_true(meta.down);
	assert_false(meta.stale);
	assert_string_equal(meta.node, node);
	assert_true(took >= 250);
	/* The cache-only look and the waiting one are one request: one miss. */
	resolver_stats(r, &st);
	assert_int_equal(st.cache.misses, 1);
	assert_int_equal(st.upstream, 1);

	/* Held down now: the next question fails at once, saying since when. */
	len = request("88.100.1/Y", req, sizeof(req));
	t0 = limit_now_ms();
	n = resolver_lookup(r, req, (size_t)len, RESOLVER_BLOCK, ans, CAP, &meta);
	took = limit_now_ms() - t0;
	assert_int_equal(rcode(ans, n), PROTO_RC_ERROR);
	assert_true(meta.down);
	assert_string_equal(meta.node, node);
	assert_true(took < 200);
	char want[64];
	snprintf(want, sizeof(want), "node %s is not answering (since ", node);
	assert_non_null(memmem(ans, (size_t)n, want, strlen(want)));
	resolver_stats(r, &st);
	assert_int_equal(st.cache.misses, 2);
	assert_true(st.held >= 1);
	assert_true(st.held_now >= 1);
	char line[512];
	resolver_stats_line(r, line, sizeof(line));
	assert_non_null(strstr(line, " held="));

	resolver_free(r);
	free(ans);
	close(udp);
	close(tcp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cached_only_then_down_then_held),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
