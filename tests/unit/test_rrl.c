/*
 * test_rrl.c - net/rrl.h, the response rate limit per source prefix, on a
 * clock of its own: a burst of exactly one second's worth, then the rate and
 * no more; tokens come back with time and never pile up beyond the burst;
 * sources of one /24 (one /56) share a bucket, other networks do not; several
 * threads taking from one bucket take exactly what it holds. Also the UDP
 * answer budget (proto/udp.h): bytes on the wire, the allowance, and the
 * refusal that stands for an answer, within the ratio of the smallest request.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "net/rrl.h"
#include "proto/udp.h"
#include "unit_msgs.h"

enum { SEC = 1000000000 };
static const uint64_t T0 = 1000ull * SEC; /* any monotonic start */

static uint64_t v4(const char *a)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, a, &sa.sin_addr), 1);
	return net_rrl_prefix((const struct sockaddr *)&sa);
}

static uint64_t v6(const char *a)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
	assert_int_equal(inet_pton(AF_INET6, a, &sa.sin6_addr), 1);
	return net_rrl_prefix((const struct sockaddr *)&sa);
}

/* Answers taken from prefix at now, of n asked. */
static unsigned take_n(net_rrl *r, uint64_t prefix, uint64_t now, unsigned n)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++)
		ok += net_rrl_take(r, prefix, now);
	return ok;
}

static void test_burst_then_rate(void **state)
{
	(void)state;
	net_rrl r;
	assert_int_equal(net_rrl_init(&r, 100, 0, 1024, 42), 0);
	uint64_t p = v4("192.0.2.7");
	/* One second's worth at once, not one more. */
	assert_int_equal(take_n(&r, p, T0, 1000), 100);
	/* 10 ms later: one more answer; 1 s later: the rate's worth. */
	assert_int_equal(take_n(&r, p, T0 + SEC / 100, 10), 1);
	assert_int_equal(take_n(&r, p, T0 + SEC / 100 + SEC, 1000), 100);
	/* A steady flood over 10 s gets rate x seconds. */
	unsigned ok = 0;
	uint64_t t = T0 + 3ull * SEC;
	for (int ms = 0; ms < 10000; ms++)
		ok += take_n(&r, p, t + (uint64_t)ms * 1000000, 10);
	assert_in_range(ok, 100 * 10, 100 * 10 + 100 + 1);
	/* Idle for an hour: the bucket holds one burst, no more. */
	assert_int_equal(take_n(&r, p, T0 + 3600ull * SEC, 1000), 100);
	net_rrl_free(&r);
}

static void test_prefixes(void **state)
{
	(void)state;
	net_rrl r;
	assert_int_equal(net_rrl_init(&r, 10, 0, 1 << 16, 7), 0);
	/* One /24: one bucket. */
	assert_int_equal(v4("198.51.100.1"), v4("198.51.100.254"));
	assert_int_equal(take_n(&r, v4("198.51.100.1"), T0, 10), 10);
	assert_int_equal(take_n(&r, v4("198.51.100.254"), T0, 10), 0);
	/* Another /24 has its own (the table is large: no collision here). */
	assert_true(v4("198.51.101.1") != v4("198.51.100.1"));
	assert_int_equal(take_n(&r, v4("198.51.101.1"), T0, 10), 10);
	/* IPv6: one /56, and the next /56 apart; an IPv4-mapped address is its /24. */
	assert_int_equal(v6("2001:db8:0:1200::1"), v6("2001:db8:0:12ff:ffff::9"));
	assert_true(v6("2001:db8:0:1300::1") != v6("2001:db8:0:1200::1"));
	assert_int_equal(v6("::ffff:198.51.100.9"), v4("198.51.100.1"));
	assert_true(v6("::c633:6401") != v4("198.51.100.1"));
	assert_int_equal(take_n(&r, v6("2001:db8:0:1200::1"), T0, 20), 10);
	assert_int_equal(take_n(&r, v6("2001:db8:0:12ff::2"), T0, 20), 0);
	assert_int_equal(take_n(&r, v6("2001:db8:0:1300::1"), T0, 20), 10);
	net_rrl_free(&r);
}

static void test_off_and_bad(void **state)
{
	(void)state;
	net_rrl r;
	assert_int_equal(net_rrl_init(&r, 0, 0, 0, 1), 0);
	assert_false(net_rrl_on(&r));
	assert_int_equal(take_n(&r, v4("203.0.113.1"), T0, 100000), 100000);
	net_rrl_free(&r);
	assert_int_equal(net_rrl_init(&r, 10, 0, 1000, 1), IDN_EINVAL); /* not a power of two */
	/* A single bucket: every source shares it (collisions share). */
	assert_int_equal(net_rrl_init(&r, 5, 0, 1, 1), 0);
	assert_int_equal(take_n(&r, v4("203.0.113.1"), T0, 3), 3);
	assert_int_equal(take_n(&r, v6("2001:db8::1"), T0, 3), 2);
	net_rrl_free(&r);
	/* An explicit burst, and a rate over a million per second. */
	assert_int_equal(net_rrl_init(&r, 2000000, 3, 0, 1), 0);
	assert_int_equal(take_n(&r, v4("203.0.113.1"), T0, 10), 3);
	net_rrl_free(&r);
}

/* Whether address a (IPv4, IPv6 or IPv4-mapped) is in one of r's exempt networks. */
static bool exempt(const net_rrl *r, const char *a)
{
	struct sockaddr_storage ss = {0};
	if (strchr(a, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, a, &s4->sin_addr), 1);
	}
	return net_rrl_exempt_match(r, (const struct sockaddr *)&ss);
}

static void test_exempt(void **state)
{
	(void)state;
	net_rrl r;
	assert_int_equal(net_rrl_init(&r, 10, 0, 0, 1), 0);
	assert_false(exempt(&r, "192.0.2.1")); /* none: no match */
	assert_int_equal(net_rrl_exempt_add(&r, "192.0.2.0/23"), 0);
	assert_int_equal(net_rrl_exempt_add(&r, "2001:db8:1::/48"), 0);
	assert_int_equal(net_rrl_exempt_add(&r, "198.51.100.7"), 0);
	assert_true(exempt(&r, "192.0.2.1"));
	assert_true(exempt(&r, "192.0.3.255"));
	assert_false(exempt(&r, "192.0.4.0"));
	assert_true(exempt(&r, "::ffff:192.0.3.1")); /* IPv4-mapped: its IPv4 address */
	assert_true(exempt(&r, "2001:db8:1:ffff::1"));
	assert_false(exempt(&r, "2001:db8:2::1"));
	assert_true(exempt(&r, "198.51.100.7"));
	assert_false(exempt(&r, "198.51.100.8"));
	const char *bad[] = {"",
	                     "/8",
	                     "192.0.2.0/33",
	                     "192.0.2.0/",
	                     "192.0.2.0/x",
	                     "2001:db8::/129",
	                     "example.com",
	                     "1.2.3.4/8/9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(net_rrl_exempt_add(&r, bad[i]), IDN_EINVAL);
	while (r.nexempt < NET_RRL_EXEMPT_MAX)
		assert_int_equal(net_rrl_exempt_add(&r, "10.0.0.0/8"), 0);
	assert_int_equal(net_rrl_exempt_add(&r, "10.0.0.0/8"), IDN_ERANGE);
	net_rrl_free(&r);
}

struct hammer {
	net_rrl *r;
	uint64_t prefix;
	unsigned ok;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	h->ok = take_n(h->r, h->prefix, T0, 100000);
	return NULL;
}

static void test_threads_share_exactly(void **state)
{
	(void)state;
	net_rrl r;
	assert_int_equal(net_rrl_init(&r, 5000, 0, 0, 3), 0);
	struct hammer h[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){&r, v4("192.0.2.1"), 0};
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &h[i]), 0);
	}
	unsigned total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += h[i].ok;
	}
	assert_int_equal(total, 5000);
	net_rrl_free(&r);
}

static void test_budget(void **state)
{
	(void)state;
	/* Bytes on the wire: one envelope per datagram. */
	assert_int_equal(proto_udp_wire_len(20 + 100), 120);
	assert_int_equal(proto_udp_wire_len(20 + 492), 512);
	assert_int_equal(proto_udp_wire_len(20 + 493), 493 + 40);
	assert_int_equal(proto_udp_wire_len(20 + 250255), 250255 + 20 * 509);
	/* min(cap, ratio x request) */
	assert_int_equal(proto_udp_allowance(1232, 10, 69), 690);
	assert_int_equal(proto_udp_allowance(1232, 10, 200), 1232);
	assert_int_equal(proto_udp_allowance(100000, 10, proto_udp_wire_len(20 + 1000)),
	                 10 * (1000 + 60));
}

static void test_refusal(void **state)
{
	(void)state;
	uint8_t req[256], out[PROTO_UDP_REFUSAL_MAX];
	/* With RD: the request's digest, in the answer's version's algorithm, leads the body. */
	size_t rlen = resolution("a/b", PROTO_F_RD | PROTO_F_PO, 11, req, sizeof(req));
	uint8_t ans_env[PROTO_ENV_LEN] = {2, 5, 0x02, 11};
	int n = proto_udp_oversize(req, rlen, ans_env, 250000,
	                           proto_udp_allowance(1232, 10, proto_udp_wire_len(rlen)), out);
	assert_true(n > 0 && (size_t)n <= PROTO_UDP_REFUSAL_MAX);
	proto_env env;
	proto_msg m;
	assert_int_equal(proto_env_decode(out, (size_t)n, &env), 0);
	assert_int_equal(env.msg_len, (uint32_t)n - PROTO_ENV_LEN);
	assert_int_equal(env.request_id, 0x01020304);
	assert_int_equal(env.session_id, 9);
	assert_int_equal(env.minor, 5); /* the answer's version */
	assert_int_equal(env.flags & PROTO_ENV_TRUNCATED, 0);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &m), 0);
	assert_int_equal(m.hdr.opcode, PROTO_OP_RESOLUTION);
	assert_int_equal(m.hdr.rcode, PROTO_RC_ERROR);
	assert_true(m.hdr.flags & PROTO_F_RD);
	assert_int_equal(m.body.p[0], PROTO_HASH_SHA1); /* in 2.5: SHA-1 */
	wire_rd c = wire_rd_init(m.body.p, m.body.len);
	proto_skip_digest(&c);
	idn_slice text;
	assert_int_equal(proto_error_decode(idn_slice_of(c.pos, wire_rd_left(&c)), &text), 0);
	const char want[] = "answer of 260160 bytes is over this node's UDP limit; ask over TCP";
	assert_int_equal(text.len, strlen(want));
	assert_memory_equal(text.p, want, text.len);

	/* Without an answer's envelope: the request's version, capped at ours. */
	rlen = resolution("a/b", 0, 200, req, sizeof(req));
	n = proto_udp_refusal(req, rlen, NULL, "slow down", out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(out[1], PROTO_MINOR_MAX);
	/* The smallest request that gets an answer, an envelope alone, may still be refused. */
	uint8_t bare[PROTO_ENV_LEN] = {2, 5};
	n = proto_udp_oversize(bare, sizeof(bare), NULL, 5000,
	                       proto_udp_allowance(1232, 10, sizeof(bare)), out);
	assert_true(n > 0 && proto_udp_wire_len((size_t)n) <= 10 * PROTO_ENV_LEN);
	/* A ratio too small for any refusal: nothing. */
	assert_int_equal(proto_udp_oversize(bare, sizeof(bare), NULL, 5000, 40, out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_rate), cmocka_unit_test(test_prefixes),
	    cmocka_unit_test(test_off_and_bad),     cmocka_unit_test(test_threads_share_exactly),
	    cmocka_unit_test(test_budget),          cmocka_unit_test(test_refusal),
	    cmocka_unit_test(test_exempt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
