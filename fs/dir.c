/*
 * dir.c - the directories of the tree: a snapshot of the visible entries
 * taken at opendir and served by readdir in slices (so `ls` of a busy
 * queue/ sees one consistent listing), and the list of directories open
 * right now and by whom, which remove.c asks to tell `rm -r` (which
 * holds the directory open while it unlinks what is in it) from a plain
 * `rm FILE`.
 *
 * API: tree_int.h (dir_*).
 */
#include "fs/tree_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/inbox.h"
#include "fs/mime.h"
#include "fs/node.h"
#include "fs/outbox.h"
#include "fs/drafts.h"
#include "lib/strv.h"

/* Every dir_handle between opendir and releasedir. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dir_handle *open_dirs;

/* releasedir: off the list of open directories, and freed. */
static void
forget_open(struct dir_handle *d)
{
	struct dir_handle **p;

	pthread_mutex_lock(&open_lock);
	for (p = &open_dirs; *p != NULL; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	pthread_mutex_unlock(&open_lock);
	dir_free(d);
}

void
dir_stop(void)
{
	struct dir_handle *d;

	pthread_mutex_lock(&open_lock);
	while ((d = open_dirs) != NULL) {
		open_dirs = d->next;
		dir_free(d);
	}
	pthread_mutex_unlock(&open_lock);
}

int
dir_is_open_by(const char *path, pid_t pid)
{
	const struct dir_handle *d;
	int r = 0;

	pthread_mutex_lock(&open_lock);
	for (d = open_dirs; d != NULL && !r; d = d->next)
		r = d->opener == pid && strcmp(d->path, path) == 0;
	pthread_mutex_unlock(&open_lock);
	return r;
}

static int
snap_add(struct dir_handle *d, const char *dir, const char *name, mode_t mode)
{
	char path[PATH_MAX];
	struct dirent_snap *v;

	if (place_child_path(dir, name, path, sizeof(path)) != 0)
		return 0;
	if (remove_is_hidden(path))
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

void
dir_free(struct dir_handle *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free(d->path);
	free(d);
}

int
dir_list(const struct loc *l, struct dir_handle *d)
{
	const struct mime_node *n;
	struct inbox_msg *m;
	char **names = NULL;
	size_t i, count = 0;
	int err = 0;
	time_t t;

	switch (l->kind) {
	case K_ROOT:
		for (i = 0; i < PLACE_NTOP && !err; i++)
			err = snap_add(d, "", place_top_files[i], S_IFREG);
		for (i = AREA_OUTBOX; i <= AREA_LAST && !err; i++)
			err = snap_add(d, "", place_area_names[i], S_IFDIR);
		return err;
	case K_AREA:
		if (l->area == AREA_OUTBOX)
			err = outbox_list(&names, &count);
		else if (l->area == AREA_DRAFTS)
			err = drafts_list(&names, &count);
		else if (l->area == AREA_INBOX)
			err = inbox_list(&names, &count);
		else
			err = queue_list(place_where(l->area), &names, &count);
		if (err)
			return err;
		for (i = 0; i < count && !err; i++)
			if ((l->area != AREA_SENT && l->area != AREA_FAILED) ||
			    !session_queue_in_transit(names[i]))
				err = snap_add(d, l->path, names[i],
			    l->area == AREA_OUTBOX || l->area == AREA_DRAFTS ?
			    S_IFREG : S_IFDIR);
		strv_free(names, count);
		return err;
	case K_ENTRY:
		if ((err = queue_lookup(place_where(l->area), l->id, &t)))
			return err;
		for (i = 0; i < queue_nfiles && !err; i++)
			err = snap_add(d, l->path, queue_files[i].name, S_IFREG);
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

void
dir_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d;
	struct loc l;
	struct stat st;
	uint64_t gen;
	int err;

	if ((err = place_get(ino, NULL, &l, &st, &gen)))
		return (void)fuse_reply_err(req, err);
	if (!(d = calloc(1, sizeof(*d))))
		return (void)fuse_reply_err(req, ENOMEM);
	d->is_dir = 1;
	d->opener = fuse_req_ctx(req)->pid;
	if ((err = dir_list(&l, d)) || (!(d->path = strdup(l.path)) &&
	    (err = ENOMEM))) {
		dir_free(d);
		return (void)fuse_reply_err(req, err);
	}
	fi->fh = (uintptr_t)d;
	pthread_mutex_lock(&open_lock);
	d->next = open_dirs;
	open_dirs = d;
	pthread_mutex_unlock(&open_lock);
	if (fuse_reply_open(req, fi) != 0)
		forget_open(d);
}

void
dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
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

/*
 * readdirplus: the same entries, and for those of inbox/ (inbox/ID, and
 * the files of inbox/ID/) their attributes too, so that `ls -l`, a glob
 * or `rm -r` need no lookup of each (their attributes come from the map
 * and the index, cheap). Other entries go without (ino 0: the kernel
 * looks them up as after readdir). Each entry given with attributes
 * counts as a lookup (node_ref), undone if the reply fails.
 */
void
dir_readplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	char path[PATH_MAX], *buf = calloc(1, size ? size : 1);
	uint64_t *refs = malloc((d->n + 1) * sizeof(*refs)), gen;
	struct fuse_entry_param e;
	size_t used = 0, n, nrefs = 0;
	const char *name;
	struct loc l;
	off_t i;

	if (!buf || !refs) {
		free(buf);
		free(refs);
		return (void)fuse_reply_err(req, ENOMEM);
	}
	for (i = off; (size_t)i < d->n + 2; i++) {
		memset(&e, 0, sizeof(e));
		if (i < 2) {
			name = i == 0 ? "." : "..";
			e.attr.st_ino = i == 0 ? ino : NODE_ROOT;
			e.attr.st_mode = S_IFDIR;
		} else {
			name = d->v[i - 2].name;
			e.attr.st_ino = d->v[i - 2].ino;
			e.attr.st_mode = d->v[i - 2].mode;
			if (place_child_path(d->path, name, path,
			    sizeof(path)) == 0 && place_parse(path, &l) == 0 &&
			    l.area == AREA_INBOX && l.kind != K_AREA &&
			    place_stat(&l, NULL, &e.attr, &gen) == 0) {
				e.ino = e.attr.st_ino = d->v[i - 2].ino;
				e.generation = gen;
				e.entry_timeout = place_entry_timeout(&l);
				e.attr_timeout = place_attr_timeout(&l);
			}
		}
		n = fuse_add_direntry_plus(req, buf + used, size - used, name,
		    &e, i + 1);
		if (n > size - used)
			break;
		used += n;
		if (e.ino != 0)
			refs[nrefs++] = node_ref(path);
	}
	if (fuse_reply_buf(req, buf, used) != 0)
		while (nrefs > 0)
			node_forget(refs[--nrefs], 1);
	free(refs);
	free(buf);
}

void
dir_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	forget_open((struct dir_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
