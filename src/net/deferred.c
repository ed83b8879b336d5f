/*
 * deferred.c - deferred answers to TCP requests (net.h: net_defer, net_answer).
 *
 * A net_later belongs to the connection that waits for it until another
 * thread answers: net_answer() copies the answer, queues the net_later on
 * the connection's worker and wakes it through the worker's eventfd; the
 * worker takes the queue in (net_later_drain) and hands each answer to its
 * connection. Only the worker touches its connections: `c` is read and
 * cleared (when the connection closes first) on the worker thread alone.
 *
 * Counting: the server counts net_laters from net_defer to their free, and
 * net_wait() waits for zero, so that a late net_answer() never finds the
 * worker freed. A worker that has stopped (lclosed) frees what comes in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/err.h"
#include "net/internal.h"

struct net_later {
	struct net_worker *w;
	struct net_conn *c; /* the worker's: NULL once the connection is gone */
	struct net_later *next;
	uint8_t *ans;
	size_t len;
};

int net_later_init(struct net_worker *w)
{
	w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wakefd < 0)
		return idn_errno(errno);
	pthread_mutex_init(&w->lmu, NULL);
	w->lmu_init = true;
	w->wake_src.kind = NET_SRC_WAKE;
	return net_epoll_add(w, w->wakefd, EPOLLIN, &w->wake_src);
}

static void later_free(struct net_later *l)
{
	struct net_server *s = l->w->s;

	free(l->ans);
	free(l);
	pthread_mutex_lock(&s->later_mu);
	if (--s->nlater == 0)
		pthread_cond_broadcast(&s->later_cv);
	pthread_mutex_unlock(&s->later_mu);
}

net_later *net_defer(const net_req *req)
{
	struct net_conn *c = req->conn;

	if (req->transport != NET_TCP || !c || c->later)
		return NULL;
	struct net_later *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->w = c->w;
	l->c = c;
	c->later = l;
	struct net_server *s = c->w->s;
	pthread_mutex_lock(&s->later_mu);
	s->nlater++;
	pthread_mutex_unlock(&s->later_mu);
	return l;
}

void net_answer(net_later *l, const uint8_t *ans, size_t len)
{
	struct net_worker *w = l->w;

	if (len && ans && (l->ans = malloc(len))) {
		memcpy(l->ans, ans, len);
		l->len = len;
	}
	l->next = NULL;
	pthread_mutex_lock(&w->lmu);
	if (w->lclosed) {
		pthread_mutex_unlock(&w->lmu);
		later_free(l);
		return;
	}
	if (w->done_tail)
		w->done_tail->next = l;
	else
		w->done_head = l;
	w->done_tail = l;
	pthread_mutex_unlock(&w->lmu);
	uint64_t one = 1;
	(void)!write(w->wakefd, &one, sizeof(one));
}

void net_later_drain(struct net_worker *w)
{
	uint64_t n;
	(void)!read(w->wakefd, &n, sizeof(n));
	pthread_mutex_lock(&w->lmu);
	struct net_later *l = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lmu);
	while (l) {
		struct net_later *next = l->next;
		if (l->c) {
			l->c->later = NULL;
			net_tcp_later_done(w, l->c, l->ans, l->len);
		}
		later_free(l);
		l = next;
	}
}

void net_later_fini(struct net_worker *w)
{
	if (!w->lmu_init)
		return;
	pthread_mutex_lock(&w->lmu);
	w->lclosed = true;
	struct net_later *l = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lmu);
	while (l) {
		struct net_later *next = l->next;
		later_free(l);
		l = next;
	}
	if (w->wakefd >= 0)
		close(w->wakefd);
	w->wakefd = -1;
}

void net_later_wait(struct net_server *s)
{
	pthread_mutex_lock(&s->later_mu);
	while (s->nlater > 0)
		pthread_cond_wait(&s->later_cv, &s->later_mu);
	pthread_mutex_unlock(&s->later_mu);
}

/* Called by conn_close(): the answer, when it comes, has nowhere to go. */
void net_later_orphan(struct net_conn *c)
{
	if (c->later) {
		c->later->c = NULL;
		c->later = NULL;
	}
}
