/*
 * login.c - the national system's login, op 2001: the table of logged-in
 * TCP connections and the request steps that use it (login.h).
 */
#include "node/login.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/admin.h"
#include "node/answer.h"
#include "node/session_table.h"
#include "proto/admin.h"
#include "proto/handle.h"

enum { BUCKETS = 1024 };

/* One connection's login. */
struct entry {
	struct entry *next;
	uint64_t conn;
	uint32_t begun_sid;     /* session id of the latest 2001 (challenged) */
	uint32_t challenge_sid; /* the session id of its 402 */
	bool begun;
	node_login_view v; /* what it is logged in as (v.session_id, when logged) */
	bool logged;
	bool sm4; /* an SM4 key for key_sid's requests (node/login_crypt.c) */
	uint32_t key_sid;
	uint8_t key[16];
};

struct node_logins {
	pthread_mutex_t lock;
	struct entry *b[BUCKETS];
	size_t n;
};

int node_logins_new(node_logins **out)
{
	node_logins *l = calloc(1, sizeof(*l));
	if (!l)
		return IDN_ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return IDN_OK;
}

void node_logins_free(node_logins *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		while (l->b[i]) {
			struct entry *e = l->b[i];
			l->b[i] = e->next;
			memset(e, 0, sizeof(*e)); /* a session key may be in it */
			free(e);
		}
	pthread_mutex_destroy(&l->lock);
	free(l);
}

size_t node_logins_count(node_logins *l)
{
	pthread_mutex_lock(&l->lock);
	size_t n = l->n;
	pthread_mutex_unlock(&l->lock);
	return n;
}

static struct entry **slot_of(node_logins *l, uint64_t conn)
{
	/* Ids are consecutive: a multiplicative mix spreads them anyway. */
	struct entry **p = &l->b[(conn * 0x9E3779B97F4A7C15ull) >> 54];
	while (*p && (*p)->conn != conn)
		p = &(*p)->next;
	return p;
}

int node_logins_get(node_logins *l, uint64_t conn, node_login_view *v)
{
	int found = 0;
	pthread_mutex_lock(&l->lock);
	struct entry *e = *slot_of(l, conn);
	if (e && e->logged) {
		memcpy(v, &e->v, offsetof(node_login_view, handle) + e->v.hlen);
		found = 1;
	}
	pthread_mutex_unlock(&l->lock);
	return found;
}

void node_logins_drop(node_logins *l, uint64_t conn)
{
	pthread_mutex_lock(&l->lock);
	struct entry **p = slot_of(l, conn);
	struct entry *e = *p;
	if (e) {
		*p = e->next;
		l->n--;
	}
	pthread_mutex_unlock(&l->lock);
	if (e) {
		memset(e, 0, sizeof(*e));
		free(e);
	}
}

/* conn's entry, made when it has none (on conn's own worker: it is open); NULL: no memory. Locked.
 */
static struct entry *entry_make(node_logins *l, uint64_t conn)
{
	struct entry **p = slot_of(l, conn);
	if (!*p && (*p = calloc(1, sizeof(**p)))) {
		(*p)->conn = conn;
		l->n++;
	}
	return *p;
}

/* A 2001 on conn, session sid, is being challenged. */
static int logins_begin(node_logins *l, uint64_t conn, uint32_t sid)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = entry_make(l, conn);
	if (e) {
		e->begun = true;
		e->begun_sid = sid;
		e->challenge_sid = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return e ? IDN_OK : IDN_ENOMEM;
}

/* conn's 2001 of session sid was answered 402 in session csid. */
static void logins_challenged(node_logins *l, uint64_t conn, uint32_t sid, uint32_t csid)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = *slot_of(l, conn);
	if (e && e->begun && e->begun_sid == sid)
		e->challenge_sid = csid;
	pthread_mutex_unlock(&l->lock);
}

/*
 * ID-SDK sends the op 200 of its login in its own session id, not the
 * challenge's: the challenge's session id when sid is that of conn's
 * challenged 2001, else sid.
 */
static uint32_t logins_challenge_of(node_logins *l, uint64_t conn, uint32_t sid)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = *slot_of(l, conn);
	if (e && e->begun && e->begun_sid == sid && e->challenge_sid)
		sid = e->challenge_sid;
	pthread_mutex_unlock(&l->lock);
	return sid;
}

/*
 * The identity answering conn's challenged 2001 of session sid is proven.
 * IDN_ENOTFOUND when conn has no such 2001 (closed since, another one
 * superseded it, or the op 200 came on another connection).
 */
static int logins_bind(node_logins *l, uint64_t conn, uint32_t sid, idn_slice handle,
                       uint32_t index)
{
	int ret = IDN_ENOTFOUND;
	if (handle.len > PROTO_HANDLE_MAX)
		return IDN_EINVAL;
	pthread_mutex_lock(&l->lock);
	struct entry *e = *slot_of(l, conn);
	if (e && e->begun && e->begun_sid == sid) {
		e->begun = false;
		e->logged = true;
		memset(&e->v, 0, sizeof(e->v));
		e->v.session_id = sid;
		e->v.index = index;
		e->v.hlen = (uint32_t)handle.len;
		memcpy(e->v.handle, handle.p, handle.len);
		ret = IDN_OK;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int node_logins_set_key(node_logins *l, uint64_t conn, uint32_t session_id, const uint8_t key[16])
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = entry_make(l, conn);
	if (e) {
		e->sm4 = true;
		e->key_sid = session_id;
		memcpy(e->key, key, sizeof(e->key));
	}
	pthread_mutex_unlock(&l->lock);
	return e ? IDN_OK : IDN_ENOMEM;
}

int node_logins_get_key(node_logins *l, uint64_t conn, uint32_t *session_id, uint8_t key[16])
{
	int found = 0;
	pthread_mutex_lock(&l->lock);
	struct entry *e = *slot_of(l, conn);
	if (e && e->sm4) {
		memcpy(key, e->key, sizeof(e->key));
		*session_id = e->key_sid;
		found = 1;
	}
	pthread_mutex_unlock(&l->lock);
	return found;
}

/* ---- the request steps ---- */

static enum node_codes codes_of(const req *rq)
{
	return rq->w->node->cfg.codes;
}

uint32_t node_login_failed_code(const req *held)
{
	if (held->op && held->op->opcode == PROTO_OP_IDIS_LOGIN && codes_of(held) == NODE_CODES_IDS)
		return PROTO_RC_IDIS_BAD_CREDENTIAL;
	return PROTO_RC_AUTHENTICATION_FAILED;
}

int node_login_password(req *rq)
{
	return node_answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
	                         "password login (2000) is not supported: log in with 2001 "
	                         "and a public key (HS_PUBKEY)");
}

/* 2001: the checks, the connection's entry begun, then the challenge (node/admin.h). */
static int login_request(req *rq)
{
	node *n = rq->w->node;
	if (rq->transport != NODE_TCP || !rq->conn)
		return node_answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                         "login (2001) needs a TCP connection");
	proto_login_req lr;
	if (proto_login_req_decode(rq->msg.body, &lr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed login request");
	if (!lr.handle.len || lr.handle.len > PROTO_HANDLE_MAX ||
	    memchr(lr.handle.p, 0, lr.handle.len) || !handle_utf8_valid(lr.handle))
		return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid identity handle");
	node_login_view v;
	if (codes_of(rq) == NODE_CODES_IDS && node_logins_get(n->conn_logins, rq->conn, &v))
		return node_answer_error(rq, PROTO_RC_IDIS_REPEAT_LOGIN,
		                         "client repeat login: this connection is logged in");
	uint32_t sid = rq->env.session_id;
	if (logins_begin(n->conn_logins, rq->conn, sid))
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
	int ret = node_admin_request(rq);
	if (rq->w->rcode == PROTO_RC_AUTHENTICATION_NEEDED)
		logins_challenged(n->conn_logins, rq->conn, sid, rq->env.session_id);
	return ret;
}

int node_login_run(node_authz *c)
{
	req *held = c->rq;
	node *n = held->w->node;
	/* The 2001's own envelope, held with it: the session id the client chose. */
	proto_env env;
	if (proto_env_decode(held->msg.hb.p - PROTO_ENV_LEN, PROTO_ENV_LEN, &env))
		return node_answer_error(held, PROTO_RC_ERROR, "held request lost");
	int ret =
	    logins_bind(n->conn_logins, held->conn, env.session_id, c->id_handle, c->id_index);
	if (ret)
		return node_answer_error(held, node_login_failed_code(held),
		                         "no login to finish here: answer the login's challenge on "
		                         "the connection that sent it");
	held->env.session_id = env.session_id;
	return node_answer_ok(held);
}

bool node_handle_session_live(node *n, uint32_t sid)
{
	node_sessions *s = n->sessions;
	pthread_mutex_lock(&s->lock);
	bool live = node_sessions_find(s, sid, n->cfg.clock()) != NULL;
	pthread_mutex_unlock(&s->lock);
	return live;
}

/*
 * Runs fn(rq) as the identity of the connection's login when rq carries the
 * login's session id (node_admin_request's act-as path); *ran says whether
 * it did.
 */
static int as_login(req *rq, int (*fn)(req *), bool *ran)
{
	node_login_view v;
	*ran = rq->transport == NODE_TCP && rq->conn &&
	       node_logins_get(rq->w->node->conn_logins, rq->conn, &v) &&
	       v.session_id == rq->env.session_id;
	if (!*ran)
		return 0;
	node_worker *w = rq->w;
	idn_slice as = w->as_handle;
	uint32_t as_index = w->as_index;
	w->as_handle = idn_slice_of(v.handle, v.hlen);
	w->as_index = v.index;
	int ret = fn(rq);
	w->as_handle = as;
	w->as_index = as_index;
	return ret;
}

int node_login_challenge(req *rq)
{
	bool ran;
	int ret = as_login(rq, node_admin_request, &ran);
	return ran ? ret : node_admin_request(rq);
}

int node_login_step(req *rq)
{
	node *n = rq->w->node;
	uint32_t op = rq->msg.hdr.opcode;
	if (op == PROTO_OP_IDIS_LOGIN)
		return login_request(rq);
	if (op == PROTO_OP_SESSION_SETUP)
		return node_login_setup(rq);
	if (rq->transport != NODE_TCP || !rq->conn)
		return 0;
	if (op == PROTO_OP_CHALLENGE_RESPONSE) {
		rq->env.session_id =
		    logins_challenge_of(n->conn_logins, rq->conn, rq->env.session_id);
		return 0;
	}
	/*
	 * Resolutions look for the login only when they come to restricted
	 * values (node_login_challenge), so a plain one takes no lock here.
	 */
	if (!(rq->op->flags & NODE_OP_AUTH))
		return 0;
	bool ran;
	int ret = as_login(rq, rq->op->answer, &ran);
	if (ran)
		return ret;
	/* A session id the client chose, with no login and no Handle session behind it. */
	if (codes_of(rq) == NODE_CODES_IDS && rq->env.session_id &&
	    !node_handle_session_live(n, rq->env.session_id))
		return node_answer_error(rq, PROTO_RC_IDIS_LOGIN_FIRST, "please login first");
	return 0;
}
