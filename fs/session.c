/*
 * session.c - the FUSE session's start and end (the init and destroy
 * operations), and what we tell the kernel without a request: that an
 * inbox/ID went away or was rewritten behind our back (another tool
 * deleted it), or that a queue/ID left queue/ (delivered to sent/ or
 * failed/, deleted), since the kernel keeps inbox and queue entries for
 * long (place_entry_timeout); and the bytes of small inbox files and
 * of queue/ID/status at their open (session_store), and that what it
 * knows of a status's attributes is stale (session_forget_attrs, for
 * fs/status.c).
 *
 * The inbox starts at init, not at fs_init: mailfs.c opens the Maildir
 * after fs_init (and after the fork of fuse_daemonize, which threads do
 * not survive), before the session loop, whose first request is INIT.
 *
 * queue/: the kernel forgets a name with notify_inval_entry, which takes
 * queue/'s directory lock, and so waits for every LOOKUP in queue/ in
 * flight: each holds that lock until a worker of ours has answered it.
 * So the thread that invalidates must never be one a LOOKUP could wait
 * for: not a request's (with every worker in such a call, the LOOKUP is
 * never read), nor one holding a lock a request may need (the writer
 * thread holds entries' wmu, which a ctl delete takes). Hence one thread
 * of our own, the notifier, does every queue/ invalidation, holding no
 * lock while in the kernel, and nothing ever waits for it: the queue's
 * leaving hook only hands it the name, and a ctl write is answered by
 * the notifier itself after the invalidations before it (libfuse lets
 * any thread reply; the request's worker is free at once). A LOOKUP in
 * queue/ takes only our short locks (node table, queue.mu), never held
 * across a wait for the kernel or the notifier, so it always completes,
 * and with it the invalidation: no cycle.
 *
 * The size of queue/ID/status is kept too, and forgotten the same way
 * at each change of the entry (the queue's changed hook): by the
 * notifier, before any ctl write after the change is answered.
 *
 * What a user sees stays in order although the entry moves first and
 * the kernel forgets it after: a ctl write returns only once the names
 * it removed are forgotten, and an entry that left queue/ is not shown
 * in sent/ or failed/ (session_queue_in_transit) until its old name is
 * forgotten. The invalidation after the move is enough: a LOOKUP that
 * saw the entry before the move is in flight or done when the notifier
 * takes the directory lock, so its name is dropped; one after sees it
 * gone, and a miss is not kept.
 *
 * API: fs.h (fs_session), tree_int.h (session_*).
 */
#include "fs/tree_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "fs/inbox.h"
#include "fs/outbox.h"
#include "fs/node.h"
#include "lib/log.h"

/* The largest file session_store gives the kernel: a few pages. */
#define STORE_MAX	(16 * 1024)

static struct fuse_session *session;
static const char *spool;

void
fs_session(struct fuse_session *se)
{
	session = se;
}

/*
 * Called from fs/inbox.c's own thread, never from a request: the kernel
 * takes the directory's lock for this, which a request in inbox/ holds.
 */
static void
inbox_gone(const char *id)
{
	uint64_t dir = node_ino("inbox");

	if (session)
		fuse_lowlevel_notify_inval_entry(session, dir, id, strlen(id));
}

/*
 * outbox/'s time changed: the kernel forgets the attributes it keeps
 * (place_attr_timeout). Called from requests too (a submission at
 * close), which is safe: dropping attributes takes no directory lock.
 */
static void
outbox_changed(void)
{
	session_forget_attrs(node_ino("outbox"));
}

/*
 * A small inbox file, or a queue/ID/status (fs/status.c), at its open:
 * into the page cache now, which the reply's keep_cache keeps; -1 if not
 * (too big for a few pages, or the kernel refused). Then `cat` needs no
 * READ (one request less per file), nor, since no READ ends, a GETATTR
 * at the next stat (the kernel drops the atime it knows after each
 * READ). Before the reply: the kernel has the inode (from the lookup),
 * and no lock of it is held for an open that does not truncate.
 */
int
session_store(fuse_ino_t ino, const char *data, size_t len)
{
	struct fuse_bufvec b = FUSE_BUFVEC_INIT(len);

	if (!session || len > STORE_MAX)
		return -1;
	if (len == 0)
		return 0;
	b.buf[0].mem = (void *)data;
	return fuse_lowlevel_notify_store(session, ino, 0, &b, 0) == 0 ? 0 : -1;
}

/*
 * The kernel's attributes of ino become stale, and so does any reply to
 * a request it sent before (it ignores their attributes): from a request
 * too (fs/status.c: an OPEN, a LOOKUP, a GETATTR), as it takes no lock a
 * request may hold.
 */
void
session_forget_attrs(fuse_ino_t ino)
{
	if (session)
		fuse_lowlevel_notify_inval_inode(session, ino, -1, 0);
}

/* --- queue/: the notifier --- */

/* A job of the notifier: forget queue/ID, or the size of its status, or
 * answer a ctl write. */
enum job_kind { JOB_FORGET, JOB_STATUS, JOB_REPLY };
struct job {
	enum job_kind kind;
	char id[QUEUE_ID_MAX];
	fuse_req_t req;
	int err;
	size_t size;
	struct job *next;
};

/* An entry out of queue/ whose name the kernel may still have. */
struct transit {
	char id[QUEUE_ID_MAX];
	int n;			/* moves in progress or not yet forgotten */
};

static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcv = PTHREAD_COND_INITIALIZER;
static struct job *jobs, **jobs_tail = &jobs;
static struct job *doing;	/* the job the notifier is doing */
static size_t busy;		/* jobs queued or being done */
static atomic_int running;	/* the notifier runs: names may be kept */
static atomic_ulong status_changes;	/* changes of any status so far */
static int stopping;
static pthread_t notifier;
static struct transit *transit;
static size_t ntransit, transit_cap;

/* Caller holds qmu. */
static struct transit *
transit_find(const char *id)
{
	size_t i;

	for (i = 0; i < ntransit; i++)
		if (strcmp(transit[i].id, id) == 0)
			return &transit[i];
	return NULL;
}

/* Caller holds qmu. */
static void
transit_add(const char *id)
{
	struct transit *t = transit_find(id), *v;
	size_t cap;

	if (t != NULL) {
		t->n++;
		return;
	}
	if (ntransit == transit_cap) {
		cap = transit_cap ? transit_cap * 2 : 16;
		if ((v = realloc(transit, cap * sizeof(*v))) == NULL)
			fatalx("queue names: out of memory");
		transit = v;
		transit_cap = cap;
	}
	t = &transit[ntransit++];
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->n = 1;
}

/* Caller holds qmu. */
static void
transit_drop(const char *id)
{
	struct transit *t = transit_find(id);

	if (t != NULL && --t->n == 0)
		*t = transit[--ntransit];
}

int
session_queue_kept(void)
{
	return atomic_load(&running);
}

int
session_queue_in_transit(const char *id)
{
	int r;

	pthread_mutex_lock(&qmu);
	r = ntransit > 0 && transit_find(id) != NULL;
	pthread_mutex_unlock(&qmu);
	return r;
}

/* Caller holds qmu. */
static void
job_push(struct job *j)
{
	j->next = NULL;
	*jobs_tail = j;
	jobs_tail = &j->next;
	busy++;
	pthread_cond_signal(&qcv);
}

static void
job_reply(struct job *j)
{
	if (j->err)
		fuse_reply_err(j->req, j->err);
	else
		fuse_reply_write(j->req, j->size);
}

/* Outside qmu: the kernel forgets queue/ID and the attributes of its
 * inode (kept by a directory open in it, or a cwd). */
static void
job_forget(const char *id)
{
	char path[QUEUE_ID_MAX + sizeof("queue/")];

	snprintf(path, sizeof(path), "queue/%s", id);
	fuse_lowlevel_notify_inval_entry(session, node_ino("queue"), id,
	    strlen(id));
	session_forget_attrs(node_ino(path));
}

/*
 * Outside qmu: the kernel forgets the size of queue/ID/status. The name
 * first: that waits for a LOOKUP of it in flight (it holds queue/ID's
 * lock), whose reply may carry the size before the change and make a
 * new inode that dropping the attributes alone would miss.
 */
static void
job_status(const char *id)
{
	char path[QUEUE_ID_MAX + sizeof("queue//status")];

	snprintf(path, sizeof(path), "queue/%s", id);
	fuse_lowlevel_notify_inval_entry(session, node_ino(path), "status",
	    strlen("status"));
	snprintf(path, sizeof(path), "queue/%s/status", id);
	session_forget_attrs(node_ino(path));
}

static void *
notifier_main(void *arg)
{
	struct job *j;
	int stop;

	(void)arg;
	pthread_mutex_lock(&qmu);
	for (;;) {
		while (jobs == NULL && !stopping)
			pthread_cond_wait(&qcv, &qmu);
		if ((j = jobs) == NULL)
			break;
		if ((jobs = j->next) == NULL)
			jobs_tail = &jobs;
		stop = stopping;
		doing = j;
		pthread_mutex_unlock(&qmu);
		/* At the end the kernel is gone: only the replies matter
		 * (they free their requests). */
		if (j->kind == JOB_REPLY)
			job_reply(j);
		else if (stop)
			;
		else if (j->kind == JOB_FORGET)
			job_forget(j->id);
		else
			job_status(j->id);
		pthread_mutex_lock(&qmu);
		doing = NULL;
		if (j->kind == JOB_FORGET)
			transit_drop(j->id);
		busy--;
		free(j);
	}
	pthread_mutex_unlock(&qmu);
	return NULL;
}

/*
 * The queue's leaving hook (queue_set_leaving): called around every move
 * or removal of an entry, by the thread doing it (the writer thread, or a
 * request: ctl delete), maybe holding the entry's wmu; so it never waits.
 * Before: the entry is in transit (not shown at its new place); after
 * (moved or not): the notifier is to have the kernel forget it, and ends
 * the transit then.
 */
static void
entry_leaving(enum queue_where w, const char *id, int done)
{
	struct job *j;

	if (w != QUEUE_QUEUE)
		return;		/* names in sent/ and failed/ are not kept */
	pthread_mutex_lock(&qmu);
	if (!running) {
		/* No session yet (loading) or no more: nothing is kept. */
		if (done)
			transit_drop(id);
	} else if (!done) {
		transit_add(id);
	} else if ((j = calloc(1, sizeof(*j))) != NULL) {
		j->kind = JOB_FORGET;
		snprintf(j->id, sizeof(j->id), "%s", id);
		job_push(j);
	} else {
		/* Cannot happen in practice; forgetting late beats a
		 * reply lost or an entry hidden for ever. */
		pthread_mutex_unlock(&qmu);
		job_forget(id);
		pthread_mutex_lock(&qmu);
		transit_drop(id);
	}
	pthread_mutex_unlock(&qmu);
}

/*
 * The queue's changed hook (queue_set_changed), under queue.mu: the
 * status of queue/ID changed, so the size the kernel keeps of it
 * (place_attr_timeout) is to go. Only if the kernel holds queue/ID now:
 * a status it looked up before the change holds its parent, and so the
 * node, until the kernel lets go of both. Without memory the size stays
 * wrong until the entry leaves: better than failing a delivery's report.
 * Every change is counted (session_status_changes: fs/status.c).
 */
static void
status_changed(const char *id)
{
	char path[QUEUE_ID_MAX + sizeof("queue/")];
	struct job *j;

	atomic_fetch_add(&status_changes, 1);
	snprintf(path, sizeof(path), "queue/%s", id);
	if (!node_held(path))
		return;
	pthread_mutex_lock(&qmu);
	if (running && (j = calloc(1, sizeof(*j))) != NULL) {
		j->kind = JOB_STATUS;
		snprintf(j->id, sizeof(j->id), "%s", id);
		job_push(j);
	}
	pthread_mutex_unlock(&qmu);
}

unsigned long
session_status_changes(void)
{
	return atomic_load(&status_changes);
}

/* Caller holds qmu. */
static int
job_is_status(const struct job *j, const char *id)
{
	return j != NULL && j->kind == JOB_STATUS && strcmp(j->id, id) == 0;
}

int
session_status_told(const char *id)
{
	const struct job *j;
	int told;

	pthread_mutex_lock(&qmu);
	told = !job_is_status(doing, id);
	for (j = jobs; j != NULL && told; j = j->next)
		told = !job_is_status(j, id);
	pthread_mutex_unlock(&qmu);
	return told;
}

void
session_reply_ctl(fuse_req_t req, int err, size_t size)
{
	struct job one = { .kind = JOB_REPLY, .req = req, .err = err,
	    .size = size }, *j;

	pthread_mutex_lock(&qmu);
	if (busy > 0 && (j = malloc(sizeof(*j))) != NULL) {
		*j = one;
		job_push(j);
		pthread_mutex_unlock(&qmu);
		return;
	}
	pthread_mutex_unlock(&qmu);
	job_reply(&one);	/* nothing pending (or no memory): now */
}

void
session_spool(const char *s)
{
	spool = s;
	queue_set_leaving(entry_leaving);
	queue_set_changed(status_changed);
}

void
session_init(void *userdata, struct fuse_conn_info *fc)
{
	int err;

	(void)userdata;
	(void)fc;
	outbox_on_change(outbox_changed);
	inbox_on_gone(inbox_gone);
	inbox_start(spool);
	pthread_mutex_lock(&qmu);
	stopping = 0;
	if ((err = pthread_create(&notifier, NULL, notifier_main, NULL)))
		log_warnx("queue names: no notifier thread: %s", strerror(err));
	else
		running = 1;
	pthread_mutex_unlock(&qmu);
}

/* Before the session goes: nothing may use it after this (inbox_gone,
 * outbox_changed, the notifier). */
void
session_destroy(void *userdata)
{
	int was;

	(void)userdata;
	outbox_on_change(NULL);
	inbox_stop();
	pthread_mutex_lock(&qmu);
	was = running;
	running = 0;
	stopping = 1;
	pthread_cond_signal(&qcv);
	pthread_mutex_unlock(&qmu);
	if (was)
		pthread_join(notifier, NULL);
}
