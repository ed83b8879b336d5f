/*
 * fuzz_http.c - any bytes, as what an HTTP client sends on one connection,
 * through the server's framing and limits (llhttp, header and body limits,
 * pipelining) and every route of the API: resolution, batch resolve,
 * sessions and Basic authentication, writes and batches against a small
 * store (with quotas, and its admin a node admin: /api/quotas), the proxy,
 * Handle-over-HTTP and QR labels (SVG, PNG, PDF and ZIP batches). The first
 * byte picks how the bytes are cut into reads. Nothing may crash, leak or
 * hang, and whatever comes back must be HTTP/1.1 answers. The same bytes
 * then go to a handler that echoes the request, with the fast path for the
 * common GET and without it (llhttp alone): the answers must be the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "proto/record.h"

static store *st;
static node *nd;
static api *ap;
static void *wctx;

static void put(store_txn *t, const char *key, const proto_value *v, uint32_t n)
{
	uint8_t rec[4096];
	int len = record_build(v, n, rec, sizeof(rec));
	if (len < 0 ||
	    store_put(t, idn_slice_of(key, strlen(key)), idn_slice_of(rec, (size_t)len), 0))
		abort();
}

static void init(void)
{
	static char dir[] = "/tmp/idn-fuzz-http-XXXXXX";
	if (!mkdtemp(dir))
		abort();
	store_opts so = {.no_sync = 1, .map_size = 256 << 20};
	store_txn *t;
	if (store_open(dir, &so, &st) || store_txn_begin(st, 0, &t))
		abort();
	store_home(t, IDN_SLICE("88.1000"));
	/* HS_ADMIN: all rights (0x0FFF) for 300:88.1000/admin. */
	static const uint8_t adm[] = "\x0f\xff\x00\x00\x00\x0d"
	                             "88.1000/admin\x00\x00\x01\x2c";
	proto_value v[3] = {
	    {.index = 1, .perms = 0x0e, .type = IDN_SLICE("URL"), .data = IDN_SLICE("https://x")},
	    {.index = 100,
	     .perms = 0x0e,
	     .type = IDN_SLICE("HS_ADMIN"),
	     .data = idn_slice_of(adm, sizeof(adm) - 1)},
	    {.index = 300, .perms = 0x0c, .type = IDN_SLICE("HS_SECKEY"), .data = IDN_SLICE("pw")},
	};
	put(t, "88.1000/demo1", v, 2);
	put(t, "88.1000/admin", v, 3);
	put(t, "0.NA/88.1000", v + 1, 1);
	if (store_txn_commit(t))
		abort();
	node_config cfg;
	node_config_init(&cfg);
	/* A node admin with quotas, so /api/quotas and the quota hooks are reached. */
	static const char *const admins[] = {"300:88.1000/admin"};
	cfg.server_admins = admins;
	cfg.nserver_admins = 1;
	cfg.quota_identifiers = 4;
	cfg.quota_children = 2;
	api_config ac = {0}; /* no resolver: not a gateway */
	if (node_new(&cfg, st, &nd))
		abort();
	ac.n = nd;
	ac.s = st;
	if (api_new(&ac, &ap) || !(wctx = api_worker_init(ap, 0)))
		abort();
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
}

/* What the framing made of the request: method, target, headers, body length. */
static int echo(void *ctx, const http_req *req, http_resp *r)
{
	(void)ctx;
	r->content_type = "text/plain";
	http_resp_puts(r, req->method);
	idn_slice parts[2 * HTTP_MAX_HEADERS + 1] = {req->target};
	for (size_t i = 0; i < req->nheaders; i++)
		parts[1 + 2 * i] = req->headers[i].name, parts[2 + 2 * i] = req->headers[i].value;
	for (size_t i = 0; i < 1 + 2 * req->nheaders; i++) {
		http_resp_append(r, "|", 1);
		if (parts[i].len)
			http_resp_append(r, parts[i].p, parts[i].len);
	}
	http_resp_printf(r, "|%zu", (size_t)req->body.len);
	return 0;
}

/* The fast path against llhttp alone: the same answers to the same reads. */
static void fast_same(const uint8_t *data, size_t size, size_t chunk)
{
	uint8_t *out[2] = {NULL, NULL};
	size_t len[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		http_config hc = {.max_header = 2048, .max_body = 4096, .handle = echo};
		hc.no_fast_path = i;
		if (http_feed(&hc, NULL, data, size, chunk, &out[i], &len[i]))
			abort();
	}
	if (len[0] != len[1] || (len[0] && memcmp(out[0], out[1], len[0])))
		abort();
	free(out[0]);
	free(out[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!nd)
		init();
	if (size < 1)
		return 0;
	static const size_t chunks[] = {0, 1, 2, 7, 64, 500};
	size_t chunk = chunks[data[0] % (sizeof(chunks) / sizeof(chunks[0]))];
	/* Small limits, so that the fuzzer reaches them with short inputs. */
	http_config hc = {.max_header = 2048, .max_body = 4096, .handle = api_handle};
	uint8_t *out = NULL;
	size_t out_len = 0;
	if (http_feed(&hc, wctx, data + 1, size - 1, chunk, &out, &out_len))
		abort();
	if (out_len && (out_len < 12 || memcmp(out, "HTTP/1.1 ", 9)))
		abort();
	free(out);
	fast_same(data + 1, size - 1, chunk);
	return 0;
}
