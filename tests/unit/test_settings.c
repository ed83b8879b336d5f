/*
 * test_settings.c - the settings table (server/settings.h): every row is
 * documented, its flags and INI keys unique, its defaults within bounds;
 * and max_connections, the row added to show that a new setting is one
 * row: its help, its flag, its INI key, its bounds, flag over file; the
 * documents made from the table (settings_doc.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/settings.h"

/* What a call wrote to its FILE. */
typedef struct capture {
	FILE *f;
	char *text;
	size_t len;
} capture;

static void capture_open(capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
}

static const char *capture_text(capture *c)
{
	fflush(c->f);
	return c->text;
}

static void capture_close(capture *c)
{
	fclose(c->f);
	free(c->text);
}

/* An INI file holding text; its path in path (PATH_MAX). */
static void ini_file(char *path, const char *text)
{
	strcpy(path, "/tmp/idn-test-settings-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* settings_parse_serve over a NULL-terminated argument list. */
static int parse(server_settings *s, capture *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "serve";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return settings_parse_serve(s, argc, argv, err->f, err->f);
}

/*
 * An INI file of text (its path left in path, 64 bytes), parsed as "-c path"
 * and then flag value when flag is not NULL; the file is gone after.
 */
static int parse_ini(server_settings *s, capture *err, char *path, const char *text,
                     const char *flag, const char *value)
{
	ini_file(path, text);
	int ret = parse(s, err, (const char *[]){"-c", path, flag, value, NULL});
	unlink(path);
	return ret;
}

static void test_rows_are_whole(void **state)
{
	(void)state;
	for (size_t i = 0; i < settings_nrows; i++) {
		const setting_row *r = &settings_rows[i];
		assert_non_null(r->help);
		assert_true(r->help[0] != 0);
		assert_true(r->flag || r->ini);
		assert_true(r->scope != 0);
		/* a flag with an argument names it, a switch has none */
		if (r->flag)
			assert_true((r->arg != NULL) == (r->type != SETTING_BOOL));
		if (r->type == SETTING_UINT || r->type == SETTING_ULONG ||
		    r->type == SETTING_BOOL || r->type == SETTING_CHOICE) {
			assert_true(r->min <= r->def);
			assert_true(r->def <= r->max);
		}
		if (r->type == SETTING_UINT)
			assert_true(r->max <= 0xFFFFFFFFul);
		/* server/reload.c takes new values of these types only, from the file */
		if (r->reload)
			assert_true(r->ini && (r->type == SETTING_STR || r->type == SETTING_UINT ||
			                       r->type == SETTING_ULONG));
		for (size_t j = i + 1; j < settings_nrows; j++) {
			const setting_row *o = &settings_rows[j];
			if (r->flag && o->flag)
				assert_string_not_equal(r->flag, o->flag);
			if (r->short_flag && o->short_flag)
				assert_int_not_equal(r->short_flag, o->short_flag);
			const char *ka[] = {r->ini, r->alias}, *kb[] = {o->ini, o->alias};
			for (int a = 0; a < 2; a++)
				for (int b = 0; b < 2; b++)
					if (ka[a] && kb[b])
						assert_string_not_equal(ka[a], kb[b]);
		}
	}
}

/* Every row is in the usage: its flag, or for a file-only row its key. */
static void test_usage_has_every_row(void **state)
{
	(void)state;
	capture out;
	capture_open(&out);
	settings_usage_serve(out.f);
	const char *u = capture_text(&out);
	for (size_t i = 0; i < settings_nrows; i++) {
		const setting_row *r = &settings_rows[i];
		char want[96];
		if (r->flag)
			snprintf(want, sizeof(want), "--%s", r->flag);
		else
			snprintf(want, sizeof(want), "%s =", r->ini);
		assert_non_null(strstr(u, want));
	}
	assert_non_null(strstr(u, "--max-connections N"));
	assert_non_null(strstr(u, "TCP and HTTP(S) connections open at once"));
	capture_close(&out);
}

static void test_defaults(void **state)
{
	(void)state;
	server_settings s;
	capture err;
	capture_open(&err);
	assert_int_equal(parse(&s, &err, (const char *[]){"--data", "/tmp/x", NULL}), SETTINGS_OK);
	assert_int_equal(s.max_connections, 0);
	assert_int_equal(s.case_sensitive, 1);
	assert_int_equal(s.group_commit, 1);
	assert_int_equal(s.site_serial, 1);
	assert_int_equal(s.server_id, 1);
	assert_int_equal(s.listen.n, 1);
	assert_string_equal(s.listen.v[0], ":2641");
	settings_free(&s);
	capture_close(&err);
}

static void test_flag_and_file_set_it(void **state)
{
	(void)state;
	server_settings s;
	capture err;
	char path[64];
	capture_open(&err);

	/* the flag */
	assert_int_equal(
	    parse(&s, &err, (const char *[]){"--data", "/tmp/x", "--max-connections", "9", NULL}),
	    SETTINGS_OK);
	assert_int_equal(s.max_connections, 9);
	settings_free(&s);

	/* the INI key */
	const char *ini = "[server]\ndata = /tmp/x\nmax_connections = 7\n";
	assert_int_equal(parse_ini(&s, &err, path, ini, NULL, NULL), SETTINGS_OK);
	assert_int_equal(s.max_connections, 7);
	settings_free(&s);

	/* the flag over the file; the file's other settings stay */
	assert_int_equal(parse_ini(&s, &err, path, ini, "--max-connections", "9"), SETTINGS_OK);
	assert_int_equal(s.max_connections, 9);
	assert_string_equal(s.data, "/tmp/x");
	settings_free(&s);
	capture_close(&err);
}

static void test_out_of_range_is_refused(void **state)
{
	(void)state;
	server_settings s;
	capture err;
	char path[64];

	capture_open(&err);
	assert_int_equal(
	    parse(&s, &err,
	          (const char *[]){"--data", "/tmp/x", "--max-connections", "1000001", NULL}),
	    SETTINGS_BAD);
	assert_non_null(strstr(capture_text(&err), "--max-connections: max_connections: "
	                                           "'1000001' is not a number 0..1000000"));
	settings_free(&s);
	capture_close(&err);

	capture_open(&err);
	assert_int_equal(parse_ini(&s, &err, path,
	                           "[server]\ndata = /tmp/x\nmax_connections = lots\n", NULL, NULL),
	                 SETTINGS_BAD);
	const char *e = capture_text(&err);
	char want[128];
	snprintf(want, sizeof(want), "%s: max_connections: 'lots' is not a number", path);
	assert_non_null(strstr(e, want));
	snprintf(want, sizeof(want), "%s:3: invalid setting", path);
	assert_non_null(strstr(e, want));
	settings_free(&s);
	capture_close(&err);
}

static void test_unknown_key_and_section(void **state)
{
	(void)state;
	server_settings s;
	capture err;
	char path[64];
	capture_open(&err);
	assert_int_equal(
	    parse_ini(&s, &err, path, "data = /tmp/x\nmax_conections = 3\n", NULL, NULL),
	    SETTINGS_BAD);
	assert_non_null(strstr(capture_text(&err), "unknown setting 'max_conections'"));
	settings_free(&s);
	capture_close(&err);

	capture_open(&err);
	assert_int_equal(parse_ini(&s, &err, path, "[client]\ndata = /tmp/x\n", NULL, NULL),
	                 SETTINGS_BAD);
	assert_non_null(strstr(capture_text(&err), "unknown section [client]"));
	settings_free(&s);
	capture_close(&err);

	/* A line inih itself refuses is named, not referred to an error never printed. */
	capture_open(&err);
	assert_int_equal(parse_ini(&s, &err, path, "data = /tmp/x\nthreads\n", NULL, NULL),
	                 SETTINGS_BAD);
	assert_non_null(strstr(capture_text(&err), ":2: not a 'key = value' line"));
	assert_null(strstr(capture_text(&err), "see above"));
	settings_free(&s);
	capture_close(&err);
}

/* Switches, aliases, and a list flag replacing the file's list. */
static void test_switches_aliases_lists(void **state)
{
	(void)state;
	server_settings s;
	capture err;
	char path[64];
	capture_open(&err);
	ini_file(path, "data = /tmp/x\ngroup_commit = yes\ncase_sensitive = yes\n"
	               "server_admins = 300:0.NA/88\nlisten = :1\nlisten = :2\n");
	assert_int_equal(parse(&s, &err,
	                       (const char *[]){"-c", path, "--no-group-commit",
	                                        "--case-insensitive", "--listen", ":3", NULL}),
	                 SETTINGS_OK);
	assert_int_equal(s.group_commit, 0);
	assert_int_equal(s.case_sensitive, 0);
	assert_int_equal(s.server_admin.n, 1);
	assert_int_equal(s.listen.n, 1);
	assert_string_equal(s.listen.v[0], ":3");
	settings_free(&s);
	unlink(path);
	capture_close(&err);
}

/* A choice takes one of its names in any case, or its index; anything else is named. */
/* idnode.conf(5) has a .TP entry per key, the example file a commented line per key. */
static void test_documents_have_every_key(void **state)
{
	(void)state;
	capture man, ini;
	capture_open(&man);
	settings_doc(man.f, SETTINGS_DOC_MAN, "9.9", "2026-01-02");
	capture_open(&ini);
	settings_doc(ini.f, SETTINGS_DOC_INI, "9.9", "2026-01-02");
	const char *mt = capture_text(&man), *it = capture_text(&ini);
	assert_non_null(strstr(mt, ".TH IDNODE.CONF 5 \"2026-01-02\" \"idnode 9.9\""));
	size_t keys = 0;
	for (size_t i = 0; i < settings_nrows; i++) {
		const setting_row *r = &settings_rows[i];
		if (!r->ini)
			continue;
		char want[128];
		snprintf(want, sizeof(want), ".TP\n.B %s\n", r->ini);
		assert_non_null(strstr(mt, want));
		snprintf(want, sizeof(want), "\n#%s = ", r->ini);
		assert_non_null(strstr(it, want));
		keys++;
	}
	size_t tp = 0;
	for (const char *p = mt; (p = strstr(p, ".TP\n.B ")); p++)
		tp++;
	assert_int_equal(tp, keys);
	/* defaults: a row's own, and one the help gives */
	assert_non_null(strstr(it, "\n#udp_answer_max = 1232\n"));
	assert_non_null(strstr(it, "\n#max_tcp_conns = 4096\n"));
	assert_non_null(strstr(it, "\n#site_hash = prefix\n"));
	assert_non_null(strstr(mt, "Reloaded on SIGHUP."));
	capture_close(&man);
	capture_close(&ini);
}

static void test_choices(void **state)
{
	(void)state;
	server_settings s;
	capture err;
	char path[64];
	capture_open(&err);
	assert_int_equal(parse_ini(&s, &err, path, "data = /tmp/x\nsite_hash = Suffix\n",
	                           "--national-codes", "ids"),
	                 SETTINGS_OK);
	assert_int_equal(s.site_hash, 1);
	assert_int_equal(s.national_codes, 1);
	settings_free(&s);
	assert_int_equal(
	    parse(&s, &err, (const char *[]){"--data", "/tmp/x", "--site-hash", "2", NULL}),
	    SETTINGS_OK);
	assert_int_equal(s.site_hash, 2);
	assert_int_equal(s.national_codes, 0);
	settings_free(&s);
	capture_close(&err);

	capture_open(&err);
	assert_int_equal(
	    parse(&s, &err, (const char *[]){"--data", "/tmp/x", "--national-codes", "gb", NULL}),
	    SETTINGS_BAD);
	assert_non_null(strstr(capture_text(&err), "national_codes: 'gb' is not ips|ids|handle"));
	settings_free(&s);
	capture_close(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows_are_whole),
	    cmocka_unit_test(test_usage_has_every_row),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_flag_and_file_set_it),
	    cmocka_unit_test(test_out_of_range_is_refused),
	    cmocka_unit_test(test_unknown_key_and_section),
	    cmocka_unit_test(test_switches_aliases_lists),
	    cmocka_unit_test(test_choices),
	    cmocka_unit_test(test_documents_have_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
