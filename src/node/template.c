/*
 * template.c - data template definitions (JSON, parsed with jansson) and the
 * validation of an identifier's field values against one (see template.h).
 */
#include "node/template.h"

#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "proto/handle.h"

enum {
	TMPL_FIELDS_MAX = 256, /* fields per template */
	TMPL_NAME_MAX = 128,   /* bytes of a field name (a value type) */
	TMPL_PATTERN_MAX = 1024,
};

enum ftype { F_STRING, F_NUMBER, F_DATE, F_URL, F_FILE };

static const struct {
	const char *name;
	enum ftype type;
} ftypes[] = {
    {"string", F_STRING}, {"number", F_NUMBER}, {"date", F_DATE}, {"url", F_URL}, {"file", F_FILE},
};

struct field {
	char *name;
	enum ftype type;
	bool required;
	long min_len, max_len; /* -1: no bound */
	bool has_min, has_max;
	double min, max;
	bool has_re;
	regex_t re;
};

struct tmpl {
	struct field *f;
	size_t n;
	bool additional;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return IDN_EINVAL;
}

void tmpl_free(tmpl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->f[i].name);
		if (t->f[i].has_re)
			regfree(&t->f[i].re);
	}
	free(t->f);
	free(t);
}

size_t tmpl_nfields(const tmpl *t)
{
	return t->n;
}

const char *tmpl_field_name(const tmpl *t, size_t i)
{
	return i < t->n ? t->f[i].name : NULL;
}

static bool key_known(const char *key, const char *const *known)
{
	for (; *known; known++)
		if (!strcmp(key, *known))
			return true;
	return false;
}

/* A length bound: absent (-1), or a non-negative integer. */
static int get_len(json_t *o, const char *key, long *out, const char *fname, char *err,
                   size_t errlen)
{
	json_t *v = json_object_get(o, key);
	*out = -1;
	if (!v)
		return IDN_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > PROTO_MSG_MAX)
		return fail(err, errlen, "field '%s': %s must be an integer from 0 to %d", fname,
		            key, PROTO_MSG_MAX);
	*out = (long)json_integer_value(v);
	return IDN_OK;
}

static int get_num(json_t *o, const char *key, bool *has, double *out, const char *fname,
                   enum ftype type, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	*has = v != NULL;
	if (!v)
		return IDN_OK;
	if (type != F_NUMBER)
		return fail(err, errlen, "field '%s': %s applies to number fields only", fname,
		            key);
	if (!json_is_number(v))
		return fail(err, errlen, "field '%s': %s must be a number", fname, key);
	*out = json_number_value(v);
	return IDN_OK;
}

static int parse_field(json_t *o, size_t i, struct field *f, char *err, size_t errlen)
{
	static const char *const known[] = {"name", "type", "required", "minLength",   "maxLength",
	                                    "min",  "max",  "pattern",  "description", NULL};
	f->min_len = f->max_len = -1;
	if (!json_is_object(o))
		return fail(err, errlen, "fields[%zu] must be an object", i);
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		if (!key_known(key, known))
			return fail(err, errlen, "fields[%zu]: unknown key '%s'", i, key);
	}
	json_t *name = json_object_get(o, "name");
	if (!json_is_string(name) || json_string_length(name) == 0 ||
	    json_string_length(name) > TMPL_NAME_MAX)
		return fail(err, errlen, "fields[%zu]: name must be a string of 1 to %d bytes", i,
		            TMPL_NAME_MAX);
	const char *nm = json_string_value(name);
	if (strlen(nm) != json_string_length(name) || !strncasecmp(nm, "HS_", 3))
		return fail(err, errlen, "fields[%zu]: '%s' cannot be a field name", i, nm);
	f->name = strdup(nm);
	if (!f->name)
		return IDN_ENOMEM;
	json_t *type = json_object_get(o, "type");
	const char *ts = json_string_value(type);
	size_t k = 0;
	while (ts && k < sizeof(ftypes) / sizeof(ftypes[0]) && strcmp(ts, ftypes[k].name))
		k++;
	if (!ts || k == sizeof(ftypes) / sizeof(ftypes[0]))
		return fail(err, errlen,
		            "field '%s': type must be one of string, number, date, url, file", nm);
	f->type = ftypes[k].type;
	json_t *req = json_object_get(o, "required");
	if (req && !json_is_boolean(req))
		return fail(err, errlen, "field '%s': required must be true or false", nm);
	f->required = json_is_true(req);
	int ret;
	if ((ret = get_len(o, "minLength", &f->min_len, nm, err, errlen)) ||
	    (ret = get_len(o, "maxLength", &f->max_len, nm, err, errlen)))
		return ret;
	if (f->min_len >= 0 && f->max_len >= 0 && f->min_len > f->max_len)
		return fail(err, errlen, "field '%s': minLength is over maxLength", nm);
	if ((ret = get_num(o, "min", &f->has_min, &f->min, nm, f->type, err, errlen)) ||
	    (ret = get_num(o, "max", &f->has_max, &f->max, nm, f->type, err, errlen)))
		return ret;
	if (f->has_min && f->has_max && f->min > f->max)
		return fail(err, errlen, "field '%s': min is over max", nm);
	json_t *pat = json_object_get(o, "pattern");
	if (pat) {
		const char *ps = json_string_value(pat);
		if (!ps || json_string_length(pat) > TMPL_PATTERN_MAX ||
		    strlen(ps) != json_string_length(pat))
			return fail(err, errlen,
			            "field '%s': pattern must be a string of at most %d bytes", nm,
			            TMPL_PATTERN_MAX);
		int rc = regcomp(&f->re, ps, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char why[128];
			regerror(rc, &f->re, why, sizeof(why));
			return fail(err, errlen, "field '%s': pattern: %s", nm, why);
		}
		f->has_re = true;
	}
	return IDN_OK;
}

int tmpl_parse(idn_slice json, tmpl **out, char *err, size_t errlen)
{
	static const char *const known[] = {"name", "description", "fields", "additionalFields",
	                                    NULL};
	json_error_t jerr;
	int ret = IDN_OK;
	tmpl *t = NULL;
	json_t *root = json_loadb((const char *)json.p, json.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(err, errlen, "not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
		            jerr.column);
	if (!json_is_object(root)) {
		ret = fail(err, errlen, "a template definition is a JSON object");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v)
	{
		if (!key_known(key, known)) {
			ret = fail(err, errlen, "unknown key '%s'", key);
			goto out;
		}
	}
	json_t *add = json_object_get(root, "additionalFields");
	if (add && !json_is_boolean(add)) {
		ret = fail(err, errlen, "additionalFields must be true or false");
		goto out;
	}
	json_t *fields = json_object_get(root, "fields");
	size_t n = json_array_size(fields);
	if (!json_is_array(fields) || n == 0 || n > TMPL_FIELDS_MAX) {
		ret =
		    fail(err, errlen, "fields must be an array of 1 to %d fields", TMPL_FIELDS_MAX);
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->f = calloc(n, sizeof(*t->f)))) {
		ret = IDN_ENOMEM;
		goto out;
	}
	t->additional = json_is_true(add);
	for (size_t i = 0; i < n; i++) {
		t->n = i + 1; /* so that tmpl_free releases what this field got */
		if ((ret = parse_field(json_array_get(fields, i), i, &t->f[i], err, errlen)))
			goto out;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(t->f[j].name, t->f[i].name)) {
				ret =
				    fail(err, errlen, "field '%s' is defined twice", t->f[i].name);
				goto out;
			}
	}
	*out = t;
	t = NULL;
out:
	tmpl_free(t);
	json_decref(root);
	return ret;
}

/* ---- value checks ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* JSON number syntax: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_syntax(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (is_digit(*s))
		while (is_digit(*s))
			s++;
	else
		return false;
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return false;
		while (is_digit(*s))
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!is_digit(*s))
			return false;
		while (is_digit(*s))
			s++;
	}
	return *s == 0;
}

static bool date_ok(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !is_digit(s[i]))
			return false;
	int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

/* No spaces or control characters anywhere (URLs, identifiers). */
static bool no_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool url_ok(const char *s)
{
	const char *p = s;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || is_digit(*p) || *p == '+' ||
	       *p == '.' || *p == '-')
		p++;
	if (*p != ':' || !p[1] || !no_space(s))
		return false;
	size_t slen = (size_t)(p - s);
	bool needs_host = (slen == 4 && !strncasecmp(s, "http", 4)) ||
	                  (slen == 5 && !strncasecmp(s, "https", 5)) ||
	                  (slen == 3 && !strncasecmp(s, "ftp", 3));
	if (!needs_host)
		return true;
	return p[1] == '/' && p[2] == '/' && p[3] && p[3] != '/' && p[3] != '?' && p[3] != '#';
}

/* A URL, or an identifier prefix/suffix. */
static bool file_ok(const char *s)
{
	if (url_ok(s))
		return true;
	const char *slash = strchr(s, '/');
	return slash && slash != s && slash[1] && no_space(s);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Checks one field value; the rule broken goes to why. */
static bool field_ok(const struct field *f, const char *s, char *why, size_t whylen)
{
	size_t chars = utf8_chars(s);
	if (f->min_len >= 0 && chars < (size_t)f->min_len) {
		snprintf(why, whylen, "shorter than %ld characters", f->min_len);
		return false;
	}
	if (f->max_len >= 0 && chars > (size_t)f->max_len) {
		snprintf(why, whylen, "longer than %ld characters", f->max_len);
		return false;
	}
	switch (f->type) {
	case F_STRING:
		break;
	case F_NUMBER: {
		if (!number_syntax(s)) {
			snprintf(why, whylen, "'%.64s' is not a number", s);
			return false;
		}
		double d = strtod(s, NULL);
		if (!isfinite(d)) {
			snprintf(why, whylen, "'%.64s' is out of range", s);
			return false;
		}
		if ((f->has_min && d < f->min) || (f->has_max && d > f->max)) {
			snprintf(why, whylen, "%.64s is outside [%g, %g]", s,
			         f->has_min ? f->min : -HUGE_VAL, f->has_max ? f->max : HUGE_VAL);
			return false;
		}
		break;
	}
	case F_DATE:
		if (!date_ok(s)) {
			snprintf(why, whylen, "'%.64s' is not a date (YYYY-MM-DD)", s);
			return false;
		}
		break;
	case F_URL:
		if (!url_ok(s)) {
			snprintf(why, whylen, "'%.64s' is not a URL", s);
			return false;
		}
		break;
	case F_FILE:
		if (!file_ok(s)) {
			snprintf(why, whylen, "'%.64s' is not a file reference (URL or identifier)",
			         s);
			return false;
		}
		break;
	}
	if (f->has_re && regexec(&f->re, s, 0, NULL, 0) != 0) {
		snprintf(why, whylen, "'%.64s' does not match the field's pattern", s);
		return false;
	}
	return true;
}

int tmpl_check(const tmpl *t, const proto_value *vals, uint32_t n, char *err, size_t errlen)
{
	bool seen[TMPL_FIELDS_MAX] = {false};
	for (uint32_t i = 0; i < n; i++) {
		const proto_value *v = &vals[i];
		if (v->index < TMPL_FIELD_FIRST)
			continue;
		const struct field *f = NULL;
		size_t k;
		for (k = 0; k < t->n && !f; k++)
			if (v->type.len == strlen(t->f[k].name) &&
			    !memcmp(v->type.p, t->f[k].name, v->type.len))
				f = &t->f[k];
		if (!f) {
			if (t->additional)
				continue;
			return fail(
			    err, errlen, "field '%.*s' (index %u) is not in the template",
			    (int)(v->type.len > TMPL_NAME_MAX ? TMPL_NAME_MAX : v->type.len),
			    (const char *)v->type.p, v->index);
		}
		seen[k - 1] = true;
		if (!handle_utf8_valid(v->data) || memchr(v->data.p, 0, v->data.len))
			return fail(err, errlen, "field '%s' (index %u): not UTF-8 text", f->name,
			            v->index);
		char *s = malloc((size_t)v->data.len + 1);
		if (!s)
			return IDN_ENOMEM;
		memcpy(s, v->data.p, v->data.len);
		s[v->data.len] = 0;
		char why[256];
		bool ok = field_ok(f, s, why, sizeof(why));
		free(s);
		if (!ok)
			return fail(err, errlen, "field '%s' (index %u): %s", f->name, v->index,
			            why);
	}
	for (size_t k = 0; k < t->n; k++)
		if (t->f[k].required && !seen[k])
			return fail(err, errlen,
			            "required field '%s' is missing (give it at index %d or "
			            "above)",
			            t->f[k].name, TMPL_FIELD_FIRST);
	return IDN_OK;
}
