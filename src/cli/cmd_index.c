/*
 * cmd_index.c - `idnode index on|off|rebuild|status|verify`: the search index
 * of a store (store/index.h, docs/search.md). on builds it for the records
 * there, off removes it, rebuild makes it again from the records, status
 * says its state and size, verify compares it with the records.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/err.h"
#include "store/index.h"
#include "store/store.h"

static const char *const usage =
    "usage: idnode index on|off|rebuild|status|verify (--data DIR | --store URI)\n"
    "  the store's search index (docs/search.md): on builds it for the records there\n"
    "  (a new store has it on), off removes it and writes make none, rebuild makes it\n"
    "  again from the records, status says whether it is on and its entries, verify\n"
    "  compares it with the records (exit status 1 when they differ).\n";

static const struct option longopts[] = {
    {"data", required_argument, NULL, 'd'},
    {"store", required_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int count_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)key;
	(void)val;
	++*(uint64_t *)arg;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int status_of(store_txn *t)
{
	static const char *const names[] = {"off", "on", "stale (rebuild it)"};
	enum index_state st;
	uint64_t n = 0;
	int rc = store_index_state(t, &st);
	if (!rc)
		rc = store_tab_scan(t, STORE_TAB_INDEX, idn_slice_of(NULL, 0),
		                    idn_slice_of(NULL, 0), count_cb, &n);
	if (!rc)
		printf("index: %s, %llu entries\n", names[st], (unsigned long long)n);
	return rc;
}

static int verify(store_txn *t, int *status)
{
	uint64_t missing, extra;
	int rc = store_index_check(t, &missing, &extra);
	if (rc)
		return rc;
	printf("index: %llu entries missing or different, %llu extra\n",
	       (unsigned long long)missing, (unsigned long long)extra);
	*status = missing || extra ? CLI_FAIL : CLI_OK;
	return IDN_OK;
}

/* on, off, rebuild: one write transaction */
static int change(store *s, const char *what)
{
	enum index_state st = !strcmp(what, "off") ? INDEX_OFF : INDEX_ON;
	double t0 = now_s();
	int rc = store_index_apply(s, st, false);
	if (rc == IDN_OK)
		printf("index %s in %.1f s\n", st == INDEX_OFF ? "off" : "built", now_s() - t0);
	return rc;
}

int cmd_index(int argc, char **argv)
{
	const char *where = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		if (opt == 'd') {
			where = optarg;
		} else if (opt == 'h') {
			fputs(usage, stdout);
			return CLI_OK;
		} else {
			fputs(usage, stderr);
			return CLI_USAGE;
		}
	}
	static const char *const verbs[] = {"on", "off", "rebuild", "status", "verify"};
	const char *verb = optind == argc - 1 ? argv[optind] : NULL;
	bool known = false;
	for (size_t i = 0; verb && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		known |= !strcmp(verb, verbs[i]);
	if (!known) {
		fprintf(stderr, "idnode index: give one of on, off, rebuild, status, verify\n%s",
		        usage);
		return CLI_USAGE;
	}
	if (!where) {
		fprintf(stderr, "idnode index: no store: give --data DIR or --store URI\n");
		return CLI_USAGE;
	}
	store *s = NULL;
	store_opts so = {.must_exist = 1};
	int rc = store_open(where, &so, &s);
	if (rc) {
		fprintf(stderr, "idnode index: %s: %s\n", where,
		        rc == IDN_ENOTFOUND ? "no store there" : idn_strerror(rc));
		return CLI_USAGE;
	}
	int status = CLI_OK;
	if (!strcmp(verb, "status") || !strcmp(verb, "verify")) {
		store_txn *t;
		if (!(rc = store_txn_begin(s, STORE_RDONLY, &t))) {
			rc = verb[0] == 's' ? status_of(t) : verify(t, &status);
			store_txn_abort(t);
		}
	} else {
		rc = change(s, verb);
	}
	store_close(s);
	if (rc) {
		fprintf(stderr, "idnode index %s: %s: %s\n", verb, where, idn_strerror(rc));
		return CLI_FAIL;
	}
	return status;
}
