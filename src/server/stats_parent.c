/*
 * stats_parent.c - where a node's statistics reports go when no
 * --stats-parent names it: found "through the root" (docs/statistics.md,
 * "Finding the parent"). For a reported prefix Q.S the parent is the node
 * of Q: the record 0.NA/Q, resolved from --root as the node resolves any
 * handle (client_resolve_root: referrals, HS_SITE.PREFIX, HS_SERV), and the
 * first HTTP interface (protocol 2) of the servers its HS_SITE values list,
 * in their order: that server's address and the interface's port. An
 * HS_SERV instead of HS_SITE is followed once (its handle's HS_SITE).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "proto/admin.h"
#include "proto/proto.h"
#include "proto/reserved.h"
#include "server/internal.h"

enum { PARENT_TIMEOUT_MS = 10000 };

bool server_site_http(idn_slice d, char *out, size_t cap)
{
	proto_site site;
	if (proto_site_decode(d, &site))
		return false;
	wire_rd it = proto_site_servers(&site);
	proto_server srv;
	while (proto_site_next_server(&it, &srv) == 1) {
		wire_rd fi = proto_server_ifaces(&srv);
		proto_iface ifc;
		while (proto_server_next_iface(&fi, &ifc) == 1) {
			if (ifc.proto != PROTO_IF_HTTP || !ifc.port || ifc.port > 65535)
				continue;
			uint8_t v4[4];
			char a[INET6_ADDRSTRLEN];
			if (proto_addr_ipv4(srv.addr, v4))
				snprintf(out, cap, "%u.%u.%u.%u:%u", v4[0], v4[1], v4[2], v4[3],
				         ifc.port);
			else if (inet_ntop(AF_INET6, srv.addr, a, sizeof(a)))
				snprintf(out, cap, "[%s]:%u", a, ifc.port);
			else
				continue;
			return true;
		}
	}
	return false;
}

/*
 * Resolves handle from root for its HS_SITE and HS_SERV values: 1 with the
 * HTTP address in out, 0 with an HS_SERV's handle in serv (no HTTP site),
 * negative with why.
 */
static int ask(const client_addr *root, const char *handle, char *out, size_t cap, char *serv,
               size_t servcap, char *why, size_t whylen)
{
	idn_slice types[] = {IDN_SLICE("HS_SITE"), IDN_SLICE("HS_SERV")};
	client_root_opts o = {
	    .base = {.transport = CLIENT_UDP, .timeout_ms = 2000, .types = types, .ntypes = 2},
	    .total_ms = PARENT_TIMEOUT_MS};
	uint8_t *ans = NULL;
	size_t anslen;
	proto_env env;
	proto_msg msg;
	char err[256] = "";
	int ret = client_resolve_root(root, idn_slice_of(handle, strlen(handle)), &o, &ans, &anslen,
	                              &env, &msg, err, sizeof(err));
	if (ret) {
		snprintf(why, whylen, "%s: %s", handle, err[0] ? err : idn_strerror(ret));
		return ret;
	}
	idn_slice body;
	proto_resolve_resp rr;
	ret = IDN_ENOTFOUND;
	serv[0] = 0;
	if (msg.hdr.rcode == PROTO_RC_VALUE_NOT_FOUND)
		snprintf(why, whylen, "%s: no HS_SITE with an HTTP interface", handle);
	else if (msg.hdr.rcode != PROTO_RC_SUCCESS)
		snprintf(why, whylen, "%s: response code %u%s", handle, (unsigned)msg.hdr.rcode,
		         msg.hdr.rcode == PROTO_RC_HANDLE_NOT_FOUND ? " (not found)" : "");
	else if (proto_answer_split(msg.body, (msg.hdr.flags & PROTO_F_RD) != 0, NULL, NULL,
	                            &body) ||
	         proto_resolve_resp_decode(body, &rr)) {
		snprintf(why, whylen, "%s: malformed answer", handle);
		ret = IDN_EPROTO;
	} else {
		proto_values_it it = proto_values_begin(rr.values, rr.nvalues);
		proto_value v;
		while (ret && proto_values_next(&it, &v) == 1)
			if (idn_slice_eq(v.type, IDN_SLICE("HS_SITE")) &&
			    server_site_http(v.data, out, cap))
				ret = 1;
			else if (idn_slice_eq(v.type, IDN_SLICE("HS_SERV")) && !serv[0] &&
			         v.data.len < servcap)
				snprintf(serv, servcap, "%.*s", (int)v.data.len,
				         (const char *)v.data.p);
		if (ret == 1)
			;
		else if (serv[0])
			ret = 0;
		else
			snprintf(why, whylen, "%s: no HS_SITE with an HTTP interface", handle);
	}
	free(ans);
	return ret;
}

int server_stats_parent_find(const char *root, const char *prefix, char *out, size_t cap, char *why,
                             size_t whylen)
{
	const char *dot = strrchr(prefix, '.');
	if (!dot) {
		snprintf(why, whylen, "%s has no parent prefix", prefix);
		return IDN_EINVAL;
	}
	client_addr a;
	if (!root) {
		snprintf(why, whylen, "no root to find the parent of %s through", prefix);
		return IDN_ECONFIG;
	}
	if (client_addr_parse(root, 2641, &a, why, whylen))
		return IDN_ECONFIG;
	char handle[300], serv[300];
	snprintf(handle, sizeof(handle), "0.NA/%.*s", (int)(dot - prefix), prefix);
	int ret = ask(&a, handle, out, cap, serv, sizeof(serv), why, whylen);
	if (ret == 0) { /* an HS_SERV: the site is in that handle */
		snprintf(handle, sizeof(handle), "%s", serv);
		ret = ask(&a, handle, out, cap, serv, sizeof(serv), why, whylen);
	}
	if (ret == 0)
		snprintf(why, whylen, "%s: HS_SERV names another HS_SERV", handle);
	return ret == 1 ? IDN_OK : ret ? ret : IDN_ENOTFOUND;
}
