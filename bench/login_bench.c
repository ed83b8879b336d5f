/*
 * login_bench.c - national logins (op 2001) per second against a node: each
 * of --clients threads loops for --seconds, and each login is a new TCP
 * connection, 2001, the 402, op 200 signed with --key (RSA or SM2), rc 1,
 * close (client/login.h without the site-info step). Every login must
 * succeed: the run fails on the first refusal.
 *
 *   login_bench --server HOST:PORT --id INDEX:HANDLE --key PEM [--clients 16]
 *               [--seconds 3]
 *
 * Prints one line: RESULT logins=N seconds=S per_sec=R clients=C.
 */
#include <getopt.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "client/conn.h"
#include "client/login.h"
#include "core/err.h"

struct shared {
	client_addr addr;
	client_identity id;
	double until; /* monotonic seconds */
	atomic_ullong logins;
	atomic_int failed;
	char why[160];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *client_main(void *arg)
{
	struct shared *sh = arg;
	client_login_opts lo = {.no_site_info = true};
	while (!atomic_load(&sh->failed) && now_s() < sh->until) {
		client_conn *cn = NULL;
		client_login *l = NULL;
		uint32_t rc = 0;
		int ret = client_conn_open(&sh->addr, 10000, &cn);
		if (!ret)
			ret = client_login_open(cn, &sh->id, &lo, &l, &rc);
		client_login_close(l);
		client_conn_close(cn);
		if (ret) {
			if (!atomic_exchange(&sh->failed, 1))
				snprintf(sh->why, sizeof(sh->why), "%s (code %u)",
				         idn_strerror(ret), rc);
			break;
		}
		atomic_fetch_add(&sh->logins, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"server", required_argument, NULL, 's'},  {"id", required_argument, NULL, 'i'},
	    {"key", required_argument, NULL, 'k'},     {"clients", required_argument, NULL, 'c'},
	    {"seconds", required_argument, NULL, 't'}, {NULL, 0, NULL, 0},
	};
	const char *server = NULL, *ident = NULL, *keyfile = NULL;
	int clients = 16;
	double seconds = 3;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			server = optarg;
			break;
		case 'i':
			ident = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'c':
			clients = atoi(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			return 2;
		}
	}
	const char *colon = ident ? strchr(ident, ':') : NULL;
	if (!server || !colon || !keyfile || clients < 1 || clients > 1024 || seconds <= 0 ||
	    seconds > 600) {
		fprintf(stderr, "usage: login_bench --server HOST:PORT --id INDEX:HANDLE --key PEM "
		                "[--clients 1..1024] [--seconds S]\n");
		return 2;
	}
	static struct shared sh;
	char err[200];
	if (client_addr_parse(server, 2641, &sh.addr, err, sizeof(err))) {
		fprintf(stderr, "login_bench: --server %s: %s\n", server, err);
		return 2;
	}
	FILE *f = fopen(keyfile, "r");
	EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!key) {
		fprintf(stderr, "login_bench: --key %s: not a readable PEM private key\n", keyfile);
		return 2;
	}
	sh.id = (client_identity){.index = (uint32_t)strtoul(ident, NULL, 10),
	                          .handle = idn_slice_of(colon + 1, strlen(colon + 1)),
	                          .key = key};
	pthread_t *th = calloc((size_t)clients, sizeof(*th));
	double t0 = now_s();
	sh.until = t0 + seconds;
	int started = 0;
	for (; th && started < clients; started++)
		if (pthread_create(&th[started], NULL, client_main, &sh))
			break;
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	double dt = now_s() - t0;
	free(th);
	EVP_PKEY_free(key);
	if (atomic_load(&sh.failed) || started < clients) {
		fprintf(stderr, "login_bench: a login failed: %s\n",
		        started < clients ? "cannot start threads" : sh.why);
		return 1;
	}
	unsigned long long n = atomic_load(&sh.logins);
	printf("RESULT logins=%llu seconds=%.2f per_sec=%.0f clients=%d\n", n, dt, (double)n / dt,
	       clients);
	return 0;
}
