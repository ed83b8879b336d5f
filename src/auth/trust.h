/*
 * trust.h - trusted resolution (../shared/IDIS.md section 3): the claims of
 * HS_CERT and HS_SIGNATURE values, value digests, and the verification of a
 * record's signature up its certificate chain to a configured trust root.
 *
 * Claims (the JWS payload, a JSON object): iss and sub ("index:handle"; a
 * signature's sub is the plain handle it signs), iat / nbf / exp (seconds),
 * chain (list of "index:handle" or "handle" links, the first authorizing the
 * issuer), perms ([{handle, perm}], perm everything / derivedPrefixes /
 * handlesUnderThisPrefix / thisHandle), publicKey (JWK, auth/jws.h), digests
 * ({alg, digests:[{index, digest}]}), content.
 *
 * A value's digest: alg ("SHA-256" as the SDKs write it; "SHA256", "SHA-1",
 * "SHA-384", "SHA-512", "SM3" also read) over its Handle encoding minus the
 * first 8 bytes (index and timestamp), in standard base64.
 *
 * Chain rules (id-pointer-sdk's ChainBuilder / ChainVerifier / HandleVerifier):
 * from the signature, the next link is the head of the current chain list
 * (the first non-empty `chain` met, consumed one link per step) or else the
 * issuer's handle; a link "N:handle" names the HS_CERT at index N, a plain
 * handle the latest (by iat) HS_CERT there whose sub is the issuer. The
 * parent's sub must be the child's iss; the child must verify with the
 * parent's publicKey; the parent's perms must cover the signed handle and
 * the child's subject handle; each link must be within nbf..exp at `now`.
 * The walk ends when an issuer is the trust root's handle: that link must
 * verify with the configured root key (a self-issued root HS_CERT is checked
 * the same way). At most max_links certificates (50) and no link twice.
 * Every value the signature covers must be present with its digest; with
 * require_all, every other value of the record (except HS_SIGNATURE and
 * HS_CERT) must be covered too.
 *
 * Ownership: claims own their strings and key (trust_claims_free). Fetch
 * results are malloc'd by the callback and freed by trust. Thread-safe as
 * long as the fetch callback is.
 */
#ifndef IDN_AUTH_TRUST_H
#define IDN_AUTH_TRUST_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

enum { TRUST_MAX_LINKS = 50, TRUST_MAX_PERMS = 256, TRUST_MAX_DIGESTS = 4096 };

#define TRUST_ROOT_HANDLE "88.111.1/0.0"

enum trust_perm_kind {
	TRUST_PERM_EVERYTHING = 1,
	TRUST_PERM_DERIVED_PREFIXES,
	TRUST_PERM_HANDLES_UNDER_PREFIX,
	TRUST_PERM_THIS_HANDLE,
};

typedef struct trust_perm {
	char *handle;
	enum trust_perm_kind kind;
} trust_perm;

typedef struct trust_digest {
	uint32_t index;
	char *digest; /* standard base64, as written */
} trust_digest;

typedef struct trust_claims {
	char *iss, *sub, *content;
	bool has_iat, has_nbf, has_exp;
	int64_t iat, nbf, exp;
	char **chain;
	size_t nchain;
	trust_perm *perms;
	size_t nperms;
	EVP_PKEY *pubkey; /* NULL when absent */
	char *digest_alg; /* NULL when there is no digests object */
	trust_digest *digests;
	size_t ndigests;
} trust_claims;

/* The JSON payload -> claims. IDN_EINVAL with err naming the field. */
int trust_claims_parse(const uint8_t *json, size_t len, trust_claims *c, char *err, size_t errlen);
void trust_claims_free(trust_claims *c);

/* "everything" ... for a kind; the kind of a name (0: unknown). */
const char *trust_perm_name(enum trust_perm_kind k);
enum trust_perm_kind trust_perm_of(const char *name);

/* Whether perms grant rights over handle (the SDK's rules, prefixes compared ignoring case). */
bool trust_perms_cover(const trust_perm *perms, size_t n, const char *handle);

/*
 * The digest of one encoded value (as proto_values_next's it.raw) under alg,
 * standard base64 into out (at least 90 bytes). IDN_ENOTSUP unknown alg.
 */
int trust_value_digest(idn_slice encoded, const char *alg, char *out, size_t cap);

/*
 * Fetch callback: all values of handle, encoded (proto_value wire form) into
 * *vals (malloc'd; trust frees it), count in *n. IDN_ENOTFOUND when the
 * handle does not exist, another idn_err when it could not be asked (err
 * says why).
 */
typedef int (*trust_fetch_fn)(void *arg, const char *handle, uint8_t **vals, size_t *len,
                              uint32_t *n, char *err, size_t errlen);

typedef struct trust_ctx {
	const char *root_handle; /* NULL: TRUST_ROOT_HANDLE */
	EVP_PKEY *root_key;
	int64_t now; /* seconds since the epoch */
	trust_fetch_fn fetch;
	void *fetch_arg;
	unsigned max_links; /* 0 or over TRUST_MAX_LINKS: TRUST_MAX_LINKS */
	/*
	 * Every value of the record (but HS_SIGNATURE / HS_CERT) must be
	 * signed: else TRUST_UNSIGNED. Without it, the values the signature does
	 * not cover are only listed in the result (trust_result.unsigned_list).
	 */
	bool require_all;
} trust_ctx;

/* Why a verification failed; each has its own message. */
enum trust_code {
	TRUST_OK = 0,
	TRUST_NO_SIGNATURE,  /* the record has no HS_SIGNATURE for this handle */
	TRUST_MALFORMED,     /* a JWS or its claims could not be read */
	TRUST_DIGEST,        /* a signed value's digest does not match */
	TRUST_MISSING,       /* a signed value is not in the record */
	TRUST_UNSIGNED,      /* a value of the record is not covered */
	TRUST_BAD_SIGNATURE, /* a link does not verify with its issuer's key */
	TRUST_EXPIRED,       /* a link is past its exp */
	TRUST_NOT_YET_VALID, /* a link is before its nbf */
	TRUST_PERMISSION,    /* an issuer's perms do not cover the handle or subject */
	TRUST_LOOP,          /* a link seen twice */
	TRUST_TOO_LONG,      /* more than max_links certificates */
	TRUST_WRONG_ROOT,    /* the chain ends at a key or handle that is not the root */
	TRUST_BROKEN,        /* an issuer's certificate cannot be found or does not match */
	TRUST_FETCH,         /* a link could not be resolved */
};

/* A short name of a code ("digest", "expired", ...). */
const char *trust_code_name(enum trust_code c);

typedef struct trust_result {
	enum trust_code code;
	int link; /* where it failed: 0 the signature, 1.. the certificates up the chain */
	char msg[512];
	char signer[256];        /* the signature's iss */
	uint32_t nsigned;        /* values whose digests matched */
	uint32_t nlinks;         /* certificates walked */
	uint32_t sig_index;      /* the HS_SIGNATURE value used */
	uint32_t nunsigned;      /* values not covered (when not require_all) */
	int64_t expires;         /* the earliest exp of the links checked (0: none has one) */
	char unsigned_list[160]; /* "100 (HS_ADMIN), 3 (URL)", cut with ", ..." */
} trust_result;

/*
 * Verifies the record of handle (n encoded values, all of them): picks its
 * latest HS_SIGNATURE whose sub is handle, checks the digests against the
 * values, and the chain. Returns r->code (TRUST_OK: verified).
 */
enum trust_code trust_verify_record(const trust_ctx *t, const char *handle, idn_slice values,
                                    uint32_t n, trust_result *r);

/* The same for one given signature JWS (text, len). */
enum trust_code trust_verify_signature(const trust_ctx *t, const char *handle, idn_slice values,
                                       uint32_t n, const char *jws, size_t len, trust_result *r);

/* What an issuer writes into a certificate or a signature. */
typedef struct trust_issue {
	const char *iss, *sub;
	int64_t iat, nbf, exp;
	const char *const *chain; /* optional */
	size_t nchain;
	const trust_perm *perms; /* certificates */
	size_t nperms;
	EVP_PKEY *pubkey; /* certificates: the subject's key */
	int sm2_xy;       /* write an SM2 publicKey as {x, y} (ID-SDK) rather than {d} */
} trust_issue;

/* The claims JSON of a certificate (perms, publicKey), malloc'd; NULL: no memory or bad key. */
char *trust_cert_payload(const trust_issue *is);

/*
 * The claims JSON of a signature over the values of a record (n encoded)
 * whose index is in indexes (all values but HS_SIGNATURE / HS_CERT when
 * nindexes is 0), SHA-256 digests; malloc'd into *out. IDN_ENOTFOUND when an
 * index is not in the record (err names it).
 */
int trust_sig_payload(const trust_issue *is, idn_slice values, uint32_t n, const uint32_t *indexes,
                      size_t nindexes, char **out, char *err, size_t errlen);

/* Splits "N:handle" into N and handle (*index 0 when there is no numeric N:). */
const char *trust_link_handle(const char *link, uint32_t *index);

#endif
