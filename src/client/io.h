/*
 * io.h - the client module's own helpers for blocking I/O with deadlines
 * (client.c, conn.c). Not part of the client API.
 */
#ifndef IDN_CLIENT_IO_H
#define IDN_CLIENT_IO_H

#include <stdint.h>

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

#endif
