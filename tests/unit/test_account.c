/*
 * test_account.c - the management accounts of node/account.h on an LMDB
 * store: Argon2id round trip (the parameters kept with the hash, no password
 * in the row), the v1 login against the spec's formula computed here
 * independently with OpenSSL's EVP digest, tokens with injected time
 * (valid, expired, forged, revoked by passwd and disable, valid again after
 * reopening the store), the admission workflow (next free prefix, the
 * prefix record and its HS_ADMIN, homing, the account; a taken prefix
 * changes nothing), account_owns, and audit paging, filters and retention.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "node/account.h"
#include "proto/handle.h"
#include "proto/record.h"
#include "proto/reserved.h"

/* 2026-12-07 12:00:00 UTC */
static const int64_t T0 = 1796644800000LL;
static const account_kdf fast = {.t_cost = 1, .m_cost = 1024, .lanes = 1};

struct fx {
	char dir[64];
	store *s;
	store_txn *t;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/idn-acct-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, NULL, &f->s), 0);
	assert_int_equal(store_txn_begin(f->s, 0, &f->t), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->t)
		store_txn_abort(f->t);
	store_close(f->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Commits, reopens the store (a restart) and begins again. */
static void restart(struct fx *f)
{
	assert_int_equal(store_txn_commit(f->t), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->dir, NULL, &f->s), 0);
	assert_int_equal(store_txn_begin(f->s, 0, &f->t), 0);
}

static void add(struct fx *f, const char *name, enum account_role role, const char *pw, bool v1)
{
	account a = {.role = role, .id_index = 300, .nprefixes = 0};
	snprintf(a.name, sizeof(a.name), "%s", name);
	snprintf(a.id_handle, sizeof(a.id_handle), "0.NA/88.100");
	assert_int_equal(account_add(f->t, &a, pw, strlen(pw), v1, &fast, T0), 0);
}

static void hex_sha256(const void *p, size_t n, char out[65])
{
	unsigned char d[32];
	unsigned len = 0;
	EVP_Digest(p, n, d, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_kdf_round_trip(void **state)
{
	struct fx *f = *state;
	add(f, "op1", ACCOUNT_OPERATOR, "correct horse", true);
	account a;
	assert_int_equal(account_check_password(f->t, "op1", "correct horse", 13, &a), 1);
	assert_string_equal(a.name, "op1");
	assert_int_equal(a.role, ACCOUNT_OPERATOR);
	assert_string_equal(a.id_handle, "0.NA/88.100");
	assert_int_equal(a.id_index, 300);
	assert_int_equal(account_check_password(f->t, "op1", "correct horsf", 13, &a), 0);
	assert_int_equal(account_check_password(f->t, "op1", "", 0, &a), 0);
	assert_int_equal(account_check_password(f->t, "nobody", "correct horse", 13, &a), 0);
	/* The row keeps the parameters with the hash, and never the password. */
	idn_slice v;
	assert_int_equal(store_tab_get(f->t, STORE_TAB_ACCOUNT, IDN_SLICE("a/op1"), &v), 0);
	char row[4096];
	snprintf(row, sizeof(row), "%.*s", (int)v.len, (const char *)v.p);
	assert_non_null(strstr(row, "$argon2id$v=19$m=1024,t=1,p=1$"));
	assert_null(strstr(row, "correct horse"));
	char k[65];
	hex_sha256("correct horse", 13, k);
	assert_null(strstr(row, k)); /* the v1 secret is sealed, not kept in the clear */
	/* A second account with the same password gets another salt. */
	add(f, "op2", ACCOUNT_OPERATOR, "correct horse", false);
	idn_slice v2;
	assert_int_equal(store_tab_get(f->t, STORE_TAB_ACCOUNT, IDN_SLICE("a/op2"), &v2), 0);
	assert_false(v2.len == v.len && !memcmp(v.p, v2.p, v.len));
	/* Names: checked, and a taken one refused. */
	char why[128];
	assert_int_equal(account_name_check("bad name", why, sizeof(why)), IDN_EINVAL);
	assert_non_null(strstr(why, "character 4"));
	account dup = {.role = ACCOUNT_OPERATOR, .id_index = 300};
	snprintf(dup.name, sizeof(dup.name), "op1");
	snprintf(dup.id_handle, sizeof(dup.id_handle), "0.NA/88.100");
	assert_int_equal(account_add(f->t, &dup, "x", 1, false, &fast, T0), IDN_EEXIST);
}

/* The spec's formula, here: sha256hex(sha256hex(pwd) + "yyyy-MM-dd"). */
static void v1_expected(const char *pwd, const char *date, char out[65])
{
	char inner[65], buf[128];
	hex_sha256(pwd, strlen(pwd), inner);
	int n = snprintf(buf, sizeof(buf), "%s%s", inner, date);
	hex_sha256(buf, (size_t)n, out);
}

static void test_v1_login(void **state)
{
	struct fx *f = *state;
	add(f, "ent", ACCOUNT_ENTERPRISE, "s3cret!", true);
	add(f, "nov1", ACCOUNT_ENTERPRISE, "s3cret!", false);
	char want[65], mine[65];
	v1_expected("s3cret!", "2026-12-07", want);
	account_v1_digest("s3cret!", 7, "2026-12-07", mine);
	assert_string_equal(want, mine);
	account a;
	assert_int_equal(account_check_v1(f->t, "ent", want, 64, T0, &a), 1);
	assert_string_equal(a.name, "ent");
	/* Yesterday's and tomorrow's dates pass (time zones), two days off do not. */
	v1_expected("s3cret!", "2026-12-06", want);
	assert_int_equal(account_check_v1(f->t, "ent", want, 64, T0, &a), 1);
	v1_expected("s3cret!", "2026-12-08", want);
	assert_int_equal(account_check_v1(f->t, "ent", want, 64, T0, &a), 1);
	v1_expected("s3cret!", "2026-12-05", want);
	assert_int_equal(account_check_v1(f->t, "ent", want, 64, T0, &a), 0);
	/* Upper-case hex is the same digest; a wrong password or length is not. */
	v1_expected("s3cret!", "2026-12-07", want);
	for (int i = 0; i < 64; i++)
		mine[i] = (char)(want[i] >= 'a' ? want[i] - 32 : want[i]);
	assert_int_equal(account_check_v1(f->t, "ent", mine, 64, T0, &a), 1);
	assert_int_equal(account_check_v1(f->t, "ent", want, 63, T0, &a), 0);
	v1_expected("s3cret?", "2026-12-07", want);
	assert_int_equal(account_check_v1(f->t, "ent", want, 64, T0, &a), 0);
	/* No v1 secret kept: v1 refused, v0 fine. */
	v1_expected("s3cret!", "2026-12-07", want);
	assert_int_equal(account_check_v1(f->t, "nov1", want, 64, T0, &a), 0);
	assert_int_equal(account_check_password(f->t, "nov1", "s3cret!", 7, &a), 1);
	/* A new password makes a new v1 secret. */
	assert_int_equal(account_passwd(f->t, "ent", "other", 5, true, &fast), 0);
	assert_int_equal(account_check_v1(f->t, "ent", want, 64, T0, &a), 0);
	v1_expected("other", "2026-12-07", want);
	assert_int_equal(account_check_v1(f->t, "ent", want, 64, T0, &a), 1);
}

static void test_tokens(void **state)
{
	struct fx *f = *state;
	add(f, "op", ACCOUNT_OPERATOR, "pw", true);
	add(f, "op.two", ACCOUNT_OPERATOR, "pw", true);
	account a, b;
	assert_int_equal(account_get(f->t, "op", &a), 0);
	char tok[ACCOUNT_TOKEN_MAX + 1], tok2[ACCOUNT_TOKEN_MAX + 1];
	assert_int_equal(account_token_issue(f->t, &a, 3600, T0, tok), 0);
	assert_int_equal(account_token_check(f->t, tok, strlen(tok), T0 + 1000, &b), 1);
	assert_string_equal(b.name, "op");
	/* Expiry: valid until the last second, void at it. */
	assert_int_equal(account_token_check(f->t, tok, strlen(tok), T0 + 3599000, &b), 1);
	assert_int_equal(account_token_check(f->t, tok, strlen(tok), T0 + 3600000, &b), 0);
	/* Forged: one MAC digit changed, another account's name, a later expiry. */
	strcpy(tok2, tok);
	tok2[strlen(tok2) - 1] ^= 1;
	assert_int_equal(account_token_check(f->t, tok2, strlen(tok2), T0, &b), 0);
	char *name = strstr(tok, ".op.");
	assert_non_null(name);
	snprintf(tok2, sizeof(tok2), "%.*s.op.two%s", (int)(name - tok), tok, name + 3);
	assert_int_equal(account_token_check(f->t, tok2, strlen(tok2), T0, &b), 0);
	tok2[0] = 0;
	assert_int_equal(account_token_check(f->t, "garbage", 7, T0, &b), 0);
	/* Survives a restart (the node key is in the store). */
	restart(f);
	assert_int_equal(account_token_check(f->t, tok, strlen(tok), T0 + 1000, &b), 1);
	/* Revoked by passwd... */
	assert_int_equal(account_passwd(f->t, "op", "pw2", 3, true, &fast), 0);
	assert_int_equal(account_token_check(f->t, tok, strlen(tok), T0 + 1000, &b), 0);
	assert_int_equal(account_get(f->t, "op", &a), 0);
	assert_int_equal(account_token_issue(f->t, &a, 3600, T0, tok), 0);
	assert_int_equal(account_token_check(f->t, tok, strlen(tok), T0 + 1000, &b), 1);
	/* ...and by disable, which also refuses the password; enable does not revive it. */
	assert_int_equal(account_set_disabled(f->t, "op", true), 0);
	assert_int_equal(account_token_check(f->t, tok, strlen(tok), T0 + 1000, &b), 0);
	assert_int_equal(account_check_password(f->t, "op", "pw2", 3, &b), 0);
	assert_int_equal(account_set_disabled(f->t, "op", false), 0);
	assert_int_equal(account_token_check(f->t, tok, strlen(tok), T0 + 1000, &b), 0);
	assert_int_equal(account_check_password(f->t, "op", "pw2", 3, &b), 1);
}

static int record_of(store_txn *t, const char *h, record *r, idn_slice *raw)
{
	uint8_t key[HANDLE_KEY_MAX];
	int kl = handle_key(idn_slice_of(h, strlen(h)), true, key);
	int ret = store_get(t, idn_slice_of(key, (size_t)kl), raw);
	return ret ? ret : record_parse(*raw, r);
}

static void test_admission(void **state)
{
	struct fx *f = *state;
	application a1 = {0}, a2 = {0}, a3 = {0};
	snprintf(a1.company, sizeof(a1.company), "ACME");
	snprintf(a1.parent, sizeof(a1.parent), "88.100");
	snprintf(a1.account, sizeof(a1.account), "acme");
	assert_int_equal(account_apply(f->t, &a1, "pw-acme", 7, &fast, T0), 0);
	assert_int_equal(a1.id, 1);
	/* The same account name again: taken by the pending application. */
	a2 = a1;
	assert_int_equal(account_apply(f->t, &a2, "pw", 2, &fast, T0), IDN_EEXIST);
	/* Neither a password nor a key; a malformed prefix. */
	snprintf(a2.account, sizeof(a2.account), "beta");
	assert_int_equal(account_apply(f->t, &a2, "", 0, &fast, T0), IDN_EINVAL);
	snprintf(a2.parent, sizeof(a2.parent), "88..100");
	assert_int_equal(account_apply(f->t, &a2, "pw", 2, &fast, T0), IDN_EINVAL);
	a2.parent[0] = 0;
	snprintf(a2.prefix, sizeof(a2.prefix), "88.100.1");
	assert_int_equal(account_apply(f->t, &a2, "pw", 2, &fast, T0), 0);
	assert_int_equal(a2.id, 2);

	char prefix[64], why[256];
	assert_int_equal(
	    account_approve(f->t, 1, "op", T0, true, prefix, sizeof(prefix), why, sizeof(why)), 0);
	assert_string_equal(prefix, "88.100.1");
	record r;
	idn_slice raw;
	assert_int_equal(record_of(f->t, "0.NA/88.100.1", &r, &raw), 0);
	proto_values_it it = proto_values_begin(r.values, r.nvalues);
	proto_value v;
	assert_int_equal(proto_values_next(&it, &v), 1);
	assert_int_equal(v.index, 100);
	proto_admin ad;
	assert_int_equal(proto_admin_decode(v.data, &ad), 0);
	assert_int_equal(ad.rights, PROTO_ADM_ALL);
	assert_int_equal(ad.index, 300);
	assert_true(idn_slice_eq(ad.handle, IDN_SLICE("0.NA/88.100.1")));
	assert_int_equal(store_is_homed(f->t, IDN_SLICE("88.100.1")), 1);
	account acc;
	assert_int_equal(account_get(f->t, "acme", &acc), 0);
	assert_int_equal(acc.role, ACCOUNT_ENTERPRISE);
	assert_string_equal(acc.id_handle, "0.NA/88.100.1");
	assert_int_equal(acc.nprefixes, 1);
	assert_string_equal(acc.prefixes[0], "88.100.1");
	assert_int_equal(account_check_password(f->t, "acme", "pw-acme", 7, &acc), 1);
	/* Decided once only. */
	assert_int_equal(
	    account_approve(f->t, 1, "op", T0, true, prefix, sizeof(prefix), why, sizeof(why)),
	    IDN_EINVAL);
	assert_non_null(strstr(why, "approved already"));
	/* The prefix asked by application 2 is now taken: refused, nothing written. */
	store_txn *child;
	assert_int_equal(store_txn_nest(f->t, &child), 0);
	assert_int_equal(
	    account_approve(child, 2, "op", T0, true, prefix, sizeof(prefix), why, sizeof(why)),
	    IDN_EEXIST);
	store_txn_abort(child);
	assert_int_equal(account_get(f->t, "beta", &acc), IDN_ENOTFOUND);
	application got;
	assert_int_equal(account_application_get(f->t, 2, &got), 0);
	assert_int_equal(got.state, APP_PENDING);
	assert_int_equal(account_reject(f->t, 2, "op", "taken", T0), 0);
	assert_int_equal(account_application_get(f->t, 2, &got), 0);
	assert_int_equal(got.state, APP_REJECTED);
	assert_string_equal(got.reason, "taken");
	/* The next free one skips 88.100.1. */
	snprintf(a3.company, sizeof(a3.company), "Gamma");
	snprintf(a3.parent, sizeof(a3.parent), "88.100");
	snprintf(a3.account, sizeof(a3.account), "gamma");
	assert_int_equal(account_apply(f->t, &a3, "pw", 2, &fast, T0), 0);
	assert_int_equal(
	    account_approve(f->t, a3.id, "op", T0, true, prefix, sizeof(prefix), why, sizeof(why)),
	    0);
	assert_string_equal(prefix, "88.100.2");
}

/* CPU time of the whole process (every KDF lane's thread), which other jobs on the machine do not inflate. */
static double cpu_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An unknown name costs what a wrong password of the default cost does (no name probing). */
static void test_unknown_name_timing(void **state)
{
	struct fx *f = *state;
	account a = {.role = ACCOUNT_OPERATOR, .id_index = 300};
	snprintf(a.name, sizeof(a.name), "real");
	snprintf(a.id_handle, sizeof(a.id_handle), "0.NA/88.100");
	assert_int_equal(account_add(f->t, &a, "pw", 2, false, NULL, T0), 0);
	account out;
	assert_int_equal(account_check_password(f->t, "nobody", "pw", 2, &out), 0); /* warm */
	double t0 = cpu_secs();
	assert_int_equal(account_check_password(f->t, "real", "wrong", 5, &out), 0);
	double wrong = cpu_secs() - t0;
	t0 = cpu_secs();
	assert_int_equal(account_check_password(f->t, "nobody", "wrong", 5, &out), 0);
	double unknown = cpu_secs() - t0;
	print_message("CPU time: wrong password %.3f s, unknown name %.3f s\n", wrong, unknown);
	/* A skipped KDF would cost microseconds against the KDF's tenths of a second. */
	assert_true(unknown > wrong * 0.5);
}

static void test_owns(void **state)
{
	(void)state;
	account a = {.nprefixes = 1};
	snprintf(a.prefixes[0], sizeof(a.prefixes[0]), "88.100.7");
	assert_true(account_owns(&a, "88.100.7/x", 10));
	assert_true(account_owns(&a, "88.100.7", 8));
	assert_true(account_owns(&a, "88.100.7.2/x", 12));
	assert_false(account_owns(&a, "88.100.70/x", 11));
	assert_false(account_owns(&a, "88.100.8/x", 10));
	assert_false(account_owns(&a, "88.100", 6));
}

static int collect(void *arg, const audit_entry *e)
{
	char *seen = arg;
	size_t n = strlen(seen);
	snprintf(seen + n, 4096 - n, "%s,", e->target);
	return 0;
}

static void append(struct fx *f, const char *who, int i, int64_t when, uint32_t days)
{
	audit_entry e = {.result = 1};
	snprintf(e.who, sizeof(e.who), "%s", who);
	snprintf(e.op, sizeof(e.op), "identity.create");
	snprintf(e.target, sizeof(e.target), "t%d", i);
	assert_int_equal(audit_append(f->t, &e, when, days), 0);
}

static void test_audit_paging(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 25; i++)
		append(f, i % 2 ? "odd" : "even", i, T0 + i * 1000, 0);
	char seen[4096] = "", next[64];
	audit_query q = {.limit = 10, .cursor = ""};
	assert_int_equal(audit_read(f->t, &q, collect, seen, next, sizeof(next)), 0);
	assert_string_equal(seen, "t0,t1,t2,t3,t4,t5,t6,t7,t8,t9,");
	assert_int_equal(strlen(next), 24);
	char c1[64];
	strcpy(c1, next);
	q.cursor = c1;
	seen[0] = 0;
	assert_int_equal(audit_read(f->t, &q, collect, seen, next, sizeof(next)), 0);
	assert_string_equal(seen, "t10,t11,t12,t13,t14,t15,t16,t17,t18,t19,");
	char c2[64];
	strcpy(c2, next);
	q.cursor = c2;
	seen[0] = 0;
	assert_int_equal(audit_read(f->t, &q, collect, seen, next, sizeof(next)), 0);
	assert_string_equal(seen, "t20,t21,t22,t23,t24,");
	assert_string_equal(next, "");
	/* Filters: an account, a time range [from, to). */
	audit_query qa = {.limit = 100,
	                  .account = "odd",
	                  .from_ms = T0 + 5000,
	                  .to_ms = T0 + 12000,
	                  .cursor = ""};
	seen[0] = 0;
	assert_int_equal(audit_read(f->t, &qa, collect, seen, next, sizeof(next)), 0);
	assert_string_equal(seen, "t5,t7,t9,t11,");
	/* A bad cursor, a bad limit. */
	q.cursor = "zz";
	assert_int_equal(audit_read(f->t, &q, collect, seen, next, sizeof(next)), IDN_EINVAL);
	q.cursor = "";
	q.limit = 0;
	assert_int_equal(audit_read(f->t, &q, collect, seen, next, sizeof(next)), IDN_EINVAL);
	/* Retention: an entry 3 days later with 2 days kept prunes the 25 old ones. */
	append(f, "late", 99, T0 + 3 * 86400000LL, 2);
	audit_query all = {.limit = 100, .cursor = ""};
	seen[0] = 0;
	assert_int_equal(audit_read(f->t, &all, collect, seen, next, sizeof(next)), 0);
	assert_string_equal(seen, "t99,");
}

/*
 * A field cut at its size in the middle of a character (the API cuts a long
 * identifier so), or holding bytes that are not UTF-8: the entry is written,
 * those bytes as '?' (it was refused as "out of memory": a change unaudited).
 */
static void test_audit_not_utf8(void **state)
{
	struct fx *f = *state;
	audit_entry e = {.result = 1};
	snprintf(e.who, sizeof(e.who), "ent7");
	snprintf(e.op, sizeof(e.op), "identity.create");
	snprintf(e.target, sizeof(e.target), "88.100.7/a\xc3");
	snprintf(e.message, sizeof(e.message), "x\xff\xe9\x80y \xc3\xa9");
	assert_int_equal(audit_append(f->t, &e, T0, 0), 0);
	char seen[4096] = "", next[64];
	audit_query q = {.limit = 10, .cursor = ""};
	assert_int_equal(audit_read(f->t, &q, collect, seen, next, sizeof(next)), 0);
	assert_string_equal(seen, "88.100.7/a?,");
	assert_string_equal(e.message, "x???y \xc3\xa9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_kdf_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v1_login, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admission, setup, teardown),
	    cmocka_unit_test(test_owns),
	    cmocka_unit_test_setup_teardown(test_unknown_name_timing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_not_utf8, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
