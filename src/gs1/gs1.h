/* gs1.h - GS1 Digital Link: the table of application identifiers (AIs), the
 * parser of GS1 Digital Link URIs (uncompressed form), and the rules that map
 * a GS1 key to a Handle identifier and back. Pure: no I/O, no allocation
 * after the AI table is read (once, from the copy of src/gs1/ai_table.txt
 * compiled in). docs/gs1.md describes what is accepted and why. */
#ifndef IDN_GS1_H
#define IDN_GS1_H

#include <stdbool.h>
#include <stddef.h>

#define GS1_AI_MAX          4  /* digits of an AI */
#define GS1_VALUE_MAX       90 /* the longest AI value (91-99: X..90) */
#define GS1_COMP_MAX        5  /* components of one AI's format */
#define GS1_QSEQ_MAX        2  /* alternative qualifier sequences of a key */
#define GS1_QUAL_MAX        3  /* qualifiers in one sequence (22, 10, 21) */
#define GS1_ATTR_MAX        32 /* AI data attributes in one URI's query */
#define GS1_OTHER_MAX       16 /* other (non-AI) query parameters */
#define GS1_OTHER_KEY_MAX   64
#define GS1_OTHER_VALUE_MAX 256
#define GS1_STEM_MAX        512  /* scheme://host/custom path before the key */
#define GS1_URI_MAX         4096 /* a longer URI is refused */

/* One component of an AI's format: e.g. N13 with a check digit, X..17. */
typedef struct {
	char cset;              /* 'N' digits, 'X' set 82, 'Y' set 39, 'Z' set 64 */
	unsigned char min, max; /* length bounds; min == max when fixed */
	bool optional;          /* may be absent (a last component) */
	char check;             /* 0, 'c' mod-10 check digit last, 'k' check character pair */
} gs1_comp;

/* One AI of the table. */
typedef struct {
	char ai[GS1_AI_MAX + 1];
	char title[64];
	gs1_comp comp[GS1_COMP_MAX];
	int ncomp;
	bool key; /* a GS1 Digital Link primary key */
	int nseq; /* alternative qualifier sequences (0 when none) */
	char seq[GS1_QSEQ_MAX][GS1_QUAL_MAX][GS1_AI_MAX + 1];
	int seqlen[GS1_QSEQ_MAX];
	bool attr; /* may be a data attribute (query parameter) */
} gs1_ai;

/* The AI's row, or NULL when the AI is unknown (or the table did not load:
 * gs1_table_error says why). */
const gs1_ai *gs1_ai_find(const char *ai);
/* The same for the n characters at ai (not NUL-terminated): a direct index,
 * no search. */
const gs1_ai *gs1_ai_findn(const char *ai, size_t n);
/* NULL when the compiled-in table loaded, else its first error (file line). */
const char *gs1_table_error(void);
/* Whether some primary key takes ai as a key qualifier (22, 10, 21, 254...). */
bool gs1_ai_qualifies(const char *ai);
/* The number of AIs in the table (ranges expanded). */
int gs1_ai_count(void);

/* Checks value (already percent-decoded) against the AI's format: character
 * set, lengths, check digits. 0, or -1 with err "21: character '~' not in set
 * 82". */
int gs1_ai_check(const gs1_ai *a, const char *value, char *err, size_t errlen);
/* The mod-10 check digit of the n digits at s (GTIN, SSCC, GLN, ...). */
int gs1_mod10(const char *s, size_t n);

typedef struct {
	char ai[GS1_AI_MAX + 1];
	char value[GS1_VALUE_MAX + 1];
} gs1_elem;

typedef struct {
	char key[GS1_OTHER_KEY_MAX + 1];
	char value[GS1_OTHER_VALUE_MAX + 1];
} gs1_other;

/* A parsed GS1 Digital Link URI: values percent-decoded, a GTIN-8/12/13 made
 * a GTIN-14. */
typedef struct {
	char stem[GS1_STEM_MAX + 1]; /* "https://example.com/shop", "" for a bare path */
	gs1_elem key;                /* the primary key */
	gs1_elem qual[GS1_QUAL_MAX]; /* its key qualifiers, in the path's order */
	int nqual;
	gs1_elem attr[GS1_ATTR_MAX]; /* AI data attributes, in the query's order */
	int nattr;
	gs1_other other[GS1_OTHER_MAX]; /* linkType, context, lang, ... */
	int nother;
} gs1_dl;

/* Parses a GS1 Digital Link URI ("https://host/stem/01/…?17=…") or a path
 * with its query ("/01/…?…", as an HTTP request line carries it), in the
 * uncompressed or the compressed form (a last path segment of base64url:
 * gs1_zip.c). 0, or -1 with err naming the element at fault. */
int gs1_dl_parse(const char *uri, gs1_dl *out, char *err, size_t errlen);

/* The element of dl with this AI (primary key, qualifier or attribute), or
 * NULL. */
const gs1_elem *gs1_dl_get(const gs1_dl *dl, const char *ai);

/* Writes dl as a canonical uncompressed URI: stem (or "https://id.gs1.org"
 * when empty), the key, its qualifiers in the standard's order, the AI data
 * attributes and the other parameters as the query, each value
 * percent-encoded as the standard asks. Returns the length, or -1 when it
 * does not fit (or dl's key is unknown). */
int gs1_dl_build(const gs1_dl *dl, char *buf, size_t buflen);

/* Prints dl as JSON: {"stem":..,"key":{"ai":..,"title":..,"value":..},
 * "qualifiers":[..],"attributes":[..],"other":{..}}. Length, or -1 when it
 * does not fit. */
int gs1_dl_json(const gs1_dl *dl, char *buf, size_t buflen);

/* s as a JSON string (quoted, escaped). Length, or -1 when it does not fit. */
int gs1_json_string(const char *s, char *buf, size_t buflen);

/* A mapping rule, chosen by the GS1 company prefix the key starts with: the
 * template of the Handle identifier a GS1 key maps to, e.g.
 * "88.100.1/01.{01}.21.{21}": text is copied, {AI} is the AI's value escaped
 * for a handle suffix (characters outside A-Z a-z 0-9 - . _ become %XX, as
 * the standard percent-encodes them). The handle prefix (before the first
 * '/') is literal. The primary key's AI must be in the template. */
typedef struct {
	char gcp[16];             /* the GS1 company prefix (digits) the rule is for */
	char key[GS1_AI_MAX + 1]; /* the primary key AI it applies to ("01") */
	char tmpl[256];
} gs1_rule;

/* Checks a rule: gcp digits (4 to 12), key a primary key AI, template with a
 * handle prefix, balanced placeholders naming known AIs, the key among them,
 * no two placeholders adjacent (the reverse mapping could not split them).
 * 0, or -1 with err. */
int gs1_rule_check(const gs1_rule *r, char *err, size_t errlen);

/* The rule for dl: among rules whose key is dl's primary key AI and whose
 * company prefix dl's key value starts with (for a GTIN, after its first
 * digit, the indicator digit or the padding zero), the one with the longest
 * prefix; NULL when none. */
const gs1_rule *gs1_rule_find(const gs1_rule *rules, int n, const gs1_dl *dl);

/* Applies r to dl: writes the handle. Returns its length; 0 when the rule does
 * not apply (dl lacks an AI the template names, or r is for another key); -1
 * when it does not fit in buf. */
int gs1_rule_apply(const gs1_rule *r, const gs1_dl *dl, char *buf, size_t buflen);

/* The reverse: when handle matches r's template, fills dl (stem empty) with
 * the key and the AIs the template names, each value checked as a parsed URI
 * would be; returns 1. 0 when the handle does not match the rule; -1 with err
 * when it matches but a value is not valid for its AI. */
int gs1_rule_match(const gs1_rule *r, const char *handle, gs1_dl *dl, char *err, size_t errlen);

#endif
