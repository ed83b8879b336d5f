/*
 * lmdb.c - the LMDB store backend: one environment per directory, named DBs
 * "handles" (identifier -> record) and "homed" (prefix -> empty), and for
 * the transaction log (store.h) "txlog" (be64 seq | be32 n -> be64 time_ms |
 * op | be32 key length | key | record) and "meta" ("log.seq", "log.oldest",
 * "log.bytes" as be64; callers' meta values under "u." + name), and "tabs"
 * for the tables (table byte | key -> value).
 *
 * Value layout in "handles": every LMDB value starts with a kind byte.
 *   kind 0 (plain):    0x00 | record
 *   kind 1 (long key): 0x01 | u32be full key length | full key | record
 * LMDB keys are limited to 511 bytes, ours to STORE_KEY_MAX. A key of up to
 * LONG_HEAD (478) bytes is the LMDB key as is; a longer key is stored under
 * its first 478 bytes followed by the SHA-256 of the whole key (510 bytes), and
 * the full key is kept in the value so get/put/del can tell a hash collision
 * from a hit. Keeping the 478-byte head in clear keeps long keys next to their
 * siblings, so prefix scans stay range scans; only keys sharing the whole head
 * are stored in hash order, and a scan reads such a group whole and sorts it,
 * so scans visit every key in key order (paged readers resume by key).
 *
 * Map growth: LMDB cannot grow its map while any transaction of this process
 * is active, so every transaction holds `gate` as a reader (read txns from
 * begin/renew to reset/abort, write txns from begin to commit/abort) and the
 * grower takes it as a writer before mdb_env_set_mapsize(). The lock prefers
 * writers, so a stream of renewing workers cannot starve the grower; the
 * grower waits at most GROW_WAIT_MS (a reader that never lets go must not
 * stall every other reader queued behind the grower), then backs off and
 * retries on a later write. A per-thread count of held transactions makes the
 * read lock re-entrant, so a thread may hold several transactions at once
 * (e.g. keep its read txn while it writes); such a thread skips growing,
 * because it would wait for itself, and its write may fail with
 * IDN_ESTORE_FULL. So: reset your read txn before starting a write txn (a
 * remap would also invalidate pointers borrowed from it), and keep a
 * transaction's live span (begin/renew .. reset/commit/abort) on one thread;
 * a reset read txn may move between threads.
 */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "core/err.h"
#include "store/lcache.h"

enum {
	KIND_PLAIN = 0,
	KIND_LONG = 1,
	LONG_HEAD = 478,                                 /* clear bytes of a long key */
	LONG_KEY_LEN = LONG_HEAD + SHA256_DIGEST_LENGTH, /* 510 <= LMDB's 511 */
	LONG_HDR = 1 + 4,                                /* kind + full key length */
	MAX_DBS = 8,
	MAP_RETRIES = 4, /* MDB_MAP_RESIZED retries on begin/renew */
};

#define DEFAULT_MAP_SIZE ((uint64_t)256 << 20)
#define GROW_WAIT_MS     250
#define GROW_BACKOFF_MS  1000

struct lmdb_store {
	store base;
	MDB_env *env;
	MDB_dbi handles;
	MDB_dbi homed;
	MDB_dbi txlog;
	MDB_dbi meta;
	MDB_dbi tabs;
	uint64_t log_max_bytes;
	uint64_t log_max_age_ms;
	unsigned psize;
	unsigned homed_key_max;       /* LMDB's key limit, applies to homed prefixes */
	pthread_rwlock_t gate;        /* see the top of the file */
	pthread_key_t held;           /* per thread: transactions holding `gate` */
	atomic_int pressure;          /* a write hit MDB_MAP_FULL: grow at the next write */
	atomic_llong grow_not_before; /* monotonic ns; back-off after a timed-out grow */
	pthread_t warmer;             /* reads the data into the page cache (opts->warm) */
	bool warming;
	int warm;           /* enum store_warm */
	unsigned warm_rate; /* MB/s, 0 = unpaced */
	bool huge_map;      /* store_opts.huge_map */
	atomic_bool stop_warming;
	lcache *cache; /* the read txns' lookup cache (store_opts.lookup_cache), or NULL */
	/* bumped at every mdb_env_set_mapsize() (with `gate` held exclusively): the map may move */
	atomic_uint_fast64_t map_epoch;
};

struct lmdb_txn {
	store_txn base;
	MDB_txn *txn;
	bool rdonly;
	bool live; /* holds a snapshot (and `gate`); false after reset */
	/* the log of a write txn: seq 0 until the first change */
	uint64_t seq;
	uint64_t time_ms;
	uint64_t log_bytes; /* this txn's entries */
	uint32_t nchg;
	bool overflow; /* more than log_max_bytes: not kept, the log is emptied at commit */
	struct lmdb_txn *parent; /* a nested txn (store_txn_nest): commits into it */
	uint64_t cache_tag;      /* its view's tag in the store's lookup cache; 0: none */
	uint64_t cache_txnid;    /* the txn id and map epoch cache_view last looked at */
	uint64_t cache_epoch;
	bool touched; /* a write txn that changed "handles": commits HANDLES_GEN */
	bool wrote;   /* one that wrote elsewhere (statistics, meta, homed): counts in COMMITS */
	bool lazy;    /* STORE_LAZY: the env is MDB_NOSYNC until it ends (lazy_set) */
};

/*
 * meta "handles.gen": the id of the last write txn that changed "handles"
 * (be64), written in that txn (gen_bump: more than the one before, should
 * the ids have restarted): the lookup cache's view (cache_view).
 */
static const char HANDLES_GEN[] = "handles.gen";

/*
 * meta "txn.count": how many of our commits there have been (be64), each
 * adding one (every commit that wrote "handles", a table, meta or homed).
 * The txn id less it grows only with someone else's commit (an idnode from
 * before it, raw LMDB) or one of ours that wrote none of those: the lookup
 * cache's view holds it (cache_view).
 */
static const char COMMITS[] = "txn.count";

enum { LOG_HDR = 8 + 1 + 4 }; /* txlog value: time_ms | op | key length */

static inline struct lmdb_store *lmdb_of(store *s)
{
	return (struct lmdb_store *)s;
}

static inline struct lmdb_txn *txn_of(store_txn *t)
{
	return (struct lmdb_txn *)t;
}

/* LMDB (and the errno values it passes through) -> idn_err, in one place. */
static int lmdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return IDN_OK;
	case MDB_NOTFOUND:
		return IDN_ENOTFOUND;
	case MDB_KEYEXIST:
		return IDN_EEXIST;
	case MDB_MAP_FULL:
		return IDN_ESTORE_FULL;
	case ENOMEM:
		return IDN_ENOMEM;
	case EIO:
		return IDN_EIO;
	case ENOSPC:
	case EDQUOT:
		return IDN_EDISK_FULL; /* the disk, not the map: growing will not help */
	}
	return IDN_ESTORE;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the gate: no mdb_env_set_mapsize() while a transaction is active ---- */

static uintptr_t gate_held(struct lmdb_store *s)
{
	return (uintptr_t)pthread_getspecific(s->held);
}

static int gate_enter(struct lmdb_store *s)
{
	uintptr_t n = gate_held(s);

	/* Re-entrant by hand: a writer-preferring rwlock deadlocks on a nested
	 * rdlock while a grower waits. */
	if (n == 0 && pthread_rwlock_rdlock(&s->gate) != 0)
		return IDN_EBUSY;
	if (pthread_setspecific(s->held, (void *)(n + 1)) != 0) {
		if (n == 0)
			pthread_rwlock_unlock(&s->gate);
		return IDN_ENOMEM;
	}
	return IDN_OK;
}

static void gate_leave(struct lmdb_store *s)
{
	uintptr_t n = gate_held(s);

	if (n == 0)
		return; /* not ours: a txn ended on another thread than it began */
	/* Lowering an existing value never allocates, so this cannot fail. */
	(void)pthread_setspecific(s->held, (void *)(n - 1));
	if (n == 1)
		pthread_rwlock_unlock(&s->gate);
}

/* Takes the gate exclusively, waiting at most GROW_WAIT_MS. */
static int gate_lock_excl(struct lmdb_store *s)
{
	struct timespec ts;

	if (gate_held(s))
		return IDN_EBUSY; /* we would wait for ourselves */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)GROW_WAIT_MS * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return pthread_rwlock_clockwrlock(&s->gate, CLOCK_MONOTONIC, &ts) ? IDN_EBUSY : IDN_OK;
}

/* ---- map growth ---- */

/*
 * The size the map should have before the next write, or 0 if it is fine.
 * Caller holds the gate (either way): mdb_env_info() reads the map size that
 * the grower writes.
 */
static size_t grow_target(struct lmdb_store *s)
{
	MDB_envinfo info;

	if (mdb_env_info(s->env, &info) != MDB_SUCCESS)
		return 0;
	size_t used = ((size_t)info.me_last_pgno + 1) * s->psize;
	size_t map = info.me_mapsize;
	size_t want = map;

	if (atomic_load(&s->pressure) && want < SIZE_MAX / 2)
		want *= 2;
	while (used > want / 4 * 3 && want < SIZE_MAX / 2)
		want *= 2;
	return want > map ? want : 0;
}

static void maybe_grow(struct lmdb_store *s)
{
	size_t want;

	/* A thread that holds a transaction cannot wait for all to end; the
	 * pressure flag stays set and a later write grows the map. */
	if (gate_held(s) || now_ns() < atomic_load(&s->grow_not_before))
		return;
	if (pthread_rwlock_rdlock(&s->gate) != 0)
		return;
	want = grow_target(s);
	pthread_rwlock_unlock(&s->gate);
	if (want == 0)
		return;

	if (gate_lock_excl(s) != IDN_OK) {
		/* A reader held on; let the readers queued behind us run. */
		atomic_store(&s->grow_not_before, now_ns() + (int64_t)GROW_BACKOFF_MS * 1000000);
		return;
	}
	want = grow_target(s); /* another thread may have grown it meanwhile */
	atomic_fetch_add(&s->map_epoch, 1);
	if (want && mdb_env_set_mapsize(s->env, want) == MDB_SUCCESS)
		atomic_store(&s->pressure, 0);
	pthread_rwlock_unlock(&s->gate);
}

/* Another process grew the map (MDB_MAP_RESIZED): adopt its size. */
static int adopt_map_size(struct lmdb_store *s)
{
	int rc = gate_lock_excl(s);

	if (rc != IDN_OK)
		return rc;
	atomic_fetch_add(&s->map_epoch, 1);
	rc = lmdb_err(mdb_env_set_mapsize(s->env, 0));
	pthread_rwlock_unlock(&s->gate);
	return rc;
}

/* ---- keys and values ---- */

static int check_key(idn_slice key)
{
	if (key.len == 0 || !key.p)
		return IDN_EINVAL;
	if (key.len > STORE_KEY_MAX)
		return IDN_ERANGE;
	return IDN_OK;
}

/* The LMDB key for key; buf holds LONG_KEY_LEN bytes and backs long keys. */
static MDB_val db_key(idn_slice key, uint8_t *buf)
{
	if (key.len <= LONG_HEAD)
		return (MDB_val){key.len, (void *)key.p};
	memcpy(buf, key.p, LONG_HEAD);
	SHA256(key.p, key.len, buf + LONG_HEAD);
	return (MDB_val){LONG_KEY_LEN, buf};
}

/*
 * Splits a stored entry into the full key and the record, checking every
 * length against the value's bounds; anything inconsistent is IDN_ESTORE.
 */
static int decode_entry(const MDB_val *k, const MDB_val *v, idn_slice *key, idn_slice *rec)
{
	const uint8_t *p = v->mv_data;
	size_t n = v->mv_size;

	if (n < 1)
		return IDN_ESTORE;
	if (p[0] == KIND_PLAIN) {
		if (k->mv_size > LONG_HEAD)
			return IDN_ESTORE;
		*key = idn_slice_of(k->mv_data, k->mv_size);
		*rec = idn_slice_of(p + 1, n - 1);
		return IDN_OK;
	}
	if (p[0] != KIND_LONG || k->mv_size != LONG_KEY_LEN || n < LONG_HDR)
		return IDN_ESTORE;
	uint32_t klen = idn_be32(p + 1);
	if (klen <= LONG_HEAD || klen > STORE_KEY_MAX || klen > n - LONG_HDR)
		return IDN_ESTORE;
	if (memcmp(p + LONG_HDR, k->mv_data, LONG_HEAD) != 0)
		return IDN_ESTORE;
	*key = idn_slice_of(p + LONG_HDR, klen);
	*rec = idn_slice_of(p + LONG_HDR + klen, n - LONG_HDR - klen);
	return IDN_OK;
}

/* ---- environment ---- */

/* mkdir -p with mode 0750. */
static int make_dirs(const char *path)
{
	size_t len = strlen(path);
	char *buf = malloc(len + 1);
	int rc = IDN_OK;
	struct stat st;

	if (!buf)
		return IDN_ENOMEM;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
			rc = idn_errno(errno);
			goto out;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(path, &st) != 0) {
		rc = idn_errno(errno);
		goto out;
	}
	if (!S_ISDIR(st.st_mode))
		rc = IDN_ECONFIG; /* a file sits where the store directory should be */
out:
	free(buf);
	return rc;
}

static int lmdb_txn_begin(store *bs, unsigned flags, store_txn **out);
static int lmdb_txn_commit(store_txn *bt);
static void lmdb_txn_abort(store_txn *bt);

static void lmdb_close(store *bs)
{
	struct lmdb_store *s = lmdb_of(bs);

	if (!s)
		return;
	if (s->warming) {
		atomic_store(&s->stop_warming, true);
		pthread_join(s->warmer, NULL);
	}
	if (s->env)
		mdb_env_close(s->env);
	pthread_key_delete(s->held);
	pthread_rwlock_destroy(&s->gate);
	lcache_free(s->cache);
	free(s);
}

/*
 * The warm-up (store_opts.warm): a server about to answer random lookups
 * reads, in the background, first the branch pages of the identifiers'
 * B-tree (every level above the leaves: after that a lookup of an uncached
 * identifier costs one read, its leaf, instead of one per level), then the
 * data file from its start, bounded by the memory available, so the
 * first requests find it in the page cache instead of faulting it in page by
 * page. Paced at warm_rate MB/s when set; stops when the store closes.
 *
 * The tree walk reads LMDB 0.9's page layout from the data file: a page
 * header of 16 bytes (pgno, pad, flags, lower, upper), then the nodes'
 * offsets; a branch node holds its child's page number in its first 6 bytes
 * and its flags field. The named DB's root is its record in the main DB. A
 * page that does not look like a branch page (flags) or a child beyond the
 * snapshot's last page stops the walk there, so a format change costs the
 * warm-up, never a wrong read.
 */
enum { PAGE_HDR = 16, P_BRANCH_FLAG = 0x01, WARM_BATCH = 256 };

struct warm_run {
	struct lmdb_store *s;
	mdb_filehandle_t fd;
	int64_t start_ns;
	uint64_t bytes;        /* read so far, for the pace */
	uint64_t branches;     /* branch pages read */
	uint64_t branch_total; /* the tree's, from its DB record */
};

/* Sleeps until `bytes` are within the pace; false when told to stop. */
static bool warm_pace(struct warm_run *w)
{
	unsigned rate = w->s->warm_rate;
	for (int i = 0; i < 100000; i++) {
		if (atomic_load(&w->s->stop_warming))
			return false;
		if (!rate)
			return true;
		int64_t due =
		    w->start_ns + (int64_t)(w->bytes * 1000 / rate); /* MB/s: 1e6 B / 1e9 ns */
		int64_t now = now_ns();
		if (now >= due)
			return true;
		struct timespec ts = {0, (due - now) < 20000000 ? (long)(due - now) : 20000000};
		nanosleep(&ts, NULL);
	}
	return true;
}

/* The handles DB's root page and depth from its record in the main DB. */
static int warm_root(MDB_txn *txn, uint64_t *root, unsigned *depth, uint64_t *branches)
{
	MDB_dbi main_dbi;
	MDB_val k = {7, (void *)"handles"}, v;
	if (mdb_dbi_open(txn, NULL, 0, &main_dbi) != MDB_SUCCESS ||
	    mdb_get(txn, main_dbi, &k, &v) != MDB_SUCCESS || v.mv_size != 48)
		return -1;
	uint16_t d;
	memcpy(&d, (char *)v.mv_data + 6, 2);
	memcpy(branches, (char *)v.mv_data + 8, 8);
	memcpy(root, (char *)v.mv_data + 40, 8);
	*depth = d;
	return 0;
}

static int cmp_pgno(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * One level: asks the kernel for its pages in batches (posix_fadvise
 * WILLNEED: many reads in flight), touches them, and collects their
 * children into *next. Returns the number of children, or -1 to stop.
 */
static long warm_level(struct warm_run *w, char *p, uint64_t last, uint64_t *pg, long n,
                       uint64_t **next)
{
	unsigned ps = w->s->psize;
	long cap = 0, nn = 0;
	*next = NULL;
	qsort(pg, (size_t)n, sizeof *pg, cmp_pgno);
	for (long b = 0; b < n; b += WARM_BATCH) {
		long e = b + WARM_BATCH < n ? b + WARM_BATCH : n;
		for (long i = b; i < e; i++)
			posix_fadvise(w->fd, (off_t)(pg[i] * ps), ps, POSIX_FADV_WILLNEED);
		for (long i = b; i < e; i++) {
			uint16_t flags, lower;
			if (pread(w->fd, p, ps, (off_t)(pg[i] * ps)) != (ssize_t)ps)
				return -1;
			memcpy(&flags, p + 10, 2);
			memcpy(&lower, p + 12, 2);
			if (!(flags & P_BRANCH_FLAG) || lower < PAGE_HDR || lower > ps)
				return nn;
			long keys = (lower - PAGE_HDR) / 2;
			if (nn + keys > cap) {
				cap = (nn + keys) * 2;
				uint64_t *g = realloc(*next, (size_t)cap * sizeof *g);
				if (!g)
					return -1;
				*next = g;
			}
			for (long j = 0; j < keys; j++) {
				uint16_t off, lo, hi, fl;
				memcpy(&off, p + PAGE_HDR + 2 * j, 2);
				if (off > ps - 8)
					return -1;
				memcpy(&lo, p + off, 2);
				memcpy(&hi, p + off + 2, 2);
				memcpy(&fl, p + off + 4, 2);
				uint64_t child = lo | (uint64_t)hi << 16 | (uint64_t)fl << 32;
				if (child > last)
					return -1;
				(*next)[nn++] = child;
			}
			w->branches++;
			w->bytes += ps;
		}
		if (!warm_pace(w))
			return -1;
	}
	return nn;
}

/* Reads every branch page of the handles DB, level by level, in one snapshot. */
static void warm_tree(struct warm_run *w)
{
	store_txn *bt;
	MDB_envinfo info;
	uint64_t root, *level = NULL, *next = NULL;
	unsigned depth;
	char *page = malloc(w->s->psize);

	if (!page || lmdb_txn_begin(&w->s->base, STORE_RDONLY, &bt) != IDN_OK) {
		free(page);
		return;
	}
	if (mdb_env_info(w->s->env, &info) != MDB_SUCCESS ||
	    warm_root(txn_of(bt)->txn, &root, &depth, &w->branch_total) != 0 ||
	    root > info.me_last_pgno)
		goto out;
	level = malloc(sizeof *level);
	if (!level)
		goto out;
	level[0] = root;
	long n = 1;
	/* levels 1 .. depth-1 are branch pages; the last one's children are leaves */
	for (unsigned d = 1; d < depth && n > 0; d++) {
		long nn = warm_level(w, page, info.me_last_pgno, level, n, &next);
		free(level);
		level = next;
		next = NULL;
		if (nn < 0)
			break;
		n = nn;
	}
out:
	free(level);
	free(page);
	lmdb_txn_abort(bt);
}

/*
 * What the file warm-up may fill: the memory available now (MemAvailable:
 * free plus reclaimable cache) less an eighth of the RAM, so it does not
 * evict what the machine's other work keeps (nothing when less than that
 * is available); half the RAM if unknown.
 */
static uint64_t warm_limit(void)
{
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	if (!kb) /* unknown */
		return ram / 2;
	uint64_t avail = (uint64_t)kb << 10;
	return avail > ram / 8 ? avail - ram / 8 : 0; /* short of memory: no file read */
}

/* The data file from its start, bounded by warm_limit(). */
static void warm_file(struct warm_run *w)
{
	enum { CHUNK = 1 << 20 };
	struct stat st;

	if (fstat(w->fd, &st) != 0)
		return;
	uint64_t limit = warm_limit();
	uint64_t end = (uint64_t)st.st_size < limit ? (uint64_t)st.st_size : limit;
	char *buf = malloc(CHUNK);
	if (!buf)
		return;
	for (uint64_t off = 0; off < end && warm_pace(w); off += CHUNK) {
		if (pread(w->fd, buf, CHUNK, (off_t)off) <= 0)
			break;
		w->bytes += CHUNK;
	}
	free(buf);
}

/*
 * The map in 2 MiB pages (store_opts.huge_map). The kernel (Linux 6.x on
 * ext4 and others with large folios) maps a file with 2 MiB pages where its
 * page cache holds it in 2 MiB pieces, which a read through a map asking
 * for huge pages brings in; pages written 4 KiB at a time (the load) stay
 * small until dropped. BENCHMARKS.md (issue 18, "The LMDB map in 2 MiB
 * pages"): -3.9% and -4.8% of server CPU per UDP answer on a 1 M store.
 */
static bool thp_enabled(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return false;
	bool ok = fgets(line, sizeof line, f) && !strstr(line, "[never]");
	fclose(f);
	return ok;
}

/*
 * Rss and FilePmdMapped (kB) of the mapping starting at p (/proc/self/smaps),
 * for the log line only: 0 and 0 when unknown. Bounded: it reads at most
 * SMAPS_LINES lines (a process with many mappings has a long smaps), takes a
 * mapping's header only at the start of a line (a long path comes in several
 * fgets pieces), and stops at the mapping's FilePmdMapped or the next
 * mapping.
 */
static void map_pages(const char *p, uint64_t *rss_kb, uint64_t *pmd_kb)
{
	enum { SMAPS_LINES = 1 << 16 };
	char line[256], head[40];
	unsigned long long v;
	bool in = false, at_start = true;
	FILE *f = fopen("/proc/self/smaps", "r");

	*rss_kb = *pmd_kb = 0;
	if (!f)
		return;
	snprintf(head, sizeof head, "%lx-", (unsigned long)(uintptr_t)p);
	for (int n = 0; n < SMAPS_LINES && fgets(line, sizeof line, f); n++) {
		bool start = at_start;
		at_start = strchr(line, '\n') != NULL;
		if (!start)
			continue;
		if (!in) {
			in = strncmp(line, head, strlen(head)) == 0;
		} else if (isxdigit((unsigned char)line[0]) && !isupper((unsigned char)line[0])) {
			break; /* the next mapping's header (fields start in upper case) */
		} else if (sscanf(line, "Rss: %llu kB", &v) == 1) {
			*rss_kb = v;
		} else if (sscanf(line, "FilePmdMapped: %llu kB", &v) == 1) {
			*pmd_kb = v;
			break;
		}
	}
	fclose(f);
}

/*
 * Whether some but not all of a 2 MiB piece of the map is in the page cache
 * (mincore). After a cold start the tree warm-up has read the branch pages,
 * 4 KiB each, scattered over the file: a piece holding one would stay in
 * small pages when the rest is read through the huge map. Such a piece is
 * dropped before it is read, which costs a re-read of those few pages; a
 * piece wholly cached (a restart) is not.
 */
static bool partly_cached(char *p, size_t len)
{
	enum { PIECE_PAGES = (1u << 21) / 4096 };
	unsigned char vec[PIECE_PAGES];
	size_t n = len / 4096, in = 0;
	if (sysconf(_SC_PAGESIZE) != 4096 || n == 0 || n > PIECE_PAGES || mincore(p, len, vec) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	return in > 0 && in < n;
}

/*
 * Reads the file's first `size` bytes through a map of its own that asks for
 * huge pages, a byte a page; its 2 MiB-mapped share in *pmd_kb of *rss_kb.
 * With `drop`, each 2 MiB piece's clean, unmapped pages are dropped from the
 * page cache just before it is read (POSIX_FADV_DONTNEED: dirty pages and
 * those the node's lookups have mapped stay), so a lookup finds at most one
 * piece out of the cache at a time; without, only a piece partly cached
 * is. False when the map fails or the store closes.
 */
static bool huge_read(struct warm_run *w, uint64_t size, bool drop, uint64_t *rss_kb,
                      uint64_t *pmd_kb)
{
	enum { PIECE = 1u << 21 };
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, w->fd, 0);
	if (p == MAP_FAILED)
		return false;
	madvise(p, size, MADV_HUGEPAGE);
	/*
	 * No readahead beyond the fault's own 2 MiB: after a cold start it read
	 * the next pieces in small pages, half the file on a 1 M store (154 of
	 * 308 MB huge, a second pass needed; with it 306 of 308 in one).
	 */
	madvise(p, size, MADV_RANDOM);
	volatile char sink = 0;
	bool done = true;
	uint64_t off = 0;
	for (; off < size; off += (uint64_t)page) {
		if ((off & (PIECE - 1)) == 0) {
			if (!warm_pace(w)) {
				done = false;
				break;
			}
			if (drop || partly_cached(p + off, size - off < PIECE ? size - off : PIECE))
				posix_fadvise(w->fd, (off_t)off, PIECE, POSIX_FADV_DONTNEED);
		}
		sink ^= p[off];
	}
	w->bytes += off < size ? off : size;
	(void)sink;
	map_pages(p, rss_kb, pmd_kb);
	munmap(p, size);
	return done;
}

/*
 * In place of the file warm-up where the whole file fits: its first read is
 * through the huge map (one pass where the page cache did not hold the file,
 * the read the warm-up would have made, now in 2 MiB pieces); only where that
 * found the file mostly in small pieces (just loaded or written) does it read
 * it once more, dropping each piece first (above). False when it did not
 * run (off, paced, too big, no huge pages, no map): the file warm-up then
 * reads the file.
 */
static bool warm_huge(struct warm_run *w)
{
	struct stat st;
	uint64_t rss, pmd, rss2, pmd2;

	if (!w->s->huge_map || w->s->warm_rate || fstat(w->fd, &st) != 0 || st.st_size <= 0 ||
	    !thp_enabled())
		return false;
	uint64_t size = (uint64_t)st.st_size;
	if (size > warm_limit()) {
		fprintf(stderr,
		        "store: huge map: left as it is (%llu MB, more than the warm-up may "
		        "fill)\n",
		        (unsigned long long)(size >> 20));
		return false;
	}
	int64_t t0 = now_ns();
	if (!huge_read(w, size, false, &rss, &pmd))
		return atomic_load(&w->s->stop_warming); /* no map: the plain read */
	if (pmd * 4 >= rss * 3) {                        /* mostly huge already */
		fprintf(stderr,
		        "store: huge map: %llu of %llu MB in 2 MiB pages already, read in %.2f s\n",
		        (unsigned long long)(pmd >> 10), (unsigned long long)(rss >> 10),
		        (double)(now_ns() - t0) / 1e9);
		return true;
	}
	if (!huge_read(w, size, true, &rss2, &pmd2))
		return true;
	fprintf(stderr,
	        "store: huge map: %llu of %llu MB in 2 MiB pages (%llu before), %llu MB re-read in "
	        "%.2f s\n",
	        (unsigned long long)(pmd2 >> 10), (unsigned long long)(rss2 >> 10),
	        (unsigned long long)(pmd >> 10), (unsigned long long)(size >> 20),
	        (double)(now_ns() - t0) / 1e9);
	return true;
}

static void *warm_main(void *arg)
{
	struct warm_run w = {.s = arg, .start_ns = now_ns()};
	static const char *const names[] = {"", "all", "tree", "file"};
	int mode = w.s->warm;

	if (mdb_env_get_fd(w.s->env, &w.fd) != MDB_SUCCESS)
		return NULL;
	fprintf(stderr, "store: warm-up (%s) started\n", names[mode]);
	if (mode == STORE_WARM_ALL || mode == STORE_WARM_TREE)
		warm_tree(&w);
	int64_t tree_ns = now_ns() - w.start_ns;
	/* the file once: through the huge map where that step runs, else plainly */
	if ((mode == STORE_WARM_ALL || mode == STORE_WARM_FILE) &&
	    !atomic_load(&w.s->stop_warming) && !warm_huge(&w))
		warm_file(&w);
	fprintf(stderr,
	        "store: warm-up (%s) %s: %llu of %llu branch pages in %.2f s, %llu MB read in "
	        "%.2f s\n",
	        names[mode], atomic_load(&w.s->stop_warming) ? "stopped" : "done",
	        (unsigned long long)w.branches, (unsigned long long)w.branch_total,
	        (double)tree_ns / 1e9, (unsigned long long)(w.bytes >> 20),
	        (double)(now_ns() - w.start_ns) / 1e9);
	return NULL;
}

static int open_dbs(struct lmdb_store *s)
{
	store_txn *bt;
	int rc = lmdb_txn_begin(&s->base, 0, &bt);

	if (rc != IDN_OK)
		return rc;
	MDB_txn *txn = txn_of(bt)->txn;
	int mrc = mdb_dbi_open(txn, "handles", MDB_CREATE, &s->handles);
	if (mrc == MDB_SUCCESS)
		mrc = mdb_dbi_open(txn, "homed", MDB_CREATE, &s->homed);
	if (mrc == MDB_SUCCESS)
		mrc = mdb_dbi_open(txn, "txlog", MDB_CREATE, &s->txlog);
	if (mrc == MDB_SUCCESS)
		mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
	if (mrc == MDB_SUCCESS)
		mrc = mdb_dbi_open(txn, "tabs", MDB_CREATE, &s->tabs);
	if (mrc != MDB_SUCCESS) {
		lmdb_txn_abort(bt);
		return lmdb_err(mrc);
	}
	return lmdb_txn_commit(bt);
}

/* A store made by an earlier open: the directory holds LMDB's data file. */
static int store_exists(const char *location)
{
	struct stat st;
	char *data = NULL;
	if (asprintf(&data, "%s/data.mdb", location) < 0)
		return IDN_ENOMEM;
	int rc = stat(data, &st) == 0 && S_ISREG(st.st_mode) ? IDN_OK : IDN_ENOTFOUND;
	free(data);
	return rc;
}

static int lmdb_open(const char *location, const store_opts *opts, store **out)
{
	static const store_opts defaults;
	struct lmdb_store *s = NULL;
	pthread_rwlockattr_t attr;
	MDB_stat st;
	int rc, mrc;

	if (!out)
		return IDN_EINVAL;
	*out = NULL;
	if (!location || !*location)
		return IDN_EINVAL;
	if (!opts)
		opts = &defaults;
	if (opts->map_size > SIZE_MAX)
		return IDN_ERANGE;

	rc = opts->must_exist ? store_exists(location) : make_dirs(location);
	if (rc != IDN_OK)
		return rc;

	s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	s->base.ops = &store_lmdb_ops;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rc = pthread_rwlock_init(&s->gate, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (rc != 0) {
		free(s);
		return IDN_ENOMEM;
	}
	if (pthread_key_create(&s->held, NULL) != 0) {
		pthread_rwlock_destroy(&s->gate);
		free(s);
		return IDN_ENOMEM;
	}

	mrc = mdb_env_create(&s->env);
	if (mrc != MDB_SUCCESS) {
		s->env = NULL;
		goto fail;
	}
	if ((mrc = mdb_env_set_maxdbs(s->env, MAX_DBS)) != MDB_SUCCESS ||
	    (mrc = mdb_env_set_maxreaders(s->env, opts->max_readers ? opts->max_readers : 126)) !=
	        MDB_SUCCESS ||
	    (mrc = mdb_env_set_mapsize(s->env, opts->map_size ? (size_t)opts->map_size
	                                                      : (size_t)DEFAULT_MAP_SIZE)) !=
	        MDB_SUCCESS)
		goto fail;
	/* NOTLS: read txns outlive batches and are renewed by their worker, not
	 * tied to a thread's slot. NORDAHEAD: lookups are random; read-ahead
	 * would evict the hot pages. */
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (opts->no_sync ? MDB_NOSYNC : 0);
	mrc = mdb_env_open(s->env, location, flags, 0640);
	if (mrc != MDB_SUCCESS)
		goto fail;
	if (mdb_env_get_maxkeysize(s->env) < LONG_KEY_LEN) {
		rc = IDN_ENOTSUP; /* an LMDB built with a smaller key limit */
		goto fail_rc;
	}
	s->homed_key_max = (unsigned)mdb_env_get_maxkeysize(s->env);
	s->log_max_bytes = opts->log_max_bytes ? opts->log_max_bytes : STORE_LOG_MAX_BYTES;
	s->log_max_age_ms = (opts->log_max_age ? opts->log_max_age : STORE_LOG_MAX_AGE) * 1000;
	mrc = mdb_env_stat(s->env, &st);
	if (mrc != MDB_SUCCESS)
		goto fail;
	s->psize = st.ms_psize;

	rc = open_dbs(s);
	if (rc != IDN_OK)
		goto fail_rc;
	s->warm = opts->warm;
	s->warm_rate = opts->warm_rate;
	s->huge_map = opts->huge_map != 0;
	if (opts->lookup_cache)
		s->cache = lcache_new(opts->lookup_cache); /* NULL: look everything up */
	if (opts->warm > STORE_WARM_NONE && opts->warm <= STORE_WARM_FILE) {
		/* the thread takes no signal: a server waits for its own (SIGTERM) */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		s->warming = pthread_create(&s->warmer, NULL, warm_main, s) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	*out = &s->base;
	return IDN_OK;

fail:
	rc = lmdb_err(mrc);
fail_rc:
	lmdb_close(&s->base);
	return rc;
}

/* ---- the transaction log and meta values ---- */

static const char META_SEQ[] = "log.seq", META_OLDEST[] = "log.oldest", META_BYTES[] = "log.bytes";

/* A be64 meta value, or dflt if absent. Returns an MDB code. */
static int meta_u64(struct lmdb_txn *t, const char *name, uint64_t dflt, uint64_t *out)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int mrc = mdb_get(t->txn, lmdb_of(t->base.s)->meta, &k, &v);

	*out = dflt;
	if (mrc == MDB_NOTFOUND)
		return MDB_SUCCESS;
	if (mrc != MDB_SUCCESS)
		return mrc;
	if (v.mv_size != 8)
		return MDB_CORRUPTED;
	*out = store_be64(v.mv_data);
	return MDB_SUCCESS;
}

static int meta_put_u64(struct lmdb_txn *t, const char *name, uint64_t val)
{
	uint8_t buf[8];
	MDB_val k = {strlen(name), (void *)name}, v = {8, buf};

	store_put_be64(buf, val);
	return mdb_put(t->txn, lmdb_of(t->base.s)->meta, &k, &v, 0);
}

/* Appends one change of a write txn to "txlog" (see store.h). */
static int log_append(struct lmdb_txn *t, int op, idn_slice key, idn_slice val)
{
	struct lmdb_store *s = lmdb_of(t->base.s);
	uint8_t kb[STORE_LOG_KEY];
	MDB_val k = {sizeof(kb), kb}, v;
	int mrc;

	if (!t->seq) {
		uint64_t last;
		mrc = meta_u64(t, META_SEQ, 0, &last);
		if (mrc != MDB_SUCCESS)
			return lmdb_err(mrc);
		t->seq = last + 1;
		t->time_ms = store_now_ms();
	}
	if (t->overflow)
		return IDN_OK;
	size_t size = STORE_LOG_KEY + LOG_HDR + key.len + val.len;
	if (t->log_bytes + size > s->log_max_bytes) {
		/* Keeping part of a transaction would be worse than none. */
		t->overflow = true;
		return IDN_OK;
	}
	store_put_be64(kb, t->seq);
	idn_put_be32(kb + 8, t->nchg);
	v.mv_size = LOG_HDR + key.len + val.len;
	mrc = mdb_put(t->txn, s->txlog, &k, &v, MDB_RESERVE | MDB_APPEND);
	if (mrc == MDB_MAP_FULL)
		atomic_store(&s->pressure, 1);
	if (mrc != MDB_SUCCESS)
		return lmdb_err(mrc);
	uint8_t *p = v.mv_data;
	store_put_be64(p, t->time_ms);
	p[8] = (uint8_t)op;
	idn_put_be32(p + 9, (uint32_t)key.len);
	memcpy(p + LOG_HDR, key.p, key.len);
	if (val.len)
		memcpy(p + LOG_HDR + key.len, val.p, val.len);
	t->nchg++;
	t->log_bytes += size;
	return IDN_OK;
}

/*
 * At commit of a write txn that changed something: records its sequence
 * number and prunes whole transactions from the oldest while the log is too
 * old or too large (never the one committing). Returns an MDB code.
 */
static int log_finish(struct lmdb_txn *t)
{
	struct lmdb_store *s = lmdb_of(t->base.s);
	uint64_t bytes, oldest, now = store_now_ms();
	uint64_t cutoff = now > s->log_max_age_ms ? now - s->log_max_age_ms : 0;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int mrc;

	if ((mrc = meta_u64(t, META_BYTES, 0, &bytes)) != MDB_SUCCESS ||
	    (mrc = meta_u64(t, META_OLDEST, 1, &oldest)) != MDB_SUCCESS)
		return mrc;
	if (t->overflow) {
		mrc = mdb_drop(t->txn, s->txlog, 0);
		if (mrc != MDB_SUCCESS)
			return mrc;
		bytes = 0;
		oldest = t->seq + 1;
		goto out;
	}
	bytes += t->log_bytes;
	mrc = mdb_cursor_open(t->txn, s->txlog, &cur);
	if (mrc != MDB_SUCCESS)
		return mrc;
	uint64_t dropping = 0; /* the seq being deleted: finish it whole */
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == MDB_SUCCESS) {
		if (k.mv_size != STORE_LOG_KEY || v.mv_size < LOG_HDR) {
			mrc = MDB_CORRUPTED;
			break;
		}
		uint64_t seq = store_be64(k.mv_data);
		if (seq == t->seq)
			break;
		if (seq != dropping && bytes <= s->log_max_bytes && store_be64(v.mv_data) >= cutoff)
			break;
		uint64_t size = STORE_LOG_KEY + v.mv_size;
		mrc = mdb_cursor_del(cur, 0);
		if (mrc != MDB_SUCCESS)
			break;
		bytes = bytes > size ? bytes - size : 0;
		dropping = seq;
		oldest = seq + 1;
	}
	mdb_cursor_close(cur);
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		return mrc;
out:
	if ((mrc = meta_put_u64(t, META_SEQ, t->seq)) != MDB_SUCCESS ||
	    (mrc = meta_put_u64(t, META_OLDEST, oldest)) != MDB_SUCCESS)
		return mrc;
	return meta_put_u64(t, META_BYTES, bytes);
}

static int lmdb_log_state(store_txn *bt, uint64_t *last, uint64_t *oldest)
{
	struct lmdb_txn *t = txn_of(bt);
	int mrc;

	if (!t->live || !last || !oldest)
		return IDN_EINVAL;
	if ((mrc = meta_u64(t, META_SEQ, 0, last)) != MDB_SUCCESS ||
	    (mrc = meta_u64(t, META_OLDEST, 1, oldest)) != MDB_SUCCESS)
		return lmdb_err(mrc);
	return IDN_OK;
}

static int lmdb_log_read(store_txn *bt, uint64_t from, uint64_t max_txns, store_log_cb cb,
                         void *arg)
{
	struct lmdb_txn *t = txn_of(bt);
	uint64_t last, oldest, txns = 0, prev = 0;
	uint8_t kb[STORE_LOG_KEY];
	MDB_cursor *cur = NULL;
	MDB_val k = {sizeof(kb), kb}, v;
	int rc = cb ? lmdb_log_state(bt, &last, &oldest) : IDN_EINVAL;

	if (rc != IDN_OK)
		return rc;
	if (from < oldest || from > last + 1)
		return IDN_ERANGE;
	int mrc = mdb_cursor_open(t->txn, lmdb_of(bt->s)->txlog, &cur);
	if (mrc != MDB_SUCCESS)
		return lmdb_err(mrc);
	store_put_be64(kb, from);
	idn_put_be32(kb + 8, 0);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == MDB_SUCCESS;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = v.mv_data;
		if (k.mv_size != STORE_LOG_KEY || v.mv_size < LOG_HDR ||
		    idn_be32(p + 9) > v.mv_size - LOG_HDR) {
			rc = IDN_ESTORE;
			goto out;
		}
		store_change c = {.seq = store_be64(k.mv_data),
		                  .n = idn_be32((const uint8_t *)k.mv_data + 8),
		                  .time_ms = store_be64(p),
		                  .op = p[8]};
		size_t klen = idn_be32(p + 9);
		c.key = idn_slice_of(p + LOG_HDR, klen);
		c.val = idn_slice_of(p + LOG_HDR + klen, v.mv_size - LOG_HDR - klen);
		if (c.seq != prev) {
			if (max_txns && txns == max_txns)
				break;
			txns++;
			prev = c.seq;
		}
		rc = cb(arg, &c);
		if (rc != 0)
			goto out;
	}
	rc = mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? IDN_OK : lmdb_err(mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

/* "u." + name: callers' names never meet the log's own. */
static int meta_key(const char *name, char *buf, MDB_val *k)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return IDN_EINVAL;
	if (n > STORE_META_NAME_MAX)
		return IDN_ERANGE;
	memcpy(buf, "u.", 2);
	memcpy(buf + 2, name, n);
	*k = (MDB_val){n + 2, buf};
	return IDN_OK;
}

static int lmdb_meta_get(store_txn *bt, const char *name, idn_slice *val)
{
	struct lmdb_txn *t = txn_of(bt);
	char buf[STORE_META_NAME_MAX + 2];
	MDB_val k, v;
	int rc = meta_key(name, buf, &k);

	if (rc != IDN_OK)
		return rc;
	if (!t->live || !val)
		return IDN_EINVAL;
	rc = lmdb_err(mdb_get(t->txn, lmdb_of(bt->s)->meta, &k, &v));
	if (rc == IDN_OK)
		*val = idn_slice_of(v.mv_data, v.mv_size);
	return rc;
}

static int lmdb_meta_put(store_txn *bt, const char *name, idn_slice val)
{
	struct lmdb_txn *t = txn_of(bt);
	char buf[STORE_META_NAME_MAX + 2];
	MDB_val k, v = {val.len, (void *)val.p};
	int rc = meta_key(name, buf, &k);

	if (rc != IDN_OK)
		return rc;
	if (!t->live || t->rdonly || (val.len && !val.p))
		return IDN_EINVAL;
	if (val.len > 4096)
		return IDN_ERANGE;
	t->wrote = true;
	return lmdb_err(mdb_put(t->txn, lmdb_of(bt->s)->meta, &k, &v, 0));
}

/* ---- transactions ---- */

/*
 * STORE_LAZY. LMDB 0.9 takes MDB_NOSYNC from the env only, so a lazy write
 * txn sets it there (it holds LMDB's writer lock) and clears it when it
 * ends; an env opened with no_sync keeps it. Meant for a process whose one
 * writer is a bulk load: another thread's write txn that begins between the
 * lazy commit's unlock and the clear would commit lazily too.
 */
static void lazy_set(struct lmdb_txn *t, bool on)
{
	MDB_env *env = lmdb_of(t->base.s)->env;
	unsigned ef = 0;
	if (!on && t->lazy)
		mdb_env_set_flags(env, MDB_NOSYNC, 0);
	t->lazy = false;
	/* opened with no_sync: nothing to set or clear */
	if (on && mdb_env_get_flags(env, &ef) == MDB_SUCCESS && !(ef & MDB_NOSYNC))
		t->lazy = mdb_env_set_flags(env, MDB_NOSYNC, 1) == MDB_SUCCESS;
}

static int lmdb_txn_begin(store *bs, unsigned flags, store_txn **out)
{
	struct lmdb_store *s = lmdb_of(bs);
	struct lmdb_txn *t;
	bool rdonly = flags & STORE_RDONLY;
	int rc;

	if (!out)
		return IDN_EINVAL;
	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return IDN_ENOMEM;
	t->base.s = bs;
	t->rdonly = rdonly;
	t->overflow = !rdonly && (flags & STORE_NOLOG);

	for (int tries = 0;; tries++) {
		if (!rdonly)
			maybe_grow(s);
		rc = gate_enter(s);
		if (rc != IDN_OK)
			goto fail;
		int mrc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &t->txn);
		if (mrc == MDB_SUCCESS)
			break;
		gate_leave(s);
		if (mrc == MDB_MAP_RESIZED && tries < MAP_RETRIES) {
			rc = adopt_map_size(s);
			if (rc != IDN_OK)
				goto fail;
			continue;
		}
		rc = lmdb_err(mrc);
		goto fail;
	}
	t->live = true;
	if (!rdonly && (flags & STORE_LAZY))
		lazy_set(t, true);
	*out = &t->base;
	return IDN_OK;
fail:
	free(t);
	return rc;
}

/*
 * A nested write txn shares its parent's `gate` hold and sees the parent's
 * log state; its own changes reach the parent only when it commits.
 */
static int lmdb_txn_nest(store_txn *bp, store_txn **out)
{
	struct lmdb_txn *p = txn_of(bp), *t;

	if (!out)
		return IDN_EINVAL;
	*out = NULL;
	if (!p->live || p->rdonly)
		return IDN_EINVAL;
	t = malloc(sizeof(*t));
	if (!t)
		return IDN_ENOMEM;
	*t = *p;
	t->parent = p;
	t->lazy = false; /* the parent's to clear */
	int mrc = mdb_txn_begin(lmdb_of(bp->s)->env, p->txn, 0, &t->txn);
	if (mrc != MDB_SUCCESS) {
		free(t);
		return lmdb_err(mrc);
	}
	*out = &t->base;
	return IDN_OK;
}

/* Commits a nested txn into its parent: not durable until the parent commits. */
static int nest_commit(struct lmdb_txn *t)
{
	struct lmdb_txn *p = t->parent;
	int mrc = mdb_txn_commit(t->txn);

	if (mrc == MDB_SUCCESS) {
		p->seq = t->seq;
		p->time_ms = t->time_ms;
		p->log_bytes = t->log_bytes;
		p->nchg = t->nchg;
		p->overflow = t->overflow;
		p->touched = t->touched;
		p->wrote = t->wrote;
	} else if (mrc == MDB_MAP_FULL) {
		atomic_store(&lmdb_of(t->base.s)->pressure, 1);
	}
	free(t);
	return lmdb_err(mrc);
}

static void txn_end(struct lmdb_txn *t)
{
	lazy_set(t, false);
	if (t->live && !t->parent)
		gate_leave(lmdb_of(t->base.s));
	free(t);
}

/*
 * The error of a failed commit. LMDB answers a short write, which is how a
 * file system that fills up mid-commit shows, with EIO ("short write,
 * filesystem full?"): when the data file's file system has almost no room
 * left, that EIO is the full disk it probably is, answered as such.
 */
static int commit_err(struct lmdb_store *s, int mrc)
{
	enum { NEARLY_FULL = 1 << 20 };
	mdb_filehandle_t fd;
	struct statvfs vs;

	if (mrc == MDB_MAP_FULL)
		atomic_store(&s->pressure, 1);
	if (mrc == EIO && mdb_env_get_fd(s->env, &fd) == MDB_SUCCESS && fstatvfs(fd, &vs) == 0 &&
	    (uint64_t)vs.f_bavail * vs.f_frsize < NEARLY_FULL)
		return IDN_EDISK_FULL;
	return lmdb_err(mrc);
}

/* One more in COMMITS (see there): this txn is ours. */
static int count_commit(struct lmdb_txn *t)
{
	uint64_t n;
	int mrc = meta_u64(t, COMMITS, 0, &n);
	return mrc == MDB_SUCCESS ? meta_put_u64(t, COMMITS, n + 1) : mrc;
}

/*
 * HANDLES_GEN for a txn that changed "handles": its id, or one more than
 * the last where that is not more (a copy made by mdb_copy -c restarts the
 * txn ids at 1 and keeps the meta: the ids of its first commits were
 * generations of the original, and one of them would name a view of other
 * records). Never the same twice in a file's history, copies included.
 */
static int gen_bump(struct lmdb_txn *t)
{
	uint64_t id = (uint64_t)mdb_txn_id(t->txn), last;
	int mrc = meta_u64(t, HANDLES_GEN, 0, &last);
	if (mrc != MDB_SUCCESS)
		return mrc;
	return meta_put_u64(t, HANDLES_GEN, id > last ? id : last + 1);
}

static int lmdb_txn_commit(store_txn *bt)
{
	struct lmdb_txn *t = txn_of(bt);
	struct lmdb_store *s = lmdb_of(bt->s);
	int rc = IDN_OK;

	if (t->parent)
		return nest_commit(t);
	if (t->rdonly) {
		/* Nothing to make durable; abort also frees a reset txn. */
		mdb_txn_abort(t->txn);
	} else {
		int mrc = t->seq ? log_finish(t) : MDB_SUCCESS;
		if (mrc == MDB_SUCCESS && t->touched)
			mrc = gen_bump(t);
		if (mrc == MDB_SUCCESS && (t->touched || t->wrote))
			mrc = count_commit(t);
		if (mrc != MDB_SUCCESS) {
			mdb_txn_abort(t->txn);
			txn_end(t);
			return commit_err(s, mrc);
		}
		mrc = mdb_txn_commit(t->txn);
		rc = mrc == MDB_SUCCESS ? IDN_OK : commit_err(s, mrc);
	}
	txn_end(t);
	return rc;
}

static void lmdb_txn_abort(store_txn *bt)
{
	struct lmdb_txn *t = txn_of(bt);

	if (!t)
		return;
	mdb_txn_abort(t->txn);
	txn_end(t);
}

static void lmdb_txn_reset(store_txn *bt)
{
	struct lmdb_txn *t = txn_of(bt);

	if (!t->rdonly || !t->live)
		return; /* a write txn has no snapshot to release */
	mdb_txn_reset(t->txn);
	t->live = false;
	gate_leave(lmdb_of(bt->s));
}

/*
 * The generation of the records t sees (store_gen): HANDLES_GEN, and the
 * txn id less COMMITS (the commits of writers that keep no HANDLES_GEN).
 */
static int records_gen(struct lmdb_txn *t, store_gen *g)
{
	uint64_t gen, ours;
	int mrc = meta_u64(t, HANDLES_GEN, 0, &gen);
	if (mrc == MDB_SUCCESS)
		mrc = meta_u64(t, COMMITS, 0, &ours);
	if (mrc == MDB_SUCCESS)
		*g = (store_gen){.changed = gen, .others = (uint64_t)mdb_txn_id(t->txn) - ours};
	return mrc;
}

/*
 * The store's lookup cache (lcache.h), one for all read txns, keeps
 * pointers into the map across reset and renew: lmdb_get answers a key
 * asked again, by any worker, from them without the B-tree descent. They
 * are tagged with the view they were read in: HANDLES_GEN (the last txn
 * that changed "handles"), the txn id less COMMITS (our own commits'
 * count: it moves only when another writer commits), and the map epoch;
 * a txn reads and writes only entries of its own view's tag (a tag names
 * one view for the cache's life), so entries of another view are misses
 * to it, whether older or newer: workers renew at different moments, and
 * one still in the last view neither sees the new view's entries nor
 * writes its own under the new tag (lcache_put keeps only the current
 * view's; lcache_tag gives a snapshot older than the current view tag 0).
 * Why a pointer read in snapshot S still holds the same bytes in another
 * snapshot S' of the same view, earlier or later, once S has ended:
 * - LMDB never writes a page reachable from a committed snapshot; a write
 *   txn copies what it changes (and the path up to the root) to pages from
 *   the freelist or the end of the file. A page is freed only by a txn that
 *   changes the tree holding it, and reused only by a later writer, once
 *   no reader holds a snapshot older than the txn that freed it (the
 *   freelist rule, mdb_find_oldest).
 * - HANDLES_GEN is the same in S and S', so no txn between them changed
 *   "handles" (every change goes through lmdb_put/lmdb_del, which mark the
 *   txn, and its commit bumps it: gen_bump): the tree of S is the tree of
 *   S', none of its pages was freed, so none was reused. Writes to the
 *   other DBs (statistics, the log) leave it alone; that is why the view is
 *   not the txn id, which the statistics' flush moves every few seconds.
 * - The txn id less COMMITS is the same in S and S', so every commit in
 *   (S, S'] was one of ours, which keep HANDLES_GEN: a writer that does not
 *   (an idnode from before it, raw LMDB) is seen by its commit alone. (The
 *   handles DB's root page cannot tell: three such commits in a row can
 *   bring it back to the page number it had, with other bytes in it.)
 * - While the txn is live its reader slot holds its snapshot, so nothing it
 *   reaches is reused until the reset.
 * - The map's address changes only by mdb_env_set_mapsize(), done here
 *   (maybe_grow, adopt_map_size) with `gate` held exclusively, so never
 *   while a txn is live, and each bumps map_epoch, read under the gate.
 * The view is read again only when the txn id or the epoch moved: a
 * renewal that saw no commit costs two compares.
 */
static void cache_view(struct lmdb_store *s, struct lmdb_txn *t)
{
	if (!s->cache)
		return;
	uint64_t id = (uint64_t)mdb_txn_id(t->txn), epoch = atomic_load(&s->map_epoch);
	if (id == t->cache_txnid && epoch == t->cache_epoch)
		return;
	store_gen g;
	if (records_gen(t, &g) != MDB_SUCCESS)
		g = (store_gen){.changed = id, .others = id}; /* cannot tell: this snapshot only */
	lcache_view v = {.gen = g.changed, .epoch = epoch, .others = g.others, .txnid = id};
	t->cache_tag = lcache_tag(s->cache, &v);
	t->cache_txnid = id;
	t->cache_epoch = epoch;
}

static int lmdb_txn_renew(store_txn *bt)
{
	struct lmdb_txn *t = txn_of(bt);
	struct lmdb_store *s = lmdb_of(bt->s);
	int rc;

	if (!t->rdonly)
		return IDN_EINVAL;
	if (t->live)
		lmdb_txn_reset(bt); /* "take a fresh snapshot" also from a live one */
	for (int tries = 0;; tries++) {
		rc = gate_enter(s);
		if (rc != IDN_OK)
			return rc;
		int mrc = mdb_txn_renew(t->txn);
		if (mrc == MDB_SUCCESS)
			break;
		/* A failed renew leaves the txn reset: renewable or abortable. */
		gate_leave(s);
		if (mrc == MDB_MAP_RESIZED && tries < MAP_RETRIES) {
			rc = adopt_map_size(s);
			if (rc != IDN_OK)
				return rc;
			continue;
		}
		return lmdb_err(mrc);
	}
	t->live = true;
	cache_view(s, t);
	return IDN_OK;
}

/* ---- records ---- */

static int lmdb_get(store_txn *bt, idn_slice key, idn_slice *val)
{
	struct lmdb_txn *t = txn_of(bt);
	lcache *c = lmdb_of(bt->s)->cache;
	uint8_t kbuf[LONG_KEY_LEN];
	idn_slice full, rec;
	MDB_val k, v;
	lcache_key ck;
	int rc = check_key(key);

	if (rc != IDN_OK)
		return rc;
	if (!t->live || !val)
		return IDN_EINVAL;
	if (t->cache_tag && lcache_get(c, t->cache_tag, key, val, &ck)) /* see cache_view */
		return val->p ? IDN_OK : IDN_ENOTFOUND;
	k = db_key(key, kbuf);
	rc = lmdb_err(mdb_get(t->txn, lmdb_of(bt->s)->handles, &k, &v));
	if (rc == IDN_ENOTFOUND && t->cache_tag)
		lcache_put(c, t->cache_tag, &ck, idn_slice_of(NULL, 0));
	if (rc != IDN_OK)
		return rc;
	rc = decode_entry(&k, &v, &full, &rec);
	if (rc != IDN_OK)
		return rc;
	if (!idn_slice_eq(full, key))
		return IDN_ENOTFOUND; /* another long key with the same head and hash */
	if (t->cache_tag)
		lcache_put(c, t->cache_tag, &ck, rec);
	*val = rec;
	return IDN_OK;
}

static uint64_t lmdb_prefetch(store *bs, idn_slice key, uint64_t hint)
{
	lcache *c = lmdb_of(bs)->cache;
	if (!c)
		return 0;
	if (hint) {
		lcache_prefetch_value(c, (size_t)hint);
		return 0;
	}
	return lcache_prefetch(c, key);
}

/*
 * Looks up the entry a long key would occupy: IDN_OK if it holds this very
 * key, IDN_ENOTFOUND if free, IDN_EMISMATCH if a different key (same head and
 * hash) is there, IDN_ESTORE if the entry is corrupt.
 */
static int long_key_probe(struct lmdb_txn *t, idn_slice key, MDB_val *k)
{
	idn_slice full, rec;
	MDB_val v;
	int rc = lmdb_err(mdb_get(t->txn, lmdb_of(t->base.s)->handles, k, &v));

	if (rc != IDN_OK)
		return rc;
	rc = decode_entry(k, &v, &full, &rec);
	if (rc != IDN_OK)
		return rc;
	return idn_slice_eq(full, key) ? IDN_OK : IDN_EMISMATCH;
}

static int lmdb_put(store_txn *bt, idn_slice key, idn_slice val, unsigned flags)
{
	struct lmdb_txn *t = txn_of(bt);
	struct lmdb_store *s = lmdb_of(bt->s);
	uint8_t kbuf[LONG_KEY_LEN];
	bool is_long = key.len > LONG_HEAD;
	size_t hdr = is_long ? LONG_HDR + key.len : 1;
	unsigned mflags = MDB_RESERVE;
	MDB_val k, v;
	int rc = check_key(key);

	if (rc != IDN_OK)
		return rc;
	if (!t->live || t->rdonly || (val.len && !val.p))
		return IDN_EINVAL;
	if (val.len > STORE_VAL_MAX)
		return IDN_ERANGE;
	k = db_key(key, kbuf);

	if (is_long) {
		/* The hash makes the LMDB key; only the value can say whose it is. */
		rc = long_key_probe(t, key, &k);
		if (rc == IDN_OK && (flags & STORE_NOOVERWRITE))
			return IDN_EEXIST;
		if (rc == IDN_EMISMATCH)
			return IDN_ESTORE; /* a SHA-256 collision: refuse, never overwrite */
		if (rc != IDN_OK && rc != IDN_ENOTFOUND)
			return rc;
	} else {
		if (flags & STORE_NOOVERWRITE)
			mflags |= MDB_NOOVERWRITE;
		if (flags & STORE_APPEND)
			mflags |= MDB_APPEND;
	}

	v.mv_size = hdr + val.len;
	t->touched = true;
	int mrc = mdb_put(t->txn, s->handles, &k, &v, mflags);
	if (mrc == MDB_KEYEXIST && (mflags & MDB_APPEND)) {
		/* APPEND is only a hint: a key out of order takes the normal path,
		 * which also gives the real answer for NOOVERWRITE. */
		v.mv_size = hdr + val.len;
		mrc = mdb_put(t->txn, s->handles, &k, &v, mflags & ~MDB_APPEND);
	}
	if (mrc == MDB_MAP_FULL)
		atomic_store(&s->pressure, 1);
	if (mrc != MDB_SUCCESS)
		return lmdb_err(mrc);

	uint8_t *p = v.mv_data;
	if (is_long) {
		p[0] = KIND_LONG;
		idn_put_be32(p + 1, key.len);
		memcpy(p + LONG_HDR, key.p, key.len);
	} else {
		p[0] = KIND_PLAIN;
	}
	if (val.len)
		memcpy(p + hdr, val.p, val.len);
	return log_append(t, STORE_LOG_PUT, key, val);
}

static int lmdb_del(store_txn *bt, idn_slice key)
{
	struct lmdb_txn *t = txn_of(bt);
	uint8_t kbuf[LONG_KEY_LEN];
	MDB_val k;
	int rc = check_key(key);

	if (rc != IDN_OK)
		return rc;
	if (!t->live || t->rdonly)
		return IDN_EINVAL;
	k = db_key(key, kbuf);
	if (key.len > LONG_HEAD) {
		rc = long_key_probe(t, key, &k);
		if (rc == IDN_EMISMATCH)
			return IDN_ENOTFOUND; /* a different key lives there */
		if (rc != IDN_OK)
			return rc;
	}
	t->touched = true;
	rc = lmdb_err(mdb_del(t->txn, lmdb_of(bt->s)->handles, &k, NULL));
	return rc == IDN_OK ? log_append(t, STORE_LOG_DEL, key, idn_slice_of(NULL, 0)) : rc;
}

static bool has_prefix(idn_slice s, idn_slice prefix)
{
	return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.p, prefix.p, prefix.len) == 0);
}

/* A long entry's hash must match its full key, or the entry is corrupt. */
static bool long_entry_ok(const MDB_val *k, idn_slice full)
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	if (full.len <= LONG_HEAD)
		return true;
	SHA256(full.p, full.len, md);
	return memcmp(md, (const uint8_t *)k->mv_data + LONG_HEAD, sizeof(md)) == 0;
}

/* Bytewise order, a key before its extensions (store.h's scan order). */
static int key_order(idn_slice a, idn_slice b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	return c ? c : (a.len > b.len) - (a.len < b.len);
}

struct group_ent {
	uint8_t *key, *rec; /* one allocation: key then record */
	size_t klen, rlen;
};

static int group_cmp(const void *a, const void *b)
{
	const struct group_ent *x = a, *y = b;
	return key_order(idn_slice_of(x->key, x->klen), idn_slice_of(y->key, y->klen));
}

/*
 * The long keys sharing the head the cursor is on are stored in hash order:
 * reads them all (copies: a callback may write to the transaction), then
 * visits them in key order. Leaves the cursor on the entry after the group
 * (*mrc its status).
 */
static int scan_long_group(MDB_cursor *cur, MDB_val *k, MDB_val *v, idn_slice prefix,
                           idn_slice start, store_scan_cb cb, void *arg, int *mrc)
{
	uint8_t head[LONG_HEAD];
	struct group_ent *g = NULL;
	size_t n = 0, cap = 0;
	idn_slice full, rec;
	int rc = IDN_OK;

	memcpy(head, k->mv_data, LONG_HEAD);
	do {
		if ((rc = decode_entry(k, v, &full, &rec)) != IDN_OK)
			goto out;
		if (!long_entry_ok(k, full)) {
			rc = IDN_ESTORE;
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct group_ent *ng = realloc(g, ncap * sizeof(*g));
			if (!ng) {
				rc = IDN_ENOMEM;
				goto out;
			}
			g = ng;
			cap = ncap;
		}
		uint8_t *b = malloc(full.len + rec.len + 1);
		if (!b) {
			rc = IDN_ENOMEM;
			goto out;
		}
		memcpy(b, full.p, full.len);
		if (rec.len)
			memcpy(b + full.len, rec.p, rec.len);
		g[n++] = (struct group_ent){b, b + full.len, full.len, rec.len};
		*mrc = mdb_cursor_get(cur, k, v, MDB_NEXT);
	} while (*mrc == MDB_SUCCESS && k->mv_size == LONG_KEY_LEN &&
	         memcmp(k->mv_data, head, LONG_HEAD) == 0);
	qsort(g, n, sizeof(*g), group_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		full = idn_slice_of(g[i].key, g[i].klen);
		if (has_prefix(full, prefix) && (!start.len || key_order(full, start) >= 0))
			rc = cb(arg, full, idn_slice_of(g[i].rec, g[i].rlen));
	}
out:
	for (size_t i = 0; i < n; i++)
		free(g[i].key);
	free(g);
	return rc;
}

static int lmdb_scan_from(store_txn *bt, idn_slice prefix, idn_slice start, store_scan_cb cb,
                          void *arg)
{
	struct lmdb_txn *t = txn_of(bt);
	MDB_cursor *cur = NULL;
	idn_slice full, rec;
	MDB_val k, v;
	int rc, mrc;

	if (!t->live || !cb || (prefix.len && !prefix.p) || (start.len && !start.p))
		return IDN_EINVAL;
	if (prefix.len > STORE_KEY_MAX || start.len > STORE_KEY_MAX)
		return IDN_ERANGE;
	/* Long keys are stored under their head: seek and bound by the head of
	 * the prefix, then filter on the full key. */
	idn_slice head = idn_slice_of(prefix.p, prefix.len > LONG_HEAD ? LONG_HEAD : prefix.len);
	/* Seek to the later of the prefix and the start (a start inside a group
	 * of long keys: the group's first entry; the group filters on it). */
	idn_slice seek = head;
	if (start.len) {
		idn_slice sh = idn_slice_of(start.p, start.len > LONG_HEAD ? LONG_HEAD : start.len);
		if (key_order(sh, seek) > 0)
			seek = sh;
	}

	mrc = mdb_cursor_open(t->txn, lmdb_of(bt->s)->handles, &cur);
	if (mrc != MDB_SUCCESS)
		return lmdb_err(mrc);
	k = (MDB_val){seek.len, (void *)seek.p};
	mrc = mdb_cursor_get(cur, &k, &v, seek.len ? MDB_SET_RANGE : MDB_FIRST);
	while (mrc == MDB_SUCCESS) {
		if (!has_prefix(idn_slice_of(k.mv_data, k.mv_size), head))
			break;
		if (k.mv_size == LONG_KEY_LEN) {
			/* only long entries have keys this long (plain ones are <= LONG_HEAD) */
			rc = scan_long_group(cur, &k, &v, prefix, start, cb, arg, &mrc);
			if (rc != 0)
				goto out;
			continue;
		}
		rc = decode_entry(&k, &v, &full, &rec);
		if (rc != IDN_OK)
			goto out;
		if (has_prefix(full, prefix) && (!start.len || key_order(full, start) >= 0)) {
			rc = cb(arg, full, rec);
			if (rc != 0)
				goto out;
		}
		mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	rc = mrc == MDB_NOTFOUND || mrc == MDB_SUCCESS ? IDN_OK : lmdb_err(mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

static int lmdb_scan(store_txn *bt, idn_slice prefix, store_scan_cb cb, void *arg)
{
	return lmdb_scan_from(bt, prefix, idn_slice_of(NULL, 0), cb, arg);
}

/* ---- homed prefixes ---- */

static int homed_key(struct lmdb_txn *t, idn_slice prefix, MDB_val *k)
{
	if (!t->live || prefix.len == 0 || !prefix.p)
		return IDN_EINVAL;
	if (prefix.len > lmdb_of(t->base.s)->homed_key_max)
		return IDN_ERANGE;
	*k = (MDB_val){prefix.len, (void *)prefix.p};
	return IDN_OK;
}

static int lmdb_home(store_txn *bt, idn_slice prefix)
{
	struct lmdb_txn *t = txn_of(bt);
	MDB_val k, v = {0, NULL};
	int rc = homed_key(t, prefix, &k);

	if (rc != IDN_OK)
		return rc;
	if (t->rdonly)
		return IDN_EINVAL;
	t->wrote = true;
	int mrc = mdb_put(t->txn, lmdb_of(bt->s)->homed, &k, &v, 0);
	if (mrc == MDB_MAP_FULL)
		atomic_store(&lmdb_of(bt->s)->pressure, 1);
	rc = lmdb_err(mrc);
	return rc == IDN_OK ? log_append(t, STORE_LOG_HOME, prefix, idn_slice_of(NULL, 0)) : rc;
}

static int lmdb_unhome(store_txn *bt, idn_slice prefix)
{
	struct lmdb_txn *t = txn_of(bt);
	MDB_val k;
	int rc = homed_key(t, prefix, &k);

	if (rc != IDN_OK)
		return rc;
	if (t->rdonly)
		return IDN_EINVAL;
	t->wrote = true;
	rc = lmdb_err(mdb_del(t->txn, lmdb_of(bt->s)->homed, &k, NULL));
	return rc == IDN_OK ? log_append(t, STORE_LOG_UNHOME, prefix, idn_slice_of(NULL, 0)) : rc;
}

static int lmdb_is_homed(store_txn *bt, idn_slice prefix)
{
	struct lmdb_txn *t = txn_of(bt);
	MDB_val k, v;
	int rc = homed_key(t, prefix, &k);

	if (rc != IDN_OK)
		return rc;
	rc = lmdb_err(mdb_get(t->txn, lmdb_of(bt->s)->homed, &k, &v));
	if (rc == IDN_ENOTFOUND)
		return 0;
	return rc == IDN_OK ? 1 : rc;
}

/* LMDB's snapshot is the last committed write txn: its id, plus one (0 is "cannot say"). */
static uint64_t lmdb_snapshot_id(store_txn *bt)
{
	struct lmdb_txn *t = txn_of(bt);

	return t->rdonly && t->live ? (uint64_t)mdb_txn_id(t->txn) + 1 : 0;
}

/* store_handles_gen: the generation cache_view tags the lookup cache's entries with. */
static int lmdb_handles_gen(store_txn *bt, store_gen *out)
{
	struct lmdb_txn *t = txn_of(bt);
	if (!t->rdonly || !t->live || !out)
		return IDN_EINVAL;
	return lmdb_err(records_gen(t, out));
}

static int lmdb_list_homed(store_txn *bt, store_scan_cb cb, void *arg)
{
	struct lmdb_txn *t = txn_of(bt);
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc, mrc;

	if (!t->live || !cb)
		return IDN_EINVAL;
	mrc = mdb_cursor_open(t->txn, lmdb_of(bt->s)->homed, &cur);
	if (mrc != MDB_SUCCESS)
		return lmdb_err(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rc =
		    cb(arg, idn_slice_of(k.mv_data, k.mv_size), idn_slice_of(v.mv_data, v.mv_size));
		if (rc != 0)
			goto out;
	}
	rc = mrc == MDB_NOTFOUND ? IDN_OK : lmdb_err(mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

static int lmdb_count(store_txn *bt, uint64_t *n)
{
	struct lmdb_txn *t = txn_of(bt);
	MDB_stat st;

	if (!t->live || !n)
		return IDN_EINVAL;
	int mrc = mdb_stat(t->txn, lmdb_of(bt->s)->handles, &st);
	if (mrc != MDB_SUCCESS)
		return lmdb_err(mrc);
	*n = st.ms_entries;
	return IDN_OK;
}

/* ---- tables ---- */

static int lmdb_tab_get(store_txn *bt, unsigned tab, idn_slice key, idn_slice *val)
{
	struct lmdb_txn *t = txn_of(bt);
	uint8_t kb[STORE_TAB_KEY_MAX + 1];
	idn_slice tk;
	int rc = store_tab_key(tab, key, kb, &tk);

	if (rc != IDN_OK)
		return rc;
	if (!t->live || !val)
		return IDN_EINVAL;
	MDB_val k = {tk.len, (void *)tk.p}, v;
	rc = lmdb_err(mdb_get(t->txn, lmdb_of(bt->s)->tabs, &k, &v));
	if (rc == IDN_OK)
		*val = idn_slice_of(v.mv_data, v.mv_size);
	return rc;
}

static int lmdb_tab_put(store_txn *bt, unsigned tab, idn_slice key, idn_slice val, unsigned flags)
{
	struct lmdb_txn *t = txn_of(bt);
	struct lmdb_store *s = lmdb_of(bt->s);
	uint8_t kb[STORE_TAB_KEY_MAX + 1];
	idn_slice tk;
	int rc = store_tab_key(tab, key, kb, &tk);

	if (rc != IDN_OK)
		return rc;
	if (!t->live || t->rdonly || (val.len && !val.p))
		return IDN_EINVAL;
	if (val.len > STORE_TAB_VAL_MAX)
		return IDN_ERANGE;
	MDB_val k = {tk.len, (void *)tk.p}, v = {val.len, (void *)val.p};
	unsigned mflags = (flags & STORE_NOOVERWRITE) ? MDB_NOOVERWRITE : 0;
	t->wrote = true;
	int mrc =
	    mdb_put(t->txn, s->tabs, &k, &v, mflags | ((flags & STORE_APPEND) ? MDB_APPEND : 0));
	if (mrc == MDB_KEYEXIST && (flags & STORE_APPEND))
		mrc = mdb_put(t->txn, s->tabs, &k, &v, mflags); /* a hint, as for records */
	if (mrc == MDB_MAP_FULL)
		atomic_store(&s->pressure, 1);
	rc = lmdb_err(mrc);
	if (rc != IDN_OK || !store_tab_logged(tab))
		return rc;
	return log_append(t, STORE_LOG_TAB_PUT, tk, val);
}

static int lmdb_tab_del(store_txn *bt, unsigned tab, idn_slice key)
{
	struct lmdb_txn *t = txn_of(bt);
	uint8_t kb[STORE_TAB_KEY_MAX + 1];
	idn_slice tk;
	int rc = store_tab_key(tab, key, kb, &tk);

	if (rc != IDN_OK)
		return rc;
	if (!t->live || t->rdonly)
		return IDN_EINVAL;
	MDB_val k = {tk.len, (void *)tk.p};
	t->wrote = true;
	rc = lmdb_err(mdb_del(t->txn, lmdb_of(bt->s)->tabs, &k, NULL));
	if (rc != IDN_OK || !store_tab_logged(tab))
		return rc;
	return log_append(t, STORE_LOG_TAB_DEL, tk, idn_slice_of(NULL, 0));
}

static int lmdb_tab_scan(store_txn *bt, unsigned tab, idn_slice prefix, idn_slice start,
                         store_scan_cb cb, void *arg)
{
	struct lmdb_txn *t = txn_of(bt);
	uint8_t pb[STORE_TAB_KEY_MAX + 1], sb[STORE_TAB_KEY_MAX + 1];
	idn_slice tp, ts;
	MDB_cursor *cur = NULL;
	int rc = store_tab_key(tab, prefix, pb, &tp);

	if (rc == IDN_OK)
		rc = store_tab_key(tab, start, sb, &ts);
	if (rc != IDN_OK)
		return rc;
	if (!t->live || !cb)
		return IDN_EINVAL;
	idn_slice seek = key_order(ts, tp) > 0 ? ts : tp;
	int mrc = mdb_cursor_open(t->txn, lmdb_of(bt->s)->tabs, &cur);
	if (mrc != MDB_SUCCESS)
		return lmdb_err(mrc);
	MDB_val k = {seek.len, (void *)seek.p}, v;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == MDB_SUCCESS;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		idn_slice key = idn_slice_of(k.mv_data, k.mv_size);
		if (!has_prefix(key, tp))
			break;
		rc = cb(arg, idn_slice_of(key.p + 1, key.len - 1),
		        idn_slice_of(v.mv_data, v.mv_size));
		if (rc != 0)
			goto out;
	}
	rc = mrc == MDB_NOTFOUND || mrc == MDB_SUCCESS ? IDN_OK : lmdb_err(mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

const struct store_ops store_lmdb_ops = {
    .name = "lmdb",
    .caps = STORE_CAP_LAZY | STORE_CAP_READ_AMID_PUTS,
    .open = lmdb_open,
    .close = lmdb_close,
    .txn_begin = lmdb_txn_begin,
    .txn_commit = lmdb_txn_commit,
    .txn_abort = lmdb_txn_abort,
    .txn_reset = lmdb_txn_reset,
    .txn_renew = lmdb_txn_renew,
    .get = lmdb_get,
    .prefetch = lmdb_prefetch,
    .put = lmdb_put,
    .del = lmdb_del,
    .scan = lmdb_scan,
    .home = lmdb_home,
    .unhome = lmdb_unhome,
    .is_homed = lmdb_is_homed,
    .list_homed = lmdb_list_homed,
    .count = lmdb_count,
    .log_state = lmdb_log_state,
    .log_read = lmdb_log_read,
    .meta_get = lmdb_meta_get,
    .meta_put = lmdb_meta_put,
    .scan_from = lmdb_scan_from,
    .txn_nest = lmdb_txn_nest,
    .snapshot_id = lmdb_snapshot_id,
    .tab_get = lmdb_tab_get,
    .tab_put = lmdb_tab_put,
    .tab_del = lmdb_tab_del,
    .tab_scan = lmdb_tab_scan,
    .handles_gen = lmdb_handles_gen,
};
