/*
 * outbox_test.c - outbox files against a real queue in a temporary spool:
 * submission at flush, empty files, staging renames, EFBIG, several
 * handles on one file, concurrent writers.
 */
#include <errno.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/outbox.h"
#include "lib/conf.h"
#include "lib/strv.h"
#include "queue/qlog.h"
#include "queue/queue.h"
#include "queue/stats.h"

#define THREADS	8
#define PER	25

static const char msg[] =
    "From: a@mailfs.test\nTo: b@example.test\nSubject: t\n\nbody\n";
static const char norcpt[] = "From: a@mailfs.test\nSubject: t\n\nbody\n";
static int n, failed;

static void
ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	failed |= !cond;
}

static size_t
nqueued(void)
{
	char *ids;
	size_t len, c;

	if (queue_names(QUEUE_QUEUE, &ids, &len, &c) != 0)
		return (size_t)-1;
	free(ids);
	return c;
}

static int
listed(const char *name)
{
	char **v;
	size_t c, i;
	int r = 0;

	if (outbox_list(&v, &c) != 0)
		return -1;
	for (i = 0; i < c; i++)
		r |= strcmp(v[i], name) == 0;
	strv_free(v, c);
	return r;
}

/* create, write, flush, close: the errno of the flush */
static int
send_file(const char *name, const char *data)
{
	struct outbox_file *f;
	int err;

	if (outbox_create(name, 0644, 0, 0, 1, &f) != 0)
		return -1;
	if (outbox_write(f, data, strlen(data), 0, 0) != (ssize_t)strlen(data))
		err = -1;
	else
		err = outbox_flush(f, getpid(), getpid(), 0);
	outbox_close(f);
	return err;
}

static void *
writer(void *arg)
{
	char name[32];
	int i, bad = 0;

	for (i = 0; i < PER; i++) {
		snprintf(name, sizeof(name), "w%ld-%d", (long)(intptr_t)arg, i);
		bad |= send_file(name, msg) != 0;
	}
	return bad ? (void *)1 : NULL;
}

int
main(void)
{
	char spool[] = "/tmp/outbox_test.XXXXXX", err[256], buf[256], cmd[300];
	struct outbox_file *f, *g;
	struct outbox_attr a;
	pthread_t th[THREADS];
	struct conf c;
	long rejected;
	void *res;
	int bad;
	long i;

	g_mime_init();
	if (!mkdtemp(spool))
		return 1;
	conf_init_defaults(&c);
	conf_set(&c, "spool", spool, err, sizeof(err));
	conf_set(&c, "hostname", "mailfs.test", err, sizeof(err));
	conf_set(&c, "max_size", "1K", err, sizeof(err));
	if (qlog_open(spool) != 0 || queue_open(&c) != 0) {
		printf("Bail out! spool %s\n", spool);
		return 1;
	}
	outbox_init(&c.max_size);

	ok(send_file("one", msg) == 0 && nqueued() == 1 && listed("one") == 0,
	    "a message is queued at flush and leaves the outbox");

	ok(outbox_create("empty", 0644, 0, 0, 0, &f) == 0 &&
	    outbox_flush(f, getpid(), getpid(), 0) == 0 && listed("empty") == 1,
	    "an empty file is kept at flush");
	outbox_close(f);
	ok(listed("empty") == 0 && nqueued() == 1,
	    "and dropped at its last close, unsent");

	ok(send_file(".stage", msg) == 0 && listed(".stage") == 1 &&
	    nqueued() == 1, "a staging file is not sent at flush");
	ok(outbox_open(".stage", 0, &f) == 0 &&
	    outbox_read(f, buf, sizeof(buf), 0) == strlen(msg) &&
	    memcmp(buf, msg, strlen(msg)) == 0, "and reads back");
	outbox_close(f);
	ok(outbox_rename(".stage", ".stage2", 0) == 0 && listed(".stage2") == 1 &&
	    nqueued() == 1, "renamed to another dot name: still staged");
	ok(outbox_rename(".stage2", "final", 0) == 0 && listed(".stage2") == 0 &&
	    listed("final") == 0 && nqueued() == 2,
	    "renamed to a real name: sent");

	send_file(".bad", norcpt);
	rejected = stats_get(STATS_REJECTED);
	ok(outbox_rename(".bad", "bad", 0) == EINVAL && listed(".bad") == 1,
	    "a refused staging rename: EINVAL, the file stays");
	ok(outbox_rename(".bad", "bad", 0) == EINVAL &&
	    stats_get(STATS_REJECTED) == rejected + 1,
	    "the same rename again is not resubmitted");
	ok(outbox_unlink(".bad") == 0 && listed(".bad") == 0, "unlink");

	send_file(".x", "x");
	send_file(".y", "y");
	ok(outbox_rename(".x", ".y", 0) == EXDEV &&
	    outbox_rename(".x", ".y", 1) == EEXIST,
	    "rename onto an existing name: EXDEV, or EEXIST with noreplace");
	outbox_unlink(".x");
	outbox_unlink(".y");

	ok(send_file("nor", norcpt) == EINVAL && listed("nor") == 0 &&
	    nqueued() == 2, "a refused file: EINVAL at flush, dropped");

	outbox_create("big", 0644, 0, 0, 0, &f);
	ok(outbox_write(f, msg, strlen(msg), 0, 0) > 0 &&
	    outbox_write(f, "x", 1, 1024, 0) == -EFBIG,
	    "a write past max_size: EFBIG");
	ok(outbox_flush(f, getpid(), getpid(), 0) == EFBIG && listed("big") == 0 &&
	    nqueued() == 2, "and EFBIG at flush, nothing sent");
	outbox_close(f);

	outbox_create("sz", 0644, 0, 0, 0, &f);
	a.size = 100;
	ok(outbox_setattr(NULL, f, &a, OUTBOX_SET_SIZE) == 0 &&
	    outbox_getattr("sz", NULL, &a) == 0 && a.size == 100,
	    "truncate extends");
	a.size = 2000;
	ok(outbox_setattr("sz", NULL, &a, OUTBOX_SET_SIZE) == EFBIG,
	    "truncate past max_size: EFBIG");
	a.size = 0;
	outbox_setattr("sz", NULL, &a, OUTBOX_SET_SIZE);
	outbox_write(f, "From: a@mailfs.test\n", 20, 0, 1);
	outbox_write(f, msg + 20, strlen(msg) - 20, 0, 1);
	outbox_open("sz", 0, &g);
	ok(outbox_getattr(NULL, f, &a) == 0 && a.size == strlen(msg),
	    "appends go to the end");
	ok(outbox_flush(f, getpid(), getpid(), 0) == 0 && nqueued() == 3 && listed("sz") == 0,
	    "sent at the first flush with content");
	ok(outbox_flush(g, getpid(), getpid(), 0) == 0 && nqueued() == 3,
	    "another handle's flush sends nothing more");
	ok(outbox_write(g, "more", 4, 0, 1) == 4 && outbox_flush(g, getpid(), getpid(), 0) == 0 &&
	    nqueued() == 3, "writes to a sent file go nowhere");
	outbox_close(f);
	outbox_close(g);

	for (i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, writer, (void *)i);
	bad = 0;
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], &res);
		bad |= res != NULL;
	}
	ok(!bad && nqueued() == 3 + THREADS * PER,
	    "concurrent writers: each file queued once");

	queue_close();
	qlog_close();
	conf_free(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", spool);
	if (failed == 0 && system(cmd) != 0)
		return 1;
	printf("1..%d\n", n);
	return failed;
}
