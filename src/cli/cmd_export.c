/*
 * cmd_export.c - moving a prefix's identifiers off a running node:
 *
 *   idnode export PREFIX --server HOST:PORT --id INDEX:HANDLE (--key FILE |
 *                 --secret-file FILE) [-o FILE] [--verify-against FILE]
 *
 * lists the handles under PREFIX (op 105) and reads each one whole as an
 * administrator (client/reader.h: resolutions without PO in one
 * authenticated session, pipelined), restricted values included, and writes
 * them as JSON Lines with the writer `idnode dump` uses (node/backup.h):
 * {"home":"PREFIX"} first, then a line per identifier, so `idnode restore`
 * (or `idnode load`) takes the file as it is. 0.NA/PREFIX is read too when
 * the node holds it (its HS_ADMIN values give the rights to list and
 * create under the prefix).
 *
 * --verify-against FILE reads instead every identifier FILE holds from the
 * node (the new one, after the load) and compares it with FILE, value by
 * value (index, type, data, TTL, permissions, timestamp, references), and
 * lists the node's handles under PREFIX that FILE does not hold. It prints
 * each difference and exits 1 when there is any.
 *
 * Exit status: 0 done (identifiers listed but gone when read are reported
 * and skipped); 1 some identifiers could not be read (or, verifying, differ);
 * 2 usage, an authentication refused, or the network (naming the peer and
 * the reads in flight): then no output file is left.
 */
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "client/admin_auth.h"
#include "client/client.h"
#include "client/reader.h"
#include "core/err.h"
#include "node/backup.h"

enum { MAX_SHOWN = 20, O_VERIFY = 256, O_WINDOW };

/* An identifier to read; line: verifying, the file's line for it. */
typedef struct entry {
	char *name, *line;
} entry;

typedef struct namelist {
	entry *v;
	size_t n, cap;
} namelist;

typedef struct exporter {
	cli_admin_args a;
	const char *prefix, *output, *verify;
	long window;
	bool quiet;
	bool progress_open; /* a progress line is on the terminal, not yet ended */
	FILE *out;
	char *tmp;       /* the output is written here, renamed when complete */
	namelist names;  /* what is read, in order */
	size_t first;    /* 1 when names[0] is 0.NA/PREFIX (read if the node holds it) */
	namelist listed; /* verifying: the node's list */
	uint64_t ok, values, bytes, gone, failed, differ, extra, shown;
	double t0;
} exporter;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void export_usage(FILE *f)
{
	fprintf(f,
	        "usage: idnode export PREFIX --server HOST:PORT --id INDEX:HANDLE (--key FILE |\n"
	        "                     --secret-file FILE) [-o FILE] [--verify-against FILE]\n"
	        "  copies every identifier under PREFIX from a running node, restricted values\n"
	        "  too (read as an administrator with the list-handles and read-value rights),\n"
	        "  as JSON Lines for `idnode restore` / `idnode load`.\n"
	        "  -s, --server HOST:PORT     the node (TCP)\n"
	        "  -i, --id INDEX:HANDLE      the administrator, e.g. 300:0.NA/88.100.1\n"
	        "  -k, --key FILE             its PEM private key (HS_PUBKEY identity)\n"
	        "  -S, --secret-file FILE     its secret (HS_SECKEY identity)\n"
	        "  -o, --output FILE          written whole or not at all (default: stdout)\n"
	        "      --verify-against FILE  compare the node with FILE (an export) instead;\n"
	        "                             exit 1 on any difference\n"
	        "      --window N             reads in flight (default 256)\n"
	        "      --no-session           plain challenge-response (one per identifier)\n"
	        "  -q, --quiet                no progress, no summary\n"
	        "exit status: 0 done, 1 identifiers failed or differ, 2 usage, authentication or\n"
	        "network\n");
}

static int nl_add(namelist *l, const char *p, size_t len, const char *line)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		entry *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return IDN_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	entry *x = &l->v[l->n];
	x->name = strndup(p, len);
	x->line = line ? strdup(line) : NULL;
	if (!x->name || (line && !x->line)) {
		free(x->name);
		free(x->line);
		return IDN_ENOMEM;
	}
	l->n++;
	return IDN_OK;
}

static void nl_free(namelist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].line);
	}
	free(l->v);
}

static int list_cb(void *arg, idn_slice h)
{
	return nl_add(arg, (const char *)h.p, h.len, NULL);
}

/* A problem with one identifier: shown up to MAX_SHOWN times, then only counted. */
static void report(exporter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends a progress line on the terminal before anything else is said. */
static void end_progress(exporter *e)
{
	if (e->progress_open)
		fputc('\n', stderr);
	e->progress_open = false;
}

static void report(exporter *e, const char *fmt, ...)
{
	end_progress(e);
	if (e->shown++ == MAX_SHOWN)
		fprintf(stderr, "idnode export: (further problems counted, not shown)\n");
	if (e->shown > MAX_SHOWN)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "idnode export: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void progress(exporter *e, size_t done)
{
	static double last;
	if (e->quiet || !isatty(STDERR_FILENO))
		return;
	double t = now_s();
	if (t - last < 0.25 && done < e->names.n)
		return;
	last = t;
	fprintf(stderr, "\ridnode export: %zu/%zu identifiers", done, e->names.n);
	e->progress_open = true;
	if (done >= e->names.n)
		end_progress(e);
}

/* ---- verifying: one identifier's values against the file's ---- */

static json_t *by_index(json_t *values, json_int_t index)
{
	size_t i;
	json_t *v;
	json_array_foreach(values, i, v)
	{
		if (json_integer_value(json_object_get(v, "index")) == index)
			return v;
	}
	return NULL;
}

/* The first field of a value that differs ("data", "ttl"...), or NULL. */
static const char *field_differs(json_t *want, json_t *got)
{
	static const char *const fields[] = {"type",  "data",      "ttl",       "ttl_type",
	                                     "perms", "timestamp", "references"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *a = json_object_get(want, fields[i]), *b = json_object_get(got, fields[i]);
		/* Absent from both is equal (json_equal says otherwise). */
		if ((a || b) && !json_equal(a, b))
			return fields[i];
	}
	return NULL;
}

/* Compares the node's line for a handle with the file's; reports each difference. */
static void compare_line(exporter *e, const char *name, const char *want_s, const char *got_s)
{
	json_t *want = json_loads(want_s, 0, NULL), *got = json_loads(got_s, 0, NULL);
	json_t *wv = json_object_get(want, "values"), *gv = json_object_get(got, "values");
	unsigned diffs = 0;
	size_t i;
	json_t *v;
	json_array_foreach(wv, i, v)
	{
		json_int_t idx = json_integer_value(json_object_get(v, "index"));
		json_t *o = by_index(gv, idx);
		const char *f = o ? field_differs(v, o) : NULL;
		if (!o || f) {
			diffs++;
			report(e, "%s: index %lld: %s", name, (long long)idx,
			       o ? f : "missing on the node");
			char *d = f && !strcmp(f, "data")
			              ? json_dumps(json_object_get(v, "data"), JSON_ENCODE_ANY)
			              : NULL;
			if (d)
				report(e, "%s: index %lld: the file has %s", name, (long long)idx,
				       d);
			free(d);
		}
	}
	json_array_foreach(gv, i, v)
	{
		json_int_t idx = json_integer_value(json_object_get(v, "index"));
		if (!by_index(wv, idx)) {
			diffs++;
			report(e, "%s: index %lld: on the node, not in the file", name,
			       (long long)idx);
		}
	}
	if (!want || !got) {
		diffs++;
		report(e, "%s: the file's line or the node's answer is not JSON", name);
	}
	json_decref(want);
	json_decref(got);
	e->differ += diffs > 0;
	e->ok += diffs == 0;
}

/* ---- the answers ---- */

/* Verifying: the node's line for names[i] (as the writer makes it) against the file's. */
static int verify_one(exporter *e, const entry *x, const proto_resolve_resp *rr)
{
	char *buf = NULL;
	size_t blen = 0;
	const char *why = "out of memory";
	FILE *mf = open_memstream(&buf, &blen);
	int ret = mf ? backup_write_values(mf, idn_slice_of(x->name, strlen(x->name)), rr->nvalues,
	                                   rr->values, &why)
	             : IDN_ENOMEM;
	if (mf)
		fclose(mf);
	if (ret) {
		report(e, "%s: the node's answer cannot be compared: %s", x->name, why);
		e->failed++;
	} else {
		compare_line(e, x->name, x->line, buf);
	}
	free(buf);
	return IDN_OK;
}

/* client_reader_fn: one identifier's final answer. */
static int got(void *arg, size_t i, const proto_msg *m, idn_slice body)
{
	exporter *e = arg;
	const entry *x = &e->names.v[i];
	uint32_t rc = m->hdr.rcode;
	progress(e, i + 1);
	if (rc != PROTO_RC_SUCCESS && i < e->first) {
		end_progress(e);
		if (!e->quiet)
			fprintf(
			    stderr,
			    "idnode export: %s: not copied (%u %s): the node does not serve it; "
			    "copy it from where it lives if the new node is to hold it\n",
			    x->name, rc, proto_rc_name(rc));
		return IDN_OK;
	}
	if (rc == PROTO_RC_HANDLE_NOT_FOUND) {
		report(e, "%s: %s", x->name,
		       e->verify ? "in the file, not on the node"
		                 : "listed but gone when read: skipped");
		e->verify ? e->differ++ : e->gone++;
		return IDN_OK;
	}
	if (rc != PROTO_RC_SUCCESS) {
		idn_slice text = {0};
		proto_error_decode(body, &text);
		report(e, "%s: %u %s%s%.*s", x->name, rc, proto_rc_name(rc), text.len ? ": " : "",
		       (int)(text.len > 300 ? 300 : text.len), (const char *)text.p);
		e->failed++;
		/* Who we are was refused: no identifier will do better. */
		return rc == PROTO_RC_AUTHENTICATION_FAILED || rc == PROTO_RC_INVALID_CREDENTIAL
		           ? IDN_EMISMATCH
		           : IDN_OK;
	}
	proto_resolve_resp rr;
	if (proto_resolve_resp_decode(body, &rr)) {
		report(e, "%s: malformed answer: skipped", x->name);
		e->failed++;
		return IDN_OK;
	}
	if (e->verify)
		return verify_one(e, x, &rr);
	const char *why;
	int ret = i < e->first ? backup_write_home(e->out, IDN_SLICE("0.NA")) : IDN_OK;
	if (!ret)
		ret = backup_write_values(e->out, idn_slice_of(x->name, strlen(x->name)),
		                          rr.nvalues, rr.values, &why);
	if (ret == IDN_EIO || ret == IDN_ENOMEM) {
		end_progress(e);
		fprintf(stderr, "idnode export: %s: cannot write: %m\n",
		        e->output ? e->output : "stdout");
		return IDN_EIO;
	}
	if (ret) {
		report(e, "%s: not written: %s", x->name, why);
		e->failed++;
		return IDN_OK;
	}
	e->ok++;
	e->values += rr.nvalues;
	e->bytes += rr.values.len;
	return IDN_OK;
}

/* ---- the steps ---- */

/* Verifying: the identifiers FILE holds, with their lines. CLI_OK or CLI_USAGE. */
static int read_file(exporter *e)
{
	FILE *f = strcmp(e->verify, "-") ? fopen(e->verify, "r") : stdin;
	if (!f) {
		fprintf(stderr, "idnode export: --verify-against %s: %m\n", e->verify);
		return CLI_USAGE;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long no = 0;
	int status = CLI_OK;
	while (status == CLI_OK && (len = getline(&line, &cap, f)) >= 0) {
		no++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!len)
			continue;
		json_t *j = json_loads(line, 0, NULL);
		json_t *h = json_object_get(j, "handle");
		if (!json_object_get(j, "home") && !json_is_string(h)) {
			fprintf(stderr, "idnode export: %s:%lu: not a line of an export or dump\n",
			        e->verify, no);
			status = CLI_USAGE;
		} else if (h &&
		           nl_add(&e->names, json_string_value(h), json_string_length(h), line)) {
			status = CLI_USAGE;
		}
		json_decref(j);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return status;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Verifying: the node's handles under the prefix that the file does not hold. */
static void find_extra(exporter *e)
{
	char **have = malloc((e->names.n + 1) * sizeof(*have));
	if (!have)
		return;
	for (size_t i = 0; i < e->names.n; i++)
		have[i] = e->names.v[i].name;
	qsort(have, e->names.n, sizeof(*have), cmp_str);
	for (size_t i = 0; i < e->listed.n; i++) {
		char *k = e->listed.v[i].name;
		if (!bsearch(&k, have, e->names.n, sizeof(*have), cmp_str)) {
			report(e, "%s: on the node, not in the file", k);
			e->extra++;
		}
	}
	free(have);
}

/* The identity of --id with --key or --secret-file; CLI_OK or CLI_USAGE. */
static int identity(const exporter *e, client_identity *id, EVP_PKEY **key, uint8_t *secret,
                    size_t cap)
{
	char *end;
	unsigned long idx = strtoul(e->a.id, &end, 10);
	if (end == e->a.id || *end != ':' || !strchr(end + 1, '/') || idx > UINT32_MAX) {
		fprintf(stderr, "idnode export: --id %s: expected INDEX:HANDLE\n", e->a.id);
		return CLI_USAGE;
	}
	*id = (client_identity){.index = (uint32_t)idx,
	                        .handle = idn_slice_of(end + 1, strlen(end + 1))};
	char err[256];
	if (e->a.key && !(*key = cli_trust_key(e->a.key, true, err, sizeof(err)))) {
		fprintf(stderr, "idnode export: --key %s: %s\n", e->a.key, err);
		return CLI_USAGE;
	}
	id->key = *key;
	size_t slen = 0;
	if (e->a.secret_file && client_identity_read_secret(e->a.secret_file, secret, cap, &slen)) {
		fprintf(stderr, "idnode export: --secret-file %s: cannot read: %m\n",
		        e->a.secret_file);
		return CLI_USAGE;
	}
	id->secret = idn_slice_of(secret, slen);
	return CLI_OK;
}

/* Lists the prefix on the node into l. CLI_OK, or CLI_USAGE after saying why. */
static int list_prefix(exporter *e, client_reader *r, namelist *l)
{
	uint32_t rc = 0;
	char msg[512] = "";
	int ret = client_reader_list(r, e->prefix, list_cb, l, &rc, msg, sizeof(msg));
	if (ret == IDN_EMISMATCH) {
		fprintf(stderr, "idnode export: listing %s on %s: %u %s%s%s\n", e->prefix,
		        e->a.server, rc, proto_rc_name(rc), *msg ? ": " : "", msg);
		if (rc == PROTO_RC_AUTHENTICATION_FAILED)
			fprintf(stderr,
			        "idnode export: the node did not take %s's key: nothing read\n",
			        e->a.id);
		return CLI_USAGE;
	}
	if (ret) {
		char what[PROTO_HANDLE_MAX + 32];
		snprintf(what, sizeof(what), "listing %s", e->prefix);
		cli_client_error("export", what, e->a.server, ret);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* Reads every name; CLI_OK, or CLI_USAGE after naming the peer and what was in flight. */
static int read_names(exporter *e, client_reader *r)
{
	const char **v = malloc((e->names.n + 1) * sizeof(*v));
	if (!v)
		return CLI_USAGE;
	for (size_t i = 0; i < e->names.n; i++)
		v[i] = e->names.v[i].name;
	size_t done = 0, end = 0;
	int ret = client_reader_read(r, v, e->names.n, got, e, &done, &end);
	free(v);
	end_progress(e);
	if (!ret)
		return CLI_OK;
	if (ret == IDN_EIO)
		return CLI_USAGE; /* said */
	if (ret == IDN_EMISMATCH) {
		fprintf(stderr, "idnode export: %s: authentication refused: stopped\n",
		        e->a.server);
		return CLI_USAGE;
	}
	char what[2 * PROTO_HANDLE_MAX + 96];
	snprintf(what, sizeof(what), "%zu reads in flight (%s .. %s)", end - done,
	         e->names.v[done].name, e->names.v[end - 1].name);
	cli_client_error("export", what, e->a.server, ret);
	return CLI_USAGE;
}

static void summary(const exporter *e)
{
	if (e->quiet)
		return;
	double t = now_s() - e->t0;
	if (e->verify) {
		fprintf(stderr,
		        "idnode export: %s on %s against %s: %zu identifiers, %llu equal, %llu "
		        "differ, %llu on the node only, %llu unreadable (%.2f s)\n",
		        e->prefix, e->a.server, e->verify, e->names.n, (unsigned long long)e->ok,
		        (unsigned long long)e->differ, (unsigned long long)e->extra,
		        (unsigned long long)e->failed, t);
		return;
	}
	fprintf(stderr,
	        "idnode export: %s from %s: %llu identifiers, %llu values, %llu bytes of values "
	        "in %.2f s (%.0f identifiers/s); %llu listed but gone, %llu failed\n",
	        e->prefix, e->a.server, (unsigned long long)e->ok, (unsigned long long)e->values,
	        (unsigned long long)e->bytes, t, t > 0 ? (double)e->ok / t : 0.0,
	        (unsigned long long)e->gone, (unsigned long long)e->failed);
}

/* Opens the output (FILE.tmp until complete). CLI_OK or CLI_USAGE. */
static int open_output(exporter *e)
{
	e->out = stdout;
	if (e->verify || !e->output || !strcmp(e->output, "-"))
		return CLI_OK;
	size_t n = strlen(e->output) + 5;
	if (!(e->tmp = malloc(n)))
		return CLI_USAGE;
	snprintf(e->tmp, n, "%s.tmp", e->output);
	if (!(e->out = fopen(e->tmp, "w"))) {
		fprintf(stderr, "idnode export: -o %s: %m\n", e->tmp);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* Closes the output: renamed into place when status says it is worth keeping. */
static int close_output(exporter *e, int status)
{
	if (e->out == stdout) {
		if (fflush(stdout)) {
			fprintf(stderr, "idnode export: stdout: %m\n");
			return CLI_USAGE;
		}
		return status;
	}
	bool bad = fflush(e->out) || fsync(fileno(e->out));
	if (fclose(e->out))
		bad = true;
	if (status != CLI_USAGE && (bad || rename(e->tmp, e->output))) {
		fprintf(stderr, "idnode export: -o %s: %m\n", e->output);
		status = CLI_USAGE;
	}
	if (status == CLI_USAGE)
		unlink(e->tmp);
	return status;
}

static int export_run(exporter *e)
{
	client_identity id;
	EVP_PKEY *key = NULL;
	static uint8_t secret[4096];
	client_addr addr;
	char err[256];
	client_reader *r = NULL;
	if (client_addr_parse(e->a.server, 2641, &addr, err, sizeof(err))) {
		fprintf(stderr, "idnode export: --server %s: %s\n", e->a.server, err);
		return CLI_USAGE;
	}
	int status = identity(e, &id, &key, secret, sizeof(secret));
	if (!status && e->verify)
		status = read_file(e);
	if (!status && !e->verify) {
		char na[PROTO_HANDLE_MAX + 8];
		snprintf(na, sizeof(na), "0.NA/%s", e->prefix);
		e->first = 1;
		status = nl_add(&e->names, na, strlen(na), NULL) ? CLI_USAGE : CLI_OK;
	}
	e->t0 = now_s();
	client_reader_opts ro = {.no_session = e->a.no_session, .window = (unsigned)e->window};
	int ret = status ? IDN_OK : client_reader_open(&addr, &id, &ro, &r);
	if (ret) {
		cli_client_error("export", "connecting", e->a.server, ret);
		status = CLI_USAGE;
	}
	if (!status)
		status = list_prefix(e, r, e->verify ? &e->listed : &e->names);
	if (!status)
		status = open_output(e);
	if (!status && !e->verify &&
	    backup_write_home(e->out, idn_slice_of(e->prefix, strlen(e->prefix)))) {
		fprintf(stderr, "idnode export: cannot write: %m\n");
		status = CLI_USAGE;
	}
	if (!status)
		status = read_names(e, r);
	if (e->out)
		status = close_output(e, status);
	if (status != CLI_USAGE && e->verify)
		find_extra(e);
	if (status != CLI_USAGE && (e->failed || e->differ || e->extra))
		status = CLI_FAIL;
	if (status != CLI_USAGE)
		summary(e);
	client_reader_close(r);
	EVP_PKEY_free(key);
	OPENSSL_cleanse(secret, sizeof(secret));
	return status;
}

int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"id", required_argument, NULL, 'i'},
	    {"key", required_argument, NULL, 'k'},
	    {"secret-file", required_argument, NULL, 'S'},
	    {"no-session", no_argument, NULL, 'N'},
	    {"output", required_argument, NULL, 'o'},
	    {"verify-against", required_argument, NULL, O_VERIFY},
	    {"window", required_argument, NULL, O_WINDOW},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char shortopts[] = "s:i:k:S:o:qh";
	exporter e = {.window = 256};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		/* `idnode add`'s options -s -i -k -S, as cli_trust_admin_opt() codes them. */
		int code = opt == 's'   ? 'S'
		           : opt == 'i' ? 'I'
		           : opt == 'k' ? 'A'
		           : opt == 'S' ? 'F'
		                        : opt;
		if (cli_trust_admin_opt(code, optarg, &e.a))
			continue;
		switch (opt) {
		case 'o':
			e.output = optarg;
			break;
		case O_VERIFY:
			e.verify = optarg;
			break;
		case O_WINDOW:
			if ((e.window = cli_trust_number("export", "--window", optarg, 1, 4096)) ==
			    INT64_MIN)
				return CLI_USAGE;
			break;
		case 'q':
			e.quiet = true;
			break;
		case 'h':
			export_usage(stdout);
			return CLI_OK;
		default:
			export_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc || !e.a.server || !e.a.id || !e.a.key == !e.a.secret_file) {
		fprintf(stderr, "idnode export: needs PREFIX, --server, --id and either --key or "
		                "--secret-file\n");
		export_usage(stderr);
		return CLI_USAGE;
	}
	e.prefix = argv[optind];
	if (!strncmp(e.prefix, "0.NA/", 5))
		e.prefix += 5;
	int status = export_run(&e);
	nl_free(&e.names);
	nl_free(&e.listed);
	free(e.tmp);
	return status;
}
