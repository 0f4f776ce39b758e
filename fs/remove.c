/*
 * remove.c - deleting in the tree: `rm -r inbox/ID` (sent/ID, failed/ID)
 * deletes the message (maildir_delete, queue_forget); nothing else inside
 * an entry can be removed.
 *
 * rm -r unlinks every file inside a directory before its rmdir, and a
 * plain rmdir of a full entry is ENOTEMPTY, so the unlinks have to
 * succeed: they only hide the file, and the rmdir of an entry whose files
 * are all hidden forgets it. A plain `rm inbox/ID/raw` must not look like
 * it worked while nothing is deleted, so an unlink is allowed only to
 * the process (thread, as FUSE reports it) that has the file's directory
 * open at that moment: what GNU rm -r (fts), busybox rm -r, find -delete
 * and Python's shutil.rmtree all do while they empty a directory, and
 * what `rm FILE` never does. Any other unlink inside an entry is EPERM
 * and the file stays, readable. Queued mail is not deleted by rm at all
 * (EPERM): `echo delete > queue/ID/ctl` says it on purpose.
 *
 * API: tree_int.h (remove_*).
 */
#include "fs/tree_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/inbox.h"
#include "fs/outbox.h"
#include "fs/drafts.h"

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

int
remove_is_hidden(const char *path)
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

/*
 * The directory l is in, as a path: "inbox/ID" for "inbox/ID/raw".
 */
static void
parent_of(const struct loc *l, char dir[PATH_MAX])
{
	char *slash;

	snprintf(dir, PATH_MAX, "%s", l->path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
}

void
remove_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char dir[PATH_MAX];
	struct loc l;
	struct stat st;
	uint64_t gen;
	int err;

	if ((err = place_of_child(parent, name, &l)))
		return (void)fuse_reply_err(req, err);
	if (l.kind == K_OUTFILE)
		return (void)fuse_reply_err(req, outbox_unlink(l.name));
	if (l.kind == K_DFILE)
		return (void)fuse_reply_err(req, drafts_unlink(l.name));
	if ((err = place_stat(&l, NULL, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	parent_of(&l, dir);
	if (S_ISDIR(st.st_mode))
		err = EISDIR;
	else if (((l.kind == K_EFILE && l.area != AREA_QUEUE) ||
	    l.kind == K_INODE) && dir_is_open_by(dir, fuse_req_ctx(req)->pid))
		err = hide(l.path);	/* rm -r: gone at the rmdir */
	else
		err = EPERM;
	fuse_reply_err(req, err);
}

void
remove_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct dir_handle d = { 0 };
	struct loc l;
	struct stat st;
	uint64_t gen;
	int err;

	if ((err = place_lookup(parent, name, &l, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if (!S_ISDIR(st.st_mode))
		return (void)fuse_reply_err(req, ENOTDIR);
	if ((l.kind != K_ENTRY || l.area == AREA_QUEUE) &&
	    l.kind != K_IENTRY && l.kind != K_INODE)
		return (void)fuse_reply_err(req, EPERM);
	err = dir_list(&l, &d);
	if (!err && d.n > 0)
		err = ENOTEMPTY;
	dir_clear(&d);
	if (!err) {
		if (l.kind == K_ENTRY)
			err = queue_forget(place_where(l.area), l.id);
		else if (l.kind == K_IENTRY)
			err = inbox_delete(l.id);
		else
			err = hide(l.path);
		if (!err && l.kind != K_INODE)
			unhide(l.path);
	}
	fuse_reply_err(req, err);
}
