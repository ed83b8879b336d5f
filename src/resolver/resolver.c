/*
 * resolver.c - the recursive node's request path: cache key, answers from
 * the cache, the pool that resolves UDP misses and answers them itself. See
 * resolver.h for the threading choices.
 */
#include "resolver/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/trust.h"
#include "client/client.h"
#include "core/err.h"
#include "core/limit.h"
#include "proto/handle.h"
#include "proto/admin.h"
#include "proto/proto.h"
#include "proto/udp.h"
#include "resolver/holddown.h"

enum {
	MAX_FILTERS = 64, /* indexes or types in one request we pass upstream */
	/* PO byte + identifier key + filters, as the request has them. */
	KEY_MAX = 1 + HANDLE_KEY_MAX + 8 + 4096,
	/* Room before a cached body in the answer buffer: envelope, header, digest. */
	HEAD_ROOM = PROTO_ENV_LEN + PROTO_HDR_LEN + 1 + PROTO_DIGEST_MAX,
	ANSWER_CAP = PROTO_ENV_LEN + PROTO_MSG_MAX,
	SITE_ENTRY_MAX = 65536, /* a prefix's record kept for walks: larger ones are asked again */
	SITES_BYTES = 4u << 20, /* the site cache's budget */
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
	_Atomic uint64_t upstream, upstream_fail, queued, busy, verified, unverified, held;
	holddown *hd;         /* NULL: no hold-down */
	cache *sites;         /* the records of prefix and service handles walks read (site_get) */
	EVP_PKEY *trust_root; /* NULL: trusted queries are answered as others */
	char *trust_root_handle;
};

/* A request taken apart: what the key and the answer need. */
typedef struct parsed {
	proto_env env;
	proto_msg msg;
	proto_resolve_req rr;
	uint8_t minor; /* the answer's */
	bool trusted;  /* a trusted query (PROTO_F_IDIS_TRUSTED) and we have a trust root */
	bool verified; /* ... and the answer verified */
} parsed;

static int parse(const resolver *r, const uint8_t *p, size_t len, parsed *q)
{
	int ret;
	q->verified = false;
	if ((ret = proto_env_decode(p, len, &q->env)))
		return ret;
	if ((ret = proto_msg_decode(p + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &q->msg)))
		return ret;
	q->minor = q->env.minor;
	if (q->env.major != PROTO_MAJOR || q->minor > PROTO_MINOR_MAX)
		q->minor = PROTO_MINOR_MAX;
	if (q->minor < PROTO_MINOR_MIN)
		q->minor = PROTO_MINOR_MIN;
	q->trusted = r->trust_root && (q->msg.hdr.flags & PROTO_F_IDIS_TRUSTED);
	if (q->msg.hdr.opcode != PROTO_OP_RESOLUTION)
		return IDN_ENOTSUP; /* still answerable: q is filled but for rr */
	/* Answerable too, with a protocol error: only the body is bad. */
	return proto_resolve_req_decode(q->msg.body, &q->rr) ? IDN_EPROTO : IDN_OK;
}

/*
 * PO (and 2 for a trusted query: its entry holds the verdict), the
 * normalised identifier, then the filters as sent: one cache entry per
 * question.
 */
static int make_key(const parsed *q, uint8_t *key)
{
	key[0] = ((q->msg.hdr.flags & PROTO_F_PO) ? 1 : 0) | (q->trusted ? 2 : 0);
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
	uint32_t trust =
	    q->trusted ? PROTO_F_IDIS_TRUSTED | (q->verified ? PROTO_F_IDIS_VERIFIED : 0) : 0;
	proto_hdr hdr = {
	    .opcode = q->msg.hdr.opcode,
	    .rcode = rc,
	    .flags = PROTO_F_REC | (q->msg.hdr.flags & echo) | trust,
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

/*
 * Answers from a cached entry in out + HEAD_ROOM: a trusted query's entry
 * starts with its verdict byte. A stale entry is past the time its verdict
 * held (its certificates may have expired since): never verified.
 */
static int answer_cached(parsed *q, const cache_answer *a, bool stale, uint8_t *out, size_t cap)
{
	uint8_t *body = out + HEAD_ROOM;
	size_t len = a->body_len;
	if (q->trusted) {
		if (!len)
			return answer_msg(q, PROTO_RC_ERROR, "bad cache entry", out, cap);
		q->verified = body[0] == 1 && !stale;
		body++;
		len--;
	}
	return answer(q, a->rcode, a->ttl_left, body, len, out, cap);
}

/* The cache's record of a server (fetched: now). */
static cache_origin origin_of(const client_addr *a)
{
	cache_origin o = {0};
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
		o.family = AF_INET;
		o.port = ntohs(in->sin_port);
		memcpy(o.addr, &in->sin_addr, 4);
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
		o.family = AF_INET6;
		o.port = ntohs(in6->sin6_port);
		memcpy(o.addr, &in6->sin6_addr, 16);
	}
	return o;
}

/* meta from a cached answer's origin. */
static void meta_of(resolver_meta *m, const cache_origin *o, bool stale)
{
	if (!m)
		return;
	*m = (resolver_meta){.fetched = o->fetched, .stale = stale};
	char ip[INET6_ADDRSTRLEN];
	if (o->family && inet_ntop(o->family, o->addr, ip, sizeof(ip)))
		snprintf(m->node, sizeof(m->node), o->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		         o->port);
}

/* Stores an answer for q (a trusted query's with its verdict byte first), from `from`. */
static void put_answer(resolver *r, const parsed *q, const uint8_t *key, size_t klen, uint32_t rc,
                       const uint8_t *body, size_t len, uint32_t ttl, const cache_origin *from)
{
	if (!q->trusted) {
		cache_put_from(r->cache, key, klen, rc, body, len, ttl, from);
		return;
	}
	uint8_t *b = malloc(len + 1);
	if (!b) {
		cache_abandon(r->cache, key, klen);
		return;
	}
	b[0] = q->verified ? 1 : 0;
	memcpy(b + 1, body, len);
	cache_put_from(r->cache, key, klen, rc, b, len + 1, ttl, from);
	free(b);
}

/* Fresh from the cache straight into out; 0 on a miss. */
static int from_cache(resolver *r, parsed *q, const uint8_t *key, size_t klen,
                      int (*get)(cache *, const uint8_t *, size_t, cache_answer *, uint8_t *,
                                 size_t),
                      uint8_t *out, size_t cap, int *res, resolver_meta *meta)
{
	cache_answer a;
	uint8_t *body = out + HEAD_ROOM;
	size_t bcap = cap - HEAD_ROOM - 4;
	*res = get(r->cache, key, klen, &a, body, bcap);
	if ((*res != CACHE_HIT && *res != CACHE_STALE) || a.body_len > bcap)
		return 0;
	meta_of(meta, &a.from, *res == CACHE_STALE);
	return answer_cached(q, &a, *res == CACHE_STALE, out, cap);
}

/* The values of a success answer body (rc, body) copied into *vals; as trust_fetch_fn returns. */
static int body_values(uint32_t rc, idn_slice body, uint8_t **vals, size_t *len, uint32_t *n,
                       char *err, size_t errlen)
{
	proto_resolve_resp rs;
	if (rc == PROTO_RC_HANDLE_NOT_FOUND || rc == PROTO_RC_VALUE_NOT_FOUND)
		return IDN_ENOTFOUND;
	if (rc != PROTO_RC_SUCCESS) {
		snprintf(err, errlen, "answered %s (%u)", proto_rc_name(rc), rc);
		return IDN_EPROTO;
	}
	if (proto_resolve_resp_decode(body, &rs) || !(*vals = malloc(rs.values.len + 1))) {
		snprintf(err, errlen, "malformed answer");
		return IDN_EPROTO;
	}
	memcpy(*vals, rs.values.p, rs.values.len);
	*len = rs.values.len;
	*n = rs.nvalues;
	return IDN_OK;
}

/*
 * One upstream walk's hold-down hooks (client_root_opts.may_ask / asked):
 * the resolver, where the answer came from, and the last server that failed.
 */
typedef struct walk_ctx {
	resolver *r;
	client_addr answered_by, failed;
	bool has_failed;
} walk_ctx;

/* The hold-down's key of a server: family, port, address, transport. */
static size_t hd_key(const client_addr *a, enum client_transport t, uint8_t *key)
{
	cache_origin o = origin_of(a);
	key[0] = (uint8_t)t;
	key[1] = o.family;
	idn_put_be32(key + 2, o.port);
	memcpy(key + 6, o.addr, 16);
	return 22;
}

static bool hd_may_ask(void *arg, const client_addr *a, enum client_transport t, char *why,
                       size_t whylen)
{
	walk_ctx *wc = arg;
	uint8_t key[HOLDDOWN_KEY_MAX];
	uint32_t since = 0;
	if (!wc->r->hd || holddown_may_ask(wc->r->hd, key, hd_key(a, t, key), &since))
		return true;
	atomic_fetch_add_explicit(&wc->r->held, 1, memory_order_relaxed);
	wc->failed = *a;
	wc->has_failed = true;
	char as[64];
	client_addr_str(a, as, sizeof(as));
	time_t ts = (time_t)since;
	struct tm tm;
	gmtime_r(&ts, &tm);
	snprintf(why, whylen, "node %s is not answering (since %02d:%02d:%02d UTC)", as, tm.tm_hour,
	         tm.tm_min, tm.tm_sec);
	return false;
}

static void hd_asked(void *arg, const client_addr *a, enum client_transport t, int ret)
{
	walk_ctx *wc = arg;
	if (ret) {
		wc->failed = *a;
		wc->has_failed = true;
	}
	/* Only a timeout holds a server down: a refusal fails fast by itself. */
	uint8_t key[HOLDDOWN_KEY_MAX];
	if (wc->r->hd)
		holddown_result(wc->r->hd, key, hd_key(a, t, key), ret != IDN_ETIMEOUT);
}

/* The site cache's entry: n (4 bytes), then the values. */
static int site_get(void *arg, idn_slice handle, uint8_t **values, size_t *len, uint32_t *n)
{
	walk_ctx *wc = arg;
	uint8_t key[HANDLE_KEY_MAX];
	int kl = handle.len <= PROTO_HANDLE_MAX ? handle_key(handle, true, key) : IDN_EINVAL;
	uint8_t *buf = kl > 0 ? malloc(SITE_ENTRY_MAX) : NULL;
	cache_answer a;
	if (!buf ||
	    cache_get(wc->r->sites, key, (size_t)kl, &a, buf, SITE_ENTRY_MAX) != CACHE_HIT ||
	    a.body_len > SITE_ENTRY_MAX || a.body_len < 4) {
		free(buf);
		return 0;
	}
	*n = idn_be32(buf);
	*len = a.body_len - 4;
	memmove(buf, buf + 4, *len);
	*values = buf;
	return 1;
}

static void site_put(void *arg, idn_slice handle, idn_slice values, uint32_t n)
{
	walk_ctx *wc = arg;
	cache *c = wc->r->sites;
	const cache_opts *co = cache_options(c);
	uint8_t key[HANDLE_KEY_MAX];
	uint32_t ttl;
	int kl = handle.len <= PROTO_HANDLE_MAX ? handle_key(handle, true, key) : IDN_EINVAL;
	if (kl <= 0 || values.len + 4 > SITE_ENTRY_MAX ||
	    cache_values_ttl(values, n, co->clock(), co->max_ttl, &ttl) || !ttl)
		return;
	uint8_t *b = malloc(values.len + 4);
	if (!b)
		return;
	idn_put_be32(b, n);
	memcpy(b + 4, values.p, values.len);
	cache_put(c, key, (size_t)kl, PROTO_RC_SUCCESS, b, values.len + 4, ttl);
	free(b);
}

/*
 * Walk options with the hooks (the hold-down when on; the server that
 * failed, always; the site cache) and answered_by into wc.
 */
static void walk_opts(resolver *r, walk_ctx *wc, client_root_opts *ro)
{
	*wc = (walk_ctx){.r = r};
	ro->answered_by = &wc->answered_by;
	ro->may_ask = hd_may_ask;
	ro->asked = hd_asked;
	ro->site_get = site_get;
	ro->site_put = site_put;
	ro->hook_arg = wc;
}

/* One verification's fetches: their resolver and deadline (limit_now_ms). */
typedef struct trust_run {
	resolver *r;
	int64_t deadline;
	bool over; /* a fetch found the budget spent */
} trust_run;

/*
 * A trust_fetch_fn: the values of handle (a certificate holder, or a record
 * asked with filters) as a public, unfiltered question: from the cache (the
 * entry such a client question has), else from the root within what is
 * left of the verification's time budget, then cached.
 */
static int trust_fetch(void *arg, const char *handle, uint8_t **vals, size_t *len, uint32_t *n,
                       char *err, size_t errlen)
{
	trust_run *tr = arg;
	resolver *r = tr->r;
	idn_slice h = idn_slice_of(handle, strlen(handle));
	uint8_t key[1 + HANDLE_KEY_MAX + 8];
	int kl = h.len <= PROTO_HANDLE_MAX ? handle_key(h, true, key + 1) : IDN_EINVAL;
	if (kl < 0) {
		snprintf(err, errlen, "not PREFIX/SUFFIX");
		return IDN_EINVAL;
	}
	key[0] = 1; /* PO */
	memset(key + 1 + kl, 0, 8);
	size_t klen = 1 + (size_t)kl + 8;
	uint8_t *buf = malloc(ANSWER_CAP);
	cache_answer a;
	if (buf && cache_get(r->cache, key, klen, &a, buf, ANSWER_CAP) == CACHE_HIT &&
	    a.body_len <= ANSWER_CAP) {
		int rc =
		    body_values(a.rcode, idn_slice_of(buf, a.body_len), vals, len, n, err, errlen);
		free(buf);
		return rc;
	}
	free(buf);
	int64_t left = tr->deadline - limit_now_ms();
	if (left <= 0) {
		tr->over = true;
		snprintf(err, errlen, "over the verification's time budget (%u ms)",
		         r->o.trust_budget_ms);
		return IDN_ETIMEOUT;
	}
	client_root_opts ro = {
	    .base = {.transport = CLIENT_UDP,
	             .timeout_ms = left < r->o.timeout_ms ? (unsigned)left : r->o.timeout_ms,
	             .flags = PROTO_F_CA | PROTO_F_PO}};
	walk_ctx wc;
	walk_opts(r, &wc, &ro);
	uint8_t *ans = NULL;
	size_t anslen;
	proto_env env;
	proto_msg msg;
	atomic_fetch_add_explicit(&r->upstream, 1, memory_order_relaxed);
	int ret = client_resolve_root(&r->root, h, &ro, &ans, &anslen, &env, &msg, err, errlen);
	if (ret && limit_now_ms() >= tr->deadline)
		tr->over = true; /* cut short by the budget */
	idn_slice rest;
	if (!ret && proto_answer_split(msg.body, msg.hdr.flags & PROTO_F_RD, NULL, NULL, &rest))
		ret = IDN_EPROTO;
	if (!ret)
		ret = body_values(msg.hdr.rcode, rest, vals, len, n, err, errlen);
	uint32_t ttl = 0;
	const cache_opts *co = cache_options(r->cache);
	if (!ret &&
	    !cache_values_ttl(idn_slice_of(*vals, *len), *n, co->clock(), co->max_ttl, &ttl) &&
	    ttl) {
		cache_origin from = origin_of(&wc.answered_by);
		cache_put_from(r->cache, key, klen, msg.hdr.rcode, rest.p, rest.len, ttl, &from);
	}
	if (ret && ret != IDN_ENOTFOUND)
		atomic_fetch_add_explicit(&r->upstream_fail, 1, memory_order_relaxed);
	free(ans);
	return ret;
}

/* Whether every value of part is, byte for byte, one of whole's. */
static bool values_within(idn_slice part, uint32_t np, idn_slice whole, uint32_t nw)
{
	proto_values_it it = proto_values_begin(part, np);
	proto_value v, w;
	int rc;
	while ((rc = proto_values_next(&it, &v)) == 1) {
		proto_values_it jt = proto_values_begin(whole, nw);
		bool found = false;
		while (!found && proto_values_next(&jt, &w) == 1)
			found = idn_slice_eq(it.raw, jt.raw);
		if (!found)
			return false;
	}
	return rc == 0;
}

/*
 * The verdict on a trusted query's success answer rs: the whole record
 * (fetched unfiltered when the question had filters, perhaps from the
 * cache) against the trust root, every value signed; a filtered answer's
 * values must then be that record's, byte for byte. *until: when the
 * first link of the chain expires (0: none does).
 */
static enum trust_code trust_check(resolver *r, const parsed *q, const proto_resolve_resp *rs,
                                   int64_t *until)
{
	char handle[PROTO_HANDLE_MAX + 1];
	size_t hl = q->rr.handle.len;
	idn_slice values = rs->values;
	uint32_t n = rs->nvalues;
	uint8_t *full = NULL;
	trust_result res;
	enum trust_code c = TRUST_MALFORMED;
	/* A C string names the handle verified: it must be the whole question's. */
	if (hl > PROTO_HANDLE_MAX || memchr(q->rr.handle.p, 0, hl))
		goto done;
	memcpy(handle, q->rr.handle.p, hl);
	handle[hl] = 0;
	c = TRUST_FETCH;
	trust_run run = {.r = r, .deadline = limit_now_ms() + r->o.trust_budget_ms};
	if (q->rr.nindexes || q->rr.ntypes) {
		size_t len;
		char err[256];
		if (trust_fetch(&run, handle, &full, &len, &n, err, sizeof err))
			goto over;
		values = idn_slice_of(full, len);
	}
	trust_ctx t = {.root_handle = r->trust_root_handle,
	               .root_key = r->trust_root,
	               .now = (int64_t)time(NULL),
	               .fetch = trust_fetch,
	               .fetch_arg = &run,
	               .max_links = r->o.trust_max_links,
	               .require_all = true};
	c = trust_verify_record(&t, handle, values, n, &res);
	*until = res.expires;
	if (c == TRUST_TOO_LONG || c == TRUST_LOOP)
		limit_hit(LIM_TRUST_CHAIN, "trusted query for %.200s: %s", handle, res.msg);
over:
	if (run.over)
		limit_hit(LIM_TRUST_CHAIN, "trusted query for %.200s: over its time budget (%u ms)",
		          handle, r->o.trust_budget_ms);
	if (c == TRUST_OK && full && !values_within(rs->values, rs->nvalues, values, n))
		c = TRUST_DIGEST; /* the answer is not the record that verified */
done:
	free(full);
	atomic_fetch_add_explicit(c == TRUST_OK ? &r->verified : &r->unverified, 1,
	                          memory_order_relaxed);
	return c;
}

/*
 * Every upstream failed (ret, err): a stale answer if there is one, else
 * rc 2 (6 for a referral loop) with the reason; meta says which.
 */
static int upstream_failed(resolver *r, parsed *q, const uint8_t *key, size_t klen, int ret,
                           const char *err, const walk_ctx *wc, uint8_t *out, size_t cap,
                           resolver_meta *meta)
{
	int sres, n;
	atomic_fetch_add_explicit(&r->upstream_fail, 1, memory_order_relaxed);
	if ((n = from_cache(r, q, key, klen, cache_get_stale, out, cap, &sres, meta)) != 0)
		return n;
	if (meta) {
		*meta = (resolver_meta){.down = true};
		if (wc->has_failed)
			client_addr_str(&wc->failed, meta->node, sizeof(meta->node));
	}
	char m[400];
	snprintf(m, sizeof(m), "recursive resolution of %.*s failed: %s",
	         (int)(q->rr.handle.len > 200 ? 200 : q->rr.handle.len),
	         (const char *)q->rr.handle.p, err[0] ? err : idn_strerror(ret));
	return answer_msg(q, ret == IDN_ERANGE ? PROTO_RC_RECURSION_COUNT_TOO_HIGH : PROTO_RC_ERROR,
	                  m, out, cap);
}

/*
 * Resolves q from the root (coalesced with others asking the same) and
 * writes the answer. Runs on a pool thread (UDP), the worker (TCP) or a
 * gateway thread (resolver_lookup); meta (optional) says where it came from.
 */
static int resolve_miss(resolver *r, parsed *q, const uint8_t *key, size_t klen,
                        unsigned timeout_ms, unsigned wait_ms, uint8_t *out, size_t cap,
                        resolver_meta *meta)
{
	cache_answer a;
	uint8_t *body = out + HEAD_ROOM;
	size_t bcap = cap - HEAD_ROOM - 4;
	int res = cache_fetch(r->cache, key, klen, wait_ms, &a, body, bcap);
	if (res == CACHE_HIT && a.body_len <= bcap) {
		meta_of(meta, &a.from, false);
		return answer_cached(q, &a, false, out, cap);
	}
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
	            /*
	             * Public values only, whatever the client asked: a recursive
	             * node reads as anyone, and a node asked without PO over TCP
	             * (the retry of an answer over its UDP budget) would
	             * challenge for restricted values (node/resolve.c).
	             */
	            .flags = PROTO_F_CA | PROTO_F_PO,
	            .indexes = idx,
	            .nindexes = q->rr.nindexes,
	            .types = types,
	            .ntypes = q->rr.ntypes,
	            .recursion = q->msg.hdr.recursion,
	        },
	};
	walk_ctx wc;
	walk_opts(r, &wc, &ro);
	uint8_t *ans = NULL;
	size_t anslen;
	proto_env env;
	proto_msg msg;
	char err[256];
	atomic_fetch_add_explicit(&r->upstream, 1, memory_order_relaxed);
	int ret = client_resolve_root(&r->root, q->rr.handle, &ro, &ans, &anslen, &env, &msg, err,
	                              sizeof(err));
	cache_origin from = origin_of(&wc.answered_by);
	from.fetched = cache_options(r->cache)->clock();
	if (!ret || ret == IDN_ENOTFOUND)
		meta_of(meta, &from, false);
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
			put_answer(r, q, key, klen, PROTO_RC_HANDLE_NOT_FOUND, nb, ml + 4, nttl,
			           &from);
			lead = false;
		}
		n = answer(q, PROTO_RC_HANDLE_NOT_FOUND, nttl, nb, ml + 4, out, cap);
		goto out;
	}
	if (ret) {
		if (lead) {
			cache_abandon(r->cache, key, klen);
			lead = false;
		}
		n = upstream_failed(r, q, key, klen, ret, err, &wc, out, cap, meta);
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
		int64_t until = 0, left;
		if (q->trusted && (q->verified = trust_check(r, q, &rs, &until) == TRUST_OK) &&
		    until && (left = until - (int64_t)time(NULL)) < (int64_t)ttl)
			ttl = left > 0 ? (uint32_t)left : 0; /* cached no longer than it holds */
	} else if (rc == PROTO_RC_HANDLE_NOT_FOUND || rc == PROTO_RC_VALUE_NOT_FOUND) {
		ttl = co->neg_ttl;
	}
	if (lead && ttl) {
		put_answer(r, q, key, klen, rc, rest.p, rest.len, ttl, &from);
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
		if (parse(r, j->msg, j->len, &q) == 0 && (klen = make_key(&q, key)) > 0) {
			int n = resolve_miss(r, &q, key, (size_t)klen, r->o.timeout_ms,
			                     r->o.coalesce_wait_ms, out, ANSWER_CAP, NULL);
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

/*
 * Takes the request apart and makes its key: 0 and *klen, or the answer
 * already written (> 0: a request we refuse), or < 0 (drop it).
 */
static int prepare(resolver *r, const uint8_t *msg, size_t len, parsed *q, uint8_t *key, int *klen,
                   uint8_t *out, size_t cap)
{
	if (cap < ANSWER_CAP)
		return IDN_EINVAL;
	int ret = parse(r, msg, len, q);
	if (ret == IDN_ENOTSUP) /* a recursive node without a store of its own */
		return answer_msg(q, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                  "a recursive node only resolves identifiers", out, cap);
	if (ret == IDN_EPROTO)
		return answer_msg(q, PROTO_RC_PROTOCOL_ERROR, "malformed resolution request", out,
		                  cap);
	if (ret)
		return IDN_EINVAL; /* no envelope or header to answer to: dropped */
	*klen = make_key(q, key);
	if (*klen == IDN_EINVAL)
		return answer_msg(q, PROTO_RC_INVALID_HANDLE, "not PREFIX/SUFFIX", out, cap);
	if (*klen < 0)
		return answer_msg(q, PROTO_RC_ERROR, "identifier or filters too long", out, cap);
	return 0;
}

int resolver_lookup(resolver *r, const uint8_t *msg, size_t len, enum resolver_wait wait,
                    uint8_t *out, size_t cap, resolver_meta *meta)
{
	parsed q;
	uint8_t key[KEY_MAX];
	int klen = 0, res;
	if (meta)
		*meta = (resolver_meta){0};
	int n = prepare(r, msg, len, &q, key, &klen, out, cap);
	/* Cache-only: the miss is counted when the request is looked up again, waiting. */
	if (n || (n = from_cache(r, &q, key, (size_t)klen,
	                         wait == RESOLVER_BLOCK   ? cache_get
	                         : wait == RESOLVER_PROBE ? cache_probe
	                                                  : cache_peek,
	                         out, cap, &res, meta)))
		return n;
	if (wait != RESOLVER_BLOCK)
		return IDN_EAGAIN;
	return resolve_miss(r, &q, key, (size_t)klen, r->o.timeout_ms, r->o.coalesce_wait_ms, out,
	                    cap, meta);
}

int resolver_answer(resolver *r, const resolver_req *rq, uint8_t *out, size_t cap)
{
	parsed q;
	uint8_t key[KEY_MAX];
	int klen = 0, res;
	int n = prepare(r, rq->msg, rq->len, &q, key, &klen, out, cap);
	if (n)
		return n;
	n = from_cache(r, &q, key, (size_t)klen, cache_get, out, cap, &res, NULL);
	if (n)
		return n;
	void *ctx = NULL;
	if (!rq->udp && !(rq->defer && rq->answer && (ctx = rq->defer(rq->defer_arg)))) {
		/* A verification may ask upstream many times: never on a worker. */
		if (q.trusted)
			return answer_msg(
			    &q, PROTO_RC_SERVER_BUSY,
			    "trusted resolution cannot be answered later here; ask again", out,
			    cap);
		/* On the worker: wait for another's query no longer than one question. */
		return resolve_miss(r, &q, key, (size_t)klen, r->o.tcp_timeout_ms,
		                    r->o.tcp_timeout_ms, out, cap, NULL);
	}

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

/* The trust root's PEM public key (or a private key file's public half), and its handle. */
static int load_trust_root(resolver *r, const resolver_opts *o, char *err, size_t errlen)
{
	FILE *f = fopen(o->trust_root, "r");
	if (!f) {
		snprintf(err, errlen, "trust root '%s': cannot open", o->trust_root);
		return IDN_ECONFIG;
	}
	r->trust_root = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!r->trust_root) {
		rewind(f);
		r->trust_root = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	if (!r->trust_root) {
		snprintf(err, errlen, "trust root '%s': not a PEM public key", o->trust_root);
		return IDN_ECONFIG;
	}
	if (o->trust_root_handle && !(r->trust_root_handle = strdup(o->trust_root_handle)))
		return IDN_ENOMEM;
	return IDN_OK;
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
	if (!r->o.trust_budget_ms)
		r->o.trust_budget_ms = 3000;
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
	if (o->trust_root && (ret = load_trust_root(r, o, err, errlen)))
		goto fail;
	if (!o->holddown_off && (ret = holddown_new(&(holddown_opts){.first_ms = o->holddown_ms,
	                                                             .max_ms = o->holddown_max_ms},
	                                            &r->hd)))
		goto fail;
	cache_opts so = {.max_bytes = SITES_BYTES,
	                 .max_ttl = o->cache.max_ttl,
	                 .shards = 8,
	                 .clock = o->cache.clock};
	if ((ret = cache_new(&so, &r->sites)))
		goto fail;
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
	cache_free(r->sites);
	holddown_free(r->hd);
	EVP_PKEY_free(r->trust_root);
	free(r->trust_root_handle);
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
	st->verified = atomic_load_explicit(&r->verified, memory_order_relaxed);
	st->unverified = atomic_load_explicit(&r->unverified, memory_order_relaxed);
	st->held = atomic_load_explicit(&r->held, memory_order_relaxed);
	st->held_now = r->hd ? holddown_count(r->hd) : 0;
	struct cache_stats ss;
	cache_stats(r->sites, &ss);
	st->sites = ss.entries;
}

void resolver_stats_line(resolver *r, char *buf, size_t len)
{
	struct resolver_stats s;
	resolver_stats(r, &s);
	snprintf(buf, len,
	         "resolver: hits=%llu misses=%llu coalesced=%llu stale=%llu evictions=%llu "
	         "upstream=%llu upstream_fail=%llu queued=%llu busy=%llu verified=%llu "
	         "unverified=%llu entries=%llu bytes=%llu held=%llu held_now=%llu sites=%llu",
	         (unsigned long long)s.cache.hits, (unsigned long long)s.cache.misses,
	         (unsigned long long)s.cache.coalesced, (unsigned long long)s.cache.stale,
	         (unsigned long long)s.cache.evictions, (unsigned long long)s.upstream,
	         (unsigned long long)s.upstream_fail, (unsigned long long)s.queued,
	         (unsigned long long)s.busy, (unsigned long long)s.verified,
	         (unsigned long long)s.unverified, (unsigned long long)s.cache.entries,
	         (unsigned long long)s.cache.bytes, (unsigned long long)s.held,
	         (unsigned long long)s.held_now, (unsigned long long)s.sites);
}
