/*
 * server.c - the Handle server's life: its sockets on every listen
 * address, worker threads, stop, counters.
 *
 * Every socket is made and bound here, on the caller's thread, before any
 * worker starts, so a bad address fails net_start() with a message that names
 * it instead of a worker dying later. Each worker gets its own UDP socket and
 * TCP listener per address, all in one SO_REUSEPORT group per address and
 * protocol: the kernel spreads datagrams and connections over the workers by
 * flow hash, and the packets of one client's multi-packet request all reach
 * the worker that reassembles them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "net/common.h"
#include "net/internal.h"

enum {
	NET_DEF_IDLE_MS = 30000,
	NET_DEF_MESSAGE_MS = 5000,
	NET_DEF_PIPELINE = 32,
	NET_UDP_SOCKBUF = 4 << 20,
	NET_PORT0_TRIES = 16, /* port 0: the kernel's pick may be taken for the other protocol */
};

/* Errors of net_start(): into cfg->errbuf. */
#define set_err(cfg, ...) net_set_err((cfg)->errbuf, (cfg)->errbuf_len, __VA_ARGS__)

static unsigned ncpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static void socks_close_from(struct net_server *s, unsigned from)
{
	while (s->nsocks > from) {
		s->nsocks--;
		close(s->socks[s->nsocks].fd);
	}
}

enum { OPEN_OK, OPEN_SKIP, OPEN_RETRY };

/*
 * The UDP socket and TCP listener of every worker on one address, at *port
 * (0: the kernel's pick, then written back). OPEN_SKIP: the optional [::] of
 * ":PORT" on a host without IPv6. OPEN_RETRY: the picked port is taken for
 * the other protocol. Negative: an error, described in errbuf.
 */
static int socks_open_addr(struct net_server *s, unsigned li, const char *spec, struct net_addr *a,
                           bool pick, unsigned *port)
{
	unsigned first = s->nsocks;
	for (unsigned w = 0; w < s->nthreads; w++) {
		for (int t = 0; t < 2; t++) {
			int type = t == 0 ? SOCK_DGRAM : SOCK_STREAM;
			/* The first worker's socket probes, and picks the port when asked for 0. */
			int fd = w == 0 ? net_sock_open_first(a, type, port, NET_UDP_SOCKBUF)
			                : net_sock_open(a, type, false, NET_UDP_SOCKBUF);
			if (fd < 0 && a->optional && w == 0 && t == 0 &&
			    (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL || fd == -EPROTONOSUPPORT))
				return OPEN_SKIP;
			if (fd == -EADDRINUSE && pick)
				return OPEN_RETRY;
			if (fd < 0) {
				set_err(&s->cfg, "listen %s (%s, %s): %s", spec,
				        a->ss.ss_family == AF_INET ? "IPv4" : "IPv6",
				        t == 0 ? "udp" : "tcp", strerror(-fd));
				return idn_errno(-fd);
			}
			struct net_sock *sk = &s->socks[s->nsocks++];
			sk->src.kind = t == 0 ? NET_SRC_UDP : NET_SRC_LISTEN;
			sk->fd = fd;
			sk->type = type;
			sk->family = a->ss.ss_family;
			sk->pktinfo = t == 0 && a->wildcard;
			sk->listen_idx = li;
			sk->worker = w;
		}
	}
	/* Our listeners alone: a process that probed at the same instant has not joined them. */
	int fds[2 * s->nthreads];
	unsigned nfds = 0;
	for (unsigned i = first; i < s->nsocks; i++)
		if (s->socks[i].type == SOCK_STREAM)
			fds[nfds++] = s->socks[i].fd;
	if (net_listen_shared(a, *port, fds, nfds)) {
		set_err(&s->cfg, "listen %s (%s, tcp): %s (by another process at the same time)",
		        spec, a->ss.ss_family == AF_INET ? "IPv4" : "IPv6", strerror(EADDRINUSE));
		return idn_errno(EADDRINUSE);
	}
	return OPEN_OK;
}

/* Every socket of listen address li, for every worker. */
static int socks_open_listen(struct net_server *s, unsigned li, const char *spec)
{
	struct net_addr a[2];
	unsigned na, want;
	int rc = net_listen_parse("", s->cfg.errbuf, s->cfg.errbuf_len, spec, true, a, &na, &want);

	if (rc < 0)
		return rc;
	for (int attempt = 0; attempt < NET_PORT0_TRIES; attempt++) {
		unsigned first = s->nsocks, port = want;

		rc = OPEN_OK;
		for (unsigned ai = 0; ai < na && rc != OPEN_RETRY; ai++) {
			rc = socks_open_addr(s, li, spec, &a[ai], want == 0, &port);
			if (rc < 0)
				return rc;
		}
		if (rc != OPEN_RETRY) {
			s->ports[li] = port;
			return IDN_OK;
		}
		socks_close_from(s, first);
	}
	set_err(&s->cfg, "listen %s: no port free for both UDP and TCP after %d tries", spec,
	        NET_PORT0_TRIES);
	return IDN_EBUSY;
}

static void server_free(struct net_server *s)
{
	socks_close_from(s, 0);
	if (s->stopfd >= 0)
		close(s->stopfd);
	net_crew_destroy(&s->crew);
	net_later_count_destroy(&s->nlater);
	net_rrl_free(&s->rrl);
	for (unsigned i = 0; s->w && i < s->nthreads; i++)
		net_later_q_destroy(&s->w[i].lq);
	free(s->socks);
	free(s->ports);
	free(s->w);
	free(s);
}

int net_start(const net_config *cfg, net_server **out)
{
	struct net_server *s = NULL;
	int rc;

	*out = NULL;
	if (!cfg || !cfg->handle || !cfg->listen || cfg->nlisten == 0) {
		if (cfg)
			set_err(cfg, "net: a handler and at least one listen address are needed");
		return IDN_EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	s->stopfd = -1;
	net_crew_init(&s->crew);
	s->crew.held = cfg->held;
	net_later_count_init(&s->nlater);
	s->cfg = *cfg;
	s->cfg.listen = NULL; /* borrowed only for the duration of this call */
	s->max_msg = cfg->max_msg ? cfg->max_msg : PROTO_MSG_MAX;
	s->max_conns = cfg->max_tcp_conns ? cfg->max_tcp_conns : NET_DEF_CONNS;
	s->idle_ms = cfg->tcp_idle_ms ? cfg->tcp_idle_ms : NET_DEF_IDLE_MS;
	s->msg_ms = cfg->tcp_message_ms ? cfg->tcp_message_ms : NET_DEF_MESSAGE_MS;
	s->max_pipeline = cfg->tcp_max_pipeline ? cfg->tcp_max_pipeline : NET_DEF_PIPELINE;
	s->nthreads = cfg->threads ? cfg->threads : ncpus();
	s->udp_answer_max = cfg->udp_answer_max ? cfg->udp_answer_max : PROTO_UDP_ANSWER_MAX_DEF;
	s->udp_ratio = cfg->udp_amplification ? cfg->udp_amplification : PROTO_UDP_RATIO_DEF;
	s->udp_slip = cfg->udp_rate_slip;
	s->stop_src.kind = NET_SRC_STOP;
	atomic_init(&s->nconns, 0);
	if (s->max_msg > UINT32_MAX) {
		set_err(cfg, "net: max_msg %zu is over 4 GiB", s->max_msg);
		rc = IDN_ECONFIG;
		goto fail;
	}

	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
	if (net_rrl_init(&s->rrl, cfg->udp_rate_limit, 0, 0, seed) < 0) {
		set_err(cfg, "net: out of memory for the UDP rate limit table");
		rc = IDN_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_udp_rate_exempt; i++)
		if (net_rrl_exempt_add(&s->rrl, cfg->udp_rate_exempt[i])) {
			set_err(cfg,
			        "udp-rate-exempt %s: not a network ADDR/BITS (or more than %d)",
			        cfg->udp_rate_exempt[i], NET_RRL_EXEMPT_MAX);
			rc = IDN_ECONFIG;
			goto fail;
		}
	net_fd_reserve();
	s->stopfd = net_stopfd_new();
	s->ports = calloc(cfg->nlisten, sizeof(*s->ports));
	s->socks = calloc((size_t)cfg->nlisten * 2 * 2 * s->nthreads, sizeof(*s->socks));
	s->w = calloc(s->nthreads, sizeof(*s->w));
	if (s->stopfd < 0 || !s->ports || !s->socks || !s->w) {
		set_err(cfg, "net: out of memory or file descriptors");
		rc = s->stopfd < 0 ? idn_errno(errno) : IDN_ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->nlisten; i++) {
		rc = socks_open_listen(s, i, cfg->listen[i]);
		if (rc < 0)
			goto fail;
	}

	/* SIGTERM/SIGINT are blocked in the workers: they go to the thread that waits for them. */
	unsigned started = 0;
	rc = IDN_OK;
	for (unsigned i = 0; i < s->nthreads; i++) {
		struct net_worker *w = &s->w[i];
		w->s = s;
		w->idx = i;
		w->ep = -1;
		w->lq.wakefd = -1;
		int e = net_thread_start(&w->th, net_worker_main, w);
		if (e != 0) {
			set_err(cfg, "net: cannot start worker thread %u: %s", i, strerror(e));
			rc = idn_errno(e);
			break;
		}
		w->started = true;
		started++;
	}
	int start_err = net_crew_wait(&s->crew, started);
	if (rc == IDN_OK && start_err < 0) {
		rc = start_err;
		set_err(cfg, "net: worker set-up failed: %s", idn_strerror(rc));
	}
	if (rc < 0) {
		net_stop(s);
		net_wait(s);
		return rc;
	}
	*out = s;
	return IDN_OK;
fail:
	server_free(s);
	return rc;
}

void net_go(net_server *s)
{
	net_crew_go(&s->crew, true);
}

void net_stop(net_server *s)
{
	net_stopfd_raise(s->stopfd);
}

int net_wait(net_server *s)
{
	int rc = IDN_OK;

	net_crew_go(&s->crew, false); /* held workers never served: they stop now */

	for (unsigned i = 0; i < s->nthreads; i++) {
		struct net_worker *w = &s->w[i];
		if (!w->started)
			continue;
		pthread_join(w->th, NULL);
		if (rc == IDN_OK && w->err < 0)
			rc = w->err;
	}
	net_later_wait(s); /* a deferred answer may still be on its way */
	server_free(s);
	return rc;
}

int net_run_until_signal(net_server *s)
{
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = s->stopfd, .events = POLLIN}};

	/* Without a signalfd (out of fds), net_stop() from elsewhere still ends the wait. */
	for (;;) {
		int n = poll(sfd >= 0 ? pf : pf + 1, sfd >= 0 ? 2 : 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (sfd >= 0 && (pf[0].revents & POLLIN)) || (pf[1].revents & POLLIN))
			break;
	}
	if (sfd >= 0) {
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			;
		close(sfd);
	}
	net_stop(s);
	int rc = net_wait(s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

unsigned net_bound_port(const net_server *s, unsigned idx)
{
	return s->ports[idx];
}

unsigned net_threads(const net_server *s)
{
	return s->nthreads;
}

void net_stats(net_server *s, struct net_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < s->nthreads; i++) {
		const struct net_stats *t = &s->w[i].st;
#define NET_SUM(f) st->f += __atomic_load_n(&t->f, __ATOMIC_RELAXED)
		NET_SUM(udp_requests);
		NET_SUM(udp_answers);
		NET_SUM(udp_drops);
		NET_SUM(udp_pkts_in);
		NET_SUM(udp_pkts_out);
		NET_SUM(udp_send_fail);
		NET_SUM(udp_gso);
		NET_SUM(udp_bytes_in);
		NET_SUM(udp_bytes_out);
		NET_SUM(udp_reasm_pending);
		NET_SUM(tcp_requests);
		NET_SUM(tcp_answers);
		NET_SUM(tcp_drops);
		NET_SUM(commits);
		NET_SUM(commit_fail);
		NET_SUM(tcp_bytes_in);
		NET_SUM(tcp_bytes_out);
		NET_SUM(tcp_accepted);
		NET_SUM(tcp_refused);
		NET_SUM(tcp_closed_idle);
#undef NET_SUM
	}
	st->tcp_conns = atomic_load_explicit(&s->nconns, memory_order_relaxed);
}
