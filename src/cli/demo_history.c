/*
 * demo_history.c - `idnode demo`'s history for the console (docs/console.md):
 * days of plausible statistics back-filled into a node's store before it
 * starts, written with node_stats_add() (the statistics writer's own store
 * function) as day buckets of each enterprise prefix and of its industry.
 *
 * The generator is deterministic: nothing random, the same days and the
 * same numbers for the same prefix, scale and date. For day i of n (0 the
 * oldest, n - 1 today) and an enterprise of weight w (its place in the
 * demo's table):
 *
 *   registered  = w * 40 * scale/100 * (100 + 2i)/100 * weekday%   (a growth
 *                 of 2 % a day over the period; Saturday 60 %, Sunday 50 %)
 *   resolutions = 25 * registered, split UDP 70 %, TCP 10 %, HTTP 20 %;
 *                 each 95 % found, 4 % not found, the rest referred
 *   modified    = registered / 10, deleted = registered / 50
 *   auth_ok     = registered / 20 + 1, auth_failed = 1 every fifth day
 *   held        = w * 500 * scale/100 at the start, plus registered minus
 *                 deleted day by day
 *
 * The node's own counting adds to today's bucket as it runs. The history
 * is marked as demo data by the record <prefix>/DEMO-STATISTICS the demo
 * loads beside it (cmd_demo.c), whose DESC says which days are made up.
 */
#include <stdio.h>
#include <string.h>

#include "cli/demo.h"
#include "core/err.h"
#include "node/stats.h"
#include "store/store.h"

/* Percent of a weekday's activity, Monday first (1970-01-01, day 0, was a Thursday). */
static const unsigned weekday_pct[7] = {100, 104, 108, 106, 102, 60, 50};

void demo_history_day(unsigned weight, unsigned scale, unsigned i, uint32_t day,
                      uint64_t c[NST_COUNT])
{
	memset(c, 0, sizeof(uint64_t) * NST_COUNT);
	uint64_t reg = (uint64_t)weight * 40 * scale / 100;
	reg = reg * (100 + 2 * i) / 100 * weekday_pct[(day + 3) % 7] / 100;
	uint64_t res = 25 * reg;
	static const unsigned share[3] = {70, 10, 20}; /* udp, tcp, http */
	c[NST_REGISTERED] = reg;
	c[NST_MODIFIED] = reg / 10;
	c[NST_DELETED] = reg / 50;
	for (unsigned tr = 0; tr < 3; tr++) {
		uint64_t n = res * share[tr] / 100;
		uint64_t found = n * 95 / 100, missing = n * 4 / 100;
		c[NST_RES_FIRST + tr * 3 + NST_FOUND] = found;
		c[NST_RES_FIRST + tr * 3 + NST_NOT_FOUND] = missing;
		c[NST_RES_FIRST + tr * 3 + NST_REFERRED] = n - found - missing;
	}
	c[NST_AUTH_OK] = reg / 20 + 1;
	c[NST_AUTH_FAIL] = i % 5 == 0;
}

/* The industry's buckets: the sum of its enterprises' (held too), day by day. */
typedef struct ind_sum {
	char name[NODE_STATS_KEY_MAX + 1];
	uint64_t held;
	uint64_t c[NST_COUNT];
} ind_sum;

static ind_sum *ind_of(ind_sum *ind, size_t *nind, size_t max, const char *prefix)
{
	size_t il = node_stats_industry(prefix, strlen(prefix));
	for (size_t k = 0; k < *nind; k++)
		if (strlen(ind[k].name) == il && !memcmp(ind[k].name, prefix, il))
			return &ind[k];
	if (*nind == max || il > NODE_STATS_KEY_MAX)
		return NULL;
	ind_sum *e = &ind[(*nind)++];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, prefix, il);
	return e;
}

/* Day i's buckets of every enterprise and their industries, in t. */
static int write_day(store_txn *t, const demo_ent *ents, size_t n, unsigned scale, unsigned i,
                     uint32_t day, uint64_t *held)
{
	ind_sum ind[DEMO_ENTS_MAX];
	size_t nind = 0;
	int ret = IDN_OK;
	for (size_t e = 0; e < n && !ret; e++) {
		uint64_t c[NST_COUNT];
		demo_history_day(ents[e].weight, scale, i, day, c);
		held[e] += c[NST_REGISTERED] - c[NST_DELETED];
		ret = node_stats_add(t, false, false, day, ents[e].prefix, held[e], c);
		ind_sum *s = ret ? NULL : ind_of(ind, &nind, DEMO_ENTS_MAX, ents[e].prefix);
		if (!s)
			continue;
		s->held += held[e];
		for (int k = 0; k < NST_COUNT; k++)
			s->c[k] += c[k];
	}
	for (size_t k = 0; k < nind && !ret; k++)
		ret = node_stats_add(t, false, true, day, ind[k].name, ind[k].held, ind[k].c);
	return ret;
}

int demo_history(const char *data, const demo_ent *ents, size_t n, unsigned scale, unsigned days,
                 uint32_t now, char *err, size_t errlen)
{
	if (n > DEMO_ENTS_MAX || !days) {
		snprintf(err, errlen, "at most %d enterprises, at least one day", DEMO_ENTS_MAX);
		return IDN_EINVAL;
	}
	store *s;
	store_opts so = {.must_exist = true};
	int ret = store_open(data, &so, &s);
	if (ret) {
		snprintf(err, errlen, "%s: cannot open the store: %s", data, idn_strerror(ret));
		return ret;
	}
	store_txn *t = NULL;
	ret = store_txn_begin(s, 0, &t);
	uint64_t held[DEMO_ENTS_MAX];
	for (size_t e = 0; e < n; e++)
		held[e] = (uint64_t)ents[e].weight * 500 * scale / 100;
	uint32_t today = now / 86400;
	for (unsigned i = 0; i < days && !ret; i++)
		ret = write_day(t, ents, n, scale, i, today - (days - 1 - i), held);
	if (!ret)
		ret = store_txn_commit(t);
	else if (t)
		store_txn_abort(t);
	if (ret)
		snprintf(err, errlen, "%s: writing the statistics: %s", data, idn_strerror(ret));
	store_close(s);
	return ret;
}
