/*
 * inbox_map.h - where each inbox message is right now: ID -> its file in
 * new/ or cur/ (queue/maildir.h), kept in memory and brought up to date
 * from inotify events on new/ and cur/ (or, without inotify, by reading
 * them again when their mtime changed) before every answer, so a file
 * another tool moved (mutt's new/X -> cur/X:2,S), deleted or added is
 * seen at once without probing paths per request. Thread-safe.
 */
#ifndef MAILFS_INBOX_MAP_H
#define MAILFS_INBOX_MAP_H

#include <limits.h>
#include <stddef.h>

#include "fs/inbox_index.h"

/* Read new/ and cur/ (the Maildir must be open). noted, if not NULL, is
 * called (with a lock held: it must only wake someone) when an ID may
 * have gone or its file was rewritten (inbox_map_gone). -1 + errno. */
int	inbox_map_open(void (*noted)(void));
void	inbox_map_close(void);
/*
 * Where id is: its full path, and (key) the file's size, mtime and inode.
 * How recent the key is, by fresh:
 *	INBOX_MAP_CACHED	from a stat since the file was last created,
 *				moved or written, as far as the map knows
 *	INBOX_MAP_FRESH		the file's now: the cached key while inotify
 *				runs (it reports every write), else a stat
 *	INBOX_MAP_STAT		from a stat made now
 * 0, or ENOENT.
 */
enum { INBOX_MAP_CACHED, INBOX_MAP_FRESH, INBOX_MAP_STAT };
int	inbox_map_find(const char *id, int fresh, char path[PATH_MAX],
	    struct inbox_key *key);
/* We unlinked path, id's file: forget it now, not as gone (the kernel
 * knows; inbox_map_gone will not list it). */
void	inbox_map_removed(const char *id, const char *path);
/* How many IDs there are now; -1 when the map is not open. */
long	inbox_map_count(void);
/* Every ID, sorted (strv_free). */
int	inbox_map_ids(char ***ids, size_t *n);
/* Bumped by every change seen. */
unsigned long inbox_map_generation(void);
/* The IDs that went away since the last call (not moved: gone), and
 * those whose file was written to in place, for the kernel to forget
 * (strv_free). */
int	inbox_map_gone(char ***ids, size_t *n);

#endif
