/*
 * http_later.c - HTTP answers given later, from another thread (http.h:
 * http_defer, http_answer), as deferred.c gives them to Handle TCP requests.
 *
 * An http_later belongs to the connection that waits for it until another
 * thread answers: http_answer() copies the answer, queues the http_later on
 * the connection's worker and wakes it (the queue and eventfd of later_q.c,
 * shared with deferred.c); at the end of that loop turn the worker takes
 * the queue in (http_later_drain), writes each answer on its connection and
 * lets the connection go on. Only
 * the worker touches its connections: `c` is read and cleared (when the
 * connection closes first) on the worker thread alone.
 *
 * Counting: the server counts http_laters from http_defer to their free, and
 * http_wait() waits for zero, so that a late http_answer() never finds the
 * worker freed. A worker that has stopped (its queue closed) frees what comes in.
 */
#include <stdlib.h>
#include <string.h>

#include "net/http_conn.h"

static void later_free(struct http_later *l)
{
	http_server *s = l->w->s;

	free(l->resp.body);
	free(l->text);
	free(l);
	net_later_count_done(&s->nlater);
}

http_later *http_defer(http_resp *r)
{
	http_conn *c = r->conn;

	if (!c || c->later || c->w->lq.wakefd < 0)
		return NULL;
	struct http_later *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->w = c->w;
	l->c = c;
	l->method = llhttp_method_name(c->parser.method);
	l->head_only = c->parser.method == HTTP_HEAD;
	l->keep = c->keep;
	l->http_minor = c->parser.http_minor;
	c->later = l;
	net_later_count_add(&c->w->s->nlater);
	return l;
}

/* Copies the answer into l; false when out of memory. */
static bool later_fill(struct http_later *l, int status, const char *content_type,
                       const char *extra_headers, const void *body, size_t len)
{
	size_t ct = content_type ? strlen(content_type) : 0;
	size_t eh = extra_headers ? strlen(extra_headers) : 0;
	l->text = malloc(ct + eh + 2);
	if (!l->text || (len && !(l->resp.body = malloc(len))))
		return false;
	memcpy(l->text, content_type ? content_type : "", ct + 1);
	memcpy(l->text + ct + 1, extra_headers ? extra_headers : "", eh + 1);
	if (len)
		memcpy(l->resp.body, body, len);
	l->resp.len = l->resp.cap = len;
	l->resp.status = status;
	l->resp.content_type = content_type ? l->text : NULL;
	l->resp.extra_headers = extra_headers ? l->text + ct + 1 : NULL;
	return true;
}

void http_answer(http_later *l, int status, const char *content_type, const char *extra_headers,
                 const void *body, size_t len)
{
	l->oom = !later_fill(l, status, content_type, extra_headers, body, len);
	if (!net_later_q_push(&l->w->lq, &l->link))
		later_free(l); /* the worker has stopped */
}

void http_later_drain(http_worker *w)
{
	struct net_later_link *k = net_later_q_take(&w->lq);
	while (k) {
		struct http_later *l = (struct http_later *)k;
		k = k->next;
		http_conn *c = l->c;
		if (c) {
			c->later = NULL;
			http_later_emit(c, l);
		}
		later_free(l);
		if (c)
			http_conn_resume(c); /* may close and free c */
	}
}

void http_later_orphan(http_conn *c)
{
	if (c->later) {
		c->later->c = NULL;
		c->later = NULL;
	}
}

void http_later_fini(http_worker *w)
{
	struct net_later_link *k = net_later_q_close(&w->lq);
	while (k) {
		struct http_later *l = (struct http_later *)k;
		k = k->next;
		later_free(l);
	}
}
