/*
 * account.h - the management accounts of a secondary node (operators and
 * enterprises), their passwords (Argon2id, libargon2), bearer tokens, the
 * enterprise admission workflow (applications, approval, rejection) and
 * the audit log. All kept in the store's tables (store.h): STORE_TAB_ACCOUNT
 * (accounts, applications, the node's token key) and STORE_TAB_AUDIT, so both
 * backends hold them and mirrors replicate them.
 *
 * Every account is bound to a Handle identity (INDEX:HANDLE): what the
 * management API writes runs as that identity through the node, with the
 * HS_ADMIN rights the Handle protocol checks (node/authz.h). An enterprise
 * account is also bound to its prefixes.
 *
 * Plan: JSON rows in the tables ("a/NAME" accounts, "p/ID" applications,
 * "k/token" the node key); tokens are HMAC-SHA256 over name, the account's
 * generation and expiry, under the node key, so they survive a restart and
 * passwd/disable (which bump the generation) revoke them; the v1 login's
 * secret sha256hex(pwd) is kept AES-256-GCM-encrypted under the node key
 * (docs/secondary-node.md says what that does and does not protect).
 *
 * The functions taking a store_txn work inside the caller's transaction
 * (both the CLI and the API call them); those taking a store begin and
 * commit their own. Times are passed in (unix milliseconds) so tests drive
 * them. Thread-safe as the store is.
 */
#ifndef IDN_NODE_ACCOUNT_H
#define IDN_NODE_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "node/node.h"
#include "proto/proto.h"
#include "store/store.h"

enum {
	ACCOUNT_NAME_MAX = 64,      /* [A-Za-z0-9._@-], 1..64 bytes */
	ACCOUNT_PASSWORD_MAX = 256, /* bytes of a password */
	ACCOUNT_PREFIXES_MAX = 16,  /* prefixes of one enterprise account */
	ACCOUNT_PREFIX_MAX = 128,   /* bytes of one prefix ("88.100.7") */
	ACCOUNT_ID_MAX = 256,       /* bytes of an identity's handle */
	ACCOUNT_TOKEN_MAX = 256,    /* bytes of a bearer token */
	ACCOUNT_TEXT_MAX = 256,     /* company, contact, reason */
	AUDIT_TEXT_MAX = 256,       /* bytes of one audit field */
};

enum account_role { ACCOUNT_OPERATOR = 1, ACCOUNT_ENTERPRISE = 2 };

/* The KDF parameters kept with each hash (raised later without re-hashing old ones). */
typedef struct account_kdf {
	uint32_t t_cost; /* passes */
	uint32_t m_cost; /* KiB */
	uint32_t lanes;  /* parallelism */
} account_kdf;
/* The default (RFC 9106's second recommendation, 64 MiB; tests lower it). */
extern account_kdf account_kdf_default;

/* An account as read (no password material). */
typedef struct account {
	char name[ACCOUNT_NAME_MAX + 1];
	enum account_role role;
	bool disabled;
	bool v1;      /* a v1 secret is kept: POST /identity/token/v1 is possible */
	uint32_t gen; /* bumped by passwd and disable: tokens of an older one are void */
	char id_handle[ACCOUNT_ID_MAX + 1];
	uint32_t id_index;
	char prefixes[ACCOUNT_PREFIXES_MAX][ACCOUNT_PREFIX_MAX + 1];
	unsigned nprefixes;
	int64_t created_ms;
} account;

/* "name", "INDEX:HANDLE" into a: 0, or IDN_EINVAL with why (naming the field). */
int account_name_check(const char *name, char *why, size_t whylen);
int account_identity_parse(const char *s, char *handle, size_t cap, uint32_t *index);

/*
 * A new account (IDN_EEXIST if the name is taken). a->name, role, id_*,
 * prefixes; password of plen bytes; v1: also keep the v1 secret.
 */
int account_add(store_txn *t, const account *a, const char *password, size_t plen, bool v1,
                const account_kdf *kdf, int64_t now_ms);
/* IDN_ENOTFOUND when absent. */
int account_get(store_txn *t, const char *name, account *out);
/* A new password (the generation is bumped: every token is void). */
int account_passwd(store_txn *t, const char *name, const char *password, size_t plen, bool v1,
                   const account_kdf *kdf);
/* Disables (or enables) an account; disabling bumps the generation. */
int account_set_disabled(store_txn *t, const char *name, bool disabled);
/* Calls fn for each account in name order; a non-zero return stops (and is returned). */
int account_each(store_txn *t, int (*fn)(void *arg, const account *a), void *arg);

/* Password checks. 1 right, 0 wrong (or disabled, or no v1 secret), < 0 error. */
int account_check_password(store_txn *t, const char *name, const char *password, size_t plen,
                           account *out);
/*
 * The v1 login: given = sha256hex(sha256hex(pwd) + "yyyy-MM-dd") (lowercase
 * hex); accepted for the UTC date of now_ms and the day before and after
 * (clients in other time zones).
 */
int account_check_v1(store_txn *t, const char *name, const char *given, size_t glen, int64_t now_ms,
                     account *out);
/* sha256hex(sha256hex(pwd) + date) into out (65 bytes); date "yyyy-MM-dd". */
void account_v1_digest(const char *password, size_t plen, const char *date, char out[65]);

/*
 * Tokens. account_token_issue: a token for a (checked) account, valid
 * life_s seconds from now_ms, into out (ACCOUNT_TOKEN_MAX + 1 bytes).
 * account_token_check: 1 valid (*a the account), 0 not (forged, expired,
 * revoked, account disabled or gone), < 0 error. Both may create the node
 * key on first use (a write: t must be a write transaction then).
 */
int account_token_issue(store_txn *t, const account *a, uint32_t life_s, int64_t now_ms, char *out);
int account_token_check(store_txn *t, const char *token, size_t len, int64_t now_ms, account *a);

/* Whether handle (or a prefix) lies under one of a's prefixes ("88.100.7/x", "88.100.7.2"). */
bool account_owns(const account *a, const char *handle, size_t len);

/* --- enterprise admission --- */

enum application_state { APP_PENDING = 0, APP_APPROVED = 1, APP_REJECTED = 2 };

typedef struct application {
	uint64_t id; /* assigned by account_apply */
	enum application_state state;
	char company[ACCOUNT_TEXT_MAX + 1];
	char contact[ACCOUNT_TEXT_MAX + 1];
	/* the prefix asked for, or "" for the next free one under parent */
	char prefix[ACCOUNT_PREFIX_MAX + 1];
	char parent[ACCOUNT_PREFIX_MAX + 1]; /* with prefix "": "88.100" */
	char account[ACCOUNT_NAME_MAX + 1];  /* the enterprise account to make */
	char pubkey_hex[2 * 1024 + 1];       /* HS_PUBKEY data (hex), "" if none */
	char reason[ACCOUNT_TEXT_MAX + 1];   /* why rejected */
	char from[64];                       /* the applicant's address */
	int64_t created_ms, decided_ms;
	char decided_by[ACCOUNT_NAME_MAX + 1];
} application;

/*
 * An application (app->id set on return). With a password (plen > 0) the
 * Argon2id hash of it is kept for the account made on approval; never the
 * password. IDN_EEXIST when the account name is taken or applied for.
 */
int account_apply(store_txn *t, application *app, const char *password, size_t plen,
                  const account_kdf *kdf, int64_t now_ms);
int account_application_get(store_txn *t, uint64_t id, application *out);
/* Applications (state < 0: every state) in id order from after_id; fn non-zero stops. */
int account_applications(store_txn *t, int state, uint64_t after_id,
                         int (*fn)(void *arg, const application *app), void *arg);

/*
 * Approval, in t: the prefix chosen (the one asked for, or the next free
 * child of parent), the record 0.NA/<prefix> with HS_ADMIN (index 100,
 * every right) for the enterprise identity 300:0.NA/<prefix> and HS_PUBKEY
 * (index 300) if a key was given, the prefix homed here, and the enterprise
 * account (role enterprise, bound to that identity and prefix). The caller
 * has checked the approver's rights (api: node_authz on the parent's
 * record; the CLI acts with the store's own authority). *prefix_out: the
 * prefix given. IDN_EEXIST: the prefix is taken (its record exists);
 * IDN_EINVAL: the application is not pending (why says so).
 */
int account_approve(store_txn *t, uint64_t id, const char *by, int64_t now_ms, bool case_sensitive,
                    char *prefix_out, size_t cap, char *why, size_t whylen);
int account_reject(store_txn *t, uint64_t id, const char *by, const char *reason, int64_t now_ms);

/*
 * The node path for approval: checks in one write transaction of w's store
 * that the identity id_handle/id_index holds PROTO_ADM_ADD_DERIVED_PREFIX on
 * the parent prefix's record (0.NA/<parent>) or is a node admin
 * (node_authz_check, as the Handle protocol), then account_approve. 0,
 * ACCOUNT_NO_RIGHT (why says which right), ACCOUNT_QUOTA (the node's quota
 * of child prefixes, --quota-child-prefixes, as a Handle create of the
 * record would count it), or account_approve's errors.
 */
enum {
	ACCOUNT_NO_RIGHT = 1, /* the approver's identity lacks the right */
	ACCOUNT_QUOTA = 2,    /* a quota of child prefixes refuses it (node/quota.h) */
};
int account_approve_as(node_worker *w, idn_slice id_handle, uint32_t id_index, uint64_t app_id,
                       const char *by, int64_t now_ms, char *prefix_out, size_t cap, char *why,
                       size_t whylen);

/*
 * A transaction of w's store for the API (the node worker's batch when it
 * has one, so group commit holds): account_txn_begin (write or read only),
 * account_txn_end commits a write when ret is 0, else aborts; returns the
 * commit's error, or ret.
 */
int account_txn_begin(node_worker *w, bool write, store_txn **t);
int account_txn_end(store_txn *t, bool write, int ret);
/* Pending applications: in all, and made from address `from`. */
int account_pending_count(store_txn *t, const char *from, unsigned *total, unsigned *from_n);

/* --- audit log --- */

typedef struct audit_entry {
	int64_t time_ms;
	uint32_t seq;                      /* orders entries of one millisecond */
	char who[AUDIT_TEXT_MAX + 1];      /* account name, or "cli:<user>" */
	char identity[AUDIT_TEXT_MAX + 1]; /* INDEX:HANDLE it acted as, "" */
	char op[64];                       /* "identity.create", "account.add", ... */
	char target[AUDIT_TEXT_MAX + 1];   /* identifier, prefix or account */
	int result;                        /* SNMS status: 1 ok, -1..-4 */
	char message[AUDIT_TEXT_MAX + 1];  /* what went wrong, or details */
	char from[64];                     /* client address, "" for the CLI */
} audit_entry;

/*
 * Appends e (its time_ms and seq set here from now_ms) in t; entries older
 * than retention_days (0: kept forever) are pruned, at most a bounded
 * number per append, so the log stays bounded without a sweeper.
 */
int audit_append(store_txn *t, audit_entry *e, int64_t now_ms, uint32_t retention_days);
/* The same in its own write transaction of s. */
int audit_append_store(store *s, audit_entry *e, int64_t now_ms, uint32_t retention_days);

/* Filters of a read: [from_ms, to_ms) (0: open), account ("": any), limit (1..1000). */
typedef struct audit_query {
	int64_t from_ms, to_ms;
	const char *account;
	unsigned limit;
	const char *cursor; /* "" or the cursor a previous page returned */
} audit_query;
/*
 * Entries matching q, oldest first, fn per entry; *next set to the cursor of
 * the next page ("" when this was the last), 40 bytes. IDN_EINVAL: bad cursor.
 */
int audit_read(store_txn *t, const audit_query *q, int (*fn)(void *arg, const audit_entry *e),
               void *arg, char *next, size_t nextcap);

#endif
