/*
 * requests.c - the way of every request from net/ to the node or the
 * resolver: net's worker and batch callbacks onto node workers, the group
 * commit hooks, and the recursive role's choice, from the node's result,
 * between answering locally and resolving from the root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "node/stats.h"
#include "server/internal.h"

/* A net worker's context: its node worker (NULL without a store). */
typedef struct server_worker {
	node_worker *nw;
	resolver *resolver;
	/* the batch being timed (node_worker_observe): its start, its requests per transport */
	bool timing;
	struct timespec t0;
	uint64_t n[2];
} server_worker;

static void *worker_init(void *arg, unsigned idx)
{
	(void)idx;
	const server_requests *rq = arg;
	server_worker *sw = calloc(1, sizeof(*sw));
	if (!sw)
		return NULL;
	sw->resolver = rq->resolver;
	if (rq->node) {
		if (node_worker_new(rq->node, &sw->nw)) {
			free(sw);
			return NULL;
		}
		/* The net workers hold answers until commit. */
		node_worker_group(sw->nw, rq->group_commit);
		/* A long list goes out over TCP in parts, as the client reads them. */
		node_worker_allow_more(sw->nw, true);
	}
	return sw;
}

static void worker_fini(void *wctx)
{
	server_worker *sw = wctx;
	if (sw->nw)
		node_worker_free(sw->nw);
	free(sw);
}

static void batch_begin(void *wctx)
{
	server_worker *sw = wctx;
	if (!sw->nw)
		return;
	node_worker_begin(sw->nw);
	/* One timestamp per batch, not per request: the latency histogram's. */
	if ((sw->timing = node_worker_counts(sw->nw)))
		clock_gettime(CLOCK_MONOTONIC, &sw->t0);
}

static void batch_end(void *wctx)
{
	server_worker *sw = wctx;
	if (!sw->nw)
		return;
	node_worker_end(sw->nw);
	if (!sw->timing || !(sw->n[0] | sw->n[1]))
		return;
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t ns =
	    (uint64_t)((t1.tv_sec - sw->t0.tv_sec) * 1000000000ll + (t1.tv_nsec - sw->t0.tv_nsec));
	node_worker_observe(sw->nw, NODE_UDP, sw->n[0], ns);
	node_worker_observe(sw->nw, NODE_TCP, sw->n[1], ns);
	sw->n[0] = sw->n[1] = 0;
	sw->timing = false;
}

static bool pending(void *wctx)
{
	server_worker *sw = wctx;
	return sw->nw && node_worker_pending(sw->nw);
}

static int commit(void *wctx)
{
	server_worker *sw = wctx;
	int rc = node_worker_commit(sw->nw);
	/* For want of room, the answers say so and storage-full counts them (node_worker_unsaved).
	 */
	if (rc < 0 && !idn_err_full(rc))
		fprintf(stderr,
		        "idnode: storage commit failed (%s): its writes are answered with errors\n",
		        idn_strerror(rc));
	return rc;
}

static int unsaved(void *wctx, const uint8_t *ans, size_t len, int err, uint8_t *out, size_t cap)
{
	(void)wctx;
	return node_worker_unsaved(ans, len, err, out, cap);
}

/* A TCP miss of the resolver is answered later, from its pool (net_defer). */
static void *defer_req(void *req)
{
	return net_defer(req);
}

static void answer_later(void *later, const uint8_t *ans, size_t len)
{
	net_answer(later, ans, len);
}

static int resolve(resolver *r, const net_req *req, uint8_t *out, size_t cap)
{
	resolver_req rq = {
	    .udp = req->transport == NET_UDP,
	    .udp_fd = req->udp_fd,
	    .peer = req->peer,
	    .peer_len = req->peer_len,
	    .msg = req->msg,
	    .len = req->len,
	    .defer = defer_req,
	    .defer_arg = (void *)req,
	    .answer = answer_later,
	};
	return resolver_answer(r, &rq, out, cap);
}

/* The next part of a list answered in parts (net_more, node_more_next). */
static int more_next(void *wctx, void *arg, uint8_t *out, size_t cap, bool *last)
{
	server_worker *sw = wctx;
	return node_more_next(sw->nw, arg, out, cap, last);
}

static void more_done(void *arg)
{
	node_more_free(arg);
}

/*
 * Our node's answer; one waiting for an identity held elsewhere comes later
 * (net_defer), a long list in parts (net_more).
 */
static int answer_here(server_worker *sw, enum node_transport t, const net_req *req, uint8_t *out,
                       size_t cap)
{
	int n = node_answer_deferrable(sw->nw, t, req->msg, req->len, out, cap,
	                               &(node_later){defer_req, (void *)req, answer_later});
	node_more *m = node_worker_take_more(sw->nw);
	if (m && (n <= 0 || !net_more(req, more_next, more_done, m))) {
		/* Cannot go on: the answer would end with CN set and nothing after it. */
		node_more_free(m);
		return IDN_ENOMEM;
	}
	return n;
}

static int answer(void *wctx, const net_req *req, uint8_t *out, size_t cap)
{
	server_worker *sw = wctx;
	enum node_transport t = req->transport == NET_UDP ? NODE_UDP : NODE_TCP;
	sw->n[t]++;
	if (sw->nw) { /* what the peer holds in the node's tables counts against it */
		node_worker_source(sw->nw, req->peer, req->peer_len);
		node_worker_conn(sw->nw, req->conn_id); /* a login belongs to its connection */
	}
	if (!sw->resolver)
		return answer_here(sw, t, req, out, cap);
	if (!sw->nw)
		return resolve(sw->resolver, req, out, cap);
	if (!resolver_wants(sw->resolver, req->msg, req->len))
		return answer_here(sw, t, req, out, cap);
	/*
	 * Our own identifiers are answered as their authority; only what is
	 * not homed here (301, 303) is resolved from the root.
	 */
	int n = node_answer(sw->nw, t, req->msg, req->len, out, cap);
	uint32_t rc = node_worker_rcode(sw->nw);
	if (n > 0 && rc != PROTO_RC_SERVER_NOT_RESP && rc != PROTO_RC_PREFIX_REFERRAL)
		return n;
	return resolve(sw->resolver, req, out, cap);
}

/* A TCP connection closed: its login goes (node/login.h). */
static void conn_closed(void *wctx, uint64_t conn_id)
{
	server_worker *sw = wctx;
	if (sw->nw)
		node_conn_closed(sw->nw, conn_id);
}

void server_requests_wire(server_requests *rq, net_config *nc)
{
	nc->conn_closed = conn_closed;
	nc->worker_init = worker_init;
	nc->worker_fini = worker_fini;
	nc->batch_begin = batch_begin;
	nc->batch_end = batch_end;
	nc->pending = pending;
	nc->commit = commit;
	nc->unsaved = unsaved;
	nc->handle = answer;
	nc->arg = rq;
}
