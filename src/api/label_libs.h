/*
 * label_libs.h - the libraries that draw QR labels (cairo, pango, fontconfig,
 * libpng, libarchive), loaded when a label first needs them.
 *
 * A node links none of them: with what they pull in (glib, harfbuzz,
 * freetype, X11 client libraries: some 50 shared objects) an empty node's
 * resident set went from 5.7 to 13.1 MB at start, over the 8 MB an empty node
 * may take (tests/system/test_memory.py), while most nodes never draw a
 * label. As src/store/pq.h does for libpq, label.c and label_sheet.c include
 * this header instead of the libraries' own; their calls go through a table
 * that label_libs_load() fills with dlopen and dlsym. The types and
 * constants are the libraries' own (their headers). Only for label*.c.
 */
#ifndef IDN_API_LABEL_LIBS_H
#define IDN_API_LABEL_LIBS_H

#include <archive.h>
#include <archive_entry.h>
#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>
#include <png.h>
#include <stdbool.h>
#include <stddef.h>

/* The shared objects (Debian's runtime packages install them), by tag. */
#define IDN_LABEL_LIBS(X)                                                                          \
	X(CAIRO, "libcairo.so.2", "libcairo2")                                                     \
	X(PANGOCAIRO, "libpangocairo-1.0.so.0", "libpangocairo-1.0-0")                             \
	X(PANGO, "libpango-1.0.so.0", "libpango-1.0-0")                                            \
	X(GOBJECT, "libgobject-2.0.so.0", "libglib2.0-0")                                          \
	X(FONTCONFIG, "libfontconfig.so.1", "libfontconfig1")                                      \
	X(PNG, "libpng16.so.16", "libpng16-16")                                                    \
	X(ARCHIVE, "libarchive.so.13", "libarchive13")

/* Each function the labels call, with the tag of the library that has it. */
#define IDN_LABEL_FUNCS(X)                                                                         \
	X(CAIRO, cairo_create)                                                                     \
	X(CAIRO, cairo_debug_reset_static_data)                                                    \
	X(CAIRO, cairo_destroy)                                                                    \
	X(CAIRO, cairo_fill)                                                                       \
	X(CAIRO, cairo_image_surface_create)                                                       \
	X(CAIRO, cairo_image_surface_get_data)                                                     \
	X(CAIRO, cairo_image_surface_get_height)                                                   \
	X(CAIRO, cairo_image_surface_get_stride)                                                   \
	X(CAIRO, cairo_image_surface_get_width)                                                    \
	X(CAIRO, cairo_mask)                                                                       \
	X(CAIRO, cairo_move_to)                                                                    \
	X(CAIRO, cairo_paint)                                                                      \
	X(CAIRO, cairo_pattern_create_for_surface)                                                 \
	X(CAIRO, cairo_pattern_destroy)                                                            \
	X(CAIRO, cairo_pattern_set_filter)                                                         \
	X(CAIRO, cairo_pdf_surface_create_for_stream)                                              \
	X(CAIRO, cairo_pdf_surface_set_metadata)                                                   \
	X(CAIRO, cairo_rectangle)                                                                  \
	X(CAIRO, cairo_restore)                                                                    \
	X(CAIRO, cairo_save)                                                                       \
	X(CAIRO, cairo_scale)                                                                      \
	X(CAIRO, cairo_set_antialias)                                                              \
	X(CAIRO, cairo_set_operator)                                                               \
	X(CAIRO, cairo_set_source_rgb)                                                             \
	X(CAIRO, cairo_set_source_rgba)                                                            \
	X(CAIRO, cairo_show_page)                                                                  \
	X(CAIRO, cairo_status)                                                                     \
	X(CAIRO, cairo_status_to_string)                                                           \
	X(CAIRO, cairo_surface_destroy)                                                            \
	X(CAIRO, cairo_surface_finish)                                                             \
	X(CAIRO, cairo_surface_flush)                                                              \
	X(CAIRO, cairo_surface_status)                                                             \
	X(CAIRO, cairo_translate)                                                                  \
	X(PANGOCAIRO, pango_cairo_create_layout)                                                   \
	X(PANGOCAIRO, pango_cairo_font_map_set_default)                                            \
	X(PANGOCAIRO, pango_cairo_show_layout)                                                     \
	X(PANGO, pango_font_description_free)                                                      \
	X(PANGO, pango_font_description_from_string)                                               \
	X(PANGO, pango_font_description_set_absolute_size)                                         \
	X(PANGO, pango_layout_get_extents)                                                         \
	X(PANGO, pango_layout_set_alignment)                                                       \
	X(PANGO, pango_layout_set_ellipsize)                                                       \
	X(PANGO, pango_layout_set_font_description)                                                \
	X(PANGO, pango_layout_set_height)                                                          \
	X(PANGO, pango_layout_set_text)                                                            \
	X(PANGO, pango_layout_set_width)                                                           \
	X(PANGO, pango_layout_set_wrap)                                                            \
	X(GOBJECT, g_object_unref)                                                                 \
	X(FONTCONFIG, FcFini)                                                                      \
	X(PNG, png_create_info_struct)                                                             \
	X(PNG, png_create_write_struct)                                                            \
	X(PNG, png_destroy_write_struct)                                                           \
	X(PNG, png_error)                                                                          \
	X(PNG, png_get_io_ptr)                                                                     \
	X(PNG, png_set_longjmp_fn)                                                                 \
	X(PNG, png_longjmp)                                                                        \
	X(PNG, png_set_IHDR)                                                                       \
	X(PNG, png_set_filter)                                                                     \
	X(PNG, png_set_write_fn)                                                                   \
	X(PNG, png_write_end)                                                                      \
	X(PNG, png_write_info)                                                                     \
	X(PNG, png_write_row)                                                                      \
	X(ARCHIVE, archive_entry_free)                                                             \
	X(ARCHIVE, archive_entry_new)                                                              \
	X(ARCHIVE, archive_entry_set_filetype)                                                     \
	X(ARCHIVE, archive_entry_set_mtime)                                                        \
	X(ARCHIVE, archive_entry_set_pathname)                                                     \
	X(ARCHIVE, archive_entry_set_perm)                                                         \
	X(ARCHIVE, archive_entry_set_size)                                                         \
	X(ARCHIVE, archive_write_close)                                                            \
	X(ARCHIVE, archive_write_data)                                                             \
	X(ARCHIVE, archive_write_free)                                                             \
	X(ARCHIVE, archive_write_header)                                                           \
	X(ARCHIVE, archive_write_new)                                                              \
	X(ARCHIVE, archive_write_open)                                                             \
	X(ARCHIVE, archive_write_set_bytes_per_block)                                              \
	X(ARCHIVE, archive_write_set_format_zip)                                                   \
	X(ARCHIVE, archive_write_zip_set_compression_deflate)                                      \
	X(ARCHIVE, archive_write_zip_set_compression_store)

struct idn_label_libs {
#define IDN_LABEL_MEMBER(lib, f) __typeof__(f) *f;
	IDN_LABEL_FUNCS(IDN_LABEL_MEMBER)
#undef IDN_LABEL_MEMBER
};

extern struct idn_label_libs idn_lbl;

/*
 * Loads them once (thread-safe; later calls return the first result): NULL,
 * or what is missing (static text: the library and its Debian package).
 */
const char *label_libs_load(void);
/* Whether they were loaded (without loading them). */
bool label_libs_loaded(void);

#ifndef IDN_LABEL_LIBS_IMPL
#define cairo_create                              idn_lbl.cairo_create
#define cairo_debug_reset_static_data             idn_lbl.cairo_debug_reset_static_data
#define cairo_destroy                             idn_lbl.cairo_destroy
#define cairo_fill                                idn_lbl.cairo_fill
#define cairo_image_surface_create                idn_lbl.cairo_image_surface_create
#define cairo_image_surface_get_data              idn_lbl.cairo_image_surface_get_data
#define cairo_image_surface_get_height            idn_lbl.cairo_image_surface_get_height
#define cairo_image_surface_get_stride            idn_lbl.cairo_image_surface_get_stride
#define cairo_image_surface_get_width             idn_lbl.cairo_image_surface_get_width
#define cairo_mask                                idn_lbl.cairo_mask
#define cairo_move_to                             idn_lbl.cairo_move_to
#define cairo_paint                               idn_lbl.cairo_paint
#define cairo_pattern_create_for_surface          idn_lbl.cairo_pattern_create_for_surface
#define cairo_pattern_destroy                     idn_lbl.cairo_pattern_destroy
#define cairo_pattern_set_filter                  idn_lbl.cairo_pattern_set_filter
#define cairo_pdf_surface_create_for_stream       idn_lbl.cairo_pdf_surface_create_for_stream
#define cairo_pdf_surface_set_metadata            idn_lbl.cairo_pdf_surface_set_metadata
#define cairo_rectangle                           idn_lbl.cairo_rectangle
#define cairo_restore                             idn_lbl.cairo_restore
#define cairo_save                                idn_lbl.cairo_save
#define cairo_scale                               idn_lbl.cairo_scale
#define cairo_set_antialias                       idn_lbl.cairo_set_antialias
#define cairo_set_operator                        idn_lbl.cairo_set_operator
#define cairo_set_source_rgb                      idn_lbl.cairo_set_source_rgb
#define cairo_set_source_rgba                     idn_lbl.cairo_set_source_rgba
#define cairo_show_page                           idn_lbl.cairo_show_page
#define cairo_status                              idn_lbl.cairo_status
#define cairo_status_to_string                    idn_lbl.cairo_status_to_string
#define cairo_surface_destroy                     idn_lbl.cairo_surface_destroy
#define cairo_surface_finish                      idn_lbl.cairo_surface_finish
#define cairo_surface_flush                       idn_lbl.cairo_surface_flush
#define cairo_surface_status                      idn_lbl.cairo_surface_status
#define cairo_translate                           idn_lbl.cairo_translate
#define pango_cairo_create_layout                 idn_lbl.pango_cairo_create_layout
#define pango_cairo_font_map_set_default          idn_lbl.pango_cairo_font_map_set_default
#define pango_cairo_show_layout                   idn_lbl.pango_cairo_show_layout
#define pango_font_description_free               idn_lbl.pango_font_description_free
#define pango_font_description_from_string        idn_lbl.pango_font_description_from_string
#define pango_font_description_set_absolute_size  idn_lbl.pango_font_description_set_absolute_size
#define pango_layout_get_extents                  idn_lbl.pango_layout_get_extents
#define pango_layout_set_alignment                idn_lbl.pango_layout_set_alignment
#define pango_layout_set_ellipsize                idn_lbl.pango_layout_set_ellipsize
#define pango_layout_set_font_description         idn_lbl.pango_layout_set_font_description
#define pango_layout_set_height                   idn_lbl.pango_layout_set_height
#define pango_layout_set_text                     idn_lbl.pango_layout_set_text
#define pango_layout_set_width                    idn_lbl.pango_layout_set_width
#define pango_layout_set_wrap                     idn_lbl.pango_layout_set_wrap
#define g_object_unref                            idn_lbl.g_object_unref
#define FcFini                                    idn_lbl.FcFini
#define png_create_info_struct                    idn_lbl.png_create_info_struct
#define png_create_write_struct                   idn_lbl.png_create_write_struct
#define png_destroy_write_struct                  idn_lbl.png_destroy_write_struct
#define png_error                                 idn_lbl.png_error
#define png_get_io_ptr                            idn_lbl.png_get_io_ptr
#define png_set_longjmp_fn                        idn_lbl.png_set_longjmp_fn
#define png_longjmp                               idn_lbl.png_longjmp
#define png_set_IHDR                              idn_lbl.png_set_IHDR
#define png_set_filter                            idn_lbl.png_set_filter
#define png_set_write_fn                          idn_lbl.png_set_write_fn
#define png_write_end                             idn_lbl.png_write_end
#define png_write_info                            idn_lbl.png_write_info
#define png_write_row                             idn_lbl.png_write_row
#define archive_entry_free                        idn_lbl.archive_entry_free
#define archive_entry_new                         idn_lbl.archive_entry_new
#define archive_entry_set_filetype                idn_lbl.archive_entry_set_filetype
#define archive_entry_set_mtime                   idn_lbl.archive_entry_set_mtime
#define archive_entry_set_pathname                idn_lbl.archive_entry_set_pathname
#define archive_entry_set_perm                    idn_lbl.archive_entry_set_perm
#define archive_entry_set_size                    idn_lbl.archive_entry_set_size
#define archive_write_close                       idn_lbl.archive_write_close
#define archive_write_data                        idn_lbl.archive_write_data
#define archive_write_free                        idn_lbl.archive_write_free
#define archive_write_header                      idn_lbl.archive_write_header
#define archive_write_new                         idn_lbl.archive_write_new
#define archive_write_open                        idn_lbl.archive_write_open
#define archive_write_set_bytes_per_block         idn_lbl.archive_write_set_bytes_per_block
#define archive_write_set_format_zip              idn_lbl.archive_write_set_format_zip
#define archive_write_zip_set_compression_deflate idn_lbl.archive_write_zip_set_compression_deflate
#define archive_write_zip_set_compression_store   idn_lbl.archive_write_zip_set_compression_store
#endif

#endif
