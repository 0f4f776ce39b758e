/*
 * spare.h - empty entry directories made ahead of need (queue/spare.c):
 * SPOOL/spare/N/ holding empty message, state and log files (and the
 * name SPARE_SEAL, a second link to message), which a submission fills
 * and renames into queue/ instead of allocating four inodes while its
 * writer waits. Private to queue/.
 */
#ifndef MAILFS_QUEUE_SPARE_H
#define MAILFS_QUEUE_SPARE_H

#include <stddef.h>

#include "queue/spool.h"

/* Room for a spare's name. */
#define SPARE_NAME_MAX	24
/* The name a submission renames to its seal (check.c) in one round. */
#define SPARE_SEAL	"seal"

/* Empty SPOOL/spare (created if missing; what a crash left there is
 * removed) and start the thread that keeps it stocked; fs is the group
 * commit whose rounds make spares durable. 0, or an errno: then there are
 * no spares and submissions make their own directories. */
int	spare_start(int spoolfd, struct spool_dir *fs);
/* End the thread; the spares stay on disk for spare_start to clear. */
void	spare_stop(void);
/* A complete spare's name in name, now the caller's to fill and rename
 * away from spare_dirfd(): 0, or -1 when none is ready. The oldest is
 * taken; *durable says whether a round of fs since it was made has made
 * its names durable (then they need no round of the caller's), *mark is
 * the spool_sync_mark taken when it was (for spool_sync_cover). */
int	spare_take(char name[SPARE_NAME_MAX], int *durable,
	    unsigned long *mark);
/* The descriptor of SPOOL/spare (-1 when not started). */
int	spare_dirfd(void);

#endif
