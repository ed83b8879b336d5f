/*
 * listing.c - the list answers (listing.h): handles under a prefix (105)
 * and homed prefixes (302), streamed as several messages over TCP.
 */
#include "node/listing.h"

#include <string.h>

#include "node/answer.h"
#include "proto/admin.h"
#include "proto/handle.h"

/*
 * A list answer (105, 302): int4 n + str names, written as the scan finds
 * them. Over TCP a list longer than one message goes out as several whole
 * messages back to back in the output buffer, each but the last with CN set
 * (as the reference streams it); the transport sends the concatenation.
 * Elsewhere (HTTP) it must fit one message. Either way the whole list must
 * fit the caller's buffer: a longer one is refused, never cut short.
 */
enum {
	LIST_MSG_MAX = 64 << 10,  /* bytes per list message: keeps each one cheap to buffer */
	LIST_RESERVE = 2048 + 64, /* room kept for the credential of a signed answer */
};

typedef struct list_acc {
	node_authz *c;
	proto_build b;
	uint8_t *base; /* the caller's buffer */
	size_t cap;    /* its size */
	size_t done;   /* bytes of finished messages at base */
	uint8_t *count;
	uint32_t n;
	bool multi;     /* several messages allowed */
	idn_slice want; /* key prefix "88.1000/" (list handles) */
	bool homed;     /* names are homed prefixes: "0.NA/" + key */
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
		if (l->cap - l->done < PROTO_ENV_LEN + PROTO_HDR_LEN + 512 + need + LIST_RESERVE)
			return IDN_ESPACE;
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

/* Runs scan (a store_scan or store_list_homed) into a list answer. */
static int list_answer(node_authz *c, list_acc *l, int (*scan)(list_acc *l), const char *toolong)
{
	req *rq = c->rq;
	l->c = c;
	l->base = rq->out;
	l->cap = rq->cap;
	l->multi = rq->transport == NODE_TCP;
	list_msg_begin(l);
	int ret = scan(l);
	if (!ret)
		ret = list_msg_end(l, false);
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
	return store_scan(l->c->t, l->want, list_cb, l);
}

static int scan_homed(list_acc *l)
{
	return store_list_homed(l->c->t, list_cb, l);
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
