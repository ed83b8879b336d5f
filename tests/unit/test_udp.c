/*
 * test_udp.c - UDP fragmentation and reassembly (proto/udp.h), including the
 * reference server's multi-datagram answers from shared/vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "proto/udp.h"
#include "vectors.h"

enum { BIG = PROTO_ENV_LEN + PROTO_MSG_MAX };

static uint8_t msgbuf[BIG];
static proto_udp_frag frags[PROTO_UDP_MAX_PKTS + 1];

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static uint32_t rng = 2463534242u;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* A message of body bytes behind a valid envelope, in msgbuf. */
static size_t make_msg(size_t body, uint32_t request_id, uint8_t flags)
{
	proto_env env = {.major = 2,
	                 .minor = 5,
	                 .flags = flags,
	                 .session_id = 77,
	                 .request_id = request_id,
	                 .seq = 0,
	                 .msg_len = (uint32_t)body};
	proto_env_encode(&env, msgbuf);
	for (size_t i = 0; i < body; i++)
		msgbuf[PROTO_ENV_LEN + i] = (uint8_t)rnd();
	return PROTO_ENV_LEN + body;
}

static size_t frag_pkt(int i, uint8_t out[PROTO_UDP_PKT])
{
	return proto_udp_frag_copy(&frags[i], out);
}

static void test_npackets(void **state)
{
	(void)state;
	assert_int_equal(proto_udp_npackets(0), 1);
	assert_int_equal(proto_udp_npackets(1), 1);
	assert_int_equal(proto_udp_npackets(492), 1);
	assert_int_equal(proto_udp_npackets(493), 2);
	assert_int_equal(proto_udp_npackets(984), 2);
	assert_int_equal(proto_udp_npackets(985), 3);
	assert_int_equal(proto_udp_npackets(PROTO_MSG_MAX), PROTO_UDP_MAX_PKTS);
}

/* Every size 0..5000: fragment, check each datagram, reassemble in order. */
static void test_round_trip_sizes(void **state)
{
	(void)state;
	proto_udp_rasm r;
	uint8_t pkt[PROTO_UDP_PKT];

	assert_int_equal(proto_udp_rasm_init(&r, 8, 1 << 20, 0, 1000), 0);
	for (size_t body = 0; body <= 5000; body++) {
		size_t len = make_msg(body, (uint32_t)body, 0x02);
		int n = proto_udp_fragment(msgbuf, len, frags, PROTO_UDP_MAX_PKTS);
		assert_int_equal(n, (int)proto_udp_npackets(body));

		const uint8_t *out = NULL;
		size_t out_len = 0;
		int done = 0;
		for (int i = 0; i < n; i++) {
			proto_env env;
			size_t plen = frag_pkt(i, pkt);
			assert_true(plen <= PROTO_UDP_PKT);
			assert_int_equal(proto_env_decode(pkt, plen, &env), 0);
			assert_int_equal(env.seq, (uint32_t)i);
			assert_int_equal(env.msg_len, (uint32_t)body);
			assert_int_equal(env.request_id, (uint32_t)body);
			assert_int_equal(env.session_id, 77);
			if (n == 1) {
				/* Sent unchanged. */
				assert_int_equal(plen, len);
				assert_memory_equal(pkt, msgbuf, len);
			} else {
				assert_int_equal(env.flags, 0x02 | PROTO_ENV_TRUNCATED);
				assert_int_equal(plen - PROTO_ENV_LEN,
				                 i < n - 1 ? PROTO_UDP_CHUNK
				                           : body - (size_t)i * PROTO_UDP_CHUNK);
			}
			assert_int_equal(proto_udp_check(pkt, plen, PROTO_MSG_MAX, &env),
			                 n == 1 ? 1 : 0);
			int rc = proto_udp_rasm_add(&r, "peer", 4, pkt, plen, 5, &out, &out_len);
			assert_int_equal(rc, i == n - 1 ? 1 : 0);
			done += rc;
		}
		assert_int_equal(done, 1);
		assert_int_equal(out_len, len);
		/* The reassembled envelope is the original one: seq 0, no TC. */
		assert_memory_equal(out, msgbuf, len);
		assert_int_equal(proto_udp_rasm_pending(&r), 0);
	}
	assert_int_equal(r.st.rejected, 0);
	assert_int_equal(r.st.dups, 0);
	proto_udp_rasm_free(&r);
}

/* A 512-byte answer is one datagram, a 513-byte one two (492 + 1). */
static void test_boundary_512_513(void **state)
{
	(void)state;
	size_t len = make_msg(PROTO_UDP_CHUNK, 1, 0);
	assert_int_equal(len, 512);
	assert_int_equal(proto_udp_fragment(msgbuf, len, frags, 1), 1);
	assert_int_equal(frags[0].len, PROTO_UDP_CHUNK);
	assert_int_equal(frags[0].env[2], 0);

	len = make_msg(PROTO_UDP_CHUNK + 1, 1, 0);
	assert_int_equal(len, 513);
	assert_int_equal(proto_udp_fragment(msgbuf, len, frags, 1), IDN_ESPACE);
	assert_int_equal(proto_udp_fragment(msgbuf, len, frags, 2), 2);
	assert_int_equal(frags[0].len, PROTO_UDP_CHUNK);
	assert_int_equal(frags[1].len, 1);
	assert_ptr_equal(frags[1].data, msgbuf + PROTO_ENV_LEN + PROTO_UDP_CHUNK);
	assert_int_equal(frags[0].env[2], PROTO_ENV_TRUNCATED);
	assert_int_equal(frags[1].env[2], PROTO_ENV_TRUNCATED);
	assert_int_equal(idn_be32(frags[1].env + 12), 1);
	assert_int_equal(idn_be32(frags[1].env + 16), 493);
}

/* Datagrams of a message, as separate buffers, for shuffling. */
static uint8_t pkts[PROTO_UDP_MAX_PKTS][PROTO_UDP_PKT];
static size_t plens[PROTO_UDP_MAX_PKTS];

static int cut(size_t body, uint32_t request_id)
{
	size_t len = make_msg(body, request_id, 0);
	int n = proto_udp_fragment(msgbuf, len, frags, PROTO_UDP_MAX_PKTS);
	assert_true(n > 0);
	for (int i = 0; i < n; i++)
		plens[i] = frag_pkt(i, pkts[i]);
	return n;
}

static void test_reorder(void **state)
{
	(void)state;
	proto_udp_rasm r;
	const uint8_t *out;
	size_t out_len;
	int order[PROTO_UDP_MAX_PKTS];

	assert_int_equal(proto_udp_rasm_init(&r, 4, 1 << 20, 0, 1000), 0);
	for (int round = 0; round < 50; round++) {
		size_t body = 493 + rnd() % 20000;
		int n = cut(body, 1000 + (uint32_t)round);
		for (int i = 0; i < n; i++)
			order[i] = i;
		if (round == 0) { /* strictly reversed */
			for (int i = 0; i < n; i++)
				order[i] = n - 1 - i;
		} else { /* Fisher-Yates */
			for (int i = n - 1; i > 0; i--) {
				int j = (int)(rnd() % (uint32_t)(i + 1));
				int t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		}
		for (int k = 0; k < n; k++) {
			int i = order[k];
			int rc =
			    proto_udp_rasm_add(&r, NULL, 0, pkts[i], plens[i], 0, &out, &out_len);
			assert_int_equal(rc, k == n - 1 ? 1 : 0);
		}
		assert_int_equal(out_len, PROTO_ENV_LEN + body);
		assert_memory_equal(out, msgbuf, out_len);
	}
	proto_udp_rasm_free(&r);
}

static void test_duplicates(void **state)
{
	(void)state;
	proto_udp_rasm r;
	const uint8_t *out = NULL;
	size_t out_len = 0;

	assert_int_equal(proto_udp_rasm_init(&r, 4, 1 << 20, 0, 1000), 0);
	int n = cut(3000, 9);
	assert_int_equal(n, 7);
	int completions = 0;
	/* Each datagram twice, the last one only once: completes once, at the end. */
	for (int i = 0; i < n; i++) {
		int rc = proto_udp_rasm_add(&r, NULL, 0, pkts[i], plens[i], 0, &out, &out_len);
		completions += rc == 1;
		if (i < n - 1) {
			rc = proto_udp_rasm_add(&r, NULL, 0, pkts[i], plens[i], 0, &out, &out_len);
			assert_int_equal(rc, 0);
		}
	}
	assert_int_equal(completions, 1);
	assert_memory_equal(out, msgbuf, out_len);
	assert_int_equal(r.st.dups, (uint64_t)(n - 1));
	assert_int_equal(r.st.completed, 1);

	/* A whole retransmission after completion is a new message (a retry). */
	completions = 0;
	for (int i = 0; i < n; i++)
		completions +=
		    proto_udp_rasm_add(&r, NULL, 0, pkts[i], plens[i], 0, &out, &out_len) == 1;
	assert_int_equal(completions, 1);
	proto_udp_rasm_free(&r);
}

static void test_missing_then_timeout(void **state)
{
	(void)state;
	proto_udp_rasm r;
	const uint8_t *out;
	size_t out_len;

	assert_int_equal(proto_udp_rasm_init(&r, 4, 1 << 20, 0, 1000), 0);
	int n = cut(2000, 5);
	for (int i = 1; i < n; i++)
		assert_int_equal(
		    proto_udp_rasm_add(&r, NULL, 0, pkts[i], plens[i], 100, &out, &out_len), 0);
	assert_int_equal(proto_udp_rasm_pending(&r), 1);
	assert_int_equal(proto_udp_rasm_expire(&r, 1099), 0);
	assert_int_equal(proto_udp_rasm_pending(&r), 1);
	assert_int_equal(proto_udp_rasm_expire(&r, 1100), 1);
	assert_int_equal(proto_udp_rasm_pending(&r), 0);
	assert_int_equal(r.st.expired, 1);
	assert_int_equal(r.bytes, 0);

	/* The missing datagram now starts a fresh, incomplete entry. */
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, pkts[0], plens[0], 1200, &out, &out_len),
	                 0);
	assert_int_equal(proto_udp_rasm_pending(&r), 1);
	/* Expiry also happens on the way through add(). */
	int m = cut(600, 6);
	assert_int_equal(m, 2);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, pkts[0], plens[0], 5000, &out, &out_len),
	                 0);
	assert_int_equal(r.st.expired, 2);
	assert_int_equal(proto_udp_rasm_pending(&r), 1);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, pkts[1], plens[1], 5000, &out, &out_len),
	                 1);
	assert_memory_equal(out, msgbuf, out_len);
	proto_udp_rasm_free(&r);
}

static void put_env(uint8_t *p, uint32_t request_id, uint32_t seq, uint32_t msg_len)
{
	proto_env env = {2, 5, 0, 0, 1, request_id, seq, msg_len};
	proto_env_encode(&env, p);
}

static void test_bad_lengths(void **state)
{
	(void)state;
	proto_udp_rasm r;
	proto_env env;
	const uint8_t *out;
	size_t out_len;
	uint8_t p[2048] = {0};

	assert_int_equal(proto_udp_rasm_init(&r, 4, 1 << 20, 10000, 1000), 0);

	/* Shorter than an envelope. */
	assert_int_equal(proto_udp_check(p, 19, PROTO_MSG_MAX, &env), IDN_ETRUNC);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 0, 0, &out, &out_len), IDN_ETRUNC);
	/* Single packet whose payload is not the message length. */
	put_env(p, 1, 0, 10);
	assert_int_equal(proto_udp_check(p, 20 + 9, PROTO_MSG_MAX, &env), IDN_EINVAL);
	assert_int_equal(proto_udp_check(p, 20 + 11, PROTO_MSG_MAX, &env), IDN_EINVAL);
	assert_int_equal(proto_udp_check(p, 20 + 10, PROTO_MSG_MAX, &env), 1);
	/* Small message announced with seq 1. */
	put_env(p, 1, 1, 10);
	assert_int_equal(proto_udp_check(p, 20 + 10, PROTO_MSG_MAX, &env), IDN_EINVAL);
	/* Chunks: sequence out of range, wrong sizes. */
	put_env(p, 1, 3, 1000); /* 3 packets: 492, 492, 16 */
	assert_int_equal(proto_udp_check(p, 20 + 16, PROTO_MSG_MAX, &env), IDN_EINVAL);
	put_env(p, 1, 2, 1000);
	assert_int_equal(proto_udp_check(p, 20 + 16, PROTO_MSG_MAX, &env), 0);
	assert_int_equal(proto_udp_check(p, 20 + 17, PROTO_MSG_MAX, &env), IDN_EINVAL);
	put_env(p, 1, 1, 1000);
	assert_int_equal(proto_udp_check(p, 20 + 492, PROTO_MSG_MAX, &env), 0);
	assert_int_equal(proto_udp_check(p, 20 + 491, PROTO_MSG_MAX, &env), IDN_EINVAL);
	assert_int_equal(proto_udp_check(p, 20 + 100, PROTO_MSG_MAX, &env), IDN_EINVAL);
	/* A whole message in one oversized datagram is accepted. */
	put_env(p, 1, 0, 1000);
	assert_int_equal(proto_udp_check(p, 20 + 1000, PROTO_MSG_MAX, &env), 1);
	/* Over the limit. */
	put_env(p, 1, 0, PROTO_MSG_MAX + 1);
	assert_int_equal(proto_udp_check(p, 20 + 492, PROTO_MSG_MAX, &env), IDN_ERANGE);
	put_env(p, 1, 0, 10001);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 20 + 492, 0, &out, &out_len),
	                 IDN_ERANGE);
	/* Peer key too long. */
	put_env(p, 1, 0, 1000);
	assert_int_equal(
	    proto_udp_rasm_add(&r, p, PROTO_UDP_PEER_MAX + 1, p, 20 + 492, 0, &out, &out_len),
	    IDN_EINVAL);

	/* Same id, another message length: rejected, the entry survives. */
	put_env(p, 7, 0, 1000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 20 + 492, 0, &out, &out_len), 0);
	put_env(p, 7, 1, 1200);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 20 + 492, 0, &out, &out_len),
	                 IDN_EPROTO);
	/* Same id, another version: rejected too. */
	put_env(p, 7, 1, 1000);
	p[1] = 3;
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 20 + 492, 0, &out, &out_len),
	                 IDN_EPROTO);
	put_env(p, 7, 1, 1000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 20 + 492, 0, &out, &out_len), 0);
	put_env(p, 7, 2, 1000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 20 + 16, 0, &out, &out_len), 1);
	assert_int_equal(out_len, 1020);
	assert_true(r.st.rejected >= 2);

	/* Fragmenting: envelope disagreeing with the buffer, too short, too long. */
	size_t len = make_msg(100, 1, 0);
	assert_int_equal(proto_udp_fragment(msgbuf, len - 1, frags, 4), IDN_EINVAL);
	assert_int_equal(proto_udp_fragment(msgbuf, 19, frags, 4), IDN_ETRUNC);
	len = make_msg(PROTO_MSG_MAX, 1, 0);
	assert_int_equal(proto_udp_fragment(msgbuf, len, frags, PROTO_UDP_MAX_PKTS),
	                 PROTO_UDP_MAX_PKTS);
	idn_put_be32(msgbuf + 16, PROTO_MSG_MAX + 1);
	static uint8_t over[BIG + 1];
	memcpy(over, msgbuf, BIG);
	assert_int_equal(proto_udp_fragment(over, BIG + 1, frags, PROTO_UDP_MAX_PKTS + 1),
	                 IDN_ERANGE);
	proto_udp_rasm_free(&r);
}

static void test_table_full(void **state)
{
	(void)state;
	proto_udp_rasm r;
	const uint8_t *out;
	size_t out_len;
	uint8_t p[PROTO_UDP_PKT] = {0};

	/* 4 slots, a budget of 5000 bytes. */
	assert_int_equal(proto_udp_rasm_init(&r, 4, 5000, 0, 1000), 0);
	for (uint32_t id = 0; id < 4; id++) {
		put_env(p, id, 0, 1000);
		assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 512, 0, &out, &out_len), 0);
	}
	assert_int_equal(proto_udp_rasm_pending(&r), 4);
	put_env(p, 99, 0, 1000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 512, 0, &out, &out_len), IDN_EBUSY);
	/* Entries already open still progress. */
	put_env(p, 2, 1, 1000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 512, 0, &out, &out_len), 0);
	/* Single-packet messages never need a slot. */
	put_env(p, 100, 0, 10);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 30, 0, &out, &out_len), 1);
	assert_ptr_equal(out, p);
	/* Completing one frees its slot (on the next call). */
	put_env(p, 2, 2, 1000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 36, 0, &out, &out_len), 1);
	put_env(p, 99, 0, 1000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 512, 0, &out, &out_len), 0);
	assert_int_equal(r.st.full, 1);
	proto_udp_rasm_free(&r);

	/* The byte budget: 4 slots but room for two 2000-byte messages. */
	assert_int_equal(proto_udp_rasm_init(&r, 4, 2 * 2020, 0, 1000), 0);
	put_env(p, 1, 0, 2000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 512, 0, &out, &out_len), 0);
	put_env(p, 2, 0, 2000);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 512, 0, &out, &out_len), 0);
	put_env(p, 3, 0, 600);
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 512, 0, &out, &out_len), IDN_EBUSY);
	/* After the timeout there is room again. */
	assert_int_equal(proto_udp_rasm_add(&r, NULL, 0, p, 512, 1000, &out, &out_len), 0);
	assert_int_equal(proto_udp_rasm_pending(&r), 1);
	assert_int_equal(r.bytes, 620);
	proto_udp_rasm_free(&r);
}

/* The same request id from two peers is two messages. */
static void test_peers(void **state)
{
	(void)state;
	proto_udp_rasm r;
	const uint8_t *out;
	size_t out_len;
	uint8_t a[PROTO_UDP_MAX_PKTS][PROTO_UDP_PKT];
	size_t alen[PROTO_UDP_MAX_PKTS];

	assert_int_equal(proto_udp_rasm_init(&r, 4, 1 << 20, 0, 1000), 0);
	int n = cut(1500, 42);
	memcpy(a, pkts, sizeof(a));
	memcpy(alen, plens, sizeof(alen));
	static uint8_t first[PROTO_ENV_LEN + 1500];
	memcpy(first, msgbuf, sizeof(first));
	int m = cut(1500, 42); /* other bytes, same id */
	assert_int_equal(n, m);
	for (int i = 0; i < n; i++) {
		int rc = proto_udp_rasm_add(&r, "A", 1, a[i], alen[i], 0, &out, &out_len);
		if (rc == 1)
			assert_memory_equal(out, first, sizeof(first));
		assert_int_equal(rc, i == n - 1);
		rc = proto_udp_rasm_add(&r, "B", 1, pkts[i], plens[i], 0, &out, &out_len);
		if (rc == 1)
			assert_memory_equal(out, msgbuf, sizeof(first));
		assert_int_equal(rc, i == n - 1);
	}
	proto_udp_rasm_free(&r);
}

/*
 * The reference server's multi-datagram answers: reassembling its datagrams
 * gives the captured message, and cutting that message gives its datagrams
 * back (but for the truncated flag, which 7.3.1 leaves clear and we set).
 */
static void test_reference_vectors(void **state)
{
	(void)state;
	size_t nv;
	const struct tvec *v = tvec_all(&nv);
	int checked = 0;

	for (size_t i = 0; i < nv; i++) {
		if (!v[i].reassembled)
			continue;
		const struct tvec *whole = &v[i];
		/* Its fragments: the vectors of the same exchange and direction. */
		const struct tvec *fr[PROTO_UDP_MAX_PKTS];
		int nfr = 0;
		for (size_t j = 0; j < nv; j++)
			if (v[j].frag_index >= 0 && !v[j].retransmission &&
			    strcmp(v[j].exchange, whole->exchange) == 0 &&
			    strcmp(v[j].direction, whole->direction) == 0 &&
			    idn_be32(v[j].bytes + 8) == idn_be32(whole->bytes + 8) &&
			    nfr < PROTO_UDP_MAX_PKTS)
				fr[nfr++] = &v[j];
		assert_true(nfr >= 2);
		assert_int_equal(nfr, fr[0]->frag_count);

		proto_udp_rasm r;
		const uint8_t *out = NULL;
		size_t out_len = 0;
		assert_int_equal(proto_udp_rasm_init(&r, 4, 1 << 20, 0, 1000), 0);
		for (int k = nfr - 1; k >= 0; k--) {
			int rc = proto_udp_rasm_add(&r, NULL, 0, fr[k]->bytes, fr[k]->len, 0, &out,
			                            &out_len);
			assert_int_equal(rc, k == 0 ? 1 : 0);
		}
		assert_int_equal(out_len, whole->len);
		assert_memory_equal(out, whole->bytes, out_len);
		proto_udp_rasm_free(&r);

		int n = proto_udp_fragment(whole->bytes, whole->len, frags, PROTO_UDP_MAX_PKTS);
		assert_int_equal(n, nfr);
		for (int k = 0; k < n; k++) {
			uint8_t pkt[PROTO_UDP_PKT];
			size_t plen = frag_pkt(k, pkt);
			assert_int_equal(plen, fr[k]->len);
			assert_int_equal(pkt[2], fr[k]->bytes[2] | PROTO_ENV_TRUNCATED);
			pkt[2] = fr[k]->bytes[2];
			assert_memory_equal(pkt, fr[k]->bytes, plen);
		}
		checked++;
	}
	assert_true(checked >= 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_npackets),
	    cmocka_unit_test(test_round_trip_sizes),
	    cmocka_unit_test(test_boundary_512_513),
	    cmocka_unit_test(test_reorder),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_missing_then_timeout),
	    cmocka_unit_test(test_bad_lengths),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_peers),
	    cmocka_unit_test(test_reference_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
