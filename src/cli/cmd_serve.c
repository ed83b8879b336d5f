/*
 * cmd_serve.c - `idnode serve`: runs a node from flags and/or an INI file.
 *
 * Settings come from the file first (-c FILE), then the flags: a flag
 * overrides the file's setting, and a repeatable flag (--listen, --home)
 * given at least once replaces the file's list.
 */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "net/net.h"
#include "node/handle.h"
#include "node/node.h"
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
} serve_cfg;

static void serve_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: idnode serve --data DIR [--listen ADDR:PORT]... [--home PREFIX]... [--threads "
	    "N]\n"
	    "       idnode serve -c FILE [flags that override the file]\n"
	    "  -d, --data DIR          the data directory (created if missing)\n"
	    "  -l, --listen ADDR:PORT  UDP and TCP on this address; repeatable\n"
	    "                          (default :2641, every address, IPv4 and IPv6)\n"
	    "  -H, --home PREFIX       answer for this prefix (e.g. 88.100.1); repeatable\n"
	    "  -t, --threads N         worker threads (default: one per CPU)\n"
	    "      --case-insensitive  suffixes are case-insensitive (as the reference's\n"
	    "                          case_sensitive = no); must match how data was loaded\n"
	    "      --site-serial N     the serial of this site's HS_SITE (default 1)\n"
	    "      --max-tcp-conns N   open TCP connections at most (default 4096)\n"
	    "      --tcp-idle-ms N     close idle TCP connections after N ms (default 30000)\n"
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
	if (!strcmp(name, "data")) {
		free(c->data);
		c->data = strdup(v);
	} else if (!strcmp(name, "listen")) {
		return list_add(c->listen, &c->nlisten, where, name, v);
	} else if (!strcmp(name, "home")) {
		return list_add(c->home, &c->nhome, where, name, v);
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
		uint8_t norm[STORE_KEY_MAX];
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

static void *worker_init(void *arg, unsigned idx)
{
	(void)idx;
	node_worker *w;
	return node_worker_new(arg, &w) ? NULL : w;
}

static void worker_fini(void *wctx)
{
	node_worker_free(wctx);
}

static void batch_begin(void *wctx)
{
	node_worker_begin(wctx);
}

static void batch_end(void *wctx)
{
	node_worker_end(wctx);
}

static int handle(void *wctx, const net_req *req, uint8_t *out, size_t cap)
{
	return node_handle(wctx, req->transport == NET_UDP ? NODE_UDP : NODE_TCP, req->msg,
	                   req->len, out, cap);
}

int cmd_serve(int argc, char **argv)
{
	enum { O_CASE = 256, O_SERIAL, O_MAXCONN, O_IDLE };
	static const struct option longopts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"listen", required_argument, NULL, 'l'},
	    {"home", required_argument, NULL, 'H'},
	    {"threads", required_argument, NULL, 't'},
	    {"config", required_argument, NULL, 'c'},
	    {"case-insensitive", no_argument, NULL, O_CASE},
	    {"site-serial", required_argument, NULL, O_SERIAL},
	    {"max-tcp-conns", required_argument, NULL, O_MAXCONN},
	    {"tcp-idle-ms", required_argument, NULL, O_IDLE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	serve_cfg file = {.case_sensitive = 1, .site_serial = 1}, flags = {.case_sensitive = -1};
	const char *config = NULL;
	int opt, status = CLI_USAGE;
	flags.site_serial = flags.max_tcp_conns = flags.tcp_idle_ms = flags.threads = ~0u;

	/* Flags are collected apart so that they override the file. */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:l:H:t:c:h", longopts, NULL)) != -1) {
		int r = 0;
		switch (opt) {
		case 'd':
			r = apply(&flags, "--data", "data", optarg);
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

	/* Merge: flags over file. */
	serve_cfg *c = &file;
	if (flags.data) {
		free(c->data);
		c->data = flags.data;
		flags.data = NULL;
	}
	if (flags.nlisten) {
		for (unsigned i = 0; i < c->nlisten; i++)
			free(c->listen[i]);
		memcpy(c->listen, flags.listen, sizeof(flags.listen));
		c->nlisten = flags.nlisten;
		flags.nlisten = 0;
	}
	if (flags.nhome) {
		for (unsigned i = 0; i < c->nhome; i++)
			free(c->home[i]);
		memcpy(c->home, flags.home, sizeof(flags.home));
		c->nhome = flags.nhome;
		flags.nhome = 0;
	}
	if (flags.threads != ~0u)
		c->threads = flags.threads;
	if (flags.case_sensitive >= 0)
		c->case_sensitive = flags.case_sensitive;
	if (flags.site_serial != ~0u)
		c->site_serial = flags.site_serial;
	if (flags.max_tcp_conns != ~0u)
		c->max_tcp_conns = flags.max_tcp_conns;
	if (flags.tcp_idle_ms != ~0u)
		c->tcp_idle_ms = flags.tcp_idle_ms;
	if (!c->data) {
		fprintf(stderr, "idnode serve: no data directory: give --data DIR or data = DIR\n");
		serve_usage(stderr);
		goto out;
	}
	if (c->nlisten == 0)
		list_add(c->listen, &c->nlisten, "default", "listen", ":2641");

	store *s = NULL;
	node *n = NULL;
	net_server *srv = NULL;
	store_opts so = {.map_size = (uint64_t)c->map_size_mb << 20, .warm = 1};
	int ret = store_open(c->data, &so, &s);
	status = CLI_FAIL;
	if (ret) {
		fprintf(stderr, "idnode serve: %s: cannot open the store: %s\n", c->data,
		        idn_strerror(ret));
		goto out;
	}
	if (home_prefixes(s, c))
		goto out_store;

	node_config ncfg;
	node_config_init(&ncfg);
	ncfg.case_sensitive = c->case_sensitive;
	ncfg.site_serial = (uint16_t)c->site_serial;
	if ((ret = node_new(&ncfg, s, &n))) {
		fprintf(stderr, "idnode serve: %s\n", idn_strerror(ret));
		goto out_store;
	}

	char err[256] = "";
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
	    .handle = handle,
	    .arg = n,
	    .errbuf = err,
	    .errbuf_len = sizeof(err),
	};
	if ((ret = net_start(&nc, &srv))) {
		fprintf(stderr, "idnode serve: %s\n", err[0] ? err : idn_strerror(ret));
		goto out_node;
	}

	uint64_t count = 0;
	store_txn *t;
	if (store_txn_begin(s, STORE_RDONLY, &t) == 0) {
		store_count(t, &count);
		store_txn_abort(t);
	}
	fprintf(stderr, "idnode: serving %llu identifiers from %s, %u thread%s, on",
	        (unsigned long long)count, c->data, net_threads(srv),
	        net_threads(srv) == 1 ? "" : "s");
	for (unsigned i = 0; i < c->nlisten; i++)
		fprintf(stderr, " %s (port %u)", c->listen[i], net_bound_port(srv, i));
	fprintf(stderr, "\n");

	ret = net_run_until_signal(srv);
	fprintf(stderr, "idnode: stopped%s%s\n", ret ? ": " : "", ret ? idn_strerror(ret) : "");
	status = ret ? CLI_FAIL : CLI_OK;
out_node:
	node_free(n);
out_store:
	store_close(s);
out:
	free_cfg(&file);
	free_cfg(&flags);
	return status;
}
