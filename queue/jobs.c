/*
 * jobs.c - the delivery side of the outbound queue (event thread): the
 * selection of due recipients into jobs (one per message and domain, or
 * one per message through a relayhost; recipients in our domains are
 * left to local.c, which makes its jobs here too), and the results
 * reported back, which the writer thread persists (queue.c).
 *
 * API: queue.h ("the delivery side"). Statistics: STATS_DELIVERED and
 * STATS_FAILED per recipient.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/core.h"
#include "queue/qlog.h"
#include "queue/queue_int.h"
#include "queue/stats.h"

static int
is_due(const struct rcpt *r, time_t now)
{
	return (r->state == QUEUE_RCPT_QUEUED ||
	    r->state == QUEUE_RCPT_DEFERRED) && r->next <= now;
}

void
queue_job_free(struct queue_job *j)
{
	size_t i;

	for (i = 0; i < j->nrcpt; i++)
		free(j->rcpts[i]);
	free(j->rcpts);
	free(j->from);
	free(j->domain);
	free(j->path);
	free(j);
}

/* Caller holds queue.mu. 1 if recipient i of m goes the way `route` says:
 * JOB_LOCAL takes the recipients in our domains, the others take the
 * rest, by relayhost or with recipient first's domain. */
static int
on_route(const struct msg *m, size_t first, size_t i, enum job_route route)
{
	int local = queue_rcpt_is_local(&m->r[i]);

	if (route == JOB_LOCAL || local)
		return route == JOB_LOCAL && local;
	return route == JOB_RELAY ||
	    strcmp(m->r[i].domain, m->r[first].domain) == 0;
}

/* Caller holds queue.mu. The job for the due recipients of m that go the
 * same way as recipient `first`, now marked sending (and so out of the
 * due heaps: due.c). */
struct queue_job *
queue_job_make(struct msg *m, size_t first, time_t now, enum job_route route)
{
	char path[PATH_MAX];
	struct queue_job *j;
	struct rcpt *r;
	size_t i;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->rcpts = calloc(m->nr, sizeof(char *))) == NULL) {
		free(j);
		return NULL;
	}
	snprintf(j->id, sizeof(j->id), "%s", m->id);
	queue_entry_path(m, "message", path);
	j->from = strdup(m->from);
	j->path = strdup(path);
	j->domain = route == JOB_DOMAIN ? strdup(m->r[first].domain) : NULL;
	j->size = m->size;
	j->eightbit = m->eightbit;
	j->has_crc = m->has_crc;
	j->crc = m->crc;
	if (j->from == NULL || j->path == NULL ||
	    (route == JOB_DOMAIN && !j->domain)) {
		queue_job_free(j);
		return NULL;
	}
	for (i = first; i < m->nr; i++) {
		r = &m->r[i];
		if (!is_due(r, now) || !on_route(m, first, i, route))
			continue;
		if ((j->rcpts[j->nrcpt] = strdup(r->addr)) == NULL) {
			queue_job_free(j);
			return NULL;
		}
		j->nrcpt++;
	}
	/* Mark only once the job is whole, so a failed allocation leaves
	 * every recipient as it was. */
	for (i = first; i < m->nr; i++) {
		r = &m->r[i];
		if (is_due(r, now) && on_route(m, first, i, route)) {
			r->before = r->state;
			r->state = QUEUE_RCPT_SENDING;
		}
	}
	queue_due_update(m);
	return j;
}

/*
 * queue_take_due - the remote due heap (due.c) gives the entries in the
 * order their earliest waiting recipient falls due, so this costs what it
 * hands out, not the size of the queue. Each entry taken gives one job
 * per domain (or one through the relayhost) and goes back into the heap
 * at the due time of what it still has waiting, if anything.
 */
size_t
queue_take_due(time_t now, struct queue_job **jobs, size_t max,
    time_t *next)
{
	struct queue_job *j;
	struct msg *m;
	time_t due = 0;
	size_t n = 0, i, k;
	int relay, stuck = 0;

	pthread_mutex_lock(&queue.mu);
	relay = queue.conf != NULL && queue.conf->relayhost.host[0] != '\0';
	while (n < max && !stuck &&
	    (m = queue_due_first(DUE_REMOTE, &due)) != NULL && due <= now) {
		for (i = 0; i < m->nr && n < max; i++) {
			/* Local recipients are local.c's. */
			if (!is_due(&m->r[i], now) ||
			    queue_rcpt_is_local(&m->r[i]))
				continue;
			if ((j = queue_job_make(m, i, now,
			    relay ? JOB_RELAY : JOB_DOMAIN)) == NULL) {
				/* No memory: left due, tried again soon. */
				stuck = 1;
				break;
			}
			jobs[n++] = j;
		}
		queue_due_update(m);
	}
	/* Still pending: when the next is due, or now if it is due but
	 * could not be handed out. */
	if (queue_due_first(DUE_REMOTE, &due) != NULL)
		*next = due < now ? now : due;
	else
		*next = 0;
	pthread_mutex_unlock(&queue.mu);
	for (i = 0; i < n; i++)
		for (k = 0; k < jobs[i]->nrcpt; k++)
			qlog_event(jobs[i]->id, "sending", "to",
			    jobs[i]->rcpts[k], "domain", jobs[i]->domain, NULL);
	return n;
}

/* Caller holds queue.mu. m's recipient addr while it is being sent, or
 * NULL. */
static struct rcpt *
sending(struct msg *m, const char *addr)
{
	size_t i;

	for (i = 0; m != NULL && i < m->nr; i++)
		if (m->r[i].state == QUEUE_RCPT_SENDING &&
		    strcmp(m->r[i].addr, addr) == 0)
			return &m->r[i];
	return NULL;
}

void
queue_report(const struct queue_job *job, const char *rcpt, int class,
    const char *code, const char *text, const char *relay)
{
	char why[1024], age[32], when[32];
	const char *event, *logtext = text;
	struct rcpt *r;
	struct msg *m;
	time_t now = time(NULL);
	int retry = 0;

	pthread_mutex_lock(&queue.mu);
	m = queue.index ? queue_find(QUEUE_QUEUE, job->id) : NULL;
	if ((r = sending(m, rcpt)) == NULL) {
		/* Deleted meanwhile, or reported twice. */
		pthread_mutex_unlock(&queue.mu);
		log_debug("%s: no recipient %s being sent", job->id, rcpt);
		return;
	}
	r->attempts++;
	snprintf(r->code, sizeof(r->code), "%s", code ? code : "");
	if (class == 2) {
		r->state = QUEUE_RCPT_DELIVERED;
		event = "delivered";
	} else if (class == 5) {
		r->state = QUEUE_RCPT_FAILED;
		event = "failed";
	} else if (schedule_expired(queue.conf, m->arrival, now)) {
		r->state = QUEUE_RCPT_FAILED;
		event = "failed";
		schedule_format_duration(now - m->arrival, age, sizeof(age));
		snprintf(why, sizeof(why), "expired after %s in the queue: %s",
		    age, text ? text : "-");
		logtext = why;
	} else {
		r->state = QUEUE_RCPT_DEFERRED;
		r->next = schedule_next(queue.conf, r->attempts, now);
		/* One last try when max_age is reached, so a recipient
		 * fails then rather than a whole retry delay later. */
		if (r->next > m->arrival + queue.conf->max_age)
			r->next = m->arrival + queue.conf->max_age;
		event = "deferred";
		retry = 1;
	}
	free(r->text);
	r->text = logtext ? strdup(logtext) : NULL;
	free(r->relay);
	r->relay = relay ? strdup(relay) : NULL;
	if (queue_destination(m) != QUEUE_QUEUE)
		m->done = now;
	queue_due_update(m);
	queue_format_time(r->next, when, sizeof(when));
	queue_save_later(m);
	pthread_mutex_unlock(&queue.mu);

	if (retry)
		qlog_event(job->id, event, "to", rcpt, "relay", relay, "code",
		    code, "text", logtext, "next", when, NULL);
	else
		qlog_event(job->id, event, "to", rcpt, "relay", relay, "code",
		    code, "text", logtext, NULL);
	if (class == 2)
		stats_add(STATS_DELIVERED, 1);
	else if (!retry)
		stats_add(STATS_FAILED, 1);
	if (retry)
		queue_wake();
}

void
queue_job_done(struct queue_job *job)
{
	GPtrArray *lost = g_ptr_array_new();
	struct msg *m;
	size_t k;
	guint l;

	pthread_mutex_lock(&queue.mu);
	m = queue.index ? queue_find(QUEUE_QUEUE, job->id) : NULL;
	for (k = 0; m != NULL && k < job->nrcpt; k++)
		if (sending(m, job->rcpts[k]) != NULL)
			g_ptr_array_add(lost, job->rcpts[k]);
	pthread_mutex_unlock(&queue.mu);
	for (l = 0; l < lost->len; l++)
		queue_report(job, lost->pdata[l], 4, "4.4.2",
		    "delivery ended without a result", NULL);
	g_ptr_array_free(lost, TRUE);
	queue_job_free(job);
}

/*
 * queue_job_release - at shutdown: the job's recipients still being sent
 * go back to what they were, with no attempt counted and no new due time,
 * so the next start tries them again at once as interface.md promises.
 * Nothing was written to disk when they were taken, so nothing is now.
 */
void
queue_job_release(struct queue_job *job)
{
	struct rcpt *r;
	struct msg *m;
	size_t k;

	pthread_mutex_lock(&queue.mu);
	m = queue.index ? queue_find(QUEUE_QUEUE, job->id) : NULL;
	for (k = 0; m != NULL && k < job->nrcpt; k++)
		if ((r = sending(m, job->rcpts[k])) != NULL)
			r->state = r->before;
	if (m != NULL)
		queue_due_update(m);
	pthread_mutex_unlock(&queue.mu);
	queue_job_free(job);
}
