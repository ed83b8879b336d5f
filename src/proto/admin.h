/*
 * admin.h - the bodies of the administrative, authentication and session
 * opcodes, and of referral answers: everything in the opcode table of
 * PROTOCOL.md beyond resolution and site info.
 *
 * Pure and allocation-free: decoders fill structs of slices borrowing the
 * body (valid as long as the message buffer is); lists stay raw and are
 * walked with iterators (1 = item, 0 = end, negative = idn_err). Every decoder
 * checks every length against the body, rejects counts that cannot fit, and
 * tolerates bytes after the body's last field (some clients send them).
 * Encoders write through a wire_wr (sticky IDN_ESPACE).
 *
 * Answer decoders take the body *after* any request digest: use
 * proto_answer_split() first when the answer has RD set. The 402 challenge is
 * the exception: its digest is part of what it says, so proto_challenge_*
 * handle it themselves.
 */
#ifndef IDN_PROTO_ADMIN_H
#define IDN_PROTO_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "proto/proto.h"

/* ---- helpers ---- */

/*
 * Splits an answer body into its request digest (when rd, i.e. PROTO_F_RD is
 * set on the answer) and the rest. alg/digest may be NULL. IDN_EINVAL for an
 * unknown digest algorithm, IDN_ETRUNC when the digest does not fit.
 */
int proto_answer_split(idn_slice body, bool rd, uint8_t *alg, idn_slice *digest, idn_slice *rest);

/*
 * A length-prefixed section whose length is known only once written:
 *   uint8_t *l = proto_put_len_begin(w); ...write...; proto_put_len_end(w, l);
 */
static inline uint8_t *proto_put_len_begin(wire_wr *w)
{
	return wire_put_raw(w, 4);
}
static inline void proto_put_len_end(wire_wr *w, uint8_t *len_pos)
{
	if (len_pos && w->err == IDN_OK)
		idn_put_be32(len_pos, (uint32_t)(w->pos - len_pos - 4));
}

/* int4 n + n values. */
void proto_put_values(wire_wr *w, const proto_value *values, uint32_t n);

/* ---- 101 delete, 105 list handles, 106 list NAs, 300 home, 301 unhome,
 *      302 list homed, 401 session terminate: str handle ---- */

int proto_handle_req_decode(idn_slice body, idn_slice *handle);
static inline void proto_handle_req_encode(wire_wr *w, idn_slice handle)
{
	wire_put_slice(w, handle);
}

/* ---- 100 create, 102 add, 104 modify: str handle, value[] ---- */

typedef struct proto_values_req {
	idn_slice handle;
	uint32_t nvalues;
	idn_slice values; /* raw: iterate with proto_value_get() */
} proto_values_req;

int proto_values_req_decode(idn_slice body, proto_values_req *r);
void proto_values_req_encode(wire_wr *w, idn_slice handle, const proto_value *values, uint32_t n);
/* The same from values already in wire encoding (as the store keeps them). */
void proto_values_req_encode_raw(wire_wr *w, idn_slice handle, uint32_t n, idn_slice raw);

/*
 * Finds an index used twice within one request. The reference answers these
 * with 201 "Index conflict for N" before any challenge; it scans
 *   for i: [index_i <= 0 -> 202 "indexes must be positive"];
 *          for j > i: index_i == index_j -> 201 for that index
 * so the conflict it reports is the first value, in request order, whose
 * index appears again later. This returns 1 with *pos (that value's position)
 * and *index set, 0 when all indexes differ, or a negative idn_err for
 * malformed values. The caller compares *pos with the first non-positive
 * index to reproduce the reference's choice between 202 and 201.
 *
 * scratch: room for 2 * nvalues uint32_t makes this O(n log n); with NULL (or
 * too little room) it falls back to the quadratic scan.
 */
int proto_values_find_dup(idn_slice values, uint32_t nvalues, uint32_t *scratch, size_t scratch_len,
                          uint32_t *pos, uint32_t *index);

/* Create answer: empty, or (with MINT) str minted handle. Empty body -> empty handle. */
int proto_create_resp_decode(idn_slice body, idn_slice *handle);
static inline void proto_create_resp_encode(wire_wr *w, idn_slice minted)
{
	wire_put_slice(w, minted);
}

/* ---- 103 remove value: str handle, int4[] indexes ---- */

typedef struct proto_remove_req {
	idn_slice handle;
	uint32_t nindexes;
	const uint8_t *indexes; /* nindexes x int4, raw: read with proto_index_at() */
} proto_remove_req;

int proto_remove_req_decode(idn_slice body, proto_remove_req *r);
void proto_remove_req_encode(wire_wr *w, idn_slice handle, const uint32_t *indexes, uint32_t n);

static inline uint32_t proto_index_at(const uint8_t *indexes, uint32_t i)
{
	return idn_be32(indexes + (size_t)i * 4);
}

/* ---- 105 / 106 / 302 answers: int4 n, str x n ---- */

typedef struct proto_list_resp {
	uint32_t n;
	idn_slice names; /* raw: walk with proto_list_next() */
} proto_list_resp;

int proto_list_resp_decode(idn_slice body, proto_list_resp *r);
static inline wire_rd proto_list_names(const proto_list_resp *r)
{
	return wire_rd_init(r->names.p, r->names.len);
}
int proto_list_next(wire_rd *it, idn_slice *name);
void proto_list_resp_encode(wire_wr *w, const idn_slice *names, uint32_t n);
/*
 * How many of names[0..n) fit in one answer body of at most room bytes, for
 * splitting a long list over several messages (all but the last with CN).
 * At least 1 when n > 0, even if that one is too big (the caller then fails
 * with IDN_ESPACE rather than looping).
 */
uint32_t proto_list_fit(const idn_slice *names, uint32_t n, size_t room);

/* ---- 2001 login (the national system's, IDIS.md section 1) ---- */

/*
 * Body: str identity handle, int4 index of its key; id-pointer-sdk stops
 * there, ID-SDK appends a credential length (int4, 0) and so may any
 * client the bytes it counts. Anything else after the index, or a length
 * that overruns the body, is malformed (IDN_EINVAL / the cursor's error).
 */
typedef struct proto_login_req {
	idn_slice handle;
	uint32_t index;
	bool cred_len; /* the trailing int4 was there (ID-SDK's form) */
} proto_login_req;

int proto_login_req_decode(idn_slice body, proto_login_req *r);
void proto_login_req_encode(wire_wr *w, const proto_login_req *r);

/* ---- 200 challenge response ---- */

typedef struct proto_chresp {
	idn_slice auth_type; /* "HS_PUBKEY" | "HS_SECKEY" */
	idn_slice handle;    /* identity handle */
	uint32_t index;      /* identity index */
	idn_slice signed_resp;
} proto_chresp;

int proto_chresp_decode(idn_slice body, proto_chresp *r);
void proto_chresp_encode(wire_wr *w, const proto_chresp *r);

/* HS_PUBKEY signed response: str hash algorithm, bytes signature. */
typedef struct proto_sig_resp {
	idn_slice hash_alg; /* "SHA1", "SHA-256" / "SHA256", "SM3" (as sent) */
	idn_slice sig;
} proto_sig_resp;

int proto_sig_resp_decode(idn_slice signed_resp, proto_sig_resp *s);
/* Writes the signed-response content (not its own length prefix). */
void proto_sig_resp_put(wire_wr *w, const proto_sig_resp *s);

/* HS_SECKEY signed response: u8 algorithm, then per algorithm. */
enum {
	PROTO_SECKEY_MD5 = 0x01,         /* MD5(key | nonce | digest | key), 16 bytes */
	PROTO_SECKEY_SHA1 = 0x02,        /* legacy: SHA1(key | nonce | digest | key), 20 bytes */
	PROTO_SECKEY_SHA256 = 0x03,      /* SHA256(key | nonce | digest | key), 32 bytes */
	PROTO_SECKEY_HMAC_SHA1 = 0x12,   /* HMAC-SHA1(key, nonce | digest), 20 bytes */
	PROTO_SECKEY_HMAC_SHA256 = 0x13, /* HMAC-SHA256(key, nonce | digest), 32 bytes */
	PROTO_SECKEY_PBKDF2 = 0x22,      /* bytes salt, int4 iterations, int4 key bits, bytes mac */
};

typedef struct proto_seckey_resp {
	uint8_t alg;
	idn_slice mac;       /* raw MAC (all forms) */
	idn_slice salt;      /* PBKDF2 only */
	uint32_t iterations; /* PBKDF2 only */
	uint32_t key_bits;   /* PBKDF2 only (160 from the reference) */
} proto_seckey_resp;

/*
 * The MAC of the fixed-length forms must have its algorithm's length
 * (IDN_EINVAL otherwise); an unknown algorithm gives IDN_ENOTSUP with alg set
 * and the remaining bytes in mac. (Below protocol 2.1 the reference sent a
 * bare MD5 MAC with no algorithm byte; that form is not recognised here.)
 */
int proto_seckey_resp_decode(idn_slice signed_resp, proto_seckey_resp *s);
void proto_seckey_resp_put(wire_wr *w, const proto_seckey_resp *s);

/* ---- 201 verify response ---- */

typedef struct proto_verify_req {
	idn_slice handle;
	uint32_t index;
	idn_slice nonce;
	/*
	 * The request digest: digest_alg 0 is the length-prefixed form (bytes
	 * digest; the reference says it is "the only format currently in use"),
	 * otherwise u8 algorithm (PROTO_HASH_*) + raw digest.
	 */
	uint8_t digest_alg;
	idn_slice digest;
	idn_slice signed_resp;
} proto_verify_req;

int proto_verify_req_decode(idn_slice body, proto_verify_req *r);
void proto_verify_req_encode(wire_wr *w, const proto_verify_req *r);

/* Answer (after the digest): u8, bit 0x01 set when the response was valid. */
int proto_verify_resp_decode(idn_slice body, bool *valid);
static inline void proto_verify_resp_encode(wire_wr *w, bool valid)
{
	wire_put_u8(w, valid ? 1 : 0);
}

/* ---- 402 authentication needed: [u8 hash + digest] bytes nonce ---- */

typedef struct proto_challenge {
	uint8_t hash;     /* PROTO_HASH_*; 0 when the answer carries no digest */
	idn_slice digest; /* digest of the original request's header + body */
	idn_slice nonce;  /* 16 bytes from the reference */
} proto_challenge;

/*
 * rd: PROTO_F_RD on the answer (the reference always sets it on a 402).
 * The pre-2.1 form (bytes nonce, bytes digest) is not decoded.
 */
int proto_challenge_decode(idn_slice body, bool rd, proto_challenge *c);
/* Writes the digest (when c->hash != 0) and the nonce. */
void proto_challenge_encode(wire_wr *w, const proto_challenge *c);

/* ---- 400 session setup, 402 key exchange ---- */

/* Key exchange modes. */
enum {
	PROTO_KX_NONE = 0,
	PROTO_KX_CIPHER_CLIENT = 1, /* client's public key follows */
	PROTO_KX_CIPHER_SERVER = 2, /* server's key: nothing follows */
	PROTO_KX_CIPHER_HDL = 3,    /* str handle + int4 index of the exchange key */
	PROTO_KX_DH = 4,            /* client's DH_PUB_KEY follows */
};

typedef struct proto_session_req {
	uint16_t mode; /* PROTO_KX_* */
	uint32_t timeout;
	idn_slice identity;
	uint32_t identity_index;
	idn_slice pubkey;     /* CIPHER_CLIENT, DH: HS_PUBKEY-encoded key */
	idn_slice key_handle; /* CIPHER_HDL */
	uint32_t key_index;   /* CIPHER_HDL */
} proto_session_req;

/*
 * The reference encoder counts the mode as an int4 in bodyLength but writes
 * it as an int2, so its bodies end with 2 spare zero bytes (x98). Decoding
 * reads the int2, as the reference decoder does, and ignores what follows.
 */
int proto_session_req_decode(idn_slice body, proto_session_req *r);
/* Writes the body as the reference does, the 2 spare zero bytes included. */
void proto_session_req_encode(wire_wr *w, const proto_session_req *r);

/*
 * Session setup answer (after the digest): int2 mode + bytes data, plus the
 * same 2 spare bytes from the reference encoder. What data holds depends on
 * the mode (for DH, PROTOCOL.md: the cipher algorithm and the server's DH
 * public key); it is left raw here.
 */
typedef struct proto_session_resp {
	uint16_t mode;
	idn_slice data;
} proto_session_resp;

int proto_session_resp_decode(idn_slice body, proto_session_resp *r);
void proto_session_resp_encode(wire_wr *w, const proto_session_resp *r);

/* Opcode 402 (key exchange) request: bytes encrypted session key. */
static inline int proto_exchange_key_decode(idn_slice body, idn_slice *key)
{
	return proto_handle_req_decode(body, key);
}

/* ---- 302 / 303 referral: str handle (may be empty), then value[] ---- */

/*
 * Same shape as a resolution answer, decoded into the same struct. The
 * reference decoder also accepts a referral that ends after the handle: that
 * reads as no values.
 */
int proto_referral_decode(idn_slice body, proto_resolve_resp *r);
void proto_referral_encode(wire_wr *w, idn_slice handle, uint32_t nvalues, idn_slice raw_values);

#endif
