/*
 * test_gs1_rules.c - the GS1.RULE values a GS1-conformant gateway reads from
 * its registry records (src/api/api_gs1_rules.c, api_gs1_rule_parse): the
 * accepted forms ("GCP TEMPLATE", "GCP KEY TEMPLATE"), the key found in the
 * template, and each malformed value refused with its reason; the rules
 * parsed are then the ones gs1_rule_find and gs1_rule_apply use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/reply.h"

static int parse(const char *s, gs1_rule *r, char *err, size_t errlen)
{
	return api_gs1_rule_parse(idn_slice_of(s, strlen(s)), r, err, errlen);
}

static void test_accepted_forms(void **state)
{
	(void)state;
	gs1_rule r;
	char err[256];
	assert_int_equal(parse("0614141 88.100.1/01.{01}.21.{21}", &r, err, sizeof(err)), 0);
	assert_string_equal(r.gcp, "0614141");
	assert_string_equal(r.key, "01");
	assert_string_equal(r.tmpl, "88.100.1/01.{01}.21.{21}");
	/* The key is the template's first placeholder that is a primary key. */
	assert_int_equal(parse("  9520123   88.100.1/L.{10}.G.{01}  ", &r, err, sizeof(err)), 0);
	assert_string_equal(r.key, "01");
	assert_int_equal(parse("0614141 8004 88.100.1/ASSET.{8004}", &r, err, sizeof(err)), 0);
	assert_string_equal(r.key, "8004");
	assert_string_equal(r.tmpl, "88.100.1/ASSET.{8004}");
	assert_false(api_gs1_rule_is_search(&r));
	/* A search rule: the key given, the prefix digits and dots. */
	assert_int_equal(parse("0614141 01 search:88.100.1", &r, err, sizeof(err)), 0);
	assert_string_equal(r.key, "01");
	assert_string_equal(r.tmpl, "search:88.100.1");
	assert_true(api_gs1_rule_is_search(&r));
	assert_null(api_gs1_rule_handled_by(&r));
	/* A handledBy rule: the key given, an absolute http(s) URL. */
	assert_int_equal(
	    parse("952001 01 handledBy:https://r.example.com/dl", &r, err, sizeof(err)), 0);
	assert_string_equal(r.key, "01");
	assert_string_equal(api_gs1_rule_handled_by(&r), "https://r.example.com/dl");
	assert_false(api_gs1_rule_is_search(&r));
}

static void test_refused_with_reason(void **state)
{
	(void)state;
	static const struct {
		const char *value, *why;
	} bad[] = {
	    {"", "expected \"GCP TEMPLATE\""},
	    {"0614141", "expected \"GCP TEMPLATE\""},
	    {"0614141 01 88.100.1/01.{01} extra", "expected \"GCP TEMPLATE\""},
	    {"not a rule", "company prefix 'not'"},
	    {"12345678901234567 88.100.1/01.{01}", "GCP"},
	    {"1234567890123456 88.100.1/01.{01}", "GCP"}, /* the field's size, and one less */
	    {"123456789012345 88.100.1/01.{01}", "not 1 to 12 digits"},
	    {"0614141 80041 88.100.1/ASSET.{8004}", "KEY"}, /* one over the longest AI */
	    {"06A4141 88.100.1/01.{01}", "company prefix"},
	    {"0614141 88.100.1/SERIAL.{21}", "names no GS1 primary key"},
	    {"0614141 01 88.100.1/SERIAL.{21}", "01"},
	    {"0614141 99999 88.100.1/01.{01}", "KEY"},
	    {"0614141 01 01.{01}", "prefix"},
	    {"0614141 search:88.100.1", "names no GS1 primary key"},
	    {"0614141 01 search:", "search:PREFIX"},
	    {"0614141 01 search:88.100.1/x", "search:PREFIX"},
	    {"0614141 99999 search:88.100.1", "KEY"},
	    {"0614141 21 search:88.100.1", "not a GS1 Digital Link primary key"},
	    {"952001 handledBy:https://r.example.com", "names no GS1 primary key"},
	    {"952001 01 handledBy:", "handledBy:URL"},
	    {"952001 01 handledBy:ftp://r.example.com", "handledBy:URL"},
	    {"952001 01 handledBy:https://r.example.com/?a=1", "handledBy:URL"},
	    {"952001 21 handledBy:https://r.example.com", "not a GS1 Digital Link primary key"},
	    {"95A001 01 handledBy:https://r.example.com", "company prefix"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		gs1_rule r;
		char err[256] = "";
		if (parse(bad[i].value, &r, err, sizeof(err)) != -1)
			fail_msg("accepted \"%s\"", bad[i].value);
		if (!strstr(err, bad[i].why))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", bad[i].value, err,
			         bad[i].why);
	}
}

static void test_parsed_rules_map_keys(void **state)
{
	(void)state;
	gs1_rule rules[2];
	char err[256], h[256];
	assert_int_equal(parse("0614141 88.100.1/01.{01}.21.{21}", &rules[0], err, sizeof(err)), 0);
	assert_int_equal(parse("06141 88.200.1/G.{01}.S.{21}", &rules[1], err, sizeof(err)), 0);
	gs1_dl dl;
	assert_int_equal(gs1_dl_parse("/01/00614141123452/21/A%2F1", &dl, err, sizeof(err)), 0);
	const gs1_rule *r = gs1_rule_find(rules, 2, &dl); /* the longest company prefix */
	assert_ptr_equal(r, &rules[0]);
	assert_true(gs1_rule_apply(r, &dl, h, sizeof(h)) > 0);
	assert_string_equal(h, "88.100.1/01.00614141123452.21.A%2F1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted_forms),
	    cmocka_unit_test(test_refused_with_reason),
	    cmocka_unit_test(test_parsed_rules_map_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
