/*
 * local.c - local delivery: a queued recipient in our `domains` is written
 * into the inbox Maildir by the queue itself, with no DNS and no SMTP
 * loop, on a thread of its own (the Maildir fsyncs must block neither the
 * FUSE threads nor the event thread). jobs.c never hands such recipients
 * to smtp/; this thread takes them as jobs of route JOB_LOCAL and reports
 * each one through queue_report like any delivery, with relay "local".
 *
 * Each recipient gets its own copy (its own Delivered-To:), made of
 *	Return-Path: <sender>		(<> for a bounce)
 *	Delivered-To: rcpt
 *	Received: by HOSTNAME (mailfs) with local id QUEUE-ID
 *		for <rcpt>; DATE
 * and the queued message with its line ends made LF, as the listener
 * stores mail. Its envelope (maildir.h) is `from`, `to rcpt`,
 * `client local`, `helo HOSTNAME`, `tls no`: it came from this host.
 * Stored: `delivered` 2.0.0 "delivered to inbox as ID". Not stored (disk
 * full, say): `deferred` 4.3.0, tried again on the retry schedule.
 *
 * API: queue_domain_is_local, queue_local_start, queue_local_stop
 * (queue.h); queue_rcpt_is_local, queue_local_kick (core.h). Diagnostics: through queue_report's events.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/core.h"
#include "queue/maildir.h"
#include "queue/qlog.h"

int
queue_domain_is_local(const struct conf *c, const char *d)
{
	const char *p;
	char *ace, *uni;
	int local;

	if (conf_is_local_domain(c, d))
		return 1;
	/* Only a name with U-labels or A-labels has another spelling. */
	for (p = d; *p && g_ascii_strncasecmp(p, "xn--", 4) != 0; p++)
		;
	if (*p == '\0' && g_str_is_ascii(d))
		return 0;
	ace = g_hostname_to_ascii(d);
	uni = g_hostname_to_unicode(d);
	local = (ace != NULL && conf_is_local_domain(c, ace)) ||
	    (uni != NULL && conf_is_local_domain(c, uni));
	g_free(ace);
	g_free(uni);
	return local;
}

/* Caller holds queue.mu (queue.conf does not change while open). */
int
queue_rcpt_is_local(const struct rcpt *r)
{
	return queue.conf != NULL && queue_domain_is_local(queue.conf,
	    r->domain);
}

/* Caller holds queue.mu. */
void
queue_local_kick(void)
{
	queue.local_kicked = 1;
	pthread_cond_signal(&queue.local_cv);
}

/*
 * read_lf - the message file of job with CRLF made LF (*len set), or NULL
 * with errno: EBADMSG when it is not the message queued (check.c: then
 * it is set aside, and nothing is to be reported).
 */
static char *
read_lf(const struct queue_job *job, size_t *len)
{
	struct stat st;
	char *buf, *o;
	size_t i, got = 0;
	ssize_t k;
	int fd, err;

	if ((fd = open(job->path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || (buf = malloc((size_t)st.st_size + 1)) ==
	    NULL) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size &&
	    (k = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)k;
	close(fd);
	if ((err = queue_message_check(job->id, job->path, job->size,
	    job->has_crc, job->crc, check_crc(0, buf, got), got)) != 0) {
		free(buf);
		errno = err;
		return NULL;
	}
	for (i = 0, o = buf; i < got; i++)
		if (!(buf[i] == '\r' && i + 1 < got && buf[i + 1] == '\n'))
			*o++ = buf[i];
	*len = (size_t)(o - buf);
	return buf;
}

/* Store one copy of data for rcpt; 0 (text: the inbox ID) or an errno. */
static int
store(const struct queue_job *job, const char *rcpt, const char *data,
    size_t len, char *text, size_t textlen)
{
	char id[MAILDIR_ID_MAX], *trace, *env, *date;
	const char *host = queue.conf->hostname;
	const char *from = job->from[0] ? job->from : "<>";
	GDateTime *now = g_date_time_new_now_local();
	struct iovec v[2];
	int err;

	date = g_mime_utils_header_format_date(now);
	g_date_time_unref(now);
	maildir_make_id(id);
	trace = g_strdup_printf("Return-Path: <%s>\nDelivered-To: %s\n"
	    "Received: by %s (mailfs) with local id %s\n\tfor <%s>; %s\n",
	    job->from, rcpt, host, job->id, rcpt, date);
	env = g_strdup_printf("from %s\nto %s\nclient local\nhelo %s\n"
	    "tls no\n", from, rcpt, host);
	v[0].iov_base = trace;
	v[0].iov_len = strlen(trace);
	v[1].iov_base = (void *)data;
	v[1].iov_len = len;
	err = maildir_deliver_iov(id, v, 2, env);
	if (!err)
		snprintf(text, textlen, "delivered to inbox as %s", id);
	g_free(trace);
	g_free(env);
	g_free(date);
	return err;
}

static void
deliver(struct queue_job *job)
{
	char text[MAILDIR_ID_MAX + 64];
	size_t len = 0, k;
	char *data;
	int err, rerr;

	for (k = 0; k < job->nrcpt; k++)
		qlog_event(job->id, "sending", "to", job->rcpts[k], "relay",
		    "local", NULL);
	data = read_lf(job, &len);
	rerr = data == NULL ? errno : 0;
	for (k = 0; rerr != EBADMSG && k < job->nrcpt; k++) {
		err = rerr ? rerr : store(job, job->rcpts[k], data, len, text,
		    sizeof(text));
		if (!err) {
			queue_report(job, job->rcpts[k], 2, "2.0.0", text,
			    "local");
			continue;
		}
		snprintf(text, sizeof(text), "cannot store in the inbox: %s",
		    strerror(err));
		queue_report(job, job->rcpts[k], 4, "4.3.0", text, "local");
	}
	free(data);
}

/* Caller holds queue.mu. The next local job due at now, or NULL; *soon
 * is when the earliest other local recipient falls due (0: none). The
 * local due heap (due.c) has the entry to take on top. */
static struct queue_job *
take(time_t now, time_t *soon)
{
	struct queue_job *j;
	struct msg *m;
	time_t due;
	size_t i;

	*soon = 0;
	while ((m = queue_due_first(DUE_LOCAL, &due)) != NULL) {
		if (due > now) {
			*soon = due;
			return NULL;
		}
		for (i = 0; i < m->nr; i++) {
			if ((m->r[i].state != QUEUE_RCPT_QUEUED &&
			    m->r[i].state != QUEUE_RCPT_DEFERRED) ||
			    m->r[i].next > now || !queue_rcpt_is_local(&m->r[i]))
				continue;
			if ((j = queue_job_make(m, i, now, JOB_LOCAL)) != NULL)
				return j;
			/* Due but no memory: again in a second. */
			*soon = now + 1;
			return NULL;
		}
		/* Its recipients' routes changed (SIGHUP): sort it again. */
		queue_due_update(m);
	}
	return NULL;
}

static void *
local_main(void *arg)
{
	struct queue_job *job;
	struct timespec ts = { 0, 0 };
	time_t soon;

	(void)arg;
	pthread_mutex_lock(&queue.mu);
	while (!queue.local_stop) {
		queue.local_kicked = 0;
		if ((job = take(time(NULL), &soon)) != NULL) {
			pthread_mutex_unlock(&queue.mu);
			deliver(job);
			queue_job_done(job);
			pthread_mutex_lock(&queue.mu);
			continue;
		}
		if (queue.local_kicked || queue.local_stop)
			continue;
		ts.tv_sec = soon;
		if (soon == 0)
			pthread_cond_wait(&queue.local_cv, &queue.mu);
		else
			pthread_cond_timedwait(&queue.local_cv, &queue.mu, &ts);
	}
	pthread_mutex_unlock(&queue.mu);
	return NULL;
}

int
queue_local_start(void)
{
	int err;

	pthread_mutex_lock(&queue.mu);
	queue.local_stop = 0;
	err = queue.local_running ? 0 :
	    pthread_create(&queue.local, NULL, local_main, NULL);
	if (err == 0)
		queue.local_running = queue.notify = 1;
	pthread_mutex_unlock(&queue.mu);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

void
queue_local_stop(void)
{
	pthread_mutex_lock(&queue.mu);
	if (!queue.local_running) {
		pthread_mutex_unlock(&queue.mu);
		return;
	}
	queue.local_stop = 1;
	queue.local_running = 0;
	pthread_cond_signal(&queue.local_cv);
	pthread_mutex_unlock(&queue.mu);
	/* It ends the delivery it is in first. */
	pthread_join(queue.local, NULL);
}
