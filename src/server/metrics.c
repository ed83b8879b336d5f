/*
 * metrics.c - GET /metrics (docs/statistics.md): the node's counters in the
 * Prometheus text exposition format, as the client libraries write it
 * (# HELP and # TYPE before each family, counters ending _total,
 * histograms as cumulative _bucket{le=...}, _sum and _count): requests by
 * opcode, transport and response code, latency per transport, group-commit
 * sizes, the statistics per prefix, resolver cache, mirror lag, store size,
 * connections, quota refusals and every protective limit's hits.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/limit.h"
#include "node/stats.h"
#include "server/internal.h"

static const char *const transports[3] = {"udp", "tcp", "http"};

static const char *op_name(uint32_t op, char *buf, size_t cap)
{
	static const struct {
		uint32_t op;
		const char *name;
	} names[] = {
	    {PROTO_OP_RESOLUTION, "resolution"},
	    {PROTO_OP_GET_SITE_INFO, "get_site_info"},
	    {PROTO_OP_CREATE_HANDLE, "create_handle"},
	    {PROTO_OP_DELETE_HANDLE, "delete_handle"},
	    {PROTO_OP_ADD_VALUE, "add_value"},
	    {PROTO_OP_REMOVE_VALUE, "remove_value"},
	    {PROTO_OP_MODIFY_VALUE, "modify_value"},
	    {PROTO_OP_LIST_HANDLES, "list_handles"},
	    {PROTO_OP_LIST_NAS, "list_nas"},
	    {PROTO_OP_CHALLENGE_RESPONSE, "challenge_response"},
	    {PROTO_OP_VERIFY_RESPONSE, "verify_response"},
	    {PROTO_OP_HOME_NA, "home_na"},
	    {PROTO_OP_UNHOME_NA, "unhome_na"},
	    {PROTO_OP_LIST_HOMED_NAS, "list_homed_nas"},
	    {PROTO_OP_SESSION_SETUP, "session_setup"},
	    {PROTO_OP_SESSION_TERMINATE, "session_terminate"},
	    {PROTO_OP_SESSION_EXCHANGEKEY, "session_exchange_key"},
	    {PROTO_OP_GET_NEXT_TXN_ID, "get_next_txn_id"},
	    {PROTO_OP_RETRIEVE_TXN_LOG, "retrieve_txn_log"},
	    {PROTO_OP_DUMP_HANDLES, "dump_handles"},
	    {PROTO_OP_BACKUP_SERVER, "backup_server"},
	    {PROTO_OP_IDIS_PASSWORD_LOGIN, "idis_password_login"},
	    {PROTO_OP_IDIS_LOGIN, "idis_login"},
	};
	if (op == UINT32_MAX)
		return "other";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].op == op)
			return names[i].name;
	snprintf(buf, cap, "%u", op);
	return buf;
}

static void family(http_resp *r, const char *name, const char *type, const char *help)
{
	http_resp_printf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void requests(http_resp *r, const node_metrics *m)
{
	family(r, "idnode_requests_total", "counter",
	       "Handle requests answered, by opcode, transport and response code.");
	for (int t = 0; t < 3; t++)
		for (unsigned o = 0; o < NODE_OP_SLOTS; o++)
			for (unsigned c = 0; c < NODE_RC_SLOTS; c++) {
				uint64_t v = m->ops[t][o][c];
				uint32_t rc = node_metrics_rcode(c);
				char ob[16];
				if (!v)
					continue;
				const char *on = op_name(node_metrics_opcode(o), ob, sizeof(ob));
				if (rc == UINT32_MAX)
					http_resp_printf(
					    r,
					    "idnode_requests_total{opcode=\"%s\",transport="
					    "\"%s\",rcode=\"other\"} %llu\n",
					    on, transports[t], (unsigned long long)v);
				else
					http_resp_printf(
					    r,
					    "idnode_requests_total{opcode=\"%s\",transport="
					    "\"%s\",rcode=\"%u\"} %llu\n",
					    on, transports[t], rc, (unsigned long long)v);
			}
}

/* One histogram series: cumulative buckets, then _sum and _count. */
static void histogram(http_resp *r, const char *name, const char *label, const double *bounds,
                      unsigned nb, const uint64_t *counts, double sum)
{
	uint64_t cum = 0;
	const char *sep = label[0] ? "," : "";
	for (unsigned b = 0; b < nb; b++) {
		cum += counts[b];
		http_resp_printf(r, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label, sep, bounds[b],
		                 (unsigned long long)cum);
	}
	cum += counts[nb];
	http_resp_printf(r, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label, sep,
	                 (unsigned long long)cum);
	if (label[0]) {
		http_resp_printf(r, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", name, label, sum, name,
		                 label, (unsigned long long)cum);
	} else {
		http_resp_printf(r, "%s_sum %.9f\n%s_count %llu\n", name, sum, name,
		                 (unsigned long long)cum);
	}
}

static void histograms(http_resp *r, const node_metrics *m)
{
	family(r, "idnode_request_duration_seconds", "histogram",
	       "Time to answer, per transport: a UDP or TCP batch's time counted for each of "
	       "its requests, an HTTP request's own.");
	for (int t = 0; t < 3; t++) {
		char label[32];
		snprintf(label, sizeof(label), "transport=\"%s\"", transports[t]);
		histogram(r, "idnode_request_duration_seconds", label, node_lat_bounds,
		          NODE_LAT_BUCKETS, m->lat[t], (double)m->lat_sum_ns[t] / 1e9);
	}
	family(r, "idnode_group_commit_writes", "histogram",
	       "Writes made durable by one commit (group commit; 1: a write on its own).");
	histogram(r, "idnode_group_commit_writes", "", node_commit_bounds, NODE_COMMIT_BUCKETS,
	          m->commit, (double)m->commit_sum);
}

/* A label value: '\\', '"' and newlines escaped. */
static void label_value(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 3 < cap; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : *s;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = 0;
}

typedef struct prefix_pass {
	http_resp *r;
	int which; /* 0 held, 1 registered, 2 modified, 3 deleted, 4 resolutions, 5 auth fails */
	uint64_t res[3][3];
} prefix_pass;

static void prefix_cb(void *arg, const node_stats_total *t)
{
	prefix_pass *p = arg;
	char name[4 * NODE_STATS_KEY_MAX];
	static const char *const fam[] = {
	    "idnode_prefix_identifiers",       "idnode_prefix_registered_total",
	    "idnode_prefix_modified_total",    "idnode_prefix_deleted_total",
	    "idnode_prefix_resolutions_total", "idnode_prefix_auth_failures_total"};
	uint64_t v = 0;
	switch (p->which) {
	case 0:
		v = t->held;
		break;
	case 1:
	case 2:
	case 3:
		v = t->c[NST_REGISTERED + p->which - 1];
		break;
	case 4:
		for (int i = 0; i < 9; i++) {
			v += t->c[NST_RES_FIRST + i];
			p->res[i / 3][i % 3] += t->c[NST_RES_FIRST + i];
		}
		break;
	default:
		v = t->c[NST_AUTH_FAIL];
	}
	label_value(name, sizeof(name), t->prefix);
	http_resp_printf(p->r, "%s{prefix=\"%s\"} %llu\n", fam[p->which], name,
	                 (unsigned long long)v);
}

static void prefixes(http_resp *r, node *n)
{
	static const char *const fams[][3] = {
	    {"idnode_prefix_identifiers", "gauge",
	     "Identifiers held under the prefix (as of the statistics' last write)."},
	    {"idnode_prefix_registered_total", "counter",
	     "Identifiers registered under the prefix."},
	    {"idnode_prefix_modified_total", "counter", "Identifiers modified under the prefix."},
	    {"idnode_prefix_deleted_total", "counter", "Identifiers deleted under the prefix."},
	    {"idnode_prefix_resolutions_total", "counter",
	     "Resolutions answered for the prefix (found, not found or referred)."},
	    {"idnode_prefix_auth_failures_total", "counter",
	     "Authenticated operations on the prefix refused (signature or rights)."},
	};
	prefix_pass p = {.r = r};
	for (int i = 0; i < 6; i++) {
		family(r, fams[i][0], fams[i][1], fams[i][2]);
		p.which = i;
		node_stats_each(n, prefix_cb, &p);
	}
	static const char *const outcomes[3] = {"found", "not_found", "referred"};
	family(r, "idnode_resolutions_total", "counter",
	       "Resolutions answered by this node, by transport and outcome.");
	for (int t = 0; t < 3; t++)
		for (int o = 0; o < 3; o++)
			http_resp_printf(
			    r,
			    "idnode_resolutions_total{transport=\"%s\",outcome=\"%s\"} "
			    "%llu\n",
			    transports[t], outcomes[o], (unsigned long long)p.res[t][o]);
	family(r, "idnode_stats_prefixes_tracked", "gauge",
	       "Prefixes the statistics track (at most --stats-prefixes, and \"other\").");
	http_resp_printf(r, "idnode_stats_prefixes_tracked %zu\n", node_stats_tracked(n));
}

static void gauge(http_resp *r, const char *name, const char *help, double v)
{
	family(r, name, "gauge", help);
	http_resp_printf(r, "%s %.17g\n", name, v);
}

static void counter1(http_resp *r, const char *name, const char *help, uint64_t v)
{
	family(r, name, "counter", help);
	http_resp_printf(r, "%s %llu\n", name, (unsigned long long)v);
}

static uint64_t dir_bytes(const char *dir)
{
	uint64_t sum = 0;
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path) &&
		    !stat(path, &st) && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return sum;
}

static void node_parts(http_resp *r, server_metrics *sm)
{
	struct resolver_stats rs = {0};
	if (sm->resolver)
		resolver_stats(sm->resolver, &rs);
	counter1(r, "idnode_resolver_cache_hits_total", "Resolver cache hits (recursive nodes).",
	         rs.cache.hits);
	counter1(r, "idnode_resolver_cache_misses_total",
	         "Resolver cache misses (recursive nodes).", rs.cache.misses);
	gauge(r, "idnode_resolver_cache_bytes", "Bytes the resolver cache holds.",
	      (double)rs.cache.bytes);
	gauge(r, "idnode_resolver_cache_entries", "Entries the resolver cache holds.",
	      (double)rs.cache.entries);
	repl_mirror_stats ms = {0};
	pthread_mutex_lock(&sm->lock);
	bool mirror = sm->mirror != NULL;
	if (mirror)
		repl_mirror_get_stats(sm->mirror, &ms);
	pthread_mutex_unlock(&sm->lock);
	gauge(r, "idnode_mirror_lag_transactions",
	      "Transactions a mirror is behind its primary (0 when not a mirror).", (double)ms.lag);
	gauge(r, "idnode_mirror_lag_seconds",
	      "Seconds since a mirror was last caught up (0 when not a mirror).",
	      (double)ms.lag_seconds);
	gauge(r, "idnode_mirror_connected", "1 when this mirror is connected to its primary.",
	      ms.connected ? 1 : 0);
	uint64_t ids = 0;
	store_txn *t;
	if (sm->store && store_txn_begin(sm->store, STORE_RDONLY, &t) == 0) {
		store_count(t, &ids);
		store_txn_abort(t);
	}
	gauge(r, "idnode_store_identifiers", "Identifiers in the store.", (double)ids);
	gauge(r, "idnode_store_bytes",
	      "Bytes on disk of the store's directory (LMDB; 0 otherwise).",
	      (double)dir_bytes(sm->data_dir));
	gauge(r, "idnode_open_connections", "TCP and HTTP(S) connections open.",
	      sm->budget ? (double)atomic_load(&sm->budget->open) : 0);
}

static void limits(http_resp *r)
{
	counter1(r, "idnode_quota_refusals_total", "Requests refused by a quota (603-605).",
	         limit_count(LIM_QUOTA));
	family(r, "idnode_limit_hits_total", "counter",
	       "Times each protective limit acted (docs/security.md).");
	for (int i = 0; i < LIM_COUNT; i++)
		http_resp_printf(r, "idnode_limit_hits_total{limit=\"%s\"} %llu\n", limit_name(i),
		                 (unsigned long long)limit_count(i));
}

void server_metrics_write(void *arg, http_resp *r)
{
	server_metrics *sm = arg;
	node_metrics *m = calloc(1, sizeof(*m));
	if (m) {
		node_metrics_get(sm->node, m);
		requests(r, m);
		histograms(r, m);
		free(m);
	}
	prefixes(r, sm->node);
	node_parts(r, sm);
	limits(r);
	gauge(r, "idnode_start_time_seconds", "When this node started, unix seconds.",
	      (double)sm->started);
}

void server_metrics_mirror(server_metrics *sm, repl_mirror *m)
{
	pthread_mutex_lock(&sm->lock);
	sm->mirror = m;
	pthread_mutex_unlock(&sm->lock);
}
