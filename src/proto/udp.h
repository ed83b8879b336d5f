/*
 * udp.h - Handle-protocol UDP framing: cutting a message into datagrams and
 * putting a multi-packet message back together (PROTOCOL.md, "Transports").
 *
 * A message longer than one packet travels as 492-byte chunks, each behind a
 * copy of the 20-byte envelope carrying its own sequence number (from 0), the
 * length of the WHOLE message, and the truncated flag (0x20) — set on every
 * datagram of a multi-packet message, as the newer reference software does. A
 * message that fits one packet is sent unchanged.
 *
 * Pure: no I/O. Fragmentation never copies the payload: each fragment is a
 * 20-byte envelope of its own plus a slice of the caller's buffer, so the net
 * layer points two iovecs at them (sendmmsg) and the payload is copied once,
 * by the kernel. Reassembly keeps a fixed number of slots; the only
 * allocation is one buffer per multi-packet message being reassembled,
 * bounded in total by a byte budget. Time is passed in by the caller (any
 * monotonic milliseconds), so expiry is testable without waiting.
 */
#ifndef IDN_PROTO_UDP_H
#define IDN_PROTO_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

enum {
	/* Datagrams of the largest message the protocol allows (533). */
	PROTO_UDP_MAX_PKTS = (PROTO_MSG_MAX + PROTO_UDP_CHUNK - 1) / PROTO_UDP_CHUNK,
	/* Longest peer key proto_udp_rasm_add() accepts (a sockaddr_in6 is 28). */
	PROTO_UDP_PEER_MAX = 32,
};

/* Datagrams needed for a message of msg_len bytes (envelope excluded); >= 1. */
size_t proto_udp_npackets(size_t msg_len);

/* ---- fragmentation ---- */

/*
 * One datagram: env followed by data[0 .. len). data borrows the answer
 * buffer given to proto_udp_fragment() and lives as long as it does.
 */
typedef struct proto_udp_frag {
	uint8_t env[PROTO_ENV_LEN];
	const uint8_t *data;
	uint32_t len;
} proto_udp_frag;

/*
 * Cuts a complete message (20-byte envelope + message, len bytes in all) into
 * datagrams, filling frags[0 .. n) and returning n (>= 1). A message whose
 * envelope and message fit PROTO_UDP_PKT bytes gives one fragment with the
 * envelope unchanged.
 *
 * Errors: IDN_ETRUNC if len < 20, IDN_EINVAL if the envelope's message length
 * is not len - 20 (the encoder and the framing disagree: a bug upstream),
 * IDN_ERANGE if the message exceeds PROTO_MSG_MAX, IDN_ESPACE if nfrags is
 * smaller than proto_udp_npackets(len - 20).
 */
int proto_udp_fragment(const uint8_t *msg, size_t len, proto_udp_frag *frags, size_t nfrags);

/* Writes one fragment as a contiguous datagram into out; returns its length. */
size_t proto_udp_frag_copy(const proto_udp_frag *f, uint8_t out[PROTO_UDP_PKT]);

/* ---- the answer budget (docs/security.md, "UDP: answer budget ...") ---- */

/*
 * Bytes a message of len bytes (envelope + message, as a handler writes it)
 * puts on the wire over UDP: its datagrams' payloads, each with its own
 * 20-byte envelope.
 */
static inline size_t proto_udp_wire_len(size_t len)
{
	size_t body = len > PROTO_ENV_LEN ? len - PROTO_ENV_LEN : 0;
	return body + PROTO_ENV_LEN * proto_udp_npackets(body);
}

/*
 * The most an answer to a request that put req_wire bytes on the wire (its
 * datagrams' payloads; proto_udp_wire_len() of the reassembled request when
 * they are not known) may put there: min(answer_max, ratio x req_wire).
 */
static inline size_t proto_udp_allowance(size_t answer_max, unsigned ratio, size_t req_wire)
{
	size_t by_ratio = (size_t)ratio * req_wire;
	return by_ratio < answer_max ? by_ratio : answer_max;
}

enum {
	PROTO_UDP_ANSWER_MAX_DEF = 1232, /* bytes, as DNS over UDP with EDNS (Knot, NSD) */
	PROTO_UDP_RATIO_DEF = 10,        /* answer bytes per request byte */
	/* The longest proto_udp_refusal() writes (a SHA-256 request digest, the message). */
	PROTO_UDP_REFUSAL_MAX = PROTO_ENV_LEN + PROTO_HDR_LEN + 1 + PROTO_DIGEST_MAX + 4 + 96 + 4,
};

/*
 * The short answer that stands for one the node will not send over UDP (over
 * the budget, or over the source's rate): response code 2 (RC_ERROR) and
 * text (at most 96 bytes are kept), which the reference client takes as a
 * failure of the UDP interface and asks again over TCP. It answers req
 * (envelope + message, reassembled): same request id, session id, op code,
 * recursion count and request digest (RD), in the version of env_like when
 * given (the real answer's envelope) or else the version the node answers
 * req in (the request's, capped at ours). Unsigned, never encrypted. Writes
 * at most PROTO_UDP_REFUSAL_MAX bytes to out and returns the length, or a
 * negative idn_err (IDN_ETRUNC: req has no envelope).
 */
int proto_udp_refusal(const uint8_t *req, size_t req_len, const uint8_t *env_like, const char *text,
                      uint8_t *out, size_t cap);

/*
 * The refusal that replaces an answer ans (ans_len bytes, envelope + message)
 * to req whose datagrams are over allow bytes: "answer of N bytes is over
 * this node's UDP limit; ask over TCP", in the answer's version. Returns its
 * length, or 0 when even the refusal is over allow (then nothing is sent).
 */
int proto_udp_oversize(const uint8_t *req, size_t req_len, const uint8_t *ans, size_t ans_len,
                       size_t allow, uint8_t out[PROTO_UDP_REFUSAL_MAX]);

/* ---- received datagrams ---- */

/*
 * Checks a datagram against its own envelope and decodes it into *env.
 * Returns 1 if the datagram is a whole message (sequence 0, payload length =
 * message length), 0 if it is a well-formed chunk of a multi-packet message
 * (sequence in range and exactly the payload length that position requires),
 * or a negative error: IDN_ETRUNC (shorter than an envelope), IDN_ERANGE
 * (message length over max_msg), IDN_EINVAL (anything else inconsistent).
 */
int proto_udp_check(const uint8_t *pkt, size_t len, size_t max_msg, proto_env *env);

/* ---- reassembly ---- */

struct proto_udp_slot;

/*
 * A fixed-size reassembly table, keyed by (peer, request id). The caller
 * allocates the struct (e.g. inside a per-thread context) and calls
 * proto_udp_rasm_init() / proto_udp_rasm_free(). Not thread-safe: one table
 * per thread.
 */
typedef struct proto_udp_rasm {
	struct proto_udp_slot *slots; /* nslots, owned */
	unsigned nslots;
	unsigned nused;
	size_t max_msg;   /* longest message accepted */
	size_t max_bytes; /* budget for all message buffers together */
	size_t bytes;     /* currently allocated message buffers */
	uint64_t timeout; /* an entry lives this long after its first datagram */
	int done;         /* slot returned complete by the last call, or -1 */
	struct {
		uint64_t completed; /* multi-packet messages reassembled */
		uint64_t expired;   /* entries dropped incomplete after the timeout */
		uint64_t dups;      /* datagrams already held */
		uint64_t rejected;  /* inconsistent with their entry or envelope */
		uint64_t full;      /* refused: no free slot or over the byte budget */
	} st;
} proto_udp_rasm;

/*
 * nslots entries at most, max_bytes for their buffers together (each holds
 * 20 + message length), messages up to max_msg (<= PROTO_MSG_MAX; 0 means
 * PROTO_MSG_MAX), entries expire timeout units (ms, say) after their first
 * datagram. Returns 0, IDN_EINVAL or IDN_ENOMEM.
 */
int proto_udp_rasm_init(proto_udp_rasm *r, unsigned nslots, size_t max_bytes, size_t max_msg,
                        uint64_t timeout);
/* Frees every buffer; the table may be initialised again. */
void proto_udp_rasm_free(proto_udp_rasm *r);

/*
 * Feeds one received datagram from peer (an opaque key of peer_len <=
 * PROTO_UDP_PEER_MAX bytes compared bytewise; NULL/0 when there is one peer,
 * as for a client waiting for one answer). now is the caller's clock, in the
 * unit of the timeout; entries whose time has come are dropped on the way.
 *
 * Returns 1 when a message is complete: *msg / *msg_len then give the whole
 * of it, a 20-byte envelope (the first datagram's, with sequence 0 and the
 * truncated flag cleared) followed by the message. For a single-packet
 * message *msg is pkt itself; otherwise it points into the table and stays
 * valid until the next call on the table (add, expire or free).
 *
 * Returns 0 when the datagram was taken (or was a duplicate) and the message
 * is still incomplete. Errors (the datagram is dropped, the table unchanged):
 * those of proto_udp_check(), IDN_EINVAL for a peer key that is too long,
 * IDN_EPROTO when the envelope disagrees with the entry already open for the
 * same (peer, request id) (another message length or version), IDN_EBUSY when
 * no slot is free or the byte budget is spent, IDN_ENOMEM.
 */
int proto_udp_rasm_add(proto_udp_rasm *r, const void *peer, size_t peer_len, const uint8_t *pkt,
                       size_t len, uint64_t now, const uint8_t **msg, size_t *msg_len);

/* Drops the entries whose time has come; returns how many. */
unsigned proto_udp_rasm_expire(proto_udp_rasm *r, uint64_t now);

/* Entries currently open (incomplete messages). */
static inline unsigned proto_udp_rasm_pending(const proto_udp_rasm *r)
{
	return r->nused;
}

#endif
