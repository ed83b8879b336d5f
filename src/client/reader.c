/*
 * reader.c - many identifiers read whole from one node as an administrator,
 * pipelined on one connection (reader.h).
 */
#include "client/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "client/session.h"
#include "core/err.h"
#include "proto/admin.h"

enum { WINDOW_DEFAULT = 256, WINDOW_MAX = 4096 };

struct client_reader {
	client_conn *cn;
	client_session *sess; /* NULL: plain challenge-response */
	const client_identity *id;
	unsigned window;
	uint32_t next_id; /* request ids: consecutive from a random start */
};

/* One read of a window: its request (wrapped), then the op 200 of its challenge. */
struct item {
	size_t name;
	uint32_t rid;
	uint8_t *req;
	size_t len;
	bool done;
};

int client_reader_open(const client_addr *a, const client_identity *id, const client_reader_opts *o,
                       client_reader **out)
{
	client_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return IDN_ENOMEM;
	r->id = id;
	r->window = o && o->window ? o->window : WINDOW_DEFAULT;
	if (r->window > WINDOW_MAX)
		r->window = WINDOW_MAX;
	r->next_id = client_request_id() & 0x3fffffff;
	int ret = client_conn_open(a, o && o->timeout_ms ? o->timeout_ms : 30000, &r->cn);
	if (!ret && !(o && o->no_session)) {
		ret = client_session_open(r->cn, id, NULL, &r->sess, NULL);
		if (ret == IDN_ENOTSUP) /* no sessions there: go without, as the reference */
			ret = IDN_OK;
	}
	if (ret) {
		client_reader_close(r);
		return ret;
	}
	*out = r;
	return IDN_OK;
}

void client_reader_close(client_reader *r)
{
	if (!r)
		return;
	client_session_close(r->sess, r->cn != NULL);
	client_conn_close(r->cn);
	free(r);
}

/* The body of an answer after its request digest, if it has one. */
static idn_slice answer_body(const proto_msg *m)
{
	idn_slice body;
	if (proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, NULL, NULL, &body))
		body = m->body;
	return body;
}

/* Calls name for each handle of one list message. */
static int list_names(const proto_msg *m, int (*name)(void *, idn_slice), void *arg)
{
	proto_list_resp lr;
	idn_slice nm;
	if (proto_list_resp_decode(answer_body(m), &lr))
		return IDN_EPROTO;
	wire_rd it = proto_list_names(&lr);
	int got;
	while ((got = proto_list_next(&it, &nm)) == 1) {
		int ret = name(arg, nm);
		if (ret)
			return ret;
	}
	return got < 0 || it.err ? IDN_EPROTO : IDN_OK;
}

int client_reader_list(client_reader *r, const char *prefix,
                       int (*name)(void *arg, idn_slice handle), void *arg, uint32_t *rc, char *msg,
                       size_t msglen)
{
	static uint8_t req[PROTO_ENV_LEN + 4096];
	char h[PROTO_HANDLE_MAX + 8];
	int hlen =
	    snprintf(h, sizeof(h), "%s%s", strncmp(prefix, "0.NA/", 5) ? "0.NA/" : "", prefix);
	if (hlen < 0 || hlen > PROTO_HANDLE_MAX)
		return IDN_EINVAL;
	proto_env env = {.major = 2, .minor = PROTO_MINOR_MAX, .request_id = r->next_id++};
	proto_hdr hdr = {
	    .opcode = PROTO_OP_LIST_HANDLES, .flags = PROTO_F_CA, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, sizeof(req), &env, &hdr);
	proto_handle_req_encode(&b.w, idn_slice_of(h, (size_t)hlen));
	int len = proto_build_end(&b, NULL, 0);
	if (len < 0)
		return len;
	uint8_t *ans = NULL;
	size_t alen;
	proto_env aenv;
	proto_msg m;
	int ret =
	    r->sess ? client_session_exchange(r->sess, req, (size_t)len, &ans, &alen, &aenv, &m)
	            : client_admin_exchange(r->cn, r->id, req, (size_t)len, &ans, &alen, &aenv, &m);
	if (!ret && m.hdr.rcode != PROTO_RC_SUCCESS) {
		idn_slice text = {0};
		proto_error_decode(answer_body(&m), &text);
		*rc = m.hdr.rcode;
		snprintf(msg, msglen, "%.*s", (int)(text.len > 400 ? 400 : text.len),
		         (const char *)text.p);
		ret = IDN_EMISMATCH;
	} else if (!ret) {
		ret = list_names(&m, name, arg);
	}
	bool more = !ret && (m.hdr.flags & PROTO_F_CN);
	free(ans);
	while (!ret && more) {
		ret = client_recv_continued(r->cn, r->sess, aenv.request_id, &ans, &alen, &m);
		if (!ret) {
			ret = list_names(&m, name, arg);
			more = m.hdr.flags & PROTO_F_CN;
		}
		free(ans);
	}
	return ret;
}

/* The resolution of handle (every value: no PO), in the session when there is one. */
static int read_request(client_reader *r, const char *handle, struct item *it)
{
	uint8_t req[PROTO_ENV_LEN + PROTO_HDR_LEN + PROTO_HANDLE_MAX + 64];
	it->rid = r->next_id++ & 0x7fffffff;
	proto_env env = {.major = 2, .minor = PROTO_MINOR_MAX, .request_id = it->rid};
	proto_hdr hdr = {.opcode = PROTO_OP_RESOLUTION, .flags = PROTO_F_CA, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, sizeof(req), &env, &hdr);
	proto_resolve_req_encode(&b.w, idn_slice_of(handle, strlen(handle)), NULL, 0, NULL, 0);
	int len = proto_build_end(&b, NULL, 0);
	if (len < 0)
		return len;
	if (r->sess)
		return client_session_wrap(r->sess, req, (size_t)len, true, &it->req, &it->len);
	if (!(it->req = malloc((size_t)len)))
		return IDN_ENOMEM;
	memcpy(it->req, req, (size_t)len);
	it->len = (size_t)len;
	return IDN_OK;
}

/* Sends the requests of its[0..n) back to back. */
static int send_all(client_reader *r, struct item **its, size_t n)
{
	size_t total = 0, off = 0;
	for (size_t i = 0; i < n; i++)
		total += its[i]->len;
	uint8_t *all = calloc(1, total ? total : 1);
	if (!all)
		return IDN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(all + off, its[i]->req, its[i]->len);
		off += its[i]->len;
	}
	int ret = client_conn_send(r->cn, all, total);
	free(all);
	return ret;
}

/* The item an answer is for (by request id), or NULL. */
static struct item *item_of(struct item **its, size_t n, uint32_t rid)
{
	for (size_t i = 0; i < n; i++)
		if (its[i]->rid == rid && !its[i]->done)
			return its[i];
	return NULL;
}

/*
 * One round: its[0..n) sent, n answers read. A 402 (outside a session, or
 * before it is authenticated) is answered in the next round: its op 200
 * replaces the item's request. *again counts those.
 */
static int round_trip(client_reader *r, struct item **its, size_t n, client_reader_fn got,
                      void *arg, size_t *again)
{
	int ret = send_all(r, its, n);
	*again = 0;
	for (size_t k = 0; !ret && k < n; k++) {
		uint8_t *ans = NULL;
		size_t alen;
		proto_env env;
		proto_msg m;
		ret = client_conn_recv(r->cn, &ans, &alen);
		if (!ret && r->sess)
			ret = client_session_unwrap(r->sess, &ans, &alen, &env, &m);
		else if (!ret && (proto_env_decode(ans, alen, &env) ||
		                  proto_msg_decode(ans + PROTO_ENV_LEN, alen - PROTO_ENV_LEN, &m)))
			ret = IDN_EPROTO;
		struct item *it = ret ? NULL : item_of(its, n, env.request_id);
		if (!ret && !it)
			ret = IDN_EPROTO;
		if (!ret) {
			free(it->req);
			it->req = NULL;
			if (m.hdr.rcode == PROTO_RC_AUTHENTICATION_NEEDED) {
				ret = r->sess ? client_session_answer_challenge(r->sess, &env, &m,
				                                                &it->req, &it->len)
				              : client_admin_challenge_answer(r->id, &env, &m,
				                                              &it->req, &it->len);
				/* The final answer comes with the op 200's request id. */
				if (!ret && it->len >= PROTO_ENV_LEN)
					it->rid = idn_be32(it->req + 8);
				(*again)++;
			} else {
				it->done = true;
				ret = got(arg, it->name, &m, answer_body(&m));
			}
		}
		free(ans);
	}
	return ret;
}

/* Reads names[first .. first+n) as one window. */
static int read_window(client_reader *r, const char *const *names, size_t first, size_t n,
                       struct item *items, struct item **its, client_reader_fn got, void *arg)
{
	int ret = IDN_OK;
	for (size_t i = 0; i < n; i++) {
		items[i] = (struct item){.name = first + i};
		its[i] = &items[i];
		if (!ret)
			ret = read_request(r, names[first + i], &items[i]);
	}
	size_t again = 0;
	if (!ret)
		ret = round_trip(r, its, n, got, arg, &again);
	if (!ret && again) {
		/* The op 200s: each answered with the held read's final answer. */
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (!items[i].done && items[i].req)
				its[k++] = &items[i];
		size_t none;
		ret = round_trip(r, its, k, got, arg, &none);
		if (!ret && none)
			ret = IDN_EPROTO; /* challenged again: the node did not take our answer */
	}
	for (size_t i = 0; i < n; i++)
		free(items[i].req);
	return ret;
}

int client_reader_read(client_reader *r, const char *const *names, size_t n, client_reader_fn got,
                       void *arg, size_t *done, size_t *inflight_end)
{
	struct item *items = calloc(r->window, sizeof(*items));
	struct item **its = calloc(r->window, sizeof(*its));
	int ret = items && its ? IDN_OK : IDN_ENOMEM;
	size_t i = 0, w = 0;
	for (; !ret && i < n; i += w) {
		w = n - i < r->window ? n - i : r->window;
		ret = read_window(r, names, i, w, items, its, got, arg);
		if (ret)
			break;
	}
	*done = ret ? i : n;
	*inflight_end = ret ? i + w : n;
	free(items);
	free(its);
	return ret;
}
