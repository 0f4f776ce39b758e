/*
 * stats.c - the counters since start behind MOUNTPOINT/stats.
 *
 * API: stats_add, stats_get, stats_name (see stats.h). Relaxed C11 atomics:
 * the counters are independent and only ever read for display, so no
 * ordering between them is needed. No diagnostics.
 */
#include <stdatomic.h>

#include "queue/stats.h"

static atomic_long counters[STATS_NCOUNTERS];

/* The key each counter has in the stats file (interface.md). */
static const char *const names[STATS_NCOUNTERS] = {
	[STATS_QUEUED] = "queued",
	[STATS_DELIVERED] = "delivered",
	[STATS_FAILED] = "failed",
	[STATS_RECEIVED] = "received",
	[STATS_REJECTED] = "rejected",
	[STATS_REFUSED] = "refused",
	[STATS_STATE_WRITE_ERRORS] = "state_write_errors",
};

void
stats_add(enum stats_counter which, long n)
{
	if ((unsigned)which < STATS_NCOUNTERS)
		atomic_fetch_add_explicit(&counters[which], n,
		    memory_order_relaxed);
}

long
stats_get(enum stats_counter which)
{
	if ((unsigned)which >= STATS_NCOUNTERS)
		return 0;
	return atomic_load_explicit(&counters[which], memory_order_relaxed);
}

const char *
stats_name(enum stats_counter which)
{
	if ((unsigned)which >= STATS_NCOUNTERS)
		return "unknown";
	return names[which];
}
