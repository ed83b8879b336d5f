/*
 * api.c - the api and its worker contexts, and the HTTP side of `idnode
 * serve` (an api on net's HTTP server). The routes are in api_routes.c, the
 * helpers they share in api_reply.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/label.h"
#include "api/reply.h"
#include "core/err.h"

int api_new(const api_config *cfg, api **out)
{
	api *a = calloc(1, sizeof(*a));
	if (!a)
		return IDN_ENOMEM;
	a->n = cfg->n;
	a->s = cfg->s;
	a->res = cfg->res;
	a->resolve_max = cfg->resolve_max ? cfg->resolve_max : API_RESOLVE_MAX;
	a->label_max = cfg->label_max ? cfg->label_max : API_LABEL_MAX;
	a->search_scan_max = cfg->search_scan_max;
	a->token_life_s = cfg->token_life_s ? cfg->token_life_s : 86400;
	a->audit_days = cfg->audit_days;
	a->applications_max = cfg->applications_max ? cfg->applications_max : 1000;
	a->gateway_answer_max =
	    cfg->gateway_answer_max ? cfg->gateway_answer_max : API_GATEWAY_ANSWER_MAX;
	int ret = api_label_bases(a, cfg->label_base, cfg->nlabel_base);
	if (!ret)
		ret = api_gs1_registries(a, cfg->gs1_registry, cfg->ngs1_registry);
	if (!ret)
		ret = api_sessions_new(cfg->n, &a->sessions);
	if (!ret && (ret = api_idem_new(&a->idem)))
		api_sessions_free(a->sessions);
	if (ret) {
		api_label_bases(a, NULL, 0);
		api_gs1_registries(a, NULL, 0);
		free(a);
		return ret;
	}
	if (a->res &&
	    (ret = api_gateway_new(a, cfg->gateway_threads, cfg->gateway_queue, &a->gw))) {
		api_free(a);
		return ret;
	}
	*out = a;
	return 0;
}

void api_free(api *a)
{
	if (!a)
		return;
	api_gateway_free(a->gw);
	api_sessions_free(a->sessions);
	api_idem_free(a->idem);
	api_label_bases(a, NULL, 0);
	api_gs1_registries(a, NULL, 0);
	api_stats_free(a);
	free(a);
}

void *api_worker_init(void *arg, unsigned idx)
{
	api_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->a = arg;
	w->next_id = idx << 24 | 1;
	w->req = malloc(REQ_CAP);
	w->ans = malloc(ANS_CAP);
	w->wreq = malloc(ANS_CAP);
	if (!w->req || !w->ans || !w->wreq || (w->a->n && node_worker_new(w->a->n, &w->nw))) {
		api_worker_fini(w);
		return NULL;
	}
	return w;
}

void api_worker_fini(void *wctx)
{
	api_worker *w = wctx;
	if (!w)
		return;
	if (w->nw)
		node_worker_free(w->nw);
	free(w->req);
	free(w->ans);
	free(w->wreq);
	api_gs1_cache_free(w);
	free(w);
	label_thread_done(); /* workers are threads of their own: their caption fonts go too */
}

/* ---- the HTTP side of `idnode serve` ---- */

/*
 * A worker of the HTTP server: the REST reads of one event-loop turn share
 * one read snapshot, taken by the first and let go at the turn's end
 * (node_worker_hold), so a worker idle in epoll_wait holds none.
 */
static void *serve_worker_init(void *arg, unsigned idx)
{
	api_worker *w = api_worker_init(arg, idx);
	if (w && w->nw)
		node_worker_hold(w->nw, true);
	return w;
}

static void serve_turn_end(void *wctx)
{
	api_worker *w = wctx;
	if (w->nw)
		node_worker_end(w->nw);
}

/*
 * The hint the HTTP worker gives for each connection's new bytes before it
 * answers any of the turn's requests: a GET of a record starts the lookup
 * cache's loads for it (node_prefetch), so the turn's lookups wait on memory
 * together, not one after another. Anything else: nothing.
 */
static uint64_t serve_prefetch(void *wctx, const uint8_t *p, size_t n, uint64_t hint)
{
	static const char get[] = "GET /api/handles/";
	api_worker *w = wctx;
	if (!w->nw)
		return 0;
	if (hint) {
		node_prefetch_more(w->nw, hint);
		return 0;
	}
	if (n < sizeof(get) || memcmp(p, get, sizeof(get) - 1))
		return 0;
	/*
	 * The identifier as it came, up to the space: one with a %-escape or a
	 * query is hinted wrong, which costs nothing but the hint (rare).
	 */
	const uint8_t *h = p + sizeof(get) - 1, *e = memchr(h, ' ', (size_t)(p + n - h));
	if (!e)
		return 0;
	return node_prefetch(w->nw, idn_slice_of(h, (size_t)(e - h)));
}

struct api_server {
	api *a;
	http_server *srv;
	FILE *log;
};

int api_serve_start(node *n, store *s, const api_serve_opts *o, api_server **out)
{
	api_server *hs = calloc(1, sizeof(*hs));
	if (!hs)
		return IDN_ENOMEM;
	int ret;
	api_config ac = {.n = n,
	                 .s = s,
	                 .res = o->res,
	                 .resolve_max = o->resolve_max,
	                 .gateway_threads = o->gateway_threads,
	                 .gateway_queue = o->gateway_queue,
	                 .gateway_answer_max = o->gateway_answer_max,
	                 .label_base = o->label_base,
	                 .nlabel_base = o->nlabel_base,
	                 .label_max = o->label_max,
	                 .search_scan_max = o->search_scan_max,
	                 .gs1_registry = o->gs1_registry,
	                 .ngs1_registry = o->ngs1_registry,
	                 .token_life_s = o->token_life_s,
	                 .audit_days = o->audit_days,
	                 .applications_max = o->applications_max};
	for (unsigned i = 0; i < o->nlabel_base; i++) {
		const char *why = label_base_check(o->label_base[i]);
		if (why) {
			snprintf(o->errbuf, o->errbuf_len, "--label-base %s: %s", o->label_base[i],
			         why);
			ret = IDN_ECONFIG;
			goto fail;
		}
	}
	for (unsigned i = 0; i < o->ngs1_registry; i++) {
		const char *g = o->gs1_registry[i], *slash = strchr(g, '/');
		if (!slash || slash == g || !slash[1] || strlen(g) > PROTO_HANDLE_MAX) {
			snprintf(o->errbuf, o->errbuf_len,
			         "--gs1-registry %s: not an identifier PREFIX/SUFFIX (the record "
			         "holding the GS1.RULE values, e.g. 88/GS1-REGISTRY)",
			         g);
			ret = IDN_ECONFIG;
			goto fail;
		}
	}
	if ((ret = api_new(&ac, &hs->a)))
		goto fail;
	if ((ret = api_stats_setup(hs->a, &o->stats, o->errbuf, o->errbuf_len)))
		goto fail;
	/* The proxy's extra schemes, checked at start (javascript and friends refused). */
	if ((ret = api_proxy_schemes_parse(o->proxy_schemes, hs->a->schemes, &hs->a->nschemes,
	                                   o->errbuf, o->errbuf_len)))
		goto fail;
	if (o->access_log && strcmp(o->access_log, "-")) {
		hs->log = fopen(o->access_log, "a");
		if (!hs->log) {
			ret = idn_errno(errno);
			snprintf(o->errbuf, o->errbuf_len, "access log %s: %s", o->access_log,
			         strerror(errno));
			goto fail;
		}
		setvbuf(hs->log, NULL, _IOLBF, 0);
	}
	http_config hc = {
	    .listen = o->listen,
	    .nlisten = o->nlisten,
	    .ntls = o->ntls,
	    .tls_cert = o->tls_cert,
	    .tls_key = o->tls_key,
	    .threads = o->threads,
	    .access_log = hs->log         ? hs->log
	                  : o->access_log ? stderr
	                                  : NULL,
	    .max_conns = o->max_conns,
	    .budget = o->budget,
	    .max_body = o->max_body,
	    .idle_ms = o->idle_ms,
	    .header_timeout_ms = o->header_timeout_ms,
	    .body_timeout_ms = o->header_timeout_ms * 3,
	    .worker_init = serve_worker_init,
	    .worker_fini = api_worker_fini,
	    .turn_end = serve_turn_end,
	    .prefetch = serve_prefetch,
	    .handle = api_handle,
	    .arg = hs->a,
	    .errbuf = o->errbuf,
	    .errbuf_len = o->errbuf_len,
	    .held = o->held,
	};
	if ((ret = http_start(&hc, &hs->srv)))
		goto fail;
	*out = hs;
	return 0;
fail:
	api_serve_stop(hs);
	return ret;
}

int api_serve_reload_tls(api_server *hs, const char *cert, const char *key, char *err,
                         size_t errlen)
{
	return http_tls_reload(hs->srv, cert, key, err, errlen);
}

unsigned api_serve_port(const api_server *hs, unsigned idx)
{
	return http_bound_port(hs->srv, idx);
}

void api_serve_go(api_server *hs)
{
	http_go(hs->srv);
}

void api_serve_stop(api_server *hs)
{
	if (!hs)
		return;
	if (hs->srv) {
		http_stop(hs->srv);
		/* The gateway's threads answer what they hold before http_wait waits for it. */
		api_gateway_stop(hs->a->gw);
		http_wait(hs->srv);
	}
	if (hs->log)
		fclose(hs->log);
	api_free(hs->a);
	free(hs);
}
