#include "vectors.h"

#include "proto/proto.h"
#include "proto/admin.h"
#include "proto/record.h"
#include "store/store.h"

#include <openssl/pem.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tvec *all;
static size_t nall;

const char *tvec_shared_dir(void)
{
	const char *d = getenv("IDN_SHARED");
	if (d && *d)
		return d;
	const char *src = getenv("IDN_SRC");
	static char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s/../shared", src && *src ? src : ".");
	return buf;
}

uint8_t *tvec_read_file(const char *rel_path, size_t *len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", tvec_shared_dir(), rel_path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char *dupstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return strdup(s ? s : "");
}

static void load(void)
{
	char path[PATH_MAX];
	json_error_t jerr;
	snprintf(path, sizeof(path), "%s/vectors/vectors.json", tvec_shared_dir());
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root || !json_is_array(root)) {
		fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
		abort();
	}
	nall = json_array_size(root);
	all = calloc(nall, sizeof(*all));
	for (size_t i = 0; i < nall; i++) {
		json_t *o = json_array_get(root, i);
		struct tvec *v = &all[i];
		const char *hex = json_string_value(json_object_get(o, "hex"));
		size_t hl = hex ? strlen(hex) : 0;
		uint8_t *b = malloc(hl / 2 + 1);
		for (size_t k = 0; k + 1 < hl; k += 2)
			b[k / 2] = (uint8_t)(hexval(hex[k]) << 4 | hexval(hex[k + 1]));
		v->bytes = b;
		v->len = hl / 2;
		v->name = dupstr(o, "name");
		v->exchange = dupstr(o, "exchange");
		v->transport = dupstr(o, "transport");
		v->direction = dupstr(o, "direction");
		v->producer = dupstr(o, "producer");
		json_t *fr = json_object_get(o, "fragment");
		v->frag_index = fr ? (int)json_integer_value(json_object_get(fr, "index")) : -1;
		v->frag_count = fr ? (int)json_integer_value(json_object_get(fr, "count")) : 0;
		v->reassembled = json_is_true(json_object_get(o, "reassembled"));
		v->retransmission = json_is_true(json_object_get(o, "retransmission"));
		v->synthetic = json_is_true(json_object_get(o, "synthetic"));
	}
	json_decref(root);
}

const struct tvec *tvec_all(size_t *n)
{
	if (!all)
		load();
	*n = nall;
	return all;
}

const struct tvec *tvec_find(const char *name_prefix)
{
	size_t n;
	const struct tvec *v = tvec_all(&n);
	size_t pl = strlen(name_prefix);
	for (size_t i = 0; i < n; i++)
		if (strncmp(v[i].name, name_prefix, pl) == 0)
			return &v[i];
	return NULL;
}

size_t tvec_prefix_record(uint8_t *rec, size_t cap)
{
	const struct tvec *ans = tvec_find("x61-prefix-0NA-tcp-raw/02-response");
	proto_msg m;
	proto_resolve_resp rr;
	proto_value vals[16];
	if (!ans || proto_msg_decode(ans->bytes + PROTO_ENV_LEN, ans->len - PROTO_ENV_LEN, &m) ||
	    proto_resolve_resp_decode(m.body, &rr) || rr.nvalues > 16)
		abort();
	wire_rd c = wire_rd_init(rr.values.p, rr.values.len);
	for (uint32_t i = 0; i < rr.nvalues; i++)
		proto_value_get(&c, &vals[i]);
	int n = record_build(vals, rr.nvalues, rec, cap);
	if (c.err || n <= 0)
		abort();
	return (size_t)n;
}

void tvec_seed_admin_prefix(store *st)
{
	static uint8_t rec[8192];
	size_t n = tvec_prefix_record(rec, sizeof(rec));
	store_txn *t;
	if (store_txn_begin(st, 0, &t))
		abort();
	if (store_home(t, IDN_SLICE("88.1000")) || store_home(t, IDN_SLICE("0.NA")) ||
	    store_put(t, IDN_SLICE("0.NA/88.1000"), idn_slice_of(rec, n), 0) || store_txn_commit(t))
		abort();
}

EVP_PKEY *tvec_admin_key(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/vectors/keys/admin_rsa_priv_pkcs8.pem", tvec_shared_dir());
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!k)
		abort();
	return k;
}

size_t tvec_create_body(uint8_t *body, size_t cap, const char *handle)
{
	wire_wr w = wire_wr_init(body, cap);
	proto_value v = {.index = 1,
	                 .perms = 0x0e,
	                 .type = IDN_SLICE("URL"),
	                 .data = IDN_SLICE("https://example.org/")};
	proto_values_req_encode(&w, idn_slice_of(handle, strlen(handle)), &v, 1);
	if (w.err)
		abort();
	return wire_wr_len(&w);
}
