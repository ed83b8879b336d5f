/*
 * cmd_serve.c - `idnode serve`: runs a node from flags and/or an INI file.
 *
 * The settings (server/settings.h) come from the file first (-c FILE), then
 * the flags: a flag overrides the file's setting, and a repeatable flag
 * (--listen, --home) given at least once replaces the file's list. The node
 * itself is assembled and run by server/server.h. SIGHUP and SIGUSR1 are
 * blocked before anything else, so neither kills a node that is starting.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"
#include "server/settings.h"

int cmd_serve(int argc, char **argv)
{
	server_hold_signals(); /* first: a SIGHUP while starting must not kill */
	server_settings s;
	int status = CLI_USAGE;
	switch (settings_parse_serve(&s, argc, argv, stdout, stderr)) {
	case SETTINGS_HELP:
		status = CLI_OK;
		break;
	case SETTINGS_OK:
		s.argc = argc; /* SIGHUP reads the file and the flags again */
		s.argv = argv;
		status = server_run(&s) ? CLI_FAIL : CLI_OK;
		break;
	default:
		break;
	}
	settings_free(&s);
	return status;
}

/*
 * `idnode settings-doc man|ini|keys` (not in the usage: the build's): the
 * settings table as idnode.conf(5), as an example file, or as its keys. The
 * page's date is SOURCE_DATE_EPOCH's when set (reproducible builds), else today.
 */
int cmd_settings_doc(int argc, char **argv)
{
	static const char *const names[] = {
	    [SETTINGS_DOC_MAN] = "man", [SETTINGS_DOC_INI] = "ini", [SETTINGS_DOC_KEYS] = "keys"};
	for (int w = 0; argc == 2 && w < 3; w++) {
		if (strcmp(argv[1], names[w]))
			continue;
		char date[32];
		cli_doc_date(date, sizeof(date));
		settings_doc(stdout, (enum settings_doc)w, IDN_VERSION, date);
		return fflush(stdout) ? CLI_FAIL : CLI_OK;
	}
	fprintf(stderr, "usage: idnode settings-doc man|ini|keys\n");
	return CLI_USAGE;
}
