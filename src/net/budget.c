/*
 * budget.c - the connection budget's count per source (net.h:
 * net_budget_init, net_budget_src_take/give), and the descriptor held in
 * reserve for when accept() finds none left (common.h: net_fd_*).
 *
 * A source is an IPv4 address (IPv4-mapped IPv6 ones too) or an IPv6 /64, the
 * block one subscriber usually gets. The table is open addressing with linear
 * probing, sized at twice the connections that may be open at once, so it
 * never fills; an entry goes when its count falls to zero (backward-shift
 * deletion keeps the probe chains whole without tombstones). Slots are hashed
 * with a key drawn at start, so nobody can aim their addresses at one chain.
 * One lock: it is taken once per accept and once per close, never per request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limit.h"
#include "net/common.h"
#include "net/net.h"

struct src_slot {
	uint8_t key[16];
	unsigned n; /* 0: free */
};

struct net_src_table {
	pthread_mutex_t mu;
	uint64_t seed;
	size_t mask;
	size_t used; /* slots in use: never all, so every chain ends */
	struct src_slot *slot;
};

void net_src_key(const struct sockaddr_storage *peer, uint8_t key[16])
{
	memset(key, 0, 16);
	if (peer->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)peer)->sin_addr, 4);
	} else if (peer->ss_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)peer)->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a))
			memcpy(key, a, 16);
		else
			memcpy(key, a, 8); /* the /64 */
	}
}

void net_src_name(const struct sockaddr_storage *peer, char *out, size_t cap)
{
	const void *a = peer->ss_family == AF_INET
	                    ? (const void *)&((const struct sockaddr_in *)peer)->sin_addr
	                    : (const void *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
	if (!inet_ntop(peer->ss_family, a, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t slot_of(const struct net_src_table *t, const uint8_t key[16])
{
	uint64_t a, b;
	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return (size_t)mix(mix(a ^ t->seed) ^ b) & t->mask;
}

int net_budget_init(net_conn_budget *b, unsigned max, unsigned per_source, unsigned conns)
{
	atomic_init(&b->open, 0);
	atomic_init(&b->debt[NET_BUDGET_TCP], 0);
	atomic_init(&b->debt[NET_BUDGET_HTTP], 0);
	b->max = max;
	b->per_source = per_source;
	b->src = NULL;
	if (!per_source)
		return IDN_OK;
	struct net_src_table *t = calloc(1, sizeof(*t));
	size_t cap = 64;
	while (cap < 2 * (size_t)conns)
		cap *= 2;
	if (!t || !(t->slot = calloc(cap, sizeof(*t->slot)))) {
		free(t);
		return IDN_ENOMEM;
	}
	t->mask = cap - 1;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != (ssize_t)sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ net_now_ms();
	pthread_mutex_init(&t->mu, NULL);
	b->src = t;
	return IDN_OK;
}

void net_budget_fini(net_conn_budget *b)
{
	if (!b->src)
		return;
	pthread_mutex_destroy(&b->src->mu);
	free(b->src->slot);
	free(b->src);
	b->src = NULL;
}

/* The slot of key, or the free one that ends its chain. */
static size_t find(const struct net_src_table *t, const uint8_t key[16])
{
	size_t i = slot_of(t, key);
	while (t->slot[i].n && memcmp(t->slot[i].key, key, 16))
		i = (i + 1) & t->mask;
	return i;
}

bool net_budget_src_take(net_conn_budget *b, const struct sockaddr_storage *peer)
{
	if (!b || !b->src)
		return true;
	struct net_src_table *t = b->src;
	uint8_t key[16];
	net_src_key(peer, key);
	pthread_mutex_lock(&t->mu);
	size_t i = find(t, key);
	bool ok = t->slot[i].n < b->per_source;
	if (ok && !t->slot[i].n) {
		if (t->used >= t->mask - t->mask / 4) {
			/* More connections than it was sized for (cannot be): admitted uncounted.
			 */
			pthread_mutex_unlock(&t->mu);
			return true;
		}
		memcpy(t->slot[i].key, key, 16);
		t->used++;
	}
	if (ok)
		t->slot[i].n++;
	pthread_mutex_unlock(&t->mu);
	return ok;
}

void net_budget_src_give(net_conn_budget *b, const struct sockaddr_storage *peer)
{
	if (!b || !b->src)
		return;
	struct net_src_table *t = b->src;
	uint8_t key[16];
	net_src_key(peer, key);
	pthread_mutex_lock(&t->mu);
	size_t i = find(t, key);
	if (t->slot[i].n && --t->slot[i].n == 0) {
		t->used--;
		/* Backward shift: each later entry of the chain moves up if its home allows. */
		size_t j = i;
		for (;;) {
			j = (j + 1) & t->mask;
			if (!t->slot[j].n)
				break;
			size_t home = slot_of(t, t->slot[j].key);
			/* j's entry may fill i when its home is not in (i, j]. */
			if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
				t->slot[i] = t->slot[j];
				t->slot[j].n = 0;
				i = j;
			}
		}
	}
	pthread_mutex_unlock(&t->mu);
}

/* ---- connections over the budget, owed back ---- */

bool net_budget_take_over(net_conn_budget *b, enum net_budget_who who)
{
	if (!b)
		return true;
	_Atomic unsigned *debt = &b->debt[who == NET_BUDGET_TCP ? NET_BUDGET_HTTP : NET_BUDGET_TCP];
	unsigned d = atomic_load_explicit(debt, memory_order_relaxed);
	do {
		if (d >= NET_BUDGET_DEBT_MAX)
			return false;
	} while (!atomic_compare_exchange_weak(debt, &d, d + 1));
	atomic_fetch_add_explicit(&b->open, 1, memory_order_relaxed);
	return true;
}

bool net_budget_owed(net_conn_budget *b, enum net_budget_who who)
{
	if (!b)
		return false;
	unsigned d = atomic_load_explicit(&b->debt[who], memory_order_relaxed);
	do {
		if (d == 0)
			return false;
	} while (!atomic_compare_exchange_weak(&b->debt[who], &d, d - 1));
	return true;
}

void net_budget_unowe(net_conn_budget *b, enum net_budget_who who)
{
	atomic_fetch_add_explicit(&b->debt[who], 1, memory_order_relaxed);
}

/* ---- admission ---- */

enum net_admit net_admit(const struct net_admit_to *to, const struct sockaddr_storage *peer)
{
	net_conn_budget *b = to->budget;
	if (!net_budget_src_take(b, peer)) {
		char host[INET6_ADDRSTRLEN];
		net_src_name(peer, host, sizeof(host));
		limit_hit(LIM_CONN_PER_SOURCE, "%s: %s holds %u connections already", to->name,
		          host, b->per_source);
		return NET_ADMIT_SOURCE;
	}
	/* Each turn makes room or ends: other workers may take the room first. */
	for (int i = 0; i < NET_ADMIT_TRIES; i++) {
		if (atomic_fetch_add_explicit(to->nconns, 1, memory_order_relaxed) >= to->max) {
			atomic_fetch_sub_explicit(to->nconns, 1, memory_order_relaxed);
			if (to->evict(to->ctx, to->cap_name))
				continue;
			break;
		}
		if (net_budget_take(b))
			return NET_ADMIT_OK;
		if (to->evict(to->ctx, "max-connections reached")) {
			atomic_fetch_sub_explicit(to->nconns, 1, memory_order_relaxed);
			continue;
		}
		/* Nothing of ours may go: the other server holds the budget and owes one. */
		if (net_budget_take_over(b, to->who))
			return NET_ADMIT_OK;
		atomic_fetch_sub_explicit(to->nconns, 1, memory_order_relaxed);
		break;
	}
	net_budget_src_give(b, peer);
	return NET_ADMIT_FULL;
}

void net_unadmit(const struct net_admit_to *to, const struct sockaddr_storage *peer)
{
	atomic_fetch_sub_explicit(to->nconns, 1, memory_order_relaxed);
	net_budget_give(to->budget);
	net_budget_src_give(to->budget, peer);
}

/* ---- the descriptor in reserve ---- */

static pthread_mutex_t reserve_mu = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1;

void net_fd_reserve(void)
{
	pthread_mutex_lock(&reserve_mu);
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_mutex_unlock(&reserve_mu);
}

bool net_fd_shed(int lfd, const char *who)
{
	pthread_mutex_lock(&reserve_mu);
	bool shed = false;
	if (reserve_fd >= 0) {
		close(reserve_fd);
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			/* A reset: the client learns at once, and no TIME_WAIT is left here. */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			shed = true;
		}
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	pthread_mutex_unlock(&reserve_mu);
	limit_hit(LIM_FD_EXHAUSTED, "%s: out of file descriptors (limit %llu); a new connection %s",
	          who, (unsigned long long)net_fd_limit(), shed ? "was reset" : "waits");
	return shed;
}

unsigned long long net_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	return rl.rlim_cur == RLIM_INFINITY ? ~0ull : (unsigned long long)rl.rlim_cur;
}

unsigned long long net_fd_raise(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the limit stays what it was */
	}
	return net_fd_limit();
}
