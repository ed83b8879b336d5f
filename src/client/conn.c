/*
 * conn.c - a persistent TCP connection (see conn.h). Input is read in large
 * chunks into a buffer so that a pipelined stream of small answers costs one
 * read() per many answers.
 */
#include "client/conn.h"
#include "client/io.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/wire.h"
#include "proto/proto.h"

enum { CONN_BUF = 256 << 10 };

struct client_conn {
	int fd;
	unsigned timeout_ms;
	uint8_t *buf; /* CONN_BUF bytes of input */
	size_t off, len;
};

int client_conn_open(const client_addr *a, unsigned timeout_ms, client_conn **out)
{
	uint64_t deadline = client_now_ms() + (timeout_ms ? timeout_ms : 10000);
	int ret;
	client_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return IDN_ENOMEM;
	c->timeout_ms = timeout_ms ? timeout_ms : 10000;
	c->fd = client_tcp_socket(a->ss.ss_family);
	c->buf = malloc(CONN_BUF);
	if (c->fd < 0 || !c->buf) {
		ret = c->fd < 0 ? idn_errno(errno) : IDN_ENOMEM;
		goto fail;
	}
	if (connect(c->fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
		ret = idn_errno(errno);
		goto fail;
	}
	if ((ret = client_wait_fd(c->fd, POLLOUT, deadline)))
		goto fail;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		ret = idn_errno(soerr);
		goto fail;
	}
	*out = c;
	return IDN_OK;
fail:
	client_conn_close(c);
	return ret;
}

int client_conn_send(client_conn *c, const uint8_t *p, size_t len)
{
	uint64_t deadline = client_now_ms() + c->timeout_ms;
	for (size_t sent = 0; sent < len;) {
		ssize_t n = send(c->fd, p + sent, len - sent, MSG_NOSIGNAL);
		if (n >= 0) {
			sent += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return idn_errno(errno);
		int ret = client_wait_fd(c->fd, POLLOUT, deadline);
		if (ret)
			return ret;
	}
	return IDN_OK;
}

/* Makes at least `need` bytes available from off; reads what the kernel has. */
static int fill(client_conn *c, size_t need, uint64_t deadline)
{
	while (c->len - c->off < need) {
		if (c->off + need > CONN_BUF) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		ssize_t n = read(c->fd, c->buf + c->len, CONN_BUF - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return IDN_ENET; /* closed before a whole message */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return idn_errno(errno);
		int ret = client_wait_fd(c->fd, POLLIN, deadline);
		if (ret)
			return ret;
	}
	return IDN_OK;
}

int client_conn_recv(client_conn *c, uint8_t **msg, size_t *len)
{
	uint64_t deadline = client_now_ms() + c->timeout_ms;
	int ret = fill(c, PROTO_ENV_LEN, deadline);
	if (ret)
		return ret;
	uint32_t mlen = idn_be32(c->buf + c->off + 16);
	if (mlen > PROTO_MSG_MAX)
		return IDN_EPROTO;
	size_t total = PROTO_ENV_LEN + (size_t)mlen;
	uint8_t *m = malloc(total);
	if (!m)
		return IDN_ENOMEM;
	/* A message may be larger than the buffer: copy it out in pieces. */
	size_t got = 0;
	while (got < total) {
		if (c->off == c->len && (ret = fill(c, 1, deadline))) {
			free(m);
			return ret;
		}
		size_t k = c->len - c->off;
		if (k > total - got)
			k = total - got;
		memcpy(m + got, c->buf + c->off, k);
		c->off += k;
		got += k;
	}
	if (c->off == c->len)
		c->off = c->len = 0;
	*msg = m;
	*len = total;
	return IDN_OK;
}

int client_conn_wait(client_conn *c, unsigned ms)
{
	if (c->len > c->off)
		return 1;
	int ret = client_wait_fd(c->fd, POLLIN, client_now_ms() + ms);
	return ret == IDN_OK ? 1 : ret == IDN_ETIMEOUT ? 0 : ret;
}

void client_conn_close(client_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}
