/*
 * api_account.h - what the management API's routes share (src/api only):
 * the caller of a request authenticated from its `Authorization: Bearer`
 * token (an account of node/account.h, its role, its Handle identity and
 * prefixes), the SNMS answer shapes of ../shared/IDIS.md §4
 * ({"status":1|-1|-2|-3|-4,"message":..,"data":..}), the audit entry of a
 * change; and the routes of api_account.c: token login (both variants), the
 * enterprise admission workflow and the audit log.
 *
 * A route that writes runs the write as c->id through api_admin_run()
 * (reply.h), so the node checks the identity's HS_ADMIN rights exactly as
 * over the Handle protocol; api_caller_may() is only the early "another
 * enterprise's prefix" refusal (-3) with the SNMS message.
 */
#ifndef IDN_API_ACCOUNT_H
#define IDN_API_ACCOUNT_H

#include "api/reply.h"
#include "node/account.h"

/* SNMS status codes (IDIS.md §4). */
enum {
	SNMS_OK = 1,
	SNMS_NOT_LOGGED_IN = -1,
	SNMS_BUSINESS = -2,
	SNMS_NO_PERMISSION = -3,
	SNMS_INTERNAL = -4,
};

/* Who sent an authenticated management request. */
typedef struct api_caller {
	account acct;  /* name, role, identity, prefixes */
	ident id;      /* acct's identity, as api_admin_run() takes it */
	char from[64]; /* the client's address ("127.0.0.1") */
} api_caller;

/*
 * The caller of req from `Authorization: Bearer <token>`: 1 and *c, else 0
 * with the answer written (HTTP 401, status -1 "not logged in: ...": no
 * token, forged, expired, revoked, account disabled).
 */
int api_snms_auth(api_worker *w, const http_req *req, http_resp *r, api_caller *c);
/* 1 when c is an operator, else 0 with the -3 answer written (HTTP 403). */
int api_snms_need_operator(const api_caller *c, http_resp *r);
/*
 * Whether c may act on handle or prefix h: an operator on anything, an
 * enterprise under its own prefixes only (else the caller answers -3).
 */
bool api_caller_may(const api_caller *c, idn_slice h);

/* {"status":status,"message":msg} with HTTP status http. */
void api_snms_answer(http_resp *r, int http, int status, const char *msg);
/* An answer with data: begin writes {"status":1,"message":"success","data": ; end the "}". */
void api_snms_begin(http_resp *r);
void api_snms_end(http_resp *r);
/*
 * The body as a JSON object (the caller json_decref()s it; an empty body is
 * {} when empty_ok), else NULL with the 400 (-2) answer written.
 */
json_t *api_snms_body(const http_req *req, http_resp *r, bool empty_ok);
/*
 * The string field key of doc: NULL when absent and optional; NULL with *bad
 * set and the 400 (-2) naming the field when missing (required), not a
 * string, empty (required), over max bytes or holding a NUL. Does nothing
 * once *bad is set, so several fields are taken in a row.
 */
const char *api_snms_field(json_t *doc, const char *key, bool required, size_t max, http_resp *r,
                           bool *bad);
/* The client's address of req as text into out (64 bytes). */
void api_peer_text(const http_req *req, char *out, size_t cap);

/*
 * One audit entry for a change made through the management API: who (c,
 * NULL: not logged in), what (op, target), the SNMS result and a message,
 * from where (req's peer). Best effort: a failure to write it is logged.
 */
void api_audit(api_worker *w, const http_req *req, const api_caller *c, const char *op,
               idn_slice target, int result, const char *msg);

/* Routes (api_account.c). */
int api_identity_token(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_identity_token_v1(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/* POST /snms/api/idn/apply; GET /snms/api/idn/applications;
 * POST /snms/api/idn/applications/{id}/approve|reject; GET /snms/api/idn/audit. */
int api_snms_apply(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_snms_applications(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_snms_audit(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);

#endif
