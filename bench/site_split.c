/*
 * site_split.c - how evenly a multi-server site's hash (HS_SITE, RFC 3651
 * 3.2.2) splits identifiers among its servers, counted with idnode's own
 * server selection (proto_site_server_index: what a client and each server
 * of the site compute, docs/scale.md).
 *
 * The identifiers are gendata's: PREFIX/KIND-2026-NNNNNN for i = 0 .. N-1,
 * over K prefixes counted up from PREFIX's last number (88.100.1,
 * 88.100.2, ...), identifier i under prefix i mod K, as gendata names them.
 *
 *   site_split [-n N] [-p PREFIX] [-k K] [-H prefix|suffix|all] [-c]
 *              [-m MAX_SIGMA] [SERVERS...]          (defaults 1000000,
 *              88.100.1, 1, all, servers 2 4 8 16)
 *
 * Prints, for each server count, the identifiers each server gets (-c: every
 * count), the smallest and largest share, max/min, and the largest distance
 * from N/SERVERS in standard deviations of a fair split (binomial, p =
 * 1/SERVERS). With -m, exits 1 when that distance exceeds MAX_SIGMA for any
 * server count (a split a random assignment would almost never give).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/reserved.h"

static const char *const kinds[] = {"MOTOR", "PUMP", "VALVE", "GEAR", "SENSOR", "CABLE"};
enum { MAX_SERVERS = 4096 };

static void usage(void)
{
	fprintf(stderr, "usage: site_split [-n N] [-p PREFIX] [-k K] [-H prefix|suffix|all] [-c] "
	                "[-m MAX_SIGMA] [SERVERS...]\n");
	exit(2);
}

/* PREFIX with its last dot-separated number counted up by j (gendata's -k). */
static int nth_prefix(char *out, size_t cap, const char *base, long j)
{
	const char *dot = strrchr(base, '.');
	const char *last = dot ? dot + 1 : base;
	char *end;
	long first = strtol(last, &end, 10);
	if (j == 0 || *end || end == last)
		return snprintf(out, cap, "%s", base) >= (int)cap ? -1 : 0;
	int w = snprintf(out, cap, "%.*s%ld", (int)(last - base), base, first + j);
	return w < 0 || (size_t)w >= cap ? -1 : 0;
}

typedef struct split {
	unsigned servers;
	long *count;
} split;

/* Counts each identifier's server for every server count; 0, or an idn_err. */
static int count_all(long n, const char *base, long k, uint8_t hash, split *sp, unsigned nsp)
{
	char pfx[128], handle[256];
	for (long i = 0; i < n; i++) {
		if (nth_prefix(pfx, sizeof pfx, base, i % k))
			return -1;
		int hl = snprintf(handle, sizeof handle, "%s/%s-2026-%06ld", pfx,
		                  kinds[i % (long)(sizeof kinds / sizeof *kinds)], i);
		idn_slice h = idn_slice_of(handle, (size_t)hl);
		for (unsigned s = 0; s < nsp; s++) {
			int idx = proto_site_server_index(h, hash, sp[s].servers);
			if (idx < 0 || (unsigned)idx >= sp[s].servers)
				return idx < 0 ? idx : -1;
			sp[s].count[idx]++;
		}
	}
	return 0;
}

/* Prints one server count's line; returns its largest distance in sigmas. */
static double report(const split *sp, long n, const char *hname, int all_counts)
{
	long mn = sp->count[0], mx = sp->count[0];
	double fair = (double)n / sp->servers, sd = sqrt(fair * (1.0 - 1.0 / sp->servers)), dev = 0;
	for (unsigned i = 0; i < sp->servers; i++) {
		long c = sp->count[i];
		mn = c < mn ? c : mn;
		mx = c > mx ? c : mx;
		double d = fabs((double)c - fair) / (sd > 0 ? sd : 1);
		dev = d > dev ? d : dev;
	}
	printf("servers=%u hash=%s ids=%ld min=%ld max=%ld min_share=%.4f%% max_share=%.4f%% "
	       "max_over_min=%.4f max_dev_sigma=%.2f",
	       sp->servers, hname, n, mn, mx, 100.0 * (double)mn / (double)n,
	       100.0 * (double)mx / (double)n, mn ? (double)mx / (double)mn : INFINITY, dev);
	if (all_counts)
		for (unsigned i = 0; i < sp->servers; i++)
			printf("%s%ld", i ? "," : " counts=", sp->count[i]);
	printf("\n");
	return dev;
}

int main(int argc, char **argv)
{
	long n = 1000000, k = 1;
	const char *base = "88.100.1", *hname = "all";
	uint8_t hash = PROTO_SITE_HASH_ALL;
	int all_counts = 0, o, rc = 0;
	double max_sigma = -1;
	while ((o = getopt(argc, argv, "n:p:k:H:cm:")) != -1) {
		switch (o) {
		case 'n':
			n = atol(optarg);
			break;
		case 'p':
			base = optarg;
			break;
		case 'k':
			k = atol(optarg);
			break;
		case 'H':
			hname = optarg;
			if (!strcmp(optarg, "prefix"))
				hash = PROTO_SITE_HASH_PREFIX;
			else if (!strcmp(optarg, "suffix"))
				hash = PROTO_SITE_HASH_SUFFIX;
			else if (!strcmp(optarg, "all"))
				hash = PROTO_SITE_HASH_ALL;
			else
				usage();
			break;
		case 'c':
			all_counts = 1;
			break;
		case 'm':
			max_sigma = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (n <= 0 || k <= 0) {
		fprintf(stderr, "site_split: -n and -k must be positive\n");
		return 2;
	}
	static const unsigned dflt[] = {2, 4, 8, 16};
	unsigned nsp = optind < argc ? (unsigned)(argc - optind) : 4;
	split *sp = calloc(nsp, sizeof *sp);
	for (unsigned s = 0; sp && s < nsp; s++) {
		long v = optind < argc ? atol(argv[optind + (int)s]) : (long)dflt[s];
		if (v < 1 || v > MAX_SERVERS) {
			fprintf(stderr, "site_split: a server count is 1 to %d, not %s\n",
			        MAX_SERVERS, argv[optind + (int)s]);
			return 2;
		}
		sp[s].servers = (unsigned)v;
		sp[s].count = calloc((size_t)v, sizeof(long));
		if (!sp[s].count)
			sp = NULL;
	}
	if (!sp) {
		fprintf(stderr, "site_split: out of memory\n");
		return 1;
	}
	int ret = count_all(n, base, k, hash, sp, nsp);
	if (ret) {
		fprintf(stderr, "site_split: server selection failed (%d)\n", ret);
		return 1;
	}
	for (unsigned s = 0; s < nsp; s++) {
		double dev = report(&sp[s], n, hname, all_counts);
		if (max_sigma >= 0 && dev > max_sigma) {
			fprintf(
			    stderr,
			    "site_split: %u servers: a share is %.2f sigma from N/%u (> %.2f)\n",
			    sp[s].servers, dev, sp[s].servers, max_sigma);
			rc = 1;
		}
		free(sp[s].count);
	}
	free(sp);
	return rc;
}
