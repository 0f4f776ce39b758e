/*
 * schedule_test.c - unit tests of queue/schedule.c: the retry delays (the
 * last one repeating) and max_age. TAP.
 */
#include <stdio.h>
#include <string.h>

#include "lib/conf.h"
#include "queue/queue_int.h"

static int n, failed;

static void
ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	if (!cond)
		failed++;
}

int
main(void)
{
	struct conf c;
	char err[256], buf[64];
	time_t t0 = 1700000000;

	conf_init_defaults(&c);
	ok(schedule_next(&c, 1, t0) == t0 + 60, "first retry after 1m");
	ok(schedule_next(&c, 2, t0) == t0 + 300, "second after 5m");
	ok(schedule_next(&c, 3, t0) == t0 + 900, "third after 15m");
	ok(schedule_next(&c, 7, t0) == t0 + 4 * 3600, "seventh after 4h");
	ok(schedule_next(&c, 8, t0) == t0 + 4 * 3600, "the last delay repeats");
	ok(schedule_next(&c, 100, t0) == t0 + 4 * 3600, "and keeps repeating");
	ok(schedule_next(&c, 0, t0) == t0 + 60, "attempt 0 counts as the first");

	ok(conf_set(&c, "retry", "10s,20s", err, sizeof(err)) == 0,
	    "retry=10s,20s set");
	ok(schedule_next(&c, 1, t0) == t0 + 10 && schedule_next(&c, 2, t0) ==
	    t0 + 20 && schedule_next(&c, 5, t0) == t0 + 20,
	    "custom delays, last repeating");

	ok(!schedule_expired(&c, t0, t0 + 5 * 86400 - 1),
	    "not expired just before max_age (5d)");
	ok(schedule_expired(&c, t0, t0 + 5 * 86400), "expired at max_age");
	ok(schedule_expired(&c, t0, t0 + 6 * 86400), "expired after max_age");
	ok(conf_set(&c, "max_age", "1h", err, sizeof(err)) == 0 &&
	    !schedule_expired(&c, t0, t0 + 3599) &&
	    schedule_expired(&c, t0, t0 + 3600), "max_age=1h");

	schedule_format_duration(5 * 86400, buf, sizeof(buf));
	ok(strcmp(buf, "5d") == 0, "5d formatted");
	schedule_format_duration(86400 + 2 * 3600 + 3, buf, sizeof(buf));
	ok(strcmp(buf, "1d2h3s") == 0, "1d2h3s formatted");
	schedule_format_duration(0, buf, sizeof(buf));
	ok(strcmp(buf, "0s") == 0, "0s formatted");

	conf_free(&c);
	printf("1..%d\n", n);
	return failed != 0;
}
