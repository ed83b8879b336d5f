/*
 * node.h - what a request means: resolution, site information, refusals.
 *
 * node_answer() takes one complete request (envelope + message, reassembled
 * by the transport) and writes the whole answer (envelope + message) into the
 * caller's buffer. It never touches a socket, so every request path can be
 * unit-tested and fuzzed without a network.
 *
 * Threads: a node is shared (read-only after node_new); each thread that
 * handles requests owns a node_worker, which keeps that thread's read
 * snapshot of the store. Resolution allocates nothing.
 */
#ifndef IDN_NODE_NODE_H
#define IDN_NODE_NODE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "proto/admin.h"
#include "proto/proto.h"
#include "store/store.h"

/*
 * Signs an answer when the request sets CT: writes the credential section
 * (see proto/cred.h) over hb (header + body) into out, returns its length or
 * a negative idn_err.
 */
typedef int (*node_sign_fn)(void *arg, uint8_t major, uint8_t minor, idn_slice hb, uint8_t *out,
                            size_t cap);

/*
 * The verdict on a challenge response checked elsewhere: IDN_OK (it
 * verifies), IDN_EMISMATCH (it does not), or another idn_err with why, a
 * sentence naming the identity and the reason (borrowed for the call).
 */
typedef void (*node_identity_done_fn)(void *done_arg, int verdict, const char *why);
/*
 * Checks cr (signed over nonce and the request digest) for an identity not in
 * our store, without blocking: copies what it needs and returns 0 when it
 * will call done(done_arg, ...) exactly once, from another thread; any other
 * idn_err when it cannot (done is then never called).
 */
typedef int (*node_identity_lookup_fn)(void *arg, const proto_chresp *cr, idn_slice nonce,
                                       idn_slice digest, node_identity_done_fn done,
                                       void *done_arg);

/* The defaults of node_config's limits on what strangers make the node hold. */
enum {
	NODE_PENDING_AUTH_MB = 8,
	NODE_PENDING_PER_SOURCE = 1024, /* above what one host's bulk admin tool keeps in flight */
	NODE_UNAUTH_SESSIONS = 1024,
	NODE_UNAUTH_PER_SOURCE = 256,
	NODE_LOGIN_FREE_FAILURES = 5,
	NODE_LOGIN_BACKOFF_MAX = 60,
	NODE_LOGIN_ENTRIES = 16384,
};

/*
 * Which response codes answer what the national system's two SDKs disagree
 * on (IDIS.md section 1; docs/national-system.md): id-pointer-sdk knows
 * 601-605 and not 407/408/3001, ID-SDK the reverse, and the reference
 * Handle.Net clients neither.
 */
enum node_codes {
	NODE_CODES_IPS = 0, /* id-pointer-sdk: quotas as 603-605 */
	NODE_CODES_IDS = 1, /* ID-SDK: 407 repeated login, 408 login first, 3001 bad credential */
	NODE_CODES_HANDLE = 2, /* RFC 3652 codes only */
};

typedef struct node_config {
	bool case_sensitive;  /* suffixes case-sensitive (prefixes never are); default true */
	uint16_t site_serial; /* the serial of our HS_SITE, put in every answer; default 1 */
	uint32_t answer_ttl;  /* answer expiration = now + this, seconds; default 43200 */
	uint8_t max_minor;    /* highest protocol minor we speak (2.x); default 11 */
	idn_slice site_info;  /* HS_SITE record answered to GET_SITE_INFO; copied */
	/*
	 * Our server id in site_info. When that site has several servers, each
	 * answers only for its share of identifiers (node/referral.h) and 301
	 * for the rest; an id not in the site answers for everything.
	 */
	uint32_t server_id;
	uint8_t max_recursion; /* requests with a higher recursion count get 6; default 40 */
	/* records larger are refused when written (record_write_max); 0 = what an answer carries */
	size_t max_record;
	node_sign_fn sign; /* optional: signs answers to CT requests */
	void *sign_arg;
	uint32_t (*clock)(void); /* unix seconds; default time(). Tests pin it. */
	/* Administration (node/admin.h). */
	uint32_t max_auth_time;           /* seconds a challenged request is held; default 60 */
	uint32_t max_pending_auth;        /* challenged requests held at once; default 4096 */
	const char *const *server_admins; /* "INDEX:HANDLE" node-wide admins; copied */
	size_t nserver_admins;
	/*
	 * Limits on what a stranger can make the node hold (docs/security.md;
	 * defaults NODE_*): bytes of challenged requests held at once and
	 * challenges held per source; sessions not yet authenticated held at
	 * once (at most half of max_sessions) and per source; failed logins per
	 * (account, address) before the back-off, and its cap in seconds.
	 */
	size_t pending_auth_bytes;
	uint32_t pending_auth_per_source;
	uint32_t unauth_sessions;
	uint32_t unauth_sessions_per_source;
	uint32_t login_free_failures;
	uint32_t login_backoff_max;
	uint32_t login_entries; /* addresses and (account, address) pairs remembered */
	/*
	 * "HOST:PORT" when this node is a mirror (repl/mirror.h): admin writes are
	 * refused (7, naming the primary) before any challenge. Borrowed: must
	 * outlive the node.
	 */
	const char *mirror_of;
	/* Random bytes for nonces and session ids; default OpenSSL's RAND_bytes. Tests pin it. */
	int (*random)(uint8_t *buf, size_t len);
	/*
	 * Identities not in our store (node/identity.h) are checked by this
	 * callback off the worker's thread (the server wires it to
	 * client/identity_lookup.h); NULL: such identities are refused.
	 */
	node_identity_lookup_fn identity_lookup;
	void *identity_lookup_arg;
	/*
	 * Sessions (node/session.h): how many are kept at once (default 4096,
	 * at most 65536; the least recently used goes when full), and the
	 * longest idle timeout a client may ask for, seconds (default 86400).
	 */
	uint32_t max_sessions;
	uint32_t max_session_time;
	/* The longest value type a write may give, bytes (value-syntax); 0 = 1024. */
	uint32_t value_type_max;
	enum node_codes codes; /* default NODE_CODES_IPS */
	/*
	 * Quotas (node/quota.h), 0 = none: requests an identity may make a
	 * UTC day, identifiers under a prefix, child prefixes of a prefix. A
	 * node admin overrides them per identity / prefix at runtime.
	 */
	uint64_t quota_daily, quota_identifiers, quota_children;
	/* Statistics (node/stats.h): prefixes tracked at most; 0 = no statistics (the default). */
	uint32_t stats_prefixes;
} node_config;

/* Fills defaults. */
void node_config_init(node_config *cfg);

typedef struct node node;
typedef struct node_worker node_worker;

/* The node borrows the store; it must outlive the node. */
int node_new(const node_config *cfg, store *s, node **out);
/* Whether suffixes are case-sensitive (how store keys are made, proto/handle.h). */
bool node_case_sensitive(const node *n);
void node_free(node *n);

/*
 * How a write refused for want of room begins its message (after code 2
 * ERROR): the HTTP API answers those 507 Insufficient Storage.
 */
#define NODE_MSG_STORAGE_FULL "storage full"

int node_worker_new(node *n, node_worker **out);
void node_worker_free(node_worker *w);

/*
 * Optional batching: between begin and end, requests share one read snapshot
 * (a UDP worker wraps each recvmmsg batch). Without them each request takes
 * its own.
 */
void node_worker_begin(node_worker *w);
void node_worker_end(node_worker *w);

/*
 * Holding, for a caller that ends its turns with node_worker_end (the HTTP
 * API's workers: one snapshot per event-loop turn). With it on, the snapshot
 * a request takes (node_answer's own, node_worker_read's) stays open for the
 * next requests of the turn instead of being let go after it, as long as
 * this process has committed nothing since it was taken (store_commits): a
 * write of this thread (which ends the snapshot before it begins) or of
 * another thread is seen by the next read. Writes of other processes to
 * the same LMDB file are seen from the next snapshot (at the latest the
 * next turn). A PostgreSQL store's snapshots are never held. Off: lets go.
 */
void node_worker_hold(node_worker *w, bool on);

/*
 * Before a request reads on its own (outside node_answer): a snapshot
 * current for it. 1: taken for this request, the caller must
 * node_worker_end after; 0: shared (a batch's, or held), leave it; < 0 the
 * store's error.
 */
int node_worker_read(node_worker *w);

/*
 * A plain resolution over HTTP (no index or type filter) answered from the
 * store without building a Handle answer: when handle is homed here, this
 * server's, found, and every value of its record public, *values and
 * *nvalues are the record's values in wire form as stored (valid until
 * node_worker_end), the answer is counted as node_answer counts a success,
 * and 1 is returned. Else 0, nothing counted: node_answer gives the answer
 * (not found, referral, restricted values, ...). Between node_worker_begin
 * (or node_worker_read) and node_worker_end only.
 */
int node_resolve_plain(node_worker *w, idn_slice handle, idn_slice *values, uint32_t *nvalues);

/*
 * A hint that handle is asked soon: node_prefetch starts it and returns a
 * hint for node_prefetch_more (0: none), which goes on (store_prefetch's
 * two steps). No snapshot needed, nothing counted, nothing answered.
 */
uint64_t node_prefetch(node_worker *w, idn_slice handle);
void node_prefetch_more(node_worker *w, uint64_t hint);

/*
 * Group commit, for a caller that holds every answer back until
 * node_worker_commit() has returned 0 (the network workers do: see
 * net_config.commit). With it on, the writes of a batch of requests run in
 * one store write transaction, each request in a nested one (so a failed
 * request leaves no trace and the others stand), and one commit makes them
 * all durable: many clients writing at once share an fsync instead of
 * queueing for one each. Requests of the batch that read see its writes.
 * A store without nested transactions (PostgreSQL, which groups commits
 * itself) commits each request as before.
 *
 * node_worker_pending: the batch has writes not yet durable (answers must
 * wait). node_worker_commit: makes them durable; on failure (< 0) none of
 * them happened and the answers already built for them are false: the
 * caller must drop them (the network workers close those connections).
 */
void node_worker_group(node_worker *w, bool on);
bool node_worker_pending(const node_worker *w);
int node_worker_commit(node_worker *w);
/*
 * What to send instead of ans, an answer built in a batch whose commit
 * failed with err (it may tell of a write that was lost, or a read of one):
 * code 2 ERROR to the same request, "storage full: the change was not
 * saved (...)" when the map or the disk is full (NODE_MSG_STORAGE_FULL).
 * Returns its length in out, or < 0 when ans is not a plain answer (an
 * encrypted one cannot be rewritten: its connection must close).
 */
int node_worker_unsaved(const uint8_t *ans, size_t len, int err, uint8_t *out, size_t cap);
/* Drops the pending writes (their answers were never given). */
void node_worker_rollback(node_worker *w);

/*
 * For a caller that has already authenticated an identity itself (the REST
 * API's sessions and HTTP Basic): until cleared (handle.len 0), admin
 * requests on this worker skip the 402 challenge and run as index:handle,
 * with that identity's HS_ADMIN rights checked as usual. handle is borrowed
 * until cleared. Never set it from what a peer merely claims.
 */
void node_worker_act_as(node_worker *w, idn_slice handle, uint32_t index);

/*
 * Where a request comes from: an IPv4 address, or an IPv6 one cut to its
 * /64 (one site's share), as 16 bytes; known false when the caller gave none.
 */
typedef struct node_source {
	uint8_t addr[16];
	bool known;
} node_source;

void node_source_of(const struct sockaddr *sa, socklen_t len, node_source *out);

/*
 * The source of the requests this worker answers next (the caller sets it
 * before node_answer; NULL: unknown). What a source may hold in the node's
 * tables (pending challenges, sessions) and its failed logins count against
 * it.
 */
void node_worker_source(node_worker *w, const struct sockaddr *sa, socklen_t len);

/*
 * The TCP connection the requests this worker answers next come on (net's
 * net_req.conn_id; 0: none, as UDP and HTTP): a login (op 2001, node/login.h)
 * belongs to it. node_conn_closed: that connection is gone; what is bound
 * to it goes too. Both on the thread that owns w.
 */
void node_worker_conn(node_worker *w, uint64_t conn_id);
void node_conn_closed(node_worker *w, uint64_t conn_id);
/* Connections logged in, or with a login being challenged (tests and statistics). */
size_t node_logins_open(node *n);

/*
 * Failed logins (HTTP Basic, REST session signatures, op 200), slowed down
 * per address and per (account, address) (node/login_guard.h):
 * node_login_wait returns the seconds (rounded up) an attempt as
 * index:handle from src must still wait, 0 to go ahead; a wait is counted
 * (LIM_LOGIN_FAILURES). node_login_result records the attempt's outcome.
 * Both do nothing for an unknown source.
 */
uint32_t node_login_wait(node *n, const node_source *src, idn_slice handle, uint32_t index);
void node_login_result(node *n, const node_source *src, idn_slice handle, uint32_t index, bool ok);

/*
 * The bounds of sessions not yet authenticated (node_config.unauth_sessions
 * and unauth_sessions_per_source), for the REST API's sessions.
 */
void node_session_limits(const node *n, uint32_t *unauth, uint32_t *per_source);

/*
 * Frees what expired in the node's tables (pending challenges, sessions),
 * bounded in work; the server calls it about once a second so memory held
 * by strangers falls back without waiting for the next request.
 */
void node_sweep(node *n);

enum node_transport { NODE_UDP = 0, NODE_TCP = 1, NODE_HTTP = 2 };

/*
 * Handles one request. Returns the answer length (> 0), 0 when nothing is to
 * be sent (not a request we can answer at all), or a negative idn_err.
 * cap should be at least PROTO_ENV_LEN + PROTO_MSG_MAX. Over NODE_TCP a list
 * answer (105, 302) longer than one message is several whole messages back
 * to back (CN set on all but the last); the length returned covers them all.
 */
int node_answer(node_worker *w, enum node_transport t, const uint8_t *req, size_t len, uint8_t *out,
                size_t cap);

/*
 * A list answer (105) in parts, for a caller that sends each part when the
 * client has taken the one before (TCP): with node_worker_allow_more(w,
 * true), a list over NODE_TCP that outgrows the caller's buffer stops after
 * whole messages (CN set on the last one too) and leaves a continuation
 * that node_worker_take_more() hands over, once (NULL when the answer was
 * whole). node_more_next() writes the next part into out (cap as for
 * node_answer), its messages CN-continued but the list's very last, and
 * sets *last with that one; it reads the worker's current snapshot, from
 * the key where the last part stopped, so each handle comes once, in order.
 * node_more_free() frees one (NULL is fine). Without allow_more, a list
 * must fit the buffer, as before.
 */
typedef struct node_more node_more;
void node_worker_allow_more(node_worker *w, bool on);
node_more *node_worker_take_more(node_worker *w);
int node_more_next(node_worker *w, node_more *m, uint8_t *out, size_t cap, bool *last);
void node_more_free(node_more *m);

/*
 * The response code of the answer the last node_answer() on w wrote
 * (PROTO_RC_*; 0 when it wrote none, or only a bare protocol error): how a
 * recursive node tells "not homed here" (301, 303) from an answer of ours
 * without reading the answer's bytes back.
 */
uint32_t node_worker_rcode(const node_worker *w);

/*
 * node_answer for a caller that can send an answer later, from another
 * thread: a challenge response whose identity lives on another node is then
 * answered once node_config.identity_lookup has checked it, and no worker
 * waits for the network (node_answer itself waits, bounded by the lookup's
 * deadline). defer(arg) is called during the call, at most once: it returns
 * a token for answer, or NULL when this request cannot be answered later.
 * When it gave one, this returns 0 and answer(token, ans, len) is called
 * exactly once, from any thread (len 0: no answer, the request is dropped);
 * ans is borrowed for that call.
 */
typedef struct node_later {
	void *(*defer)(void *arg);
	void *arg;
	void (*answer)(void *token, const uint8_t *ans, size_t len);
} node_later;

int node_answer_deferrable(node_worker *w, enum node_transport t, const uint8_t *req, size_t len,
                           uint8_t *out, size_t cap, const node_later *later);

/*
 * The answer to a request whose envelope announces an unacceptable message
 * length (the transport read only the envelope): a generic error, as the
 * reference sends before it drops the connection.
 */
int node_bad_envelope(const uint8_t env[PROTO_ENV_LEN], uint8_t *out, size_t cap);

#endif
