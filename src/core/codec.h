/*
 * codec.h - hex and base64 (RFC 4648), encoded and decoded in one place, and
 * unsigned decimal numbers written without printf (hot paths: REST answers).
 *
 * Written here rather than taken from OpenSSL (EVP_EncodeBlock /
 * EVP_DecodeBlock): core links nothing, and those calls take int lengths,
 * stop at whitespace rules of their own, and cannot say where the input
 * went wrong, which the import's messages name ("bad hex digit at offset 3").
 *
 * Decoders return the number of bytes written, or a negative CODEC_E* with
 * *bad (when not NULL) set to the offset of the first bad character
 * (CODEC_EBADCHAR) or to len (CODEC_ELENGTH, CODEC_ESPACE). Encoders never
 * fail: the caller gives the room the *_len functions say.
 * Ownership: nothing is allocated; in and out must not overlap.
 */
#ifndef IDN_CORE_CODEC_H
#define IDN_CORE_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	CODEC_EBADCHAR = -1, /* a character outside the alphabet */
	CODEC_ELENGTH = -2,  /* a length no encoding has (odd hex, base64 4n+1) */
	CODEC_ESPACE = -3,   /* the decoded bytes do not fit in out */
};

/* base64 decoding options */
enum {
	CODEC_B64_URL = 1,   /* '-' and '_' accepted for '+' and '/' (base64url) */
	CODEC_B64_LOOSE = 2, /* whitespace and '=' ignored wherever they are */
};

/* The value of hex digit c (either case), or -1. */
int codec_hex_digit(uint8_t c);
/* v in decimal at out (room for CODEC_DEC_MAX bytes); returns its length. */
enum { CODEC_DEC_MAX = 20 };
size_t codec_dec(uint64_t v, char *out);

/* Writes the 2n lowercase hex digits of in[0 .. n), then a NUL (out: 2n + 1 bytes). */
void codec_hex_encode(const uint8_t *in, size_t n, char *out);

/* Decodes hex digits (either case; len even) into out (cap bytes). */
ssize_t codec_hex_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *bad);

/* Characters of the padded base64 of n bytes (without the NUL). */
static inline size_t codec_base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/*
 * Writes the padded standard base64 of in[0 .. n), then a NUL (out:
 * codec_base64_len(n) + 1 bytes); returns its length.
 */
size_t codec_base64_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decodes base64 into out (cap bytes). The '=' padding may be left out; when
 * given, the length is a multiple of 4 and one or two '=' end it. Bits past
 * the last whole byte are ignored. flags: CODEC_B64_*.
 */
ssize_t codec_base64_decode(const uint8_t *in, size_t len, unsigned flags, uint8_t *out, size_t cap,
                            size_t *bad);

#endif
