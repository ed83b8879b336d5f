/*
 * hdladmin.c - authenticated-write load generator: creates identifiers on a
 * Handle server through persistent TCP connections, each create answered
 * only once it is durable on the server.
 *
 * Every client (one thread, one connection) keeps up to WINDOW creates in
 * flight. With --session, each client sets up one session on its connection
 * (op 400, Diffie-Hellman; authenticated once by its first create's 402 and
 * op 200) and every create after that carries an HS_MAC: one round trip, no
 * challenge. Without it, authentication is the challenge-response: each
 * create is answered 402 (nonce), the client answers op 200 at once, and the
 * server's answer to that is the create's result. With an HS_SECKEY identity the MAC is
 * HMAC-SHA256 (form 0x13) by default (--seckey-form pbkdf2|sha1|hmac-sha256);
 * with --key (an HS_PUBKEY identity) each op 200 carries a signature.
 * Answers on a connection come in request order; they are matched by request
 * id all the same and any mismatch counts as an error.
 *
 * usage: hdladmin --server HOST:PORT --id INDEX:HANDLE (--secret-file F | --key PEM)
 *                 --prefix PREFIX [--clients N] [--window W] [--count N]
 *                 [--rate R] [--tag T] [--seckey-form F] [--session [--encrypt]] [-q]
 *
 *   --count N   creates in all (default 100000), spread over the clients
 *   --rate R    open loop: at most R creates/s in all, paced per client
 *   --tag T     identifiers are PREFIX/T-<client>-<n> (default: the time)
 *   --log FILE  one line per answered create: "HANDLE RCODE" (tests check that
 *               every acknowledged create survives a crash of the server)
 *
 * Output ends with one machine-readable line:
 *   RESULT creates=.. ok=.. errors=.. secs=.. rate=.. p50_ms=.. p99_ms=.. max_ms=..
 * Exit status 0 when every create succeeded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/verify.h"
#include "client/client.h"
#include "client/conn.h"
#include "client/session.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/proto.h"

enum { WINDOW_MAX = 1024, REQ_CAP = 4096, LAT_BUCKETS = 4096 /* 0.1 ms each */ };

static struct {
	client_addr addr;
	idn_slice id_handle;
	uint32_t id_index;
	EVP_PKEY *key;
	uint8_t secret[1024];
	size_t secret_len;
	uint8_t seckey_form;
	const char *prefix;
	char tag[64];
	unsigned clients, window;
	uint64_t count;
	double rate;
	int quiet;
	FILE *log;
	int session, encrypt;
} cfg = {.clients = 16, .window = 16, .count = 100000, .seckey_form = PROTO_SECKEY_HMAC_SHA256};

static atomic_ullong n_ok, n_err;
static atomic_uint err_printed;
static pthread_mutex_t lat_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t lat[LAT_BUCKETS + 1];
static double lat_max_ms;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct slot {
	uint64_t k; /* the create's number in this client, +1 (0: free) */
	double t0;
};

struct client {
	unsigned idx;
	uint64_t todo; /* creates this client makes */
	client_conn *cn;
	client_session *sess; /* --session */
	struct slot slots[WINDOW_MAX];
};

/* Request ids: create k is 2k + base, its op 200 2k + base + 1. */
static uint32_t rid_of(const struct client *c, uint64_t k, int chresp)
{
	return (uint32_t)(((uint64_t)c->idx << 24) + 2 * (k & 0x7FFFFF) + (uint64_t)chresp) |
	       0x40000000u;
}

/* Builds create k (handle PREFIX/TAG-client-k, a URL and a DESC) into req. */
static int build_create(struct client *c, uint64_t k, uint8_t *req, size_t cap)
{
	char handle[512], url[256], desc[128];
	int hl = snprintf(handle, sizeof(handle), "%s/%s-%u-%llu", cfg.prefix, cfg.tag, c->idx,
	                  (unsigned long long)k);
	int ul = snprintf(url, sizeof(url), "https://example.com/p/%s-%u-%llu", cfg.tag, c->idx,
	                  (unsigned long long)k);
	int dl = snprintf(desc, sizeof(desc), "bench item %llu of client %u", (unsigned long long)k,
	                  c->idx);
	proto_value v[2] = {
	    {.index = 1,
	     .ttl = 86400,
	     .perms = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE | PROTO_PERM_PUBLIC_READ,
	     .type = IDN_SLICE("URL"),
	     .data = idn_slice_of(url, (size_t)ul)},
	    {.index = 2,
	     .ttl = 86400,
	     .perms = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE | PROTO_PERM_PUBLIC_READ,
	     .type = IDN_SLICE("DESC"),
	     .data = idn_slice_of(desc, (size_t)dl)},
	};
	proto_env env = {.major = 2, .minor = PROTO_MINOR_MAX, .request_id = rid_of(c, k, 0)};
	proto_hdr hdr = {.opcode = PROTO_OP_CREATE_HANDLE,
	                 .flags = PROTO_F_REC | PROTO_F_CA,
	                 .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, cap, &env, &hdr);
	proto_values_req_encode(&b.w, idn_slice_of(handle, (size_t)hl), v, 2);
	return proto_build_end(&b, NULL, 0);
}

static int send_create(struct client *c, uint64_t k)
{
	uint8_t req[REQ_CAP];
	int len = build_create(c, k, req, sizeof(req));
	if (len < 0)
		return len;
	struct slot *s = &c->slots[k % cfg.window];
	s->k = k + 1;
	s->t0 = now_s();
	if (!c->sess)
		return client_conn_send(c->cn, req, (size_t)len);
	uint8_t *w;
	size_t wlen;
	int ret = client_session_wrap(c->sess, req, (size_t)len, true, &w, &wlen);
	if (!ret)
		ret = client_conn_send(c->cn, w, wlen);
	free(w);
	return ret;
}

/* Answers a 402 to create k with op 200, in the challenge's session and version. */
static int send_chresp(struct client *c, uint64_t k, const proto_env *env, const proto_msg *m)
{
	proto_challenge ch;
	if (proto_challenge_decode(m->body, m->hdr.flags & PROTO_F_RD, &ch) || !ch.hash)
		return IDN_EPROTO;
	uint8_t sig[4096], req[REQ_CAP];
	wire_wr sw = wire_wr_init(sig, sizeof(sig));
	int ret = cfg.key ? auth_respond_pubkey(cfg.key, cfg.id_handle, env->minor >= 7, ch.nonce,
	                                        ch.digest, &sw)
	                  : auth_respond_seckey(idn_slice_of(cfg.secret, cfg.secret_len),
	                                        cfg.seckey_form, ch.nonce, ch.digest, &sw);
	if (ret)
		return ret;
	proto_chresp cr = {.auth_type = cfg.key ? IDN_SLICE("HS_PUBKEY") : IDN_SLICE("HS_SECKEY"),
	                   .handle = cfg.id_handle,
	                   .index = cfg.id_index,
	                   .signed_resp = idn_slice_of(sig, wire_wr_len(&sw))};
	proto_env cenv = {.major = 2,
	                  .minor = env->minor,
	                  .session_id = env->session_id,
	                  .request_id = rid_of(c, k, 1)};
	proto_hdr chdr = {.opcode = PROTO_OP_CHALLENGE_RESPONSE,
	                  .flags = PROTO_F_REC | PROTO_F_CA,
	                  .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, sizeof(req), &cenv, &chdr);
	proto_chresp_encode(&b.w, &cr);
	int len = proto_build_end(&b, NULL, 0);
	return len < 0 ? len : client_conn_send(c->cn, req, (size_t)len);
}

static void record(double ms)
{
	size_t b = (size_t)(ms * 10);
	pthread_mutex_lock(&lat_mu);
	lat[b > LAT_BUCKETS ? LAT_BUCKETS : b]++;
	if (ms > lat_max_ms)
		lat_max_ms = ms;
	pthread_mutex_unlock(&lat_mu);
}

static void error_seen(struct client *c, const char *what, const proto_msg *m)
{
	atomic_fetch_add(&n_err, 1);
	if (atomic_fetch_add(&err_printed, 1) < 5) {
		idn_slice msg = {0};
		if (m && m->hdr.rcode != PROTO_RC_SUCCESS)
			proto_error_decode(m->body, &msg);
		if (m)
			fprintf(stderr, "hdladmin: client %u: %s: rc %u%s%.*s\n", c->idx, what,
			        m->hdr.rcode, msg.len ? " " : "", (int)msg.len,
			        (const char *)msg.p);
		else
			fprintf(stderr, "hdladmin: client %u: %s\n", c->idx, what);
	}
}

static void log_answer(const struct client *c, uint64_t k, uint32_t rcode)
{
	if (!cfg.log)
		return;
	pthread_mutex_lock(&lat_mu);
	fprintf(cfg.log, "%s/%s-%u-%llu %u\n", cfg.prefix, cfg.tag, c->idx, (unsigned long long)k,
	        rcode);
	pthread_mutex_unlock(&lat_mu);
}

/*
 * --session: sets the session up and makes create 0 in it, waiting for its
 * answer (its 402 and op 200 authenticate the session); 1 when done.
 */
static int session_start(struct client *c)
{
	client_identity id = {.index = cfg.id_index,
	                      .handle = cfg.id_handle,
	                      .key = cfg.key,
	                      .secret = idn_slice_of(cfg.secret, cfg.secret_len)};
	client_session_opts o = {.encrypt = cfg.encrypt};
	uint32_t rc = 0;
	uint8_t req[REQ_CAP], *ans = NULL;
	size_t alen;
	proto_env env;
	proto_msg m;
	double t0 = now_s();
	int ret = client_session_open(c->cn, &id, &o, &c->sess, &rc);
	if (ret) {
		fprintf(stderr, "hdladmin: client %u: session setup: %s (rc %u)\n", c->idx,
		        idn_strerror(ret), rc);
		return ret;
	}
	int len = build_create(c, 0, req, sizeof(req));
	ret = len < 0 ? len
	              : client_session_exchange(c->sess, req, (size_t)len, &ans, &alen, &env, &m);
	if (!ret) {
		log_answer(c, 0, m.hdr.rcode);
		if (m.hdr.rcode == PROTO_RC_SUCCESS) {
			atomic_fetch_add(&n_ok, 1);
			record((now_s() - t0) * 1e3);
		} else {
			error_seen(c, "create refused", &m);
		}
	}
	free(ans);
	return ret ? ret : 1;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	uint64_t sent = 0, done = 0;
	double start = now_s(), per = cfg.rate > 0 ? cfg.clients / cfg.rate : 0;
	const char *why = "connection broken or answer malformed";

	if (client_conn_open(&cfg.addr, 10000, &c->cn)) {
		error_seen(c, "cannot connect", NULL);
		atomic_fetch_add(&n_err, c->todo - 1);
		return NULL;
	}
	if (cfg.session && c->todo) {
		if (session_start(c) < 0)
			goto broken;
		sent = done = 1;
	}
	while (done < c->todo) {
		/* Open loop (--rate): only what is due; answers are read meanwhile. */
		while (sent < c->todo && sent - done < cfg.window &&
		       (per == 0 || start + (double)sent * per <= now_s())) {
			if (send_create(c, sent))
				goto broken;
			sent++;
		}
		if (per > 0 && sent < c->todo && sent - done < cfg.window) {
			double wait = start + (double)sent * per - now_s();
			if (wait <= 0 || client_conn_wait(c->cn, (unsigned)(wait * 1e3) + 1) == 0)
				continue; /* nothing came in: the next create is due */
		}
		if (sent == done)
			continue; /* nothing to wait for */
		uint8_t *ans = NULL;
		size_t alen;
		proto_env env;
		proto_msg m;
		int r = client_conn_recv(c->cn, &ans, &alen);
		if (r) {
			why = idn_strerror(r);
			goto broken;
		}
		r = c->sess ? client_session_unwrap(c->sess, &ans, &alen, &env, &m)
		    : alen < PROTO_ENV_LEN || proto_env_decode(ans, alen, &env) ||
		            proto_msg_decode(ans + PROTO_ENV_LEN, alen - PROTO_ENV_LEN, &m)
		        ? IDN_EPROTO
		        : IDN_OK;
		if (r) {
			why =
			    r == IDN_EMISMATCH ? "session MAC or counter refused" : idn_strerror(r);
			free(ans);
			goto broken;
		}
		uint32_t rid = env.request_id & ~0x40000000u;
		uint64_t k = (rid & 0xFFFFFF) >> 1;
		struct slot *s = &c->slots[k % cfg.window];
		if ((rid >> 24) != c->idx || s->k == 0 || ((s->k - 1) & 0x7FFFFF) != k) {
			error_seen(c, "answer to an unknown request", &m);
			free(ans);
			goto broken;
		}
		k = s->k - 1;
		if (!(rid & 1) && m.hdr.rcode == PROTO_RC_AUTHENTICATION_NEEDED) {
			int ret = send_chresp(c, k, &env, &m);
			free(ans);
			if (ret)
				goto broken;
			continue;
		}
		log_answer(c, k, m.hdr.rcode);
		if (m.hdr.rcode == PROTO_RC_SUCCESS) {
			atomic_fetch_add(&n_ok, 1);
			record((now_s() - s->t0) * 1e3);
		} else {
			error_seen(c, "create refused", &m);
		}
		s->k = 0;
		done++;
		free(ans);
	}
	client_session_close(c->sess, true);
	client_conn_close(c->cn);
	return NULL;
broken:
	error_seen(c, why, NULL);
	atomic_fetch_add(&n_err, c->todo - done - 1);
	client_session_close(c->sess, false);
	client_conn_close(c->cn);
	return NULL;
}

static double pct(double p, uint64_t total)
{
	uint64_t want = (uint64_t)(p * (double)total), seen = 0;
	for (size_t i = 0; i <= LAT_BUCKETS; i++) {
		seen += lat[i];
		if (seen > want)
			return (double)i / 10;
	}
	return (double)LAT_BUCKETS / 10;
}

static void usage(void)
{
	fprintf(stderr, "usage: hdladmin --server HOST:PORT --id INDEX:HANDLE (--secret-file F | "
	                "--key PEM) --prefix PREFIX [--clients N] [--window W] [--count N] "
	                "[--rate R] [--tag T] [--seckey-form pbkdf2|sha1|hmac-sha256] [--log FILE] "
	                "[--session [--encrypt]] [-q]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"server", required_argument, NULL, 's'},
	                                     {"id", required_argument, NULL, 'i'},
	                                     {"secret-file", required_argument, NULL, 'S'},
	                                     {"key", required_argument, NULL, 'K'},
	                                     {"prefix", required_argument, NULL, 'p'},
	                                     {"clients", required_argument, NULL, 'c'},
	                                     {"window", required_argument, NULL, 'w'},
	                                     {"count", required_argument, NULL, 'n'},
	                                     {"rate", required_argument, NULL, 'r'},
	                                     {"tag", required_argument, NULL, 't'},
	                                     {"seckey-form", required_argument, NULL, 'F'},
	                                     {"log", required_argument, NULL, 'L'},
	                                     {"session", no_argument, NULL, 'E'},
	                                     {"encrypt", no_argument, NULL, 'X'},
	                                     {NULL, 0, NULL, 0}};
	const char *server = NULL, *id = NULL;
	char err[256];
	int o;

	snprintf(cfg.tag, sizeof(cfg.tag), "b%lx", (unsigned long)time(NULL));
	while ((o = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			server = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'S':
			if (client_identity_read_secret(optarg, cfg.secret, sizeof(cfg.secret),
			                                &cfg.secret_len)) {
				fprintf(stderr, "hdladmin: --secret-file %s: %s\n", optarg,
				        strerror(errno));
				return 2;
			}
			break;
		case 'K': {
			FILE *f = fopen(optarg, "r");
			cfg.key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
			if (f)
				fclose(f);
			if (!cfg.key) {
				fprintf(stderr,
				        "hdladmin: --key %s: not a readable PEM private key\n",
				        optarg);
				return 2;
			}
			break;
		}
		case 'p':
			cfg.prefix = optarg;
			break;
		case 'c':
			cfg.clients = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			cfg.window = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			cfg.count = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			cfg.rate = strtod(optarg, NULL);
			break;
		case 't':
			snprintf(cfg.tag, sizeof(cfg.tag), "%s", optarg);
			break;
		case 'F':
			if (!strcmp(optarg, "pbkdf2"))
				cfg.seckey_form = PROTO_SECKEY_PBKDF2;
			else if (!strcmp(optarg, "sha1"))
				cfg.seckey_form = PROTO_SECKEY_HMAC_SHA1;
			else if (!strcmp(optarg, "hmac-sha256"))
				cfg.seckey_form = PROTO_SECKEY_HMAC_SHA256;
			else
				usage();
			break;
		case 'q':
			cfg.quiet = 1;
			break;
		case 'E':
			cfg.session = 1;
			break;
		case 'X':
			cfg.encrypt = 1;
			break;
		case 'L':
			if (!(cfg.log = fopen(optarg, "a"))) {
				fprintf(stderr, "hdladmin: --log %s: %s\n", optarg,
				        strerror(errno));
				return 2;
			}
			break;
		default:
			usage();
		}
	}
	const char *colon = id ? strchr(id, ':') : NULL;
	if (!server || !colon || !cfg.prefix || (!cfg.key && !cfg.secret_len) || !cfg.clients ||
	    cfg.clients > 255 || !cfg.window || cfg.window > WINDOW_MAX || !cfg.count)
		usage();
	if (client_addr_parse(server, 2641, &cfg.addr, err, sizeof(err))) {
		fprintf(stderr, "hdladmin: --server %s: %s\n", server, err);
		return 2;
	}
	cfg.id_index = (uint32_t)strtoul(id, NULL, 10);
	cfg.id_handle = idn_slice_of(colon + 1, strlen(colon + 1));

	struct client *cl = calloc(cfg.clients, sizeof(*cl));
	pthread_t *th = calloc(cfg.clients, sizeof(*th));
	if (!cl || !th)
		return 1;
	double t0 = now_s();
	for (unsigned i = 0; i < cfg.clients; i++) {
		cl[i].idx = i;
		cl[i].todo = cfg.count / cfg.clients + (i < cfg.count % cfg.clients);
		if (pthread_create(&th[i], NULL, client_main, &cl[i])) {
			fprintf(stderr, "hdladmin: cannot start a thread\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < cfg.clients; i++)
		pthread_join(th[i], NULL);
	double secs = now_s() - t0;
	uint64_t ok = atomic_load(&n_ok), bad = atomic_load(&n_err);
	if (!cfg.quiet)
		printf("hdladmin: %u clients x window %u%s, %llu creates in %.2f s\n", cfg.clients,
		       cfg.window,
		       cfg.session ? (cfg.encrypt ? ", sessions, encrypted" : ", sessions") : "",
		       (unsigned long long)cfg.count, secs);
	printf("RESULT creates=%llu ok=%llu errors=%llu secs=%.3f rate=%.0f p50_ms=%.1f "
	       "p99_ms=%.1f max_ms=%.1f\n",
	       (unsigned long long)cfg.count, (unsigned long long)ok, (unsigned long long)bad, secs,
	       (double)ok / secs, pct(0.5, ok), pct(0.99, ok), lat_max_ms);
	free(cl);
	free(th);
	EVP_PKEY_free(cfg.key);
	if (cfg.log)
		fclose(cfg.log);
	return ok == cfg.count ? 0 : 1;
}
