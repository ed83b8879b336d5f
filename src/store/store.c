/*
 * store.c - picks the backend for a store location.
 */
#include "store/store.h"

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
