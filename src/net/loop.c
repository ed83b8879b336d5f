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

int net_loop_run(int ep, uint64_t *now, void *ctx, const struct net_loop_ops *ops)
{
	struct epoll_event ev[NET_LOOP_EVENTS];
	bool stop = false;

	*now = net_now_ms();
	while (!stop) {
		int n = epoll_wait(ep, ev, NET_LOOP_EVENTS, ops->timeout(ctx));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return idn_errno(errno);
		}
		*now = net_now_ms();
		for (int i = 0; i < n; i++)
			if (!ops->event(ctx, ev[i].data.ptr, ev[i].events))
				stop = true;
		ops->turn_end(ctx);
	}
	return IDN_OK;
}
