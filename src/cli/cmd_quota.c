/*
 * cmd_quota.c - a node admin's look at and change of the quotas of a running
 * node, through its REST API (GET, PUT, DELETE /api/quotas/{kind}/{key};
 * docs/national-system.md):
 *
 *   idnode quota get|unset|recount KIND KEY --http HOST:PORT --id INDEX:HANDLE
 *                                  (--secret-file FILE | --key FILE)
 *   idnode quota set KIND KEY LIMIT ...
 *
 * KIND is daily (KEY INDEX:HANDLE), identifiers or child-prefixes (KEY a
 * prefix). A secret-key identity authenticates with HTTP Basic; a key pair
 * (RSA, DSA, SM2) signs a REST session's nonce (POST /api/sessions, then
 * Authorization: Handle on the request itself). Plain HTTP: for the
 * loopback or an administration network. Prints the node's JSON answer.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "auth/verify.h"
#include "cli/cli.h"
#include "client/admin_auth.h"
#include "client/client.h"
#include "core/codec.h"
#include "core/err.h"

enum { ANS_MAX = 1 << 20, HTTP_TIMEOUT_S = 30 };

typedef struct quota_opts {
	const char *http, *id, *key, *secret_file;
	client_addr addr;
	char host[300]; /* Host: header */
} quota_opts;

/* An HTTP answer: status and body (NUL-terminated, malloc'd). */
typedef struct http_ans {
	int status;
	char *body;
} http_ans;

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: idnode quota get|unset|recount KIND KEY --http HOST:PORT --id INDEX:HANDLE\n"
	       "                    (--secret-file FILE | --key FILE)\n"
	       "       idnode quota set KIND KEY LIMIT ...\n"
	       "  KIND: daily (KEY INDEX:HANDLE), identifiers or child-prefixes (KEY a prefix)\n"
	       "  set LIMIT: 0 = no limit for this key; unset: back to the node's default;\n"
	       "  recount: count a prefix again from its records (after idnode load/restore)\n"
	       "  only node admins (serve --server-admin) may look or change\n");
}

/* Percent-encodes s (all but unreserved characters and '/') into out. */
static void pct(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; *s && n + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~/", c))
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
	}
	out[n] = 0;
}

/* One request on a fresh connection (Connection: close); the answer in *a. */
static int http_call(const quota_opts *o, const char *method, const char *path, const char *auth,
                     const char *body, http_ans *a)
{
	int fd = socket(o->addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return IDN_ENET;
	struct timeval tv = {.tv_sec = HTTP_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char *buf = malloc(ANS_MAX + 1);
	int ret = buf ? IDN_OK : IDN_ENOMEM;
	if (!ret && connect(fd, (const struct sockaddr *)&o->addr.ss, o->addr.len))
		ret = IDN_ENET;
	size_t blen = body ? strlen(body) : 0;
	int n = ret ? 0
	            : snprintf(buf, ANS_MAX,
	                       "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s%s%s"
	                       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	                       method, path, o->host, auth ? "Authorization: " : "",
	                       auth ? auth : "", auth ? "\r\n" : "", blen, body ? body : "");
	if (!ret && (n <= 0 || n >= ANS_MAX || send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n))
		ret = IDN_ENET;
	size_t got = 0;
	ssize_t r = 1;
	while (!ret && got < ANS_MAX && (r = recv(fd, buf + got, ANS_MAX - got, 0)) > 0)
		got += (size_t)r;
	close(fd);
	if (!ret && r < 0)
		ret = errno == EAGAIN ? IDN_ETIMEOUT : IDN_ENET;
	if (ret) {
		free(buf);
		return ret;
	}
	buf[got] = 0;
	char *sep = strstr(buf, "\r\n\r\n");
	if (!sep || sscanf(buf, "HTTP/1.%*d %d", &a->status) != 1) {
		free(buf);
		return IDN_EPROTO;
	}
	a->body = strdup(sep + 4);
	free(buf);
	return a->body ? IDN_OK : IDN_ENOMEM;
}

/* "Basic base64(pct(INDEX:HANDLE):secret)" into out. */
static int basic_auth(const quota_opts *o, char *out, size_t cap)
{
	uint8_t secret[4096];
	size_t slen;
	if (client_identity_read_secret(o->secret_file, secret, sizeof(secret), &slen)) {
		fprintf(stderr, "idnode quota: --secret-file %s: cannot read: %m\n",
		        o->secret_file);
		return -1;
	}
	char user[1024], raw[6000];
	pct(o->id, user, sizeof(user));
	size_t ul = strlen(user);
	memcpy(raw, user, ul);
	raw[ul] = ':';
	memcpy(raw + ul + 1, secret, slen);
	if (codec_base64_len(ul + 1 + slen) + 7 > cap)
		return -1;
	memcpy(out, "Basic ", 6);
	codec_base64_encode((const uint8_t *)raw, ul + 1 + slen, out + 6);
	return 0;
}

/*
 * A REST session signed with --key: "Handle sessionId=.., id=.., type=HS_PUBKEY,
 * alg=.., cnonce=.., signature=.." into out.
 */
static int handle_auth(const quota_opts *o, char *out, size_t cap)
{
	FILE *f = fopen(o->key, "r");
	EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!key) {
		fprintf(stderr, "idnode quota: --key %s: not a readable PEM private key\n", o->key);
		return -1;
	}
	http_ans a = {0};
	int ret = http_call(o, "POST", "/api/sessions", NULL, NULL, &a);
	json_t *doc = ret ? NULL : json_loads(a.body, 0, NULL);
	const char *sid = json_string_value(json_object_get(doc, "sessionId"));
	const char *nonce64 = json_string_value(json_object_get(doc, "nonce"));
	uint8_t nonce[256], cnonce[16], sig[4096];
	ssize_t nl = nonce64 ? codec_base64_decode((const uint8_t *)nonce64, strlen(nonce64), 0,
	                                           nonce, sizeof(nonce), NULL)
	                     : -1;
	int status = -1;
	wire_wr sw = wire_wr_init(sig, sizeof(sig));
	const char *handle = strchr(o->id, ':') + 1;
	if (ret || !sid || nl <= 0) {
		fprintf(stderr, "idnode quota: %s: POST /api/sessions: %s\n", o->http,
		        ret ? idn_strerror(ret) : "no sessionId and nonce in the answer");
	} else if (RAND_bytes(cnonce, sizeof(cnonce)) != 1 ||
	           auth_respond_pubkey(key, idn_slice_of(handle, strlen(handle)), 1,
	                               idn_slice_of(nonce, (size_t)nl),
	                               idn_slice_of(cnonce, sizeof(cnonce)), &sw)) {
		fprintf(stderr, "idnode quota: --key %s: cannot sign the session's nonce\n",
		        o->key);
	} else {
		/* The signed response: str hash name, bytes signature. */
		wire_rd rd = wire_rd_init(sig, wire_wr_len(&sw));
		idn_slice alg = wire_get_lbytes(&rd), s = wire_get_lbytes(&rd);
		char id[1024], c64[32], s64[6000];
		pct(o->id, id, sizeof(id));
		codec_base64_encode(cnonce, sizeof(cnonce), c64);
		codec_base64_encode(s.p, s.len, s64);
		int n = snprintf(out, cap,
		                 "Handle sessionId=\"%s\", id=\"%s\", type=\"HS_PUBKEY\", "
		                 "alg=\"%.*s\", cnonce=\"%s\", signature=\"%s\"",
		                 sid, id, (int)alg.len, (const char *)alg.p, c64, s64);
		status = rd.err || n <= 0 || (size_t)n >= cap ? -1 : 0;
	}
	json_decref(doc);
	free(a.body);
	EVP_PKEY_free(key);
	return status;
}

/* Runs the call; prints the answer. */
static int quota_run(quota_opts *o, const char *op, const char *kind, const char *key,
                     const char *limit)
{
	char path[4096], k[3000], auth[8192], body[64] = "";
	pct(key, k, sizeof(k));
	snprintf(path, sizeof(path), "/api/quotas/%s/%s", kind, k);
	const char *method = "GET";
	if (!strcmp(op, "set") || !strcmp(op, "recount")) {
		method = "PUT";
		if (op[0] == 's')
			snprintf(body, sizeof(body), "{\"limit\":%s}", limit);
		else
			snprintf(body, sizeof(body), "{\"recount\":true}");
	} else if (!strcmp(op, "unset")) {
		method = "DELETE";
	}
	if (o->secret_file ? basic_auth(o, auth, sizeof(auth)) : handle_auth(o, auth, sizeof(auth)))
		return CLI_FAIL;
	http_ans a = {0};
	int ret = http_call(o, method, path, auth, body[0] ? body : NULL, &a);
	if (ret) {
		fprintf(stderr, "idnode quota: %s: %s\n", o->http, idn_strerror(ret));
		return CLI_FAIL;
	}
	int status = CLI_OK;
	if (a.status != 200) {
		json_t *doc = json_loads(a.body, 0, NULL);
		const char *msg = json_string_value(json_object_get(doc, "message"));
		fprintf(stderr, "idnode quota: %s %s: HTTP %d: %s\n", method, path, a.status,
		        msg ? msg : a.body);
		json_decref(doc);
		status = CLI_FAIL;
	} else {
		printf("%s\n", a.body);
	}
	free(a.body);
	return status;
}

int cmd_quota(int argc, char **argv)
{
	quota_opts o = {0};
	/* Each option's val is the index of the field it fills. */
	const char **field[] = {&o.http, &o.id, &o.key, &o.secret_file};
	static const struct option lo[] = {
	    {"http", required_argument, 0, 0}, {"id", required_argument, 0, 1},
	    {"key", required_argument, 0, 2},  {"secret-file", required_argument, 0, 3},
	    {"help", no_argument, 0, 'H'},     {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c >= 0 && c < 4) {
			*field[c] = optarg;
			continue;
		}
		usage(c == 'H' ? stdout : stderr);
		return c == 'H' ? CLI_OK : CLI_USAGE;
	}
	int nargs = argc - optind;
	const char *op = nargs > 0 ? argv[optind] : "";
	bool set = !strcmp(op, "set");
	bool known = set || !strcmp(op, "get") || !strcmp(op, "unset") || !strcmp(op, "recount");
	char *end = NULL;
	if (set && nargs == 4)
		(void)strtoull(argv[optind + 3], &end, 10);
	if (!known || nargs != (set ? 4 : 3) || !o.http || !o.id || !o.key == !o.secret_file ||
	    (set && (*end || !*argv[optind + 3] || argv[optind + 3][0] == '-'))) {
		usage(stderr);
		return CLI_USAGE;
	}
	const char *colon = strchr(o.id, ':');
	if (!colon || colon == o.id || strspn(o.id, "0123456789") != (size_t)(colon - o.id) ||
	    !strchr(colon, '/')) {
		fprintf(stderr, "idnode quota: --id %s: expected INDEX:HANDLE\n", o.id);
		return CLI_USAGE;
	}
	char err[256];
	if (client_addr_parse(o.http, 80, &o.addr, err, sizeof(err))) {
		fprintf(stderr, "idnode quota: --http %s: %s\n", o.http, err);
		return CLI_USAGE;
	}
	snprintf(o.host, sizeof(o.host), "%s", o.http);
	return quota_run(&o, op, argv[optind + 1], argv[optind + 2], set ? argv[optind + 3] : NULL);
}
