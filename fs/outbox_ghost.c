/*
 * outbox_ghost.c - names just sent from outbox/ (see outbox_ghost.h).
 *
 * install(1) chmods the name after close(); rsync --inplace lstats it,
 * opens it read-only and fchmods it. The message went at that close, so
 * without a ghost each of them fails after sending and a user who retries
 * sends twice. Ghosts live OUTBOX_GHOST_TTL seconds and a name has at
 * most one. Every close that sends adds one, so at a few hundred messages
 * a second there are thousands: they are found by name in a hash table,
 * and, all living equally long, expire in the order they came, oldest
 * first from a queue (no walk of them all per close).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "fs/outbox_ghost.h"

struct ghost {
	char *name;
	struct outbox_attr attr;
	time_t until;		/* CLOCK_MONOTONIC seconds */
	GList link;		/* in order, oldest at the head */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *by_name;	/* name -> ghost; NULL until the first */
static GQueue order = G_QUEUE_INIT;

static time_t
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static void
forget(struct ghost *g)
{
	g_hash_table_remove(by_name, g->name);
	g_queue_unlink(&order, &g->link);
	free(g->name);
	free(g);
}

/* Drop the expired ghosts and name's (if name); the lock is held. Returns
 * 1 when name had one. */
static int
sweep(const char *name)
{
	struct ghost *g;
	time_t t = now();
	int found = 0;

	while ((g = g_queue_peek_head(&order)) != NULL && g->until <= t)
		forget(g);
	if (name && by_name && (g = g_hash_table_lookup(by_name, name))) {
		found = 1;
		forget(g);
	}
	return found;
}

static struct ghost *
find(const char *name)
{
	sweep(NULL);
	return by_name ? g_hash_table_lookup(by_name, name) : NULL;
}

void
outbox_ghost_add(const char *name, const struct outbox_attr *a)
{
	struct ghost *g = calloc(1, sizeof(*g));

	if (g == NULL || (g->name = strdup(name)) == NULL) {
		free(g);	/* no ghost: only the tool's chmod fails */
		return;
	}
	g->attr = *a;
	g->attr.size = 0;
	g->until = now() + OUTBOX_GHOST_TTL;
	g->link.data = g;
	pthread_mutex_lock(&lock);
	if (by_name == NULL)
		by_name = g_hash_table_new(g_str_hash, g_str_equal);
	sweep(name);
	g_hash_table_insert(by_name, g->name, g);
	g_queue_push_tail_link(&order, &g->link);
	pthread_mutex_unlock(&lock);
}

int
outbox_ghost_get(const char *name, struct outbox_attr *a)
{
	struct ghost *g;

	pthread_mutex_lock(&lock);
	if ((g = find(name)) != NULL)
		*a = g->attr;
	pthread_mutex_unlock(&lock);
	return g ? 0 : ENOENT;
}

int
outbox_ghost_set(const char *name, const struct outbox_attr *a, int which)
{
	struct ghost *g;
	int err = 0;

	pthread_mutex_lock(&lock);
	if ((g = find(name)) == NULL)
		err = ENOENT;
	else if ((which & OUTBOX_SET_SIZE) && a->size != 0)
		err = EPERM;	/* it was sent: there is nothing to resize */
	else
		outbox_apply_attr(&g->attr, a, which);
	pthread_mutex_unlock(&lock);
	return err;
}

void
outbox_apply_attr(struct outbox_attr *to, const struct outbox_attr *a,
    int which)
{
	if (which & OUTBOX_SET_MODE)
		to->mode = a->mode & 07777;
	if (which & OUTBOX_SET_UID)
		to->uid = a->uid;
	if (which & OUTBOX_SET_GID)
		to->gid = a->gid;
	if (which & OUTBOX_SET_ATIME)
		to->atime = a->atime;
	if (which & OUTBOX_SET_MTIME)
		to->mtime = a->mtime;
	clock_gettime(CLOCK_REALTIME, &to->ctime);
}

int
outbox_ghost_drop(const char *name)
{
	int found;

	pthread_mutex_lock(&lock);
	found = sweep(name);
	pthread_mutex_unlock(&lock);
	return found ? 0 : ENOENT;
}
