/* gs1_ai.c - the table of GS1 application identifiers, read once from the
 * copy of src/gs1/ai_table.txt that CMake compiles in (gs1_ai_table.h), and
 * the checks of one AI value against its format: character sets 82, 39 and
 * 64, lengths, the mod-10 check digit and the alphanumeric check pair. */
#include "gs1/gs1.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs1/internal.h"
#include "gs1_ai_table.h"

#define GS1_TABLE_MAX 600

static gs1_ai table[GS1_TABLE_MAX];
static int ntable;
/* The AIs by their digits, for a lookup without a search: an AI of 2, 3 or 4
 * digits v is at where[v], where[100 + v] or where[1100 + v] (its row + 1; 0
 * when unknown). */
static short where[100 + 1000 + 10000];
/* Whether the row's AI is some key's qualifier (gs1_ai_qualifies). */
static bool qualifies[GS1_TABLE_MAX];
/* The character sets a byte belongs to (CS_N, CS_X, CS_Y, CS_Z). */
enum { CS_N = 1, CS_X = 2, CS_Y = 4, CS_Z = 8 };
static unsigned char cset_of[256];
static char table_err[160];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* GS1 character set 82, in the order that gives each character its value
 * for the check character pair. */
static const char cset82[] = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                             "abcdefghijklmnopqrstuvwxyz";
/* The check characters of the pair, in value order. */
static const char cset32[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/* The sets of c, worked out once (cset_of holds them). */
static unsigned char sets_of(unsigned char c)
{
	if (c == '\0')
		return 0;
	unsigned char m = 0;
	if (c >= '0' && c <= '9')
		m |= CS_N;
	if (strchr(cset82, c))
		m |= CS_X;
	if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '#' || c == '-' || c == '/')
		m |= CS_Y; /* set 39: digits, upper case letters, # - / */
	if (isalnum(c) || c == '-' || c == '_' || c == '=')
		m |= CS_Z; /* set 64: the URL-safe base64 alphabet and '=' padding */
	return m;
}

static unsigned char cset_bit(char set)
{
	return set == 'N' ? CS_N : set == 'X' ? CS_X : set == 'Y' ? CS_Y : set == 'Z' ? CS_Z : 0;
}

static const char *cset_name(char set)
{
	switch (set) {
	case 'N':
		return "digits";
	case 'X':
		return "set 82";
	case 'Y':
		return "set 39";
	default:
		return "set 64";
	}
}

/* One component "?X..17", "N13c", "X..25k". */
static int parse_comp(const char *s, gs1_comp *c)
{
	memset(c, 0, sizeof *c);
	if (*s == '?') {
		c->optional = true;
		s++;
	}
	if (!strchr("NXYZ", *s) || *s == '\0')
		return -1;
	c->cset = *s++;
	bool var = false;
	if (s[0] == '.' && s[1] == '.') {
		var = true;
		s += 2;
	}
	char *end;
	long n = strtol(s, &end, 10);
	if (end == s || n < 1 || n > GS1_VALUE_MAX)
		return -1;
	c->max = (unsigned char)n;
	c->min = var ? 1 : (unsigned char)n;
	if (*end == 'c' || *end == 'k')
		c->check = *end++;
	if (*end != '\0')
		return -1;
	if (c->check == 'c' && (c->cset != 'N' || var))
		return -1;
	if (c->check == 'k' && (c->cset != 'X' || c->max < 3))
		return -1;
	return 0;
}

/* The key column: "-", "key", "key:22,10,21|235". */
static int parse_key(char *s, gs1_ai *a)
{
	if (strcmp(s, "-") == 0)
		return 0;
	if (strncmp(s, "key", 3) != 0 || (s[3] != '\0' && s[3] != ':'))
		return -1;
	a->key = true;
	if (s[3] == '\0')
		return 0;
	char *save1 = NULL;
	for (char *seq = strtok_r(s + 4, "|", &save1); seq; seq = strtok_r(NULL, "|", &save1)) {
		if (a->nseq == GS1_QSEQ_MAX)
			return -1;
		char *save2 = NULL;
		int n = 0;
		for (char *q = strtok_r(seq, ",", &save2); q; q = strtok_r(NULL, ",", &save2)) {
			if (n == GS1_QUAL_MAX || strlen(q) < 2 || strlen(q) > GS1_AI_MAX)
				return -1;
			strcpy(a->seq[a->nseq][n++], q);
		}
		a->seqlen[a->nseq++] = n;
	}
	return a->nseq ? 0 : -1;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* One line: "ai format key query title". -1 with table_err. */
static int parse_line(char *line, int lineno)
{
	char *save = NULL;
	char *ai = strtok_r(line, " \t", &save);
	char *fmt = strtok_r(NULL, " \t", &save);
	char *key = strtok_r(NULL, " \t", &save);
	char *query = strtok_r(NULL, " \t", &save);
	char *title = strtok_r(NULL, "", &save);
	gs1_ai a;
	memset(&a, 0, sizeof a);
	const char *why = NULL;
	if (!title) {
		why = "expected five columns: ai format key query title";
		goto bad;
	}
	while (*title == ' ' || *title == '\t')
		title++;
	snprintf(a.title, sizeof a.title, "%s", title);
	char fmtcopy[128];
	snprintf(fmtcopy, sizeof fmtcopy, "%s", fmt);
	char *save2 = NULL;
	for (char *c = strtok_r(fmtcopy, "+", &save2); c; c = strtok_r(NULL, "+", &save2)) {
		if (a.ncomp == GS1_COMP_MAX || parse_comp(c, &a.comp[a.ncomp]) != 0) {
			why = "bad format component";
			goto bad;
		}
		a.ncomp++;
	}
	if (parse_key(key, &a) != 0) {
		why = "bad key column";
		goto bad;
	}
	if (strcmp(query, "yes") != 0 && strcmp(query, "no") != 0) {
		why = "query column is yes or no";
		goto bad;
	}
	a.attr = strcmp(query, "yes") == 0;
	/* "3100-3105": a range of AIs of one length */
	char *dash = strchr(ai, '-');
	size_t len = dash ? (size_t)(dash - ai) : strlen(ai);
	if (len < 2 || len > GS1_AI_MAX || !all_digits(ai, len) ||
	    (dash && (strlen(dash + 1) != len || !all_digits(dash + 1, len)))) {
		why = "bad AI";
		goto bad;
	}
	long first = strtol(ai, NULL, 10), last = dash ? strtol(dash + 1, NULL, 10) : first;
	if (last < first) {
		why = "bad AI range";
		goto bad;
	}
	for (long n = first; n <= last; n++) {
		if (ntable == GS1_TABLE_MAX) {
			why = "too many AIs";
			goto bad;
		}
		snprintf(a.ai, sizeof a.ai, "%0*ld", (int)len, n);
		if (ntable && strcmp(table[ntable - 1].ai, a.ai) >= 0) {
			why = "AIs out of order or repeated";
			goto bad;
		}
		table[ntable++] = a;
	}
	return 0;
bad:
	snprintf(table_err, sizeof table_err, "ai_table.txt:%d: %s", lineno, why);
	return -1;
}

static void load_table(void)
{
	const char *p = (const char *)gs1_ai_table_bytes;
	int lineno = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		char line[256];
		if (n >= sizeof line) {
			snprintf(table_err, sizeof table_err, "ai_table.txt:%d: line too long",
			         lineno);
			ntable = 0;
			return;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		if (line[0] == '#' || line[strspn(line, " \t")] == '\0')
			continue;
		if (parse_line(line, lineno) != 0) {
			ntable = 0;
			return;
		}
	}
	/* every qualifier a key names must be in the table */
	for (int i = 0; i < ntable; i++)
		for (int s = 0; s < table[i].nseq; s++)
			for (int q = 0; q < table[i].seqlen[s]; q++) {
				const char *qa = table[i].seq[s][q];
				int j = 0;
				while (j < ntable && strcmp(table[j].ai, qa) != 0)
					j++;
				if (j == ntable) {
					snprintf(table_err, sizeof table_err,
					         "ai_table.txt: qualifier %s of %s is not an AI",
					         qa, table[i].ai);
					ntable = 0;
					return;
				}
				qualifies[j] = true;
			}
	for (int i = 0; i < ntable; i++) {
		size_t n = strlen(table[i].ai);
		int v = atoi(table[i].ai);
		where[(n == 2 ? 0 : n == 3 ? 100 : 1100) + v] = (short)(i + 1);
	}
	for (int c = 0; c < 256; c++)
		cset_of[c] = sets_of((unsigned char)c);
}

const char *gs1_table_error(void)
{
	pthread_once(&table_once, load_table);
	return table_err[0] ? table_err : NULL;
}

int gs1_ai_count(void)
{
	pthread_once(&table_once, load_table);
	return ntable;
}

const gs1_ai *gs1_ai_findn(const char *ai, size_t n)
{
	pthread_once(&table_once, load_table);
	if (n < 2 || n > GS1_AI_MAX)
		return NULL;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (ai[i] < '0' || ai[i] > '9')
			return NULL;
		v = v * 10 + (ai[i] - '0');
	}
	int at = where[(n == 2 ? 0 : n == 3 ? 100 : 1100) + v];
	return at ? &table[at - 1] : NULL;
}

const gs1_ai *gs1_ai_find(const char *ai)
{
	size_t n = 0;
	while (n <= GS1_AI_MAX && ai[n])
		n++;
	return gs1_ai_findn(ai, n);
}

bool gs1_key_takes(const gs1_ai *key, const char *ai, int *seq, int *idx)
{
	for (int s = 0; s < key->nseq; s++)
		for (int q = 0; q < key->seqlen[s]; q++)
			if (gs1_ai_eq(key->seq[s][q], ai)) {
				if (seq)
					*seq = s;
				if (idx)
					*idx = q;
				return true;
			}
	return false;
}

bool gs1_ai_qualifies(const char *ai)
{
	const gs1_ai *a = gs1_ai_find(ai);
	return a && qualifies[a - table];
}

size_t gs1_ai_len(const char *ai)
{
	pthread_once(&table_once, load_table);
	for (int i = 0; i < ntable; i++)
		if (table[i].ai[0] == ai[0] && table[i].ai[1] == ai[1])
			return strlen(table[i].ai);
	return 0;
}

int gs1_mod10(const char *s, size_t n)
{
	int sum = 0;
	for (size_t i = 0; i < n; i++) {
		int d = s[n - 1 - i] - '0';
		sum += (i % 2 == 0) ? 3 * d : d;
	}
	return (10 - sum % 10) % 10;
}

/* The check pair of the n characters at s (all in set 82). */
static void check_pair(const char *s, size_t n, char pair[2])
{
	static const int primes[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
	                             43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v = (unsigned)(strchr(cset82, s[i]) - cset82);
		sum += v * (unsigned)primes[n - 1 - i];
	}
	sum %= 1021;
	pair[0] = cset32[sum >> 5];
	pair[1] = cset32[sum & 31];
}

/* Checks one component of n characters at s. */
static int check_comp(const gs1_ai *a, const gs1_comp *c, const char *s, size_t n, char *err,
                      size_t errlen)
{
	unsigned char set = cset_bit(c->cset);
	for (size_t i = 0; i < n; i++)
		if (!(cset_of[(unsigned char)s[i]] & set)) {
			unsigned char ch = (unsigned char)s[i];
			if (ch >= 0x21 && ch < 0x7f)
				snprintf(err, errlen, "%s: character '%c' not in %s", a->ai, ch,
				         cset_name(c->cset));
			else
				snprintf(err, errlen, "%s: byte 0x%02x not in %s", a->ai, ch,
				         cset_name(c->cset));
			return -1;
		}
	if (c->check == 'c') {
		int want = gs1_mod10(s, n - 1);
		if (s[n - 1] - '0' != want) {
			snprintf(err, errlen, "%s: check digit %d expected, got %c", a->ai, want,
			         s[n - 1]);
			return -1;
		}
	}
	if (c->check == 'k') {
		char pair[2];
		if (n < 3) {
			snprintf(err, errlen, "%s: too short for its check character pair", a->ai);
			return -1;
		}
		check_pair(s, n - 2, pair);
		if (s[n - 2] != pair[0] || s[n - 1] != pair[1]) {
			snprintf(err, errlen, "%s: check characters %c%c expected, got %c%c", a->ai,
			         pair[0], pair[1], s[n - 2], s[n - 1]);
			return -1;
		}
	}
	return 0;
}

/* "N13+?X..17" as a person reads it: "13 digits, then up to 17 characters". */
static void describe(const gs1_ai *a, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < a->ncomp && o < len; i++) {
		const gs1_comp *c = &a->comp[i];
		o += (size_t)snprintf(buf + o, len - o, "%s%s%s%u%s", i ? " then " : "",
		                      c->optional ? "optionally " : "",
		                      c->min == c->max ? "" : "1 to ", c->max,
		                      c->cset == 'N' ? " digits" : " characters");
	}
}

int gs1_ai_check(const gs1_ai *a, const char *value, char *err, size_t errlen)
{
	size_t len = strlen(value), at = 0;
	char what[160];
	if (len == 0) {
		snprintf(err, errlen, "%s: empty value", a->ai);
		return -1;
	}
	for (int i = 0; i < a->ncomp; i++) {
		const gs1_comp *c = &a->comp[i];
		size_t left = len - at;
		if (left == 0 && c->optional)
			break;
		size_t n = c->min == c->max ? c->max : (left < c->max ? left : c->max);
		if (left < c->min || (c->min == c->max && left < n)) {
			describe(a, what, sizeof what);
			snprintf(err, errlen, "%s: too short (%zu characters; %s)", a->ai, len,
			         what);
			return -1;
		}
		if (check_comp(a, c, value + at, n, err, errlen) != 0)
			return -1;
		at += n;
	}
	if (at < len) {
		describe(a, what, sizeof what);
		snprintf(err, errlen, "%s: too long (%zu characters; %s)", a->ai, len, what);
		return -1;
	}
	return 0;
}
