/*
 * cli.h - the idnode program's subcommands. main.c dispatches argv[1] through
 * a table; each subcommand parses its own options and returns the process
 * exit status (0 ok, 1 the operation failed, 2 usage or environment error).
 */
#ifndef IDN_CLI_CLI_H
#define IDN_CLI_CLI_H

int cmd_serve(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_dump(int argc, char **argv); /* cmd_dump.c: backups */
int cmd_restore(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_siteinfo(int argc, char **argv);
int cmd_demo(int argc, char **argv); /* cmd_demo.c: the whole hierarchy on loopback */
int cmd_keygen(int argc, char **argv);
int cmd_admin(int argc, char **argv);    /* create add modify remove delete list home unhome */
int cmd_template(int argc, char **argv); /* cmd_template.c: data templates */
int cmd_batch(int argc, char **argv);    /* cmd_batch.c: GenericBatch files */
int cmd_quota(int argc, char **argv);    /* cmd_quota.c: quotas of a running node (REST) */

/*
 * (main.c) A failed exchange with a server, for what (an identifier):
 * "idnode CMD: WHAT: connection to 127.0.0.1:2641 refused" (client_strerror),
 * or "idnode CMD: WHAT: SERVER: timed out" when the client recorded no detail.
 */
void cli_client_error(const char *cmd, const char *what, const char *server, int ret);

/* Exit statuses. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

#endif
