/*
 * handle.h - identifier syntax: prefix/suffix split, validation, and the
 * normalised form used as the storage key.
 *
 * The prefix (before the first '/') is case-insensitive ASCII and is stored
 * upper-cased; the suffix is case-sensitive unless the node is configured
 * case-insensitive, in which case it is upper-cased too (ASCII letters only,
 * like the reference server's storage of "88.1000/DEMO1").
 */
#ifndef IDN_PROTO_HANDLE_H
#define IDN_PROTO_HANDLE_H

#include <stdbool.h>

#include "core/wire.h"

/* The longest storage key (normalised identifier) in bytes; store.h's STORE_KEY_MAX is this. */
enum { HANDLE_KEY_MAX = 2048 };

typedef struct handle_parts {
	idn_slice prefix; /* before the first '/', borrowed */
	idn_slice suffix; /* after it */
} handle_parts;

/* Splits at the first '/'. IDN_EINVAL when there is no '/'. */
int handle_split(idn_slice h, handle_parts *out);

/* 1 if s is well-formed UTF-8 (no overlongs, no surrogates), else 0. */
int handle_utf8_valid(idn_slice s);
/*
 * Length of the UTF-8 sequence at p (p < end), 0 when it is not valid by
 * handle_utf8_valid()'s rules (no overlong forms, surrogates or code points
 * above U+10FFFF).
 */
size_t handle_utf8_seq(const uint8_t *p, const uint8_t *end);

/*
 * Writes the storage key of h into key (HANDLE_KEY_MAX bytes) and returns its
 * length, or IDN_EINVAL (no '/'), IDN_ERANGE (too long).
 */
int handle_key(idn_slice h, bool suffix_case_sensitive, uint8_t *key);

/* Upper-cases a prefix ("88.100.a" -> "88.100.A") into out; returns length or IDN_ERANGE. */
int handle_prefix_norm(idn_slice prefix, uint8_t *out, size_t cap);

/* "0.NA/88.100" -> "88.100" (borrowed), for homing; IDN_EINVAL otherwise. */
int handle_na_prefix(idn_slice h, idn_slice *prefix);

#endif
