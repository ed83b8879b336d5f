/*
 * source_tally.c - counts per source (source_tally.h).
 */
#include "node/source_tally.h"

#include <stdlib.h>
#include <string.h>

struct source_tally {
	source_count *c;
	size_t cap; /* a power of two >= 2 * max */
	uint32_t gen;
};

int source_tally_new(size_t max, source_tally **out)
{
	source_tally *t = calloc(1, sizeof(*t));
	if (!t)
		return IDN_ENOMEM;
	for (t->cap = 16; t->cap < max * 2;)
		t->cap <<= 1;
	t->c = calloc(t->cap, sizeof(*t->c));
	if (!t->c) {
		free(t);
		return IDN_ENOMEM;
	}
	t->gen = 1;
	*out = t;
	return IDN_OK;
}

void source_tally_free(source_tally *t)
{
	if (!t)
		return;
	free(t->c);
	free(t);
}

void source_tally_reset(source_tally *t)
{
	if (++t->gen == 0) { /* (a wrap: no old count may look current) */
		memset(t->c, 0, t->cap * sizeof(*t->c));
		t->gen = 1;
	}
}

source_count *source_tally_of(source_tally *t, const node_source *src)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < sizeof(src->addr); i++)
		h = (h ^ src->addr[i]) * 0x100000001b3ull;
	for (size_t i = (size_t)(h >> 16) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		source_count *x = &t->c[i];
		if (x->gen != t->gen) {
			*x = (source_count){.gen = t->gen};
			memcpy(x->addr, src->addr, sizeof(x->addr));
			return x;
		}
		if (source_is(x, src))
			return x;
	}
}

void source_count_add(source_count *c, size_t bytes, int64_t age)
{
	if (!c->n || age < c->oldest)
		c->oldest = age;
	c->n++;
	c->bytes += bytes;
}

source_count *source_tally_top(source_tally *t, bool by_bytes)
{
	source_count *top = NULL;
	for (size_t i = 0; i < t->cap; i++) {
		source_count *x = &t->c[i];
		if (x->gen != t->gen || !x->n)
			continue;
		size_t a = by_bytes ? x->bytes : x->n,
		       b = top ? (by_bytes ? top->bytes : top->n) : 0;
		if (!top || a > b || (a == b && x->oldest < top->oldest))
			top = x;
	}
	return top;
}

bool source_is(const source_count *c, const node_source *src)
{
	return !memcmp(c->addr, src->addr, sizeof(c->addr));
}
