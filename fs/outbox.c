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
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "fs/outbox.h"
#include "fs/outbox_ghost.h"
#include "fs/outbox_proc.h"
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
static void (*changed)(void);	/* outbox_on_change */

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

/* outbox/ changed; notify: tell the kernel (outbox_on_change) */
static void
set_dir_mtime(int notify)
{
	clock_gettime(CLOCK_REALTIME, &dir_mtime);
	if (changed && notify)
		changed();
}

static void
touch_dir(void)
{
	set_dir_mtime(1);
}

void
outbox_on_change(void (*fn)(void))
{
	pthread_mutex_lock(&lock);
	changed = fn;
	pthread_mutex_unlock(&lock);
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
	/* A new file of a sent name comes from a write or an open of its
	 * ghost, which the kernel does not take for a change of outbox/;
	 * any other comes from a create or mknod, after which it forgets
	 * outbox/'s attributes itself (a notification less per cp). */
	set_dir_mtime(outbox_ghost_drop(name) == 0);
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

static int
flush(struct outbox_file *f, enum outbox_writer_end end, pid_t pid,
    pid_t owner, unsigned long ino)
{
	/* a thread whose ID is its process's is that process's first */
	int mine = owner <= 0 || pid <= 0 || pid == owner ||
	    outbox_process(pid) == owner;
	char *name;

	pthread_mutex_lock(&lock);
	name = strdup(f->name);
	pthread_mutex_unlock(&lock);
	if (name == NULL)
		return ENOMEM;
	/* Not the end of the message: a close by another process sharing
	 * the file, by an exec closing a copy, or of one of two copies. */
	if (!mine || end == WRITER_EXEC ||
	    (end == WRITER_ALIVE && outbox_holds_other(pid, ino, name))) {
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

/*
 * A close that turns out to send shares a sync round with others closing
 * at once, from the start of its look at /proc (queue_submit_hold). A
 * round waits for a holder SPOOL_GROUP_DELAY_US at most, so a look that
 * blocks on an exec (outbox_proc.c) delays others no longer than that.
 */
int
outbox_flush(struct outbox_file *f, pid_t pid, pid_t owner, unsigned long ino)
{
	enum outbox_writer_end end;
	int err;

	queue_submit_hold();
	end = outbox_writer_end(pid);
	err = flush(f, end, pid, owner, ino);
	queue_submit_unhold();
	return err;
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
