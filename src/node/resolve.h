/*
 * resolve.h - the answers to resolution (op 1: the public values of a
 * handle homed here, filtered by index/type; 301 or a referral for one that
 * is not; every value for an authenticated reader) and to site information
 * (op 2). Both read the worker's snapshot and allocate nothing.
 */
#ifndef IDN_NODE_RESOLVE_H
#define IDN_NODE_RESOLVE_H

#include "node/internal.h"

int node_resolution_answer(req *rq);

struct node_authz;
/*
 * A resolution that asks for every value (no PO flag) over TCP: when the
 * record holds restricted values, or it comes in a session, the reader
 * authenticates (402 / op 200, or the session's identity) and
 * node_resolution_run answers with every value, restricted ones too, if
 * the identity holds the read-value right on the handle (its HS_ADMIN
 * values, as the reference checks it) or is a node administrator.
 */
bool node_resolution_wants_auth(const req *rq);
int node_resolution_run(struct node_authz *c);
int node_site_info_answer(req *rq);

#endif
