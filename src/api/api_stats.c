/*
 * api_stats.c - statistics over HTTP (docs/statistics.md): GET /api/stats
 * (the hour and day buckets of node/stats.h, as JSON or CSV, for a node
 * admin unless --stats-public), and GET /metrics (the Prometheus text the
 * server writes, to the networks of --metrics-allow only, loopback by
 * default).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api_account.h"
#include "api/reply.h"
#include "api/routes.h"
#include "core/limit.h"
#include "node/stats.h"
#include "node/stats_report.h"

enum { NETS_MAX = 64, API_STATS_ROWS = 50000 };

typedef struct api_net {
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	unsigned bits;    /* of the 128 */
} api_net;

struct api_stats {
	api_stats_opts o;
	api_net nets[NETS_MAX];
	unsigned nnets;
};

/* "ADDR" or "ADDR/BITS": 0, or -1. */
static int net_parse(const char *s, api_net *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	memset(out, 0, sizeof(*out));
	unsigned max;
	if (inet_pton(AF_INET, buf, out->addr + 12) == 1) {
		out->addr[10] = out->addr[11] = 0xff;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		max = 128;
	} else {
		return -1;
	}
	unsigned bits = max;
	if (slash) {
		char *end;
		unsigned long b = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || b > max)
			return -1;
		bits = (unsigned)b;
	}
	out->bits = bits + (max == 32 ? 96 : 0);
	return 0;
}

static bool net_has(const api_net *net, const uint8_t a[16])
{
	unsigned full = net->bits / 8, rest = net->bits % 8;
	if (memcmp(net->addr, a, full))
		return false;
	return !rest || ((net->addr[full] ^ a[full]) & (0xff << (8 - rest))) == 0;
}

int api_stats_setup(api *a, const api_stats_opts *o, char *err, size_t errlen)
{
	struct api_stats *st = calloc(1, sizeof(*st));
	if (!st)
		return IDN_ENOMEM;
	st->o = *o;
	static const char *const loopback[] = {"127.0.0.0/8", "::1"};
	const char *const *list = o->nmetrics_allow ? o->metrics_allow : loopback;
	unsigned n = o->nmetrics_allow ? o->nmetrics_allow : 2;
	for (unsigned i = 0; i < n; i++) {
		if (st->nnets == NETS_MAX || net_parse(list[i], &st->nets[st->nnets])) {
			snprintf(err, errlen,
			         "--metrics-allow %s: expected ADDR or ADDR/BITS (IPv4 or IPv6), "
			         "at most %d",
			         list[i], NETS_MAX);
			free(st);
			return IDN_ECONFIG;
		}
		st->nnets++;
	}
	a->stats = st;
	return IDN_OK;
}

void api_stats_free(api *a)
{
	free(a->stats);
	a->stats = NULL;
}

static bool peer_allowed(const struct api_stats *st, const http_req *req)
{
	uint8_t a[16] = {0};
	const struct sockaddr *sa = req->peer;
	if (sa && sa->sa_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return false;
	}
	for (unsigned i = 0; i < st->nnets; i++)
		if (net_has(&st->nets[i], a))
			return true;
	return false;
}

int api_get_metrics(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	const struct api_stats *st = w->a->stats;
	if (!st || !st->o.metrics) {
		http_resp_error(r, 404, PROTO_RC_OPERATION_NOT_SUPPORTED,
		                "metrics are off on this node (idnode serve --metrics)");
		return 0;
	}
	if (!peer_allowed(st, req)) {
		http_resp_error(r, 403, PROTO_RC_INSUFFICIENT_PERMISSIONS,
		                "metrics are not served to this address (--metrics-allow)");
		return 0;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	st->o.metrics(st->o.metrics_arg, r);
	return 0;
}

/* ---- GET /api/stats ---- */

typedef struct stats_params {
	char v[7][80]; /* prefix, industry, from, to, granularity, format, source */
	bool has[7];
	char bad[80]; /* an unknown or malformed parameter */
} stats_params;

static const char *const param_names[7] = {"prefix",      "industry", "from",  "to",
                                           "granularity", "format",   "source"};

static int param_cb(void *arg, idn_slice name, idn_slice value)
{
	stats_params *p = arg;
	for (int i = 0; i < 7; i++) {
		if (!api_name_is(name, param_names[i]))
			continue;
		int n = api_pct_decode(value, true, (uint8_t *)p->v[i], sizeof(p->v[i]) - 1);
		if (n < 0 || memchr(p->v[i], 0, (size_t)n) || p->has[i]) {
			snprintf(p->bad, sizeof(p->bad), "%s: malformed, too long or given twice",
			         param_names[i]);
			return 1;
		}
		p->v[i][n] = 0;
		p->has[i] = true;
		return 0;
	}
	snprintf(p->bad, sizeof(p->bad), "unknown parameter '%.*s'",
	         (int)(name.len < 32 ? name.len : 32), (const char *)name.p);
	return 1;
}

typedef struct stats_out {
	http_resp *r;
	bool csv;
	size_t rows;
} stats_out;

static int row_cb(void *arg, const node_stats_row *row)
{
	stats_out *o = arg;
	char line[2048];
	int n = o->csv ? node_stats_csv_row(row, line, sizeof(line))
	               : node_stats_json_row(row, line, sizeof(line));
	if (n < 0 || (size_t)n >= sizeof(line))
		return IDN_ERANGE;
	if (!o->csv && o->rows)
		http_resp_puts(o->r, ",");
	http_resp_puts(o->r, line);
	o->rows++;
	return 0;
}

/*
 * Per-prefix statistics are a node admin's unless --stats-public; with a
 * bearer token (the console, docs/console.md) an operator's, or an
 * enterprise's for one of its own prefixes: 1 go on, else answered.
 */
static int stats_allowed(api_worker *w, const http_req *req, http_resp *r,
                         const node_stats_query *q)
{
	if (w->a->stats && w->a->stats->o.stats_public)
		return 1;
	idn_slice bearer;
	if (http_req_header(req, "authorization", &bearer) && bearer.len > 7 &&
	    !strncasecmp((const char *)bearer.p, "Bearer ", 7)) {
		api_caller c;
		if (!api_snms_auth(w, req, r, &c))
			return 0;
		if (c.acct.role == ACCOUNT_OPERATOR ||
		    (q->name && !q->industry &&
		     api_caller_may(&c, idn_slice_of(q->name, strlen(q->name)))))
			return 1;
		http_resp_error(
		    r, 403, PROTO_RC_INSUFFICIENT_PERMISSIONS,
		    "an enterprise account sees the statistics of its own prefixes only: "
		    "name one with prefix=");
		return 0;
	}
	ident id;
	if (api_need_auth(w, req, r, &id) <= 0)
		return 0;
	int sa = node_worker_is_server_admin(w->nw, idn_slice_of(id.handle, id.hlen), id.index);
	if (sa > 0)
		return 1;
	if (sa < 0)
		http_resp_error(r, 500, PROTO_RC_ERROR, "storage error");
	else
		http_resp_error(r, 403, PROTO_RC_INSUFFICIENT_PERMISSIONS,
		                "statistics are a node admin's (--server-admin), unless the node "
		                "runs with --stats-public");
	return 0;
}

/* GET /api/console/health: the metrics text for an operator's bearer token, /metrics on or not. */
int api_console_health(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	api_caller c;
	if (!api_snms_auth(w, req, r, &c) || !api_snms_need_operator(&c, r))
		return 0;
	const struct api_stats *st = w->a->stats;
	if (!st || !st->o.status) {
		http_resp_error(r, 404, PROTO_RC_OPERATION_NOT_SUPPORTED, "no health on this node");
		return 0;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	st->o.status(st->o.metrics_arg, r);
	/* The process's threads, which /metrics does not say. */
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	unsigned threads = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %u", &threads) == 1)
			break;
	if (f)
		fclose(f);
	http_resp_printf(r,
	                 "# HELP idnode_process_threads Threads of the node's process.\n"
	                 "# TYPE idnode_process_threads gauge\nidnode_process_threads %u\n",
	                 threads);
	return 0;
}

int api_get_stats(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	stats_params p = {0};
	if (api_query_each(req->query, param_cb, &p)) {
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, p.bad);
		return 0;
	}
	const char *fmt = p.has[5] ? p.v[5] : "json";
	if (strcmp(fmt, "json") && strcmp(fmt, "csv")) {
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, "format: expected json or csv");
		return 0;
	}
	node_stats_query q;
	char err[200];
	if (node_stats_query_parse(&q, p.has[0] ? p.v[0] : NULL, p.has[1] ? p.v[1] : NULL,
	                           p.has[2] ? p.v[2] : NULL, p.has[3] ? p.v[3] : NULL,
	                           p.has[4] ? p.v[4] : NULL, (uint32_t)time(NULL), err,
	                           sizeof(err))) {
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, err);
		return 0;
	}
	const char *src = p.has[6] ? p.v[6] : "own";
	q.reported = !strcmp(src, "reported");
	if ((strcmp(src, "own") && !q.reported) || (q.reported && q.hourly)) {
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE,
		                "source: expected own or reported (reported: granularity=day)");
		return 0;
	}
	if (stats_allowed(w, req, r, &q) <= 0)
		return 0;
	q.max_rows = API_STATS_ROWS;
	stats_out o = {.r = r, .csv = fmt[0] == 'c'};
	r->status = 200;
	if (o.csv) {
		char head[1024];
		node_stats_csv_header(head, sizeof(head));
		r->content_type = "text/csv; charset=utf-8";
		http_resp_puts(r, head);
	} else {
		node_stats_row a = {.bucket = q.from, .hourly = q.hourly};
		node_stats_row b = {.bucket = q.to, .hourly = q.hourly};
		char from[32], to[32];
		node_stats_period(&a, from, sizeof(from));
		node_stats_period(&b, to, sizeof(to));
		r->content_type = "application/json";
		http_resp_printf(r,
		                 "{\"granularity\":\"%s\",\"source\":\"%s\",\"from\":\"%s\","
		                 "\"to\":\"%s\",\"rows\":[",
		                 q.hourly ? "hour" : "day", q.reported ? "reported" : "own", from,
		                 to);
	}
	int ret = node_stats_read(w->a->s, &q, row_cb, &o);
	if (ret == IDN_ERANGE) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "more than %d rows: name a prefix or an industry, or ask for a shorter "
		         "period",
		         API_STATS_ROWS);
		http_resp_error(r, 400, PROTO_RC_INVALID_VALUE, msg);
	} else if (ret) {
		http_resp_error(r, 500, PROTO_RC_ERROR, idn_strerror(ret));
	} else if (!o.csv) {
		http_resp_puts(r, "]}");
	}
	return 0;
}

/*
 * POST /api/stats/report: a child's signed daily report (node/stats_report.h).
 * No HTTP credentials: the signature against 0.NA/<prefix> is the
 * authentication. 200 accepted or the same again; 400 malformed; 403 forged;
 * 409 replayed; 413 oversized. Every refusal is logged and counted
 * (the stats-reports limit) and changes nothing.
 */
int api_post_stats_report(api_worker *w, const http_req *req, idn_slice rest, http_resp *r)
{
	(void)rest;
	enum node_report_outcome o = NODE_REPORT_ACCEPTED;
	char err[256] = "";
	int ret = node_report_accept(w->a->s, req->body.p, req->body.len,
	                             node_case_sensitive(w->a->n), &o, err, sizeof(err));
	if (!ret) {
		r->status = 200;
		r->content_type = "application/json";
		http_resp_printf(r, "{\"responseCode\":1,\"message\":\"%s\"}",
		                 o == NODE_REPORT_DUPLICATE ? "duplicate: already counted"
		                                            : "accepted");
		return 0;
	}
	int status = ret == IDN_EINVAL      ? 400
	             : ret == IDN_ERANGE    ? 413
	             : ret == IDN_EMISMATCH ? 403
	             : ret == IDN_EEXIST    ? 409
	                                    : 500;
	if (status == 500)
		snprintf(err, sizeof(err), "%s", idn_strerror(ret));
	else
		limit_hit(LIM_STATS_REPORTS, "statistics report refused (%d): %s", status, err);
	http_resp_error(r, status,
	                status == 403   ? PROTO_RC_AUTHENTICATION_FAILED
	                : status == 500 ? PROTO_RC_ERROR
	                                : PROTO_RC_INVALID_VALUE,
	                err);
	return 0;
}
