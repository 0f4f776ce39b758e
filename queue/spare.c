/*
 * spare.c - empty entry directories made ahead of need (see spare.h).
 *
 * Why: a submission's directory and its message, state and log files are
 * four new inodes, and on ext4 each costs a search of the inode bitmaps
 * (longer the more inodes were freed lately): about half a millisecond
 * of the writer's wait at close(). A thread makes them beforehand, while
 * no writer waits for it, keeping SPARE_TARGET ready; a submission takes
 * one, writes into its files (whose inodes exist) and renames it into
 * queue/ under its ID. When none is ready it makes its own in tmp/.
 *
 * Durability: a spare is offered only once all its files exist, and
 * marked (spool_sync_mark) when it is complete; once a round of the
 * spool's group commit has covered it (spool_sync_covered: under load,
 * the round of any earlier submission), its names are durable and a
 * submission taking it needs one round, not two (queue.c). Spares are
 * taken oldest first, the likeliest to be covered; one that is not yet
 * gets a round before its rename (spool_sync_cover: the one running, if
 * it began after the spare was made). After a quiet spell the
 * thread runs a round for the spares itself (stocked). A crash may leave
 * half-made spares: spare_start removes every one and starts again. They
 * live in their own directory, so that tmp/ holds only what interrupted
 * work left.
 *
 * Diagnostics: a failure to make one is logged once (log_warn) and tried
 * again after a pause; submissions go on without spares meanwhile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/work.h"
#include "queue/spare.h"
#include "queue/spool.h"

/* Enough for 8 writers' bursts; each spare is four empty inodes. */
#define SPARE_TARGET	16
/* Takes wake the thread only once the stock is down to this, and it
 * makes the rest in one go: a wakeup (two context switches) per
 * SPARE_TARGET - SPARE_LOW submissions, not per submission. */
#define SPARE_LOW	(SPARE_TARGET / 2)
/* After a failure to make one (a full disk), before the next try. */
#define SPARE_RETRY_S	5
/* Idle this long with spares no round has covered: one round for them. */
#define SPARE_IDLE_S	1

static const char *const files[] = { "message", "state", "log" };

/* A ring of ready spares, oldest at head. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	struct spool_dir *fs;
	int fd;			/* SPOOL/spare, or -1 */
	int started, stop, warned;
	unsigned long next;	/* the name of the next one made */
	unsigned long ready[SPARE_TARGET];
	unsigned long mark[SPARE_TARGET];	/* spool_sync_mark when made */
	size_t head, n;
} sp = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
	.fd = -1 };

/* Make spare number id: 0, or an errno (nothing of it left behind). */
static int
make(int fd, unsigned long id)
{
	char name[SPARE_NAME_MAX];
	size_t i;
	int dfd, err = 0;

	snprintf(name, sizeof(name), "%lu", id);
	if (mkdirat(fd, name, 0750) == -1)
		return errno;
	if ((dfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err = errno;
	/* mknod: an empty file without an open and a close */
	for (i = 0; !err && i < sizeof(files) / sizeof(files[0]); i++)
		if (mknodat(dfd, files[i], S_IFREG | 0640, 0) == -1)
			err = errno;
	/* a name, not an inode: renamed to the seal in one round */
	if (!err && linkat(dfd, "message", dfd, SPARE_SEAL, 0) == -1)
		err = errno;
	if (dfd != -1)
		close(dfd);
	if (err)
		spool_remove_tree(fd, name);
	return err;
}

/*
 * stocked - sp.mu held, every spare made: wait for a take. If no round
 * has covered the newest spare after SPARE_IDLE_S (no submission came
 * since it was made), run one, nobody waiting for it, so that the next
 * submission after a quiet spell needs one round, not two. Under load
 * the submissions' own rounds cover the spares and this never syncs.
 */
static void
stocked(void)
{
	struct timespec until;
	unsigned long newest;

	newest = sp.mark[(sp.head + sp.n - 1) % SPARE_TARGET];
	if (spool_sync_covered(sp.fs, newest)) {
		pthread_cond_wait(&sp.cv, &sp.mu);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SPARE_IDLE_S;
	if (pthread_cond_timedwait(&sp.cv, &sp.mu, &until) == 0 || sp.stop ||
	    sp.n < SPARE_TARGET || spool_sync_covered(sp.fs, newest))
		return;
	pthread_mutex_unlock(&sp.mu);
	spool_dir_sync(sp.fs);	/* a failure: still not covered */
	pthread_mutex_lock(&sp.mu);
}

static void *
filler(void *arg)
{
	struct timespec until;
	unsigned long id;
	size_t i;
	int err;

	(void)arg;
	pthread_mutex_lock(&sp.mu);
	while (!sp.stop) {
		if (sp.n >= SPARE_TARGET) {
			stocked();
			continue;
		}
		id = sp.next++;
		pthread_mutex_unlock(&sp.mu);
		err = make(sp.fd, id);
		pthread_mutex_lock(&sp.mu);
		if (!err) {
			i = (sp.head + sp.n++) % SPARE_TARGET;
			sp.ready[i] = id;
			sp.mark[i] = spool_sync_mark(sp.fs);
			continue;
		}
		if (!sp.warned) {
			errno = err;
			log_warn("spare/%lu: cannot make it", id);
			sp.warned = 1;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SPARE_RETRY_S;
		while (!sp.stop && pthread_cond_timedwait(&sp.cv, &sp.mu,
		    &until) == 0)
			;
	}
	pthread_mutex_unlock(&sp.mu);
	return NULL;
}

/* Remove everything in SPOOL/spare. */
static int
clear(int fd)
{
	struct dirent *de;
	DIR *dir;
	int dfd, err = 0;

	if ((dfd = dup(fd)) == -1)
		return errno;
	if ((dir = fdopendir(dfd)) == NULL) {
		err = errno;
		close(dfd);
		return err;
	}
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    !err)
			err = spool_remove_tree(fd, de->d_name);
	closedir(dir);
	return err;
}

int
spare_start(int spoolfd, struct spool_dir *fs)
{
	int fd, err;

	if (mkdirat(spoolfd, "spare", 0750) == -1 && errno != EEXIST)
		return errno;
	if ((fd = openat(spoolfd, "spare", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return errno;
	if ((err = clear(fd)) != 0) {
		close(fd);
		return err;
	}
	pthread_mutex_lock(&sp.mu);
	sp.fd = fd;
	sp.fs = fs;
	sp.stop = sp.warned = 0;
	sp.head = sp.n = 0;
	sp.next = 0;
	err = work_thread(&sp.th, filler, NULL);
	sp.started = err == 0;
	if (err) {
		close(fd);
		sp.fd = -1;
	}
	pthread_mutex_unlock(&sp.mu);
	return err;
}

void
spare_stop(void)
{
	pthread_mutex_lock(&sp.mu);
	if (!sp.started) {
		pthread_mutex_unlock(&sp.mu);
		return;
	}
	sp.stop = 1;
	pthread_cond_broadcast(&sp.cv);
	pthread_mutex_unlock(&sp.mu);
	pthread_join(sp.th, NULL);
	pthread_mutex_lock(&sp.mu);
	sp.started = 0;
	sp.n = 0;
	close(sp.fd);
	sp.fd = -1;
	pthread_mutex_unlock(&sp.mu);
}

int
spare_take(char name[SPARE_NAME_MAX], int *durable, unsigned long *mark)
{
	unsigned long id;

	pthread_mutex_lock(&sp.mu);
	if (sp.n == 0) {
		pthread_mutex_unlock(&sp.mu);
		return -1;
	}
	id = sp.ready[sp.head];
	*mark = sp.mark[sp.head];
	*durable = spool_sync_covered(sp.fs, *mark);
	sp.head = (sp.head + 1) % SPARE_TARGET;
	if (--sp.n <= SPARE_LOW)
		pthread_cond_signal(&sp.cv);
	pthread_mutex_unlock(&sp.mu);
	snprintf(name, SPARE_NAME_MAX, "%lu", id);
	return 0;
}

int
spare_dirfd(void)
{
	return sp.fd;
}
