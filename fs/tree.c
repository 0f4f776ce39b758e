/*
 * tree.c - the FUSE face (see fs.h): the tree of interface.md as libfuse
 * low-level operations.
 *
 *	ctl log stats		top-level files
 *	outbox/NAME		fs/outbox.c: files being written
 *	queue|sent|failed/ID/F	queue/queue.h: the files of queue_files
 *				(message envelope status log name ctl)
 *	inbox/ID/...		fs/inbox.c: raw envelope and the MIME tree
 *	drafts/NAME		fs/drafts.c: files in SPOOL/drafts
 *
 * Every operation turns its inode into a place (fs/place.c); directories
 * are listed by fs/dir.c and deletion is fs/remove.c; this file holds the
 * rest and the ops table. Generated files are rendered once per open into
 * the handle and served in slices, so reads at different offsets agree;
 * files whose content changes (status, log, stats, ctl: the dynamic ones)
 * are opened direct_io and their attributes and entries have a zero
 * timeout, so `tail -f`, `cat` and `wc` never see stale sizes; but a
 * queue/ID/status, whose size the kernel is told to forget at each
 * change, goes through the page cache when it can (fs/status.c). What
 * cannot change (the root, inbox/, a received message's files but info)
 * is kept by the kernel for long (place_entry_timeout), with its page
 * cache (keep_cache) and no FLUSH at close: a `cat` of every inbox/ID/subject
 * costs an OPEN per file, not eight requests; mail deleted or rewritten
 * behind our back is forgotten by notify_inval_entry (fs/session.c).
 *
 * Every entry of queue/, sent/ and failed/ has a ctl: `retry` (queue/
 * only) and `delete`.
 *
 * Only a writer's close() can send an outbox file (fs/outbox.h); a reader
 * closing one, `cat outbox/.draft`, sends nothing. A name just sent
 * lingers as a ghost (fs/outbox_ghost.h). Who may do what is the kernel's
 * check of the modes fs/place.c shows (default_permissions).
 *
 * Diagnostics: operations that make no sense fail with the errno a user
 * expects (EACCES for writing generated files or creating outside outbox/,
 * EPERM for mkdir, links, chmod and deleting inside an entry, EXDEV for a
 * rename into or out of outbox/, ENOTSUP for xattrs); unexpected failures
 * are logged with lib/log.h.
 */
#include "fs/tree_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/inbox.h"
#include "fs/mime.h"
#include "fs/node.h"
#include "fs/outbox.h"
#include "fs/drafts.h"
#include "fs/outbox_ghost.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "queue/qlog.h"

static const struct conf *conf;

/* --- entries and attributes --- */

/* The handle of an open file in fi, if fi is one (fstat, ftruncate). */
static struct handle *
file_handle(const struct fuse_file_info *fi)
{
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;

	return h && !h->is_dir ? h : NULL;
}

static void
reply_entry(fuse_req_t req, const struct loc *l, struct stat *st,
    uint64_t gen)
{
	struct fuse_entry_param e = { 0 };

	e.ino = node_ref(l->path);
	e.generation = gen;
	st->st_ino = e.ino;
	e.attr = *st;
	e.entry_timeout = place_entry_timeout(l);
	e.attr_timeout = status_attr(e.ino, l, NULL, &e.attr, 0);
	if (fuse_reply_entry(req, &e) != 0)
		node_forget(e.ino, 1);
}

static void
tree_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct loc l;
	struct stat st;
	uint64_t gen;
	int err;

	if ((err = place_lookup(parent, name, &l, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	reply_entry(req, &l, &st, gen);
}

static void
tree_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void
tree_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	size_t i;

	for (i = 0; i < count; i++)
		node_forget(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void
tree_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = file_handle(fi);
	struct loc l;
	struct stat st;
	uint64_t gen;
	int err;

	if ((err = place_of_ino(ino, &l)))
		return (void)fuse_reply_err(req, err);
	if ((err = place_stat(&l, h, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	st.st_ino = ino;
	fuse_reply_attr(req, &st, status_attr(ino, &l, h, &st, 0));
}

static void
tree_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	struct handle *h = file_handle(fi);
	struct outbox_attr a = { 0 };
	struct timespec now;
	struct stat st;
	struct loc l;
	uint64_t gen;
	int which = 0, err;

	if (h && !h->ob && h->kind != K_DFILE)
		h = NULL;
	if ((err = place_get(ino, h, &l, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	to_set &= ~(FUSE_SET_ATTR_CTIME | FUSE_SET_ATTR_FORCE |
	    FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID |
	    FUSE_SET_ATTR_KILL_PRIV | FUSE_SET_ATTR_FILE |
	    FUSE_SET_ATTR_OPEN | FUSE_SET_ATTR_TIMES_SET | FUSE_SET_ATTR_TOUCH);
	if (l.kind == K_OUTFILE) {
		clock_gettime(CLOCK_REALTIME, &now);
		a.size = attr->st_size;
		a.mode = attr->st_mode;
		a.uid = attr->st_uid;
		a.gid = attr->st_gid;
		a.atime = to_set & FUSE_SET_ATTR_ATIME_NOW ? now : attr->st_atim;
		a.mtime = to_set & FUSE_SET_ATTR_MTIME_NOW ? now : attr->st_mtim;
		which = (to_set & FUSE_SET_ATTR_SIZE ? OUTBOX_SET_SIZE : 0) |
		    (to_set & FUSE_SET_ATTR_MODE ? OUTBOX_SET_MODE : 0) |
		    (to_set & FUSE_SET_ATTR_UID ? OUTBOX_SET_UID : 0) |
		    (to_set & FUSE_SET_ATTR_GID ? OUTBOX_SET_GID : 0) |
		    (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW) ?
		    OUTBOX_SET_ATIME : 0) |
		    (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW) ?
		    OUTBOX_SET_MTIME : 0);
		if (attr->st_size < 0)
			return (void)fuse_reply_err(req, EINVAL);
		err = outbox_setattr(l.name, h ? h->ob : NULL, &a, which);
	} else if (l.kind == K_DFILE)
		err = drafts_setattr(l.name, h ? h->fd : -1, attr, to_set);
	else if (to_set == 0)
		err = 0;
	else if (place_is_ctl(&l) && to_set == FUSE_SET_ATTR_SIZE)
		err = 0;	/* `echo verb > ctl` truncates first */
	else if (to_set & FUSE_SET_ATTR_SIZE)
		err = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
	else
		err = EPERM;
	if (err || (err = place_stat(&l, h, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	st.st_ino = ino;
	(void)status_attr(ino, &l, h, &st, 1);
	fuse_reply_attr(req, &st, 0);
}

/*
 * access(2) answers from the mode bits the way the kernel would for a
 * disk file (root may read and write anything): `test -w`, and rm's
 * "write-protected" prompts, behave as users know them.
 */
static void
tree_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct loc l;
	struct stat st;
	uint64_t gen;
	mode_t bits;
	int err;

	if ((err = place_get(ino, NULL, &l, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if (ctx->uid == 0)
		bits = 06 | (st.st_mode & 0111 ? 01 : 0);
	else if (ctx->uid == st.st_uid)
		bits = (st.st_mode >> 6) & 07;
	else if (ctx->gid == st.st_gid)
		bits = (st.st_mode >> 3) & 07;
	else
		bits = st.st_mode & 07;
	if (((mask & R_OK) && !(bits & 04)) || ((mask & W_OK) && !(bits & 02)) ||
	    ((mask & X_OK) && !(bits & 01)))
		err = EACCES;
	fuse_reply_err(req, err);
}
/* --- creating and deleting --- */

/* The errno for making something at l, which is not in outbox/. */
static int
refuse_make(const struct loc *l)
{
	struct stat st;
	uint64_t gen;

	return place_stat(l, NULL, &st, &gen) == 0 ? EEXIST : EACCES;
}

/* Every handle between open and release: a stop can come before the
 * kernel's last releases are read (fs_stop). */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle *open_files;

static void
handle_free(struct handle *h)
{
	pthread_mutex_lock(&open_lock);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else if (open_files == h)
		open_files = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&open_lock);
	status_release(h);
	if (h->fd >= 0)
		close(h->fd);
	if (h->msg)
		inbox_put(h->msg);
	if (h->ob)
		outbox_close(h->ob);
	free(h->buf);
	free(h);
}

static struct handle *
handle_new(enum kind kind)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h) {
		h->kind = kind;
		h->fd = -1;
		pthread_mutex_lock(&open_lock);
		if ((h->next = open_files) != NULL)
			open_files->prev = h;
		open_files = h;
		pthread_mutex_unlock(&open_lock);
	}
	return h;
}

/* After the session: free what no release came for, except outbox files,
 * whose release decides what is sent; they stay as the stop left them. */
void
fs_stop(void)
{
	struct handle *h, *next;

	pthread_mutex_lock(&open_lock);
	h = open_files;
	pthread_mutex_unlock(&open_lock);
	for (; h != NULL; h = next) {
		next = h->next;
		if (h->ob == NULL)
			handle_free(h);
	}
	dir_stop();
	inbox_stop();
}

static void
tree_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e = { 0 };
	struct handle *h;
	struct loc l;
	uint64_t gen;
	int err;

	if ((err = place_of_child(parent, name, &l)))
		return (void)fuse_reply_err(req, err == ENOENT ? EACCES : err);
	if (l.kind != K_OUTFILE && l.kind != K_DFILE)
		return (void)fuse_reply_err(req, refuse_make(&l));
	if (!(h = handle_new(l.kind)))
		return (void)fuse_reply_err(req, ENOMEM);
	if ((err = l.kind == K_DFILE ?
	    drafts_open(l.name, fi->flags | O_CREAT, mode, ctx->uid, ctx->gid,
	    &h->fd) : outbox_create(l.name, mode, ctx->uid, ctx->gid,
	    fi->flags & O_TRUNC, &h->ob)) ||
	    (err = place_stat(&l, h, &e.attr, &gen))) {
		handle_free(h);
		return (void)fuse_reply_err(req, err);
	}
	h->append = fi->flags & O_APPEND;
	h->writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	h->owner = outbox_process(ctx->pid);
	e.ino = node_ref(l.path);
	e.generation = gen;
	e.attr.st_ino = e.ino;
	if (l.kind == K_OUTFILE)
		e.attr_timeout = OUTBOX_TIMEOUT;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) != 0) {
		node_forget(e.ino, 1);
		handle_free(h);
	}
}

static void
tree_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    dev_t rdev)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;
	struct loc l;
	uint64_t gen;
	int err = 0, fd;

	(void)rdev;
	if ((err = place_of_child(parent, name, &l)))
		return (void)fuse_reply_err(req, err == ENOENT ? EACCES : err);
	if (l.kind != K_OUTFILE && l.kind != K_DFILE)
		return (void)fuse_reply_err(req, refuse_make(&l));
	if (!S_ISREG(mode))
		return (void)fuse_reply_err(req, EPERM);
	if (l.kind == K_DFILE && !(err = drafts_open(l.name, O_WRONLY |
	    O_CREAT | O_EXCL, mode, ctx->uid, ctx->gid, &fd)))
		close(fd);
	if ((l.kind == K_DFILE ? err :
	    (err = outbox_mknod(l.name, mode, ctx->uid, ctx->gid))) ||
	    (err = place_stat(&l, NULL, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	reply_entry(req, &l, &st, gen);
}

static void
tree_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct loc l;
	int err;

	(void)mode;
	if ((err = place_of_child(parent, name, &l)))
		return (void)fuse_reply_err(req, err == ENOENT ? EPERM : err);
	fuse_reply_err(req, refuse_make(&l) == EEXIST ? EEXIST : EPERM);
}

static void
tree_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
    const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

static void
tree_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	(void)ino;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}


static void
tree_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct loc from, to;
	struct stat st;
	uint64_t gen;
	int err, terr;

	if ((err = place_lookup(parent, name, &from, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if (flags & ~RENAME_NOREPLACE)
		return (void)fuse_reply_err(req, EINVAL);
	terr = place_of_child(newparent, newname, &to);
	if (terr && terr != ENOENT)
		err = terr;
	else if (!terr && from.kind == K_OUTFILE && to.kind == K_OUTFILE) {
		err = outbox_rename(from.name, to.name,
		    flags & RENAME_NOREPLACE);
		if (!err)
			node_rename(from.path, to.path);
	} else if (!terr && from.kind == K_DFILE && to.kind == K_DFILE) {
		err = drafts_rename(from.name, to.name,
		    flags & RENAME_NOREPLACE);
		if (!err)
			node_rename(from.path, to.path);
	} else if (!terr && from.kind == K_DFILE && to.kind == K_OUTFILE &&
	    !outbox_is_staging(to.name) &&
	    place_stat(&to, NULL, &st, &gen) == ENOENT)
		err = drafts_send(from.name, to.name);	/* mv drafts/X outbox/ */
	else if (from.kind == K_DFILE || (!terr && to.area == AREA_DRAFTS))
		err = EXDEV;	/* mv copies */
	else if (from.kind == K_OUTFILE || (!terr && to.area == AREA_OUTBOX))
		err = EXDEV;	/* mv copies: into outbox/, that sends it */
	else
		err = EPERM;
	fuse_reply_err(req, err);
}

/* --- files --- */

static int
open_generated(const struct loc *l, struct handle *h)
{
	struct inbox_view v;
	char path[PATH_MAX];
	int err;

	switch (l->kind) {
	case K_CTL:
		return 0;
	case K_LOG:
		if ((h->fd = open(qlog_path(), O_RDONLY | O_CLOEXEC)) == -1)
			return errno;
		return 0;
	case K_STATS:
		return place_render_stats(&h->buf, &h->len);
	case K_EFILE:
		if (l->qf->source == QUEUE_FILE_CTL) {
			snprintf(h->id, sizeof(h->id), "%s", l->id);
			h->where = place_where(l->area);
			return 0;
		}
		if ((err = queue_render(place_where(l->area), l->id, l->name,
		    &h->buf, &h->len, path)))
			return err;
		if (!h->buf && (h->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return errno == ENOENT ? ENOENT : EIO;
		return 0;
	case K_INODE:
		if ((err = inbox_open(l->id, l->name, &h->msg, &v)))
			return err;
		h->data = v.data;
		h->buf = v.buf;
		h->fd = v.fd;
		h->base = v.base;
		h->len = v.len;
		return 0;
	default:
		return EISDIR;
	}
}

/*
 * A name just sent (fs/outbox_ghost.h) is an empty file whose attributes
 * may be set (rsync --inplace opens it read-only to fchmod; touch opens
 * it for writing and sets its times): nothing is sent for that. Content
 * written to it, or an O_TRUNC open (`>`, an editor's save), makes a new
 * file of that name in outbox/: a new message.
 */
static int
ghost_file(fuse_req_t req, const char *name, struct handle *h)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct outbox_attr a;
	int err = 0;

	pthread_mutex_lock(&mu);	/* two writes on one handle: one file */
	if (h->ob == NULL)
		err = outbox_ghost_get(name, &a) ? ENOENT :
		    outbox_create(name, a.mode, ctx->uid, ctx->gid, 1, &h->ob);
	pthread_mutex_unlock(&mu);
	return err;
}

static int
open_ghost(fuse_req_t req, const struct loc *l, int flags, struct handle *h)
{
	struct outbox_attr a;

	if (outbox_ghost_get(l->name, &a))
		return ENOENT;
	if ((flags & O_ACCMODE) != O_RDONLY && (flags & O_TRUNC))
		return ghost_file(req, l->name, h);
	return 0;
}

static void
tree_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE, err;
	/* before the render: fs/status.c asks what changed since */
	unsigned long seen = session_status_changes();
	struct handle *h;
	struct stat st;
	struct loc l;
	uint64_t gen;

	if ((err = place_get(ino, NULL, &l, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if ((acc != O_RDONLY || (fi->flags & O_TRUNC)) &&
	    l.kind != K_OUTFILE && l.kind != K_DFILE && !place_is_ctl(&l))
		return (void)fuse_reply_err(req, EACCES);
	if (!(h = handle_new(l.kind)))
		return (void)fuse_reply_err(req, ENOMEM);
	if (l.kind == K_OUTFILE) {
		err = outbox_open(l.name, fi->flags & O_TRUNC, &h->ob);
		if (err == ENOENT)
			err = open_ghost(req, &l, fi->flags, h);
		h->append = fi->flags & O_APPEND;
		h->writer = acc != O_RDONLY;
		h->owner = outbox_process(fuse_req_ctx(req)->pid);
	} else if (l.kind == K_DFILE)
		err = drafts_open(l.name, fi->flags & ~(O_CREAT | O_EXCL), 0,
		    0, 0, &h->fd);
	else
		err = open_generated(&l, h);
	if (err) {
		handle_free(h);
		return (void)fuse_reply_err(req, err);
	}
	fi->fh = (uintptr_t)h;
	/* The entry files that are not dynamic never change, nor do the
	 * inbox files but info, which changes with the Maildir flags: what
	 * the page cache holds of them stays good. */
	if (status_open(ino, &l, h, seen))
		fi->keep_cache = 1;	/* fs/status.c: stored */
	else if (place_is_dynamic(&l))
		fi->direct_io = 1;
	else if (l.kind == K_EFILE ||
	    (l.kind == K_INODE && !place_is_inbox_info(&l)))
		fi->keep_cache = 1;
	/* Only the close of an outbox file opened for writing needs a word
	 * (tree_flush: it may send); the others do nothing at FLUSH, so
	 * none is sent (FOPEN_NOFLUSH: a round trip less at each close of
	 * a status, log, stats, ctl or inbox file, or a draft). */
	if (l.kind != K_OUTFILE || !h->writer)
		fi->noflush = 1;
	/* Stored once while the kernel holds the inode: the file never
	 * changes, and pages the kernel dropped come back by READ. */
	if (l.kind == K_INODE && fi->keep_cache && h->fd < 0 &&
	    !node_stored(ino, 0) &&
	    session_store(ino, h->buf ? h->buf : h->data, h->len) == 0)
		node_stored(ino, 1);
	if (fuse_reply_open(req, fi) != 0)
		handle_free(h);
}

/*
 * The reply is built in a buffer of its own: once the kernel has the
 * data it may send the RELEASE of this handle, which another thread can
 * serve before fuse_reply_buf has returned here.
 */
static void
tree_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	const char *src = h->buf ? h->buf : h->data;
	size_t want = size;
	ssize_t n = 0;
	char *buf;

	(void)ino;
	/* What is in memory, or a slice, has a known end: a buffer that
	 * size, not the reader's (cat asks for 128 KiB, twice). */
	if (!h->ob && (h->fd < 0 || h->kind == K_INODE))
		want = off < 0 || (size_t)off >= h->len ? 0 :
		    h->len - (size_t)off < size ? h->len - (size_t)off : size;
	if (!(buf = malloc(want ? want : 1)))
		return (void)fuse_reply_err(req, ENOMEM);
	if (h->ob)
		n = outbox_read(h->ob, buf, size, off);
	else if (h->fd >= 0 && h->kind == K_INODE)
		/* a slice of the message file: len bytes from base */
		n = want ? pread(h->fd, buf, want, h->base + off) : 0;
	else if (h->fd >= 0)
		n = pread(h->fd, buf, size, off);
	else if (want) {
		n = want;
		memcpy(buf, src + off, want);
	}
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

/* Each non-empty line written to a ctl file is a verb. */
static int
ctl_write(const struct handle *h, const char *buf, size_t size)
{
	char line[64];
	size_t i = 0, n;
	int err = 0;

	while (i < size && !err) {
		for (n = 0; i + n < size && buf[i + n] != '\n'; n++)
			;
		while (n > 0 && (buf[i + n - 1] == '\r' ||
		    buf[i + n - 1] == ' ' || buf[i + n - 1] == '\t'))
			n--;
		while (n > 0 && (buf[i] == ' ' || buf[i] == '\t'))
			i++, n--;
		if (n >= sizeof(line))
			return EINVAL;
		memcpy(line, buf + i, n);
		line[n] = '\0';
		if (n == 0)
			;
		else if (h->kind == K_EFILE)
			err = queue_ctl(h->where, h->id, line);
		else if (strcmp(line, "flush") == 0)
			queue_flush();
		else
			err = EINVAL;
		while (i < size && buf[i] != '\n')
			i++;
		i++;
	}
	return err;
}

static void
tree_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
    off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct loc l;
	ssize_t n;
	int err;

	if (!h->ob && h->kind == K_OUTFILE && h->writer &&
	    ((err = place_of_ino(ino, &l)) || (err = ghost_file(req, l.name, h))))
		return (void)fuse_reply_err(req, err);
	if (h->ob) {
		if ((n = outbox_write(h->ob, buf, size, off, h->append)) < 0)
			return (void)fuse_reply_err(req, (int)-n);
		return (void)fuse_reply_write(req, n);
	}
	if (h->kind == K_DFILE) {
		if ((n = pwrite(h->fd, buf, size, off)) < 0)
			return (void)fuse_reply_err(req, errno);
		return (void)fuse_reply_write(req, n);
	}
	if (h->kind != K_CTL && h->kind != K_EFILE)
		return (void)fuse_reply_err(req, EBADF);
	/* answered once the kernel forgot what left queue/ (session.c) */
	err = ctl_write(h, buf, size);
	session_reply_ctl(req, err, size);
}

static void
tree_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	/* A reader closing (cat, cp from outbox/) must not send. Opened
	 * otherwise than an outbox writer, there is no FLUSH (tree_open). */
	fuse_reply_err(req, h->ob && h->writer ?
	    outbox_flush(h->ob, fuse_req_ctx(req)->pid, h->owner, ino) : 0);
}

static void
tree_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	handle_free((struct handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Outbox files become durable only when queued at close(); drafts are
 * files in the spool. */
static void
tree_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi)
{
	struct handle *h = file_handle(fi);

	(void)ino;
	if (h && h->kind == K_DFILE &&
	    (datasync ? fdatasync(h->fd) : fsync(h->fd)) == -1)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_err(req, 0);
}

static void
tree_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (statvfs(conf->spool, &sv) == -1)
		return (void)fuse_reply_err(req, errno);
	sv.f_namemax = NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
	.init = session_init,
	.destroy = session_destroy,
	.lookup = tree_lookup,
	.forget = tree_forget,
	.forget_multi = tree_forget_multi,
	.getattr = tree_getattr,
	.setattr = tree_setattr,
	.access = tree_access,
	.mknod = tree_mknod,
	.mkdir = tree_mkdir,
	.symlink = tree_symlink,
	.link = tree_link,
	.unlink = remove_unlink,
	.rmdir = remove_rmdir,
	.rename = tree_rename,
	.create = tree_create,
	.open = tree_open,
	.read = tree_read,
	.write = tree_write,
	.flush = tree_flush,
	.release = tree_release,
	.fsync = tree_fsync,
	.opendir = dir_open,
	.readdir = dir_read,
	.readdirplus = dir_readplus,
	.releasedir = dir_release,
	.statfs = tree_statfs,
	.setxattr = xattr_set,
	.getxattr = xattr_get,
	.listxattr = xattr_list,
	.removexattr = xattr_remove,
};

const struct fuse_lowlevel_ops *
fs_ops(void)
{
	return &ops;
}

void
fs_init(const struct conf *c)
{
	conf = c;
	place_init(c);
	session_spool(c->spool);
	outbox_init(&c->max_size);
	if (drafts_init(c->spool, &c->max_size) == -1)
		log_warn("%s/drafts", c->spool);
}

