/*
 * rrl.h - response rate limiting per source prefix (docs/security.md, "UDP:
 * answer budget and response rate limiting"), as Knot's and NSD's RRL.
 *
 * One fixed table of buckets shared by every worker thread, made once at
 * start: a source's IPv4 /24 or IPv6 /56 is hashed (with a seed drawn at
 * start, so a stranger cannot aim at one bucket) to one bucket; sources that
 * collide share it. A bucket is one 64-bit word, the "theoretical arrival
 * time" of the generic cell rate algorithm: a token bucket of `rate` answers
 * per second holding at most `burst` answers, taken with one compare-and-swap.
 * No lock, no allocation, no system call per packet; the caller passes the
 * time (any monotonic nanoseconds), so the logic is testable with a clock of
 * its own.
 */
#ifndef IDN_NET_RRL_H
#define IDN_NET_RRL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/limit.h"

/* A network the rate limit does not apply to (net_rrl_exempt_add). */
typedef struct net_rrl_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned bits;
	uint8_t addr[16];
} net_rrl_net;

enum { NET_RRL_EXEMPT_MAX = 64 };

typedef struct net_rrl {
	_Atomic uint64_t *tat; /* nbuckets; NULL when rate limiting is off */
	net_rrl_net exempt[NET_RRL_EXEMPT_MAX];
	size_t nexempt;
	uint64_t mask; /* nbuckets - 1 */
	uint64_t seed;
	uint64_t interval_ns; /* one answer's worth of time: 1 s / rate */
	uint64_t burst_ns;    /* burst answers' worth */
} net_rrl;

enum { NET_RRL_BUCKETS_DEF = 1 << 16 };

/*
 * rate answers per second per prefix (0: off, net_rrl_take always true),
 * burst answers at once at most (0 = rate: one second's worth), nbuckets a
 * power of two (0 = NET_RRL_BUCKETS_DEF). Returns 0, IDN_EINVAL or
 * IDN_ENOMEM.
 */
int net_rrl_init(net_rrl *r, unsigned rate, unsigned burst, unsigned nbuckets, uint64_t seed);
void net_rrl_free(net_rrl *r);

static inline bool net_rrl_on(const net_rrl *r)
{
	return r->tat != NULL;
}

/*
 * The source prefix of sa as a 64-bit key: the family, and the address's
 * first 24 (IPv4) or 56 (IPv6) bits; an IPv4-mapped IPv6 address counts as
 * its IPv4 /24. Other families give 0.
 */
uint64_t net_rrl_prefix(const struct sockaddr *sa);

/*
 * limit_hit(id, ...) with the source prefix in its detail: "source
 * 192.0.2.0/24: <what> <n>". The prefix is formatted only when the line is
 * logged, so a flood costs a counter, not a printf per packet.
 */
void net_rrl_hit(enum idn_limit_id id, uint64_t prefix, const char *what, unsigned long n);

/*
 * Adds a network not rate limited, "ADDR/BITS" or "ADDR" (all its bits):
 * a recursive node or a NAT the operator knows sends more than the rate.
 * IDN_EINVAL when it does not parse, IDN_ERANGE past NET_RRL_EXEMPT_MAX.
 * Exemption is from the rate only: the answer budget still applies.
 */
int net_rrl_exempt_add(net_rrl *r, const char *cidr);

/* Whether sa is in an exempt network (false at once when there is none). */
bool net_rrl_exempt_match(const net_rrl *r, const struct sockaddr *sa);

/* Takes one answer from the bucket of prefix at now_ns: false when it is empty. */
bool net_rrl_take(net_rrl *r, uint64_t prefix, uint64_t now_ns);

#endif
