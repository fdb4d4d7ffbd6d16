/* The waybill's QR code as drawn by intake (qr.c): the SVG's size in modules, and the PNG's
 * structure (signature, chunk CRCs, size with the quiet zone, the three finder patterns where a
 * reader looks for them). A real decode of both runs in tests/system/test_console_qr.py. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "intake/intake.h"

struct intake_config intake_cfg;

static const char *const url = "http://127.0.0.1:8080/c/SF1234567890";

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

START_TEST(svg_is_a_qr_symbol_with_its_quiet_zone)
{
	char *svg = NULL;
	int modules = 0;
	ck_assert_int_eq(intake_qr_svg(url, &svg, &modules), 0);
	/* 37 bytes at level M need version 3: 29 modules */
	ck_assert_int_eq(modules, 29);
	ck_assert_ptr_nonnull(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	ck_assert_ptr_nonnull(strstr(svg, "viewBox=\"0 0 37 37\""));
	/* the top-left finder pattern's first row: 7 dark modules starting inside the quiet zone */
	ck_assert_ptr_nonnull(strstr(svg, "M4 4h7v1h-7z"));
	ck_assert_ptr_nonnull(strstr(svg, "</svg>"));
	free(svg);
	/* a longer text needs a larger version */
	char long_url[200];
	memset(long_url, 'A', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	ck_assert_int_eq(intake_qr_svg(long_url, &svg, &modules), 0);
	ck_assert_int_gt(modules, 29);
	free(svg);
}
END_TEST

static int pixel_dark(const unsigned char *raw, size_t stride, int x, int y)
{
	return !(raw[(size_t)y * stride + 1 + x / 8] & (0x80 >> (x % 8)));
}

/* The 7x7 finder pattern at module (mx, my): dark ring, light ring, dark 3x3 centre. */
static void assert_finder(const unsigned char *raw, size_t stride, int scale, int mx, int my)
{
	for (int y = 0; y < 7; y++)
		for (int x = 0; x < 7; x++) {
			int ring = x == 0 || x == 6 || y == 0 || y == 6;
			int centre = x >= 2 && x <= 4 && y >= 2 && y <= 4;
			int px = (mx + x) * scale + scale / 2, py = (my + y) * scale + scale / 2;
			ck_assert_int_eq(pixel_dark(raw, stride, px, py), ring || centre);
		}
}

START_TEST(png_is_a_valid_image_of_the_symbol)
{
	unsigned char *png = NULL;
	size_t len = 0;
	const int scale = 4, side = 37 * scale;
	ck_assert_int_eq(intake_qr_png(url, scale, &png, &len), 0);
	ck_assert_int_gt(len, 8 + 25 + 12 + 12);
	ck_assert_int_eq(memcmp(png, "\x89PNG\r\n\x1a\n", 8), 0);
	/* every chunk's CRC matches; IHDR says 1-bit greyscale of the right size */
	size_t pos = 8, idat_len = 0;
	unsigned char *idat = NULL;
	int chunks = 0;
	while (pos + 12 <= len) {
		uint32_t n = be32(png + pos);
		ck_assert_uint_le(pos + 12 + n, len);
		uLong crc = crc32(0L, png + pos + 4, n + 4);
		ck_assert_uint_eq(crc, be32(png + pos + 8 + n));
		if (memcmp(png + pos + 4, "IHDR", 4) == 0) {
			ck_assert_uint_eq(be32(png + pos + 8), (uint32_t)side);
			ck_assert_uint_eq(be32(png + pos + 12), (uint32_t)side);
			ck_assert_int_eq(png[pos + 16], 1);
			ck_assert_int_eq(png[pos + 17], 0);
		} else if (memcmp(png + pos + 4, "IDAT", 4) == 0) {
			idat = png + pos + 8;
			idat_len = n;
		}
		chunks++;
		pos += 12 + n;
	}
	ck_assert_uint_eq(pos, len);
	ck_assert_int_eq(chunks, 3);
	ck_assert_ptr_nonnull(idat);
	size_t stride = 1 + (side + 7) / 8;
	uLongf raw_len = stride * side;
	unsigned char *raw = malloc(raw_len);
	ck_assert_int_eq(uncompress(raw, &raw_len, idat, idat_len), Z_OK);
	ck_assert_uint_eq(raw_len, stride * side);
	/* quiet zone white, finders top-left, top-right and bottom-left */
	for (int i = 0; i < 4 * scale; i++) {
		ck_assert(!pixel_dark(raw, stride, i, i));
		ck_assert(!pixel_dark(raw, stride, side - 1 - i, side - 1 - i));
	}
	assert_finder(raw, stride, scale, 4, 4);
	assert_finder(raw, stride, scale, 4 + 29 - 7, 4);
	assert_finder(raw, stride, scale, 4, 4 + 29 - 7);
	free(raw);
	free(png);
}
END_TEST

START_TEST(png_scale_is_bounded)
{
	unsigned char *png = NULL;
	size_t len = 0;
	ck_assert_int_eq(intake_qr_png(url, 0, &png, &len), -1);
	ck_assert_int_eq(intake_qr_png(url, INTAKE_QR_MAX_SCALE + 1, &png, &len), -1);
	ck_assert_ptr_null(png);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("intake");
	TCase *tc = tcase_create("qr");
	tcase_add_test(tc, svg_is_a_qr_symbol_with_its_quiet_zone);
	tcase_add_test(tc, png_is_a_valid_image_of_the_symbol);
	tcase_add_test(tc, png_scale_is_bounded);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
