/*
 * edit.h - the authenticated writes of records: create (100, with MINT and
 * OVRW), delete (101), and add (102), remove (103) and modify (104) values.
 * Each runs in the write transaction c->t (the admin module commits it when
 * c->commit is set and the answer is a success), and every record written is
 * checked against the template it names (node/template.h).
 *
 * Each returns the answer (its length) or a negative idn_err.
 */
#ifndef IDN_NODE_EDIT_H
#define IDN_NODE_EDIT_H

#include "node/authz.h"

int node_edit_create(node_authz *c);
int node_edit_delete(node_authz *c);
int node_edit_add(node_authz *c);
int node_edit_modify(node_authz *c);
int node_edit_remove(node_authz *c);

#endif
