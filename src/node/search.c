/*
 * search.c - the search's query terms and their run over the store's index
 * (search.h): one term drives a walk of the index, the others are checked on
 * the records the walk finds, as the caller may read them.
 */
#include "node/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/limit.h"
#include "node/admin.h"
#include "node/authz.h"
#include "node/internal.h"
#include "proto/handle.h"
#include "proto/record.h"

void search_query_init(search_query *q)
{
	memset(q, 0, sizeof(*q));
	q->limit = SEARCH_LIMIT_DEFAULT;
}

/* memcpy of n bytes, nothing when n is 0 (src may then be NULL) */
static void copy(void *dst, const void *src, size_t n)
{
	if (n)
		memcpy(dst, src, n);
}

/* ---- parsing ---- */

static int bad(char *why, const char *fmt, idn_slice what)
{
	snprintf(why, SEARCH_WHY_MAX, fmt, (int)(what.len > 64 ? 64 : what.len),
	         (const char *)what.p);
	return IDN_EINVAL;
}

static bool text_ok(idn_slice v)
{
	return !memchr(v.p, 0, v.len) && handle_utf8_valid(v);
}

static int new_term(search_query *q, idn_slice type, char *why, search_term **out)
{
	if (q->nterms == SEARCH_TERMS_MAX) {
		snprintf(why, SEARCH_WHY_MAX, "at most %d terms", SEARCH_TERMS_MAX);
		return IDN_EINVAL;
	}
	if (type.len == 0)
		return bad(why, "a term needs a type before its operator%.*s", type);
	if (!text_ok(type) || !index_type_searchable(type))
		return bad(why, "values of type %.*s are not searchable", type);
	search_term *t = &q->terms[q->nterms];
	memset(t, 0, sizeof(*t));
	t->type_len = (size_t)index_fold_type(type, t->type);
	*out = t;
	return IDN_OK;
}

int search_add_pair(search_query *q, idn_slice type, idn_slice value, char *why)
{
	search_term *t;
	int rc = new_term(q, type, why, &t);
	if (rc)
		return rc;
	const uint8_t *star = memchr(value.p, '*', value.len);
	if (value.len == 0)
		return bad(why, "%.*s= needs a value (a value, its beginning and *, or * alone)",
		           type);
	if (!text_ok(value))
		return bad(why, "the value of %.*s is not valid UTF-8 text", type);
	if (value.len == 1 && star) {
		t->op = SEARCH_ANY;
	} else if (star == value.p) {
		return bad(
		    why,
		    "%.*s: a leading wildcard (*text) is not supported; search by a value or "
		    "its beginning (text*)",
		    type);
	} else if (star && star != value.p + value.len - 1) {
		return bad(why, "%.*s: '*' may only end a value (its beginning*)", type);
	} else {
		t->op = star ? SEARCH_PREFIX : SEARCH_EXACT;
		t->value = idn_slice_of(value.p, value.len - (star ? 1 : 0));
	}
	q->nterms++;
	return IDN_OK;
}

static bool is_date(idn_slice v)
{
	static const char shape[] = "dddd-dd-dd";
	if (v.len != 10)
		return false;
	for (size_t i = 0; i < 10; i++)
		if (shape[i] == 'd' ? (v.p[i] < '0' || v.p[i] > '9') : v.p[i] != '-')
			return false;
	return true;
}

/* type>=date or type<=date; both on one type make one range */
static int add_range(search_query *q, idn_slice type, bool ge, idn_slice date, char *why)
{
	if (!is_date(date))
		return bad(why, "%.*s: a range (>= or <=) takes a date YYYY-MM-DD", type);
	uint8_t folded[INDEX_TYPE_MAX];
	int fl = index_fold_type(type, folded);
	search_term *t = NULL;
	for (size_t i = 0; fl > 0 && i < q->nterms; i++)
		if (q->terms[i].op == SEARCH_RANGE && q->terms[i].type_len == (size_t)fl &&
		    !memcmp(q->terms[i].type, folded, (size_t)fl))
			t = &q->terms[i];
	if (!t) {
		int rc = new_term(q, type, why, &t);
		if (rc)
			return rc;
		t->op = SEARCH_RANGE;
		q->nterms++;
	}
	if (ge)
		t->lo = date;
	else
		t->hi = date;
	return IDN_OK;
}

int search_add_term(search_query *q, idn_slice text, char *why)
{
	const uint8_t *eq = memchr(text.p, '=', text.len);
	if (!eq || eq == text.p)
		return bad(why,
		           "a term is type=value, type=beginning*, type=*, type>=date or "
		           "type<=date, not %.*s",
		           text);
	size_t tl = (size_t)(eq - text.p);
	idn_slice value = idn_slice_of(eq + 1, text.len - tl - 1);
	if (text.p[tl - 1] == '>' || text.p[tl - 1] == '<')
		return add_range(q, idn_slice_of(text.p, tl - 1), text.p[tl - 1] == '>', value,
		                 why);
	return search_add_pair(q, idn_slice_of(text.p, tl), value, why);
}

int search_set_prefix(search_query *q, idn_slice prefix, char *why)
{
	int n = prefix.len && !memchr(prefix.p, '/', prefix.len)
	            ? handle_prefix_norm(prefix, q->prefix, sizeof(q->prefix) - 1)
	            : -1;
	if (n <= 0)
		return bad(why, "prefix: %.*s is not a prefix (as 88.100.1)", prefix);
	q->prefix[n] = '/';
	q->prefix_len = (size_t)n + 1;
	return IDN_OK;
}

/* ---- matching a record ---- */

typedef struct run {
	node_worker *w;
	store_txn *t;
	const search_query *q;
	node_authz az;
	bool anon;
	int may_read; /* of the candidate: -1 not asked yet */
	uint32_t scan_max, scanned;
	search_hit_fn hit;
	void *arg;
	search_page *pg;
	uint64_t matched;
	int rc;
	bool stop;
	/* the driving term's walk */
	const search_term *drv;
	uint8_t pfx[STORE_TAB_KEY_MAX];
	size_t pfx_len;
	uint8_t seen[INDEX_ID_MAX]; /* the last identifier the exact walk looked at */
	size_t seen_len;
	/* non-exact drivers: the identifiers found, sorted before they are checked */
	struct cand *c;
	size_t nc, capc;
} run;

struct cand {
	uint8_t id[INDEX_ID_MAX];
	uint8_t len;
	bool sure; /* matches without reading the record */
};

static bool slice_lt(idn_slice a, idn_slice b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = memcmp(a.p, b.p, n);
	return c ? c < 0 : a.len < b.len;
}

static bool data_matches(const search_term *t, idn_slice d)
{
	switch (t->op) {
	case SEARCH_EXACT:
		return idn_slice_eq(d, t->value);
	case SEARCH_PREFIX:
		return d.len >= t->value.len && !memcmp(d.p, t->value.p, t->value.len);
	case SEARCH_ANY:
		return true;
	case SEARCH_RANGE:
		return (!t->lo.len || !slice_lt(d, t->lo)) && (!t->hi.len || !slice_lt(t->hi, d));
	}
	return false;
}

/* May the caller read id's admin-readable values? 1 yes, 0 no, negative error. */
static int may_read(run *r, idn_slice id, const record *own)
{
	if (r->may_read >= 0)
		return r->may_read;
	record pre;
	int found = node_authz_read_prefix_record(&r->az, id, &pre);
	if (found < 0)
		return found;
	uint16_t rights;
	int ret = node_authz_rights(&r->az, own, found ? &pre : NULL, &rights);
	if (ret < 0)
		return ret;
	r->may_read = ret > 0 && (rights & PROTO_ADM_READ_VALUE);
	return r->may_read;
}

/* Does a value the caller may read match term t? 1, 0, or negative error. */
static int term_matches(run *r, idn_slice id, const record *rec, const search_term *t)
{
	proto_values_it it = proto_values_begin(rec->values, rec->nvalues);
	proto_value v;
	int vrc;
	while ((vrc = proto_values_next(&it, &v)) == 1) {
		uint8_t ft[INDEX_TYPE_MAX];
		if (index_fold_type(v.type, ft) != (int)t->type_len ||
		    memcmp(ft, t->type, t->type_len) || !index_data_ok(v.data) ||
		    !data_matches(t, v.data))
			continue;
		if (v.perms & PROTO_PERM_PUBLIC_READ)
			return 1;
		if (r->anon || !(v.perms & PROTO_PERM_ADMIN_READ))
			continue;
		int m = may_read(r, id, rec);
		if (m)
			return m;
	}
	return vrc < 0 ? IDN_ESTORE : 0;
}

/* Every term on id's record: 1 all match, 0 not, negative error. */
static int record_matches(run *r, idn_slice id)
{
	idn_slice raw;
	record rec;
	int rc = store_get(r->t, id, &raw);
	if (rc == IDN_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (record_parse(raw, &rec))
		return 0;
	r->may_read = -1;
	for (size_t i = 0; i < r->q->nterms; i++) {
		int m = term_matches(r, id, &rec, &r->q->terms[i]);
		if (m <= 0)
			return m;
	}
	return 1;
}

/* A match: given to hit, or the sign that the page is full. */
static int emit(run *r, idn_slice id)
{
	search_page *pg = r->pg;
	if (r->matched++ < r->q->skip)
		return 0;
	if (pg->found == r->q->limit) {
		pg->more = true;
		r->stop = true;
		return 1;
	}
	pg->found++;
	copy(pg->next, id.p, id.len);
	pg->next_len = id.len;
	if (r->hit(r->arg, id)) {
		r->stop = true;
		return 1;
	}
	return 0;
}

static int candidate(run *r, idn_slice id, bool sure)
{
	int m = sure ? 1 : record_matches(r, id);
	if (m < 0) {
		r->rc = m;
		return 1;
	}
	return m ? emit(r, id) : 0;
}

/* id is after the cursor and under the prefix asked for */
static bool in_scope(const run *r, idn_slice id)
{
	const search_query *q = r->q;
	if (q->prefix_len && (id.len < q->prefix_len || memcmp(id.p, q->prefix, q->prefix_len)))
		return false;
	return !q->cursor_len || slice_lt(idn_slice_of(q->cursor, q->cursor_len), id);
}

/* A single term's entry that says all: public, and its data whole in the key. */
static bool entry_sure(const run *r, idn_slice val)
{
	if (r->q->nterms != 1 || val.len != INDEX_VAL_LEN || !(val.p[4] & PROTO_PERM_PUBLIC_READ))
		return false;
	bool trunc = val.p[5] & INDEX_F_TRUNC;
	switch (r->drv->op) {
	case SEARCH_EXACT:
		return r->drv->value.len <= INDEX_DATA_MAX && !trunc;
	case SEARCH_PREFIX:
		return r->drv->value.len <= INDEX_DATA_MAX;
	case SEARCH_ANY:
		return true;
	case SEARCH_RANGE:
		return !trunc;
	}
	return false;
}

static bool over_budget(run *r)
{
	if (++r->scanned <= r->scan_max)
		return false;
	limit_hit(LIM_SEARCH_SCAN, "a search visited %u index entries", r->scan_max);
	return true;
}

/* ---- exact driver: its entries come in identifier order ---- */

static int exact_cb(void *arg, idn_slice key, idn_slice val)
{
	run *r = arg;
	idn_slice id = idn_slice_of(key.p + r->pfx_len, key.len - r->pfx_len);
	if (over_budget(r)) {
		/* the page ends before id: the next one goes on after the last id looked at */
		r->pg->more = true;
		copy(r->pg->next, r->seen, r->seen_len);
		r->pg->next_len = r->seen_len;
		return 1;
	}
	copy(r->seen, id.p, id.len);
	r->seen_len = id.len;
	if (r->q->prefix_len && slice_lt(idn_slice_of(r->q->prefix, r->q->prefix_len), id) &&
	    (id.len < r->q->prefix_len || memcmp(id.p, r->q->prefix, r->q->prefix_len)))
		return 1; /* past the prefix's identifiers */
	if (!in_scope(r, id))
		return 0;
	if (r->anon && val.len == INDEX_VAL_LEN && !(val.p[4] & PROTO_PERM_PUBLIC_READ))
		return 0;
	return candidate(r, id, entry_sure(r, val));
}

static int walk_exact(run *r)
{
	const search_term *d = r->drv;
	size_t dl = d->value.len > INDEX_DATA_MAX ? INDEX_DATA_MAX : d->value.len;
	memcpy(r->pfx, d->type, d->type_len);
	r->pfx[d->type_len] = 0;
	copy(r->pfx + d->type_len + 1, d->value.p, dl);
	r->pfx[d->type_len + 1 + dl] = 0;
	r->pfx_len = d->type_len + 2 + dl;
	/* start at the cursor or the prefix, whichever is further */
	uint8_t start[STORE_TAB_KEY_MAX];
	const search_query *q = r->q;
	idn_slice from = idn_slice_of(q->prefix, q->prefix_len);
	if (q->cursor_len && !slice_lt(idn_slice_of(q->cursor, q->cursor_len), from))
		from = idn_slice_of(q->cursor, q->cursor_len);
	if (from.len > sizeof(start) - r->pfx_len)
		from.len = sizeof(start) - r->pfx_len;
	memcpy(start, r->pfx, r->pfx_len);
	copy(start + r->pfx_len, from.p, from.len);
	int rc = store_tab_scan(r->t, STORE_TAB_INDEX, idn_slice_of(r->pfx, r->pfx_len),
	                        idn_slice_of(start, r->pfx_len + from.len), exact_cb, r);
	return rc < 0 ? rc : r->rc;
}

/* ---- other drivers: gather the identifiers, sort, check ---- */

static int gather_cb(void *arg, idn_slice key, idn_slice val)
{
	run *r = arg;
	idn_slice type, data, id;
	if (index_key_split(key, &type, &data, &id))
		return 0;
	if (r->drv->op == SEARCH_RANGE && r->drv->hi.len && slice_lt(r->drv->hi, data))
		return 1; /* past the range */
	if (over_budget(r)) {
		r->rc = SEARCH_TOO_BROAD;
		return 1;
	}
	if (!in_scope(r, id) ||
	    (r->anon && val.len == INDEX_VAL_LEN && !(val.p[4] & PROTO_PERM_PUBLIC_READ)))
		return 0;
	if (r->nc == r->capc) {
		size_t cap = r->capc ? r->capc * 2 : 256;
		struct cand *c = realloc(r->c, cap * sizeof(*c));
		if (!c) {
			r->rc = IDN_ENOMEM;
			return 1;
		}
		r->c = c;
		r->capc = cap;
	}
	struct cand *c = &r->c[r->nc++];
	copy(c->id, id.p, id.len);
	c->len = (uint8_t)id.len;
	c->sure = entry_sure(r, val);
	return 0;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	idn_slice sx = idn_slice_of(x->id, x->len), sy = idn_slice_of(y->id, y->len);
	return slice_lt(sx, sy) ? -1 : slice_lt(sy, sx) ? 1 : 0;
}

static int walk_gather(run *r)
{
	const search_term *d = r->drv;
	memcpy(r->pfx, d->type, d->type_len);
	r->pfx[d->type_len] = 0;
	r->pfx_len = d->type_len + 1;
	size_t start_len = r->pfx_len;
	uint8_t start[STORE_TAB_KEY_MAX];
	memcpy(start, r->pfx, r->pfx_len);
	idn_slice head = d->op == SEARCH_PREFIX  ? d->value
	                 : d->op == SEARCH_RANGE ? d->lo
	                                         : (idn_slice){0};
	size_t hl = head.len > INDEX_DATA_MAX ? INDEX_DATA_MAX : head.len;
	copy(start + start_len, head.p, hl);
	start_len += hl;
	if (d->op == SEARCH_PREFIX) {
		copy(r->pfx + r->pfx_len, head.p, hl);
		r->pfx_len += hl;
	}
	int rc = store_tab_scan(r->t, STORE_TAB_INDEX, idn_slice_of(r->pfx, r->pfx_len),
	                        idn_slice_of(start, start_len), gather_cb, r);
	if (rc < 0 || r->rc)
		return rc < 0 ? rc : r->rc;
	if (r->nc) /* r->c is NULL when nothing was gathered */
		qsort(r->c, r->nc, sizeof(*r->c), cand_cmp);
	for (size_t i = 0; i < r->nc && !r->stop && !r->rc; i++) {
		bool sure = r->c[i].sure;
		while (i + 1 < r->nc && !cand_cmp(&r->c[i], &r->c[i + 1]))
			sure |= r->c[++i].sure;
		candidate(r, idn_slice_of(r->c[i].id, r->c[i].len), sure);
	}
	return r->rc;
}

/* ---- the run ---- */

static int index_usable(store_txn *t)
{
	enum index_state st;
	int rc = store_index_state(t, &st);
	if (rc)
		return rc;
	return st == INDEX_ON ? IDN_OK : st == INDEX_STALE ? SEARCH_STALE : SEARCH_OFF;
}

int node_search(node_worker *w, idn_slice id_handle, uint32_t id_index, const search_query *q,
                uint32_t scan_max, search_hit_fn hit, void *arg, search_page *pg)
{
	node *n = w->node;
	memset(pg, 0, sizeof(*pg));
	if (!n->store)
		return IDN_ENOTSUP;
	if (q->nterms == 0 || q->limit == 0)
		return IDN_EINVAL;
	req rq = {.w = w};
	run r = {
	    .w = w,
	    .q = q,
	    .anon = id_handle.len == 0,
	    .scan_max = scan_max ? scan_max : SEARCH_SCAN_DEFAULT,
	    .hit = hit,
	    .arg = arg,
	    .pg = pg,
	    .az = {.rq = &rq, .id_handle = id_handle, .id_index = id_index, .now = n->cfg.clock()}};
	r.az.admins = node_admin_list(n, &r.az.nadmins);
	r.az.id_klen = r.anon ? -1 : handle_key(id_handle, n->cfg.case_sensitive, r.az.id_key);
	/* the driver: an exact term if there is one (its entries come in identifier order) */
	r.drv = &q->terms[0];
	for (size_t i = q->nterms; i-- > 0;)
		if (q->terms[i].op == SEARCH_EXACT)
			r.drv = &q->terms[i];
	bool began = !w->in_batch && !w->wtxn;
	node_worker_begin(w);
	r.t = r.az.t = node_rtxn(w);
	int rc = index_usable(r.t);
	if (rc == IDN_OK)
		rc = r.drv->op == SEARCH_EXACT ? walk_exact(&r) : walk_gather(&r);
	if (began)
		node_worker_end(w);
	free(r.c);
	if (!pg->more)
		pg->next_len = 0;
	return rc;
}
