/*
 * common.h - what net's two servers (the Handle UDP/TCP one of server.c and
 * the HTTP one of http.c) share: the event loop of a worker thread, the
 * clock, listen addresses and listening sockets, the stop eventfd, the
 * queues of answers given later, and the start-up of worker threads. Not for
 * use outside src/net.
 */
#ifndef IDN_NET_COMMON_H
#define IDN_NET_COMMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/net.h"

/*
 * ms, CLOCK_MONOTONIC_COARSE: a few ms of resolution is plenty for idle
 * timeouts and deadlines, and cheaper than anything else.
 */
uint64_t net_now_ms(void);

/* Writes a message into errbuf (errbuf_len bytes; nothing if NULL or 0). */
void net_set_err(char *errbuf, size_t errbuf_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- listen addresses and sockets (listen.c) ---- */

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool wildcard; /* 0.0.0.0 or [::]: UDP answers need pktinfo */
	bool optional; /* the [::] of ":PORT": skipped on a host without IPv6 */
};

/*
 * "ADDR:PORT", "[V6]:PORT", ":PORT" or "*:PORT" -> one or two addresses
 * (*na) and the port. dual: ":PORT" and "*:PORT" mean 0.0.0.0 and [::] (the
 * latter optional); otherwise ":PORT" means 0.0.0.0 alone and "*" is not an
 * address. Errors (IDN_ECONFIG) go to errbuf, prefixed with who ("" or "http ").
 */
int net_listen_parse(const char *who, char *errbuf, size_t errbuf_len, const char *spec, bool dual,
                     struct net_addr a[2], unsigned *na, unsigned *port);
void net_addr_set_port(struct net_addr *a, unsigned port);
/* The port a socket is bound to (0 if unknown). */
unsigned net_sock_port(int fd);

/* What a listening socket needs beyond bind (SOCK_STREAM: listen()). */
enum { NET_LISTEN_BACKLOG = 1024 };

/*
 * One bound, non-blocking socket of type (SOCK_DGRAM, or SOCK_STREAM and
 * listening); -errno on failure. A probe is bound alone, without
 * SO_REUSEPORT, and closed at once by the caller: SO_REUSEPORT would let us
 * join the group of another process of the same user on that port and
 * silently share its traffic, so the probe makes "address in use" an error
 * again. (TCP probes keep SO_REUSEADDR so that TIME_WAIT leftovers do not
 * count.) udp_bufsize: SO_RCVBUF/SO_SNDBUF of a UDP socket (best effort).
 */
int net_sock_open(const struct net_addr *a, int type, bool probe, int udp_bufsize);

/*
 * The first socket of a group at *port: with port 0, a probe picks the
 * port first (written back to *port and a). Returns net_sock_open()'s result.
 */
int net_sock_open_first(struct net_addr *a, int type, unsigned *port, int udp_bufsize);

/* ---- sources and descriptors (budget.c) ---- */

/* A connection's source as the per-source share counts it: IPv4 address, IPv6 /64. */
void net_src_key(const struct sockaddr_storage *peer, uint8_t key[16]);
/* Its address as text, for the log (cap: INET6_ADDRSTRLEN). */
void net_src_name(const struct sockaddr_storage *peer, char *out, size_t cap);

/*
 * One descriptor per process kept open in reserve (net_fd_reserve, at each
 * server's start), so that when accept() says EMFILE or ENFILE the listener
 * can still take the newcomer off its queue: net_fd_shed closes the reserve,
 * accepts and resets the newcomer, reopens the reserve, and counts and logs
 * LIM_FD_EXHAUSTED naming who ("tcp", "http"). Returns whether one was shed.
 */
void net_fd_reserve(void);
bool net_fd_shed(int lfd, const char *who);

/*
 * When a connection must be closed to admit another (a cap reached, or out
 * of descriptors): the one cheapest to lose. Candidates are looked at, at
 * most NET_EVICT_SCAN, from the one that made progress (a whole request or
 * answer) longest ago; one with a request in flight is not a candidate.
 */
enum { NET_EVICT_SCAN = 64 };

/*
 * A newcomer at a server (TCP or HTTP): counted in its source's share, the
 * server's connections (nconns, at most max: cap_name says which setting)
 * and the budget. At a cap, evict(ctx, why) closes one of the worker's
 * connections to make room (false when none may go); when the budget is
 * spent and the worker has none to close, it takes one over the budget, owed
 * by the other server (net.h). net_unadmit gives back what was taken.
 */
enum { NET_ADMIT_TRIES = 4 };
enum net_admit { NET_ADMIT_OK, NET_ADMIT_SOURCE, NET_ADMIT_FULL };
struct net_admit_to {
	const char *name; /* "tcp", "http": for the log */
	const char *cap_name;
	enum net_budget_who who;
	net_conn_budget *budget;
	atomic_uint *nconns;
	unsigned max;
	bool (*evict)(void *ctx, const char *why);
	void *ctx;
};
enum net_admit net_admit(const struct net_admit_to *to, const struct sockaddr_storage *peer);
void net_unadmit(const struct net_admit_to *to, const struct sockaddr_storage *peer);

/* A listener that accept() fails on for want of descriptors or memory rests this long. */
enum { NET_ACCEPT_PAUSE_MS = 100 };

/*
 * Whether a listening TCP socket other than fds (ours) is on a's port and
 * address (or a wildcard of the family): another process whose probe passed
 * at the same instant as ours and joined our SO_REUSEPORT group. Read from
 * /proc/net/tcp{,6} once the group is listening; false without /proc.
 */
bool net_listen_shared(const struct net_addr *a, unsigned port, const int *fds, unsigned nfds);

/* ---- the event loop (loop.c) ---- */

/*
 * One worker thread's epoll loop on ep. A turn: sleep until an event or
 * timeout() ms (-1: no limit), read the clock into *now, hand each event's
 * data.ptr to event(), then turn_end(); ctx (the worker) is passed to each.
 * An event() that returns false (the stop eventfd) makes that turn the last.
 */
struct net_loop_ops {
	int (*timeout)(void *ctx);
	bool (*event)(void *ctx, void *ptr, uint32_t events);
	void (*turn_end)(void *ctx);
};

/* Runs turns until an event says stop; returns 0, or the idn_err of a failed epoll_wait. */
int net_loop_run(int ep, uint64_t *now, void *ctx, const struct net_loop_ops *ops);

/* ---- answers given later by other threads (later_q.c) ---- */

/*
 * A worker's queue of answers given by other threads (deferred.c for TCP,
 * http_later.c for HTTP) and the eventfd that wakes the worker. An entry
 * begins with a net_later_link. Once the queue is closed (the worker has
 * stopped), push refuses and the giver frees its entry.
 */
struct net_later_link {
	struct net_later_link *next;
};
struct net_later_q {
	int wakefd;         /* -1 until net_later_q_init */
	pthread_mutex_t mu; /* guards head, tail, closed */
	bool mu_init, closed;
	struct net_later_link *head, *tail;
};
/* The eventfd, added to ep with data.ptr = ptr, and the lock. */
int net_later_q_init(struct net_later_q *q, int ep, void *ptr);
/* Any thread: queues l and wakes the worker; false when closed (nothing queued). */
bool net_later_q_push(struct net_later_q *q, struct net_later_link *l);
/* The worker, on the wake event: the entries queued so far, in order. */
struct net_later_link *net_later_q_take(struct net_later_q *q);
/* The worker, at its exit: closes q and returns the entries left. */
struct net_later_link *net_later_q_close(struct net_later_q *q);
/* When the server is freed: the eventfd and the lock. */
void net_later_q_destroy(struct net_later_q *q);

/* A server's count of entries outstanding (from defer to free), for its wait. */
struct net_later_count {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned n;
};
void net_later_count_init(struct net_later_count *c);
void net_later_count_destroy(struct net_later_count *c);
void net_later_count_add(struct net_later_count *c);
/* One fewer; the last wakes net_later_count_wait. */
void net_later_count_done(struct net_later_count *c);
/* Waits until none is outstanding. */
void net_later_count_wait(struct net_later_count *c);

/* ---- stop and worker threads (threads.c) ---- */

/* The stop signal: an eventfd that, once written, stays readable. */
int net_stopfd_new(void);
/* Async-signal-safe, idempotent. */
void net_stopfd_raise(int fd);

/*
 * The start-up handshake of a server's worker threads: each reports how its
 * set-up went, and the starter waits for all the reports.
 */
struct net_crew {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned nready;
	int start_err; /* the first set-up error reported */
	bool held;     /* the workers wait for net_crew_go once set up */
	int go;        /* 0 still held, 1 go, -1 stopped before going */
};
void net_crew_init(struct net_crew *c);
void net_crew_destroy(struct net_crew *c);
/*
 * Called by a worker once its set-up is done; returns whether it goes on to
 * serve: rc is 0 and, for a held crew, net_crew_go said go (it waits here
 * until it says either).
 */
bool net_crew_report(struct net_crew *c, int rc);
/* Releases a held crew: go, or stop before serving; the first word stands. */
void net_crew_go(struct net_crew *c, bool go);
/* Waits until `started` workers have reported; returns the first error, or 0. */
int net_crew_wait(struct net_crew *c, unsigned started);

/*
 * pthread_create with SIGINT and SIGTERM (they go to the thread that waits
 * for them) and SIGPIPE (a peer gone is EPIPE, never a killed process)
 * blocked in the new thread. Returns 0 or an errno value.
 */
int net_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#endif
