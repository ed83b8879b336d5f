/*
 * api_search.h - search over HTTP (api_search.c): GET /api/search, Handle.Net's
 * reverse lookup GET /hrls/handles, and the calls another route (the
 * management API) makes to run a search as a caller it has authenticated.
 *
 *   search_query q;
 *   search_query_init(&q);
 *   search_add_term(&q, IDN_SLICE("URL=http://example.org/a"), why);  // or
 *   search_add_pair(&q, type, value, why); search_set_prefix(&q, prefix, why);
 *   q.limit = 50; api_search_cursor_set(&q, cursor_text);   // 0, or 400 written by you
 *   search_page pg;
 *   if (api_search_run(w, who_handle, who_index, &q, my_hit, my_arg, &pg, r))
 *       return 0;  // the error answer is in r
 *   ... pg.more, api_search_cursor(&pg, text) for the next page
 *
 * node/search.h describes terms, permissions and paging.
 */
#ifndef IDN_API_API_SEARCH_H
#define IDN_API_API_SEARCH_H

#include "api/reply.h"
#include "node/search.h"

/* a cursor's text: hex of a 16-byte tag and the sealed identifier (api_search.c) */
enum { API_SEARCH_CURSOR_MAX = 2 * (16 + INDEX_ID_MAX) + 1 };

/*
 * Runs q as the identity id_handle:id_index (empty handle: anonymous), each
 * identifier found given to hit. 0 on success; else -1 with the error answer
 * written to r (503 index stale, 501 index off or no store, 400 too broad,
 * 500 storage error), as {"responseCode":..,"message":..}.
 */
int api_search_run(api_worker *w, idn_slice id_handle, uint32_t id_index, const search_query *q,
                   search_hit_fn hit, void *arg, search_page *pg, http_resp *r);

/* A hit callback writing each identifier as a JSON string, comma-separated, into r. */
typedef struct api_search_hits {
	http_resp *r;
	size_t n; /* identifiers written */
} api_search_hits;
int api_search_hit_json(void *arg, idn_slice id);

/*
 * The cursor of the page after pg as text (hex), into out (API_SEARCH_CURSOR_MAX):
 * sealed, so it names no identifier; valid while this process runs.
 */
void api_search_cursor(const search_page *pg, char *out);
/* Sets q's cursor from its text: IDN_OK, or IDN_EINVAL when it is not one. */
int api_search_cursor_set(search_query *q, idn_slice text);

#endif
