/*
 * stats_report_accept.c - the parent's side of the statistics reports
 * (node/stats_report.h): the envelope parsed and its signature checked
 * against 0.NA/<prefix>'s HS_PUBKEY values, the report kept per (prefix,
 * day) and added to the reported sums exactly once.
 */
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verify.h"
#include "node/stats_int.h"
#include "node/stats_report.h"
#include "proto/handle.h"
#include "proto/record.h"

enum { KEY_HDR = 5, VAL_LEN = 1 + 8 * (1 + NST_COUNT), ROW_LEN = 8 * (1 + NST_COUNT) };

typedef struct rrow {
	char name[NODE_STATS_KEY_MAX + 1];
	uint64_t v[1 + NST_COUNT]; /* held, then the counters */
} rrow;

typedef struct report {
	char prefix[NODE_STATS_KEY_MAX + 1];
	uint32_t day;
	uint64_t seq;
	uint8_t digest[32]; /* of the document */
	rrow *rows;
	size_t n;
} report;

static int fail(char *err, size_t errlen, int ret, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return ret;
}

static int unhex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	size_t l = strlen(s);
	if (l % 2 || l / 2 > cap)
		return -1;
	for (size_t i = 0; i < l; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | d : d << 4);
	}
	*n = l / 2;
	return 0;
}

/* A row {"prefix":..,"held":..,<counter>:..}: every field present, non-negative. */
static int row_parse(json_t *o, const char *prefix, rrow *r, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(o, "prefix"));
	if (!json_is_object(o) || !name || !*name || strlen(name) > NODE_STATS_KEY_MAX ||
	    strchr(name, '/') || strchr(name, ' '))
		return fail(err, errlen, IDN_EINVAL, "report: a row without a valid prefix");
	if (!node_report_under(name, prefix)) {
		snprintf(err, errlen, "report: row %s is not under %s", name, prefix);
		return IDN_EMISMATCH;
	}
	if (json_object_size(o) != 2 + NST_COUNT)
		return fail(err, errlen, IDN_EINVAL,
		            "report: a row with unknown or missing fields");
	strcpy(r->name, name);
	for (unsigned k = 0; k <= NST_COUNT; k++) {
		json_t *v = json_object_get(o, k ? node_stat_name(k - 1) : "held");
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			snprintf(err, errlen, "report: row %s: %s is not a count", name,
			         k ? node_stat_name(k - 1) : "held");
			return IDN_EINVAL;
		}
		r->v[k] = (uint64_t)json_integer_value(v);
	}
	return IDN_OK;
}

static int doc_parse(const char *doc, report *rp, char *err, size_t errlen)
{
	json_error_t je;
	json_t *d = json_loads(doc, JSON_REJECT_DUPLICATES, &je);
	const char *prefix = json_string_value(json_object_get(d, "prefix"));
	const char *day = json_string_value(json_object_get(d, "day"));
	json_t *seq = json_object_get(d, "seq"), *rows = json_object_get(d, "rows");
	int ret = IDN_OK;
	node_stats_query q;
	char qerr[160];
	if (!d || json_integer_value(json_object_get(d, "v")) != 1 || !prefix || !*prefix ||
	    strlen(prefix) > NODE_STATS_KEY_MAX || !day || !json_is_integer(seq) ||
	    json_integer_value(seq) < 1 || !json_is_array(rows))
		ret = fail(err, errlen, IDN_EINVAL,
		           "report: expected {\"v\":1,\"prefix\",\"day\",\"seq\">0,\"rows\":[]}");
	else if (node_stats_query_parse(&q, NULL, NULL, day, day, "day", 0, qerr, sizeof(qerr)))
		ret = fail(err, errlen, IDN_EINVAL, "report: day is not YYYY-MM-DD");
	else if (json_array_size(rows) > NODE_REPORT_ROWS)
		ret = fail(err, errlen, IDN_ERANGE, "report: too many rows");
	if (!ret) {
		strcpy(rp->prefix, prefix);
		rp->day = q.from;
		rp->seq = (uint64_t)json_integer_value(seq);
		rp->n = json_array_size(rows);
		rp->rows = calloc(rp->n + 1, sizeof(*rp->rows));
		ret = rp->rows ? IDN_OK : IDN_ENOMEM;
	}
	for (size_t i = 0; !ret && i < rp->n; i++)
		ret = row_parse(json_array_get(rows, i), prefix, &rp->rows[i], err, errlen);
	json_decref(d);
	return ret;
}

/* Whether a HS_PUBKEY value of 0.NA/prefix in t verifies sig over the document's digest. */
static int verify(store_txn *t, const report *rp, const uint8_t *sig, size_t siglen,
                  bool case_sensitive)
{
	char ident[NODE_STATS_KEY_MAX + 8];
	snprintf(ident, sizeof(ident), "0.NA/%s", rp->prefix);
	idn_slice id = idn_slice_of(ident, strlen(ident)), raw;
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(id, case_sensitive, key);
	record r;
	if (klen < 0 || store_get(t, idn_slice_of(key, (size_t)klen), &raw) ||
	    record_parse(raw, &r))
		return IDN_ENOTFOUND;
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		if (c.err)
			return IDN_ESTORE;
		if (idn_slice_eq(v.type, IDN_SLICE("HS_PUBKEY")) &&
		    auth_verify_pubkey(v.data, id, IDN_SLICE(NODE_REPORT_NONCE),
		                       idn_slice_of(rp->digest, 32),
		                       idn_slice_of(sig, siglen)) == IDN_OK)
			return IDN_OK;
	}
	return IDN_EMISMATCH;
}

/* Adds sign * v to the reported row (kind, day, name). */
static int add_row(store_txn *t, char kind, uint32_t day, const char *name, size_t n,
                   const uint64_t v[1 + NST_COUNT], int sign)
{
	uint8_t key[KEY_HDR + NODE_STATS_KEY_MAX], val[VAL_LEN];
	idn_slice k = idn_slice_of(key, node_stats_key(key, kind, day, name, n)), old;
	uint64_t cur[1 + NST_COUNT] = {0};
	int ret = store_tab_get(t, STORE_TAB_STATS, k, &old);
	if (ret && ret != IDN_ENOTFOUND)
		return ret;
	if (!ret && old.len >= VAL_LEN && old.p[0] == NODE_STATS_VERSION)
		for (int i = 0; i <= NST_COUNT; i++)
			cur[i] = store_be64(old.p + 1 + 8 * i);
	val[0] = NODE_STATS_VERSION;
	for (int i = 0; i <= NST_COUNT; i++) {
		uint64_t x = sign > 0 ? cur[i] + v[i] : cur[i] > v[i] ? cur[i] - v[i] : 0;
		store_put_be64(val + 1 + 8 * i, x);
	}
	return store_tab_put(t, STORE_TAB_STATS, k, idn_slice_of(val, VAL_LEN), 0);
}

static int add_rows(store_txn *t, uint32_t day, const rrow *rows, size_t n, int sign)
{
	int ret = IDN_OK;
	for (size_t i = 0; !ret && i < n; i++) {
		size_t l = strlen(rows[i].name);
		ret = add_row(t, 'x', day, rows[i].name, l, rows[i].v, sign);
		if (!ret)
			ret = add_row(t, 'X', day, rows[i].name,
			              node_stats_industry(rows[i].name, l), rows[i].v, sign);
	}
	return ret;
}

/* The kept report: version, seq, digest, count, then per row u8 length, name, values. */
static uint8_t *kept_encode(const report *rp, size_t *len)
{
	uint8_t *b = malloc(1 + 8 + 32 + 4 + rp->n * (1 + NODE_STATS_KEY_MAX + ROW_LEN));
	if (!b)
		return NULL;
	b[0] = 1;
	store_put_be64(b + 1, rp->seq);
	memcpy(b + 9, rp->digest, 32);
	uint8_t *p = b + 41;
	*p++ = (uint8_t)(rp->n >> 24), *p++ = (uint8_t)(rp->n >> 16);
	*p++ = (uint8_t)(rp->n >> 8), *p++ = (uint8_t)rp->n;
	for (size_t i = 0; i < rp->n; i++) {
		size_t l = strlen(rp->rows[i].name);
		*p++ = (uint8_t)l;
		memcpy(p, rp->rows[i].name, l);
		p += l;
		for (int k = 0; k <= NST_COUNT; k++, p += 8)
			store_put_be64(p, rp->rows[i].v[k]);
	}
	*len = (size_t)(p - b);
	return b;
}

static int kept_decode(idn_slice v, report *rp)
{
	if (v.len < 45 || v.p[0] != 1)
		return IDN_ESTORE;
	rp->seq = store_be64(v.p + 1);
	memcpy(rp->digest, v.p + 9, 32);
	size_t n = (size_t)v.p[41] << 24 | (size_t)v.p[42] << 16 | (size_t)v.p[43] << 8 | v.p[44];
	const uint8_t *p = v.p + 45, *end = v.p + v.len;
	rp->rows = calloc(n + 1, sizeof(*rp->rows));
	if (!rp->rows)
		return IDN_ENOMEM;
	for (rp->n = 0; rp->n < n; rp->n++) {
		if (p >= end || *p > NODE_STATS_KEY_MAX || (size_t)(end - p) < 1u + *p + ROW_LEN)
			return IDN_ESTORE;
		rrow *r = &rp->rows[rp->n];
		memcpy(r->name, p + 1, *p);
		p += 1 + *p;
		for (int k = 0; k <= NST_COUNT; k++, p += 8)
			r->v[k] = store_be64(p);
	}
	return IDN_OK;
}

/* In t: the day's kept report compared, then replaced. */
static int keep(store_txn *t, const report *rp, enum node_report_outcome *outcome, char *err,
                size_t errlen)
{
	uint8_t key[KEY_HDR + NODE_STATS_KEY_MAX];
	idn_slice k =
	    idn_slice_of(key, node_stats_key(key, 'r', rp->day, rp->prefix, strlen(rp->prefix)));
	idn_slice v;
	report old = {0};
	int ret = store_tab_get(t, STORE_TAB_STATS, k, &v);
	if (ret == IDN_ENOTFOUND)
		ret = IDN_OK;
	else if (!ret && !(ret = kept_decode(v, &old))) {
		if (old.seq == rp->seq && !memcmp(old.digest, rp->digest, 32)) {
			*outcome = NODE_REPORT_DUPLICATE;
			free(old.rows);
			return IDN_OK;
		}
		if (old.seq >= rp->seq) {
			snprintf(err, errlen,
			         "report: %s of that day already has sequence %llu: a replay",
			         rp->prefix, (unsigned long long)old.seq);
			free(old.rows);
			return IDN_EEXIST;
		}
		ret = add_rows(t, rp->day, old.rows, old.n, -1);
	}
	free(old.rows);
	if (!ret)
		ret = add_rows(t, rp->day, rp->rows, rp->n, 1);
	size_t len = 0;
	uint8_t *b = ret ? NULL : kept_encode(rp, &len);
	if (!ret)
		ret =
		    b ? store_tab_put(t, STORE_TAB_STATS, k, idn_slice_of(b, len), 0) : IDN_ENOMEM;
	free(b);
	*outcome = NODE_REPORT_ACCEPTED;
	return ret;
}

/* The envelope: the document (malloc'd) and the signature. */
static int envelope_parse(const uint8_t *env, size_t len, char **doc, uint8_t *sig, size_t cap,
                          size_t *siglen, char *err, size_t errlen)
{
	json_error_t je;
	json_t *e = json_loadb((const char *)env, len, JSON_REJECT_DUPLICATES, &je);
	const char *d = json_string_value(json_object_get(e, "report"));
	const char *s = json_string_value(json_object_get(e, "signature"));
	int ret = IDN_OK;
	if (!d || !s || json_object_size(e) != 2)
		ret = fail(err, errlen, IDN_EINVAL,
		           "expected {\"report\":\"<JSON document>\",\"signature\":\"<hex>\"}");
	else if (unhex(s, sig, cap, siglen))
		ret = fail(err, errlen, IDN_EINVAL, "signature: not hex, or too long");
	else if (!(*doc = strdup(d)))
		ret = IDN_ENOMEM;
	json_decref(e);
	return ret;
}

int node_report_accept(store *s, const uint8_t *env, size_t len, bool case_sensitive,
                       enum node_report_outcome *outcome, char *err, size_t errlen)
{
	uint8_t sig[4096];
	size_t siglen = 0;
	char *doc = NULL;
	report rp = {0};
	if (len > NODE_REPORT_MAX)
		return fail(err, errlen, IDN_ERANGE, "report over its size bound");
	int ret = envelope_parse(env, len, &doc, sig, sizeof(sig), &siglen, err, errlen);
	if (!ret)
		ret = doc_parse(doc, &rp, err, errlen);
	if (!ret)
		SHA256((const uint8_t *)doc, strlen(doc), rp.digest);
	free(doc);
	/* Checked on a reader: a stranger's forgeries never wait for the writer. */
	store_txn *t = NULL;
	if (!ret)
		ret = store_txn_begin(s, STORE_RDONLY, &t);
	if (!ret) {
		int v = verify(t, &rp, sig, siglen, case_sensitive);
		store_txn_abort(t);
		t = NULL;
		if (v == IDN_ENOTFOUND || v == IDN_EMISMATCH)
			snprintf(err, errlen, "report for %s: %s", rp.prefix,
			         v == IDN_ENOTFOUND ? "no record 0.NA/<prefix> here"
			                            : "the signature does not verify against "
			                              "0.NA/<prefix>'s HS_PUBKEY");
		ret = v == IDN_ENOTFOUND ? IDN_EMISMATCH : v;
	}
	if (!ret)
		ret = store_txn_begin(s, 0, &t);
	if (!ret)
		ret = keep(t, &rp, outcome, err, errlen);
	if (t && (ret || *outcome == NODE_REPORT_DUPLICATE))
		store_txn_abort(t);
	else if (t)
		ret = store_txn_commit(t);
	free(rp.rows);
	return ret;
}
