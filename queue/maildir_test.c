/*
 * maildir_test.c - unit test of queue/maildir.c and maildir_envelope.c:
 * deliver, list, path, envelope (an xattr of the file, the fallback and
 * old spools' SPOOL/envelope/ID files), delete, count, streaming (commit
 * and abort), the cleanup at open, and unique names under concurrent
 * deliveries.
 * TAP on stdout; exit 1 on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/strv.h"
#include "queue/maildir.h"
#include "queue/maildir_int.h"
#include "tests/tap.h"

#define THREADS		8
#define PER_THREAD	40
#define XATTR		"user.mailfs.envelope"

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[65536];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Files in dir whose names begin with prefix, hidden ones too; without
 * one (NULL), those not hidden. */
static int
count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += prefix ? strncmp(e->d_name, prefix, strlen(prefix)) == 0 :
		    e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
count_dir(const char *dir)
{
	return count_prefix(dir, NULL);
}

static void *
deliver_many(void *arg)
{
	char (*ids)[MAILDIR_ID_MAX] = arg;

	for (int i = 0; i < PER_THREAD; i++)
		if (maildir_deliver("Subject: x\n\nbody\n", 17, "from a@b\n",
		    ids[i]) != 0)
			ids[i][0] = '\0';
	return NULL;
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
main(void)
{
	char spool[] = "/tmp/maildir_test.XXXXXX";
	char path[PATH_MAX], id[MAILDIR_ID_MAX], id2[MAILDIR_ID_MAX];
	char **ids;
	size_t n, len;
	char *env;
	const char *msg = "Return-Path: <a@x.test>\nSubject: hi\n\nhello\n";

	if (mkdtemp(spool) == NULL)
		return perror("mkdtemp"), 1;
	ok(maildir_open(spool, "host/with:odd") == 0, "open creates the Maildir");
	snprintf(path, sizeof(path), "%s/inbox/cur", spool);
	ok(count_dir(path) == 0, "tmp, new, cur exist");

	ok(maildir_deliver(msg, strlen(msg), "from a@x.test\nto u@y.test\n",
	    id) == 0, "deliver");
	ok(strchr(id, '/') == NULL && strchr(id, ':') == NULL &&
	    strstr(id, ".M") && strstr(id, "host\\057with\\072odd"),
	    "ID is a safe Maildir name with the escaped host");
	ok(maildir_path(id, path) == 0 && strstr(path, "/inbox/new/") &&
	    strcmp(slurp(path), msg) == 0, "path finds the message in new/");
	ok(maildir_envelope(id, &env, &len) == 0 &&
	    strcmp(env, "from a@x.test\nto u@y.test\n") == 0 &&
	    len == strlen(env), "envelope kept");
	free(env);
	snprintf(path, sizeof(path), "%s/inbox/tmp", spool);
	ok(count_dir(path) == 0, "nothing left in tmp/");

	/* a mail reader moves it to cur/ with flags; the ID stays */
	char from[PATH_MAX], to[PATH_MAX];
	snprintf(from, sizeof(from), "%s/inbox/new/%s", spool, id);
	snprintf(to, sizeof(to), "%s/inbox/cur/%s:2,S", spool, id);
	ok(rename(from, to) == 0 && maildir_path(id, path) == 0 &&
	    strcmp(path, to) == 0, "path follows the message into cur/");

	/* mail put there by another program */
	snprintf(path, sizeof(path), "%s/inbox/new/1700000000.other.host", spool);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	ok(fd != -1 && write(fd, "a\n", 2) == 2 && close(fd) == 0,
	    "foreign message placed");
	ok(maildir_list(&ids, &n) == 0 && n == 2 &&
	    strcmp(ids[0], "1700000000.other.host") == 0 &&
	    strcmp(ids[1], id) == 0, "list: new and cur, sorted, without :2,");
	strv_free(ids, n);
	ok(maildir_envelope("1700000000.other.host", &env, &len) == ENOENT,
	    "no envelope for a foreign message");
	ok(maildir_count() == 2, "count");
	ok(maildir_path("../x", path) == ENOENT && maildir_path("", path) ==
	    ENOENT && maildir_path("nonesuch", path) == ENOENT,
	    "path: unknown and unsafe IDs are ENOENT");

	ok(maildir_delete(id) == 0 && maildir_path(id, path) == ENOENT &&
	    maildir_envelope(id, &env, &len) == ENOENT && maildir_count() == 1,
	    "delete removes the message and its envelope");
	ok(maildir_delete(id) == ENOENT, "delete twice: ENOENT");

	maildir_make_id(id);
	maildir_make_id(id2);
	ok(strcmp(id, id2) != 0, "make_id: two IDs in a row differ");
	ok(maildir_deliver_id(id, "x\n", 2, "from <>\n") == 0 &&
	    maildir_path(id, path) == 0, "deliver_id stores under that ID");
	{
		struct iovec v[3] = { { "Subject: ", 9 }, { "", 0 },
		    { "pieces\n\nx\n", 11 } };
		char iid[MAILDIR_ID_MAX], buf[64];
		ssize_t n = -1;

		maildir_make_id(iid);
		if (maildir_deliver_iov(iid, v, 3, "from <>\n") == 0 &&
		    maildir_path(iid, path) == 0 &&
		    (fd = open(path, O_RDONLY)) != -1) {
			n = read(fd, buf, sizeof(buf));
			close(fd);
		}
		ok(n == 20 && memcmp(buf, "Subject: pieces\n\nx\n", 20) == 0,
		    "deliver_iov stores the pieces as one message");
		maildir_delete(iid);
	}
	{
		/* a stream written in many pieces, then one aborted */
		struct maildir_tmp *t = NULL;
		struct iovec v = { "line of text\n", 13 };
		char sid[MAILDIR_ID_MAX], tmpdir[PATH_MAX], newdir[PATH_MAX];
		char *e = NULL;
		struct stat st;
		int wrote = 1, before;

		snprintf(tmpdir, sizeof(tmpdir), "%s/inbox/tmp", spool);
		snprintf(newdir, sizeof(newdir), "%s/inbox/new", spool);
		maildir_make_id(sid);
		before = count_dir(newdir);
		ok(maildir_tmp_open(sid, &t) == 0 && count_dir(tmpdir) <= 1 &&
		    count_dir(newdir) == before,
		    "tmp_open makes the file: nameless, or tmp/ID");
		for (int i = 0; i < 1000 && t != NULL; i++)
			wrote &= maildir_tmp_write(t, &v, 1) == 0;
		ok(t != NULL && wrote && maildir_path(sid, path) == ENOENT,
		    "tmp_write appends; not in the inbox yet");
		ok(t != NULL && maildir_tmp_commit(t, "from <s@x>\n") == 0 &&
		    maildir_path(sid, path) == 0 && stat(path, &st) == 0 &&
		    st.st_size == 13000 && count_dir(tmpdir) == 0 &&
		    maildir_envelope(sid, &e, &len) == 0 &&
		    strcmp(e, "from <s@x>\n") == 0,
		    "tmp_commit: in new/ whole, with its envelope, tmp/ empty");
		free(e);
		maildir_delete(sid);
		ok(maildir_tmp_open(sid, &t) == 0, "tmp_open again");
		ok(maildir_tmp_write(t, &v, 1) == 0, "tmp_write");
		maildir_tmp_abort(t);
		ok(count_dir(tmpdir) == 0 && maildir_path(sid, path) == ENOENT &&
		    maildir_envelope(sid, &e, &len) == ENOENT &&
		    count_dir(newdir) == before,
		    "tmp_abort leaves nothing in tmp/, new/ or envelope/");
		ok(maildir_tmp_open("../x", &t) == EINVAL,
		    "tmp_open refuses an ID with a slash");
	}
	{
		/* where the envelope is kept: an xattr of the message file
		 * where the file system takes one, else envelope/ID */
		char eid[MAILDIR_ID_MAX], epath[PATH_MAX], val[256];
		char moved[PATH_MAX], *e = NULL;
		const char *ev = "from a@x.test\nto u@y.test\n";
		ssize_t got;

		maildir_make_id(eid);
		ok(maildir_deliver_id(eid, "x\n", 2, ev) == 0 &&
		    maildir_path(eid, path) == 0, "deliver for the envelope");
		got = getxattr(path, XATTR, val, sizeof(val));
		snprintf(epath, sizeof(epath), "%s/envelope/%s", spool, eid);
		if (got == -1 && errno == ENOTSUP)
			ok(access(epath, F_OK) == 0,
			    "no xattrs here: the envelope is envelope/ID");
		else
			ok(got == (ssize_t)strlen(ev) &&
			    memcmp(val, ev, (size_t)got) == 0 &&
			    access(epath, F_OK) == -1,
			    "the envelope is an xattr of the file, no envelope/ID");
		/* a reader flags it: the xattr moves with the file */
		snprintf(moved, sizeof(moved), "%s/inbox/cur/%s:2,S", spool,
		    eid);
		ok(rename(path, moved) == 0 &&
		    maildir_envelope_at(eid, path, &e, &len) == 0 &&
		    strcmp(e, ev) == 0 && len == strlen(ev),
		    "envelope_at follows a message that moved to cur/");
		free(e);
		ok(maildir_delete(eid) == 0 && access(epath, F_OK) == -1 &&
		    maildir_envelope(eid, &e, &len) == ENOENT,
		    "delete: the envelope goes with the file");

		/* too big for any xattr (XATTR_SIZE_MAX is 64 KiB): the
		 * fallback file, read, kept at reopen, removed with it */
		static char big[80 * 1024];
		size_t bl = 0;

		while (bl + 20 < sizeof(big) - 1)
			bl += (size_t)snprintf(big + bl, sizeof(big) - bl,
			    "to r%06zu@y.test\n", bl);
		maildir_make_id(eid);
		snprintf(epath, sizeof(epath), "%s/envelope/%s", spool, eid);
		ok(maildir_deliver_id(eid, "x\n", 2, big) == 0 &&
		    maildir_path(eid, path) == 0 && access(epath, F_OK) == 0 &&
		    getxattr(path, XATTR, NULL, 0) == -1,
		    "an envelope too big for an xattr is envelope/ID");
		ok(maildir_envelope(eid, &e, &len) == 0 && len == bl &&
		    strcmp(e, big) == 0, "and is read from there");
		free(e);
		maildir_close();
		ok(maildir_open(spool, "host/with:odd") == 0 &&
		    access(epath, F_OK) == 0, "it is no orphan at reopen");
		ok(maildir_delete(eid) == 0 && access(epath, F_OK) == -1,
		    "delete removes it");

		/* an old spool: the envelope in envelope/ID, no xattr */
		maildir_make_id(eid);
		snprintf(epath, sizeof(epath), "%s/envelope/%s", spool, eid);
		ok(maildir_deliver_id(eid, "x\n", 2, "from new\n") == 0 &&
		    maildir_path(eid, path) == 0 &&
		    (removexattr(path, XATTR) == 0 || errno == ENODATA ||
		    errno == ENOTSUP) &&
		    (fd = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1 &&
		    write(fd, "from old\n", 9) == 9 && close(fd) == 0 &&
		    maildir_envelope(eid, &e, &len) == 0 &&
		    strcmp(e, "from old\n") == 0,
		    "an old spool's envelope/ID is read");
		free(e);
		ok(maildir_delete(eid) == 0 && access(epath, F_OK) == -1,
		    "and removed with its message");
	}
	maildir_close();

	/* a crash: a half-written tmp file and an envelope without message */
	snprintf(path, sizeof(path), "%s/inbox/tmp/%s", spool, id2);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(path, sizeof(path), "%s/inbox/tmp/1700000000.1.fresh", spool);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(path, sizeof(path), "%s/envelope/%s", spool, id2);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ok(maildir_open(spool, "host/with:odd") == 0, "reopen");
	snprintf(path, sizeof(path), "%s/inbox/tmp/%s", spool, id2);
	ok(access(path, F_OK) == -1, "open removes our tmp/ leftovers");
	snprintf(path, sizeof(path), "%s/inbox/tmp/1700000000.1.fresh", spool);
	ok(access(path, F_OK) == 0, "but not another program's fresh file");
	snprintf(path, sizeof(path), "%s/envelope/%s", spool, id2);
	ok(access(path, F_OK) == -1, "and drops orphaned envelopes");
	ok(maildir_path(id, path) == 0 && maildir_count() == 2,
	    "delivered messages survive reopening");

	/* concurrency: every delivery succeeds under a name of its own */
	static char all[THREADS][PER_THREAD][MAILDIR_ID_MAX];
	pthread_t th[THREADS];
	int good = 1;

	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, deliver_many, all[i]);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			good &= all[i][j][0] != '\0';
	ok(good, "concurrent deliveries all succeed");
	char (*flat)[MAILDIR_ID_MAX] = &all[0][0];

	qsort(flat, THREADS * PER_THREAD, MAILDIR_ID_MAX, cmp_id);
	for (int i = 1; i < THREADS * PER_THREAD; i++)
		good &= strcmp(flat[i - 1], flat[i]) != 0;
	ok(good, "concurrent deliveries get unique IDs");
	ok(maildir_count() == 2 + THREADS * PER_THREAD,
	    "every concurrent delivery is in new/");

	/* read mail in cur/ with flags (some of it sharing slots of the
	 * lookup cache): each is found, also after a flag change renamed it */
	char **list;
	int found = 1;

	ok(maildir_list(&list, &n) == 0, "list before moving to cur/");
	for (size_t i = 0; i < n; i++) {
		snprintf(from, sizeof(from), "%s/inbox/new/%s", spool, list[i]);
		snprintf(to, sizeof(to), "%s/inbox/cur/%s:2,S", spool, list[i]);
		rename(from, to);
	}
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < n; i++) {
			snprintf(to, sizeof(to), "%s/inbox/cur/%s:2,%s", spool,
			    list[i], round ? "RS" : "S");
			found &= maildir_path(list[i], path) == 0 &&
			    strcmp(path, to) == 0;
			if (round == 0) {
				snprintf(from, sizeof(from), "%s", to);
				snprintf(to, sizeof(to), "%s/inbox/cur/%s:2,RS",
				    spool, list[i]);
				rename(from, to);
			}
		}
	ok(found, "path finds flagged messages in cur/, also after renames");
	strv_free(list, n);
	{
		/* where there is no O_TMPFILE: tmp/ID, renamed into new/ */
		struct maildir_tmp *t = NULL;
		struct iovec v = { "x\n", 2 };
		char tid[MAILDIR_ID_MAX], tmpdir[PATH_MAX], *e = NULL;
		int was;

		maildir_anon_off();
		snprintf(tmpdir, sizeof(tmpdir), "%s/inbox/tmp", spool);
		was = count_dir(tmpdir);	/* the fresh file above */
		maildir_make_id(tid);
		ok(maildir_tmp_open(tid, &t) == 0 &&
		    count_dir(tmpdir) == was + 1 &&
		    maildir_tmp_write(t, &v, 1) == 0 &&
		    maildir_path(tid, path) == ENOENT,
		    "no O_TMPFILE: tmp_open creates tmp/ID");
		ok(t != NULL && maildir_tmp_commit(t, "from <t@x>\n") == 0 &&
		    count_dir(tmpdir) == was && maildir_path(tid, path) == 0 &&
		    maildir_envelope(tid, &e, &len) == 0 &&
		    strcmp(e, "from <t@x>\n") == 0,
		    "commit renames it into new/, with its envelope");
		free(e);
		maildir_delete(tid);
		ok(maildir_tmp_open(tid, &t) == 0 &&
		    count_dir(tmpdir) == was + 1, "tmp_open again");
		maildir_tmp_abort(t);
		ok(count_dir(tmpdir) == was && maildir_path(tid, path) == ENOENT,
		    "tmp_abort unlinks tmp/ID");
	}
	{
		/* rm -r: the message leaves new/ at once, into tmp/ under a
		 * hidden name that a thread unlinks soon after; maildir_close
		 * unlinks what is left; a crash's leftovers go at open */
		char did[MAILDIR_ID_MAX], tmpdir[PATH_MAX], gone[PATH_MAX];
		int i, all = 1;

		snprintf(tmpdir, sizeof(tmpdir), "%s/inbox/tmp", spool);
		ok(maildir_deliver(msg, strlen(msg), "from <d@x>\n", did) == 0 &&
		    maildir_path(did, gone) == 0 && maildir_delete(did) == 0 &&
		    access(gone, F_OK) == -1 && errno == ENOENT &&
		    maildir_path(did, path) == ENOENT,
		    "delete: the message leaves new/ at once");
		for (i = 0; i < 200 && count_prefix(tmpdir, ".mailfs-trash-"); i++)
			usleep(10000);
		ok(count_prefix(tmpdir, ".mailfs-trash-") == 0,
		    "its file is unlinked from tmp/ soon after");
		for (i = 0; i < 50; i++)
			all &= maildir_deliver(msg, strlen(msg), "", did) == 0 &&
			    maildir_delete(did) == 0;
		ok(all && maildir_delete(did) == ENOENT,
		    "50 deliveries deleted at once; a second delete: ENOENT");
	}
	maildir_close();
	{
		char tmpdir[PATH_MAX], f[PATH_MAX + 32];
		int fd1, fd2;

		snprintf(tmpdir, sizeof(tmpdir), "%s/inbox/tmp", spool);
		ok(count_prefix(tmpdir, ".mailfs-trash-") == 0,
		    "close unlinks every deleted file");
		snprintf(f, sizeof(f), "%s/.mailfs-trash-7", tmpdir);
		fd1 = open(f, O_WRONLY | O_CREAT, 0600);
		snprintf(f, sizeof(f), "%s/.someone-elses", tmpdir);
		fd2 = open(f, O_WRONLY | O_CREAT, 0600);
		ok(fd1 != -1 && close(fd1) == 0 && fd2 != -1 && close(fd2) == 0 &&
		    maildir_open(spool, "host") == 0 &&
		    count_prefix(tmpdir, ".mailfs-trash-") == 0 &&
		    access(f, F_OK) == 0,
		    "open removes a crash's deleted files, no other hidden file");
		maildir_close();
	}

	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", spool);
	return tap_done();
}
