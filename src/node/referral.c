/*
 * referral.c - the derived-prefix walk and the multi-server split.
 */
#include "node/referral.h"

#include <string.h>
#include <strings.h>

#include "proto/handle.h"
#include "proto/record.h"

static const char NA_PREFIX[] = "0.NA/";

static bool type_is(idn_slice type, const char *name)
{
	size_t n = strlen(name);
	return type.len == n && strncasecmp((const char *)type.p, name, n) == 0;
}

bool referral_value_refers(const proto_value *v)
{
	return (v->perms & PROTO_PERM_PUBLIC_READ) &&
	       (type_is(v->type, "HS_SITE.PREFIX") || type_is(v->type, "HS_SERV.PREFIX"));
}

/* Counts the referring values of a record; negative if it is damaged. */
static int count_referring(idn_slice values, uint32_t nvalues)
{
	proto_values_it it = proto_values_begin(values, nvalues);
	proto_value v;
	int n = 0, rc;
	while ((rc = proto_values_next(&it, &v)) == 1)
		if (referral_value_refers(&v))
			n++;
	return rc ? rc : n;
}

int referral_find(store_txn *t, bool suffix_case_sensitive, idn_slice prefix, referral *r)
{
	uint8_t name[sizeof(NA_PREFIX) - 1 + PROTO_HANDLE_MAX];
	uint8_t key[HANDLE_KEY_MAX];
	size_t len = prefix.len;

	if (prefix.len > PROTO_HANDLE_MAX)
		return 0;
	memcpy(name, NA_PREFIX, sizeof(NA_PREFIX) - 1);
	for (;;) {
		/* The next ancestor: cut at the last dot; none left ends the walk. */
		while (len > 0 && prefix.p[len - 1] != '.')
			len--;
		if (len <= 1)
			return 0;
		len--; /* drop the dot */
		memcpy(name + sizeof(NA_PREFIX) - 1, prefix.p, len);
		int klen = handle_key(idn_slice_of(name, sizeof(NA_PREFIX) - 1 + len),
		                      suffix_case_sensitive, key);
		if (klen < 0)
			return 0;
		idn_slice raw;
		int ret = store_get(t, idn_slice_of(key, (size_t)klen), &raw);
		if (ret == IDN_ENOTFOUND)
			continue;
		if (ret)
			return ret;
		record rec;
		if ((ret = record_parse(raw, &rec)))
			return ret;
		int n = count_referring(rec.values, rec.nvalues);
		if (n < 0)
			return n;
		if (n == 0)
			continue;
		r->ancestor = idn_slice_of(prefix.p, len);
		r->values = rec.values;
		r->nvalues = rec.nvalues;
		r->nrefer = (uint32_t)n;
		return 1;
	}
}

void referral_put(wire_wr *w, const referral *r)
{
	wire_put_u32(w, 0); /* empty handle */
	wire_put_u32(w, r->nrefer);
	proto_values_it it = proto_values_begin(r->values, r->nvalues);
	proto_value v;
	/* A damaged value ends the walk: referral_find() checked the record. */
	while (proto_values_next(&it, &v) == 1)
		if (referral_value_refers(&v))
			wire_put_data(w, it.raw.p, it.raw.len);
}

int referral_site_owns(const proto_site *site, uint32_t own_id, idn_slice handle)
{
	if (site->nservers <= 1)
		return 1;
	/* Our position in the site's server list: the hash picks a position. */
	wire_rd it = proto_site_servers(site);
	proto_server srv;
	int pos = -1, ret;
	for (uint32_t i = 0; (ret = proto_site_next_server(&it, &srv)) == 1; i++)
		if (srv.id == own_id) {
			pos = (int)i;
			break;
		}
	if (ret < 0)
		return ret;
	if (pos < 0)
		return 1;
	int idx = proto_site_server_index(handle, site->hash_opt, site->nservers);
	if (idx < 0)
		return idx;
	return idx == pos;
}
