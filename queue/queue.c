/*
 * queue.c - the durable outbound queue: its state in memory (struct
 * queue_state, the index), submission, the moves of an entry between
 * places, removal, and opening and closing the spool. The other roles
 * live beside it: writer.c (the writer thread: saving states and moving
 * finished entries to sent/ or failed/, in batches), view.c
 * (what the fs sees: listing, entry files, verbs), jobs.c (delivery
 * jobs and their results), local.c (delivery into the inbox), bounce.c
 * (delivery status notifications), load.c (reloading the spool at start).
 *
 * API: queue.h; queue_log_append (queue_int.h) for qlog.c; the shared
 * state and operations for view.c, jobs.c and load.c in core.h.
 *
 * On disk every entry is a directory SPOOL/{queue,sent,failed}/ID/ with
 *	message	the bytes to send (never changes)
 *	state	the envelope and per-recipient state, replaced atomically
 *		(format in entry.h)
 *	log	this message's own event lines (qlog.c appends)
 *	seal-SIZE-CRC	a second name of message recording its size and
 *		CRC-32 (check.c; the state records them too)
 * A submission is built in a spare directory made beforehand (spare.c,
 * SPOOL/spare/N with the three files empty) or else in SPOOL/tmp/ID/,
 * renamed into SPOOL/queue/ and made durable with its contents by one
 * syncfs round (two for a directory whose own names are not durable yet:
 * see store); rounds are shared by every writer waiting at once (group
 * commit, spool.h). What a crash leaves of a submission cut short is
 * kept from being sent damaged by its checksum (check.c).
 * A finished entry is renamed to sent/ or failed/ (by the writer thread,
 * in batches sharing two rounds).
 *
 * Memory: every entry lives in an index by ID; queue/ entries also in an
 * array sorted by ID (oldest first, the order jobs are handed out).
 * Locking: queue.mu guards the memory; it is never held across an
 * fsync. Disk work on one entry (state writes, moves, removal) is
 * serialized by the entry's wmu, taken before queue.mu. Renames happen
 * with queue.mu held so an entry's `where` always names the directory it
 * is in. qlog_event is never called with queue.mu held (its hook takes
 * it).
 *
 * Statistics: STATS_QUEUED and STATS_REJECTED per submission.
 *
 * Diagnostics: submission errors as errno values with a `rejected` line;
 * state write failures through log_warn.
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
#include "queue/core.h"
#include "queue/qlog.h"
#include "queue/queue_int.h"
#include "queue/spare.h"
#include "queue/stats.h"

const char *const queue_dir_names[] = {
	[QUEUE_QUEUE] = "queue", [QUEUE_SENT] = "sent",
	[QUEUE_FAILED] = "failed",
};

struct queue_state queue = {
	.mu = PTHREAD_MUTEX_INITIALIZER, .writer_cv = PTHREAD_COND_INITIALIZER,
	.local_cv = PTHREAD_COND_INITIALIZER,
	.spoolfd = -1, .tmpfd = -1,
};

/* ---- entries in memory ---- */

/* Caller holds queue.mu. */
void
queue_msg_unref(struct msg *m)
{
	if (--m->refs == 0)
		entry_free(m);
}

static void
msg_unref(struct msg *m)
{
	pthread_mutex_lock(&queue.mu);
	queue_msg_unref(m);
	pthread_mutex_unlock(&queue.mu);
}

/* Caller holds queue.mu. */
static void
queued_insert(struct msg *m)
{
	guint lo = 0, hi = queue.queued->len, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (strcmp(((struct msg *)queue.queued->pdata[mid])->id, m->id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	g_ptr_array_insert(queue.queued, (gint)lo, m);
}

/* Caller holds queue.mu. */
void
queue_index_add(struct msg *m)
{
	g_hash_table_replace(queue.index, m->id, m);
	if (m->where == QUEUE_QUEUE) {
		queued_insert(m);
		queue_due_update(m);
	}
}

/* Caller holds queue.mu; drops the index's reference. */
static void
index_remove(struct msg *m)
{
	if (m->where == QUEUE_QUEUE)
		g_ptr_array_remove(queue.queued, m);
	g_hash_table_remove(queue.index, m->id);
	m->gone = 1;
	queue_msg_unref(m);
}

/* Caller holds queue.mu and m->wmu. Rename m's directory into place
 * to: 0 or an errno. */
int
queue_entry_move(struct msg *m, enum queue_where to)
{
	if (renameat(queue.dirs[m->where].fd[0], m->id, queue.dirs[to].fd[0],
	    m->id) == -1)
		return errno;
	if (m->where == QUEUE_QUEUE)
		g_ptr_array_remove(queue.queued, m);
	m->where = to;
	if (to == QUEUE_QUEUE)
		queued_insert(m);
	return 0;
}

/* Caller holds queue.mu. The entry id in place w, or NULL. */
struct msg *
queue_find(enum queue_where w, const char *id)
{
	struct msg *m = g_hash_table_lookup(queue.index, id);

	return m != NULL && m->where == w ? m : NULL;
}

static int
finished(const struct rcpt *r)
{
	return r->state == QUEUE_RCPT_DELIVERED || r->state == QUEUE_RCPT_FAILED;
}

/* Where a message belongs: queue/ until every recipient is finished, then
 * failed/ if any failed, else sent/. */
enum queue_where
queue_destination(const struct msg *m)
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

/* queue_wake; the local deliverer only when local is set (a thread
 * woken for nothing is two context switches per message submitted). */
static void
wake(int local)
{
	void (*fn)(void *);
	void *arg;

	pthread_mutex_lock(&queue.mu);
	fn = queue.wakeup;
	arg = queue.wakeup_arg;
	if (local)
		queue_local_kick();
	pthread_mutex_unlock(&queue.mu);
	if (fn != NULL)
		fn(arg);
}

void
queue_wake(void)
{
	wake(1);
}

/* Caller holds queue.mu. 1 if a recipient of m is delivered here. */
static int
has_local(const struct msg *m)
{
	size_t i;

	for (i = 0; i < m->nr; i++)
		if (queue_rcpt_is_local(&m->r[i]))
			return 1;
	return 0;
}

void
queue_set_wakeup(void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&queue.mu);
	queue.wakeup = fn;
	queue.wakeup_arg = arg;
	pthread_mutex_unlock(&queue.mu);
}

static void (*leaving)(enum queue_where, const char *, int);

void
queue_set_leaving(void (*fn)(enum queue_where, const char *, int))
{
	leaving = fn;
}

void
queue_leaving(enum queue_where w, const char *id, int done)
{
	if (leaving != NULL)
		leaving(w, id, done);
}

static void (*changed)(const char *);

void
queue_set_changed(void (*fn)(const char *))
{
	changed = fn;
}

void
queue_changed(const struct msg *m)
{
	if (changed != NULL && m->where == QUEUE_QUEUE)
		changed(m->id);
}

/*
 * take_out - entry id out of place w: renamed into directory tofd, out of
 * the index and the due heaps; with wmu held on return (*mp set, one
 * reference more) when it was there. The leaving hook is called before;
 * the caller calls it after (done), once it let go of wmu.
 */
static int
take_out(enum queue_where w, const char *id, int tofd, struct msg **mp)
{
	struct msg *m;
	int err = 0;

	*mp = NULL;
	pthread_mutex_lock(&queue.mu);
	if ((m = queue_find(w, id)) == NULL) {
		pthread_mutex_unlock(&queue.mu);
		return ENOENT;
	}
	m->refs++;
	pthread_mutex_unlock(&queue.mu);

	queue_leaving(w, m->id, 0);
	pthread_mutex_lock(&m->wmu);
	pthread_mutex_lock(&queue.mu);
	if (m->gone || m->where != w) {
		err = ENOENT;
	} else {
		if (renameat(queue.dirs[w].fd[0], m->id, tofd, m->id) == -1)
			err = errno;
		else {
			queue_due_forget(m);
			index_remove(m);
		}
	}
	pthread_mutex_unlock(&queue.mu);
	*mp = m;
	return err;
}

int
queue_take_out(enum queue_where w, const char *id, int tofd)
{
	struct msg *m;
	int err;

	err = take_out(w, id, tofd, &m);
	if (m == NULL)
		return err;
	pthread_mutex_unlock(&m->wmu);
	queue_leaving(w, m->id, 1);
	msg_unref(m);
	return err;
}

/*
 * drop - take entry id out of place w and off the disk: renamed into tmp/
 * (so it disappears at once, and a crash midway leaves only tmp/ debris),
 * the old parent fsync'd when durable is set, then removed.
 */
int
queue_drop(enum queue_where w, const char *id, int durable)
{
	struct msg *m = NULL;
	int err;

	err = take_out(w, id, queue.tmpfd, &m);
	if (m == NULL)
		return err;
	if (!err) {
		if (durable)
			err = spool_dir_sync(&queue.dirs[w]);
		spool_remove_tree(queue.tmpfd, m->id);
	}
	pthread_mutex_unlock(&m->wmu);
	queue_leaving(w, m->id, 1);
	msg_unref(m);
	return err == ENOENT ? ENOENT : err ? EIO : 0;
}

/* Caller holds queue.mu: where an entry is cannot change meanwhile. */
void
queue_entry_path(const struct msg *m, const char *file, char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/%s/%s/%s", queue.spool,
	    queue_dir_names[m->where], m->id, file);
}

/* ---- submission ---- */

void
queue_reject(const char *name, const char *reason)
{
	qlog_event(NULL, "rejected", "name", name, "reason", reason, NULL);
	stats_add(STATS_REJECTED, 1);
}

/* store's work, holding queue.fs (spool.h): the next round waits for it
 * (up to SPOOL_GROUP_DELAY_US) while it writes. */
static int
store_held(struct msg *m, const struct submit_msg *sm, unsigned long ticket)
{
	char spare[SPARE_NAME_MAX], seal[CHECK_SEAL_MAX], *state;
	char msgp[QUEUE_ID_MAX + 16], statep[QUEUE_ID_MAX + 16];
	char sparep[QUEUE_ID_MAX + 16], sealp[QUEUE_ID_MAX + CHECK_SEAL_MAX];
	const char *name;	/* the directory filled, in fromfd */
	int (*put)(int, const char *, const void *, size_t);
	unsigned long mark = 0;
	size_t len;
	int fromfd, err, named = 0;

	m->crc = check_crc(0, sm->data, sm->len);
	m->has_crc = 1;
	check_seal_name(sm->len, m->crc, seal);
	if (spare_take(spare, &named, &mark) == 0) {
		queue_id_new(m->id);
		fromfd = spare_dirfd();
		name = spare;
	} else {
		for (;;) {
			queue_id_new(m->id);
			if (mkdirat(queue.tmpfd, m->id, 0750) == 0)
				break;
			if (errno != EEXIST)
				return errno;
		}
		fromfd = queue.tmpfd;
		name = m->id;
	}
	pthread_mutex_lock(&queue.mu);
	state = entry_serialize(m, &len);
	pthread_mutex_unlock(&queue.mu);
	if (state == NULL) {
		spool_remove_tree(fromfd, name);
		return ENOMEM;
	}
	/* Paths below fromfd (name and file names are short): no
	 * descriptor of the directory itself. */
	snprintf(msgp, sizeof(msgp), "%s/message", name);
	snprintf(statep, sizeof(statep), "%s/state", name);
	snprintf(sparep, sizeof(sparep), "%s/" SPARE_SEAL, name);
	snprintf(sealp, sizeof(sealp), "%s/%s", name, seal);
	/* A spare's files exist, empty (spare.h): filled, not created. */
	put = fromfd == queue.tmpfd ? spool_put_file : spool_fill_file;
	err = put(fromfd, msgp, sm->data, sm->len);
	if (!err)
		err = put(fromfd, statep, state, len);
	/* The seal: a spare's renamed, else a new name of the message. */
	if (!err && (fromfd == queue.tmpfd ?
	    linkat(fromfd, msgp, fromfd, sealp, 0) :
	    renameat(fromfd, sparep, fromfd, sealp)) == -1)
		err = errno;
	free(state);
	/* A directory whose names are not durable yet (made just now, or a
	 * spare no round has covered) gets a round of its own first: an
	 * entry in queue/ whose files a crash could lose would be rebuilt
	 * at start from what is left (load.c). For a spare, a round that
	 * began after it was made will do, even one running now. */
	if (!err && !named)
		err = fromfd == queue.tmpfd ? spool_sync_wait(&queue.fs,
		    ticket, 1) : spool_sync_cover(&queue.fs, mark, ticket, 1);
	if (!err && renameat(fromfd, name, queue.dirs[QUEUE_QUEUE].fd[0],
	    m->id) == -1)
		err = errno;
	if (err) {
		spool_remove_tree(fromfd, name);
		return err;
	}
	if ((err = spool_sync_wait(&queue.fs, ticket, 1)) != 0) {
		/* Not known to be durable: refuse it whole rather than risk
		 * sending what the writer will submit again. */
		spool_remove_tree(queue.dirs[QUEUE_QUEUE].fd[0], m->id);
		return err;
	}
	return 0;
}

/*
 * store - the durable part of a submission: a spare directory (spare.h),
 * else a new SPOOL/tmp/ID, gets its message, state and seal (check.c)
 * written, is renamed to queue/ID, and one shared round (queue.fs) makes
 * all of it durable at once: one syncfs for one writer, shared by all
 * writers waiting at once. A crash before the round ends may leave
 * queue/ID with its files empty, cut short or stale; it was never
 * acknowledged, and the checks of check.c keep it from being sent
 * damaged. A directory whose own names are not durable yet takes a
 * round before the rename too (two rounds). The entry is indexed (seen
 * in queue/, due) only after store returns. held: the caller holds
 * queue.fs already (queue_submit, from before it parsed the message); it
 * is released either way. Sets m->id, m->crc. Returns 0 or an errno.
 */
static int
store(struct msg *m, const struct submit_msg *sm, int held)
{
	unsigned long ticket;
	int err;

	if (!held)
		spool_sync_hold(&queue.fs);
	ticket = spool_sync_ticket(&queue.fs);
	err = store_held(m, sm, ticket);
	spool_sync_release(&queue.fs);
	return err;
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

/*
 * queue_enqueue - queue a prepared message durably under a new ID (id
 * set), submitted by uid ((uid_t)-1: unknown), index it and log `queued`
 * (the null sender as <>). 0, or an errno with reason set. sm stays the
 * caller's.
 */
static int
enqueue(const struct submit_msg *sm, const char *name, uid_t uid,
    char id[QUEUE_ID_MAX], char *reason, size_t reasonlen, int held)
{
	char size[32], uidtext[32], *rcpts;
	struct msg *m;
	size_t i;
	int err = 0, local;

	if ((m = entry_new("")) == NULL || (m->from = strdup(sm->from)) == NULL ||
	    (m->name = strdup(name ? name : "")) == NULL) {
		if (m != NULL)
			entry_free(m);
		if (held)
			spool_sync_release(&queue.fs);
		snprintf(reason, reasonlen, "out of memory");
		return EIO;
	}
	m->arrival = time(NULL);
	m->uid = uid;
	m->size = sm->len;
	m->eightbit = sm->eightbit;
	for (i = 0; !err && i < sm->nrcpt; i++)
		if (entry_add_rcpt(m, sm->rcpts[i]) != 0)
			err = EIO;
	if (err) {
		if (held)
			spool_sync_release(&queue.fs);
		snprintf(reason, reasonlen, "out of memory");
	}
	if (!err && (err = store(m, sm, held)) != 0) {
		snprintf(reason, reasonlen, "cannot store: %s", strerror(err));
		err = spool_store_errno(err);
	}
	if (err) {
		entry_free(m);
		return err;
	}
	snprintf(id, QUEUE_ID_MAX, "%s", m->id);
	pthread_mutex_lock(&queue.mu);
	local = has_local(m);
	queue_index_add(m);
	pthread_mutex_unlock(&queue.mu);

	snprintf(size, sizeof(size), "%zu", sm->len);
	entry_format_uid(m->uid, uidtext, sizeof(uidtext));
	rcpts = rcpt_list(sm);
	qlog_event(id, "queued", "from", sm->from[0] ? sm->from : "<>",
	    "rcpts", rcpts, "size", size, "name", name, "uid", uidtext,
	    sm->user ? "user" : NULL, sm->user, NULL);
	free(rcpts);
	stats_add(STATS_QUEUED, 1);
	wake(local);
	return 0;
}

int
queue_enqueue(const struct submit_msg *sm, const char *name, uid_t uid,
    char id[QUEUE_ID_MAX], char *reason, size_t reasonlen)
{
	return enqueue(sm, name, uid, id, reason, reasonlen, 0);
}

/* This thread's queue_submit_hold, not yet taken over by queue_submit. */
static _Thread_local int holding;

void
queue_submit_hold(void)
{
	if (!holding && queue.index != NULL) {
		spool_sync_hold(&queue.fs);
		holding = 1;
	}
}

void
queue_submit_unhold(void)
{
	if (holding) {
		holding = 0;
		spool_sync_release(&queue.fs);
	}
}

int
queue_submit(const char *data, size_t len, const char *name,
    const struct queue_origin *o, char id[QUEUE_ID_MAX])
{
	struct submit_msg sm;
	char reason[512];
	int err;

	if (queue.index == NULL) {
		queue_submit_unhold();
		return EIO;
	}
	/* From here (or the caller's queue_submit_hold) a round about to
	 * start waits for this message (up to SPOOL_GROUP_DELAY_US) rather
	 * than leave it for the next one: writers at once share a round. */
	if (holding)
		holding = 0;
	else
		spool_sync_hold(&queue.fs);
	err = submit_prepare(queue.conf, data, len, o, &sm, reason,
	    sizeof(reason));
	sm.user = o != NULL ? o->user : NULL;
	if (err == ENOMEM) {
		snprintf(reason, sizeof(reason), "out of memory");
		err = EIO;
	}
	if (!err && queue_space_check(sm.len) != 0) {
		snprintf(reason, sizeof(reason), "the spool is low on space "
		    "(min_free)");
		err = ENOSPC;
	}
	if (!err)
		err = enqueue(&sm, name, o != NULL ? o->uid : (uid_t)-1,
		    id, reason, sizeof(reason), 1);
	else
		spool_sync_release(&queue.fs);
	submit_free(&sm);
	if (err)
		queue_reject(name, reason);
	return err;
}

/*
 * queue_log_append - the path is taken under queue.mu but the file is opened
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
		pthread_mutex_lock(&queue.mu);
		m = queue.index ? g_hash_table_lookup(queue.index, id) : NULL;
		if (m != NULL)
			queue_entry_path(m, "log", p);
		pthread_mutex_unlock(&queue.mu);
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

int
queue_open(const struct conf *c)
{
	static const char *const sub[] = { "tmp", "queue", "sent", "failed" };
	enum queue_where w;
	size_t i;
	int err = 0;

	if (g_mkdir_with_parents(c->spool, 0750) == -1)
		return -1;
	if ((queue.spoolfd = open(c->spool, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (mkdirat(queue.spoolfd, sub[i], 0750) == -1 && errno != EEXIST)
			goto fail;
	if (fsync(queue.spoolfd) == -1)
		goto fail;
	if ((queue.tmpfd = openat(queue.spoolfd, "tmp", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || queue_clean_tmp() == -1)
		goto fail;
	for (w = QUEUE_QUEUE; w <= QUEUE_FAILED; w++) {
		if ((err = spool_dir_open(&queue.dirs[w], queue.spoolfd,
		    queue_dir_names[w])) != 0) {
			while (w-- > QUEUE_QUEUE)
				spool_dir_close(&queue.dirs[w]);
			errno = err;
			goto fail;
		}
	}
	if ((err = spool_fs_open(&queue.fs, queue.spoolfd, ".")) != 0) {
		for (w = QUEUE_QUEUE; w <= QUEUE_FAILED; w++)
			spool_dir_close(&queue.dirs[w]);
		errno = err;
		goto fail;
	}
	queue.conf = c;
	queue.spool = strdup(c->spool);
	pthread_mutex_lock(&queue.mu);
	queue.index = g_hash_table_new(g_str_hash, g_str_equal);
	queue.queued = g_ptr_array_new();
	pthread_mutex_unlock(&queue.mu);
	/* Spares cleared before queue/ is read: a crash during a rename
	 * out of spare/ may leave the directory under both names, and
	 * clearing it after loading would empty a loaded entry. */
	if ((err = spare_start(queue.spoolfd, &queue.fs)) != 0) {
		errno = err;
		log_warn("%s/spare: cannot use it", c->spool);
	}
	for (w = QUEUE_QUEUE; w <= QUEUE_FAILED; w++)
		if (queue_load_dir(w) == -1)
			log_warn("%s/%s: cannot read", c->spool, queue_dir_names[w]);
	queue.writer_stop = 0;
	if ((err = pthread_create(&queue.writer, NULL, queue_writer_main, NULL)) != 0) {
		queue.writer_stop = 1;
		queue_close();
		errno = err;
		return -1;
	}
	return 0;
fail:
	err = errno;
	if (queue.tmpfd != -1)
		close(queue.tmpfd);
	close(queue.spoolfd);
	queue.tmpfd = queue.spoolfd = -1;
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

	queue_local_stop();
	spare_stop();
	pthread_mutex_lock(&queue.mu);
	if (queue.index == NULL) {
		pthread_mutex_unlock(&queue.mu);
		return;
	}
	if (!queue.writer_stop) {
		/* Let the writer save what is pending, then end it. */
		queue.writer_stop = 1;
		pthread_cond_signal(&queue.writer_cv);
		pthread_mutex_unlock(&queue.mu);
		pthread_join(queue.writer, NULL);
		pthread_mutex_lock(&queue.mu);
	}
	queue.notify = 0;
	/* Reported after the writer ended: tried again after a restart. */
	while ((m = g_queue_pop_head(&queue.unsaved)) != NULL) {
		m->pending = 0;
		queue_msg_unref(m);
	}
	/* Still not written after the last try: lost, said so. */
	while ((m = g_queue_pop_head(&queue.unwritten)) != NULL) {
		if (m->dirty && !m->gone)
			log_warnx("%s: its state is not saved: at the next start "
			    "it is as last saved", m->id);
		m->dirty = 0;
		queue_msg_unref(m);
	}
	queue.backoff = 0;
	g_hash_table_iter_init(&it, queue.index);
	while (g_hash_table_iter_next(&it, NULL, &val))
		queue_msg_unref(val);
	g_hash_table_destroy(queue.index);
	g_ptr_array_free(queue.queued, TRUE);
	queue.index = NULL;
	queue.queued = NULL;
	queue_due_free();
	queue.wakeup = NULL;
	pthread_mutex_unlock(&queue.mu);
	for (w = QUEUE_QUEUE; w <= QUEUE_FAILED; w++)
		spool_dir_close(&queue.dirs[w]);
	spool_dir_close(&queue.fs);
	close(queue.tmpfd);
	close(queue.spoolfd);
	queue.tmpfd = queue.spoolfd = -1;
	free(queue.spool);
	queue.spool = NULL;
}
