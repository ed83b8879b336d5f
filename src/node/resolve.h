/*
 * resolve.h - the answers to resolution (op 1: the public values of a
 * handle homed here, filtered by index/type; 301 or a referral for one that
 * is not) and to site information (op 2). Both read the worker's snapshot
 * and allocate nothing.
 */
#ifndef IDN_NODE_RESOLVE_H
#define IDN_NODE_RESOLVE_H

#include "node/internal.h"

int node_resolution_answer(req *rq);
int node_site_info_answer(req *rq);

#endif
