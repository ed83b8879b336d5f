/*
 * homing.h - ops 300 (home) and 301 (unhome) a prefix on this node, for
 * server administrators only; the prefix is named "0.NA/<prefix>" or bare.
 * Unhoming a prefix not homed here answers 301. Returns the answer (its
 * length) or a negative idn_err.
 */
#ifndef IDN_NODE_HOMING_H
#define IDN_NODE_HOMING_H

#include "node/authz.h"

int node_home(node_authz *c);

#endif
