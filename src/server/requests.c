/*
 * requests.c - the way of every request from net/ to the node or the
 * resolver: net's worker and batch callbacks onto node workers, the group
 * commit hooks, and the recursive role's choice, from the node's result,
 * between answering locally and resolving from the root.
 */
#include <stdio.h>
#include <stdlib.h>

#include "server/internal.h"

/* A net worker's context: its node worker (NULL without a store). */
typedef struct server_worker {
	node_worker *nw;
	resolver *resolver;
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
	if (sw->nw)
		node_worker_begin(sw->nw);
}

static void batch_end(void *wctx)
{
	server_worker *sw = wctx;
	if (sw->nw)
		node_worker_end(sw->nw);
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
	if (rc < 0)
		fprintf(stderr,
		        "idnode: storage commit failed (%s): answers to its writes dropped\n",
		        idn_strerror(rc));
	return rc;
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

/* Our node's answer; one waiting for an identity held elsewhere comes later (net_defer). */
static int answer_here(server_worker *sw, enum node_transport t, const net_req *req, uint8_t *out,
                       size_t cap)
{
	return node_answer_deferrable(sw->nw, t, req->msg, req->len, out, cap,
	                              &(node_later){defer_req, (void *)req, answer_later});
}

static int answer(void *wctx, const net_req *req, uint8_t *out, size_t cap)
{
	server_worker *sw = wctx;
	enum node_transport t = req->transport == NET_UDP ? NODE_UDP : NODE_TCP;
	if (sw->nw) /* what the peer holds in the node's tables counts against it */
		node_worker_source(sw->nw, req->peer, req->peer_len);
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

void server_requests_wire(server_requests *rq, net_config *nc)
{
	nc->worker_init = worker_init;
	nc->worker_fini = worker_fini;
	nc->batch_begin = batch_begin;
	nc->batch_end = batch_end;
	nc->pending = pending;
	nc->commit = commit;
	nc->handle = answer;
	nc->arg = rq;
}
