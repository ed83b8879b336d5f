/*
 * fuzz_import.c - any bytes as one line of `idnode load`, through
 * import_line(), and as one document through the JSON parser alone.
 *
 * Nothing may crash or read outside the line. A line that imports gives a
 * key and a record the store's own check accepts. And the parser's verdict
 * (valid JSON or not) must be jansson's, but for the differences json.h
 * documents (numbers too large for jansson, NUL in keys, the depth limit,
 * jansson skipping a raw NUL byte after a number or literal);
 * import_bad_json() must be the same verdict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/json.h"
#include "node/import.h"
#include "proto/record.h"

static import_ctx *ctx;

/* An exact-size block per result, so that ASan sees a write past it. */
static void *alloc_exact(void *arg, size_t len)
{
	void **p = arg;
	*p = malloc(len ? len : 1);
	return *p;
}

/* The parser's verdict on data as one document; *err is its error. */
static bool parser_ok(const uint8_t *data, size_t size, const char **err)
{
	uint8_t *scratch = malloc(size ? size : 1);
	jp j;
	jp_init(&j, data, size, scratch);
	int rc = jp_skip(&j);
	if (rc == IDN_OK) {
		jp_ws(&j);
		if (j.p != j.end)
			rc = jp_fail(&j, "text after the value");
	}
	*err = j.err;
	free(scratch);
	return rc == IDN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctx) {
		import_opts o = {.case_sensitive = true, .now = 1700000000};
		if (!(ctx = import_new(&o)))
			abort();
	}

	void *mem = NULL;
	import_out out;
	int rc = import_line(ctx, data, size, alloc_exact, &mem, &out);
	if (rc == IDN_OK) {
		if (out.key.len != out.handle.len || out.nvalues == 0 ||
		    record_check(out.record) != IDN_OK)
			abort();
	} else if (rc == IDN_EINVAL) {
		if (strnlen(import_msg(ctx), IMPORT_MSG_MAX) >= IMPORT_MSG_MAX)
			abort();
	} else if (rc != IMPORT_BLANK) {
		abort(); /* no IDN_ENOMEM with lines this small */
	}
	free(mem);

	const char *err = NULL;
	bool ours = parser_ok(data, size, &err);
	bool deep = !ours && strcmp(err, "nested too deeply") == 0;

	/* import_line's walk says "not JSON" exactly when the parser does. The
	 * line's skipped keys get the depth limit afresh, so depth is excluded. */
	if (!deep && rc != IMPORT_BLANK) {
		if (rc == IDN_OK && !ours)
			abort();
		if (rc == IDN_EINVAL && import_bad_json(ctx) == ours)
			abort();
	}

	json_error_t e;
	json_t *t = json_loadb((const char *)data, size,
	                       JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
	bool theirs = t != NULL;
	json_decref(t);
	if (ours == theirs || deep)
		return 0;
	if (theirs && memchr(data, 0, size))
		return 0; /* a raw NUL is never valid JSON: jansson's fault */
	if (!theirs) {
		enum json_error_code code = json_error_code(&e);
		if (code == json_error_numeric_overflow || code == json_error_stack_overflow ||
		    code == json_error_null_byte_in_key)
			return 0;
	}
	fprintf(stderr, "verdicts differ: ours %s (%s), jansson %s (%s)\n",
	        ours ? "valid" : "invalid", err ? err : "", theirs ? "valid" : "invalid",
	        theirs ? "" : e.text);
	abort();
}
