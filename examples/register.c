/*
 * register.c - libidnode's example: registers an identifier with a URL as an
 * administrator with a private key, as a label printer or MES would, then
 * reads it back and lists the prefix.
 *
 *   register SERVER INDEX:ADMIN-HANDLE KEY.pem HANDLE URL
 *
 * Built with the public header and libidnode only:
 *   cc register.c $(pkg-config --cflags --libs idnode)
 */
#include <idnode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_name(void *arg, const char *handle)
{
	(void)arg;
	printf("listed %s\n", handle);
	return 0;
}

static int fail(idnode_client *c, const char *what, int ret)
{
	fprintf(stderr, "register: %s: %s: %s\n", what, idnode_strerror(ret),
	        idnode_client_error(c));
	idnode_client_free(c);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 6 || !strchr(argv[2], ':')) {
		fprintf(stderr, "usage: register SERVER INDEX:ADMIN-HANDLE KEY.pem HANDLE URL\n");
		return 2;
	}
	idnode_client *c;
	idnode_values *vs;
	if (idnode_client_new(&c) || idnode_values_new(&vs))
		return 2;
	uint32_t index = (uint32_t)strtoul(argv[2], NULL, 10);
	int ret = idnode_client_set_server(c, argv[1]);
	if (!ret)
		ret = idnode_client_set_identity_key(c, index, strchr(argv[2], ':') + 1, argv[3],
		                                     NULL);
	if (ret) {
		idnode_values_free(vs);
		return fail(c, "setup", ret);
	}

	idnode_value url = {
	    .index = 1, .type = "URL", .data = (const uint8_t *)argv[5], .len = strlen(argv[5])};
	char admin[512], err[256];
	snprintf(admin, sizeof admin, "100:HS_ADMIN:%s", argv[2]);
	ret = idnode_values_add(vs, &url);
	if (!ret && (ret = idnode_values_add_text(vs, admin, err, sizeof err)))
		fprintf(stderr, "register: %s\n", err);
	if (!ret)
		ret = idnode_create(c, argv[4], vs, 0, NULL);
	idnode_values_free(vs);
	if (ret)
		return fail(c, "create", ret);
	printf("created %s\n", argv[4]);

	/* Read it back (resolution asks over UDP, the admin calls went in one session). */
	idnode_record *r;
	const char *types[] = {"URL"};
	ret = idnode_resolve(c, argv[4], types, 1, NULL, 0, &r);
	if (ret)
		return fail(c, "resolve", ret);
	const idnode_value *v = idnode_record_find(r, "URL");
	printf("resolved %s URL %s\n", idnode_record_handle(r), v ? (const char *)v->data : "-");
	idnode_record_free(r);

	char prefix[256];
	snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(argv[4], "/"), argv[4]);
	ret = idnode_list(c, prefix, print_name, NULL);
	if (ret)
		return fail(c, "list", ret);
	idnode_client_free(c);
	return 0;
}
