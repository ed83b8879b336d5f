/*
 * quota.h - the national system's quotas (IDIS.md section 1, codes 603-605):
 * per identity a daily request limit, per prefix a limit on the identifiers
 * under it and a limit on its child prefixes; their defaults
 * (node_config.quota_*), the overrides a node admin sets at runtime, and the
 * counts, all kept in the store's meta values so they survive a restart.
 *
 * What counts (docs/national-system.md, "Quotas"):
 * - daily: every request an identity makes that passed authentication
 *   (op 200, a session, the REST API's act-as, a login) and reached its
 *   operation, whatever the operation then answers; resolution is not
 *   counted. Per UTC day. A request over the limit is refused and does not
 *   count. Node-wide admins (server_admins) are never refused. Counts live in
 *   memory (sharded, one mutex per shard, taken only by authenticated
 *   requests) and reach the store through node_quota_flush (the sweeper, at
 *   most every QUOTA_FLUSH_S seconds, and node_free).
 * - identifiers: records that exist under a prefix (not 0.NA), counted in
 *   the write transaction of each create and delete, so the count is exact
 *   across any crash. A prefix without a counter gets one, by one scan of
 *   its records in that transaction, the first time a limit applies to it.
 * - child prefixes: direct children P.C of prefix P that have a 0.NA/P.C
 *   record or are homed here (each child once), counted the same way at the
 *   create and delete of 0.NA/P.C and at home and unhome of P.C.
 *
 * The answer when a quota acts follows node_config.codes: NODE_CODES_IPS
 * sends 603/604/605; NODE_CODES_IDS and NODE_CODES_HANDLE send 3
 * SERVER_BUSY (daily) and 2 ERROR (the prefix quotas). The message always
 * begins NODE_MSG_QUOTA and names the quota, its limit and, for the daily
 * one, when it resets; each refusal is counted (LIM_QUOTA).
 */
#ifndef IDN_NODE_QUOTA_H
#define IDN_NODE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "node/node.h"

enum node_quota_kind {
	QUOTA_DAILY = 0,       /* key: INDEX:HANDLE */
	QUOTA_IDENTIFIERS = 1, /* key: a prefix */
	QUOTA_CHILDREN = 2,    /* key: a prefix */
	QUOTA_KINDS
};

enum {
	QUOTA_FLUSH_S = 5, /* daily counts reach the store at most this long after they change */
	QUOTA_SHARDS = 16,
};

/*
 * Every quota refusal's message begins so; a daily one with
 * NODE_MSG_QUOTA_DAILY (the HTTP API answers those 429, the others 409).
 */
#define NODE_MSG_QUOTA       "quota: "
#define NODE_MSG_QUOTA_DAILY "quota: daily requests"

typedef struct node_quota node_quota;

int node_quota_new(const node_config *cfg, node_quota **out);
void node_quota_free(node_quota *q);
/* The defaults again (node_config.quota_*; SIGHUP): any thread, from the next request on. */
void node_quota_set_defaults(node *n, uint64_t daily, uint64_t identifiers, uint64_t children);

/* "daily", "identifiers", "child-prefixes" -> the kind, or -1. */
int node_quota_kind(const char *name, size_t len);
const char *node_quota_kind_name(enum node_quota_kind k);

/*
 * Writes the daily counts changed since the last flush to the store (force:
 * now; else only when QUOTA_FLUSH_S passed since the last). Drops the
 * counts of days past. Returns 0 or a store error (the counts stay to write).
 */
int node_quota_flush(node *n, bool force);

/* What node_quota_admin reads. */
typedef struct node_quota_info {
	uint64_t limit;  /* in force: the override, else the default; 0 = none */
	uint64_t dflt;   /* the default (node_config.quota_*) */
	bool override;   /* a node admin set this key's limit */
	uint64_t used;   /* today's requests, or what exists under the prefix */
	bool counted;    /* used is known (a prefix is counted once a limit applied) */
	uint32_t resets; /* daily: the unix time the count starts again (next 00:00 UTC) */
	char key[PROTO_HANDLE_MAX + 16]; /* the key as normalised, NUL-terminated */
} node_quota_info;

enum node_quota_op { QUOTA_GET, QUOTA_SET, QUOTA_UNSET, QUOTA_RECOUNT };

/*
 * A node admin's look at or change of one key's quota, as index:handle (an
 * identity the caller authenticated): IDN_OK with *out filled (after the
 * change); QUOTA_NOT_ADMIN when the identity is not a node-wide admin
 * (server_admins, directly or through HS_VLIST); IDN_EINVAL when key is not
 * a prefix (or INDEX:HANDLE for daily), with why; another idn_err from the
 * store. QUOTA_SET sets the limit (0 = no limit, whatever the default);
 * QUOTA_UNSET returns the key to the default; QUOTA_RECOUNT counts a
 * prefix again from its records by one scan (after `idnode load` or
 * `restore` wrote beneath the counters, or --home at start homed a child).
 * Changes are durable at once.
 */
enum { QUOTA_NOT_ADMIN = 1 };
int node_quota_admin(node_worker *w, idn_slice id_handle, uint32_t id_index,
                     enum node_quota_kind kind, idn_slice key, enum node_quota_op op,
                     uint64_t limit, node_quota_info *out, char *why, size_t whylen);

/* ---- the hooks of the authenticated ops (node module only) ---- */

struct node_authz;

/*
 * Counts one authenticated request of c's identity (c->t open): 0 to run
 * it, else the answer (603 or its stand-in).
 */
int node_quota_request(struct node_authz *c);
/*
 * In the write transaction of a create of handle h (new: no record was
 * there), before the record is put: counts it under its prefix (or, for
 * 0.NA/P.C, as a child of P). 0, or the answer (604, 605 or a store error).
 */
int node_quota_created(struct node_authz *c, idn_slice h);
/* In the transaction of the delete of h, before it: gives its room back. 0 or the answer. */
int node_quota_deleting(struct node_authz *c, idn_slice h);
/*
 * Before home (home true) or unhome of prefix p (normalised) in c->t: a
 * child newly homed counts against its parent's child-prefix quota, one
 * unhomed gives room back (unless its 0.NA record still counts it). 0 or
 * the answer.
 */
int node_quota_homing(struct node_authz *c, idn_slice p, bool home);

#endif
