/*
 * account_row.h - what the files of the accounts share (account.c,
 * account_apply.c, audit.c) and nobody else uses: the JSON rows of
 * STORE_TAB_ACCOUNT and the password fields of a row.
 */
#ifndef IDN_NODE_ACCOUNT_ROW_H
#define IDN_NODE_ACCOUNT_ROW_H

#include <jansson.h>

#include "node/account.h"

/* "KIND/NAME" into buf as *key. */
int account_row_key(const char *kind, const char *name, char *buf, size_t cap, idn_slice *key);
/* The JSON object at key (NULL with *err: IDN_ENOTFOUND, IDN_ESTORE for a damaged row). */
json_t *account_row_get(store_txn *t, idn_slice key, int *err);
int account_row_put(store_txn *t, idn_slice key, json_t *j, unsigned flags);
int account_from_json(json_t *j, account *a);
json_t *account_to_json(const account *a);
/* The Argon2id encoded hash of a password. */
int account_hash_password(const char *password, size_t plen, const account_kdf *kdf, char *out,
                          size_t cap);
/* Sets "pw" (and "v1" when asked) of row j for account name. */
int account_set_secret(store_txn *t, json_t *j, const char *name, const char *password, size_t plen,
                       bool v1, const account_kdf *kdf);

#endif
