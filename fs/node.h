/*
 * node.h - the inode table of the FUSE face: which path each inode number
 * the kernel holds stands for, and how many lookups it holds.
 *
 * Inode numbers are derived from a hash of the path, so a path keeps its
 * number for the life of its entry even when the kernel forgets it in
 * between (ls -i, find, cp -r and tar see the same number every time); a
 * renamed inode keeps its number under its new path. A node is kept only
 * while the kernel holds lookups on it. Thread-safe.
 */
#ifndef MAILFS_NODE_H
#define MAILFS_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NODE_ROOT	1	/* FUSE_ROOT_ID, path "" */

/* The inode number path has (or would get) now; no reference taken. */
uint64_t node_ino(const char *path);
/* The same, counting one kernel lookup on it (a reply to lookup/create). */
uint64_t node_ref(const char *path);
/* node_ino, and in *given when a lookup on path was last counted
 * (node_ref) if the kernel holds one now, else 0. */
uint64_t node_ino_given(const char *path, time_t *given);
/* The kernel dropped n lookups (forget). */
void	node_forget(uint64_t ino, uint64_t n);
/* 1 if the content of ino was given to the kernel's page cache since the
 * kernel looked it up (fs/tree.c: an unchanging file is stored at its
 * first open only); with set, mark it so. 0 for an ino not held. */
int	node_stored(uint64_t ino, int set);
/* 1 if the kernel holds a lookup on path now. */
int	node_held(const char *path);
/* Copy the path of ino into buf: 0, ESTALE (unknown ino), ENAMETOOLONG. */
int	node_path(uint64_t ino, char *buf, size_t len);
/* The entry at path was renamed: its node (if any) now stands for newpath. */
void	node_rename(const char *path, const char *newpath);
/* Number of nodes held (for tests and diagnostics). */
size_t	node_count(void);

#endif
