/*
 * template.h - data templates (the national system's industrial metadata).
 *
 * A template is an identifier (e.g. 88.100.1/TEMPLATE-MOTOR) holding a value
 * of type TEMPLATE.DEF whose data is JSON:
 *
 *   {"name": "Motor",                         optional, for people
 *    "fields": [                              required, at least one
 *      {"name": "model",                      required: the value type used
 *       "type": "string",                     string|number|date|url|file
 *       "required": true,                     default false
 *       "minLength": 1, "maxLength": 32,      characters (UTF-8), optional
 *       "min": 0, "max": 1000,                numbers only, optional
 *       "pattern": "^YE[0-9]-"},              POSIX extended regex, optional
 *      ...],
 *    "additionalFields": false}               fields not listed allowed? default false
 *
 * Types: string = any UTF-8 text; number = a decimal number (JSON syntax);
 * date = YYYY-MM-DD, a real calendar date; url = scheme:rest, with a host for
 * http/https/ftp; file = a file reference: a URL or an identifier
 * (prefix/suffix). A pattern must match somewhere in the value (anchor it
 * with ^...$ for the whole value).
 *
 * An identifier whose value at index 1001 has type TEMPLATE names its template
 * (the data is the template's handle); its values at index 2000 and up are
 * the fields, the value type being the field name. The node validates them
 * on create, add and modify (node/edit.c).
 *
 * Ownership: tmpl_parse() allocates the template (compiled patterns
 * included); tmpl_free() releases it. It borrows nothing from its input.
 */
#ifndef IDN_NODE_TEMPLATE_H
#define IDN_NODE_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

enum {
	TMPL_INDEX = 1001,       /* the TEMPLATE value naming the template */
	TMPL_FIELD_FIRST = 2000, /* field values start here */
};

#define TMPL_REF_TYPE "TEMPLATE"
#define TMPL_DEF_TYPE "TEMPLATE.DEF"

typedef struct tmpl tmpl;

/*
 * Parses and checks a definition. IDN_EINVAL with a message in err naming
 * what is wrong (the field and the key), IDN_ENOMEM.
 */
int tmpl_parse(idn_slice json, tmpl **out, char *err, size_t errlen);
void tmpl_free(tmpl *t);

/* Number of fields, and the name of field i (borrowed from t). */
size_t tmpl_nfields(const tmpl *t);
const char *tmpl_field_name(const tmpl *t, size_t i);

/*
 * Validates the values of one identifier (vals[0..n), whatever their order)
 * against t. IDN_EINVAL with err naming the field and the rule it breaks.
 */
int tmpl_check(const tmpl *t, const proto_value *vals, uint32_t n, char *err, size_t errlen);

#endif
