/*
 * notify.c - the service manager's readiness protocol (sd_notify(3)'s
 * datagrams, without libsystemd): when $NOTIFY_SOCKET names a Unix socket
 * (a path, or "@name" in the abstract namespace), the node sends it
 * "READY=1" once it serves, "RELOADING=1" around a SIGHUP's reload and
 * "STOPPING=1" when it stops, so `Type=notify` units start dependants and
 * deliver `systemctl reload` only once the node can take them. Without the
 * variable nothing is sent; a failed send is ignored, as the protocol asks.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

void server_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len = path ? strlen(path) : 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (len < 2 || len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: no terminating zero counted */
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	ssize_t n;
	do
		n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	while (n < 0 && errno == EINTR);
	close(fd);
}

void server_notify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[64];
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ULL +
	             (unsigned long long)ts.tv_nsec / 1000);
	server_notify(msg);
}
