/*
 * queue_test.c - unit tests of the outbound queue (queue/queue.c, view.c,
 * jobs.c, load.c) on a temporary spool:
 * submit -> take_due -> report 2/4/5 -> status and the move to sent/ or
 * failed/, retry/flush/delete, max_age, the files rendered, the event
 * logs, a restart (queue_close + queue_open) picking everything up, damaged
 * entries, expiry, and group commit under 8 threads x 100 submissions.
 * TAP.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "lib/strv.h"
#include "queue/qlog.h"
#include "queue/queue.h"
#include "queue/stats.h"

static int n, failed;
static struct conf c;
static char spool[64];
static int wakeups;

/* queue_list: queue_names as a string vector (free with strv_free) */
static int
queue_list(enum queue_where w, char ***ids, size_t *n)
{
	char *block, *p, **out;
	size_t len, k;
	int err;

	*ids = NULL;
	if ((err = queue_names(w, &block, &len, n)))
		return err;
	if ((out = calloc(*n + 1, sizeof(char *))) == NULL) {
		free(block);
		return ENOMEM;
	}
	for (k = 0, p = block; k < *n; k++, p += strlen(p) + 1)
		if ((out[k] = strdup(p)) == NULL) {
			strv_free(out, k);
			free(block);
			return ENOMEM;
		}
	free(block);
	*ids = out;
	return 0;
}

static void
ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	if (!cond)
		failed++;
}

static void
on_wakeup(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&wakeups, 1, __ATOMIC_SEQ_CST);
}

static int
exists(const char *where, const char *id, const char *file)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s/%s%s%s", spool, where, id,
	    file ? "/" : "", file ? file : "");
	return stat(p, &st) == 0;
}

/* The rendered file as a string ("" if it cannot be rendered). */
static char *
render(enum queue_where w, const char *id, const char *file)
{
	static char out[8192];
	char *buf, path[PATH_MAX];
	size_t len, sz;

	out[0] = '\0';
	if (queue_render(w, id, file, &buf, &len, NULL) != 0)
		return out;
	if (queue_file_size(w, id, file, &sz) != 0 || sz != len)
		snprintf(out, sizeof(out), "size mismatch %zu != %zu", sz, len);
	else
		snprintf(out, sizeof(out), "%.*s", (int)len, buf);
	free(buf);
	(void)path;
	return out;
}

/* Show a multi-line text as TAP comments. */
static void
diag(const char *s)
{
	const char *e;

	for (; *s; s = *e ? e + 1 : e) {
		e = strchr(s, '\n');
		if (e == NULL)
			e = s + strlen(s);
		printf("# %.*s\n", (int)(e - s), s);
	}
}

static int
count_lines(const char *text, const char *needle)
{
	const char *p = text;
	int k = 0;

	while ((p = strstr(p, needle)) != NULL) {
		k++;
		p++;
	}
	return k;
}

static size_t
count_dir(const char *where)
{
	char p[512];
	struct dirent *de;
	size_t k = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/%s", spool, where);
	if ((d = opendir(p)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		k += de->d_name[0] != '.';
	closedir(d);
	return k;
}

static char *
slurp(const char *path)
{
	static char out[65536];
	FILE *f = fopen(path, "r");
	size_t len = 0;

	if (f != NULL) {
		len = fread(out, 1, sizeof(out) - 1, f);
		fclose(f);
	}
	out[len] = '\0';
	return out;
}

/* Wait until the writer thread has moved id to place w (polling). */
static int
settle(enum queue_where w, const char *id)
{
	int i;

	for (i = 0; i < 20000; i++) {
		if (queue_lookup(w, id, NULL) == 0)
			return 1;
		usleep(500);
	}
	return 0;
}

static size_t
take(time_t now, struct queue_job **jobs, size_t max, time_t *next)
{
	return queue_take_due(now, jobs, max, next);
}

/* The job of jobs[0..k) for domain d. */
static struct queue_job *
job_for(struct queue_job **jobs, size_t k, const char *d)
{
	size_t i;

	for (i = 0; i < k; i++)
		if (jobs[i]->domain && strcmp(jobs[i]->domain, d) == 0)
			return jobs[i];
	return NULL;
}

static const char *msg4 =
    "From: Alice <alice@example.org>\n"
    "To: a@one.test, b@ONE.test\n"
    "Cc: c@two.test\n"
    "Bcc: d@three.test\n"
    "Subject: four\n"
    "\n"
    "hello\n";

static const char *msg1 =
    "From: alice@example.org\nTo: z@one.test\nSubject: one\n\nhi\n";

#define THREADS	8
#define PER_THREAD	100

static char ids[THREADS * PER_THREAD][QUEUE_ID_MAX];
static int results[THREADS * PER_THREAD];

static void *
submitter(void *arg)
{
	int t = (int)(long)arg, i, k;
	char name[32];

	for (i = 0; i < PER_THREAD; i++) {
		k = t * PER_THREAD + i;
		snprintf(name, sizeof(name), "t%d-%d", t, i);
		results[k] = queue_submit(msg1, strlen(msg1), name, NULL, ids[k]);
	}
	return NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
main(void)
{
	struct queue_job *jobs[16], *j, *j2, *j3;
	struct queue_gauges g;
	struct queue_origin four = { .uid = 1234 };
	char id[QUEUE_ID_MAX], id2[QUEUE_ID_MAX], id3[QUEUE_ID_MAX];
	char id4[QUEUE_ID_MAX], id5[QUEUE_ID_MAX], err[256], path[PATH_MAX];
	char p[600], *buf, *s;
	pthread_t th[THREADS];
	time_t now, next, mt;
	char **list;
	size_t k, len, nl, i;
	int e, dup;
	FILE *f;

	g_mime_init();
	snprintf(spool, sizeof(spool), "/tmp/queue_test.XXXXXX");
	if (mkdtemp(spool) == NULL)
		return 1;
	conf_init_defaults(&c);
	conf_set(&c, "spool", spool, err, sizeof(err));
	conf_set(&c, "hostname", "mailfs.test", err, sizeof(err));
	conf_set(&c, "retry", "1m,5m", err, sizeof(err));
	conf_set(&c, "max_size", "64K", err, sizeof(err));

	/* Leftovers of a stop mid-submission must go. */
	snprintf(p, sizeof(p), "%s/tmp/20200101T000000.000000", spool);
	mkdir(spool, 0750);
	snprintf(p, sizeof(p), "%s/tmp", spool);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/tmp/20200101T000000.000000", spool);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/tmp/20200101T000000.000000/message", spool);
	fclose(fopen(p, "w"));

	ok(qlog_open(spool) == 0, "qlog_open");
	ok(queue_open(&c) == 0, "queue_open on a new spool");
	ok(count_dir("tmp") == 0, "tmp/ leftovers removed");
	queue_set_wakeup(on_wakeup, NULL);

	/* --- submission --- */
	e = queue_submit(msg4, strlen(msg4), "four.eml", &four, id);
	ok(e == 0 && strlen(id) == 22 && id[8] == 'T' && id[15] == '.',
	    "submit: 0 and a time-shaped ID");
	ok(exists("queue", id, "message") && exists("queue", id, "state"),
	    "queue/ID/message and state on disk");
	ok(count_dir("tmp") == 0, "nothing left in tmp/");
	ok(wakeups == 1, "submission wakes delivery");
	ok(queue_list(QUEUE_QUEUE, &list, &nl) == 0 && nl == 1 &&
	    strcmp(list[0], id) == 0, "queue_list shows it");
	strv_free(list, nl);
	ok(queue_lookup(QUEUE_QUEUE, id, &mt) == 0 && mt > 0 &&
	    queue_lookup(QUEUE_SENT, id, &mt) == ENOENT, "queue_lookup");
	ok(strcmp(render(QUEUE_QUEUE, id, "envelope"), "from alice@example.org\n"
	    "to a@one.test\nto b@ONE.test\nto c@two.test\nto d@three.test\nuid 1234\n") == 0,
	    "envelope file (uid last)");
	ok(strcmp(render(QUEUE_QUEUE, id, "name"), "four.eml\n") == 0, "name file");
	s = render(QUEUE_QUEUE, id, "status");
	ok(count_lines(s, " queued 0 ") == 4 && count_lines(s, " - -\n") == 4,
	    "status: four recipients queued, no code, no text");
	diag(s);
	ok(queue_render(QUEUE_QUEUE, id, "message", &buf, &len, path) == 0 &&
	    buf == NULL && strstr(path, "/queue/") && access(path, R_OK) == 0,
	    "message served from a path");
	ok(queue_render(QUEUE_QUEUE, id, "message", &buf, &len, NULL) == 0 &&
	    buf != NULL && strstr(buf, "Bcc") == NULL &&
	    strstr(buf, "\r\nhello\r\n") != NULL && queue_file_size(QUEUE_QUEUE,
	    id, "message", &k) == 0 && k == len, "message bytes and size agree");
	free(buf);
	ok(queue_render(QUEUE_QUEUE, id, "nosuch", &buf, &len, NULL) == ENOENT &&
	    queue_render(QUEUE_QUEUE, "20200101T000000.000000", "status", &buf,
	    &len, NULL) == ENOENT, "ENOENT for an unknown file or ID");
	s = render(QUEUE_QUEUE, id, "log");
	ok(strstr(s, " queued from=alice@example.org "
	    "rcpts=a@one.test,b@ONE.test,c@two.test,d@three.test size=") &&
	    strstr(s, "name=four.eml uid=1234\n"),
	    "own log has the queued line, with the uid");
	queue_gauges(&g);
	ok(g.queue == 1 && g.deferred == 0 && g.sending == 0, "gauges: 1 queued");

	/* --- delivery --- */
	now = time(NULL);
	k = take(now, jobs, 16, &next);
	ok(k == 3, "take_due: one job per domain (3)");
	j = job_for(jobs, k, "one.test");
	ok(j && j->nrcpt == 2 && strcmp(j->rcpts[0], "a@one.test") == 0 &&
	    strcmp(j->from, "alice@example.org") == 0 && j->size > 0 &&
	    access(j->path, R_OK) == 0 && strcmp(j->id, id) == 0,
	    "the one.test job has both its recipients, sender, path");
	s = render(QUEUE_QUEUE, id, "status");
	ok(count_lines(s, " sending 0 - ") == 4, "status: all sending");
	queue_gauges(&g);
	ok(g.sending == 1, "gauges: 1 sending");
	ok(take(now, jobs + 3, 13, &next) == 0 && next == 0,
	    "nothing more due while sending");
	queue_report(j, "a@one.test", 2, "2.0.0", "250 2.0.0 Ok: queued as X",
	    "mx.one.test[127.0.0.2]");
	queue_report(j, "b@ONE.test", 4, "4.2.0", "450 4.2.0 mailbox busy",
	    "mx.one.test[127.0.0.2]");
	j2 = job_for(jobs, k, "two.test");
	j3 = job_for(jobs, k, "three.test");
	queue_job_done(j);
	queue_report(j2, "c@two.test", 5, "5.1.1", "550 5.1.1 no such user",
	    "mx.two.test[127.0.0.3]");
	queue_job_done(j2);
	queue_job_done(j3);
	s = render(QUEUE_QUEUE, id, "status");
	diag(s);
	ok(strstr(s, "a@one.test delivered 1 - 2.0.0 250 2.0.0 Ok: queued as X\n")
	    != NULL, "status: delivered line");
	ok(strstr(s, "b@ONE.test deferred 1 20") && strstr(s,
	    "Z 4.2.0 450 4.2.0 mailbox busy\n"), "status: deferred line with NEXT");
	ok(strstr(s, "c@two.test failed 1 - 5.1.1 550 5.1.1 no such user\n")
	    != NULL, "status: failed line");
	ok(strstr(s, "d@three.test deferred 1 ") && strstr(s, " 4.4.2 "),
	    "a job done without a result defers with 4.4.2");
	s = render(QUEUE_QUEUE, id, "log");
	ok(strstr(s, " sending to=a@one.test domain=one.test\n") &&
	    strstr(s, " delivered to=a@one.test relay=mx.one.test[127.0.0.2] "
	    "code=2.0.0 text=\"250 2.0.0 Ok: queued as X\"\n") &&
	    strstr(s, " deferred to=b@ONE.test ") &&
	    strstr(s, " failed to=c@two.test relay=mx.two.test[127.0.0.3] "
	    "code=5.1.1 text=\"550 5.1.1 no such user\"\n"),
	    "own log: sending, delivered, deferred, failed lines");
	snprintf(p, sizeof(p), "%s/log", spool);
	ok(strstr(slurp(p), id) && strstr(slurp(p), " failed to=c@two.test "),
	    "global log has them too");
	queue_gauges(&g);
	ok(g.queue == 1 && g.deferred == 1 && g.sending == 0,
	    "gauges: 1 deferred");
	ok(take(now, jobs, 16, &next) == 0 && next >= now + 60 &&
	    next <= time(NULL) + 60, "deferred are due after the first delay");

	now = next;
	k = take(now, jobs, 16, &next);
	ok(k == 2, "after the delay both deferred domains are due again");
	queue_report(job_for(jobs, k, "one.test"), "b@ONE.test", 2, "2.0.0",
	    "250 ok", "mx");
	queue_report(job_for(jobs, k, "three.test"), "d@three.test", 5, "5.0.0",
	    "554 no", "mx");
	queue_job_done(jobs[0]);
	queue_job_done(jobs[1]);
	ok(settle(QUEUE_FAILED, id) && !exists("queue", id, NULL) &&
	    exists("failed", id, "message") &&
	    exists("failed", id, "log") && exists("failed", id, "state"),
	    "all finished, one failed: moved to failed/");
	ok(queue_lookup(QUEUE_FAILED, id, &mt) == 0 &&
	    queue_lookup(QUEUE_QUEUE, id, &mt) == ENOENT, "lookup in failed/");
	s = render(QUEUE_FAILED, id, "status");
	ok(strstr(s, "b@ONE.test delivered 2 - 2.0.0 250 ok\n") &&
	    strstr(s, "d@three.test failed 2 - 5.0.0 554 no\n"),
	    "status in failed/ shows the final states");
	ok(queue_render(QUEUE_FAILED, id, "message", &buf, &len, path) == 0 &&
	    strstr(path, "/failed/") && access(path, R_OK) == 0,
	    "message path follows the move");

	/* all delivered: sent/ */
	ok(queue_submit(msg1, strlen(msg1), "one.eml", NULL, id2) == 0, "submit one");
	k = take(time(NULL), jobs, 16, &next);
	ok(k == 1 && strcmp(jobs[0]->id, id2) == 0, "its job");
	queue_report(jobs[0], "z@one.test", 2, "2.0.0", "250 ok", "mx");
	queue_job_done(jobs[0]);
	ok(settle(QUEUE_SENT, id2) && exists("sent", id2, "message") &&
	    !exists("queue", id2, NULL) &&
	    queue_lookup(QUEUE_SENT, id2, &mt) == 0, "all delivered: sent/");
	ok(queue_list(QUEUE_SENT, &list, &nl) == 0 && nl == 1, "sent/ lists it");
	strv_free(list, nl);

	/* retry and flush */
	ok(queue_submit(msg1, strlen(msg1), "retry.eml", NULL, id3) == 0, "submit three");
	k = take(time(NULL), jobs, 16, &next);
	queue_report(jobs[0], "z@one.test", 4, "4.4.1", "connection refused",
	    NULL);
	queue_job_done(jobs[0]);
	ok(take(time(NULL), jobs, 16, &next) == 0, "deferred, not due");
	e = wakeups;
	ok(queue_ctl(QUEUE_QUEUE, id3, "retry") == 0 && wakeups > e, "ctl retry wakes");
	k = take(time(NULL), jobs, 16, &next);
	ok(k == 1 && strcmp(jobs[0]->id, id3) == 0, "retry makes it due now");
	queue_report(jobs[0], "z@one.test", 4, "4.4.1", "connection refused",
	    NULL);
	queue_job_done(jobs[0]);
	s = render(QUEUE_QUEUE, id3, "status");
	ok(strstr(s, "deferred 2 ") != NULL, "second attempt counted");
	ok(queue_flush_domain("two.test", 1) == 0 &&
	    queue_flush_domain("test", 0) == 0 &&
	    queue_flush_domain("ne.test", 1) == 0 &&
	    take(time(NULL), jobs, 16, &next) == 0,
	    "ETRN for another domain, or a parent without @: nothing waits");
	e = wakeups;
	ok(queue_flush_domain("test", 1) == 1 && wakeups > e &&
	    take(time(NULL), jobs, 16, &next) == 1,
	    "ETRN @test covers one.test: due now");
	queue_job_release(jobs[0]);
	ok(queue_flush_domain("one.test", 0) == 1, "ETRN one.test: 1 waits");
	queue_flush();
	k = take(time(NULL), jobs, 16, &next);
	ok(k == 1, "flush makes every deferred due");
	ok(queue_ctl(QUEUE_QUEUE, id3, "bogus") == EINVAL && queue_ctl(QUEUE_QUEUE, "nosuch", "retry") ==
	    ENOENT, "ctl: EINVAL for a bad verb, ENOENT for a bad ID");

	/* the last retry comes at max_age, not a whole delay after it */
	c.max_age = 30;
	queue_report(jobs[0], "z@one.test", 4, "4.4.1", "connection refused",
	    NULL);
	queue_job_done(jobs[0]);
	ok(take(time(NULL), jobs, 16, &next) == 0 && next > 0 &&
	    next <= time(NULL) + 30, "a deferral is retried by max_age at the "
	    "latest");
	c.max_age = 5 * 86400;
	queue_flush();
	k = take(time(NULL), jobs, 16, &next);
	ok(k == 1, "flushed again");

	/* max_age */
	c.max_age = 0;
	queue_report(jobs[0], "z@one.test", 4, "4.4.1", "connection refused",
	    NULL);
	queue_job_done(jobs[0]);
	c.max_age = 5 * 86400;
	settle(QUEUE_FAILED, id3);
	s = render(QUEUE_FAILED, id3, "status");
	ok(strstr(s, "z@one.test failed 4 - 4.4.1 expired after ") &&
	    strstr(s, "connection refused"), "past max_age a deferral fails, "
	    "code kept, text says expired");
	s = render(QUEUE_FAILED, id3, "log");
	ok(strstr(s, " failed to=z@one.test relay=- code=4.4.1 text=\"expired ")
	    != NULL,
	    "failed line for the expiry");

	/* relayhost: one job per message */
	conf_set(&c, "relayhost", "127.0.0.1:2525", err, sizeof(err));
	ok(queue_submit(msg4, strlen(msg4), "relay.eml", NULL, id4) == 0, "submit four");
	k = take(time(NULL), jobs, 16, &next);
	ok(k == 1 && jobs[0]->domain == NULL && jobs[0]->nrcpt == 4,
	    "relayhost: one job with all recipients, domain NULL");
	/* left sending for the restart */
	c.relayhost.host[0] = '\0';

	ok(queue_submit(msg1, strlen(msg1), "stay.eml", NULL, id5) == 0, "submit five");

	/* delete */
	ok(queue_submit(msg1, strlen(msg1), "del.eml", NULL, id) == 0, "submit six");
	ok(queue_ctl(QUEUE_QUEUE, id, "delete") == 0 && !exists("queue", id, NULL) &&
	    queue_lookup(QUEUE_QUEUE, id, &mt) == ENOENT, "ctl delete drops it");
	snprintf(p, sizeof(p), "%s/log", spool);
	snprintf(err, sizeof(err), "%s deleted\n", id);
	ok(strstr(slurp(p), err) != NULL, "deleted logged");

	/* rejections */
	e = (int)stats_get(STATS_REJECTED);
	ok(queue_submit("junk", 4, "junk.txt", NULL, id) == EINVAL, "junk: EINVAL");
	buf = calloc(1, 70000);
	memcpy(buf, msg1, strlen(msg1));
	memset(buf + strlen(msg1), 'x', 70000 - strlen(msg1) - 1);
	ok(queue_submit(buf, 69999, "big.eml", NULL, id) == EFBIG, "too big: EFBIG");
	free(buf);
	ok(stats_get(STATS_REJECTED) == e + 2, "rejected counted");
	snprintf(p, sizeof(p), "%s/log", spool);
	ok(strstr(slurp(p), "- rejected name=junk.txt reason=\"not a message: "
	    "no header\"\n") != NULL, "rejected line names the file and reason");
	ok(stats_get(STATS_QUEUED) == 6 && stats_get(STATS_DELIVERED) == 3 &&
	    stats_get(STATS_FAILED) == 3, "queued/delivered/failed counters");

	/* --- restart --- */
	queue_job_done(jobs[0]);	/* a stop: in flight goes back */
	k = take(time(NULL), jobs, 16, &next);	/* five now sending */
	ok(k == 1 && strcmp(jobs[0]->id, id5) == 0, "five is being sent");
	queue_close();
	free(jobs[0]->path);	/* the job dies with the process */
	free(jobs[0]->from);
	free(jobs[0]->domain);
	free(jobs[0]->rcpts[0]);
	free(jobs[0]->rcpts);
	free(jobs[0]);
	ok(queue_open(&c) == 0, "queue_open again on the same spool");
	ok(queue_list(QUEUE_QUEUE, &list, &nl) == 0 && nl == 2 &&
	    strcmp(list[0], id4) == 0 && strcmp(list[1], id5) == 0,
	    "queue/ has four and five again");
	strv_free(list, nl);
	s = render(QUEUE_QUEUE, id5, "status");
	ok(strstr(s, "z@one.test queued 0 ") != NULL,
	    "sending at the stop is queued again");
	s = render(QUEUE_QUEUE, id4, "status");
	ok(count_lines(s, " deferred 1 ") == 4 && count_lines(s, " 4.4.2 ") == 4,
	    "deferred state survives the restart");
	ok(strcmp(render(QUEUE_QUEUE, id4, "name"), "relay.eml\n") == 0 &&
	    strcmp(render(QUEUE_QUEUE, id4, "envelope"), "from alice@example.org\n"
	    "to a@one.test\nto b@ONE.test\nto c@two.test\nto d@three.test\n"
	    "uid -\n") == 0, "name and envelope survive");
	ok(queue_lookup(QUEUE_SENT, id2, &mt) == 0 &&
	    queue_lookup(QUEUE_FAILED, id3, &mt) == 0 &&
	    strstr(render(QUEUE_FAILED, id3, "status"), "expired after "),
	    "sent/ and failed/ reloaded");
	ok(queue_submit(msg1, strlen(msg1), "after.eml", NULL, id) == 0 &&
	    strcmp(id, id5) > 0, "new IDs sort after the reloaded ones");
	k = take(time(NULL), jobs, 16, &next);
	ok(k == 2, "queued ones are due again (five and the new one)");
	for (i = 0; i < k; i++)
		queue_job_done(jobs[i]);

	/* damaged entries */
	queue_close();
	snprintf(p, sizeof(p), "%s/queue/%s/state", spool, id5);
	unlink(p);
	snprintf(p, sizeof(p), "%s/queue/20200101T000000.000001", spool);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/queue/%s/state", spool, id4);
	f = fopen(p, "w");
	fputs("garbage\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/queue/%s/message", spool, id);
	ok(truncate(p, 10) == 0, "a queued message cut short by hand");
	snprintf(p, sizeof(p), "cp -r %s/queue/%s %s/sent/", spool, id5, spool);
	ok(system(p) == 0, "a copy of a queued entry put in sent/ by hand");
	ok(queue_open(&c) == 0, "queue_open with damaged entries");
	ok(exists("corrupt", id5, NULL) && !exists("sent", id5, NULL) &&
	    queue_lookup(QUEUE_QUEUE, id5, &mt) == 0,
	    "the duplicate ID is moved aside, the queued one kept");
	s = render(QUEUE_QUEUE, id5, "status");
	ok(strstr(s, "z@one.test queued 0 ") != NULL,
	    "missing state: rebuilt from the message");
	s = render(QUEUE_QUEUE, id4, "envelope");
	ok(strcmp(s, "from alice@example.org\nto a@one.test\nto b@ONE.test\n"
	    "to c@two.test\nuid -\n") == 0,
	    "unreadable state: rebuilt (Bcc gone)");
	ok(exists("corrupt", id, NULL) && !exists("queue", id, NULL) &&
	    queue_lookup(QUEUE_QUEUE, id, &mt) == ENOENT,
	    "a message shorter than its state says is moved aside, not sent");
	ok(exists("corrupt", "20200101T000000.000001", NULL) &&
	    !exists("queue", "20200101T000000.000001", NULL),
	    "an entry without a message is moved to corrupt/");

	/* forget and expire */
	ok(queue_forget(QUEUE_QUEUE, id4) == EPERM, "forget refuses queue/");
	ok(queue_forget(QUEUE_SENT, id2) == 0 && !exists("sent", id2, NULL) &&
	    queue_lookup(QUEUE_SENT, id2, &mt) == ENOENT, "forget sent/ID");
	ok(queue_forget(QUEUE_SENT, id2) == ENOENT, "forget twice: ENOENT");
	queue_expire(time(NULL));
	ok(queue_lookup(QUEUE_FAILED, id3, &mt) == 0, "not expired before keep");
	{
	time_t keep = c.keep;

	c.keep = 0;
	ok(queue_list(QUEUE_FAILED, &list, &nl) == 0 && nl == 0 &&
	    queue_lookup(QUEUE_FAILED, id3, &mt) == ENOENT &&
	    count_dir("failed") == 0, "past keep an entry is gone as soon as "
	    "it is listed, without waiting for the sweep");
	strv_free(list, nl);
	c.keep = keep;
	}

	/* --- group commit --- */
	queue_list(QUEUE_QUEUE, &list, &nl);
	strv_free(list, nl);
	for (i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, submitter, (void *)(long)i);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0, e = 0; i < THREADS * PER_THREAD; i++)
		e |= results[i];
	ok(e == 0, "8 threads x 100 submissions all succeed");
	qsort(ids, THREADS * PER_THREAD, QUEUE_ID_MAX, cmp_str);
	for (i = 1, dup = 0; i < THREADS * PER_THREAD; i++)
		dup |= strcmp(ids[i - 1], ids[i]) == 0;
	ok(!dup, "all IDs distinct");
	ok(queue_list(QUEUE_QUEUE, &list, &k) == 0 &&
	    k == nl + THREADS * PER_THREAD, "all listed exactly once");
	strv_free(list, k);
	ok(count_dir("queue") == nl + THREADS * PER_THREAD &&
	    count_dir("tmp") == 0, "all on disk exactly once");
	queue_close();
	ok(queue_open(&c) == 0 && queue_list(QUEUE_QUEUE, &list, &k) == 0 &&
	    k == nl + THREADS * PER_THREAD, "and all reloaded");
	strv_free(list, k);
	queue_close();
	qlog_close();

	snprintf(p, sizeof(p), "rm -rf %s", spool);
	if (failed == 0 && system(p) != 0)
		printf("# could not remove %s\n", spool);
	conf_free(&c);
	printf("1..%d\n", n);
	return failed != 0;
}
