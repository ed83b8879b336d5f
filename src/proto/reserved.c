/*
 * reserved.c - HS_ADMIN, HS_VLIST, HS_SITE, HS_PUBKEY data and the site hash.
 */
#include "proto/reserved.h"

#include <openssl/evp.h>
#include <string.h>

/* ---- value types ---- */

/* The types the node or the reference gives a meaning to. */
static const char *const reserved_types[] = {
    "HS_ADMIN", "HS_SITE",      "HS_SITE.PREFIX", "HS_PUBKEY",      "HS_SECKEY",
    "HS_VLIST", "HS_ALIAS",     "HS_SERV",        "HS_SERV.PREFIX", "HS_NA_DELEGATE",
    "HS_CERT",  "HS_SIGNATURE", "HS_SIGNED",      "HS_MAC",
};

/*
 * The code point of the UTF-8 sequence at p[0..left), its length in *n;
 * -1 when it is not valid UTF-8 (cut short, overlong, surrogate, too big).
 */
static int32_t utf8_next(const uint8_t *p, size_t left, size_t *n)
{
	static const int32_t min[4] = {0, 0x80, 0x800, 0x10000};
	uint8_t b = p[0];
	size_t len = b < 0x80             ? 1
	             : (b & 0xE0) == 0xC0 ? 2
	             : (b & 0xF0) == 0xE0 ? 3
	             : (b & 0xF8) == 0xF0 ? 4
	                                  : 0;
	if (!len || len > left)
		return -1;
	int32_t cp = len == 1 ? b : b & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min[len - 1] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*n = len;
	return cp;
}

static bool is_space(int32_t cp)
{
	return cp == ' ' || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Characters that show as nothing: zero-width, bidirectional controls, BOM. */
static bool is_invisible(int32_t cp)
{
	return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF ||
	       cp == 0xAD;
}

static bool eq_nocase(idn_slice a, const char *b)
{
	size_t n = strlen(b);
	if (a.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t x = a.p[i], y = (uint8_t)b[i];
		if ((x >= 'a' && x <= 'z' ? x - 32 : x) != (y >= 'a' && y <= 'z' ? y - 32 : y))
			return false;
	}
	return true;
}

int proto_type_check(idn_slice type, const char **why)
{
	int32_t first = -1, last = -1;
	for (size_t i = 0, n = 0; i < type.len; i += n) {
		int32_t cp = utf8_next(type.p + i, type.len - i, &n);
		if (cp < 0)
			*why = "is not valid UTF-8";
		else if (cp == 0)
			*why = "contains a NUL byte";
		else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			*why = "contains a control character";
		else if (is_invisible(cp))
			*why = "contains an invisible character";
		else
			*why = NULL;
		if (*why)
			return IDN_EINVAL;
		if (first < 0)
			first = cp;
		last = cp;
	}
	*why = "has whitespace at its start or end";
	if (type.len && (is_space(first) || is_space(last)))
		return IDN_EINVAL;
	for (size_t i = 0; i < sizeof(reserved_types) / sizeof(reserved_types[0]); i++) {
		if (idn_slice_eq(type, idn_slice_of(reserved_types[i], strlen(reserved_types[i]))))
			break;
		if (eq_nocase(type, reserved_types[i])) {
			*why = "differs from a reserved type only by case";
			return IDN_EINVAL;
		}
	}
	*why = NULL;
	return IDN_OK;
}

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
