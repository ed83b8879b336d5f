/*
 * gendata.c - writes N synthetic identifiers as JSON Lines for `idnode load`,
 * plus a query file (one handle per line, random order) for hdlblast and,
 * optionally, the list of prefixes to home.
 *
 *   gendata -n N [-p PREFIX[,PREFIX...]] [-k K] [-s SEED] -o OUT.jsonl
 *           [-q QUERIES] [-Q NQUERIES] [-x MISS_PCT] [-H HOMES] [-T]
 *
 *   -p   prefix, or a comma-separated list (default 88.100.1)
 *   -k   spread over K prefixes derived from the first one by counting its
 *        last numeric component up (88.100.1 -> 88.100.1 .. 88.100.K)
 *   -Q   number of queries (default min(N, 1000000)); handles are drawn at
 *        random, with replacement
 *   -x   percentage of queries for handles that do not exist (default 0)
 *   -T   add a "timestamp" to each value
 *   -S   searchable fields (docs/search.md): a "batch" shared by 1,000
 *        records (LOT-<i / 1000>) and a "produced" date (2026, one day of
 *        the year by i % 365), at indexes 2000 and 2001
 *
 * Identifiers look like an industrial-internet product trace record:
 * 88.100.1/MOTOR-2026-000042 with a URL, usually a contact EMAIL (ttl 3600)
 * and a free-text DESC sized so that the resolution answer (envelope +
 * header + handle + values + credential length) is spread over 150-250
 * bytes. Records are written in random order (a loader must sort). The mean,
 * min and max answer sizes are printed on stderr.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

static const char *const kinds[] = {"MOTOR", "PUMP", "VALVE", "GEAR", "SENSOR", "CABLE"};
static const char *const words[] = {"three-phase", "induction", "motor", "batch",   "line",
                                    "steel",       "housing",   "rated", "IP55",    "class",
                                    "F",           "flange",    "shaft", "bearing", "QA"};

enum { ENV = 20, HDR = 24 };

/* Answer size of a resolution answer: envelope, header, str handle, int4
 * count, values (26 fixed bytes + type + data each), int4 credential length. */
static size_t answer_base(size_t hlen)
{
	return ENV + HDR + 4 + hlen + 4 + 4;
}

static size_t value_size(size_t tlen, size_t dlen)
{
	return 26 + tlen + dlen;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: gendata -n N -o OUT.jsonl [-p PREFIX[,..]] [-k K] [-s SEED]\n"
	    "               [-q QUERYFILE] [-Q NQUERIES] [-x MISS_PCT] [-H HOMESFILE] [-T] [-S]\n");
	exit(2);
}

/* Derives K prefixes from base by counting up its last dot-separated number. */
static char **derive_prefixes(const char *base, int k)
{
	char **out = calloc((size_t)k, sizeof *out);
	const char *dot = strrchr(base, '.');
	const char *last = dot ? dot + 1 : base;
	char *end;
	errno = 0;
	long first = strtol(last, &end, 10);
	int numeric = *last && !*end && !errno;
	for (int i = 0; i < k; i++) {
		out[i] = malloc(strlen(base) + 24);
		if (numeric)
			sprintf(out[i], "%.*s%ld", (int)(last - base), base, first + i);
		else
			sprintf(out[i], "%s.%d", base, i + 1);
	}
	return out;
}

int main(int argc, char **argv)
{
	long n = 0, nq = -1;
	const char *prefix_arg = "88.100.1", *out_fn = NULL, *q_fn = NULL, *homes_fn = NULL;
	int k = 1, with_ts = 0;
	double miss_pct = 0;
	int fields = 0;
	uint64_t seed = 42;
	int o;
	while ((o = getopt(argc, argv, "n:p:k:s:o:q:Q:x:H:TS")) != -1) {
		switch (o) {
		case 'n':
			n = atol(optarg);
			break;
		case 'p':
			prefix_arg = optarg;
			break;
		case 'k':
			k = atoi(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			out_fn = optarg;
			break;
		case 'q':
			q_fn = optarg;
			break;
		case 'Q':
			nq = atol(optarg);
			break;
		case 'x':
			miss_pct = atof(optarg);
			break;
		case 'H':
			homes_fn = optarg;
			break;
		case 'T':
			with_ts = 1;
			break;
		case 'S':
			fields = 1;
			break;
		default:
			usage();
		}
	}
	if (n <= 0 || n > 100000000 || !out_fn || k < 1 || k > 100000)
		usage();
	rng_state = seed;

	/* prefixes */
	char **prefixes;
	int np;
	if (strchr(prefix_arg, ',')) {
		char *copy = strdup(prefix_arg), *save = NULL;
		np = 0;
		prefixes = calloc(strlen(prefix_arg) + 1, sizeof *prefixes);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			prefixes[np++] = t;
	} else {
		np = k;
		prefixes = derive_prefixes(prefix_arg, k);
	}
	if (np < 1)
		usage();

	/* record i gets prefix i % np and suffix KIND-2026-<i>; written in random order */
	uint32_t *perm = malloc((size_t)n * sizeof *perm);
	if (!perm) {
		perror("malloc");
		return 1;
	}
	for (long i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (long i = n - 1; i > 0; i--) {
		uint32_t j = rnd_below((uint32_t)i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}

	FILE *f = fopen(out_fn, "w");
	if (!f) {
		perror(out_fn);
		return 1;
	}
	static char fbuf[1 << 20];
	setvbuf(f, fbuf, _IOFBF, sizeof fbuf);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t sum = 0, smin = UINT64_MAX, smax = 0, hist[6] = {0};
	uint32_t ts_base = 1767225600u; /* 2026-01-01 */
	char handle[256], line[2048], desc[256];
	for (long r = 0; r < n; r++) {
		uint32_t i = perm[r];
		const char *pfx = prefixes[i % (uint32_t)np];
		const char *kind = kinds[i % (sizeof kinds / sizeof *kinds)];
		int hl = snprintf(handle, sizeof handle, "%s/%s-2026-%06u", pfx, kind, i);
		/* target answer size, uniform in 150..250 */
		size_t target = 150 + rnd_below(101);
		size_t size = answer_base((size_t)hl);
		char *p = line, *end = line + sizeof line;
		p += snprintf(p, (size_t)(end - p), "{\"handle\":\"%s\",\"values\":[", handle);
		/* plan: URL always, EMAIL when it fits, DESC filling up to the
		 * target; a gap too small for a DESC lengthens the URL instead */
		char url[256], email[64];
		int ul = snprintf(url, sizeof url, "https://trace.example.cn/%s", handle);
		int el = snprintf(email, sizeof email, "qa%u@plant%02u.example.cn", rnd_below(100),
		                  rnd_below(100));
		size += value_size(3, (size_t)ul);
		int with_email = size + value_size(5, (size_t)el) <= target;
		if (with_email)
			size += value_size(5, (size_t)el);
		size_t gap = target > size ? target - size : 0, dl = 0;
		if (gap >= value_size(4, 8)) {
			dl = gap - value_size(4, 0);
		} else if (gap >= 6) { /* "?lot=" + digits */
			ul += snprintf(url + ul, sizeof url - (size_t)ul, "?lot=");
			for (size_t d = 5; d < gap && (size_t)ul < sizeof url - 1; d++)
				url[ul++] = (char)('0' + rnd_below(10));
			url[ul] = 0;
			size = target;
		}
		p += snprintf(p, (size_t)(end - p), "{\"index\":1,\"type\":\"URL\",\"data\":\"%s\"",
		              url);
		if (with_ts)
			p += snprintf(p, (size_t)(end - p), ",\"timestamp\":%u",
			              ts_base + rnd_below(86400 * 300));
		*p++ = '}';
		if (with_email) {
			p += snprintf(
			    p, (size_t)(end - p),
			    ",{\"index\":2,\"type\":\"EMAIL\",\"data\":\"%s\",\"ttl\":3600", email);
			if (with_ts)
				p += snprintf(p, (size_t)(end - p), ",\"timestamp\":%u",
				              ts_base + rnd_below(86400 * 300));
			*p++ = '}';
		}
		if (dl) {
			size_t dp = 0;
			while (dp < dl) {
				const char *w = words[rnd_below(sizeof words / sizeof *words)];
				size_t wl = strlen(w);
				if (dp && dp < dl)
					desc[dp++] = ' ';
				for (size_t c = 0; c < wl && dp < dl; c++)
					desc[dp++] = w[c];
			}
			desc[dp] = 0;
			size += value_size(4, dl);
			p += snprintf(p, (size_t)(end - p),
			              ",{\"index\":3,\"type\":\"DESC\",\"data\":\"%s\"", desc);
			if (with_ts)
				p += snprintf(p, (size_t)(end - p), ",\"timestamp\":%u",
				              ts_base + rnd_below(86400 * 300));
			*p++ = '}';
		}
		if (fields) {
			static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
			int d = (int)(i % 365), m = 0;
			while (d >= mdays[m])
				d -= mdays[m++];
			p += snprintf(p, (size_t)(end - p),
			              ",{\"index\":2000,\"type\":\"batch\",\"data\":\"LOT-%05u\"}"
			              ",{\"index\":2001,\"type\":\"produced\",\"data\":"
			              "\"2026-%02d-%02d\"}",
			              i / 1000, m + 1, d + 1);
		}
		p += snprintf(p, (size_t)(end - p), "]}\n");
		fwrite(line, 1, (size_t)(p - line), f);
		sum += size;
		if (size < smin)
			smin = size;
		if (size > smax)
			smax = size;
		hist[size < 150 ? 0 : size > 250 ? 5 : size == 250 ? 4 : 1 + (size - 150) / 25]++;
	}
	if (fclose(f)) {
		perror(out_fn);
		return 1;
	}

	if (q_fn) {
		if (nq < 0)
			nq = n < 1000000 ? n : 1000000;
		FILE *q = fopen(q_fn, "w");
		if (!q) {
			perror(q_fn);
			return 1;
		}
		setvbuf(q, fbuf, _IOFBF, sizeof fbuf);
		for (long j = 0; j < nq; j++) {
			uint32_t i = rnd_below((uint32_t)n);
			const char *pfx = prefixes[i % (uint32_t)np];
			if (miss_pct > 0 && rnd_below(1000000) < (uint32_t)(miss_pct * 10000))
				fprintf(q, "%s/NOSUCH-2026-%06u\n", pfx, i);
			else
				fprintf(q, "%s/%s-2026-%06u\n", pfx,
				        kinds[i % (sizeof kinds / sizeof *kinds)], i);
		}
		if (fclose(q)) {
			perror(q_fn);
			return 1;
		}
	}
	if (homes_fn) {
		FILE *h = fopen(homes_fn, "w");
		if (!h) {
			perror(homes_fn);
			return 1;
		}
		for (int j = 0; j < np; j++)
			fprintf(h, "%s\n", prefixes[j]);
		fclose(h);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(
	    stderr,
	    "gendata: %ld identifiers over %d prefix(es) in %.2f s; resolution answer bytes: "
	    "mean %.1f min %lu max %lu  [<150:%lu 150-174:%lu 175-199:%lu 200-224:%lu 225-250:%lu "
	    ">250:%lu]\n",
	    n, np, el, (double)sum / (double)n, (unsigned long)smin, (unsigned long)smax,
	    (unsigned long)hist[0], (unsigned long)hist[1], (unsigned long)hist[2],
	    (unsigned long)hist[3], (unsigned long)hist[4], (unsigned long)hist[5]);
	printf("MEAN_ANSWER_BYTES=%.1f\n", (double)sum / (double)n);
	return 0;
}
