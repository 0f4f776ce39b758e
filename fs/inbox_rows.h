/*
 * inbox_rows.h - the rows of the inbox index (fs/inbox_index.h) kept in
 * memory: ID -> the key the row was made from and its meta blob. The
 * index reads them all in one pass at start and then answers a lookup
 * without a query (a cold start would otherwise read the index file a
 * page at a time, one query per message). Bounded in bytes: a table that
 * would grow past its bound refuses the row (E2BIG) and the index goes
 * back to queries. A plain container: the caller locks.
 */
#ifndef MAILFS_INBOX_ROWS_H
#define MAILFS_INBOX_ROWS_H

#include <stddef.h>

#include "fs/inbox_index.h"

struct inbox_rows;

/* An empty table holding at most max bytes (rows and their upkeep), or
 * NULL (ENOMEM). */
struct inbox_rows *inbox_rows_new(size_t max);
void	inbox_rows_free(struct inbox_rows *t);
/* id's key and meta (valid until the table changes): 0, or ENOENT. */
int	inbox_rows_get(const struct inbox_rows *t, const char *id,
	    struct inbox_key *key, const unsigned char **meta, size_t *len);
/* Store id's row (a copy), replacing the one it had: 0, or E2BIG (over
 * the bound) or ENOMEM, the table as it was. */
int	inbox_rows_put(struct inbox_rows *t, const char *id,
	    const struct inbox_key *key, const void *meta, size_t len);
void	inbox_rows_delete(struct inbox_rows *t, const char *id);
/* Every id, sorted (strv_free): 0, or ENOMEM. */
int	inbox_rows_ids(const struct inbox_rows *t, char ***ids, size_t *n);
size_t	inbox_rows_bytes(const struct inbox_rows *t);

#endif
