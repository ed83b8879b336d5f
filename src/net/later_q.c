/*
 * later_q.c - a worker's queue of answers given later by other threads, its
 * wake eventfd, and a server's count of them (common.h), for deferred.c and
 * http_later.c.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/err.h"
#include "net/common.h"

int net_later_q_init(struct net_later_q *q, int ep, void *ptr)
{
	q->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->wakefd < 0)
		return idn_errno(errno);
	pthread_mutex_init(&q->mu, NULL);
	q->mu_init = true;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
	return epoll_ctl(ep, EPOLL_CTL_ADD, q->wakefd, &ev) ? idn_errno(errno) : 0;
}

bool net_later_q_push(struct net_later_q *q, struct net_later_link *l)
{
	l->next = NULL;
	pthread_mutex_lock(&q->mu);
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return false;
	}
	if (q->tail)
		q->tail->next = l;
	else
		q->head = l;
	q->tail = l;
	pthread_mutex_unlock(&q->mu);
	uint64_t one = 1;
	(void)!write(q->wakefd, &one, sizeof(one));
	return true;
}

static struct net_later_link *take(struct net_later_q *q, bool close)
{
	pthread_mutex_lock(&q->mu);
	struct net_later_link *l = q->head;
	q->head = q->tail = NULL;
	q->closed = q->closed || close;
	pthread_mutex_unlock(&q->mu);
	return l;
}

struct net_later_link *net_later_q_take(struct net_later_q *q)
{
	uint64_t n;
	(void)!read(q->wakefd, &n, sizeof(n));
	return take(q, false);
}

struct net_later_link *net_later_q_close(struct net_later_q *q)
{
	return q->mu_init ? take(q, true) : NULL;
}

void net_later_q_destroy(struct net_later_q *q)
{
	if (!q->mu_init) /* never made (a worker that did not start): wakefd is not ours */
		return;
	close(q->wakefd);
	q->wakefd = -1;
	pthread_mutex_destroy(&q->mu);
	q->mu_init = false;
}

void net_later_count_init(struct net_later_count *c)
{
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->n = 0;
}

void net_later_count_destroy(struct net_later_count *c)
{
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
}

void net_later_count_add(struct net_later_count *c)
{
	pthread_mutex_lock(&c->mu);
	c->n++;
	pthread_mutex_unlock(&c->mu);
}

void net_later_count_done(struct net_later_count *c)
{
	pthread_mutex_lock(&c->mu);
	if (--c->n == 0)
		pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu); /* the waiter may free c from here */
}

void net_later_count_wait(struct net_later_count *c)
{
	pthread_mutex_lock(&c->mu);
	while (c->n > 0)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}
