/*
 * outbox.c - files being written into outbox/ (see outbox.h).
 *
 * One mutex guards the name list and every file's bytes and attributes.
 * While a file is being submitted its bytes are frozen (submitting set):
 * queue_submit reads them without the lock, and writers of that one file
 * wait on the condition variable. A file leaves the list ("detached")
 * once submitted, refused, unlinked or dropped; handles still open on it
 * keep working on an orphan that is never sent, as with an unlinked file.
 *
 * Diagnostics: refusals the queue does not see (writer died, too big at
 * write, empty) go to the event log through queue_reject.
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
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "fs/outbox.h"
#include "fs/outbox_ghost.h"
#include "lib/strv.h"
#include "queue/queue.h"

/* A file's first buffer; it doubles from there. */
#define FIRST_CAP	4096

struct outbox_file {
	char *name;
	char *data;
	size_t len, cap;
	struct outbox_attr attr;
	int refs;		/* open handles, plus one while listed */
	int detached;
	int submitting;
	int toobig;		/* a write went past max_size */
	int refused;		/* errno of a refused rename since the last change */
	int poisoned;		/* a process sharing it died mid-write */
	struct outbox_file *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t unfrozen = PTHREAD_COND_INITIALIZER;
static struct outbox_file *files;
static const size_t *max_sizep;	/* the live setting: SIGHUP changes it */
static unsigned long serial;
static struct timespec dir_mtime;

/* max_size now; read once per decision, as SIGHUP may change it */
static size_t
max_size(void)
{
	return __atomic_load_n(max_sizep, __ATOMIC_RELAXED);
}

void
outbox_init(const size_t *max)
{
	max_sizep = max;
	clock_gettime(CLOCK_REALTIME, &dir_mtime);
}

int
outbox_is_staging(const char *name)
{
	return name[0] == '.';
}

static struct outbox_file *
find(const char *name)
{
	struct outbox_file *f;

	for (f = files; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static void
unref(struct outbox_file *f)
{
	if (--f->refs == 0) {
		free(f->name);
		free(f->data);
		free(f);
	}
}

static void
touch_dir(void)
{
	clock_gettime(CLOCK_REALTIME, &dir_mtime);
}

/* Take f off the list (it keeps its handles). Called with the lock. */
static void
detach(struct outbox_file *f)
{
	struct outbox_file **pp;

	if (f->detached)
		return;
	for (pp = &files; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	f->detached = 1;
	touch_dir();
	unref(f);
}

static void
freeze_wait(struct outbox_file *f)
{
	while (f->submitting)
		pthread_cond_wait(&unfrozen, &lock);
}

/* Make room for size bytes; the caller checked max_size. */
static int
reserve(struct outbox_file *f, size_t size)
{
	size_t cap = f->cap ? f->cap : FIRST_CAP, max = max_size();
	char *p;

	if (size <= f->cap)
		return 0;
	while (cap < size)
		cap *= 2;
	if (cap > max && size <= max)
		cap = max;
	if (!(p = realloc(f->data, cap)))
		return ENOMEM;
	f->data = p;
	f->cap = cap;
	return 0;
}

static int
set_size(struct outbox_file *f, size_t size)
{
	int err;

	if (size > max_size())
		return EFBIG;
	if (size > f->len) {
		if ((err = reserve(f, size)))
			return err;
		memset(f->data + f->len, 0, size - f->len);
	}
	f->len = size;
	f->refused = 0;
	clock_gettime(CLOCK_REALTIME, &f->attr.mtime);
	f->attr.ctime = f->attr.mtime;
	return 0;
}

static struct outbox_file *
make(const char *name, mode_t mode, uid_t uid, gid_t gid)
{
	struct outbox_file *f = calloc(1, sizeof(*f));

	if (!f || !(f->name = strdup(name))) {
		free(f);
		return NULL;
	}
	f->attr.mode = mode & 07777;
	f->attr.uid = uid;
	f->attr.gid = gid;
	f->attr.gen = ++serial;
	clock_gettime(CLOCK_REALTIME, &f->attr.mtime);
	f->attr.atime = f->attr.ctime = f->attr.mtime;
	f->refs = 1;
	f->next = files;
	files = f;
	touch_dir();
	outbox_ghost_drop(name);	/* a new file of a sent name */
	return f;
}

/* A new handle on f (lock held): wait out a submission in progress, then
 * truncate for O_TRUNC. */
static void
hold(struct outbox_file *f, int trunc, struct outbox_file **fp)
{
	freeze_wait(f);
	if (trunc && f->len)
		set_size(f, 0);
	f->refs++;
	*fp = f;
}

int
outbox_create(const char *name, mode_t mode, uid_t uid, gid_t gid, int trunc,
    struct outbox_file **fp)
{
	struct outbox_file *f;
	int err = 0;

	pthread_mutex_lock(&lock);
	if (!(f = find(name)) && !(f = make(name, mode, uid, gid)))
		err = ENOMEM;
	else
		hold(f, trunc, fp);
	pthread_mutex_unlock(&lock);
	return err;
}

int
outbox_mknod(const char *name, mode_t mode, uid_t uid, gid_t gid)
{
	int err = 0;

	pthread_mutex_lock(&lock);
	if (find(name))
		err = EEXIST;
	else if (!make(name, mode, uid, gid))
		err = ENOMEM;
	pthread_mutex_unlock(&lock);
	return err;
}

int
outbox_open(const char *name, int trunc, struct outbox_file **fp)
{
	struct outbox_file *f;
	int err = 0;

	pthread_mutex_lock(&lock);
	if (!(f = find(name)))
		err = ENOENT;
	else
		hold(f, trunc, fp);
	pthread_mutex_unlock(&lock);
	return err;
}

ssize_t
outbox_write(struct outbox_file *f, const char *buf, size_t size, off_t off,
    int append)
{
	size_t end, max = max_size();
	int err;

	pthread_mutex_lock(&lock);
	freeze_wait(f);
	if (append)
		off = f->len;
	if (off < 0 || (size_t)off > max || size > max - (size_t)off) {
		f->toobig = 1;
		pthread_mutex_unlock(&lock);
		return -EFBIG;
	}
	end = (size_t)off + size;
	if (end > f->len && (err = set_size(f, end))) {
		pthread_mutex_unlock(&lock);
		return -err;
	}
	memcpy(f->data + off, buf, size);
	f->refused = 0;
	clock_gettime(CLOCK_REALTIME, &f->attr.mtime);
	f->attr.ctime = f->attr.mtime;
	pthread_mutex_unlock(&lock);
	return (ssize_t)size;
}

size_t
outbox_read(struct outbox_file *f, char *buf, size_t size, off_t off)
{
	size_t n = 0;

	pthread_mutex_lock(&lock);
	if (off >= 0 && (size_t)off < f->len) {
		n = f->len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, f->data + off, n);
	}
	pthread_mutex_unlock(&lock);
	return n;
}

/* How the process closing a file ends: the FLUSH of a dying writer's
 * files comes while it dies. */
enum writer_end { WRITER_ALIVE, WRITER_FAILED, WRITER_KILLED, WRITER_EXEC };

/*
 * A read of /proc/PID/stat waits for the process's exec lock, and a
 * process in execve(2) holds it while it closes its close-on-exec files:
 * their FLUSH comes to us then (dash saves a redirected fd that way
 * before it runs a command), and reading stat in the FLUSH would never
 * return. So a helper thread reads it, and a read still blocked after
 * STAT_WAIT_MS means an exec in progress: a living writer. The helper
 * finishes once our reply lets the exec go on.
 */
#define STAT_WAIT_MS	200

struct stat_read {
	pthread_mutex_t mu;
	pthread_cond_t done_cv;
	int fd, refs, done;
	char buf[2048];
	ssize_t n;
};

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

static void *
stat_reader(void *arg)
{
	struct stat_read *r = arg;
	ssize_t n = read(r->fd, r->buf, sizeof(r->buf) - 1);

	pthread_mutex_lock(&r->mu);
	r->n = n;
	r->done = 1;
	pthread_cond_signal(&r->done_cv);
	pthread_mutex_unlock(&r->mu);
	stat_read_unref(r);
	return NULL;
}

/* The text of /proc/PID/stat in buf: 1, 0 when there is none, -1 when
 * reading it blocks (an exec in progress). */
static int
read_stat(pid_t pid, char *buf, size_t size)
{
	char path[64];
	struct stat_read *r;
	struct timespec until;
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all;
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
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* SIGTERM must reach a FUSE thread, whose wakeup ends the loop */
	sigfillset(&all);
	pthread_attr_setsigmask_np(&attr, &all);
	if (pthread_create(&th, &attr, stat_reader, r) != 0) {
		r->refs = 1;
		r->n = read(r->fd, r->buf, sizeof(r->buf) - 1);
		r->done = 1;
	}
	pthread_attr_destroy(&attr);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += STAT_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
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

/*
 * writer_end - PF_EXITING (0x4) in field 9 of /proc/PID/stat, and the
 * exit_code of field 52: a signal in its low 7 bits, else the status.
 */
static enum writer_end
writer_end(pid_t pid)
{
	char buf[2048], *p, *tok, *save;
	unsigned long flags = 0;
	long code = 0;
	int field;

	if (pid <= 0)
		return WRITER_ALIVE;
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

pid_t
outbox_process(pid_t tid)
{
	char path[64], line[256];
	int tgid = (int)tid;
	FILE *fp;

	if (tid <= 0)
		return tid;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (!(fp = fopen(path, "re")))
		return tid;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(fp);
	return (pid_t)tgid;
}

/*
 * submit_frozen - queue_submit f's content as name with the lock dropped
 * for the fsyncs: f is held (a reference the caller drops) and frozen, so
 * writers and openers wait instead of changing it. Called and returns
 * with the lock held.
 */
static int
submit_frozen(struct outbox_file *f, const char *name)
{
	/* the uid of the FUSE request that created the file */
	struct queue_origin o = { .uid = f->attr.uid };
	char id[QUEUE_ID_MAX];
	int err;

	f->submitting = 1;
	f->refs++;
	pthread_mutex_unlock(&lock);
	err = queue_submit(f->data, f->len, name, &o, id);
	pthread_mutex_lock(&lock);
	f->submitting = 0;
	pthread_cond_broadcast(&unfrozen);
	return err;
}

/*
 * finish - called with the lock on a listed, non-staging file with
 * content: refuse it (reason) or submit it; it leaves the list either way.
 * Returns with the lock released, and the errno close() should see.
 */
static int
finish(struct outbox_file *f, const char *reason, int err)
{
	char *name;

	if (!(name = strdup(f->name))) {
		pthread_mutex_unlock(&lock);
		return ENOMEM;
	}
	if (!reason && f->toobig) {
		reason = "larger than max_size";
		err = EFBIG;
	}
	if (reason) {
		detach(f);
		pthread_mutex_unlock(&lock);
		queue_reject(name, reason);
		free(name);
		return err;
	}
	if ((err = submit_frozen(f, name)) == 0)
		outbox_ghost_add(name, &f->attr);
	detach(f);
	unref(f);
	pthread_mutex_unlock(&lock);
	free(name);
	return err;
}

/* 1 if descriptor fd of pid is outbox/name (an unlinked one included). */
static int
fd_is(pid_t pid, const char *fd, const char *name)
{
	char path[64], target[PATH_MAX], tail[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, fd);
	if ((n = readlink(path, target, sizeof(target) - 1)) <= 0)
		return 0;
	target[n] = '\0';
	if ((size_t)snprintf(tail, sizeof(tail), "/outbox/%s", name) >=
	    sizeof(tail))
		return 0;
	return g_str_has_suffix(target, tail) ||
	    (g_str_has_suffix(target, " (deleted)") &&
	    strstr(target, tail) != NULL);
}

/*
 * holds_other - 1 if process pid still has a descriptor on outbox/name,
 * inode ino (fdinfo's "ino:", then the link's path): its close() was of a
 * duplicate, as when dash saves and restores a redirected fd around a
 * command.
 */
static int
holds_other(pid_t pid, unsigned long ino, const char *name)
{
	char path[64], line[128];
	unsigned long n;
	struct dirent *d;
	int found = 0, dfd, fd;
	FILE *fp;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	if (ino == 0 || !(dir = opendir(path)))
		return 0;
	dfd = dirfd(dir);
	while (!found && (d = readdir(dir))) {
		if (d->d_name[0] == '.' ||
		    (fd = openat(dfd, d->d_name, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		if (!(fp = fdopen(fd, "r"))) {
			close(fd);
			continue;
		}
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, "ino: %lu", &n) == 1) {
				found = n == ino && fd_is(pid, d->d_name, name);
				break;
			}
		fclose(fp);
	}
	closedir(dir);
	return found;
}

int
outbox_flush(struct outbox_file *f, pid_t pid, pid_t owner, unsigned long ino)
{
	enum writer_end end = writer_end(pid);
	int mine = owner <= 0 || pid <= 0 || outbox_process(pid) == owner;
	char *name;

	pthread_mutex_lock(&lock);
	name = strdup(f->name);
	pthread_mutex_unlock(&lock);
	if (name == NULL)
		return ENOMEM;
	/* Not the end of the message: a close by another process sharing
	 * the file, by an exec closing a copy, or of one of two copies. */
	if (!mine || end == WRITER_EXEC ||
	    (end == WRITER_ALIVE && holds_other(pid, ino, name))) {
		free(name);
		pthread_mutex_lock(&lock);
		f->poisoned |= end == WRITER_KILLED || end == WRITER_FAILED;
		pthread_mutex_unlock(&lock);
		return 0;
	}
	free(name);
	pthread_mutex_lock(&lock);
	freeze_wait(f);
	if (f->detached || outbox_is_staging(f->name) ||
	    (f->len == 0 && !f->toobig)) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	if (end != WRITER_ALIVE || f->poisoned)
		return finish(f, "writer died", EIO);
	return finish(f, NULL, 0);
}

void
outbox_close(struct outbox_file *f)
{
	pthread_mutex_lock(&lock);
	freeze_wait(f);
	/* The last handle of a file no owner's close() has decided: empty,
	 * not a message; else only processes that shared it closed it. */
	if (f->refs == 2 && !f->detached && !outbox_is_staging(f->name)) {
		finish(f, f->len == 0 && !f->toobig ? "not a message: empty" :
		    f->poisoned ? "writer died" : NULL, EINVAL);
		pthread_mutex_lock(&lock);
	}
	unref(f);
	pthread_mutex_unlock(&lock);
}

static struct outbox_file *
resolve(const char *name, struct outbox_file *f)
{
	return f ? f : find(name);
}

int
outbox_getattr(const char *name, struct outbox_file *f, struct outbox_attr *a)
{
	int err = 0;

	pthread_mutex_lock(&lock);
	if (!(f = resolve(name, f)))
		err = outbox_ghost_get(name, a);
	else {
		*a = f->attr;
		a->size = f->len;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

int
outbox_setattr(const char *name, struct outbox_file *f,
    const struct outbox_attr *a, int which)
{
	int err = 0;

	pthread_mutex_lock(&lock);
	if (!(f = resolve(name, f))) {
		pthread_mutex_unlock(&lock);
		return outbox_ghost_set(name, a, which);
	}
	freeze_wait(f);
	if ((which & OUTBOX_SET_SIZE) && (err = set_size(f, a->size)))
		goto out;
	outbox_apply_attr(&f->attr, a, which);
out:
	pthread_mutex_unlock(&lock);
	return err;
}

int
outbox_unlink(const char *name)
{
	struct outbox_file *f;
	int err = 0;

	pthread_mutex_lock(&lock);
	if (!(f = find(name)))
		err = outbox_ghost_drop(name);
	else
		detach(f);
	pthread_mutex_unlock(&lock);
	return err;
}

int
outbox_rename(const char *from, const char *to, int noreplace)
{
	struct outbox_file *f;
	char *name;
	int err;

	pthread_mutex_lock(&lock);
	if (!(f = find(from)))
		err = ENOENT;
	else if (strcmp(from, to) == 0)
		err = 0;
	else if (find(to))
		err = noreplace ? EEXIST : EXDEV;
	else if (f->refused && !outbox_is_staging(to))
		err = f->refused;	/* mv retries without RENAME_NOREPLACE */
	else if (!(name = strdup(to)))
		err = ENOMEM;
	else if (!outbox_is_staging(from) || outbox_is_staging(to)) {
		free(f->name);
		f->name = name;
		touch_dir();
		err = 0;
	} else {
		/* Staging file renamed to a real name: send it as that. */
		freeze_wait(f);
		err = submit_frozen(f, name);
		if (err == 0) {
			outbox_ghost_add(name, &f->attr);
			detach(f);
		}
		else
			f->refused = err;
		unref(f);
		free(name);
	}
	pthread_mutex_unlock(&lock);
	return err;
}

int
outbox_list(char ***names, size_t *n)
{
	struct outbox_file *f;
	size_t c = 0, i = 0;
	char **v;

	pthread_mutex_lock(&lock);
	for (f = files; f; f = f->next)
		c++;
	if (!(v = calloc(c + 1, sizeof(*v)))) {
		pthread_mutex_unlock(&lock);
		return ENOMEM;
	}
	for (f = files; f; f = f->next)
		if (!(v[i++] = strdup(f->name))) {
			pthread_mutex_unlock(&lock);
			strv_free(v, i);
			return ENOMEM;
		}
	pthread_mutex_unlock(&lock);
	qsort(v, c, sizeof(*v), strv_cmp);
	*names = v;
	*n = c;
	return 0;
}

struct timespec
outbox_mtime(void)
{
	struct timespec t;

	pthread_mutex_lock(&lock);
	t = dir_mtime;
	pthread_mutex_unlock(&lock);
	return t;
}
