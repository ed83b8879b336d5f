/*
 * conn.c - a persistent TCP connection (see conn.h). Input is read in large
 * chunks into a buffer so that a pipelined stream of small answers costs one
 * read() per many answers.
 *
 * A server may close the connection after each answer (the reference 7.3.1
 * server does, after a 402 too; its client opens a connection per request).
 * So a request sent on a connection that has carried an answer goes on a new
 * one when the peer has closed it, and a lone request whose answer fails to
 * start because the peer closed or reset the connection is sent once more on
 * a new one: the peer closed without reading it.
 *
 * Failures are described with the peer (client_fail): the CLI says what
 * happened to whom, not only "network error".
 */
#include "client/conn.h"
#include "client/io.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
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
	client_addr addr;
	unsigned answers;    /* whole messages read on this socket */
	unsigned unanswered; /* sends since the last whole message */
	uint8_t *last;       /* the one unanswered request, for a resend; or NULL */
	size_t last_len;
};

/* ---- what failed, and with whom ---- */

static __thread struct {
	int code; /* the idn_err it explains; IDN_OK: nothing recorded */
	char text[200];
} last_failure;

void client_fail_clear(void)
{
	last_failure.code = IDN_OK;
}

int client_fail(const client_addr *a, int why, unsigned ms)
{
	char peer[INET6_ADDRSTRLEN + 16];
	char *t = last_failure.text;
	size_t n = sizeof(last_failure.text);
	int code = why < 0 ? (why == CLIENT_FAIL_EOF ? IDN_ENET : IDN_ETIMEOUT) : idn_errno(why);
	client_addr_str(a, peer, sizeof(peer));
	switch (why) {
	case CLIENT_FAIL_EOF:
		snprintf(t, n, "connection to %s closed by the peer before a whole answer", peer);
		break;
	case CLIENT_FAIL_CONNECTING:
		snprintf(t, n, "connection to %s timed out after %u ms (connecting)", peer, ms);
		break;
	case CLIENT_FAIL_WAITING:
		snprintf(t, n, "connection to %s timed out after %u ms (waiting for the answer)",
		         peer, ms);
		break;
	case CLIENT_FAIL_UDP_SILENT:
		snprintf(t, n, "no answer from %s over UDP within %u ms", peer, ms);
		break;
	case CLIENT_FAIL_UDP_REFUSED:
		snprintf(t, n, "nothing listens on UDP at %s (port unreachable)", peer);
		break;
	case ECONNREFUSED:
		snprintf(t, n, "connection to %s refused", peer);
		break;
	case ECONNRESET:
	case EPIPE:
		snprintf(t, n, "connection to %s reset by peer", peer);
		break;
	default:
		snprintf(t, n, "connection to %s: %s", peer, strerror(why));
		break;
	}
	last_failure.code = code;
	return code;
}

const char *client_strerror(int ret)
{
	return ret && ret == last_failure.code ? last_failure.text : idn_strerror(ret);
}

/* ---- the socket ---- */

/* Connects c->fd to c->addr within c->timeout_ms. */
static int connect_fd(client_conn *c)
{
	uint64_t deadline = client_now_ms() + c->timeout_ms;
	c->fd = client_tcp_socket(c->addr.ss.ss_family);
	if (c->fd < 0)
		return client_fail(&c->addr, errno, 0);
	if (connect(c->fd, (const struct sockaddr *)&c->addr.ss, c->addr.len) < 0 &&
	    errno != EINPROGRESS)
		return client_fail(&c->addr, errno, 0);
	int ret = client_wait_fd(c->fd, POLLOUT, deadline);
	if (ret)
		return ret == IDN_ETIMEOUT
		           ? client_fail(&c->addr, CLIENT_FAIL_CONNECTING, c->timeout_ms)
		           : ret;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	return soerr ? client_fail(&c->addr, soerr, 0) : IDN_OK;
}

int client_conn_open(const client_addr *a, unsigned timeout_ms, client_conn **out)
{
	client_fail_clear();
	client_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return IDN_ENOMEM;
	c->fd = -1;
	c->timeout_ms = timeout_ms ? timeout_ms : 10000;
	c->addr = *a;
	c->buf = malloc(CONN_BUF);
	int ret = c->buf ? connect_fd(c) : IDN_ENOMEM;
	if (ret) {
		client_conn_close(c);
		return ret;
	}
	*out = c;
	return IDN_OK;
}

/* A new socket to the same peer, in place of one the peer has closed. */
static int reopen(client_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->off = c->len = 0;
	c->answers = 0;
	return connect_fd(c);
}

/* Whether the peer has closed (or reset) a connection with nothing left to read. */
static bool peer_closed(client_conn *c)
{
	uint8_t b;
	if (c->len > c->off)
		return false;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* A failure that says the peer closed the connection rather than lost it. */
static bool closed_by_peer(int err_no)
{
	return err_no == CLIENT_FAIL_EOF || err_no == ECONNRESET || err_no == EPIPE;
}

/* Sends all of p; the errno (or CLIENT_FAIL_WAITING) in *why on failure. */
static int send_all(client_conn *c, const uint8_t *p, size_t len, int *why)
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
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*why = errno;
			return client_fail(&c->addr, errno, 0);
		}
		int ret = client_wait_fd(c->fd, POLLOUT, deadline);
		if (ret) {
			*why = CLIENT_FAIL_WAITING;
			return ret == IDN_ETIMEOUT
			           ? client_fail(&c->addr, CLIENT_FAIL_WAITING, c->timeout_ms)
			           : ret;
		}
	}
	return IDN_OK;
}

/* Keeps a copy of a request sent alone (one whole message), for one resend. */
static void keep_last(client_conn *c, const uint8_t *p, size_t len)
{
	free(c->last);
	c->last = NULL;
	if (c->unanswered++ || len < PROTO_ENV_LEN ||
	    PROTO_ENV_LEN + (size_t)idn_be32(p + 16) != len || !(c->last = malloc(len)))
		return;
	memcpy(c->last, p, len);
	c->last_len = len;
}

int client_conn_send(client_conn *c, const uint8_t *p, size_t len)
{
	int ret, why = 0;
	client_fail_clear();
	/* The peer closed after its last answer: this request goes on a new connection. */
	if (c->answers && !c->unanswered && peer_closed(c) && (ret = reopen(c)))
		return ret;
	keep_last(c, p, len);
	bool reused = c->answers > 0;
	ret = send_all(c, p, len, &why);
	if (ret && reused && c->unanswered == 1 && closed_by_peer(why) && !(ret = reopen(c)))
		ret = send_all(c, p, len, &why);
	return ret;
}

/* Makes at least `need` bytes available from off; reads what the kernel has. */
static int fill(client_conn *c, size_t need, uint64_t deadline, int *why)
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
		if (n == 0) {
			*why = CLIENT_FAIL_EOF; /* closed before a whole message */
			return client_fail(&c->addr, CLIENT_FAIL_EOF, 0);
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*why = errno;
			return client_fail(&c->addr, errno, 0);
		}
		int ret = client_wait_fd(c->fd, POLLIN, deadline);
		if (ret) {
			*why = CLIENT_FAIL_WAITING;
			return ret == IDN_ETIMEOUT
			           ? client_fail(&c->addr, CLIENT_FAIL_WAITING, c->timeout_ms)
			           : ret;
		}
	}
	return IDN_OK;
}

/*
 * The start of the next message (its envelope). A lone request on a reused
 * connection that the peer closed before answering is sent again, once, on
 * a new connection.
 */
static int fill_envelope(client_conn *c, uint64_t deadline)
{
	int why = 0;
	bool nothing_yet = c->len == c->off, reused = c->answers > 0;
	int ret = fill(c, PROTO_ENV_LEN, deadline, &why);
	if (!ret || !nothing_yet || !reused || c->unanswered != 1 || !c->last || c->len != c->off ||
	    !closed_by_peer(why))
		return ret;
	if ((ret = reopen(c)) || (ret = send_all(c, c->last, c->last_len, &why)))
		return ret;
	return fill(c, PROTO_ENV_LEN, client_now_ms() + c->timeout_ms, &why);
}

int client_conn_recv(client_conn *c, uint8_t **msg, size_t *len)
{
	uint64_t deadline = client_now_ms() + c->timeout_ms;
	int why = 0;
	client_fail_clear();
	int ret = fill_envelope(c, deadline);
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
		if (c->off == c->len && (ret = fill(c, 1, deadline, &why))) {
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
	c->answers++;
	if (c->unanswered)
		c->unanswered--;
	free(c->last);
	c->last = NULL;
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
	free(c->last);
	free(c->buf);
	free(c);
}
