/*
 * api_write.c - the REST writes: /api/sessions (challenge-response and
 * HTTP Basic, as the reference REST API), PUT and DELETE /api/handles/{h},
 * and GET /api/handles?prefix= (list).
 *
 * Every write is a Handle admin request (100-105) handed to node_answer(),
 * so rights (HS_ADMIN, HS_VLIST, server admins), checks and durability are
 * exactly the binary protocol's. What HTTP adds is only who is asking: the
 * identity is authenticated here (a signature over server nonce || cnonce
 * checked against the identity's HS_PUBKEY, or the HS_SECKEY secret sent by
 * Basic), then the request runs as that identity (node_worker_act_as).
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/routes.h"
#include "auth/verify.h"
#include "core/codec.h"
#include "core/err.h"
#include "core/limit.h"
#include "proto/handle.h"
#include "proto/record.h"
#include "proto/admin.h"
#include "proto/reserved.h"
#include "node/source_tally.h"

enum {
	SESSIONS_MAX = 1024, /* sessions held at once; the oldest idle one is dropped */
	SESSION_IDLE_S = 600,
	NONCE_LEN = 16,
	SID_LEN = 16, /* random bytes; sent as 32 hex digits */
	DEFAULT_TTL = 86400,
	DEFAULT_PERMS = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE | PROTO_PERM_PUBLIC_READ,
	MAX_VALUES = 4096, /* values in one PUT */
	MAX_PAGE = 10000,
};

struct session {
	char id[SID_LEN * 2 + 1]; /* "" = free slot */
	uint8_t nonce[NONCE_LEN];
	time_t last;
	bool authed;
	ident who;
	node_source src; /* who made it */
};

struct api_sessions {
	pthread_mutex_t lock;
	uint32_t unauth_max, per_source; /* sessions not authenticated: at once, per source */
	source_tally *tally;             /* ... counted per source */
	struct session slots[SESSIONS_MAX];
};

int api_sessions_new(const node *n, api_sessions **out)
{
	api_sessions *s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	s->unauth_max = SESSIONS_MAX / 4;
	s->per_source = NODE_UNAUTH_PER_SOURCE;
	if (n)
		node_session_limits(n, &s->unauth_max, &s->per_source);
	/* At most half the table: the other half is always there for authenticated ones. */
	if (s->unauth_max > SESSIONS_MAX / 2)
		s->unauth_max = SESSIONS_MAX / 2;
	if (source_tally_new(SESSIONS_MAX + 1, &s->tally)) {
		free(s);
		return IDN_ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void api_sessions_free(api_sessions *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	source_tally_free(s->tally);
	free(s);
}

/* The live session named id (lock held), or NULL. */
static struct session *session_find(api_sessions *s, idn_slice id, time_t now)
{
	if (id.len != SID_LEN * 2)
		return NULL;
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct session *x = &s->slots[i];
		if (!x->id[0])
			continue;
		if (now - x->last > SESSION_IDLE_S) {
			x->id[0] = 0;
			continue;
		}
		if (!memcmp(x->id, id.p, id.len)) {
			x->last = now;
			return x;
		}
	}
	return NULL;
}

/* The least recently used of a and b (either may be NULL). */
static struct session *lru_of(struct session *a, struct session *b)
{
	return !a || (b && b->last < a->last) ? b : a;
}

/* The least recently used session not authenticated of c's source (lock held). */
static struct session *lru_from(api_sessions *s, const source_count *c)
{
	struct session *lru = NULL;
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct session *x = &s->slots[i];
		if (x->id[0] && !x->authed && source_is(c, &x->src))
			lru = lru_of(lru, x);
	}
	return lru;
}

/*
 * The slot a new session takes (lock held), NULL when none may. One not
 * authenticated takes a free slot unless its source holds its share (then
 * that source's least recently used one not authenticated gives way) or the
 * sessions not authenticated are at their bound or fill the table (then the
 * least recently used one of the source holding the most of them gives
 * way): never an authenticated one. An authenticated one (Basic) takes a
 * free slot, else the least recently used one not authenticated, else the
 * least recently used of all.
 */
static struct session *session_slot(api_sessions *s, const struct session *n)
{
	struct session *free_slot = NULL, *lru = NULL, *lru_auth = NULL;
	uint32_t unauth = 0;
	source_tally_reset(s->tally);
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct session *x = &s->slots[i];
		if (x->id[0] && n->last - x->last > SESSION_IDLE_S)
			x->id[0] = 0;
		if (!x->id[0]) {
			free_slot = free_slot ? free_slot : x;
		} else if (x->authed) {
			lru_auth = lru_of(lru_auth, x);
		} else {
			unauth++;
			lru = lru_of(lru, x);
			source_count_add(source_tally_of(s->tally, &x->src), 0, x->last);
		}
	}
	if (n->authed) {
		if (!free_slot)
			limit_hit(LIM_SESSIONS, "REST session table full: the oldest evicted");
		return free_slot ? free_slot : lru ? lru : lru_auth;
	}
	source_count *mine = source_tally_of(s->tally, &n->src);
	if (n->src.known && mine->n >= s->per_source) {
		limit_hit(LIM_SESSIONS,
		          "a source with %u REST sessions not authenticated: its oldest evicted",
		          mine->n);
		return lru_from(s, mine);
	}
	if (unauth && (unauth >= s->unauth_max || !free_slot)) {
		source_count *top = source_tally_top(s->tally, false);
		limit_hit(LIM_SESSIONS,
		          "%u REST sessions not authenticated: the oldest of the source holding "
		          "most (%u) evicted",
		          unauth, top->n);
		return lru_from(s, top);
	}
	if (!free_slot)
		limit_hit(LIM_SESSIONS, "a REST session refused: every session is authenticated");
	return free_slot;
}

/* A new session from src (authenticated as who unless NULL) into out (a copy). */
static int session_create(api_sessions *s, const node_source *src, const ident *who,
                          struct session *out)
{
	struct session n = {.last = time(NULL), .src = *src, .authed = who != NULL};
	if (who)
		n.who = *who;
	uint8_t sid[SID_LEN];
	if (RAND_bytes(sid, SID_LEN) != 1 || RAND_bytes(n.nonce, NONCE_LEN) != 1)
		return IDN_ECRYPTO;
	codec_hex_encode(sid, SID_LEN, n.id);
	pthread_mutex_lock(&s->lock);
	struct session *slot = session_slot(s, &n);
	if (slot)
		*slot = n;
	pthread_mutex_unlock(&s->lock);
	*out = n;
	return slot ? 0 : IDN_EBUSY;
}

/* ---- small parsers ---- */

/* Base64 (standard or url alphabet, padding optional, blanks ignored) into out; length or -1. */
static int b64_decode(idn_slice in, uint8_t *out, size_t cap)
{
	ssize_t k =
	    codec_base64_decode(in.p, in.len, CODEC_B64_URL | CODEC_B64_LOOSE, out, cap, NULL);
	return k < 0 ? -1 : (int)k;
}

/* "INDEX:HANDLE" (already percent-decoded) into an ident. */
static bool parse_ident(idn_slice s, ident *id)
{
	const uint8_t *colon = s.len ? memchr(s.p, ':', s.len) : NULL;
	if (!colon || colon == s.p || colon - s.p > 10)
		return false;
	uint32_t idx = 0;
	for (const uint8_t *p = s.p; p < colon; p++) {
		if (*p < '0' || *p > '9' || idx > 214748364)
			return false;
		idx = idx * 10 + (uint32_t)(*p - '0');
	}
	size_t hl = (size_t)(s.p + s.len - colon - 1);
	if (!hl || hl > sizeof(id->handle))
		return false;
	memcpy(id->handle, colon + 1, hl);
	id->hlen = (uint32_t)hl;
	id->index = idx;
	return true;
}

/* The data of value type at index of handle, from the store; copied to out. */
static int identity_value(api_worker *w, const ident *id, const char *type, uint8_t *out,
                          size_t cap, size_t *len)
{
	uint8_t key[HANDLE_KEY_MAX];
	idn_slice h = idn_slice_of(id->handle, id->hlen);
	int klen = handle_key(h, node_case_sensitive(w->a->n), key);
	if (klen < 0)
		return IDN_ENOTFOUND;
	store_txn *t;
	int ret = store_txn_begin(w->a->s, STORE_RDONLY, &t);
	if (ret)
		return ret;
	idn_slice raw;
	record r;
	ret = IDN_ENOTFOUND;
	if (store_get(t, idn_slice_of(key, (size_t)klen), &raw) || record_parse(raw, &r))
		goto out;
	/* Not proto_values_find(): its index 0 is any index, id->index 0 is index 0. */
	proto_values_it it = proto_values_begin(r.values, r.nvalues);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		if (v.index == id->index &&
		    idn_slice_eq(v.type, idn_slice_of(type, strlen(type)))) {
			if (v.data.len > cap) {
				ret = IDN_ERANGE;
				goto out;
			}
			memcpy(out, v.data.p, v.data.len);
			*len = v.data.len;
			ret = 0;
			goto out;
		}
	}
out:
	store_txn_abort(t);
	return ret;
}

/* The parameters of `Authorization: Handle k=v, k="v", ...`. */
typedef struct handle_auth {
	idn_slice session_id, id, type, alg, cnonce, signature;
} handle_auth;

static void parse_handle_auth(idn_slice v, handle_auth *a)
{
	memset(a, 0, sizeof(*a));
	const uint8_t *p = v.p, *end = v.p + v.len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ',' || *p == '\t'))
			p++;
		const uint8_t *name = p;
		while (p < end && *p != '=' && *p != ',')
			p++;
		idn_slice n = idn_slice_of(name, (size_t)(p - name));
		while (n.len && n.p[n.len - 1] == ' ')
			n.len--;
		if (p >= end || *p != '=')
			continue;
		p++;
		while (p < end && *p == ' ')
			p++;
		const uint8_t *val;
		size_t vl;
		if (p < end && *p == '"') {
			val = ++p;
			while (p < end && *p != '"')
				p++;
			vl = (size_t)(p - val);
			if (p < end)
				p++;
		} else {
			val = p;
			while (p < end && *p != ',')
				p++;
			vl = (size_t)(p - val);
			while (vl && val[vl - 1] == ' ')
				vl--;
		}
		idn_slice x = idn_slice_of(val, vl);
		if (api_name_is(n, "sessionId"))
			a->session_id = x;
		else if (api_name_is(n, "id"))
			a->id = x;
		else if (api_name_is(n, "type"))
			a->type = x;
		else if (api_name_is(n, "alg"))
			a->alg = x;
		else if (api_name_is(n, "cnonce"))
			a->cnonce = x;
		else if (api_name_is(n, "signature"))
			a->signature = x;
	}
}

/* A 401 with a JSON message naming what to do. */
static void unauthorized(http_resp *r, uint32_t rc, const char *msg)
{
	http_resp_error(r, 401, (int)rc, msg);
	r->extra_headers = "WWW-Authenticate: Handle realm=\"idnode\"\r\n"
	                   "WWW-Authenticate: Basic realm=\"idnode\"\r\n";
}

/*
 * Whether a login as id from the caller must wait after repeated failures
 * (node_login_wait): then the 429 answer, with Retry-After, is written.
 */
static bool login_throttled(api_worker *w, const http_req *req, const ident *id, http_resp *r)
{
	node_source src;
	node_source_of(req->peer, req->peer_len, &src);
	uint32_t wait =
	    node_login_wait(w->a->n, &src, idn_slice_of(id->handle, id->hlen), id->index);
	if (!wait)
		return false;
	char msg[128];
	snprintf(msg, sizeof(msg), "too many failed logins from this address: retry in %u s", wait);
	http_resp_error(r, 429, PROTO_RC_AUTHENTICATION_FAILED, msg);
	snprintf(w->hdrs, sizeof(w->hdrs), "Retry-After: %u\r\n", wait);
	r->extra_headers = w->hdrs;
	return true;
}

/* Records how a login as id from the caller went. */
static void login_result(api_worker *w, const http_req *req, const ident *id, bool ok)
{
	node_source src;
	node_source_of(req->peer, req->peer_len, &src);
	node_login_result(w->a->n, &src, idn_slice_of(id->handle, id->hlen), id->index, ok);
}

/*
 * HTTP Basic: user = percent-encoded "INDEX:HANDLE", password = the
 * HS_SECKEY secret at that index. 1 ok, -1 refused (answer written).
 */
static int auth_basic(api_worker *w, const http_req *req, idn_slice cred, http_resp *r, ident *id)
{
	uint8_t dec[1024], user[PROTO_HANDLE_MAX + 16];
	int n = b64_decode(cred, dec, sizeof(dec));
	const uint8_t *colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
	/* The user part itself contains ':' only percent-encoded (%3A). */
	int ul = colon ? api_pct_decode(idn_slice_of(dec, (size_t)(colon - dec)), false, user,
	                                sizeof(user))
	               : -1;
	if (ul <= 0 || !parse_ident(idn_slice_of(user, (size_t)ul), id)) {
		unauthorized(r, PROTO_RC_AUTHENTICATION_FAILED,
		             "Basic credentials must be INDEX%3AHANDLE:SECRET (base64)");
		return -1;
	}
	if (login_throttled(w, req, id, r))
		return -1;
	idn_slice secret = idn_slice_of(colon + 1, (size_t)(dec + n - colon - 1));
	uint8_t key[1024];
	size_t klen = 0;
	bool ok = !identity_value(w, id, "HS_SECKEY", key, sizeof(key), &klen) &&
	          klen == secret.len && !CRYPTO_memcmp(key, secret.p, klen);
	OPENSSL_cleanse(key, sizeof(key));
	login_result(w, req, id, ok);
	if (!ok) {
		unauthorized(r, PROTO_RC_AUTHENTICATION_FAILED,
		             "authentication failed: no such HS_SECKEY identity or wrong secret");
		return -1;
	}
	return 1;
}

/*
 * `Authorization: Handle`: either a signed answer to the session's nonce
 * (which then authenticates the session) or just sessionId= of a session
 * authenticated before. 1 ok (id filled), -1 refused (answer written).
 */
static int auth_handle(api_worker *w, const http_req *req, idn_slice v, http_resp *r, ident *id)
{
	handle_auth ha;
	parse_handle_auth(v, &ha);
	api_sessions *ss = w->a->sessions;
	time_t now = time(NULL);
	struct session copy;
	pthread_mutex_lock(&ss->lock);
	struct session *s = session_find(ss, ha.session_id, now);
	if (s)
		copy = *s;
	pthread_mutex_unlock(&ss->lock);
	if (!s) {
		unauthorized(r, PROTO_RC_SESSION_TIMEOUT,
		             "unknown or expired sessionId: POST /api/sessions for a new one");
		return -1;
	}
	if (!ha.signature.len) {
		if (!copy.authed) {
			unauthorized(r, PROTO_RC_AUTHENTICATION_NEEDED,
			             "session not authenticated: sign its nonce (Authorization: "
			             "Handle sessionId, id, type, alg, cnonce, signature)");
			return -1;
		}
		*id = copy.who;
		return 1;
	}
	uint8_t idbuf[PROTO_HANDLE_MAX + 16], cnonce[256], sig[2048];
	int il = api_pct_decode(ha.id, false, idbuf, sizeof(idbuf));
	int cl = b64_decode(ha.cnonce, cnonce, sizeof(cnonce));
	int sl = b64_decode(ha.signature, sig, sizeof(sig));
	if (il <= 0 || !parse_ident(idn_slice_of(idbuf, (size_t)il), id) || cl < 0 || sl <= 0) {
		unauthorized(r, PROTO_RC_AUTHENTICATION_FAILED,
		             "Authorization: Handle needs id=\"INDEX%3AHANDLE\", cnonce and "
		             "signature in base64");
		return -1;
	}
	if (!api_name_is(ha.type, "HS_PUBKEY")) {
		unauthorized(r, PROTO_RC_AUTHENTICATION_FAILED,
		             "type: only HS_PUBKEY signs a session; use Basic for HS_SECKEY");
		return -1;
	}
	if (login_throttled(w, req, id, r))
		return -1;
	uint8_t key[8192];
	size_t klen = 0;
	if (identity_value(w, id, "HS_PUBKEY", key, sizeof(key), &klen)) {
		login_result(w, req, id, false);
		unauthorized(r, PROTO_RC_AUTHENTICATION_FAILED,
		             "authentication failed: no HS_PUBKEY at that index:handle here");
		return -1;
	}
	/* verify.h takes the signed response in its wire form: str alg, bytes sig. */
	uint8_t resp[2048 + 64];
	wire_wr rw = wire_wr_init(resp, sizeof(resp));
	wire_put_slice(&rw, ha.alg.len ? ha.alg : IDN_SLICE("SHA256"));
	wire_put_lbytes(&rw, sig, (size_t)sl);
	int vr = rw.err ? IDN_EINVAL
	                : auth_verify_pubkey(
	                      idn_slice_of(key, klen), idn_slice_of(id->handle, id->hlen),
	                      idn_slice_of(copy.nonce, NONCE_LEN), idn_slice_of(cnonce, (size_t)cl),
	                      idn_slice_of(resp, wire_wr_len(&rw)));
	login_result(w, req, id, vr == 0);
	if (vr) {
		unauthorized(r, PROTO_RC_AUTHENTICATION_FAILED,
		             vr == IDN_EMISMATCH ? "authentication failed: bad signature"
		                                 : "authentication failed: unsupported alg or key");
		return -1;
	}
	pthread_mutex_lock(&ss->lock);
	s = session_find(ss, ha.session_id, now);
	if (s) {
		s->authed = true;
		s->who = *id;
	}
	pthread_mutex_unlock(&ss->lock);
	return 1;
}

/* 1 authenticated (id), 0 no Authorization header, -1 refused (answer written). */
static int authenticate(api_worker *w, const http_req *req, http_resp *r, ident *id)
{
	idn_slice v;
	if (!http_req_header(req, "authorization", &v))
		return 0;
	if (v.len > 6 && !strncasecmp((const char *)v.p, "Basic ", 6))
		return auth_basic(w, req, idn_slice_of(v.p + 6, v.len - 6), r, id);
	if (v.len > 7 && !strncasecmp((const char *)v.p, "Handle ", 7))
		return auth_handle(w, req, idn_slice_of(v.p + 7, v.len - 7), r, id);
	unauthorized(r, PROTO_RC_AUTHENTICATION_FAILED,
	             "Authorization: use the Handle or the Basic scheme");
	return -1;
}

/* Authentication a write cannot go without. */
int api_need_auth(api_worker *w, const http_req *req, http_resp *r, ident *id)
{
	int a = authenticate(w, req, r, id);
	if (a == 0)
		unauthorized(r, PROTO_RC_AUTHENTICATION_NEEDED,
		             "authentication needed: Authorization: Basic or Handle (see "
		             "/api/sessions)");
	return a;
}

int api_auth_optional(api_worker *w, const http_req *req, http_resp *r, ident *id)
{
	return authenticate(w, req, r, id);
}

/* ---- sessions ---- */

static void session_json(http_resp *r, const struct session *s)
{
	http_resp_printf(r, "{\"sessionId\":\"%s\",\"nonce\":\"", s->id);
	api_base64(r, idn_slice_of(s->nonce, NONCE_LEN));
	http_resp_printf(r, "\",\"authenticated\":%s", s->authed ? "true" : "false");
	if (s->authed) {
		char idx[16];
		snprintf(idx, sizeof(idx), "%u:", s->who.index);
		uint8_t id[PROTO_HANDLE_MAX + 16];
		size_t n = strlen(idx);
		memcpy(id, idx, n);
		memcpy(id + n, s->who.handle, s->who.hlen);
		http_resp_puts(r, ",\"id\":");
		api_json_str(r, idn_slice_of(id, n + s->who.hlen));
	}
	http_resp_puts(r, "}");
}

/*
 * POST /api/sessions: a new session and its nonce; with Basic credentials
 * (checked first) it is authenticated at once.
 */
int api_post_session(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	idn_slice v;
	ident id;
	bool basic = http_req_header(req, "authorization", &v) && v.len > 6 &&
	             !strncasecmp((const char *)v.p, "Basic ", 6);
	if (basic && auth_basic(w, req, idn_slice_of(v.p + 6, v.len - 6), r, &id) < 0)
		return 0;
	node_source src;
	node_source_of(req->peer, req->peer_len, &src);
	struct session s;
	int ret = session_create(w->a->sessions, &src, basic ? &id : NULL, &s);
	if (ret == IDN_EBUSY) {
		http_resp_error(r, 503, PROTO_RC_SERVER_BUSY,
		                "too many sessions: authenticate with Basic or try again later");
		return 0;
	}
	if (ret)
		return ret;
	r->status = 201;
	session_json(r, &s);
	return 0;
}

/*
 * /api/sessions/this: GET the session named by Authorization: Handle
 * sessionId=..; PUT with a signature authenticates it; DELETE ends it.
 */
int api_session_this(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	if (!(rest.len == 4 && !memcmp(rest.p, "this", 4))) {
		http_resp_error(r, 404, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                "no such session route: /api/sessions/this");
		return 0;
	}
	idn_slice v;
	if (!http_req_header(req, "authorization", &v) || v.len < 7 ||
	    strncasecmp((const char *)v.p, "Handle ", 7)) {
		unauthorized(r, PROTO_RC_AUTHENTICATION_NEEDED,
		             "Authorization: Handle sessionId=... names the session");
		return 0;
	}
	handle_auth ha;
	parse_handle_auth(idn_slice_of(v.p + 7, v.len - 7), &ha);
	api_sessions *ss = w->a->sessions;
	if (!strcmp(req->method, "DELETE")) {
		pthread_mutex_lock(&ss->lock);
		struct session *s = session_find(ss, ha.session_id, time(NULL));
		if (s)
			s->id[0] = 0;
		pthread_mutex_unlock(&ss->lock);
		if (!s)
			unauthorized(r, PROTO_RC_SESSION_TIMEOUT, "unknown or expired sessionId");
		else
			http_resp_puts(r, "{\"responseCode\":1}");
		return 0;
	}
	if (!strcmp(req->method, "PUT") || ha.signature.len) {
		ident id;
		if (auth_handle(w, req, idn_slice_of(v.p + 7, v.len - 7), r, &id) < 0)
			return 0;
	}
	struct session copy;
	pthread_mutex_lock(&ss->lock);
	struct session *s = session_find(ss, ha.session_id, time(NULL));
	if (s)
		copy = *s;
	pthread_mutex_unlock(&ss->lock);
	if (!s) {
		unauthorized(r, PROTO_RC_SESSION_TIMEOUT, "unknown or expired sessionId");
		return 0;
	}
	session_json(r, &copy);
	return 0;
}

/* ---- admin requests through the node ---- */

/* Starts an admin request of op in w->wreq. */
void api_admin_begin(api_worker *w, proto_build *b, uint32_t op, uint32_t flags)
{
	proto_env env = {
	    .major = PROTO_MAJOR, .minor = PROTO_MINOR_MAX, .request_id = w->next_id++};
	proto_hdr hdr = {.opcode = op, .flags = flags, .site_serial = 0xFFFF};
	proto_build_begin(b, w->wreq, ANS_CAP, &env, &hdr);
}

/* Ends it and runs it as id; m borrows w->ans. */
int api_admin_run(api_worker *w, proto_build *b, const ident *id, proto_msg *m)
{
	int len = proto_build_end(b, NULL, 0);
	node_worker_act_as(w->nw, idn_slice_of(id->handle, id->hlen), id->index);
	int ret = api_exchange(w, w->wreq, len, m);
	node_worker_act_as(w->nw, idn_slice_of(NULL, 0), 0);
	return ret;
}

/* An answer other than success as the reference's JSON error. */
void api_admin_error(http_resp *r, const proto_msg *m, idn_slice h)
{
	idn_slice msg = {0};
	proto_error_decode(m->body, &msg);
	api_handle_error(r, m->hdr.rcode, h, msg);
}

/* ---- JSON values -> wire ---- */

static int hex_decode(const char *s, size_t n, uint8_t *out)
{
	ssize_t k = codec_hex_decode((const uint8_t *)s, n, out, n, NULL);
	return k < 0 ? -1 : (int)k;
}

/*
 * One value of the reference's JSON shape into w: {"index","type","data":
 * "text" | {"format":"string|base64|hex|admin","value":..},"ttl"}. NULL on
 * success, else what is wrong (written to err).
 */
const char *api_value_from_json(json_t *jv, wire_wr *w, uint32_t *index, char *err, size_t errlen)
{
	json_t *ji = json_object_get(jv, "index"), *jt = json_object_get(jv, "type");
	json_t *jd = json_object_get(jv, "data"), *jttl = json_object_get(jv, "ttl");
	if (!json_is_object(jv))
		return "expected an object";
	if (!json_is_integer(ji) || json_integer_value(ji) <= 0 ||
	    json_integer_value(ji) > 0x7FFFFFFF)
		return "index: expected an integer 1..2147483647";
	if (!json_is_string(jt) || !json_string_length(jt) || json_string_length(jt) > 1024)
		return "type: expected a non-empty string";
	const char *bad;
	if (proto_type_check(idn_slice_of(json_string_value(jt), json_string_length(jt)), &bad)) {
		limit_hit(LIM_VALUE_SYNTAX, "value type of a REST write %s", bad);
		snprintf(err, errlen, "type %s", bad);
		return err;
	}
	if (jttl && (!json_is_integer(jttl) || json_integer_value(jttl) < 0 ||
	             json_integer_value(jttl) > 0x7FFFFFFF))
		return "ttl: expected a non-negative integer";
	proto_value v = {
	    .index = (uint32_t)json_integer_value(ji),
	    .ttl = jttl ? (uint32_t)json_integer_value(jttl) : DEFAULT_TTL,
	    .perms = DEFAULT_PERMS,
	    .type = idn_slice_of(json_string_value(jt), json_string_length(jt)),
	};
	*index = v.index;
	const char *format = "string";
	json_t *val = jd;
	if (json_is_object(jd)) {
		json_t *jf = json_object_get(jd, "format");
		if (jf && !json_is_string(jf))
			return "data.format: expected a string";
		if (jf)
			format = json_string_value(jf);
		val = json_object_get(jd, "value");
	}
	uint8_t *buf = NULL;
	const char *why = NULL;
	if (!strcmp(format, "admin")) {
		json_t *ah = json_object_get(val, "handle"), *ai = json_object_get(val, "index");
		json_t *ap = json_object_get(val, "permissions");
		if (!json_is_string(ah) || !json_is_integer(ai) || json_integer_value(ai) < 0 ||
		    json_integer_value(ai) > 0x7FFFFFFF || !json_is_string(ap) ||
		    json_string_length(ap) != 12 || strspn(json_string_value(ap), "01") != 12) {
			return "data: admin value needs handle, index and permissions (12 "
			       "digits 0/1)";
		}
		proto_admin a = {.handle =
		                     idn_slice_of(json_string_value(ah), json_string_length(ah)),
		                 .index = (uint32_t)json_integer_value(ai)};
		for (int i = 0; i < 12; i++)
			if (json_string_value(ap)[i] == '1')
				a.rights |= (uint16_t)(1u << (11 - i));
		size_t cap = a.handle.len + 16;
		buf = malloc(cap);
		if (!buf)
			return "out of memory";
		wire_wr aw = wire_wr_init(buf, cap);
		proto_admin_put(&aw, &a);
		v.data = idn_slice_of(buf, wire_wr_len(&aw));
	} else if (!json_is_string(val)) {
		return "data: expected a string or {\"format\":..,\"value\":\"...\"}";
	} else if (!strcmp(format, "string")) {
		v.data = idn_slice_of(json_string_value(val), json_string_length(val));
	} else if (!strcmp(format, "base64") || !strcmp(format, "hex")) {
		size_t n = json_string_length(val);
		buf = malloc(n + 4);
		if (!buf)
			return "out of memory";
		int k = format[0] == 'b'
		            ? b64_decode(idn_slice_of(json_string_value(val), n), buf, n + 4)
		            : hex_decode(json_string_value(val), n, buf);
		if (k < 0)
			why = format[0] == 'b' ? "data: invalid base64" : "data: invalid hex";
		else
			v.data = idn_slice_of(buf, (size_t)k);
	} else {
		snprintf(err, errlen, "data.format: '%.40s' is not string, base64, hex or admin",
		         format);
		return err;
	}
	if (!why)
		proto_value_put(w, &v);
	free(buf);
	return why;
}

/* The "values" of a PUT body (an object with "values", or an array). */
static json_t *body_values(json_t *doc)
{
	if (json_is_array(doc))
		return doc;
	return json_is_object(doc) ? json_object_get(doc, "values") : NULL;
}

typedef struct put_opts {
	bool overwrite, mint;
	uint32_t idx[MAX_FILTER];
	uint32_t nidx;
	bool bad;
} put_opts;

static int put_opt_cb(void *arg, idn_slice name, idn_slice value)
{
	put_opts *o = arg;
	if (api_name_is(name, "overwrite")) {
		o->overwrite = api_truthy(value);
	} else if (api_name_is(name, "mintNewSuffix")) {
		o->mint = api_truthy(value);
	} else if (api_name_is(name, "index")) {
		char d[16];
		int n = api_pct_decode(value, true, (uint8_t *)d, sizeof(d) - 1);
		char *end;
		if (n <= 0 || d[0] < '0' || d[0] > '9' || o->nidx == MAX_FILTER) {
			o->bad = true;
			return 1;
		}
		d[n] = 0;
		unsigned long x = strtoul(d, &end, 10);
		if (*end || x > 0x7FFFFFFF) {
			o->bad = true;
			return 1;
		}
		o->idx[o->nidx++] = (uint32_t)x;
	}
	return 0;
}

static bool idx_listed(const put_opts *o, uint32_t i)
{
	for (uint32_t k = 0; k < o->nidx; k++)
		if (o->idx[k] == i)
			return true;
	return false;
}

/* The identifier of a /api/handles/{h} path into buf; its length, or 0 with the answer written. */
static size_t path_handle(idn_slice rest, uint8_t *buf, size_t cap, http_resp *r)
{
	int hn = api_pct_decode(rest, false, buf, cap);
	if (hn <= 0) {
		http_resp_error(r, 400, PROTO_RC_INVALID_HANDLE,
		                hn == 0 ? "no identifier in the path: /api/handles/PREFIX/SUFFIX"
		                        : "identifier malformed (bad %-escape) or too long");
		return 0;
	}
	return (size_t)hn;
}

/*
 * PUT /api/handles/{h}: without index=, creates the identifier with the
 * body's values (replacing it when it exists, unless overwrite=false:
 * then 409); mintNewSuffix=true appends a fresh suffix to {h}. With index=,
 * adds the listed values (modifying existing ones with overwrite=true).
 */
int api_put_handle(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	uint8_t hbuf[PROTO_HANDLE_MAX + 1];
	size_t hl = path_handle(rest, hbuf, sizeof(hbuf), r);
	if (!hl)
		return 0;
	idn_slice h = idn_slice_of(hbuf, hl);
	put_opts o = {.overwrite = true};
	api_query_each(req->query, put_opt_cb, &o);
	if (o.bad) {
		api_handle_error(r, PROTO_RC_INVALID_VALUE, h,
		                 IDN_SLICE("index: expected numbers 0..2147483647 (at most 64)"));
		return 0;
	}
	ident id;
	if (api_need_auth(w, req, r, &id) <= 0)
		return 0;
	json_t *doc = api_json_body(req, r);
	if (!doc)
		return 0;
	int ret = 0;
	uint8_t *vals = NULL;
	json_t *jvals = body_values(doc);
	size_t n = json_array_size(jvals);
	if (!json_is_array(jvals) || n > MAX_VALUES) {
		http_resp_error(
		    r, 400, PROTO_RC_PROTOCOL_ERROR,
		    "expected {\"values\":[{\"index\":1,\"type\":\"URL\",\"data\":...}]} "
		    "(at most 4096 values)");
		goto out;
	}
	vals = malloc(ANS_CAP);
	if (!vals) {
		ret = IDN_ENOMEM;
		goto out;
	}
	wire_wr vw = wire_wr_init(vals, ANS_CAP);
	uint32_t nv = 0;
	for (size_t i = 0; i < n; i++) {
		char err[128], msg[200];
		uint32_t vi;
		size_t at = wire_wr_len(&vw);
		const char *why =
		    api_value_from_json(json_array_get(jvals, i), &vw, &vi, err, sizeof(err));
		if (why) {
			snprintf(msg, sizeof(msg), "values[%zu]: %s", i, why);
			http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, msg);
			goto out;
		}
		if (o.nidx && !idx_listed(&o, vi)) {
			vw.pos = vw.start + at; /* index= names the values to write */
			continue;
		}
		nv++;
	}
	if (vw.err) {
		http_resp_error(r, 413, PROTO_RC_PROTOCOL_ERROR,
		                "values too large for one message");
		goto out;
	}
	idn_slice raw = idn_slice_of(vals, wire_wr_len(&vw));
	proto_build b;
	proto_msg m;
	bool created = false;
	if (o.nidx) {
		api_admin_begin(w, &b, PROTO_OP_ADD_VALUE, 0);
		proto_values_req_encode_raw(&b.w, h, nv, raw);
		if ((ret = api_admin_run(w, &b, &id, &m)))
			goto out;
		if (m.hdr.rcode == PROTO_RC_VALUE_ALREADY_EXISTS && o.overwrite) {
			/* Some exist: modify those, add the rest, one value at a time. */
			proto_values_it it = proto_values_begin(raw, nv);
			proto_value pv;
			while (proto_values_next(&it, &pv) == 1) {
				idn_slice one = it.raw;
				api_admin_begin(w, &b, PROTO_OP_MODIFY_VALUE, 0);
				proto_values_req_encode_raw(&b.w, h, 1, one);
				if ((ret = api_admin_run(w, &b, &id, &m)))
					goto out;
				if (m.hdr.rcode == PROTO_RC_VALUE_NOT_FOUND) {
					api_admin_begin(w, &b, PROTO_OP_ADD_VALUE, 0);
					proto_values_req_encode_raw(&b.w, h, 1, one);
					if ((ret = api_admin_run(w, &b, &id, &m)))
						goto out;
				}
				if (m.hdr.rcode != PROTO_RC_SUCCESS)
					break;
			}
		}
	} else {
		if (!o.mint && o.overwrite) {
			/* The reference answers 201 only for a new identifier. */
			api_answer ans;
			if ((ret = api_resolve_here(w, h, &ans)))
				goto out;
			created = ans.rc == PROTO_RC_HANDLE_NOT_FOUND;
		} else {
			created = true;
		}
		api_admin_begin(w, &b, PROTO_OP_CREATE_HANDLE,
		                (o.overwrite && !o.mint ? PROTO_F_OVRW : 0) |
		                    (o.mint ? PROTO_F_MINT : 0));
		proto_values_req_encode_raw(&b.w, h, nv, raw);
		if ((ret = api_admin_run(w, &b, &id, &m)))
			goto out;
	}
	if (m.hdr.rcode != PROTO_RC_SUCCESS) {
		api_admin_error(r, &m, h);
		goto out;
	}
	idn_slice minted = h;
	if (o.mint && proto_handle_req_decode(m.body, &minted))
		minted = h;
	r->status = created ? 201 : 200;
	http_resp_puts(r, "{\"responseCode\":1,\"handle\":");
	api_json_str(r, minted);
	http_resp_puts(r, "}");
out:
	free(vals);
	json_decref(doc);
	return ret;
}

/* DELETE /api/handles/{h}: the whole identifier, or the values named by index=. */
int api_delete_handle(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	uint8_t hbuf[PROTO_HANDLE_MAX + 1];
	size_t hl = path_handle(rest, hbuf, sizeof(hbuf), r);
	if (!hl)
		return 0;
	idn_slice h = idn_slice_of(hbuf, hl);
	put_opts o = {0};
	api_query_each(req->query, put_opt_cb, &o);
	if (o.bad) {
		api_handle_error(r, PROTO_RC_INVALID_VALUE, h,
		                 IDN_SLICE("index: expected numbers 0..2147483647 (at most 64)"));
		return 0;
	}
	ident id;
	if (api_need_auth(w, req, r, &id) <= 0)
		return 0;
	proto_build b;
	proto_msg m;
	if (o.nidx) {
		api_admin_begin(w, &b, PROTO_OP_REMOVE_VALUE, 0);
		proto_remove_req_encode(&b.w, h, o.idx, o.nidx);
	} else {
		api_admin_begin(w, &b, PROTO_OP_DELETE_HANDLE, 0);
		proto_handle_req_encode(&b.w, h);
	}
	int ret = api_admin_run(w, &b, &id, &m);
	if (ret)
		return ret;
	if (m.hdr.rcode != PROTO_RC_SUCCESS) {
		api_admin_error(r, &m, h);
		return 0;
	}
	http_resp_puts(r, "{\"responseCode\":1,\"handle\":");
	api_json_str(r, h);
	http_resp_puts(r, "}");
	return 0;
}

typedef struct list_opts {
	idn_slice prefix;
	long page, page_size; /* -1: not given */
	bool bad;
} list_opts;

long api_small_num(idn_slice v)
{
	long x = 0;
	if (!v.len || v.len > 9)
		return -2;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -2;
		x = x * 10 + (v.p[i] - '0');
	}
	return x;
}

static int list_opt_cb(void *arg, idn_slice name, idn_slice value)
{
	list_opts *o = arg;
	if (api_name_is(name, "prefix"))
		o->prefix = value;
	else if (api_name_is(name, "page"))
		o->page = api_small_num(value);
	else if (api_name_is(name, "pageSize"))
		o->page_size = api_small_num(value);
	return 0;
}

/*
 * GET /api/handles?prefix=P[&page=N&pageSize=M]: the identifiers under P
 * (op 105 as the caller, who needs the list right on 0.NA/P); pages count
 * from 0, and without page= the whole list comes.
 */
int api_list_handles(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	list_opts o = {.page = -1, .page_size = -1};
	api_query_each(req->query, list_opt_cb, &o);
	uint8_t pbuf[PROTO_HANDLE_MAX];
	int pl = api_pct_decode(o.prefix, true, pbuf + 5, sizeof(pbuf) - 5);
	if (pl <= 0) {
		http_resp_error(r, 400, PROTO_RC_INVALID_HANDLE,
		                "prefix= is needed: GET /api/handles?prefix=88.100.1");
		return 0;
	}
	if (o.page < -1 || o.page_size < -1 || o.page_size == 0 || o.page_size > MAX_PAGE) {
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE,
		                "page and pageSize: numbers, pageSize 1..10000");
		return 0;
	}
	ident id;
	if (api_need_auth(w, req, r, &id) <= 0)
		return 0;
	memcpy(pbuf, "0.NA/", 5);
	idn_slice na = idn_slice_of(pbuf, (size_t)pl + 5);
	proto_build b;
	proto_msg m;
	api_admin_begin(w, &b, PROTO_OP_LIST_HANDLES, 0);
	proto_handle_req_encode(&b.w, na);
	int ret = api_admin_run(w, &b, &id, &m);
	if (ret)
		return ret;
	if (m.hdr.rcode != PROTO_RC_SUCCESS) {
		api_admin_error(r, &m, na);
		return 0;
	}
	proto_list_resp lr;
	if (proto_list_resp_decode(m.body, &lr)) {
		http_resp_error(r, 500, PROTO_RC_ERROR, "malformed list answer from the node");
		return 0;
	}
	long size = o.page_size > 0 ? o.page_size : (long)lr.n;
	long from = o.page > 0 ? o.page * size : 0;
	http_resp_puts(r, "{\"responseCode\":1,\"prefix\":");
	api_json_str(r, idn_slice_of(pbuf + 5, (size_t)pl));
	http_resp_printf(r, ",\"totalCount\":\"%u\"", lr.n);
	if (o.page >= 0)
		http_resp_printf(r, ",\"page\":%ld,\"pageSize\":%ld", o.page, size);
	http_resp_puts(r, ",\"handles\":[");
	wire_rd it = proto_list_names(&lr);
	idn_slice name;
	long i = 0, out = 0;
	while (proto_list_next(&it, &name) == 1 && out < size) {
		if (i++ < from)
			continue;
		http_resp_puts(r, out++ ? "," : "");
		api_json_str(r, name);
	}
	http_resp_puts(r, "]}");
	return 0;
}
