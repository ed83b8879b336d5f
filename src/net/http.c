/*
 * http.c - net's HTTP/1.1 server: its worker threads and their epoll loops,
 * listeners, connections' reads and writes, deadlines (slowloris), start and
 * stop. Framing is in http_framing.c, TLS in tls.c; see http.h for the
 * contract.
 *
 * The event loop (loop.c), listen addresses and sockets, the clock, the
 * stop eventfd and the start-up of the workers are the Handle server's
 * (common.h); the threads are not (see http.h: an HTTP connection needs
 * growing buffers, a parser and a deadline each, and a flood of slow HTTP
 * clients must never delay a UDP answer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limit.h"
#include "net/http_conn.h"

static void conns_del(http_worker *w, http_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

static void conns_push(http_worker *w, http_conn *c)
{
	c->next = NULL;
	c->prev = w->conns_tail;
	if (w->conns_tail)
		w->conns_tail->next = c;
	else
		w->conns = c;
	w->conns_tail = c;
}

void http_conn_progress(http_conn *c)
{
	http_worker *w = c->w;
	c->progress = w->now;
	if (c->fd >= 0 && w->conns_tail != c) { /* http_feed's has no list */
		conns_del(w, c);
		conns_push(w, c);
	}
}

/* Closes the socket and gives back what the connection held; the memory stays. */
static void conn_shut(http_conn *c)
{
	http_worker *w = c->w;
	http_later_orphan(c);
	http_stream_end(c, false);
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns_del(w, c);
	atomic_fetch_sub(&w->s->nconns, 1);
	net_budget_give(w->s->cfg.budget);
	net_budget_src_give(w->s->cfg.budget, &c->peer);
}

static void conn_free(http_conn *c)
{
	SSL_free(c->ssl);
	free(c->in);
	free(c->head);
	free(c->body);
	free(c->out);
	free(c);
}

static void http_conn_close(http_conn *c)
{
	conn_shut(c);
	conn_free(c);
}

/*
 * Closes a connection other than the one whose event is being handled (to
 * make room): an event of this turn may still name it, so its memory goes at
 * the end of the turn (reap).
 */
static void conn_close_later(http_conn *c)
{
	conn_shut(c);
	c->dead = true;
	c->next = c->w->dead;
	c->w->dead = c;
}

static void reap(http_worker *w)
{
	while (w->dead) {
		http_conn *c = w->dead;
		w->dead = c->next;
		conn_free(c);
	}
}

/* `in` has no room for another read. */
static bool in_full(const http_conn *c)
{
	return c->in_cap - c->in_len < HTTP_READ_CHUNK / 4;
}

static void flush(http_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = http_conn_send(c, c->out + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			http_conn_progress(c);
			if (c->phase == PH_IDLE)
				c->deadline = net_now_ms() + c->w->s->cfg.idle_ms;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		c->closing = true;
		c->out_off = c->out_len; /* the peer is gone: nothing more to send */
		break;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	/*
	 * While the client does not read its answers, stop reading its requests;
	 * while it waits for a deferred answer, once its requests fill `in`.
	 */
	bool more = c->out_len - c->out_off < HTTP_OUT_HIGH && !c->closing &&
	            !((c->later || c->stream) && in_full(c)) && !(c->stream && c->stream_close);
	/* A stream is produced when the socket can take more (http_stream_fill). */
	uint32_t events =
	    (c->out_len || c->tls_want_write || c->stream ? EPOLLOUT : 0) | (more ? EPOLLIN : 0);
	if (events != c->events) {
		struct epoll_event ev = {.events = events, .data.ptr = c};
		epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = events;
	}
}

/*
 * After a refusal the client may still be sending (a huge header, a body):
 * closing with unread bytes would make the kernel send a reset, which can
 * destroy the answer before the client reads it. So: half-close, then read
 * and drop until the client closes or a second passes (the sweep ends it).
 */
static bool linger(http_conn *c)
{
	if (c->events != EPOLLIN) {
		shutdown(c->fd, SHUT_WR);
		c->phase = PH_IDLE;
		c->deadline = net_now_ms() + 1000;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = EPOLLIN;
	}
	uint8_t sink[4096];
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), 0);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return true;
		break;
	}
	http_conn_close(c);
	return false;
}

/* Returns false when the connection was closed. */
static bool conn_step(http_conn *c, bool readable)
{
	if (c->linger) {
		flush(c);
		return c->out_len ? true : linger(c);
	}
	/* TLS may hold decrypted bytes the socket no longer signals, or wait to write. */
	if (c->ssl && (SSL_pending(c->ssl) > 0 || c->tls_want_write)) {
		readable = true;
		c->tls_want_write = false;
	}
	while (readable && !c->closing && c->out_len - c->out_off < HTTP_OUT_HIGH) {
		if (in_full(c)) {
			if (c->later || c->stream)
				break; /* full of requests waiting for the answer before */
			/* `in` is full of one unfinished header block: over the limit. */
			http_refuse(c, 431, "request line and headers are too large");
			break;
		}
		size_t room = c->in_cap - c->in_len;
		ssize_t n = http_conn_recv(c, c->in + c->in_len, room);
		if (n > 0) {
			c->in_len += (size_t)n;
			http_process(c);
			/*
			 * A short read drained the socket: no second recv() just to
			 * hear EAGAIN (one system call less per request; epoll is
			 * level-triggered and says when more comes). TLS may hold
			 * more than the socket shows: it reads on.
			 */
			if ((size_t)n < room && !c->ssl)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EOF or reset: answer what is complete, then close. */
		http_process(c);
		if (c->stream)
			c->stream_close = true; /* its body goes on, then the connection closes */
		else
			c->closing = true;
		break;
	}
	/*
	 * Each turn either drains output, parses buffered requests, or stops. A
	 * stream gets a few rounds, then the others get a go (EPOLLOUT brings it back).
	 */
	for (unsigned rounds = 0;;) {
		size_t parsed = c->parsed, pending = c->out_len - c->out_off;
		http_process(c);
		bool streamed = http_stream_fill(c, HTTP_STREAM_LOW);
		flush(c);
		if (c->closing || (streamed && ++rounds >= 8) ||
		    (!streamed && (c->parsed >= c->in_len ||
		                   (c->parsed == parsed && c->out_len - c->out_off >= pending))))
			break;
	}
	http_stream_note_pause(c);
	if (c->closing && c->out_len == 0 && c->linger)
		return linger(c);
	if (c->closing && c->out_len == 0) {
		http_conn_close(c);
		return false;
	}
	return true;
}

/*
 * A connection for the accepted fd, counted in nconns and the budget
 * already; on failure the fd is closed and both are given back.
 */
static void conn_new(http_worker *w, int fd, bool tls, const struct sockaddr_storage *peer,
                     socklen_t plen)
{
	http_server *s = w->s;
	size_t in_cap = s->cfg.max_header + HTTP_READ_CHUNK;
	http_conn *c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->in = malloc(in_cap);
	c->head = malloc(s->cfg.max_header + 4 * HTTP_MAX_HEADERS + 16);
	if (!c->in || !c->head)
		goto fail;
	if (tls && (!(c->ssl = SSL_new(__atomic_load_n(&s->tls, __ATOMIC_ACQUIRE))) ||
	            !SSL_set_fd(c->ssl, fd)))
		goto fail;
	if (tls)
		SSL_set_accept_state(c->ssl);
	c->fd = fd;
	c->w = w;
	c->in_cap = in_cap;
	c->peer = *peer;
	c->peer_len = plen;
	c->phase = PH_IDLE;
	c->deadline = net_now_ms() + s->cfg.idle_ms;
	http_parser_init(c);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->events = EPOLLIN;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev))
		goto fail;
	c->progress = w->now;
	conns_push(w, c);
	return;
fail:
	if (c) {
		SSL_free(c->ssl);
		free(c->in);
		free(c->head);
		free(c);
	}
	close(fd);
	atomic_fetch_sub(&s->nconns, 1);
	net_budget_give(s->cfg.budget);
	net_budget_src_give(s->cfg.budget, peer);
}

/*
 * Closes the connection of this worker cheapest to lose (common.h:
 * NET_EVICT_SCAN) to admit another; false when every one has a request in
 * flight. The list is in order of progress: the first that may go is it.
 */
static bool conn_evict(http_worker *w, const char *why)
{
	int n = 0;
	for (http_conn *c = w->conns; c && n < NET_EVICT_SCAN; c = c->next, n++) {
		/* (pending: its request read this turn, its answer not yet made: pre_read) */
		if (c->later || c->stream || c->pending || c->out_len > c->out_off)
			continue;
		limit_hit(LIM_CONN_EVICTED,
		          "http: %s: closed a connection without progress for %llu ms", why,
		          (unsigned long long)(w->now - c->progress));
		conn_close_later(c);
		return true;
	}
	return false;
}

static bool evict_cb(void *w, const char *why)
{
	return conn_evict(w, why);
}

/* A refused newcomer is told why, if it listens, and closed. */
static void refuse_fd(int fd, const char *why)
{
	char busy[256];
	char body[128];
	int blen = snprintf(body, sizeof(body), "{\"responseCode\":3,\"message\":\"%s\"}", why);
	int n = snprintf(busy, sizeof(busy),
	                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
	                 blen, body);
	if (send(fd, busy, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* best effort: the client is told if it listens */
	}
	close(fd);
}

/* Listener li rests: out of descriptors, epoll would report it forever. */
static void listener_pause(http_worker *w, unsigned li)
{
	struct epoll_event ev = {.events = 0, .data.ptr = &w->lfd[li]};
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, w->lfd[li], &ev) == 0) {
		w->paused |= 1ull << li;
		w->paused_until = net_now_ms() + NET_ACCEPT_PAUSE_MS;
	}
}

static void listeners_resume(http_worker *w)
{
	if (!w->paused || net_now_ms() < w->paused_until)
		return;
	for (unsigned li = 0; li < w->s->nlisten; li++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->lfd[li]};
		if ((w->paused & (1ull << li)) &&
		    epoll_ctl(w->ep, EPOLL_CTL_MOD, w->lfd[li], &ev) == 0)
			w->paused &= ~(1ull << li);
	}
}

static void accept_all(http_worker *w, unsigned li)
{
	http_server *s = w->s;
	int lfd = w->lfd[li];
	bool tls = li >= s->nlisten - s->cfg.ntls;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd =
		    accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED || errno == EPROTO))
			continue;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* One of ours makes room, or the newcomer is shed and we rest. */
			if (conn_evict(w, "out of file descriptors"))
				continue;
			net_fd_shed(lfd, "http");
			listener_pause(w, li);
			return;
		}
		if (fd < 0) {
			if (errno == ENOBUFS || errno == ENOMEM)
				listener_pause(w, li);
			return;
		}
		struct net_admit_to to = {.name = "http",
		                          .cap_name = "http-max-conns reached",
		                          .who = NET_BUDGET_HTTP,
		                          .budget = s->cfg.budget,
		                          .nconns = &s->nconns,
		                          .max = s->cfg.max_conns,
		                          .evict = evict_cb,
		                          .ctx = w};
		enum net_admit a = net_admit(&to, &peer);
		if (a != NET_ADMIT_OK) {
			refuse_fd(fd, a == NET_ADMIT_SOURCE
			                  ? "too many connections from your address"
			                  : "too many HTTP connections");
			continue;
		}
		conn_new(w, fd, tls, &peer, plen);
	}
}

static void sweep(http_worker *w)
{
	uint64_t now = net_now_ms();
	listeners_resume(w);
	/* Connections over the shared budget, owed back by whoever has one to close. */
	net_conn_budget *b = w->s->cfg.budget;
	while (net_budget_owes(b, NET_BUDGET_HTTP) && w->conns &&
	       net_budget_owed(b, NET_BUDGET_HTTP)) {
		if (!conn_evict(w, "max-connections passed by the other listener")) {
			net_budget_unowe(b, NET_BUDGET_HTTP);
			break;
		}
	}
	for (http_conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		/* A deferred answer's wait is bounded by whoever answers it. */
		if (now < c->deadline || (c->later && !c->closing))
			continue;
		if (c->phase == PH_IDLE || c->closing) {
			http_conn_close(c);
			continue;
		}
		/* A request still arriving after its deadline: slowloris or a stall. */
		limit_hit(LIM_MSG_DEADLINE, "http: request %s not whole in time",
		          c->phase == PH_HEADERS ? "headers" : "body");
		http_refuse(c, 408,
		            c->phase == PH_HEADERS ? "request headers not received in time"
		                                   : "request body not received in time");
		c->deadline = now + 1000; /* one more second to take the answer */
		c->phase = PH_IDLE;
		flush(c);
		if (c->out_len == 0)
			linger(c);
	}
}

/* The deadlines are checked every HTTP_SWEEP_MS. */
static int worker_timeout(void *ctx)
{
	(void)ctx;
	return HTTP_SWEEP_MS;
}

static void answer_pending(http_worker *w);

/*
 * With a prefetch hook (http_config.prefetch), a plain connection's new
 * request bytes are read at its event and hinted, and its
 * requests answered once HTTP_PEND_MAX connections are waiting, or at the
 * turn's end (answer_pending): the lookups' loads from memory overlap
 * instead of adding up, while the sockets read are still in the CPU's cache
 * when answered. Only the simple case, one read that
 * drained the socket of a connection with nothing else going on; anything
 * else goes on through conn_step at once. The system calls are those of
 * conn_step: one recv, and one send per connection at the answer.
 */
static void pre_read(http_worker *w, http_conn *c, uint32_t events)
{
	const http_config *cfg = &w->s->cfg;
	if (!cfg->prefetch || events != EPOLLIN || c->ssl || c->linger || c->closing || c->later ||
	    c->stream || c->pending || c->out_len || in_full(c)) {
		conn_step(c, events & (EPOLLIN | EPOLLHUP | EPOLLERR));
		return;
	}
	size_t room = c->in_cap - c->in_len;
	ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
	if (n <= 0 || (size_t)n == room) {
		if (n > 0) { /* the buffer filled: parsed as conn_step would, which reads on */
			c->in_len += (size_t)n;
			http_process(c);
		}
		/* EOF or an error: conn_step hears it again (EAGAIN: nothing to read) */
		conn_step(c, !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)));
		return;
	}
	c->in_len += (size_t)n;
	c->hint = cfg->prefetch(w->wctx, c->in + c->parsed, c->in_len - c->parsed, 0);
	c->pending = true;
	c->pend = NULL;
	if (w->pend_tail)
		w->pend_tail->pend = c;
	else
		w->pend = c;
	w->pend_tail = c;
	if (++w->npend >= HTTP_PEND_MAX)
		answer_pending(w);
}

/* The turn's pre_read connections: hinted again, then answered. */
static void answer_pending(http_worker *w)
{
	for (http_conn *c = w->pend; c; c = c->pend)
		if (!c->dead && c->hint)
			w->s->cfg.prefetch(w->wctx, c->in + c->parsed, c->in_len - c->parsed,
			                   c->hint);
	while (w->pend) {
		http_conn *c = w->pend;
		w->pend = c->pend;
		c->pending = false;
		if (!c->dead)
			conn_step(c, false); /* its bytes are in: parse, answer, send */
	}
	w->pend_tail = NULL;
	w->npend = 0;
}

static bool worker_event(void *ctx, void *ptr, uint32_t events)
{
	http_worker *w = ctx;
	http_server *s = w->s;
	if (ptr == &s->stopfd)
		return false;
	if (ptr == &w->lq) {
		w->woken = true; /* the answers go out at the turn's end (http_later_drain) */
		return true;
	}
	if ((int *)ptr >= w->lfd && (int *)ptr < w->lfd + s->nlisten) {
		accept_all(w, (unsigned)((int *)ptr - w->lfd));
		return true;
	}
	http_conn *c = ptr;
	if (c->dead)
		return true; /* closed to make room this turn */
	if (c->later && (events & (EPOLLHUP | EPOLLERR))) {
		http_conn_close(c); /* the peer is gone: the deferred answer is dropped */
		return true;
	}
	pre_read(w, c, events);
	return true;
}

void http_conn_resume(http_conn *c)
{
	c->deadline = net_now_ms() + c->w->s->cfg.idle_ms;
	/* The requests that waited first: `in` may be full of them. */
	http_process(c);
	flush(c);
	conn_step(c, !c->closing);
}

static void worker_turn_end(void *ctx)
{
	http_worker *w = ctx;
	answer_pending(w);
	if (w->woken) {
		w->woken = false;
		http_later_drain(w);
	}
	if (w->now >= w->next_sweep) {
		sweep(w);
		w->next_sweep = w->now + HTTP_SWEEP_MS;
	}
	reap(w);
	if (w->s->cfg.turn_end)
		w->s->cfg.turn_end(w->wctx);
}

static void *worker_main(void *arg)
{
	http_worker *w = arg;
	http_server *s = w->s;
	w->wctx = s->cfg.worker_init ? s->cfg.worker_init(s->cfg.arg, w->idx) : s->cfg.arg;
	/* http_start() waits for this; a held worker stopped before http_go is finished unserved */
	bool on = net_crew_report(&s->crew, w->wctx ? 0 : IDN_ENOMEM);
	if (!w->wctx)
		return NULL;

	static const struct net_loop_ops ops = {worker_timeout, worker_event, worker_turn_end};
	w->next_sweep = net_now_ms() + HTTP_SWEEP_MS;
	if (on)
		w->err = net_loop_run(w->ep, &w->now, w, &ops);
	while (w->conns)
		http_conn_close(w->conns);
	reap(w);
	http_later_fini(w);
	if (s->cfg.worker_fini)
		s->cfg.worker_fini(w->wctx);
	return NULL;
}

/*
 * Worker t's listener on address i. The first worker's probes (see
 * net_sock_open) and picks the port when asked for 0; the others join it.
 * ":PORT" is 0.0.0.0 alone.
 */
static int listen_open(http_server *s, unsigned t, unsigned i, int *fd_out)
{
	const char *spec = s->cfg.listen[i];
	struct net_addr a[2];
	unsigned na, port;
	int fd, rc = net_listen_parse("http ", s->cfg.errbuf, s->cfg.errbuf_len, spec, false, a,
	                              &na, &port);

	if (rc < 0)
		return rc;
	if (t == 0) {
		fd = net_sock_open_first(&a[0], SOCK_STREAM, &port, 0);
		if (fd >= 0)
			s->ports[i] = port;
	} else {
		net_addr_set_port(&a[0], s->ports[i]);
		fd = net_sock_open(&a[0], SOCK_STREAM, false, 0);
	}
	if (fd < 0) {
		net_set_err(s->cfg.errbuf, s->cfg.errbuf_len, "http listen %s: %s", spec,
		            strerror(-fd));
		return idn_errno(-fd);
	}
	*fd_out = fd;
	return 0;
}

/*
 * Each address's listeners are ours alone: a process that probed at the same
 * instant as ours has not joined their SO_REUSEPORT group (common.h).
 */
static int listen_check(http_server *s)
{
	int fds[HTTP_MAX_THREADS];
	for (unsigned i = 0; i < s->nlisten; i++) {
		struct net_addr a[2];
		unsigned na, port;
		if (net_listen_parse("http ", NULL, 0, s->cfg.listen[i], false, a, &na, &port) < 0)
			continue; /* parsed by listen_open already */
		for (unsigned t = 0; t < s->nthreads; t++)
			fds[t] = s->w[t].lfd[i];
		if (net_listen_shared(&a[0], s->ports[i], fds, s->nthreads)) {
			net_set_err(s->cfg.errbuf, s->cfg.errbuf_len,
			            "http listen %s: %s (by another process at the same time)",
			            s->cfg.listen[i], strerror(EADDRINUSE));
			return idn_errno(EADDRINUSE);
		}
	}
	return 0;
}

static void server_free(http_server *s)
{
	for (unsigned t = 0; s->w && t < s->nthreads; t++) {
		http_worker *w = &s->w[t];
		for (unsigned i = 0; w->lfd && i < s->nlisten; i++)
			if (w->lfd[i] >= 0)
				close(w->lfd[i]);
		free(w->lfd);
		if (w->ep >= 0)
			close(w->ep);
		net_later_q_destroy(&w->lq);
		free(w->resp.body);
		free(w->part.body);
	}
	free(s->w);
	net_later_count_destroy(&s->nlater);
	SSL_CTX_free(s->tls);
	for (unsigned i = 0; i < HTTP_TLS_RETIRED; i++)
		SSL_CTX_free(s->tls_retired[i]);
	if (s->stopfd >= 0)
		close(s->stopfd);
	net_crew_destroy(&s->crew);
	free(s);
}

int http_start(const http_config *cfg, http_server **out)
{
	static char dummy[1];
	if (cfg->nlisten == 0 || cfg->nlisten > HTTP_MAX_LISTEN || !cfg->handle)
		return IDN_EINVAL;
	http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	s->stopfd = -1;
	s->cfg = *cfg;
	if (!s->cfg.errbuf) {
		s->cfg.errbuf = dummy;
		s->cfg.errbuf_len = sizeof(dummy);
	}
	http_cfg_defaults(&s->cfg);
	s->nlisten = cfg->nlisten;
	s->nthreads = s->cfg.threads;
	net_fd_reserve();
	net_crew_init(&s->crew);
	s->crew.held = cfg->held;
	net_later_count_init(&s->nlater);
	int ret = IDN_ENOMEM;
	if (s->cfg.ntls > s->nlisten) {
		ret = IDN_EINVAL;
		goto fail;
	}
	if (s->cfg.ntls && (ret = http_tls_setup(s)))
		goto fail;
	ret = IDN_ENOMEM;
	s->stopfd = net_stopfd_new();
	s->w = calloc(s->nthreads, sizeof(http_worker));
	if (s->stopfd < 0 || !s->w)
		goto fail;
	for (unsigned t = 0; t < s->nthreads; t++)
		s->w[t].ep = s->w[t].lq.wakefd = -1;
	for (unsigned t = 0; t < s->nthreads; t++) {
		http_worker *w = &s->w[t];
		w->s = s;
		w->idx = t;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->lfd = malloc(s->nlisten * sizeof(int));
		if (w->ep < 0 || !w->lfd)
			goto fail;
		for (unsigned i = 0; i < s->nlisten; i++)
			w->lfd[i] = -1;
		if ((ret = net_later_q_init(&w->lq, w->ep, &w->lq)))
			goto fail;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->stopfd};
		epoll_ctl(w->ep, EPOLL_CTL_ADD, s->stopfd, &ev);
		for (unsigned i = 0; i < s->nlisten; i++) {
			if ((ret = listen_open(s, t, i, &w->lfd[i])))
				goto fail;
			ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &w->lfd[i]};
			epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd[i], &ev);
		}
	}
	if ((ret = listen_check(s)))
		goto fail;
	/* SIGPIPE is blocked in them too: TLS writes with write(2), a peer gone is EPIPE. */
	unsigned made = 0;
	for (; made < s->nthreads; made++)
		if (net_thread_start(&s->w[made].tid, worker_main, &s->w[made]))
			break;
	bool failed = net_crew_wait(&s->crew, made) < 0 || made < s->nthreads;
	if (failed) {
		net_crew_go(&s->crew, false);
		net_stopfd_raise(s->stopfd);
		for (unsigned t = 0; t < made; t++)
			pthread_join(s->w[t].tid, NULL);
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len, "http: a worker failed to start");
		ret = IDN_ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	server_free(s);
	return ret;
}

void http_stop(http_server *s)
{
	net_stopfd_raise(s->stopfd);
}

void http_go(http_server *s)
{
	net_crew_go(&s->crew, true);
}

int http_wait(http_server *s)
{
	int ret = 0;
	net_crew_go(&s->crew, false); /* held workers never served: they stop now */
	for (unsigned t = 0; t < s->nthreads; t++) {
		pthread_join(s->w[t].tid, NULL);
		if (!ret)
			ret = s->w[t].err;
	}
	/* each worker frees the answers that come in once it stopped */
	net_later_count_wait(&s->nlater);
	server_free(s);
	return ret;
}

unsigned http_bound_port(const http_server *s, unsigned idx)
{
	return idx < s->nlisten ? s->ports[idx] : 0;
}
