/* limit.c - counting and rate-limited logging of protective limits (limit.h). */
#include "core/limit.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static const char *const names[LIM_COUNT] = {
    [LIM_UDP_ANSWER_SIZE] = "udp-answer-size",
    [LIM_UDP_RATE] = "udp-rate",
    [LIM_CONN_PER_SOURCE] = "conn-per-source",
    [LIM_CONN_EVICTED] = "conn-evicted",
    [LIM_MSG_DEADLINE] = "message-deadline",
    [LIM_FD_EXHAUSTED] = "fd-exhausted",
    [LIM_HTTP_BODY] = "http-body",
    [LIM_ANSWER_STREAM] = "answer-stream",
    [LIM_PENDING_AUTH] = "pending-auth",
    [LIM_SESSIONS] = "sessions",
    [LIM_LOGIN_FAILURES] = "login-failures",
    [LIM_VALUE_SYNTAX] = "value-syntax",
    [LIM_RECORD_SIZE] = "record-size",
    [LIM_REDIRECT_SCHEME] = "redirect-scheme",
    [LIM_STORAGE_FULL] = "storage-full",
    [LIM_TRUST_CHAIN] = "trust-chain",
    [LIM_QUOTA] = "quota",
    [LIM_GATEWAY_QUEUE] = "gateway-queue",
    [LIM_LABEL_BATCH] = "label-batch",
    [LIM_GATEWAY_ANSWER] = "gateway-answer",
    [LIM_SEARCH_SCAN] = "search-scan",
    [LIM_APPLICATIONS] = "applications",
    [LIM_STATS_PREFIXES] = "stats-prefixes",
    [LIM_STATS_REPORTS] = "stats-reports",
};

static struct {
	_Atomic uint64_t hits;
	_Atomic uint64_t reported; /* hits covered by the last log line */
	_Atomic int64_t next_ms;   /* no line before this time */
} table[LIM_COUNT];

int64_t limit_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *limit_name(enum idn_limit_id id)
{
	return (unsigned)id < LIM_COUNT ? names[id] : "unknown";
}

void limit_hit(enum idn_limit_id id, const char *fmt, ...)
{
	if ((unsigned)id >= LIM_COUNT)
		return;
	uint64_t hits = atomic_fetch_add_explicit(&table[id].hits, 1, memory_order_relaxed) + 1;
	int64_t now = limit_now_ms();
	int64_t next = atomic_load_explicit(&table[id].next_ms, memory_order_relaxed);
	if (now < next ||
	    !atomic_compare_exchange_strong(&table[id].next_ms, &next, now + LIMIT_LOG_MS))
		return;
	uint64_t since = hits - atomic_exchange(&table[id].reported, hits);
	char detail[256] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "idnode: limit %s: %s (%llu times since the last report)\n", names[id],
	        detail[0] ? detail : "acted", (unsigned long long)since);
}

uint64_t limit_count(enum idn_limit_id id)
{
	if ((unsigned)id >= LIM_COUNT)
		return 0;
	return atomic_load_explicit(&table[id].hits, memory_order_relaxed);
}

int limit_line(char *out, size_t cap)
{
	size_t n = 0;
	int len = snprintf(out, cap, "limits:");
	if (len < 0)
		return len;
	n = (size_t)len;
	for (int i = 0; i < LIM_COUNT; i++) {
		len = snprintf(n < cap ? out + n : NULL, n < cap ? cap - n : 0, " %s=%llu",
		               names[i], (unsigned long long)limit_count((enum idn_limit_id)i));
		if (len < 0)
			return len;
		n += (size_t)len;
	}
	return (int)n;
}
