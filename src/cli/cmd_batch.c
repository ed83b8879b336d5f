/*
 * cmd_batch.c - `idnode batch FILE`: runs a batch file in the reference's
 * GenericBatch format against one node (client/batch.h runs it); here the
 * options, the identity from the command line, and the results printed:
 * failures to stderr with the reason, a summary to stdout, exit status 1
 * when any record failed.
 */
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "client/admin_auth.h"
#include "client/batch.h"
#include "client/client.h"
#include "core/err.h"

/* What the results are printed with. */
struct printer {
	const char *path;
	bool quiet;
};

static void batch_usage(FILE *f)
{
	fprintf(f, "usage: idnode batch FILE --server HOST:PORT [--id INDEX:HANDLE (--key PEM | "
	           "--secret-file FILE)] [--quiet] [--no-session]\n"
	           "Runs a GenericBatch file (AUTHENTICATE, CREATE, ADD, MODIFY, REMOVE, DELETE, "
	           "HOME, UNHOME)\n"
	           "over one TCP connection. --id/--key/--secret-file authenticate the records "
	           "before the\n"
	           "file's first AUTHENTICATE. Records go through a session (op 400) unless\n"
	           "--no-session. Exit status 1 when any record failed.\n");
}

static void print_result(void *arg, unsigned line, const char *op, const char *handle,
                         const char *err)
{
	const struct printer *p = arg;
	if (err)
		fprintf(stderr, "%s:%u: %s %s: FAILED: %s\n", p->path, line, op, handle, err);
	else if (!p->quiet)
		printf("%s:%u: %s %s: ok\n", p->path, line, op, handle);
}

static void print_notice(void *arg, unsigned line, const char *msg)
{
	const struct printer *p = arg;
	fprintf(stderr, "%s:%u: %s\n", p->path, line, msg);
}

/* The identity of --id with --key or --secret-file; CLI_OK or the exit status. */
static int set_identity(client_batch *b, const char *id, const char *key, const char *secret)
{
	if (client_batch_identity(b, id)) {
		fprintf(stderr, "idnode batch: --id %s: expected INDEX:HANDLE\n", id);
		return CLI_USAGE;
	}
	if (key) {
		EVP_PKEY *k = client_batch_read_key(key, NULL);
		if (!k) {
			fprintf(stderr, "idnode batch: --key %s: not a readable PEM private key\n",
			        key);
			return CLI_USAGE;
		}
		client_batch_identity_key(b, k);
		return CLI_OK;
	}
	uint8_t buf[4096];
	size_t n;
	if (client_identity_read_secret(secret, buf, sizeof(buf), &n)) {
		fprintf(stderr, "idnode batch: --secret-file %s: %m\n", secret);
		return CLI_USAGE;
	}
	client_batch_identity_secret(b, buf, n);
	OPENSSL_cleanse(buf, sizeof(buf));
	return CLI_OK;
}

int cmd_batch(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"id", required_argument, NULL, 'i'},
	    {"key", required_argument, NULL, 'k'},
	    {"secret-file", required_argument, NULL, 'S'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"session", no_argument, NULL, 256},
	    {"no-session", no_argument, NULL, 257},
	    {NULL, 0, NULL, 0},
	};
	struct printer pr = {0};
	client_batch_opts bo = {.on_result = print_result, .on_notice = print_notice, .arg = &pr};
	client_batch *b = NULL;
	const char *id = NULL, *key = NULL, *secret = NULL;
	FILE *f = NULL;
	int opt, status = CLI_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:i:k:S:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			bo.server_name = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'S':
			secret = optarg;
			break;
		case 'q':
			pr.quiet = true;
			break;
		case 256: /* --session: the default */
			bo.no_session = false;
			break;
		case 257:
			bo.no_session = true;
			break;
		case 'h':
			batch_usage(stdout);
			return CLI_OK;
		default:
			batch_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc || !bo.server_name || (id && !key == !secret) ||
	    (!id && (key || secret))) {
		batch_usage(stderr);
		return CLI_USAGE;
	}
	char err[256];
	if (client_addr_parse(bo.server_name, 2641, &bo.server, err, sizeof(err))) {
		fprintf(stderr, "idnode batch: --server %s: %s\n", bo.server_name, err);
		return CLI_USAGE;
	}
	pr.path = argv[optind];
	if (client_batch_new(&bo, &b)) {
		fprintf(stderr, "idnode batch: %s\n", idn_strerror(IDN_ENOMEM));
		return CLI_USAGE;
	}
	if (id && (status = set_identity(b, id, key, secret)) != CLI_OK) {
		status = CLI_USAGE;
		goto out;
	}
	status = CLI_USAGE;
	f = strcmp(pr.path, "-") ? fopen(pr.path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "idnode batch: %s: %m\n", pr.path);
		goto out;
	}
	client_batch_run(b, f);
	unsigned ok, failed;
	client_batch_counts(b, &ok, &failed);
	printf("%u records: %u ok, %u failed\n", ok + failed, ok, failed);
	status = failed ? CLI_FAIL : CLI_OK;
out:
	if (f && f != stdin)
		fclose(f);
	client_batch_free(b);
	return status;
}
