/*
 * json.c - the strict JSON pull parser (see json.h).
 *
 * Speed matters here: `idnode load` spends most of its parse time in
 * jp_string, so plain runs of string bytes are scanned 16 (SSE2) or 8 bytes
 * at a time, and a string without escapes is returned in place.
 */
#include <string.h>

#include "core/json.h"

#include "core/codec.h"

const char jp_bad_utf8[] = "invalid UTF-8 in a string";

int jp_fail(jp *j, const char *what)
{
	j->err = what;
	j->err_at = j->p;
	return IDN_EINVAL;
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/*
 * Offset of the first byte that ends the fast string scan ('"', '\\', < 0x20,
 * >= 0x80) among the next 16 (SSE2) or 8 bytes, or the block size if none.
 * Caller guarantees STRIDE readable bytes.
 */
#ifdef __SSE2__
#include <emmintrin.h>
enum { STRIDE = 16 };
static inline unsigned special_at(const uint8_t *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	/* signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too */
	__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
	                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
	                         _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
	unsigned bits = (unsigned)_mm_movemask_epi8(m);
	return bits ? (unsigned)__builtin_ctz(bits) : 16;
}
#else
enum { STRIDE = 8 };
static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline unsigned special_at(const uint8_t *p)
{
	uint64_t v = load64(p);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v); /* the first byte in the lowest bits */
#endif
	uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
	/* Exact in the lowest flagged byte (borrows only run upwards), which
	 * is all that is used. */
	uint64_t m = (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((v - ONES * 0x20) & ~v) | v) & HIGHS;
	return m ? (unsigned)__builtin_ctzll(m) / 8 : 8;
}
#endif

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static inline int utf8_seq(const uint8_t *p, const uint8_t *end)
{
	uint8_t c = p[0];
	size_t left = (size_t)(end - p);
	if (c >= 0xC2 && c <= 0xDF)
		return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
			return 0; /* overlong, > U+10FFFF */
		return 4;
	}
	return 0;
}

static int read_u4(jp *j, const uint8_t *p, uint32_t *out)
{
	if (j->end - p < 4)
		return -1;
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int h = codec_hex_digit(p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return 0;
}

/*
 * Without escapes the result borrows the document: most strings are copied
 * nowhere. The first escape switches to decoding into the scratch, which
 * the text before it is copied to.
 */
int jp_string(jp *j, idn_slice *out)
{
	const uint8_t *s = ++j->p, *p = s, *end = j->end;
	const uint8_t *run = s; /* start of the text not yet copied (escaped strings) */
	uint8_t *o = NULL;      /* set once an escape was seen */

	for (;;) {
		while (end - p >= STRIDE) {
			unsigned k = special_at(p);
			p += k;
			if (k < STRIDE)
				break;
		}
		if (p >= end) {
			j->p = p;
			return jp_fail(j, "unterminated string");
		}
		uint8_t c = *p;
		if (c == '"')
			break;
		if (c >= 0x80) {
			int n = utf8_seq(p, end);
			if (!n) {
				j->p = p;
				return jp_fail(j, jp_bad_utf8);
			}
			p += n;
			continue;
		}
		if (c < 0x20) {
			j->p = p;
			return jp_fail(j, "control character in a string (escape it)");
		}
		if (c != '\\') {
			p++;
			continue;
		}
		/* An escape: from here on, the string is decoded into the scratch. */
		if (!o)
			o = j->sp;
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		const uint8_t *esc = p;
		if (end - p < 2) {
			j->p = p;
			return jp_fail(j, "unterminated string");
		}
		p += 2;
		switch (esc[1]) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '/':
			*o++ = '/';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			uint32_t cp, lo;
			if (read_u4(j, p, &cp)) {
				j->p = esc;
				return jp_fail(j, "bad \\u escape");
			}
			p += 4;
			if (cp >= 0xDC00 && cp <= 0xDFFF) {
				j->p = esc;
				return jp_fail(j, "lone low surrogate in \\u escape");
			}
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    read_u4(j, p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
					j->p = esc;
					return jp_fail(j, "lone high surrogate in \\u escape");
				}
				p += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			if (cp < 0x80) {
				*o++ = (uint8_t)cp;
			} else if (cp < 0x800) {
				*o++ = (uint8_t)(0xC0 | cp >> 6);
				*o++ = (uint8_t)(0x80 | (cp & 0x3F));
			} else if (cp < 0x10000) {
				*o++ = (uint8_t)(0xE0 | cp >> 12);
				*o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
				*o++ = (uint8_t)(0x80 | (cp & 0x3F));
			} else {
				*o++ = (uint8_t)(0xF0 | cp >> 18);
				*o++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
				*o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
				*o++ = (uint8_t)(0x80 | (cp & 0x3F));
			}
			break;
		}
		default:
			j->p = esc;
			return jp_fail(j, "bad escape in a string");
		}
		run = p;
	}
	if (o) {
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		*out = idn_slice_of(j->sp, (size_t)(o - j->sp));
		j->sp = o;
	} else {
		*out = idn_slice_of(s, (size_t)(p - s));
	}
	j->p = p + 1;
	return IDN_OK;
}

int jp_number(jp *j, bool *is_int, uint64_t *v)
{
	const uint8_t *p = j->p, *end = j->end;
	uint64_t acc = 0;
	bool neg = false, integral = true;
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return jp_fail(j, "bad number");
	if (*p == '0') {
		p++;
	} else {
		while (p < end && *p >= '0' && *p <= '9') {
			acc = acc > UINT64_MAX / 20 ? UINT64_MAX / 2
			                            : acc * 10 + (uint64_t)(*p - '0');
			p++;
		}
	}
	if (p < end && *p == '.') {
		integral = false;
		p++;
		if (p >= end || *p < '0' || *p > '9') {
			j->p = p;
			return jp_fail(j, "bad number: digits must follow '.'");
		}
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integral = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9') {
			j->p = p;
			return jp_fail(j, "bad number: digits must follow the exponent");
		}
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	j->p = p;
	*is_int = integral && (!neg || acc == 0);
	*v = acc;
	return IDN_OK;
}

/* Iterative, with one bit per open container (object or array): no recursion
 * for a hostile document to exhaust. */
int jp_skip(jp *j)
{
	uint8_t stack[JP_MAX_DEPTH / 8];
	int depth = 0;
	idn_slice s;
	bool b;
	uint64_t v;
	int rc;

	for (;;) {
		/* a value */
		jp_ws(j);
		if (j->p >= j->end)
			return jp_fail(j, "unexpected end of line, expected a value");
		switch (*j->p) {
		case '"':
			if ((rc = jp_string(j, &s)))
				return rc;
			break;
		case '{':
		case '[': {
			bool obj = *j->p == '{';
			if (depth >= JP_MAX_DEPTH)
				return jp_fail(j, "nested too deeply");
			if (obj)
				stack[depth / 8] |= (uint8_t)(1u << (depth % 8));
			else
				stack[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
			depth++;
			j->p++;
			jp_ws(j);
			if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
				j->p++;
				depth--;
				break;
			}
			if (obj) {
				if (j->p >= j->end || *j->p != '"')
					return jp_fail(j, "expected a string key");
				if ((rc = jp_string(j, &s)))
					return rc;
				jp_ws(j);
				if (j->p >= j->end || *j->p != ':')
					return jp_fail(j, "expected ':'");
				j->p++;
			}
			continue; /* its first member */
		}
		case 't':
		case 'f':
		case 'n': {
			static const char *const lits[] = {"true", "false", "null"};
			const char *lit = lits[*j->p == 't' ? 0 : *j->p == 'f' ? 1 : 2];
			size_t n = strlen(lit);
			if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
				return jp_fail(j, "invalid literal");
			j->p += n;
			break;
		}
		default:
			if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
				if ((rc = jp_number(j, &b, &v)))
					return rc;
				break;
			}
			return jp_fail(j, "expected a value");
		}
		/* after a value: close containers or go to the next member */
		for (;;) {
			if (depth == 0)
				return IDN_OK;
			bool obj = stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1;
			jp_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				if (obj) {
					jp_ws(j);
					if (j->p >= j->end || *j->p != '"')
						return jp_fail(j, "expected a string key");
					if ((rc = jp_string(j, &s)))
						return rc;
					jp_ws(j);
					if (j->p >= j->end || *j->p != ':')
						return jp_fail(j, "expected ':'");
					j->p++;
				}
				break;
			}
			if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
				j->p++;
				depth--;
				continue;
			}
			return jp_fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		}
	}
}

int jp_key(jp *j, idn_slice *key)
{
	int rc;
	jp_ws(j);
	if (j->p >= j->end || *j->p != '"')
		return jp_fail(j, "expected a string key");
	if ((rc = jp_string(j, key)))
		return rc;
	jp_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return jp_fail(j, "expected ':'");
	j->p++;
	jp_ws(j);
	if (j->p >= j->end)
		return jp_fail(j, "unexpected end of line, expected a value");
	return IDN_OK;
}
