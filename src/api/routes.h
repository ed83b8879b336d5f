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

/* QR labels (api_labels.c): GET /api/labels/{handle}.svg|.png, POST /api/labels. */
int api_get_label(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);
int api_post_labels(api_worker *w, const http_req *req, idn_slice rest, http_resp *r);

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

#endif
