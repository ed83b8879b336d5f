/*
 * authz.c - who may do what (authz.h): HS_ADMIN rights, HS_VLIST groups,
 * node-wide administrators.
 */
#include "node/authz.h"

#include <stdio.h>
#include <string.h>

#include "node/answer.h"
#include "proto/admin.h"
#include "proto/handle.h"
#include "proto/reserved.h"

enum {
	VLIST_DEPTH = 8,     /* how deep HS_VLIST groups nest */
	VLIST_LOOKUPS = 256, /* records read per authorisation, whatever the graph */
};

bool node_authz_case_sensitive(const node_authz *c)
{
	return c->rq->w->node->cfg.case_sensitive;
}

int node_authz_read_record(node_authz *c, idn_slice h, record *r)
{
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(h, node_authz_case_sensitive(c), key);
	if (klen < 0)
		return 0;
	idn_slice raw;
	int ret = store_get(c->t, idn_slice_of(key, (size_t)klen), &raw);
	if (ret == IDN_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	return record_parse(raw, r) ? IDN_ESTORE : 1;
}

static bool same_handle(node_authz *c, idn_slice h)
{
	uint8_t key[HANDLE_KEY_MAX];
	int klen = handle_key(h, node_authz_case_sensitive(c), key);
	return klen >= 0 && klen == c->id_klen && !memcmp(key, c->id_key, (size_t)klen);
}

/*
 * Is the identity the admin reference h:index, directly or through HS_VLIST
 * groups at it? Index 0 means any index of h. 1 yes, 0 no, negative error.
 * Cycles end at the depth bound; the lookup budget bounds the work.
 */
static int is_member(node_authz *c, idn_slice h, uint32_t index, int depth)
{
	if (same_handle(c, h) && (index == 0 || index == c->id_index))
		return 1;
	if (depth >= VLIST_DEPTH || ++c->lookups > VLIST_LOOKUPS)
		return 0;
	record r;
	int found = node_authz_read_record(c, h, &r);
	if (found <= 0)
		return found;
	proto_values_match vlists = {.index = index, .type = IDN_SLICE("HS_VLIST")};
	proto_values_it it = proto_values_begin(r.values, r.nvalues);
	proto_value v;
	int vrc;
	while ((vrc = proto_values_find(&it, &vlists, &v)) == 1) {
		proto_vlist vl;
		if (proto_vlist_decode(v.data, &vl))
			continue;
		wire_rd rc = wire_rd_init(vl.refs.p, vl.refs.len);
		proto_ref ref;
		while (proto_ref_next(&rc, &ref) == 1) {
			int m = is_member(c, ref.handle, ref.index, depth + 1);
			if (m)
				return m;
		}
	}
	return vrc ? IDN_ESTORE : 0;
}

static int is_server_admin(node_authz *c)
{
	for (size_t i = 0; i < c->nadmins; i++) {
		const node_server_admin *sa = &c->admins[i];
		int m = is_member(c, idn_slice_of(sa->handle, strlen(sa->handle)), sa->index, 0);
		if (m)
			return m;
	}
	return 0;
}

/*
 * The rights the identity holds through the HS_ADMIN values of record r
 * (OR of every HS_ADMIN naming it); *admin set when at least one names it.
 */
static int rights_in(node_authz *c, const record *r, uint16_t *rights, bool *admin)
{
	proto_values_match admins = {.type = IDN_SLICE("HS_ADMIN")};
	proto_values_it it = proto_values_begin(r->values, r->nvalues);
	proto_value v;
	int vrc;
	while ((vrc = proto_values_find(&it, &admins, &v)) == 1) {
		proto_admin ad;
		if (proto_admin_decode(v.data, &ad))
			continue;
		int m = is_member(c, ad.handle, ad.index, 0);
		if (m < 0)
			return m;
		if (m) {
			*admin = true;
			*rights |= ad.rights;
		}
	}
	return vrc ? IDN_ESTORE : IDN_OK;
}

static const struct {
	uint16_t bit;
	const char *name;
} right_names[] = {
    {PROTO_ADM_ADD_HANDLE, "add handle"},
    {PROTO_ADM_DELETE_HANDLE, "delete handle"},
    {PROTO_ADM_ADD_DERIVED_PREFIX, "add derived prefix"},
    {PROTO_ADM_DELETE_DERIVED_PREFIX, "delete derived prefix"},
    {PROTO_ADM_MODIFY_VALUE, "modify value"},
    {PROTO_ADM_REMOVE_VALUE, "remove value"},
    {PROTO_ADM_ADD_VALUE, "add value"},
    {PROTO_ADM_MODIFY_ADMIN, "modify admin"},
    {PROTO_ADM_REMOVE_ADMIN, "remove admin"},
    {PROTO_ADM_ADD_ADMIN, "add admin"},
    {PROTO_ADM_READ_VALUE, "read value"},
    {PROTO_ADM_LIST_HANDLES, "list handles"},
};

/*
 * Checks that the identity holds every bit of `need` through the HS_ADMIN
 * values of `own` (the handle's record, may be NULL) or of `prefix` (the
 * 0.NA/<prefix> record, may be NULL), or is a node-wide admin. Returns 0
 * when it does, else the answer: 400 when no HS_ADMIN names it, 401 naming
 * the first missing right.
 */
int node_authz_check(node_authz *c, const record *own, const record *prefix, uint16_t need,
                     idn_slice what)
{
	int sa = is_server_admin(c);
	if (sa < 0)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	if (sa)
		return 0;
	uint16_t rights = 0;
	bool admin = false;
	int ret = IDN_OK;
	if (own)
		ret = rights_in(c, own, &rights, &admin);
	if (!ret && prefix)
		ret = rights_in(c, prefix, &rights, &admin);
	if (ret)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	if (!admin)
		return node_answer_error(c->rq, PROTO_RC_INVALID_ADMIN, "");
	if ((rights & need) == need)
		return 0;
	const char *missing = "?";
	for (size_t i = 0; i < sizeof(right_names) / sizeof(right_names[0]); i++)
		if ((need & right_names[i].bit) && !(rights & right_names[i].bit)) {
			missing = right_names[i].name;
			break;
		}
	char msg[PROTO_HANDLE_MAX * 2 + 128];
	snprintf(msg, sizeof(msg), "%u:%.*s lacks the \"%s\" right on %.*s", c->id_index,
	         (int)c->id_handle.len, (const char *)c->id_handle.p, missing, (int)what.len,
	         (const char *)what.p);
	return node_answer_error(c->rq, PROTO_RC_INSUFFICIENT_PERMISSIONS, msg);
}

int node_authz_rights(node_authz *c, const record *own, const record *prefix, uint16_t *rights)
{
	bool admin = false;
	int ret = is_server_admin(c);
	*rights = 0;
	if (ret) {
		*rights = ret > 0 ? 0xffff : 0;
		return ret;
	}
	if (own)
		ret = rights_in(c, own, rights, &admin);
	if (!ret && prefix)
		ret = rights_in(c, prefix, rights, &admin);
	return ret ? ret : admin;
}

/* Node-wide operations (home, unhome, list homed): server admins only. */
int node_authz_is_server_admin(node_authz *c)
{
	return is_server_admin(c);
}

int node_authz_server(node_authz *c)
{
	int sa = is_server_admin(c);
	if (sa < 0)
		return node_answer_error(c->rq, PROTO_RC_ERROR, "storage error");
	return sa ? 0 : node_answer_error(c->rq, PROTO_RC_INVALID_ADMIN, "");
}

/* The record of 0.NA/<prefix of h>: 1 found, 0 not, negative error. */
int node_authz_read_prefix_record(node_authz *c, idn_slice h, record *r)
{
	handle_parts parts;
	char name[PROTO_HANDLE_MAX + 8];
	if (handle_split(h, &parts))
		return 0;
	int n = snprintf(name, sizeof(name), "0.NA/%.*s", (int)parts.prefix.len,
	                 (const char *)parts.prefix.p);
	if (n < 0 || (size_t)n >= sizeof(name))
		return 0;
	return node_authz_read_record(c, idn_slice_of(name, (size_t)n), r);
}
