/*
 * api_json.c - values in the reference REST API's JSON shapes.
 *
 * Written by hand rather than through jansson: GET /api/handles is the HTTP
 * hot path, and a value is a handful of fields appended straight into the
 * response buffer. The data format follows the reference: HS_ADMIN "admin"
 * ({handle, index, permissions as 12 bits, highest first}), HS_VLIST "vlist",
 * HS_SITE / HS_SITE.PREFIX "site", HS_PUBKEY "key" (a JWK for RSA and DSA),
 * other data "string" when it is UTF-8 text, else "base64". Data a special
 * type cannot decode falls back to base64, so nothing is ever lost.
 */
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/reply.h"
#include "core/codec.h"
#include "proto/handle.h"
#include "proto/reserved.h"

static bool type_is(const proto_value *v, const char *t)
{
	size_t n = strlen(t);
	return v->type.len == n && !memcmp(v->type.p, t, n);
}

void api_json_str(http_resp *r, idn_slice s)
{
	if (!s.len) { /* its pointer may be NULL */
		http_resp_append(r, "\"\"", 2);
		return;
	}
	bool utf8 = handle_utf8_valid(s);
	http_resp_append(r, "\"", 1);
	size_t from = 0; /* start of the bytes not yet copied */
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.p[i];
		const char *esc = NULL;
		char u[8];
		if (ch == '"')
			esc = "\\\"";
		else if (ch == '\\')
			esc = "\\\\";
		else if (ch == '\n')
			esc = "\\n";
		else if (ch == '\r')
			esc = "\\r";
		else if (ch == '\t')
			esc = "\\t";
		else if (ch < 0x20 || ch == 0x7f) {
			snprintf(u, sizeof(u), "\\u%04x", ch);
			esc = u;
		} else if (ch >= 0x80 && !utf8)
			esc = "\\ufffd";
		if (!esc)
			continue;
		http_resp_append(r, s.p + from, i - from);
		http_resp_puts(r, esc);
		from = i + 1;
	}
	http_resp_append(r, s.p + from, s.len - from);
	http_resp_append(r, "\"", 1);
}

void api_base64(http_resp *r, idn_slice data)
{
	/* In 3-byte aligned pieces, so that a small stack buffer does. */
	uint8_t buf[4 * 256 + 1];
	for (size_t off = 0; off < data.len; off += 768) {
		size_t len = data.len - off < 768 ? data.len - off : 768;
		http_resp_append(r, buf, codec_base64_encode(data.p + off, len, (char *)buf));
	}
}

/* base64url without padding, as JWK wants. */
static void b64url(http_resp *r, idn_slice data)
{
	size_t at = r->len;
	api_base64(r, data);
	if (r->oom)
		return;
	size_t end = r->len;
	for (size_t i = at; i < end; i++) {
		if (r->body[i] == '+')
			r->body[i] = '-';
		else if (r->body[i] == '/')
			r->body[i] = '_';
	}
	while (r->len > at && r->body[r->len - 1] == '=')
		r->len--;
}

static void data_obj(http_resp *r, const char *format)
{
	http_resp_printf(r, "{\"format\":\"%s\",\"value\":", format);
}

static bool admin_json(http_resp *r, idn_slice data)
{
	proto_admin a;
	if (proto_admin_decode(data, &a))
		return false;
	char bits[13];
	for (int i = 0; i < 12; i++)
		bits[i] = (a.rights >> (11 - i)) & 1 ? '1' : '0';
	bits[12] = 0;
	data_obj(r, "admin");
	http_resp_puts(r, "{\"handle\":");
	api_json_str(r, a.handle);
	http_resp_printf(r, ",\"index\":%u,\"permissions\":\"%s\"}}", a.index, bits);
	return true;
}

static bool vlist_json(http_resp *r, idn_slice data)
{
	proto_vlist v;
	if (proto_vlist_decode(data, &v))
		return false;
	data_obj(r, "vlist");
	http_resp_puts(r, "[");
	wire_rd it = wire_rd_init(v.refs.p, v.refs.len);
	proto_ref ref;
	for (uint32_t i = 0; proto_ref_next(&it, &ref) == 1; i++) {
		http_resp_puts(r, i ? ",{\"handle\":" : "{\"handle\":");
		api_json_str(r, ref.handle);
		http_resp_printf(r, ",\"index\":%u}", ref.index);
	}
	http_resp_puts(r, "]}");
	return true;
}

static bool key_json(http_resp *r, idn_slice data)
{
	proto_pubkey k;
	if (proto_pubkey_decode(data, &k))
		return false;
	static const struct {
		enum proto_key_kind kind;
		const char *kty;
	} kinds[] = {{PROTO_KEY_RSA, "RSA"}, {PROTO_KEY_DSA, "DSA"}};
	const char *kty = NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].kind == k.kind)
			kty = kinds[i].kty;
	if (!kty)
		return false;
	data_obj(r, "key");
	http_resp_printf(r, "{\"kty\":\"%s\"", kty);
	struct {
		const char *name;
		idn_slice v;
	} f[4];
	int nf = 0;
	if (k.kind == PROTO_KEY_RSA) {
		f[nf++] = (typeof(f[0])){"n", k.rsa.n};
		f[nf++] = (typeof(f[0])){"e", k.rsa.e};
	} else {
		f[nf++] = (typeof(f[0])){"y", k.dsa.y};
		f[nf++] = (typeof(f[0])){"p", k.dsa.p};
		f[nf++] = (typeof(f[0])){"q", k.dsa.q};
		f[nf++] = (typeof(f[0])){"g", k.dsa.g};
	}
	for (int i = 0; i < nf; i++) {
		/* JWK integers are unsigned big-endian without leading zeros. */
		idn_slice v = f[i].v;
		while (v.len > 1 && v.p[0] == 0)
			v = idn_slice_of(v.p + 1, v.len - 1);
		http_resp_printf(r, ",\"%s\":\"", f[i].name);
		b64url(r, v);
		http_resp_puts(r, "\"");
	}
	http_resp_puts(r, "}}");
	return true;
}

void api_json_site(http_resp *r, idn_slice data)
{
	proto_site s;
	if (proto_site_decode(data, &s)) {
		http_resp_puts(r, "null");
		return;
	}
	static const char *const hash[] = {"HASH_TYPE_BY_PREFIX", "HASH_TYPE_BY_SUFFIX",
	                                   "HASH_TYPE_BY_ALL"};
	http_resp_printf(r,
	                 "{\"version\":%u,\"protocolVersion\":\"%u.%u\",\"serialNumber\":%u,"
	                 "\"primaryMask\":{\"multiPrimary\":%s,\"primary\":%s},\"hashOption\":",
	                 s.format, s.major, s.minor, s.serial,
	                 s.flags & PROTO_SITE_MULTI_PRIMARY ? "true" : "false",
	                 s.flags & PROTO_SITE_PRIMARY ? "true" : "false");
	if (s.hash_opt < 3)
		http_resp_printf(r, "\"%s\"", hash[s.hash_opt]);
	else
		http_resp_printf(r, "%u", s.hash_opt);
	http_resp_puts(r, ",\"hashFilter\":");
	api_json_str(r, s.hash_filter);
	http_resp_puts(r, ",\"attributes\":[");
	wire_rd it = proto_site_attrs(&s);
	proto_site_attr at;
	for (int i = 0; proto_site_next_attr(&it, &at) == 1; i++) {
		http_resp_puts(r, i ? ",{\"name\":" : "{\"name\":");
		api_json_str(r, at.name);
		http_resp_puts(r, ",\"value\":");
		api_json_str(r, at.value);
		http_resp_puts(r, "}");
	}
	http_resp_puts(r, "],\"servers\":[");
	it = proto_site_servers(&s);
	proto_server srv;
	static const char *const protos[] = {"UDP", "TCP", "HTTP", "HTTPS"};
	for (int i = 0; proto_site_next_server(&it, &srv) == 1; i++) {
		char addr[64];
		uint8_t v4[4];
		if (proto_addr_ipv4(srv.addr, v4))
			snprintf(addr, sizeof(addr), "%u.%u.%u.%u", v4[0], v4[1], v4[2], v4[3]);
		else
			inet_ntop(AF_INET6, srv.addr, addr, sizeof(addr));
		http_resp_printf(r, "%s{\"serverId\":%u,\"address\":\"%s\",\"publicKey\":",
		                 i ? "," : "", srv.id, addr);
		if (!key_json(r, srv.pubkey)) {
			data_obj(r, "base64");
			http_resp_puts(r, "\"");
			api_base64(r, srv.pubkey);
			http_resp_puts(r, "\"}");
		}
		http_resp_puts(r, ",\"interfaces\":[");
		wire_rd fi = proto_server_ifaces(&srv);
		proto_iface ifc;
		for (int j = 0; proto_server_next_iface(&fi, &ifc) == 1; j++) {
			http_resp_printf(r,
			                 "%s{\"query\":%s,\"admin\":%s,\"protocol\":", j ? "," : "",
			                 ifc.type & PROTO_IF_QUERY ? "true" : "false",
			                 ifc.type & PROTO_IF_ADMIN ? "true" : "false");
			if (ifc.proto < 4)
				http_resp_printf(r, "\"%s\"", protos[ifc.proto]);
			else
				http_resp_printf(r, "%u", ifc.proto);
			http_resp_printf(r, ",\"port\":%u}", ifc.port);
		}
		http_resp_puts(r, "]}");
	}
	http_resp_puts(r, "]}");
}

static void data_json(http_resp *r, const proto_value *v)
{
	if (type_is(v, "HS_ADMIN") && admin_json(r, v->data))
		return;
	if (type_is(v, "HS_VLIST") && vlist_json(r, v->data))
		return;
	if (type_is(v, "HS_PUBKEY") && key_json(r, v->data))
		return;
	if (type_is(v, "HS_SITE") || type_is(v, "HS_SITE.PREFIX")) {
		proto_site s;
		if (proto_site_decode(v->data, &s) == 0) {
			data_obj(r, "site");
			api_json_site(r, v->data);
			http_resp_puts(r, "}");
			return;
		}
	}
	/* Text is shown as text; NUL bytes or invalid UTF-8 make it binary. */
	if (handle_utf8_valid(v->data) && !memchr(v->data.p, 0, v->data.len)) {
		data_obj(r, "string");
		api_json_str(r, v->data);
	} else {
		data_obj(r, "base64");
		http_resp_puts(r, "\"");
		api_base64(r, v->data);
		http_resp_puts(r, "\"");
	}
	http_resp_puts(r, "}");
}

void api_json_value(http_resp *r, const proto_value *v)
{
	http_resp_printf(r, "{\"index\":%u,\"type\":", v->index);
	api_json_str(r, v->type);
	http_resp_puts(r, ",\"data\":");
	data_json(r, v);
	char ts[32];
	time_t t = (time_t)v->timestamp;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	http_resp_printf(r, ",\"ttl\":%u,\"timestamp\":\"%s\"", v->ttl, ts);
	if (v->ttl_type == 1)
		http_resp_puts(r, ",\"ttlType\":1");
	if (v->nrefs) {
		http_resp_puts(r, ",\"refs\":[");
		wire_rd it = wire_rd_init(v->refs.p, v->refs.len);
		proto_ref ref;
		for (int i = 0; proto_ref_next(&it, &ref) == 1; i++) {
			http_resp_puts(r, i ? ",{\"handle\":" : "{\"handle\":");
			api_json_str(r, ref.handle);
			http_resp_printf(r, ",\"index\":%u}", ref.index);
		}
		http_resp_puts(r, "]");
	}
	http_resp_puts(r, "}");
}

void api_json_values(http_resp *r, idn_slice values, uint32_t n)
{
	http_resp_puts(r, "[");
	proto_values_it it = proto_values_begin(values, n);
	proto_value v;
	for (uint32_t i = 0; proto_values_next(&it, &v) == 1; i++) {
		if (i)
			http_resp_puts(r, ",");
		api_json_value(r, &v);
	}
	http_resp_puts(r, "]");
}

void api_html(http_resp *r, idn_slice s)
{
	if (!s.len) /* its pointer may be NULL */
		return;
	size_t from = 0;
	for (size_t i = 0; i < s.len; i++) {
		const char *esc;
		switch (s.p[i]) {
		case '&':
			esc = "&amp;";
			break;
		case '<':
			esc = "&lt;";
			break;
		case '>':
			esc = "&gt;";
			break;
		case '"':
			esc = "&quot;";
			break;
		case '\'':
			esc = "&#39;";
			break;
		case 0:
			esc = "\xef\xbf\xbd"; /* U+FFFD: a NUL has no place in a page */
			break;
		default:
			continue;
		}
		http_resp_append(r, s.p + from, i - from);
		http_resp_puts(r, esc);
		from = i + 1;
	}
	http_resp_append(r, s.p + from, s.len - from);
}
