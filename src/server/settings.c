/*
 * settings.c - what the rows of settings_table.c are made into: defaults,
 * the value parsers, the INI reader, the flags, the flag-over-file merge,
 * the usage text and the checks between settings.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/settings.h"

#define FIELD(s, r, type) ((type *)((char *)(s) + (r)->field))

static size_t row_index(const setting_row *r)
{
	return (size_t)(r - settings_rows);
}

void settings_init(server_settings *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < settings_nrows; i++) {
		const setting_row *r = &settings_rows[i];
		if (r->type == SETTING_UINT)
			*FIELD(s, r, unsigned) = (unsigned)r->def;
		else if (r->type == SETTING_ULONG)
			*FIELD(s, r, unsigned long) = r->def;
		else if (r->type == SETTING_BOOL || r->type == SETTING_CHOICE)
			*FIELD(s, r, int) = (int)r->def;
	}
}

static void list_clear(settings_list *l)
{
	for (unsigned i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

void settings_free(server_settings *s)
{
	/* Two rows may fill one field (data and store): free each field once. */
	for (size_t i = 0; i < settings_nrows; i++) {
		const setting_row *r = &settings_rows[i];
		if (r->type == SETTING_STR || r->type == SETTING_FILE) {
			free(*FIELD(s, r, char *));
			*FIELD(s, r, char *) = NULL;
		} else if (r->type == SETTING_LIST) {
			list_clear(FIELD(s, r, settings_list));
		}
	}
}

static int parse_number(const setting_row *r, const char *where, const char *v, unsigned long *out,
                        const char *prog, FILE *err)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (!*v || *end || errno || x < r->min || x > r->max || v[0] == '-') {
		fprintf(err, "%s: %s: %s: '%s' is not a number %lu..%lu\n", prog, where, r->ini, v,
		        r->min, r->max);
		return -1;
	}
	*out = x;
	return 0;
}

/* A SETTING_CHOICE value: the index of the name it gives (any case) or the index itself; -1. */
static int parse_choice(const setting_row *r, const char *v)
{
	for (int i = 0; r->choices[i]; i++)
		if (!strcasecmp(v, r->choices[i]) || (v[0] == '0' + i && !v[1]))
			return i;
	return -1;
}

static int parse_bool(const setting_row *r, const char *where, const char *v, int *out,
                      const char *prog, FILE *err)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
	         !strcasecmp(v, "off"))
		*out = 0;
	else {
		fprintf(err, "%s: %s: %s: '%s' is not yes/no\n", prog, where, r->ini, v);
		return -1;
	}
	return 0;
}

static int list_add(settings_list *l, const setting_row *r, const char *where, const char *v,
                    const char *prog, FILE *err)
{
	if (l->n == SETTINGS_LIST_MAX) {
		fprintf(err, "%s: %s: at most %d %s settings\n", prog, where, SETTINGS_LIST_MAX,
		        r->ini);
		return -1;
	}
	l->v[l->n++] = strdup(v);
	return 0;
}

int settings_apply(server_settings *s, const setting_row *r, const char *where, const char *v,
                   const char *prog, FILE *err)
{
	unsigned long x;
	int b;
	switch (r->type) {
	case SETTING_STR:
	case SETTING_FILE:
		free(*FIELD(s, r, char *));
		*FIELD(s, r, char *) = strdup(v);
		break;
	case SETTING_LIST:
		if (list_add(FIELD(s, r, settings_list), r, where, v, prog, err))
			return -1;
		break;
	case SETTING_UINT:
		if (parse_number(r, where, v, &x, prog, err))
			return -1;
		*FIELD(s, r, unsigned) = (unsigned)x;
		break;
	case SETTING_ULONG:
		if (parse_number(r, where, v, &x, prog, err))
			return -1;
		*FIELD(s, r, unsigned long) = x;
		break;
	case SETTING_BOOL:
		if (parse_bool(r, where, v, &b, prog, err))
			return -1;
		*FIELD(s, r, int) = b;
		break;
	case SETTING_CHOICE:
		if ((b = parse_choice(r, v)) < 0) {
			fprintf(err, "%s: %s: %s: '%s' is not %s\n", prog, where, r->ini, v,
			        r->arg);
			return -1;
		}
		*FIELD(s, r, int) = b;
		break;
	}
	s->given[row_index(r)] = 1;
	return 0;
}

/* The row an INI key names (its key or alias), or NULL. */
static const setting_row *row_of_key(const char *key)
{
	for (size_t i = 0; i < settings_nrows; i++) {
		const setting_row *r = &settings_rows[i];
		if ((r->ini && !strcmp(r->ini, key)) || (r->alias && !strcmp(r->alias, key)))
			return r;
	}
	return NULL;
}

struct ini_ctx {
	server_settings *s;
	const char *path, *prog;
	FILE *err;
	bool said; /* the handler printed why it refused a line */
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ic = user;
	if (section[0] && strcmp(section, "server")) {
		fprintf(ic->err, "%s: %s: unknown section [%s]\n", ic->prog, ic->path, section);
		ic->said = true;
		return 0;
	}
	const setting_row *r = row_of_key(name);
	if (!r) {
		fprintf(ic->err, "%s: %s: unknown setting '%s'\n", ic->prog, ic->path, name);
		ic->said = true;
		return 0;
	}
	if (settings_apply(ic->s, r, ic->path, value, ic->prog, ic->err)) {
		ic->said = true;
		return 0;
	}
	return 1;
}

int settings_load_file(server_settings *s, const char *path, const char *prog, FILE *err)
{
	struct ini_ctx ic = {s, path, prog, err, false};
	int line = ini_parse(path, on_ini_line, &ic);
	if (line == -1) {
		fprintf(err, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	if (line != 0) {
		if (ic.said)
			fprintf(err, "%s: %s:%d: invalid setting (see above)\n", prog, path, line);
		else /* inih's own refusal: no '=' or ':', an unclosed [section] */
			fprintf(err, "%s: %s:%d: not a 'key = value' line or a [section]\n", prog,
			        path, line);
		return -1;
	}
	return 0;
}

void settings_merge(server_settings *file, server_settings *flags)
{
	for (size_t i = 0; i < settings_nrows; i++) {
		const setting_row *r = &settings_rows[i];
		if (!flags->given[i])
			continue;
		switch (r->type) {
		case SETTING_STR:
		case SETTING_FILE: {
			char **to = FIELD(file, r, char *), **from = FIELD(flags, r, char *);
			if (!*from)
				break; /* two rows of one field: moved by the other */
			free(*to);
			*to = *from;
			*from = NULL;
			break;
		}
		case SETTING_LIST: {
			settings_list *to = FIELD(file, r, settings_list);
			settings_list *from = FIELD(flags, r, settings_list);
			if (!from->n)
				break;
			list_clear(to);
			*to = *from;
			from->n = 0;
			break;
		}
		case SETTING_UINT:
			*FIELD(file, r, unsigned) = *FIELD(flags, r, unsigned);
			break;
		case SETTING_ULONG:
			*FIELD(file, r, unsigned long) = *FIELD(flags, r, unsigned long);
			break;
		case SETTING_BOOL:
		case SETTING_CHOICE:
			*FIELD(file, r, int) = *FIELD(flags, r, int);
			break;
		}
		file->given[i] = 1;
	}
}

size_t settings_options(unsigned scope, struct option *opts, size_t cap, char *shortopts,
                        size_t shortcap)
{
	size_t n = 0, ns = 0;
	for (size_t i = 0; i < settings_nrows && n + 2 < cap; i++) {
		const setting_row *r = &settings_rows[i];
		if (!r->flag || !(r->scope & scope))
			continue;
		int val = r->short_flag ? r->short_flag : SETTINGS_OPT_BASE + (int)i;
		opts[n++] = (struct option){
		    r->flag, r->type == SETTING_BOOL ? no_argument : required_argument, NULL, val};
		if (r->short_flag && ns + 3 < shortcap) {
			shortopts[ns++] = r->short_flag;
			shortopts[ns++] = ':';
		}
	}
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[n] = (struct option){NULL, 0, NULL, 0};
	if (ns + 1 < shortcap)
		shortopts[ns++] = 'h';
	shortopts[ns] = 0;
	return n;
}

int settings_take_option(server_settings *s, int opt, const char *arg, const char *prog, FILE *err)
{
	const setting_row *r = NULL;
	if (opt >= SETTINGS_OPT_BASE && (size_t)(opt - SETTINGS_OPT_BASE) < settings_nrows)
		r = &settings_rows[opt - SETTINGS_OPT_BASE];
	for (size_t i = 0; !r && opt > 0 && opt < 128 && i < settings_nrows; i++)
		if (settings_rows[i].short_flag == opt)
			r = &settings_rows[i];
	if (!r)
		return 0;
	if (r->type == SETTING_BOOL) {
		*FIELD(s, r, int) = r->flag_value;
		s->given[row_index(r)] = 1;
		return 1;
	}
	char where[64];
	snprintf(where, sizeof(where), "--%s", r->flag);
	return settings_apply(s, r, where, arg, prog, err) ? -1 : 1;
}

/* "(setting: key)" when the INI key is not the flag's name with '_' for '-'. */
static void usage_key(FILE *f, const setting_row *r)
{
	char from_flag[64] = "";
	for (size_t i = 0; r->flag && r->flag[i] && i + 1 < sizeof(from_flag); i++)
		from_flag[i] = r->flag[i] == '-' ? '_' : r->flag[i];
	if (!r->flag || !r->ini || (!strcmp(from_flag, r->ini) && !r->alias))
		return;
	fprintf(f, "%26s", "");
	fprintf(f, "(setting: %s%s%s)\n", r->ini, r->alias ? " or " : "", r->alias ? r->alias : "");
}

static void usage_row(FILE *f, const setting_row *r)
{
	int col;
	if (r->flag && r->short_flag)
		col = fprintf(f, "  -%c, --%s", r->short_flag, r->flag);
	else if (r->flag)
		col = fprintf(f, "      --%s", r->flag);
	else
		col = fprintf(f, "  %s =", r->ini);
	if (r->arg)
		col += fprintf(f, " %s", r->arg);
	if (col >= 25) {
		fprintf(f, "\n");
		col = 0;
	}
	for (const char *h = r->help, *nl; *h; h = nl + 1) {
		nl = strchr(h, '\n');
		int len = nl ? (int)(nl - h) : (int)strlen(h);
		fprintf(f, "%*s%.*s\n", 26 - col, "", len, h);
		col = 0;
		if (!nl)
			break;
	}
	usage_key(f, r);
}

void settings_usage_rows(FILE *f, unsigned scope)
{
	for (size_t i = 0; i < settings_nrows; i++)
		if (settings_rows[i].flag && (settings_rows[i].scope & scope))
			usage_row(f, &settings_rows[i]);
	bool header = false;
	for (size_t i = 0; i < settings_nrows; i++) {
		if (settings_rows[i].flag || !(settings_rows[i].scope & scope))
			continue;
		if (!header)
			fprintf(f, "In the file only:\n");
		header = true;
		usage_row(f, &settings_rows[i]);
	}
}
