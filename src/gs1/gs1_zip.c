/* gs1_zip.c - the compressed form of a GS1 Digital Link URI, read back: the
 * last path segment is base64url; its bits hold AIs and values one after the
 * other (GS1 Digital Link 1.1, "compression"): an AI as 4 bits a digit, or a
 * hex pair A-F naming a common sequence of AIs; each value as its AI's
 * format says (fixed numeric: binary; variable: a length first;
 * alphanumeric: a 3-bit encoding, then characters); F and 7 bits: a
 * key=value pair that is no AI. Decompression only: idnode reads such URIs,
 * it does not write them. */
#include "gs1/gs1.h"

#include <stdio.h>
#include <string.h>

#include "gs1/internal.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hexdig[] = "0123456789ABCDEF";

/* The AI sequences a hex pair with a letter stands for, in the order their
 * values follow (the AIs' string order). */
static const struct {
	const char code[3];
	const char *ais[4];
} opt[] = {
    {"0A", {"01", "22"}},
    {"0B", {"01", "10"}},
    {"0C", {"01", "21"}},
    {"0D", {"01", "17"}},
    {"0E", {"01", "7003"}},
    {"0F", {"01", "30"}},
    {"1A", {"01", "10", "17", "21"}},
    {"1B", {"01", "15"}},
    {"1C", {"01", "11"}},
    {"1D", {"01", "16"}},
    {"1E", {"01", "91"}},
    {"1F", {"01", "10", "15"}},
    {"2A", {"01", "3100"}},
    {"2B", {"01", "3101"}},
    {"2C", {"01", "3102"}},
    {"2D", {"01", "3103"}},
    {"2E", {"01", "3104"}},
    {"2F", {"01", "3105"}},
    {"3A", {"01", "3200"}},
    {"3B", {"01", "3201"}},
    {"3C", {"01", "3202"}},
    {"3D", {"01", "3203"}},
    {"3E", {"01", "3204"}},
    {"3F", {"01", "3205"}},
    {"9A", {"8010", "8011"}},
    {"9B", {"8017", "8019"}},
    {"9C", {"8018", "8019"}},
    {"9D", {"254", "414"}},
    {"A0", {"01", "3920"}},
    {"A1", {"01", "3921"}},
    {"A2", {"01", "3922"}},
    {"A3", {"01", "3923"}},
    {"A4", {"01", "3924"}},
    {"A5", {"01", "3925"}},
    {"A6", {"01", "3926"}},
    {"A7", {"01", "3927"}},
    {"A8", {"01", "3928"}},
    {"A9", {"01", "3929"}},
    {"C0", {"255", "3900"}},
    {"C1", {"255", "3901"}},
    {"C2", {"255", "3902"}},
    {"C3", {"255", "3903"}},
    {"C4", {"255", "3904"}},
    {"C5", {"255", "3905"}},
    {"C6", {"255", "3906"}},
    {"C7", {"255", "3907"}},
    {"C8", {"255", "3908"}},
    {"C9", {"255", "3909"}},
    {"CA", {"255", "3940"}},
    {"CB", {"255", "3941"}},
    {"CC", {"255", "3942"}},
    {"CD", {"255", "3943"}},
};

typedef struct {
	unsigned char bit[6 * GS1_URI_MAX];
	size_t n, at;
	char *err;
	size_t errlen;
} bits;

static int take(bits *b, size_t n, unsigned long *v)
{
	if (n > b->n - b->at) {
		snprintf(b->err, b->errlen, "compressed: ends inside a value");
		return -1;
	}
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 1 | b->bit[b->at++];
	return 0;
}

/* Bits of a length up to max: as many as max needs (max <= 99). */
static size_t length_bits(unsigned max)
{
	size_t n = 0;
	while (max >> n)
		n++;
	return n;
}

/* Bits of a number of digits digits: ceil(digits * log2(10) + 0.01). */
static size_t value_bits(unsigned digits)
{
	double x = digits * 3.321928094887362 + 0.01;
	size_t n = (size_t)x;
	return n + ((double)n < x);
}

/* digits decimal digits from the next value_bits(digits) bits. */
static int take_number(bits *b, unsigned digits, char *out, size_t cap)
{
	size_t nb = value_bits(digits);
	unsigned char dec[GS1_VALUE_MAX + 8] = {0}; /* little-endian decimal */
	if (digits >= cap || digits > GS1_VALUE_MAX || nb > b->n - b->at) {
		snprintf(b->err, b->errlen, "compressed: ends inside a value");
		return -1;
	}
	for (size_t i = 0; i < nb; i++) {
		int carry = b->bit[b->at++];
		for (size_t d = 0; d < sizeof dec; d++) {
			int v = dec[d] * 2 + carry;
			dec[d] = (unsigned char)(v % 10);
			carry = v / 10;
		}
	}
	for (size_t d = digits; d < sizeof dec; d++)
		if (dec[d]) {
			snprintf(b->err, b->errlen, "compressed: a number longer than %u digits",
			         digits);
			return -1;
		}
	for (unsigned i = 0; i < digits; i++)
		out[i] = (char)('0' + dec[digits - 1 - i]);
	out[digits] = '\0';
	return 0;
}

/* n characters in encoding enc (0 digits, 1 and 2 hex, 3 base64url, 4 7-bit
 * ASCII), appended to out. */
static int take_chars(bits *b, unsigned long enc, unsigned n, char *out, size_t cap)
{
	size_t o = strlen(out);
	unsigned long v;
	if (o + n >= cap) {
		snprintf(b->err, b->errlen, "compressed: a value too long");
		return -1;
	}
	if (enc == 0)
		return take_number(b, n, out + o, cap - o);
	if (enc > 4) {
		snprintf(b->err, b->errlen, "compressed: unknown character encoding %lu", enc);
		return -1;
	}
	static const size_t width[] = {0, 4, 4, 6, 7};
	for (unsigned i = 0; i < n; i++) {
		if (take(b, width[enc], &v) != 0)
			return -1;
		char c = enc == 1   ? (char)(hexdig[v] | 0x20 * (v >= 10))
		         : enc == 2 ? hexdig[v]
		         : enc == 3 ? b64url[v]
		                    : (char)v;
		if (c == '\0') {
			snprintf(b->err, b->errlen, "compressed: a NUL character");
			return -1;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* One AI's value, component by component. */
static int take_value(bits *b, const gs1_ai *a, char *out, size_t cap)
{
	unsigned long v, enc;
	out[0] = '\0';
	for (int i = 0; i < a->ncomp; i++) {
		const gs1_comp *c = &a->comp[i];
		size_t o = strlen(out);
		bool fixed = c->min == c->max;
		if (c->cset == 'N') {
			unsigned digits = c->max;
			if (!fixed) {
				if (take(b, length_bits(c->max), &v) != 0)
					return -1;
				digits = (unsigned)v;
			}
			if (o + digits >= cap || take_number(b, digits, out + o, cap - o) != 0)
				return -1;
			continue;
		}
		if (take(b, 3, &enc) != 0)
			return -1;
		unsigned n = c->max;
		if (!fixed) {
			if (take(b, length_bits(c->max), &v) != 0)
				return -1;
			n = (unsigned)v;
		}
		if (take_chars(b, enc, n, out, cap) != 0)
			return -1;
	}
	return 0;
}

/* The AI whose digits start at the next bits (h1 h2 already read). */
static const gs1_ai *take_ai(bits *b, unsigned long h1, unsigned long h2)
{
	char ai[GS1_AI_MAX + 1] = {(char)('0' + h1), (char)('0' + h2)};
	size_t len = gs1_ai_len(ai);
	unsigned long d;
	for (size_t i = 2; i < len; i++) {
		if (take(b, 4, &d) != 0)
			return NULL;
		if (d > 9) {
			snprintf(b->err, b->errlen, "compressed: an AI digit is not a digit");
			return NULL;
		}
		ai[i] = (char)('0' + d);
	}
	const gs1_ai *a = len ? gs1_ai_find(ai) : NULL;
	if (!a)
		snprintf(b->err, b->errlen, "compressed: unknown AI %s", ai);
	return a;
}

/* A key=value pair that is no AI: F, 7 bits of key length, the key in
 * base64url, then an encoded value of 7 bits of length. */
static int take_other(bits *b, unsigned long h2, gs1_dl *dl)
{
	unsigned long low, enc, n;
	if (take(b, 3, &low) != 0)
		return -1;
	unsigned klen = (unsigned)(h2 << 3 | low);
	if (dl->nother == GS1_OTHER_MAX || klen == 0 || klen > GS1_OTHER_KEY_MAX) {
		snprintf(b->err, b->errlen, "compressed: a bad other parameter");
		return -1;
	}
	gs1_other *o = &dl->other[dl->nother];
	o->key[0] = o->value[0] = '\0';
	if (take_chars(b, 3, klen, o->key, sizeof o->key) != 0 || take(b, 3, &enc) != 0 ||
	    take(b, 7, &n) != 0 || take_chars(b, enc, (unsigned)n, o->value, sizeof o->value) != 0)
		return -1;
	if (strspn(o->key, "0123456789") == klen) { /* a name of digits is an AI's */
		snprintf(b->err, b->errlen, "compressed: parameter '%s' is named like an AI",
		         o->key);
		return -1;
	}
	dl->nother++;
	return 0;
}

static int add_elem(bits *b, const gs1_ai *a, gs1_elem *list, int *n, int max)
{
	if (*n == max) {
		snprintf(b->err, b->errlen, "compressed: too many AIs");
		return -1;
	}
	gs1_elem *e = &list[(*n)++];
	strcpy(e->ai, a->ai);
	return take_value(b, a, e->value, sizeof e->value);
}

int gs1_unzip(const char *seg, size_t len, gs1_dl *dl, char *err, size_t errlen)
{
	static _Thread_local bits b;
	b.n = b.at = 0;
	b.err = err;
	b.errlen = errlen;
	for (size_t i = 0; i < len; i++) {
		const char *p = memchr(b64url, seg[i], 64);
		if (!p || seg[i] == '\0' || len > GS1_URI_MAX) {
			snprintf(err, errlen, "compressed: not base64url");
			return -1;
		}
		for (int k = 5; k >= 0; k--)
			b.bit[b.n++] = (unsigned char)((p - b64url) >> k & 1);
	}
	/* every AI into attr first; gs1_dl_sort then picks key and qualifiers */
	while (b.n - b.at > 8) {
		unsigned long h1 = 0, h2 = 0;
		take(&b, 4, &h1); /* more than 8 bits are left */
		take(&b, 4, &h2);
		if (h1 <= 9 && h2 <= 9) {
			const gs1_ai *a = take_ai(&b, h1, h2);
			if (!a || add_elem(&b, a, dl->attr, &dl->nattr, GS1_ATTR_MAX) != 0)
				return -1;
			continue;
		}
		if (h1 == 15) {
			if (take_other(&b, h2, dl) != 0)
				return -1;
			continue;
		}
		char code[3] = {hexdig[h1], hexdig[h2], 0};
		size_t i = 0;
		while (i < sizeof opt / sizeof opt[0] && strcmp(opt[i].code, code) != 0)
			i++;
		if (i == sizeof opt / sizeof opt[0]) {
			snprintf(err, errlen, "compressed: no AI sequence has the code %s", code);
			return -1;
		}
		for (int k = 0; k < 4 && opt[i].ais[k]; k++)
			if (add_elem(&b, gs1_ai_find(opt[i].ais[k]), dl->attr, &dl->nattr,
			             GS1_ATTR_MAX) != 0)
				return -1;
	}
	return 0;
}
