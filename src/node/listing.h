/*
 * listing.h - the authenticated list ops: list handles (105: the handles
 * under a prefix, for an identity with the "list handles" right on it) and
 * list homed prefixes (302: server administrators only). Over TCP a list
 * longer than one message is several whole messages back to back (CN set on
 * all but the last); elsewhere it must fit one. A list longer than the
 * caller's buffer is refused, never cut short.
 *
 * Each returns the answer (its length) or a negative idn_err.
 */
#ifndef IDN_NODE_LISTING_H
#define IDN_NODE_LISTING_H

#include "node/authz.h"

int node_list_handles(node_authz *c);
int node_list_homed(node_authz *c);

#endif
