/*
 * outbox_ghost.h - names just sent from outbox/, kept for a few seconds
 * so that tools which set a file's mode or times by name after closing it
 * (install -m, rsync --inplace, touch) find it and succeed, and send
 * nothing more (mailfs(8), "Tools that write in place").
 *
 * A ghost is an empty file with the attributes the message had: lookups
 * and setattr see it, readdir does not list it. Thread-safe; its own lock
 * (never held while calling out), so fs/outbox.c may call in with its own.
 */
#ifndef MAILFS_OUTBOX_GHOST_H
#define MAILFS_OUTBOX_GHOST_H

#include "fs/outbox.h"

/* Seconds a ghost lasts. */
#define OUTBOX_GHOST_TTL	10

/* name was just sent with attributes a (its size is not kept). */
void	outbox_ghost_add(const char *name, const struct outbox_attr *a);
/* The ghost's attributes: 0, or ENOENT when there is none (or expired). */
int	outbox_ghost_get(const char *name, struct outbox_attr *a);
/* Set attributes (OUTBOX_SET_*; a size other than 0 is EPERM). */
int	outbox_ghost_set(const char *name, const struct outbox_attr *a,
	    int which);
/* Forget name (a new file of that name, an unlink): 0 or ENOENT. */
int	outbox_ghost_drop(const char *name);

/* Copy what which says (all but the size) from a into to; ctime is now. */
void	outbox_apply_attr(struct outbox_attr *to, const struct outbox_attr *a,
	    int which);

#endif
