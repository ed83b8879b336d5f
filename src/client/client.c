/* client.c - one Handle request and its answer over UDP or TCP, blocking (see client.h). */
#include "client/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client/io.h"
#include "proto/udp.h"

int client_addr_parse(const char *s, uint16_t default_port, client_addr *out, char *err,
                      size_t errlen)
{
	char host[256];
	const char *port = NULL;
	char errbuf[1];

	if (!err) {
		err = errbuf;
		errlen = sizeof(errbuf);
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || (size_t)(close - s - 1) >= sizeof(host)) {
			snprintf(err, errlen, "'%s': bad [IPv6]:port address", s);
			return IDN_EINVAL;
		}
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = 0;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1]) {
			snprintf(err, errlen, "'%s': unexpected text after ']'", s);
			return IDN_EINVAL;
		}
	} else {
		const char *colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon) /* bare IPv6 without brackets */
			colon = NULL;
		size_t hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof(host)) {
			snprintf(err, errlen, "'%s': host name too long", s);
			return IDN_EINVAL;
		}
		memcpy(host, s, hl);
		host[hl] = 0;
		if (colon)
			port = colon + 1;
		if (hl == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
	}
	unsigned long p = default_port;
	if (port) {
		char *end;
		errno = 0;
		p = strtoul(port, &end, 10);
		if (!*port || *end || errno || p == 0 || p > 65535) {
			snprintf(err, errlen, "'%s': port must be 1..65535", s);
			return IDN_EINVAL;
		}
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc || !res) {
		snprintf(err, errlen, "'%s': %s", host, gai_strerror(rc));
		return IDN_EINVAL;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	if (out->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&out->ss)->sin_port = htons((uint16_t)p);
	else
		((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((uint16_t)p);
	freeaddrinfo(res);
	return IDN_OK;
}

void client_addr_str(const client_addr *a, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
}

uint32_t client_request_id(void)
{
	uint32_t id = 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	return id & 0x7FFFFFFF; /* the reference keeps ids positive */
}

uint64_t client_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int client_tcp_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int client_wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = client_now_ms();
		if (now >= deadline)
			return IDN_ETIMEOUT;
		struct pollfd p = {.fd = fd, .events = ev};
		int n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return IDN_OK;
		if (n < 0 && errno != EINTR)
			return idn_errno(errno);
	}
}

static int exchange_udp(const client_addr *a, unsigned timeout_ms, const uint8_t *req, size_t len,
                        uint8_t **ans, size_t *anslen)
{
	/* The reference client's schedule: resend after 0.5, 1 and 1.5 s. */
	static const unsigned wait_ms[] = {500, 1000, 1500};
	proto_udp_frag frags[PROTO_UDP_MAX_PKTS];
	proto_udp_rasm rasm;
	uint8_t pkt[65536];
	uint32_t req_id = idn_be32(req + 8);
	int ret, nfrags, fd;

	nfrags = proto_udp_fragment(req, len, frags, PROTO_UDP_MAX_PKTS);
	if (nfrags < 0)
		return nfrags;
	fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return idn_errno(errno);
	ret = proto_udp_rasm_init(&rasm, 4, 2 * (PROTO_MSG_MAX + PROTO_ENV_LEN), PROTO_MSG_MAX,
	                          10000);
	if (ret)
		goto out_fd;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		ret = idn_errno(errno);
		goto out;
	}
	uint64_t end = client_now_ms() + timeout_ms;
	ret = IDN_ETIMEOUT;
	for (size_t attempt = 0; attempt < sizeof(wait_ms) / sizeof(wait_ms[0]); attempt++) {
		for (int i = 0; i < nfrags; i++) {
			size_t n = proto_udp_frag_copy(&frags[i], pkt);
			if (send(fd, pkt, n, 0) < 0 && errno != ECONNREFUSED) {
				ret = idn_errno(errno);
				goto out;
			}
		}
		uint64_t deadline = client_now_ms() + wait_ms[attempt];
		if (deadline > end)
			deadline = end;
		while (client_wait_fd(fd, POLLIN, deadline) == IDN_OK) {
			ssize_t n = recv(fd, pkt, sizeof(pkt), 0);
			if (n < 0) {
				if (errno == ECONNREFUSED) {
					ret = IDN_ENET; /* nothing listens there */
					continue;
				}
				continue;
			}
			if ((size_t)n < PROTO_ENV_LEN || idn_be32(pkt + 8) != req_id)
				continue; /* a stray or late answer to someone else */
			const uint8_t *msg;
			size_t msg_len;
			if (proto_udp_rasm_add(&rasm, NULL, 0, pkt, (size_t)n, client_now_ms(),
			                       &msg, &msg_len) != 1)
				continue;
			*ans = malloc(msg_len);
			if (!*ans) {
				ret = IDN_ENOMEM;
				goto out;
			}
			memcpy(*ans, msg, msg_len);
			*anslen = msg_len;
			ret = IDN_OK;
			goto out;
		}
		if (client_now_ms() >= end)
			break;
	}
	if (ret == IDN_ENET || ret == IDN_ETIMEOUT)
		ret = client_fail(
		    a, ret == IDN_ENET ? CLIENT_FAIL_UDP_REFUSED : CLIENT_FAIL_UDP_SILENT,
		    (unsigned)(client_now_ms() - (end - timeout_ms)));
out:
	proto_udp_rasm_free(&rasm);
out_fd:
	close(fd);
	return ret;
}

static int read_full(const client_addr *a, int fd, uint8_t *buf, size_t len, uint64_t deadline,
                     unsigned timeout_ms)
{
	size_t got = 0;
	while (got < len) {
		int ret = client_wait_fd(fd, POLLIN, deadline);
		if (ret)
			return ret == IDN_ETIMEOUT ? client_fail(a, CLIENT_FAIL_WAITING, timeout_ms)
			                           : ret;
		ssize_t n = read(fd, buf + got, len - got);
		if (n == 0) /* closed before a whole message */
			return client_fail(a, CLIENT_FAIL_EOF, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return client_fail(a, errno, 0);
		}
		got += (size_t)n;
	}
	return IDN_OK;
}

static int exchange_tcp(const client_addr *a, unsigned timeout_ms, const uint8_t *req, size_t len,
                        uint8_t **ans, size_t *anslen)
{
	uint64_t deadline = client_now_ms() + timeout_ms;
	uint8_t env[PROTO_ENV_LEN];
	uint8_t *buf = NULL;
	int ret;
	int fd = client_tcp_socket(a->ss.ss_family);
	if (fd < 0)
		return client_fail(a, errno, 0);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
		ret = client_fail(a, errno, 0);
		goto out;
	}
	if ((ret = client_wait_fd(fd, POLLOUT, deadline))) {
		if (ret == IDN_ETIMEOUT)
			ret = client_fail(a, CLIENT_FAIL_CONNECTING, timeout_ms);
		goto out;
	}
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		ret = client_fail(a, soerr, 0);
		goto out;
	}
	for (size_t sent = 0; sent < len;) {
		ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				if ((ret = client_wait_fd(fd, POLLOUT, deadline)))
					goto out;
				continue;
			}
			ret = client_fail(a, errno, 0);
			goto out;
		}
		sent += (size_t)n;
	}
	uint32_t req_id = idn_be32(req + 8);
	for (;;) { /* skip answers that are not ours (none expected) */
		if ((ret = read_full(a, fd, env, sizeof(env), deadline, timeout_ms)))
			goto out;
		uint32_t mlen = idn_be32(env + 16);
		if (mlen > PROTO_MSG_MAX) {
			ret = IDN_EPROTO;
			goto out;
		}
		buf = malloc(PROTO_ENV_LEN + (size_t)mlen);
		if (!buf) {
			ret = IDN_ENOMEM;
			goto out;
		}
		memcpy(buf, env, PROTO_ENV_LEN);
		if ((ret = read_full(a, fd, buf + PROTO_ENV_LEN, mlen, deadline, timeout_ms)))
			goto out;
		if (idn_be32(env + 8) == req_id) {
			*ans = buf;
			*anslen = PROTO_ENV_LEN + (size_t)mlen;
			buf = NULL;
			ret = IDN_OK;
			goto out;
		}
		free(buf);
		buf = NULL;
	}
out:
	free(buf);
	close(fd);
	return ret;
}

/*
 * Whether a UDP answer is a response code 2 (RC_ERROR): what a node sends
 * instead of an answer over its UDP budget or rate ("ask over TCP"), and
 * what the reference client (HandleResolver) takes as a failure of the UDP
 * interface, moving on to TCP. An encrypted answer's header cannot be read.
 */
static bool udp_refused(const uint8_t *ans, size_t len)
{
	return len >= PROTO_ENV_LEN + PROTO_HDR_LEN && !(ans[2] & PROTO_ENV_ENCRYPTED) &&
	       idn_be32(ans + PROTO_ENV_LEN + 4) == PROTO_RC_ERROR;
}

int client_exchange(const client_addr *a, enum client_transport t, unsigned timeout_ms,
                    const uint8_t *req, size_t len, uint8_t **ans, size_t *anslen)
{
	if (len < PROTO_ENV_LEN)
		return IDN_EINVAL;
	if (timeout_ms == 0)
		timeout_ms = 3000;
	client_fail_clear();
	if (t != CLIENT_UDP)
		return exchange_tcp(a, timeout_ms, req, len, ans, anslen);
	uint64_t start = client_now_ms();
	int ret = exchange_udp(a, timeout_ms, req, len, ans, anslen);
	if (ret || !udp_refused(*ans, *anslen))
		return ret;
	/* The same request over TCP at once, in what is left of the time. */
	uint64_t spent = client_now_ms() - start;
	uint8_t *tans;
	size_t tlen;
	if (spent >= timeout_ms ||
	    exchange_tcp(a, (unsigned)(timeout_ms - spent), req, len, &tans, &tlen) != IDN_OK)
		return IDN_OK; /* the UDP answer says why */
	free(*ans);
	*ans = tans;
	*anslen = tlen;
	return IDN_OK;
}

int client_resolve(const client_addr *a, idn_slice handle, const client_resolve_opts *o,
                   uint8_t **ans, size_t *anslen, proto_env *env, proto_msg *msg)
{
	uint8_t *req = malloc(PROTO_ENV_LEN + PROTO_MSG_MAX);
	if (!req)
		return IDN_ENOMEM;
	proto_env renv = {
	    .major = PROTO_MAJOR,
	    .minor = o->minor ? o->minor : PROTO_MINOR_MAX,
	    .request_id = client_request_id(),
	};
	proto_hdr hdr = {
	    .opcode = PROTO_OP_RESOLUTION,
	    .flags = o->flags ? o->flags : (PROTO_F_REC | PROTO_F_CA | PROTO_F_PO),
	    .site_serial = 0xFFFF,
	    .recursion = o->recursion,
	    .expiration = (uint32_t)time(NULL) + 43200,
	};
	proto_build b;
	proto_build_begin(&b, req, PROTO_ENV_LEN + PROTO_MSG_MAX, &renv, &hdr);
	proto_resolve_req_encode(&b.w, handle, o->indexes, o->nindexes, o->types, o->ntypes);
	int ret = proto_build_end(&b, NULL, 0);
	if (ret < 0)
		goto out;
	ret = client_exchange(a, o->transport, o->timeout_ms, req, (size_t)ret, ans, anslen);
	if (ret)
		goto out;
	if (proto_env_decode(*ans, *anslen, env) ||
	    proto_msg_decode(*ans + PROTO_ENV_LEN, *anslen - PROTO_ENV_LEN, msg)) {
		free(*ans);
		*ans = NULL;
		ret = IDN_EPROTO;
	}
out:
	free(req);
	return ret;
}
