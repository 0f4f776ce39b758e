/*
 * tree.c - the FUSE face (see fs.h): the tree of interface.md as libfuse
 * low-level operations.
 *
 *	ctl log stats		top-level files
 *	outbox/NAME		fs/outbox.c: files being written
 *	queue|sent|failed/ID/F	queue/queue.h: message envelope status log
 *				name (and ctl in queue/)
 *	inbox/ID/...		fs/inbox.c: raw envelope and the MIME tree
 *
 * Every operation turns its inode into a path (fs/node.c) and the path
 * into a place in the tree; nothing about an entry is cached here, so an
 * entry that moved (queue/ID to sent/ID) is simply ENOENT at its old path.
 * Generated files are rendered once per open into the handle and served
 * in slices, so reads at different offsets agree; files whose content
 * changes (status, log, stats, ctl) are opened direct_io and every
 * attribute and dynamic entry has a zero timeout, so `tail -f`, `cat`
 * and `wc` never see stale sizes.
 *
 * `rm -r sent/ID` (failed/, inbox/) unlinks every file before its rmdir:
 * those unlinks only hide the file, and the rmdir of an entry whose files
 * are all hidden forgets it (queue_forget, maildir_delete); a plain rmdir
 * of a full entry is ENOTEMPTY. Queued mail is not deleted by rm (EPERM):
 * `echo delete > queue/ID/ctl` says it on purpose. sent/ and failed/
 * entries have no ctl: nothing is left to retry or delete but by rm -r.
 *
 * Only a writer's close() can send an outbox file (fs/outbox.h); a reader
 * closing one, `cat outbox/.draft`, sends nothing.
 *
 * Diagnostics: operations that make no sense fail with the errno a user
 * expects (EACCES for writing generated files or creating outside outbox/,
 * EPERM for mkdir, links, chmod and deleting queued mail, EXDEV for a
 * rename into or out of outbox/, ENOTSUP for xattrs); unexpected failures
 * are logged with lib/log.h.
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/inbox.h"
#include "fs/mime.h"
#include "fs/node.h"
#include "fs/outbox.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "lib/strv.h"
#include "queue/maildir.h"
#include "queue/qlog.h"
#include "queue/queue.h"
#include "queue/stats.h"

/* st_blksize: a page, the unit readers size their reads by. */
#define BLOCK_SIZE	4096

/* Entries and attributes that never change (the top level). */
#define STATIC_TIMEOUT	3600.0

enum area { AREA_NONE, AREA_OUTBOX, AREA_QUEUE, AREA_SENT, AREA_FAILED,
	AREA_INBOX };

enum kind {
	K_ROOT, K_CTL, K_LOG, K_STATS,
	K_AREA,			/* outbox/ queue/ sent/ failed/ inbox/ */
	K_OUTFILE,		/* outbox/NAME */
	K_ENTRY,		/* queue/ID (sent, failed) */
	K_EFILE,		/* queue/ID/FILE */
	K_IENTRY,		/* inbox/ID */
	K_INODE			/* inbox/ID/REL */
};

/* A place in the tree, parsed from a path. */
struct loc {
	enum kind kind;
	enum area area;
	char path[PATH_MAX];
	char id[MAILDIR_ID_MAX];
	const char *name;	/* outbox name, entry file, inbox rel path */
	char buf[PATH_MAX];	/* what name points into */
};

/* An open file. */
struct handle {
	int is_dir;		/* 0: tells a handle from a dir_handle */
	enum kind kind;
	char *buf;		/* rendered content, or */
	const char *data;	/* a view into msg */
	size_t len;
	int fd;			/* served from disk when >= 0 */
	struct inbox_msg *msg;
	struct outbox_file *ob;
	int append;
	int writer;		/* opened for writing: its close() may send */
	pid_t owner;		/* the process that opened it (outbox_process) */
	char id[MAILDIR_ID_MAX];	/* ID/ctl: the entry, and where */
	enum queue_where where;
};

/* A snapshot of a directory for readdir. */
struct dirent_snap {
	char *name;
	mode_t mode;
	uint64_t ino;
};
struct dir_handle {
	int is_dir;		/* 1 */
	struct dirent_snap *v;
	size_t n;
};

static const struct conf *conf;
static struct timespec start_time;

static const char *const area_names[] = {
	[AREA_OUTBOX] = "outbox", [AREA_QUEUE] = "queue",
	[AREA_SENT] = "sent", [AREA_FAILED] = "failed", [AREA_INBOX] = "inbox",
};
static const char *const top_files[] = { "ctl", "log", "stats" };
static const char *const entry_files[] = {
	"message", "envelope", "status", "log", "name", "ctl"
};
#define NENTRY_FILES	(sizeof(entry_files) / sizeof(entry_files[0]))

static enum queue_where
where_of(enum area a)
{
	return a == AREA_SENT ? QUEUE_SENT : a == AREA_FAILED ? QUEUE_FAILED :
	    QUEUE_QUEUE;
}

static int
is_entry_file(const char *name)
{
	size_t i;

	for (i = 0; i < NENTRY_FILES; i++)
		if (strcmp(name, entry_files[i]) == 0)
			return 1;
	return 0;
}

/* Files whose content changes while they exist. */
static int
is_dynamic(const struct loc *l)
{
	return l->kind == K_LOG || l->kind == K_STATS || l->kind == K_CTL ||
	    l->kind == K_OUTFILE || (l->kind == K_EFILE &&
	    (strcmp(l->name, "status") == 0 || strcmp(l->name, "log") == 0 ||
	    strcmp(l->name, "ctl") == 0));
}

static int
is_ctl(const struct loc *l)
{
	return l->kind == K_CTL ||
	    (l->kind == K_EFILE && strcmp(l->name, "ctl") == 0);
}

/* --- paths --- */

static int
parse(const char *path, struct loc *l)
{
	char *comp[3], *p;
	size_t n = 0, i;

	memset(l, 0, sizeof(*l));
	if (strlen(path) >= sizeof(l->path))
		return ENAMETOOLONG;
	strcpy(l->path, path);
	strcpy(l->buf, path);
	if (*path == '\0') {
		l->kind = K_ROOT;
		return 0;
	}
	/* At most three components; the third keeps inbox sub-paths. */
	for (p = l->buf; n < 3;) {
		comp[n++] = p;
		if (n == 3 || !(p = strchr(p, '/')))
			break;
		*p++ = '\0';
	}
	for (i = 0; i < n; i++)
		if (*comp[i] == '\0')
			return ENOENT;
	l->kind = K_AREA;
	if (n == 1) {
		if (strcmp(comp[0], "ctl") == 0)
			l->kind = K_CTL;
		else if (strcmp(comp[0], "log") == 0)
			l->kind = K_LOG;
		else if (strcmp(comp[0], "stats") == 0)
			l->kind = K_STATS;
		if (l->kind != K_AREA)
			return 0;
	}
	for (i = AREA_OUTBOX; i <= AREA_INBOX; i++)
		if (strcmp(comp[0], area_names[i]) == 0)
			l->area = i;
	if (l->area == AREA_NONE)
		return ENOENT;
	if (n == 1)
		return 0;
	if (l->area == AREA_OUTBOX) {
		if (n > 2)
			return ENOENT;
		l->kind = K_OUTFILE;
		l->name = comp[1];
		return 0;
	}
	if (strlen(comp[1]) >= (l->area == AREA_INBOX ? MAILDIR_ID_MAX :
	    QUEUE_ID_MAX))
		return ENOENT;
	strcpy(l->id, comp[1]);
	if (n == 2) {
		l->kind = l->area == AREA_INBOX ? K_IENTRY : K_ENTRY;
		return 0;
	}
	l->name = comp[2];
	if (l->area == AREA_INBOX) {
		l->kind = K_INODE;
		return 0;
	}
	if (strchr(l->name, '/') || !is_entry_file(l->name))
		return ENOENT;
	l->kind = K_EFILE;
	return 0;
}

static int
child_path(const char *parent, const char *name, char *out, size_t len)
{
	int n;

	if (strlen(name) > NAME_MAX)
		return ENAMETOOLONG;
	n = *parent ? snprintf(out, len, "%s/%s", parent, name) :
	    snprintf(out, len, "%s", name);
	return n < 0 || (size_t)n >= len ? ENAMETOOLONG : 0;
}

static int
ino_loc(fuse_ino_t ino, struct loc *l)
{
	char path[PATH_MAX];
	int err;

	if ((err = node_path(ino, path, sizeof(path))))
		return err == ESTALE ? ENOENT : err;
	return parse(path, l);
}

static int
child_loc(fuse_ino_t parent, const char *name, struct loc *l)
{
	char ppath[PATH_MAX], path[PATH_MAX];
	int err;

	if ((err = node_path(parent, ppath, sizeof(ppath))))
		return err == ESTALE ? ENOENT : err;
	if ((err = child_path(ppath, name, path, sizeof(path))))
		return err;
	return parse(path, l);
}

/* --- files hidden by rm -r until the rmdir of their entry --- */

static pthread_mutex_t hide_lock = PTHREAD_MUTEX_INITIALIZER;
static char **hidden;
static size_t nhidden;

static int
under(const char *path, const char *top)
{
	size_t n = strlen(top);

	return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int
is_hidden(const char *path)
{
	size_t i;
	int r = 0;

	pthread_mutex_lock(&hide_lock);
	for (i = 0; i < nhidden && !r; i++)
		r = under(path, hidden[i]);
	pthread_mutex_unlock(&hide_lock);
	return r;
}

static int
hide(const char *path)
{
	char **v, *p;

	if (!(p = strdup(path)))
		return ENOMEM;
	pthread_mutex_lock(&hide_lock);
	if (!(v = realloc(hidden, (nhidden + 1) * sizeof(*v)))) {
		pthread_mutex_unlock(&hide_lock);
		free(p);
		return ENOMEM;
	}
	hidden = v;
	hidden[nhidden++] = p;
	pthread_mutex_unlock(&hide_lock);
	return 0;
}

/* Forget what was hidden at or under top (its entry is gone). */
static void
unhide(const char *top)
{
	size_t i;

	pthread_mutex_lock(&hide_lock);
	for (i = 0; i < nhidden;)
		if (under(hidden[i], top)) {
			free(hidden[i]);
			hidden[i] = hidden[--nhidden];
		} else
			i++;
	pthread_mutex_unlock(&hide_lock);
}

/* --- content --- */

static int
render_stats(char **buf, size_t *len)
{
	struct queue_gauges g;
	size_t cap = 512, off;
	int i;

	if (!(*buf = malloc(cap)))
		return ENOMEM;
	queue_gauges(&g);
	off = snprintf(*buf, cap, "queue %ld\ndeferred %ld\nsending %ld\n"
	    "inbox %ld\n", g.queue, g.deferred, g.sending, maildir_count());
	for (i = 0; i < STATS_NCOUNTERS && off < cap; i++)
		off += snprintf(*buf + off, cap - off, "%s %ld\n",
		    stats_name(i), stats_get(i));
	*len = off < cap ? off : cap - 1;
	return 0;
}

/* The size of a file as it would be rendered now. */
static int
file_size(const struct loc *l, size_t *len)
{
	struct inbox_msg *m;
	const struct mime_node *n;
	struct stat st;
	char *buf;
	int err;

	switch (l->kind) {
	case K_CTL:
		*len = 0;
		return 0;
	case K_LOG:
		*len = stat(qlog_path(), &st) == 0 ? (size_t)st.st_size : 0;
		return 0;
	case K_STATS:
		if ((err = render_stats(&buf, len)))
			return err;
		free(buf);
		return 0;
	case K_EFILE:
		if (strcmp(l->name, "ctl") == 0) {
			*len = 0;
			return 0;
		}
		return queue_file_size(where_of(l->area), l->id, l->name, len);
	case K_INODE:
		if ((err = inbox_get(l->id, &m)))
			return err;
		n = inbox_find(m, l->name);
		*len = n ? n->len : 0;
		inbox_put(m);
		return n ? 0 : ENOENT;
	default:
		return EISDIR;
	}
}

static void
fill_time(struct stat *st, struct timespec t)
{
	st->st_atim = st->st_mtim = st->st_ctim = t;
}

static void
fill_dir(struct stat *st, time_t t, nlink_t nlink)
{
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = nlink;
	fill_time(st, (struct timespec){ .tv_sec = t });
}

static void
fill_file(struct stat *st, mode_t mode, size_t size, time_t t)
{
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	fill_time(st, (struct timespec){ .tv_sec = t });
}

/*
 * loc_stat - whether l exists, and its attributes. A handle, when given
 * (fstat), supplies the size of what it rendered. *gen is the inode
 * generation: outbox names are reused by new files.
 */
static int
loc_stat(const struct loc *l, const struct handle *h, struct stat *st,
    uint64_t *gen)
{
	struct outbox_attr oa;
	struct inbox_msg *m;
	const struct mime_node *n;
	struct stat ls;
	size_t size = 0;
	time_t t;
	int err;

	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = BLOCK_SIZE;
	*gen = 0;
	if (is_hidden(l->path))
		return ENOENT;
	switch (l->kind) {
	case K_ROOT:
		fill_dir(st, start_time.tv_sec, 7);
		fill_time(st, start_time);
		break;
	case K_AREA:
		/* Only the mounting user gets in (no allow_other): 0755 is
		 * the truth for outbox/ too. */
		fill_dir(st, start_time.tv_sec, l->area == AREA_OUTBOX ? 2 : 1);
		if (l->area == AREA_OUTBOX)
			fill_time(st, outbox_mtime());
		break;
	case K_CTL:
		fill_file(st, 0200, 0, start_time.tv_sec);
		break;
	case K_LOG:
		if (stat(qlog_path(), &ls) == -1)
			ls.st_size = 0, ls.st_mtime = start_time.tv_sec;
		fill_file(st, 0444, ls.st_size, ls.st_mtime);
		break;
	case K_STATS:
		if (!h && (err = file_size(l, &size)))
			return err;
		fill_file(st, 0444, h ? h->len : size, time(NULL));
		break;
	case K_OUTFILE:
		if ((err = outbox_getattr(l->name, h ? h->ob : NULL, &oa)))
			return err;
		fill_file(st, oa.mode, oa.size, 0);
		st->st_uid = oa.uid;
		st->st_gid = oa.gid;
		st->st_atim = oa.atime;
		st->st_mtim = oa.mtime;
		st->st_ctim = oa.ctime;
		*gen = oa.gen;
		break;
	case K_ENTRY:
		if ((err = queue_lookup(where_of(l->area), l->id, &t)))
			return err;
		fill_dir(st, t, 2);
		break;
	case K_EFILE:
		if ((err = queue_lookup(where_of(l->area), l->id, &t)))
			return err;
		if (h && h->fd >= 0 && fstat(h->fd, &ls) == 0)
			size = ls.st_size;
		else if (h)
			size = h->len;
		else if ((err = file_size(l, &size)))
			return err;
		fill_file(st, is_ctl(l) ? 0200 : 0444, size, t);
		break;
	case K_IENTRY:
		if ((err = inbox_stat(l->id, &t)))
			return err;
		fill_dir(st, t, 1);
		break;
	case K_INODE:
		if ((err = inbox_get(l->id, &m)))
			return err;
		if (!(n = inbox_find(m, l->name)))
			err = ENOENT;
		else if (n->is_dir)
			fill_dir(st, inbox_mtime(m), 1);
		else
			fill_file(st, 0444, n->len, inbox_mtime(m));
		inbox_put(m);
		return err;
	}
	return 0;
}

/* --- directories --- */

static int
snap_add(struct dir_handle *d, const char *dir, const char *name, mode_t mode)
{
	char path[PATH_MAX];
	struct dirent_snap *v;

	if (child_path(dir, name, path, sizeof(path)) != 0)
		return 0;
	if (is_hidden(path))
		return 0;
	if (!(v = realloc(d->v, (d->n + 1) * sizeof(*v))))
		return ENOMEM;
	d->v = v;
	if (!(v[d->n].name = strdup(name)))
		return ENOMEM;
	v[d->n].mode = mode;
	v[d->n].ino = node_ino(path);
	d->n++;
	return 0;
}

static void
snap_free(struct dir_handle *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free(d);
}

/* The visible entries of directory l, without "." and "..". */
static int
list_dir(const struct loc *l, struct dir_handle *d)
{
	const struct mime_node *n;
	struct inbox_msg *m;
	char **names = NULL;
	size_t i, count = 0;
	int err = 0;
	time_t t;

	switch (l->kind) {
	case K_ROOT:
		for (i = 0; i < 3 && !err; i++)
			err = snap_add(d, "", top_files[i], S_IFREG);
		for (i = AREA_OUTBOX; i <= AREA_INBOX && !err; i++)
			err = snap_add(d, "", area_names[i], S_IFDIR);
		return err;
	case K_AREA:
		if (l->area == AREA_OUTBOX)
			err = outbox_list(&names, &count);
		else if (l->area == AREA_INBOX)
			err = maildir_list(&names, &count);
		else
			err = queue_list(where_of(l->area), &names, &count);
		if (err)
			return err;
		for (i = 0; i < count && !err; i++)
			err = snap_add(d, l->path, names[i],
			    l->area == AREA_OUTBOX ? S_IFREG : S_IFDIR);
		strv_free(names, count);
		return err;
	case K_ENTRY:
		if ((err = queue_lookup(where_of(l->area), l->id, &t)))
			return err;
		for (i = 0; i < NENTRY_FILES && !err; i++)
			err = snap_add(d, l->path, entry_files[i], S_IFREG);
		return err;
	case K_IENTRY:
	case K_INODE:
		if ((err = inbox_get(l->id, &m)))
			return err;
		n = inbox_find(m, l->kind == K_INODE ? l->name : "");
		if (!n)
			err = ENOENT;
		else if (!n->is_dir)
			err = ENOTDIR;
		for (i = 0; !err && i < n->nkids; i++)
			err = snap_add(d, l->path, n->kids[i].name,
			    n->kids[i].is_dir ? S_IFDIR : S_IFREG);
		inbox_put(m);
		return err;
	default:
		return ENOTDIR;
	}
}

static void
tree_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d;
	struct loc l;
	struct stat st;
	uint64_t gen;
	int err;

	if ((err = ino_loc(ino, &l)) || (err = loc_stat(&l, NULL, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if (!(d = calloc(1, sizeof(*d))))
		return (void)fuse_reply_err(req, ENOMEM);
	d->is_dir = 1;
	if ((err = list_dir(&l, d))) {
		snap_free(d);
		return (void)fuse_reply_err(req, err);
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		snap_free(d);
}

static void
tree_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	char path[PATH_MAX], *p, *buf;
	struct stat st = { 0 };
	size_t used = 0, n;
	const char *name;
	off_t i;

	if (!(buf = malloc(size)))
		return (void)fuse_reply_err(req, ENOMEM);
	for (i = off; (size_t)i < d->n + 2; i++) {
		if (i == 0) {
			name = ".";
			st.st_ino = ino;
			st.st_mode = S_IFDIR;
		} else if (i == 1) {
			name = "..";
			st.st_ino = NODE_ROOT;
			if (node_path(ino, path, sizeof(path)) == 0 &&
			    (p = strrchr(path, '/'))) {
				*p = '\0';
				st.st_ino = node_ino(path);
			}
			st.st_mode = S_IFDIR;
		} else {
			name = d->v[i - 2].name;
			st.st_ino = d->v[i - 2].ino;
			st.st_mode = d->v[i - 2].mode;
		}
		n = fuse_add_direntry(req, buf + used, size - used, name, &st,
		    i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void
tree_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	snap_free((struct dir_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

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
	double t = l->kind == K_AREA || l->kind == K_CTL || l->kind == K_LOG ||
	    l->kind == K_STATS ? STATIC_TIMEOUT : 0;

	e.ino = node_ref(l->path);
	e.generation = gen;
	st->st_ino = e.ino;
	e.attr = *st;
	e.entry_timeout = t;
	e.attr_timeout = l->kind == K_CTL ? t : 0;
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

	if ((err = child_loc(parent, name, &l)) ||
	    (err = loc_stat(&l, NULL, &st, &gen)))
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

	if ((err = ino_loc(ino, &l)))
		return (void)fuse_reply_err(req, err);
	if ((err = loc_stat(&l, h, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	st.st_ino = ino;
	fuse_reply_attr(req, &st, 0);
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

	if (h && !h->ob)
		h = NULL;
	if ((err = ino_loc(ino, &l)) || (err = loc_stat(&l, h, &st, &gen)))
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
	} else if (to_set == 0)
		err = 0;
	else if (is_ctl(&l) && to_set == FUSE_SET_ATTR_SIZE)
		err = 0;	/* `echo verb > ctl` truncates first */
	else if (to_set & FUSE_SET_ATTR_SIZE)
		err = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
	else
		err = EPERM;
	if (err || (err = loc_stat(&l, h, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	st.st_ino = ino;
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

	if ((err = ino_loc(ino, &l)) || (err = loc_stat(&l, NULL, &st, &gen)))
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

	return loc_stat(l, NULL, &st, &gen) == 0 ? EEXIST : EACCES;
}

static void
handle_free(struct handle *h)
{
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
	}
	return h;
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

	if ((err = child_loc(parent, name, &l)))
		return (void)fuse_reply_err(req, err == ENOENT ? EACCES : err);
	if (l.kind != K_OUTFILE)
		return (void)fuse_reply_err(req, refuse_make(&l));
	if (!(h = handle_new(K_OUTFILE)))
		return (void)fuse_reply_err(req, ENOMEM);
	if ((err = outbox_create(l.name, mode, ctx->uid, ctx->gid,
	    fi->flags & O_TRUNC, &h->ob)) ||
	    (err = loc_stat(&l, h, &e.attr, &gen))) {
		handle_free(h);
		return (void)fuse_reply_err(req, err);
	}
	h->append = fi->flags & O_APPEND;
	h->writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	h->owner = outbox_process(ctx->pid);
	e.ino = node_ref(l.path);
	e.generation = gen;
	e.attr.st_ino = e.ino;
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
	int err;

	(void)rdev;
	if ((err = child_loc(parent, name, &l)))
		return (void)fuse_reply_err(req, err == ENOENT ? EACCES : err);
	if (l.kind != K_OUTFILE)
		return (void)fuse_reply_err(req, refuse_make(&l));
	if (!S_ISREG(mode))
		return (void)fuse_reply_err(req, EPERM);
	if ((err = outbox_mknod(l.name, mode, ctx->uid, ctx->gid)) ||
	    (err = loc_stat(&l, NULL, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	reply_entry(req, &l, &st, gen);
}

static void
tree_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct loc l;
	int err;

	(void)mode;
	if ((err = child_loc(parent, name, &l)))
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
tree_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct loc l;
	struct stat st;
	uint64_t gen;
	int err;

	if ((err = child_loc(parent, name, &l)))
		return (void)fuse_reply_err(req, err);
	if (l.kind == K_OUTFILE)
		return (void)fuse_reply_err(req, outbox_unlink(l.name));
	if ((err = loc_stat(&l, NULL, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if (S_ISDIR(st.st_mode))
		err = EISDIR;
	else if ((l.kind == K_EFILE && l.area != AREA_QUEUE) ||
	    l.kind == K_INODE)
		err = hide(l.path);	/* rm -r: gone at the rmdir */
	else
		err = EPERM;
	fuse_reply_err(req, err);
}

static void
tree_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct dir_handle d = { 0 };
	struct loc l;
	struct stat st;
	uint64_t gen;
	int err;

	if ((err = child_loc(parent, name, &l)) ||
	    (err = loc_stat(&l, NULL, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if (!S_ISDIR(st.st_mode))
		return (void)fuse_reply_err(req, ENOTDIR);
	if ((l.kind != K_ENTRY || l.area == AREA_QUEUE) &&
	    l.kind != K_IENTRY && l.kind != K_INODE)
		return (void)fuse_reply_err(req, EPERM);
	err = list_dir(&l, &d);
	if (!err && d.n > 0)
		err = ENOTEMPTY;
	while (d.n > 0)
		free(d.v[--d.n].name);
	free(d.v);
	if (!err) {
		if (l.kind == K_ENTRY)
			err = queue_forget(where_of(l.area), l.id);
		else if (l.kind == K_IENTRY)
			err = inbox_delete(l.id);
		else
			err = hide(l.path);
		if (!err && l.kind != K_INODE)
			unhide(l.path);
	}
	fuse_reply_err(req, err);
}

static void
tree_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct loc from, to;
	struct stat st;
	uint64_t gen;
	int err, terr;

	if ((err = child_loc(parent, name, &from)) ||
	    (err = loc_stat(&from, NULL, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if (flags & ~RENAME_NOREPLACE)
		return (void)fuse_reply_err(req, EINVAL);
	terr = child_loc(newparent, newname, &to);
	if (terr && terr != ENOENT)
		err = terr;
	else if (!terr && from.kind == K_OUTFILE && to.kind == K_OUTFILE) {
		err = outbox_rename(from.name, to.name,
		    flags & RENAME_NOREPLACE);
		if (!err)
			node_rename(from.path, to.path);
	} else if (from.kind == K_OUTFILE || (!terr && to.area == AREA_OUTBOX))
		err = EXDEV;	/* mv copies: into outbox/, that sends it */
	else
		err = EPERM;
	fuse_reply_err(req, err);
}

/* --- files --- */

static int
open_generated(const struct loc *l, struct handle *h)
{
	const struct mime_node *n;
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
		return render_stats(&h->buf, &h->len);
	case K_EFILE:
		if (strcmp(l->name, "ctl") == 0) {
			snprintf(h->id, sizeof(h->id), "%s", l->id);
			h->where = where_of(l->area);
			return 0;
		}
		if ((err = queue_render(where_of(l->area), l->id, l->name,
		    &h->buf, &h->len, path)))
			return err;
		if (!h->buf && (h->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return errno == ENOENT ? ENOENT : EIO;
		return 0;
	case K_INODE:
		if ((err = inbox_get(l->id, &h->msg)))
			return err;
		if (!(n = inbox_find(h->msg, l->name)))
			return ENOENT;
		if (n->is_dir)
			return EISDIR;
		h->data = n->data;
		h->len = n->len;
		return 0;
	default:
		return EISDIR;
	}
}

static void
tree_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE, err;
	struct handle *h;
	struct stat st;
	struct loc l;
	uint64_t gen;

	if ((err = ino_loc(ino, &l)) || (err = loc_stat(&l, NULL, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if ((acc != O_RDONLY || (fi->flags & O_TRUNC)) &&
	    l.kind != K_OUTFILE && !is_ctl(&l))
		return (void)fuse_reply_err(req, EACCES);
	if (!(h = handle_new(l.kind)))
		return (void)fuse_reply_err(req, ENOMEM);
	if (l.kind == K_OUTFILE) {
		err = outbox_open(l.name, fi->flags & O_TRUNC, &h->ob);
		h->append = fi->flags & O_APPEND;
		h->writer = acc != O_RDONLY;
		h->owner = outbox_process(fuse_req_ctx(req)->pid);
	} else
		err = open_generated(&l, h);
	if (err) {
		handle_free(h);
		return (void)fuse_reply_err(req, err);
	}
	fi->fh = (uintptr_t)h;
	/* Only queue/ID/message, envelope and name never change; inbox
	 * info changes with the Maildir flags. */
	if (is_dynamic(&l))
		fi->direct_io = 1;
	else if (l.kind == K_EFILE)
		fi->keep_cache = 1;
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
	ssize_t n = 0;
	char *buf;

	(void)ino;
	if (!(buf = malloc(size ? size : 1)))
		return (void)fuse_reply_err(req, ENOMEM);
	if (h->ob)
		n = outbox_read(h->ob, buf, size, off);
	else if (h->fd >= 0)
		n = pread(h->fd, buf, size, off);
	else if (off >= 0 && (size_t)off < h->len) {
		n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
		memcpy(buf, src + off, n);
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
	ssize_t n;
	int err;

	(void)ino;
	if (h->ob) {
		if ((n = outbox_write(h->ob, buf, size, off, h->append)) < 0)
			return (void)fuse_reply_err(req, (int)-n);
		return (void)fuse_reply_write(req, n);
	}
	if (h->kind != K_CTL && h->kind != K_EFILE)
		return (void)fuse_reply_err(req, EBADF);
	if ((err = ctl_write(h, buf, size)))
		return (void)fuse_reply_err(req, err);
	fuse_reply_write(req, size);
}

static void
tree_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	/* A reader closing (cat, cp from outbox/) must not send. */
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

/* Outbox files become durable only when queued at close(). */
static void
tree_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
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

/* --- extended attributes: none --- */

static void
tree_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
    const char *value, size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	fuse_reply_err(req, ENOTSUP);
}

static void
tree_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino, (void)name, (void)size;
	fuse_reply_err(req, ENOTSUP);
}

static void
tree_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino, (void)size;
	fuse_reply_err(req, ENOTSUP);
}

static void
tree_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	fuse_reply_err(req, ENOTSUP);
}

static const struct fuse_lowlevel_ops ops = {
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
	.unlink = tree_unlink,
	.rmdir = tree_rmdir,
	.rename = tree_rename,
	.create = tree_create,
	.open = tree_open,
	.read = tree_read,
	.write = tree_write,
	.flush = tree_flush,
	.release = tree_release,
	.fsync = tree_fsync,
	.opendir = tree_opendir,
	.readdir = tree_readdir,
	.releasedir = tree_releasedir,
	.statfs = tree_statfs,
	.setxattr = tree_setxattr,
	.getxattr = tree_getxattr,
	.listxattr = tree_listxattr,
	.removexattr = tree_removexattr,
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
	clock_gettime(CLOCK_REALTIME, &start_time);
	outbox_init(c->max_size);
}
