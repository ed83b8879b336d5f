/*
 * fuzz_gs1.c - any bytes through the GS1 Digital Link parser (gs1/gs1.h).
 * Nothing may crash or read out of bounds; what parses must survive a round
 * trip (the canonical URI, when within the parser's bound, parses again to
 * the same elements; its JSON fits),
 * and a handle made by a rule must read back through the same rule to the
 * same key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs1/gs1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gs1_dl dl, again, back;
static char uri[GS1_URI_MAX + 2], built[16384], json[65536], handle[1024], err[256];

static void same(const gs1_dl *a, const gs1_dl *b)
{
	if (strcmp(a->key.ai, b->key.ai) || strcmp(a->key.value, b->key.value) ||
	    a->nqual != b->nqual || a->nattr != b->nattr || a->nother != b->nother)
		abort();
	for (int i = 0; i < a->nattr; i++)
		if (strcmp(a->attr[i].value, b->attr[i].value))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > GS1_URI_MAX + 1)
		return 0;
	memcpy(uri, data, size);
	uri[size] = '\0';
	if (gs1_dl_parse(uri, &dl, err, sizeof err) != 0) {
		if (!err[0])
			abort(); /* an error always says why */
		return 0;
	}
	if (gs1_dl_build(&dl, built, sizeof built) < 0 || gs1_dl_json(&dl, json, sizeof json) < 0)
		abort();
	/* the canonical URI may be longer than the input (decompressed, other
	 * parameters percent-encoded): within the bound, it parses the same */
	if (strlen(built) <= GS1_URI_MAX) {
		if (gs1_dl_parse(built, &again, err, sizeof err) != 0)
			abort();
		same(&dl, &again);
	}
	static const gs1_rule rules[] = {
	    {"0", "01", "88.100.1/01.{01}.21.{21}"}, {"9", "01", "88.100.1/{01}"},
	    {"0", "00", "88.100.1/sscc-{00}"},       {"1", "00", "88.100.1/sscc-{00}"},
	    {"9", "414", "88.100.1/{414}.{254}"},    {"9", "8004", "88.100.1/giai/{8004}"},
	};
	const gs1_rule *r = gs1_rule_find(rules, sizeof rules / sizeof rules[0], &dl);
	if (r && gs1_rule_apply(r, &dl, handle, sizeof handle) > 0) {
		if (gs1_rule_match(r, handle, &back, err, sizeof err) != 1)
			abort();
		if (strcmp(back.key.value, dl.key.value))
			abort();
	}
	return 0;
}
