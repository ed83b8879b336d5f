/*
 * label_sheet.c - many labels at once: A4 PDF sheets (cairo's PDF surface,
 * each page written to the sink when the next one begins, captions set by
 * pango with the fonts fontconfig finds for their script), and ZIPs of
 * images (libarchive, written entry by entry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/label_draw.h"
#include "core/err.h"

/* A4 in points, and the page's margin and each label's padding. */
#define A4_W    595.276
#define A4_H    841.890
#define PAGE_MM 10.0
#define MM      (72.0 / 25.4)

label_sheet_opts label_sheet_opts_default(void)
{
	return (label_sheet_opts){.columns = LABEL_COLUMNS_DEFAULT,
	                          .rows = LABEL_ROWS_DEFAULT,
	                          .margin = LABEL_MARGIN_DEFAULT,
	                          .ecc = 'M',
	                          .text = true};
}

const char *label_sheet_opts_check(const label_sheet_opts *o)
{
	if (o->width_mm || o->height_mm) {
		if (!(o->width_mm >= 10 && o->width_mm <= 190))
			return "width_mm: must be 10..190 (with height_mm)";
		if (!(o->height_mm >= 10 && o->height_mm <= 277))
			return "height_mm: must be 10..277 (with width_mm)";
	} else if (o->columns < 1 || o->columns > LABEL_COLUMNS_MAX)
		return "columns: must be 1..12";
	if (o->rows < 1 || o->rows > LABEL_ROWS_MAX)
		return "rows: must be 1..20";
	label_opts lo = label_opts_default();
	lo.margin = o->margin;
	lo.ecc = o->ecc;
	return label_opts_check(&lo);
}

struct label_sheet {
	label_sheet_opts o;
	label_out out;
	cairo_surface_t *surf;
	cairo_t *cr;
	PangoLayout *lay;
	size_t count;
	double x0, y0; /* the grid's top left corner */
	double cell_w, cell_h, pad, font, side;
};

int label_sheet_new(const label_sheet_opts *o, label_sink sink, void *arg, label_sheet **out)
{
	if (label_libs_load())
		return IDN_ENOTSUP;
	label_sheet *s = calloc(1, sizeof(*s));
	if (!s)
		return IDN_ENOMEM;
	s->o = *o;
	s->out = (label_out){sink, arg};
	s->surf = cairo_pdf_surface_create_for_stream(label_cairo_writer(), &s->out, A4_W, A4_H);
	cairo_pdf_surface_set_metadata(s->surf, CAIRO_PDF_METADATA_TITLE, "QR labels");
	cairo_pdf_surface_set_metadata(s->surf, CAIRO_PDF_METADATA_CREATOR, "idnode");
	s->cr = cairo_create(s->surf);
	s->lay = pango_cairo_create_layout(s->cr);
	if (cairo_status(s->cr) != CAIRO_STATUS_SUCCESS || !s->lay) {
		label_sheet_free(s);
		return IDN_ENOMEM;
	}
	double aw = A4_W - 2 * PAGE_MM * MM, ah = A4_H - 2 * PAGE_MM * MM;
	if (o->width_mm) {
		s->cell_w = o->width_mm * MM;
		s->cell_h = o->height_mm * MM;
		s->o.columns = (unsigned)(aw / s->cell_w + 1e-6);
		s->o.rows = (unsigned)(ah / s->cell_h + 1e-6);
	} else {
		s->cell_w = aw / o->columns;
		s->cell_h = ah / o->rows;
	}
	s->x0 = (A4_W - s->o.columns * s->cell_w) / 2;
	s->y0 = (A4_H - s->o.rows * s->cell_h) / 2;
	double small = s->cell_w < s->cell_h ? s->cell_w : s->cell_h;
	s->pad = small * 0.05;
	s->font = s->cell_h * 0.07 < 5 ? 5 : s->cell_h * 0.07 > 9 ? 9 : s->cell_h * 0.07;
	double text_h = o->text ? s->font * 2.6 : 0;
	double w = s->cell_w - 2 * s->pad, h = s->cell_h - 2 * s->pad - text_h;
	s->side = w < h ? w : h;
	*out = s;
	return 0;
}

size_t label_sheet_count(const label_sheet *s)
{
	return s->count;
}

int label_sheet_add(label_sheet *s, const char *url, idn_slice caption, char *err, size_t errlen)
{
	QRcode *q = label_encode(url, s->o.ecc, err, errlen);
	if (!q)
		return IDN_EINVAL;
	size_t per_page = (size_t)s->o.columns * s->o.rows, at = s->count % per_page;
	if (s->count && !at)
		cairo_show_page(s->cr); /* the full page goes out through the sink now */
	double x = s->x0 + (double)(at % s->o.columns) * s->cell_w;
	double y = s->y0 + (double)(at / s->o.columns) * s->cell_h;
	double mod = s->side / (q->width + 2 * (int)s->o.margin);
	double cx = x + (s->cell_w - s->side) / 2, cy = y + s->pad;
	cairo_surface_t *mask = label_code_mask(q);
	QRcode_free(q);
	if (!mask)
		return IDN_ENOMEM;
	cairo_save(s->cr);
	cairo_translate(s->cr, cx + s->o.margin * mod, cy + s->o.margin * mod);
	cairo_scale(s->cr, mod, mod);
	cairo_pattern_t *pat = cairo_pattern_create_for_surface(mask);
	cairo_pattern_set_filter(pat, CAIRO_FILTER_NEAREST);
	cairo_set_source_rgb(s->cr, 0, 0, 0);
	cairo_mask(s->cr, pat);
	cairo_pattern_destroy(pat);
	cairo_restore(s->cr);
	cairo_surface_destroy(mask);
	if (s->o.text)
		label_caption(s->cr, s->lay, caption, x + s->pad, cy + s->side + s->pad / 2,
		              s->cell_w - 2 * s->pad, s->font);
	s->count++;
	cairo_status_t st = cairo_status(s->cr);
	if (st == CAIRO_STATUS_SUCCESS)
		return 0;
	snprintf(err, errlen, "the PDF could not be written: %s", cairo_status_to_string(st));
	return st == CAIRO_STATUS_NO_MEMORY ? IDN_ENOMEM : IDN_EIO;
}

int label_sheet_finish(label_sheet *s)
{
	g_object_unref(s->lay);
	s->lay = NULL;
	cairo_destroy(s->cr);
	s->cr = NULL;
	cairo_surface_finish(s->surf);
	int ret = cairo_surface_status(s->surf) == CAIRO_STATUS_SUCCESS ? 0 : IDN_EIO;
	label_sheet_free(s);
	return ret;
}

void label_sheet_free(label_sheet *s)
{
	if (!s)
		return;
	if (s->lay)
		g_object_unref(s->lay);
	if (s->cr)
		cairo_destroy(s->cr);
	s->out.sink = NULL; /* what destroying the surface writes goes nowhere */
	if (s->surf)
		cairo_surface_destroy(s->surf);
	free(s);
}

/* ---- ZIP ---- */

struct label_zip {
	struct archive *a;
	label_out out;
	bool failed;
};

static la_ssize_t zip_write(struct archive *a, void *arg, const void *p, size_t n)
{
	(void)a;
	label_zip *z = arg;
	if (!z->out.sink) /* being freed: what it writes goes nowhere */
		return (la_ssize_t)n;
	if (z->out.sink(z->out.arg, p, n)) {
		z->failed = true;
		return -1;
	}
	return (la_ssize_t)n;
}

int label_zip_new(bool compress, label_sink sink, void *arg, label_zip **out)
{
	if (label_libs_load())
		return IDN_ENOTSUP;
	label_zip *z = calloc(1, sizeof(*z));
	if (!z || !(z->a = archive_write_new())) {
		free(z);
		return IDN_ENOMEM;
	}
	z->out = (label_out){sink, arg};
	if (archive_write_set_format_zip(z->a) != ARCHIVE_OK ||
	    (compress ? archive_write_zip_set_compression_deflate(z->a)
	              : archive_write_zip_set_compression_store(z->a)) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(z->a, 0) != ARCHIVE_OK ||
	    archive_write_open(z->a, z, NULL, zip_write, NULL) != ARCHIVE_OK) {
		archive_write_free(z->a);
		free(z);
		return IDN_EIO;
	}
	*out = z;
	return 0;
}

int label_zip_add(label_zip *z, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return IDN_ENOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, time(NULL), 0);
	int ok = archive_write_header(z->a, e) == ARCHIVE_OK &&
	         archive_write_data(z->a, data, len) == (la_ssize_t)len;
	archive_entry_free(e);
	return ok && !z->failed ? 0 : IDN_EIO;
}

int label_zip_finish(label_zip *z)
{
	int ok = archive_write_close(z->a) == ARCHIVE_OK && !z->failed;
	archive_write_free(z->a);
	free(z);
	return ok ? 0 : IDN_EIO;
}

void label_zip_free(label_zip *z)
{
	if (!z)
		return;
	z->out.sink = NULL;
	archive_write_free(z->a);
	free(z);
}

void label_zip_name(size_t i, idn_slice handle, const char *ext, char *out, size_t cap)
{
	int o = snprintf(out, cap, "%04zu-", i + 1);
	size_t n = o > 0 ? (size_t)o : 0;
	for (uint32_t k = 0; k < handle.len && k < 100 && n + 1 < cap; k++) {
		uint8_t c = handle.p[k];
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || c == '.' || c == '-';
		out[n++] = keep ? (char)c : '_';
	}
	snprintf(out + n, cap - n, ".%s", ext);
}
