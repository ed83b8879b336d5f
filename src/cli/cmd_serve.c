/*
 * cmd_serve.c - `idnode serve`: runs a node from flags and/or an INI file.
 *
 * The settings (server/settings.h) come from the file first (-c FILE), then
 * the flags: a flag overrides the file's setting, and a repeatable flag
 * (--listen, --home) given at least once replaces the file's list. The node
 * itself is assembled and run by server/server.h.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "server/server.h"
#include "server/settings.h"

int cmd_serve(int argc, char **argv)
{
	server_settings s;
	int status = CLI_USAGE;
	switch (settings_parse_serve(&s, argc, argv, stdout, stderr)) {
	case SETTINGS_HELP:
		status = CLI_OK;
		break;
	case SETTINGS_OK:
		status = server_run(&s) ? CLI_FAIL : CLI_OK;
		break;
	default:
		break;
	}
	settings_free(&s);
	return status;
}
