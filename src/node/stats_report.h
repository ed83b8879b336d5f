/*
 * stats_report.h - reports of a node's daily statistics to its parent
 * (docs/statistics.md, "Reports to the parent"), both sides.
 *
 * The child builds, for one prefix P it reports for and one UTC day, the
 * day rows of P and of every prefix under P ("P.…"), its own counts plus
 * what its own children reported ('x' rows), as a JSON document
 * {"v":1,"prefix":P,"day":"YYYY-MM-DD","seq":N,"rows":[{"prefix":..,
 * "held":..,"registered":..,...}]}, and signs it with its key as the
 * identity 0.NA/P (auth_respond_pubkey over a fixed nonce and the SHA-256
 * of the document). The envelope POSTed to the parent is
 * {"report":"<the document, as a JSON string>","signature":"<hex>"}.
 *
 * The parent (node_report_accept) verifies the signature against the
 * HS_PUBKEY values of 0.NA/P in its own store, checks that every row is P
 * or under P, and keeps the report per (P, day) with its sequence number
 * and digest ('r' rows of STORE_TAB_STATS). A new sequence replaces the
 * day's previous report: its rows are taken out of the reported sums ('x'
 * per prefix, 'X' per industry) and the new ones added, in one
 * transaction, so a day is counted exactly once whatever is re-sent. The
 * same report again is acknowledged and changes nothing; the same or an
 * older sequence with another body is a replay and is refused.
 *
 * The child keeps the acknowledged (sequence, digest of the rows) per
 * (P, day) ('a' rows) and sends a day again only when its rows changed.
 */
#ifndef IDN_NODE_STATS_REPORT_H
#define IDN_NODE_STATS_REPORT_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum {
	NODE_REPORT_MAX = 1 << 20, /* bytes of an envelope the parent reads */
	NODE_REPORT_ROWS = 10000,  /* rows of one report */
};

/* The nonce signed with the document's digest (auth_respond_pubkey). */
#define NODE_REPORT_NONCE "idnode stats report 1"

/* Whether the statistics name is prefix or under it ("P.…"). */
bool node_report_under(const char *name, const char *prefix);

/* A report to send: the envelope (malloc'd), and what to acknowledge once sent. */
typedef struct node_report {
	char *envelope;
	size_t len;
	uint64_t seq;
	uint8_t digest[32]; /* of the rows */
} node_report;

/*
 * Builds the report of prefix for day (unix time / 86400) from s, signed
 * with priv. 1 and *out filled when the day's rows differ from what the
 * parent acknowledged (or none was); 0 when there is nothing new to send;
 * < 0 on an error.
 */
int node_report_build(store *s, const char *prefix, uint32_t day, EVP_PKEY *priv, node_report *out);
/* The parent acknowledged r: recorded in s ('a' row). */
int node_report_acked(store *s, const char *prefix, uint32_t day, const node_report *r);
/*
 * The parent refused r as a replay (it holds r's sequence with other rows:
 * its answer to an earlier send was lost): r's sequence is recorded as
 * used, not its rows, so the next build sends a higher one, which replaces it.
 */
int node_report_used(store *s, const char *prefix, uint32_t day, const node_report *r);
void node_report_free(node_report *r);

/* What node_report_accept found. */
enum node_report_outcome {
	NODE_REPORT_ACCEPTED,  /* new: counted */
	NODE_REPORT_DUPLICATE, /* the same report again: acknowledged, nothing changed */
};

/*
 * The parent: checks the envelope env and, if good, keeps it and adds it
 * to the reported sums. IDN_OK with *outcome; IDN_EINVAL malformed,
 * IDN_ERANGE oversized, IDN_EMISMATCH forged (no key of 0.NA/P verifies it,
 * or a row outside P), IDN_EEXIST replayed (the same or an older sequence
 * with another body); err says what. Nothing changes on an error.
 */
int node_report_accept(store *s, const uint8_t *env, size_t len, bool case_sensitive,
                       enum node_report_outcome *outcome, char *err, size_t errlen);

#endif
