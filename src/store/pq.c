/*
 * pq.c - loading libpq on first use (pq.h).
 */
#define IDN_PQ_IMPL
#include "store/pq.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "core/err.h"

struct idn_pq idn_pq;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_err[256];

static void load(void)
{
	/* The soname Debian's libpq5 installs; libpq.so itself comes with -dev only. */
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(load_err, sizeof(load_err),
		         "PostgreSQL support needs libpq (Debian: apt-get install libpq5): %s",
		         dlerror());
		load_rc = IDN_ENOTSUP;
		return;
	}
#define IDN_PQ_SYM(f)                                                                              \
	if (!(*(void **)&idn_pq.f = dlsym(h, #f))) {                                               \
		snprintf(load_err, sizeof(load_err), "libpq.so.5 has no %s: too old", #f);         \
		load_rc = IDN_ENOTSUP;                                                             \
		return;                                                                            \
	}
	IDN_PQ_FUNCS(IDN_PQ_SYM)
#undef IDN_PQ_SYM
	load_rc = IDN_OK; /* the library stays loaded for the life of the process */
}

int idn_pq_load(char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (load_rc && err && errlen)
		snprintf(err, errlen, "%s", load_err);
	return load_rc;
}
