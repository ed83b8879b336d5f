/*
 * cmd_cert.c - `idnode cert`: an issuer signs a subject's public key and
 * permissions into an HS_CERT (../shared/IDIS.md section 3; the root for a
 * secondary node, a secondary for an enterprise), prints the JWS and, with
 * --store, adds it to the subject's handle through an authenticated add.
 * Also the parts the trust commands share (cli.h: cli_trust_*).
 */
#include <getopt.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/jws.h"
#include "auth/trust.h"
#include "cli/cli.h"
#include "core/err.h"

enum { MAX_PERMS = 64, MAX_CHAIN = 50 };

EVP_PKEY *cli_trust_key(const char *path, bool priv, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open", path);
		return NULL;
	}
	EVP_PKEY *k =
	    priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!k && !priv) { /* a private key file gives its public half too */
		rewind(f);
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	if (!k)
		snprintf(err, errlen, "%s: not a PEM %s key", path, priv ? "private" : "public");
	else if (!EVP_PKEY_is_a(k, "RSA") && !EVP_PKEY_is_a(k, "DSA") && !EVP_PKEY_is_a(k, "SM2")) {
		snprintf(err, errlen, "%s: not an RSA, DSA or SM2 key", path);
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

int cli_trust_store(const char *cmd, const char *handle, uint32_t index, const char *type,
                    const char *data, const cli_admin_args *a, bool replace)
{
	char value[JWS_MAX_TEXT + 64];
	snprintf(value, sizeof value, "%u:%s:%s", index, type, data);
	char *argv[16];
	int n = 0;
	argv[n++] = replace ? "modify" : "add";
	argv[n++] = (char *)handle;
	argv[n++] = "--server";
	argv[n++] = (char *)a->server;
	argv[n++] = "--id";
	argv[n++] = (char *)a->id;
	argv[n++] = a->key ? "--key" : "--secret-file";
	argv[n++] = (char *)(a->key ? a->key : a->secret_file);
	argv[n++] = "--value";
	argv[n++] = value;
	if (a->no_session)
		argv[n++] = "--no-session";
	argv[n] = NULL;
	int rc = cmd_admin(n, argv);
	if (rc)
		fprintf(stderr, "idnode %s: storing the %s at %u:%s failed\n", cmd, type, index,
		        handle);
	return rc;
}

int cli_trust_admin_opt(int opt, const char *arg, cli_admin_args *a)
{
	switch (opt) {
	case 'S':
		a->server = arg;
		return 1;
	case 'I':
		a->id = arg;
		return 1;
	case 'A':
		a->key = arg;
		return 1;
	case 'F':
		a->secret_file = arg;
		return 1;
	case 'N':
		a->no_session = true;
		return 1;
	}
	return 0;
}

int64_t cli_trust_number(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < min || v > max) {
		fprintf(stderr, "idnode %s: %s '%s': a number from %lld to %lld\n", cmd, opt, s,
		        (long long)min, (long long)max);
		return INT64_MIN;
	}
	return v;
}

static void cert_usage(FILE *f)
{
	fprintf(
	    f, "usage: idnode cert --issuer-key FILE --issuer INDEX:HANDLE --subject INDEX:HANDLE\n"
	       "                   (--subject-pubkey FILE | --subject-key FILE) --perm "
	       "HANDLE:PERM...\n"
	       "                   [--days N] [--not-before UNIXTIME] [--chain LINK]...\n"
	       "                   [--sm2-alg SM2256|SM2SM3] [--sm2-jwk d|xy]\n"
	       "                   [--store --server HOST:PORT --id INDEX:HANDLE\n"
	       "                    (--key FILE | --secret-file FILE) [--index N] [--replace]]\n"
	       "  --issuer-key FILE     the issuer's PEM private key (RSA, DSA or SM2): it signs\n"
	       "  --issuer INDEX:HANDLE who signs (the root: 300:88.111.1/0.0)\n"
	       "  --subject INDEX:HANDLE whose key is certified, e.g. 300:0.NA/88.100\n"
	       "  --subject-pubkey FILE the subject's PEM public key (or --subject-key: a private\n"
	       "                        key file, its public half)\n"
	       "  --perm HANDLE:PERM    granted rights: PERM is everything, derivedPrefixes,\n"
	       "                        handlesUnderThisPrefix or thisHandle; repeatable\n"
	       "  --days N              valid for N days from --not-before (default now), 365\n"
	       "  --chain LINK          the certificates above the issuer, nearest first\n"
	       "  --sm2-alg NAME        SM2256 (id-pointer-sdk, default) or SM2SM3 (ID-SDK)\n"
	       "  --sm2-jwk d|xy        an SM2 publicKey as {d: SPKI} (default) or {x, y}\n"
	       "  --store               add the HS_CERT to the subject's handle at --index\n"
	       "                        (400), through an authenticated add (modify with\n"
	       "                        --replace); --server/--id/--key as `idnode add`\n"
	       "prints the HS_CERT (JWS compact serialization). exit status: 0 ok, 1 storing\n"
	       "failed, 2 usage\n");
}

typedef struct cert_opts {
	const char *issuer_key, *issuer, *subject, *subject_pub, *subject_priv;
	trust_perm perms[MAX_PERMS];
	size_t nperms;
	const char *chain[MAX_CHAIN];
	size_t nchain;
	int64_t days, not_before;
	jws_alg sm2_alg;
	int sm2_xy;
	bool store, replace;
	uint32_t index;
	cli_admin_args admin;
} cert_opts;

/* "0.NA/88.100:derivedPrefixes" -> a perm (the handle borrowed and cut at the last ':'). */
static int parse_perm(char *s, trust_perm *p)
{
	char *colon = strrchr(s, ':');
	if (!colon || colon == s || !(p->kind = trust_perm_of(colon + 1)))
		return -1;
	*colon = 0;
	p->handle = s;
	return 0;
}

static int cert_opt(cert_opts *o, int opt, char *arg)
{
	int64_t v;
	switch (opt) {
	case 'k':
		o->issuer_key = arg;
		break;
	case 'i':
		o->issuer = arg;
		break;
	case 's':
		o->subject = arg;
		break;
	case 'p':
		o->subject_pub = arg;
		break;
	case 'q':
		o->subject_priv = arg;
		break;
	case 'P':
		if (o->nperms == MAX_PERMS || parse_perm(arg, &o->perms[o->nperms])) {
			fprintf(stderr,
			        "idnode cert: --perm '%s': HANDLE:PERM with PERM everything, "
			        "derivedPrefixes, handlesUnderThisPrefix or thisHandle\n",
			        arg);
			return -1;
		}
		o->nperms++;
		break;
	case 'c':
		if (o->nchain == MAX_CHAIN) {
			fprintf(stderr, "idnode cert: at most %d --chain\n", MAX_CHAIN);
			return -1;
		}
		o->chain[o->nchain++] = arg;
		break;
	case 'd':
		if ((o->days = cli_trust_number("cert", "--days", arg, 1, 36500)) == INT64_MIN)
			return -1;
		break;
	case 'b':
		if ((o->not_before = cli_trust_number("cert", "--not-before", arg, 0, INT32_MAX)) ==
		    INT64_MIN)
			return -1;
		break;
	case 'a':
		o->sm2_alg = jws_alg_of(arg);
		if (o->sm2_alg != JWS_SM2256 && o->sm2_alg != JWS_SM2SM3) {
			fprintf(stderr, "idnode cert: --sm2-alg '%s': SM2256 or SM2SM3\n", arg);
			return -1;
		}
		break;
	case 'j':
		if (strcmp(arg, "d") && strcmp(arg, "xy")) {
			fprintf(stderr, "idnode cert: --sm2-jwk '%s': d or xy\n", arg);
			return -1;
		}
		o->sm2_xy = !strcmp(arg, "xy");
		break;
	case 'x':
		o->store = true;
		break;
	case 'r':
		o->replace = true;
		break;
	case 'n':
		if ((v = cli_trust_number("cert", "--index", arg, 1, UINT32_MAX)) == INT64_MIN)
			return -1;
		o->index = (uint32_t)v;
		break;
	default:
		if (!cli_trust_admin_opt(opt, arg, &o->admin))
			return -1;
	}
	return 0;
}

/* Checks the options; NULL or the first problem. */
static const char *cert_check(const cert_opts *o)
{
	uint32_t ix;
	if (!o->issuer_key || !o->issuer || !o->subject)
		return "--issuer-key, --issuer and --subject are required";
	if (!o->subject_pub == !o->subject_priv)
		return "give one of --subject-pubkey and --subject-key";
	if (!o->nperms)
		return "give at least one --perm";
	if (!strchr(trust_link_handle(o->issuer, &ix), '/') || !ix)
		return "--issuer must be INDEX:HANDLE";
	if (!strchr(trust_link_handle(o->subject, &ix), '/') || !ix)
		return "--subject must be INDEX:HANDLE";
	if (o->store &&
	    (!o->admin.server || !o->admin.id || !o->admin.key == !o->admin.secret_file))
		return "--store needs --server, --id and one of --key / --secret-file";
	return NULL;
}

static int cert_run(cert_opts *o)
{
	char err[300];
	EVP_PKEY *ik = cli_trust_key(o->issuer_key, true, err, sizeof err);
	EVP_PKEY *sk = ik ? cli_trust_key(o->subject_pub ? o->subject_pub : o->subject_priv,
	                                  o->subject_pub == NULL, err, sizeof err)
	                  : NULL;
	if (!ik || !sk) {
		fprintf(stderr, "idnode cert: %s\n", err);
		EVP_PKEY_free(ik);
		return CLI_USAGE;
	}
	int64_t nbf = o->not_before >= 0 ? o->not_before : (int64_t)time(NULL);
	trust_issue is = {.iss = o->issuer,
	                  .sub = o->subject,
	                  .iat = (int64_t)time(NULL),
	                  .nbf = nbf,
	                  .exp = nbf + o->days * 86400,
	                  .chain = o->chain,
	                  .nchain = o->nchain,
	                  .perms = o->perms,
	                  .nperms = o->nperms,
	                  .pubkey = sk,
	                  .sm2_xy = o->sm2_xy};
	char *payload = trust_cert_payload(&is);
	char *out = NULL;
	int rc = payload ? jws_sign(payload, strlen(payload), ik, o->sm2_alg, &out, err, sizeof err)
	                 : IDN_ENOMEM;
	free(payload);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(sk);
	if (rc) {
		fprintf(stderr, "idnode cert: %s\n", rc == IDN_ENOMEM ? "out of memory" : err);
		return CLI_FAIL;
	}
	printf("%s\n", out);
	fflush(stdout);
	uint32_t ix;
	if (o->store)
		rc = cli_trust_store("cert", trust_link_handle(o->subject, &ix), o->index,
		                     "HS_CERT", out, &o->admin, o->replace);
	free(out);
	return rc ? CLI_FAIL : CLI_OK;
}

int cmd_cert(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"issuer-key", required_argument, NULL, 'k'},
	    {"issuer", required_argument, NULL, 'i'},
	    {"subject", required_argument, NULL, 's'},
	    {"subject-pubkey", required_argument, NULL, 'p'},
	    {"subject-key", required_argument, NULL, 'q'},
	    {"perm", required_argument, NULL, 'P'},
	    {"chain", required_argument, NULL, 'c'},
	    {"days", required_argument, NULL, 'd'},
	    {"not-before", required_argument, NULL, 'b'},
	    {"sm2-alg", required_argument, NULL, 'a'},
	    {"sm2-jwk", required_argument, NULL, 'j'},
	    {"store", no_argument, NULL, 'x'},
	    {"replace", no_argument, NULL, 'r'},
	    {"index", required_argument, NULL, 'n'},
	    {"server", required_argument, NULL, 'S'},
	    {"id", required_argument, NULL, 'I'},
	    {"key", required_argument, NULL, 'A'},
	    {"secret-file", required_argument, NULL, 'F'},
	    {"no-session", no_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	cert_opts o = {.days = 365, .not_before = -1, .sm2_alg = JWS_SM2256, .index = 400};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			cert_usage(stdout);
			return CLI_OK;
		}
		if (opt == '?' || cert_opt(&o, opt, optarg)) {
			cert_usage(stderr);
			return CLI_USAGE;
		}
	}
	const char *why = optind != argc ? "unexpected argument" : cert_check(&o);
	if (why) {
		fprintf(stderr, "idnode cert: %s\n", why);
		cert_usage(stderr);
		return CLI_USAGE;
	}
	return cert_run(&o);
}
