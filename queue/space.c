/*
 * space.c - free space in the spool: what the stats file shows, and the
 * check that stops new mail (outbox ENOSPC, the listener's 452 4.3.1)
 * while the spool has less than min_free (mailfs.conf(5)) left, so the
 * state writes of mail already accepted still fit.
 *
 * API: queue_space, queue_space_check (queue.h). One fstatvfs of the
 * spool per call: cheap next to storing a message.
 */
#include <errno.h>
#include <sys/statvfs.h>

#include "lib/conf.h"
#include "queue/core.h"

int
queue_space(unsigned long long *avail, int *pct, unsigned long long *keep)
{
	struct statvfs sv;
	unsigned long long total;

	if (queue.spoolfd == -1 || fstatvfs(queue.spoolfd, &sv) == -1)
		return -1;
	*avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	total = (unsigned long long)sv.f_blocks * sv.f_frsize;
	*pct = total ? (int)(*avail * 100 / total) : 100;
	*keep = queue.conf ? conf_min_free(queue.conf, total) : 0;
	return 0;
}

int
queue_space_check(size_t need)
{
	unsigned long long avail, keep;
	int pct;

	if (queue_space(&avail, &pct, &keep) == -1)
		return 0;	/* unknown: storing will tell */
	return avail < keep || avail - keep < need ? ENOSPC : 0;
}
