/*
 * test_libidnode.c - libidnode's public layer (include/idnode.h) without a
 * node: every error code has a text; settings out of bounds are refused with
 * a message naming what; an authenticated call without identity, a missing
 * key file, a handle too long fail before any network; value lists built
 * from the CLI's --value text forms encode as the protocol wants (HS_ADMIN,
 * HS_VLIST, hex) and refuse malformed ones saying why, bounded in count and
 * size; a refused connection is reported naming the peer.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/lib.h"
#include "idnode.h"
#include "proto/reserved.h"

static void test_every_error_has_a_text(void **state)
{
	static const int codes[] = {IDNODE_EINVAL,  IDNODE_ENOMEM,  IDNODE_ENOTFOUND,
	                            IDNODE_EEXIST,  IDNODE_EIO,     IDNODE_ETIMEOUT,
	                            IDNODE_ENET,    IDNODE_EPROTO,  IDNODE_ECRYPTO,
	                            IDNODE_ERANGE,  IDNODE_ENOTSUP, IDNODE_EMISMATCH,
	                            IDNODE_ESERVER, IDNODE_EDENIED, IDNODE_ENOIDENTITY};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		const char *t = idnode_strerror(codes[i]);
		assert_non_null(t);
		assert_true(strlen(t) > 3);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(t, idnode_strerror(codes[k]));
	}
	unsigned maj, min, patch;
	assert_int_equal(sscanf(idnode_version(), "%u.%u.%u", &maj, &min, &patch), 3);
}

static void test_settings_out_of_bounds(void **state)
{
	idnode_client *c;
	assert_int_equal(idnode_client_new(&c), IDNODE_OK);
	assert_string_equal(idnode_client_error(c), "");
	assert_int_equal(idnode_client_set_server(c, "127.0.0.1:99999"), IDNODE_EINVAL);
	assert_non_null(strstr(idnode_client_error(c), "port must be 1..65535"));
	assert_int_equal(idnode_client_set_server(c, "[::1"), IDNODE_EINVAL);
	assert_int_equal(idnode_client_set_server(c, "127.0.0.1:2641"), IDNODE_OK);
	assert_string_equal(idnode_client_error(c), "");
	assert_int_equal(idnode_client_set_timeout(c, 0), IDNODE_EINVAL);
	assert_int_equal(idnode_client_set_timeout(c, 600001), IDNODE_EINVAL);
	assert_int_equal(idnode_client_set_timeout(c, 600000), IDNODE_OK);
	assert_int_equal(idnode_client_set_transport(c, 2), IDNODE_ENOTSUP);
	assert_int_equal(idnode_client_set_protocol_minor(c, 12), IDNODE_EINVAL);
	assert_int_equal(idnode_client_set_protocol_minor(c, 0), IDNODE_EINVAL);
	assert_int_equal(idnode_client_set_auth(c, 7), IDNODE_EINVAL);
	assert_int_equal(idnode_client_set_auth(c, -1), IDNODE_EINVAL);
	assert_int_equal(idnode_client_set_auth(c, IDNODE_AUTH_IDIS), IDNODE_OK);
	idnode_client_free(c);
	idnode_client_free(NULL);
}

static void test_identity_is_checked_before_the_network(void **state)
{
	idnode_client *c;
	assert_int_equal(idnode_client_new(&c), IDNODE_OK);
	/* Port 1 on loopback: nothing listens; nothing may be asked anyway. */
	assert_int_equal(idnode_client_set_server(c, "127.0.0.1:1"), IDNODE_OK);
	assert_int_equal(idnode_delete(c, "88.100.1/X"), IDNODE_ENOIDENTITY);
	assert_int_equal(
	    idnode_client_set_identity_key(c, 300, "0.NA/88.1", "/nonexistent.pem", NULL),
	    IDNODE_EIO);
	assert_non_null(strstr(idnode_client_error(c), "/nonexistent.pem"));
	assert_int_equal(idnode_delete(c, "88.100.1/X"), IDNODE_ENOIDENTITY);
	assert_int_equal(idnode_client_set_identity_secret(c, 300, "no-slash", "s", 1),
	                 IDNODE_EINVAL);
	assert_int_equal(idnode_client_set_identity_secret(c, 0, "0.NA/88.1", "s", 1),
	                 IDNODE_EINVAL);
	static char big[LIB_SECRET_MAX + 1];
	assert_int_equal(idnode_client_set_identity_secret(c, 300, "0.NA/88.1", big, sizeof big),
	                 IDNODE_ERANGE);
	assert_int_equal(idnode_client_set_identity_secret(c, 300, "0.NA/88.1", "s", 1), IDNODE_OK);
	static char longh[PROTO_HANDLE_MAX + 2];
	memset(longh, 'a', sizeof longh - 1);
	idnode_record *r = (idnode_record *)&r;
	assert_int_equal(idnode_resolve(c, longh, NULL, 0, NULL, 0, &r), IDNODE_ERANGE);
	assert_null(r);
	assert_int_equal(idnode_delete(c, longh), IDNODE_ERANGE);
	assert_int_equal(idnode_resolve(c, "", NULL, 0, NULL, 0, &r), IDNODE_EINVAL);
	assert_int_equal(idnode_remove_values(c, "88.1/X", NULL, 0), IDNODE_EINVAL);
	assert_int_equal(idnode_list(c, "88.1", NULL, NULL), IDNODE_EINVAL);
	assert_int_equal(idnode_batch_file(c, "/nonexistent.batch", NULL, NULL, NULL, NULL),
	                 IDNODE_EIO);
	assert_int_equal(idnode_client_set_auth(c, IDNODE_AUTH_IDIS), IDNODE_OK);
	assert_int_equal(idnode_batch_file(c, "/nonexistent.batch", NULL, NULL, NULL, NULL),
	                 IDNODE_ENOTSUP);
	/* The national login proves a key: with a secret it is refused before connecting. */
	assert_int_equal(idnode_delete(c, "88.100.1/X"), IDNODE_ENOTSUP);
	assert_non_null(strstr(idnode_client_error(c), "private key"));
	idnode_client_free(c);
}

/* The one value of vs, encoded. */
static const proto_value *only_value(const idnode_values *vs)
{
	uint32_t n;
	const proto_value *v = lib_values(vs, &n);
	assert_int_equal(n, 1);
	return v;
}

static void test_values_from_text(void **state)
{
	idnode_values *vs;
	char err[256];
	assert_int_equal(idnode_values_new(&vs), IDNODE_OK);
	assert_int_equal(idnode_values_add_text(vs, "1:URL:https://example.com/a", err, sizeof err),
	                 IDNODE_OK);
	const proto_value *v = only_value(vs);
	assert_int_equal(v->index, 1);
	assert_int_equal(v->perms, 0x0e);
	assert_int_equal(v->ttl, 86400);
	assert_memory_equal(v->data.p, "https://example.com/a", v->data.len);
	idnode_values_free(vs);

	assert_int_equal(idnode_values_new(&vs), IDNODE_OK);
	assert_int_equal(
	    idnode_values_add_text(vs, "100:HS_ADMIN:0FF0/300:0.NA/88.1", err, sizeof err),
	    IDNODE_OK);
	v = only_value(vs);
	proto_admin a;
	assert_int_equal(proto_admin_decode(v->data, &a), IDN_OK);
	assert_int_equal(a.rights, 0x0FF0);
	assert_int_equal(a.index, 300);
	assert_memory_equal(a.handle.p, "0.NA/88.1", a.handle.len);
	idnode_values_free(vs);

	assert_int_equal(idnode_values_new(&vs), IDNODE_OK);
	assert_int_equal(idnode_values_add_text(vs, "7:HS_SECKEY:hex:00ff", err, sizeof err),
	                 IDNODE_OK);
	v = only_value(vs);
	assert_int_equal(v->perms, 0x0c); /* never publicly readable */
	assert_int_equal(v->data.len, 2);
	assert_int_equal(v->data.p[1], 0xff);
	static const struct {
		const char *spec, *why;
	} bad[] = {
	    {"1:URL", "expected INDEX:TYPE:DATA"},
	    {"x:URL:y", "index 'x' is not a positive number"},
	    {"0:URL:y", "is not a positive number"},
	    {"1:HS_ADMIN:nope", "HS_ADMIN data must be"},
	    {"1:HS_VLIST:1:a,b", "HS_VLIST data must be"},
	    {"1:T:hex:abc", "even number of digits"},
	    {"1:T:hex:zz", "bad hex digit"},
	    {"1:HS_PUBKEY:@/nonexistent.pem", "cannot read a PEM key"},
	    {"1:HS_PUBKEY:hex:0000", "1:HS_PUBKEY:"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		assert_int_equal(idnode_values_add_text(vs, bad[i].spec, err, sizeof err),
		                 IDNODE_EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: '%s' lacks '%s'", bad[i].spec, err, bad[i].why);
	}
	assert_int_equal(idnode_values_count(vs), 1);
	idnode_values_free(vs);

	/* A long type is kept whole (the server judges it). */
	char spec[400];
	memset(spec, 'T', sizeof spec);
	memcpy(spec, "9:", 2);
	memcpy(spec + 302, ":data", 6);
	assert_int_equal(idnode_values_new(&vs), IDNODE_OK);
	assert_int_equal(idnode_values_add_text(vs, spec, err, sizeof err), IDNODE_OK);
	v = only_value(vs);
	assert_int_equal(v->type.len, 300);
	assert_memory_equal(v->data.p, "data", 4);
	idnode_values_free(vs);
}

static void test_values_bounded(void **state)
{
	idnode_values *vs;
	assert_int_equal(idnode_values_new(&vs), IDNODE_OK);
	static uint8_t big[16385];
	idnode_value v = {.index = 1, .type = "URL", .data = big, .len = sizeof big};
	assert_int_equal(idnode_values_add(vs, &v), IDNODE_ERANGE);
	v.len = 16384;
	v.index = 0;
	assert_int_equal(idnode_values_add(vs, &v), IDNODE_EINVAL);
	for (uint32_t i = 1; i <= 256; i++) {
		v.index = i;
		assert_int_equal(idnode_values_add(vs, &v), IDNODE_OK);
	}
	v.index = 257;
	assert_int_equal(idnode_values_add(vs, &v), IDNODE_ERANGE);
	assert_int_equal(idnode_values_add_text(vs, "257:URL:x", NULL, 0), IDNODE_ERANGE);
	assert_int_equal(idnode_values_count(vs), 256);
	uint32_t n;
	const proto_value *pv = lib_values(vs, &n);
	assert_int_equal(pv[255].index, 256);
	assert_int_equal(pv[255].data.len, 16384);
	idnode_values_free(vs);
	idnode_values_free(NULL);
}

static void test_refused_names_the_peer(void **state)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd); /* nothing listens there now */
	char where[64];
	snprintf(where, sizeof where, "127.0.0.1:%u", ntohs(sa.sin_port));
	idnode_client *c;
	assert_int_equal(idnode_client_new(&c), IDNODE_OK);
	assert_int_equal(idnode_client_set_server(c, where), IDNODE_OK);
	assert_int_equal(idnode_client_set_transport(c, IDNODE_TCP), IDNODE_OK);
	idnode_record *r;
	assert_int_equal(idnode_resolve(c, "88.100.1/X", NULL, 0, NULL, 0, &r), IDNODE_ENET);
	assert_non_null(strstr(idnode_client_error(c), where));
	assert_non_null(strstr(idnode_client_error(c), "refused"));
	assert_int_equal(idnode_client_rcode(c), 0);
	assert_int_equal(idnode_client_set_identity_secret(c, 300, "0.NA/88.1", "s", 1), IDNODE_OK);
	assert_int_equal(idnode_delete(c, "88.100.1/X"), IDNODE_ENET);
	assert_non_null(strstr(idnode_client_error(c), "refused"));
	idnode_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_error_has_a_text),
	    cmocka_unit_test(test_settings_out_of_bounds),
	    cmocka_unit_test(test_identity_is_checked_before_the_network),
	    cmocka_unit_test(test_values_from_text),
	    cmocka_unit_test(test_values_bounded),
	    cmocka_unit_test(test_refused_names_the_peer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
