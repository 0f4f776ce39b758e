/*
 * maildir_list.c - the messages of the inbox Maildir by name: listing
 * (maildir_list, maildir_names, maildir_count), finding one by its ID
 * (maildir_path, helped by a cache of where each was last seen) and the
 * ID in a file name (maildir_id_len). API in maildir.h; the Maildir is
 * opened by maildir.c (maildir_root, maildir_int.h).
 *
 * Diagnostics: none; errors are returned as errno values.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/strv.h"
#include "queue/maildir.h"
#include "queue/maildir_int.h"

/*
 * Where the messages were last seen ("cur/NAME:2,S"), hashed by ID: a
 * message with flags in cur/ can only be found by reading the directory,
 * so each walk remembers all it saw and lookups after a listing are cheap.
 * Entries are hints, checked with stat before use.
 */
#define SEEN_SLOTS	4096

static struct {
	pthread_mutex_t	mu;
	char		*rel[SEEN_SLOTS];
} seen = { .mu = PTHREAD_MUTEX_INITIALIZER };

static unsigned
seen_slot(const char *id, size_t len)
{
	unsigned h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return h % SEEN_SLOTS;
}

static void
seen_put(const char *sub, const char *name, size_t idlen)
{
	unsigned slot = seen_slot(name, idlen);
	char *rel;

	if (asprintf(&rel, "%s/%s", sub, name) == -1)
		return;
	pthread_mutex_lock(&seen.mu);
	free(seen.rel[slot]);
	seen.rel[slot] = rel;
	pthread_mutex_unlock(&seen.mu);
}

/* 0 with path set if id was seen and is still there */
static int
seen_get(const char *id, size_t len, char path[PATH_MAX])
{
	unsigned slot = seen_slot(id, len);
	const char *name;
	struct stat st;
	int found = 0;

	pthread_mutex_lock(&seen.mu);
	if (seen.rel[slot] != NULL) {
		name = seen.rel[slot] + 4;	/* past "new/" or "cur/" */
		found = strncmp(name, id, len) == 0 &&
		    (name[len] == '\0' || name[len] == ':');
		if (found)
			snprintf(path, PATH_MAX, "%s/%s", maildir_root(),
			    seen.rel[slot]);
	}
	pthread_mutex_unlock(&seen.mu);
	return found && stat(path, &st) == 0 ? 0 : ENOENT;
}

void
maildir_list_forget(void)
{
	for (size_t i = 0; i < SEEN_SLOTS; i++) {
		free(seen.rel[i]);
		seen.rel[i] = NULL;
	}
}

/* The ID part of a Maildir file name: everything before the ":2," info. */
static size_t
id_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon ? (size_t)(colon - name) : strlen(name);
}

/* Only regular files (or links to them) are messages: a directory or a
 * socket someone left in new/ is not. */
static int
is_file(DIR *d, const struct dirent *e)
{
	struct stat st;

	if (e->d_type == DT_REG)
		return 1;
	if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK)
		return 0;
	return fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

/* Call fn(name, arg) for each message file in sub ("new" or "cur") and
 * note where it is; a nonzero return stops the walk and is returned. */
static int
walk_sub(const char *sub, int (*fn)(const char *dir, const char *name,
    void *arg), void *arg)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/%s", maildir_root(), sub);
	if ((d = opendir(dir)) == NULL)
		return errno;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t len = id_len(e->d_name);

		if (e->d_name[0] == '.' || len == 0 ||
		    len >= MAILDIR_ID_MAX || !is_file(d, e))
			continue;
		seen_put(sub, e->d_name, len);
		rc = fn(dir, e->d_name, arg);
	}
	closedir(d);
	return rc;
}

/* walk_sub over new/ then cur/ */
static int
walk(int (*fn)(const char *dir, const char *name, void *arg), void *arg)
{
	int rc = walk_sub("new", fn, arg);

	return rc != 0 ? rc : walk_sub("cur", fn, arg);
}

struct list_acc {
	char	**ids;
	size_t	n, cap;
	int	whole;		/* the file names, not the IDs */
};

static int
list_one(const char *dir, const char *name, void *arg)
{
	struct list_acc *a = arg;
	size_t len = id_len(name);

	(void)dir;
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		char **ids = realloc(a->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return ENOMEM;
		a->ids = ids;
		a->cap = cap;
	}
	if ((a->ids[a->n] = a->whole ? strdup(name) : strndup(name, len)) ==
	    NULL)
		return ENOMEM;
	a->n++;
	return 0;
}

int
maildir_list(char ***ids, size_t *n)
{
	struct list_acc a = { NULL, 0, 0, 0 };
	int rc;

	if (maildir_root() == NULL)
		return EBADF;
	if ((rc = walk(list_one, &a)) != 0) {
		strv_free(a.ids, a.n);
		return rc;
	}
	if (a.n > 1)
		qsort(a.ids, a.n, sizeof(*a.ids), strv_cmp);
	*ids = a.ids;
	*n = a.n;
	return 0;
}

struct find {
	const char	*id;
	size_t		len;
	char		*path;
	int		found;
};

/* Go on after a match: the rest of the walk fills the seen cache too. */
static int
find_one(const char *dir, const char *name, void *arg)
{
	struct find *f = arg;

	if (!f->found && id_len(name) == f->len &&
	    strncmp(name, f->id, f->len) == 0) {
		snprintf(f->path, PATH_MAX, "%s/%s", dir, name);
		f->found = 1;
	}
	return 0;
}

int
maildir_path(const char *id, char path[PATH_MAX])
{
	size_t len = strlen(id);
	struct stat st;

	if (maildir_root() == NULL)
		return EBADF;
	if (len == 0 || len >= MAILDIR_ID_MAX || strchr(id, '/') != NULL ||
	    strchr(id, ':') != NULL || id[0] == '.')
		return ENOENT;
	if (seen_get(id, len, path) == 0)
		return 0;
	/* the usual places: new/ID, then cur/ID:2, without a flag */
	snprintf(path, PATH_MAX, "%s/new/%s", maildir_root(), id);
	if (stat(path, &st) == 0)
		return 0;
	snprintf(path, PATH_MAX, "%s/cur/%s:2,", maildir_root(), id);
	if (stat(path, &st) == 0)
		return 0;
	/* read both directories, remembering every message in them */
	struct find f = { id, len, path, 0 };

	return walk(find_one, &f) == 0 && f.found ? 0 : ENOENT;
}

size_t
maildir_id_len(const char *name)
{
	size_t len = id_len(name);

	return name[0] == '.' || len >= MAILDIR_ID_MAX ? 0 : len;
}

int
maildir_names(const char *sub, char dir[PATH_MAX], char ***names, size_t *n)
{
	struct list_acc a = { NULL, 0, 0, 1 };
	int rc;

	if (maildir_root() == NULL)
		return EBADF;
	if (strcmp(sub, "new") != 0 && strcmp(sub, "cur") != 0)
		return EINVAL;
	snprintf(dir, PATH_MAX, "%s/%s", maildir_root(), sub);
	if ((rc = walk_sub(sub, list_one, &a)) != 0) {
		strv_free(a.ids, a.n);
		return rc;
	}
	*names = a.ids;
	*n = a.n;
	return 0;
}

static int
count_one(const char *dir, const char *name, void *arg)
{
	(void)dir;
	(void)name;
	(*(long *)arg)++;
	return 0;
}

long
maildir_count(void)
{
	long n = 0;

	if (maildir_root() == NULL || walk(count_one, &n) != 0)
		return -1;
	return n;
}
