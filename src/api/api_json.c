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
 *
 * Rendered straight from the answer's wire form into the response buffer:
 * no allocation per value, no printf or strftime (numbers and timestamps
 * are written by hand), strings escaped through a table with the runs that
 * need no escape copied whole (8 bytes at a time while they are plain
 * ASCII), UTF-8 checked as it is copied rather than in a pass of its own.
 * tests/unit/test_json_pinned.c holds the output of a template record byte
 * for byte, and the escaping to what it was.
 */
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h> /* baseline on x86-64; elsewhere the 8-byte words below */
#endif

#include "api/reply.h"
#include "core/codec.h"
#include "proto/handle.h"
#include "proto/reserved.h"

/* Appends n bytes; literals and numbers mostly land in room reserved already. */
static inline void app(http_resp *r, const void *p, size_t n)
{
	if (r->cap - r->len >= n) {
		memcpy(r->body + r->len, p, n);
		r->len += n;
	} else {
		http_resp_append(r, p, n);
	}
}

#define LIT(r, s) app((r), (s), sizeof(s) - 1)

/* need bytes of room at r's end, reserved only when they are not there: NULL, r->oom. */
static inline char *room_at(http_resp *r, size_t need)
{
	return r->cap - r->len >= need ? (char *)r->body + r->len : (char *)http_resp_room(r, need);
}

static bool type_is(const proto_value *v, const char *t)
{
	size_t n = strlen(t);
	return v->type.len == n && !memcmp(v->type.p, t, n);
}

/*
 * v in decimal at o (10 bytes of room), two digits a step from a table
 * (indexes, TTLs: ~40 a record), from the last digit back: no copy of a
 * variable length. Returns its end.
 */
static char *u32_at(char *o, uint32_t v)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
	                               "25262728293031323334353637383940414243444546474849"
	                               "50515253545556575859606162636465666768697071727374"
	                               "75767778798081828384858687888990919293949596979899";
	static const uint32_t pow10[10] = {1,      10,      100,      1000,      10000,
	                                   100000, 1000000, 10000000, 100000000, 1000000000};
	/* digits: from the bit length (1233 / 4096 ~ log10 2), + 1 when v reaches the next power */
	uint32_t bits = 32 - (uint32_t)__builtin_clz(v | 1);
	size_t n = (bits * 1233) >> 12;
	n += (v | 1) >= pow10[n];
	char *e = o + n;
	o = e;
	while (v >= 100) {
		o -= 2;
		memcpy(o, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(o - 2, pairs + 2 * v, 2);
	else
		o[-1] = (char)('0' + v);
	return e;
}

static void put_u32(http_resp *r, uint32_t v)
{
	if (r->cap - r->len < 10 && !http_resp_room(r, 10))
		return;
	r->len = (size_t)((uint8_t *)u32_at((char *)r->body + r->len, v) - r->body);
}

static void two(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
}

/* Unix seconds as YYYY-MM-DDTHH:MM:SSZ at o (20 bytes, the civil calendar of days since 1970). */
static char *time_at(char *o, uint32_t t)
{
	/* a record's values mostly share their timestamp: the last one is kept */
	static _Thread_local uint64_t last_t = UINT64_MAX; /* none yet */
	static _Thread_local char last[20];
	if (t != last_t) {
		uint32_t days = t / 86400, sec = t % 86400;
		/* Howard Hinnant's civil_from_days, for days >= 0 */
		uint32_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
		uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
		uint32_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
		uint32_t y = yoe + era * 400 + (m <= 2);
		two(last, y / 100);
		two(last + 2, y % 100);
		last[4] = '-';
		two(last + 5, m);
		last[7] = '-';
		two(last + 8, d);
		last[10] = 'T';
		two(last + 11, sec / 3600);
		last[13] = ':';
		two(last + 14, sec / 60 % 60);
		last[16] = ':';
		two(last + 17, sec % 60);
		last[19] = 'Z';
		last_t = t;
	}
	memcpy(o, last, sizeof(last));
	return o + sizeof(last);
}

/*
 * What a byte becomes inside a JSON string: 0 itself, else one of these.
 * HIGH is a byte of 0x80 and above: itself in valid UTF-8, else U+FFFD.
 */
enum { ESC_QUOTE = 1, ESC_BSLASH, ESC_N, ESC_R, ESC_T, ESC_CTRL, ESC_HIGH };
static const uint8_t esc_class[256] = {
    [0 ... 8] = ESC_CTRL,       ['\t'] = ESC_T,      ['\n'] = ESC_N,
    [11 ... 12] = ESC_CTRL,     ['\r'] = ESC_R,      [14 ... 0x1f] = ESC_CTRL,
    ['"'] = ESC_QUOTE,          ['\\'] = ESC_BSLASH, [0x7f] = ESC_CTRL,
    [0x80 ... 0xff] = ESC_HIGH,
};

/* The escape of byte c, a control byte, '"' or '\\', at o; returns its end. */
static char *esc_byte(char *o, uint8_t c)
{
	static const char hex[] = "0123456789abcdef";
	static const char simple[][2] = {[ESC_QUOTE] = "\\\"",
	                                 [ESC_BSLASH] = "\\\\",
	                                 [ESC_N] = "\\n",
	                                 [ESC_R] = "\\r",
	                                 [ESC_T] = "\\t"};
	uint8_t k = esc_class[c];
	if (k != ESC_CTRL) {
		memcpy(o, simple[k], 2);
		return o + 2;
	}
	memcpy(o, "\\u00", 4);
	o[4] = hex[c >> 4];
	o[5] = hex[c & 15];
	return o + 6;
}

/* s, which is not valid UTF-8, escaped between quotes: each byte >= 0x80 is U+FFFD. */
static void json_str_replacing(http_resp *r, idn_slice s)
{
	char *o0 = (char *)http_resp_room(r, 6 * s.len + 2), *o = o0;
	if (!o)
		return;
	*o++ = '"';
	const uint8_t *p = s.p, *end = s.p + s.len;
	while (p < end) {
		const uint8_t *q = p;
		while (q < end && esc_class[*q] == 0)
			q++;
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		if (q == end)
			break;
		if (esc_class[*q] == ESC_HIGH) {
			memcpy(o, "\\ufffd", 6);
			o += 6;
		} else {
			o = esc_byte(o, *q);
		}
		p = q + 1;
	}
	*o++ = '"';
	r->len += (size_t)(o - o0);
}

/* The index of the first byte of an 8-byte word (as loaded) that sets a high bit of m. */
static inline size_t first_hit(uint64_t m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(m) >> 3;
#else
	return (size_t)__builtin_clzll(m) >> 3;
#endif
}

enum { JSON_WORD = 8 };
static const uint64_t ONES = 0x0101010101010101ull, HIGH = 0x8080808080808080ull;

/*
 * The next word of [p, end), its bytes past end made plain ASCII (' '); *n =
 * its bytes of s. A short tail is read in 4-, 2- and 1-byte pieces.
 */
static inline uint64_t word_at(const uint8_t *p, const uint8_t *end, size_t *n)
{
	uint64_t w = ONES * ' ';
	if (end - p >= JSON_WORD) {
		*n = JSON_WORD;
		memcpy(&w, p, JSON_WORD);
		return w;
	}
	*n = (size_t)(end - p);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t t = 0;
	unsigned sh = 0;
	if (*n & 4) {
		uint32_t x;
		memcpy(&x, p, 4);
		t = x, p += 4, sh = 32;
	}
	if (*n & 2) {
		uint16_t x;
		memcpy(&x, p, 2);
		t |= (uint64_t)x << sh, p += 2, sh += 16;
	}
	if (*n & 1)
		t |= (uint64_t)*p << sh, sh += 8;
	return t | (w >> sh << sh); /* sh < 64: the tail is under a word */
#else
	memcpy(&w, p, *n);
	return w;
#endif
}

/*
 * The bytes of word w that need an escape inside a JSON string (below 0x20,
 * '"', '\\', DEL; bytes of 0x80 and above do not): the lowest byte marked is
 * always one (a borrow only runs on past a byte that is), the bytes above it
 * may be marked wrongly.
 */
static inline uint64_t esc_mask(uint64_t w)
{
	return ((w - ONES * 0x20) | ((w ^ (ONES * '"')) - ONES) | ((w ^ (ONES * '\\')) - ONES) |
	        ((w ^ (ONES * 0x7f)) - ONES)) &
	       ~w & HIGH;
}

/*
 * Room past a string's escape for one whole step (16 bytes stored at once).
 * OVERREAD_OK(p): the 16 bytes from p lie in one page, so reading them is
 * safe even past the string's end (what a page holds may be read); not under
 * AddressSanitizer, which would call it an overflow of the string's object.
 */
enum { JSON_STEP = 16 };
#if defined(__SANITIZE_ADDRESS__)
#define OVERREAD_OK(p) false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OVERREAD_OK(p) false
#endif
#endif
#ifndef OVERREAD_OK
#define OVERREAD_OK(p) (((uintptr_t)(p)&4095) <= 4096 - 16)
#endif

/* Room for n bytes escaped between quotes, with the slack of a step stored whole. */
#define TEXT_ROOM(n) (6 * (n) + 2 + JSON_STEP)

/* Leads of three-byte sequences whose continuation bytes may be any (E1-EC, EE, EF). */
static const uint8_t utf8_lead3[256] = {[0xE1 ... 0xEC] = 1, [0xEE ... 0xEF] = 1};

/*
 * s escaped between quotes in one pass at o (TEXT_ROOM(s.len) bytes of
 * room), when it is valid UTF-8 (RFC 3629: handle_utf8_seq's rule) and has
 * no NUL byte unless nul_ok: its end; NULL, r's length untouched, when it is
 * not. 16 bytes a step with SSE2 (x86-64's
 * baseline), else and for the tail a word at a time (stored whole: the room
 * has the slack), while it is plain ASCII; a run of multi-byte characters is
 * checked and copied a character at a time, the three-byte ones of CJK text
 * (leads E1-EC, EE, EF: any continuation bytes) inline.
 */
static char *text_at(char *o, idn_slice s, bool nul_ok)
{
	const uint8_t *p = s.p, *end = s.p + s.len;
	*o++ = '"';
	while (p < end) {
		size_t k;
#ifdef __SSE2__
		/*
		 * 16 bytes a step: stored whole (room: 6 a byte and a step), then
		 * looked at. A short string or tail is read whole too when the 16
		 * bytes stay in its page, the bytes past its end not counted: one
		 * step for most strings, no call and no piecewise tail.
		 */
		size_t left = (size_t)(end - p);
		if (left >= 16 || OVERREAD_OK(p)) {
			__m128i x = _mm_loadu_si128((const __m128i *)p);
			_mm_storeu_si128((__m128i *)o, x);
			/* signed: bytes of 0x80 and above are below ' ' too, and stop the step */
			__m128i hit =
			    _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(' ')),
			                              _mm_cmpeq_epi8(x, _mm_set1_epi8('"'))),
			                 _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')),
			                              _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));
			size_t step = left < 16 ? left : 16;
			/* a mark just past the step: the first mark is a hit or the step's end */
			k = (size_t)__builtin_ctz((unsigned)_mm_movemask_epi8(hit) | 1u << step);
			if (k == step) {
				p += step, o += step;
				continue;
			}
		} else
#endif
		{
			size_t n;
			uint64_t w = word_at(p, end, &n), m = esc_mask(w) | (w & HIGH);
			memcpy(o, &w, JSON_WORD);
			if (!m) {
				p += n, o += n;
				continue;
			}
			k = first_hit(m); /* before n: the padding is plain */
		}
		p += k, o += k;
		if (*p < 0x80) {
			if (*p == 0 && !nul_ok)
				return NULL;
			o = esc_byte(o, *p++);
			continue;
		}
		do {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* two CJK characters a step: leads at 0, 3; continuations at 1, 2, 4, 5 */
			while (end - p >= JSON_WORD && utf8_lead3[p[0]] & utf8_lead3[p[3]]) {
				const uint64_t cont = 0xC0C000C0C000ull, want = 0x808000808000ull;
				uint64_t x;
				memcpy(&x, p, JSON_WORD);
				if ((x & cont) != want)
					break;
				memcpy(o, &x, JSON_WORD);
				o += 6, p += 6;
			}
			if (p == end)
				break;
			if (*p < 0x80) {
				/* one plain byte between characters (a space between words): stay
				 */
				if (esc_class[*p] || end - p < 2 || p[1] < 0x80)
					break;
				*o++ = (char)*p++;
				continue;
			}
#endif
			if (utf8_lead3[*p] && end - p >= 3 && (p[1] & 0xC0) == 0x80 &&
			    (p[2] & 0xC0) == 0x80) {
				o[0] = (char)p[0], o[1] = (char)p[1], o[2] = (char)p[2];
				o += 3, p += 3;
				continue;
			}
			size_t len = handle_utf8_seq(p, end);
			if (!len)
				return NULL;
			for (size_t i = 0; i < len; i++)
				o[i] = (char)p[i];
			o += len, p += len;
		} while (p < end && *p >= 0x80);
	}
	*o++ = '"';
	return o;
}

/* s escaped between quotes (text_at); false, with nothing written, when it is not text. */
static bool json_text(http_resp *r, idn_slice s, bool nul_ok)
{
	char *o0 = room_at(r, TEXT_ROOM(s.len));
	if (!o0)
		return true; /* out of memory: r->oom says it */
	char *o = text_at(o0, s, nul_ok);
	if (!o)
		return false;
	r->len += (size_t)(o - o0);
	return true;
}

void api_json_str(http_resp *r, idn_slice s)
{
	if (!s.len) { /* its pointer may be NULL */
		LIT(r, "\"\"");
		return;
	}
	if (!json_text(r, s, true))
		json_str_replacing(r, s);
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
	/* the 12 bits, highest first, four at a time from a table */
	static const char nib[16][4] = {"0000", "0001", "0010", "0011", "0100", "0101",
	                                "0110", "0111", "1000", "1001", "1010", "1011",
	                                "1100", "1101", "1110", "1111"};
	char bits[12];
	memcpy(bits, nib[a.rights >> 8 & 15], 4);
	memcpy(bits + 4, nib[a.rights >> 4 & 15], 4);
	memcpy(bits + 8, nib[a.rights & 15], 4);
	LIT(r, "{\"format\":\"admin\",\"value\":{\"handle\":");
	api_json_str(r, a.handle);
	LIT(r, ",\"index\":");
	put_u32(r, a.index);
	LIT(r, ",\"permissions\":\"");
	app(r, bits, sizeof(bits));
	LIT(r, "\"}}");
	return true;
}

/* [{"handle":..,"index":..},...] of raw references. */
static void refs_json(http_resp *r, idn_slice refs)
{
	LIT(r, "[");
	wire_rd it = wire_rd_init(refs.p, refs.len);
	proto_ref ref;
	for (uint32_t i = 0; proto_ref_next(&it, &ref) == 1; i++) {
		if (i)
			LIT(r, ",");
		LIT(r, "{\"handle\":");
		api_json_str(r, ref.handle);
		LIT(r, ",\"index\":");
		put_u32(r, ref.index);
		LIT(r, "}");
	}
	LIT(r, "]");
}

static bool vlist_json(http_resp *r, idn_slice data)
{
	proto_vlist v;
	if (proto_vlist_decode(data, &v))
		return false;
	data_obj(r, "vlist");
	refs_json(r, v.refs);
	http_resp_puts(r, "}");
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

/* The literal s at o; its end. */
#define PUT(o, s) ((char *)memcpy((o), (s), sizeof(s) - 1) + sizeof(s) - 1)

enum {
	/* a value's fixed text but type and data: {"index":N,"type": ...
	   ,"ttl":N,"timestamp":"..Z","ttlType":1,"refs": */
	VALUE_FIXED = 128,
};

/* The end of what was written at o: r's length. */
static void end_at(http_resp *r, const char *o)
{
	r->len = (size_t)((const uint8_t *)o - r->body);
}

/* The special formats of HS_ types; false: shown as a string or base64. */
static bool special_json(http_resp *r, const proto_value *v)
{
	if (type_is(v, "HS_ADMIN"))
		return admin_json(r, v->data);
	if (type_is(v, "HS_VLIST"))
		return vlist_json(r, v->data);
	if (type_is(v, "HS_PUBKEY"))
		return key_json(r, v->data);
	if (type_is(v, "HS_SITE") || type_is(v, "HS_SITE.PREFIX")) {
		proto_site s;
		if (proto_site_decode(v->data, &s) == 0) {
			data_obj(r, "site");
			api_json_site(r, v->data);
			http_resp_puts(r, "}");
			return true;
		}
	}
	return false;
}

static void data_json(http_resp *r, const proto_value *v)
{
	if (v->type.len > 3 && !memcmp(v->type.p, "HS_", 3) && special_json(r, v))
		return;
	/* Text is shown as text; NUL bytes or invalid UTF-8 make it binary. */
	if (!v->data.len) {
		LIT(r, "{\"format\":\"string\",\"value\":\"\"}");
		return;
	}
	/* prefix, text and the value's fixed end in one room (VALUE_FIXED) */
	static const char pre[] = "{\"format\":\"string\",\"value\":";
	char *o0 = room_at(r, sizeof(pre) + TEXT_ROOM(v->data.len) + VALUE_FIXED);
	if (!o0)
		return; /* r->oom */
	char *o = text_at(PUT(o0, pre), v->data, false);
	if (o) {
		*o++ = '}';
		end_at(r, o);
	} else {
		LIT(r, "{\"format\":\"base64\",\"value\":\"");
		api_base64(r, v->data);
		LIT(r, "\"}");
	}
}

/*
 * A value's type as a JSON string, remembered per thread: a store's records
 * repeat a few dozen types (a template's field names, URL, HS_ADMIN), and
 * escaping even a short one cost ~150 instructions where its copy costs ~30.
 * A slot is found by the type's first 8 bytes and length and holds the
 * type's bytes (the first 16 and the rest, zero past its end), compared
 * whole, in fixed-size pieces, before its JSON is used, so two types
 * sharing a slot only replace each other. Its JSON is kept with the
 * ',"data":' that follows. 72 bytes a slot, 18 KB a thread.
 */
enum { TYPE_MEMO_SLOTS = 256, TYPE_MEMO_MAX = 20, TYPE_MEMO_OUT = 50 };
typedef struct type_memo {
	uint8_t key[16];         /* the first 16 bytes, zero past the type's end */
	uint32_t more;           /* bytes 16-19, the same */
	uint8_t len, out_len;    /* len 0: an empty slot */
	char out[TYPE_MEMO_OUT]; /* "type","data": */
} type_memo;

/*
 * The first 16 bytes of t (1 to TYPE_MEMO_MAX bytes) into key and the rest
 * into *more, zero past its end: one masked 16-byte load when they stay in
 * its page (OVERREAD_OK), else a copy.
 */
static inline void type_key(idn_slice t, uint8_t key[16], uint32_t *more)
{
	*more = 0;
	if (t.len > 16)
		memcpy(more, t.p + 16, t.len - 16);
#ifdef __SSE2__
	if (OVERREAD_OK(t.p)) {
		const __m128i at =
		    _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
		__m128i x = _mm_loadu_si128((const __m128i *)t.p);
		x = _mm_and_si128(x, _mm_cmpgt_epi8(_mm_set1_epi8((char)t.len), at));
		_mm_storeu_si128((__m128i *)key, x);
		return;
	}
#endif
	memset(key, 0, 16);
	memcpy(key, t.p, t.len < 16 ? t.len : 16);
}

/* t as JSON and the ,"data": after it, from the memo when it is there. */
static void value_type(http_resp *r, idn_slice t)
{
	static _Thread_local type_memo memo[TYPE_MEMO_SLOTS];
	if (t.len - 1 >= TYPE_MEMO_MAX) { /* empty (its pointer may be NULL) or long */
		api_json_str(r, t);
		LIT(r, ",\"data\":");
		return;
	}
	uint8_t key[16];
	uint32_t more;
	type_key(t, key, &more);
	uint64_t head;
	memcpy(&head, key, sizeof(head));
	type_memo *m = &memo[((head ^ t.len) * 0x9E3779B97F4A7C15ull) >> 56];
	if (m->len == t.len && !memcmp(m->key, key, 16) && m->more == more &&
	    r->cap - r->len >= TYPE_MEMO_OUT) {
		memcpy(r->body + r->len, m->out, TYPE_MEMO_OUT); /* whole: the room is there */
		r->len += m->out_len;
		return;
	}
	size_t at = r->len;
	api_json_str(r, t);
	LIT(r, ",\"data\":");
	if (r->oom || r->len - at > TYPE_MEMO_OUT)
		return;
	memcpy(m->key, key, 16);
	m->more = more;
	m->len = (uint8_t)t.len;
	m->out_len = (uint8_t)(r->len - at);
	memcpy(m->out, r->body + at, m->out_len);
}

/*
 * A value's index in decimal at o (10 bytes of room): a record's indexes
 * mostly count up one by one (a template's fields: 2000, 2001, ...), so the
 * last one written is kept and, when this one is the next and its last digit
 * is not a 9, copied with that digit moved on. Returns its end.
 */
static char *index_at(char *o, uint32_t v)
{
	static _Thread_local uint64_t last_v = 0; /* 64 bits: UINT32_MAX + 1 is not 0 */
	static _Thread_local char last[10] = "0";
	static _Thread_local size_t last_n = 1;
	if (v == last_v + 1 && last[last_n - 1] != '9') {
		last[last_n - 1]++;
		last_v = v;
		memcpy(o, last, sizeof(last)); /* whole: the room is there */
		return o + last_n;
	}
	char *e = u32_at(o, v);
	last_v = v, last_n = (size_t)(e - o);
	memcpy(last, o, sizeof(last));
	return e;
}

/* v as api_json_value writes it, after a comma when comma: one room check for both. */
static inline void value_json(http_resp *r, const proto_value *v, bool comma)
{
	if (r->cap - r->len < VALUE_FIXED && !http_resp_room(r, VALUE_FIXED))
		return; /* r->oom */
	char *o = (char *)r->body + r->len;
	*o = ',';
	o = PUT(o + comma, "{\"index\":");
	o = index_at(o, v->index);
	o = PUT(o, ",\"type\":");
	end_at(r, o);
	value_type(r, v->type); /* and ,"data": */
	data_json(r, v);
	if (r->cap - r->len < VALUE_FIXED && !http_resp_room(r, VALUE_FIXED))
		return;
	o = (char *)r->body + r->len;
	o = PUT(o, ",\"ttl\":");
	/* the last TTL written is kept: a record's values mostly share theirs */
	static _Thread_local uint32_t ttl_v = 0;
	static _Thread_local char ttl_s[10] = "0";
	static _Thread_local size_t ttl_n = 1;
	if (v->ttl == ttl_v) {
		memcpy(o, ttl_s, sizeof(ttl_s)); /* whole: the room is there */
		o += ttl_n;
	} else {
		char *e = u32_at(o, v->ttl);
		ttl_v = v->ttl, ttl_n = (size_t)(e - o);
		memcpy(ttl_s, o, sizeof(ttl_s));
		o = e;
	}
	o = PUT(o, ",\"timestamp\":\"");
	o = time_at(o, v->timestamp);
	*o++ = '"';
	if (v->ttl_type == 1)
		o = PUT(o, ",\"ttlType\":1");
	if (v->nrefs) {
		o = PUT(o, ",\"refs\":");
		end_at(r, o);
		refs_json(r, v->refs);
		LIT(r, "}");
		return;
	}
	*o++ = '}';
	end_at(r, o);
}

void api_json_value(http_resp *r, const proto_value *v)
{
	value_json(r, v, false);
}

/*
 * The value at *p (values end at end) without references, read with a bounds
 * check per length rather than per field: true, *p past it; false for anything
 * else (references, too short), which proto_values_next reads or refuses.
 */
static inline bool value_plain(const uint8_t **p, const uint8_t *end, proto_value *v)
{
	const uint8_t *q = *p;
	size_t left = (size_t)(end - q);
	if (left < PROTO_VALUE_MIN)
		return false;
	left -= PROTO_VALUE_MIN; /* the bytes type and data may take */
	uint32_t tl = idn_be32(q + 14);
	if (tl > left)
		return false;
	uint32_t dl = idn_be32(q + 18 + tl);
	if (dl > left - tl || idn_be32(q + 22 + tl + dl))
		return false;
	v->index = idn_be32(q);
	v->timestamp = idn_be32(q + 4);
	v->ttl_type = q[8];
	v->ttl = idn_be32(q + 9);
	v->perms = q[13];
	v->type = idn_slice_of(q + 18, tl);
	v->data = idn_slice_of(q + 22 + tl, dl);
	v->nrefs = 0;
	*p = q + PROTO_VALUE_MIN + tl + dl;
	v->refs = idn_slice_of(*p, 0);
	return true;
}

int api_json_values(http_resp *r, idn_slice values, uint32_t n)
{
	/* the whole answer's room at once: it is about 2.5 times the wire form */
	if (!http_resp_room(r, values.len * 3 + 64))
		return 0; /* r->oom: the server answers 500 */
	LIT(r, "[");
	/* (an empty slice may carry a NULL pointer: no arithmetic on it) */
	const uint8_t *p = values.p, *end = p ? p + values.len : p;
	int rc = 0;
	for (uint32_t i = 0; i < n; i++) {
		proto_value v;
		if (!value_plain(&p, end, &v)) {
			proto_values_it it =
			    proto_values_begin(idn_slice_of(p, (size_t)(end - p)), 1);
			if ((rc = proto_values_next(&it, &v)) != 1)
				break;
			rc = 0;
			p = it.c.pos;
		}
		value_json(r, &v, i > 0);
	}
	LIT(r, "]");
	return rc;
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
