/*
 * cmd_sign.c - `idnode sign HANDLE`: an identifier's owner signs chosen
 * values of its record into an HS_SIGNATURE (../shared/IDIS.md section 3:
 * SHA-256 digests of the values, the signer's INDEX:HANDLE as iss) and
 * stores it at the first free index from 400 through an authenticated add.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/jws.h"
#include "auth/trust.h"
#include "cli/cli.h"
#include "client/client.h"
#include "client/trust_fetch.h"
#include "core/err.h"
#include "proto/proto.h"

enum { MAX_INDEXES = 256, MAX_CHAIN = 50 };

static void sign_usage(FILE *f)
{
	fprintf(f,
	        "usage: idnode sign HANDLE --key FILE --signer INDEX:HANDLE --server HOST:PORT\n"
	        "                   [--index N[,N...]]... [--chain LINK]... [--days N]\n"
	        "                   [--not-before UNIXTIME] [--sm2-alg SM2256|SM2SM3]\n"
	        "                   [--id INDEX:HANDLE] [--admin-key FILE | --secret-file FILE]\n"
	        "                   [--no-session] [--at N] [--no-store]\n"
	        "  --key FILE            the signer's PEM private key (RSA, DSA or SM2)\n"
	        "  --signer INDEX:HANDLE who signs: the subject of the signer's HS_CERT\n"
	        "  --server HOST:PORT    the node holding HANDLE (resolved over TCP; the\n"
	        "                        HS_SIGNATURE is added there)\n"
	        "  --index N,...         the values to sign (default: all but HS_SIGNATURE and\n"
	        "                        HS_CERT)\n"
	        "  --chain LINK          the certificates above the signer, nearest first\n"
	        "  --days N              valid for N days (default 365)\n"
	        "  --id, --admin-key, --secret-file  who adds the value (default: --signer\n"
	        "                        with --key)\n"
	        "  --at N                store at index N (default: the first free from 400)\n"
	        "  --no-store            only print the HS_SIGNATURE\n"
	        "prints the HS_SIGNATURE (JWS) and the index it is stored at. exit status: 0 ok,\n"
	        "1 the node refused, 2 usage or network error\n");
}

typedef struct sign_opts {
	const char *key, *signer;
	uint32_t indexes[MAX_INDEXES];
	size_t nindexes;
	const char *chain[MAX_CHAIN];
	size_t nchain;
	int64_t days, not_before;
	jws_alg sm2_alg;
	uint32_t at;
	bool no_store;
	cli_admin_args admin;
} sign_opts;

/* "1,2,5" appended to o->indexes. */
static int parse_indexes(sign_opts *o, const char *arg)
{
	const char *p = arg;
	while (*p) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || v == 0 || v > UINT32_MAX || o->nindexes == MAX_INDEXES ||
		    (*end && *end != ','))
			return -1;
		o->indexes[o->nindexes++] = (uint32_t)v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int sign_opt(sign_opts *o, int opt, char *arg)
{
	int64_t v;
	switch (opt) {
	case 'k':
		o->key = arg;
		break;
	case 'g':
		o->signer = arg;
		break;
	case 'i':
		if (parse_indexes(o, arg)) {
			fprintf(stderr, "idnode sign: --index '%s': indexes > 0, comma-separated\n",
			        arg);
			return -1;
		}
		break;
	case 'c':
		if (o->nchain == MAX_CHAIN)
			return -1;
		o->chain[o->nchain++] = arg;
		break;
	case 'd':
		return (o->days = cli_trust_number("sign", "--days", arg, 1, 36500)) == INT64_MIN;
	case 'b':
		return (o->not_before = cli_trust_number("sign", "--not-before", arg, 0,
		                                         INT32_MAX)) == INT64_MIN;
	case 'a':
		o->sm2_alg = jws_alg_of(arg);
		return o->sm2_alg != JWS_SM2256 && o->sm2_alg != JWS_SM2SM3;
	case 't':
		if ((v = cli_trust_number("sign", "--at", arg, 1, UINT32_MAX)) == INT64_MIN)
			return -1;
		o->at = (uint32_t)v;
		break;
	case 'x':
		o->no_store = true;
		break;
	default:
		return cli_trust_admin_opt(opt, arg, &o->admin) ? 0 : -1;
	}
	return 0;
}

/* The first index from 400 that no value of the record uses. */
static uint32_t first_free(idn_slice values, uint32_t n)
{
	for (uint32_t ix = 400;; ix++) {
		proto_values_it it = proto_values_begin(values, n);
		proto_value v;
		bool used = false;
		while (!used && proto_values_next(&it, &v) == 1)
			used = v.index == ix;
		if (!used)
			return ix;
	}
}

/* Resolves handle at the server (TCP): its values, in *ans (the caller frees). */
static int fetch_record(const char *server, const char *handle, uint8_t **ans, idn_slice *values,
                        uint32_t *n)
{
	client_trust_src src = {.transport = CLIENT_TCP};
	char err[300];
	if (client_addr_parse(server, 2641, &src.addr, err, sizeof err)) {
		fprintf(stderr, "idnode sign: --server %s\n", err);
		return CLI_USAGE;
	}
	size_t len;
	int rc = client_trust_fetch(&src, handle, ans, &len, n, err, sizeof err);
	if (rc == IDN_ENOTFOUND) {
		fprintf(stderr, "idnode sign: %s: not found at %s\n", handle, server);
		return CLI_FAIL;
	}
	if (rc) {
		fprintf(stderr, "idnode sign: %s: %s\n", handle, err[0] ? err : idn_strerror(rc));
		return CLI_USAGE;
	}
	*values = idn_slice_of(*ans, len);
	return CLI_OK;
}

static int sign_run(sign_opts *o, const char *handle)
{
	char err[300];
	EVP_PKEY *k = cli_trust_key(o->key, true, err, sizeof err);
	if (!k) {
		fprintf(stderr, "idnode sign: %s\n", err);
		return CLI_USAGE;
	}
	uint8_t *ans = NULL;
	idn_slice values;
	uint32_t n;
	int rc = fetch_record(o->admin.server, handle, &ans, &values, &n);
	char *payload = NULL, *out = NULL;
	int64_t nbf = o->not_before >= 0 ? o->not_before : (int64_t)time(NULL);
	trust_issue is = {.iss = o->signer,
	                  .sub = handle,
	                  .iat = (int64_t)time(NULL),
	                  .nbf = nbf,
	                  .exp = nbf + o->days * 86400,
	                  .chain = o->chain,
	                  .nchain = o->nchain};
	if (!rc &&
	    trust_sig_payload(&is, values, n, o->indexes, o->nindexes, &payload, err, sizeof err)) {
		fprintf(stderr, "idnode sign: %s: %s\n", handle, err);
		rc = CLI_FAIL;
	}
	if (!rc && jws_sign(payload, strlen(payload), k, o->sm2_alg, &out, err, sizeof err)) {
		fprintf(stderr, "idnode sign: %s\n", err);
		rc = CLI_FAIL;
	}
	uint32_t at = rc ? 0 : o->at ? o->at : first_free(values, n);
	if (!rc) {
		printf("%s\n", out);
		if (!o->no_store)
			printf("index %u\n", at);
		fflush(stdout);
	}
	if (!rc && !o->no_store) {
		cli_admin_args a = o->admin;
		a.id = a.id ? a.id : o->signer;
		if (!a.key && !a.secret_file)
			a.key = o->key;
		rc = cli_trust_store("sign", handle, at, "HS_SIGNATURE", out, &a, false);
	}
	free(ans);
	free(payload);
	free(out);
	EVP_PKEY_free(k);
	return rc;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"signer", required_argument, NULL, 'g'},
	    {"index", required_argument, NULL, 'i'},
	    {"chain", required_argument, NULL, 'c'},
	    {"days", required_argument, NULL, 'd'},
	    {"not-before", required_argument, NULL, 'b'},
	    {"sm2-alg", required_argument, NULL, 'a'},
	    {"at", required_argument, NULL, 't'},
	    {"no-store", no_argument, NULL, 'x'},
	    {"server", required_argument, NULL, 'S'},
	    {"id", required_argument, NULL, 'I'},
	    {"admin-key", required_argument, NULL, 'A'},
	    {"secret-file", required_argument, NULL, 'F'},
	    {"no-session", no_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	sign_opts o = {.days = 365, .not_before = -1, .sm2_alg = JWS_SM2256};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			sign_usage(stdout);
			return CLI_OK;
		}
		if (opt == '?' || sign_opt(&o, opt, optarg)) {
			sign_usage(stderr);
			return CLI_USAGE;
		}
	}
	uint32_t ix = 0;
	const char *why = NULL;
	if (optind + 1 != argc)
		why = "give one HANDLE";
	else if (!o.key || !o.signer || !o.admin.server)
		why = "--key, --signer and --server are required";
	else if (!strchr(trust_link_handle(o.signer, &ix), '/') || !ix)
		why = "--signer must be INDEX:HANDLE";
	if (why) {
		fprintf(stderr, "idnode sign: %s\n", why);
		sign_usage(stderr);
		return CLI_USAGE;
	}
	return sign_run(&o, argv[optind]);
}
