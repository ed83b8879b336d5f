/*
 * demo.h - what `idnode demo` (cmd_demo.c) takes from demo_history.c: the
 * back-filled, deterministic statistics history its consoles show
 * (docs/console.md).
 */
#ifndef IDN_CLI_DEMO_H
#define IDN_CLI_DEMO_H

#include <stddef.h>
#include <stdint.h>

#include "node/stats.h"

enum { DEMO_ENTS_MAX = 16, DEMO_HISTORY_DAYS = 30 };

/* An enterprise of the history: its prefix and its weight (1, 2, 3...: bigger is busier). */
typedef struct demo_ent {
	const char *prefix;
	unsigned weight;
} demo_ent;

/* The counters of day i (0 the oldest) of an enterprise, the day being unix time / 86400. */
void demo_history_day(unsigned weight, unsigned scale, unsigned i, uint32_t day,
                      uint64_t c[NST_COUNT]);

/*
 * Writes `days` days up to now's (inclusive) of history for ents into the
 * store at data (which must exist and not be open elsewhere), and their
 * industries' sums, in one transaction. 0, or an error with err saying why.
 */
int demo_history(const char *data, const demo_ent *ents, size_t n, unsigned scale, unsigned days,
                 uint32_t now, char *err, size_t errlen);

#endif
