/*
 * stats_read.c - the statistics' buckets read back and pruned
 * (node/stats.h): retention, queries by prefix or industry over a period,
 * the filters the API and the CLI share, and rows as CSV and JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/stats.h"

enum { KEY_HDR = 5, VAL_LEN = 1 + 8 * (1 + NST_COUNT), PRUNE_BATCH = 4096 };

static void put_bucket(uint8_t *key, char kind, uint32_t bucket)
{
	key[0] = (uint8_t)kind;
	key[1] = (uint8_t)(bucket >> 24);
	key[2] = (uint8_t)(bucket >> 16);
	key[3] = (uint8_t)(bucket >> 8);
	key[4] = (uint8_t)bucket;
}

static uint32_t key_bucket(const uint8_t *k)
{
	return (uint32_t)k[1] << 24 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 8 | k[4];
}

/* ---- retention ---- */

typedef struct prune_scan {
	uint32_t cutoff;
	size_t n, max;
	uint8_t (*keys)[KEY_HDR + NODE_STATS_KEY_MAX];
	uint8_t *lens;
} prune_scan;

static int prune_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	prune_scan *ps = arg;
	if (key.len < KEY_HDR || key_bucket(key.p) >= ps->cutoff)
		return 1; /* in bucket order: the rest is kept */
	if (ps->n == ps->max || key.len > KEY_HDR + NODE_STATS_KEY_MAX)
		return 1;
	memcpy(ps->keys[ps->n], key.p, key.len);
	ps->lens[ps->n++] = (uint8_t)key.len;
	return 0;
}

/* Deletes up to max keys of kind below cutoff; *n says how many. */
static int prune_kind(store *s, char kind, uint32_t cutoff, size_t max, size_t *n)
{
	prune_scan ps = {.cutoff = cutoff, .max = max < PRUNE_BATCH ? max : PRUNE_BATCH};
	ps.keys = malloc(ps.max * sizeof(*ps.keys));
	ps.lens = malloc(ps.max);
	store_txn *t = NULL;
	int ret = ps.keys && ps.lens ? store_txn_begin(s, 0, &t) : IDN_ENOMEM;
	if (!ret) {
		uint8_t k = (uint8_t)kind;
		ret = store_tab_scan(t, STORE_TAB_STATS, idn_slice_of(&k, 1), idn_slice_of(&k, 1),
		                     prune_cb, &ps);
		ret = ret == 1 ? IDN_OK : ret;
		for (size_t i = 0; i < ps.n && !ret; i++)
			ret =
			    store_tab_del(t, STORE_TAB_STATS, idn_slice_of(ps.keys[i], ps.lens[i]));
		if (ret)
			store_txn_abort(t);
		else
			ret = store_txn_commit(t);
	}
	*n = ret ? 0 : ps.n;
	free(ps.keys);
	free(ps.lens);
	return ret;
}

int node_stats_prune(store *s, uint32_t now, unsigned hour_days, unsigned day_days, size_t max,
                     size_t *deleted)
{
	/* hours; days, the children's reports, kept ('r') and acknowledged ('a') ones */
	static const char kinds[] = "hHdDxXra";
	*deleted = 0;
	if (!max)
		max = SIZE_MAX;
	for (int i = 0; i < 8; i++) {
		unsigned keep = i < 2 ? hour_days : day_days;
		if (!keep)
			continue;
		uint32_t cutoff = i < 2 ? now / 3600 - keep * 24 : now / 86400 - keep;
		for (;;) {
			size_t n = 0;
			int ret = prune_kind(s, kinds[i], cutoff, max - *deleted, &n);
			if (ret)
				return ret;
			*deleted += n;
			if (n < PRUNE_BATCH || *deleted >= max)
				break;
		}
		if (*deleted >= max)
			break;
	}
	return IDN_OK;
}

/* ---- reading ---- */

typedef struct read_scan {
	const node_stats_query *q;
	int (*fn)(void *arg, const node_stats_row *r);
	void *arg;
	size_t rows;
} read_scan;

static int row_of(read_scan *rs, idn_slice key, idn_slice val)
{
	const node_stats_query *q = rs->q;
	size_t max = q->max_rows ? q->max_rows : NODE_STATS_MAX_ROWS;
	if (key.len <= KEY_HDR || key.len > KEY_HDR + NODE_STATS_KEY_MAX || val.len < VAL_LEN ||
	    val.p[0] != NODE_STATS_VERSION)
		return 0; /* not a row this version writes */
	if (++rs->rows > max)
		return IDN_ERANGE;
	node_stats_row r = {
	    .bucket = key_bucket(key.p), .hourly = q->hourly, .industry = q->industry};
	memcpy(r.name, key.p + KEY_HDR, key.len - KEY_HDR);
	r.name[key.len - KEY_HDR] = 0;
	r.held = store_be64(val.p + 1);
	for (int i = 0; i < NST_COUNT; i++)
		r.c[i] = store_be64(val.p + 9 + 8 * i);
	return rs->fn(rs->arg, &r);
}

static int read_cb(void *arg, idn_slice key, idn_slice val)
{
	read_scan *rs = arg;
	if (key.len < KEY_HDR || key_bucket(key.p) > rs->q->to)
		return 1; /* past the period */
	int ret = row_of(rs, key, val);
	return ret == 1 ? 2 : ret; /* (1 means "past the period" here) */
}

static int read_in(store_txn *t, read_scan *rs)
{
	const node_stats_query *q = rs->q;
	char kind = q->hourly ? (q->industry ? 'H' : 'h') : (q->industry ? 'D' : 'd');
	if (q->reported) /* children's reports (node/stats_report.h): days only */
		kind = q->industry ? 'X' : 'x';
	uint8_t key[KEY_HDR + NODE_STATS_KEY_MAX];
	if (!q->name) {
		put_bucket(key, kind, q->from);
		int ret = store_tab_scan(t, STORE_TAB_STATS, idn_slice_of(key, 1),
		                         idn_slice_of(key, KEY_HDR), read_cb, rs);
		return ret == 1 ? IDN_OK : ret == 2 ? 1 : ret;
	}
	size_t n = strlen(q->name);
	if (n > NODE_STATS_KEY_MAX)
		return IDN_OK;
	memcpy(key + KEY_HDR, q->name, n);
	for (uint32_t b = q->from; b <= q->to; b++) {
		put_bucket(key, kind, b);
		idn_slice v;
		int ret = store_tab_get(t, STORE_TAB_STATS, idn_slice_of(key, KEY_HDR + n), &v);
		if (ret == IDN_ENOTFOUND)
			continue;
		if (!ret)
			ret = row_of(rs, idn_slice_of(key, KEY_HDR + n), v);
		if (ret)
			return ret;
	}
	return IDN_OK;
}

int node_stats_read(store *s, const node_stats_query *q,
                    int (*fn)(void *arg, const node_stats_row *r), void *arg)
{
	store_txn *t;
	int ret = store_txn_begin(s, STORE_RDONLY, &t);
	if (ret)
		return ret;
	read_scan rs = {.q = q, .fn = fn, .arg = arg};
	ret = read_in(t, &rs);
	store_txn_abort(t);
	return ret;
}

/* ---- filters ---- */

/* "YYYY-MM-DD" (a day) or, hourly, "YYYY-MM-DDTHH": the bucket, or -1. */
static int64_t parse_period(const char *s, bool hourly)
{
	int y, mo, d, h = 0, used = 0;
	size_t n = strlen(s);
	if (n == 10             ? sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3
	    : n == 13 && hourly ? sscanf(s, "%4d-%2d-%2dT%2d%n", &y, &mo, &d, &h, &used) != 4
	                        : true)
		return -1;
	if ((size_t)used != n || y < 1970 || y > 2105 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h < 0 || h > 23)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (i != 4 && i != 7 && i != 10 && (s[i] < '0' || s[i] > '9'))
			return -1;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h};
	time_t t = timegm(&tm);
	if (tm.tm_mday != d || tm.tm_mon != mo - 1) /* 2026-02-30 */
		return -1;
	return hourly ? (int64_t)t / 3600 : (int64_t)t / 86400;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > NODE_STATS_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '/' || s[i] == 0x7f)
			return false;
	return true;
}

static int bad(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return IDN_EINVAL;
}

int node_stats_query_parse(node_stats_query *q, const char *prefix, const char *industry,
                           const char *from, const char *to, const char *granularity, uint32_t now,
                           char *err, size_t errlen)
{
	memset(q, 0, sizeof(*q));
	if (granularity && strcmp(granularity, "day") && strcmp(granularity, "hour"))
		return bad(err, errlen, "granularity: expected hour or day");
	q->hourly = granularity && !strcmp(granularity, "hour");
	if (prefix && industry)
		return bad(err, errlen, "give prefix or industry, not both");
	const char *name = prefix ? prefix : industry;
	if (name && !name_ok(name))
		return bad(err, errlen,
		           "prefix/industry: expected a prefix such as 88.100.7 (at most 64 "
		           "bytes, no spaces or '/')");
	q->industry = industry != NULL;
	int64_t t = to ? parse_period(to, q->hourly) : (q->hourly ? now / 3600 : now / 86400);
	if (t < 0)
		return bad(err, errlen,
		           q->hourly ? "to: expected YYYY-MM-DD or YYYY-MM-DDTHH (UTC)"
		                     : "to: expected YYYY-MM-DD (UTC; YYYY-MM-DDTHH with "
		                       "granularity=hour)");
	int64_t f = from ? parse_period(from, q->hourly) : t - (q->hourly ? 23 : 6);
	if (f < 0)
		return bad(err, errlen,
		           q->hourly ? "from: expected YYYY-MM-DD or YYYY-MM-DDTHH (UTC)"
		                     : "from: expected YYYY-MM-DD (UTC; YYYY-MM-DDTHH with "
		                       "granularity=hour)");
	if (f > t)
		return bad(err, errlen, "from is after to");
	if (t - f + 1 > NODE_STATS_MAX_BUCKETS) {
		snprintf(err, errlen,
		         "the period spans %lld %ss: at most %d in one answer (ask for less, or "
		         "granularity=day)",
		         (long long)(t - f + 1), q->hourly ? "hour" : "day",
		         NODE_STATS_MAX_BUCKETS);
		return IDN_EINVAL;
	}
	q->from = (uint32_t)f;
	q->to = (uint32_t)t;
	q->name = name;
	return IDN_OK;
}

/* ---- rows ---- */

void node_stats_period(const node_stats_row *r, char *out, size_t cap)
{
	time_t t = (time_t)r->bucket * (r->hourly ? 3600 : 86400);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, r->hourly ? "%Y-%m-%dT%H" : "%Y-%m-%d", &tm);
}

int node_stats_csv_header(char *out, size_t cap)
{
	int n = snprintf(out, cap, "period,granularity,kind,name,industry,held");
	for (int i = 0; i < NST_COUNT && n >= 0 && (size_t)n < cap; i++)
		n += snprintf(out + n, cap - (size_t)n, ",%s", node_stat_name(i));
	if (n >= 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, "\r\n");
	return n;
}

/* Names are checked at the door (name_ok) and made by the node; quoted all the same. */
static int csv_name(char *out, size_t cap, const char *s, size_t len)
{
	size_t n = 0;
	if (n < cap)
		out[n] = '"';
	n++;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"') {
			if (n < cap)
				out[n] = '"';
			n++;
		}
		if (n < cap)
			out[n] = s[i];
		n++;
	}
	if (n < cap)
		out[n] = '"';
	return (int)++n;
}

int node_stats_csv_row(const node_stats_row *r, char *out, size_t cap)
{
	char period[32];
	node_stats_period(r, period, sizeof(period));
	int n = snprintf(out, cap, "%s,%s,%s,", period, r->hourly ? "hour" : "day",
	                 r->industry ? "industry" : "prefix");
	size_t len = strlen(r->name);
	size_t ind = r->industry ? len : node_stats_industry(r->name, len);
	n += csv_name(out + n, (size_t)n < cap ? cap - (size_t)n : 0, r->name, len);
	if ((size_t)n < cap)
		out[n] = ',';
	n++;
	n += csv_name(out + n, (size_t)n < cap ? cap - (size_t)n : 0, r->name, ind);
	n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, ",%llu",
	              (unsigned long long)r->held);
	for (int i = 0; i < NST_COUNT; i++)
		n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, ",%llu",
		              (unsigned long long)r->c[i]);
	n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, "\r\n");
	return n;
}

/* s (n bytes) as the inside of a JSON string: '"', '\\' and controls escaped. */
static void json_escape(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
}

int node_stats_json_row(const node_stats_row *r, char *out, size_t cap)
{
	char period[32], name[4 * NODE_STATS_KEY_MAX + 16], ind[4 * NODE_STATS_KEY_MAX + 16];
	node_stats_period(r, period, sizeof(period));
	size_t len = strlen(r->name);
	size_t il = r->industry ? len : node_stats_industry(r->name, len);
	json_escape(name, sizeof(name), r->name, len);
	json_escape(ind, sizeof(ind), r->name, il);
	int n = snprintf(out, cap, "{\"period\":\"%s\",\"%s\":\"%s\",", period,
	                 r->industry ? "industry" : "prefix", name);
	if (!r->industry)
		n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0,
		              "\"industry\":\"%s\",", ind);
	n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, "\"held\":%llu",
	              (unsigned long long)r->held);
	for (int i = 0; i < NST_COUNT; i++)
		n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, ",\"%s\":%llu",
		              node_stat_name(i), (unsigned long long)r->c[i]);
	n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, "}");
	return n;
}
