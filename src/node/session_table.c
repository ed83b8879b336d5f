/*
 * session_table.c - the table of live sessions (session_table.h).
 */
#include "node/session_table.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

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
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return IDN_ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return IDN_OK;
}

void node_sess_clear(struct node_sess *x)
{
	free(x->handle);
	free(x->held.req);
	OPENSSL_cleanse(x, sizeof(*x));
}

void node_sessions_free(node_sessions *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nslots; i++)
		if (s->slots[i].id)
			node_sess_clear(&s->slots[i]);
	free(s->slots);
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
		node_sess_clear(x);
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
			node_sess_clear(&s->slots[i]);
		c += s->slots[i].id != 0;
	}
	pthread_mutex_unlock(&s->lock);
	return c;
}

struct node_sess *node_sessions_alloc(node_sessions *s, uint32_t now)
{
	for (uint32_t i = 0; i < SWEEP && i < s->nslots; i++) {
		struct node_sess *x = &s->slots[s->sweep];
		if (x->id && expired(x, now))
			node_sess_clear(x);
		s->sweep = (s->sweep + 1) % s->nslots;
	}
	struct node_sess *lru = NULL;
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct node_sess *x = &s->slots[i];
		if (!x->id)
			return x;
		if (!lru || (int32_t)(x->last_used - lru->last_used) < 0)
			lru = x;
	}
	node_sess_clear(lru);
	return lru;
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
