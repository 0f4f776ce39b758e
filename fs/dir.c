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

/* Entry i of d's snapshot: its name, and its type as st_mode bits. */
static const char *
snap_name(const struct dir_handle *d, size_t i)
{
	return d->snap + d->at[i] + 1;
}

static mode_t
snap_mode(const struct dir_handle *d, size_t i)
{
	return d->snap[d->at[i]] == 'd' ? S_IFDIR : S_IFREG;
}

/* Room for `entries` more entries of `bytes` in all (type bytes and
 * NULs counted): each array grows by half, or to what is asked. */
static int
snap_room(struct dir_handle *d, size_t bytes, size_t entries)
{
	size_t need = d->used + bytes, cap, max;
	uint32_t *at;
	char *s;

	if (need > UINT32_MAX)
		return ENOMEM;
	if (need > d->cap) {
		cap = d->cap + d->cap / 2 > need ? d->cap + d->cap / 2 : need;
		if (!(s = realloc(d->snap, cap)))
			return ENOMEM;
		d->snap = s;
		d->cap = cap;
	}
	if (d->n + entries > d->max) {
		max = d->max + d->max / 2 > d->n + entries ?
		    d->max + d->max / 2 : d->n + entries + 16;
		if (!(at = realloc(d->at, max * sizeof(*at))))
			return ENOMEM;
		d->at = at;
		d->max = max;
	}
	return 0;
}

static int
snap_add(struct dir_handle *d, const char *dir, const char *name, mode_t mode)
{
	char path[PATH_MAX];
	size_t len = strlen(name);
	int err;

	if (place_child_path(dir, name, path, sizeof(path)) != 0)
		return 0;
	if (remove_is_hidden(path))
		return 0;
	if ((err = snap_room(d, len + 2, 1)))
		return err;
	d->at[d->n++] = (uint32_t)d->used;
	d->snap[d->used++] = S_ISDIR(mode) ? 'd' : 'f';
	memcpy(d->snap + d->used, name, len + 1);
	d->used += len + 1;
	return 0;
}

void
dir_clear(struct dir_handle *d)
{
	free(d->snap);
	free(d->at);
	d->snap = NULL;
	d->at = NULL;
	d->used = d->cap = d->n = d->max = 0;
}

void
dir_free(struct dir_handle *d)
{
	dir_clear(d);
	free(d->path);
	free(d);
}

/* queue/, sent/ or failed/ (l): the IDs in one block (queue_names), not
 * a string each; an entry that left queue/ shows in sent/ or failed/
 * once the kernel has forgotten its old name (fs/session.c). */
static int
list_queue(const struct loc *l, struct dir_handle *d)
{
	char *ids, *id;
	size_t len, n, i;
	int err;

	if ((err = queue_names(place_where(l->area), &ids, &len, &n)))
		return err;
	/* room for all at once: one allocation each */
	if (n > 0)
		err = snap_room(d, len + n, n);
	for (i = 0, id = ids; i < n && !err; i++, id += strlen(id) + 1)
		if (l->area == AREA_QUEUE || !session_queue_in_transit(id))
			err = snap_add(d, l->path, id, S_IFDIR);
	free(ids);
	return err;
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
		if (l->area != AREA_OUTBOX && l->area != AREA_DRAFTS &&
		    l->area != AREA_INBOX)
			return list_queue(l, d);
		if (l->area == AREA_OUTBOX)
			err = outbox_list(&names, &count);
		else if (l->area == AREA_DRAFTS)
			err = drafts_list(&names, &count);
		else
			err = inbox_list(&names, &count);
		if (err)
			return err;
		for (i = 0; i < count && !err; i++)
			err = snap_add(d, l->path, names[i],
			    l->area == AREA_INBOX ? S_IFDIR : S_IFREG);
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

	/* The inode numbers are the paths' now (node_ino), as a lookup
	 * would give them; not kept in the snapshot. */

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
			name = snap_name(d, i - 2);
			st.st_mode = snap_mode(d, i - 2);
			/* snap_add took only names whose path fits */
			(void)place_child_path(d->path, name, path,
			    sizeof(path));
			st.st_ino = node_ino(path);
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

/* The message whose files directory path holds (inbox/ID, or a part
 * of it), held: what readdirplus stats them in; else NULL. */
static struct inbox_msg *
dir_message(const char *path)
{
	struct inbox_msg *m;
	struct loc l;

	if (place_parse(path, &l) != 0 ||
	    (l.kind != K_IENTRY && l.kind != K_INODE) ||
	    inbox_get(l.id, &m) != 0)
		return NULL;
	return m;
}

/* The attributes of entry l of directory dir for readdirplus; those of
 * a message's files from the message, got (*m, held) for the first. */
static int
entry_stat(const char *dir, const struct loc *l, struct inbox_msg **m,
    int *got, struct stat *st, uint64_t *gen)
{
	if (l->kind == K_INODE && !*got) {
		*m = dir_message(dir);
		*got = 1;
	}
	return l->kind == K_INODE && *m ? place_stat_inbox(l, *m, st, gen) :
	    place_stat(l, NULL, st, gen);
}

/*
 * 1 if the kernel has l (a file of an inbox message, whose entry and
 * attributes it keeps for STATIC_TIMEOUT) from a lookup given at `given`
 * (node_ino_given) and still has it for long: readdirplus need not give
 * it again. `rm -r` reads each directory twice (GNU rm looks whether it
 * is empty first); the second time every entry would be found, its
 * attributes set again, and its lookup counted, for nothing.
 */
static int
kernel_has(const struct loc *l, time_t given, time_t now)
{
	return l->kind == K_INODE && given != 0 &&
	    now - given < STATIC_TIMEOUT / 2 &&
	    place_entry_timeout(l) == STATIC_TIMEOUT &&
	    place_attr_timeout(l) == STATIC_TIMEOUT;
}

/*
 * readdirplus: the same entries, and for those of inbox/ (inbox/ID, and
 * the files of inbox/ID/) their attributes too, so that `ls -l`, a glob
 * or `rm -r` need no lookup of each (their attributes come from the map
 * and the index, cheap; those of a message's files from the message,
 * got once for the reply), unless the kernel has them (kernel_has).
 * Other entries go without (ino 0: the kernel looks them up as after
 * readdir). Each entry given with attributes counts as a lookup
 * (node_ref), undone if the reply fails.
 */
void
dir_readplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	char path[PATH_MAX], *buf = calloc(1, size ? size : 1);
	/* an entry with attributes takes more than 128 bytes of the reply */
	uint64_t *refs = malloc((size / 128 + 1) * sizeof(*refs)), gen, num;
	struct fuse_entry_param e;
	size_t used = 0, n, nrefs = 0;
	struct inbox_msg *m = NULL;
	int got = 0;
	const char *name;
	time_t given, now = time(NULL);
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
			name = snap_name(d, i - 2);
			e.attr.st_mode = snap_mode(d, i - 2);
			/* snap_add took only names whose path fits */
			(void)place_child_path(d->path, name, path,
			    sizeof(path));
			e.attr.st_ino = num = node_ino_given(path, &given);
			if (place_parse(path, &l) == 0 &&
			    l.area == AREA_INBOX && l.kind != K_AREA &&
			    !kernel_has(&l, given, now) &&
			    entry_stat(d->path, &l, &m, &got, &e.attr,
			    &gen) == 0) {
				e.ino = e.attr.st_ino = num;
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
	if (m)
		inbox_put(m);
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
