/*
 * node.c - the inode table (see node.h).
 *
 * Two chained hash tables over the same nodes: by inode number (what the
 * kernel hands us) and by path (what lookup computes). The number of a
 * path is FNV-1a of the path, probed past numbers taken by other paths and
 * past the reserved ones, so it does not depend on the order of lookups
 * and survives forget. A node renamed onto a path that still has a node
 * makes that one "gone": the kernel may still hold it, but it names
 * nothing any more (ESTALE).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/node.h"
#include "lib/log.h"

struct node {
	uint64_t ino;
	uint64_t nlookup;
	time_t given;		/* when node_ref last counted a lookup */
	char *path;
	int gone;		/* not in the path table */
	int stored;		/* its content is in the kernel's page cache */
	struct node *next_ino, *next_path;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct node **by_ino, **by_path;
static size_t nbuckets, nnodes;

static uint64_t
hash_path(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int
reserved(uint64_t ino)
{
	/* 0 is no inode, 1 the root, 0xffffffff FUSE_UNKNOWN_INO. */
	return ino <= NODE_ROOT || ino == 0xffffffffULL;
}

static struct node *
find_ino(uint64_t ino)
{
	struct node *n;

	if (nbuckets == 0)
		return NULL;
	for (n = by_ino[ino & (nbuckets - 1)]; n; n = n->next_ino)
		if (n->ino == ino)
			return n;
	return NULL;
}

static struct node *
find_path(const char *path)
{
	struct node *n;

	if (nbuckets == 0)
		return NULL;
	for (n = by_path[hash_path(path) & (nbuckets - 1)]; n; n = n->next_path)
		if (strcmp(n->path, path) == 0)
			return n;
	return NULL;
}

static void
link_path(struct node *n)
{
	size_t b = hash_path(n->path) & (nbuckets - 1);

	n->next_path = by_path[b];
	by_path[b] = n;
}

static void
unlink_path(struct node *n)
{
	struct node **pp = &by_path[hash_path(n->path) & (nbuckets - 1)];

	while (*pp != n)
		pp = &(*pp)->next_path;
	*pp = n->next_path;
}

static void
link_ino(struct node *n)
{
	size_t b = n->ino & (nbuckets - 1);

	n->next_ino = by_ino[b];
	by_ino[b] = n;
}

/* Double the tables when they get full; on ENOMEM keep the long chains. */
static void
grow(void)
{
	struct node **oi = by_ino, **op = by_path, *n, *next;
	size_t ob = nbuckets, nb = ob ? ob * 2 : 256, i;
	struct node **ni = calloc(nb, sizeof(*ni)), **np = calloc(nb, sizeof(*np));

	if (!ni || !np) {
		free(ni);
		free(np);
		return;
	}
	by_ino = ni;
	by_path = np;
	nbuckets = nb;
	for (i = 0; i < ob; i++)
		for (n = oi[i]; n; n = next) {
			next = n->next_ino;
			link_ino(n);
			if (!n->gone)
				link_path(n);
		}
	free(oi);
	free(op);
}

static uint64_t
ino_of(const char *path)
{
	uint64_t ino;
	struct node *n;

	if (*path == '\0')
		return NODE_ROOT;
	if ((n = find_path(path)))
		return n->ino;
	for (ino = hash_path(path); reserved(ino) || find_ino(ino); ino++)
		;
	return ino;
}

uint64_t
node_ino(const char *path)
{
	uint64_t ino;

	pthread_mutex_lock(&lock);
	ino = ino_of(path);
	pthread_mutex_unlock(&lock);
	return ino;
}

uint64_t
node_ref(const char *path)
{
	struct node *n;
	uint64_t ino;

	if (*path == '\0')
		return NODE_ROOT;	/* the root is never forgotten */
	pthread_mutex_lock(&lock);
	if (nnodes >= nbuckets)
		grow();
	if (nbuckets == 0)
		fatalx("node table: out of memory");
	if (!(n = find_path(path))) {
		ino = ino_of(path);
		if (!(n = calloc(1, sizeof(*n))) || !(n->path = strdup(path)))
			fatalx("node table: out of memory");
		n->ino = ino;
		link_ino(n);
		link_path(n);
		nnodes++;
	}
	n->nlookup++;
	n->given = time(NULL);
	ino = n->ino;
	pthread_mutex_unlock(&lock);
	return ino;
}

uint64_t
node_ino_given(const char *path, time_t *given)
{
	struct node *n;
	uint64_t ino;

	*given = 0;
	pthread_mutex_lock(&lock);
	ino = ino_of(path);
	if (*path != '\0' && (n = find_path(path)))
		*given = n->given;
	pthread_mutex_unlock(&lock);
	return ino;
}

void
node_forget(uint64_t ino, uint64_t nl)
{
	struct node *n, **pp;

	pthread_mutex_lock(&lock);
	if ((n = find_ino(ino))) {
		n->nlookup = n->nlookup > nl ? n->nlookup - nl : 0;
		if (n->nlookup == 0) {
			pp = &by_ino[ino & (nbuckets - 1)];
			while (*pp != n)
				pp = &(*pp)->next_ino;
			*pp = n->next_ino;
			if (!n->gone)
				unlink_path(n);
			free(n->path);
			free(n);
			nnodes--;
		}
	}
	pthread_mutex_unlock(&lock);
}

int
node_stored(uint64_t ino, int set)
{
	struct node *n;
	int r = 0;

	pthread_mutex_lock(&lock);
	if ((n = find_ino(ino))) {
		r = n->stored;
		if (set)
			n->stored = 1;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

int
node_held(const char *path)
{
	int r;

	pthread_mutex_lock(&lock);
	r = find_path(path) != NULL;
	pthread_mutex_unlock(&lock);
	return r;
}

int
node_path(uint64_t ino, char *buf, size_t len)
{
	struct node *n;
	int err = 0;

	if (ino == NODE_ROOT) {
		if (len == 0)
			return ENAMETOOLONG;
		buf[0] = '\0';
		return 0;
	}
	pthread_mutex_lock(&lock);
	if (!(n = find_ino(ino)) || n->gone)
		err = ESTALE;
	else if (strlen(n->path) >= len)
		err = ENAMETOOLONG;
	else
		strcpy(buf, n->path);
	pthread_mutex_unlock(&lock);
	return err;
}

void
node_rename(const char *path, const char *newpath)
{
	struct node *n, *old;
	char *p;

	if (strcmp(path, newpath) == 0)
		return;
	pthread_mutex_lock(&lock);
	if ((n = find_path(path)) && (p = strdup(newpath))) {
		if ((old = find_path(newpath))) {
			unlink_path(old);
			old->gone = 1;
		}
		unlink_path(n);
		free(n->path);
		n->path = p;
		link_path(n);
	}
	pthread_mutex_unlock(&lock);
}

size_t
node_count(void)
{
	size_t c;

	pthread_mutex_lock(&lock);
	c = nnodes;
	pthread_mutex_unlock(&lock);
	return c;
}
