/*
 * http_resp.c - what an HTTP handler writes its answer with (body appends,
 * the JSON error), and header lookup in a request. See http.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http_conn.h"

bool http_buf_grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return false;
	*buf = p;
	*cap = n;
	return true;
}

uint8_t *http_resp_room(http_resp *r, size_t n)
{
	if (r->oom || !http_buf_grow(&r->body, &r->cap, r->len + n)) {
		r->oom = true;
		return NULL;
	}
	return r->body + r->len;
}

enum {
	HEAD_ROOM = 256, /* the head of a plain JSON answer: status, type, length */
};

bool http_resp_head_room(http_resp *r)
{
	if (!r->head_ok || r->len || r->stream || !http_resp_room(r, HEAD_ROOM))
		return false;
	r->head = r->len = HEAD_ROOM;
	return true;
}

void http_resp_append(http_resp *r, const void *p, size_t n)
{
	if (!n)
		return;
	uint8_t *o = http_resp_room(r, n);
	if (!o)
		return;
	memcpy(o, p, n);
	r->len += n;
}

void http_resp_puts(http_resp *r, const char *s)
{
	http_resp_append(r, s, strlen(s));
}

void http_resp_printf(http_resp *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char small[512];
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		http_resp_append(r, small, (size_t)n);
		return;
	}
	if (r->oom || !http_buf_grow(&r->body, &r->cap, r->len + (size_t)n + 1)) {
		r->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf((char *)r->body + r->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r->len += (size_t)n;
}

/* Appends s as the inside of a JSON string. */
static void json_esc(http_resp *r, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			http_resp_printf(r, "\\%c", ch);
		else if (ch < 0x20)
			http_resp_printf(r, "\\u%04x", ch);
		else
			http_resp_append(r, &ch, 1);
	}
}

void http_resp_error(http_resp *r, int status, int rc, const char *msg)
{
	r->len = r->head = 0;
	r->status = status;
	r->content_type = "application/json";
	http_resp_printf(r, "{\"responseCode\":%d,\"message\":\"", rc);
	json_esc(r, msg);
	http_resp_puts(r, "\"}");
}

int http_req_header(const http_req *req, const char *name, idn_slice *value)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < req->nheaders; i++) {
		const http_header *h = &req->headers[i];
		if (h->name.len == n && !strncasecmp((const char *)h->name.p, name, n)) {
			*value = h->value;
			return 1;
		}
	}
	return 0;
}
