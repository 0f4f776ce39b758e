/*
 * session_submit.c - the message of a submission session into the
 * outbound queue (internal API in session.h): the same queue as outbox/,
 * through queue_submit with the SMTP envelope as the envelope (header
 * recipients are not added) and the user who logged in, for the log.
 *
 * A message without a From: gets one with the envelope sender, as from
 * sendmail(8) (RFC 6409 §8.1: the sender is one the user may give).
 *
 * queue_submit parses the message and fsyncs the entry: it runs on a
 * thread of its own (lib/work.h) while the session waits in S_WAIT, and
 * 250 is said only once it returned 0, the entry durable.
 */
#include "smtp/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lib/passwd.h"
#include "lib/work.h"
#include "queue/maildrop.h"
#include "queue/queue.h"

struct submission {
	struct session_job job;
	struct evbuffer	*msg;
	char		from[ADDR_PATH_MAX + 1];
	char		(*rcpt)[ADDR_PATH_MAX + 1];
	char		**rcpts;	/* pointers into rcpt */
	size_t		nrcpt;
	char		user[PASSWD_USER_MAX];
	char		id[QUEUE_ID_MAX];
	int		rc;
};

static void
submission_free(struct submission *m)
{
	if (m->msg != NULL)
		evbuffer_free(m->msg);
	free(m->rcpt);
	free(m->rcpts);
	free(m);
}

static void
submit_fn(void *arg)
{
	struct submission *m = arg;
	struct queue_origin o = { .uid = (uid_t)-1, .from = m->from,
	    .rcpts = m->rcpts, .nrcpt = m->nrcpt, .user = m->user };
	size_t len = evbuffer_get_length(m->msg), outlen;
	const char *data = (const char *)evbuffer_pullup(m->msg, -1);
	char *out = NULL;

	if ((data == NULL && len > 0) ||
	    maildrop_add_from(data, len, m->from, &out, &outlen) != 0)
		m->rc = ENOMEM;
	else
		m->rc = queue_submit(out, outlen, "submission", &o, m->id);
	free(out);
}

static void
submit_done(void *arg)
{
	struct submission *m = arg;
	struct session *s = m->job.s;

	if (s != NULL) {
		s->job = NULL;
		session_reset(s);	/* out of S_WAIT */
		if (m->rc == 0) {
			session_reply(s, "250 2.0.0 Ok: queued as %s", m->id);
			s->junk = 0;
		} else if (m->rc == EINVAL) {
			session_error(s, "550 5.6.0 Error: the message cannot "
			    "be sent as it is (see the log)");
		} else if (m->rc == EFBIG) {
			session_error(s, "552 5.3.4 Error: message exceeds the "
			    "size limit");
		} else if (m->rc == ENOSPC) {
			session_reply(s, "452 4.3.1 Insufficient system "
			    "storage");
		} else {
			session_reply(s, "451 4.3.0 Error: could not queue the "
			    "message, try again later");
		}
		session_resume(s);
	}
	submission_free(m);
}

/*
 * session_submit - at the final dot of a message that broke no rule: the
 * message and envelope move to the job (the transaction is then empty),
 * the session waits.
 */
void
session_submit(struct session *s)
{
	struct submission *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->rcpts = calloc(s->nrcpt,
	    sizeof(*m->rcpts))) == NULL) {
		free(m);
		session_reset(s);
		session_reply(s, "451 4.3.0 Insufficient system resources");
		return;
	}
	m->job.s = s;
	m->msg = s->msg;
	m->rcpt = s->rcpt;
	m->nrcpt = s->nrcpt;
	for (size_t i = 0; i < m->nrcpt; i++)
		m->rcpts[i] = m->rcpt[i];
	memcpy(m->from, s->from, sizeof(m->from));
	snprintf(m->user, sizeof(m->user), "%s", session_auth_user(s) ?
	    session_auth_user(s) : "");
	s->msg = NULL;
	s->rcpt = NULL;
	s->nrcpt = 0;
	session_reset(s);
	if (work_run(submit_fn, submit_done, m) != 0) {
		submission_free(m);
		session_reply(s, "451 4.3.0 Insufficient system resources");
		return;
	}
	s->job = &m->job;
	session_enter(s, S_WAIT);
}
