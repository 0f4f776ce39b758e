/*
 * maildir_envelope.c - the SMTP envelope of each message delivered into
 * the inbox Maildir (the text of inbox/ID/envelope). Public API in
 * maildir.h (maildir_envelope, maildir_envelope_at), the delivery side in
 * maildir_int.h.
 *
 * The envelope is an extended attribute of the message file itself
 * (user.mailfs.envelope), set while the file has no name yet, so that it
 * becomes durable in the same syncfs round as the data and the message
 * is never visible without it. It costs no inode and no directory entry
 * (ext4 keeps a small value inside the inode, a bigger one in one block
 * of its own), moves with the file (new/ -> cur/, flag changes) and goes
 * with it, whoever deletes it. Where the file system refuses (no user
 * xattrs: ENOTSUP; a value too big for it: ENOSPC, E2BIG, ERANGE), the
 * envelope is a file SPOOL/envelope/ID instead, as every envelope was
 * before; those of old spools are read the same way, and orphans (a crash
 * before the link, a message another program deleted) are dropped at
 * open (maildir_envelope_clean).
 *
 * Diagnostics: log_warn for an envelope file that cannot be removed;
 * everything else is returned as an errno value.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strv.h"
#include "queue/maildir.h"
#include "queue/maildir_int.h"
#include "queue/spool.h"

#define SMALL	1024	/* most envelopes: read without asking the size */

static struct {
	char		*dir;		/* SPOOL/envelope */
	int		fd;
	atomic_int	no_xattr;	/* the file system said ENOTSUP */
} env = { .fd = -1 };

int
maildir_envelope_open(const char *spool)
{
	if (asprintf(&env.dir, "%s/envelope", spool) == -1) {
		env.dir = NULL;
		return -1;
	}
	if (mkdir(env.dir, 0700) == -1 && errno != EEXIST)
		return -1;
	env.fd = open(env.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	atomic_store(&env.no_xattr, 0);
	return env.fd;
}

void
maildir_envelope_close(void)
{
	if (env.fd != -1)
		close(env.fd);
	env.fd = -1;
	free(env.dir);
	env.dir = NULL;
}

int
maildir_envelope_put(int fd, const char *id, const char *envelope,
    int *file)
{
	size_t len = strlen(envelope);

	*file = 0;
	if (!atomic_load(&env.no_xattr)) {
		if (fsetxattr(fd, MAILDIR_ENVELOPE_XATTR, envelope, len, 0) == 0)
			return 0;
		if (errno == ENOTSUP)
			atomic_store(&env.no_xattr, 1);
		/* any refusal: the file decides (a full disk fails it too) */
	}
	*file = 1;
	return spool_put_file(env.fd, id, envelope, len);
}

void
maildir_envelope_drop(const char *id)
{
	if (unlinkat(env.fd, id, 0) == -1 && errno != ENOENT)
		log_warn("maildir: unlink %s/%s", env.dir, id);
}

void
maildir_envelope_clean(void)
{
	DIR *d;
	struct dirent *e;
	char **ids;
	size_t n;

	if ((d = opendir(env.dir)) == NULL)
		return;
	if (maildir_list(&ids, &n) != 0) {
		closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;

		if (name[0] == '.' || (n > 0 &&
		    bsearch(&name, ids, n, sizeof(*ids), strv_cmp) != NULL))
			continue;
		if (unlinkat(dirfd(d), name, 0) == -1)
			log_warn("maildir: unlink %s/%s", env.dir, name);
	}
	closedir(d);
	strv_free(ids, n);
}

/* The attribute of the file at path, malloc'd and NUL-terminated: 0, or
 * an errno (ENODATA: the file has none). */
static int
xattr_read(const char *path, char **buf, size_t *len)
{
	char small[SMALL];
	ssize_t n = getxattr(path, MAILDIR_ENVELOPE_XATTR, small,
	    sizeof(small));
	char *p = NULL;

	if (n >= 0) {
		if ((p = malloc((size_t)n + 1)) == NULL)
			return ENOMEM;
		memcpy(p, small, (size_t)n);
	}
	/* bigger: ask its size (it may change in between: ask again) */
	while (n == -1 && errno == ERANGE) {
		ssize_t size = getxattr(path, MAILDIR_ENVELOPE_XATTR, NULL, 0);

		if (size == -1)
			break;
		free(p);
		if ((p = malloc((size_t)size + 1)) == NULL)
			return ENOMEM;
		n = getxattr(path, MAILDIR_ENVELOPE_XATTR, p, (size_t)size);
	}
	if (n == -1) {
		int e = errno;

		free(p);
		return e;
	}
	p[n] = '\0';
	*buf = p;
	*len = (size_t)n;
	return 0;
}

static int
id_safe(const char *id)
{
	return id[0] != '\0' && id[0] != '.' && strchr(id, '/') == NULL;
}

int
maildir_envelope_at(const char *id, const char *path, char **buf,
    size_t *len)
{
	char where[PATH_MAX];
	int rc;

	if (env.fd == -1)
		return EBADF;
	if (!id_safe(id))
		return ENOENT;
	rc = xattr_read(path, buf, len);
	/* moved since its caller saw it (a reader flagged it): find it */
	if (rc == ENOENT && maildir_path(id, where) == 0)
		rc = xattr_read(where, buf, len);
	if (rc == 0 || rc == ENOMEM)
		return rc;
	/* ENODATA, ENOTSUP, gone: an envelope file, or none */
	return spool_read_file(env.fd, id, buf, len);
}

int
maildir_envelope(const char *id, char **buf, size_t *len)
{
	char path[PATH_MAX];

	if (env.fd == -1)
		return EBADF;
	if (!id_safe(id))
		return ENOENT;
	if (maildir_path(id, path) != 0)
		return spool_read_file(env.fd, id, buf, len);
	return maildir_envelope_at(id, path, buf, len);
}
