/* record.c - the stored form of one identifier's values (see record.h). */
#include "proto/record.h"

int record_parse(idn_slice raw, record *r)
{
	/*
	 * Only the header is checked here: this runs on every resolution, and
	 * the values are bounds-checked wherever they are read one by one. A
	 * record copied whole into an answer was checked when it was written.
	 */
	if (raw.len < RECORD_HDR_LEN + 4 || raw.p[0] != RECORD_VERSION)
		return IDN_ESTORE;
	r->flags = raw.p[1];
	r->nvalues = idn_be32(raw.p + RECORD_HDR_LEN);
	if ((uint64_t)r->nvalues * PROTO_VALUE_MIN > raw.len - RECORD_HDR_LEN - 4)
		return IDN_ESTORE;
	r->counted = idn_slice_of(raw.p + RECORD_HDR_LEN, raw.len - RECORD_HDR_LEN);
	r->values = idn_slice_of(raw.p + RECORD_HDR_LEN + 4, raw.len - RECORD_HDR_LEN - 4);
	return IDN_OK;
}

int record_check(idn_slice raw)
{
	record r;
	int ret = record_parse(raw, &r);
	if (ret)
		return ret;
	proto_values_it it = proto_values_begin(r.values, r.nvalues);
	proto_value v;
	while ((ret = proto_values_next(&it, &v)) == 1)
		;
	return ret || wire_rd_left(&it.c) ? IDN_ESTORE : IDN_OK;
}

size_t record_size(const proto_value *vals, uint32_t n)
{
	size_t sz = RECORD_HDR_LEN + 4;
	for (uint32_t i = 0; i < n; i++)
		sz += proto_value_size(&vals[i]);
	return sz;
}

int record_build(const proto_value *vals, uint32_t n, uint8_t *out, size_t cap)
{
	wire_wr w = wire_wr_init(out, cap);
	uint8_t flags = RECORD_F_ALL_PUBLIC;
	for (uint32_t i = 0; i < n; i++)
		if (!(vals[i].perms & PROTO_PERM_PUBLIC_READ))
			flags &= (uint8_t)~RECORD_F_ALL_PUBLIC;
	wire_put_u8(&w, RECORD_VERSION);
	wire_put_u8(&w, flags);
	wire_put_u16(&w, 0);
	wire_put_u32(&w, n);
	for (uint32_t i = 0; i < n; i++)
		proto_value_put(&w, &vals[i]);
	return w.err ? w.err : (int)wire_wr_len(&w);
}
