/*
 * pg_rows.c - records to and from rows of the reference's `handles` table.
 */
#include "store/pg_rows.h"

#include "proto/record.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

int pg_rows_values(idn_slice raw, proto_value *vals, uint32_t cap)
{
	record r;
	if (record_check(raw) || record_parse(raw, &r))
		return IDN_ESTORE;
	if (r.nvalues > cap)
		return IDN_ESPACE;
	proto_values_it it = proto_values_begin(r.values, r.nvalues);
	uint32_t n = 0;
	while (proto_values_next(&it, &vals[n]) == 1)
		n++;
	return (int)n;
}

static bool utf8_ok(idn_slice s)
{
	size_t i = 0;
	while (i < s.len) {
		uint8_t b = s.p[i];
		size_t n;
		uint32_t cp;
		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xe0) == 0xc0) {
			n = 1, cp = b & 0x1f;
		} else if ((b & 0xf0) == 0xe0) {
			n = 2, cp = b & 0x0f;
		} else if ((b & 0xf8) == 0xf0) {
			n = 3, cp = b & 0x07;
		} else {
			return false;
		}
		if (i + n >= s.len)
			return false;
		for (size_t j = 1; j <= n; j++) {
			if ((s.p[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s.p[i + j] & 0x3f);
		}
		/* overlongs, surrogates, beyond U+10FFFF: PostgreSQL refuses them */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

int pg_rows_refs_text(const proto_value *v, char *out, size_t cap)
{
	wire_rd c = wire_rd_init(v->refs.p, v->refs.len);
	size_t len = 0;
	proto_ref r;
	int rc;
	if (cap)
		out[0] = '\0';
	for (uint32_t i = 0; (rc = proto_ref_next(&c, &r)) == 1; i++) {
		if (memchr(r.handle.p, '\t', r.handle.len) ||
		    memchr(r.handle.p, '\0', r.handle.len) || !utf8_ok(r.handle))
			return IDN_ERANGE;
		/* the reference's index is a signed int4 in text */
		int n = snprintf(out + len, cap - len, "%s%d:", i ? "\t" : "", (int32_t)r.index);
		if (n < 0 || (size_t)n >= cap - len || r.handle.len >= cap - len - (size_t)n)
			return IDN_ESPACE;
		len += (size_t)n;
		memcpy(out + len, r.handle.p, r.handle.len);
		len += r.handle.len;
		out[len] = '\0';
	}
	return rc < 0 ? IDN_ESTORE : (int)len;
}

int pg_rows_to_value(const pg_row *r, uint8_t *refbuf, size_t cap, proto_value *v)
{
	memset(v, 0, sizeof(*v));
	v->index = (uint32_t)r->idx;
	v->timestamp = (uint32_t)r->timestamp;
	v->ttl_type = (uint8_t)r->ttl_type;
	v->ttl = (uint32_t)r->ttl;
	v->perms = (uint8_t)((r->admin_read ? PROTO_PERM_ADMIN_READ : 0) |
	                     (r->admin_write ? PROTO_PERM_ADMIN_WRITE : 0) |
	                     (r->pub_read ? PROTO_PERM_PUBLIC_READ : 0) |
	                     (r->pub_write ? PROTO_PERM_PUBLIC_WRITE : 0));
	v->type = r->type;
	v->data = r->data;

	/* "IDX:HANDLE" items separated by tabs -> (str handle, u32 index) pairs */
	wire_wr w = wire_wr_init(refbuf, cap);
	const uint8_t *p = r->refs.p, *end = r->refs.p + r->refs.len;
	while (p && p < end) {
		const uint8_t *tab = memchr(p, '\t', (size_t)(end - p));
		const uint8_t *item_end = tab ? tab : end;
		const uint8_t *colon = memchr(p, ':', (size_t)(item_end - p));
		if (!colon || colon == p)
			return IDN_EINVAL;
		int64_t idx = 0;
		bool neg = *p == '-';
		for (const uint8_t *q = p + neg; q < colon; q++) {
			if (*q < '0' || *q > '9' || idx > 4294967295LL)
				return IDN_EINVAL;
			idx = idx * 10 + (*q - '0');
		}
		if (colon == p + neg || (neg && idx > 2147483648LL) || idx > 4294967295LL)
			return IDN_EINVAL;
		wire_put_lbytes(&w, colon + 1, (size_t)(item_end - colon - 1));
		wire_put_u32(&w, (uint32_t)(neg ? -idx : idx));
		v->nrefs++;
		p = tab ? tab + 1 : NULL;
	}
	if (w.err)
		return w.err;
	v->refs = idn_slice_of(refbuf, wire_wr_len(&w));
	return IDN_OK;
}
