/*
 * test_holddown.c - the resolver's hold-down of upstream servers that timed
 * out (resolver/holddown.h), on an injected clock: held down after a
 * timeout, one probe once the interval passes, the interval doubling to its
 * cap after failed probes, forgotten once answered, stragglers ignored, the
 * table bounded, and "since" reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "resolver/holddown.h"

static int64_t ms = 1000000;

static int64_t clock_ms(void)
{
	return ms;
}

static uint32_t wall(void)
{
	return 1700000000u + (uint32_t)(ms / 1000);
}

static holddown *mk(unsigned max, unsigned first, unsigned cap)
{
	holddown_opts o = {
	    .max = max, .first_ms = first, .max_ms = cap, .now_ms = clock_ms, .wall = wall};
	holddown *h;
	assert_int_equal(holddown_new(&o, &h), IDN_OK);
	return h;
}

static bool may(holddown *h, const char *k)
{
	return holddown_may_ask(h, k, strlen(k), NULL);
}

static void timeout(holddown *h, const char *k)
{
	holddown_result(h, k, strlen(k), false);
}

static void test_held_then_probe_then_doubling(void **state)
{
	(void)state;
	holddown *h = mk(8, 1000, 5000);
	assert_true(may(h, "a"));
	timeout(h, "a");
	uint32_t since = 0;
	assert_false(holddown_may_ask(h, "a", 1, &since));
	assert_int_equal(since, wall());
	assert_true(may(h, "b")); /* others are not affected */
	assert_int_equal(holddown_count(h), 1);
	ms += 999;
	assert_false(may(h, "a"));
	ms += 1;
	assert_true(may(h, "a"));  /* the probe */
	assert_false(may(h, "a")); /* only one while it is out */
	timeout(h, "a");           /* the probe timed out: 2000 ms now */
	ms += 1999;
	assert_false(may(h, "a"));
	ms += 1;
	assert_true(may(h, "a"));
	timeout(h, "a"); /* 4000 */
	ms += 4000;
	assert_true(may(h, "a"));
	timeout(h, "a"); /* capped at 5000 */
	ms += 4999;
	assert_false(may(h, "a"));
	ms += 1;
	assert_true(may(h, "a"));
	/* The probe is answered: forgotten, every question goes again. */
	holddown_result(h, "a", 1, true);
	assert_true(may(h, "a"));
	assert_true(may(h, "a"));
	assert_int_equal(holddown_count(h), 0);
	holddown_free(h);
}

static void test_stragglers_do_not_extend(void **state)
{
	(void)state;
	holddown *h = mk(8, 1000, 60000);
	/* Three questions out at once all time out: one hold-down of 1000 ms. */
	timeout(h, "s");
	timeout(h, "s");
	timeout(h, "s");
	ms += 1000;
	assert_true(may(h, "s"));
	holddown_free(h);
}

static void test_bounded_table(void **state)
{
	(void)state;
	holddown *h = mk(4, 1000, 60000);
	char k[8];
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		timeout(h, k);
		ms += 10;
	}
	assert_int_equal(holddown_count(h), 4);
	/* The newest are kept, the oldest replaced. */
	assert_false(may(h, "k9"));
	assert_false(may(h, "k6"));
	assert_true(may(h, "k0"));
	/* Keys out of range are never held. */
	char big[HOLDDOWN_KEY_MAX + 1];
	memset(big, 'x', sizeof(big));
	holddown_result(h, big, sizeof(big), false);
	assert_true(holddown_may_ask(h, big, sizeof(big), NULL));
	holddown_free(h);
}

/* A full table gives way with one not being probed: the probe's failure still doubles. */
static void test_probed_one_not_replaced(void **state)
{
	(void)state;
	holddown *h = mk(2, 1000, 60000);
	timeout(h, "a");
	ms += 10;
	timeout(h, "b");
	ms += 1000;
	assert_true(may(h, "a")); /* a's probe is out; a ends first */
	timeout(h, "c");          /* the table is full: b gives way, not a */
	assert_false(may(h, "c"));
	assert_true(may(h, "b"));
	timeout(h, "a"); /* the probe failed: 2000 ms */
	ms += 1500;
	assert_false(may(h, "a"));
	ms += 500;
	assert_true(may(h, "a"));
	holddown_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_held_then_probe_then_doubling),
	    cmocka_unit_test(test_stragglers_do_not_extend),
	    cmocka_unit_test(test_bounded_table),
	    cmocka_unit_test(test_probed_one_not_replaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
