/*
 * schedule.c - the retry schedule of deferred recipients: the delays of
 * the `retry` setting (the last one repeating) and the `max_age` limit
 * after which a recipient still deferred fails.
 *
 * API: schedule_next, schedule_expired, schedule_format_duration
 * (queue_int.h). Pure functions of the settings; no diagnostics.
 */
#include <stdio.h>

#include "lib/conf.h"
#include "queue/queue_int.h"

/* Used when the settings hold no delay at all (conf refuses that, but a
 * zero delay would make a deferred recipient spin). */
#define SCHEDULE_FALLBACK	60

time_t
schedule_next(const struct conf *c, int attempts, time_t now)
{
	size_t i;

	if (c->nretry == 0)
		return now + SCHEDULE_FALLBACK;
	i = attempts < 1 ? 0 : (size_t)attempts - 1;
	if (i >= c->nretry)
		i = c->nretry - 1;
	return now + c->retry[i];
}

int
schedule_expired(const struct conf *c, time_t arrival, time_t now)
{
	return now - arrival >= c->max_age;
}

void
schedule_format_duration(time_t secs, char *buf, size_t len)
{
	static const struct {
		time_t secs;
		char unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t i, used = 0;
	int n;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (secs <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && used < len; i++) {
		if (secs < units[i].secs)
			continue;
		n = snprintf(buf + used, len - used, "%lld%c",
		    (long long)(secs / units[i].secs), units[i].unit);
		if (n < 0)
			return;
		used += (size_t)n;
		secs %= units[i].secs;
	}
}
