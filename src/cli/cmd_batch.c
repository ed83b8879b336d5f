/*
 * cmd_batch.c - `idnode batch FILE`: runs a batch file in the reference's
 * GenericBatch format against one node (libidnode's idnode_batch_file,
 * over client/batch.h, runs it); here the
 * options, the identity from the command line, and the results printed:
 * failures to stderr with the reason, a summary to stdout, exit status 1
 * when any record failed.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/cli.h"
#include "idnode.h"

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
	if (!op) /* a remark on the file that is no record's result */
		fprintf(stderr, "%s:%u: %s\n", p->path, line, err);
	else if (err)
		fprintf(stderr, "%s:%u: %s %s: FAILED: %s\n", p->path, line, op, handle, err);
	else if (!p->quiet)
		printf("%s:%u: %s %s: ok\n", p->path, line, op, handle);
}

/* The identity of --id with --key or --secret-file; CLI_OK or the exit status. */
static int set_identity(idnode_client *c, const char *id, const char *key, const char *secret)
{
	uint32_t index;
	const char *handle;
	if (cli_identity_ref(id, &index, &handle)) {
		fprintf(stderr, "idnode batch: --id %s: expected INDEX:HANDLE\n", id);
		return CLI_USAGE;
	}
	int ret = key ? idnode_client_set_identity_key(c, index, handle, key, NULL)
	              : idnode_client_set_identity_secret_file(c, index, handle, secret);
	if (ret) {
		fprintf(stderr, "idnode batch: %s %s\n", key ? "--key" : "--secret-file",
		        idnode_client_error(c));
		return CLI_USAGE;
	}
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
	const char *id = NULL, *key = NULL, *secret = NULL, *server = NULL;
	bool no_session = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:i:k:S:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			server = optarg;
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
			no_session = false;
			break;
		case 257:
			no_session = true;
			break;
		case 'h':
			batch_usage(stdout);
			return CLI_OK;
		default:
			batch_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc || !server || (id && !key == !secret) || (!id && (key || secret))) {
		batch_usage(stderr);
		return CLI_USAGE;
	}
	pr.path = argv[optind];
	idnode_client *c;
	if (idnode_client_new(&c)) {
		fprintf(stderr, "idnode batch: out of memory\n");
		return CLI_USAGE;
	}
	int status = CLI_USAGE;
	unsigned ok, failed;
	idnode_client_set_auth(c, no_session ? IDNODE_AUTH_PLAIN : IDNODE_AUTH_SESSION);
	if (idnode_client_set_server(c, server)) {
		fprintf(stderr, "idnode batch: --%s\n", idnode_client_error(c));
	} else if (!id || set_identity(c, id, key, secret) == CLI_OK) {
		if (idnode_batch_file(c, pr.path, print_result, &pr, &ok, &failed)) {
			fprintf(stderr, "idnode batch: %s\n", idnode_client_error(c));
		} else {
			printf("%u records: %u ok, %u failed\n", ok + failed, ok, failed);
			status = failed ? CLI_FAIL : CLI_OK;
		}
	}
	idnode_client_free(c);
	return status;
}
