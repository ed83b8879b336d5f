/* gs1_rule.c - the rules that map a GS1 key to a Handle identifier and back:
 * a rule is for one GS1 company prefix and one primary key, and its template
 * ("88.100.1/01.{01}.21.{21}") names the AIs whose values make the handle.
 * A value is escaped so the handle can be read back: %XX for any character
 * that is not a letter, a digit, - . or _, and for the character that ends
 * the placeholder in the template (the first of the text after it), so a
 * value never contains the text that ends it. */
#include "gs1/gs1.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/codec.h"
#include "gs1/internal.h"

/* Whether c goes into a handle as it is: a letter, a digit, - . or _, and
 * not the character that ends the placeholder (term; letters either case). */
static const bool handle_plain[256] = {
    ['A' ... 'Z'] = true, ['a' ... 'z'] = true, ['0' ... '9'] = true,
    ['-'] = true,         ['.'] = true,         ['_'] = true,
};

static bool plain(unsigned char c, char term)
{
	unsigned char t = (unsigned char)term;
	bool letter = (t | 0x20) >= 'a' && (t | 0x20) <= 'z';
	/* tolower without a call: a letter term ends the value in either case */
	return handle_plain[c] && c != t && !(letter && (c ^ 0x20) == t);
}

/* Key offset of the GS1 company prefix in a key's value: after the indicator
 * or extension digit of a GTIN, ITIP or SSCC, the leading zero of a GRAI. */
static size_t gcp_offset(const char *ai)
{
	return strcmp(ai, "00") == 0 || strcmp(ai, "01") == 0 || strcmp(ai, "8003") == 0 ||
	               strcmp(ai, "8006") == 0
	           ? 1
	           : 0;
}

int gs1_rule_check(const gs1_rule *r, char *err, size_t errlen)
{
	size_t g = strlen(r->gcp);
	if (g < 1 || g > 12 || strspn(r->gcp, "0123456789") != g) {
		snprintf(err, errlen, "rule: company prefix '%s' is not 1 to 12 digits", r->gcp);
		return -1;
	}
	const gs1_ai *key = gs1_ai_find(r->key);
	if (!key || !key->key) {
		snprintf(err, errlen, "rule: %s is not a GS1 Digital Link primary key", r->key);
		return -1;
	}
	const char *slash = strchr(r->tmpl, '/');
	if (!slash || slash == r->tmpl || memchr(r->tmpl, '{', (size_t)(slash - r->tmpl))) {
		snprintf(err, errlen,
		         "rule: template '%s' does not start with a handle prefix and '/'",
		         r->tmpl);
		return -1;
	}
	bool has_key = false, prev_ph = false;
	for (const char *p = slash + 1; *p; p++) {
		if (*p == '}') {
			snprintf(err, errlen, "rule: '}' without '{' in '%s'", r->tmpl);
			return -1;
		}
		if (*p != '{') {
			prev_ph = false;
			continue;
		}
		const char *e = strchr(p, '}');
		char ai[GS1_AI_MAX + 2];
		if (!e || (size_t)(e - p - 1) > GS1_AI_MAX || e == p + 1) {
			snprintf(err, errlen, "rule: bad placeholder in '%s'", r->tmpl);
			return -1;
		}
		memcpy(ai, p + 1, (size_t)(e - p - 1));
		ai[e - p - 1] = '\0';
		if (!gs1_ai_find(ai)) {
			snprintf(err, errlen, "rule: {%s} is not a GS1 application identifier", ai);
			return -1;
		}
		if (prev_ph) {
			snprintf(err, errlen,
			         "rule: {%s} follows another placeholder with no text between", ai);
			return -1;
		}
		has_key |= strcmp(ai, r->key) == 0;
		prev_ph = true;
		p = e;
	}
	if (!has_key) {
		snprintf(err, errlen, "rule: template '%s' lacks the key {%s}", r->tmpl, r->key);
		return -1;
	}
	return 0;
}

const gs1_rule *gs1_rule_find(const gs1_rule *rules, int n, const gs1_dl *dl)
{
	const gs1_rule *best = NULL;
	size_t off = gcp_offset(dl->key.ai), vlen = strlen(dl->key.value);
	for (int i = 0; i < n; i++) {
		size_t g = strlen(rules[i].gcp);
		if (!gs1_ai_eq(rules[i].key, dl->key.ai) || off + g > vlen ||
		    memcmp(dl->key.value + off, rules[i].gcp, g) != 0)
			continue;
		if (!best || g > strlen(best->gcp))
			best = &rules[i];
	}
	return best;
}

int gs1_rule_apply(const gs1_rule *r, const gs1_dl *dl, char *buf, size_t buflen)
{
	size_t o = 0;
	if (!gs1_ai_eq(r->key, dl->key.ai))
		return 0;
	const char *slash = strchr(r->tmpl, '/');
	for (const char *p = r->tmpl; *p; p++) {
		/* the literal text up to the next placeholder, copied at once */
		const char *lit = slash && p > slash ? strchr(p, '{') : NULL;
		size_t ln = lit ? (size_t)(lit - p) : 0;
		if (ln) {
			if (o + ln >= buflen)
				return -1;
			memcpy(buf + o, p, ln);
			o += ln;
			p = lit;
		}
		if (*p == '{' && slash && p > slash) {
			const char *e = strchr(p, '}');
			char ai[GS1_AI_MAX + 2];
			if (!e || (size_t)(e - p - 1) > GS1_AI_MAX)
				return -1;
			memcpy(ai, p + 1, (size_t)(e - p - 1));
			ai[e - p - 1] = '\0';
			const gs1_elem *v = gs1_dl_get(dl, ai);
			if (!v)
				return 0;
			for (const char *c = v->value; *c; c++) {
				unsigned char ch = (unsigned char)*c;
				size_t need = plain(ch, e[1]) ? 1 : 3;
				if (o + need >= buflen)
					return -1;
				if (need == 1)
					buf[o++] = (char)ch;
				else {
					buf[o++] = '%';
					buf[o++] = "0123456789ABCDEF"[ch >> 4];
					buf[o++] = "0123456789ABCDEF"[ch & 15];
				}
			}
			p = e;
			continue;
		}
		if (o + 1 >= buflen)
			return -1;
		buf[o++] = *p;
	}
	if (buflen)
		buf[o] = '\0';
	return (int)o;
}

static int unhex(char c)
{
	return codec_hex_digit((uint8_t)c);
}

/* Puts the AI's value into dl where it belongs: key, qualifier, attribute. */
static int place(const gs1_ai *key, const gs1_ai *a, const char *value, gs1_dl *dl, char *err,
                 size_t errlen)
{
	gs1_elem *e;
	if (gs1_dl_get(dl, a->ai)) {
		snprintf(err, errlen, "%s: named twice in the rule", a->ai);
		return -1;
	}
	if (a == key)
		e = &dl->key;
	else if (gs1_key_takes(key, a->ai, NULL, NULL) && dl->nqual < GS1_QUAL_MAX)
		e = &dl->qual[dl->nqual++];
	else if (dl->nattr < GS1_ATTR_MAX)
		e = &dl->attr[dl->nattr++];
	else
		return -1;
	strcpy(e->ai, a->ai);
	snprintf(e->value, sizeof e->value, "%s", value);
	return gs1_ai_check(a, e->value, err, errlen);
}

int gs1_rule_match(const gs1_rule *r, const char *handle, gs1_dl *dl, char *err, size_t errlen)
{
	memset(dl, 0, sizeof *dl);
	const gs1_ai *key = gs1_ai_find(r->key);
	const char *slash = strchr(r->tmpl, '/');
	if (!key || !slash)
		return 0;
	const char *h = handle;
	for (const char *p = r->tmpl; *p; p++) {
		if (!(*p == '{' && p > slash)) {
			if (*h == '\0' || strncasecmp(h, p, 1) != 0)
				return 0;
			h++;
			continue;
		}
		const char *e = strchr(p, '}');
		char ai[GS1_AI_MAX + 2], value[GS1_VALUE_MAX + 1];
		size_t n = 0;
		if (!e || (size_t)(e - p - 1) > GS1_AI_MAX)
			return 0;
		memcpy(ai, p + 1, (size_t)(e - p - 1));
		ai[e - p - 1] = '\0';
		const gs1_ai *a = gs1_ai_find(ai);
		if (!a)
			return 0;
		while (*h && tolower((unsigned char)*h) != tolower((unsigned char)e[1])) {
			char c = *h++;
			if (c == '%') {
				if (unhex(h[0]) < 0 || unhex(h[1]) < 0)
					return 0;
				c = (char)(unhex(h[0]) * 16 + unhex(h[1]));
				h += 2;
			}
			if (n == GS1_VALUE_MAX || c == '\0')
				return 0;
			value[n++] = c;
		}
		value[n] = '\0';
		if (n == 0)
			return 0;
		if (place(key, a, value, dl, err, errlen) != 0)
			return -1;
		p = e;
	}
	if (*h)
		return 0;
	return 1;
}
