/*
 * maildir.h - the inbox: a Maildir at SPOOL/inbox/{tmp,new,cur} that mutt,
 * mblaze and Dovecot read directly, plus the SMTP envelope of each message
 * we received, kept with it as an extended attribute of its file
 * (user.mailfs.envelope, which mail tools ignore), or where the file
 * system has none, beside it at SPOOL/envelope/ID (queue/maildir_envelope.c).
 *
 * An inbox ID is the unique part of the Maildir file name (before ":2,"),
 * so mail placed there by other tools shows up too.
 *
 * Delivery is a nameless file (or tmp/ID) -> write (with the envelope) ->
 * sync -> link into new/ -> sync (maildir_tmp_commit); each sync is a
 * syncfs round that concurrent deliveries share (group commit,
 * queue/spool.h).
 * Thread-safe.
 */
#ifndef MAILFS_MAILDIR_H
#define MAILFS_MAILDIR_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define MAILDIR_ID_MAX	256

/* Before maildir_open: what is made in the Maildir (its directories, each
 * message file) is owned by uid:gid ((uid_t)-1, (gid_t)-1: the daemon's)
 * with mode (directories add the matching x bits); default 0600. */
void	maildir_set_owner(uid_t uid, gid_t gid, mode_t mode);
/* Create the directories, remove tmp/ leftovers. -1 + errno. */
int	maildir_open(const char *spool, const char *hostname);
void	maildir_close(void);

/*
 * maildir_deliver - store one message (already with Return-Path: and
 * Received: on top) and its envelope text durably. Blocks for the syncs:
 * call it from a worker thread, never the event loop. Returns 0 (id set) or
 * an errno.
 */
int	maildir_deliver(const char *data, size_t len, const char *envelope,
	    char id[MAILDIR_ID_MAX]);

/*
 * maildir_make_id - a new unique ID, for a caller that must name the
 * message before storing it (the listener's Received: line);
 * maildir_deliver_id then stores it under that ID.
 */
void	maildir_make_id(char id[MAILDIR_ID_MAX]);
int	maildir_deliver_id(const char *id, const char *data, size_t len,
	    const char *envelope);
/* The same with the message in n pieces (an evbuffer's chains, say), so
 * that it need not be copied into one. */
int	maildir_deliver_iov(const char *id, const struct iovec *v, size_t n,
	    const char *envelope);

/*
 * Streaming, for a caller that must not hold a whole message in memory
 * (the listener stores each message as it arrives): maildir_tmp_open
 * creates the file (without a name where the file system allows, else
 * tmp/ID), maildir_tmp_write appends to it (it may block on a busy
 * disk: a worker's job too), and exactly one of these ends it and frees t:
 * maildir_tmp_commit - envelope, shared sync, link into new/, shared
 * sync, as maildir_deliver_iov does: 0, or an errno with
 * nothing left behind; maildir_tmp_abort - drop the file.
 * A stream is used by one thread at a time.
 */
struct maildir_tmp;
int	maildir_tmp_open(const char *id, struct maildir_tmp **t);
int	maildir_tmp_write(struct maildir_tmp *t, const struct iovec *v,
	    size_t n);
int	maildir_tmp_commit(struct maildir_tmp *t, const char *envelope);
void	maildir_tmp_abort(struct maildir_tmp *t);

/* Sorted snapshot of the IDs in new/ and cur/; free with strv_free
 * (lib/strv.h). */
int	maildir_list(char ***ids, size_t *n);
/* Full path of the message file of id (in new/ or cur/): 0 or ENOENT. */
int	maildir_path(const char *id, char path[PATH_MAX]);
/* The envelope text kept for id (malloc'd, NUL-terminated), or ENOENT for
 * mail that other tools put there. */
int	maildir_envelope(const char *id, char **buf, size_t *len);
/* The same for a caller that knows where the message file is (path, as
 * for maildir_remove): no search, unless it has moved since. */
int	maildir_envelope_at(const char *id, const char *path, char **buf,
	    size_t *len);
/* rm -r inbox/ID: delete the message and its envelope from disk. The
 * message leaves new/ or cur/ at once; its file is unlinked from tmp/ by
 * a thread of the Maildir's own (the unlink may wait for the device),
 * by maildir_close at the latest. Nothing is synced. */
int	maildir_delete(const char *id);
/* The same for a caller that knows where the message file is (path, from
 * maildir_names): no search. */
int	maildir_remove(const char *id, const char *path);
/* The message files in sub, "new" or "cur", as file names (unsorted; free
 * with strv_free), and the directory's path in dir: for a caller that
 * keeps its own map of the Maildir (fs/inbox_map.c). */
int	maildir_names(const char *sub, char dir[PATH_MAX], char ***names,
	    size_t *n);
/* The length of the ID in a file name of new/ or cur/ (before ":2,"); 0
 * if the name is not a message's. */
size_t	maildir_id_len(const char *name);
long	maildir_count(void);

#endif
