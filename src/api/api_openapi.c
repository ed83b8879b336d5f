/*
 * api_openapi.c - GET /api/openapi.json: the OpenAPI 3 document of what the
 * server does, kept as src/api/openapi.json and embedded at build time (a
 * unit test checks it against the route table both ways).
 */
#include "api/routes.h"
#include "openapi_json.h"

idn_slice api_openapi_json(void)
{
	return idn_slice_of(openapi_json_bytes, sizeof(openapi_json_bytes) - 1);
}

int api_get_openapi(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)w;
	(void)req;
	(void)rest;
	idn_slice doc = api_openapi_json();
	http_resp_append(r, doc.p, doc.len);
	return 0;
}
