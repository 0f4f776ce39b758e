/*
 * id.c - queue IDs: "20261129T030405.123456", the UTC time of submission
 * with microseconds. Fixed width, so `ls` sorts them by time; only digits,
 * 'T' and '.', so they are safe as file names.
 *
 * API: queue_id_new, queue_id_seen, queue_id_valid (queue_int.h). IDs are
 * made strictly increasing in the process (a clock step back or two calls
 * within one microsecond take the last ID plus 1us), and queue_open feeds
 * every ID on disk to queue_id_seen so a restart never reuses one.
 * Diagnostics: none.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "queue/queue_int.h"

static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;
static long long last_us;	/* microseconds since the epoch of the last ID */

static long long
parse_us(const char *id)
{
	struct tm tm;
	long usec;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(id, "%Y%m%dT%H%M%S", &tm);
	if (end == NULL || sscanf(end, ".%6ld", &usec) != 1)
		return 0;
	return (long long)timegm(&tm) * 1000000 + usec;
}

void
queue_id_new(char id[QUEUE_ID_LEN + 1])
{
	char buf[QUEUE_ID_MAX];
	struct timespec ts;
	struct tm tm;
	long long us;
	time_t secs;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	pthread_mutex_lock(&id_mu);
	if (us <= last_us)
		us = last_us + 1;
	last_us = us;
	pthread_mutex_unlock(&id_mu);
	secs = (time_t)(us / 1000000);
	gmtime_r(&secs, &tm);
	snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02d.%06lld",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, us % 1000000);
	/* QUEUE_ID_LEN exactly (until the year 10000) */
	memcpy(id, buf, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
}

void
queue_id_seen(const char *id)
{
	long long us;

	if (!queue_id_valid(id))
		return;
	us = parse_us(id);
	pthread_mutex_lock(&id_mu);
	if (us > last_us)
		last_us = us;
	pthread_mutex_unlock(&id_mu);
}

int
queue_id_valid(const char *s)
{
	size_t i;

	if (strlen(s) != QUEUE_ID_LEN)
		return 0;
	for (i = 0; i < QUEUE_ID_LEN; i++) {
		if (i == 8 ? s[i] != 'T' : i == 15 ? s[i] != '.' :
		    !isdigit((unsigned char)s[i]))
			return 0;
	}
	return parse_us(s) != 0;
}
