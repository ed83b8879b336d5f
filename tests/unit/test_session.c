/*
 * test_session.c - Handle protocol sessions: the cryptography
 * (auth/session_crypto.h) against independent computations, and the server
 * path (node/session.h) through node_answer(): the captured 9.3.1 setup
 * (x98), a whole session (setup, 402 in the session, op 200, MACed requests
 * without challenge, encryption, terminate), and the refusals (replayed
 * counter, forged MAC, missing MAC, expired session, unknown mode).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "auth/session_crypto.h"
#include "auth/sign.h"
#include "client/admin_auth.h"
#include "client/session.h"
#include "node/node.h"
#include "node/session.h"
#include "proto/admin.h"
#include "proto/cred.h"
#include "proto/record.h"
#include "client/client.h"
#include "vectors.h"

/* ---- the cryptography ---- */

static void test_dh_agreement(void **state)
{
	(void)state;
	EVP_PKEY *client = NULL, *server = NULL, *cpub = NULL, *spub = NULL;
	assert_int_equal(auth_dh_keygen(NULL, &client), 0);
	uint8_t buf[1200];
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	assert_int_equal(auth_dh_pub_encode(client, &w), 0);
	/* The client's key as the server reads it off the wire, and a pair in its group. */
	assert_int_equal(auth_dh_pub_decode(idn_slice_of(buf, wire_wr_len(&w)), &cpub), 0);
	assert_int_equal(auth_dh_keygen(cpub, &server), 0);
	wire_wr w2 = wire_wr_init(buf, sizeof(buf));
	assert_int_equal(auth_dh_pub_encode(server, &w2), 0);
	assert_int_equal(auth_dh_pub_decode(idn_slice_of(buf, wire_wr_len(&w2)), &spub), 0);
	uint8_t k1[32], k2[32];
	size_t l1 = 0, l2 = 0;
	assert_int_equal(auth_dh_session_key(server, cpub, k1, &l1), 0);
	assert_int_equal(auth_dh_session_key(client, spub, k2, &l2), 0);
	assert_int_equal(l1, 32);
	assert_int_equal(l2, 32);
	assert_memory_equal(k1, k2, 32);

	/* A key from another group does not agree. */
	EVP_PKEY *other = NULL;
	uint8_t k3[32];
	size_t l3 = 0;
	assert_int_equal(auth_dh_keygen(NULL, &other), 0);
	assert_int_equal(auth_dh_session_key(other, spub, k3, &l3), 0);
	assert_memory_not_equal(k1, k3, 32);

	/* Malformed keys are refused, not crashed on. */
	EVP_PKEY *bad = NULL;
	assert_int_not_equal(auth_dh_pub_decode(IDN_SLICE("\0\0\0\x0a"
	                                                  "DH_PUB_KEY"),
	                                        &bad),
	                     0);
	assert_int_not_equal(auth_dh_pub_decode(idn_slice_of(buf, wire_wr_len(&w2) - 1), &bad), 0);
	EVP_PKEY_free(client);
	EVP_PKEY_free(server);
	EVP_PKEY_free(cpub);
	EVP_PKEY_free(spub);
	EVP_PKEY_free(other);
}

static void test_key_derivation(void **state)
{
	(void)state;
	uint8_t secret[128], key[32];
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i + 1);
	/* Leading zeros go while more than 32 bytes remain; then the first 32. */
	memset(secret, 0, 3);
	assert_int_equal(auth_session_key_from_secret(secret, 128, key), 32);
	assert_memory_equal(key, secret + 3, 32);
	/* 34 bytes with 3 leading zeros: only 2 can go, the key starts with a zero. */
	assert_int_equal(auth_session_key_from_secret(secret, 34, key), 32);
	assert_memory_equal(key, secret + 2, 32);
	assert_int_equal(key[0], 0);
	/* No leading zero: the first 32 bytes as they are. */
	secret[0] = 0x80;
	assert_int_equal(auth_session_key_from_secret(secret, 128, key), 32);
	assert_memory_equal(key, secret, 32);
	/* A secret shorter than a key is kept whole. */
	assert_int_equal(auth_session_key_from_secret(secret + 100, 20, key), 20);
	assert_memory_equal(key, secret + 100, 20);
}

static void test_mac_known(void **state)
{
	(void)state;
	uint8_t key[32], hb[60];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0xA0 + i);
	for (int i = 0; i < 60; i++)
		hb[i] = (uint8_t)(i * 7);
	for (int v = 7; v <= 11; v += 4) {
		auth_msg_ctx c = {.major = 2,
		                  .minor = (uint8_t)v,
		                  .sugg_major = 2,
		                  .sugg_minor = 11,
		                  .session_id = 0x01020304,
		                  .request_id = 0x0a0b0c0d,
		                  .counter = 77};
		uint8_t cred[256];
		wire_wr w = wire_wr_init(cred, sizeof(cred));
		assert_int_equal(auth_mac_cred(key, 32, &c, idn_slice_of(hb, 60), &w), 0);

		/* Expected, computed here: HMAC-SHA256 over version bytes, ids, counter, hb. */
		uint8_t data[128];
		size_t n = 0;
		data[n++] = 2;
		data[n++] = (uint8_t)v;
		if (v >= 8) {
			data[n++] = 2;
			data[n++] = 11;
		}
		idn_put_be32(data + n, 0x01020304);
		idn_put_be32(data + n + 4, 0x0a0b0c0d);
		idn_put_be32(data + n + 8, 77);
		n += 12;
		memcpy(data + n, hb, 60);
		n += 60;
		uint8_t want[32];
		unsigned wlen = 0;
		assert_non_null(HMAC(EVP_sha256(), key, 32, data, n, want, &wlen));

		proto_cred cr;
		assert_int_equal(proto_cred_decode(idn_slice_of(cred, wire_wr_len(&w)), &cr), 0);
		assert_true(idn_slice_eq(cr.type, IDN_SLICE("HS_MAC")));
		assert_true(idn_slice_eq(cr.hash_alg, IDN_SLICE("HMAC-SHA256")));
		assert_int_equal(cr.signer_index, 77);
		assert_int_equal(cr.sig.len, 32);
		assert_memory_equal(cr.sig.p, want, 32);
		assert_int_equal(auth_mac_check(key, 32, &c, idn_slice_of(hb, 60), &cr), 0);
		/* Another counter, request id or one changed byte: refused. */
		auth_msg_ctx c2 = c;
		c2.request_id++;
		assert_int_equal(auth_mac_check(key, 32, &c2, idn_slice_of(hb, 60), &cr),
		                 IDN_EMISMATCH);
		hb[30] ^= 1;
		assert_int_equal(auth_mac_check(key, 32, &c, idn_slice_of(hb, 60), &cr),
		                 IDN_EMISMATCH);
		hb[30] ^= 1;
		key[0] ^= 1;
		assert_int_equal(auth_mac_check(key, 32, &c, idn_slice_of(hb, 60), &cr),
		                 IDN_EMISMATCH);
		key[0] ^= 1;
	}
	/* The 2.5 form: a SHA-1 digest over the reference's overlapping layout. */
	auth_msg_ctx c5 = {.major = 2, .minor = 5, .session_id = 9, .request_id = 10, .counter = 3};
	uint8_t cred[256];
	wire_wr w = wire_wr_init(cred, sizeof(cred));
	assert_int_equal(auth_mac_cred(key, 32, &c5, idn_slice_of(hb, 60), &w), 0);
	uint8_t buf[2 * 32 + 60 + 14] = {0};
	memcpy(buf, key, 4); /* what survives of the first key copy */
	memcpy(buf + 4, hb, 60);
	memcpy(buf + 64, key, 32);
	uint8_t want[20];
	unsigned wl = 0;
	assert_int_equal(EVP_Digest(buf, sizeof(buf), want, &wl, EVP_sha1(), NULL), 1);
	proto_cred cr;
	assert_int_equal(proto_cred_decode(idn_slice_of(cred, wire_wr_len(&w)), &cr), 0);
	assert_int_equal(cr.sig.len, 20);
	assert_memory_equal(cr.sig.p, want, 20);
	/* Below 2.5: not spoken. */
	c5.minor = 4;
	w = wire_wr_init(cred, sizeof(cred));
	assert_int_equal(auth_mac_cred(key, 32, &c5, idn_slice_of(hb, 60), &w), IDN_EVERSION);
}

static void test_aes(void **state)
{
	(void)state;
	uint8_t key[16], in[100], enc[200], dec[200];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)(i * 3);
	for (int i = 0; i < 100; i++)
		in[i] = (uint8_t)i;
	static const size_t lens[] = {0, 1, 15, 16, 17, 100};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t el = 0, dl = 0;
		assert_int_equal(auth_session_encrypt(key, in, lens[k], enc, sizeof(enc), &el), 0);
		/* IV, then whole blocks with at least one byte of padding */
		assert_int_equal(el, 16 + (lens[k] / 16 + 1) * 16);
		assert_int_equal(auth_session_decrypt(key, enc, el, dec, sizeof(dec), &dl), 0);
		assert_int_equal(dl, lens[k]);
		if (dl)
			assert_memory_equal(dec, in, dl);
		/* Independently: AES-128-CBC with the first block as IV. */
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
		int a = 0, b = 0;
		assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, enc), 1);
		assert_int_equal(EVP_DecryptUpdate(c, dec, &a, enc + 16, (int)el - 16), 1);
		assert_int_equal(EVP_DecryptFinal_ex(c, dec + a, &b), 1);
		EVP_CIPHER_CTX_free(c);
		assert_int_equal((size_t)(a + b), lens[k]);
	}
	size_t dl;
	/* Lengths that are not IV + whole blocks. */
	assert_int_equal(auth_session_decrypt(key, enc, 31, dec, sizeof(dec), &dl), IDN_EINVAL);
	assert_int_equal(auth_session_decrypt(key, enc, 16, dec, sizeof(dec), &dl), IDN_EINVAL);
	assert_int_equal(auth_session_decrypt(key, enc, 40, dec, sizeof(dec), &dl), IDN_EINVAL);
	/* A last block whose plaintext ends in 0x00 is bad PKCS#5 padding. */
	uint8_t blk[32] = {0}, raw[16];
	memset(raw, 0x41, 16);
	raw[15] = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int a = 0;
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, blk), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_EncryptUpdate(c, blk + 16, &a, raw, 16), 1);
	EVP_CIPHER_CTX_free(c);
	assert_int_equal(auth_session_decrypt(key, blk, 32, dec, sizeof(dec), &dl), IDN_EMISMATCH);
	/* Too small an output buffer. */
	assert_int_equal(auth_session_encrypt(key, in, 100, enc, 120, &dl), IDN_ESPACE);
}

/* ---- the server ---- */

static char tmpdir[] = "/tmp/idn-sess-XXXXXX";
static store *st;
static node *nd;
static node_worker *wk;
static auth_key *server_key;
static EVP_PKEY *server_pub, *admin_priv;
static uint32_t now = 1795900000;
static uint8_t out[PROTO_ENV_LEN + PROTO_MSG_MAX];
static const char *const server_admins[] = {"300:0.NA/88.1000"};

static uint32_t test_clock(void)
{
	return now;
}

static EVP_PKEY *read_key(const char *name, bool priv)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/vectors/keys/%s", tvec_shared_dir(), name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	EVP_PKEY *k =
	    priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

/* 0.NA/88.1000 as the reference served it (x61): HS_ADMIN and the admin's HS_PUBKEY. */
static void seed(void)
{
	static uint8_t rec[8192];
	size_t n = tvec_prefix_record(rec, sizeof(rec));
	store_txn *t;
	assert_int_equal(store_txn_begin(st, 0, &t), 0);
	assert_int_equal(store_home(t, IDN_SLICE("88.1000")), 0);
	assert_int_equal(store_put(t, IDN_SLICE("0.NA/88.1000"), idn_slice_of(rec, n), 0), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	store_opts so = {.no_sync = 1};
	assert_int_equal(store_open(tmpdir, &so, &st), 0);
	seed();
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/vectors/keys/server_rsa_priv_pkcs8.pem",
	         tvec_shared_dir());
	assert_int_equal(auth_key_load(path, &server_key, err, sizeof(err)), 0);
	server_pub = read_key("server_rsa_pub_spki.pem", false);
	admin_priv = read_key("admin_rsa_priv_pkcs8.pem", true);
	node_config cfg;
	node_config_init(&cfg);
	cfg.case_sensitive = false;
	cfg.clock = test_clock;
	cfg.sign = auth_sign_answer;
	cfg.sign_arg = server_key;
	cfg.server_admins = server_admins;
	cfg.nserver_admins = 1;
	cfg.max_session_time = 600;
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
	auth_key_free(server_key);
	EVP_PKEY_free(server_pub);
	EVP_PKEY_free(admin_priv);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static bool stored(const char *handle)
{
	store_txn *t;
	idn_slice raw;
	char key[256];
	size_t n = strlen(handle);
	for (size_t i = 0; i <= n; i++) /* this node is case-insensitive: keys upper-cased */
		key[i] = (char)(handle[i] >= 'a' && handle[i] <= 'z' ? handle[i] - 32 : handle[i]);
	assert_int_equal(store_txn_begin(st, STORE_RDONLY, &t), 0);
	int ret = store_get(t, idn_slice_of(key, n), &raw);
	store_txn_abort(t);
	return ret == 0;
}

/* The server's HS_SIGNED over an answer: from 2.6 the envelope fields come first. */
static void verify_server_sig(const uint8_t *ans, size_t len)
{
	proto_env env;
	proto_msg m;
	proto_cred cr;
	assert_int_equal(proto_env_decode(ans, len, &env), 0);
	assert_int_equal(proto_msg_decode(ans + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &m), 0);
	assert_int_equal(proto_cred_decode(m.cred, &cr), 0);
	assert_true(idn_slice_eq(cr.type, IDN_SLICE("HS_SIGNED")));
	uint8_t data[PROTO_MSG_MAX];
	size_t n = 0;
	if (env.minor >= 7) {
		data[n++] = env.major;
		data[n++] = env.minor;
		if (env.minor >= 8) {
			data[n++] = env.flags & 3;
			data[n++] = env.sugg_minor;
		}
		idn_put_be32(data + n, env.session_id);
		idn_put_be32(data + n + 4, env.request_id);
		idn_put_be32(data + n + 8, cr.signer_index);
		n += 12;
	}
	memcpy(data + n, m.hb.p, m.hb.len);
	n += m.hb.len;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	const EVP_MD *md = env.minor >= 7 ? EVP_sha256() : EVP_sha1();
	assert_int_equal(EVP_DigestVerifyInit(c, NULL, md, NULL, server_pub), 1);
	assert_int_equal(EVP_DigestVerify(c, cr.sig.p, cr.sig.len, data, n), 1);
	EVP_MD_CTX_free(c);
}

static void test_x98_setup(void **state)
{
	(void)state;
	const struct tvec *v = tvec_find("x98-session-setup-java/01-request");
	assert_non_null(v);
	static uint8_t rqbuf[1024];
	memcpy(rqbuf, v->bytes, v->len);
	proto_msg rm;
	assert_int_equal(proto_msg_decode(rqbuf + PROTO_ENV_LEN, v->len - PROTO_ENV_LEN, &rm), 0);
	size_t before = node_sessions_count(nd);
	int len = node_answer(wk, NODE_UDP, rqbuf, v->len, out, sizeof(out));
	assert_true(len > 0);
	proto_env env;
	proto_msg m;
	assert_int_equal(proto_env_decode(out, (size_t)len, &env), 0);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)len - PROTO_ENV_LEN, &m), 0);
	assert_int_equal(m.hdr.rcode, PROTO_RC_SUCCESS);
	assert_int_equal(m.hdr.opcode, PROTO_OP_SESSION_SETUP);
	assert_int_equal(env.request_id, idn_be32(v->bytes + 8));
	assert_int_equal(env.minor, 5); /* the request's version */
	assert_int_not_equal(env.session_id, 0);
	assert_true(env.session_id < 0x80000000u);
	/* RD: the SHA-1 of the captured request; then mode 4 and int4 3 + our DH_PUB_KEY. */
	uint8_t alg;
	idn_slice dg, body;
	assert_int_equal(proto_answer_split(m.body, true, &alg, &dg, &body), 0);
	uint8_t want[32];
	assert_int_equal(proto_digest(alg, rm.hb.p, rm.hb.len, want), 0);
	assert_int_equal(alg, PROTO_HASH_SHA1);
	assert_memory_equal(dg.p, want, 20);
	proto_session_resp sr;
	assert_int_equal(proto_session_resp_decode(body, &sr), 0);
	assert_int_equal(sr.mode, PROTO_KX_DH);
	assert_int_equal(idn_be32(sr.data.p), 3);
	EVP_PKEY *pub = NULL;
	assert_int_equal(auth_dh_pub_decode(idn_slice_of(sr.data.p + 4, sr.data.len - 4), &pub), 0);
	/* In the client's group (the 1024-bit Oakley prime, g = 2). */
	BIGNUM *p = NULL;
	assert_int_equal(EVP_PKEY_get_bn_param(pub, "p", &p), 1);
	assert_int_equal(BN_num_bits(p), 1024);
	BN_free(p);
	EVP_PKEY_free(pub);
	verify_server_sig(out, (size_t)len);
	assert_int_equal(node_sessions_count(nd), before + 1);
}

/* ---- a client, written here from the protocol facts ---- */

typedef struct sess {
	uint32_t id;
	uint8_t key[32];
	size_t klen;
	uint32_t ctr;
} sess;

static void setup_session(sess *s, uint32_t timeout, uint16_t mode)
{
	EVP_PKEY *mine = NULL, *peer = NULL;
	assert_int_equal(auth_dh_keygen(NULL, &mine), 0);
	uint8_t pk[1024];
	wire_wr pw = wire_wr_init(pk, sizeof(pk));
	assert_int_equal(auth_dh_pub_encode(mine, &pw), 0);
	proto_session_req r = {.mode = mode,
	                       .timeout = timeout,
	                       .identity = IDN_SLICE("0.NA/88.1000"),
	                       .identity_index = 300,
	                       .pubkey = idn_slice_of(pk, wire_wr_len(&pw))};
	static uint8_t rqbuf[2048];
	proto_env env = {.major = 2, .minor = 11, .flags = 2, .sugg_minor = 11, .request_id = 4242};
	proto_hdr hdr = {.opcode = 400, .flags = PROTO_F_CT | PROTO_F_RD, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, rqbuf, sizeof(rqbuf), &env, &hdr);
	proto_session_req_encode(&b.w, &r);
	int len = proto_build_end(&b, NULL, 0);
	assert_true(len > 0);
	int alen = node_answer(wk, NODE_TCP, rqbuf, (size_t)len, out, sizeof(out));
	assert_true(alen > 0);
	proto_env aenv;
	proto_msg m;
	assert_int_equal(proto_env_decode(out, (size_t)alen, &aenv), 0);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)alen - PROTO_ENV_LEN, &m),
	                 0);
	if (mode != PROTO_KX_DH) {
		assert_int_equal(m.hdr.rcode, PROTO_RC_SESSION_FAILED);
		s->id = 0;
		EVP_PKEY_free(mine);
		return;
	}
	assert_int_equal(m.hdr.rcode, PROTO_RC_SUCCESS);
	verify_server_sig(out, (size_t)alen); /* 2.11: over envelope fields + header + body */
	idn_slice body;
	assert_int_equal(proto_answer_split(m.body, true, NULL, NULL, &body), 0);
	proto_session_resp sr;
	assert_int_equal(proto_session_resp_decode(body, &sr), 0);
	assert_int_equal(auth_dh_pub_decode(idn_slice_of(sr.data.p + 4, sr.data.len - 4), &peer),
	                 0);
	assert_int_equal(auth_dh_session_key(mine, peer, s->key, &s->klen), 0);
	s->id = aenv.session_id;
	s->ctr = 0;
	EVP_PKEY_free(mine);
	EVP_PKEY_free(peer);
}

/* Puts a credential-less request in session s: id, HS_MAC with counter ctr (0: none), encrypted. */
static size_t wrap(const sess *s, const uint8_t *rqbuf, size_t len, uint32_t ctr, bool enc,
                   bool forge, uint8_t *dst)
{
	proto_env env;
	proto_msg m;
	assert_int_equal(proto_env_decode(rqbuf, len, &env), 0);
	assert_int_equal(proto_msg_decode(rqbuf + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &m), 0);
	static uint8_t msg[PROTO_MSG_MAX];
	memcpy(msg, m.hb.p, m.hb.len);
	size_t n = m.hb.len;
	uint8_t cred[256];
	wire_wr cw = wire_wr_init(cred, sizeof(cred));
	if (ctr) {
		auth_msg_ctx c = {2, env.minor, 2, 11, s->id, env.request_id, ctr};
		assert_int_equal(auth_mac_cred(s->key, s->klen, &c, m.hb, &cw), 0);
		if (forge)
			cred[wire_wr_len(&cw) - 1] ^= 0x01;
	}
	idn_put_be32(msg + n, (uint32_t)wire_wr_len(&cw));
	memcpy(msg + n + 4, cred, wire_wr_len(&cw));
	n += 4 + wire_wr_len(&cw);
	env.session_id = s->id;
	env.flags = 2;
	env.sugg_minor = 11;
	if (enc) {
		size_t cl = 0;
		assert_int_equal(
		    auth_session_encrypt(s->key, msg, n, dst + PROTO_ENV_LEN, PROTO_MSG_MAX, &cl),
		    0);
		n = cl;
		env.flags |= PROTO_ENV_ENCRYPTED;
	} else {
		memcpy(dst + PROTO_ENV_LEN, msg, n);
	}
	env.msg_len = (uint32_t)n;
	proto_env_encode(&env, dst);
	return PROTO_ENV_LEN + n;
}

/* Sends, and reads the answer: decrypted into *plain when it came encrypted; MAC checked. */
static uint32_t exchange(const sess *s, const uint8_t *rqbuf, size_t len, proto_env *aenv,
                         proto_msg *m, bool *was_enc)
{
	static uint8_t plain[PROTO_ENV_LEN + PROTO_MSG_MAX];
	int alen = node_answer(wk, NODE_TCP, rqbuf, len, out, sizeof(out));
	assert_true(alen > 0);
	assert_int_equal(proto_env_decode(out, (size_t)alen, aenv), 0);
	const uint8_t *a = out;
	*was_enc = aenv->flags & PROTO_ENV_ENCRYPTED;
	if (*was_enc) {
		size_t pl = 0;
		assert_int_equal(auth_session_decrypt(s->key, out + PROTO_ENV_LEN,
		                                      (size_t)alen - PROTO_ENV_LEN,
		                                      plain + PROTO_ENV_LEN, PROTO_MSG_MAX, &pl),
		                 0);
		memcpy(plain, out, PROTO_ENV_LEN);
		alen = (int)(PROTO_ENV_LEN + pl);
		a = plain;
	}
	assert_int_equal(proto_msg_decode(a + PROTO_ENV_LEN, (size_t)alen - PROTO_ENV_LEN, m), 0);
	assert_int_equal(aenv->request_id, idn_be32(rqbuf + 8));
	if (m->cred.len) {
		proto_cred cr;
		assert_int_equal(proto_cred_decode(m->cred, &cr), 0);
		if (idn_slice_eq(cr.type, IDN_SLICE("HS_MAC"))) {
			auth_msg_ctx c = {aenv->major,
			                  aenv->minor,
			                  aenv->flags & 3,
			                  aenv->sugg_minor,
			                  aenv->session_id,
			                  aenv->request_id,
			                  0};
			assert_int_equal(auth_mac_check(s->key, s->klen, &c, m->hb, &cr), 0);
		}
	}
	return m->hdr.rcode;
}

static size_t create_req(uint8_t *buf, const char *handle, uint32_t rid)
{
	proto_value v = {.index = 1,
	                 .ttl = 86400,
	                 .perms = 0x0e,
	                 .type = IDN_SLICE("URL"),
	                 .data = IDN_SLICE("https://example.org/")};
	proto_env env = {.major = 2, .minor = 11, .request_id = rid};
	proto_hdr hdr = {.opcode = PROTO_OP_CREATE_HANDLE,
	                 .flags = PROTO_F_CT | PROTO_F_REC | PROTO_F_CA,
	                 .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, buf, 4096, &env, &hdr);
	proto_values_req_encode(&b.w, idn_slice_of(handle, strlen(handle)), &v, 1);
	int len = proto_build_end(&b, NULL, 0);
	assert_true(len > 0);
	return (size_t)len;
}

static bool has_mac(const proto_msg *m)
{
	proto_cred cr;
	return m->cred.len && !proto_cred_decode(m->cred, &cr) &&
	       idn_slice_eq(cr.type, IDN_SLICE("HS_MAC"));
}

static void test_session_flow(void **state)
{
	(void)state;
	static uint8_t rqbuf[8192], w[8192];
	proto_env aenv;
	proto_msg m;
	bool enc;
	sess s;
	setup_session(&s, 120, PROTO_KX_DH);
	assert_int_not_equal(s.id, 0);

	/* The first admin request in the session is challenged in the session. */
	size_t len = create_req(rqbuf, "88.1000/sess1", 101);
	size_t wl = wrap(&s, rqbuf, len, ++s.ctr, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_AUTHENTICATION_NEEDED);
	assert_int_equal(aenv.session_id, s.id);
	assert_true(has_mac(&m));
	assert_false(stored("88.1000/sess1"));

	/* op 200 in the session: the held request runs, answered with op 200's id. */
	client_identity id = {.index = 300, .handle = IDN_SLICE("0.NA/88.1000"), .key = admin_priv};
	uint8_t *creq = NULL;
	size_t clen = 0;
	assert_int_equal(client_admin_challenge_answer(&id, &aenv, &m, &creq, &clen), 0);
	assert_int_equal(idn_be32(creq + 4), s.id);
	wl = wrap(&s, creq, clen, 0, false, false, w);
	free(creq);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SUCCESS);
	assert_int_equal(m.hdr.opcode, PROTO_OP_CREATE_HANDLE);
	assert_true(has_mac(&m));
	assert_true(stored("88.1000/sess1"));

	/* Authenticated: the next one runs straight away. */
	len = create_req(rqbuf, "88.1000/sess2", 102);
	wl = wrap(&s, rqbuf, len, ++s.ctr, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SUCCESS);
	assert_true(stored("88.1000/sess2"));

	/* A replayed counter: 505, nothing written. */
	len = create_req(rqbuf, "88.1000/sess3", 103);
	wl = wrap(&s, rqbuf, len, s.ctr, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SESSION_COUNTER);
	assert_false(stored("88.1000/sess3"));
	/* The very same bytes again (a replay of the message that succeeded). */
	len = create_req(rqbuf, "88.1000/sess2", 102);
	wl = wrap(&s, rqbuf, len, 2, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SESSION_COUNTER);

	/* A forged MAC: 502, nothing written. */
	len = create_req(rqbuf, "88.1000/sess3", 104);
	wl = wrap(&s, rqbuf, len, ++s.ctr, false, true, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SESSION_NO_KEY);
	assert_false(stored("88.1000/sess3"));
	/* No MAC at all: 404. */
	wl = wrap(&s, rqbuf, len, 0, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_INVALID_CREDENTIAL);
	assert_false(stored("88.1000/sess3"));

	/* Encrypted request: answered encrypted, with a MAC inside. */
	len = create_req(rqbuf, "88.1000/sess4", 105);
	wl = wrap(&s, rqbuf, len, ++s.ctr, true, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SUCCESS);
	assert_true(enc);
	assert_true(has_mac(&m));
	assert_true(stored("88.1000/sess4"));
	/* Garbage that does not decrypt: refused, nothing written. */
	w[wl - 1] ^= 0x55;
	int alen = node_answer(wk, NODE_TCP, w, wl, out, sizeof(out));
	assert_true(alen > 0);
	assert_int_equal(idn_be32(out + PROTO_ENV_LEN + 4), PROTO_RC_SESSION_NO_KEY);

	/* Terminate (MACed), then the session is gone: 500. */
	proto_env tenv = {.major = 2, .minor = 11, .request_id = 106};
	proto_hdr thdr = {.opcode = PROTO_OP_SESSION_TERMINATE, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, rqbuf, sizeof(rqbuf), &tenv, &thdr);
	len = (size_t)proto_build_end(&b, NULL, 0);
	wl = wrap(&s, rqbuf, len, ++s.ctr, false, true, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SESSION_NO_KEY);
	wl = wrap(&s, rqbuf, len, ++s.ctr, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SUCCESS);
	len = create_req(rqbuf, "88.1000/sess5", 107);
	wl = wrap(&s, rqbuf, len, ++s.ctr, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SESSION_TIMEOUT);
	assert_false(stored("88.1000/sess5"));
}

static void test_session_expiry(void **state)
{
	(void)state;
	static uint8_t rqbuf[8192], w[8192];
	proto_env aenv;
	proto_msg m;
	bool enc;
	sess s;
	setup_session(&s, 30, PROTO_KX_DH);
	size_t len = create_req(rqbuf, "88.1000/exp1", 201);
	size_t wl = wrap(&s, rqbuf, len, ++s.ctr, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_AUTHENTICATION_NEEDED);
	now += 31; /* idle longer than the 30 s asked for */
	wl = wrap(&s, rqbuf, len, ++s.ctr, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SESSION_TIMEOUT);
	assert_false(stored("88.1000/exp1"));
	/* A timeout over the node's maximum (600 s) is capped. */
	setup_session(&s, 100000, PROTO_KX_DH);
	now += 601;
	wl = wrap(&s, rqbuf, len, ++s.ctr, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SESSION_TIMEOUT);
	/* An unknown session id. */
	s.id = 0x01234567;
	wl = wrap(&s, rqbuf, len, 1, false, false, w);
	assert_int_equal(exchange(&s, w, wl, &aenv, &m, &enc), PROTO_RC_SESSION_TIMEOUT);
	/* Other key exchange modes: 501. */
	setup_session(&s, 30, PROTO_KX_CIPHER_SERVER);
}

/* ---- the client (client/session.h) against the node over loopback TCP ---- */

static int listen_fd = -1;

static bool read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* One connection: requests answered by node_answer() until the client closes (or 5 s idle). */
static void *serve_one(void *arg)
{
	(void)arg;
	static uint8_t in[PROTO_ENV_LEN + PROTO_MSG_MAX], ans[PROTO_ENV_LEN + PROTO_MSG_MAX];
	node_worker *w = NULL;
	if (node_worker_new(nd, &w))
		return NULL;
	int fd = accept(listen_fd, NULL, NULL);
	if (fd >= 0) {
		struct timeval tv = {.tv_sec = 5};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (read_full(fd, in, PROTO_ENV_LEN)) {
			uint32_t ml = idn_be32(in + 16);
			if (ml > PROTO_MSG_MAX || !read_full(fd, in + PROTO_ENV_LEN, ml))
				break;
			int n = node_answer(w, NODE_TCP, in, PROTO_ENV_LEN + ml, ans, sizeof(ans));
			if (n <= 0 || send(fd, ans, (size_t)n, MSG_NOSIGNAL) != n)
				break;
		}
		close(fd);
	}
	node_worker_free(w);
	return NULL;
}

/* Starts a one-connection server; *addr where it listens. */
static pthread_t start_server(client_addr *addr)
{
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(listen_fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(listen_fd, 1), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&sa, &sl), 0);
	char s[64];
	snprintf(s, sizeof(s), "127.0.0.1:%u", ntohs(sa.sin_port));
	assert_int_equal(client_addr_parse(s, 2641, addr, NULL, 0), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, serve_one, NULL), 0);
	return t;
}

static void stop_server(pthread_t t)
{
	pthread_join(t, NULL);
	close(listen_fd);
	listen_fd = -1;
}

static uint32_t client_create(client_session *cs, const char *handle)
{
	static uint8_t rqbuf[4096];
	size_t len = create_req(rqbuf, handle, client_request_id());
	uint8_t *ans = NULL;
	size_t alen = 0;
	proto_env env;
	proto_msg m;
	assert_int_equal(client_session_exchange(cs, rqbuf, len, &ans, &alen, &env, &m), 0);
	assert_int_equal(env.session_id, client_session_id(cs));
	uint32_t rc = m.hdr.rcode;
	free(ans);
	return rc;
}

static void test_client_session(void **state)
{
	(void)state;
	client_identity id = {.index = 300, .handle = IDN_SLICE("0.NA/88.1000"), .key = admin_priv};
	for (int enc = 0; enc <= 1; enc++) {
		client_addr a;
		pthread_t t = start_server(&a);
		client_conn *cn = NULL;
		assert_int_equal(client_conn_open(&a, 5000, &cn), 0);
		client_session_opts o = {.timeout = 300, .encrypt = enc, .server_key = server_pub};
		client_session *cs = NULL;
		assert_int_equal(client_session_open(cn, &id, &o, &cs, NULL), 0);
		assert_false(client_session_authenticated(cs));
		char h[64];
		snprintf(h, sizeof(h), "88.1000/cli-%d-a", enc);
		assert_int_equal(client_create(cs, h), PROTO_RC_SUCCESS); /* 402, op 200 */
		assert_true(client_session_authenticated(cs));
		assert_true(stored(h));
		snprintf(h, sizeof(h), "88.1000/cli-%d-b", enc);
		assert_int_equal(client_create(cs, h), PROTO_RC_SUCCESS); /* no challenge */
		assert_true(stored(h));
		assert_int_equal(client_create(cs, h), PROTO_RC_HANDLE_ALREADY_EXISTS);
		assert_int_equal(client_session_close(cs, true), 0);
		client_conn_close(cn);
		stop_server(t);
	}
	/* A setup answer not signed by the key we expect is refused. */
	client_addr a;
	pthread_t t = start_server(&a);
	client_conn *cn = NULL;
	assert_int_equal(client_conn_open(&a, 5000, &cn), 0);
	EVP_PKEY *wrong = read_key("admin_rsa_pub_spki.pem", false);
	client_session_opts o = {.server_key = wrong};
	client_session *cs = NULL;
	assert_int_equal(client_session_open(cn, &id, &o, &cs, NULL), IDN_EMISMATCH);
	assert_null(cs);
	EVP_PKEY_free(wrong);
	client_conn_close(cn);
	stop_server(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dh_agreement),   cmocka_unit_test(test_key_derivation),
	    cmocka_unit_test(test_mac_known),      cmocka_unit_test(test_aes),
	    cmocka_unit_test(test_x98_setup),      cmocka_unit_test(test_session_flow),
	    cmocka_unit_test(test_session_expiry), cmocka_unit_test(test_client_session),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
