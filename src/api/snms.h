/*
 * snms.h - the management API of the national system's secondary nodes
 * (SNMS, ../shared/IDIS.md §4) on the node's HTTP listener: its routes
 * (api_snms.c: identifiers one by one and in batches; api_snms_search.c:
 * finding them by value; api_snms_tmpl.c:
 * templates; api_snms_ent.c: enterprise node registration and the prefix
 * lists), the answer shape they share, the caller's authentication, and the
 * pure mappings between SNMS bodies and Handle values (api_snms_map.c,
 * unit-tested on their own). docs/secondary-node.md documents them.
 *
 * Every answer is {"status":..,"message":..,"data":..}: status 1 ok, -1 not
 * logged in (HTTP 401), -2 a business error (HTTP 200, or 400 for a body
 * that is not JSON / not the documented shape), -3 no permission (HTTP 403),
 * -4 an internal error (HTTP 500). Every write runs as the caller's Handle
 * identity through the node (api_admin_run), so the rights, template checks
 * and durability are the Handle protocol's. Not for use outside src/api.
 */
#ifndef IDN_API_SNMS_H
#define IDN_API_SNMS_H

#include <jansson.h>

#include "api/api_account.h"
#include "api/reply.h"

/* The statuses SNMS_OK .. SNMS_INTERNAL are api/api_account.h's. */
enum {
	SNMS_BATCH_MAX = 2000,     /* items of one batch (IDIS.md §4) */
	SNMS_ADMIN_INDEX = 100,    /* where the HS_ADMIN added for the caller goes */
	SNMS_TMPL_ID_INDEX = 1000, /* TEMPLATE_ID: reserved */
	SNMS_TMPL_RESERVED = 1999, /* reserved */
	SNMS_TMPL_DEF_INDEX = 1,   /* a template record's TEMPLATE.DEF */
	SNMS_TMPL_META_INDEX = 2,  /* its SNMS header and items (TEMPLATE.SNMS) */
	SNMS_VERSION_MAX = 64,     /* bytes of a templateVersion */
	SNMS_MSG_MAX = 512,
};

#define SNMS_TMPL_META_TYPE "TEMPLATE.SNMS"
/* A template's identifier: <prefix>/TEMPLATE.<version>. */
#define SNMS_TMPL_SUFFIX "TEMPLATE."

/* ---- answers ---- */

/* The HTTP status of an SNMS status (1 and -2: 200). */
int snms_http_status(int status);
/* {"status":status,"message":msg,"data":null} with its HTTP status; msg is printf-like. */
void snms_fail(http_resp *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Begins {"status":1,"message":"success","data": - the caller writes data and ends with "}". */
void snms_ok_begin(http_resp *r);
/*
 * {"status":1,"message":msg,"data":{"handle":h}}: a write's success, msg
 * saying what happened ("success", or a retried create's "already exists:
 * identical values ...").
 */
void snms_ok_handle(http_resp *r, const char *msg, idn_slice h);
/* The SNMS status of a Handle response code (401/400 rights: -3, server errors: -4, else -2). */
int snms_status_of_rc(uint32_t rc);
/* The body as a JSON document, or NULL with the -2 answer (HTTP 400) naming what is wrong. */
json_t *snms_body(const http_req *req, http_resp *r);

/* ---- the caller ---- */

/*
 * The caller: an account logged in with a token (api/api_account.h), or, with
 * acct.role 0, a Handle identity authenticated as the REST API does (the
 * node's rights alone decide what it may do).
 */
typedef api_caller snms_caller;

/*
 * Authenticates the caller: Authorization: Bearer <token> (POST
 * /identity/token), or the REST API's own (Basic with an HS_SECKEY secret,
 * Handle sessions). 1 and *c, else 0 with the -1 answer written, < 0 fatal.
 */
int snms_auth(api_worker *w, const http_req *req, http_resp *r, snms_caller *c);
/*
 * Whether the caller may act on handle or prefix (a token's enterprise
 * account: under its own prefixes; others: 1, the node's rights decide).
 * 0 with the -3 answer written.
 */
int snms_may(const snms_caller *c, idn_slice what, http_resp *r);
/* Changes are audited with api_audit (api/api_account.h): op "identity.create", ... */

/*
 * One identifier written as c (api_snms.c): a create or (update) a
 * replacement of doc {handle, templateVersion, value}, or a delete of h.
 * 0 with *status (SNMS) and msg, < 0 fatal.
 */
int snms_write_one(api_worker *w, const snms_caller *c, json_t *doc, bool update, int *status,
                   char *msg, size_t msglen);
int snms_delete_one(api_worker *w, const snms_caller *c, idn_slice h, int *status, char *msg,
                    size_t msglen);

/* ---- mappings (api_snms_map.c), pure ---- */

/*
 * A batch's body is parsed one item at a time (a DOM of 2,000 items would
 * cost more than running them): snms_array_split gives the byte range of
 * each element of a JSON array (strings and nesting skipped, the elements
 * not otherwise checked: each is parsed alone). At most cap are recorded,
 * all counted. The count, or -1 when body is not one array.
 */
typedef struct snms_span {
	size_t off, len;
} snms_span;
long snms_array_split(idn_slice body, snms_span *out, size_t cap);

/* One identifier's body: {handle, templateVersion, value:[..]}. Borrows the JSON. */
typedef struct snms_item {
	idn_slice handle;
	idn_slice version; /* templateVersion, empty when none */
	json_t *value;     /* the value array, NULL when absent */
} snms_item;

/*
 * Checks one body's shape (unknown keys refused, handle PREFIX/SUFFIX,
 * templateVersion a string, value an array of at most 4096 items (needed
 * when need_value)). 0, or -1 with err naming the field (after where, e.g.
 * "[12]." in a batch, "" alone).
 */
int snms_item_parse(json_t *doc, bool need_value, const char *where, snms_item *out, char *err,
                    size_t errlen);

/*
 * Encodes it's values into w as Handle values: each {index, type, auth,
 * data:{format, value}, ttl} (auth 0 or absent: anyone reads, 1: only
 * administrators read; the identity's admins write either way), then the
 * TEMPLATE value at 1001 naming tmpl (when tmpl.len), then an HS_ADMIN at
 * index 100 (or the first free one after it) for admin with every right
 * (readable by anyone, as the reference makes them) when the body has no
 * HS_ADMIN and admin is not NULL. Indexes 1000, 1001
 * and 1999 are reserved (refused). Returns the number of values, or -1 with
 * err naming the field.
 */
int snms_values_encode(const snms_item *it, idn_slice tmpl, const ident *admin, wire_wr *w,
                       const char *where, char *err, size_t errlen);

/*
 * Writes values[0..n) (raw, as a record holds them) as an SNMS body's
 * "templateVersion":..,"value":[..] members (the TEMPLATE value at 1001
 * becomes templateVersion: the version of its <prefix>/TEMPLATE.<version>).
 */
void snms_values_json(http_resp *r, idn_slice values, uint32_t n);

/*
 * Whether the values a create wanted (a) are those a resolution of the
 * existing identifier gave (b, public values only): same index, type, data,
 * permissions and TTL, timestamps and order aside - a retried create.
 * Values of a that only administrators read cannot be compared: they are
 * skipped and *partial set.
 */
bool snms_values_same(idn_slice a, uint32_t na, idn_slice b, uint32_t nb, bool *partial);

/* <prefix>/TEMPLATE.<version> into out (cap bytes): its length, or -1 if it does not fit. */
int snms_tmpl_handle(idn_slice prefix, idn_slice version, char *out, size_t cap);

/*
 * An SNMS template body into the TEMPLATE.DEF JSON idnode enforces (*def)
 * and the SNMS header kept beside it (*meta: everything but items' metadata,
 * which the definition holds). Items: name (the field, i.e. the value type),
 * idIndex >= 2000, required (bool or 0/1), metadata {type: string, number,
 * date, url or file; minLength, maxLength}. 0, or -1 with err naming the field.
 */
int snms_tmpl_to_def(json_t *body, json_t **def, json_t **meta, char *err, size_t errlen);
/*
 * The SNMS template of a TEMPLATE.DEF (def, JSON) and its kept header
 * (meta, may be NULL: a template written over Handle/REST: idIndex 2000 + i)
 * for prefix and version. NULL if def is not JSON.
 */
json_t *snms_tmpl_from_def(idn_slice def, idn_slice meta, idn_slice prefix, idn_slice version);

/* ---- routes ---- */

int snms_detail(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/* /identityv2/data: POST create, PUT update, DELETE delete. */
int snms_data(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/* POST .../batchCreate, PUT .../batchUpdate, DELETE .../batchDelete (by the method). */
int snms_batch(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int snms_template(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int snms_ent_config(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/* GET /identityv2/data/search?term=&prefix=&pageSize=&cursor= (api_snms_search.c). */
int snms_search(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/*
 * The identifiers (store keys, each malloc'd, the array too) under prefix
 * with a value matching term, at most max, found as c (api_snms_search.c):
 * 0, 1 with the SNMS answer written (index off or being rebuilt), < 0 fatal.
 */
int snms_search_keys(api_worker *w, const snms_caller *c, idn_slice term, idn_slice prefix,
                     size_t max, char ***out, size_t *n, http_resp *r);
/* GET /snms/api/prefix/query (every match) and /snms/api/prefix/page (one page). */
int snms_prefix_list(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);

#endif
