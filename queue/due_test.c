/*
 * due_test.c - unit tests of the due order of the outbound queue
 * (queue/due.c behind queue_take_due): entries come out by due time, ties
 * oldest first; a deferral, `retry`, `flush`, ETRN (queue_flush_domain), a
 * released job, a restart and a SIGHUP that changes `domains`
 * (queue_reload) each put them where they belong; nothing due waits
 * behind what is not, and every due entry is handed out before any is
 * handed out twice; an entry written by an older version (no uid line)
 * loads with its due time. TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "queue/qlog.h"
#include "queue/queue.h"
#include "tests/tap.h"

#define MANY	60

static struct conf c;
static char spool[64];

static int
submit(const char *to, char id[QUEUE_ID_MAX])
{
	char msg[256];

	snprintf(msg, sizeof(msg), "From: a@example.org\nTo: %s\n"
	    "Subject: due\n\nhi\n", to);
	return queue_submit(msg, strlen(msg), "due", NULL, id);
}

/* Every recipient of the k jobs deferred (4.4.1), the jobs finished. */
static void
defer(struct queue_job **jobs, size_t k)
{
	size_t i, r;

	for (i = 0; i < k; i++) {
		for (r = 0; r < jobs[i]->nrcpt; r++)
			queue_report(jobs[i], jobs[i]->rcpts[r], 4, "4.4.1",
			    "connection refused", NULL);
		queue_job_done(jobs[i]);
	}
}

/* The IDs of the k jobs, space-separated, into out. */
static const char *
ids_of(struct queue_job **jobs, size_t k)
{
	static char out[64 * QUEUE_ID_MAX];
	size_t i;

	out[0] = '\0';
	for (i = 0; i < k; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
		    i ? " " : "", jobs[i]->id);
	return out;
}

static char *
join3(const char *a, const char *b, const char *d)
{
	static char out[3 * QUEUE_ID_MAX + 3];

	snprintf(out, sizeof(out), "%s%s%s%s%s", a, *b ? " " : "", b,
	    *d ? " " : "", d);
	return out;
}

int
main(void)
{
	struct queue_job *jobs[MANY], *all[MANY];
	char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX], d[QUEUE_ID_MAX];
	char l[QUEUE_ID_MAX], many[MANY][QUEUE_ID_MAX], err[256], p[512];
	const char *old = "From: o@example.org\r\nTo: u@old.test\r\n\r\n"
	    "old\r\n";
	int seen[MANY], good;
	time_t now, next;
	size_t k, i, got, taken;
	FILE *f;

	g_mime_init();
	snprintf(spool, sizeof(spool), "/tmp/due_test.XXXXXX");
	if (mkdtemp(spool) == NULL)
		return 1;
	conf_init_defaults(&c);
	conf_set(&c, "spool", spool, err, sizeof(err));
	conf_set(&c, "hostname", "mailfs.test", err, sizeof(err));
	conf_set(&c, "retry", "1m,5m", err, sizeof(err));
	ok(qlog_open(spool) == 0 && queue_open(&c) == 0, "queue_open");

	ok(submit("u@a.test", a) == 0 && submit("u@b.test", b) == 0 &&
	    submit("u@d.test", d) == 0, "three messages queued");
	now = time(NULL);
	k = queue_take_due(now, jobs, MANY, &next);
	ok(k == 3 && strcmp(ids_of(jobs, k), join3(a, b, d)) == 0,
	    "all due: handed out oldest first");
	ok(queue_take_due(now, all, MANY, &next) == 0 && next == 0,
	    "being sent: nothing more, nothing pending");

	/* d deferred first, then a, then b: all due in a minute. */
	defer(&jobs[2], 1);
	defer(&jobs[0], 2);
	now = time(NULL);
	ok(queue_take_due(now, jobs, MANY, &next) == 0 && next >= now + 59 &&
	    next <= now + 60, "deferred: nothing due; next is in a minute");
	k = queue_take_due(now + 61, jobs, 1, &next);
	ok(k == 1 && strcmp(jobs[0]->id, a) == 0 && next == now + 61,
	    "a minute later, one at a time: the oldest, more still due");
	k += queue_take_due(now + 61, jobs + 1, MANY - 1, &next);
	ok(k == 3 && strcmp(ids_of(jobs, k), join3(a, b, d)) == 0,
	    "then the rest, in ID order (not the order deferred)");

	/* Second deferral: 5 minutes; retry makes one due now. */
	defer(jobs, k);
	now = time(NULL);
	ok(queue_take_due(now + 120, jobs, MANY, &next) == 0 &&
	    next >= now + 299, "deferred twice: due in five minutes");
	ok(queue_ctl(QUEUE_QUEUE, d, "retry") == 0, "ctl retry of d");
	k = queue_take_due(time(NULL), jobs, MANY, &next);
	ok(k == 1 && strcmp(jobs[0]->id, d) == 0 && next >= now + 299,
	    "retry: d alone is due, the others still in five minutes");
	defer(jobs, k);

	/* ETRN for b.test: b alone. */
	ok(queue_flush_domain("b.test", 0) == 1, "ETRN b.test: one waits");
	k = queue_take_due(time(NULL), jobs, MANY, &next);
	ok(k == 1 && strcmp(jobs[0]->id, b) == 0, "ETRN: b alone is due");

	/* A released job (shutdown) is due again at once, no attempt. */
	queue_job_release(jobs[0]);
	k = queue_take_due(time(NULL), jobs, MANY, &next);
	ok(k == 1 && strcmp(jobs[0]->id, b) == 0,
	    "released: due again at once");
	defer(jobs, k);

	/* flush: every one due now, oldest first. */
	queue_flush();
	k = queue_take_due(time(NULL), jobs, MANY, &next);
	ok(k == 3 && strcmp(ids_of(jobs, k), join3(a, b, d)) == 0,
	    "flush: all due, oldest first");
	defer(jobs, k);

	/* A restart keeps the due times. */
	queue_close();
	ok(queue_open(&c) == 0, "queue_open again");
	now = time(NULL);
	ok(queue_take_due(now, jobs, MANY, &next) == 0 && next >= now + 200,
	    "after a restart: nothing due; next in five minutes");
	k = queue_take_due(now + 400, jobs, MANY, &next);
	ok(k == 3 && strcmp(ids_of(jobs, k), join3(a, b, d)) == 0,
	    "after a restart: due in order when their time comes");
	defer(jobs, k);

	/* SIGHUP: l.test becomes ours; its recipient leaves the SMTP side. */
	ok(submit("u@l.test", l) == 0, "a message to l.test");
	ok(conf_set(&c, "domains", "l.test", err, sizeof(err)) == 0,
	    "domains=l.test");
	queue_reload();
	ok(queue_take_due(time(NULL), jobs, MANY, &next) == 0,
	    "after the reload it is not handed to SMTP (local.c's now)");
	ok(conf_set(&c, "domains", "other.test", err, sizeof(err)) == 0,
	    "domains=other.test");
	queue_reload();
	k = queue_take_due(time(NULL), jobs, MANY, &next);
	ok(k == 1 && strcmp(jobs[0]->id, l) == 0,
	    "reloaded again: handed to SMTP");
	defer(jobs, k);

	/* Many due, taken a few at a time: none twice before all once, and
	 * none waits behind entries not due. */
	good = 1;
	for (i = 0; i < MANY; i++)
		good &= submit("u@m.test", many[i]) == 0;
	ok(good, "%d more queued", MANY);
	memset(seen, 0, sizeof(seen));
	taken = 0;
	good = 1;
	while ((got = queue_take_due(time(NULL), jobs, 7, &next)) > 0) {
		for (i = 0; i < got; i++) {
			for (k = 0; k < MANY; k++)
				if (strcmp(jobs[i]->id, many[k]) == 0)
					break;
			good &= k < MANY && seen[k]++ == 0;
		}
		taken += got;
		defer(jobs, got);
	}
	ok(good && taken == MANY,
	    "7 at a time: each of %d handed out exactly once", MANY);
	queue_ctl(QUEUE_QUEUE, many[MANY - 1], "retry");
	k = queue_take_due(time(NULL), jobs, MANY, &next);
	ok(k == 1 && strcmp(jobs[0]->id, many[MANY - 1]) == 0,
	    "the newest made due comes out ahead of %d older, not due",
	    MANY + 3);
	defer(jobs, k);

	/* An entry in the older format: no uid line; due an hour ago. */
	queue_close();
	snprintf(p, sizeof(p), "%s/queue/20200101T000000.000001", spool);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/queue/20200101T000000.000001/message",
	    spool);
	f = fopen(p, "w");
	fputs(old, f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/queue/20200101T000000.000001/state", spool);
	f = fopen(p, "w");
	fprintf(f, "mailfs-state 1\nfrom o@example.org\nname old\n"
	    "arrival %lld\ndone 0\nsize %zu\neightbit 0\n"
	    "rcpt u@old.test deferred 2 %lld 4.4.1 refused\n",
	    (long long)time(NULL) - 7200, strlen(old),
	    (long long)time(NULL) - 3600);
	fclose(f);
	ok(queue_open(&c) == 0, "queue_open with an older entry");
	k = queue_take_due(time(NULL), jobs, MANY, &next);
	ok(k == 1 && strcmp(jobs[0]->id, "20200101T000000.000001") == 0 &&
	    strcmp(jobs[0]->rcpts[0], "u@old.test") == 0,
	    "the older entry loads and is due");
	defer(jobs, k);
	queue_close();
	qlog_close();
	conf_free(&c);
	snprintf(p, sizeof(p), "rm -rf %s", spool);
	if (system(p) != 0)
		return 1;
	return tap_done();
}
