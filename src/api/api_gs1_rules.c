/*
 * api_gs1_rules.c - the GS1 mapping rules a node serves GS1 Digital Link
 * URIs with: the GS1.RULE values of the --gs1-registry records, resolved
 * like any identifier (through the resolver's cache on a gateway, so a
 * registry change is seen after its TTL), each "GCP [KEY] TEMPLATE". Who may
 * write such a record is its HS_ADMIN's business: an enterprise asks its
 * operator to add its rule. A value the rules cannot use is skipped and
 * logged once. Also the reverse for the labels: an identifier's GS1 Digital
 * Link URI. docs/gs1-resolver.md.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/reply.h"
#include "api/routes.h"
#include "core/err.h"

enum { RULE_TYPE_LEN = 8, LOGGED_MAX = 256 };
static const char rule_type[] = "GS1.RULE";

int api_gs1_registries(api *a, const char *const *reg, unsigned n)
{
	for (unsigned i = 0; i < a->ngs1_registry; i++)
		free(a->gs1_registry[i]);
	free(a->gs1_registry);
	a->gs1_registry = NULL;
	a->ngs1_registry = 0;
	if (!n)
		return 0;
	if (!(a->gs1_registry = calloc(n, sizeof(char *))))
		return IDN_ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const char *slash = strchr(reg[i], '/');
		if (!slash || slash == reg[i] || !slash[1] || strlen(reg[i]) > PROTO_HANDLE_MAX)
			return IDN_EINVAL;
		if (!(a->gs1_registry[i] = strdup(reg[i])))
			return IDN_ENOMEM;
		a->ngs1_registry++;
	}
	return 0;
}

static int rule_fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return -1;
}

/* Copies the next space-separated word of s[*i..n) into out (cap bytes); its length or -1. */
static int word(idn_slice s, size_t *i, char *out, size_t cap)
{
	while (*i < s.len && s.p[*i] == ' ')
		(*i)++;
	size_t b = *i;
	while (*i < s.len && s.p[*i] != ' ')
		(*i)++;
	size_t len = *i - b;
	if (!len || len >= cap)
		return -1;
	memcpy(out, s.p + b, len);
	out[len] = 0;
	return (int)len;
}

/* The first placeholder of tmpl naming a primary key AI, into key. */
static bool template_key(const char *tmpl, char key[GS1_AI_MAX + 1])
{
	for (const char *p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{')) {
		const char *e = strchr(p, '}');
		if (!e || e - p - 1 > GS1_AI_MAX || e - p - 1 < 2)
			continue;
		char ai[GS1_AI_MAX + 1] = {0};
		memcpy(ai, p + 1, (size_t)(e - p - 1));
		const gs1_ai *a = gs1_ai_find(ai);
		if (a && a->key) {
			memcpy(key, ai, sizeof(ai));
			return true;
		}
	}
	return false;
}

int api_gs1_rule_parse(idn_slice data, gs1_rule *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	char w[3][sizeof(r->tmpl)];
	size_t i = 0;
	int nw = 0;
	while (nw < 3 && word(data, &i, w[nw], sizeof(w[nw])) > 0)
		nw++;
	while (i < data.len && data.p[i] == ' ')
		i++;
	if (nw < 2 || i < data.len)
		return rule_fail(err, errlen,
		                 "expected \"GCP TEMPLATE\" or \"GCP KEY TEMPLATE\", e.g. "
		                 "\"9520123 88.100.1/01.{01}.21.{21}\"");
	/* (copied by length: the words are as long as a template, which gcc's
	 * -Wformat-truncation sees in a snprintf, not the check before it) */
	size_t len = strlen(w[0]);
	if (len >= sizeof(r->gcp))
		return rule_fail(err, errlen, "GCP: a GS1 company prefix is 1 to 12 digits");
	memcpy(r->gcp, w[0], len + 1);
	const char *tmpl = w[nw - 1];
	if (nw == 3) {
		len = strlen(w[1]);
		if (len > GS1_AI_MAX || len >= sizeof(r->key))
			return rule_fail(err, errlen, "KEY: not a GS1 primary key AI");
		memcpy(r->key, w[1], len + 1);
	} else if (!template_key(tmpl, r->key)) {
		return rule_fail(err, errlen,
		                 "the template names no GS1 primary key ({01}, {00}, {414}, ...)");
	}
	if (!strncmp(tmpl, API_GS1_SEARCH, sizeof(API_GS1_SEARCH) - 1)) {
		/* "GCP KEY search:PREFIX": checked as the rule "GCP KEY PREFIX/{KEY}" */
		const char *pfx = tmpl + sizeof(API_GS1_SEARCH) - 1;
		if (nw != 3 || !*pfx || strlen(pfx) > 200 ||
		    strspn(pfx, "0123456789.") != strlen(pfx))
			return rule_fail(err, errlen,
			                 "a search rule is \"GCP KEY search:PREFIX\", e.g. "
			                 "\"9520123 01 search:88.100.1\"");
		snprintf(r->tmpl, sizeof(r->tmpl), "%.200s/{%.8s}", pfx, r->key);
		if (gs1_rule_check(r, err, errlen))
			return -1;
	}
	if (!strncmp(tmpl, API_GS1_HANDLED_BY, sizeof(API_GS1_HANDLED_BY) - 1)) {
		/* "GCP KEY handledBy:URL": GCP and KEY checked as the rule "GCP KEY 0/{KEY}" */
		const char *url = tmpl + sizeof(API_GS1_HANDLED_BY) - 1;
		if (nw != 3 || !api_is_http_url(idn_slice_of(url, strlen(url))) ||
		    strchr(url, '?') || strchr(url, '#'))
			return rule_fail(err, errlen,
			                 "a handledBy rule is \"GCP KEY handledBy:URL\" with an "
			                 "absolute http(s) URL without query, e.g. \"9520123 01 "
			                 "handledBy:https://resolver.example.com\"");
		snprintf(r->tmpl, sizeof(r->tmpl), "0/{%.8s}", r->key);
		if (gs1_rule_check(r, err, errlen))
			return -1;
	}
	snprintf(r->tmpl, sizeof(r->tmpl), "%s", tmpl);
	return api_gs1_rule_is_search(r) || api_gs1_rule_handled_by(r)
	           ? 0
	           : gs1_rule_check(r, err, errlen);
}

const char *api_gs1_rule_handled_by(const gs1_rule *r)
{
	return strncmp(r->tmpl, API_GS1_HANDLED_BY, sizeof(API_GS1_HANDLED_BY) - 1)
	           ? NULL
	           : r->tmpl + sizeof(API_GS1_HANDLED_BY) - 1;
}

bool api_gs1_rule_is_search(const gs1_rule *r)
{
	return !strncmp(r->tmpl, API_GS1_SEARCH, sizeof(API_GS1_SEARCH) - 1);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* A bad value is logged once per process (by a hash of registry and value). */
static void log_once(const char *reg, idn_slice data, const char *why)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t logged[LOGGED_MAX];
	static unsigned nlogged;
	uint64_t h =
	    fnv(fnv(1469598103934665603ull, (const uint8_t *)reg, strlen(reg)), data.p, data.len);
	pthread_mutex_lock(&mu);
	bool seen = false;
	for (unsigned i = 0; i < nlogged && !seen; i++)
		seen = logged[i] == h;
	if (!seen && nlogged < LOGGED_MAX)
		logged[nlogged++] = h;
	pthread_mutex_unlock(&mu);
	if (!seen)
		fprintf(stderr, "gs1: %s: GS1.RULE \"%.*s\" skipped: %s\n", reg,
		        data.len > 200 ? 200 : (int)data.len, (const char *)data.p, why);
}

/* The rules a worker parsed last, and what they were parsed from (a hash of the values). */
struct api_gs1_cache {
	uint64_t hash;
	bool valid;
	uint32_t until; /* unix seconds: the registries' answers are good till then (TTL) */
	api_gs1_rules rules;
	void *scratch; /* api_gs1_scratch */
};

/* When ans (fetched at src.fetched, 0 = now) expires: its GS1.RULE values' shortest TTL. */
static uint32_t expiry(const api_answer *ans, uint32_t now)
{
	if (ans->rc != PROTO_RC_SUCCESS)
		return now;
	uint32_t from = ans->src.fetched ? ans->src.fetched : now, until = UINT32_MAX;
	proto_values_match rules = {.type = idn_slice_of(rule_type, RULE_TYPE_LEN)};
	proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
	proto_value v;
	while (proto_values_find(&it, &rules, &v) == 1) {
		uint32_t e = v.ttl_type ? v.ttl : from + v.ttl;
		until = e < until ? e : until;
	}
	return until == UINT32_MAX ? now : until;
}

void api_gs1_cache_free(api_worker *w)
{
	if (w->gs1)
		free(w->gs1->scratch);
	free(w->gs1);
	w->gs1 = NULL;
}

/* Parses the GS1.RULE values of one registry's answer into out (appended). */
static void rules_parse(const char *reg, const api_answer *ans, api_gs1_rules *out)
{
	proto_values_match rules = {.type = idn_slice_of(rule_type, RULE_TYPE_LEN)};
	proto_values_it it = proto_values_begin(ans->values, ans->nvalues);
	proto_value v;
	while (proto_values_find(&it, &rules, &v) == 1) {
		char err[256];
		if (out->n == API_GS1_RULES_MAX) {
			log_once(reg, v.data, "more than 64 rules in all");
			continue;
		}
		if (api_gs1_rule_parse(v.data, &out->r[out->n], err, sizeof(err))) {
			log_once(reg, v.data, err);
			continue;
		}
		out->n++;
	}
}

void *api_gs1_scratch(api_worker *w, size_t size)
{
	if (!w->gs1 && !(w->gs1 = calloc(1, sizeof(*w->gs1))))
		return NULL;
	if (!w->gs1->scratch)
		w->gs1->scratch = calloc(1, size);
	return w->gs1->scratch;
}

int api_gs1_rules_get(api_worker *w, const api_gs1_rules **out)
{
	if (!w->gs1 && !(w->gs1 = calloc(1, sizeof(*w->gs1))))
		return IDN_ENOMEM;
	struct api_gs1_cache *c = w->gs1;
	uint32_t now = (uint32_t)time(NULL), until = UINT32_MAX;
	*out = &c->rules;
	if (c->valid && now < c->until)
		return 0; /* what the resolver's cache would answer again */
	idn_slice want = idn_slice_of(rule_type, RULE_TYPE_LEN);
	uint64_t h = 1469598103934665603ull;
	bool parse = false;
	/* Two passes: the values' hash (each resolution a cache hit), then, if it changed, parse.
	 */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !(parse = !c->valid || c->hash != h))
			break;
		c->rules.n = pass == 1 ? 0 : c->rules.n;
		for (unsigned k = 0; k < w->a->ngs1_registry; k++) {
			const char *reg = w->a->gs1_registry[k];
			api_answer ans;
			int ret = api_resolve(w, idn_slice_of(reg, strlen(reg)), NULL, 0, &want, 1,
			                      false, &ans);
			if (ret)
				return ret;
			if (pass == 0 && expiry(&ans, now) < until)
				until = expiry(&ans, now);
			if (pass == 0)
				h = fnv(fnv(h, (const uint8_t *)&ans.rc, sizeof(ans.rc)),
				        ans.values.p,
				        ans.rc == PROTO_RC_SUCCESS ? ans.values.len : 0);
			else if (ans.rc != PROTO_RC_SUCCESS)
				log_once(reg, idn_slice_of("", 0),
				         "the registry record did not resolve");
			else
				rules_parse(reg, &ans, &c->rules);
		}
	}
	if (parse) {
		c->hash = h;
		c->valid = true;
	}
	c->until = until;
	return 0;
}

int api_gs1_uri_of(api_worker *w, idn_slice handle, const char *base, char *out, size_t cap,
                   char *err, size_t errlen)
{
	const api_gs1_rules *rs;
	int ret = api_gs1_rules_get(w, &rs);
	char h[PROTO_HANDLE_MAX + 1];
	if (!ret && handle.len >= sizeof(h))
		ret = rule_fail(err, errlen, "the identifier is too long");
	if (ret)
		return ret;
	memcpy(h, handle.p, handle.len);
	h[handle.len] = 0;
	gs1_dl *dl = calloc(1, sizeof(*dl));
	ret = dl ? -1 : IDN_ENOMEM;
	bool bad_value = false;
	for (int i = 0; dl && i < rs->n && ret == -1; i++) {
		int m = gs1_rule_match(&rs->r[i], h, dl, err, errlen);
		if (m < 0) {
			bad_value = true;
			break;
		}
		if (m == 0)
			continue;
		size_t bl = strlen(base);
		while (bl && base[bl - 1] == '/')
			bl--;
		snprintf(dl->stem, sizeof(dl->stem), "%.*s", (int)bl, base);
		ret = gs1_dl_build(dl, out, cap) < 0
		          ? rule_fail(err, errlen, "the GS1 Digital Link URI is too long")
		          : 0;
	}
	if (ret == -1 && !bad_value)
		snprintf(err, errlen, "no GS1 rule of the registries (%u) matches this identifier",
		         w->a->ngs1_registry);
	free(dl);
	return ret;
}
