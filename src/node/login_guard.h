/*
 * login_guard.h - failed logins slowed down per client address and per
 * (account, address): the bounded table behind node_login_wait() and
 * node_login_result() (node.h).
 *
 * Each key (an address alone, or an account at an address) counts its
 * failures. Past the free failures (free_failures for a pair, four times as
 * many for an address alone) every further attempt must wait a back-off that
 * starts at one second and doubles per failure up to backoff_max_ms; an
 * attempt made while it runs is refused without being checked (and counts
 * nothing). A success clears the pair's count and marks it: until its next
 * failure, or the forget time, that account at that address is held back
 * only by its own failures, not by the address's (others behind the same
 * address guessing). A key whose last failure (or success) is older than
 * the forget time (ten times the cap, at least ten minutes) starts again
 * from zero.
 *
 * Counting per (account, address), not per account, means an attacker at one
 * address never locks the account's owner out at another.
 *
 * The table has a fixed number of entries in sets of LOGIN_WAYS; a new key
 * takes its set's entry whose last failure is the oldest. Time is passed in
 * (monotonic milliseconds) so tests drive it. Thread-safe (one mutex).
 */
#ifndef IDN_NODE_LOGIN_GUARD_H
#define IDN_NODE_LOGIN_GUARD_H

#include <stdint.h>

#include "node/node.h"

enum { LOGIN_WAYS = 8, LOGIN_ADDR_FACTOR = 4 };

typedef struct login_guard login_guard;

typedef struct login_guard_cfg {
	uint32_t entries;        /* rounded up to a power of two, at least LOGIN_WAYS */
	uint32_t free_failures;  /* failures of a pair before the back-off */
	uint32_t backoff_max_ms; /* the longest back-off */
} login_guard_cfg;

int login_guard_new(const login_guard_cfg *cfg, login_guard **out);
void login_guard_free(login_guard *g);

/*
 * Milliseconds the attempt of account (a non-zero hash) from src must still
 * wait, the longer of the address's and the pair's; 0: go ahead.
 */
int64_t login_guard_wait(login_guard *g, const node_source *src, uint64_t account, int64_t now);
/* A failed attempt: counts it for the address and the pair. */
void login_guard_failed(login_guard *g, const node_source *src, uint64_t account, int64_t now);
/* A successful one: the pair starts again from zero, exempt from the address's back-off. */
void login_guard_succeeded(login_guard *g, const node_source *src, uint64_t account, int64_t now);

/* The account key of index:handle (never 0). */
uint64_t login_account(idn_slice handle, uint32_t index);

#endif
