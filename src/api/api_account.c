/*
 * api_account.c - the management API's accounts (api_account.h): token
 * login as ../shared/IDIS.md §4 (POST /identity/token and /identity/token/v1),
 * the bearer-token check every management route calls, SNMS answers, the
 * audit entry of a change, and idnode's own routes under /snms/api/idn/:
 * apply (an enterprise asks for a prefix), applications (an operator lists,
 * approves, rejects) and audit (an operator reads the log).
 *
 * HTTP statuses: a login refused for its credentials is HTTP 200 with status
 * -1 (the SNMS clients read the status); a body that is not what the route
 * takes is 400 (-2, naming the field), a missing or void token 401 (-1),
 * another's prefix or an operator's route 403 (-3), a login during its
 * back-off 429 with Retry-After (-1), a state conflict 409 (-2), a failure
 * of the node 500 (-4). docs/secondary-node.md.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "api/api_account.h"
#include "auth/verify.h"
#include "core/codec.h"
#include "core/limit.h"

enum { LOGIN_INDEX = 0 }; /* the login guard's index for accounts (identities have >= 1) */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void api_snms_answer(http_resp *r, int http, int status, const char *msg)
{
	r->status = http;
	r->content_type = "application/json";
	r->len = 0;
	http_resp_printf(r, "{\"status\":%d,\"message\":", status);
	api_json_str(r, idn_slice_of(msg, strlen(msg)));
	http_resp_puts(r, "}");
}

void api_snms_begin(http_resp *r)
{
	r->status = 200;
	r->content_type = "application/json";
	r->len = 0;
	http_resp_puts(r, "{\"status\":1,\"message\":\"success\",\"data\":");
}

void api_snms_end(http_resp *r)
{
	http_resp_puts(r, "}");
}

void api_peer_text(const http_req *req, char *out, size_t cap)
{
	out[0] = 0;
	if (!req->peer)
		return;
	if (req->peer->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)req->peer)->sin_addr, out,
		          (socklen_t)cap);
	else if (req->peer->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)req->peer)->sin6_addr, out,
		          (socklen_t)cap);
}

json_t *api_snms_body(const http_req *req, http_resp *r, bool empty_ok)
{
	if (empty_ok && req->body.len == 0)
		return json_object();
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)req->body.p, req->body.len, 0, &jerr);
	if (json_is_object(doc))
		return doc;
	char msg[256];
	if (doc)
		snprintf(msg, sizeof(msg), "expected a JSON object");
	else
		snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
		         jerr.column, jerr.text);
	json_decref(doc);
	api_snms_answer(r, 400, SNMS_BUSINESS, msg);
	return NULL;
}

const char *api_snms_field(json_t *doc, const char *key, bool required, size_t max, http_resp *r,
                           bool *bad)
{
	json_t *v = json_object_get(doc, key);
	if (*bad || (!v && !required))
		return NULL;
	const char *s = json_string_value(v);
	char msg[160];
	if (!v)
		snprintf(msg, sizeof(msg), "%s: missing", key);
	else if (!s)
		snprintf(msg, sizeof(msg), "%s: expected a string", key);
	else if (!*s && required)
		snprintf(msg, sizeof(msg), "%s: empty", key);
	else if (json_string_length(v) > max || strlen(s) != json_string_length(v))
		snprintf(msg, sizeof(msg), "%s: longer than %zu bytes, or holds a NUL", key, max);
	else
		return s;
	*bad = true;
	api_snms_answer(r, 400, SNMS_BUSINESS, msg);
	return NULL;
}

static int no_store(api_worker *w, http_resp *r)
{
	if (w->a->s && w->nw)
		return 0;
	api_snms_answer(r, 501, SNMS_INTERNAL, "this node has no store: no accounts");
	return -1;
}

static void storage_error(http_resp *r, int err)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "storage error: %s", idn_strerror(err));
	api_snms_answer(r, 500, SNMS_INTERNAL, msg);
}

/* ---- login ---- */

static int token_login(api_worker *w, const http_req *req, http_resp *r, bool v1)
{
	if (no_store(w, r))
		return 0;
	json_t *doc = api_snms_body(req, r, false);
	if (!doc)
		return 0;
	bool bad = false;
	const char *name = api_snms_field(doc, "username", true, ACCOUNT_NAME_MAX, r, &bad);
	const char *pw = api_snms_field(doc, "password", true, ACCOUNT_PASSWORD_MAX, r, &bad);
	if (bad) {
		json_decref(doc);
		return 0;
	}
	node_source src;
	node_source_of(req->peer, req->peer_len, &src);
	idn_slice who = idn_slice_of(name, strlen(name));
	uint32_t wait = w->a->n ? node_login_wait(w->a->n, &src, who, LOGIN_INDEX) : 0;
	if (wait) {
		json_decref(doc);
		snprintf(w->hdrs, sizeof(w->hdrs), "Retry-After: %u\r\n", wait);
		r->extra_headers = w->hdrs;
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "too many failed logins for this account from this address: retry in %u s",
		         wait);
		api_snms_answer(r, 429, SNMS_NOT_LOGGED_IN, msg);
		return 0;
	}
	store_txn *t;
	account a;
	char token[ACCOUNT_TOKEN_MAX + 1];
	int64_t now = now_ms();
	int ok = account_txn_begin(w->nw, false, &t);
	if (!ok) {
		ok = v1 ? account_check_v1(t, name, pw, strlen(pw), now, &a)
		        : account_check_password(t, name, pw, strlen(pw), &a);
		if (ok == 1)
			ok = account_token_issue(t, &a, w->a->token_life_s, now, token) ?: 1;
		account_txn_end(t, false, 0);
	}
	if (ok >= 0 && w->a->n)
		node_login_result(w->a->n, &src, who, LOGIN_INDEX, ok == 1);
	json_decref(doc); /* name (who) lives in it */
	if (ok < 0)
		storage_error(r, ok);
	else if (!ok)
		api_snms_answer(
		    r, 200, SNMS_NOT_LOGGED_IN,
		    v1 ? "wrong username or password (v1: sha256hex(sha256hex(password) + "
		         "\"yyyy-MM-dd\"), today's UTC date)"
		       : "wrong username or password");
	else {
		api_snms_begin(r);
		http_resp_printf(r, "{\"token\":\"%s\",\"expiresIn\":%u}", token,
		                 w->a->token_life_s);
		api_snms_end(r);
	}
	return 0;
}

int api_identity_token(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	return token_login(w, req, r, false);
}

int api_identity_token_v1(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	return token_login(w, req, r, true);
}

/* ---- the caller ---- */

int api_snms_auth(api_worker *w, const http_req *req, http_resp *r, api_caller *c)
{
	if (no_store(w, r))
		return 0;
	idn_slice v;
	if (!http_req_header(req, "authorization", &v) || v.len < 8 ||
	    strncasecmp((const char *)v.p, "Bearer ", 7)) {
		api_snms_answer(
		    r, 401, SNMS_NOT_LOGGED_IN,
		    "not logged in: send Authorization: Bearer <token> (POST /identity/token)");
		return 0;
	}
	const char *tok = (const char *)v.p + 7;
	size_t tl = v.len - 7;
	while (tl && *tok == ' ')
		tok++, tl--;
	store_txn *t;
	memset(c, 0, sizeof(*c));
	int ok = account_txn_begin(w->nw, false, &t);
	if (!ok) {
		ok = account_token_check(t, tok, tl, now_ms(), &c->acct);
		account_txn_end(t, false, 0);
	}
	if (ok < 0) {
		storage_error(r, ok);
		return 0;
	}
	if (!ok) {
		api_snms_answer(
		    r, 401, SNMS_NOT_LOGGED_IN,
		    "not logged in: the token is invalid, expired or revoked; log in again");
		return 0;
	}
	c->id.hlen = (uint32_t)strlen(c->acct.id_handle);
	memcpy(c->id.handle, c->acct.id_handle, c->id.hlen);
	c->id.index = c->acct.id_index;
	api_peer_text(req, c->from, sizeof(c->from));
	return 1;
}

int api_snms_need_operator(const api_caller *c, http_resp *r)
{
	if (c->acct.role == ACCOUNT_OPERATOR)
		return 1;
	api_snms_answer(r, 403, SNMS_NO_PERMISSION, "no permission: operators only");
	return 0;
}

bool api_caller_may(const api_caller *c, idn_slice h)
{
	return c->acct.role == ACCOUNT_OPERATOR || account_owns(&c->acct, (const char *)h.p, h.len);
}

void api_audit(api_worker *w, const http_req *req, const api_caller *c, const char *op,
               idn_slice target, int result, const char *msg)
{
	audit_entry e = {.result = result};
	if (c) {
		snprintf(e.who, sizeof(e.who), "%s", c->acct.name);
		snprintf(e.identity, sizeof(e.identity), "%u:%.200s", c->acct.id_index,
		         c->acct.id_handle);
	}
	snprintf(e.op, sizeof(e.op), "%s", op);
	snprintf(e.target, sizeof(e.target), "%.*s",
	         (int)(target.len < AUDIT_TEXT_MAX ? target.len : AUDIT_TEXT_MAX),
	         (const char *)target.p);
	snprintf(e.message, sizeof(e.message), "%s", msg ? msg : "");
	api_peer_text(req, e.from, sizeof(e.from));
	store_txn *t;
	int ret = w->nw ? account_txn_begin(w->nw, true, &t) : IDN_ENOTSUP;
	if (!ret)
		ret = account_txn_end(t, true, audit_append(t, &e, now_ms(), w->a->audit_days));
	if (ret)
		fprintf(stderr, "idnode: audit: %s %s by %s not recorded: %s\n", op, e.target,
		        e.who[0] ? e.who : "-", idn_strerror(ret));
}
