/*
 * trust_fetch.c - resolving the handles a trust chain names (HS_CERT
 * holders) for auth/trust.h, from a server or from a root.
 */
#include "client/trust_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/admin.h"

int client_answer_values(const proto_msg *m, idn_slice *values, uint32_t *n, char *err,
                         size_t errlen)
{
	idn_slice rest;
	if (proto_answer_split(m->body, m->hdr.flags & PROTO_F_RD, NULL, NULL, &rest)) {
		snprintf(err, errlen, "malformed answer");
		return IDN_EPROTO;
	}
	uint32_t rc = m->hdr.rcode;
	if (rc == PROTO_RC_HANDLE_NOT_FOUND || rc == PROTO_RC_VALUE_NOT_FOUND)
		return IDN_ENOTFOUND;
	if (rc != PROTO_RC_SUCCESS) {
		idn_slice text = {NULL, 0};
		proto_error_decode(rest, &text);
		snprintf(err, errlen, "%s (%u)%s%.*s", proto_rc_name(rc), rc, text.len ? ": " : "",
		         (int)(text.len > 200 ? 200 : text.len), (const char *)text.p);
		return IDN_EPROTO;
	}
	proto_resolve_resp rr;
	if (proto_resolve_resp_decode(rest, &rr)) {
		snprintf(err, errlen, "malformed answer");
		return IDN_EPROTO;
	}
	*values = rr.values;
	*n = rr.nvalues;
	return IDN_OK;
}

int client_trust_fetch(void *arg, const char *handle, uint8_t **vals, size_t *len, uint32_t *n,
                       char *err, size_t errlen)
{
	const client_trust_src *s = arg;
	client_resolve_opts o = {.transport = s->transport, .timeout_ms = s->timeout_ms};
	idn_slice h = idn_slice_of(handle, strlen(handle));
	uint8_t *ans = NULL;
	size_t anslen = 0;
	proto_env env;
	proto_msg m;
	int rc;
	if (h.len > PROTO_HANDLE_MAX)
		return IDN_EINVAL;
	if (s->from_root) {
		client_root_opts ro = {.base = o};
		rc = client_resolve_root(&s->addr, h, &ro, &ans, &anslen, &env, &m, err, errlen);
	} else {
		rc = client_resolve(&s->addr, h, &o, &ans, &anslen, &env, &m);
		if (rc)
			snprintf(err, errlen, "%s", client_strerror(rc));
	}
	if (rc)
		return rc;
	idn_slice values;
	rc = client_answer_values(&m, &values, n, err, errlen);
	if (!rc) {
		/* The values move to the front of the answer buffer, which the caller frees. */
		memmove(ans, values.p, values.len);
		*vals = ans;
		*len = values.len;
		return IDN_OK;
	}
	free(ans);
	return rc;
}
