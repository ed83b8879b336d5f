/*
 * main.c - `idnode SUBCOMMAND ...`: one program for every node role and its
 * own client.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "client/client.h"
#include "core/err.h"

static const struct cli_command subcommands[] = {
    {"serve", cmd_serve, "run a node (Handle protocol over UDP and TCP)"},
    {"load", cmd_load, "bulk-import identifiers from JSON Lines into a data directory"},
    {"resolve", cmd_resolve, "resolve an identifier against a node"},
    {"dump", cmd_dump, "write a store's identifiers as JSON Lines (a consistent snapshot)"},
    {"restore", cmd_restore, "load a dump into an empty store"},
    {"verify", cmd_verify, "check that every record of a store decodes"},
    {"index", cmd_index, "turn a store's search index on or off, rebuild or check it"},
    {"siteinfo", cmd_siteinfo, "print or write the HS_SITE a node's settings describe"},
    {"keygen", cmd_keygen, "generate an admin key pair (rsa, dsa, sm2)"},
    {"demo", cmd_demo, "run a whole hierarchy with sample data on loopback ports"},
    {"create", cmd_admin, "create an identifier (authenticated)"},
    {"add", cmd_admin, "add values to an identifier (authenticated)"},
    {"modify", cmd_admin, "replace values of an identifier (authenticated)"},
    {"remove", cmd_admin, "remove values from an identifier (authenticated)"},
    {"delete", cmd_admin, "delete an identifier (authenticated)"},
    {"list", cmd_admin, "list the identifiers under a prefix (authenticated)"},
    {"home", cmd_admin, "home a prefix on a node (node administrators)"},
    {"unhome", cmd_admin, "unhome a prefix (node administrators)"},
    {"template", cmd_template, "create or show a data template (field definitions)"},
    {"batch", cmd_batch, "run a GenericBatch file of admin operations (authenticated)"},
    {"cert", cmd_cert, "issue an HS_CERT: an issuer signs a subject's key and permissions"},
    {"sign", cmd_sign, "sign an identifier's values into an HS_SIGNATURE and store it"},
    {"quota", cmd_quota, "look at or change a running node's quotas (node administrators)"},
    {"gs1", cmd_gs1, "parse a GS1 Digital Link URI; map it to an identifier and back"},
    {"account", cmd_account, "management accounts and enterprise admission (secondary nodes)"},
    {"audit", cmd_audit, "read the audit log of management changes"},
    {"stats", cmd_stats, "print a node's statistics per prefix, industry, day or hour"},
    {"export", cmd_export, "copy a prefix's identifiers off a running node, or verify a node"},
};

const struct cli_command *cli_commands(size_t *n)
{
	*n = sizeof(subcommands) / sizeof(subcommands[0]);
	return subcommands;
}

void cli_client_error(const char *cmd, const char *what, const char *server, int ret)
{
	const char *why = client_strerror(ret);
	if (why != idn_strerror(ret)) /* it names the peer and what happened */
		fprintf(stderr, "idnode %s: %s: %s\n", cmd, what, why);
	else
		fprintf(stderr, "idnode %s: %s: %s: %s\n", cmd, what, server, why);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: idnode COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\n'idnode COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("idnode %s\n", IDN_VERSION);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "settings-doc")) /* the build's, for idnode.conf(5): not listed */
		return cmd_settings_doc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "man-doc")) /* the build's, for the group pages: not listed */
		return cmd_man_doc(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "idnode: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
