/*
 * api_quota.c - GET, PUT and DELETE /api/quotas/{kind}/{key}: a node admin
 * looks at or changes one quota at runtime (node/quota.h). kind is daily
 * (key INDEX:HANDLE), identifiers or child-prefixes (key a prefix). PUT
 * takes {"limit": N} (0 = no limit) and/or {"recount": true} (a prefix
 * counted again from its records), DELETE returns the key to the default;
 * each answers what is then in force: {"kind","key","limit","default",
 * "override","used","counted"[,"resets"]}. Authorization as for writes
 * (Basic or a Handle session); only node-wide admins (--server-admin).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/reply.h"
#include "api/routes.h"
#include "node/quota.h"

static void info_json(http_resp *r, enum node_quota_kind kind, const node_quota_info *in)
{
	http_resp_printf(r, "{\"kind\":\"%s\",\"key\":", node_quota_kind_name(kind));
	api_json_str(r, idn_slice_of(in->key, strlen(in->key)));
	http_resp_printf(r,
	                 ",\"limit\":%llu,\"default\":%llu,\"override\":%s,\"used\":%llu,"
	                 "\"counted\":%s",
	                 (unsigned long long)in->limit, (unsigned long long)in->dflt,
	                 in->override ? "true" : "false", (unsigned long long)in->used,
	                 in->counted ? "true" : "false");
	if (kind == QUOTA_DAILY)
		http_resp_printf(r, ",\"resets\":%u", in->resets);
	http_resp_puts(r, "}");
}

/* What a PUT body asks: {"limit": N} (else *limit -1), {"recount": true}. 0, or -1 with the 400. */
static int put_body(const http_req *req, http_resp *r, long long *limit, bool *recount)
{
	json_t *doc = api_json_body(req, r);
	if (!doc)
		return -1;
	json_t *jl = json_object_get(doc, "limit"), *jr = json_object_get(doc, "recount");
	*limit = json_is_integer(jl) ? json_integer_value(jl) : -1;
	*recount = json_is_true(jr);
	bool bad = (jl && *limit < 0) || (jr && !json_is_boolean(jr)) || (!jl && !*recount);
	json_decref(doc);
	if (bad)
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE,
		                "expected {\"limit\": N} (N a whole number >= 0, 0: no limit) "
		                "and/or {\"recount\": true}");
	return bad ? -1 : 0;
}

int api_quota(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	const uint8_t *slash = memchr(rest.p, '/', rest.len);
	int kind = slash ? node_quota_kind((const char *)rest.p, (size_t)(slash - rest.p)) : -1;
	if (kind < 0) {
		http_resp_error(
		    r, 404, PROTO_RC_INVALID_VALUE,
		    "expected /api/quotas/daily/INDEX:HANDLE, "
		    "/api/quotas/identifiers/PREFIX or /api/quotas/child-prefixes/PREFIX");
		return 0;
	}
	uint8_t key[PROTO_HANDLE_MAX + 16];
	idn_slice kr = idn_slice_of(slash + 1, rest.len - (size_t)(slash + 1 - rest.p));
	int kl = api_pct_decode(kr, false, key, sizeof(key));
	if (kl <= 0) {
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE,
		                "the quota's key is missing, malformed (bad %-escape) or too long");
		return 0;
	}
	enum node_quota_op op = !strcmp(req->method, "PUT")      ? QUOTA_SET
	                        : !strcmp(req->method, "DELETE") ? QUOTA_UNSET
	                                                         : QUOTA_GET;
	ident id;
	if (api_need_auth(w, req, r, &id) <= 0)
		return 0;
	long long limit = 0;
	bool recount = false;
	if (op == QUOTA_SET && put_body(req, r, &limit, &recount))
		return 0;
	node_quota_info in;
	char why[160];
	idn_slice who = idn_slice_of(id.handle, id.hlen), k = idn_slice_of(key, (size_t)kl);
	int ret = IDN_OK;
	if (op != QUOTA_SET || limit >= 0)
		ret = node_quota_admin(w->nw, who, id.index, kind, k, op, (uint64_t)limit, &in, why,
		                       sizeof(why));
	if (!ret && recount)
		ret = node_quota_admin(w->nw, who, id.index, kind, k, QUOTA_RECOUNT, 0, &in, why,
		                       sizeof(why));
	if (ret == QUOTA_NOT_ADMIN)
		http_resp_error(r, 403, PROTO_RC_INSUFFICIENT_PERMISSIONS,
		                "quotas are a node admin's (--server-admin)");
	else if (ret == IDN_EINVAL)
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, why);
	else if (ret == IDN_ENOTSUP)
		http_resp_error(r, 501, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                "this node has no store (--data or --store): no quotas");
	else if (ret)
		http_resp_error(r, 500, PROTO_RC_ERROR, idn_strerror(ret));
	else
		info_json(r, kind, &in);
	return 0;
}
