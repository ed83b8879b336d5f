/*
 * cmd_account.c - the management accounts of a secondary node, on its store
 * directly (docs/secondary-node.md):
 *
 *   idnode account add NAME --data LOC --role operator|enterprise --id INDEX:HANDLE
 *                           [--prefix P]... [password options]
 *   idnode account passwd NAME --data LOC [password options]
 *   idnode account list --data LOC
 *   idnode account disable|enable NAME --data LOC
 *   idnode account apply --data LOC --company C --account NAME (--prefix P | --under PARENT)
 *                        [--contact X] [--pubkey FILE] [password options]
 *   idnode account applications --data LOC [--all]
 *   idnode account approve|reject ID --data LOC [--reason TEXT]
 *   idnode audit --data LOC [--from T] [--to T] [--account NAME] [--limit N] [--cursor C]
 *
 * Password options: a prompt without echo on the terminal (the default),
 * --password-stdin (the first line of standard input) or --password-file
 * FILE (its first line); never on the command line. --no-v1: keep no v1
 * login secret. --kdf-mib N, --kdf-passes N: Argon2id's memory and passes.
 * Every change is written to the audit log as "cli:$USER", in the same
 * transaction.
 */
#include <getopt.h>
#include <stddef.h>
#include <pwd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth/verify.h"
#include "cli/cli.h"
#include "core/codec.h"
#include "node/account.h"

typedef struct acct_opts {
	const char *cmd, *data, *role, *id, *pw_file, *company, *contact, *prefix, *under, *pubkey,
	    *reason, *account, *cursor;
	const char *prefixes[ACCOUNT_PREFIXES_MAX];
	unsigned nprefixes;
	bool pw_stdin, no_v1, all, case_insensitive;
	account_kdf kdf;
	int64_t from_ms, to_ms;
	long limit;
} acct_opts;

static const char usage_text[] =
    "usage: idnode account add NAME --data LOC --role operator|enterprise --id INDEX:HANDLE\n"
    "                          [--prefix P]... [--password-stdin | --password-file FILE]\n"
    "                          [--no-v1] [--kdf-mib N] [--kdf-passes N]\n"
    "       idnode account passwd NAME --data LOC [password options]\n"
    "       idnode account list --data LOC\n"
    "       idnode account disable|enable NAME --data LOC\n"
    "       idnode account apply --data LOC --company C --account NAME\n"
    "                            (--prefix P | --under PARENT) [--contact X] [--pubkey FILE]\n"
    "                            [password options]\n"
    "       idnode account applications --data LOC [--all]\n"
    "       idnode account approve ID --data LOC [--case-insensitive (as the node serves)]\n"
    "       idnode account reject ID --data LOC [--reason TEXT]\n"
    "       idnode audit --data LOC [--from T] [--to T] [--account NAME] [--limit N]\n"
    "                    [--cursor C]   (T: unix ms, or YYYY-MM-DD[THH:MM:SS] UTC)\n"
    "  without --password-stdin or --password-file the password is asked on the terminal\n";

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one line (without its newline) from f into buf; its length, or -1. */
static int read_line(FILE *f, char *buf, size_t cap)
{
	if (!fgets(buf, (int)cap, f))
		return -1;
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (n && buf[n - 1] == '\r')
		buf[--n] = 0;
	return (int)n;
}

/* The password as the options say, into buf: its length, or -1 after a message. */
static int get_password(const acct_opts *o, bool confirm, char *buf, size_t cap)
{
	int n;
	if (o->pw_stdin || o->pw_file) {
		FILE *f = o->pw_stdin ? stdin : fopen(o->pw_file, "r");
		if (!f) {
			fprintf(stderr, "idnode %s: %s: cannot open the password file\n", o->cmd,
			        o->pw_file);
			return -1;
		}
		n = read_line(f, buf, cap);
		if (f != stdin)
			fclose(f);
	} else {
		FILE *tty = fopen("/dev/tty", "r+");
		if (!tty) {
			fprintf(stderr,
			        "idnode %s: no terminal to ask the password on: use "
			        "--password-stdin or --password-file FILE\n",
			        o->cmd);
			return -1;
		}
		struct termios old, quiet;
		tcgetattr(fileno(tty), &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
		fputs("password: ", tty);
		fflush(tty);
		n = read_line(tty, buf, cap);
		if (n >= 0 && confirm) {
			char again[ACCOUNT_PASSWORD_MAX + 2];
			fputs("\nagain: ", tty);
			fflush(tty);
			if (read_line(tty, again, sizeof(again)) != n || strcmp(again, buf))
				n = -2;
			OPENSSL_cleanse(again, sizeof(again));
		}
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputs("\n", tty);
		fclose(tty);
		if (n == -2) {
			fprintf(stderr, "idnode %s: the passwords differ\n", o->cmd);
			return -1;
		}
	}
	if (n <= 0 || n > ACCOUNT_PASSWORD_MAX) {
		fprintf(stderr, "idnode %s: the password must be 1 to %d bytes (got %s)\n", o->cmd,
		        ACCOUNT_PASSWORD_MAX,
		        n == 0  ? "an empty one"
		        : n < 0 ? "none"
		                : "more");
		return -1;
	}
	return n;
}

/* A time: unix milliseconds, or YYYY-MM-DD[THH:MM[:SS]] in UTC. INT64_MIN if neither. */
static int64_t parse_time(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*s && !*end && strlen(s) > 10)
		return v;
	struct tm tm = {0};
	const char *r = strptime(s, "%Y-%m-%d", &tm);
	if (r && *r == 'T')
		r = strptime(r + 1, "%H:%M", &tm);
	if (r && *r == ':')
		r = strptime(r + 1, "%S", &tm);
	if (!r || *r)
		return INT64_MIN;
	return (int64_t)timegm(&tm) * 1000;
}

/* What an option does with its argument (the rows of opts below). */
enum opt_kind {
	K_TEXT,     /* the argument, kept (const char * at off) */
	K_FLAG,     /* true (bool at off) */
	K_PREFIX,   /* one more of prefixes[] (and prefix: the last) */
	K_LIMIT,    /* a number from min to max (long at off) */
	K_TIME,     /* unix ms or a UTC date (int64_t at off) */
	K_KDFMIB,   /* the password hash's memory, MiB from min to max */
	K_KDFPASSES /* the password hash's passes, from min to max */
};

/* Every option of `idnode account` and `idnode audit`: one row each. */
static const struct acct_opt {
	const char *name;
	enum opt_kind kind;
	size_t off;
	long min, max;
} opts[] = {
    {"data", K_TEXT, offsetof(acct_opts, data), 0, 0},
    {"store", K_TEXT, offsetof(acct_opts, data), 0, 0},
    {"role", K_TEXT, offsetof(acct_opts, role), 0, 0},
    {"id", K_TEXT, offsetof(acct_opts, id), 0, 0},
    {"prefix", K_PREFIX, 0, 0, 0},
    {"password-stdin", K_FLAG, offsetof(acct_opts, pw_stdin), 0, 0},
    {"password-file", K_TEXT, offsetof(acct_opts, pw_file), 0, 0},
    {"no-v1", K_FLAG, offsetof(acct_opts, no_v1), 0, 0},
    {"kdf-mib", K_KDFMIB, 0, 1, 4096},
    {"kdf-passes", K_KDFPASSES, 0, 1, 100},
    {"company", K_TEXT, offsetof(acct_opts, company), 0, 0},
    {"contact", K_TEXT, offsetof(acct_opts, contact), 0, 0},
    {"under", K_TEXT, offsetof(acct_opts, under), 0, 0},
    {"pubkey", K_TEXT, offsetof(acct_opts, pubkey), 0, 0},
    {"reason", K_TEXT, offsetof(acct_opts, reason), 0, 0},
    {"all", K_FLAG, offsetof(acct_opts, all), 0, 0},
    {"from", K_TIME, offsetof(acct_opts, from_ms), 0, 0},
    {"to", K_TIME, offsetof(acct_opts, to_ms), 0, 0},
    {"account", K_TEXT, offsetof(acct_opts, account), 0, 0},
    {"limit", K_LIMIT, offsetof(acct_opts, limit), 1, 1000},
    {"cursor", K_TEXT, offsetof(acct_opts, cursor), 0, 0},
    {"case-insensitive", K_FLAG, offsetof(acct_opts, case_insensitive), 0, 0},
};
enum { NOPTS = sizeof(opts) / sizeof(opts[0]), O_FIRST = 256 };

/* One option (row r of opts) into o: 0, or -1 after a message naming it. */
static int take_opt(acct_opts *o, const struct acct_opt *r, const char *arg)
{
	char *field = (char *)o + r->off, flag[32];
	snprintf(flag, sizeof(flag), "--%s", r->name);
	int64_t v = 0;
	if (r->kind == K_LIMIT || r->kind == K_KDFMIB || r->kind == K_KDFPASSES) {
		v = cli_trust_number(o->cmd, flag, arg, r->min, r->max);
		if (v == INT64_MIN)
			return -1;
	}
	switch (r->kind) {
	case K_TEXT:
		*(const char **)field = arg;
		return 0;
	case K_FLAG:
		*(bool *)field = true;
		return 0;
	case K_PREFIX:
		if (o->nprefixes == ACCOUNT_PREFIXES_MAX) {
			fprintf(stderr, "idnode %s: at most %d --prefix\n", o->cmd,
			        ACCOUNT_PREFIXES_MAX);
			return -1;
		}
		o->prefix = o->prefixes[o->nprefixes++] = arg;
		return 0;
	case K_LIMIT:
		*(long *)field = (long)v;
		return 0;
	case K_TIME:
		if ((*(int64_t *)field = parse_time(arg)) != INT64_MIN)
			return 0;
		fprintf(stderr,
		        "idnode %s: %s: expected unix milliseconds or YYYY-MM-DD[THH:MM:SS], not "
		        "'%s'\n",
		        o->cmd, flag, arg);
		return -1;
	case K_KDFMIB:
		o->kdf.m_cost = (uint32_t)v * 1024;
		return 0;
	case K_KDFPASSES:
		o->kdf.t_cost = (uint32_t)v;
		return 0;
	}
	return -1;
}

/* Parses the options; the positional arguments left in argv[*first .. argc). */
static int parse(acct_opts *o, int argc, char **argv, int *first)
{
	o->kdf = account_kdf_default;
	o->limit = 100;
	struct option longopts[NOPTS + 2];
	for (size_t i = 0; i < NOPTS; i++) {
		bool arg = opts[i].kind != K_FLAG;
		longopts[i] = (struct option){opts[i].name, arg ? required_argument : no_argument,
		                              NULL, O_FIRST + (int)i};
	}
	longopts[NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[NOPTS + 1] = (struct option){0, 0, 0, 0};
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return CLI_OK + 100;
		}
		if (c < O_FIRST || c >= O_FIRST + NOPTS) {
			fputs(usage_text, stderr);
			return CLI_USAGE;
		}
		if (take_opt(o, &opts[c - O_FIRST], optarg))
			return CLI_USAGE;
	}
	if (!o->data) {
		fprintf(stderr, "idnode %s: --data LOC (the node's store) is required\n%s", o->cmd,
		        usage_text);
		return CLI_USAGE;
	}
	*first = optind;
	return CLI_OK;
}

/* "cli:USER" of who runs the command. */
static void cli_who(char *out, size_t cap)
{
	const char *user = getenv("USER");
	struct passwd *pw = user && *user ? NULL : getpwuid(getuid());
	snprintf(out, cap, "cli:%s", user && *user ? user : pw ? pw->pw_name : "?");
}

/* The audit entry of a command's change, in t. */
static int audit_cli(store_txn *t, const char *op, const char *target, int result, const char *msg)
{
	audit_entry e = {.result = result};
	cli_who(e.who, sizeof(e.who));
	snprintf(e.op, sizeof(e.op), "%s", op);
	snprintf(e.target, sizeof(e.target), "%s", target);
	snprintf(e.message, sizeof(e.message), "%s", msg ? msg : "");
	return audit_append(t, &e, now_ms(), 0);
}

/* Opens the store and begins a transaction (write unless ro). A CLI status. */
static int begin(const acct_opts *o, bool ro, store **s, store_txn **t)
{
	store_opts so = {.must_exist = ro};
	int rc = store_open(o->data, &so, s);
	if (rc) {
		fprintf(stderr, "idnode %s: %s: cannot open the store: %s\n", o->cmd, o->data,
		        idn_strerror(rc));
		return CLI_USAGE;
	}
	rc = store_txn_begin(*s, ro ? STORE_RDONLY : 0, t);
	if (rc) {
		fprintf(stderr, "idnode %s: %s: %s\n", o->cmd, o->data, idn_strerror(rc));
		store_close(*s);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Commits (ret 0) or aborts, closes; a CLI status, with what failed said. */
static int finish(const acct_opts *o, store *s, store_txn *t, int ret, const char *what)
{
	if (!ret)
		ret = store_txn_commit(t);
	else
		store_txn_abort(t);
	store_close(s);
	if (ret)
		fprintf(stderr, "idnode %s: %s: %s\n", o->cmd, what, idn_strerror(ret));
	return ret ? CLI_FAIL : CLI_OK;
}

static int do_add(acct_opts *o, const char *name)
{
	char why[160];
	account a = {.role = 0};
	if (account_name_check(name, why, sizeof(why))) {
		fprintf(stderr, "idnode %s: %s\n", o->cmd, why);
		return CLI_USAGE;
	}
	snprintf(a.name, sizeof(a.name), "%s", name);
	if (!o->role || (strcmp(o->role, "operator") && strcmp(o->role, "enterprise"))) {
		fprintf(stderr, "idnode %s: --role operator or --role enterprise is required\n",
		        o->cmd);
		return CLI_USAGE;
	}
	a.role = strcmp(o->role, "operator") ? ACCOUNT_ENTERPRISE : ACCOUNT_OPERATOR;
	if (!o->id ||
	    account_identity_parse(o->id, a.id_handle, sizeof(a.id_handle), &a.id_index)) {
		fprintf(stderr,
		        "idnode %s: --id: expected INDEX:HANDLE (e.g. 300:0.NA/88.100), not '%s'\n",
		        o->cmd, o->id ? o->id : "(none)");
		return CLI_USAGE;
	}
	if (a.role == ACCOUNT_ENTERPRISE && !o->nprefixes) {
		fprintf(stderr, "idnode %s: an enterprise account needs its --prefix\n", o->cmd);
		return CLI_USAGE;
	}
	for (unsigned i = 0; i < o->nprefixes; i++) {
		if (!*o->prefixes[i] || strlen(o->prefixes[i]) > ACCOUNT_PREFIX_MAX ||
		    strchr(o->prefixes[i], '/')) {
			fprintf(stderr, "idnode %s: --prefix '%s': not a prefix\n", o->cmd,
			        o->prefixes[i]);
			return CLI_USAGE;
		}
		snprintf(a.prefixes[a.nprefixes++], ACCOUNT_PREFIX_MAX + 1, "%s", o->prefixes[i]);
	}
	char pw[ACCOUNT_PASSWORD_MAX + 2];
	int pl = get_password(o, true, pw, sizeof(pw));
	if (pl < 0)
		return CLI_USAGE;
	store *s;
	store_txn *t;
	int rc = begin(o, false, &s, &t);
	if (rc) {
		OPENSSL_cleanse(pw, sizeof(pw));
		return rc;
	}
	int ret = account_add(t, &a, pw, (size_t)pl, !o->no_v1, &o->kdf, now_ms());
	OPENSSL_cleanse(pw, sizeof(pw));
	if (ret == IDN_EEXIST) {
		store_txn_abort(t);
		store_close(s);
		fprintf(stderr, "idnode %s: account %s exists already (idnode account passwd %s)\n",
		        o->cmd, name, name);
		return CLI_FAIL;
	}
	if (!ret)
		ret = audit_cli(t, "account.add", name, 1, o->role);
	rc = finish(o, s, t, ret, name);
	if (!rc)
		printf("account %s (%s, acts as %u:%s) added\n", name, o->role, a.id_index,
		       a.id_handle);
	return rc;
}

static int do_passwd(acct_opts *o, const char *name)
{
	char pw[ACCOUNT_PASSWORD_MAX + 2];
	int pl = get_password(o, true, pw, sizeof(pw));
	if (pl < 0)
		return CLI_USAGE;
	store *s;
	store_txn *t;
	int rc = begin(o, false, &s, &t);
	if (rc) {
		OPENSSL_cleanse(pw, sizeof(pw));
		return rc;
	}
	int ret = account_passwd(t, name, pw, (size_t)pl, !o->no_v1, &o->kdf);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (!ret)
		ret = audit_cli(t, "account.passwd", name, 1, "tokens revoked");
	if (ret == IDN_ENOTFOUND) {
		finish(o, s, t, ret, name);
		return CLI_FAIL;
	}
	rc = finish(o, s, t, ret, name);
	if (!rc)
		printf("password of %s changed; its tokens are void\n", name);
	return rc;
}

static int do_disable(acct_opts *o, const char *name, bool disable)
{
	store *s;
	store_txn *t;
	int rc = begin(o, false, &s, &t);
	if (rc)
		return rc;
	int ret = account_set_disabled(t, name, disable);
	if (!ret)
		ret = audit_cli(t, disable ? "account.disable" : "account.enable", name, 1, "");
	rc = finish(o, s, t, ret, name);
	if (!rc)
		printf("account %s %s\n", name,
		       disable ? "disabled; its tokens are void" : "enabled");
	return rc;
}

static int print_account(void *arg, const account *a)
{
	(void)arg;
	printf("%s\t%s\t%u:%s\t", a->name, a->role == ACCOUNT_OPERATOR ? "operator" : "enterprise",
	       a->id_index, a->id_handle);
	for (unsigned i = 0; i < a->nprefixes; i++)
		printf("%s%s", i ? "," : "", a->prefixes[i]);
	printf("%s\t%s%s\n", a->nprefixes ? "" : "-", a->disabled ? "disabled" : "active",
	       a->v1 ? "" : ",no-v1");
	return 0;
}

static int do_list(acct_opts *o)
{
	store *s;
	store_txn *t;
	int rc = begin(o, true, &s, &t);
	if (rc)
		return rc;
	printf("NAME\tROLE\tIDENTITY\tPREFIXES\tSTATE\n");
	return finish(o, s, t, account_each(t, print_account, NULL), "list");
}

/* The HS_PUBKEY data of a PEM key file, hex, into out. */
static int pubkey_hex(acct_opts *o, char *out, size_t cap)
{
	char err[256];
	EVP_PKEY *pk = cli_trust_key(o->pubkey, false, err, sizeof(err));
	if (!pk) {
		fprintf(stderr, "idnode %s: --pubkey: %s\n", o->cmd, err);
		return -1;
	}
	uint8_t buf[1024];
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	int ret = auth_pubkey_encode(pk, &w);
	EVP_PKEY_free(pk);
	if (ret || w.err || 2 * wire_wr_len(&w) + 1 > cap) {
		fprintf(stderr, "idnode %s: --pubkey %s: cannot encode the key\n", o->cmd,
		        o->pubkey);
		return -1;
	}
	codec_hex_encode(buf, wire_wr_len(&w), out);
	return 0;
}

static int do_apply(acct_opts *o)
{
	application app = {0};
	if (!o->company || !o->account || !!o->prefix == !!o->under) {
		fprintf(stderr,
		        "idnode %s: --company, --account and one of --prefix P or --under "
		        "PARENT are required\n",
		        o->cmd);
		return CLI_USAGE;
	}
	snprintf(app.company, sizeof(app.company), "%s", o->company);
	snprintf(app.contact, sizeof(app.contact), "%s", o->contact ? o->contact : "");
	snprintf(app.account, sizeof(app.account), "%s", o->account);
	snprintf(app.prefix, sizeof(app.prefix), "%s", o->prefix ? o->prefix : "");
	snprintf(app.parent, sizeof(app.parent), "%s", o->under ? o->under : "");
	if (o->pubkey && pubkey_hex(o, app.pubkey_hex, sizeof(app.pubkey_hex)))
		return CLI_USAGE;
	char pw[ACCOUNT_PASSWORD_MAX + 2];
	int pl = 0;
	if (!o->pubkey || o->pw_stdin || o->pw_file)
		pl = get_password(o, true, pw, sizeof(pw));
	if (pl < 0)
		return CLI_USAGE;
	store *s;
	store_txn *t;
	int rc = begin(o, false, &s, &t);
	int ret = rc ? 0 : account_apply(t, &app, pw, (size_t)pl, &o->kdf, now_ms());
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc)
		return rc;
	char target[64];
	snprintf(target, sizeof(target), "application %llu", (unsigned long long)app.id);
	if (!ret)
		ret = audit_cli(t, "application.apply", target, 1, app.account);
	if (ret == IDN_EINVAL || ret == IDN_EEXIST) {
		store_txn_abort(t);
		store_close(s);
		fprintf(stderr, "idnode %s: %s\n", o->cmd,
		        ret == IDN_EEXIST
		            ? "that account name is taken or applied for"
		            : "--account, --prefix/--under or --company is malformed");
		return CLI_FAIL;
	}
	rc = finish(o, s, t, ret, "apply");
	if (!rc)
		printf("application %llu: %s asks for %s%s\n", (unsigned long long)app.id,
		       app.company, app.prefix[0] ? app.prefix : "the next prefix under ",
		       app.prefix[0] ? "" : app.parent);
	return rc;
}

static int print_app(void *arg, const application *a)
{
	(void)arg;
	static const char *st[] = {"pending", "approved", "rejected"};
	printf("%llu\t%s\t%s\t%s%s\t%s\t%s\t%s\n", (unsigned long long)a->id, st[a->state],
	       a->company, a->prefix[0] ? a->prefix : "next under ", a->prefix[0] ? "" : a->parent,
	       a->account, a->contact[0] ? a->contact : "-", a->reason[0] ? a->reason : "");
	return 0;
}

static int do_applications(acct_opts *o)
{
	store *s;
	store_txn *t;
	int rc = begin(o, true, &s, &t);
	if (rc)
		return rc;
	printf("ID\tSTATE\tCOMPANY\tPREFIX\tACCOUNT\tCONTACT\tREASON\n");
	return finish(o, s, t,
	              account_applications(t, o->all ? -1 : APP_PENDING, 0, print_app, NULL),
	              "applications");
}

static int do_decide(acct_opts *o, const char *idtext, bool approve)
{
	int64_t v = cli_trust_number(o->cmd, "ID", idtext, 1, 0x7fffffff);
	if (v == INT64_MIN)
		return CLI_USAGE;
	long id = (long)v;
	store *s;
	store_txn *t;
	int rc = begin(o, false, &s, &t);
	if (rc)
		return rc;
	char prefix[ACCOUNT_PREFIX_MAX + 16] = "", why[256] = "", by[80];
	cli_who(by, sizeof(by));
	int ret = approve
	              ? account_approve(t, (uint64_t)id, by, now_ms(), !o->case_insensitive, prefix,
	                                sizeof(prefix), why, sizeof(why))
	              : account_reject(t, (uint64_t)id, by, o->reason ? o->reason : "", now_ms());
	if (ret && !why[0])
		snprintf(why, sizeof(why), "%s",
		         ret == IDN_ENOTFOUND ? "no such application"
		         : ret == IDN_EINVAL  ? "not pending"
		                              : idn_strerror(ret));
	if (ret) {
		store_txn_abort(t);
		store_close(s);
		fprintf(stderr, "idnode %s: application %ld: %s\n", o->cmd, id, why);
		return CLI_FAIL;
	}
	char target[64];
	snprintf(target, sizeof(target), "application %ld", id);
	ret = audit_cli(t, approve ? "application.approve" : "application.reject", target, 1,
	                approve ? prefix : (o->reason ? o->reason : ""));
	rc = finish(o, s, t, ret, target);
	if (!rc && approve)
		printf(
		    "application %ld approved: prefix %s, 0.NA/%s created and homed, its account "
		    "made\n",
		    id, prefix, prefix);
	else if (!rc)
		printf("application %ld rejected\n", id);
	return rc;
}

int cmd_account(int argc, char **argv)
{
	acct_opts o = {.cmd = "account"};
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	int first, rc = parse(&o, argc - 1, argv + 1, &first);
	if (rc)
		return rc == CLI_OK + 100 ? CLI_OK : rc;
	int npos = argc - 1 - first;
	const char *arg = npos ? argv[1 + first] : NULL;
	bool wants_arg = !strcmp(sub, "add") || !strcmp(sub, "passwd") || !strcmp(sub, "disable") ||
	                 !strcmp(sub, "enable") || !strcmp(sub, "approve") ||
	                 !strcmp(sub, "reject");
	if (npos != (wants_arg ? 1 : 0)) {
		fprintf(stderr, "idnode account %s: %s\n%s", sub,
		        wants_arg ? "expected one NAME or ID" : "unexpected argument", usage_text);
		return CLI_USAGE;
	}
	if (!strcmp(sub, "add"))
		return do_add(&o, arg);
	if (!strcmp(sub, "passwd"))
		return do_passwd(&o, arg);
	if (!strcmp(sub, "disable") || !strcmp(sub, "enable"))
		return do_disable(&o, arg, !strcmp(sub, "disable"));
	if (!strcmp(sub, "list"))
		return do_list(&o);
	if (!strcmp(sub, "apply"))
		return do_apply(&o);
	if (!strcmp(sub, "applications"))
		return do_applications(&o);
	if (!strcmp(sub, "approve") || !strcmp(sub, "reject"))
		return do_decide(&o, arg, !strcmp(sub, "approve"));
	fprintf(stderr, "idnode account: unknown subcommand '%s'\n%s", sub, usage_text);
	return CLI_USAGE;
}

static int print_audit(void *arg, const audit_entry *e)
{
	(void)arg;
	time_t s = (time_t)(e->time_ms / 1000);
	struct tm tm;
	char when[32];
	gmtime_r(&s, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s.%03dZ\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", when, (int)(e->time_ms % 1000), e->who,
	       e->identity[0] ? e->identity : "-", e->op, e->target, e->result,
	       e->from[0] ? e->from : "-", e->message);
	return 0;
}

int cmd_audit(int argc, char **argv)
{
	acct_opts o = {.cmd = "audit"};
	int first, rc = parse(&o, argc, argv, &first);
	if (rc)
		return rc == CLI_OK + 100 ? CLI_OK : rc;
	if (first != argc) {
		fprintf(stderr, "idnode audit: unexpected argument '%s'\n%s", argv[first],
		        usage_text);
		return CLI_USAGE;
	}
	store *s;
	store_txn *t;
	if ((rc = begin(&o, true, &s, &t)))
		return rc;
	audit_query q = {.from_ms = o.from_ms,
	                 .to_ms = o.to_ms,
	                 .account = o.account,
	                 .limit = (unsigned)o.limit,
	                 .cursor = o.cursor ? o.cursor : ""};
	char next[64];
	printf("TIME\tWHO\tIDENTITY\tOP\tTARGET\tRESULT\tFROM\tMESSAGE\n");
	int ret = audit_read(t, &q, print_audit, NULL, next, sizeof(next));
	if (ret == IDN_EINVAL) {
		store_txn_abort(t);
		store_close(s);
		fprintf(stderr, "idnode audit: --cursor: not a cursor this command printed\n");
		return CLI_USAGE;
	}
	rc = finish(&o, s, t, ret, "audit");
	if (!rc && next[0])
		printf("# more: --cursor %s\n", next);
	return rc;
}
