/*
 * status.c - queue/ID/status read through the kernel's page cache: at
 * its open the status is rendered into the handle (as every generated
 * file), and, when no other handle of that inode reads through the page
 * cache, its bytes are given to the kernel there and then
 * (session_store) and the file is opened keep_cache: `cat` needs no READ
 * (three requests a file after `ls queue`, two on a repeat, not six and
 * five). Any other open of the inode meanwhile gets direct_io and reads
 * its own render, as before.
 *
 * What keeps it right, when the status changes while it is cached:
 *
 * - A new open always shows the status as of its open: each cached open
 *   stores its own render over what the page cache held, and no other
 *   open uses those pages.
 * - The size (the kernel's i_size, which the cached reader's reads stop
 *   at) is the render's: the kernel's attributes of the inode are either
 *   valid and the current size, or stale (fs/session.c drops them at
 *   each change, before any ctl write after it returns), and a read past
 *   the end with stale attributes asks GETATTR, which names the handle
 *   and is answered with its render's size. The store grows the size and
 *   drops it; a status that shrank is cut at the GETATTR (the kernel then
 *   drops the pages and READs the rest from the handle). If a status
 *   (this one, or any) changed between the render and the store, or the
 *   kernel is not yet told of an earlier change of this one, the
 *   attributes are dropped after the store (status_open), so the first
 *   read asks.
 * - A reader holding the file across a change reads its own version
 *   whole: while a cached handle is open, a reply that would give the
 *   kernel another size (a stat, a lookup, after the change) is made
 *   stale first (status_attr: the kernel ignores the attributes of a
 *   reply to a request sent before it dropped them), so the kernel's
 *   size stays the reader's while stat(2) still shows the reply's, the
 *   current size; and the reader's own GETATTR keeps no time when its
 *   size is no longer the current one.
 *
 * Only queue/ (sent/ and failed/ status files stay direct_io), and only
 * while the kernel keeps queue/ names (session_queue_kept: a notifier
 * tells it of changes). mmap(2) of a status still goes through the page
 * cache whatever the open (as before: the kernel's rule for direct_io).
 *
 * API: tree_int.h (status_*).
 */
#include "fs/tree_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The handle reading inode ino through the page cache: one at most. */
struct cached {
	fuse_ino_t ino;
	const struct handle *h;
	struct cached *next;
};

#define NBUCKET	64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct cached *bucket[NBUCKET];

/* Caller holds mu. */
static struct cached **
find(fuse_ino_t ino)
{
	struct cached **p = &bucket[ino % NBUCKET];

	while (*p != NULL && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

/* Caller holds mu: drop ino's entry, if any. */
static void
drop(fuse_ino_t ino)
{
	struct cached **p = find(ino), *c = *p;

	if (c != NULL) {
		*p = c->next;
		free(c);
	}
}

static int
is_queue_status(const struct loc *l)
{
	return l->kind == K_EFILE && l->area == AREA_QUEUE &&
	    strcmp(l->qf->name, "status") == 0;
}

int
status_open(fuse_ino_t ino, const struct loc *l, struct handle *h,
    unsigned long seen)
{
	struct cached **p, *c = NULL;

	if (!is_queue_status(l) || h->buf == NULL || !session_queue_kept())
		return 0;
	pthread_mutex_lock(&mu);
	/* Another reads through the page cache: this one reads its own
	 * render (direct_io reads are not cut at the kernel's size). */
	if (*(p = find(ino)) == NULL && (c = malloc(sizeof(*c))) != NULL) {
		c->ino = ino;
		c->h = h;
		c->next = NULL;
		*p = c;
		h->status_ino = ino;
	}
	pthread_mutex_unlock(&mu);
	if (c == NULL)
		return 0;
	if (session_store(ino, h->buf, h->len) != 0) {
		status_release(h);
		return 0;
	}
	/* A status changed since the render (this one, maybe), or a change
	 * the kernel has not been told of: the size it has may be another's;
	 * the first read asks. */
	if (session_status_changes() != seen || !session_status_told(l->id))
		session_forget_attrs(ino);
	return 1;
}

void
status_release(struct handle *h)
{
	if (h->status_ino == 0)
		return;
	pthread_mutex_lock(&mu);
	drop(h->status_ino);
	pthread_mutex_unlock(&mu);
	h->status_ino = 0;
}

double
status_attr(fuse_ino_t ino, const struct loc *l, const struct handle *h,
    struct stat *st, int forced)
{
	struct cached *c;
	off_t cached = -1;
	size_t now;

	if (!is_queue_status(l))
		return place_attr_timeout(l);
	pthread_mutex_lock(&mu);
	if ((c = *find(ino)) != NULL)
		cached = (off_t)c->h->len;
	pthread_mutex_unlock(&mu);
	if (cached >= 0 && st->st_size != cached) {
		/* A SETATTR's reply sets the size whatever: the reader's
		 * (the caller sees no attributes). Others: made stale. */
		if (forced)
			st->st_size = cached;
		else
			session_forget_attrs(ino);
		return 0;
	}
	/* A handle's size (GETATTR of an open file) kept only while it is
	 * the current one. */
	if (h != NULL && (queue_file_size(QUEUE_QUEUE, l->id, "status",
	    &now) != 0 || (off_t)now != st->st_size))
		return 0;
	return place_attr_timeout(l);
}
