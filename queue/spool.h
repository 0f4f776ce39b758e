/*
 * spool.h - the durability layer of queue/ (the outbound spool and the
 * inbox Maildir both use it; private to queue/): write a file and
 * fdatasync it, replace a file atomically (tmp + fsync + rename +
 * directory fsync), read a small file, remove a tree, and group commit of
 * directory fsyncs or of whole-file-system syncs shared by concurrent
 * writers.
 *
 * Every function returns 0 or an errno value (never -1), so callers can
 * pass it on as the errno of interface.md.
 */
#ifndef MAILFS_SPOOL_H
#define MAILFS_SPOOL_H

#include <pthread.h>
#include <stddef.h>
#include <sys/uio.h>

#define SPOOL_DIR_FDS	2	/* directories one group commit covers */

/*
 * A directory whose fsync is shared: a caller that has renamed an entry
 * into it calls spool_dir_sync, which returns once an fsync that started
 * after the call has completed. One fsync serves every caller that was
 * waiting when it started, so N concurrent submitters cost about two
 * directory fsyncs instead of N. A round may cover more than one
 * directory (spool_dir_add: the Maildir's new/ and envelope/), which is
 * cheaper than one round per directory: one wait, not two.
 */
struct spool_dir {
	int fd[SPOOL_DIR_FDS];
	int nfd;
	int whole_fs;		/* a round is syncfs of each fd, not fsync */
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* a round finished */
	pthread_cond_t gathered;	/* held fell to 0: the leader may start */
	unsigned long started;	/* rounds begun */
	unsigned long done;	/* rounds finished (they run one at a time) */
	unsigned long failed;	/* number of the last one that failed, 0: none */
	unsigned long rounds;	/* syscalls made (for tests) */
	int held;		/* writers that will wait soon */
	int err;		/* its errno */
	int running;
};

int	spool_dir_open(struct spool_dir *d, int atfd, const char *name);
/* One more directory fsync'd in every round of d (for spool_fs_open: one
 * more file system, nothing if it is the same). */
int	spool_dir_add(struct spool_dir *d, int atfd, const char *name);
void	spool_dir_close(struct spool_dir *d);
/* spool_sync_wait(d, spool_sync_ticket(d), 0): for a rename just made. */
int	spool_dir_sync(struct spool_dir *d);

/*
 * Group commit of file data too: with spool_fs_open each round of d is one
 * syncfs(2) of the file system holding atfd/name, which makes durable
 * every file written there and every name made before it began. A writer
 * takes a ticket before it writes anything, writes its files without
 * syncing them, and calls spool_sync_wait(d, ticket, held): it returns
 * once a round that began after the call has finished, so one syscall
 * serves every writer waiting at that moment. syncfs reports a writeback
 * error once, to whichever round looks first, and that round may be one
 * an earlier writer waited for; so a failed round fails every writer
 * whose ticket is older than it (its data may be what failed), not only
 * those who waited for it. Two rounds make a durable create: data (round
 * 1), then the name that makes it visible (rename or link), then round 2.
 * One round does when what the name shows can tell itself whether it is
 * whole (a queue entry's checksum: queue/check.c).
 *
 * A writer that holds d (spool_sync_hold, until spool_sync_release; held
 * set in its waits) is one that will wait soon: whoever starts a round
 * gives the holders up to SPOOL_GROUP_DELAY_US to arrive first, so that
 * concurrent writers share rounds even when a sync is quick (3 ms: with
 * 8 cp writers on 2 cores, 1 ms gave 1.1-1.3 syncs per message, 3 ms
 * 0.92-0.99, with no loss of throughput that a noisy machine showed).
 * Hold only
 * for work that takes microseconds (writing a small file, a rename), never
 * across a wait for a client.
 */
#define SPOOL_GROUP_DELAY_US	3000

int	spool_fs_open(struct spool_dir *d, int atfd, const char *name);
unsigned long spool_sync_ticket(struct spool_dir *d);
int	spool_sync_wait(struct spool_dir *d, unsigned long ticket, int held);
void	spool_sync_hold(struct spool_dir *d);
void	spool_sync_release(struct spool_dir *d);
/*
 * For work done with no writer waiting (spare.c makes directories ahead
 * of need): spool_sync_mark after the work, and spool_sync_covered(d,
 * mark) says whether a round that began after it has since finished
 * without failing, so the work is durable without a round of its own.
 */
unsigned long spool_sync_mark(struct spool_dir *d);
int	spool_sync_covered(struct spool_dir *d, unsigned long mark);
/* spool_sync_wait for work done before mark was taken: a round that
 * began after the mark (one running now, say) is enough, not only one
 * that begins after the call. */
int	spool_sync_cover(struct spool_dir *d, unsigned long mark,
	    unsigned long ticket, int held);

/* Write all of the n pieces in v to fd (retrying short writes). */
int	spool_write_iov(int fd, const struct iovec *v, size_t n);
/* Create (truncating) dirfd/name with buf, fdatasync, close; on failure
 * nothing is left behind. */
int	spool_write_file(int dirfd, const char *name, const void *buf,
	    size_t len);
/* The same without the fdatasync: for a writer whose next step is a
 * spool_sync_wait round. */
int	spool_put_file(int dirfd, const char *name, const void *buf,
	    size_t len);
/* The same into dirfd/name, which exists and is empty (made ahead, as a
 * spare's files: spare.h), without truncating it; ENOENT if it is not
 * there. */
int	spool_fill_file(int dirfd, const char *name, const void *buf,
	    size_t len);
/* Replace dirfd/name atomically: name.tmp written and synced, renamed over
 * name, then dirfd fsync'd (an O_PATH dirfd, for a directory that is not
 * readable: its file system synced). */
int	spool_replace_file(int dirfd, const char *name, const void *buf,
	    size_t len);
/* Read dirfd/name whole into a malloc'd, NUL-terminated buffer (ELOOP for
 * a symlink). */
int	spool_read_file(int dirfd, const char *name, char **buf, size_t *len);
/* rm -r dirfd/name (a missing name is not an error). */
int	spool_remove_tree(int dirfd, const char *name);
/* The errno to report for a storage failure: ENOSPC for a full disk or
 * quota, EIO for anything else. */
int	spool_store_errno(int err);

#endif
