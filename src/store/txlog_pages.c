/*
 * txlog_pages.c - replication pages: the primary's encoders and the
 * mirror's request builders and readers (txlog_pages.h has the formats).
 */
#include "store/txlog_pages.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/wire.h"

void txlog_put_u64(wire_wr *w, uint64_t v)
{
	wire_put_u32(w, (uint32_t)(v >> 32));
	wire_put_u32(w, (uint32_t)v);
}

uint64_t txlog_get_u64(wire_rd *c)
{
	uint64_t hi = wire_get_u32(c);
	return hi << 32 | wire_get_u32(c);
}

static size_t page_budget(uint32_t max, size_t cap)
{
	size_t b = max ? max : TXLOG_PAGE_DEFAULT;
	if (b < TXLOG_PAGE_MIN)
		b = TXLOG_PAGE_MIN;
	return b < cap ? b : cap;
}

/*
 * Whether an entry of size bytes no longer fits the page of w; an entry
 * larger than a whole page (none written yet) cannot travel: *err = IDN_ERANGE.
 */
static bool page_full(const wire_wr *w, size_t budget, size_t size, uint32_t count, int *err)
{
	if (wire_wr_len(w) + size <= budget)
		return false;
	if (count == 0)
		*err = IDN_ERANGE;
	return true;
}

/* ---- the primary ---- */

int txlog_serve_state(store_txn *t, uint8_t *out, size_t cap)
{
	uint64_t last, oldest;
	int rc = store_log_state(t, &last, &oldest);
	if (rc)
		return rc;
	wire_wr w = wire_wr_init(out, cap);
	txlog_put_u64(&w, last);
	txlog_put_u64(&w, oldest);
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
	size_t size = TXLOG_CHANGE_HDR + c->key.len + c->val.len;
	if (page_full(lp->w, lp->budget, size, lp->count, &lp->err))
		return 1;
	txlog_put_u64(lp->w, c->seq);
	wire_put_u32(lp->w, c->n);
	txlog_put_u64(lp->w, c->time_ms);
	wire_put_u8(lp->w, (uint8_t)c->op);
	wire_put_lbytes(lp->w, c->key.p, c->key.len);
	wire_put_lbytes(lp->w, c->val.p, c->val.len);
	lp->count++;
	return 0;
}

int txlog_serve_log(store_txn *t, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	wire_rd c = wire_rd_init(req, len);
	uint64_t seq = txlog_get_u64(&c);
	uint32_t n = wire_get_u32(&c);
	uint32_t max = wire_get_u32(&c);
	if (c.err || wire_rd_left(&c))
		return IDN_EINVAL;
	uint64_t last, oldest;
	int rc = store_log_state(t, &last, &oldest);
	if (rc)
		return rc;
	wire_wr w = wire_wr_init(out, cap);
	txlog_put_u64(&w, last);
	txlog_put_u64(&w, oldest);
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

int txlog_key_cmp(idn_slice a, idn_slice b)
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

struct homed_list {
	wire_wr *w;
	uint32_t count;
};

static int dump_homed_cb(void *arg, idn_slice key, idn_slice val)
{
	struct homed_list *hl = arg;
	(void)val;
	wire_put_lbytes(hl->w, key.p, key.len);
	hl->count++;
	return hl->w->err ? 1 : 0;
}

static int dump_cb(void *arg, idn_slice key, idn_slice val)
{
	struct dump_page *dp = arg;
	if (dp->after.len && txlog_key_cmp(key, dp->after) <= 0)
		return 0;
	if (page_full(dp->w, dp->budget, 8 + key.len + val.len, dp->count, &dp->err)) {
		dp->full = true;
		return 1;
	}
	wire_put_lbytes(dp->w, key.p, key.len);
	wire_put_lbytes(dp->w, val.p, val.len);
	dp->count++;
	return 0;
}

struct tab_page {
	struct dump_page *dp;
	unsigned tab;
	uint8_t *key; /* table byte | key */
};

static int tab_cb(void *arg, idn_slice key, idn_slice val)
{
	struct tab_page *tp = arg;
	tp->key[0] = (uint8_t)tp->tab;
	if (key.len)
		memcpy(tp->key + 1, key.p, key.len);
	return dump_cb(tp->dp, idn_slice_of(tp->key, key.len + 1), val);
}

/* The logged tables' entries after dp->after (table byte | key), in order. */
static int dump_tables(store_txn *t, struct dump_page *dp)
{
	uint8_t kb[STORE_TAB_KEY_MAX + 1];
	unsigned first = dp->after.len ? dp->after.p[0] : 1;
	for (unsigned tab = first ? first : 1; tab < STORE_TAB_UNLOGGED && !dp->full; tab++) {
		struct tab_page tp = {.dp = dp, .tab = tab, .key = kb};
		idn_slice start = tab == first && dp->after.len
		                      ? idn_slice_of(dp->after.p + 1, dp->after.len - 1)
		                      : idn_slice_of(NULL, 0);
		int rc = store_tab_scan(t, tab, idn_slice_of(NULL, 0), start, tab_cb, &tp);
		if (rc < 0)
			return rc;
		if (dp->err)
			return dp->err;
	}
	return IDN_OK;
}

int txlog_serve_dump(store_txn *t, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	wire_rd c = wire_rd_init(req, len);
	idn_slice after = wire_get_lbytes(&c);
	uint32_t max = wire_get_u32(&c);
	uint8_t part = wire_rd_left(&c) == 1 ? wire_get_u8(&c) : TXLOG_PART_RECORDS;
	if (c.err || wire_rd_left(&c) || after.len > STORE_KEY_MAX || part > TXLOG_PART_TABLES ||
	    (part == TXLOG_PART_TABLES && after.len > STORE_TAB_KEY_MAX + 1))
		return IDN_EINVAL;
	uint64_t last, oldest;
	int rc = store_log_state(t, &last, &oldest);
	if (rc)
		return rc;
	size_t budget = page_budget(max, cap);
	wire_wr w = wire_wr_init(out, cap);
	txlog_put_u64(&w, last);
	uint8_t *done = wire_put_raw(&w, 1);
	uint8_t *nhomed = wire_put_raw(&w, 4);
	uint32_t nh = 0;
	if (w.err)
		return w.err;
	if (after.len == 0 && part == TXLOG_PART_RECORDS) {
		struct homed_list hl = {.w = &w};
		rc = store_list_homed(t, dump_homed_cb, &hl);
		if (rc < 0)
			return rc;
		if (w.err || wire_wr_len(&w) > budget)
			return IDN_ERANGE; /* the homed prefixes alone overflow a page */
		nh = hl.count;
	}
	idn_put_be32(nhomed, nh);
	uint8_t *count = wire_put_raw(&w, 4);
	if (w.err)
		return w.err;
	struct dump_page dp = {.w = &w, .budget = budget, .after = after};
	/* from the resume key on (dump_cb skips the key itself): a page costs O(page) */
	rc = part == TXLOG_PART_TABLES
	         ? dump_tables(t, &dp)
	         : store_scan_from(t, idn_slice_of(NULL, 0), after, dump_cb, &dp);
	if (rc < 0)
		return rc;
	if (dp.err)
		return dp.err;
	*done = dp.full ? 0 : 1;
	idn_put_be32(count, dp.count);
	return w.err ? w.err : (int)wire_wr_len(&w);
}

/* ---- the mirror's requests and readers ---- */

void txlog_log_request(wire_wr *w, uint64_t seq, uint32_t n, uint32_t max_bytes)
{
	txlog_put_u64(w, seq);
	wire_put_u32(w, n);
	wire_put_u32(w, max_bytes);
}

void txlog_dump_request(wire_wr *w, idn_slice after, uint32_t max_bytes)
{
	wire_put_lbytes(w, after.p, after.len);
	wire_put_u32(w, max_bytes);
}

void txlog_dump_tables_request(wire_wr *w, idn_slice after, uint32_t max_bytes)
{
	txlog_dump_request(w, after, max_bytes);
	wire_put_u8(w, TXLOG_PART_TABLES);
}

void txlog_get_change(wire_rd *c, txlog_change *ch)
{
	ch->seq = txlog_get_u64(c);
	ch->n = wire_get_u32(c);
	ch->time_ms = txlog_get_u64(c);
	ch->op = wire_get_u8(c);
	ch->key = wire_get_lbytes(c);
	ch->val = wire_get_lbytes(c);
}
