/*
 * store.c - picks the backend for a store location and checks the store's
 * format version (migrating an older one); homes prefixes given as text.
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"

static int has_scheme(const char *location, const char *scheme)
{
	/* URI schemes are case-insensitive (RFC 3986, 3.1). */
	return strncasecmp(location, scheme, strlen(scheme)) == 0;
}

/*
 * The migrations, in order: migrations[v] takes a store of version v to v + 1
 * inside the transaction that stamps it. Version 0 is a store written before
 * versions were kept, whose layout is version 1's: nothing to change.
 */
static int (*const migrations[STORE_FORMAT_VERSION])(store_txn *t) = {NULL};

/* The store's format version (0: none yet), from t. */
static int format_of(store_txn *t, uint64_t *v)
{
	idn_slice val;
	int rc = store_meta_get(t, STORE_FORMAT_META, &val);
	if (rc == IDN_ENOTFOUND) {
		*v = 0;
		return IDN_OK;
	}
	if (rc)
		return rc;
	if (val.len != 8) {
		fprintf(stderr,
		        "store: the format version (meta value %s) is %u bytes, not 8: "
		        "not a store this idnode understands\n",
		        STORE_FORMAT_META, (unsigned)val.len);
		return IDN_EVERSION;
	}
	*v = store_be64(val.p);
	return IDN_OK;
}

/* Refuses a newer store; migrates an older one and stamps it, in one write transaction. */
static int format_newer(uint64_t v)
{
	fprintf(stderr,
	        "store: format version %llu is newer than this idnode understands (%d): "
	        "upgrade idnode to open it\n",
	        (unsigned long long)v, STORE_FORMAT_VERSION);
	return IDN_EVERSION;
}

static int format_check(store *s)
{
	store_txn *t;
	uint64_t v;
	int rc = store_txn_begin(s, STORE_RDONLY, &t);
	if (rc)
		return rc;
	rc = format_of(t, &v);
	store_txn_abort(t);
	if (rc || v == STORE_FORMAT_VERSION)
		return rc;
	if (v > STORE_FORMAT_VERSION)
		return format_newer(v);
	if ((rc = store_txn_begin(s, 0, &t)))
		return rc;
	rc = format_of(t, &v);                 /* another process may have stamped it meanwhile */
	if (!rc && v > STORE_FORMAT_VERSION) { /* ... even a newer idnode: never stamp it back */
		store_txn_abort(t);
		return format_newer(v);
	}
	for (; !rc && v < STORE_FORMAT_VERSION; v++)
		if (migrations[v])
			rc = migrations[v](t);
	uint8_t be[8];
	store_put_be64(be, STORE_FORMAT_VERSION);
	if (!rc)
		rc = store_meta_put(t, STORE_FORMAT_META, idn_slice_of(be, sizeof(be)));
	if (rc) {
		store_txn_abort(t);
		return rc;
	}
	return store_txn_commit(t);
}

int store_open(const char *location, const store_opts *opts, store **out)
{
	if (!out)
		return IDN_EINVAL;
	*out = NULL;
	if (!location || !*location)
		return IDN_EINVAL;
	int rc;
	if (has_scheme(location, "postgresql://") || has_scheme(location, "postgres://"))
		rc = store_pg_ops.open(location, opts, out);
	else if (opts && opts->read_location)
		return IDN_EINVAL; /* a separate read location is PostgreSQL's (replicas) */
	else
		rc = store_lmdb_ops.open(location, opts, out);
	if (rc)
		return rc;
	if ((rc = format_check(*out))) {
		store_close(*out);
		*out = NULL;
	}
	return rc;
}

uint64_t store_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void store_put_be64(uint8_t *p, uint64_t v)
{
	idn_put_be32(p, (uint32_t)(v >> 32));
	idn_put_be32(p + 4, (uint32_t)v);
}

uint64_t store_be64(const uint8_t *p)
{
	return ((uint64_t)idn_be32(p) << 32) | idn_be32(p + 4);
}

int store_tab_key(unsigned tab, idn_slice key, uint8_t *buf, idn_slice *out)
{
	if (tab == 0 || tab > STORE_TAB_MAX || (key.len && !key.p))
		return IDN_EINVAL;
	if (key.len > STORE_TAB_KEY_MAX)
		return IDN_ERANGE;
	buf[0] = (uint8_t)tab;
	if (key.len)
		memcpy(buf + 1, key.p, key.len);
	*out = idn_slice_of(buf, key.len + 1);
	return IDN_OK;
}

int store_home_prefixes(store *s, const char *const *prefixes, size_t n, size_t *bad)
{
	store_txn *t;
	int rc;
	if (n == 0)
		return IDN_OK;
	if ((rc = store_txn_begin(s, 0, &t)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		idn_slice p = idn_slice_of(prefixes[i], strlen(prefixes[i])), na;
		uint8_t norm[HANDLE_KEY_MAX];
		if (handle_na_prefix(p, &na) == IDN_OK) /* "0.NA/88.100" means "88.100" */
			p = na;
		int len = handle_prefix_norm(p, norm, sizeof(norm));
		if (len <= 0 || memchr(p.p, '/', p.len)) {
			*bad = i;
			store_txn_abort(t);
			return IDN_EINVAL;
		}
		if ((rc = store_home(t, idn_slice_of(norm, (size_t)len)))) {
			store_txn_abort(t);
			return rc;
		}
	}
	return store_txn_commit(t);
}
