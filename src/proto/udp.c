/* udp.c - cutting Handle messages into datagrams and reassembling them (see udp.h). */
#include "proto/udp.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* One bit per datagram of the largest message. */
enum { RASM_MAP_WORDS = (PROTO_UDP_MAX_PKTS + 63) / 64 };

struct proto_udp_slot {
	bool used;
	uint8_t peer_len;
	uint8_t peer[PROTO_UDP_PEER_MAX];
	uint32_t request_id;
	uint32_t msg_len;
	uint32_t npkts;
	uint32_t nrecv;
	uint64_t deadline;
	uint8_t *buf; /* envelope + message */
	uint64_t map[RASM_MAP_WORDS];
};

size_t proto_udp_npackets(size_t msg_len)
{
	if (msg_len <= PROTO_UDP_CHUNK)
		return 1;
	return (msg_len + PROTO_UDP_CHUNK - 1) / PROTO_UDP_CHUNK;
}

int proto_udp_fragment(const uint8_t *msg, size_t len, proto_udp_frag *frags, size_t nfrags)
{
	proto_env env;

	if (proto_env_decode(msg, len, &env) != IDN_OK)
		return IDN_ETRUNC;
	size_t body = len - PROTO_ENV_LEN;
	if (env.msg_len != body)
		return IDN_EINVAL;
	if (body > PROTO_MSG_MAX)
		return IDN_ERANGE;
	size_t n = proto_udp_npackets(body);
	if (nfrags < n)
		return IDN_ESPACE;

	if (n == 1) {
		memcpy(frags[0].env, msg, PROTO_ENV_LEN);
		frags[0].data = msg + PROTO_ENV_LEN;
		frags[0].len = (uint32_t)body;
		return 1;
	}
	env.flags |= PROTO_ENV_TRUNCATED;
	for (size_t i = 0; i < n; i++) {
		size_t off = i * PROTO_UDP_CHUNK;
		size_t left = body - off;

		env.seq = (uint32_t)i;
		proto_env_encode(&env, frags[i].env);
		frags[i].data = msg + PROTO_ENV_LEN + off;
		frags[i].len = (uint32_t)(left < PROTO_UDP_CHUNK ? left : PROTO_UDP_CHUNK);
	}
	return (int)n;
}

size_t proto_udp_frag_copy(const proto_udp_frag *f, uint8_t out[PROTO_UDP_PKT])
{
	memcpy(out, f->env, PROTO_ENV_LEN);
	if (f->len)
		memcpy(out + PROTO_ENV_LEN, f->data, f->len);
	return PROTO_ENV_LEN + (size_t)f->len;
}

int proto_udp_refusal(const uint8_t *req, size_t req_len, const uint8_t *env_like, const char *text,
                      uint8_t *out, size_t cap)
{
	proto_env renv, env;
	proto_msg m;

	if (proto_env_decode(req, req_len, &renv) != IDN_OK)
		return IDN_ETRUNC;
	if (env_like) {
		proto_env_decode(env_like, PROTO_ENV_LEN, &env);
	} else {
		uint8_t minor = renv.minor;
		if (renv.major != PROTO_MAJOR || minor > PROTO_MINOR_MAX)
			minor = PROTO_MINOR_MAX;
		else if (minor < PROTO_MINOR_MIN)
			minor = PROTO_MINOR_MIN;
		env = (proto_env){
		    .major = PROTO_MAJOR, .minor = minor, .sugg_minor = PROTO_MINOR_MAX};
		env.flags = PROTO_MAJOR & PROTO_ENV_SUGG_MAJOR_MASK;
	}
	env.flags &= PROTO_ENV_SUGG_MAJOR_MASK; /* one plain datagram */
	env.session_id = renv.session_id;
	env.request_id = renv.request_id;
	env.seq = 0;

	/* The request's header, unless it cannot be read (encrypted, cut short). */
	bool readable =
	    !(renv.flags & (PROTO_ENV_ENCRYPTED | PROTO_ENV_COMPRESSED)) &&
	    proto_msg_decode(req + PROTO_ENV_LEN, req_len - PROTO_ENV_LEN, &m) == IDN_OK;
	const uint32_t echo = PROTO_F_CA | PROTO_F_PO | PROTO_F_RD;
	proto_hdr hdr = {
	    .rcode = PROTO_RC_ERROR,
	    .flags = PROTO_F_AT | PROTO_F_REC,
	    .site_serial = 0xFFFF,
	};
	if (readable) {
		hdr.opcode = m.hdr.opcode;
		hdr.flags |= m.hdr.flags & echo;
		hdr.recursion = m.hdr.recursion;
		hdr.expiration = m.hdr.expiration;
	}
	size_t tlen = strlen(text);
	if (tlen > 96)
		tlen = 96;
	proto_build b;
	proto_build_begin(&b, out, cap, &env, &hdr);
	if (hdr.flags & PROTO_F_RD)
		proto_put_digest(&b.w, proto_digest_alg(env.major, env.minor), m.hb);
	wire_put_lbytes(&b.w, text, tlen);
	return proto_build_end(&b, NULL, 0);
}

int proto_udp_oversize(const uint8_t *req, size_t req_len, const uint8_t *ans, size_t ans_len,
                       size_t allow, uint8_t out[PROTO_UDP_REFUSAL_MAX])
{
	char text[96];
	snprintf(text, sizeof(text),
	         "answer of %zu bytes is over this node's UDP limit; ask over TCP",
	         proto_udp_wire_len(ans_len));
	int n = proto_udp_refusal(req, req_len, ans_len >= PROTO_ENV_LEN ? ans : NULL, text, out,
	                          PROTO_UDP_REFUSAL_MAX);
	return n > 0 && proto_udp_wire_len((size_t)n) <= allow ? n : 0;
}

int proto_udp_check(const uint8_t *pkt, size_t len, size_t max_msg, proto_env *env)
{
	if (proto_env_decode(pkt, len, env) != IDN_OK)
		return IDN_ETRUNC;
	if (env->msg_len > max_msg)
		return IDN_ERANGE;
	size_t payload = len - PROTO_ENV_LEN;
	/*
	 * A whole message in one datagram, even one longer than 492 bytes: a
	 * client that does not fragment is understood, and no real chunk can
	 * look like this (a first chunk is 492 bytes of a longer message).
	 */
	if (env->seq == 0 && payload == env->msg_len)
		return 1;
	/* A chunk: nothing but its sequence number says where it goes. */
	size_t n = proto_udp_npackets(env->msg_len);
	if (n < 2 || env->seq >= n)
		return IDN_EINVAL;
	size_t want = env->seq == n - 1 ? env->msg_len - (size_t)env->seq * PROTO_UDP_CHUNK
	                                : (size_t)PROTO_UDP_CHUNK;
	return payload == want ? 0 : IDN_EINVAL;
}

int proto_udp_rasm_init(proto_udp_rasm *r, unsigned nslots, size_t max_bytes, size_t max_msg,
                        uint64_t timeout)
{
	memset(r, 0, sizeof(*r));
	r->done = -1;
	if (nslots == 0 || max_msg > PROTO_MSG_MAX)
		return IDN_EINVAL;
	r->slots = calloc(nslots, sizeof(*r->slots));
	if (!r->slots)
		return IDN_ENOMEM;
	r->nslots = nslots;
	r->max_bytes = max_bytes;
	r->max_msg = max_msg ? max_msg : PROTO_MSG_MAX;
	r->timeout = timeout;
	return IDN_OK;
}

static void rasm_release(proto_udp_rasm *r, struct proto_udp_slot *s)
{
	r->bytes -= PROTO_ENV_LEN + (size_t)s->msg_len;
	free(s->buf);
	s->buf = NULL;
	s->used = false;
}

/* Frees the slot handed out complete by the previous call. */
static void rasm_retire_done(proto_udp_rasm *r)
{
	if (r->done >= 0) {
		rasm_release(r, &r->slots[r->done]);
		r->done = -1;
	}
}

void proto_udp_rasm_free(proto_udp_rasm *r)
{
	if (!r->slots)
		return;
	for (unsigned i = 0; i < r->nslots; i++)
		free(r->slots[i].buf);
	free(r->slots);
	memset(r, 0, sizeof(*r));
	r->done = -1;
}

unsigned proto_udp_rasm_expire(proto_udp_rasm *r, uint64_t now)
{
	unsigned n = 0;

	rasm_retire_done(r);
	for (unsigned i = 0; i < r->nslots && r->nused > 0; i++) {
		struct proto_udp_slot *s = &r->slots[i];
		if (s->used && now >= s->deadline) {
			rasm_release(r, s);
			r->nused--;
			n++;
		}
	}
	r->st.expired += n;
	return n;
}

int proto_udp_rasm_add(proto_udp_rasm *r, const void *peer, size_t peer_len, const uint8_t *pkt,
                       size_t len, uint64_t now, const uint8_t **msg, size_t *msg_len)
{
	proto_env env;
	struct proto_udp_slot *s = NULL, *fresh = NULL;

	rasm_retire_done(r);
	if (peer_len > PROTO_UDP_PEER_MAX)
		return IDN_EINVAL;
	int rc = proto_udp_check(pkt, len, r->max_msg, &env);
	if (rc < 0) {
		r->st.rejected++;
		return rc;
	}
	if (rc == 1) {
		*msg = pkt;
		*msg_len = len;
		return 1;
	}

	/*
	 * One pass finds the entry, a free slot, and drops stale entries: the
	 * table is small and this path is taken only by multi-packet messages.
	 */
	for (unsigned i = 0; i < r->nslots; i++) {
		struct proto_udp_slot *t = &r->slots[i];
		if (t->used && now >= t->deadline) {
			rasm_release(r, t);
			r->nused--;
			r->st.expired++;
		}
		if (!t->used) {
			if (!fresh)
				fresh = t;
			continue;
		}
		if (!s && t->request_id == env.request_id && t->peer_len == peer_len &&
		    (peer_len == 0 || memcmp(t->peer, peer, peer_len) == 0))
			s = t;
	}

	if (s) {
		if (s->msg_len != env.msg_len || s->buf[0] != env.major || s->buf[1] != env.minor) {
			r->st.rejected++;
			return IDN_EPROTO;
		}
	} else {
		size_t need = PROTO_ENV_LEN + (size_t)env.msg_len;
		if (!fresh || r->bytes + need > r->max_bytes) {
			r->st.full++;
			return IDN_EBUSY;
		}
		uint8_t *buf = malloc(need);
		if (!buf)
			return IDN_ENOMEM;
		s = fresh;
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->peer_len = (uint8_t)peer_len;
		if (peer_len)
			memcpy(s->peer, peer, peer_len);
		s->request_id = env.request_id;
		s->msg_len = env.msg_len;
		s->npkts = (uint32_t)proto_udp_npackets(env.msg_len);
		s->deadline = now + r->timeout;
		s->buf = buf;
		/* The handler sees what a TCP client would have sent. */
		proto_env head = env;
		head.seq = 0;
		head.flags &= (uint8_t)~PROTO_ENV_TRUNCATED;
		proto_env_encode(&head, buf);
		r->bytes += need;
		r->nused++;
	}

	uint64_t bit = (uint64_t)1 << (env.seq % 64);
	if (s->map[env.seq / 64] & bit) {
		r->st.dups++;
		return 0;
	}
	s->map[env.seq / 64] |= bit;
	memcpy(s->buf + PROTO_ENV_LEN + (size_t)env.seq * PROTO_UDP_CHUNK, pkt + PROTO_ENV_LEN,
	       len - PROTO_ENV_LEN);
	if (++s->nrecv < s->npkts)
		return 0;

	r->nused--;
	r->done = (int)(s - r->slots);
	r->st.completed++;
	*msg = s->buf;
	*msg_len = PROTO_ENV_LEN + (size_t)s->msg_len;
	return 1;
}
