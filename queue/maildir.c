/*
 * maildir.c - the inbox Maildir (SPOOL/inbox/{tmp,new,cur}): opening
 * (and the cleanup of what a crash left), IDs, delivery, removal. API in
 * maildir.h; finding and listing messages is maildir_list.c, their
 * envelopes maildir_envelope.c (maildir_int.h).
 *
 * A delivery is a stream (struct maildir_tmp; maildir_deliver* wrap one):
 * a file written piece by piece as the data arrives, then at
 * maildir_tmp_commit the envelope stored with it, both made durable by a
 * syncfs round, the file linked into new/ID, and a second round makes the
 * name durable: the message and its envelope are durable before the link
 * and the link before maildir_tmp_commit returns 0.
 *
 * The file is made without a name (O_TMPFILE in new/, linked by its
 * descriptor once durable): a crash before the link leaves nothing in the
 * Maildir (the file system frees the inode when it mounts; e2fsck of an
 * ext4 without a journal may put it in lost+found), and a delivery
 * touches one directory entry, not three (tmp/ID made, new/ID linked,
 * tmp/ID unlinked). Where the file system or the kernel cannot (probed at open),
 * the file is tmp/ID, renamed into new/ID without replacing anything
 * (RENAME_NOREPLACE; link and unlink where even that is missing): the
 * Maildir convention. A crash then leaves tmp/ID, removed at open
 * (clean_tmp).
 *
 * Rounds are shared by concurrent deliveries (group commit, struct
 * spool_dir in spool.h, one syncfs per file system): the more deliveries
 * arrive during a round, the more share the next.
 *
 * Everything inside the Maildir is reached through directory descriptors
 * (tmp/, new/); only maildir_path hands out a full path.
 *
 * Names are SECONDS.M<usec>P<pid>Q<seq>.<host> (the Maildir convention,
 * with a per-process sequence so two deliveries in one microsecond still
 * differ); "/" and ":" in the host name become \057 and \072.
 *
 * Diagnostics: functions return an errno value or -1 with errno set;
 * leftovers removed at open are logged with log_warn/log_info.
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
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/log.h"
#include "queue/maildir.h"
#include "queue/maildir_int.h"
#include "queue/spool.h"

#define STALE_TMP	(36 * 3600)	/* others' tmp/ files: Maildir's rule */


/* How a nameless file (O_TMPFILE) gets its name in new/ (probe_anon). */
enum anon_link {
	ANON_NONE,	/* no O_TMPFILE here: tmp/ID */
	ANON_EMPTY,	/* linkat(fd, "", AT_EMPTY_PATH) */
	ANON_PROC	/* linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW) */
};

static struct {
	char		*root;		/* SPOOL/inbox */
	char		host[160];	/* sanitized for file names */
	int		tmpfd, newfd;
	struct spool_dir sync;		/* syncfs rounds: new/, envelope/ */
	atomic_ulong	seq;
	long		pid;		/* for the names */
	enum anon_link	anon;
	int		open;
} md = { .tmpfd = -1, .newfd = -1 };

static char *
path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) == -1)
		return NULL;
	return p;
}

/*
 * Who owns what is made in the Maildir (maildir_set_owner): a reader
 * such as Dovecot running as another user reads it without a chown, and
 * each new message is made so, not only the ones before a chown -R.
 */
static struct {
	uid_t	uid;		/* (uid_t)-1: the daemon's */
	gid_t	gid;
	mode_t	mode;		/* files; directories add the x bits */
	int	chmod;		/* files need fchmod: the umask takes bits */
} own = { (uid_t)-1, (gid_t)-1, 0600, 1 };

void
maildir_set_owner(uid_t uid, gid_t gid, mode_t mode)
{
	own.uid = uid;
	own.gid = gid;
	own.mode = mode & 0666;
}

/* 1 if the process's umask takes none of the bits of mode (a file
 * made with mode has it already); 0 if it does or is not known. */
static int
umask_keeps(mode_t mode)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned int mask;
	int keeps = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Umask: %o", &mask) == 1) {
			keeps = (mode & mask) == 0;
			break;
		}
	fclose(f);
	return keeps;
}

/* fd (a file made with own.mode, or a directory: dir) gets the owner and
 * mode; -1 + errno. */
static int
own_fd(int fd, int dir)
{
	mode_t m = dir ? own.mode | (own.mode & 0444) >> 2 : own.mode;

	if ((own.uid != (uid_t)-1 || own.gid != (gid_t)-1) &&
	    fchown(fd, own.uid, own.gid) == -1)
		return -1;
	return dir || own.chmod ? fchmod(fd, m) : 0;
}

/* mkdir path (the inbox's with the owner and mode, own): -1 + errno. */
static int
make_dir(const char *path, int own_it)
{
	int fd, rc;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	if (!own_it)
		return 0;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = own_fd(fd, 1);
	close(fd);
	return rc;
}

static int
is_ours(const char *name)
{
	const char *p = strstr(name, ".M");
	size_t hl = strlen(md.host);
	size_t nl = strlen(name);

	return p != NULL && strchr(p, 'P') != NULL && strchr(p, 'Q') != NULL &&
	    nl > hl && strcmp(name + nl - hl, md.host) == 0;
}

/*
 * clean_tmp - a crash mid-delivery leaves its file in tmp/: ours go at
 * once (no delivery of ours is running yet); other programs' only when
 * stale, since one of them may be writing right now. So do the messages
 * a crash left deleted but not yet unlinked (maildir_trash.c).
 */
static void
clean_tmp(void)
{
	char *tmp = path_join(md.root, "tmp");
	DIR *d;
	struct dirent *e;
	time_t now = time(NULL);

	if (tmp == NULL || (d = opendir(tmp)) == NULL) {
		free(tmp);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		int trash = maildir_trash_is(e->d_name);

		if (e->d_name[0] == '.' && !trash)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, 0) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (!is_ours(e->d_name) && !trash &&
		    now - st.st_mtime < STALE_TMP)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == -1)
			log_warn("maildir: unlink %s/%s", tmp, e->d_name);
		else if (!trash)
			log_info("maildir: removed unfinished %s/%s", tmp,
			    e->d_name);
	}
	closedir(d);
	free(tmp);
}

/* Give the nameless file fd the name dirfd/name (how: md.anon). */
static int
link_anon(int fd, enum anon_link how, int dirfd, const char *name)
{
	char proc[64];

	if (how == ANON_EMPTY)
		return linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == -1 ?
		    errno : 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == -1 ?
	    errno : 0;
}

/*
 * probe_anon - can a file made with O_TMPFILE in new/ be linked there
 * later? AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels,
 * /proc/self/fd needs /proc: try each with a hidden name in tmp/ (which
 * clean_tmp and mail readers leave alone).
 */
static enum anon_link
probe_anon(void)
{
	static const char name[] = ".mailfs-link-probe";
	enum anon_link how = ANON_NONE;
	int fd = openat(md.newfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
	    0600);

	if (fd == -1)
		return ANON_NONE;
	unlinkat(md.tmpfd, name, 0);	/* a crash's */
	if (link_anon(fd, ANON_EMPTY, md.tmpfd, name) == 0)
		how = ANON_EMPTY;
	else if (link_anon(fd, ANON_PROC, md.tmpfd, name) == 0)
		how = ANON_PROC;
	if (how != ANON_NONE)
		unlinkat(md.tmpfd, name, 0);
	close(fd);
	return how;
}

static int
open_dirfd(const char *dir, const char *sub)
{
	char *p = sub ? path_join(dir, sub) : strdup(dir);
	int fd;

	if (p == NULL)
		return -1;
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(p);
	return fd;
}

int
maildir_open(const char *spool, const char *hostname)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	struct stat st;
	size_t j = 0;
	int envfd;

	if ((md.root = path_join(spool, "inbox")) == NULL)
		goto fail;
	for (const char *h = hostname; *h && j + 5 < sizeof(md.host); h++) {
		if (*h == '/' || *h == ':') {
			j += snprintf(md.host + j, sizeof(md.host) - j, "\\%03o",
			    (unsigned char)*h);
		} else {
			md.host[j++] = *h;
		}
	}
	md.host[j] = '\0';
	if (make_dir(md.root, 1) == -1 ||
	    (envfd = maildir_envelope_open(spool)) == -1)
		goto fail;
	/* another owner must reach SPOOL/inbox: SPOOL becomes searchable
	 * (not listable); what else is in it stays 0700 */
	if (own.uid != (uid_t)-1 && stat(spool, &st) == 0 &&
	    (st.st_mode & 0111) != 0111 && chmod(spool, (st.st_mode & 07777) |
	    0111) == -1)
		goto fail;
	for (size_t i = 0; i < 3; i++) {
		char *p = path_join(md.root, subs[i]);
		int r = p ? make_dir(p, 1) : -1;

		free(p);
		if (r == -1)
			goto fail;
	}
	md.tmpfd = open_dirfd(md.root, "tmp");
	md.newfd = open_dirfd(md.root, "new");
	if (md.tmpfd == -1 || md.newfd == -1)
		goto fail;
	if ((errno = spool_fs_open(&md.sync, md.newfd, ".")) != 0 ||
	    (errno = spool_dir_add(&md.sync, envfd, ".")) != 0)
		goto fail;
	md.pid = (long)getpid();
	md.anon = probe_anon();
	own.chmod = !umask_keeps(own.mode);
	md.open = 1;
	clean_tmp();
	maildir_trash_open(md.tmpfd);
	maildir_envelope_clean();
	return 0;
fail:
	{
		int e = errno;

		maildir_close();
		errno = e;
	}
	return -1;
}

void
maildir_close(void)
{
	int *fds[] = { &md.tmpfd, &md.newfd };

	maildir_trash_close();
	spool_dir_close(&md.sync);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] != -1)
			close(*fds[i]);
		*fds[i] = -1;
	}
	maildir_envelope_close();
	maildir_list_forget();
	free(md.root);
	md.root = NULL;
	md.open = 0;
}

void
maildir_make_id(char id[MAILDIR_ID_MAX])
{
	struct timeval tv;
	unsigned long seq = atomic_fetch_add(&md.seq, 1);

	gettimeofday(&tv, NULL);
	snprintf(id, MAILDIR_ID_MAX, "%lld.M%06ldP%ldQ%lu.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec,
	    md.pid ? md.pid : (long)getpid(), seq,
	    md.host);
}

const char *
maildir_root(void)
{
	return md.open ? md.root : NULL;
}

void
maildir_anon_off(void)
{
	md.anon = ANON_NONE;
}

struct maildir_tmp {
	int	fd;
	int	anon;		/* O_TMPFILE: nameless until linked into new/;
				 * else tmp/ID */
	unsigned long ticket;	/* of md.sync, taken before the first write */
	char	id[MAILDIR_ID_MAX];
};

/* The file to new/ID, never replacing a message there. */
static int
publish(const struct maildir_tmp *t)
{
	const char *id = t->id;

	if (t->anon)
		return link_anon(t->fd, md.anon, md.newfd, id);
	if (renameat2(md.tmpfd, id, md.newfd, id, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno;
	/* no RENAME_NOREPLACE here: the Maildir way, link then unlink, and
	 * rename where there are no hard links */
	if (linkat(md.tmpfd, id, md.newfd, id, 0) == 0) {
		unlinkat(md.tmpfd, id, 0);
		return 0;
	}
	if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP)
		return errno;
	if (faccessat(md.newfd, id, F_OK, 0) == 0)
		return EEXIST;
	return renameat(md.tmpfd, id, md.newfd, id) == -1 ? errno : 0;
}

int
maildir_tmp_open(const char *id, struct maildir_tmp **t)
{
	struct maildir_tmp *m;
	int rc;

	if (!md.open)
		return EBADF;
	if (strlen(id) >= MAILDIR_ID_MAX || strchr(id, '/') != NULL)
		return EINVAL;
	if ((m = malloc(sizeof(*m))) == NULL)
		return ENOMEM;
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->ticket = spool_sync_ticket(&md.sync);
	m->fd = -1;
	if (md.anon != ANON_NONE)
		m->fd = openat(md.newfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
		    own.mode);
	m->anon = m->fd != -1;
	if (m->fd == -1)
		m->fd = openat(md.tmpfd, id, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, own.mode);
	if (m->fd == -1 || own_fd(m->fd, 0) == -1) {
		rc = errno;
		if (m->fd != -1) {
			close(m->fd);
			if (!m->anon)
				unlinkat(md.tmpfd, id, 0);
		}
		free(m);
		return rc;
	}
	*t = m;
	return 0;
}

int
maildir_tmp_write(struct maildir_tmp *t, const struct iovec *v, size_t n)
{
	return spool_write_iov(t->fd, v, n);
}

void
maildir_tmp_abort(struct maildir_tmp *t)
{
	if (!t->anon && unlinkat(md.tmpfd, t->id, 0) == -1)
		log_warn("maildir: unlink %s/tmp/%s", md.root, t->id);
	close(t->fd);
	free(t);
}

int
maildir_tmp_commit(struct maildir_tmp *t, const char *envelope)
{
	const char *id = t->id;
	int rc, envfile = 0, published = 0;

	/* from here on, microseconds until each wait (spool.h) */
	spool_sync_hold(&md.sync);
	/* the envelope before the link, so that new/ID never appears
	 * without it; both durable (round 1) before the link shows the
	 * message */
	rc = maildir_envelope_put(t->fd, id, envelope, &envfile);
	if (rc == 0 && !t->anon) {
		rc = close(t->fd) == -1 ? errno : 0;
		t->fd = -1;
	}
	if (rc == 0 && (rc = spool_sync_wait(&md.sync, t->ticket, 1)) == 0)
		published = (rc = publish(t)) == 0;
	if (t->fd != -1 && close(t->fd) == -1 && rc == 0)
		rc = errno;
	if (rc == 0)
		rc = spool_sync_wait(&md.sync, t->ticket, 1);
	if (rc != 0) {
		/* Not stored, or not known to be durable: take it back
		 * rather than 250 a message that a crash could lose and a
		 * retry duplicate. A nameless file needs nothing: it goes
		 * with its descriptor. */
		if (published)
			unlinkat(md.newfd, id, 0);
		else if (!t->anon)
			unlinkat(md.tmpfd, id, 0);
		if (envfile)
			maildir_envelope_drop(id);
	}
	spool_sync_release(&md.sync);
	free(t);
	return rc;
}

int
maildir_deliver_id(const char *id, const char *data, size_t len,
    const char *envelope)
{
	struct iovec v = { (void *)data, len };

	return maildir_deliver_iov(id, &v, 1, envelope);
}

int
maildir_deliver_iov(const char *id, const struct iovec *v, size_t n,
    const char *envelope)
{
	struct maildir_tmp *t;
	int rc;

	if ((rc = maildir_tmp_open(id, &t)) != 0)
		return rc;
	if ((rc = maildir_tmp_write(t, v, n)) != 0) {
		maildir_tmp_abort(t);
		return rc;
	}
	return maildir_tmp_commit(t, envelope);
}

int
maildir_deliver(const char *data, size_t len, const char *envelope,
    char id[MAILDIR_ID_MAX])
{
	maildir_make_id(id);
	return maildir_deliver_id(id, data, len, envelope);
}

int
maildir_delete(const char *id)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = maildir_path(id, path)) != 0)
		return rc;
	return maildir_remove(id, path);
}

int
maildir_remove(const char *id, const char *path)
{
	int rc;

	if (!md.open)
		return EBADF;
	if (strchr(id, '/') != NULL || id[0] == '.' || id[0] == '\0')
		return ENOENT;
	if ((rc = maildir_trash_put(path)) != 0)
		return rc;
	maildir_envelope_drop(id);	/* an old spool's, or a fallback */
	return 0;
}
