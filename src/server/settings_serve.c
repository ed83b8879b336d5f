/*
 * settings_serve.c - `idnode serve`'s arguments from the settings table:
 * the flags, the -c file under them, the checks between settings, the usage.
 */
#include <getopt.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "server/settings.h"

static const char prog[] = "idnode serve";

void settings_usage_serve(FILE *f)
{
	fprintf(f,
	        "usage: idnode serve --data DIR [--listen ADDR:PORT]... [--home PREFIX]... "
	        "[--threads N]\n"
	        "       idnode serve -c FILE [flags that override the file]\n"
	        "Each flag --NAME-X is the setting NAME_X of the file, unless it says otherwise;\n"
	        "a flag given overrides the file, a repeatable one given replaces its list.\n");
	settings_usage_rows(f, SETTING_SERVE);
	fprintf(f, "Stops cleanly on SIGTERM or SIGINT.\n");
}

static bool is_pg_uri(const char *s)
{
	return s && (!strncasecmp(s, "postgresql://", 13) || !strncasecmp(s, "postgres://", 11));
}

/* What one setting needs of the others, said as the flags that give it. */
static int check(server_settings *c, FILE *err)
{
	if (c->store_read && !is_pg_uri(c->data)) {
		fprintf(err,
		        "%s: --store-read needs a PostgreSQL --store URI (a replica of that "
		        "database)\n",
		        prog);
		return -1;
	}
	if (c->mirror_of &&
	    (!c->data || !c->mirror_id || !(c->mirror_key || c->mirror_secret_file))) {
		fprintf(err,
		        "%s: --mirror-of needs --data DIR (or --store URI), --id "
		        "INDEX:HANDLE and --key FILE or --secret-file FILE\n",
		        prog);
		return -1;
	}
	if (c->recursive && !c->root) {
		fprintf(err, "%s: --recursive needs --root HOST:PORT (or root = ...)\n", prog);
		return -1;
	}
	if ((c->trust_root || c->trust_root_handle) && !c->recursive) {
		fprintf(err, "%s: --trust-root is a recursive node's: it needs --recursive\n",
		        prog);
		return -1;
	}
	if (!c->data && !c->recursive && (c->http.n || c->https.n)) {
		fprintf(err,
		        "%s: --http needs a store (--data or --store), or --recursive (a "
		        "gateway)\n",
		        prog);
		return -1;
	}
	if (!c->data && !c->recursive) {
		fprintf(err, "%s: no store: give --data DIR, --store URI or data = DIR\n", prog);
		settings_usage_serve(err);
		return -1;
	}
	if (c->listen.n == 0)
		c->listen.v[c->listen.n++] = strdup(":2641");
	return 0;
}

int settings_parse_serve(server_settings *s, int argc, char **argv, FILE *out, FILE *err)
{
	struct option opts[SETTINGS_ROWS_MAX + 2];
	char shortopts[64];
	server_settings flags;
	int opt, ret = SETTINGS_BAD;

	settings_init(s);
	settings_init(&flags);
	settings_options(SETTING_SERVE, opts, sizeof(opts) / sizeof(opts[0]), shortopts,
	                 sizeof(shortopts));
	/* Flags are collected apart so that they override the file. */
	optind = 1;
	while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (opt == 'h') {
			settings_usage_serve(out);
			ret = SETTINGS_HELP;
			goto out;
		}
		int r = settings_take_option(&flags, opt, optarg, prog, err);
		if (r == 0)
			settings_usage_serve(err);
		if (r <= 0)
			goto out;
	}
	if (optind != argc) {
		fprintf(err, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		goto out;
	}
	if (flags.config && settings_load_file(s, flags.config, prog, err))
		goto out;
	settings_merge(s, &flags);
	if (check(s, err))
		goto out;
	ret = SETTINGS_OK;
out:
	settings_free(&flags);
	return ret;
}
