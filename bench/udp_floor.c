/*
 * udp_floor.c - the kernel's own cost of a datagram on loopback, with no
 * server code around it: one process sends batches of SIZE-byte datagrams
 * with sendmmsg from one socket to another and takes them back with
 * recvmmsg, and prints the CPU time (user + system) per datagram. That is
 * one send, its loopback delivery and one receive: what every UDP server
 * pays per request and answer before it does anything, the floor of the
 * per CPU-second figures of run_resolve.sh.
 *
 * It runs the loop twice per repeat, alternating: with the sending socket
 * alone, and with it in an epoll set for EPOLLIN, as a server's socket is.
 * The difference is the wake-up the kernel tries on the socket's wait queue
 * for every datagram sent (its send-buffer space came back), which finds
 * the epoll entry and takes its lock even though no one waits for EPOLLOUT.
 *
 *   udp_floor [ROUNDS [SIZE [REPEAT]]]   (defaults 40000 200 3; 64 a round)
 *
 * Pin it to one CPU (taskset -c 1) and compare runs of one session only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCH = 64, BUF = 2048 };

static double cpu_seconds(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static int bound_socket(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(*a);
	a->sin_family = AF_INET;
	a->sin_port = 0;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &len) < 0) {
		perror("udp_floor: socket on 127.0.0.1");
		exit(1);
	}
	return fd;
}

/* ns of CPU per datagram sent and received back; the sender in epoll or not. */
static double one_run(long rounds, size_t size, int in_epoll)
{
	static char buf[BATCH][BUF];
	struct mmsghdr sm[BATCH], rm[BATCH];
	struct iovec sv[BATCH], rv[BATCH];
	struct sockaddr_in sa, ra;
	int s = bound_socket(&sa), r = bound_socket(&ra), ep = -1;
	int rcvbuf = 4 << 20;
	long moved = 0;

	setsockopt(r, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (in_epoll) {
		struct epoll_event ev = {.events = EPOLLIN};
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0) {
			perror("udp_floor: epoll");
			exit(1);
		}
	}
	memset(sm, 0, sizeof(sm));
	memset(rm, 0, sizeof(rm));
	for (int i = 0; i < BATCH; i++) {
		sv[i] = (struct iovec){buf[i], size};
		sm[i].msg_hdr.msg_iov = &sv[i];
		sm[i].msg_hdr.msg_iovlen = 1;
		sm[i].msg_hdr.msg_name = &ra;
		sm[i].msg_hdr.msg_namelen = sizeof(ra);
		rv[i] = (struct iovec){buf[i], BUF};
		rm[i].msg_hdr.msg_iov = &rv[i];
		rm[i].msg_hdr.msg_iovlen = 1;
	}
	double t0 = cpu_seconds();
	for (long k = 0; k < rounds; k++) {
		int n = sendmmsg(s, sm, BATCH, 0);
		int got = recvmmsg(r, rm, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 || got < 0) {
			perror("udp_floor: sendmmsg/recvmmsg");
			exit(1);
		}
		moved += got;
	}
	double t = cpu_seconds() - t0;
	close(s);
	close(r);
	if (ep >= 0)
		close(ep);
	return moved ? t * 1e9 / (double)moved : 0;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 40000;
	long size = argc > 2 ? atol(argv[2]) : 200;
	int repeat = argc > 3 ? atoi(argv[3]) : 3;

	if (rounds <= 0 || size <= 0 || size > BUF || repeat <= 0) {
		fprintf(stderr, "usage: udp_floor [ROUNDS>0 [SIZE 1..%d [REPEAT>0]]]\n", BUF);
		return 2;
	}
	for (int i = 0; i < repeat; i++) {
		for (int e = 0; e < 2; e++) {
			int in_epoll = (i + e) % 2;
			printf("repeat %d %-12s %ld datagrams of %ld bytes: %.0f ns CPU each\n",
			       i + 1, in_epoll ? "in epoll" : "alone", rounds * BATCH, size,
			       one_run(rounds, (size_t)size, in_epoll));
			fflush(stdout);
		}
	}
	return 0;
}
