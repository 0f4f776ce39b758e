/*
 * maildir_stream.c - messages streamed into the Maildir by a pool of
 * worker threads (API and why in maildir_stream.h).
 *
 * A stream is its own job: the owner hands it to the workers through the
 * todo list, a worker does the file work and puts it on the done list,
 * wakes the owner, whose maildir_stream_reap runs done. Only the owner's
 * thread sets kind and dropped, and only while the stream is not out.
 */
#include "queue/maildir_stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/work.h"
#include "queue/maildir.h"
#include "queue/qlog.h"
#include "queue/stats.h"

#define WORKERS_MAX	64

struct maildir_stream {
	struct maildir_stream *next;
	enum { J_IDLE, J_WRITE, J_COMMIT, J_ABORT } kind;
	int		dropped;	/* the owner is gone: no done */
	maildir_stream_done_fn *done;
	void		*arg;
	char		*data;		/* to append to the file */
	size_t		len;
	struct maildir_tmp *tmp;	/* the file, once created */
	size_t		size;		/* handed out so far */
	char		*envelope, *from, *to;
	char		id[MAILDIR_ID_MAX];
	char		client[64];
	char		tag[80];
	int		rc;
};

static struct {
	pthread_mutex_t	mu;		/* guards the two lists */
	pthread_cond_t	cv;
	struct maildir_stream *todo, **todo_tail, *done;
	int		stopping;
	pthread_t	worker[WORKERS_MAX];
	int		nworkers;
	void		(*wake)(void *);
	void		*warg;
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.todo_tail = &pool.todo,
};

static void
stream_free(struct maildir_stream *st)
{
	if (st->tmp != NULL)
		maildir_tmp_abort(st->tmp);	/* only at stop: the workers
						 * are gone */
	free(st->data);
	free(st->envelope);
	free(st->from);
	free(st->to);
	free(st);
}

static void
submit(struct maildir_stream *st)
{
	pthread_mutex_lock(&pool.mu);
	st->next = NULL;
	*pool.todo_tail = st;
	pool.todo_tail = &st->next;
	pthread_cond_signal(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
}

/* Append st's data to its file, created first if need be: 0 or an
 * errno. */
static int
job_write(struct maildir_stream *st)
{
	struct iovec v = { st->data, st->len };
	int rc = 0;

	if (st->tmp == NULL)
		rc = maildir_tmp_open(st->id, &st->tmp);
	if (rc == 0 && st->len > 0)
		rc = maildir_tmp_write(st->tmp, &v, 1);
	free(st->data);
	st->data = NULL;
	st->len = 0;
	return rc;
}

/* On a worker. A J_WRITE that fails keeps its file: the owner drops the
 * stream, which unlinks it. */
static void
job_run(struct maildir_stream *st)
{
	char size[32];

	if (st->kind == J_ABORT) {
		maildir_tmp_abort(st->tmp);
		st->tmp = NULL;
		return;
	}
	st->rc = job_write(st);
	if (st->kind == J_COMMIT) {
		if (st->rc == 0)
			st->rc = maildir_tmp_commit(st->tmp, st->envelope);
		else if (st->tmp != NULL)
			maildir_tmp_abort(st->tmp);
		st->tmp = NULL;
	}
	if (st->rc != 0) {
		log_warnx("%s: storing %s: %s", st->tag, st->id,
		    strerror(st->rc));
	} else if (st->kind == J_COMMIT) {
		snprintf(size, sizeof(size), "%zu", st->size);
		qlog_event(st->id, "received", "from", st->from, "to", st->to,
		    "client", st->client, "size", size, NULL);
		stats_add(STATS_RECEIVED, 1);
	}
}

static void *
worker_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		struct maildir_stream *st;

		while (pool.todo == NULL && !pool.stopping)
			pthread_cond_wait(&pool.cv, &pool.mu);
		if ((st = pool.todo) == NULL)
			break;
		if ((pool.todo = st->next) == NULL)
			pool.todo_tail = &pool.todo;
		pthread_mutex_unlock(&pool.mu);

		job_run(st);

		pthread_mutex_lock(&pool.mu);
		st->next = pool.done;
		pool.done = st;
		pthread_mutex_unlock(&pool.mu);
		pool.wake(pool.warg);
		pthread_mutex_lock(&pool.mu);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

int
maildir_stream_start(int n, void (*wake)(void *), void *warg)
{
	pool.wake = wake;
	pool.warg = warg;
	pool.todo_tail = &pool.todo;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	for (; pool.nworkers < n; pool.nworkers++)
		if (work_thread(&pool.worker[pool.nworkers], worker_main,
		    NULL) != 0)
			break;
	return pool.nworkers > 0 ? 0 : -1;
}

void
maildir_stream_reap(void)
{
	struct maildir_stream *list, *next;

	pthread_mutex_lock(&pool.mu);
	list = pool.done;
	pool.done = NULL;
	pthread_mutex_unlock(&pool.mu);
	for (struct maildir_stream *st = list; st != NULL; st = next) {
		next = st->next;
		if (st->dropped && st->kind == J_WRITE && st->tmp != NULL) {
			/* a chunk of a message no one wants: its file goes */
			st->kind = J_ABORT;
			submit(st);
		} else if (st->dropped) {
			stream_free(st);
		} else if (st->kind == J_WRITE) {
			st->kind = J_IDLE;
			st->done(st->arg, st->rc);
		} else {
			st->done(st->arg, st->rc);
			stream_free(st);
		}
	}
}

void
maildir_stream_stop(void)
{
	pthread_mutex_lock(&pool.mu);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
	for (int i = 0; i < pool.nworkers; i++)
		pthread_join(pool.worker[i], NULL);
	pool.nworkers = 0;
	pool.stopping = 0;
	for (struct maildir_stream *st = pool.done, *next; st != NULL;
	    st = next) {
		next = st->next;
		stream_free(st);
	}
	pool.done = NULL;
}

struct maildir_stream *
maildir_stream_new(const char *id, const char *client, const char *tag,
    maildir_stream_done_fn *done, void *arg)
{
	struct maildir_stream *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	snprintf(st->id, sizeof(st->id), "%s", id);
	snprintf(st->client, sizeof(st->client), "%s", client);
	snprintf(st->tag, sizeof(st->tag), "%s", tag);
	st->done = done;
	st->arg = arg;
	return st;
}

size_t
maildir_stream_size(const struct maildir_stream *st)
{
	return st->size;
}

/* v's pieces into st->data, one block for the worker's one write. */
static int
take(struct maildir_stream *st, const struct iovec *v, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += v[i].iov_len;
	if ((st->data = malloc(len ? len : 1)) == NULL)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(st->data + st->len, v[i].iov_base, v[i].iov_len);
		st->len += v[i].iov_len;
	}
	st->size += len;
	return 0;
}

int
maildir_stream_write(struct maildir_stream *st, const struct iovec *v,
    size_t n)
{
	if (take(st, v, n) != 0)
		return ENOMEM;
	st->kind = J_WRITE;
	submit(st);
	return 0;
}

int
maildir_stream_commit(struct maildir_stream *st, const struct iovec *v,
    size_t n, const char *envelope, const char *from, const char *to)
{
	if ((st->envelope = strdup(envelope)) == NULL ||
	    (st->from = strdup(from)) == NULL ||
	    (st->to = strdup(to)) == NULL || take(st, v, n) != 0) {
		free(st->envelope);
		free(st->from);
		free(st->to);
		st->envelope = st->from = st->to = NULL;
		return ENOMEM;
	}
	st->kind = J_COMMIT;
	submit(st);
	return 0;
}

void
maildir_stream_drop(struct maildir_stream *st)
{
	st->dropped = 1;
	if (st->kind != J_IDLE)
		return;		/* maildir_stream_reap sees to it */
	if (st->tmp == NULL) {
		stream_free(st);
		return;
	}
	st->kind = J_ABORT;
	submit(st);
}
