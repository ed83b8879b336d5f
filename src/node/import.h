/*
 * import.h - one identifier as a line of JSON, turned into what the store
 * holds: its storage key and its record.
 *
 *   {"handle":"88.100.1/X","values":[{"index":1,"type":"URL","data":"..."}]}
 *
 * The format is the one `idnode load --help` describes: each value needs
 * "index" (1..2147483647, unique in the line), "type" and "data" (a string,
 * or {"format":"string"|"hex"|"base64","value":...}); optional "ttl",
 * "ttl_type"/"ttlType", "perms"/"permissions", "timestamp" (unix seconds or
 * ISO 8601) and "references". Other keys of the line are ignored (but must be
 * valid JSON); other keys inside a value are errors.
 *
 * A line that is wrong gets one message naming what to fix, as
 * "FIELD: reason" ("values[2].data.value: bad hex digit at offset 3"), or
 * "invalid JSON at column N: reason" when the line is not JSON at all: a
 * broken line is reported as broken JSON whatever else is wrong with it.
 * import_format() adds "FILE:LINE: " in front, the form a person sees for a
 * file; an API answer can use the message alone.
 *
 * Parsing is by the strict parser of core/json.h, with no allocation per
 * line: the values borrow the line or the context's scratch, and only the
 * result (key and record) is written, into memory the caller's allocator
 * gives, so the caller decides where results live (an arena, a batch).
 *
 * Ownership: an import_ctx is working memory for one thread, reused line
 * after line (it grows to the longest line seen); import_free() frees it.
 */
#ifndef IDN_NODE_IMPORT_H
#define IDN_NODE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "proto/proto.h"

enum {
	IMPORT_MSG_MAX = 512, /* a message, NUL included */
	IMPORT_BLANK = 1,     /* import_line(): the line is only whitespace */
};

typedef struct import_opts {
	bool case_sensitive; /* suffixes kept as given; else upper-cased (handle_key) */
	uint32_t now;        /* timestamp of a value that gives none */
	/*
	 * Types as stored, unchecked: a backup restores what a node (maybe an
	 * older one) accepted. Otherwise a type proto_type_check() refuses is an
	 * error of the line.
	 */
	bool any_type;
	/*
	 * Records larger are refused (record_write_max): 0 = what one answer
	 * carries; IMPORT_ANY_SIZE = only the store's limit (a restore of a
	 * backup made before the check: its records are kept, and answered
	 * with an error when too big to serve).
	 */
	size_t max_record;
} import_opts;

#define IMPORT_ANY_SIZE ((size_t)-1)

typedef struct import_ctx import_ctx;

/* Returns memory for len bytes (any alignment), or NULL when there is none. */
typedef void *(*import_alloc_fn)(void *arg, size_t len);

/* What a good line becomes. */
typedef struct import_out {
	idn_slice key;             /* storage key (handle_key()), at the allocated memory */
	idn_slice record;          /* the record (record_build()), right after the key */
	idn_slice handle;          /* the handle as given; borrows the line or the context */
	const proto_value *values; /* the values, in line order; borrowed likewise */
	uint32_t nvalues;
} import_out;

/* A context, or NULL when out of memory. opts is copied. */
import_ctx *import_new(const import_opts *opts);
void import_free(import_ctx *c);

/*
 * Parses line[0 .. len) (without its newline). Returns:
 *   IDN_OK        *out is filled: alloc(arg, n) was called once, and the key
 *                 and record fill its first out->key.len + out->record.len
 *                 bytes (n may be a little more);
 *   IMPORT_BLANK  nothing but whitespace: nothing to store, not an error;
 *   IDN_EINVAL    the line is wrong: import_msg() says why;
 *   IDN_ENOMEM    the context could not grow, or alloc returned NULL.
 * out's handle and values live until the next call on c and as long as line.
 */
int import_line(import_ctx *c, const void *line, size_t len, import_alloc_fn alloc, void *arg,
                import_out *out);

/*
 * The storage key of line[0 .. len) without parsing the rest of it, for a
 * line that starts {"handle":"..." with no escape in the handle: writes it
 * into key (HANDLE_KEY_MAX bytes) and returns its length, the key
 * import_line() would make. 0 for any other line (a handle given later or
 * with escapes, a handle import_line() refuses, not JSON): only
 * import_line() can tell. It does not check the rest of the line.
 */
size_t import_key(const import_ctx *c, const void *line, size_t len, uint8_t *key);

/* After IDN_EINVAL: "FIELD: reason"; valid until the next call on c. */
const char *import_msg(const import_ctx *c);

/*
 * After IDN_EINVAL: true when the line is not valid JSON. The message is then
 * "invalid JSON at column N: ...", or "FIELD: not valid UTF-8" when the first
 * fault is a string field that is not UTF-8 (naming the field helps more).
 */
bool import_bad_json(const import_ctx *c);

/* Writes "FILE:LINE: MSG" into buf (cut to cap); returns what snprintf returns. */
int import_format(char *buf, size_t cap, const char *file, uint64_t line, const char *msg);

#endif
