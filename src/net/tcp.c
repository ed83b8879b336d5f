/*
 * tcp.c - the TCP path: envelope + message back to back on a persistent
 * connection, requests answered in order.
 *
 * Connections are edge-triggered (registered once, never modified), so the
 * state that epoll no longer repeats is kept here: `readable` until read()
 * says EAGAIN, `writable` until send() does. A connection reads only while
 * it lacks a whole request, handles at most max_pipeline requests per turn
 * (the rest wait on the ready list, so one client cannot hold a worker), and
 * stops handling while more than NET_TCP_OUT_HIGH bytes of its answers wait
 * for the peer to read them. Memory per connection is thus bounded by one
 * request plus about NET_TCP_OUT_HIGH + one arena of output.
 *
 * A request that cannot be answered (announced length over the limit, a
 * handler error) ends the connection gracefully: answers to the requests
 * before it still go out, then a FIN (see conn_refuse()).
 *
 * Answers of one turn are written into the worker's arena and sent with one
 * send() when the connection has nothing queued; only what the kernel does
 * not take is copied into the connection's own output buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limit.h"
#include "core/wire.h"
#include "net/internal.h"

/* ---- lists ---- */

static void list_push(struct net_conn_list *l, struct net_conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void list_del(struct net_conn_list *l, struct net_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static void ready_push(struct net_worker *w, struct net_conn *c)
{
	if (c->on_ready)
		return;
	c->on_ready = true;
	c->rnext = NULL;
	c->rprev = w->ready.tail;
	if (w->ready.tail)
		w->ready.tail->rnext = c;
	else
		w->ready.head = c;
	w->ready.tail = c;
}

static void ready_del(struct net_worker *w, struct net_conn *c)
{
	if (!c->on_ready)
		return;
	if (c->rprev)
		c->rprev->rnext = c->rnext;
	else
		w->ready.head = c->rnext;
	if (c->rnext)
		c->rnext->rprev = c->rprev;
	else
		w->ready.tail = c->rprev;
	c->rprev = c->rnext = NULL;
	c->on_ready = false;
}

/*
 * Progress (a whole request read, answer bytes taken by the peer): the
 * connection is the most recently useful. Bytes of a request still being
 * read are not progress: a peer trickling them keeps its place.
 */
static void conn_touch(struct net_worker *w, struct net_conn *c)
{
	c->last = w->now;
	if (!c->partial && w->conns.tail != c) {
		list_del(&w->conns, c);
		list_push(&w->conns, c);
	}
}

/*
 * Whether the connection is reading a request (or was refused and drops
 * what it is sent): then it is on the partial list and must be done within
 * msg_ms of that request's first byte, whatever it trickles meanwhile.
 * Leaving it means a request became whole: progress.
 */
static void conn_set_partial(struct net_worker *w, struct net_conn *c, bool partial)
{
	if (partial == c->partial)
		return;
	if (partial) {
		list_del(&w->conns, c);
		list_push(&w->partial, c);
		c->msg_t0 = w->now;
	} else {
		list_del(&w->partial, c);
		c->last = w->now;
		list_push(&w->conns, c);
		c->msg_t0 = 0;
	}
	c->partial = partial;
}

static void conn_free(struct net_conn *c)
{
	if (c->in != c->inl)
		free(c->in);
	free(c->out);
	free(c);
}

/* An answer in parts is over (all sent, or the connection closed). */
static void more_end(struct net_conn *c)
{
	void (*done)(void *) = c->more_done;
	void *arg = c->more_arg;
	bool had = c->more != NULL;
	c->more = NULL;
	c->more_done = NULL;
	c->more_arg = NULL;
	if (had && done)
		done(arg);
}

bool net_more(const net_req *req, net_more_fn next, void (*done)(void *arg), void *arg)
{
	struct net_conn *c = req->conn;
	if (!c || c->more || !next)
		return false;
	c->more = next;
	c->more_done = done;
	c->more_arg = arg;
	c->more_paused = false;
	return true;
}

/* Closes now; the memory goes at the end of the turn (events may still name it). */
static void conn_close(struct net_worker *w, struct net_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	net_later_orphan(c);
	more_end(c);
	/* Explicit: a fork elsewhere in the process may hold the fd open. */
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	list_del(c->partial ? &w->partial : &w->conns, c);
	ready_del(w, c);
	c->dead_next = w->dead;
	w->dead = c;
	atomic_fetch_sub_explicit(&w->s->nconns, 1, memory_order_relaxed);
	net_budget_give(w->s->cfg.budget);
	net_budget_src_give(w->s->cfg.budget, &c->peer);
	if (w->inited && w->s->cfg.conn_closed)
		w->s->cfg.conn_closed(w->wctx, c->id);
}

void net_tcp_reap(struct net_worker *w)
{
	while (w->dead) {
		struct net_conn *c = w->dead;
		w->dead = c->dead_next;
		conn_free(c);
	}
}

/* ---- output ---- */

static size_t out_pending(const struct net_conn *c)
{
	return c->outlen - c->outoff;
}

/* Sends what is queued; 0, or < 0 when the connection is broken. */
static int conn_write(struct net_worker *w, struct net_conn *c)
{
	uint64_t bytes = 0;
	int rc = 0;

	if (c->held)
		return IDN_OK; /* net_tcp_release() sends them */
	while (c->writable && out_pending(c) > 0) {
		size_t want = out_pending(c);
		ssize_t n = send(c->fd, c->out + c->outoff, want, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->outoff += (size_t)n;
			bytes += (size_t)n;
			if ((size_t)n < want)
				c->writable =
				    false; /* the send buffer is full: wait for EPOLLOUT */
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->writable = false;
		} else {
			rc = IDN_ENET;
			break;
		}
	}
	if (out_pending(c) == 0) {
		c->outoff = c->outlen = 0;
		if (c->outcap > NET_TCP_OUT_KEEP) {
			free(c->out);
			c->out = NULL;
			c->outcap = 0;
		}
	}
	if (bytes) {
		NET_ST_ADD(w, tcp_bytes_out, bytes);
		conn_touch(w, c);
	}
	return rc;
}

static int out_append(struct net_conn *c, const uint8_t *p, size_t n)
{
	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outcap - c->outlen < n) {
		/* Slide the unsent part down before growing. */
		if (c->outoff > 0) {
			memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
			c->outlen -= c->outoff;
			c->outoff = 0;
		}
		if (c->outcap - c->outlen < n) {
			size_t cap = c->outcap ? c->outcap : 16384;
			while (cap - c->outlen < n)
				cap *= 2;
			uint8_t *b = realloc(c->out, cap);
			if (!b)
				return IDN_ENOMEM;
			c->out = b;
			c->outcap = cap;
		}
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return IDN_OK;
}

/*
 * Moves the answers in the arena towards the peer: straight to the kernel
 * when nothing is queued before them, else behind the queue.
 */
static int conn_flush_arena(struct net_worker *w, struct net_conn *c)
{
	const uint8_t *p = w->arena;
	size_t n = w->arena_used;

	w->arena_used = 0;
	if (n == 0)
		return IDN_OK;
	if (!c->held && net_pending(w)) {
		/* They may tell of writes not yet durable: queued until the commit. */
		c->held = true;
		c->held_pre = out_pending(c);
		c->held_next = w->held;
		w->held = c;
	}
	if (out_pending(c) == 0 && c->writable && !c->held) {
		for (;;) {
			ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k >= 0) {
				p += k;
				n -= (size_t)k;
				NET_ST_ADD(w, tcp_bytes_out, k);
				conn_touch(w, c);
				if (n == 0)
					return IDN_OK;
				c->writable = false; /* short: the send buffer is full */
				break;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->writable = false;
				break;
			}
			return IDN_ENET;
		}
	}
	int rc = out_append(c, p, n);
	if (rc < 0)
		return rc;
	return conn_write(w, c);
}

/* ---- input ---- */

enum { CONN_REFUSED = 1, CONN_DISCARD_READS = 16 };

/* Makes room to read the rest of a request of `need` bytes starting at inoff. */
static int conn_in_room(struct net_conn *c, size_t need)
{
	size_t have = c->inlen - c->inoff;

	if (c->incap - c->inoff >= need)
		return IDN_OK;
	if (c->incap >= need) { /* room enough once the consumed bytes are gone */
		memmove(c->in, c->in + c->inoff, have);
		c->inoff = 0;
		c->inlen = have;
		return IDN_OK;
	}
	/* A large request: a buffer of its size (plus room for what follows). */
	size_t cap = need + NET_TCP_IN_INIT;
	uint8_t *b = malloc(cap);
	if (!b)
		return IDN_ENOMEM;
	memcpy(b, c->in + c->inoff, have);
	if (c->in != c->inl)
		free(c->in);
	c->in = b;
	c->incap = cap;
	c->inoff = 0;
	c->inlen = have;
	return IDN_OK;
}

/* Everything read was handled: back to the inline buffer. */
static void conn_in_reset(struct net_conn *c)
{
	c->inoff = c->inlen = 0;
	if (c->in != c->inl) {
		free(c->in);
		c->in = c->inl;
		c->incap = NET_TCP_IN_INIT;
	}
}

/*
 * An answer is one or more whole messages back to back (a long list goes out
 * as several continued ones). An envelope that lies about its length would
 * desynchronise the stream: each must end where the next begins, the last
 * exactly at n.
 */
bool net_answer_frames(const uint8_t *out, size_t n)
{
	size_t off = 0;
	while (n - off >= PROTO_ENV_LEN) {
		size_t mlen = idn_be32(out + off + 16);
		if (mlen > n - off - PROTO_ENV_LEN)
			return false;
		off += PROTO_ENV_LEN + mlen;
		if (off == n)
			return true;
	}
	return false;
}

/*
 * Hands one request to the handler; its answer goes to the arena. Returns 0,
 * CONN_REFUSED when the handler failed or wrote a malformed answer (the
 * connection ends after the answers before it), or < 0 when the connection
 * broke.
 */
static int conn_handle(struct net_worker *w, struct net_conn *c, const uint8_t *msg, size_t len)
{
	if (NET_ARENA - w->arena_used < NET_ANSWER_MAX) {
		int rc = conn_flush_arena(w, c);
		if (rc < 0)
			return rc;
	}
	net_req req = {
	    .transport = NET_TCP,
	    .peer = (const struct sockaddr *)&c->peer,
	    .peer_len = c->peer_len,
	    .msg = msg,
	    .len = len,
	    .udp_fd = -1,
	    .conn = c,
	    .conn_id = c->id,
	};
	uint8_t *out = w->arena + w->arena_used;
	size_t cap = NET_ARENA - w->arena_used;

	net_batch_begin(w);
	NET_ST_ADD(w, tcp_requests, 1);
	int n = w->s->cfg.handle(w->wctx, &req, out, cap);
	if (n == 0)
		return IDN_OK;
	if (n < 0 || (size_t)n > cap || !net_answer_frames(out, (size_t)n)) {
		NET_ST_ADD(w, tcp_drops, 1);
		return CONN_REFUSED;
	}
	w->arena_used += (size_t)n;
	NET_ST_ADD(w, tcp_answers, 1);
	return IDN_OK;
}

/*
 * After a request that cannot be answered (an announced length over the
 * limit, a handler error): no more requests are read, the answers to the
 * earlier ones still go out, then our side is shut and what the peer still
 * sends is read and dropped until it closes (or its deadline, tcp_message_ms,
 * passes: a refused connection stays on the partial list). Closing at once
 * with unread input would make the kernel send a reset and throw away the
 * answers still queued.
 */
static void conn_refuse(struct net_conn *c)
{
	c->refused = true;
	c->inoff = c->inlen = 0;
}

/*
 * The next part of an answer in parts into the arena; as conn_handle, but a
 * failure refuses the connection itself (CONN_REFUSED).
 */
static int conn_more(struct net_worker *w, struct net_conn *c)
{
	if (NET_ARENA - w->arena_used < NET_ANSWER_MAX) {
		int rc = conn_flush_arena(w, c);
		if (rc < 0)
			return rc;
	}
	uint8_t *out = w->arena + w->arena_used;
	size_t cap = NET_ARENA - w->arena_used;
	bool last = false;

	net_batch_begin(w);
	int n = c->more(w->wctx, c->more_arg, out, cap, &last);
	if (n < 0 || (size_t)n > cap || (n > 0 && !net_answer_frames(out, (size_t)n))) {
		NET_ST_ADD(w, tcp_drops, 1);
		more_end(c);
		conn_refuse(c);
		return CONN_REFUSED;
	}
	w->arena_used += (size_t)n;
	if (last)
		more_end(c);
	return IDN_OK;
}

/* Reads and drops input of a refused connection; < 0 when it broke. */
static int conn_discard(struct net_worker *w, struct net_conn *c)
{
	for (int i = 0; i < CONN_DISCARD_READS && c->readable && !c->eof; i++) {
		ssize_t n = read(c->fd, c->in, c->incap);
		if (n == 0)
			c->eof = true;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			c->readable = false;
		else if (n < 0 && errno != EINTR)
			return IDN_ENET;
	}
	/* Not progress: a peer that only sends garbage meets its deadline. */
	if (c->readable && !c->eof)
		ready_push(w, c);
	return IDN_OK;
}

/*
 * Handles what is buffered, reads while a request is incomplete, sends the
 * answers. Closes the connection when it breaks, and once the peer has
 * finished (or was refused) and every answer is out.
 */
static void conn_run(struct net_worker *w, struct net_conn *c)
{
	unsigned budget = w->s->max_pipeline;
	uint64_t bytes = 0;
	bool whole = false; /* a complete request is still buffered */
	int rc = IDN_OK;

	ready_del(w, c);
	while (!c->refused) {
		size_t have = c->inlen - c->inoff;
		size_t need = PROTO_ENV_LEN;

		if (c->later) {
			/* The rest waits for the deferred answer (net_tcp_later_done). */
			whole = true;
			break;
		}
		if (c->more) {
			/* The rest waits for the parts of the answer before it. */
			whole = true;
			if (out_pending(c) + w->arena_used >= NET_TCP_OUT_HIGH)
				break; /* resumed by EPOLLOUT */
			if (budget == 0) {
				ready_push(w, c);
				break;
			}
			budget--;
			if ((rc = conn_more(w, c)) < 0)
				goto out;
			if (rc == CONN_REFUSED) {
				rc = IDN_OK;
				break; /* the connection ends after what was sent */
			}
			continue;
		}
		if (have == 0 && c->inoff > 0)
			conn_in_reset(c);
		if (have >= PROTO_ENV_LEN) {
			uint32_t msg_len = idn_be32(c->in + c->inoff + 16);
			if (msg_len > w->s->max_msg) {
				/* The handler sees the envelope alone and may answer an error. */
				NET_ST_ADD(w, tcp_drops, 1);
				rc = conn_handle(w, c, c->in + c->inoff, PROTO_ENV_LEN);
				if (rc < 0)
					goto out;
				rc = IDN_OK;
				conn_refuse(c);
				break;
			}
			need += msg_len;
			if (have >= need) {
				whole = true;
				if (out_pending(c) >= NET_TCP_OUT_HIGH)
					break; /* resumed by EPOLLOUT */
				if (budget == 0) {
					ready_push(w, c);
					break;
				}
				rc = conn_handle(w, c, c->in + c->inoff, need);
				if (rc < 0)
					goto out;
				if (rc == CONN_REFUSED) {
					rc = IDN_OK;
					conn_refuse(c);
					break;
				}
				c->inoff += need;
				budget--;
				whole = false;
				/* Progress; the next request's clock starts anew. */
				conn_set_partial(w, c, false);
				continue;
			}
		}
		if (c->eof || !c->readable)
			break;
		rc = conn_in_room(c, need);
		if (rc < 0)
			goto out;
		size_t room = c->incap - c->inlen;
		ssize_t n = read(c->fd, c->in + c->inlen, room);
		if (n > 0) {
			c->inlen += (size_t)n;
			bytes += (size_t)n;
			/*
			 * A short read emptied the socket: what comes next raises a
			 * new edge, so the read that would say EAGAIN is saved. Not
			 * when the peer's FIN is already reported: it raises no other.
			 */
			if ((size_t)n < room && !c->rdhup)
				c->readable = false;
		} else if (n == 0) {
			c->eof = true;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->readable = false;
		} else if (errno != EINTR) {
			rc = IDN_ENET;
			goto out;
		}
	}
	if (bytes)
		NET_ST_ADD(w, tcp_bytes_in, bytes);
	conn_set_partial(w, c, c->refused || (!whole && c->inlen > c->inoff));
	rc = conn_flush_arena(w, c);
	if (rc < 0)
		goto out;
	/*
	 * The kernel took the parts without filling up: no EPOLLOUT edge will
	 * come, so the next parts get their go at the end of the turn.
	 */
	if (c->more && c->writable && out_pending(c) < NET_TCP_OUT_HIGH)
		ready_push(w, c);
	if (c->more && !c->writable && !c->more_paused) {
		c->more_paused = true; /* its socket is full: it waits for its reader */
		limit_hit(LIM_ANSWER_STREAM,
		          "an answer in parts waits for its TCP reader (%zu "
		          "bytes unsent)",
		          out_pending(c));
	}
	if (c->refused) {
		rc = conn_discard(w, c);
		if (rc < 0 || (c->eof && out_pending(c) == 0)) {
			rc = IDN_ENET;
			goto out;
		}
		if (out_pending(c) == 0 && !c->shut) {
			/* FIN after the last answer: the peer reads them, then closes. */
			shutdown(c->fd, SHUT_WR);
			c->shut = true;
		}
		return;
	}
	/* The peer is done, and so are we: nothing left to answer or send. */
	if (c->eof && !whole && out_pending(c) == 0)
		rc = IDN_ENET;
out:
	if (rc < 0) {
		w->arena_used = 0;
		conn_close(w, c);
	}
}

/* ---- events ---- */

static void listener_pause(struct net_worker *w, struct net_sock *sk)
{
	struct epoll_event ev = {.events = 0, .data.ptr = &sk->src};

	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, sk->fd, &ev) == 0) {
		sk->paused = true;
		sk->paused_until = w->now + NET_ACCEPT_PAUSE_MS;
		w->listeners_paused = true;
		/* The housekeeping that resumes it comes then, not a whole tick later. */
		if (w->next_tick > sk->paused_until)
			w->next_tick = sk->paused_until;
	}
}

/* Whether c may be closed to make room: no request of it is in flight. */
static bool conn_evictable(const struct net_conn *c)
{
	return !c->later && !c->held && !c->more && !c->on_ready && out_pending(c) == 0;
}

/*
 * The connection of this worker cheapest to lose (common.h: NET_EVICT_SCAN),
 * or NULL: the one that made progress longest ago, from either list.
 */
static struct net_conn *evict_pick(struct net_worker *w)
{
	struct net_conn *best = NULL;
	const struct net_conn_list *lists[2] = {&w->conns, &w->partial};
	for (int l = 0; l < 2; l++) {
		int n = 0;
		for (struct net_conn *c = lists[l]->head; c && n < NET_EVICT_SCAN; c = c->next, n++)
			if (conn_evictable(c)) {
				if (!best || c->last < best->last)
					best = c;
				/* The conns list is in order of progress: the first is its best. */
				if (l == 0)
					break;
			}
	}
	return best;
}

/* Closes the connection cheapest to lose to admit another; false if none may go. */
static bool conn_evict(struct net_worker *w, const char *why)
{
	struct net_conn *c = evict_pick(w);
	if (!c)
		return false;
	limit_hit(LIM_CONN_EVICTED, "tcp: %s: closed a connection without progress for %llu ms",
	          why, (unsigned long long)(w->now - c->last));
	conn_close(w, c);
	return true;
}

/* A reset, not a FIN: the client learns at once, no TIME_WAIT here. */
static void conn_reset_fd(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static bool evict_cb(void *w, const char *why)
{
	return conn_evict(w, why);
}

/* How this worker's newcomers are admitted (common.h: net_admit). */
static struct net_admit_to admit_to(struct net_worker *w)
{
	struct net_server *s = w->s;
	return (struct net_admit_to){.name = "tcp",
	                             .cap_name = "max-tcp-conns reached",
	                             .who = NET_BUDGET_TCP,
	                             .budget = s->cfg.budget,
	                             .nconns = &s->nconns,
	                             .max = s->max_conns,
	                             .evict = evict_cb,
	                             .ctx = w};
}

/*
 * accept() found no descriptor: one of this worker's connections makes room
 * (true: accept again), else the newcomer is shed and the listener rests for
 * NET_ACCEPT_PAUSE_MS, since epoll would report it forever.
 */
static bool accept_exhausted(struct net_worker *w, struct net_sock *sk)
{
	if (conn_evict(w, "out of file descriptors"))
		return true;
	net_fd_shed(sk->fd, "tcp");
	listener_pause(w, sk);
	return false;
}

void net_tcp_accept(struct net_worker *w, struct net_sock *sk)
{
	struct net_admit_to to = admit_to(w);

	for (int i = 0; i < NET_TCP_ACCEPTS; i++) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		int fd = accept4(sk->fd, (struct sockaddr *)&peer, &peer_len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && accept_exhausted(w, sk))
				continue;
			if (errno == ENOBUFS || errno == ENOMEM)
				listener_pause(w, sk);
			return;
		}
		if (net_admit(&to, &peer) != NET_ADMIT_OK) {
			conn_reset_fd(fd);
			NET_ST_ADD(w, tcp_refused, 1);
			continue;
		}
		struct net_conn *c = malloc(sizeof(*c));
		if (!c) {
			net_unadmit(&to, &peer);
			close(fd);
			continue;
		}
		memset(c, 0, offsetof(struct net_conn, inl));
		c->src.kind = NET_SRC_CONN;
		c->fd = fd;
		c->in = c->inl;
		c->incap = NET_TCP_IN_INIT;
		c->peer = peer;
		c->peer_len = peer_len;
		c->last = w->now;
		c->id = atomic_fetch_add_explicit(&w->s->conn_ids, 1, memory_order_relaxed) + 1;
		/* TCP_NODELAY comes from the listener. */
		if (net_epoll_add(w, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->src) < 0) {
			net_unadmit(&to, &peer);
			close(fd);
			free(c);
			continue;
		}
		list_push(&w->conns, c);
		NET_ST_ADD(w, tcp_accepted, 1);
		/*
		 * The request is often there already (clients connect and send at
		 * once): reading it now saves an epoll turn, ~10% per connection
		 * for one-shot clients. Safe with edge triggering: the fd was
		 * added first, and adding reports whatever is pending (a FIN too).
		 */
		c->readable = true;
		c->writable = true;
		c->w = w;
		conn_run(w, c);
	}
}

void net_tcp_event(struct net_worker *w, struct net_conn *c, uint32_t events)
{
	if (c->closed)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->rdhup = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		c->writable = true;
		if (conn_write(w, c) < 0) {
			conn_close(w, c);
			return;
		}
	}
	conn_run(w, c);
}

enum { UNSAVED_MAX = 512 }; /* room for one error answer */

/*
 * After a failed commit (err): each held answer of c, which may tell of a
 * write that was lost, replaced by the handler's error to its request
 * (net_config.unsaved). < 0 when that cannot be done: c must close.
 */
static int conn_unsaved(struct net_worker *w, struct net_conn *c, int err)
{
	size_t start = c->outoff + c->held_pre, end = c->outlen, frames = 0;
	if (!w->s->cfg.unsaved || start > end || !net_answer_frames(c->out + start, end - start))
		return start == end ? IDN_OK : IDN_EINVAL;
	for (size_t at = start; at < end; frames++)
		at += PROTO_ENV_LEN + idn_be32(c->out + at + 16);
	size_t cap = start + frames * UNSAVED_MAX;
	uint8_t *b = malloc(cap);
	if (!b)
		return IDN_ENOMEM;
	memcpy(b, c->out, start);
	size_t o = start;
	for (size_t at = start; at < end;) {
		size_t flen = PROTO_ENV_LEN + idn_be32(c->out + at + 16);
		int n = w->s->cfg.unsaved(w->wctx, c->out + at, flen, err, b + o, cap - o);
		if (n < 0) {
			free(b);
			return n;
		}
		o += (size_t)n;
		at += flen;
	}
	free(c->out);
	c->out = b;
	c->outlen = o;
	c->outcap = cap;
	return IDN_OK;
}

void net_tcp_release(struct net_worker *w, int rc)
{
	struct net_conn *c = w->held;

	w->held = NULL;
	while (c) {
		struct net_conn *next = c->held_next;
		c->held = false;
		c->held_next = NULL;
		if (c->closed)
			;
		else if ((rc < 0 && conn_unsaved(w, c, rc) < 0) || conn_write(w, c) < 0)
			conn_close(w, c);
		else if (out_pending(c) == 0 && (c->eof || c->refused))
			ready_push(w, c); /* its next go closes or shuts it */
		c = next;
	}
}

void net_tcp_later_done(struct net_worker *w, struct net_conn *c, const uint8_t *ans, size_t len)
{
	if (c->closed)
		return;
	if (len == 0 || !net_answer_frames(ans, len)) {
		/* No answer: as a handler error, the connection ends after the earlier ones. */
		NET_ST_ADD(w, tcp_drops, 1);
		conn_refuse(c);
	} else if (out_append(c, ans, len) < 0) {
		conn_close(w, c);
		return;
	} else {
		NET_ST_ADD(w, tcp_answers, 1);
	}
	if (conn_write(w, c) < 0) {
		conn_close(w, c);
		return;
	}
	ready_push(w, c); /* the requests that waited, or the end of a refused one */
}

void net_tcp_run_ready(struct net_worker *w)
{
	/* Detach first: a connection that uses its budget again goes back on. */
	struct net_conn *c = w->ready.head;
	struct net_conn *tail = w->ready.tail;

	while (c) {
		struct net_conn *next = c == tail ? NULL : c->rnext;
		conn_run(w, c);
		c = next;
	}
}

int64_t net_tcp_sweep(struct net_worker *w)
{
	struct net_server *s = w->s;

	if (w->listeners_paused) {
		w->listeners_paused = false;
		for (unsigned i = 0; i < s->nsocks; i++) {
			struct net_sock *sk = &s->socks[i];
			if (sk->worker != w->idx || !sk->paused)
				continue;
			if (w->now >= sk->paused_until) {
				struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sk->src};
				if (epoll_ctl(w->ep, EPOLL_CTL_MOD, sk->fd, &ev) == 0)
					sk->paused = false;
			}
			w->listeners_paused |= sk->paused;
		}
	}
	/* Connections over the shared budget, owed back by whoever has one to close. */
	while (net_budget_owes(s->cfg.budget, NET_BUDGET_TCP) && evict_pick(w) &&
	       net_budget_owed(s->cfg.budget, NET_BUDGET_TCP))
		if (!conn_evict(w, "max-connections passed by the other listener"))
			net_budget_unowe(s->cfg.budget, NET_BUDGET_TCP);
	int64_t next = -1;
	while (w->partial.head) {
		struct net_conn *c = w->partial.head;
		uint64_t deadline = c->msg_t0 + s->msg_ms;
		if (w->now < deadline) {
			next = (int64_t)(deadline - w->now);
			break;
		}
		if (!c->refused)
			limit_hit(
			    LIM_MSG_DEADLINE,
			    "tcp: a request not whole %u ms after its first byte (%zu bytes read)",
			    s->msg_ms, c->inlen - c->inoff);
		conn_close(w, c);
	}
	while (w->conns.head) {
		struct net_conn *c = w->conns.head;
		uint64_t deadline = c->last + s->idle_ms;
		if (w->now < deadline) {
			int64_t in = (int64_t)(deadline - w->now);
			return next < 0 || in < next ? in : next;
		}
		NET_ST_ADD(w, tcp_closed_idle, 1);
		conn_close(w, c);
	}
	return next;
}

void net_tcp_close_all(struct net_worker *w)
{
	while (w->partial.head)
		conn_close(w, w->partial.head);
	while (w->conns.head)
		conn_close(w, w->conns.head);
	net_tcp_reap(w);
}
