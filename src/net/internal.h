/*
 * internal.h - what the files of net's Handle server (server.c, worker.c,
 * udp_io.c, tcp.c, deferred.c) share: the server, its workers and their
 * sockets and connections. Not for use outside src/net.
 *
 * Ownership: net_start() allocates the server, its sockets and the worker
 * array; each worker allocates its own buffers, epoll set and connections on
 * its own thread and frees them before it exits; net_wait() frees the rest.
 */
#ifndef IDN_NET_INTERNAL_H
#define IDN_NET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net/common.h"
#include "net/net.h"
#include "net/rrl.h"
#include "proto/proto.h"
#include "proto/udp.h"

enum {
	NET_UDP_BATCH = 64,       /* datagrams per recvmmsg */
	NET_UDP_ROUNDS = 8,       /* recvmmsg calls per socket per turn, for fairness */
	NET_UDP_DGRAM_MAX = 2048, /* larger datagrams are dropped (requests use 512) */
	NET_UDP_CTL = 64,         /* control buffer per datagram: one in(6)_pktinfo */
	NET_UDP_OUT_PKTS = 1024,  /* datagrams per sendmmsg (UIO_MAXIOV) */
	/*
	 * A multi-packet answer of up to this many datagrams goes out as one
	 * message the kernel cuts into PROTO_UDP_PKT-byte datagrams (UDP GSO,
	 * UDP_SEGMENT): the kernel's limit since 4.18 (UDP_MAX_SEGMENTS).
	 */
	NET_UDP_GSO_SEGS = 64,
	NET_UDP_SCTL = NET_UDP_CTL + 32, /* send control: a pktinfo and the segment size */
	NET_UDP_REASM_SLOTS = 256,
	NET_UDP_REASM_BYTES = 16 << 20,
	NET_UDP_REASM_MS = 3000,                        /* clients retry at 0.5, 1, 1.5 s */
	NET_ANSWER_MAX = PROTO_ENV_LEN + PROTO_MSG_MAX, /* the handler's minimum cap */
	NET_ARENA = (1 << 20) + NET_ANSWER_MAX,         /* answers of one batch */
	NET_TCP_IN_INIT = 4096,                         /* inline input buffer of a connection */
	NET_TCP_OUT_HIGH = 1 << 20,  /* stop handling a connection's requests above this */
	NET_TCP_OUT_KEEP = 64 << 10, /* drained output buffers above this are freed */
	NET_TCP_ACCEPTS = 64,        /* accepts per listener per turn */
	NET_TICK_MS = 500,           /* housekeeping: reassembly expiry, paused listeners */
};

enum net_src_kind { NET_SRC_STOP, NET_SRC_UDP, NET_SRC_LISTEN, NET_SRC_CONN, NET_SRC_WAKE };

/* First member of everything registered with epoll: data.ptr points at it. */
struct net_src {
	enum net_src_kind kind;
};

struct net_sock {
	struct net_src src;
	int fd;
	int type; /* SOCK_DGRAM or SOCK_STREAM */
	int family;
	bool pktinfo; /* wildcard UDP: answer from the address asked */
	bool paused;  /* listener off until paused_until (out of fds) */
	uint64_t paused_until;
	unsigned listen_idx;
	unsigned worker;
};

struct net_conn {
	struct net_src src;
	int fd;
	uint64_t id;   /* net_req.conn_id */
	bool readable; /* edge-triggered: true until read() says EAGAIN */
	bool writable; /* likewise for send() */
	bool eof;      /* the peer will send no more */
	bool rdhup;    /* epoll reported the peer's FIN (or an error): read to the end */
	bool refused;  /* a request could not be answered: finish the others, then close */
	bool shut;     /* refused, and our side is shut after the last answer */
	bool closed;
	bool on_ready;
	bool held;       /* answers wait in out for the handler's commit (net_release) */
	size_t held_pre; /* bytes of out before the held answers (nothing is sent while held) */
	struct net_worker *w;
	struct net_later *later; /* a deferred answer this connection waits for (net_defer) */
	/* an answer in parts (net_more): its producer, until the last part */
	net_more_fn more;
	void (*more_done)(void *arg);
	void *more_arg;
	bool more_paused; /* it waited for its reader (counted once) */
	uint64_t last;    /* ms of the last progress: a whole request, answer bytes */
	uint64_t msg_t0;  /* ms of the first byte of the request being read */
	bool partial;     /* on the worker's partial list (reading a request) */
	/* The worker's conns list (least recent progress first), or its partial list. */
	struct net_conn *prev, *next;
	struct net_conn *rprev, *rnext; /* ready list: buffered requests left to handle */
	struct net_conn *dead_next;     /* freed at the end of the turn */
	struct net_conn *held_next;     /* the worker's held list */
	uint8_t *in;
	size_t inoff, inlen, incap;
	uint8_t *out; /* answers not yet taken by the kernel */
	size_t outoff, outlen, outcap;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint8_t inl[NET_TCP_IN_INIT];
};

struct net_conn_list {
	struct net_conn *head, *tail;
};

struct net_worker {
	struct net_server *s;
	unsigned idx;
	pthread_t th;
	bool started;
	int ep;
	void *wctx;
	bool inited; /* worker_init succeeded: worker_fini is due */
	int err;
	bool in_batch;
	uint64_t now; /* ms, CLOCK_MONOTONIC_COARSE, read once per turn */
	uint64_t next_tick;
	int64_t idle_in; /* ms until a TCP connection may fall idle, -1 none (net_tcp_sweep) */

	/* Written by this thread only, read by net_stats() with relaxed loads. */
	struct net_stats st;

	/* UDP receive side: NET_UDP_BATCH of each. */
	struct mmsghdr *rmsg;
	struct iovec *riov;
	struct sockaddr_storage *rname;
	uint8_t *rbuf; /* NET_UDP_BATCH * NET_UDP_DGRAM_MAX */
	uint8_t *rctl; /* NET_UDP_BATCH * NET_UDP_CTL */
	/*
	 * The socket rmsg's headers are set up for, and how many of them the
	 * last recvmmsg (and udp_reply_ctl) wrote to: only those are reset.
	 */
	const struct net_sock *rsk;
	unsigned rdirty;

	/* UDP send side: datagrams queued for one sendmmsg. */
	struct mmsghdr *smsg;
	struct iovec *siov; /* 2 per datagram: envelope, payload slice */
	proto_udp_frag *sfrag;
	uint8_t *sctl;  /* NET_UDP_SCTL per message: the control of a segmented one */
	uint16_t *sgso; /* per message: its datagrams when segmented by the kernel, else 0 */
	unsigned nsend; /* messages queued */
	unsigned nfrag; /* datagrams queued (sfrag, siov pairs): >= nsend */
	bool gso;       /* multi-packet answers as one segmented send (UDP GSO) */
	unsigned nsend_answers;

	/* Where the handler writes answers; emptied after every batch. */
	uint8_t *arena;
	size_t arena_used;

	proto_udp_rasm rasm;
	uint64_t rate_over; /* answers over their source's rate: every slip-th is sent */

	/* TCP */
	struct net_conn_list conns;   /* between requests, by last progress */
	struct net_conn_list partial; /* reading a request, by its first byte (msg_t0) */
	struct net_conn_list ready;
	struct net_conn *dead;
	struct net_conn *held; /* connections whose answers wait for commit() */

	/* Deferred answers (deferred.c): given by other threads, taken by this one. */
	struct net_later_q lq; /* closed when the worker has stopped: answers are dropped */
	struct net_src wake_src;
	bool listeners_paused;
};

struct net_server {
	net_config cfg; /* defaults filled in; listen strings not kept */
	size_t max_msg;
	unsigned max_conns, idle_ms, msg_ms, max_pipeline;
	unsigned nthreads;
	struct net_worker *w;
	struct net_sock *socks;
	unsigned nsocks;
	unsigned *ports; /* per listen address */
	int stopfd;
	struct net_src stop_src;
	atomic_uint nconns;
	atomic_uint_least64_t conn_ids; /* the last connection id given */

	/* Deferred answers not yet given (net_defer .. net_answer): net_wait waits for them. */
	struct net_later_count nlater;

	/* UDP answers: the budget and the rate limit (rrl.h), shared by the workers. */
	size_t udp_answer_max;
	unsigned udp_ratio, udp_slip;
	net_rrl rrl;

	struct net_crew crew; /* start-up handshake only */
};

/* Counter update by the owning thread, readable by others without a race. */
#define NET_ST_ADD(w, field, v)                                                                    \
	__atomic_store_n(&(w)->st.field, (w)->st.field + (uint64_t)(v), __ATOMIC_RELAXED)

/* worker.c */
void *net_worker_main(void *arg);
void net_batch_begin(struct net_worker *w);
/* Commits what the handler has pending and lets held answers go; < 0 if the commit failed. */
int net_release(struct net_worker *w);
/* Whether answers must be held back now (net_config.pending). */
static inline bool net_pending(const struct net_worker *w)
{
	return w->s->cfg.pending && w->s->cfg.pending(w->wctx);
}
int net_epoll_add(struct net_worker *w, int fd, uint32_t events, struct net_src *src);

/* udp_io.c */
int net_udp_init(struct net_worker *w);
void net_udp_fini(struct net_worker *w);
void net_udp_drain(struct net_worker *w, struct net_sock *sk);

/* tcp.c */
void net_tcp_accept(struct net_worker *w, struct net_sock *sk);
void net_tcp_event(struct net_worker *w, struct net_conn *c, uint32_t events);
void net_tcp_run_ready(struct net_worker *w);
/* Sends the held connections' answers (rc 0) or closes them (rc < 0). */
void net_tcp_release(struct net_worker *w, int rc);
/* A deferred answer for c is in (len 0: none; the connection ends). */
void net_tcp_later_done(struct net_worker *w, struct net_conn *c, const uint8_t *ans, size_t len);
/* Whether an answer of n bytes at out frames as whole messages (the envelopes' lengths). */
bool net_answer_frames(const uint8_t *out, size_t n);
/*
 * Closes connections idle between requests and those past a request's
 * deadline, pays what the budget says this server owes; returns ms until the
 * next deadline, or -1.
 */
int64_t net_tcp_sweep(struct net_worker *w);
void net_tcp_reap(struct net_worker *w);
void net_tcp_close_all(struct net_worker *w);

/* deferred.c */
int net_later_init(struct net_worker *w);
/* Takes the deferred answers in (on the wake event). */
void net_later_drain(struct net_worker *w);
/* A closing connection: the answer it waited for, if any, goes nowhere. */
void net_later_orphan(struct net_conn *c);
/* At the worker's exit, after its connections are closed: later answers are dropped. */
void net_later_fini(struct net_worker *w);
/* net_wait: until every deferred answer was given. */
void net_later_wait(struct net_server *s);

#endif
