/*
 * resolver.c - the recursive node's request path: cache key, answers from
 * the cache, the pool that resolves UDP misses and answers them itself. See
 * resolver.h for the threading choices.
 */
#include "resolver/resolver.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "core/err.h"
#include "core/limit.h"
#include "proto/handle.h"
#include "proto/admin.h"
#include "proto/proto.h"
#include "proto/udp.h"

enum {
	MAX_FILTERS = 64, /* indexes or types in one request we pass upstream */
	/* PO byte + identifier key + filters, as the request has them. */
	KEY_MAX = 1 + HANDLE_KEY_MAX + 8 + 4096,
	/* Room before a cached body in the answer buffer: envelope, header, digest. */
	HEAD_ROOM = PROTO_ENV_LEN + PROTO_HDR_LEN + 1 + PROTO_DIGEST_MAX,
	ANSWER_CAP = PROTO_ENV_LEN + PROTO_MSG_MAX,
};

/* A miss waiting for the pool: the request copied, and where to answer. */
struct job {
	struct job *next;
	/* a deferred answer (answer set), else UDP to fd, peer */
	void (*answer)(void *ctx, const uint8_t *ans, size_t len);
	void *ctx;
	int fd;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	size_t len;
	uint8_t msg[];
};

struct resolver {
	resolver_opts o;
	client_addr root;
	cache *cache;
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t mu; /* the queue */
	pthread_cond_t cv;
	struct job *head, *tail;
	unsigned queued_now;
	bool stopping;
	_Atomic uint64_t upstream, upstream_fail, queued, busy;
};

/* A request taken apart: what the key and the answer need. */
typedef struct parsed {
	proto_env env;
	proto_msg msg;
	proto_resolve_req rr;
	uint8_t minor; /* the answer's */
} parsed;

static int parse(const uint8_t *p, size_t len, parsed *q)
{
	int ret;
	if ((ret = proto_env_decode(p, len, &q->env)))
		return ret;
	if ((ret = proto_msg_decode(p + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &q->msg)))
		return ret;
	q->minor = q->env.minor;
	if (q->env.major != PROTO_MAJOR || q->minor > PROTO_MINOR_MAX)
		q->minor = PROTO_MINOR_MAX;
	if (q->minor < PROTO_MINOR_MIN)
		q->minor = PROTO_MINOR_MIN;
	if (q->msg.hdr.opcode != PROTO_OP_RESOLUTION)
		return IDN_ENOTSUP; /* still answerable: q is filled but for rr */
	/* Answerable too, with a protocol error: only the body is bad. */
	return proto_resolve_req_decode(q->msg.body, &q->rr) ? IDN_EPROTO : IDN_OK;
}

/* PO, the normalised identifier, then the filters as sent: one cache entry per question. */
static int make_key(const parsed *q, uint8_t *key)
{
	key[0] = (q->msg.hdr.flags & PROTO_F_PO) ? 1 : 0;
	int n = handle_key(q->rr.handle, true, key + 1);
	if (n < 0)
		return n;
	size_t klen = 1 + (size_t)n;
	size_t ilen = (size_t)q->rr.nindexes * 4;
	if (klen + 8 + ilen + q->rr.types.len > KEY_MAX)
		return IDN_ERANGE;
	idn_put_be32(key + klen, q->rr.nindexes);
	memcpy(key + klen + 4, q->rr.indexes, ilen);
	klen += 4 + ilen;
	idn_put_be32(key + klen, q->rr.ntypes);
	memcpy(key + klen + 4, q->rr.types.p, q->rr.types.len);
	return (int)(klen + 4 + q->rr.types.len);
}

/*
 * Writes the answer: our header (REC, not AT: we are not the authority),
 * the request digest when asked, then body_len bytes of body, which may
 * already sit at out + HEAD_ROOM (moved into place).
 */
static int answer(const parsed *q, uint32_t rc, uint32_t ttl, const uint8_t *body, size_t body_len,
                  uint8_t *out, size_t cap)
{
	proto_env env = {
	    .major = PROTO_MAJOR,
	    .minor = q->minor,
	    .flags = PROTO_MAJOR & PROTO_ENV_SUGG_MAJOR_MASK,
	    .sugg_minor = PROTO_MINOR_MAX,
	    .session_id = q->env.session_id,
	    .request_id = q->env.request_id,
	};
	/* As the node: echo CA, PO and RD. CT is not echoed: we do not sign. */
	const uint32_t echo = PROTO_F_CA | PROTO_F_PO | PROTO_F_RD;
	proto_hdr hdr = {
	    .opcode = q->msg.hdr.opcode,
	    .rcode = rc,
	    .flags = PROTO_F_REC | (q->msg.hdr.flags & echo),
	    .site_serial = 0xFFFF, /* a recursive node has no site of its own */
	    .recursion = q->msg.hdr.recursion,
	    .expiration = (uint32_t)time(NULL) + ttl,
	};
	proto_build b;
	proto_build_begin(&b, out, cap, &env, &hdr);
	if (q->msg.hdr.flags & PROTO_F_RD)
		proto_put_digest(&b.w, proto_digest_alg(PROTO_MAJOR, q->minor), q->msg.hb);
	uint8_t *p = wire_put_raw(&b.w, body_len);
	if (p && body_len)
		memmove(p, body, body_len);
	if (b.w.err)
		return b.w.err;
	return proto_build_end(&b, NULL, 0);
}

static int answer_msg(const parsed *q, uint32_t rc, const char *message, uint8_t *out, size_t cap)
{
	uint8_t body[600];
	size_t n = strlen(message);
	if (n > sizeof(body) - 4)
		n = sizeof(body) - 4;
	idn_put_be32(body, (uint32_t)n);
	memcpy(body + 4, message, n);
	return answer(q, rc, 0, body, n + 4, out, cap);
}

/* Fresh from the cache straight into out; 0 on a miss. */
static int from_cache(resolver *r, const parsed *q, const uint8_t *key, size_t klen,
                      int (*get)(cache *, const uint8_t *, size_t, cache_answer *, uint8_t *,
                                 size_t),
                      uint8_t *out, size_t cap, int *res)
{
	cache_answer a;
	uint8_t *body = out + HEAD_ROOM;
	size_t bcap = cap - HEAD_ROOM - 4;
	*res = get(r->cache, key, klen, &a, body, bcap);
	if ((*res != CACHE_HIT && *res != CACHE_STALE) || a.body_len > bcap)
		return 0;
	return answer(q, a.rcode, a.ttl_left, body, a.body_len, out, cap);
}

/*
 * Resolves q from the root (coalesced with others asking the same) and
 * writes the answer. Runs on a pool thread (UDP) or the worker (TCP).
 */
static int resolve_miss(resolver *r, const parsed *q, const uint8_t *key, size_t klen,
                        unsigned timeout_ms, unsigned wait_ms, uint8_t *out, size_t cap)
{
	cache_answer a;
	uint8_t *body = out + HEAD_ROOM;
	size_t bcap = cap - HEAD_ROOM - 4;
	int res = cache_fetch(r->cache, key, klen, wait_ms, &a, body, bcap);
	if (res == CACHE_HIT && a.body_len <= bcap)
		return answer(q, a.rcode, a.ttl_left, body, a.body_len, out, cap);
	bool lead = res == CACHE_LEAD;

	/* The request's filters, passed upstream. */
	uint32_t idx[MAX_FILTERS];
	idn_slice types[MAX_FILTERS];
	if (q->rr.nindexes > MAX_FILTERS || q->rr.ntypes > MAX_FILTERS) {
		if (lead)
			cache_abandon(r->cache, key, klen);
		return answer_msg(q, PROTO_RC_ERROR, "too many index or type filters", out, cap);
	}
	for (uint32_t i = 0; i < q->rr.nindexes; i++)
		idx[i] = idn_be32(q->rr.indexes + 4 * i);
	wire_rd tr = wire_rd_init(q->rr.types.p, q->rr.types.len);
	for (uint32_t i = 0; i < q->rr.ntypes; i++)
		types[i] = wire_get_lbytes(&tr);

	client_root_opts ro = {
	    .base =
	        {
	            .transport = CLIENT_UDP,
	            .timeout_ms = timeout_ms,
	            .flags = PROTO_F_CA | (q->msg.hdr.flags & PROTO_F_PO),
	            .indexes = idx,
	            .nindexes = q->rr.nindexes,
	            .types = types,
	            .ntypes = q->rr.ntypes,
	            .recursion = q->msg.hdr.recursion,
	        },
	};
	uint8_t *ans = NULL;
	size_t anslen;
	proto_env env;
	proto_msg msg;
	char err[256];
	atomic_fetch_add_explicit(&r->upstream, 1, memory_order_relaxed);
	int ret = client_resolve_root(&r->root, q->rr.handle, &ro, &ans, &anslen, &env, &msg, err,
	                              sizeof(err));
	int n;
	if (ret == IDN_ENOTFOUND) {
		/* The prefix is unknown along the chain: the identifier does not exist. */
		char m[300];
		snprintf(m, sizeof(m), "not found: %s", err);
		uint8_t nb[4 + sizeof(m)];
		size_t ml = strlen(m);
		idn_put_be32(nb, (uint32_t)ml);
		memcpy(nb + 4, m, ml);
		uint32_t nttl = cache_options(r->cache)->neg_ttl;
		if (lead) {
			cache_put(r->cache, key, klen, PROTO_RC_HANDLE_NOT_FOUND, nb, ml + 4, nttl);
			lead = false;
		}
		n = answer(q, PROTO_RC_HANDLE_NOT_FOUND, nttl, nb, ml + 4, out, cap);
		goto out;
	}
	if (ret) {
		atomic_fetch_add_explicit(&r->upstream_fail, 1, memory_order_relaxed);
		if (lead) {
			cache_abandon(r->cache, key, klen);
			lead = false;
		}
		int sres;
		if ((n = from_cache(r, q, key, klen, cache_get_stale, out, cap, &sres)) != 0)
			goto out;
		char m[400];
		snprintf(m, sizeof(m), "recursive resolution of %.*s failed: %s",
		         (int)(q->rr.handle.len > 200 ? 200 : q->rr.handle.len),
		         (const char *)q->rr.handle.p, err[0] ? err : idn_strerror(ret));
		n = answer_msg(
		    q, ret == IDN_ERANGE ? PROTO_RC_RECURSION_COUNT_TOO_HIGH : PROTO_RC_ERROR, m,
		    out, cap);
		goto out;
	}

	/* An answer: keep success and negative ones; pass everything on. */
	idn_slice rest = msg.body;
	uint8_t alg;
	idn_slice dg;
	if (proto_answer_split(msg.body, msg.hdr.flags & PROTO_F_RD, &alg, &dg, &rest)) {
		n = answer_msg(q, PROTO_RC_ERROR, "upstream sent a malformed answer", out, cap);
		goto out;
	}
	uint32_t rc = msg.hdr.rcode, ttl = 0;
	const cache_opts *co = cache_options(r->cache);
	if (rc == PROTO_RC_SUCCESS) {
		proto_resolve_resp rs;
		if (proto_resolve_resp_decode(rest, &rs) ||
		    cache_values_ttl(rs.values, rs.nvalues, co->clock(), co->max_ttl, &ttl)) {
			n = answer_msg(q, PROTO_RC_ERROR, "upstream sent malformed values", out,
			               cap);
			goto out;
		}
	} else if (rc == PROTO_RC_HANDLE_NOT_FOUND || rc == PROTO_RC_VALUE_NOT_FOUND) {
		ttl = co->neg_ttl;
	}
	if (lead && ttl) {
		cache_put(r->cache, key, klen, rc, rest.p, rest.len, ttl);
		lead = false;
	}
	n = answer(q, rc, ttl, rest.p, rest.len, out, cap);
out:
	if (lead)
		cache_abandon(r->cache, key, klen);
	free(ans);
	return n;
}

/*
 * Sends a whole answer to the UDP request j as Handle datagrams, within the
 * budget of the net layer's answers: over it, the short RC_ERROR that sends
 * the client to TCP goes instead.
 */
static void udp_send(const resolver *r, const struct job *j, const uint8_t *ans, size_t len)
{
	static __thread proto_udp_frag frags[PROTO_UDP_MAX_PKTS];
	const struct sockaddr *peer = (const struct sockaddr *)&j->peer;
	size_t allow = proto_udp_allowance(r->o.udp_answer_max, r->o.udp_amplification,
	                                   proto_udp_wire_len(j->len));
	uint8_t refusal[PROTO_UDP_REFUSAL_MAX];
	if (proto_udp_wire_len(len) > allow) {
		limit_hit(LIM_UDP_ANSWER_SIZE, "recursive answer of %zu bytes over the UDP budget",
		          proto_udp_wire_len(len));
		int n = proto_udp_oversize(j->msg, j->len, ans, len, allow, refusal);
		if (n == 0)
			return;
		ans = refusal;
		len = (size_t)n;
	}
	int n = proto_udp_fragment(ans, len, frags, PROTO_UDP_MAX_PKTS);
	for (int i = 0; i < n; i++) {
		uint8_t pkt[PROTO_UDP_PKT];
		size_t pl = proto_udp_frag_copy(&frags[i], pkt);
		/* Best effort, as UDP: the client retries a lost answer. */
		(void)!sendto(j->fd, pkt, pl, MSG_DONTWAIT, peer, j->peer_len);
	}
}

static void *pool_main(void *arg)
{
	resolver *r = arg;
	uint8_t *out = malloc(ANSWER_CAP);
	uint8_t *key = malloc(KEY_MAX);
	if (!out || !key)
		goto done;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (!r->head && !r->stopping)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stopping) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		struct job *j = r->head;
		r->head = j->next;
		if (!r->head)
			r->tail = NULL;
		r->queued_now--;
		pthread_mutex_unlock(&r->mu);

		parsed q;
		int klen;
		if (parse(j->msg, j->len, &q) == 0 && (klen = make_key(&q, key)) > 0) {
			int n = resolve_miss(r, &q, key, (size_t)klen, r->o.timeout_ms,
			                     r->o.coalesce_wait_ms, out, ANSWER_CAP);
			if (j->answer)
				j->answer(j->ctx, out, n > 0 ? (size_t)n : 0);
			else if (n > 0)
				udp_send(r, j, out, (size_t)n);
		} else if (j->answer) {
			j->answer(j->ctx, NULL, 0);
		}
		free(j);
	}
done:
	free(out);
	free(key);
	return NULL;
}

bool resolver_wants(const resolver *r, const uint8_t *msg, size_t len)
{
	/* Header opcode and flags sit at fixed offsets after the envelope. */
	if (len < PROTO_ENV_LEN + PROTO_HDR_LEN)
		return false;
	const uint8_t *h = msg + PROTO_ENV_LEN;
	if (idn_be32(h) != PROTO_OP_RESOLUTION)
		return false;
	return r->o.all || (idn_be32(h + 8) & PROTO_F_REC);
}

int resolver_answer(resolver *r, const resolver_req *rq, uint8_t *out, size_t cap)
{
	parsed q;
	uint8_t key[KEY_MAX];
	if (cap < ANSWER_CAP)
		return IDN_EINVAL;
	int ret = parse(rq->msg, rq->len, &q);
	if (ret == IDN_ENOTSUP) /* a recursive node without a store of its own */
		return answer_msg(&q, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                  "a recursive node only resolves identifiers", out, cap);
	if (ret == IDN_EPROTO)
		return answer_msg(&q, PROTO_RC_PROTOCOL_ERROR, "malformed resolution request", out,
		                  cap);
	if (ret)
		return IDN_EINVAL; /* no envelope or header to answer to: dropped */
	int klen = make_key(&q, key);
	if (klen == IDN_EINVAL)
		return answer_msg(&q, PROTO_RC_INVALID_HANDLE, "not PREFIX/SUFFIX", out, cap);
	if (klen < 0)
		return answer_msg(&q, PROTO_RC_ERROR, "identifier or filters too long", out, cap);
	int res;
	int n = from_cache(r, &q, key, (size_t)klen, cache_get, out, cap, &res);
	if (n)
		return n;
	void *ctx = NULL;
	if (!rq->udp && !(rq->defer && rq->answer && (ctx = rq->defer(rq->defer_arg))))
		/* On the worker: wait for another's query no longer than one question. */
		return resolve_miss(r, &q, key, (size_t)klen, r->o.tcp_timeout_ms,
		                    r->o.tcp_timeout_ms, out, cap);

	struct job *j = malloc(sizeof(*j) + rq->len);
	if (!j) {
		n = answer_msg(&q, PROTO_RC_SERVER_BUSY, "out of memory", out, cap);
		goto answer_now;
	}
	j->next = NULL;
	j->answer = ctx ? rq->answer : NULL;
	j->ctx = ctx;
	j->fd = rq->udp_fd;
	j->peer_len = rq->peer_len <= sizeof(j->peer) ? rq->peer_len : sizeof(j->peer);
	memcpy(&j->peer, rq->peer, j->peer_len);
	j->len = rq->len;
	memcpy(j->msg, rq->msg, rq->len);
	pthread_mutex_lock(&r->mu);
	if (r->queued_now >= r->o.queue_max || r->stopping) {
		pthread_mutex_unlock(&r->mu);
		free(j);
		atomic_fetch_add_explicit(&r->busy, 1, memory_order_relaxed);
		n = answer_msg(&q, PROTO_RC_SERVER_BUSY, "resolver queue full", out, cap);
		goto answer_now;
	}
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	r->queued_now++;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	atomic_fetch_add_explicit(&r->queued, 1, memory_order_relaxed);
	return 0;
answer_now:
	/* Deferred already: the answer goes the promised way. */
	if (ctx) {
		rq->answer(ctx, out, n > 0 ? (size_t)n : 0);
		return 0;
	}
	return n;
}

int resolver_new(const resolver_opts *o, resolver **out, char *err, size_t errlen)
{
	resolver *r = calloc(1, sizeof(*r));
	int ret = IDN_ENOMEM;
	if (!r)
		return ret;
	r->o = *o;
	if (!r->o.threads)
		r->o.threads = 4;
	if (!r->o.queue_max)
		r->o.queue_max = 1024;
	if (!r->o.timeout_ms)
		r->o.timeout_ms = 1000;
	if (!r->o.udp_answer_max)
		r->o.udp_answer_max = PROTO_UDP_ANSWER_MAX_DEF;
	if (!r->o.udp_amplification)
		r->o.udp_amplification = PROTO_UDP_RATIO_DEF;
	if (!r->o.tcp_timeout_ms)
		r->o.tcp_timeout_ms = 500;
	if (!r->o.coalesce_wait_ms)
		r->o.coalesce_wait_ms = 3000;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (!o->root) {
		snprintf(err, errlen, "no root: give --root HOST:PORT");
		ret = IDN_EINVAL;
		goto fail;
	}
	char aerr[200] = "";
	if ((ret = client_addr_parse(o->root, 2641, &r->root, aerr, sizeof(aerr)))) {
		snprintf(err, errlen, "root '%s': %s", o->root, aerr);
		goto fail;
	}
	if ((ret = cache_new(&o->cache, &r->cache))) {
		snprintf(err, errlen, "cache: %s", idn_strerror(ret));
		goto fail;
	}
	if (!(r->threads = calloc(r->o.threads, sizeof(pthread_t)))) {
		ret = IDN_ENOMEM;
		goto fail;
	}
	/*
	 * The pool takes no signals: SIGTERM and the like must reach the thread
	 * that waits for them (net_run_until_signal), not kill us here.
	 */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; r->nthreads < r->o.threads; r->nthreads++) {
		if (pthread_create(&r->threads[r->nthreads], NULL, pool_main, r))
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r->nthreads < r->o.threads) {
		snprintf(err, errlen, "cannot start resolver threads");
		ret = IDN_ENOMEM;
		goto fail;
	}
	*out = r;
	return IDN_OK;
fail:
	resolver_free(r);
	return ret;
}

void resolver_free(resolver *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	for (struct job *j = r->head, *nx; j; j = nx) {
		nx = j->next;
		if (j->answer)
			j->answer(j->ctx, NULL, 0); /* dropped: the connection ends */
		free(j);
	}
	free(r->threads);
	cache_free(r->cache);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

void resolver_stats(resolver *r, struct resolver_stats *st)
{
	cache_stats(r->cache, &st->cache);
	st->upstream = atomic_load_explicit(&r->upstream, memory_order_relaxed);
	st->upstream_fail = atomic_load_explicit(&r->upstream_fail, memory_order_relaxed);
	st->queued = atomic_load_explicit(&r->queued, memory_order_relaxed);
	st->busy = atomic_load_explicit(&r->busy, memory_order_relaxed);
}

void resolver_stats_line(resolver *r, char *buf, size_t len)
{
	struct resolver_stats s;
	resolver_stats(r, &s);
	snprintf(buf, len,
	         "resolver: hits=%llu misses=%llu coalesced=%llu stale=%llu evictions=%llu "
	         "upstream=%llu upstream_fail=%llu queued=%llu busy=%llu entries=%llu bytes=%llu",
	         (unsigned long long)s.cache.hits, (unsigned long long)s.cache.misses,
	         (unsigned long long)s.cache.coalesced, (unsigned long long)s.cache.stale,
	         (unsigned long long)s.cache.evictions, (unsigned long long)s.upstream,
	         (unsigned long long)s.upstream_fail, (unsigned long long)s.queued,
	         (unsigned long long)s.busy, (unsigned long long)s.cache.entries,
	         (unsigned long long)s.cache.bytes);
}
