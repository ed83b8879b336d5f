#include "node/record.h"

int record_parse(idn_slice raw, record *r)
{
	wire_rd c = wire_rd_init(raw.p, raw.len);
	uint8_t version = wire_get_u8(&c);
	r->flags = wire_get_u8(&c);
	wire_skip(&c, 2);
	const uint8_t *counted = c.pos;
	r->nvalues = wire_get_count(&c, PROTO_VALUE_MIN);
	const uint8_t *vals = c.pos;
	for (uint32_t i = 0; i < r->nvalues && c.err == IDN_OK; i++) {
		proto_value v;
		proto_value_get(&c, &v);
	}
	if (c.err)
		return IDN_ESTORE;
	if (version != RECORD_VERSION || wire_rd_left(&c) != 0)
		return IDN_ESTORE;
	r->values = idn_slice_of(vals, (size_t)(c.pos - vals));
	r->counted = idn_slice_of(counted, (size_t)(c.pos - counted));
	return IDN_OK;
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
