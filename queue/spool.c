/*
 * spool.c - the durability layer of queue/: fsync'd writes, atomic
 * replacement, tree removal, and group commit of directory fsyncs or
 * syncfs rounds (spool.h says when a round counts for whom), for
 * the outbound spool (queue.c) and the inbox Maildir (maildir.c) alike.
 *
 * API: see spool.h. Everything is relative to directory descriptors so a
 * message directory can be renamed between tmp/, queue/, sent/ and failed/
 * without re-building paths. Diagnostics: none here; errors are returned
 * as errno values for the caller to log with context.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/work.h"
#include "queue/spool.h"

int
spool_dir_open(struct spool_dir *d, int atfd, const char *name)
{
	memset(d, 0, sizeof(*d));
	d->fd[0] = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd[0] == -1)
		return errno;
	d->nfd = 1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	pthread_cond_init(&d->gathered, NULL);
	return 0;
}

int
spool_fs_open(struct spool_dir *d, int atfd, const char *name)
{
	int err = spool_dir_open(d, atfd, name);

	if (!err)
		d->whole_fs = 1;
	return err;
}

int
spool_dir_add(struct spool_dir *d, int atfd, const char *name)
{
	struct stat a, b;
	int fd;

	if (d->nfd == 0 || d->nfd == SPOOL_DIR_FDS)
		return EINVAL;
	if ((fd = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno;
	/* one syncfs per file system */
	if (d->whole_fs && fstat(fd, &a) == 0 && fstat(d->fd[0], &b) == 0 &&
	    a.st_dev == b.st_dev) {
		close(fd);
		return 0;
	}
	d->fd[d->nfd++] = fd;
	return 0;
}

void
spool_dir_close(struct spool_dir *d)
{
	if (d->nfd == 0)
		return;
	while (d->nfd > 0)
		close(d->fd[--d->nfd]);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	pthread_cond_destroy(&d->gathered);
}

/* One round: syncfs, or fsync every directory of d; 0 or the first
 * errno. Called by one thread at a time. */
static int
sync_all(struct spool_dir *d)
{
	int i;

	for (i = 0; i < d->nfd; i++) {
		d->rounds++;
		if ((d->whole_fs ? syncfs(d->fd[i]) : fsync(d->fd[i])) == -1)
			return errno;
	}
	return 0;
}

/* The last round finished: one that fails after this may concern what
 * the caller writes next. */
unsigned long
spool_sync_ticket(struct spool_dir *d)
{
	unsigned long t;

	pthread_mutex_lock(&d->mu);
	t = d->done;
	pthread_mutex_unlock(&d->mu);
	return t;
}

unsigned long
spool_sync_mark(struct spool_dir *d)
{
	unsigned long t;

	pthread_mutex_lock(&d->mu);
	t = d->started;
	pthread_mutex_unlock(&d->mu);
	return t;
}

/* Rounds are numbered in the order they start and run one at a time: any
 * round numbered above mark began after the mark was taken. A failed one
 * since may have dropped what was written before it. */
int
spool_sync_covered(struct spool_dir *d, unsigned long mark)
{
	int ok;

	pthread_mutex_lock(&d->mu);
	ok = d->done > mark && d->failed <= mark;
	pthread_mutex_unlock(&d->mu);
	return ok;
}

int
spool_dir_sync(struct spool_dir *d)
{
	return spool_sync_wait(d, spool_sync_ticket(d), 0);
}

/* Caller holds d->mu and leads the next round: give the writers that
 * hold d (writing, about to wait) up to SPOOL_GROUP_DELAY_US to arrive,
 * so that they share this round instead of each starting the next. */
static void
gather(struct spool_dir *d)
{
	struct timespec until;

	if (d->held == 0)
		return;
	work_deadline(&until, CLOCK_REALTIME, SPOOL_GROUP_DELAY_US * 1000L);
	while (d->held > 0 &&
	    pthread_cond_timedwait(&d->gathered, &d->mu, &until) == 0)
		;
}

void
spool_sync_hold(struct spool_dir *d)
{
	pthread_mutex_lock(&d->mu);
	d->held++;
	pthread_mutex_unlock(&d->mu);
}

void
spool_sync_release(struct spool_dir *d)
{
	pthread_mutex_lock(&d->mu);
	if (--d->held == 0)
		pthread_cond_signal(&d->gathered);
	pthread_mutex_unlock(&d->mu);
}

/*
 * spool_sync_wait - group commit. What the caller wrote or renamed
 * happened before this call, so any round numbered started+1 or later
 * covers it; a round already running may have begun before and does not.
 * Rounds are serialized, so the one that finishes as number `want` is the
 * first that counts; whoever finds none running starts the next one for
 * all the waiters. A failure is reported to everyone whose ticket is older
 * than the failed round (after a failed fsync the kernel may have dropped
 * the dirty state, and a writeback error is reported only once, so a
 * later success proves nothing about what was written before it).
 */
static int
sync_wait(struct spool_dir *d, const unsigned long *mark,
    unsigned long ticket, int held)
{
	unsigned long want, mine;
	int err;

	pthread_mutex_lock(&d->mu);
	/* while it waits, a holder is not one to wait for */
	if (held && --d->held == 0)
		pthread_cond_signal(&d->gathered);
	/* A round that failed since the mark may have dropped what was done
	 * before it: then only a round from now counts. */
	want = mark && d->failed <= *mark ? *mark + 1 : d->started + 1;
	while (d->done < want) {
		if (d->running) {
			pthread_cond_wait(&d->cv, &d->mu);
			continue;
		}
		/* Lead: claim the round, gather, and only then number it,
		 * so that whoever arrives meanwhile is in it. */
		d->running = 1;
		gather(d);
		mine = ++d->started;
		pthread_mutex_unlock(&d->mu);
		err = sync_all(d);
		pthread_mutex_lock(&d->mu);
		d->running = 0;
		d->done = mine;
		if (err) {
			d->failed = mine;
			d->err = err;
		}
		pthread_cond_broadcast(&d->cv);
	}
	err = d->failed > ticket ? d->err : 0;
	if (held)
		d->held++;
	pthread_mutex_unlock(&d->mu);
	return err;
}

int
spool_sync_wait(struct spool_dir *d, unsigned long ticket, int held)
{
	return sync_wait(d, NULL, ticket, held);
}

int
spool_sync_cover(struct spool_dir *d, unsigned long mark,
    unsigned long ticket, int held)
{
	return sync_wait(d, &mark, ticket, held);
}

int
spool_write_iov(int fd, const struct iovec *v, size_t n)
{
	const char *p;
	size_t i, len;
	ssize_t w;

	for (i = 0; i < n; i++) {
		p = v[i].iov_base;
		len = v[i].iov_len;
		while (len > 0) {
			if ((w = write(fd, p, len)) == -1) {
				if (errno == EINTR)
					continue;
				return errno;
			}
			p += w;
			len -= (size_t)w;
		}
	}
	return 0;
}

/* spool_write_file, spool_put_file and spool_fill_file: open flags
 * (creating or not), datasync says which. */
static int
write_file(int dirfd, const char *name, const void *buf, size_t len,
    int flags, int datasync)
{
	struct iovec v = { (void *)buf, len };
	int fd, err;

	fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | flags, 0640);
	if (fd == -1)
		return errno;
	err = spool_write_iov(fd, &v, 1);
	if (!err && datasync && fdatasync(fd) == -1)
		err = errno;
	if (close(fd) == -1 && !err)
		err = errno;
	if (err)
		unlinkat(dirfd, name, 0);
	return err;
}

int
spool_write_file(int dirfd, const char *name, const void *buf, size_t len)
{
	return write_file(dirfd, name, buf, len, O_CREAT | O_TRUNC, 1);
}

int
spool_put_file(int dirfd, const char *name, const void *buf, size_t len)
{
	return write_file(dirfd, name, buf, len, O_CREAT | O_TRUNC, 0);
}

/* No O_TRUNC: on an empty file ext4 takes it for a file being rewritten
 * in place (auto_da_alloc) and starts its writeback at close, one I/O
 * per file, where the round that follows writes them all at once. */
int
spool_fill_file(int dirfd, const char *name, const void *buf, size_t len)
{
	return write_file(dirfd, name, buf, len, 0, 0);
}

int
spool_replace_file(int dirfd, const char *name, const void *buf, size_t len)
{
	char tmp[256];
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= sizeof(tmp))
		return ENAMETOOLONG;
	if ((err = spool_write_file(dirfd, tmp, buf, len)) != 0)
		return err;
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		err = errno;
		unlinkat(dirfd, tmp, 0);
		return err;
	}
	if (fsync(dirfd) == 0)
		return 0;
	if (errno != EBADF)
		return errno;
	/*
	 * dirfd is O_PATH: a directory its caller may write but not read
	 * (sendmail(8) in SPOOL/maildrop, mode 1730), which cannot be
	 * fsync'd. syncfs through the file commits its directory entry too.
	 */
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno;
	err = syncfs(fd) == -1 ? errno : 0;
	close(fd);
	return err;
}

int
spool_read_file(int dirfd, const char *name, char **buf, size_t *len)
{
	struct stat st;
	char *p;
	size_t got = 0;
	ssize_t n;
	int fd, err = 0;

	/* never through a symlink: SPOOL/maildrop holds users' files */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return errno;
	if (fstat(fd, &st) == -1) {
		err = errno;
		close(fd);
		return err;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return ENOMEM;
	}
	/* A file that grows meanwhile (a log) is read up to its old size. */
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err = errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (err) {
		free(p);
		return err;
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	return 0;
}

int
spool_remove_tree(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *dir;
	int fd, err = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return errno;
	if ((dir = fdopendir(fd)) == NULL) {
		err = errno;
		close(fd);
		return err;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!err)
			err = spool_remove_tree(fd, de->d_name);
	}
	closedir(dir);
	if (!err && unlinkat(dirfd, name, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT)
		err = errno;
	return err;
}

int
spool_store_errno(int err)
{
	return err == ENOSPC || err == EDQUOT ? ENOSPC : EIO;
}
