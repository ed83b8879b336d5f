/*
 * loop.c - the one event loop of net/: a worker thread's epoll turns, run by
 * both servers' workers (worker.c for Handle UDP/TCP, http.c for HTTP).
 * See common.h.
 */
#include <errno.h>
#include <sys/epoll.h>

#include "core/err.h"
#include "net/common.h"

enum { NET_LOOP_EVENTS = 64 }; /* epoll events per turn */

int net_loop_run(const struct net_loop *l)
{
	struct epoll_event ev[NET_LOOP_EVENTS];
	bool stop = false;

	*l->now = net_now_ms();
	while (!stop) {
		int n = epoll_wait(l->ep, ev, NET_LOOP_EVENTS, l->timeout(l->ctx));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return idn_errno(errno);
		}
		*l->now = net_now_ms();
		for (int i = 0; i < n; i++)
			if (!l->event(l->ctx, ev[i].data.ptr, ev[i].events))
				stop = true;
		l->turn_end(l->ctx);
	}
	return IDN_OK;
}
