/*
 * lcache.c - the direct-mapped lookup cache of a read transaction (lcache.h).
 */
#include "store/lcache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
	uint32_t gen; /* the generation it was filled in; 0 = never */
	uint32_t vlen;
	const uint8_t *val; /* NULL: the key is absent */
	uint8_t klen;
	uint8_t key[LCACHE_KEY_MAX];
} slot;

_Static_assert(sizeof(slot) == LCACHE_SLOT, "one slot, one cache line");

struct lcache {
	slot *slots;
	size_t mask;      /* slots - 1 (a power of two) */
	size_t max_slots; /* the bound, in slots */
	size_t fills;     /* new entries since the table was made */
	uint32_t gen;     /* the current view's; never 0 */
	uint64_t snapshot, epoch, root;
	bool viewed; /* snapshot and epoch name a view */
	/* the key of the last miss and its hash: lcache_put of it hashes no more */
	const uint8_t *miss_p;
	size_t miss_len, miss_hash;
};

static size_t floor_pow2(size_t n)
{
	size_t p = 1;
	while (p <= n / 2)
		p *= 2;
	return p;
}

lcache *lcache_new(size_t max_bytes)
{
	lcache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->max_slots = floor_pow2(max_bytes / LCACHE_SLOT ? max_bytes / LCACHE_SLOT : 1);
	size_t n = floor_pow2(LCACHE_START_BYTES / LCACHE_SLOT);
	if (n > c->max_slots)
		n = c->max_slots;
	c->slots = calloc(n, sizeof(slot));
	if (!c->slots) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->gen = 1;
	return c;
}

void lcache_free(lcache *c)
{
	if (!c)
		return;
	free(c->slots);
	free(c);
}

/* A new generation: every slot filled before is stale. */
static void forget_all(lcache *c)
{
	if (++c->gen == 0) { /* wrapped: old tags could match again */
		memset(c->slots, 0, (c->mask + 1) * sizeof(slot));
		c->gen = 1;
	}
}

void lcache_view(lcache *c, uint64_t snapshot, uint64_t epoch, uint64_t root)
{
	if (c->viewed && c->snapshot == snapshot && c->epoch == epoch && c->root == root)
		return;
	forget_all(c);
	c->snapshot = snapshot;
	c->epoch = epoch;
	c->root = root;
	c->viewed = true;
}

/* Mixes 8 bytes at a time; any fixed function does, as a hit compares the key. */
static size_t hash_key(idn_slice key)
{
	uint64_t h = 0x9E3779B97F4A7C15u ^ key.len, x;
	size_t i = 0;
	for (; i + 8 <= key.len; i += 8) {
		memcpy(&x, key.p + i, 8);
		h = (h ^ x) * 0xBF58476D1CE4E5B9u;
		h ^= h >> 31;
	}
	if (i < key.len) {
		x = 0;
		for (unsigned sh = 0; i < key.len; i++, sh += 8) /* no call for the tail */
			x |= (uint64_t)key.p[i] << sh;
		h = (h ^ x) * 0x94D049BB133111EBu;
	}
	h ^= h >> 29;
	return (size_t)h;
}

int lcache_get(lcache *c, idn_slice key, idn_slice *val)
{
	if (key.len > LCACHE_KEY_MAX || !c->viewed)
		return 0;
	size_t h = hash_key(key);
	const slot *s = &c->slots[h & c->mask];
	if (s->gen != c->gen || s->klen != key.len || memcmp(s->key, key.p, key.len) != 0) {
		c->miss_p = key.p;
		c->miss_len = key.len;
		c->miss_hash = h;
		return 0;
	}
	*val = idn_slice_of(s->val, s->val ? s->vlen : 0);
	return 1;
}

/* The working set outgrew the table: a table twice as large, empty, up to the bound. */
static void maybe_grow(lcache *c)
{
	size_t n = c->mask + 1;
	if (c->fills <= n || n >= c->max_slots)
		return;
	slot *bigger = calloc(2 * n, sizeof(slot));
	if (!bigger)
		return; /* keep the table it has */
	free(c->slots);
	c->slots = bigger;
	c->mask = 2 * n - 1;
	c->fills = 0;
	c->gen = 1;
}

void lcache_put(lcache *c, idn_slice key, idn_slice val)
{
	if (key.len > LCACHE_KEY_MAX || !c->viewed || val.len > UINT32_MAX)
		return;
	maybe_grow(c);
	size_t h = key.p == c->miss_p && key.len == c->miss_len ? c->miss_hash : hash_key(key);
	c->miss_p = NULL;
	slot *s = &c->slots[h & c->mask];
	s->gen = c->gen;
	s->val = val.p;
	s->vlen = (uint32_t)val.len;
	s->klen = (uint8_t)key.len;
	memcpy(s->key, key.p, key.len);
	c->fills++;
}

size_t lcache_bytes(const lcache *c)
{
	return (c->mask + 1) * sizeof(slot);
}
