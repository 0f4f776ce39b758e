/*
 * session.c - the FUSE session's start and end (the init and destroy
 * operations), and what we tell the kernel without a request: that an
 * inbox/ID went away or was rewritten behind our back (another tool
 * deleted it), or that a queue/ID is leaving (delivered to sent/ or
 * failed/, deleted), since the kernel may keep inbox and queue entries
 * for long (place_entry_timeout).
 *
 * The inbox starts at init, not at fs_init: mailfs.c opens the Maildir
 * after fs_init (and after the fork of fuse_daemonize, which threads do
 * not survive), before the session loop, whose first request is INIT.
 *
 * API: fs.h (fs_session), tree_int.h (session_*).
 */
#include "fs/tree_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fs/fs.h"
#include "fs/inbox.h"
#include "fs/node.h"

static struct fuse_session *session;
static const char *spool;
/* Held (read) while session is used from a thread of the queue, which
 * may outlive the session: session_destroy takes it to end that. */
static pthread_rwlock_t session_lock = PTHREAD_RWLOCK_INITIALIZER;
/* How many queue/ entries are leaving now (between the two calls of
 * session_queue_leaving): while any is, no queue/ name is kept. */
static atomic_int queue_leavers;

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

int
session_queue_busy(void)
{
	return atomic_load(&queue_leavers) > 0;
}

/*
 * The queue's leaving hook (queue_set_leaving), called by the thread that
 * moves or deletes an entry, before and after, with no queue lock held:
 * the writer thread (deliveries), or a request writing `delete` to the
 * entry's ctl (which holds no lock of queue/: the kernel takes queue/'s
 * for the invalidation, and a LOOKUP in queue/, which holds it, needs no
 * lock the caller holds). Never from a request in queue/ itself (rmdir
 * there is EPERM without a move; the sweeps of expired entries, which
 * can run in a LOOKUP, are of sent/ and failed/, whose names are not
 * kept).
 *
 * First no new name or attribute is kept (queue_leavers), then the
 * kernel forgets what it has (the attributes too: a GETATTR in flight
 * is not kept either, the kernel counts invalidations): the invalidation waits for the LOOKUPs in flight in queue/
 * (they hold the directory), and any later one sees queue_leavers. So
 * once the entry has left, no path finds it at its old place.
 */
static void
session_queue_leaving(enum queue_where w, const char *id, int done)
{
	char path[QUEUE_ID_MAX + sizeof("queue/")];

	if (w != QUEUE_QUEUE)
		return;
	if (done) {
		atomic_fetch_sub(&queue_leavers, 1);
		return;
	}
	atomic_fetch_add(&queue_leavers, 1);
	pthread_rwlock_rdlock(&session_lock);
	if (session) {
		snprintf(path, sizeof(path), "queue/%s", id);
		fuse_lowlevel_notify_inval_entry(session, node_ino("queue"), id,
		    strlen(id));
		/* an open directory or cwd in it keeps the inode */
		fuse_lowlevel_notify_inval_inode(session, node_ino(path), -1, 0);
	}
	pthread_rwlock_unlock(&session_lock);
}

void
session_spool(const char *s)
{
	spool = s;
	queue_set_leaving(session_queue_leaving);
}

void
session_init(void *userdata, struct fuse_conn_info *fc)
{
	(void)userdata;
	(void)fc;
	inbox_on_gone(inbox_gone);
	inbox_start(spool);
}

/* Before the session goes: nothing may use it after this (inbox_gone). */
void
session_destroy(void *userdata)
{
	(void)userdata;
	inbox_stop();
	pthread_rwlock_wrlock(&session_lock);
	session = NULL;
	pthread_rwlock_unlock(&session_lock);
}
