/*
 * test_gs1.c - GS1 Digital Link (gs1/gs1.h): the AI table, the URIs of
 * tests/gs1/uris.txt (the standard's examples and ABNF paths, and invalid
 * URIs with the error each must give; the same table digital-link.js checks
 * in tests/gs1/crosscheck.mjs), check digits and pairs, the canonical URI,
 * bounds, and the rules that map a GS1 key to a handle and back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gs1/gs1.h"

static gs1_dl dl, dl2;
static char err[256];

/* "01=… 10=… 17=… linkType=…": dl's elements as uris.txt writes them. */
static void elems(const gs1_dl *d, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	o += (size_t)snprintf(buf + o, len - o, "%s=%s", d->key.ai, d->key.value);
	for (int i = 0; i < d->nqual; i++)
		o += (size_t)snprintf(buf + o, len - o, " %s=%s", d->qual[i].ai, d->qual[i].value);
	for (int i = 0; i < d->nattr; i++)
		o += (size_t)snprintf(buf + o, len - o, " %s=%s", d->attr[i].ai, d->attr[i].value);
	for (int i = 0; i < d->nother; i++)
		o += (size_t)snprintf(buf + o, len - o, " %s=%s", d->other[i].key,
		                      d->other[i].value);
}

static void test_table(void **state)
{
	(void)state;
	assert_null(gs1_table_error());
	assert_true(gs1_ai_count() > 400); /* ranges such as 3100-3105 expanded */
	const gs1_ai *gtin = gs1_ai_find("01");
	assert_non_null(gtin);
	assert_true(gtin->key);
	assert_int_equal(gtin->nseq, 2); /* 22,10,21 | 235 */
	assert_int_equal(gtin->seqlen[0], 3);
	assert_string_equal(gtin->seq[0][1], "10");
	assert_string_equal(gtin->seq[1][0], "235");
	assert_int_equal(gtin->comp[0].max, 14);
	assert_int_equal(gtin->comp[0].check, 'c');
	const gs1_ai *ser = gs1_ai_find("21");
	assert_false(ser->key);
	assert_false(ser->attr);
	assert_true(gs1_ai_qualifies("21"));
	assert_false(gs1_ai_qualifies("17"));
	assert_non_null(gs1_ai_find("3103"));
	assert_null(gs1_ai_find("3106"));
	assert_null(gs1_ai_find("9999"));
	assert_string_equal(gs1_ai_find("8013")->title, "GMN");
	assert_int_equal(gs1_ai_find("8013")->comp[0].check, 'k');
}

/* Every line of tests/gs1/uris.txt: valid ones give the expected elements and
 * survive a round trip through gs1_dl_build; invalid ones the expected error. */
static void test_uris_table(void **state)
{
	(void)state;
	const char *src = getenv("IDN_SRC");
	char path[512], line[8192], got[4096], uri[GS1_URI_MAX + 1], back[4096];
	snprintf(path, sizeof path, "%s/tests/gs1/uris.txt", src ? src : ".");
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	int ok = 0, bad = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *save = NULL;
		char *outcome = strtok_r(line, "\t", &save);
		char *u = strtok_r(NULL, "\t", &save);
		char *expect = strtok_r(NULL, "\t", &save);
		assert_non_null(expect);
		snprintf(uri, sizeof uri, "%s", u);
		int r = gs1_dl_parse(uri, &dl, err, sizeof err);
		if (strcmp(outcome, "ok") == 0) {
			if (r != 0)
				fail_msg("%s: %s", uri, err);
			elems(&dl, got, sizeof got);
			if (strcmp(got, expect) != 0)
				fail_msg("%s: got %s, want %s", uri, got, expect);
			assert_true(gs1_dl_build(&dl, back, sizeof back) > 0);
			if (gs1_dl_parse(back, &dl2, err, sizeof err) != 0)
				fail_msg("%s: built %s: %s", uri, back, err);
			elems(&dl2, back, sizeof back);
			assert_string_equal(back, got);
			ok++;
		} else {
			assert_string_equal(outcome, "bad");
			if (r == 0)
				fail_msg("%s: accepted, want error '%s'", uri, expect);
			if (!strstr(err, expect))
				fail_msg("%s: error '%s', want '%s'", uri, err, expect);
			bad++;
		}
	}
	fclose(f);
	assert_true(ok >= 30);
	assert_true(bad >= 30);
}

/* GS1 General Specifications, "Check digit calculation": GTIN-14
 * 0952012345678(8), SSCC 10614141123456789(7), GLN 952012345678(8). */
static void test_mod10(void **state)
{
	(void)state;
	assert_int_equal(gs1_mod10("0952012345678", 13), 8);
	assert_int_equal(gs1_mod10("10614141123456789", 17), 7);
	assert_int_equal(gs1_mod10("952012345678", 12), 8);
	assert_int_equal(gs1_mod10("1234567", 7), 0);
}

/* General Specifications, "Check character calculation (for alphanumeric
 * keys)": the GMN example 1987654Ad4X4bL5ttr2310c with its pair 2K, and
 * other pairs worked the same way. */
static void test_check_pair(void **state)
{
	(void)state;
	const gs1_ai *gmn = gs1_ai_find("8013");
	static const char *const good[] = {"1987654Ad4X4bL5ttr2310c2K", "12345678901234567890123NT",
	                                   "12345_ABCDEFGHIJKLMCP", "7907665Bm8v2AB", "00000!HV"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (gs1_ai_check(gmn, good[i], err, sizeof err) != 0)
			fail_msg("%s: %s", good[i], err);
	assert_int_equal(gs1_ai_check(gmn, "1987654Ad4X4bL5ttr2310c2X", err, sizeof err), -1);
	assert_string_equal(err, "8013: check characters 2K expected, got 2X");
	assert_int_equal(gs1_ai_check(gmn, "2K", err, sizeof err), -1);
}

/* The messages name the element and what was wrong. */
static void test_value_errors(void **state)
{
	(void)state;
	assert_int_equal(gs1_ai_check(gs1_ai_find("253"), "952012345678", err, sizeof err), -1);
	assert_string_equal(err, "253: too short (12 characters; 13 digits then optionally 1 to "
	                         "17 characters)");
	assert_int_equal(gs1_ai_check(gs1_ai_find("21"), "", err, sizeof err), -1);
	assert_string_equal(err, "21: empty value");
	/* the rest of the invalid URIs are in tests/gs1/uris.txt */
	static const char *const empty[] = {"", "https://", "http://x", "/"};
	for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++)
		assert_int_equal(gs1_dl_parse(empty[i], &dl, err, sizeof err), -1);
}

/* Every bound of the parser answers an error, not an overflow. */
static void test_bounds(void **state)
{
	(void)state;
	static char big[GS1_URI_MAX + 64];
	size_t o = (size_t)snprintf(big, sizeof big, "https://example.com");
	while (o < GS1_URI_MAX)
		o += (size_t)snprintf(big + o, sizeof big - o, "/a");
	strcat(big, "/01/09520123456788");
	assert_int_equal(gs1_dl_parse(big, &dl, err, sizeof err), -1);
	assert_string_equal(err, "longer than 4096 characters");

	o = (size_t)snprintf(big, sizeof big, "https://example.com");
	for (int i = 0; i < 70; i++)
		o += (size_t)snprintf(big + o, sizeof big - o, "/s");
	strcat(big, "/01/09520123456788");
	assert_int_equal(gs1_dl_parse(big, &dl, err, sizeof err), -1);
	assert_string_equal(err, "path: more than 64 segments");

	/* the stem leaves room for the key and three qualifiers */
	o = (size_t)snprintf(big, sizeof big, "https://example.com");
	for (int i = 0; i < 57; i++)
		o += (size_t)snprintf(big + o, sizeof big - o, "/s");
	strcat(big, "/01/09520123456788");
	assert_int_equal(gs1_dl_parse(big, &dl, err, sizeof err), -1);
	assert_string_equal(err, "stem: more than 56 path segments");

	o = (size_t)snprintf(big, sizeof big, "https://example.com/%0600d/01/09520123456788", 0);
	assert_int_equal(gs1_dl_parse(big, &dl, err, sizeof err), -1);
	assert_string_equal(err, "stem: longer than 512 characters");

	o = (size_t)snprintf(big, sizeof big, "/01/09520123456788?");
	for (int i = 0; i < 17; i++)
		o += (size_t)snprintf(big + o, sizeof big - o, "%sk%d=v", i ? "&" : "", i);
	assert_int_equal(gs1_dl_parse(big, &dl, err, sizeof err), -1);
	assert_string_equal(err, "query: more than 16 other parameters");

	o = (size_t)snprintf(big, sizeof big, "/01/09520123456788?lang=%0300d", 0);
	assert_int_equal(gs1_dl_parse(big, &dl, err, sizeof err), -1);
	assert_string_equal(err, "lang: too long (more than 256 characters)");

	o = (size_t)snprintf(big, sizeof big, "/01/09520123456788/21/%%41%0100d", 0);
	assert_int_equal(gs1_dl_parse(big, &dl, err, sizeof err), -1);
	assert_string_equal(err, "21: too long (more than 90 characters)");
}

/* The canonical URI: qualifiers in the standard's order, values
 * percent-encoded, id.gs1.org when there is no stem. */
static void test_build(void **state)
{
	(void)state;
	char out[1024];
	assert_int_equal(gs1_dl_parse("/01/09520123456788/10/AB%2F1/21/x%3Ay?17=201231&linkType="
	                              "gs1%3Apip",
	                              &dl, err, sizeof err),
	                 0);
	assert_string_equal(dl.stem, "");
	assert_true(gs1_dl_build(&dl, out, sizeof out) > 0);
	assert_string_equal(out,
	                    "https://id.gs1.org/01/09520123456788/10/AB%2F1/21/x%3Ay?17=201231&"
	                    "linkType=gs1%3Apip");
	/* qualifiers given out of order are written in order */
	gs1_elem q = dl.qual[0];
	dl.qual[0] = dl.qual[1];
	dl.qual[1] = q;
	assert_true(gs1_dl_build(&dl, out, sizeof out) > 0);
	assert_non_null(strstr(out, "/10/AB%2F1/21/x%3Ay?"));
	assert_int_equal(gs1_dl_build(&dl, out, 20), -1);
	assert_true(gs1_dl_json(&dl, out, sizeof out) > 0);
	assert_non_null(strstr(out, "\"key\":{\"ai\":\"01\",\"title\":\"GTIN\",\"value\":"
	                            "\"09520123456788\"}"));
	assert_non_null(strstr(out, "\"other\":{\"linkType\":\"gs1:pip\"}"));
	assert_int_equal(gs1_dl_json(&dl, out, 30), -1);
}

static gs1_rule rule(const char *gcp, const char *key, const char *tmpl)
{
	gs1_rule r;
	memset(&r, 0, sizeof r);
	snprintf(r.gcp, sizeof r.gcp, "%s", gcp);
	snprintf(r.key, sizeof r.key, "%s", key);
	snprintf(r.tmpl, sizeof r.tmpl, "%s", tmpl);
	return r;
}

static void test_rule_check(void **state)
{
	(void)state;
	static const struct {
		const char *gcp, *key, *tmpl, *err; /* err NULL: a good rule */
	} cases[] = {
	    {"952012", "01", "88.100.1/01.{01}.21.{21}", NULL},
	    {"95x", "01", "88.100.1/{01}", "rule: company prefix '95x' is not 1 to 12 digits"},
	    {"952", "21", "88.100.1/{21}", "rule: 21 is not a GS1 Digital Link primary key"},
	    {"952", "01", "{01}/x", "rule: template '{01}/x' does not start with a handle prefix"},
	    {"952", "01", "88.100.1/{10}", "rule: template '88.100.1/{10}' lacks the key {01}"},
	    {"952", "01", "88.100.1/{01}{21}", "rule: {21} follows another placeholder"},
	    {"952", "01", "88.100.1/{01}.{9999}",
	     "rule: {9999} is not a GS1 application identifier"},
	    {"952", "01", "88.100.1/{01", "rule: bad placeholder in '88.100.1/{01'"},
	    {"952", "01", "88.100.1/01}", "rule: '}' without '{'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		gs1_rule r = rule(cases[i].gcp, cases[i].key, cases[i].tmpl);
		int ret = gs1_rule_check(&r, err, sizeof err);
		assert_int_equal(ret, cases[i].err ? -1 : 0);
		if (cases[i].err && !strstr(err, cases[i].err))
			fail_msg("%s: error '%s', want '%s'", cases[i].tmpl, err, cases[i].err);
	}
}

/* The rule of the longest company prefix the key starts with (after a
 * GTIN's indicator digit), for the URI's key only. */
static void test_rule_find(void **state)
{
	(void)state;
	gs1_rule rules[] = {
	    rule("952", "01", "88.100.9/{01}"),
	    rule("9520123", "01", "88.100.1/01.{01}.21.{21}"),
	    rule("95201234", "01", "88.100.2/{01}"),
	    rule("9520123", "414", "88.100.3/{414}"),
	    rule("952012", "01", "88.100.4/{01}"),
	};
	assert_int_equal(gs1_dl_parse("/01/09520123456788/21/A1", &dl, err, sizeof err), 0);
	assert_ptr_equal(gs1_rule_find(rules, 5, &dl), &rules[2]); /* 95201234, not 9520123 */
	assert_int_equal(gs1_dl_parse("/01/09520123900007", &dl, err, sizeof err), 0);
	assert_ptr_equal(gs1_rule_find(rules, 5, &dl), &rules[1]); /* 9520123, not 952012 */
	assert_int_equal(gs1_dl_parse("/414/9520123456788", &dl, err, sizeof err), 0);
	assert_ptr_equal(gs1_rule_find(rules, 5, &dl), &rules[3]);
	assert_int_equal(gs1_dl_parse("/01/09530123456787", &dl, err, sizeof err), 0);
	assert_null(gs1_rule_find(rules, 5, &dl));
}

/* A key to a handle and back: placeholders by AI, values escaped so the
 * handle reads back, a rule that needs an AI the URI lacks not applying. */
static void test_rule_apply_and_match(void **state)
{
	(void)state;
	char h[256], uri[1024];
	gs1_rule r = rule("9520123", "01", "88.100.1/01.{01}.21.{21}");
	assert_int_equal(gs1_dl_parse("https://brand.example/01/09520123456788/10/L1/21/A.B%2F7%25",
	                              &dl, err, sizeof err),
	                 0);
	int n = gs1_rule_apply(&r, &dl, h, sizeof h);
	assert_int_equal(n, (int)strlen(h));
	/* / and % escaped; '.' ends no placeholder here, so it stays */
	assert_string_equal(h, "88.100.1/01.09520123456788.21.A.B%2F7%25");
	assert_int_equal(gs1_rule_match(&r, h, &dl2, err, sizeof err), 1);
	assert_string_equal(dl2.key.value, "09520123456788");
	assert_int_equal(dl2.nqual, 1);
	assert_string_equal(dl2.qual[0].ai, "21");
	assert_string_equal(dl2.qual[0].value, "A.B/7%");
	assert_true(gs1_dl_build(&dl2, uri, sizeof uri) > 0);
	assert_string_equal(uri, "https://id.gs1.org/01/09520123456788/21/A.B%2F7%25");
	/* handles compare case-insensitively: so does the prefix */
	assert_int_equal(
	    gs1_rule_match(&r, "88.100.1/01.09520123456788.21.x", &dl2, err, sizeof err), 1);
	/* the URI lacks 21: the rule does not apply */
	assert_int_equal(gs1_dl_parse("/01/09520123456788", &dl, err, sizeof err), 0);
	assert_int_equal(gs1_rule_apply(&r, &dl, h, sizeof h), 0);
	/* a rule for another key does not apply */
	gs1_rule sscc = rule("0614141", "00", "88.100.1/{00}");
	assert_int_equal(gs1_rule_apply(&sscc, &dl, h, sizeof h), 0);
	/* too small a buffer */
	assert_int_equal(gs1_dl_parse("/01/09520123456788/21/X", &dl, err, sizeof err), 0);
	assert_int_equal(gs1_rule_apply(&r, &dl, h, 10), -1);
	/* handles that do not match, and one that matches with a bad check digit */
	assert_int_equal(
	    gs1_rule_match(&r, "88.100.2/01.09520123456788.21.X", &dl2, err, sizeof err), 0);
	assert_int_equal(
	    gs1_rule_match(&r, "88.100.1/01.09520123456788.21.", &dl2, err, sizeof err), 0);
	assert_int_equal(gs1_rule_match(&r, "88.100.1/01.09520123456788", &dl2, err, sizeof err),
	                 0);
	assert_int_equal(
	    gs1_rule_match(&r, "88.100.1/02.09520123456788.21.X", &dl2, err, sizeof err), 0);
	/* the last placeholder takes the rest: a '.' in a serial */
	assert_int_equal(
	    gs1_rule_match(&r, "88.100.1/01.09520123456788.21.X.Y", &dl2, err, sizeof err), 1);
	assert_string_equal(dl2.qual[0].value, "X.Y");
	assert_int_equal(
	    gs1_rule_match(&r, "88.100.1/01.09520123456780.21.X", &dl2, err, sizeof err), -1);
	assert_string_equal(err, "01: check digit 8 expected, got 0");
	/* a '.' that ends a placeholder is escaped in its value, and reads back */
	gs1_rule r3 = rule("9520123", "01", "88.100.1/{10}.{01}");
	assert_int_equal(gs1_dl_parse("/01/09520123456788/10/A.B", &dl, err, sizeof err), 0);
	assert_true(gs1_rule_apply(&r3, &dl, h, sizeof h) > 0);
	assert_string_equal(h, "88.100.1/A%2EB.09520123456788");
	assert_int_equal(gs1_rule_match(&r3, h, &dl2, err, sizeof err), 1);
	assert_string_equal(dl2.qual[0].value, "A.B");
	/* a template with a qualifier and an attribute: placed where they belong */
	gs1_rule r2 = rule("9520123", "01", "88.100.1/{01}/{10}/exp-{17}");
	assert_int_equal(
	    gs1_rule_match(&r2, "88.100.1/09520123456788/L%2D1/exp-261231", &dl2, err, sizeof err),
	    1);
	assert_int_equal(dl2.nqual, 1);
	assert_string_equal(dl2.qual[0].value, "L-1");
	assert_int_equal(dl2.nattr, 1);
	assert_string_equal(dl2.attr[0].ai, "17");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),        cmocka_unit_test(test_uris_table),
	    cmocka_unit_test(test_mod10),        cmocka_unit_test(test_check_pair),
	    cmocka_unit_test(test_value_errors), cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_build),        cmocka_unit_test(test_rule_check),
	    cmocka_unit_test(test_rule_find),    cmocka_unit_test(test_rule_apply_and_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
