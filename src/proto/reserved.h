/*
 * reserved.h - the data of the reserved value types: HS_ADMIN, HS_SITE (and
 * HS_SITE.PREFIX), HS_VLIST, HS_SERV / HS_SERV.PREFIX / HS_ALIAS and
 * HS_PUBKEY, plus the hash that spreads handles across the servers of a site.
 *
 * Pure and allocation-free like the rest of proto/: decoders fill structs of
 * slices that borrow the caller's buffer (valid as long as it is); lists are
 * kept as raw slices and walked with the *_next() iterators, which return 1
 * with the item filled, 0 at the end, or a negative idn_err. Encoders write
 * through a wire_wr and leave its sticky error set when the buffer is short.
 *
 * Byte layouts follow the reference software (Handle.Net Encoder), checked
 * against ../shared/vectors. Turning key material into OpenSSL keys is the
 * auth module's job, not this one's.
 */
#ifndef IDN_PROTO_RESERVED_H
#define IDN_PROTO_RESERVED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/wire.h"
#include "proto/proto.h"

/* ---- value types: what may be stored ---- */

/*
 * Whether type may be the type of a stored value. Refused (IDN_EINVAL, *why
 * says what is wrong, as "contains a NUL byte"): a NUL, C0 or DEL control
 * character, or C1 control; an invisible format character (zero-width,
 * bidirectional override, BOM) anywhere; whitespace at either end; bytes
 * that are not valid UTF-8 (overlong, surrogate, over U+10FFFF, cut short);
 * a type that differs from a reserved one (HS_ADMIN, HS_SITE, ...) only by
 * case. Each of these would show as another type on a screen or to a
 * client reading C strings. The empty type is left to the caller.
 */
int proto_type_check(idn_slice type, const char **why);

/* ---- HS_ADMIN: int2 rights, str admin handle, int4 admin index ---- */

/* Rights bits, as the reference software assigns them. */
enum {
	PROTO_ADM_ADD_HANDLE = 0x0001,
	PROTO_ADM_DELETE_HANDLE = 0x0002,
	PROTO_ADM_ADD_DERIVED_PREFIX = 0x0004,
	PROTO_ADM_DELETE_DERIVED_PREFIX = 0x0008,
	PROTO_ADM_MODIFY_VALUE = 0x0010,
	PROTO_ADM_REMOVE_VALUE = 0x0020,
	PROTO_ADM_ADD_VALUE = 0x0040,
	PROTO_ADM_MODIFY_ADMIN = 0x0080,
	PROTO_ADM_REMOVE_ADMIN = 0x0100,
	PROTO_ADM_ADD_ADMIN = 0x0200,
	PROTO_ADM_READ_VALUE = 0x0400,
	PROTO_ADM_LIST_HANDLES = 0x0800,
	PROTO_ADM_ALL = 0x0FFF,
};

typedef struct proto_admin {
	uint16_t rights; /* PROTO_ADM_* */
	idn_slice handle;
	uint32_t index; /* 0 = any index of handle */
	bool legacy;    /* the old form with 2 extra (zero) bytes at the end */
} proto_admin;

/*
 * Decodes HS_ADMIN data. Exactly 0 or 2 bytes may follow the index (the
 * reference accepts the same and nothing else: this is authorisation data, so
 * an odd encoding is refused rather than guessed at): IDN_EINVAL otherwise.
 */
int proto_admin_decode(idn_slice data, proto_admin *a);
/* Writes the data; with a->legacy, the 2 trailing zero bytes too. */
void proto_admin_put(wire_wr *w, const proto_admin *a);

/* ---- HS_VLIST: int4 n, n x (str handle, int4 index) ---- */

typedef struct proto_vlist {
	uint32_t n;
	idn_slice refs; /* n x (str handle, int4 index), raw: walk with proto_ref_next() */
} proto_vlist;

/* Decodes HS_VLIST data. Trailing bytes are refused (IDN_EINVAL), as the reference does. */
int proto_vlist_decode(idn_slice data, proto_vlist *v);
void proto_vlist_put(wire_wr *w, const proto_ref *refs, uint32_t n);

/*
 * HS_SERV, HS_SERV.PREFIX and HS_ALIAS: the value data *is* the handle, raw
 * UTF-8 with no length prefix (the reference client uses values[i].data as the
 * handle to resolve and decodes HS_ALIAS data straight as a string).
 */
static inline idn_slice proto_serv_handle(idn_slice data)
{
	return data;
}

/* ---- HS_SITE / HS_SITE.PREFIX ---- */

enum {
	PROTO_SITE_FORMAT = 1, /* data format version, the first int2 */
	PROTO_SITE_PRIMARY = 0x80,
	PROTO_SITE_MULTI_PRIMARY = 0x40,
};

/* What the site hashes to pick a server (HS_SITE hash option). */
enum proto_site_hash {
	PROTO_SITE_HASH_PREFIX = 0,
	PROTO_SITE_HASH_SUFFIX = 1,
	PROTO_SITE_HASH_ALL = 2,
};

/* Interface type and protocol. */
enum {
	PROTO_IF_ADMIN = 1,
	PROTO_IF_QUERY = 2,
	PROTO_IF_BOTH = 3,
};
enum {
	PROTO_IF_UDP = 0,
	PROTO_IF_TCP = 1,
	PROTO_IF_HTTP = 2,
	PROTO_IF_HTTPS = 3,
};

enum { PROTO_SITE_ADDR_LEN = 16 };

typedef struct proto_site {
	uint16_t format;      /* PROTO_SITE_FORMAT */
	uint8_t major, minor; /* protocol version the site speaks */
	uint16_t serial;
	uint8_t flags;    /* PROTO_SITE_PRIMARY | PROTO_SITE_MULTI_PRIMARY */
	uint8_t hash_opt; /* enum proto_site_hash */
	idn_slice hash_filter;
	uint32_t nattrs;
	idn_slice attrs; /* raw: walk with proto_site_next_attr() */
	uint32_t nservers;
	idn_slice servers; /* raw: walk with proto_site_next_server() */
} proto_site;

typedef struct proto_site_attr {
	idn_slice name, value;
} proto_site_attr;

typedef struct proto_iface {
	uint8_t type;  /* PROTO_IF_ADMIN / QUERY / BOTH */
	uint8_t proto; /* PROTO_IF_UDP / TCP / HTTP / HTTPS */
	uint32_t port;
} proto_iface;

typedef struct proto_server {
	uint32_t id;
	const uint8_t *addr; /* PROTO_SITE_ADDR_LEN bytes */
	idn_slice pubkey;    /* HS_PUBKEY-encoded server key */
	uint32_t nifaces;
	idn_slice ifaces; /* raw: walk with proto_server_next_iface() */
} proto_server;

/*
 * Decodes an HS_SITE record (also the GET_SITE_INFO answer body, without its
 * request digest). Every nested list is checked here, so the iterators below
 * cannot fail on a record this accepted. Trailing bytes are tolerated.
 */
int proto_site_decode(idn_slice data, proto_site *s);

/* Iterator cursors over a decoded site / server. */
static inline wire_rd proto_site_attrs(const proto_site *s)
{
	return wire_rd_init(s->attrs.p, s->attrs.len);
}
static inline wire_rd proto_site_servers(const proto_site *s)
{
	return wire_rd_init(s->servers.p, s->servers.len);
}
static inline wire_rd proto_server_ifaces(const proto_server *srv)
{
	return wire_rd_init(srv->ifaces.p, srv->ifaces.len);
}

int proto_site_next_attr(wire_rd *it, proto_site_attr *a);
int proto_site_next_server(wire_rd *it, proto_server *srv);
int proto_server_next_iface(wire_rd *it, proto_iface *ifc);

/* The value of the first attribute called name (e.g. "desc"); 1 if found. */
int proto_site_attr_get(const proto_site *s, idn_slice name, idn_slice *value);

/*
 * The IPv4 address of a server when it has one: the reference writes IPv4 in
 * the last 4 bytes with zeros before; the ::ffff:a.b.c.d form is accepted too.
 * Returns true and fills v4, false for a real IPv6 address.
 */
bool proto_addr_ipv4(const uint8_t addr[PROTO_SITE_ADDR_LEN], uint8_t v4[4]);
/* Writes an IPv4 address in the reference form (12 zero bytes, then v4). */
void proto_addr_from_ipv4(uint8_t addr[PROTO_SITE_ADDR_LEN], const uint8_t v4[4]);

/* Encoding a site from a plain description (arrays owned by the caller). */
typedef struct proto_server_desc {
	uint32_t id;
	uint8_t addr[PROTO_SITE_ADDR_LEN];
	idn_slice pubkey;
	const proto_iface *ifaces;
	uint32_t nifaces;
} proto_server_desc;

typedef struct proto_site_desc {
	uint16_t format; /* 0 is written as PROTO_SITE_FORMAT */
	uint8_t major, minor;
	uint16_t serial;
	uint8_t flags;
	uint8_t hash_opt;
	idn_slice hash_filter;
	const proto_site_attr *attrs;
	uint32_t nattrs;
	const proto_server_desc *servers;
	uint32_t nservers;
} proto_site_desc;

void proto_site_put(wire_wr *w, const proto_site_desc *d);

/*
 * Which server of a site (0 .. nservers-1, in record order) is responsible for
 * handle, given the site's hash option. Negative idn_err for an unknown hash
 * option or no servers. See reserved.c for the exact reference behaviour.
 */
int proto_site_server_index(idn_slice handle, uint8_t hash_opt, uint32_t nservers);

/* ---- HS_PUBKEY: str key type, int2 flags (0), then per type ---- */

enum proto_key_kind {
	PROTO_KEY_OTHER = 0, /* unknown type: everything after the flags is in `rest` */
	PROTO_KEY_RSA,       /* "RSA_PUB_KEY": bytes exponent, bytes modulus */
	PROTO_KEY_DSA,       /* "DSA_PUB_KEY": bytes q, p, g, y */
	PROTO_KEY_DH,        /* "DH_PUB_KEY":  bytes y, p, g (session setup) */
	PROTO_KEY_SM2,       /* "SM2_PUB_KEY": bytes key, PEM text or DER SPKI (national system) */
};

typedef struct proto_pubkey {
	idn_slice type;
	uint16_t flags;
	enum proto_key_kind kind;
	union {
		struct {
			idn_slice e, n;
		} rsa;
		struct {
			idn_slice q, p, g, y;
		} dsa;
		struct {
			idn_slice y, p, g;
		} dh;
		struct {
			idn_slice pem;
		} sm2;
	};
	/*
	 * Bytes after the last field. The reference writes 4 zero bytes after
	 * an RSA modulus (PROTO_PUBKEY_RSA_PAD); they are kept so that a
	 * decoded key re-encodes to the same bytes.
	 */
	idn_slice rest;
} proto_pubkey;

#define PROTO_PUBKEY_RSA_PAD ((idn_slice){(const uint8_t *)"\0\0\0\0", 4})

/* Decodes HS_PUBKEY data (leniently: trailing bytes land in `rest`). */
int proto_pubkey_decode(idn_slice data, proto_pubkey *k);
/* Writes type, flags, the fields of k->kind, then k->rest verbatim. */
void proto_pubkey_put(wire_wr *w, const proto_pubkey *k);

#endif
