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

/* The HTTPS context: certificate chain and key, TLS 1.2 at least. */
int http_tls_setup(http_server *s)
{
	const char *cert = s->cfg.tls_cert, *key = s->cfg.tls_key;
	if (!cert || !key) {
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len,
		         "https needs a certificate and a key (--tls-cert FILE --tls-key FILE)");
		return IDN_EINVAL;
	}
	s->tls = SSL_CTX_new(TLS_server_method());
	if (!s->tls)
		return IDN_ENOMEM;
	SSL_CTX_set_min_proto_version(s->tls, TLS1_2_VERSION);
	/* flush() resends from a buffer that moves as the output grows. */
	SSL_CTX_set_mode(s->tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                             SSL_MODE_RELEASE_BUFFERS);
	const char *bad = NULL;
	if (SSL_CTX_use_certificate_chain_file(s->tls, cert) != 1)
		bad = cert;
	else if (SSL_CTX_use_PrivateKey_file(s->tls, key, SSL_FILETYPE_PEM) != 1)
		bad = key;
	if (bad) {
		char why[256];
		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len, "tls %s: %s", bad, why);
		return IDN_ECONFIG;
	}
	if (SSL_CTX_check_private_key(s->tls) != 1) {
		snprintf(s->cfg.errbuf, s->cfg.errbuf_len, "tls: the key %s does not match %s", key,
		         cert);
		return IDN_ECONFIG;
	}
	return 0;
}
