/*
 * cmd_template.c - `idnode template create|show`: data templates (see
 * node/template.h for the definition format).
 *
 *   idnode template create HANDLE FILE --server S --id INDEX:HANDLE
 *                          (--key PEM | --secret-file F) [--value ...] [--overwrite]
 *       checks FILE here (so a mistake is named with the file before anything
 *       is sent), then creates HANDLE with the definition as its TEMPLATE.DEF
 *       value at index 1, through the authenticated create of `idnode create`
 *       (its other options are passed on, e.g. an HS_ADMIN --value).
 *   idnode template show HANDLE --server S
 *       resolves HANDLE and prints its fields, one a line.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "client/client.h"
#include "core/err.h"
#include "node/template.h"

enum { DEF_MAX = 16000 }; /* one value of `idnode create` holds up to 16 KiB */

static void template_usage(FILE *f)
{
	fprintf(f,
	        "usage: idnode template create HANDLE FILE --server HOST:PORT --id INDEX:HANDLE\n"
	        "                              (--key PEM | --secret-file FILE) [--value ...] "
	        "[--overwrite]\n"
	        "       idnode template show HANDLE --server HOST:PORT\n"
	        "FILE is JSON: {\"fields\":[{\"name\":\"model\",\"type\":\"string\","
	        "\"required\":true,\n"
	        "  \"minLength\":1,\"maxLength\":32,\"pattern\":\"^YE\"}, ...], "
	        "\"additionalFields\":false}\n"
	        "types: string, number (min, max), date (YYYY-MM-DD), url, file.\n"
	        "Identifiers use it with --value 1001:TEMPLATE:HANDLE and fields from index "
	        "2000.\n");
}

/* Reads FILE whole (at most DEF_MAX bytes); NULL with a message printed. */
static char *read_def(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "idnode template: %s: cannot open: %m\n", path);
		return NULL;
	}
	char *buf = malloc(DEF_MAX + 1);
	size_t n = buf ? fread(buf, 1, DEF_MAX + 1, f) : 0;
	bool err = ferror(f);
	fclose(f);
	if (!buf || err || n > DEF_MAX) {
		fprintf(stderr, "idnode template: %s: %s\n", path,
		        n > DEF_MAX ? "larger than 16000 bytes" : "cannot read");
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

static int template_create(int argc, char **argv)
{
	/* argv: create HANDLE FILE [admin options] */
	if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		template_usage(stderr);
		return CLI_USAGE;
	}
	size_t len;
	char *def = read_def(argv[2], &len);
	if (!def)
		return CLI_USAGE;
	char err[320];
	tmpl *t = NULL;
	if (memchr(def, 0, len) ||
	    tmpl_parse(idn_slice_of(def, len), &t, err, sizeof(err)) != IDN_OK) {
		fprintf(stderr, "idnode template: %s: %s\n", argv[2],
		        memchr(def, 0, len) ? "contains a NUL byte" : err);
		free(def);
		return CLI_FAIL;
	}
	tmpl_free(t);
	/* idnode create HANDLE [options] --value 1:TEMPLATE.DEF:<json> */
	size_t vlen = strlen("1:" TMPL_DEF_TYPE ":") + len + 1;
	char *value = malloc(vlen);
	char **av = calloc((size_t)argc + 4, sizeof(*av));
	int status = CLI_FAIL;
	if (!value || !av)
		goto out;
	snprintf(value, vlen, "1:" TMPL_DEF_TYPE ":%s", def);
	int ac = 0;
	av[ac++] = "create";
	for (int i = 3; i < argc; i++)
		av[ac++] = argv[i];
	av[ac++] = "--value";
	av[ac++] = value;
	av[ac++] = argv[1];
	status = cmd_admin(ac, av);
out:
	free(av);
	free(value);
	free(def);
	return status;
}

static int template_show(int argc, char **argv)
{
	static const struct option longopts[] = {{"server", required_argument, NULL, 's'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	const char *server = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		if (opt == 's') {
			server = optarg;
		} else {
			template_usage(opt == 'h' ? stdout : stderr);
			return opt == 'h' ? CLI_OK : CLI_USAGE;
		}
	}
	if (optind + 1 != argc || !server) {
		template_usage(stderr);
		return CLI_USAGE;
	}
	const char *handle = argv[optind];
	client_addr addr;
	char err[320];
	if (client_addr_parse(server, 2641, &addr, err, sizeof(err))) {
		fprintf(stderr, "idnode template: --server %s: %s\n", server, err);
		return CLI_USAGE;
	}
	idn_slice type = IDN_SLICE(TMPL_DEF_TYPE);
	client_resolve_opts o = {.transport = CLIENT_TCP, .types = &type, .ntypes = 1};
	uint8_t *ans = NULL;
	size_t alen;
	proto_env env;
	proto_msg m;
	int status = CLI_FAIL;
	tmpl *t = NULL;
	json_t *root = NULL;
	int ret =
	    client_resolve(&addr, idn_slice_of(handle, strlen(handle)), &o, &ans, &alen, &env, &m);
	if (ret) {
		fprintf(stderr, "idnode template: %s: %s: %s\n", handle, server,
		        client_strerror(ret));
		goto out;
	}
	proto_resolve_resp rr;
	idn_slice def = {0};
	/* 200: the handle is there, but no value of the type asked for. */
	bool none = m.hdr.rcode == PROTO_RC_VALUE_NOT_FOUND;
	if (!none && (m.hdr.rcode != PROTO_RC_SUCCESS || proto_resolve_resp_decode(m.body, &rr))) {
		fprintf(stderr, "idnode template: %s: %u %s\n", handle, m.hdr.rcode,
		        proto_rc_name(m.hdr.rcode));
		goto out;
	}
	if (!none) {
		proto_values_it it = proto_values_begin(rr.values, rr.nvalues);
		proto_values_match want = {.type = type};
		proto_value v;
		while (proto_values_find(&it, &want, &v) == 1)
			def = v.data;
	}
	if (!def.p) {
		fprintf(stderr, "idnode template: %s has no %s value: not a template\n", handle,
		        TMPL_DEF_TYPE);
		goto out;
	}
	if (tmpl_parse(def, &t, err, sizeof(err))) {
		fprintf(stderr, "idnode template: %s: invalid definition: %s\n", handle, err);
		goto out;
	}
	root = json_loadb((const char *)def.p, def.len, 0, NULL);
	json_t *name = json_object_get(root, "name");
	printf("template %s%s%s%s: %zu fields%s\n", handle, json_is_string(name) ? " (" : "",
	       json_is_string(name) ? json_string_value(name) : "", json_is_string(name) ? ")" : "",
	       tmpl_nfields(t),
	       json_is_true(json_object_get(root, "additionalFields")) ? ", others allowed" : "");
	json_t *f;
	size_t i;
	json_array_foreach(json_object_get(root, "fields"), i, f)
	{
		/* One line per field: name, type, then its rules as given. */
		printf("%-24s %-7s", json_string_value(json_object_get(f, "name")),
		       json_string_value(json_object_get(f, "type")));
		if (json_is_true(json_object_get(f, "required")))
			printf(" required");
		static const char *const rules[] = {"minLength", "maxLength", "min", "max", NULL};
		for (const char *const *r = rules; *r; r++) {
			json_t *v = json_object_get(f, *r);
			if (json_is_number(v))
				printf(" %s=%g", *r, json_number_value(v));
		}
		json_t *p = json_object_get(f, "pattern");
		if (json_is_string(p))
			printf(" pattern=%s", json_string_value(p));
		printf("\n");
	}
	status = CLI_OK;
out:
	json_decref(root);
	tmpl_free(t);
	free(ans);
	return status;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} template_cmds[] = {
    {"create", template_create},
    {"show", template_show},
};

int cmd_template(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		template_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (size_t i = 0; i < sizeof(template_cmds) / sizeof(template_cmds[0]); i++)
		if (!strcmp(argv[1], template_cmds[i].name))
			return template_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "idnode template: unknown command '%s' (create, show)\n", argv[1]);
	return CLI_USAGE;
}
