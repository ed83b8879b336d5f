/*
 * resolve.c - the answers to resolution (op 1) and site information (op 2),
 * and the referrals a resolution may end in (resolve.h).
 */
#include "node/resolve.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/limit.h"
#include "node/admin.h"
#include "node/answer.h"
#include "node/authz.h"
#include "node/login.h"
#include "node/referral.h"
#include "node/stats.h"
#include "node/stats_int.h"
#include "proto/handle.h"
#include "proto/record.h"

/* Messages the reference sends, kept byte for byte. */
static const char MSG_NOT_HERE[] = "That naming authority doesn't live here";

/*
 * Does a value's type pass one requested type? As the reference
 * (Util.isParentTypeInArray): exact and case-insensitive, except that a
 * requested type ending in '.' names a family: "URL." matches "URL.us" and
 * "URL" itself. "URL" does not match "URL.us"; an empty type matches nothing.
 */
static bool type_matches(idn_slice want, idn_slice type)
{
	const char *w = (const char *)want.p, *t = (const char *)type.p;
	if (type.len == 0)
		return false;
	if (want.len && want.p[want.len - 1] == '.') {
		if (type.len >= want.len && strncasecmp(t, w, want.len) == 0)
			return true;
		return type.len == want.len - 1 && strncasecmp(t, w, type.len) == 0;
	}
	return want.len == type.len && strncasecmp(t, w, want.len) == 0;
}

static bool value_selected(const proto_resolve_req *rr, const proto_value *v)
{
	if (rr->nindexes == 0 && rr->ntypes == 0)
		return true;
	/* Index and type filters combine as a union, as the reference does. */
	for (uint32_t i = 0; i < rr->nindexes; i++)
		if (idn_be32(rr->indexes + 4 * i) == v->index)
			return true;
	wire_rd t = wire_rd_init(rr->types.p, rr->types.len);
	for (uint32_t i = 0; i < rr->ntypes; i++)
		if (type_matches(wire_get_lbytes(&t), v->type))
			return true;
	return false;
}

/*
 * Whether prefix is homed here. Within one read snapshot (no write
 * transaction open) the answer cannot change, so the last one is kept for
 * the next request that asks about the same prefix in a snapshot of the
 * same identity (w->snap: on LMDB, until a write commits; elsewhere, the
 * batch).
 */
static int is_homed(node_worker *w, idn_slice prefix)
{
	uint8_t norm[HANDLE_KEY_MAX];
	int n = handle_prefix_norm(prefix, norm, sizeof(norm));
	if (n < 0)
		return 0;
	bool memo = w->in_batch && !w->wtxn && n <= NODE_HOMED_MEMO;
	if (memo && w->homed_memo.snap == w->snap && w->homed_memo.len == n &&
	    memcmp(w->homed_memo.prefix, norm, (size_t)n) == 0)
		return w->homed_memo.homed;
	int h = store_is_homed(node_rtxn(w), idn_slice_of(norm, (size_t)n));
	if (memo && h >= 0) {
		w->homed_memo.snap = w->snap;
		w->homed_memo.len = (uint8_t)n;
		w->homed_memo.homed = (int8_t)h;
		memcpy(w->homed_memo.prefix, norm, (size_t)n);
	}
	return h;
}

/*
 * Refers to the site of the nearest ancestor of prefix that delegates its
 * derived prefixes. Returns the answer length, 0 when there is nothing to
 * refer to (or the client asked not to be referred), or a negative idn_err.
 */
static int try_referral(req *rq, idn_slice prefix)
{
	node_worker *w = rq->w;
	if (rq->msg.hdr.flags & PROTO_F_DNRF)
		return 0;
	referral r;
	int found = referral_find(node_rtxn(w), w->node->cfg.case_sensitive, prefix, &r);
	if (found < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	if (!found)
		return 0;
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_PREFIX_REFERRAL);
	referral_put(&b.w, &r);
	int ret = node_answer_end(rq, &b);
	if (ret == IDN_ESPACE)
		return node_answer_error(rq, PROTO_RC_ERROR, "answer too large");
	return ret;
}

/*
 * A handle whose prefix is not homed here: refer along the derived-prefix
 * chain unless we hold the prefix's own record (then the client asks for
 * 0.NA/<prefix> and goes where it says), else 301.
 */
static int not_homed(req *rq, idn_slice handle, idn_slice prefix)
{
	node_worker *w = rq->w;
	idn_slice na;
	if (handle_na_prefix(handle, &na) == IDN_OK)
		prefix = na; /* 0.NA/88.100.1 here without 0.NA homed: walk from 88.100.1 */
	else {
		uint8_t name[PROTO_HANDLE_MAX + 8];
		int n = snprintf((char *)name, sizeof(name), "0.NA/%.*s", (int)prefix.len,
		                 (const char *)prefix.p);
		idn_slice raw;
		int klen = n > 0 && (size_t)n < sizeof(name)
		               ? handle_key(idn_slice_of(name, (size_t)n),
		                            w->node->cfg.case_sensitive, w->key)
		               : -1;
		if (klen > 0 &&
		    store_get(node_rtxn(w), idn_slice_of(w->key, (size_t)klen), &raw) == 0)
			return node_answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
	}
	int ret = try_referral(rq, prefix);
	if (ret)
		return ret;
	return node_answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
}

/*
 * An answer that does not fit one message (ret IDN_ESPACE): a record stored
 * before records were checked when written. The client is told, on every
 * transport, instead of getting nothing.
 */
static int too_big(req *rq, idn_slice handle, size_t rlen, int ret)
{
	if (ret != IDN_ESPACE)
		return ret;
	limit_hit(LIM_RECORD_SIZE, "%.*s: a %zu-byte record is too large to serve", (int)handle.len,
	          (const char *)handle.p, rlen);
	char msg[160];
	snprintf(msg, sizeof(msg),
	         "record too large to serve: %zu bytes, more than one answer (%d bytes) carries",
	         rlen, PROTO_MSG_MAX);
	return node_answer_error(rq, PROTO_RC_ERROR, msg);
}

/*
 * The values of rec the request selects: the publicly readable ones, or
 * with all (an authenticated reader's) every one. The handle is echoed as
 * the request spells it, as the reference does.
 */
static int answer_values(req *rq, const proto_resolve_req *rr, const record *rec, size_t rlen,
                         bool all)
{
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	wire_put_slice(&b.w, rr->handle);

	bool filtered = rr->nindexes || rr->ntypes;
	if (!filtered && (all || (rec->flags & RECORD_F_ALL_PUBLIC))) {
		wire_put_data(&b.w, rec->counted.p, rec->counted.len);
		return too_big(rq, rr->handle, rlen, node_answer_end(rq, &b));
	}
	uint8_t *count = wire_put_raw(&b.w, 4);
	uint32_t n = 0;
	proto_values_it it = proto_values_begin(rec->values, rec->nvalues);
	proto_value v;
	int vrc;
	while ((vrc = proto_values_next(&it, &v)) == 1) {
		if ((!all && !(v.perms & PROTO_PERM_PUBLIC_READ)) || !value_selected(rr, &v))
			continue;
		wire_put_data(&b.w, it.raw.p, it.raw.len);
		n++;
	}
	if (vrc)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error: damaged record");
	if (filtered && n == 0)
		return node_answer_error(rq, PROTO_RC_VALUE_NOT_FOUND, "");
	if (count)
		idn_put_be32(count, n);
	return too_big(rq, rr->handle, rlen, node_answer_end(rq, &b));
}

/*
 * Does rec hold a value an anonymous reader may not see? 0 no, 1 yes (an
 * admin may read it), 2 one not even an admin may read (the reference's
 * checkReadAccess refuses those), negative for a damaged record.
 */
static int restricted(const record *rec)
{
	proto_values_it it = proto_values_begin(rec->values, rec->nvalues);
	proto_value v;
	int vrc, need = 0;
	while ((vrc = proto_values_next(&it, &v)) == 1) {
		if (v.perms & PROTO_PERM_PUBLIC_READ)
			continue;
		if (!(v.perms & PROTO_PERM_ADMIN_READ))
			return 2;
		need = 1;
	}
	return vrc ? IDN_ESTORE : need;
}

int node_resolution_answer(req *rq)
{
	node_worker *w = rq->w;
	proto_resolve_req rr;
	handle_parts parts;

	if (proto_resolve_req_decode(rq->msg.body, &rr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR,
		                         "malformed resolution request");
	/* The national SDKs' keep-alive (IDIS.md section 1): answered here, at once. */
	if (rr.handle.len == 1 && rr.handle.p[0] == '0')
		return node_answer_error(rq, PROTO_RC_HANDLE_NOT_FOUND, "");
	if (handle_split(rr.handle, &parts) || parts.prefix.len == 0)
		return node_answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);
	w->st_prefix = parts.prefix; /* counted by outcome once answered (node/stats.h) */
	if (rr.handle.len > PROTO_HANDLE_MAX || memchr(rr.handle.p, 0, rr.handle.len))
		return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");

	if (rq->msg.hdr.recursion > w->node->cfg.max_recursion)
		return node_answer_error(rq, PROTO_RC_RECURSION_COUNT_TOO_HIGH,
		                         "recursion limit reached");

	int homed = is_homed(w, parts.prefix);
	if (homed < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	if (!homed)
		return not_homed(rq, rr.handle, parts.prefix);

	int own = referral_site_owns(&w->node->site, w->node->cfg.server_id, rr.handle);
	if (own == 0)
		return node_answer_error(rq, PROTO_RC_SERVER_NOT_RESP, MSG_NOT_HERE);

	int klen = handle_key(rr.handle, w->node->cfg.case_sensitive, w->key);
	if (klen < 0)
		return node_answer_error(rq, PROTO_RC_INVALID_HANDLE, "invalid handle");
	idn_slice raw;
	int ret = store_get(node_rtxn(w), idn_slice_of(w->key, (size_t)klen), &raw);
	if (ret == IDN_ENOTFOUND) {
		/* A derived prefix we do not hold: its parent may say who does (x73). */
		idn_slice na;
		if (handle_na_prefix(rr.handle, &na) == IDN_OK && (ret = try_referral(rq, na)) != 0)
			return ret;
		return node_answer_error(rq, PROTO_RC_HANDLE_NOT_FOUND, "");
	}
	record rec;
	if (ret || record_parse(raw, &rec))
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	/* One message on every transport, however large the caller's buffer. */
	if (rq->cap > PROTO_ENV_LEN + PROTO_MSG_MAX)
		rq->cap = PROTO_ENV_LEN + PROTO_MSG_MAX;

	/*
	 * Asked for every value over TCP (no PO flag): as the reference, an
	 * identity with the read-value right must prove itself when some are
	 * restricted (402, then node_resolution_run), and a value nobody may
	 * read is refused (401).
	 */
	if (node_resolution_wants_auth(rq) && !(rec.flags & RECORD_F_ALL_PUBLIC)) {
		int need = restricted(&rec);
		if (need < 0)
			return node_answer_error(rq, PROTO_RC_ERROR,
			                         "storage error: damaged record");
		if (need == 2)
			return node_answer_error(rq, PROTO_RC_INSUFFICIENT_PERMISSIONS,
			                         "a value is readable by nobody");
		if (need)
			return node_login_challenge(rq); /* as the connection's login, if any */
	}
	return answer_values(rq, &rr, &rec, raw.len, false);
}

/*
 * The steps of node_resolution_answer for an unfiltered HTTP resolution, each
 * way out but a whole public record left to it (0); counted as it counts.
 */
int node_resolve_plain(node_worker *w, idn_slice handle, idn_slice *values, uint32_t *nvalues)
{
	handle_parts parts;
	if (!w->in_batch || w->wtxn || (handle.len == 1 && handle.p[0] == '0') ||
	    handle.len > PROTO_HANDLE_MAX || memchr(handle.p, 0, handle.len) ||
	    handle_split(handle, &parts) || parts.prefix.len == 0 ||
	    is_homed(w, parts.prefix) != 1 ||
	    referral_site_owns(&w->node->site, w->node->cfg.server_id, handle) == 0)
		return 0;
	int klen = handle_key(handle, w->node->cfg.case_sensitive, w->key);
	idn_slice raw;
	record rec;
	if (klen < 0 || store_get(node_rtxn(w), idn_slice_of(w->key, (size_t)klen), &raw) ||
	    record_parse(raw, &rec) || !(rec.flags & RECORD_F_ALL_PUBLIC) || rec.counted.len < 4 ||
	    PROTO_HDR_LEN + 4 + handle.len + rec.counted.len > PROTO_MSG_MAX)
		return 0;
	*nvalues = idn_be32(rec.counted.p);
	*values = idn_slice_of(rec.counted.p + 4, rec.counted.len - 4);
	w->rcode = PROTO_RC_SUCCESS;
	if (w->st) {
		unsigned slot = 0; /* the opcode table's row: its first */
		while (slot < NODE_OP_SLOTS - 1 && node_metrics_opcode(slot) != PROTO_OP_RESOLUTION)
			slot++;
		w->st_prefix = parts.prefix;
		node_stats_answered(w, NODE_HTTP, slot, PROTO_RC_SUCCESS);
	}
	return 1;
}

uint64_t node_prefetch(node_worker *w, idn_slice handle)
{
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(handle, w->node->cfg.case_sensitive, key);
	return klen > 0 ? store_prefetch(w->node->store, idn_slice_of(key, (size_t)klen), 0) : 0;
}

void node_prefetch_more(node_worker *w, uint64_t hint)
{
	if (hint)
		store_prefetch(w->node->store, idn_slice_of(NULL, 0), hint);
}

bool node_resolution_wants_auth(const req *rq)
{
	return rq->msg.hdr.opcode == PROTO_OP_RESOLUTION && rq->transport == NODE_TCP &&
	       !(rq->msg.hdr.flags & PROTO_F_PO);
}

int node_resolution_run(node_authz *c)
{
	req *rq = c->rq;
	proto_resolve_req rr;
	if (proto_resolve_req_decode(rq->msg.body, &rr))
		return node_answer_error(rq, PROTO_RC_PROTOCOL_ERROR,
		                         "malformed resolution request");
	record rec;
	int found = node_authz_read_record(c, rr.handle, &rec);
	if (found < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error");
	if (!found)
		return node_answer_error(rq, PROTO_RC_HANDLE_NOT_FOUND, "");
	/*
	 * Restricted values need the reference's READ_VAL_PERM: the handle's own
	 * HS_ADMIN values (or a node admin). A record with none is answered
	 * whole to anyone (the reference asks the right of any reader in a
	 * session; the values are public anyway).
	 */
	int need = restricted(&rec);
	if (need < 0)
		return node_answer_error(rq, PROTO_RC_ERROR, "storage error: damaged record");
	if (need == 2)
		return node_answer_error(rq, PROTO_RC_INSUFFICIENT_PERMISSIONS,
		                         "a value is readable by nobody");
	int ret = need ? node_authz_check(c, &rec, NULL, PROTO_ADM_READ_VALUE, rr.handle) : 0;
	if (ret)
		return ret;
	if (rq->cap > PROTO_ENV_LEN + PROTO_MSG_MAX)
		rq->cap = PROTO_ENV_LEN + PROTO_MSG_MAX;
	return answer_values(rq, &rr, &rec, rec.values.len, true);
}

int node_site_info_answer(req *rq)
{
	const node_config *cfg = &rq->w->node->cfg;
	if (cfg->site_info.len == 0)
		return node_answer_error(rq, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                         "no site information");
	proto_build b;
	node_answer_begin(rq, &b, PROTO_RC_SUCCESS);
	wire_put_data(&b.w, cfg->site_info.p, cfg->site_info.len);
	return node_answer_end(rq, &b);
}
