/*
 * api_snms_ent.c - enterprise prefixes of the SNMS API (snms.h):
 * POST /snms/api/ent/config registers an enterprise node: it writes the
 * HS_SITE (index 1) and HS_SITE.PREFIX (index 2) values of the enterprise
 * prefix's record 0.NA/<entPrefix> on this node, as `idnode siteinfo` makes
 * them (one server, TCP query+admin on tcpPort, UDP query on udpPort, HTTP
 * on httpPort when given, the enterprise's HS_PUBKEY from that record when
 * it has one), so the hierarchy refers resolvers of <entPrefix> (and the
 * prefixes derived from it) to the enterprise node at once.
 * GET /snms/api/prefix/query and /snms/api/prefix/page list the enterprise
 * prefixes of this node (homed here under one of its own prefixes) with the
 * node each registered.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/snms.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/reserved.h"

enum {
	LIST_MAX = 10000, /* enterprise prefixes a list walks */
	PAGE_SIZE_MAX = 1000,
	PAGE_SIZE_DEFAULT = 10,
	SITE_INDEX = 1,
	SITE_PREFIX_INDEX = 2,
};

/* A port member: 1..65535 (0 too when optional); -1 when bad, 0 when absent and optional. */
static long port_of(json_t *j, bool optional)
{
	if ((!j || json_is_null(j) || (json_is_string(j) && !json_string_length(j))) && optional)
		return 0;
	long long x = -1;
	if (json_is_integer(j))
		x = json_integer_value(j);
	else if (json_is_string(j) && json_string_length(j) && json_string_length(j) < 6)
		x = strtoll(json_string_value(j), NULL, 10);
	return x < (optional ? 0 : 1) || x > 65535 ? -1 : (long)x;
}

/* The enterprise node of a body. */
typedef struct ent_cfg {
	idn_slice prefix, hdl_type;
	uint8_t addr[PROTO_SITE_ADDR_LEN];
	int ip_type;
	long tcp, udp, http;
} ent_cfg;

static int ent_parse(json_t *b, ent_cfg *e, char *err, size_t errlen)
{
	static const char *const known[] = {"entPrefix", "hdlType", "ip",       "ipType",
	                                    "tcpPort",   "udpPort", "httpPort", NULL};
	/* SNMS clients nest it: {"entPrefixConfig": {...}}; the flat form is taken too. */
	if (json_is_object(b) && json_object_size(b) == 1 &&
	    json_is_object(json_object_get(b, "entPrefixConfig")))
		b = json_object_get(b, "entPrefixConfig");
	if (!json_is_object(b))
		return snprintf(err, errlen, "body: expected an object {entPrefix, ip, ...}"), -1;
	const char *key;
	json_t *v;
	json_object_foreach(b, key, v)
	{
		size_t k = 0;
		while (known[k] && strcmp(known[k], key))
			k++;
		if (!known[k])
			return snprintf(
			           err, errlen,
			           "%.64s: unknown field (expected entPrefix, hdlType, ip, ipType, "
			           "tcpPort, udpPort, httpPort)",
			           key),
			       -1;
	}
	json_t *p = json_object_get(b, "entPrefix"), *ip = json_object_get(b, "ip");
	json_t *it = json_object_get(b, "ipType"), *ht = json_object_get(b, "hdlType");
	if (!json_is_string(p) || !json_string_length(p) || json_string_length(p) > 128 ||
	    strchr(json_string_value(p), '/'))
		return snprintf(err, errlen, "entPrefix: expected a prefix such as 88.100.7"), -1;
	e->prefix = idn_slice_of(json_string_value(p), json_string_length(p));
	e->hdl_type = json_is_string(ht)
	                  ? idn_slice_of(json_string_value(ht), json_string_length(ht))
	                  : idn_slice_of("", 0);
	if (ht && !json_is_null(ht) && (!json_is_string(ht) || json_string_length(ht) > 64))
		return snprintf(err, errlen, "hdlType: expected a string of at most 64 bytes"), -1;
	e->ip_type = json_is_integer(it)  ? (int)json_integer_value(it)
	             : json_is_string(it) ? atoi(json_string_value(it))
	                                  : 0;
	if (e->ip_type != 4 && e->ip_type != 6)
		return snprintf(err, errlen, "ipType: expected 4 or 6"), -1;
	uint8_t a[16];
	if (!json_is_string(ip) ||
	    inet_pton(e->ip_type == 4 ? AF_INET : AF_INET6, json_string_value(ip), a) != 1)
		return snprintf(err, errlen, "ip: expected an IPv%d address", e->ip_type), -1;
	if (e->ip_type == 4)
		proto_addr_from_ipv4(e->addr, a);
	else
		memcpy(e->addr, a, 16);
	if ((e->tcp = port_of(json_object_get(b, "tcpPort"), false)) < 0)
		return snprintf(err, errlen, "tcpPort: expected a port 1..65535"), -1;
	if ((e->udp = port_of(json_object_get(b, "udpPort"), false)) < 0)
		return snprintf(err, errlen, "udpPort: expected a port 1..65535"), -1;
	if ((e->http = port_of(json_object_get(b, "httpPort"), true)) < 0)
		return snprintf(err, errlen, "httpPort: expected a port 0..65535 (0: none)"), -1;
	return 0;
}

/* The HS_SITE data of e (with the enterprise's key, may be empty) into w. */
static void ent_site(const ent_cfg *e, idn_slice pubkey, wire_wr *w)
{
	proto_iface ifs[3] = {{PROTO_IF_BOTH, PROTO_IF_TCP, (uint32_t)e->tcp},
	                      {PROTO_IF_QUERY, PROTO_IF_UDP, (uint32_t)e->udp},
	                      {PROTO_IF_BOTH, PROTO_IF_HTTP, (uint32_t)e->http}};
	proto_server_desc srv = {
	    .id = 1, .pubkey = pubkey, .ifaces = ifs, .nifaces = e->http ? 3 : 2};
	memcpy(srv.addr, e->addr, sizeof(srv.addr));
	proto_site_attr attr = {IDN_SLICE("hdlType"), e->hdl_type};
	proto_site_desc d = {.major = 2,
	                     .minor = 11,
	                     .serial = 1,
	                     .flags = PROTO_SITE_PRIMARY,
	                     .attrs = &attr,
	                     .nattrs = e->hdl_type.len ? 1 : 0,
	                     .servers = &srv,
	                     .nservers = 1};
	proto_site_put(w, &d);
}

/* Homed prefixes, collected (a read transaction may not stay open across node requests). */
typedef struct homes {
	char **p;
	size_t n, cap;
} homes;

static int homes_cb(void *arg, idn_slice key, idn_slice val)
{
	(void)val;
	homes *h = arg;
	if (h->n == LIST_MAX)
		return 1;
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		char **p = realloc(h->p, cap * sizeof(*p));
		if (!p)
			return IDN_ENOMEM;
		h->p = p;
		h->cap = cap;
	}
	if (!(h->p[h->n] = strndup((const char *)key.p, key.len)))
		return IDN_ENOMEM;
	h->n++;
	return 0;
}

static void homes_free(homes *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->p[i]);
	free(h->p);
}

static int homes_get(api_worker *w, homes *h)
{
	store_txn *t;
	*h = (homes){0};
	int ret = store_txn_begin(w->a->s, STORE_RDONLY, &t);
	if (ret)
		return ret;
	ret = store_list_homed(t, homes_cb, h);
	store_txn_abort(t);
	return ret < 0 ? ret : 0;
}

/* Whether p lies strictly under one of the homed prefixes ("88.100.7" under "88.100"). */
static bool under_home(const homes *h, idn_slice p)
{
	for (size_t i = 0; i < h->n; i++) {
		size_t l = strlen(h->p[i]);
		if (l < p.len && !memcmp(h->p[i], p.p, l) && p.p[l] == '.')
			return true;
	}
	return false;
}

/* The enterprise's record 0.NA/<prefix>: rc, its HS_PUBKEY (copied) and which of 1, 2 exist. */
typedef struct ent_rec {
	uint32_t rc;
	uint8_t pubkey[2048];
	size_t publen;
	bool has[3];
} ent_rec;

static int ent_read(api_worker *w, idn_slice na, ent_rec *e)
{
	api_answer ans;
	int ret = api_resolve_here(w, na, &ans);
	*e = (ent_rec){.rc = ans.rc};
	if (ret || ans.rc != PROTO_RC_SUCCESS)
		return ret;
	proto_values_it it = proto_values_begin(ans.values, ans.nvalues);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		if (v.index == SITE_INDEX || v.index == SITE_PREFIX_INDEX)
			e->has[v.index] = true;
		if (!e->publen && idn_slice_eq(v.type, IDN_SLICE("HS_PUBKEY")) &&
		    v.data.len <= sizeof(e->pubkey)) {
			memcpy(e->pubkey, v.data.p, v.data.len);
			e->publen = v.data.len;
		}
	}
	return 0;
}

/* Runs op (ADD_VALUE / MODIFY_VALUE) with the values raw[0..n) on na as c: the answer's rc. */
static int ent_write(api_worker *w, const snms_caller *c, uint32_t op, idn_slice na, idn_slice raw,
                     uint32_t n, char *msg, size_t msglen, uint32_t *rc)
{
	proto_build b;
	proto_msg m;
	api_admin_begin(w, &b, op, 0);
	proto_values_req_encode_raw(&b.w, na, n, raw);
	int ret = api_admin_run(w, &b, &c->id, &m);
	if (ret)
		return ret;
	*rc = m.hdr.rcode;
	idn_slice em = {0};
	proto_error_decode(m.body, &em);
	const char *name = proto_rc_name(*rc);
	snprintf(msg, msglen, "0.NA/%.*s: %.*s", (int)(na.len - 5), (const char *)na.p + 5,
	         em.len ? (int)em.len : (int)strlen(name), em.len ? (const char *)em.p : name);
	return 0;
}

/* Writes the two values: one request when both are new or both exist, else two. */
static int ent_store(api_worker *w, const snms_caller *c, idn_slice na, const ent_rec *er,
                     idn_slice site, char *msg, size_t msglen, uint32_t *rc)
{
	uint8_t buf[2 * 4096];
	wire_wr vw = wire_wr_init(buf, sizeof(buf));
	static const char *const types[3] = {NULL, "HS_SITE", "HS_SITE.PREFIX"};
	size_t at[3] = {0};
	for (uint32_t i = SITE_INDEX; i <= SITE_PREFIX_INDEX; i++) {
		at[i] = wire_wr_len(&vw);
		proto_value v = {.index = i,
		                 .ttl = 86400,
		                 .perms = PROTO_PERM_ADMIN_READ | PROTO_PERM_ADMIN_WRITE |
		                          PROTO_PERM_PUBLIC_READ,
		                 .type = idn_slice_of(types[i], strlen(types[i])),
		                 .data = site};
		proto_value_put(&vw, &v);
	}
	if (vw.err) {
		snprintf(msg, msglen, "the site record is too large");
		*rc = PROTO_RC_INVALID_VALUE;
		return 0;
	}
	size_t end = wire_wr_len(&vw);
	if (er->has[1] == er->has[2])
		return ent_write(w, c, er->has[1] ? PROTO_OP_MODIFY_VALUE : PROTO_OP_ADD_VALUE, na,
		                 idn_slice_of(buf, end), 2, msg, msglen, rc);
	for (uint32_t i = SITE_INDEX; i <= SITE_PREFIX_INDEX; i++) {
		size_t to = i == SITE_INDEX ? at[2] : end;
		int ret = ent_write(w, c, er->has[i] ? PROTO_OP_MODIFY_VALUE : PROTO_OP_ADD_VALUE,
		                    na, idn_slice_of(buf + at[i], to - at[i]), 1, msg, msglen, rc);
		if (ret || *rc != PROTO_RC_SUCCESS)
			return ret;
	}
	return 0;
}

int snms_ent_config(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	snms_caller c;
	int ret = snms_auth(w, req, r, &c);
	if (ret <= 0)
		return ret;
	json_t *b = snms_body(req, r);
	if (!b)
		return 0;
	ent_cfg e = {0};
	char msg[SNMS_MSG_MAX], na[160];
	homes h = {0};
	if (ent_parse(b, &e, msg, sizeof(msg))) {
		snms_fail(r, SNMS_BUSINESS, "%s", msg);
		goto out;
	}
	if (!snms_may(&c, e.prefix, r))
		goto out;
	if ((ret = homes_get(w, &h)))
		goto out;
	if (!under_home(&h, e.prefix)) {
		snms_fail(r, SNMS_BUSINESS,
		          "entPrefix: %.*s is not under a prefix of this node (GET /api/prefixes)",
		          (int)e.prefix.len, (const char *)e.prefix.p);
		goto out;
	}
	int nl = snprintf(na, sizeof(na), "0.NA/%.*s", (int)e.prefix.len, (const char *)e.prefix.p);
	ent_rec er;
	if ((ret = ent_read(w, idn_slice_of(na, (size_t)nl), &er)))
		goto out;
	if (er.rc != PROTO_RC_SUCCESS) {
		snms_fail(r, SNMS_BUSINESS,
		          "entPrefix: %s does not exist here: the enterprise is not admitted "
		          "(approve its application first)",
		          na);
		goto out;
	}
	uint8_t site[4096];
	wire_wr sw = wire_wr_init(site, sizeof(site));
	ent_site(&e, idn_slice_of(er.pubkey, er.publen), &sw);
	uint32_t rc = PROTO_RC_ERROR;
	if ((ret = ent_store(w, &c, idn_slice_of(na, (size_t)nl), &er,
	                     idn_slice_of(site, wire_wr_len(&sw)), msg, sizeof(msg), &rc)))
		goto out;
	int status = snms_status_of_rc(rc);
	api_audit(w, req, &c, "ent.config", e.prefix, status,
	          status == SNMS_OK ? (er.publen ? "site with the enterprise's key"
	                                         : "site without a key (none in the record)")
	                            : msg);
	if (status != SNMS_OK) {
		snms_fail(r, status, "%s", msg);
		goto out;
	}
	snms_ok_begin(r);
	http_resp_puts(r, "{\"entPrefix\":");
	api_json_str(r, e.prefix);
	http_resp_printf(r, ",\"record\":\"%s\",\"pubkey\":%s}}", na, er.publen ? "true" : "false");
out:
	homes_free(&h);
	json_decref(b);
	return ret;
}

/* ---- lists ---- */

/* One prefix's entry: {entPrefix, registered, ip, ipType, tcpPort, udpPort, httpPort, hdlType}. */
static int prefix_json(api_worker *w, const char *p, http_resp *r)
{
	char na[160];
	int nl = snprintf(na, sizeof(na), "0.NA/%s", p);
	api_answer ans;
	int ret =
	    api_resolve_here(w, idn_slice_of(na, (size_t)(nl < (int)sizeof(na) ? nl : 0)), &ans);
	if (ret)
		return ret;
	http_resp_puts(r, "{\"entPrefix\":");
	api_json_str(r, idn_slice_of(p, strlen(p)));
	proto_values_match m = {.index = SITE_INDEX, .type = IDN_SLICE("HS_SITE")};
	proto_values_it it = proto_values_begin(ans.values, ans.rc == 1 ? ans.nvalues : 0);
	proto_value v;
	proto_site s;
	proto_server srv;
	wire_rd sr;
	if (proto_values_find(&it, &m, &v) != 1 || proto_site_decode(v.data, &s) ||
	    (sr = proto_site_servers(&s), proto_site_next_server(&sr, &srv)) != 1) {
		http_resp_puts(r, ",\"registered\":false}");
		return 0;
	}
	char addr[64];
	uint8_t v4[4];
	bool is4 = proto_addr_ipv4(srv.addr, v4);
	inet_ntop(is4 ? AF_INET : AF_INET6, is4 ? (const void *)v4 : (const void *)srv.addr, addr,
	          sizeof(addr));
	uint32_t ports[4] = {0};
	wire_rd ir = proto_server_ifaces(&srv);
	proto_iface ifc;
	while (proto_server_next_iface(&ir, &ifc) == 1)
		if (ifc.proto <= PROTO_IF_HTTP && !ports[ifc.proto])
			ports[ifc.proto] = ifc.port;
	idn_slice ht = {0};
	proto_site_attr_get(&s, IDN_SLICE("hdlType"), &ht);
	http_resp_printf(r,
	                 ",\"registered\":true,\"ip\":\"%s\",\"ipType\":%d,\"tcpPort\":%u,"
	                 "\"udpPort\":%u,\"httpPort\":%u,\"hdlType\":",
	                 addr, is4 ? 4 : 6, ports[PROTO_IF_TCP], ports[PROTO_IF_UDP],
	                 ports[PROTO_IF_HTTP]);
	api_json_str(r, ht);
	http_resp_puts(r, "}");
	return 0;
}

typedef struct list_q {
	uint8_t filter[128];
	int flen;
	long page, size; /* 0: not given */
	bool bad;
} list_q;

static int list_cb(void *arg, idn_slice name, idn_slice value)
{
	list_q *q = arg;
	if (api_name_is(name, "entPrefix") || api_name_is(name, "prefix")) {
		q->flen = api_pct_decode(value, true, q->filter, sizeof(q->filter));
		q->bad = q->bad || q->flen < 0;
	} else if (api_name_is(name, "currentPage") || api_name_is(name, "pageNum") ||
	           api_name_is(name, "pageSize")) {
		char buf[16];
		int n = api_pct_decode(value, true, (uint8_t *)buf, sizeof(buf) - 1);
		char *end = buf;
		long x = n > 0 ? (buf[n] = 0, strtol(buf, &end, 10)) : -1;
		if (n <= 0 || *end || x < 1)
			q->bad = true;
		*(api_name_is(name, "pageSize") ? &q->size : &q->page) = x;
	}
	return 0;
}

/* GET prefix/query (every match) and prefix/page (one page of them). */
static int prefix_list(api_worker *w, const http_req *req, http_resp *r, bool paged)
{
	snms_caller c;
	int ret = snms_auth(w, req, r, &c);
	if (ret <= 0)
		return ret;
	list_q q = {0};
	api_query_each(req->query, list_cb, &q);
	if (q.bad || (paged && q.size > PAGE_SIZE_MAX)) {
		snms_fail(r, SNMS_BUSINESS,
		          "currentPage (or pageNum), pageSize: expected integers from 1 (pageSize "
		          "at most %d); "
		          "entPrefix: a prefix",
		          PAGE_SIZE_MAX);
		return 0;
	}
	long page = q.page ? q.page : 1,
	     size = paged ? (q.size ? q.size : PAGE_SIZE_DEFAULT) : LIST_MAX;
	homes h;
	if ((ret = homes_get(w, &h)))
		return ret;
	size_t total = 0;
	snms_ok_begin(r);
	http_resp_puts(r, paged ? "{\"list\":[" : "[");
	for (size_t i = 0; i < h.n && !ret; i++) {
		idn_slice p = idn_slice_of(h.p[i], strlen(h.p[i]));
		if (!under_home(&h, p) || (c.acct.role && !api_caller_may(&c, p)) ||
		    (q.flen > 0 &&
		     (p.len < (size_t)q.flen || memcmp(p.p, q.filter, (size_t)q.flen))))
			continue;
		size_t k = total++;
		if (k < (size_t)(page - 1) * (size_t)size || k >= (size_t)page * (size_t)size)
			continue;
		if (k > (size_t)(page - 1) * (size_t)size)
			http_resp_puts(r, ",");
		ret = prefix_json(w, h.p[i], r);
	}
	if (paged)
		http_resp_printf(r, "],\"total\":%zu,\"pageNum\":%ld,\"pageSize\":%ld}}", total,
		                 page, size);
	else
		http_resp_puts(r, "]}");
	homes_free(&h);
	return ret;
}

int snms_prefix_list(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	static const char page[] = "/page";
	size_t n = sizeof(page) - 1;
	return prefix_list(w, req, r,
	                   req->path.len >= n && !memcmp(req->path.p + req->path.len - n, page, n));
}
