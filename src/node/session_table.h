/*
 * session_table.h - the table of live sessions the node keeps (node/session.h
 * answers the requests that use it): what one session holds, how it is
 * found, replaced when the table is full, and how its counters go.
 *
 * Threads: the table is shared by all workers behind its lock; the functions
 * marked "Locked" must be called with it held, and the struct node_sess they
 * return lives only until it is released.
 *
 * Ownership: node_sessions is created by node_new() and freed by node_free().
 */
#ifndef IDN_NODE_SESSION_TABLE_H
#define IDN_NODE_SESSION_TABLE_H

#include <pthread.h>

#include "auth/session_crypto.h"
#include "node/internal.h"
#include "node/source_tally.h"

enum {
	SESSION_NONCE_LEN = 16,
	SESSION_WINDOW = 256, /* counters remembered below the highest one */
};

/* A request held by the challenge of step 2. */
struct node_held {
	bool live;
	const node_op *op; /* the held request's row of the opcode table */
	uint32_t expires;
	uint8_t nonce[SESSION_NONCE_LEN];
	uint8_t hash;
	uint8_t digest[PROTO_DIGEST_MAX];
	uint8_t *req; /* envelope + plaintext message, owned */
	size_t len;
	uint8_t minor;
};

struct node_sess {
	uint32_t id; /* 0: free slot */
	uint8_t key[AUTH_SESSION_KEY_LEN];
	uint8_t klen;
	bool authenticated;
	uint8_t *handle; /* identity named at setup (NULL: anonymous), owned */
	uint32_t hlen;
	uint32_t index;
	uint32_t last_used, timeout;
	uint32_t ctr_high;
	uint64_t ctr_win[SESSION_WINDOW / 64]; /* bit i: counter ctr_high - i seen */
	uint32_t out_ctr;
	struct node_held held;
	node_source src; /* who set it up */
};

struct node_sessions {
	pthread_mutex_t lock;
	struct node_sess *slots;
	uint32_t nslots;
	uint32_t max_time;
	uint32_t max_auth_time;
	uint32_t sweep;
	uint32_t unauth_max;         /* sessions not authenticated held at once */
	uint32_t per_source;         /* ... per source */
	size_t held_bytes, max_held; /* bytes of requests held by challenges (step 2) */
	source_tally *tally;         /* sessions not authenticated per source */
};

typedef struct node_sessions node_sessions;

int node_sessions_new(const node_config *cfg, node_sessions **out);
void node_sessions_free(node_sessions *s);
/* Live sessions (after dropping expired ones), for tests and statistics. */
size_t node_sessions_count(node *n);

/* The live session with this id, or NULL (an expired one is dropped). Locked. */
struct node_sess *node_sessions_find(node_sessions *s, uint32_t id, uint32_t now);
/*
 * A free slot for a new (not yet authenticated) session from src. Expired
 * ones are freed first. When src already holds its share of the sessions
 * not authenticated, its least recently used one gives way; when the
 * sessions not authenticated are at their bound, or the table is full, the
 * least recently used one of the source holding the most of them gives way
 * (so one client's setup outlives a flood from others). An authenticated session never
 * does: NULL when every slot holds one. Locked.
 */
struct node_sess *node_sessions_alloc(node_sessions *s, uint32_t now, const node_source *src);
/*
 * Makes room for a held request of len bytes (node_held) within max_held,
 * dropping the oldest held requests of other sessions (not x's); false when
 * it cannot. Locked.
 */
bool node_sessions_hold_room(node_sessions *s, const struct node_sess *x, size_t len);
/* Frees what a session owns and wipes its key. Locked. */
void node_sess_clear(node_sessions *s, struct node_sess *x);
/* Frees the request x holds for its challenge, if any. Locked. */
void node_sess_drop_held(node_sessions *s, struct node_sess *x);
/* Records counter c; false when it was seen before or is older than the window. Locked. */
bool node_sess_counter_accept(struct node_sess *x, uint32_t c, bool enforce);
/* The session's next answer counter (0 once the session is gone). Takes the lock. */
uint32_t node_sessions_next_counter(node_sessions *s, uint32_t id, uint32_t now);

#endif
