/*
 * lmdb_insert.c - the bare-LMDB baseline for `idnode load`: the same JSON
 * Lines file turned into the same keys and values idnode stores (storage key
 * from handle_key(), record from record_build()), sorted, and inserted with
 * MDB_APPEND. No JSON library: a small scanner that reads the loader's
 * schema ({"handle": str, "values": [{"index", "type", "data" (str or
 * {"format": "hex"|"base64", "value"}), "ttl", "perms", "timestamp"}]}).
 *
 *   lmdb_insert -d DIR FILE.jsonl [-B BATCH] [-n] [-w] [-r] [-M MAPSIZE_MB] [-q]
 *
 *   -d   LMDB environment directory (created; an existing data.mdb in it is replaced)
 *   -B   records per write transaction (default 0: all in one)
 *   -n   MDB_NOSYNC (default: commits are durable, like a real load)
 *   -w   MDB_WRITEMAP
 *   -r   insert in file order without MDB_APPEND (what a loader that does not
 *        sort pays)
 *   -M   map size in MiB (default: 4 x the file size, at least 64)
 *
 * Prints the time of each phase, records/s for the insert phase (puts +
 * commits) and for the whole run, and the bytes per record on disk; the last
 * line is machine-readable: RESULT records=.. insert_s=.. insert_rps=.. total_s=.. total_rps=..
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/handle.h"
#include "proto/record.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "lmdb_insert: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

/* ---- a growable byte arena for keys and records ---- */
static uint8_t *arena;
static size_t arena_len, arena_cap;

static size_t arena_put(const void *p, size_t n)
{
	if (arena_len + n > arena_cap) {
		while (arena_len + n > arena_cap)
			arena_cap = arena_cap ? arena_cap * 2 : (64u << 20);
		arena = realloc(arena, arena_cap);
		if (!arena)
			die("out of memory", NULL);
	}
	memcpy(arena + arena_len, p, n);
	arena_len += n;
	return arena_len - n;
}

typedef struct rec {
	uint64_t koff, voff; /* in arena */
	uint32_t klen, vlen;
} rec;

/* What is sorted: 24 key bytes after the prefix common to all keys, as
 * three big-endian numbers (zero-padded), and the record's number. */
typedef struct sitem {
	uint64_t h0, h1, h2;
	uint32_t idx;
} sitem;

/* ---- the scanner ---- */
typedef struct scan {
	const char *p, *end;
	int err;
} scan;

static void ws(scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r'))
		s->p++;
}

static int expect(scan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 1;
	}
	s->err = 1;
	return 0;
}

static int peek(scan *s, char c)
{
	ws(s);
	return s->p < s->end && *s->p == c;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* A JSON string into out (unescaped, UTF-8); returns its length or -1. */
static int str(scan *s, char *out, size_t cap)
{
	if (!expect(s, '"'))
		return -1;
	size_t n = 0;
	while (s->p < s->end && *s->p != '"') {
		/* a run without escapes goes in one copy */
		const char *q = s->p;
		while (q < s->end && *q != '"' && *q != '\\')
			q++;
		if (q > s->p) {
			size_t run = (size_t)(q - s->p);
			if (n + run > cap) {
				s->err = 1;
				return -1;
			}
			memcpy(out + n, s->p, run);
			n += run;
			s->p = q;
			continue;
		}
		unsigned c = (unsigned char)*s->p++;
		if (c == '\\' && s->p < s->end) {
			c = (unsigned char)*s->p++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u': {
				if (s->end - s->p < 4) {
					s->err = 1;
					return -1;
				}
				unsigned cp = 0;
				for (int i = 0; i < 4; i++) {
					int h = hexval(*s->p++);
					if (h < 0) {
						s->err = 1;
						return -1;
					}
					cp = cp << 4 | (unsigned)h;
				}
				if (cp >= 0xD800 && cp <= 0xDBFF && s->end - s->p >= 6 &&
				    s->p[0] == '\\' && s->p[1] == 'u') {
					unsigned lo = 0;
					for (int i = 2; i < 6; i++)
						lo = lo << 4 | (unsigned)(hexval(s->p[i]) & 15);
					s->p += 6;
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				}
				if (n + 4 > cap) {
					s->err = 1;
					return -1;
				}
				if (cp < 0x80) {
					out[n++] = (char)cp;
				} else if (cp < 0x800) {
					out[n++] = (char)(0xC0 | cp >> 6);
					out[n++] = (char)(0x80 | (cp & 63));
				} else if (cp < 0x10000) {
					out[n++] = (char)(0xE0 | cp >> 12);
					out[n++] = (char)(0x80 | ((cp >> 6) & 63));
					out[n++] = (char)(0x80 | (cp & 63));
				} else {
					out[n++] = (char)(0xF0 | cp >> 18);
					out[n++] = (char)(0x80 | ((cp >> 12) & 63));
					out[n++] = (char)(0x80 | ((cp >> 6) & 63));
					out[n++] = (char)(0x80 | (cp & 63));
				}
				continue;
			}
			default:
				break; /* \" \\ \/ */
			}
		}
		if (n >= cap) {
			s->err = 1;
			return -1;
		}
		out[n++] = (char)c;
	}
	if (!expect(s, '"'))
		return -1;
	return (int)n;
}

static long num(scan *s)
{
	ws(s);
	char *e;
	long v = strtol(s->p, &e, 10);
	if (e == s->p)
		s->err = 1;
	s->p = e;
	return v;
}

/* Skips any JSON value (for keys we do not know). */
static void skip_value(scan *s)
{
	ws(s);
	if (s->p >= s->end) {
		s->err = 1;
		return;
	}
	if (*s->p == '"') {
		char tmp[4096];
		str(s, tmp, sizeof tmp);
		return;
	}
	if (*s->p == '{' || *s->p == '[') {
		int depth = 0, in_str = 0;
		for (; s->p < s->end; s->p++) {
			char c = *s->p;
			if (in_str) {
				if (c == '\\')
					s->p++;
				else if (c == '"')
					in_str = 0;
			} else if (c == '"') {
				in_str = 1;
			} else if (c == '{' || c == '[') {
				depth++;
			} else if ((c == '}' || c == ']') && --depth == 0) {
				s->p++;
				return;
			}
		}
		s->err = 1;
		return;
	}
	while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']')
		s->p++;
}

static const int8_t *b64_table(void)
{
	static int8_t t[256];
	static int init;
	if (!init) {
		memset(t, -1, sizeof t);
		const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		for (int i = 0; i < 64; i++)
			t[(unsigned char)a[i]] = (int8_t)i;
		t['-'] = 62;
		t['_'] = 63;
		init = 1;
	}
	return t;
}

/* Decodes hex or base64 text in place; returns the byte length or -1. */
static int decode_data(const char *fmt, char *buf, int n)
{
	if (!strcmp(fmt, "hex")) {
		if (n % 2)
			return -1;
		for (int i = 0; i < n / 2; i++) {
			int h = hexval(buf[2 * i]), l = hexval(buf[2 * i + 1]);
			if (h < 0 || l < 0)
				return -1;
			buf[i] = (char)(h << 4 | l);
		}
		return n / 2;
	}
	if (!strcmp(fmt, "base64")) {
		const int8_t *t = b64_table();
		int o = 0, bits = 0;
		uint32_t acc = 0;
		for (int i = 0; i < n; i++) {
			if (buf[i] == '=')
				break;
			int v = t[(unsigned char)buf[i]];
			if (v < 0)
				return -1;
			acc = acc << 6 | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				buf[o++] = (char)(acc >> bits);
			}
		}
		return o;
	}
	if (!strcmp(fmt, "utf8") || !strcmp(fmt, "string"))
		return n;
	return -1;
}

enum { MAXVALS = 256, TXT_MAX = 64 * 1024 };

/* Parses one line into key + record; 0 ok, -1 bad line. */
static int parse_line(const char *p, const char *end, rec *r, uint32_t now)
{
	static char handle[PROTO_HANDLE_MAX + 1];
	static char types[MAXVALS][256];
	static char *datas[MAXVALS];
	static proto_value vals[MAXVALS];
	static uint8_t key[HANDLE_KEY_MAX], *recbuf;
	static size_t reccap;
	if (!datas[0])
		for (int i = 0; i < MAXVALS; i++)
			datas[i] = malloc(TXT_MAX);
	scan s = {p, end, 0};
	int hlen = -1;
	uint32_t nv = 0;
	if (!expect(&s, '{'))
		return -1;
	while (!s.err && !peek(&s, '}')) {
		char k[64];
		int kl0 = str(&s, k, sizeof k - 1);
		if (kl0 < 0 || !expect(&s, ':'))
			return -1;
		k[kl0] = 0;
		if (!strcmp(k, "handle")) {
			hlen = str(&s, handle, sizeof handle - 1);
		} else if (!strcmp(k, "values")) {
			if (!expect(&s, '['))
				return -1;
			while (!s.err && !peek(&s, ']')) {
				if (nv == MAXVALS)
					return -1;
				proto_value *v = &vals[nv];
				memset(v, 0, sizeof *v);
				v->ttl = 86400;
				v->perms = 0x0e;
				v->timestamp = now;
				int tl = 0, dl = 0;
				if (!expect(&s, '{'))
					return -1;
				while (!s.err && !peek(&s, '}')) {
					char f[32];
					int fl = str(&s, f, sizeof f - 1);
					if (fl < 0 || !expect(&s, ':'))
						return -1;
					f[fl] = 0;
					if (!strcmp(f, "index")) {
						v->index = (uint32_t)num(&s);
					} else if (!strcmp(f, "type")) {
						tl = str(&s, types[nv], sizeof types[nv]);
					} else if (!strcmp(f, "ttl")) {
						v->ttl = (uint32_t)num(&s);
					} else if (!strcmp(f, "perms")) {
						v->perms = (uint8_t)num(&s);
					} else if (!strcmp(f, "timestamp")) {
						v->timestamp = (uint32_t)num(&s);
					} else if (!strcmp(f, "data")) {
						if (peek(&s, '"')) {
							dl = str(&s, datas[nv], TXT_MAX);
						} else {
							char fmt[16] = "utf8";
							dl = -1;
							if (!expect(&s, '{'))
								return -1;
							while (!s.err && !peek(&s, '}')) {
								char g[16];
								int gl = str(&s, g, sizeof g - 1);
								if (gl < 0 || !expect(&s, ':'))
									return -1;
								g[gl] = 0;
								if (!strcmp(g, "format")) {
									int ml =
									    str(&s, fmt,
									        sizeof fmt - 1);
									fmt[ml < 0 ? 0 : ml] = 0;
								} else if (!strcmp(g, "value")) {
									dl = str(&s, datas[nv],
									         TXT_MAX);
								} else {
									skip_value(&s);
								}
								if (!peek(&s, '}'))
									expect(&s, ',');
							}
							expect(&s, '}');
							if (dl >= 0)
								dl =
								    decode_data(fmt, datas[nv], dl);
						}
					} else {
						skip_value(&s);
					}
					if (!peek(&s, '}'))
						expect(&s, ',');
				}
				expect(&s, '}');
				if (s.err || tl < 0 || dl < 0)
					return -1;
				v->type = idn_slice_of(types[nv], (size_t)tl);
				v->data = idn_slice_of(datas[nv], (size_t)dl);
				nv++;
				if (!peek(&s, ']'))
					expect(&s, ',');
			}
			expect(&s, ']');
		} else {
			skip_value(&s);
		}
		if (!peek(&s, '}'))
			expect(&s, ',');
	}
	if (s.err || hlen <= 0)
		return -1;
	int kl = handle_key(idn_slice_of(handle, (size_t)hlen), true, key);
	if (kl < 0)
		return -1;
	size_t need = record_size(vals, nv);
	if (need > reccap) {
		reccap = need * 2;
		recbuf = realloc(recbuf, reccap);
	}
	int vl = record_build(vals, nv, recbuf, reccap);
	if (vl < 0)
		return -1;
	r->klen = (uint32_t)kl;
	r->koff = arena_put(key, (size_t)kl);
	r->vlen = (uint32_t)vl;
	r->voff = arena_put(recbuf, (size_t)vl);
	return 0;
}

static rec *R;

/* LMDB's default key order: memcmp over the shorter, then the shorter first. */
static int key_cmp(const rec *x, const rec *y)
{
	uint32_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(arena + x->koff, arena + y->koff, n);
	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static int sitem_cmp(const void *a, const void *b)
{
	const sitem *x = a, *y = b;
	if (x->h0 != y->h0)
		return x->h0 < y->h0 ? -1 : 1;
	if (x->h1 != y->h1)
		return x->h1 < y->h1 ? -1 : 1;
	if (x->h2 != y->h2)
		return x->h2 < y->h2 ? -1 : 1;
	return key_cmp(&R[x->idx], &R[y->idx]);
}

static uint64_t be64_padded(const uint8_t *p, size_t avail)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | (i < avail ? p[i] : 0);
	return v;
}

/* Sorts R[0..n) into key order through compact items. */
static void sort_records(size_t n)
{
	if (n < 2)
		return;
	size_t lcp = R[0].klen;
	for (size_t i = 1; i < n && lcp; i++) {
		const uint8_t *a0 = arena + R[0].koff, *ai = arena + R[i].koff;
		size_t m = R[i].klen < lcp ? R[i].klen : lcp, j = 0;
		while (j < m && a0[j] == ai[j])
			j++;
		lcp = j;
	}
	sitem *it = malloc(n * sizeof *it);
	rec *out = malloc(n * sizeof *out);
	if (!it || !out)
		die("out of memory", NULL);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *k = arena + R[i].koff + lcp;
		size_t left = R[i].klen - lcp;
		it[i].h0 = be64_padded(k, left);
		it[i].h1 = left > 8 ? be64_padded(k + 8, left - 8) : 0;
		it[i].h2 = left > 16 ? be64_padded(k + 16, left - 16) : 0;
		it[i].idx = (uint32_t)i;
	}
	qsort(it, n, sizeof *it, sitem_cmp);
	for (size_t i = 0; i < n; i++)
		out[i] = R[it[i].idx];
	memcpy(R, out, n * sizeof *R);
	free(out);
	free(it);
}

#define CK(call)                                                                                   \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_)                                                                           \
			die(#call, mdb_strerror(rc_));                                             \
	} while (0)

int main(int argc, char **argv)
{
	const char *dir = NULL;
	long batch = 0, map_mb = 0;
	int nosync = 0, writemap = 0, random_order = 0, quiet = 0, o;
	while ((o = getopt(argc, argv, "d:B:nwrM:q")) != -1) {
		switch (o) {
		case 'd':
			dir = optarg;
			break;
		case 'B':
			batch = atol(optarg);
			break;
		case 'n':
			nosync = 1;
			break;
		case 'w':
			writemap = 1;
			break;
		case 'r':
			random_order = 1;
			break;
		case 'M':
			map_mb = atol(optarg);
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			goto usage;
		}
	}
	if (!dir || optind != argc - 1 || batch < 0) {
	usage:
		fprintf(stderr, "usage: lmdb_insert -d DIR FILE.jsonl [-B BATCH] [-n] [-w] [-r] "
		                "[-M MAPSIZE_MB] [-q]\n");
		return 2;
	}
	const char *fn = argv[optind];
	double t0 = now_s();

	int fd = open(fn, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		die(fn, strerror(errno));
	size_t fsize = (size_t)st.st_size;
	const char *data =
	    fsize ? mmap(NULL, fsize, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : "";
	if (data == MAP_FAILED)
		die("mmap", strerror(errno));
	madvise((void *)data, fsize, MADV_SEQUENTIAL);

	/* parse */
	size_t cap = fsize / 128 + 1024, n = 0, bad = 0, lineno = 0;
	R = malloc(cap * sizeof *R);
	arena_cap = fsize + (1u << 20);
	arena = malloc(arena_cap);
	uint32_t now = (uint32_t)time(NULL);
	for (const char *p = data, *end = data + fsize; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		lineno++;
		if (le > p) {
			if (n == cap) {
				cap *= 2;
				R = realloc(R, cap * sizeof *R);
				if (!R)
					die("out of memory", NULL);
			}
			if (parse_line(p, le, &R[n], now) == 0) {
				n++;
			} else if (bad++ < 5) {
				fprintf(stderr, "lmdb_insert: %s:%zu: cannot read this line\n", fn,
				        lineno);
			}
		}
		p = le + 1;
	}
	double t_parse = now_s();

	if (!random_order)
		sort_records(n);
	double t_sort = now_s();

	/* open a fresh environment */
	mkdir(dir, 0755);
	char path[4096];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;
	CK(mdb_env_create(&env));
	size_t mapsize = map_mb > 0 ? (size_t)map_mb << 20 : fsize * 4;
	if (mapsize < (64u << 20))
		mapsize = 64u << 20;
	CK(mdb_env_set_mapsize(env, mapsize));
	CK(mdb_env_set_maxdbs(env, 4));
	CK(mdb_env_open(env, dir, (nosync ? MDB_NOSYNC : 0) | (writemap ? MDB_WRITEMAP : 0), 0644));
	CK(mdb_txn_begin(env, NULL, 0, &txn));
	CK(mdb_dbi_open(txn, "records", MDB_CREATE, &dbi));
	CK(mdb_txn_commit(txn));
	double t_open = now_s();

	/* insert */
	size_t dup = 0;
	unsigned flags = random_order ? 0 : MDB_APPEND;
	CK(mdb_txn_begin(env, NULL, 0, &txn));
	for (size_t i = 0; i < n; i++) {
		MDB_val k = {R[i].klen, arena + R[i].koff}, v = {R[i].vlen, arena + R[i].voff};
		int rc = mdb_put(txn, dbi, &k, &v, flags);
		if (rc == MDB_KEYEXIST) { /* a repeated handle: the sorted run has it twice */
			dup++;
			CK(mdb_put(txn, dbi, &k, &v, 0));
		} else if (rc) {
			die("mdb_put", mdb_strerror(rc));
		}
		if (batch && (i + 1) % (size_t)batch == 0) {
			CK(mdb_txn_commit(txn));
			CK(mdb_txn_begin(env, NULL, 0, &txn));
		}
	}
	double t_puts = now_s();
	CK(mdb_txn_commit(txn));
	double t_commit = now_s();
	if (!nosync)
		CK(mdb_env_sync(env, 1));
	MDB_envinfo info;
	MDB_stat est;
	mdb_env_info(env, &info);
	mdb_env_stat(env, &est);
	mdb_env_close(env);
	double t_end = now_s();

	double ins = t_commit - t_open, total = t_end - t0;
	uint64_t kb = 0, vb = 0;
	for (size_t i = 0; i < n; i++) {
		kb += R[i].klen;
		vb += R[i].vlen;
	}
	double disk = (double)(info.me_last_pgno + 1) * est.ms_psize;
	if (!quiet) {
		printf("lmdb_insert: %zu records (%zu unreadable lines, %zu repeated keys) from %s "
		       "(%.1f MB)\n",
		       n, bad, dup, fn, (double)fsize / 1e6);
		printf("  mean key %.1f bytes, mean record %.1f bytes\n",
		       n ? (double)kb / (double)n : 0.0, n ? (double)vb / (double)n : 0.0);
		printf("  parse %.3f s  sort %.3f s  open %.3f s  puts %.3f s  commit %.3f s  "
		       "total %.3f s\n",
		       t_parse - t0, t_sort - t_parse, t_open - t_sort, t_puts - t_open,
		       t_commit - t_puts, total);
		printf(
		    "  insert phase (puts + commit%s): %.0f records/s; whole run: %.0f records/s\n",
		    random_order ? ", file order, no MDB_APPEND" : ", sorted, MDB_APPEND",
		    ins > 0 ? (double)n / ins : 0, total > 0 ? (double)n / total : 0);
		printf("  on disk: %.1f MB, %.1f bytes/record\n", disk / 1e6,
		       n ? disk / (double)n : 0);
	}
	printf("RESULT records=%zu insert_s=%.3f insert_rps=%.0f total_s=%.3f total_rps=%.0f "
	       "bytes_per_record=%.1f\n",
	       n, ins, ins > 0 ? (double)n / ins : 0, total, total > 0 ? (double)n / total : 0,
	       n ? disk / (double)n : 0);
	return bad && !n ? 1 : 0;
}
