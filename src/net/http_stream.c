/*
 * http_stream.c - answers with a streamed body (http.h: http_resp_stream):
 * each part is produced when the connection's unsent output falls below a
 * watermark, so the memory an answer takes is bounded by the watermark, not
 * by the answer, and a client that stops reading stops its producer.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/limit.h"
#include "net/http_conn.h"

void http_resp_stream(http_resp *r, http_stream_fn next, void (*done)(void *arg), void *arg)
{
	http_resp_stream_drop(r);
	r->stream = next;
	r->stream_done = done;
	r->stream_arg = arg;
}

void http_resp_stream_drop(http_resp *r)
{
	void (*done)(void *) = r->stream_done;
	void *arg = r->stream_arg;
	bool had = r->stream != NULL;
	r->stream = NULL;
	r->stream_done = NULL;
	r->stream_arg = NULL;
	if (had && done)
		done(arg);
}

/* One part onto the output, as a chunk when chunked. */
static bool part_out(http_conn *c, const uint8_t *p, size_t n)
{
	if (!n)
		return true;
	if (!c->stream_chunked)
		return http_out_append(c, p, n);
	char size[24];
	int k = snprintf(size, sizeof(size), "%zx\r\n", n);
	return http_out_append(c, size, (size_t)k) && http_out_append(c, p, n) &&
	       http_out_append(c, "\r\n", 2);
}

void http_stream_begin(http_conn *c, http_resp *r, bool chunked, bool close_after)
{
	c->stream = r->stream;
	c->stream_done = r->stream_done;
	c->stream_arg = r->stream_arg;
	c->stream_chunked = chunked;
	c->stream_close = close_after;
	c->stream_paused = false;
	r->stream = NULL;
	r->stream_done = NULL;
	r->stream_arg = NULL;
	if (!part_out(c, r->body, r->len))
		http_stream_end(c, false);
}

void http_stream_end(http_conn *c, bool ok)
{
	if (!c->stream)
		return;
	void (*done)(void *) = c->stream_done;
	void *arg = c->stream_arg;
	c->stream = NULL;
	c->stream_done = NULL;
	c->stream_arg = NULL;
	if (ok && c->stream_chunked && !http_out_append(c, "0\r\n\r\n", 5))
		ok = false;
	if (!ok || c->stream_close) {
		c->closing = true;
		c->keep = false;
	}
	if (done)
		done(arg);
}

void http_stream_note_pause(http_conn *c)
{
	size_t unsent = c->out_len - c->out_off;
	if (!c->stream || c->stream_paused)
		return;
	/* All sent may still mean the socket is now full: it then waits for the reader. */
	struct pollfd p = {.fd = c->fd, .events = POLLOUT};
	if (!unsent && (c->fd < 0 || poll(&p, 1, 0) != 0))
		return;
	c->stream_paused = true;
	limit_hit(
	    LIM_ANSWER_STREAM,
	    "a streamed answer waits for its reader (its socket is full, %zu bytes more wait)",
	    unsent);
}

bool http_stream_fill(http_conn *c, size_t low)
{
	if (!c->stream)
		return false;
	if (c->closing) {
		http_stream_end(c, false);
		return false;
	}
	/* What was sent is dropped first, so the buffer never grows past low + a part. */
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len >= low)
		return false;
	http_resp *part = &c->w->part;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (c->stream && c->out_len < low) {
		part->len = 0;
		part->oom = false;
		int more = c->stream(c->stream_arg, part);
		if (more < 0 || part->oom || !part_out(c, part->body, part->len)) {
			http_stream_end(c, false);
			break;
		}
		if (!more)
			http_stream_end(c, true);
		/* Parts that are slow to make yield the worker: the rest at its next turn. */
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 >=
		    HTTP_STREAM_SLICE_US)
			break;
	}
	return true;
}
