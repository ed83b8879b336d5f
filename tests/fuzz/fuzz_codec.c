/*
 * fuzz_codec.c - any bytes through every body and value decoder of the codec,
 * and through the iterators of whatever decoded. The first byte picks how the
 * rest is read (with or without a request digest); nothing may crash or read
 * out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "proto/admin.h"
#include "proto/cred.h"
#include "proto/reserved.h"

static void walk_site(idn_slice d)
{
	proto_site s;
	if (proto_site_decode(d, &s))
		return;
	wire_rd it = proto_site_attrs(&s);
	proto_site_attr a;
	while (proto_site_next_attr(&it, &a) == 1)
		;
	it = proto_site_servers(&s);
	proto_server srv;
	while (proto_site_next_server(&it, &srv) == 1) {
		wire_rd ii = proto_server_ifaces(&srv);
		proto_iface ifc;
		while (proto_server_next_iface(&ii, &ifc) == 1)
			;
	}
	idn_slice v;
	proto_site_attr_get(&s, IDN_SLICE("desc"), &v);
}

static void walk_values(idn_slice values, uint32_t n)
{
	wire_rd c = wire_rd_init(values.p, values.len);
	for (uint32_t i = 0; i < n && c.err == IDN_OK; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		if (c.err)
			break;
		wire_rd r = wire_rd_init(v.refs.p, v.refs.len);
		proto_ref ref;
		while (proto_ref_next(&r, &ref) == 1)
			;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	bool rd = data[0] & 1;
	idn_slice b = idn_slice_of(data + 1, size - 1);
	idn_slice rest, digest, h;
	uint8_t alg;

	proto_answer_split(b, rd, &alg, &digest, &rest);
	proto_handle_req_decode(b, &h);
	proto_create_resp_decode(b, &h);

	proto_values_req vr;
	if (proto_values_req_decode(b, &vr) == 0) {
		uint32_t scratch[512], pos, idx;
		walk_values(vr.values, vr.nvalues);
		proto_values_find_dup(vr.values, vr.nvalues, scratch, 512, &pos, &idx);
	}
	proto_remove_req rm;
	proto_remove_req_decode(b, &rm);
	proto_list_resp lr;
	if (proto_list_resp_decode(b, &lr) == 0) {
		wire_rd it = proto_list_names(&lr);
		idn_slice name;
		while (proto_list_next(&it, &name) == 1)
			;
	}
	proto_chresp cr;
	if (proto_chresp_decode(b, &cr) == 0) {
		proto_sig_resp sr;
		proto_seckey_resp kr;
		proto_sig_resp_decode(cr.signed_resp, &sr);
		proto_seckey_resp_decode(cr.signed_resp, &kr);
	}
	proto_verify_req vq;
	bool valid;
	proto_verify_req_decode(b, &vq);
	proto_verify_resp_decode(b, &valid);
	proto_challenge ch;
	proto_challenge_decode(b, rd, &ch);
	proto_session_req sq;
	proto_session_resp sp;
	proto_session_req_decode(b, &sq);
	proto_session_resp_decode(b, &sp);
	proto_resolve_resp rr;
	if (proto_referral_decode(b, &rr) == 0)
		walk_values(rr.values, rr.nvalues);

	proto_admin ad;
	proto_vlist vl;
	proto_pubkey pk;
	proto_cred cd;
	proto_admin_decode(b, &ad);
	if (proto_vlist_decode(b, &vl) == 0) {
		wire_rd r = wire_rd_init(vl.refs.p, vl.refs.len);
		proto_ref ref;
		while (proto_ref_next(&r, &ref) == 1)
			;
	}
	proto_pubkey_decode(b, &pk);
	proto_cred_decode(b, &cd);
	walk_site(b);
	proto_site_server_index(b, data[0] % 4, 1 + data[0] % 7);
	return 0;
}
