/*
 * cmd_keygen.c - `idnode keygen --type rsa|dsa|sm2 --out FILE
 * [--pubkey-format handle|pem]`: a private key in PEM (PKCS#8, mode 0600)
 * for an admin identity; the public half printed as HS_PUBKEY value data to
 * store at the identity's handle: the hex of the Handle binary form, or the
 * PEM text of the key (the national SDKs' form, id-pointer-sdk
 * client/ValueHelper.java).
 */
#include <fcntl.h>
#include <getopt.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/verify.h"
#include "cli/cli.h"
#include "core/codec.h"
#include "core/err.h"

static void keygen_usage(FILE *f)
{
	fprintf(f,
	        "usage: idnode keygen --type rsa|dsa|sm2 --out FILE [--pubkey-format handle|pem]\n"
	        "  -t, --type T     rsa (2048 bits), dsa (2048/256) or sm2\n"
	        "  -o, --out FILE   where the PEM private key goes (created, mode 0600)\n"
	        "  -p, --pubkey-format F\n"
	        "                   how the public key is printed as HS_PUBKEY value data:\n"
	        "                   handle (default): the Handle binary encoding, in hex\n"
	        "                     (store it with format \"hex\");\n"
	        "                   pem: the PEM text of its SubjectPublicKeyInfo, as the\n"
	        "                     national system's SDKs store it (format \"string\")\n");
}

int cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"type", required_argument, NULL, 't'},
	    {"out", required_argument, NULL, 'o'},
	    {"pubkey-format", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *type = NULL, *path = NULL, *format = "handle";
	int opt, status = CLI_USAGE;
	EVP_PKEY *pk = NULL;
	FILE *f = NULL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:o:p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			type = optarg;
			break;
		case 'o':
			path = optarg;
			break;
		case 'p':
			format = optarg;
			break;
		case 'h':
			keygen_usage(stdout);
			return CLI_OK;
		default:
			keygen_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (!type || !path || optind != argc) {
		keygen_usage(stderr);
		return CLI_USAGE;
	}
	bool pem = !strcmp(format, "pem");
	if (!pem && strcmp(format, "handle")) {
		fprintf(stderr, "idnode keygen: --pubkey-format %s: expected handle or pem\n",
		        format);
		return CLI_USAGE;
	}
	int ret = auth_keygen(type, &pk);
	if (ret == IDN_EINVAL) {
		fprintf(stderr, "idnode keygen: --type %s: expected rsa, dsa or sm2\n", type);
		goto out;
	}
	status = CLI_FAIL;
	if (ret) {
		fprintf(stderr, "idnode keygen: cannot generate a %s key: %s\n", type,
		        idn_strerror(ret));
		goto out;
	}
	/* A private key is created unreadable to others, and never over an existing file. */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "idnode keygen: %s: cannot create: %m\n", path);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f)) {
		fprintf(stderr, "idnode keygen: %s: cannot write the key\n", path);
		goto out;
	}
	static uint8_t pub[8192];
	wire_wr w = wire_wr_init(pub, sizeof(pub));
	if ((ret = pem ? auth_pubkey_encode_pem(pk, &w) : auth_pubkey_encode(pk, &w))) {
		fprintf(stderr, "idnode keygen: cannot encode the public key: %s\n",
		        idn_strerror(ret));
		goto out;
	}
	static char text[2 * sizeof(pub) + 1];
	if (pem) {
		fwrite(pub, 1, wire_wr_len(&w), stdout); /* ends with its own newline */
	} else {
		codec_hex_encode(pub, wire_wr_len(&w), text);
		printf("%s\n", text);
	}
	status = CLI_OK;
out:
	if (f)
		fclose(f);
	EVP_PKEY_free(pk);
	return status;
}
