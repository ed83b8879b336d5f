/*
 * node.c - request dispatch and resolution.
 */
#include "node/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/admin.h"
#include "proto/handle.h"
#include "node/identity.h"
#include "node/internal.h"
#include "node/session.h"
#include "auth/session_crypto.h"
#include "proto/record.h"
#include "node/referral.h"

/* Messages the reference sends, kept byte for byte. */
static const char MSG_NOT_HERE[] = "That naming authority doesn't live here";
static const char MSG_ADMIN_UDP[] = "Received admin request on non-admin port ";
static const char MSG_SERVER_ERROR[] = "Server error processing request, see server logs";

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
	cfg->max_minor = PROTO_MINOR_MAX;
	cfg->clock = wall_clock;
	cfg->max_recursion = 40;
	cfg->max_auth_time = 60;
	cfg->max_pending_auth = 4096;
}

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
	int aret = node_admin_new(&n->cfg, &n->admin);
	if (!aret && (aret = node_identity_new(&n->cfg, &n->identity)))
		node_admin_free(n->admin);
	if (!aret && (aret = node_sessions_new(&n->cfg, &n->sessions))) {
		node_identity_free(n->identity);
		node_admin_free(n->admin);
	}
	if (aret) {
		free(n->site_info);
		free(n);
		return aret;
	}
	if (n->cfg.max_minor < PROTO_MINOR_MIN || n->cfg.max_minor > PROTO_MINOR_MAX)
		n->cfg.max_minor = PROTO_MINOR_MAX;
	*out = n;
	return IDN_OK;
}

void node_free(node *n)
{
	if (!n)
		return;
	node_admin_free(n->admin);
	node_identity_free(n->identity);
	node_sessions_free(n->sessions);
	free(n->site_info);
	free(n);
}

int node_worker_new(node *n, node_worker **out)
{
	node_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return IDN_ENOMEM;
	w->node = n;
	int ret = store_txn_begin(n->store, STORE_RDONLY, &w->rtxn);
	if (ret) {
		free(w);
		return ret;
	}
	store_txn_reset(w->rtxn);
	*out = w;
	return IDN_OK;
}

bool node_case_sensitive(const node *n)
{
	return n->cfg.case_sensitive;
}

void node_worker_free(node_worker *w)
{
	if (!w)
		return;
	if (w->wtxn)
		store_txn_abort(w->wtxn); /* never acknowledged: see node_worker_commit */
	store_txn_abort(w->rtxn);
	free(w);
}

void node_worker_begin(node_worker *w)
{
	if (!w->in_batch && !w->wtxn && store_txn_renew(w->rtxn) == IDN_OK)
		w->in_batch = true;
}

void node_worker_group(node_worker *w, bool on)
{
	w->group = on && store_can_nest(w->node->store);
}

bool node_worker_pending(const node_worker *w)
{
	return w->wtxn != NULL;
}

void node_worker_rollback(node_worker *w)
{
	if (w->wtxn)
		store_txn_abort(w->wtxn);
	w->wtxn = NULL;
}

int node_worker_commit(node_worker *w)
{
	store_txn *t = w->wtxn;

	if (!t)
		return IDN_OK;
	w->wtxn = NULL;
	return store_txn_commit(t);
}

void node_worker_end(node_worker *w)
{
	if (w->in_batch) {
		store_txn_reset(w->rtxn);
		w->in_batch = false;
	}
}

/* ---- answers ---- */

/*
 * Starts an answer: envelope in our answer version (advertising our own), the
 * header with AT, and the request digest when asked for.
 */
static void answer_begin(req *rq, proto_build *b, uint32_t rc)
{
	const node_config *cfg = &rq->w->node->cfg;
	proto_env env = {
	    .major = PROTO_MAJOR,
	    .minor = rq->minor,
	    .flags = PROTO_MAJOR & PROTO_ENV_SUGG_MAJOR_MASK,
	    .sugg_minor = cfg->max_minor,
	    .session_id = rq->env.session_id,
	    .request_id = rq->env.request_id,
	};
	/*
	 * The reference sets AT and REC on every answer and echoes CT, CA, PO
	 * and RD; it does not echo DNRF, KA or the admin flags.
	 */
	const uint32_t echo = PROTO_F_CT | PROTO_F_CA | PROTO_F_PO | PROTO_F_RD;
	proto_hdr hdr = {
	    .opcode = rq->msg.hdr.opcode,
	    .rcode = rc,
	    .flags = PROTO_F_AT | PROTO_F_REC | (rq->msg.hdr.flags & echo),
	    .site_serial = cfg->site_serial,
	    .recursion = rq->msg.hdr.recursion,
	    .expiration = cfg->clock() + cfg->answer_ttl,
	};
	proto_build_begin(b, rq->out, rq->cap, &env, &hdr);
	if (rq->msg.hdr.flags & PROTO_F_RD)
		proto_put_digest(&b->w, proto_digest_alg(PROTO_MAJOR, rq->minor), rq->msg.hb);
}

static int answer_end(req *rq, proto_build *b)
{
	const node_config *cfg = &rq->w->node->cfg;
	if (b->w.err)
		return b->w.err;
	if (rq->sess.id)
		return node_session_answer_end(rq, b); /* HS_MAC with the session key */
	if (!(rq->msg.hdr.flags & PROTO_F_CT) || !cfg->sign)
		return proto_build_end(b, NULL, 0);

	/*
	 * Sign header + body; the credential goes after the body. From 2.6 the
	 * reference also signs envelope fields first (auth/session_crypto.h):
	 * 9.x clients check that, the session setup answer above all.
	 */
	uint8_t cred[2048];
	idn_slice hb = proto_build_body_end(b);
	uint8_t *tbs = NULL;
	proto_env aenv;
	proto_env_decode(b->env, PROTO_ENV_LEN, &aenv);
	auth_msg_ctx mc = {.major = aenv.major,
	                   .minor = aenv.minor,
	                   .sugg_major = aenv.flags & PROTO_ENV_SUGG_MAJOR_MASK,
	                   .sugg_minor = aenv.sugg_minor,
	                   .session_id = aenv.session_id,
	                   .request_id = aenv.request_id};
	uint8_t pre[16];
	size_t plen = hb.len ? auth_sig_prefix(&mc, pre) : 0;
	if (plen) {
		if (!(tbs = malloc(plen + hb.len)))
			return IDN_ENOMEM;
		memcpy(tbs, pre, plen);
		memcpy(tbs + plen, hb.p, hb.len);
		hb = idn_slice_of(tbs, plen + hb.len);
	}
	int n = cfg->sign(cfg->sign_arg, PROTO_MAJOR, rq->minor, hb, cred, sizeof(cred));
	free(tbs);
	if (n < 0)
		return n;
	return proto_build_end(b, cred, (uint32_t)n);
}

static int answer_error(req *rq, uint32_t rc, const char *message)
{
	proto_build b;
	answer_begin(rq, &b, rc);
	wire_put_cstr(&b.w, message ? message : "");
	int ret = answer_end(rq, &b);
	if (ret == IDN_ESPACE && rc != PROTO_RC_ERROR)
		return answer_error(rq, PROTO_RC_ERROR, "answer too large");
	return ret;
}

/* The builders, for the other files of the module (node/internal.h). */
void node_answer_begin(req *rq, proto_build *b, uint32_t rc)
{
	answer_begin(rq, b, rc);
}

int node_answer_end(req *rq, proto_build *b)
{
	return answer_end(rq, b);
}

int node_answer_error(req *rq, uint32_t rc, const char *message)
{
	return answer_error(rq, rc, message);
}

/*
 * An error built outside a request context, as the reference does for a
 * request it will not look into (admin over UDP, a bad message length):
 * version 2.3, the library's default flags, unknown site serial, no AT.
 */
static int answer_bare_error(const proto_env *renv, uint32_t opcode, uint32_t rc,
                             const char *message, uint8_t *out, size_t cap)
{
	proto_env env = {
	    .major = 2,
	    .minor = 3,
	    .session_id = renv->session_id,
	    .request_id = renv->request_id,
	};
	proto_hdr hdr = {
	    .opcode = opcode,
	    .rcode = rc,
	    .flags = PROTO_F_REC | PROTO_F_CA | PROTO_F_PO,
	    .site_serial = 0xFFFF,
	    .expiration = (uint32_t)time(NULL) + 43200,
	};
	proto_build b;
	proto_build_begin(&b, out, cap, &env, &hdr);
	wire_put_cstr(&b.w, message);
	return proto_build_end(&b, NULL, 0);
}

int node_bad_envelope(const uint8_t envb[PROTO_ENV_LEN], uint8_t *out, size_t cap)
{
	proto_env env;
	proto_env_decode(envb, PROTO_ENV_LEN, &env);
	return answer_bare_error(&env, 0, PROTO_RC_ERROR, MSG_SERVER_ERROR, out, cap);
}

/* ---- resolution ---- */

/*
 * Does a value's type pass one requested type? As the reference
 * (Util.isParentTypeInArray): exact and case-insensitive, except that a
 * requested type ending in '.' names a family: "URL." matches "URL.us" and
 * "URL" itself. "URL" does not match "URL.us"; an empty type matches nothing.
 */
static bool type_matches(idn_slice want, idn_slice type)
{
	const char *w = (const char *)want.p, *t = (const char *)type.p;
	if (type.len == 0)
		return false;
	if (want.len && want.p[want.len - 1] == '.') {
		if (type.len >= want.len && strncasecmp(t, w, want.len) == 0)
			return true;
		return type.len == want.len - 1 && strncasecmp(t, w, type.len) == 0;
	}
	return want.len == type.len && strncasecmp(t, w, want.len) == 0;
}

static bool value_selected(const proto_resolve_req *rr, const proto_value *v)
{
	if (rr->nindexes == 0 && rr->ntypes == 0)
		return true;
	/* Index and type filters combine as a union, as the reference does. */
	for (uint32_t i = 0; i < rr->nindexes; i++)
		if (idn_be32(rr->indexes + 4 * i) == v->index)
			return true;
	wire_rd t = wire_rd_init(rr->types.p, rr->types.len);
	for (uint32_t i = 0; i < rr->ntypes; i++)
		if (type_matches(wire_get_lbytes(&t), v->type))
			return true;
	return false;
}

static int is_homed(req *rq, idn_slice prefix)
{
	uint8_t norm[HANDLE_KEY_MAX];
	int n = handle_prefix_norm(prefix, norm, sizeof(norm));
	if (n < 0)
		return 0;
	return store_is_homed(node_rtxn(rq->w), idn_slice_of(norm, (size_t)n));
}

/*
 * Refers to the site of the nearest ancestor of prefix that delegates its
 * derived prefixes. Returns the answer length, 0 when there is nothing to
 * refer to (or the client asked not to be referred), or a negative idn_err.
 */
static int try_referral(req *rq, idn_slice prefix)
{
	node_worker *w = rq->w;
	if (rq->msg.hdr.flags & PROTO_F_DNRF)
		return 0;
	referral r;
	int found = referral_find(node_rtxn(w), w->node->cfg.case_sensitive, prefix, &r);
	if (found < 0)
		return answer_error(rq, PROTO_RC_ERROR, "storage error");
	if (!found)
		return 0;
	proto_build b;
	answer_begin(rq, &b, PROTO_RC_PREFIX_REFERRAL);
	referral_put(&b.w, &r);
	int ret = answer_end(rq, &b);
	if (ret == IDN_ESPACE)
		return answer_error(rq, PROTO_RC_ERROR, "answer too large");
	return ret;
}

/*
 * A handle whose prefix is not homed here: refer along the derived-prefix
 * chain unless we hold the prefix's own record (then the client asks for
 * 0.NA/<prefix> and goes where it says), else 301.
 */
static int not_homed(req *rq, idn_slice handle, idn_slice prefix)
{
	node_worker *w = rq->w;
	idn_slice na;
	if (handle_na_prefix(handle, &na) == IDN_OK)
		prefix = na; /* 0.NA/88.100.1 here without 0.NA homed: walk from 88.100.1 */
	else {
		uint8_t name[PROTO_HANDLE_MAX + 8];
		int n = snprintf((char *)name, sizeof(name), "0.NA/%.*s", (int)prefix.len,
		                 (const char *)prefix.p);
		idn_slice raw;
		int klen = n > 0 && (size_t)n < sizeof(name)
		               ? handle_key(idn_slice_of(name, (size_t)n),
		                            w->node->cfg.case_sensitive, w->key)
		               : -1;
		if (klen > 0 &&
		    store_get(node_rtxn(w), idn_slice_of(w->key, (size_t)klen), &raw) == 0)
			return answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
	}
	int ret = try_referral(rq, prefix);
	if (ret)
		return ret;
	return answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
}

static int do_resolution(req *rq)
{
	node_worker *w = rq->w;
	proto_resolve_req rr;
	handle_parts parts;

	if (proto_resolve_req_decode(rq->msg.body, &rr))
		return answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed resolution request");
	if (handle_split(rr.handle, &parts) || parts.prefix.len == 0)
		return answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
	if (rr.handle.len > PROTO_HANDLE_MAX || memchr(rr.handle.p, 0, rr.handle.len))
		return answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");

	if (rq->msg.hdr.recursion > w->node->cfg.max_recursion)
		return answer_error(rq, PROTO_RC_RECURSION_COUNT_TOO_HIGH,
		                    "recursion limit reached");

	int homed = is_homed(rq, parts.prefix);
	if (homed < 0)
		return answer_error(rq, PROTO_RC_ERROR, "storage error");
	if (!homed)
		return not_homed(rq, rr.handle, parts.prefix);

	int own = referral_site_owns(&w->node->site, w->node->cfg.server_id, rr.handle);
	if (own == 0)
		return answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);

	int klen = handle_key(rr.handle, w->node->cfg.case_sensitive, w->key);
	if (klen < 0)
		return answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
	idn_slice raw;
	int ret = store_get(node_rtxn(w), idn_slice_of(w->key, (size_t)klen), &raw);
	if (ret == IDN_ENOTFOUND) {
		/* A derived prefix we do not hold: its parent may say who does (x73). */
		idn_slice na;
		if (handle_na_prefix(rr.handle, &na) == IDN_OK && (ret = try_referral(rq, na)) != 0)
			return ret;
		return answer_error(rq, PROTO_RC_HANDLE_NOT_FOUND, "");
	}
	record rec;
	if (ret || record_parse(raw, &rec))
		return answer_error(rq, PROTO_RC_ERROR, "storage error");

	proto_build b;
	answer_begin(rq, &b, PROTO_RC_SUCCESS);
	wire_put_slice(&b.w, rr.handle); /* the request's spelling, as the reference echoes it */

	bool filtered = rr.nindexes || rr.ntypes;
	if (!filtered && (rec.flags & RECORD_F_ALL_PUBLIC)) {
		wire_put_data(&b.w, rec.counted.p, rec.counted.len);
		return answer_end(rq, &b);
	}

	/*
	 * Values without public read are withheld: authenticated reads come
	 * with the administration work (challenge-response).
	 */
	uint8_t *count = wire_put_raw(&b.w, 4);
	uint32_t n = 0;
	wire_rd c = wire_rd_init(rec.values.p, rec.values.len);
	for (uint32_t i = 0; i < rec.nvalues; i++) {
		const uint8_t *start = c.pos;
		proto_value v;
		proto_value_get(&c, &v);
		if (c.err)
			return answer_error(rq, PROTO_RC_ERROR, "storage error: damaged record");
		if (!(v.perms & PROTO_PERM_PUBLIC_READ) || !value_selected(&rr, &v))
			continue;
		wire_put_data(&b.w, start, (size_t)(c.pos - start));
		n++;
	}
	if (filtered && n == 0)
		return answer_error(rq, PROTO_RC_VALUE_NOT_FOUND, "");
	if (count)
		idn_put_be32(count, n);
	ret = answer_end(rq, &b);
	if (ret == IDN_ESPACE)
		return answer_error(rq, PROTO_RC_ERROR, "answer too large");
	return ret;
}

static int do_site_info(req *rq)
{
	const node_config *cfg = &rq->w->node->cfg;
	if (cfg->site_info.len == 0)
		return answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED, "no site information");
	proto_build b;
	answer_begin(rq, &b, PROTO_RC_SUCCESS);
	wire_put_data(&b.w, cfg->site_info.p, cfg->site_info.len);
	return answer_end(rq, &b);
}

static int do_admin(req *rq)
{
	if (rq->transport == NODE_UDP)
		return answer_bare_error(&rq->env, rq->msg.hdr.opcode, PROTO_RC_PROTOCOL_ERROR,
		                         MSG_ADMIN_UDP, rq->out, rq->cap);
	if (rq->msg.hdr.opcode == PROTO_OP_CHALLENGE_RESPONSE)
		return node_admin_challenge_response(rq);
	if (node_admin_is_op(rq->msg.hdr.opcode))
		return node_admin_request(rq);
	return answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
	                    "operation not supported on this node");
}

/*
 * Replication (ops 1000-1002, node/repl_ops.h): over TCP/HTTP only, and only
 * for an authenticated server administrator. The admin module takes them
 * through the challenge-response once it knows them (node_admin_is_op) and
 * answers with node_repl_answer(); until then they are refused, saying why.
 */
static int do_repl(req *rq)
{
	if (rq->transport == NODE_UDP)
		return answer_bare_error(&rq->env, rq->msg.hdr.opcode, PROTO_RC_PROTOCOL_ERROR,
		                         MSG_ADMIN_UDP, rq->out, rq->cap);
	if (node_admin_is_op(rq->msg.hdr.opcode))
		return node_admin_request(rq);
	return answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
	                    "replication needs a server administrator's challenge-response, "
	                    "which this node does not run for ops 1000-1002 yet");
}

/* ---- dispatch ---- */

typedef int (*op_fn)(req *rq);

static const struct op {
	uint32_t opcode;
	op_fn fn;
} ops[] = {
    {PROTO_OP_RESOLUTION, do_resolution},
    {PROTO_OP_GET_SITE_INFO, do_site_info},
    {PROTO_OP_CREATE_HANDLE, do_admin},
    {PROTO_OP_DELETE_HANDLE, do_admin},
    {PROTO_OP_ADD_VALUE, do_admin},
    {PROTO_OP_REMOVE_VALUE, do_admin},
    {PROTO_OP_MODIFY_VALUE, do_admin},
    {PROTO_OP_LIST_HANDLES, do_admin},
    {PROTO_OP_LIST_NAS, do_admin},
    {PROTO_OP_CHALLENGE_RESPONSE, do_admin},
    {PROTO_OP_VERIFY_RESPONSE, node_identity_serve_verify}, /* any transport, no auth */
    {PROTO_OP_HOME_NA, do_admin},
    {PROTO_OP_UNHOME_NA, do_admin},
    {PROTO_OP_LIST_HOMED_NAS, do_admin},
    {PROTO_OP_SESSION_SETUP, do_admin},
    {PROTO_OP_SESSION_TERMINATE, do_admin},
    {PROTO_OP_SESSION_EXCHANGEKEY, do_admin},
    {PROTO_OP_GET_NEXT_TXN_ID, do_repl},
    {PROTO_OP_RETRIEVE_TXN_LOG, do_repl},
    {PROTO_OP_DUMP_HANDLES, do_repl},
    {PROTO_OP_BACKUP_SERVER, do_admin},
};

static op_fn op_lookup(uint32_t opcode)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].opcode == opcode)
			return ops[i].fn;
	return NULL;
}

static int handle_msg(req *rq, const uint8_t *in, size_t len);

int node_answer(node_worker *w, enum node_transport t, const uint8_t *in, size_t len, uint8_t *out,
                size_t cap)
{
	req rq = {.w = w, .transport = t, .out = out, .cap = cap};

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

	/* Encrypted in a session (node/session.h): read the plaintext instead. */
	uint8_t *plain = NULL;
	if ((rq.env.flags & PROTO_ENV_ENCRYPTED) && !(rq.env.flags & PROTO_ENV_COMPRESSED) &&
	    rq.env.major == PROTO_MAJOR) {
		int dret = node_session_decrypt(&rq, in, len, &plain, &len);
		if (dret)
			return dret;
		in = plain;
	}
	int ret = handle_msg(&rq, in, len);
	free(plain);
	return ret;
}

static int handle_msg(req *rq, const uint8_t *in, size_t len)
{
	node_worker *w = rq->w;
	if (proto_msg_decode(in + PROTO_ENV_LEN, len - PROTO_ENV_LEN, &rq->msg)) {
		memset(&rq->msg, 0, sizeof(rq->msg));
		if (len >= PROTO_ENV_LEN + 4)
			rq->msg.hdr.opcode = idn_be32(in + PROTO_ENV_LEN);
		return answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed message");
	}
	if (rq->env.major != PROTO_MAJOR)
		return answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "unsupported protocol version");
	if (rq->env.flags & (PROTO_ENV_ENCRYPTED | PROTO_ENV_COMPRESSED))
		return answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                    "encrypted or compressed messages need a session");

	op_fn fn = op_lookup(rq->msg.hdr.opcode);
	if (!fn)
		return answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED, "unknown operation");

	bool own_snapshot = !w->in_batch && !w->wtxn;
	if (own_snapshot && store_txn_renew(w->rtxn))
		return answer_error(rq, PROTO_RC_SERVER_BUSY, "storage unavailable");
	if (own_snapshot)
		w->in_batch = true;
	/* Session setup, terminate, and requests in a session first (node/session.h). */
	int ret = node_session_request(rq);
	if (!ret && !w->deferred)
		ret = fn(rq);
	if (own_snapshot)
		node_worker_end(w);
	return ret;
}
