/*
 * bulkload.c - the bulk loader (bulkload.h): entries parsed into arenas,
 * sorted by key range, written with ordered appends.
 *
 *   input (mmap'd, or read() in big chunks; or entries from memory)
 *     -> each chunk split in two at a newline, both halves parsed at once
 *        (this thread and a worker), each into its own arena of entries:
 *        storage key + record, built by the caller's parser
 *     -> when the run is full (a quarter of the memory, opts.memory) or the
 *        input ends: splitters sampled from the run cut it into key-range
 *        buckets; a sorter thread sorts the buckets in key order while this
 *        thread writes the sorted ones with STORE_APPEND, in transactions of
 *        TXN_BYTES.
 *
 * A mapped file too big for one run is read in passes (plan_ranges,
 * feed_ranges): lines sampled over the file choose key ranges that each
 * fill a run; pass k parses only the lines whose key (opts.key, cheap)
 * falls in range k, then writes its run as above, so the ranges are
 * appended in ascending order with no spill file. Otherwise a full run is
 * sorted and spilled (opts.spill_dir), and the spill files are merged at
 * the end.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "proto/handle.h"
#include "store/bulkload.h"
#include "store/index.h"
#include "store/store.h"

enum {
	CHUNK = 16 << 20,             /* input read per round */
	CHUNK_MIN = 64 << 10,         /* the same, with a tiny memory */
	MAX_LINE = BULKLOAD_LINE_MAX, /* a longer line is an error */
	THREAD_MIN = 256 << 10,       /* chunks smaller than this are parsed by one thread */
	BLOCK_MIN = 4 << 20,          /* first arena block */
	BLOCK = 64 << 20,             /* largest arena block */
	TXN_BYTES = 64 << 20,         /* record bytes per write transaction, appending */
	TXN_BYTES_MID = 1 << 30,      /* the same, inserting between existing keys */
	REF_BYTES = 2 * 40 + 2,       /* index memory per entry: refs, out, bucket id */
	MSG_MAX = BULKLOAD_MSG_MAX,   /* one error message */
	STORE_RETRIES = 8,            /* a batch redone after the map filled up */
	SPILL_BUF = 256 << 10,        /* stdio buffer of each spill file */
	SPILL_HDR = 16,               /* spill entry: le32 klen, le32 rlen, le64 line */
};
#define RUN_MIN ((uint64_t)256 << 20)
#define RUN_MAX ((uint64_t)16 << 30)

/* ------------------------------------------------------------------------ */
/* arena and entries                                                        */

/* One parsed identifier: storage key then record, 8-aligned in an arena. */
struct ent {
	uint32_t klen;
	uint32_t rlen;
	uint8_t bytes[]; /* key, record */
};

/*
 * What the sort moves: the 24 key bytes after the run's common prefix inline
 * (big-endian words, zero-padded; keys hold no NUL, so padding is never
 * ambiguous), so most comparisons never touch the arena.
 */
struct sref {
	uint64_t w[3];
	const struct ent *e;
	uint64_t lk; /* line number << 24 | word offset << 12 | key length (<= 2048) */
};
#define LK_LINE(lk) ((lk) >> 24)
#define LK_OFF(lk)  ((size_t)((lk) >> 12 & 0xfff))
#define LK_KLEN(lk) ((uint32_t)((lk)&0xfff))

struct block {
	struct block *next;
	size_t cap, used;
	uint8_t data[];
};

/* ------------------------------------------------------------------------ */
/* per-thread parser state                                                  */

/* The key range of one pass over a file: (lo, hi]; lo NULL: from the start, hi NULL: to the end. */
struct krange {
	const uint8_t *lo, *hi;
	uint32_t lolen, hilen;
	bool first; /* the first pass: reports the bad lines whose key only parsing tells */
	/*
	 * Each line's range, recorded in the first pass (the parts' `lr`) and
	 * read in the others (`lr_in`): a line is then parsed or skipped
	 * without its key being looked at again. LR_PARSE: only parsing tells.
	 */
	bool recorded;
	uint32_t k;               /* this pass's range */
	const uint8_t *splitbuf;  /* the first pass: the splitters, to tell a key's range */
	const uint32_t *splitlen; /* nsplit of them */
	const size_t *splitoff;
	size_t nsplit;
};
enum { LR_PARSE = 0xff, LL_LONG = 0xffff };

struct part {
	bulkload_parse_fn parse;
	void *parser;
	bulkload_key_fn key;
	const struct krange *range; /* NULL: every line */
	size_t last_len;            /* arena bytes of the entry allocated last */
	/* each line's range (krange.recorded): this chunk half's, the first pass */
	uint8_t *lr, line_range;
	uint16_t *ll; /* and its length (LL_LONG: longer) */
	size_t lrcap;
	const uint8_t *lr_in; /* the others: where this chunk half's lines are in them all */
	const uint16_t *ll_in;
	uint64_t n_in; /* how many were noted (more, in a file changed since: not noted) */

	/* arena (kept across runs) and this run's entries */
	struct block *blocks, *cur;
	size_t arena_used;
	struct sref *refs;
	size_t nrefs, caprefs;
	struct ent *last; /* the entry import_line() allocated last */

	/* the chunk half being parsed */
	const uint8_t *in, *in_end;
	size_t chunk_first_ref;
	uint64_t nlines, nerr;
	/* its errors: u64 local line, NUL-terminated message, repeated */
	char *errs;
	size_t elen, ecap;
	int fatal; /* IDN_ENOMEM */

	/* common key prefix of this run's entries so far, against its first key */
	const uint8_t *ref_key;
	size_t lcp;

	/* partitioning the run into key ranges (see flush_run) */
	const struct runsort *rs;
	uint16_t *bid; /* bucket of each entry */
	size_t bidcap;
	size_t *cnt; /* entries per bucket, then where the next one goes */
	pthread_t th;
};

static void *xrealloc_array(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return realloc(p, n * size);
}

/* Doubles the array *p of *cap elements of size bytes (first: the first size). */
static int grow_array(void **p, size_t *cap, size_t size, size_t first)
{
	size_t n = *cap ? *cap * 2 : first;
	void *np = xrealloc_array(*p, n, size);
	if (!np)
		return IDN_ENOMEM;
	*p = np;
	*cap = n;
	return IDN_OK;
}

/* Room for at least `want` lines' range and length (krange.recorded) in *lr, *ll. */
static int grow_lines(uint8_t **lr, uint16_t **ll, size_t *cap, size_t want)
{
	size_t n = *cap ? *cap * 2 : 1 << 16;
	n = n < want ? want : n;
	uint8_t *r = realloc(*lr, n);
	if (r)
		*lr = r;
	uint16_t *l = r ? xrealloc_array(*ll, n, sizeof(*l)) : NULL;
	if (!l)
		return IDN_ENOMEM;
	*ll = l;
	*cap = n;
	return IDN_OK;
}

/*
 * Blocks are mapped with MAP_POPULATE: on these VMs the first touch of fresh
 * memory costs more than parsing (0.7-2 ms per MB page by page, 2-4 ms with
 * transparent huge pages, 0.55 ms populated in one call). Sizes double from
 * BLOCK_MIN, so a small load does not populate much.
 */
static struct block *block_new(size_t cap)
{
	size_t len = (sizeof(struct block) + cap + 4095) & ~(size_t)4095;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct block *b = m;
	b->next = NULL;
	b->cap = len - sizeof(struct block);
	b->used = 0;
	return b;
}

static struct ent *arena_alloc(struct part *w, size_t len)
{
	len = (len + 7) & ~(size_t)7;
	struct block *b = w->cur;
	while (b && b->cap - b->used < len)
		b = b->next; /* blocks are reused in order after a run */
	if (!b) {
		size_t cap = w->cur ? w->cur->cap * 2 : BLOCK_MIN;
		if (cap > BLOCK)
			cap = BLOCK;
		if (cap < len)
			cap = len;
		if (!(b = block_new(cap)))
			return NULL;
		if (w->cur) {
			b->next = w->cur->next;
			w->cur->next = b;
		} else {
			w->blocks = b;
		}
	}
	w->cur = b;
	struct ent *e = (struct ent *)(b->data + b->used);
	b->used += len;
	w->arena_used += len;
	return e;
}

static void arena_reset(struct part *w)
{
	for (struct block *b = w->blocks; b; b = b->next)
		b->used = 0;
	w->cur = w->blocks;
	w->arena_used = 0;
	w->nrefs = 0;
	w->ref_key = NULL;
}

/* Unmaps w's arena and frees its index (w can take entries again after). */
static void arena_release(struct part *w)
{
	struct block *b = w->blocks;
	while (b) {
		struct block *n = b->next;
		munmap(b, sizeof(*b) + b->cap);
		b = n;
	}
	w->blocks = w->cur = NULL;
	free(w->refs);
	w->refs = NULL;
	w->caprefs = 0;
	free(w->bid);
	w->bid = NULL;
	w->bidcap = 0;
	arena_reset(w);
}

static void part_free(struct part *w)
{
	arena_release(w);
	free(w->errs);
	free(w->cnt);
	free(w->lr);
	free(w->ll);
}

/* Key bytes [off, off + 8) as a big-endian word, zero-padded past the key. */
static inline uint64_t be_word(const uint8_t *k, size_t len, size_t off)
{
	uint8_t b[8] = {0};
	if (off + 8 <= len) {
		memcpy(b, k + off, 8);
	} else if (off < len) {
		memcpy(b, k + off, len - off);
	}
	return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
	       (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
	       (uint64_t)b[6] << 8 | b[7];
}

/* Fills r's words from key offset off. */
static inline void set_words(struct sref *r, size_t off)
{
	size_t l = LK_KLEN(r->lk);
	for (int q = 0; q < 3; q++)
		r->w[q] = be_word(r->e->bytes, l, off + 8 * (size_t)q);
	r->lk = (r->lk & ~((uint64_t)0xfff << 12)) | (uint64_t)off << 12;
}

/* ------------------------------------------------------------------------ */
/* parsing                                                                  */

/* The parser's allocator: an entry in w's arena, key and record after its header. */
static void *ent_alloc(void *arg, size_t len)
{
	struct part *w = arg;
	struct ent *e = arena_alloc(w, sizeof(struct ent) + len);
	w->last = e;
	w->last_len = (sizeof(struct ent) + len + 7) & ~(size_t)7;
	return e ? e->bytes : NULL;
}

/* A new entry in w's arena holding copies of key and record; NULL: no memory. */
static struct ent *ent_copy(struct part *w, idn_slice key, idn_slice record)
{
	struct ent *e = arena_alloc(w, sizeof(struct ent) + key.len + record.len);
	if (!e)
		return NULL;
	e->klen = (uint32_t)key.len;
	e->rlen = (uint32_t)record.len;
	memcpy(e->bytes, key.p, key.len);
	if (record.len)
		memcpy(e->bytes + key.len, record.p, record.len);
	return e;
}

/* Indexes entry e (its key and record written) as line lineno of the run. */
static int add_ref(struct part *w, struct ent *e, uint64_t lineno)
{
	uint32_t klen = e->klen;
	if (w->nrefs == w->caprefs &&
	    grow_array((void **)&w->refs, &w->caprefs, sizeof(*w->refs), 65536))
		return IDN_ENOMEM;
	/* The words hold the key after the run's common prefix; a key that
	 * shortens the prefix makes refill_part redo the entries before it. */
	if (!w->ref_key) {
		w->ref_key = e->bytes;
		w->lcp = klen;
	} else {
		size_t c = 0, m = klen < w->lcp ? klen : w->lcp;
		while (c < m && e->bytes[c] == w->ref_key[c])
			c++;
		w->lcp = c;
	}
	struct sref *r = &w->refs[w->nrefs++];
	r->e = e;
	r->lk = lineno << 24 | klen;
	set_words(r, w->lcp);
	return IDN_OK;
}

/*
 * Parses one line into w's arena: IDN_OK (an entry was added), BULKLOAD_SKIP,
 * IDN_EINVAL (*why says why) or IDN_ENOMEM.
 */
static int parse_line(struct part *w, const uint8_t *line, size_t len, uint64_t lineno,
                      const char **why)
{
	size_t klen, rlen;
	int rc = w->parse(w->parser, line, len, ent_alloc, w, &klen, &rlen, why);
	if (rc != IDN_OK)
		return rc;
	struct ent *e = w->last;
	e->klen = (uint32_t)klen;
	e->rlen = (uint32_t)rlen;
	return add_ref(w, e, lineno);
}

/* Bytewise key order, the shorter first when one is a prefix of the other. */
static int key_cmp(const uint8_t *a, uint32_t la, const uint8_t *b, uint32_t lb)
{
	int c = memcmp(a, b, la < lb ? la : lb);
	return c ? c : la < lb ? -1 : la > lb;
}

static bool in_range(const struct krange *r, const uint8_t *k, size_t klen)
{
	return (!r->lo || key_cmp(k, (uint32_t)klen, r->lo, r->lolen) > 0) &&
	       (!r->hi || key_cmp(k, (uint32_t)klen, r->hi, r->hilen) <= 0);
}

/* The range of a key in the first pass: how many splitters are below it. */
static uint8_t range_of(const struct krange *r, const uint8_t *k, size_t klen)
{
	size_t lo = 0, hi = r->nsplit;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(k, (uint32_t)klen, r->splitbuf + r->splitoff[mid], r->splitlen[mid]) >
		    0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint8_t)lo;
}

/*
 * parse_line for a pass over one key range: a line whose key opts.key tells
 * is parsed when it is in the range, skipped (BULKLOAD_SKIP) otherwise; any
 * other line is parsed, and its entry kept when it is in the range (its
 * error reported in the first pass only).
 */
static int parse_ranged(struct part *w, const uint8_t *line, size_t len, uint64_t lineno,
                        const char **why)
{
	const struct krange *r = w->range;
	uint8_t kb[HANDLE_KEY_MAX];
	size_t kl = 0;
	if (r->recorded && !r->first && lineno <= w->n_in) {
		uint8_t k = w->lr_in[lineno - 1];
		if (k != LR_PARSE)
			return k == r->k ? parse_line(w, line, len, lineno, why) : BULKLOAD_SKIP;
	} else {
		kl = w->key(w->parser, line, len, kb);
	}
	if (kl && r->recorded) {
		w->line_range = range_of(r, kb, kl);
		return w->line_range == r->k ? parse_line(w, line, len, lineno, why)
		                             : BULKLOAD_SKIP;
	}
	if (kl)
		return in_range(r, kb, kl) ? parse_line(w, line, len, lineno, why) : BULKLOAD_SKIP;
	size_t klen, rlen;
	int rc = w->parse(w->parser, line, len, ent_alloc, w, &klen, &rlen, why);
	if (rc == IDN_EINVAL && !w->range->first)
		return BULKLOAD_SKIP;
	if (rc != IDN_OK)
		return rc;
	struct ent *e = w->last;
	if (!in_range(w->range, e->bytes, klen)) {
		w->cur->used -= w->last_len; /* the last allocation, in w->cur */
		w->arena_used -= w->last_len;
		return BULKLOAD_SKIP;
	}
	e->klen = (uint32_t)klen;
	e->rlen = (uint32_t)rlen;
	return add_ref(w, e, lineno);
}

static void add_err(struct part *w, uint64_t line, const char *msg)
{
	size_t n = strlen(msg) + 1;
	if (w->ecap - w->elen < 8 + n) {
		size_t cap = (w->ecap ? w->ecap * 2 : 4096) + 8 + n;
		char *e = realloc(w->errs, cap);
		if (!e) {
			w->fatal = IDN_ENOMEM;
			return;
		}
		w->errs = e;
		w->ecap = cap;
	}
	memcpy(w->errs + w->elen, &line, 8);
	memcpy(w->errs + w->elen + 8, msg, n);
	w->elen += 8 + n;
}

/* Parses w->in .. w->in_end; line numbers are local (1 = the first line). */
static void *parse_part(void *arg)
{
	struct part *w = arg;
	const uint8_t *p = w->in, *end = w->in_end;
	char msg[MSG_MAX];

	w->nlines = w->nerr = 0;
	w->elen = 0;
	w->chunk_first_ref = w->nrefs;
	bool record = w->range && w->range->recorded && w->range->first;
	/* a later pass: where each line ends is known (but checked) */
	const uint16_t *lens = w->range && w->range->recorded && !record ? w->ll_in : NULL;
	const uint8_t *lr = lens ? w->lr_in : NULL, k = lens ? (uint8_t)w->range->k : 0;
	while (p < end && !w->fatal) {
		/*
		 * A later pass: the lines of other ranges stepped over by their
		 * noted length in a tight loop (each still checked to end where
		 * noted); the others go the way below.
		 */
		while (lr && w->nlines < w->n_in && lr[w->nlines] != k &&
		       lr[w->nlines] != LR_PARSE) {
			uint16_t l = lens[w->nlines];
			if (l >= end - p || p[l] != '\n') /* LL_LONG too */
				break;
			p += l + 1;
			w->nlines++;
		}
		if (p >= end)
			break;
		const uint8_t *nl = NULL;
		if (lens && w->nlines < w->n_in && lens[w->nlines] != LL_LONG &&
		    lens[w->nlines] <= end - p)
			nl = p + lens[w->nlines];
		if (!nl || (nl < end && *nl != '\n'))
			nl = memchr(p, '\n', (size_t)(end - p));
		else if (nl == end)
			nl = NULL;
		const uint8_t *le = nl ? nl : end;
		if (record && w->nlines == w->lrcap && grow_lines(&w->lr, &w->ll, &w->lrcap, 0)) {
			w->fatal = IDN_ENOMEM;
			break;
		}
		w->line_range = LR_PARSE;
		w->nlines++;
		int rc = IDN_EINVAL;
		const char *why = msg;
		if (le - p > MAX_LINE)
			snprintf(msg, sizeof(msg), "line longer than %d bytes", MAX_LINE);
		else if (w->range)
			rc = parse_ranged(w, p, (size_t)(le - p), w->nlines, &why);
		else
			rc = parse_line(w, p, (size_t)(le - p), w->nlines, &why);
		if (rc == IDN_ENOMEM) {
			w->fatal = IDN_ENOMEM;
		} else if (rc == IDN_EINVAL) {
			w->nerr++;
			add_err(w, w->nlines, why);
		}
		if (record) {
			w->lr[w->nlines - 1] = w->line_range;
			w->ll[w->nlines - 1] = le - p < LL_LONG ? (uint16_t)(le - p) : LL_LONG;
		}
		p = nl ? nl + 1 : end;
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* sorting                                                                  */

/* Key order of two entries whose words were taken at the same lcp. */
static inline int sref_keycmp(const struct sref *a, const struct sref *b, size_t lcp)
{
	for (int i = 0; i < 3; i++)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	/* Equal words: the rest decides, else the shorter key (the words are
	 * zero-padded and keys hold no NUL, so a key that ends inside them is a
	 * prefix of the other). */
	uint32_t la = LK_KLEN(a->lk), lb = LK_KLEN(b->lk);
	size_t in = lcp + 24;
	if (la > in && lb > in) {
		uint32_t m = la < lb ? la : lb;
		int c = memcmp(a->e->bytes + in, b->e->bytes + in, m - in);
		if (c)
			return c;
	}
	return la < lb ? -1 : la > lb;
}

/* Key order, then line order. */
static inline int sref_cmp(const struct sref *a, const struct sref *b, size_t lcp)
{
	int c = sref_keycmp(a, b, lcp);
	if (c)
		return c;
	return LK_LINE(a->lk) < LK_LINE(b->lk) ? -1 : LK_LINE(a->lk) > LK_LINE(b->lk);
}

/* Bottom-up merge sort of a[0..n) with tmp[n]; already-ordered pairs of runs are not merged. */
static void sort_refs(struct sref *a, size_t n, struct sref *tmp, size_t lcp)
{
	enum { INS = 24 };
	size_t i;
	for (i = 1; i < n; i++)
		if (sref_cmp(&a[i - 1], &a[i], lcp) > 0)
			break;
	if (i >= n)
		return; /* already sorted: common for generated input */

	for (size_t lo = 0; lo < n; lo += INS) {
		size_t hi = lo + INS < n ? lo + INS : n;
		for (size_t k = lo + 1; k < hi; k++) {
			struct sref x = a[k];
			size_t m = k;
			while (m > lo && sref_cmp(&a[m - 1], &x, lcp) > 0) {
				a[m] = a[m - 1];
				m--;
			}
			a[m] = x;
		}
	}
	struct sref *src = a, *dst = tmp;
	for (size_t width = INS; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			if (mid >= hi || sref_cmp(&src[mid - 1], &src[mid], lcp) <= 0) {
				memcpy(dst + lo, src + lo, (hi - lo) * sizeof(*src));
				continue;
			}
			size_t x = lo, y = mid, o = lo;
			while (x < mid && y < hi)
				dst[o++] =
				    sref_cmp(&src[y], &src[x], lcp) < 0 ? src[y++] : src[x++];
			while (x < mid)
				dst[o++] = src[x++];
			while (y < hi)
				dst[o++] = src[y++];
		}
		struct sref *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
}

/* Refills the words of entries taken at another offset than the run's lcp. */
static void *refill_part(void *arg)
{
	struct part *w = arg;
	for (size_t i = 0; i < w->nrefs; i++)
		if (LK_OFF(w->refs[i].lk) != w->lcp)
			set_words(&w->refs[i], w->lcp);
	return NULL;
}

/* Runs fn on both parts, on two threads when both have enough work. */
static void both_parts(struct part *a, struct part *b, void *(*fn)(void *))
{
	bool threaded =
	    a->nrefs > 4096 && b->nrefs > 4096 && pthread_create(&a->th, NULL, fn, a) == 0;
	if (!threaded)
		fn(a);
	fn(b);
	if (threaded)
		pthread_join(a->th, NULL);
}

/* ------------------------------------------------------------------------ */
/* the load                                                                 */

/*
 * The run's entries are sorted by key range so that writing can start early:
 * splitters sampled from the run cut it into buckets of ~BUCKET entries;
 * both threads scatter their entries into `out`, bucket after bucket; then a
 * sorter thread sorts the buckets in key order while this thread writes the
 * ones already sorted. Equal keys share a bucket, so duplicates are adjacent.
 */
enum { BUCKET = 4096, SAMPLE_PER_BUCKET = 32, MAX_BUCKETS = 16384, THREAD_RUN = 65536 };

struct runsort {
	struct sref *out; /* the run, bucket after bucket */
	size_t cap;       /* entries out can hold */
	size_t n, lcp, nb;
	struct sref *split; /* nb - 1 splitters */
	size_t *bstart;     /* nb + 1 bucket boundaries in out */
	struct sref *tmp;   /* merge sort scratch, the largest bucket */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t ready; /* out[0 .. ready) is sorted; under mu */
	pthread_t th;
};

enum { IX_PARTS = 4 }; /* value types sorted apart; the last part takes the rest */

struct bulkload {
	bulkload_opts opts;
	store *s;
	struct part part[2];
	struct runsort rs;
	/*
	 * Overlapped passes (see overlap_flush): the parts' arenas and the
	 * runsort of the pass being written, by the writer thread, while
	 * part[] and rs take the next pass.
	 */
	bool overlap;
	struct part wpart[2];
	struct runsort wrs;
	pthread_t writer;
	bool writing;                   /* the writer thread runs */
	bool wthreaded;                 /* wrs is sorted on its own thread */
	int write_rc;                   /* what it returned */
	pthread_mutex_t stmu;           /* st, between the writer and progress() */
	size_t run_bytes;               /* memory for one run: arenas and index */
	size_t chunk;                   /* input parsed per round; the run is checked after each */
	uint8_t maxkey[HANDLE_KEY_MAX]; /* the largest key written by this load */
	uint32_t maxklen;
	bulkload_stats st;
	int read_errno;  /* of the read that failed */
	int spill_errno; /* of the spill file write or read that failed */
	/* spill files (opts.spill_dir), each one sorted run */
	FILE **spill;
	size_t nspill;
	/* resuming (opts.resume_id): the resume point read at the first write */
	bool resume_read;
	/* commits not waited for on the disk (opts.boot_id): decided in the first */
	enum { LAZY_UNSET, LAZY_ON, LAZY_OFF } lazy;
	bool lazy_clear; /* BULKLOAD_LAZY_META is set: the last commit clears it */
	uint8_t skipkey[HANDLE_KEY_MAX];
	uint32_t skipklen; /* 0: nothing to skip */
	/* the last key written, for the resume point */
	uint8_t lastkey[HANDLE_KEY_MAX];
	uint32_t lastklen;
	struct part xerr; /* only its error list: lines refused by --no-overwrite */
	/* the search index (see ix_decide): what this load does about it */
	int ixmode;
	bool ix_merge;   /* EMIT into a store that held records: unmake what is replaced */
	bool ix_multi;   /* runs written as they fill: no single ordered pass */
	index_ents *ixe; /* one record's entries */
	/* this index run's entries (klen, rlen = INDEX_VAL_LEN), one part per
	 * value type (ix_part), so that each part's common prefix covers the
	 * type and what its data share (a URL's scheme and host) and the sort
	 * compares what differs */
	struct part ixp[IX_PARTS];
	uint8_t ixtype[IX_PARTS - 1][INDEX_TYPE_MAX];
	size_t ixtlen[IX_PARTS - 1], nixtypes;
	struct sref *ixout; /* the parts merged */
	size_t ix_bytes;    /* memory for one index run, at least (see ix_emit) */
	FILE **ixspill;     /* sorted index runs (opts.spill_dir) */
	size_t nixspill;
	/* passes over a file by key range (see plan_ranges) */
	bool ranged;
	uint64_t line_base;  /* lines of this pass before the chunk */
	struct krange range; /* this pass's */
	uint8_t *splitbuf;   /* the splitters' keys, one after another */
	uint32_t *splitlen;  /* nranges - 1 of them */
	size_t *splitoff;    /* where each starts in splitbuf */
	size_t nranges;
	/* each line's range (krange.recorded), all the file's, the first pass's */
	bool record;
	uint8_t *lr;
	uint16_t *ll;
	size_t nlr, caplr;
	size_t cur_chunk; /* the chunk being parsed, in a later pass */
	int in_fd;        /* the mapped file, and what fstat said of it before the first */
	struct stat in_st;
	/* the first pass's chunks (and the file's end): where, and their first line */
	struct chunkpos {
		size_t off;
		uint64_t line;
		uint64_t alines; /* lines of its first half (parse_chunk) */
	} * chunks;
	size_t nchunks, capchunks;
};

/*
 * What a load does about the search index, decided in its first write
 * transaction: NONE (it is off), KEEP (kept current by each put: a small load),
 * EMIT (the entries of every record written are collected as it goes,
 * sorted like the records, and written in key order at the end), REBUILD
 * (left stale, rebuilt from the records at the end: an index stale before
 * the load, or runs written as they fill).
 */
enum { IXM_UNSET, IXM_NONE, IXM_KEEP, IXM_EMIT, IXM_REBUILD };
/* meta: the resume_id of a load in EMIT mode, so that its resumption is too */
#define IX_BULK_META "bulkload.index"

static void line_error(struct bulkload *L, uint64_t line, int code, const char *msg)
{
	if (L->opts.on_error)
		L->opts.on_error(L->opts.arg, line, code, msg);
}

/* Tells the caller how far the load is, counting `writing` entries as loaded. */
static void progress(struct bulkload *L, uint64_t writing)
{
	if (!L->opts.on_progress)
		return;
	pthread_mutex_lock(&L->stmu);
	bulkload_stats st = L->st;
	pthread_mutex_unlock(&L->stmu);
	st.loaded += writing;
	L->opts.on_progress(L->opts.arg, &st);
}

/* Which bucket r goes to: the number of splitters not above its key. */
static inline size_t bucket_of(const struct runsort *rs, const struct sref *r)
{
	size_t lo = 0, hi = rs->nb - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (sref_keycmp(&rs->split[mid], r, rs->lcp) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void *count_part(void *arg)
{
	struct part *w = arg;
	const struct runsort *rs = w->rs;
	memset(w->cnt, 0, rs->nb * sizeof(*w->cnt));
	for (size_t i = 0; i < w->nrefs; i++) {
		size_t b = rs->nb > 1 ? bucket_of(rs, &w->refs[i]) : 0;
		w->bid[i] = (uint16_t)b;
		w->cnt[b]++;
	}
	return NULL;
}

static void *scatter_part(void *arg)
{
	struct part *w = arg;
	struct sref *out = w->rs->out;
	for (size_t i = 0; i < w->nrefs; i++)
		out[w->cnt[w->bid[i]]++] = w->refs[i];
	return NULL;
}

static void *sort_buckets(void *arg)
{
	struct runsort *rs = arg;
	for (size_t k = 0; k < rs->nb; k++) {
		sort_refs(rs->out + rs->bstart[k], rs->bstart[k + 1] - rs->bstart[k], rs->tmp,
		          rs->lcp);
		pthread_mutex_lock(&rs->mu);
		rs->ready = rs->bstart[k + 1];
		pthread_cond_signal(&rs->cv);
		pthread_mutex_unlock(&rs->mu);
	}
	return NULL;
}

static void runsort_free(struct runsort *rs)
{
	if (rs->out)
		munmap(rs->out, rs->cap * sizeof(*rs->out));
	free(rs->split);
	free(rs->bstart);
	free(rs->tmp);
	rs->out = rs->split = rs->tmp = NULL;
	rs->bstart = NULL;
	rs->cap = 0;
}

/*
 * Partitions both parts into rs->out and starts sorting the buckets: on a
 * sorter thread (*threaded) for a big run, else here, before returning.
 */
static int partition_run(struct runsort *rs, struct part *a, struct part *b, bool *threaded)
{
	size_t n = a->nrefs + b->nrefs;
	*threaded = false;
	rs->n = n;
	rs->lcp = a->lcp;
	rs->ready = 0;
	rs->nb = n / BUCKET < 1 ? 1 : n / BUCKET > MAX_BUCKETS ? MAX_BUCKETS : n / BUCKET;

	if (rs->cap < n) {
		if (rs->out)
			munmap(rs->out, rs->cap * sizeof(*rs->out));
		size_t cap = n + n / 4;
		rs->out = mmap(NULL, cap * sizeof(*rs->out), PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (rs->out == MAP_FAILED) {
			rs->out = NULL;
			rs->cap = 0;
			return IDN_ENOMEM;
		}
		rs->cap = cap;
	}
	free(rs->split);
	free(rs->bstart);
	rs->split = malloc(rs->nb * sizeof(*rs->split));
	rs->bstart = malloc((rs->nb + 1) * sizeof(*rs->bstart));
	if (!rs->split || !rs->bstart)
		return IDN_ENOMEM;

	/* Splitters: an even sample of the run, sorted, cut in nb. */
	if (rs->nb > 1) {
		size_t ns = rs->nb * SAMPLE_PER_BUCKET < n ? rs->nb * SAMPLE_PER_BUCKET : n;
		struct sref *sample = malloc(2 * ns * sizeof(*sample));
		if (!sample)
			return IDN_ENOMEM;
		for (size_t j = 0; j < ns; j++) {
			size_t g = (size_t)((uint64_t)j * n / ns);
			sample[j] = g < a->nrefs ? a->refs[g] : b->refs[g - a->nrefs];
		}
		sort_refs(sample, ns, sample + ns, rs->lcp);
		for (size_t k = 1; k < rs->nb; k++)
			rs->split[k - 1] = sample[k * ns / rs->nb];
		free(sample);
	}

	/* Bucket of every entry and the counts, then where each bucket starts. */
	for (int i = 0; i < 2; i++) {
		struct part *w = i ? b : a;
		w->rs = rs;
		if (w->bidcap < w->nrefs) {
			uint16_t *bid = xrealloc_array(w->bid, w->nrefs, sizeof(*bid));
			if (!bid)
				return IDN_ENOMEM;
			w->bid = bid;
			w->bidcap = w->nrefs;
		}
		size_t *cnt = xrealloc_array(w->cnt, rs->nb, sizeof(*cnt));
		if (!cnt)
			return IDN_ENOMEM;
		w->cnt = cnt;
	}
	both_parts(a, b, count_part);
	size_t at = 0, most = 0;
	for (size_t k = 0; k < rs->nb; k++) {
		size_t ca = a->cnt[k], cb = b->cnt[k];
		rs->bstart[k] = at;
		a->cnt[k] = at;      /* a's entries of bucket k go first, */
		b->cnt[k] = at + ca; /* then b's */
		at += ca + cb;
		if (ca + cb > most)
			most = ca + cb;
	}
	rs->bstart[rs->nb] = at;
	both_parts(a, b, scatter_part);

	free(rs->tmp);
	if (!(rs->tmp = malloc((most ? most : 1) * sizeof(*rs->tmp))))
		return IDN_ENOMEM;
	if (n >= THREAD_RUN && pthread_create(&rs->th, NULL, sort_buckets, rs) == 0)
		*threaded = true;
	else
		sort_buckets(rs);
	return IDN_OK;
}

/* Waits until out[i] is sorted; returns how far out is sorted. */
static size_t wait_sorted(struct runsort *rs, size_t i)
{
	pthread_mutex_lock(&rs->mu);
	while (rs->ready <= i)
		pthread_cond_wait(&rs->cv, &rs->mu);
	size_t ready = rs->ready;
	pthread_mutex_unlock(&rs->mu);
	return ready;
}

/*
 * Whether a run of n entries keeps the search index current as it goes
 * (small, or small beside the store) rather than leaving it to one rebuild.
 */
static bool keep_index(struct bulkload *L, store_txn *t, size_t n)
{
	uint64_t max = L->opts.index_keep_max ? L->opts.index_keep_max : BULKLOAD_INDEX_KEEP_MAX;
	uint64_t have = 0;
	if (n < max)
		return true;
	return store_count(t, &have) == IDN_OK && n < have / 4;
}

/*
 * Reads the resume point once, in the load's first write transaction: keys
 * up to it were written by an interrupted run of this load.
 */
static int resume_read(struct bulkload *L, store_txn *t)
{
	idn_slice v;
	if (!L->opts.resume_id || L->resume_read)
		return IDN_OK;
	L->resume_read = true;
	int rc = store_meta_get(t, BULKLOAD_RESUME_META, &v);
	if (rc == IDN_ENOTFOUND)
		return IDN_OK;
	if (rc)
		return rc;
	size_t idl = strlen(L->opts.resume_id) + 1;
	if (v.len > idl + 4 && v.len - idl - 4 <= sizeof(L->skipkey) &&
	    !memcmp(v.p, L->opts.resume_id, idl)) {
		L->skipklen = (uint32_t)(v.len - idl - 4);
		memcpy(L->skipkey, v.p + idl + 4, L->skipklen);
	}
	return IDN_OK;
}

/* Whether key was written by an interrupted run of this load. */
static bool resume_skip(const struct bulkload *L, const uint8_t *key, uint32_t klen)
{
	return L->skipklen && key_cmp(key, klen, L->skipkey, L->skipklen) <= 0;
}

/* Records in t that the load got as far as L->lastkey; nothing without resume_id. */
static int resume_mark(struct bulkload *L, store_txn *t, bool clear)
{
	if (!L->opts.resume_id || (!clear && !L->lastklen))
		return IDN_OK;
	uint8_t v[BULKLOAD_RESUME_ID_MAX + 1 + 4 + HANDLE_KEY_MAX];
	size_t idl = strlen(L->opts.resume_id) + 1, n = 0;
	if (!clear) {
		memcpy(v, L->opts.resume_id, idl);
		idn_put_be32(v + idl, L->opts.resume_now);
		memcpy(v + idl + 4, L->lastkey, L->lastklen);
		n = idl + 4 + L->lastklen;
	}
	return store_meta_put(t, BULKLOAD_RESUME_META, idn_slice_of(v, n));
}

static void set_lastkey(struct bulkload *L, const uint8_t *key, uint32_t klen)
{
	memcpy(L->lastkey, key, klen);
	L->lastklen = klen;
}

int bulkload_resume_point(store *s, const char *resume_id, uint32_t *now, size_t *key_len)
{
	store_txn *t;
	idn_slice v;
	size_t idl = strlen(resume_id) + 1;
	int rc = store_txn_begin(s, STORE_RDONLY, &t);
	if (rc)
		return rc;
	rc = store_meta_get(t, BULKLOAD_RESUME_META, &v);
	if (rc == IDN_OK && (v.len <= idl + 4 || memcmp(v.p, resume_id, idl)))
		rc = IDN_ENOTFOUND;
	if (rc == IDN_OK) {
		*now = idn_be32(v.p + idl);
		*key_len = v.len - idl - 4;
	}
	store_txn_abort(t);
	return rc;
}

/* Whether this load's earlier, interrupted run was in EMIT mode. */
static bool ix_resumed_emit(struct bulkload *L, store_txn *t)
{
	idn_slice v;
	if (!L->opts.resume_id || store_meta_get(t, IX_BULK_META, &v) != IDN_OK)
		return false;
	return v.len == strlen(L->opts.resume_id) && !memcmp(v.p, L->opts.resume_id, v.len);
}

/*
 * Decides the index mode (above) in the load's first write transaction t,
 * before its first put; n is the number of entries the load will write, as
 * far as it is known. Marks t for KEEP.
 */
static int ix_begin(struct bulkload *L, store_txn *t, uint64_t n)
{
	if (L->ixmode == IXM_UNSET) {
		enum index_state st;
		uint64_t have = 0;
		int rc = store_index_state(t, &st);
		if (rc == IDN_OK)
			rc = store_count(t, &have);
		if (rc)
			return rc;
		bool cheap_reads = store_can(L->s, STORE_CAP_READ_AMID_PUTS);
		if (st == INDEX_OFF)
			L->ixmode = IXM_NONE;
		else if (keep_index(L, t, n))
			L->ixmode = IXM_KEEP;
		else if (L->ix_multi || (have && !cheap_reads))
			L->ixmode = IXM_REBUILD; /* PostgreSQL: a read per put flushes COPY */
		else if (st == INDEX_ON || (st == INDEX_STALE && ix_resumed_emit(L, t)))
			L->ixmode = IXM_EMIT;
		else
			L->ixmode = IXM_REBUILD;
		L->ix_merge = have > 0;
		if (L->ixmode == IXM_EMIT && !(L->ixe = index_ents_new()))
			return IDN_ENOMEM;
		if (L->ixmode == IXM_EMIT && L->opts.resume_id &&
		    (rc = store_meta_put(
		         t, IX_BULK_META,
		         idn_slice_of(L->opts.resume_id, strlen(L->opts.resume_id)))))
			return rc;
	}
	if (L->ixmode == IXM_KEEP)
		store_index_keep(t);
	return IDN_OK;
}

static int ix_flush(struct bulkload *L, bool last);

/* The part of index entry key: its type's own, or the last one. */
static struct part *ix_part(struct bulkload *L, idn_slice key)
{
	const uint8_t *z = memchr(key.p, 0, key.len);
	size_t tl = z ? (size_t)(z - key.p) : key.len;
	for (size_t i = 0; i < L->nixtypes; i++)
		if (L->ixtlen[i] == tl && !memcmp(L->ixtype[i], key.p, tl))
			return &L->ixp[i];
	if (L->nixtypes == IX_PARTS - 1 || tl > INDEX_TYPE_MAX)
		return &L->ixp[IX_PARTS - 1];
	memcpy(L->ixtype[L->nixtypes], key.p, tl);
	L->ixtlen[L->nixtypes] = tl;
	return &L->ixp[L->nixtypes++];
}

/* Collects the index entries of key's record rec (written, or by the run resumed). */
static int ix_emit(struct bulkload *L, const uint8_t *key, uint32_t klen, const uint8_t *rec,
                   uint32_t rlen)
{
	size_t n;
	if (L->ixmode != IXM_EMIT)
		return IDN_OK;
	int rc = index_ents_make(L->ixe, idn_slice_of(key, klen), idn_slice_of(rec, rlen), &n);
	for (size_t i = 0; rc == IDN_OK && i < n; i++) {
		idn_slice k, v;
		index_ents_at(L->ixe, i, &k, &v);
		struct part *w = ix_part(L, k);
		struct ent *e = ent_copy(w, k, v);
		rc = e ? add_ref(w, e, 0) : IDN_ENOMEM;
	}
	/* The index run may use what the records' run being written leaves of
	 * the memory (all of it while spilled runs are merged: their arenas are
	 * released then), at least ix_bytes. */
	size_t used = 0, recs = 0;
	for (int i = 0; i < IX_PARTS; i++)
		used += L->ixp[i].arena_used + L->ixp[i].nrefs * REF_BYTES;
	for (int i = 0; i < 2; i++)
		recs += L->part[i].arena_used + L->part[i].nrefs * REF_BYTES;
	size_t all = L->run_bytes + L->ix_bytes, room = recs < all ? all - recs : 0;
	if (rc == IDN_OK && used >= (room > L->ix_bytes ? room : L->ix_bytes))
		rc = ix_flush(L, false);
	return rc;
}

/*
 * Before key's record is replaced in t (EMIT into a store that held
 * records): removes the index entries of the record there.
 */
static int ix_unmake(struct bulkload *L, store_txn *t, const uint8_t *key, uint32_t klen)
{
	idn_slice old;
	if (L->ixmode != IXM_EMIT || !L->ix_merge || L->opts.no_overwrite)
		return IDN_OK;
	int rc = store_get(t, idn_slice_of(key, klen), &old);
	if (rc == IDN_ENOTFOUND)
		return IDN_OK;
	return rc ? rc : store_index_unmake(t, L->ixe, idn_slice_of(key, klen), old);
}

/*
 * Whether the records stored before this load were damaged by a power loss
 * during an earlier load whose commits were not waited for (opts.boot_id):
 * its mark, left by another boot of the machine. IDN_OK, IDN_ESTORE or a
 * store error.
 */
static int lazy_check(store_txn *t, const char *boot_id, bool *marked)
{
	idn_slice v;
	int rc = store_meta_get(t, BULKLOAD_LAZY_META, &v);
	*marked = rc == IDN_OK && v.len;
	if (rc == IDN_ENOTFOUND || (rc == IDN_OK && !v.len))
		return IDN_OK;
	if (rc)
		return rc;
	bool same = boot_id && v.len == strlen(boot_id) && !memcmp(v.p, boot_id, v.len);
	return same ? IDN_OK : IDN_ESTORE;
}

void bulkload_boot_id(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	buf[0] = 0;
	if (f && fgets(buf, (int)cap, f))
		buf[strcspn(buf, "\n")] = 0;
	if (f)
		fclose(f);
}

int bulkload_lazy_check(store *s, const char *boot_id)
{
	store_txn *t;
	bool marked;
	int rc = store_txn_begin(s, STORE_RDONLY, &t);
	if (rc)
		return rc;
	rc = lazy_check(t, boot_id, &marked);
	store_txn_abort(t);
	return rc;
}

/*
 * Decides, before the load's first write transaction, whether its commits
 * are lazy: an LMDB store with no identifier yet, and a boot id to mark it
 * with. The mark is committed (durably) on its own first: a write
 * transaction that is redone (a full map) or aborted must not leave lazy
 * commits behind without it.
 */
static int lazy_decide(struct bulkload *L)
{
	const char *boot = L->opts.boot_id;
	uint64_t have = 1;
	bool mark = false;
	store_txn *t;
	L->lazy = LAZY_OFF;
	int rc = store_txn_begin(L->s, STORE_NOLOG, &t);
	if (rc)
		return rc;
	rc = lazy_check(t, boot, &L->lazy_clear);
	if (rc == IDN_OK && !L->lazy_clear && boot && *boot &&
	    strlen(boot) <= BULKLOAD_BOOT_ID_MAX && store_can(L->s, STORE_CAP_LAZY) &&
	    (rc = store_count(t, &have)) == IDN_OK && !have) {
		rc = store_meta_put(t, BULKLOAD_LAZY_META, idn_slice_of(boot, strlen(boot)));
		mark = rc == IDN_OK;
	}
	rc = rc || !mark ? (store_txn_abort(t), rc) : store_txn_commit(t);
	if (rc == IDN_OK && mark) {
		pthread_mutex_lock(&L->stmu);
		L->st.commits++; /* waited for on the disk */
		pthread_mutex_unlock(&L->stmu);
		L->lazy = LAZY_ON;
		L->lazy_clear = true;
	}
	return rc;
}

/* A write transaction of the load: unlogged, and lazy once that is decided. */
static int write_begin(struct bulkload *L, store_txn **t)
{
	int rc = L->lazy == LAZY_UNSET ? lazy_decide(L) : IDN_OK;
	bool lazy = L->lazy == LAZY_ON;
	if (rc == IDN_OK)
		rc = store_txn_begin(L->s, STORE_NOLOG | (lazy ? STORE_LAZY : 0), t);
	if (rc == IDN_OK) {
		pthread_mutex_lock(&L->stmu);
		L->st.commits++;
		L->st.lazy_commits += lazy;
		pthread_mutex_unlock(&L->stmu);
	}
	return rc;
}

/*
 * The last commit of a load whose others were lazy: waited for on the disk,
 * so everything before it is durable too, and clears the mark.
 */
static int lazy_end(struct bulkload *L)
{
	store_txn *t;
	if (!L->lazy_clear)
		return IDN_OK;
	int rc = store_txn_begin(L->s, STORE_NOLOG, &t);
	if (rc)
		return rc;
	rc = store_meta_put(t, BULKLOAD_LAZY_META, idn_slice_of(NULL, 0));
	rc = rc ? (store_txn_abort(t), rc) : store_txn_commit(t);
	if (rc == IDN_OK)
		L->lazy_clear = false;
	return rc;
}

/* Record bytes per write transaction: appending, or inserting between keys. */
static uint64_t txn_bytes(const struct bulkload *L, bool append)
{
	if (L->opts.txn_bytes)
		return L->opts.txn_bytes;
	return append ? TXN_BYTES : TXN_BYTES_MID;
}

/* Writes the run, in key order, as its buckets get sorted. */
static int insert_run(struct bulkload *L, struct runsort *rs)
{
	const struct sref *out = rs->out;
	size_t n = rs->n, i = 0, ready = 0;
	unsigned flags = L->opts.no_overwrite ? STORE_NOOVERWRITE : 0;
	/*
	 * A key above all this load wrote so far is appended. Below it (a second
	 * run) the put lands between existing keys: no APPEND attempt that would
	 * fail, and big transactions, since each one rewrites the pages it
	 * touches all over the tree.
	 */
	bool append = L->maxklen == 0;
	const struct sref **exists = NULL; /* lines refused by --no-overwrite, this batch */
	size_t nexists = 0, capexists = 0;
	int rc = IDN_OK, retries = 0;

	while (i < n) {
		size_t start = i;
		uint64_t bytes = 0, put = 0, sup = 0, res = 0;
		store_txn *t;
		nexists = 0;
		/*
		 * Bulk loads bypass the transaction log (it is emptied instead):
		 * logging a million puts would double the writes, and a mirror is
		 * better served copying the store afresh.
		 */
		if ((rc = write_begin(L, &t)))
			goto out;
		if ((rc = resume_read(L, t))) {
			store_txn_abort(t);
			goto out;
		}
		if ((rc = ix_begin(L, t, n))) {
			store_txn_abort(t);
			goto out;
		}
		while (bytes < txn_bytes(L, append) && i < n) {
			if (i >= ready)
				ready = wait_sorted(rs, i);
			const struct sref *r = &out[i++];
			/* Entries come in key order, scattered over the arena. */
			enum { AHEAD = 8 };
			if (i + AHEAD < ready)
				__builtin_prefetch(out[i + AHEAD].e);
			/* A later line with the same handle follows (in the same bucket). */
			if (i < ready && sref_keycmp(r, &out[i], rs->lcp) == 0) {
				sup++;
				continue;
			}
			const struct ent *e = r->e;
			if (resume_skip(L, e->bytes, e->klen)) {
				res++;
				if ((rc = ix_emit(L, e->bytes, e->klen, e->bytes + e->klen,
				                  e->rlen)))
					break;
				continue;
			}
			if (!append) {
				uint32_t m = e->klen < L->maxklen ? e->klen : L->maxklen;
				int c = memcmp(e->bytes, L->maxkey, m);
				append = c > 0 || (c == 0 && e->klen > L->maxklen);
			}
			if ((rc = ix_unmake(L, t, e->bytes, e->klen)))
				break;
			rc = store_put(t, idn_slice_of(e->bytes, e->klen),
			               idn_slice_of(e->bytes + e->klen, e->rlen),
			               flags | (append ? STORE_APPEND : 0));
			if (rc == IDN_OK)
				rc = ix_emit(L, e->bytes, e->klen, e->bytes + e->klen, e->rlen);
			if (rc == IDN_EEXIST && L->opts.no_overwrite) {
				if (nexists == capexists) {
					size_t cap = capexists ? capexists * 2 : 256;
					const struct sref **x =
					    xrealloc_array(exists, cap, sizeof(*x));
					if (!x) {
						store_txn_abort(t);
						rc = IDN_ENOMEM;
						goto out;
					}
					exists = x;
					capexists = cap;
				}
				exists[nexists++] = r;
				rc = IDN_OK;
				continue;
			}
			if (rc)
				break;
			bytes += e->klen + e->rlen;
			put++;
			if ((put & 0xffff) == 0 && !L->writing)
				progress(L, put);
		}
		if (rc == IDN_OK && i > start) {
			set_lastkey(L, out[i - 1].e->bytes, out[i - 1].e->klen);
			rc = resume_mark(L, t, false);
		}
		if (rc) {
			store_txn_abort(t);
		} else {
			rc = store_txn_commit(t);
		}
		if (rc == IDN_ESTORE_FULL && retries++ < STORE_RETRIES) {
			i = start; /* the next transaction grows the map first */
			rc = IDN_OK;
			continue;
		}
		if (rc)
			goto out;
		retries = 0;
		pthread_mutex_lock(&L->stmu);
		L->st.loaded += put;
		L->st.superseded += sup;
		L->st.resumed += res;
		pthread_mutex_unlock(&L->stmu);
		for (size_t k = 0; k < nexists; k++) {
			char msg[MSG_MAX];
			const struct ent *e = exists[k]->e;
			snprintf(msg, sizeof(msg), "handle: %.*s is already in the store",
			         (int)(e->klen > 200 ? 200 : e->klen), (const char *)e->bytes);
			line_error(L, LK_LINE(exists[k]->lk), IDN_EEXIST, msg);
		}
		if (nexists) /* never when overlapped (no_overwrite): the parse counts errors */
			L->st.errors += nexists;
		if (!L->writing)
			progress(L, 0); /* the parse's thread reports it, overlapped */
	}
	if (rc == IDN_OK && n) {
		/* The run's last key is its largest; keep the largest of all runs. */
		const struct ent *e = out[n - 1].e;
		uint32_t m = e->klen < L->maxklen ? e->klen : L->maxklen;
		int c = memcmp(e->bytes, L->maxkey, m);
		if (c > 0 || (c == 0 && e->klen > L->maxklen)) {
			memcpy(L->maxkey, e->bytes, e->klen);
			L->maxklen = e->klen;
		}
	}
out:
	free(exists);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* bounded memory: sorted runs spilled to files, merged at the end          */

/*
 * A new spill file in opts.spill_dir, unlinked at once (gone with the
 * process), added to the list of record runs (or index runs: index).
 */
static int spill_open(struct bulkload *L, bool index, FILE **out)
{
	FILE ***list = index ? &L->ixspill : &L->spill;
	size_t *n = index ? &L->nixspill : &L->nspill;
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/.idnode-load-XXXXXX", L->opts.spill_dir) >=
	    (int)sizeof(path))
		return IDN_EINVAL;
	int fd = mkstemp(path);
	if (fd < 0) {
		L->spill_errno = errno;
		return IDN_EIO;
	}
	unlink(path);
	FILE *f = fdopen(fd, "w+");
	if (!f) {
		close(fd);
		return IDN_ENOMEM;
	}
	setvbuf(f, NULL, _IOFBF, SPILL_BUF);
	FILE **v = xrealloc_array(*list, *n + 1, sizeof(*v));
	if (!v) {
		fclose(f);
		return IDN_ENOMEM;
	}
	*list = v;
	v[(*n)++] = f;
	*out = f;
	return IDN_OK;
}

/* Writes entry e (line: its line number) to spill file f. */
static int spill_put(struct bulkload *L, FILE *f, const struct ent *e, uint64_t line)
{
	uint8_t h[SPILL_HDR];
	memcpy(h, &e->klen, 4);
	memcpy(h + 4, &e->rlen, 4);
	memcpy(h + 8, &line, 8);
	if (fwrite(h, SPILL_HDR, 1, f) != 1 ||
	    fwrite(e->bytes, 1, e->klen + e->rlen, f) != e->klen + e->rlen) {
		L->spill_errno = errno;
		return IDN_EIO;
	}
	return IDN_OK;
}

static int spill_flush(struct bulkload *L, FILE *f)
{
	if (fflush(f) == 0)
		return IDN_OK;
	L->spill_errno = errno;
	return IDN_EIO;
}

/* Writes the sorted run to a new spill file, the last of equal keys only. */
static int spill_run(struct bulkload *L, struct runsort *rs)
{
	FILE *f;
	size_t n = rs->n, ready = 0;
	uint64_t sup = 0;
	int rc = spill_open(L, false, &f);
	for (size_t i = 0; rc == IDN_OK && i < n; i++) {
		if (i >= ready)
			ready = wait_sorted(rs, i);
		const struct sref *r = &rs->out[i];
		if (i + 1 < n && (i + 1 < ready || (ready = wait_sorted(rs, i + 1))) &&
		    sref_keycmp(r, &rs->out[i + 1], rs->lcp) == 0) {
			sup++;
			continue;
		}
		rc = spill_put(L, f, r->e, LK_LINE(r->lk));
		L->st.spilled++;
	}
	if (rc == IDN_OK)
		rc = spill_flush(L, f);
	L->st.superseded += sup;
	L->st.runs++;
	progress(L, 0);
	return rc;
}

/* One spill file being merged: its current entry. */
struct cursor {
	FILE *f;
	uint8_t *buf;
	size_t cap;
	uint32_t klen, rlen;
	uint64_t line;
	off_t pos, next; /* where the current and the next entry start */
	bool done;
	off_t mark; /* pos and done when the write transaction began */
	bool mark_done;
};

static int cursor_next(struct bulkload *L, struct cursor *c)
{
	uint8_t h[SPILL_HDR];
	c->pos = c->next;
	size_t got = fread(h, 1, SPILL_HDR, c->f);
	if (got == 0 && feof(c->f)) {
		c->done = true;
		return IDN_OK;
	}
	if (got != SPILL_HDR)
		goto bad;
	memcpy(&c->klen, h, 4);
	memcpy(&c->rlen, h + 4, 4);
	memcpy(&c->line, h + 8, 8);
	size_t len = (size_t)c->klen + c->rlen;
	if (c->klen == 0 || c->klen > HANDLE_KEY_MAX || c->rlen > STORE_VAL_MAX)
		goto bad;
	if (len > c->cap) {
		uint8_t *nb = realloc(c->buf, len);
		if (!nb)
			return IDN_ENOMEM;
		c->buf = nb;
		c->cap = len;
	}
	if (len && fread(c->buf, 1, len, c->f) != len)
		goto bad;
	c->next = c->pos + SPILL_HDR + (off_t)len;
	return IDN_OK;
bad:
	L->spill_errno = ferror(c->f) ? errno : EIO;
	return IDN_EIO;
}

/* Merge order: key, then line. */
static bool cursor_less(const struct cursor *cs, size_t a, size_t b)
{
	int c = key_cmp(cs[a].buf, cs[a].klen, cs[b].buf, cs[b].klen);
	if (c)
		return c < 0;
	/* equal keys: the earlier line (runs of a pass read backwards hold
	 * earlier lines in later runs) */
	return cs[a].line != cs[b].line ? cs[a].line < cs[b].line : a < b;
}

static void heap_down(const struct cursor *cs, size_t *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && cursor_less(cs, h[l], h[m]))
			m = l;
		if (l + 1 < n && cursor_less(cs, h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		size_t x = h[i];
		h[i] = h[m];
		h[m] = x;
		i = m;
	}
}

/* Every cursor to its entry at mark (start: the file's start), and the heap. */
static int merge_seek(struct bulkload *L, FILE **files, size_t nf, struct cursor *cs, size_t *heap,
                      size_t *hn, bool start)
{
	*hn = 0;
	for (size_t i = 0; i < nf; i++) {
		struct cursor *c = &cs[i];
		if (start) {
			c->f = files[i];
			c->mark = 0;
		} else if (c->mark_done) {
			c->done = true;
			continue;
		}
		c->next = c->mark;
		c->done = false;
		if (fseeko(c->f, c->mark, SEEK_SET)) {
			L->spill_errno = errno;
			return IDN_EIO;
		}
		int rc = cursor_next(L, c);
		if (rc)
			return rc;
		if (!c->done)
			heap[(*hn)++] = i;
	}
	for (size_t i = *hn / 2; i-- > 0;)
		heap_down(cs, heap, *hn, i);
	return IDN_OK;
}

/* Takes the least cursor off the heap. */
static struct cursor *merge_pop(struct cursor *cs, size_t *heap, size_t *hn)
{
	struct cursor *c = &cs[heap[0]];
	heap[0] = heap[--*hn];
	heap_down(cs, heap, *hn, 0);
	return c;
}

/* Moves cursor c (off the heap) to its next entry, and back onto the heap. */
static int merge_advance(struct bulkload *L, struct cursor *cs, size_t *heap, size_t *hn,
                         struct cursor *c)
{
	int rc = cursor_next(L, c);
	if (rc || c->done)
		return rc;
	size_t i = (*hn)++, me = (size_t)(c - cs);
	heap[i] = me;
	while (i && cursor_less(cs, heap[i], heap[(i - 1) / 2])) {
		size_t p = (i - 1) / 2;
		heap[i] = heap[p];
		heap[p] = me;
		i = p;
	}
	return IDN_OK;
}

/* Reports the lines refused by --no-overwrite, collected in L->xerr. */
static void report_exists(struct bulkload *L)
{
	for (size_t o = 0; o < L->xerr.elen;) {
		uint64_t line;
		memcpy(&line, L->xerr.errs + o, 8);
		const char *msg = L->xerr.errs + o + 8;
		line_error(L, line, IDN_EEXIST, msg);
		o += 8 + strlen(msg) + 1;
		L->st.errors++;
	}
	L->xerr.elen = 0;
}

/* One write transaction of the merge; *put etc. count what it did. */
static int merge_txn(struct bulkload *L, store_txn *t, struct cursor *cs, size_t *heap, size_t *hn,
                     uint64_t c3[3])
{
	unsigned flags = STORE_APPEND | (L->opts.no_overwrite ? STORE_NOOVERWRITE : 0);
	uint64_t bytes = 0;
	int rc = IDN_OK;
	while (*hn && bytes < txn_bytes(L, true)) {
		struct cursor *c = merge_pop(cs, heap, hn);
		if (*hn && !key_cmp(c->buf, c->klen, cs[heap[0]].buf, cs[heap[0]].klen)) {
			c3[1]++; /* a later run has the same key */
		} else if (resume_skip(L, c->buf, c->klen)) {
			c3[2]++;
			if ((rc = ix_emit(L, c->buf, c->klen, c->buf + c->klen, c->rlen)))
				return rc;
		} else {
			if ((rc = ix_unmake(L, t, c->buf, c->klen)))
				return rc;
			rc = store_put(t, idn_slice_of(c->buf, c->klen),
			               idn_slice_of(c->buf + c->klen, c->rlen), flags);
			if (rc == IDN_OK)
				rc = ix_emit(L, c->buf, c->klen, c->buf + c->klen, c->rlen);
			if (rc == IDN_EEXIST && L->opts.no_overwrite) {
				char msg[MSG_MAX];
				snprintf(msg, sizeof(msg), "handle: %.*s is already in the store",
				         (int)(c->klen > 200 ? 200 : c->klen),
				         (const char *)c->buf);
				add_err(&L->xerr, c->line, msg);
				rc = L->xerr.fatal;
			} else if (rc == IDN_OK) {
				bytes += c->klen + c->rlen;
				if ((++c3[0] & 0xffff) == 0)
					progress(L, c3[0]);
			}
			if (rc)
				return rc;
		}
		set_lastkey(L, c->buf, c->klen);
		if ((rc = merge_advance(L, cs, heap, hn, c)))
			return rc;
	}
	return resume_mark(L, t, false);
}

/* One write transaction of the index runs' merge: their entries, in key order. */
static int ix_merge_txn(struct bulkload *L, store_txn *t, struct cursor *cs, size_t *heap,
                        size_t *hn, uint64_t c3[3])
{
	uint64_t bytes = 0;
	int rc = IDN_OK;
	while (*hn && bytes < txn_bytes(L, true)) {
		struct cursor *c = merge_pop(cs, heap, hn);
		/* the same entry twice: made again after a transaction was redone */
		if (!*hn || key_cmp(c->buf, c->klen, cs[heap[0]].buf, cs[heap[0]].klen)) {
			rc = t->s->ops->tab_put(t, STORE_TAB_INDEX, idn_slice_of(c->buf, c->klen),
			                        idn_slice_of(c->buf + c->klen, c->rlen),
			                        STORE_APPEND);
			if (rc)
				return rc;
			bytes += c->klen + c->rlen;
			c3[0]++;
		}
		if ((rc = merge_advance(L, cs, heap, hn, c)))
			return rc;
	}
	return IDN_OK;
}

/*
 * Merges the spill files into the store, one pass of ordered appends: the
 * records' runs, or (index) the index runs' entries.
 */
static int merge_runs(struct bulkload *L, bool index)
{
	FILE **files = index ? L->ixspill : L->spill;
	size_t nf = index ? L->nixspill : L->nspill;
	struct cursor *cs = calloc(nf, sizeof(*cs));
	size_t *heap = calloc(nf, sizeof(*heap)), hn = 0;
	int rc = cs && heap ? merge_seek(L, files, nf, cs, heap, &hn, true) : IDN_ENOMEM;
	int retries = 0;
	while (rc == IDN_OK && hn) {
		for (size_t i = 0; i < nf; i++) {
			cs[i].mark = cs[i].pos; /* where this transaction starts */
			cs[i].mark_done = cs[i].done;
		}
		store_txn *t;
		uint64_t c3[3] = {0, 0, 0}; /* put, superseded, resumed */
		if ((rc = write_begin(L, &t)))
			break;
		if (index)
			rc = ix_merge_txn(L, t, cs, heap, &hn, c3);
		else if ((rc = resume_read(L, t)) == IDN_OK &&
		         (rc = ix_begin(L, t, L->st.spilled)) == IDN_OK)
			rc = merge_txn(L, t, cs, heap, &hn, c3);
		if (rc) {
			store_txn_abort(t);
		} else {
			rc = store_txn_commit(t);
		}
		if (rc == IDN_ESTORE_FULL && retries++ < STORE_RETRIES) {
			/* back to where the transaction started; the next grows the map */
			L->xerr.elen = 0;
			rc = merge_seek(L, files, nf, cs, heap, &hn, false);
			continue;
		}
		if (rc)
			break;
		retries = 0;
		if (index) {
			L->st.index_entries += c3[0];
		} else {
			L->st.loaded += c3[0];
			L->st.superseded += c3[1];
			L->st.resumed += c3[2];
			report_exists(L);
		}
		progress(L, 0);
	}
	for (size_t i = 0; cs && i < nf; i++)
		free(cs[i].buf);
	free(cs);
	free(heap);
	return rc;
}

/* Writes the sorted index entries r[0 .. n) into the index, in key order. */
static int ix_write(struct bulkload *L, const struct sref *r, size_t n)
{
	size_t i = 0;
	int rc = IDN_OK, retries = 0;
	while (rc == IDN_OK && i < n) {
		size_t start = i;
		uint64_t bytes = 0, put = 0;
		store_txn *t;
		if ((rc = write_begin(L, &t)))
			break;
		for (; rc == IDN_OK && i < n && bytes < txn_bytes(L, true); i++) {
			const struct ent *e = r[i].e;
			const struct ent *x = i + 1 < n ? r[i + 1].e : NULL;
			if (x && !key_cmp(e->bytes, e->klen, x->bytes, x->klen))
				continue; /* made twice: a transaction was redone */
			rc = t->s->ops->tab_put(t, STORE_TAB_INDEX, idn_slice_of(e->bytes, e->klen),
			                        idn_slice_of(e->bytes + e->klen, e->rlen),
			                        STORE_APPEND);
			bytes += e->klen + e->rlen;
			put++;
		}
		rc = rc ? (store_txn_abort(t), rc) : store_txn_commit(t);
		if (rc == IDN_ESTORE_FULL && retries++ < STORE_RETRIES) {
			i = start; /* the next transaction grows the map first */
			rc = IDN_OK;
			continue;
		}
		retries = 0;
		L->st.index_entries += rc ? 0 : put;
		if (rc == IDN_OK)
			progress(L, 0);
	}
	return rc;
}

/* Sorts one part of the index run (at its own common prefix). */
static void *ix_sort_part(void *arg)
{
	struct part *w = arg;
	refill_part(w);
	struct sref *tmp = xrealloc_array(NULL, w->nrefs, sizeof(*tmp));
	w->fatal = tmp || !w->nrefs ? IDN_OK : IDN_ENOMEM;
	if (tmp)
		sort_refs(w->refs, w->nrefs, tmp, w->lcp);
	free(tmp);
	return NULL;
}

static void *ix_sort_parts01(void *arg)
{
	struct part *p = arg;
	ix_sort_part(&p[0]);
	return ix_sort_part(&p[1]);
}

/* Sorts the index run's n entries into L->ixout: each part (two threads), then merged. */
static int ix_sort(struct bulkload *L, size_t n)
{
	struct part *p = L->ixp;
	pthread_t th;
	bool threaded = n > 4096 && pthread_create(&th, NULL, ix_sort_parts01, p) == 0;
	if (!threaded)
		ix_sort_parts01(p);
	for (int i = 2; i < IX_PARTS; i++)
		ix_sort_part(&p[i]);
	if (threaded)
		pthread_join(th, NULL);
	for (int i = 0; i < IX_PARTS; i++)
		if (p[i].fatal)
			return p[i].fatal;
	if (!(L->ixout = xrealloc_array(NULL, n, sizeof(*L->ixout))))
		return IDN_ENOMEM;
	size_t at[IX_PARTS] = {0};
	for (size_t o = 0; o < n; o++) {
		int m = -1;
		for (int i = 0; i < IX_PARTS; i++) {
			if (at[i] == p[i].nrefs)
				continue;
			const struct ent *a = p[i].refs[at[i]].e;
			const struct ent *b = m < 0 ? NULL : p[m].refs[at[m]].e;
			if (!b || key_cmp(a->bytes, a->klen, b->bytes, b->klen) < 0)
				m = i;
		}
		L->ixout[o] = p[m].refs[at[m]++];
	}
	return IDN_OK;
}

/*
 * Sorts the index run and writes it: to a spill file (opts.spill_dir, unless
 * it is the only run) or into the index. Without spill_dir a run that fills
 * before the end cannot be written (a write transaction of records is open):
 * the load falls back to a rebuild at the end.
 */
static int ix_flush(struct bulkload *L, bool last)
{
	size_t n = 0;
	int rc = IDN_OK;
	for (int i = 0; i < IX_PARTS; i++)
		n += L->ixp[i].nrefs;
	if (L->ixmode != IXM_EMIT || n == 0)
		return IDN_OK;
	if (!last && !L->opts.spill_dir) {
		L->ixmode = IXM_REBUILD;
	} else if ((rc = ix_sort(L, n)) == IDN_OK && L->opts.spill_dir && (!last || L->nixspill)) {
		FILE *f;
		rc = spill_open(L, true, &f);
		for (size_t i = 0; rc == IDN_OK && i < n; i++)
			rc = spill_put(L, f, L->ixout[i].e, 0);
		if (rc == IDN_OK)
			rc = spill_flush(L, f);
	} else if (rc == IDN_OK) {
		rc = ix_write(L, L->ixout, n);
	}
	free(L->ixout);
	L->ixout = NULL;
	for (int i = 0; i < IX_PARTS; i++)
		arena_reset(&L->ixp[i]);
	return rc;
}

/*
 * EMIT: writes the index entries collected (the last run, then the spilled
 * ones merged) and marks the index on; in the transaction that does, the
 * load's resume point (finished) and its EMIT mark are cleared.
 */
static int ix_finish(struct bulkload *L)
{
	L->st.indexing = true;
	progress(L, 0);
	int rc = ix_flush(L, true);
	if (rc == IDN_OK && L->nixspill)
		rc = merge_runs(L, true);
	L->st.indexing = false;
	if (rc || L->ixmode != IXM_EMIT)
		return rc;
	store_txn *t;
	if ((rc = write_begin(L, &t)))
		return rc;
	rc = store_index_mark(t, INDEX_ON);
	if (rc == IDN_OK && L->opts.resume_id)
		rc = store_meta_put(t, IX_BULK_META, idn_slice_of(NULL, 0));
	if (rc == IDN_OK)
		rc = resume_mark(L, t, true);
	return rc ? (store_txn_abort(t), rc) : store_txn_commit(t);
}

/* Waits for the writer thread of the pass before (overlap_flush): its result. */
static int overlap_join(struct bulkload *L)
{
	if (!L->writing)
		return IDN_OK;
	pthread_join(L->writer, NULL);
	L->writing = false;
	return L->write_rc;
}

/* The writer thread: the run in wpart/wrs written, as flush_run does. */
static void *overlap_write(void *arg)
{
	struct bulkload *L = arg;
	L->write_rc = insert_run(L, &L->wrs);
	if (L->wthreaded)
		pthread_join(L->wrs.th, NULL);
	arena_reset(&L->wpart[0]);
	arena_reset(&L->wpart[1]);
	return NULL;
}

static void swap_parts(struct part *a, struct part *b)
{
	struct part t = *a;
	*a = *b;
	*b = t;
}

/*
 * The run partitioned in wrs (sorting on its thread when threaded) is given
 * to a writer thread with the parts' arenas (wpart), and the parts get the
 * arenas that writer emptied: the next pass's parse overlaps the writing.
 */
static int overlap_flush(struct bulkload *L, bool threaded)
{
	for (int i = 0; i < 2; i++) {
		swap_parts(&L->part[i], &L->wpart[i]);
		/* the parser states and the range stay with the parse */
		L->part[i].parser = L->wpart[i].parser;
		L->part[i].range = L->wpart[i].range;
	}
	L->wthreaded = threaded;
	L->writing = true; /* before the writer reads it */
	if (pthread_create(&L->writer, NULL, overlap_write, L)) {
		L->writing = false; /* written here, then */
		overlap_write(L);
		return L->write_rc;
	}
	return IDN_OK;
}

/*
 * Sorts the run and writes it, to the store or (opts.spill_dir, unless it is
 * the only run) to a spill file, or, for a pass overlapped, hands it to the
 * writer thread; the parts' arenas are empty afterwards.
 */
static int flush_run(struct bulkload *L, bool last)
{
	struct part *a = &L->part[0], *b = &L->part[1];
	struct runsort *rs = &L->rs;
	bool threaded = false;
	int rc = overlap_join(L);

	if (rc || a->nrefs + b->nrefs == 0)
		return rc;
	/* One word offset for the whole run: the common prefix of both parts. */
	if (a->nrefs && b->nrefs) {
		size_t l = a->lcp < b->lcp ? a->lcp : b->lcp, c = 0;
		while (c < l && a->ref_key[c] == b->ref_key[c])
			c++;
		a->lcp = b->lcp = c;
	} else {
		a->lcp = b->lcp = a->nrefs ? a->lcp : b->lcp;
	}
	both_parts(a, b, refill_part);
	bool spill = L->opts.spill_dir && (!last || L->nspill);
	/* (only in the passes: feed_ranges joins the last; a run after them is written here) */
	if (L->overlap && L->ranged && !spill)
		rs = &L->wrs;
	rc = partition_run(rs, a, b, &threaded);
	if (!last && !L->opts.spill_dir)
		L->ix_multi = true; /* more runs written as they fill: not one ordered pass */
	if (rc == IDN_OK && rs == &L->wrs)
		return overlap_flush(L, threaded);
	if (rc == IDN_OK && spill)
		rc = spill_run(L, rs);
	else if (rc == IDN_OK)
		rc = insert_run(L, rs);
	if (threaded)
		pthread_join(rs->th, NULL);
	arena_reset(a);
	arena_reset(b);
	return rc;
}

/* The first pass: appends the chunk's lines' ranges (both halves) to all the file's. */
static int record_lines(struct bulkload *L)
{
	const struct part *a = &L->part[0], *b = &L->part[1];
	uint64_t n = a->nlines + b->nlines;
	if (L->caplr - L->nlr < n && grow_lines(&L->lr, &L->ll, &L->caplr, L->nlr + n))
		return IDN_ENOMEM;
	const struct part *h[2] = {a, b};
	for (size_t i = 0, at = L->nlr; i < 2; at += h[i++]->nlines)
		if (h[i]->nlines) { /* a half with no line may have no array (NULL) */
			memcpy(L->lr + at, h[i]->lr, h[i]->nlines);
			memcpy(L->ll + at, h[i]->ll, h[i]->nlines * sizeof(*L->ll));
		}
	L->nlr += n;
	L->chunks[L->nchunks - 1].alines = a->nlines;
	return IDN_OK;
}

/*
 * Whether the mapped file was written since the first pass: the lines'
 * noted ranges and lengths (krange.recorded) may then not be its lines'.
 */
static bool input_changed(const struct bulkload *L)
{
	struct stat st;
	const struct stat *a = &L->in_st;
	return fstat(L->in_fd, &st) || st.st_ino != a->st_ino || st.st_size != a->st_size ||
	       st.st_mtim.tv_sec != a->st_mtim.tv_sec || st.st_mtim.tv_nsec != a->st_mtim.tv_nsec ||
	       st.st_ctim.tv_sec != a->st_ctim.tv_sec || st.st_ctim.tv_nsec != a->st_ctim.tv_nsec;
}

/* Parses buf[0..len) (whole lines) with both parts; first line is L->st.lines + 1. */
static int parse_chunk(struct bulkload *L, const uint8_t *buf, size_t len)
{
	struct part *a = &L->part[0], *b = &L->part[1];
	const uint8_t *mid = buf + len / 2, *cut = NULL;
	if (len >= THREAD_MIN)
		cut = memchr(mid, '\n', (size_t)(buf + len - mid));
	a->in = buf;
	a->in_end = cut ? cut + 1 : buf + len;
	b->in = b->in_end = a->in_end;
	if (cut)
		b->in_end = buf + len;
	if (L->ranged && L->range.recorded && !L->range.first && input_changed(L))
		L->range.recorded = L->record = false; /* each line's key is read again */
	if (L->ranged && L->range.recorded && !L->range.first) {
		const struct chunkpos *c = &L->chunks[L->cur_chunk];
		a->lr_in = L->lr + c->line;
		b->lr_in = a->lr_in + c->alines;
		a->ll_in = L->ll + c->line;
		b->ll_in = a->ll_in + c->alines;
		a->n_in = c->alines;
		b->n_in = c[1].line - c->line - c->alines;
	}

	bool threaded = cut && pthread_create(&a->th, NULL, parse_part, a) == 0;
	if (!threaded)
		parse_part(a);
	parse_part(b);
	if (threaded)
		pthread_join(a->th, NULL);
	if (a->fatal || b->fatal)
		return IDN_ENOMEM;
	if (L->ranged && L->range.recorded && L->range.first && record_lines(L))
		return IDN_ENOMEM;

	/* Local line numbers become the file's. */
	uint64_t first = L->ranged ? L->line_base : L->st.lines;
	uint64_t base[2] = {first, first + a->nlines};
	for (int i = 0; i < 2; i++) {
		struct part *w = &L->part[i];
		for (size_t k = w->chunk_first_ref; k < w->nrefs; k++)
			w->refs[k].lk += base[i] << 24;
		for (size_t o = 0; o < w->elen;) {
			uint64_t line;
			memcpy(&line, w->errs + o, 8);
			const char *msg = w->errs + o + 8;
			line_error(L, base[i] + line, IDN_EINVAL, msg);
			o += 8 + strlen(msg) + 1;
		}
		L->st.errors += w->nerr;
	}
	L->line_base += a->nlines + b->nlines;
	L->st.pass_bytes += len;
	if (!L->ranged || L->range.first) {
		L->st.lines += a->nlines + b->nlines;
		L->st.bytes += len;
	}
	progress(L, 0);
	if (a->arena_used + b->arena_used + (a->nrefs + b->nrefs) * REF_BYTES >= L->run_bytes)
		return flush_run(L, false);
	return IDN_OK;
}

/* Reads fd to the end, parsing whole lines chunk by chunk. */
static int read_input(struct bulkload *L, int fd)
{
	size_t chunk = L->chunk, cap = chunk, len = 0;
	uint8_t *buf = malloc(cap);
	bool eof = false, skipping = false, first = true;
	int rc = IDN_OK;

	if (!buf)
		return IDN_ENOMEM;
	while (!eof) {
		while (len < cap) {
			ssize_t n = read(fd, buf + len, cap - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				L->read_errno = errno;
				rc = IDN_EIO;
				goto out;
			}
			if (n == 0) {
				eof = true;
				break;
			}
			len += (size_t)n;
		}
		size_t off = 0;
		if (first && len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
			off = 3; /* a UTF-8 byte order mark */
		first = false;
		if (skipping) {
			/* the rest of a line that was too long */
			uint8_t *nl = memchr(buf, '\n', len);
			if (!nl) {
				len = 0;
				continue;
			}
			off = (size_t)(nl - buf) + 1;
			skipping = false;
		}
		size_t end = len;
		if (!eof) {
			uint8_t *nl = len > off ? memrchr(buf + off, '\n', len - off) : NULL;
			if (!nl && off > 0) {
				/* a line starts after a skipped part: keep it, read more */
				memmove(buf, buf + off, len - off);
				len -= off;
				continue;
			}
			if (!nl) {
				/* one line fills the buffer */
				if (cap < MAX_LINE + 1) {
					size_t ncap =
					    cap * 2 > MAX_LINE + 1 ? MAX_LINE + 1 : cap * 2;
					uint8_t *nb = realloc(buf, ncap);
					if (!nb) {
						rc = IDN_ENOMEM;
						goto out;
					}
					buf = nb;
					cap = ncap;
					continue;
				}
				L->st.lines++;
				L->st.errors++;
				char msg[MSG_MAX];
				snprintf(msg, sizeof(msg), "line longer than %d bytes", MAX_LINE);
				line_error(L, L->st.lines, IDN_EINVAL, msg);
				skipping = true;
				len = 0;
				continue;
			}
			end = (size_t)(nl - buf) + 1;
		}
		if (end > off && (rc = parse_chunk(L, buf + off, end - off)))
			goto out;
		memmove(buf, buf + end, len - end);
		len -= end;
		if (cap > chunk && len < chunk / 2) {
			uint8_t *nb = realloc(buf, chunk);
			if (nb) {
				buf = nb;
				cap = chunk;
			}
		}
	}
out:
	free(buf);
	return rc;
}

/* Notes where a chunk of the first pass over a file starts, and its first line. */
static int note_chunk(struct bulkload *L, size_t off)
{
	if (L->nchunks == L->capchunks &&
	    grow_array((void **)&L->chunks, &L->capchunks, sizeof(*L->chunks), 256))
		return IDN_ENOMEM;
	L->chunks[L->nchunks++] = (struct chunkpos){off, L->line_base, 0};
	return IDN_OK;
}

/*
 * Parses whole lines p[0 .. size) chunk by chunk. For a mapped file (mapped),
 * the next chunk is read from disk while this one is parsed.
 */

static int feed_lines(struct bulkload *L, const uint8_t *p, size_t size, bool mapped)
{
	size_t pos = 0;
	int rc;
	while (pos < size) {
		size_t end = size - pos > L->chunk ? pos + L->chunk : size;
		if (end < size) {
			const uint8_t *nl = memchr(p + end - 1, '\n', size - end + 1);
			end = nl ? (size_t)(nl - p) + 1 : size;
		}
		if (mapped && end < size) {
			size_t pg = (size_t)sysconf(_SC_PAGESIZE), a = end & ~(pg - 1);
			madvise((void *)(p + a), size - a < L->chunk ? size - a : L->chunk,
			        MADV_WILLNEED);
		}
		if (L->ranged && L->range.first && (rc = note_chunk(L, pos)))
			return rc;
		if (L->ranged && !L->range.first && L->range.recorded &&
		    (L->cur_chunk + 1 >= L->nchunks || L->chunks[L->cur_chunk].off != pos))
			L->range.recorded = false; /* not the first pass's chunks: cannot happen */
		if ((rc = parse_chunk(L, p + pos, end - pos)))
			return rc;
		pos = end;
		L->cur_chunk++;
	}
	return L->ranged && L->range.first ? note_chunk(L, size) : IDN_OK;
}

/* ------------------------------------------------------------------------ */
/* a big file in passes, one key range each                                 */

enum {
	SAMPLES = 65536, /* lines sampled to choose the ranges */
	RANGES_MAX = 64, /* more passes than this: spilled runs instead */
	RANGE_FILL = 90, /* percent of a run a range is meant to fill */
};

struct skey {
	const uint8_t *k;
	uint32_t len;
};

static int skey_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;
	return key_cmp(x->k, x->len, y->k, y->len);
}

/* The start of the line that holds byte off - 1's newline + 1 (0: the first line). */
static size_t line_after(const uint8_t *p, size_t size, size_t off)
{
	if (off == 0)
		return 0;
	const uint8_t *nl = memchr(p + off - 1, '\n', size - off + 1);
	return nl ? (size_t)(nl - p) + 1 : size;
}

/* Cuts the n sorted sample keys into L->nranges ranges (fewer when keys repeat). */
static int set_splitters(struct bulkload *L, const struct skey *keys, size_t n, size_t nr)
{
	size_t total = 0, ns = 0;
	for (size_t r = 1; r < nr; r++)
		total += keys[r * n / nr].len;
	L->splitbuf = malloc(total ? total : 1);
	L->splitlen = malloc(nr * sizeof(*L->splitlen));
	L->splitoff = malloc(nr * sizeof(*L->splitoff));
	if (!L->splitbuf || !L->splitlen || !L->splitoff)
		return IDN_ENOMEM;
	uint8_t *at = L->splitbuf, *prev = NULL;
	for (size_t r = 1; r < nr; r++) {
		const struct skey *k = &keys[r * n / nr];
		if (prev && !key_cmp(prev, L->splitlen[ns - 1], k->k, k->len))
			continue;
		memcpy(at, k->k, k->len);
		prev = at;
		L->splitoff[ns] = (size_t)(at - L->splitbuf);
		at += k->len;
		L->splitlen[ns++] = k->len;
	}
	L->nranges = ns + 1;
	return IDN_OK;
}

/*
 * A store whose search index is off takes no index entries: their quarter
 * of opts.memory goes to the records' runs.
 */
static void index_off_memory(struct bulkload *L)
{
	store_txn *t;
	enum index_state st;
	if (!L->ix_bytes || store_txn_begin(L->s, STORE_RDONLY, &t))
		return;
	if (store_index_state(t, &st) == IDN_OK && st == INDEX_OFF) {
		L->run_bytes += L->ix_bytes;
		L->ix_bytes = 0;
	}
	store_txn_abort(t);
}

/*
 * Decides whether the file p[0 .. size) is read in passes by key range
 * (L->nranges > 1): parses lines at spread offsets, estimates the memory
 * of all the file's entries from theirs, and cuts the sorted sample keys
 * into as many ranges as it takes for each to fill RANGE_FILL % of a run.
 */
static int plan_ranges(struct bulkload *L, const uint8_t *p, size_t size)
{
	struct part *w = &L->part[0];
	size_t want = size / 256 + 1 < SAMPLES ? size / 256 + 1 : SAMPLES;
	struct skey *keys = malloc(want * sizeof(*keys));
	uint64_t lines = 0, line_bytes = 0, ent_bytes = 0;
	size_t n = 0, prev = SIZE_MAX;
	int rc = keys ? IDN_OK : IDN_ENOMEM;

	L->nranges = 1;
	index_off_memory(L);
	for (size_t j = 0; rc == IDN_OK && j < want; j++) {
		size_t start = line_after(p, size, (size_t)((uint64_t)j * size / want));
		if (start >= size || start == prev)
			continue;
		prev = start;
		const uint8_t *nl = memchr(p + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - p) - start : size - start, klen, rlen;
		const char *why;
		lines++;
		line_bytes += len + 1;
		if (len > MAX_LINE)
			continue;
		rc = w->parse(w->parser, p + start, len, ent_alloc, w, &klen, &rlen, &why);
		if (rc == IDN_OK) {
			keys[n++] = (struct skey){w->last->bytes, (uint32_t)klen};
			ent_bytes += w->last_len + REF_BYTES;
		}
		rc = rc == IDN_ENOMEM ? rc : IDN_OK;
	}
	if (rc == IDN_OK && n && line_bytes) {
		/* all the entries: lines in the file x memory per sampled line */
		double all = (double)size / (double)line_bytes * (double)ent_bytes;
		/* 3 bytes per line note its range and length in the first pass (record_lines) */
		double nl3 = 3 * (double)size / (double)line_bytes * (double)lines;
		L->record = nl3 < (double)L->run_bytes / 12;
		if (L->record)
			L->run_bytes -= (size_t)nl3;
		double fill = (double)L->run_bytes * RANGE_FILL / 100;
		size_t nr = (size_t)(all / fill) + 1;
		/*
		 * Passes overlapped (index off, see overlap_flush): two runs in
		 * memory at once, the one written and the one parsed, half each.
		 */
		L->overlap = nr > 1 && L->opts.overlap && !L->ix_bytes && !L->opts.no_overwrite;
		if (L->overlap) {
			L->run_bytes /= 2;
			nr = (size_t)(all / (fill / 2)) + 1;
		}
		if (nr > 1 && nr <= RANGES_MAX && n >= 4 * nr) {
			qsort(keys, n, sizeof(*keys), skey_cmp);
			rc = set_splitters(L, keys, n, nr);
		}
	}
	free(keys);
	arena_reset(w);
	return rc;
}

/* The end of one pass: its run written, or its spilled runs merged. */
static int end_pass(struct bulkload *L)
{
	int rc = flush_run(L, true);
	if (rc == IDN_OK && L->nspill)
		rc = merge_runs(L, false);
	for (size_t i = 0; i < L->nspill; i++)
		fclose(L->spill[i]);
	free(L->spill);
	L->spill = NULL;
	L->nspill = 0;
	return rc;
}

/*
 * Parses the first pass's chunks of p from the last to the first (each with
 * its line numbers): what the pass before read last is what the page cache
 * still holds of a file bigger than it.
 */
static int feed_back(struct bulkload *L, const uint8_t *p)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	for (size_t i = L->nchunks - 1; i-- > 0;) {
		const struct chunkpos *c = &L->chunks[i];
		if (i > 0) {
			size_t a = c[-1].off & ~(pg - 1);
			madvise((void *)(p + a), c->off - a, MADV_WILLNEED);
		}
		L->line_base = c->line;
		L->cur_chunk = i;
		int rc = parse_chunk(L, p + c->off, c[1].off - c->off);
		if (rc)
			return rc;
	}
	return IDN_OK;
}

/*
 * Reads p[0 .. size) once per key range of plan_ranges, in key order; every
 * other pass backwards (feed_back).
 */
static int feed_ranges(struct bulkload *L, const uint8_t *p, size_t size)
{
	int rc = IDN_OK;
	const uint8_t *lo = NULL;
	uint32_t lolen = 0;
	L->ranged = true;
	L->st.passes = (uint32_t)L->nranges;
	L->st.lines_recorded = L->record;
	const uint8_t *at = L->splitbuf;
	for (size_t k = 0; rc == IDN_OK && k < L->nranges; k++) {
		bool last = k + 1 == L->nranges;
		L->range = (struct krange){.lo = lo,
		                           .lolen = lolen,
		                           .hi = last ? NULL : at,
		                           .hilen = last ? 0 : L->splitlen[k],
		                           .first = k == 0,
		                           .recorded = L->record,
		                           .k = (uint32_t)k,
		                           .splitbuf = L->splitbuf,
		                           .splitlen = L->splitlen,
		                           .splitoff = L->splitoff,
		                           .nsplit = L->nranges - 1};
		L->part[0].range = L->part[1].range = &L->range;
		L->line_base = 0;
		L->cur_chunk = 0;
		L->st.pass = (uint32_t)k;
		L->st.pass_bytes = 0;
		if (k % 2 && L->nchunks > 1)
			rc = feed_back(L, p);
		else
			rc = feed_lines(L, p, size, true);
		if (rc == IDN_OK)
			rc = end_pass(L);
		lo = L->range.hi;
		lolen = L->range.hilen;
		at += lolen;
	}
	int wrc = overlap_join(L); /* the last pass's writing, if it failed before */
	rc = rc ? rc : wrc;
	L->st.overlapped = L->overlap;
	L->part[0].range = L->part[1].range = NULL;
	L->ranged = false;
	return rc;
}

/*
 * A regular file is mapped rather than read: no copy, and the pages are the
 * page cache's own. (Truncating the file during the load kills the loader
 * with SIGBUS, as with any mapped input.)
 */
static int map_input(struct bulkload *L, int fd, size_t size, bool *done)
{
	const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	size_t pos = 0;

	*done = false;
	if (map == MAP_FAILED)
		return IDN_OK; /* read() it instead */
	*done = true;
	madvise((void *)map, size, MADV_SEQUENTIAL);
	if (size >= 3 && !memcmp(map, "\xEF\xBB\xBF", 3))
		pos = 3; /* a UTF-8 byte order mark */
	int rc = IDN_OK;
	/* entries of an earlier call would not be in the ranges' order */
	bool fresh =
	    !L->part[0].nrefs && !L->part[1].nrefs && !L->nspill && !L->maxklen && !L->st.lines;
	L->in_fd = fd;
	if (L->opts.key && fresh && (uint64_t)size > L->run_bytes / 4)
		rc = fstat(fd, &L->in_st) ? IDN_EIO : plan_ranges(L, map + pos, size - pos);
	if (rc == IDN_OK && L->nranges > 1)
		rc = feed_ranges(L, map + pos, size - pos);
	else if (rc == IDN_OK)
		rc = feed_lines(L, map + pos, size - pos, true);
	munmap((void *)map, size);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* the interface                                                            */

int bulkload_new(store *s, const bulkload_opts *opts, bulkload **out)
{
	struct bulkload *L = calloc(1, sizeof(*L));
	*out = NULL;
	if (!L)
		return IDN_ENOMEM;
	if (opts->resume_id &&
	    (!opts->spill_dir || strlen(opts->resume_id) > BULKLOAD_RESUME_ID_MAX)) {
		free(L);
		return IDN_EINVAL; /* resuming needs one ordered pass: spilled runs */
	}
	L->opts = *opts;
	L->s = s;
	pthread_mutex_init(&L->rs.mu, NULL);
	pthread_cond_init(&L->rs.cv, NULL);
	pthread_mutex_init(&L->wrs.mu, NULL);
	pthread_cond_init(&L->wrs.cv, NULL);
	pthread_mutex_init(&L->stmu, NULL);
	for (int i = 0; i < 2; i++) {
		L->part[i].parse = L->wpart[i].parse = opts->parse;
		L->part[i].parser = L->wpart[i].parser = opts->parser[i];
		L->part[i].key = L->wpart[i].key = opts->key;
	}
	/* Runs as big as a quarter of the memory: one run for most loads. */
	uint64_t memory = opts->memory;
	if (!memory) {
		uint64_t phys = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
		memory = phys / 4 < RUN_MIN ? RUN_MIN : phys / 4 > RUN_MAX ? RUN_MAX : phys / 4;
	}
	L->run_bytes = memory > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)memory;
	/* a quarter of it for the search index's entries (ix_emit) */
	L->ix_bytes = L->run_bytes / 4;
	L->run_bytes -= L->ix_bytes;
	L->chunk = L->run_bytes / 8;
	L->chunk = L->chunk > CHUNK ? CHUNK : L->chunk < CHUNK_MIN ? CHUNK_MIN : L->chunk;
	*out = L;
	return IDN_OK;
}

void bulkload_free(bulkload *L)
{
	if (!L)
		return;
	overlap_join(L);
	part_free(&L->part[0]);
	part_free(&L->part[1]);
	part_free(&L->wpart[0]);
	part_free(&L->wpart[1]);
	runsort_free(&L->wrs);
	pthread_mutex_destroy(&L->wrs.mu);
	pthread_cond_destroy(&L->wrs.cv);
	pthread_mutex_destroy(&L->stmu);
	part_free(&L->xerr);
	for (int i = 0; i < IX_PARTS; i++)
		part_free(&L->ixp[i]);
	free(L->ixout);
	index_ents_free(L->ixe);
	for (size_t i = 0; i < L->nspill; i++)
		fclose(L->spill[i]);
	free(L->spill);
	for (size_t i = 0; i < L->nixspill; i++)
		fclose(L->ixspill[i]);
	free(L->ixspill);
	runsort_free(&L->rs);
	free(L->splitbuf);
	free(L->splitlen);
	free(L->splitoff);
	free(L->chunks);
	free(L->lr);
	free(L->ll);
	pthread_mutex_destroy(&L->rs.mu);
	pthread_cond_destroy(&L->rs.cv);
	free(L);
}

int bulkload_add(bulkload *L, idn_slice key, idn_slice record)
{
	struct part *w = &L->part[0];
	/* The sort pads keys with zero bytes: a key holding one would be ambiguous. */
	if (key.len == 0 || key.len > STORE_KEY_MAX || memchr(key.p, 0, key.len) ||
	    record.len > STORE_VAL_MAX)
		return IDN_EINVAL;
	struct ent *e = ent_copy(w, key, record);
	if (!e)
		return IDN_ENOMEM;
	int rc = add_ref(w, e, L->st.lines + 1);
	if (rc)
		return rc;
	L->st.lines++;
	struct part *b = &L->part[1];
	if (w->arena_used + b->arena_used + (w->nrefs + b->nrefs) * REF_BYTES >= L->run_bytes)
		return flush_run(L, false);
	return IDN_OK;
}

int bulkload_lines(bulkload *L, const uint8_t *buf, size_t len)
{
	if (!L->opts.parse)
		return IDN_EINVAL;
	return feed_lines(L, buf, len, false);
}

int bulkload_read_fd(bulkload *L, int fd)
{
	struct stat st;
	bool mapped = false;
	int rc = IDN_OK;
	if (!L->opts.parse)
		return IDN_EINVAL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= SIZE_MAX)
		rc = map_input(L, fd, (size_t)st.st_size, &mapped);
	if (!mapped)
		rc = read_input(L, fd);
	return rc;
}

int bulkload_finish(bulkload *L)
{
	struct timespec t0, t1;
	int rc = flush_run(L, true);
	if (rc == IDN_OK && L->nspill) {
		/* the runs are in the spill files: their memory goes to the index's entries */
		arena_release(&L->part[0]);
		arena_release(&L->part[1]);
		runsort_free(&L->rs);
		rc = merge_runs(L, false);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rc == IDN_OK && L->ixmode == IXM_EMIT) {
		/* the entries made as the records were written, in key order */
		rc = ix_finish(L);
	} else if (rc == IDN_OK) {
		/* the load's txns left the search index stale: one rebuild (index.h) */
		L->st.indexing = true;
		progress(L, 0);
		rc = store_index_refresh(L->s);
		L->st.indexing = false;
		store_txn *t;
		if (rc == IDN_OK && L->opts.resume_id && (rc = write_begin(L, &t)) == IDN_OK) {
			rc = resume_mark(L, t, true);
			rc = rc ? (store_txn_abort(t), rc) : store_txn_commit(t);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	L->st.index_ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
	                 (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000000);
	if (rc == IDN_OK)
		rc = lazy_end(L);
	return rc;
}

const bulkload_stats *bulkload_stats_of(const bulkload *L)
{
	return &L->st;
}

int bulkload_errno(const bulkload *L)
{
	return L->read_errno;
}

int bulkload_spill_errno(const bulkload *L)
{
	return L->spill_errno;
}
