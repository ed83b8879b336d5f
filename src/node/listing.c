/*
 * listing.c - the list answers (listing.h): handles under a prefix (105)
 * and homed prefixes (302), streamed as several messages over TCP, a long
 * list of handles in parts made as the client takes them (node_more).
 */
#include "node/listing.h"

#include <stdlib.h>
#include <string.h>

#include "node/answer.h"
#include "proto/admin.h"
#include "proto/handle.h"

/*
 * A list answer (105, 302): int4 n + str names, written as the scan finds
 * them. Over TCP a list longer than one message goes out as several whole
 * messages back to back in the output buffer, each but the last with CN set
 * (as the reference streams it); the transport sends the concatenation.
 * Elsewhere (HTTP) it must fit one message. A list of handles over TCP
 * whose caller takes parts (node_worker_allow_more) stops when the buffer
 * is full and goes on from that key in the next part (node_more_next);
 * otherwise the whole list must fit the caller's buffer: a longer one is
 * refused, never cut short.
 */
enum {
	LIST_MSG_MAX = 64 << 10,  /* bytes per list message: keeps each one cheap to buffer */
	LIST_RESERVE = 2048 + 64, /* room kept for the credential of a signed answer */
	LIST_STOPPED = 1,         /* the scan stopped at a full buffer, to go on later */
};

/* A list of handles answered in parts: the request, and where the next part starts. */
struct node_more {
	req rq;      /* the list request; rq.msg.hb points at hb */
	uint8_t *hb; /* a copy of its header and body (the digest of RD) */
	uint8_t want[HANDLE_KEY_MAX];
	size_t wlen;
	uint8_t start[HANDLE_KEY_MAX];
	size_t slen;
};

typedef struct list_acc {
	node_authz *c;
	proto_build b;
	uint8_t *base; /* the caller's buffer */
	size_t cap;    /* its size */
	size_t done;   /* bytes of finished messages at base */
	uint8_t *count;
	uint32_t n;
	bool multi;       /* several messages allowed */
	idn_slice want;   /* key prefix "88.1000/" (list handles) */
	bool homed;       /* names are homed prefixes: "0.NA/" + key */
	bool can_stop;    /* a full buffer stops the scan at `resume` (LIST_STOPPED) */
	idn_slice resume; /* where the scan starts; where it stopped */
	uint8_t rbuf[HANDLE_KEY_MAX];
} list_acc;

static void list_msg_begin(list_acc *l)
{
	req *rq = l->c->rq;
	size_t left = l->cap - l->done;
	rq->out = l->base + l->done;
	/* One message of a stream is kept small; a lone message may be as large as any. */
	size_t max = PROTO_ENV_LEN + (l->multi ? LIST_MSG_MAX : PROTO_MSG_MAX);
	rq->cap = left < max ? left : max;
	node_answer_begin(rq, &l->b, PROTO_RC_SUCCESS);
	l->count = wire_put_raw(&l->b.w, 4);
	l->n = 0;
}

/* Finishes the message being written; `more` sets CN. Returns 0 or an idn_err. */
static int list_msg_end(list_acc *l, bool more)
{
	if (l->b.w.err || !l->count)
		return IDN_ESPACE;
	idn_put_be32(l->count, l->n);
	if (more)
		idn_put_be32(l->b.hdr + 8, idn_be32(l->b.hdr + 8) | PROTO_F_CN);
	int len = node_answer_end(l->c->rq, &l->b);
	if (len < 0)
		return len;
	l->done += (size_t)len;
	return IDN_OK;
}

static int list_put(list_acc *l, const char *pre, size_t prelen, idn_slice name)
{
	size_t need = 4 + prelen + name.len;
	if (wire_wr_left(&l->b.w) < need + LIST_RESERVE) {
		if (!l->multi || l->n == 0)
			return IDN_ESPACE;
		int ret = list_msg_end(l, true);
		if (ret)
			return ret;
		if (l->cap - l->done < PROTO_ENV_LEN + PROTO_HDR_LEN + 512 + need + LIST_RESERVE) {
			if (!l->can_stop || name.len > sizeof(l->rbuf))
				return IDN_ESPACE;
			/* The next part starts with this name (the scan's memory goes with it). */
			memcpy(l->rbuf, name.p, name.len);
			l->resume = idn_slice_of(l->rbuf, name.len);
			return LIST_STOPPED;
		}
		list_msg_begin(l);
	}
	wire_put_u32(&l->b.w, (uint32_t)(prelen + name.len));
	wire_put_data(&l->b.w, pre, prelen);
	wire_put_data(&l->b.w, name.p, name.len);
	l->n++;
	return l->b.w.err;
}

static int list_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	list_acc *l = arg;
	if (l->homed)
		return list_put(l, "0.NA/", 5, key);
	if (key.len < l->want.len || memcmp(key.p, l->want.p, l->want.len))
		return 0;
	return list_put(l, "", 0, key);
}

void node_more_free(node_more *m)
{
	if (!m)
		return;
	free(m->hb);
	free(m);
}

/* A list stopped at l->resume: the worker keeps where the next part starts. */
static int more_save(node_authz *c, const list_acc *l)
{
	req *rq = c->rq;
	node_more *m = calloc(1, sizeof(*m));
	if (!m || !(m->hb = malloc(rq->msg.hb.len ? rq->msg.hb.len : 1))) {
		node_more_free(m);
		return IDN_ENOMEM;
	}
	m->rq = *rq;
	memcpy(m->hb, rq->msg.hb.p, rq->msg.hb.len);
	m->rq.msg.hb = idn_slice_of(m->hb, rq->msg.hb.len);
	m->rq.msg.body = idn_slice_of(NULL, 0);
	m->rq.msg.cred = idn_slice_of(NULL, 0);
	memcpy(m->want, l->want.p, l->want.len);
	m->wlen = l->want.len;
	memcpy(m->start, l->resume.p, l->resume.len);
	m->slen = l->resume.len;
	node_more_free(rq->w->more);
	rq->w->more = m;
	return IDN_OK;
}

/* Runs scan (a store_scan or store_list_homed) into a list answer. */
static int list_answer(node_authz *c, list_acc *l, int (*scan)(list_acc *l), const char *toolong)
{
	req *rq = c->rq;
	l->c = c;
	l->base = rq->out;
	l->cap = rq->cap;
	l->multi = rq->transport == NODE_TCP;
	l->can_stop = l->multi && rq->w->more_ok && !l->homed;
	list_msg_begin(l);
	int ret = scan(l);
	if (!ret)
		ret = list_msg_end(l, false);
	if (ret == LIST_STOPPED)
		ret = more_save(c, l);
	rq->out = l->base;
	rq->cap = l->cap;
	if (ret == IDN_ESPACE)
		return node_answer_error(rq, PROTO_RC_ERROR, toolong);
	if (ret)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	return (int)l->done;
}

static int scan_handles(list_acc *l)
{
	return store_scan_from(l->c->t, l->want, l->resume, list_cb, l);
}

static int scan_homed(list_acc *l)
{
	return store_list_homed(l->c->t, list_cb, l);
}

int node_more_next(node_worker *w, node_more *m, uint8_t *out, size_t cap, bool *last)
{
	req *rq = &m->rq;
	rq->w = w;
	rq->out = out;
	rq->cap = cap;
	node_authz c = {.rq = rq};
	list_acc l = {.want = idn_slice_of(m->want, m->wlen),
	              .resume = idn_slice_of(m->start, m->slen)};
	node_more *before = w->more;
	w->more = NULL;
	bool own_snapshot = !w->in_batch && !w->wtxn;
	if (own_snapshot)
		node_worker_begin(w);
	c.t = node_rtxn(w);
	int n = list_answer(&c, &l, scan_handles, "storage error");
	if (own_snapshot)
		node_worker_end(w);
	/* Stopped again: the new start replaces this one. */
	if (n > 0 && w->more) {
		memcpy(m->start, w->more->start, w->more->slen);
		m->slen = w->more->slen;
		node_more_free(w->more);
		*last = false;
	} else {
		*last = true;
	}
	w->more = before;
	return n;
}

int node_list_handles(node_authz *c)
{
	req *rq = c->rq;
	idn_slice h, prefix;
	if (proto_handle_req_decode(rq->msg.body, &h) || handle_na_prefix(h, &prefix))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR, "malformed request");
	record pr;
	int pf = node_authz_read_record(c, h, &pr);
	if (pf < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	int ret = node_authz_check(c, NULL, pf > 0 ? &pr : NULL, PROTO_ADM_LIST_HANDLES, h);
	if (ret)
		return ret;
	uint8_t want[HANDLE_KEY_MAX];
	int n = handle_prefix_norm(prefix, want, sizeof(want) - 1);
	if (n < 0)
		return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid prefix");
	want[n++] = '/';
	list_acc l = {.want = idn_slice_of(want, (size_t)n)};
	return list_answer(c, &l, scan_handles,
	                   rq->transport == NODE_TCP
	                       ? "too many handles under this prefix for one answer buffer"
	                       : "too many handles under this prefix for one message: list "
	                         "over TCP");
}

int node_list_homed(node_authz *c)
{
	int ret = node_authz_server(c);
	if (ret)
		return ret;
	list_acc l = {.homed = true};
	return list_answer(c, &l, scan_homed, "too many homed prefixes for one answer");
}
