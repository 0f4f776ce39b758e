/*
 * deliver.c - the delivery scheduler (see deliver.h): due jobs from the
 * queue wait in a per-destination list (the recipient domain, or the
 * relayhost); a destination is resolved once (smtp/dns.c) and served by
 * up to `concurrency` client sessions overall (smtp/client.c), and up to
 * concurrency_per_domain of them for one domain, so a slow or broken
 * destination never takes every slot (the relayhost, the only
 * destination when set, may use them all). Each session takes job after
 * job from its destination's list and idles CLIENT_IDLE seconds before
 * QUIT.
 *
 * Wake-ups: the queue calls deliver_wakeup from any thread; it only makes
 * an event active (thread-safe with evthread_use_pthreads), and the event
 * thread then takes what is due. A timer fires at the next due time.
 *
 * Failures that concern a whole destination (DNS, no host reachable) are
 * reported for every job waiting for it. Diagnostics: log_warnx on setup
 * errors, log_debug on scheduling.
 */
#include "smtp/deliver.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/queue.h"
#include "smtp/client.h"
#include "smtp/dns.h"

#define TAKE_BATCH	64	/* jobs asked from the queue at once */
#define HELD_MIN	256	/* jobs held in memory at most: this, or */
#define HELD_PER_CONN	8	/* this times concurrency if more */

struct pending {
	TAILQ_ENTRY(pending) link;
	struct queue_job *job;
};
TAILQ_HEAD(pending_list, pending);

struct dest {
	TAILQ_ENTRY(dest) link;
	char *name;		/* the domain; NULL: the relayhost */
	struct pending_list jobs;	/* waiting for a session */
	size_t njobs;
	int nsessions;		/* alive, of which */
	int nconnecting;	/* not ready yet */
	int limit;		/* sessions its hosts took at most; 0: unknown */
	struct dns_req *req;	/* resolving */
	struct dns_target *t;	/* resolved (nt > 0) */
	size_t nt;
};
TAILQ_HEAD(dest_list, dest);

struct session {
	TAILQ_ENTRY(session) link;
	struct dest *d;
	struct client *cl;
	struct queue_job *job;	/* in flight */
	int ready;		/* reached ready at least once */
	int quitting;		/* asked to QUIT: not to be fed */
};
TAILQ_HEAD(session_list, session);

static struct event_base *dbase;
static const struct conf *dconf;
static SSL_CTX *dtls;
static struct event *dwake, *dtimer;
static struct dest_list dests = TAILQ_HEAD_INITIALIZER(dests);
static struct session_list sessions = TAILQ_HEAD_INITIALIZER(sessions);
static int nsessions;
static size_t nheld, maxheld;

static void	kick(struct dest *d);

static void	session_ready(struct client *, struct queue_job *, void *);
static void	session_closed(struct client *, struct queue_job *, int,
		    const char *, const char *, const char *, void *);

static const struct client_ops ops = {
	.ready = session_ready,
	.closed = session_closed,
};

static void
job_finish(struct queue_job *job)
{
	queue_job_done(job);
	/* At the cap the queue may hold more than we took: look again. */
	if (nheld-- == maxheld)
		event_active(dwake, EV_READ, 0);
}

/* Every recipient of every waiting job of d gets the same outcome. */
static void
fail_waiting(struct dest *d, int class, const char *code, const char *text,
    const char *relay)
{
	struct pending *p;
	size_t i;

	while ((p = TAILQ_FIRST(&d->jobs)) != NULL) {
		TAILQ_REMOVE(&d->jobs, p, link);
		d->njobs--;
		for (i = 0; i < p->job->nrcpt; i++)
			queue_report(p->job, p->job->rcpts[i], class, code,
			    text, relay);
		job_finish(p->job);
		free(p);
	}
}

static void
dest_free(struct dest *d)
{
	TAILQ_REMOVE(&dests, d, link);
	free(d->name);
	free(d->t);
	free(d);
}

/* Forget destinations nobody uses; never inside a walk of the list. */
static void
dests_gc(void)
{
	struct dest *d, *next;

	for (d = TAILQ_FIRST(&dests); d != NULL; d = next) {
		next = TAILQ_NEXT(d, link);
		if (d->njobs == 0 && d->nsessions == 0 && d->req == NULL)
			dest_free(d);
	}
}

static void
kick_all(void)
{
	struct dest *d;

	TAILQ_FOREACH(d, &dests, link)
		kick(d);
	dests_gc();
}

static struct dest *
dest_get(const char *name)
{
	struct dest *d;

	TAILQ_FOREACH(d, &dests, link)
		if ((name == NULL && d->name == NULL) ||
		    (name != NULL && d->name != NULL &&
		    strcmp(name, d->name) == 0))
			return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (name != NULL && (d->name = strdup(name)) == NULL) {
		free(d);
		return NULL;
	}
	TAILQ_INIT(&d->jobs);
	TAILQ_INSERT_TAIL(&dests, d, link);
	return d;
}

static struct queue_job *
dest_pop(struct dest *d)
{
	struct pending *p = TAILQ_FIRST(&d->jobs);
	struct queue_job *job;

	if (p == NULL)
		return NULL;
	TAILQ_REMOVE(&d->jobs, p, link);
	d->njobs--;
	job = p->job;
	free(p);
	return job;
}

static void
resolved(void *arg, int class, const char *code, const char *text,
    const struct dns_target *t, size_t n)
{
	struct dest *d = arg;

	d->req = NULL;
	if (class != 0) {
		log_debug("deliver %s: %s", d->name ? d->name : "relayhost",
		    text);
		fail_waiting(d, class, code, text, NULL);
		dests_gc();
		return;
	}
	free(d->t);
	if ((d->t = malloc(n * sizeof(*t))) == NULL) {
		fail_waiting(d, 4, "4.3.0", "out of memory", NULL);
		dests_gc();
		return;
	}
	memcpy(d->t, t, n * sizeof(*t));
	d->nt = n;
	kick(d);
}

static int
resolve(struct dest *d)
{
	const struct conf_addr *r = &dconf->relayhost;

	if (d->name == NULL)
		d->req = dns_resolve_host(r->host, r->port ? r->port : 25,
		    resolved, d);
	else
		d->req = dns_resolve_mx(d->name, dconf->smtp_port, resolved, d);
	return d->req == NULL ? -1 : 0;
}

/* Give the next waiting job to a ready session; 0 if there was none. */
static int
session_feed(struct session *s)
{
	struct queue_job *job;

	while ((job = dest_pop(s->d)) != NULL) {
		s->job = job;
		if (client_send(s->cl, job) == 0)
			return 1;
		s->job = NULL;
		job_finish(job);
	}
	return 0;
}

/* Close an idle session of another destination when d waits for a slot. */
static void
steal_slot(struct dest *d)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, link)
		if (s->d != d && s->ready && !s->quitting && s->job == NULL) {
			client_quit(s->cl);
			s->quitting = 1;
			return;
		}
}

/* The most sessions d may have: concurrency_per_domain, by default a
 * fifth of concurrency (Postfix's 20 of 100), at least 1. */
static int
dest_limit(const struct dest *d)
{
	int n = dconf->concurrency_per_domain;

	if (d->name == NULL)
		n = dconf->concurrency;
	else if (n == 0)
		n = dconf->concurrency / 5 > 1 ? dconf->concurrency / 5 : 1;
	return d->limit > 0 && d->limit < n ? d->limit : n;
}

/* Start what d needs: resolution, or sessions for its waiting jobs. */
static void
kick(struct dest *d)
{
	struct session *s;
	int want;

	if (d->njobs == 0)
		return;
	if (d->nt == 0) {
		if (d->req == NULL && resolve(d) == -1)
			fail_waiting(d, 4, "4.3.0", "out of memory", NULL);
		return;
	}
	TAILQ_FOREACH(s, &sessions, link)
		if (s->d == d && s->ready && !s->quitting && s->job == NULL &&
		    !session_feed(s))
			return;
	/* A connecting session will take one job each when ready. */
	want = (int)d->njobs - d->nconnecting;
	while (want-- > 0) {
		if (d->nsessions >= dest_limit(d))
			return;
		if (nsessions >= dconf->concurrency) {
			steal_slot(d);
			return;
		}
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return;
		s->d = d;
		s->cl = client_new(dbase, dconf, dtls, d->t, d->nt, &ops, s);
		if (s->cl == NULL) {
			free(s);
			return;
		}
		TAILQ_INSERT_TAIL(&sessions, s, link);
		nsessions++;
		d->nsessions++;
		d->nconnecting++;
	}
}

static void
session_ready(struct client *cl, struct queue_job *done, void *arg)
{
	struct session *s = arg;
	struct dest *d = s->d, *o;

	(void)cl;
	if (!s->ready) {
		s->ready = 1;
		d->nconnecting--;
	}
	if (done != NULL) {
		s->job = NULL;
		job_finish(done);
	}
	if (session_feed(s))
		return;
	/* Idle: free the slot at once if another destination waits. */
	TAILQ_FOREACH(o, &dests, link)
		if (o != d && o->njobs > 0 && o->nt > 0 &&
		    nsessions >= dconf->concurrency) {
			client_quit(s->cl);
			s->quitting = 1;
			return;
		}
}

static void
session_closed(struct client *cl, struct queue_job *job, int class,
    const char *code, const char *text, const char *relay, void *arg)
{
	struct session *s = arg, *o;
	struct dest *d = s->d;
	int alive = 0;

	(void)cl;
	if (job != NULL)
		job_finish(job);
	if (!s->ready)
		d->nconnecting--;
	TAILQ_REMOVE(&sessions, s, link);
	nsessions--;
	d->nsessions--;
	free(s);
	TAILQ_FOREACH(o, &sessions, link)
		alive += o->d == d && !o->quitting;
	if (class != 0 && alive > 0)
		/* Refused while other sessions there work or are still being
		 * set up (the host's 421 can come before our first session
		 * there is through EHLO): the host limits connections. Keep
		 * to what it takes, as Postfix does; should those fail too,
		 * the last of them fails the waiting jobs. */
		d->limit = alive;
	else if (class != 0)
		/* No target took this session: every host of d is down. */
		fail_waiting(d, class, code, text, relay);
	/* A slot is free: whoever waits may go on. */
	kick_all();
}

static void
poll_queue(evutil_socket_t fd, short what, void *arg)
{
	struct queue_job *jobs[TAKE_BATCH];
	struct pending *p;
	struct dest *d;
	time_t now = time(NULL), next = 0;
	size_t n = 0, i, room;

	(void)fd, (void)what, (void)arg;
	for (;;) {
		room = maxheld - nheld;
		if (room > TAKE_BATCH)
			room = TAKE_BATCH;
		if (room == 0)
			break;
		n = queue_take_due(now, jobs, room, &next);
		for (i = 0; i < n; i++) {
			nheld++;
			if ((d = dest_get(jobs[i]->domain)) == NULL ||
			    (p = malloc(sizeof(*p))) == NULL) {
				job_finish(jobs[i]);
				continue;
			}
			p->job = jobs[i];
			TAILQ_INSERT_TAIL(&d->jobs, p, link);
			d->njobs++;
		}
		if (n < room)
			break;
	}
	evtimer_del(dtimer);
	/* Due but not handed out (no memory): try again in a second. */
	if (next > now || (next != 0 && nheld < maxheld)) {
		struct timeval tv = { next > now ? next - now : 1, 0 };

		evtimer_add(dtimer, &tv);
	}
	kick_all();
}

/* Called by the queue from any thread. */
static void
deliver_wakeup(void *arg)
{
	(void)arg;
	event_active(dwake, EV_READ, 0);
}

int
deliver_start(struct event_base *base, const struct conf *c)
{
	dbase = base;
	dconf = c;
	maxheld = (size_t)c->concurrency * HELD_PER_CONN;
	if (maxheld < HELD_MIN)
		maxheld = HELD_MIN;
	if (c->tls != CONF_TLS_NONE && (dtls = client_tls_ctx(c)) == NULL)
		goto fail;
	if (dns_start(base, c) == -1)
		goto fail;
	dwake = event_new(base, -1, 0, poll_queue, NULL);
	dtimer = evtimer_new(base, poll_queue, NULL);
	if (dwake == NULL || dtimer == NULL) {
		log_warnx("deliver: cannot create events");
		dns_stop();
		goto fail;
	}
	queue_set_wakeup(deliver_wakeup, NULL);
	event_active(dwake, EV_READ, 0);
	return 0;
fail:
	if (dwake != NULL)
		event_free(dwake);
	if (dtimer != NULL)
		event_free(dtimer);
	dwake = dtimer = NULL;
	SSL_CTX_free(dtls);
	dtls = NULL;
	dbase = NULL;
	return -1;
}

void
deliver_stop(void)
{
	struct session *s;
	struct queue_job *job;
	struct dest *d;

	if (dbase == NULL)
		return;
	queue_set_wakeup(NULL, NULL);
	while ((s = TAILQ_FIRST(&sessions)) != NULL) {
		TAILQ_REMOVE(&sessions, s, link);
		if ((job = client_free(s->cl)) != NULL)
			queue_job_release(job);
		free(s);
	}
	nsessions = 0;
	while ((d = TAILQ_FIRST(&dests)) != NULL) {
		dns_cancel(d->req);
		while ((job = dest_pop(d)) != NULL)
			queue_job_release(job);
		dest_free(d);
	}
	nheld = 0;
	dns_stop();
	event_free(dwake);
	event_free(dtimer);
	dwake = dtimer = NULL;
	SSL_CTX_free(dtls);
	dtls = NULL;
	dbase = NULL;
}
