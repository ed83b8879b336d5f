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

#include "auth/sign.h"
#include "cli/cli.h"
#include "node/site.h"
#include "proto/special.h"

enum { SI_MAX_SERVERS = 64 };

static void siteinfo_usage(FILE *f)
{
	fprintf(
	    f, "usage: idnode siteinfo [--listen ADDR:PORT] [--server-id N] [--site-serial N]\n"
	       "                       [--site-server ID@ADDR:PORT]... [--site-hash H]\n"
	       "                       [--site-desc TEXT] [--advertise ADDR] [--server-key FILE]\n"
	       "                       [--index N] [--type T] [--json|--hex|--out FILE]\n"
	       "  the settings as `idnode serve` takes them (first --listen, default :2641;\n"
	       "  --server-key: the node's private key, whose public half the site carries);\n"
	       "  --type HS_SITE (default) or HS_SITE.PREFIX, --index (default 1) name the value;\n"
	       "  --json prints it as an `idnode load` value, --hex the data alone,\n"
	       "  --out writes the raw HS_SITE bytes. Default: a summary and the JSON value.\n");
}

static int parse_num(const char *opt, const char *v, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (!*v || *end || errno || x > max || v[0] == '-') {
		fprintf(stderr, "idnode siteinfo: %s: '%s' is not a number 0..%lu\n", opt, v, max);
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
		while (proto_server_next_iface(&ii, &ifc) == 1)
			printf(" %s/%u", ifc.proto == PROTO_IF_UDP ? "udp" : "tcp", ifc.port);
		printf("\n");
	}
}

int cmd_siteinfo(int argc, char **argv)
{
	enum {
		O_SID = 256,
		O_SERIAL,
		O_SSRV,
		O_SHASH,
		O_SDESC,
		O_ADV,
		O_INDEX,
		O_TYPE,
		O_JSON,
		O_HEX,
		O_OUT,
		O_SKEY
	};
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"server-id", required_argument, NULL, O_SID},
	    {"site-serial", required_argument, NULL, O_SERIAL},
	    {"site-server", required_argument, NULL, O_SSRV},
	    {"site-hash", required_argument, NULL, O_SHASH},
	    {"site-desc", required_argument, NULL, O_SDESC},
	    {"advertise", required_argument, NULL, O_ADV},
	    {"index", required_argument, NULL, O_INDEX},
	    {"type", required_argument, NULL, O_TYPE},
	    {"json", no_argument, NULL, O_JSON},
	    {"hex", no_argument, NULL, O_HEX},
	    {"out", required_argument, NULL, O_OUT},
	    {"server-key", required_argument, NULL, O_SKEY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *listen = ":2641", *out_path = NULL, *type = "HS_SITE";
	site_server srv[SI_MAX_SERVERS];
	unsigned nsrv = 0;
	unsigned long server_id = 1, index = 1, x;
	site_spec spec = {.serial = 1};
	int mode = 0, opt, hash;
	uint8_t pub[4096];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen = optarg;
			break;
		case O_SID:
			if (parse_num("--server-id", optarg, 0xFFFFFFFFul, &server_id))
				return CLI_USAGE;
			break;
		case O_SERIAL:
			if (parse_num("--site-serial", optarg, 0xFFFF, &x))
				return CLI_USAGE;
			spec.serial = (uint16_t)x;
			break;
		case O_SSRV: {
			char *at = strchr(optarg, '@'), *end;
			unsigned long id = at ? strtoul(optarg, &end, 10) : 0;
			if (!at || end != at || id > 0xFFFFFFFFul || nsrv == SI_MAX_SERVERS) {
				fprintf(stderr,
				        "idnode siteinfo: --site-server '%s': not ID@ADDR:PORT\n",
				        optarg);
				return CLI_USAGE;
			}
			srv[nsrv++] = (site_server){(uint32_t)id, at + 1};
			break;
		}
		case O_SHASH:
			if ((hash = site_hash_parse(optarg)) < 0) {
				fprintf(
				    stderr,
				    "idnode siteinfo: --site-hash '%s': prefix, suffix or all\n",
				    optarg);
				return CLI_USAGE;
			}
			spec.hash_opt = (uint8_t)hash;
			break;
		case O_SDESC:
			spec.desc = optarg;
			break;
		case O_ADV:
			spec.advertise_addr = optarg;
			break;
		case O_SKEY: {
			/* The node's key (serve --server-key): its public half goes in. */
			char err[512];
			auth_key *k = NULL;
			wire_wr w = wire_wr_init(pub, sizeof(pub));
			if (auth_key_load(optarg, &k, err, sizeof(err)) || auth_key_public(k, &w)) {
				fprintf(stderr, "idnode siteinfo: --server-key %s\n",
				        k ? "has no usable public half" : err);
				auth_key_free(k);
				return CLI_USAGE;
			}
			auth_key_free(k);
			spec.pubkey = idn_slice_of(pub, wire_wr_len(&w));
			break;
		}
		case O_INDEX:
			if (parse_num("--index", optarg, 0x7FFFFFFF, &index))
				return CLI_USAGE;
			break;
		case O_TYPE:
			if (strcmp(optarg, "HS_SITE") && strcmp(optarg, "HS_SITE.PREFIX")) {
				fprintf(stderr,
				        "idnode siteinfo: --type '%s': HS_SITE or HS_SITE.PREFIX\n",
				        optarg);
				return CLI_USAGE;
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
			return CLI_OK;
		default:
			siteinfo_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "idnode siteinfo: unexpected argument '%s'\n", argv[optind]);
		return CLI_USAGE;
	}
	if (nsrv == 0)
		srv[nsrv++] = (site_server){(uint32_t)server_id, listen};
	spec.servers = srv;
	spec.nservers = nsrv;

	static uint8_t buf[16384];
	char err[256];
	int n = site_build(&spec, buf, sizeof(buf), err, sizeof(err));
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
