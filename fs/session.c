/*
 * session.c - the FUSE session's start and end (the init and destroy
 * operations), and what we tell the kernel without a request: that an
 * inbox/ID went away or was rewritten behind our back (another tool
 * deleted it), since the kernel may keep inbox entries for long
 * (place_entry_timeout); and the bytes of small inbox files at their open
 * (session_store).
 *
 * The inbox starts at init, not at fs_init: mailfs.c opens the Maildir
 * after fs_init (and after the fork of fuse_daemonize, which threads do
 * not survive), before the session loop, whose first request is INIT.
 *
 * API: fs.h (fs_session), tree_int.h (session_*).
 */
#include "fs/tree_int.h"

#include <string.h>

#include "fs/fs.h"
#include "fs/inbox.h"
#include "fs/outbox.h"
#include "fs/node.h"

/* The largest file session_store gives the kernel: a few pages. */
#define STORE_MAX	(16 * 1024)

static struct fuse_session *session;
static const char *spool;

void
fs_session(struct fuse_session *se)
{
	session = se;
}

void
session_spool(const char *s)
{
	spool = s;
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
	uint64_t dir = node_ino("outbox");

	if (session)
		fuse_lowlevel_notify_inval_inode(session, dir, -1, 0);
}

/*
 * A small inbox file, at its open: into the page cache now, which the
 * reply's keep_cache keeps. Then `cat` needs no READ (one request less per
 * file), nor, since no READ ends, a GETATTR at the next stat (the kernel
 * drops the atime it knows after each READ). Before the reply: the kernel
 * has the inode (from the lookup), and no lock of it is held for an open
 * that does not truncate.
 */
void
session_store(fuse_ino_t ino, const char *data, size_t len)
{
	struct fuse_bufvec b = FUSE_BUFVEC_INIT(len);

	if (!session || len == 0 || len > STORE_MAX)
		return;
	b.buf[0].mem = (void *)data;
	fuse_lowlevel_notify_store(session, ino, 0, &b, 0);
}

void
session_init(void *userdata, struct fuse_conn_info *fc)
{
	(void)userdata;
	(void)fc;
	outbox_on_change(outbox_changed);
	inbox_on_gone(inbox_gone);
	inbox_start(spool);
}

/* Before the session goes: nothing may use it after this (inbox_gone,
 * outbox_changed). */
void
session_destroy(void *userdata)
{
	(void)userdata;
	outbox_on_change(NULL);
	inbox_stop();
}
