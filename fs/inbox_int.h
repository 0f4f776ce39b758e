/*
 * inbox_int.h - what fs/inbox.c and its indexing thread
 * (fs/inbox_indexer.c) share; nothing else includes it.
 */
#ifndef MAILFS_INBOX_INT_H
#define MAILFS_INBOX_INT_H

#include "fs/inbox_index.h"

struct mime_node;

/* Render the message id at path, with raw and envelope, and its key (of
 * the bytes rendered): 0, ENOENT, ENOMEM or EIO. */
int	inbox_render(const char *id, const char *path, struct mime_node **root,
	    struct inbox_key *key);

/* The indexing thread: started after the map and the index are open,
 * stopped before they close. wake is the map's callback (inbox_map_open):
 * an ID went or changed. */
void	inbox_indexer_start(void);
void	inbox_indexer_stop(void);
void	inbox_indexer_wake(void);

#endif
