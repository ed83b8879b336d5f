/* handle.c - identifier syntax: split, UTF-8 check, storage keys (see handle.h). */
#include "proto/handle.h"

#include <string.h>

static inline uint8_t upper(uint8_t c)
{
	return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
}

int handle_split(idn_slice h, handle_parts *out)
{
	const uint8_t *slash = h.len ? memchr(h.p, '/', h.len) : NULL;
	if (!slash)
		return IDN_EINVAL;
	uint32_t plen = (uint32_t)(slash - h.p);
	out->prefix = (idn_slice){h.p, plen};
	out->suffix = (idn_slice){slash + 1, h.len - plen - 1};
	return IDN_OK;
}

size_t handle_utf8_seq(const uint8_t *p, const uint8_t *end)
{
	uint8_t c = *p;
	if (c < 0x80)
		return 1;
	uint32_t cp;
	size_t n;
	if ((c & 0xE0) == 0xC0) {
		cp = c & 0x1F;
		n = 1;
	} else if ((c & 0xF0) == 0xE0) {
		cp = c & 0x0F;
		n = 2;
	} else if ((c & 0xF8) == 0xF0) {
		cp = c & 0x07;
		n = 3;
	} else {
		return 0;
	}
	if ((size_t)(end - p) <= n)
		return 0;
	for (size_t i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
	if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n + 1;
}

int handle_utf8_valid(idn_slice s)
{
	const uint8_t *p = s.p, *end = s.p + s.len;
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t n = handle_utf8_seq(p, end);
		if (!n)
			return 0;
		p += n;
	}
	return 1;
}

int handle_prefix_norm(idn_slice prefix, uint8_t *out, size_t cap)
{
	if (prefix.len > cap)
		return IDN_ERANGE;
	for (uint32_t i = 0; i < prefix.len; i++)
		out[i] = upper(prefix.p[i]);
	return (int)prefix.len;
}

int handle_key(idn_slice h, bool suffix_case_sensitive, uint8_t *key)
{
	handle_parts parts;
	if (handle_split(h, &parts))
		return IDN_EINVAL;
	if (h.len > HANDLE_KEY_MAX)
		return IDN_ERANGE;
	uint32_t i = 0;
	for (; i <= parts.prefix.len; i++) /* the prefix and its '/' */
		key[i] = upper(h.p[i]);
	if (suffix_case_sensitive)
		memcpy(key + i, h.p + i, h.len - i);
	else
		for (; i < h.len; i++)
			key[i] = upper(h.p[i]);
	return (int)h.len;
}

int handle_na_prefix(idn_slice h, idn_slice *prefix)
{
	static const char na[] = "0.NA/";
	if (h.len <= sizeof(na) - 1)
		return IDN_EINVAL;
	for (size_t i = 0; i < sizeof(na) - 1; i++)
		if (upper(h.p[i]) != (uint8_t)na[i])
			return IDN_EINVAL;
	*prefix = (idn_slice){h.p + 5, h.len - 5};
	return IDN_OK;
}
