/* The QR code printed on a waybill: it encodes the front door's complaint page for that waybill
 * (PUBLIC_BASE_URL + "/c/" + waybill_no), so a customer who scans it lands on the form with the
 * waybill filled in. libqrencode (Debian's) computes the symbol; this file only draws it, as SVG
 * (one path, scalable for print) or as a 1-bit greyscale PNG (zlib for the pixel data). */
#include <qrencode.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "intake.h"

/* The quiet zone around the symbol that readers need, in modules (ISO/IEC 18004: 4). */
#define QR_QUIET 4

/* Medium error correction (~15 %): survives a smudged or creased waybill label without making
 * the symbol much denser than level L. */
static QRcode *qr_encode(const char *text)
{
	return QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
}

static int qr_dark(const QRcode *q, int x, int y)
{
	return q->data[y * q->width + x] & 1;
}

struct qr_buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void qr_put(struct qr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void qr_put(struct qr_buf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

int intake_qr_svg(const char *text, char **out, int *modules)
{
	*out = NULL;
	QRcode *q = qr_encode(text);
	if (!q)
		return -1;
	int n = q->width + 2 * QR_QUIET;
	struct qr_buf b = {malloc(4096), 0, 4096, 0};
	if (!b.p) {
		QRcode_free(q);
		return -1;
	}
	b.p[0] = '\0';
	/* the size in mm suits a waybill label (0.5 mm per module); viewBox is in modules */
	qr_put(&b,
	       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	       "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 %d %d\" "
	       "width=\"%gmm\" height=\"%gmm\" shape-rendering=\"crispEdges\">\n"
	       "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"",
	       n, n, n * 0.5, n * 0.5, n, n);
	/* one horizontal run of dark modules per subpath keeps the file small */
	for (int y = 0; y < q->width; y++)
		for (int x = 0; x < q->width;) {
			if (!qr_dark(q, x, y)) {
				x++;
				continue;
			}
			int run = 0;
			while (x + run < q->width && qr_dark(q, x + run, y))
				run++;
			qr_put(&b, "M%d %dh%dv1h-%dz", x + QR_QUIET, y + QR_QUIET, run, run);
			x += run;
		}
	qr_put(&b, "\"/>\n</svg>\n");
	if (modules)
		*modules = q->width;
	QRcode_free(q);
	if (b.failed) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return 0;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Appends one PNG chunk (length, type, data, CRC over type and data) at *pos. */
static void png_chunk(unsigned char *png, size_t *pos, const char *type, const unsigned char *data,
		      size_t len)
{
	be32(png + *pos, (uint32_t)len);
	memcpy(png + *pos + 4, type, 4);
	if (len)
		memcpy(png + *pos + 8, data, len);
	uLong crc = crc32(0L, png + *pos + 4, (uInt)(len + 4));
	be32(png + *pos + 8 + len, (uint32_t)crc);
	*pos += len + 12;
}

int intake_qr_png(const char *text, int scale, unsigned char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (scale < 1 || scale > INTAKE_QR_MAX_SCALE)
		return -1;
	QRcode *q = qr_encode(text);
	if (!q)
		return -1;
	int side = (q->width + 2 * QR_QUIET) * scale;
	size_t stride = 1 + ((size_t)side + 7) / 8; /* filter byte + 1 bit per pixel */
	size_t raw_len = stride * (size_t)side;
	unsigned char *raw = malloc(raw_len);
	uLongf z_len = compressBound((uLong)raw_len);
	unsigned char *z = malloc(z_len);
	unsigned char *png = malloc(z_len + 64);
	int rc = -1;
	if (!raw || !z || !png)
		goto done;
	/* greyscale 1 bit: 1 is white, so start all white and clear the dark modules' bits */
	memset(raw, 0xff, raw_len);
	for (int y = 0; y < side; y++) {
		unsigned char *row = raw + (size_t)y * stride;
		row[0] = 0; /* filter type None */
		int my = y / scale - QR_QUIET;
		for (int x = 0; x < side; x++) {
			int mx = x / scale - QR_QUIET;
			if (my >= 0 && my < q->width && mx >= 0 && mx < q->width &&
			    qr_dark(q, mx, my))
				row[1 + x / 8] &= (unsigned char)~(0x80 >> (x % 8));
		}
	}
	if (compress2(z, &z_len, raw, (uLong)raw_len, Z_BEST_COMPRESSION) != Z_OK)
		goto done;
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	size_t pos = 0;
	memcpy(png, sig, 8);
	pos = 8;
	unsigned char ihdr[13];
	be32(ihdr, (uint32_t)side);
	be32(ihdr + 4, (uint32_t)side);
	ihdr[8] = 1;  /* bit depth */
	ihdr[9] = 0;  /* colour type: greyscale */
	ihdr[10] = 0; /* deflate */
	ihdr[11] = 0; /* adaptive filtering */
	ihdr[12] = 0; /* no interlace */
	png_chunk(png, &pos, "IHDR", ihdr, sizeof(ihdr));
	png_chunk(png, &pos, "IDAT", z, z_len);
	png_chunk(png, &pos, "IEND", NULL, 0);
	*out = png;
	*out_len = pos;
	png = NULL;
	rc = 0;
done:
	free(raw);
	free(z);
	free(png);
	QRcode_free(q);
	return rc;
}

/* The complaint page of a waybill, as encoded in its QR code. */
static int qr_target(const char *waybill, char *url, size_t cap)
{
	const char *base = intake_cfg.public_base_url ? intake_cfg.public_base_url : "";
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	int n = snprintf(url, cap, "%.*s/c/%s", (int)blen, base, waybill);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int qr_waybill_ok(struct http_req *r)
{
	if (intake_waybill_valid(r->params[0]))
		return 1;
	http_reply_fields(r, 422, "validation_failed",
			  json_pack("[o]", http_field("waybill_no", "must be 8 to 20 capital "
								    "letters or digits")));
	return 0;
}

void intake_get_waybill_qr_svg(struct http_req *r, void *arg)
{
	char url[600], *svg = NULL;
	if (!qr_waybill_ok(r))
		return;
	if (qr_target(r->params[0], url, sizeof(url)) != 0 || intake_qr_svg(url, &svg, NULL) != 0) {
		http_reply_error(r, 500, "internal", "the QR code could not be drawn");
		return;
	}
	http_reply_text(r, 200, "image/svg+xml", svg);
	free(svg);
}

void intake_get_waybill_qr_png(struct http_req *r, void *arg)
{
	char url[600];
	unsigned char *png = NULL;
	size_t len = 0;
	if (!qr_waybill_ok(r))
		return;
	int scale = INTAKE_QR_DEFAULT_SCALE;
	char *s = http_req_query(r, "scale");
	if (s) {
		char *end;
		long v = strtol(s, &end, 10);
		int bad = *s == '\0' || *end != '\0' || v < 1 || v > INTAKE_QR_MAX_SCALE;
		free(s);
		if (bad) {
			http_reply_fields(
			    r, 422, "validation_failed",
			    json_pack("[o]", http_field("scale", "must be 1 to 32 pixels "
								 "per module")));
			return;
		}
		scale = (int)v;
	}
	if (qr_target(r->params[0], url, sizeof(url)) != 0 ||
	    intake_qr_png(url, scale, &png, &len) != 0) {
		http_reply_error(r, 500, "internal", "the QR code could not be drawn");
		return;
	}
	http_reply_bytes(r, 200, "image/png", png, len);
	free(png);
}
