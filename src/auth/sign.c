/* sign.c - loading the node's key and signing CT answers (see sign.h). */
#include "auth/sign.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verify.h"
#include "proto/cred.h"
#include "proto/proto.h"

struct auth_key {
	EVP_PKEY *pkey;
};

int auth_key_load(const char *path, auth_key **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %m", path);
		return IDN_EIO;
	}
	EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!pkey) {
		snprintf(err, errlen, "%s: not a PEM private key (%s)", path,
		         ERR_reason_error_string(ERR_get_error()));
		return IDN_ECRYPTO;
	}
	auth_key *k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		return IDN_ENOMEM;
	}
	k->pkey = pkey;
	/*
	 * A key must sign an answer (SHA-256, as from 2.7): OpenSSL's SM2 signs
	 * with SM3 only, so an SM2 key fails here, at start, and not at each
	 * session setup (which would close the connection unanswered).
	 */
	uint8_t probe[1200];
	if (auth_sign_answer(k, 2, 10, IDN_SLICE("probe"), probe, sizeof(probe)) < 0) {
		snprintf(err, errlen,
		         "%s: this key cannot sign the node's answers with SHA-256 (an SM2 key "
		         "cannot): make an RSA or DSA key (idnode keygen --type rsa)",
		         path);
		ERR_clear_error();
		auth_key_free(k);
		return IDN_ENOTSUP;
	}
	*out = k;
	return IDN_OK;
}

EVP_PKEY *auth_key_pkey(const auth_key *k)
{
	return k ? k->pkey : NULL;
}

void auth_key_free(auth_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int auth_key_public(const auth_key *k, wire_wr *w)
{
	return auth_pubkey_encode(k->pkey, w);
}

int auth_sign_answer(void *arg, uint8_t major, uint8_t minor, idn_slice hb, uint8_t *out,
                     size_t cap)
{
	auth_key *k = arg;
	bool sha256 = proto_ver(major, minor) >= proto_ver(2, 7);
	uint8_t sig[1024];
	size_t siglen = sizeof(sig);
	int ret = IDN_ECRYPTO;

	if ((size_t)EVP_PKEY_get_size(k->pkey) > sizeof(sig))
		return IDN_ERANGE;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return IDN_ENOMEM;
	if (EVP_DigestSignInit(ctx, NULL, sha256 ? EVP_sha256() : EVP_sha1(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, hb.p, hb.len) != 1)
		goto out;

	proto_cred c = {
	    .type = IDN_SLICE(PROTO_CRED_SIGNED),
	    .hash_alg = sha256 ? IDN_SLICE("SHA256") : IDN_SLICE("SHA1"),
	    .sig = idn_slice_of(sig, siglen),
	};
	wire_wr w = wire_wr_init(out, cap);
	proto_cred_put(&w, &c);
	ret = w.err ? w.err : (int)wire_wr_len(&w);
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}
