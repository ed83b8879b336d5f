/*
 * test_stats_parent.c - the rule that finds a parent's report address in
 * its HS_SITE (server/stats_parent.c, docs/statistics.md "Finding the
 * parent"): the first server, in record order, with an HTTP interface;
 * IPv4 and IPv6 addresses; a site whose servers list only UDP, TCP or
 * HTTPS, and data that is no site, give none. Sites are written with
 * proto_site_put and, as a node's own, with site_build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/site.h"
#include "proto/reserved.h"
#include "server/internal.h"

/* A site of n servers, each with the interfaces of its row of ifs; length of its data. */
static size_t put_site(uint8_t *buf, size_t cap, const proto_server_desc *srv, uint32_t n)
{
	wire_wr w = wire_wr_init(buf, cap);
	proto_site_desc d = {.major = 2, .minor = 10, .serial = 1, .servers = srv, .nservers = n};
	proto_site_put(&w, &d);
	assert_int_equal(w.err, 0);
	return wire_wr_len(&w);
}

static void test_first_http_server(void **state)
{
	(void)state;
	const proto_iface handle_only[] = {{PROTO_IF_BOTH, PROTO_IF_UDP, 2641},
	                                   {PROTO_IF_BOTH, PROTO_IF_TCP, 2641},
	                                   {PROTO_IF_QUERY, PROTO_IF_HTTPS, 443}};
	const proto_iface with_http[] = {{PROTO_IF_BOTH, PROTO_IF_TCP, 2641},
	                                 {PROTO_IF_BOTH, PROTO_IF_HTTP, 8000}};
	const proto_iface other_http[] = {{PROTO_IF_BOTH, PROTO_IF_HTTP, 9000}};
	proto_server_desc srv[3] = {{.id = 1, .ifaces = handle_only, .nifaces = 3},
	                            {.id = 2, .ifaces = with_http, .nifaces = 2},
	                            {.id = 3, .ifaces = other_http, .nifaces = 1}};
	proto_addr_from_ipv4(srv[0].addr, (const uint8_t[]){10, 0, 0, 1});
	proto_addr_from_ipv4(srv[1].addr, (const uint8_t[]){192, 0, 2, 7});
	proto_addr_from_ipv4(srv[2].addr, (const uint8_t[]){192, 0, 2, 8});
	uint8_t buf[1024];
	char out[80];
	size_t n = put_site(buf, sizeof(buf), srv, 3);
	assert_true(server_site_http(idn_slice_of(buf, n), out, sizeof(out)));
	assert_string_equal(out, "192.0.2.7:8000"); /* the first with HTTP, not server 1 */

	/* IPv6 in brackets */
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 5};
	memcpy(srv[1].addr, v6, sizeof(v6));
	n = put_site(buf, sizeof(buf), srv, 3);
	assert_true(server_site_http(idn_slice_of(buf, n), out, sizeof(out)));
	assert_string_equal(out, "[2001:db8::5]:8000");

	/* UDP, TCP and HTTPS only: none */
	n = put_site(buf, sizeof(buf), srv, 1);
	assert_false(server_site_http(idn_slice_of(buf, n), out, sizeof(out)));
	/* not a site */
	assert_false(server_site_http(idn_slice_of(buf, 5), out, sizeof(out)));
	assert_false(server_site_http(IDN_SLICE("nonsense"), out, sizeof(out)));
}

static void test_node_site(void **state)
{
	(void)state;
	/* A node's own site as `idnode siteinfo` writes it for its parent's record. */
	site_server srv = {1, "127.0.0.1:2641"};
	site_spec spec = {.servers = &srv, .nservers = 1, .serial = 1, .http = "127.0.0.1:8081"};
	uint8_t buf[4096];
	char err[200], out[80];
	int n = site_build(&spec, buf, sizeof(buf), err, sizeof(err));
	assert_true(n > 0);
	assert_true(server_site_http(idn_slice_of(buf, (size_t)n), out, sizeof(out)));
	assert_string_equal(out, "127.0.0.1:8081");
	spec.http = NULL; /* no HTTP listener: nowhere to report */
	n = site_build(&spec, buf, sizeof(buf), err, sizeof(err));
	assert_true(n > 0);
	assert_false(server_site_http(idn_slice_of(buf, (size_t)n), out, sizeof(out)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_http_server),
	    cmocka_unit_test(test_node_site),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
