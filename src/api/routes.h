/*
 * routes.h - the routes of src/api: what answers each path (rest = the path
 * after the route's prefix). Called by the route table (api_routes.c) only;
 * the routes call the helpers of reply.h, never each other. Not for use
 * outside src/api.
 */
#ifndef IDN_API_ROUTES_H
#define IDN_API_ROUTES_H

#include "api/reply.h"

/* Sessions and writes (api_write.c), batches (api_batch.c), the OpenAPI document (api_openapi.c).
 */
int api_post_session(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_session_this(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_put_handle(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_delete_handle(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_list_handles(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_post_batch(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_get_openapi(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/* GET, PUT and DELETE /api/quotas/{kind}/{key} (api_quota.c). */
int api_quota(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);

/* Search (api_search.c): GET /api/search, GET /hrls/handles[/PREFIX], GET /hrls/ping. */
int api_search(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_hrls_handles(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_hrls_ping(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/* Statistics (api_stats.c): GET /api/stats, GET /metrics. */
int api_get_stats(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/* POST /api/stats/report: a child node's signed statistics (node/stats_report.h). */
int api_post_stats_report(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_get_metrics(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
/*
 * The console (docs/console.md): its files and GET /api/console/me (api_console.c),
 * GET /api/console/health (api_stats.c).
 */
int api_console(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_console_me(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_console_health(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);

/* QR labels (api_labels.c): GET /api/labels/{handle}.svg|.png, POST /api/labels. */
int api_get_label(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_post_labels(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);

/*
 * The GS1-conformant resolver (api_gs1.c), on a node with --gs1-registry:
 * whether req is for it (/.well-known/gs1resolver, a path whose first
 * segment is a GS1 primary key AI, or one segment that is a compressed GS1
 * Digital Link URI), and its answer (GET, HEAD, OPTIONS).
 */
bool api_gs1_wants(const api *a, const http_req *req);
int api_gs1(api_worker *w, const http_req *req, http_resp *r);

/* The embedded OpenAPI document (static). */
idn_slice api_openapi_json(void);

/*
 * The route table, for the OpenAPI check: route i's method and path (a
 * prefix when *prefix); 0 past the end. Besides the table, POST with
 * application/x-hdl-message (any path) and GET /{handle} (the proxy).
 */
int api_route_at(size_t i, const char **method, const char **path, bool *prefix);

/* The proxy: GET /{handle} (redirect or record page). handle is decoded. */
int api_proxy(api_worker *w, const http_req *req, idn_slice handle, http_resp *resp);

/*
 * The proxy's pages for people (api_render.c), callable from a test with an
 * api_answer made by hand: the record page and the error pages. Every value
 * is escaped; only http(s) URLs, and mailto: links made from checked e-mail
 * addresses, become links.
 */

/* An absolute http(s) URL with a host, no control byte, space or DEL, < 2048 bytes. */
bool api_is_http_url(idn_slice d);

/* What the record page shows besides the record's values (gathered by api_page.c). */
typedef struct api_page_extra {
	json_t *tdef;          /* the record's template definition (checked), NULL if none; owned */
	char tname[256];       /* the template's name for people, else its identifier */
	char enterprise[256];  /* the desc of 0.NA/<prefix>'s HS_SITE, else the prefix */
	char industry[256];    /* the same for the prefix's parent (88.100.1 -> 88.100) */
	bool enterprise_named; /* enterprise is a site's desc, not the prefix */
	bool industry_named;
	const char *url; /* the redirect target chosen (any scheme), NULL if none */
	idn_slice
	    alias_target;    /* when handle is an HS_ALIAS: the identifier whose record this is */
	const char *qr_base; /* the labels' first --label-base, NULL: from Host as labels do */
} api_page_extra;

/* Sets x->tdef from a TEMPLATE.DEF's data: 0, or IDN_EINVAL if it is not a valid template. */
int api_page_template(api_page_extra *x, idn_slice def, idn_slice tmpl_handle);
/* Fills x->enterprise and x->industry with the prefixes of handle (no names). */
void api_page_prefixes(api_page_extra *x, idn_slice handle);
void api_page_extra_free(api_page_extra *x);

/* The record page (200) of handle's successful answer (ans->src says where it came from). */
void api_page_record(http_resp *r, const http_req *req, idn_slice handle, const api_answer *ans,
                     const api_page_extra *x);
/*
 * The page for an answer that is not a record: the node holding the
 * identifier is down (ans->src.down: 504), not found (404), an invalid
 * identifier (400), any other code (its HTTP status, 502 if that is 200).
 */
void api_page_error(http_resp *r, idn_slice handle, const api_answer *ans);
/* 302 to url (already checked), with a one-link page. */
void api_page_redirect(http_resp *r, idn_slice url);
/* A page with a title and text (HTML, static), e.g. the index page or an alias loop. */
void api_page_message(http_resp *r, int status, const char *title, idn_slice handle,
                      const char *text);
/* 400: the path is not an identifier (bad %-escape, too long, invalid UTF-8, a NUL, ...). */
void api_page_invalid(http_resp *r, idn_slice raw, const char *why);

#endif
