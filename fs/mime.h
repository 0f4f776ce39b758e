/*
 * mime.h - renders a received message into the upas/fs-style file tree of
 * inbox/ID/, with GMime: from, to, cc, replyto, subject, date, messageid
 * (unfolded, RFC 2047-decoded to UTF-8, one line each), header, body,
 * info, and numbered MIME part directories 1/, 2/, ... each holding type,
 * filename, body (decoded bytes), raw, and further numbered parts.
 * raw and envelope of the top level are added by the caller (fs/inbox.c).
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
};

/* Parse a message (as stored) into a directory node. NULL + errno. */
struct mime_node *mime_render(const char *data, size_t len);
/* Find the node at a relative path like "2/1/body" ("" = the node). */
const struct mime_node *mime_find(const struct mime_node *root,
	    const char *relpath);
void	mime_free(struct mime_node *root);

#endif
