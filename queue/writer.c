/*
 * writer.c - the writer thread of the outbound queue: it persists the
 * states the event thread reports (a delivery's results) so that thread
 * never waits for a sync, in batches that share two syncfs rounds, and
 * retries saves that failed. queue_save (one entry now) serves load.c.
 *
 * API: queue_save, queue_save_later, queue_retry_writes,
 * queue_writer_main (core.h). Locking as in queue.c: an entry's wmu
 * before queue.mu, queue.mu never held across a sync; the writer holds
 * the wmu of every entry of its batch from the state write to the end of
 * the second round (no other thread takes two wmu, so this cannot
 * deadlock).
 *
 * Statistics: STATS_STATE_WRITE_ERRORS per failed save.
 * Diagnostics: log_warn per entry whose state could not be saved or moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "lib/log.h"
#include "queue/core.h"
#include "queue/stats.h"

/*
 * Saving states, in batches (the writer thread hands over all it has, up
 * to SAVE_BATCH): for each entry, under its wmu, the DSNs it owes are
 * queued (bounce.c) and its state written to state.tmp without a sync;
 * one shared round (queue.fs) makes every state.tmp durable; each is
 * exchanged with state (state_swap) and each finished entry's directory
 * renamed to sent/ or failed/; a second round makes the names durable.
 * Two syncs per batch, not three per entry. A crash between the rounds
 * leaves an entry with its old state or its new one, in its old place or
 * its new one: at worst a recipient is tried again (interface.md:
 * duplicates are possible), never one lost. What is written is the state
 * at the time of writing, so any number of changes before it cost one
 * write.
 */
#define SAVE_BATCH	256

struct save {
	struct msg *m;
	enum queue_where from, to;
	int dfd;		/* the entry's directory, -1: nothing to do */
	int err;
};

/* Round 1's part: lock m, write state.tmp. */
static void
save_write(struct save *s)
{
	struct msg *m = s->m;
	char *text = NULL;
	size_t len;

	s->dfd = -1;
	s->err = 0;
	pthread_mutex_lock(&m->wmu);
	/* Before the state is written, so it records who was told. */
	bounce_notify(m);
	pthread_mutex_lock(&queue.mu);
	if (m->gone) {
		pthread_mutex_unlock(&queue.mu);
		return;
	}
	s->from = m->where;
	s->to = s->from == QUEUE_QUEUE ? queue_destination(m) : s->from;
	if ((text = entry_serialize(m, &len)) == NULL)
		s->err = ENOMEM;
	pthread_mutex_unlock(&queue.mu);

	/* Only these functions and the removals (which take wmu too) rename
	 * the entry, so from stays right while we write. */
	if (!s->err && (s->dfd = openat(queue.dirs[s->from].fd[0], m->id,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		s->err = errno;
	if (!s->err)
		s->err = spool_put_file(s->dfd, "state.tmp", text, len);
	free(text);
	if (s->err) {
		errno = s->err;
		log_warn("%s: cannot write its state", m->id);
	}
}

/*
 * state.tmp over state, by exchanging the two where the file system can:
 * the old state's inode stays behind as the next save's state.tmp
 * (rewritten in place, made durable by round 1 before it is exchanged
 * again), so a save after the first neither allocates nor frees an
 * inode. Freed inodes make every later create slow on ext4 without a
 * journal, which skips the ones freed in the last minutes: a rename over
 * state cost a drain about a third of its CPU there. A leftover
 * state.tmp is only ever an older state, or one cut short, never read.
 */
static int
state_swap(int dfd)
{
#ifdef RENAME_EXCHANGE
	if (renameat2(dfd, "state.tmp", dfd, "state", RENAME_EXCHANGE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOENT && errno != ENOSYS)
		return -1;
#endif
	return renameat(dfd, "state.tmp", dfd, "state");
}

/* Between the rounds: state.tmp over state, the directory moved. */
static void
save_publish(struct save *s)
{
	struct msg *m = s->m;

	if (s->dfd == -1 || s->err)
		return;
	if (state_swap(s->dfd) == -1) {
		s->err = errno;
		log_warn("%s: cannot write its state", m->id);
		return;
	}
	if (s->to == s->from)
		return;
	queue_leaving(s->from, m->id, 0);
	pthread_mutex_lock(&queue.mu);
	s->err = queue_entry_move(m, s->to);
	pthread_mutex_unlock(&queue.mu);
	queue_leaving(s->from, m->id, 1);
	if (s->err) {
		errno = s->err;
		log_warn("%s: cannot move to %s/", m->id,
		    queue_dir_names[s->to]);
	}
}

/* After round 2 (err its result): unlock m. */
static void
save_end(struct save *s, int err)
{
	if (s->dfd != -1) {
		if (s->err)
			unlinkat(s->dfd, "state.tmp", 0);
		else if (err) {
			s->err = err;
			errno = err;
			log_warn("%s: its state is not known to be durable",
			    s->m->id);
		}
		close(s->dfd);
	}
	pthread_mutex_unlock(&s->m->wmu);
}

/* Save the n entries of v (each held by a reference), errs[i] 0 or the
 * errno of v[i]. Called without queue.mu. */
static void
save_batch(struct msg **v, int *errs, size_t n)
{
	struct save s[SAVE_BATCH];
	unsigned long ticket;
	size_t i, work = 0;
	int err;

	ticket = spool_sync_ticket(&queue.fs);
	for (i = 0; i < n; i++) {
		s[i].m = v[i];
		save_write(&s[i]);
		work += s[i].dfd != -1 && !s[i].err;
	}
	err = work > 0 ? spool_sync_wait(&queue.fs, ticket, 0) : 0;
	for (i = 0; i < n; i++) {
		if (err && s[i].dfd != -1 && !s[i].err) {
			s[i].err = err;
			errno = err;
			log_warn("%s: cannot write its state", v[i]->id);
		}
		save_publish(&s[i]);
	}
	if (!err && work > 0)
		err = spool_sync_wait(&queue.fs, ticket, 0);
	for (i = 0; i < n; i++) {
		save_end(&s[i], err);
		errs[i] = s[i].err;
	}
}

/* One entry saved now (queue/load.c, before the writer runs). */
int
queue_save(struct msg *m)
{
	int err;

	save_batch(&m, &err, 1);
	return err;
}

/* Caller holds queue.mu. Have the writer thread save m soon. */
void
queue_save_later(struct msg *m)
{
	if (m->pending)
		return;
	m->pending = 1;
	m->refs++;
	g_queue_push_tail(&queue.unsaved, m);
	pthread_cond_signal(&queue.writer_cv);
}

/* Caller holds queue.mu. After a failed save of m: keep it dirty (the
 * memory is the truth: delivery never takes its finished recipients
 * again) and have the writer retry it after a backoff, 1 s doubling up to
 * WRITE_BACKOFF_MAX, so delivered mail reaches sent/ once space returns
 * and is not sent again after a restart. */
#define WRITE_BACKOFF_MAX	8
static void
save_failed(struct msg *m)
{
	stats_add(STATS_STATE_WRITE_ERRORS, 1);
	if (!m->dirty) {
		m->dirty = 1;
		m->refs++;
		g_queue_push_tail(&queue.unwritten, m);
	}
	if (queue.backoff == 0)
		queue.backoff = 1;
	queue.retry_at = time(NULL) + queue.backoff;
	if (queue.backoff < WRITE_BACKOFF_MAX)
		queue.backoff *= 2;
}

/* Caller holds queue.mu. The dirty entries back into the writer's list
 * (those saved meanwhile need nothing more). */
static void
retry_unwritten(void)
{
	struct msg *m;

	while ((m = g_queue_pop_head(&queue.unwritten)) != NULL) {
		if (m->dirty && !m->gone)
			queue_save_later(m);
		m->dirty = 0;
		queue_msg_unref(m);
	}
}

/* Caller holds queue.mu. Retry failed state writes now (a flush). */
void
queue_retry_writes(void)
{
	if (queue.unwritten.length > 0) {
		queue.retry_at = 0;
		pthread_cond_signal(&queue.writer_cv);
	}
}

/*
 * queue_writer_main - the writer thread. The event thread reports results and
 * must never wait for an fsync, so state writes and moves happen here,
 * all that is pending at once (save_batch). A save that fails is retried
 * (save_failed). It runs until queue_close, which lets it finish what is
 * pending first, with one last try of what failed.
 */
void *
queue_writer_main(void *arg)
{
	struct timespec ts;
	struct msg *v[SAVE_BATCH];
	int errs[SAVE_BATCH], last = 0;
	size_t i, n;

	(void)arg;
	pthread_mutex_lock(&queue.mu);
	for (;;) {
		for (n = 0; n < SAVE_BATCH &&
		    (v[n] = g_queue_pop_head(&queue.unsaved)) != NULL; n++)
			v[n]->pending = 0;
		if (n == 0) {
			if (queue.unwritten.length > 0 && (queue.writer_stop ?
			    !last++ : time(NULL) >= queue.retry_at)) {
				retry_unwritten();
				continue;
			}
			if (queue.writer_stop)
				break;
			if (queue.unwritten.length == 0) {
				pthread_cond_wait(&queue.writer_cv, &queue.mu);
				continue;
			}
			ts.tv_sec = queue.retry_at;
			ts.tv_nsec = 0;
			pthread_cond_timedwait(&queue.writer_cv, &queue.mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&queue.mu);
		save_batch(v, errs, n);
		pthread_mutex_lock(&queue.mu);
		for (i = 0; i < n; i++) {
			if (errs[i] && !v[i]->gone)
				save_failed(v[i]);
			else if (!errs[i] && queue.unwritten.length == 0)
				queue.backoff = 0;
			if (!errs[i])
				v[i]->dirty = 0;
			queue_msg_unref(v[i]);
		}
	}
	pthread_mutex_unlock(&queue.mu);
	return NULL;
}

