/*
 * maildir_trash.c - deleting a message without waiting for the disk
 * (maildir_int.h: maildir_trash_*).
 *
 * maildir_remove takes the file out of new/ or cur/ by renaming it into
 * tmp/ under a hidden name, .mailfs-trash-N, which only updates two
 * directory entries; a thread of its own then unlinks it. The unlink is
 * what waits: the file system frees the blocks within it, and where it
 * discards them at once (ext4 mounted with -o discard and without a
 * journal) that is a round trip to the device, about 0.1 ms a message,
 * which `rm -r` of many inbox entries would otherwise wait for one by
 * one. To every reader of the Maildir the message is gone at the rename:
 * none looks in tmp/. A crash leaves the hidden names for the next
 * maildir_open, whose clean_tmp unlinks them (maildir_trash_is); the
 * rename is not synced, so a crash may also bring the message back, as
 * an unlink not synced would.
 *
 * The thread starts with the first removal (tests and tools that remove
 * nothing start none), with every signal blocked. Woken by a first name,
 * it lets others gather for GATHER_NS, unlinks them all, and waits for
 * the next: a stream of removals wakes it once a batch, not once each.
 * maildir_close ends it once it has unlinked what is pending. Where the
 * rename cannot be made (tmp/ on another file system, say) or no thread
 * runs, the file is unlinked at once, as it always was.
 *
 * Diagnostics: log_warn for a hidden file that cannot be unlinked.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/work.h"
#include "queue/maildir_int.h"

#define TRASH_PREFIX	".mailfs-trash-"
/* Names waiting for the thread; beyond, a remover unlinks its own. */
#define PENDING_MAX	4096
/* How long the thread lets names gather once it has work: an `rm -r` of
 * many entries wakes it once a batch, not once a message. */
#define GATHER_NS	(20 * 1000 * 1000L)

static struct {
	pthread_mutex_t	mu;
	pthread_cond_t	cv;
	pthread_t	th;
	int		dirfd;		/* tmp/, maildir.c's; -1: closed */
	int		started, stop;
	int		idle;		/* the thread waits for a first name */
	int		cv_ready;	/* cv made, on CLOCK_MONOTONIC */
	unsigned long	seq;		/* the next name's N */
	unsigned long	pending[PENDING_MAX];	/* a ring of Ns */
	size_t		head, n;
} tr = { .mu = PTHREAD_MUTEX_INITIALIZER, .dirfd = -1 };

static void
trash_name(unsigned long seq, char name[64])
{
	snprintf(name, 64, TRASH_PREFIX "%lu", seq);
}

int
maildir_trash_is(const char *name)
{
	return strncmp(name, TRASH_PREFIX, sizeof(TRASH_PREFIX) - 1) == 0;
}

static void
unlink_trash(int dirfd, unsigned long seq)
{
	char name[64];

	trash_name(seq, name);
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT)
		log_warn("maildir: unlink tmp/%s", name);
}

static void *
reaper(void *arg)
{
	struct timespec t;
	unsigned long seq;
	int fd;

	(void)arg;
	pthread_mutex_lock(&tr.mu);
	for (;;) {
		tr.idle = 1;
		while (tr.n == 0 && !tr.stop)
			pthread_cond_wait(&tr.cv, &tr.mu);
		tr.idle = 0;
		if (tr.n == 0)
			break;
		/* more gather meanwhile, without waking this thread */
		if (!tr.stop) {
			work_deadline(&t, CLOCK_MONOTONIC, GATHER_NS);
			pthread_cond_timedwait(&tr.cv, &tr.mu, &t);
		}
		while (tr.n > 0) {
			seq = tr.pending[tr.head];
			tr.head = (tr.head + 1) % PENDING_MAX;
			tr.n--;
			fd = tr.dirfd;	/* closed once this thread ended */
			/* unlocked: removers go on while this one waits */
			pthread_mutex_unlock(&tr.mu);
			unlink_trash(fd, seq);
			pthread_mutex_lock(&tr.mu);
		}
	}
	pthread_mutex_unlock(&tr.mu);
	return NULL;
}

/* The thread, if none runs yet: 0, or an errno. Called with the lock. */
static int
start(void)
{
	pthread_condattr_t ca;
	int err;

	if (tr.started)
		return 0;
	/* its timed wait must not stretch with a clock set back */
	if (!tr.cv_ready && pthread_condattr_init(&ca) == 0) {
		if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&tr.cv, &ca) == 0)
			tr.cv_ready = 1;
		pthread_condattr_destroy(&ca);
	}
	if (!tr.cv_ready)
		return ENOTSUP;
	err = work_thread(&tr.th, reaper, NULL);
	tr.started = err == 0;
	return err;
}

void
maildir_trash_open(int tmpfd)
{
	pthread_mutex_lock(&tr.mu);
	tr.dirfd = tmpfd;
	tr.stop = 0;
	tr.head = tr.n = 0;
	pthread_mutex_unlock(&tr.mu);
}

void
maildir_trash_close(void)
{
	pthread_mutex_lock(&tr.mu);
	if (tr.started) {
		tr.stop = 1;
		pthread_cond_signal(&tr.cv);
		pthread_mutex_unlock(&tr.mu);
		pthread_join(tr.th, NULL);
		pthread_mutex_lock(&tr.mu);
		tr.started = 0;
	}
	tr.dirfd = -1;
	pthread_mutex_unlock(&tr.mu);
}

int
maildir_trash_put(const char *path)
{
	char name[64];
	unsigned long seq;
	int fd, queued = 0;

	pthread_mutex_lock(&tr.mu);
	if ((fd = tr.dirfd) == -1 || start() != 0) {
		pthread_mutex_unlock(&tr.mu);
		return unlink(path) == -1 ? errno : 0;
	}
	seq = tr.seq++;
	pthread_mutex_unlock(&tr.mu);
	trash_name(seq, name);
	if (renameat(AT_FDCWD, path, fd, name) == -1) {
		if (errno == ENOENT)
			return ENOENT;
		return unlink(path) == -1 ? errno : 0;
	}
	pthread_mutex_lock(&tr.mu);
	if (tr.n < PENDING_MAX) {
		tr.pending[(tr.head + tr.n++) % PENDING_MAX] = seq;
		if (tr.idle)
			pthread_cond_signal(&tr.cv);
		queued = 1;
	}
	pthread_mutex_unlock(&tr.mu);
	if (!queued)
		unlink_trash(fd, seq);
	return 0;
}
