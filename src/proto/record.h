/*
 * record.h - what the store holds for one identifier.
 *
 * A record is the identifier's values in wire encoding, so that a resolution
 * is a lookup plus a copy:
 *
 *   u8  version (RECORD_VERSION)
 *   u8  flags   (RECORD_F_*)
 *   u16 reserved (0)
 *   u32 value count          <- from here on, exactly the value[] of an answer
 *   value × count            (proto_value wire encoding, in storage order)
 *
 * RECORD_F_ALL_PUBLIC says every value is publicly readable, so an anonymous
 * resolution without filters copies the record without looking at a value.
 */
#ifndef IDN_PROTO_RECORD_H
#define IDN_PROTO_RECORD_H

#include "proto/proto.h"

enum { RECORD_VERSION = 1, RECORD_HDR_LEN = 4 };
enum { RECORD_F_ALL_PUBLIC = 0x01 };

typedef struct record {
	uint8_t flags;
	uint32_t nvalues;
	idn_slice values;  /* the encoded values, borrowed */
	idn_slice counted; /* u32 count + values: an answer's value[] as is */
} record;

/* Parses a stored record's header (cheap: the values are not walked). */
int record_parse(idn_slice raw, record *r);

/* Checks a whole record: the header, and every value decodes exactly. */
int record_check(idn_slice raw);

/* Encodes values into a record. Returns the length or IDN_ESPACE / IDN_EINVAL. */
int record_build(const proto_value *vals, uint32_t n, uint8_t *out, size_t cap);

/* Size record_build() needs. */
size_t record_size(const proto_value *vals, uint32_t n);

/*
 * Records too big to serve. A resolution answer is one Handle message
 * (PROTO_MSG_MAX) on every transport: UDP fragments it, TCP frames it, and
 * HTTP makes its JSON from it. It holds the header, the request digest, the
 * handle, the values (the record less its header) and a credential (a
 * signature, or a session MAC and the encryption's padding);
 * RECORD_ANSWER_RESERVE covers all of it but the handle and the values.
 */
enum { RECORD_ANSWER_RESERVE = 4096 };

/* The largest record (record_size) whose answer for a handle of hlen bytes fits a message. */
static inline size_t record_servable_max(size_t hlen)
{
	return PROTO_MSG_MAX - RECORD_ANSWER_RESERVE - 4 - hlen + RECORD_HDR_LEN;
}

/* That, lowered to max when max is not 0 (a setting). */
static inline size_t record_write_max(size_t hlen, size_t max)
{
	size_t servable = record_servable_max(hlen);
	return max && max < servable ? max : servable;
}

#endif
