/*
 * trust.c - HS_CERT / HS_SIGNATURE claims, value digests and the chain walk
 * from a record's signature to the trust root (see trust.h for the rules).
 */
#include "auth/trust.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/jws.h"
#include "core/codec.h"
#include "core/err.h"
#include "proto/proto.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return IDN_EINVAL;
}

/* ---- claims ---- */

static const char *const perm_names[] = {NULL, "everything", "derivedPrefixes",
                                         "handlesUnderThisPrefix", "thisHandle"};

const char *trust_perm_name(enum trust_perm_kind k)
{
	return k >= TRUST_PERM_EVERYTHING && k <= TRUST_PERM_THIS_HANDLE ? perm_names[k] : NULL;
}

enum trust_perm_kind trust_perm_of(const char *name)
{
	for (int k = TRUST_PERM_EVERYTHING; k <= TRUST_PERM_THIS_HANDLE; k++)
		if (!strcmp(perm_names[k], name))
			return (enum trust_perm_kind)k;
	return 0;
}

/* An optional string member: copied into *out; absent or null leaves NULL. */
static int opt_str(json_t *o, const char *k, char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, k);
	*out = NULL;
	if (!v || json_is_null(v))
		return IDN_OK;
	if (!json_is_string(v))
		return fail(err, errlen, "claim \"%s\" is not a string", k);
	if (!(*out = strdup(json_string_value(v))))
		return IDN_ENOMEM;
	return IDN_OK;
}

static int opt_time(json_t *o, const char *k, bool *has, int64_t *t, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, k);
	*has = false;
	if (!v || json_is_null(v))
		return IDN_OK;
	if (!json_is_integer(v))
		return fail(err, errlen, "claim \"%s\" is not an integer", k);
	*has = true;
	*t = json_integer_value(v);
	return IDN_OK;
}

static int parse_chain(json_t *o, trust_claims *c, char *err, size_t errlen)
{
	json_t *a = json_object_get(o, "chain");
	if (!a || json_is_null(a))
		return IDN_OK;
	if (!json_is_array(a) || json_array_size(a) > TRUST_MAX_LINKS * 2)
		return fail(err, errlen, "claim \"chain\" is not a list of at most %d links",
		            TRUST_MAX_LINKS * 2);
	size_t n = json_array_size(a);
	if (n && !(c->chain = calloc(n, sizeof *c->chain)))
		return IDN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (!s)
			return fail(err, errlen, "claim \"chain\" entry %zu is not a string", i);
		if (!(c->chain[i] = strdup(s)))
			return IDN_ENOMEM;
		c->nchain++;
	}
	return IDN_OK;
}

static int parse_perms(json_t *o, trust_claims *c, char *err, size_t errlen)
{
	json_t *a = json_object_get(o, "perms");
	if (!a || json_is_null(a))
		return IDN_OK;
	if (!json_is_array(a) || json_array_size(a) > TRUST_MAX_PERMS)
		return fail(err, errlen, "claim \"perms\" is not a list of at most %d entries",
		            TRUST_MAX_PERMS);
	size_t n = json_array_size(a);
	if (n && !(c->perms = calloc(n, sizeof *c->perms)))
		return IDN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);
		const char *h = json_string_value(json_object_get(e, "handle"));
		const char *p = json_string_value(json_object_get(e, "perm"));
		if (!json_is_object(e) || !h || !p)
			return fail(err, errlen, "claim \"perms\" entry %zu lacks handle or perm",
			            i);
		if (!(c->perms[i].kind = trust_perm_of(p)))
			return fail(err, errlen,
			            "claim \"perms\" entry %zu: unknown perm \"%.40s\"", i, p);
		if (!(c->perms[i].handle = strdup(h)))
			return IDN_ENOMEM;
		c->nperms++;
	}
	return IDN_OK;
}

static int parse_digests(json_t *o, trust_claims *c, char *err, size_t errlen)
{
	json_t *d = json_object_get(o, "digests");
	if (!d || json_is_null(d))
		return IDN_OK;
	const char *alg = json_string_value(json_object_get(d, "alg"));
	json_t *a = json_object_get(d, "digests");
	if (!json_is_object(d) || !alg || !json_is_array(a))
		return fail(err, errlen, "claim \"digests\" is not {alg, digests:[...]}");
	size_t n = json_array_size(a);
	if (n > TRUST_MAX_DIGESTS)
		return fail(err, errlen, "claim \"digests\" has more than %d entries",
		            TRUST_MAX_DIGESTS);
	if (!(c->digest_alg = strdup(alg)) || (n && !(c->digests = calloc(n, sizeof *c->digests))))
		return IDN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);
		json_t *ix = json_object_get(e, "index");
		const char *dg = json_string_value(json_object_get(e, "digest"));
		if (!json_is_integer(ix) || json_integer_value(ix) < 0 ||
		    json_integer_value(ix) > UINT32_MAX || !dg)
			return fail(err, errlen,
			            "claim \"digests\" entry %zu lacks index or digest", i);
		c->digests[i].index = (uint32_t)json_integer_value(ix);
		if (!(c->digests[i].digest = strdup(dg)))
			return IDN_ENOMEM;
		c->ndigests++;
	}
	return IDN_OK;
}

static int parse_members(json_t *o, trust_claims *c, char *err, size_t errlen)
{
	int rc;
	if ((rc = opt_str(o, "iss", &c->iss, err, errlen)) ||
	    (rc = opt_str(o, "sub", &c->sub, err, errlen)) ||
	    (rc = opt_str(o, "content", &c->content, err, errlen)) ||
	    (rc = opt_time(o, "iat", &c->has_iat, &c->iat, err, errlen)) ||
	    (rc = opt_time(o, "nbf", &c->has_nbf, &c->nbf, err, errlen)) ||
	    (rc = opt_time(o, "exp", &c->has_exp, &c->exp, err, errlen)) ||
	    (rc = parse_chain(o, c, err, errlen)) || (rc = parse_perms(o, c, err, errlen)) ||
	    (rc = parse_digests(o, c, err, errlen)))
		return rc;
	json_t *pk = json_object_get(o, "publicKey");
	if (pk && !json_is_null(pk)) {
		char why[200];
		if ((rc = jwk_parse(pk, &c->pubkey, why, sizeof why)))
			return fail(err, errlen, "claim \"publicKey\": %s", why);
	}
	if (!c->iss || !c->sub)
		return fail(err, errlen, "claims lack \"%s\"", c->iss ? "sub" : "iss");
	return IDN_OK;
}

int trust_claims_parse(const uint8_t *text, size_t len, trust_claims *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	json_error_t je;
	json_t *o = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
	int rc;
	if (!o)
		rc = fail(err, errlen, "claims are not JSON: %s", je.text);
	else if (!json_is_object(o))
		rc = fail(err, errlen, "claims are not a JSON object");
	else
		rc = parse_members(o, c, err, errlen);
	json_decref(o);
	if (rc)
		trust_claims_free(c);
	return rc;
}

void trust_claims_free(trust_claims *c)
{
	free(c->iss);
	free(c->sub);
	free(c->content);
	for (size_t i = 0; i < c->nchain; i++)
		free(c->chain[i]);
	free(c->chain);
	for (size_t i = 0; i < c->nperms; i++)
		free(c->perms[i].handle);
	free(c->perms);
	EVP_PKEY_free(c->pubkey);
	free(c->digest_alg);
	for (size_t i = 0; i < c->ndigests; i++)
		free(c->digests[i].digest);
	free(c->digests);
	memset(c, 0, sizeof *c);
}

/* ---- handles and permissions ---- */

const char *trust_link_handle(const char *link, uint32_t *index)
{
	const char *colon = strchr(link, ':');
	uint64_t v = 0;
	*index = 0;
	if (!colon || colon == link)
		return link;
	for (const char *p = link; p < colon; p++) {
		if (*p < '0' || *p > '9' || (v = v * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
			return link;
	}
	*index = (uint32_t)v;
	return colon + 1;
}

/* a and b equal, the prefix part (up to the first '/') ignoring ASCII case. */
static bool eq_prefix_ci(const char *a, const char *b)
{
	const char *sa = strchr(a, '/'), *sb = strchr(b, '/');
	size_t pa = sa ? (size_t)(sa - a) : strlen(a), pb = sb ? (size_t)(sb - b) : strlen(b);
	if (pa != pb || strncasecmp(a, b, pa))
		return false;
	return !strcmp(a + pa, b + pb);
}

/* "N:handle" references of one identity: the same handle and, when both name one, index. */
static bool same_ref(const char *a, const char *b)
{
	uint32_t ia, ib;
	const char *ha = trust_link_handle(a, &ia), *hb = trust_link_handle(b, &ib);
	return eq_prefix_ci(ha, hb) && (!ia || !ib || ia == ib);
}

static bool starts_ci(const char *s, const char *pre, size_t n)
{
	return strlen(s) >= n && !strncasecmp(s, pre, n);
}

/* handle's prefix is the one that the 0.NA/ handle prefix names. */
static bool under_prefix(const char *handle, const char *prefix)
{
	if (!starts_ci(prefix, "0.NA/", 5))
		return false;
	const char *actual = prefix + 5;
	size_t n = strlen(actual);
	return starts_ci(handle, actual, n) && handle[n] == '/';
}

/* handle is a 0.NA/ handle below ancestor ("0.NA/88.111" -> "0.NA/88.111.5"). */
static bool derived_from(const char *handle, const char *ancestor)
{
	size_t n = strlen(ancestor);
	return starts_ci(handle, "0.NA/", 5) && starts_ci(handle, ancestor, n) && handle[n] == '.';
}

bool trust_perms_cover(const trust_perm *perms, size_t n, const char *handle)
{
	const char *slash = strchr(handle, '/');
	char zero_na[600];
	snprintf(zero_na, sizeof zero_na, "0.NA/%.*s", (int)(slash ? slash - handle : 0), handle);
	for (size_t i = 0; i < n; i++) {
		const char *p = perms[i].handle;
		switch (perms[i].kind) {
		case TRUST_PERM_EVERYTHING:
			return true;
		case TRUST_PERM_THIS_HANDLE:
			if (eq_prefix_ci(handle, p) || under_prefix(handle, p))
				return true;
			break;
		case TRUST_PERM_DERIVED_PREFIXES:
			if (derived_from(handle, p) || (slash && derived_from(zero_na, p)))
				return true;
			break;
		case TRUST_PERM_HANDLES_UNDER_PREFIX:
			if (under_prefix(handle, p))
				return true;
			break;
		}
	}
	return false;
}

/* ---- value digests ---- */

static const EVP_MD *digest_md(const char *alg)
{
	if (!strcasecmp(alg, "SHA-256") || !strcasecmp(alg, "SHA256"))
		return EVP_sha256();
	if (!strcasecmp(alg, "SHA-1") || !strcasecmp(alg, "SHA1"))
		return EVP_sha1();
	if (!strcasecmp(alg, "SHA-384") || !strcasecmp(alg, "SHA384"))
		return EVP_sha384();
	if (!strcasecmp(alg, "SHA-512") || !strcasecmp(alg, "SHA512"))
		return EVP_sha512();
	if (!strcasecmp(alg, "SM3"))
		return EVP_sm3();
	return NULL;
}

int trust_value_digest(idn_slice encoded, const char *alg, char *out, size_t cap)
{
	const EVP_MD *md = digest_md(alg);
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	if (!md)
		return IDN_ENOTSUP;
	if (encoded.len < 8)
		return IDN_EINVAL;
	if (EVP_Digest(encoded.p + 8, encoded.len - 8, d, &dl, md, NULL) != 1)
		return IDN_ECRYPTO;
	if (cap < codec_base64_len(dl) + 1)
		return IDN_ESPACE;
	codec_base64_encode(d, dl, out);
	return IDN_OK;
}

/* ---- verification ---- */

static const char *const code_names[] = {
    "verified",       "no signature",  "malformed",  "digest",        "missing value",
    "unsigned value", "bad signature", "expired",    "not yet valid", "permission",
    "loop",           "too long",      "wrong root", "broken chain",  "fetch"};

const char *trust_code_name(enum trust_code c)
{
	return (unsigned)c < sizeof code_names / sizeof code_names[0] ? code_names[c] : "?";
}

static enum trust_code result(trust_result *r, enum trust_code c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum trust_code result(trust_result *r, enum trust_code c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
	r->code = c;
	return c;
}

static bool is_type(const proto_value *v, const char *t)
{
	return v->type.len == strlen(t) && !strncasecmp((const char *)v->type.p, t, v->type.len);
}

/* One link: a parsed JWS and its claims. */
typedef struct link {
	jws j;
	trust_claims c;
} link;

static void link_free(link *l)
{
	jws_free(&l->j);
	trust_claims_free(&l->c);
}

static int link_parse(const char *text, size_t len, link *l, char *err, size_t errlen)
{
	memset(l, 0, sizeof *l);
	int rc = jws_parse(text, len, &l->j, err, errlen);
	if (!rc && (rc = trust_claims_parse(l->j.payload, l->j.payload_len, &l->c, err, errlen)))
		jws_free(&l->j);
	return rc;
}

/* Checks every digest of the signature against values, and that every other value is covered. */
static enum trust_code check_digests(const trust_claims *c, idn_slice values, uint32_t n,
                                     bool require_all, trust_result *r)
{
	if (!c->digest_alg)
		return result(r, TRUST_MALFORMED, "the signature has no \"digests\"");
	if (!digest_md(c->digest_alg))
		return result(r, TRUST_MALFORMED, "digest algorithm \"%.40s\" is not supported",
		              c->digest_alg);
	for (size_t i = 0; i < c->ndigests; i++) {
		proto_values_it it = proto_values_begin(values, n);
		proto_value v;
		int found = 0;
		while (!found && proto_values_next(&it, &v) == 1)
			found = v.index == c->digests[i].index;
		if (!found)
			return result(r, TRUST_MISSING, "value %u is signed but not in the record",
			              c->digests[i].index);
		char d[100];
		trust_value_digest(it.raw, c->digest_alg, d, sizeof d);
		if (strcmp(d, c->digests[i].digest))
			return result(r, TRUST_DIGEST,
			              "digest of value %u (%.*s) does not match the signature: "
			              "the value changed after signing",
			              v.index, (int)v.type.len, (const char *)v.type.p);
		r->nsigned++;
	}
	if (!r->nsigned)
		return result(r, TRUST_UNSIGNED, "the signature covers no value");
	proto_values_it it = proto_values_begin(values, n);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		if (is_type(&v, "HS_SIGNATURE") || is_type(&v, "HS_CERT"))
			continue;
		size_t i = 0;
		while (i < c->ndigests && c->digests[i].index != v.index)
			i++;
		if (i < c->ndigests)
			continue;
		if (require_all)
			return result(r, TRUST_UNSIGNED,
			              "value %u (%.*s) is not covered by the signature", v.index,
			              (int)v.type.len, (const char *)v.type.p);
		size_t at = strlen(r->unsigned_list);
		if (at + 60 < sizeof r->unsigned_list)
			snprintf(r->unsigned_list + at, sizeof r->unsigned_list - at, "%s%u (%.*s)",
			         r->nunsigned ? ", " : "", v.index,
			         (int)(v.type.len > 32 ? 32 : v.type.len), (const char *)v.type.p);
		else if (!strstr(r->unsigned_list, "..."))
			strcat(r->unsigned_list, ", ...");
		r->nunsigned++;
	}
	return TRUST_OK;
}

/* "the signature" / "certificate N (SUB)" for messages. */
static const char *link_name(int i, const trust_claims *c, char *buf, size_t cap)
{
	if (i == 0)
		snprintf(buf, cap, "the signature (by %.200s)", c->iss);
	else
		snprintf(buf, cap, "certificate %d (%.200s, issued by %.200s)", i, c->sub, c->iss);
	return buf;
}

static enum trust_code check_time(const trust_ctx *t, int i, const trust_claims *c, trust_result *r)
{
	char nm[500];
	if (c->has_exp && (!r->expires || c->exp < r->expires))
		r->expires = c->exp;
	if (c->has_exp && t->now > c->exp)
		return result(r, TRUST_EXPIRED, "%s expired at %lld (now %lld)",
		              link_name(i, c, nm, sizeof nm), (long long)c->exp, (long long)t->now);
	if (c->has_nbf && t->now < c->nbf)
		return result(r, TRUST_NOT_YET_VALID, "%s is not valid before %lld (now %lld)",
		              link_name(i, c, nm, sizeof nm), (long long)c->nbf, (long long)t->now);
	return TRUST_OK;
}

/*
 * Finds the HS_CERT that link names among vals: the one at its index, or
 * the latest (by iat) whose sub is issuer. 1 found (into *out), 0 none.
 */
static int find_cert(idn_slice vals, uint32_t n, uint32_t index, const char *issuer, link *out)
{
	proto_values_it it = proto_values_begin(vals, n);
	proto_value v;
	int found = 0;
	while (proto_values_next(&it, &v) == 1) {
		if (!is_type(&v, "HS_CERT") || (index && v.index != index))
			continue;
		link l;
		if (link_parse((const char *)v.data.p, v.data.len, &l, NULL, 0))
			continue;
		bool later = !found || (l.c.has_iat && (!out->c.has_iat || l.c.iat > out->c.iat));
		if ((index || same_ref(l.c.sub, issuer)) && later) {
			if (found)
				link_free(out);
			*out = l;
			found = 1;
		} else {
			link_free(&l);
		}
	}
	return found;
}

/* The walk's state: the links still to follow from a `chain` list, and the links seen. */
typedef struct walk {
	const trust_ctx *t;
	const char *handle;
	char *pending[TRUST_MAX_LINKS * 2];
	size_t npending, next;
	char *seen[TRUST_MAX_LINKS + 2];
	size_t nseen;
} walk;

static void walk_free(walk *w)
{
	for (size_t i = 0; i < w->npending; i++)
		free(w->pending[i]);
	for (size_t i = 0; i < w->nseen; i++)
		free(w->seen[i]);
}

/* The next link to follow from cur (its chain, or its issuer); malloc'd. */
static char *next_link(walk *w, const trust_claims *cur)
{
	if (w->next == w->npending && cur->nchain) {
		for (size_t i = 0; i < w->npending; i++)
			free(w->pending[i]);
		w->npending = w->next = 0;
		for (size_t i = 0; i < cur->nchain && i < TRUST_MAX_LINKS * 2; i++)
			if ((w->pending[i] = strdup(cur->chain[i])))
				w->npending++;
	}
	if (w->next < w->npending)
		return strdup(w->pending[w->next++]);
	uint32_t ix;
	return strdup(trust_link_handle(cur->iss, &ix));
}

/* Fetches and parses the parent certificate of cur (link number i). */
static enum trust_code fetch_parent(walk *w, int i, const link *cur, link *parent, trust_result *r)
{
	char nm[500];
	char *lk = next_link(w, &cur->c);
	if (!lk)
		return result(r, TRUST_FETCH, "out of memory");
	for (size_t k = 0; k < w->nseen; k++)
		if (eq_prefix_ci(w->seen[k], lk)) {
			result(r, TRUST_LOOP, "loop in the chain: %.200s is met twice (above %s)",
			       lk, link_name(i, &cur->c, nm, sizeof nm));
			free(lk);
			return r->code;
		}
	w->seen[w->nseen++] = lk;
	uint32_t index;
	const char *h = trust_link_handle(lk, &index);
	uint8_t *vals = NULL;
	size_t len = 0;
	uint32_t n = 0;
	char err[200] = "";
	int rc = w->t->fetch(w->t->fetch_arg, h, &vals, &len, &n, err, sizeof err);
	if (rc == IDN_ENOTFOUND)
		return result(r, TRUST_BROKEN, "broken chain: %.200s (issuer of %s) does not exist",
		              h, link_name(i, &cur->c, nm, sizeof nm));
	if (rc)
		return result(r, TRUST_FETCH, "cannot resolve %.200s: %s", h,
		              err[0] ? err : idn_strerror(rc));
	int found = find_cert(idn_slice_of(vals, len), n, index, cur->c.iss, parent);
	free(vals);
	if (!found)
		return result(r, TRUST_BROKEN, "broken chain: no HS_CERT about %.200s at %.200s",
		              cur->c.iss, lk);
	if (!same_ref(parent->c.sub, cur->c.iss)) {
		result(r, TRUST_BROKEN,
		       "broken chain: the certificate at %.200s is about %.200s, not %.200s", lk,
		       parent->c.sub, cur->c.iss);
		link_free(parent);
		return r->code;
	}
	return TRUST_OK;
}

/* Checks cur (link i) against its issuer's certificate parent. */
static enum trust_code check_issued(walk *w, int i, const link *cur, const link *parent,
                                    trust_result *r)
{
	char nm[500];
	char why[200];
	if (!parent->c.pubkey)
		return result(r, TRUST_MALFORMED, "the certificate of %.200s has no publicKey",
		              parent->c.sub);
	if (jws_verify(&cur->j, parent->c.pubkey, why, sizeof why))
		return result(r, TRUST_BAD_SIGNATURE,
		              "%s does not verify with the key of %.200s: %s",
		              link_name(i, &cur->c, nm, sizeof nm), parent->c.sub, why);
	uint32_t ix;
	const char *subject = trust_link_handle(cur->c.sub, &ix);
	const char *not_covered =
	    !trust_perms_cover(parent->c.perms, parent->c.nperms, w->handle) ? w->handle
	    : !trust_perms_cover(parent->c.perms, parent->c.nperms, subject) ? subject
	                                                                     : NULL;
	if (not_covered)
		return result(r, TRUST_PERMISSION,
		              "permission: the certificate of %.200s does not cover %.200s (%s)",
		              parent->c.sub, not_covered, link_name(i, &cur->c, nm, sizeof nm));
	return TRUST_OK;
}

/* The end of the walk: cur's issuer is the root; it must verify with the root key. */
static enum trust_code check_root(const trust_ctx *t, int i, const link *cur, trust_result *r)
{
	char nm[500], why[200];
	if (!t->root_key || jws_verify(&cur->j, t->root_key, why, sizeof why))
		return result(r, TRUST_WRONG_ROOT,
		              "wrong root: %s is not signed by the trusted root key of %.200s",
		              link_name(i, &cur->c, nm, sizeof nm), cur->c.iss);
	return TRUST_OK;
}

static enum trust_code walk_chain(walk *w, link *first, trust_result *r)
{
	const trust_ctx *t = w->t;
	const char *root = t->root_handle ? t->root_handle : TRUST_ROOT_HANDLE;
	unsigned max =
	    t->max_links && t->max_links < TRUST_MAX_LINKS ? t->max_links : TRUST_MAX_LINKS;
	link cur = *first, parent;
	memset(first, 0, sizeof *first);
	enum trust_code c = TRUST_OK;
	for (int i = 0;; i++) {
		r->link = i;
		uint32_t ix;
		if ((c = check_time(t, i, &cur.c, r)))
			break;
		if (eq_prefix_ci(trust_link_handle(cur.c.iss, &ix), root)) {
			c = check_root(t, i, &cur, r);
			break;
		}
		if (!strcmp(cur.c.sub, cur.c.iss)) {
			c = result(r, TRUST_WRONG_ROOT,
			           "wrong root: the chain ends at self-issued %.200s, not the "
			           "trust root %.200s",
			           cur.c.sub, root);
			break;
		}
		if ((unsigned)i >= max) {
			c = result(r, TRUST_TOO_LONG, "chain longer than %u certificates", max);
			break;
		}
		if ((c = fetch_parent(w, i, &cur, &parent, r)))
			break;
		r->nlinks++;
		c = check_issued(w, i, &cur, &parent, r);
		link_free(&cur);
		cur = parent;
		if (c) {
			r->link = i + 1;
			break;
		}
	}
	link_free(&cur);
	return c;
}

enum trust_code trust_verify_signature(const trust_ctx *t, const char *handle, idn_slice values,
                                       uint32_t n, const char *text, size_t len, trust_result *r)
{
	link sig;
	char why[300];
	memset(r, 0, sizeof *r);
	if (link_parse(text, len, &sig, why, sizeof why))
		return result(r, TRUST_MALFORMED, "the signature cannot be read: %s", why);
	snprintf(r->signer, sizeof r->signer, "%s", sig.c.iss);
	uint32_t ix;
	enum trust_code c;
	if (!eq_prefix_ci(trust_link_handle(sig.c.sub, &ix), handle))
		c = result(r, TRUST_MALFORMED, "the signature is about %.200s, not %.200s",
		           sig.c.sub, handle);
	else
		c = check_digests(&sig.c, values, n, t->require_all, r);
	if (!c) {
		walk w = {.t = t, .handle = handle};
		c = walk_chain(&w, &sig, r);
		walk_free(&w);
	}
	link_free(&sig);
	if (!c)
		snprintf(r->msg, sizeof r->msg,
		         "verified: %u values signed by %.200s, %u certificates up to the trust "
		         "root%s%s",
		         r->nsigned, r->signer, r->nlinks,
		         r->nunsigned ? "; not covered by the signature: " : "", r->unsigned_list);
	return c;
}

enum trust_code trust_verify_record(const trust_ctx *t, const char *handle, idn_slice values,
                                    uint32_t n, trust_result *r)
{
	proto_values_it it = proto_values_begin(values, n);
	proto_value v, best = {0};
	link l;
	bool found = false, best_iat = false;
	int64_t iat = 0;
	uint32_t ix;
	while (proto_values_next(&it, &v) == 1) {
		if (!is_type(&v, "HS_SIGNATURE") ||
		    link_parse((const char *)v.data.p, v.data.len, &l, NULL, 0))
			continue;
		if (eq_prefix_ci(trust_link_handle(l.c.sub, &ix), handle) &&
		    (!found || (l.c.has_iat && (!best_iat || l.c.iat > iat)))) {
			best = v;
			found = true;
			best_iat = l.c.has_iat;
			iat = l.c.iat;
		}
		link_free(&l);
	}
	if (!found) {
		memset(r, 0, sizeof *r);
		return result(r, TRUST_NO_SIGNATURE, "%.200s has no readable HS_SIGNATURE about it",
		              handle);
	}
	trust_verify_signature(t, handle, values, n, (const char *)best.data.p, best.data.len, r);
	r->sig_index = best.index;
	return r->code;
}

/* ---- writing claims ---- */

/* The members every claims set has: iss, sub, iat, nbf, exp, chain. */
static json_t *claims_base(const trust_issue *is)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = json_object_set_new(o, "iss", json_string(is->iss)) |
	          json_object_set_new(o, "sub", json_string(is->sub)) |
	          json_object_set_new(o, "iat", json_integer(is->iat)) |
	          json_object_set_new(o, "nbf", json_integer(is->nbf)) |
	          json_object_set_new(o, "exp", json_integer(is->exp));
	if (is->nchain) {
		json_t *a = json_array();
		for (size_t i = 0; i < is->nchain; i++)
			bad |= json_array_append_new(a, json_string(is->chain[i]));
		bad |= json_object_set_new(o, "chain", a);
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static char *dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

char *trust_cert_payload(const trust_issue *is)
{
	json_t *o = claims_base(is);
	json_t *perms = json_array();
	json_t *key =
	    is->pubkey ? jwk_write(is->pubkey, is->sm2_xy ? JWK_SM2_XY : JWK_SM2_SPKI) : NULL;
	int bad = !o || !perms || !key;
	for (size_t i = 0; !bad && i < is->nperms; i++) {
		json_t *p = json_pack("{s:s, s:s}", "handle", is->perms[i].handle, "perm",
		                      trust_perm_name(is->perms[i].kind));
		bad = !p || json_array_append_new(perms, p);
	}
	if (bad) {
		json_decref(o);
		json_decref(perms);
		json_decref(key);
		return NULL;
	}
	json_object_set_new(o, "perms", perms);
	json_object_set_new(o, "publicKey", key);
	return dump(o);
}

/* Appends {index, digest} of v to a. */
static int add_digest(json_t *a, const proto_values_it *it, const proto_value *v)
{
	char d[100];
	int rc = trust_value_digest(it->raw, "SHA-256", d, sizeof d);
	json_t *e = rc ? NULL : json_pack("{s:I, s:s}", "index", (json_int_t)v->index, "digest", d);
	return e && !json_array_append_new(a, e) ? IDN_OK : IDN_ENOMEM;
}

int trust_sig_payload(const trust_issue *is, idn_slice values, uint32_t n, const uint32_t *indexes,
                      size_t nindexes, char **out, char *err, size_t errlen)
{
	json_t *a = json_array();
	int rc = a ? IDN_OK : IDN_ENOMEM;
	for (size_t i = 0; !rc && i < (nindexes ? nindexes : 1); i++) {
		proto_values_it it = proto_values_begin(values, n);
		proto_value v;
		int found = 0;
		while (!rc && proto_values_next(&it, &v) == 1) {
			bool pick = nindexes
			                ? v.index == indexes[i]
			                : !is_type(&v, "HS_SIGNATURE") && !is_type(&v, "HS_CERT");
			if (pick && (!nindexes || !found)) {
				found = 1;
				rc = add_digest(a, &it, &v);
			}
		}
		if (!rc && nindexes && !found) {
			snprintf(err, errlen, "the record has no value at index %u", indexes[i]);
			rc = IDN_ENOTFOUND;
		}
	}
	json_t *o = rc ? NULL : claims_base(is);
	json_t *d = o ? json_pack("{s:s, s:o}", "alg", "SHA-256", "digests", a) : NULL;
	if (!d) {
		json_decref(o);
		if (!o)
			json_decref(a);
		return rc ? rc : IDN_ENOMEM;
	}
	json_object_set_new(o, "digests", d);
	*out = dump(o);
	return *out ? IDN_OK : IDN_ENOMEM;
}
