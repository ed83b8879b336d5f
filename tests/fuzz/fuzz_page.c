/*
 * fuzz_page.c - any bytes through the proxy's pages for people
 * (src/api/api_render.c). The input is split at NUL bytes: the first piece
 * is the identifier, then (type, data) pairs become the record's values
 * (indexes 1.. for the first three, 2000.. after, and the TEMPLATE reference
 * at 1001 when a type is "T"), rendered with a fixed template whose fields
 * are date, file, url and string typed; the first byte also picks the
 * answer's source (stale, another node) and an error page's response code.
 *
 * Nothing may crash or read out of bounds, and the escaping must hold: the
 * marker tag "<x-" (never in the page's own markup) must not come through
 * from a value, and every link must be http(s), mailto: or a path on this
 * gateway.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/routes.h"

static const char tdef[] = "{\"name\":\"F\",\"fields\":["
                           "{\"name\":\"made\",\"type\":\"date\",\"description\":\"日期\"},"
                           "{\"name\":\"manual\",\"type\":\"file\"},"
                           "{\"name\":\"sheet\",\"type\":\"url\"},"
                           "{\"name\":\"model\",\"type\":\"string\"}]}";

/* The escaping held: no marker tag, and only the links the page may make. */
static void check(const http_resp *r)
{
	const char *p = (const char *)r->body, *end = p + r->len;
	if (memmem(p, r->len, "<x-", 3))
		abort();
	for (const char *h = p; (h = memmem(h, (size_t)(end - h), "href=\"", 6));) {
		const char *u = h + 6;
		size_t left = (size_t)(end - u);
		if (!(left > 7 && !strncasecmp(u, "http://", 7)) &&
		    !(left > 8 && !strncasecmp(u, "https://", 8)) &&
		    !(left > 7 && !strncmp(u, "mailto:", 7)) &&
		    !(left > 1 && u[0] == '/' && u[1] != '/'))
			abort();
		/* On past the attribute: its value may hold "href=" itself (a URL's query). */
		const char *q = memchr(u, '"', left);
		if (!q)
			abort();
		h = q + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *p = data + 1, *end = data + size;
	idn_slice piece[64];
	size_t n = 0;
	while (p <= end && n < 64) {
		const uint8_t *z = memchr(p, 0, (size_t)(end - p));
		const uint8_t *e = z ? z : end;
		piece[n++] = idn_slice_of(p, (size_t)(e - p));
		p = e + 1;
	}
	static uint8_t buf[65536];
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	uint32_t nv = 0;
	for (size_t i = 1; i + 1 < n; i += 2, nv++) {
		bool tref = piece[i].len == 1 && piece[i].p[0] == 'T';
		proto_value v = {.index = tref     ? 1001
		                          : nv < 3 ? nv + 1
		                                   : 2000 + nv,
		                 .timestamp = (uint32_t)(mode * 16777259u),
		                 .perms = 0x0E,
		                 .type = tref ? idn_slice_of("TEMPLATE", 8) : piece[i],
		                 .data = piece[i + 1]};
		proto_value_put(&w, &v);
	}
	if (w.err)
		return 0;
	api_answer ans = {.rc = 1, .nvalues = nv, .values = idn_slice_of(buf, wire_wr_len(&w))};
	if (mode & 1)
		ans.src =
		    (api_source){.node = "10.0.0.1:2641", .fetched = 1700000000, .stale = mode & 2};
	idn_slice handle = n ? piece[0] : idn_slice_of("", 0);
	api_page_extra x = {.url = (mode & 4) && n > 2 ? "https://u.example/<x-" : NULL};
	if (mode & 8)
		api_page_template(&x, idn_slice_of(tdef, strlen(tdef)), idn_slice_of("1/T", 3));
	api_page_prefixes(&x, handle);
	http_resp r = {0};
	api_page_record(&r, &(http_req){.method = "GET"}, handle, &ans, &x);
	check(&r);
	api_page_extra_free(&x);
	static const uint32_t rcs[] = {1, 2, 100, 102, 200, 301, 302, 9999};
	ans.rc = rcs[(mode >> 4) & 7];
	ans.src.down = mode & 0x80;
	ans.message = n > 1 ? piece[1] : idn_slice_of("", 0);
	api_page_error(&r, handle, &ans);
	check(&r);
	api_page_invalid(&r, idn_slice_of(data, size), "bad");
	check(&r);
	free(r.body);
	return 0;
}
