/*
 * drafts.c - drafts/ over SPOOL/drafts (see drafts.h): every operation is
 * the same operation on the file there, relative to one directory
 * descriptor, so editors (swap, backup and probe files, rename over the
 * original), `sed -i` and nano work as on a disk. Symbolic links are
 * never followed; anything but a regular file is not shown.
 *
 * Sending (mv drafts/X outbox/) reads the draft whole and hands it to
 * queue_submit as outbox/ does at close; the draft is unlinked only once
 * the message is queued, so it is sent once or stays.
 */
#define FUSE_USE_VERSION 34

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/drafts.h"
#include "lib/strv.h"
#include "queue/queue.h"

static int dirfd_ = -1;
static const size_t *max_sizep;	/* the live setting: SIGHUP changes it */

int
drafts_init(const char *spool, const size_t *max)
{
	char path[PATH_MAX];

	max_sizep = max;
	snprintf(path, sizeof(path), "%s/drafts", spool);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	if (dirfd_ >= 0)
		close(dirfd_);
	dirfd_ = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dirfd_ >= 0 ? 0 : -1;
}

int
drafts_stat(const char *name, struct stat *st)
{
	if (fstatat(dirfd_, name, st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno;
	return S_ISREG(st->st_mode) ? 0 : ENOENT;
}

int
drafts_list(char ***names, size_t *n)
{
	struct dirent *d;
	struct stat st;
	size_t c = 0;
	char **v = NULL, **nv;
	DIR *dir;
	int fd;

	if ((fd = openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return errno;
	}
	while ((d = readdir(dir))) {
		if (drafts_stat(d->d_name, &st) != 0)
			continue;
		if (!(nv = realloc(v, (c + 2) * sizeof(*v))) ||
		    !(nv[c] = strdup(d->d_name))) {
			closedir(dir);
			strv_free(nv ? nv : v, c);
			return ENOMEM;
		}
		v = nv;
		v[++c] = NULL;
	}
	closedir(dir);
	if (c)
		qsort(v, c, sizeof(*v), strv_cmp);
	*names = v;
	*n = c;
	return 0;
}

int
drafts_open(const char *name, int flags, mode_t mode, uid_t uid, gid_t gid,
    int *fd)
{
	flags &= O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND;
	if ((*fd = openat(dirfd_, name, flags | O_NOFOLLOW | O_CLOEXEC,
	    mode & 07777)) == -1)
		return errno;
	/* the maker owns it (chmod and utimes by its owner work); an
	 * unprivileged daemon cannot give files away: its own, then */
	if ((flags & O_CREAT) && geteuid() == 0 && fchown(*fd, uid, gid) == -1) {
		close(*fd);
		return errno;
	}
	return 0;
}

int
drafts_setattr(const char *name, int fd, const struct stat *a, int to_set)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
	    { .tv_nsec = UTIME_OMIT } };
	int own = fd < 0, err = 0;

	if (own && (fd = openat(dirfd_, name, (to_set & FUSE_SET_ATTR_SIZE ?
	    O_WRONLY : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno;
	if (to_set & FUSE_SET_ATTR_ATIME)
		ts[0] = a->st_atim;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	if (to_set & FUSE_SET_ATTR_MTIME)
		ts[1] = a->st_mtim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	if (((to_set & FUSE_SET_ATTR_SIZE) && ftruncate(fd, a->st_size) == -1) ||
	    ((to_set & FUSE_SET_ATTR_MODE) && fchmod(fd, a->st_mode & 07777)) ||
	    ((to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    fchown(fd, to_set & FUSE_SET_ATTR_UID ? a->st_uid : (uid_t)-1,
	    to_set & FUSE_SET_ATTR_GID ? a->st_gid : (gid_t)-1) == -1) ||
	    (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
	    FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW) &&
	    futimens(fd, ts) == -1))
		err = errno;
	if (own)
		close(fd);
	return err;
}

int
drafts_unlink(const char *name)
{
	struct stat st;
	int err;

	if ((err = drafts_stat(name, &st)))
		return err;
	return unlinkat(dirfd_, name, 0) == -1 ? errno : 0;
}

int
drafts_rename(const char *from, const char *to, int noreplace)
{
	struct stat st;
	int err;

	if ((err = drafts_stat(from, &st)))
		return err;
	if (renameat2(dirfd_, from, dirfd_, to, noreplace ? RENAME_NOREPLACE :
	    0) == -1)
		return errno;
	return 0;
}

int
drafts_send(const char *name, const char *as)
{
	char id[QUEUE_ID_MAX], *data;
	struct stat st;
	ssize_t n;
	struct queue_origin o = { .uid = (uid_t)-1 };
	int fd, err;

	if ((fd = openat(dirfd_, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ENOENT;
	}
	if ((size_t)st.st_size > __atomic_load_n(max_sizep, __ATOMIC_RELAXED)) {
		close(fd);
		queue_reject(as, "larger than max_size");
		return EFBIG;
	}
	if (!(data = malloc(st.st_size ? st.st_size : 1))) {
		close(fd);
		return ENOMEM;
	}
	n = pread(fd, data, st.st_size, 0);
	err = n == st.st_size ? 0 : n < 0 ? errno : EIO;
	close(fd);
	o.uid = st.st_uid;	/* the draft's maker submits it */
	if (!err && (err = queue_submit(data, st.st_size, as, &o, id)) == 0 &&
	    unlinkat(dirfd_, name, 0) == -1)
		err = 0;	/* queued: a leftover draft is the lesser harm */
	free(data);
	return err;
}
