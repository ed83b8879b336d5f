/*
 * store.c - picks the backend for a store location; homes prefixes given as
 * text.
 */
#include "store/store.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"

static int has_scheme(const char *location, const char *scheme)
{
	/* URI schemes are case-insensitive (RFC 3986, 3.1). */
	return strncasecmp(location, scheme, strlen(scheme)) == 0;
}

int store_open(const char *location, const store_opts *opts, store **out)
{
	if (!out)
		return IDN_EINVAL;
	*out = NULL;
	if (!location || !*location)
		return IDN_EINVAL;
	if (has_scheme(location, "postgresql://") || has_scheme(location, "postgres://"))
		return store_pg_ops.open(location, opts, out);
	if (opts && opts->read_location)
		return IDN_EINVAL; /* a separate read location is PostgreSQL's (replicas) */
	return store_lmdb_ops.open(location, opts, out);
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
