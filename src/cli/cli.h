/*
 * cli.h - the idnode program's subcommands. main.c dispatches argv[1] through
 * a table; each subcommand parses its own options and returns the process
 * exit status (0 ok, 1 the operation failed, 2 usage or environment error).
 */
#ifndef IDN_CLI_CLI_H
#define IDN_CLI_CLI_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* (main.c) The table of subcommands `idnode --help` lists, n of them. */
struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};
const struct cli_command *cli_commands(size_t *n);

int cmd_serve(int argc, char **argv);
int cmd_settings_doc(int argc, char **argv); /* cmd_serve.c: the settings as documents */
int cmd_man_doc(int argc, char **argv);      /* cmd_man_doc.c: a group's manual page */
/* (cmd_man_doc.c) A document's date: SOURCE_DATE_EPOCH's when set, else today. */
void cli_doc_date(char *date, size_t len);
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
int cmd_cert(int argc, char **argv);     /* cmd_cert.c: issue an HS_CERT */
int cmd_sign(int argc, char **argv);     /* cmd_sign.c: sign values into an HS_SIGNATURE */
int cmd_export(int argc, char **argv);   /* cmd_export.c: copy a prefix off a node, or verify */
int cmd_gs1(int argc, char **argv);      /* cmd_gs1.c: GS1 Digital Link URIs */
int cmd_index(int argc, char **argv);    /* cmd_index.c: the search index of a store */
int cmd_account(int argc, char **argv);  /* cmd_account.c: management accounts, admission */
int cmd_audit(int argc, char **argv);    /* cmd_account.c: the audit log */

/* (cmd_cert.c) What the trust commands share. */
/* The authenticated add's options, as `idnode add` takes them. */
typedef struct cli_admin_args {
	const char *server, *id, *key, *secret_file;
	bool no_session;
} cli_admin_args;

/* A PEM key (private, or public: a private key file gives its public half); err on NULL. */
EVP_PKEY *cli_trust_key(const char *path, bool priv, char *err, size_t errlen);
/* Adds (or with replace modifies) INDEX:TYPE:DATA at handle as `idnode add` would. */
int cli_trust_store(const char *cmd, const char *handle, uint32_t index, const char *type,
                    const char *data, const cli_admin_args *a, bool replace);
/* getopt codes S I A F N (--server --id --key --secret-file --no-session): 1 when taken. */
int cli_trust_admin_opt(int opt, const char *arg, cli_admin_args *a);
/* A number from min to max, or INT64_MIN after a message naming opt. */
int64_t cli_trust_number(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max);
int cmd_stats(int argc, char **argv); /* cmd_stats.c: statistics from a store */
int cmd_quota(int argc, char **argv); /* cmd_quota.c: quotas of a running node (REST) */

/*
 * (main.c) A failed exchange with a server, for what (an identifier):
 * "idnode CMD: WHAT: connection to 127.0.0.1:2641 refused" (client_strerror),
 * or "idnode CMD: WHAT: SERVER: timed out" when the client recorded no detail.
 */
void cli_client_error(const char *cmd, const char *what, const char *server, int ret);

/* (cmd_admin.c) --id INDEX:HANDLE ("300:0.NA/88.1000") -> index, handle (borrowed from s); -1 if
 * not. */
int cli_identity_ref(const char *s, uint32_t *index, const char **handle);

/* Exit statuses. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

#endif
