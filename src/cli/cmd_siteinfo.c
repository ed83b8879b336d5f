/*
 * cmd_siteinfo.c - `idnode siteinfo`: the HS_SITE a node's settings describe
 * (the same that node answers to GET_SITE_INFO), written as a value for the
 * parent's 0.NA/<prefix> record, as hex, or as raw bytes to a file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "proto/reserved.h"
#include "server/server.h"
#include "server/settings.h"

static void siteinfo_usage(FILE *f)
{
	fprintf(f, "usage: idnode siteinfo [site settings] [--index N] [--type T]\n"
	           "                       [--json|--hex|--out FILE]\n"
	           "  the site settings as `idnode serve` takes them (first --listen, default\n"
	           "  :2641; --server-key: the node's private key, whose public half the site\n"
	           "  carries; -c: the node's own file, other keys of it ignored):\n");
	settings_usage_rows(f, SETTING_SITE);
	fprintf(
	    f, "  --type HS_SITE (default) or HS_SITE.PREFIX, --index (default 1) name the value;\n"
	       "  --json prints it as an `idnode load` value, --hex the data alone,\n"
	       "  --out writes the raw HS_SITE bytes. Default: a summary and the JSON value.\n");
}

static int parse_index(const char *v, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (!*v || *end || errno || x > 0x7FFFFFFF || v[0] == '-') {
		fprintf(stderr, "idnode siteinfo: --index: '%s' is not a number 0..%lu\n", v,
		        0x7FFFFFFFul);
		return -1;
	}
	*out = x;
	return 0;
}

static void print_hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* A readable summary of the site, from its own encoding (so it shows what peers will read). */
static void print_summary(const uint8_t *p, size_t n)
{
	proto_site s;
	if (proto_site_decode(idn_slice_of(p, n), &s))
		return;
	static const char *hash[] = {"prefix", "suffix", "all"};
	printf("site: protocol 2.%u, serial %u, %u server%s, split by %s\n", s.minor, s.serial,
	       s.nservers, s.nservers == 1 ? "" : "s", s.hash_opt < 3 ? hash[s.hash_opt] : "?");
	wire_rd it = proto_site_servers(&s);
	proto_server srv;
	while (proto_site_next_server(&it, &srv) == 1) {
		char addr[64];
		uint8_t v4[4];
		if (proto_addr_ipv4(srv.addr, v4))
			snprintf(addr, sizeof(addr), "%u.%u.%u.%u", v4[0], v4[1], v4[2], v4[3]);
		else
			snprintf(addr, sizeof(addr), "(IPv6)");
		printf("  server %u at %s:", srv.id, addr);
		wire_rd ii = proto_server_ifaces(&srv);
		proto_iface ifc;
		static const char *proto[] = {"udp", "tcp", "http", "https"};
		while (proto_server_next_iface(&ii, &ifc) == 1)
			printf(" %s/%u", ifc.proto < 4 ? proto[ifc.proto] : "?", ifc.port);
		printf("\n");
	}
}

/* Builds the site of settings s and writes it as mode and out_path ask. */
static int write_site(const server_settings *s, const char *out_path, int mode, unsigned long index,
                      const char *type)
{
	static uint8_t buf[16384];
	char err[640];
	int n = server_site_info(s, NULL, buf, sizeof(buf), err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "idnode siteinfo: %s\n", err);
		return CLI_USAGE;
	}
	if (out_path) {
		FILE *f = fopen(out_path, "wb");
		if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n || fclose(f)) {
			fprintf(stderr, "idnode siteinfo: %s: %s\n", out_path, strerror(errno));
			if (f)
				fclose(f);
			return CLI_FAIL;
		}
		return CLI_OK;
	}
	if (mode == 2) {
		print_hex(stdout, buf, (size_t)n);
		printf("\n");
		return CLI_OK;
	}
	if (mode == 0)
		print_summary(buf, (size_t)n);
	printf("{\"index\":%lu,\"type\":\"%s\",\"data\":{\"format\":\"hex\",\"value\":\"", index,
	       type);
	print_hex(stdout, buf, (size_t)n);
	printf("\"}}\n");
	return CLI_OK;
}

/* The options of siteinfo's own, after the site settings' (server/settings.h). */
enum { O_INDEX = 256, O_TYPE, O_JSON, O_HEX, O_OUT };
static const struct option own_options[] = {
    {"index", required_argument, NULL, O_INDEX}, {"type", required_argument, NULL, O_TYPE},
    {"json", no_argument, NULL, O_JSON},         {"hex", no_argument, NULL, O_HEX},
    {"out", required_argument, NULL, O_OUT},
};

int cmd_siteinfo(int argc, char **argv)
{
	struct option opts[SETTINGS_ROWS_MAX + 8];
	char shortopts[32];
	size_t n = settings_options(SETTING_SITE, opts, SETTINGS_ROWS_MAX + 2, shortopts,
	                            sizeof(shortopts));
	memcpy(opts + n, own_options, sizeof(own_options));
	opts[n + sizeof(own_options) / sizeof(own_options[0])] = (struct option){0};
	const char *out_path = NULL, *type = "HS_SITE";
	unsigned long index = 1;
	int mode = 0, opt, status = CLI_USAGE;
	server_settings set;
	settings_init(&set);

	optind = 1;
	while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		int r = settings_take_option(&set, opt, optarg, "idnode siteinfo", stderr);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		switch (opt) {
		case O_INDEX:
			if (parse_index(optarg, &index))
				goto out;
			break;
		case O_TYPE:
			if (strcmp(optarg, "HS_SITE") && strcmp(optarg, "HS_SITE.PREFIX")) {
				fprintf(stderr,
				        "idnode siteinfo: --type '%s': HS_SITE or HS_SITE.PREFIX\n",
				        optarg);
				goto out;
			}
			type = optarg;
			break;
		case O_JSON:
			mode = 1;
			break;
		case O_HEX:
			mode = 2;
			break;
		case O_OUT:
			out_path = optarg;
			break;
		case 'h':
			siteinfo_usage(stdout);
			status = CLI_OK;
			goto out;
		default:
			siteinfo_usage(stderr);
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "idnode siteinfo: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if (set.config) { /* the node's file, as serve reads it; the flags override it */
		server_settings file;
		settings_init(&file);
		if (!settings_load_file(&file, set.config, "idnode siteinfo", stderr)) {
			settings_merge(&file, &set);
			status = write_site(&file, out_path, mode, index, type);
		}
		settings_free(&file);
	} else
		status = write_site(&set, out_path, mode, index, type);
out:
	settings_free(&set);
	return status;
}
