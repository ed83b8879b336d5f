/*
 * admin.c - administration: the checks before a challenge, the pending
 * table, op 200, and the run of an authenticated op in its transaction
 * (see admin.h).
 */
#include "node/admin.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verify.h"
#include "core/limit.h"
#include "node/answer.h"
#include "node/authz.h"
#include "node/identity.h"
#include "node/login.h"
#include "node/quota.h"
#include "node/source_tally.h"
#include "node/stats_int.h"
#include "proto/admin.h"
#include "proto/handle.h"
#include "proto/record.h"

/* Messages the reference sends, kept byte for byte. */
static const char MSG_BAD_SESSION[] = "Invalid session id or session time out. Please try again.";
static const char MSG_NOT_HERE[] = "That naming authority doesn't live here";

enum { NONCE_LEN = 16 };

/* A challenged request, waiting for its op 200. */
struct pending {
	uint32_t session_id; /* 0: free slot */
	uint32_t expires;
	uint8_t nonce[NONCE_LEN];
	uint8_t hash;
	uint8_t digest[PROTO_DIGEST_MAX];
	uint8_t *req; /* envelope + message, owned (held_alloc) */
	size_t len;
	size_t cost; /* the memory it holds (held_cost) */
	uint8_t minor;
	const node_op *op; /* the held request's row of the opcode table */
	node_source src;   /* who sent it */
};

/* A slot in the order challenges were made: stale once its slot's id is another. */
struct order {
	uint32_t slot, session_id;
};

struct node_admin {
	pthread_mutex_t lock;
	struct pending *slots;
	size_t nslots;
	/*
	 * Challenges oldest first (a ring of 2 * nslots; entries whose slot was
	 * taken since are skipped, and squeezed out when it fills). Every
	 * challenge lives max_auth_time, so the oldest is also the first to expire.
	 */
	struct order *order;
	size_t head, count;
	size_t bytes, max_bytes; /* held request bytes, and their bound */
	uint32_t per_source;
	source_tally *tally; /* what each source holds, counted afresh by each new challenge */
	uint32_t max_auth_time;
	node_server_admin *admins;
	size_t nadmins;
};

static void held_free(uint8_t *p, size_t len);

/* Parses "300:0.NA/88.1000". */
static int parse_admin(const char *s, node_server_admin *a)
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
	a->max_bytes =
	    cfg->pending_auth_bytes ? cfg->pending_auth_bytes : (size_t)NODE_PENDING_AUTH_MB << 20;
	/* One whole message must fit, or no large admin request could ever be challenged. */
	if (a->max_bytes < PROTO_ENV_LEN + PROTO_MSG_MAX)
		a->max_bytes = PROTO_ENV_LEN + PROTO_MSG_MAX;
	a->per_source =
	    cfg->pending_auth_per_source ? cfg->pending_auth_per_source : NODE_PENDING_PER_SOURCE;
	a->slots = calloc(a->nslots, sizeof(*a->slots));
	a->order = calloc(a->nslots * 2, sizeof(*a->order));
	a->admins = calloc(cfg->nserver_admins + 1, sizeof(*a->admins));
	if (!a->slots || !a->order || !a->admins || source_tally_new(a->nslots + 1, &a->tally)) {
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
		held_free(a->slots[i].req, a->slots[i].len);
	for (size_t i = 0; a->admins && i < a->nadmins; i++)
		free(a->admins[i].handle);
	free(a->slots);
	free(a->order);
	source_tally_free(a->tally);
	free(a->admins);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* ---- the pending table ---- */

/*
 * A held request of HELD_MAP_MIN bytes or more gets a mapping of its own:
 * freeing it gives the memory back to the system at once, whatever else the
 * heap holds, and what it costs is its pages.
 */
enum { HELD_MAP_MIN = 16384, PAGE = 4096 };

static size_t held_cost(size_t len)
{
	return len >= HELD_MAP_MIN ? (len + PAGE - 1) / PAGE * PAGE : len;
}

static uint8_t *held_alloc(size_t len)
{
	if (len < HELD_MAP_MIN)
		return malloc(len);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void held_free(uint8_t *p, size_t len)
{
	if (p && len >= HELD_MAP_MIN)
		munmap(p, len);
	else
		free(p);
}

/* Frees slot s. Locked. */
static void pending_drop(node_admin *a, struct pending *s)
{
	a->bytes -= s->cost;
	held_free(s->req, s->len);
	memset(s, 0, sizeof(*s));
}

static struct order *order_at(node_admin *a, size_t i)
{
	return &a->order[(a->head + i) % (a->nslots * 2)];
}

static bool order_live(const node_admin *a, const struct order *o)
{
	return a->slots[o->slot].session_id == o->session_id;
}

/* Squeezes the stale entries out of the order (they keep it full otherwise). Locked. */
static void order_squeeze(node_admin *a)
{
	size_t n = 0;
	for (size_t i = 0; i < a->count; i++) {
		struct order o = *order_at(a, i);
		if (order_live(a, &o))
			*order_at(a, n++) = o;
	}
	a->count = n;
}

/* The oldest live challenge, or NULL; stale entries before it are popped. Locked. */
static struct pending *pending_oldest(node_admin *a)
{
	while (a->count) {
		struct order *o = order_at(a, 0);
		if (order_live(a, o))
			return &a->slots[o->slot];
		a->head = (a->head + 1) % (a->nslots * 2);
		a->count--;
	}
	return NULL;
}

/* Frees up to max expired challenges, oldest first; how many it freed. Locked. */
static size_t pending_expire(node_admin *a, uint32_t now, size_t max)
{
	size_t n = 0;
	struct pending *s;
	while (n < max && (s = pending_oldest(a)) && (int32_t)(now - s->expires) > 0) {
		pending_drop(a, s);
		n++;
	}
	return n;
}

void node_admin_sweep(node_admin *a, uint32_t now, size_t max)
{
	pthread_mutex_lock(&a->lock);
	size_t n = pending_expire(a, now, max);
	pthread_mutex_unlock(&a->lock);
	if (n)
		node_trim_memory();
}

size_t node_admin_pending_bytes(node_admin *a)
{
	pthread_mutex_lock(&a->lock);
	size_t b = a->bytes;
	pthread_mutex_unlock(&a->lock);
	return b;
}

/*
 * Tallies what each source holds, and finds a free slot; EEXIST when p's id
 * is taken (the caller draws again). Locked.
 */
static int pending_tally(node_admin *a, const struct pending *p, struct pending **free_slot)
{
	source_tally_reset(a->tally);
	*free_slot = NULL;
	for (size_t i = 0; i < a->nslots; i++) {
		struct pending *s = &a->slots[i];
		if (!s->session_id) {
			if (!*free_slot)
				*free_slot = s;
			continue;
		}
		if (s->session_id == p->session_id)
			return IDN_EEXIST;
		source_count_add(source_tally_of(a->tally, &s->src), s->cost, s->expires);
	}
	return IDN_OK;
}

/* Drops the oldest challenge of x's source (it holds one); returns its slot. Locked. */
static struct pending *evict_oldest_of(node_admin *a, source_count *x)
{
	struct pending *old = NULL;
	for (size_t i = 0; i < a->nslots; i++) {
		struct pending *s = &a->slots[i];
		if (s->session_id && source_is(x, &s->src) &&
		    (!old || (int32_t)(s->expires - old->expires) < 0))
			old = s;
	}
	if (!old) /* (cannot be: the tally counted one) */
		return NULL;
	x->n--;
	x->bytes -= old->cost;
	pending_drop(a, old);
	return old;
}

/*
 * Holds p (taking its req buffer). When its source already holds its share,
 * its own oldest challenge gives way; when the table is full in entries or
 * bytes, the oldest challenges of the source holding the most bytes give
 * way, so one client's challenge outlives a flood from others. Expired ones
 * go first.
 */
static int pending_put(node_admin *a, uint32_t now, struct pending *p)
{
	pthread_mutex_lock(&a->lock);
	pending_expire(a, now, SIZE_MAX);
	struct pending *slot;
	int ret = pending_tally(a, p, &slot);
	if (ret)
		goto out;
	source_count *mine = source_tally_of(a->tally, &p->src);
	if (p->src.known && mine->n >= a->per_source) {
		limit_hit(LIM_PENDING_AUTH, "a source holding %u challenges: its oldest evicted",
		          mine->n);
		struct pending *old = evict_oldest_of(a, mine);
		slot = slot ? slot : old;
	}
	while (!slot || a->bytes + p->cost > a->max_bytes) {
		source_count *top = source_tally_top(a->tally, true);
		if (!top)
			break; /* (cannot be: one message fits max_bytes) */
		struct pending *old = evict_oldest_of(a, top);
		if (!old)
			break;
		limit_hit(LIM_PENDING_AUTH,
		          "challenges over their budget: the oldest of the source holding most "
		          "evicted (it holds %zu bytes now, all %zu)",
		          top->bytes, a->bytes);
		slot = slot ? slot : old;
	}
	if (!slot || a->bytes + p->cost > a->max_bytes) {
		ret = IDN_EBUSY;
		goto out;
	}
	if (a->count == a->nslots * 2)
		order_squeeze(a);
	*slot = *p;
	a->bytes += p->cost;
	*order_at(a, a->count++) = (struct order){(uint32_t)(slot - a->slots), p->session_id};
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
			pending_drop(a, s);
			ret = IDN_ETIMEOUT;
		} else {
			*out = *s;
			a->bytes -= s->cost;
			memset(s, 0, sizeof(*s));
			ret = IDN_OK;
		}
		break;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* ---- early checks and the challenge ---- */

static int prefix_homed(req *rq, store_txn *t, idn_slice prefix)
{
	uint8_t norm[HANDLE_KEY_MAX];
	int n = handle_prefix_norm(prefix, norm, sizeof(norm));
	if (n < 0)
		return 0;
	return store_is_homed(t, idn_slice_of(norm, (size_t)n));
}

/*
 * The handle an op acts on, as its body (node_op.body) names it; 0 when it
 * names none (list homed, replication). A negative idn_err for a malformed
 * body.
 */
static int request_handle(const req *rq, idn_slice *h)
{
	switch (rq->op->body) {
	case NODE_BODY_VALUES: {
		proto_values_req vr;
		int ret = proto_values_req_decode(rq->msg.body, &vr);
		*h = vr.handle;
		return ret ? ret : 1;
	}
	case NODE_BODY_REMOVE: {
		proto_remove_req r;
		int ret = proto_remove_req_decode(rq->msg.body, &r);
		*h = r.handle;
		return ret ? ret : 1;
	}
	case NODE_BODY_NONE:
		*h = (idn_slice){0};
		return 0;
	default: {
		int ret = proto_handle_req_decode(rq->msg.body, h);
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
	/*
	 * proto_values_find_dup() has read the values up to dpos (all of them when
	 * none repeats), so this walk cannot end short of an npos that counts.
	 */
	proto_values_it it = proto_values_begin(vr.values, vr.nvalues);
	proto_value v;
	int32_t bad = 0;
	for (uint32_t i = 0; npos == UINT32_MAX && proto_values_next(&it, &v) == 1; i++) {
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

int node_admin_request(req *rq)
{
	node *n = rq->w->node;
	node_admin *a = n->admin;
	idn_slice h;
	/* A mirror's store follows its primary: a write here would be lost or diverge. */
	if (n->cfg.mirror_of && (rq->op->flags & NODE_OP_WRITES)) {
		char msg[320];
		snprintf(msg, sizeof(msg), "this node is a mirror of %s; send writes there",
		         n->cfg.mirror_of);
		return node_answer_error(rq, PROTO_RC_SERVER_BACKUP, msg);
	}
	int has = request_handle(rq, &h);
	if (has < 0)
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	if (has) {
		if (!handle_utf8_valid(h))
			return node_answer_error(rq, PROTO_RC_INVALID_HANDLE,
			                         "Invalid UTF8 encoding");
		if (h.len > PROTO_HANDLE_MAX || memchr(h.p, 0, h.len))
			return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
	}
	enum node_op_body body = rq->op->body;
	if (body == NODE_BODY_VALUES) {
		int ret = check_indexes(rq);
		if (ret)
			return ret;
	}
	/* Not ours: say so before asking anyone to prove who they are. */
	if (has && body != NODE_BODY_HOME) {
		idn_slice prefix;
		handle_parts parts;
		if (body == NODE_BODY_PREFIX) {
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
	uint32_t now = n->cfg.clock();
	struct pending p = {
	    .minor = rq->minor, .op = rq->op, .expires = now + a->max_auth_time, .src = rq->w->src};
	p.hash = (uint8_t)proto_digest_alg(PROTO_MAJOR, rq->minor);
	if (proto_digest(p.hash, rq->msg.hb.p, rq->msg.hb.len, p.digest) ||
	    node_random_bytes(n, p.nonce, NONCE_LEN))
		return node_answer_error(rq, PROTO_RC_ERROR, "cannot make a challenge");
	p.len = PROTO_ENV_LEN + rq->env.msg_len;
	p.req = held_alloc(p.len);
	p.cost = held_cost(p.len);
	if (!p.req)
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
	memcpy(p.req, rq->msg.hb.p - PROTO_ENV_LEN, p.len);
	int ret = IDN_EEXIST;
	for (int tries = 0; tries < 8 && ret == IDN_EEXIST; tries++) {
		uint8_t sid[4];
		if (node_random_bytes(n, sid, sizeof(sid)))
			break;
		/* Positive and non-zero: Java clients keep it in a signed int. */
		p.session_id = idn_be32(sid) & 0x7fffffff;
		ret = p.session_id ? pending_put(a, now, &p) : IDN_EEXIST;
	}
	if (ret) {
		held_free(p.req, p.len);
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

/* ---- authorisation ---- */

static int run_op_saved(node_authz *c, bool *saved);

/*
 * The write txn of one request: with group commit, nested in the batch's
 * transaction (begun at its first write); else its own.
 */
static int write_begin(node_worker *w, store_txn **t)
{
	/* A thread must not hold its read snapshot while it starts a write txn. */
	node_worker_end(w);
	if (!w->group && !w->wtxn) { /* (a batch's transaction still open: nest in it) */
		node_stats_commit(w, 1);
		return store_txn_begin(w->node->store, 0, t);
	}
	w->group_n++;
	if (!w->wtxn) {
		int rc = store_txn_begin(w->node->store, 0, &w->wtxn);
		if (rc) {
			w->wtxn = NULL;
			return rc;
		}
	}
	return store_txn_nest(w->wtxn, t);
}

/*
 * The statistics of an authenticated request (node/stats.h), for the prefix
 * it names: refused for its rights (400, 401) a failure, else a success;
 * a write saved counts as registered, deleted or modified.
 */
static void count_op(req *rq, bool failed, bool saved)
{
	node_worker *w = rq->w;
	idn_slice h, na;
	if (!w->st || rq->op->body == NODE_BODY_NONE || proto_handle_req_decode(rq->msg.body, &h))
		return;
	if (rq->op->body == NODE_BODY_PREFIX && handle_na_prefix(h, &na) == IDN_OK)
		h = na;
	uint32_t rc = w->rcode;
	if (failed || rc == PROTO_RC_INVALID_ADMIN || rc == PROTO_RC_INSUFFICIENT_PERMISSIONS) {
		node_stats_count(w, h, NST_AUTH_FAIL);
		return;
	}
	node_stats_count(w, h, NST_AUTH_OK);
	if (!saved || rc != PROTO_RC_SUCCESS)
		return;
	uint32_t op = rq->op->opcode;
	node_stats_count(w, h,
	                 op == PROTO_OP_CREATE_HANDLE   ? NST_REGISTERED
	                 : op == PROTO_OP_DELETE_HANDLE ? NST_DELETED
	                 : op == PROTO_OP_ADD_VALUE || op == PROTO_OP_REMOVE_VALUE ||
	                         op == PROTO_OP_MODIFY_VALUE
	                     ? NST_MODIFIED
	                     : NST_COUNT);
}

/* Runs an authenticated request: reads on the worker's snapshot, writes in one write txn. */
static int run_op(node_authz *c)
{
	bool saved = false;
	int ret = run_op_saved(c, &saved);
	count_op(c->rq, false, saved);
	return ret;
}

static int run_op_saved(node_authz *c, bool *saved)
{
	const node_op *op = c->rq->op;
	if (!op->run)
		return node_answer_error(c->rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                         "unknown operation");
	node_worker *w = c->rq->w;
	if (!(op->flags & NODE_OP_WRITES)) {
		c->t = node_rtxn(w);
		int q = node_quota_request(c); /* the identity's daily requests */
		return q ? q : op->run(c);
	}
	if (write_begin(w, &c->t))
		return node_answer_error(c->rq, PROTO_RC_SERVER_BUSY, "storage busy");
	int ret = node_quota_request(c);
	if (!ret)
		ret = op->run(c);
	if (c->commit && ret > 0) {
		/*
		 * Durable before the answer goes out: only then is the success
		 * true. In a group this reaches the batch's transaction, and the
		 * answer waits for node_worker_commit().
		 */
		int err = store_txn_commit(c->t);
		if (err)
			return node_answer_store_error(c->rq, err, "the change was not saved");
		node_worker_saved(w);
		*saved = true;
	} else {
		store_txn_abort(c->t);
	}
	return ret;
}

static int run_as_caller(req *rq)
{
	node *n = rq->w->node;
	node_authz c = {.rq = rq,
	                .admins = n->admin->admins,
	                .nadmins = n->admin->nadmins,
	                .id_handle = rq->w->as_handle,
	                .id_index = rq->w->as_index,
	                .now = n->cfg.clock()};
	c.id_klen = handle_key(c.id_handle, n->cfg.case_sensitive, c.id_key);
	return run_op(&c);
}

/* ---- op 200 ---- */

int node_admin_identity_key(req *rq, idn_slice handle, uint32_t index, idn_slice type,
                            idn_slice *data)
{
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(handle, rq->w->node->cfg.case_sensitive, key);
	if (klen < 0)
		return IDN_ENOTFOUND;
	idn_slice raw;
	record r;
	if (store_get(node_rtxn(rq->w), idn_slice_of(key, (size_t)klen), &raw) ||
	    record_parse(raw, &r))
		return IDN_ENOTFOUND;
	/* Not proto_values_find(): its index 0 is any index, index 0 here is index 0. */
	proto_values_it it = proto_values_begin(r.values, r.nvalues);
	proto_value v;
	int vrc;
	while ((vrc = proto_values_next(&it, &v)) == 1)
		if (v.index == index && idn_slice_eq(v.type, type)) {
			*data = v.data;
			return IDN_OK;
		}
	return vrc ? IDN_ESTORE : IDN_ENOTFOUND;
}

void node_admin_login_verdict(node *n, const node_source *src, idn_slice handle, uint32_t index,
                              int verdict)
{
	/* What the client got wrong counts; a lookup elsewhere that failed, or a wait, does not. */
	if (verdict == IDN_OK || verdict == IDN_EMISMATCH || verdict == IDN_EINVAL ||
	    verdict == IDN_ENOTFOUND)
		node_login_result(n, src, handle, index, verdict == IDN_OK);
}

/*
 * node_identity_finish_fn of op 200 (ctx: the source of op 200): the held
 * request runs as index:handle once verified.
 */
static int run_verified(req *held, const void *ctx, idn_slice handle, uint32_t index, int verdict,
                        const char *why)
{
	node_admin_login_verdict(held->w->node, ctx, handle, index, verdict);
	/* A signature that does not verify gets the reference's empty 403 (x88). */
	if (verdict) {
		int ret = node_answer_error(held, node_login_failed_code(held),
		                            verdict == IDN_EMISMATCH ? "" : why);
		count_op(held, true, false);
		return ret;
	}
	node *n = held->w->node;
	node_authz c = {.rq = held,
	                .admins = n->admin->admins,
	                .nadmins = n->admin->nadmins,
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
	/* From here on the held bytes are malloc'd (node/identity.h may keep and free them). */
	uint8_t *copy = p.len >= HELD_MAP_MIN ? malloc(p.len) : p.req;
	if (copy && copy != p.req)
		memcpy(copy, p.req, p.len);
	if (copy != p.req)
		held_free(p.req, p.len);
	if (!(p.req = copy))
		return node_answer_error(rq, PROTO_RC_SERVER_BUSY, "out of memory");
	/*
	 * From here on every answer, refusals included, is the answer to the held
	 * request: its opcode and flags, op 200's request id, session id 0.
	 */
	req held = {.op = p.op,
	            .w = rq->w,
	            .transport = rq->transport,
	            .out = rq->out,
	            .cap = rq->cap,
	            .minor = p.minor,
	            .conn = rq->conn};
	if (proto_env_decode(p.req, p.len, &held.env) ||
	    proto_msg_decode(p.req + PROTO_ENV_LEN, p.len - PROTO_ENV_LEN, &held.msg)) {
		free(p.req);
		return node_answer_error(rq, PROTO_RC_ERROR, "held request lost");
	}
	held.env.request_id = rq->env.request_id;
	held.env.session_id = 0;
	/* Op 200 came SM4-encrypted (node/login.h): so goes the answer, also a later one. */
	held.sm4 = rq->sm4;
	memcpy(held.sm4_key, rq->sm4_key, sizeof(held.sm4_key));
	idn_slice nonce = idn_slice_of(p.nonce, NONCE_LEN);
	idn_slice digest = idn_slice_of(p.digest, proto_digest_len(p.hash));
	int ret = node_admin_check_chresp(rq, &held, &p.req, &cr, nonce, digest, run_verified,
	                                  &rq->w->src, sizeof(rq->w->src));
	free(p.req); /* NULL when the answer is built later (node/identity.h) */
	OPENSSL_cleanse(held.sm4_key, sizeof(held.sm4_key));
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
	/* Repeated failures from this address, or as this identity from it: wait first. */
	node *n = rq->w->node;
	const node_source *src = &rq->w->src;
	uint32_t wait = node_login_wait(n, src, cr->handle, cr->index);
	if (wait) {
		char why[128];
		snprintf(why, sizeof(why),
		         "too many failed authentications from this address: retry in %u s", wait);
		return finish(held, ctx, cr->handle, cr->index, IDN_EBUSY, why);
	}
	idn_slice keydata;
	if (node_admin_identity_key(rq, cr->handle, cr->index,
	                            pub ? IDN_SLICE("HS_PUBKEY") : IDN_SLICE("HS_SECKEY"),
	                            &keydata))
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

const node_server_admin *node_admin_list(const node *n, size_t *count)
{
	*count = n->admin->nadmins;
	return n->admin->admins;
}
