/*
 * cred.h - the credential section that ends a signed message (the bytes after
 * the message's int4 credential length, i.e. proto_msg.cred).
 *
 *   u8 version (0), u8 reserved (0), int2 options,
 *   str signer handle, int4 signer index (the session counter in HS_MAC),
 *   str type ("HS_SIGNED" | "HS_MAC"),
 *   int4 signed-section length, then the section:
 *     str hash algorithm ("SHA1", "SHA256", HMAC names, or below 2.6 a
 *     one-byte hash code), bytes signature.
 *
 * Codec only: computing or checking the signature is the auth module's job.
 * Below 2.7 the reference signs header + body (the message bytes 0 ..
 * 24 + bodyLength: no envelope, no credential length); from 2.7 the signed
 * data also starts with version bytes, session id, request id and counter.
 * Pure, allocation-free; slices borrow the caller's buffer.
 */
#ifndef IDN_PROTO_CRED_H
#define IDN_PROTO_CRED_H

#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

#define PROTO_CRED_SIGNED "HS_SIGNED"
#define PROTO_CRED_MAC    "HS_MAC"

typedef struct proto_cred {
	uint8_t version;  /* 0 */
	uint8_t reserved; /* 0 */
	uint16_t options;
	idn_slice signer;      /* empty in the reference's server signatures */
	uint32_t signer_index; /* session counter for HS_MAC */
	idn_slice type;        /* PROTO_CRED_SIGNED | PROTO_CRED_MAC */
	idn_slice section;     /* the whole signed section, raw (decode only) */
	idn_slice hash_alg;
	idn_slice sig;
} proto_cred;

/*
 * Decodes a credential section. Bytes after the signature inside the signed
 * section, and after the section, are tolerated. IDN_ETRUNC / IDN_EINVAL on
 * anything that does not fit.
 */
int proto_cred_decode(idn_slice cred, proto_cred *c);

/*
 * Writes a credential section from version .. type, hash_alg and sig
 * (c->section is ignored: the section is rebuilt from hash_alg and sig).
 * The result is what proto_build_end() takes as cred/cred_len.
 */
void proto_cred_put(wire_wr *w, const proto_cred *c);
/* Bytes proto_cred_put() writes for c. */
size_t proto_cred_size(const proto_cred *c);

#endif
