/*
 * inbox_map.c - ID -> message file (see inbox_map.h).
 *
 * A sorted array of entries (ID, file name, new/ or cur/, and the key of
 * the last stat). inotify reports every name made, moved or removed in
 * new/ and cur/ within the system call that did it, so draining the
 * events before each answer leaves nothing stale; a lost event (the
 * queue overflowed) or a directory replaced makes a full read of both.
 * Without inotify (no instance left), the directories' mtimes are
 * compared instead and a change makes a full read.
 *
 * A key is dropped when its file is written or its attributes change
 * (IN_MODIFY, IN_CLOSE_WRITE, IN_ATTRIB), so the next find stats it
 * again; while inotify runs, a key that was not dropped is the file's
 * now, and a find needs no stat (without inotify a fresh find stats).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/inbox_map.h"
#include "lib/log.h"
#include "lib/strv.h"
#include "queue/maildir.h"

#define WATCH	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
	IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | \
	IN_MOVE_SELF | IN_ONLYDIR)

static const char *const subs[2] = { "new", "cur" };

struct ent {
	char *id;
	char *name;
	int sub;		/* index in subs */
	int has_key;
	struct inbox_key key;
	unsigned long ver;	/* bumped by each write seen: a stat made
				 * across one is not kept */
};

static struct {
	pthread_mutex_t mu;
	struct ent **v;
	size_t n, cap;
	char dir[2][PATH_MAX];
	struct timespec mtime[2];	/* without inotify */
	int open, ifd, wd[2];
	unsigned long gen;
	char **gone;		/* IDs dropped, maybe back since */
	size_t ngone;
	char **changed;		/* IDs whose file was written to */
	size_t nchanged;
	void (*noted)(void);
} map = { .mu = PTHREAD_MUTEX_INITIALIZER, .ifd = -1, .wd = { -1, -1 } };

static void
ent_free(struct ent *e)
{
	if (e) {
		free(e->id);
		free(e->name);
		free(e);
	}
}

/* The slot of id: where it is (*found) or would go. */
static size_t
slot(const char *id, size_t idlen, int *found)
{
	size_t lo = 0, hi = map.n, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strncmp(map.v[mid]->id, id, idlen);
		if (c == 0 && map.v[mid]->id[idlen] != '\0')
			c = 1;
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static struct ent *
ent_new(const char *name, size_t idlen, int sub)
{
	struct ent *e = calloc(1, sizeof(*e));

	if (e && (!(e->id = strndup(name, idlen)) || !(e->name = strdup(name)))) {
		ent_free(e);
		return NULL;
	}
	if (e)
		e->sub = sub;
	return e;
}

/* name appeared in sub: it is where its ID is now */
static void
put(const char *name, int sub)
{
	size_t idlen = maildir_id_len(name), i;
	struct ent *e, **v;
	int found;

	if (idlen == 0)
		return;
	i = slot(name, idlen, &found);
	if (found) {
		e = map.v[i];
		if (strcmp(e->name, name) != 0) {
			char *nn = strdup(name);

			if (!nn)
				return;
			free(e->name);
			e->name = nn;
		}
		e->sub = sub;
		e->has_key = 0;
		e->ver++;
		return;
	}
	if (map.n == map.cap) {
		size_t cap = map.cap ? 2 * map.cap : 256;

		if (!(v = realloc(map.v, cap * sizeof(*v))))
			return;
		map.v = v;
		map.cap = cap;
	}
	if (!(e = ent_new(name, idlen, sub)))
		return;
	memmove(map.v + i + 1, map.v + i, (map.n - i) * sizeof(*map.v));
	map.v[i] = e;
	map.n++;
}

/* id (taken over) on list v (n): for inbox_map_gone */
static void
note(char ***v, size_t *n, char *id)
{
	char **nv;

	if (!id || *n > 100000 || !(nv = realloc(*v, (*n + 1) * sizeof(*nv)))) {
		free(id);
		return;
	}
	*v = nv;
	(*v)[(*n)++] = id;
	if (map.noted)
		map.noted();
}

/* id may be gone: noted for inbox_map_gone (which checks it still is) */
static void
note_gone(char *id)
{
	note(&map.gone, &map.ngone, id);
}

/* name left sub */
static void
drop(const char *name, int sub)
{
	size_t idlen = maildir_id_len(name), i;
	int found;

	if (idlen == 0)
		return;
	i = slot(name, idlen, &found);
	if (!found || map.v[i]->sub != sub || strcmp(map.v[i]->name, name))
		return;
	note_gone(map.v[i]->id);
	map.v[i]->id = NULL;
	ent_free(map.v[i]);
	map.n--;
	memmove(map.v + i, map.v + i + 1, (map.n - i) * sizeof(*map.v));
}

/* name in sub was written to or touched: stat it again. Noted for the
 * kernel, once for a run of events on it (a rewrite is many IN_MODIFY). */
static void
touched(const char *name)
{
	size_t idlen = maildir_id_len(name), i;
	int found;

	if (idlen && (i = slot(name, idlen, &found), found)) {
		map.v[i]->has_key = 0;
		map.v[i]->ver++;
		if (map.nchanged == 0 ||
		    strcmp(map.changed[map.nchanged - 1], map.v[i]->id) != 0)
			note(&map.changed, &map.nchanged,
			    strdup(map.v[i]->id));
	}
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = *(struct ent *const *)a;
	const struct ent *y = *(struct ent *const *)b;
	int c = strcmp(x->id, y->id);

	return c ? c : x->sub - y->sub;
}

/* Read both directories into a new array; keys of unchanged files stay. */
static int
rescan(void)
{
	struct ent **v = NULL, *e, *old;
	char **names[2] = { NULL, NULL }, dir[PATH_MAX];
	size_t cnt[2] = { 0, 0 }, n = 0, i, k, len;
	struct stat st;
	int err = 0, found;

	for (k = 0; k < 2 && !err; k++) {
		if (stat(map.dir[k], &st) == 0)
			map.mtime[k] = st.st_mtim;
		err = maildir_names(subs[k], dir, &names[k], &cnt[k]);
	}
	if (!err && !(v = malloc((cnt[0] + cnt[1] + 1) * sizeof(*v))))
		err = ENOMEM;
	for (k = 0; k < 2 && !err; k++)
		for (i = 0; i < cnt[k] && !err; i++) {
			len = maildir_id_len(names[k][i]);
			if (len == 0)
				continue;
			if (!(e = ent_new(names[k][i], len, (int)k))) {
				err = ENOMEM;
				break;
			}
			old = map.n ? map.v[slot(e->id, len, &found)] : NULL;
			if (map.n && found && old->sub == e->sub &&
			    strcmp(old->name, e->name) == 0) {
				e->has_key = old->has_key;
				e->key = old->key;
			}
			v[n++] = e;
		}
	for (k = 0; k < 2; k++)
		strv_free(names[k], cnt[k]);
	if (err) {
		while (n > 0)
			ent_free(v[--n]);
		free(v);
		return err;
	}
	qsort(v, n, sizeof(*v), ent_cmp);
	/* one ID in both new/ and cur/: the first, as maildir_path finds */
	for (i = k = 0; i < n; i++) {
		if (k > 0 && strcmp(v[k - 1]->id, v[i]->id) == 0)
			ent_free(v[i]);
		else
			v[k++] = v[i];
	}
	for (i = 0; i < map.n; i++) {
		note_gone(map.v[i]->id);	/* inbox_map_gone sorts it out */
		map.v[i]->id = NULL;
		ent_free(map.v[i]);
	}
	free(map.v);
	map.v = v;
	map.n = k;
	map.cap = n + 1;
	map.gen++;
	return 0;
}

static int
watch(void)
{
	for (int k = 0; k < 2; k++) {
		if (map.wd[k] >= 0)
			inotify_rm_watch(map.ifd, map.wd[k]);
		if ((map.wd[k] = inotify_add_watch(map.ifd, map.dir[k],
		    WATCH)) == -1)
			return -1;
	}
	return 0;
}

static void
no_inotify(void)
{
	log_warn("inbox: inotify; comparing the Maildir's mtimes instead");
	close(map.ifd);
	map.ifd = -1;
}

/* Apply what happened in new/ and cur/ since the last call. Locked. */
static void
drain(void)
{
	char buf[16384] __attribute__((aligned(8)));
	const struct inotify_event *ev;
	struct stat st;
	ssize_t r;
	int full = 0, k, sub;

	if (map.ifd < 0) {
		for (k = 0; k < 2; k++)
			if (stat(map.dir[k], &st) == 0 &&
			    (st.st_mtim.tv_sec != map.mtime[k].tv_sec ||
			    st.st_mtim.tv_nsec != map.mtime[k].tv_nsec))
				full = 1;
		if (full)
			rescan();
		return;
	}
	while ((r = read(map.ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + r;
		    p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED |
			    IN_DELETE_SELF | IN_MOVE_SELF)) {
				full = 2;
				continue;
			}
			sub = ev->wd == map.wd[0] ? 0 : ev->wd == map.wd[1] ?
			    1 : -1;
			if (sub < 0 || ev->len == 0 || (ev->mask & IN_ISDIR))
				continue;
			map.gen++;
			if (ev->mask & (IN_CREATE | IN_MOVED_TO))
				put(ev->name, sub);
			else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				drop(ev->name, sub);
			else
				touched(ev->name);
		}
	}
	if (full == 2 && watch() == -1)
		no_inotify();
	if (full)
		rescan();
}

int
inbox_map_open(void (*noted)(void))
{
	char **names;
	size_t n;
	int err;

	pthread_mutex_lock(&map.mu);
	map.noted = noted;
	for (int k = 0; k < 2; k++) {
		if ((err = maildir_names(subs[k], map.dir[k], &names, &n))) {
			pthread_mutex_unlock(&map.mu);
			errno = err;
			return -1;
		}
		strv_free(names, n);
	}
	/* watch first: what changes while rescan reads is then seen */
	if ((map.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    watch() == -1)
		no_inotify();
	err = rescan();
	map.open = !err;
	pthread_mutex_unlock(&map.mu);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

void
inbox_map_close(void)
{
	pthread_mutex_lock(&map.mu);
	map.open = 0;
	if (map.ifd >= 0)
		close(map.ifd);
	map.ifd = -1;
	map.wd[0] = map.wd[1] = -1;
	for (size_t i = 0; i < map.n; i++)
		ent_free(map.v[i]);
	free(map.v);
	map.v = NULL;
	map.n = map.cap = 0;
	strv_free(map.gone, map.ngone);
	map.gone = NULL;
	map.ngone = 0;
	strv_free(map.changed, map.nchanged);
	map.changed = NULL;
	map.nchanged = 0;
	map.noted = NULL;
	pthread_mutex_unlock(&map.mu);
}

/* id's path, key (if known) and ver now: 2 with a key, 1 without, 0 if
 * absent. Locked. */
static int
where(const char *id, char path[PATH_MAX], char name[NAME_MAX + 1],
    struct inbox_key *key, unsigned long *ver)
{
	size_t i;
	int found;

	drain();
	i = slot(id, strlen(id), &found);
	if (!found)
		return 0;
	snprintf(path, PATH_MAX, "%s/%s", map.dir[map.v[i]->sub],
	    map.v[i]->name);
	snprintf(name, NAME_MAX + 1, "%s", map.v[i]->name);
	*key = map.v[i]->key;
	*ver = map.v[i]->ver;
	return map.v[i]->has_key ? 2 : 1;
}

int
inbox_map_find(const char *id, int fresh, char path[PATH_MAX],
    struct inbox_key *key)
{
	char name[NAME_MAX + 1];
	struct stat st;
	size_t i;
	unsigned long ver;
	int w, w_inotify, tries, found;

	if (!*id || strlen(id) >= MAILDIR_ID_MAX)
		return ENOENT;
	for (tries = 0; tries < 2; tries++) {
		pthread_mutex_lock(&map.mu);
		w = where(id, path, name, key, &ver);
		w_inotify = map.ifd >= 0;
		pthread_mutex_unlock(&map.mu);
		if (w == 0)
			return ENOENT;
		if (w == 2 && (fresh == INBOX_MAP_CACHED ||
		    (fresh == INBOX_MAP_FRESH && w_inotify)))
			return 0;
		/* stat without the lock: a cold disk must not stall the rest */
		if (stat(path, &st) == -1) {
			if (errno != ENOENT)
				return EIO;
			continue;	/* moved just now: the events say where */
		}
		if (!S_ISREG(st.st_mode))
			return ENOENT;
		key->size = st.st_size;
		key->mtime_ns = st.st_mtim.tv_sec * 1000000000LL +
		    st.st_mtim.tv_nsec;
		key->ino = (long long)st.st_ino;
		pthread_mutex_lock(&map.mu);
		i = slot(id, strlen(id), &found);
		if (found && strcmp(map.v[i]->name, name) == 0 &&
		    map.v[i]->ver == ver) {
			map.v[i]->key = *key;
			map.v[i]->has_key = 1;
		}
		pthread_mutex_unlock(&map.mu);
		return 0;
	}
	return ENOENT;
}

void
inbox_map_removed(const char *id, const char *path)
{
	const char *name = strrchr(path, '/');
	size_t i;
	int found;

	pthread_mutex_lock(&map.mu);
	i = slot(id, strlen(id), &found);
	if (found && name && strcmp(map.v[i]->name, name + 1) == 0) {
		ent_free(map.v[i]);
		map.n--;
		memmove(map.v + i, map.v + i + 1, (map.n - i) * sizeof(*map.v));
		map.gen++;
	}
	pthread_mutex_unlock(&map.mu);
}

long
inbox_map_count(void)
{
	long n = -1;

	pthread_mutex_lock(&map.mu);
	if (map.open) {
		drain();
		n = (long)map.n;
	}
	pthread_mutex_unlock(&map.mu);
	return n;
}

int
inbox_map_ids(char ***ids, size_t *n)
{
	char **v;
	size_t i;

	pthread_mutex_lock(&map.mu);
	drain();
	if (!(v = malloc((map.n + 1) * sizeof(*v)))) {
		pthread_mutex_unlock(&map.mu);
		return ENOMEM;
	}
	for (i = 0; i < map.n; i++)
		if (!(v[i] = strdup(map.v[i]->id))) {
			pthread_mutex_unlock(&map.mu);
			strv_free(v, i);
			return ENOMEM;
		}
	*ids = v;
	*n = map.n;
	pthread_mutex_unlock(&map.mu);
	return 0;
}

unsigned long
inbox_map_generation(void)
{
	unsigned long g;

	pthread_mutex_lock(&map.mu);
	drain();
	g = map.gen;
	pthread_mutex_unlock(&map.mu);
	return g;
}

int
inbox_map_gone(char ***ids, size_t *n)
{
	size_t i, k = 0;
	int found;

	pthread_mutex_lock(&map.mu);
	drain();
	for (i = 0; i < map.ngone; i++) {
		slot(map.gone[i], strlen(map.gone[i]), &found);
		if (found)
			free(map.gone[i]);	/* moved, not gone */
		else
			map.gone[k++] = map.gone[i];
	}
	for (i = 0; i < map.nchanged; i++)
		note(&map.gone, &k, map.changed[i]);
	free(map.changed);
	map.changed = NULL;
	map.nchanged = 0;
	*ids = map.gone;
	*n = k;
	map.gone = NULL;
	map.ngone = 0;
	pthread_mutex_unlock(&map.mu);
	return 0;
}
