/*
 * label.c - one QR label as SVG or PNG, the checks of what a label takes
 * (options, identifier, base URL) and the proxy URL a label encodes. The
 * PDF sheets and ZIPs of many labels are in label_sheet.c.
 */
#include <errno.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/label_draw.h"
#include "core/err.h"
#include "proto/handle.h"

label_opts label_opts_default(void)
{
	return (label_opts){
	    .px = LABEL_PX_DEFAULT, .margin = LABEL_MARGIN_DEFAULT, .ecc = 'M', .text = false};
}

static bool ecc_ok(char e)
{
	return e == 'L' || e == 'M' || e == 'Q' || e == 'H';
}

const char *label_opts_check(const label_opts *o)
{
	if (o->px < LABEL_PX_MIN || o->px > LABEL_PX_MAX)
		return "size: must be 64..4096 pixels";
	if (o->margin > LABEL_MARGIN_MAX)
		return "margin: must be 0..16 modules";
	if (!ecc_ok(o->ecc))
		return "ecc: must be one of L, M, Q, H";
	return NULL;
}

const char *label_handle_check(idn_slice h)
{
	if (!h.len)
		return "empty identifier";
	if (h.len > LABEL_HANDLE_MAX)
		return "identifier longer than 1024 bytes";
	if (!handle_utf8_valid(h))
		return "identifier is not valid UTF-8";
	for (uint32_t i = 0; i < h.len; i++)
		if (h.p[i] < 0x20 || h.p[i] == 0x7f)
			return "identifier holds a control character";
	const uint8_t *slash = memchr(h.p, '/', h.len);
	if (!slash || slash == h.p || slash + 1 == h.p + h.len)
		return "identifier must be PREFIX/SUFFIX, both non-empty";
	/* Path segments "." and "..": a browser resolves them away. */
	for (uint32_t s = 0; s <= h.len;) {
		const uint8_t *e = memchr(h.p + s, '/', h.len - s);
		uint32_t end = e ? (uint32_t)(e - h.p) : h.len;
		uint32_t n = end - s;
		if ((n == 1 && h.p[s] == '.') || (n == 2 && h.p[s] == '.' && h.p[s + 1] == '.'))
			return "identifier holds a '.' or '..' path segment, which a URL cannot "
			       "keep";
		s = end + 1;
	}
	return NULL;
}

static bool host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-';
}

/* host[:port] or [v6][:port]: its length within s, or 0 if malformed. */
static size_t host_port_len(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '[') {
		for (i++; i < n && (strchr("0123456789abcdefABCDEF:.", s[i]) && s[i]); i++)
			;
		if (i >= n || s[i] != ']' || i == 1)
			return 0;
		i++;
	} else {
		for (; i < n && host_char((uint8_t)s[i]); i++)
			;
		if (!i)
			return 0;
	}
	if (i < n && s[i] == ':') {
		size_t d = ++i;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d || i - d > 5)
			return 0;
	}
	return i;
}

const char *label_base_check(const char *base)
{
	size_t n = strlen(base), at = 0;
	if (n > LABEL_BASE_MAX)
		return "longer than 512 bytes";
	if (!strncasecmp(base, "http://", 7))
		at = 7;
	else if (!strncasecmp(base, "https://", 8))
		at = 8;
	else
		return "must start with http:// or https://";
	size_t h = host_port_len(base + at, n - at);
	if (!h)
		return "needs a host name or address (and at most a :port) after the scheme";
	for (size_t i = at + h; i < n; i++) {
		uint8_t c = (uint8_t)base[i];
		if (c <= ' ' || c >= 0x7f || strchr("\"<>\\^`{|}", c))
			return "holds a space, control byte or character a URL may not hold";
		if (c == '?' || c == '#')
			return "may not have a query or fragment";
	}
	if (at + h < n && base[at + h] != '/')
		return "the host must be followed by '/' or nothing";
	return NULL;
}

int label_host_base(bool tls, idn_slice host, char *out, size_t cap)
{
	if (!host.len || host.len > 255 ||
	    host_port_len((const char *)host.p, host.len) != host.len)
		return -1;
	size_t sl = tls ? 8 : 7, n = sl + host.len + 1; /* "https://" or "http://", host, '/' */
	if (n >= cap)
		return -1;
	memcpy(out, tls ? "https://" : "http://", sl);
	memcpy(out + sl, host.p, host.len);
	memcpy(out + n - 1, "/", 2);
	return (int)n;
}

size_t label_capacity(char ecc)
{
	return ecc == 'L' ? 2953 : ecc == 'Q' ? 1663 : ecc == 'H' ? 1273 : 2331;
}

int label_url(const char *base, idn_slice handle, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(base);
	if (o + 2 > cap)
		return -1;
	memcpy(out, base, o);
	if (!o || out[o - 1] != '/')
		out[o++] = '/';
	for (uint32_t i = 0; i < handle.len; i++) {
		uint8_t c = handle.p[i];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || (c && strchr("-._~/", c));
		if (o + (plain ? 1 : 3) >= cap)
			return -1;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = 0;
	return (int)o;
}

/* ---- drawing ---- */

QRcode *label_encode(const char *url, char ecc, char *err, size_t errlen)
{
	QRecLevel lv = ecc == 'L'   ? QR_ECLEVEL_L
	               : ecc == 'Q' ? QR_ECLEVEL_Q
	               : ecc == 'H' ? QR_ECLEVEL_H
	                            : QR_ECLEVEL_M;
	QRcode *q = QRcode_encodeString8bit(url, 0, lv);
	if (!q)
		snprintf(err, errlen, "%s: the URL (%zu bytes) does not fit a QR code at ecc %c",
		         errno == ERANGE ? "handle" : "code", strlen(url), ecc);
	return q;
}

void label_runs(const QRcode *q, void (*fn)(void *arg, int x, int y, int len), void *arg)
{
	int w = q->width;
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w;) {
			if (!(q->data[y * w + x] & 1)) {
				x++;
				continue;
			}
			int run = x;
			while (run < w && (q->data[y * w + run] & 1))
				run++;
			fn(arg, x, y, run - x);
			x = run;
		}
}

typedef struct cairo_run {
	cairo_t *cr;
	double x0, y0, mod;
} cairo_run;

static void rect_run(void *arg, int x, int y, int len)
{
	cairo_run *c = arg;
	cairo_rectangle(c->cr, c->x0 + x * c->mod, c->y0 + y * c->mod, len * c->mod, c->mod);
}

void label_modules(cairo_t *cr, const QRcode *q, double x0, double y0, double mod)
{
	cairo_run c = {cr, x0, y0, mod};
	label_runs(q, rect_run, &c);
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_fill(cr);
}

cairo_surface_t *label_code_mask(const QRcode *q)
{
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A1, q->width, q->width);
	cairo_t *cr = cairo_create(s);
	cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
	label_modules(cr, q, 0, 0, 1);
	bool ok = cairo_status(cr) == CAIRO_STATUS_SUCCESS;
	cairo_destroy(cr);
	if (!ok) {
		cairo_surface_destroy(s);
		return NULL;
	}
	return s;
}

static void caption_font_set(PangoLayout *lay, double font)
{
	PangoFontDescription *fd = pango_font_description_from_string("Sans");
	pango_font_description_set_absolute_size(fd, font * PANGO_SCALE);
	pango_layout_set_font_description(lay, fd);
	pango_font_description_free(fd);
}

void label_caption(cairo_t *cr, PangoLayout *lay, idn_slice text, double x, double y, double width,
                   double font)
{
	pango_layout_set_text(lay, (const char *)text.p, (int)text.len);
	pango_layout_set_alignment(lay, PANGO_ALIGN_CENTER);
	/* One line if the font may shrink to a third less for it; else two, then an ellipsis. */
	caption_font_set(lay, font);
	pango_layout_set_width(lay, -1);
	pango_layout_set_height(lay, -1);
	pango_layout_set_ellipsize(lay, PANGO_ELLIPSIZE_NONE);
	PangoRectangle ink, logical;
	pango_layout_get_extents(lay, &ink, &logical);
	double need = (double)logical.width / PANGO_SCALE;
	if (need > width && need * 2 / 3 <= width)
		caption_font_set(lay, font * width / need * 0.98);
	pango_layout_set_width(lay, (int)(width * PANGO_SCALE));
	pango_layout_set_wrap(lay, PANGO_WRAP_CHAR);
	pango_layout_set_height(lay, -2);
	pango_layout_set_ellipsize(lay, PANGO_ELLIPSIZE_MIDDLE);
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_move_to(cr, x, y);
	pango_cairo_show_layout(cr, lay);
}

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len)
{
	const label_out *o = closure;
	if (!o->sink)
		return CAIRO_STATUS_SUCCESS;
	return o->sink(o->arg, data, len) ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

cairo_write_func_t label_cairo_writer(void)
{
	return sink_write;
}

/* The caption's font and band under a code of px pixels. */
static double caption_font(unsigned px)
{
	return px / 14.0 < 10 ? 10 : px / 14.0;
}

static unsigned caption_band(unsigned px)
{
	return (unsigned)(caption_font(px) * 2.9);
}

/* Pixels per module for a code of w modules in px pixels; 0 with err when too small. */
static unsigned module_px(const QRcode *q, const label_opts *o, char *err, size_t errlen)
{
	unsigned total = (unsigned)q->width + 2 * o->margin, m = o->px / total;
	if (!m)
		snprintf(err, errlen,
		         "size: %u pixels are too few for this code: %u modules (margin "
		         "included) need at least %u",
		         o->px, total, total);
	return m;
}

static void png_write_cb(png_structp png, png_bytep data, size_t n)
{
	const label_out *o = png_get_io_ptr(png);
	if (o->sink(o->arg, data, n))
		png_error(png, "the sink failed");
}

/* libpng's failures are the caller's to report (IDN_EIO), not stderr's. */
static void png_error_cb(png_structp png, png_const_charp msg)
{
	(void)msg;
	png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static void png_flush_cb(png_structp png)
{
	(void)png;
}

/*
 * An A8 surface (opaque = white, clear = ink) as a grey PNG by libpng: 1 bit
 * a pixel when bilevel, else 8 (an antialiased caption). One cheap row
 * filter, not libpng's try-them-all: with cairo's own PNG writer (RGB, every
 * filter tried) a 512-pixel code took 5 ms, four of them encoding.
 */
static int png_of(cairo_surface_t *s, bool bilevel, const label_out *out)
{
	cairo_surface_flush(s);
	int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
	int stride = cairo_image_surface_get_stride(s);
	const uint8_t *data = cairo_image_surface_get_data(s);
	uint8_t *row = malloc((size_t)w);
	png_structp png =
	    png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_cb, png_warning_cb);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!row || !info) {
		png_destroy_write_struct(&png, &info);
		free(row);
		return IDN_ENOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		free(row);
		return IDN_EIO;
	}
	png_set_write_fn(png, (void *)out, png_write_cb, png_flush_cb);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bilevel ? 1 : 8,
	             PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
	             PNG_FILTER_TYPE_DEFAULT);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, bilevel ? PNG_FILTER_NONE : PNG_FILTER_SUB);
	png_write_info(png, info);
	for (int y = 0; y < h; y++) {
		const uint8_t *a = data + (size_t)y * (size_t)stride;
		if (bilevel) {
			memset(row, 0, (size_t)(w + 7) / 8);
			for (int x = 0; x < w; x++)
				row[x >> 3] |= (uint8_t)((a[x] >= 128) << (7 - (x & 7)));
		} else {
			memcpy(row, a, (size_t)w);
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	return 0;
}

int label_png(const char *url, idn_slice caption, const label_opts *o, label_sink sink, void *arg,
              char *err, size_t errlen)
{
	const char *why = label_libs_load();
	if (why) {
		snprintf(err, errlen, "%s", why);
		return IDN_ENOTSUP;
	}
	QRcode *q = label_encode(url, o->ecc, err, errlen);
	if (!q)
		return IDN_EINVAL;
	unsigned m = module_px(q, o, err, errlen);
	if (!m) {
		QRcode_free(q);
		return IDN_EINVAL;
	}
	unsigned h = o->px + (o->text ? caption_band(o->px) : 0);
	/* Grey: the page painted opaque (white), the ink clears it (black). */
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, (int)o->px, (int)h);
	cairo_t *cr = cairo_create(s);
	cairo_set_source_rgba(cr, 0, 0, 0, 1);
	cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
	cairo_paint(cr);
	cairo_set_operator(cr, CAIRO_OPERATOR_CLEAR);
	cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
	unsigned off = (o->px - m * (unsigned)q->width) / 2;
	label_modules(cr, q, off, off, m);
	QRcode_free(q);
	if (o->text) {
		cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
		PangoLayout *lay = pango_cairo_create_layout(cr);
		double pad = o->px / 32.0;
		label_caption(cr, lay, caption, pad, o->px - off / 2.0, o->px - 2 * pad,
		              caption_font(o->px));
		g_object_unref(lay);
	}
	cairo_status_t st = cairo_status(cr);
	cairo_destroy(cr);
	label_out out = {sink, arg};
	int ret = st == CAIRO_STATUS_SUCCESS     ? png_of(s, !o->text, &out)
	          : st == CAIRO_STATUS_NO_MEMORY ? IDN_ENOMEM
	                                         : IDN_EIO;
	cairo_surface_destroy(s);
	return ret;
}

/* A small text buffer in front of a sink (SVG is written in many small pieces). */
typedef struct svg_buf {
	label_out out;
	char b[4096];
	size_t n;
	int fail;
	int margin; /* the quiet zone, added to each module's place */
} svg_buf;

static void svg_flush(svg_buf *b)
{
	if (b->n && !b->fail && b->out.sink(b->out.arg, b->b, b->n))
		b->fail = IDN_EIO;
	b->n = 0;
}

static void svg_printf(svg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void svg_printf(svg_buf *b, const char *fmt, ...)
{
	va_list ap;
	if (sizeof(b->b) - b->n < 256)
		svg_flush(b);
	va_start(ap, fmt);
	int k = vsnprintf(b->b + b->n, sizeof(b->b) - b->n, fmt, ap);
	va_end(ap);
	if (k > 0 && (size_t)k < sizeof(b->b) - b->n)
		b->n += (size_t)k;
	else
		b->fail = IDN_EINVAL; /* every piece written here is short */
}

static void svg_run(void *arg, int x, int y, int len)
{
	svg_buf *b = arg;
	svg_printf(b, "M%d %dh%dv1h-%dz", x + b->margin, y + b->margin, len, len);
}

/* The caption as SVG text: XML-escaped; squeezed to the width when it looks too long. */
static void svg_caption(svg_buf *b, idn_slice text, unsigned px)
{
	double font = caption_font(px), width = 0;
	for (uint32_t i = 0; i < text.len; i++) {
		uint8_t c = text.p[i];
		if ((c & 0xC0) != 0x80) /* one code point: CJK is about 1em wide, others ~0.6 */
			width += c >= 0xE1 ? font : 0.6 * font;
	}
	svg_printf(b,
	           "<text x=\"%u\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"%.1f\" "
	           "text-anchor=\"middle\"",
	           px / 2, px + font, font);
	if (width > px * 0.95)
		svg_printf(b, " textLength=\"%.1f\" lengthAdjust=\"spacingAndGlyphs\"", px * 0.95);
	svg_printf(b, ">");
	for (uint32_t i = 0; i < text.len; i++) {
		uint8_t c = text.p[i];
		const char *e = c == '&'    ? "&amp;"
		                : c == '<'  ? "&lt;"
		                : c == '>'  ? "&gt;"
		                : c == '"'  ? "&quot;"
		                : c == '\'' ? "&apos;"
		                            : NULL;
		if (e)
			svg_printf(b, "%s", e);
		else
			svg_printf(b, "%c", c);
	}
	svg_printf(b, "</text>");
}

int label_svg(const char *url, idn_slice caption, const label_opts *o, label_sink sink, void *arg,
              char *err, size_t errlen)
{
	QRcode *q = label_encode(url, o->ecc, err, errlen);
	if (!q)
		return IDN_EINVAL;
	/* Vector: the code fills the width whatever the module count. */
	int total = q->width + 2 * (int)o->margin;
	unsigned h = o->px + (o->text ? caption_band(o->px) : 0);
	svg_buf *b = malloc(sizeof(*b));
	if (!b) {
		QRcode_free(q);
		return IDN_ENOMEM;
	}
	b->out = (label_out){sink, arg};
	b->n = 0;
	b->fail = 0;
	svg_printf(b,
	           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
	           "viewBox=\"0 0 %u %u\">"
	           "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>"
	           "<path transform=\"scale(%.6f)\" shape-rendering=\"crispEdges\" "
	           "fill=\"#000\" d=\"",
	           o->px, h, o->px, h, (double)o->px / total);
	b->margin = (int)o->margin;
	label_runs(q, svg_run, b);
	svg_printf(b, "\"/>");
	QRcode_free(q);
	if (o->text)
		svg_caption(b, caption, o->px);
	svg_printf(b, "</svg>\n");
	svg_flush(b);
	int ret = b->fail;
	free(b);
	return ret;
}

const char *label_unavailable(void)
{
	return label_libs_load();
}

void label_thread_done(void)
{
	if (label_libs_loaded())
		pango_cairo_font_map_set_default(NULL);
}

void label_process_done(void)
{
	if (!label_libs_loaded())
		return;
	label_thread_done();
	cairo_debug_reset_static_data();
	FcFini();
}
