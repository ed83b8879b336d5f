/*
 * index.c - the search index (index.h): the entries a record makes, their
 * upkeep on every put and del, the index's state, rebuilds and the check
 * that compares the index with the records.
 */
#include "store/index.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "proto/handle.h"
#include "proto/record.h"

/* store_txn.ix bits beside STORE_IX_NOLOG: the state this txn has seen */
enum { IX_KNOWN = 2, IX_ON = 4, IX_STALE = 8 };

enum {
	CLEAR_BATCH = 4096,  /* index keys removed per scan */
	BUILD_BATCH = 50000, /* entries made per record scan of a rebuild */
};

typedef struct ix_ent {
	uint16_t klen;
	uint8_t val[INDEX_VAL_LEN];
	uint8_t key[STORE_TAB_KEY_MAX];
} ix_ent;

typedef struct index_ents {
	ix_ent *e;
	size_t n, cap;
} ix_ents;

/* ---- what is searchable ---- */

static const char *const NOT_SEARCHABLE[] = {
    "HS_ADMIN",     "HS_VLIST",       "HS_PUBKEY",     "HS_SECKEY",      "HS_CERT",
    "HS_SIGNATURE", "HS_SIGNED_INFO", "HS_CERT_CHAIN", "HS_NA_DELEGATE",
};

bool index_type_searchable(idn_slice type)
{
	if (type.len == 0 || type.len > INDEX_TYPE_MAX || memchr(type.p, 0, type.len))
		return false;
	for (size_t i = 0; i < sizeof(NOT_SEARCHABLE) / sizeof(NOT_SEARCHABLE[0]); i++)
		if (type.len == strlen(NOT_SEARCHABLE[i]) &&
		    !strncasecmp((const char *)type.p, NOT_SEARCHABLE[i], type.len))
			return false;
	/* HS_SITE, HS_SITE.PREFIX, HS_SERV, HS_SERV.PREFIX: binary site data */
	if (type.len >= 7 && (!strncasecmp((const char *)type.p, "HS_SITE", 7) ||
	                      !strncasecmp((const char *)type.p, "HS_SERV", 7)))
		return false;
	return true;
}

bool index_data_ok(idn_slice data)
{
	return data.len > 0 && !memchr(data.p, 0, data.len) && handle_utf8_valid(data);
}

int index_fold_type(idn_slice type, uint8_t *out)
{
	if (type.len == 0 || type.len > INDEX_TYPE_MAX)
		return -1;
	for (size_t i = 0; i < type.len; i++) {
		uint8_t c = type.p[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
	}
	return (int)type.len;
}

int index_key_split(idn_slice key, idn_slice *type, idn_slice *data, idn_slice *id)
{
	const uint8_t *z1 = memchr(key.p, 0, key.len);
	if (!z1)
		return IDN_ESTORE;
	size_t off = (size_t)(z1 - key.p) + 1;
	const uint8_t *z2 = memchr(key.p + off, 0, key.len - off);
	if (!z2)
		return IDN_ESTORE;
	size_t off2 = (size_t)(z2 - key.p) + 1;
	*type = idn_slice_of(key.p, off - 1);
	*data = idn_slice_of(key.p + off, off2 - 1 - off);
	*id = idn_slice_of(key.p + off2, key.len - off2);
	return IDN_OK;
}

/* ---- the entries of one record ---- */

static int ents_grow(ix_ents *es)
{
	if (es->n < es->cap)
		return IDN_OK;
	size_t cap = es->cap ? es->cap * 2 : 16;
	ix_ent *e = realloc(es->e, cap * sizeof(*e));
	if (!e)
		return IDN_ENOMEM;
	es->e = e;
	es->cap = cap;
	return IDN_OK;
}

static int ent_cmp(const void *a, const void *b)
{
	const ix_ent *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static int ent_pcmp(const void *a, const void *b)
{
	return ent_cmp(*(const ix_ent *const *)a, *(const ix_ent *const *)b);
}

/*
 * Of two entries with one key (one identifier's values of one type and data):
 * a public one wins, then the lower value index, so that the result does not
 * depend on the order they came in (a rebuild's batch, a bulk load's record).
 */
static bool ent_wins(const ix_ent *a, const ix_ent *b)
{
	bool pa = a->val[4] & PROTO_PERM_PUBLIC_READ, pb = b->val[4] & PROTO_PERM_PUBLIC_READ;
	if (pa != pb)
		return pa;
	return memcmp(a->val, b->val, INDEX_VAL_LEN) < 0;
}

/* *d = *s, copying only the bytes of the key in use (entries are big). */
static inline void ent_set(ix_ent *d, const ix_ent *s)
{
	d->klen = s->klen;
	memcpy(d->val, s->val, INDEX_VAL_LEN);
	memcpy(d->key, s->key, s->klen);
}

/* Sorts es[from ..) and merges equal keys (ent_wins). */
static int ents_sort(ix_ents *es, size_t from)
{
	size_t n = es->n - from, w = 0;
	if (n < 2)
		return IDN_OK;
	/* entries are big: sort pointers, then copy them once in order (a
	 * record's few on the stack, a rebuild's batch on the heap) */
	enum { SMALL = 16 };
	ix_ent *pbuf[SMALL], obuf[SMALL];
	bool small = n <= SMALL;
	ix_ent **p = small ? pbuf : malloc(n * sizeof(*p));
	ix_ent *out = small ? obuf : malloc(n * sizeof(*out));
	if (!p || !out) {
		free(p);
		free(out);
		return IDN_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = &es->e[from + i];
	qsort(p, n, sizeof(*p), ent_pcmp);
	for (size_t i = 0; i < n; i++) {
		if (w && ent_cmp(&out[w - 1], p[i]) == 0) {
			if (ent_wins(p[i], &out[w - 1]))
				ent_set(&out[w - 1], p[i]);
			continue;
		}
		ent_set(&out[w++], p[i]);
	}
	for (size_t i = 0; i < w; i++)
		ent_set(&es->e[from + i], &out[i]);
	es->n = from + w;
	if (!small) {
		free(p);
		free(out);
	}
	return IDN_OK;
}

/* Appends the entries of record rec of identifier id to es (unsorted). */
static int ents_of(idn_slice id, idn_slice rec, ix_ents *es)
{
	record r;
	if (id.len == 0 || id.len > INDEX_ID_MAX || memchr(id.p, 0, id.len))
		return IDN_OK; /* not indexed */
	if (record_parse(rec, &r))
		return IDN_OK; /* opaque bytes, not a record */
	proto_values_it it = proto_values_begin(r.values, r.nvalues);
	proto_value v;
	int vrc;
	while ((vrc = proto_values_next(&it, &v)) == 1) {
		if (!index_type_searchable(v.type) || !index_data_ok(v.data))
			continue;
		int rc = ents_grow(es);
		if (rc)
			return rc;
		ix_ent *e = &es->e[es->n];
		uint8_t *k = e->key;
		int tl = index_fold_type(v.type, k);
		size_t dl = v.data.len > INDEX_DATA_MAX ? INDEX_DATA_MAX : v.data.len;
		k[tl] = 0;
		memcpy(k + tl + 1, v.data.p, dl);
		k[tl + 1 + dl] = 0;
		memcpy(k + tl + 2 + dl, id.p, id.len);
		e->klen = (uint16_t)(tl + 2 + dl + id.len);
		idn_put_be32(e->val, v.index);
		e->val[4] = v.perms;
		e->val[5] = v.data.len > INDEX_DATA_MAX ? INDEX_F_TRUNC : 0;
		es->n++;
	}
	return IDN_OK; /* a damaged tail: the values before it are indexed */
}

/* ---- for bulk builds (bulkload.c) ---- */

index_ents *index_ents_new(void)
{
	return calloc(1, sizeof(index_ents));
}

void index_ents_free(index_ents *es)
{
	if (es)
		free(es->e);
	free(es);
}

int index_ents_make(index_ents *es, idn_slice id, idn_slice rec, size_t *n)
{
	es->n = 0;
	int rc = ents_of(id, rec, es);
	if (rc == IDN_OK)
		rc = ents_sort(es, 0);
	*n = rc == IDN_OK ? es->n : 0;
	return rc;
}

void index_ents_at(const index_ents *es, size_t i, idn_slice *key, idn_slice *val)
{
	*key = idn_slice_of(es->e[i].key, es->e[i].klen);
	*val = idn_slice_of(es->e[i].val, INDEX_VAL_LEN);
}

int store_index_unmake(store_txn *t, index_ents *es, idn_slice id, idn_slice rec)
{
	size_t n;
	int rc = index_ents_make(es, id, rec, &n);
	for (size_t i = 0; rc == IDN_OK && i < n; i++) {
		rc = t->s->ops->tab_del(t, STORE_TAB_INDEX,
		                        idn_slice_of(es->e[i].key, es->e[i].klen));
		if (rc == IDN_ENOTFOUND)
			rc = IDN_OK;
	}
	return rc;
}

/* ---- state ---- */

static int state_read(store_txn *t, enum index_state *st, bool *absent)
{
	idn_slice v;
	int rc = store_meta_get(t, INDEX_META, &v);
	*absent = false;
	if (rc == IDN_ENOTFOUND) {
		uint64_t n = 0;
		*absent = true;
		if ((rc = store_count(t, &n)))
			return rc;
		*st = n == 0 ? INDEX_ON : INDEX_OFF;
		return IDN_OK;
	}
	if (rc)
		return rc;
	if (v.len == 2 && !memcmp(v.p, "on", 2))
		*st = INDEX_ON;
	else if (v.len == 5 && !memcmp(v.p, "stale", 5))
		*st = INDEX_STALE;
	else
		*st = INDEX_OFF;
	return IDN_OK;
}

int store_index_state(store_txn *t, enum index_state *st)
{
	bool absent;
	return state_read(t, st, &absent);
}

static int state_write(store_txn *t, enum index_state st)
{
	static const char *const names[] = {"off", "on", "stale"};
	const char *n = names[st];
	int rc = store_meta_put(t, INDEX_META, idn_slice_of(n, strlen(n)));
	if (rc == IDN_OK)
		t->ix = (t->ix & (STORE_IX_NOLOG | STORE_IX_KEEP)) | IX_KNOWN |
		        (st == INDEX_ON ? IX_ON : 0) | (st == INDEX_STALE ? IX_STALE : 0);
	return rc;
}

/* The state for a write in t, read once per txn (and kept when it was absent). */
static int write_state(store_txn *t, enum index_state *st)
{
	if (t->ix & IX_KNOWN) {
		*st = (t->ix & IX_ON) ? INDEX_ON : (t->ix & IX_STALE) ? INDEX_STALE : INDEX_OFF;
		return IDN_OK;
	}
	bool absent;
	int rc = state_read(t, st, &absent);
	if (rc)
		return rc;
	bool bulk = (t->ix & STORE_IX_NOLOG) && !(t->ix & STORE_IX_KEEP);
	if (absent || (*st == INDEX_ON && bulk)) {
		/* a bulk txn leaves the index to a rebuild after it */
		enum index_state w = bulk && *st == INDEX_ON ? INDEX_STALE : *st;
		if ((rc = state_write(t, w)))
			return rc;
		*st = w;
		return IDN_OK;
	}
	t->ix |= IX_KNOWN | (*st == INDEX_ON ? IX_ON : 0) | (*st == INDEX_STALE ? IX_STALE : 0);
	return IDN_OK;
}

/* ---- upkeep ---- */

/* The entries of key's record in t (none when absent), sorted. */
static int old_ents(store_txn *t, idn_slice key, ix_ents *es)
{
	idn_slice rec;
	int rc = t->s->ops->get(t, key, &rec);
	if (rc == IDN_ENOTFOUND)
		return IDN_OK;
	if (rc == IDN_OK && (rc = ents_of(key, rec, es)) == IDN_OK)
		rc = ents_sort(es, 0);
	return rc;
}

/* Removes the entries of a that b lacks, writes those of b a lacks or holds otherwise. */
static int apply_diff(store_txn *t, const ix_ents *a, const ix_ents *b)
{
	size_t i = 0, j = 0;
	int rc = IDN_OK;
	while (rc == IDN_OK && (i < a->n || j < b->n)) {
		int c = i == a->n ? 1 : j == b->n ? -1 : ent_cmp(&a->e[i], &b->e[j]);
		if (c < 0) {
			rc = t->s->ops->tab_del(t, STORE_TAB_INDEX,
			                        idn_slice_of(a->e[i].key, a->e[i].klen));
			if (rc == IDN_ENOTFOUND)
				rc = IDN_OK;
			i++;
			continue;
		}
		const ix_ent *e = &b->e[j];
		if (c > 0 || memcmp(a->e[i].val, e->val, INDEX_VAL_LEN))
			rc = t->s->ops->tab_put(t, STORE_TAB_INDEX, idn_slice_of(e->key, e->klen),
			                        idn_slice_of(e->val, INDEX_VAL_LEN), 0);
		if (c == 0)
			i++;
		j++;
	}
	return rc;
}

int store_index_put(store_txn *t, idn_slice key, idn_slice val, unsigned flags)
{
	enum index_state st;
	int rc = write_state(t, &st);
	if (rc)
		return rc;
	if (st != INDEX_ON)
		return t->s->ops->put(t, key, val, flags);
	ix_ents a = {0}, b = {0};
	if ((rc = old_ents(t, key, &a)) == IDN_OK &&
	    (rc = t->s->ops->put(t, key, val, flags)) == IDN_OK &&
	    (rc = ents_of(key, val, &b)) == IDN_OK && (rc = ents_sort(&b, 0)) == IDN_OK)
		rc = apply_diff(t, &a, &b);
	free(a.e);
	free(b.e);
	return rc;
}

int store_index_del(store_txn *t, idn_slice key)
{
	enum index_state st;
	int rc = write_state(t, &st);
	if (rc)
		return rc;
	if (st != INDEX_ON)
		return t->s->ops->del(t, key);
	ix_ents a = {0}, b = {0};
	if ((rc = old_ents(t, key, &a)) == IDN_OK && (rc = t->s->ops->del(t, key)) == IDN_OK)
		rc = apply_diff(t, &a, &b);
	free(a.e);
	return rc;
}

/* ---- rebuilds ---- */

typedef struct key_batch {
	uint8_t (*k)[STORE_TAB_KEY_MAX];
	uint16_t *len;
	size_t n;
} key_batch;

static int batch_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	key_batch *b = arg;
	if (key.len)
		memcpy(b->k[b->n], key.p, key.len);
	b->len[b->n++] = (uint16_t)key.len;
	return b->n == CLEAR_BATCH;
}

/* Removes every index entry. */
static int index_clear(store_txn *t)
{
	key_batch b = {malloc(CLEAR_BATCH * sizeof(*b.k)), malloc(CLEAR_BATCH * sizeof(*b.len)), 0};
	int rc = b.k && b.len ? IDN_OK : IDN_ENOMEM;
	do {
		b.n = 0;
		if (rc == IDN_OK) {
			int s = t->s->ops->tab_scan(t, STORE_TAB_INDEX, idn_slice_of(NULL, 0),
			                            idn_slice_of(NULL, 0), batch_cb, &b);
			rc = s < 0 ? s : IDN_OK;
		}
		for (size_t i = 0; rc == IDN_OK && i < b.n; i++)
			rc = t->s->ops->tab_del(t, STORE_TAB_INDEX, idn_slice_of(b.k[i], b.len[i]));
	} while (rc == IDN_OK && b.n == CLEAR_BATCH);
	free(b.k);
	free(b.len);
	return rc;
}

typedef struct build_scan {
	ix_ents es;
	uint8_t last[STORE_KEY_MAX];
	size_t last_len;
	/* where the scan starts: a copy of last (the scan compares the keys it
	 * visits with it while build_cb overwrites last) */
	uint8_t from[STORE_KEY_MAX];
	bool resumed; /* skip the record at `last`, made by the batch before */
	bool more;
	int rc;
} build_scan;

static int build_cb(void *arg, idn_slice key, idn_slice val)
{
	build_scan *b = arg;
	if (b->resumed) {
		b->resumed = false;
		if (key.len == b->last_len && !memcmp(key.p, b->last, key.len))
			return 0;
	}
	if ((b->rc = ents_of(key, val, &b->es)))
		return 1;
	memcpy(b->last, key.p, key.len);
	b->last_len = key.len;
	if (b->es.n >= BUILD_BATCH) {
		b->more = true;
		return 1;
	}
	return 0;
}

/* The entries of every record, in batches: each sorted, then given to fn. */
static int each_batch(store_txn *t, int (*fn)(void *arg, ix_ents *es), void *arg)
{
	build_scan *b = calloc(1, sizeof(*b));
	int rc = b ? IDN_OK : IDN_ENOMEM;
	while (rc == IDN_OK) {
		b->es.n = 0;
		b->more = false;
		b->rc = IDN_OK;
		memcpy(b->from, b->last, b->last_len);
		int s = store_scan_from(t, idn_slice_of(NULL, 0),
		                        idn_slice_of(b->from, b->last_len), build_cb, b);
		rc = s < 0 ? s : b->rc;
		if (rc)
			break;
		if ((rc = ents_sort(&b->es, 0)))
			break;
		rc = fn(arg, &b->es);
		if (!b->more)
			break;
		b->resumed = true;
	}
	if (b)
		free(b->es.e);
	free(b);
	return rc;
}

static int put_batch(void *arg, ix_ents *es)
{
	store_txn *t = arg;
	int rc = IDN_OK;
	for (size_t i = 0; rc == IDN_OK && i < es->n; i++)
		rc = t->s->ops->tab_put(t, STORE_TAB_INDEX,
		                        idn_slice_of(es->e[i].key, es->e[i].klen),
		                        idn_slice_of(es->e[i].val, INDEX_VAL_LEN), 0);
	return rc;
}

int store_index_set(store_txn *t, enum index_state st)
{
	int rc = IDN_OK;
	if (st != INDEX_STALE)
		rc = index_clear(t);
	if (rc == IDN_OK && st == INDEX_ON)
		rc = each_batch(t, put_batch, t);
	return rc ? rc : state_write(t, st);
}

int store_index_refresh(store *s)
{
	return store_index_apply(s, INDEX_ON, true);
}

int store_index_mark(store_txn *t, enum index_state st)
{
	return state_write(t, st);
}

/* ---- the check ---- */

typedef struct check {
	store_txn *t;
	uint64_t missing, found;
} check;

/* Each entry the records make, looked up in the index. */
static int check_batch(void *arg, ix_ents *es)
{
	check *c = arg;
	for (size_t i = 0; i < es->n; i++) {
		idn_slice v;
		int rc = store_tab_get(c->t, STORE_TAB_INDEX,
		                       idn_slice_of(es->e[i].key, es->e[i].klen), &v);
		if (rc == IDN_ENOTFOUND) {
			c->missing++;
			continue;
		}
		if (rc)
			return rc;
		c->found++;
		if (v.len != INDEX_VAL_LEN || memcmp(v.p, es->e[i].val, INDEX_VAL_LEN))
			c->missing++;
	}
	return IDN_OK;
}

static int count_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)key;
	(void)val;
	++*(uint64_t *)arg;
	return 0;
}

int store_index_check(store_txn *t, uint64_t *missing, uint64_t *extra)
{
	check c = {.t = t};
	uint64_t held = 0;
	*missing = *extra = 0;
	int rc = each_batch(t, check_batch, &c);
	if (rc == IDN_OK)
		rc = store_tab_scan(t, STORE_TAB_INDEX, idn_slice_of(NULL, 0),
		                    idn_slice_of(NULL, 0), count_cb, &held);
	if (rc)
		return rc;
	*missing = c.missing;
	*extra = held - c.found;
	return IDN_OK;
}

int store_index_apply(store *s, enum index_state st, bool only_stale)
{
	/* one transaction; a map too small for it grows (doubling) at the next begin */
	enum { TRIES = 8 };
	int rc = IDN_OK;
	for (int i = 0; i < TRIES; i++) {
		store_txn *t;
		enum index_state now;
		if ((rc = store_txn_begin(s, 0, &t)))
			return rc;
		rc = store_index_state(t, &now);
		if (rc == IDN_OK && only_stale && now != INDEX_STALE) {
			store_txn_abort(t);
			return IDN_OK;
		}
		if (rc == IDN_OK)
			rc = store_index_set(t, st);
		if (rc == IDN_OK)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
		if (rc != IDN_ESTORE_FULL)
			return rc;
	}
	return rc;
}
