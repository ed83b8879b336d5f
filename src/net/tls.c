/*
 * tls.c - HTTPS for net's HTTP server (OpenSSL): the server context, and
 * a connection's reads and writes through TLS. The handshake runs inside
 * SSL_read on the connection's non-blocking socket, so a slow handshake is
 * just another slow client under the idle deadline.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/err.h"
#include "net/http_conn.h"

/*
 * recv/send, through TLS on an HTTPS connection: > 0 bytes, 0 end of
 * stream, -1 with errno (EAGAIN when TLS waits for the socket).
 */
ssize_t http_conn_recv(http_conn *c, void *buf, size_t n)
{
	if (!c->ssl)
		return recv(c->fd, buf, n, 0);
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		c->tls_want_write = true;
		/* fall through */
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default: /* a failed handshake or a broken record: drop the connection */
		errno = ECONNRESET;
		return -1;
	}
}

ssize_t http_conn_send(http_conn *c, const void *buf, size_t n)
{
	if (!c->ssl)
		return send(c->fd, buf, n, MSG_NOSIGNAL);
	ERR_clear_error();
	int r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(c->ssl, r);
	errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : EPIPE;
	return -1;
}

/* An HTTPS context: certificate chain and key, TLS 1.2 at least; NULL after saying why. */
static SSL_CTX *tls_context(const char *cert, const char *key, char *err, size_t errlen, int *ret)
{
	if (!cert || !key) {
		snprintf(err, errlen,
		         "https needs a certificate and a key (--tls-cert FILE --tls-key FILE)");
		*ret = IDN_EINVAL;
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	*ret = IDN_ENOMEM;
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* flush() resends from a buffer that moves as the output grows. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	const char *bad = NULL;
	*ret = IDN_ECONFIG;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		bad = cert;
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		bad = key;
	if (bad) {
		char why[256];
		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		snprintf(err, errlen, "tls %s: %s", bad, why);
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls: the key %s does not match %s", key, cert);
	} else {
		*ret = 0;
		return ctx;
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

int http_tls_setup(http_server *s)
{
	int ret;
	s->tls =
	    tls_context(s->cfg.tls_cert, s->cfg.tls_key, s->cfg.errbuf, s->cfg.errbuf_len, &ret);
	return ret;
}

/*
 * A new context for the connections accepted from now on; those open keep
 * theirs (an SSL holds a reference to its context). A worker may have read
 * the old pointer just before the swap and not yet made its SSL from it, so
 * the old context is retired, not freed: the oldest of HTTP_TLS_RETIRED goes
 * when a newer one needs its place, long after any worker last read it.
 */
int http_tls_reload(http_server *s, const char *cert, const char *key, char *err, size_t errlen)
{
	int ret;
	if (!s->cfg.ntls) {
		snprintf(err, errlen, "no https listener");
		return IDN_EINVAL;
	}
	SSL_CTX *ctx = tls_context(cert, key, err, errlen, &ret);
	if (!ctx)
		return ret;
	SSL_CTX *old = __atomic_exchange_n(&s->tls, ctx, __ATOMIC_ACQ_REL);
	SSL_CTX_free(s->tls_retired[HTTP_TLS_RETIRED - 1]);
	memmove(s->tls_retired + 1, s->tls_retired,
	        (HTTP_TLS_RETIRED - 1) * sizeof(s->tls_retired[0]));
	s->tls_retired[0] = old;
	return 0;
}
