/*
 * cmd_serve.c - `idnode serve`: runs a node from flags and/or an INI file.
 *
 * Settings come from the file first (-c FILE), then the flags: a flag
 * overrides the file's setting, and a repeatable flag (--listen, --home)
 * given at least once replaces the file's list.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "api/api.h"
#include "auth/sign.h"
#include "client/identity_lookup.h"
#include "net/net.h"
#include "proto/handle.h"
#include "node/node.h"
#include "node/site.h"
#include "repl/mirror.h"
#include "resolver/resolver.h"
#include "store/store.h"

enum { MAX_LIST = 64 };

typedef struct serve_cfg {
	char *data;
	char *listen[MAX_LIST];
	unsigned nlisten;
	char *home[MAX_LIST];
	unsigned nhome;
	unsigned threads;
	int case_sensitive;
	unsigned site_serial;
	unsigned max_tcp_conns;
	unsigned tcp_idle_ms;
	unsigned long map_size_mb;
	char *http[MAX_LIST]; /* HTTP listeners (REST API, proxy, Handle over HTTP) */
	unsigned nhttp;
	char *https[MAX_LIST]; /* HTTPS listeners: the same, over TLS */
	unsigned nhttps;
	char *tls_cert, *tls_key; /* PEM files for the HTTPS listeners */
	char *access_log;         /* "-" = stderr */
	unsigned http_max_conns, http_idle_ms, http_timeout_ms;
	unsigned long http_max_body;
	/* Our site (GET_SITE_INFO, the multi-server split): see node/site.h. */
	unsigned server_id;
	char *site_server[MAX_LIST]; /* "ID@ADDR:PORT": a multi-server site's servers */
	unsigned nsite_server;
	int site_hash;
	char *site_desc;
	char *advertise;
	char *server_admin[MAX_LIST]; /* "INDEX:HANDLE" node-wide administrators */
	unsigned nserver_admin;
	unsigned max_auth_time;       /* seconds a challenged admin request is held, 0 = 60 */
	unsigned identity_timeout_ms; /* checking an identity held elsewhere, 0 = 2000 */
	/* The recursive role (resolver/resolver.h); -1 / 0 = unset in flags. */
	int recursive, recursive_all;
	int no_group_commit; /* 1: every write commits (and fsyncs) on its own */
	char *root;
	unsigned long cache_mb;
	unsigned neg_ttl, stale_ttl, resolver_threads;
	/* A mirror (repl/mirror.h): the primary, and who we are to it. */
	char *mirror_of, *mirror_id, *mirror_key, *mirror_secret_file;
	char *server_key; /* PEM private key: signs CT answers, published in our HS_SITE */
	unsigned mirror_page_bytes; /* 0 = the default (192 KiB) */
	unsigned mirror_lag_log;    /* seconds between lag lines, 0 = the default (5) */
	/* Transaction log bounds (store.h); 0 = the defaults (64 MiB, 7 days). */
	unsigned long log_max_bytes, log_max_age;
	char *store_read; /* reads from this PostgreSQL URI (a replica); NULL = the store's */
} serve_cfg;

static void serve_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: idnode serve --data DIR [--listen ADDR:PORT]... [--home PREFIX]... [--threads "
	    "N]\n"
	    "       idnode serve -c FILE [flags that override the file]\n"
	    "  -d, --data DIR          the data directory (created if missing)\n"
	    "      --store URI         a PostgreSQL store instead of --data:\n"
	    "                          postgresql://USER@HOST:PORT/DB (a libpq URI)\n"
	    "      --store-read URI    read transactions go to this PostgreSQL URI (a\n"
	    "                          streaming replica), writes to --store (setting:\n"
	    "                          store_read)\n"
	    "  -l, --listen ADDR:PORT  UDP and TCP on this address; repeatable\n"
	    "                          (default :2641, every address, IPv4 and IPv6)\n"
	    "  -H, --home PREFIX       answer for this prefix (e.g. 88.100.1); repeatable\n"
	    "  -t, --threads N         worker threads (default: one per CPU)\n"
	    "      --case-insensitive  suffixes are case-insensitive (as the reference's\n"
	    "                          case_sensitive = no); must match how data was loaded\n"
	    "      --site-serial N     the serial of this site's HS_SITE (default 1)\n"
	    "      --max-tcp-conns N   open TCP connections at most (default 4096)\n"
	    "      --tcp-idle-ms N     close idle TCP connections after N ms (default 30000)\n"
	    "      --http ADDR:PORT    serve HTTP here (REST API, proxy, Handle over HTTP);\n"
	    "                          repeatable (settings: http, access_log)\n"
	    "      --https ADDR:PORT   the same over TLS (repeatable; setting: https)\n"
	    "      --tls-cert FILE     PEM certificate chain for --https (setting: tls_cert)\n"
	    "      --tls-key FILE      PEM private key for --https (setting: tls_key)\n"
	    "      --access-log FILE   one line per HTTP request ('-' = stderr)\n"
	    "      --http-max-conns N  open HTTP connections at most (default 4096)\n"
	    "      --http-max-body N   request body limit in bytes (default 8 MiB)\n"
	    "      --http-idle-ms N    close idle keep-alive connections (default 30000)\n"
	    "      --http-timeout-ms N headers must arrive within N ms, a body within 3N\n"
	    "                          (default 10000; slow clients get 408)\n"
	    "      --server-id N       our server id in our site (default 1)\n"
	    "      --site-server ID@ADDR:PORT  a server of a multi-server site (repeatable;\n"
	    "                          default: this server alone, at its first --listen)\n"
	    "      --site-hash prefix|suffix|all  how the site splits identifiers\n"
	    "      --site-desc TEXT    the site's desc attribute\n"
	    "      --advertise ADDR    the address our site names for a wildcard --listen\n"
	    "      --server-key FILE   the node's PEM private key (idnode keygen): signs\n"
	    "                          answers to CT requests (session setups need it) and\n"
	    "                          its public half goes into our HS_SITE (server_key)\n"
	    "      --server-admin INDEX:HANDLE  a node-wide administrator (repeatable), e.g.\n"
	    "                          300:0.NA/88.1000; may home, unhome and change anything\n"
	    "      --max-auth-time S   seconds a challenged admin request waits (default 60)\n"
	    "      --recursive         also a recursive node: requests with REC set for\n"
	    "                          prefixes not homed here are resolved from --root\n"
	    "                          and cached (--data optional: without it, every\n"
	    "                          resolution is recursive)\n"
	    "      --root HOST:PORT    the root site a recursive node resolves from; also\n"
	    "                          where admin identities not in our store are found\n"
	    "      --identity-timeout-ms N  time to check such an identity (resolve its\n"
	    "                          HS_PUBKEY, or op 201 for HS_SECKEY; default 2000;\n"
	    "                          setting: identity_timeout_ms)\n"
	    "      --recursive-all     resolve every request recursively, REC or not\n"
	    "      --no-group-commit   commit every write on its own instead of the writes\n"
	    "                          of a worker turn together (setting: group_commit)\n"
	    "      --cache-mb N        answer cache budget in MiB (default 64)\n"
	    "      --neg-ttl S         seconds not-found answers are cached (default 60)\n"
	    "      --stale-ttl S       seconds an expired answer may be served while every\n"
	    "                          upstream fails (default 300)\n"
	    "      --resolver-threads N  threads resolving cache misses (default 4)\n"
	    "                          (settings: recursive, root, recursive_all, cache_mb,\n"
	    "                          neg_ttl, stale_ttl, resolver_threads; SIGUSR1 logs\n"
	    "                          the cache statistics)\n"
	    "      --mirror-of HOST:PORT  be a mirror of that primary: copy its store over\n"
	    "                          TCP, follow its log, refuse writes (settings:\n"
	    "                          mirror_of, mirror_id, mirror_key, mirror_secret_file)\n"
	    "      --id INDEX:HANDLE   the mirror's identity, a --server-admin of the primary\n"
	    "      --key FILE          its PEM private key (or --secret-file FILE)\n"
	    "      --mirror-page-bytes N  answer size a mirror asks for (1024..196608;\n"
	    "                          default 196608; setting: mirror_page_bytes)\n"
	    "      --mirror-lag-log S  seconds between the mirror's lag lines (default 5;\n"
	    "                          setting: mirror_lag_log)\n"
	    "      --log-max-bytes N   transaction log kept for mirrors, at most N bytes\n"
	    "                          (default 64 MiB; setting: log_max_bytes)\n"
	    "      --log-max-age S     ... and at most S seconds old (default 7 days;\n"
	    "                          setting: log_max_age)\n"
	    "  -c, --config FILE       INI file with the same settings: data, listen, home,\n"
	    "                          threads, case_sensitive, site_serial, max_tcp_conns,\n"
	    "                          tcp_idle_ms, map_size_mb (in a [server] section or none)\n"
	    "Stops cleanly on SIGTERM or SIGINT.\n");
}

/* Parses an unsigned setting; prints file:line or flag context on error. */
static int parse_uint(const char *where, const char *name, const char *v, unsigned long max,
                      unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (!*v || *end || errno || x > max || v[0] == '-') {
		fprintf(stderr, "idnode serve: %s: %s: '%s' is not a number 0..%lu\n", where, name,
		        v, max);
		return -1;
	}
	*out = x;
	return 0;
}

static int parse_bool(const char *where, const char *name, const char *v, int *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
	         !strcasecmp(v, "off"))
		*out = 0;
	else {
		fprintf(stderr, "idnode serve: %s: %s: '%s' is not yes/no\n", where, name, v);
		return -1;
	}
	return 0;
}

static int list_add(char **list, unsigned *n, const char *where, const char *name, const char *v)
{
	if (*n == MAX_LIST) {
		fprintf(stderr, "idnode serve: %s: at most %d %s settings\n", where, MAX_LIST,
		        name);
		return -1;
	}
	list[(*n)++] = strdup(v);
	return 0;
}

/* Applies one setting, from the file or a flag. */
static int apply(serve_cfg *c, const char *where, const char *name, const char *v)
{
	unsigned long x;
	if (!strcmp(name, "data") || !strcmp(name, "store")) {
		free(c->data);
		c->data = strdup(v);
	} else if (!strcmp(name, "store_read")) {
		free(c->store_read);
		c->store_read = strdup(v);
	} else if (!strcmp(name, "listen")) {
		return list_add(c->listen, &c->nlisten, where, name, v);
	} else if (!strcmp(name, "home")) {
		return list_add(c->home, &c->nhome, where, name, v);
	} else if (!strcmp(name, "http")) {
		return list_add(c->http, &c->nhttp, where, name, v);
	} else if (!strcmp(name, "https")) {
		return list_add(c->https, &c->nhttps, where, name, v);
	} else if (!strcmp(name, "tls_cert")) {
		free(c->tls_cert);
		c->tls_cert = strdup(v);
	} else if (!strcmp(name, "tls_key")) {
		free(c->tls_key);
		c->tls_key = strdup(v);
	} else if (!strcmp(name, "access_log")) {
		free(c->access_log);
		c->access_log = strdup(v);
	} else if (!strcmp(name, "http_max_conns")) {
		if (parse_uint(where, name, v, 1000000, &x))
			return -1;
		c->http_max_conns = (unsigned)x;
	} else if (!strcmp(name, "http_idle_ms")) {
		if (parse_uint(where, name, v, 86400000, &x))
			return -1;
		c->http_idle_ms = (unsigned)x;
	} else if (!strcmp(name, "http_timeout_ms")) {
		if (parse_uint(where, name, v, 86400000, &x))
			return -1;
		c->http_timeout_ms = (unsigned)x;
	} else if (!strcmp(name, "http_max_body")) {
		if (parse_uint(where, name, v, 1ul << 31, &x))
			return -1;
		c->http_max_body = x;
	} else if (!strcmp(name, "threads")) {
		if (parse_uint(where, name, v, 1024, &x))
			return -1;
		c->threads = (unsigned)x;
	} else if (!strcmp(name, "case_sensitive")) {
		return parse_bool(where, name, v, &c->case_sensitive);
	} else if (!strcmp(name, "site_serial")) {
		if (parse_uint(where, name, v, 0xFFFF, &x))
			return -1;
		c->site_serial = (unsigned)x;
	} else if (!strcmp(name, "max_tcp_conns")) {
		if (parse_uint(where, name, v, 1000000, &x))
			return -1;
		c->max_tcp_conns = (unsigned)x;
	} else if (!strcmp(name, "tcp_idle_ms")) {
		if (parse_uint(where, name, v, 86400000, &x))
			return -1;
		c->tcp_idle_ms = (unsigned)x;
	} else if (!strcmp(name, "server_id")) {
		if (parse_uint(where, name, v, 0xFFFFFFFFul, &x))
			return -1;
		c->server_id = (unsigned)x;
	} else if (!strcmp(name, "server_admin") || !strcmp(name, "server_admins")) {
		return list_add(c->server_admin, &c->nserver_admin, where, name, v);
	} else if (!strcmp(name, "max_auth_time")) {
		if (parse_uint(where, name, v, 86400, &x))
			return -1;
		c->max_auth_time = (unsigned)x;
	} else if (!strcmp(name, "identity_timeout_ms")) {
		if (parse_uint(where, name, v, 60000, &x))
			return -1;
		c->identity_timeout_ms = (unsigned)x;
	} else if (!strcmp(name, "site_server")) {
		return list_add(c->site_server, &c->nsite_server, where, name, v);
	} else if (!strcmp(name, "site_hash")) {
		if ((c->site_hash = site_hash_parse(v)) < 0) {
			fprintf(stderr,
			        "idnode serve: %s: site_hash: '%s' is not prefix, suffix or all\n",
			        where, v);
			return -1;
		}
	} else if (!strcmp(name, "site_desc")) {
		free(c->site_desc);
		c->site_desc = strdup(v);
	} else if (!strcmp(name, "advertise")) {
		free(c->advertise);
		c->advertise = strdup(v);
	} else if (!strcmp(name, "recursive")) {
		return parse_bool(where, name, v, &c->recursive);
	} else if (!strcmp(name, "recursive_all")) {
		return parse_bool(where, name, v, &c->recursive_all);
	} else if (!strcmp(name, "server_key")) {
		free(c->server_key);
		c->server_key = strdup(v);
	} else if (!strcmp(name, "group_commit")) {
		int on;
		if (parse_bool(where, name, v, &on))
			return -1;
		c->no_group_commit = !on;
	} else if (!strcmp(name, "root")) {
		free(c->root);
		c->root = strdup(v);
	} else if (!strcmp(name, "cache_mb")) {
		if (parse_uint(where, name, v, 1ul << 20, &x))
			return -1;
		c->cache_mb = x;
	} else if (!strcmp(name, "neg_ttl") || !strcmp(name, "stale_ttl")) {
		if (parse_uint(where, name, v, 86400 * 7, &x))
			return -1;
		*(name[0] == 'n' ? &c->neg_ttl : &c->stale_ttl) = (unsigned)x;
	} else if (!strcmp(name, "resolver_threads")) {
		if (parse_uint(where, name, v, 256, &x))
			return -1;
		c->resolver_threads = (unsigned)x;
	} else if (!strcmp(name, "mirror_of") || !strcmp(name, "mirror_id") ||
	           !strcmp(name, "mirror_key") || !strcmp(name, "mirror_secret_file")) {
		char **dst = name[7] == 'o'   ? &c->mirror_of
		             : name[7] == 'i' ? &c->mirror_id
		             : name[7] == 'k' ? &c->mirror_key
		                              : &c->mirror_secret_file;
		free(*dst);
		*dst = strdup(v);
	} else if (!strcmp(name, "log_max_bytes") || !strcmp(name, "log_max_age")) {
		if (parse_uint(where, name, v, 1ul << 40, &x))
			return -1;
		*(name[8] == 'b' ? &c->log_max_bytes : &c->log_max_age) = x;
	} else if (!strcmp(name, "mirror_page_bytes")) {
		if (parse_uint(where, name, v, 196608, &x))
			return -1;
		c->mirror_page_bytes = (unsigned)x;
	} else if (!strcmp(name, "mirror_lag_log")) {
		if (parse_uint(where, name, v, 86400, &x))
			return -1;
		c->mirror_lag_log = (unsigned)x;
	} else if (!strcmp(name, "map_size_mb")) {
		if (parse_uint(where, name, v, 1ul << 30, &x))
			return -1;
		c->map_size_mb = x;
	} else {
		fprintf(stderr, "idnode serve: %s: unknown setting '%s'\n", where, name);
		return -1;
	}
	return 0;
}

struct ini_ctx {
	serve_cfg *cfg;
	const char *path;
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ic = user;
	if (section[0] && strcmp(section, "server")) {
		fprintf(stderr, "idnode serve: %s: unknown section [%s]\n", ic->path, section);
		return 0;
	}
	return apply(ic->cfg, ic->path, name, value) == 0;
}

static int load_file(serve_cfg *c, const char *path)
{
	struct ini_ctx ic = {c, path};
	int line = ini_parse(path, on_ini_line, &ic);
	if (line == -1) {
		fprintf(stderr, "idnode serve: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (line != 0) {
		fprintf(stderr, "idnode serve: %s:%d: invalid setting (see above)\n", path, line);
		return -1;
	}
	return 0;
}

static void free_cfg(serve_cfg *c)
{
	free(c->data);
	for (unsigned i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	for (unsigned i = 0; i < c->nhome; i++)
		free(c->home[i]);
	for (unsigned i = 0; i < c->nhttp; i++)
		free(c->http[i]);
	for (unsigned i = 0; i < c->nhttps; i++)
		free(c->https[i]);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->access_log);
	for (unsigned i = 0; i < c->nsite_server; i++)
		free(c->site_server[i]);
	free(c->site_desc);
	free(c->advertise);
	free(c->root);
	for (unsigned i = 0; i < c->nserver_admin; i++)
		free(c->server_admin[i]);
	free(c->mirror_of);
	free(c->mirror_id);
	free(c->mirror_key);
	free(c->mirror_secret_file);
	free(c->server_key);
	free(c->store_read);
}

/* Our HS_SITE from the settings (pubkey: our key's, may be empty); its length, or -1 after saying
 * why. */
static int build_site(const serve_cfg *c, idn_slice pubkey, uint8_t *out, size_t cap)
{
	site_server srv[MAX_LIST];
	unsigned n = 0;
	for (unsigned i = 0; i < c->nsite_server; i++) {
		char *at = strchr(c->site_server[i], '@');
		char *end;
		unsigned long id = at ? strtoul(c->site_server[i], &end, 10) : 0;
		if (!at || end != at || id > 0xFFFFFFFFul) {
			fprintf(stderr, "idnode serve: site_server '%s': not ID@ADDR:PORT\n",
			        c->site_server[i]);
			return -1;
		}
		srv[n++] = (site_server){(uint32_t)id, at + 1};
	}
	if (n == 0)
		srv[n++] = (site_server){c->server_id, c->listen[0]};
	site_spec spec = {
	    .servers = srv,
	    .nservers = n,
	    .serial = (uint16_t)c->site_serial,
	    .hash_opt = (uint8_t)(c->site_hash < 0 ? 0 : c->site_hash),
	    .advertise_addr = c->advertise,
	    .desc = c->site_desc,
	    .pubkey = pubkey,
	};
	char err[256];
	int len = site_build(&spec, out, cap, err, sizeof(err));
	if (len < 0)
		fprintf(stderr, "idnode serve: our site: %s\n", err);
	return len;
}

/* Homes the configured prefixes in the store. */
static int home_prefixes(store *s, const serve_cfg *c)
{
	if (c->nhome == 0)
		return 0;
	store_txn *t;
	int ret = store_txn_begin(s, 0, &t);
	if (ret)
		goto fail;
	for (unsigned i = 0; i < c->nhome; i++) {
		idn_slice p = idn_slice_of(c->home[i], strlen(c->home[i]));
		idn_slice na;
		if (handle_na_prefix(p, &na) == IDN_OK) /* "0.NA/88.100" means "88.100" */
			p = na;
		uint8_t norm[HANDLE_KEY_MAX];
		int n = handle_prefix_norm(p, norm, sizeof(norm));
		if (n <= 0 || memchr(p.p, '/', p.len)) {
			fprintf(stderr, "idnode serve: --home '%s': not a prefix\n", c->home[i]);
			store_txn_abort(t);
			return -1;
		}
		if ((ret = store_home(t, idn_slice_of(norm, (size_t)n)))) {
			store_txn_abort(t);
			goto fail;
		}
	}
	if ((ret = store_txn_commit(t)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "idnode serve: %s: homing prefixes: %s\n", c->data, idn_strerror(ret));
	return -1;
}

/* ---- the glue between net and node ---- */

/*
 * The recursive role, when on: set before net_start, read-only while serving.
 * A recursive node without a store has no node workers: its workers' context
 * is the address of no_node and every request goes to the resolver.
 */
static resolver *g_resolver;
static char no_node;
static bool g_group_commit = true; /* set before net_start */

static void *worker_init(void *arg, unsigned idx)
{
	(void)idx;
	node_worker *w;
	if (!arg)
		return &no_node;
	if (node_worker_new(arg, &w))
		return NULL;
	node_worker_group(w, g_group_commit); /* the net workers hold answers until commit */
	return w;
}

static void worker_fini(void *wctx)
{
	if (wctx != &no_node)
		node_worker_free(wctx);
}

static void batch_begin(void *wctx)
{
	if (wctx != &no_node)
		node_worker_begin(wctx);
}

static void batch_end(void *wctx)
{
	if (wctx != &no_node)
		node_worker_end(wctx);
}

static bool pending(void *wctx)
{
	return wctx != &no_node && node_worker_pending(wctx);
}

static int commit(void *wctx)
{
	int rc = node_worker_commit(wctx);
	if (rc < 0)
		fprintf(stderr,
		        "idnode: storage commit failed (%s): answers to its writes dropped\n",
		        idn_strerror(rc));
	return rc;
}

/* A TCP miss of the resolver is answered later, from its pool (net_defer). */
static void *defer_req(void *req)
{
	return net_defer(req);
}

static void answer_later(void *later, const uint8_t *ans, size_t len)
{
	net_answer(later, ans, len);
}

static int handle(void *wctx, const net_req *req, uint8_t *out, size_t cap)
{
	if (g_resolver && (wctx == &no_node || resolver_wants(g_resolver, req->msg, req->len))) {
		if (wctx != &no_node) {
			/*
			 * Our own identifiers are answered as their authority; only
			 * what is not homed here (301, 303) is resolved from the root.
			 */
			int n = node_answer(wctx, req->transport == NET_UDP ? NODE_UDP : NODE_TCP,
			                    req->msg, req->len, out, cap);
			if (n >= PROTO_ENV_LEN + PROTO_HDR_LEN) {
				uint32_t rc = idn_be32(out + PROTO_ENV_LEN + 4);
				if (rc != PROTO_RC_SERVER_NOT_RESP &&
				    rc != PROTO_RC_PREFIX_REFERRAL)
					return n;
			}
		}
		resolver_req rq = {
		    .udp = req->transport == NET_UDP,
		    .udp_fd = req->udp_fd,
		    .peer = req->peer,
		    .peer_len = req->peer_len,
		    .msg = req->msg,
		    .len = req->len,
		    .defer = defer_req,
		    .defer_arg = (void *)req,
		    .answer = answer_later,
		};
		return resolver_answer(g_resolver, &rq, out, cap);
	}
	return node_answer_deferrable(wctx, req->transport == NET_UDP ? NODE_UDP : NODE_TCP,
	                              req->msg, req->len, out, cap,
	                              &(node_later){defer_req, (void *)req, answer_later});
}

/*
 * SIGUSR1 logs the cache statistics. The signal is blocked in every thread
 * (set before net_start, inherited) and taken here with sigwait, so the
 * printing runs in a normal thread, not in a handler.
 */
static volatile sig_atomic_t stats_stop;

static void *stats_main(void *arg)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) || stats_stop)
			break;
		char line[512];
		resolver_stats_line(arg, line, sizeof(line));
		fprintf(stderr, "idnode: %s\n", line);
	}
	return NULL;
}

/* A string setting given as a flag replaces the file's; the flag's copy moves over. */
static void take_str(char **file, char **flag)
{
	if (!*flag)
		return;
	free(*file);
	*file = *flag;
	*flag = NULL;
}

/* Likewise a list setting: the flag's entries replace the file's. */
static void take_list(char **file, unsigned *nfile, char **flag, unsigned *nflag)
{
	if (!*nflag)
		return;
	for (unsigned i = 0; i < *nfile; i++)
		free(file[i]);
	memcpy(file, flag, (size_t)*nflag * sizeof(*flag));
	*nfile = *nflag;
	*nflag = 0;
}

int cmd_serve(int argc, char **argv)
{
	enum {
		O_CASE = 256,
		O_SERIAL,
		O_MAXCONN,
		O_IDLE,
		O_SID,
		O_SSRV,
		O_SHASH,
		O_SDESC,
		O_ADV,
		O_HTTP,
		O_ALOG,
		O_HCONN,
		O_HBODY,
		O_HIDLE,
		O_HTIME,
		O_HTTPS,
		O_TLSCERT,
		O_TLSKEY,
		O_SADM,
		O_AUTHT,
		O_REC,
		O_ROOT,
		O_RECALL,
		O_CACHEMB,
		O_NEGTTL,
		O_STALETTL,
		O_RTHREADS,
		O_MIRROR,
		O_MID,
		O_MKEY,
		O_MSECRET,
		O_MPAGE,
		O_LOGBYTES,
		O_LOGAGE,
		O_NOGROUP,
		O_SKEY,
		O_IDTIME,
		O_STOREREAD,
		O_MLAGLOG
	};
	static const struct option longopts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"store", required_argument, NULL, 'S'},
	    {"listen", required_argument, NULL, 'l'},
	    {"home", required_argument, NULL, 'H'},
	    {"threads", required_argument, NULL, 't'},
	    {"config", required_argument, NULL, 'c'},
	    {"case-insensitive", no_argument, NULL, O_CASE},
	    {"site-serial", required_argument, NULL, O_SERIAL},
	    {"max-tcp-conns", required_argument, NULL, O_MAXCONN},
	    {"tcp-idle-ms", required_argument, NULL, O_IDLE},
	    {"http", required_argument, NULL, O_HTTP},
	    {"access-log", required_argument, NULL, O_ALOG},
	    {"http-max-conns", required_argument, NULL, O_HCONN},
	    {"http-max-body", required_argument, NULL, O_HBODY},
	    {"http-idle-ms", required_argument, NULL, O_HIDLE},
	    {"http-timeout-ms", required_argument, NULL, O_HTIME},
	    {"https", required_argument, NULL, O_HTTPS},
	    {"tls-cert", required_argument, NULL, O_TLSCERT},
	    {"tls-key", required_argument, NULL, O_TLSKEY},
	    {"server-id", required_argument, NULL, O_SID},
	    {"site-server", required_argument, NULL, O_SSRV},
	    {"site-hash", required_argument, NULL, O_SHASH},
	    {"site-desc", required_argument, NULL, O_SDESC},
	    {"advertise", required_argument, NULL, O_ADV},
	    {"server-admin", required_argument, NULL, O_SADM},
	    {"max-auth-time", required_argument, NULL, O_AUTHT},
	    {"recursive", no_argument, NULL, O_REC},
	    {"root", required_argument, NULL, O_ROOT},
	    {"recursive-all", no_argument, NULL, O_RECALL},
	    {"no-group-commit", no_argument, NULL, O_NOGROUP},
	    {"server-key", required_argument, NULL, O_SKEY},
	    {"cache-mb", required_argument, NULL, O_CACHEMB},
	    {"neg-ttl", required_argument, NULL, O_NEGTTL},
	    {"stale-ttl", required_argument, NULL, O_STALETTL},
	    {"resolver-threads", required_argument, NULL, O_RTHREADS},
	    {"mirror-of", required_argument, NULL, O_MIRROR},
	    {"id", required_argument, NULL, O_MID},
	    {"key", required_argument, NULL, O_MKEY},
	    {"secret-file", required_argument, NULL, O_MSECRET},
	    {"mirror-page-bytes", required_argument, NULL, O_MPAGE},
	    {"log-max-bytes", required_argument, NULL, O_LOGBYTES},
	    {"log-max-age", required_argument, NULL, O_LOGAGE},
	    {"identity-timeout-ms", required_argument, NULL, O_IDTIME},
	    {"store-read", required_argument, NULL, O_STOREREAD},
	    {"mirror-lag-log", required_argument, NULL, O_MLAGLOG},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	serve_cfg file = {.case_sensitive = 1, .site_serial = 1, .server_id = 1, .site_hash = -1},
	          flags = {.case_sensitive = -1, .site_hash = -1};
	const char *config = NULL;
	int opt, status = CLI_USAGE;
	flags.site_serial = flags.max_tcp_conns = flags.tcp_idle_ms = flags.threads = ~0u;
	flags.server_id = ~0u;

	/* Flags are collected apart so that they override the file. */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:l:H:t:c:h", longopts, NULL)) != -1) {
		int r = 0;
		switch (opt) {
		case 'd':
			r = apply(&flags, "--data", "data", optarg);
			break;
		case 'S': /* a PostgreSQL URI; store_open() picks the backend */
			r = apply(&flags, "--store", "data", optarg);
			break;
		case O_STOREREAD:
			r = apply(&flags, "--store-read", "store_read", optarg);
			break;
		case O_MLAGLOG:
			r = apply(&flags, "--mirror-lag-log", "mirror_lag_log", optarg);
			break;
		case 'l':
			r = apply(&flags, "--listen", "listen", optarg);
			break;
		case 'H':
			r = apply(&flags, "--home", "home", optarg);
			break;
		case 't':
			r = apply(&flags, "--threads", "threads", optarg);
			break;
		case 'c':
			config = optarg;
			break;
		case O_CASE:
			flags.case_sensitive = 0;
			break;
		case O_SERIAL:
			r = apply(&flags, "--site-serial", "site_serial", optarg);
			break;
		case O_MAXCONN:
			r = apply(&flags, "--max-tcp-conns", "max_tcp_conns", optarg);
			break;
		case O_IDLE:
			r = apply(&flags, "--tcp-idle-ms", "tcp_idle_ms", optarg);
			break;
		case O_HTTP:
			r = apply(&flags, "--http", "http", optarg);
			break;
		case O_ALOG:
			r = apply(&flags, "--access-log", "access_log", optarg);
			break;
		case O_HCONN:
			r = apply(&flags, "--http-max-conns", "http_max_conns", optarg);
			break;
		case O_HBODY:
			r = apply(&flags, "--http-max-body", "http_max_body", optarg);
			break;
		case O_HIDLE:
			r = apply(&flags, "--http-idle-ms", "http_idle_ms", optarg);
			break;
		case O_HTIME:
			r = apply(&flags, "--http-timeout-ms", "http_timeout_ms", optarg);
			break;
		case O_HTTPS:
			r = apply(&flags, "--https", "https", optarg);
			break;
		case O_TLSCERT:
			r = apply(&flags, "--tls-cert", "tls_cert", optarg);
			break;
		case O_TLSKEY:
			r = apply(&flags, "--tls-key", "tls_key", optarg);
			break;
		case O_SID:
			r = apply(&flags, "--server-id", "server_id", optarg);
			break;
		case O_SSRV:
			r = apply(&flags, "--site-server", "site_server", optarg);
			break;
		case O_SHASH:
			r = apply(&flags, "--site-hash", "site_hash", optarg);
			break;
		case O_SDESC:
			r = apply(&flags, "--site-desc", "site_desc", optarg);
			break;
		case O_ADV:
			r = apply(&flags, "--advertise", "advertise", optarg);
			break;
		case O_SADM:
			r = apply(&flags, "--server-admin", "server_admin", optarg);
			break;
		case O_AUTHT:
			r = apply(&flags, "--max-auth-time", "max_auth_time", optarg);
			break;
		case O_REC:
			flags.recursive = 1;
			break;
		case O_RECALL:
			flags.recursive_all = 1;
			break;
		case O_NOGROUP:
			flags.no_group_commit = 1;
			break;
		case O_SKEY:
			r = apply(&flags, "--server-key", "server_key", optarg);
			break;
		case O_ROOT:
			r = apply(&flags, "--root", "root", optarg);
			break;
		case O_CACHEMB:
			r = apply(&flags, "--cache-mb", "cache_mb", optarg);
			break;
		case O_NEGTTL:
			r = apply(&flags, "--neg-ttl", "neg_ttl", optarg);
			break;
		case O_STALETTL:
			r = apply(&flags, "--stale-ttl", "stale_ttl", optarg);
			break;
		case O_RTHREADS:
			r = apply(&flags, "--resolver-threads", "resolver_threads", optarg);
			break;
		case O_MIRROR:
			r = apply(&flags, "--mirror-of", "mirror_of", optarg);
			break;
		case O_MID:
			r = apply(&flags, "--id", "mirror_id", optarg);
			break;
		case O_MKEY:
			r = apply(&flags, "--key", "mirror_key", optarg);
			break;
		case O_MSECRET:
			r = apply(&flags, "--secret-file", "mirror_secret_file", optarg);
			break;
		case O_MPAGE:
			r = apply(&flags, "--mirror-page-bytes", "mirror_page_bytes", optarg);
			break;
		case O_LOGBYTES:
			r = apply(&flags, "--log-max-bytes", "log_max_bytes", optarg);
			break;
		case O_LOGAGE:
			r = apply(&flags, "--log-max-age", "log_max_age", optarg);
			break;
		case O_IDTIME:
			r = apply(&flags, "--identity-timeout-ms", "identity_timeout_ms", optarg);
			break;
		case 'h':
			serve_usage(stdout);
			status = CLI_OK;
			goto out;
		default:
			serve_usage(stderr);
			goto out;
		}
		if (r)
			goto out;
	}
	if (optind != argc) {
		fprintf(stderr, "idnode serve: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if (config && load_file(&file, config))
		goto out;

	/* Merge: a flag given replaces the file's setting (see take_str, TAKE_*). */
	serve_cfg *c = &file;
#define TAKE_STR(f)  take_str(&c->f, &flags.f)
#define TAKE_LIST(f) take_list(c->f, &c->n##f, flags.f, &flags.n##f)
#define TAKE_NZ(f)   (c->f = flags.f ? flags.f : c->f)        /* 0: not given */
#define TAKE_SET(f)  (c->f = flags.f != ~0u ? flags.f : c->f) /* ~0u: not given */
#define TAKE_POS(f)  (c->f = flags.f >= 0 ? flags.f : c->f)   /* -1: not given */
	TAKE_STR(data);
	TAKE_LIST(listen);
	TAKE_LIST(home);
	TAKE_LIST(http);
	TAKE_LIST(https);
	TAKE_STR(tls_cert);
	TAKE_STR(tls_key);
	TAKE_STR(access_log);
	TAKE_NZ(http_max_conns);
	TAKE_NZ(http_max_body);
	TAKE_NZ(http_idle_ms);
	TAKE_NZ(http_timeout_ms);
	TAKE_SET(threads);
	TAKE_POS(case_sensitive);
	TAKE_SET(site_serial);
	TAKE_SET(max_tcp_conns);
	TAKE_SET(tcp_idle_ms);
	TAKE_SET(server_id);
	TAKE_LIST(site_server);
	TAKE_POS(site_hash);
	TAKE_LIST(server_admin);
	TAKE_NZ(max_auth_time);
	TAKE_NZ(identity_timeout_ms);
	TAKE_STR(site_desc);
	TAKE_STR(advertise);
	TAKE_STR(server_key);
	/* Switches: a flag turns it on whatever the file says. */
	c->recursive |= flags.recursive;
	c->recursive_all |= flags.recursive_all;
	c->no_group_commit |= flags.no_group_commit;
	g_group_commit = !c->no_group_commit;
	TAKE_STR(root);
	TAKE_NZ(cache_mb);
	TAKE_NZ(neg_ttl);
	TAKE_NZ(stale_ttl);
	TAKE_NZ(resolver_threads);
	TAKE_STR(mirror_of);
	TAKE_STR(mirror_id);
	TAKE_STR(mirror_key);
	TAKE_STR(mirror_secret_file);
	TAKE_NZ(mirror_page_bytes);
	TAKE_NZ(mirror_lag_log);
	TAKE_NZ(log_max_bytes);
	TAKE_NZ(log_max_age);
	TAKE_STR(store_read);
#undef TAKE_STR
#undef TAKE_LIST
#undef TAKE_NZ
#undef TAKE_SET
#undef TAKE_POS
	if (c->store_read && (!c->data || (strncasecmp(c->data, "postgresql://", 13) != 0 &&
	                                   strncasecmp(c->data, "postgres://", 11) != 0))) {
		fprintf(stderr, "idnode serve: --store-read needs a PostgreSQL --store URI (a "
		                "replica of that database)\n");
		goto out;
	}
	if (c->mirror_of &&
	    (!c->data || !c->mirror_id || !(c->mirror_key || c->mirror_secret_file))) {
		fprintf(stderr, "idnode serve: --mirror-of needs --data DIR (or --store URI), --id "
		                "INDEX:HANDLE and --key FILE or --secret-file FILE\n");
		goto out;
	}
	if (c->recursive && !c->root) {
		fprintf(stderr,
		        "idnode serve: --recursive needs --root HOST:PORT (or root = ...)\n");
		goto out;
	}
	if (!c->data && (c->nhttp || c->nhttps)) {
		fprintf(stderr, "idnode serve: --http needs a store (--data or --store)\n");
		goto out;
	}
	if (!c->data && !c->recursive) {
		fprintf(stderr,
		        "idnode serve: no store: give --data DIR, --store URI or data = DIR\n");
		serve_usage(stderr);
		goto out;
	}
	if (c->nlisten == 0)
		list_add(c->listen, &c->nlisten, "default", "listen", ":2641");

	store *s = NULL;
	node *n = NULL;
	client_identity_lookup *lookup = NULL; /* identities homed elsewhere, from --root */
	auth_key *key = NULL;                  /* --server-key */
	net_server *srv = NULL;
	api_server *hsrv = NULL;
	pthread_t stats_thread;
	bool stats_running = false;
	store_opts so = {.map_size = (uint64_t)c->map_size_mb << 20,
	                 .warm = 1,
	                 .log_max_bytes = c->log_max_bytes,
	                 .log_max_age = c->log_max_age,
	                 .read_location = c->store_read};
	/* A recursive node may run without a store: then it only resolves. */
	int ret = c->data ? store_open(c->data, &so, &s) : IDN_OK;
	status = CLI_FAIL;
	if (ret) {
		fprintf(stderr, "idnode serve: %s: cannot open the store: %s\n", c->data,
		        idn_strerror(ret));
		goto out;
	}
	if (s && home_prefixes(s, c))
		goto out_store;

	node_config ncfg;
	node_config_init(&ncfg);
	ncfg.case_sensitive = c->case_sensitive;
	ncfg.site_serial = (uint16_t)c->site_serial;
	static uint8_t site[8192], pub[4096];
	wire_wr pw = wire_wr_init(pub, sizeof(pub));
	if (c->server_key) {
		char err[512];
		if (auth_key_load(c->server_key, &key, err, sizeof(err)) ||
		    auth_key_public(key, &pw)) {
			fprintf(stderr, "idnode serve: server_key %s\n",
			        key ? "has no usable public half" : err);
			goto out_store;
		}
		/* Answers to CT requests (session setups above all) are signed with it. */
		ncfg.sign = auth_sign_answer;
		ncfg.sign_arg = key;
	}
	int sitelen = build_site(c, idn_slice_of(pub, wire_wr_len(&pw)), site, sizeof(site));
	if (sitelen < 0)
		goto out_store;
	ncfg.site_info = idn_slice_of(site, (size_t)sitelen);
	ncfg.server_id = c->server_id;
	ncfg.server_admins = (const char *const *)c->server_admin;
	ncfg.nserver_admins = c->nserver_admin;
	ncfg.mirror_of = c->mirror_of;
	if (c->max_auth_time)
		ncfg.max_auth_time = c->max_auth_time;
	/* Identities homed elsewhere are found from the same root (client/identity_lookup.h). */
	client_identity_lookup_opts lo = {c->root, c->identity_timeout_ms, c->case_sensitive};
	if (s && c->root && c->root[0] && (ret = client_identity_lookup_new(&lo, &lookup))) {
		fprintf(stderr, "idnode serve: %s\n", idn_strerror(ret));
		goto out_store;
	}
	ncfg.identity_lookup = lookup ? client_identity_lookup_start : NULL;
	ncfg.identity_lookup_arg = lookup;
	if (s && (ret = node_new(&ncfg, s, &n))) {
		fprintf(stderr, "idnode serve: %s\n", idn_strerror(ret));
		goto out_store;
	}

	char err[256] = "";
	if (c->recursive) {
		/*
		 * SIGUSR1 is blocked before any thread starts, so every thread
		 * inherits the mask and only stats_main's sigwait takes it.
		 */
		sigset_t us;
		sigemptyset(&us);
		sigaddset(&us, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &us, NULL);
		resolver_opts ro = {
		    .root = c->root,
		    .threads = c->resolver_threads,
		    .all = c->recursive_all || !s,
		    .cache = {.max_bytes = (size_t)c->cache_mb << 20,
		              .neg_ttl = c->neg_ttl,
		              .stale_ttl = c->stale_ttl},
		};
		if ((ret = resolver_new(&ro, &g_resolver, err, sizeof(err)))) {
			fprintf(stderr, "idnode serve: %s\n", err[0] ? err : idn_strerror(ret));
			goto out_node;
		}
		sigset_t all, old;
		sigfillset(&all); /* the stats thread takes only its sigwait's SIGUSR1 */
		pthread_sigmask(SIG_SETMASK, &all, &old);
		stats_running = pthread_create(&stats_thread, NULL, stats_main, g_resolver) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		err[0] = 0;
	}
	net_config nc = {
	    .listen = (const char **)c->listen,
	    .nlisten = c->nlisten,
	    .threads = c->threads,
	    .max_tcp_conns = c->max_tcp_conns,
	    .tcp_idle_ms = c->tcp_idle_ms,
	    .worker_init = worker_init,
	    .worker_fini = worker_fini,
	    .batch_begin = batch_begin,
	    .batch_end = batch_end,
	    .pending = pending,
	    .commit = commit,
	    .handle = handle,
	    .arg = n,
	    .errbuf = err,
	    .errbuf_len = sizeof(err),
	};
	if ((ret = net_start(&nc, &srv))) {
		fprintf(stderr, "idnode serve: %s\n", err[0] ? err : idn_strerror(ret));
		goto out_node;
	}
	/* HTTP listeners first, then the HTTPS ones (api_serve_opts.ntls). */
	const char *hl[2 * MAX_LIST];
	memcpy(hl, c->http, c->nhttp * sizeof(hl[0]));
	memcpy(hl + c->nhttp, c->https, c->nhttps * sizeof(hl[0]));
	if (c->nhttp || c->nhttps) {
		api_serve_opts ho = {
		    .listen = hl,
		    .nlisten = c->nhttp + c->nhttps,
		    .ntls = c->nhttps,
		    .tls_cert = c->tls_cert,
		    .tls_key = c->tls_key,
		    .threads = c->threads,
		    .access_log = c->access_log,
		    .max_conns = c->http_max_conns,
		    .max_body = c->http_max_body,
		    .idle_ms = c->http_idle_ms,
		    .header_timeout_ms = c->http_timeout_ms,
		    .errbuf = err,
		    .errbuf_len = sizeof(err),
		};
		if ((ret = api_serve_start(n, s, &ho, &hsrv))) {
			fprintf(stderr, "idnode serve: %s\n", err[0] ? err : idn_strerror(ret));
			net_stop(srv);
			net_wait(srv);
			goto out_node;
		}
	}

	repl_mirror *mirror = NULL;
	if (c->mirror_of) {
		repl_mirror_opts mo = {.primary = c->mirror_of,
		                       .id = c->mirror_id,
		                       .key_file = c->mirror_key,
		                       .secret_file = c->mirror_secret_file,
		                       .page_bytes = c->mirror_page_bytes,
		                       .lag_log_s = c->mirror_lag_log,
		                       .errbuf = err,
		                       .errbuf_len = sizeof(err)};
		err[0] = 0;
		if ((ret = repl_mirror_start(s, &mo, &mirror))) {
			fprintf(stderr, "idnode serve: %s\n", err[0] ? err : idn_strerror(ret));
			api_serve_stop(hsrv);
			net_stop(srv);
			net_wait(srv);
			goto out_node;
		}
	}
	uint64_t count = 0;
	store_txn *t;
	if (s && store_txn_begin(s, STORE_RDONLY, &t) == 0) {
		store_count(t, &count);
		store_txn_abort(t);
	}
	fprintf(stderr, "idnode: serving %llu identifiers from %s, %u thread%s, on",
	        (unsigned long long)count, c->data ? c->data : "(no store)", net_threads(srv),
	        net_threads(srv) == 1 ? "" : "s");
	for (unsigned i = 0; i < c->nlisten; i++)
		fprintf(stderr, " %s (port %u)", c->listen[i], net_bound_port(srv, i));
	for (unsigned i = 0; i < c->nhttp; i++)
		fprintf(stderr, " http %s (port %u)", c->http[i], api_serve_port(hsrv, i));
	for (unsigned i = 0; i < c->nhttps; i++)
		fprintf(stderr, " https %s (port %u)", c->https[i],
		        api_serve_port(hsrv, c->nhttp + i));
	if (mirror)
		fprintf(stderr, "; mirror of %s", c->mirror_of);
	if (g_resolver)
		fprintf(stderr, "; recursive from %s%s", c->root,
		        c->recursive_all || !s ? " (every request)" : " (REC requests)");
	fprintf(stderr, "\n");

	ret = net_run_until_signal(srv);
	repl_mirror_stop(mirror);
	api_serve_stop(hsrv);
	fprintf(stderr, "idnode: stopped%s%s\n", ret ? ": " : "", ret ? idn_strerror(ret) : "");
	status = ret ? CLI_FAIL : CLI_OK;
out_node:
	if (stats_running) {
		stats_stop = 1;
		pthread_kill(stats_thread, SIGUSR1);
		pthread_join(stats_thread, NULL);
	}
	if (g_resolver) {
		char line[512];
		resolver_stats_line(g_resolver, line, sizeof(line));
		fprintf(stderr, "idnode: %s\n", line);
		resolver_free(g_resolver);
		g_resolver = NULL;
	}
	node_free(n);
	client_identity_lookup_free(lookup);
out_store:
	store_close(s);
	auth_key_free(key);
out:
	free_cfg(&file);
	free_cfg(&flags);
	return status;
}
