/*
 * label.h - QR labels for printing on carriers (a motor's plate, a carton, a
 * pallet): the code of a URL as SVG (written as text), as PNG (cairo's image
 * surface), many on A4 PDF sheets (cairo's PDF surface, captions by pango so
 * Chinese and other scripts find a font), and many images in one ZIP
 * (libarchive). The codes are libqrencode's.
 *
 * Everything is written through a label_sink as it is produced: a sheet
 * writes each page when it is full, so a caller can send page after page
 * without holding the whole document (api_labels.c streams them).
 *
 * Threads: any; pango's font map is per thread (label_thread_done frees the
 * calling thread's). Nothing here touches the network.
 */
#ifndef IDN_API_LABEL_H
#define IDN_API_LABEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/wire.h"

enum {
	LABEL_PX_MIN = 64,   /* side of a PNG/SVG code, pixels */
	LABEL_PX_MAX = 4096, /* an RGB image of 4096 x 4096 is 64 MiB while drawn */
	LABEL_PX_DEFAULT = 512,
	LABEL_MARGIN_MAX = 16, /* quiet zone, modules (the standard asks for 4) */
	LABEL_MARGIN_DEFAULT = 4,
	LABEL_COLUMNS_MAX = 12, /* labels across an A4 sheet */
	LABEL_ROWS_MAX = 20,    /* labels down an A4 sheet */
	LABEL_COLUMNS_DEFAULT = 4,
	LABEL_ROWS_DEFAULT = 6,
	LABEL_HANDLE_MAX = 1024, /* bytes of an identifier a label takes */
	LABEL_URL_MAX = 4096,    /* the proxy URL: base + identifier, %-encoded */
	LABEL_BASE_MAX = 512,    /* a configured base URL */
};

/* Where output goes: returns 0, or non-zero to stop (the writer then fails). */
typedef int (*label_sink)(void *arg, const void *p, size_t n);

typedef struct label_opts {
	unsigned px;     /* side of the code in pixels (PNG, SVG), LABEL_PX_MIN..MAX */
	unsigned margin; /* quiet zone around the code, in modules, 0..LABEL_MARGIN_MAX */
	char ecc;        /* error correction: 'L', 'M', 'Q' or 'H' */
	bool text;       /* the caption (the identifier) under the code */
} label_opts;

/*
 * An A4 sheet: columns x rows labels per page within 10 mm margins, each
 * code with its caption; or labels of exactly width_mm x height_mm, as many
 * as fit there, the grid centred on the page.
 */
typedef struct label_sheet_opts {
	unsigned columns, rows;     /* 1..LABEL_COLUMNS_MAX, 1..LABEL_ROWS_MAX */
	double width_mm, height_mm; /* 0: from columns and rows; else 10..190, 10..277 */
	unsigned margin;
	char ecc;
	bool text;
} label_sheet_opts;

/* The defaults of each field. */
label_opts label_opts_default(void);
label_sheet_opts label_sheet_opts_default(void);

/* NULL when o is acceptable, else what is wrong, naming the field (static text). */
const char *label_opts_check(const label_opts *o);
const char *label_sheet_opts_check(const label_sheet_opts *o);

/*
 * An identifier a label can carry: 1..LABEL_HANDLE_MAX bytes of UTF-8
 * without control characters, PREFIX/SUFFIX both non-empty, and no "." or
 * ".." path segment (a browser would remove it from the URL). NULL or what
 * is wrong (static text).
 */
const char *label_handle_check(idn_slice h);

/*
 * A base URL the labels point under: absolute http(s)://host[:port][/path],
 * no spaces, control bytes, query or fragment, at most LABEL_BASE_MAX bytes.
 * NULL or what is wrong (static text).
 */
const char *label_base_check(const char *base);

/*
 * The base of a node's own URLs from a request's Host header (host[:port] or
 * [v6][:port], nothing else: no spaces, CR/LF, user info or path):
 * "http(s)://HOST/" into out. Its length, or -1 when Host is malformed.
 */
int label_host_base(bool tls, idn_slice host, char *out, size_t cap);

/* The most bytes a QR code carries at ecc (8-bit mode, version 40). */
size_t label_capacity(char ecc);

/*
 * The proxy URL of handle under base (a checked base; a '/' is put between
 * them when base lacks it): every byte of the identifier but A-Z a-z 0-9
 * - . _ ~ and '/' is %-encoded, so the URL's path, %-decoded, is the
 * identifier. Returns its length, or -1 when it does not fit cap.
 */
int label_url(const char *base, idn_slice handle, char *out, size_t cap);

/*
 * One label of url: the code (and the caption under it when o->text).
 * 0, or IDN_EINVAL with err saying why (the URL does not fit a QR code at
 * that level, the size is too small for its modules), or the sink's failure
 * as IDN_EIO.
 */
int label_svg(const char *url, idn_slice caption, const label_opts *o, label_sink sink, void *arg,
              char *err, size_t errlen);
int label_png(const char *url, idn_slice caption, const label_opts *o, label_sink sink, void *arg,
              char *err, size_t errlen);

/* A PDF of A4 pages of labels; each page goes to the sink when it is full. */
typedef struct label_sheet label_sheet;
int label_sheet_new(const label_sheet_opts *o, label_sink sink, void *arg, label_sheet **out);
/* The next label; 0 or as label_svg. */
int label_sheet_add(label_sheet *s, const char *url, idn_slice caption, char *err, size_t errlen);
/* Labels on the sheet so far. */
size_t label_sheet_count(const label_sheet *s);
/* Writes the rest of the document (fonts, index) and frees s; 0 or IDN_EIO. */
int label_sheet_finish(label_sheet *s);
/* Frees s without finishing the document (NULL is fine). */
void label_sheet_free(label_sheet *s);

/* A ZIP of files written as they are added (stored, or deflated when compress). */
typedef struct label_zip label_zip;
int label_zip_new(bool compress, label_sink sink, void *arg, label_zip **out);
int label_zip_add(label_zip *z, const char *name, const void *data, size_t len);
/* Writes the central directory and frees z; 0 or IDN_EIO. */
int label_zip_finish(label_zip *z);
void label_zip_free(label_zip *z);

/* The name of label i of handle in a ZIP: "0001-88.100.1_MOTOR-1.png" (ASCII, no '/'). */
void label_zip_name(size_t i, idn_slice handle, const char *ext, char *out, size_t cap);

/*
 * NULL when PNG, PDF and ZIP labels can be made, else why not (the library
 * to install). The libraries are loaded on first use (label_libs.h); SVG
 * needs none of them. label_png, label_sheet_new and label_zip_new give
 * IDN_ENOTSUP without them.
 */
const char *label_unavailable(void);

/* Frees what this thread holds for captions (pango's font map). */
void label_thread_done(void);
/*
 * At exit, once no thread draws labels any more: frees what cairo and
 * fontconfig keep for the process, so a leak checker sees none of it.
 */
void label_process_done(void);

#endif
