/*
 * inbox.h - inbox/ID/ over the Maildir (queue/maildir.h): each message
 * rendered by fs/mime.h into its upas/fs-style tree, with raw (the message
 * as stored) and envelope (the SMTP envelope; absent for mail other tools
 * put there) added on top.
 *
 * A message is rendered once: its tree (names, sizes, the small decoded
 * files, where the others are) goes into the index (fs/inbox_index.h),
 * from which every stat, listing and small read is served afterwards,
 * across restarts too. Where each message is comes from fs/inbox_map.h.
 * The info file's last line shows the flags of the file's name now. A
 * background thread indexes what is not indexed yet (at start, and after
 * mail arrives) and forgets rows of messages that are gone. Thread-safe.
 */
#ifndef MAILFS_INBOX_H
#define MAILFS_INBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct inbox_msg;
struct mime_node;

/* The bytes of one file of a message, for reading (inbox_open). */
struct inbox_view {
	const char *data;	/* valid while the message is held, or */
	char *buf;		/* malloc'd, the caller's, or */
	int fd;			/* the message file ([base, base + len)) */
	off_t base;
	size_t len;
};

/* After maildir_open: the map, the index at SPOOL/inbox.index, the
 * indexing thread. Failures are logged: without a readable Maildir
 * inbox/ is empty; without a usable index it is slower. */
void	inbox_start(const char *spool);
void	inbox_stop(void);
/* Called (from the indexing thread, no lock held) with each ID that went
 * away other than by inbox_delete, e.g. another tool deleted it: the
 * kernel may hold the entry (fs/tree.c). */
void	inbox_on_gone(void (*fn)(const char *id));
/* The IDs of inbox/, sorted (strv_free). */
int	inbox_list(char ***ids, size_t *n);
/* 0 if inbox/ID exists (mtime: when it arrived), else ENOENT. Cheap.
 * gen: the inode generation of its entries, new when the message file
 * was rewritten (so the kernel drops what it cached of the old one). */
int	inbox_stat(const char *id, time_t *mtime, uint64_t *gen);
/* The message's tree, a reference: 0, ENOENT, ENOMEM or EIO. Its files'
 * sizes are right; their bytes are inbox_open's. */
int	inbox_get(const char *id, struct inbox_msg **mp);
void	inbox_put(struct inbox_msg *m);
/* The node at rel ("" = inbox/ID itself, "2/body"), valid while m is
 * held; NULL if there is none. */
const struct mime_node *inbox_find(struct inbox_msg *m, const char *rel);
time_t	inbox_mtime(const struct inbox_msg *m);
uint64_t inbox_generation(const struct inbox_msg *m);
/* Open file rel of inbox/ID: *mp held (inbox_put) and v set; 0, ENOENT,
 * EISDIR, ENOMEM or EIO. */
int	inbox_open(const char *id, const char *rel, struct inbox_msg **mp,
	    struct inbox_view *v);
/* rm -r inbox/ID: delete from disk (maildir_remove, not synced: a crash
 * may bring it back) and the cache; its row goes with the indexing
 * thread's next pass. */
int	inbox_delete(const char *id);
/* How many messages inbox/ shows now (stats): the map's count, kept up
 * to date from inotify, no walk of the Maildir; -1 without a Maildir. */
long	inbox_count(void);

#endif
