/*
 * account.c - management accounts (account.h): rows of STORE_TAB_ACCOUNT
 * ("a/NAME", JSON), passwords hashed with Argon2id (libargon2's encoded form
 * "$argon2id$v=19$m=..,t=..,p=..$salt$hash", which keeps the parameters with
 * the hash), the v1 login's secret sha256hex(pwd) encrypted with AES-256-GCM
 * under a key derived from the node key ("k/node", 32 random bytes made at
 * first use), and HMAC-SHA256 bearer tokens under another key derived from
 * it.
 */
#include <argon2.h>
#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/codec.h"
#include "node/account.h"
#include "node/account_row.h"

account_kdf account_kdf_default = {.t_cost = 3, .m_cost = 64 * 1024, .lanes = 4};

enum { NODE_KEY_LEN = 32, SALT_LEN = 16, HASH_LEN = 32, GCM_NONCE = 12, GCM_TAG = 16 };

static const char node_key_row[] = "k/node";

int account_name_check(const char *name, char *why, size_t whylen)
{
	size_t n = strlen(name);
	if (n == 0 || n > ACCOUNT_NAME_MAX) {
		snprintf(why, whylen, "username: 1 to %d characters", ACCOUNT_NAME_MAX);
		return IDN_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && !strchr("._@-", c)) {
			snprintf(
			    why, whylen,
			    "username: character %zu is not a letter, digit, '.', '_', '@' or '-'",
			    i + 1);
			return IDN_EINVAL;
		}
	}
	return 0;
}

int account_identity_parse(const char *s, char *handle, size_t cap, uint32_t *index)
{
	const char *colon = strchr(s, ':');
	if (!colon || colon == s)
		return IDN_EINVAL;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end != colon || v == 0 || v > 0xFFFFFFFFul)
		return IDN_EINVAL;
	size_t hl = strlen(colon + 1);
	handle_parts parts;
	if (hl == 0 || hl >= cap || hl > ACCOUNT_ID_MAX ||
	    handle_split(idn_slice_of(colon + 1, hl), &parts))
		return IDN_EINVAL;
	memcpy(handle, colon + 1, hl + 1);
	*index = (uint32_t)v;
	return 0;
}

/* ---- rows ---- */

int account_row_key(const char *kind, const char *name, char *buf, size_t cap, idn_slice *key)
{
	int n = snprintf(buf, cap, "%s/%s", kind, name);
	if (n < 0 || (size_t)n >= cap)
		return IDN_EINVAL;
	*key = idn_slice_of(buf, (size_t)n);
	return 0;
}

json_t *account_row_get(store_txn *t, idn_slice key, int *err)
{
	idn_slice v;
	*err = store_tab_get(t, STORE_TAB_ACCOUNT, key, &v);
	if (*err)
		return NULL;
	json_t *j = json_loadb((const char *)v.p, v.len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		*err = IDN_ESTORE;
		return NULL;
	}
	return j;
}

int account_row_put(store_txn *t, idn_slice key, json_t *j, unsigned flags)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (!s)
		return IDN_ENOMEM;
	int ret = store_tab_put(t, STORE_TAB_ACCOUNT, key, idn_slice_of(s, strlen(s)), flags);
	free(s);
	return ret;
}

static const char *jstr(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return s ? s : "";
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

int account_from_json(json_t *j, account *a)
{
	memset(a, 0, sizeof(*a));
	copy_str(a->name, sizeof(a->name), jstr(j, "name"));
	a->role = strcmp(jstr(j, "role"), "operator") ? ACCOUNT_ENTERPRISE : ACCOUNT_OPERATOR;
	a->disabled = json_is_true(json_object_get(j, "disabled"));
	a->v1 = json_is_string(json_object_get(j, "v1"));
	a->gen = (uint32_t)json_integer_value(json_object_get(j, "gen"));
	a->created_ms = json_integer_value(json_object_get(j, "created"));
	if (account_identity_parse(jstr(j, "identity"), a->id_handle, sizeof(a->id_handle),
	                           &a->id_index))
		return IDN_ESTORE;
	json_t *p = json_object_get(j, "prefixes"), *e;
	size_t i;
	json_array_foreach(p, i, e)
	{
		if (a->nprefixes < ACCOUNT_PREFIXES_MAX && json_is_string(e))
			copy_str(a->prefixes[a->nprefixes++], ACCOUNT_PREFIX_MAX + 1,
			         json_string_value(e));
	}
	return 0;
}

json_t *account_to_json(const account *a)
{
	char id[ACCOUNT_ID_MAX + 16];
	snprintf(id, sizeof(id), "%u:%s", a->id_index, a->id_handle);
	json_t *p = json_array();
	for (unsigned i = 0; i < a->nprefixes; i++)
		json_array_append_new(p, json_string(a->prefixes[i]));
	return json_pack("{s:s,s:s,s:b,s:I,s:s,s:o,s:I}", "name", a->name, "role",
	                 a->role == ACCOUNT_OPERATOR ? "operator" : "enterprise", "disabled",
	                 a->disabled, "gen", (json_int_t)a->gen, "identity", id, "prefixes", p,
	                 "created", (json_int_t)a->created_ms);
}

/* ---- the node key and what is derived from it ---- */

/* The key of `use` derived from the node key (made when absent and t may write). */
static int derived_key(store_txn *t, const char *use, bool create, uint8_t out[32])
{
	idn_slice k = IDN_SLICE(node_key_row), v;
	int ret = store_tab_get(t, STORE_TAB_ACCOUNT, k, &v);
	uint8_t nk[NODE_KEY_LEN];
	if (ret == IDN_ENOTFOUND && create) {
		if (RAND_bytes(nk, sizeof(nk)) != 1)
			return IDN_ECRYPTO;
		ret = store_tab_put(t, STORE_TAB_ACCOUNT, k, idn_slice_of(nk, sizeof(nk)),
		                    STORE_NOOVERWRITE);
		v = idn_slice_of(nk, sizeof(nk));
	}
	if (ret)
		return ret;
	if (v.len != NODE_KEY_LEN)
		return IDN_ESTORE;
	unsigned len = 32;
	if (!HMAC(EVP_sha256(), v.p, (int)v.len, (const uint8_t *)use, strlen(use), out, &len))
		return IDN_ECRYPTO;
	OPENSSL_cleanse(nk, sizeof(nk));
	return 0;
}

static void sha256hex(const void *p, size_t n, char out[65])
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	SHA256(p, n, d);
	codec_hex_encode(d, sizeof(d), out);
}

void account_v1_digest(const char *password, size_t plen, const char *date, char out[65])
{
	char k[65 + 16];
	sha256hex(password, plen, k);
	size_t n = 64 + (size_t)snprintf(k + 64, sizeof(k) - 64, "%s", date);
	sha256hex(k, n, out);
	OPENSSL_cleanse(k, sizeof(k));
}

/* AES-256-GCM of the 64-byte v1 secret, bound to the account's name: "nonce.ct.tag" hex. */
static int v1_seal(store_txn *t, const char *name, const char secret[64], char *out, size_t cap)
{
	uint8_t key[32], nonce[GCM_NONCE], ct[64], tag[GCM_TAG];
	int ret = derived_key(t, "idnode v1 secret", true, key);
	if (ret)
		return ret;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return IDN_ECRYPTO;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l = 0,
	    ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
	         EVP_EncryptUpdate(c, NULL, &l, (const uint8_t *)name, (int)strlen(name)) == 1 &&
	         EVP_EncryptUpdate(c, ct, &l, (const uint8_t *)secret, 64) == 1 &&
	         EVP_EncryptFinal_ex(c, ct + l, &l) == 1 &&
	         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) == 1;
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok || cap < 2 * (GCM_NONCE + 64 + GCM_TAG) + 3)
		return IDN_ECRYPTO;
	codec_hex_encode(nonce, sizeof(nonce), out);
	out[2 * GCM_NONCE] = '.';
	codec_hex_encode(ct, sizeof(ct), out + 2 * GCM_NONCE + 1);
	out[2 * GCM_NONCE + 129] = '.';
	codec_hex_encode(tag, sizeof(tag), out + 2 * GCM_NONCE + 130);
	return 0;
}

static int v1_open(store_txn *t, const char *name, const char *sealed, char secret[65])
{
	uint8_t key[32], buf[GCM_NONCE + 64 + GCM_TAG];
	size_t sl = strlen(sealed);
	if (sl != 2 * sizeof(buf) + 2 || sealed[2 * GCM_NONCE] != '.' ||
	    sealed[2 * GCM_NONCE + 129] != '.' ||
	    codec_hex_decode((const uint8_t *)sealed, 2 * GCM_NONCE, buf, GCM_NONCE, NULL) < 0 ||
	    codec_hex_decode((const uint8_t *)sealed + 2 * GCM_NONCE + 1, 128, buf + GCM_NONCE, 64,
	                     NULL) < 0 ||
	    codec_hex_decode((const uint8_t *)sealed + 2 * GCM_NONCE + 130, 2 * GCM_TAG,
	                     buf + GCM_NONCE + 64, GCM_TAG, NULL) < 0)
		return IDN_ESTORE;
	int ret = derived_key(t, "idnode v1 secret", false, key);
	if (ret)
		return ret;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l = 0,
	    ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
	         EVP_DecryptUpdate(c, NULL, &l, (const uint8_t *)name, (int)strlen(name)) == 1 &&
	         EVP_DecryptUpdate(c, (uint8_t *)secret, &l, buf + GCM_NONCE, 64) == 1 &&
	         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, buf + GCM_NONCE + 64) == 1 &&
	         EVP_DecryptFinal_ex(c, (uint8_t *)secret + l, &l) == 1;
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(key, sizeof(key));
	secret[64] = 0;
	return ok ? 0 : IDN_ECRYPTO;
}

/* ---- passwords ---- */

int account_hash_password(const char *password, size_t plen, const account_kdf *kdf, char *out,
                          size_t cap)
{
	if (plen == 0 || plen > ACCOUNT_PASSWORD_MAX)
		return IDN_EINVAL;
	const account_kdf *k = kdf ? kdf : &account_kdf_default;
	uint8_t salt[SALT_LEN];
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return IDN_ECRYPTO;
	int r = argon2id_hash_encoded(k->t_cost, k->m_cost, k->lanes, password, plen, salt,
	                              sizeof(salt), HASH_LEN, out, cap);
	return r == ARGON2_OK ? 0 : IDN_ECRYPTO;
}

/* Sets the password fields of row j ("pw", and "v1" when asked) for account name. */
int account_set_secret(store_txn *t, json_t *j, const char *name, const char *password, size_t plen,
                       bool v1, const account_kdf *kdf)
{
	char enc[256];
	int ret = account_hash_password(password, plen, kdf, enc, sizeof(enc));
	if (ret)
		return ret;
	json_object_set_new(j, "pw", json_string(enc));
	json_object_del(j, "v1");
	if (!v1)
		return 0;
	char secret[65], sealed[2 * (GCM_NONCE + 64 + GCM_TAG) + 3];
	sha256hex(password, plen, secret);
	ret = v1_seal(t, name, secret, sealed, sizeof(sealed));
	OPENSSL_cleanse(secret, sizeof(secret));
	if (!ret)
		json_object_set_new(j, "v1", json_string(sealed));
	return ret;
}

int account_add(store_txn *t, const account *a, const char *password, size_t plen, bool v1,
                const account_kdf *kdf, int64_t now_ms)
{
	char why[128], kb[ACCOUNT_NAME_MAX + 8];
	idn_slice key;
	if (account_name_check(a->name, why, sizeof(why)) ||
	    account_row_key("a", a->name, kb, sizeof(kb), &key))
		return IDN_EINVAL;
	uint8_t tk[32]; /* the node key, made now so that logins only read */
	if (derived_key(t, "idnode token", true, tk))
		return IDN_ECRYPTO;
	account c = *a;
	c.created_ms = now_ms;
	c.gen = 1;
	json_t *j = account_to_json(&c);
	if (!j)
		return IDN_ENOMEM;
	int ret = account_set_secret(t, j, a->name, password, plen, v1, kdf);
	if (!ret)
		ret = account_row_put(t, key, j, STORE_NOOVERWRITE);
	json_decref(j);
	return ret;
}

static json_t *get_row(store_txn *t, const char *name, int *err)
{
	char kb[ACCOUNT_NAME_MAX + 8];
	idn_slice key;
	if (strlen(name) > ACCOUNT_NAME_MAX || account_row_key("a", name, kb, sizeof(kb), &key)) {
		*err = IDN_ENOTFOUND;
		return NULL;
	}
	return account_row_get(t, key, err);
}

int account_get(store_txn *t, const char *name, account *out)
{
	int ret;
	json_t *j = get_row(t, name, &ret);
	if (!j)
		return ret;
	ret = account_from_json(j, out);
	json_decref(j);
	return ret;
}

/* Reads, changes (fn) and writes back the row of name; its generation bumped when bump. */
static int update_row(store_txn *t, const char *name, bool bump,
                      int (*fn)(store_txn *t, json_t *j, void *arg), void *arg)
{
	int ret;
	json_t *j = get_row(t, name, &ret);
	if (!j)
		return ret;
	if (bump)
		json_object_set_new(
		    j, "gen", json_integer(json_integer_value(json_object_get(j, "gen")) + 1));
	ret = fn(t, j, arg);
	char kb[ACCOUNT_NAME_MAX + 8];
	idn_slice key;
	if (!ret)
		ret = account_row_key("a", name, kb, sizeof(kb), &key);
	if (!ret)
		ret = account_row_put(t, key, j, 0);
	json_decref(j);
	return ret;
}

struct pw_arg {
	const char *name, *password;
	size_t plen;
	bool v1;
	const account_kdf *kdf;
};

static int set_pw(store_txn *t, json_t *j, void *arg)
{
	struct pw_arg *p = arg;
	return account_set_secret(t, j, p->name, p->password, p->plen, p->v1, p->kdf);
}

int account_passwd(store_txn *t, const char *name, const char *password, size_t plen, bool v1,
                   const account_kdf *kdf)
{
	struct pw_arg p = {name, password, plen, v1, kdf};
	return update_row(t, name, true, set_pw, &p);
}

static int set_disabled(store_txn *t, json_t *j, void *arg)
{
	(void)t;
	json_object_set_new(j, "disabled", json_boolean(*(bool *)arg));
	return 0;
}

int account_set_disabled(store_txn *t, const char *name, bool disabled)
{
	return update_row(t, name, disabled, set_disabled, &disabled);
}

struct each_arg {
	int (*fn)(void *arg, const account *a);
	void *arg;
};

static int each_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)key;
	struct each_arg *e = arg;
	json_t *j = json_loadb((const char *)val.p, val.len, 0, NULL);
	account a;
	int ret = j && !account_from_json(j, &a) ? e->fn(e->arg, &a) : 0;
	json_decref(j);
	return ret;
}

int account_each(store_txn *t, int (*fn)(void *arg, const account *a), void *arg)
{
	struct each_arg e = {fn, arg};
	return store_tab_scan(t, STORE_TAB_ACCOUNT, IDN_SLICE("a/"), IDN_SLICE(""), each_cb, &e);
}

/* A hash of the default cost no password matches, for names that are no account. */
static char dummy_hash[128];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_make(void)
{
	static const uint8_t salt[SALT_LEN] = "idnode no-such!";
	const account_kdf *k = &account_kdf_default;
	if (argon2id_hash_encoded(k->t_cost, k->m_cost, k->lanes, "-", 1, salt, sizeof(salt),
	                          HASH_LEN, dummy_hash, sizeof(dummy_hash)) != ARGON2_OK)
		dummy_hash[0] = 0;
}

/*
 * An unknown name costs what a wrong password does, so the time of an
 * answer does not tell which names are accounts.
 */
static void spend_as_verify(const char *password, size_t plen)
{
	pthread_once(&dummy_once, dummy_make);
	if (dummy_hash[0] && plen && plen <= ACCOUNT_PASSWORD_MAX)
		(void)argon2id_verify(dummy_hash, password, plen);
}

int account_check_password(store_txn *t, const char *name, const char *password, size_t plen,
                           account *out)
{
	int ret;
	json_t *j = get_row(t, name, &ret);
	if (!j && ret == IDN_ENOTFOUND)
		spend_as_verify(password, plen);
	if (!j)
		return ret == IDN_ENOTFOUND ? 0 : ret;
	const char *enc = jstr(j, "pw");
	ret = plen > 0 && plen <= ACCOUNT_PASSWORD_MAX && *enc &&
	      argon2id_verify(enc, password, plen) == ARGON2_OK;
	if (ret && account_from_json(j, out))
		ret = IDN_ESTORE;
	if (ret == 1 && out->disabled)
		ret = 0;
	json_decref(j);
	return ret;
}

/* "yyyy-MM-dd" of the UTC day of ms, plus days. */
static void utc_date(int64_t ms, int days, char out[16])
{
	time_t s = (time_t)(ms / 1000) + (time_t)days * 86400;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

int account_check_v1(store_txn *t, const char *name, const char *given, size_t glen, int64_t now_ms,
                     account *out)
{
	int ret;
	json_t *j = get_row(t, name, &ret);
	if (!j)
		return ret == IDN_ENOTFOUND ? 0 : ret;
	char secret[65] = "";
	const char *sealed = jstr(j, "v1");
	ret = *sealed ? v1_open(t, name, sealed, secret) : 1;
	int ok = 0;
	for (int d = -1; !ret && d <= 1 && glen == 64; d++) {
		char date[16], k[64 + 16], want[65], low[65];
		utc_date(now_ms, d, date);
		int n = snprintf(k, sizeof(k), "%s%s", secret, date);
		sha256hex(k, (size_t)n, want);
		for (size_t i = 0; i < 64; i++)
			low[i] = (char)tolower((unsigned char)given[i]);
		ok |= CRYPTO_memcmp(want, low, 64) == 0;
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	if (ret < 0 && ret != IDN_ENOTFOUND) {
		json_decref(j);
		return ret;
	}
	if (ok && account_from_json(j, out))
		ok = IDN_ESTORE;
	if (ok == 1 && out->disabled)
		ok = 0;
	json_decref(j);
	return ok;
}

/* ---- tokens: "GEN.EXPIRY.NAME.MAC", MAC = hex HMAC-SHA256 of "GEN.EXPIRY.NAME" ---- */

static int token_mac(store_txn *t, const char *msg, size_t n, bool create, char out[65])
{
	uint8_t key[32], mac[32];
	int ret = derived_key(t, "idnode token", create, key);
	if (ret)
		return ret;
	unsigned len = sizeof(mac);
	if (!HMAC(EVP_sha256(), key, sizeof(key), (const uint8_t *)msg, n, mac, &len))
		ret = IDN_ECRYPTO;
	OPENSSL_cleanse(key, sizeof(key));
	codec_hex_encode(mac, sizeof(mac), out);
	return ret;
}

int account_token_issue(store_txn *t, const account *a, uint32_t life_s, int64_t now_ms, char *out)
{
	long long exp = now_ms / 1000 + life_s;
	int n = snprintf(out, ACCOUNT_TOKEN_MAX + 1, "%u.%lld.%s", a->gen, exp, a->name);
	if (n < 0 || n + 65 > ACCOUNT_TOKEN_MAX)
		return IDN_ESPACE;
	char mac[65];
	int ret = token_mac(t, out, (size_t)n, true, mac);
	if (ret)
		return ret;
	snprintf(out + n, ACCOUNT_TOKEN_MAX + 1 - (size_t)n, ".%s", mac);
	return 0;
}

int account_token_check(store_txn *t, const char *token, size_t len, int64_t now_ms, account *a)
{
	char buf[ACCOUNT_TOKEN_MAX + 1], mac[65];
	if (len < 70 || len > ACCOUNT_TOKEN_MAX || memchr(token, 0, len))
		return 0;
	memcpy(buf, token, len);
	buf[len] = 0;
	if (buf[len - 65] != '.')
		return 0;
	buf[len - 65] = 0;
	int ret = token_mac(t, buf, len - 65, false, mac);
	if (ret == IDN_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	if (CRYPTO_memcmp(mac, token + len - 64, 64))
		return 0;
	char *end, *end2;
	unsigned long gen = strtoul(buf, &end, 10);
	long long exp = *end == '.' ? strtoll(end + 1, &end2, 10) : 0;
	if (*end != '.' || *end2 != '.' || exp * 1000 <= now_ms)
		return 0;
	ret = account_get(t, end2 + 1, a);
	if (ret == IDN_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	return !a->disabled && a->gen == gen;
}

bool account_owns(const account *a, const char *handle, size_t len)
{
	for (unsigned i = 0; i < a->nprefixes; i++) {
		size_t pl = strlen(a->prefixes[i]);
		if (len >= pl && !strncasecmp(handle, a->prefixes[i], pl) &&
		    (len == pl || handle[pl] == '/' || handle[pl] == '.'))
			return true;
	}
	return false;
}
