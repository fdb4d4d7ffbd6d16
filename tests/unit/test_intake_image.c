/* Photos: the type is what the bytes say, and the stored copy carries no metadata that can
 * locate or identify a person (image.c). The fixtures are real images made by Pillow
 * (tests/fixtures/intake/make_photos.py) with EXIF holding a GPS position, XMP with a
 * location, a JPEG comment and PNG text chunks with a name and a phone number. The system
 * test (test_intake_attachments.py) decodes the stripped copies again with Pillow. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/image.h"
#include "intake/intake.h"

struct intake_config intake_cfg;

#define FIXTURE_DIR "tests/fixtures/intake/"

struct blob {
	unsigned char *p;
	size_t n;
};

static struct blob load(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), FIXTURE_DIR "%s", name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	struct blob b = {malloc(1 << 20), 0};
	b.n = fread(b.p, 1, 1 << 20, f);
	fclose(f);
	ck_assert_uint_gt(b.n, 0);
	return b;
}

static bool contains(const unsigned char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, needle, k) == 0)
			return true;
	return false;
}

/* Strips b as type t and checks it succeeded; the caller frees *out. */
static unsigned strip_ok(enum intake_image_type t, struct blob b, unsigned char **out, size_t *len)
{
	unsigned removed = 0;
	char err[160] = "";
	int rc = intake_image_strip(t, b.p, b.n, out, len, &removed, err, sizeof(err));
	ck_assert_msg(rc == 0, "strip failed: %s", err);
	ck_assert_uint_lt(*len, b.n);
	return removed;
}

START_TEST(the_bytes_decide_the_type)
{
	struct blob jpg = load("photo_gps.jpg"), png = load("photo_text.png"),
		    webp = load("photo_gps.webp");
	ck_assert_int_eq(intake_image_sniff(jpg.p, jpg.n), INTAKE_IMAGE_JPEG);
	ck_assert_int_eq(intake_image_sniff(png.p, png.n), INTAKE_IMAGE_PNG);
	ck_assert_int_eq(intake_image_sniff(webp.p, webp.n), INTAKE_IMAGE_WEBP);
	const char *html = "<html><script>alert(1)</script>";
	ck_assert_int_eq(intake_image_sniff((const unsigned char *)html, strlen(html)),
			 INTAKE_IMAGE_NONE);
	ck_assert_int_eq(intake_image_sniff(jpg.p, 2), INTAKE_IMAGE_NONE);
	/* a GIF or an SVG is no photo here */
	ck_assert_int_eq(intake_image_sniff((const unsigned char *)"GIF89a....", 10),
			 INTAKE_IMAGE_NONE);
	ck_assert_int_eq(intake_image_type_of_mime("image/jpeg"), INTAKE_IMAGE_JPEG);
	ck_assert_int_eq(intake_image_type_of_mime("IMAGE/PNG; charset=x"), INTAKE_IMAGE_PNG);
	ck_assert_int_eq(intake_image_type_of_mime("image/webp"), INTAKE_IMAGE_WEBP);
	ck_assert_int_eq(intake_image_type_of_mime("image/svg+xml"), INTAKE_IMAGE_NONE);
	ck_assert_int_eq(intake_image_type_of_mime("image/pngx"), INTAKE_IMAGE_NONE);
	ck_assert_int_eq(intake_image_type_of_mime(NULL), INTAKE_IMAGE_NONE);
	/* a PNG sent as a JPEG is refused by the strip too */
	unsigned char *out = NULL;
	size_t len;
	unsigned removed;
	char err[160];
	ck_assert_int_eq(intake_image_strip(INTAKE_IMAGE_JPEG, png.p, png.n, &out, &len, &removed,
					    err, sizeof(err)),
			 -1);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(err, "image/jpeg"));
	free(jpg.p);
	free(png.p);
	free(webp.p);
}
END_TEST

START_TEST(jpeg_loses_exif_gps_xmp_and_comment)
{
	struct blob b = load("photo_gps.jpg");
	/* the fixture does carry what must go */
	ck_assert(contains(b.p, b.n, "Exif"));
	ck_assert(contains(b.p, b.n, "ParcelCam"));
	ck_assert(contains(b.p, b.n, "GPSLatitude"));
	ck_assert(contains(b.p, b.n, "13800138000"));
	unsigned char *out = NULL;
	size_t len = 0;
	unsigned removed = strip_ok(INTAKE_IMAGE_JPEG, b, &out, &len);
	ck_assert_uint_eq(removed, INTAKE_IMAGE_REMOVED_EXIF | INTAKE_IMAGE_REMOVED_XMP |
				       INTAKE_IMAGE_REMOVED_TEXT);
	ck_assert(!contains(out, len, "Exif"));
	ck_assert(!contains(out, len, "ParcelCam"));
	ck_assert(!contains(out, len, "GPSLatitude"));
	ck_assert(!contains(out, len, "adobe:ns:meta"));
	ck_assert(!contains(out, len, "13800138000"));
	/* still a JPEG: SOI, the JFIF header, the picture up to EOI */
	ck_assert_int_eq(intake_image_sniff(out, len), INTAKE_IMAGE_JPEG);
	ck_assert(contains(out, len, "JFIF"));
	ck_assert(out[len - 2] == 0xff && out[len - 1] == 0xd9);
	/* stripping the copy again changes nothing */
	unsigned char *again = NULL;
	size_t len2 = 0;
	unsigned removed2 = 1;
	char err[160];
	ck_assert_int_eq(intake_image_strip(INTAKE_IMAGE_JPEG, out, len, &again, &len2, &removed2,
					    err, sizeof(err)),
			 0);
	ck_assert_uint_eq(removed2, 0);
	ck_assert_uint_eq(len2, len);
	ck_assert_mem_eq(again, out, len);
	free(again);
	free(out);
	free(b.p);
}
END_TEST

START_TEST(jpeg_bytes_after_the_end_are_dropped_and_a_truncated_one_refused)
{
	struct blob b = load("photo_gps.jpg");
	unsigned char *grown = malloc(b.n + 64), *out = NULL;
	memcpy(grown, b.p, b.n);
	static const char tail[] = "\xff\xd8\xff\xe1 trailing second image with Exif";
	memcpy(grown + b.n, tail, sizeof(tail) - 1);
	size_t len = 0;
	unsigned removed = 0;
	char err[160];
	ck_assert_int_eq(intake_image_strip(INTAKE_IMAGE_JPEG, grown, b.n + sizeof(tail) - 1, &out,
					    &len, &removed, err, sizeof(err)),
			 0);
	ck_assert(removed & INTAKE_IMAGE_REMOVED_OTHER);
	ck_assert(out[len - 2] == 0xff && out[len - 1] == 0xd9);
	ck_assert(!contains(out, len, "trailing"));
	free(out);
	/* cut in the middle of the picture: refused */
	out = NULL;
	ck_assert_int_eq(intake_image_strip(INTAKE_IMAGE_JPEG, b.p, b.n - 10, &out, &len, &removed,
					    err, sizeof(err)),
			 -1);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	/* cut inside the Exif segment's length */
	ck_assert_int_eq(
	    intake_image_strip(INTAKE_IMAGE_JPEG, b.p, 30, &out, &len, &removed, err, sizeof(err)),
	    -1);
	free(grown);
	free(b.p);
}
END_TEST

/* The type of every chunk of a PNG, in order, as "IHDR,eXIf,...". */
static void png_chunks(const unsigned char *p, size_t n, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 8; i + 12 <= n;) {
		uint32_t len = (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
			       (uint32_t)p[i + 2] << 8 | p[i + 3];
		strncat(out, (const char *)p + i + 4, 4);
		strncat(out, ",", cap - strlen(out) - 1);
		i += len + 12;
	}
}

START_TEST(png_loses_exif_and_text_chunks)
{
	struct blob b = load("photo_text.png");
	char chunks[256];
	png_chunks(b.p, b.n, chunks, sizeof(chunks));
	ck_assert_msg(strstr(chunks, "eXIf") && strstr(chunks, "tEXt") && strstr(chunks, "iTXt") &&
			  strstr(chunks, "zTXt"),
		      "%s", chunks);
	unsigned char *out = NULL;
	size_t len = 0;
	unsigned removed = strip_ok(INTAKE_IMAGE_PNG, b, &out, &len);
	ck_assert_uint_eq(removed, INTAKE_IMAGE_REMOVED_EXIF | INTAKE_IMAGE_REMOVED_TEXT);
	png_chunks(out, len, chunks, sizeof(chunks));
	ck_assert_str_eq(chunks, "IHDR,IDAT,IEND,");
	ck_assert(!contains(out, len, "Zhang San"));
	free(out);
	/* one flipped bit in a chunk: its CRC no longer matches */
	b.p[40] ^= 0x01;
	char err[160];
	ck_assert_int_eq(
	    intake_image_strip(INTAKE_IMAGE_PNG, b.p, b.n, &out, &len, &removed, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "CRC"));
	free(b.p);
}
END_TEST

START_TEST(webp_loses_exif_and_xmp_and_says_so_in_its_header)
{
	struct blob b = load("photo_gps.webp");
	ck_assert(contains(b.p, b.n, "EXIF") && contains(b.p, b.n, "XMP "));
	unsigned char *out = NULL;
	size_t len = 0;
	unsigned removed = strip_ok(INTAKE_IMAGE_WEBP, b, &out, &len);
	ck_assert_uint_eq(removed, INTAKE_IMAGE_REMOVED_EXIF | INTAKE_IMAGE_REMOVED_XMP);
	ck_assert(!contains(out, len, "EXIF"));
	ck_assert(!contains(out, len, "XMP "));
	ck_assert(!contains(out, len, "ParcelCam"));
	/* the RIFF size is the new length; VP8X announces neither EXIF nor XMP any more */
	uint32_t riff = (uint32_t)out[4] | (uint32_t)out[5] << 8 | (uint32_t)out[6] << 16 |
			(uint32_t)out[7] << 24;
	ck_assert_uint_eq(riff, len - 8);
	ck_assert_mem_eq(out + 12, "VP8X", 4);
	ck_assert_uint_eq(out[20] & 0x0c, 0);
	free(out);
	/* a RIFF size beyond the bytes sent: refused */
	b.p[7] = 0x7f;
	char err[160];
	ck_assert_int_eq(
	    intake_image_strip(INTAKE_IMAGE_WEBP, b.p, b.n, &out, &len, &removed, err, sizeof(err)),
	    -1);
	free(b.p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("intake");
	TCase *tc = tcase_create("image");
	tcase_add_test(tc, the_bytes_decide_the_type);
	tcase_add_test(tc, jpeg_loses_exif_gps_xmp_and_comment);
	tcase_add_test(tc, jpeg_bytes_after_the_end_are_dropped_and_a_truncated_one_refused);
	tcase_add_test(tc, png_loses_exif_and_text_chunks);
	tcase_add_test(tc, webp_loses_exif_and_xmp_and_says_so_in_its_header);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
