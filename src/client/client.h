/*
 * client.h - the client side of the Handle protocol: one request, one answer,
 * over UDP (with the reference client's retries and multi-packet
 * reassembly) or TCP. Used by the CLI, the tests and, later, the resolver.
 *
 * Blocking, one request at a time; answers are malloc'd and owned by the
 * caller (free()).
 */
#ifndef IDN_CLIENT_CLIENT_H
#define IDN_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proto/proto.h"

enum client_transport { CLIENT_UDP = 0, CLIENT_TCP = 1 };

typedef struct client_addr {
	struct sockaddr_storage ss;
	socklen_t len;
} client_addr;

/*
 * Parses "HOST:PORT", "[V6]:PORT", "HOST" (default_port) or ":PORT"
 * (loopback). HOST is a numeric address or a name. IDN_EINVAL with a reason
 * in err (if given) otherwise.
 */
int client_addr_parse(const char *s, uint16_t default_port, client_addr *out, char *err,
                      size_t errlen);

/* "127.0.0.1:2641" / "[::1]:2641" */
void client_addr_str(const client_addr *a, char *out, size_t len);

/*
 * Sends req (envelope + message) and waits for the answer with the same
 * request id. UDP retries after 0.5, 1 and 1.5 s (or within timeout_ms,
 * whichever ends first); TCP connects, sends, and reads one whole message.
 * *ans (malloc'd) holds envelope + message. IDN_ETIMEOUT, IDN_ENET,
 * IDN_EPROTO (the peer sent something that is not an answer).
 * A UDP answer with response code 2 (RC_ERROR: what a node sends for an
 * answer over its UDP budget or rate, "ask over TCP") is asked again over
 * TCP at once, in what is left of timeout_ms, as the reference client moves
 * to its next protocol; *ans is then the TCP answer, or the UDP one if TCP
 * failed.
 */
int client_exchange(const client_addr *a, enum client_transport t, unsigned timeout_ms,
                    const uint8_t *req, size_t len, uint8_t **ans, size_t *anslen);

/*
 * What the last failed exchange or connection (client/conn.h) of this thread
 * met, naming the peer: "connection to 127.0.0.1:2641 refused", "... reset
 * by peer", "... timed out after 3000 ms (connecting)"; idn_strerror(ret)
 * when the failure recorded is not the one ret reports.
 */
const char *client_strerror(int ret);

/* A fresh, unpredictable request id. */
uint32_t client_request_id(void);

typedef struct client_resolve_opts {
	enum client_transport transport;
	unsigned timeout_ms; /* 0 = 3000 */
	uint8_t minor;       /* protocol 2.minor, 0 = 11 */
	uint32_t flags;      /* op flags, 0 = PO|REC|CA as the reference client sends */
	const uint32_t *indexes;
	uint32_t nindexes;
	const idn_slice *types;
	uint32_t ntypes;
	uint8_t recursion; /* header recursion count: hops taken so far (client_resolve_root) */
} client_resolve_opts;

/*
 * Resolves handle. On success (the exchange worked, whatever the response
 * code) *ans owns the answer bytes and *msg is decoded from them (borrows
 * *ans).
 */
int client_resolve(const client_addr *a, idn_slice handle, const client_resolve_opts *o,
                   uint8_t **ans, size_t *anslen, proto_env *env, proto_msg *msg);

/*
 * Resolution from the root (client/root.c), as a resolver does it: resolve
 * 0.NA/<prefix> at the root, following 303 prefix referrals (HS_SITE.PREFIX,
 * or HS_SERV.PREFIX handles resolved in turn) and HS_SERV values to the
 * prefix's HS_SITE; then ask that site's server responsible for handle (by
 * the site's hash), following referrals again. Each site is tried over the
 * configured transport, then TCP on a timeout, then the next site.
 * At most max_hops questions (0 = 40) and never the same question to the same
 * server twice: IDN_ERANGE (err says "referral loop" or "more than N
 * referrals"). The answer is returned as client_resolve() returns it; err
 * (errlen bytes) says what failed otherwise.
 */
typedef struct client_root_opts {
	client_resolve_opts base; /* for the final question; prefix lookups drop its filters */
	unsigned max_hops;
	/*
	 * 0: each question has base.timeout_ms. Otherwise the whole walk ends
	 * within total_ms (each question gets what is left): IDN_ETIMEOUT.
	 */
	unsigned total_ms;
	client_addr *answered_by; /* optional: set to the server of the final answer */
	/*
	 * Optional hooks around every question to a server, so a caller can
	 * keep servers that stopped answering aside (the resolver's hold-down,
	 * resolver/holddown.h) while this library stays stateless: before a
	 * question, may_ask() returning false skips that server and transport
	 * as if it had failed, with why (NUL-terminated, whylen bytes) as the
	 * walk's error; after one, asked() gets the exchange's result (0 or an
	 * idn_err such as IDN_ETIMEOUT).
	 */
	bool (*may_ask)(void *arg, const client_addr *a, enum client_transport t, char *why,
	                size_t whylen);
	void (*asked)(void *arg, const client_addr *a, enum client_transport t, int ret);
	void *hook_arg;
	/*
	 * Optional: a cache of the records the walk reads to find a site
	 * (prefix handles 0.NA/<prefix>, and the HS_SERV handles they name),
	 * so a resolver asks the root and the secondaries once per prefix and
	 * TTL, not once per identifier. site_get(hook_arg, handle, &values,
	 * &len, &n) returns 1 with a malloc'd copy of the record's values
	 * (value[] in wire encoding, n of them; the walk frees it), else 0;
	 * site_put(hook_arg, handle, values, n) is called with each such record
	 * the walk was answered (response code 1).
	 */
	int (*site_get)(void *arg, idn_slice handle, uint8_t **values, size_t *len, uint32_t *n);
	void (*site_put)(void *arg, idn_slice handle, idn_slice values, uint32_t n);
} client_root_opts;

int client_resolve_root(const client_addr *root, idn_slice handle, const client_root_opts *o,
                        uint8_t **ans, size_t *anslen, proto_env *env, proto_msg *msg, char *err,
                        size_t errlen);

#endif
