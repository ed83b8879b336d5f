/*
 * settings.h - every setting of a running node, in one table.
 *
 * One row per setting (its INI key, its flag, its type, the field it fills,
 * its default, its bounds, its help). From the rows come the usage text, the
 * INI parser (libinih), the command-line flags (getopt_long), the
 * flag-over-file merge and the validation of each value; `idnode serve`
 * takes them all, `idnode siteinfo` the rows marked SETTING_SITE. A new
 * setting is one field in server_settings and one row in settings.c.
 *
 * Errors are written to the caller's FILE, prefixed with the caller's name
 * ("idnode serve: ..."), and name where the value came from: the flag
 * ("--threads"), or the file (path, then "path:LINE: invalid setting").
 *
 * Ownership: the strings of a server_settings are its own (strdup'ed);
 * settings_free() releases them.
 */
#ifndef IDN_SERVER_SETTINGS_H
#define IDN_SERVER_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

enum { SETTINGS_LIST_MAX = 64, SETTINGS_ROWS_MAX = 128 };

/* A repeatable setting: a flag given at least once replaces the file's list. */
typedef struct settings_list {
	char *v[SETTINGS_LIST_MAX];
	unsigned n;
} settings_list;

typedef struct server_settings {
	char *config;     /* -c FILE: where the file's settings came from */
	char *data;       /* LMDB directory or PostgreSQL URI (--data, --store) */
	char *store_read; /* reads from this PostgreSQL URI (a replica); NULL = the store's */
	settings_list listen, home, udp_rate_exempt;
	unsigned threads;
	int case_sensitive;
	unsigned site_serial;
	unsigned max_tcp_conns, tcp_idle_ms, tcp_message_ms;
	unsigned max_conns_per_source; /* TCP and HTTP from one address; 0 = net's default */
	unsigned max_connections;      /* TCP and HTTP connections together; 0 = no limit */
	unsigned long map_size_mb;
	/* the LMDB lookup cache all workers share, MiB (store_opts.lookup_cache), 0 = none */
	unsigned lookup_cache_mb;
	int warm;           /* the store's warm-up: all, tree, file, off (store.h) */
	unsigned warm_rate; /* MB/s, 0 = unpaced */
	int huge_map;       /* the LMDB map in 2 MiB pages (store_opts.huge_map) */
	/* UDP answers (net.h): the budget, and the rate per source network with its slip. */
	unsigned udp_answer_max, udp_amplification, udp_rate_limit, udp_rate_slip;
	int udp_gso; /* multi-packet UDP answers segmented by the kernel (net_config.udp_no_gso) */
	settings_list http, https; /* HTTP(S) listeners (REST API, proxy, Handle over HTTP) */
	char *tls_cert, *tls_key;  /* PEM files for the HTTPS listeners */
	char *access_log;          /* "-" = stderr */
	char *proxy_schemes;       /* URL schemes the proxy redirects to besides http(s) */
	unsigned http_max_conns, http_idle_ms, http_timeout_ms;
	unsigned long http_max_body;
	unsigned http_resolve_max; /* identifiers per POST /api/resolve */
	settings_list label_base;  /* QR labels point under these URLs (api_labels.c) */
	unsigned label_max;        /* identifiers per POST /api/labels */
	unsigned search_scan_max;  /* index entries a search visits at most */
	/* management accounts: token lifetime (s), audit retention (days), pending applications */
	unsigned token_life, audit_days, applications_max;
	settings_list gs1_registry; /* records of GS1.RULE values (api_gs1_rules.c) */
	unsigned max_record_bytes;  /* records larger are refused when written */
	/* Our site (GET_SITE_INFO, the multi-server split): see node/site.h. */
	unsigned server_id;
	settings_list site_server; /* "ID@ADDR:PORT": a multi-server site's servers */
	int site_hash;
	char *site_desc;
	char *advertise;
	char *server_key;             /* PEM private key: signs CT answers, in our HS_SITE */
	settings_list server_admin;   /* "INDEX:HANDLE" node-wide administrators */
	unsigned max_auth_time;       /* seconds a challenged admin request is held, 0 = 60 */
	unsigned value_type_max;      /* longest value type a write may give, bytes */
	unsigned identity_timeout_ms; /* checking an identity held elsewhere, 0 = 2000 */
	/* What strangers make the node hold (node_config; 0 = the node's defaults). */
	unsigned pending_auth_mb, pending_auth_per_source;
	unsigned unauth_sessions, unauth_sessions_per_source;
	unsigned login_free_failures, login_backoff_max, login_entries;
	int national_codes; /* enum node_codes */
	/* The quotas' defaults (node/quota.h); 0 = none. */
	unsigned long quota_daily, quota_identifiers, quota_children;
	/* The recursive role (resolver/resolver.h). */
	int recursive, recursive_all;
	int group_commit; /* 0: every write commits (and fsyncs) on its own */
	char *root;
	unsigned long cache_mb;
	unsigned neg_ttl, stale_ttl, resolver_threads;
	unsigned holddown_ms, holddown_max_ms;             /* 0 = the resolver's defaults */
	unsigned http_gateway_threads, http_gateway_queue; /* 0 = the api's defaults */
	char *trust_root, *trust_root_handle;              /* trusted resolution (resolver.h) */
	unsigned trust_max_links;                          /* 0 = TRUST_MAX_LINKS */
	unsigned trust_budget_ms;                          /* 0 = resolver's default */
	/* bytes of one answer a gateway thread builds whole; 0 = the api's default */
	unsigned long http_gateway_answer_max;
	/* A mirror (repl/mirror.h): the primary, and who we are to it. */
	char *mirror_of, *mirror_id, *mirror_key, *mirror_secret_file;
	unsigned mirror_page_bytes; /* 0 = the default (192 KiB) */
	unsigned mirror_lag_log;    /* seconds between lag lines, 0 = the default (5) */
	/* Statistics and metrics (node/stats.h, docs/statistics.md). */
	int stats, stats_public, metrics;
	unsigned stats_prefixes, stats_flush_s, stats_hour_days, stats_day_days;
	/* Reports to the parent (node/stats_report.h): its HTTP HOST:PORT, the prefixes. */
	char *stats_parent;
	settings_list stats_report;
	unsigned stats_report_s, stats_report_days;
	settings_list metrics_allow;
	/* Transaction log bounds (store.h); 0 = the defaults (64 MiB, 7 days). */
	unsigned long log_max_bytes, log_max_age;
	/* The command line it came from, read again on SIGHUP (set by the caller). */
	int argc;
	char **argv;
	/* Which rows set this struct (flags: the ones that override the file). */
	unsigned char given[SETTINGS_ROWS_MAX];
} server_settings;

typedef enum setting_type {
	SETTING_STR,    /* char *; a second value replaces the first */
	SETTING_LIST,   /* settings_list; each value adds one */
	SETTING_UINT,   /* unsigned, min..max */
	SETTING_ULONG,  /* unsigned long, min..max */
	SETTING_BOOL,   /* int: yes/no, true/false, on/off, 1/0; the flag sets flag_value */
	SETTING_CHOICE, /* int: the index of one of the row's choices (or the index itself) */
	SETTING_FILE,   /* the INI file (-c): a flag only */
} setting_type;

/* Which command takes a row. */
enum { SETTING_SERVE = 1, SETTING_SITE = 2 };

typedef struct setting_row {
	const char *ini;   /* INI key; NULL = a flag only */
	const char *alias; /* another INI key for the same setting, or NULL */
	const char *flag;  /* long flag without "--"; NULL = the file only */
	char short_flag;   /* 0 = none */
	const char *arg;   /* the flag's argument in the usage; NULL for a SETTING_BOOL */
	setting_type type;
	size_t field; /* offsetof(server_settings, ...) */
	unsigned long def, min, max;
	int flag_value;             /* SETTING_BOOL: what its flag sets */
	const char *const *choices; /* SETTING_CHOICE: the names, NULL-terminated */
	unsigned scope;             /* SETTING_SERVE | SETTING_SITE */
	const char *help;           /* lines separated by '\n' */
	int reload;                 /* 1: a running node takes a new value on SIGHUP */
} setting_row;

/* The table, and its length. */
extern const setting_row settings_rows[];
extern const size_t settings_nrows;

/* Every field at its row's default. */
void settings_init(server_settings *s);
void settings_free(server_settings *s);

/*
 * Applies one value of row r. where: the flag ("--threads") or the file's
 * path, for the error. Returns 0 or -1 after writing why to err.
 */
int settings_apply(server_settings *s, const setting_row *r, const char *where, const char *v,
                   const char *prog, FILE *err);

/* Reads an INI file into s ([server] section or none). 0, or -1 after saying why. */
int settings_load_file(server_settings *s, const char *path, const char *prog, FILE *err);

/* Moves every setting given in flags over file's (a list replaces the file's list). */
void settings_merge(server_settings *file, server_settings *flags);

/*
 * getopt_long's options of the rows of scope into opts (room for cap, the
 * terminating zero row included), then "help"; the short ones into
 * shortopts. A row's option value is SETTINGS_OPT_BASE + its index, or its
 * short flag. Returns the count written, before the terminator, so a
 * command may append its own options.
 */
enum { SETTINGS_OPT_BASE = 1000 };
struct option;
size_t settings_options(unsigned scope, struct option *opts, size_t cap, char *shortopts,
                        size_t shortcap);

/*
 * Applies getopt_long's (opt, optarg) to s when opt is a row's. Returns 1
 * when applied, 0 when opt is no row's, -1 on a bad value (said to err).
 */
int settings_take_option(server_settings *s, int opt, const char *arg, const char *prog, FILE *err);

/* The rows of scope in the usage: flag, argument, help, and INI key where it differs. */
void settings_usage_rows(FILE *f, unsigned scope);

/*
 * `idnode serve`'s arguments: the flags, the -c file under them, every
 * value checked, and the checks between settings (a mirror needs an
 * identity, a recursive node a root, ...); listen defaults to :2641.
 * Returns SETTINGS_OK, SETTINGS_HELP (usage printed to out) or
 * SETTINGS_BAD (why said to err).
 */
enum { SETTINGS_OK = 0, SETTINGS_HELP = 1, SETTINGS_BAD = -1 };
int settings_parse_serve(server_settings *s, int argc, char **argv, FILE *out, FILE *err);
void settings_usage_serve(FILE *f);

/*
 * (settings_doc.c) The table as documents, so they never drift from it:
 * idnode.conf(5) in roff (SETTINGS_DOC_MAN), an example INI file with every
 * setting commented out at its default (SETTINGS_DOC_INI), or the INI keys,
 * one a line (SETTINGS_DOC_KEYS). date: the pages' date (e.g. "2026-12-07").
 */
/* (settings_doc.c) s[0..n) as roff text: backslashes and hyphens escaped, a line
 * starting with '.' or '\'' defused (also the group pages of `idnode man-doc`). */
void roff_text(FILE *f, const char *s, size_t n);
enum settings_doc { SETTINGS_DOC_MAN, SETTINGS_DOC_INI, SETTINGS_DOC_KEYS };
void settings_doc(FILE *f, enum settings_doc what, const char *version, const char *date);

#endif
