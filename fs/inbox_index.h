/*
 * inbox_index.h - the inbox index: what inbox/ID/ shows of each message
 * (its tree: names, sizes, the small decoded files, where the others
 * are), kept in SQLite at SPOOL/inbox.index so that a message is parsed
 * once, not at every open or stat, and not again after a restart.
 *
 * The index is a cache; the Maildir is the truth. A row is used only
 * while the message file still has the size, mtime and inode it was
 * made from (struct inbox_key); a row that does not match, or whose bytes
 * fail their checksum, is as good as absent. An index that is not a
 * database, is corrupt, or was deleted is made anew (log_warn) and
 * filled again. Thread-safe (one connection behind a lock).
 *
 * The codec (inbox_index_encode/decode) is pure and is what the store
 * keeps: a rendered tree (fs/mime.h) becomes a small "meta" blob (the
 * tree, small files inline, raw slices as offsets into the message) and
 * a "big" blob (larger decoded files); decoding the meta gives a tree
 * whose files say where their bytes are (mime_node.where).
 */
#ifndef MAILFS_INBOX_INDEX_H
#define MAILFS_INBOX_INDEX_H

#include <stddef.h>

struct mime_node;

/* What a row was made from: the message file's attributes. */
struct inbox_key {
	long long size, mtime_ns, ino;
};

/* A row, encoded: for inbox_index_put. */
struct inbox_row {
	const char *id;
	struct inbox_key key;
	unsigned char *meta, *big;
	size_t metalen, biglen;
};

/* Files at most this long are kept in the meta blob; longer ones up to
 * INBOX_BIG_MAX in the big one; longer still are rendered when opened. */
#define INBOX_INLINE_MAX	512
#define INBOX_BIG_MAX		(256 * 1024)

/* Encode the rendered tree root (its raw slices point into root->data)
 * into r->meta and r->big (malloc'd). 0, or -1 + errno. */
int	inbox_index_encode(const struct mime_node *root, struct inbox_row *r);
/* The tree of a meta blob, or NULL (EINVAL: not a valid blob). */
struct mime_node *inbox_index_decode(const unsigned char *meta, size_t len);
void	inbox_row_free(struct inbox_row *r);

/* The keys are the same file's. */
int	inbox_key_eq(const struct inbox_key *a, const struct inbox_key *b);
/* FNV-1a 64 of n bytes: the checksums of the blobs. */
unsigned long long inbox_index_sum(const void *data, size_t n);

/* Open (or make anew) the index at path. Never fails: without a usable
 * file every lookup misses. */
void	inbox_index_open(const char *path);
/* Read every row into memory, in one pass, so that lookups need no query
 * (up to a bound); lookups meanwhile are served. Call once after open,
 * from a thread that may wait for the disk. */
void	inbox_index_load(void);
void	inbox_index_close(void);
/* The tree of id if its row matches key: 0, or ENOENT. */
int	inbox_index_get(const char *id, const struct inbox_key *key,
	    struct mime_node **tree);
/* Store rows (replacing those of the same ids) in one transaction. */
int	inbox_index_put(const struct inbox_row *rows, size_t n);
/* The bytes of file n of id's tree (n->where == MIME_IN_INDEX) into a
 * malloc'd *buf, checked against n->sum: 0, ENOENT or ENOMEM. */
int	inbox_index_big(const char *id, const struct inbox_key *key,
	    const struct mime_node *n, char **buf);
/* Forget ids. */
void	inbox_index_delete(char *const *ids, size_t n);
/* Every id with a row, sorted (strv_free). */
int	inbox_index_ids(char ***ids, size_t *n);
/* How many times the index was made anew since it was opened. */
unsigned inbox_index_generation(void);

#endif
