/* Image type checks and metadata stripping for uploaded photos (see image.h). */
#include "image.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* The copy being built: never longer than the input, since only whole parts are dropped. */
struct image_out {
	unsigned char *p;
	size_t len;
};

static void out_put(struct image_out *o, const unsigned char *p, size_t n)
{
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

enum intake_image_type intake_image_sniff(const unsigned char *p, size_t n)
{
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return INTAKE_IMAGE_JPEG;
	if (n >= 8 && memcmp(p, png_sig, 8) == 0)
		return INTAKE_IMAGE_PNG;
	if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
		return INTAKE_IMAGE_WEBP;
	return INTAKE_IMAGE_NONE;
}

enum intake_image_type intake_image_type_of_mime(const char *ct)
{
	static const struct {
		const char *mime;
		enum intake_image_type t;
	} names[] = {{"image/jpeg", INTAKE_IMAGE_JPEG},
		     {"image/jpg", INTAKE_IMAGE_JPEG},
		     {"image/png", INTAKE_IMAGE_PNG},
		     {"image/webp", INTAKE_IMAGE_WEBP}};
	if (!ct)
		return INTAKE_IMAGE_NONE;
	size_t len = strcspn(ct, "; \t");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].mime) == len && strncasecmp(ct, names[i].mime, len) == 0)
			return names[i].t;
	return INTAKE_IMAGE_NONE;
}

const char *intake_image_mime(enum intake_image_type t)
{
	return t == INTAKE_IMAGE_JPEG	? "image/jpeg"
	       : t == INTAKE_IMAGE_PNG	? "image/png"
	       : t == INTAKE_IMAGE_WEBP ? "image/webp"
					: "";
}

const char *intake_image_ext(enum intake_image_type t)
{
	return t == INTAKE_IMAGE_JPEG	? "jpg"
	       : t == INTAKE_IMAGE_PNG	? "png"
	       : t == INTAKE_IMAGE_WEBP ? "webp"
					: "";
}

/* ---- JPEG ---- */

/* Whether a JPEG marker segment is metadata to drop, and which kind. APP0 (JFIF), the ICC
 * profile in APP2 and Adobe's APP14 decide how the picture looks and stay; every other APPn
 * is someone's metadata: APP1 is Exif (with GPS) or XMP, APP13 Photoshop's IPTC (which has
 * a location too), APP2 "MPF" points at further images after the end, which are dropped. */
static unsigned jpeg_drop(unsigned char marker, const unsigned char *data, size_t len)
{
	if (marker == 0xfe)
		return INTAKE_IMAGE_REMOVED_TEXT;
	if (marker < 0xe0 || marker > 0xef || marker == 0xe0 || marker == 0xee)
		return 0;
	if (marker == 0xe2 && len >= 12 && memcmp(data, "ICC_PROFILE\0", 12) == 0)
		return 0;
	if (marker == 0xe1 && len >= 6 && memcmp(data, "Exif\0", 5) == 0)
		return INTAKE_IMAGE_REMOVED_EXIF;
	if (marker == 0xe1)
		return INTAKE_IMAGE_REMOVED_XMP;
	return INTAKE_IMAGE_REMOVED_OTHER;
}

/* The end of the entropy-coded data that starts at i: the first marker that is not a
 * stuffed 0xff00, a restart marker or a fill byte. n when there is none. */
static size_t jpeg_scan_end(const unsigned char *p, size_t n, size_t i)
{
	while (i + 1 < n) {
		if (p[i] != 0xff) {
			i++;
			continue;
		}
		unsigned char b = p[i + 1];
		if (b == 0x00 || (b >= 0xd0 && b <= 0xd7))
			i += 2;
		else if (b == 0xff)
			i++;
		else
			return i;
	}
	return n;
}

static int jpeg_strip(const unsigned char *p, size_t n, struct image_out *o, unsigned *removed,
		      char *err, size_t errlen)
{
	bool scanned = false;
	size_t i = 2;
	out_put(o, p, 2);
	for (;;) {
		if (i >= n)
			break;
		if (p[i] != 0xff) {
			snprintf(err, errlen, "a JPEG marker was expected at byte %zu", i);
			return -1;
		}
		while (i < n && p[i] == 0xff)
			i++; /* fill bytes before a marker */
		if (i >= n)
			break;
		unsigned char marker = p[i++];
		unsigned char m[2] = {0xff, marker};
		if (marker ==
		    0xd9) { /* EOI: whatever follows (thumbnails, MPF images) is dropped */
			if (!scanned)
				break;
			out_put(o, m, 2);
			if (i < n)
				*removed |= INTAKE_IMAGE_REMOVED_OTHER;
			return 0;
		}
		if ((marker >= 0xd0 && marker <= 0xd7) || marker == 0x01) {
			out_put(o, m, 2); /* standalone markers carry no length */
			continue;
		}
		if (i + 2 > n)
			break;
		size_t len = (size_t)p[i] << 8 | p[i + 1];
		if (len < 2 || i + len > n)
			break;
		unsigned drop = jpeg_drop(marker, p + i + 2, len - 2);
		*removed |= drop;
		if (!drop) {
			out_put(o, m, 2);
			out_put(o, p + i, len);
		}
		i += len;
		if (marker ==
		    0xda) { /* SOS: the compressed picture follows up to the next marker */
			size_t end = jpeg_scan_end(p, n, i);
			out_put(o, p + i, end - i);
			i = end;
			scanned = true;
		}
	}
	snprintf(err, errlen, "%s",
		 scanned ? "the JPEG is truncated (no end marker)"
			 : "the JPEG is truncated or holds no image data");
	return -1;
}

/* ---- PNG ---- */

/* Text chunks (tEXt, iTXt, zTXt: authors, comments, software, sometimes a location) and eXIf
 * (Exif with GPS) are dropped; critical chunks and the colour ones stay. */
static unsigned png_drop(const unsigned char *type)
{
	if (memcmp(type, "eXIf", 4) == 0)
		return INTAKE_IMAGE_REMOVED_EXIF;
	if (memcmp(type, "tEXt", 4) == 0 || memcmp(type, "iTXt", 4) == 0 ||
	    memcmp(type, "zTXt", 4) == 0)
		return INTAKE_IMAGE_REMOVED_TEXT;
	return 0;
}

static bool png_type_valid(const unsigned char *t)
{
	for (int k = 0; k < 4; k++)
		if (!((t[k] >= 'A' && t[k] <= 'Z') || (t[k] >= 'a' && t[k] <= 'z')))
			return false;
	return true;
}

static int png_strip(const unsigned char *p, size_t n, struct image_out *o, unsigned *removed,
		     char *err, size_t errlen)
{
	bool idat = false;
	size_t i = 8;
	out_put(o, p, 8);
	while (i + 12 <= n) {
		size_t len = be32(p + i);
		const unsigned char *type = p + i + 4;
		if (len > 0x7fffffffu || len > n - i - 12 || !png_type_valid(type)) {
			snprintf(err, errlen, "the PNG chunk at byte %zu is malformed", i);
			return -1;
		}
		if ((uint32_t)crc32(0L, type, (uInt)(len + 4)) != be32(p + i + 8 + len)) {
			snprintf(err, errlen, "the PNG chunk %.4s has a wrong CRC",
				 (const char *)type);
			return -1;
		}
		if (i == 8 && memcmp(type, "IHDR", 4) != 0)
			break;
		idat |= memcmp(type, "IDAT", 4) == 0;
		unsigned drop = png_drop(type);
		*removed |= drop;
		if (!drop)
			out_put(o, p + i, len + 12);
		i += len + 12;
		if (memcmp(type, "IEND", 4) == 0 && idat) {
			if (i < n)
				*removed |= INTAKE_IMAGE_REMOVED_OTHER;
			return 0;
		}
	}
	snprintf(err, errlen, "the PNG is truncated or holds no image data");
	return -1;
}

/* ---- WebP ---- */

#define WEBP_VP8X_XMP  0x04
#define WEBP_VP8X_EXIF 0x08

static int webp_strip(const unsigned char *p, size_t n, struct image_out *o, unsigned *removed,
		      char *err, size_t errlen)
{
	size_t riff = le32(p + 4), vp8x = 0;
	bool image = false;
	if (riff < 4 || riff > n - 8) {
		snprintf(err, errlen, "the WebP is truncated (RIFF size %zu)", riff);
		return -1;
	}
	out_put(o, p, 12);
	for (size_t i = 12; i < riff + 8;) {
		if (i + 8 > riff + 8 || le32(p + i + 4) > riff + 8 - i - 8) {
			snprintf(err, errlen, "the WebP chunk at byte %zu is malformed", i);
			return -1;
		}
		size_t len = le32(p + i + 4), whole = 8 + len + (len & 1);
		if (whole > riff + 8 - i)
			whole = riff + 8 - i; /* an odd last chunk without its pad byte */
		const unsigned char *fourcc = p + i;
		unsigned drop = memcmp(fourcc, "EXIF", 4) == 0	 ? INTAKE_IMAGE_REMOVED_EXIF
				: memcmp(fourcc, "XMP ", 4) == 0 ? INTAKE_IMAGE_REMOVED_XMP
								 : 0;
		image |= memcmp(fourcc, "VP8 ", 4) == 0 || memcmp(fourcc, "VP8L", 4) == 0 ||
			 memcmp(fourcc, "ANMF", 4) == 0;
		*removed |= drop;
		if (!drop) {
			if (memcmp(fourcc, "VP8X", 4) == 0 && len >= 1)
				vp8x = o->len + 8;
			out_put(o, p + i, whole);
		}
		i += whole;
	}
	if (!image) {
		snprintf(err, errlen, "the WebP holds no image data");
		return -1;
	}
	/* the extended header must not announce the chunks that are gone */
	if (vp8x)
		o->p[vp8x] &= (unsigned char)~(WEBP_VP8X_XMP | WEBP_VP8X_EXIF);
	put_le32(o->p + 4, (uint32_t)(o->len - 8));
	if (riff + 8 < n)
		*removed |= INTAKE_IMAGE_REMOVED_OTHER;
	return 0;
}

int intake_image_strip(enum intake_image_type t, const unsigned char *in, size_t n,
		       unsigned char **out, size_t *out_len, unsigned *removed, char *err,
		       size_t errlen)
{
	struct image_out o = {NULL, 0};
	int rc = -1;
	*out = NULL;
	*out_len = 0;
	*removed = 0;
	if (t == INTAKE_IMAGE_NONE || intake_image_sniff(in, n) != t) {
		snprintf(err, errlen, "the bytes are not a %s image",
			 t == INTAKE_IMAGE_NONE ? "JPEG, PNG or WebP" : intake_image_mime(t));
		return -1;
	}
	o.p = malloc(n);
	if (!o.p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (t == INTAKE_IMAGE_JPEG)
		rc = jpeg_strip(in, n, &o, removed, err, errlen);
	else if (t == INTAKE_IMAGE_PNG)
		rc = png_strip(in, n, &o, removed, err, errlen);
	else
		rc = webp_strip(in, n, &o, removed, err, errlen);
	if (rc != 0) {
		free(o.p);
		return -1;
	}
	*out = o.p;
	*out_len = o.len;
	return 0;
}
