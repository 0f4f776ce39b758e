/*
 * outbox_proc.c - what /proc says about a process closing a file in
 * outbox/: see outbox_proc.h.
 *
 * How a closing thread ends is in /proc/PID/stat (its flags and exit
 * code), but a read of it waits for the process's exec lock, and a
 * process in execve(2) holds it while it closes its close-on-exec files:
 * their FLUSH comes to us then (dash saves a redirected fd that way
 * before it runs a command), and reading stat in the FLUSH would never
 * return. Most closes need no stat at all: /proc/PID/statm, which takes
 * no such lock, says what memory the thread has. A FLUSH from exit(2)
 * comes after the memory went (statm all zero); one from execve(2) after
 * the new, still empty memory came (no code yet: an exec, told without
 * stat); one from close(2) in a running program has code: that writer is
 * alive, and nothing else is read. Only an exit (or a thread /proc says
 * nothing of) reads stat, in a helper thread, and a read still blocked
 * after STAT_WAIT_MS means an exec in progress: a living writer. The
 * helper finishes once our reply lets the exec go on. Helpers are kept
 * and reused (a new one starts only when none is idle: a blocked read
 * holds one).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "fs/outbox.h"
#include "fs/outbox_proc.h"
#include "lib/work.h"

#define STAT_WAIT_MS	200

/* One read, shared by the closing thread and a helper. */
struct stat_read {
	pthread_mutex_t mu;
	pthread_cond_t done_cv;
	int fd, refs, done;
	char buf[2048];
	ssize_t n;
	struct stat_read *next;
};

/* The helpers and the reads waiting for one. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct stat_read *head, **tail;
	int waiting;		/* reads queued */
	int idle;		/* helpers waiting for work */
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL,
	&pool.head, 0, 0 };

static void
stat_read_unref(struct stat_read *r)
{
	int last;

	pthread_mutex_lock(&r->mu);
	last = --r->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (last) {
		close(r->fd);
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->done_cv);
		free(r);
	}
}

static void
stat_read_do(struct stat_read *r)
{
	ssize_t n = read(r->fd, r->buf, sizeof(r->buf) - 1);

	pthread_mutex_lock(&r->mu);
	r->n = n;
	r->done = 1;
	pthread_cond_signal(&r->done_cv);
	pthread_mutex_unlock(&r->mu);
	stat_read_unref(r);
}

/* A helper: reads queued stat files, forever (it holds nothing between
 * reads, so the daemon may exit while it waits). */
static void *
stat_helper(void *arg)
{
	struct stat_read *r;

	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (pool.head == NULL) {
			pool.idle++;
			pthread_cond_wait(&pool.work, &pool.mu);
			pool.idle--;
		}
		r = pool.head;
		if ((pool.head = r->next) == NULL)
			pool.tail = &pool.head;
		pool.waiting--;
		pthread_mutex_unlock(&pool.mu);
		stat_read_do(r);
		pthread_mutex_lock(&pool.mu);
	}
	return NULL;
}

/* Hand r to a helper, starting one if none is free: 0, or -1 if none
 * could start (r not queued). */
static int
stat_read_queue(struct stat_read *r)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all;
	int err = 0;

	pthread_mutex_lock(&pool.mu);
	if (pool.idle <= pool.waiting) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* SIGTERM must reach a FUSE thread, whose wakeup ends the
		 * loop */
		sigfillset(&all);
		pthread_attr_setsigmask_np(&attr, &all);
		err = pthread_create(&th, &attr, stat_helper, NULL);
		pthread_attr_destroy(&attr);
	}
	if (err == 0) {
		r->next = NULL;
		*pool.tail = r;
		pool.tail = &r->next;
		pool.waiting++;
		pthread_cond_signal(&pool.work);
	}
	pthread_mutex_unlock(&pool.mu);
	return err ? -1 : 0;
}

/* The text of /proc/PID/stat in buf: 1, 0 when there is none, -1 when
 * reading it blocks (an exec in progress). */
static int
read_stat(pid_t pid, char *buf, size_t size)
{
	char path[64];
	struct stat_read *r;
	struct timespec until;
	size_t n = 0;
	int ret;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(r = calloc(1, sizeof(*r))))
		return 0;
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		free(r);
		return 0;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->done_cv, NULL);
	r->refs = 2;
	if (stat_read_queue(r) == -1)
		stat_read_do(r);
	work_deadline(&until, CLOCK_REALTIME, STAT_WAIT_MS * 1000000L);
	pthread_mutex_lock(&r->mu);
	while (!r->done &&
	    pthread_cond_timedwait(&r->done_cv, &r->mu, &until) == 0)
		;
	ret = r->done ? r->n > 0 : -1;
	if (ret == 1) {
		n = (size_t)r->n < size - 1 ? (size_t)r->n : size - 1;
		memcpy(buf, r->buf, n);
		buf[n] = '\0';
	}
	pthread_mutex_unlock(&r->mu);
	stat_read_unref(r);
	return ret;
}

/* The first n of the numbers in the text of /proc/PID/FILE (opened with
 * open(2), not stdio: a close reads a few of these): n, or 0 when it
 * cannot be read. */
static int
proc_numbers(pid_t pid, const char *file, unsigned long *v, int n)
{
	char path[64], buf[256], *p, *end;
	ssize_t len;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	for (i = 0, p = buf; i < n; i++, p = end) {
		v[i] = strtoul(p, &end, 10);
		if (end == p)
			return 0;
	}
	return n;
}

/* What /proc/PID/statm says of thread pid's memory (size and text). */
enum memory { MEM_UNKNOWN, MEM_NONE, MEM_NEW, MEM_CODE };

static enum memory
memory_of(pid_t pid)
{
	unsigned long v[4];

	if (proc_numbers(pid, "statm", v, 4) != 4)
		return MEM_UNKNOWN;
	return v[0] == 0 ? MEM_NONE : v[3] == 0 ? MEM_NEW : MEM_CODE;
}

/*
 * outbox_writer_end - a thread with code mapped is alive; one with new
 * memory and no code yet is in an execve(2) (its stat would block until
 * our reply: no wait of STAT_WAIT_MS for that, which a dash script paid
 * for each command run inside a block redirected into outbox/). Else
 * PF_EXITING (0x4) in field 9 of /proc/PID/stat, and the exit_code of
 * field 52: a signal in its low 7 bits, else the status.
 */
enum outbox_writer_end
outbox_writer_end(pid_t pid)
{
	char buf[2048], *p, *tok, *save;
	unsigned long flags = 0;
	long code = 0;
	int field;

	if (pid <= 0)
		return WRITER_ALIVE;
	switch (memory_of(pid)) {
	case MEM_CODE:
		return WRITER_ALIVE;
	case MEM_NEW:
		return WRITER_EXEC;
	default:
		break;	/* exiting (no memory), or /proc did not say */
	}
	switch (read_stat(pid, buf, sizeof(buf))) {
	case -1:
		return WRITER_EXEC;
	case 0:
		return WRITER_ALIVE;
	}
	/* Field 2, the command, may hold spaces and parentheses. */
	if (!(p = strrchr(buf, ')')))
		return WRITER_ALIVE;
	for (field = 3, tok = strtok_r(p + 1, " \n", &save); tok;
	    field++, tok = strtok_r(NULL, " \n", &save)) {
		if (field == 9)
			flags = strtoul(tok, NULL, 10);
		else if (field == 52)
			code = strtol(tok, NULL, 10);
	}
	if (!(flags & 0x4) || code == 0)
		return WRITER_ALIVE;
	return code & 0x7f ? WRITER_KILLED : WRITER_FAILED;
}

/* tid itself when pidfd_open(2) takes it, which it does only for the
 * first thread of a process (no /proc file to open, read and parse: a
 * cp's create); else the Tgid: line of /proc/TID/status. */
pid_t
outbox_process(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t len;
	int fd, tgid = (int)tid;

	if (tid <= 0)
		return tid;
	if ((fd = (int)syscall(SYS_pidfd_open, tid, 0)) != -1) {
		close(fd);
		return tid;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return tid;
	/* Tgid: is among the first lines, well within buf */
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return tid;
	buf[len] = '\0';
	if ((p = strstr(buf, "\nTgid:")) != NULL)
		sscanf(p + 1, "Tgid: %d", &tgid);
	return (pid_t)tgid;
}

/* 1 if the link target of a descriptor is outbox/name (an unlinked one
 * included). */
static int
target_is(const char *target, const char *name)
{
	char tail[512];

	if ((size_t)snprintf(tail, sizeof(tail), "/outbox/%s", name) >=
	    sizeof(tail))
		return 0;
	return g_str_has_suffix(target, tail) ||
	    (g_str_has_suffix(target, " (deleted)") &&
	    strstr(target, tail) != NULL);
}

/* The inode number of descriptor fd of pid (fdinfo's "ino:"), 0 unknown. */
static unsigned long
fd_ino(pid_t pid, const char *fd)
{
	char path[320], line[128];
	unsigned long n, ino = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid, fd);
	if (!(fp = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "ino: %lu", &n) == 1) {
			ino = n;
			break;
		}
	fclose(fp);
	return ino;
}

/*
 * outbox_holds_other - 1 if process pid still has a descriptor on
 * outbox/name, inode ino: its close() was of a duplicate, as when dash
 * saves and restores a redirected fd around a command. Each descriptor's
 * link is read (one readlinkat); only one that names the file has its
 * fdinfo read for the inode, to tell it from another file of that name.
 * The directory is read with getdents64 (no stdio DIR, whose opendir
 * costs an fstat more).
 */
int
outbox_holds_other(pid_t pid, unsigned long ino, const char *name)
{
	char path[64], target[PATH_MAX];
	char buf[8192] __attribute__((aligned(8)));
	struct dirent64 *d;
	int found = 0, dfd;
	ssize_t n, got, off;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (ino == 0 || (dfd = open(path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return 0;
	while (!found && (got = getdents64(dfd, buf, sizeof(buf))) > 0)
		for (off = 0; !found && off < got; off += d->d_reclen) {
			d = (struct dirent64 *)(buf + off);
			if (d->d_name[0] == '.' || (n = readlinkat(dfd,
			    d->d_name, target, sizeof(target) - 1)) <= 0)
				continue;
			target[n] = '\0';
			found = target_is(target, name) &&
			    fd_ino(pid, d->d_name) == ino;
		}
	close(dfd);
	return found;
}
