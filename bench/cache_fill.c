/*
 * cache_fill.c - the recursive node's cache at scale: fills it with N answers
 * of B bytes (keys as the resolver builds them: PO byte + identifier +
 * empty filters) under a byte budget, then reports what it accounts, what
 * the process really grew by (RSS, so malloc overhead and hash tables show),
 * evictions, and the insert and hit rates of one thread.
 *
 *   cache_fill [-n N] [-b BODY_BYTES] [-m BUDGET_MB] [-s SHARDS]
 *
 * Defaults: 1,000,000 answers of 200 bytes, 320 MB. Bounded: one pass of
 * inserts, one of lookups.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "resolver/cache.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static size_t make_key(uint8_t *key, unsigned i)
{
	key[0] = 1; /* PO */
	int n = snprintf((char *)key + 1, 64, "88.100.1/ID-2026-%08u", i);
	memset(key + 1 + n, 0, 8); /* no index, no type filters */
	return 1 + (size_t)n + 8;
}

int main(int argc, char **argv)
{
	unsigned long n = 1000000, body = 200, mb = 320, shards = 64;
	int opt;
	while ((opt = getopt(argc, argv, "n:b:m:s:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			body = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			mb = strtoul(optarg, NULL, 10);
			break;
		case 's':
			shards = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			        "usage: cache_fill [-n N] [-b BODY] [-m BUDGET_MB] [-s SHARDS]\n");
			return 2;
		}
	}
	if (body > 65536 || n == 0 || n > 100000000) {
		fprintf(stderr, "cache_fill: -b at most 65536, -n 1..100000000\n");
		return 2;
	}
	cache_opts o = {.max_bytes = (size_t)mb << 20, .shards = (unsigned)shards};
	cache *c;
	if (cache_new(&o, &c)) {
		fprintf(stderr, "cache_fill: out of memory\n");
		return 1;
	}
	uint8_t *b = calloc(1, body + 1);
	uint8_t key[96], out[65536 + 64];
	long rss0 = rss_kb();
	double t0 = now_s();
	for (unsigned long i = 0; i < n; i++) {
		size_t k = make_key(key, (unsigned)i);
		memcpy(b, key, body < k ? body : k); /* distinct bodies, as answers are */
		if (cache_put(c, key, k, 1, b, body, 3600) != IDN_OK) {
			fprintf(stderr, "cache_fill: put %lu failed\n", i);
			return 1;
		}
	}
	double t1 = now_s();
	long rss1 = rss_kb();
	unsigned long hits = 0;
	for (unsigned long i = 0; i < n; i++) {
		cache_answer a;
		size_t k = make_key(key, (unsigned)((i * 2654435761u) % n));
		hits += cache_get(c, key, k, &a, out, sizeof(out)) == CACHE_HIT;
	}
	double t2 = now_s();
	struct cache_stats st;
	cache_stats(c, &st);
	printf("RESULT entries=%llu accounted_mb=%.1f budget_mb=%lu rss_growth_mb=%.1f "
	       "evictions=%llu insert_per_s=%.0f hit_per_s=%.0f hit_ratio=%.3f\n",
	       (unsigned long long)st.entries, (double)st.bytes / 1048576.0, mb,
	       (double)(rss1 - rss0) / 1024.0, (unsigned long long)st.evictions,
	       (double)n / (t1 - t0), (double)n / (t2 - t1), (double)hits / (double)n);
	cache_free(c);
	free(b);
	return 0;
}
