/*
 * repl.c - replication bodies and the mirror's state machine (repl.h).
 *
 * Wire formats (all integers big-endian, u64 as two u32, lbytes = u32 length
 * + bytes):
 *   1000 answer  u64 last | u64 oldest
 *   1001 request u64 seq | u32 n | u32 max bytes
 *        answer  u64 last | u64 oldest | u32 count |
 *                count x (u64 seq | u32 n | u64 time_ms | u8 op | lbytes key | lbytes val)
 *   1002 request lbytes after-key | u32 max bytes
 *        answer  u64 last | u8 done | u32 nhomed | nhomed x lbytes prefix |
 *                u32 count | count x (lbytes key | lbytes record)
 * Homed prefixes travel with the first dump page only (after-key empty).
 *
 * Mirror meta values: repl.mode ('l' pulling the log, 'b' bootstrapping,
 * 'r' or absent: a bootstrap must start by emptying the store), repl.s0
 * (the primary's sequence number at the first dump page), repl.after (the
 * last key copied), repl.seq + repl.n (the next change wanted).
 */
#include "repl/repl.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/wire.h"
#include "proto/proto.h"

enum { CHANGE_HDR = 8 + 4 + 8 + 1 + 4 + 4, DUMP_HDR = 8 + 4 + 4 };

static void put_u64(wire_wr *w, uint64_t v)
{
	wire_put_u32(w, (uint32_t)(v >> 32));
	wire_put_u32(w, (uint32_t)v);
}

static uint64_t get_u64(wire_rd *c)
{
	uint64_t hi = wire_get_u32(c);
	return hi << 32 | wire_get_u32(c);
}

static size_t page_budget(uint32_t max, size_t cap)
{
	size_t b = max ? max : REPL_PAGE_DEFAULT;
	if (b < REPL_PAGE_MIN)
		b = REPL_PAGE_MIN;
	return b < cap ? b : cap;
}

/* ---- the primary ---- */

int repl_serve_state(store_txn *t, uint8_t *out, size_t cap)
{
	uint64_t last, oldest;
	int rc = store_log_state(t, &last, &oldest);
	if (rc)
		return rc;
	wire_wr w = wire_wr_init(out, cap);
	put_u64(&w, last);
	put_u64(&w, oldest);
	return w.err ? w.err : (int)wire_wr_len(&w);
}

struct log_page {
	wire_wr *w;
	size_t budget;
	uint64_t seq;
	uint32_t n;
	uint32_t count;
	int err;
};

static int log_page_cb(void *arg, const store_change *c)
{
	struct log_page *lp = arg;
	if (c->seq == lp->seq && c->n < lp->n)
		return 0; /* before the mirror's position inside this transaction */
	size_t size = CHANGE_HDR + c->key.len + c->val.len;
	if (wire_wr_len(lp->w) + size > lp->budget) {
		/* a change larger than a whole page cannot travel in this format */
		if (lp->count == 0)
			lp->err = IDN_ERANGE;
		return 1;
	}
	put_u64(lp->w, c->seq);
	wire_put_u32(lp->w, c->n);
	put_u64(lp->w, c->time_ms);
	wire_put_u8(lp->w, (uint8_t)c->op);
	wire_put_lbytes(lp->w, c->key.p, c->key.len);
	wire_put_lbytes(lp->w, c->val.p, c->val.len);
	lp->count++;
	return 0;
}

int repl_serve_log(store_txn *t, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	wire_rd c = wire_rd_init(req, len);
	uint64_t seq = get_u64(&c);
	uint32_t n = wire_get_u32(&c);
	uint32_t max = wire_get_u32(&c);
	if (c.err || wire_rd_left(&c))
		return IDN_EINVAL;
	uint64_t last, oldest;
	int rc = store_log_state(t, &last, &oldest);
	if (rc)
		return rc;
	wire_wr w = wire_wr_init(out, cap);
	put_u64(&w, last);
	put_u64(&w, oldest);
	uint8_t *count = wire_put_raw(&w, 4);
	if (w.err)
		return w.err;
	if (seq > last) /* the mirror is up to date (or asks past the end: an empty page) */
		seq = last + 1;
	struct log_page lp = {.w = &w, .budget = page_budget(max, cap), .seq = seq, .n = n};
	rc = store_log_read(t, seq, 0, log_page_cb, &lp);
	if (rc < 0)
		return rc;
	if (lp.err)
		return lp.err;
	idn_put_be32(count, lp.count);
	return w.err ? w.err : (int)wire_wr_len(&w);
}

static int key_cmp(idn_slice a, idn_slice b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int r = n ? memcmp(a.p, b.p, n) : 0;
	if (r)
		return r;
	return a.len < b.len ? -1 : a.len > b.len;
}

struct dump_page {
	wire_wr *w;
	size_t budget;
	idn_slice after;
	uint32_t count;
	bool full;
	int err;
};

static int dump_homed_cb(void *arg, idn_slice key, idn_slice val)
{
	wire_wr *w = arg;
	(void)val;
	wire_put_lbytes(w, key.p, key.len);
	return w->err ? 1 : 0;
}

static int dump_cb(void *arg, idn_slice key, idn_slice val)
{
	struct dump_page *dp = arg;
	if (dp->after.len && key_cmp(key, dp->after) <= 0)
		return 0;
	size_t size = 8 + key.len + val.len;
	if (wire_wr_len(dp->w) + size > dp->budget) {
		if (dp->count == 0)
			dp->err = IDN_ERANGE;
		dp->full = true;
		return 1;
	}
	wire_put_lbytes(dp->w, key.p, key.len);
	wire_put_lbytes(dp->w, val.p, val.len);
	dp->count++;
	return 0;
}

int repl_serve_dump(store_txn *t, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	wire_rd c = wire_rd_init(req, len);
	idn_slice after = wire_get_lbytes(&c);
	uint32_t max = wire_get_u32(&c);
	if (c.err || wire_rd_left(&c) || after.len > STORE_KEY_MAX)
		return IDN_EINVAL;
	uint64_t last, oldest;
	int rc = store_log_state(t, &last, &oldest);
	if (rc)
		return rc;
	size_t budget = page_budget(max, cap);
	wire_wr w = wire_wr_init(out, cap);
	put_u64(&w, last);
	uint8_t *done = wire_put_raw(&w, 1);
	uint8_t *nhomed = wire_put_raw(&w, 4);
	uint32_t nh = 0;
	if (w.err)
		return w.err;
	if (after.len == 0) {
		size_t before = wire_wr_len(&w);
		rc = store_list_homed(t, dump_homed_cb, &w);
		if (rc < 0)
			return rc;
		if (w.err || wire_wr_len(&w) > budget)
			return IDN_ERANGE; /* the homed prefixes alone overflow a page */
		/* count what was written: each entry is lbytes */
		wire_rd hc = wire_rd_init(out + before, wire_wr_len(&w) - before);
		while (wire_rd_left(&hc) && !hc.err) {
			(void)wire_get_lbytes(&hc);
			nh++;
		}
	}
	idn_put_be32(nhomed, nh);
	uint8_t *count = wire_put_raw(&w, 4);
	if (w.err)
		return w.err;
	struct dump_page dp = {.w = &w, .budget = budget, .after = after};
	/* from the resume key on (dump_cb skips the key itself): a page costs O(page) */
	rc = store_scan_from(t, idn_slice_of(NULL, 0), after, dump_cb, &dp);
	if (rc < 0)
		return rc;
	if (dp.err)
		return dp.err;
	*done = dp.full ? 0 : 1;
	idn_put_be32(count, dp.count);
	return w.err ? w.err : (int)wire_wr_len(&w);
}

/* ---- the mirror ---- */

struct mstate {
	char mode; /* 'l', 'b', or 0 (start a bootstrap) */
	uint64_t s0;
	uint64_t seq;
	uint32_t n;
	uint8_t after[STORE_KEY_MAX];
	size_t after_len;
};

static int meta_u64(store_txn *t, const char *name, uint64_t *v)
{
	idn_slice s;
	int rc = store_meta_get(t, name, &s);
	if (rc)
		return rc;
	if (s.len != 8)
		return IDN_ESTORE;
	*v = store_be64(s.p);
	return IDN_OK;
}

static int put_meta_u64(store_txn *t, const char *name, uint64_t v)
{
	uint8_t b[8];
	store_put_be64(b, v);
	return store_meta_put(t, name, idn_slice_of(b, 8));
}

static int state_read(store_txn *t, struct mstate *m)
{
	idn_slice v;
	memset(m, 0, sizeof(*m));
	int rc = store_meta_get(t, "repl.mode", &v);
	if (rc == IDN_ENOTFOUND)
		return IDN_OK;
	if (rc)
		return rc;
	m->mode = v.len == 1 && (v.p[0] == 'l' || v.p[0] == 'b') ? (char)v.p[0] : 0;
	if (m->mode == 'l') {
		uint64_t n;
		if ((rc = meta_u64(t, "repl.seq", &m->seq)) || (rc = meta_u64(t, "repl.n", &n)))
			return rc == IDN_ENOTFOUND ? IDN_ESTORE : rc;
		m->n = (uint32_t)n;
	} else if (m->mode == 'b') {
		if ((rc = meta_u64(t, "repl.s0", &m->s0)) ||
		    (rc = store_meta_get(t, "repl.after", &v)))
			return rc == IDN_ENOTFOUND ? IDN_ESTORE : rc;
		if (v.len > STORE_KEY_MAX)
			return IDN_ESTORE;
		memcpy(m->after, v.p, v.len);
		m->after_len = v.len;
	}
	return IDN_OK;
}

static int set_mode(store_txn *t, char mode)
{
	return store_meta_put(t, "repl.mode", idn_slice_of(&mode, 1));
}

int repl_mirror_request(store *s, uint32_t max_bytes, repl_req *r)
{
	store_txn *t;
	struct mstate m;
	int rc = store_txn_begin(s, STORE_RDONLY, &t);
	if (rc)
		return rc;
	rc = state_read(t, &m);
	store_txn_abort(t);
	if (rc)
		return rc;
	wire_wr w = wire_wr_init(r->body, sizeof(r->body));
	if (m.mode == 'l') {
		r->opcode = PROTO_OP_RETRIEVE_TXN_LOG;
		put_u64(&w, m.seq);
		wire_put_u32(&w, m.n);
	} else {
		r->opcode = PROTO_OP_DUMP_HANDLES;
		wire_put_lbytes(&w, m.after, m.mode == 'b' ? m.after_len : 0);
	}
	wire_put_u32(&w, max_bytes);
	r->len = wire_wr_len(&w);
	return w.err;
}

int repl_mirror_restart(store *s)
{
	store_txn *t;
	int rc = store_txn_begin(s, 0, &t);
	if (rc)
		return rc;
	rc = set_mode(t, 'r');
	if (rc) {
		store_txn_abort(t);
		return rc;
	}
	return store_txn_commit(t);
}

/* Keys collected before they are deleted (no deletes while a scan runs). */
struct keylist {
	uint8_t **k;
	size_t *len;
	size_t n, cap;
};

static int keylist_cb(void *arg, idn_slice key, idn_slice val)
{
	struct keylist *l = arg;
	(void)val;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		uint8_t **k = realloc(l->k, cap * sizeof(*k));
		if (!k)
			return IDN_ENOMEM;
		l->k = k;
		size_t *len = realloc(l->len, cap * sizeof(*len));
		if (!len)
			return IDN_ENOMEM;
		l->len = len;
		l->cap = cap;
	}
	l->k[l->n] = malloc(key.len);
	if (!l->k[l->n])
		return IDN_ENOMEM;
	memcpy(l->k[l->n], key.p, key.len);
	l->len[l->n++] = key.len;
	return 0;
}

static void keylist_free(struct keylist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->k[i]);
	free(l->k);
	free(l->len);
}

/* A new bootstrap: the mirror's records and homed prefixes go. */
static int wipe(store_txn *t)
{
	struct keylist recs = {0}, homed = {0};
	int rc = store_scan(t, idn_slice_of(NULL, 0), keylist_cb, &recs);
	if (!rc)
		rc = store_list_homed(t, keylist_cb, &homed);
	for (size_t i = 0; !rc && i < recs.n; i++)
		rc = store_del(t, idn_slice_of(recs.k[i], recs.len[i]));
	for (size_t i = 0; !rc && i < homed.n; i++)
		rc = store_unhome(t, idn_slice_of(homed.k[i], homed.len[i]));
	keylist_free(&recs);
	keylist_free(&homed);
	return rc;
}

static int apply_dump(store_txn *t, struct mstate *m, wire_rd *c, repl_progress *p)
{
	int rc = IDN_OK;
	uint64_t last = get_u64(c);
	uint8_t done = wire_get_u8(c);
	uint32_t nh = wire_get_count(c, 4);
	if (c->err)
		return IDN_EPROTO;
	if (m->mode == 'l')
		return IDN_EPROTO; /* a dump answer to a mirror pulling the log */
	if (m->mode != 'b') {
		if ((rc = wipe(t)))
			return rc;
		m->s0 = last;
		m->after_len = 0;
		if ((rc = put_meta_u64(t, "repl.s0", last)))
			return rc;
	} else if (nh) {
		return IDN_EPROTO; /* homed prefixes come with the first page only */
	}
	for (uint32_t i = 0; i < nh && !rc; i++) {
		idn_slice pfx = wire_get_lbytes(c);
		if (c->err || pfx.len == 0)
			return IDN_EPROTO;
		rc = store_home(t, pfx);
	}
	uint32_t count = wire_get_count(c, 8);
	if (c->err)
		return IDN_EPROTO;
	for (uint32_t i = 0; i < count && !rc; i++) {
		idn_slice k = wire_get_lbytes(c);
		idn_slice v = wire_get_lbytes(c);
		if (c->err || k.len == 0 || k.len > STORE_KEY_MAX)
			return IDN_EPROTO;
		if (key_cmp(k, idn_slice_of(m->after, m->after_len)) <= 0 && m->after_len)
			return IDN_EPROTO; /* pages go forward only */
		rc = store_put(t, k, v, 0);
		memcpy(m->after, k.p, k.len);
		m->after_len = k.len;
		p->applied++;
	}
	if (rc)
		return rc;
	if (wire_rd_left(c) || done > 1)
		return IDN_EPROTO;
	p->primary_seq = last;
	if (done) {
		/* copied: the log from the first page's snapshot on brings it up to date */
		m->mode = 'l';
		m->seq = m->s0 + 1;
		m->n = 0;
		if ((rc = set_mode(t, 'l')) || (rc = put_meta_u64(t, "repl.seq", m->seq)) ||
		    (rc = put_meta_u64(t, "repl.n", 0)))
			return rc;
		return IDN_OK;
	}
	if ((rc = set_mode(t, 'b')))
		return rc;
	m->mode = 'b';
	return store_meta_put(t, "repl.after", idn_slice_of(m->after, m->after_len));
}

static int apply_change(store_txn *t, int op, idn_slice k, idn_slice v)
{
	int rc;
	switch (op) {
	case STORE_LOG_PUT:
		return store_put(t, k, v, 0);
	case STORE_LOG_DEL:
		rc = store_del(t, k);
		return rc == IDN_ENOTFOUND ? IDN_OK : rc; /* already gone: the dump was later */
	case STORE_LOG_HOME:
		return store_home(t, k);
	case STORE_LOG_UNHOME:
		rc = store_unhome(t, k);
		return rc == IDN_ENOTFOUND ? IDN_OK : rc;
	}
	return IDN_EPROTO;
}

static int apply_log(store_txn *t, struct mstate *m, wire_rd *c, repl_progress *p)
{
	int rc = IDN_OK;
	uint64_t last = get_u64(c);
	(void)get_u64(c); /* oldest: the primary refuses a request it cannot serve */
	uint32_t count = wire_get_count(c, CHANGE_HDR);
	if (c->err || m->mode != 'l')
		return IDN_EPROTO;
	for (uint32_t i = 0; i < count && !rc; i++) {
		uint64_t seq = get_u64(c);
		uint32_t n = wire_get_u32(c);
		(void)get_u64(c); /* time_ms */
		uint8_t op = wire_get_u8(c);
		idn_slice k = wire_get_lbytes(c);
		idn_slice v = wire_get_lbytes(c);
		if (c->err || k.len == 0 || k.len > STORE_KEY_MAX)
			return IDN_EPROTO;
		/* exactly the next change: (seq, n) or the first of the next transaction */
		bool next =
		    (seq == m->seq && n == m->n) || (m->n > 0 && seq == m->seq + 1 && n == 0);
		if (!next)
			return IDN_EPROTO;
		rc = apply_change(t, op, k, v);
		m->seq = seq;
		m->n = n + 1;
		p->applied++;
	}
	if (rc)
		return rc;
	if (wire_rd_left(c))
		return IDN_EPROTO;
	p->primary_seq = last;
	if (p->applied == 0)
		return IDN_OK;
	if ((rc = put_meta_u64(t, "repl.seq", m->seq)))
		return rc;
	return put_meta_u64(t, "repl.n", m->n);
}

int repl_mirror_apply(store *s, uint32_t opcode, const uint8_t *ans, size_t len, repl_progress *p)
{
	store_txn *t;
	struct mstate m;
	wire_rd c = wire_rd_init(ans, len);
	int rc = store_txn_begin(s, 0, &t);
	memset(p, 0, sizeof(*p));
	if (rc)
		return rc;
	rc = state_read(t, &m);
	if (!rc)
		rc = opcode == PROTO_OP_DUMP_HANDLES       ? apply_dump(t, &m, &c, p)
		     : opcode == PROTO_OP_RETRIEVE_TXN_LOG ? apply_log(t, &m, &c, p)
		                                           : IDN_EINVAL;
	if (rc) {
		store_txn_abort(t);
		return rc;
	}
	rc = store_txn_commit(t);
	if (rc)
		return rc;
	p->bootstrapping = m.mode != 'l';
	/* a transaction counts as applied once its first change is: pages may split one */
	p->next_seq = m.mode == 'l' ? (m.n ? m.seq + 1 : m.seq) : 0;
	uint64_t have = p->next_seq ? p->next_seq - 1 : 0;
	p->lag = p->bootstrapping        ? p->primary_seq
	         : p->primary_seq > have ? p->primary_seq - have
	                                 : 0;
	return IDN_OK;
}
