/*
 * resolve.c - libidnode's example: resolves a handle and prints its values.
 *
 *   resolve HANDLE [--server HOST:PORT | --root HOST:PORT] [--type T]...
 *
 * Built with the public header and libidnode only:
 *   cc resolve.c $(pkg-config --cflags --libs idnode)
 */
#include <idnode.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *types[16];
	size_t ntypes = 0;
	idnode_client *c;
	if (argc < 2) {
		fprintf(stderr, "usage: resolve HANDLE [--server HOST:PORT | --root HOST:PORT] "
		                "[--type T]...\n");
		return 2;
	}
	if (idnode_client_new(&c))
		return 2;
	int ret = 0;
	for (int i = 2; i + 1 < argc && !ret; i += 2) {
		if (!strcmp(argv[i], "--server"))
			ret = idnode_client_set_server(c, argv[i + 1]);
		else if (!strcmp(argv[i], "--root"))
			ret = idnode_client_set_root(c, argv[i + 1]);
		else if (!strcmp(argv[i], "--type") && ntypes < 16)
			types[ntypes++] = argv[i + 1];
		else
			ret = IDNODE_EINVAL;
	}
	idnode_record *r = NULL;
	if (!ret)
		ret = idnode_resolve(c, argv[1], types, ntypes, NULL, 0, &r);
	if (ret) {
		fprintf(stderr, "resolve %s: %s: %s\n", argv[1], idnode_strerror(ret),
		        idnode_client_error(c));
		idnode_client_free(c);
		return ret == IDNODE_ENOTFOUND ? 1 : 2;
	}
	printf("%s: %zu values\n", idnode_record_handle(r), idnode_record_count(r));
	for (size_t i = 0; i < idnode_record_count(r); i++) {
		const idnode_value *v = idnode_record_value(r, i);
		printf("%u %s ", v->index, v->type);
		if (idnode_value_is_text(v))
			printf("%s\n", (const char *)v->data);
		else
			printf("(%zu bytes)\n", v->len);
	}
	idnode_record_free(r);
	idnode_client_free(c);
	return 0;
}
