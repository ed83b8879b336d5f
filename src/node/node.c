/*
 * node.c - the node's life (node_new, node_free) and the dispatcher: the
 * opcode table, one row per opcode with its handler and its facts, and the
 * path of every request through it (node.h).
 */
#include "node/node.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/limit.h"

#include "node/admin.h"
#include "node/answer.h"
#include "node/edit.h"
#include "node/homing.h"
#include "node/identity.h"
#include "node/internal.h"
#include "node/login.h"
#include "node/login_guard.h"
#include "node/quota.h"
#include "node/listing.h"
#include "node/repl_ops.h"
#include "node/resolve.h"
#include "node/session.h"
#include "node/stats_int.h"

/* Messages the reference sends, kept byte for byte. */
static const char MSG_ADMIN_UDP[] = "Received admin request on non-admin port ";

static uint32_t wall_clock(void)
{
	return (uint32_t)time(NULL);
}

void node_config_init(node_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->case_sensitive = true;
	cfg->site_serial = 1;
	cfg->answer_ttl = 43200;
	cfg->pending_auth_bytes = (size_t)NODE_PENDING_AUTH_MB << 20;
	cfg->pending_auth_per_source = NODE_PENDING_PER_SOURCE;
	cfg->unauth_sessions = NODE_UNAUTH_SESSIONS;
	cfg->unauth_sessions_per_source = NODE_UNAUTH_PER_SOURCE;
	cfg->login_free_failures = NODE_LOGIN_FREE_FAILURES;
	cfg->login_backoff_max = NODE_LOGIN_BACKOFF_MAX;
	cfg->login_entries = NODE_LOGIN_ENTRIES;
	cfg->max_minor = PROTO_MINOR_MAX;
	cfg->clock = wall_clock;
	cfg->max_recursion = 40;
	cfg->max_auth_time = 60;
	cfg->max_pending_auth = 4096;
	cfg->value_type_max = 1024;
}

static void node_parts_free(node *n);

int node_new(const node_config *cfg, store *s, node **out)
{
	node *n = calloc(1, sizeof(*n));
	if (!n)
		return IDN_ENOMEM;
	n->cfg = *cfg;
	n->store = s;
	if (cfg->site_info.len) {
		n->site_info = malloc(cfg->site_info.len);
		if (!n->site_info) {
			free(n);
			return IDN_ENOMEM;
		}
		memcpy(n->site_info, cfg->site_info.p, cfg->site_info.len);
		n->cfg.site_info = idn_slice_of(n->site_info, cfg->site_info.len);
		/* A site we cannot read splits nothing; GET_SITE_INFO still answers it. */
		if (proto_site_decode(n->cfg.site_info, &n->site))
			memset(&n->site, 0, sizeof(n->site));
	}
	if (!n->cfg.clock)
		n->cfg.clock = wall_clock;
	login_guard_cfg lg = {.entries =
	                          n->cfg.login_entries ? n->cfg.login_entries : NODE_LOGIN_ENTRIES,
	                      .free_failures = n->cfg.login_free_failures,
	                      .backoff_max_ms = n->cfg.login_backoff_max * 1000};
	int aret = node_admin_new(&n->cfg, &n->admin);
	if (!aret)
		aret = node_identity_new(&n->cfg, &n->identity);
	if (!aret)
		aret = node_sessions_new(&n->cfg, &n->sessions);
	if (!aret)
		aret = login_guard_new(&lg, &n->logins);
	if (!aret)
		aret = node_logins_new(&n->conn_logins);
	if (!aret)
		aret = node_quota_new(&n->cfg, &n->quota);
	if (!aret)
		aret = node_stats_new(n);
	if (aret) {
		node_parts_free(n);
		return aret;
	}
	if (n->cfg.max_minor < PROTO_MINOR_MIN || n->cfg.max_minor > PROTO_MINOR_MAX)
		n->cfg.max_minor = PROTO_MINOR_MAX;
	*out = n;
	return IDN_OK;
}

/* Frees what node_new made (each part may be NULL) and n. */
static void node_parts_free(node *n)
{
	node_admin_free(n->admin);
	node_identity_free(n->identity);
	node_sessions_free(n->sessions);
	login_guard_free(n->logins);
	node_logins_free(n->conn_logins);
	node_quota_free(n->quota);
	node_stats_free(n);
	free(n->site_info);
	free(n);
}

void node_free(node *n)
{
	if (!n)
		return;
	node_quota_flush(n, true); /* the day's request counts, for the next start */
	node_parts_free(n);
}

uint32_t node_login_wait(node *n, const node_source *src, idn_slice handle, uint32_t index)
{
	if (!src->known)
		return 0;
	int64_t ms = login_guard_wait(n->logins, src, login_account(handle, index), limit_now_ms());
	if (ms <= 0)
		return 0;
	limit_hit(LIM_LOGIN_FAILURES, "a login refused for %lld ms more after repeated failures",
	          (long long)ms);
	return (uint32_t)((ms + 999) / 1000);
}

void node_login_result(node *n, const node_source *src, idn_slice handle, uint32_t index, bool ok)
{
	if (!src->known)
		return;
	uint64_t acct = login_account(handle, index);
	if (ok)
		login_guard_succeeded(n->logins, src, acct, limit_now_ms());
	else
		login_guard_failed(n->logins, src, acct, limit_now_ms());
}

void node_session_limits(const node *n, uint32_t *unauth, uint32_t *per_source)
{
	*unauth = n->cfg.unauth_sessions ? n->cfg.unauth_sessions : NODE_UNAUTH_SESSIONS;
	*per_source = n->cfg.unauth_sessions_per_source ? n->cfg.unauth_sessions_per_source
	                                                : NODE_UNAUTH_PER_SOURCE;
}

void node_sweep(node *n)
{
	node_admin_sweep(n->admin, n->cfg.clock(), SIZE_MAX);
	node_sessions_count(n);
	node_quota_flush(n, false);
}

bool node_case_sensitive(const node *n)
{
	return n->cfg.case_sensitive;
}

/* ---- dispatch ---- */

/*
 * Opcodes this node knows and does not run (key exchange, list NAs, backup);
 * session setup and terminate reach here only if the session step did not
 * answer them, which it always does.
 */
static int answer_unsupported(req *rq)
{
	return node_answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
	                         "operation not supported on this node");
}

enum {
	TCP = NODE_OP_TCP_ONLY,
	AUTH = NODE_OP_AUTH,
	WRITES = NODE_OP_WRITES,
	OUTSIDE = NODE_OP_OUTSIDE_SESSION,
};

/*
 * Every opcode the node answers. Authenticated ops (AUTH) go through
 * node_admin_request (the checks before the challenge, then the 402) and
 * run as `run` once the identity is known; replication (1000-1002) is for
 * server administrators only (node/repl_ops.h). Session setup and terminate
 * are answered by the session step (node/session.h) before their handler.
 */
static const node_op ops[] = {
    {PROTO_OP_RESOLUTION, node_resolution_answer, node_resolution_run, OUTSIDE, NODE_BODY_HANDLE},
    {PROTO_OP_GET_SITE_INFO, node_site_info_answer, NULL, OUTSIDE, NODE_BODY_NONE},
    {PROTO_OP_CREATE_HANDLE, node_admin_request, node_edit_create, TCP | AUTH | WRITES,
     NODE_BODY_VALUES},
    {PROTO_OP_DELETE_HANDLE, node_admin_request, node_edit_delete, TCP | AUTH | WRITES,
     NODE_BODY_HANDLE},
    {PROTO_OP_ADD_VALUE, node_admin_request, node_edit_add, TCP | AUTH | WRITES, NODE_BODY_VALUES},
    {PROTO_OP_REMOVE_VALUE, node_admin_request, node_edit_remove, TCP | AUTH | WRITES,
     NODE_BODY_REMOVE},
    {PROTO_OP_MODIFY_VALUE, node_admin_request, node_edit_modify, TCP | AUTH | WRITES,
     NODE_BODY_VALUES},
    {PROTO_OP_LIST_HANDLES, node_admin_request, node_list_handles, TCP | AUTH, NODE_BODY_PREFIX},
    {PROTO_OP_LIST_NAS, answer_unsupported, NULL, TCP, NODE_BODY_NONE},
    {PROTO_OP_CHALLENGE_RESPONSE, node_admin_challenge_response, NULL, TCP | OUTSIDE,
     NODE_BODY_NONE},
    /* Any transport, no authentication: another node checking a challenge answer. */
    {PROTO_OP_VERIFY_RESPONSE, node_identity_serve_verify, NULL, OUTSIDE, NODE_BODY_NONE},
    {PROTO_OP_HOME_NA, node_admin_request, node_home, TCP | AUTH | WRITES, NODE_BODY_HOME},
    {PROTO_OP_UNHOME_NA, node_admin_request, node_home, TCP | AUTH | WRITES, NODE_BODY_HOME},
    {PROTO_OP_LIST_HOMED_NAS, node_admin_request, node_list_homed, TCP | AUTH, NODE_BODY_NONE},
    {PROTO_OP_SESSION_SETUP, answer_unsupported, NULL, 0, NODE_BODY_NONE},
    {PROTO_OP_SESSION_TERMINATE, answer_unsupported, NULL, 0, NODE_BODY_NONE},
    {PROTO_OP_SESSION_EXCHANGEKEY, answer_unsupported, NULL, TCP, NODE_BODY_NONE},
    {PROTO_OP_GET_NEXT_TXN_ID, node_admin_request, node_repl_run, TCP | AUTH, NODE_BODY_NONE},
    {PROTO_OP_RETRIEVE_TXN_LOG, node_admin_request, node_repl_run, TCP | AUTH, NODE_BODY_NONE},
    {PROTO_OP_DUMP_HANDLES, node_admin_request, node_repl_run, TCP | AUTH, NODE_BODY_NONE},
    {PROTO_OP_BACKUP_SERVER, answer_unsupported, NULL, TCP, NODE_BODY_NONE},
    /* The national system's (node/login.h): 2001 is answered by the login step. */
    {PROTO_OP_IDIS_LOGIN, node_login_step, node_login_run, TCP | AUTH, NODE_BODY_NONE},
    {PROTO_OP_IDIS_PASSWORD_LOGIN, node_login_password, NULL, OUTSIDE, NODE_BODY_NONE},
};
_Static_assert(sizeof(ops) / sizeof(ops[0]) < NODE_OP_SLOTS, "a metrics slot per row, and other");

uint32_t node_metrics_opcode(unsigned i)
{
	return i < sizeof(ops) / sizeof(ops[0]) ? ops[i].opcode : UINT32_MAX;
}

static const node_op *op_lookup(uint32_t opcode)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].opcode == opcode)
			return &ops[i];
	return NULL;
}

static int answer_msg(req *rq, const uint8_t *in, size_t len);

int node_answer(node_worker *w, enum node_transport t, const uint8_t *in, size_t len, uint8_t *out,
                size_t cap)
{
	req rq = {.w = w, .transport = t, .out = out, .cap = cap, .conn = w->conn};
	w->rcode = 0;

	if (proto_env_decode(in, len, &rq.env))
		return 0; /* not even an envelope: nothing to answer to */
	if (rq.env.msg_len != len - PROTO_ENV_LEN || rq.env.msg_len > PROTO_MSG_MAX)
		return node_bad_envelope(in, out, cap);

	/* Answer in the request's version, capped at ours. */
	uint8_t max = w->node->cfg.max_minor;
	rq.minor = rq.env.major != PROTO_MAJOR      ? max
	           : rq.env.minor < PROTO_MINOR_MIN ? PROTO_MINOR_MIN
	           : rq.env.minor > max             ? max
	                                            : rq.env.minor;

	/*
	 * Encrypted with a national login's SM4 key (node/login.h), or in a
	 * Handle session (node/session.h): read the plaintext instead.
	 */
	uint8_t *plain = NULL;
	if ((rq.env.flags & PROTO_ENV_ENCRYPTED) && !(rq.env.flags & PROTO_ENV_COMPRESSED) &&
	    rq.env.major == PROTO_MAJOR) {
		int dret = node_login_decrypt(&rq, in, len, &plain, &len);
		if (!dret && !plain)
			dret = node_session_decrypt(&rq, in, len, &plain, &len);
		if (dret)
			return dret;
		in = plain;
	}
	if (!rq.sm4) {
		int ret = answer_msg(&rq, in, len);
		free(plain);
		return ret;
	}
	/*
	 * Answered encrypted, in one piece (no parts); an answer given later, when
	 * an identity held elsewhere was checked, is encrypted there (node/identity.c).
	 */
	bool more_ok = w->more_ok;
	w->more_ok = false;
	int ret = answer_msg(&rq, in, len);
	w->more_ok = more_ok;
	free(plain);
	if (ret > 0)
		ret = node_login_encrypt(&rq, out, (size_t)ret, cap);
	OPENSSL_cleanse(rq.sm4_key, sizeof(rq.sm4_key));
	return ret;
}

static int answer_msg_op(req *rq, const uint8_t *in, size_t len);

/* The answer, counted (node/stats.h) by opcode row, transport and response code. */
static int answer_msg(req *rq, const uint8_t *in, size_t len)
{
	int ret = answer_msg_op(rq, in, len);
	if (rq->w->st)
		node_stats_answered(rq->w, rq->transport,
		                    rq->op ? (unsigned)(rq->op - ops) : NODE_OP_SLOTS - 1,
		                    rq->w->rcode);
	return ret;
}

static int answer_msg_op(req *rq, const uint8_t *in, size_t len)
{
	node_worker *w = rq->w;
	if (proto_msg_decode(in + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &rq->msg)) {
		memset(&rq->msg, 0, sizeof(rq->msg));
		if (len >= PROTO_ENV_LEN + 4)
			rq->msg.hdr.opcode = idn_be32(in + PROTO_ENV_LEN);
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed message");
	}
	if (rq->env.major != PROTO_MAJOR)
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR,
		                         "unsupported protocol version");
	if (rq->env.flags & (PROTO_ENV_ENCRYPTED | PROTO_ENV_COMPRESSED))
		return node_answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                         "encrypted or compressed messages need a session");

	rq->op = op_lookup(rq->msg.hdr.opcode);
	if (!rq->op)
		return node_answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED, "unknown operation");

	int own_snapshot = node_worker_read(w);
	if (own_snapshot < 0)
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "storage unavailable");
	/*
	 * Logins (2001) and requests on a logged-in connection (node/login.h),
	 * then session setup, terminate, and requests in a session (node/session.h).
	 */
	int ret = node_login_step(rq);
	if (!ret)
		ret = node_session_request(rq);
	if (!ret && w->deferred)
		; /* answered later (node/identity.h) */
	else if (!ret && (rq->op->flags & NODE_OP_TCP_ONLY) && rq->transport == NODE_UDP)
		ret = node_answer_bare_error(&rq->env, rq->msg.hdr.opcode, PROTO_RC_PROTOCOL_ERROR,
		                             MSG_ADMIN_UDP, rq->out, rq->cap);
	else if (!ret)
		ret = rq->op->answer(rq);
	if (own_snapshot > 0)
		node_worker_end(w);
	return ret;
}
