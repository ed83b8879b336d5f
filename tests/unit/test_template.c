/*
 * test_template.c - data templates: definitions parsed and refused with a
 * message naming the problem; field values checked by type, length, range,
 * pattern and presence; and, through node_answer() with a secret-key
 * identity, creates/adds/modifies/removes that break the template answered
 * 202 naming the field, with the store unchanged, while good ones succeed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/verify.h"
#include "node/node.h"
#include "proto/record.h"
#include "node/template.h"
#include "proto/admin.h"
#include "proto/reserved.h"

static const char MOTOR[] =
    "{\"name\":\"Motor\",\"fields\":["
    "{\"name\":\"model\",\"type\":\"string\",\"required\":true,\"minLength\":2,"
    "\"maxLength\":12,\"pattern\":\"^YE[0-9]-\"},"
    "{\"name\":\"rated_power_kw\",\"type\":\"number\",\"required\":true,\"min\":0.1,"
    "\"max\":1000},"
    "{\"name\":\"production_date\",\"type\":\"date\",\"required\":true},"
    "{\"name\":\"manual\",\"type\":\"url\"},"
    "{\"name\":\"test_report\",\"type\":\"file\"}]}";

static tmpl *motor(void)
{
	tmpl *t = NULL;
	char err[256] = "";
	assert_int_equal(tmpl_parse(idn_slice_of(MOTOR, strlen(MOTOR)), &t, err, sizeof(err)), 0);
	assert_int_equal(tmpl_nfields(t), 5);
	assert_string_equal(tmpl_field_name(t, 1), "rated_power_kw");
	return t;
}

static void parse_fails(const char *json, const char *want)
{
	tmpl *t = NULL;
	char err[256] = "";
	assert_int_equal(tmpl_parse(idn_slice_of(json, strlen(json)), &t, err, sizeof(err)),
	                 IDN_EINVAL);
	assert_null(t);
	if (!strstr(err, want))
		fail_msg("'%s': error '%s' lacks '%s'", json, err, want);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_fails("{", "not JSON");
	parse_fails("[]", "JSON object");
	parse_fails("{\"fields\":[]}", "fields must be");
	parse_fails("{\"fieldz\":[]}", "unknown key 'fieldz'");
	parse_fails("{\"fields\":[{\"name\":\"a\",\"type\":\"blob\"}]}", "type must be one of");
	parse_fails("{\"fields\":[{\"type\":\"string\"}]}", "name must be");
	parse_fails("{\"fields\":[{\"name\":\"a\",\"type\":\"string\"},{\"name\":\"a\",\"type\":"
	            "\"date\"}]}",
	            "'a' is defined twice");
	parse_fails("{\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"pattern\":\"(\"}]}",
	            "field 'a': pattern");
	parse_fails("{\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"min\":1}]}",
	            "number fields only");
	parse_fails("{\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"minLength\":5,"
	            "\"maxLength\":2}]}",
	            "minLength is over maxLength");
	parse_fails("{\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"required\":1}]}",
	            "required must be");
	parse_fails("{\"fields\":[{\"name\":\"HS_ADMIN\",\"type\":\"string\"}]}",
	            "cannot be a field name");
	parse_fails("{\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"colour\":1}]}",
	            "unknown key 'colour'");
}

/* Values: index, type, text. */
struct fv {
	uint32_t index;
	const char *type, *data;
};

static int check(const tmpl *t, const struct fv *f, size_t n, char *err, size_t errlen)
{
	proto_value v[16];
	for (size_t i = 0; i < n; i++)
		v[i] = (proto_value){.index = f[i].index,
		                     .type = idn_slice_of(f[i].type, strlen(f[i].type)),
		                     .data = idn_slice_of(f[i].data, strlen(f[i].data))};
	return tmpl_check(t, v, (uint32_t)n, err, errlen);
}

static void expect_bad(const tmpl *t, uint32_t idx, const char *type, const char *data,
                       const char *want)
{
	struct fv f[] = {{1, "URL", "http://x/"},
	                 {2000, "model", "YE3-132M"},
	                 {2001, "rated_power_kw", "7.5"},
	                 {2002, "production_date", "2026-03-01"},
	                 {idx, type, data}};
	/* The replaced field: the last one of the same type wins the slot. */
	for (size_t i = 1; i < 4; i++)
		if (!strcmp(f[i].type, type))
			f[i] = f[4];
	char err[256] = "";
	assert_int_equal(check(t, f, 5, err, sizeof(err)), IDN_EINVAL);
	if (!strstr(err, want))
		fail_msg("%s='%s': error '%s' lacks '%s'", type, data, err, want);
}

static void test_check_values(void **state)
{
	(void)state;
	tmpl *t = motor();
	char err[256] = "";
	struct fv good[] = {{1, "URL", "http://x/"},
	                    {1001, "TEMPLATE", "88.100.1/T"},
	                    {2000, "model", "YE3-132M"},
	                    {2001, "rated_power_kw", "7.5"},
	                    {2002, "production_date", "2024-02-29"},
	                    {2003, "manual", "https://example.com/m.pdf"},
	                    {2004, "test_report", "88.100.1/REPORT-1"}};
	assert_int_equal(check(t, good, 7, err, sizeof(err)), 0);
	good[6].data = "ftp://files.example.com/r.pdf";
	assert_int_equal(check(t, good, 7, err, sizeof(err)), 0);

	expect_bad(t, 2000, "model", "X", "field 'model' (index 2000): shorter than 2");
	expect_bad(t, 2000, "model", "YE3-0123456789", "longer than 12");
	expect_bad(t, 2000, "model", "ZE3-1", "does not match the field's pattern");
	expect_bad(t, 2001, "rated_power_kw", "7,5", "'7,5' is not a number");
	expect_bad(t, 2001, "rated_power_kw", "0x10", "not a number");
	expect_bad(t, 2001, "rated_power_kw", "1e400", "out of range");
	expect_bad(t, 2001, "rated_power_kw", "0", "outside");
	expect_bad(t, 2001, "rated_power_kw", "1000.5", "outside");
	expect_bad(t, 2002, "production_date", "2025-02-29", "not a date");
	expect_bad(t, 2002, "production_date", "2025-13-01", "not a date");
	expect_bad(t, 2002, "production_date", "01/03/2026", "not a date");
	expect_bad(t, 2003, "manual", "http://", "not a URL");
	expect_bad(t, 2003, "manual", "example.com/m.pdf", "not a URL");
	expect_bad(t, 2003, "manual", "https://ex ample.com/", "not a URL");
	expect_bad(t, 2004, "test_report", "report.pdf", "not a file reference");
	expect_bad(t, 2005, "colour", "red", "field 'colour' (index 2005) is not in the template");
	expect_bad(t, 2000, "model", "YE3-\xff", "not UTF-8");

	/* A required field missing, even with the others right. */
	struct fv missing[] = {{2000, "model", "YE3-132M"}, {2001, "rated_power_kw", "7.5"}};
	assert_int_equal(check(t, missing, 2, err, sizeof(err)), IDN_EINVAL);
	assert_non_null(strstr(err, "required field 'production_date' is missing"));
	/* Below 2000 nothing is a field, whatever its type. */
	struct fv low[] = {{5, "colour", "red"},
	                   {2000, "model", "YE3-132M"},
	                   {2001, "rated_power_kw", "1"},
	                   {2002, "production_date", "2026-01-01"}};
	assert_int_equal(check(t, low, 4, err, sizeof(err)), 0);
	tmpl_free(t);

	/* additionalFields: unknown fields allowed, known ones still checked. */
	const char *open = "{\"fields\":[{\"name\":\"n\",\"type\":\"number\"}],"
	                   "\"additionalFields\":true}";
	assert_int_equal(tmpl_parse(idn_slice_of(open, strlen(open)), &t, err, sizeof(err)), 0);
	struct fv extra[] = {{2000, "colour", "red"}, {2001, "n", "x"}};
	assert_int_equal(check(t, extra, 1, err, sizeof(err)), 0);
	assert_int_equal(check(t, extra, 2, err, sizeof(err)), IDN_EINVAL);
	assert_non_null(strstr(err, "field 'n'"));
	tmpl_free(t);
}

/* ---- through the node ---- */

static char tmpdir[] = "/tmp/idn-tmpl-XXXXXX";
static store *st;
static node *nd;
static node_worker *wk;
static uint8_t out[PROTO_ENV_LEN + PROTO_MSG_MAX];
static const char secret[] = "template-test-secret";
static uint32_t reqid = 100;

static void put(store_txn *t, const char *key, const proto_value *vals, uint32_t n)
{
	static uint8_t rec[8192];
	int len = record_build(vals, n, rec, sizeof(rec));
	assert_true(len > 0);
	assert_int_equal(
	    store_put(t, idn_slice_of(key, strlen(key)), idn_slice_of(rec, (size_t)len), 0), 0);
}

static int node_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/idn-tmpl-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	store_opts so = {.no_sync = 1};
	assert_int_equal(store_open(tmpdir, &so, &st), 0);
	store_txn *t;
	assert_int_equal(store_txn_begin(st, 0, &t), 0);
	assert_int_equal(store_home(t, IDN_SLICE("88.100.1")), 0);
	uint8_t adm[128];
	wire_wr aw = wire_wr_init(adm, sizeof(adm));
	proto_admin_put(&aw, &(proto_admin){.rights = PROTO_ADM_ALL,
	                                    .handle = IDN_SLICE("0.NA/88.100.1"),
	                                    .index = 300});
	proto_value id[2] = {
	    {.index = 100,
	     .type = IDN_SLICE("HS_ADMIN"),
	     .data = idn_slice_of(adm, wire_wr_len(&aw)),
	     .perms = 0x0e},
	    {.index = 300,
	     .type = IDN_SLICE("HS_SECKEY"),
	     .data = idn_slice_of(secret, strlen(secret)),
	     .perms = 0x0c},
	};
	put(t, "0.NA/88.100.1", id, 2);
	proto_value def = {.index = 1,
	                   .type = IDN_SLICE(TMPL_DEF_TYPE),
	                   .data = idn_slice_of(MOTOR, strlen(MOTOR))};
	put(t, "88.100.1/TEMPLATE-MOTOR", &def, 1);
	proto_value notdef = {.index = 1, .type = IDN_SLICE("URL"), .data = IDN_SLICE("http://x/")};
	put(t, "88.100.1/NOT-A-TEMPLATE", &notdef, 1);
	assert_int_equal(store_txn_commit(t), 0);
	node_config cfg;
	node_config_init(&cfg);
	/* A node-wide admin: the records made here carry no HS_ADMIN of their own. */
	static const char *const admins[] = {"300:0.NA/88.100.1"};
	cfg.server_admins = admins;
	cfg.nserver_admins = 1;
	assert_int_equal(node_new(&cfg, st, &nd), 0);
	assert_int_equal(node_worker_new(nd, &wk), 0);
	return 0;
}

static int node_teardown(void **state)
{
	(void)state;
	node_worker_free(wk);
	node_free(nd);
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Runs an admin request (body already encoded) through 402 + op 200; returns rc, msg in why. */
static uint32_t admin(uint32_t op, const uint8_t *body, size_t blen, char *why, size_t whylen)
{
	static uint8_t req[16384];
	proto_env env = {.major = 2, .minor = 11, .request_id = reqid++};
	proto_hdr hdr = {.opcode = op, .site_serial = 0xFFFF};
	proto_build b;
	proto_build_begin(&b, req, sizeof(req), &env, &hdr);
	wire_put_data(&b.w, body, blen);
	int len = proto_build_end(&b, NULL, 0);
	assert_true(len > 0);
	int n = node_answer(wk, NODE_TCP, req, (size_t)len, out, sizeof(out));
	proto_env aenv;
	proto_msg m;
	assert_int_equal(proto_env_decode(out, (size_t)n, &aenv), 0);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &m), 0);
	assert_int_equal(m.hdr.rcode, PROTO_RC_AUTHENTICATION_NEEDED);
	proto_challenge c;
	assert_int_equal(proto_challenge_decode(m.body, m.hdr.flags & PROTO_F_RD, &c), 0);
	uint8_t sig[512];
	wire_wr sw = wire_wr_init(sig, sizeof(sig));
	assert_int_equal(auth_respond_seckey(idn_slice_of(secret, strlen(secret)),
	                                     PROTO_SECKEY_HMAC_SHA256, c.nonce, c.digest, &sw),
	                 0);
	proto_chresp cr = {.auth_type = IDN_SLICE("HS_SECKEY"),
	                   .handle = IDN_SLICE("0.NA/88.100.1"),
	                   .index = 300,
	                   .signed_resp = idn_slice_of(sig, wire_wr_len(&sw))};
	proto_env cenv = {
	    .major = 2, .minor = 11, .session_id = aenv.session_id, .request_id = reqid++};
	proto_hdr chdr = {.opcode = PROTO_OP_CHALLENGE_RESPONSE, .site_serial = 0xFFFF};
	proto_build_begin(&b, req, sizeof(req), &cenv, &chdr);
	proto_chresp_encode(&b.w, &cr);
	len = proto_build_end(&b, NULL, 0);
	n = node_answer(wk, NODE_TCP, req, (size_t)len, out, sizeof(out));
	assert_int_equal(proto_env_decode(out, (size_t)n, &aenv), 0);
	assert_int_equal(proto_msg_decode(out + PROTO_ENV_LEN, (size_t)n - PROTO_ENV_LEN, &m), 0);
	why[0] = 0;
	idn_slice msg;
	if (m.hdr.rcode != PROTO_RC_SUCCESS && !proto_error_decode(m.body, &msg))
		snprintf(why, whylen, "%.*s", (int)msg.len, (const char *)msg.p);
	return m.hdr.rcode;
}

static uint32_t values_op(uint32_t op, const char *h, const struct fv *f, size_t n, char *why,
                          size_t whylen)
{
	proto_value v[16];
	for (size_t i = 0; i < n; i++)
		v[i] = (proto_value){.index = f[i].index,
		                     .type = idn_slice_of(f[i].type, strlen(f[i].type)),
		                     .data = idn_slice_of(f[i].data, strlen(f[i].data)),
		                     .ttl = 86400,
		                     .perms = 0x0e};
	uint8_t body[8192];
	wire_wr w = wire_wr_init(body, sizeof(body));
	proto_values_req_encode(&w, idn_slice_of(h, strlen(h)), v, (uint32_t)n);
	assert_int_equal(w.err, 0);
	return admin(op, body, wire_wr_len(&w), why, whylen);
}

/* The stored record of h, as bytes (for "unchanged" checks); length or -1. */
static int stored(const char *h, uint8_t *buf, size_t cap)
{
	store_txn *t;
	assert_int_equal(store_txn_begin(st, STORE_RDONLY, &t), 0);
	idn_slice raw;
	int ret = store_get(t, idn_slice_of(h, strlen(h)), &raw);
	int n = -1;
	if (ret == 0 && raw.len <= cap) {
		memcpy(buf, raw.p, raw.len);
		n = (int)raw.len;
	}
	store_txn_abort(t);
	return n;
}

static void test_node_validates(void **state)
{
	(void)state;
	char why[512];
	const char *h = "88.100.1/MOTOR-1";
	struct fv rec[] = {{1, "URL", "https://example.com/m1"},
	                   {1001, "TEMPLATE", "88.100.1/TEMPLATE-MOTOR"},
	                   {2000, "model", "YE3-132M"},
	                   {2001, "rated_power_kw", "abc"},
	                   {2002, "production_date", "2026-03-01"}};
	/* Bad number: 202 naming the field; nothing stored. */
	assert_int_equal(values_op(PROTO_OP_CREATE_HANDLE, h, rec, 5, why, sizeof(why)),
	                 PROTO_RC_INVALID_VALUE);
	assert_non_null(strstr(why, "template 88.100.1/TEMPLATE-MOTOR: field 'rated_power_kw'"));
	uint8_t before[8192], after[8192];
	assert_int_equal(stored(h, before, sizeof(before)), -1);
	/* Missing required field. */
	assert_int_equal(values_op(PROTO_OP_CREATE_HANDLE, h, rec, 3, why, sizeof(why)),
	                 PROTO_RC_INVALID_VALUE);
	assert_non_null(strstr(why, "required field 'rated_power_kw'"));
	assert_int_equal(stored(h, before, sizeof(before)), -1);
	/* Good. */
	rec[3].data = "7.5";
	assert_int_equal(values_op(PROTO_OP_CREATE_HANDLE, h, rec, 5, why, sizeof(why)),
	                 PROTO_RC_SUCCESS);
	int blen = stored(h, before, sizeof(before));
	assert_true(blen > 0);

	/* Modify to a bad date: refused, record unchanged. */
	struct fv bad_date = {2002, "production_date", "2026-02-30"};
	assert_int_equal(values_op(PROTO_OP_MODIFY_VALUE, h, &bad_date, 1, why, sizeof(why)),
	                 PROTO_RC_INVALID_VALUE);
	assert_non_null(strstr(why, "field 'production_date' (index 2002)"));
	assert_int_equal(stored(h, after, sizeof(after)), blen);
	assert_memory_equal(before, after, (size_t)blen);
	/* Add a field the template does not know: refused. */
	struct fv colour = {2003, "colour", "red"};
	assert_int_equal(values_op(PROTO_OP_ADD_VALUE, h, &colour, 1, why, sizeof(why)),
	                 PROTO_RC_INVALID_VALUE);
	assert_non_null(strstr(why, "field 'colour'"));
	assert_int_equal(stored(h, after, sizeof(after)), blen);
	/* Add a good optional one: accepted. */
	struct fv manual = {2003, "manual", "https://example.com/manual.pdf"};
	assert_int_equal(values_op(PROTO_OP_ADD_VALUE, h, &manual, 1, why, sizeof(why)),
	                 PROTO_RC_SUCCESS);
	/* Remove a required field: refused. */
	uint8_t body[256];
	wire_wr w = wire_wr_init(body, sizeof(body));
	uint32_t idx = 2000;
	proto_remove_req_encode(&w, idn_slice_of(h, strlen(h)), &idx, 1);
	blen = stored(h, before, sizeof(before));
	assert_int_equal(admin(PROTO_OP_REMOVE_VALUE, body, wire_wr_len(&w), why, sizeof(why)),
	                 PROTO_RC_INVALID_VALUE);
	assert_non_null(strstr(why, "required field 'model'"));
	assert_int_equal(stored(h, after, sizeof(after)), blen);
	assert_memory_equal(before, after, (size_t)blen);

	/* A TEMPLATE naming something that is no template. */
	rec[1].data = "88.100.1/NOT-A-TEMPLATE";
	assert_int_equal(
	    values_op(PROTO_OP_CREATE_HANDLE, "88.100.1/MOTOR-2", rec, 5, why, sizeof(why)),
	    PROTO_RC_INVALID_VALUE);
	assert_non_null(strstr(why, "not a template on this node"));
	rec[1].data = "88.100.1/NOWHERE";
	assert_int_equal(
	    values_op(PROTO_OP_CREATE_HANDLE, "88.100.1/MOTOR-2", rec, 5, why, sizeof(why)),
	    PROTO_RC_INVALID_VALUE);
	assert_int_equal(stored("88.100.1/MOTOR-2", after, sizeof(after)), -1);
	/* Records without a template are not touched by any of this. */
	struct fv plain[] = {{2000, "anything", "goes"}};
	assert_int_equal(
	    values_op(PROTO_OP_CREATE_HANDLE, "88.100.1/PLAIN", plain, 1, why, sizeof(why)),
	    PROTO_RC_SUCCESS);
}

static void test_node_checks_definitions(void **state)
{
	(void)state;
	char why[512];
	struct fv bad[] = {{1, TMPL_DEF_TYPE, "{\"fields\":[{\"name\":\"a\",\"type\":\"blob\"}]}"}};
	assert_int_equal(
	    values_op(PROTO_OP_CREATE_HANDLE, "88.100.1/TEMPLATE-BAD", bad, 1, why, sizeof(why)),
	    PROTO_RC_INVALID_VALUE);
	assert_non_null(strstr(why, "invalid TEMPLATE.DEF at index 1: field 'a': type"));
	uint8_t buf[64];
	assert_int_equal(stored("88.100.1/TEMPLATE-BAD", buf, sizeof(buf)), -1);
	struct fv good[] = {
	    {1, TMPL_DEF_TYPE, "{\"fields\":[{\"name\":\"a\",\"type\":\"date\"}]}"}};
	assert_int_equal(
	    values_op(PROTO_OP_CREATE_HANDLE, "88.100.1/TEMPLATE-GOOD", good, 1, why, sizeof(why)),
	    PROTO_RC_SUCCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_check_values),
	    cmocka_unit_test_setup_teardown(test_node_validates, node_setup, node_teardown),
	    cmocka_unit_test_setup_teardown(test_node_checks_definitions, node_setup,
	                                    node_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
