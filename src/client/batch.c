/*
 * batch.c - GenericBatch files run against one node (batch.h): the file read
 * block by block, records pipelined in windows over one TCP connection,
 * through a session when the server takes one.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/verify.h"
#include "client/admin_auth.h"
#include "client/batch.h"
#include "client/client.h"
#include "client/conn.h"
#include "client/session.h"
#include "core/err.h"
#include "proto/admin.h"
#include "proto/reserved.h"

enum {
	WINDOW = 64,           /* records in flight on the connection */
	LINE_MAX_LEN = 65536,  /* one line of the file */
	VALUES_MAX = 256,      /* values per record */
	FILE_DATA_MAX = 65536, /* bytes of a FILE value */
	SECRET_MAX = 4096,
};

/* The identity records are authenticated as. */
typedef struct ident {
	bool set;
	bool pub;
	EVP_PKEY *key;
	uint8_t secret[SECRET_MAX];
	size_t slen;
	char handle[PROTO_HANDLE_MAX + 1];
	uint32_t index;
} ident;

/* One record in the window. */
typedef struct item {
	unsigned line;
	const char *op;
	char *handle; /* for the messages */
	uint8_t *req; /* envelope + message, owned; NULL when err is set */
	size_t len;
	char *err; /* the result when it failed: owned */
	bool done;
} item;

typedef struct client_batch {
	client_batch_opts opts;
	FILE *f;
	unsigned line; /* of the last line read */
	bool pushed;   /* buf holds a line read ahead */
	client_conn *cn;
	/* Where the window goes: the server, or a HOME block's address. */
	client_conn **tcn;
	const client_addr *taddr;
	ident id;
	/* The session records go through (none with --no-session or when refused). */
	client_session *sess;
	client_identity sess_id; /* what sess authenticates as: id, borrowed */
	bool no_session, sess_refused, sess_authed;
	item win[WINDOW];
	size_t nwin;
	unsigned ok, failed;
	/* the values of the record being read, and their data */
	proto_value vals[VALUES_MAX];
	uint8_t data[PROTO_MSG_MAX];
	char buf[LINE_MAX_LEN];
} batch;

/* ---- reading lines ---- */

/* The next line without its end of line; NULL at the end of the file. */
static char *next_line(batch *b)
{
	if (b->pushed) {
		b->pushed = false;
		return b->buf;
	}
	if (!fgets(b->buf, LINE_MAX_LEN, b->f))
		return NULL;
	b->line++;
	size_t n = strlen(b->buf);
	if (n == LINE_MAX_LEN - 1 && b->buf[n - 1] != '\n') {
		/* Longer than we take: drop the rest, the record will fail. */
		int c;
		while ((c = fgetc(b->f)) != EOF && c != '\n')
			;
		snprintf(b->buf, LINE_MAX_LEN, "\x01");
		return b->buf;
	}
	while (n && (b->buf[n - 1] == '\n' || b->buf[n - 1] == '\r'))
		b->buf[--n] = 0;
	return b->buf;
}

static bool blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == 0;
}

/* Skips the rest of a block (up to a blank line). */
static void skip_block(batch *b)
{
	char *l;
	while ((l = next_line(b)) && !blank(l))
		;
}

/* ---- results ---- */

static void item_fail(item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void item_fail(item *it, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(it->err);
	it->err = strdup(msg);
	it->done = true;
}

static void report(batch *b, item *it)
{
	if (it->err)
		b->failed++;
	else
		b->ok++;
	if (b->opts.on_result)
		b->opts.on_result(b->opts.arg, it->line, it->op, it->handle ? it->handle : "",
		                  it->err);
	free(it->handle);
	free(it->req);
	free(it->err);
	memset(it, 0, sizeof(*it));
}

/* ---- the exchange of a window ---- */

static int reconnect(batch *b, client_conn **cn, const client_addr *a)
{
	if (*cn)
		return IDN_OK;
	return client_conn_open(a, 10000, cn);
}

/* Ends the session (the identity changes, the connection is gone, the end). */
static void sess_drop(batch *b, bool terminate)
{
	client_session_close(b->sess, terminate && b->cn);
	b->sess = NULL;
	b->sess_authed = false;
}

/* A session for the current identity on b->cn, opened if needed; false: go without. */
static bool sess_ready(batch *b)
{
	if (b->sess)
		return true;
	if (b->no_session || b->sess_refused || !b->id.set || reconnect(b, &b->cn, &b->opts.server))
		return false;
	b->sess_id = (client_identity){.index = b->id.index,
	                               .handle = idn_slice_of(b->id.handle, strlen(b->id.handle)),
	                               .key = b->id.pub ? b->id.key : NULL,
	                               .secret = idn_slice_of(b->id.secret, b->id.slen)};
	int ret = client_session_open(b->cn, &b->sess_id, NULL, &b->sess, NULL);
	if (ret == IDN_ENOTSUP) {
		b->sess_refused = true; /* as the reference: plain challenge-response then */
	} else if (ret) {
		client_conn_close(b->cn); /* in an unknown state: the window reconnects */
		b->cn = NULL;
	}
	if (ret)
		b->sess = NULL;
	return b->sess != NULL;
}

/* Decodes an answer; the request id must be want. */
static int decode(const uint8_t *a, size_t alen, uint32_t want, proto_env *env, proto_msg *m)
{
	if (proto_env_decode(a, alen, env) ||
	    proto_msg_decode(a + PROTO_ENV_LEN, alen - PROTO_ENV_LEN, m) || env->request_id != want)
		return IDN_EPROTO;
	return IDN_OK;
}

/* The final answer of a record: ok, or its code and message as the failure. */
static void settle(item *it, const proto_msg *m)
{
	it->done = true;
	if (m->hdr.rcode == PROTO_RC_SUCCESS)
		return;
	idn_slice body, msg = {0};
	if (proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, NULL, NULL, &body))
		body = m->body;
	proto_error_decode(body, &msg);
	item_fail(it, "%u %s%s%.*s", m->hdr.rcode, proto_rc_name(m->hdr.rcode), msg.len ? ": " : "",
	          (int)(msg.len > 512 ? 512 : msg.len), (const char *)msg.p);
}

/*
 * The op 200 answering the challenge m as id (in resp). HMAC-SHA256 for
 * secrets: the PBKDF2 form costs 10,000 rounds per record, which a batch of
 * many records cannot afford.
 */
static int respond(const ident *id, const proto_env *aenv, const proto_msg *m, uint8_t **resp,
                   size_t *rlen)
{
	client_identity ci = {.index = id->index,
	                      .handle = idn_slice_of(id->handle, strlen(id->handle)),
	                      .key = id->pub ? id->key : NULL,
	                      .secret = idn_slice_of(id->secret, id->slen),
	                      .seckey_form = PROTO_SECKEY_HMAC_SHA256};
	return client_admin_challenge_answer(&ci, aenv, m, resp, rlen);
}

/* Sends the requests of win[0..n) back to back; then reads one answer per request. */
static void run_round(batch *b, client_conn **cn, const client_addr *a, item **its, size_t n,
                      bool challenge_round)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += its[i]->len;
	uint8_t *all = calloc(1, total ? total : 1);
	if (!all) {
		for (size_t i = 0; i < n; i++)
			item_fail(its[i], "out of memory");
		return;
	}
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(all + off, its[i]->req, its[i]->len);
		off += its[i]->len;
	}
	int ret = reconnect(b, cn, a);
	if (!ret)
		ret = client_conn_send(*cn, all, total);
	free(all);
	size_t i = 0;
	client_session *sess = cn == &b->cn ? b->sess : NULL;
	for (; !ret && i < n; i++) {
		item *it = its[i];
		uint8_t *ans = NULL;
		size_t alen;
		proto_env env;
		proto_msg m;
		ret = client_conn_recv(*cn, &ans, &alen);
		if (!ret && sess) {
			ret = client_session_unwrap(sess, &ans, &alen, &env, &m);
			if (!ret && env.request_id != idn_be32(it->req + 8))
				ret = IDN_EPROTO;
		} else if (!ret) {
			ret = decode(ans, alen, idn_be32(it->req + 8), &env, &m);
		}
		if (ret) {
			free(ans);
			break;
		}
		free(it->req);
		it->req = NULL;
		if (m.hdr.rcode == PROTO_RC_AUTHENTICATION_NEEDED && !challenge_round) {
			int r = sess ? client_session_answer_challenge(sess, &env, &m, &it->req,
			                                               &it->len)
			             : respond(&b->id, &env, &m, &it->req, &it->len);
			if (r)
				item_fail(it, "cannot answer the challenge: %s", idn_strerror(r));
		} else {
			settle(it, &m);
		}
		free(ans);
	}
	if (ret) {
		/* The connection is gone: what was not answered failed; the next window reconnects.
		 */
		for (; i < n; i++)
			item_fail(its[i], "%s: %s", b->opts.server_name, idn_strerror(ret));
		if (sess)
			sess_drop(b, false);
		client_conn_close(*cn);
		*cn = NULL;
	}
}

/* Requests its[0..n), then the answers to their challenges. */
static void window_round(batch *b, client_conn **cn, const client_addr *a, item **its, size_t n)
{
	if (cn == &b->cn && b->sess) {
		/* In the session: its id, a MAC and a counter on each request. */
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			uint8_t *w = NULL;
			size_t wlen = 0;
			int r =
			    client_session_wrap(b->sess, its[i]->req, its[i]->len, true, &w, &wlen);
			free(its[i]->req);
			its[i]->req = w;
			its[i]->len = wlen;
			if (r)
				item_fail(its[i], "cannot put the request in the session: %s",
				          idn_strerror(r));
			else
				its[m++] = its[i];
		}
		n = m;
	}
	if (n)
		run_round(b, cn, a, its, n, false);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!its[i]->done && its[i]->req)
			its[k++] = its[i];
	if (k)
		run_round(b, cn, a, its, k, true);
}

/* Runs the window; reports in order. */
static void flush_to(batch *b, client_conn **cn, const client_addr *a)
{
	item *its[WINDOW];
	size_t n = 0;
	for (size_t i = 0; i < b->nwin; i++)
		if (!b->win[i].done && b->win[i].req)
			its[n++] = &b->win[i];
	size_t start = 0;
	if (n && cn == &b->cn && sess_ready(b) && !b->sess_authed) {
		/* The first record in a new session goes alone: its op 200 authenticates it. */
		window_round(b, cn, a, its, 1);
		b->sess_authed = b->sess && its[0]->done && !its[0]->err;
		start = 1;
	}
	window_round(b, cn, a, its + start, n - start);
	for (size_t i = 0; i < b->nwin; i++) {
		if (!b->win[i].done && !b->win[i].err)
			item_fail(&b->win[i], "no answer");
		report(b, &b->win[i]);
	}
	b->nwin = 0;
}

static void flush(batch *b)
{
	flush_to(b, b->tcn, b->taddr);
}

/* A new item in the window (flushing a full one first). */
static item *item_new(batch *b, const char *op, unsigned line)
{
	if (b->nwin == WINDOW)
		flush(b);
	item *it = &b->win[b->nwin++];
	memset(it, 0, sizeof(*it));
	it->op = op;
	it->line = line;
	return it;
}

/* Encodes the request of an item: the body is written by fill. */
static int item_request(batch *b, item *it, uint32_t opcode, const void *body, size_t blen)
{
	if (!b->id.set) {
		item_fail(it, "no identity: put an AUTHENTICATE block first, or give --id with "
		              "--key or --secret-file");
		return -1;
	}
	proto_env env = {.major = 2, .minor = PROTO_MINOR_MAX, .request_id = client_request_id()};
	proto_hdr hdr = {
	    .opcode = opcode, .flags = PROTO_F_REC | PROTO_F_CA, .site_serial = 0xFFFF};
	size_t cap = PROTO_ENV_LEN + PROTO_HDR_LEN + blen + 16;
	it->req = malloc(cap);
	if (!it->req) {
		item_fail(it, "out of memory");
		return -1;
	}
	proto_build bd;
	proto_build_begin(&bd, it->req, cap, &env, &hdr);
	wire_put_data(&bd.w, body, blen);
	int len = proto_build_end(&bd, NULL, 0);
	if (len < 0 || (size_t)len - PROTO_ENV_LEN > PROTO_MSG_MAX) {
		free(it->req);
		it->req = NULL;
		item_fail(it, "request too large");
		return -1;
	}
	it->len = (size_t)len;
	return 0;
}

/* ---- parsing ---- */

/* A PEM private key, with its passphrase when encrypted. */
static EVP_PKEY *read_key(const char *path, const char *pass)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, (void *)pass);
	fclose(f);
	return k;
}

/* Reads a whole (small) file into w; a message on error. */
static const char *file_data(const char *path, const char *type, wire_wr *w)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return "cannot open the file";
	uint8_t *buf = malloc(FILE_DATA_MAX + 1);
	size_t n = buf ? fread(buf, 1, FILE_DATA_MAX + 1, f) : 0;
	fclose(f);
	const char *err = NULL;
	if (!buf)
		err = "out of memory";
	else if (n > FILE_DATA_MAX)
		err = "file larger than 64 KiB";
	else if (!strcasecmp(type, "HS_PUBKEY") && n > 10 && !memcmp(buf, "-----BEGIN", 10)) {
		/*
		 * A PEM public key (LF or CRLF lines, RSA, DSA or SM2) is stored in the
		 * Handle encoding, as `idnode keygen` prints it; a bad one is refused
		 * with what is wrong (parsing is single-threaded: one message buffer).
		 */
		static char why[256];
		EVP_PKEY *k = NULL;
		if (auth_pubkey_parse(idn_slice_of(buf, n), &k, why, sizeof(why)))
			err = why;
		else if (auth_pubkey_encode(k, w))
			err = "HS_PUBKEY: cannot encode the key";
		EVP_PKEY_free(k);
	} else {
		wire_put_data(w, buf, n);
	}
	free(buf);
	return err;
}

/*
 * The reference's order of the 12 rights digits of an ADMIN value line. Its
 * GenericBatch sets AdminRecord.perms[i] from digit i, and perms is indexed
 * by the rights in bit order (read value is perms[10], 0x0400), so digit i is
 * bit 1 << i. (The grammar comment in that same file lists read value 8th;
 * the code, which is what real batch files have been run through, wins.)
 * Like the reference, only exactly 12 digits are accepted.
 */
static const uint16_t admin_digits[12] = {
    PROTO_ADM_ADD_HANDLE,         PROTO_ADM_DELETE_HANDLE,
    PROTO_ADM_ADD_DERIVED_PREFIX, PROTO_ADM_DELETE_DERIVED_PREFIX,
    PROTO_ADM_MODIFY_VALUE,       PROTO_ADM_REMOVE_VALUE,
    PROTO_ADM_ADD_VALUE,          PROTO_ADM_MODIFY_ADMIN,
    PROTO_ADM_REMOVE_ADMIN,       PROTO_ADM_ADD_ADMIN,
    PROTO_ADM_READ_VALUE,         PROTO_ADM_LIST_HANDLES,
};

/* "300:0.NA/88" -> index and handle (borrowed). */
static bool parse_ref(const char *s, uint32_t *index, const char **h)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end != ':' || !end[1] || errno || v > INT32_MAX)
		return false;
	*index = (uint32_t)v;
	*h = end + 1;
	return true;
}

/*
 * Parses one value line into v (data written into w). A message saying what
 * is wrong, or NULL.
 */
static const char *value_line(char *line, proto_value *v, wire_wr *w, const char **field)
{
	char *save = NULL;
	char *tok[5];
	for (int i = 0; i < 5; i++) {
		tok[i] = strtok_r(i ? NULL : line, " \t", &save);
		if (!tok[i]) {
			*field = "value line";
			return "expected INDEX TYPE TTL PERMS DATATYPE DATA";
		}
	}
	char *data = save ? save : (char *)"";
	while (*data == ' ' || *data == '\t')
		data++;
	char *end;
	long idx = strtol(tok[0], &end, 10);
	if (*end || idx <= 0 || idx > INT32_MAX) {
		*field = "index";
		return "not a positive number";
	}
	long ttl = strtol(tok[2], &end, 10);
	if (*end || ttl < 0 || ttl > INT32_MAX) {
		*field = "ttl";
		return "not a number of seconds";
	}
	if (strlen(tok[3]) != 4 || strspn(tok[3], "01") != 4) {
		*field = "permissions";
		return "expected 4 digits 0/1 (admin read, admin write, public read, public write)";
	}
	uint8_t perms = 0;
	for (int i = 0; i < 4; i++)
		if (tok[3][i] == '1')
			perms |= (uint8_t)(0x08 >> i);
	*v = (proto_value){.index = (uint32_t)idx, .ttl = (uint32_t)ttl, .perms = perms};
	/* The line buffer is reused for the next line: the type is kept with the data. */
	uint8_t *type = w->pos;
	wire_put_data(w, tok[1], strlen(tok[1]));
	v->type = idn_slice_of(type, strlen(tok[1]));
	uint8_t *start = w->pos;
	const char *dt = tok[4];
	*field = "data";
	if (!strcasecmp(dt, "UTF8")) {
		wire_put_data(w, data, strlen(data));
	} else if (!strcasecmp(dt, "ADMIN")) {
		/* INDEX:RIGHTS:HANDLE */
		proto_admin a = {0};
		const char *rest;
		if (!parse_ref(data, &a.index, &rest) || strlen(rest) < 14 || rest[12] != ':' ||
		    strspn(rest, "01") != 12)
			return "ADMIN data must be INDEX:RIGHTS:HANDLE, RIGHTS 12 digits 0/1";
		for (int i = 0; i < 12; i++)
			if (rest[i] == '1')
				a.rights |= admin_digits[i];
		a.handle = idn_slice_of(rest + 13, strlen(rest + 13));
		proto_admin_put(w, &a);
	} else if (!strcasecmp(dt, "FILE")) {
		const char *err = file_data(data, tok[1], w);
		if (err)
			return err;
	} else if (!strcasecmp(dt, "LIST")) {
		proto_ref refs[64];
		uint32_t n = 0;
		char *s2 = NULL;
		for (char *r = strtok_r(data, ";,", &s2); r; r = strtok_r(NULL, ";,", &s2)) {
			const char *h;
			if (n == 64 || !parse_ref(r, &refs[n].index, &h))
				return "LIST data must be INDEX:HANDLE;INDEX:HANDLE... (at most "
				       "64)";
			refs[n].handle = idn_slice_of(h, strlen(h));
			n++;
		}
		proto_vlist_put(w, refs, n);
	} else {
		*field = "data type";
		return "unknown (UTF8, ADMIN, FILE, LIST)";
	}
	if (w->err)
		return "value data too long";
	v->data = idn_slice_of(start, (size_t)(w->pos - start));
	return NULL;
}

/* Bytes of n values in wire encoding (no references). */
static size_t values_size(const proto_value *v, uint32_t n)
{
	size_t sz = 4;
	for (uint32_t i = 0; i < n; i++)
		sz += 30 + v[i].type.len + v[i].data.len;
	return sz;
}

/* CREATE / ADD / MODIFY HANDLE, then value lines up to a blank line. */
static void op_values(batch *b, const char *op, uint32_t opcode, const char *h)
{
	item *it = item_new(b, op, b->line);
	it->handle = strdup(h);
	proto_value *vals = b->vals;
	wire_wr dw = wire_wr_init(b->data, sizeof(b->data));
	uint32_t n = 0;
	char *l;
	bool bad = false;
	while ((l = next_line(b)) && !blank(l)) {
		if (bad)
			continue;
		/* An operation line right after a record: the blank line was left out. */
		if (!isdigit((unsigned char)l[strspn(l, " \t")])) {
			b->pushed = true;
			break;
		}
		const char *field = "", *err;
		if (n == VALUES_MAX) {
			item_fail(it, "line %u: more than %d values", b->line, VALUES_MAX);
			bad = true;
			continue;
		}
		if ((err = value_line(l, &vals[n], &dw, &field))) {
			item_fail(it, "line %u: %s: %s", b->line, field, err);
			bad = true;
			continue;
		}
		n++;
	}
	if (bad)
		return;
	if (n == 0) {
		item_fail(it, "no value lines (INDEX TYPE TTL PERMS DATATYPE DATA)");
		return;
	}
	size_t cap = strlen(h) + 8 + values_size(vals, n);
	uint8_t *body = malloc(cap);
	if (!body) {
		item_fail(it, "out of memory");
		return;
	}
	wire_wr w = wire_wr_init(body, cap);
	proto_values_req_encode(&w, idn_slice_of(h, strlen(h)), vals, n);
	if (w.err)
		item_fail(it, "record too large");
	else
		item_request(b, it, opcode, body, wire_wr_len(&w));
	free(body);
}

/* REMOVE INDEX[,INDEX...]:HANDLE */
static void op_remove(batch *b, char *arg)
{
	item *it = item_new(b, "REMOVE", b->line);
	char *colon = strchr(arg, ':');
	it->handle = strdup(colon ? colon + 1 : arg);
	uint32_t idx[VALUES_MAX];
	uint32_t n = 0;
	if (!colon || !colon[1]) {
		item_fail(it, "expected REMOVE INDEX[,INDEX...]:HANDLE");
		return;
	}
	*colon = 0;
	char *save = NULL;
	for (char *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end;
		long v = strtol(t, &end, 10);
		if (*end || v <= 0 || v > INT32_MAX || n == VALUES_MAX) {
			item_fail(it, "index '%s' is not a positive number", t);
			return;
		}
		idx[n++] = (uint32_t)v;
	}
	if (n == 0) {
		item_fail(it, "no index to remove");
		return;
	}
	uint8_t body[PROTO_HANDLE_MAX + 8 + 4 * VALUES_MAX + 8];
	wire_wr w = wire_wr_init(body, sizeof(body));
	proto_remove_req_encode(&w, idn_slice_of(colon + 1, strlen(colon + 1)), idx, n);
	if (w.err)
		item_fail(it, "handle too long");
	else
		item_request(b, it, PROTO_OP_REMOVE_VALUE, body, wire_wr_len(&w));
}

/* The request of a one-handle operation (DELETE, HOME/UNHOME prefixes) into it. */
static void handle_request(batch *b, item *it, uint32_t opcode, const char *h)
{
	it->handle = strdup(h);
	uint8_t body[PROTO_HANDLE_MAX + 8];
	wire_wr w = wire_wr_init(body, sizeof(body));
	proto_handle_req_encode(&w, idn_slice_of(h, strlen(h)));
	if (w.err || !*h)
		item_fail(it, "%s", *h ? "handle too long" : "no handle");
	else
		item_request(b, it, opcode, body, wire_wr_len(&w));
}

/* HOME|UNHOME ADDRESS:PORT:PROTOCOL, then one prefix a line; sent to that address. */
static void op_home(batch *b, const char *op, uint32_t opcode, char *arg)
{
	unsigned line = b->line;
	flush(b);
	char *proto = strrchr(arg, ':');
	client_addr a;
	char err[256] = "expected HOME ADDRESS:PORT:PROTOCOL";
	bool bad = !proto;
	if (proto) {
		*proto++ = 0;
		/* Admin requests go over TCP whatever the file says: UDP refuses them. */
		if (strcasecmp(proto, "TCP") && strcasecmp(proto, "UDP") &&
		    strcasecmp(proto, "HTTP")) {
			snprintf(err, sizeof(err), "protocol '%s' is not TCP, UDP or HTTP", proto);
			bad = true;
		} else {
			bad = client_addr_parse(arg, 2641, &a, err, sizeof(err)) != 0;
		}
	}
	client_conn *cn = NULL;
	b->tcn = &cn;
	b->taddr = &a;
	char *l;
	unsigned n = 0;
	while ((l = next_line(b)) && !blank(l)) {
		char *p = l + strspn(l, " \t");
		p[strcspn(p, " \t")] = 0;
		item *it = item_new(b, op, b->line);
		n++;
		if (bad) {
			it->handle = strdup(p);
			item_fail(it, "line %u: %s", line, err);
		} else {
			handle_request(b, it, opcode, p);
		}
	}
	if (n == 0) {
		item *it = item_new(b, op, line);
		item_fail(it, "no prefix lines (0.NA/PREFIX) after %s", op);
	}
	flush(b);
	client_conn_close(cn);
	b->tcn = &b->cn;
	b->taddr = &b->opts.server;
}

/* AUTHENTICATE PUBKEY:INDEX:HANDLE + key file line, or SECKEY:INDEX:HANDLE + secret line. */
static void op_auth(batch *b, const char *argl)
{
	unsigned line = b->line;
	char arg[PROTO_HANDLE_MAX +
	         32]; /* argl lives in the line buffer: copied before reading on */
	snprintf(arg, sizeof(arg), "%s", argl);
	flush(b); /* the records before run as the identity they were written under */
	sess_drop(b, true);
	ident *id = &b->id;
	EVP_PKEY_free(id->key);
	OPENSSL_cleanse(id, sizeof(*id));
	item *it = item_new(b, "AUTHENTICATE", line);
	it->handle = strdup(arg);
	bool pub = !strncasecmp(arg, "PUBKEY:", 7);
	const char *h;
	char *next = next_line(b);
	if (!pub && strncasecmp(arg, "SECKEY:", 7)) {
		item_fail(it, "expected AUTHENTICATE PUBKEY:INDEX:HANDLE or SECKEY:INDEX:HANDLE");
	} else if (!parse_ref(arg + 7, &id->index, &h) || !strchr(h, '/') ||
	           strlen(h) > PROTO_HANDLE_MAX) {
		item_fail(it, "expected %.6s:INDEX:HANDLE", arg);
	} else if (!next || blank(next)) {
		item_fail(it, "the next line must hold %s",
		          pub ? "the private key file" : "the secret");
	} else if (pub) {
		char *bar = strchr(next, '|');
		if (bar)
			*bar++ = 0;
		id->key = read_key(next, bar);
		if (!id->key)
			item_fail(it, "line %u: %s: not a readable PEM private key%s", b->line,
			          next, bar ? " (or a wrong passphrase)" : "");
	} else if (strlen(next) > SECRET_MAX) {
		item_fail(it, "line %u: secret longer than %d bytes", b->line, SECRET_MAX);
	} else {
		id->slen = strlen(next);
		memcpy(id->secret, next, id->slen);
	}
	if (next)
		OPENSSL_cleanse(next, strlen(next));
	if (!it->err) {
		id->pub = pub;
		id->set = true;
		snprintf(id->handle, sizeof(id->handle), "%s", h);
		it->done = true; /* nothing to send: checked when the records use it */
	}
	/* The block ends at a blank line; an operation line right after it starts the next. */
	if (next && !blank(next) && (next = next_line(b)) && !blank(next))
		b->pushed = true;
	flush(b);
}

/* The operations, by their word at the start of a block. */
static const struct bop {
	const char *word;
	uint32_t opcode;
	enum { B_VALUES, B_REMOVE, B_DELETE, B_HOME, B_AUTH, B_SESSION } kind;
} bops[] = {
    {"CREATE", PROTO_OP_CREATE_HANDLE, B_VALUES},
    {"ADD", PROTO_OP_ADD_VALUE, B_VALUES},
    {"MODIFY", PROTO_OP_MODIFY_VALUE, B_VALUES},
    {"REMOVE", PROTO_OP_REMOVE_VALUE, B_REMOVE},
    {"DELETE", PROTO_OP_DELETE_HANDLE, B_DELETE},
    {"HOME", PROTO_OP_HOME_NA, B_HOME},
    {"UNHOME", PROTO_OP_UNHOME_NA, B_HOME},
    {"AUTHENTICATE", 0, B_AUTH},
    {"SESSIONSETUP", 0, B_SESSION},
};

static void run_file(batch *b)
{
	char *l;
	while ((l = next_line(b))) {
		if (blank(l))
			continue;
		char *word = l + strspn(l, " \t");
		size_t wl = strcspn(word, " \t");
		char *arg = word + wl;
		arg += strspn(arg, " \t");
		arg[strcspn(arg, " \t")] = 0; /* one argument; trailing blanks dropped */
		word[wl] = 0;
		const struct bop *op = NULL;
		for (size_t i = 0; i < sizeof(bops) / sizeof(bops[0]); i++)
			if (!strcasecmp(word, bops[i].word))
				op = &bops[i];
		if (!op) {
			item *it = item_new(b, "operation", b->line);
			it->handle = strndup(word, 64);
			item_fail(it,
			          "unknown operation '%.64s' (CREATE, ADD, MODIFY, REMOVE, DELETE, "
			          "HOME, UNHOME, AUTHENTICATE)",
			          word);
			skip_block(b);
			continue;
		}
		char h[PROTO_HANDLE_MAX + 1];
		snprintf(h, sizeof(h), "%s", arg);
		switch (op->kind) {
		case B_VALUES:
			op_values(b, op->word, op->opcode, h);
			break;
		case B_REMOVE:
			op_remove(b, arg);
			break;
		case B_DELETE: {
			item *it = item_new(b, op->word, b->line);
			handle_request(b, it, op->opcode, h);
			break;
		}
		case B_HOME:
			op_home(b, op->word, op->opcode, arg);
			break;
		case B_AUTH:
			op_auth(b, arg);
			break;
		case B_SESSION:
			/* Our own session (or --no-session) is used whatever the block says. */
			if (b->opts.on_notice)
				b->opts.on_notice(
				    b->opts.arg, b->line,
				    "SESSIONSETUP options ignored: records use idnode's session");
			skip_block(b);
			break;
		}
	}
	flush(b);
}

EVP_PKEY *client_batch_read_key(const char *path, const char *pass)
{
	return read_key(path, pass);
}

int client_batch_new(const client_batch_opts *opts, client_batch **out)
{
	batch *b = calloc(1, sizeof(*b));
	*out = b;
	if (!b)
		return IDN_ENOMEM;
	b->opts = *opts;
	b->tcn = &b->cn;
	b->taddr = &b->opts.server;
	return IDN_OK;
}

int client_batch_identity(client_batch *b, const char *ref)
{
	const char *h;
	b->id.set = false;
	if (!parse_ref(ref, &b->id.index, &h) || strlen(h) > PROTO_HANDLE_MAX)
		return IDN_EINVAL;
	snprintf(b->id.handle, sizeof(b->id.handle), "%s", h);
	return IDN_OK;
}

void client_batch_identity_key(client_batch *b, EVP_PKEY *key)
{
	EVP_PKEY_free(b->id.key);
	b->id.key = key;
	b->id.pub = true;
	b->id.set = true;
}

int client_batch_identity_secret(client_batch *b, const uint8_t *secret, size_t slen)
{
	if (slen > sizeof(b->id.secret))
		return IDN_EINVAL;
	memcpy(b->id.secret, secret, slen);
	b->id.slen = slen;
	b->id.pub = false;
	b->id.set = true;
	return IDN_OK;
}

void client_batch_run(client_batch *b, FILE *f)
{
	b->f = f;
	run_file(b);
	b->f = NULL;
}

void client_batch_counts(const client_batch *b, unsigned *ok, unsigned *failed)
{
	*ok = b->ok;
	*failed = b->failed;
}

void client_batch_free(client_batch *b)
{
	if (!b)
		return;
	sess_drop(b, true);
	client_conn_close(b->cn);
	EVP_PKEY_free(b->id.key);
	OPENSSL_cleanse(&b->id, sizeof(b->id));
	free(b);
}
