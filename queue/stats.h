/*
 * stats.h - counters since start, shown in MOUNTPOINT/stats together with
 * the gauges the queue and inbox compute. Lock-free (C11 atomics).
 */
#ifndef MAILFS_STATS_H
#define MAILFS_STATS_H

enum stats_counter {
	STATS_QUEUED, STATS_DELIVERED, STATS_FAILED,
	STATS_RECEIVED, STATS_REJECTED, STATS_REFUSED, STATS_STATE_WRITE_ERRORS,
	STATS_NCOUNTERS
};

void	stats_add(enum stats_counter which, long n);
long	stats_get(enum stats_counter which);
const char *stats_name(enum stats_counter which);

#endif
