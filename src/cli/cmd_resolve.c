/*
 * cmd_resolve.c - `idnode resolve HANDLE`: asks a node, prints the values.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/trust.h"
#include "cli/cli.h"
#include "client/client.h"
#include "client/trust_fetch.h"
#include "core/codec.h"
#include "proto/handle.h"
#include "proto/admin.h"
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

/* Printable as text: valid UTF-8 without control characters other than tab/newline. */
static int is_text(idn_slice d)
{
	if (!handle_utf8_valid(d))
		return 0;
	for (uint32_t i = 0; i < d.len; i++)
		if (d.p[i] < 0x20 && d.p[i] != '\t' && d.p[i] != '\n' && d.p[i] != '\r')
			return 0;
	return 1;
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

static json_t *value_json(const proto_value *v)
{
	json_t *o = json_object();
	json_t *data = json_object();
	char ts[32];
	json_object_set_new(o, "index", json_integer(v->index));
	char shown[1024];
	json_t *type = json_stringn((const char *)v->type.p, v->type.len);
	json_object_set_new(o, "type",
	                    type ? type : json_string(shown_type(v->type, shown, sizeof(shown))));
	if (is_text(v->data)) {
		json_object_set_new(data, "format", json_string("string"));
		json_object_set_new(data, "value",
		                    json_stringn((const char *)v->data.p, v->data.len));
	} else {
		char *h = hex_of(v->data);
		json_object_set_new(data, "format", json_string("hex"));
		json_object_set_new(data, "value", json_string(h ? h : ""));
		free(h);
	}
	json_object_set_new(o, "data", data);
	json_object_set_new(o, "ttl", json_integer(v->ttl));
	if (v->ttl_type)
		json_object_set_new(o, "ttlType", json_integer(v->ttl_type));
	iso_time(v->timestamp, ts, sizeof(ts));
	json_object_set_new(o, "timestamp", json_string(ts));
	json_object_set_new(o, "permissions", json_integer(v->perms));
	if (v->nrefs) {
		json_t *refs = json_array();
		wire_rd c = wire_rd_init(v->refs.p, v->refs.len);
		proto_ref r;
		while (proto_ref_next(&c, &r) == 1) {
			json_t *ro = json_object();
			json_object_set_new(ro, "handle",
			                    json_stringn((const char *)r.handle.p, r.handle.len));
			json_object_set_new(ro, "index", json_integer(r.index));
			json_array_append_new(refs, ro);
		}
		json_object_set_new(o, "references", refs);
	}
	return o;
}

static void print_text_value(const proto_value *v)
{
	char shown[1024];
	printf("  %-6u %-16s ", v->index, shown_type(v->type, shown, sizeof(shown)));
	if (is_text(v->data)) {
		printf("%.*s", (int)v->data.len, (const char *)v->data.p);
	} else {
		char *h = hex_of(v->data);
		printf("0x%s", h ? h : "");
		free(h);
	}
	printf("  (ttl %u%s, perms %x)\n", v->ttl, v->ttl_type ? " absolute" : "", v->perms);
}

/* Prints the answer (with --json, trust, when given, is its "trust" member); returns the exit
 * status. */
static int print_answer(const char *handle, const proto_msg *m, int as_json, json_t *trust)
{
	uint32_t rc = m->hdr.rcode;
	idn_slice rest;
	if (proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, NULL, NULL, &rest)) {
		fprintf(stderr, "%s: malformed answer from the server\n", handle);
		return CLI_USAGE;
	}

	if (rc != PROTO_RC_SUCCESS) {
		idn_slice text = {NULL, 0};
		proto_error_decode(rest, &text);
		if (as_json) {
			json_t *o = json_object();
			json_object_set_new(o, "responseCode", json_integer(rc));
			json_object_set_new(o, "handle", json_string(handle));
			if (text.len)
				json_object_set_new(o, "message",
				                    json_stringn((const char *)text.p, text.len));
			json_dumpf(o, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(o);
		} else {
			fprintf(stderr, "%s: %s (%u)%s%.*s\n", handle, proto_rc_name(rc), rc,
			        text.len ? ": " : "", (int)text.len, (const char *)text.p);
		}
		return CLI_FAIL;
	}

	proto_resolve_resp rr;
	if (proto_resolve_resp_decode(rest, &rr)) {
		fprintf(stderr, "%s: malformed answer from the server\n", handle);
		return CLI_USAGE;
	}
	json_t *vals = as_json ? json_array() : NULL;
	if (!as_json)
		printf("%.*s: %u value%s\n", (int)rr.handle.len, (const char *)rr.handle.p,
		       rr.nvalues, rr.nvalues == 1 ? "" : "s");
	proto_values_it it = proto_values_begin(rr.values, rr.nvalues);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		if (as_json)
			json_array_append_new(vals, value_json(&v));
		else
			print_text_value(&v);
	}
	if (as_json) {
		json_t *o = json_object();
		json_object_set_new(o, "responseCode", json_integer(rc));
		json_object_set_new(o, "handle",
		                    json_stringn((const char *)rr.handle.p, rr.handle.len));
		json_object_set_new(o, "values", vals);
		if (trust)
			json_object_set_new(o, "trust", trust);
		json_dumpf(o, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(o);
	}
	return CLI_OK;
}

typedef struct trusted_opts {
	bool on;
	const char *root_file, *root_handle;
} trusted_opts;

/*
 * Verifies the answer m for handle (--trusted; m is a success): the chain's
 * certificates are resolved from src. CLI_OK with *c and *r the verdict, or
 * CLI_USAGE after a message (a bad root key file, a malformed answer).
 */
static int verify_answer(const trusted_opts *t, const char *handle, const proto_msg *m,
                         client_trust_src *src, enum trust_code *c, trust_result *r)
{
	char err[300];
	idn_slice values;
	uint32_t n;
	if (client_answer_values(m, &values, &n, err, sizeof err)) {
		fprintf(stderr, "idnode resolve: %s: %s\n", handle, err);
		return CLI_USAGE;
	}
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
	*c = trust_verify_record(&ctx, handle, values, n, r);
	EVP_PKEY_free(root);
	return CLI_OK;
}

/*
 * Prints the answer and, with --trusted, the verdict on it (certificates
 * resolved as the answer was): a line "verified: ..." / "not verified (WHY):
 * ...", or with --json a "trust" member {verified, code, message}.
 */
static int finish(const trusted_opts *tr, const char *handle, const proto_msg *m, int as_json,
                  const client_addr *addr, bool from_root, const client_resolve_opts *o)
{
	client_trust_src src = {.addr = *addr,
	                        .from_root = from_root,
	                        .transport = o->transport,
	                        .timeout_ms = o->timeout_ms};
	bool check = tr->on && m->hdr.rcode == PROTO_RC_SUCCESS;
	enum trust_code c = TRUST_OK;
	trust_result r;
	if (check && verify_answer(tr, handle, m, &src, &c, &r))
		return CLI_USAGE;
	if (c == TRUST_OK && check)
		snprintf(r.msg + strlen(r.msg), sizeof r.msg - strlen(r.msg),
		         " (HS_SIGNATURE at index %u)", r.sig_index);
	json_t *trust = check && as_json ? json_pack("{s:b, s:s, s:s}", "verified", c == TRUST_OK,
	                                             "code", trust_code_name(c), "message", r.msg)
	                                 : NULL;
	int ret = print_answer(handle, m, as_json, trust);
	if (!check || ret != CLI_OK)
		return ret;
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
	const char *server = "127.0.0.1:2641", *root = NULL;
	uint32_t indexes[MAX_FILTERS];
	idn_slice types[MAX_FILTERS];
	client_resolve_opts o = {.transport = CLIENT_UDP, .indexes = indexes, .types = types};
	int as_json = 0, opt;
	char *end;
	trusted_opts tr = {0};

	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:r:utT:i:jw:V:h", longopts, NULL)) != -1) {
		if (trusted_opt(&tr, opt, optarg))
			continue;
		switch (opt) {
		case 's':
			server = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'u':
			o.transport = CLIENT_UDP;
			break;
		case 't':
			o.transport = CLIENT_TCP;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'T':
			if (o.ntypes == MAX_FILTERS) {
				fprintf(stderr, "idnode resolve: at most %d --type\n", MAX_FILTERS);
				return CLI_USAGE;
			}
			types[o.ntypes++] = idn_slice_of(optarg, strlen(optarg));
			break;
		case 'i': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 0xFFFFFFFFul || o.nindexes == MAX_FILTERS) {
				fprintf(stderr, "idnode resolve: --index '%s': not an index\n",
				        optarg);
				return CLI_USAGE;
			}
			indexes[o.nindexes++] = (uint32_t)v;
			break;
		}
		case 'w':
			o.timeout_ms = (unsigned)strtoul(optarg, &end, 10);
			if (!*optarg || *end || o.timeout_ms == 0) {
				fprintf(stderr,
				        "idnode resolve: --timeout '%s': milliseconds > 0\n",
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
			o.minor = (uint8_t)min;
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
	if (tr.on && (!tr.root_file || o.nindexes || o.ntypes)) {
		fprintf(stderr, "idnode resolve: --trusted needs --trust-root and the whole record "
		                "(no --type or --index)\n");
		return CLI_USAGE;
	}
	if (strlen(handle) > PROTO_HANDLE_MAX) {
		fprintf(stderr, "idnode resolve: handle longer than %d bytes\n", PROTO_HANDLE_MAX);
		return CLI_USAGE;
	}

	client_addr addr;
	char err[256];
	if (client_addr_parse(root ? root : server, 2641, &addr, err, sizeof(err))) {
		fprintf(stderr, "idnode resolve: --%s %s\n", root ? "root" : "server", err);
		return CLI_USAGE;
	}
	uint8_t *ans = NULL;
	size_t anslen;
	proto_env env;
	proto_msg msg;
	int ret;
	if (root) {
		client_root_opts ro = {.base = o};
		char why[512];
		ret = client_resolve_root(&addr, idn_slice_of(handle, strlen(handle)), &ro, &ans,
		                          &anslen, &env, &msg, why, sizeof(why));
		if (ret) {
			fprintf(stderr, "idnode resolve: %s from root %s: %s\n", handle, root,
			        why[0] ? why : idn_strerror(ret));
			return CLI_USAGE;
		}
		ret = finish(&tr, handle, &msg, as_json, &addr, true, &o);
		free(ans);
		return ret;
	}
	ret = client_resolve(&addr, idn_slice_of(handle, strlen(handle)), &o, &ans, &anslen, &env,
	                     &msg);
	if (ret) {
		char as[96];
		client_addr_str(&addr, as, sizeof(as));
		strcat(as, o.transport == CLIENT_UDP ? " over UDP" : " over TCP");
		cli_client_error("resolve", handle, as, ret);
		return CLI_USAGE;
	}
	ret = finish(&tr, handle, &msg, as_json, &addr, false, &o);
	free(ans);
	return ret;
}
