/*
 * json.h - a strict RFC 8259 pull parser over one in-memory document.
 *
 * Hand-written because jansson (which idnode uses everywhere else) costs
 * ~6.5 us per 300-byte line in a bulk load, which alone would cap
 * `idnode load` at ~300k lines/s on two cores. This parser builds no tree:
 * the caller walks the document with jp_open / jp_key / jp_next and reads
 * scalars with jp_string / jp_number, or checks and skips a whole value with
 * jp_skip. It is strict: the grammar, UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF), escapes and surrogate pairs, and at most
 * JP_MAX_DEPTH nested arrays and objects. It never reads outside
 * [text, text + len) and never allocates.
 *
 * Known differences from jansson (json_loadb with JSON_DECODE_ANY): numbers
 * of any size are accepted (jp_number saturates; jansson reports an
 * overflow), "\u0000" is accepted (jansson needs JSON_ALLOW_NUL, and refuses
 * it in object keys even then), and the depth limit counts arrays and objects
 * only (jansson counts every value, so a scalar inside 2048 nested arrays is
 * too deep for it, not for us). And jansson accepts a raw NUL byte right
 * after a number or a literal ("[1\0]"), which is not JSON; we refuse it.
 * tests/fuzz/fuzz_import.c holds us to that list.
 *
 * Ownership: a jp borrows the document and the caller's scratch buffer. A
 * string without escapes borrows the document; one with escapes is decoded
 * into the scratch, which therefore must hold as many bytes as the document
 * (a decoded string is never longer than its text). Slices live as long as
 * both. A jp is a plain value: copy it to look ahead, or re-init to rescan.
 *
 * Errors: a function returns IDN_EINVAL for malformed JSON (else IDN_OK, or
 * 1 / 0 where said); err then says what was wrong (static text, worded for
 * a document that is one line, as `idnode load` shows it) and err_at where.
 */
#ifndef IDN_CORE_JSON_H
#define IDN_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/wire.h"

enum { JP_MAX_DEPTH = 2048 }; /* nested arrays and objects, as jansson */

typedef struct jp {
	const uint8_t *p, *end; /* the next byte to read; the document's end */
	uint8_t *sp;            /* where the next escaped string is decoded */
	const char *err;        /* the last syntax error, static text */
	const uint8_t *err_at;  /* and where it was found */
} jp;

/* err of a string that is not valid UTF-8, so a caller can name the field. */
extern const char jp_bad_utf8[];

/* Starts reading text[0 .. len), decoding escaped strings into scratch. */
static inline void jp_init(jp *j, const void *text, size_t len, uint8_t *scratch)
{
	j->p = (const uint8_t *)text;
	j->end = j->p + len;
	j->sp = scratch;
	j->err = NULL;
	j->err_at = NULL;
}

/* Records a syntax error at j->p (also for the caller's own checks). */
int jp_fail(jp *j, const char *what);

/* Skips whitespace (space, tab, CR, LF). */
static inline void jp_ws(jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

/* Reads the string at j->p (which must be '"'), decoded, into *out. */
int jp_string(jp *j, idn_slice *out);

/*
 * Reads the number at j->p, checked against the grammar. *is_int: no
 * fraction, exponent or minus sign ("-0" counts as the integer 0); *v is the
 * magnitude of its integer part, saturating near UINT64_MAX / 2.
 */
int jp_number(jp *j, bool *is_int, uint64_t *v);

/* Checks and skips one value of any kind (leading whitespace included). */
int jp_skip(jp *j);

/*
 * Enters the object or array at j->p ('{' or '['; close is '}' or ']').
 * Returns 1 if it has members, 0 if it is empty (and already closed).
 */
static inline int jp_open(jp *j, uint8_t close)
{
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	return 1;
}

/*
 * In an object, after jp_open or jp_next: reads `"key":` and the whitespace
 * after it, so that j->p is at the member's value (never at the end).
 */
int jp_key(jp *j, idn_slice *key);

/*
 * After a member or element: 1 if another follows (the ',' is eaten), 0 at
 * close (eaten too), IDN_EINVAL otherwise.
 */
static inline int jp_next(jp *j, uint8_t close)
{
	jp_ws(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		return 1;
	}
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	return jp_fail(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

#endif
