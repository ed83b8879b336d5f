/*
 * udp_io.c - the UDP path: recvmmsg a batch, hand each whole message to the
 * handler, sendmmsg the answers. Everything lives in per-worker buffers made
 * at start; the payload of an answer is written once by the handler and
 * copied once by the kernel (a multi-packet answer is two iovecs per
 * datagram: its own envelope and a slice of the answer).
 *
 * A multi-packet answer goes out as one message whose iovecs lay its
 * datagrams back to back, with a UDP_SEGMENT of PROTO_UDP_PKT bytes: the
 * kernel cuts it into exactly the datagrams one send each would have made
 * (every one 512 bytes, the last shorter), after one traversal of its stack
 * instead of one per datagram (UDP GSO, Linux 4.18). Where the kernel
 * refuses it (no UDP_SEGMENT, or EIO from a device without checksum
 * offload), the worker falls back to a send per datagram for good.
 *
 * Every answer is held to the UDP budget and every source prefix to its
 * answer rate here, whatever the handler answered (docs/security.md, "UDP:
 * answer budget and response rate limiting"): a few arithmetic operations
 * and, with the rate limit on, one compare-and-swap per request.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limit.h"
#include "net/internal.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h, 4.18 */
#endif

/* Whether this kernel knows UDP_SEGMENT (it came with the cmsg, in 4.18). */
static bool udp_gso_known(void)
{
	int v = 0, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(v);
	if (fd < 0)
		return false;
	bool ok = getsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &v, &len) == 0;
	close(fd);
	return ok;
}

int net_udp_init(struct net_worker *w)
{
	w->rmsg = calloc(NET_UDP_BATCH, sizeof(*w->rmsg));
	w->riov = calloc(NET_UDP_BATCH, sizeof(*w->riov));
	w->rname = calloc(NET_UDP_BATCH, sizeof(*w->rname));
	w->rbuf = malloc((size_t)NET_UDP_BATCH * NET_UDP_DGRAM_MAX);
	w->rctl = aligned_alloc(64, (size_t)NET_UDP_BATCH * NET_UDP_CTL);
	w->smsg = calloc(NET_UDP_OUT_PKTS, sizeof(*w->smsg));
	w->siov = calloc(2 * NET_UDP_OUT_PKTS, sizeof(*w->siov));
	w->sfrag = calloc(NET_UDP_OUT_PKTS, sizeof(*w->sfrag));
	w->sctl = aligned_alloc(64, (size_t)NET_UDP_OUT_PKTS * NET_UDP_SCTL);
	w->sgso = calloc(NET_UDP_OUT_PKTS, sizeof(*w->sgso));
	w->arena = malloc(NET_ARENA);
	if (!w->rmsg || !w->riov || !w->rname || !w->rbuf || !w->rctl || !w->smsg || !w->siov ||
	    !w->sfrag || !w->sctl || !w->sgso || !w->arena)
		return IDN_ENOMEM;
	w->gso = !w->s->cfg.udp_no_gso && udp_gso_known();
	size_t max = w->s->max_msg < PROTO_MSG_MAX ? w->s->max_msg : PROTO_MSG_MAX;
	return proto_udp_rasm_init(&w->rasm, NET_UDP_REASM_SLOTS, NET_UDP_REASM_BYTES, max,
	                           NET_UDP_REASM_MS);
}

void net_udp_fini(struct net_worker *w)
{
	proto_udp_rasm_free(&w->rasm);
	free(w->rmsg);
	free(w->riov);
	free(w->rname);
	free(w->rbuf);
	free(w->rctl);
	free(w->smsg);
	free(w->siov);
	free(w->sfrag);
	free(w->sctl);
	free(w->sgso);
	free(w->arena);
}

/*
 * Message m, segmented by the kernel, was refused with err: when it may be
 * the kernel saying no to UDP GSO, m's datagrams go one by one (its iovecs
 * in pairs, the pktinfo kept), and when they do, this worker stops asking.
 * When the first fails too, err was the peer's (EINVAL: source port 0), not
 * GSO's, which stays on. Returns the datagrams sent, or -1 when err is
 * something else (m is then skipped).
 */
static int udp_gso_refused(struct net_worker *w, struct net_sock *sk, unsigned m, int err,
                           uint64_t *bytes)
{
	if (err != EIO && err != EINVAL && err != ENOPROTOOPT && err != EOPNOTSUPP)
		return -1;
	struct msghdr one = w->smsg[m].msg_hdr;
	one.msg_controllen -= CMSG_SPACE(sizeof(uint16_t)); /* the pktinfo, first, stays */
	if (!one.msg_controllen)
		one.msg_control = NULL;
	const struct iovec *iov = w->smsg[m].msg_hdr.msg_iov;
	int sent = 0;
	for (unsigned j = 0; j < w->sgso[m]; j++) {
		one.msg_iov = (struct iovec *)iov + 2 * j;
		one.msg_iovlen = 2;
		ssize_t r = sendmsg(sk->fd, &one, MSG_DONTWAIT);
		if (r < 0)
			break;
		*bytes += (uint64_t)r;
		sent++;
	}
	if (sent)
		w->gso = false;
	return sent;
}

/* Hands the queued datagrams to the kernel and empties the arena. */
static void udp_flush(struct net_worker *w, struct net_sock *sk)
{
	unsigned off = 0, sent = 0, fail = 0, gso = 0;
	uint64_t bytes = 0;

	if (net_release(w) < 0) {
		fail = w->nfrag; /* they may have read writes that did not happen */
		off = w->nsend;
	}
	NET_ST_ADD(w, udp_answers, w->nsend_answers);
	while (off < w->nsend) {
		int n = sendmmsg(sk->fd, w->smsg + off, w->nsend - off, MSG_DONTWAIT);
		if (n > 0) {
			for (unsigned i = off; i < off + (unsigned)n; i++) {
				bytes += w->smsg[i].msg_len;
				sent += w->sgso[i] ? w->sgso[i] : 1;
				gso += w->sgso[i] != 0;
			}
			off += (unsigned)n;
			continue;
		}
		int err = errno;
		if (n < 0 && err == EINTR)
			continue;
		unsigned pkts = w->sgso[off] ? w->sgso[off] : 1;
		if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS)) {
			/* Send buffer full: drop the rest, as DNS servers do. */
			for (unsigned i = off; i < w->nsend; i++)
				fail += w->sgso[i] ? w->sgso[i] : 1;
			break;
		}
		int k = w->sgso[off] ? udp_gso_refused(w, sk, off, err, &bytes) : -1;
		/* This datagram is refused (e.g. unreachable peer): skip it. */
		sent += k > 0 ? (unsigned)k : 0;
		fail += k > 0 ? pkts - (unsigned)k : pkts;
		off++;
	}
	NET_ST_ADD(w, udp_pkts_out, sent);
	NET_ST_ADD(w, udp_bytes_out, bytes);
	if (gso)
		NET_ST_ADD(w, udp_gso, gso);
	if (fail)
		NET_ST_ADD(w, udp_send_fail, fail);
	w->nsend = 0;
	w->nfrag = 0;
	w->nsend_answers = 0;
	w->arena_used = 0;
}

/*
 * For a wildcard socket, turns the received IP(V6)_PKTINFO into the one that
 * makes the answer leave from the address the request came to; a multi-homed
 * host would otherwise answer from the routing table's choice, and the
 * client drop it. Rewritten in place: the kernel gave us the buffer.
 */
static socklen_t udp_reply_ctl(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(cm);
			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
			mh->msg_control = cm;
			return CMSG_SPACE(sizeof(*pi));
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			/* ipi6_addr and ipi6_ifindex are what the reply needs as they are. */
			mh->msg_control = cm;
			return CMSG_SPACE(sizeof(struct in6_pktinfo));
		}
	}
	return 0;
}

/* The reassembly key: which socket, which peer. */
static size_t udp_peer_key(const struct net_sock *sk, const struct sockaddr_storage *ss,
                           uint8_t key[PROTO_UDP_PEER_MAX])
{
	size_t n = 0;

	key[n++] = (uint8_t)(sk->listen_idx >> 8);
	key[n++] = (uint8_t)sk->listen_idx;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		memcpy(key + n, &a->sin6_port, 2);
		n += 2;
		memcpy(key + n, &a->sin6_addr, 16);
		n += 16;
		memcpy(key + n, &a->sin6_scope_id, 4);
		n += 4;
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		memcpy(key + n, &a->sin_port, 2);
		n += 2;
		memcpy(key + n, &a->sin_addr, 4);
		n += 4;
	}
	return n;
}

/*
 * A request from a source over its rate (rrl.h): no answer, except every
 * slip-th time the short RC_ERROR that sends the client to TCP, so that a
 * client sharing the prefix with a flood still gets through. Returns the
 * length written to out, 0 for none.
 */
static int udp_over_rate(struct net_worker *w, uint64_t prefix, const uint8_t *req, size_t len,
                         size_t wire, uint8_t *out, size_t cap)
{
	const struct net_server *s = w->s;
	net_rrl_hit(LIM_UDP_RATE, prefix, "answers over the rate limit per second of",
	            s->cfg.udp_rate_limit);
	if (!s->udp_slip || ++w->rate_over % s->udp_slip)
		return 0;
	int n = proto_udp_refusal(
	    req, len, NULL, "too many answers to your network over UDP; ask over TCP", out, cap);
	size_t allow = proto_udp_allowance(s->udp_answer_max, s->udp_ratio, wire);
	return n > 0 && proto_udp_wire_len((size_t)n) <= allow ? n : 0;
}

/*
 * An answer of n bytes at out whose datagrams would be over allow bytes:
 * replaced in place by the short RC_ERROR that sends the client to TCP, in
 * the answer's version. Returns its length, or 0 when even that is over.
 */
static int udp_over_budget(const struct sockaddr *peer, const uint8_t *req, size_t len,
                           uint8_t *out, size_t n, size_t allow)
{
	uint8_t refusal[PROTO_UDP_REFUSAL_MAX];

	net_rrl_hit(LIM_UDP_ANSWER_SIZE, net_rrl_prefix(peer), "answer over the UDP budget, bytes",
	            (unsigned long)proto_udp_wire_len(n));
	int r = proto_udp_oversize(req, len, out, n, allow, refusal);
	memcpy(out, refusal, (size_t)r);
	return r;
}

/*
 * The answer to a whole request from peer, whose datagrams carried wire
 * bytes, written to out: the handler's, within the source's rate and the
 * answer budget. 0: none; < 0: dropped.
 */
static int udp_answer(struct net_worker *w, const net_req *req, size_t wire, uint8_t *out,
                      size_t cap, uint64_t *requests)
{
	struct net_server *s = w->s;
	if (net_rrl_on(&s->rrl) && !net_rrl_exempt_match(&s->rrl, req->peer)) {
		uint64_t prefix = net_rrl_prefix(req->peer);
		if (!net_rrl_take(&s->rrl, prefix, w->now * 1000000))
			return udp_over_rate(w, prefix, req->msg, req->len, wire, out, cap);
	}
	net_batch_begin(w);
	(*requests)++;
	int n = s->cfg.handle(w->wctx, req, out, cap);
	if (n <= 0 || (size_t)n > cap)
		return n <= 0 ? n : -1;
	size_t allow = proto_udp_allowance(s->udp_answer_max, s->udp_ratio, wire);
	if (proto_udp_wire_len((size_t)n) > allow)
		return udp_over_budget(req->peer, req->msg, req->len, out, (size_t)n, allow);
	return n;
}

/*
 * Queues an answer (at out, already cut into k fragments at sfrag[nfrag..])
 * to name: one message of one iovec when it fits a datagram; else one
 * message per datagram (two iovecs each: envelope, slice), or, with GSO,
 * one message over all of them with the segment size in its control.
 */
static void udp_queue(struct net_worker *w, struct sockaddr_storage *name, socklen_t namelen,
                      void *ctl, socklen_t ctl_len, uint8_t *out, unsigned k)
{
	bool gso = k > 1 && k <= NET_UDP_GSO_SEGS && w->gso;
	unsigned f0 = w->nfrag;
	for (unsigned j = 0; j < k; j++) {
		unsigned f = w->nfrag++;
		struct iovec *iov = &w->siov[2 * f];
		const proto_udp_frag *fr = &w->sfrag[f];
		iov[0].iov_base = k == 1 ? out : (void *)fr->env;
		iov[0].iov_len = k == 1 ? PROTO_ENV_LEN + fr->len : PROTO_ENV_LEN;
		iov[1].iov_base = (void *)fr->data;
		iov[1].iov_len = fr->len;
		if (gso && j > 0)
			continue;
		unsigned s = w->nsend++;
		struct msghdr *mh = &w->smsg[s].msg_hdr;
		mh->msg_name = name;
		mh->msg_namelen = namelen;
		mh->msg_control = ctl;
		mh->msg_controllen = ctl_len;
		mh->msg_flags = 0;
		mh->msg_iov = iov;
		/* One datagram: one iovec over the answer as the handler wrote it. */
		mh->msg_iovlen = k == 1 ? 1 : 2;
		w->sgso[s] = 0;
	}
	if (!gso)
		return;
	unsigned s = w->nsend - 1;
	struct msghdr *mh = &w->smsg[s].msg_hdr;
	uint8_t *c = w->sctl + (size_t)s * NET_UDP_SCTL;
	if (ctl_len)
		memcpy(c, ctl, ctl_len);
	struct cmsghdr *cm = (struct cmsghdr *)(c + ctl_len);
	cm->cmsg_level = IPPROTO_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t seg = PROTO_UDP_PKT;
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	mh->msg_control = c;
	mh->msg_controllen = ctl_len + CMSG_SPACE(sizeof(uint16_t));
	mh->msg_iov = &w->siov[2 * f0];
	mh->msg_iovlen = 2 * k;
	w->sgso[s] = (uint16_t)k;
}

/* Handles datagram i of the batch; queues its answer. */
static void udp_one(struct net_worker *w, struct net_sock *sk, unsigned i, uint64_t *drops,
                    uint64_t *requests)
{
	struct mmsghdr *rm = &w->rmsg[i];
	const uint8_t *pkt = w->rbuf + (size_t)i * NET_UDP_DGRAM_MAX;
	size_t len = rm->msg_len;
	const uint8_t *msg = pkt;
	size_t msg_len = len;
	proto_env env;

	if (rm->msg_hdr.msg_flags & MSG_TRUNC) {
		(*drops)++;
		return;
	}
	int rc = proto_udp_check(pkt, len, w->s->max_msg, &env);
	if (rc == 0) {
		uint8_t key[PROTO_UDP_PEER_MAX];
		size_t klen = udp_peer_key(sk, &w->rname[i], key);
		rc = proto_udp_rasm_add(&w->rasm, key, klen, pkt, len, w->now, &msg, &msg_len);
		if (rc == 0)
			return; /* more datagrams to come */
	}
	if (rc < 0) {
		(*drops)++;
		return;
	}

	/* Room for the largest answer in the arena and in the send queue. */
	if (NET_ARENA - w->arena_used < NET_ANSWER_MAX ||
	    NET_UDP_OUT_PKTS - w->nfrag < PROTO_UDP_MAX_PKTS)
		udp_flush(w, sk);

	net_req req = {
	    .transport = NET_UDP,
	    .peer = (const struct sockaddr *)&w->rname[i],
	    .peer_len = rm->msg_hdr.msg_namelen,
	    .msg = msg,
	    .len = msg_len,
	    .udp_fd = sk->fd,
	};
	uint8_t *out = w->arena + w->arena_used;
	size_t cap = NET_ARENA - w->arena_used;
	/* A request in one datagram (even one over 512 bytes) carried len bytes. */
	size_t wire = msg == pkt ? len : proto_udp_wire_len(msg_len);
	int n = udp_answer(w, &req, wire, out, cap, requests);
	if (n == 0)
		return;
	if (n < 0) {
		(*drops)++;
		return;
	}
	int k =
	    proto_udp_fragment(out, (size_t)n, w->sfrag + w->nfrag, NET_UDP_OUT_PKTS - w->nfrag);
	if (k < 0) {
		(*drops)++;
		return;
	}
	w->arena_used += (size_t)n;

	struct msghdr *rh = &rm->msg_hdr;
	socklen_t ctl_len = 0;
	if (sk->pktinfo && !(rh->msg_flags & MSG_CTRUNC))
		ctl_len = udp_reply_ctl(rh);
	udp_queue(w, &w->rname[i], rh->msg_namelen, ctl_len ? rh->msg_control : NULL, ctl_len, out,
	          (unsigned)k);
	w->nsend_answers++;
}

/*
 * Makes rmsg's first count headers ready for recvmmsg on sk: the kernel
 * writes only the lengths and flags of the datagrams it returns (and
 * udp_reply_ctl moves msg_control), so after a batch of n only those n are
 * set again, not the whole batch; all of them when the socket changes.
 */
static void udp_rmsg_reset(struct net_worker *w, const struct net_sock *sk)
{
	unsigned count = w->rsk == sk ? w->rdirty : NET_UDP_BATCH;

	for (unsigned i = 0; i < count; i++) {
		struct msghdr *mh = &w->rmsg[i].msg_hdr;
		w->riov[i].iov_base = w->rbuf + (size_t)i * NET_UDP_DGRAM_MAX;
		w->riov[i].iov_len = NET_UDP_DGRAM_MAX;
		mh->msg_iov = &w->riov[i];
		mh->msg_iovlen = 1;
		mh->msg_name = &w->rname[i];
		mh->msg_namelen = sizeof(w->rname[i]);
		mh->msg_control = sk->pktinfo ? w->rctl + (size_t)i * NET_UDP_CTL : NULL;
		mh->msg_controllen = sk->pktinfo ? NET_UDP_CTL : 0;
		mh->msg_flags = 0;
	}
	w->rsk = sk;
	w->rdirty = 0;
}

void net_udp_drain(struct net_worker *w, struct net_sock *sk)
{
	for (int round = 0; round < NET_UDP_ROUNDS; round++) {
		uint64_t drops = 0, requests = 0, bytes = 0;

		udp_rmsg_reset(w, sk);
		int n = recvmmsg(sk->fd, w->rmsg, NET_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN, or an error queued by ICMP: nothing to read now */
		}
		w->rdirty = (unsigned)n;
		for (int i = 0; i < n; i++) {
			bytes += w->rmsg[i].msg_len;
			udp_one(w, sk, (unsigned)i, &drops, &requests);
		}
		/* Counted before the answers leave, so a client that has one sees them. */
		NET_ST_ADD(w, udp_pkts_in, n);
		NET_ST_ADD(w, udp_bytes_in, bytes);
		NET_ST_ADD(w, udp_requests, requests);
		NET_ST_ADD(w, udp_drops, drops);
		__atomic_store_n(&w->st.udp_reasm_pending, proto_udp_rasm_pending(&w->rasm),
		                 __ATOMIC_RELAXED);
		udp_flush(w, sk);
		if (n < NET_UDP_BATCH)
			break; /* drained: epoll says when there is more */
	}
}
