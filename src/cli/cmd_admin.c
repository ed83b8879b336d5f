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
 */
#include <getopt.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/verify.h"
#include "cli/cli.h"
#include "client/client.h"
#include "client/admin_auth.h"
#include "client/conn.h"
#include "client/login.h"
#include "client/session.h"
#include "core/codec.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/reserved.h"

enum { MAX_VALUES = 256, DATA_MAX = 16384 };

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
	proto_value values[MAX_VALUES];
	uint32_t nvalues;
	uint32_t indexes[MAX_VALUES];
	uint32_t nindexes;
	uint8_t *bufs[MAX_VALUES]; /* value data we built, owned */
} admin_opts;

static void admin_usage(FILE *f, const char *name)
{
	fprintf(
	    f,
	    "usage: idnode %s ARG --server HOST:PORT --id INDEX:HANDLE (--key FILE | "
	    "--secret-file FILE)\n"
	    "  create|add|modify HANDLE --value INDEX:TYPE:DATA... [--mint] [--overwrite]\n"
	    "  remove HANDLE --index N...     delete HANDLE\n"
	    "  list PREFIX     home PREFIX     unhome PREFIX\n"
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
	    name);
}

static EVP_PKEY *read_pem(const char *path, bool priv)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k =
	    priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!k && !priv) {
		rewind(f);
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	return k;
}

/* "300:0.NA/88.1000" -> index, handle (borrowed from s). */
static int parse_ref(const char *s, uint32_t *index, const char **handle)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end != ':' || !strchr(end + 1, '/') || v > UINT32_MAX)
		return -1;
	*index = (uint32_t)v;
	*handle = end + 1;
	return 0;
}

/* Builds the data of one --value; returns a message on error. */
static const char *value_data(admin_opts *o, proto_value *v, const char *type, const char *data)
{
	uint8_t *buf = malloc(DATA_MAX);
	if (!buf)
		return "out of memory";
	o->bufs[o->nvalues] = buf;
	wire_wr w = wire_wr_init(buf, DATA_MAX);
	if (!strcasecmp(type, "HS_ADMIN")) {
		proto_admin a = {.rights = PROTO_ADM_ALL};
		const char *ref = data, *slash = strchr(data, '/'), *colon = strchr(data, ':');
		if (slash && colon && slash < colon) { /* RIGHTS/INDEX:HANDLE */
			a.rights = (uint16_t)strtoul(data, NULL, 16);
			ref = slash + 1;
		}
		const char *h;
		if (parse_ref(ref, &a.index, &h))
			return "HS_ADMIN data must be INDEX:HANDLE or RIGHTSHEX/INDEX:HANDLE";
		a.handle = idn_slice_of(h, strlen(h));
		proto_admin_put(&w, &a);
	} else if (!strcasecmp(type, "HS_VLIST")) {
		proto_ref refs[64];
		uint32_t n = 0;
		char *copy = strdup(data), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok && n < 64;
		     tok = strtok_r(NULL, ",", &save)) {
			const char *h;
			if (parse_ref(tok, &refs[n].index, &h)) {
				free(copy);
				return "HS_VLIST data must be INDEX:HANDLE,INDEX:HANDLE...";
			}
			refs[n].handle = idn_slice_of(h, strlen(h));
			n++;
		}
		proto_vlist_put(&w, refs, n);
		free(copy); /* refs borrowed copy: the data is already written */
	} else if (!strcasecmp(type, "HS_PUBKEY") &&
	           (data[0] == '@' || !strncmp(data, "pem:@", 5))) {
		/* @FILE: the Handle binary form; pem:@FILE: the PEM text, as the national SDKs
		 * store it. */
		bool pem = data[0] == 'p';
		EVP_PKEY *k = read_pem(data + (pem ? 5 : 1), false);
		if (!k)
			return "HS_PUBKEY data: cannot read a PEM key from the file after '@'";
		int ret = pem ? auth_pubkey_encode_pem(k, &w) : auth_pubkey_encode(k, &w);
		EVP_PKEY_free(k);
		if (ret)
			return "HS_PUBKEY data: key type not supported (RSA, DSA, SM2)";
	} else if (!strncmp(data, "hex:", 4)) {
		size_t n = strlen(data + 4);
		ssize_t k = codec_hex_decode((const uint8_t *)data + 4, n, buf, DATA_MAX, NULL);
		if (k == CODEC_ESPACE)
			return "value data too long";
		if (k < 0)
			return k == CODEC_ELENGTH ? "hex data needs an even number of digits"
			                          : "bad hex digit";
		wire_put_raw(&w, (size_t)k); /* decoded in place */
	} else {
		wire_put_data(&w, data, strlen(data));
	}
	if (w.err)
		return "value data too long";
	v->data = idn_slice_of(buf, wire_wr_len(&w));
	/* An identity key no node could verify with is refused here, saying why. */
	static char why[256];
	EVP_PKEY *k = NULL;
	if (!strcasecmp(type, "HS_PUBKEY") && auth_pubkey_parse(v->data, &k, why, sizeof(why)))
		return why;
	EVP_PKEY_free(k);
	return NULL;
}

static int add_value(admin_opts *o, char *arg)
{
	char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || c1 == arg || c2 == c1 + 1) {
		fprintf(stderr, "idnode %s: --value %s: expected INDEX:TYPE:DATA\n", o->cmd->name,
		        arg);
		return -1;
	}
	if (o->nvalues == MAX_VALUES) {
		fprintf(stderr, "idnode %s: at most %d values\n", o->cmd->name, MAX_VALUES);
		return -1;
	}
	*c1 = *c2 = 0;
	char *end;
	long idx = strtol(arg, &end, 10);
	if (*end || idx <= 0 || idx > INT32_MAX) {
		fprintf(stderr, "idnode %s: --value: index '%s' is not a positive number\n",
		        o->cmd->name, arg);
		return -1;
	}
	proto_value *v = &o->values[o->nvalues];
	*v = (proto_value){.index = (uint32_t)idx, .ttl = 86400, .perms = 0x0e};
	v->type = idn_slice_of(c1 + 1, strlen(c1 + 1));
	if (!strcasecmp(c1 + 1, "HS_SECKEY"))
		v->perms = 0x0c; /* a secret is never publicly readable */
	const char *err = value_data(o, v, c1 + 1, c2 + 1);
	if (err) {
		fprintf(stderr, "idnode %s: --value %ld:%s: %s\n", o->cmd->name, idx, c1 + 1, err);
		return -1;
	}
	o->nvalues++;
	return 0;
}

/* Prints the names of one list message; IDN_EPROTO when it is malformed. */
static int print_names(const proto_msg *m)
{
	idn_slice body, nm;
	proto_list_resp lr;
	if (proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, NULL, NULL, &body))
		body = m->body;
	if (proto_list_resp_decode(body, &lr))
		return IDN_EPROTO;
	wire_rd it = proto_list_names(&lr);
	while (proto_list_next(&it, &nm) == 1)
		printf("%.*s\n", (int)nm.len, (const char *)nm.p);
	return it.err ? IDN_EPROTO : IDN_OK;
}

/*
 * A list answer may continue (CN) in further messages with the same request
 * id: prints them all. Bounded by what the server sends; each read has the
 * connection's timeout.
 */
static int print_list(client_conn *cn, client_session *sess, client_login *lg, const proto_env *env,
                      const proto_msg *first)
{
	int ret = print_names(first);
	bool more = first->hdr.flags & PROTO_F_CN;
	while (!ret && more) {
		uint8_t *a;
		size_t alen;
		proto_msg m;
		ret = lg ? client_login_recv_continued(lg, env->request_id, &a, &alen, &m)
		         : client_recv_continued(cn, sess, env->request_id, &a, &alen, &m);
		if (!ret) {
			ret = print_names(&m);
			more = m.hdr.flags & PROTO_F_CN;
		}
		free(a);
	}
	return ret;
}

enum { LOGIN_REFUSED = 1 }; /* (said already) */

/*
 * Opens what the request goes in (a login, a session, or neither) on cn and
 * sends it; the answer in ans, aenv and m.
 */
static int exchange(const admin_opts *o, client_conn *cn, const client_identity *ident,
                    const uint8_t *req, size_t len, client_session **sess, client_login **lg,
                    uint8_t **ans, size_t *alen, proto_env *aenv, proto_msg *m)
{
	int ret;
	if (o->login) {
		uint32_t rc = 0;
		client_login_opts lo = {.ids_body = o->login_ids};
		ret = client_login_open(cn, ident, &lo, lg, &rc);
		if (ret == IDN_ENOTSUP) {
			fprintf(stderr, "idnode %s: %s: login (2001) refused: %u %s\n",
			        o->cmd->name, o->server, rc, proto_rc_name(rc));
			return LOGIN_REFUSED;
		}
		return ret ? ret : client_login_exchange(*lg, req, len, ans, alen, aenv, m);
	}
	if (!o->no_session) {
		client_session_opts so = {.encrypt = o->encrypt};
		ret = client_session_open(cn, ident, &so, sess, NULL);
		if (ret == IDN_ENOTSUP && !o->encrypt)
			ret = IDN_OK; /* no sessions there: go without, as the reference */
		if (ret)
			return ret;
	}
	return *sess ? client_session_exchange(*sess, req, len, ans, alen, aenv, m)
	             : client_admin_exchange(cn, ident, req, len, ans, alen, aenv, m);
}

static int run(admin_opts *o, const char *arg)
{
	static uint8_t req[PROTO_ENV_LEN + PROTO_MSG_MAX];
	char handle[PROTO_HANDLE_MAX + 8];
	uint8_t *ans = NULL;
	size_t alen;
	client_addr addr;
	char err[256];
	int status = CLI_FAIL;
	EVP_PKEY *key = NULL;
	uint8_t secret[4096];
	size_t slen = 0;
	const char *name = o->cmd->name;
	client_conn *cn = NULL;

	if (client_addr_parse(o->server, 2641, &addr, err, sizeof(err))) {
		fprintf(stderr, "idnode %s: --server %s: %s\n", name, o->server, err);
		return CLI_USAGE;
	}
	uint32_t id_index;
	const char *id_handle;
	if (parse_ref(o->id, &id_index, &id_handle)) {
		fprintf(stderr, "idnode %s: --id %s: expected INDEX:HANDLE\n", name, o->id);
		return CLI_USAGE;
	}
	if (o->key && !(key = read_pem(o->key, true))) {
		fprintf(stderr, "idnode %s: --key %s: not a readable PEM private key\n", name,
		        o->key);
		return CLI_USAGE;
	}
	if (o->secret_file &&
	    client_identity_read_secret(o->secret_file, secret, sizeof(secret), &slen)) {
		fprintf(stderr, "idnode %s: --secret-file %s: cannot read: %m\n", name,
		        o->secret_file);
		return CLI_USAGE;
	}
	snprintf(handle, sizeof(handle), "%s%s",
	         o->cmd->na && strncmp(arg, "0.NA/", 5) ? "0.NA/" : "", arg);
	idn_slice h = idn_slice_of(handle, strlen(handle));

	proto_env env = {.major = 2, .minor = PROTO_MINOR_MAX, .request_id = client_request_id()};
	proto_hdr hdr = {.opcode = o->cmd->opcode,
	                 .flags = PROTO_F_REC | PROTO_F_CA | o->flags,
	                 .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, sizeof(req), &env, &hdr);
	if (o->cmd->values)
		proto_values_req_encode(&b.w, h, o->values, o->nvalues);
	else if (o->cmd->indexes)
		proto_remove_req_encode(&b.w, h, o->indexes, o->nindexes);
	else
		proto_handle_req_encode(&b.w, h);
	int len = proto_build_end(&b, NULL, 0);
	proto_env aenv;
	proto_msg m;
	client_identity ident = {.index = id_index,
	                         .handle = idn_slice_of(id_handle, strlen(id_handle)),
	                         .key = key,
	                         .secret = idn_slice_of(secret, slen)};
	/* The admin request and its op 200 share one connection (and a session or login). */
	client_session *sess = NULL;
	client_login *lg = NULL;
	int ret = len < 0 ? len : client_conn_open(&addr, 10000, &cn);
	if (!ret)
		ret = exchange(o, cn, &ident, req, (size_t)len, &sess, &lg, &ans, &alen, &aenv, &m);
	if (ret == LOGIN_REFUSED)
		goto out;
	if (ret) {
		if (ret == IDN_EPROTO)
			fprintf(stderr, "idnode %s: %s: %s: malformed answer or challenge\n", name,
			        handle, o->server);
		else
			cli_client_error(name, handle, o->server, ret);
		goto out;
	}
	idn_slice body;
	if (proto_answer_split(m.body, m.hdr.flags & PROTO_F_RD, NULL, NULL, &body))
		body = m.body;
	if (m.hdr.rcode != PROTO_RC_SUCCESS) {
		idn_slice msg = {0};
		proto_error_decode(body, &msg);
		fprintf(stderr, "idnode %s: %s: %u %s%s%.*s\n", name, handle, m.hdr.rcode,
		        proto_rc_name(m.hdr.rcode), msg.len ? ": " : "", (int)msg.len,
		        (const char *)msg.p);
		goto out;
	}
	if (o->cmd->opcode == PROTO_OP_LIST_HANDLES) {
		ret = print_list(cn, sess, lg, &aenv, &m);
		if (ret) {
			cli_client_error(name, handle, o->server, ret);
			goto out;
		}
	} else if (o->cmd->opcode == PROTO_OP_CREATE_HANDLE && (o->flags & PROTO_F_MINT)) {
		idn_slice minted;
		if (!proto_create_resp_decode(body, &minted))
			printf("%.*s\n", (int)minted.len, (const char *)minted.p);
	}
	status = CLI_OK;
out:
	client_login_close(lg);
	if (sess && client_session_close(sess, status == CLI_OK) && status == CLI_OK)
		fprintf(stderr, "idnode %s: %s: the session did not end cleanly\n", name,
		        o->server);
	client_conn_close(cn);
	free(ans);
	EVP_PKEY_free(key);
	OPENSSL_cleanse(secret, sizeof(secret));
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
			admin_usage(stdout, o.cmd->name);
			status = CLI_OK;
			goto out;
		default:
			admin_usage(stderr, o.cmd->name);
			goto out;
		}
	}
	if (optind + 1 != argc || !o.server || !o.id || !o.key == !o.secret_file) {
		fprintf(stderr,
		        "idnode %s: needs one argument, --server, --id and either --key "
		        "or --secret-file\n",
		        o.cmd->name);
		admin_usage(stderr, o.cmd->name);
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
	for (uint32_t i = 0; i < MAX_VALUES; i++)
		free(o.bufs[i]);
	return status;
}
