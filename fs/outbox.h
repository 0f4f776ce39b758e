/*
 * outbox.h - files being written into outbox/: held in memory until a
 * close() hands them to queue_submit.
 *
 * A file is submitted at the FLUSH of a close() by the process that opened
 * it, when it has content, is not a dot-file and its writer did not die; close() then returns the
 * errno of queue_submit and the name leaves outbox/ whatever the outcome
 * (queued, or refused with a `rejected` log line). An empty file is kept
 * at FLUSH (a shell's `> file` closes a dup before anything is written)
 * and dropped at the last release as "not a message". Dot-files are
 * staging files, submitted when renamed to a name without the dot.
 *
 * Names are single path components. Thread-safe; no lock is held across
 * queue_submit, so a close() waiting for its fsync stalls no one else.
 */
#ifndef MAILFS_OUTBOX_H
#define MAILFS_OUTBOX_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct outbox_file;

struct outbox_attr {
	size_t size;
	mode_t mode;		/* permission bits only */
	uid_t uid;
	gid_t gid;
	struct timespec atime, mtime, ctime;
	unsigned long gen;	/* differs for each file ever made here */
};

/* What outbox_setattr changes. */
enum {
	OUTBOX_SET_SIZE = 1, OUTBOX_SET_MODE = 2, OUTBOX_SET_UID = 4,
	OUTBOX_SET_GID = 8, OUTBOX_SET_ATIME = 16, OUTBOX_SET_MTIME = 32
};

void	outbox_init(const size_t *max_size);
/* 1 for a staging name (".name"). */
int	outbox_is_staging(const char *name);

/* Open name, creating it (with mode, owner) when missing; a handle ref. */
int	outbox_create(const char *name, mode_t mode, uid_t uid, gid_t gid,
	    int trunc, struct outbox_file **fp);
/* Create without opening (mknod): 0 or EEXIST. */
int	outbox_mknod(const char *name, mode_t mode, uid_t uid, gid_t gid);
/* Open an existing file: 0 or ENOENT. */
int	outbox_open(const char *name, int trunc, struct outbox_file **fp);
/* The RELEASE of a handle. */
void	outbox_close(struct outbox_file *f);

/* Bytes written, or -errno (EFBIG past max_size). append: at the end. */
ssize_t	outbox_write(struct outbox_file *f, const char *buf, size_t size,
	    off_t off, int append);
/* Bytes copied into buf (0 at the end). */
size_t	outbox_read(struct outbox_file *f, char *buf, size_t size, off_t off);
/*
 * outbox_flush - the FLUSH of a close() by thread pid on a handle opened
 * by process owner (outbox_process at open): submit if due (see above).
 * Returns the errno close() should see. ino is the file's inode number.
 * A close that is not the writer's last does not end the message: by
 * another process that shares the descriptor (a shell's child: `{ echo;
 * ls >/dev/null; echo; } > outbox/f`), by an execve closing a
 * close-on-exec copy, or of a duplicate while the owner holds another
 * (dash). If a sharing process dies (a signal or a non-zero exit: dash
 * forks the writer after opening the file itself) the message is refused
 * when its owner closes it. A message that only such closes
 * ended is submitted at the last release.
 */
int	outbox_flush(struct outbox_file *f, pid_t pid, pid_t owner,
	    unsigned long ino);
/* The process (thread group) of the thread FUSE names as the caller. */
pid_t	outbox_process(pid_t tid);

/* Attributes by name (f NULL) or of an open file: 0 or ENOENT. */
int	outbox_getattr(const char *name, struct outbox_file *f,
	    struct outbox_attr *a);
/* Set what `which` says from a (size: EFBIG past max_size). */
int	outbox_setattr(const char *name, struct outbox_file *f,
	    const struct outbox_attr *a, int which);
int	outbox_unlink(const char *name);
/*
 * outbox_rename - rename within outbox/. A staging file renamed to a name
 * without the dot is submitted under the new name: the errno of
 * queue_submit is returned and, on success, the file is gone; on failure
 * nothing changed. EXDEV when to exists (so mv copies and the copy is
 * sent), EEXIST instead when noreplace.
 */
int	outbox_rename(const char *from, const char *to, int noreplace);
/* Sorted snapshot of the names; free with strv_free
 * (lib/strv.h). */
int	outbox_list(char ***names, size_t *n);
/* When a name last came or went. */
struct timespec outbox_mtime(void);
/* fn is called (with outbox's lock held: it must not call back) whenever
 * that time changes, so the kernel may keep outbox/'s attributes; not for
 * a file made by a create or mknod, after which the kernel forgets them
 * itself. */
void	outbox_on_change(void (*fn)(void));

#endif
