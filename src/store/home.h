/*
 * home.h - homing a list of prefixes as people write them ("88.100" or
 * "0.NA/88.100"), in one write transaction: what `idnode serve --home` and
 * `idnode load --home` do before anything else.
 */
#ifndef IDN_STORE_HOME_H
#define IDN_STORE_HOME_H

#include <stddef.h>

#include "store/store.h"

/*
 * Homes every prefix, normalized (handle_prefix_norm), all or none. Returns
 * 0; IDN_EINVAL when an entry is not a prefix (*bad = that entry, borrowed
 * from prefixes); or the store's error.
 */
int store_home_prefixes(store *s, const char *const *prefixes, size_t n, const char **bad);

#endif
