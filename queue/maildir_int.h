/*
 * maildir_int.h - private interfaces between the files of the inbox
 * Maildir (queue/maildir*.c): the Maildir itself (maildir.c), the lookup
 * of messages by name (maildir_list.c), the envelope store
 * (maildir_envelope.c), which maildir.c calls when it opens, delivers and
 * removes, and the removal of message files in the background
 * (maildir_trash.c). Not for use outside queue/maildir*.c.
 */
#ifndef MAILFS_MAILDIR_INT_H
#define MAILFS_MAILDIR_INT_H

/* --- maildir.c --- */

/* SPOOL/inbox while the Maildir is open, else NULL. */
const char *maildir_root(void);

/* For tests: deliver through tmp/ID from now on, as where the file
 * system has no O_TMPFILE. */
void	maildir_anon_off(void);

/* --- maildir_list.c --- */

/* Forget where messages were seen (at close). */
void	maildir_list_forget(void);

/* --- maildir_envelope.c --- */

/* The extended attribute that holds a message's envelope. */
#define MAILDIR_ENVELOPE_XATTR	"user.mailfs.envelope"

/* Create and open SPOOL/envelope (the fallback store, and the old one):
 * its directory descriptor, or -1 + errno. */
int	maildir_envelope_open(const char *spool);
void	maildir_envelope_close(void);

/*
 * maildir_envelope_put - store the envelope of message id, whose file is
 * open for writing as fd and not yet visible: as MAILDIR_ENVELOPE_XATTR
 * on the file, or, where the file system refuses that (no user xattrs,
 * a value too big for it), as SPOOL/envelope/ID (*file set: the caller
 * unlinks it with maildir_envelope_drop if the delivery fails). Nothing
 * is synced: the caller's syncfs round makes either durable. 0 or an
 * errno.
 */
int	maildir_envelope_put(int fd, const char *id, const char *envelope,
	    int *file);
/* Unlink SPOOL/envelope/ID, if there is one. */
void	maildir_envelope_drop(const char *id);
/* Drop the SPOOL/envelope files whose message is not in new/ or cur/
 * (a crash before the link, another program's delete). */
void	maildir_envelope_clean(void);

/* --- maildir_trash.c --- */

/* tmp/ (maildir.c's descriptor, kept open until maildir_trash_close). */
void	maildir_trash_open(int tmpfd);
/* Unlink what is pending, end the thread: before tmp/ is closed. */
void	maildir_trash_close(void);
/* Take the message file at path out of the Maildir now and unlink it in
 * the background: 0, or an errno (ENOENT: it is not there). */
int	maildir_trash_put(const char *path);
/* 1 if name (in tmp/) is such a file: a crash's leftover. */
int	maildir_trash_is(const char *name);

#endif
