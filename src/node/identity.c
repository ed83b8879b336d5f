/*
 * identity.c - identities whose key lives on another node: HS_PUBKEY values
 * fetched by resolution from the root (and cached for their TTL), HS_SECKEY
 * responses checked with op 201 by the node that holds the secret; and our
 * side of op 201. See identity.h.
 */
#include "node/identity.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/verify.h"
#include "node/answer.h"
#include "client/client.h"
#include "proto/handle.h"
#include "proto/record.h"

enum {
	CACHE_MAX = 64,       /* remote keys kept at once */
	CACHE_TTL_MAX = 3600, /* a key is asked again at least this often (s) */
	TIMEOUT_DEFAULT = 2000 /* ms for one whole check */,
	ROOT_HOPS_MAX = 16, /* referrals followed: an identity is a few levels down */
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

struct node_identity {
	bool have_root;
	client_addr root;
	char root_str[64];
	unsigned timeout_ms;
	pthread_mutex_t mu;
	cache_entry cache[CACHE_MAX];
};

int node_identity_new(const node_config *cfg, node_identity **out)
{
	node_identity *id = calloc(1, sizeof(*id));
	if (!id)
		return IDN_ENOMEM;
	id->timeout_ms = cfg->identity_timeout_ms ? cfg->identity_timeout_ms : TIMEOUT_DEFAULT;
	if (cfg->identity_root && cfg->identity_root[0]) {
		char err[128];
		if (client_addr_parse(cfg->identity_root, 2641, &id->root, err, sizeof(err))) {
			free(id);
			return IDN_ECONFIG;
		}
		id->have_root = true;
		client_addr_str(&id->root, id->root_str, sizeof(id->root_str));
	}
	pthread_mutex_init(&id->mu, NULL);
	*out = id;
	return IDN_OK;
}

void node_identity_free(node_identity *id)
{
	if (!id)
		return;
	for (int i = 0; i < CACHE_MAX; i++) {
		free(id->cache[i].key);
		free(id->cache[i].data);
	}
	pthread_mutex_destroy(&id->mu);
	free(id);
}

size_t node_identity_cached(node_identity *id)
{
	size_t n = 0;
	pthread_mutex_lock(&id->mu);
	for (int i = 0; i < CACHE_MAX; i++)
		n += id->cache[i].key != NULL;
	pthread_mutex_unlock(&id->mu);
	return n;
}

/* ---- cache ---- */

/* A malloc'd copy of a fresh cached key, or NULL. */
static uint8_t *cache_get(node_identity *id, idn_slice key, uint32_t index, uint32_t now,
                          size_t *len)
{
	uint8_t *copy = NULL;
	pthread_mutex_lock(&id->mu);
	for (int i = 0; i < CACHE_MAX; i++) {
		cache_entry *e = &id->cache[i];
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
	pthread_mutex_unlock(&id->mu);
	return copy;
}

static void cache_put(node_identity *id, idn_slice key, uint32_t index, idn_slice data,
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
	pthread_mutex_lock(&id->mu);
	/* The same identity again, else a free or expired slot, else the oldest. */
	int slot = -1;
	for (int i = 0; i < CACHE_MAX && slot < 0; i++) {
		cache_entry *e = &id->cache[i];
		if (e->key && e->index == index && e->klen == key.len &&
		    !memcmp(e->key, key.p, key.len))
			slot = i;
	}
	for (int i = 0; i < CACHE_MAX && slot < 0; i++)
		if (!id->cache[i].key || id->cache[i].expires <= now)
			slot = i;
	if (slot < 0) {
		slot = 0;
		for (int i = 1; i < CACHE_MAX; i++)
			if (id->cache[i].added < id->cache[slot].added)
				slot = i;
	}
	cache_entry *e = &id->cache[slot];
	free(e->key);
	free(e->data);
	*e = (cache_entry){.key = k,
	                   .klen = key.len,
	                   .index = index,
	                   .data = d,
	                   .dlen = data.len,
	                   .expires = now + ttl,
	                   .added = now};
	pthread_mutex_unlock(&id->mu);
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
static int ask_root(node_identity *id, idn_slice handle, uint32_t index, idn_slice typ,
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
	    client_resolve_root(&id->root, handle, &o, ans, &anslen, &env, msg, err, sizeof(err));
	if (ret == IDN_ETIMEOUT)
		snprintf(why, whylen, "identity %u:%.*s: timeout: no answer within %u ms (%s)",
		         index, (int)handle.len, (const char *)handle.p, id->timeout_ms, err);
	else if (ret == IDN_ENOTFOUND)
		snprintf(why, whylen, "identity %u:%.*s: not found resolving from %s: %s", index,
		         (int)handle.len, (const char *)handle.p, id->root_str,
		         err[0] ? err : idn_strerror(ret));
	else if (ret)
		snprintf(why, whylen, "identity %u:%.*s: could not be resolved from %s: %s", index,
		         (int)handle.len, (const char *)handle.p, id->root_str,
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
static int fetch_pubkey(node *n, idn_slice handle, uint32_t index, unsigned total_ms, uint8_t **out,
                        size_t *outlen, char *why, size_t whylen)
{
	node_identity *id = n->identity;
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(handle, n->cfg.case_sensitive, key);
	if (klen < 0) {
		snprintf(why, whylen, "identity %u:%.*s: not a valid handle", index,
		         (int)handle.len, (const char *)handle.p);
		return IDN_EINVAL;
	}
	idn_slice k = idn_slice_of(key, (size_t)klen);
	uint32_t now = n->cfg.clock();
	if ((*out = cache_get(id, k, index, now, outlen)))
		return IDN_OK;

	uint8_t *ans = NULL;
	proto_msg msg;
	client_addr srv;
	int ret = ask_root(id, handle, index, IDN_SLICE("HS_PUBKEY"), total_ms, &ans, &msg, &srv,
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
			cache_put(id, k, index, v.data, now, ttl);
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

static int verify_by_op201(node *n, const proto_chresp *cr, idn_slice nonce, idn_slice digest,
                           uint64_t deadline, char *why, size_t whylen)
{
	node_identity *id = n->identity;
	idn_slice h = cr->handle;
	uint64_t t0 = now_ms();
	unsigned total = deadline > t0 ? (unsigned)(deadline - t0) : 1;
	uint8_t *ans = NULL, *qbuf = NULL, *vans = NULL;
	proto_msg msg;
	client_addr srv;
	int ret = ask_root(id, h, cr->index, IDN_SLICE("HS_SECKEY"), total, &ans, &msg, &srv, why,
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
	                 .expiration = n->cfg.clock() + 600};
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

int node_identity_verify_remote(node *n, const proto_chresp *cr, idn_slice nonce, idn_slice digest,
                                char *why, size_t whylen)
{
	node_identity *id = n->identity;
	bool pub = idn_slice_eq(cr->auth_type, IDN_SLICE("HS_PUBKEY"));
	if (!id || !id->have_root) {
		snprintf(why, whylen,
		         "no %s value at %u:%.*s on this node, and no root configured (serve "
		         "--root) to find the node that holds it",
		         pub ? "HS_PUBKEY" : "HS_SECKEY", cr->index, (int)cr->handle.len,
		         (const char *)cr->handle.p);
		return IDN_ENOTFOUND;
	}
	uint64_t deadline = now_ms() + id->timeout_ms;
	if (!pub)
		return verify_by_op201(n, cr, nonce, digest, deadline, why, whylen);
	uint8_t *key = NULL;
	size_t klen = 0;
	int ret = fetch_pubkey(n, cr->handle, cr->index, id->timeout_ms, &key, &klen, why, whylen);
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

/* ---- op 201 served ---- */

int node_identity_serve_verify(req *rq)
{
	proto_verify_req vr;
	if (proto_verify_req_decode(rq->msg.body, &vr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed verify request");
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(vr.handle, rq->w->node->cfg.case_sensitive, key);
	idn_slice raw;
	record r;
	if (klen < 0)
		return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
	int g = store_get(node_rtxn(rq->w), idn_slice_of(key, (size_t)klen), &raw);
	if (g == IDN_ENOTFOUND)
		return node_answer_error(rq, PROTO_RC_HANDLE_NOT_FOUND, "");
	if (g || record_parse(raw, &r))
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		if (c.err)
			return node_answer_error(rq, PROTO_RC_ERROR,
			                         "storage error: damaged record");
		if (v.index != vr.index)
			continue;
		int ok;
		if (idn_slice_eq(v.type, IDN_SLICE("HS_SECKEY")))
			ok = auth_verify_seckey(v.data, vr.nonce, vr.digest, vr.signed_resp);
		else if (idn_slice_eq(v.type, IDN_SLICE("HS_PUBKEY")))
			ok = auth_verify_pubkey(v.data, vr.handle, vr.nonce, vr.digest,
			                        vr.signed_resp);
		else
			break;
		proto_build b;
		node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
		proto_verify_resp_encode(&b.w, ok == IDN_OK);
		return node_answer_end(rq, &b);
	}
	char msg[PROTO_HANDLE_MAX + 96];
	snprintf(msg, sizeof(msg), "no HS_SECKEY or HS_PUBKEY value at %u:%.*s", vr.index,
	         (int)vr.handle.len, (const char *)vr.handle.p);
	return node_answer_error(rq, PROTO_RC_VALUE_NOT_FOUND, msg);
}
