/*
 * spool_test.c - unit tests of queue/spool.c, the durability layer: the
 * write loop over pieces, fsync'd and atomically replaced files, reading
 * back, tree removal, and the group-commit directory sync (one round over
 * several directories, many threads sharing rounds, a failed round
 * reported to those whose ticket is older), syncfs rounds, and marks of
 * work covered by a later round. TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/spool.h"
#include "tests/tap.h"

#define THREADS		8
#define PER_THREAD	40

static struct spool_dir shared;
static int thread_errors;
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;

static void *
syncer(void *arg)
{
	int i, bad = 0;

	(void)arg;
	for (i = 0; i < PER_THREAD; i++)
		bad += spool_dir_sync(&shared) != 0;
	pthread_mutex_lock(&count_mu);
	thread_errors += bad;
	pthread_mutex_unlock(&count_mu);
	return NULL;
}

int
main(void)
{
	char dir[] = "/tmp/mailfs-spool-test.XXXXXX", *buf = NULL;
	struct iovec v[3] = { { "one ", 4 }, { "", 0 }, { "two\n", 4 } };
	pthread_t t[THREADS];
	struct spool_dir d;
	struct stat st;
	size_t len;
	int dfd, fd, i, saved;

	if (mkdtemp(dir) == NULL || (dfd = open(dir, O_RDONLY |
	    O_DIRECTORY)) == -1) {
		perror("spool_test");
		return 1;
	}

	fd = openat(dfd, "pieces", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(fd != -1 && spool_write_iov(fd, v, 3) == 0 && close(fd) == 0 &&
	    spool_read_file(dfd, "pieces", &buf, &len) == 0 && len == 8 &&
	    strcmp(buf, "one two\n") == 0, "spool_write_iov writes every piece");
	free(buf);
	buf = NULL;

	ok(spool_write_file(dfd, "f", "hello", 5) == 0 &&
	    fstatat(dfd, "f", &st, 0) == 0 && st.st_size == 5 &&
	    (st.st_mode & 0777) == 0640, "spool_write_file: size and mode");
	ok(spool_replace_file(dfd, "f", "replaced", 8) == 0 &&
	    spool_read_file(dfd, "f", &buf, &len) == 0 &&
	    strcmp(buf, "replaced") == 0 &&
	    faccessat(dfd, "f.tmp", F_OK, 0) == -1,
	    "spool_replace_file replaces, no .tmp left");
	free(buf);
	buf = NULL;
	ok(spool_read_file(dfd, "nosuch", &buf, &len) == ENOENT,
	    "spool_read_file of a missing file: ENOENT");
	ok(spool_write_file(dfd, "nodir/f", "x", 1) == ENOENT,
	    "spool_write_file into a missing directory: ENOENT");
	fd = openat(dfd, "empty", O_WRONLY | O_CREAT | O_EXCL, 0640);
	ok(fd != -1 && close(fd) == 0 &&
	    spool_fill_file(dfd, "empty", "filled", 6) == 0 &&
	    spool_read_file(dfd, "empty", &buf, &len) == 0 && len == 6 &&
	    strcmp(buf, "filled") == 0, "spool_fill_file fills an empty file");
	free(buf);
	buf = NULL;
	ok(spool_fill_file(dfd, "nosuch", "x", 1) == ENOENT &&
	    faccessat(dfd, "nosuch", F_OK, 0) == -1,
	    "spool_fill_file creates nothing: ENOENT");

	ok(mkdirat(dfd, "a", 0700) == 0 && mkdirat(dfd, "b", 0700) == 0 &&
	    spool_dir_open(&d, dfd, "a") == 0 && spool_dir_add(&d, dfd, "b") == 0,
	    "a group commit over two directories");
	ok(spool_dir_add(&d, dfd, "a") == EINVAL,
	    "no more than SPOOL_DIR_FDS directories");
	ok(spool_dir_sync(&d) == 0 && d.done == 1 && d.started == 1,
	    "one caller, one round");

	/* A round that fails is reported to whoever waited for it; the next
	 * round, which succeeds, reports success. */
	saved = d.fd[1];
	d.fd[1] = -1;
	ok(spool_dir_sync(&d) == EBADF, "a failed fsync is reported");
	d.fd[1] = saved;
	ok(spool_dir_sync(&d) == 0, "and a later round that works is not");
	spool_dir_close(&d);
	ok(d.nfd == 0, "spool_dir_close closes every directory");

	/* syncfs rounds, and a failure reported to an older ticket: the
	 * error syncfs reports once may concern its data */
	{
		unsigned long t0, t1;

		ok(faccessat(dfd, "a", F_OK, 0) == 0 &&
		    spool_fs_open(&d, dfd, "a") == 0 && d.whole_fs &&
		    spool_dir_add(&d, dfd, "b") == 0 && d.nfd == 1,
		    "spool_fs_open; a directory on the same file system adds "
		    "no syncfs");
		t0 = spool_sync_ticket(&d);
		ok(spool_put_file(dfd, "a/p", "data", 4) == 0 &&
		    spool_sync_wait(&d, t0, 0) == 0 && d.rounds == 1,
		    "one writer, one syncfs");
		t0 = spool_sync_ticket(&d);
		saved = d.fd[0];
		d.fd[0] = -1;
		ok(spool_dir_sync(&d) == EBADF, "a failed syncfs is reported");
		d.fd[0] = saved;
		t1 = spool_sync_ticket(&d);
		ok(spool_sync_wait(&d, t0, 0) == EBADF,
		    "also to a writer whose ticket is older than it");
		ok(spool_sync_wait(&d, t1, 0) == 0,
		    "not to one that began after it");
		spool_dir_close(&d);
	}

	/* marks: work done with nobody waiting, covered by a later round */
	{
		unsigned long m0, m1, rounds;

		ok(spool_fs_open(&d, dfd, "a") == 0, "a syncfs group again");
		m0 = spool_sync_mark(&d);
		ok(!spool_sync_covered(&d, m0), "no round since the mark: "
		    "not covered");
		ok(spool_dir_sync(&d) == 0 && spool_sync_covered(&d, m0),
		    "a round since: covered");
		m1 = spool_sync_mark(&d);
		saved = d.fd[0];
		d.fd[0] = -1;
		ok(spool_dir_sync(&d) == EBADF && !spool_sync_covered(&d, m1),
		    "a failed round since: not covered");
		d.fd[0] = saved;
		ok(spool_dir_sync(&d) == 0 && !spool_sync_covered(&d, m1),
		    "nor after a good one (the failure may have lost it)");
		ok(spool_sync_covered(&d, spool_sync_mark(&d)) == 0 &&
		    spool_dir_sync(&d) == 0 &&
		    spool_sync_covered(&d, d.done - 1),
		    "a mark after the failure is covered by the next round");
		m0 = spool_sync_mark(&d);
		rounds = d.rounds;
		ok(spool_sync_cover(&d, m0, spool_sync_ticket(&d), 0) == 0 &&
		    d.rounds == rounds + 1 && spool_sync_covered(&d, m0),
		    "spool_sync_cover with no round since the mark: one round");
		ok(spool_sync_cover(&d, m0, spool_sync_ticket(&d), 0) == 0 &&
		    d.rounds == rounds + 1,
		    "a round since the mark: spool_sync_cover needs no other");
		ok(spool_sync_cover(&d, m1, spool_sync_ticket(&d), 0) == 0 &&
		    d.rounds == rounds + 2,
		    "a failed round since the mark: a round from now");
		spool_dir_close(&d);
	}

	ok(spool_dir_open(&shared, dfd, "a") == 0, "a shared directory");
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, syncer, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ok(thread_errors == 0, "%d concurrent syncs, all 0",
	    THREADS * PER_THREAD);
	ok(shared.done == shared.started && shared.done > 0 &&
	    shared.done <= THREADS * PER_THREAD,
	    "%lu rounds for %d syncs", shared.done, THREADS * PER_THREAD);
	spool_dir_close(&shared);

	ok(mkdirat(dfd, "a/x", 0700) == 0 &&
	    spool_write_file(dfd, "a/x/f", "1", 1) == 0 &&
	    spool_remove_tree(dfd, "a") == 0 && spool_remove_tree(dfd, "b") == 0 &&
	    faccessat(dfd, "a", F_OK, 0) == -1 &&
	    spool_remove_tree(dfd, "a") == 0, "spool_remove_tree, missing is 0");

	close(dfd);
	spool_remove_tree(AT_FDCWD, dir);
	return tap_done();
}
