/*
 * proto.h - the Handle protocol codec (RFC 3651/3652 as Handle.Net speaks it).
 *
 * Pure: no I/O, no allocation. Decoders read from a caller's buffer through a
 * bounds-checked cursor and return slices that borrow that buffer; encoders
 * write into a caller's buffer and fail with IDN_ESPACE when it is too small.
 * Malformed input is an error code (IDN_ETRUNC / IDN_EINVAL), never a read
 * past the end.
 *
 * A message on the wire is: envelope (20) + header (24) + body + int4
 * credential length + credential. See ../shared/PROTOCOL.md.
 *
 * Special value types live in proto/reserved.h, UDP fragmentation in
 * proto/udp.h, credential sections in proto/cred.h.
 */
#ifndef IDN_PROTO_PROTO_H
#define IDN_PROTO_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/wire.h"

enum {
	PROTO_ENV_LEN = 20,
	PROTO_HDR_LEN = 24,
	PROTO_UDP_PKT = 512,   /* a UDP datagram: envelope + 492 payload bytes */
	PROTO_UDP_CHUNK = 492, /* payload bytes per UDP datagram */
	PROTO_MSG_MAX = 262144,
	PROTO_MAJOR = 2,
	PROTO_MINOR_MIN = 1,
	PROTO_MINOR_MAX = 11, /* our own version: 2.11 */
	PROTO_HANDLE_MAX = 2048,
	PROTO_DIGEST_MAX = 32,
};

/* Envelope flags (byte 2). The low two bits carry the suggested major. */
enum {
	PROTO_ENV_COMPRESSED = 0x80,
	PROTO_ENV_ENCRYPTED = 0x40,
	PROTO_ENV_TRUNCATED = 0x20,
	PROTO_ENV_SUGG_MAJOR_MASK = 0x03,
};

enum proto_op {
	PROTO_OP_RESOLUTION = 1,
	PROTO_OP_GET_SITE_INFO = 2,
	PROTO_OP_CREATE_HANDLE = 100,
	PROTO_OP_DELETE_HANDLE = 101,
	PROTO_OP_ADD_VALUE = 102,
	PROTO_OP_REMOVE_VALUE = 103,
	PROTO_OP_MODIFY_VALUE = 104,
	PROTO_OP_LIST_HANDLES = 105,
	PROTO_OP_LIST_NAS = 106,
	PROTO_OP_CHALLENGE_RESPONSE = 200,
	PROTO_OP_VERIFY_RESPONSE = 201,
	PROTO_OP_HOME_NA = 300,
	PROTO_OP_UNHOME_NA = 301,
	PROTO_OP_LIST_HOMED_NAS = 302,
	PROTO_OP_SESSION_SETUP = 400,
	PROTO_OP_SESSION_TERMINATE = 401,
	PROTO_OP_SESSION_EXCHANGEKEY = 402,
	PROTO_OP_GET_NEXT_TXN_ID = 1000,
	PROTO_OP_RETRIEVE_TXN_LOG = 1001,
	PROTO_OP_DUMP_HANDLES = 1002,
	PROTO_OP_BACKUP_SERVER = 1003,
	PROTO_OP_IDIS_PASSWORD_LOGIN = 2000, /* ID-SDK's legacy user/password login */
	PROTO_OP_IDIS_LOGIN = 2001,
};

enum proto_rc {
	PROTO_RC_RESERVED = 0,
	PROTO_RC_SUCCESS = 1,
	PROTO_RC_ERROR = 2,
	PROTO_RC_SERVER_BUSY = 3,
	PROTO_RC_PROTOCOL_ERROR = 4,
	PROTO_RC_OPERATION_NOT_SUPPORTED = 5,
	PROTO_RC_RECURSION_COUNT_TOO_HIGH = 6,
	PROTO_RC_SERVER_BACKUP = 7,
	PROTO_RC_HANDLE_NOT_FOUND = 100,
	PROTO_RC_HANDLE_ALREADY_EXISTS = 101,
	PROTO_RC_INVALID_HANDLE = 102,
	PROTO_RC_VALUE_NOT_FOUND = 200,
	PROTO_RC_VALUE_ALREADY_EXISTS = 201,
	PROTO_RC_INVALID_VALUE = 202,
	PROTO_RC_OUT_OF_DATE_SITE_INFO = 300,
	PROTO_RC_SERVER_NOT_RESP = 301,
	PROTO_RC_SERVICE_REFERRAL = 302,
	PROTO_RC_PREFIX_REFERRAL = 303,
	PROTO_RC_INVALID_ADMIN = 400,
	PROTO_RC_INSUFFICIENT_PERMISSIONS = 401,
	PROTO_RC_AUTHENTICATION_NEEDED = 402,
	PROTO_RC_AUTHENTICATION_FAILED = 403,
	PROTO_RC_INVALID_CREDENTIAL = 404,
	PROTO_RC_AUTHEN_TIMEOUT = 405,
	PROTO_RC_AUTHEN_ERROR = 406,
	PROTO_RC_SESSION_TIMEOUT = 500,
	PROTO_RC_SESSION_FAILED = 501,
	PROTO_RC_SESSION_NO_KEY = 502,
	PROTO_RC_SESSION_NEED_MSG = 503,
	PROTO_RC_SESSION_INVALID_MSG = 504,
	PROTO_RC_SESSION_COUNTER = 505,
	/* The national system's codes (IDIS.md section 1), each known to one SDK only. */
	PROTO_RC_IDIS_REPEAT_LOGIN = 407,    /* ID-SDK: a second login on a connection */
	PROTO_RC_IDIS_LOGIN_FIRST = 408,     /* ID-SDK: log in first */
	PROTO_RC_IDIS_CHANNEL_ERROR = 601,   /* id-pointer-sdk: client channel error */
	PROTO_RC_IDIS_PROXY_FAILED = 602,    /* id-pointer-sdk: client timeout */
	PROTO_RC_IDIS_DAILY_LIMIT = 603,     /* id-pointer-sdk: daily request limit */
	PROTO_RC_IDIS_HANDLE_LIMIT = 604,    /* id-pointer-sdk: registration count limit */
	PROTO_RC_IDIS_PREFIX_LIMIT = 605,    /* id-pointer-sdk: prefix limit */
	PROTO_RC_IDIS_BAD_CREDENTIAL = 3001, /* ID-SDK: credential verification failed */
};

/* Op flags (header bytes 8..11). */
enum {
	PROTO_F_AT = 0x80000000u,   /* authoritative */
	PROTO_F_CT = 0x40000000u,   /* certify: sign the answer */
	PROTO_F_ENC = 0x20000000u,  /* encrypt */
	PROTO_F_REC = 0x10000000u,  /* recursive */
	PROTO_F_CA = 0x08000000u,   /* cache authenticated */
	PROTO_F_CN = 0x04000000u,   /* continuous: more messages follow */
	PROTO_F_KA = 0x02000000u,   /* keep-alive */
	PROTO_F_PO = 0x01000000u,   /* public only */
	PROTO_F_RD = 0x00800000u,   /* return request digest */
	PROTO_F_OVRW = 0x00400000u, /* overwrite on create */
	PROTO_F_MINT = 0x00200000u, /* mint a new suffix */
	PROTO_F_DNRF = 0x00100000u, /* do not refer */
	/* The national system's (IDIS.md sections 1 and 3). */
	PROTO_F_IDIS_VERIFIED = 0x00000001u,  /* answer: the trusted result verified */
	PROTO_F_IDIS_TRUSTED = 0x00000002u,   /* request: trusted resolution asked */
	PROTO_F_IDIS_RECU_AUTH = 0x00000004u, /* a recursive node passes the caller's identity on */
};

/* Value permission bits. */
enum {
	PROTO_PERM_ADMIN_READ = 0x08,
	PROTO_PERM_ADMIN_WRITE = 0x04,
	PROTO_PERM_PUBLIC_READ = 0x02,
	PROTO_PERM_PUBLIC_WRITE = 0x01,
};

/* Digest algorithms (the u8 before a request digest). */
enum proto_hash {
	PROTO_HASH_MD5 = 1,
	PROTO_HASH_SHA1 = 2,
	PROTO_HASH_SHA256 = 3,
};

/* ---- envelope ---- */

typedef struct proto_env {
	uint8_t major;
	uint8_t minor;
	uint8_t flags;      /* PROTO_ENV_*, low 2 bits = suggested major */
	uint8_t sugg_minor; /* suggested minor, 0 = none */
	uint32_t session_id;
	uint32_t request_id;
	uint32_t seq;     /* UDP packet number, from 0 */
	uint32_t msg_len; /* length of the whole message, not this packet */
} proto_env;

/* Decodes the 20-byte envelope. IDN_ETRUNC if len < 20. No semantic checks. */
int proto_env_decode(const uint8_t *p, size_t len, proto_env *env);
void proto_env_encode(const proto_env *env, uint8_t out[PROTO_ENV_LEN]);

/* Version as one comparable number: major*256 + minor. */
static inline unsigned proto_ver(uint8_t major, uint8_t minor)
{
	return (unsigned)major << 8 | minor;
}

/* ---- header and message ---- */

typedef struct proto_hdr {
	uint32_t opcode;
	uint32_t rcode;
	uint32_t flags;
	uint16_t site_serial;
	uint8_t recursion;
	uint8_t reserved;
	uint32_t expiration;
	uint32_t body_len;
} proto_hdr;

typedef struct proto_msg {
	proto_hdr hdr;
	idn_slice hb;   /* header + body: what request digests and signatures cover */
	idn_slice body; /* the body */
	idn_slice cred; /* the credential section (without its int4 length), may be empty */
} proto_msg;

/*
 * Decodes a message (the bytes after the envelope). The body must fit; a
 * missing credential-length field reads as no credential; trailing bytes after
 * the credential are tolerated.
 */
int proto_msg_decode(const uint8_t *p, size_t len, proto_msg *m);

void proto_hdr_encode(wire_wr *w, const proto_hdr *h);

/*
 * Building an answer or request in one buffer:
 *   proto_build_begin(&b, buf, cap, &env, &hdr);   envelope + header written
 *   ... write the body through b.w ...
 *   [proto_build_body_end(&b);                     header + body, to sign]
 *   proto_build_end(&b, cred, cred_len);           body length, credential,
 *                                                   message length patched
 * The result is buf[0 .. wire_wr_len(&b.w)).
 */
typedef struct proto_build {
	wire_wr w;
	uint8_t *env; /* envelope position in the buffer */
	uint8_t *hdr; /* header position in the buffer */
} proto_build;

void proto_build_begin(proto_build *b, void *buf, size_t cap, const proto_env *env,
                       const proto_hdr *hdr);
/*
 * Ends the body: patches its length into the header and returns header +
 * body (what a request digest or a signature covers), or an empty slice if
 * the buffer ran out. Writing more body afterwards is an error.
 */
idn_slice proto_build_body_end(proto_build *b);

/* Returns the total length (envelope included) or a negative idn_err. */
int proto_build_end(proto_build *b, const uint8_t *cred, uint32_t cred_len);

/* ---- request digest ---- */

/* The digest algorithm a given protocol version uses for request digests. */
enum proto_hash proto_digest_alg(uint8_t major, uint8_t minor);
/* Digest length for an algorithm, 0 if unknown. */
size_t proto_digest_len(enum proto_hash alg);
/* Computes the digest of data into out (PROTO_DIGEST_MAX bytes). */
int proto_digest(enum proto_hash alg, const uint8_t *data, size_t len, uint8_t *out);
/* Writes u8 alg + digest of hb. */
void proto_put_digest(wire_wr *w, enum proto_hash alg, idn_slice hb);

/* ---- handle values ---- */

typedef struct proto_value {
	uint32_t index;
	uint32_t timestamp;
	uint8_t ttl_type; /* 0 relative, 1 absolute */
	uint32_t ttl;
	uint8_t perms; /* PROTO_PERM_* */
	idn_slice type;
	idn_slice data;
	uint32_t nrefs;
	idn_slice refs; /* nrefs × (str handle, int4 index), raw */
} proto_value;

/* Minimum wire size of one value (empty type, data, no references). */
enum { PROTO_VALUE_MIN = 4 + 4 + 1 + 4 + 1 + 4 + 4 + 4 };
/* Offset of the permissions byte inside an encoded value. */
enum { PROTO_VALUE_PERMS_OFF = 13 };

void proto_value_get(wire_rd *c, proto_value *v);
void proto_value_put(wire_wr *w, const proto_value *v);
/* Wire size of a value. */
size_t proto_value_size(const proto_value *v);

/* A reference inside proto_value.refs. */
typedef struct proto_ref {
	idn_slice handle;
	uint32_t index;
} proto_ref;

/* Iterates refs: returns 1 with *r filled, 0 at the end, negative on error. */
int proto_ref_next(wire_rd *refs, proto_ref *r);

/*
 * A walk over n encoded values (a record's, an answer's), all of them or
 * only those of one index and one type: the loop written once.
 *   proto_values_it it = proto_values_begin(values, n);
 *   while ((rc = proto_values_next(&it, &v)) == 1) ...
 * rc < 0 after the loop: the values are malformed. The values borrow the
 * bytes walked; it.raw is the encoding of the value last returned.
 */
typedef struct proto_values_it {
	wire_rd c;     /* after the value last returned */
	uint32_t left; /* values not yet walked */
	idn_slice raw; /* the value last returned, encoded */
} proto_values_it;

/* Which values proto_values_find() returns. */
typedef struct proto_values_match {
	uint32_t index;   /* 0: any index */
	idn_slice type;   /* empty: any type */
	bool type_nocase; /* types compared ignoring ASCII case (the reference's way) */
} proto_values_match;

static inline proto_values_it proto_values_begin(idn_slice values, uint32_t n)
{
	return (proto_values_it){.c = wire_rd_init(values.p, values.len), .left = n};
}

/* 1: *v is the next value; 0: no more; negative: the values are malformed. */
int proto_values_next(proto_values_it *it, proto_value *v);

/* As proto_values_next(), skipping the values that m does not match. */
int proto_values_find(proto_values_it *it, const proto_values_match *m, proto_value *v);

/*
 * Reads n values from c and checks them; *raw is their bytes (empty when c
 * failed, the error is then c's).
 */
void proto_values_span(wire_rd *c, uint32_t n, idn_slice *raw);

/* ---- bodies ---- */

/*
 * Op 1 request: str handle, int4[] indexes, str[] types; id-pointer-sdk
 * appends bytes auth (int4 length, 0 when unused, else a JWT naming the
 * caller: IDIS.md section 1). The decoder takes the body with or without
 * that trailer; a trailer of under 4 bytes, or whose length overruns the
 * body, is malformed. Bytes after it are tolerated, as after a credential.
 */
typedef struct proto_resolve_req {
	idn_slice handle;
	uint32_t nindexes;
	const uint8_t *indexes; /* nindexes × int4, raw */
	uint32_t ntypes;
	idn_slice types; /* ntypes × str, raw */
	idn_slice auth;  /* the trailer's bytes: empty when absent or 0 */
} proto_resolve_req;

int proto_resolve_req_decode(idn_slice body, proto_resolve_req *r);
void proto_resolve_req_encode(wire_wr *w, idn_slice handle, const uint32_t *indexes,
                              uint32_t nindexes, const idn_slice *types, uint32_t ntypes);

/*
 * Op 1 answer: str handle, int4 n, value × n (the body after any request
 * digest: see proto_answer_split in proto/admin.h). The values are kept raw; iterate them with
 * proto_value_get() on a cursor over `values`.
 */
typedef struct proto_resolve_resp {
	idn_slice handle;
	uint32_t nvalues;
	idn_slice values;
} proto_resolve_resp;

int proto_resolve_resp_decode(idn_slice body, proto_resolve_resp *r);

/* Error body (after any request digest): str message; an empty body is no message. */
int proto_error_decode(idn_slice body, idn_slice *message);

/*
 * Skips a leading request digest (u8 alg + digest) on a cursor over an answer
 * body that carries one (RD set on the answer). Fails on an unknown
 * algorithm. proto_answer_split() in proto/admin.h does the same on a slice.
 */
void proto_skip_digest(wire_rd *c);

/* Names, for logs and the CLI. */
const char *proto_op_name(uint32_t op);
const char *proto_rc_name(uint32_t rc);

#endif
