/* stats_map.c - the background side's table of prefixes and counts (node/stats_map.h). */
#include "node/stats_map.h"

#include <stdlib.h>
#include <string.h>

#include "core/limit.h"

int stats_map_init(stats_map *m, uint32_t max)
{
	uint32_t cap = 16;
	while (cap < 2 * (max + 1))
		cap <<= 1;
	m->e = calloc(cap, sizeof(stats_ent));
	m->idx = malloc(((size_t)max + 1) * sizeof(uint32_t));
	m->mask = cap - 1;
	m->n = 0;
	m->max = max;
	if (m->e && m->idx)
		return IDN_OK;
	stats_map_fini(m);
	return IDN_ENOMEM;
}

void stats_map_fini(stats_map *m)
{
	free(m->e);
	free(m->idx);
	m->e = NULL;
	m->idx = NULL;
}

void stats_map_clear(stats_map *m)
{
	for (uint32_t k = 0; k < m->n; k++)
		memset(stats_map_at(m, k), 0, sizeof(stats_ent));
	m->n = 0;
}

static uint32_t hash(const char *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)k[i]) * 16777619u;
	return h;
}

static stats_ent *lookup(const stats_map *m, const char *k, size_t n)
{
	for (uint32_t i = hash(k, n) & m->mask;; i = (i + 1) & m->mask) {
		stats_ent *e = &m->e[i];
		if (!e->used || (e->klen == n && !memcmp(e->key, k, n)))
			return e;
	}
}

stats_ent *stats_map_find(const stats_map *m, const char *k, size_t n)
{
	if (n > NODE_STATS_KEY_MAX)
		return NULL;
	stats_ent *e = lookup(m, k, n);
	return e->used ? e : NULL;
}

stats_ent *stats_map_get(stats_map *m, const char *k, size_t n)
{
	static const char other[] = NODE_STATS_OTHER;
	bool is_other = n == sizeof(other) - 1 && !memcmp(k, other, n);
	if (n > NODE_STATS_KEY_MAX || (m->n >= m->max && !is_other && !stats_map_find(m, k, n))) {
		if (!is_other)
			limit_hit(LIM_STATS_PREFIXES, "a prefix counted under \"%s\": %u tracked",
			          other, m->max);
		k = other;
		n = sizeof(other) - 1;
	}
	stats_ent *e = lookup(m, k, n);
	if (!e->used) {
		m->idx[m->n] = (uint32_t)(e - m->e);
		e->used = true;
		e->klen = (uint8_t)n;
		memcpy(e->key, k, n);
		e->key[n] = 0;
		m->n++;
	}
	return e;
}

void stats_map_add(stats_map *m, const char *k, size_t n, const uint64_t c[NST_COUNT])
{
	bool any = false;
	for (int i = 0; i < NST_COUNT; i++)
		any |= c[i] != 0;
	if (!any)
		return;
	stats_ent *e = stats_map_get(m, k, n);
	for (int i = 0; i < NST_COUNT; i++)
		e->c[i] += c[i];
}

void stats_map_merge(stats_map *into, const stats_map *from)
{
	for (uint32_t k = 0; k < from->n; k++) {
		const stats_ent *e = stats_map_at(from, k);
		stats_map_add(into, e->key, e->klen, e->c);
	}
}
