/*
 * api_gateway.c - the gateway's pool: HTTP reads that would wait for the
 * network (a resolver cache miss) are copied here by api_handle, their
 * answer deferred (http_defer), and run again from the start on a small
 * pool of threads whose api_worker may wait (w->wait), which answer them
 * with http_answer. Reads are idempotent, so running one twice is safe;
 * writes never come here (they never resolve through the resolver). The
 * queue is bounded: beyond it, 503 with Retry-After (limit gateway-queue).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/reply.h"
#include "core/err.h"
#include "core/limit.h"

/* A request copied off its connection: req's slices point into data. */
struct gw_job {
	struct gw_job *next;
	http_later *later;
	http_req req;
	http_header headers[HTTP_MAX_HEADERS];
	struct sockaddr_storage peer;
	uint8_t data[];
};

struct api_gateway {
	api *a;
	pthread_t *threads;
	unsigned nthreads, queue_max, queued;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gw_job *head, *tail;
	bool stopping;
};

static idn_slice copy_slice(uint8_t **p, idn_slice s)
{
	idn_slice out = idn_slice_of(*p, s.len);
	if (s.len)
		memcpy(*p, s.p, s.len);
	*p += s.len;
	return out;
}

static struct gw_job *job_copy(const http_req *req)
{
	size_t n = req->target.len + req->path.len + req->query.len + req->body.len;
	unsigned nh = req->nheaders < HTTP_MAX_HEADERS ? req->nheaders : HTTP_MAX_HEADERS;
	for (unsigned i = 0; i < nh; i++)
		n += req->headers[i].name.len + req->headers[i].value.len;
	struct gw_job *j = calloc(1, sizeof(*j) + n + 1);
	if (!j)
		return NULL;
	uint8_t *p = j->data;
	j->req = *req;
	j->req.target = copy_slice(&p, req->target);
	j->req.path = copy_slice(&p, req->path);
	j->req.query = copy_slice(&p, req->query);
	for (unsigned i = 0; i < nh; i++) {
		j->headers[i].name = copy_slice(&p, req->headers[i].name);
		j->headers[i].value = copy_slice(&p, req->headers[i].value);
	}
	j->req.headers = j->headers;
	j->req.nheaders = nh;
	j->req.body = copy_slice(&p, req->body);
	size_t pl = req->peer_len <= sizeof(j->peer) ? req->peer_len : sizeof(j->peer);
	if (req->peer && pl)
		memcpy(&j->peer, req->peer, pl);
	j->req.peer = req->peer ? (const struct sockaddr *)&j->peer : NULL;
	j->req.peer_len = (socklen_t)pl;
	return j;
}

static void answer_error(http_later *l, int status, const char *extra, const char *msg)
{
	http_resp e = {0};
	http_resp_error(&e, status, PROTO_RC_SERVER_BUSY, msg);
	http_answer(l, e.oom ? 500 : e.status, e.content_type, extra, e.body, e.len);
	free(e.body);
}

/*
 * Drains r's streamed body (POST /api/resolve) into r->body, stopping once
 * it passes max bytes (then false): the body is held whole, and copied by
 * http_answer, on this thread.
 */
static bool drain(http_resp *r, size_t max)
{
	http_resp part = {0};
	int more = 1;
	while (more == 1 && !r->oom && r->len <= max) {
		part.len = 0;
		more = r->stream(r->stream_arg, &part);
		http_resp_append(r, part.body, part.len);
		r->oom |= part.oom;
	}
	if (r->stream_done)
		r->stream_done(r->stream_arg);
	r->stream = NULL;
	free(part.body);
	if (more < 0)
		r->oom = true;
	return r->len <= max;
}

/* Runs j's route on w (which waits) and answers it; a streamed body is drained into one. */
static void run_job(api_worker *w, struct gw_job *j)
{
	http_resp r = {.status = 200, .content_type = "application/json"};
	int ret = api_route(w, &j->req, &r);
	if (ret < 0) {
		r.len = 0;
		r.stream = NULL;
		http_resp_error(&r, 500, PROTO_RC_ERROR, idn_strerror(ret));
	}
	size_t max = w->a->gateway_answer_max;
	if (r.stream && !drain(&r, max) && !r.oom) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "the answer passed %zu bytes (http-gateway-answer-max): ask for fewer "
		         "identifiers at a time",
		         max);
		limit_hit(LIM_GATEWAY_ANSWER, "a gateway answer passed %zu bytes", max);
		http_resp_error(&r, 413, PROTO_RC_PROTOCOL_ERROR, msg);
	}
	char extra[sizeof(r.location) + 256];
	snprintf(extra, sizeof(extra), "%s", r.extra_headers ? r.extra_headers : "");
	/* The proxy's Location: only a single line (the route checked the URL). */
	if (r.location[0] && !strpbrk(r.location, "\r\n")) {
		size_t el = strlen(extra);
		snprintf(extra + el, sizeof(extra) - el, "Location: %s\r\n", r.location);
	}
	if (r.oom)
		answer_error(j->later, 500, NULL, "out of memory");
	else
		http_answer(j->later, r.status, r.content_type ? r.content_type : "text/plain",
		            extra[0] ? extra : NULL, r.body, r.len);
	free(r.body);
}

static void *gw_main(void *arg)
{
	api_gateway *g = arg;
	static _Atomic unsigned seq;
	api_worker *w = api_worker_init(g->a, 128 + seq++);
	if (w)
		w->wait = true;
	for (;;) {
		pthread_mutex_lock(&g->mu);
		while (!g->head && !g->stopping)
			pthread_cond_wait(&g->cv, &g->mu);
		struct gw_job *j = g->head;
		if (g->stopping || !j) {
			pthread_mutex_unlock(&g->mu);
			break;
		}
		g->head = j->next;
		if (!g->head)
			g->tail = NULL;
		g->queued--;
		pthread_mutex_unlock(&g->mu);
		if (w)
			run_job(w, j);
		else
			answer_error(j->later, 500, NULL, "out of memory");
		free(j);
	}
	api_worker_fini(w);
	return NULL;
}

int api_gateway_new(api *a, unsigned threads, unsigned queue_max, api_gateway **out)
{
	api_gateway *g = calloc(1, sizeof(*g));
	if (!g)
		return IDN_ENOMEM;
	g->a = a;
	g->queue_max = queue_max ? queue_max : API_GATEWAY_QUEUE;
	threads = threads ? threads : API_GATEWAY_THREADS;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	if (!(g->threads = calloc(threads, sizeof(pthread_t)))) {
		api_gateway_free(g);
		return IDN_ENOMEM;
	}
	/* Signals go to the thread that waits for them, not here. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; g->nthreads < threads; g->nthreads++)
		if (pthread_create(&g->threads[g->nthreads], NULL, gw_main, g))
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (g->nthreads < threads) {
		api_gateway_free(g);
		return IDN_ENOMEM;
	}
	*out = g;
	return IDN_OK;
}

void api_gateway_stop(api_gateway *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	bool was = g->stopping;
	g->stopping = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	if (was)
		return;
	for (unsigned i = 0; i < g->nthreads; i++)
		pthread_join(g->threads[i], NULL);
	pthread_mutex_lock(&g->mu);
	struct gw_job *j = g->head;
	g->head = g->tail = NULL;
	pthread_mutex_unlock(&g->mu);
	for (struct gw_job *nx; j; j = nx) {
		nx = j->next;
		answer_error(j->later, 503, NULL, "the gateway is stopping");
		free(j);
	}
}

void api_gateway_free(api_gateway *g)
{
	if (!g)
		return;
	api_gateway_stop(g);
	free(g->threads);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

int api_gateway_defer(api_gateway *g, const http_req *req, http_resp *r)
{
	pthread_mutex_lock(&g->mu);
	bool full = g->queued >= g->queue_max || g->stopping;
	if (!full)
		g->queued++; /* the place is taken before the copy */
	pthread_mutex_unlock(&g->mu);
	if (full) {
		limit_hit(LIM_GATEWAY_QUEUE, "%u requests already wait for upstream answers",
		          g->queue_max);
		http_resp_error(r, 503, PROTO_RC_SERVER_BUSY,
		                "the gateway is busy waiting for other nodes: ask again "
		                "(http-gateway-queue)");
		r->extra_headers = "Retry-After: 1\r\n";
		return 0;
	}
	struct gw_job *j = job_copy(req);
	http_later *l = j ? http_defer(r) : NULL;
	if (!l) {
		pthread_mutex_lock(&g->mu);
		g->queued--;
		pthread_mutex_unlock(&g->mu);
		free(j);
		return j ? IDN_EAGAIN : IDN_ENOMEM; /* EAGAIN: no later here (http_feed) */
	}
	j->later = l;
	pthread_mutex_lock(&g->mu);
	/*
	 * api_gateway_stop may have run since the place was taken (an HTTP worker
	 * still in its handler after http_stop): its threads are gone and the
	 * queue drained, so nobody would answer j and http_wait would wait forever.
	 */
	bool stopped = g->stopping;
	if (stopped) {
		g->queued--;
	} else {
		if (g->tail)
			g->tail->next = j;
		else
			g->head = j;
		g->tail = j;
		pthread_cond_signal(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	if (stopped) {
		answer_error(l, 503, NULL, "the gateway is stopping");
		free(j);
	}
	return 0;
}
