/*
 * root.c - resolution from the root: find the site that holds a prefix by
 * resolving 0.NA/<prefix> at the root and following 303 prefix referrals and
 * HS_SERV values, then ask the right server of that site.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "client/client.h"
#include "client/io.h"
#include "proto/admin.h"
#include "proto/reserved.h"

enum { SITES_MAX = 8, SITE_BYTES_MAX = 8192, SEEN_MAX = 64, DEPTH_MAX = 64 };

/* Where the next question goes: one root address, or the sites of a record. */
typedef struct target {
	bool direct; /* the root address itself */
	unsigned nsites;
	uint8_t site[SITES_MAX][SITE_BYTES_MAX];
	size_t sitelen[SITES_MAX];
} target;

typedef struct walk {
	const client_addr *root;
	const client_root_opts *o;
	client_resolve_opts plain; /* o->base without filters: for prefix lookups */
	unsigned hops;
	uint64_t deadline;       /* client_now_ms() by which the walk ends; 0 = none */
	uint64_t seen[SEEN_MAX]; /* (server, question) fingerprints, to detect loops */
	unsigned nseen;
	char *err;
	size_t errlen;
} walk;

static bool type_is(idn_slice t, const char *name)
{
	size_t n = strlen(name);
	return t.len == n && strncasecmp((const char *)t.p, name, n) == 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* The address of a site's server for our transport. */
static int server_addr(const proto_server *srv, enum client_transport t, client_addr *a)
{
	wire_rd it = proto_server_ifaces(srv);
	proto_iface ifc;
	uint32_t port = 0;
	while (proto_server_next_iface(&it, &ifc) == 1) {
		if (ifc.type == PROTO_IF_ADMIN)
			continue;
		if ((t == CLIENT_UDP && ifc.proto == PROTO_IF_UDP) ||
		    (t == CLIENT_TCP && ifc.proto == PROTO_IF_TCP)) {
			port = ifc.port;
			break;
		}
	}
	if (!port || port > 65535)
		return IDN_ENOTFOUND;
	memset(a, 0, sizeof(*a));
	uint8_t v4[4];
	if (proto_addr_ipv4(srv->addr, v4)) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		memcpy(&in->sin_addr, v4, 4);
		a->len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		memcpy(&in6->sin6_addr, srv->addr, 16);
		a->len = sizeof(*in6);
	}
	return IDN_OK;
}

/* The server of a site responsible for handle (by the site's hash), for transport t. */
static int site_pick(const uint8_t *site, size_t len, idn_slice handle, enum client_transport t,
                     client_addr *a)
{
	proto_site s;
	if (proto_site_decode(idn_slice_of(site, len), &s) || s.nservers == 0)
		return IDN_EPROTO;
	int idx = s.nservers == 1 ? 0 : proto_site_server_index(handle, s.hash_opt, s.nservers);
	if (idx < 0)
		return idx;
	wire_rd it = proto_site_servers(&s);
	proto_server srv;
	for (int i = 0; proto_site_next_server(&it, &srv) == 1; i++)
		if (i == idx)
			return server_addr(&srv, t, a);
	return IDN_EPROTO;
}

/*
 * One question to a target: the site's right server over the configured
 * transport; on a timeout or truncation, TCP; then the next site.
 */
static int ask(walk *wk, const target *tg, idn_slice handle, const client_resolve_opts *base,
               uint8_t **ans, size_t *anslen, proto_env *env, proto_msg *msg)
{
	int last = IDN_ENOTFOUND;
	unsigned n = tg->direct ? 1 : tg->nsites;
	for (unsigned i = 0; i < n; i++) {
		enum client_transport ts[2] = {wk->o->base.transport, CLIENT_TCP};
		for (int k = 0; k < (wk->o->base.transport == CLIENT_UDP ? 2 : 1); k++) {
			client_addr a;
			int ret = tg->direct
			              ? (a = *wk->root, IDN_OK)
			              : site_pick(tg->site[i], tg->sitelen[i], handle, ts[k], &a);
			if (ret) {
				last = ret;
				continue;
			}
			/* Loops: the same question to the same server twice. */
			uint64_t fp =
			    fnv(fnv(14695981039346656037ull, &a.ss, a.len), handle.p, handle.len);
			bool again = false;
			for (unsigned j = 0; j < wk->nseen; j++)
				again |= wk->seen[j] == fp;
			if (k == 0 && again) {
				snprintf(wk->err, wk->errlen, "referral loop at %.*s",
				         (int)handle.len, (const char *)handle.p);
				return IDN_ERANGE;
			}
			if (k == 0 && wk->nseen < SEEN_MAX)
				wk->seen[wk->nseen++] = fp;
			client_resolve_opts ro = *base;
			ro.transport = ts[k];
			ro.recursion = (uint8_t)(wk->hops > 255 ? 255 : wk->hops);
			if (wk->deadline) {
				uint64_t now = client_now_ms();
				if (now >= wk->deadline) {
					snprintf(wk->err, wk->errlen,
					         "no answer within %u ms resolving %.*s",
					         wk->o->total_ms, (int)handle.len,
					         (const char *)handle.p);
					return IDN_ETIMEOUT;
				}
				uint64_t left = wk->deadline - now;
				unsigned per = ro.timeout_ms ? ro.timeout_ms : 3000;
				ro.timeout_ms = per < left ? per : (unsigned)left;
			}
			if (wk->o->may_ask &&
			    !wk->o->may_ask(wk->o->hook_arg, &a, ts[k], wk->err, wk->errlen)) {
				last = IDN_ETIMEOUT; /* held aside: as if it had not answered */
				continue;
			}
			ret = client_resolve(&a, handle, &ro, ans, anslen, env, msg);
			if (wk->o->asked)
				wk->o->asked(wk->o->hook_arg, &a, ts[k], ret);
			if (ret == IDN_OK) {
				if (wk->o->answered_by)
					*wk->o->answered_by = a;
				return IDN_OK;
			}
			last = ret;
			char as[64];
			client_addr_str(&a, as, sizeof(as));
			snprintf(wk->err, wk->errlen, "%s (%s): %s", as,
			         ts[k] == CLIENT_UDP ? "udp" : "tcp", idn_strerror(ret));
		}
	}
	return last;
}

/* Collects the site values of types st1/st2 (HS_SITE / HS_SITE.PREFIX) into tg. */
static void take_sites(target *tg, idn_slice values, uint32_t n, const char *type, idn_slice *serv,
                       const char *serv_type)
{
	memset(tg, 0, offsetof(target, site));
	proto_values_it it = proto_values_begin(values, n);
	proto_value v;
	while (proto_values_next(&it, &v) == 1) {
		if (type_is(v.type, type) && tg->nsites < SITES_MAX &&
		    v.data.len <= SITE_BYTES_MAX) {
			memcpy(tg->site[tg->nsites], v.data.p, v.data.len);
			tg->sitelen[tg->nsites++] = v.data.len;
		} else if (serv && type_is(v.type, serv_type) && serv->len == 0) {
			*serv = proto_serv_handle(v.data);
		}
	}
}

static int find_site(walk *wk, idn_slice prefix, target *out, int depth);

/* An answer's body after any request digest. */
static int answer_body(const proto_msg *m, idn_slice *body)
{
	uint8_t alg;
	idn_slice digest;
	return proto_answer_split(m->body, (m->hdr.flags & PROTO_F_RD) != 0, &alg, &digest, body);
}

/*
 * Asks tg about handle, following 303 prefix referrals (and their
 * HS_SERV.PREFIX handles) until an answer that is not a referral.
 */
static int ask_following(walk *wk, target *tg, idn_slice handle, const client_resolve_opts *base,
                         uint8_t **ans, size_t *anslen, proto_env *env, proto_msg *msg, int depth)
{
	for (;;) {
		if (++wk->hops > wk->o->max_hops) {
			snprintf(wk->err, wk->errlen, "more than %u referrals resolving %.*s",
			         wk->o->max_hops, (int)handle.len, (const char *)handle.p);
			return IDN_ERANGE;
		}
		int ret = ask(wk, tg, handle, base, ans, anslen, env, msg);
		if (ret)
			return ret;
		if (msg->hdr.rcode != PROTO_RC_PREFIX_REFERRAL)
			return IDN_OK;
		idn_slice body;
		proto_resolve_resp rr;
		if (answer_body(msg, &body) || proto_referral_decode(body, &rr)) {
			snprintf(wk->err, wk->errlen, "malformed referral");
			return IDN_EPROTO;
		}
		/* The sites are copied out of the answer, which is freed here. */
		idn_slice serv = {0};
		target *next = malloc(sizeof(*next));
		if (!next)
			return IDN_ENOMEM;
		take_sites(next, rr.values, rr.nvalues, "HS_SITE.PREFIX", &serv, "HS_SERV.PREFIX");
		uint8_t sh[PROTO_HANDLE_MAX];
		size_t shl = serv.len < sizeof(sh) ? serv.len : sizeof(sh);
		if (shl)
			memcpy(sh, serv.p, shl);
		free(*ans);
		*ans = NULL;
		if (next->nsites == 0 && shl)
			ret = find_site(wk, idn_slice_of(sh, shl), next, depth + 1);
		if (!ret && next->nsites == 0) {
			snprintf(wk->err, wk->errlen, "a referral without sites for %.*s",
			         (int)handle.len, (const char *)handle.p);
			ret = IDN_EPROTO;
		}
		if (!ret)
			memcpy(tg, next, sizeof(*tg));
		free(next);
		if (ret)
			return ret;
	}
}

/*
 * Asks the root (following referrals) for the record of na_handle, which
 * must be there (response 1): its values in *rr, borrowing *ans; offered
 * to the site cache. *tg is the walk's target (the caller frees it).
 */
static int ask_site(walk *wk, idn_slice na_handle, uint8_t **ans, size_t *anslen,
                    proto_resolve_resp *rr, int depth, target **tg)
{
	if (!(*tg = calloc(1, sizeof(**tg))))
		return IDN_ENOMEM;
	(*tg)->direct = true;
	proto_env env;
	proto_msg msg;
	int ret = ask_following(wk, *tg, na_handle, &wk->plain, ans, anslen, &env, &msg, depth);
	if (ret)
		return ret;
	if (msg.hdr.rcode != PROTO_RC_SUCCESS) {
		snprintf(wk->err, wk->errlen, "%.*s: %s", (int)na_handle.len,
		         (const char *)na_handle.p, proto_rc_name(msg.hdr.rcode));
		return IDN_ENOTFOUND;
	}
	idn_slice body;
	if (answer_body(&msg, &body) || proto_resolve_resp_decode(body, rr))
		return IDN_EPROTO;
	if (wk->o->site_put)
		wk->o->site_put(wk->o->hook_arg, na_handle, rr->values, rr->nvalues);
	return IDN_OK;
}

/*
 * The sites of a service handle (HS_SERV target) or of prefix handle
 * 0.NA/<prefix>: resolved from the root, following referrals and HS_SERV.
 */
static int find_site(walk *wk, idn_slice na_handle, target *out, int depth)
{
	/*
	 * Every level asks at least one question, so the hop limit (default 40)
	 * ends HS_SERV chains first; this guard only bounds the stack when a
	 * caller sets max_hops above DEPTH_MAX.
	 */
	if (depth > DEPTH_MAX) {
		snprintf(wk->err, wk->errlen, "HS_SERV chain deeper than %d at %.*s", DEPTH_MAX,
		         (int)na_handle.len, (const char *)na_handle.p);
		return IDN_ERANGE;
	}
	uint8_t *ans = NULL, *cached = NULL;
	size_t anslen, clen;
	uint32_t cn;
	target *tg = NULL;
	int ret = IDN_OK;
	proto_resolve_resp rr;
	if (wk->o->site_get &&
	    wk->o->site_get(wk->o->hook_arg, na_handle, &cached, &clen, &cn) == 1) {
		rr.values = idn_slice_of(cached, clen);
		rr.nvalues = cn;
	} else if ((ret = ask_site(wk, na_handle, &ans, &anslen, &rr, depth, &tg))) {
		goto out;
	}
	idn_slice serv = {0};
	take_sites(out, rr.values, rr.nvalues, "HS_SITE", &serv, "HS_SERV");
	if (out->nsites == 0 && serv.len) {
		uint8_t sh[PROTO_HANDLE_MAX];
		size_t shl = serv.len < sizeof(sh) ? serv.len : sizeof(sh);
		memcpy(sh, serv.p, shl);
		ret = find_site(wk, idn_slice_of(sh, shl), out, depth + 1);
		goto out;
	}
	if (out->nsites == 0) {
		snprintf(wk->err, wk->errlen, "%.*s names no site", (int)na_handle.len,
		         (const char *)na_handle.p);
		ret = IDN_ENOTFOUND;
	}
out:
	free(ans);
	free(cached);
	free(tg);
	return ret;
}

int client_resolve_root(const client_addr *root, idn_slice handle, const client_root_opts *o,
                        uint8_t **ans, size_t *anslen, proto_env *env, proto_msg *msg, char *err,
                        size_t errlen)
{
	client_root_opts opts = *o;
	if (opts.max_hops == 0)
		opts.max_hops = 40;
	walk wk = {.root = root, .o = &opts, .plain = o->base, .err = err, .errlen = errlen};
	if (opts.total_ms)
		wk.deadline = client_now_ms() + opts.total_ms;
	wk.plain.indexes = NULL;
	wk.plain.nindexes = 0;
	wk.plain.types = NULL;
	wk.plain.ntypes = 0;
	err[0] = 0;
	const uint8_t *slash = handle.len ? memchr(handle.p, '/', handle.len) : NULL;
	if (!slash) {
		snprintf(err, errlen, "'%.*s' is not PREFIX/SUFFIX", (int)handle.len,
		         (const char *)handle.p);
		return IDN_EINVAL;
	}
	size_t plen = (size_t)(slash - handle.p);
	target *tg = calloc(1, sizeof(*tg));
	if (!tg)
		return IDN_ENOMEM;
	int ret;
	if (plen == 4 && !strncasecmp((const char *)handle.p, "0.NA", 4)) {
		tg->direct = true; /* prefix handles live at the root and its referrals */
	} else {
		uint8_t na[PROTO_HANDLE_MAX + 8];
		if (plen + 5 > sizeof(na)) {
			ret = IDN_ERANGE;
			goto out;
		}
		memcpy(na, "0.NA/", 5);
		memcpy(na + 5, handle.p, plen);
		if ((ret = find_site(&wk, idn_slice_of(na, plen + 5), tg, 0)))
			goto out;
	}
	ret = ask_following(&wk, tg, handle, &opts.base, ans, anslen, env, msg, 0);
out:
	free(tg);
	return ret;
}
