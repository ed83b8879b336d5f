/*
 * stats.c - the statistics' writer thread (node_stats_flush every few
 * seconds and at stop, node_stats_prune every hour); SIGUSR1, which logs the
 * resolver's cache statistics and how often each protective limit acted
 * (core/limit.h); SIGHUP, which reloads the settings (reload.c). The signals
 * are blocked in every thread (blocked before net_start, inherited) and taken
 * here with sigwait, so the printing and the reload run in a normal thread,
 * not in a handler.
 */
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "core/limit.h"
#include "node/stats.h"
#include "server/internal.h"
#include "server/server.h"

static volatile sig_atomic_t stats_stop;

void server_stats_log(resolver *r)
{
	char line[1024];
	if (r) {
		resolver_stats_line(r, line, sizeof(line));
		fprintf(stderr, "idnode: %s\n", line);
	}
	limit_line(line, sizeof(line));
	fprintf(stderr, "idnode: %s\n", line);
}

static void *stats_main(void *arg)
{
	server_stats *st = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) || stats_stop)
			break;
		if (sig == SIGHUP && st->reload)
			st->reload(st->arg);
		else if (sig == SIGUSR1)
			server_stats_log(st->res);
	}
	return NULL;
}

void server_hold_signals(void)
{
	sigset_t us;
	sigemptyset(&us);
	sigaddset(&us, SIGUSR1);
	sigaddset(&us, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &us, NULL);
}

bool server_stats_start(server_stats *st)
{
	sigset_t all, old;
	stats_stop = 0;
	sigfillset(&all); /* the stats thread takes only its sigwait's SIGUSR1 */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	st->running = pthread_create(&st->thread, NULL, stats_main, st) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return st->running;
}

void server_stats_stop(server_stats *st)
{
	if (!st->running)
		return;
	stats_stop = 1;
	pthread_kill(st->thread, SIGUSR1);
	pthread_join(st->thread, NULL);
	st->running = false;
}

/* ---- the statistics' writer ---- */

static void flush_now(server_flusher *f)
{
	int ret = node_stats_flush(f->node, (uint32_t)time(NULL));
	if (ret)
		fprintf(stderr, "idnode: statistics not saved: %s\n", idn_strerror(ret));
}

static void *flusher_main(void *arg)
{
	server_flusher *f = arg;
	time_t next_prune = 0;
	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += f->flush_s;
		while (!f->stop && pthread_cond_timedwait(&f->wake, &f->lock, &ts) == 0)
			;
		if (f->stop)
			break;
		pthread_mutex_unlock(&f->lock);
		flush_now(f);
		time_t now = time(NULL);
		if (now >= next_prune) {
			size_t gone = 0;
			int ret = node_stats_prune(f->store, (uint32_t)now, f->hour_days,
			                           f->day_days, 0, &gone);
			if (ret)
				fprintf(stderr, "idnode: statistics not pruned: %s\n",
				        idn_strerror(ret));
			next_prune = now + 3600;
		}
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

bool server_flusher_start(server_flusher *f, node *n, store *s, unsigned flush_s,
                          unsigned hour_days, unsigned day_days)
{
	f->node = n;
	f->store = s;
	f->flush_s = flush_s ? flush_s : 5;
	f->hour_days = hour_days;
	f->day_days = day_days;
	f->stop = false;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	sigset_t all, old;
	sigfillset(&all); /* signals are the main thread's and the stats thread's */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	f->running = pthread_create(&f->thread, NULL, flusher_main, f) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return f->running;
}

void server_flusher_stop(server_flusher *f)
{
	if (!f->running)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	flush_now(f); /* what came since the last one */
	f->running = false;
}
