/*
 * internal.h - what the files of the node module share and nobody else sees:
 * the node, the per-thread worker, the request being answered, and the
 * answer builders of node.c (which admin.c uses for its own answers, so that
 * every answer carries the same flags, expiration and signature).
 *
 * Lifetimes: a req lives for one node_answer() call and borrows the request
 * bytes and the output buffer it was given.
 */
#ifndef IDN_NODE_INTERNAL_H
#define IDN_NODE_INTERNAL_H

#include "node/node.h"
#include "proto/special.h"

struct node_admin; /* node/admin.h */

struct node {
	node_config cfg;
	store *store;
	uint8_t *site_info; /* owned copy of cfg.site_info */
	proto_site site;    /* site_info decoded (borrows it); nservers 0 without one */
	struct node_admin *admin;
	struct node_identity *identity; /* node/identity.h */
	struct node_sessions *sessions; /* node/session.h */
};

struct node_worker {
	node *node;
	store_txn *rtxn; /* this thread's read snapshot, reset between uses */
	bool in_batch;
	uint8_t key[HANDLE_KEY_MAX];
	/* group commit (node_worker_group): the batch's write txn, or NULL */
	bool group;
	store_txn *wtxn;
	/* node_worker_act_as: an identity the caller has authenticated (borrowed). */
	idn_slice as_handle;
	uint32_t as_index;
	const node_later *later; /* node_answer_deferrable: for that call only */
	bool deferred;           /* this request is answered later (node/identity.h) */
};

/* What requests read: the batch's write txn while it has one, else the snapshot. */
static inline store_txn *node_rtxn(const node_worker *w)
{
	return w->wtxn ? w->wtxn : w->rtxn;
}

/*
 * The session a request belongs to (node/session.h): a copy of its key, so
 * the answer can be MACed (and encrypted) whatever happens to the session.
 */
typedef struct node_sess_ref {
	uint32_t id; /* 0: not in a session */
	uint8_t klen;
	bool encrypt; /* answer encrypted */
	uint8_t key[32];
} node_sess_ref;

/* One request being answered. */
typedef struct req {
	node_worker *w;
	enum node_transport transport;
	proto_env env;
	proto_msg msg;
	uint8_t *out;
	size_t cap;
	uint8_t minor; /* the version we answer in: 2.minor */
	node_sess_ref sess;
} req;

/* Envelope + header (+ request digest when RD is set) of an answer with code rc. */
void node_answer_begin(req *rq, proto_build *b, uint32_t rc);
/* Finishes (and signs, for CT) the answer; returns its length or a negative idn_err. */
int node_answer_end(req *rq, proto_build *b);
/* A whole error answer: code + message. */
int node_answer_error(req *rq, uint32_t rc, const char *message);

#endif
