/*
 * cmd_dump.c - backups: `idnode dump`, `idnode restore`, `idnode verify`: the
 * options and the messages; node/backup.h does the work.
 *
 * dump writes the file under its name only when complete (written as
 * NAME.tmp, fsync'd, renamed). restore reads a dump into an empty store
 * (--merge: any store); a bad line is reported as FILE:LINE: FIELD: reason
 * and skipped, and makes the exit status 1. verify names each bad key.
 * dump and verify read a store that exists: on a path that holds none they
 * say "no store at PATH" and exit 2, and make nothing there.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/err.h"
#include "node/backup.h"
#include "store/store.h"

enum { O_MERGE = 256, O_CASE };

static const struct option dump_longopts[] = {
    {"data", required_argument, NULL, 'd'},
    {"store", required_argument, NULL, 'd'},
    {"output", required_argument, NULL, 'o'},
    {"prefix", required_argument, NULL, 'p'},
    {"merge", no_argument, NULL, O_MERGE},
    {"case-insensitive", no_argument, NULL, O_CASE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct dump_args {
	const char *where; /* --data DIR or --store URI */
	const char *output;
	const char *prefix;
	const char *file; /* restore's input */
	int merge, case_insensitive, quiet;
};

static const char *const usage_dump =
    "usage: idnode dump (--data DIR | --store URI) [-o FILE] [--prefix P]\n"
    "  writes every identifier (or those whose key starts with P) as JSON Lines in the\n"
    "  format `idnode load` reads, homed prefixes first as {\"home\":\"...\"} lines; a\n"
    "  consistent snapshot, safe while a node serves the store. Default output: stdout.\n";
static const char *const usage_restore =
    "usage: idnode restore (--data DIR | --store URI) [--merge] [--case-insensitive] FILE\n"
    "  loads a dump (FILE, or - for stdin) into an empty store (--merge: into any store,\n"
    "  replacing identifiers it holds). Bad lines are reported as FILE:LINE and skipped.\n";
static const char *const usage_verify =
    "usage: idnode verify (--data DIR | --store URI)\n"
    "  checks that every record of the store decodes; names each bad key.\n"
    "exit status: 0 all good, 1 bad records or a store error, 2 usage or no store there\n";

static int parse_args(const char *cmd, const char *usage, int argc, char **argv,
                      struct dump_args *a, int want_file)
{
	int opt;
	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:o:p:qh", dump_longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			a->where = optarg;
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'p':
			a->prefix = optarg;
			break;
		case 'q':
			a->quiet = 1;
			break;
		case O_MERGE:
			a->merge = 1;
			break;
		case O_CASE:
			a->case_insensitive = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK + 100;
		default:
			fputs(usage, stderr);
			return CLI_USAGE;
		}
	}
	if (!a->where) {
		fprintf(stderr, "idnode %s: no store: give --data DIR or --store URI\n", cmd);
		return CLI_USAGE;
	}
	if (want_file) {
		if (optind != argc - 1) {
			fprintf(stderr, "idnode %s: give exactly one FILE\n%s", cmd, usage);
			return CLI_USAGE;
		}
		a->file = argv[optind];
	} else if (optind != argc) {
		fprintf(stderr, "idnode %s: unexpected argument '%s'\n%s", cmd, argv[optind],
		        usage);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/*
 * Opens the store at where; a command that only reads one (must_exist) never
 * makes it: a mistyped path is "no store at PATH" and exit status 2.
 * Returns a CLI status.
 */
static int open_store(const char *cmd, const char *where, int must_exist, store **s)
{
	store_opts so = {.must_exist = must_exist};
	int rc = store_open(where, &so, s);
	if (rc == IDN_ENOTFOUND && must_exist) {
		fprintf(stderr,
		        "idnode %s: no store at %s (check the path; `idnode load`, `idnode "
		        "restore` and `idnode serve` create stores)\n",
		        cmd, where);
		return CLI_USAGE;
	}
	if (rc)
		fprintf(stderr, "idnode %s: %s: cannot open the store: %s\n", cmd, where,
		        idn_strerror(rc));
	return rc ? CLI_FAIL : CLI_OK;
}

/* A key for a message: printable ASCII kept, other bytes as \xHH. */
static void print_key(FILE *f, idn_slice k)
{
	for (uint32_t i = 0; i < k.len; i++) {
		if (k.p[i] >= 0x20 && k.p[i] < 0x7f && k.p[i] != '\\')
			fputc(k.p[i], f);
		else
			fprintf(f, "\\x%02x", k.p[i]);
	}
}

static void print_skipped(void *arg, idn_slice key, const char *why)
{
	fprintf(stderr, "idnode %s: ", (const char *)arg);
	print_key(stderr, key);
	fprintf(stderr, ": %s%s\n", strcmp(arg, "dump") ? "" : "skipped: ", why);
}

int cmd_dump(int argc, char **argv)
{
	struct dump_args a;
	backup_counts c = {0};
	FILE *out = NULL;
	store *s = NULL;
	store_txn *t = NULL;
	char *tmp = NULL;
	int status = parse_args("dump", usage_dump, argc, argv, &a, 0);
	if (status)
		return status == CLI_OK + 100 ? CLI_OK : status;
	if ((status = open_store("dump", a.where, 1, &s)))
		goto out;
	status = CLI_FAIL;
	if (a.output && strcmp(a.output, "-") != 0) {
		if (asprintf(&tmp, "%s.tmp", a.output) < 0) {
			tmp = NULL;
			goto out;
		}
		if (!(out = fopen(tmp, "w"))) {
			fprintf(stderr, "idnode dump: %s: %s\n", tmp, strerror(errno));
			goto out;
		}
	} else {
		out = stdout;
	}
	int rc = store_txn_begin(s, STORE_RDONLY, &t);
	if (!rc)
		rc = backup_dump(
		    t, a.prefix ? idn_slice_of(a.prefix, strlen(a.prefix)) : idn_slice_of("", 0),
		    !a.prefix, out, print_skipped, "dump", &c);
	if (rc) {
		fprintf(stderr, "idnode dump: %s: %s\n", a.where, idn_strerror(rc));
		goto out;
	}
	if (fflush(out) || (tmp && fsync(fileno(out)))) {
		fprintf(stderr, "idnode dump: %s: %s\n", tmp ? tmp : "stdout", strerror(errno));
		goto out;
	}
	if (tmp) {
		int e = fclose(out);
		out = NULL;
		if (e || rename(tmp, a.output)) {
			fprintf(stderr, "idnode dump: %s: %s\n", a.output, strerror(errno));
			goto out;
		}
	}
	if (!a.quiet)
		fprintf(stderr, "dumped %llu identifiers (%llu skipped)\n",
		        (unsigned long long)c.records, (unsigned long long)c.bad);
	status = c.bad ? CLI_FAIL : CLI_OK;
out:
	if (t)
		store_txn_abort(t);
	store_close(s);
	if (out && out != stdout)
		fclose(out);
	if (tmp && status != CLI_OK && access(tmp, F_OK) == 0)
		unlink(tmp);
	free(tmp);
	return status;
}

static void print_bad_line(void *arg, uint64_t line, const char *msg)
{
	fprintf(stderr, "%s:%llu: %s\n", (const char *)arg, (unsigned long long)line, msg);
}

/* The message for a restore stopped by rc. */
static void restore_failed(const struct dump_args *a, const backup_restore_result *r, int rc)
{
	switch (r->failed_at) {
	case BACKUP_AT_BEGIN:
		fprintf(stderr, "idnode restore: %s: %s\n", a->where, idn_strerror(rc));
		break;
	case BACKUP_AT_LINE:
		fprintf(stderr, "idnode restore: %s:%llu: %s\n", a->file,
		        (unsigned long long)r->line, idn_strerror(rc));
		break;
	case BACKUP_AT_COMMIT:
		fprintf(stderr, "idnode restore: %s: commit: %s\n", a->where, idn_strerror(rc));
		break;
	case BACKUP_AT_READ:
		fprintf(stderr, "idnode restore: %s: %s\n", a->file, strerror(r->read_errno));
		break;
	}
}

int cmd_restore(int argc, char **argv)
{
	struct dump_args a;
	backup_restore_result r;
	store *s = NULL;
	FILE *in = NULL;
	int rc, status = parse_args("restore", usage_restore, argc, argv, &a, 1);
	if (status)
		return status == CLI_OK + 100 ? CLI_OK : status;
	status = CLI_FAIL;
	in = strcmp(a.file, "-") ? fopen(a.file, "r") : stdin;
	if (!in) {
		fprintf(stderr, "idnode restore: %s: %s\n", a.file, strerror(errno));
		goto out;
	}
	if (open_store("restore", a.where, 0, &s))
		goto out;
	if (!a.merge) {
		uint64_t cnt = 0, homes = 0;
		if ((rc = backup_store_size(s, &cnt, &homes))) {
			fprintf(stderr, "idnode restore: %s: %s\n", a.where, idn_strerror(rc));
			goto out;
		}
		if (cnt || homes) {
			fprintf(
			    stderr,
			    "idnode restore: %s: the store is not empty (%llu identifiers, %llu "
			    "homed prefixes); restore into an empty store, or give --merge\n",
			    a.where, (unsigned long long)cnt, (unsigned long long)homes);
			goto out;
		}
	}
	/* A backup is restored whole: one from before records were checked may hold one too big. */
	import_opts io = {.case_sensitive = !a.case_insensitive,
	                  .now = (uint32_t)time(NULL),
	                  .max_record = IMPORT_ANY_SIZE};
	if ((rc = backup_restore(s, in, &io, print_bad_line, (void *)a.file, &r))) {
		restore_failed(&a, &r, rc);
		goto out;
	}
	if (!a.quiet)
		fprintf(stderr, "restored %llu identifiers (%llu bad lines)\n",
		        (unsigned long long)r.counts.records, (unsigned long long)r.counts.bad);
	status = r.counts.bad ? CLI_FAIL : CLI_OK;
out:
	store_close(s);
	if (in && in != stdin)
		fclose(in);
	return status;
}

int cmd_verify(int argc, char **argv)
{
	struct dump_args a;
	backup_counts c = {0};
	store *s = NULL;
	store_txn *t = NULL;
	int rc, status = parse_args("verify", usage_verify, argc, argv, &a, 0);
	if (status)
		return status == CLI_OK + 100 ? CLI_OK : status;
	if ((status = open_store("verify", a.where, 1, &s)))
		goto out;
	status = CLI_FAIL;
	if ((rc = store_txn_begin(s, STORE_RDONLY, &t)) ||
	    (rc = backup_verify(t, print_skipped, "verify", &c))) {
		fprintf(stderr, "idnode verify: %s: %s\n", a.where, idn_strerror(rc));
		goto out;
	}
	printf("%llu records, %llu bad\n", (unsigned long long)c.records,
	       (unsigned long long)c.bad);
	status = c.bad ? CLI_FAIL : CLI_OK;
out:
	if (t)
		store_txn_abort(t);
	store_close(s);
	return status;
}
