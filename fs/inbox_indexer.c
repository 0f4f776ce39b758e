/*
 * inbox_indexer.c - the inbox's indexing thread (see inbox_int.h): what
 * has no row in the index gets one without a reader waiting for it.
 *
 * At start it loads the index's rows into memory, stats every message
 * and has the kernel read ahead the messages without a row (warm_keys).
 * Then it wakes when the Maildir or the index changed (their
 * generations) and renders what has no row (up to BACKGROUND_MAX bytes),
 * newest first, in WORKERS threads when there is much, in transactions of
 * BATCH messages, so a kill -9 loses at most a batch per thread; it forgets the rows of messages that are gone, and
 * tells the kernel of IDs that went away behind our back (inbox_on_gone).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/inbox.h"
#include "fs/inbox_index.h"
#include "fs/inbox_int.h"
#include "fs/inbox_map.h"
#include "fs/mime.h"
#include "lib/log.h"
#include "lib/strv.h"

#define BATCH		64
#define WORKERS		2
#define BATCH_BYTES	(4 * 1024 * 1024)
/* Larger messages are indexed when first read, not in the background: a
 * render costs about three times the message, and a burst of big mail
 * must not raise the daemon's memory while nobody reads it. */
#define BACKGROUND_MAX	(1024 * 1024)
/* What a start has the kernel read ahead of messages without a row. */
#define PREFETCH_BYTES	(64LL * 1024 * 1024)

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
void
inbox_indexer_wake(void)
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

/* Has id a row made from key? */
static int
indexed(const char *id, const struct inbox_key *key)
{
	struct mime_node *tree;

	if (inbox_index_get(id, key, &tree) != 0)
		return 0;
	mime_free(tree);
	return 1;
}

/* What one indexing worker does: the messages of ids (n) from start on,
 * every stride-th. */
struct part {
	char **ids;
	size_t n, start, stride;
};

/* Rows for the messages of p that have none. */
static void *
index_part(void *arg)
{
	const struct part *p = arg;
	struct inbox_row rows[BATCH];
	struct mime_node *root;
	char path[PATH_MAX], *id;
	size_t i, k = 0, bytes = 0;

	/*
	 * Newest first (IDs begin with the time of arrival): new mail is
	 * what is read first, and a reader of the whole inbox (a glob) goes
	 * the other way, so the two meet once instead of rendering the same
	 * messages side by side. Not what a reader indexed meanwhile.
	 */
	for (i = p->start; !stopping(); i += p->stride) {
		id = i < p->n ? p->ids[p->n - 1 - i] : NULL;
		if (id && inbox_map_find(id, INBOX_MAP_CACHED, path,
		    &rows[k].key) == 0 &&
		    rows[k].key.size <= BACKGROUND_MAX &&
		    !indexed(id, &rows[k].key) &&
		    inbox_render(id, path, &root, &rows[k].key) == 0) {
			rows[k].id = id;
			if (inbox_index_encode(root, &rows[k]) == 0) {
				bytes += rows[k].metalen + rows[k].biglen;
				k++;
			}
			mime_free(root);
		}
		/* a batch is bounded in bytes too: at most BATCH_BYTES
		 * and one more message held */
		if (k == BATCH || bytes > BATCH_BYTES || (!id && k > 0)) {
			inbox_index_put(rows, k);
			while (k > 0)
				inbox_row_free(&rows[--k]);
			bytes = 0;
		}
		if (!id)
			break;
	}
	while (k > 0)
		inbox_row_free(&rows[--k]);
	return NULL;
}

/*
 * Rows for the messages of ids (n) that have none; many by WORKERS
 * threads, this one and helpers, each every WORKERS-th message: a render
 * waits for the disk about as long as it computes.
 */
static void
index_missing(char **ids, size_t n)
{
	struct part p[WORKERS];
	pthread_t t[WORKERS];
	int started[WORKERS] = { 0 };
	size_t w, nw = n >= WORKERS * BATCH ? WORKERS : 1;

	for (w = 0; w < nw; w++)
		p[w] = (struct part){ ids, n, w, nw };
	for (w = 1; w < nw; w++)
		started[w] = pthread_create(&t[w], NULL, index_part, &p[w]) == 0;
	index_part(&p[0]);
	for (w = 1; w < nw; w++)
		if (started[w])
			pthread_join(t[w], NULL);
		else
			index_part(&p[w]);
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

/* Ask the kernel to read the file at path ahead (it is read soon). */
static void
prefetch(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);

	if (fd == -1 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		close(fd);
	}
}

/*
 * At start: stat every message the map has no key of yet (the inodes
 * read in a row, before readers ask), and have the kernel read ahead
 * the messages that have no row, up to PREFETCH_BYTES, from both ends:
 * this thread indexes from the newest, a reader of the whole inbox goes
 * from the oldest, and neither then waits for the disk a file at a time.
 */
static void
warm_keys(void)
{
	struct inbox_key key;
	char path[PATH_MAX], **ids;
	size_t n, i, j, k = 0, lo, hi, *todo;
	long long bytes = 0, *sizes;

	if (inbox_map_ids(&ids, &n) != 0)
		return;
	todo = malloc((n + 1) * sizeof(*todo));
	sizes = malloc((n + 1) * sizeof(*sizes));
	for (i = 0; i < n && !stopping(); i++)
		if (inbox_map_find(ids[i], INBOX_MAP_CACHED, path, &key) == 0 &&
		    todo && sizes && !indexed(ids[i], &key)) {
			sizes[k] = key.size;
			todo[k++] = i;
		}
	for (lo = 0, hi = k; lo < hi && bytes < PREFETCH_BYTES &&
	    !stopping(); ) {
		j = (lo + k - hi) % 2 ? --hi : lo++;
		bytes += sizes[j];
		if (inbox_map_find(ids[todo[j]], INBOX_MAP_CACHED, path,
		    &key) == 0)
			prefetch(path);
	}
	free(todo);
	free(sizes);
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
	/* first what makes a cold start quick: the rows in memory (one
	 * pass over the index file, not a page per lookup), the key of
	 * every message (the inodes read in a row, before readers ask) */
	inbox_index_load();
	warm_keys();
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
inbox_indexer_start(void)
{
	ixr.stop = 0;
	if (pthread_create(&ixr.thread, NULL, indexer, NULL) == 0)
		ixr.running = 1;
	else
		log_warn("inbox: indexing thread");
}

void
inbox_indexer_stop(void)
{
	pthread_mutex_lock(&ixr.mu);
	ixr.stop = 1;
	pthread_cond_signal(&ixr.cv);
	pthread_mutex_unlock(&ixr.mu);
	if (ixr.running)
		pthread_join(ixr.thread, NULL);
	ixr.running = 0;
}
