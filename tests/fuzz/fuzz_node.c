/*
 * fuzz_node.c - any bytes, as a request over UDP and TCP, through the whole
 * request path (decode, dispatch, resolution against a small store, encode),
 * and through every body decoder of the codec. Nothing may crash, read out of
 * bounds or leak; every answer must be a well-formed message.
 *
 * Over TCP the request comes on connection 1, which holds the SM4 key
 * FUZZ_SM4_KEY (node/login.h): an encrypted envelope goes through the SM4
 * decryption, and a 2001 through the login's checks and challenge. The
 * seeds in seeds/fuzz_node/ include 2001 in both SDKs' bodies and requests
 * encrypted with that key (tests/fuzz/seeds/fuzz_node/README).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "node/internal.h"
#include "node/login.h"
#include "node/node.h"
#include "proto/admin.h"
#include "proto/record.h"
#include "proto/udp.h"

static store *st;
static node *nd;
static node_worker *wk;
static uint8_t out[PROTO_ENV_LEN + PROTO_MSG_MAX];

/* The SM4 key of connection 1: 00 01 .. 0f (the seeds are encrypted with it). */
static const uint8_t FUZZ_SM4_KEY[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void put(store_txn *t, const char *key, const proto_value *v, uint32_t n)
{
	uint8_t rec[4096];
	int len = record_build(v, n, rec, sizeof(rec));
	if (len < 0 ||
	    store_put(t, idn_slice_of(key, strlen(key)), idn_slice_of(rec, (size_t)len), 0))
		abort();
}

static void init(void)
{
	static char dir[] = "/tmp/idn-fuzz-XXXXXX";
	if (!mkdtemp(dir))
		abort();
	store_opts so = {.no_sync = 1, .map_size = 64 << 20};
	store_txn *t;
	if (store_open(dir, &so, &st) || store_txn_begin(st, 0, &t))
		abort();
	store_home(t, IDN_SLICE("88.1000"));
	store_home(t, IDN_SLICE("0.NA"));
	proto_value v[3] = {
	    {.index = 1, .perms = 0x0e, .type = IDN_SLICE("URL"), .data = IDN_SLICE("https://x")},
	    {.index = 2, .perms = 0x0c, .type = IDN_SLICE("EMAIL"), .data = IDN_SLICE("a@b")},
	    {.index = 3, .perms = 0x0e, .type = IDN_SLICE("VECTOR.NOTE"), .data = IDN_SLICE("n")},
	};
	put(t, "88.1000/demo1", v, 3);
	put(t, "88.1000/DEMO1", v, 1);
	put(t, "0.NA/88.1000", v, 2);
	if (store_txn_commit(t))
		abort();
	node_config cfg;
	node_config_init(&cfg);
	cfg.site_info = IDN_SLICE("\x00\x01\x02\x05");
	if (node_new(&cfg, st, &nd) || node_worker_new(nd, &wk) ||
	    node_logins_set_key(nd->conn_logins, 1, 10001, FUZZ_SM4_KEY))
		abort();
	/* The store directory is not needed on disk once open. */
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
}

/* Says what was wrong with an answer before aborting, for the crash report. */
static void bad_answer(int len, const char *why)
{
	fprintf(stderr, "fuzz_node: answer of %d bytes: %s\n", len, why);
	for (int i = 0; i < len && i < 64; i++)
		fprintf(stderr, "%02x%s", out[i], i % 16 == 15 ? "\n" : " ");
	fprintf(stderr, "\n");
	abort();
}

static void check_answer(int len)
{
	if (len == 0)
		return;
	if (len < 0)
		bad_answer(len, idn_strerror(len));
	if (len < PROTO_ENV_LEN + PROTO_HDR_LEN)
		bad_answer(len, "shorter than envelope + header");
	proto_env env;
	proto_msg m;
	if (proto_env_decode(out, (size_t)len, &env) ||
	    env.msg_len != (uint32_t)len - PROTO_ENV_LEN)
		bad_answer(len, "envelope");
	/* An answer encrypted in a session is opaque here. */
	if (!(env.flags & PROTO_ENV_ENCRYPTED) &&
	    proto_msg_decode(out + PROTO_ENV_LEN, (size_t)len - PROTO_ENV_LEN, &m))
		bad_answer(len, "message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!nd)
		init();

	/* The request path, as each transport would hand it over. */
	node_worker_conn(wk, 0);
	check_answer(node_answer(wk, NODE_UDP, data, size, out, sizeof(out)));
	node_worker_conn(wk, 1);
	check_answer(node_answer(wk, NODE_TCP, data, size, out, sizeof(out)));
	if (size >= PROTO_ENV_LEN)
		check_answer(node_bad_envelope(data, out, sizeof(out)));

	/* The codec's decoders on the body alone. */
	idn_slice body = idn_slice_of(data, size);
	proto_resolve_req rq;
	proto_resolve_resp rs;
	idn_slice msg;
	proto_resolve_req_decode(body, &rq);
	proto_login_req lr;
	proto_login_req_decode(body, &lr);
	proto_session_req sr;
	proto_session_req_decode(body, &sr);
	proto_resolve_resp_decode(body, &rs);
	proto_error_decode(body, &msg);
	record r;
	record_parse(body, &r);
	record_check(body);

	/* UDP framing. */
	proto_env env;
	proto_udp_check(data, size, PROTO_MSG_MAX, &env);
	return 0;
}
