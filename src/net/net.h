/*
 * net.h - the network layer: listeners, worker threads, UDP and TCP framing
 * of Handle messages (HTTP is net's too: http.h).
 *
 * net never interprets a request. It cuts the byte streams and datagrams it
 * receives into whole Handle messages (20-byte envelope + message, multi-packet
 * UDP requests reassembled), hands each to the handler, and sends back what
 * the handler writes (multi-packet UDP answers fragmented, TCP answers queued
 * in request order).
 *
 * Shared-nothing, as Knot and NSD: each worker thread owns an epoll loop and
 * its own SO_REUSEPORT UDP and TCP sockets on every listen address, so the
 * kernel spreads datagrams and connections across threads and no lock is
 * taken on the request path. UDP goes through recvmmsg/sendmmsg batches into
 * per-thread buffers allocated at start: no heap allocation per request.
 *
 * Threads: the handler, worker_init/fini and batch_begin/end all run on the
 * worker thread that owns the context. net_stop() may be called from any
 * thread and from a signal handler.
 */
#ifndef IDN_NET_NET_H
#define IDN_NET_NET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum net_transport { NET_UDP = 0, NET_TCP = 1 };

typedef struct net_req {
	enum net_transport transport;
	const struct sockaddr *peer;
	socklen_t peer_len;
	const uint8_t *msg; /* envelope + whole message, reassembled */
	size_t len;
	/*
	 * UDP: the socket the request came in on, -1 on TCP. A handler that
	 * returns 0 may answer later itself, from any thread, with sendto() on
	 * it to peer (e.g. a recursive node answering a cache miss from its
	 * resolver pool: the reply must come from the port the client asked).
	 * The socket stays open until net_wait() returns.
	 */
	int udp_fd;
	struct net_conn *conn; /* TCP: the connection (for net_defer); NULL on UDP */
	/*
	 * TCP: the connection's id, unique in the process and never reused (from
	 * 1), so state a handler binds to a connection (a login) can be named
	 * and freed by net_config.conn_closed; 0 on UDP.
	 */
	uint64_t conn_id;
} net_req;

/*
 * Writes the whole answer (envelope + message) into out (cap bytes) and
 * returns its length; 0 = send nothing; < 0 = error: the request is dropped
 * and, on TCP, the connection closed once the answers to the requests before
 * it are sent (a TCP request announcing more than max_msg bytes ends its
 * connection the same way). req and everything it points to are borrowed for
 * the duration of the call. cap is at least 20 + PROTO_MSG_MAX. The answer's
 * envelope must announce its message length (len - 20), or the answer is
 * dropped (counted in *_drops); on TCP only, the answer may be several whole
 * messages back to back (a list sent as continued messages), each envelope
 * announcing its own length. UDP answers over 512 bytes are fragmented
 * here; the handler writes one whole message.
 */
typedef int (*net_handler_fn)(void *wctx, const net_req *req, uint8_t *out, size_t cap);

/*
 * Answering a TCP request later, from another thread (a recursive node's
 * cache miss resolved by its pool): the handler calls net_defer(req) and
 * returns 0. The connection then handles none of its further requests (they
 * wait, buffered) until net_answer() brings this one's answer, so answers
 * stay in request order while the worker serves its other connections.
 *
 * net_answer: from any thread, exactly once per net_later (which it frees),
 * also after net_stop(): net_wait() waits for every outstanding one. The
 * answer is checked as a handler's; len 0 (or one that does not frame) is
 * an error: the connection ends after the answers before it. If the
 * connection closed meanwhile, the answer is dropped.
 *
 * net_defer returns NULL on UDP (answer with sendto() on udp_fd), for a
 * connection already waiting for one, or out of memory.
 */
typedef struct net_later net_later;
net_later *net_defer(const net_req *req);
void net_answer(net_later *later, const uint8_t *ans, size_t len);

/*
 * A TCP answer in parts (a list too long to build at once): the handler
 * writes the first part as its answer and calls net_more(req, next, done,
 * arg). Whenever the connection's unsent answers are below
 * NET_TCP_OUT_HIGH, next(wctx, arg, out, cap) writes the next part (whole
 * messages, checked as a handler's answer; cap as a handler's) and returns
 * its length, setting *last on the final one; < 0 or a malformed part ends
 * the connection after what was sent. So a connection holds about one part
 * and the high mark however long the answer, and a client that stops
 * reading stops the parts (the idle deadline then closes it). Its further
 * requests wait. done(arg) is called exactly once: after the last part, or
 * when the connection closes. Returns false, calling nothing, on UDP or
 * when the connection already has one.
 */
typedef int (*net_more_fn)(void *wctx, void *arg, uint8_t *out, size_t cap, bool *last);
bool net_more(const net_req *req, net_more_fn next, void (*done)(void *arg), void *arg);

/*
 * A limit on open connections shared by several servers: the Handle TCP and
 * the HTTP listeners of one node (idnode serve --max-connections), and the
 * share of one source (--max-conns-per-source: an IPv4 address or an IPv6
 * /64) across all of them. A server given one refuses a new connection from
 * a source over its share, and treats the budget being spent as its own
 * limit (it makes room by closing its least useful connection, or refuses).
 * Owned by the caller; must outlive the servers.
 */
struct net_src_table;
enum {
	NET_DEF_CONNS = 4096,           /* max_tcp_conns, and HTTP's max_conns, when 0 */
	NET_DEF_CONNS_PER_SOURCE = 256, /* a NATed office's worth */
	NET_BUDGET_DEBT_MAX = 32,       /* connections over max at once, owed back */
};
typedef struct net_conn_budget {
	atomic_uint open;
	unsigned max;        /* 0: no limit on the total */
	unsigned per_source; /* 0: no limit per source */
	atomic_uint
	    debt[2]; /* connections over max, the NET_BUDGET_TCP / _HTTP server's to close */
	struct net_src_table *src; /* net_budget_init: the count of each source */
} net_conn_budget;

/*
 * Sets the limits of b (zeroed by the caller) and, with per_source, makes its
 * table for up to `conns` connections open at once. IDN_ENOMEM or 0.
 */
int net_budget_init(net_conn_budget *b, unsigned max, unsigned per_source, unsigned conns);
void net_budget_fini(net_conn_budget *b);

/* Takes one connection of b (NULL: no limit); false when none is left. */
static inline bool net_budget_take(net_conn_budget *b)
{
	if (!b)
		return true;
	if (atomic_fetch_add_explicit(&b->open, 1, memory_order_relaxed) < b->max || !b->max)
		return true;
	atomic_fetch_sub_explicit(&b->open, 1, memory_order_relaxed);
	return false;
}

static inline void net_budget_give(net_conn_budget *b)
{
	if (b)
		atomic_fetch_sub_explicit(&b->open, 1, memory_order_relaxed);
}

/*
 * The budget is spent and the caller, server `who`, has no connection it may
 * close to make room (the other server holds them): rather than refuse, it
 * takes one over max and the other server owes one back (false:
 * NET_BUDGET_DEBT_MAX are owed already). The other pays when it next has a
 * connection that may go: net_budget_owed says one of who's is due,
 * net_budget_unowe gives it back when there was none to close. So neither
 * server of a node can starve the other.
 */
enum net_budget_who { NET_BUDGET_TCP, NET_BUDGET_HTTP };
bool net_budget_take_over(net_conn_budget *b, enum net_budget_who who);
bool net_budget_owed(net_conn_budget *b, enum net_budget_who who);
void net_budget_unowe(net_conn_budget *b, enum net_budget_who who);
/* Whether server who owes connections now (a relaxed look). */
static inline bool net_budget_owes(net_conn_budget *b, enum net_budget_who who)
{
	return b && atomic_load_explicit(&b->debt[who], memory_order_relaxed) > 0;
}

/*
 * One more connection from peer's source; false (nothing taken) when the
 * source holds per_source already. True without a table (NULL b too).
 */
bool net_budget_src_take(net_conn_budget *b, const struct sockaddr_storage *peer);
/* The connection from peer taken by net_budget_src_take is gone. */
void net_budget_src_give(net_conn_budget *b, const struct sockaddr_storage *peer);

/*
 * RLIMIT_NOFILE: net_fd_raise lifts the soft limit to the hard one (best
 * effort) and returns the limit in force; net_fd_limit only reads it.
 */
unsigned long long net_fd_raise(void);
unsigned long long net_fd_limit(void);

typedef struct net_config {
	/*
	 * Held: the sockets are bound and the workers set up, but none reads a
	 * request until net_go(), so a node whose later start-up fails (another
	 * listener's address taken) never answered. The kernel queues what
	 * comes meanwhile; net_wait() without net_go() drops it.
	 */
	bool held;
	/*
	 * "ADDR:PORT" (IPv4), "[V6]:PORT" or ":PORT" (every address: 0.0.0.0
	 * and [::], the latter skipped if the host has no IPv6). Numeric only.
	 * IPv6 sockets are IPV6_V6ONLY. Port 0 picks a free port, the same for
	 * UDP and TCP and every thread; net_bound_port() tells which.
	 */
	const char **listen;
	unsigned nlisten;
	/* Optional: a limit on TCP connections shared with other servers, as above. */
	net_conn_budget *budget;
	unsigned threads; /* 0 = the CPUs this process may run on */
	size_t max_msg;   /* request limit (message, envelope excluded); 0 = PROTO_MSG_MAX */
	/*
	 * Per process; 0 = NET_DEF_CONNS. Beyond, the worker's connection that
	 * made progress longest ago and has no request in flight is closed to
	 * admit the new one; if none may go, the new one is accepted and reset.
	 */
	unsigned max_tcp_conns;
	unsigned tcp_idle_ms;      /* no whole message either way for this long closes; 0 = 30000 */
	unsigned tcp_message_ms;   /* a request must be whole this long after its first byte;
	                              0 = 5000 */
	unsigned tcp_max_pipeline; /* requests one connection may have handled per loop turn
	                              before others get a go; 0 = 32 */
	/*
	 * UDP answers (docs/security.md, "UDP: answer budget and response rate
	 * limiting"). An answer whose datagrams would put more than
	 * min(udp_answer_max, udp_amplification x the request's datagrams) bytes
	 * on the wire is replaced by a short RC_ERROR asking for TCP; 0 = 1232
	 * and 10. udp_rate_limit: answers per second to one source prefix (IPv4
	 * /24, IPv6 /56), one second's worth at once; 0 = no limit. Over it, an
	 * answer is dropped, except every udp_rate_slip-th (0: none), which is
	 * the short RC_ERROR asking for TCP.
	 */
	unsigned udp_answer_max, udp_amplification;
	unsigned udp_rate_limit, udp_rate_slip;
	/*
	 * true: a multi-packet UDP answer goes out as one send per datagram.
	 * false (the default): as one send the kernel cuts into the same
	 * datagrams (UDP GSO), where the kernel can; the datagrams on the wire
	 * are the same bytes either way.
	 */
	bool udp_no_gso;
	/* networks ("ADDR/BITS") the rate limit does not apply to (rrl.h) */
	const char *const *udp_rate_exempt;
	size_t n_udp_rate_exempt;
	/*
	 * Per-thread context for the handler, made on the worker thread. NULL
	 * worker_init: the context is arg. A worker_init that returns NULL makes
	 * net_start() fail.
	 */
	void *(*worker_init)(void *arg, unsigned idx);
	void (*worker_fini)(void *wctx);
	/*
	 * Optional, around each batch of requests (one loop turn: a recvmmsg
	 * batch or several, ready TCP connections): e.g. the handler renews its
	 * read snapshot once per batch. batch_end always comes before the thread
	 * sleeps, so nothing is held while idle.
	 */
	void (*batch_begin)(void *wctx);
	void (*batch_end)(void *wctx);
	/*
	 * Optional, both or neither: for a handler that makes writes durable
	 * in groups (node_worker_group). While pending() says so, answers are
	 * held back; commit() is called before any answer leaves, and at the
	 * end of every turn that has some: on 0 the held answers go out, on
	 * failure (< 0) the UDP answers of the batch are dropped, since they
	 * may tell of writes that did not happen, and each held TCP answer is
	 * replaced by unsaved()'s (an error to the same request), or without
	 * it (or when it fails, < 0) its connection is closed unanswered.
	 */
	bool (*pending)(void *wctx);
	int (*commit)(void *wctx);
	/* Optional: the answer (length in out) to send instead of ans after commit() failed with
	 * err. */
	int (*unsaved)(void *wctx, const uint8_t *ans, size_t len, int err, uint8_t *out,
	               size_t cap);
	net_handler_fn handle;
	void *arg;
	/*
	 * Optional: a TCP connection whose requests carried conn_id is closed
	 * (by either side, for any reason, also at net_wait). Called exactly
	 * once per connection, on the worker thread that owned it, with that
	 * worker's context, before worker_fini.
	 */
	void (*conn_closed)(void *wctx, uint64_t conn_id);
	/*
	 * Optional: where net_start() writes what went wrong, naming the
	 * address ("listen 10.0.0.1:2641 (udp): Address already in use").
	 */
	char *errbuf;
	size_t errbuf_len;
} net_config;

/* Counters, summed over threads when read. */
struct net_stats {
	uint64_t udp_requests;  /* whole messages handed to the handler */
	uint64_t udp_answers;   /* answers queued for sending (a multi-packet one counts once) */
	uint64_t udp_drops;     /* bad datagrams, refused reassembly, handler errors, bad answers */
	uint64_t udp_pkts_in;   /* datagrams received */
	uint64_t udp_pkts_out;  /* datagrams the kernel took */
	uint64_t udp_send_fail; /* datagrams it refused (send buffer full, unreachable) */
	uint64_t udp_gso;       /* multi-packet answers sent as one segmented send (UDP GSO) */
	uint64_t udp_bytes_in;  /* datagram payloads, envelopes included */
	uint64_t udp_bytes_out;
	uint64_t udp_reasm_pending; /* multi-packet requests being reassembled */
	uint64_t tcp_requests;
	uint64_t tcp_answers;
	uint64_t tcp_drops; /* handler errors, malformed answers, oversized requests */
	uint64_t tcp_bytes_in;
	uint64_t tcp_bytes_out;
	uint64_t tcp_accepted;
	uint64_t tcp_refused; /* over a source's share, or at a cap with none to close */
	uint64_t tcp_closed_idle;
	uint64_t tcp_conns;   /* open now */
	uint64_t commits;     /* group commits (net_config.commit) */
	uint64_t commit_fail; /* of which failed: their answers were dropped */
};

typedef struct net_server net_server;

/*
 * Binds every socket (an error names the address, see errbuf), starts the
 * threads and runs worker_init on each. On success *out serves until
 * net_stop(); on failure nothing is left running. Returns 0 or an idn_err.
 */
int net_start(const net_config *cfg, net_server **out);

/* A held server's workers (net_config.held) begin to serve. */
void net_go(net_server *s);

/* Asks every worker to stop. Async-signal-safe, idempotent, any thread. */
void net_stop(net_server *s);

/*
 * Waits for the workers to finish their turn and exit (each runs
 * worker_fini), closes the sockets and connections and frees s. Returns 0, or
 * the first error a worker met.
 */
int net_wait(net_server *s);

/*
 * Blocks SIGTERM and SIGINT in the calling thread (the workers have them
 * blocked since net_start), waits until one arrives or net_stop() is called,
 * then stops and waits. Returns net_wait()'s result; s is freed.
 */
int net_run_until_signal(net_server *s);

/* The port listen address idx (as in cfg->listen) is bound to: resolves port 0. */
unsigned net_bound_port(const net_server *s, unsigned idx);

/* Number of worker threads running. */
unsigned net_threads(const net_server *s);

void net_stats(net_server *s, struct net_stats *st);

#endif
