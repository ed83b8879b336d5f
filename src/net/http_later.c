/*
 * http_later.c - HTTP answers given later, from another thread (http.h:
 * http_defer, http_answer), as deferred.c gives them to Handle TCP requests.
 *
 * An http_later belongs to the connection that waits for it until another
 * thread answers: http_answer() copies the answer, queues the http_later on
 * the connection's worker and wakes it through the worker's eventfd; at the
 * end of that loop turn the worker takes the queue in (http_later_drain),
 * writes each answer on its connection and lets the connection go on. Only
 * the worker touches its connections: `c` is read and cleared (when the
 * connection closes first) on the worker thread alone.
 *
 * Counting: the server counts http_laters from http_defer to their free, and
 * http_wait() waits for zero, so that a late http_answer() never finds the
 * worker freed. A worker that has stopped (lclosed) frees what comes in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/err.h"
#include "net/http_conn.h"

int http_later_init(http_worker *w)
{
	w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wakefd < 0)
		return idn_errno(errno);
	pthread_mutex_init(&w->lmu, NULL);
	w->lmu_init = true;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->wakefd};
	return epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wakefd, &ev) ? idn_errno(errno) : 0;
}

static void later_free(struct http_later *l)
{
	http_server *s = l->w->s;

	free(l->resp.body);
	free(l->text);
	free(l);
	pthread_mutex_lock(&s->later_mu);
	if (--s->nlater == 0)
		pthread_cond_broadcast(&s->later_cv);
	pthread_mutex_unlock(&s->later_mu);
}

http_later *http_defer(http_resp *r)
{
	http_conn *c = r->conn;

	if (!c || c->later || c->w->wakefd < 0)
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
	http_server *s = c->w->s;
	pthread_mutex_lock(&s->later_mu);
	s->nlater++;
	pthread_mutex_unlock(&s->later_mu);
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
	http_worker *w = l->w;

	l->oom = !later_fill(l, status, content_type, extra_headers, body, len);
	l->next = NULL;
	pthread_mutex_lock(&w->lmu);
	if (w->lclosed) {
		pthread_mutex_unlock(&w->lmu);
		later_free(l);
		return;
	}
	if (w->done_tail)
		w->done_tail->next = l;
	else
		w->done_head = l;
	w->done_tail = l;
	pthread_mutex_unlock(&w->lmu);
	uint64_t one = 1;
	(void)!write(w->wakefd, &one, sizeof(one));
}

void http_later_drain(http_worker *w)
{
	uint64_t n;
	(void)!read(w->wakefd, &n, sizeof(n));
	pthread_mutex_lock(&w->lmu);
	struct http_later *l = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lmu);
	while (l) {
		struct http_later *next = l->next;
		http_conn *c = l->c;
		if (c) {
			c->later = NULL;
			http_later_emit(c, l);
		}
		later_free(l);
		if (c)
			http_conn_resume(c); /* may close and free c */
		l = next;
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
	if (!w->lmu_init)
		return;
	pthread_mutex_lock(&w->lmu);
	w->lclosed = true;
	struct http_later *l = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lmu);
	while (l) {
		struct http_later *next = l->next;
		later_free(l);
		l = next;
	}
}

void http_later_wait(http_server *s)
{
	pthread_mutex_lock(&s->later_mu);
	while (s->nlater > 0)
		pthread_cond_wait(&s->later_cv, &s->later_mu);
	pthread_mutex_unlock(&s->later_mu);
}
