/*
 * cmd_stats.c - `idnode stats`: a node's statistics (node/stats.h) read
 * from its store, with the filters of GET /api/stats, as CSV (default) or
 * JSON. Reads only: on LMDB beside a running node (a reader never blocks
 * the writer); on PostgreSQL through the same database, as any client.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/err.h"
#include "node/stats.h"
#include "store/store.h"

static const char *const usage =
    "usage: idnode stats (--data DIR | --store URI) [--prefix P | --industry I]\n"
    "                    [--from DATE] [--to DATE] [--granularity hour|day]\n"
    "                    [--format csv|json]\n"
    "  prints the node's statistics per prefix (or industry, the prefix's parent) and\n"
    "  day or hour: identifiers held, registered, modified, deleted, resolutions by\n"
    "  transport and outcome, authenticated operations and failures. DATE is\n"
    "  YYYY-MM-DD (UTC) or, hourly, YYYY-MM-DDTHH; default the last 7 days (24 hours).\n"
    "  Safe while the node runs; what it counted in the last few seconds\n"
    "  (--stats-flush-s) is written at its next flush.\n"
    "exit status: 0, 1 a store error, 2 usage or no store there\n";

static const struct option longopts[] = {
    {"data", required_argument, NULL, 'd'},
    {"store", required_argument, NULL, 'd'},
    {"prefix", required_argument, NULL, 'p'},
    {"industry", required_argument, NULL, 'i'},
    {"from", required_argument, NULL, 'f'},
    {"to", required_argument, NULL, 't'},
    {"granularity", required_argument, NULL, 'g'},
    {"format", required_argument, NULL, 'F'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int print_row(void *arg, const node_stats_row *r)
{
	bool *json_first = arg;
	char line[2048];
	if (json_first[0]) {
		node_stats_json_row(r, line, sizeof(line));
		printf("%s%s", json_first[1] ? "" : ",\n", line);
		json_first[1] = false;
	} else {
		node_stats_csv_row(r, line, sizeof(line));
		fputs(line, stdout);
	}
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	const char *where = NULL, *v[6] = {0}; /* prefix industry from to granularity format */
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:p:i:f:t:g:F:h", longopts, NULL)) != -1) {
		static const char keys[] = "piftgF";
		const char *k = opt > 0 ? strchr(keys, opt) : NULL;
		if (opt == 'd')
			where = optarg;
		else if (k)
			v[k - keys] = optarg;
		else {
			fputs(usage, opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!where || optind != argc) {
		fprintf(stderr, "idnode stats: %s\n%s",
		        where ? "unexpected argument" : "no store: give --data DIR or --store URI",
		        usage);
		return 2;
	}
	const char *fmt = v[5] ? v[5] : "csv";
	if (strcmp(fmt, "csv") && strcmp(fmt, "json")) {
		fprintf(stderr, "idnode stats: --format: expected csv or json\n");
		return 2;
	}
	node_stats_query q;
	char err[200];
	if (node_stats_query_parse(&q, v[0], v[1], v[2], v[3], v[4], (uint32_t)time(NULL), err,
	                           sizeof(err))) {
		fprintf(stderr, "idnode stats: %s\n", err);
		return 2;
	}
	store_opts so = {.must_exist = 1};
	store *s;
	int ret = store_open(where, &so, &s);
	if (ret) {
		fprintf(stderr, "idnode stats: %s: %s\n", where,
		        ret == IDN_ENOTFOUND ? "no store there" : idn_strerror(ret));
		return ret == IDN_ENOTFOUND ? 2 : 1;
	}
	bool json[2] = {fmt[0] == 'j', true};
	if (json[0]) {
		printf("[");
	} else {
		char head[1024];
		node_stats_csv_header(head, sizeof(head));
		fputs(head, stdout);
	}
	ret = node_stats_read(s, &q, print_row, json);
	if (json[0])
		printf("]\n");
	store_close(s);
	if (ret) {
		fprintf(stderr, "idnode stats: %s: %s\n", where,
		        ret == IDN_ERANGE ? "too many rows: name a prefix or a shorter period"
		                          : idn_strerror(ret));
		return 1;
	}
	return 0;
}
