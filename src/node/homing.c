/*
 * homing.c - home and unhome a prefix (homing.h).
 */
#include "node/homing.h"

#include <string.h>

#include "node/answer.h"
#include "node/quota.h"
#include "proto/admin.h"
#include "proto/handle.h"

/* Messages the reference sends, kept byte for byte. */
static const char MSG_NOT_HERE[] = "That naming authority doesn't live here";

/* The prefix a home/unhome names: "0.NA/88.100" or a bare "88.100". */
static int home_prefix(req *rq, uint8_t *norm, idn_slice *out)
{
	idn_slice h, prefix;
	if (proto_handle_req_decode(rq->msg.body, &h))
		return IDN_EINVAL;
	if (handle_na_prefix(h, &prefix))
		prefix = h;
	if (prefix.len == 0 || memchr(prefix.p, '/', prefix.len))
		return IDN_EINVAL;
	int n = handle_prefix_norm(prefix, norm, HANDLE_KEY_MAX);
	if (n < 0)
		return n;
	*out = idn_slice_of(norm, (size_t)n);
	return IDN_OK;
}

int node_home(node_authz *c)
{
	uint8_t norm[HANDLE_KEY_MAX];
	idn_slice p;
	int ret = node_authz_server(c);
	if (ret)
		return ret;
	if (home_prefix(c->rq, norm, &p))
		return node_answer_error(c->rq, PROTO_RC_INVALID_HANDLE, "expected 0.NA/<prefix>");
	bool home = c->rq->msg.hdr.opcode == PROTO_OP_HOME_NA;
	if ((ret = node_quota_homing(c, p, home))) /* a child prefix's quota (605) */
		return ret;
	if (home)
		ret = store_home(c->t, p);
	else if ((ret = store_unhome(c->t, p)) == IDN_ENOTFOUND)
		return node_answer_error(c->rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
	if (ret)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	c->commit = true;
	return node_answer_ok(c->rq);
}
