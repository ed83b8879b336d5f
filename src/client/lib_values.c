/*
 * lib_values.c - libidnode's lists of values to send (include/idnode.h:
 * idnode_values_*): values as given, or written as `idnode create --value`
 * takes them (INDEX:TYPE:DATA, with HS_ADMIN, HS_VLIST and HS_PUBKEY data
 * built from their text forms); the CLI's --value goes through here.
 */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/verify.h"
#include "client/lib.h"
#include "core/codec.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/reserved.h"

enum { VALUES_MAX = 256, DATA_MAX = 16384, VLIST_MAX = 64 };

struct idnode_values {
	proto_value v[VALUES_MAX];
	uint8_t *bufs[VALUES_MAX]; /* each value's type then data, owned */
	uint32_t n;
};

int idnode_values_new(idnode_values **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? IDNODE_OK : IDNODE_ENOMEM;
}

void idnode_values_free(idnode_values *vs)
{
	if (!vs)
		return;
	for (uint32_t i = 0; i < vs->n; i++)
		free(vs->bufs[i]);
	free(vs);
}

size_t idnode_values_count(const idnode_values *vs)
{
	return vs->n;
}

const proto_value *lib_values(const idnode_values *vs, uint32_t *n)
{
	*n = vs->n;
	return vs->v;
}

/* The next entry of vs with its type copied and room for DATA_MAX bytes of data; NULL if full. */
static proto_value *next_value(idnode_values *vs, uint32_t index, const char *type, size_t tlen,
                               uint8_t **data)
{
	if (vs->n == VALUES_MAX || tlen > DATA_MAX)
		return NULL;
	uint8_t *buf = malloc(tlen + DATA_MAX);
	if (!buf)
		return NULL;
	memcpy(buf, type, tlen);
	proto_value *v = &vs->v[vs->n];
	*v = (proto_value){.index = index, .ttl = 86400, .perms = 0x0e};
	v->type = idn_slice_of(buf, tlen);
	*data = buf + tlen;
	vs->bufs[vs->n] = buf;
	return v;
}

int idnode_values_add(idnode_values *vs, const idnode_value *in)
{
	if (!in || !in->type || in->index == 0 || (in->len && !in->data))
		return IDNODE_EINVAL;
	size_t tlen = in->type_len ? in->type_len : strlen(in->type);
	if (in->len > DATA_MAX)
		return IDNODE_ERANGE;
	uint8_t *data;
	proto_value *v = next_value(vs, in->index, in->type, tlen, &data);
	if (!v)
		return vs->n == VALUES_MAX || tlen > DATA_MAX ? IDNODE_ERANGE : IDNODE_ENOMEM;
	if (in->len)
		memcpy(data, in->data, in->len);
	v->data = idn_slice_of(data, in->len);
	v->ttl = in->ttl ? in->ttl : 86400;
	v->ttl_type = in->ttl_absolute ? 1 : 0;
	v->perms = in->perms ? in->perms : 0x0e;
	v->timestamp = in->timestamp;
	vs->n++;
	return IDNODE_OK;
}

/* "300:0.NA/88.1000" -> index, handle (borrowed from s). */
static int parse_ref(const char *s, uint32_t *index, const char **handle)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end != ':' || !strchr(end + 1, '/') || v > UINT32_MAX)
		return -1;
	*index = (uint32_t)v;
	*handle = end + 1;
	return 0;
}

static const char *admin_data(wire_wr *w, const char *data)
{
	proto_admin a = {.rights = PROTO_ADM_ALL};
	const char *ref = data, *slash = strchr(data, '/'), *colon = strchr(data, ':');
	if (slash && colon && slash < colon) { /* RIGHTS/INDEX:HANDLE */
		a.rights = (uint16_t)strtoul(data, NULL, 16);
		ref = slash + 1;
	}
	const char *h;
	if (parse_ref(ref, &a.index, &h))
		return "HS_ADMIN data must be INDEX:HANDLE or RIGHTSHEX/INDEX:HANDLE";
	a.handle = idn_slice_of(h, strlen(h));
	proto_admin_put(w, &a);
	return NULL;
}

static const char *vlist_data(wire_wr *w, const char *data)
{
	proto_ref refs[VLIST_MAX];
	uint32_t n = 0;
	char *copy = strdup(data), *save = NULL;
	if (!copy)
		return "out of memory";
	for (char *tok = strtok_r(copy, ",", &save); tok && n < VLIST_MAX;
	     tok = strtok_r(NULL, ",", &save)) {
		const char *h;
		if (parse_ref(tok, &refs[n].index, &h)) {
			free(copy);
			return "HS_VLIST data must be INDEX:HANDLE,INDEX:HANDLE...";
		}
		refs[n].handle = idn_slice_of(h, strlen(h));
		n++;
	}
	proto_vlist_put(w, refs, n);
	free(copy); /* refs borrowed copy: the data is already written */
	return NULL;
}

/* The key of a PEM file: a public key, or the public half of a private one; NULL if none. */
static EVP_PKEY *public_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!k) {
		rewind(f);
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	return k;
}

/* @FILE: the Handle binary form; pem:@FILE: the PEM text, as the national SDKs store it. */
static const char *pubkey_data(wire_wr *w, const char *data)
{
	bool pem = data[0] == 'p';
	EVP_PKEY *k = public_key(data + (pem ? 5 : 1));
	if (!k)
		return "HS_PUBKEY data: cannot read a PEM key from the file after '@'";
	int ret = pem ? auth_pubkey_encode_pem(k, w) : auth_pubkey_encode(k, w);
	EVP_PKEY_free(k);
	return ret ? "HS_PUBKEY data: key type not supported (RSA, DSA, SM2)" : NULL;
}

/* Builds the data of one value of type from its text form; returns a message on error. */
static const char *value_data(proto_value *v, uint8_t *buf, const char *type, const char *data,
                              char *why, size_t whylen)
{
	wire_wr w = wire_wr_init(buf, DATA_MAX);
	const char *err = NULL;
	if (!strcasecmp(type, "HS_ADMIN")) {
		err = admin_data(&w, data);
	} else if (!strcasecmp(type, "HS_VLIST")) {
		err = vlist_data(&w, data);
	} else if (!strcasecmp(type, "HS_PUBKEY") &&
	           (data[0] == '@' || !strncmp(data, "pem:@", 5))) {
		err = pubkey_data(&w, data);
	} else if (!strncmp(data, "hex:", 4)) {
		size_t n = strlen(data + 4);
		ssize_t k = codec_hex_decode((const uint8_t *)data + 4, n, buf, DATA_MAX, NULL);
		if (k == CODEC_ESPACE)
			return "value data too long";
		if (k < 0)
			return k == CODEC_ELENGTH ? "hex data needs an even number of digits"
			                          : "bad hex digit";
		wire_put_raw(&w, (size_t)k); /* decoded in place */
	} else {
		wire_put_data(&w, data, strlen(data));
	}
	if (err)
		return err;
	if (w.err)
		return "value data too long";
	v->data = idn_slice_of(buf, wire_wr_len(&w));
	/* An identity key no node could verify with is refused here, saying why. */
	EVP_PKEY *k = NULL;
	if (!strcasecmp(type, "HS_PUBKEY") && auth_pubkey_parse(v->data, &k, why, whylen))
		return why;
	EVP_PKEY_free(k);
	return NULL;
}

int idnode_values_add_text(idnode_values *vs, const char *spec, char *err, size_t errlen)
{
	char dummy[1], why[256];
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	const char *c1 = spec ? strchr(spec, ':') : NULL, *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || c1 == spec || c2 == c1 + 1) {
		snprintf(err, errlen, "%s: expected INDEX:TYPE:DATA", spec ? spec : "(null)");
		return IDNODE_EINVAL;
	}
	if (vs->n == VALUES_MAX) {
		snprintf(err, errlen, "at most %d values", VALUES_MAX);
		return IDNODE_ERANGE;
	}
	char *end;
	long idx = strtol(spec, &end, 10);
	if (end != c1 || idx <= 0 || idx > INT32_MAX) {
		snprintf(err, errlen, "index '%.*s' is not a positive number", (int)(c1 - spec),
		         spec);
		return IDNODE_EINVAL;
	}
	char *type = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
	uint8_t *data;
	proto_value *v = type ? next_value(vs, (uint32_t)idx, type, strlen(type), &data) : NULL;
	if (!v) {
		free(type);
		snprintf(err, errlen, "out of memory, or a type over %d bytes", DATA_MAX);
		return IDNODE_ENOMEM;
	}
	if (!strcasecmp(type, "HS_SECKEY"))
		v->perms = 0x0c; /* a secret is never publicly readable */
	const char *msg = value_data(v, data, type, c2 + 1, why, sizeof why);
	if (msg) {
		snprintf(err, errlen, "%ld:%s: %s", idx, type, msg);
		free(type);
		free(vs->bufs[vs->n]);
		vs->bufs[vs->n] = NULL;
		return IDNODE_EINVAL;
	}
	free(type);
	vs->n++;
	return IDNODE_OK;
}
