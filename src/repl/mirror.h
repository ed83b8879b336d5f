/*
 * mirror.h - the mirror thread: keeps a local store a copy of a primary's.
 * It connects over TCP to the primary, authenticates each replication request
 * (ops 1000-1002) with the challenge-response as a node-wide administrator of
 * the primary (client/admin_auth.h), and runs repl.h's state machine:
 * bootstrap by dump pages, then the transaction log, polled every poll_ms
 * while there is nothing new. After an error it closes the connection and
 * tries again with a backoff doubling from 100 ms to 5 s; when the primary
 * has pruned the log past the mirror's position it bootstraps again. Every
 * lag_log_s seconds it logs its lag (transactions behind, and seconds since
 * it was last caught up) to stderr.
 *
 * Ownership: repl_mirror_start() borrows the store (it must outlive the
 * mirror) and copies the options; repl_mirror_stop() stops the thread (within
 * the I/O timeout, 3 s, at most), joins it and frees the mirror.
 */
#ifndef IDN_REPL_MIRROR_H
#define IDN_REPL_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct repl_mirror_opts {
	const char *primary;     /* HOST:PORT of the primary (TCP) */
	const char *id;          /* INDEX:HANDLE, a server administrator of the primary */
	const char *key_file;    /* PEM private key of that identity, or */
	const char *secret_file; /* its HS_SECKEY secret */
	unsigned poll_ms;        /* idle poll of the log; 0 = 200 */
	unsigned lag_log_s;      /* seconds between lag lines; 0 = 5 */
	uint32_t
	    page_bytes; /* answer size asked for; 0 = TXLOG_PAGE_DEFAULT (store/txlog_pages.h) */
	char *errbuf;   /* why start failed (optional) */
	size_t errbuf_len;
} repl_mirror_opts;

typedef struct repl_mirror_stats {
	bool connected;
	bool bootstrapping;
	uint64_t primary_seq; /* the primary's last sequence number, as last seen */
	uint64_t lag;         /* transactions behind the primary */
	uint64_t lag_seconds; /* seconds since the mirror was last caught up */
	uint64_t applied;     /* changes and records applied since start */
	uint64_t errors;      /* failed exchanges since start */
	uint64_t bootstraps;  /* bootstraps begun (pruned log or first start) */
} repl_mirror_stats;

typedef struct repl_mirror repl_mirror;

/* Reads the key or secret and starts the thread; IDN_ECONFIG with errbuf set for bad options. */
int repl_mirror_start(store *s, const repl_mirror_opts *o, repl_mirror **out);
/* A snapshot of the counters (any thread). */
void repl_mirror_get_stats(repl_mirror *m, repl_mirror_stats *st);
/* Stops, joins and frees; NULL is a no-op. */
void repl_mirror_stop(repl_mirror *m);

#endif
