/*
 * place.c - where a FUSE request lands in the tree of interface.md: an
 * inode or a parent and a name turned into a path (fs/node.c) and the
 * path into a place (struct loc: the root, a top-level file, an area, an
 * outbox file, a queue/sent/failed entry or one of its files, an inbox
 * entry or a node of its MIME tree, a draft), and the attributes of each
 * place, with the owners and modes the kernel enforces (access_bits).
 *
 * Nothing about an entry is cached here, so an entry that moved (queue/ID
 * to sent/ID) is simply ENOENT at its old path; the kernel's copy of a
 * queue/ name is dropped when it leaves, and the entry is not shown at
 * its new place before that (fs/session.c). The files of an entry are
 * those of queue_files (queue/queue.h), with their modes.
 *
 * API: tree_int.h (place_*).
 */
#include "fs/tree_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/inbox.h"
#include "fs/mime.h"
#include "fs/node.h"
#include "fs/outbox.h"
#include "fs/drafts.h"
#include "lib/conf.h"
#include "queue/qlog.h"
#include "queue/stats.h"

static struct timespec start_time;
static const struct conf *conf;
/* The daemon's, every place's owner but outbox/ and drafts/ files: asked
 * once (two system calls a stat, a readdirplus entry, otherwise). */
static uid_t own_uid;
static gid_t own_gid;

const char *const place_area_names[] = {
	[AREA_OUTBOX] = "outbox", [AREA_QUEUE] = "queue",
	[AREA_SENT] = "sent", [AREA_FAILED] = "failed", [AREA_INBOX] = "inbox",
	[AREA_DRAFTS] = "drafts",
};
const char *const place_top_files[PLACE_NTOP] = { "ctl", "log", "stats" };

void
place_init(const struct conf *c)
{
	conf = c;
	own_uid = getuid();
	own_gid = getgid();
	clock_gettime(CLOCK_REALTIME, &start_time);
}

/*
 * access_bits - who may do what, shown in the modes the kernel enforces
 * (mailfs mounts with default_permissions). The root admits its owner
 * only, or also the members of `group`, who may read everything and
 * write in outbox/ and drafts/; others get nothing, allow_other or not.
 * Files made in outbox/ and drafts/ keep their makers' owners and modes.
 */
static void
access_bits(const struct loc *l, struct stat *st)
{
	mode_t own = st->st_mode & 0700;
	int writable = l->kind == K_AREA &&
	    (l->area == AREA_OUTBOX || l->area == AREA_DRAFTS);

	if (l->kind == K_ROOT)
		st->st_mode = (st->st_mode & ~07777) | 0700;
	if (!conf || !conf->has_group)
		return;
	if (l->kind == K_OUTFILE || l->kind == K_DFILE)
		return;
	st->st_gid = conf->group;
	st->st_mode = (st->st_mode & ~07777) | own |
	    ((own >> 3) & (writable ? 070 : 050));
}

enum queue_where
place_where(enum area a)
{
	return a == AREA_SENT ? QUEUE_SENT : a == AREA_FAILED ? QUEUE_FAILED :
	    QUEUE_QUEUE;
}

int
place_is_dynamic(const struct loc *l)
{
	return l->kind == K_LOG || l->kind == K_STATS || l->kind == K_CTL ||
	    l->kind == K_OUTFILE || l->kind == K_DFILE ||
	    (l->kind == K_EFILE && l->qf->dynamic);
}

/* The top-level info of an inbox message: it shows the Maildir flags,
 * which change. */
int
place_is_inbox_info(const struct loc *l)
{
	return l->kind == K_INODE && strcmp(l->name, "info") == 0;
}

/*
 * How long the kernel may keep an entry: the fixed ones for long, an
 * inbox message for INBOX_TIMEOUT and its files (whose content never
 * changes while the message exists) for long; a queue/ entry and the
 * names of its files (the same for every entry) until it leaves queue/
 * (fs/session.c has the kernel forget it then). Others not at all: sent/
 * and failed/ entries are also removed from inside requests (expiry),
 * where the kernel cannot be told.
 */
double
place_entry_timeout(const struct loc *l)
{
	return l->kind == K_AREA || l->kind == K_CTL || l->kind == K_LOG ||
	    l->kind == K_STATS || l->kind == K_INODE ? STATIC_TIMEOUT :
	    l->kind == K_IENTRY ? INBOX_TIMEOUT :
	    (l->kind == K_ENTRY || l->kind == K_EFILE) &&
	    l->area == AREA_QUEUE && session_queue_kept() ? QUEUE_TIMEOUT : 0;
}

/* The same for attributes: sizes and times that cannot change. Every
 * path walk checks each directory on the way (default_permissions), a
 * GETATTR each when its attributes are stale: those of the areas but
 * outbox/ and drafts/ never change, nor do those of a queue/, sent/ or
 * failed/ entry's directory while it exists (a moved entry is another
 * path, so another inode; its lookups, not kept, still see it go).
 * Those of a queue/ entry are kept until it leaves (fs/session.c has the
 * kernel forget them then), the others briefly. outbox/'s change only
 * with its time, which the kernel is told of. Those of a queue/ entry's
 * files but log are kept too: they do not change, but the size of
 * status, which the kernel is made to forget at each change (the
 * queue's changed hook, fs/session.c), so a stat or fstat costs no
 * round trip yet shows the size the file has. */
double
place_attr_timeout(const struct loc *l)
{
	return l->kind == K_CTL || l->kind == K_ROOT ||
	    (l->kind == K_AREA && l->area != AREA_OUTBOX &&
	    l->area != AREA_DRAFTS) ? STATIC_TIMEOUT :
	    (l->kind == K_ENTRY || (l->kind == K_EFILE &&
	    strcmp(l->qf->name, "log") != 0)) && l->area == AREA_QUEUE &&
	    session_queue_kept() ? QUEUE_TIMEOUT :
	    l->kind == K_ENTRY ? ENTRY_ATTR_TIMEOUT :
	    l->kind == K_AREA && l->area == AREA_OUTBOX ? OUTBOX_TIMEOUT :
	    l->kind == K_IENTRY ? INBOX_TIMEOUT :
	    l->kind == K_INODE && !place_is_inbox_info(l) ? STATIC_TIMEOUT : 0;
}

int
place_is_ctl(const struct loc *l)
{
	return l->kind == K_CTL ||
	    (l->kind == K_EFILE && l->qf->source == QUEUE_FILE_CTL);
}

int
place_parse(const char *path, struct loc *l)
{
	char *comp[3], *p;
	size_t n = 0, i, len = strlen(path);

	/* Not the whole of l: its two PATH_MAX buffers are filled, not
	 * cleared (every request parses a path). */
	l->path[0] = l->buf[0] = '\0';
	l->kind = K_ROOT;
	l->area = AREA_NONE;
	l->id[0] = '\0';
	l->name = NULL;
	l->qf = NULL;
	if (len >= sizeof(l->path))
		return ENAMETOOLONG;
	memcpy(l->path, path, len + 1);
	memcpy(l->buf, path, len + 1);
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
	for (i = AREA_OUTBOX; i <= AREA_LAST; i++)
		if (strcmp(comp[0], place_area_names[i]) == 0)
			l->area = i;
	if (l->area == AREA_NONE)
		return ENOENT;
	if (n == 1)
		return 0;
	if (l->area == AREA_OUTBOX || l->area == AREA_DRAFTS) {
		if (n > 2)
			return ENOENT;
		l->kind = l->area == AREA_OUTBOX ? K_OUTFILE : K_DFILE;
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
	if (strchr(l->name, '/') || !(l->qf = queue_file_find(l->name)))
		return ENOENT;
	l->kind = K_EFILE;
	return 0;
}

int
place_child_path(const char *parent, const char *name, char *out, size_t len)
{
	int n;

	if (strlen(name) > NAME_MAX)
		return ENAMETOOLONG;
	n = *parent ? snprintf(out, len, "%s/%s", parent, name) :
	    snprintf(out, len, "%s", name);
	return n < 0 || (size_t)n >= len ? ENAMETOOLONG : 0;
}

int
place_of_ino(fuse_ino_t ino, struct loc *l)
{
	char path[PATH_MAX];
	int err;

	if ((err = node_path(ino, path, sizeof(path))))
		return err == ESTALE ? ENOENT : err;
	return place_parse(path, l);
}

int
place_of_child(fuse_ino_t parent, const char *name, struct loc *l)
{
	char ppath[PATH_MAX], path[PATH_MAX];
	int err;

	if ((err = node_path(parent, ppath, sizeof(ppath))))
		return err == ESTALE ? ENOENT : err;
	if ((err = place_child_path(ppath, name, path, sizeof(path))))
		return err;
	return place_parse(path, l);
}
int
place_render_stats(char **buf, size_t *len)
{
	struct queue_gauges g;
	unsigned long long avail = 0, keep;
	size_t cap = 640, off;
	int i, pct = 0;

	if (!(*buf = malloc(cap)))
		return ENOMEM;
	queue_gauges(&g);
	queue_space(&avail, &pct, &keep);
	off = snprintf(*buf, cap, "queue %ld\ndeferred %ld\nsending %ld\n"
	    "inbox %ld\nspool_free %llu\nspool_free_pct %d\n", g.queue,
	    g.deferred, g.sending, inbox_count(), avail, pct);
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
		if ((err = place_render_stats(&buf, len)))
			return err;
		free(buf);
		return 0;
	case K_EFILE:
		return queue_file_size(place_where(l->area), l->id, l->name, len);
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

/* Entry l->id in its area, and its time; one that left queue/ is not in
 * sent/ or failed/ until the kernel has forgotten its old name. */
static int
entry_lookup(const struct loc *l, time_t *t)
{
	if (l->area != AREA_QUEUE && session_queue_in_transit(l->id))
		return ENOENT;
	return queue_lookup(place_where(l->area), l->id, t);
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

/* What every place starts from; ENOENT if rm -r has hidden it. */
static int
stat_init(const struct loc *l, struct stat *st, uint64_t *gen)
{
	memset(st, 0, sizeof(*st));
	st->st_uid = own_uid;
	st->st_gid = own_gid;
	st->st_blksize = BLOCK_SIZE;
	*gen = 0;
	return remove_is_hidden(l->path) ? ENOENT : 0;
}

/* A node of inbox message m (l: K_INODE). */
static int
stat_inode(const struct loc *l, struct inbox_msg *m, struct stat *st,
    uint64_t *gen)
{
	const struct mime_node *n = inbox_find(m, l->name);

	if (!n)
		return ENOENT;
	if (n->is_dir)
		fill_dir(st, inbox_mtime(m), 1);
	else
		fill_file(st, 0444, n->len, inbox_mtime(m));
	*gen = inbox_generation(m);
	return 0;
}

/* See tree_int.h. */
int
place_stat_inbox(const struct loc *l, struct inbox_msg *m, struct stat *st,
    uint64_t *gen)
{
	int err;

	if ((err = stat_init(l, st, gen)) || (err = stat_inode(l, m, st, gen)))
		return err;
	access_bits(l, st);
	return 0;
}

/* See tree_int.h. */
int
place_stat(const struct loc *l, const struct handle *h, struct stat *st,
    uint64_t *gen)
{
	struct outbox_attr oa;
	struct inbox_msg *m;
	struct stat ls;
	size_t size = 0;
	time_t t;
	int err;

	if ((err = stat_init(l, st, gen)))
		return err;
	switch (l->kind) {
	case K_ROOT:
		fill_dir(st, start_time.tv_sec, 8);
		fill_time(st, start_time);
		break;
	case K_AREA:
		/* Under a root only its owner (and group) may enter:
		 * access_bits. */
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
		if ((err = entry_lookup(l, &t)))
			return err;
		fill_dir(st, t, 2);
		break;
	case K_EFILE:
		if ((err = entry_lookup(l, &t)))
			return err;
		if (h && h->fd >= 0 && fstat(h->fd, &ls) == 0)
			size = ls.st_size;
		else if (h)
			size = h->len;
		else if ((err = file_size(l, &size)))
			return err;
		fill_file(st, l->qf->mode, size, t);
		break;
	case K_IENTRY:
		if ((err = inbox_stat(l->id, &t, gen)))
			return err;
		fill_dir(st, t, 1);
		break;
	case K_INODE:
		if ((err = inbox_get(l->id, &m)))
			return err;
		err = stat_inode(l, m, st, gen);
		inbox_put(m);
		if (err)
			return err;
		break;
	case K_DFILE:
		if ((err = drafts_stat(l->name, st)))
			return err;
		break;
	}
	access_bits(l, st);
	return 0;
}

int
place_lookup(fuse_ino_t parent, const char *name, struct loc *l,
    struct stat *st, uint64_t *gen)
{
	int err;

	if ((err = place_of_child(parent, name, l)))
		return err;
	return place_stat(l, NULL, st, gen);
}

int
place_get(fuse_ino_t ino, const struct handle *h, struct loc *l,
    struct stat *st, uint64_t *gen)
{
	int err;

	if ((err = place_of_ino(ino, l)))
		return err;
	return place_stat(l, h, st, gen);
}
