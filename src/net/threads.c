/*
 * threads.c - the stop eventfd and the start-up of worker threads, for both
 * of net's servers. See common.h.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net/common.h"

int net_stopfd_new(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

void net_stopfd_raise(int fd)
{
	/* Never read: the eventfd stays readable and wakes every worker's epoll. */
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n;
}

void net_crew_init(struct net_crew *c)
{
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->nready = 0;
	c->start_err = 0;
	c->held = false;
	c->go = 0;
}

void net_crew_destroy(struct net_crew *c)
{
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
}

bool net_crew_report(struct net_crew *c, int rc)
{
	pthread_mutex_lock(&c->lock);
	if (rc < 0 && c->start_err == 0)
		c->start_err = rc;
	c->nready++;
	pthread_cond_broadcast(&c->cond);
	while (rc == 0 && c->held && c->go == 0)
		pthread_cond_wait(&c->cond, &c->lock);
	bool on = rc == 0 && (!c->held || c->go > 0);
	pthread_mutex_unlock(&c->lock);
	return on;
}

void net_crew_go(struct net_crew *c, bool go)
{
	pthread_mutex_lock(&c->lock);
	if (c->go == 0)
		c->go = go ? 1 : -1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int net_crew_wait(struct net_crew *c, unsigned started)
{
	pthread_mutex_lock(&c->lock);
	while (c->nready < started)
		pthread_cond_wait(&c->cond, &c->lock);
	int rc = c->start_err;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int net_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t block, old;

	/* The new thread inherits the mask. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int e = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}
