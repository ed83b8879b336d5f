/*
 * holddown.c - the bounded table of upstream servers held down after a
 * timeout: linear search under one mutex (the table is small and only
 * upstream questions consult it). See holddown.h.
 */
#include "resolver/holddown.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/limit.h"

struct hd_entry {
	uint8_t key[HOLDDOWN_KEY_MAX];
	uint8_t klen; /* 0: a free slot */
	bool probing; /* a question is out after the interval passed */
	int64_t until;
	unsigned interval;
	uint32_t since;
};

struct holddown {
	holddown_opts o;
	pthread_mutex_t mu;
	struct hd_entry *e;
};

static uint32_t wall_now(void)
{
	return (uint32_t)time(NULL);
}

int holddown_new(const holddown_opts *o, holddown **out)
{
	holddown *h = calloc(1, sizeof(*h));
	if (!h)
		return IDN_ENOMEM;
	h->o = *o;
	if (!h->o.max)
		h->o.max = 256;
	if (!h->o.first_ms)
		h->o.first_ms = 1000;
	if (!h->o.max_ms)
		h->o.max_ms = 60000;
	if (h->o.max_ms < h->o.first_ms)
		h->o.max_ms = h->o.first_ms;
	if (!h->o.now_ms)
		h->o.now_ms = limit_now_ms;
	if (!h->o.wall)
		h->o.wall = wall_now;
	if (!(h->e = calloc(h->o.max, sizeof(*h->e)))) {
		free(h);
		return IDN_ENOMEM;
	}
	pthread_mutex_init(&h->mu, NULL);
	*out = h;
	return IDN_OK;
}

void holddown_free(holddown *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h->e);
	free(h);
}

static struct hd_entry *find(holddown *h, const void *key, size_t klen)
{
	for (unsigned i = 0; i < h->o.max; i++)
		if (h->e[i].klen == klen && !memcmp(h->e[i].key, key, klen))
			return &h->e[i];
	return NULL;
}

bool holddown_may_ask(holddown *h, const void *key, size_t klen, uint32_t *since)
{
	if (!klen || klen > HOLDDOWN_KEY_MAX)
		return true;
	bool ok = true;
	pthread_mutex_lock(&h->mu);
	struct hd_entry *e = find(h, key, klen);
	if (e) {
		int64_t now = h->o.now_ms();
		if (now >= e->until && !e->probing) {
			e->probing = true; /* this question is the probe */
		} else {
			ok = false;
			if (since)
				*since = e->since;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return ok;
}

/* A free slot, else the one whose hold-down ends first (not one being probed, if any). */
static struct hd_entry *take_slot(holddown *h)
{
	struct hd_entry *best = NULL;
	for (unsigned i = 0; i < h->o.max; i++) {
		struct hd_entry *e = &h->e[i];
		if (!e->klen)
			return e;
		/* A probed one keeps its interval: its result doubles it (or forgets it). */
		if (!best || (best->probing && !e->probing) ||
		    (best->probing == e->probing && e->until < best->until))
			best = e;
	}
	return best;
}

void holddown_result(holddown *h, const void *key, size_t klen, bool answered)
{
	if (!klen || klen > HOLDDOWN_KEY_MAX)
		return;
	pthread_mutex_lock(&h->mu);
	struct hd_entry *e = find(h, key, klen);
	int64_t now = h->o.now_ms();
	if (answered) {
		if (e)
			e->klen = 0;
	} else if (!e) {
		e = take_slot(h);
		*e = (struct hd_entry){.klen = (uint8_t)klen,
		                       .until = now + h->o.first_ms,
		                       .interval = h->o.first_ms,
		                       .since = h->o.wall()};
		memcpy(e->key, key, klen);
	} else if (e->probing) {
		e->probing = false;
		e->interval = e->interval > h->o.max_ms / 2 ? h->o.max_ms : e->interval * 2;
		e->until = now + e->interval;
	}
	pthread_mutex_unlock(&h->mu);
}

size_t holddown_count(holddown *h)
{
	size_t n = 0;
	pthread_mutex_lock(&h->mu);
	int64_t now = h->o.now_ms();
	for (unsigned i = 0; i < h->o.max; i++)
		n += h->e[i].klen && now < h->e[i].until;
	pthread_mutex_unlock(&h->mu);
	return n;
}
