/*
 * api.c - the api and its worker contexts, and the HTTP side of `idnode
 * serve` (an api on net's HTTP server). The routes are in api_routes.c, the
 * helpers they share in api_reply.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/reply.h"
#include "core/err.h"

static int schemes_fail(char *err, size_t errlen, const char *s, size_t n, const char *why)
{
	if (err)
		snprintf(err, errlen, "--proxy-schemes: '%.*s': %s", (int)(n > 40 ? 40 : n), s,
		         why);
	return IDN_EINVAL;
}

int api_proxy_schemes_parse(const char *list, char (*out)[API_SCHEME_MAX + 1], unsigned *n,
                            char *err, size_t errlen)
{
	static const char *const never[] = {"javascript", "data", "vbscript", "file"};
	unsigned k = 0;
	for (const char *p = list ? list : ""; *p;) {
		size_t len = strcspn(p, ",");
		const char *s = p;
		p += len + (p[len] == ',');
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (!len)
			continue;
		/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
		bool ok = len <= API_SCHEME_MAX && ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z');
		for (size_t i = 1; ok && i < len; i++)
			ok = ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
			     (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
			     s[i] == '.';
		if (!ok)
			return schemes_fail(
			    err, errlen, s, len,
			    "not a URL scheme (a letter, then letters, digits, + - ., "
			    "at most 32)");
		for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
			if (strlen(never[i]) == len && !strncasecmp(s, never[i], len))
				return schemes_fail(
				    err, errlen, s, len,
				    "never allowed (it can run code or read files in the "
				    "browser)");
		if (k == API_SCHEMES_MAX)
			return schemes_fail(err, errlen, s, len, "too many schemes (at most 16)");
		if (out) {
			for (size_t i = 0; i < len; i++)
				out[k][i] = (char)(s[i] | (s[i] >= 'A' && s[i] <= 'Z' ? 0x20 : 0));
			out[k][len] = 0;
		}
		k++;
	}
	if (n)
		*n = k;
	return 0;
}

int api_new(const api_config *cfg, api **out)
{
	api *a = calloc(1, sizeof(*a));
	if (!a)
		return IDN_ENOMEM;
	a->n = cfg->n;
	a->s = cfg->s;
	a->resolve_max = cfg->resolve_max ? cfg->resolve_max : API_RESOLVE_MAX;
	int ret = api_proxy_schemes_parse(cfg->proxy_schemes, a->schemes, &a->nschemes, NULL, 0);
	if (ret) {
		free(a);
		return ret;
	}
	ret = api_sessions_new(cfg->n, &a->sessions);
	if (!ret && (ret = api_idem_new(&a->idem)))
		api_sessions_free(a->sessions);
	if (ret) {
		free(a);
		return ret;
	}
	*out = a;
	return 0;
}

void api_free(api *a)
{
	if (!a)
		return;
	api_sessions_free(a->sessions);
	api_idem_free(a->idem);
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
	if (!w->req || !w->ans || !w->wreq || node_worker_new(w->a->n, &w->nw)) {
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
	free(w);
}

/* ---- the HTTP side of `idnode serve` ---- */

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
	api_config ac = {
	    .n = n, .s = s, .resolve_max = o->resolve_max, .proxy_schemes = o->proxy_schemes};
	if ((ret =
	         api_proxy_schemes_parse(o->proxy_schemes, NULL, NULL, o->errbuf, o->errbuf_len)) ||
	    (ret = api_new(&ac, &hs->a)))
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
	    .worker_init = api_worker_init,
	    .worker_fini = api_worker_fini,
	    .handle = api_handle,
	    .arg = hs->a,
	    .errbuf = o->errbuf,
	    .errbuf_len = o->errbuf_len,
	};
	if ((ret = http_start(&hc, &hs->srv)))
		goto fail;
	*out = hs;
	return 0;
fail:
	api_serve_stop(hs);
	return ret;
}

unsigned api_serve_port(const api_server *hs, unsigned idx)
{
	return http_bound_port(hs->srv, idx);
}

void api_serve_stop(api_server *hs)
{
	if (!hs)
		return;
	if (hs->srv) {
		http_stop(hs->srv);
		http_wait(hs->srv);
	}
	if (hs->log)
		fclose(hs->log);
	api_free(hs->a);
	free(hs);
}
