/* home.c - homing a list of prefixes in one transaction (store/home.h). */
#include <string.h>

#include "proto/handle.h"
#include "store/home.h"

int store_home_prefixes(store *s, const char *const *prefixes, size_t n, const char **bad)
{
	store_txn *t;
	int rc;
	if (n == 0)
		return IDN_OK;
	if ((rc = store_txn_begin(s, 0, &t)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		idn_slice p = idn_slice_of(prefixes[i], strlen(prefixes[i])), na;
		uint8_t norm[HANDLE_KEY_MAX];
		if (handle_na_prefix(p, &na) == IDN_OK) /* "0.NA/88.100" means "88.100" */
			p = na;
		int len = handle_prefix_norm(p, norm, sizeof(norm));
		if (len <= 0 || memchr(p.p, '/', p.len)) {
			*bad = prefixes[i];
			store_txn_abort(t);
			return IDN_EINVAL;
		}
		if ((rc = store_home(t, idn_slice_of(norm, (size_t)len)))) {
			store_txn_abort(t);
			return rc;
		}
	}
	return store_txn_commit(t);
}
