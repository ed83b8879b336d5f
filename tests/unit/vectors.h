/*
 * vectors.h - the reference captures in ../shared/vectors/vectors.json, for
 * tests. Loaded once on first use; everything lives until the process exits.
 */
#ifndef IDN_TEST_VECTORS_H
#define IDN_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

struct tvec {
	const char *name;      /* "x10-resolve-demo1-udp-java/01-request-RESOLUTION" */
	const char *exchange;  /* "x10-resolve-demo1-udp-java" */
	const char *transport; /* "udp" | "tcp" */
	const char *direction; /* "request" | "response" */
	const char *producer;
	const uint8_t *bytes;
	size_t len;
	int frag_index; /* -1 unless a fragment of a multi-datagram answer */
	int frag_count;
	int reassembled;    /* 1: first envelope + all payloads, not a wire datagram */
	int retransmission; /* 1: a client's re-sent datagram */
	int synthetic;
};

/* All vectors in capture order; *n set to their count. Aborts if unreadable. */
const struct tvec *tvec_all(size_t *n);
/* The first vector whose name starts with prefix, or NULL. */
const struct tvec *tvec_find(const char *name_prefix);
/* The shared/ folder (IDN_SHARED, else ../shared beside the sources). */
const char *tvec_shared_dir(void);
/* Reads a file under shared/ into a malloc'd buffer; aborts on error. */
uint8_t *tvec_read_file(const char *rel_path, size_t *len);
/*
 * The stored record (proto/record.h) of 0.NA/88.1000 as the reference served
 * it in x61: its HS_ADMIN and the admin's HS_PUBKEY. Returns its length;
 * aborts if the capture does not decode or cap is too small.
 */
size_t tvec_prefix_record(uint8_t *rec, size_t cap);

struct store;
struct evp_pkey_st;
/*
 * Homes 88.1000 and 0.NA in st and stores 0.NA/88.1000 as above (the admin
 * 300:0.NA/88.1000); aborts on error.
 */
void tvec_seed_admin_prefix(struct store *st);
/* The private key of that admin (vectors/keys/admin_rsa_priv_pkcs8.pem); aborts if unreadable. */
struct evp_pkey_st *tvec_admin_key(void);
/* The body of a create of handle with one public URL value at index 1. */
size_t tvec_create_body(uint8_t *body, size_t cap, const char *handle);

#endif
