/*
 * pickup.c - the daemon's side of SPOOL/maildrop (format in maildrop.h):
 * one thread queues every finished file there through queue_submit with
 * the file's envelope and its owner as the submitter's uid, then removes
 * the file. It scans the directory at start, whenever inotify reports a
 * file renamed into it or closed after writing, and every RESCAN seconds
 * (a missed event costs a delay, never a message).
 *
 * API: pickup_start, pickup_stop (pickup.h).
 *
 * A file is the submitter's and is checked again: not a regular file, not
 * a maildrop file, or a message the queue refuses (EINVAL, EFBIG) is
 * logged `rejected` (by queue_submit, or here through queue_reject) and
 * moved to SPOOL/corrupt/ as maildrop-NAME, never dropped. A storage
 * failure leaves it for the next scan. A NAME.tmp a day old (its writer
 * died before the rename, so never exited 0) is removed. The file is removed only once its
 * queue entry is durable; a crash between the two queues it twice, the
 * queue's rule (better twice than never).
 *
 * Permissions: SPOOL/maildrop is mode 1730 (Postfix's maildrop with
 * postdrop): with the `group` setting its members may create files there
 * but not list them nor touch another's; the spool directory gets that
 * group and g+x so they can reach it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/maildrop.h"
#include "queue/pickup.h"
#include "queue/spool.h"

#define RESCAN		30	/* seconds between scans without an event */
#define ENVELOPE_SLACK	(1024 * 1024)	/* bytes a file may add to max_size */
#define STALE_TMP	86400	/* seconds after which a .tmp file is debris */

static struct {
	pthread_t thread;
	int running;
	int spoolfd, dirfd, inofd, stopfd;
	size_t max;		/* the largest file read, 0: no limit */
} pk = { .spoolfd = -1, .dirfd = -1, .inofd = -1, .stopfd = -1 };

/* Move a refused file out of the way, to SPOOL/corrupt/maildrop-NAME. */
static void
aside(const char *name, const char *why)
{
	char to[NAME_MAX + 16];
	int cfd;

	snprintf(to, sizeof(to), "maildrop-%s", name);
	if ((mkdirat(pk.spoolfd, "corrupt", 0750) == 0 || errno == EEXIST) &&
	    (cfd = openat(pk.spoolfd, "corrupt", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		if (renameat(pk.dirfd, name, cfd, to) == 0) {
			fsync(cfd);
			fsync(pk.dirfd);
			close(cfd);
			log_warnx("maildrop/%s: %s; moved to corrupt/%s", name,
			    why, to);
			return;
		}
		close(cfd);
	}
	log_warn("maildrop/%s: %s; cannot move it to corrupt/", name, why);
}

static void
pick(const char *name)
{
	struct queue_origin o;
	struct stat st;
	char qname[NAME_MAX + 16], id[QUEUE_ID_MAX], *buf;
	const char *msg;
	size_t len, msglen;
	int err;

	snprintf(qname, sizeof(qname), "maildrop/%s", name);
	if (fstatat(pk.dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return;		/* gone meanwhile */
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		queue_reject(qname, "not a regular file");
		aside(name, "not a regular file");
		return;
	}
	if (pk.max > 0 && (size_t)st.st_size > pk.max) {
		queue_reject(qname, "larger than max_size");
		aside(name, "larger than max_size");
		return;
	}
	if ((err = spool_read_file(pk.dirfd, name, &buf, &len)) != 0) {
		errno = err;
		log_warn("maildrop/%s: cannot read", name);
		return;
	}
	if (maildrop_parse(buf, len, &o, &msg, &msglen) != 0) {
		queue_reject(qname, "not a maildrop file");
		aside(name, "not a maildrop file");
		free(buf);
		return;
	}
	o.uid = st.st_uid;
	err = queue_submit(msg, msglen, qname, &o, id);
	free((void *)o.rcpts);
	free(buf);
	if (err == 0) {
		unlinkat(pk.dirfd, name, 0);
		fsync(pk.dirfd);
	} else if (err == EINVAL || err == EFBIG) {
		aside(name, "refused by the queue");
	}
}

/* A .tmp file a day old was left by a sendmail that died before its
 * rename: it never said the message was taken, so the file is debris. */
static void
drop_stale(const char *name)
{
	struct stat st;

	if (fstatat(pk.dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_mtime < time(NULL) - STALE_TMP &&
	    unlinkat(pk.dirfd, name, 0) == 0)
		log_warnx("maildrop/%s: left by a sendmail that died; removed",
		    name);
}

static void
scan(void)
{
	struct dirent *de;
	size_t n;
	DIR *d;
	int fd;

	if ((fd = dup(pk.dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		log_warn("maildrop: cannot list");
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;	/* not ours */
		if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0)
			drop_stale(de->d_name);	/* not finished */
		else
			pick(de->d_name);
	}
	closedir(d);
}

static void *
pickup_main(void *arg)
{
	struct pollfd p[2];
	char ev[4096];

	(void)arg;
	p[0].fd = pk.stopfd;
	p[0].events = POLLIN;
	p[1].fd = pk.inofd;
	p[1].events = POLLIN;
	for (;;) {
		scan();
		if (poll(p, pk.inofd == -1 ? 1 : 2, RESCAN * 1000) == -1 &&
		    errno != EINTR)
			sleep(1);
		if (p[0].revents & POLLIN)
			break;
		if (pk.inofd != -1 && (p[1].revents & POLLIN))
			while (read(pk.inofd, ev, sizeof(ev)) > 0)
				;
	}
	return NULL;
}

/* The spool reachable, SPOOL/maildrop writable but not listable, by the
 * submitters' group. */
static int
set_modes(const struct conf *c)
{
	struct stat st;

	if (c->has_group) {
		if (fstat(pk.spoolfd, &st) == -1 ||
		    fchown(pk.spoolfd, (uid_t)-1, c->group) == -1 ||
		    fchmod(pk.spoolfd, (st.st_mode & 07777) | 0010) == -1 ||
		    fchown(pk.dirfd, (uid_t)-1, c->group) == -1)
			return -1;
	}
	return fchmod(pk.dirfd, 01730);
}

int
pickup_start(const struct conf *c)
{
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/%s", c->spool, MAILDROP_DIR);
	pk.max = c->max_size > 0 ? c->max_size + ENVELOPE_SLACK : 0;
	if ((pk.spoolfd = open(c->spool, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 ||
	    (mkdirat(pk.spoolfd, MAILDROP_DIR, 0730) == -1 && errno != EEXIST) ||
	    (pk.dirfd = openat(pk.spoolfd, MAILDROP_DIR, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    set_modes(c) == -1 ||
	    (pk.stopfd = eventfd(0, EFD_CLOEXEC)) == -1)
		goto fail;
	/* without inotify (a full instance table) the rescans still work */
	if ((pk.inofd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) == -1 ||
	    inotify_add_watch(pk.inofd, path, IN_MOVED_TO | IN_CLOSE_WRITE)
	    == -1) {
		log_warn("%s: no inotify, scanning every %d s", path, RESCAN);
		if (pk.inofd != -1)
			close(pk.inofd);
		pk.inofd = -1;
	}
	if ((err = pthread_create(&pk.thread, NULL, pickup_main, NULL)) != 0) {
		errno = err;
		goto fail;
	}
	pk.running = 1;
	return 0;
fail:
	err = errno;
	pickup_stop();
	errno = err;
	return -1;
}

void
pickup_stop(void)
{
	uint64_t one = 1;

	if (pk.running) {
		if (write(pk.stopfd, &one, sizeof(one)) != sizeof(one))
			log_warn("pickup: cannot stop");
		pthread_join(pk.thread, NULL);
		pk.running = 0;
	}
	if (pk.inofd != -1)
		close(pk.inofd);
	if (pk.stopfd != -1)
		close(pk.stopfd);
	if (pk.dirfd != -1)
		close(pk.dirfd);
	if (pk.spoolfd != -1)
		close(pk.spoolfd);
	pk.inofd = pk.stopfd = pk.dirfd = pk.spoolfd = -1;
}
