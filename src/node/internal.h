/*
 * internal.h - the types the files of the node module share and nobody else
 * sees: the node, the per-thread worker, the request being answered, and the
 * row of the opcode table (node.c) every request carries. Types only: the
 * answer builders are in node/answer.h.
 *
 * Lifetimes: a req lives for one node_answer() call and borrows the request
 * bytes and the output buffer it was given; its op row is static.
 */
#ifndef IDN_NODE_INTERNAL_H
#define IDN_NODE_INTERNAL_H

#include "node/node.h"
#include "proto/reserved.h"

struct node_admin; /* node/admin.h */
struct node_authz; /* node/authz.h: one authenticated identity's request */

struct node {
	node_config cfg;
	store *store;
	uint8_t *site_info; /* owned copy of cfg.site_info */
	proto_site site;    /* site_info decoded (borrows it); nservers 0 without one */
	struct node_admin *admin;
	struct node_identity *identity;  /* node/identity.h */
	struct node_sessions *sessions;  /* node/session.h */
	struct login_guard *logins;      /* node/login_guard.h */
	struct node_logins *conn_logins; /* node/login.h: logged-in connections (op 2001) */
	struct node_quota *quota;        /* node/quota.h */
	struct node_stats *stats;        /* node/stats.h; NULL without statistics */
};

enum { NODE_HOMED_MEMO = 62 }; /* longest prefix kept in node_worker.homed_memo */

struct node_worker {
	node *node;
	store_txn *rtxn; /* this thread's read snapshot, reset between uses */
	bool in_batch;
	/*
	 * node_worker_hold: a request's snapshot is kept (held) for the next
	 * ones until node_worker_end, while store_commits() is still `seen`
	 * (its value when the snapshot was taken).
	 */
	bool hold, held;
	uint64_t seen;
	/*
	 * The read snapshot's identity (node_worker_snapshot): the store's
	 * (store_snapshot_id) or, for a store that cannot say, from the count
	 * `snaps`; equal identities see equal data.
	 */
	uint64_t snap;
	uint64_t snaps;
	/*
	 * The last prefix resolution asked about and whether it is homed, as
	 * seen in snapshot `snap` (resolve.c): the requests of a batch mostly
	 * share their prefix, so one store lookup answers them all.
	 */
	struct {
		uint64_t snap; /* 0: none */
		uint8_t len;
		int8_t homed;
		uint8_t prefix[NODE_HOMED_MEMO];
	} homed_memo;
	uint8_t key[HANDLE_KEY_MAX];
	/* group commit (node_worker_group): the batch's write txn, or NULL */
	bool group;
	bool group_on; /* asked for; off (group false) while the store is full */
	store_txn *wtxn;
	/* node_worker_act_as: an identity the caller has authenticated (borrowed). */
	idn_slice as_handle;
	uint32_t as_index;
	uint32_t rcode;          /* of the last answer begun (node_worker_rcode) */
	const node_later *later; /* node_answer_deferrable: for that call only */
	bool deferred;           /* this request is answered later (node/identity.h) */
	/* node_worker_allow_more: a long list may stop part way, leaving `more` */
	bool more_ok;
	struct node_more *more;
	node_source src;         /* node_worker_source */
	uint64_t conn;           /* node_worker_conn: the TCP connection of the next requests */
	struct node_stats_w *st; /* node/stats.h: this worker's counters, NULL without */
	idn_slice st_prefix;     /* the prefix of the resolution being answered (borrowed) */
	unsigned group_n;        /* writes in the batch's transaction (group commit) */
	/* the template definition last parsed (edit.c), kept while writes name it */
	uint8_t *tmpl_def;
	size_t tmpl_def_len;
	struct tmpl *tmpl;
};

/* A write committed on its own was saved: group commit again if asked for. */
static inline void node_worker_saved(node_worker *w)
{
	w->group = w->group_on;
}

/*
 * Takes a fresh read snapshot (worker.c), in_batch until node_worker_end,
 * and sets w->snap to its identity: every path that takes one (a batch's
 * node_worker_begin, a request's own in node_answer) comes here, so what is
 * kept per snapshot (resolve.c's homed memo) is never read in another that
 * sees other data. 0, or the store's error.
 */
int node_worker_snapshot(node_worker *w);

/* Random bytes for nonces, session ids and minted suffixes: node_config.random, else OpenSSL's. */
int node_random_bytes(const node *n, uint8_t *buf, size_t len);

/* Gives memory freed in bulk (a sweep of expired entries) back to the system. */
void node_trim_memory(void);

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

struct req;

/*
 * What is known of an opcode, in one row of the table in node.c; every file
 * of the module reads the facts from the row the request carries (rq->op)
 * instead of keeping its own list.
 */
enum node_op_flag {
	/* Refused over UDP, as the reference does with admin requests ("non-admin port"). */
	NODE_OP_TCP_ONLY = 1u << 0,
	/* Runs only for an authenticated identity: challenge-response, or in a session. */
	NODE_OP_AUTH = 1u << 1,
	/* Writes to the store; so a mirror refuses it (its store follows the primary). */
	NODE_OP_WRITES = 1u << 2,
	/*
	 * Answered as if it had no session when its session id names no live
	 * session, or at a version below 2.5 (no HS_MAC there): challenges
	 * outside sessions use the same ids. Every other op is refused then.
	 */
	NODE_OP_OUTSIDE_SESSION = 1u << 3,
};

/* What the body of an authenticated op names (the checks before its challenge). */
enum node_op_body {
	NODE_BODY_NONE = 0, /* no handle: node-wide (list homed, replication) */
	NODE_BODY_HANDLE,   /* a handle (delete) */
	NODE_BODY_VALUES,   /* a handle and values (create, add, modify): indexes checked */
	NODE_BODY_REMOVE,   /* a handle and indexes (remove value) */
	NODE_BODY_PREFIX,   /* a prefix handle 0.NA/<prefix> (list handles) */
	NODE_BODY_HOME,     /* a prefix to home or unhome: not yet homed, so not checked */
};

typedef struct node_op {
	uint32_t opcode;
	/* What the dispatcher calls once the session step let the request through. */
	int (*answer)(struct req *rq);
	/* NODE_OP_AUTH: the operation, once the identity is known (node/authz.h). */
	int (*run)(struct node_authz *c);
	unsigned flags; /* enum node_op_flag */
	enum node_op_body body;
} node_op;

/* One request being answered. */
typedef struct req {
	const node_op *op; /* its row: set by the dispatcher, kept with a held request */
	node_worker *w;
	enum node_transport transport;
	proto_env env;
	proto_msg msg;
	uint8_t *out;
	size_t cap;
	uint8_t minor; /* the version we answer in: 2.minor */
	node_sess_ref sess;
	uint64_t conn; /* the TCP connection it came on (node_worker_conn), 0 if none */
	bool sm4;      /* it came SM4-encrypted: so goes the answer (node/login.h) */
	uint8_t sm4_key[16];
} req;

#endif
