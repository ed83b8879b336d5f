/*
 * settings_table.c - the rows of server/settings.h: one per setting of a
 * running node (INI key, flag, type, field, default, bounds, help).
 */
#include <stddef.h>

#include "server/settings.h"

#define F(f) offsetof(server_settings, f)
#define BOTH (SETTING_SERVE | SETTING_SITE)

/* clang-format off */
const setting_row settings_rows[] = {
    {.ini = "data", .flag = "data", .short_flag = 'd', .arg = "DIR", .type = SETTING_STR,
     .field = F(data), .scope = SETTING_SERVE,
     .help = "the data directory (created if missing)"},
    {.ini = "store", .flag = "store", .arg = "URI", .type = SETTING_STR, .field = F(data),
     .scope = SETTING_SERVE,
     .help = "a PostgreSQL store instead of --data:\n"
             "postgresql://USER@HOST:PORT/DB (a libpq URI)"},
    {.ini = "store_read", .flag = "store-read", .arg = "URI", .type = SETTING_STR,
     .field = F(store_read), .scope = SETTING_SERVE,
     .help = "read transactions go to this PostgreSQL URI (a\n"
             "streaming replica), writes to --store"},
    {.ini = "listen", .flag = "listen", .short_flag = 'l', .arg = "ADDR:PORT",
     .type = SETTING_LIST, .field = F(listen), .scope = BOTH,
     .help = "UDP and TCP on this address; repeatable\n"
             "(default :2641, every address, IPv4 and IPv6)"},
    {.ini = "home", .flag = "home", .short_flag = 'H', .arg = "PREFIX", .type = SETTING_LIST,
     .field = F(home), .scope = SETTING_SERVE,
     .help = "answer for this prefix (e.g. 88.100.1); repeatable"},
    {.ini = "threads", .flag = "threads", .short_flag = 't', .arg = "N", .type = SETTING_UINT,
     .field = F(threads), .max = 1024, .scope = SETTING_SERVE,
     .help = "worker threads (default: one per CPU)"},
    {.ini = "case_sensitive", .flag = "case-insensitive", .type = SETTING_BOOL,
     .field = F(case_sensitive), .def = 1, .max = 1, .flag_value = 0, .scope = SETTING_SERVE,
     .help = "suffixes are case-insensitive (as the reference's\n"
             "case_sensitive = no); must match how data was loaded"},
    {.ini = "site_serial", .flag = "site-serial", .arg = "N", .type = SETTING_UINT,
     .field = F(site_serial), .def = 1, .max = 0xFFFF, .scope = BOTH,
     .help = "the serial of this site's HS_SITE (default 1)"},
    {.ini = "max_tcp_conns", .flag = "max-tcp-conns", .arg = "N", .type = SETTING_UINT,
     .field = F(max_tcp_conns), .max = 1000000, .scope = SETTING_SERVE,
     .help = "open TCP connections at most; beyond, the idlest\n"
             "one goes (default 4096)"},
    {.ini = "tcp_idle_ms", .flag = "tcp-idle-ms", .arg = "N", .type = SETTING_UINT,
     .field = F(tcp_idle_ms), .max = 86400000, .scope = SETTING_SERVE,
     .help = "close idle TCP connections after N ms (default 30000)"},
    {.ini = "tcp_message_ms", .flag = "tcp-message-ms", .arg = "N", .type = SETTING_UINT,
     .field = F(tcp_message_ms), .max = 86400000, .scope = SETTING_SERVE,
     .help = "a TCP request must be whole N ms after its first\n"
             "byte, or the connection is closed (default 5000)"},
    {.ini = "max_conns_per_source", .flag = "max-conns-per-source", .arg = "N",
     .type = SETTING_UINT, .field = F(max_conns_per_source), .max = 1000000,
     .scope = SETTING_SERVE,
     .help = "TCP and HTTP(S) connections from one IPv4 address\n"
             "or IPv6 /64 at once; beyond, refused (default 256)"},
    {.ini = "max_connections", .flag = "max-connections", .arg = "N", .type = SETTING_UINT,
     .field = F(max_connections), .max = 1000000, .scope = SETTING_SERVE,
     .help = "TCP and HTTP(S) connections open at once, all\n"
             "listeners together; beyond it the idlest one goes\n"
             "(default 0: no limit but --max-tcp-conns,\n"
             "--http-max-conns and the descriptors there are)"},
    {.ini = "udp_answer_max", .flag = "udp-answer-max", .arg = "BYTES", .type = SETTING_UINT,
     .field = F(udp_answer_max), .def = 1232, .min = 512, .max = 1 << 20,
     .scope = SETTING_SERVE,
     .help = "a UDP answer puts at most BYTES on the wire (all its\n"
             "datagrams); a longer one is an RC_ERROR asking for\n"
             "TCP (default 1232, as DNS over UDP)"},
    {.ini = "udp_amplification", .flag = "udp-amplification", .arg = "N", .type = SETTING_UINT,
     .field = F(udp_amplification), .def = 10, .min = 1, .max = 1000, .scope = SETTING_SERVE,
     .help = "... and at most N times the request's bytes (default 10)"},
    {.ini = "udp_rate_limit", .flag = "udp-rate-limit", .arg = "N", .type = SETTING_UINT,
     .field = F(udp_rate_limit), .def = 200, .max = 100000000, .scope = SETTING_SERVE,
     .help = "UDP answers per second to one source network (IPv4\n"
             "/24, IPv6 /56), a second's worth at once; 0: no limit\n"
             "(default 200)"},
    {.ini = "udp_rate_exempt", .flag = "udp-rate-exempt", .arg = "ADDR/BITS",
     .type = SETTING_LIST, .field = F(udp_rate_exempt), .scope = SETTING_SERVE,
     .help = "a network the UDP rate limit does not apply to (a\n"
             "recursive node, a busy NAT); repeatable. The answer\n"
             "budget still applies"},
    {.ini = "udp_rate_slip", .flag = "udp-rate-slip", .arg = "N", .type = SETTING_UINT,
     .field = F(udp_rate_slip), .def = 2, .max = 100, .scope = SETTING_SERVE,
     .help = "over that rate, every N-th answer is an RC_ERROR asking\n"
             "for TCP, the others are dropped; 0: drop all (default 2)"},
    {.ini = "udp_gso", .flag = "no-udp-gso", .type = SETTING_BOOL, .field = F(udp_gso),
     .def = 1, .max = 1, .flag_value = 0, .scope = SETTING_SERVE,
     .help = "send a multi-packet UDP answer as one send per\n"
             "datagram, not as one the kernel cuts into the same\n"
             "512-byte datagrams (UDP GSO, used where it works)"},
    {.ini = "map_size_mb", .arg = "N", .type = SETTING_ULONG, .field = F(map_size_mb), .max = 1ul << 30,
     .scope = SETTING_SERVE,
     .help = "the initial LMDB map size in MiB (default: the store's)"},
    {.ini = "warm", .flag = "warm", .arg = "all|tree|file|off", .type = SETTING_CHOICE,
     .choices = (const char *const[]){"all", "tree", "file", "off", NULL}, .field = F(warm),
     .max = 3, .scope = SETTING_SERVE,
     .help = "the store's warm-up at start, in the background:\n"
             "tree reads the B-tree above its leaves, file the\n"
             "data file (up to the memory available), all both\n"
             "(default; docs/administration.md)"},
    {.ini = "warm_rate", .flag = "warm-rate", .arg = "MB/S", .type = SETTING_UINT,
     .field = F(warm_rate), .max = 1u << 20, .scope = SETTING_SERVE,
     .help = "pace the warm-up's reads (default 0: as fast as\n"
             "the disk goes)"},
    {.ini = "huge_map", .flag = "no-huge-map", .type = SETTING_BOOL, .field = F(huge_map),
     .def = 1, .max = 1, .flag_value = 0, .scope = SETTING_SERVE,
     .help = "leave the store's file in the pages the page cache\n"
             "holds it in: by default an unpaced file warm-up\n"
             "re-reads a store cached in small pieces once, so the\n"
             "node maps it in 2 MiB pages (docs/administration.md)"},
    {.ini = "lookup_cache_mb", .flag = "lookup-cache-mb", .arg = "MB", .type = SETTING_UINT,
     .field = F(lookup_cache_mb), .def = 64, .max = 1u << 16, .scope = SETTING_SERVE,
     .help = "the node's cache of LMDB lookups, one for all\n"
             "workers, kept until the records change: MB MiB,\n"
             "taken as it fills (default 64; 0: none)"},
    {.ini = "http", .flag = "http", .arg = "ADDR:PORT", .type = SETTING_LIST, .field = F(http),
     .scope = SETTING_SERVE | SETTING_SITE,
     .help = "serve HTTP here (REST API, proxy, Handle over HTTP);\n"
             "repeatable; the first is our site's HTTP interface"},
    {.ini = "https", .flag = "https", .arg = "ADDR:PORT", .type = SETTING_LIST,
     .field = F(https), .scope = SETTING_SERVE | SETTING_SITE,
     .help = "the same over TLS (repeatable; the first is our\n"
             "site's HTTPS interface)"},
    {.ini = "tls_cert", .flag = "tls-cert", .arg = "FILE", .type = SETTING_STR,
     .field = F(tls_cert), .scope = SETTING_SERVE, .reload = 1,
     .help = "PEM certificate chain for --https"},
    {.ini = "tls_key", .flag = "tls-key", .arg = "FILE", .type = SETTING_STR,
     .field = F(tls_key), .scope = SETTING_SERVE, .reload = 1,
     .help = "PEM private key for --https"},
    {.ini = "access_log", .flag = "access-log", .arg = "FILE", .type = SETTING_STR,
     .field = F(access_log), .scope = SETTING_SERVE,
     .help = "one line per HTTP request ('-' = stderr)"},
    {.ini = "proxy_schemes", .flag = "proxy-schemes", .arg = "LIST", .type = SETTING_STR,
     .field = F(proxy_schemes), .scope = SETTING_SERVE,
     .help = "URL schemes the proxy redirects to besides http\n"
             "and https, e.g. ftp,sftp (default none; javascript,\n"
             "data, vbscript and file are refused)"},
    {.ini = "http_max_conns", .flag = "http-max-conns", .arg = "N", .type = SETTING_UINT,
     .field = F(http_max_conns), .max = 1000000, .scope = SETTING_SERVE,
     .help = "open HTTP connections at most; beyond, the idlest\n"
             "one goes (default 4096)"},
    {.ini = "http_max_body", .flag = "http-max-body", .arg = "N", .type = SETTING_ULONG,
     .field = F(http_max_body), .max = 1ul << 31, .scope = SETTING_SERVE,
     .help = "request body limit in bytes (default 8 MiB)"},
    {.ini = "http_resolve_max", .flag = "http-resolve-max", .arg = "N", .type = SETTING_UINT,
     .field = F(http_resolve_max), .max = 1000000, .scope = SETTING_SERVE,
     .help = "identifiers per POST /api/resolve at most\n"
             "(default 1000; more get 413)"},
    {.ini = "label_base", .flag = "label-base", .arg = "URL", .type = SETTING_LIST,
     .field = F(label_base), .scope = SETTING_SERVE,
     .help = "QR labels encode URL + the identifier (e.g.\n"
             "https://id.example.com/); repeatable: the first is the\n"
             "default, the others may be asked for with base=\n"
             "(default: http(s)://HOST/ of the request's Host)"},
    {.ini = "gs1_registry", .flag = "gs1-registry", .arg = "HANDLE", .type = SETTING_LIST,
     .field = F(gs1_registry), .scope = SETTING_SERVE,
     .help = "serve GS1 Digital Link URIs over HTTP, mapped to\n"
             "identifiers by the GS1.RULE values of this record\n"
             "(repeatable; docs/gs1-resolver.md)"},
    {.ini = "label_max", .flag = "label-max", .arg = "N", .type = SETTING_UINT,
     .field = F(label_max), .max = 100000, .scope = SETTING_SERVE,
     .help = "identifiers per POST /api/labels at most\n"
             "(default 1000; more get 413)"},
    {.ini = "search_scan_max", .flag = "search-scan-max", .arg = "N", .type = SETTING_UINT,
     .field = F(search_scan_max), .max = 100000000, .scope = SETTING_SERVE,
     .help = "index entries one search visits at most (default\n"
             "100000; a broader query gets 400, docs/search.md)"},
    {.ini = "token_life", .flag = "token-life", .arg = "SECONDS", .type = SETTING_UINT,
     .field = F(token_life), .def = 86400, .min = 1, .max = 30 * 86400, .scope = SETTING_SERVE,
     .help = "management API bearer tokens last this long\n"
             "(default 86400, 24 h as SNMS)"},
    {.ini = "audit_days", .flag = "audit-days", .arg = "N", .type = SETTING_UINT,
     .field = F(audit_days), .def = 365, .max = 36500, .scope = SETTING_SERVE,
     .help = "keep audit log entries N days (default 365;\n"
             "0: forever); older ones are pruned as new come"},
    {.ini = "applications_max", .flag = "applications-max", .arg = "N", .type = SETTING_UINT,
     .field = F(applications_max), .def = 1000, .min = 1, .max = 1000000,
     .scope = SETTING_SERVE,
     .help = "pending enterprise applications at most\n"
             "(default 1000; more get 429)"},
    {.ini = "max_record_bytes", .flag = "max-record-bytes", .arg = "N", .type = SETTING_UINT,
     .field = F(max_record_bytes), .max = 262144, .scope = SETTING_SERVE,
     .help = "refuse to write a record larger than N bytes\n"
             "(default and at most: what one answer carries,\n"
             "~258 KB less the handle)"},
    {.ini = "http_idle_ms", .flag = "http-idle-ms", .arg = "N", .type = SETTING_UINT,
     .field = F(http_idle_ms), .max = 86400000, .scope = SETTING_SERVE,
     .help = "close idle keep-alive connections (default 30000)"},
    {.ini = "http_timeout_ms", .flag = "http-timeout-ms", .arg = "N", .type = SETTING_UINT,
     .field = F(http_timeout_ms), .max = 86400000, .scope = SETTING_SERVE,
     .help = "headers must arrive within N ms, a body within 3N\n"
             "(default 10000; slow clients get 408)"},
    {.ini = "server_id", .flag = "server-id", .arg = "N", .type = SETTING_UINT,
     .field = F(server_id), .def = 1, .max = 0xFFFFFFFFul, .scope = BOTH,
     .help = "our server id in our site (default 1)"},
    {.ini = "site_server", .flag = "site-server", .arg = "ID@ADDR:PORT", .type = SETTING_LIST,
     .field = F(site_server), .scope = BOTH,
     .help = "a server of a multi-server site (repeatable;\n"
             "default: this server alone, at its first --listen)"},
    {.ini = "site_hash", .flag = "site-hash", .arg = "prefix|suffix|all",
     .type = SETTING_CHOICE, .choices = (const char *const[]){"prefix", "suffix", "all", NULL},
     .field = F(site_hash), .max = 2, .scope = BOTH,
     .help = "how the site splits identifiers (default prefix)"},
    {.ini = "site_desc", .flag = "site-desc", .arg = "TEXT", .type = SETTING_STR,
     .field = F(site_desc), .scope = BOTH,
     .help = "the site's desc attribute"},
    {.ini = "advertise", .flag = "advertise", .arg = "ADDR", .type = SETTING_STR,
     .field = F(advertise), .scope = BOTH,
     .help = "the address our site names for a wildcard --listen"},
    {.ini = "server_key", .flag = "server-key", .arg = "FILE", .type = SETTING_STR,
     .field = F(server_key), .scope = BOTH,
     .help = "the node's PEM private key (idnode keygen): signs\n"
             "answers to CT requests (session setups need it) and\n"
             "its public half goes into our HS_SITE"},
    {.ini = "server_admin", .alias = "server_admins", .flag = "server-admin",
     .arg = "INDEX:HANDLE", .type = SETTING_LIST, .field = F(server_admin),
     .scope = SETTING_SERVE,
     .help = "a node-wide administrator (repeatable), e.g.\n"
             "300:0.NA/88.1000; may home, unhome and change anything"},
    {.ini = "value_type_max", .flag = "value-type-max", .arg = "N", .type = SETTING_UINT,
     .field = F(value_type_max), .def = 1024, .min = 8, .max = 65535, .scope = SETTING_SERVE,
     .help = "the longest value type a write may give, bytes\n"
             "(default 1024; longer is refused 202 / HTTP 400)"},
    {.ini = "max_auth_time", .flag = "max-auth-time", .arg = "S", .type = SETTING_UINT,
     .field = F(max_auth_time), .max = 86400, .scope = SETTING_SERVE,
     .help = "seconds a challenged admin request waits (default 60)"},
    {.ini = "pending_auth_mb", .flag = "pending-auth-mb", .arg = "N", .type = SETTING_UINT,
     .field = F(pending_auth_mb), .max = 65536, .scope = SETTING_SERVE,
     .help = "MiB of challenged admin requests held at once;\n"
             "the oldest gives way (default 8)"},
    {.ini = "pending_auth_per_source", .flag = "pending-auth-per-source", .arg = "N",
     .type = SETTING_UINT, .field = F(pending_auth_per_source), .max = 1000000,
     .scope = SETTING_SERVE,
     .help = "challenged requests held per client address\n"
             "(IPv6: per /64); its oldest gives way (default\n"
             "1024)"},
    {.ini = "unauth_sessions", .flag = "unauth-sessions", .arg = "N", .type = SETTING_UINT,
     .field = F(unauth_sessions), .max = 65536, .scope = SETTING_SERVE,
     .help = "Handle and REST sessions not yet authenticated,\n"
             "each table (at most half of it); the least\n"
             "recently used gives way (default 1024)"},
    {.ini = "unauth_sessions_per_source", .flag = "unauth-sessions-per-source", .arg = "N",
     .type = SETTING_UINT, .field = F(unauth_sessions_per_source), .max = 65536,
     .scope = SETTING_SERVE,
     .help = "sessions not yet authenticated per client\n"
             "address (default 256)"},
    {.ini = "login_free_failures", .flag = "login-free-failures", .arg = "N",
     .type = SETTING_UINT, .field = F(login_free_failures), .max = 1000, .scope = SETTING_SERVE,
     .help = "failed logins of one account from one address\n"
             "(4x for the address) before each further attempt\n"
             "waits a back-off doubling from 1 s (default 5)"},
    {.ini = "login_backoff_max", .flag = "login-backoff-max", .arg = "S", .type = SETTING_UINT,
     .field = F(login_backoff_max), .max = 86400, .scope = SETTING_SERVE,
     .help = "the longest back-off after failed logins,\n"
             "seconds (default 60)"},
    {.ini = "login_entries", .flag = "login-entries", .arg = "N", .type = SETTING_UINT,
     .field = F(login_entries), .max = 8388608, .scope = SETTING_SERVE,
     .help = "addresses and (account, address) pairs whose\n"
             "failed logins are remembered; the stalest gives\n"
             "way (default 16384, 56 bytes each)"},
    {.ini = "national_codes", .flag = "national-codes", .arg = "ips|ids|handle",
     .type = SETTING_CHOICE, .choices = (const char *const[]){"ips", "ids", "handle", NULL},
     .field = F(national_codes), .max = 2, .scope = SETTING_SERVE,
     .help = "the response codes for what the national SDKs\n"
             "disagree on (login errors, quotas): id-pointer-sdk's,\n"
             "ID-SDK's, or Handle codes only (default ips;\n"
             "docs/national-system.md)"},
    {.ini = "quota_daily_requests", .flag = "quota-daily-requests", .arg = "N",
     .type = SETTING_ULONG, .field = F(quota_daily), .max = 1ul << 40, .scope = SETTING_SERVE, .reload = 1,
     .help = "authenticated requests one identity may make a\n"
             "UTC day, past which 603 (3 with --national-codes\n"
             "ids|handle); default 0: no limit. A node admin sets\n"
             "one identity's or prefix's quota at runtime:\n"
             "idnode quota, or PUT /api/quotas/KIND/KEY"},
    {.ini = "quota_identifiers", .flag = "quota-identifiers", .arg = "N", .type = SETTING_ULONG,
     .field = F(quota_identifiers), .max = 1ul << 40, .scope = SETTING_SERVE, .reload = 1,
     .help = "identifiers a prefix may hold, past which a\n"
             "create gets 604 (or 2; default 0: no limit)"},
    {.ini = "quota_child_prefixes", .flag = "quota-child-prefixes", .arg = "N",
     .type = SETTING_ULONG, .field = F(quota_children), .max = 1ul << 40,
     .scope = SETTING_SERVE, .reload = 1,
     .help = "child prefixes (0.NA/P.C records or homed P.C) a\n"
             "prefix P may have, past which 605 (or 2; default 0)"},
    {.ini = "recursive", .flag = "recursive", .type = SETTING_BOOL, .field = F(recursive),
     .max = 1, .flag_value = 1, .scope = SETTING_SERVE,
     .help = "also a recursive node: requests with REC set for\n"
             "prefixes not homed here are resolved from --root\n"
             "and cached (--data optional: without it, every\n"
             "resolution is recursive; SIGUSR1 logs the cache\n"
             "statistics)"},
    {.ini = "root", .flag = "root", .arg = "HOST:PORT", .type = SETTING_STR, .field = F(root),
     .scope = SETTING_SERVE,
     .help = "the root site a recursive node resolves from; also\n"
             "where admin identities not in our store are found"},
    {.ini = "identity_timeout_ms", .flag = "identity-timeout-ms", .arg = "N",
     .type = SETTING_UINT, .field = F(identity_timeout_ms), .max = 60000,
     .scope = SETTING_SERVE,
     .help = "time to check such an identity (resolve its\n"
             "HS_PUBKEY, or op 201 for HS_SECKEY; default 2000)"},
    {.ini = "recursive_all", .flag = "recursive-all", .type = SETTING_BOOL,
     .field = F(recursive_all), .max = 1, .flag_value = 1, .scope = SETTING_SERVE,
     .help = "resolve every request recursively, REC or not"},
    {.ini = "group_commit", .flag = "no-group-commit", .type = SETTING_BOOL,
     .field = F(group_commit), .def = 1, .max = 1, .flag_value = 0, .scope = SETTING_SERVE,
     .help = "commit every write on its own instead of the writes\n"
             "of a worker turn together"},
    {.ini = "cache_mb", .flag = "cache-mb", .arg = "N", .type = SETTING_ULONG,
     .field = F(cache_mb), .max = 1ul << 20, .scope = SETTING_SERVE,
     .help = "answer cache budget in MiB (default 64)"},
    {.ini = "neg_ttl", .flag = "neg-ttl", .arg = "S", .type = SETTING_UINT, .field = F(neg_ttl),
     .max = 86400 * 7, .scope = SETTING_SERVE,
     .help = "seconds not-found answers are cached (default 60)"},
    {.ini = "stale_ttl", .flag = "stale-ttl", .arg = "S", .type = SETTING_UINT,
     .field = F(stale_ttl), .max = 86400 * 7, .scope = SETTING_SERVE,
     .help = "seconds an expired answer may be served while every\n"
             "upstream fails (default 300)"},
    {.ini = "trust_root", .flag = "trust-root", .arg = "FILE", .type = SETTING_STR,
     .field = F(trust_root), .scope = SETTING_SERVE,
     .help = "a recursive node's trust root: the PEM public key\n"
             "that HS_CERT chains end at; a request with the\n"
             "trusted-query bit (0x2) is answered with the\n"
             "verified bit (0x1) when the record's HS_SIGNATURE,\n"
             "its chain and every value's digest verify"},
    {.ini = "trust_max_links", .flag = "trust-max-links", .arg = "N", .type = SETTING_UINT,
     .field = F(trust_max_links), .max = 50, .scope = SETTING_SERVE,
     .help = "most HS_CERT links one trusted query may walk (each\n"
             "may be an upstream question; default and at most 50)"},
    {.ini = "trust_budget_ms", .flag = "trust-budget-ms", .arg = "N", .type = SETTING_UINT,
     .field = F(trust_budget_ms), .max = 600000, .scope = SETTING_SERVE,
     .help = "most time the upstream questions of one trusted\n"
             "query's verification may take together (default 3000)"},
    {.ini = "trust_root_handle", .flag = "trust-root-handle", .arg = "HANDLE",
     .type = SETTING_STR, .field = F(trust_root_handle), .scope = SETTING_SERVE,
     .help = "the trust root's handle (default 88.111.1/0.0)"},
    {.ini = "resolver_threads", .flag = "resolver-threads", .arg = "N", .type = SETTING_UINT,
     .field = F(resolver_threads), .max = 256, .scope = SETTING_SERVE,
     .help = "threads resolving cache misses (default 4)"},
    {.ini = "upstream_holddown_ms", .flag = "upstream-holddown-ms", .arg = "MS",
     .type = SETTING_UINT, .field = F(holddown_ms), .max = 3600000, .scope = SETTING_SERVE,
     .help = "a node whose question timed out is not asked for\n"
             "this long (doubling to the max; 0: 1000)"},
    {.ini = "upstream_holddown_max_ms", .flag = "upstream-holddown-max-ms", .arg = "MS",
     .type = SETTING_UINT, .field = F(holddown_max_ms), .max = 86400000,
     .scope = SETTING_SERVE, .help = "the longest hold-down (0: 60000)"},
    {.ini = "http_gateway_threads", .flag = "http-gateway-threads", .arg = "N",
     .type = SETTING_UINT, .field = F(http_gateway_threads), .max = 1024,
     .scope = SETTING_SERVE,
     .help = "threads answering HTTP reads that wait for other\n"
             "nodes (recursive nodes; 0: 16)"},
    {.ini = "http_gateway_queue", .flag = "http-gateway-queue", .arg = "N",
     .type = SETTING_UINT, .field = F(http_gateway_queue), .max = 1000000,
     .scope = SETTING_SERVE,
     .help = "HTTP reads waiting for those threads; beyond: 503\n(0: 1024)"},
    {.ini = "http_gateway_answer_max", .flag = "http-gateway-answer-max", .arg = "N",
     .type = SETTING_ULONG, .field = F(http_gateway_answer_max), .max = 1ul << 31,
     .scope = SETTING_SERVE,
     .help = "bytes of a POST /api/resolve answer a gateway\n"
             "thread builds whole; beyond: 413 (0: 16 MiB)"},
    {.ini = "mirror_of", .flag = "mirror-of", .arg = "HOST:PORT", .type = SETTING_STR,
     .field = F(mirror_of), .scope = SETTING_SERVE,
     .help = "be a mirror of that primary: copy its store over\n"
             "TCP, follow its log, refuse writes"},
    {.ini = "mirror_id", .flag = "id", .arg = "INDEX:HANDLE", .type = SETTING_STR,
     .field = F(mirror_id), .scope = SETTING_SERVE,
     .help = "the mirror's identity, a --server-admin of the primary"},
    {.ini = "mirror_key", .flag = "key", .arg = "FILE", .type = SETTING_STR,
     .field = F(mirror_key), .scope = SETTING_SERVE,
     .help = "its PEM private key (or --secret-file FILE)"},
    {.ini = "mirror_secret_file", .flag = "secret-file", .arg = "FILE", .type = SETTING_STR,
     .field = F(mirror_secret_file), .scope = SETTING_SERVE,
     .help = "a file holding its secret key instead"},
    {.ini = "mirror_page_bytes", .flag = "mirror-page-bytes", .arg = "N", .type = SETTING_UINT,
     .field = F(mirror_page_bytes), .max = 196608, .scope = SETTING_SERVE,
     .help = "answer size a mirror asks for (1024..196608;\n"
             "default 196608)"},
    {.ini = "mirror_lag_log", .flag = "mirror-lag-log", .arg = "S", .type = SETTING_UINT,
     .field = F(mirror_lag_log), .max = 86400, .scope = SETTING_SERVE,
     .help = "seconds between the mirror's lag lines (default 5)"},
    {.ini = "log_max_bytes", .flag = "log-max-bytes", .arg = "N", .type = SETTING_ULONG,
     .field = F(log_max_bytes), .max = 1ul << 40, .scope = SETTING_SERVE,
     .help = "transaction log kept for mirrors, at most N bytes\n"
             "(default 64 MiB)"},
    {.ini = "log_max_age", .flag = "log-max-age", .arg = "S", .type = SETTING_ULONG,
     .field = F(log_max_age), .max = 1ul << 40, .scope = SETTING_SERVE,
     .help = "... and at most S seconds old (default 7 days)"},
    {.ini = "stats", .flag = "no-stats", .type = SETTING_BOOL, .field = F(stats), .def = 1,
     .max = 1, .flag_value = 0, .scope = SETTING_SERVE,
     .help = "keep no statistics (counts per prefix, industry,\n"
             "hour and day; docs/statistics.md)"},
    {.ini = "stats_prefixes", .flag = "stats-prefixes", .arg = "N", .type = SETTING_UINT,
     .field = F(stats_prefixes), .def = 10000, .min = 1, .max = 1000000,
     .scope = SETTING_SERVE,
     .help = "prefixes the statistics track at most; beyond,\n"
             "counted under \"other\" (default 10000)"},
    {.ini = "stats_flush_s", .flag = "stats-flush-s", .arg = "S", .type = SETTING_UINT,
     .field = F(stats_flush_s), .def = 5, .min = 1, .max = 3600, .scope = SETTING_SERVE,
     .help = "seconds between the statistics' writes to the\n"
             "store (default 5; and at shutdown)"},
    {.ini = "stats_hour_days", .flag = "stats-hour-days", .arg = "N", .type = SETTING_UINT,
     .field = F(stats_hour_days), .def = 31, .max = 36500, .scope = SETTING_SERVE,
     .help = "days of hourly statistics kept (default 31; 0: all)"},
    {.ini = "stats_day_days", .flag = "stats-day-days", .arg = "N", .type = SETTING_UINT,
     .field = F(stats_day_days), .def = 1096, .max = 36500, .scope = SETTING_SERVE,
     .help = "days of daily statistics kept (default 1096; 0: all)"},
    {.ini = "stats_public", .flag = "stats-public", .type = SETTING_BOOL,
     .field = F(stats_public), .max = 1, .flag_value = 1, .scope = SETTING_SERVE,
     .help = "GET /api/stats for anyone (default: node admins,\n"
             "--server-admin, only)"},
    {.ini = "stats_parent", .flag = "stats-parent", .arg = "HOST:PORT", .type = SETTING_STR,
     .field = F(stats_parent), .scope = SETTING_SERVE,
     .help = "the parent node's HTTP listener: daily statistics\n"
             "of --stats-report prefixes go there, signed with\n"
             "--server-key (docs/statistics.md); without it,\n"
             "found through --root (0.NA/<parent>'s HS_SITE)"},
    {.ini = "stats_report", .flag = "stats-report", .arg = "PREFIX", .type = SETTING_LIST,
     .field = F(stats_report), .scope = SETTING_SERVE,
     .help = "a prefix this node reports for (repeatable): its\n"
             "0.NA record at the parent holds our key"},
    {.ini = "stats_report_s", .flag = "stats-report-s", .arg = "S", .type = SETTING_UINT,
     .field = F(stats_report_s), .def = 86400, .min = 1, .max = 86400, .scope = SETTING_SERVE,
     .help = "seconds between reports to the parent (default\n"
             "86400; retried with back-off while it is down)"},
    {.ini = "stats_report_days", .flag = "stats-report-days", .arg = "N", .type = SETTING_UINT,
     .field = F(stats_report_days), .def = 7, .min = 1, .max = 366, .scope = SETTING_SERVE,
     .help = "days back a report cycle sends, if not yet\n"
             "acknowledged or changed since (default 7)"},
    {.ini = "metrics", .flag = "metrics", .type = SETTING_BOOL, .field = F(metrics), .max = 1,
     .flag_value = 1, .scope = SETTING_SERVE,
     .help = "serve GET /metrics (Prometheus) on the HTTP\n"
             "listeners, to --metrics-allow"},
    {.ini = "metrics_allow", .flag = "metrics-allow", .arg = "ADDR/BITS", .type = SETTING_LIST,
     .field = F(metrics_allow), .scope = SETTING_SERVE,
     .help = "networks /metrics answers; repeatable (default\n"
             "loopback: 127.0.0.0/8 and ::1)"},
    {.flag = "config", .short_flag = 'c', .arg = "FILE", .type = SETTING_FILE,
     .field = F(config), .scope = SETTING_SERVE | SETTING_SITE,
     .help = "INI file with these settings (in a [server] section\n"
             "or none); the flags given override it"},
};
/* clang-format on */

const size_t settings_nrows = sizeof(settings_rows) / sizeof(settings_rows[0]);

_Static_assert(sizeof(settings_rows) / sizeof(settings_rows[0]) <= SETTINGS_ROWS_MAX,
               "server_settings.given has a byte per row");
