/*
 * codec.c - hex, base64 and decimal numbers (codec.h).
 */
#include <string.h>

#include "core/codec.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t codec_dec(uint64_t v, char *out)
{
	char b[CODEC_DEC_MAX];
	size_t i = sizeof(b);
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(out, b + i, sizeof(b) - i);
	return sizeof(b) - i;
}

int codec_hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void codec_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static ssize_t fail(size_t *bad, size_t at, ssize_t code)
{
	if (bad)
		*bad = at;
	return code;
}

ssize_t codec_hex_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *bad)
{
	if (len % 2)
		return fail(bad, len, CODEC_ELENGTH);
	if (len / 2 > cap)
		return fail(bad, len, CODEC_ESPACE);
	for (size_t i = 0; i < len; i += 2) {
		int hi = codec_hex_digit(in[i]), lo = codec_hex_digit(in[i + 1]);
		if (hi < 0 || lo < 0)
			return fail(bad, hi < 0 ? i : i + 1, CODEC_EBADCHAR);
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (ssize_t)(len / 2);
}

size_t codec_base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

/* The value of base64 character c, -1 outside the alphabet (flags: CODEC_B64_URL). */
static int b64_digit(uint8_t c, unsigned flags)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || (c == '-' && (flags & CODEC_B64_URL)))
		return 62;
	if (c == '/' || (c == '_' && (flags & CODEC_B64_URL)))
		return 63;
	return -1;
}

static int ignored(uint8_t c, unsigned flags)
{
	return (flags & CODEC_B64_LOOSE) &&
	       (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=');
}

ssize_t codec_base64_decode(const uint8_t *in, size_t len, unsigned flags, uint8_t *out, size_t cap,
                            size_t *bad)
{
	size_t n = len, digits = 0;
	if (!(flags & CODEC_B64_LOOSE) && n % 4 == 0 && n >= 1 && in[n - 1] == '=') {
		n--;
		if (in[n - 1] == '=')
			n--;
	}
	for (size_t i = 0; i < n; i++)
		digits += !ignored(in[i], flags);
	if (digits % 4 == 1)
		return fail(bad, len, CODEC_ELENGTH);
	if (digits / 4 * 3 + (digits % 4 ? digits % 4 - 1 : 0) > cap)
		return fail(bad, len, CODEC_ESPACE);
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (ignored(in[i], flags))
			continue;
		int v = b64_digit(in[i], flags);
		if (v < 0)
			return fail(bad, i, CODEC_EBADCHAR);
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (ssize_t)o;
}
