/*
 * cmd_demo.c - `idnode demo`: a whole identifier hierarchy on loopback ports.
 *
 * A top-level node for 88, secondary nodes for 88.100 (equipment
 * manufacturing) and 88.200 (food), three enterprise nodes under them and a
 * recursive node, each a child process running this same binary
 * (/proc/self/exe serve ...) on a data directory under the demo directory.
 * The prefix records (0.NA/...) carry the HS_SITE values the children's own
 * settings describe (site_build, as `idnode siteinfo`), and the enterprises
 * get generated sample data (products, batches, machines). Ctrl-C or SIGTERM
 * stops every child (SIGTERM, then SIGKILL after a bounded wait) and reaps
 * it; a child that dies early stops the demo with its log's path and the
 * log's end, and a demo that fails keeps its temporary directory, so the
 * log it names is there to read.
 *
 * Trusted resolution (auth/trust.h): the demo makes an SM2 key per node, the
 * top-level node's being the trust root (handle 0.NA/88, public key in
 * trust-root.pub). Each parent's 0.NA/<child> record carries the child's
 * HS_CERT at index 400 (the top for a secondary, a secondary for an
 * enterprise), and the first DEMO_SIGNED identifiers of each kind carry an
 * HS_SIGNATURE over all their values at 400. The recursive node has the
 * trust root configured.
 *
 * The public gateway: the recursive node also serves HTTP (--http-port,
 * default 8080): the REST API, the proxy and the record page for every
 * identifier of the hierarchy, resolved through its cache. It is a GS1
 * resolver too (--gs1-registry 88/GS1-REGISTRY): the top-level node's
 * registry record maps the motor works' GS1 company prefix 0614141 to its
 * identifiers, and a few motors carry GTINs (write_gs1_products).
 *
 * Statistics reports (docs/statistics.md): every node of the hierarchy
 * serves HTTP (--console-port N and up; its HS_SITE names the listener),
 * each parent's 0.NA/<child> record holds the child's HS_PUBKEY at 300,
 * and each enterprise reports to its secondary, each secondary to the top
 * level, every --report-s seconds (the parent found through the root, the
 * top-level node: its HS_SITE's HTTP interface), signed with an RSA key the demo makes
 * for it (its --server-key, server-key.pem in the node's directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "auth/jws.h"
#include "auth/trust.h"
#include "auth/verify.h"
#include "cli/cli.h"
#include "cli/demo.h"
#include "client/client.h"
#include "core/codec.h"
#include "core/err.h"
#include "node/import.h"
#include "node/site.h"

enum role { ROLE_RECURSIVE, ROLE_TOP, ROLE_SECONDARY, ROLE_ENTERPRISE };

static const char *const role_names[] = {"recursive", "top-level", "secondary", "enterprise"};

/* Port = base + index in this table; the recursive node takes the base port. */
static struct demo_node {
	const char *name; /* its directory and log under the demo directory */
	enum role role;
	const char *prefix;
	const char *desc;
	const char *domain; /* enterprises: the company's web domain */
	int http;           /* its HTTP listener: --console-port + this; -1: none */
	pid_t pid;
} nodes[] = {
    {"recursive", ROLE_RECURSIVE, NULL, "Recursive resolver and public gateway", NULL, -1, 0},
    {"top", ROLE_TOP, "88", "Top-level node 88", NULL, 0, 0},
    {"equipment", ROLE_SECONDARY, "88.100", "Equipment manufacturing", NULL, 2, 0},
    {"food", ROLE_SECONDARY, "88.200", "Food industry", NULL, 3, 0},
    {"motors", ROLE_ENTERPRISE, "88.100.1", "Suzhou Motor Works", "motors.example.com", 1, 0},
    {"bearings", ROLE_ENTERPRISE, "88.100.2", "Wuxi Precision Bearings", "bearings.example.com", 4,
     0},
    {"dairy", ROLE_ENTERPRISE, "88.200.1", "Hulunbuir Dairy Cooperative", "dairy.example.com", 5,
     0},
};
enum { NNODES = sizeof(nodes) / sizeof(nodes[0]) };

/* Trusted resolution: the identifiers of each kind signed, the root's handle, the keys. */
enum { DEMO_SIGNED = 5 };
#define DEMO_ROOT_HANDLE  "0.NA/88"
#define DEMO_GS1_REGISTRY "88/GS1-REGISTRY"
/* The demo's GS1 products: GTINs of company prefix 0614141 (GS1's example), serials. */
static const char *const demo_gtins[] = {"00614141100019", "00614141100026"};
#define DEMO_GS1_SERIALS 3
static EVP_PKEY *node_keys[NNODES]; /* the top-level node's is the trust root */
/* Reporting nodes' --server-key: RSA, as a node signs its answers with it (SM2 cannot). */
static EVP_PKEY *report_keys[NNODES];
static unsigned long demo_http_port = 8080; /* the gateway's; 0 = none */
/*
 * The consoles (docs/console.md): the top-level node's on this port, the
 * motor works' on the next; 0 = none. Each has a back-filled history
 * (demo_history.c) and an account whose password the demo makes.
 */
static unsigned long demo_console_port = 8081;
static char demo_password[24];
/*
 * Statistics reports (docs/statistics.md): each enterprise reports to its
 * secondary and each secondary to the top level every this many seconds,
 * over the HTTP listeners the consoles' ports give (0 = none).
 */
static unsigned long demo_report_s = 60;

/* Whether the demo's nodes report their statistics to their parents. */
static bool reports_on(void)
{
	return demo_console_port && demo_report_s;
}
/* The history's enterprises and their weights; the motor works' console has its own row. */
static const demo_ent demo_ents[] = {{"88.100.1", 3}, {"88.100.2", 2}, {"88.200.1", 4}};
/* The console's account of node i: name, role, identity, prefix (NULL: no console there). */
static const struct demo_console {
	const char *node, *account, *role, *id, *prefix;
} demo_consoles[] = {
    {"top", "operator", "operator", "300:0.NA/88", NULL},
    {"motors", "motors", "enterprise", "300:0.NA/88.100.1", "88.100.1"},
    {"equipment", "operator", "operator", "300:0.NA/88.100", NULL},
    {"food", "operator", "operator", "300:0.NA/88.200", NULL},
};

/* Makes every node's key and writes the root's public half to DIR/trust-root.pub. */
static int make_keys(const char *dir)
{
	for (size_t i = 0; i < NNODES; i++) {
		if (nodes[i].role != ROLE_RECURSIVE && auth_keygen("sm2", &node_keys[i]))
			return -1;
		if ((nodes[i].role == ROLE_SECONDARY || nodes[i].role == ROLE_ENTERPRISE) &&
		    reports_on() && auth_keygen("rsa", &report_keys[i]))
			return -1;
	}
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/trust-root.pub", dir);
	FILE *f = fopen(path, "w");
	if (!f || !PEM_write_PUBKEY(f, node_keys[1])) {
		fprintf(stderr, "idnode demo: %s: cannot write\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}

static void free_keys(void)
{
	for (size_t i = 0; i < NNODES; i++) {
		EVP_PKEY_free(node_keys[i]);
		EVP_PKEY_free(report_keys[i]);
		node_keys[i] = report_keys[i] = NULL;
	}
}

/* Writes ,{HS_CERT} for child (a secondary or an enterprise) issued by node self. */
static int put_cert(FILE *f, size_t self, size_t child)
{
	char iss[64], sub[64], na[64];
	snprintf(iss, sizeof(iss), "300:0.NA/%s", nodes[self].prefix);
	snprintf(sub, sizeof(sub), "300:0.NA/%s", nodes[child].prefix);
	snprintf(na, sizeof(na), "0.NA/%s", nodes[child].prefix);
	trust_perm perms[] = {{na, TRUST_PERM_HANDLES_UNDER_PREFIX},
	                      {na, TRUST_PERM_DERIVED_PREFIXES}};
	int64_t now = (int64_t)time(NULL);
	trust_issue is = {.iss = iss,
	                  .sub = sub,
	                  .iat = now,
	                  .nbf = now - 3600,
	                  .exp = now + 365 * 86400,
	                  .perms = perms,
	                  .nperms = nodes[child].role == ROLE_SECONDARY ? 2 : 1,
	                  .pubkey = node_keys[child]};
	char *payload = trust_cert_payload(&is), *sig = NULL;
	int rc = !payload ||
	         jws_sign(payload, strlen(payload), node_keys[self], JWS_SM2256, &sig, NULL, 0);
	if (!rc)
		fprintf(f, ",{\"index\":400,\"type\":\"HS_CERT\",\"data\":\"%s\"}", sig);
	free(payload);
	free(sig);
	return rc ? -1 : 0;
}

static void *demo_alloc(void *arg, size_t len)
{
	free(*(void **)arg);
	return *(void **)arg = malloc(len);
}

/*
 * The HS_SIGNATURE value (",{...}") over the values of one JSON line (its
 * values as `idnode load` makes them) by enterprise e, malloc'd; NULL on
 * failure.
 */
static char *sign_line(const struct demo_node *e, size_t ei, const char *line, size_t len)
{
	import_opts io = {.case_sensitive = false, .now = 0};
	import_ctx *c = import_new(&io);
	void *mem = NULL;
	import_out out;
	char *payload = NULL, *sig = NULL, *value = NULL;
	uint8_t *buf = malloc(65536);
	if (c && buf && import_line(c, line, len, demo_alloc, &mem, &out) == IDN_OK) {
		wire_wr w = wire_wr_init(buf, 65536);
		for (uint32_t i = 0; i < out.nvalues; i++)
			proto_value_put(&w, &out.values[i]);
		char iss[64], handle[256];
		snprintf(iss, sizeof(iss), "300:0.NA/%s", e->prefix);
		snprintf(handle, sizeof(handle), "%.*s", (int)out.handle.len,
		         (const char *)out.handle.p);
		int64_t now = (int64_t)time(NULL);
		trust_issue is = {.iss = iss,
		                  .sub = handle,
		                  .iat = now,
		                  .nbf = now - 3600,
		                  .exp = now + 365 * 86400};
		if (!w.err &&
		    !trust_sig_payload(&is, idn_slice_of(buf, wire_wr_len(&w)), out.nvalues, NULL,
		                       0, &payload, NULL, 0) &&
		    !jws_sign(payload, strlen(payload), node_keys[ei], JWS_SM2256, &sig, NULL, 0) &&
		    asprintf(&value, ",{\"index\":400,\"type\":\"HS_SIGNATURE\",\"data\":\"%s\"}",
		             sig) < 0)
			value = NULL;
	}
	import_free(c);
	free(mem);
	free(buf);
	free(payload);
	free(sig);
	return value;
}

/*
 * What each enterprise makes: identifier kinds, generated count times each
 * (scaled by --scale). Products point at their batch; every kind names its
 * template (index 1001) and carries its fields from index 2000.
 */
static const struct kind {
	const char *ent;    /* enterprise prefix */
	const char *suffix; /* printf format of the suffix, one %06u */
	unsigned count;
	const char *tmpl; /* template identifier suffix */
	const char *fields[4];
	const char *batch_fmt; /* products: the suffix of their batch (%04u), or NULL */
	unsigned per_batch;
} kinds[] = {
    {"88.100.1",
     "MOTOR-2026-%06u",
     1200,
     "TEMPLATE-MOTOR",
     {"model", "rated_power_kw", "production_date", "serial_plate"},
     "BATCH-M%04u",
     50},
    {"88.100.1",
     "BATCH-M%04u",
     24,
     "TEMPLATE-BATCH",
     {"line", "production_date", "quantity", "inspector"},
     NULL,
     0},
    {"88.100.1",
     "MACHINE-%06u",
     120,
     "TEMPLATE-MACHINE",
     {"model", "workshop", "commissioned", "maintenance_interval_h"},
     NULL,
     0},
    {"88.100.2",
     "BEARING-6204-%06u",
     1000,
     "TEMPLATE-BEARING",
     {"model", "bore_mm", "production_date", "steel_grade"},
     "BATCH-B%04u",
     40},
    {"88.100.2",
     "BATCH-B%04u",
     25,
     "TEMPLATE-BATCH",
     {"line", "production_date", "quantity", "inspector"},
     NULL,
     0},
    {"88.200.1",
     "MILK-2026-%06u",
     1200,
     "TEMPLATE-MILK",
     {"product", "volume_ml", "production_date", "best_before"},
     "BATCH-D%04u",
     60},
    {"88.200.1",
     "BATCH-D%04u",
     20,
     "TEMPLATE-BATCH",
     {"farm", "production_date", "quantity", "inspector"},
     NULL,
     0},
};

static const char *const motor_models[] = {"YE3-132M", "YE3-160L", "YE4-180M", "YE4-200L"};
static const char *const bearing_models[] = {"6204-2RS", "6204-ZZ", "6204-OPEN"};
static const char *const dairy_products[] = {"UHT whole milk", "UHT skimmed milk", "Plain yogurt"};
static const char *const people[] = {"Li Wei", "Wang Fang", "Zhang Min", "Chen Jing", "Liu Yang"};

static void demo_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: idnode demo [--dir DIR] [--base-port N] [--http-port N] [--console-port N]\n"
	    "                   [--scale N]\n"
	    "  runs a resolution hierarchy on 127.0.0.1: a top-level node for 88, secondary\n"
	    "  nodes 88.100 (equipment) and 88.200 (food), three enterprise nodes and a\n"
	    "  recursive node, with sample identifiers; Ctrl-C stops them all.\n"
	    "  --dir DIR       where the nodes keep their data and logs (default: a new\n"
	    "                  temporary directory, removed at the end unless the demo\n"
	    "                  fails; DIR's node subdirectories are replaced, DIR\n"
	    "                  itself kept)\n"
	    "  --base-port N   the recursive node's port; the others take the next six\n"
	    "                  (default 2641)\n"
	    "  --http-port N   the public gateway on the recursive node: REST API, proxy\n"
	    "                  and record pages (default 8080; 0: none)\n"
	    "  --console-port N  the web console of the top-level node (N), of the\n"
	    "                  motor works (N+1) and of the secondaries 88.100 (N+2) and\n"
	    "                  88.200 (N+3), with %d days of made-up statistics; the\n"
	    "                  other enterprises' HTTP listeners take N+4, N+5\n"
	    "                  (default 8081; 0: none, and no reports)\n"
	    "  --report-s S    seconds between the statistics reports each enterprise\n"
	    "                  sends its secondary and each secondary the top level\n"
	    "                  (default 60; 0: none)\n"
	    "  --scale N       sample data in percent of the default (~3600 identifiers;\n"
	    "                  default 100)\n",
	    DEMO_HISTORY_DAYS);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static unsigned port_of(unsigned base, size_t i)
{
	return base + (unsigned)i;
}

static struct demo_node *node_of_prefix(const char *prefix)
{
	for (size_t i = 0; i < NNODES; i++)
		if (nodes[i].prefix && !strcmp(nodes[i].prefix, prefix))
			return &nodes[i];
	return NULL;
}

/* Node d's HTTP port (its console's, where reports go), 0 = none. */
static unsigned http_port(const struct demo_node *d)
{
	return demo_console_port && d->http >= 0 ? (unsigned)demo_console_port + (unsigned)d->http
	                                         : 0;
}

/* The node of d's parent prefix (a secondary's, an enterprise's), NULL for the others. */
static struct demo_node *parent_of(const struct demo_node *d)
{
	char parent[32];
	const char *dot = d->prefix ? strrchr(d->prefix, '.') : NULL;
	if (!dot || (size_t)(dot - d->prefix) >= sizeof(parent))
		return NULL;
	snprintf(parent, sizeof(parent), "%.*s", (int)(dot - d->prefix), d->prefix);
	return node_of_prefix(parent);
}

/* Writes one HS_SITE value (JSON for `idnode load`) describing node i. */
static int put_site(FILE *f, size_t i, unsigned base, unsigned index, const char *type)
{
	char ep[64], http[32];
	snprintf(ep, sizeof(ep), "127.0.0.1:%u", port_of(base, i));
	snprintf(http, sizeof(http), "127.0.0.1:%u", http_port(&nodes[i]));
	site_server srv = {1, ep};
	site_spec spec = {.servers = &srv,
	                  .nservers = 1,
	                  .serial = 1,
	                  .desc = nodes[i].desc,
	                  .http = http_port(&nodes[i]) ? http : NULL};
	uint8_t buf[4096];
	char err[200];
	int n = site_build(&spec, buf, sizeof(buf), err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "idnode demo: site of %s: %s\n", nodes[i].name, err);
		return -1;
	}
	fprintf(f, "{\"index\":%u,\"type\":\"%s\",\"data\":{\"format\":\"hex\",\"value\":\"", index,
	        type);
	char text[2 * sizeof(buf) + 1];
	codec_hex_encode(buf, (size_t)n, text);
	fprintf(f, "%s\"}}", text);
	return 0;
}

/*
 * Writes ,{HS_PUBKEY} of node i's key at index 300: what the parent checks
 * the child's statistics reports against (docs/statistics.md).
 */
static int put_pubkey(FILE *f, size_t i)
{
	uint8_t buf[1024];
	wire_wr w = wire_wr_init(buf, sizeof(buf));
	if (!report_keys[i])
		return 0;
	if (auth_pubkey_encode(report_keys[i], &w) || w.err)
		return -1;
	char text[2 * sizeof(buf) + 1];
	codec_hex_encode(buf, wire_wr_len(&w), text);
	fprintf(f,
	        ",{\"index\":300,\"type\":\"HS_PUBKEY\",\"data\":{\"format\":\"hex\","
	        "\"value\":\"%s\"}}",
	        text);
	return 0;
}

/*
 * The prefix records a top-level or secondary node holds: 0.NA/<own> (its
 * site) and, for each child prefix, 0.NA/<child> with the child's HS_SITE
 * and HS_SITE.PREFIX (so derived prefixes below it are referred there too).
 */
static int write_prefix_records(FILE *f, size_t self, unsigned base)
{
	fprintf(f, "{\"handle\":\"0.NA/%s\",\"values\":[", nodes[self].prefix);
	if (put_site(f, self, base, 1, "HS_SITE"))
		return -1;
	fprintf(f, "]}\n");
	size_t plen = strlen(nodes[self].prefix);
	for (size_t i = 0; i < NNODES; i++) {
		const char *p = nodes[i].prefix;
		/* A child: our prefix, a dot, one more segment. */
		if (!p || strncmp(p, nodes[self].prefix, plen) || p[plen] != '.' ||
		    strchr(p + plen + 1, '.'))
			continue;
		fprintf(f, "{\"handle\":\"0.NA/%s\",\"values\":[", p);
		if (put_site(f, i, base, 1, "HS_SITE") || fputc(',', f) == EOF ||
		    put_site(f, i, base, 2, "HS_SITE.PREFIX") || put_cert(f, self, i) ||
		    put_pubkey(f, i))
			return -1;
		fprintf(f, "]}\n");
	}
	if (!strcmp(nodes[self].prefix, "88"))
		/* GS1 company prefixes' rules; the top-level operator (300:0.NA/88) writes them. */
		fprintf(f,
		        "{\"handle\":\"" DEMO_GS1_REGISTRY "\",\"values\":["
		        "{\"index\":1,\"type\":\"GS1.RULE\",\"data\":\"0614141 "
		        "88.100.1/01.{01}.21.{21}\"},"
		        "{\"index\":2,\"type\":\"GS1.RULE\",\"data\":\"0614141 88.100.1/01.{01}\"},"
		        "{\"index\":100,\"type\":\"HS_ADMIN\",\"data\":{\"format\":\"hex\","
		        "\"value\":\"0fff00000007302e4e412f38380000012c\"}}]}\n");
	fprintf(
	    f,
	    "{\"handle\":\"%s/ABOUT\",\"values\":[{\"index\":1,\"type\":\"URL\",\"data\":"
	    "\"https://idnode.example/%s\"},{\"index\":2,\"type\":\"DESC\",\"data\":\"%s\"}]}\n",
	    nodes[self].prefix, nodes[self].prefix, nodes[self].desc);
	return 0;
}

/* A field's value for identifier number i: plausible, deterministic. */
#define PICK(list, i) ((list)[(i) % (sizeof(list) / sizeof((list)[0]))])

static void field_value(const char *ent, const char *field, unsigned i, char *out, size_t len)
{
	unsigned day = 1 + i % 28, month = 1 + (i / 28) % 12;
	if (!strcmp(field, "model"))
		snprintf(out, len, "%s",
		         !strcmp(ent, "88.100.2") ? PICK(bearing_models, i)
		                                  : PICK(motor_models, i));
	else if (!strcmp(field, "product"))
		snprintf(out, len, "%s", PICK(dairy_products, i));
	else if (!strcmp(field, "production_date") || !strcmp(field, "commissioned"))
		snprintf(out, len, "2026-%02u-%02u", month, day);
	else if (!strcmp(field, "best_before"))
		snprintf(out, len, "2026-%02u-%02u", 1 + month % 12, day);
	else if (!strcmp(field, "inspector"))
		snprintf(out, len, "%s", PICK(people, i));
	else if (!strcmp(field, "rated_power_kw"))
		snprintf(out, len, "%u.%u", 5 + i % 50, i % 10);
	else if (!strcmp(field, "volume_ml"))
		snprintf(out, len, "%u", i % 2 ? 250 : 1000);
	else if (!strcmp(field, "bore_mm"))
		snprintf(out, len, "20");
	else if (!strcmp(field, "steel_grade"))
		snprintf(out, len, "GCr15");
	else if (!strcmp(field, "line") || !strcmp(field, "workshop") || !strcmp(field, "farm"))
		snprintf(out, len, "%c%u", 'A' + i % 4, 1 + i % 6);
	else if (!strcmp(field, "quantity"))
		snprintf(out, len, "%u", 40 + i % 20);
	else if (!strcmp(field, "maintenance_interval_h"))
		snprintf(out, len, "%u", 500 * (1 + i % 4));
	else
		snprintf(out, len, "SN%08u", 10000000 + i * 7919 % 89999999);
}

/* A field's type in its template: what field_value() writes for it. */
static const char *field_type(const char *field)
{
	static const char *const dates[] = {"production_date", "commissioned", "best_before"};
	static const char *const numbers[] = {"rated_power_kw", "volume_ml", "bore_mm", "quantity",
	                                      "maintenance_interval_h"};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++)
		if (!strcmp(field, dates[i]))
			return "date";
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (!strcmp(field, numbers[i]))
			return "number";
	return "string";
}

/* What a person reads for a field or a template: Chinese, then English (the record page's labels).
 */
static const char *demo_label(const char *name)
{
	static const char *const labels[][2] = {
	    {"model", "型号 Model"},
	    {"rated_power_kw", "额定功率 Rated power (kW)"},
	    {"production_date", "生产日期 Production date"},
	    {"serial_plate", "铭牌序列号 Serial plate"},
	    {"line", "产线 Production line"},
	    {"quantity", "数量 Quantity"},
	    {"inspector", "检验员 Inspector"},
	    {"workshop", "车间 Workshop"},
	    {"commissioned", "投用日期 Commissioned"},
	    {"maintenance_interval_h", "保养周期 (小时) Maintenance interval (h)"},
	    {"bore_mm", "内径 Bore (mm)"},
	    {"steel_grade", "钢种 Steel grade"},
	    {"product", "产品 Product"},
	    {"volume_ml", "容量 Volume (ml)"},
	    {"best_before", "保质期至 Best before"},
	    {"farm", "牧场 Farm"},
	    {"TEMPLATE-MOTOR", "电机 Motor"},
	    {"TEMPLATE-BATCH", "批次 Batch"},
	    {"TEMPLATE-MACHINE", "设备 Machine"},
	    {"TEMPLATE-BEARING", "轴承 Bearing"},
	    {"TEMPLATE-MILK", "乳制品 Dairy product"},
	};
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (!strcmp(labels[i][0], name))
			return labels[i][1];
	return name;
}

/* The sample identifiers of enterprise node e; counts them into *count. */
/* Writes line (a record's JSON without its closing "]}") and its HS_SIGNATURE by e. */
static void put_signed(FILE *f, const struct demo_node *e, char *line, size_t len)
{
	char *whole = NULL, *sig = NULL;
	if (asprintf(&whole, "%.*s]}", (int)len, line) >= 0)
		sig = sign_line(e, (size_t)(e - nodes), whole, strlen(whole));
	if (!sig)
		fprintf(stderr, "idnode demo: could not sign a sample identifier\n");
	fprintf(f, "%.*s%s", (int)len, line, sig ? sig : "");
	free(whole);
	free(sig);
	free(line);
}

/*
 * The motor works' GS1 products: per GTIN a product record (88.100.1/01.GTIN:
 * its page in English and Chinese, its manual) and a few serials
 * (88.100.1/01.GTIN.21.SERIAL: the unit's own page and service record).
 */
static void write_gs1_products(FILE *f, const struct demo_node *e, unsigned long *count)
{
	for (size_t g = 0; g < sizeof(demo_gtins) / sizeof(demo_gtins[0]); g++) {
		const char *gt = demo_gtins[g];
		fprintf(
		    f,
		    "{\"handle\":\"%s/01.%s\",\"values\":["
		    "{\"index\":1,\"type\":\"URL\",\"data\":\"https://%s/products/%s\"},"
		    "{\"index\":2,\"type\":\"GS1.LINK.pip\",\"data\":\"https://%s/products/%s "
		    "lang=en type=text/html title=Motor M%zu\"},"
		    "{\"index\":3,\"type\":\"GS1.LINK.pip\",\"data\":\"https://%s/zh/products/%s "
		    "lang=zh type=text/html title=电机 M%zu\"},"
		    "{\"index\":4,\"type\":\"GS1.LINK.instructions\",\"data\":"
		    "\"https://%s/manuals/%s.pdf type=application/pdf title=Manual\"}]}\n",
		    e->prefix, gt, e->domain, gt, e->domain, gt, g + 1, e->domain, gt, g + 1,
		    e->domain, gt);
		(*count)++;
		for (unsigned i = 1; i <= DEMO_GS1_SERIALS; i++) {
			fprintf(f,
			        "{\"handle\":\"%s/01.%s.21.SN%04u\",\"values\":["
			        "{\"index\":1,\"type\":\"URL\",\"data\":\"https://%s/units/%s/"
			        "SN%04u\"},"
			        "{\"index\":2,\"type\":\"GS1.LINK.serviceInfo\",\"data\":"
			        "\"https://%s/service/%s/SN%04u title=Service record\"},"
			        "{\"index\":3,\"type\":\"EMAIL\",\"data\":\"service@%s\"}]}\n",
			        e->prefix, gt, i, e->domain, gt, i, e->domain, gt, i, e->domain);
			(*count)++;
		}
	}
}

static void write_enterprise(FILE *f, const struct demo_node *e, unsigned scale,
                             unsigned long *count)
{
	if (!strcmp(e->prefix, "88.100.1"))
		write_gs1_products(f, e, count);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct kind *kd = &kinds[k];
		if (strcmp(kd->ent, e->prefix))
			continue;
		unsigned n = kd->count * scale / 100;
		if (n == 0)
			n = 1;
		for (unsigned i = 1; i <= n; i++) {
			char suffix[64], v[64], *line = NULL;
			size_t llen = 0;
			FILE *out = f;
			/* The first few go through memory first: they are signed. */
			if (i <= DEMO_SIGNED && !(f = open_memstream(&line, &llen)))
				f = out;
			snprintf(suffix, sizeof(suffix), kd->suffix, i);
			fprintf(f,
			        "{\"handle\":\"%s/%s\",\"values\":["
			        "{\"index\":1,\"type\":\"URL\",\"data\":\"https://%s/id/%s\"},"
			        "{\"index\":2,\"type\":\"EMAIL\",\"data\":\"quality@%s\"},"
			        "{\"index\":3,\"type\":\"manufacturer\",\"data\":\"%s\"}",
			        e->prefix, suffix, e->domain, suffix, e->domain, e->desc);
			if (kd->batch_fmt) {
				char b[64];
				snprintf(b, sizeof(b), kd->batch_fmt, 1 + (i - 1) / kd->per_batch);
				fprintf(f, ",{\"index\":4,\"type\":\"batch\",\"data\":\"%s/%s\"}",
				        e->prefix, b);
			}
			fprintf(f, ",{\"index\":1001,\"type\":\"TEMPLATE\",\"data\":\"%s/%s\"}",
			        e->prefix, kd->tmpl);
			for (unsigned j = 0; j < 4; j++) {
				field_value(e->prefix, kd->fields[j], i, v, sizeof(v));
				fprintf(f, ",{\"index\":%u,\"type\":\"%s\",\"data\":\"%s\"}",
				        2000 + j, kd->fields[j], v);
			}
			if (f != out) {
				fclose(f);
				f = out;
				put_signed(f, e, line, llen);
			}
			fprintf(f, "]}\n");
			(*count)++;
		}
		/*
		 * The template itself: its definition (node/template.h), which
		 * the node checks every write of a record naming it against, and
		 * the field names in index order.
		 */
		fprintf(f,
		        "{\"handle\":\"%s/%s\",\"values\":[{\"index\":1,\"type\":\"TEMPLATE.DEF\","
		        "\"data\":\"{\\\"name\\\":\\\"%s\\\",\\\"fields\\\":[",
		        e->prefix, kd->tmpl, demo_label(kd->tmpl));
		for (unsigned j = 0; j < 4; j++)
			fprintf(f,
			        "%s{\\\"name\\\":\\\"%s\\\",\\\"description\\\":\\\"%s\\\","
			        "\\\"type\\\":\\\"%s\\\",\\\"required\\\":true}",
			        j ? "," : "", kd->fields[j], demo_label(kd->fields[j]),
			        field_type(kd->fields[j]));
		fprintf(f, "]}\"}");
		for (unsigned j = 0; j < 4; j++)
			fprintf(f, ",{\"index\":%u,\"type\":\"FIELD\",\"data\":\"%s\"}", 2000 + j,
			        kd->fields[j]);
		fprintf(f, "]}\n");
		(*count)++;
	}
}

/* Runs this binary with args, output to log (or inherited); returns its pid or -1. */
static pid_t spawn(char *const *args, const char *log, const sigset_t *mask)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigprocmask(SIG_SETMASK, mask, NULL); /* exec keeps the blocked mask: undo ours */
	/*
	 * Out of the terminal's process group: Ctrl-C reaches the demo alone,
	 * which stops the nodes in order instead of racing their own exits.
	 */
	setpgid(0, 0);
	/* And if the demo itself is killed outright, the nodes go with it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127); /* the demo died before prctl */
	if (log) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
	}
	execv("/proc/self/exe", args);
	_exit(127);
}

static int run_load(const char *data, const char *file, const sigset_t *mask)
{
	char *args[] = {"idnode", "load", "--data", (char *)data, "-q", (char *)file, NULL};
	pid_t pid = spawn(args, NULL, mask);
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "idnode demo: loading %s into %s failed\n", file, data);
		return -1;
	}
	return 0;
}

/* SIGTERM to every child, SIGKILL after 10 s; every child reaped. */
static void stop_all(void)
{
	for (size_t i = 0; i < NNODES; i++)
		if (nodes[i].pid > 0)
			kill(nodes[i].pid, SIGTERM);
	for (int round = 0; round < 400; round++) {
		unsigned left = 0;
		for (size_t i = 0; i < NNODES; i++) {
			if (nodes[i].pid <= 0)
				continue;
			if (waitpid(nodes[i].pid, NULL, WNOHANG) == nodes[i].pid)
				nodes[i].pid = 0;
			else
				left++;
		}
		if (!left)
			return;
		if (round == 200)
			for (size_t i = 0; i < NNODES; i++)
				if (nodes[i].pid > 0)
					kill(nodes[i].pid, SIGKILL);
		nanosleep(&(struct timespec){0, 50000000}, NULL);
	}
}

/*
 * Waits (bounded) until node d answers handle with a response code: -1 after
 * timeout_ms, -2 when d exited first (*st its wait status; d->pid cleared).
 */
static int wait_answer(struct demo_node *d, unsigned port, const char *handle, unsigned timeout_ms,
                       int *st)
{
	client_addr a;
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	if (client_addr_parse(addr, 2641, &a, NULL, 0))
		return -1;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		client_resolve_opts o = {.transport = CLIENT_UDP, .timeout_ms = 300};
		uint8_t *ans = NULL;
		size_t len;
		proto_env env;
		proto_msg msg;
		int ret = client_resolve(&a, idn_slice_of(handle, strlen(handle)), &o, &ans, &len,
		                         &env, &msg);
		free(ans);
		if (ret == 0)
			return (int)msg.hdr.rcode;
		if (d->pid > 0 && waitpid(d->pid, st, WNOHANG) == d->pid) {
			d->pid = 0;
			return -2;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			return -1;
		nanosleep(&(struct timespec){0, 50000000}, NULL);
	}
}

/* The console of node d, NULL if none. */
static const struct demo_console *console_of(const struct demo_node *d)
{
	for (size_t k = 0;
	     demo_console_port && k < sizeof(demo_consoles) / sizeof(demo_consoles[0]); k++)
		if (!strcmp(demo_consoles[k].node, d->name))
			return &demo_consoles[k];
	return NULL;
}

/* The console's port of console c: its node's HTTP listener. */
static const struct demo_node *console_node(const struct demo_console *c)
{
	for (size_t i = 0; i < NNODES; i++)
		if (!strcmp(nodes[i].name, c->node))
			return &nodes[i];
	return NULL;
}

static unsigned console_port(const struct demo_console *c)
{
	return console_node(c) ? http_port(console_node(c)) : 0;
}

/* The record that marks the history as demo data (a line of node d's records). */
static void put_history_mark(FILE *f, const struct demo_node *d)
{
	fprintf(f,
	        "{\"handle\":\"%s/DEMO-STATISTICS\",\"values\":[{\"index\":1,\"type\":\"DESC\","
	        "\"data\":\"The statistics of the %d days up to the demo's start are demo data, "
	        "made up by idnode demo (docs/console.md)\"}]}\n",
	        d->prefix, DEMO_HISTORY_DAYS);
}

/*
 * Console c's history and account, in node d's store at data (before the
 * node starts): the history of the enterprises under d's prefix (or d's
 * own); a secondary has none of its own, it shows its enterprises' reports.
 */
static int setup_console(const struct demo_console *c, const struct demo_node *d, const char *dir,
                         const char *data, unsigned scale, const sigset_t *mask)
{
	demo_ent ents[sizeof(demo_ents) / sizeof(demo_ents[0])];
	size_t n = 0, plen = strlen(d->prefix);
	for (size_t k = 0; k < sizeof(demo_ents) / sizeof(demo_ents[0]); k++)
		if (!strncmp(demo_ents[k].prefix, d->prefix, plen) &&
		    (!demo_ents[k].prefix[plen] || demo_ents[k].prefix[plen] == '.'))
			ents[n++] = demo_ents[k];
	char err[256];
	if (d->role != ROLE_SECONDARY && demo_history(data, ents, n, scale, DEMO_HISTORY_DAYS,
	                                              (uint32_t)time(NULL), err, sizeof(err))) {
		fprintf(stderr, "idnode demo: the %s node's history: %s\n", d->name, err);
		return -1;
	}
	char pw[PATH_MAX + 32];
	snprintf(pw, sizeof(pw), "%s/console-password", dir);
	char *args[] = {"idnode",
	                "account",
	                "add",
	                (char *)c->account,
	                "--data",
	                (char *)data,
	                "--role",
	                (char *)c->role,
	                "--id",
	                (char *)c->id,
	                "--password-file",
	                pw,
	                "--no-v1",
	                c->prefix ? "--prefix" : NULL,
	                (char *)c->prefix,
	                NULL};
	char log[PATH_MAX + 48];
	snprintf(log, sizeof(log), "%s/%s/account.log", dir, d->name);
	pid_t pid = spawn(args, log, mask);
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "idnode demo: the %s node's console account failed; see %s\n",
		        d->name, log);
		return -1;
	}
	return 0;
}

/* A password for the consoles' accounts, in dir/console-password (0600). */
static int make_password(const char *dir)
{
	static const char abc[] = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY3479";
	unsigned char raw[16];
	FILE *r = fopen("/dev/urandom", "rb");
	bool ok = r && fread(raw, 1, sizeof(raw), r) == sizeof(raw);
	if (r)
		fclose(r);
	if (!ok)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		demo_password[i] = abc[raw[i] % (sizeof(abc) - 1)];
	demo_password[sizeof(raw)] = 0;
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/console-password", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || fprintf(f, "%s\n", demo_password) < 0 || fclose(f)) {
		fprintf(stderr, "idnode demo: %s: cannot write\n", path);
		return -1;
	}
	return 0;
}

/* Writes node d's private key (index i) to path, mode 0600: its --server-key. */
static int write_key(size_t i, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok = f && PEM_write_PrivateKey(f, report_keys[i], NULL, NULL, 0, NULL, NULL) == 1;
	if ((f && fclose(f)) || !ok) {
		fprintf(stderr, "idnode demo: %s: cannot write\n", path);
		return -1;
	}
	return 0;
}

/*
 * The arguments that make node i report its prefix's statistics to its
 * parent every --report-s seconds, signed with its key (written to key, a
 * buffer of PATH_MAX + 48). The parent's HTTP listener is not named: the
 * node finds it through the root (the top-level node at base + 1; its
 * parent's HS_SITE in 0.NA/<parent> lists the HTTP interface). root and s
 * are the caller's buffers of 32. Returns the number of arguments added.
 */
static int report_args(size_t i, const char *nd, unsigned base, char **args, char *key, char *root,
                       char *s)
{
	struct demo_node *d = &nodes[i], *up = parent_of(d);
	if (!reports_on() || !up || !http_port(up))
		return 0;
	snprintf(key, PATH_MAX + 48, "%s/server-key.pem", nd);
	if (write_key(i, key))
		return -1;
	snprintf(root, 32, "127.0.0.1:%u", port_of(base, 1));
	snprintf(s, 32, "%lu", demo_report_s);
	static char days[16];
	snprintf(days, sizeof(days), "%d", DEMO_HISTORY_DAYS);
	int n = 0;
	args[n++] = "--server-key";
	args[n++] = key;
	args[n++] = "--root";
	args[n++] = root;
	args[n++] = "--stats-report";
	args[n++] = (char *)d->prefix;
	args[n++] = "--stats-report-s";
	args[n++] = s;
	args[n++] = "--stats-flush-s"; /* counts reach the store before the report */
	args[n++] = demo_report_s < 5 ? s : "5";
	args[n++] = "--stats-report-days"; /* the history's days too */
	args[n++] = days;
	return n;
}

/* Sets up node i's data directory and starts it. */
static int start_node(size_t i, const char *dir, unsigned base, unsigned scale,
                      const sigset_t *mask, unsigned long *count)
{
	struct demo_node *d = &nodes[i];
	char nd[PATH_MAX + 32], data[PATH_MAX + 48], in[PATH_MAX + 48], log[PATH_MAX + 48];
	char listen[32], root[32], http[32];
	snprintf(nd, sizeof(nd), "%s/%s", dir, d->name);
	rm_tree(nd);
	if (mkdir(nd, 0755)) {
		fprintf(stderr, "idnode demo: %s: %s\n", nd, strerror(errno));
		return -1;
	}
	snprintf(data, sizeof(data), "%s/data", nd);
	snprintf(in, sizeof(in), "%s/records.jsonl", nd);
	snprintf(log, sizeof(log), "%s/serve.log", nd);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port_of(base, i));
	snprintf(root, sizeof(root), "127.0.0.1:%u", port_of(base, 1));

	if (d->role != ROLE_RECURSIVE) {
		FILE *f = fopen(in, "w");
		if (!f) {
			fprintf(stderr, "idnode demo: %s: %s\n", in, strerror(errno));
			return -1;
		}
		int r = 0;
		if (d->role == ROLE_ENTERPRISE)
			write_enterprise(f, d, scale, count);
		else
			r = write_prefix_records(f, i, base);
		if (console_of(d) && d->role != ROLE_SECONDARY)
			put_history_mark(f, d);
		if (fclose(f) || r || run_load(data, in, mask))
			return -1;
		if (console_of(d) && setup_console(console_of(d), d, dir, data, scale, mask))
			return -1;
	}
	char *args[40], key[PATH_MAX + 48], parent[32], every[32], admin[48];
	int n = 0;
	args[n++] = "idnode";
	args[n++] = "serve";
	args[n++] = "--listen";
	args[n++] = listen;
	args[n++] = "--threads";
	args[n++] = "1";
	char trust_root[PATH_MAX + 32];
	snprintf(trust_root, sizeof(trust_root), "%s/trust-root.pub", dir);
	if (d->role == ROLE_RECURSIVE) {
		args[n++] = "--recursive";
		args[n++] = "--root";
		args[n++] = root;
		args[n++] = "--trust-root";
		args[n++] = trust_root;
		args[n++] = "--trust-root-handle";
		args[n++] = DEMO_ROOT_HANDLE;
		if (demo_http_port) {
			snprintf(http, sizeof(http), "127.0.0.1:%lu", demo_http_port);
			args[n++] = "--http";
			args[n++] = http;
			args[n++] = "--gs1-registry";
			args[n++] = DEMO_GS1_REGISTRY;
		}
	} else {
		args[n++] = "--data";
		args[n++] = data;
		args[n++] = "--home";
		args[n++] = (char *)d->prefix;
		if (d->role != ROLE_ENTERPRISE) {
			args[n++] = "--home"; /* it holds prefix records */
			args[n++] = "0.NA";
		}
		args[n++] = "--site-desc";
		args[n++] = (char *)d->desc;
		/* The node's own identity (its console account's) administers it. */
		snprintf(admin, sizeof(admin), "300:0.NA/%s", d->prefix);
		args[n++] = "--server-admin";
		args[n++] = admin;
		if (http_port(d)) {
			snprintf(http, sizeof(http), "127.0.0.1:%u", http_port(d));
			args[n++] = "--http";
			args[n++] = http;
		}
		int k = report_args(i, nd, base, args + n, key, parent, every);
		if (k < 0)
			return -1;
		n += k;
	}
	args[n] = NULL;
	if ((d->pid = spawn(args, log, mask)) < 0) {
		fprintf(stderr, "idnode demo: cannot start %s: %s\n", d->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* What runs where, and what to try. */
static void print_tour(const char *dir, const char *self, unsigned long base, unsigned long count)
{
	printf(
	    "idnode demo: %d nodes on 127.0.0.1, %lu sample identifiers, data and logs in %s\n\n",
	    NNODES, count, dir);
	printf("  %-11s %-9s %-16s %s\n", "role", "prefix", "address", "");
	for (size_t i = 0; i < NNODES; i++) {
		const struct demo_node *d = &nodes[i];
		char addr[32];
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port_of((unsigned)base, i));
		printf("  %-11s %-9s %-16s %s\n", role_names[d->role], d->prefix ? d->prefix : "*",
		       addr, d->desc);
	}
	const struct demo_node *ent = node_of_prefix("88.200.1");
	if (demo_http_port) {
		const char *gw = "http://127.0.0.1";
		printf("\nOpen in a browser the page a phone shows for a scanned product:\n");
		printf("  %s:%lu/88.100.1/MOTOR-2026-000001?noredirect\n", gw, demo_http_port);
		printf(
		    "The proxy, as a scanned QR code uses it (a redirect to the product's URL):\n");
		printf("  curl -i %s:%lu/88.200.1/MILK-2026-000042\n", gw, demo_http_port);
		printf("The REST API (JSON):\n");
		printf("  curl %s:%lu/api/handles/88.100.2/BEARING-6204-000007\n", gw,
		       demo_http_port);
		printf("A GS1 Digital Link (the QR code on a motor's box: GTIN and serial), its "
		       "links, its QR label:\n");
		printf("  curl -i %s:%lu/01/%s/21/SN0001\n", gw, demo_http_port, demo_gtins[0]);
		printf("  curl '%s:%lu/01/%s/21/SN0001?linkType=linkset'\n", gw, demo_http_port,
		       demo_gtins[0]);
		printf("  %s:%lu/api/labels/88.100.1/01.%s.21.SN0001.svg?gs1=1\n", gw,
		       demo_http_port, demo_gtins[0]);
	}
	for (size_t k = 0;
	     demo_console_port && k < sizeof(demo_consoles) / sizeof(demo_consoles[0]); k++) {
		const struct demo_console *c = &demo_consoles[k];
		if (!k)
			printf("\nThe web console (statistics of the last %d days are demo data; "
			       "password also in %s/console-password):\n",
			       DEMO_HISTORY_DAYS, dir);
		const struct demo_node *d = console_node(c);
		printf("  http://127.0.0.1:%u/console/  user %s, password %s (%s of %s%s)\n",
		       console_port(c), c->account, demo_password, c->role, d->prefix,
		       d->role == ROLE_SECONDARY ? ": its enterprises' figures as \"reported\""
		                                 : "");
	}
	if (reports_on())
		printf(
		    "Statistics reports: each enterprise to its secondary, each secondary to the "
		    "top level, every %lu s (the consoles' \"reported\" figures)\n",
		    demo_report_s);
	printf("\nTry:\n");
	printf("  %s resolve 88.100.1/MOTOR-2026-000001 --server 127.0.0.1:%lu\n", self, base);
	printf("  %s resolve 88.200.1/MILK-2026-000042 --root 127.0.0.1:%lu\n", self, base + 1);
	printf("  %s resolve 88.100.2/NO-SUCH-ITEM --server 127.0.0.1:%lu\n", self, base);
	printf("  %s resolve 88.100.1/MOTOR-2026-000001 --root 127.0.0.1:%lu --trusted \\\n"
	       "      --trust-root %s/trust-root.pub --trust-root-handle %s\n",
	       self, base + 1, dir, DEMO_ROOT_HANDLE);
	printf("\n(%s's values: URL, EMAIL, manufacturer, batch, TEMPLATE at 1001, fields from "
	       "2000. The first %d of each kind are signed: an HS_SIGNATURE at 400, under HS_CERTs "
	       "from the top-level node down; the recursive node sets the verified bit for them.)\n"
	       "Ctrl-C stops every node.\n",
	       ent ? ent->desc : "each identifier", DEMO_SIGNED);
	fflush(stdout);
}

/* The exit status a shell would show for wait status st. */
static int exit_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Says why node d failed, names its log (which the demo keeps: see
 * cmd_demo) and copies the log's end, where the node said why.
 */
static void node_failed(const char *dir, const struct demo_node *d, const char *what)
{
	char log[PATH_MAX + 48], tail[2048];
	snprintf(log, sizeof(log), "%s/%s/serve.log", dir, d->name);
	fprintf(stderr, "idnode demo: the %s node %s; its log is %s\n", d->name, what, log);
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)sizeof(tail) - 1)
		fseek(f, -(long)sizeof(tail) + 1, SEEK_END);
	else
		rewind(f);
	size_t n = fread(tail, 1, sizeof(tail) - 1, f);
	fclose(f);
	tail[n] = 0;
	if (n)
		fprintf(stderr, "--- %s (end) ---\n%s%s--- end of %s ---\n", log, tail,
		        tail[n - 1] == '\n' ? "" : "\n", log);
}

/* Starts node i and waits (15 s at most) until it answers; -1 (said) if it does not. */
static int start_ready(size_t i, const char *dir, unsigned base, unsigned scale,
                       const sigset_t *mask, unsigned long *count)
{
	char probe[64], what[64] = "does not answer within 15 s";
	struct demo_node *d = &nodes[i];
	int st = 0;
	if (start_node(i, dir, base, scale, mask, count))
		return -1;
	/* The recursive node is ready when it resolves through the whole chain. */
	snprintf(probe, sizeof(probe), "%s/ABOUT",
	         d->role == ROLE_RECURSIVE ? "88.100" : d->prefix);
	int rc = wait_answer(d, port_of(base, i), probe, 15000, &st);
	if (rc < 0) {
		if (rc == -2)
			snprintf(what, sizeof(what), "stopped (status %d) at start", exit_code(st));
		node_failed(dir, d, what);
		return -1;
	}
	return 0;
}

/* Waits for Ctrl-C (CLI_OK) or a node that stops on its own (CLI_FAIL). */
static int wait_signals(const sigset_t *wait_set, const char *dir)
{
	int status = CLI_FAIL;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(wait_set, &si);
		if (sig < 0 && errno == EINTR)
			continue;
		if (sig == SIGINT || sig == SIGTERM) {
			fprintf(stderr, "idnode demo: stopping\n");
			status = CLI_OK;
			break;
		}
		/* SIGCHLD: a node died on its own. */
		bool died = false;
		for (size_t i = 0; i < NNODES; i++) {
			int st;
			if (nodes[i].pid > 0 &&
			    waitpid(nodes[i].pid, &st, WNOHANG) == nodes[i].pid) {
				char what[64];
				snprintf(what, sizeof(what), "stopped (status %d)", exit_code(st));
				node_failed(dir, &nodes[i], what);
				nodes[i].pid = 0;
				died = true;
			}
		}
		if (died)
			break;
	}
	return status;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"base-port", required_argument, NULL, 'p'},
	    {"scale", required_argument, NULL, 's'},
	    {"http-port", required_argument, NULL, 'w'},
	    {"console-port", required_argument, NULL, 'c'},
	    {"report-s", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir_opt = NULL;
	unsigned long base = 2641, scale = 100;
	int opt, status = CLI_USAGE;
	char *end;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir_opt = optarg;
			break;
		case 'p':
			base = strtoul(optarg, &end, 10);
			if (*end || base < 1 || base + NNODES > 65536) {
				fprintf(stderr, "idnode demo: --base-port '%s': not a port 1..%d\n",
				        optarg, 65535 - NNODES);
				return CLI_USAGE;
			}
			break;
		case 's':
			scale = strtoul(optarg, &end, 10);
			if (*end || scale < 1 || scale > 10000) {
				fprintf(stderr, "idnode demo: --scale '%s': not 1..10000\n",
				        optarg);
				return CLI_USAGE;
			}
			break;
		case 'w':
			demo_http_port = strtoul(optarg, &end, 10);
			if (*end || demo_http_port > 65535) {
				fprintf(stderr,
				        "idnode demo: --http-port '%s': not a port 0..65535\n",
				        optarg);
				return CLI_USAGE;
			}
			break;
		case 'c':
			demo_console_port = strtoul(optarg, &end, 10);
			if (*end || demo_console_port > 65530) {
				fprintf(stderr,
				        "idnode demo: --console-port '%s': not a port 0..65530\n",
				        optarg);
				return CLI_USAGE;
			}
			break;
		case 'r':
			demo_report_s = strtoul(optarg, &end, 10);
			if (*end || demo_report_s > 86400) {
				fprintf(stderr, "idnode demo: --report-s '%s': not 0..86400\n",
				        optarg);
				return CLI_USAGE;
			}
			break;
		case 'h':
			demo_usage(stdout);
			return CLI_OK;
		default:
			demo_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "idnode demo: unexpected argument '%s'\n", argv[optind]);
		return CLI_USAGE;
	}

	char dir[PATH_MAX], self[PATH_MAX];
	bool tmp = !dir_opt;
	if (tmp) {
		snprintf(dir, sizeof(dir), "%s/idnode-demo-XXXXXX",
		         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(dir)) {
			fprintf(stderr, "idnode demo: %s: %s\n", dir, strerror(errno));
			return CLI_FAIL;
		}
	} else {
		if (mkdir(dir_opt, 0755) && errno != EEXIST) {
			fprintf(stderr, "idnode demo: %s: %s\n", dir_opt, strerror(errno));
			return CLI_FAIL;
		}
		if (!realpath(dir_opt, dir)) {
			fprintf(stderr, "idnode demo: %s: %s\n", dir_opt, strerror(errno));
			return CLI_FAIL;
		}
	}
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[sl > 0 ? sl : 0] = 0;

	/*
	 * Signals are taken with sigtimedwait: blocked from now on (children get
	 * the old mask back before exec).
	 */
	sigset_t wait_set, old;
	sigemptyset(&wait_set);
	sigaddset(&wait_set, SIGINT);
	sigaddset(&wait_set, SIGTERM);
	sigaddset(&wait_set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &wait_set, &old);

	status = CLI_FAIL;
	unsigned long count = 0;
	if (make_keys(dir) || (demo_console_port && make_password(dir)))
		goto out;
	/*
	 * From the top down, the recursive node last: each node starts once
	 * its parents answer, so its first statistics report finds its parent
	 * through the root (started the other way, the leaves' first reports
	 * logged "parent not found"). Records name sites by their ports, known
	 * before any node runs.
	 */
	static const enum role order[] = {ROLE_TOP, ROLE_SECONDARY, ROLE_ENTERPRISE,
	                                  ROLE_RECURSIVE};
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (size_t i = 0; i < NNODES; i++)
			if (nodes[i].role == order[o] &&
			    start_ready(i, dir, (unsigned)base, (unsigned)scale, &old, &count))
				goto out;

	print_tour(dir, self, (unsigned)base, count);
	status = wait_signals(&wait_set, dir);
out:
	stop_all();
	free_keys();
	/* A failed demo keeps its logs: the message above names one of them. */
	if (tmp && status == CLI_OK)
		rm_tree(dir);
	else if (tmp)
		fprintf(stderr, "idnode demo: kept %s for its logs; remove it when done\n", dir);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}
