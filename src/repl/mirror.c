/*
 * mirror.c - the mirror thread (mirror.h).
 */
#include "repl/mirror.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/admin_auth.h"
#include "client/client.h"
#include "client/conn.h"
#include "core/err.h"
#include "proto/admin.h"
#include "repl/repl.h"

enum {
	IO_TIMEOUT_MS = 3000, /* bounds every exchange, and so how long stop waits */
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 5000,
	SECRET_MAX = 4096,
};

struct repl_mirror {
	store *store;
	char *primary;
	client_addr addr;
	client_identity id;
	char *id_handle;
	uint8_t secret[SECRET_MAX];
	unsigned poll_ms, lag_log_s;
	uint32_t page_bytes;
	pthread_t thread;
	pthread_mutex_t lock; /* guards stop and stats */
	pthread_cond_t wake;
	bool stop;
	repl_mirror_stats stats;
	uint8_t req[PROTO_ENV_LEN + PROTO_MSG_MAX]; /* the thread's request buffer */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps ms unless stopped first; returns whether to stop. */
static bool nap(repl_mirror *m, unsigned ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&m->lock);
	while (!m->stop && pthread_cond_timedwait(&m->wake, &m->lock, &until) != ETIMEDOUT)
		;
	bool stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

/*
 * One authenticated request: opcode with body. On success *body is the
 * answer body (borrowing *ans, which the caller frees) and *rc its code.
 */
static int ask(repl_mirror *m, client_conn *cn, uint32_t opcode, const uint8_t *body, size_t blen,
               uint8_t **ans, idn_slice *abody, uint32_t *rc)
{
	proto_env env = {.major = 2, .minor = PROTO_MINOR_MAX, .request_id = client_request_id()};
	proto_hdr hdr = {
	    .opcode = opcode, .flags = PROTO_F_REC | PROTO_F_CA, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, m->req, sizeof(m->req), &env, &hdr);
	wire_put_data(&b.w, body, blen);
	int len = proto_build_end(&b, NULL, 0);
	if (len < 0)
		return len;
	size_t alen;
	proto_env aenv;
	proto_msg am;
	int ret = client_admin_exchange(cn, &m->id, m->req, (size_t)len, ans, &alen, &aenv, &am);
	if (ret)
		return ret;
	*rc = am.hdr.rcode;
	if (proto_answer_split(am.body, am.hdr.flags & PROTO_F_RD, NULL, NULL, abody))
		*abody = am.body;
	return IDN_OK;
}

static void log_answer_error(repl_mirror *m, uint32_t opcode, uint32_t rc, idn_slice body)
{
	idn_slice msg = {0};
	proto_error_decode(body, &msg);
	fprintf(stderr, "idnode: mirror of %s: op %u answered %u %s%s%.*s\n", m->primary, opcode,
	        rc, proto_rc_name(rc), msg.len ? ": " : "", (int)msg.len, (const char *)msg.p);
}

/*
 * The primary refused the log from our position: if it no longer holds it
 * (pruned, or a primary whose log restarted), bootstrap again.
 */
static int check_pruned(repl_mirror *m, client_conn *cn, const repl_req *r)
{
	uint8_t *ans = NULL;
	idn_slice body;
	uint32_t rc;
	int ret = ask(m, cn, PROTO_OP_GET_NEXT_TXN_ID, NULL, 0, &ans, &body, &rc);
	if (!ret && (rc != PROTO_RC_SUCCESS || body.len < 16))
		ret = IDN_EPROTO;
	if (!ret) {
		uint64_t want = idn_be32(r->body) * (1ull << 32) + idn_be32(r->body + 4);
		uint64_t last = idn_be32(body.p) * (1ull << 32) + idn_be32(body.p + 4);
		uint64_t oldest = idn_be32(body.p + 8) * (1ull << 32) + idn_be32(body.p + 12);
		if (want < oldest || want > last + 1) {
			fprintf(stderr,
			        "idnode: mirror of %s: the primary's log holds %llu..%llu, we need "
			        "%llu: bootstrapping again\n",
			        m->primary, (unsigned long long)oldest, (unsigned long long)last,
			        (unsigned long long)want);
			ret = repl_mirror_restart(m->store);
			if (!ret) {
				pthread_mutex_lock(&m->lock);
				m->stats.bootstraps++;
				pthread_mutex_unlock(&m->lock);
			}
		} else {
			ret = IDN_EPROTO;
		}
	}
	free(ans);
	return ret;
}

/* One step of the state machine; *idle when there was nothing new. */
static int step(repl_mirror *m, client_conn *cn, bool *idle)
{
	repl_req r;
	uint8_t *ans = NULL;
	idn_slice body;
	uint32_t rc;
	repl_progress p;
	int ret = repl_mirror_request(m->store, m->page_bytes, &r);
	if (!ret)
		ret = ask(m, cn, r.opcode, r.body, r.len, &ans, &body, &rc);
	if (ret)
		goto out;
	if (rc != PROTO_RC_SUCCESS) {
		log_answer_error(m, r.opcode, rc, body);
		ret = rc == PROTO_RC_ERROR && r.opcode == PROTO_OP_RETRIEVE_TXN_LOG
		          ? check_pruned(m, cn, &r)
		      : rc == PROTO_RC_PROTOCOL_ERROR && r.tables
		          ? repl_mirror_skip_tables(m->store) /* an older primary */
		          : IDN_EPROTO;
		goto out;
	}
	if ((ret = repl_mirror_apply(m->store, r.opcode, body.p, body.len, &p)))
		goto out;
	*idle = !p.bootstrapping && p.applied == 0 && r.opcode == PROTO_OP_RETRIEVE_TXN_LOG;
	pthread_mutex_lock(&m->lock);
	if (r.opcode == PROTO_OP_DUMP_HANDLES && r.body[0] == 0 && r.body[1] == 0 &&
	    r.body[2] == 0 && r.body[3] == 0)
		m->stats.bootstraps++; /* a dump from the first key: a bootstrap begins */
	m->stats.bootstrapping = p.bootstrapping;
	m->stats.primary_seq = p.primary_seq;
	m->stats.lag = p.lag;
	m->stats.applied += p.applied;
	pthread_mutex_unlock(&m->lock);
	if (r.opcode == PROTO_OP_DUMP_HANDLES && !p.bootstrapping)
		fprintf(stderr,
		        "idnode: mirror of %s: bootstrap complete at the primary's sequence %llu; "
		        "following its log\n",
		        m->primary, (unsigned long long)p.primary_seq);
out:
	free(ans);
	return ret;
}

static void log_lag(repl_mirror *m, uint64_t caught_up_ms)
{
	pthread_mutex_lock(&m->lock);
	repl_mirror_stats st = m->stats;
	m->stats.lag_seconds = st.lag ? (now_ms() - caught_up_ms) / 1000 : 0;
	st.lag_seconds = m->stats.lag_seconds;
	pthread_mutex_unlock(&m->lock);
	fprintf(stderr,
	        "idnode: mirror of %s: %s, %s, primary at %llu, lag %llu transactions, %llu s; "
	        "%llu applied, %llu errors\n",
	        m->primary, st.connected ? "connected" : "disconnected",
	        st.bootstrapping ? "bootstrapping" : "streaming",
	        (unsigned long long)st.primary_seq, (unsigned long long)st.lag,
	        (unsigned long long)st.lag_seconds, (unsigned long long)st.applied,
	        (unsigned long long)st.errors);
}

static void set_connected(repl_mirror *m, bool on, bool failed)
{
	pthread_mutex_lock(&m->lock);
	m->stats.connected = on;
	m->stats.errors += failed;
	pthread_mutex_unlock(&m->lock);
}

static void *mirror_main(void *arg)
{
	repl_mirror *m = arg;
	client_conn *cn = NULL;
	unsigned backoff = BACKOFF_MIN_MS;
	uint64_t caught_up = now_ms(), last_log = now_ms();
	int last_err = 0;
	for (;;) {
		pthread_mutex_lock(&m->lock);
		bool stop = m->stop;
		bool lagging = m->stats.lag || m->stats.bootstrapping;
		pthread_mutex_unlock(&m->lock);
		if (stop)
			break;
		if (!lagging)
			caught_up = now_ms();
		if (now_ms() - last_log >= (uint64_t)m->lag_log_s * 1000) {
			log_lag(m, caught_up);
			last_log = now_ms();
		}
		int ret = cn ? IDN_OK : client_conn_open(&m->addr, IO_TIMEOUT_MS, &cn);
		bool idle = false;
		if (!ret) {
			set_connected(m, true, false);
			ret = step(m, cn, &idle);
		}
		if (ret) {
			/* Say it once per kind of failure, not at every retry. */
			if (ret != last_err)
				fprintf(stderr, "idnode: mirror of %s: %s; retrying\n", m->primary,
				        idn_strerror(ret));
			last_err = ret;
			client_conn_close(cn);
			cn = NULL;
			set_connected(m, false, true);
			if (nap(m, backoff))
				break;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		if (last_err)
			fprintf(stderr, "idnode: mirror of %s: replicating again\n", m->primary);
		last_err = 0;
		backoff = BACKOFF_MIN_MS;
		if (idle && nap(m, m->poll_ms))
			break;
	}
	client_conn_close(cn);
	log_lag(m, caught_up);
	return NULL;
}

static int read_key(repl_mirror *m, const repl_mirror_opts *o, char *err, size_t elen)
{
	if (o->key_file) {
		FILE *f = fopen(o->key_file, "r");
		if (f) {
			m->id.key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
		}
		if (!m->id.key) {
			snprintf(err, elen, "mirror key %s: not a readable PEM private key",
			         o->key_file);
			return IDN_ECONFIG;
		}
		return IDN_OK;
	}
	if (!o->secret_file) {
		snprintf(err, elen,
		         "a mirror needs the key (--key) or secret (--secret-file) of %s", o->id);
		return IDN_ECONFIG;
	}
	FILE *f = fopen(o->secret_file, "rb");
	if (!f) {
		snprintf(err, elen, "mirror secret %s: %s", o->secret_file, strerror(errno));
		return IDN_ECONFIG;
	}
	size_t n = fread(m->secret, 1, sizeof(m->secret), f);
	fclose(f);
	/* A trailing newline from an editor is not part of the secret. */
	while (n && (m->secret[n - 1] == '\n' || m->secret[n - 1] == '\r'))
		n--;
	m->id.secret = idn_slice_of(m->secret, n);
	return IDN_OK;
}

static void mirror_free(repl_mirror *m)
{
	EVP_PKEY_free(m->id.key);
	OPENSSL_cleanse(m->secret, sizeof(m->secret));
	free(m->primary);
	free(m->id_handle);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
	free(m);
}

int repl_mirror_start(store *s, const repl_mirror_opts *o, repl_mirror **out)
{
	char scratch[256];
	char *err = o->errbuf ? o->errbuf : scratch;
	size_t elen = o->errbuf ? o->errbuf_len : sizeof(scratch);
	repl_mirror *m = calloc(1, sizeof(*m));
	if (!m)
		return IDN_ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->wake, &ca);
	pthread_condattr_destroy(&ca);
	m->store = s;
	m->poll_ms = o->poll_ms ? o->poll_ms : 200;
	m->lag_log_s = o->lag_log_s ? o->lag_log_s : 5;
	m->page_bytes = o->page_bytes;
	int ret = IDN_ECONFIG;
	char aerr[200];
	if (!o->primary || client_addr_parse(o->primary, 2641, &m->addr, aerr, sizeof(aerr))) {
		snprintf(err, elen, "mirror of '%s': %s", o->primary ? o->primary : "",
		         o->primary ? aerr : "no primary HOST:PORT");
		goto fail;
	}
	char *end;
	unsigned long idx = o->id ? strtoul(o->id, &end, 10) : 0;
	if (!o->id || end == o->id || *end != ':' || !strchr(end + 1, '/') || idx > UINT32_MAX) {
		snprintf(err, elen,
		         "mirror identity '%s': expected INDEX:HANDLE (e.g. 300:0.NA/88)",
		         o->id ? o->id : "");
		goto fail;
	}
	m->primary = strdup(o->primary);
	m->id_handle = strdup(end + 1);
	ret = IDN_ENOMEM;
	if (!m->primary || !m->id_handle)
		goto fail;
	m->id.index = (uint32_t)idx;
	m->id.handle = idn_slice_of(m->id_handle, strlen(m->id_handle));
	if ((ret = read_key(m, o, err, elen)))
		goto fail;
	/* Signals go to the threads that wait for them (net's SIGTERM), never here. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int perr = pthread_create(&m->thread, NULL, mirror_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (perr) {
		snprintf(err, elen, "cannot start the mirror thread");
		ret = IDN_ENOMEM;
		goto fail;
	}
	*out = m;
	return IDN_OK;
fail:
	mirror_free(m);
	return ret;
}

void repl_mirror_get_stats(repl_mirror *m, repl_mirror_stats *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->stats;
	pthread_mutex_unlock(&m->lock);
}

void repl_mirror_stop(repl_mirror *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	mirror_free(m);
}
