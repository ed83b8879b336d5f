/*
 * api_console.c - GET /console: the operator's web console (docs/console.md),
 * static HTML, CSS and JavaScript from src/api/console/, embedded at build
 * time (console_assets.h, made by CMake), so the node serves it offline
 * with nothing fetched from elsewhere. The pages log in with
 * POST /identity/token and read /api/stats, /api/search and
 * /api/console/health (api_stats.c) with the bearer token.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_account.h"
#include "api/routes.h"
#include "console_assets.h"

static const struct asset {
	const char *name; /* the path after /console/ ("" is the page) */
	const char *type;
	const unsigned char *bytes;
	size_t len;
} assets[] = {
    {"", "text/html; charset=utf-8", console_index_html, sizeof(console_index_html) - 1},
    {"console.css", "text/css; charset=utf-8", console_console_css,
     sizeof(console_console_css) - 1},
    {"console.js", "text/javascript; charset=utf-8", console_console_js,
     sizeof(console_console_js) - 1},
};

int api_console(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)w;
	(void)req;
	if (rest.len == 0 && req->path.len == 8) { /* "/console": the page is /console/ */
		r->status = 301;
		snprintf(r->location, sizeof(r->location), "/console/");
		http_resp_puts(r, "/console/\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
		const struct asset *a = &assets[i];
		if (rest.len != strlen(a->name) || memcmp(rest.p, a->name, rest.len))
			continue;
		r->status = 200;
		r->content_type = a->type;
		r->extra_headers =
		    "Cache-Control: no-cache\r\n"
		    "X-Content-Type-Options: nosniff\r\n"
		    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
		    "frame-ancestors 'none'\r\n";
		http_resp_append(r, a->bytes, a->len);
		return 0;
	}
	http_resp_error(r, 404, PROTO_RC_HANDLE_NOT_FOUND,
	                "no such console file: the console is /console/");
	return 0;
}

/* GET /api/console/me: who the bearer token is (the pages choose what to show by it). */
int api_console_me(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	api_caller c;
	if (!api_snms_auth(w, req, r, &c))
		return 0;
	r->status = 200;
	r->content_type = "application/json";
	http_resp_puts(r, "{\"name\":");
	api_json_str(r, idn_slice_of(c.acct.name, strlen(c.acct.name)));
	char id[sizeof(c.acct.id_handle) + 16];
	int n = snprintf(id, sizeof(id), "%u:%s", c.acct.id_index, c.acct.id_handle);
	http_resp_printf(r, ",\"role\":%d,\"identity\":", (int)c.acct.role);
	api_json_str(r, idn_slice_of(id, n > 0 && (size_t)n < sizeof(id) ? (size_t)n : 0));
	http_resp_puts(r, ",\"prefixes\":[");
	for (unsigned i = 0; i < c.acct.nprefixes; i++) {
		if (i)
			http_resp_puts(r, ",");
		api_json_str(r, idn_slice_of(c.acct.prefixes[i], strlen(c.acct.prefixes[i])));
	}
	http_resp_puts(r, "]}");
	return 0;
}
