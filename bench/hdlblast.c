/*
 * hdlblast.c - Handle-protocol (and DNS, for the anchors) load generator.
 *
 * Same technique as the anchors' udpblast, so figures compare: requests are
 * pre-encoded once, UDP goes out and comes back in sendmmsg/recvmmsg batches
 * over several connected sockets per thread, each request carries a unique
 * request id so its answer is matched (O(1), by slot) and timed with
 * CLOCK_MONOTONIC. Latencies go into a log-linear histogram (no per-sample
 * allocation). Every loop is bounded: the run stops itself after -l seconds,
 * drains for at most the timeout, and exits.
 *
 * usage: hdlblast -f QUERYFILE [-m udp|tcp|tcp1|dnsudp|dnstcp] [-s HOST] [-p PORT]
 *                 [-l SECS] [-t THREADS] [-k SOCKETS] [-c OUTSTANDING] [-w WINDOW]
 *                 [-b BATCH] [-r RATE] [-v MINOR] [-T TIMEOUT_MS] [-u WARMUP_SECS]
 *                 [-F OPFLAGS] [-e EDNS_BUFSIZE] [-V] [-q]
 *
 *   -m udp     Handle over UDP (default), port 2641
 *      tcp     Handle over TCP, -k persistent connections per thread, requests
 *              pipelined, answers framed by the envelope's message length
 *      tcp1    Handle over TCP, one connection per request (the reference
 *              client's way); -c connections in flight per thread
 *      dnsudp  DNS over UDP (QUERYFILE in dnsperf format "name TYPE"), port 53
 *      dnstcp  DNS over TCP, persistent, pipelined (2-byte length framing)
 *   -k   sockets (udp) or connections (tcp) per thread  (default 16 udp, 4 tcp)
 *   -c   requests outstanding per thread, spread over the -k sockets (default 128);
 *        -w W sets it per socket instead (-c = W * k), as udpblast's -w does
 *   -b   batch: requests per sendmmsg/write, answers per recvmmsg (default 32)
 *   -r   open loop: RATE requests/s across all threads, paced; latency is then
 *        measured from each request's scheduled time (no coordinated omission)
 *   -v   protocol minor version of the requests (default 5: 2.5)
 *   -T   a request unanswered after this long is lost (default 200 ms)
 *   -u   warm-up seconds before measuring (default 0); requests sent during
 *        the warm-up and answered after it count as answered, not as sent
 *   -F   op flags of the requests, e.g. 0x02000000 (default 0)
 *   -e   DNS: an EDNS OPT record with this UDP payload size in every query
 *        (for answers over 512 bytes; default none); a truncated (TC) answer
 *        counts as bad
 *   -V   full check: decode every value of every success answer
 *   -q   print only the RESULT line
 *
 * Equivalent of `udpblast -c 16 -w 8 -b 32` is `hdlblast -k 16 -w 8 -b 32`.
 *
 * Every answer is checked: request id matched, response code counted
 * (success / not found / other), and the handle (DNS: the question) echoed
 * in it compared with the requested one. A UDP answer split over several
 * datagrams (envelope msg_len > 492) counts when all its datagrams arrived.
 *
 * Output ends with one machine-readable line:
 *   RESULT mode=udp qps=.. p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
 *          sent=.. answered=.. lost=.. ok=.. notfound=.. errors=.. bad=..
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/proto.h"

enum mode { M_UDP, M_TCP, M_TCP1, M_DNSUDP, M_DNSTCP };
static const char *const mode_names[] = {"udp", "tcp", "tcp1", "dnsudp", "dnstcp"};

enum {
	MAXBATCH = 256,
	MAXCONN = 1024,
	RBUF = 4096,           /* one datagram (DNS with EDNS: up to 4096) */
	TCP_IBUF = 256 * 1024, /* per persistent connection */
	TCP1_BUF = 4096,       /* per one-shot connection: head of the answer */
	RC_MAX = 1024,
	SWEEP_NS = 10 * 1000000, /* timeout sweep period */
};

/* ---- options ---- */
static enum mode opt_mode = M_UDP;
static const char *opt_host = "127.0.0.1";
static int opt_port = -1, opt_secs = 10, opt_threads = 1, opt_socks = -1, opt_conc = -1,
           opt_win = -1;
static int opt_edns = 0;
static int opt_batch = 32, opt_minor = 5, opt_timeout_ms = 200, opt_warm = 0, opt_full = 0,
           opt_quiet = 0;
static uint32_t opt_flags = 0;
static double opt_rate = 0;
static volatile sig_atomic_t g_stop;

static bool is_dns(void)
{
	return opt_mode == M_DNSUDP || opt_mode == M_DNSTCP;
}
static bool is_udp(void)
{
	return opt_mode == M_UDP || opt_mode == M_DNSUDP;
}

static inline uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* ---- queries: pre-encoded requests in one arena ---- */
typedef struct query {
	uint64_t off;  /* in arena */
	uint16_t len;  /* whole request (Handle: envelope + message; DNS: message) */
	uint16_t eoff; /* what the answer must echo: Handle: the handle bytes; DNS: the question */
	uint16_t elen;
} query;

static uint8_t *arena;
static size_t arena_len, arena_cap;
static query *Q;
static size_t nq, max_req;

static uint8_t *arena_take(size_t n)
{
	if (arena_len + n > arena_cap) {
		arena_cap = arena_cap ? arena_cap * 2 : (64u << 20);
		arena = realloc(arena, arena_cap);
		if (!arena) {
			perror("realloc");
			exit(1);
		}
	}
	uint8_t *p = arena + arena_len;
	arena_len += n;
	return p;
}

static int dns_qtype(const char *s)
{
	static const struct {
		const char *n;
		int t;
	} T[] = {{"A", 1},    {"NS", 2},  {"CNAME", 5}, {"SOA", 6},
	         {"PTR", 12}, {"MX", 15}, {"TXT", 16},  {"AAAA", 28}};
	for (size_t i = 0; i < sizeof T / sizeof *T; i++)
		if (!strcasecmp(s, T[i].n))
			return T[i].t;
	return atoi(s);
}

/* Encodes one query; returns its length or -1 (line skipped). */
static int encode_dns(const char *line, uint8_t *b, size_t cap, query *q)
{
	char name[300], type[32];
	if (sscanf(line, "%299s %31s", name, type) != 2)
		return -1;
	size_t L = strlen(name);
	if (L && name[L - 1] == '.')
		name[--L] = 0;
	if (L + 18 + 11 > cap)
		return -1;
	memset(b, 0, 12);
	b[5] = 1;                 /* QDCOUNT 1, RD 0 */
	b[11] = opt_edns ? 1 : 0; /* ARCOUNT: the OPT record */
	size_t o = 12;
	for (char *p = name; *p;) {
		char *d = strchr(p, '.');
		size_t ll = d ? (size_t)(d - p) : strlen(p);
		if (ll == 0 || ll > 63)
			return -1;
		b[o++] = (uint8_t)ll;
		memcpy(b + o, p, ll);
		o += ll;
		p += ll;
		if (*p)
			p++;
	}
	b[o++] = 0;
	int t = dns_qtype(type);
	b[o++] = (uint8_t)(t >> 8);
	b[o++] = (uint8_t)t;
	b[o++] = 0;
	b[o++] = 1;
	q->eoff = 12;
	q->elen = (uint16_t)(o - 12);
	if (opt_edns) { /* root name, type OPT (41), class = payload size, TTL 0, no data */
		static const uint8_t opt[11] = {0, 0, 41};
		memcpy(b + o, opt, sizeof(opt));
		b[o + 3] = (uint8_t)(opt_edns >> 8);
		b[o + 4] = (uint8_t)opt_edns;
		o += sizeof(opt);
	}
	return (int)o;
}

static int encode_hdl(const char *line, uint8_t *b, size_t cap, query *q, uint32_t expiration)
{
	size_t L = strcspn(line, "\r\n");
	while (L && (line[L - 1] == ' ' || line[L - 1] == '\t'))
		L--;
	if (L == 0 || L > PROTO_HANDLE_MAX)
		return -1;
	proto_env env = {.major = PROTO_MAJOR, .minor = (uint8_t)opt_minor};
	proto_hdr hdr = {.opcode = PROTO_OP_RESOLUTION,
	                 .flags = opt_flags,
	                 .site_serial = 0xFFFF,
	                 .expiration = expiration};
	proto_build bld;
	proto_build_begin(&bld, b, cap, &env, &hdr);
	proto_resolve_req_encode(&bld.w, idn_slice_of(line, L), NULL, 0, NULL, 0);
	int n = proto_build_end(&bld, NULL, 0);
	if (n < 0)
		return -1;
	q->eoff = PROTO_ENV_LEN + PROTO_HDR_LEN + 4;
	q->elen = (uint16_t)L;
	return n;
}

static void load_queries(const char *fn)
{
	FILE *f = fopen(fn, "r");
	if (!f) {
		perror(fn);
		exit(1);
	}
	size_t cap = 1 << 16;
	Q = malloc(cap * sizeof *Q);
	char *line = NULL;
	size_t lcap = 0;
	uint8_t b[PROTO_HANDLE_MAX + 256];
	uint32_t expiration = (uint32_t)time(NULL) + 43200;
	while (getline(&line, &lcap, f) > 0) {
		query q;
		int n = is_dns() ? encode_dns(line, b, sizeof b, &q)
		                 : encode_hdl(line, b, sizeof b, &q, expiration);
		if (n <= 0)
			continue;
		if (nq == cap) {
			cap *= 2;
			Q = realloc(Q, cap * sizeof *Q);
			if (!Q) {
				perror("realloc");
				exit(1);
			}
		}
		uint8_t *p = arena_take((size_t)n);
		memcpy(p, b, (size_t)n);
		q.off = (uint64_t)(p - arena);
		q.len = (uint16_t)n;
		Q[nq++] = q;
		if ((size_t)n > max_req)
			max_req = (size_t)n;
	}
	free(line);
	fclose(f);
	if (!nq) {
		fprintf(stderr, "hdlblast: no queries in %s\n", fn);
		exit(1);
	}
}

/* ---- latency histogram: log-linear, 1/64 relative resolution, ns ---- */
enum {
	H_SUB_BITS = 7,
	H_SUB = 1 << H_SUB_BITS,
	H_HALF = H_SUB / 2,
	H_GROUPS = 40,
	H_BINS = H_SUB + H_GROUPS * H_HALF
};

static inline unsigned hbin(uint64_t v)
{
	if (v < H_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	unsigned g = e - (H_SUB_BITS - 1); /* v >> g is in [H_HALF, H_SUB) */
	if (g > H_GROUPS)
		return H_BINS - 1;
	return H_SUB + (g - 1) * H_HALF + (unsigned)((v >> g) - H_HALF);
}

/* The highest value a bin holds (HDR's "highest equivalent value"). */
static uint64_t hbin_hi(unsigned b)
{
	if (b < H_SUB)
		return b;
	unsigned g = (b - H_SUB) / H_HALF + 1;
	uint64_t m = (b - H_SUB) % H_HALF + H_HALF;
	return ((m + 1) << g) - 1;
}

/* ---- statistics, one per thread ---- */
typedef struct stats {
	uint64_t sent, answered, lost, late, bad, mismatch, multi, connerr, senderr, drained, bytes;
	uint64_t rc[RC_MAX], rc_other;
	uint64_t lat_max;
	uint64_t hist[H_BINS];
} stats;

/* ---- in-flight requests ---- */
typedef struct slot {
	uint64_t t;          /* send (or scheduled) time, ns */
	uint32_t id;         /* request id on the wire */
	uint32_t q;          /* query index */
	uint16_t pkts, need; /* UDP datagrams seen / expected */
	uint8_t active, head_ok;
	uint32_t rc;
} slot;

typedef struct conn {
	int fd;
	int w, outstanding, nfree;
	slot *slots;
	uint16_t *freel;
	unsigned slot_bits;
	size_t qi;
	/* TCP persistent */
	uint8_t *obuf;
	size_t olen, ooff, ocap;
	uint8_t *ibuf;
	size_t ilen;
	uint64_t skip; /* bytes of an oversize answer still to discard */
	uint64_t reconnect_at;
} conn;

typedef struct thr {
	int idx;
	stats st, warm;
	stats *cur;
	conn *c;
	int nc;
	double rate;    /* this thread's share, requests/s; 0 = closed loop */
	uint64_t t0;    /* pacing origin */
	uint64_t sched; /* requests scheduled so far (open loop) */
	uint64_t tend;
	int draining;
	uint64_t next_sweep;
	struct sockaddr_in sa;
	uint8_t sbuf[MAXBATCH][PROTO_HANDLE_MAX + 256];
	struct iovec siov[MAXBATCH], riov[MAXBATCH];
	struct mmsghdr sm[MAXBATCH], rm[MAXBATCH];
	uint8_t rbuf[MAXBATCH][RBUF];
} thr;

static uint32_t id_mask(void)
{
	return is_dns() ? 0xFFFFu : 0xFFFFFFFFu;
}

static void conn_slots_init(conn *c, int w)
{
	c->w = w;
	c->slots = calloc((size_t)w, sizeof *c->slots);
	c->freel = malloc((size_t)w * sizeof *c->freel);
	c->slot_bits = 0;
	while ((1u << c->slot_bits) < (unsigned)w)
		c->slot_bits++;
	c->nfree = w;
	for (int i = 0; i < w; i++) {
		c->freel[i] = (uint16_t)(w - 1 - i);
		c->slots[i].id = (uint32_t)i; /* generation 0 */
	}
}

/* Takes a free slot, gives it a fresh id (next generation). */
static slot *slot_take(conn *c, uint32_t *sidx)
{
	uint32_t s = c->freel[--c->nfree];
	slot *sl = &c->slots[s];
	uint32_t gen = (sl->id >> c->slot_bits) + 1;
	uint32_t id = ((gen << c->slot_bits) | s) & id_mask();
	if (id == 0) /* keep 0 out of the wire */
		id = ((++gen << c->slot_bits) | s) & id_mask();
	sl->id = id;
	sl->active = 1;
	sl->pkts = sl->need = 0;
	sl->head_ok = 0;
	sl->rc = 0;
	c->outstanding++;
	*sidx = s;
	return sl;
}

static void slot_release(conn *c, slot *sl)
{
	sl->active = 0;
	c->freel[c->nfree++] = (uint16_t)(sl - c->slots);
	c->outstanding--;
}

static slot *slot_find(conn *c, uint32_t id)
{
	uint32_t s = id & ((1u << c->slot_bits) - 1);
	if (s >= (uint32_t)c->w)
		return NULL;
	slot *sl = &c->slots[s];
	return sl->active && sl->id == id ? sl : NULL;
}

/* ---- answer checks ---- */
enum { CHK_OK = 0, CHK_BAD = 1, CHK_MISMATCH = 2 };

/*
 * Handle answer, possibly only its head (avail bytes from the envelope on):
 * reads the response code and, on success, compares the echoed handle.
 * complete: the whole message is there, so check its framing too.
 */
static int check_hdl(const uint8_t *p, size_t avail, const query *q, bool complete, uint32_t *rc)
{
	if (avail < PROTO_ENV_LEN + PROTO_HDR_LEN)
		return CHK_BAD;
	uint32_t msg_len = idn_be32(p + 16);
	const uint8_t *m = p + PROTO_ENV_LEN;
	*rc = idn_be32(m + 4);
	uint32_t flags = idn_be32(m + 8);
	idn_slice body;
	if (complete) {
		proto_msg pm;
		if (proto_msg_decode(m, msg_len, &pm) != IDN_OK)
			return CHK_BAD;
		body = pm.body;
	} else {
		uint32_t bl = idn_be32(m + 20);
		size_t have = avail - PROTO_ENV_LEN - PROTO_HDR_LEN;
		body = idn_slice_of(m + PROTO_HDR_LEN, bl < have ? bl : have);
	}
	if (*rc != PROTO_RC_SUCCESS)
		return CHK_OK;
	wire_rd c = wire_rd_init(body.p, body.len);
	if (flags & PROTO_F_RD)
		proto_skip_digest(&c);
	if (opt_full && complete) {
		proto_resolve_resp r;
		if (c.err || proto_resolve_resp_decode(idn_slice_of(c.pos, wire_rd_left(&c)), &r))
			return CHK_BAD;
		return idn_slice_eq(r.handle, idn_slice_of(arena + q->off + q->eoff, q->elen))
		           ? CHK_OK
		           : CHK_MISMATCH;
	}
	idn_slice h = wire_get_lbytes(&c);
	if (c.err)
		return CHK_BAD;
	return idn_slice_eq(h, idn_slice_of(arena + q->off + q->eoff, q->elen)) ? CHK_OK
	                                                                        : CHK_MISMATCH;
}

/* DNS answer: QR set, question echoed; rc = RCODE. */
static int check_dns(const uint8_t *p, size_t len, const query *q, uint32_t *rc)
{
	if (len < 12 || !(p[2] & 0x80) || (p[2] & 0x02)) /* not an answer, or truncated */
		return CHK_BAD;
	*rc = p[3] & 15;
	if (len < (size_t)q->eoff + q->elen || idn_be16(p + 4) != 1)
		return CHK_MISMATCH;
	return memcmp(p + q->eoff, arena + q->off + q->eoff, q->elen) ? CHK_MISMATCH : CHK_OK;
}

static void account(thr *T, conn *c, slot *sl, int chk, uint32_t rc, uint64_t now, size_t bytes)
{
	stats *st = T->cur;
	if (T->draining) {
		st->drained++;
	} else {
		st->answered++;
		st->bytes += bytes;
		uint64_t lat = now > sl->t ? now - sl->t : 0;
		st->hist[hbin(lat)]++;
		if (lat > st->lat_max)
			st->lat_max = lat;
		if (chk == CHK_BAD)
			st->bad++;
		else if (chk == CHK_MISMATCH)
			st->mismatch++;
		if (chk != CHK_BAD) {
			if (rc < RC_MAX)
				st->rc[rc]++;
			else
				st->rc_other++;
		}
	}
	slot_release(c, sl);
}

/* ---- pacing ---- */

/* How many of `want` requests may go now: all of them in closed loop; in
 * open loop, only those whose scheduled time has come. */
static int pace(thr *T, int want, uint64_t now)
{
	if (T->rate <= 0)
		return want;
	double due = T->rate * (double)(now - T->t0) / 1e9 - (double)T->sched;
	if (due < want)
		want = due > 0 ? (int)due : 0;
	return want;
}

/* Scheduled send time of request k (from 0): pace() lets it go then. */
static uint64_t sched_time(thr *T, uint64_t k)
{
	return T->t0 + (uint64_t)((double)(k + 1) * 1e9 / T->rate);
}

/* ---- UDP ---- */

static int udp_socket(thr *T)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	int sz = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	if (connect(fd, (struct sockaddr *)&T->sa, sizeof T->sa)) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static void put_id(uint8_t *pkt, uint32_t id)
{
	if (is_dns())
		idn_put_be16(pkt, (uint16_t)id);
	else
		idn_put_be32(pkt + 8, id);
}

static int udp_send(thr *T, conn *c, int want, uint64_t now)
{
	uint32_t sidx[MAXBATCH];
	for (int i = 0; i < want; i++) {
		const query *q = &Q[c->qi];
		slot *sl = slot_take(c, &sidx[i]);
		sl->q = (uint32_t)c->qi;
		sl->t = T->rate > 0 ? sched_time(T, T->sched + (uint64_t)i) : now;
		if (++c->qi == nq)
			c->qi = 0;
		memcpy(T->sbuf[i], arena + q->off, q->len);
		put_id(T->sbuf[i], sl->id);
		T->siov[i].iov_len = q->len;
	}
	int n = sendmmsg(c->fd, T->sm, (unsigned)want, 0);
	if (n < 0) {
		n = 0;
		T->cur->senderr++;
	}
	for (int i = want - 1; i >= n; i--) /* not sent: give the slots back */
		slot_release(c, &c->slots[sidx[i]]);
	T->cur->sent += (uint64_t)n;
	T->sched += (uint64_t)n;
	return n;
}

static void udp_datagram(thr *T, conn *c, const uint8_t *p, size_t len, uint64_t now)
{
	stats *st = T->cur;
	if (is_dns()) {
		if (len < 12) {
			st->bad++;
			return;
		}
		slot *sl = slot_find(c, idn_be16(p));
		if (!sl) {
			st->late++;
			return;
		}
		uint32_t rc = 0;
		int chk = check_dns(p, len, &Q[sl->q], &rc);
		account(T, c, sl, chk, rc, now, len);
		return;
	}
	if (len < PROTO_ENV_LEN) {
		st->bad++;
		return;
	}
	slot *sl = slot_find(c, idn_be32(p + 8));
	if (!sl) {
		st->late++;
		return;
	}
	uint32_t msg_len = idn_be32(p + 16), seq = idn_be32(p + 12);
	if ((size_t)msg_len + PROTO_ENV_LEN <= len && seq == 0) { /* the whole answer */
		uint32_t rc = 0;
		int chk = check_hdl(p, (size_t)msg_len + PROTO_ENV_LEN, &Q[sl->q], true, &rc);
		account(T, c, sl, chk, rc, now, len);
		return;
	}
	/* one datagram of a multi-packet answer */
	if (msg_len > PROTO_MSG_MAX) {
		account(T, c, sl, CHK_BAD, 0, now, len);
		return;
	}
	sl->need = (uint16_t)((msg_len + PROTO_UDP_CHUNK - 1) / PROTO_UDP_CHUNK);
	sl->pkts++;
	if (seq == 0) {
		int chk = check_hdl(p, len, &Q[sl->q], false, &sl->rc);
		sl->head_ok = (uint8_t)(chk + 1);
	}
	if (sl->pkts >= sl->need) {
		if (!T->draining)
			st->multi++;
		int chk = sl->head_ok ? sl->head_ok - 1 : CHK_BAD;
		account(T, c, sl, chk, sl->rc, now, (size_t)msg_len + PROTO_ENV_LEN);
	}
}

static int udp_recv(thr *T, conn *c)
{
	int r = recvmmsg(c->fd, T->rm, (unsigned)opt_batch, MSG_DONTWAIT, NULL);
	if (r <= 0)
		return 0;
	uint64_t now = now_ns();
	for (int i = 0; i < r; i++)
		udp_datagram(T, c, T->rbuf[i], T->rm[i].msg_len, now);
	return r;
}

/* ---- TCP, persistent and pipelined ---- */

static int tcp_connect(thr *T, bool nonblock_connect)
{
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock_connect ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&T->sa, sizeof T->sa) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	if (!nonblock_connect)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static void tcp_flush(thr *T, conn *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = write(c->fd, c->obuf + c->ooff, c->olen - c->ooff);
		if (n <= 0)
			break;
		c->ooff += (size_t)n;
	}
	if (c->ooff == c->olen)
		c->ooff = c->olen = 0;
}

static int tcp_send(thr *T, conn *c, int want, uint64_t now)
{
	bool dns = is_dns();
	/* bytes of timed-out requests may still wait in obuf: never overrun it */
	size_t room = (c->ocap - c->olen) / (max_req + 2);
	if ((size_t)want > room)
		want = (int)room;
	for (int i = 0; i < want; i++) {
		const query *q = &Q[c->qi];
		uint32_t s;
		slot *sl = slot_take(c, &s);
		sl->q = (uint32_t)c->qi;
		sl->t = T->rate > 0 ? sched_time(T, T->sched) : now;
		if (++c->qi == nq)
			c->qi = 0;
		uint8_t *p = c->obuf + c->olen;
		if (dns) {
			idn_put_be16(p, q->len);
			p += 2;
			c->olen += 2;
		}
		memcpy(p, arena + q->off, q->len);
		put_id(p, sl->id);
		c->olen += q->len;
		T->cur->sent++;
		T->sched++;
	}
	tcp_flush(T, c);
	return want;
}

static void tcp_lose_all(thr *T, conn *c)
{
	for (int i = 0; i < c->w; i++)
		if (c->slots[i].active) {
			T->cur->lost++;
			slot_release(c, &c->slots[i]);
		}
}

static void tcp_close(thr *T, conn *c, uint64_t now)
{
	T->cur->connerr++;
	tcp_lose_all(T, c);
	close(c->fd);
	c->fd = -1;
	c->ilen = c->olen = c->ooff = 0;
	c->skip = 0;
	c->reconnect_at = now + 10000000ull;
}

/* One complete frame, or the head of an oversize one. */
static void tcp_frame(thr *T, conn *c, const uint8_t *p, size_t avail, size_t frame, uint64_t now)
{
	bool dns = is_dns();
	uint32_t id = dns ? idn_be16(p + 2) : idn_be32(p + 8);
	slot *sl = slot_find(c, id);
	if (!sl) {
		T->cur->late++;
		return;
	}
	uint32_t rc = 0;
	int chk = dns ? check_dns(p + 2, avail - 2, &Q[sl->q], &rc)
	              : check_hdl(p, avail, &Q[sl->q], avail >= frame, &rc);
	account(T, c, sl, chk, rc, now, frame);
}

static int tcp_recv(thr *T, conn *c, uint64_t now)
{
	bool dns = is_dns();
	int frames = 0;
	for (int iter = 0; iter < 4; iter++) {
		ssize_t n = read(c->fd, c->ibuf + c->ilen, TCP_IBUF - c->ilen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			tcp_close(T, c, now);
			return frames;
		}
		if (n < 0)
			break;
		c->ilen += (size_t)n;
		now = now_ns();
		size_t off = 0;
		for (;;) {
			if (c->skip) {
				size_t d =
				    c->ilen - off < c->skip ? c->ilen - off : (size_t)c->skip;
				off += d;
				c->skip -= d;
				if (c->skip)
					break;
			}
			size_t left = c->ilen - off, hl = dns ? 2 : PROTO_ENV_LEN;
			if (left < hl)
				break;
			const uint8_t *p = c->ibuf + off;
			size_t frame;
			if (dns) {
				frame = 2 + (size_t)idn_be16(p);
			} else {
				uint32_t ml = idn_be32(p + 16);
				if (ml > PROTO_MSG_MAX) {
					T->cur->bad++;
					tcp_close(T, c, now);
					return frames;
				}
				frame = PROTO_ENV_LEN + ml;
			}
			if (left >= frame) {
				tcp_frame(T, c, p, frame, frame, now);
				off += frame;
				frames++;
			} else if (frame > TCP_IBUF && left >= 4096) {
				/* oversize: judge by its head, discard the rest */
				tcp_frame(T, c, p, left, frame, now);
				c->skip = frame - left;
				off = c->ilen;
				frames++;
			} else {
				break;
			}
		}
		if (off) {
			memmove(c->ibuf, c->ibuf + off, c->ilen - off);
			c->ilen -= off;
		}
		if ((size_t)n < TCP_IBUF / 2)
			break;
	}
	return frames;
}

/* ---- timeouts ---- */

static void sweep(thr *T, uint64_t now)
{
	uint64_t to = (uint64_t)opt_timeout_ms * 1000000ull;
	for (int k = 0; k < T->nc; k++) {
		conn *c = &T->c[k];
		for (int i = 0; i < c->w; i++) {
			slot *sl = &c->slots[i];
			if (sl->active && now > sl->t && now - sl->t > to) {
				T->cur->lost++;
				slot_release(c, sl);
			}
		}
	}
}

/* ---- the loop for udp / dnsudp / tcp / dnstcp ---- */

static void run_mux(thr *T)
{
	bool udp = is_udp();
	int per = (opt_conc + opt_socks - 1) / opt_socks;
	T->nc = opt_socks;
	T->c = calloc((size_t)T->nc, sizeof *T->c);
	for (int k = 0; k < T->nc; k++) {
		conn *c = &T->c[k];
		conn_slots_init(c, per);
		c->qi = ((size_t)T->idx * 7919 + (size_t)k * 104729 + (size_t)rand()) % nq;
		if (udp) {
			c->fd = udp_socket(T);
		} else {
			c->fd = tcp_connect(T, false);
			if (c->fd < 0) {
				fprintf(stderr, "hdlblast: connect %s:%d: %s\n", opt_host, opt_port,
				        strerror(errno));
				exit(1);
			}
			c->ocap = (size_t)per * (max_req + 2);
			c->obuf = malloc(c->ocap);
			c->ibuf = malloc(TCP_IBUF);
		}
	}
	for (int i = 0; i < MAXBATCH; i++) {
		T->siov[i].iov_base = T->sbuf[i];
		T->sm[i].msg_hdr = (struct msghdr){.msg_iov = &T->siov[i], .msg_iovlen = 1};
		T->riov[i].iov_base = T->rbuf[i];
		T->riov[i].iov_len = RBUF;
		T->rm[i].msg_hdr = (struct msghdr){.msg_iov = &T->riov[i], .msg_iovlen = 1};
	}
	struct pollfd *pf = calloc((size_t)T->nc, sizeof *pf);
	int *pk = calloc((size_t)T->nc, sizeof *pk), received = 0;
	uint64_t start = now_ns(), warm_end = start + (uint64_t)opt_warm * 1000000000ull;
	T->cur = opt_warm ? &T->warm : &T->st;
	T->tend = warm_end + (uint64_t)opt_secs * 1000000000ull;
	T->t0 = start;
	uint64_t to_ns = (uint64_t)opt_timeout_ms * 1000000ull, drain_end = 0;
	T->next_sweep = start + SWEEP_NS;
	for (;;) {
		uint64_t now = now_ns();
		if (T->cur == &T->warm && now >= warm_end)
			T->cur = &T->st;
		if (!T->draining && (now >= T->tend || g_stop)) {
			T->draining = 1;
			drain_end = now + to_ns;
		}
		if (T->draining) {
			int out = 0;
			for (int k = 0; k < T->nc; k++)
				out += T->c[k].fd >= 0 ? T->c[k].outstanding : 0;
			if (out == 0 || now >= drain_end)
				break;
		}
		int progress = received;
		for (int k = 0; k < T->nc; k++) {
			conn *c = &T->c[k];
			if (c->fd < 0) {
				if (!T->draining && now >= c->reconnect_at) {
					c->fd = tcp_connect(T, false);
					if (c->fd < 0)
						c->reconnect_at = now + 10000000ull;
				}
				continue;
			}
			if (!T->draining) {
				int want = c->w - c->outstanding;
				if (want > opt_batch)
					want = opt_batch;
				want = pace(T, want, now);
				if (want > 0)
					progress |= (udp ? udp_send(T, c, want, now)
					                 : tcp_send(T, c, want, now)) > 0;
			}
		}
		if (now >= T->next_sweep) {
			T->next_sweep = now + SWEEP_NS;
			sweep(T, now);
		}
		/* one poll tells which sockets have answers; it sleeps only when
		 * nothing moved: until the next request is due (open loop) or an
		 * answer arrives, at most 1 ms */
		int n = 0;
		for (int k = 0; k < T->nc; k++) {
			if (T->c[k].fd < 0)
				continue;
			pf[n].fd = T->c[k].fd;
			pf[n].events = POLLIN | (!udp && T->c[k].olen ? POLLOUT : 0);
			pf[n].revents = 0;
			pk[n++] = k;
		}
		struct timespec ts = {0, 0};
		if (!progress) {
			ts.tv_nsec = 1000000;
			if (T->rate > 0 && !T->draining) {
				uint64_t due = sched_time(T, T->sched);
				uint64_t d = due > now ? due - now : 0;
				if (d < 1000000)
					ts.tv_nsec = (long)d;
			}
		}
		received = 0;
		if (ppoll(pf, (nfds_t)n, &ts, NULL) <= 0)
			continue;
		now = now_ns();
		for (int i = 0; i < n; i++) {
			conn *c = &T->c[pk[i]];
			if (!pf[i].revents || c->fd < 0)
				continue;
			if (!udp && (pf[i].revents & POLLOUT) && c->olen)
				tcp_flush(T, c);
			if (pf[i].revents & (POLLIN | POLLERR | POLLHUP))
				received |= (udp ? udp_recv(T, c) : tcp_recv(T, c, now)) > 0;
		}
	}
	for (int k = 0; k < T->nc; k++) {
		conn *c = &T->c[k];
		T->st.lost += (uint64_t)c->outstanding;
		if (c->fd >= 0)
			close(c->fd);
	}
	free(pf);
	free(pk);
}

/* ---- TCP, one connection per request ---- */

enum { S_IDLE, S_CONNECTING, S_READING };

typedef struct sess {
	int fd, state;
	uint64_t t;
	uint32_t q, id;
	size_t len;
	uint8_t buf[TCP1_BUF];
} sess;

static void run_tcp1(thr *T)
{
	int ns = opt_conc;
	sess *S = calloc((size_t)ns, sizeof *S);
	int ep = epoll_create1(0);
	size_t qi = ((size_t)T->idx * 7919 + (size_t)rand()) % nq;
	uint32_t next_id = 1;
	uint64_t start = now_ns(), warm_end = start + (uint64_t)opt_warm * 1000000000ull;
	T->cur = opt_warm ? &T->warm : &T->st;
	T->tend = warm_end + (uint64_t)opt_secs * 1000000000ull;
	T->t0 = start;
	uint64_t to_ns = (uint64_t)opt_timeout_ms * 1000000ull, drain_end = 0, next_sweep = start;
	for (int i = 0; i < ns; i++)
		S[i].fd = -1;
	struct epoll_event ev[256];
	for (;;) {
		uint64_t now = now_ns();
		if (T->cur == &T->warm && now >= warm_end)
			T->cur = &T->st;
		if (!T->draining && (now >= T->tend || g_stop)) {
			T->draining = 1;
			drain_end = now + to_ns;
		}
		int busy = 0;
		for (int i = 0; i < ns; i++)
			busy += S[i].state != S_IDLE;
		if (T->draining && (busy == 0 || now >= drain_end))
			break;
		/* start idle sessions */
		if (!T->draining) {
			int room = pace(T, ns - busy, now);
			for (int i = 0; i < ns && room > 0; i++) {
				sess *s = &S[i];
				if (s->state != S_IDLE)
					continue;
				s->fd = tcp_connect(T, true);
				s->t = T->rate > 0 ? sched_time(T, T->sched) : now;
				T->sched++;
				room--;
				if (s->fd < 0) {
					T->cur->connerr++;
					continue;
				}
				s->q = (uint32_t)qi;
				if (++qi == nq)
					qi = 0;
				s->id = next_id++;
				if (next_id == 0)
					next_id = 1;
				s->len = 0;
				s->state = S_CONNECTING;
				struct epoll_event e = {.events = EPOLLOUT,
				                        .data.u32 = (uint32_t)i};
				epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e);
			}
		}
		int n = epoll_wait(ep, ev, 256, 1);
		now = now_ns();
		for (int j = 0; j < n; j++) {
			sess *s = &S[ev[j].data.u32];
			int fail = 0, done = 0;
			if (s->state == S_CONNECTING &&
			    (ev[j].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				int err = 0;
				socklen_t el = sizeof err;
				getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				const query *q = &Q[s->q];
				uint8_t pkt[PROTO_HANDLE_MAX + 256];
				memcpy(pkt, arena + q->off, q->len);
				put_id(pkt, s->id);
				if (err || write(s->fd, pkt, q->len) != q->len) {
					fail = 1;
				} else {
					T->cur->sent++;
					s->state = S_READING;
					struct epoll_event e = {.events = EPOLLIN,
					                        .data.u32 = ev[j].data.u32};
					epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e);
				}
			} else if (s->state == S_READING) {
				ssize_t r = read(s->fd, s->buf + s->len, TCP1_BUF - s->len);
				if (r > 0)
					s->len += (size_t)r;
				else if (r == 0 || errno != EAGAIN)
					fail = 1;
				if (s->len >= PROTO_ENV_LEN) {
					size_t frame = PROTO_ENV_LEN + idn_be32(s->buf + 16);
					if (s->len >= frame || s->len == TCP1_BUF)
						done = 1;
				}
				if (done) {
					stats *st = T->cur;
					uint32_t rc = 0;
					size_t frame = PROTO_ENV_LEN + idn_be32(s->buf + 16);
					int chk = idn_be32(s->buf + 8) != s->id
					              ? CHK_MISMATCH
					              : check_hdl(s->buf, s->len, &Q[s->q],
					                          s->len >= frame, &rc);
					if (T->draining) {
						st->drained++;
					} else {
						uint64_t lat = now > s->t ? now - s->t : 0;
						st->answered++;
						st->bytes += frame;
						st->hist[hbin(lat)]++;
						if (lat > st->lat_max)
							st->lat_max = lat;
						if (chk == CHK_BAD)
							st->bad++;
						else if (chk == CHK_MISMATCH)
							st->mismatch++;
						if (chk != CHK_BAD) {
							if (rc < RC_MAX)
								st->rc[rc]++;
							else
								st->rc_other++;
						}
					}
					fail = 0;
				}
			}
			if (fail || done) {
				if (fail)
					T->cur->connerr++;
				close(s->fd); /* also removes it from the epoll set */
				s->fd = -1;
				s->state = S_IDLE;
			}
		}
		if (now >= next_sweep) {
			next_sweep = now + SWEEP_NS;
			for (int i = 0; i < ns; i++)
				if (S[i].state != S_IDLE && now > S[i].t && now - S[i].t > to_ns) {
					T->cur->lost++;
					close(S[i].fd);
					S[i].fd = -1;
					S[i].state = S_IDLE;
				}
		}
	}
	for (int i = 0; i < ns; i++)
		if (S[i].state != S_IDLE) {
			T->st.lost++;
			close(S[i].fd);
		}
	close(ep);
	free(S);
}

static void *thread_main(void *arg)
{
	thr *T = arg;
	prctl(PR_SET_TIMERSLACK, 1UL); /* open-loop sends on time, not 50 us late */
	if (opt_mode == M_TCP1)
		run_tcp1(T);
	else
		run_mux(T);
	return NULL;
}

/* ---- report ---- */

static void merge(stats *a, const stats *b)
{
	a->sent += b->sent;
	a->answered += b->answered;
	a->lost += b->lost;
	a->late += b->late;
	a->bad += b->bad;
	a->mismatch += b->mismatch;
	a->multi += b->multi;
	a->connerr += b->connerr;
	a->senderr += b->senderr;
	a->drained += b->drained;
	a->bytes += b->bytes;
	for (int i = 0; i < RC_MAX; i++)
		a->rc[i] += b->rc[i];
	a->rc_other += b->rc_other;
	if (b->lat_max > a->lat_max)
		a->lat_max = b->lat_max;
	for (int i = 0; i < H_BINS; i++)
		a->hist[i] += b->hist[i];
}

static double pct_us(const stats *s, double pct)
{
	if (!s->answered)
		return 0;
	uint64_t want = (uint64_t)((double)s->answered * pct / 100.0 + 0.5), acc = 0;
	if (want < 1)
		want = 1;
	for (unsigned b = 0; b < H_BINS; b++) {
		acc += s->hist[b];
		if (acc >= want) {
			uint64_t v = hbin_hi(b);
			return (double)(v < s->lat_max ? v : s->lat_max) / 1000.0;
		}
	}
	return (double)s->lat_max / 1000.0;
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: hdlblast -f QUERYFILE [-m udp|tcp|tcp1|dnsudp|dnstcp] [-s HOST] [-p PORT]\n"
	        "                [-l SECS] [-t THREADS] [-k SOCKETS] [-c OUTSTANDING] [-w WINDOW]\n"
	        "                [-b BATCH] [-r RATE] [-v MINOR] [-T TIMEOUT_MS] [-u WARMUP] [-F "
	        "FLAGS]\n"
	        "                [-e EDNS] [-V] [-q]   (see the head of bench/hdlblast.c)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *qf = NULL;
	int o;
	while ((o = getopt(argc, argv, "s:p:f:l:t:k:c:w:b:m:r:v:T:u:F:e:Vqh")) != -1) {
		switch (o) {
		case 's':
			opt_host = optarg;
			break;
		case 'p':
			opt_port = atoi(optarg);
			break;
		case 'f':
			qf = optarg;
			break;
		case 'l':
			opt_secs = atoi(optarg);
			break;
		case 't':
			opt_threads = atoi(optarg);
			break;
		case 'k':
			opt_socks = atoi(optarg);
			break;
		case 'c':
			opt_conc = atoi(optarg);
			break;
		case 'w':
			opt_win = atoi(optarg);
			break;
		case 'b':
			opt_batch = atoi(optarg);
			break;
		case 'r':
			opt_rate = atof(optarg);
			break;
		case 'v':
			opt_minor = atoi(optarg);
			break;
		case 'T':
			opt_timeout_ms = atoi(optarg);
			break;
		case 'u':
			opt_warm = atoi(optarg);
			break;
		case 'F':
			opt_flags = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'e':
			opt_edns = atoi(optarg);
			break;
		case 'V':
			opt_full = 1;
			break;
		case 'q':
			opt_quiet = 1;
			break;
		case 'm': {
			int found = 0;
			for (int i = 0; i < (int)(sizeof mode_names / sizeof *mode_names); i++)
				if (!strcmp(optarg, mode_names[i])) {
					opt_mode = (enum mode)i;
					found = 1;
				}
			if (!found)
				usage();
			break;
		}
		default:
			usage();
		}
	}
	if (!qf)
		usage();
	if (opt_port < 0)
		opt_port = is_dns() ? 53 : 2641;
	if (opt_socks < 0)
		opt_socks = is_udp() ? 16 : 4;
	if (opt_win > 0)
		opt_conc = opt_win * opt_socks;
	if (opt_conc < 0)
		opt_conc = opt_mode == M_TCP1 ? 32 : 128;
	if (opt_secs < 1 || opt_secs > 3600 || opt_threads < 1 || opt_threads > 64 ||
	    opt_socks < 1 || opt_socks > MAXCONN || opt_conc < 1 || opt_batch < 1 ||
	    opt_batch > MAXBATCH || opt_minor < 0 || opt_minor > 255 || opt_timeout_ms < 1 ||
	    opt_warm < 0 || opt_warm > 600 || (opt_mode == M_TCP1 && opt_conc > 4096))
		usage();
	if (opt_mode != M_TCP1 && opt_socks > opt_conc)
		opt_socks = opt_conc;
	{
		int per = (opt_conc + opt_socks - 1) / opt_socks;
		if (per > 65535 || (is_dns() && per > 4096)) {
			fprintf(stderr, "hdlblast: window per socket too large\n");
			return 2;
		}
	}

	load_queries(qf);
	srand((unsigned)getpid());
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt_port)};
	if (inet_pton(AF_INET, opt_host, &sa.sin_addr) != 1) {
		fprintf(stderr, "hdlblast: bad address %s\n", opt_host);
		return 2;
	}
	thr **T = calloc((size_t)opt_threads, sizeof *T);
	pthread_t *th = calloc((size_t)opt_threads, sizeof *th);
	for (int i = 0; i < opt_threads; i++) {
		T[i] = calloc(1, sizeof **T);
		if (!T[i]) {
			perror("calloc");
			return 1;
		}
		T[i]->idx = i;
		T[i]->sa = sa;
		T[i]->rate = opt_rate / opt_threads;
	}
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	uint64_t w0 = now_ns();
	for (int i = 0; i < opt_threads; i++)
		pthread_create(&th[i], NULL, thread_main, T[i]);
	for (int i = 0; i < opt_threads; i++)
		pthread_join(th[i], NULL);
	double wall = (double)(now_ns() - w0) / 1e9;
	getrusage(RUSAGE_SELF, &ru1);
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
	                      ru0.ru_stime.tv_sec) +
	             (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
	                      ru0.ru_stime.tv_usec) /
	                 1e6;

	stats *S = calloc(1, sizeof *S);
	for (int i = 0; i < opt_threads; i++)
		merge(S, &T[i]->st);
	double secs = opt_secs;
	double qps = (double)S->answered / secs;
	uint64_t ok = is_dns() ? S->rc[0] : S->rc[PROTO_RC_SUCCESS];
	uint64_t nf = is_dns() ? S->rc[3] : S->rc[PROTO_RC_HANDLE_NOT_FOUND];
	uint64_t other = S->answered - S->bad - ok - nf;
	double p50 = pct_us(S, 50), p90 = pct_us(S, 90), p99 = pct_us(S, 99),
	       p999 = pct_us(S, 99.9);
	double mx = (double)S->lat_max / 1000.0;
	if (!opt_quiet) {
		int per = opt_mode == M_TCP1 ? opt_conc : (opt_conc + opt_socks - 1) / opt_socks;
		printf("hdlblast: mode=%s server=%s:%d threads=%d %s=%d outstanding/thread=%d "
		       "batch=%d "
		       "%s duration=%ds warmup=%ds timeout=%dms\n",
		       mode_names[opt_mode], opt_host, opt_port, opt_threads,
		       opt_mode == M_TCP1 ? "connections/thread" : "sockets/thread",
		       opt_mode == M_TCP1 ? opt_conc : opt_socks,
		       opt_mode == M_TCP1 ? opt_conc : per * opt_socks, opt_batch,
		       opt_rate > 0 ? "open-loop" : "closed-loop", opt_secs, opt_warm,
		       opt_timeout_ms);
		if (opt_rate > 0)
			printf("target rate %.0f/s\n", opt_rate);
		printf("sent %lu answered %lu lost %lu (late answers %lu) drained %lu bad %lu "
		       "mismatch %lu "
		       "multi-packet %lu conn-errors %lu send-errors %lu\n",
		       (unsigned long)S->sent, (unsigned long)S->answered, (unsigned long)S->lost,
		       (unsigned long)S->late, (unsigned long)S->drained, (unsigned long)S->bad,
		       (unsigned long)S->mismatch, (unsigned long)S->multi,
		       (unsigned long)S->connerr, (unsigned long)S->senderr);
		printf("response codes:");
		for (int i = 0; i < RC_MAX; i++)
			if (S->rc[i])
				printf(" %s(%d)=%lu",
				       is_dns() ? (i == 0   ? "NOERROR"
				                   : i == 3 ? "NXDOMAIN"
				                   : i == 2 ? "SERVFAIL"
				                   : i == 5 ? "REFUSED"
				                            : "RCODE")
				                : proto_rc_name((uint32_t)i),
				       i, (unsigned long)S->rc[i]);
		if (S->rc_other)
			printf(" other=%lu", (unsigned long)S->rc_other);
		printf("\n");
		printf("answers/s %.0f  mean answer %.1f bytes\n", qps,
		       S->answered ? (double)S->bytes / (double)S->answered : 0.0);
		printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", p50, p90,
		       p99, p999, mx);
		printf("client cpu %.0f%% of one core (%.2f s cpu over %.2f s wall)\n",
		       100.0 * cpu / wall, cpu, wall);
	}
	printf(
	    "RESULT mode=%s qps=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
	    "sent=%lu answered=%lu lost=%lu ok=%lu notfound=%lu errors=%lu bad=%lu mismatch=%lu "
	    "client_cpu_pct=%.0f\n",
	    mode_names[opt_mode], qps, p50, p90, p99, p999, mx, (unsigned long)S->sent,
	    (unsigned long)S->answered, (unsigned long)S->lost, (unsigned long)ok,
	    (unsigned long)nf, (unsigned long)other, (unsigned long)S->bad,
	    (unsigned long)S->mismatch, 100.0 * cpu / wall);
	return S->answered ? 0 : 1;
}
