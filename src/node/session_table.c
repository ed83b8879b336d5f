/*
 * session_table.c - the table of live sessions (session_table.h).
 */
#include "node/session_table.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/limit.h"

enum {
	SWEEP = 64,        /* slots looked at for expiry per setup */
	MAX_SLOTS = 65536, /* the slot is the low 16 bits of the session id */
	DEFAULT_SLOTS = 4096,
	DEFAULT_TIME = 86400, /* the reference's default session timeout */
};

int node_sessions_new(const node_config *cfg, node_sessions **out)
{
	node_sessions *s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	s->nslots = cfg->max_sessions ? cfg->max_sessions : DEFAULT_SLOTS;
	if (s->nslots > MAX_SLOTS)
		s->nslots = MAX_SLOTS;
	s->max_time = cfg->max_session_time ? cfg->max_session_time : DEFAULT_TIME;
	s->max_auth_time = cfg->max_auth_time ? cfg->max_auth_time : 60;
	/* At most half the table: the other half is always there for authenticated ones. */
	s->unauth_max = cfg->unauth_sessions ? cfg->unauth_sessions : NODE_UNAUTH_SESSIONS;
	if (s->unauth_max > s->nslots / 2)
		s->unauth_max = s->nslots / 2 ? s->nslots / 2 : 1;
	s->per_source = cfg->unauth_sessions_per_source ? cfg->unauth_sessions_per_source
	                                                : NODE_UNAUTH_PER_SOURCE;
	s->max_held =
	    cfg->pending_auth_bytes ? cfg->pending_auth_bytes : (size_t)NODE_PENDING_AUTH_MB << 20;
	if (s->max_held < PROTO_ENV_LEN + PROTO_MSG_MAX)
		s->max_held = PROTO_ENV_LEN + PROTO_MSG_MAX;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->slots || source_tally_new(s->nslots + 1, &s->tally)) {
		free(s->slots);
		free(s);
		return IDN_ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return IDN_OK;
}

void node_sess_drop_held(node_sessions *s, struct node_sess *x)
{
	if (x->held.req)
		s->held_bytes -= x->held.len;
	free(x->held.req);
	memset(&x->held, 0, sizeof(x->held));
}

void node_sess_clear(node_sessions *s, struct node_sess *x)
{
	node_sess_drop_held(s, x);
	free(x->handle);
	OPENSSL_cleanse(x, sizeof(*x));
}

void node_sessions_free(node_sessions *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nslots; i++)
		if (s->slots[i].id)
			node_sess_clear(s, &s->slots[i]);
	free(s->slots);
	source_tally_free(s->tally);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static bool expired(const struct node_sess *x, uint32_t now)
{
	return (int32_t)(now - x->last_used) > (int32_t)x->timeout;
}

struct node_sess *node_sessions_find(node_sessions *s, uint32_t id, uint32_t now)
{
	uint32_t slot = id & 0xFFFF;
	if (!id || slot >= s->nslots || s->slots[slot].id != id)
		return NULL;
	struct node_sess *x = &s->slots[slot];
	if (expired(x, now)) {
		node_sess_clear(s, x);
		return NULL;
	}
	return x;
}

size_t node_sessions_count(node *n)
{
	node_sessions *s = n->sessions;
	uint32_t now = n->cfg.clock();
	size_t c = 0;
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < s->nslots; i++) {
		if (s->slots[i].id && expired(&s->slots[i], now))
			node_sess_clear(s, &s->slots[i]);
		c += s->slots[i].id != 0;
	}
	pthread_mutex_unlock(&s->lock);
	return c;
}

static bool older(const struct node_sess *x, const struct node_sess *than)
{
	return !than || (int32_t)(x->last_used - than->last_used) < 0;
}

/* The least recently used session not authenticated of c's source. Locked. */
static struct node_sess *lru_of(node_sessions *s, const source_count *c)
{
	struct node_sess *lru = NULL;
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct node_sess *x = &s->slots[i];
		if (x->id && !x->authenticated && source_is(c, &x->src) && older(x, lru))
			lru = x;
	}
	return lru;
}

/* Frees what expired among the next SWEEP slots; counts per source the ones not authenticated. */
static struct node_sess *tally(node_sessions *s, uint32_t now, uint32_t *unauth)
{
	for (uint32_t i = 0; i < SWEEP && i < s->nslots; i++) {
		struct node_sess *x = &s->slots[s->sweep];
		if (x->id && expired(x, now))
			node_sess_clear(s, x);
		s->sweep = (s->sweep + 1) % s->nslots;
	}
	source_tally_reset(s->tally);
	struct node_sess *free_slot = NULL;
	*unauth = 0;
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct node_sess *x = &s->slots[i];
		if (!x->id)
			free_slot = free_slot ? free_slot : x;
		else if (!x->authenticated && ++*unauth)
			source_count_add(source_tally_of(s->tally, &x->src), 0, x->last_used);
	}
	return free_slot;
}

struct node_sess *node_sessions_alloc(node_sessions *s, uint32_t now, const node_source *src)
{
	uint32_t unauth;
	struct node_sess *free_slot = tally(s, now, &unauth), *victim = NULL;
	source_count *mine = source_tally_of(s->tally, src);
	if (src->known && mine->n >= s->per_source) {
		victim = lru_of(s, mine);
		limit_hit(LIM_SESSIONS,
		          "a source with %u sessions not authenticated: its oldest evicted",
		          mine->n);
	} else if (unauth && (unauth >= s->unauth_max || !free_slot)) {
		source_count *top = source_tally_top(s->tally, false);
		victim = lru_of(s, top);
		limit_hit(
		    LIM_SESSIONS,
		    "%u sessions not authenticated: the oldest of the source holding most (%u) "
		    "evicted",
		    unauth, top->n);
	}
	if (victim) {
		node_sess_clear(s, victim);
		return victim;
	}
	if (!free_slot)
		limit_hit(LIM_SESSIONS, "a session setup refused: every session is authenticated");
	return free_slot;
}

bool node_sessions_hold_room(node_sessions *s, const struct node_sess *x, size_t len)
{
	if (len > s->max_held)
		return false;
	/* Each pass drops the held request that expires first; a few passes at most. */
	for (int pass = 0; pass < 64 && s->held_bytes + len > s->max_held; pass++) {
		struct node_sess *first = NULL;
		for (uint32_t i = 0; i < s->nslots; i++) {
			struct node_sess *y = &s->slots[i];
			if (y != x && y->id && y->held.req &&
			    (!first || (int32_t)(y->held.expires - first->held.expires) < 0))
				first = y;
		}
		if (!first)
			break;
		limit_hit(LIM_PENDING_AUTH,
		          "%zu bytes held by session challenges: the oldest "
		          "dropped",
		          s->held_bytes);
		node_sess_drop_held(s, first);
	}
	return s->held_bytes + len <= s->max_held;
}

bool node_sess_counter_accept(struct node_sess *x, uint32_t c, bool enforce)
{
	if (c == 0)
		return !enforce;
	if (c > x->ctr_high) {
		uint32_t shift = c - x->ctr_high;
		if (shift >= SESSION_WINDOW) {
			memset(x->ctr_win, 0, sizeof(x->ctr_win));
		} else {
			for (uint32_t k = 0; k < shift; k++) {
				/* shift the bitmap up by one: bit i -> bit i + 1 */
				for (int w = SESSION_WINDOW / 64 - 1; w >= 0; w--) {
					x->ctr_win[w] <<= 1;
					if (w > 0)
						x->ctr_win[w] |= x->ctr_win[w - 1] >> 63;
				}
			}
		}
		x->ctr_high = c;
		x->ctr_win[0] |= 1;
		return true;
	}
	uint32_t age = x->ctr_high - c;
	if (age >= SESSION_WINDOW)
		return !enforce;
	uint64_t bit = (uint64_t)1 << (age % 64);
	bool seen = x->ctr_win[age / 64] & bit;
	x->ctr_win[age / 64] |= bit;
	return !(seen && enforce);
}

uint32_t node_sessions_next_counter(node_sessions *s, uint32_t id, uint32_t now)
{
	pthread_mutex_lock(&s->lock);
	struct node_sess *x = node_sessions_find(s, id, now);
	uint32_t c = x ? ++x->out_ctr : 0;
	pthread_mutex_unlock(&s->lock);
	return c;
}
