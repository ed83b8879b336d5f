/*
 * repl_ops.c - the answers to the replication ops (repl_ops.h).
 */
#include "node/repl_ops.h"

#include "core/err.h"
#include "node/answer.h"
#include "store/txlog_pages.h"

/* Room kept after the body for what node_answer_end appends (a CT signature). */
enum { TAIL_RESERVE = 8192 };

int node_repl_answer(req *rq, store_txn *t)
{
	proto_build b;
	uint32_t op = rq->msg.hdr.opcode;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	size_t left = wire_wr_left(&b.w);
	if (b.w.err || left <= TAIL_RESERVE)
		return node_answer_error(rq, PROTO_RC_ERROR, "answer buffer too small");
	size_t cap = left - TAIL_RESERVE;
	const uint8_t *body = rq->msg.body.p;
	size_t blen = rq->msg.body.len;
	int n = op == PROTO_OP_GET_NEXT_TXN_ID    ? txlog_serve_state(t, b.w.pos, cap)
	        : op == PROTO_OP_RETRIEVE_TXN_LOG ? txlog_serve_log(t, body, blen, b.w.pos, cap)
	                                          : txlog_serve_dump(t, body, blen, b.w.pos, cap);
	switch (n) {
	case IDN_EINVAL:
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR,
		                         "malformed replication request");
	case IDN_ERANGE:
		return node_answer_error(
		    rq, PROTO_RC_ERROR,
		    op == PROTO_OP_RETRIEVE_TXN_LOG
		        ? "log pruned past the requested position: bootstrap again (op 1002)"
		        : "a record or the homed prefixes do not fit one answer");
	default:
		if (n < 0)
			return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	}
	wire_put_raw(&b.w, (size_t)n);
	return node_answer_end(rq, &b);
}

/* Replication (ops 1000-1002): for node-wide administrators only. */
int node_repl_run(node_authz *c)
{
	int ret = node_authz_server(c);
	if (ret)
		return ret;
	return node_repl_answer(c->rq, c->t);
}
