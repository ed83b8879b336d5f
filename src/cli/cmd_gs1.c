/*
 * cmd_gs1.c - `idnode gs1`: GS1 Digital Link URIs on the command line (see
 * docs/gs1.md).
 *
 *   idnode gs1 parse URI...
 *       parses each URI and prints it as JSON, one line each; exits 1 after
 *       the first that is not valid, with the reason.
 *   idnode gs1 parse -
 *       reads one URI a line from standard input and prints one JSON line
 *       each: {"ok":true,"dl":{...}} or {"ok":false,"error":"..."}.
 *   idnode gs1 handle RULE URI
 *       the Handle identifier RULE maps the URI's GS1 key to.
 *   idnode gs1 uri RULE HANDLE [STEM]
 *       the canonical GS1 Digital Link URI of HANDLE, read back through RULE.
 *
 * RULE is GCP:KEY:TEMPLATE, e.g. 9521234:01:88.100.1/01.{01}.21.{21}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "gs1/gs1.h"

enum { OUT_MAX = 16384 };

static void gs1_usage(FILE *f)
{
	fprintf(f, "usage: idnode gs1 parse URI...      print each GS1 Digital Link URI as JSON\n"
	           "       idnode gs1 parse -           the same for one URI a line of stdin\n"
	           "       idnode gs1 handle RULE URI   the identifier RULE maps URI to\n"
	           "       idnode gs1 uri RULE HANDLE [STEM]  the URI of HANDLE through RULE\n"
	           "RULE is GCP:KEY:TEMPLATE, e.g. 9521234:01:88.100.1/01.{01}.21.{21}\n");
}

/* Prints the JSON of one URI; 0, or 1 after the reason. lines: the stdin
 * form, where both outcomes are a JSON line. */
static int parse_one(const char *uri, bool lines)
{
	static gs1_dl dl;
	static char out[OUT_MAX];
	char err[256];
	if (gs1_dl_parse(uri, &dl, err, sizeof err) != 0) {
		if (!lines) {
			fprintf(stderr, "idnode gs1: %s: %s\n", uri, err);
			return 1;
		}
		if (gs1_json_string(err, out, sizeof out) < 0)
			return 1;
		printf("{\"ok\":false,\"error\":%s}\n", out);
		return 1;
	}
	if (gs1_dl_json(&dl, out, sizeof out) < 0) {
		fprintf(stderr, "idnode gs1: %s: too large to print\n", uri);
		return 1;
	}
	if (lines)
		printf("{\"ok\":true,\"dl\":%s}\n", out);
	else
		printf("%s\n", out);
	return 0;
}

static int cmd_parse(int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "-") == 0) {
		char line[GS1_URI_MAX + 2];
		while (fgets(line, sizeof line, stdin)) {
			line[strcspn(line, "\r\n")] = '\0';
			parse_one(line, true);
			fflush(stdout);
		}
		return CLI_OK;
	}
	for (int i = 0; i < argc; i++)
		if (parse_one(argv[i], false) != 0)
			return CLI_FAIL;
	return CLI_OK;
}

/* "GCP:KEY:TEMPLATE" into r; 0, or -1 after a message. */
static int read_rule(const char *s, gs1_rule *r)
{
	char err[256];
	const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	memset(r, 0, sizeof *r);
	if (!c2 || (size_t)(c1 - s) >= sizeof r->gcp || (size_t)(c2 - c1 - 1) >= sizeof r->key ||
	    strlen(c2 + 1) >= sizeof r->tmpl) {
		fprintf(stderr, "idnode gs1: rule '%s': expected GCP:KEY:TEMPLATE\n", s);
		return -1;
	}
	memcpy(r->gcp, s, (size_t)(c1 - s));
	memcpy(r->key, c1 + 1, (size_t)(c2 - c1 - 1));
	strcpy(r->tmpl, c2 + 1);
	if (gs1_rule_check(r, err, sizeof err) != 0) {
		fprintf(stderr, "idnode gs1: %s\n", err);
		return -1;
	}
	return 0;
}

static int cmd_handle(const char *rule, const char *uri)
{
	static gs1_dl dl;
	gs1_rule r;
	char err[256], out[1024];
	if (read_rule(rule, &r) != 0)
		return CLI_USAGE;
	if (gs1_dl_parse(uri, &dl, err, sizeof err) != 0) {
		fprintf(stderr, "idnode gs1: %s: %s\n", uri, err);
		return CLI_FAIL;
	}
	if (!gs1_rule_find(&r, 1, &dl)) {
		fprintf(stderr, "idnode gs1: %s: key %s %s is not under company prefix %s\n", uri,
		        dl.key.ai, dl.key.value, r.gcp);
		return CLI_FAIL;
	}
	int n = gs1_rule_apply(&r, &dl, out, sizeof out);
	if (n <= 0) {
		fprintf(stderr, "idnode gs1: %s: %s\n", uri,
		        n == 0 ? "the rule names an AI the URI lacks" : "identifier too long");
		return CLI_FAIL;
	}
	printf("%s\n", out);
	return CLI_OK;
}

static int cmd_uri(const char *rule, const char *handle, const char *stem)
{
	static gs1_dl dl;
	gs1_rule r;
	char err[256], out[OUT_MAX];
	if (read_rule(rule, &r) != 0)
		return CLI_USAGE;
	int m = gs1_rule_match(&r, handle, &dl, err, sizeof err);
	if (m <= 0) {
		fprintf(stderr, "idnode gs1: %s: %s\n", handle,
		        m == 0 ? "does not match the rule's template" : err);
		return CLI_FAIL;
	}
	if (stem)
		snprintf(dl.stem, sizeof dl.stem, "%s", stem);
	if (gs1_dl_build(&dl, out, sizeof out) < 0) {
		fprintf(stderr, "idnode gs1: %s: URI too long\n", handle);
		return CLI_FAIL;
	}
	printf("%s\n", out);
	return CLI_OK;
}

int cmd_gs1(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		gs1_usage(stdout);
		return CLI_OK;
	}
	if (argc >= 3 && !strcmp(argv[1], "parse"))
		return cmd_parse(argc - 2, argv + 2);
	if (argc == 4 && !strcmp(argv[1], "handle"))
		return cmd_handle(argv[2], argv[3]);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "uri"))
		return cmd_uri(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	gs1_usage(stderr);
	return CLI_USAGE;
}
