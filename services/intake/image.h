/* Photos the customer uploads: what kind of image the bytes are (by their magic numbers, not
 * the Content-Type a client claims) and a copy without the metadata that can locate or
 * identify a person (EXIF with its GPS position, XMP, IPTC, comments, PNG text chunks).
 *
 * The images are copied segment by segment (JPEG), chunk by chunk (PNG, WebP) and never
 * decoded: what stays is the picture and what it needs to look right (JFIF, the ICC colour
 * profile, Adobe's colour transform; PNG's critical and colour chunks). A structure that does
 * not parse (a truncated segment, a PNG chunk with a wrong CRC, no image data, no end marker)
 * is refused rather than passed on. Pure functions: no I/O. */
#ifndef CP_INTAKE_IMAGE_H
#define CP_INTAKE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

enum intake_image_type {
	INTAKE_IMAGE_NONE,
	INTAKE_IMAGE_JPEG,
	INTAKE_IMAGE_PNG,
	INTAKE_IMAGE_WEBP,
};

/* What intake_image_strip removed (bits). */
#define INTAKE_IMAGE_REMOVED_EXIF 1u /* JPEG APP1 Exif, PNG eXIf, WebP EXIF: GPS, camera, time */
#define INTAKE_IMAGE_REMOVED_XMP  2u /* JPEG APP1 XMP, WebP "XMP " */
#define INTAKE_IMAGE_REMOVED_TEXT 4u /* PNG tEXt, iTXt, zTXt; JPEG COM */
#define INTAKE_IMAGE_REMOVED_OTHER                                                                 \
	8u /* other JPEG APPn (IPTC in APP13, MPF), bytes after the end */

/* The type the bytes are by their magic numbers; INTAKE_IMAGE_NONE for anything else. */
enum intake_image_type intake_image_sniff(const unsigned char *p, size_t n);
/* The type a Content-Type names (parameters and case ignored; image/jpg too), or NONE. */
enum intake_image_type intake_image_type_of_mime(const char *content_type);
/* "image/jpeg", "image/png", "image/webp"; "" for NONE. */
const char *intake_image_mime(enum intake_image_type t);
/* "jpg", "png", "webp"; "" for NONE. */
const char *intake_image_ext(enum intake_image_type t);

/* Copies the image of type t without its metadata into *out (malloc'ed; the caller frees it,
 * also on failure it is NULL) and sets *removed to the INTAKE_IMAGE_REMOVED_* bits of what
 * was dropped. Returns 0, or -1 with a lowercase reason in err when the bytes are not a
 * well-formed image of that type. */
int intake_image_strip(enum intake_image_type t, const unsigned char *in, size_t n,
		       unsigned char **out, size_t *out_len, unsigned *removed, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

#endif
