/*
 * reserved.c - HS_ADMIN, HS_VLIST, HS_SITE, HS_PUBKEY data and the site hash.
 */
#include "proto/reserved.h"

#include <openssl/evp.h>

/* ---- HS_ADMIN ---- */

int proto_admin_decode(idn_slice data, proto_admin *a)
{
	wire_rd c = wire_rd_init(data.p, data.len);

	a->rights = wire_get_u16(&c);
	a->handle = wire_get_lbytes(&c);
	a->index = wire_get_u32(&c);
	a->legacy = false;
	if (c.err)
		return c.err;
	switch (wire_rd_left(&c)) {
	case 0:
		return IDN_OK;
	case 2:
		a->legacy = true;
		return IDN_OK;
	default:
		return IDN_EINVAL;
	}
}

void proto_admin_put(wire_wr *w, const proto_admin *a)
{
	wire_put_u16(w, a->rights);
	wire_put_slice(w, a->handle);
	wire_put_u32(w, a->index);
	if (a->legacy)
		wire_put_u16(w, 0);
}

/* ---- HS_VLIST ---- */

/* Skips n (str handle, int4 index) pairs; the count was checked by the caller. */
static void skip_refs(wire_rd *c, uint32_t n)
{
	for (uint32_t i = 0; i < n && c->err == IDN_OK; i++) {
		wire_get_lbytes(c);
		wire_skip(c, 4);
	}
}

int proto_vlist_decode(idn_slice data, proto_vlist *v)
{
	wire_rd c = wire_rd_init(data.p, data.len);

	v->n = wire_get_count(&c, 8);
	const uint8_t *refs = c.pos;
	skip_refs(&c, v->n);
	v->refs = c.err ? (idn_slice){NULL, 0} : idn_slice_of(refs, (size_t)(c.pos - refs));
	if (c.err)
		return c.err;
	return wire_rd_left(&c) ? IDN_EINVAL : IDN_OK;
}

void proto_vlist_put(wire_wr *w, const proto_ref *refs, uint32_t n)
{
	wire_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		wire_put_slice(w, refs[i].handle);
		wire_put_u32(w, refs[i].index);
	}
}

/* ---- HS_SITE ---- */

enum {
	ATTR_MIN = 8,                                 /* two empty strings */
	IFACE_LEN = 6,                                /* u8 type, u8 protocol, int4 port */
	SERVER_MIN = 4 + PROTO_SITE_ADDR_LEN + 4 + 4, /* id, address, empty key, no interfaces */
};

/* Reads one server entry; nested lists are bounds-checked, not kept. */
static void get_server(wire_rd *c, proto_server *srv)
{
	srv->id = wire_get_u32(c);
	srv->addr = wire_get_raw(c, PROTO_SITE_ADDR_LEN);
	srv->pubkey = wire_get_lbytes(c);
	srv->nifaces = wire_get_count(c, IFACE_LEN);
	const uint8_t *ifaces = wire_get_raw(c, (size_t)srv->nifaces * IFACE_LEN);
	srv->ifaces =
	    c->err ? (idn_slice){NULL, 0} : idn_slice_of(ifaces, (size_t)srv->nifaces * IFACE_LEN);
}

int proto_site_decode(idn_slice data, proto_site *s)
{
	wire_rd c = wire_rd_init(data.p, data.len);

	s->format = wire_get_u16(&c);
	s->major = wire_get_u8(&c);
	s->minor = wire_get_u8(&c);
	s->serial = wire_get_u16(&c);
	s->flags = wire_get_u8(&c);
	s->hash_opt = wire_get_u8(&c);
	s->hash_filter = wire_get_lbytes(&c);

	s->nattrs = wire_get_count(&c, ATTR_MIN);
	const uint8_t *attrs = c.pos;
	for (uint32_t i = 0; i < s->nattrs && c.err == IDN_OK; i++) {
		wire_get_lbytes(&c);
		wire_get_lbytes(&c);
	}
	s->attrs = c.err ? (idn_slice){NULL, 0} : idn_slice_of(attrs, (size_t)(c.pos - attrs));

	s->nservers = wire_get_count(&c, SERVER_MIN);
	const uint8_t *servers = c.pos;
	for (uint32_t i = 0; i < s->nservers && c.err == IDN_OK; i++) {
		proto_server srv;
		get_server(&c, &srv);
	}
	s->servers =
	    c.err ? (idn_slice){NULL, 0} : idn_slice_of(servers, (size_t)(c.pos - servers));
	return c.err;
}

int proto_site_next_attr(wire_rd *it, proto_site_attr *a)
{
	if (it->err)
		return it->err;
	if (wire_rd_left(it) == 0)
		return 0;
	a->name = wire_get_lbytes(it);
	a->value = wire_get_lbytes(it);
	return it->err ? it->err : 1;
}

int proto_site_next_server(wire_rd *it, proto_server *srv)
{
	if (it->err)
		return it->err;
	if (wire_rd_left(it) == 0)
		return 0;
	get_server(it, srv);
	return it->err ? it->err : 1;
}

int proto_server_next_iface(wire_rd *it, proto_iface *ifc)
{
	if (it->err)
		return it->err;
	if (wire_rd_left(it) == 0)
		return 0;
	ifc->type = wire_get_u8(it);
	ifc->proto = wire_get_u8(it);
	ifc->port = wire_get_u32(it);
	return it->err ? it->err : 1;
}

int proto_site_attr_get(const proto_site *s, idn_slice name, idn_slice *value)
{
	wire_rd it = proto_site_attrs(s);
	proto_site_attr a;
	int rc;

	while ((rc = proto_site_next_attr(&it, &a)) == 1) {
		if (idn_slice_eq(a.name, name)) {
			*value = a.value;
			return 1;
		}
	}
	return rc;
}

bool proto_addr_ipv4(const uint8_t addr[PROTO_SITE_ADDR_LEN], uint8_t v4[4])
{
	for (int i = 0; i < 10; i++)
		if (addr[i])
			return false;
	/* Bytes 10-11 are 0x0000 in the reference form, 0xffff in ::ffff:a.b.c.d. */
	if (!((addr[10] == 0 && addr[11] == 0) || (addr[10] == 0xff && addr[11] == 0xff)))
		return false;
	memcpy(v4, addr + 12, 4);
	return true;
}

void proto_addr_from_ipv4(uint8_t addr[PROTO_SITE_ADDR_LEN], const uint8_t v4[4])
{
	memset(addr, 0, 12);
	memcpy(addr + 12, v4, 4);
}

void proto_site_put(wire_wr *w, const proto_site_desc *d)
{
	wire_put_u16(w, d->format ? d->format : PROTO_SITE_FORMAT);
	wire_put_u8(w, d->major);
	wire_put_u8(w, d->minor);
	wire_put_u16(w, d->serial);
	wire_put_u8(w, d->flags);
	wire_put_u8(w, d->hash_opt);
	wire_put_slice(w, d->hash_filter);
	wire_put_u32(w, d->nattrs);
	for (uint32_t i = 0; i < d->nattrs; i++) {
		wire_put_slice(w, d->attrs[i].name);
		wire_put_slice(w, d->attrs[i].value);
	}
	wire_put_u32(w, d->nservers);
	for (uint32_t i = 0; i < d->nservers; i++) {
		const proto_server_desc *srv = &d->servers[i];
		wire_put_u32(w, srv->id);
		wire_put_data(w, srv->addr, PROTO_SITE_ADDR_LEN);
		wire_put_slice(w, srv->pubkey);
		wire_put_u32(w, srv->nifaces);
		for (uint32_t j = 0; j < srv->nifaces; j++) {
			wire_put_u8(w, srv->ifaces[j].type);
			wire_put_u8(w, srv->ifaces[j].proto);
			wire_put_u32(w, srv->ifaces[j].port);
		}
	}
}

/*
 * Server selection, as Handle.Net does it (SiteInfo.getHandleHash and
 * determineServerNum):
 *
 * - the hashed part is the prefix (bytes before the first '/'; a handle
 *   without '/' hashes the literal "0.NA"), the suffix (bytes after the first
 *   '/'; without '/', the whole handle) or the whole handle, with only ASCII
 *   a-z upper-cased (bytes >= 0x80 are left alone, so UTF-8 is untouched);
 * - MD5 of it; the int is Encoder.readInt(digest, 12): the last 4 bytes read
 *   as a big-endian signed 32-bit integer;
 * - Math.abs of it, then Java's % (which keeps the dividend's sign) by the
 *   number of servers.
 *
 * Math.abs(Integer.MIN_VALUE) is still Integer.MIN_VALUE in Java, so for that
 * one digest Java computes MIN_VALUE % n, which is 0 when n is a power of two
 * and negative otherwise (the reference then fails indexing servers[]). We use
 * the true magnitude, 2^31 mod n: the same answer wherever Java has one, and a
 * defined server where Java throws.
 */
int proto_site_server_index(idn_slice handle, uint8_t hash_opt, uint32_t nservers)
{
	static const uint8_t zero_na[] = "0.NA";
	idn_slice part = handle;
	const uint8_t *slash = handle.len ? memchr(handle.p, '/', handle.len) : NULL;
	int rc = IDN_ECRYPTO;

	if (nservers == 0)
		return IDN_EINVAL;
	switch (hash_opt) {
	case PROTO_SITE_HASH_PREFIX:
		part = slash ? idn_slice_of(handle.p, (size_t)(slash - handle.p))
		             : idn_slice_of(zero_na, sizeof(zero_na) - 1);
		break;
	case PROTO_SITE_HASH_SUFFIX:
		if (slash)
			part = idn_slice_of(slash + 1, handle.len - (size_t)(slash + 1 - handle.p));
		break;
	case PROTO_SITE_HASH_ALL:
		break;
	default:
		return IDN_EINVAL;
	}

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
		goto out;
	/* Upper-case through a small window so that no copy of the handle is needed. */
	for (uint32_t off = 0; off < part.len;) {
		uint8_t buf[256];
		uint32_t n = part.len - off < sizeof(buf) ? part.len - off : (uint32_t)sizeof(buf);
		for (uint32_t i = 0; i < n; i++) {
			uint8_t ch = part.p[off + i];
			buf[i] = ch >= 'a' && ch <= 'z' ? (uint8_t)(ch - 'a' + 'A') : ch;
		}
		if (EVP_DigestUpdate(ctx, buf, n) != 1)
			goto out;
		off += n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16)
		goto out;

	int32_t h = (int32_t)idn_be32(md + 12);
	uint32_t mag = h < 0 ? (uint32_t)0 - (uint32_t)h : (uint32_t)h;
	rc = (int)(mag % nservers);
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ---- HS_PUBKEY ---- */

static enum proto_key_kind key_kind(idn_slice type)
{
	if (idn_slice_eq(type, IDN_SLICE("RSA_PUB_KEY")))
		return PROTO_KEY_RSA;
	if (idn_slice_eq(type, IDN_SLICE("DSA_PUB_KEY")))
		return PROTO_KEY_DSA;
	if (idn_slice_eq(type, IDN_SLICE("DH_PUB_KEY")))
		return PROTO_KEY_DH;
	if (idn_slice_eq(type, IDN_SLICE("SM2_PUB_KEY")))
		return PROTO_KEY_SM2;
	return PROTO_KEY_OTHER;
}

int proto_pubkey_decode(idn_slice data, proto_pubkey *k)
{
	wire_rd c = wire_rd_init(data.p, data.len);

	memset(k, 0, sizeof(*k));
	k->type = wire_get_lbytes(&c);
	k->flags = wire_get_u16(&c);
	if (c.err)
		return c.err;
	k->kind = key_kind(k->type);
	switch (k->kind) {
	case PROTO_KEY_RSA:
		k->rsa.e = wire_get_lbytes(&c);
		k->rsa.n = wire_get_lbytes(&c);
		break;
	case PROTO_KEY_DSA:
		k->dsa.q = wire_get_lbytes(&c);
		k->dsa.p = wire_get_lbytes(&c);
		k->dsa.g = wire_get_lbytes(&c);
		k->dsa.y = wire_get_lbytes(&c);
		break;
	case PROTO_KEY_DH:
		k->dh.y = wire_get_lbytes(&c);
		k->dh.p = wire_get_lbytes(&c);
		k->dh.g = wire_get_lbytes(&c);
		break;
	case PROTO_KEY_SM2:
		k->sm2.pem = wire_get_lbytes(&c);
		break;
	case PROTO_KEY_OTHER:
		break;
	}
	if (c.err)
		return c.err;
	k->rest = idn_slice_of(c.pos, wire_rd_left(&c));
	return IDN_OK;
}

void proto_pubkey_put(wire_wr *w, const proto_pubkey *k)
{
	wire_put_slice(w, k->type);
	wire_put_u16(w, k->flags);
	switch (k->kind) {
	case PROTO_KEY_RSA:
		wire_put_slice(w, k->rsa.e);
		wire_put_slice(w, k->rsa.n);
		break;
	case PROTO_KEY_DSA:
		wire_put_slice(w, k->dsa.q);
		wire_put_slice(w, k->dsa.p);
		wire_put_slice(w, k->dsa.g);
		wire_put_slice(w, k->dsa.y);
		break;
	case PROTO_KEY_DH:
		wire_put_slice(w, k->dh.y);
		wire_put_slice(w, k->dh.p);
		wire_put_slice(w, k->dh.g);
		break;
	case PROTO_KEY_SM2:
		wire_put_slice(w, k->sm2.pem);
		break;
	case PROTO_KEY_OTHER:
		break;
	}
	wire_put_data(w, k->rest.p, k->rest.len);
}
