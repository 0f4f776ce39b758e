/*
 * mime.h - renders a received message into the upas/fs-style file tree of
 * inbox/ID/, with GMime: from, to, cc, replyto, subject, date, messageid
 * (unfolded, RFC 2047-decoded to UTF-8, one line each), header, body,
 * info, and numbered MIME part directories 1/, 2/, ... each holding type,
 * filename, body (decoded bytes), raw, and further numbered parts.
 * raw and envelope of the top level are added by the caller (fs/inbox.c),
 * with mime_add_raw and mime_add_file. g_mime_init() must have been called once.
 * The exact rules (which part is "body", caps, fallbacks) are in mime.c.
 */
#ifndef MAILFS_MIME_H
#define MAILFS_MIME_H

#include <stddef.h>

struct mime_node {
	char *name;
	int is_dir;
	char *data;		/* file contents (malloc'd), NULL for dirs */
	size_t len;
	struct mime_node *kids;	/* dirs: entries in display order */
	size_t nkids;
	/*
	 * data points into the root's copy of the message (the raw slices)
	 * and is not freed on its own. The root node, a dir, keeps that
	 * copy in its data/len.
	 */
	int borrowed;
	/*
	 * Where a file's bytes are, in a tree read back from the inbox index
	 * (fs/inbox_index.h) instead of rendered: MIME_HERE in data (always
	 * so in a rendered tree); MIME_IN_MESSAGE at [off, off + len) of the
	 * message file; MIME_IN_INDEX at off of the index's big column, with
	 * FNV-1a sum; MIME_RENDERED only by rendering the message again.
	 */
	enum mime_where { MIME_HERE, MIME_IN_MESSAGE, MIME_IN_INDEX,
		MIME_RENDERED } where;
	unsigned long long off, sum;
};

/* Parse a message (as stored) into a directory node. NULL + errno. */
struct mime_node *mime_render(const char *data, size_t len);
/* The same, with the Maildir flags (e.g. "RS") shown in info; may be NULL. */
struct mime_node *mime_render_flags(const char *data, size_t len,
	    const char *flags);
/*
 * The info file of a message with the Maildir flags (e.g. "RS", may be
 * NULL) on its last line: info as mime_render made it (ending in
 * "flags\n"), a new malloc'd copy in *out. 0, or -1 (ENOMEM).
 */
int	mime_info_flags(const char *info, size_t len, const char *flags,
	    char **out, size_t *outlen);
/* Find the node at a relative path like "2/1/body" ("" = the node). */
const struct mime_node *mime_find(const struct mime_node *root,
	    const char *relpath);
/*
 * Append a file (a copy of data) to dir's entries. 0, or -1 + errno.
 * Pointers to dir's earlier entries may move.
 */
int	mime_add_file(struct mime_node *dir, const char *name,
	    const char *data, size_t len);
/* Append "raw" to root: the message itself, sharing the root's copy. */
int	mime_add_raw(struct mime_node *root);
void	mime_free(struct mime_node *root);

#endif
