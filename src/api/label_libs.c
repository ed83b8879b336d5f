/*
 * label_libs.c - loading the libraries of QR labels on first use
 * (label_libs.h).
 */
#define IDN_LABEL_LIBS_IMPL
#include "api/label_libs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

struct idn_label_libs idn_lbl;

enum {
#define IDN_LABEL_TAG(tag, so, pkg) LIB_##tag,
	IDN_LABEL_LIBS(IDN_LABEL_TAG)
#undef IDN_LABEL_TAG
	    LIB_COUNT
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_err[256];

static void load(void)
{
	static const struct {
		const char *so, *pkg;
	} libs[LIB_COUNT] = {
#define IDN_LABEL_LIB(tag, s, p) [LIB_##tag] = {s, p},
	    IDN_LABEL_LIBS(IDN_LABEL_LIB)
#undef IDN_LABEL_LIB
	};
	void *h[LIB_COUNT];
	for (int i = 0; i < LIB_COUNT; i++) {
		/* The sonames the runtime packages install; the .so links come with -dev only. */
		if (!(h[i] = dlopen(libs[i].so, RTLD_NOW | RTLD_LOCAL))) {
			snprintf(load_err, sizeof(load_err),
			         "QR labels need %s (Debian: apt-get install %s): %s", libs[i].so,
			         libs[i].pkg, dlerror());
			return;
		}
	}
#define IDN_LABEL_SYM(lib, f)                                                                      \
	if (!(*(void **)&idn_lbl.f = dlsym(h[LIB_##lib], #f))) {                                   \
		snprintf(load_err, sizeof(load_err), "%s has no %s: too old", libs[LIB_##lib].so,  \
		         #f);                                                                      \
		return;                                                                            \
	}
	IDN_LABEL_FUNCS(IDN_LABEL_SYM)
#undef IDN_LABEL_SYM
	loaded = true; /* they stay loaded for the life of the process */
}

const char *label_libs_load(void)
{
	pthread_once(&once, load);
	return loaded ? NULL : load_err;
}

bool label_libs_loaded(void)
{
	return loaded;
}
