/*
 * test_reserved.c - HS_ADMIN, HS_VLIST, HS_SITE, HS_PUBKEY data and the site
 * hash, against the reference captures in shared/vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "proto/reserved.h"
#include "vectors.h"

/* ---- helpers ---- */

/* The message (after the envelope) of a named capture, decoded. */
static void load_msg(const char *name, proto_msg *m)
{
	const struct tvec *v = tvec_find(name);
	if (!v)
		fail_msg("no vector %s", name);
	assert_true(v->len >= PROTO_ENV_LEN);
	assert_int_equal(proto_msg_decode(v->bytes + PROTO_ENV_LEN, v->len - PROTO_ENV_LEN, m), 0);
}

/* A malloc'd copy of exactly len bytes, so that ASan sees any over-read. */
static uint8_t *exact_copy(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);
	assert_non_null(q);
	if (len)
		memcpy(q, p, len);
	return q;
}

static int slice_in(idn_slice s, const uint8_t *p, size_t len)
{
	return s.len == 0 || (s.p >= p && s.p + s.len <= p + len);
}

/* Deterministic garbage. */
static uint32_t rng_state = 0x12345678;
static uint8_t rnd8(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return (uint8_t)rng_state;
}

/* Re-encodes a decoded site through the plain description. */
static void site_reencode(const proto_site *s, uint8_t *out, size_t cap, size_t *len)
{
	proto_site_attr attrs[16];
	proto_server_desc servers[8];
	proto_iface ifaces[8][8];
	proto_site_desc d = {
	    .format = s->format,
	    .major = s->major,
	    .minor = s->minor,
	    .serial = s->serial,
	    .flags = s->flags,
	    .hash_opt = s->hash_opt,
	    .hash_filter = s->hash_filter,
	    .attrs = attrs,
	    .servers = servers,
	};
	wire_rd it = proto_site_attrs(s);
	int rc;
	while ((rc = proto_site_next_attr(&it, &attrs[d.nattrs])) == 1)
		assert_true(++d.nattrs < 16);
	assert_int_equal(rc, 0);
	assert_int_equal(d.nattrs, s->nattrs);

	it = proto_site_servers(s);
	proto_server srv;
	while ((rc = proto_site_next_server(&it, &srv)) == 1) {
		proto_server_desc *sd = &servers[d.nservers];
		sd->id = srv.id;
		memcpy(sd->addr, srv.addr, PROTO_SITE_ADDR_LEN);
		sd->pubkey = srv.pubkey;
		sd->ifaces = ifaces[d.nservers];
		sd->nifaces = 0;
		wire_rd ii = proto_server_ifaces(&srv);
		int rc2;
		while ((rc2 = proto_server_next_iface(&ii, &ifaces[d.nservers][sd->nifaces])) == 1)
			assert_true(++sd->nifaces < 8);
		assert_int_equal(rc2, 0);
		assert_int_equal(sd->nifaces, srv.nifaces);
		assert_true(++d.nservers < 8);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(d.nservers, s->nservers);

	wire_wr w = wire_wr_init(out, cap);
	proto_site_put(&w, &d);
	assert_int_equal(w.err, 0);
	*len = wire_wr_len(&w);
}

static void check_site_roundtrip(idn_slice data)
{
	proto_site s;
	uint8_t out[4096];
	size_t len;

	assert_int_equal(proto_site_decode(data, &s), 0);
	site_reencode(&s, out, sizeof(out), &len);
	assert_int_equal(len, data.len);
	assert_memory_equal(out, data.p, len);
}

static void check_pubkey_roundtrip(idn_slice data, proto_pubkey *k)
{
	uint8_t out[4096];
	assert_int_equal(proto_pubkey_decode(data, k), 0);
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_pubkey_put(&w, k);
	assert_int_equal(w.err, 0);
	assert_int_equal(wire_wr_len(&w), data.len);
	assert_memory_equal(out, data.p, data.len);
}

/* The checks every site record from the reference server must pass. */
static void check_reference_site(const proto_site *s, uint32_t tcp_port, uint32_t udp_port)
{
	assert_int_equal(s->format, 1);
	assert_int_equal(s->major, 2);
	assert_int_equal(s->minor, 5);
	assert_int_equal(s->serial, 1);
	assert_int_equal(s->flags, PROTO_SITE_PRIMARY);
	assert_int_equal(s->hash_opt, PROTO_SITE_HASH_ALL);
	assert_int_equal(s->hash_filter.len, 0);
	assert_int_equal(s->nattrs, 1);
	idn_slice desc;
	assert_int_equal(proto_site_attr_get(s, IDN_SLICE("desc"), &desc), 1);
	assert_true(idn_slice_eq(desc, IDN_SLICE("local test")));
	assert_int_equal(proto_site_attr_get(s, IDN_SLICE("nope"), &desc), 0);

	assert_int_equal(s->nservers, 1);
	wire_rd it = proto_site_servers(s);
	proto_server srv;
	assert_int_equal(proto_site_next_server(&it, &srv), 1);
	assert_int_equal(srv.id, 1);
	uint8_t v4[4];
	assert_true(proto_addr_ipv4(srv.addr, v4));
	assert_memory_equal(v4, "\x7f\x00\x00\x01", 4);

	proto_pubkey k;
	check_pubkey_roundtrip(srv.pubkey, &k);
	assert_int_equal(k.kind, PROTO_KEY_RSA);
	assert_int_equal(k.flags, 0);
	assert_true(idn_slice_eq(k.rsa.e, IDN_SLICE("\x01\x00\x01")));
	assert_int_equal(k.rsa.n.len, 129); /* 1024 bits with a leading zero */
	assert_true(idn_slice_eq(k.rest, PROTO_PUBKEY_RSA_PAD));

	/* The server key file is the same HS_PUBKEY encoding. */
	size_t flen;
	uint8_t *f = tvec_read_file("vectors/keys/server_rsa_pub.bin", &flen);
	assert_int_equal(flen, srv.pubkey.len);
	assert_memory_equal(f, srv.pubkey.p, flen);
	free(f);

	assert_int_equal(srv.nifaces, 3);
	wire_rd ii = proto_server_ifaces(&srv);
	proto_iface ifc;
	assert_int_equal(proto_server_next_iface(&ii, &ifc), 1);
	assert_int_equal(ifc.type, PROTO_IF_BOTH);
	assert_int_equal(ifc.proto, PROTO_IF_TCP);
	assert_int_equal(ifc.port, tcp_port);
	assert_int_equal(proto_server_next_iface(&ii, &ifc), 1);
	assert_int_equal(ifc.type, PROTO_IF_QUERY);
	assert_int_equal(ifc.proto, PROTO_IF_UDP);
	assert_int_equal(ifc.port, udp_port);
	assert_int_equal(proto_server_next_iface(&ii, &ifc), 1);
	assert_int_equal(ifc.type, PROTO_IF_BOTH);
	assert_int_equal(ifc.proto, PROTO_IF_HTTP);
	assert_int_equal(ifc.port, 28000);
	assert_int_equal(proto_server_next_iface(&ii, &ifc), 0);
	assert_int_equal(proto_site_next_server(&it, &srv), 0);
}

/* ---- HS_SITE from GET_SITE_INFO ---- */

static void test_site_info_answers(void **state)
{
	static const char *const names[] = {
	    "x50-siteinfo-tcp-java/02-response",
	    "x51-siteinfo-udp-java/02-response",
	    "x52-siteinfo-udp-raw/02-response",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		proto_msg m;
		proto_site s;
		load_msg(names[i], &m);
		assert_int_equal(m.hdr.opcode, PROTO_OP_GET_SITE_INFO);
		assert_int_equal(m.hdr.rcode, PROTO_RC_SUCCESS);
		assert_int_equal(m.body.len, 249); /* the record, nothing else */
		assert_int_equal(proto_site_decode(m.body, &s), 0);
		check_reference_site(&s, 22641, 22641);
		check_site_roundtrip(m.body);
	}
}

/* ---- every special value in the 0.NA/88.1000 answers ---- */

static void check_prefix_values(const char *name)
{
	proto_msg m;
	proto_resolve_resp r;
	int nsite = 0, nadmin = 0, nvlist = 0, npub = 0;

	load_msg(name, &m);
	assert_int_equal(proto_resolve_resp_decode(m.body, &r), 0);
	assert_int_equal(r.nvalues, 6);
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		assert_int_equal(c.err, 0);
		if (idn_slice_eq(v.type, IDN_SLICE("HS_SITE")) ||
		    idn_slice_eq(v.type, IDN_SLICE("HS_SITE.PREFIX"))) {
			proto_site s;
			assert_int_equal(proto_site_decode(v.data, &s), 0);
			/* The seeded record has the relay's ports. */
			check_reference_site(&s, 12641, 12641);
			check_site_roundtrip(v.data);
			nsite++;
		} else if (idn_slice_eq(v.type, IDN_SLICE("HS_ADMIN"))) {
			proto_admin a;
			uint8_t out[256];
			assert_int_equal(proto_admin_decode(v.data, &a), 0);
			assert_int_equal(a.rights, PROTO_ADM_ALL);
			assert_false(a.legacy);
			assert_true(idn_slice_eq(a.handle, IDN_SLICE("0.NA/88.1000")));
			assert_int_equal(a.index, v.index == 100 ? 300 : 200);
			wire_wr w = wire_wr_init(out, sizeof(out));
			proto_admin_put(&w, &a);
			assert_int_equal(wire_wr_len(&w), v.data.len);
			assert_memory_equal(out, v.data.p, v.data.len);
			nadmin++;
		} else if (idn_slice_eq(v.type, IDN_SLICE("HS_VLIST"))) {
			proto_vlist vl;
			proto_ref refs[4];
			uint32_t n = 0;
			int rc;
			assert_int_equal(proto_vlist_decode(v.data, &vl), 0);
			assert_int_equal(vl.n, 2);
			wire_rd rr = wire_rd_init(vl.refs.p, vl.refs.len);
			while ((rc = proto_ref_next(&rr, &refs[n])) == 1)
				n++;
			assert_int_equal(rc, 0);
			assert_int_equal(n, 2);
			assert_true(idn_slice_eq(refs[0].handle, IDN_SLICE("0.NA/88.1000")));
			assert_int_equal(refs[0].index, 300);
			assert_true(idn_slice_eq(refs[1].handle, IDN_SLICE("88.1000/secadmin")));
			assert_int_equal(refs[1].index, 300);
			uint8_t out[256];
			wire_wr w = wire_wr_init(out, sizeof(out));
			proto_vlist_put(&w, refs, n);
			assert_int_equal(wire_wr_len(&w), v.data.len);
			assert_memory_equal(out, v.data.p, v.data.len);
			nvlist++;
		} else if (idn_slice_eq(v.type, IDN_SLICE("HS_PUBKEY"))) {
			proto_pubkey k;
			check_pubkey_roundtrip(v.data, &k);
			assert_int_equal(k.kind, PROTO_KEY_RSA);
			assert_int_equal(k.rsa.n.len, 257); /* 2048 bits with a leading zero */
			assert_int_equal(v.index, 300);
			/* keys/admin_rsa_pub.bin is exactly this value's data. */
			size_t flen;
			uint8_t *f = tvec_read_file("vectors/keys/admin_rsa_pub.bin", &flen);
			assert_int_equal(flen, v.data.len);
			assert_memory_equal(f, v.data.p, flen);
			free(f);
			npub++;
		}
	}
	assert_int_equal(nsite, 2);
	assert_int_equal(nadmin, 2);
	assert_int_equal(nvlist, 1);
	assert_int_equal(npub, 1);
}

static void test_prefix_record_values(void **state)
{
	check_prefix_values("x61-prefix-0NA-tcp-raw/02-response");
	check_prefix_values("x60-prefix-0NA-udp-java/04r-response-REASSEMBLED");
}

/* The HS_ADMIN values of every CREATE request from the captures. */
static void test_admin_in_requests(void **state)
{
	size_t n, found = 0;
	const struct tvec *all = tvec_all(&n);
	for (size_t i = 0; i < n; i++) {
		proto_msg m;
		if (strcmp(all[i].direction, "request") || all[i].len < PROTO_ENV_LEN ||
		    proto_msg_decode(all[i].bytes + PROTO_ENV_LEN, all[i].len - PROTO_ENV_LEN,
		                     &m) ||
		    m.hdr.opcode != PROTO_OP_CREATE_HANDLE)
			continue;
		proto_resolve_resp r; /* same shape: str handle, value[] */
		if (proto_resolve_resp_decode(m.body, &r))
			continue;
		wire_rd c = wire_rd_init(r.values.p, r.values.len);
		proto_value v;
		for (uint32_t k = 0; k < r.nvalues; k++) {
			proto_value_get(&c, &v);
			if (!idn_slice_eq(v.type, IDN_SLICE("HS_ADMIN")))
				continue;
			proto_admin a;
			assert_int_equal(proto_admin_decode(v.data, &a), 0);
			assert_int_equal(a.rights, PROTO_ADM_ALL);
			assert_true(idn_slice_eq(a.handle, IDN_SLICE("0.NA/88.1000")));
			assert_int_equal(a.index, 300);
			found++;
		}
	}
	assert_true(found >= 10);
}

/* ---- HS_ADMIN forms ---- */

static void test_admin_legacy(void **state)
{
	static const uint8_t base[] = "\x0f\xff\x00\x00\x00\x0c"
	                              "0.NA/88.1000"
	                              "\x00\x00\x01\x2c";
	uint8_t buf[64];
	size_t blen = sizeof(base) - 1;
	proto_admin a;

	/* 2 extra bytes: the legacy form, re-encoded the same. */
	memcpy(buf, base, blen);
	memset(buf + blen, 0, 4);
	assert_int_equal(proto_admin_decode(idn_slice_of(buf, blen + 2), &a), 0);
	assert_true(a.legacy);
	assert_int_equal(a.index, 300);
	uint8_t out[64];
	wire_wr w = wire_wr_init(out, sizeof(out));
	proto_admin_put(&w, &a);
	assert_int_equal(wire_wr_len(&w), blen + 2);
	assert_memory_equal(out, buf, blen + 2);

	/* 1 or 3 extra bytes: refused. */
	assert_int_equal(proto_admin_decode(idn_slice_of(buf, blen + 1), &a), IDN_EINVAL);
	assert_int_equal(proto_admin_decode(idn_slice_of(buf, blen + 3), &a), IDN_EINVAL);

	/* Rights bits as PROTOCOL.md lists them. */
	assert_int_equal(PROTO_ADM_ADD_HANDLE | PROTO_ADM_DELETE_HANDLE |
	                     PROTO_ADM_ADD_DERIVED_PREFIX | PROTO_ADM_DELETE_DERIVED_PREFIX |
	                     PROTO_ADM_MODIFY_VALUE | PROTO_ADM_REMOVE_VALUE | PROTO_ADM_ADD_VALUE |
	                     PROTO_ADM_MODIFY_ADMIN | PROTO_ADM_REMOVE_ADMIN | PROTO_ADM_ADD_ADMIN |
	                     PROTO_ADM_READ_VALUE | PROTO_ADM_LIST_HANDLES,
	                 0x0FFF);
	assert_int_equal(PROTO_ADM_READ_VALUE, 0x0400);
	assert_int_equal(PROTO_ADM_LIST_HANDLES, 0x0800);
}

/* ---- HS_PUBKEY ---- */

static void test_pubkey_file(void **state)
{
	size_t len;
	uint8_t *f = tvec_read_file("vectors/keys/admin_rsa_pub.bin", &len);
	uint8_t *p = exact_copy(f, len);
	proto_pubkey k;

	check_pubkey_roundtrip(idn_slice_of(p, len), &k);
	assert_int_equal(k.kind, PROTO_KEY_RSA);
	assert_true(idn_slice_eq(k.type, IDN_SLICE("RSA_PUB_KEY")));
	assert_int_equal(k.flags, 0);
	assert_true(idn_slice_eq(k.rsa.e, IDN_SLICE("\x01\x00\x01")));
	assert_int_equal(k.rsa.n.len, 257);
	assert_int_equal(k.rsa.n.p[0], 0);
	assert_true(idn_slice_eq(k.rest, PROTO_PUBKEY_RSA_PAD));

	/* Without the Java client's 4 zero bytes the key still decodes. */
	assert_int_equal(proto_pubkey_decode(idn_slice_of(p, len - 4), &k), 0);
	assert_int_equal(k.rest.len, 0);
	assert_int_equal(k.rsa.n.len, 257);
	free(p);
	free(f);
}

static void test_pubkey_other_kinds(void **state)
{
	static const struct {
		const char *type;
		enum proto_key_kind kind;
		int nfields;
	} cases[] = {
	    {"DSA_PUB_KEY", PROTO_KEY_DSA, 4},
	    {"DH_PUB_KEY", PROTO_KEY_DH, 3},
	    {"SM2_PUB_KEY", PROTO_KEY_SM2, 1},
	    {"ED25519_PUB_KEY", PROTO_KEY_OTHER, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[512];
		wire_wr w = wire_wr_init(buf, sizeof(buf));
		wire_put_cstr(&w, cases[i].type);
		wire_put_u16(&w, 0);
		for (int f = 0; f < cases[i].nfields; f++) {
			char field[32];
			snprintf(field, sizeof(field), "field-%d", f);
			wire_put_cstr(&w, field);
		}
		wire_put_data(&w, "xyz", 3); /* trailing bytes are kept */
		assert_int_equal(w.err, 0);
		size_t len = wire_wr_len(&w);
		uint8_t *p = exact_copy(buf, len);
		proto_pubkey k;
		check_pubkey_roundtrip(idn_slice_of(p, len), &k);
		assert_int_equal(k.kind, cases[i].kind);
		assert_int_equal(k.rest.len, 3);
		switch (k.kind) {
		case PROTO_KEY_DSA:
			assert_true(idn_slice_eq(k.dsa.q, IDN_SLICE("field-0")));
			assert_true(idn_slice_eq(k.dsa.y, IDN_SLICE("field-3")));
			break;
		case PROTO_KEY_DH:
			assert_true(idn_slice_eq(k.dh.y, IDN_SLICE("field-0")));
			assert_true(idn_slice_eq(k.dh.g, IDN_SLICE("field-2")));
			break;
		case PROTO_KEY_SM2:
			assert_true(idn_slice_eq(k.sm2.pem, IDN_SLICE("field-0")));
			break;
		default:
			break;
		}
		/* A field cut short is an error, not a read past the end. */
		if (cases[i].nfields)
			assert_int_not_equal(proto_pubkey_decode(idn_slice_of(p, len - 5), &k), 0);
		free(p);
	}
}

/* ---- HS_SERV / HS_ALIAS, addresses ---- */

static void test_serv_and_addr(void **state)
{
	idn_slice d = IDN_SLICE("0.NA/88.1000");
	assert_true(idn_slice_eq(proto_serv_handle(d), d));

	uint8_t a[16], v4[4];
	proto_addr_from_ipv4(a, (const uint8_t *)"\x0a\x01\x02\x03");
	assert_memory_equal(a, "\0\0\0\0\0\0\0\0\0\0\0\0\x0a\x01\x02\x03", 16);
	assert_true(proto_addr_ipv4(a, v4));
	assert_memory_equal(v4, "\x0a\x01\x02\x03", 4);
	a[10] = a[11] = 0xff; /* ::ffff:10.1.2.3 */
	assert_true(proto_addr_ipv4(a, v4));
	assert_memory_equal(v4, "\x0a\x01\x02\x03", 4);
	a[11] = 0; /* neither form */
	assert_false(proto_addr_ipv4(a, v4));
	memcpy(a, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	assert_false(proto_addr_ipv4(a, v4));
}

/* ---- the site hash ---- */

static void test_server_index(void **state)
{
	/*
	 * Expected values computed with the reference's rules (see reserved.c):
	 * abs(signed int4 of MD5 bytes 12..15 of the upper-cased part) % n.
	 */
	static const struct {
		const char *handle;
		uint8_t opt;
		int mod[5]; /* n = 1, 2, 3, 5, 7 */
	} cases[] = {
	    {"88.1000/demo1", 0, {0, 1, 1, 4, 1}},
	    {"88.1000/demo1", 1, {0, 0, 2, 1, 5}},
	    {"88.1000/demo1", 2, {0, 0, 0, 1, 6}},
	    {"88.1000/DEMO1", 2, {0, 0, 0, 1, 6}},
	    {"0.NA/88.1000", 0, {0, 1, 2, 4, 4}},
	    {"0.NA/88.1000", 1, {0, 1, 1, 4, 1}},
	    {"0.NA/88.1000", 2, {0, 0, 2, 2, 1}},
	    {"88.100.1/MOTOR-2026-000042", 0, {0, 1, 0, 1, 3}},
	    {"88.100.1/MOTOR-2026-000042", 1, {0, 1, 2, 3, 5}},
	    /* MD5 bytes 12..15 e078acce: a negative int, so abs() matters. */
	    {"88.100.1/MOTOR-2026-000042", 2, {0, 0, 2, 4, 4}},
	    {"88.1000/Gr\xc3\xbc\xc3\x9f"
	     "e",
	     1,
	     {0, 1, 1, 1, 2}},
	    {"88.1000/Gr\xc3\xbc\xc3\x9f"
	     "e",
	     2,
	     {0, 1, 2, 1, 6}},
	    /* No slash: the prefix is "0.NA", the suffix the whole handle. */
	    {"noslash", 0, {0, 1, 2, 4, 4}},
	    {"noslash", 1, {0, 0, 1, 0, 4}},
	    {"noslash", 2, {0, 0, 1, 0, 4}},
	    {"", 1, {0, 0, 0, 0, 2}},
	};
	static const uint32_t ns[5] = {1, 2, 3, 5, 7};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		idn_slice h = idn_slice_of(cases[i].handle, strlen(cases[i].handle));
		for (int j = 0; j < 5; j++)
			assert_int_equal(proto_site_server_index(h, cases[i].opt, ns[j]),
			                 cases[i].mod[j]);
	}
	assert_int_equal(proto_site_server_index(IDN_SLICE("a/b"), 3, 2), IDN_EINVAL);
	assert_int_equal(proto_site_server_index(IDN_SLICE("a/b"), 2, 0), IDN_EINVAL);

	/* A handle longer than the upper-casing window hashes like its upper-case form. */
	char lower[1000], upper[1000];
	for (int i = 0; i < 999; i++) {
		lower[i] = (char)('a' + i % 26);
		upper[i] = (char)('A' + i % 26);
	}
	lower[3] = upper[3] = '/';
	for (uint32_t n = 1; n < 40; n++)
		assert_int_equal(proto_site_server_index(idn_slice_of(lower, 999), 2, n),
		                 proto_site_server_index(idn_slice_of(upper, 999), 2, n));
}

/* ---- malformed input ---- */

/* Every prefix of data, in an exact-size buffer: an error or a decode inside it. */
static void truncations(idn_slice data)
{
	for (size_t len = 0; len <= data.len; len++) {
		uint8_t *p = exact_copy(data.p, len);
		idn_slice s = idn_slice_of(p, len);
		proto_site site;
		proto_admin a;
		proto_vlist vl;
		proto_pubkey k;
		if (proto_site_decode(s, &site) == 0) {
			assert_true(slice_in(site.attrs, p, len));
			assert_true(slice_in(site.servers, p, len));
			proto_site_attr at;
			proto_server srv;
			proto_iface ifc;
			wire_rd it = proto_site_attrs(&site);
			while (proto_site_next_attr(&it, &at) == 1)
				assert_true(slice_in(at.value, p, len));
			it = proto_site_servers(&site);
			while (proto_site_next_server(&it, &srv) == 1) {
				assert_true(slice_in(srv.pubkey, p, len));
				wire_rd ii = proto_server_ifaces(&srv);
				while (proto_server_next_iface(&ii, &ifc) == 1)
					;
			}
		}
		if (proto_admin_decode(s, &a) == 0)
			assert_true(slice_in(a.handle, p, len));
		if (proto_vlist_decode(s, &vl) == 0)
			assert_true(slice_in(vl.refs, p, len));
		if (proto_pubkey_decode(s, &k) == 0) {
			assert_true(slice_in(k.rest, p, len));
			assert_true(slice_in(k.dsa.y, p, len));
		}
		free(p);
	}
}

static void test_truncations(void **state)
{
	proto_msg m;
	proto_resolve_resp r;

	load_msg("x50-siteinfo-tcp-java/02-response", &m);
	truncations(m.body);
	/* A strict prefix of a site record never decodes. */
	for (size_t len = 0; len < m.body.len; len++) {
		proto_site s;
		uint8_t *p = exact_copy(m.body.p, len);
		assert_int_not_equal(proto_site_decode(idn_slice_of(p, len), &s), 0);
		free(p);
	}

	load_msg("x61-prefix-0NA-tcp-raw/02-response", &m);
	assert_int_equal(proto_resolve_resp_decode(m.body, &r), 0);
	wire_rd c = wire_rd_init(r.values.p, r.values.len);
	for (uint32_t i = 0; i < r.nvalues; i++) {
		proto_value v;
		proto_value_get(&c, &v);
		truncations(v.data);
	}
}

static void test_huge_counts(void **state)
{
	uint8_t buf[64];
	wire_wr w;
	proto_site s;
	proto_vlist vl;

	/* attribute count */
	w = wire_wr_init(buf, sizeof(buf));
	wire_put_data(&w, "\x00\x01\x02\x05\x00\x01\x80\x02", 8);
	wire_put_u32(&w, 0);          /* hash filter */
	wire_put_u32(&w, 0xffffffff); /* attributes */
	wire_put_u32(&w, 0);
	assert_int_equal(proto_site_decode(idn_slice_of(buf, wire_wr_len(&w)), &s), IDN_ETRUNC);

	/* server count */
	w = wire_wr_init(buf, sizeof(buf));
	wire_put_data(&w, "\x00\x01\x02\x05\x00\x01\x80\x02", 8);
	wire_put_u32(&w, 0);
	wire_put_u32(&w, 0);
	wire_put_u32(&w, 0x10000000);
	assert_int_equal(proto_site_decode(idn_slice_of(buf, wire_wr_len(&w)), &s), IDN_ETRUNC);

	/* interface count */
	w = wire_wr_init(buf, sizeof(buf));
	wire_put_data(&w, "\x00\x01\x02\x05\x00\x01\x80\x02", 8);
	wire_put_u32(&w, 0);
	wire_put_u32(&w, 0);
	wire_put_u32(&w, 1);
	wire_put_u32(&w, 7);
	wire_put_data(&w, "\0\0\0\0\0\0\0\0\0\0\0\0\x7f\0\0\x01", 16);
	wire_put_u32(&w, 0);
	wire_put_u32(&w, 0x2aaaaaab); /* x 6 overflows 32 bits */
	assert_int_equal(proto_site_decode(idn_slice_of(buf, wire_wr_len(&w)), &s), IDN_ETRUNC);

	/* vlist count and a huge string length */
	w = wire_wr_init(buf, sizeof(buf));
	wire_put_u32(&w, 0xffffffff);
	wire_put_u32(&w, 0);
	assert_int_equal(proto_vlist_decode(idn_slice_of(buf, wire_wr_len(&w)), &vl), IDN_ETRUNC);
	w = wire_wr_init(buf, sizeof(buf));
	wire_put_u32(&w, 1);
	wire_put_u32(&w, 0xfffffff0);
	wire_put_u32(&w, 0);
	assert_int_equal(proto_vlist_decode(idn_slice_of(buf, wire_wr_len(&w)), &vl), IDN_ETRUNC);

	/* a vlist with trailing bytes is refused */
	w = wire_wr_init(buf, sizeof(buf));
	wire_put_u32(&w, 0);
	wire_put_u8(&w, 0);
	assert_int_equal(proto_vlist_decode(idn_slice_of(buf, wire_wr_len(&w)), &vl), IDN_EINVAL);
}

static void test_garbage(void **state)
{
	for (int round = 0; round < 20000; round++) {
		size_t len = rnd8() % 96;
		uint8_t *p = malloc(len ? len : 1);
		for (size_t i = 0; i < len; i++)
			p[i] = rnd8();
		/* Small counts and lengths now and then, so decoding gets further. */
		if (len >= 12 && (round & 1)) {
			memset(p + 8, 0, 3);
			p[11] &= 3;
		}
		idn_slice s = idn_slice_of(p, len);
		proto_site site;
		proto_admin a;
		proto_vlist vl;
		proto_pubkey k;
		if (proto_site_decode(s, &site) == 0) {
			wire_rd it = proto_site_servers(&site);
			proto_server srv;
			while (proto_site_next_server(&it, &srv) == 1)
				;
		}
		(void)proto_admin_decode(s, &a);
		(void)proto_vlist_decode(s, &vl);
		(void)proto_pubkey_decode(s, &k);
		free(p);
	}
}

static void test_short_output(void **state)
{
	/* Encoders into a buffer that is too small fail with IDN_ESPACE, stickily. */
	proto_msg m;
	proto_site s;
	load_msg("x50-siteinfo-tcp-java/02-response", &m);
	assert_int_equal(proto_site_decode(m.body, &s), 0);
	wire_rd it = proto_site_servers(&s);
	proto_server srv;
	proto_pubkey k;
	assert_int_equal(proto_site_next_server(&it, &srv), 1);
	assert_int_equal(proto_pubkey_decode(srv.pubkey, &k), 0);
	uint8_t out[300];
	for (size_t cap = 0; cap < srv.pubkey.len; cap++) {
		wire_wr w = wire_wr_init(out, cap);
		proto_pubkey_put(&w, &k);
		assert_int_equal(w.err, IDN_ESPACE);
		assert_true(wire_wr_len(&w) <= cap);
	}
}

/* The rule for value types: each way a type could pass for another is refused. */
static void test_type_check(void **state)
{
	static const struct {
		const char *t;
		size_t len;
		const char *why; /* a word of the reason; NULL when accepted */
	} cases[] = {
	    {"URL", 3, NULL},
	    {"HS_ADMIN", 8, NULL},
	    {"10320/loc", 9, NULL},
	    {"EMAIL ADDRESS", 13, NULL},     /* a space inside is fine */
	    {"d\xc3\xa9j\xc3\xa0", 6, NULL}, /* UTF-8 */
	    {"\xf0\x9f\x98\x80", 4, NULL},   /* 4-byte UTF-8 */
	    {"", 0, NULL},                   /* the caller decides */
	    {"hs_admin_x", 10, NULL},        /* not a reserved type */
	    {"HS_ADMIN\0", 9, "NUL"},
	    {"HS_\0ADMIN", 9, "NUL"},
	    {"HS_ADMIN ", 9, "whitespace"},
	    {" URL", 4, "whitespace"},
	    {"URL\xc2\xa0", 5, "whitespace"}, /* no-break space */
	    {"A\x01"
	     "B",
	     3, "control"},
	    {"URL\t", 4, "control"},
	    {"URL\n", 4, "control"},
	    {"URL\x7f", 4, "control"},
	    {"URL\xc2\x85", 5, "control"}, /* C1 NEL */
	    {"URL\xff", 4, "UTF-8"},
	    {"URL\xc3", 4, "UTF-8"},                   /* cut short */
	    {"\xc0\xaf", 2, "UTF-8"},                  /* overlong '/' */
	    {"\xed\xa0\x80", 3, "UTF-8"},              /* a surrogate */
	    {"\xf4\x90\x80\x80", 4, "UTF-8"},          /* over U+10FFFF */
	    {"HS_ADMIN\xe2\x80\x8b", 11, "invisible"}, /* zero-width space */
	    {"\xe2\x80\xaeNIMDA_SH", 11, "invisible"}, /* right-to-left override */
	    {"hs_admin", 8, "case"},
	    {"Hs_Site.Prefix", 14, "case"},
	    {"HS_pubkey", 9, "case"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = "unset";
		int rc = proto_type_check(idn_slice_of(cases[i].t, cases[i].len), &why);
		if (!cases[i].why) {
			if (rc != IDN_OK || why)
				fail_msg("case %zu refused: %s", i, why);
		} else {
			assert_int_equal(rc, IDN_EINVAL);
			assert_non_null(why);
			if (!strstr(why, cases[i].why))
				fail_msg("case %zu: \"%s\" does not say %s", i, why, cases[i].why);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_site_info_answers), cmocka_unit_test(test_prefix_record_values),
	    cmocka_unit_test(test_admin_in_requests), cmocka_unit_test(test_admin_legacy),
	    cmocka_unit_test(test_pubkey_file),       cmocka_unit_test(test_pubkey_other_kinds),
	    cmocka_unit_test(test_serv_and_addr),     cmocka_unit_test(test_server_index),
	    cmocka_unit_test(test_truncations),       cmocka_unit_test(test_huge_counts),
	    cmocka_unit_test(test_garbage),           cmocka_unit_test(test_short_output),
	    cmocka_unit_test(test_type_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
