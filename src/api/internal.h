/*
 * internal.h - what the files of src/api share: JSON and HTML writers over an
 * http_resp, and the resolution helper. Not for use outside src/api.
 */
#ifndef IDN_API_INTERNAL_H
#define IDN_API_INTERNAL_H

#include "api/api.h"
#include "proto/proto.h"

/* A JSON string (quotes included); invalid UTF-8 bytes become U+FFFD. */
void api_json_str(http_resp *r, idn_slice s);
/* One value in the reference REST shape:
 * {"index":..,"type":..,"data":{..},"ttl":..,"timestamp":..}. */
void api_json_value(http_resp *r, const proto_value *v);
/* A decoded HS_SITE as the reference's "site" format. */
void api_json_site(http_resp *r, idn_slice data);
/* Text for HTML (element content and quoted attributes): & < > " ' escaped. */
void api_html(http_resp *r, idn_slice s);
/* Base64 of data into r (no quotes). */
void api_base64(http_resp *r, idn_slice data);

/*
 * A resolution's outcome. values is a raw value[] (nvalues entries) borrowed
 * from the worker's answer buffer: valid until its next resolution.
 */
typedef struct api_answer {
	uint32_t rc;
	uint32_t nvalues;
	idn_slice values;
	idn_slice message; /* error text from the node, may be empty */
} api_answer;

typedef struct api_worker api_worker;

/* Resolves handle (optionally filtered) through node_handle(). */
int api_resolve(api_worker *w, idn_slice handle, const uint32_t *idx, uint32_t nidx,
                const idn_slice *types, uint32_t ntypes, bool public_only, api_answer *ans);

/* The proxy: GET /{handle} (redirect or record page). handle is decoded. */
int api_proxy(api_worker *w, const http_req *req, idn_slice handle, http_resp *resp);

/* Percent-decoding ('+' as space when form is set); returns the length or -1 if malformed. */
int api_pct_decode(idn_slice in, bool form, uint8_t *out, size_t cap);

/* 1 if the query has parameter name (with or without a value). */
int api_query_has(idn_slice query, const char *name);

#endif
