/*
 * login_guard.c - the table of failed logins (login_guard.h).
 */
#include "node/login_guard.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { BASE_MS = 1000, FORGET_MIN_MS = 600000 };

struct entry { /* 56 bytes on 64-bit targets (the help of login-entries says so) */
	uint8_t addr[16];
	uint64_t account; /* 0: the address alone */
	uint32_t failures;
	int64_t last;  /* the last failure, or success */
	int64_t until; /* no attempt before */
	bool ok;       /* a pair whose last attempt succeeded */
	bool used;
};

struct login_guard {
	pthread_mutex_t lock;
	struct entry *e;
	uint32_t mask; /* sets - 1 */
	login_guard_cfg cfg;
	int64_t forget_ms;
};

int login_guard_new(const login_guard_cfg *cfg, login_guard **out)
{
	login_guard *g = calloc(1, sizeof(*g));
	if (!g)
		return IDN_ENOMEM;
	uint32_t sets = 1;
	while (sets * LOGIN_WAYS < cfg->entries && sets < (1u << 20))
		sets <<= 1;
	g->e = calloc((size_t)sets * LOGIN_WAYS, sizeof(*g->e));
	if (!g->e) {
		free(g);
		return IDN_ENOMEM;
	}
	g->mask = sets - 1;
	g->cfg = *cfg;
	if (!g->cfg.backoff_max_ms)
		g->cfg.backoff_max_ms = BASE_MS;
	g->forget_ms = (int64_t)g->cfg.backoff_max_ms * 10;
	if (g->forget_ms < FORGET_MIN_MS)
		g->forget_ms = FORGET_MIN_MS;
	pthread_mutex_init(&g->lock, NULL);
	*out = g;
	return IDN_OK;
}

void login_guard_free(login_guard *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g->e);
	free(g);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

uint64_t login_account(idn_slice handle, uint32_t index)
{
	uint8_t ib[4] = {(uint8_t)(index >> 24), (uint8_t)(index >> 16), (uint8_t)(index >> 8),
	                 (uint8_t)index};
	uint64_t h = fnv(0xcbf29ce484222325ull, ib, sizeof(ib));
	return fnv(h, handle.p, handle.len) | 1;
}

/* The entry of (src, account): found, else (make) the set's stalest one; NULL when !make. */
static struct entry *lookup(login_guard *g, const node_source *src, uint64_t account, int64_t now,
                            bool make)
{
	uint64_t h = fnv(account * 0x9e3779b97f4a7c15ull, src->addr, sizeof(src->addr));
	struct entry *set = &g->e[(size_t)((h >> 17) & g->mask) * LOGIN_WAYS], *old = NULL;
	for (int i = 0; i < LOGIN_WAYS; i++) {
		struct entry *x = &set[i];
		if (x->used && now - x->last > g->forget_ms)
			memset(x, 0, sizeof(*x));
		if (x->used && x->account == account && !memcmp(x->addr, src->addr, 16))
			return x;
		if (!old || (!x->used && old->used) ||
		    (x->used && old->used && x->last < old->last))
			old = x;
	}
	if (!make)
		return NULL;
	memset(old, 0, sizeof(*old));
	memcpy(old->addr, src->addr, 16);
	old->account = account;
	old->used = true;
	old->last = now;
	return old;
}

int64_t login_guard_wait(login_guard *g, const node_source *src, uint64_t account, int64_t now)
{
	pthread_mutex_lock(&g->lock);
	struct entry *pair = lookup(g, src, account, now, false);
	struct entry *addr = lookup(g, src, 0, now, false);
	int64_t wait = pair ? pair->until - now : 0;
	/* An account that logged in from this address lately is not held back by others' failures.
	 */
	if (addr && !(pair && pair->ok) && addr->until - now > wait)
		wait = addr->until - now;
	pthread_mutex_unlock(&g->lock);
	return wait > 0 ? wait : 0;
}

void login_guard_failed(login_guard *g, const node_source *src, uint64_t account, int64_t now)
{
	pthread_mutex_lock(&g->lock);
	for (int k = 0; k < 2; k++) {
		struct entry *x = lookup(g, src, k ? account : 0, now, true);
		uint32_t free_n = g->cfg.free_failures * (k ? 1 : LOGIN_ADDR_FACTOR);
		if (x->failures < UINT32_MAX)
			x->failures++;
		x->last = now;
		x->ok = false;
		if (x->failures <= free_n)
			continue;
		uint32_t over = x->failures - free_n - 1;
		int64_t wait = (int64_t)BASE_MS << (over < 30 ? over : 30);
		x->until = now + (wait < g->cfg.backoff_max_ms ? wait : g->cfg.backoff_max_ms);
	}
	pthread_mutex_unlock(&g->lock);
}

void login_guard_succeeded(login_guard *g, const node_source *src, uint64_t account, int64_t now)
{
	pthread_mutex_lock(&g->lock);
	struct entry *x = lookup(g, src, account, now, true);
	x->failures = 0;
	x->until = 0;
	x->last = now;
	x->ok = true;
	pthread_mutex_unlock(&g->lock);
}
