/*
 * cmd_load.c - `idnode load`: bulk import of JSON Lines into the store. The
 * options, the progress display and the messages are here; the lines are
 * parsed by import_line() (node/import.h) and sorted and written by the bulk
 * loader (store/bulkload.h).
 *
 * Lines are parsed by import_line() with our own JSON parser (core/json.h),
 * not jansson: jansson takes ~6.5 us per 300-byte line here, which alone
 * would cap the load at ~300k lines/s on two cores.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/err.h"
#include "node/import.h"
#include "store/bulkload.h"
#include "store/store.h"

enum { MAX_HOME = 64 };

static const char usage_text[] =
    "usage: idnode load --data DIR [OPTIONS] FILE\n"
    "\n"
    "Imports identifiers from a JSON Lines FILE (- for standard input) into the\n"
    "store in DIR, one identifier per line:\n"
    "\n"
    "  {\"handle\":\"88.100.1/X\",\"values\":[{\"index\":1,\"type\":\"URL\","
    "\"data\":\"https://example.com/x\"}]}\n"
    "\n"
    "Each value needs \"index\" (1..2147483647, unique within the identifier),\n"
    "\"type\" (a non-empty string) and \"data\": a string, stored as its UTF-8 bytes,\n"
    "or {\"format\":\"string\"|\"hex\"|\"base64\",\"value\":\"...\"}. Optional:\n"
    "  \"ttl\"          seconds, 0..2147483647 (default 86400)\n"
    "  \"ttl_type\"     \"relative\" (default) or \"absolute\", or 0 / 1 (also \"ttlType\")\n"
    "  \"perms\"        0..15, default 14 = admin read+write, public read\n"
    "                 (also \"permissions\")\n"
    "  \"timestamp\"    unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\" (default: when the\n"
    "                 load started)\n"
    "  \"references\"   [{\"handle\":\"...\",\"index\":N}, ...]\n"
    "Other keys of a line are ignored; other keys inside a value are errors.\n"
    "Blank lines are skipped.\n"
    "\n"
    "A line with any error is skipped whole and reported as FILE:LINE: FIELD: what\n"
    "is wrong; the other lines still load. An identifier already in the store is\n"
    "replaced (all its values) unless --no-overwrite is given. When a handle is on\n"
    "several lines, the last line wins and the earlier ones are not written.\n"
    "Everything loaded is durable when the command returns. An interrupted load of\n"
    "a FILE (killed; power lost: see below) resumes when the same command is run\n"
    "again: what it committed is not written again, and the result is that of one\n"
    "whole load.\n"
    "Into an empty store, commits are not waited for on the disk (one wait at the\n"
    "end): a kill loses nothing, but if the machine stops (power loss, crash)\n"
    "during such a load, the store may be damaged: the next load says so, and the\n"
    "store must be deleted and loaded again.\n"
    "A load is not written\n"
    "to the store's transaction log (the log is emptied): mirrors of this store copy\n"
    "it afresh.\n"
    "\n"
    "options:\n"
    "  -d, --data DIR        the store directory (required; created if missing)\n"
    "      --store URI       a PostgreSQL store instead: postgresql://USER@HOST:PORT/DB\n"
    "  -H, --home PREFIX     also home PREFIX (e.g. 88.100.1) on this node; repeatable\n"
    "      --case-insensitive  store suffixes upper-cased; must match the server's\n"
    "                        setting\n"
    "      --no-overwrite    keep identifiers already in the store and report their\n"
    "                        lines as errors\n"
    "      --max-record-bytes N  refuse a line whose record is larger than N bytes\n"
    "                        (default and at most: what one answer carries, ~258 KB\n"
    "                        less the handle; a larger one could never be served)\n"
    "      --memory MIB      memory for sorting (default: a quarter of the RAM, at\n"
    "                        most 16 GiB). A bigger input is sorted in runs of this\n"
    "                        size spilled to --tmp, then merged into one ordered\n"
    "                        pass of writes\n"
    "      --load-memory MIB  the same as --memory\n"
    "      --overlap         a file read in passes, the search index off: parse each\n"
    "                        pass while the one before is written (each within half\n"
    "                        the memory: about twice the passes); for idle cores and\n"
    "                        a file the page cache holds\n"
    "      --tmp DIR         where runs that do not fit in memory are spilled (default:\n"
    "                        the store directory; $TMPDIR or /tmp for --store); the\n"
    "                        files are deleted as they are made, and need about the\n"
    "                        input's size\n"
    "  -q, --quiet           no progress display and no summary\n"
    "  -h, --help            this text\n"
    "\n"
    "exit status: 0 every line loaded; 1 some lines failed (the others are loaded);\n"
    "2 usage error, or the input or the store failed.\n";

/* What the command shows while the loader runs. */
struct loader {
	const char *name; /* FILE as shown in messages */
	bool quiet, tty, shown;
	store *s;
	bulkload_stats st; /* as last reported */
	struct timespec t0;
	double last_progress;
	int progress_len;
	uint64_t size;        /* of FILE; 0: unknown (standard input) */
	uint64_t abort_after; /* --abort-after: SIGKILL itself past this many loaded */
	uint64_t abort_index; /* --abort-in-index: ... this many index entries written */
};

static double elapsed(const struct loader *L)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - L->t0.tv_sec) + (double)(t.tv_nsec - L->t0.tv_nsec) / 1e9;
}

static void progress(struct loader *L, bool force)
{
	if (!L->tty)
		return;
	double t = elapsed(L);
	if (!force && !L->st.indexing && t - L->last_progress < 0.2)
		return;
	L->last_progress = t;
	char buf[200];
	int n =
	    snprintf(buf, sizeof(buf), "%llu lines read, %llu loaded, %llu errors, %.0f lines/s",
	             (unsigned long long)L->st.lines, (unsigned long long)L->st.loaded,
	             (unsigned long long)L->st.errors, t > 0 ? (double)L->st.lines / t : 0.0);
	/* Done: half for reading (and sorting) the input, half for writing it,
	 * which starts when the input is read; the time left assumes the rest
	 * goes as fast as what was done. */
	if (L->size && n > 0 && (size_t)n < sizeof(buf)) {
		uint64_t todo = L->st.lines - L->st.errors;
		double f = 0.5 * (double)L->st.bytes / (double)L->size;
		if (L->st.passes > 1) /* one pass per key range, each read then written */
			f = ((double)L->st.pass +
			     0.8 * (double)L->st.pass_bytes / (double)L->size) /
			    L->st.passes;
		else if (L->st.bytes >= L->size && todo)
			f += 0.5 * (double)(L->st.loaded + L->st.resumed + L->st.superseded) /
			     (double)todo;
		f = f > 1 ? 1 : f;
		if (L->st.indexing)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			              ", writing the search index");
		else if (f > 0.001)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			              ", %.0f%% done, %.0f s left", 100 * f, t * (1 - f) / f);
	}
	fprintf(stderr, "\r%s%*s", buf, L->progress_len > n ? L->progress_len - n : 0, "");
	L->progress_len = n;
	L->shown = true;
}

static void progress_clear(struct loader *L)
{
	if (L->shown) {
		fprintf(stderr, "\r%*s\r", L->progress_len, "");
		L->shown = false;
		L->progress_len = 0;
	}
}

static void on_progress(void *arg, const bulkload_stats *st)
{
	struct loader *L = arg;
	L->st = *st;
	progress(L, false);
	if (L->abort_after && st->loaded >= L->abort_after)
		raise(SIGKILL); /* --abort-after: an interruption, for tests */
	if (L->abort_index && st->index_entries >= L->abort_index)
		raise(SIGKILL); /* --abort-in-index: one in the final phase */
}

static void on_line_error(void *arg, uint64_t line, int code, const char *msg)
{
	struct loader *L = arg;
	progress_clear(L);
	fprintf(stderr, "%s:%llu: %s%s\n", L->name, (unsigned long long)line, msg,
	        code == IDN_EEXIST ? " (--no-overwrite)" : "");
}

/* The loader's parser: one JSON line by import_line(). */
static int parse_json_line(void *parser, const uint8_t *line, size_t len, bulkload_alloc_fn alloc,
                           void *alloc_arg, size_t *key_len, size_t *record_len, const char **why)
{
	import_out o;
	int rc = import_line(parser, line, len, alloc, alloc_arg, &o);
	if (rc == IMPORT_BLANK)
		return BULKLOAD_SKIP;
	if (rc == IDN_EINVAL)
		*why = import_msg(parser);
	if (rc == IDN_OK) {
		*key_len = o.key.len;
		*record_len = o.record.len;
	}
	return rc;
}

/* The loader's key of a line: import_key(), 0 when only import_line() can tell. */
static size_t key_json_line(void *parser, const uint8_t *line, size_t len, uint8_t *key)
{
	return import_key(parser, line, len, key);
}

/*
 * A map that holds what the input adds, so a transaction rarely meets a full
 * map (then it is redone in a grown map). The store never maps less than it
 * already uses, and grows the map before a transaction when 3/4 are used.
 */
static uint64_t map_size_for(int fd)
{
	struct stat st;
	uint64_t want = (uint64_t)1 << 30, mib64 = (uint64_t)64 << 20;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		want = (uint64_t)st.st_size * 2 + (256 << 20);
	return (want + mib64 - 1) / mib64 * mib64;
}

/* What the command line asks for. */
struct load_args {
	const char *data, *home[MAX_HOME], *file;
	int nhome;
	bool case_insensitive, no_overwrite, quiet;
	bool no_passes;      /* hidden, for tests and A/B runs: spill rather than read in passes */
	bool overlap;        /* --overlap: a pass parsed while the one before is written */
	const char *boot_id; /* hidden, for tests and A/B runs: instead of the machine's */
	uint64_t memory;     /* bytes; 0: the loader's default */
	size_t max_record;   /* import_opts.max_record; 0: what one answer carries */
	const char *tmp;     /* spill directory; NULL: DIR, or $TMPDIR for --store */
	uint64_t abort_after, abort_index, txn_kib; /* hidden, for tests */
	uint64_t index_keep_max; /* hidden, for tests: bulkload_opts.index_keep_max */
};

/* Parses argv into a; -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct load_args *a)
{
	enum {
		O_CASE = 256,
		O_NOOVER,
		O_MEMORY,
		O_MAXREC,
		O_TMP,
		O_ABORT,
		O_ABORT_IX,
		O_TXN,
		O_IXKEEP,
		O_NOPASS,
		O_OVERLAP,
		O_BOOT
	};
	static const struct option longopts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"store", required_argument, NULL, 'd'}, /* a PostgreSQL URI; store_open() picks */
	    {"home", required_argument, NULL, 'H'},
	    {"case-insensitive", no_argument, NULL, O_CASE},
	    {"no-overwrite", no_argument, NULL, O_NOOVER},
	    {"memory", required_argument, NULL, O_MEMORY},
	    {"load-memory", required_argument, NULL, O_MEMORY},
	    {"tmp", required_argument, NULL, O_TMP},
	    {"abort-after", required_argument, NULL, O_ABORT},       /* hidden: tests */
	    {"abort-in-index", required_argument, NULL, O_ABORT_IX}, /* hidden: tests */
	    {"txn-kib", required_argument, NULL, O_TXN},             /* hidden: tests */
	    {"index-keep-max", required_argument, NULL, O_IXKEEP},   /* hidden: tests */
	    {"no-passes", no_argument, NULL, O_NOPASS},              /* hidden: tests */
	    {"overlap", no_argument, NULL, O_OVERLAP},
	    {"boot-id", required_argument, NULL, O_BOOT}, /* hidden: tests */
	    {"max-record-bytes", required_argument, NULL, O_MAXREC},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:H:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			a->data = optarg;
			break;
		case 'H':
			if (a->nhome == MAX_HOME) {
				fprintf(stderr, "idnode load: at most %d --home prefixes\n",
				        MAX_HOME);
				return CLI_USAGE;
			}
			a->home[a->nhome++] = optarg;
			break;
		case O_CASE:
			a->case_insensitive = true;
			break;
		case O_NOOVER:
			a->no_overwrite = true;
			break;
		case O_NOPASS:
			a->no_passes = true;
			break;
		case O_OVERLAP:
			a->overlap = true;
			break;
		case O_BOOT:
			a->boot_id = optarg;
			break;
		case O_MEMORY: {
			char *end;
			errno = 0;
			unsigned long long mib = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || mib == 0 || mib > (1ull << 30)) {
				fprintf(stderr, "idnode load: --memory '%s': not a number of MiB\n",
				        optarg);
				return CLI_USAGE;
			}
			a->memory = mib << 20;
			break;
		}
		case O_MAXREC: {
			char *end;
			errno = 0;
			unsigned long n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || n == 0 || n > PROTO_MSG_MAX) {
				fprintf(
				    stderr,
				    "idnode load: --max-record-bytes '%s': a number of bytes, 1 to "
				    "%d\n",
				    optarg, PROTO_MSG_MAX);
				return CLI_USAGE;
			}
			a->max_record = n;
			break;
		}
		case O_TMP:
			a->tmp = optarg;
			break;
		case O_ABORT:
		case O_ABORT_IX:
		case O_TXN:
		case O_IXKEEP: {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || v == 0 ||
			    strchr(optarg, '-')) { /* strtoull takes " -1" too */
				const struct option *o = longopts;
				while (o->val != opt)
					o++;
				fprintf(stderr, "idnode load: --%s '%s': not a positive number\n",
				        o->name, optarg);
				return CLI_USAGE;
			}
			*(opt == O_ABORT      ? &a->abort_after
			  : opt == O_ABORT_IX ? &a->abort_index
			  : opt == O_TXN      ? &a->txn_kib
			                      : &a->index_keep_max) = v;
			break;
		}
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_OK;
		default:
			fputs(usage_text, stderr);
			return CLI_USAGE;
		}
	}
	if (!a->data) {
		fprintf(stderr, "idnode load: no store: give --data DIR or --store URI\n");
		return CLI_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "idnode load: %s (FILE, or - for standard input)\n",
		        optind == argc ? "no input file" : "one input file only");
		return CLI_USAGE;
	}
	a->file = argv[optind];
	return -1;
}

/*
 * What identifies this load for resuming (bulkload.h): the input file
 * (device, inode, size, modification time, path) and the options that
 * change what is written. False for standard input or anything not a
 * regular file: such a load starts afresh.
 */
static bool resume_id(int fd, const struct load_args *a, char *buf, size_t cap, uint64_t *size)
{
	struct stat st;
	*size = 0;
	if (fd == STDIN_FILENO || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return false;
	*size = (uint64_t)st.st_size;
	int n = snprintf(buf, cap, "v1 %llu:%llu %llu %lld.%09ld ci=%d nov=%d max=%zu %s",
	                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
	                 (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec,
	                 st.st_mtim.tv_nsec, a->case_insensitive, a->no_overwrite, a->max_record,
	                 a->file);
	if (n < 0 || (size_t)n >= cap)
		buf[cap - 1] = 0; /* a very long path: its start is enough */
	return true;
}

/* Where runs that do not fit in memory are spilled. */
static const char *spill_dir(const struct load_args *a)
{
	if (a->tmp)
		return a->tmp;
	if (strncmp(a->data, "postgresql://", 13) && strncmp(a->data, "postgres://", 11))
		return a->data;
	const char *t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}

/* The summary, and the exit status. */
static int summary(struct loader *L)
{
	double t = elapsed(L);
	if (!L->quiet) {
		if (L->st.passes > 1)
			fprintf(
			    stderr,
			    "idnode load: the input did not fit in --memory: read in %u passes, "
			    "one key range each%s%s\n",
			    L->st.passes,
			    L->st.lines_recorded ? " (each line's range noted in the first)" : "",
			    L->st.overlapped ? ", each parsed while the one before was written"
			                     : "");
		if (L->st.lazy_commits)
			fprintf(stderr,
			        "idnode load: the store was empty: %llu of %llu commits not waited "
			        "for on the disk, all made durable at the end\n",
			        (unsigned long long)L->st.lazy_commits,
			        (unsigned long long)L->st.commits);
		if (L->st.runs)
			fprintf(
			    stderr,
			    "idnode load: the input did not fit in --memory: sorted in %llu runs "
			    "(%llu entries) spilled and merged\n",
			    (unsigned long long)L->st.runs, (unsigned long long)L->st.spilled);
		if (L->st.index_entries)
			fprintf(stderr,
			        "idnode load: search index: %llu entries made during the load, "
			        "written in key order (%.1f s at the end)\n",
			        (unsigned long long)L->st.index_entries,
			        (double)L->st.index_ms / 1000);
		else if (L->st.index_ms >= 1000)
			fprintf(
			    stderr,
			    "idnode load: %.1f s of it rebuilding the search index; a store that "
			    "is not searched loads faster with `idnode index off` first\n",
			    (double)L->st.index_ms / 1000);
		if (L->st.resumed)
			fprintf(stderr,
			        "idnode load: %llu identifiers were already written by the "
			        "interrupted load\n",
			        (unsigned long long)L->st.resumed);
		if (L->st.superseded)
			fprintf(stderr,
			        "idnode load: %llu line%s not written: a later line has the same "
			        "handle\n",
			        (unsigned long long)L->st.superseded,
			        L->st.superseded == 1 ? "" : "s");
		printf("loaded %llu identifiers (%llu errors) in %.2f s: %.0f identifiers/s\n",
		       (unsigned long long)L->st.loaded, (unsigned long long)L->st.errors, t,
		       t > 0 ? (double)L->st.loaded / t : 0.0);
		fflush(stdout);
	}
	if (L->st.errors) {
		fprintf(stderr, "idnode load: %s: %llu of %llu lines failed and were not loaded\n",
		        L->name, (unsigned long long)L->st.errors, (unsigned long long)L->st.lines);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cmd_load(int argc, char **argv)
{
	struct load_args a = {0};
	struct loader L = {0};
	import_opts io = {.case_sensitive = true};
	import_ctx *imp[2] = {NULL, NULL};
	bulkload *bl = NULL;
	int fd = -1, status, rc;

	if ((status = parse_args(argc, argv, &a)) >= 0)
		return status;
	status = CLI_USAGE;
	io.case_sensitive = !a.case_insensitive;
	io.max_record = a.max_record;
	L.quiet = a.quiet;
	if (!strcmp(a.file, "-")) {
		fd = STDIN_FILENO;
		L.name = "<stdin>";
	} else {
		fd = open(a.file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "idnode load: %s: %s\n", a.file, strerror(errno));
			return CLI_USAGE;
		}
		L.name = a.file;
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}

	clock_gettime(CLOCK_MONOTONIC, &L.t0);
	io.now = (uint32_t)time(NULL);
	L.tty = !L.quiet && isatty(STDERR_FILENO);
	L.abort_after = a.abort_after;
	L.abort_index = a.abort_index;
	store_opts so = {.map_size = map_size_for(fd)};
	if ((rc = store_open(a.data, &so, &L.s))) {
		fprintf(stderr, "idnode load: %s: cannot open the store: %s\n", a.data,
		        idn_strerror(rc));
		goto out;
	}
	char boot[BULKLOAD_BOOT_ID_MAX + 1];
	if (a.boot_id)
		snprintf(boot, sizeof(boot), "%s", a.boot_id);
	else
		bulkload_boot_id(boot, sizeof(boot));
	if ((rc = bulkload_lazy_check(L.s, boot)) == IDN_ESTORE) {
		fprintf(stderr,
		        "idnode load: %s: an earlier load into this store, empty then, was cut "
		        "by a restart of the machine before it was made durable: the store may "
		        "be damaged; delete it and load again\n",
		        a.data);
		goto out;
	} else if (rc) {
		fprintf(stderr, "idnode load: %s: %s\n", a.data, idn_strerror(rc));
		goto out;
	}
	char rid[BULKLOAD_RESUME_ID_MAX + 1];
	bool resumable = resume_id(fd, &a, rid, sizeof(rid), &L.size);
	uint32_t then;
	size_t klen;
	if (resumable && bulkload_resume_point(L.s, rid, &then, &klen) == IDN_OK) {
		io.now = then; /* what the interrupted load gave records without a timestamp */
		if (!L.quiet)
			fprintf(stderr,
			        "idnode load: resuming an interrupted load of %s: identifiers it "
			        "committed are not written again\n",
			        L.name);
	}
	imp[0] = import_new(&io);
	imp[1] = import_new(&io);
	if (!imp[0] || !imp[1]) {
		fprintf(stderr, "idnode load: %s\n", idn_strerror(IDN_ENOMEM));
		goto out;
	}
	size_t bad;
	if ((rc = store_home_prefixes(L.s, a.home, (size_t)a.nhome, &bad))) {
		if (rc == IDN_EINVAL)
			fprintf(stderr, "idnode load: --home '%s': not a prefix\n", a.home[bad]);
		else
			fprintf(stderr, "idnode load: %s: homing prefixes: %s\n", a.data,
			        idn_strerror(rc));
		goto out;
	}
	bulkload_opts bo = {.no_overwrite = a.no_overwrite,
	                    .overlap = a.overlap,
	                    .memory = a.memory,
	                    .parse = parse_json_line,
	                    .parser = {imp[0], imp[1]},
	                    .key = a.no_passes ? NULL : key_json_line,
	                    .on_error = on_line_error,
	                    .on_progress = on_progress,
	                    .arg = &L,
	                    .spill_dir = spill_dir(&a),
	                    .resume_id = resumable ? rid : NULL,
	                    .resume_now = io.now,
	                    .boot_id = boot,
	                    .txn_bytes = a.txn_kib << 10,
	                    .index_keep_max = a.index_keep_max};
	if ((rc = bulkload_new(L.s, &bo, &bl)) == IDN_OK &&
	    (rc = bulkload_read_fd(bl, fd)) == IDN_OK)
		rc = bulkload_finish(bl);
	if (bl)
		L.st = *bulkload_stats_of(bl);
	progress_clear(&L);
	if (rc == IDN_EIO && bl && bulkload_spill_errno(bl)) {
		fprintf(stderr,
		        "idnode load: --tmp %s: spilling sorted runs: %s; identifiers committed "
		        "before this are in the store\n",
		        spill_dir(&a), strerror(bulkload_spill_errno(bl)));
		goto out;
	}
	if (rc == IDN_EIO && bl && bulkload_errno(bl)) {
		fprintf(stderr, "idnode load: %s: %s\n", L.name, strerror(bulkload_errno(bl)));
		goto out;
	}
	if (rc) {
		fprintf(stderr,
		        "idnode load: %s: %s; identifiers committed before this "
		        "are in the store\n",
		        a.data, idn_strerror(rc));
		goto out;
	}
	status = summary(&L);
out:
	bulkload_free(bl);
	store_close(L.s);
	if (fd > STDIN_FILENO)
		close(fd);
	import_free(imp[0]);
	import_free(imp[1]);
	return status;
}
