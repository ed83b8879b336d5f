/*
 * backup.c - backups of a store as JSON Lines (backup.h): records to lines
 * with jansson, lines back to records with import_line().
 */
#include "node/backup.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/err.h"
#include "proto/handle.h"
#include "proto/record.h"
#include "store/index.h"

/* ---- dump ---- */

struct dumper {
	FILE *out;
	backup_counts *c;
	backup_bad_fn bad;
	void *arg;
	char *b64;
	size_t b64cap;
};

static int is_text(idn_slice d)
{
	return handle_utf8_valid(d) && !memchr(d.p, 0, d.len);
}

static json_t *data_json(struct dumper *d, idn_slice data)
{
	if (is_text(data))
		return json_stringn((const char *)data.p, data.len);
	size_t need = codec_base64_len(data.len) + 1;
	if (need > d->b64cap) {
		char *n = realloc(d->b64, need);
		if (!n)
			return NULL;
		d->b64 = n;
		d->b64cap = need;
	}
	size_t len = codec_base64_encode(data.p, data.len, d->b64);
	return json_pack("{s:s, s:s%}", "format", "base64", "value", d->b64, len);
}

/* The line of one identifier, from its values, or NULL (with why) when it cannot be written. */
static json_t *values_json(struct dumper *d, idn_slice key, const record *rp, const char **why)
{
	record r = *rp;
	json_t *values = NULL, *line = NULL;
	*why = "the identifier is not UTF-8";
	if (!handle_utf8_valid(key))
		return NULL;
	*why = "out of memory";
	if (!(values = json_array()))
		return NULL;
	proto_values_it it = proto_values_begin(r.values, r.nvalues);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		if (!handle_utf8_valid(v.type)) {
			*why = "a value type is not UTF-8";
			goto fail;
		}
		json_t *refs = json_array();
		wire_rd rc = wire_rd_init(v.refs.p, v.refs.len);
		proto_ref ref;
		int got;
		while (refs && (got = proto_ref_next(&rc, &ref)) == 1) {
			if (!handle_utf8_valid(ref.handle)) {
				*why = "a reference is not UTF-8";
				json_decref(refs);
				goto fail;
			}
			json_array_append_new(refs, json_pack("{s:s%, s:I}", "handle", ref.handle.p,
			                                      (size_t)ref.handle.len, "index",
			                                      (json_int_t)ref.index));
		}
		json_t *o = json_pack(
		    "{s:I, s:s%, s:o, s:I, s:I, s:I, s:I, s:o}", "index", (json_int_t)v.index,
		    "type", v.type.p, (size_t)v.type.len, "data", data_json(d, v.data), "ttl",
		    (json_int_t)v.ttl, "ttl_type", (json_int_t)v.ttl_type, "perms",
		    (json_int_t)v.perms, "timestamp", (json_int_t)v.timestamp, "references", refs);
		if (!o || json_array_append_new(values, o))
			goto fail;
	}
	line = json_pack("{s:s%, s:o}", "handle", key.p, (size_t)key.len, "values", values);
	return line;
fail:
	json_decref(values);
	return NULL;
}

static json_t *record_json(struct dumper *d, idn_slice key, idn_slice val, const char **why)
{
	record r;
	*why = "not a record";
	if (record_check(val) || record_parse(val, &r))
		return NULL;
	return values_json(d, key, &r, why);
}

static int write_line(FILE *out, json_t *line)
{
	int rc = json_dumpf(line, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	return rc || fputc('\n', out) == EOF ? IDN_EIO : 0;
}

static int dump_cb(void *arg, idn_slice key, idn_slice val)
{
	struct dumper *d = arg;
	const char *why;
	json_t *line = record_json(d, key, val, &why);
	if (!line) {
		if (d->bad)
			d->bad(d->arg, key, why);
		d->c->bad++;
		return 0;
	}
	if (write_line(d->out, line))
		return IDN_EIO;
	d->c->records++;
	return 0;
}

int backup_write_values(FILE *out, idn_slice handle, uint32_t nvalues, idn_slice values,
                        const char **why)
{
	struct dumper d = {.out = out};
	record r = {.nvalues = nvalues, .values = values};
	proto_values_it it = proto_values_begin(values, nvalues);
	proto_value v;
	int vrc;
	while ((vrc = proto_values_next(&it, &v)) == 1)
		;
	*why = "the values do not decode";
	if (vrc)
		return IDN_EINVAL;
	json_t *line = values_json(&d, handle, &r, why);
	free(d.b64);
	if (!line)
		return IDN_EINVAL;
	*why = "cannot write";
	return write_line(out, line);
}

int backup_write_home(FILE *out, idn_slice prefix)
{
	json_t *line = json_pack("{s:s%}", "home", prefix.p, (size_t)prefix.len);
	if (!line)
		return IDN_ENOMEM;
	int rc = json_dumpf(line, out, JSON_COMPACT);
	json_decref(line);
	return rc || fputc('\n', out) == EOF ? IDN_EIO : 0;
}

static int home_cb(void *arg, idn_slice prefix, idn_slice val)
{
	struct dumper *d = arg;
	(void)val;
	return backup_write_home(d->out, prefix);
}

int backup_dump(store_txn *t, idn_slice prefix, bool homes, FILE *out, backup_bad_fn bad, void *arg,
                backup_counts *c)
{
	struct dumper d = {.out = out, .c = c, .bad = bad, .arg = arg};
	int rc = IDN_OK;
	*c = (backup_counts){0};
	if (homes)
		rc = store_list_homed(t, home_cb, &d);
	if (!rc)
		rc = store_scan(t, prefix, dump_cb, &d);
	free(d.b64);
	return rc;
}

/* ---- verify ---- */

struct verifier {
	backup_counts *c;
	backup_bad_fn bad;
	void *arg;
};

static int verify_cb(void *arg, idn_slice key, idn_slice val)
{
	struct verifier *v = arg;
	v->c->records++;
	if (record_check(val) == IDN_OK)
		return 0;
	v->c->bad++;
	char why[64];
	snprintf(why, sizeof(why), "the record does not decode (%u bytes)", val.len);
	if (v->bad)
		v->bad(v->arg, key, why);
	return 0;
}

int backup_verify(store_txn *t, backup_bad_fn bad, void *arg, backup_counts *c)
{
	struct verifier v = {.c = c, .bad = bad, .arg = arg};
	*c = (backup_counts){0};
	return store_scan(t, idn_slice_of("", 0), verify_cb, &v);
}

/* ---- restore ---- */

struct scratch {
	uint8_t *p;
	size_t cap;
};

static void *scratch_alloc(void *arg, size_t len)
{
	struct scratch *sc = arg;
	if (len > sc->cap) {
		uint8_t *n = realloc(sc->p, len);
		if (!n)
			return NULL;
		sc->p = n;
		sc->cap = len;
	}
	return sc->p;
}

static int count_home(void *arg, idn_slice k, idn_slice v)
{
	(void)k;
	(void)v;
	++*(uint64_t *)arg;
	return 0;
}

/* 1 if the line is a {"home":"P"} line (P into *prefix), 0 if not, -1 if it is but bad. */
static int home_line(const char *line, size_t len, char *prefix, size_t cap)
{
	json_error_t err;
	json_t *j = NULL;
	int rc = 0;
	/* most lines are identifiers: parse twice only what may be a home line */
	if (!memmem(line, len, "\"home\"", 6))
		return 0;
	j = json_loadb(line, len, 0, &err);
	if (!j || !json_is_object(j) || !json_object_get(j, "home") || json_object_get(j, "handle"))
		goto out;
	const char *p = json_string_value(json_object_get(j, "home"));
	rc = -1;
	if (!p || !*p || strlen(p) >= cap)
		goto out;
	strcpy(prefix, p);
	rc = 1;
out:
	json_decref(j);
	return rc;
}

int backup_store_size(store *s, uint64_t *records, uint64_t *homes)
{
	store_txn *t;
	*records = *homes = 0;
	int rc = store_txn_begin(s, STORE_RDONLY, &t);
	if (rc)
		return rc;
	if (!(rc = store_count(t, records)))
		rc = store_list_homed(t, count_home, homes);
	store_txn_abort(t);
	return rc;
}

enum {
	LINE_BAD = IMPORT_BLANK + 1,
	LINE_HOME
}; /* restore_line(), beside IDN_OK and IMPORT_BLANK */

/*
 * Writes one line into t: IDN_OK (an identifier), LINE_HOME (a homed
 * prefix), IMPORT_BLANK, LINE_BAD (*why says what is wrong), or an error.
 */
static int restore_line(store_txn *t, import_ctx *ic, struct scratch *sc, char *line, size_t len,
                        const char **why)
{
	char prefix[HANDLE_KEY_MAX + 1];
	int h = home_line(line, len, prefix, sizeof(prefix));
	if (h < 0) {
		*why = "home: must be a non-empty prefix";
		return LINE_BAD;
	}
	if (h == 1) {
		uint8_t norm[HANDLE_KEY_MAX];
		int nl =
		    handle_prefix_norm(idn_slice_of(prefix, strlen(prefix)), norm, sizeof(norm));
		int rc = nl < 0 ? nl : store_home(t, idn_slice_of(norm, (size_t)nl));
		return rc ? rc : LINE_HOME;
	}
	import_out o;
	int rc = import_line(ic, line, len, scratch_alloc, sc, &o);
	if (rc == IMPORT_BLANK)
		return IMPORT_BLANK;
	if (rc == IDN_EINVAL) {
		*why = import_msg(ic);
		return LINE_BAD;
	}
	if (!rc)
		rc = store_put(t, o.key, o.record, 0);
	return rc;
}

int backup_restore(store *s, FILE *in, const import_opts *import,
                   void (*line_error)(void *arg, uint64_t line, const char *msg), void *arg,
                   backup_restore_result *r)
{
	struct scratch sc = {0};
	store_txn *t = NULL;
	char *line = NULL;
	size_t linecap = 0;
	uint64_t inbatch = 0;
	ssize_t len;
	int rc = IDN_ENOMEM;
	import_opts io = *import;
	io.any_type = true; /* what was stored is restored as it was */
	import_ctx *ic = import_new(&io);

	*r = (backup_restore_result){0};
	if (!ic)
		goto out;
	while ((len = getline(&line, &linecap, in)) >= 0) {
		r->line++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		/* not logged (store.h): mirrors copy the store again rather than read a
		 * log of every restored record; PostgreSQL writes such batches by COPY */
		r->failed_at = BACKUP_AT_BEGIN;
		if (!t && (rc = store_txn_begin(s, STORE_NOLOG, &t)))
			goto out;
		const char *why;
		r->failed_at = BACKUP_AT_LINE;
		rc = restore_line(t, ic, &sc, line, (size_t)len, &why);
		if (rc == IMPORT_BLANK)
			continue;
		if (rc == LINE_BAD) {
			if (line_error)
				line_error(arg, r->line, why);
			r->counts.bad++;
			continue;
		}
		if (rc != IDN_OK && rc != LINE_HOME)
			goto out;
		if (rc == IDN_OK)
			r->counts.records++;
		if (++inbatch == BACKUP_RESTORE_BATCH) {
			r->failed_at = BACKUP_AT_COMMIT;
			rc = store_txn_commit(t);
			t = NULL;
			inbatch = 0;
			if (rc)
				goto out;
		}
	}
	if (ferror(in)) {
		r->failed_at = BACKUP_AT_READ;
		r->read_errno = errno;
		rc = IDN_EIO;
		goto out;
	}
	rc = IDN_OK;
	if (t) {
		r->failed_at = BACKUP_AT_COMMIT;
		rc = store_txn_commit(t);
		t = NULL;
	}
	if (rc == IDN_OK)
		rc = store_index_refresh(s); /* the restore left the search index stale */
out:
	if (t)
		store_txn_abort(t);
	import_free(ic);
	free(line);
	free(sc.p);
	return rc;
}
