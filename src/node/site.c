/*
 * site.c - building a node's HS_SITE from its configuration.
 */
#include "node/site.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "proto/reserved.h"

enum { SITE_MAX_SERVERS = 64 };

/* Parses an endpoint into a 16-byte site address (IPv4 in the last 4) and a port. */
static int endpoint_parse(const char *ep, const char *advertise, uint8_t addr[16], uint32_t *port,
                          char *err, size_t errlen)
{
	char host[64];
	const char *colon;
	if (ep[0] == '[') {
		const char *close = strchr(ep, ']');
		if (!close || close[1] != ':' || (size_t)(close - ep - 1) >= sizeof(host))
			goto bad;
		memcpy(host, ep + 1, (size_t)(close - ep - 1));
		host[close - ep - 1] = 0;
		colon = close + 1;
	} else {
		colon = strrchr(ep, ':');
		if (!colon || (size_t)(colon - ep) >= sizeof(host))
			goto bad;
		memcpy(host, ep, (size_t)(colon - ep));
		host[colon - ep] = 0;
	}
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535)
		goto bad;
	*port = (uint32_t)p;
	if (!host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
		snprintf(host, sizeof(host), "%s", advertise ? advertise : "127.0.0.1");
	uint8_t v4[4];
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, host, v4) == 1) {
		proto_addr_from_ipv4(addr, v4);
		return IDN_OK;
	}
	if (inet_pton(AF_INET6, host, addr) == 1)
		return IDN_OK;
bad:
	snprintf(err, errlen, "'%s' is not a numeric ADDR:PORT, [V6]:PORT or :PORT", ep);
	return IDN_EINVAL;
}

/* The port of an HTTP(S) listener; 0 when there is none or it is picked at start. */
static int web_port(const char *ep, uint32_t *port, char *err, size_t errlen)
{
	uint8_t addr[16];
	*port = 0;
	return ep ? endpoint_parse(ep, NULL, addr, port, err, errlen) : IDN_OK;
}

int site_build(const site_spec *spec, uint8_t *out, size_t cap, char *err, size_t errlen)
{
	proto_server_desc srv[SITE_MAX_SERVERS];
	proto_iface ifs[SITE_MAX_SERVERS][4];
	uint32_t http_port, https_port;
	int ret;
	if ((ret = web_port(spec->http, &http_port, err, errlen)) ||
	    (ret = web_port(spec->https, &https_port, err, errlen)))
		return ret;
	if (spec->nservers == 0 || spec->nservers > SITE_MAX_SERVERS) {
		snprintf(err, errlen, "a site has 1 to %d servers, not %u", SITE_MAX_SERVERS,
		         spec->nservers);
		return IDN_EINVAL;
	}
	memset(srv, 0, sizeof(srv));
	for (unsigned i = 0; i < spec->nservers; i++) {
		uint32_t port;
		ret = endpoint_parse(spec->servers[i].endpoint, spec->advertise_addr, srv[i].addr,
		                     &port, err, errlen);
		if (ret)
			return ret;
		/* Every server answers queries and admin requests on UDP and TCP. */
		ifs[i][0] = (proto_iface){PROTO_IF_BOTH, PROTO_IF_TCP, port};
		ifs[i][1] = (proto_iface){PROTO_IF_QUERY, PROTO_IF_UDP, port};
		srv[i].id = spec->servers[i].id;
		srv[i].pubkey = spec->pubkey;
		srv[i].ifaces = ifs[i];
		srv[i].nifaces = 2;
		if (http_port)
			ifs[i][srv[i].nifaces++] =
			    (proto_iface){PROTO_IF_BOTH, PROTO_IF_HTTP, http_port};
		if (https_port)
			ifs[i][srv[i].nifaces++] =
			    (proto_iface){PROTO_IF_BOTH, PROTO_IF_HTTPS, https_port};
	}
	proto_site_attr attr = {IDN_SLICE("desc"), {0}};
	if (spec->desc)
		attr.value = idn_slice_of(spec->desc, strlen(spec->desc));
	proto_site_desc d = {
	    .major = 2,
	    .minor = 11,
	    .serial = spec->serial,
	    .flags = PROTO_SITE_PRIMARY,
	    .hash_opt = spec->hash_opt,
	    .attrs = spec->desc ? &attr : NULL,
	    .nattrs = spec->desc ? 1 : 0,
	    .servers = srv,
	    .nservers = spec->nservers,
	};
	wire_wr w = wire_wr_init(out, cap);
	proto_site_put(&w, &d);
	if (w.err) {
		snprintf(err, errlen, "site record too large");
		return w.err;
	}
	return (int)wire_wr_len(&w);
}
