/*
 * drafts.h - drafts/: a plain directory for composing, kept in
 * SPOOL/drafts (so drafts survive a restart). Nothing in it is sent;
 * renaming drafts/X into outbox/ sends X (drafts_send).
 *
 * Flat: regular files only, no subdirectories. Every call returns 0 or an
 * errno; names are single path components.
 */
#ifndef MAILFS_DRAFTS_H
#define MAILFS_DRAFTS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Open (making) SPOOL/drafts: 0, or -1 with errno. max_size is the live
 * setting, read at each move into outbox/. */
int	drafts_init(const char *spool, const size_t *max_size);
int	drafts_stat(const char *name, struct stat *st);
/* Sorted names (lib/strv.h's strv_free). */
int	drafts_list(char ***names, size_t *n);
/* Open name with open(2) flags (making it with mode, owned by uid:gid
 * when the daemon may give it away, if flags has O_CREAT): *fd. */
int	drafts_open(const char *name, int flags, mode_t mode, uid_t uid,
	    gid_t gid, int *fd);
/* Set what FUSE's to_set says (size, mode, owner, times) from attr; fd
 * is an open descriptor of it or -1. */
int	drafts_setattr(const char *name, int fd, const struct stat *attr,
	    int to_set);
int	drafts_unlink(const char *name);
/* Rename within drafts/ (noreplace: RENAME_NOREPLACE). */
int	drafts_rename(const char *from, const char *to, int noreplace);
/* Queue drafts/name as a message written into outbox/ as `as`, then
 * remove it: the errno of queue_submit (the draft stays on failure). */
int	drafts_send(const char *name, const char *as);

#endif
