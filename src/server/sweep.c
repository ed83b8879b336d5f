/*
 * sweep.c - the sweeper thread (internal.h): node_sweep() about once a
 * second until stopped.
 */
#include <signal.h>
#include <time.h>

#include "server/internal.h"

enum { SWEEP_MS = 1000 };

static void *sweep_main(void *arg)
{
	server_sweeper *sw = arg;
	pthread_mutex_lock(&sw->lock);
	while (!sw->stop) {
		struct timespec at;
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += SWEEP_MS / 1000;
		if (pthread_cond_timedwait(&sw->wake, &sw->lock, &at) == 0 || sw->stop)
			continue;
		pthread_mutex_unlock(&sw->lock);
		node_sweep(sw->node);
		pthread_mutex_lock(&sw->lock);
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

bool server_sweeper_start(server_sweeper *sw, node *n)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sw->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&sw->lock, NULL);
	sw->node = n;
	sw->stop = false;
	sigset_t all, old;
	sigfillset(&all); /* signals are for the threads that wait for them */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	sw->running = pthread_create(&sw->thread, NULL, sweep_main, sw) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!sw->running) {
		pthread_cond_destroy(&sw->wake);
		pthread_mutex_destroy(&sw->lock);
	}
	return sw->running;
}

void server_sweeper_stop(server_sweeper *sw)
{
	if (!sw->running)
		return;
	pthread_mutex_lock(&sw->lock);
	sw->stop = true;
	pthread_cond_signal(&sw->wake);
	pthread_mutex_unlock(&sw->lock);
	pthread_join(sw->thread, NULL);
	pthread_cond_destroy(&sw->wake);
	pthread_mutex_destroy(&sw->lock);
	sw->running = false;
}
