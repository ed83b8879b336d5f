/*
 * admin.c - administration: challenge-response, rights, and the write
 * operations (see admin.h).
 */
#include "node/admin.h"
#include "node/repl_ops.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verify.h"
#include "proto/handle.h"
#include "node/identity.h"
#include "proto/record.h"
#include "node/template.h"
#include "proto/admin.h"
#include "proto/special.h"

/* Messages the reference sends, kept byte for byte. */
static const char MSG_BAD_SESSION[] = "Invalid session id or session time out. Please try again.";
static const char MSG_NOT_HERE[] = "That naming authority doesn't live here";

enum {
	NONCE_LEN = 16,
	VLIST_DEPTH = 8,     /* how deep HS_VLIST groups nest */
	VLIST_LOOKUPS = 256, /* records read per authorisation, whatever the graph */
	MINT_TRIES = 8,
};

/* A challenged request, waiting for its op 200. */
struct pending {
	uint32_t session_id; /* 0: free slot */
	uint32_t expires;
	uint8_t nonce[NONCE_LEN];
	uint8_t hash;
	uint8_t digest[PROTO_DIGEST_MAX];
	uint8_t *req; /* envelope + message, owned */
	size_t len;
	uint8_t minor;
};

struct server_admin {
	char *handle;
	uint32_t index;
};

struct node_admin {
	pthread_mutex_t lock;
	struct pending *slots;
	size_t nslots;
	uint32_t max_auth_time;
	struct server_admin *admins;
	size_t nadmins;
};

static int default_random(uint8_t *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? IDN_OK : IDN_ECRYPTO;
}

/* Parses "300:0.NA/88.1000". */
static int parse_admin(const char *s, struct server_admin *a)
{
	char *end;
	unsigned long idx = strtoul(s, &end, 10);
	if (end == s || *end != ':' || !end[1] || !strchr(end + 1, '/') || idx > UINT32_MAX)
		return IDN_ECONFIG;
	a->index = (uint32_t)idx;
	a->handle = strdup(end + 1);
	return a->handle ? IDN_OK : IDN_ENOMEM;
}

int node_admin_new(const node_config *cfg, node_admin **out)
{
	node_admin *a = calloc(1, sizeof(*a));
	if (!a)
		return IDN_ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->max_auth_time = cfg->max_auth_time ? cfg->max_auth_time : 60;
	a->nslots = cfg->max_pending_auth ? cfg->max_pending_auth : 4096;
	a->slots = calloc(a->nslots, sizeof(*a->slots));
	a->admins = calloc(cfg->nserver_admins + 1, sizeof(*a->admins));
	if (!a->slots || !a->admins) {
		node_admin_free(a);
		return IDN_ENOMEM;
	}
	for (size_t i = 0; i < cfg->nserver_admins; i++) {
		int ret = parse_admin(cfg->server_admins[i], &a->admins[i]);
		if (ret) {
			node_admin_free(a);
			return ret;
		}
		a->nadmins++;
	}
	*out = a;
	return IDN_OK;
}

void node_admin_free(node_admin *a)
{
	if (!a)
		return;
	for (size_t i = 0; a->slots && i < a->nslots; i++)
		free(a->slots[i].req);
	for (size_t i = 0; a->admins && i < a->nadmins; i++)
		free(a->admins[i].handle);
	free(a->slots);
	free(a->admins);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* ---- the pending table ---- */

/* Holds p (taking its req buffer); IDN_EBUSY when every slot is live. */
static int pending_put(node_admin *a, uint32_t now, struct pending *p)
{
	int ret = IDN_EBUSY;
	pthread_mutex_lock(&a->lock);
	struct pending *free_slot = NULL;
	for (size_t i = 0; i < a->nslots; i++) {
		struct pending *s = &a->slots[i];
		if (s->session_id && (int32_t)(now - s->expires) > 0) {
			free(s->req);
			memset(s, 0, sizeof(*s));
		}
		if (!s->session_id && !free_slot)
			free_slot = s;
		if (s->session_id == p->session_id) {
			ret = IDN_EEXIST; /* an id collision: the caller draws again */
			goto out;
		}
	}
	if (free_slot) {
		*free_slot = *p;
		ret = IDN_OK;
	}
out:
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* Takes the request held under session_id out of the table (once). */
static int pending_take(node_admin *a, uint32_t now, uint32_t session_id, struct pending *out)
{
	int ret = IDN_ENOTFOUND;
	if (session_id == 0)
		return ret;
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->nslots; i++) {
		struct pending *s = &a->slots[i];
		if (s->session_id != session_id)
			continue;
		if ((int32_t)(now - s->expires) > 0) {
			free(s->req);
			ret = IDN_ETIMEOUT;
		} else {
			*out = *s;
			ret = IDN_OK;
		}
		memset(s, 0, sizeof(*s));
		break;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* ---- early checks and the challenge ---- */

bool node_admin_is_op(uint32_t op)
{
	switch (op) {
	case PROTO_OP_CREATE_HANDLE:
	case PROTO_OP_DELETE_HANDLE:
	case PROTO_OP_ADD_VALUE:
	case PROTO_OP_REMOVE_VALUE:
	case PROTO_OP_MODIFY_VALUE:
	case PROTO_OP_LIST_HANDLES:
	case PROTO_OP_HOME_NA:
	case PROTO_OP_UNHOME_NA:
	case PROTO_OP_LIST_HOMED_NAS:
	case PROTO_OP_GET_NEXT_TXN_ID:
	case PROTO_OP_RETRIEVE_TXN_LOG:
	case PROTO_OP_DUMP_HANDLES:
		return true;
	default:
		return false;
	}
}

static int prefix_homed(req *rq, store_txn *t, idn_slice prefix)
{
	uint8_t norm[HANDLE_KEY_MAX];
	int n = handle_prefix_norm(prefix, norm, sizeof(norm));
	if (n < 0)
		return 0;
	return store_is_homed(t, idn_slice_of(norm, (size_t)n));
}

/*
 * The handle an op acts on, as the request names it; 0 when it names none
 * (list homed). A negative idn_err for a malformed body.
 */
static int request_handle(const proto_msg *m, idn_slice *h)
{
	switch (m->hdr.opcode) {
	case PROTO_OP_CREATE_HANDLE:
	case PROTO_OP_ADD_VALUE:
	case PROTO_OP_MODIFY_VALUE: {
		proto_values_req vr;
		int ret = proto_values_req_decode(m->body, &vr);
		*h = vr.handle;
		return ret ? ret : 1;
	}
	case PROTO_OP_REMOVE_VALUE: {
		proto_remove_req r;
		int ret = proto_remove_req_decode(m->body, &r);
		*h = r.handle;
		return ret ? ret : 1;
	}
	case PROTO_OP_LIST_HOMED_NAS:
	case PROTO_OP_GET_NEXT_TXN_ID: /* replication: the whole store, no handle */
	case PROTO_OP_RETRIEVE_TXN_LOG:
	case PROTO_OP_DUMP_HANDLES:
		*h = (idn_slice){0};
		return 0;
	default: {
		int ret = proto_handle_req_decode(m->body, h);
		return ret ? ret : 1;
	}
	}
}

/*
 * The index checks the reference makes before any challenge: every index
 * positive, none twice. Returns 0 or the answer.
 */
static int check_indexes(req *rq)
{
	proto_values_req vr;
	if (proto_values_req_decode(rq->msg.body, &vr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	uint32_t dpos = UINT32_MAX, didx = 0, npos = UINT32_MAX, scratch[512];
	/*
	 * Past 256 values the sort needs a heap scratch: the quadratic fallback
	 * costs ~0.5 s of this worker for one unauthenticated message of ~10000
	 * values. (nvalues is bounded by the message size, so this is < 100 KB.)
	 */
	size_t room = sizeof(scratch) / sizeof(scratch[0]);
	uint32_t *big =
	    vr.nvalues > room / 2 ? malloc((size_t)vr.nvalues * 2 * sizeof(*big)) : NULL;
	if (big)
		room = (size_t)vr.nvalues * 2;
	int dup =
	    proto_values_find_dup(vr.values, vr.nvalues, big ? big : scratch, room, &dpos, &didx);
	free(big);
	if (dup < 0)
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed values");
	if (!dup)
		dpos = UINT32_MAX;
	wire_rd c = wire_rd_init(vr.values.p, vr.values.len);
	int32_t bad = 0;
	for (uint32_t i = 0; i < vr.nvalues && npos == UINT32_MAX; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		if ((int32_t)v.index <= 0) {
			npos = i;
			bad = (int32_t)v.index;
		}
	}
	char msg[64];
	if (npos < dpos) {
		snprintf(msg, sizeof(msg), "Invalid index %d: value indexes must be positive", bad);
		return node_answer_error(rq, PROTO_RC_INVALID_VALUE, msg);
	}
	if (dpos != UINT32_MAX) {
		snprintf(msg, sizeof(msg), "Index conflict for %u", didx);
		return node_answer_error(rq, PROTO_RC_VALUE_ALREADY_EXISTS, msg);
	}
	return 0;
}

static int run_as_caller(req *rq);
static bool op_writes(uint32_t opcode);

int node_admin_request(req *rq)
{
	node *n = rq->w->node;
	node_admin *a = n->admin;
	idn_slice h;
	/* A mirror's store follows its primary: a write here would be lost or diverge. */
	if (n->cfg.mirror_of && op_writes(rq->msg.hdr.opcode)) {
		char msg[320];
		snprintf(msg, sizeof(msg), "this node is a mirror of %s; send writes there",
		         n->cfg.mirror_of);
		return node_answer_error(rq, PROTO_RC_SERVER_BACKUP, msg);
	}
	int has = request_handle(&rq->msg, &h);
	if (has < 0)
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	if (has) {
		if (!handle_utf8_valid(h))
			return node_answer_error(rq, PROTO_RC_INVALID_HANDLE,
			                         "Invalid UTF8 encoding");
		if (h.len > PROTO_HANDLE_MAX || memchr(h.p, 0, h.len))
			return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
	}
	uint32_t op = rq->msg.hdr.opcode;
	if (op == PROTO_OP_CREATE_HANDLE || op == PROTO_OP_ADD_VALUE ||
	    op == PROTO_OP_MODIFY_VALUE) {
		int ret = check_indexes(rq);
		if (ret)
			return ret;
	}
	/* Not ours: say so before asking anyone to prove who they are. */
	if (has && op != PROTO_OP_HOME_NA && op != PROTO_OP_UNHOME_NA) {
		idn_slice prefix;
		handle_parts parts;
		if (op == PROTO_OP_LIST_HANDLES) {
			if (handle_na_prefix(h, &prefix))
				return node_answer_error(
				    rq, PROTO_RC_INVALID_HANDLE,
				    "list handles needs a prefix handle 0.NA/<prefix>");
		} else {
			if (handle_split(h, &parts) || parts.prefix.len == 0)
				return node_answer_error(rq, PROTO_RC_INVALID_HANDLE,
				                         "invalid handle: no prefix/suffix");
			prefix = parts.prefix;
		}
		int homed = prefix_homed(rq, node_rtxn(rq->w), prefix);
		if (homed < 0)
			return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
		if (!homed)
			return node_answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
	}

	/* Authenticated by the caller (node_worker_act_as): no challenge. */
	if (rq->w->as_handle.len)
		return run_as_caller(rq);

	/* The challenge: hold the request, send a nonce. */
	int (*rnd)(uint8_t *, size_t) = n->cfg.random ? n->cfg.random : default_random;
	uint32_t now = n->cfg.clock();
	struct pending p = {.minor = rq->minor, .expires = now + a->max_auth_time};
	p.hash = (uint8_t)proto_digest_alg(PROTO_MAJOR, rq->minor);
	if (proto_digest(p.hash, rq->msg.hb.p, rq->msg.hb.len, p.digest) || rnd(p.nonce, NONCE_LEN))
		return node_answer_error(rq, PROTO_RC_ERROR, "cannot make a challenge");
	p.len = PROTO_ENV_LEN + rq->env.msg_len;
	p.req = malloc(p.len);
	if (!p.req)
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
	memcpy(p.req, rq->msg.hb.p - PROTO_ENV_LEN, p.len);
	int ret = IDN_EEXIST;
	for (int tries = 0; tries < 8 && ret == IDN_EEXIST; tries++) {
		uint8_t sid[4];
		if (rnd(sid, sizeof(sid)))
			break;
		/* Positive and non-zero: Java clients keep it in a signed int. */
		p.session_id = idn_be32(sid) & 0x7fffffff;
		ret = p.session_id ? pending_put(a, now, &p) : IDN_EEXIST;
	}
	if (ret) {
		free(p.req);
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY,
		                         "too many authentications in progress, try again later");
	}
	rq->env.session_id = p.session_id;
	rq->msg.hdr.flags |= PROTO_F_RD; /* a 402 always carries the request digest */
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_AUTHENTICATION_NEEDED);
	wire_put_lbytes(&b.w, p.nonce, NONCE_LEN);
	return node_answer_end(rq, &b);
}

void node_worker_act_as(node_worker *w, idn_slice handle, uint32_t index)
{
	w->as_handle = handle;
	w->as_index = index;
}

/* ---- authorisation ---- */

/* One authorisation: who asks, in which transaction, with a lookup budget. */
typedef struct actx {
	req *rq;
	node_admin *adm;
	store_txn *t;
	idn_slice id_handle;
	uint32_t id_index;
	uint8_t id_key[HANDLE_KEY_MAX];
	int id_klen;
	unsigned lookups;
	bool commit; /* set by an op that wrote to t */
	uint32_t now;
} actx;

static bool case_sens(const actx *c)
{
	return c->rq->w->node->cfg.case_sensitive;
}

/* Reads the record of handle h in c->t. 1 found, 0 not, negative error. */
static int read_record(actx *c, idn_slice h, record *r)
{
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(h, case_sens(c), key);
	if (klen < 0)
		return 0;
	idn_slice raw;
	int ret = store_get(c->t, idn_slice_of(key, (size_t)klen), &raw);
	if (ret == IDN_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	return record_parse(raw, r) ? IDN_ESTORE : 1;
}

static bool same_handle(actx *c, idn_slice h)
{
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(h, case_sens(c), key);
	return klen >= 0 && klen == c->id_klen && !memcmp(key, c->id_key, (size_t)klen);
}

/*
 * Is the identity the admin reference h:index, directly or through HS_VLIST
 * groups at it? Index 0 means any index of h. 1 yes, 0 no, negative error.
 * Cycles end at the depth bound; the lookup budget bounds the work.
 */
static int is_member(actx *c, idn_slice h, uint32_t index, int depth)
{
	if (same_handle(c, h) && (index == 0 || index == c->id_index))
		return 1;
	if (depth >= VLIST_DEPTH || ++c->lookups > VLIST_LOOKUPS)
		return 0;
	record r;
	int found = read_record(c, h, &r);
	if (found <= 0)
		return found;
	wire_rd vc = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&vc, &v);
		if (vc.err)
			return IDN_ESTORE;
		if ((index && v.index != index) || !idn_slice_eq(v.type, IDN_SLICE("HS_VLIST")))
			continue;
		proto_vlist vl;
		if (proto_vlist_decode(v.data, &vl))
			continue;
		wire_rd rc = wire_rd_init(vl.refs.p, vl.refs.len);
		proto_ref ref;
		while (proto_ref_next(&rc, &ref) == 1) {
			int m = is_member(c, ref.handle, ref.index, depth + 1);
			if (m)
				return m;
		}
	}
	return 0;
}

static int is_server_admin(actx *c)
{
	for (size_t i = 0; i < c->adm->nadmins; i++) {
		const struct server_admin *sa = &c->adm->admins[i];
		int m = is_member(c, idn_slice_of(sa->handle, strlen(sa->handle)), sa->index, 0);
		if (m)
			return m;
	}
	return 0;
}

/*
 * The rights the identity holds through the HS_ADMIN values of record r
 * (OR of every HS_ADMIN naming it); *admin set when at least one names it.
 */
static int rights_in(actx *c, const record *r, uint16_t *rights, bool *admin)
{
	wire_rd vc = wire_rd_init(r->values.p, r->values.len);
	for (uint32_t i = 0; i < r->nvalues; i++) {
		proto_value v;
		proto_value_get(&vc, &v);
		if (vc.err)
			return IDN_ESTORE;
		proto_admin ad;
		if (!idn_slice_eq(v.type, IDN_SLICE("HS_ADMIN")) || proto_admin_decode(v.data, &ad))
			continue;
		int m = is_member(c, ad.handle, ad.index, 0);
		if (m < 0)
			return m;
		if (m) {
			*admin = true;
			*rights |= ad.rights;
		}
	}
	return IDN_OK;
}

static const struct {
	uint16_t bit;
	const char *name;
} right_names[] = {
    {PROTO_ADM_ADD_HANDLE, "add handle"},
    {PROTO_ADM_DELETE_HANDLE, "delete handle"},
    {PROTO_ADM_ADD_DERIVED_PREFIX, "add derived prefix"},
    {PROTO_ADM_DELETE_DERIVED_PREFIX, "delete derived prefix"},
    {PROTO_ADM_MODIFY_VALUE, "modify value"},
    {PROTO_ADM_REMOVE_VALUE, "remove value"},
    {PROTO_ADM_ADD_VALUE, "add value"},
    {PROTO_ADM_MODIFY_ADMIN, "modify admin"},
    {PROTO_ADM_REMOVE_ADMIN, "remove admin"},
    {PROTO_ADM_ADD_ADMIN, "add admin"},
    {PROTO_ADM_READ_VALUE, "read value"},
    {PROTO_ADM_LIST_HANDLES, "list handles"},
};

/*
 * Checks that the identity holds every bit of `need` through the HS_ADMIN
 * values of `own` (the handle's record, may be NULL) or of `prefix` (the
 * 0.NA/<prefix> record, may be NULL), or is a node-wide admin. Returns 0
 * when it does, else the answer: 400 when no HS_ADMIN names it, 401 naming
 * the first missing right.
 */
static int authorize(actx *c, const record *own, const record *prefix, uint16_t need,
                     idn_slice what)
{
	int sa = is_server_admin(c);
	if (sa < 0)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	if (sa)
		return 0;
	uint16_t rights = 0;
	bool admin = false;
	int ret = IDN_OK;
	if (own)
		ret = rights_in(c, own, &rights, &admin);
	if (!ret && prefix)
		ret = rights_in(c, prefix, &rights, &admin);
	if (ret)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	if (!admin)
		return node_answer_error(c->rq, PROTO_RC_INVALID_ADMIN, "");
	if ((rights & need) == need)
		return 0;
	const char *missing = "?";
	for (size_t i = 0; i < sizeof(right_names) / sizeof(right_names[0]); i++)
		if ((need & right_names[i].bit) && !(rights & right_names[i].bit)) {
			missing = right_names[i].name;
			break;
		}
	char msg[PROTO_HANDLE_MAX * 2 + 128];
	snprintf(msg, sizeof(msg), "%u:%.*s lacks the \"%s\" right on %.*s", c->id_index,
	         (int)c->id_handle.len, (const char *)c->id_handle.p, missing, (int)what.len,
	         (const char *)what.p);
	return node_answer_error(c->rq, PROTO_RC_INSUFFICIENT_PERMISSIONS, msg);
}

/* Node-wide operations (home, unhome, list homed): server admins only. */
static int authorize_server(actx *c)
{
	int sa = is_server_admin(c);
	if (sa < 0)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	return sa ? 0 : node_answer_error(c->rq, PROTO_RC_INVALID_ADMIN, "");
}

/* The record of 0.NA/<prefix of h>: 1 found, 0 not, negative error. */
static int read_prefix_record(actx *c, idn_slice h, record *r)
{
	handle_parts parts;
	char name[PROTO_HANDLE_MAX + 8];
	if (handle_split(h, &parts))
		return 0;
	int n = snprintf(name, sizeof(name), "0.NA/%.*s", (int)parts.prefix.len,
	                 (const char *)parts.prefix.p);
	if (n < 0 || (size_t)n >= sizeof(name))
		return 0;
	return read_record(c, idn_slice_of(name, (size_t)n), r);
}

/* ---- building records ---- */

/* Decodes a record's values into a malloc'd array (of at least `extra` more slots). */
static proto_value *values_of(idn_slice raw, uint32_t n, uint32_t extra)
{
	proto_value *v = calloc((size_t)n + extra + 1, sizeof(*v));
	if (!v)
		return NULL;
	wire_rd c = wire_rd_init(raw.p, raw.len);
	for (uint32_t i = 0; i < n; i++)
		proto_value_get(&c, &v[i]);
	if (c.err) {
		free(v);
		return NULL;
	}
	return v;
}

/* Checks the data of the value types the node itself interprets. */
static int value_check(req *rq, const proto_value *v)
{
	char msg[96];
	proto_admin ad;
	proto_vlist vl;
	if (idn_slice_eq(v->type, IDN_SLICE("HS_ADMIN")) && proto_admin_decode(v->data, &ad)) {
		snprintf(msg, sizeof(msg), "invalid HS_ADMIN data at index %u", v->index);
		return node_answer_error(rq, PROTO_RC_INVALID_VALUE, msg);
	}
	if (idn_slice_eq(v->type, IDN_SLICE("HS_VLIST")) && proto_vlist_decode(v->data, &vl)) {
		snprintf(msg, sizeof(msg), "invalid HS_VLIST data at index %u", v->index);
		return node_answer_error(rq, PROTO_RC_INVALID_VALUE, msg);
	}
	/* A template definition is checked when written, not when first used. */
	if (idn_slice_eq(v->type, IDN_SLICE(TMPL_DEF_TYPE))) {
		char why[256], full[320];
		tmpl *t = NULL;
		int ret = tmpl_parse(v->data, &t, why, sizeof(why));
		tmpl_free(t);
		if (ret == IDN_ENOMEM)
			return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
		if (ret) {
			snprintf(full, sizeof(full), "invalid " TMPL_DEF_TYPE " at index %u: %s",
			         v->index, why);
			return node_answer_error(rq, PROTO_RC_INVALID_VALUE, full);
		}
	}
	return 0;
}

/*
 * When the values name a template (TEMPLATE at index 1001), checks their
 * fields (index 2000 and up) against its definition, read from this node's
 * store in the write transaction. Returns 0 or the answer (202 naming the
 * field and the rule).
 */
static int template_check(actx *c, const proto_value *vals, uint32_t n)
{
	const proto_value *ref = NULL;
	for (uint32_t i = 0; i < n; i++)
		if (vals[i].index == TMPL_INDEX &&
		    idn_slice_eq(vals[i].type, IDN_SLICE(TMPL_REF_TYPE)))
			ref = &vals[i];
	if (!ref)
		return 0;
	char msg[PROTO_HANDLE_MAX + 400], why[320];
	int th = ref->data.len > PROTO_HANDLE_MAX ? PROTO_HANDLE_MAX : (int)ref->data.len;
	const char *tn = (const char *)ref->data.p;
	record r = {0};
	int found = read_record(c, ref->data, &r);
	if (found < 0)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	idn_slice def = {0};
	wire_rd vc = wire_rd_init(r.values.p, r.values.len); /* empty unless found */
	for (uint32_t i = 0; found && i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&vc, &v);
		if (!vc.err && idn_slice_eq(v.type, IDN_SLICE(TMPL_DEF_TYPE)))
			def = v.data;
	}
	if (!found || !def.p) {
		snprintf(msg, sizeof(msg),
		         "TEMPLATE (index %d) names %.*s, which is not a template on this node (no "
		         "%s value)",
		         TMPL_INDEX, th, tn, TMPL_DEF_TYPE);
		return node_answer_error(c->rq, PROTO_RC_INVALID_VALUE, msg);
	}
	tmpl *t = NULL;
	int ret = tmpl_parse(def, &t, why, sizeof(why));
	if (!ret)
		ret = tmpl_check(t, vals, n, why, sizeof(why));
	tmpl_free(t);
	if (ret == IDN_ENOMEM)
		return node_answer_error(c->rq, PROTO_RC_SERVER_BUSY, "out of memory");
	if (ret) {
		snprintf(msg, sizeof(msg), "template %.*s: %s", th, tn, why);
		return node_answer_error(c->rq, PROTO_RC_INVALID_VALUE, msg);
	}
	return 0;
}

/*
 * Stores vals[0..n) as the record of key (the answer on failure, 0 on
 * success). Every write goes through here, so every record written is
 * checked against the template it names.
 */
static int put_record(actx *c, idn_slice key, const proto_value *vals, uint32_t n)
{
	int tret = template_check(c, vals, n);
	if (tret)
		return tret;
	size_t size = record_size(vals, n);
	/* A record must still fit in a resolution answer. */
	if (size + PROTO_HANDLE_MAX + 1024 > PROTO_MSG_MAX)
		return node_answer_error(c->rq, PROTO_RC_INVALID_VALUE,
		                         "record too large: the values would not fit in an answer");
	uint8_t *buf = malloc(size);
	if (!buf)
		return node_answer_error(c->rq, PROTO_RC_SERVER_BUSY, "out of memory");
	int len = record_build(vals, n, buf, size);
	int ret = len < 0 ? len : store_put(c->t, key, idn_slice_of(buf, (size_t)len), 0);
	free(buf);
	if (ret)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error: write failed");
	c->commit = true;
	return 0;
}

static int answer_ok(req *rq)
{
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	return node_answer_end(rq, &b);
}

static bool is_admin_type(const proto_value *v)
{
	return idn_slice_eq(v->type, IDN_SLICE("HS_ADMIN"));
}

/* ---- the operations (run after authentication) ---- */

static int op_create(actx *c)
{
	req *rq = c->rq;
	proto_values_req vr;
	if (proto_values_req_decode(rq->msg.body, &vr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	record pr;
	int pf = read_prefix_record(c, vr.handle, &pr);
	if (pf < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");

	/* MINT: the server picks the suffix, appended to what the client sent. */
	char minted[PROTO_HANDLE_MAX + 40];
	idn_slice h = vr.handle;
	uint8_t key[HANDLE_KEY_MAX];
	int klen = 0;
	idn_slice old;
	int ex = IDN_ENOTFOUND;
	for (int i = 0; i < ((rq->msg.hdr.flags & PROTO_F_MINT) ? MINT_TRIES : 1); i++) {
		if (rq->msg.hdr.flags & PROTO_F_MINT) {
			uint8_t r[8];
			int (*rnd)(uint8_t *, size_t) =
			    rq->w->node->cfg.random ? rq->w->node->cfg.random : default_random;
			if (rnd(r, sizeof(r)))
				return node_answer_error(rq, PROTO_RC_ERROR, "no randomness");
			int n =
			    snprintf(minted, sizeof(minted), "%.*s%02x%02x%02x%02x%02x%02x%02x%02x",
			             (int)vr.handle.len, (const char *)vr.handle.p, r[0], r[1],
			             r[2], r[3], r[4], r[5], r[6], r[7]);
			h = idn_slice_of(minted, (size_t)n);
		}
		klen = handle_key(h, case_sens(c), key);
		if (klen < 0)
			return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
		ex = store_get(c->t, idn_slice_of(key, (size_t)klen), &old);
		if (ex != 0)
			break;
	}
	if (ex && ex != IDN_ENOTFOUND)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	bool exists = ex == 0;
	if (exists && !(rq->msg.hdr.flags & PROTO_F_OVRW))
		return node_answer_error(rq, PROTO_RC_HANDLE_ALREADY_EXISTS, "");

	record own;
	if (exists && record_parse(old, &own))
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error: damaged record");
	/* Overwriting replaces a handle: that takes the right to delete it too. */
	uint16_t need = PROTO_ADM_ADD_HANDLE | (exists ? PROTO_ADM_DELETE_HANDLE : 0);
	int ret = authorize(c, exists ? &own : NULL, pf > 0 ? &pr : NULL, need, h);
	if (ret)
		return ret;

	proto_value *vals = values_of(vr.values, vr.nvalues, 0);
	if (!vals)
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed values");
	for (uint32_t i = 0; i < vr.nvalues && !ret; i++) {
		vals[i].timestamp = c->now;
		ret = value_check(rq, &vals[i]);
	}
	if (!ret)
		ret = put_record(c, idn_slice_of(key, (size_t)klen), vals, vr.nvalues);
	free(vals);
	if (ret)
		return ret;
	if (!(rq->msg.hdr.flags & PROTO_F_MINT))
		return answer_ok(rq);
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	proto_create_resp_encode(&b.w, h);
	return node_answer_end(rq, &b);
}

/* Reads the record a value op acts on; the answer (100) when there is none. */
static int load_target(actx *c, idn_slice h, uint8_t *key, int *klen, record *r)
{
	*klen = handle_key(h, case_sens(c), key);
	if (*klen < 0)
		return node_answer_error(c->rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
	idn_slice raw;
	int ret = store_get(c->t, idn_slice_of(key, (size_t)*klen), &raw);
	if (ret == IDN_ENOTFOUND)
		return node_answer_error(c->rq, PROTO_RC_HANDLE_NOT_FOUND, "");
	if (ret || record_parse(raw, r))
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	return 0;
}

static int op_delete(actx *c)
{
	req *rq = c->rq;
	idn_slice h;
	if (proto_handle_req_decode(rq->msg.body, &h))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	uint8_t key[HANDLE_KEY_MAX];
	int klen;
	record own, pr;
	int ret = load_target(c, h, key, &klen, &own);
	if (ret)
		return ret;
	int pf = read_prefix_record(c, h, &pr);
	if (pf < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	if ((ret = authorize(c, &own, pf > 0 ? &pr : NULL, PROTO_ADM_DELETE_HANDLE, h)))
		return ret;
	if (store_del(c->t, idn_slice_of(key, (size_t)klen)))
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error: delete failed");
	c->commit = true;
	return answer_ok(rq);
}

static int op_add(actx *c)
{
	req *rq = c->rq;
	proto_values_req vr;
	if (proto_values_req_decode(rq->msg.body, &vr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	uint8_t key[HANDLE_KEY_MAX];
	int klen;
	record own;
	int ret = load_target(c, vr.handle, key, &klen, &own);
	if (ret)
		return ret;
	proto_value *vals = values_of(own.values, own.nvalues, vr.nvalues);
	proto_value *add = values_of(vr.values, vr.nvalues, 0);
	if (!vals || !add) {
		ret = node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed values");
		goto out;
	}
	/* As the reference: an index already there is refused before the rights are checked. */
	uint16_t need = 0;
	for (uint32_t i = 0; i < vr.nvalues; i++) {
		for (uint32_t j = 0; j < own.nvalues; j++)
			if (vals[j].index == add[i].index) {
				char msg[64];
				snprintf(msg, sizeof(msg), "Index conflict for %u", add[i].index);
				ret = node_answer_error(rq, PROTO_RC_VALUE_ALREADY_EXISTS, msg);
				goto out;
			}
		need |= is_admin_type(&add[i]) ? PROTO_ADM_ADD_ADMIN : PROTO_ADM_ADD_VALUE;
	}
	if ((ret = authorize(c, &own, NULL, need, vr.handle)))
		goto out;
	for (uint32_t i = 0; i < vr.nvalues && !ret; i++) {
		add[i].timestamp = c->now;
		ret = value_check(rq, &add[i]);
		vals[own.nvalues + i] = add[i];
	}
	if (!ret)
		ret =
		    put_record(c, idn_slice_of(key, (size_t)klen), vals, own.nvalues + vr.nvalues);
	if (!ret)
		ret = answer_ok(rq);
out:
	free(vals);
	free(add);
	return ret;
}

static int op_modify(actx *c)
{
	req *rq = c->rq;
	proto_values_req vr;
	if (proto_values_req_decode(rq->msg.body, &vr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	uint8_t key[HANDLE_KEY_MAX];
	int klen;
	record own;
	int ret = load_target(c, vr.handle, key, &klen, &own);
	if (ret)
		return ret;
	proto_value *vals = values_of(own.values, own.nvalues, 0);
	proto_value *mod = values_of(vr.values, vr.nvalues, 0);
	uint32_t *at = calloc((size_t)vr.nvalues + 1, sizeof(*at));
	if (!vals || !mod || !at) {
		ret = node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed values");
		goto out;
	}
	uint16_t need = 0;
	for (uint32_t i = 0; i < vr.nvalues; i++) {
		at[i] = UINT32_MAX;
		for (uint32_t j = 0; j < own.nvalues; j++)
			if (vals[j].index == mod[i].index)
				at[i] = j;
		if (at[i] == UINT32_MAX)
			continue;
		/* Turning a value into an admin, or an admin into anything, is an admin change. */
		need |= is_admin_type(&mod[i]) || is_admin_type(&vals[at[i]])
		            ? PROTO_ADM_MODIFY_ADMIN
		            : PROTO_ADM_MODIFY_VALUE;
	}
	if ((ret = authorize(c, &own, NULL, need ? need : PROTO_ADM_MODIFY_VALUE, vr.handle)))
		goto out;
	for (uint32_t i = 0; i < vr.nvalues && !ret; i++) {
		if (at[i] == UINT32_MAX) {
			char msg[64];
			snprintf(msg, sizeof(msg), "no value at index %u to modify", mod[i].index);
			ret = node_answer_error(rq, PROTO_RC_VALUE_NOT_FOUND, msg);
			break;
		}
		mod[i].timestamp = c->now;
		ret = value_check(rq, &mod[i]);
		vals[at[i]] = mod[i];
	}
	if (!ret)
		ret = put_record(c, idn_slice_of(key, (size_t)klen), vals, own.nvalues);
	if (!ret)
		ret = answer_ok(rq);
out:
	free(vals);
	free(mod);
	free(at);
	return ret;
}

static int op_remove(actx *c)
{
	req *rq = c->rq;
	proto_remove_req rr;
	if (proto_remove_req_decode(rq->msg.body, &rr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	uint8_t key[HANDLE_KEY_MAX];
	int klen;
	record own;
	int ret = load_target(c, rr.handle, key, &klen, &own);
	if (ret)
		return ret;
	proto_value *vals = values_of(own.values, own.nvalues, 0);
	if (!vals)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error: damaged record");
	uint16_t need = 0;
	uint32_t missing = 0;
	bool any_missing = false;
	for (uint32_t i = 0; i < rr.nindexes; i++) {
		uint32_t idx = proto_index_at(rr.indexes, i);
		bool found = false;
		for (uint32_t j = 0; j < own.nvalues; j++)
			if (vals[j].index == idx) {
				found = true;
				need |= is_admin_type(&vals[j]) ? PROTO_ADM_REMOVE_ADMIN
				                                : PROTO_ADM_REMOVE_VALUE;
			}
		if (!found && !any_missing) {
			any_missing = true;
			missing = idx;
		}
	}
	if ((ret = authorize(c, &own, NULL, need ? need : PROTO_ADM_REMOVE_VALUE, rr.handle)))
		goto out;
	if (any_missing) {
		char msg[64];
		snprintf(msg, sizeof(msg), "no value at index %u to remove", missing);
		ret = node_answer_error(rq, PROTO_RC_VALUE_NOT_FOUND, msg);
		goto out;
	}
	uint32_t n = 0;
	for (uint32_t j = 0; j < own.nvalues; j++) {
		bool drop = false;
		for (uint32_t i = 0; i < rr.nindexes && !drop; i++)
			drop = vals[j].index == proto_index_at(rr.indexes, i);
		if (!drop)
			vals[n++] = vals[j];
	}
	/* put_record checks the template: a required field cannot be removed. */
	ret = put_record(c, idn_slice_of(key, (size_t)klen), vals, n);
	if (!ret)
		ret = answer_ok(rq);
out:
	free(vals);
	return ret;
}

/*
 * A list answer (105, 302): int4 n + str names, written as the scan finds
 * them. Over TCP a list longer than one message goes out as several whole
 * messages back to back in the output buffer, each but the last with CN set
 * (as the reference streams it); the transport sends the concatenation.
 * Elsewhere (HTTP) it must fit one message. Either way the whole list must
 * fit the caller's buffer: a longer one is refused, never cut short.
 */
enum {
	LIST_MSG_MAX = 64 << 10,  /* bytes per list message: keeps each one cheap to buffer */
	LIST_RESERVE = 2048 + 64, /* room kept for the credential of a signed answer */
};

typedef struct list_acc {
	actx *c;
	proto_build b;
	uint8_t *base; /* the caller's buffer */
	size_t cap;    /* its size */
	size_t done;   /* bytes of finished messages at base */
	uint8_t *count;
	uint32_t n;
	bool multi;     /* several messages allowed */
	idn_slice want; /* key prefix "88.1000/" (list handles) */
	bool homed;     /* names are homed prefixes: "0.NA/" + key */
} list_acc;

static void list_msg_begin(list_acc *l)
{
	req *rq = l->c->rq;
	size_t left = l->cap - l->done;
	rq->out = l->base + l->done;
	/* One message of a stream is kept small; a lone message may be as large as any. */
	size_t max = PROTO_ENV_LEN + (l->multi ? LIST_MSG_MAX : PROTO_MSG_MAX);
	rq->cap = left < max ? left : max;
	node_answer_begin(rq, &l->b, PROTO_RC_SUCCESS);
	l->count = wire_put_raw(&l->b.w, 4);
	l->n = 0;
}

/* Finishes the message being written; `more` sets CN. Returns 0 or an idn_err. */
static int list_msg_end(list_acc *l, bool more)
{
	if (l->b.w.err || !l->count)
		return IDN_ESPACE;
	idn_put_be32(l->count, l->n);
	if (more)
		idn_put_be32(l->b.hdr + 8, idn_be32(l->b.hdr + 8) | PROTO_F_CN);
	int len = node_answer_end(l->c->rq, &l->b);
	if (len < 0)
		return len;
	l->done += (size_t)len;
	return IDN_OK;
}

static int list_put(list_acc *l, const char *pre, size_t prelen, idn_slice name)
{
	size_t need = 4 + prelen + name.len;
	if (wire_wr_left(&l->b.w) < need + LIST_RESERVE) {
		if (!l->multi || l->n == 0)
			return IDN_ESPACE;
		int ret = list_msg_end(l, true);
		if (ret)
			return ret;
		if (l->cap - l->done < PROTO_ENV_LEN + PROTO_HDR_LEN + 512 + need + LIST_RESERVE)
			return IDN_ESPACE;
		list_msg_begin(l);
	}
	wire_put_u32(&l->b.w, (uint32_t)(prelen + name.len));
	wire_put_data(&l->b.w, pre, prelen);
	wire_put_data(&l->b.w, name.p, name.len);
	l->n++;
	return l->b.w.err;
}

static int list_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	list_acc *l = arg;
	if (l->homed)
		return list_put(l, "0.NA/", 5, key);
	if (key.len < l->want.len || memcmp(key.p, l->want.p, l->want.len))
		return 0;
	return list_put(l, "", 0, key);
}

/* Runs scan (a store_scan or store_list_homed) into a list answer. */
static int list_answer(actx *c, list_acc *l, int (*scan)(list_acc *l), const char *toolong)
{
	req *rq = c->rq;
	l->c = c;
	l->base = rq->out;
	l->cap = rq->cap;
	l->multi = rq->transport == NODE_TCP;
	list_msg_begin(l);
	int ret = scan(l);
	if (!ret)
		ret = list_msg_end(l, false);
	rq->out = l->base;
	rq->cap = l->cap;
	if (ret == IDN_ESPACE)
		return node_answer_error(rq, PROTO_RC_ERROR, toolong);
	if (ret)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	return (int)l->done;
}

static int scan_handles(list_acc *l)
{
	return store_scan(l->c->t, l->want, list_cb, l);
}

static int scan_homed(list_acc *l)
{
	return store_list_homed(l->c->t, list_cb, l);
}

static int op_list_handles(actx *c)
{
	req *rq = c->rq;
	idn_slice h, prefix;
	if (proto_handle_req_decode(rq->msg.body, &h) || handle_na_prefix(h, &prefix))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	record pr;
	int pf = read_record(c, h, &pr);
	if (pf < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	int ret = authorize(c, NULL, pf > 0 ? &pr : NULL, PROTO_ADM_LIST_HANDLES, h);
	if (ret)
		return ret;
	uint8_t want[HANDLE_KEY_MAX];
	int n = handle_prefix_norm(prefix, want, sizeof(want) - 1);
	if (n < 0)
		return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid prefix");
	want[n++] = '/';
	list_acc l = {.want = idn_slice_of(want, (size_t)n)};
	return list_answer(c, &l, scan_handles,
	                   rq->transport == NODE_TCP
	                       ? "too many handles under this prefix for one answer buffer"
	                       : "too many handles under this prefix for one message: list "
	                         "over TCP");
}

/* The prefix a home/unhome names: "0.NA/88.100" or a bare "88.100". */
static int home_prefix(req *rq, uint8_t *norm, idn_slice *out)
{
	idn_slice h, prefix;
	if (proto_handle_req_decode(rq->msg.body, &h))
		return IDN_EINVAL;
	if (handle_na_prefix(h, &prefix))
		prefix = h;
	if (prefix.len == 0 || memchr(prefix.p, '/', prefix.len))
		return IDN_EINVAL;
	int n = handle_prefix_norm(prefix, norm, HANDLE_KEY_MAX);
	if (n < 0)
		return n;
	*out = idn_slice_of(norm, (size_t)n);
	return IDN_OK;
}

static int op_home(actx *c)
{
	uint8_t norm[HANDLE_KEY_MAX];
	idn_slice p;
	int ret = authorize_server(c);
	if (ret)
		return ret;
	if (home_prefix(c->rq, norm, &p))
		return node_answer_error(c->rq, PROTO_RC_INVALID_HANDLE, "expected 0.NA/<prefix>");
	if (c->rq->msg.hdr.opcode == PROTO_OP_HOME_NA)
		ret = store_home(c->t, p);
	else if ((ret = store_unhome(c->t, p)) == IDN_ENOTFOUND)
		return node_answer_error(c->rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
	if (ret)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	c->commit = true;
	return answer_ok(c->rq);
}

static int op_list_homed(actx *c)
{
	int ret = authorize_server(c);
	if (ret)
		return ret;
	list_acc l = {.homed = true};
	return list_answer(c, &l, scan_homed, "too many homed prefixes for one answer");
}

/* Replication (ops 1000-1002): for node-wide administrators only. */
static int op_repl(actx *c)
{
	int ret = authorize_server(c);
	if (ret)
		return ret;
	return node_repl_answer(c->rq, c->t);
}

static const struct admin_op {
	uint32_t opcode;
	int (*fn)(actx *c);
	bool writes;
} admin_ops[] = {
    {PROTO_OP_CREATE_HANDLE, op_create, true},
    {PROTO_OP_DELETE_HANDLE, op_delete, true},
    {PROTO_OP_ADD_VALUE, op_add, true},
    {PROTO_OP_REMOVE_VALUE, op_remove, true},
    {PROTO_OP_MODIFY_VALUE, op_modify, true},
    {PROTO_OP_LIST_HANDLES, op_list_handles, false},
    {PROTO_OP_HOME_NA, op_home, true},
    {PROTO_OP_UNHOME_NA, op_home, true},
    {PROTO_OP_LIST_HOMED_NAS, op_list_homed, false},
    {PROTO_OP_GET_NEXT_TXN_ID, op_repl, false},
    {PROTO_OP_RETRIEVE_TXN_LOG, op_repl, false},
    {PROTO_OP_DUMP_HANDLES, op_repl, false},
};

static bool op_writes(uint32_t opcode)
{
	for (size_t i = 0; i < sizeof(admin_ops) / sizeof(admin_ops[0]); i++)
		if (admin_ops[i].opcode == opcode)
			return admin_ops[i].writes;
	return false;
}

/*
 * The write txn of one request: with group commit, nested in the batch's
 * transaction (begun at its first write); else its own.
 */
static int write_begin(node_worker *w, store_txn **t)
{
	/* A thread must not hold its read snapshot while it starts a write txn. */
	node_worker_end(w);
	if (!w->group && !w->wtxn) /* (a batch's transaction still open: nest in it) */
		return store_txn_begin(w->node->store, 0, t);
	if (!w->wtxn) {
		int rc = store_txn_begin(w->node->store, 0, &w->wtxn);
		if (rc) {
			w->wtxn = NULL;
			return rc;
		}
	}
	return store_txn_nest(w->wtxn, t);
}

/* Runs an authenticated request: reads on the worker's snapshot, writes in one write txn. */
static int run_op(actx *c)
{
	const struct admin_op *op = NULL;
	for (size_t i = 0; i < sizeof(admin_ops) / sizeof(admin_ops[0]); i++)
		if (admin_ops[i].opcode == c->rq->msg.hdr.opcode)
			op = &admin_ops[i];
	if (!op)
		return node_answer_error(c->rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                         "unknown operation");
	node_worker *w = c->rq->w;
	if (!op->writes) {
		c->t = node_rtxn(w);
		return op->fn(c);
	}
	if (write_begin(w, &c->t))
		return node_answer_error(c->rq, PROTO_RC_SERVER_BUSY, "storage busy");
	int ret = op->fn(c);
	if (c->commit && ret > 0) {
		/*
		 * Durable before the answer goes out: only then is the success
		 * true. In a group this reaches the batch's transaction, and the
		 * answer waits for node_worker_commit().
		 */
		if (store_txn_commit(c->t))
			return node_answer_error(c->rq, PROTO_RC_ERROR,
			                         "storage error: the change was not saved");
	} else {
		store_txn_abort(c->t);
	}
	return ret;
}

static int run_as_caller(req *rq)
{
	node *n = rq->w->node;
	actx c = {.rq = rq,
	          .adm = n->admin,
	          .id_handle = rq->w->as_handle,
	          .id_index = rq->w->as_index,
	          .now = n->cfg.clock()};
	c.id_klen = handle_key(c.id_handle, n->cfg.case_sensitive, c.id_key);
	return run_op(&c);
}

/* ---- op 200 ---- */

/* Finds the identity's key value (type HS_PUBKEY / HS_SECKEY at index). */
static int identity_key(req *rq, const proto_chresp *cr, idn_slice type, idn_slice *data)
{
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(cr->handle, rq->w->node->cfg.case_sensitive, key);
	if (klen < 0)
		return IDN_ENOTFOUND;
	idn_slice raw;
	record r;
	if (store_get(node_rtxn(rq->w), idn_slice_of(key, (size_t)klen), &raw) ||
	    record_parse(raw, &r))
		return IDN_ENOTFOUND;
	wire_rd vc = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&vc, &v);
		if (vc.err)
			return IDN_ESTORE;
		if (v.index == cr->index && idn_slice_eq(v.type, type)) {
			*data = v.data;
			return IDN_OK;
		}
	}
	return IDN_ENOTFOUND;
}

/* node_identity_finish_fn of op 200: the held request runs as index:handle once verified. */
static int run_verified(req *held, const void *ctx, idn_slice handle, uint32_t index, int verdict,
                        const char *why)
{
	(void)ctx;
	/* A signature that does not verify gets the reference's empty 403 (x88). */
	if (verdict)
		return node_answer_error(held, PROTO_RC_AUTHENTICATION_FAILED,
		                         verdict == IDN_EMISMATCH ? "" : why);
	node *n = held->w->node;
	actx c = {.rq = held,
	          .adm = n->admin,
	          .id_handle = handle,
	          .id_index = index,
	          .now = n->cfg.clock()};
	c.id_klen = handle_key(handle, n->cfg.case_sensitive, c.id_key);
	return run_op(&c);
}

int node_admin_challenge_response(req *rq)
{
	node *n = rq->w->node;
	proto_chresp cr;
	if (proto_chresp_decode(rq->msg.body, &cr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR,
		                         "malformed challenge response");
	struct pending p;
	if (pending_take(n->admin, n->cfg.clock(), rq->env.session_id, &p))
		return node_answer_error(rq, PROTO_RC_SESSION_TIMEOUT, MSG_BAD_SESSION);
	/*
	 * From here on every answer, refusals included, is the answer to the held
	 * request: its opcode and flags, op 200's request id, session id 0.
	 */
	req held = {.w = rq->w,
	            .transport = rq->transport,
	            .out = rq->out,
	            .cap = rq->cap,
	            .minor = p.minor};
	if (proto_env_decode(p.req, p.len, &held.env) ||
	    proto_msg_decode(p.req + PROTO_ENV_LEN, p.len - PROTO_ENV_LEN, &held.msg)) {
		free(p.req);
		return node_answer_error(rq, PROTO_RC_ERROR, "held request lost");
	}
	held.env.request_id = rq->env.request_id;
	held.env.session_id = 0;
	idn_slice nonce = idn_slice_of(p.nonce, NONCE_LEN);
	idn_slice digest = idn_slice_of(p.digest, proto_digest_len(p.hash));
	int ret =
	    node_admin_check_chresp(rq, &held, &p.req, &cr, nonce, digest, run_verified, NULL, 0);
	free(p.req); /* NULL when the answer is built later (node/identity.h) */
	return ret;
}

int node_admin_check_chresp(req *rq, req *held, uint8_t **held_bytes, const proto_chresp *cr,
                            idn_slice nonce, idn_slice digest, node_identity_finish_fn finish,
                            const void *ctx, size_t ctxlen)
{
	bool pub = idn_slice_eq(cr->auth_type, IDN_SLICE("HS_PUBKEY"));
	if (!pub && !idn_slice_eq(cr->auth_type, IDN_SLICE("HS_SECKEY")))
		return finish(held, ctx, cr->handle, cr->index, IDN_EINVAL,
		              "unknown authentication type (HS_PUBKEY or HS_SECKEY)");
	/*
	 * Identities are looked up in this node's store first; one homed on
	 * another node is checked there (node/identity.h: resolution or op 201,
	 * off this worker's thread when the caller can answer later).
	 */
	idn_slice keydata;
	if (identity_key(rq, cr, pub ? IDN_SLICE("HS_PUBKEY") : IDN_SLICE("HS_SECKEY"), &keydata))
		return node_identity_check(rq, held, held_bytes, cr, nonce, digest, finish, ctx,
		                           ctxlen);
	int v = pub ? auth_verify_pubkey(keydata, cr->handle, nonce, digest, cr->signed_resp)
	            : auth_verify_seckey(keydata, nonce, digest, cr->signed_resp);
	const char *why = v == IDN_EMISMATCH ? ""
	                  : v == IDN_ENOTSUP ? "unsupported signature algorithm or key type"
	                  : v == IDN_ERANGE  ? "key derivation parameters over the limits"
	                                     : "malformed signed response or key";
	return finish(held, ctx, cr->handle, cr->index, v, why);
}
