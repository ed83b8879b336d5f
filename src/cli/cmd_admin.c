/*
 * cmd_admin.c - the authenticated administration commands:
 *
 *   idnode create|add|modify HANDLE --value INDEX:TYPE:DATA... [--mint] [--overwrite]
 *   idnode remove HANDLE --index N...
 *   idnode delete HANDLE          idnode list PREFIX
 *   idnode home PREFIX            idnode unhome PREFIX
 *
 * each with --server HOST:PORT --id INDEX:HANDLE and --key FILE (PEM private
 * key: RSA, DSA or SM2) or --secret-file FILE (HS_SECKEY secret). On one TCP
 * connection: a session setup (op 400, Diffie-Hellman; as the 9.x client,
 * unless --no-session; --encrypt encrypts it), the request (answered 402),
 * the challenge response, then op 401. A server that refuses sessions gets
 * plain challenge-response. With --login idis (or idis-ids, ID-SDK's body)
 * the national system's login instead (client/login.h): GET_SITE_INFO, 2001
 * answered as a challenge, then the request in the login, unchallenged.
 *
 * Value data by type: HS_ADMIN "INDEX:HANDLE" (all rights) or
 * "RIGHTS-HEX/INDEX:HANDLE"; HS_VLIST "INDEX:HANDLE,INDEX:HANDLE..."; HS_PUBKEY
 * "@FILE" (a PEM key: its public half, Handle binary form) or "pem:@FILE" (the
 * PEM text of the public half); anything else: the text itself, or "hex:..."
 * for raw bytes. HS_PUBKEY data in any form must decode to a key a node can
 * verify with (auth_pubkey_parse), or the command stops saying why.
 *
 * Everything after the options goes through libidnode's public API
 * (include/idnode.h: idnode_values_add_text, idnode_create, ...), the one
 * client implementation the library's users get too.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "idnode.h"
#include "proto/proto.h"

enum { MAX_VALUES = 256 };

static const struct admin_cmd {
	const char *name;
	uint32_t opcode;
	bool values;  /* takes --value */
	bool indexes; /* takes --index */
	bool na;      /* the argument is a prefix: sent as 0.NA/<prefix> */
} admin_cmds[] = {
    {"create", PROTO_OP_CREATE_HANDLE, true, false, false},
    {"add", PROTO_OP_ADD_VALUE, true, false, false},
    {"modify", PROTO_OP_MODIFY_VALUE, true, false, false},
    {"remove", PROTO_OP_REMOVE_VALUE, false, true, false},
    {"delete", PROTO_OP_DELETE_HANDLE, false, false, false},
    {"list", PROTO_OP_LIST_HANDLES, false, false, true},
    {"home", PROTO_OP_HOME_NA, false, false, true},
    {"unhome", PROTO_OP_UNHOME_NA, false, false, true},
};

typedef struct admin_opts {
	const struct admin_cmd *cmd;
	const char *server, *id, *key, *secret_file;
	uint32_t flags;
	bool no_session, encrypt; /* sessions are the default, as the 9.x client */
	bool login, login_ids;    /* --login idis / idis-ids: op 2001 (client/login.h) */
	idnode_values *values;    /* --value, built by the library */
	uint32_t indexes[MAX_VALUES];
	uint32_t nindexes;
} admin_opts;

static void admin_usage(FILE *f)
{
	fputs("usage: idnode create|add|modify HANDLE --value INDEX:TYPE:DATA... [--mint] "
	      "[--overwrite] AUTH\n"
	      "       idnode remove HANDLE --index N... AUTH\n"
	      "       idnode delete HANDLE AUTH\n"
	      "       idnode list|home|unhome PREFIX AUTH\n"
	      "AUTH: --server HOST:PORT --id INDEX:HANDLE (--key FILE | --secret-file FILE)\n"
	      "  -s, --server HOST:PORT   the node (TCP)\n"
	      "  -i, --id INDEX:HANDLE    who you are, e.g. 300:0.NA/88.100\n"
	      "  -k, --key FILE           your PEM private key (HS_PUBKEY identity)\n"
	      "  -S, --secret-file FILE   your secret (HS_SECKEY identity)\n"
	      "      --no-session         plain challenge-response, no session (op 400)\n"
	      "      --encrypt            encrypt the session's messages (AES; SM4 with --login)\n"
	      "      --login idis|idis-ids  log in as the national SDKs do (op 2001; idis-ids:\n"
	      "                           ID-SDK's body); no session\n"
	      "  -v, --value INDEX:TYPE:DATA  HS_ADMIN data: INDEX:HANDLE or "
	      "RIGHTSHEX/INDEX:HANDLE;\n"
	      "                           HS_VLIST: INDEX:HANDLE,...; HS_PUBKEY: @PEMFILE\n"
	      "                           (Handle binary form) or pem:@PEMFILE (the PEM text,\n"
	      "                           the national SDKs' form), checked before sending;\n"
	      "                           else text, or hex:HEX\n",
	      f);
}

int cli_identity_ref(const char *s, uint32_t *index, const char **handle)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end != ':' || !strchr(end + 1, '/') || v > UINT32_MAX)
		return -1;
	*index = (uint32_t)v;
	*handle = end + 1;
	return 0;
}

static int add_value(admin_opts *o, const char *arg)
{
	char err[512];
	if (!o->values && idnode_values_new(&o->values)) {
		fprintf(stderr, "idnode %s: out of memory\n", o->cmd->name);
		return -1;
	}
	if (idnode_values_add_text(o->values, arg, err, sizeof err)) {
		fprintf(stderr, "idnode %s: --value %s\n", o->cmd->name, err);
		return -1;
	}
	return 0;
}

static int print_name(void *arg, const char *handle)
{
	printf("%s\n", handle);
	return 0;
}

/* The client of o: its server, identity and way of authenticating; CLI_OK or after a message. */
static int setup(const admin_opts *o, idnode_client *c)
{
	const char *name = o->cmd->name, *id_handle, *opt = "--server";
	uint32_t id_index;
	if (cli_identity_ref(o->id, &id_index, &id_handle)) {
		fprintf(stderr, "idnode %s: --id %s: expected INDEX:HANDLE\n", name, o->id);
		return CLI_USAGE;
	}
	int ret = idnode_client_set_server(c, o->server);
	if (!ret && o->key) {
		opt = "--key";
		ret = idnode_client_set_identity_key(c, id_index, id_handle, o->key, NULL);
	} else if (!ret) {
		opt = "--secret-file";
		ret =
		    idnode_client_set_identity_secret_file(c, id_index, id_handle, o->secret_file);
	}
	int login = o->login_ids ? IDNODE_AUTH_IDIS_IDS : IDNODE_AUTH_IDIS;
	if (o->encrypt) /* SM4 after the login */
		login = o->login_ids ? IDNODE_AUTH_IDIS_IDS_SM4 : IDNODE_AUTH_IDIS_SM4;
	int auth = o->login        ? login
	           : o->encrypt    ? IDNODE_AUTH_ENCRYPTED
	           : o->no_session ? IDNODE_AUTH_PLAIN
	                           : IDNODE_AUTH_SESSION;
	if (!ret && (ret = idnode_client_set_auth(c, auth)) == IDNODE_OK)
		ret = idnode_client_set_timeout(c, 10000);
	if (ret) {
		fprintf(stderr, "idnode %s: %s %s\n", name, opt, idnode_client_error(c));
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* The request of o on arg through c (the library: include/idnode.h). */
static int request(const admin_opts *o, idnode_client *c, const char *arg)
{
	char *minted = NULL;
	int ret;
	switch (o->cmd->opcode) {
	case PROTO_OP_CREATE_HANDLE:
		ret = idnode_create(c, arg, o->values,
		                    (o->flags & PROTO_F_MINT ? IDNODE_CREATE_MINT : 0) |
		                        (o->flags & PROTO_F_OVRW ? IDNODE_CREATE_OVERWRITE : 0),
		                    &minted);
		if (minted)
			printf("%s\n", minted);
		idnode_free(minted);
		return ret;
	case PROTO_OP_ADD_VALUE:
		return idnode_add_values(c, arg, o->values);
	case PROTO_OP_MODIFY_VALUE:
		return idnode_modify_values(c, arg, o->values);
	case PROTO_OP_REMOVE_VALUE:
		return idnode_remove_values(c, arg, o->indexes, o->nindexes);
	case PROTO_OP_DELETE_HANDLE:
		return idnode_delete(c, arg);
	case PROTO_OP_LIST_HANDLES:
		return idnode_list(c, arg, print_name, NULL);
	case PROTO_OP_HOME_NA:
		return idnode_home(c, arg);
	default:
		return idnode_unhome(c, arg);
	}
}

/*
 * On one TCP connection: a session (or a login, or neither), the request
 * answered 402 and the challenge response, then op 401 (the library's
 * idnode_client_end_session).
 */
static int run(const admin_opts *o, const char *arg)
{
	const char *name = o->cmd->name;
	idnode_client *c;
	if (idnode_client_new(&c)) {
		fprintf(stderr, "idnode %s: out of memory\n", name);
		return CLI_USAGE;
	}
	int status = setup(o, c);
	if (status == CLI_OK) {
		int ret = request(o, c, arg);
		if (ret) {
			fprintf(stderr, "idnode %s: %s%s: %s\n", name,
			        o->cmd->na && strncmp(arg, "0.NA/", 5) ? "0.NA/" : "", arg,
			        idnode_client_error(c));
			status = CLI_FAIL;
		} else if (idnode_client_end_session(c)) {
			fprintf(stderr, "idnode %s: %s: the session did not end cleanly\n", name,
			        o->server);
		}
	}
	idnode_client_free(c);
	return status;
}

int cmd_admin(int argc, char **argv)
{
	enum { O_MINT = 256, O_OVRW, O_NOSESS, O_ENC, O_LOGIN };
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"id", required_argument, NULL, 'i'},
	    {"key", required_argument, NULL, 'k'},
	    {"secret-file", required_argument, NULL, 'S'},
	    {"value", required_argument, NULL, 'v'},
	    {"index", required_argument, NULL, 'n'},
	    {"mint", no_argument, NULL, O_MINT},
	    {"overwrite", no_argument, NULL, O_OVRW},
	    {"no-session", no_argument, NULL, O_NOSESS},
	    {"encrypt", no_argument, NULL, O_ENC},
	    {"login", required_argument, NULL, O_LOGIN},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static admin_opts o;
	memset(&o, 0, sizeof(o));
	for (size_t i = 0; i < sizeof(admin_cmds) / sizeof(admin_cmds[0]); i++)
		if (!strcmp(argv[0], admin_cmds[i].name))
			o.cmd = &admin_cmds[i];
	if (!o.cmd)
		return CLI_USAGE;
	int opt, status = CLI_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:i:k:S:v:n:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.server = optarg;
			break;
		case 'i':
			o.id = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 'S':
			o.secret_file = optarg;
			break;
		case 'v':
			if (!o.cmd->values) {
				fprintf(stderr, "idnode %s: --value does not apply\n", o.cmd->name);
				goto out;
			}
			if (add_value(&o, optarg))
				goto out;
			break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!o.cmd->indexes || *end || v <= 0 || v > INT32_MAX ||
			    o.nindexes == MAX_VALUES) {
				fprintf(stderr,
				        "idnode %s: --index %s: not a positive index here\n",
				        o.cmd->name, optarg);
				goto out;
			}
			o.indexes[o.nindexes++] = (uint32_t)v;
			break;
		}
		case O_MINT:
			o.flags |= PROTO_F_MINT;
			break;
		case O_OVRW:
			o.flags |= PROTO_F_OVRW;
			break;
		case O_NOSESS:
			o.no_session = true;
			break;
		case O_ENC:
			o.encrypt = true;
			break;
		case O_LOGIN:
			o.login = true;
			o.login_ids = !strcmp(optarg, "idis-ids");
			if (!o.login_ids && strcmp(optarg, "idis")) {
				fprintf(stderr,
				        "idnode %s: --login %s: expected idis or idis-ids\n",
				        o.cmd->name, optarg);
				goto out;
			}
			break;
		case 'h':
			admin_usage(stdout);
			status = CLI_OK;
			goto out;
		default:
			admin_usage(stderr);
			goto out;
		}
	}
	if (optind + 1 != argc || !o.server || !o.id || !o.key == !o.secret_file) {
		fprintf(stderr,
		        "idnode %s: needs one argument, --server, --id and either --key "
		        "or --secret-file\n",
		        o.cmd->name);
		admin_usage(stderr);
		goto out;
	}
	if (o.login && !o.key) {
		fprintf(stderr, "idnode %s: --login needs --key (2001 proves a public key)\n",
		        o.cmd->name);
		goto out;
	}
	if (o.cmd->indexes && o.nindexes == 0) {
		fprintf(stderr, "idnode %s: give the values to remove with --index N\n",
		        o.cmd->name);
		goto out;
	}
	status = run(&o, argv[optind]);
out:
	idnode_values_free(o.values);
	return status;
}
