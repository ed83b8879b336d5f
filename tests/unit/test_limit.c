/*
 * test_limit.c - core/limit.h: every limit has a distinct name, hits are
 * counted from several threads without loss, the log line is written at most
 * once per interval however often a limit acts, and the statistics line names
 * every limit with its count.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/limit.h"

static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < LIM_COUNT; i++) {
		assert_non_null(limit_name((enum idn_limit_id)i));
		assert_true(strlen(limit_name((enum idn_limit_id)i)) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(limit_name((enum idn_limit_id)i),
			                        limit_name((enum idn_limit_id)j));
	}
	assert_string_equal(limit_name(LIM_COUNT), "unknown");
}

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		limit_hit(LIM_UDP_RATE, "source %d", i);
	return NULL;
}

/* stderr goes to a pipe while the threads run; the lines are counted. */
static void test_counts_and_log_once(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fds[1], 2);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	char buf[4096];
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	buf[n] = 0;
	assert_int_equal(limit_count(LIM_UDP_RATE), 400000);
	int lines = 0;
	for (char *p = buf; (p = strstr(p, "idnode: limit udp-rate: source ")); p++)
		lines++;
	/* 400,000 hits in far less than LIMIT_LOG_MS: one line, not thousands */
	assert_int_equal(lines, 1);
	/*
	 * The line counts the hits before it: the thread that logs may not be
	 * the one that counted first (another may have counted meanwhile), so
	 * 1 or a few, never all of them.
	 */
	char *since = strstr(buf, "(");
	assert_non_null(since);
	unsigned long times = 0;
	assert_int_equal(sscanf(since, "(%lu times since the last report)", &times), 1);
	assert_true(times >= 1 && times < 400000);
}

static void test_line(void **state)
{
	(void)state;
	limit_hit(LIM_RECORD_SIZE, NULL);
	char line[1024];
	int n = limit_line(line, sizeof(line));
	assert_int_equal(n, (int)strlen(line));
	assert_non_null(strstr(line, " record-size=1"));
	for (int i = 0; i < LIM_COUNT; i++)
		assert_non_null(strstr(line, limit_name((enum idn_limit_id)i)));
	char small[16];
	assert_int_equal(limit_line(small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_counts_and_log_once),
	    cmocka_unit_test(test_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
