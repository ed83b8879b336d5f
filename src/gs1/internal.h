/* internal.h - what the files of src/gs1/ share and nobody else uses. */
#ifndef IDN_GS1_INTERNAL_H
#define IDN_GS1_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "gs1/gs1.h"

/* Whether AIs a and b (NUL-terminated, at most GS1_AI_MAX digits) are the
 * same: the hot paths' comparison, inline (a strcmp call cost more than the
 * few bytes it compares). */
static inline bool gs1_ai_eq(const char *a, const char *b)
{
	for (int i = 0; i <= GS1_AI_MAX; i++) {
		if (a[i] != b[i])
			return false;
		if (!a[i])
			return true;
	}
	return true;
}

/* The length of the AIs whose first two digits are ai[0..1] (every AI of a
 * two-digit start has one length), 0 when none is known. */
size_t gs1_ai_len(const char *ai);

/* Whether key takes ai as a key qualifier; then *seq and *idx (when not
 * NULL) say in which of its sequences and where. */
bool gs1_key_takes(const gs1_ai *key, const char *ai, int *seq, int *idx);

/* Reads the compressed path segment seg[0..len) into dl: every AI it holds
 * goes to dl->attr in the order found, other pairs to dl->other; values are
 * not checked yet. 0, or -1 with err. */
int gs1_unzip(const char *seg, size_t len, gs1_dl *dl, char *err, size_t errlen);

#endif
