/*
 * api_snms_search.c - GET /identityv2/data/search (snms.h): the management
 * API's search, idnode's own (IDIS.md §4 names none): the identifiers whose
 * values match every term, run through the search index as the caller's
 * identity (so it finds only what that identity may read, node/search.h),
 * restricted to the caller's prefixes for an enterprise account.
 *
 *   ?term=model=YE3-7      repeatable (at most 8): type=value, type=head*,
 *   &term=made>=2026-01-01 type=*, type>=date, type<=date (docs/search.md)
 *   &prefix=88.100.7       optional; an enterprise's own prefix by default
 *   &pageSize=100          1..10000
 *   &cursor=...            the "next" of the page before
 *
 * Answer: {"status":1,"message":"success","data":{"handles":[..],"next":..}}
 * (next null on the last page).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_search.h"
#include "api/snms.h"
#include "core/err.h"

enum { TERM_TEXT_MAX = 1024 };

typedef struct sq {
	search_query q;
	uint8_t text[SEARCH_TERMS_MAX][TERM_TEXT_MAX];
	size_t nt;
	uint8_t prefix[128];
	int plen;
	char why[SNMS_MSG_MAX];
} sq;

static int sq_param(void *arg, idn_slice name, idn_slice value)
{
	sq *s = arg;
	char why[SEARCH_WHY_MAX];
	if (api_name_is(name, "term")) {
		if (s->nt == SEARCH_TERMS_MAX) {
			snprintf(s->why, sizeof(s->why), "term: at most %d terms",
			         SEARCH_TERMS_MAX);
			return 1;
		}
		int n = api_pct_decode(value, true, s->text[s->nt], TERM_TEXT_MAX);
		if (n <= 0) {
			snprintf(s->why, sizeof(s->why), "term: empty, malformed or over %d bytes",
			         TERM_TEXT_MAX);
			return 1;
		}
		if (search_add_term(&s->q, idn_slice_of(s->text[s->nt], (size_t)n), why)) {
			snprintf(s->why, sizeof(s->why), "term: %s", why);
			return 1;
		}
		s->nt++;
	} else if (api_name_is(name, "prefix")) {
		s->plen = api_pct_decode(value, true, s->prefix, sizeof(s->prefix));
		if (s->plen <= 0) {
			snprintf(s->why, sizeof(s->why), "prefix: empty, malformed or too long");
			return 1;
		}
	} else if (api_name_is(name, "pageSize")) {
		char buf[16], *end;
		int n = api_pct_decode(value, true, (uint8_t *)buf, sizeof(buf) - 1);
		long x = n > 0 ? (buf[n] = 0, strtol(buf, &end, 10)) : 0;
		if (n <= 0 || *end || x < 1 || x > SEARCH_LIMIT_MAX) {
			snprintf(s->why, sizeof(s->why), "pageSize: expected 1..%d",
			         SEARCH_LIMIT_MAX);
			return 1;
		}
		s->q.limit = (uint32_t)x;
	} else if (api_name_is(name, "cursor")) {
		uint8_t buf[API_SEARCH_CURSOR_MAX];
		int n = api_pct_decode(value, true, buf, sizeof(buf));
		if (n <= 0 || api_search_cursor_set(&s->q, idn_slice_of(buf, (size_t)n))) {
			snprintf(s->why, sizeof(s->why), "cursor: not one a page gave");
			return 1;
		}
	}
	return 0;
}

/* The search's error answer (reference shape) again as an SNMS one. */
static void resay(http_resp *r)
{
	int status = r->status == 400 ? SNMS_BUSINESS : SNMS_INTERNAL;
	json_t *e = json_loadb((const char *)r->body, r->len, 0, NULL);
	const char *m = json_string_value(json_object_get(e, "message"));
	snms_fail(r, status, "search: %s", m ? m : "failed");
	json_decref(e);
}

/* Collected identifiers (snms_search_keys). */
typedef struct keys {
	char **k;
	size_t n, cap;
} keys;

static int key_hit(void *arg, idn_slice id)
{
	keys *ks = arg;
	if (ks->n == ks->cap)
		return 1;
	if (!(ks->k[ks->n] = strndup((const char *)id.p, id.len)))
		return IDN_ENOMEM;
	ks->n++;
	return 0;
}

int snms_search_keys(api_worker *w, const snms_caller *c, idn_slice term, idn_slice prefix,
                     size_t max, char ***out, size_t *n, http_resp *r)
{
	char why[SEARCH_WHY_MAX];
	search_query q;
	search_query_init(&q);
	q.limit = (uint32_t)max;
	keys ks = {calloc(max ? max : 1, sizeof(char *)), 0, max};
	*out = NULL;
	*n = 0;
	if (!ks.k)
		return IDN_ENOMEM;
	if (search_add_term(&q, term, why) || search_set_prefix(&q, prefix, why)) {
		snms_fail(r, SNMS_BUSINESS, "prefix: %s", why);
		free(ks.k);
		return 1;
	}
	search_page pg;
	if (api_search_run(w, idn_slice_of(c->id.handle, c->id.hlen), c->id.index, &q, key_hit, &ks,
	                   &pg, r)) {
		resay(r);
		for (size_t i = 0; i < ks.n; i++)
			free(ks.k[i]);
		free(ks.k);
		return 1;
	}
	*out = ks.k;
	*n = ks.n;
	return 0;
}

int snms_search(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	snms_caller c;
	int ret = snms_auth(w, req, r, &c);
	if (ret <= 0)
		return ret;
	sq *s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	search_query_init(&s->q);
	if (api_query_each(req->query, sq_param, s)) {
		snms_fail(r, SNMS_BUSINESS, "%s", s->why);
		goto out;
	}
	if (!s->nt) {
		snms_fail(r, SNMS_BUSINESS,
		          "term: give at least one (type=value, type=head*, ...)");
		goto out;
	}
	idn_slice prefix = idn_slice_of(s->prefix, s->plen > 0 ? (size_t)s->plen : 0);
	if (!prefix.len && c.acct.role == ACCOUNT_ENTERPRISE && c.acct.nprefixes == 1)
		prefix = idn_slice_of(c.acct.prefixes[0], strlen(c.acct.prefixes[0]));
	if (!prefix.len && c.acct.role == ACCOUNT_ENTERPRISE) {
		snms_fail(r, SNMS_BUSINESS, "prefix: name one of this account's prefixes");
		goto out;
	}
	char why[SEARCH_WHY_MAX];
	if (prefix.len && !snms_may(&c, prefix, r))
		goto out;
	if (prefix.len && search_set_prefix(&s->q, prefix, why)) {
		snms_fail(r, SNMS_BUSINESS, "prefix: %s", why);
		goto out;
	}
	search_page pg;
	api_search_hits h = {r, 0};
	snms_ok_begin(r);
	http_resp_puts(r, "{\"handles\":[");
	if (api_search_run(w, idn_slice_of(c.id.handle, c.id.hlen), c.id.index, &s->q,
	                   api_search_hit_json, &h, &pg, r)) {
		resay(r);
		goto out;
	}
	http_resp_puts(r, "],\"next\":");
	if (pg.more) {
		char next[API_SEARCH_CURSOR_MAX];
		api_search_cursor(&pg, next);
		http_resp_printf(r, "\"%s\"", next);
	} else {
		http_resp_puts(r, "null");
	}
	http_resp_puts(r, "}}");
out:
	free(s);
	return ret;
}
