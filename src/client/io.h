/*
 * io.h - the client module's own helpers for blocking I/O with deadlines
 * (client.c, conn.c). Not part of the client API.
 */
#ifndef IDN_CLIENT_IO_H
#define IDN_CLIENT_IO_H

#include <stdint.h>

#include "client/client.h"

/* Monotonic milliseconds. */
uint64_t client_now_ms(void);

/*
 * A non-blocking TCP socket with Nagle off: requests are small and often
 * follow unacknowledged ones (pipelined, or a challenge's op 200), and Nagle
 * would hold them for the peer's delayed ACK (tens of ms). -1 with errno.
 */
int client_tcp_socket(int family);

/* Waits until fd is ready for ev (POLLIN/POLLOUT) or the deadline (ms) passes: IDN_ETIMEOUT. */
int client_wait_fd(int fd, short ev, uint64_t deadline);

/*
 * Records why an exchange with a failed, for client_strerror(): why is an
 * errno or one of these; ms the time waited. Returns the idn_err it means
 * (IDN_ENET, IDN_ETIMEOUT, or idn_errno(why)).
 */
enum {
	CLIENT_FAIL_EOF = -1,         /* the peer closed before a whole answer */
	CLIENT_FAIL_CONNECTING = -2,  /* no connection within ms */
	CLIENT_FAIL_WAITING = -3,     /* no (whole) answer, or no room to send, within ms */
	CLIENT_FAIL_UDP_SILENT = -4,  /* UDP: no answer within ms (three sends) */
	CLIENT_FAIL_UDP_REFUSED = -5, /* UDP: the peer's host said nothing listens there */
};
int client_fail(const client_addr *a, int why, unsigned ms);
void client_fail_clear(void);

#endif
