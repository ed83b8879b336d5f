/*
 * store.c - picks the backend for a store location.
 */
#include "store/store.h"

#include <strings.h>

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
	return store_lmdb_ops.open(location, opts, out);
}
