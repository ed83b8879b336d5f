/*
 * test_identity.c - node/identity.h without a second node: op 201 answered by
 * node_answer() (valid, invalid, both digest forms, unknown handle or index,
 * every truncation of a body), and the refusals of a remote check that cannot
 * succeed: no root configured, a root address that does not parse, and a
 * root on loopback that never answers (IDN_ETIMEOUT within the bound); and
 * an admin request of an identity checked elsewhere, answered later from the
 * lookup's thread (node_answer_deferrable) or at once by node_answer.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/identity_lookup.h"
#include "proto/handle.h"
#include "node/identity.h"
#include "proto/admin.h"
#include "proto/record.h"

static char tmpdir[] = "/tmp/idn-ident-XXXXXX";
static store *st;
static node *nd;
static node_worker *wk;
static uint8_t out[PROTO_ENV_LEN + PROTO_MSG_MAX];
static const char SECRET[] = "unit-secret";

static void put_record(const char *h, const proto_value *vals, uint32_t n)
{
	static uint8_t rec[4096];
	int len = record_build(vals, n, rec, sizeof(rec));
	assert_true(len > 0);
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(idn_slice_of(h, strlen(h)), true, key);
	assert_true(klen > 0);
	store_txn *t;
	assert_int_equal(store_txn_begin(st, 0, &t), 0);
	assert_int_equal(
	    store_put(t, idn_slice_of(key, (size_t)klen), idn_slice_of(rec, (size_t)len), 0), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	store_opts so = {.no_sync = 1};
	assert_int_equal(store_open(tmpdir, &so, &st), 0);
	proto_value vals[2] = {
	    {.index = 300,
	     .ttl = 86400,
	     .perms = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE,
	     .type = IDN_SLICE("HS_SECKEY"),
	     .data = idn_slice_of(SECRET, strlen(SECRET))},
	    {.index = 1,
	     .ttl = 86400,
	     .perms = PROTO_PERM_PUBLIC_READ | PROTO_PERM_ADMIN_WRITE,
	     .type = IDN_SLICE("URL"),
	     .data = IDN_SLICE("https://example.com/")},
	};
	put_record("88.200/bob", vals, 2);
	node_config cfg;
	node_config_init(&cfg);
	assert_int_equal(node_new(&cfg, st, &nd), 0);
	assert_int_equal(node_worker_new(nd, &wk), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	node_worker_free(wk);
	node_free(nd);
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* The legacy HS_SECKEY response: u8 2 + SHA1(secret | nonce | digest | secret). */
static size_t legacy_mac(const char *secret, const uint8_t *nonce, const uint8_t *digest,
                         uint8_t resp[21])
{
	uint8_t in[128];
	size_t sl = strlen(secret), n = 0;
	assert_true(2 * sl + 48 <= sizeof(in));
	memcpy(in, secret, sl);
	n += sl;
	memcpy(in + n, nonce, 16);
	n += 16;
	memcpy(in + n, digest, 32);
	n += 32;
	memcpy(in + n, secret, sl);
	n += sl;
	resp[0] = PROTO_SECKEY_SHA1;
	unsigned int len = 0;
	assert_int_equal(EVP_Digest(in, n, resp + 1, &len, EVP_sha1(), NULL), 1);
	assert_int_equal(len, 20);
	return 21;
}

static size_t verify_body(uint8_t *buf, size_t cap, const char *h, uint32_t index,
                          const uint8_t *nonce, uint8_t digest_alg, const uint8_t *digest,
                          const uint8_t *resp, size_t rlen)
{
	wire_wr w = wire_wr_init(buf, cap);
	proto_verify_req r = {.handle = idn_slice_of(h, strlen(h)),
	                      .index = index,
	                      .nonce = idn_slice_of(nonce, 16),
	                      .digest_alg = digest_alg,
	                      .digest = idn_slice_of(digest, 32),
	                      .signed_resp = idn_slice_of(resp, rlen)};
	proto_verify_req_encode(&w, &r);
	assert_int_equal(w.err, 0);
	return wire_wr_len(&w);
}

/* Sends op 201 with body over UDP; returns the response code and the answer body. */
static uint32_t ask201(const uint8_t *body, size_t blen, idn_slice *ans)
{
	static uint8_t msg[8192];
	proto_env env = {.major = 2, .minor = 11, .request_id = 7};
	proto_hdr hdr = {.opcode = PROTO_OP_VERIFY_RESPONSE, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, msg, sizeof(msg), &env, &hdr);
	wire_put_data(&b.w, body, blen);
	int n = proto_build_end(&b, NULL, 0);
	assert_true(n > 0);
	int len = node_answer(wk, NODE_UDP, msg, (size_t)n, out, sizeof(out));
	assert_true(len > 0);
	proto_msg m;
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)len - PROTO_ENV_LEN, &m), 0);
	assert_int_equal(m.hdr.opcode, PROTO_OP_VERIFY_RESPONSE);
	if (ans)
		*ans = m.body;
	return m.hdr.rcode;
}

static void test_op201_served(void **state)
{
	(void)state;
	uint8_t nonce[16], digest[32], resp[21], body[512];
	for (int i = 0; i < 16; i++)
		nonce[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < 32; i++)
		digest[i] = (uint8_t)(255 - i);
	size_t rlen = legacy_mac(SECRET, nonce, digest, resp);
	idn_slice ans;
	bool valid;

	size_t n = verify_body(body, sizeof(body), "88.200/bob", 300, nonce, 0, digest, resp, rlen);
	assert_int_equal(ask201(body, n, &ans), PROTO_RC_SUCCESS);
	assert_int_equal(proto_verify_resp_decode(ans, &valid), 0);
	assert_true(valid);

	/* u8 algorithm + raw digest: the other form the reference decoder reads. */
	n = verify_body(body, sizeof(body), "88.200/bob", 300, nonce, PROTO_HASH_SHA256, digest,
	                resp, rlen);
	assert_int_equal(ask201(body, n, &ans), PROTO_RC_SUCCESS);
	assert_int_equal(proto_verify_resp_decode(ans, &valid), 0);
	assert_true(valid);

	/* Another secret, another digest: answered, not valid. */
	uint8_t bad[21];
	legacy_mac("guess", nonce, digest, bad);
	n = verify_body(body, sizeof(body), "88.200/bob", 300, nonce, 0, digest, bad, sizeof(bad));
	assert_int_equal(ask201(body, n, &ans), PROTO_RC_SUCCESS);
	assert_int_equal(proto_verify_resp_decode(ans, &valid), 0);
	assert_false(valid);
	uint8_t other[32];
	memcpy(other, digest, 32);
	other[0] ^= 1;
	n = verify_body(body, sizeof(body), "88.200/bob", 300, nonce, 0, other, resp, rlen);
	assert_int_equal(ask201(body, n, &ans), PROTO_RC_SUCCESS);
	assert_int_equal(proto_verify_resp_decode(ans, &valid), 0);
	assert_false(valid);

	n = verify_body(body, sizeof(body), "88.200/nobody", 300, nonce, 0, digest, resp, rlen);
	assert_int_equal(ask201(body, n, NULL), PROTO_RC_HANDLE_NOT_FOUND);
	n = verify_body(body, sizeof(body), "88.200/bob", 1, nonce, 0, digest, resp, rlen);
	assert_int_equal(ask201(body, n, NULL), PROTO_RC_VALUE_NOT_FOUND);

	/* Every truncation of a valid body: a protocol error, never a crash. */
	n = verify_body(body, sizeof(body), "88.200/bob", 300, nonce, 0, digest, resp, rlen);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(ask201(body, cut, NULL), PROTO_RC_PROTOCOL_ERROR);
}

static proto_chresp some_chresp(const char *h, const char *type)
{
	static uint8_t resp[21];
	uint8_t nonce[16] = {0}, digest[32] = {0};
	legacy_mac(SECRET, nonce, digest, resp);
	return (proto_chresp){.auth_type = idn_slice_of(type, strlen(type)),
	                      .handle = idn_slice_of(h, strlen(h)),
	                      .index = 300,
	                      .signed_resp = idn_slice_of(resp, sizeof(resp))};
}

static void test_no_root(void **state)
{
	(void)state;
	uint8_t nonce[16] = {0}, digest[32] = {0};
	char why[512];
	proto_chresp cr = some_chresp("88.300/elsewhere", "HS_SECKEY");
	int ret = node_identity_verify_remote(nd, &cr, idn_slice_of(nonce, 16),
	                                      idn_slice_of(digest, 32), why, sizeof(why));
	assert_int_equal(ret, IDN_ENOTFOUND);
	assert_non_null(strstr(why, "300:88.300/elsewhere"));
	assert_non_null(strstr(why, "no root configured"));

	client_identity_lookup_opts lo = {.root = "not an address:port:at all"};
	client_identity_lookup *bad = NULL;
	assert_int_equal(client_identity_lookup_new(&lo, &bad), IDN_ECONFIG);
	assert_null(bad);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A root that takes UDP packets and TCP connections and never answers. */
static void test_silent_root_times_out(void **state)
{
	(void)state;
	/* One port for both: the kernel picks a free UDP port, which another
	 * process may hold over TCP; then the next one is tried (bounded). */
	int u = -1, t = -1;
	struct sockaddr_in a;
	for (int tries = 0; tries < 50 && t < 0; tries++) {
		if (u >= 0)
			close(u);
		u = socket(AF_INET, SOCK_DGRAM, 0);
		t = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(u >= 0 && t >= 0);
		a = (struct sockaddr_in){.sin_family = AF_INET,
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t alen = sizeof(a);
		assert_int_equal(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(u, (struct sockaddr *)&a, &alen), 0);
		if (bind(t, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(t);
			t = -1;
		}
	}
	assert_true(t >= 0);
	assert_int_equal(listen(t, 8), 0);
	char root[32];
	snprintf(root, sizeof(root), "127.0.0.1:%u", ntohs(a.sin_port));

	client_identity_lookup_opts lo = {.root = root, .timeout_ms = 400, .case_sensitive = true};
	client_identity_lookup *lk;
	assert_int_equal(client_identity_lookup_new(&lo, &lk), 0);
	node_config cfg;
	node_config_init(&cfg);
	cfg.identity_lookup = client_identity_lookup_start;
	cfg.identity_lookup_arg = lk;
	node *n2;
	assert_int_equal(node_new(&cfg, st, &n2), 0);
	const char *types[] = {"HS_PUBKEY", "HS_SECKEY"};
	for (int i = 0; i < 2; i++) {
		uint8_t nonce[16] = {0}, digest[32] = {0};
		char why[512];
		proto_chresp cr = some_chresp("88.300/elsewhere", types[i]);
		double t0 = now_s();
		int ret = node_identity_verify_remote(n2, &cr, idn_slice_of(nonce, 16),
		                                      idn_slice_of(digest, 32), why, sizeof(why));
		double took = now_s() - t0;
		assert_int_equal(ret, IDN_ETIMEOUT);
		assert_non_null(strstr(why, "timeout"));
		assert_non_null(strstr(why, "88.300/elsewhere"));
		assert_true(took < 1.5);
	}
	assert_int_equal(client_identity_lookup_cached(lk), 0);
	node_free(n2);
	client_identity_lookup_free(lk);
	close(u);
	close(t);
}

/* ---- answering later (node_answer_deferrable) ---- */

/* A lookup that says yes from a thread of its own, as client_identity_lookup_start does. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls;
	char handle[64];
	pthread_t thread;
	node_identity_done_fn done;
	void *done_arg;
	uint8_t ans[1024];
	size_t len;
	bool answered;
} later = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *say_yes(void *arg)
{
	(void)arg;
	later.done(later.done_arg, IDN_OK, "");
	return NULL;
}

static int yes_lookup(void *arg, const proto_chresp *cr, idn_slice nonce, idn_slice digest,
                      node_identity_done_fn done, void *done_arg)
{
	(void)arg, (void)nonce, (void)digest;
	later.calls++;
	snprintf(later.handle, sizeof(later.handle), "%u:%.*s", cr->index, (int)cr->handle.len,
	         (const char *)cr->handle.p);
	later.done = done;
	later.done_arg = done_arg;
	return pthread_create(&later.thread, NULL, say_yes, NULL) ? IDN_ENOMEM : IDN_OK;
}

static void *defer_token(void *arg)
{
	return arg;
}

static void answer_later(void *token, const uint8_t *ans, size_t len)
{
	assert_ptr_equal(token, &later);
	pthread_mutex_lock(&later.mu);
	assert_true(len <= sizeof(later.ans));
	memcpy(later.ans, ans, len);
	later.len = len;
	later.answered = true;
	pthread_cond_signal(&later.cv);
	pthread_mutex_unlock(&later.mu);
}

static size_t admin_msg(uint8_t *buf, uint32_t op, uint32_t sid, uint32_t rid, const uint8_t *body,
                        size_t blen)
{
	proto_env env = {.major = 2, .minor = 5, .session_id = sid, .request_id = rid};
	proto_hdr hdr = {.opcode = op, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, buf, PROTO_ENV_LEN + PROTO_MSG_MAX, &env, &hdr);
	wire_put_data(&b.w, body, blen);
	int n = proto_build_end(&b, NULL, 0);
	assert_true(n > 0);
	return (size_t)n;
}

/*
 * Creates handle as 300:88.300/elsewhere (a server admin whose key lives on
 * another node): the 402, then op 200 with request id 8. Returns what
 * node_answer(_deferrable) returned for op 200.
 */
static int create_as_remote(node_worker *w, const char *handle, const node_later *nl)
{
	static uint8_t msg[1024];
	uint8_t body[512];
	wire_wr bw = wire_wr_init(body, sizeof(body));
	proto_value v = {
	    .index = 1, .perms = 0x0e, .type = IDN_SLICE("URL"), .data = IDN_SLICE("x")};
	proto_values_req_encode(&bw, idn_slice_of(handle, strlen(handle)), &v, 1);
	size_t len = admin_msg(msg, PROTO_OP_CREATE_HANDLE, 0, 7, body, wire_wr_len(&bw));
	int n = node_answer(w, NODE_TCP, msg, len, out, sizeof(out));
	assert_true(n > PROTO_ENV_LEN);
	assert_int_equal(idn_be32(out + PROTO_ENV_LEN + 4), PROTO_RC_AUTHENTICATION_NEEDED);
	uint32_t sid = idn_be32(out + 4);

	proto_chresp cr = some_chresp("88.300/elsewhere", "HS_SECKEY");
	bw = wire_wr_init(body, sizeof(body));
	proto_chresp_encode(&bw, &cr);
	len = admin_msg(msg, PROTO_OP_CHALLENGE_RESPONSE, sid, 8, body, wire_wr_len(&bw));
	return nl ? node_answer_deferrable(w, NODE_TCP, msg, len, out, sizeof(out), nl)
	          : node_answer(w, NODE_TCP, msg, len, out, sizeof(out));
}

static void test_answered_later(void **state)
{
	(void)state;
	store_txn *t;
	assert_int_equal(store_txn_begin(st, 0, &t), 0);
	assert_int_equal(store_home(t, IDN_SLICE("88.100")), 0);
	assert_int_equal(store_txn_commit(t), 0);
	static const char *const admins[] = {"300:88.300/elsewhere"};
	node_config cfg;
	node_config_init(&cfg);
	cfg.server_admins = admins;
	cfg.nserver_admins = 1;
	cfg.identity_lookup = yes_lookup;
	node *n3;
	node_worker *w3;
	assert_int_equal(node_new(&cfg, st, &n3), 0);
	assert_int_equal(node_worker_new(n3, &w3), 0);

	/* Deferred: nothing now, the answer comes from the lookup's thread. */
	node_later nl = {defer_token, &later, answer_later};
	assert_int_equal(create_as_remote(w3, "88.100/later", &nl), 0);
	pthread_mutex_lock(&later.mu);
	while (!later.answered)
		pthread_cond_wait(&later.cv, &later.mu);
	pthread_mutex_unlock(&later.mu);
	pthread_join(later.thread, NULL);
	assert_int_equal(later.calls, 1);
	assert_string_equal(later.handle, "300:88.300/elsewhere");
	assert_true(later.len > PROTO_ENV_LEN + 8);
	assert_int_equal(idn_be32(later.ans + 8), 8); /* op 200's request id */
	assert_int_equal(idn_be32(later.ans + PROTO_ENV_LEN + 4), PROTO_RC_SUCCESS);

	/* A caller that cannot answer later gets the answer from node_answer, as before. */
	int n = create_as_remote(w3, "88.100/now", NULL);
	pthread_join(later.thread, NULL);
	assert_int_equal(later.calls, 2);
	assert_true(n > PROTO_ENV_LEN + 8);
	assert_int_equal(idn_be32(out + PROTO_ENV_LEN + 4), PROTO_RC_SUCCESS);

	/* Both were written. */
	assert_int_equal(store_txn_begin(st, STORE_RDONLY, &t), 0);
	const char *made[] = {"88.100/later", "88.100/now"};
	for (int i = 0; i < 2; i++) {
		uint8_t key[HANDLE_KEY_MAX];
		int klen = handle_key(idn_slice_of(made[i], strlen(made[i])), true, key);
		idn_slice raw;
		assert_int_equal(store_get(t, idn_slice_of(key, (size_t)klen), &raw), 0);
	}
	store_txn_abort(t);
	node_worker_free(w3);
	node_free(n3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_op201_served),
	    cmocka_unit_test(test_no_root),
	    cmocka_unit_test(test_silent_root_times_out),
	    cmocka_unit_test(test_answered_later),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
