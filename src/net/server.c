/*
 * server.c - the server's life: listen addresses, sockets, worker threads,
 * stop, counters.
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
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "net/internal.h"

enum {
	NET_DEF_CONNS = 4096,
	NET_DEF_IDLE_MS = 30000,
	NET_DEF_PIPELINE = 32,
	NET_UDP_SOCKBUF = 4 << 20,
	NET_LISTEN_BACKLOG = 1024,
	NET_PORT0_TRIES = 16, /* port 0: the kernel's pick may be taken for the other protocol */
};

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool wildcard; /* 0.0.0.0 or [::]: answers need pktinfo */
	bool optional; /* the [::] of ":PORT": skipped on a host without IPv6 */
};

static void set_err(const net_config *cfg, const char *fmt, ...)
{
	if (!cfg->errbuf || cfg->errbuf_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cfg->errbuf, cfg->errbuf_len, fmt, ap);
	va_end(ap);
}

static unsigned ncpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* "ADDR:PORT", "[V6]:PORT", ":PORT" or "*:PORT" -> one or two addresses. */
static int parse_listen(const net_config *cfg, const char *spec, struct net_addr a[2], unsigned *na,
                        unsigned *port)
{
	const char *orig = spec;
	const char *colon = spec ? strrchr(spec, ':') : NULL;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *end;

	if (!colon || colon[1] == '\0') {
		set_err(cfg, "listen \"%s\": expected ADDR:PORT, [V6ADDR]:PORT or :PORT",
		        spec ? spec : "(null)");
		return IDN_ECONFIG;
	}
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno || p > 65535 || colon[1] == '-' || colon[1] == '+') {
		set_err(cfg, "listen \"%s\": bad port (0..65535)", spec);
		return IDN_ECONFIG;
	}
	*port = (unsigned)p;

	size_t hl = (size_t)(colon - spec);
	memset(a, 0, 2 * sizeof(*a));
	if (hl == 0 || (hl == 1 && spec[0] == '*')) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&a[0].ss;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a[1].ss;
		v4->sin_family = AF_INET;
		v4->sin_addr.s_addr = htonl(INADDR_ANY);
		a[0].len = sizeof(*v4);
		a[0].wildcard = true;
		v6->sin6_family = AF_INET6;
		v6->sin6_addr = in6addr_any;
		a[1].len = sizeof(*v6);
		a[1].wildcard = true;
		a[1].optional = true;
		*na = 2;
		return IDN_OK;
	}
	bool bracket = spec[0] == '[';
	if (bracket) {
		if (hl < 3 || spec[hl - 1] != ']') {
			set_err(cfg, "listen \"%s\": unbalanced brackets around the IPv6 address",
			        spec);
			return IDN_ECONFIG;
		}
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		set_err(cfg, "listen \"%s\": address too long", orig);
		return IDN_ECONFIG;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';

	struct addrinfo hints = {.ai_family = bracket ? AF_INET6 : AF_INET,
	                         .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res || res->ai_addrlen > sizeof(a[0].ss)) {
		set_err(cfg, "listen \"%s\": \"%s\" is not a numeric %s address%s", orig, host,
		        bracket ? "IPv6" : "IPv4",
		        bracket || !strchr(host, ':') ? ""
		                                      : " (IPv6 goes in brackets: [::1]:2641)");
		if (res)
			freeaddrinfo(res);
		return IDN_ECONFIG;
	}
	memcpy(&a[0].ss, res->ai_addr, res->ai_addrlen);
	a[0].len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	if (a[0].ss.ss_family == AF_INET)
		a[0].wildcard =
		    ((struct sockaddr_in *)&a[0].ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	else
		a[0].wildcard =
		    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&a[0].ss)->sin6_addr);
	*na = 1;
	return IDN_OK;
}

static void addr_set_port(struct net_addr *a, unsigned port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

static unsigned sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * One bound, non-blocking socket; -errno on failure. A probe is bound alone,
 * without SO_REUSEPORT, and closed at once: SO_REUSEPORT would let us join
 * the group of another process of the same user on that port and silently
 * share its traffic, so the probe makes "address in use" an error again.
 * (TCP probes keep SO_REUSEADDR so that TIME_WAIT leftovers do not count.)
 */
static int sock_open(const struct net_addr *a, int type, bool probe)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (!probe && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (type == SOCK_DGRAM && !probe) {
		/* Best effort: capped by net.core.[rw]mem_max. */
		int sz = NET_UDP_SOCKBUF;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		if (a->wildcard) {
			int rc =
			    a->ss.ss_family == AF_INET
			        ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))
			        : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
			if (rc < 0)
				goto fail;
		}
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto fail;
	if (type == SOCK_STREAM && !probe) {
		/*
		 * Accepted sockets inherit it: answers are whole messages written
		 * at once, with nothing to wait for, and one setsockopt per
		 * connection is saved.
		 */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (listen(fd, NET_LISTEN_BACKLOG) < 0)
			goto fail;
	}
	return fd;
fail:;
	int err = errno;
	close(fd);
	return -err;
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
	for (unsigned w = 0; w < s->nthreads; w++) {
		for (int t = 0; t < 2; t++) {
			int type = t == 0 ? SOCK_DGRAM : SOCK_STREAM;
			int fd;
			addr_set_port(a, *port);
			if (w == 0) {
				/* The probe also picks the port when asked for 0. */
				fd = sock_open(a, type, true);
				if (fd >= 0) {
					if (*port == 0) {
						*port = sock_port(fd);
						addr_set_port(a, *port);
					}
					close(fd);
					fd = sock_open(a, type, false);
				}
			} else {
				fd = sock_open(a, type, false);
			}
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
	return OPEN_OK;
}

/* Every socket of listen address li, for every worker. */
static int socks_open_listen(struct net_server *s, unsigned li, const char *spec)
{
	struct net_addr a[2];
	unsigned na, want;
	int rc = parse_listen(&s->cfg, spec, a, &na, &want);

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
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->later_mu);
	pthread_cond_destroy(&s->later_cv);
	for (unsigned i = 0; s->w && i < s->nthreads; i++)
		if (s->w[i].lmu_init)
			pthread_mutex_destroy(&s->w[i].lmu);
	free(s->socks);
	free(s->ports);
	free(s->w);
	free(s);
}

int net_start(const net_config *cfg, net_server **out)
{
	struct net_server *s = NULL;
	sigset_t block, old;
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
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_mutex_init(&s->later_mu, NULL);
	pthread_cond_init(&s->later_cv, NULL);
	s->cfg = *cfg;
	s->cfg.listen = NULL; /* borrowed only for the duration of this call */
	s->max_msg = cfg->max_msg ? cfg->max_msg : PROTO_MSG_MAX;
	s->max_conns = cfg->max_tcp_conns ? cfg->max_tcp_conns : NET_DEF_CONNS;
	s->idle_ms = cfg->tcp_idle_ms ? cfg->tcp_idle_ms : NET_DEF_IDLE_MS;
	s->max_pipeline = cfg->tcp_max_pipeline ? cfg->tcp_max_pipeline : NET_DEF_PIPELINE;
	s->nthreads = cfg->threads ? cfg->threads : ncpus();
	s->stop_src.kind = NET_SRC_STOP;
	atomic_init(&s->nconns, 0);
	if (s->max_msg > UINT32_MAX) {
		set_err(cfg, "net: max_msg %zu is over 4 GiB", s->max_msg);
		rc = IDN_ECONFIG;
		goto fail;
	}

	s->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
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

	/* Workers inherit the mask: SIGTERM/SIGINT go to the thread that waits for them. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	unsigned started = 0;
	rc = IDN_OK;
	for (unsigned i = 0; i < s->nthreads; i++) {
		struct net_worker *w = &s->w[i];
		w->s = s;
		w->idx = i;
		w->ep = -1;
		w->wakefd = -1;
		int e = pthread_create(&w->th, NULL, net_worker_main, w);
		if (e != 0) {
			set_err(cfg, "net: cannot start worker thread %u: %s", i, strerror(e));
			rc = idn_errno(e);
			break;
		}
		w->started = true;
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	pthread_mutex_lock(&s->lock);
	while (s->nready < started)
		pthread_cond_wait(&s->cond, &s->lock);
	if (rc == IDN_OK && s->start_err < 0) {
		rc = s->start_err;
		set_err(cfg, "net: worker set-up failed: %s", idn_strerror(rc));
	}
	pthread_mutex_unlock(&s->lock);
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

void net_stop(net_server *s)
{
	/* Never read: the eventfd stays readable and wakes every worker's epoll. */
	uint64_t one = 1;
	ssize_t n = write(s->stopfd, &one, sizeof(one));
	(void)n;
}

int net_wait(net_server *s)
{
	int rc = IDN_OK;

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
