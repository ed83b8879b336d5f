/*
 * test_codec.c - hex and base64 (core/codec.h): round trips of every length
 * and byte, the RFC 4648 vectors, padding, and what each decoder refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/codec.h"

#define S(x) ((const uint8_t *)(x)), strlen(x)

static void test_hex_round_trip(void **state)
{
	(void)state;
	uint8_t in[256], back[256];
	char text[513];
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)(255 - i);
	for (size_t n = 0; n <= 256; n += 17) {
		codec_hex_encode(in, n, text);
		assert_int_equal(strlen(text), 2 * n);
		assert_int_equal(codec_hex_decode(S(text), back, sizeof(back), NULL), n);
		assert_memory_equal(back, in, n);
	}
	codec_hex_encode((const uint8_t *)"\x00\xab\xff", 3, text);
	assert_string_equal(text, "00abff");
	assert_int_equal(codec_hex_decode(S("00ABfF"), back, 3, NULL), 3);
	assert_memory_equal(back, "\x00\xab\xff", 3);
}

static void test_hex_bad(void **state)
{
	(void)state;
	uint8_t out[8];
	size_t bad = 99;
	assert_int_equal(codec_hex_decode(S("abc"), out, sizeof(out), &bad), CODEC_ELENGTH);
	assert_int_equal(bad, 3);
	assert_int_equal(codec_hex_decode(S("a0g1"), out, sizeof(out), &bad), CODEC_EBADCHAR);
	assert_int_equal(bad, 2);
	assert_int_equal(codec_hex_decode(S("0x"), out, sizeof(out), &bad), CODEC_EBADCHAR);
	assert_int_equal(bad, 1);
	assert_int_equal(codec_hex_decode(S("0011"), out, 1, &bad), CODEC_ESPACE);
	assert_int_equal(codec_hex_digit('F'), 15);
	assert_int_equal(codec_hex_digit('G'), -1);
	assert_int_equal(codec_hex_digit('/'), -1);
}

/* RFC 4648 section 10. */
static void test_base64_vectors(void **state)
{
	(void)state;
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
	                                  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char text[16];
	uint8_t back[16];
	for (int i = 0; i < 7; i++) {
		size_t n = strlen(plain[i]);
		assert_int_equal(codec_base64_len(n), strlen(enc[i]));
		assert_int_equal(codec_base64_encode((const uint8_t *)plain[i], n, text),
		                 strlen(enc[i]));
		assert_string_equal(text, enc[i]);
		assert_int_equal(codec_base64_decode(S(enc[i]), 0, back, sizeof(back), NULL), n);
		assert_memory_equal(back, plain[i], n);
	}
}

static void test_base64_round_trip(void **state)
{
	(void)state;
	uint8_t in[300], back[300];
	char text[401];
	for (int i = 0; i < 300; i++)
		in[i] = (uint8_t)(i * 7);
	for (size_t n = 0; n <= 300; n++) {
		size_t len = codec_base64_encode(in, n, text);
		assert_int_equal(codec_base64_decode((const uint8_t *)text, len, 0, back, n, NULL),
		                 n);
		assert_memory_equal(back, in, n);
		/* the same without its padding */
		while (len && text[len - 1] == '=')
			len--;
		assert_int_equal(codec_base64_decode((const uint8_t *)text, len, 0, back, n, NULL),
		                 n);
		assert_memory_equal(back, in, n);
	}
}

static void test_base64_padding_and_bad(void **state)
{
	(void)state;
	uint8_t out[16];
	size_t bad = 99;
	/* one digit over a group of four: no encoding has that length */
	assert_int_equal(codec_base64_decode(S("Zm9vY"), 0, out, sizeof(out), &bad), CODEC_ELENGTH);
	assert_int_equal(bad, 5);
	/* padding only ends a multiple of four */
	assert_int_equal(codec_base64_decode(S("Zg="), 0, out, sizeof(out), &bad), CODEC_EBADCHAR);
	assert_int_equal(bad, 2);
	assert_int_equal(codec_base64_decode(S("Z=g="), 0, out, sizeof(out), &bad), CODEC_EBADCHAR);
	assert_int_equal(bad, 1);
	assert_int_equal(codec_base64_decode(S("Zm9v*A=="), 0, out, sizeof(out), &bad),
	                 CODEC_EBADCHAR);
	assert_int_equal(bad, 4);
	/* base64url only when asked */
	assert_int_equal(codec_base64_decode(S("-_8="), 0, out, sizeof(out), &bad), CODEC_EBADCHAR);
	assert_int_equal(codec_base64_decode(S("-_8="), CODEC_B64_URL, out, sizeof(out), NULL), 2);
	assert_memory_equal(out, "\xfb\xff", 2);
	/* loose: whitespace and '=' anywhere */
	assert_int_equal(
	    codec_base64_decode(S(" Zm9v\r\nYg= ="), CODEC_B64_LOOSE, out, sizeof(out), NULL), 4);
	assert_memory_equal(out, "foob", 4);
	assert_int_equal(codec_base64_decode(S("Zm9vY"), CODEC_B64_LOOSE, out, sizeof(out), NULL),
	                 CODEC_ELENGTH);
	/* the room is checked before a byte is written */
	assert_int_equal(codec_base64_decode(S("Zm9vYmFy"), 0, out, 5, &bad), CODEC_ESPACE);
	assert_int_equal(codec_base64_decode(S("Zm9vYmE"), 0, out, 5, NULL), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hex_round_trip),         cmocka_unit_test(test_hex_bad),
	    cmocka_unit_test(test_base64_vectors),         cmocka_unit_test(test_base64_round_trip),
	    cmocka_unit_test(test_base64_padding_and_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
