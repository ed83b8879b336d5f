/*
 * label_draw.h - what label.c and label_sheet.c share to draw labels: the
 * code of a URL (libqrencode), its modules and its caption on a cairo
 * context (pango), and cairo's writer into a label_sink. Only for them.
 */
#ifndef IDN_API_LABEL_DRAW_H
#define IDN_API_LABEL_DRAW_H

#include <qrencode.h>

#include "api/label.h"
#include "api/label_libs.h"

/* A sink and its argument, as cairo's write closure. */
typedef struct label_out {
	label_sink sink;
	void *arg;
} label_out;

/* The code of url at ecc (L M Q H); NULL with err when it does not fit one. */
QRcode *label_encode(const char *url, char ecc, char *err, size_t errlen);
/* Calls fn for each horizontal run of dark modules (x, y in modules). */
void label_runs(const QRcode *q, void (*fn)(void *arg, int x, int y, int len), void *arg);
/* Fills the dark modules black, the first module's corner at (x0, y0), mod units each. */
void label_modules(cairo_t *cr, const QRcode *q, double x0, double y0, double mod);
/*
 * The code as a 1-bit mask of one pixel a module (the dark ones set, no
 * quiet zone), to be painted through scaled: a PDF gets it as an image mask
 * (stencil), which viewers draw with crisp modules at any scale, where
 * rectangles at fractional places get antialiased seams and a small image
 * is interpolated into a blur, both of which scanners trip on. NULL when
 * out of memory.
 */
cairo_surface_t *label_code_mask(const QRcode *q);
/* text centred in width from (x, y) down, at most two lines (then an ellipsis). */
void label_caption(cairo_t *cr, PangoLayout *lay, idn_slice text, double x, double y, double width,
                   double font);
/* cairo's write function; its closure is a label_out. */
cairo_write_func_t label_cairo_writer(void);

#endif
