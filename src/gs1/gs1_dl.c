/* gs1_dl.c - the GS1 Digital Link URI parser (the compressed form's bits are
 * read by gs1_zip.c, then checked here as the uncompressed form) and its
 * writers: the canonical URI (gs1_dl_build) and JSON (gs1_dl_json). The
 * syntax follows the GS1 Digital Link URI Syntax standard (the ABNF of its
 * version 1.4): an http(s) stem with an optional custom path, the primary key
 * and its key qualifiers as path segments in the standard's order, data
 * attributes and other parameters in the query (separated by & or ;). */
#include "gs1/gs1.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/codec.h"
#include "gs1/internal.h"

#define SEG_MAX 64

typedef struct {
	const char *p;
	size_t n;
} span;

/* Letters, digits and - . _ ~: what a URI carries as it is (RFC 3986 unreserved). */
static const bool unreserved[256] = {
    ['A' ... 'Z'] = true, ['a' ... 'z'] = true, ['0' ... '9'] = true, ['-'] = true,
    ['.'] = true,         ['_'] = true,         ['~'] = true,
};

static bool unreserved_value(char c)
{
	return unreserved[(unsigned char)c];
}

static int hexval(char c)
{
	return codec_hex_digit((uint8_t)c);
}

static void bad_escape(const char *start, const char *pct, const char *end, char *err,
                       size_t errlen)
{
	const char *from = pct > start ? pct - 1 : pct;
	size_t n = (size_t)(end - from) < 4 ? (size_t)(end - from) : 4;
	snprintf(err, errlen, "bad %%-escape at '%.*s'", (int)n, from);
}

/* Percent-decodes s[0..n) into out (at most cap-1 bytes). strict: the value of
 * an AI, where the standard has every character but letters, digits and
 * - . _ percent-encoded. what names the element in errors. */
static int pct_decode(const char *what, const char *s, size_t n, bool strict, char *out, size_t cap,
                      char *err, size_t errlen)
{
	size_t o = 0, run = 0;
	while (run < n && run + 1 < cap && unreserved[(unsigned char)s[run]])
		run++; /* most values: all unreserved, copied at once */
	memcpy(out, s, run);
	o = run;
	for (size_t i = run; i < n; i++) {
		char c = s[i];
		if (unreserved[(unsigned char)c] && o + 1 < cap) {
			out[o++] = c;
			continue;
		}
		if (c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
				bad_escape(s, s + i, s + n, err, errlen);
				return -1;
			}
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
			if (c == '\0') {
				snprintf(err, errlen, "%s: %%00 is not allowed", what);
				return -1;
			}
		} else if (strict && !unreserved_value(c) && strchr("!\"&'()*+,/:;<=>?", c)) {
			snprintf(err, errlen, "%s: character '%c' must be percent-encoded (%%%02X)",
			         what, c, (unsigned char)c);
			return -1;
		} else if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7f || c == '#') {
			snprintf(err, errlen, "%s: byte 0x%02x is not allowed in a URI", what,
			         (unsigned char)c);
			return -1;
		}
		if (o + 1 >= cap) {
			snprintf(err, errlen, "%s: too long (more than %zu characters)", what,
			         cap - 1);
			return -1;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* The AI a path segment or query key names, if it is all digits and known. */
static const gs1_ai *span_ai(span s)
{
	return gs1_ai_findn(s.p, s.n);
}

/* "22,10,21 or 235": the qualifiers key takes, for messages. */
static void seq_text(const gs1_ai *key, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int s = 0; s < key->nseq && o < len; s++)
		for (int q = 0; q < key->seqlen[s] && o < len; q++)
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
			                      q   ? ", "
			                      : s ? " or "
			                          : "",
			                      key->seq[s][q]);
}

/* Decodes and checks one AI element into e. A GTIN-8, -12 or -13 becomes a
 * GTIN-14 (leading zeros), as the standard asks of a GTIN in a URI. */
static int take_elem(const gs1_ai *a, span v, gs1_elem *e, char *err, size_t errlen)
{
	memcpy(e->ai, a->ai, sizeof e->ai);
	if (v.n == 0) {
		snprintf(err, errlen, "%s: empty value", a->ai);
		return -1;
	}
	if (pct_decode(a->ai, v.p, v.n, true, e->value, sizeof e->value, err, errlen) != 0)
		return -1;
	size_t n = strlen(e->value);
	if (gs1_ai_eq(a->ai, "01") && (n == 8 || n == 12 || n == 13) &&
	    strspn(e->value, "0123456789") == n) {
		memmove(e->value + 14 - n, e->value, n + 1);
		memset(e->value, '0', 14 - n);
	}
	return gs1_ai_check(a, e->value, err, errlen);
}

/* The qualifiers of the path, in order, against key's sequences. */
static int check_qualifiers(const gs1_ai *key, const gs1_dl *dl, char *err, size_t errlen)
{
	char want[64]; /* for messages only: made when one is written */
	for (int i = 0; i < dl->nqual; i++) {
		const char *q = dl->qual[i].ai;
		if (!gs1_key_takes(key, q, NULL, NULL)) {
			seq_text(key, want, sizeof want);
			if (key->nseq)
				snprintf(err, errlen, "%s: not a key qualifier of %s (%s takes %s)",
				         q, key->ai, key->ai, want);
			else
				snprintf(err, errlen,
				         "%s: not a key qualifier of %s (%s takes none)", q,
				         key->ai, key->ai);
			return -1;
		}
		for (int j = 0; j < i; j++)
			if (gs1_ai_eq(dl->qual[j].ai, q)) {
				snprintf(err, errlen, "%s: duplicate", q);
				return -1;
			}
	}
	int seq0 = -1, idx0 = -1;
	for (int i = 0; i < dl->nqual; i++) {
		int seq = 0, idx = 0;
		gs1_key_takes(key, dl->qual[i].ai, &seq, &idx);
		if (i > 0 && (seq != seq0 || idx <= idx0))
			seq_text(key, want, sizeof want);
		if (i > 0 && seq != seq0) {
			snprintf(err, errlen,
			         "%s with %s: qualifiers of different sequences (%s takes %s)",
			         dl->qual[i - 1].ai, dl->qual[i].ai, key->ai, want);
			return -1;
		}
		if (i > 0 && idx <= idx0) {
			snprintf(err, errlen, "%s before %s: qualifiers out of order (%s takes %s)",
			         dl->qual[i - 1].ai, dl->qual[i].ai, key->ai, want);
			return -1;
		}
		seq0 = seq;
		idx0 = idx;
	}
	return 0;
}

/* Splits "https://host/a/b?q" into stem, path segments and query. */
static int split_uri(const char *uri, gs1_dl *dl, span *seg, int *nseg, span *query, char *err,
                     size_t errlen)
{
	const char *p = uri;
	if (*p != '/') {
		size_t sl = strncasecmp(p, "https://", 8) == 0  ? 8
		            : strncasecmp(p, "http://", 7) == 0 ? 7
		                                                : 0;
		if (!sl) {
			snprintf(err, errlen,
			         "not an http or https URI (nor a path starting with '/')");
			return -1;
		}
		const char *host = p + sl, *h = host;
		while (*h && *h != '/' && *h != '?' && *h != '#')
			h++;
		if (h == host) {
			snprintf(err, errlen, "no host after '%.*s'", (int)sl, p);
			return -1;
		}
		for (const char *c = host; c < h; c++)
			if (!unreserved_value(*c) && !strchr("%!$&'()*+,;=:@[]", *c)) {
				snprintf(err, errlen, "host: character 0x%02x not allowed",
				         (unsigned char)*c);
				return -1;
			}
		p = h;
	}
	const char *q = strchr(p, '?');
	const char *path_end = q ? q : p + strlen(p);
	if (memchr(uri, '#', strlen(uri))) {
		snprintf(err, errlen, "'#': a fragment is not part of a GS1 Digital Link URI");
		return -1;
	}
	*nseg = 0;
	const char *s = p;
	while (s < path_end) { /* s points at a '/' */
		const char *e = s + 1;
		while (e < path_end && *e != '/')
			e++;
		if (*nseg == SEG_MAX) {
			snprintf(err, errlen, "path: more than %d segments", SEG_MAX);
			return -1;
		}
		seg[(*nseg)++] = (span){s + 1, (size_t)(e - s - 1)};
		s = e;
	}
	*query = q ? (span){q + 1, strlen(q + 1)} : (span){NULL, 0};
	(void)dl;
	return 0;
}

/* Where the primary key is among the segments: walking back from the end in
 * (AI, value) pairs over key qualifiers until a primary key. -1 when none. */
static int find_key(const span *seg, int nseg)
{
	for (int k = nseg - 2; k >= 0; k -= 2) {
		const gs1_ai *a = span_ai(seg[k]);
		if (!a)
			return -1;
		if (a->key)
			return k;
		if (!gs1_ai_qualifies(a->ai))
			return -1;
	}
	return -1;
}

static bool looks_compressed(span s)
{
	if (s.n < 8)
		return false;
	bool digits = true;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (c < '0' || c > '9')
			digits = false;
	}
	return !digits;
}

/* The error when no primary key was found, as precise as the path allows;
 * false (no error written) when the last segment may be a compressed URI. */
static bool no_key(const span *seg, int nseg, char *err, size_t errlen)
{
	for (int i = 0; i < nseg; i++) {
		const gs1_ai *a = span_ai(seg[i]);
		if (a && a->key && i + 1 < nseg) {
			int j = i + 2;
			while (j + 1 < nseg && span_ai(seg[j]) &&
			       gs1_ai_qualifies(span_ai(seg[j])->ai))
				j += 2;
			if (j < nseg)
				snprintf(err, errlen,
				         "path after /%s/%.*s: '%.*s' is not a key qualifier "
				         "followed by "
				         "its value",
				         a->ai, (int)seg[i + 1].n, seg[i + 1].p, (int)seg[j].n,
				         seg[j].p);
			else
				snprintf(err, errlen, "path after /%s: expected AI/value pairs",
				         a->ai);
			return true;
		}
	}
	if (nseg > 0 && looks_compressed(seg[nseg - 1]))
		return false;
	snprintf(err, errlen, "no GS1 primary key (such as /01/ with a GTIN) in the path");
	return true;
}

/* The stem: scheme://host and the nstem custom path segments before at (the
 * key, or the compressed segment). Bounded so that the canonical URI, which
 * adds at most 8 segments to it, still parses. */
static int take_stem(const char *uri, span at, int nstem, gs1_dl *dl, char *err, size_t errlen)
{
	size_t n = (size_t)(at.p - 1 - uri); /* up to the '/' before at */
	if (n > GS1_STEM_MAX) {
		snprintf(err, errlen, "stem: longer than %d characters", GS1_STEM_MAX);
		return -1;
	}
	if (nstem > SEG_MAX - 2 * (GS1_QUAL_MAX + 1)) {
		snprintf(err, errlen, "stem: more than %d path segments",
		         SEG_MAX - 2 * (GS1_QUAL_MAX + 1));
		return -1;
	}
	memcpy(dl->stem, uri, n);
	dl->stem[n] = '\0';
	return 0;
}

static bool in_path(const gs1_dl *dl, const char *ai)
{
	if (gs1_ai_eq(dl->key.ai, ai))
		return true;
	for (int i = 0; i < dl->nqual; i++)
		if (gs1_ai_eq(dl->qual[i].ai, ai))
			return true;
	return false;
}

/* One query parameter "k=v". */
static int take_param(span kv, gs1_dl *dl, char *err, size_t errlen)
{
	const char *eq = memchr(kv.p, '=', kv.n);
	if (kv.n == 0) {
		snprintf(err, errlen, "query: empty parameter");
		return -1;
	}
	if (!eq) {
		snprintf(err, errlen, "query: parameter '%.*s' has no '='",
		         (int)(kv.n < 40 ? kv.n : 40), kv.p);
		return -1;
	}
	span k = {kv.p, (size_t)(eq - kv.p)}, v = {eq + 1, kv.n - k.n - 1};
	char name[GS1_OTHER_KEY_MAX + 1]; /* decoded: "1%37" is 17 */
	if (k.n == 0) {
		snprintf(err, errlen, "query: parameter with an empty name");
		return -1;
	}
	if (pct_decode("query parameter name", k.p, k.n, false, name, sizeof name, err, errlen) !=
	    0)
		return -1;
	size_t nl = strlen(name);
	if (nl > 0 && strspn(name, "0123456789") == nl) {
		const gs1_ai *a = span_ai((span){name, nl});
		if (!a) {
			snprintf(err, errlen, "query: %.8s is not a GS1 application identifier",
			         name);
			return -1;
		}
		if (!a->attr) {
			snprintf(
			    err, errlen,
			    "%s: a key qualifier, not a data attribute (it belongs in the path)",
			    a->ai);
			return -1;
		}
		if (in_path(dl, a->ai)) {
			snprintf(err, errlen, "%s: duplicate (also in the path)", a->ai);
			return -1;
		}
		for (int i = 0; i < dl->nattr; i++)
			if (strcmp(dl->attr[i].ai, a->ai) == 0) {
				snprintf(err, errlen, "%s: duplicate", a->ai);
				return -1;
			}
		if (dl->nattr == GS1_ATTR_MAX) {
			snprintf(err, errlen, "query: more than %d data attributes", GS1_ATTR_MAX);
			return -1;
		}
		return take_elem(a, v, &dl->attr[dl->nattr++], err, errlen);
	}
	if (dl->nother == GS1_OTHER_MAX) {
		snprintf(err, errlen, "query: more than %d other parameters", GS1_OTHER_MAX);
		return -1;
	}
	gs1_other *o = &dl->other[dl->nother];
	memcpy(o->key, name, nl + 1);
	if (pct_decode(o->key, v.p, v.n, false, o->value, sizeof o->value, err, errlen) != 0)
		return -1;
	dl->nother++;
	return 0;
}

static int parse_query(span q, gs1_dl *dl, char *err, size_t errlen)
{
	if (!q.p) /* no '?' */
		return 0;
	const char *p = q.p, *end = q.p + q.n;
	for (;;) {
		const char *e = p;
		while (e < end && *e != '&' && *e != ';')
			e++;
		if (take_param((span){p, (size_t)(e - p)}, dl, err, errlen) != 0)
			return -1;
		if (e == end)
			return 0;
		p = e + 1;
	}
}

/* The AIs of a decompressed URI, all in dl->attr, put in their places: the
 * first primary key is the key, its qualifiers go to the path in the
 * standard's order, the rest stay data attributes; each value checked. */
static int sort_unzipped(gs1_dl *dl, char *err, size_t errlen)
{
	gs1_elem all[GS1_ATTR_MAX];
	int n = dl->nattr, k = -1;
	memcpy(all, dl->attr, sizeof all);
	for (int i = 0; i < n && k < 0; i++)
		if (gs1_ai_find(all[i].ai)->key)
			k = i;
	if (k < 0) {
		snprintf(err, errlen, "compressed: no GS1 primary key among its AIs");
		return -1;
	}
	const gs1_ai *key = gs1_ai_find(all[k].ai);
	dl->key = all[k];
	dl->nattr = dl->nqual = 0;
	for (int s = 0; s < key->nseq; s++) /* qualifiers, in sequence order */
		for (int q = 0; q < key->seqlen[s]; q++)
			for (int i = 0; i < n; i++)
				if (i != k && strcmp(all[i].ai, key->seq[s][q]) == 0 &&
				    dl->nqual < GS1_QUAL_MAX)
					dl->qual[dl->nqual++] = all[i];
	for (int i = 0; i < n; i++) {
		const gs1_ai *a = gs1_ai_find(all[i].ai);
		if (i == k || gs1_key_takes(key, a->ai, NULL, NULL))
			continue;
		if (!a->attr) {
			snprintf(err, errlen, "%s: a key qualifier, not a data attribute", a->ai);
			return -1;
		}
		dl->attr[dl->nattr++] = all[i];
	}
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < i; j++)
			if (strcmp(all[i].ai, all[j].ai) == 0) {
				snprintf(err, errlen, "%s: duplicate", all[i].ai);
				return -1;
			}
		if (gs1_ai_check(gs1_ai_find(all[i].ai), all[i].value, err, errlen) != 0)
			return -1;
	}
	return check_qualifiers(key, dl, err, errlen);
}

/* A URI whose last path segment is the compressed form. */
static int parse_compressed(const char *uri, const span *seg, int nseg, span query, gs1_dl *dl,
                            char *err, size_t errlen)
{
	span z = seg[nseg - 1];
	char why[200];
	if (take_stem(uri, z, nseg - 1, dl, err, errlen) != 0)
		return -1;
	if (gs1_unzip(z.p, z.n, dl, why, sizeof why) != 0) {
		snprintf(err, errlen, "no GS1 primary key in the path, nor a compressed URI (%s)",
		         why);
		return -1;
	}
	if (sort_unzipped(dl, err, errlen) != 0)
		return -1;
	return parse_query(query, dl, err, errlen);
}

int gs1_dl_parse(const char *uri, gs1_dl *out, char *err, size_t errlen)
{
	span seg[SEG_MAX], query;
	int nseg;
	/* Only what is read is set (the struct is 9 KB: a memset was a third of a parse). */
	out->stem[0] = '\0';
	memset(&out->key, 0, sizeof out->key);
	out->nqual = out->nattr = out->nother = 0;
	const char *terr = gs1_table_error();
	if (terr) {
		snprintf(err, errlen, "%s", terr);
		return -1;
	}
	if (strlen(uri) > GS1_URI_MAX) {
		snprintf(err, errlen, "longer than %d characters", GS1_URI_MAX);
		return -1;
	}
	if (split_uri(uri, out, seg, &nseg, &query, err, errlen) != 0)
		return -1;
	int k = find_key(seg, nseg);
	if (k < 0) {
		if (!no_key(seg, nseg, err, errlen))
			return parse_compressed(uri, seg, nseg, query, out, err, errlen);
		return -1;
	}
	if (take_stem(uri, seg[k], k, out, err, errlen) != 0)
		return -1;
	const gs1_ai *key = span_ai(seg[k]);
	if (take_elem(key, seg[k + 1], &out->key, err, errlen) != 0)
		return -1;
	for (int i = k + 2; i < nseg; i += 2) {
		if (out->nqual == GS1_QUAL_MAX) {
			snprintf(err, errlen, "path: more than %d key qualifiers", GS1_QUAL_MAX);
			return -1;
		}
		const gs1_ai *q = span_ai(seg[i]);
		if (take_elem(q, seg[i + 1], &out->qual[out->nqual++], err, errlen) != 0)
			return -1;
	}
	if (check_qualifiers(key, out, err, errlen) != 0)
		return -1;
	return parse_query(query, out, err, errlen);
}

const gs1_elem *gs1_dl_get(const gs1_dl *dl, const char *ai)
{
	if (gs1_ai_eq(dl->key.ai, ai))
		return &dl->key;
	for (int i = 0; i < dl->nqual; i++)
		if (gs1_ai_eq(dl->qual[i].ai, ai))
			return &dl->qual[i];
	for (int i = 0; i < dl->nattr; i++)
		if (gs1_ai_eq(dl->attr[i].ai, ai))
			return &dl->attr[i];
	return NULL;
}

/* Appends s to buf at *o, percent-encoding what is not a letter, a digit or
 * - . _ (enc), or as it is. false when it does not fit. */
static bool put(char *buf, size_t len, size_t *o, const char *s, bool enc)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = !enc || (unreserved_value((char)c) && c != '~');
		size_t need = plain ? 1 : 3;
		if (*o + need >= len)
			return false;
		if (plain)
			buf[(*o)++] = (char)c;
		else {
			buf[(*o)++] = '%';
			buf[(*o)++] = "0123456789ABCDEF"[c >> 4];
			buf[(*o)++] = "0123456789ABCDEF"[c & 15];
		}
	}
	buf[*o] = '\0';
	return true;
}

int gs1_dl_build(const gs1_dl *dl, char *buf, size_t buflen)
{
	size_t o = 0;
	const gs1_ai *key = gs1_ai_find(dl->key.ai);
	if (!key || buflen == 0)
		return -1;
	buf[0] = '\0';
	bool ok = put(buf, buflen, &o, dl->stem[0] ? dl->stem : "https://id.gs1.org", false) &&
	          put(buf, buflen, &o, "/", false) && put(buf, buflen, &o, dl->key.ai, false) &&
	          put(buf, buflen, &o, "/", false) && put(buf, buflen, &o, dl->key.value, true);
	/* qualifiers in the order of the key's sequence that holds them */
	for (int s = 0; ok && s < key->nseq; s++)
		for (int q = 0; ok && q < key->seqlen[s]; q++)
			for (int i = 0; ok && i < dl->nqual; i++)
				if (gs1_ai_eq(dl->qual[i].ai, key->seq[s][q]))
					ok = put(buf, buflen, &o, "/", false) &&
					     put(buf, buflen, &o, dl->qual[i].ai, false) &&
					     put(buf, buflen, &o, "/", false) &&
					     put(buf, buflen, &o, dl->qual[i].value, true);
	for (int i = 0; ok && i < dl->nattr + dl->nother; i++) {
		const char *k = i < dl->nattr ? dl->attr[i].ai : dl->other[i - dl->nattr].key;
		const char *v = i < dl->nattr ? dl->attr[i].value : dl->other[i - dl->nattr].value;
		ok = put(buf, buflen, &o, i ? "&" : "?", false) && put(buf, buflen, &o, k, true) &&
		     put(buf, buflen, &o, "=", false) && put(buf, buflen, &o, v, true);
	}
	return ok ? (int)o : -1;
}

/* Appends s as a JSON string. */
static bool put_json(char *buf, size_t len, size_t *o, const char *s)
{
	if (*o + 1 >= len)
		return false;
	buf[(*o)++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[8];
		if (c == '"' || c == '\\')
			snprintf(tmp, sizeof tmp, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			snprintf(tmp, sizeof tmp, "\\u%04x", c);
		else
			snprintf(tmp, sizeof tmp, "%c", c);
		size_t n = strlen(tmp);
		if (*o + n + 1 >= len)
			return false;
		memcpy(buf + *o, tmp, n);
		*o += n;
	}
	buf[(*o)++] = '"';
	buf[*o] = '\0';
	return true;
}

int gs1_json_string(const char *s, char *buf, size_t buflen)
{
	size_t o = 0;
	return buflen && put_json(buf, buflen, &o, s) ? (int)o : -1;
}

static bool put_elem_json(char *buf, size_t len, size_t *o, const gs1_elem *e)
{
	const gs1_ai *a = gs1_ai_find(e->ai);
	return put(buf, len, o, "{\"ai\":", false) && put_json(buf, len, o, e->ai) &&
	       put(buf, len, o, ",\"title\":", false) && put_json(buf, len, o, a ? a->title : "") &&
	       put(buf, len, o, ",\"value\":", false) && put_json(buf, len, o, e->value) &&
	       put(buf, len, o, "}", false);
}

int gs1_dl_json(const gs1_dl *dl, char *buf, size_t buflen)
{
	size_t o = 0;
	if (buflen == 0)
		return -1;
	bool ok = put(buf, buflen, &o, "{\"stem\":", false) &&
	          put_json(buf, buflen, &o, dl->stem) && put(buf, buflen, &o, ",\"key\":", false) &&
	          put_elem_json(buf, buflen, &o, &dl->key) &&
	          put(buf, buflen, &o, ",\"qualifiers\":[", false);
	for (int i = 0; ok && i < dl->nqual; i++)
		ok = put(buf, buflen, &o, i ? "," : "", false) &&
		     put_elem_json(buf, buflen, &o, &dl->qual[i]);
	ok = ok && put(buf, buflen, &o, "],\"attributes\":[", false);
	for (int i = 0; ok && i < dl->nattr; i++)
		ok = put(buf, buflen, &o, i ? "," : "", false) &&
		     put_elem_json(buf, buflen, &o, &dl->attr[i]);
	ok = ok && put(buf, buflen, &o, "],\"other\":{", false);
	for (int i = 0; ok && i < dl->nother; i++)
		ok = put(buf, buflen, &o, i ? "," : "", false) &&
		     put_json(buf, buflen, &o, dl->other[i].key) &&
		     put(buf, buflen, &o, ":", false) &&
		     put_json(buf, buflen, &o, dl->other[i].value);
	ok = ok && put(buf, buflen, &o, "}}", false);
	return ok ? (int)o : -1;
}
