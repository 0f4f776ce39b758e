/*
 * queue.c - the durable outbound queue: submission, per-recipient state,
 * the jobs handed to delivery, and the sent/ and failed/ archives.
 *
 * API: queue.h; queue_log_append (queue_int.h) for qlog.c.
 *
 * On disk every entry is a directory SPOOL/{queue,sent,failed}/ID/ with
 *	message	the bytes to send (never changes)
 *	state	the envelope and per-recipient state, replaced atomically
 *		(format in entry.h)
 *	log	this message's own event lines (qlog.c appends)
 * A submission is built in SPOOL/tmp/ID/ (files fdatasync'd, directory
 * fsync'd), renamed into SPOOL/queue/ and that directory fsync'd with
 * group commit. A finished entry is renamed to sent/ or failed/.
 *
 * Memory: every entry lives in an index by ID; queue/ entries also in an
 * array sorted by ID (oldest first, the order jobs are handed out).
 * Locking: q.mu guards the memory; it is never held across an fsync. Disk
 * work on one entry (state writes, moves, removal) is serialized by the
 * entry's wmu, taken before q.mu. Renames happen with q.mu held so an
 * entry's `where` always names the directory it is in. qlog_event is
 * never called with q.mu held (its hook takes it).
 *
 * Statistics: STATS_QUEUED and STATS_REJECTED per submission,
 * STATS_DELIVERED and STATS_FAILED per recipient.
 *
 * Diagnostics: submission errors as errno values with a `rejected` line;
 * state write failures and damaged entries found at start through
 * log_warn/log_warnx (a damaged entry is rebuilt from its message or moved
 * aside to SPOOL/corrupt/, never dropped).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "lib/strv.h"
#include "queue/entry.h"
#include "queue/qlog.h"
#include "queue/queue.h"
#include "queue/queue_int.h"
#include "queue/spool.h"
#include "queue/stats.h"

static const char *const where_dir[] = {
	[QUEUE_QUEUE] = "queue", [QUEUE_SENT] = "sent",
	[QUEUE_FAILED] = "failed",
};

static struct {
	pthread_mutex_t mu;
	const struct conf *c;
	char *spool;
	int spoolfd, tmpfd;
	struct spool_dir dirs[3];	/* by enum queue_where */
	GHashTable *index;		/* ID -> struct msg */
	GPtrArray *queued;		/* the queue/ entries, sorted by ID */
	void (*wakeup)(void *);
	void *wakeup_arg;
	/* The writer thread: persists reported state off the event thread. */
	pthread_t writer;
	pthread_cond_t writer_cv;
	GQueue unsaved;			/* entries with pending set */
	int writer_stop;
} q = {
	.mu = PTHREAD_MUTEX_INITIALIZER, .writer_cv = PTHREAD_COND_INITIALIZER,
	.spoolfd = -1, .tmpfd = -1,
};

/* ---- entries in memory ---- */

/* Caller holds q.mu. */
static void
msg_unref_locked(struct msg *m)
{
	if (--m->refs == 0)
		entry_free(m);
}

static void
msg_unref(struct msg *m)
{
	pthread_mutex_lock(&q.mu);
	msg_unref_locked(m);
	pthread_mutex_unlock(&q.mu);
}

/* Caller holds q.mu. */
static void
queued_insert(struct msg *m)
{
	guint lo = 0, hi = q.queued->len, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (strcmp(((struct msg *)q.queued->pdata[mid])->id, m->id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	g_ptr_array_insert(q.queued, (gint)lo, m);
}

/* Caller holds q.mu. */
static void
index_add(struct msg *m)
{
	g_hash_table_replace(q.index, m->id, m);
	if (m->where == QUEUE_QUEUE)
		queued_insert(m);
}

/* Caller holds q.mu; drops the index's reference. */
static void
index_remove(struct msg *m)
{
	if (m->where == QUEUE_QUEUE)
		g_ptr_array_remove(q.queued, m);
	g_hash_table_remove(q.index, m->id);
	m->gone = 1;
	msg_unref_locked(m);
}

/* Caller holds q.mu. The entry id in place w, or NULL. */
static struct msg *
find(enum queue_where w, const char *id)
{
	struct msg *m = g_hash_table_lookup(q.index, id);

	return m != NULL && m->where == w ? m : NULL;
}

static int
finished(const struct rcpt *r)
{
	return r->state == QUEUE_RCPT_DELIVERED || r->state == QUEUE_RCPT_FAILED;
}

/* Where a message belongs: queue/ until every recipient is finished, then
 * failed/ if any failed, else sent/. */
static enum queue_where
destination(const struct msg *m)
{
	enum queue_where w = QUEUE_SENT;
	size_t i;

	for (i = 0; i < m->nr; i++) {
		if (!finished(&m->r[i]))
			return QUEUE_QUEUE;
		if (m->r[i].state == QUEUE_RCPT_FAILED)
			w = QUEUE_FAILED;
	}
	return w;
}

static void
wake(void)
{
	void (*fn)(void *);
	void *arg;

	pthread_mutex_lock(&q.mu);
	fn = q.wakeup;
	arg = q.wakeup_arg;
	pthread_mutex_unlock(&q.mu);
	if (fn != NULL)
		fn(arg);
}

void
queue_set_wakeup(void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&q.mu);
	q.wakeup = fn;
	q.wakeup_arg = arg;
	pthread_mutex_unlock(&q.mu);
}

/*
 * save - write m's state into its directory and, when it is finished,
 * move the directory to sent/ or failed/ (rename + fsync of the new
 * parent, shared with concurrent callers). Called without q.mu, holding a
 * reference to m. What is written is the state at the time of writing, so
 * any number of changes before it cost one write.
 */
static int
save(struct msg *m)
{
	char *text = NULL;
	size_t len;
	int dfd = -1, err = 0;
	enum queue_where from, to;

	pthread_mutex_lock(&m->wmu);
	pthread_mutex_lock(&q.mu);
	if (m->gone) {
		pthread_mutex_unlock(&q.mu);
		pthread_mutex_unlock(&m->wmu);
		return 0;
	}
	from = m->where;
	to = from == QUEUE_QUEUE ? destination(m) : from;
	if ((text = entry_serialize(m, &len)) == NULL)
		err = ENOMEM;
	pthread_mutex_unlock(&q.mu);

	/* Only this function and the removals (which take wmu too) rename
	 * the entry, so from stays right while we write. */
	if (!err && (dfd = openat(q.dirs[from].fd[0], m->id,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err = errno;
	if (!err)
		err = spool_replace_file(dfd, "state", text, len);
	if (dfd != -1)
		close(dfd);
	free(text);
	if (err) {
		errno = err;
		log_warn("%s: cannot write its state", m->id);
	}
	if (!err && to != from) {
		pthread_mutex_lock(&q.mu);
		if (renameat(q.dirs[from].fd[0], m->id, q.dirs[to].fd[0], m->id) == -1) {
			err = errno;
		} else {
			if (from == QUEUE_QUEUE)
				g_ptr_array_remove(q.queued, m);
			m->where = to;
			if (to == QUEUE_QUEUE)
				queued_insert(m);
		}
		pthread_mutex_unlock(&q.mu);
		if (!err)
			err = spool_dir_sync(&q.dirs[to]);
		if (err) {
			errno = err;
			log_warn("%s: cannot move to %s/", m->id, where_dir[to]);
		}
	}
	pthread_mutex_unlock(&m->wmu);
	return err;
}

/* Caller holds q.mu. Have the writer thread save m soon. */
static void
save_later(struct msg *m)
{
	if (m->pending)
		return;
	m->pending = 1;
	m->refs++;
	g_queue_push_tail(&q.unsaved, m);
	pthread_cond_signal(&q.writer_cv);
}

/*
 * writer_main - the writer thread. The event thread reports results and
 * must never wait for an fsync, so state writes and moves happen here. It
 * runs until queue_close, which lets it finish what is pending first.
 */
static void *
writer_main(void *arg)
{
	struct msg *m;

	(void)arg;
	pthread_mutex_lock(&q.mu);
	for (;;) {
		if ((m = g_queue_pop_head(&q.unsaved)) == NULL) {
			if (q.writer_stop)
				break;
			pthread_cond_wait(&q.writer_cv, &q.mu);
			continue;
		}
		m->pending = 0;
		pthread_mutex_unlock(&q.mu);
		save(m);
		pthread_mutex_lock(&q.mu);
		msg_unref_locked(m);
	}
	pthread_mutex_unlock(&q.mu);
	return NULL;
}

/*
 * drop - take entry id out of place w and off the disk: renamed into tmp/
 * (so it disappears at once, and a crash midway leaves only tmp/ debris),
 * the old parent fsync'd when durable is set, then removed.
 */
static int
drop(enum queue_where w, const char *id, int durable)
{
	struct msg *m;
	int err = 0;

	pthread_mutex_lock(&q.mu);
	if ((m = find(w, id)) == NULL) {
		pthread_mutex_unlock(&q.mu);
		return ENOENT;
	}
	m->refs++;
	pthread_mutex_unlock(&q.mu);

	pthread_mutex_lock(&m->wmu);
	pthread_mutex_lock(&q.mu);
	if (m->gone || m->where != w) {
		err = ENOENT;
	} else {
		if (renameat(q.dirs[w].fd[0], m->id, q.tmpfd, m->id) == -1)
			err = errno;
		else
			index_remove(m);
	}
	pthread_mutex_unlock(&q.mu);
	if (!err) {
		if (durable)
			err = spool_dir_sync(&q.dirs[w]);
		spool_remove_tree(q.tmpfd, m->id);
	}
	pthread_mutex_unlock(&m->wmu);
	msg_unref(m);
	return err == ENOENT ? ENOENT : err ? EIO : 0;
}

/* ---- submission ---- */

void
queue_reject(const char *name, const char *reason)
{
	qlog_event(NULL, "rejected", "name", name, "reason", reason, NULL);
	stats_add(STATS_REJECTED, 1);
}

/*
 * store - the durable part of a submission: SPOOL/tmp/ID/{message,state},
 * each fdatasync'd, the directory fsync'd, renamed into queue/, queue/
 * fsync'd (group commit). Sets m->id. Returns 0 or an errno.
 */
static int
store(struct msg *m, const struct submit_msg *sm)
{
	char *state;
	size_t len;
	int dfd, err;

	for (;;) {
		queue_id_new(m->id);
		if (mkdirat(q.tmpfd, m->id, 0750) == 0)
			break;
		if (errno != EEXIST)
			return errno;
	}
	pthread_mutex_lock(&q.mu);
	state = entry_serialize(m, &len);
	pthread_mutex_unlock(&q.mu);
	if (state == NULL) {
		spool_remove_tree(q.tmpfd, m->id);
		return ENOMEM;
	}
	dfd = openat(q.tmpfd, m->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = dfd == -1 ? errno : 0;
	if (!err)
		err = spool_write_file(dfd, "message", sm->data, sm->len);
	if (!err)
		err = spool_write_file(dfd, "state", state, len);
	if (!err && fsync(dfd) == -1)
		err = errno;
	if (dfd != -1)
		close(dfd);
	free(state);
	if (!err && renameat(q.tmpfd, m->id, q.dirs[QUEUE_QUEUE].fd[0], m->id) == -1)
		err = errno;
	if (err) {
		spool_remove_tree(q.tmpfd, m->id);
		return err;
	}
	if ((err = spool_dir_sync(&q.dirs[QUEUE_QUEUE])) != 0) {
		/* Not known to be durable: refuse it whole rather than risk
		 * sending what the writer will submit again. */
		spool_remove_tree(q.dirs[QUEUE_QUEUE].fd[0], m->id);
		return err;
	}
	return 0;
}

/* The comma list of recipients for the `queued` line. */
static char *
rcpt_list(const struct submit_msg *sm)
{
	char *buf = NULL;
	size_t len, i;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	for (i = 0; i < sm->nrcpt; i++)
		fprintf(f, "%s%s", i ? "," : "", sm->rcpts[i]);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
queue_submit(const char *data, size_t len, const char *name,
    char id[QUEUE_ID_MAX])
{
	struct submit_msg sm;
	char reason[512], size[32], *rcpts;
	struct msg *m = NULL;
	size_t i;
	int err;

	if (q.index == NULL)
		return EIO;
	err = submit_prepare(q.c, data, len, &sm, reason, sizeof(reason));
	if (err == ENOMEM) {
		snprintf(reason, sizeof(reason), "out of memory");
		err = EIO;
	}
	if (!err && ((m = entry_new("")) == NULL ||
	    (m->from = strdup(sm.from)) == NULL ||
	    (m->name = strdup(name ? name : "")) == NULL)) {
		snprintf(reason, sizeof(reason), "out of memory");
		err = EIO;
	}
	if (!err) {
		m->arrival = time(NULL);
		m->size = sm.len;
		m->eightbit = sm.eightbit;
		for (i = 0; !err && i < sm.nrcpt; i++)
			if (entry_add_rcpt(m, sm.rcpts[i]) != 0)
				err = EIO;
		if (err)
			snprintf(reason, sizeof(reason), "out of memory");
	}
	if (!err && (err = store(m, &sm)) != 0) {
		snprintf(reason, sizeof(reason), "cannot store: %s",
		    strerror(err));
		err = spool_store_errno(err);
	}
	if (err) {
		if (m != NULL)
			entry_free(m);
		submit_free(&sm);
		queue_reject(name, reason);
		return err;
	}
	snprintf(id, QUEUE_ID_MAX, "%s", m->id);
	pthread_mutex_lock(&q.mu);
	index_add(m);
	pthread_mutex_unlock(&q.mu);

	snprintf(size, sizeof(size), "%zu", sm.len);
	rcpts = rcpt_list(&sm);
	qlog_event(id, "queued", "from", sm.from, "rcpts", rcpts, "size", size,
	    "name", name, NULL);
	free(rcpts);
	submit_free(&sm);
	stats_add(STATS_QUEUED, 1);
	wake();
	return 0;
}

/* ---- the view ---- */

/* An archived entry past keep: gone for readers even before the sweep. */
static int
expired(const struct msg *m, time_t now)
{
	return m->where != QUEUE_QUEUE && now - m->done >= q.c->keep;
}

int
queue_list(enum queue_where w, char ***ids, size_t *n)
{
	GHashTableIter it;
	gpointer key, val;
	char **out;
	size_t k = 0;

	if (w != QUEUE_QUEUE)
		queue_expire(time(NULL));
	pthread_mutex_lock(&q.mu);
	if (q.index == NULL) {
		pthread_mutex_unlock(&q.mu);
		*ids = NULL;
		*n = 0;
		return 0;
	}
	out = calloc(g_hash_table_size(q.index) + 1, sizeof(char *));
	if (out == NULL) {
		pthread_mutex_unlock(&q.mu);
		return ENOMEM;
	}
	g_hash_table_iter_init(&it, q.index);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		if (((struct msg *)val)->where != w)
			continue;
		if ((out[k] = strdup(key)) == NULL) {
			pthread_mutex_unlock(&q.mu);
			strv_free(out, k);
			return ENOMEM;
		}
		k++;
	}
	pthread_mutex_unlock(&q.mu);
	qsort(out, k, sizeof(char *), strv_cmp);
	*ids = out;
	*n = k;
	return 0;
}

int
queue_lookup(enum queue_where w, const char *id, time_t *mtime)
{
	struct msg *m;
	int err = ENOENT, old = 0;

	pthread_mutex_lock(&q.mu);
	if (q.index != NULL && (m = find(w, id)) != NULL) {
		if (mtime != NULL)
			*mtime = w == QUEUE_QUEUE ? m->arrival : m->done;
		old = expired(m, time(NULL));
		err = old ? ENOENT : 0;
	}
	pthread_mutex_unlock(&q.mu);
	if (old)
		drop(w, id, 0);
	return err;
}

static void
iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The status TEXT: one line, whatever the reply held. */
static void
put_text(FILE *f, const char *s)
{
	if (s == NULL || *s == '\0') {
		fputc('-', f);
		return;
	}
	for (; *s; s++)
		fputc((unsigned char)*s < ' ' || *s == 0x7f ? ' ' : *s, f);
}

/* Caller holds q.mu. The text files rendered from memory. */
static int
render_memory(const struct msg *m, const char *file, char **buf, size_t *len)
{
	const struct rcpt *r;
	char when[32];
	size_t i;
	FILE *f;

	if (strcmp(file, "envelope") != 0 && strcmp(file, "status") != 0 &&
	    strcmp(file, "name") != 0)
		return ENOENT;
	*buf = NULL;
	if ((f = open_memstream(buf, len)) == NULL)
		return ENOMEM;
	if (strcmp(file, "name") == 0) {
		fprintf(f, "%s\n", m->name);
	} else if (strcmp(file, "envelope") == 0) {
		fprintf(f, "from %s\n", m->from[0] ? m->from : "<>");
		for (i = 0; i < m->nr; i++)
			fprintf(f, "to %s\n", m->r[i].addr);
	} else {
		for (i = 0; i < m->nr; i++) {
			r = &m->r[i];
			if (r->state == QUEUE_RCPT_QUEUED ||
			    r->state == QUEUE_RCPT_DEFERRED)
				iso_time(r->next, when, sizeof(when));
			else
				snprintf(when, sizeof(when), "-");
			fprintf(f, "%s %s %d %s %s ", r->addr,
			    entry_state_name(r->state), r->attempts, when,
			    r->code[0] ? r->code : "-");
			put_text(f, r->text);
			fputc('\n', f);
		}
	}
	if (fclose(f) != 0) {
		free(*buf);
		*buf = NULL;
		return ENOMEM;
	}
	return 0;
}

/* Caller holds q.mu: where an entry is cannot change meanwhile. */
static void
entry_path(const struct msg *m, const char *file, char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/%s/%s/%s", q.spool, where_dir[m->where],
	    m->id, file);
}

int
queue_render(enum queue_where w, const char *id, const char *file,
    char **buf, size_t *len, char path[PATH_MAX])
{
	char p[PATH_MAX];
	struct msg *m;
	int fd, err;

	*buf = NULL;
	*len = 0;
	pthread_mutex_lock(&q.mu);
	if (q.index == NULL || (m = find(w, id)) == NULL) {
		pthread_mutex_unlock(&q.mu);
		return ENOENT;
	}
	if (strcmp(file, "message") == 0 && path != NULL) {
		entry_path(m, "message", p);
		snprintf(path, PATH_MAX, "%s", p);
		*len = m->size;
		err = 0;
	} else if (strcmp(file, "message") == 0 || strcmp(file, "log") == 0) {
		/* Read under q.mu so a concurrent move cannot pull the file
		 * away; both are small next to what a lookup costs. */
		fd = openat(q.dirs[w].fd[0], m->id, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		err = fd == -1 ? errno : spool_read_file(fd, file, buf, len);
		if (fd != -1)
			close(fd);
		if (err == ENOENT && file[0] == 'l')
			err = (*buf = strdup("")) == NULL ? ENOMEM : 0;
	} else {
		err = render_memory(m, file, buf, len);
	}
	pthread_mutex_unlock(&q.mu);
	return err;
}

int
queue_file_size(enum queue_where w, const char *id, const char *file,
    size_t *len)
{
	char p[PATH_MAX], *buf;
	struct stat st;
	struct msg *m;
	int err;

	pthread_mutex_lock(&q.mu);
	if (q.index == NULL || (m = find(w, id)) == NULL) {
		err = ENOENT;
	} else if (strcmp(file, "message") == 0) {
		*len = m->size;
		err = 0;
	} else if (strcmp(file, "log") == 0) {
		entry_path(m, "log", p);
		*len = stat(p, &st) == 0 ? (size_t)st.st_size : 0;
		err = 0;
	} else if ((err = render_memory(m, file, &buf, len)) == 0) {
		free(buf);
	}
	pthread_mutex_unlock(&q.mu);
	return err;
}

/* ---- control ---- */

/* Caller holds q.mu. Deferred recipients of m due at now. */
static int
make_due(struct msg *m, time_t now)
{
	size_t i;
	int n = 0;

	for (i = 0; i < m->nr; i++) {
		if (m->r[i].state == QUEUE_RCPT_DEFERRED && m->r[i].next > now) {
			m->r[i].next = now;
			n++;
		}
	}
	return n;
}

int
queue_ctl(enum queue_where w, const char *id, const char *verb)
{
	struct msg *m;
	int err;

	if (strcmp(verb, "delete") == 0) {
		/* only a queued message could be sent if the drop were lost */
		if ((err = drop(w, id, w == QUEUE_QUEUE)) == 0)
			qlog_event(id, "deleted", NULL);
		return err;
	}
	/* a finished entry has nothing left to try */
	if (strcmp(verb, "retry") != 0 || w != QUEUE_QUEUE)
		return EINVAL;
	pthread_mutex_lock(&q.mu);
	m = q.index ? find(QUEUE_QUEUE, id) : NULL;
	if (m != NULL)
		make_due(m, time(NULL));
	pthread_mutex_unlock(&q.mu);
	if (m == NULL)
		return ENOENT;
	wake();
	return 0;
}

int
queue_forget(enum queue_where w, const char *id)
{
	if (w == QUEUE_QUEUE)
		return EPERM;
	return drop(w, id, 0);
}

void
queue_flush(void)
{
	time_t now = time(NULL);
	guint i;

	pthread_mutex_lock(&q.mu);
	for (i = 0; q.queued != NULL && i < q.queued->len; i++)
		make_due(q.queued->pdata[i], now);
	pthread_mutex_unlock(&q.mu);
	wake();
}

void
queue_expire(time_t now)
{
	GHashTableIter it;
	gpointer val;
	GPtrArray *old = g_ptr_array_new_with_free_func(g_free);
	struct msg *m;
	guint i;

	pthread_mutex_lock(&q.mu);
	if (q.index != NULL) {
		g_hash_table_iter_init(&it, q.index);
		while (g_hash_table_iter_next(&it, NULL, &val)) {
			m = val;
			if (expired(m, now))
				g_ptr_array_add(old, g_strdup(m->id));
		}
	}
	pthread_mutex_unlock(&q.mu);
	/* Whichever of sent/ or failed/ it is in. */
	for (i = 0; i < old->len; i++)
		if (drop(QUEUE_SENT, old->pdata[i], 0) == ENOENT)
			drop(QUEUE_FAILED, old->pdata[i], 0);
	g_ptr_array_free(old, TRUE);
}

void
queue_gauges(struct queue_gauges *g)
{
	const struct msg *m;
	int deferred, sending;
	size_t j;
	guint i;

	memset(g, 0, sizeof(*g));
	pthread_mutex_lock(&q.mu);
	for (i = 0; q.queued != NULL && i < q.queued->len; i++) {
		m = q.queued->pdata[i];
		deferred = sending = 0;
		for (j = 0; j < m->nr; j++) {
			deferred |= m->r[j].state == QUEUE_RCPT_DEFERRED;
			sending |= m->r[j].state == QUEUE_RCPT_SENDING;
		}
		g->queue++;
		g->deferred += deferred;
		g->sending += sending;
	}
	pthread_mutex_unlock(&q.mu);
}

/* ---- delivery ---- */

static int
due(const struct rcpt *r, time_t now)
{
	return (r->state == QUEUE_RCPT_QUEUED ||
	    r->state == QUEUE_RCPT_DEFERRED) && r->next <= now;
}

static void
job_free(struct queue_job *j)
{
	size_t i;

	for (i = 0; i < j->nrcpt; i++)
		free(j->rcpts[i]);
	free(j->rcpts);
	free(j->from);
	free(j->domain);
	free(j->path);
	free(j);
}

/* Caller holds q.mu. The job for the due recipients of m that go to the
 * same place as recipient `first`, now marked sending. */
static struct queue_job *
job_make(struct msg *m, size_t first, time_t now, int relay)
{
	char path[PATH_MAX];
	struct queue_job *j;
	struct rcpt *r;
	size_t i;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->rcpts = calloc(m->nr, sizeof(char *))) == NULL) {
		free(j);
		return NULL;
	}
	snprintf(j->id, sizeof(j->id), "%s", m->id);
	entry_path(m, "message", path);
	j->from = strdup(m->from);
	j->path = strdup(path);
	j->domain = relay ? NULL : strdup(m->r[first].domain);
	j->size = m->size;
	j->eightbit = m->eightbit;
	if (j->from == NULL || j->path == NULL || (!relay && !j->domain)) {
		job_free(j);
		return NULL;
	}
	for (i = first; i < m->nr; i++) {
		r = &m->r[i];
		if (!due(r, now) ||
		    (!relay && strcmp(r->domain, m->r[first].domain) != 0))
			continue;
		if ((j->rcpts[j->nrcpt] = strdup(r->addr)) == NULL) {
			job_free(j);
			return NULL;
		}
		j->nrcpt++;
	}
	/* Mark only once the job is whole, so a failed allocation leaves
	 * every recipient as it was. */
	for (i = first; i < m->nr; i++) {
		r = &m->r[i];
		if (due(r, now) &&
		    (relay || strcmp(r->domain, m->r[first].domain) == 0)) {
			r->before = r->state;
			r->state = QUEUE_RCPT_SENDING;
		}
	}
	return j;
}

size_t
queue_take_due(time_t now, struct queue_job **jobs, size_t max,
    time_t *next)
{
	struct queue_job *j;
	struct msg *m;
	time_t soon = 0;
	size_t n = 0, i, k;
	guint mi;
	int relay;

	pthread_mutex_lock(&q.mu);
	relay = q.c != NULL && q.c->relayhost.host[0] != '\0';
	for (mi = 0; q.queued != NULL && mi < q.queued->len; mi++) {
		m = q.queued->pdata[mi];
		for (i = 0; i < m->nr; i++) {
			if (m->r[i].state != QUEUE_RCPT_QUEUED &&
			    m->r[i].state != QUEUE_RCPT_DEFERRED)
				continue;
			if (!due(&m->r[i], now) || n == max ||
			    (j = job_make(m, i, now, relay)) == NULL) {
				/* Still pending: when it is due, or now if
				 * it is due but could not be handed out. */
				if (soon == 0 || m->r[i].next < soon)
					soon = m->r[i].next < now ?
					    now : m->r[i].next;
				continue;
			}
			jobs[n++] = j;
		}
	}
	pthread_mutex_unlock(&q.mu);
	*next = soon;
	for (i = 0; i < n; i++)
		for (k = 0; k < jobs[i]->nrcpt; k++)
			qlog_event(jobs[i]->id, "sending", "to",
			    jobs[i]->rcpts[k], "domain", jobs[i]->domain, NULL);
	return n;
}

void
queue_report(const struct queue_job *job, const char *rcpt, int class,
    const char *code, const char *text, const char *relay)
{
	char why[1024], age[32], when[32];
	const char *event, *logtext = text;
	struct rcpt *r = NULL;
	struct msg *m;
	time_t now = time(NULL);
	size_t i;
	int retry = 0;

	pthread_mutex_lock(&q.mu);
	m = q.index ? find(QUEUE_QUEUE, job->id) : NULL;
	for (i = 0; m != NULL && i < m->nr && r == NULL; i++)
		if (m->r[i].state == QUEUE_RCPT_SENDING &&
		    strcmp(m->r[i].addr, rcpt) == 0)
			r = &m->r[i];
	if (r == NULL) {
		/* Deleted meanwhile, or reported twice. */
		pthread_mutex_unlock(&q.mu);
		log_debug("%s: no recipient %s being sent", job->id, rcpt);
		return;
	}
	r->attempts++;
	snprintf(r->code, sizeof(r->code), "%s", code ? code : "");
	if (class == 2) {
		r->state = QUEUE_RCPT_DELIVERED;
		event = "delivered";
	} else if (class == 5) {
		r->state = QUEUE_RCPT_FAILED;
		event = "failed";
	} else if (schedule_expired(q.c, m->arrival, now)) {
		r->state = QUEUE_RCPT_FAILED;
		event = "failed";
		schedule_format_duration(now - m->arrival, age, sizeof(age));
		snprintf(why, sizeof(why), "expired after %s in the queue: %s",
		    age, text ? text : "-");
		logtext = why;
	} else {
		r->state = QUEUE_RCPT_DEFERRED;
		r->next = schedule_next(q.c, r->attempts, now);
		/* One last try when max_age is reached, so a recipient
		 * fails then rather than a whole retry delay later. */
		if (r->next > m->arrival + q.c->max_age)
			r->next = m->arrival + q.c->max_age;
		event = "deferred";
		retry = 1;
	}
	free(r->text);
	r->text = logtext ? strdup(logtext) : NULL;
	if (destination(m) != QUEUE_QUEUE)
		m->done = now;
	iso_time(r->next, when, sizeof(when));
	save_later(m);
	pthread_mutex_unlock(&q.mu);

	if (retry)
		qlog_event(job->id, event, "to", rcpt, "relay", relay, "code",
		    code, "text", logtext, "next", when, NULL);
	else
		qlog_event(job->id, event, "to", rcpt, "relay", relay, "code",
		    code, "text", logtext, NULL);
	if (class == 2)
		stats_add(STATS_DELIVERED, 1);
	else if (!retry)
		stats_add(STATS_FAILED, 1);
	if (retry)
		wake();
}

void
queue_job_done(struct queue_job *job)
{
	GPtrArray *lost = g_ptr_array_new();
	struct msg *m;
	size_t i, k;
	guint l;

	pthread_mutex_lock(&q.mu);
	m = q.index ? find(QUEUE_QUEUE, job->id) : NULL;
	for (k = 0; m != NULL && k < job->nrcpt; k++)
		for (i = 0; i < m->nr; i++)
			if (m->r[i].state == QUEUE_RCPT_SENDING &&
			    strcmp(m->r[i].addr, job->rcpts[k]) == 0)
				g_ptr_array_add(lost, job->rcpts[k]);
	pthread_mutex_unlock(&q.mu);
	for (l = 0; l < lost->len; l++)
		queue_report(job, lost->pdata[l], 4, "4.4.2",
		    "delivery ended without a result", NULL);
	g_ptr_array_free(lost, TRUE);
	job_free(job);
}

/*
 * queue_job_release - at shutdown: the job's recipients still being sent
 * go back to what they were, with no attempt counted and no new due time,
 * so the next start tries them again at once as interface.md promises.
 * Nothing was written to disk when they were taken, so nothing is now.
 */
void
queue_job_release(struct queue_job *job)
{
	struct msg *m;
	size_t i, k;

	pthread_mutex_lock(&q.mu);
	m = q.index ? find(QUEUE_QUEUE, job->id) : NULL;
	for (k = 0; m != NULL && k < job->nrcpt; k++)
		for (i = 0; i < m->nr; i++)
			if (m->r[i].state == QUEUE_RCPT_SENDING &&
			    strcmp(m->r[i].addr, job->rcpts[k]) == 0)
				m->r[i].state = m->r[i].before;
	pthread_mutex_unlock(&q.mu);
	job_free(job);
}

/*
 * queue_log_append - the path is taken under q.mu but the file is opened
 * and written outside it (creating it costs a journal operation). If the
 * entry moves meanwhile, the open fails for want of the directory and is
 * tried again at the new place; an fd opened before the move follows it.
 */
void
queue_log_append(const char *id, const char *line, size_t len)
{
	struct msg *m;
	char p[PATH_MAX];
	int fd, tries;

	for (tries = 0; tries < 3; tries++) {
		pthread_mutex_lock(&q.mu);
		m = q.index ? g_hash_table_lookup(q.index, id) : NULL;
		if (m != NULL)
			entry_path(m, "log", p);
		pthread_mutex_unlock(&q.mu);
		if (m == NULL)
			return;
		fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd == -1 && errno == ENOENT)
			continue;
		if (fd == -1 || write(fd, line, len) != (ssize_t)len)
			log_warn("%s: cannot append", p);
		if (fd != -1)
			close(fd);
		return;
	}
}

/* ---- start and stop ---- */

/* Put a damaged entry where it does no harm and a person can look. */
static void
move_aside(enum queue_where w, const char *id, const char *why)
{
	int cfd = -1;

	if (mkdirat(q.spoolfd, "corrupt", 0750) == 0 || errno == EEXIST)
		cfd = openat(q.spoolfd, "corrupt", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	if (cfd == -1 || renameat(q.dirs[w].fd[0], id, cfd, id) == -1)
		log_warn("%s/%s: %s; cannot move it to corrupt/",
		    where_dir[w], id, why);
	else
		log_warnx("%s/%s: %s; moved to corrupt/", where_dir[w], id, why);
	if (cfd != -1)
		close(cfd);
}

/*
 * rebuild - a queue/ entry whose state is missing or unreadable still
 * holds an acknowledged message: derive the envelope from its header
 * again, as at submission (Bcc: recipients are gone with the field).
 */
static int
rebuild(struct msg *m, int dfd, const struct stat *st)
{
	struct submit_msg sm;
	char reason[512], *data, *state;
	size_t len, i;
	int err;

	if ((err = spool_read_file(dfd, "message", &data, &len)) != 0)
		return err;
	err = submit_prepare(q.c, data, len, &sm, reason, sizeof(reason));
	free(data);
	if (err)
		return err;
	m->from = strdup(sm.from);
	m->name = strdup("");
	m->arrival = st->st_mtime;
	m->eightbit = sm.eightbit;
	m->size = (size_t)st->st_size;
	err = m->from == NULL || m->name == NULL ? ENOMEM : 0;
	for (i = 0; !err && i < sm.nrcpt; i++)
		err = entry_add_rcpt(m, sm.rcpts[i]);
	submit_free(&sm);
	if (!err && (state = entry_serialize(m, &len)) != NULL) {
		err = spool_replace_file(dfd, "state", state, len);
		free(state);
	}
	if (!err)
		log_warnx("queue/%s: state rebuilt from the message header",
		    m->id);
	return err;
}

static void
load_entry(enum queue_where w, const char *id)
{
	char *text = NULL;
	struct stat st;
	struct msg *m;
	size_t len;
	int dfd, ok;

	enum queue_where had = QUEUE_QUEUE;

	pthread_mutex_lock(&q.mu);
	if ((m = g_hash_table_lookup(q.index, id)) != NULL)
		had = m->where;
	pthread_mutex_unlock(&q.mu);
	if (m != NULL) {
		/* Already here: a finished entry found in queue/ was just
		 * moved to this place. Elsewhere only a hand-made copy can
		 * do this: keep the first found (queue/ is loaded first, so
		 * nothing pending is lost). */
		if (had != w)
			move_aside(w, id, "the same ID is already loaded");
		return;
	}
	dfd = openat(q.dirs[w].fd[0], id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		log_warn("%s/%s: not loaded", where_dir[w], id);
		return;
	}
	unlinkat(dfd, "state.tmp", 0);
	if (fstatat(dfd, "message", &st, 0) == -1) {
		close(dfd);
		move_aside(w, id, "no message file");
		return;
	}
	if ((m = entry_new(id)) == NULL) {
		close(dfd);
		return;
	}
	ok = spool_read_file(dfd, "state", &text, &len) == 0 &&
	    entry_parse(m, text) == 0;
	free(text);
	if (!ok && w == QUEUE_QUEUE) {
		entry_free(m);
		ok = (m = entry_new(id)) != NULL && rebuild(m, dfd, &st) == 0;
	}
	close(dfd);
	if (!ok) {
		if (m != NULL)
			entry_free(m);
		move_aside(w, id, "unreadable state");
		return;
	}
	m->where = w;
	m->size = (size_t)st.st_size;
	queue_id_seen(id);
	pthread_mutex_lock(&q.mu);
	index_add(m);
	pthread_mutex_unlock(&q.mu);
	/* Stopped between writing the last result and moving the entry. */
	if (w == QUEUE_QUEUE && destination(m) != QUEUE_QUEUE) {
		if (m->done == 0)
			m->done = time(NULL);
		save(m);
	}
}

static int
load_dir(enum queue_where w)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = openat(q.spoolfd, where_dir[w], O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!queue_id_valid(de->d_name))
			log_warnx("%s/%s: not a queue entry; left alone",
			    where_dir[w], de->d_name);
		else
			load_entry(w, de->d_name);
	}
	closedir(dir);
	return 0;
}

/* Whatever a stop left half-written in tmp/ was never acknowledged. */
static int
clean_tmp(void)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = dup(q.tmpfd)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			spool_remove_tree(q.tmpfd, de->d_name);
	closedir(dir);
	return 0;
}

int
queue_open(const struct conf *c)
{
	static const char *const sub[] = { "tmp", "queue", "sent", "failed" };
	enum queue_where w;
	size_t i;
	int err = 0;

	if (g_mkdir_with_parents(c->spool, 0750) == -1)
		return -1;
	if ((q.spoolfd = open(c->spool, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (mkdirat(q.spoolfd, sub[i], 0750) == -1 && errno != EEXIST)
			goto fail;
	if (fsync(q.spoolfd) == -1)
		goto fail;
	if ((q.tmpfd = openat(q.spoolfd, "tmp", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || clean_tmp() == -1)
		goto fail;
	for (w = QUEUE_QUEUE; w <= QUEUE_FAILED; w++) {
		if ((err = spool_dir_open(&q.dirs[w], q.spoolfd,
		    where_dir[w])) != 0) {
			while (w-- > QUEUE_QUEUE)
				spool_dir_close(&q.dirs[w]);
			errno = err;
			goto fail;
		}
	}
	q.c = c;
	q.spool = strdup(c->spool);
	pthread_mutex_lock(&q.mu);
	q.index = g_hash_table_new(g_str_hash, g_str_equal);
	q.queued = g_ptr_array_new();
	pthread_mutex_unlock(&q.mu);
	for (w = QUEUE_QUEUE; w <= QUEUE_FAILED; w++)
		if (load_dir(w) == -1)
			log_warn("%s/%s: cannot read", c->spool, where_dir[w]);
	q.writer_stop = 0;
	if ((err = pthread_create(&q.writer, NULL, writer_main, NULL)) != 0) {
		q.writer_stop = 1;
		queue_close();
		errno = err;
		return -1;
	}
	return 0;
fail:
	err = errno;
	if (q.tmpfd != -1)
		close(q.tmpfd);
	close(q.spoolfd);
	q.tmpfd = q.spoolfd = -1;
	errno = err;
	return -1;
}

void
queue_close(void)
{
	GHashTableIter it;
	gpointer val;
	enum queue_where w;
	struct msg *m;

	pthread_mutex_lock(&q.mu);
	if (q.index == NULL) {
		pthread_mutex_unlock(&q.mu);
		return;
	}
	if (!q.writer_stop) {
		/* Let the writer save what is pending, then end it. */
		q.writer_stop = 1;
		pthread_cond_signal(&q.writer_cv);
		pthread_mutex_unlock(&q.mu);
		pthread_join(q.writer, NULL);
		pthread_mutex_lock(&q.mu);
	}
	/* Reported after the writer ended: tried again after a restart. */
	while ((m = g_queue_pop_head(&q.unsaved)) != NULL) {
		m->pending = 0;
		msg_unref_locked(m);
	}
	g_hash_table_iter_init(&it, q.index);
	while (g_hash_table_iter_next(&it, NULL, &val))
		msg_unref_locked(val);
	g_hash_table_destroy(q.index);
	g_ptr_array_free(q.queued, TRUE);
	q.index = NULL;
	q.queued = NULL;
	q.wakeup = NULL;
	pthread_mutex_unlock(&q.mu);
	for (w = QUEUE_QUEUE; w <= QUEUE_FAILED; w++)
		spool_dir_close(&q.dirs[w]);
	close(q.tmpfd);
	close(q.spoolfd);
	q.tmpfd = q.spoolfd = -1;
	free(q.spool);
	q.spool = NULL;
}
