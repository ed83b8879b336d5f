/*
 * repl.c - the mirror's state machine (repl.h): what to ask the primary
 * next, and each answer applied in one write transaction. The pages
 * themselves are read with store/txlog_pages.h.
 *
 * Mirror meta values: repl.mode ('l' pulling the log, 'b' bootstrapping the
 * records, 't' then the logged tables, 'r' or absent: a bootstrap must
 * start by emptying the store), repl.s0 (the primary's sequence number at
 * the first dump page), repl.after (the last key copied: a record's, or in
 * 't' a table byte | key), repl.seq + repl.n (the next change wanted).
 *
 * The search index is not copied: the mirror's puts and deletes make it
 * (store/index.h), as they do on the primary.
 */
#include "repl/repl.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/wire.h"
#include "proto/proto.h"
#include "store/txlog_pages.h"

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
	m->mode =
	    v.len == 1 && (v.p[0] == 'l' || v.p[0] == 'b' || v.p[0] == 't') ? (char)v.p[0] : 0;
	if (m->mode == 'l') {
		uint64_t n;
		if ((rc = meta_u64(t, "repl.seq", &m->seq)) || (rc = meta_u64(t, "repl.n", &n)))
			return rc == IDN_ENOTFOUND ? IDN_ESTORE : rc;
		m->n = (uint32_t)n;
	} else if (m->mode == 'b' || m->mode == 't') {
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
	r->tables = m.mode == 't';
	if (m.mode == 'l') {
		r->opcode = PROTO_OP_RETRIEVE_TXN_LOG;
		txlog_log_request(&w, m.seq, m.n, max_bytes);
	} else if (m.mode == 't') {
		r->opcode = PROTO_OP_DUMP_HANDLES;
		txlog_dump_tables_request(&w, idn_slice_of(m.after, m.after_len), max_bytes);
	} else {
		r->opcode = PROTO_OP_DUMP_HANDLES;
		txlog_dump_request(&w, idn_slice_of(m.after, m.mode == 'b' ? m.after_len : 0),
		                   max_bytes);
	}
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

/* A new bootstrap: the mirror's records, homed prefixes and logged tables go. */
static int wipe(store_txn *t)
{
	struct keylist recs = {0}, homed = {0}, tabs[STORE_TAB_UNLOGGED] = {{0}};
	int rc = store_scan(t, idn_slice_of(NULL, 0), keylist_cb, &recs);
	if (!rc)
		rc = store_list_homed(t, keylist_cb, &homed);
	for (unsigned tab = 1; !rc && tab < STORE_TAB_UNLOGGED; tab++)
		rc = store_tab_scan(t, tab, idn_slice_of(NULL, 0), idn_slice_of(NULL, 0),
		                    keylist_cb, &tabs[tab]);
	for (size_t i = 0; !rc && i < recs.n; i++)
		rc = store_del(t, idn_slice_of(recs.k[i], recs.len[i]));
	for (size_t i = 0; !rc && i < homed.n; i++)
		rc = store_unhome(t, idn_slice_of(homed.k[i], homed.len[i]));
	for (unsigned tab = 1; tab < STORE_TAB_UNLOGGED; tab++) {
		for (size_t i = 0; !rc && i < tabs[tab].n; i++)
			rc = store_tab_del(t, tab, idn_slice_of(tabs[tab].k[i], tabs[tab].len[i]));
		keylist_free(&tabs[tab]);
	}
	keylist_free(&recs);
	keylist_free(&homed);
	return rc;
}

/* One entry of a tables page: table byte | key -> value, in a logged table. */
static int put_table(store_txn *t, idn_slice k, idn_slice v)
{
	if (k.len < 1 || k.len > STORE_TAB_KEY_MAX + 1 || !k.p[0] || !store_tab_logged(k.p[0]))
		return IDN_EPROTO;
	return store_tab_put(t, k.p[0], idn_slice_of(k.p + 1, k.len - 1), v, 0);
}

/* The dump is copied: the log from the first page's snapshot on brings it up to date. */
static int to_log(store_txn *t, struct mstate *m)
{
	int rc;
	m->mode = 'l';
	m->seq = m->s0 + 1;
	m->n = 0;
	if ((rc = set_mode(t, 'l')) || (rc = put_meta_u64(t, "repl.seq", m->seq)) ||
	    (rc = put_meta_u64(t, "repl.n", 0)))
		return rc;
	return IDN_OK;
}

static int apply_dump(store_txn *t, struct mstate *m, wire_rd *c, repl_progress *p)
{
	int rc = IDN_OK;
	uint64_t last = txlog_get_u64(c);
	uint8_t done = wire_get_u8(c);
	uint32_t nh = wire_get_count(c, 4);
	if (c->err)
		return IDN_EPROTO;
	if (m->mode == 'l')
		return IDN_EPROTO; /* a dump answer to a mirror pulling the log */
	bool tables = m->mode == 't';
	if (m->mode != 'b' && !tables) {
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
		if (txlog_key_cmp(k, idn_slice_of(m->after, m->after_len)) <= 0 && m->after_len)
			return IDN_EPROTO; /* pages go forward only */
		rc = tables ? put_table(t, k, v) : store_put(t, k, v, 0);
		memcpy(m->after, k.p, k.len);
		m->after_len = k.len;
		p->applied++;
	}
	if (rc)
		return rc;
	if (wire_rd_left(c) || done > 1)
		return IDN_EPROTO;
	p->primary_seq = last;
	if (done && tables)
		return to_log(t, m);
	if (done) {
		/* the records are copied: the logged tables next, from their first key */
		m->after_len = 0;
	}
	char mode = done || tables ? 't' : 'b';
	if ((rc = set_mode(t, mode)))
		return rc;
	m->mode = mode;
	return store_meta_put(t, "repl.after", idn_slice_of(m->after, m->after_len));
}

int repl_mirror_skip_tables(store *s)
{
	store_txn *t;
	struct mstate m;
	int rc = store_txn_begin(s, 0, &t);
	if (rc)
		return rc;
	rc = state_read(t, &m);
	if (!rc && m.mode == 't')
		rc = to_log(t, &m);
	if (rc) {
		store_txn_abort(t);
		return rc;
	}
	return store_txn_commit(t);
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
	case STORE_LOG_TAB_PUT:
		return store_tab_put(t, k.p[0], idn_slice_of(k.p + 1, k.len - 1), v, 0);
	case STORE_LOG_TAB_DEL:
		rc = store_tab_del(t, k.p[0], idn_slice_of(k.p + 1, k.len - 1));
		return rc == IDN_ENOTFOUND ? IDN_OK : rc;
	}
	return IDN_EPROTO;
}

static int apply_log(store_txn *t, struct mstate *m, wire_rd *c, repl_progress *p)
{
	int rc = IDN_OK;
	uint64_t last = txlog_get_u64(c);
	(void)txlog_get_u64(c); /* oldest: the primary refuses a request it cannot serve */
	uint32_t count = wire_get_count(c, TXLOG_CHANGE_HDR);
	if (c->err || m->mode != 'l')
		return IDN_EPROTO;
	for (uint32_t i = 0; i < count && !rc; i++) {
		txlog_change ch;
		txlog_get_change(c, &ch);
		if (c->err || ch.key.len == 0 || ch.key.len > STORE_KEY_MAX)
			return IDN_EPROTO;
		/* exactly the next change: (seq, n) or the first of the next transaction */
		bool next = (ch.seq == m->seq && ch.n == m->n) ||
		            (m->n > 0 && ch.seq == m->seq + 1 && ch.n == 0);
		if (!next)
			return IDN_EPROTO;
		rc = apply_change(t, ch.op, ch.key, ch.val);
		m->seq = ch.seq;
		m->n = ch.n + 1;
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
