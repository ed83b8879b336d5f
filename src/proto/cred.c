/*
 * cred.c - credential sections.
 */
#include "proto/cred.h"

int proto_cred_decode(idn_slice cred, proto_cred *c)
{
	wire_rd r = wire_rd_init(cred.p, cred.len);

	c->version = wire_get_u8(&r);
	c->reserved = wire_get_u8(&r);
	c->options = wire_get_u16(&r);
	c->signer = wire_get_lbytes(&r);
	c->signer_index = wire_get_u32(&r);
	c->type = wire_get_lbytes(&r);
	c->section = wire_get_lbytes(&r);
	if (r.err)
		return r.err;

	wire_rd s = wire_rd_init(c->section.p, c->section.len);
	c->hash_alg = wire_get_lbytes(&s);
	c->sig = wire_get_lbytes(&s);
	return s.err;
}

size_t proto_cred_size(const proto_cred *c)
{
	return 1 + 1 + 2 + 4 + (size_t)c->signer.len + 4 + 4 + (size_t)c->type.len + 4 + 4 +
	       (size_t)c->hash_alg.len + 4 + (size_t)c->sig.len;
}

void proto_cred_put(wire_wr *w, const proto_cred *c)
{
	wire_put_u8(w, c->version);
	wire_put_u8(w, c->reserved);
	wire_put_u16(w, c->options);
	wire_put_slice(w, c->signer);
	wire_put_u32(w, c->signer_index);
	wire_put_slice(w, c->type);
	wire_put_u32(w, 4 + c->hash_alg.len + 4 + c->sig.len);
	wire_put_slice(w, c->hash_alg);
	wire_put_slice(w, c->sig);
}
