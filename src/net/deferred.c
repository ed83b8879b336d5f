/*
 * deferred.c - deferred answers to TCP requests (net.h: net_defer, net_answer).
 *
 * A net_later belongs to the connection that waits for it until another
 * thread answers: net_answer() copies the answer, queues the net_later on
 * the connection's worker and wakes it (the queue and eventfd of later_q.c,
 * shared with HTTP's http_later.c); the worker takes the queue in
 * (net_later_drain) and hands each answer to its connection. Only the worker
 * touches its connections: `c` is read and cleared (when the connection
 * closes first) on the worker thread alone.
 *
 * Counting: the server counts net_laters from net_defer to their free, and
 * net_wait() waits for zero, so that a late net_answer() never finds the
 * worker freed. A worker that has stopped (its queue closed) frees what
 * comes in.
 */
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

struct net_later {
	struct net_later_link link; /* on the worker's queue (first) */
	struct net_worker *w;
	struct net_conn *c; /* the worker's: NULL once the connection is gone */
	uint8_t *ans;
	size_t len;
};

int net_later_init(struct net_worker *w)
{
	w->wake_src.kind = NET_SRC_WAKE;
	return net_later_q_init(&w->lq, w->ep, &w->wake_src);
}

static void later_free(struct net_later *l)
{
	struct net_server *s = l->w->s;

	free(l->ans);
	free(l);
	net_later_count_done(&s->nlater);
}

net_later *net_defer(const net_req *req)
{
	struct net_conn *c = req->conn;

	if (req->transport != NET_TCP || !c || c->later)
		return NULL;
	struct net_later *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->w = c->w;
	l->c = c;
	c->later = l;
	net_later_count_add(&c->w->s->nlater);
	return l;
}

void net_answer(net_later *l, const uint8_t *ans, size_t len)
{
	if (len && ans && (l->ans = malloc(len))) {
		memcpy(l->ans, ans, len);
		l->len = len;
	}
	if (!net_later_q_push(&l->w->lq, &l->link))
		later_free(l); /* the worker has stopped */
}

void net_later_drain(struct net_worker *w)
{
	struct net_later_link *k = net_later_q_take(&w->lq);
	while (k) {
		struct net_later *l = (struct net_later *)k;
		k = k->next;
		if (l->c) {
			l->c->later = NULL;
			net_tcp_later_done(w, l->c, l->ans, l->len);
		}
		later_free(l);
	}
}

void net_later_fini(struct net_worker *w)
{
	struct net_later_link *k = net_later_q_close(&w->lq);
	while (k) {
		struct net_later *l = (struct net_later *)k;
		k = k->next;
		later_free(l);
	}
}

void net_later_wait(struct net_server *s)
{
	net_later_count_wait(&s->nlater);
}

/* Called by conn_close(): the answer, when it comes, has nowhere to go. */
void net_later_orphan(struct net_conn *c)
{
	if (c->later) {
		c->later->c = NULL;
		c->later = NULL;
	}
}
