/*
 * identity_lookup.c - identities whose key lives on another node: HS_PUBKEY
 * values fetched by resolution from the root (and cached for their TTL),
 * HS_SECKEY responses checked with op 201 by the node that holds the secret;
 * each check on a thread of its own. See identity_lookup.h.
 */
#include "client/identity_lookup.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/verify.h"
#include "client/client.h"
#include "proto/handle.h"
#include "proto/record.h"

enum {
	CACHE_MAX = 64,       /* remote keys kept at once */
	CACHE_TTL_MAX = 3600, /* a key is asked again at least this often (s) */
	TIMEOUT_DEFAULT = 2000 /* ms for one whole check */,
	ROOT_HOPS_MAX = 16, /* referrals followed: an identity is a few levels down */
	LOOKUPS_MAX = 64,   /* checks running at once; more are refused (IDN_EBUSY) */
};

typedef struct cache_entry {
	uint8_t *key; /* store key of the identity handle (normalised), malloc'd */
	size_t klen;
	uint32_t index;
	uint8_t *data; /* HS_PUBKEY value data, malloc'd */
	size_t dlen;
	uint32_t expires; /* unix seconds */
	uint32_t added;   /* for eviction: the oldest goes first */
} cache_entry;

struct client_identity_lookup {
	client_addr root;
	char root_str[64];
	unsigned timeout_ms;
	bool case_sensitive;
	pthread_mutex_t mu;
	pthread_cond_t idle; /* running went to 0 */
	unsigned running;    /* checks on their own thread (client_identity_lookup_start) */
	cache_entry cache[CACHE_MAX];
};

int client_identity_lookup_new(const client_identity_lookup_opts *o, client_identity_lookup **out)
{
	*out = NULL;
	client_identity_lookup *lk = calloc(1, sizeof(*lk));
	if (!lk)
		return IDN_ENOMEM;
	lk->timeout_ms = o->timeout_ms ? o->timeout_ms : TIMEOUT_DEFAULT;
	lk->case_sensitive = o->case_sensitive;
	char err[128];
	if (!o->root || client_addr_parse(o->root, 2641, &lk->root, err, sizeof(err))) {
		free(lk);
		return IDN_ECONFIG;
	}
	client_addr_str(&lk->root, lk->root_str, sizeof(lk->root_str));
	pthread_mutex_init(&lk->mu, NULL);
	pthread_cond_init(&lk->idle, NULL);
	*out = lk;
	return IDN_OK;
}

void client_identity_lookup_free(client_identity_lookup *lk)
{
	if (!lk)
		return;
	pthread_mutex_lock(&lk->mu);
	while (lk->running)
		pthread_cond_wait(&lk->idle, &lk->mu);
	pthread_mutex_unlock(&lk->mu);
	for (int i = 0; i < CACHE_MAX; i++) {
		free(lk->cache[i].key);
		free(lk->cache[i].data);
	}
	pthread_cond_destroy(&lk->idle);
	pthread_mutex_destroy(&lk->mu);
	free(lk);
}

size_t client_identity_lookup_cached(client_identity_lookup *lk)
{
	size_t n = 0;
	pthread_mutex_lock(&lk->mu);
	for (int i = 0; i < CACHE_MAX; i++)
		n += lk->cache[i].key != NULL;
	pthread_mutex_unlock(&lk->mu);
	return n;
}

/* ---- cache ---- */

/* A malloc'd copy of a fresh cached key, or NULL. */
static uint8_t *cache_get(client_identity_lookup *lk, idn_slice key, uint32_t index, uint32_t now,
                          size_t *len)
{
	uint8_t *copy = NULL;
	pthread_mutex_lock(&lk->mu);
	for (int i = 0; i < CACHE_MAX; i++) {
		cache_entry *e = &lk->cache[i];
		if (e->key && e->index == index && e->klen == key.len &&
		    !memcmp(e->key, key.p, key.len) && now < e->expires) {
			copy = malloc(e->dlen ? e->dlen : 1);
			if (copy) {
				memcpy(copy, e->data, e->dlen);
				*len = e->dlen;
			}
			break;
		}
	}
	pthread_mutex_unlock(&lk->mu);
	return copy;
}

static void cache_put(client_identity_lookup *lk, idn_slice key, uint32_t index, idn_slice data,
                      uint32_t now, uint32_t ttl)
{
	uint8_t *k = malloc(key.len ? key.len : 1), *d = malloc(data.len ? data.len : 1);
	if (!k || !d) {
		free(k);
		free(d);
		return; /* a cache that cannot grow just asks again next time */
	}
	memcpy(k, key.p, key.len);
	memcpy(d, data.p, data.len);
	pthread_mutex_lock(&lk->mu);
	/* The same identity again, else a free or expired slot, else the oldest. */
	int slot = -1;
	for (int i = 0; i < CACHE_MAX && slot < 0; i++) {
		cache_entry *e = &lk->cache[i];
		if (e->key && e->index == index && e->klen == key.len &&
		    !memcmp(e->key, key.p, key.len))
			slot = i;
	}
	for (int i = 0; i < CACHE_MAX && slot < 0; i++)
		if (!lk->cache[i].key || lk->cache[i].expires <= now)
			slot = i;
	if (slot < 0) {
		slot = 0;
		for (int i = 1; i < CACHE_MAX; i++)
			if (lk->cache[i].added < lk->cache[slot].added)
				slot = i;
	}
	cache_entry *e = &lk->cache[slot];
	free(e->key);
	free(e->data);
	*e = (cache_entry){.key = k,
	                   .klen = key.len,
	                   .index = index,
	                   .data = d,
	                   .dlen = data.len,
	                   .expires = now + ttl,
	                   .added = now};
	pthread_mutex_unlock(&lk->mu);
}

/* ---- resolution from the root ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Resolves index:handle (type typ) from the root within total_ms. On IDN_OK
 * ans and msg hold the answer (whatever its code) and *srv the server that
 * gave it. Otherwise why says what failed.
 */
static int ask_root(client_identity_lookup *lk, idn_slice handle, uint32_t index, idn_slice typ,
                    unsigned total_ms, uint8_t **ans, proto_msg *msg, client_addr *srv, char *why,
                    size_t whylen)
{
	char err[256];
	size_t anslen;
	proto_env env;
	client_root_opts o = {.base = {.transport = CLIENT_UDP,
	                               .timeout_ms = total_ms,
	                               .indexes = &index,
	                               .nindexes = 1,
	                               .types = &typ,
	                               .ntypes = 1},
	                      .max_hops = ROOT_HOPS_MAX,
	                      .total_ms = total_ms,
	                      .answered_by = srv};
	int ret =
	    client_resolve_root(&lk->root, handle, &o, ans, &anslen, &env, msg, err, sizeof(err));
	if (ret == IDN_ETIMEOUT)
		snprintf(why, whylen, "identity %u:%.*s: timeout: no answer within %u ms (%s)",
		         index, (int)handle.len, (const char *)handle.p, lk->timeout_ms, err);
	else if (ret == IDN_ENOTFOUND)
		snprintf(why, whylen, "identity %u:%.*s: not found resolving from %s: %s", index,
		         (int)handle.len, (const char *)handle.p, lk->root_str,
		         err[0] ? err : idn_strerror(ret));
	else if (ret)
		snprintf(why, whylen, "identity %u:%.*s: could not be resolved from %s: %s", index,
		         (int)handle.len, (const char *)handle.p, lk->root_str,
		         err[0] ? err : idn_strerror(ret));
	return ret;
}

/* The answer's code as a reason, for anything but success. */
static void rc_reason(const proto_msg *m, idn_slice handle, uint32_t index, const char *typ,
                      char *why, size_t whylen)
{
	if (m->hdr.rcode == PROTO_RC_HANDLE_NOT_FOUND)
		snprintf(why, whylen, "identity %u:%.*s: not found (resolved from the root)", index,
		         (int)handle.len, (const char *)handle.p);
	else if (m->hdr.rcode == PROTO_RC_VALUE_NOT_FOUND)
		snprintf(why, whylen, "identity %u:%.*s: not found: no public %s at index %u",
		         index, (int)handle.len, (const char *)handle.p, typ, index);
	else
		snprintf(why, whylen, "identity %u:%.*s: resolution answered %u %s", index,
		         (int)handle.len, (const char *)handle.p, m->hdr.rcode,
		         proto_rc_name(m->hdr.rcode));
}

/* A malloc'd HS_PUBKEY value data of index:handle, from the cache or the root. */
static int fetch_pubkey(client_identity_lookup *lk, idn_slice handle, uint32_t index,
                        unsigned total_ms, uint8_t **out, size_t *outlen, char *why, size_t whylen)
{
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(handle, lk->case_sensitive, key);
	if (klen < 0) {
		snprintf(why, whylen, "identity %u:%.*s: not a valid handle", index,
		         (int)handle.len, (const char *)handle.p);
		return IDN_EINVAL;
	}
	idn_slice k = idn_slice_of(key, (size_t)klen);
	uint32_t now = (uint32_t)time(NULL);
	if ((*out = cache_get(lk, k, index, now, outlen)))
		return IDN_OK;

	uint8_t *ans = NULL;
	proto_msg msg;
	client_addr srv;
	int ret = ask_root(lk, handle, index, IDN_SLICE("HS_PUBKEY"), total_ms, &ans, &msg, &srv,
	                   why, whylen);
	if (ret)
		return ret;
	ret = IDN_ENOTFOUND;
	if (msg.hdr.rcode != PROTO_RC_SUCCESS) {
		rc_reason(&msg, handle, index, "HS_PUBKEY", why, whylen);
		goto out;
	}
	idn_slice body;
	proto_resolve_resp rr;
	uint8_t alg;
	idn_slice dg;
	if (proto_answer_split(msg.body, (msg.hdr.flags & PROTO_F_RD) != 0, &alg, &dg, &body) ||
	    proto_resolve_resp_decode(body, &rr)) {
		snprintf(why, whylen, "identity %u:%.*s: malformed resolution answer", index,
		         (int)handle.len, (const char *)handle.p);
		ret = IDN_EPROTO;
		goto out;
	}
	wire_rd c = wire_rd_init(rr.values.p, rr.values.len);
	for (uint32_t i = 0; i < rr.nvalues; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		if (c.err)
			break;
		if (v.index != index || !idn_slice_eq(v.type, IDN_SLICE("HS_PUBKEY")))
			continue;
		*out = malloc(v.data.len ? v.data.len : 1);
		if (!*out) {
			ret = IDN_ENOMEM;
			goto out;
		}
		memcpy(*out, v.data.p, v.data.len);
		*outlen = v.data.len;
		/* Cached for the value's TTL, capped; an expired absolute TTL is not kept. */
		uint32_t ttl = v.ttl_type == 0 ? v.ttl : v.ttl > now ? v.ttl - now : 0;
		if (ttl > CACHE_TTL_MAX)
			ttl = CACHE_TTL_MAX;
		if (ttl)
			cache_put(lk, k, index, v.data, now, ttl);
		ret = IDN_OK;
		goto out;
	}
	snprintf(why, whylen, "identity %u:%.*s: not found: no HS_PUBKEY at index %u", index,
	         (int)handle.len, (const char *)handle.p, index);
out:
	free(ans);
	return ret;
}

/* ---- op 201 to the identity's node ---- */

static int verify_by_op201(client_identity_lookup *lk, const proto_chresp *cr, idn_slice nonce,
                           idn_slice digest, uint64_t deadline, char *why, size_t whylen)
{
	idn_slice h = cr->handle;
	uint64_t t0 = now_ms();
	unsigned total = deadline > t0 ? (unsigned)(deadline - t0) : 1;
	uint8_t *ans = NULL, *qbuf = NULL, *vans = NULL;
	proto_msg msg;
	client_addr srv;
	int ret = ask_root(lk, h, cr->index, IDN_SLICE("HS_SECKEY"), total, &ans, &msg, &srv, why,
	                   whylen);
	if (ret)
		return ret;
	/*
	 * The server that answers for the identity handle holds its secret. It
	 * withholds a HS_SECKEY from resolution, so "value not found" is the
	 * expected answer; only a missing handle ends the check here.
	 */
	if (msg.hdr.rcode != PROTO_RC_SUCCESS && msg.hdr.rcode != PROTO_RC_VALUE_NOT_FOUND) {
		rc_reason(&msg, h, cr->index, "HS_SECKEY", why, whylen);
		ret = IDN_ENOTFOUND;
		goto out;
	}
	char srvs[64];
	client_addr_str(&srv, srvs, sizeof(srvs));

	qbuf = malloc(PROTO_ENV_LEN + PROTO_MSG_MAX);
	if (!qbuf) {
		ret = IDN_ENOMEM;
		goto out;
	}
	proto_env env = {
	    .major = PROTO_MAJOR, .minor = PROTO_MINOR_MAX, .request_id = client_request_id()};
	proto_hdr hdr = {.opcode = PROTO_OP_VERIFY_RESPONSE,
	                 .site_serial = 0xFFFF,
	                 .expiration = (uint32_t)time(NULL) + 600};
	proto_build b;
	proto_build_begin(&b, qbuf, PROTO_ENV_LEN + PROTO_MSG_MAX, &env, &hdr);
	/* The length-prefixed digest: the form the reference decoder documents as in use. */
	proto_verify_req vr = {.handle = h,
	                       .index = cr->index,
	                       .nonce = nonce,
	                       .digest_alg = 0,
	                       .digest = digest,
	                       .signed_resp = cr->signed_resp};
	proto_verify_req_encode(&b.w, &vr);
	int len = proto_build_end(&b, NULL, 0);
	if (len < 0) {
		snprintf(why, whylen, "identity %u:%.*s: verify request too large", cr->index,
		         (int)h.len, (const char *)h.p);
		ret = len;
		goto out;
	}
	uint64_t t1 = now_ms();
	if (t1 >= deadline) {
		snprintf(why, whylen, "identity %u:%.*s: timeout: no time left for op 201 to %s",
		         cr->index, (int)h.len, (const char *)h.p, srvs);
		ret = IDN_ETIMEOUT;
		goto out;
	}
	size_t vlen;
	ret = client_exchange(&srv, CLIENT_TCP, (unsigned)(deadline - t1), qbuf, (size_t)len, &vans,
	                      &vlen);
	if (ret) {
		snprintf(why, whylen, "identity %u:%.*s: %s asking %s to verify (op 201)",
		         cr->index, (int)h.len, (const char *)h.p,
		         ret == IDN_ETIMEOUT ? "timeout" : idn_strerror(ret), srvs);
		goto out;
	}
	proto_env aenv;
	proto_msg am;
	idn_slice body, dg;
	uint8_t alg;
	bool valid = false;
	if (proto_env_decode(vans, vlen, &aenv) ||
	    proto_msg_decode(vans + PROTO_ENV_LEN, vlen - PROTO_ENV_LEN, &am) ||
	    proto_answer_split(am.body, (am.hdr.flags & PROTO_F_RD) != 0, &alg, &dg, &body)) {
		snprintf(why, whylen, "identity %u:%.*s: malformed op 201 answer from %s",
		         cr->index, (int)h.len, (const char *)h.p, srvs);
		ret = IDN_EPROTO;
		goto out;
	}
	if (am.hdr.rcode != PROTO_RC_SUCCESS) {
		idn_slice m = {0};
		proto_error_decode(body, &m);
		snprintf(why, whylen, "identity %u:%.*s: %s answered op 201 with %u %s%s%.*s",
		         cr->index, (int)h.len, (const char *)h.p, srvs, am.hdr.rcode,
		         proto_rc_name(am.hdr.rcode), m.len ? ": " : "",
		         (int)(m.len > 200 ? 200 : m.len), m.len ? (const char *)m.p : "");
		ret = IDN_ENOTFOUND;
		goto out;
	}
	if (proto_verify_resp_decode(body, &valid)) {
		snprintf(why, whylen, "identity %u:%.*s: malformed op 201 answer from %s",
		         cr->index, (int)h.len, (const char *)h.p, srvs);
		ret = IDN_EPROTO;
		goto out;
	}
	ret = valid ? IDN_OK : IDN_EMISMATCH;
out:
	free(ans);
	free(qbuf);
	free(vans);
	return ret;
}

int client_identity_lookup_verify(client_identity_lookup *lk, const proto_chresp *cr,
                                  idn_slice nonce, idn_slice digest, char *why, size_t whylen)
{
	bool pub = idn_slice_eq(cr->auth_type, IDN_SLICE("HS_PUBKEY"));
	uint64_t deadline = now_ms() + lk->timeout_ms;
	if (!pub)
		return verify_by_op201(lk, cr, nonce, digest, deadline, why, whylen);
	uint8_t *key = NULL;
	size_t klen = 0;
	int ret = fetch_pubkey(lk, cr->handle, cr->index, lk->timeout_ms, &key, &klen, why, whylen);
	if (ret)
		return ret;
	ret =
	    auth_verify_pubkey(idn_slice_of(key, klen), cr->handle, nonce, digest, cr->signed_resp);
	free(key);
	if (ret && ret != IDN_EMISMATCH)
		snprintf(why, whylen, "identity %u:%.*s: %s", cr->index, (int)cr->handle.len,
		         (const char *)cr->handle.p,
		         ret == IDN_ENOTSUP ? "unsupported signature algorithm or key type"
		                            : "malformed signed response or key");
	return ret;
}

/* ---- checks on a thread of their own ---- */

/* One check, with copies of everything it reads. */
struct check {
	client_identity_lookup *lk;
	void (*done)(void *done_arg, int verdict, const char *why);
	void *done_arg;
	proto_chresp cr; /* its slices point into bytes */
	idn_slice nonce, digest;
	uint8_t bytes[]; /* auth type, handle, signed response, nonce, digest */
};

/* One check fewer running: client_identity_lookup_free may go on when none is left. */
static void running_end(client_identity_lookup *lk)
{
	pthread_mutex_lock(&lk->mu);
	if (--lk->running == 0)
		pthread_cond_broadcast(&lk->idle);
	pthread_mutex_unlock(&lk->mu);
}

static void *check_main(void *arg)
{
	struct check *c = arg;
	client_identity_lookup *lk = c->lk;
	char why[PROTO_HANDLE_MAX + 256] = "";
	int verdict =
	    client_identity_lookup_verify(lk, &c->cr, c->nonce, c->digest, why, sizeof(why));
	c->done(c->done_arg, verdict, why);
	free(c);
	running_end(lk);
	return NULL;
}

/* A copy of s at *at, advancing it. */
static idn_slice copy_at(uint8_t **at, idn_slice s)
{
	idn_slice r = idn_slice_of(*at, s.len);
	if (s.len)
		memcpy(*at, s.p, s.len);
	*at += s.len;
	return r;
}

int client_identity_lookup_start(void *lookup, const proto_chresp *cr, idn_slice nonce,
                                 idn_slice digest,
                                 void (*done)(void *done_arg, int verdict, const char *why),
                                 void *done_arg)
{
	client_identity_lookup *lk = lookup;
	size_t n =
	    cr->auth_type.len + cr->handle.len + cr->signed_resp.len + nonce.len + digest.len;
	struct check *c = malloc(sizeof(*c) + n);
	if (!c)
		return IDN_ENOMEM;
	*c = (struct check){.lk = lk, .done = done, .done_arg = done_arg, .cr.index = cr->index};
	uint8_t *at = c->bytes;
	c->cr.auth_type = copy_at(&at, cr->auth_type);
	c->cr.handle = copy_at(&at, cr->handle);
	c->cr.signed_resp = copy_at(&at, cr->signed_resp);
	c->nonce = copy_at(&at, nonce);
	c->digest = copy_at(&at, digest);

	pthread_mutex_lock(&lk->mu);
	bool room = lk->running < LOOKUPS_MAX;
	lk->running += room;
	pthread_mutex_unlock(&lk->mu);
	if (!room) {
		free(c);
		return IDN_EBUSY;
	}
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, check_main, c);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		return IDN_OK;
	free(c);
	running_end(lk);
	return IDN_ENOMEM;
}
