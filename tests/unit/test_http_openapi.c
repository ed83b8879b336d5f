/*
 * test_http_openapi.c - the embedded OpenAPI document says what the server
 * does: every route of the route table is a documented path and method, and
 * every documented path and method is served (by the table, or by the two
 * routes outside it: POST application/x-hdl-message and the GET /{handle}
 * proxy).
 */
#include <ctype.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/routes.h"

static json_t *load_doc(void)
{
	idn_slice d = api_openapi_json();
	json_error_t err;
	json_t *doc = json_loadb((const char *)d.p, d.len, 0, &err);
	if (!doc)
		fail_msg("openapi.json: line %d: %s", err.line, err.text);
	return doc;
}

static void lower(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = 0;
}

/* Does a documented path serve a route: equal, or for a prefix route, longer. */
static bool covers(const char *doc_path, const char *route, bool prefix)
{
	size_t n = strlen(route);
	if (prefix)
		return strlen(doc_path) > n && !strncmp(doc_path, route, n);
	return !strcmp(doc_path, route);
}

static void test_document_is_openapi3(void **state)
{
	(void)state;
	json_t *doc = load_doc();
	const char *v = json_string_value(json_object_get(doc, "openapi"));
	assert_non_null(v);
	assert_true(!strncmp(v, "3.", 2));
	assert_true(json_is_object(json_object_get(doc, "paths")));
	json_decref(doc);
}

static void test_every_route_documented(void **state)
{
	(void)state;
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");
	const char *method, *path;
	bool prefix;
	size_t n = 0;
	for (size_t i = 0; api_route_at(i, &method, &path, &prefix); i++, n++) {
		char m[16];
		lower(method, m, sizeof(m));
		const char *dp;
		json_t *ops;
		bool found = false;
		json_object_foreach(paths, dp, ops)
		{
			if (covers(dp, path, prefix) && json_object_get(ops, m))
				found = true;
		}
		if (!found)
			fail_msg("route %s %s%s is not in openapi.json", method, path,
			         prefix ? "{...}" : "");
	}
	assert_true(n >= 10);
	json_decref(doc);
}

static void test_every_documented_path_served(void **state)
{
	(void)state;
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");
	const char *dp, *m;
	json_t *ops, *op;
	json_object_foreach(paths, dp, ops)
	{
		json_object_foreach(ops, m, op)
		{
			bool served =
			    (!strcmp(dp, "/{handle}") && !strcmp(m, "get")) ||
			    (!strcmp(dp, "/") && !strcmp(m, "post") &&
			     json_object_get(
			         json_object_get(json_object_get(op, "requestBody"), "content"),
			         "application/x-hdl-message"));
			const char *method, *path;
			bool prefix;
			for (size_t i = 0; !served && api_route_at(i, &method, &path, &prefix);
			     i++) {
				char lm[16];
				lower(method, lm, sizeof(lm));
				served = !strcmp(lm, m) && covers(dp, path, prefix);
			}
			if (!served)
				fail_msg("openapi.json documents %s %s, which no route serves", m,
				         dp);
		}
	}
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_document_is_openapi3),
	    cmocka_unit_test(test_every_route_documented),
	    cmocka_unit_test(test_every_documented_path_served),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
