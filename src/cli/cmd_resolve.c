/*
 * cmd_resolve.c - `idnode resolve HANDLE`: asks a node, prints the values.
 * The question goes through libidnode's public API (include/idnode.h:
 * idnode_resolve, from a server or through a root); --trusted verifies the
 * record's values as the server sent them (client/lib.h).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/trust.h"
#include "cli/cli.h"
#include "client/lib.h"
#include "client/trust_fetch.h"
#include "core/codec.h"
#include "idnode.h"
#include "proto/reserved.h"

enum { MAX_FILTERS = 64 };

static void resolve_usage(FILE *f)
{
	fprintf(f,
	        "usage: idnode resolve HANDLE [--server HOST:PORT] [--udp|--tcp] [--type T]...\n"
	        "                      [--index N]... [--json] [--timeout MS] [--version 2.N]\n"
	        "  --server HOST:PORT  the node to ask (default 127.0.0.1:2641)\n"
	        "  --root HOST:PORT    resolve from this root instead: 0.NA/<prefix> there,\n"
	        "                      following referrals and sites (at most 40 hops)\n"
	        "  --udp, --tcp        transport (default UDP)\n"
	        "  --type T            only values of type T ('T.' matches a family); repeatable\n"
	        "  --index N           only the value at index N; repeatable\n"
	        "  --json              print JSON (the reference REST API's shape)\n"
	        "  --trusted           verify the record's HS_SIGNATURE and its HS_CERT chain\n"
	        "                      (resolved the same way) up to the trust root; prints\n"
	        "                      \"verified: ...\" or what failed\n"
	        "  --trust-root FILE   the root's PEM public key (needed by --trusted)\n"
	        "  --trust-root-handle H  the root's handle (default " TRUST_ROOT_HANDLE ")\n"
	        "exit status: 0 found (and verified), 1 not found, an error answer or not\n"
	        "verified, 2 usage or network error\n");
}

static char *hex_of(idn_slice d)
{
	char *s = malloc((size_t)d.len * 2 + 1);
	if (!s)
		return NULL;
	codec_hex_encode(d.p, d.len, s);
	return s;
}

static void iso_time(uint32_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The type as it may be shown: as is when proto_type_check() accepts it,
 * else with every byte outside printable ASCII, a backslash and a space
 * written \xHH, so a stored "HS_ADMIN\0" or "HS_ADMIN " (by an older node)
 * never shows as HS_ADMIN.
 */
static const char *shown_type(idn_slice t, char *out, size_t cap)
{
	const char *why;
	size_t o = 0;
	bool plain = proto_type_check(t, &why) == IDN_OK;
	for (size_t i = 0; i < t.len && o + 5 < cap; i++) {
		uint8_t b = t.p[i];
		if (plain || (b > ' ' && b < 0x7F && b != '\\'))
			out[o++] = (char)b;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", b);
	}
	out[o] = 0;
	return out;
}

static json_t *value_json(const idnode_value *v)
{
	json_t *o = json_object();
	json_t *data = json_object();
	char ts[32];
	json_object_set_new(o, "index", json_integer(v->index));
	char shown[1024];
	idn_slice t = idn_slice_of(v->type, v->type_len);
	json_t *type = json_stringn(v->type, v->type_len);
	json_object_set_new(o, "type",
	                    type ? type : json_string(shown_type(t, shown, sizeof(shown))));
	if (idnode_value_is_text(v)) {
		json_object_set_new(data, "format", json_string("string"));
		json_object_set_new(data, "value", json_stringn((const char *)v->data, v->len));
	} else {
		char *h = hex_of(idn_slice_of(v->data, v->len));
		json_object_set_new(data, "format", json_string("hex"));
		json_object_set_new(data, "value", json_string(h ? h : ""));
		free(h);
	}
	json_object_set_new(o, "data", data);
	json_object_set_new(o, "ttl", json_integer(v->ttl));
	if (v->ttl_absolute)
		json_object_set_new(o, "ttlType", json_integer(v->ttl_absolute));
	iso_time(v->timestamp, ts, sizeof(ts));
	json_object_set_new(o, "timestamp", json_string(ts));
	json_object_set_new(o, "permissions", json_integer(v->perms));
	if (v->nrefs) {
		json_t *refs = json_array();
		for (size_t i = 0; i < v->nrefs; i++)
			json_array_append_new(refs,
			                      json_pack("{s:s, s:I}", "handle", v->refs[i].handle,
			                                "index", (json_int_t)v->refs[i].index));
		json_object_set_new(o, "references", refs);
	}
	return o;
}

static void print_text_value(const idnode_value *v)
{
	char shown[1024];
	printf("  %-6u %-16s ", v->index,
	       shown_type(idn_slice_of(v->type, v->type_len), shown, sizeof(shown)));
	if (idnode_value_is_text(v)) {
		printf("%.*s", (int)v->len, (const char *)v->data);
	} else {
		char *h = hex_of(idn_slice_of(v->data, v->len));
		printf("0x%s", h ? h : "");
		free(h);
	}
	printf("  (ttl %u%s, perms %x)\n", v->ttl, v->ttl_absolute ? " absolute" : "", v->perms);
}

/* Prints an error answer (rc, the server's message text) for handle; the exit status. */
static int print_error(const char *handle, uint32_t rc, const char *text, int as_json)
{
	if (as_json) {
		json_t *o = json_object();
		json_object_set_new(o, "responseCode", json_integer(rc));
		json_object_set_new(o, "handle", json_string(handle));
		if (*text)
			json_object_set_new(o, "message", json_string(text));
		json_dumpf(o, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(o);
	} else {
		fprintf(stderr, "%s: %s (%u)%s%s\n", handle, proto_rc_name(rc), rc,
		        *text ? ": " : "", text);
	}
	return CLI_FAIL;
}

/* Prints the record (with --json, trust, when given, is its "trust" member). */
static void print_record(const idnode_record *r, int as_json, json_t *trust)
{
	size_t n = idnode_record_count(r);
	if (!as_json) {
		printf("%s: %zu value%s\n", idnode_record_handle(r), n, n == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++)
			print_text_value(idnode_record_value(r, i));
		return;
	}
	json_t *vals = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(vals, value_json(idnode_record_value(r, i)));
	json_t *o = json_object();
	json_object_set_new(o, "responseCode", json_integer(PROTO_RC_SUCCESS));
	json_object_set_new(o, "handle", json_string(idnode_record_handle(r)));
	json_object_set_new(o, "values", vals);
	if (trust)
		json_object_set_new(o, "trust", trust);
	json_dumpf(o, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(o);
}

typedef struct trusted_opts {
	bool on;
	const char *root_file, *root_handle;
} trusted_opts;

/*
 * Verifies the record r resolved for handle (--trusted): the chain's
 * certificates are resolved from src. CLI_OK with *c and *res the verdict,
 * or CLI_USAGE after a message (a bad root key file).
 */
static int verify_record(const trusted_opts *t, const char *handle, const idnode_record *r,
                         client_trust_src *src, enum trust_code *c, trust_result *res)
{
	char err[300];
	idn_slice values;
	uint32_t n;
	lib_record_wire(r, &values, &n);
	EVP_PKEY *root = cli_trust_key(t->root_file, false, err, sizeof err);
	if (!root) {
		fprintf(stderr, "idnode resolve: --trust-root %s\n", err);
		return CLI_USAGE;
	}
	trust_ctx ctx = {.root_handle = t->root_handle,
	                 .root_key = root,
	                 .now = (int64_t)time(NULL),
	                 .fetch = client_trust_fetch,
	                 .fetch_arg = src};
	*c = trust_verify_record(&ctx, handle, values, n, res);
	EVP_PKEY_free(root);
	return CLI_OK;
}

/*
 * Prints the record and, with --trusted, the verdict on it (certificates
 * resolved as the record was, from the client's server or root): a line
 * "verified: ..." / "not verified (WHY): ...", or with --json a "trust"
 * member {verified, code, message}.
 */
static int finish(const trusted_opts *tr, const char *handle, const idnode_record *rec, int as_json,
                  const idnode_client *cl)
{
	client_trust_src src;
	lib_trust_src(cl, &src);
	enum trust_code c = TRUST_OK;
	trust_result r;
	if (tr->on && verify_record(tr, handle, rec, &src, &c, &r))
		return CLI_USAGE;
	if (c == TRUST_OK && tr->on)
		snprintf(r.msg + strlen(r.msg), sizeof r.msg - strlen(r.msg),
		         " (HS_SIGNATURE at index %u)", r.sig_index);
	json_t *trust = tr->on && as_json ? json_pack("{s:b, s:s, s:s}", "verified", c == TRUST_OK,
	                                              "code", trust_code_name(c), "message", r.msg)
	                                  : NULL;
	print_record(rec, as_json, trust);
	if (!tr->on)
		return CLI_OK;
	if (!as_json && c == TRUST_OK)
		printf("%s\n", r.msg);
	else if (!as_json)
		printf("not verified (%s): %s\n", trust_code_name(c), r.msg);
	return c == TRUST_OK ? CLI_OK : c == TRUST_FETCH ? CLI_USAGE : CLI_FAIL;
}

/* The trust options of `resolve` (1 when opt was one). */
static int trusted_opt(trusted_opts *t, int opt, const char *arg)
{
	if (opt == 'R')
		t->on = true;
	else if (opt == 'K')
		t->root_file = arg;
	else if (opt == 'H')
		t->root_handle = arg;
	else
		return 0;
	return 1;
}

/* What the options set on the client (include/idnode.h). */
typedef struct resolve_args {
	const char *server, *root;
	int transport;
	unsigned timeout_ms, minor;
	const char *types[MAX_FILTERS];
	uint32_t indexes[MAX_FILTERS];
	size_t ntypes, nindexes;
} resolve_args;

/* Resolves handle as a says through the library and prints it; the exit status. */
static int resolve(const resolve_args *a, const trusted_opts *tr, const char *handle, int as_json)
{
	idnode_client *c;
	idnode_record *r = NULL;
	if (idnode_client_new(&c)) {
		fprintf(stderr, "idnode resolve: out of memory\n");
		return CLI_USAGE;
	}
	int ret =
	    a->root ? idnode_client_set_root(c, a->root) : idnode_client_set_server(c, a->server);
	if (ret) {
		fprintf(stderr, "idnode resolve: --%s\n", idnode_client_error(c));
		idnode_client_free(c);
		return CLI_USAGE;
	}
	idnode_client_set_transport(c, a->transport);
	if (a->timeout_ms)
		idnode_client_set_timeout(c, a->timeout_ms);
	if (a->minor)
		idnode_client_set_protocol_minor(c, a->minor);
	ret = idnode_resolve(c, handle, a->types, a->ntypes, a->indexes, a->nindexes, &r);
	int status;
	if (!ret)
		status = finish(tr, handle, r, as_json, c);
	else if ((ret == IDNODE_ENOTFOUND || ret == IDNODE_EEXIST || ret == IDNODE_EDENIED ||
	          ret == IDNODE_ESERVER) &&
	         idnode_client_rcode(c) > PROTO_RC_SUCCESS) /* an error answer, not a failed walk */
		status = print_error(handle, idnode_client_rcode(c),
		                     idnode_client_server_message(c), as_json);
	else {
		fprintf(stderr, "idnode resolve: %s%s%s\n", handle, a->root ? " " : ": ",
		        idnode_client_error(c));
		status = CLI_USAGE;
	}
	idnode_record_free(r);
	idnode_client_free(c);
	return status;
}

int cmd_resolve(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"udp", no_argument, NULL, 'u'},
	    {"tcp", no_argument, NULL, 't'},
	    {"type", required_argument, NULL, 'T'},
	    {"index", required_argument, NULL, 'i'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 'w'},
	    {"version", required_argument, NULL, 'V'},
	    {"root", required_argument, NULL, 'r'},
	    {"trusted", no_argument, NULL, 'R'},
	    {"trust-root", required_argument, NULL, 'K'},
	    {"trust-root-handle", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	resolve_args a = {.server = "127.0.0.1:2641", .transport = IDNODE_UDP};
	int as_json = 0, opt;
	char *end;
	trusted_opts tr = {0};

	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:r:utT:i:jw:V:h", longopts, NULL)) != -1) {
		if (trusted_opt(&tr, opt, optarg))
			continue;
		switch (opt) {
		case 's':
			a.server = optarg;
			break;
		case 'r':
			a.root = optarg;
			break;
		case 'u':
			a.transport = IDNODE_UDP;
			break;
		case 't':
			a.transport = IDNODE_TCP;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'T':
			if (a.ntypes == MAX_FILTERS) {
				fprintf(stderr, "idnode resolve: at most %d --type\n", MAX_FILTERS);
				return CLI_USAGE;
			}
			a.types[a.ntypes++] = optarg;
			break;
		case 'i': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 0xFFFFFFFFul || a.nindexes == MAX_FILTERS) {
				fprintf(stderr, "idnode resolve: --index '%s': not an index\n",
				        optarg);
				return CLI_USAGE;
			}
			a.indexes[a.nindexes++] = (uint32_t)v;
			break;
		}
		case 'w':
			a.timeout_ms = (unsigned)strtoul(optarg, &end, 10);
			if (!*optarg || *end || a.timeout_ms == 0 || a.timeout_ms > 600000) {
				fprintf(
				    stderr,
				    "idnode resolve: --timeout '%s': milliseconds, 1 .. 600000\n",
				    optarg);
				return CLI_USAGE;
			}
			break;
		case 'V': {
			unsigned maj = 0, min = 0;
			if (sscanf(optarg, "%u.%u", &maj, &min) != 2 || maj != 2 || min < 1 ||
			    min > PROTO_MINOR_MAX) {
				fprintf(stderr, "idnode resolve: --version '%s': 2.1 .. 2.11\n",
				        optarg);
				return CLI_USAGE;
			}
			a.minor = min;
			break;
		}
		case 'h':
			resolve_usage(stdout);
			return CLI_OK;
		default:
			resolve_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc) {
		resolve_usage(stderr);
		return CLI_USAGE;
	}
	const char *handle = argv[optind];
	if (tr.on && (!tr.root_file || a.nindexes || a.ntypes)) {
		fprintf(stderr, "idnode resolve: --trusted needs --trust-root and the whole record "
		                "(no --type or --index)\n");
		return CLI_USAGE;
	}
	if (strlen(handle) > PROTO_HANDLE_MAX) {
		fprintf(stderr, "idnode resolve: handle longer than %d bytes\n", PROTO_HANDLE_MAX);
		return CLI_USAGE;
	}
	return resolve(&a, &tr, handle, as_json);
}
