/*
 * authz.h - who may do what: the identity an authenticated request runs as,
 * the HS_ADMIN values (directly or through HS_VLIST groups) that give it
 * rights on a handle or its prefix, and the node-wide administrators. Every
 * authenticated op (the run of its node_op row) gets one node_authz.
 *
 * Lifetimes: a node_authz lives for one op; it borrows the request, the
 * transaction and the administrators' list.
 */
#ifndef IDN_NODE_AUTHZ_H
#define IDN_NODE_AUTHZ_H

#include "node/internal.h"
#include "proto/record.h"

/* A node-wide administrator, "INDEX:HANDLE" of node_config.server_admins. */
typedef struct node_server_admin {
	char *handle;
	uint32_t index;
} node_server_admin;

/* One authorisation: who asks, in which transaction, with a lookup budget. */
typedef struct node_authz {
	req *rq;
	const node_server_admin *admins; /* node-wide administrators (borrowed) */
	size_t nadmins;
	store_txn *t;
	idn_slice id_handle;
	uint32_t id_index;
	uint8_t id_key[HANDLE_KEY_MAX];
	int id_klen;
	unsigned lookups;
	bool commit; /* set by an op that wrote to t */
	uint32_t now;
} node_authz;

bool node_authz_case_sensitive(const node_authz *c);

/* Reads the record of handle h in c->t. 1 found, 0 not, negative error. */
int node_authz_read_record(node_authz *c, idn_slice h, record *r);
/* The record of 0.NA/<prefix of h>: 1 found, 0 not, negative error. */
int node_authz_read_prefix_record(node_authz *c, idn_slice h, record *r);

/*
 * Checks that the identity holds every bit of `need` through the HS_ADMIN
 * values of `own` (the handle's record, may be NULL) or of `prefix` (the
 * 0.NA/<prefix> record, may be NULL), or is a node-wide admin. Returns 0
 * when it does, else the answer: 400 when no HS_ADMIN names it, 401 naming
 * the first missing right (`what` is the handle named in it).
 */
int node_authz_check(node_authz *c, const record *own, const record *prefix, uint16_t need,
                     idn_slice what);
/*
 * The rights the identity holds through the HS_ADMIN values of own and
 * prefix (either may be NULL), writing no answer: 1 when one names it (or it
 * is a node-wide admin: every right), 0 when none does, negative error.
 */
int node_authz_rights(node_authz *c, const record *own, const record *prefix, uint16_t *rights);
/* Whether the identity is a node-wide admin: 1 yes, 0 no, negative error. */
int node_authz_is_server_admin(node_authz *c);
/* Node-wide operations (home, unhome, list homed, replication): server admins only. */
int node_authz_server(node_authz *c);

#endif
