/*
 * inbox.c - inbox/ID/ trees (see inbox.h).
 *
 * A message's tree comes from the index when its row matches the file
 * (size, mtime, inode: inbox_index_get); otherwise the message is
 * rendered (fs/mime.h), its row stored, and the tree read back from the
 * row, so both ways give the same tree. Opening a file serves it from
 * the tree (small files), the message file itself (raw slices: pread,
 * checked with fstat to be the file the row was made from), the index
 * (larger decoded files) or, for the largest, a render kept with the
 * entry.
 *
 * The cache is a short most-recently-used list of such entries, bounded
 * in entries and bytes, reference counted so a reader holding one may keep
 * using it after it was pushed out. An entry is only used while the
 * message is still at the path and key it was made from (a flag change
 * renames the file, and changes info).
 *
 * The indexing thread (indexer) wakes when the Maildir or the index
 * changed (their generations) and renders what has no row (up to
 * BACKGROUND_MAX bytes), in transactions of BATCH messages, so a kill -9
 * loses at most one batch; it forgets the rows of messages that are gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/inbox.h"
#include "fs/inbox_index.h"
#include "fs/inbox_map.h"
#include "fs/mime.h"
#include "lib/log.h"
#include "lib/strv.h"
#include "queue/maildir.h"

#define CACHE_ENTRIES	64
#define CACHE_BYTES	(64 * 1024 * 1024)
#define BATCH		64
#define BATCH_BYTES	(4 * 1024 * 1024)
/* Larger messages are indexed when first read, not in the background: a
 * render costs about three times the message, and a burst of big mail
 * must not raise the daemon's memory while nobody reads it. */
#define BACKGROUND_MAX	(1024 * 1024)

struct inbox_msg {
	char id[MAILDIR_ID_MAX];
	char path[PATH_MAX];
	struct inbox_key key;
	struct mime_node *tree;	/* from the index; info with the flags */
	struct mime_node *full;	/* the render, once a file needed it */
	size_t bytes;
	int refs;		/* holders, plus one while cached */
	struct inbox_msg *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct inbox_msg *cache;

static void
msg_free(struct inbox_msg *m)
{
	mime_free(m->tree);
	mime_free(m->full);
	free(m);
}

static void
unref(struct inbox_msg *m)
{
	if (--m->refs == 0)
		msg_free(m);
}

/* Take id's entry out of the cache. Called with the lock. */
static void
uncache(const char *id)
{
	struct inbox_msg **pp, *m;

	for (pp = &cache; (m = *pp); pp = &m->next)
		if (strcmp(m->id, id) == 0) {
			*pp = m->next;
			unref(m);
			return;
		}
}

/* Keep the newest entries within the bounds. Called with the lock. */
static void
trim(void)
{
	struct inbox_msg **pp, *m;
	size_t n = 0, bytes = 0;

	for (pp = &cache; (m = *pp);) {
		n++;
		bytes += m->bytes;
		if (n > 1 && (n > CACHE_ENTRIES || bytes > CACHE_BYTES)) {
			*pp = m->next;
			unref(m);
		} else
			pp = &m->next;
	}
}

static void
key_of(const struct stat *st, struct inbox_key *k)
{
	k->size = st->st_size;
	k->mtime_ns = st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	k->ino = (long long)st->st_ino;
}

static int
key_eq(const struct inbox_key *a, const struct inbox_key *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns &&
	    a->ino == b->ino;
}

/* The whole file at path, and its key. */
static int
read_file(const char *path, char **buf, size_t *len, struct inbox_key *key)
{
	struct stat st;
	size_t off = 0;
	ssize_t r;
	int fd, err = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? ENOENT : EIO;
	if (fstat(fd, &st) == -1 || !(*buf = malloc(st.st_size + 1))) {
		close(fd);
		return ENOMEM;
	}
	while (off < (size_t)st.st_size &&
	    (r = read(fd, *buf + off, st.st_size - off)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			err = EIO;
			break;
		}
		off += r;
	}
	close(fd);
	if (err) {
		free(*buf);
		return err;
	}
	*len = off;
	key_of(&st, key);
	return 0;
}

/* Render the message id at path, with raw and envelope, and its key. */
static int
render(const char *id, const char *path, struct mime_node **root,
    struct inbox_key *key)
{
	char *data, *env;
	size_t len, envlen;
	int err;

	if ((err = read_file(path, &data, &len, key)))
		return err;
	*root = mime_render_flags(data, len, NULL);
	free(data);
	if (!*root) {
		log_warn("inbox %s: rendering", id);
		return EIO;
	}
	err = mime_add_raw(*root) == -1 ? errno : 0;
	if (!err && maildir_envelope_at(id, path, &env, &envlen) == 0) {
		err = mime_add_file(*root, "envelope", env, envlen) == -1 ?
		    errno : 0;
		free(env);
	}
	if (err) {
		mime_free(*root);
		*root = NULL;
	}
	return err;
}

/* Render id and store its row; *tree (if asked) read back from the row. */
static int
index_one(const char *id, const char *path, struct mime_node **full,
    struct mime_node **tree, struct inbox_key *key)
{
	struct inbox_row row = { .id = id };
	struct mime_node *root;
	int err;

	if ((err = render(id, path, &root, &row.key)))
		return err;
	if (inbox_index_encode(root, &row) == -1) {
		mime_free(root);
		return ENOMEM;
	}
	inbox_index_put(&row, 1);
	if (tree && !(*tree = inbox_index_decode(row.meta, row.metalen)))
		err = ENOMEM;
	inbox_row_free(&row);
	if (err || !full)
		mime_free(root);
	else
		*full = root;
	*key = row.key;
	return err;
}

/* The flags of the file at path ("RS"), or NULL. */
static const char *
flags_of(const char *path)
{
	const char *f = strstr(strrchr(path, '/'), ":2,");

	return f ? f + 3 : NULL;
}

/* info, from the index without flags, with those of m->path. */
static int
set_flags(struct inbox_msg *m)
{
	struct mime_node *n = (struct mime_node *)mime_find(m->tree, "info");
	char *s;
	size_t len;

	if (!n || n->is_dir || n->where != MIME_HERE)
		return 0;
	if (mime_info_flags(n->data, n->len, flags_of(m->path), &s, &len))
		return ENOMEM;
	free(n->data);
	n->data = s;
	n->len = len;
	return 0;
}

/* A new entry for id at path (one reference, for the caller). */
static int
load(const char *id, const char *path, const struct inbox_key *key,
    struct inbox_msg **mp)
{
	struct inbox_msg *m;
	int err = 0;

	if (!(m = calloc(1, sizeof(*m))))
		return ENOMEM;
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->path, sizeof(m->path), "%s", path);
	m->key = *key;
	if (inbox_index_get(id, key, &m->tree) != 0)
		err = index_one(id, path, &m->full, &m->tree, &m->key);
	if (!err)
		err = set_flags(m);
	if (err) {
		msg_free(m);
		return err;
	}
	m->bytes = 4096 + (m->full ? 2 * m->full->len : 0);
	m->refs = 1;
	*mp = m;
	return 0;
}

int
inbox_get(const char *id, struct inbox_msg **mp)
{
	struct inbox_msg **pp, *m;
	struct inbox_key key;
	char path[PATH_MAX];
	int err;

	if (inbox_map_find(id, 0, path, &key) != 0) {
		pthread_mutex_lock(&lock);
		uncache(id);
		pthread_mutex_unlock(&lock);
		return ENOENT;
	}
	pthread_mutex_lock(&lock);
	for (pp = &cache; (m = *pp); pp = &m->next)
		if (strcmp(m->id, id) == 0 && strcmp(m->path, path) == 0 &&
		    key_eq(&m->key, &key)) {
			*pp = m->next;	/* to the front */
			m->next = cache;
			cache = m;
			m->refs++;
			*mp = m;
			pthread_mutex_unlock(&lock);
			return 0;
		}
	pthread_mutex_unlock(&lock);

	/* Load without the lock: a big message must not stall the rest. */
	if ((err = load(id, path, &key, &m)))
		return err;
	pthread_mutex_lock(&lock);
	uncache(id);
	m->refs++;
	m->next = cache;
	cache = m;
	trim();
	pthread_mutex_unlock(&lock);
	*mp = m;
	return 0;
}

void
inbox_put(struct inbox_msg *m)
{
	pthread_mutex_lock(&lock);
	unref(m);
	pthread_mutex_unlock(&lock);
}

const struct mime_node *
inbox_find(struct inbox_msg *m, const char *rel)
{
	return mime_find(m->tree, rel);
}

time_t
inbox_mtime(const struct inbox_msg *m)
{
	return (time_t)(m->key.mtime_ns / 1000000000LL);
}

/* The inode generation of a message's entries: from its key. */
static uint64_t
generation(const struct inbox_key *k)
{
	uint64_t h = 14695981039346656037ULL;
	long long v[3] = { k->size, k->mtime_ns, k->ino };

	for (int i = 0; i < 3; i++)
		h = (h ^ (uint64_t)v[i]) * 1099511628211ULL;
	return h | 1;
}

uint64_t
inbox_generation(const struct inbox_msg *m)
{
	return generation(&m->key);
}

int
inbox_stat(const char *id, time_t *mtime, uint64_t *gen)
{
	struct inbox_key key;
	char path[PATH_MAX];

	if (inbox_map_find(id, 1, path, &key) != 0)
		return ENOENT;
	*mtime = (time_t)(key.mtime_ns / 1000000000LL);
	*gen = generation(&key);
	return 0;
}

int
inbox_list(char ***ids, size_t *n)
{
	return inbox_map_ids(ids, n);
}

/* m's render, made now if there is none: 0, ESTALE (the file is not the
 * one m was made from) or an errno. */
static int
full_of(struct inbox_msg *m)
{
	struct mime_node *root;
	struct inbox_key key;
	int err;

	pthread_mutex_lock(&lock);
	root = m->full;
	pthread_mutex_unlock(&lock);
	if (root)
		return 0;
	if ((err = render(m->id, m->path, &root, &key)))
		return err;
	if (!key_eq(&key, &m->key)) {
		mime_free(root);
		return ESTALE;
	}
	pthread_mutex_lock(&lock);
	if (!m->full) {
		m->full = root;
		m->bytes += 2 * root->len;
		root = NULL;
		trim();
	}
	pthread_mutex_unlock(&lock);
	mime_free(root);
	return 0;
}

/* The bytes of n (at rel in m) into v: 0, ESTALE or an errno. */
static int
view_of(struct inbox_msg *m, const struct mime_node *n, const char *rel,
    struct inbox_view *v)
{
	const struct mime_node *f;
	struct inbox_key key = { -1, -1, -1 };
	struct stat st;
	int err;

	v->len = n->len;
	if (n->where == MIME_HERE) {
		v->data = n->data;
		return 0;
	}
	if (n->where == MIME_IN_MESSAGE) {
		if ((v->fd = open(m->path, O_RDONLY | O_CLOEXEC)) == -1)
			return errno == ENOENT ? ESTALE : EIO;
		if (fstat(v->fd, &st) == 0)
			key_of(&st, &key);
		if (!key_eq(&key, &m->key) ||
		    n->off + n->len > (unsigned long long)key.size) {
			close(v->fd);
			v->fd = -1;
			return ESTALE;
		}
		v->base = (off_t)n->off;
		return 0;
	}
	if (n->where == MIME_IN_INDEX &&
	    inbox_index_big(m->id, &m->key, n, &v->buf) == 0)
		return 0;
	/* the largest files, or an index that lost the bytes: render */
	if ((err = full_of(m)))
		return err;
	if (!(f = mime_find(m->full, rel)) || f->is_dir || f->len != n->len)
		return ESTALE;
	v->data = f->data;
	return 0;
}

int
inbox_open(const char *id, const char *rel, struct inbox_msg **mp,
    struct inbox_view *v)
{
	const struct mime_node *n;
	struct inbox_key key;
	char path[PATH_MAX];
	int err = 0, tries;

	for (tries = 0; tries < 2; tries++) {
		memset(v, 0, sizeof(*v));
		v->fd = -1;
		if ((err = inbox_get(id, mp)))
			return err;
		if (!(n = inbox_find(*mp, rel)))
			err = ENOENT;
		else if (n->is_dir)
			err = EISDIR;
		else
			err = view_of(*mp, n, rel, v);
		if (err == 0)
			return 0;
		inbox_put(*mp);
		if (err != ESTALE)
			return err;
		/* the file changed under the row, or the row under the
		 * renderer: stat it again, and render it again */
		pthread_mutex_lock(&lock);
		uncache(id);
		pthread_mutex_unlock(&lock);
		if (inbox_map_find(id, 1, path, &key) == 0)
			index_one(id, path, NULL, NULL, &key);
	}
	return EIO;
}

int
inbox_delete(const char *id)
{
	struct inbox_key key;
	char path[PATH_MAX];
	int err;

	pthread_mutex_lock(&lock);
	uncache(id);
	pthread_mutex_unlock(&lock);
	if ((err = inbox_map_find(id, 0, path, &key)))
		return err;
	/* its row goes with the indexer's next pass, with the others gone
	 * then, in one transaction: unused meanwhile (no file, no match) */
	return maildir_remove(id, path);
}

/* --- the indexing thread --- */

/*
 * mu guards stop and woken, and is never held while calling out: the map
 * wakes the thread (woken) from under its own lock, in requests. gone_mu
 * guards gone and is held while it runs, which may wait for the kernel,
 * which may wait for a request: no request takes gone_mu.
 */
static struct {
	pthread_mutex_t mu, gone_mu;
	pthread_cond_t cv;
	pthread_t thread;
	int running, stop, woken;
	void (*gone)(const char *id);
} ixr = { .mu = PTHREAD_MUTEX_INITIALIZER,
	.gone_mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* The map saw an ID go or change: tell the kernel soon. */
static void
wake(void)
{
	pthread_mutex_lock(&ixr.mu);
	ixr.woken = 1;
	pthread_cond_signal(&ixr.cv);
	pthread_mutex_unlock(&ixr.mu);
}

static int
stopping(void)
{
	int s;

	pthread_mutex_lock(&ixr.mu);
	s = ixr.stop;
	pthread_mutex_unlock(&ixr.mu);
	return s;
}

/* Rows for the messages of ids (n) that have none. */
static void
index_missing(char **ids, size_t n)
{
	struct inbox_row rows[BATCH];
	struct mime_node *root;
	char path[PATH_MAX];
	size_t i, k = 0, bytes = 0;

	for (i = 0; i <= n && !stopping(); i++) {
		if (i < n && inbox_map_find(ids[i], 0, path, &rows[k].key) == 0 &&
		    rows[k].key.size <= BACKGROUND_MAX &&
		    render(ids[i], path, &root, &rows[k].key) == 0) {
			rows[k].id = ids[i];
			if (inbox_index_encode(root, &rows[k]) == 0) {
				bytes += rows[k].metalen + rows[k].biglen;
				k++;
			}
			mime_free(root);
		}
		/* a batch is bounded in bytes too: at most BATCH_BYTES
		 * and one more message held */
		if (k == BATCH || bytes > BATCH_BYTES || (i == n && k > 0)) {
			inbox_index_put(rows, k);
			while (k > 0)
				inbox_row_free(&rows[--k]);
			bytes = 0;
		}
	}
	while (k > 0)
		inbox_row_free(&rows[--k]);
}

/* One pass: index what has no row, forget rows of messages gone. */
static void
index_pass(void)
{
	char **have = NULL, **ids = NULL, **todo = NULL, **gone = NULL;
	size_t nh = 0, ni = 0, nt = 0, ng = 0, i = 0, k = 0;
	int c;

	/* the index first: a row made meanwhile is then not taken for gone */
	if (inbox_index_ids(&have, &nh) || inbox_map_ids(&ids, &ni))
		goto out;
	if (!(todo = malloc((ni + 1) * sizeof(*todo))) ||
	    !(gone = malloc((nh + 1) * sizeof(*gone))))
		goto out;
	while (i < ni || k < nh) {
		c = i == ni ? 1 : k == nh ? -1 : strcmp(ids[i], have[k]);
		if (c < 0)
			todo[nt++] = ids[i++];
		else if (c > 0)
			gone[ng++] = have[k++];
		else
			i++, k++;
	}
	if (ng > 0)
		inbox_index_delete(gone, ng);
	index_missing(todo, nt);
out:
	free(todo);
	free(gone);
	strv_free(have, nh);
	strv_free(ids, ni);
}

void
inbox_on_gone(void (*fn)(const char *id))
{
	pthread_mutex_lock(&ixr.gone_mu);
	ixr.gone = fn;
	pthread_mutex_unlock(&ixr.gone_mu);
}

/* Tell the gone callback what went away. */
static void
tell_gone(void)
{
	void (*fn)(const char *);
	char **ids;
	size_t n, i;

	if (inbox_map_gone(&ids, &n) != 0)
		return;
	/* held across the calls: inbox_on_gone(NULL) waits for them */
	pthread_mutex_lock(&ixr.gone_mu);
	fn = ixr.gone;
	for (i = 0; fn && i < n; i++)
		fn(ids[i]);
	pthread_mutex_unlock(&ixr.gone_mu);
	strv_free(ids, n);
}

/*
 * Woken by the map (or each second): tells the kernel what went; a pass
 * when the Maildir or the index changed, at most one a second (rm -r of
 * many entries wakes it for each).
 */
static void *
indexer(void *arg)
{
	unsigned long gen = 0, g;
	unsigned igen = 0, ig;
	time_t last = 0, now;
	struct timespec t;

	(void)arg;
	pthread_mutex_lock(&ixr.mu);
	while (!ixr.stop) {
		ixr.woken = 0;
		pthread_mutex_unlock(&ixr.mu);
		tell_gone();
		g = inbox_map_generation();
		ig = inbox_index_generation();
		now = time(NULL);
		if ((!last || g != gen || ig != igen) && now != last) {
			last = now;
			gen = g;
			igen = ig;
			index_pass();
		}
		pthread_mutex_lock(&ixr.mu);
		if (ixr.stop || ixr.woken)
			continue;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 1;
		pthread_cond_timedwait(&ixr.cv, &ixr.mu, &t);
	}
	pthread_mutex_unlock(&ixr.mu);
	return NULL;
}

void
inbox_start(const char *spool)
{
	char path[PATH_MAX];

	if (inbox_map_open(wake) == -1) {
		log_warn("inbox: reading the Maildir");
		return;
	}
	snprintf(path, sizeof(path), "%s/inbox.index", spool);
	inbox_index_open(path);
	ixr.stop = 0;
	if (pthread_create(&ixr.thread, NULL, indexer, NULL) == 0)
		ixr.running = 1;
	else
		log_warn("inbox: indexing thread");
}

void
inbox_stop(void)
{
	pthread_mutex_lock(&ixr.mu);
	ixr.stop = 1;
	pthread_cond_signal(&ixr.cv);
	pthread_mutex_unlock(&ixr.mu);
	if (ixr.running)
		pthread_join(ixr.thread, NULL);
	ixr.running = 0;
	pthread_mutex_lock(&lock);
	while (cache)
		uncache(cache->id);
	pthread_mutex_unlock(&lock);
	inbox_index_close();
	inbox_map_close();
}
