/*
 * audit.c - the audit log (account.h): rows of STORE_TAB_AUDIT keyed by
 * be64 time in ms | be32 sequence (so a scan is in time order), each a JSON
 * object; pruned at append past the retention, a bounded number at a time;
 * read in pages with a cursor (the hex of the next row's key).
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "node/account.h"
#include "proto/handle.h"

enum {
	AUDIT_KEY_LEN = 12,
	PRUNE_MAX = 64,         /* rows deleted by one append */
	READ_SCAN_MAX = 100000, /* rows looked at for one page (filters) */
	READ_LIMIT_MAX = 1000,
};

static atomic_uint audit_seq;

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

struct prune_arg {
	uint8_t keys[PRUNE_MAX][AUDIT_KEY_LEN];
	unsigned n;
	uint64_t before;
};

static int prune_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	struct prune_arg *p = arg;
	if (key.len != AUDIT_KEY_LEN || get_be64(key.p) >= p->before || p->n == PRUNE_MAX)
		return 1;
	memcpy(p->keys[p->n++], key.p, AUDIT_KEY_LEN);
	return 0;
}

static int prune(store_txn *t, int64_t now_ms, uint32_t days)
{
	struct prune_arg p = {.before = (uint64_t)(now_ms - (int64_t)days * 86400000)};
	int ret = store_tab_scan(t, STORE_TAB_AUDIT, IDN_SLICE(""), IDN_SLICE(""), prune_cb, &p);
	if (ret < 0)
		return ret;
	ret = 0;
	for (unsigned i = 0; i < p.n && !ret; i++)
		ret = store_tab_del(t, STORE_TAB_AUDIT, idn_slice_of(p.keys[i], AUDIT_KEY_LEN));
	return ret == IDN_ENOTFOUND ? 0 : ret;
}

/*
 * Makes s valid UTF-8 in place (JSON takes nothing else): a byte that starts
 * no valid sequence becomes '?', so a field cut at its size in the middle of
 * a character, or bytes a caller sent, cannot make the entry unwritable.
 */
static void utf8_fix(char *s)
{
	uint8_t *p = (uint8_t *)s, *end = p + strlen(s);
	while (p < end) {
		size_t n = handle_utf8_seq(p, end);
		if (!n) {
			*p = '?';
			n = 1;
		}
		p += n;
	}
}

int audit_append(store_txn *t, audit_entry *e, int64_t now_ms, uint32_t retention_days)
{
	char *text[] = {e->who, e->identity, e->op, e->target, e->message, e->from};
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		utf8_fix(text[i]);
	e->time_ms = now_ms;
	e->seq = atomic_fetch_add(&audit_seq, 1);
	uint8_t key[AUDIT_KEY_LEN];
	put_be64(key, (uint64_t)now_ms);
	idn_put_be32(key + 8, e->seq);
	json_t *j =
	    json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:s,s:s}", "time", (json_int_t)now_ms, "who",
	              e->who, "identity", e->identity, "op", e->op, "target", e->target, "result",
	              e->result, "message", e->message, "from", e->from);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return IDN_ENOMEM;
	int ret = store_tab_put(t, STORE_TAB_AUDIT, idn_slice_of(key, sizeof(key)),
	                        idn_slice_of(s, strlen(s)), 0);
	free(s);
	if (!ret && retention_days)
		ret = prune(t, now_ms, retention_days);
	return ret;
}

int audit_append_store(store *s, audit_entry *e, int64_t now_ms, uint32_t retention_days)
{
	store_txn *t;
	int ret = store_txn_begin(s, 0, &t);
	if (ret)
		return ret;
	ret = audit_append(t, e, now_ms, retention_days);
	if (ret) {
		store_txn_abort(t);
		return ret;
	}
	return store_txn_commit(t);
}

static void field(json_t *j, const char *k, char *out, size_t cap)
{
	const char *s = json_string_value(json_object_get(j, k));
	snprintf(out, cap, "%s", s ? s : "");
}

struct read_arg {
	const audit_query *q;
	int (*fn)(void *arg, const audit_entry *e);
	void *arg;
	unsigned got, seen;
	uint8_t next[AUDIT_KEY_LEN];
	bool more;
	int err;
};

static int read_cb(void *arg, idn_slice key, idn_slice val)
{
	struct read_arg *r = arg;
	if (key.len != AUDIT_KEY_LEN)
		return 0;
	int64_t tm = (int64_t)get_be64(key.p);
	if (r->q->to_ms && tm >= r->q->to_ms)
		return 1;
	if (r->got == r->q->limit || ++r->seen > READ_SCAN_MAX) {
		memcpy(r->next, key.p, AUDIT_KEY_LEN);
		r->more = true;
		return 1;
	}
	json_t *j = json_loadb((const char *)val.p, val.len, 0, NULL);
	if (!j)
		return 0;
	audit_entry e = {.time_ms = tm, .seq = idn_be32(key.p + 8)};
	field(j, "who", e.who, sizeof(e.who));
	field(j, "identity", e.identity, sizeof(e.identity));
	field(j, "op", e.op, sizeof(e.op));
	field(j, "target", e.target, sizeof(e.target));
	field(j, "message", e.message, sizeof(e.message));
	field(j, "from", e.from, sizeof(e.from));
	e.result = (int)json_integer_value(json_object_get(j, "result"));
	json_decref(j);
	if (r->q->account && r->q->account[0] && strcmp(r->q->account, e.who))
		return 0;
	r->got++;
	int ret = r->fn(r->arg, &e);
	if (ret)
		r->err = ret;
	return ret ? 1 : 0;
}

int audit_read(store_txn *t, const audit_query *q, int (*fn)(void *arg, const audit_entry *e),
               void *arg, char *next, size_t nextcap)
{
	uint8_t start[AUDIT_KEY_LEN] = {0};
	size_t cl = q->cursor ? strlen(q->cursor) : 0;
	if (cl) {
		if (cl != 2 * AUDIT_KEY_LEN ||
		    codec_hex_decode((const uint8_t *)q->cursor, cl, start, sizeof(start), NULL) !=
		        AUDIT_KEY_LEN)
			return IDN_EINVAL;
	} else {
		put_be64(start, (uint64_t)(q->from_ms > 0 ? q->from_ms : 0));
	}
	if (q->limit == 0 || q->limit > READ_LIMIT_MAX || nextcap < 2 * AUDIT_KEY_LEN + 1)
		return IDN_EINVAL;
	struct read_arg r = {.q = q, .fn = fn, .arg = arg};
	int ret = store_tab_scan(t, STORE_TAB_AUDIT, IDN_SLICE(""),
	                         idn_slice_of(start, sizeof(start)), read_cb, &r);
	next[0] = 0;
	if (r.more)
		codec_hex_encode(r.next, AUDIT_KEY_LEN, next);
	if (r.err)
		return r.err;
	return ret < 0 ? ret : 0;
}
