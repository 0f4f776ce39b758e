/*
 * xattr.c - extended attributes: mailfs has none, and refuses to keep
 * any (ENOTSUP), so cp -a, rsync -X and tar --xattrs go on without them.
 *
 * API: tree_int.h (xattr_*), in the ops table of fs/tree.c.
 */
#include "fs/tree_int.h"

#include <errno.h>

void
xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name,
    const char *value, size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	fuse_reply_err(req, ENOTSUP);
}

void
xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino, (void)name, (void)size;
	fuse_reply_err(req, ENOTSUP);
}

void
xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino, (void)size;
	fuse_reply_err(req, ENOTSUP);
}

void
xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	fuse_reply_err(req, ENOTSUP);
}
