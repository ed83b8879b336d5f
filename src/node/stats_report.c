/*
 * stats_report.c - the reports of daily statistics to the parent
 * (node/stats_report.h): building and signing one on the child, the
 * acknowledged days, and checking, keeping and summing them on the parent.
 */
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verify.h"
#include "node/stats_int.h"
#include "node/stats_report.h"

enum { KEY_HDR = 5, ACK_LEN = 1 + 8 + 32 };

bool node_report_under(const char *name, const char *prefix)
{
	size_t nl = strlen(name), pl = strlen(prefix);
	return nl >= pl && !memcmp(name, prefix, pl) && (nl == pl || name[pl] == '.');
}

/* ---- the child: the day's rows ---- */

typedef struct rows {
	node_stats_row *r;
	size_t n, cap;
	const char *prefix;
} rows;

static int collect_cb(void *arg, const node_stats_row *row)
{
	rows *rs = arg;
	if (!node_report_under(row->name, rs->prefix))
		return 0;
	if (rs->n == rs->cap)
		return IDN_ERANGE;
	rs->r[rs->n++] = *row;
	return 0;
}

/* The day's own rows and reported rows under prefix, merged by name into out (sorted). */
static int day_rows(store *s, const char *prefix, uint32_t day, rows *out)
{
	rows own = {.cap = NODE_REPORT_ROWS, .prefix = prefix};
	rows rep = own;
	own.r = calloc(NODE_REPORT_ROWS, sizeof(*own.r));
	rep.r = calloc(NODE_REPORT_ROWS, sizeof(*rep.r));
	out->r = calloc(2 * NODE_REPORT_ROWS, sizeof(*out->r));
	out->n = 0;
	int ret = own.r && rep.r && out->r ? IDN_OK : IDN_ENOMEM;
	node_stats_query q = {.from = day, .to = day};
	if (!ret)
		ret = node_stats_read(s, &q, collect_cb, &own);
	q.reported = true;
	if (!ret)
		ret = node_stats_read(s, &q, collect_cb, &rep);
	size_t i = 0, j = 0;
	while (!ret && (i < own.n || j < rep.n)) {
		int c = i == own.n ? 1 : j == rep.n ? -1 : strcmp(own.r[i].name, rep.r[j].name);
		node_stats_row *o = &out->r[out->n++];
		*o = c <= 0 ? own.r[i] : rep.r[j];
		if (c == 0) {
			o->held += rep.r[j].held;
			for (int k = 0; k < NST_COUNT; k++)
				o->c[k] += rep.r[j].c[k];
		}
		i += c <= 0;
		j += c >= 0;
	}
	free(own.r);
	free(rep.r);
	return ret;
}

static json_t *rows_json(const rows *rs)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < rs->n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "prefix", json_string(rs->r[i].name));
		json_object_set_new(o, "held", json_integer((json_int_t)rs->r[i].held));
		for (unsigned k = 0; k < NST_COUNT; k++)
			json_object_set_new(o, node_stat_name(k),
			                    json_integer((json_int_t)rs->r[i].c[k]));
		json_array_append_new(a, o);
	}
	return a;
}

static int ack_get(store *s, const char *prefix, uint32_t day, uint64_t *seq, uint8_t digest[32])
{
	uint8_t key[KEY_HDR + 256];
	size_t pl = strlen(prefix);
	if (pl > 250)
		return IDN_EINVAL;
	store_txn *t;
	int ret = store_txn_begin(s, STORE_RDONLY, &t);
	if (ret)
		return ret;
	idn_slice v;
	ret = store_tab_get(t, STORE_TAB_STATS,
	                    idn_slice_of(key, node_stats_key(key, 'a', day, prefix, pl)), &v);
	if (!ret && (v.len != ACK_LEN || v.p[0] != 1))
		ret = IDN_ENOTFOUND;
	if (!ret) {
		*seq = store_be64(v.p + 1);
		memcpy(digest, v.p + 9, 32);
	}
	store_txn_abort(t);
	return ret;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* The envelope of document doc signed with priv as 0.NA/prefix. */
static char *envelope(const char *doc, const char *prefix, EVP_PKEY *priv)
{
	uint8_t dg[32], sig[4096];
	char ident[300], hx[2 * sizeof(sig) + 1];
	SHA256((const uint8_t *)doc, strlen(doc), dg);
	snprintf(ident, sizeof(ident), "0.NA/%s", prefix);
	wire_wr w = wire_wr_init(sig, sizeof(sig));
	if (auth_respond_pubkey(priv, idn_slice_of(ident, strlen(ident)), 1,
	                        IDN_SLICE(NODE_REPORT_NONCE), idn_slice_of(dg, 32), &w) ||
	    w.err)
		return NULL;
	hex(sig, (size_t)(w.pos - w.start), hx);
	json_t *e = json_pack("{s:s, s:s}", "report", doc, "signature", hx);
	char *out = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(e);
	return out;
}

int node_report_build(store *s, const char *prefix, uint32_t day, EVP_PKEY *priv, node_report *out)
{
	memset(out, 0, sizeof(*out));
	rows rs = {0};
	int ret = day_rows(s, prefix, day, &rs);
	json_t *a = ret ? NULL : rows_json(&rs);
	free(rs.r);
	char *rtext = a ? json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (!rtext) {
		json_decref(a);
		return ret ? ret : IDN_ENOMEM;
	}
	SHA256((const uint8_t *)rtext, strlen(rtext), out->digest);
	free(rtext);
	uint64_t seq = 0;
	uint8_t acked[32];
	ret = ack_get(s, prefix, day, &seq, acked);
	if (ret && ret != IDN_ENOTFOUND) {
		json_decref(a);
		return ret;
	}
	if (!ret && !memcmp(acked, out->digest, 32)) {
		json_decref(a);
		return 0; /* the parent has these rows */
	}
	out->seq = seq + 1;
	char dstr[16];
	node_stats_row b = {.bucket = day};
	node_stats_period(&b, dstr, sizeof(dstr));
	json_t *d = json_pack("{s:i, s:s, s:s, s:I, s:o}", "v", 1, "prefix", prefix, "day", dstr,
	                      "seq", (json_int_t)out->seq, "rows", a);
	char *doc = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(d);
	out->envelope = doc ? envelope(doc, prefix, priv) : NULL;
	free(doc);
	if (!out->envelope)
		return IDN_ECRYPTO;
	out->len = strlen(out->envelope);
	return 1;
}

int node_report_acked(store *s, const char *prefix, uint32_t day, const node_report *r)
{
	uint8_t key[KEY_HDR + 256], val[ACK_LEN];
	size_t pl = strlen(prefix);
	if (pl > 250)
		return IDN_EINVAL;
	val[0] = 1;
	store_put_be64(val + 1, r->seq);
	memcpy(val + 9, r->digest, 32);
	store_txn *t;
	int ret = store_txn_begin(s, 0, &t);
	if (ret)
		return ret;
	ret = store_tab_put(t, STORE_TAB_STATS,
	                    idn_slice_of(key, node_stats_key(key, 'a', day, prefix, pl)),
	                    idn_slice_of(val, ACK_LEN), 0);
	if (ret)
		store_txn_abort(t);
	else
		ret = store_txn_commit(t);
	return ret;
}

int node_report_used(store *s, const char *prefix, uint32_t day, const node_report *r)
{
	node_report u = *r;
	memset(u.digest, 0, sizeof(u.digest)); /* the SHA-256 of no rows we build */
	return node_report_acked(s, prefix, day, &u);
}

void node_report_free(node_report *r)
{
	free(r->envelope);
	memset(r, 0, sizeof(*r));
}
