/*
 * stats.c - SIGUSR1 logs the resolver's cache statistics and how often each
 * protective limit acted (core/limit.h); SIGHUP reloads the settings
 * (reload.c). The signals are blocked in every thread (blocked before
 * net_start, inherited) and taken here with sigwait, so the printing and the
 * reload run in a normal thread, not in a handler.
 */
#include <signal.h>
#include <stdio.h>

#include "core/limit.h"
#include "server/internal.h"

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

void server_stats_block_signal(void)
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
