/*
 * worker.c - one Handle worker thread: its turns of net's event loop
 * (loop.c) over its own sockets, its connections, the stop eventfd, and the
 * housekeeping timers.
 *
 * A turn: wait (never longer than the next deadline), dispatch every event,
 * give ready connections their next go, housekeeping when due, batch_end,
 * free the connections closed during the turn. The clock is read once per
 * turn (CLOCK_MONOTONIC_COARSE: a few ms of resolution is plenty for idle
 * timeouts and cheaper than anything else).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "net/common.h"
#include "net/internal.h"

int net_epoll_add(struct net_worker *w, int fd, uint32_t events, struct net_src *src)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? IDN_OK : idn_errno(errno);
}

void net_batch_begin(struct net_worker *w)
{
	if (w->in_batch)
		return;
	w->in_batch = true;
	if (w->s->cfg.batch_begin)
		w->s->cfg.batch_begin(w->wctx);
}

int net_release(struct net_worker *w)
{
	int rc = IDN_OK;

	if (net_pending(w)) {
		rc = w->s->cfg.commit(w->wctx);
		NET_ST_ADD(w, commits, 1);
		if (rc < 0)
			NET_ST_ADD(w, commit_fail, 1);
	}
	net_tcp_release(w, rc);
	return rc;
}

static void batch_end(struct net_worker *w)
{
	if (!w->in_batch)
		return;
	w->in_batch = false;
	if (w->s->cfg.batch_end)
		w->s->cfg.batch_end(w->wctx);
}

/* Buffers, epoll set, sockets, and the handler's context. */
static int worker_setup(struct net_worker *w)
{
	struct net_server *s = w->s;
	int rc;

	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		return idn_errno(errno);
	rc = net_udp_init(w);
	if (rc < 0)
		return rc;
	rc = net_epoll_add(w, s->stopfd, EPOLLIN, &s->stop_src);
	if (rc < 0)
		return rc;
	rc = net_later_init(w);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < s->nsocks; i++) {
		struct net_sock *sk = &s->socks[i];
		if (sk->worker != w->idx)
			continue;
		rc = net_epoll_add(w, sk->fd, EPOLLIN, &sk->src);
		if (rc < 0)
			return rc;
	}
	if (s->cfg.worker_init) {
		w->wctx = s->cfg.worker_init(s->cfg.arg, w->idx);
		if (!w->wctx)
			return IDN_ECONFIG;
	} else {
		w->wctx = s->cfg.arg;
	}
	w->inited = true;
	return IDN_OK;
}

/* ms epoll may sleep: until the first deadline, or forever if there is none. */
static int worker_timeout(void *ctx)
{
	struct net_worker *w = ctx;
	if (w->ready.head)
		return 0;
	int64_t t = w->idle_in;
	if (proto_udp_rasm_pending(&w->rasm) > 0 || w->listeners_paused ||
	    net_budget_owes(w->s->cfg.budget, NET_BUDGET_TCP)) {
		int64_t tick = w->next_tick > w->now ? (int64_t)(w->next_tick - w->now) : 0;
		if (t < 0 || tick < t)
			t = tick;
	}
	if (t < 0)
		return -1;
	return t > INT_MAX ? INT_MAX : (int)t;
}

static bool worker_event(void *ctx, void *ptr, uint32_t events)
{
	struct net_worker *w = ctx;
	struct net_src *src = ptr;
	switch (src->kind) {
	case NET_SRC_STOP:
		return false;
	case NET_SRC_UDP:
		net_udp_drain(w, (struct net_sock *)src);
		break;
	case NET_SRC_LISTEN:
		net_tcp_accept(w, (struct net_sock *)src);
		break;
	case NET_SRC_CONN:
		net_tcp_event(w, (struct net_conn *)src, events);
		break;
	case NET_SRC_WAKE:
		net_later_drain(w);
		break;
	}
	return true;
}

/* After the events: ready connections, commit, housekeeping, batch_end, reaping. */
static void worker_turn_end(void *ctx)
{
	struct net_worker *w = ctx;
	if (w->ready.head)
		net_tcp_run_ready(w);
	net_release(w);
	if (w->now >= w->next_tick) {
		w->next_tick = w->now + NET_TICK_MS;
		proto_udp_rasm_expire(&w->rasm, w->now);
		__atomic_store_n(&w->st.udp_reasm_pending, proto_udp_rasm_pending(&w->rasm),
		                 __ATOMIC_RELAXED);
	}
	w->idle_in = net_tcp_sweep(w);
	batch_end(w);
	net_tcp_reap(w);
}

static int worker_loop(struct net_worker *w)
{
	static const struct net_loop_ops ops = {worker_timeout, worker_event, worker_turn_end};

	w->now = net_now_ms();
	w->next_tick = w->now + NET_TICK_MS;
	w->idle_in = -1;
	return net_loop_run(w->ep, &w->now, w, &ops);
}

void *net_worker_main(void *arg)
{
	struct net_worker *w = arg;
	int rc = worker_setup(w);

	if (net_crew_report(&w->s->crew, rc)) /* net_start() waits for this */
		w->err = worker_loop(w);
	else
		w->err = rc;
	net_tcp_close_all(w);
	net_later_fini(w);
	if (w->inited && w->s->cfg.worker_fini)
		w->s->cfg.worker_fini(w->wctx);
	net_udp_fini(w);
	if (w->ep >= 0)
		close(w->ep);
	w->ep = -1;
	return NULL;
}
