/*
 * inbox.c - inbox/ID/ trees (see inbox.h).
 *
 * The cache is a short most-recently-used list, bounded in entries and in
 * bytes; entries are reference counted so a reader holding one may keep
 * using it after it was pushed out. A cached entry is only trusted while
 * the Maildir file still has the path it was rendered from (a flag change
 * renames it and changes info).
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
#include "fs/mime.h"
#include "lib/log.h"
#include "queue/maildir.h"

#define CACHE_ENTRIES	16
#define CACHE_BYTES	(64 * 1024 * 1024)

struct inbox_msg {
	char id[MAILDIR_ID_MAX];
	char path[PATH_MAX];
	struct mime_node *root;
	size_t bytes;
	time_t mtime;
	int refs;		/* holders, plus one while cached */
	struct inbox_msg *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct inbox_msg *cache;

/* The path id was last rendered from, if it is still there. */
static int
cached_path(const char *id, char path[PATH_MAX])
{
	struct inbox_msg *m;
	struct stat st;
	int found = 0;

	pthread_mutex_lock(&lock);
	for (m = cache; m && !found; m = m->next)
		if (strcmp(m->id, id) == 0) {
			memcpy(path, m->path, PATH_MAX);
			found = 1;
		}
	pthread_mutex_unlock(&lock);
	return found && stat(path, &st) == 0;
}

/* Where id is now: the cached path first, since finding a message with
 * flags in cur/ means reading the whole directory. */
static int
locate(const char *id, char path[PATH_MAX])
{
	return cached_path(id, path) ? 0 : maildir_path(id, path);
}

int
inbox_stat(const char *id, time_t *mtime)
{
	char path[PATH_MAX];
	struct stat st;

	if (locate(id, path) != 0 || stat(path, &st) == -1)
		return ENOENT;
	*mtime = st.st_mtime;
	return 0;
}

static void
msg_free(struct inbox_msg *m)
{
	mime_free(m->root);
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

static int
read_file(const char *path, char **buf, size_t *len, time_t *mtime)
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
	*mtime = st.st_mtime;
	return 0;
}

/* Render id from path into a new entry (one reference, for the caller). */
static int
render(const char *id, const char *path, struct inbox_msg **mp)
{
	struct inbox_msg *m;
	const char *flags = strstr(strrchr(path, '/'), ":2,");
	char *data, *env;
	size_t len, envlen;
	int err;

	if (!(m = calloc(1, sizeof(*m))))
		return ENOMEM;
	if ((err = read_file(path, &data, &len, &m->mtime))) {
		free(m);
		return err;
	}
	m->root = mime_render_flags(data, len, flags ? flags + 3 : NULL);
	if (!m->root) {
		log_warn("inbox %s: rendering", id);
		free(data);
		free(m);
		return EIO;
	}
	err = mime_add_raw(m->root) == -1 ? errno : 0;
	free(data);
	if (!err && maildir_envelope(id, &env, &envlen) == 0) {
		err = mime_add_file(m->root, "envelope", env, envlen) == -1 ?
		    errno : 0;
		free(env);
	}
	if (err) {
		msg_free(m);
		return err;
	}
	snprintf(m->id, sizeof(m->id), "%s", id);
	memcpy(m->path, path, sizeof(m->path));
	m->bytes = 2 * len;
	m->refs = 1;
	*mp = m;
	return 0;
}

int
inbox_get(const char *id, struct inbox_msg **mp)
{
	struct inbox_msg **pp, *m;
	char path[PATH_MAX];
	int err;

	if (locate(id, path) != 0) {
		pthread_mutex_lock(&lock);
		uncache(id);
		pthread_mutex_unlock(&lock);
		return ENOENT;
	}
	pthread_mutex_lock(&lock);
	for (pp = &cache; (m = *pp); pp = &m->next)
		if (strcmp(m->id, id) == 0 && strcmp(m->path, path) == 0) {
			*pp = m->next;	/* to the front */
			m->next = cache;
			cache = m;
			m->refs++;
			*mp = m;
			pthread_mutex_unlock(&lock);
			return 0;
		}
	pthread_mutex_unlock(&lock);

	/* Render without the lock: a big message must not stall the rest. */
	if ((err = render(id, path, &m)))
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
	return mime_find(m->root, rel);
}

time_t
inbox_mtime(const struct inbox_msg *m)
{
	return m->mtime;
}

int
inbox_delete(const char *id)
{
	pthread_mutex_lock(&lock);
	uncache(id);
	pthread_mutex_unlock(&lock);
	return maildir_delete(id);
}
