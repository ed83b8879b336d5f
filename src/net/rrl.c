/* rrl.c - response rate limiting per source prefix (see rrl.h). */
#include "net/rrl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

enum { FAM_V4 = 4, FAM_V6 = 6 };

int net_rrl_init(net_rrl *r, unsigned rate, unsigned burst, unsigned nbuckets, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	if (rate == 0)
		return IDN_OK;
	if (nbuckets == 0)
		nbuckets = NET_RRL_BUCKETS_DEF;
	if (nbuckets & (nbuckets - 1))
		return IDN_EINVAL;
	r->tat = calloc(nbuckets, sizeof(*r->tat));
	if (!r->tat)
		return IDN_ENOMEM;
	r->mask = nbuckets - 1;
	r->seed = seed | 1;
	r->interval_ns = 1000000000ull / rate;
	if (r->interval_ns == 0)
		r->interval_ns = 1;
	r->burst_ns = (uint64_t)(burst ? burst : rate) * r->interval_ns;
	return IDN_OK;
}

int net_rrl_exempt_add(net_rrl *r, const char *cidr)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	size_t alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (alen == 0 || alen >= sizeof(addr))
		return IDN_EINVAL;
	memcpy(addr, cidr, alen);
	addr[alen] = 0;
	net_rrl_net n = {.family = strchr(addr, ':') ? AF_INET6 : AF_INET};
	if (inet_pton(n.family, addr, n.addr) != 1)
		return IDN_EINVAL;
	unsigned max = n.family == AF_INET ? 32 : 128;
	n.bits = max;
	if (slash) {
		char *end;
		unsigned long b = strtoul(slash + 1, &end, 10);
		if (end == slash + 1 || *end || b > max)
			return IDN_EINVAL;
		n.bits = (unsigned)b;
	}
	if (r->nexempt >= NET_RRL_EXEMPT_MAX)
		return IDN_ERANGE;
	r->exempt[r->nexempt++] = n;
	return IDN_OK;
}

/* Whether the first bits of a and b agree. */
static bool same_bits(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole))
		return false;
	return !rest || ((a[whole] ^ b[whole]) & (uint8_t)(0xFF00 >> rest)) == 0;
}

bool net_rrl_exempt_match(const net_rrl *r, const struct sockaddr *sa)
{
	if (!r->nexempt)
		return false;
	int family = sa->sa_family;
	const uint8_t *a;
	if (family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		a = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			a += 12;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < r->nexempt; i++)
		if (r->exempt[i].family == family &&
		    same_bits(a, r->exempt[i].addr, r->exempt[i].bits))
			return true;
	return false;
}

void net_rrl_free(net_rrl *r)
{
	free(r->tat);
	memset(r, 0, sizeof(*r));
}

uint64_t net_rrl_prefix(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		return (uint64_t)FAM_V4 << 56 | (uint64_t)a[0] << 16 | (uint64_t)a[1] << 8 | a[2];
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	const uint8_t *a = a6->s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6))
		return (uint64_t)FAM_V4 << 56 | (uint64_t)a[12] << 16 | (uint64_t)a[13] << 8 |
		       a[14];
	uint64_t k = FAM_V6;
	for (int i = 0; i < 7; i++)
		k = k << 8 | a[i];
	return k;
}

void net_rrl_hit(enum idn_limit_id id, uint64_t prefix, const char *what, unsigned long n)
{
	unsigned b[7];
	for (int i = 0; i < 7; i++)
		b[i] = (unsigned)(prefix >> (8 * (6 - i))) & 0xFF;
	if (prefix >> 56 == FAM_V6)
		limit_hit(id, "source %x:%x:%x:%x::/56: %s %lu", b[0] << 8 | b[1], b[2] << 8 | b[3],
		          b[4] << 8 | b[5], b[6] << 8, what, n);
	else
		limit_hit(id, "source %u.%u.%u.0/24: %s %lu", b[4], b[5], b[6], what, n);
}

bool net_rrl_take(net_rrl *r, uint64_t prefix, uint64_t now_ns)
{
	if (!r->tat)
		return true;
	/* Multiply-shift over the seeded key: the high bits pick the bucket. */
	uint64_t h = (prefix ^ r->seed) * 0x9E3779B97F4A7C15ull;
	_Atomic uint64_t *b = &r->tat[(h >> 32) & r->mask];
	uint64_t tat = atomic_load_explicit(b, memory_order_relaxed);
	for (;;) {
		/* The bucket holds burst answers: the next is due at tat + interval. */
		uint64_t next = (tat > now_ns ? tat : now_ns) + r->interval_ns;
		if (next - now_ns > r->burst_ns)
			return false;
		if (atomic_compare_exchange_weak_explicit(b, &tat, next, memory_order_relaxed,
		                                          memory_order_relaxed))
			return true;
	}
}
