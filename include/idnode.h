/*
 * idnode.h - libidnode, the public C API of idnode's Handle-protocol client
 * (RFC 3651/3652): resolve identifiers from a node or through a root, and
 * administer them (create, add, modify, remove, delete, list, home) as an
 * identity with a private key or a secret, in a session or the national
 * login, one operation at a time or from a GenericBatch file.
 *
 * The only header of the library: it includes nothing of idnode's sources,
 * every type is opaque but idnode_value and idnode_ref, every function is
 * idnode_*, every error a negative IDNODE_E* (idnode_strerror()). Link with
 * `pkg-config --cflags --libs idnode` (libidnode.so.0, or libidnode.a with
 * --static). docs/libidnode.md shows it whole, with an example.
 *
 * Threads: the library keeps no global state a caller sees. An idnode_client
 * is used by one thread at a time (it holds a connection and a session);
 * use one client per thread, or serialise the calls on one. Records and
 * value lists are plain data: any thread may read one, one thread frees it.
 *
 * Ownership, per function below as lmdb.h states it: strings passed in are
 * borrowed for the call (copied when kept); what a function allocates for
 * the caller says which function frees it.
 */
#ifndef IDNODE_H
#define IDNODE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define IDNODE_API __attribute__((visibility("default")))
#else
#define IDNODE_API
#endif

/* The version of this API: changes to IDNODE_VERSION_MAJOR break the ABI (SONAME). */
#define IDNODE_VERSION_MAJOR 0
#define IDNODE_VERSION_MINOR 1

/* Errors: 0 is success, each error negative. */
enum idnode_error {
	IDNODE_OK = 0,
	IDNODE_EINVAL = -1,     /* a bad argument: idnode_client_error() says which */
	IDNODE_ENOMEM = -2,     /* out of memory */
	IDNODE_ENOTFOUND = -5,  /* the server answered "handle not found" or "values not found" */
	IDNODE_EEXIST = -6,     /* the server answered "handle (or value) already exists" */
	IDNODE_EIO = -7,        /* a file could not be read */
	IDNODE_ETIMEOUT = -9,   /* no answer in time */
	IDNODE_ENET = -10,      /* the network failed: refused, reset, unreachable */
	IDNODE_EPROTO = -11,    /* the server sent what is not a valid answer */
	IDNODE_ECRYPTO = -12,   /* a key could not be used, or a signature did not verify */
	IDNODE_ERANGE = -13,    /* over a limit: too many referrals, values, a handle too long */
	IDNODE_ENOTSUP = -14,   /* not supported here (a transport, a login with a secret) */
	IDNODE_EMISMATCH = -18, /* an answer that does not match (a MAC, a session) */
	IDNODE_ESERVER = -100,  /* the server answered another error code: idnode_client_rcode() */
	IDNODE_EDENIED = -101,  /* the server refused the identity or its rights (rc 400..406) */
	IDNODE_ENOIDENTITY = -102, /* an authenticated call on a client without identity */
};

/* A static, human-readable description of an IDNODE_E* code. Thread-safe. */
IDNODE_API const char *idnode_strerror(int err);

/* The library's version "MAJOR.MINOR.PATCH" (static). */
IDNODE_API const char *idnode_version(void);

/* ---- the client ---------------------------------------------------------------------- */

typedef struct idnode_client idnode_client;

/* Transports: UDP falls back to TCP when the node answers "ask over TCP". */
enum idnode_transport { IDNODE_UDP = 0, IDNODE_TCP = 1 };

/* How authenticated calls prove the identity. */
enum idnode_auth {
	IDNODE_AUTH_SESSION = 0,      /* a session (op 400), as the 9.x client; plain if refused */
	IDNODE_AUTH_ENCRYPTED = 1,    /* an encrypted session (AES); an error if refused */
	IDNODE_AUTH_PLAIN = 2,        /* challenge-response (402 / op 200) on each request */
	IDNODE_AUTH_IDIS = 3,         /* the national login (op 2001), id-pointer-sdk's body */
	IDNODE_AUTH_IDIS_IDS = 4,     /* the national login with ID-SDK's body */
	IDNODE_AUTH_IDIS_SM4 = 5,     /* IDNODE_AUTH_IDIS, then SM4 transport encryption (op 400) */
	IDNODE_AUTH_IDIS_IDS_SM4 = 6, /* IDNODE_AUTH_IDIS_IDS, then SM4 encryption */
};

/*
 * A new client, asking 127.0.0.1:2641 over UDP with a 3000 ms timeout and
 * no identity. *out is freed with idnode_client_free(). IDNODE_ENOMEM.
 */
IDNODE_API int idnode_client_new(idnode_client **out);

/* Ends the session or login (op 401), closes the connection and frees c. NULL is fine. */
IDNODE_API void idnode_client_free(idnode_client *c);

/*
 * The node to ask: "HOST:PORT", "[V6]:PORT", "HOST" (port 2641). Names are
 * looked up here, once. Clears a root. IDNODE_EINVAL (idnode_client_error()).
 */
IDNODE_API int idnode_client_set_server(idnode_client *c, const char *hostport);

/*
 * Resolve through a root instead (as `idnode resolve --root`): 0.NA/<prefix>
 * at the root, following referrals and site records to the prefix's node (at
 * most 40 questions). Authenticated calls still go to the server.
 */
IDNODE_API int idnode_client_set_root(idnode_client *c, const char *hostport);

/* UDP or TCP for resolution (administration is always TCP). IDNODE_ENOTSUP otherwise. */
IDNODE_API int idnode_client_set_transport(idnode_client *c, int transport);

/* Milliseconds each question (each network wait) may take, 1 .. 600000 (default 3000). */
IDNODE_API int idnode_client_set_timeout(idnode_client *c, unsigned ms);

/* The protocol version 2.minor asked with, minor 1 .. 11 (default 11). */
IDNODE_API int idnode_client_set_protocol_minor(idnode_client *c, unsigned minor);

/*
 * The identity for authenticated calls: index:handle (e.g. 300,
 * "0.NA/88.100") with a PEM private key file (RSA, DSA or SM2; passphrase
 * may be NULL) whose public half is that HS_PUBKEY. The key is read now.
 * Ends a session open under another identity. IDNODE_EIO for a file that
 * cannot be read as a key.
 */
IDNODE_API int idnode_client_set_identity_key(idnode_client *c, uint32_t index, const char *handle,
                                              const char *pem_path, const char *passphrase);

/* The identity index:handle with an HS_SECKEY secret (len bytes, copied, at most 4096). */
IDNODE_API int idnode_client_set_identity_secret(idnode_client *c, uint32_t index,
                                                 const char *handle, const void *secret,
                                                 size_t len);

/* The secret read from a file (without the line end an editor leaves). IDNODE_EIO. */
IDNODE_API int idnode_client_set_identity_secret_file(idnode_client *c, uint32_t index,
                                                      const char *handle, const char *path);

/* An IDNODE_AUTH_* (default IDNODE_AUTH_SESSION); ends an open session. */
IDNODE_API int idnode_client_set_auth(idnode_client *c, int auth);

/*
 * What the last failed call on c met, in words: "connection to
 * 127.0.0.1:2641 refused", "100 HANDLE_NOT_FOUND", "--value 1:URL: ...".
 * Borrowed from c: valid until its next call. "" after a success.
 */
IDNODE_API const char *idnode_client_error(const idnode_client *c);

/* The response code of the last answer (1 success, 100 not found, ...), 0 if none. */
IDNODE_API uint32_t idnode_client_rcode(const idnode_client *c);

/* The message the server sent with the last error answer, or "" (borrowed from c). */
IDNODE_API const char *idnode_client_server_message(const idnode_client *c);

/*
 * Ends the session or login of c (op 401) and closes its connection; the
 * next authenticated call opens a new one. Sessions are otherwise kept
 * between calls: the first call authenticates it, later calls in it need no
 * challenge. IDNODE_OK, or the error of ending it (it is closed anyway).
 */
IDNODE_API int idnode_client_end_session(idnode_client *c);

/* ---- resolution ---------------------------------------------------------------------- */

typedef struct idnode_record idnode_record;

/* A reference in a value (HS_VLIST members are in its data, not here). */
typedef struct idnode_ref {
	const char *handle;
	uint32_t index;
} idnode_ref;

/*
 * One value of a record. As given to the library (idnode_values_add): type
 * and data are read, the rest is what is sent. As read from a record: every
 * pointer borrows the record, data is followed by a NUL byte not counted in
 * len (so text data is a C string).
 */
typedef struct idnode_value {
	uint32_t index;
	const char *type; /* "URL", "HS_ADMIN", ... */
	size_t type_len;  /* its bytes (a stored type may hold a NUL); given: 0 means strlen */
	const uint8_t *data;
	size_t len;
	uint32_t ttl;         /* seconds */
	uint8_t ttl_absolute; /* 1: ttl is a time (seconds since 1970) */
	uint8_t perms;        /* IDNODE_PERM_* */
	uint32_t timestamp;   /* seconds since 1970, as the server stored it */
	const idnode_ref *refs;
	size_t nrefs;
} idnode_value;

enum idnode_perm {
	IDNODE_PERM_PUBLIC_WRITE = 0x01,
	IDNODE_PERM_PUBLIC_READ = 0x02,
	IDNODE_PERM_ADMIN_WRITE = 0x04,
	IDNODE_PERM_ADMIN_READ = 0x08,
};

/*
 * Resolves handle through c (its server, or its root): only the values of
 * the given types ("URL", or "HS_" matching a family; NULL/0: all) and
 * indexes (NULL/0: all). *out (freed with idnode_record_free()) on success;
 * IDNODE_ENOTFOUND, IDNODE_ESERVER (idnode_client_rcode()), or a network
 * error otherwise, described by idnode_client_error().
 */
IDNODE_API int idnode_resolve(idnode_client *c, const char *handle, const char *const *types,
                              size_t ntypes, const uint32_t *indexes, size_t nindexes,
                              idnode_record **out);

/* The handle as the server named it (borrowed from r). */
IDNODE_API const char *idnode_record_handle(const idnode_record *r);
/* The number of values. */
IDNODE_API size_t idnode_record_count(const idnode_record *r);
/* Value i (0 .. count-1; NULL beyond), borrowed from r. */
IDNODE_API const idnode_value *idnode_record_value(const idnode_record *r, size_t i);
/* The first value of type type (ASCII case ignored), or NULL. */
IDNODE_API const idnode_value *idnode_record_find(const idnode_record *r, const char *type);
/* 1 when v's data is printable text (UTF-8 without control characters but tab/newline). */
IDNODE_API int idnode_value_is_text(const idnode_value *v);
/* Frees r. NULL is fine. */
IDNODE_API void idnode_record_free(idnode_record *r);

/* ---- values to send ------------------------------------------------------------------ */

typedef struct idnode_values idnode_values;

/* An empty list; freed with idnode_values_free(). */
IDNODE_API int idnode_values_new(idnode_values **out);
IDNODE_API void idnode_values_free(idnode_values *vs);

/*
 * Adds a value as given (type and data copied; ttl 0 means 86400, perms 0
 * means admin read/write and public read). IDNODE_EINVAL for index 0 or no
 * type (the server judges the rest), IDNODE_ERANGE past 256 values or 16384
 * bytes of data.
 */
IDNODE_API int idnode_values_add(idnode_values *vs, const idnode_value *v);

/*
 * Adds a value written as `idnode create --value` takes it: INDEX:TYPE:DATA,
 * where DATA for HS_ADMIN is INDEX:HANDLE (all rights) or
 * RIGHTSHEX/INDEX:HANDLE, for HS_VLIST INDEX:HANDLE,INDEX:HANDLE..., for
 * HS_PUBKEY @PEMFILE (Handle binary form) or pem:@PEMFILE (its PEM text);
 * otherwise the text itself or hex:HEX. IDNODE_EINVAL with the reason in
 * err (errlen bytes, may be NULL).
 */
IDNODE_API int idnode_values_add_text(idnode_values *vs, const char *spec, char *err,
                                      size_t errlen);

/* The number of values in vs. */
IDNODE_API size_t idnode_values_count(const idnode_values *vs);

/* ---- administration (TCP, as the client's identity, in its session) ----------------- */

enum idnode_create_flags {
	IDNODE_CREATE_MINT = 1,      /* the server names the handle under the prefix given */
	IDNODE_CREATE_OVERWRITE = 2, /* replace an existing handle */
};

/*
 * Creates handle with vs (NULL: no values). With IDNODE_CREATE_MINT (handle
 * is then the prefix and a slash, "88.100.1/") and minted non-NULL,
 * *minted is the handle the server made (malloc'd: idnode_free()).
 * IDNODE_EEXIST, IDNODE_EDENIED, IDNODE_ESERVER, IDNODE_ENOIDENTITY, or a
 * network error; idnode_client_error() says more.
 */
IDNODE_API int idnode_create(idnode_client *c, const char *handle, const idnode_values *vs,
                             unsigned flags, char **minted);
/* Adds vs to handle; their indexes must be free. */
IDNODE_API int idnode_add_values(idnode_client *c, const char *handle, const idnode_values *vs);
/* Replaces the values of handle at vs's indexes. */
IDNODE_API int idnode_modify_values(idnode_client *c, const char *handle, const idnode_values *vs);
/* Removes the values at indexes[0..n) from handle. */
IDNODE_API int idnode_remove_values(idnode_client *c, const char *handle, const uint32_t *indexes,
                                    size_t n);
/* Deletes handle. */
IDNODE_API int idnode_delete(idnode_client *c, const char *handle);

/*
 * Lists the handles under prefix ("88.100" or "0.NA/88.100"), calling
 * name(arg, handle) for each (handle borrowed for the call); a non-zero
 * return stops the list and is returned.
 */
IDNODE_API int idnode_list(idnode_client *c, const char *prefix,
                           int (*name)(void *arg, const char *handle), void *arg);

/* Homes (or unhomes) prefix on the server: it answers for it from now on (or not). */
IDNODE_API int idnode_home(idnode_client *c, const char *prefix);
IDNODE_API int idnode_unhome(idnode_client *c, const char *prefix);

/*
 * Runs a GenericBatch file (the reference client's format, as `idnode
 * batch`) against the client's server on one TCP connection, as the
 * client's identity until the file's first AUTHENTICATE block. result(arg,
 * line, op, handle, err) is called for every record in file order, err NULL
 * when it succeeded, and with op and handle NULL for a remark on the file
 * that is no record's (an ignored block) in err (strings borrowed for the
 * call); result may be NULL. path "-" is the standard input.
 * *ok and *failed (may be NULL) count them. IDNODE_EIO when path cannot be
 * opened; IDNODE_OK otherwise, even when records failed.
 */
IDNODE_API int idnode_batch_file(idnode_client *c, const char *path,
                                 void (*result)(void *arg, unsigned line, const char *op,
                                                const char *handle, const char *err),
                                 void *arg, unsigned *ok, unsigned *failed);

/* Frees what the library allocated for the caller (a minted handle). NULL is fine. */
IDNODE_API void idnode_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
