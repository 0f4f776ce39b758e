/*
 * inbox.h - inbox/ID/ over the Maildir (queue/maildir.h): each message
 * rendered by fs/mime.h into its upas/fs-style tree, with raw (the message
 * as stored) and envelope (the SMTP envelope; absent for mail other tools
 * put there) added on top.
 *
 * Rendering parses the whole message, so the last few rendered messages
 * are cached; a message whose Maildir file changed name (flags) or went
 * away is rendered again or gone. Thread-safe.
 */
#ifndef MAILFS_INBOX_H
#define MAILFS_INBOX_H

#include <time.h>

struct inbox_msg;
struct mime_node;

/* 0 if inbox/ID exists (mtime: when it arrived), else ENOENT. Cheap. */
int	inbox_stat(const char *id, time_t *mtime);
/* The rendered message, a reference: 0, ENOENT, ENOMEM or EIO. */
int	inbox_get(const char *id, struct inbox_msg **mp);
void	inbox_put(struct inbox_msg *m);
/* The node at rel ("" = inbox/ID itself, "2/body"), valid while m is
 * held; NULL if there is none. */
const struct mime_node *inbox_find(struct inbox_msg *m, const char *rel);
time_t	inbox_mtime(const struct inbox_msg *m);
/* rm -r inbox/ID: delete from disk (maildir_delete) and from the cache. */
int	inbox_delete(const char *id);

#endif
