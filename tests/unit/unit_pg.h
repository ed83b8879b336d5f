/*
 * unit_pg.h - a unit test's cases run again on PostgreSQL: when IDN_TEST_PG
 * names a server (scripts/pg.sh start), a database of the test's own
 * (pg_db_name and the pid) is made before the group and dropped after it;
 * the cases see use_pg and open pg_uri. Test code only (cmocka asserts).
 */
#ifndef IDN_TESTS_UNIT_PG_H
#define IDN_TESTS_UNIT_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *pg_base; /* IDN_TEST_PG, or NULL: LMDB only */
static char pg_uri[1024], pg_db[64];
static bool use_pg;
static const char *pg_db_name = "idn_unit"; /* the database is pg_db_name_PID */

static inline void sql(const char *uri, const char *q)
{
	PGconn *c = PQconnectdb(uri);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PGresult *r = PQexec(c, q);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", q, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static inline int pg_group_setup(void **state)
{
	(void)state;
	snprintf(pg_db, sizeof(pg_db), "%s_%ld", pg_db_name, (long)getpid());
	const char *at = strstr(pg_base, "://"), *slash = at ? strchr(at + 3, '/') : NULL;
	const char *q = at ? strchr(at + 3, '?') : NULL;
	size_t head = slash ? (size_t)(slash - pg_base)
	              : q   ? (size_t)(q - pg_base)
	                    : strlen(pg_base);
	snprintf(pg_uri, sizeof(pg_uri), "%.*s/%s%s", (int)head, pg_base, pg_db, q ? q : "");
	char s[128];
	snprintf(s, sizeof(s), "DROP DATABASE IF EXISTS %s", pg_db);
	sql(pg_base, s);
	snprintf(s, sizeof(s), "CREATE DATABASE %s", pg_db);
	sql(pg_base, s);
	use_pg = true;
	return 0;
}

static inline int pg_group_teardown(void **state)
{
	(void)state;
	char s[128];
	snprintf(s, sizeof(s), "DROP DATABASE IF EXISTS %s WITH (FORCE)", pg_db);
	sql(pg_base, s);
	use_pg = false;
	return 0;
}

#endif
