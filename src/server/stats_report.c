/*
 * stats_report.c - the thread that sends this node's daily statistics to
 * its parent (--stats-parent, docs/statistics.md "Reports to the parent"):
 * every --stats-report-s seconds, for each --stats-report prefix and each
 * of the last --stats-report-days days, the day's report
 * (node/stats_report.h) when its rows are not yet acknowledged, POSTed to
 * the parent's /api/stats/report over plain HTTP (the parent named, or
 * found through --root: stats_parent.c); a 200 is recorded as
 * acknowledged in the store. While the parent is down or refuses, the
 * cycle is retried with back-off (1 s doubling, at most the interval or
 * 5 minutes), and every day not acknowledged goes when it is back.
 */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "auth/sign.h"
#include "node/stats_report.h"
#include "server/internal.h"

enum { REPORT_IO_S = 10, BACKOFF_MAX_S = 300 };

/* Connects to "host:port" (the last ':' splits; [v6]:port too): fd, or -1. */
static int dial(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	size_t hl = colon ? (size_t)(colon - addr) : 0;
	if (!colon || hl == 0 || hl >= sizeof(host))
		return -1;
	if (addr[0] == '[' && addr[hl - 1] == ']')
		memcpy(host, addr + 1, hl -= 2);
	else
		memcpy(host, addr, hl);
	host[hl] = 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -1;
	int fd = -1;
	for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = {.tv_sec = REPORT_IO_S};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, p->ai_addr, p->ai_addrlen)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* POSTs body to the parent: the HTTP status, or -1 (unreachable); msg gets the answer's body. */
static int post(const char *parent, const char *body, size_t len, char *msg, size_t cap)
{
	int fd = dial(parent);
	if (fd < 0)
		return -1;
	char head[512], ans[2048];
	int hn = snprintf(head, sizeof(head),
	                  "POST /api/stats/report HTTP/1.1\r\nHost: %s\r\n"
	                  "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	                  "Connection: close\r\n\r\n",
	                  parent, len);
	size_t got = 0;
	if (send_all(fd, head, (size_t)hn) && send_all(fd, body, len))
		for (ssize_t k; got < sizeof(ans) - 1 &&
		                (k = recv(fd, ans + got, sizeof(ans) - 1 - got, 0)) > 0;)
			got += (size_t)k;
	close(fd);
	ans[got] = 0;
	int status;
	if (sscanf(ans, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	const char *b = strstr(ans, "\r\n\r\n");
	snprintf(msg, cap, "%s", b ? b + 4 : "");
	return status;
}

/* One day of one prefix: true when the parent (at "HOST:PORT") has it (now or before). */
static bool report_day(server_reporter *rp, const char *parent, const char *prefix, uint32_t day)
{
	node_report r;
	int ret = node_report_build(rp->store, prefix, day, rp->key, &r);
	if (ret <= 0) {
		if (ret < 0)
			fprintf(stderr, "idnode: statistics report of %s not built: %s\n", prefix,
			        idn_strerror(ret));
		return ret == 0;
	}
	char msg[512];
	int status = post(parent, r.envelope, r.len, msg, sizeof(msg));
	bool ok = status == 200;
	if (ok && (ret = node_report_acked(rp->store, prefix, day, &r)))
		fprintf(stderr, "idnode: statistics report acknowledgement not saved: %s\n",
		        idn_strerror(ret));
	else if (status == 409) /* a replay to the parent: the next cycle sends a newer one */
		node_report_used(rp->store, prefix, day, &r);
	if (!ok)
		fprintf(stderr, "idnode: statistics report of %s to %s: %s %s\n", prefix, parent,
		        status < 0 ? "parent unreachable" : "refused", msg);
	node_report_free(&r);
	return ok && !ret;
}

/*
 * One cycle: every prefix, every day of the window; true when all went.
 * Without --stats-parent each prefix's parent is found through the root
 * at each cycle, so a parent that moves is followed.
 */
static bool cycle(server_reporter *rp)
{
	uint32_t today = (uint32_t)(time(NULL) / 86400);
	bool all = true;
	for (size_t i = 0; i < rp->nprefixes; i++) {
		char found[80], why[400];
		const char *parent = rp->parent;
		if (!parent) {
			int ret = server_stats_parent_find(rp->root, rp->prefixes[i], found,
			                                   sizeof(found), why, sizeof(why));
			if (ret) {
				fprintf(stderr,
				        "idnode: statistics report of %s: parent not found through "
				        "the root %s: %s\n",
				        rp->prefixes[i], rp->root, why);
				all = false;
				continue;
			}
			parent = found;
		}
		for (uint32_t d = today - rp->days + 1; d <= today; d++)
			all &= report_day(rp, parent, rp->prefixes[i], d);
	}
	return all;
}

static void *reporter_main(void *arg)
{
	server_reporter *rp = arg;
	unsigned backoff = 1, wait_s = rp->interval_s < 5 ? rp->interval_s : 5; /* first: soon */
	pthread_mutex_lock(&rp->lock);
	while (!rp->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_s;
		while (!rp->stop && pthread_cond_timedwait(&rp->wake, &rp->lock, &ts) == 0)
			;
		if (rp->stop)
			break;
		pthread_mutex_unlock(&rp->lock);
		bool ok = cycle(rp);
		pthread_mutex_lock(&rp->lock);
		unsigned cap = rp->interval_s < BACKOFF_MAX_S ? rp->interval_s : BACKOFF_MAX_S;
		wait_s = ok ? rp->interval_s : backoff;
		backoff = ok ? 1 : backoff * 2 > cap ? cap : backoff * 2;
	}
	pthread_mutex_unlock(&rp->lock);
	return NULL;
}

bool server_reporter_start(server_reporter *rp, store *s, const auth_key *key, const char *parent,
                           const char *root, const char *const *prefixes, size_t n,
                           unsigned interval_s, unsigned days)
{
	rp->store = s;
	rp->key = auth_key_pkey(key);
	rp->parent = parent;
	rp->root = root;
	rp->prefixes = prefixes;
	rp->nprefixes = n;
	rp->interval_s = interval_s ? interval_s : 86400;
	rp->days = days ? days : 1;
	rp->stop = false;
	pthread_mutex_init(&rp->lock, NULL);
	pthread_cond_init(&rp->wake, NULL);
	sigset_t all, old;
	sigfillset(&all); /* signals are the main thread's and the stats thread's */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rp->running = pthread_create(&rp->thread, NULL, reporter_main, rp) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rp->running;
}

void server_reporter_stop(server_reporter *rp)
{
	if (!rp->running)
		return;
	pthread_mutex_lock(&rp->lock);
	rp->stop = true;
	pthread_cond_signal(&rp->wake);
	pthread_mutex_unlock(&rp->lock);
	pthread_join(rp->thread, NULL);
	rp->running = false;
}
