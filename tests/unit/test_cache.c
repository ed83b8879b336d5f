/*
 * test_cache.c - the recursive node's answer cache (resolver/cache.h): TTL
 * expiry on an injected clock, the stale window, negative answers, LRU
 * eviction within the byte budget, TTLs from values, and concurrent misses
 * coalesced into one leader (real threads, bounded waits), and the origin
 * (server, fetch time) each answer keeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <time.h>

#include "core/err.h"
#include "proto/proto.h"
#include "resolver/cache.h"

static _Atomic uint32_t now = 1700000000;

static uint32_t test_clock(void)
{
	return atomic_load(&now);
}

static cache *mk(size_t max_bytes, unsigned shards)
{
	cache_opts o = {.max_bytes = max_bytes,
	                .neg_ttl = 30,
	                .stale_ttl = 100,
	                .max_ttl = 3600,
	                .shards = shards,
	                .clock = test_clock};
	cache *c;
	assert_int_equal(cache_new(&o, &c), IDN_OK);
	return c;
}

static void put(cache *c, const char *k, uint32_t rc, const char *body, uint32_t ttl)
{
	assert_int_equal(cache_put(c, (const uint8_t *)k, strlen(k), rc, (const uint8_t *)body,
	                           strlen(body), ttl),
	                 IDN_OK);
}

static int get(cache *c, const char *k, cache_answer *a, char *buf)
{
	memset(buf, 0, 64);
	return cache_get(c, (const uint8_t *)k, strlen(k), a, (uint8_t *)buf, 63);
}

static void test_ttl_expiry_and_stale_window(void **state)
{
	(void)state;
	cache *c = mk(1 << 20, 4);
	cache_answer a;
	char buf[64];
	put(c, "88.100.1/A", 1, "values-a", 10);
	assert_int_equal(get(c, "88.100.1/A", &a, buf), CACHE_HIT);
	assert_int_equal(a.rcode, 1);
	assert_int_equal(a.ttl_left, 10);
	assert_int_equal(a.body_len, 8);
	assert_string_equal(buf, "values-a");
	assert_int_equal(get(c, "88.100.1/B", &a, buf), CACHE_MISS);

	now += 9;
	assert_int_equal(get(c, "88.100.1/A", &a, buf), CACHE_HIT);
	assert_int_equal(a.ttl_left, 1);
	now += 1; /* expired: a normal lookup misses, the stale lookup still has it */
	assert_int_equal(get(c, "88.100.1/A", &a, buf), CACHE_MISS);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(
	    cache_get_stale(c, (const uint8_t *)"88.100.1/A", 10, &a, (uint8_t *)buf, 63),
	    CACHE_STALE);
	assert_string_equal(buf, "values-a");
	assert_int_equal(a.ttl_left, 0);
	now += 100; /* past the stale window: gone for good */
	assert_int_equal(
	    cache_get_stale(c, (const uint8_t *)"88.100.1/A", 10, &a, (uint8_t *)buf, 63),
	    CACHE_MISS);
	struct cache_stats st;
	cache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 16 * sizeof(void *)); /* only the shard's hash table is left */
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.stale, 1);
	cache_free(c);
}

static void test_negative_replace_and_limits(void **state)
{
	(void)state;
	cache *c = mk(1 << 20, 1);
	cache_answer a;
	char buf[64];
	uint32_t neg = cache_options(c)->neg_ttl;
	assert_int_equal(neg, 30);
	put(c, "88.100.1/NONE", PROTO_RC_HANDLE_NOT_FOUND, "", neg);
	assert_int_equal(get(c, "88.100.1/NONE", &a, buf), CACHE_HIT);
	assert_int_equal(a.rcode, PROTO_RC_HANDLE_NOT_FOUND);
	assert_int_equal(a.body_len, 0);
	/* A later answer replaces the earlier one. */
	put(c, "88.100.1/NONE", 1, "now-exists", 50);
	assert_int_equal(get(c, "88.100.1/NONE", &a, buf), CACHE_HIT);
	assert_int_equal(a.rcode, 1);
	assert_string_equal(buf, "now-exists");
	struct cache_stats st;
	cache_stats(c, &st);
	assert_int_equal(st.entries, 1);
	/* TTL 0 stores nothing; a TTL over max_ttl is cut to it. */
	put(c, "88.100.1/ZERO", 1, "x", 0);
	assert_int_equal(get(c, "88.100.1/ZERO", &a, buf), CACHE_MISS);
	put(c, "88.100.1/LONG", 1, "x", 1000000);
	assert_int_equal(get(c, "88.100.1/LONG", &a, buf), CACHE_HIT);
	assert_int_equal(a.ttl_left, 3600);
	/* A body larger than the caller's buffer is reported, not copied. */
	put(c, "88.100.1/BIG", 1,
	    "0123456789012345678901234567890123456789012345678901234567890123456789", 10);
	assert_int_equal(get(c, "88.100.1/BIG", &a, buf), CACHE_HIT);
	assert_int_equal(a.body_len, 70);
	assert_int_equal(buf[0], 0);
	cache_free(c);

	/* An entry larger than a shard's whole budget is refused. */
	c = mk(256, 1);
	static uint8_t big[1024];
	assert_int_equal(cache_put(c, (const uint8_t *)"k", 1, 1, big, sizeof(big), 10),
	                 IDN_ERANGE);
	cache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	cache_free(c);
}

static void test_lru_eviction_within_budget(void **state)
{
	(void)state;
	/* One shard, room for about 10 entries of ~150 bytes with bookkeeping. */
	cache *c = mk(10 * 150, 1);
	char key[32], body[100];
	memset(body, 'v', sizeof(body) - 1);
	body[sizeof(body) - 1] = 0;
	struct cache_stats st;
	int stored = 0;
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "88.100.1/K%02d", i);
		put(c, key, 1, body, 100);
		cache_stats(c, &st);
		assert_true(st.bytes <= 10 * 150);
		if (st.evictions == 0)
			stored = i + 1;
		/* K00 stays the most recently used: it must never be the one evicted. */
		cache_answer a;
		char b[128];
		assert_int_equal(
		    cache_get(c, (const uint8_t *)"88.100.1/K00", 12, &a, (uint8_t *)b, sizeof(b)),
		    CACHE_HIT);
	}
	assert_true(stored >= 5 && stored < 40);
	cache_stats(c, &st);
	assert_int_equal(st.inserts, 40);
	assert_int_equal(st.evictions, 40 - st.entries);
	/* The newest survive, the oldest (but K00) went. */
	cache_answer a;
	char b[128];
	assert_int_equal(
	    cache_get(c, (const uint8_t *)"88.100.1/K39", 12, &a, (uint8_t *)b, sizeof(b)),
	    CACHE_HIT);
	assert_int_equal(
	    cache_get(c, (const uint8_t *)"88.100.1/K01", 12, &a, (uint8_t *)b, sizeof(b)),
	    CACHE_MISS);
	cache_free(c);
}

static size_t put_value(uint8_t *p, size_t cap, uint32_t index, uint8_t ttl_type, uint32_t ttl)
{
	wire_wr w = wire_wr_init(p, cap);
	proto_value v = {.index = index,
	                 .ttl_type = ttl_type,
	                 .ttl = ttl,
	                 .perms = PROTO_PERM_PUBLIC_READ | PROTO_PERM_ADMIN_READ,
	                 .type = idn_slice_of("URL", 3),
	                 .data = idn_slice_of("https://x", 9)};
	proto_value_put(&w, &v);
	assert_int_equal(w.err, IDN_OK);
	return wire_wr_len(&w);
}

static void test_ttl_of_values(void **state)
{
	(void)state;
	uint8_t vals[512];
	size_t n = 0;
	uint32_t t0 = 1700000000, ttl;
	n += put_value(vals + n, sizeof(vals) - n, 1, 0, 300);
	n += put_value(vals + n, sizeof(vals) - n, 2, 1, t0 + 100); /* absolute: 100 s left */
	n += put_value(vals + n, sizeof(vals) - n, 3, 0, 86400);
	assert_int_equal(cache_values_ttl(idn_slice_of(vals, n), 3, t0, 3600, &ttl), IDN_OK);
	assert_int_equal(ttl, 100);
	/* Only the relative ones: the smallest. */
	assert_int_equal(cache_values_ttl(idn_slice_of(vals, n), 1, t0, 3600, &ttl), IDN_OK);
	assert_int_equal(ttl, 300);
	/* The absolute time has passed: do not keep it. */
	assert_int_equal(cache_values_ttl(idn_slice_of(vals, n), 3, t0 + 200, 3600, &ttl), IDN_OK);
	assert_int_equal(ttl, 0);
	/* Capped by max_ttl; no values: max_ttl. */
	size_t m = put_value(vals, sizeof(vals), 1, 0, 999999);
	assert_int_equal(cache_values_ttl(idn_slice_of(vals, m), 1, t0, 3600, &ttl), IDN_OK);
	assert_int_equal(ttl, 3600);
	assert_int_equal(cache_values_ttl(idn_slice_of(vals, 0), 0, t0, 77, &ttl), IDN_OK);
	assert_int_equal(ttl, 77);
	/* A count larger than what is there is malformed. */
	assert_true(cache_values_ttl(idn_slice_of(vals, m), 2, t0, 3600, &ttl) < 0);
}

/* ---- coalescing, with threads ---- */

enum { NWAITERS = 7 };

struct co {
	cache *c;
	_Atomic int leads, hits, misses;
};

static void *fetcher(void *arg)
{
	struct co *co = arg;
	cache_answer a;
	uint8_t buf[64];
	int r = cache_fetch(co->c, (const uint8_t *)"88.100.1/HOT", 12, 5000, &a, buf, sizeof(buf));
	if (r == CACHE_LEAD)
		atomic_fetch_add(&co->leads, 1);
	else if (r == CACHE_HIT)
		atomic_fetch_add(&co->hits, 1);
	else
		atomic_fetch_add(&co->misses, 1);
	return NULL;
}

/* Waits (bounded) until n fetchers sleep on the leader's query. */
static void wait_coalesced(cache *c, uint64_t n)
{
	struct cache_stats st;
	for (int i = 0; i < 5000; i++) {
		cache_stats(c, &st);
		if (st.coalesced >= n)
			return;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	fail_msg("only %llu of %llu misses coalesced", (unsigned long long)st.coalesced,
	         (unsigned long long)n);
}

static void run_coalescing(bool answer)
{
	cache *c = mk(1 << 20, 8);
	struct co co = {.c = c};
	cache_answer a;
	uint8_t buf[64];
	/* This thread leads; the others arrive while its query is out. */
	assert_int_equal(
	    cache_fetch(c, (const uint8_t *)"88.100.1/HOT", 12, 5000, &a, buf, sizeof(buf)),
	    CACHE_LEAD);
	pthread_t th[NWAITERS];
	for (int i = 0; i < NWAITERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, fetcher, &co), 0);
	wait_coalesced(c, NWAITERS);
	if (answer)
		put(c, "88.100.1/HOT", 1, "hot-values", 60);
	else
		cache_abandon(c, (const uint8_t *)"88.100.1/HOT", 12);
	for (int i = 0; i < NWAITERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(co.leads, 0);
	assert_int_equal(answer ? co.hits : co.misses, NWAITERS);
	/* The key is free again: the next miss leads. */
	if (!answer)
		assert_int_equal(
		    cache_fetch(c, (const uint8_t *)"88.100.1/HOT", 12, 5000, &a, buf, sizeof(buf)),
		    CACHE_LEAD);
	cache_free(c);
}

static void test_coalescing_answered(void **state)
{
	(void)state;
	run_coalescing(true);
}

static void test_coalescing_abandoned(void **state)
{
	(void)state;
	run_coalescing(false);
}

static void test_coalescing_wait_is_bounded(void **state)
{
	(void)state;
	cache *c = mk(1 << 20, 8);
	cache_answer a;
	uint8_t buf[64];
	assert_int_equal(cache_fetch(c, (const uint8_t *)"k", 1, 100, &a, buf, sizeof(buf)),
	                 CACHE_LEAD);
	/* Same thread, a second miss: nobody answers, it gives up after 100 ms. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cache_fetch(c, (const uint8_t *)"k", 1, 100, &a, buf, sizeof(buf)),
	                 CACHE_MISS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 90 && ms < 2000);
	cache_abandon(c, (const uint8_t *)"k", 1);
	cache_free(c);
}

/* An answer keeps who gave it and when, through hits and the stale window. */
static void test_origin_kept(void **state)
{
	(void)state;
	cache *c = mk(1 << 20, 2);
	cache_origin from = {.port = 2641, .family = AF_INET, .addr = {127, 0, 0, 9}};
	assert_int_equal(
	    cache_put_from(c, (const uint8_t *)"k1", 2, 1, (const uint8_t *)"v", 1, 10, &from),
	    IDN_OK);
	put(c, "k2", 1, "w", 10); /* no origin: unknown server, fetched now */
	uint32_t t0 = atomic_load(&now);
	atomic_fetch_add(&now, 4);
	cache_answer a;
	char buf[64];
	assert_int_equal(get(c, "k1", &a, buf), CACHE_HIT);
	assert_int_equal(a.from.fetched, t0);
	assert_int_equal(a.from.port, 2641);
	assert_int_equal(a.from.family, AF_INET);
	assert_memory_equal(a.from.addr, from.addr, 16);
	assert_int_equal(get(c, "k2", &a, buf), CACHE_HIT);
	assert_int_equal(a.from.fetched, t0);
	assert_int_equal(a.from.family, 0);
	/* Expired: the stale copy still says where and when it came from. */
	atomic_fetch_add(&now, 20);
	assert_int_equal(cache_get_stale(c, (const uint8_t *)"k1", 2, &a, (uint8_t *)buf, 63),
	                 CACHE_STALE);
	assert_int_equal(a.from.fetched, t0);
	assert_int_equal(a.from.port, 2641);
	/* A given fetch time is kept as given; a replacement has its own. */
	from.fetched = t0 - 100;
	from.port = 2642;
	assert_int_equal(
	    cache_put_from(c, (const uint8_t *)"k1", 2, 1, (const uint8_t *)"x", 1, 10, &from),
	    IDN_OK);
	assert_int_equal(get(c, "k1", &a, buf), CACHE_HIT);
	assert_int_equal(a.from.fetched, t0 - 100);
	assert_int_equal(a.from.port, 2642);
	assert_string_equal(buf, "x");
	cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ttl_expiry_and_stale_window),
	    cmocka_unit_test(test_negative_replace_and_limits),
	    cmocka_unit_test(test_lru_eviction_within_budget),
	    cmocka_unit_test(test_ttl_of_values),
	    cmocka_unit_test(test_coalescing_answered),
	    cmocka_unit_test(test_coalescing_abandoned),
	    cmocka_unit_test(test_coalescing_wait_is_bounded),
	    cmocka_unit_test(test_origin_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
