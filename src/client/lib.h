/*
 * lib.h - the inside of libidnode's public layer (include/idnode.h): the
 * client handle's fields, shared by lib_client.c (settings, errors,
 * resolution, records), lib_values.c (values to send) and lib_admin.c
 * (administration, lists, batch files), and what idnode's own CLI reads
 * beyond the public API (a record's values in wire form, for --trusted).
 * Not installed.
 */
#ifndef IDN_CLIENT_LIB_H
#define IDN_CLIENT_LIB_H

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>

#include "client/admin_auth.h"
#include "client/client.h"
#include "client/conn.h"
#include "client/login.h"
#include "client/session.h"
#include "client/trust_fetch.h"
#include "idnode.h"
#include "proto/proto.h"

enum { LIB_SECRET_MAX = 4096, LIB_ERR_MAX = 768 };

struct idnode_client {
	client_addr server;
	char server_name[300]; /* as given, for messages */
	bool from_root;
	client_addr root;
	char root_name[300];
	enum client_transport transport;
	unsigned timeout_ms;
	uint8_t minor;
	int auth; /* IDNODE_AUTH_* */
	/* The identity (has_id), its key or secret. */
	bool has_id;
	uint32_t id_index;
	char id_handle[PROTO_HANDLE_MAX + 1];
	EVP_PKEY *key;
	uint8_t secret[LIB_SECRET_MAX];
	size_t slen;
	/* The connection of authenticated calls, with its session or login (kept between
	 * calls); ident (borrowing the fields above) is what they were opened as. */
	client_identity ident;
	client_conn *cn;
	client_session *sess;
	client_login *lg;
	/* The last call's outcome. */
	uint32_t rcode;
	char err[LIB_ERR_MAX];
	char server_msg[512];
};

/* c's identity as the client code takes it (borrows c). */
client_identity lib_identity(const idnode_client *c);

/*
 * Closes c's connection with its session or login: ending the session with
 * op 401 when terminate (idnode_client_end_session), else dropping it (a
 * connection that failed). IDNODE_OK or the error of op 401.
 */
int lib_drop(idnode_client *c, bool terminate);

/* Clears the last call's outcome. */
void lib_clear(idnode_client *c);

/* Sets c's error text (printf-like) and returns err as a public code. */
int lib_fail(idnode_client *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A failed exchange with peer (named as where): client_strerror()'s account
 * when it names the peer, else "WHERE: what the error means".
 */
int lib_net_fail(idnode_client *c, int err, const char *where);

/* An internal idn_err as a public IDNODE_E* code. */
int lib_err(int err);

/*
 * The answer m's response code as the call's outcome: IDNODE_OK for success,
 * else the public code (IDNODE_ENOTFOUND, IDNODE_EEXIST, IDNODE_EDENIED,
 * IDNODE_ESERVER) with the code, its name and the server's message recorded
 * in c. *rest (may be NULL) is the body after the request digest.
 */
int lib_answer(idnode_client *c, const proto_msg *m, idn_slice *rest);

/* A value list's entries (lib_values.c), for lib_admin.c. */
const proto_value *lib_values(const idnode_values *vs, uint32_t *n);

/* Where c resolves (its server or root, transport, timeout), for trust chains. */
void lib_trust_src(const idnode_client *c, client_trust_src *src);

/* The values of r in wire form (n of them), as the server sent them: borrowed from r. */
void lib_record_wire(const idnode_record *r, idn_slice *values, uint32_t *n);

#endif
