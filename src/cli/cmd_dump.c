/*
 * cmd_dump.c - backups: `idnode dump`, `idnode restore`, `idnode verify`.
 *
 * dump writes one identifier per line in the JSON Lines format `idnode load`
 * reads (node/import.h), from one read transaction, so the file is a
 * consistent snapshot even while a node serves and writes the same store
 * (LMDB: an MVCC read txn; PostgreSQL: a REPEATABLE READ snapshot). Every
 * field is written explicitly (ttl, ttl_type, perms, timestamp, references),
 * and data that is not text (UTF-8 without NUL) as base64, so a restore gives
 * back the same records byte for byte. Homed prefixes come first, one line
 * each: {"home":"88.100.1"} (restore homes them; `idnode load` does not know
 * these lines). The file appears under its name only when complete (written
 * as NAME.tmp, fsync'd, renamed).
 *
 * restore reads such a file into an empty store (--merge: any store), in
 * transactions of RESTORE_BATCH lines; a bad line is reported as
 * FILE:LINE: FIELD: reason and skipped, and makes the exit status 1.
 *
 * verify reads every record of a store in one read transaction and checks
 * that it decodes whole (proto/record.h record_check); it names each bad key.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/err.h"
#include "proto/handle.h"
#include "node/import.h"
#include "proto/record.h"
#include "store/store.h"

enum { RESTORE_BATCH = 1000, O_MERGE = 256, O_CASE };

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
    "exit status: 0 all good, 1 bad records or a store error, 2 usage\n";

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

static int open_store(const char *cmd, const char *where, store **s)
{
	store_opts so = {0};
	int rc = store_open(where, &so, s);
	if (rc)
		fprintf(stderr, "idnode %s: %s: cannot open the store: %s\n", cmd, where,
		        idn_strerror(rc));
	return rc;
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

/* ---- dump ---- */

struct dumper {
	FILE *out;
	uint64_t n, bad;
	char *b64;
	size_t b64cap;
};

static int is_text(idn_slice d)
{
	return handle_utf8_valid(d) && !memchr(d.p, 0, d.len);
}

static json_t *data_json(struct dumper *d, idn_slice data)
{
	if (is_text(data))
		return json_stringn((const char *)data.p, data.len);
	size_t need = 4 * ((data.len + 2) / 3) + 1;
	if (need > d->b64cap) {
		char *n = realloc(d->b64, need);
		if (!n)
			return NULL;
		d->b64 = n;
		d->b64cap = need;
	}
	int len = EVP_EncodeBlock((unsigned char *)d->b64, data.p, (int)data.len);
	return json_pack("{s:s, s:s%}", "format", "base64", "value", d->b64, (size_t)len);
}

/* The line of one identifier, or NULL (with why) when it cannot be written. */
static json_t *record_json(struct dumper *d, idn_slice key, idn_slice val, const char **why)
{
	record r;
	json_t *values = NULL, *line = NULL;
	*why = "not a record";
	if (record_check(val) || record_parse(val, &r))
		return NULL;
	*why = "the identifier is not UTF-8";
	if (!handle_utf8_valid(key))
		return NULL;
	*why = "out of memory";
	if (!(values = json_array()))
		return NULL;
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		if (!handle_utf8_valid(v.type)) {
			*why = "a value type is not UTF-8";
			goto fail;
		}
		json_t *refs = json_array();
		wire_rd rc = wire_rd_init(v.refs.p, v.refs.len);
		proto_ref ref;
		int got;
		while (refs && (got = proto_ref_next(&rc, &ref)) == 1) {
			if (!handle_utf8_valid(ref.handle)) {
				*why = "a reference is not UTF-8";
				json_decref(refs);
				goto fail;
			}
			json_array_append_new(refs, json_pack("{s:s%, s:I}", "handle", ref.handle.p,
			                                      (size_t)ref.handle.len, "index",
			                                      (json_int_t)ref.index));
		}
		json_t *o = json_pack(
		    "{s:I, s:s%, s:o, s:I, s:I, s:I, s:I, s:o}", "index", (json_int_t)v.index,
		    "type", v.type.p, (size_t)v.type.len, "data", data_json(d, v.data), "ttl",
		    (json_int_t)v.ttl, "ttl_type", (json_int_t)v.ttl_type, "perms",
		    (json_int_t)v.perms, "timestamp", (json_int_t)v.timestamp, "references", refs);
		if (!o || json_array_append_new(values, o))
			goto fail;
	}
	line = json_pack("{s:s%, s:o}", "handle", key.p, (size_t)key.len, "values", values);
	return line;
fail:
	json_decref(values);
	return NULL;
}

static int dump_cb(void *arg, idn_slice key, idn_slice val)
{
	struct dumper *d = arg;
	const char *why;
	json_t *line = record_json(d, key, val, &why);
	if (!line) {
		fprintf(stderr, "idnode dump: ");
		print_key(stderr, key);
		fprintf(stderr, ": skipped: %s\n", why);
		d->bad++;
		return 0;
	}
	int rc = json_dumpf(line, d->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	if (rc || fputc('\n', d->out) == EOF)
		return IDN_EIO;
	d->n++;
	return 0;
}

static int home_cb(void *arg, idn_slice prefix, idn_slice val)
{
	struct dumper *d = arg;
	(void)val;
	json_t *line = json_pack("{s:s%}", "home", prefix.p, (size_t)prefix.len);
	if (!line)
		return IDN_ENOMEM;
	int rc = json_dumpf(line, d->out, JSON_COMPACT);
	json_decref(line);
	return rc || fputc('\n', d->out) == EOF ? IDN_EIO : 0;
}

int cmd_dump(int argc, char **argv)
{
	struct dump_args a;
	struct dumper d = {0};
	store *s = NULL;
	store_txn *t = NULL;
	char *tmp = NULL;
	int status = parse_args("dump", usage_dump, argc, argv, &a, 0);
	if (status)
		return status == CLI_OK + 100 ? CLI_OK : status;
	status = CLI_FAIL;
	if (open_store("dump", a.where, &s))
		goto out;
	if (a.output && strcmp(a.output, "-") != 0) {
		if (asprintf(&tmp, "%s.tmp", a.output) < 0) {
			tmp = NULL;
			goto out;
		}
		if (!(d.out = fopen(tmp, "w"))) {
			fprintf(stderr, "idnode dump: %s: %s\n", tmp, strerror(errno));
			goto out;
		}
	} else {
		d.out = stdout;
	}
	int rc = store_txn_begin(s, STORE_RDONLY, &t);
	if (!rc && !a.prefix)
		rc = store_list_homed(t, home_cb, &d);
	if (!rc)
		rc = store_scan(
		    t, a.prefix ? idn_slice_of(a.prefix, strlen(a.prefix)) : idn_slice_of("", 0),
		    dump_cb, &d);
	if (rc) {
		fprintf(stderr, "idnode dump: %s: %s\n", a.where, idn_strerror(rc));
		goto out;
	}
	if (fflush(d.out) || (tmp && fsync(fileno(d.out)))) {
		fprintf(stderr, "idnode dump: %s: %s\n", tmp ? tmp : "stdout", strerror(errno));
		goto out;
	}
	if (tmp) {
		int e = fclose(d.out);
		d.out = NULL;
		if (e || rename(tmp, a.output)) {
			fprintf(stderr, "idnode dump: %s: %s\n", a.output, strerror(errno));
			goto out;
		}
	}
	if (!a.quiet)
		fprintf(stderr, "dumped %llu identifiers (%llu skipped)\n", (unsigned long long)d.n,
		        (unsigned long long)d.bad);
	status = d.bad ? CLI_FAIL : CLI_OK;
out:
	if (t)
		store_txn_abort(t);
	store_close(s);
	if (d.out && d.out != stdout)
		fclose(d.out);
	if (tmp && status != CLI_OK && access(tmp, F_OK) == 0)
		unlink(tmp);
	free(tmp);
	free(d.b64);
	return status;
}

/* ---- restore ---- */

struct scratch {
	uint8_t *p;
	size_t cap;
};

static void *scratch_alloc(void *arg, size_t len)
{
	struct scratch *sc = arg;
	if (len > sc->cap) {
		uint8_t *n = realloc(sc->p, len);
		if (!n)
			return NULL;
		sc->p = n;
		sc->cap = len;
	}
	return sc->p;
}

static int count_home(void *arg, idn_slice k, idn_slice v)
{
	(void)k;
	(void)v;
	++*(uint64_t *)arg;
	return 0;
}

/* 1 if the line is a {"home":"P"} line (P into *prefix), 0 if not, -1 if it is but bad. */
static int home_line(const char *line, size_t len, char *prefix, size_t cap)
{
	json_error_t err;
	json_t *j = NULL;
	int rc = 0;
	/* most lines are identifiers: parse twice only what may be a home line */
	if (!memmem(line, len, "\"home\"", 6))
		return 0;
	j = json_loadb(line, len, 0, &err);
	if (!j || !json_is_object(j) || !json_object_get(j, "home") || json_object_get(j, "handle"))
		goto out;
	const char *p = json_string_value(json_object_get(j, "home"));
	rc = -1;
	if (!p || !*p || strlen(p) >= cap)
		goto out;
	strcpy(prefix, p);
	rc = 1;
out:
	json_decref(j);
	return rc;
}

int cmd_restore(int argc, char **argv)
{
	struct dump_args a;
	struct scratch sc = {0};
	store *s = NULL;
	store_txn *t = NULL;
	import_ctx *ic = NULL;
	FILE *in = NULL;
	char *line = NULL;
	size_t linecap = 0;
	uint64_t lineno = 0, n = 0, bad = 0, inbatch = 0;
	int rc, status = parse_args("restore", usage_restore, argc, argv, &a, 1);
	if (status)
		return status == CLI_OK + 100 ? CLI_OK : status;
	status = CLI_FAIL;
	in = strcmp(a.file, "-") ? fopen(a.file, "r") : stdin;
	if (!in) {
		fprintf(stderr, "idnode restore: %s: %s\n", a.file, strerror(errno));
		goto out;
	}
	import_opts io = {.case_sensitive = !a.case_insensitive, .now = (uint32_t)time(NULL)};
	if (!(ic = import_new(&io)) || open_store("restore", a.where, &s))
		goto out;
	if (!a.merge) {
		uint64_t cnt = 0, homes = 0;
		if ((rc = store_txn_begin(s, STORE_RDONLY, &t)) || (rc = store_count(t, &cnt)) ||
		    (rc = store_list_homed(t, count_home, &homes))) {
			fprintf(stderr, "idnode restore: %s: %s\n", a.where, idn_strerror(rc));
			goto out;
		}
		store_txn_abort(t);
		t = NULL;
		if (cnt || homes) {
			fprintf(
			    stderr,
			    "idnode restore: %s: the store is not empty (%llu identifiers, %llu "
			    "homed prefixes); restore into an empty store, or give --merge\n",
			    a.where, (unsigned long long)cnt, (unsigned long long)homes);
			goto out;
		}
	}
	ssize_t len;
	while ((len = getline(&line, &linecap, in)) >= 0) {
		lineno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		/* not logged (store.h): mirrors copy the store again rather than read a
		 * log of every restored record; PostgreSQL writes such batches by COPY */
		if (!t && (rc = store_txn_begin(s, STORE_NOLOG, &t))) {
			fprintf(stderr, "idnode restore: %s: %s\n", a.where, idn_strerror(rc));
			goto out;
		}
		char prefix[HANDLE_KEY_MAX + 1];
		int h = home_line(line, (size_t)len, prefix, sizeof(prefix));
		if (h < 0) {
			fprintf(stderr, "%s:%llu: home: must be a non-empty prefix\n", a.file,
			        (unsigned long long)lineno);
			bad++;
			continue;
		}
		if (h == 1) {
			uint8_t norm[HANDLE_KEY_MAX];
			int nl = handle_prefix_norm(idn_slice_of(prefix, strlen(prefix)), norm,
			                            sizeof(norm));
			rc = nl < 0 ? nl : store_home(t, idn_slice_of(norm, (size_t)nl));
		} else {
			import_out o;
			rc = import_line(ic, line, (size_t)len, scratch_alloc, &sc, &o);
			if (rc == IMPORT_BLANK)
				continue;
			if (rc == IDN_EINVAL) {
				char msg[IMPORT_MSG_MAX + 256];
				import_format(msg, sizeof(msg), a.file, lineno, import_msg(ic));
				fprintf(stderr, "%s\n", msg);
				bad++;
				continue;
			}
			if (!rc)
				rc = store_put(t, o.key, o.record, 0);
			if (!rc)
				n++;
		}
		if (rc) {
			fprintf(stderr, "idnode restore: %s:%llu: %s\n", a.file,
			        (unsigned long long)lineno, idn_strerror(rc));
			goto out;
		}
		if (++inbatch == RESTORE_BATCH) {
			rc = store_txn_commit(t);
			t = NULL;
			inbatch = 0;
			if (rc) {
				fprintf(stderr, "idnode restore: %s: commit: %s\n", a.where,
				        idn_strerror(rc));
				goto out;
			}
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "idnode restore: %s: %s\n", a.file, strerror(errno));
		goto out;
	}
	if (t) {
		rc = store_txn_commit(t);
		t = NULL;
		if (rc) {
			fprintf(stderr, "idnode restore: %s: commit: %s\n", a.where,
			        idn_strerror(rc));
			goto out;
		}
	}
	if (!a.quiet)
		fprintf(stderr, "restored %llu identifiers (%llu bad lines)\n",
		        (unsigned long long)n, (unsigned long long)bad);
	status = bad ? CLI_FAIL : CLI_OK;
out:
	if (t)
		store_txn_abort(t);
	store_close(s);
	import_free(ic);
	if (in && in != stdin)
		fclose(in);
	free(line);
	free(sc.p);
	return status;
}

/* ---- verify ---- */

struct verifier {
	uint64_t n, bad;
};

static int verify_cb(void *arg, idn_slice key, idn_slice val)
{
	struct verifier *v = arg;
	v->n++;
	if (record_check(val) == IDN_OK)
		return 0;
	v->bad++;
	fprintf(stderr, "idnode verify: ");
	print_key(stderr, key);
	fprintf(stderr, ": the record does not decode (%u bytes)\n", val.len);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	struct dump_args a;
	struct verifier v = {0};
	store *s = NULL;
	store_txn *t = NULL;
	int rc, status = parse_args("verify", usage_verify, argc, argv, &a, 0);
	if (status)
		return status == CLI_OK + 100 ? CLI_OK : status;
	status = CLI_FAIL;
	if (open_store("verify", a.where, &s))
		goto out;
	if ((rc = store_txn_begin(s, STORE_RDONLY, &t)) ||
	    (rc = store_scan(t, idn_slice_of("", 0), verify_cb, &v))) {
		fprintf(stderr, "idnode verify: %s: %s\n", a.where, idn_strerror(rc));
		goto out;
	}
	printf("%llu records, %llu bad\n", (unsigned long long)v.n, (unsigned long long)v.bad);
	status = v.bad ? CLI_FAIL : CLI_OK;
out:
	if (t)
		store_txn_abort(t);
	store_close(s);
	return status;
}
