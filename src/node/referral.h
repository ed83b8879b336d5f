/*
 * referral.h - who answers for what a node does not hold: the derived-prefix
 * walk behind 303 prefix referrals, and the split of identifiers between the
 * servers of a multi-server site.
 *
 * A prefix is delegated by a record 0.NA/<prefix> (HS_SITE / HS_SERV: where
 * the prefix lives); the prefixes derived from it (88.100 -> 88.100.1) are
 * delegated by the parent's HS_SITE.PREFIX / HS_SERV.PREFIX values. A node
 * lacking 0.NA/88.100.1 therefore looks at 0.NA/88.100, then 0.NA/88, and
 * refers the client to the first ancestor that names a site for its derived
 * prefixes (as the reference 9.x server does).
 *
 * Pure logic over a store read transaction: what referral_find() returns
 * borrows that transaction's snapshot and lives until it ends or is reset.
 */
#ifndef IDN_NODE_REFERRAL_H
#define IDN_NODE_REFERRAL_H

#include <stdbool.h>

#include "proto/reserved.h"
#include "store/store.h"

/* The values a 303 refers with: the matching values of one ancestor record. */
typedef struct referral {
	idn_slice ancestor; /* the ancestor prefix, e.g. "88.100" (borrows the prefix given) */
	idn_slice values;   /* the ancestor record's encoded values (all of them) */
	uint32_t nvalues;   /* how many values that slice holds */
	uint32_t nrefer;    /* how many of them referral_put() writes */
} referral;

/* Is this (public) value one a prefix referral carries? HS_SITE.PREFIX / HS_SERV.PREFIX. */
bool referral_value_refers(const proto_value *v);

/*
 * Walks the strict ancestors of prefix (longest first: "88.100.1" tries
 * "88.100", then "88") and looks up 0.NA/<ancestor> in t. Returns 1 with *r
 * filled at the first ancestor record with at least one public
 * HS_SITE.PREFIX / HS_SERV.PREFIX value, 0 when none has, or a negative
 * idn_err (a damaged record, a storage error). Keys are built as
 * handle_key() builds them with suffix_case_sensitive.
 */
int referral_find(store_txn *t, bool suffix_case_sensitive, idn_slice prefix, referral *r);

/*
 * Writes a 303 body for r: an empty handle (as the reference does), then the
 * referring values in record order.
 */
void referral_put(wire_wr *w, const referral *r);

/*
 * The split of a multi-server site: is the server with id own_id the one that
 * answers for handle? Returns 1 (ours, or the site does not split: one server,
 * or own_id is not one of its servers), 0 (another server's share), or a
 * negative idn_err (a site that proto_site_decode() would refuse).
 */
int referral_site_owns(const proto_site *site, uint32_t own_id, idn_slice handle);

#endif
