/*
 * repl_ops.h - the primary's answers to the replication ops 1000 (log
 * state), 1001 (retrieve the transaction log) and 1002 (dump identifiers
 * and homed prefixes), built on a read snapshot of the node's store with
 * store/txlog_pages.h. Authentication and rights are the caller's business (the
 * admin module, after the challenge-response: server administrators only);
 * these functions only answer.
 */
#ifndef IDN_NODE_REPL_OPS_H
#define IDN_NODE_REPL_OPS_H

#include "node/authz.h"
#include "node/internal.h"

/*
 * The answer to rq (opcode 1000-1002) read from t: its length, or a negative
 * idn_err when even an error answer does not fit. A position the log no
 * longer holds is answered 2 (error) "log pruned ..."; the mirror then asks
 * op 1000 for the oldest position and bootstraps again.
 */
int node_repl_answer(req *rq, store_txn *t);

/* The op of rows 1000-1002 (node.c): for server administrators, then node_repl_answer. */
int node_repl_run(node_authz *c);

#endif
