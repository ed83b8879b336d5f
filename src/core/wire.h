/*
 * wire.h - bounds-checked big-endian cursors over byte buffers.
 *
 * A cursor carries a sticky error: once a read runs past the end (or a write
 * past the capacity) every later call is a no-op returning zeroes, and the
 * caller checks `err` once after decoding a whole structure. Reads never touch
 * a byte outside [start, end).
 *
 * Ownership: cursors borrow their buffer; they never allocate or free.
 * Pointers returned by wire_get_*() point into that buffer and live as long as
 * it does.
 */
#ifndef IDN_CORE_WIRE_H
#define IDN_CORE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"

/* A borrowed byte range. */
typedef struct idn_slice {
	const uint8_t *p;
	uint32_t len;
} idn_slice;

#define IDN_SLICE(lit) ((idn_slice){(const uint8_t *)(lit), (uint32_t)(sizeof(lit) - 1)})

static inline idn_slice idn_slice_of(const void *p, size_t len)
{
	return (idn_slice){(const uint8_t *)p, (uint32_t)len};
}

static inline int idn_slice_eq(idn_slice a, idn_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* ---- big-endian helpers on raw memory (caller checked the bounds) ---- */

static inline uint16_t idn_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t idn_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void idn_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void idn_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- read cursor ---- */

typedef struct wire_rd {
	const uint8_t *start;
	const uint8_t *pos;
	const uint8_t *end;
	int err; /* 0 or IDN_ETRUNC / IDN_EINVAL, sticky */
} wire_rd;

static inline wire_rd wire_rd_init(const void *buf, size_t len)
{
	const uint8_t *p = (const uint8_t *)buf;
	/* An empty slice may carry a NULL pointer: no arithmetic on it. */
	return (wire_rd){p, p, p ? p + len : p, IDN_OK};
}

static inline size_t wire_rd_left(const wire_rd *c)
{
	return (size_t)(c->end - c->pos);
}

static inline size_t wire_rd_off(const wire_rd *c)
{
	return (size_t)(c->pos - c->start);
}

/* Marks the cursor failed (first error wins) and empties it. */
static inline void wire_rd_fail(wire_rd *c, int err)
{
	if (c->err == IDN_OK)
		c->err = err;
	c->pos = c->end;
}

/* Returns a pointer to the next n bytes and advances, or NULL (and fails). */
static inline const uint8_t *wire_get_raw(wire_rd *c, size_t n)
{
	if (c->err != IDN_OK || wire_rd_left(c) < n) {
		wire_rd_fail(c, IDN_ETRUNC);
		return NULL;
	}
	const uint8_t *p = c->pos;
	c->pos += n;
	return p;
}

static inline void wire_skip(wire_rd *c, size_t n)
{
	(void)wire_get_raw(c, n);
}

static inline uint8_t wire_get_u8(wire_rd *c)
{
	const uint8_t *p = wire_get_raw(c, 1);
	return p ? p[0] : 0;
}

static inline uint16_t wire_get_u16(wire_rd *c)
{
	const uint8_t *p = wire_get_raw(c, 2);
	return p ? idn_be16(p) : 0;
}

static inline uint32_t wire_get_u32(wire_rd *c)
{
	const uint8_t *p = wire_get_raw(c, 4);
	return p ? idn_be32(p) : 0;
}

/* int4 length + bytes (the protocol's `str` and `bytes`). */
static inline idn_slice wire_get_lbytes(wire_rd *c)
{
	uint32_t n = wire_get_u32(c);
	const uint8_t *p = wire_get_raw(c, n);
	return p ? (idn_slice){p, n} : (idn_slice){NULL, 0};
}

/*
 * int4 count, checked against the bytes left assuming each item takes at least
 * min_item bytes: a huge announced count fails here, not in a loop later.
 */
static inline uint32_t wire_get_count(wire_rd *c, size_t min_item)
{
	uint32_t n = wire_get_u32(c);
	if (c->err == IDN_OK && min_item > 0 && (uint64_t)n * min_item > wire_rd_left(c)) {
		wire_rd_fail(c, IDN_ETRUNC);
		return 0;
	}
	return n;
}

/* ---- write cursor ---- */

typedef struct wire_wr {
	uint8_t *start;
	uint8_t *pos;
	uint8_t *end;
	int err; /* 0 or IDN_ESPACE, sticky */
} wire_wr;

static inline wire_wr wire_wr_init(void *buf, size_t cap)
{
	uint8_t *p = (uint8_t *)buf;
	return (wire_wr){p, p, p ? p + cap : p, IDN_OK};
}

static inline size_t wire_wr_len(const wire_wr *w)
{
	return (size_t)(w->pos - w->start);
}

static inline size_t wire_wr_left(const wire_wr *w)
{
	return (size_t)(w->end - w->pos);
}

/* Reserves n bytes and returns them, or NULL (and fails). */
static inline uint8_t *wire_put_raw(wire_wr *w, size_t n)
{
	if (w->err != IDN_OK || wire_wr_left(w) < n) {
		if (w->err == IDN_OK)
			w->err = IDN_ESPACE;
		return NULL;
	}
	uint8_t *p = w->pos;
	w->pos += n;
	return p;
}

static inline void wire_put_u8(wire_wr *w, uint8_t v)
{
	uint8_t *p = wire_put_raw(w, 1);
	if (p)
		p[0] = v;
}

static inline void wire_put_u16(wire_wr *w, uint16_t v)
{
	uint8_t *p = wire_put_raw(w, 2);
	if (p)
		idn_put_be16(p, v);
}

static inline void wire_put_u32(wire_wr *w, uint32_t v)
{
	uint8_t *p = wire_put_raw(w, 4);
	if (p)
		idn_put_be32(p, v);
}

static inline void wire_put_data(wire_wr *w, const void *d, size_t n)
{
	uint8_t *p = wire_put_raw(w, n);
	if (p && n)
		memcpy(p, d, n);
}

/* int4 length + bytes. */
static inline void wire_put_lbytes(wire_wr *w, const void *d, size_t n)
{
	wire_put_u32(w, (uint32_t)n);
	wire_put_data(w, d, n);
}

static inline void wire_put_slice(wire_wr *w, idn_slice s)
{
	wire_put_lbytes(w, s.p, s.len);
}

static inline void wire_put_cstr(wire_wr *w, const char *s)
{
	wire_put_lbytes(w, s, strlen(s));
}

#endif
