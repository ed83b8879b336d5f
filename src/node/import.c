/*
 * import.c - one JSON line -> storage key + record (see import.h).
 *
 * The line is walked once with the pull parser, straight into proto_value
 * slices that borrow the line (strings without escapes) or the scratch
 * (decoded strings, hex and base64 data, encoded references): no allocation
 * per line: ~0.3 us for a typical 180-byte line on one core, record built.
 *
 * Error precedence: the walk stops at the first fault. A semantic one
 * ("values[1].index: missing") is only reported once a second, plain pass
 * over the whole line has found it to be valid JSON; otherwise the line is
 * reported as invalid JSON, which is what its author must fix first.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/json.h"
#include "proto/handle.h"
#include "proto/reserved.h"
#include "node/import.h"
#include "proto/record.h"
#include "store/store.h"

enum {
	DEFAULT_TTL = 86400,
	DEFAULT_PERMS = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE | PROTO_PERM_PUBLIC_READ,
	INT31 = 2147483647,
};

/* Internal results: the parser's IDN_OK / IDN_EINVAL, and a semantic fault. */
enum { J_OK = IDN_OK, J_SYNTAX = IDN_EINVAL, J_SEM = 2 };

/* Where a semantic error is, for "values[2].data.value: ..." */
enum { AT_TOP, AT_VALUE, AT_DATA, AT_REF };

struct import_ctx {
	import_opts opts;
	/* per-line scratch, grown to fit the longest line */
	uint8_t *scratch;
	uint8_t *refbuf; /* as big as scratch */
	size_t scap;
	proto_value *vals;
	uint32_t *idx; /* as many as vals: sorted indexes, for the duplicate check */
	size_t vcap;
	bool bad_json;
	char msg[IMPORT_MSG_MAX];
};

/* One line being parsed. */
struct lp {
	jp j;
	import_ctx *c;
	bool sem_final; /* a semantic error that a syntax check must not replace */
	int at;
	uint32_t vi, ri;
};

static void *xrealloc_array(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return realloc(p, n * size);
}

/* Key or format text fit for a message: controls escaped, capped at ~40 bytes. */
static void sanitize(char *out, size_t cap, idn_slice s)
{
	size_t o = 0;
	uint32_t i = 0;
	for (; i < s.len && o + 8 < cap && i < 40; i++) {
		uint8_t c = s.p[i];
		if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c; /* UTF-8 was validated by the parser */
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	if (i < s.len) {
		/* cut at a character boundary */
		while (o > 0 && ((uint8_t)out[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 0 && (uint8_t)out[o - 1] >= 0xC0)
			o--;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
}

__attribute__((format(printf, 3, 4))) static int sem(struct lp *l, const char *field,
                                                     const char *fmt, ...)
{
	char path[64];
	switch (l->at) {
	case AT_VALUE:
		snprintf(path, sizeof(path), "values[%u]", l->vi);
		break;
	case AT_DATA:
		snprintf(path, sizeof(path), "values[%u].data", l->vi);
		break;
	case AT_REF:
		snprintf(path, sizeof(path), "values[%u].references[%u]", l->vi, l->ri);
		break;
	default:
		path[0] = 0;
	}
	int n = snprintf(l->c->msg, IMPORT_MSG_MAX, "%s%s%s%s", path,
	                 path[0] && field[0] ? "." : "", field, path[0] || field[0] ? ": " : "");
	if (n < 0 || n >= IMPORT_MSG_MAX)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->c->msg + n, IMPORT_MSG_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return J_SEM;
}

static inline bool key_is(idn_slice k, const char *lit, size_t n)
{
	return k.len == n && memcmp(k.p, lit, n) == 0;
}
#define KEY(k, lit) key_is(k, lit, sizeof(lit) - 1)

static int juint(struct lp *l, const char *field, uint64_t lo, uint64_t hi, uint64_t *out)
{
	bool is_int;
	uint64_t v;
	if (*l->j.p != '-' && (*l->j.p < '0' || *l->j.p > '9'))
		return sem(l, field, "must be an integer %llu..%llu", (unsigned long long)lo,
		           (unsigned long long)hi);
	int rc = jp_number(&l->j, &is_int, &v);
	if (rc)
		return rc;
	if (!is_int || v < lo || v > hi)
		return sem(l, field, "must be an integer %llu..%llu", (unsigned long long)lo,
		           (unsigned long long)hi);
	*out = v;
	return J_OK;
}

static int jstr_field(struct lp *l, const char *field, idn_slice *out)
{
	if (*l->j.p != '"')
		return sem(l, field, "must be a string");
	int rc = jp_string(&l->j, out);
	if (rc == J_SYNTAX && l->j.err == jp_bad_utf8) {
		l->sem_final = true;
		return sem(l, field, "not valid UTF-8");
	}
	return rc;
}

static int unknown_field(struct lp *l, idn_slice key)
{
	char k[64];
	sanitize(k, sizeof(k), key);
	return sem(l, k, "unknown field");
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)" -> unix seconds, or -1. */
static int64_t parse_iso(idn_slice s)
{
	const uint8_t *p = s.p, *e = s.p + s.len;
	int f[6];
	static const char seps[] = "--T::";
	for (int i = 0; i < 6; i++) {
		int n = i == 0 ? 4 : 2, v = 0;
		if (e - p < n)
			return -1;
		for (int k = 0; k < n; k++, p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (*p - '0');
		}
		f[i] = v;
		if (i < 5) {
			if (p >= e || (*p != seps[i] && !(i == 2 && (*p == 't' || *p == ' '))))
				return -1;
			p++;
		}
	}
	if (p < e && *p == '.') {
		p++;
		if (p >= e || *p < '0' || *p > '9')
			return -1;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	int off = 0;
	if (p < e && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < e && (*p == '+' || *p == '-')) {
		int sign = *p == '-' ? -1 : 1;
		p++;
		if (e - p != 5 || p[2] != ':')
			return -1;
		for (int k = 0; k < 5; k++)
			if (k != 2 && (p[k] < '0' || p[k] > '9'))
				return -1;
		int hh = (p[0] - '0') * 10 + p[1] - '0', mm = (p[3] - '0') * 10 + p[4] - '0';
		if (hh > 23 || mm > 59)
			return -1;
		off = sign * (hh * 3600 + mm * 60);
		p += 5;
	} else {
		return -1;
	}
	if (p != e || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 ||
	    f[5] > 60)
		return -1;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (f[0] % 4 == 0 && f[0] % 100 != 0) || f[0] % 400 == 0;
	if (f[2] > mdays[f[1] - 1] || (f[1] == 2 && f[2] == 29 && !leap))
		return -1;
	int64_t t = days_from_civil(f[0], (unsigned)f[1], (unsigned)f[2]) * 86400 + f[3] * 3600 +
	            f[4] * 60 + f[5] - off;
	return t;
}

static int hex_decode(struct lp *l, idn_slice in, idn_slice *out)
{
	size_t bad;
	ssize_t n = codec_hex_decode(in.p, in.len, l->j.sp, in.len, &bad);
	if (n == CODEC_ELENGTH)
		return sem(l, "value", "odd number of hex digits");
	if (n < 0)
		return sem(l, "value", "bad hex digit at offset %u", (unsigned)bad);
	*out = idn_slice_of(l->j.sp, (size_t)n);
	l->j.sp += n;
	return J_OK;
}

/* Standard base64; the '=' padding may be left out. */
static int b64_decode(struct lp *l, idn_slice in, idn_slice *out)
{
	size_t bad;
	ssize_t n = codec_base64_decode(in.p, in.len, 0, l->j.sp, in.len, &bad);
	if (n == CODEC_ELENGTH)
		return sem(l, "value", "bad base64: wrong length");
	if (n < 0)
		return sem(l, "value", "bad base64 character at offset %u", (unsigned)bad);
	*out = idn_slice_of(l->j.sp, (size_t)n);
	l->j.sp += n;
	return J_OK;
}

/* "data": {"format": ..., "value": ...} */
static int parse_data_obj(struct lp *l, idn_slice *data)
{
	idn_slice fmt = {0}, val = {0}, key;
	bool have_fmt = false, have_val = false;
	int rc, more;
	l->at = AT_DATA;
	if ((more = jp_open(&l->j, '}')) < 0)
		return more;
	while (more) {
		if ((rc = jp_key(&l->j, &key)))
			return rc;
		if (KEY(key, "format")) {
			if (have_fmt)
				return sem(l, "format", "given twice");
			if ((rc = jstr_field(l, "format", &fmt)))
				return rc;
			have_fmt = true;
		} else if (KEY(key, "value")) {
			if (have_val)
				return sem(l, "value", "given twice");
			if ((rc = jstr_field(l, "value", &val)))
				return rc;
			have_val = true;
		} else {
			return unknown_field(l, key);
		}
		if ((more = jp_next(&l->j, '}')) < 0)
			return more;
	}
	if (!have_fmt)
		return sem(l, "format", "missing (string, hex or base64)");
	if (!have_val)
		return sem(l, "value", "missing");
	if (KEY(fmt, "string"))
		*data = val;
	else if (KEY(fmt, "hex"))
		rc = hex_decode(l, val, data);
	else if (KEY(fmt, "base64"))
		rc = b64_decode(l, val, data);
	else {
		char f[64];
		sanitize(f, sizeof(f), fmt);
		rc = sem(l, "format", "unknown format \"%s\" (string, hex or base64)", f);
	}
	if (rc == J_OK)
		l->at = AT_VALUE;
	return rc;
}

/* Checks an identifier's text: the handle itself or a reference's. */
static int check_handle(struct lp *l, const char *field, idn_slice h)
{
	if (h.len == 0)
		return sem(l, field, "must not be empty");
	if (h.len > PROTO_HANDLE_MAX)
		return sem(l, field, "longer than %d bytes", PROTO_HANDLE_MAX);
	if (!handle_utf8_valid(h)) {
		l->sem_final = true;
		return sem(l, field, "not valid UTF-8");
	}
	if (memchr(h.p, 0, h.len))
		return sem(l, field, "must not contain NUL (\\u0000)");
	const uint8_t *slash = memchr(h.p, '/', h.len);
	if (!slash)
		return sem(l, field, "must be PREFIX/SUFFIX (there is no '/')");
	if (slash == h.p)
		return sem(l, field, "the prefix before '/' is empty");
	if (slash == h.p + h.len - 1)
		return sem(l, field, "the suffix after '/' is empty");
	return J_OK;
}

/* "references": [{"handle": "...", "index": N}, ...] encoded into refbuf. */
static int parse_refs(struct lp *l, uint8_t **rp, proto_value *v)
{
	int rc, more;
	uint8_t *start = *rp;
	l->at = AT_REF;
	l->ri = 0;
	if (*l->j.p != '[') {
		l->at = AT_VALUE;
		return sem(l, "references", "must be an array");
	}
	if ((more = jp_open(&l->j, ']')) < 0)
		return more;
	while (more) {
		idn_slice h = {0}, key;
		uint64_t idx = 0;
		bool have_h = false, have_i = false;
		jp_ws(&l->j);
		if (l->j.p >= l->j.end || *l->j.p != '{') {
			if (l->j.p < l->j.end)
				return sem(l, "",
				           "must be an object {\"handle\":...,\"index\":...}");
			return jp_fail(&l->j, "unexpected end of line");
		}
		if ((more = jp_open(&l->j, '}')) < 0)
			return more;
		while (more) {
			if ((rc = jp_key(&l->j, &key)))
				return rc;
			if (KEY(key, "handle")) {
				if (have_h)
					return sem(l, "handle", "given twice");
				if ((rc = jstr_field(l, "handle", &h)))
					return rc;
				if ((rc = check_handle(l, "handle", h)))
					return rc;
				have_h = true;
			} else if (KEY(key, "index")) {
				if (have_i)
					return sem(l, "index", "given twice");
				if ((rc = juint(l, "index", 0, INT31, &idx)))
					return rc;
				have_i = true;
			} else {
				return unknown_field(l, key);
			}
			if ((more = jp_next(&l->j, '}')) < 0)
				return more;
		}
		if (!have_h)
			return sem(l, "handle", "missing");
		if (!have_i)
			return sem(l, "index", "missing");
		uint8_t *o = *rp;
		idn_put_be32(o, h.len);
		memcpy(o + 4, h.p, h.len);
		idn_put_be32(o + 4 + h.len, (uint32_t)idx);
		*rp = o + 8 + h.len;
		l->ri++;
		if ((more = jp_next(&l->j, ']')) < 0)
			return more;
	}
	v->nrefs = l->ri;
	v->refs = idn_slice_of(start, (size_t)(*rp - start));
	l->at = AT_VALUE;
	return J_OK;
}

enum {
	F_INDEX = 1,
	F_TYPE = 2,
	F_DATA = 4,
	F_TTL = 8,
	F_TTLTYPE = 16,
	F_PERMS = 32,
	F_TS = 64,
	F_REFS = 128,
};

static int dup_field(struct lp *l, unsigned *seen, unsigned f, idn_slice key)
{
	if (*seen & f) {
		char k[64];
		sanitize(k, sizeof(k), key);
		return sem(l, k, "given twice%s",
		           f == F_PERMS     ? " (perms and permissions are one field)"
		           : f == F_TTLTYPE ? " (ttl_type and ttlType are one field)"
		                            : "");
	}
	*seen |= f;
	return J_OK;
}

static int parse_value(struct lp *l, uint8_t **rp, proto_value *v)
{
	unsigned seen = 0;
	idn_slice key;
	uint64_t n;
	int rc, more;

	*v = (proto_value){.ttl = DEFAULT_TTL, .perms = DEFAULT_PERMS, .timestamp = l->c->opts.now};
	l->at = AT_VALUE;
	if ((more = jp_open(&l->j, '}')) < 0)
		return more;
	while (more) {
		if ((rc = jp_key(&l->j, &key)))
			return rc;
		switch (key.len) {
		case 4:
			if (KEY(key, "type")) {
				if ((rc = dup_field(l, &seen, F_TYPE, key)) ||
				    (rc = jstr_field(l, "type", &v->type)))
					return rc;
				if (v->type.len == 0)
					return sem(l, "type", "must not be empty");
				const char *why;
				if (!l->c->opts.any_type && proto_type_check(v->type, &why))
					return sem(l, "type", "%s", why);
				goto next;
			}
			if (KEY(key, "data")) {
				if ((rc = dup_field(l, &seen, F_DATA, key)))
					return rc;
				if (*l->j.p == '"')
					rc = jstr_field(l, "data", &v->data);
				else if (*l->j.p == '{')
					rc = parse_data_obj(l, &v->data);
				else
					rc = sem(l, "data",
					         "must be a string or "
					         "{\"format\":...,\"value\":...}");
				if (rc)
					return rc;
				goto next;
			}
			break;
		case 5:
			if (KEY(key, "index")) {
				if ((rc = dup_field(l, &seen, F_INDEX, key)) ||
				    (rc = juint(l, "index", 1, INT31, &n)))
					return rc;
				v->index = (uint32_t)n;
				goto next;
			}
			if (KEY(key, "perms"))
				goto perms;
			break;
		case 3:
			if (KEY(key, "ttl")) {
				if ((rc = dup_field(l, &seen, F_TTL, key)) ||
				    (rc = juint(l, "ttl", 0, INT31, &n)))
					return rc;
				v->ttl = (uint32_t)n;
				goto next;
			}
			break;
		case 7:
			if (KEY(key, "ttlType"))
				goto ttl_type;
			break;
		case 8:
			if (KEY(key, "ttl_type"))
				goto ttl_type;
			break;
		case 9:
			if (KEY(key, "timestamp")) {
				if ((rc = dup_field(l, &seen, F_TS, key)))
					return rc;
				if (*l->j.p == '"') {
					idn_slice s;
					if ((rc = jstr_field(l, "timestamp", &s)))
						return rc;
					int64_t t = parse_iso(s);
					if (t < 0 || t > INT31)
						return sem(l, "timestamp",
						           "must be unix seconds or "
						           "\"YYYY-MM-DDTHH:MM:SSZ\" (1970..2038)");
					v->timestamp = (uint32_t)t;
				} else {
					if ((rc = juint(l, "timestamp", 0, INT31, &n)))
						return rc;
					v->timestamp = (uint32_t)n;
				}
				goto next;
			}
			break;
		case 10:
			if (KEY(key, "references")) {
				if ((rc = dup_field(l, &seen, F_REFS, key)) ||
				    (rc = parse_refs(l, rp, v)))
					return rc;
				goto next;
			}
			break;
		case 11:
			if (KEY(key, "permissions"))
				goto perms;
			break;
		}
		return unknown_field(l, key);
	perms:
		if ((rc = dup_field(l, &seen, F_PERMS, key)) || (rc = juint(l, "perms", 0, 15, &n)))
			return rc;
		v->perms = (uint8_t)n;
		goto next;
	ttl_type:
		if ((rc = dup_field(l, &seen, F_TTLTYPE, key)))
			return rc;
		if (*l->j.p == '"') {
			idn_slice s;
			if ((rc = jstr_field(l, "ttl_type", &s)))
				return rc;
			if (KEY(s, "relative"))
				v->ttl_type = 0;
			else if (KEY(s, "absolute"))
				v->ttl_type = 1;
			else
				return sem(l, "ttl_type",
				           "must be \"relative\" or \"absolute\" (or 0/1)");
		} else {
			if (*l->j.p != '-' && (*l->j.p < '0' || *l->j.p > '9'))
				return sem(l, "ttl_type",
				           "must be \"relative\" or \"absolute\" (or 0/1)");
			if ((rc = juint(l, "ttl_type", 0, 1, &n)))
				return rc;
			v->ttl_type = (uint8_t)n;
		}
	next:
		if ((more = jp_next(&l->j, '}')) < 0)
			return more;
	}
	if (!(seen & F_INDEX))
		return sem(l, "index", "missing");
	if (!(seen & F_TYPE))
		return sem(l, "type", "missing");
	if (!(seen & F_DATA))
		return sem(l, "data", "missing");
	return J_OK;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Reports the first index used twice. */
static int check_dup_index(struct lp *l, uint32_t n)
{
	const proto_value *v = l->c->vals;
	if (n <= 32) {
		for (uint32_t a = 1; a < n; a++)
			for (uint32_t b = 0; b < a; b++)
				if (v[a].index == v[b].index) {
					l->at = AT_VALUE;
					l->vi = a;
					return sem(l, "index", "%u is already used by values[%u]",
					           v[a].index, b);
				}
		return J_OK;
	}
	for (uint32_t a = 0; a < n; a++)
		l->c->idx[a] = v[a].index;
	qsort(l->c->idx, n, sizeof(uint32_t), cmp_u32);
	for (uint32_t a = 1; a < n; a++)
		if (l->c->idx[a] == l->c->idx[a - 1]) {
			uint32_t dup = l->c->idx[a], first = UINT32_MAX;
			for (uint32_t b = 0; b < n; b++) {
				if (v[b].index != dup)
					continue;
				if (first == UINT32_MAX) {
					first = b;
					continue;
				}
				l->at = AT_VALUE;
				l->vi = b;
				return sem(l, "index", "%u is already used by values[%u]", dup,
				           first);
			}
		}
	return J_OK;
}

/* Scratch for decoded strings (at most 2x the line: escapes, then hex or
 * base64 of them) and for encoded references (at most the line). */
static int reserve_scratch(import_ctx *c, size_t len)
{
	if (c->scap >= 2 * len + 64)
		return IDN_OK;
	size_t cap = 2 * len + 64 + (len >> 1);
	uint8_t *s = realloc(c->scratch, cap), *r;
	if (!s)
		return IDN_ENOMEM;
	c->scratch = s;
	r = realloc(c->refbuf, cap);
	if (!r)
		return IDN_ENOMEM;
	c->refbuf = r;
	c->scap = cap;
	return IDN_OK;
}

static int grow_values(import_ctx *c)
{
	size_t cap = c->vcap ? c->vcap * 2 : 16;
	proto_value *nvals = xrealloc_array(c->vals, cap, sizeof(*nvals));
	uint32_t *nidx = xrealloc_array(c->idx, cap, sizeof(*nidx));
	if (nvals)
		c->vals = nvals;
	if (nidx)
		c->idx = nidx;
	if (!nvals || !nidx)
		return IDN_ENOMEM;
	c->vcap = cap;
	return IDN_OK;
}

/*
 * The "values" array of a line into c->vals: 0, IDN_ENOMEM, or an error of
 * the line (J_SYNTAX, J_SEM) for import_line to report.
 */
static int parse_values(struct lp *l, uint8_t **rp, uint32_t *nv)
{
	import_ctx *c = l->c;
	int more;

	if (*l->j.p != '[')
		return sem(l, "values", "must be an array of values");
	if ((more = jp_open(&l->j, ']')) < 0)
		return more;
	if (!more)
		return sem(l, "values", "must not be empty");
	while (more) {
		int rc;
		jp_ws(&l->j);
		l->at = AT_VALUE;
		l->vi = *nv;
		if (l->j.p >= l->j.end)
			return jp_fail(&l->j, "unexpected end of line");
		if (*l->j.p != '{')
			return sem(l, "", "must be an object");
		if (*nv == c->vcap && grow_values(c))
			return IDN_ENOMEM;
		if ((rc = parse_value(l, rp, &c->vals[*nv])))
			return rc;
		(*nv)++;
		if ((more = jp_next(&l->j, ']')) < 0)
			return more;
	}
	return J_OK;
}

static const char text_after[] = "text after the object (one object per line)";

int import_line(import_ctx *c, const void *text, size_t len, import_alloc_fn alloc, void *arg,
                import_out *out)
{
	const uint8_t *line = text;
	struct lp l = {.c = c};
	idn_slice handle = {0}, key;
	bool have_handle = false, have_values = false;
	uint32_t nv = 0;
	int rc, more;

	c->bad_json = false;
	c->msg[0] = 0;
	if (reserve_scratch(c, len))
		return IDN_ENOMEM;
	jp_init(&l.j, line, len, c->scratch);
	uint8_t *rp = c->refbuf;

	jp_ws(&l.j);
	if (l.j.p == l.j.end)
		return IMPORT_BLANK;
	if (*l.j.p != '{') {
		rc =
		    sem(&l, "", "a line must be one JSON object {\"handle\":...,\"values\":[...]}");
		goto fail;
	}
	if ((more = jp_open(&l.j, '}')) < 0) {
		rc = more;
		goto fail;
	}
	while (more) {
		l.at = AT_TOP;
		if ((rc = jp_key(&l.j, &key)))
			goto fail;
		if (KEY(key, "handle")) {
			if (have_handle) {
				rc = sem(&l, "handle", "given twice");
				goto fail;
			}
			if ((rc = jstr_field(&l, "handle", &handle)) ||
			    (rc = check_handle(&l, "handle", handle)))
				goto fail;
			have_handle = true;
		} else if (KEY(key, "values")) {
			if (have_values) {
				rc = sem(&l, "values", "given twice");
				goto fail;
			}
			have_values = true;
			if ((rc = parse_values(&l, &rp, &nv)) == IDN_ENOMEM)
				return rc;
			if (rc)
				goto fail;
		} else {
			if ((rc = jp_skip(&l.j)))
				goto fail;
		}
		if ((more = jp_next(&l.j, '}')) < 0) {
			rc = more;
			goto fail;
		}
	}
	jp_ws(&l.j);
	if (l.j.p != l.j.end) {
		rc = jp_fail(&l.j, text_after);
		goto fail;
	}
	l.at = AT_TOP;
	if (!have_handle) {
		rc = sem(&l, "handle", "missing");
		goto fail;
	}
	if (!have_values) {
		rc = sem(&l, "values", "missing");
		goto fail;
	}
	if ((rc = check_dup_index(&l, nv)))
		goto fail;

	size_t rlen = record_size(c->vals, nv);
	if (rlen > STORE_VAL_MAX) {
		rc = sem(&l, "values", "the record would be larger than %d bytes", STORE_VAL_MAX);
		goto fail;
	}
	size_t max = record_write_max(handle.len, c->opts.max_record);
	if (c->opts.max_record != IMPORT_ANY_SIZE && rlen > max) {
		rc = sem(&l, "values",
		         "the record (%zu bytes) is too large to serve: at most %zu bytes fit in "
		         "one answer",
		         rlen, max);
		goto fail;
	}
	/* The key is as long as the handle (handle_key() changes case only). */
	uint8_t *mem = alloc(arg, handle.len + rlen);
	if (!mem)
		return IDN_ENOMEM;
	int klen = handle_key(handle, c->opts.case_sensitive, mem);
	int n = klen < 0 ? klen : record_build(c->vals, nv, mem + klen, rlen);
	if (klen < 0 || n < 0 || (size_t)n != rlen) {
		/* cannot happen: the handle and sizes were checked above */
		rc = sem(&l, "handle", "cannot build the record: %s",
		         idn_strerror(klen < 0 ? klen
		                      : n < 0  ? n
		                               : IDN_EINVAL));
		goto fail;
	}
	*out = (import_out){
	    .key = idn_slice_of(mem, (size_t)klen),
	    .record = idn_slice_of(mem + klen, rlen),
	    .handle = handle,
	    .values = c->vals,
	    .nvalues = nv,
	};
	return IDN_OK;

fail:
	if (rc == J_SEM && l.sem_final) {
		/* a string field that is not UTF-8: broken JSON, named by its field */
		c->bad_json = l.j.err == jp_bad_utf8;
		return IDN_EINVAL;
	}
	if (rc == J_SEM) {
		/* A broken line is reported as broken JSON, whatever came first. */
		jp v;
		jp_init(&v, line, len, c->scratch);
		int vr = jp_skip(&v);
		if (vr == J_OK) {
			jp_ws(&v);
			if (v.p != v.end)
				vr = jp_fail(&v, text_after);
		}
		if (vr != J_SYNTAX)
			return IDN_EINVAL;
		l.j = v;
		rc = J_SYNTAX;
	}
	snprintf(c->msg, IMPORT_MSG_MAX, "invalid JSON at column %zu: %s",
	         (size_t)(l.j.err_at - line) + 1, l.j.err);
	c->bad_json = true;
	return IDN_EINVAL;
}

/* p past spaces and tabs, up to end. */
static const uint8_t *skip_blank(const uint8_t *p, const uint8_t *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* p past blanks and then byte c; NULL when c is not there. */
static const uint8_t *expect(const uint8_t *p, const uint8_t *end, uint8_t c)
{
	p = skip_blank(p, end);
	return p < end && *p == c ? p + 1 : NULL;
}

size_t import_key(const import_ctx *c, const void *text, size_t len, uint8_t *key)
{
	static const char head[] = "\"handle\"";
	const uint8_t *p = text, *end = p + len;
	if (!(p = expect(p, end, '{')))
		return 0;
	p = skip_blank(p, end);
	if ((size_t)(end - p) < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1))
		return 0;
	if (!(p = expect(p + sizeof(head) - 1, end, ':')) || !(p = expect(p, end, '"')))
		return 0;
	const uint8_t *h = p;
	uint8_t high = 0; /* a byte above ASCII: then the UTF-8 is checked */
	while (p < end && *p != '"' && *p != '\\' && *p >= 0x20)
		high |= *p++;
	if (p == end || *p != '"')
		return 0; /* an escape or a control character: import_line decodes it */
	idn_slice hs = idn_slice_of(h, (size_t)(p - h));
	const uint8_t *slash = memchr(h, '/', hs.len);
	if (hs.len == 0 || hs.len > PROTO_HANDLE_MAX || !slash || slash == h || slash == p - 1 ||
	    ((high & 0x80) && !handle_utf8_valid(hs)))
		return 0; /* check_handle() says what is wrong */
	int klen = handle_key(hs, c->opts.case_sensitive, key);
	return klen > 0 ? (size_t)klen : 0;
}

import_ctx *import_new(const import_opts *opts)
{
	import_ctx *c = calloc(1, sizeof(*c));
	if (c)
		c->opts = *opts;
	return c;
}

void import_free(import_ctx *c)
{
	if (!c)
		return;
	free(c->scratch);
	free(c->refbuf);
	free(c->vals);
	free(c->idx);
	free(c);
}

const char *import_msg(const import_ctx *c)
{
	return c->msg;
}

bool import_bad_json(const import_ctx *c)
{
	return c->bad_json;
}

int import_format(char *buf, size_t cap, const char *file, uint64_t line, const char *msg)
{
	return snprintf(buf, cap, "%s:%llu: %s", file, (unsigned long long)line, msg);
}
