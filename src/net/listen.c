/*
 * listen.c - listen addresses and listening sockets, for both of net's
 * servers (the Handle UDP/TCP one and the HTTP one). See common.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "net/common.h"

uint64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void net_set_err(char *errbuf, size_t errbuf_len, const char *fmt, ...)
{
	if (!errbuf || errbuf_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errbuf_len, fmt, ap);
	va_end(ap);
}

/* Every address of ":PORT" (and "*:PORT" when dual). */
static void listen_any(struct net_addr a[2], unsigned *na, bool dual)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a[0].ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a[1].ss;

	v4->sin_family = AF_INET;
	v4->sin_addr.s_addr = htonl(INADDR_ANY);
	a[0].len = sizeof(*v4);
	a[0].wildcard = true;
	*na = 1;
	if (!dual)
		return;
	v6->sin6_family = AF_INET6;
	v6->sin6_addr = in6addr_any;
	a[1].len = sizeof(*v6);
	a[1].wildcard = true;
	a[1].optional = true;
	*na = 2;
}

int net_listen_parse(const char *who, char *errbuf, size_t errbuf_len, const char *spec, bool dual,
                     struct net_addr a[2], unsigned *na, unsigned *port)
{
	const char *orig = spec;
	const char *colon = spec ? strrchr(spec, ':') : NULL;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *end;

	if (!colon || colon[1] == '\0') {
		net_set_err(errbuf, errbuf_len,
		            "%slisten \"%s\": expected ADDR:PORT, [V6ADDR]:PORT or :PORT", who,
		            spec ? spec : "(null)");
		return IDN_ECONFIG;
	}
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno || p > 65535 || colon[1] == '-' || colon[1] == '+') {
		net_set_err(errbuf, errbuf_len, "%slisten \"%s\": bad port (0..65535)", who, spec);
		return IDN_ECONFIG;
	}
	*port = (unsigned)p;

	size_t hl = (size_t)(colon - spec);
	memset(a, 0, 2 * sizeof(*a));
	if (hl == 0 || (dual && hl == 1 && spec[0] == '*')) {
		listen_any(a, na, dual);
		return IDN_OK;
	}
	bool bracket = spec[0] == '[';
	if (bracket) {
		if (hl < 3 || spec[hl - 1] != ']') {
			net_set_err(errbuf, errbuf_len,
			            "%slisten \"%s\": unbalanced brackets around the IPv6 address",
			            who, spec);
			return IDN_ECONFIG;
		}
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		net_set_err(errbuf, errbuf_len, "%slisten \"%s\": address too long", who, orig);
		return IDN_ECONFIG;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';

	struct addrinfo hints = {.ai_family = bracket ? AF_INET6 : AF_INET,
	                         .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res || res->ai_addrlen > sizeof(a[0].ss)) {
		net_set_err(
		    errbuf, errbuf_len, "%slisten \"%s\": \"%s\" is not a numeric %s address%s",
		    who, orig, host, bracket ? "IPv6" : "IPv4",
		    bracket || !strchr(host, ':') ? "" : " (IPv6 goes in brackets: [::1]:2641)");
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

void net_addr_set_port(struct net_addr *a, unsigned port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

unsigned net_sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int net_sock_open(const struct net_addr *a, int type, bool probe, int udp_bufsize)
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
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &udp_bufsize, sizeof(udp_bufsize));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &udp_bufsize, sizeof(udp_bufsize));
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
		 * Accepted sockets inherit it: answers are written whole, with
		 * nothing to wait for, and one setsockopt per connection is saved.
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

int net_sock_open_first(struct net_addr *a, int type, unsigned *port, int udp_bufsize)
{
	net_addr_set_port(a, *port);
	int fd = net_sock_open(a, type, true, udp_bufsize);
	if (fd < 0)
		return fd;
	if (*port == 0) {
		*port = net_sock_port(fd);
		net_addr_set_port(a, *port);
	}
	close(fd);
	return net_sock_open(a, type, false, udp_bufsize);
}

/* a's address as /proc/net/tcp{,6} prints it: each 32-bit word as a host integer in hex. */
static void proc_hex(const struct net_addr *a, char *out, size_t cap)
{
	uint32_t w[4];
	unsigned n = 1;
	if (a->ss.ss_family == AF_INET) {
		memcpy(w, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
	} else {
		memcpy(w, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
		n = 4;
	}
	out[0] = 0;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 8 * i, cap - 8 * i, "%08X", w[i]);
}

static bool all_zero(const char *hex)
{
	return hex[strspn(hex, "0")] == '\0';
}

bool net_listen_shared(const struct net_addr *a, unsigned port, const int *fds, unsigned nfds)
{
	FILE *f = fopen(a->ss.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", "r");
	if (!f)
		return false; /* no /proc: the probe is all there is */
	char want[33], line[512];
	proc_hex(a, want, sizeof(want));
	bool shared = false;
	while (!shared && fgets(line, sizeof(line), f)) {
		char addr[33];
		unsigned lport, st;
		unsigned long inode;
		if (sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", addr,
		           &lport, &st, &inode) != 4 ||
		    st != 0x0A || lport != port)
			continue;
		if (strcmp(addr, want) && !all_zero(addr) && !all_zero(want))
			continue; /* another address of the host */
		bool ours = false;
		for (unsigned i = 0; i < nfds && !ours; i++) {
			struct stat sb;
			ours = fstat(fds[i], &sb) == 0 && (unsigned long)sb.st_ino == inode;
		}
		shared = !ours;
	}
	fclose(f);
	return shared;
}
