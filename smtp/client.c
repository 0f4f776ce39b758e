/*
 * client.c - one outbound SMTP session, its protocol (see client.h for
 * the API; the connection and TLS setup are in client_conn.c).
 *
 * An explicit state machine over a bufferevent (a socket one, and an
 * OpenSSL filter on top of it after STARTTLS). Every reply is read whole
 * with proto_reply_feed and handled by the state that expected it. With
 * PIPELINING the MAIL, RCPT and DATA commands of a transaction go out in
 * one write (RFC 2920) and their replies are matched by position.
 *
 * Lifetime: only client_end_session() frees a client, and every function
 * that may reach it returns -1 so its callers stop touching the client.
 *
 * Diagnostics: log_debug per state change (client_enter); every failure
 * becomes the text of a queue_report() or of the closed() callback.
 */
#include "smtp/client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/queue.h"

#define LINE_MAX_LEN	(64 * 1024)	/* a reply line longer is garbage */
#define BODY_CHUNK	(64 * 1024)	/* read from the message file at once */
#define BODY_QUEUED	(256 * 1024)	/* kept in the output buffer at most */

static const char *state_names[] = {
	"connect", "greeting", "ehlo", "helo", "starttls", "tls", "auth",
	"idle", "rset", "transaction", "body", "dot", "quit"
};

/* What each state is doing, for "lost connection ... while ..." texts. */
static const char *state_doing[] = {
	"connecting", "receiving the initial server greeting",
	"performing the EHLO handshake", "performing the HELO handshake",
	"sending STARTTLS", "performing the TLS handshake",
	"authenticating", "idle",
	"sending RSET", "sending MAIL FROM, RCPT TO or DATA",
	"sending message body", "sending end of data", "sending QUIT"
};

const char *
client_doing(const struct client *c)
{
	return state_doing[c->state];
}

void
client_enter(struct client *c, enum state s)
{
	log_debug("smtp %s: %s -> %s", c->relay, state_names[c->state],
	    state_names[s]);
	c->state = s;
}

void
client_deadline(struct client *c, time_t secs)
{
	struct timeval tv = { secs, 0 };

	evtimer_add(c->deadline, &tv);
}

static void
send_line(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
send_line(struct client *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void
client_report(struct client *c, size_t i, int class, const char *code,
    const char *text)
{
	if (c->rstate[i] == R_DONE)
		return;
	c->rstate[i] = R_DONE;
	queue_report(c->job, c->job->rcpts[i], class, code, text, c->relay);
}

/* The current reply as class, enhanced code and one-line text. class 3
 * where a final answer was due is a protocol error: temporary. */
static int
reply_parts(struct client *c, char esc[PROTO_ESC_MAX], char *text, size_t len)
{
	int class = c->reply.code / 100;

	proto_reply_format(&c->reply, text, len);
	if (class == 3) {
		memcpy(esc, "4.5.0", 6);
		return 4;
	}
	proto_reply_esc(&c->reply, esc);
	return class;
}

/* A refusal says which command it answered, as Postfix does. */
static void
report_reply(struct client *c, size_t i, const char *cmd)
{
	char esc[PROTO_ESC_MAX], text[1024];
	int class = reply_parts(c, esc, text, sizeof(text));
	size_t len = strlen(text);

	if (class != 2)
		snprintf(text + len, sizeof(text) - len, " (in reply to %s)",
		    cmd);
	client_report(c, i, class, esc, text);
}

static int
host_fail_reply(struct client *c, const char *what)
{
	char esc[PROTO_ESC_MAX], text[1024];
	int class = reply_parts(c, esc, text, sizeof(text));

	if (class == 2) {
		class = 4;
		memcpy(esc, "4.5.0", 6);
	}
	return client_host_fail(c, class, esc, "host %s refused %s: %s",
	    c->relay, what, text);
}

int
client_send_ehlo(struct client *c)
{
	client_enter(c, S_EHLO);
	client_deadline(c, c->conf->smtp_helo_timeout);
	send_line(c, "EHLO %s", c->conf->hostname);
	return 0;
}

static void
arm_idle(struct client *c)
{
	struct timeval tv = { CLIENT_IDLE, 0 };

	evtimer_add(c->idle, &tv);
}

/* Ready for a job; done is the one just finished, if any. */
static int
go_idle(struct client *c, struct queue_job *done)
{
	client_enter(c, S_IDLE);
	client_deadline(c, c->conf->smtp_quit_timeout);
	arm_idle(c);
	c->ops->ready(c, done, c->arg);
	return 0;
}

/* EHLO (or HELO) done: STARTTLS first if wanted, then AUTH to the
 * relayhost if set, else ready. */
static int
after_ehlo(struct client *c)
{
	int rc;

	if (!c->tls && !c->cleartext && c->conf->tls != CONF_TLS_NONE &&
	    c->ehlo.starttls && c->tls_ctx != NULL) {
		client_enter(c, S_STARTTLS);
		client_deadline(c, c->conf->smtp_helo_timeout);
		send_line(c, "STARTTLS");
		return 0;
	}
	if (!c->tls && c->conf->tls >= CONF_TLS_ENCRYPT)
		return client_host_fail(c, 4, "4.7.4",
		    "TLS is required, but was not offered by host %s",
		    c->relay);
	if ((rc = client_auth_start(c)) != 1)
		return rc;
	return go_idle(c, NULL);
}

static int
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

static void
send_rcpt(struct client *c, size_t i)
{
	send_line(c, "RCPT TO:<%s>", c->job->rcpts[i]);
}

/* MAIL, and with PIPELINING every RCPT and DATA too. */
static void
send_envelope(struct client *c)
{
	struct queue_job *j = c->job;
	char params[128] = "";
	size_t i;
	int utf8 = has_8bit(j->from);

	for (i = 0; i < j->nrcpt; i++)
		utf8 |= has_8bit(j->rcpts[i]);
	if (c->ehlo.size)
		snprintf(params, sizeof(params), " SIZE=%zu", j->size);
	if (c->ehlo.eightbitmime && j->eightbit)
		strcat(params, " BODY=8BITMIME");
	if (c->ehlo.smtputf8 && utf8)
		strcat(params, " SMTPUTF8");
	client_enter(c, S_TXN);
	client_deadline(c, c->conf->smtp_mail_timeout);
	send_line(c, "MAIL FROM:<%s>%s", j->from, params);
	if (!c->ehlo.pipelining)
		return;
	for (i = 0; i < j->nrcpt; i++)
		send_rcpt(c, i);
	send_line(c, "DATA");
}

/* The transaction is over, its recipients all reported: hand it back. */
static int
txn_end(struct client *c)
{
	struct queue_job *job = c->job;

	client_close_file(c);
	c->job = NULL;
	return go_idle(c, job);
}

/* Keep the output buffer fed from the message file. */
static int
fill_body(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char buf[BODY_CHUNK];
	ssize_t n;

	while (c->state == S_BODY && evbuffer_get_length(out) < BODY_QUEUED) {
		if ((n = read(c->fd, buf, sizeof(buf))) < 0) {
			if (errno == EINTR)
				continue;
			return client_trouble(c, "4.3.0",
			    "cannot read message: %s", strerror(errno));
		}
		if (n == 0) {
			proto_dot_end(out, c->bol);
			client_enter(c, S_DOT);
			client_deadline(c,
			    c->conf->smtp_data_done_timeout);
			break;
		}
		if (proto_dot_stuff(out, buf, (size_t)n, &c->bol) == -1)
			return client_trouble(c, "4.3.0", "out of memory");
	}
	return 0;
}

/* A reply to MAIL, a RCPT or DATA, by position. */
static int
txn_reply(struct client *c)
{
	struct queue_job *j = c->job;
	size_t k = c->nreplies++, i;
	int class = c->reply.code / 100;

	if (k == 0) {
		c->mail_ok = class == 2;
		if (!c->mail_ok) {
			for (i = 0; i < j->nrcpt; i++)
				report_reply(c, i, "MAIL FROM");
			c->need_rset = 1;
			if (!c->ehlo.pipelining)
				return txn_end(c);
		} else if (!c->ehlo.pipelining)
			send_rcpt(c, 0);
		client_deadline(c, c->conf->smtp_rcpt_timeout);
		return 0;
	}
	if (k <= j->nrcpt) {
		i = k - 1;
		if (c->mail_ok && class == 2) {
			c->rstate[i] = R_ACCEPTED;
			c->naccepted++;
		} else if (c->mail_ok)
			report_reply(c, i, "RCPT TO");
		if (k < j->nrcpt) {
			if (!c->ehlo.pipelining)
				send_rcpt(c, k);
			client_deadline(c, c->conf->smtp_rcpt_timeout);
			return 0;
		}
		if (c->ehlo.pipelining) {
			client_deadline(c, c->conf->smtp_data_init_timeout);
			return 0;
		}
		if (c->naccepted == 0) {
			c->need_rset = 1;
			return txn_end(c);
		}
		client_deadline(c, c->conf->smtp_data_init_timeout);
		send_line(c, "DATA");
		return 0;
	}
	/* The reply to DATA. */
	if (c->reply.code == 354 && c->naccepted > 0) {
		client_enter(c, S_BODY);
		c->bol = 1;
		client_deadline(c, c->conf->smtp_data_xfer_timeout);
		/* write_cb refills before the socket runs dry. */
		bufferevent_setwatermark(c->bev, EV_WRITE, BODY_QUEUED / 2, 0);
		return fill_body(c);
	}
	if (c->reply.code == 354) {
		/* RFC 2920 §3.1: no recipient, yet DATA accepted. */
		client_enter(c, S_DOT);
		client_deadline(c, c->conf->smtp_data_done_timeout);
		send_line(c, ".");
		return 0;
	}
	for (i = 0; i < j->nrcpt; i++)
		if (c->rstate[i] == R_ACCEPTED)
			report_reply(c, i, "DATA");
	c->need_rset = 1;
	return txn_end(c);
}

static int
handle_reply(struct client *c)
{
	size_t i;
	int rc;

	switch (c->state) {
	case S_GREETING:
		if (c->reply.code / 100 != 2)
			return host_fail_reply(c, "to talk to us");
		return client_send_ehlo(c);
	case S_EHLO:
		if (c->reply.code / 100 == 2) {
			proto_ehlo_parse(&c->reply, &c->ehlo);
			return after_ehlo(c);
		}
		if (c->reply.code / 100 != 5 || c->tls)
			return host_fail_reply(c, "EHLO");
		client_enter(c, S_HELO);
		client_deadline(c, c->conf->smtp_helo_timeout);
		send_line(c, "HELO %s", c->conf->hostname);
		return 0;
	case S_HELO:
		if (c->reply.code / 100 != 2)
			return host_fail_reply(c, "HELO");
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		return after_ehlo(c);
	case S_STARTTLS:
		if (c->reply.code / 100 == 2)
			return client_start_tls(c);
		if (c->conf->tls != CONF_TLS_MAY)
			return host_fail_reply(c, "STARTTLS");
		if ((rc = client_auth_start(c)) != 1)
			return rc;	/* without TLS: refused there */
		return go_idle(c, NULL);
	case S_AUTH:
		if ((rc = client_auth_reply(c)) != 1)
			return rc;
		return go_idle(c, NULL);
	case S_RSET:
		if (c->reply.code / 100 != 2)
			return client_trouble(c, "4.5.0", "RSET refused by %s",
			    c->relay);
		c->need_rset = 0;
		send_envelope(c);
		return 0;
	case S_TXN:
		return txn_reply(c);
	case S_DOT:
		for (i = 0; i < c->job->nrcpt; i++)
			if (c->rstate[i] == R_ACCEPTED)
				report_reply(c, i, "end of data");
		c->need_rset = 0;
		return txn_end(c);
	case S_QUIT:
		return client_end_session(c, 0, NULL, NULL);
	case S_IDLE:
		/* Typically "421 idle too long": the server is closing. */
		return client_end_session(c, 0, NULL, NULL);
	case S_BODY:
		return client_trouble(c, "4.5.0", "%s replied %d during the "
		    "message body", c->relay, c->reply.code);
	case S_CONNECT: case S_TLS:
		break;
	}
	return client_trouble(c, "4.5.0", "unexpected reply %d from %s",
	    c->reply.code, c->relay);
}

void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	char *line;
	size_t len;
	int rc;

	(void)bev;
	for (;;) {
		struct evbuffer *in = bufferevent_get_input(c->bev);

		if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) ==
		    NULL) {
			if (evbuffer_get_length(in) > LINE_MAX_LEN)
				client_trouble(c, "4.5.0", "reply line too "
				    "long from %s", c->relay);
			return;
		}
		rc = proto_reply_feed(&c->reply, line, len);
		free(line);
		if (rc == -1) {
			client_trouble(c, "4.5.0", "malformed reply from %s",
			    c->relay);
			return;
		}
		if (rc == 0)
			continue;
		rc = handle_reply(c);
		if (rc == -1)
			return;
		proto_reply_init(&c->reply);
	}
}

void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (c->state == S_BODY) {
		/* the server took a block: the next one has its own time */
		client_deadline(c, c->conf->smtp_data_xfer_timeout);
		fill_body(c);
	}
}

int
client_send(struct client *c, struct queue_job *job)
{
	size_t i;
	int err = 0;

	evtimer_del(c->idle);
	c->job = job;
	free(c->rstate);
	if ((c->rstate = calloc(job->nrcpt ? job->nrcpt : 1, 1)) == NULL) {
		c->job = NULL;
		return -1;	/* queue_job_done defers them all */
	}
	if (c->ehlo.size && c->ehlo.size_max > 0 &&
	    job->size > c->ehlo.size_max) {
		char text[512];

		snprintf(text, sizeof(text), "message size %zu exceeds size "
		    "limit %llu of %s", job->size, c->ehlo.size_max, c->relay);
		for (i = 0; i < job->nrcpt; i++)
			client_report(c, i, 5, "5.3.4", text);
		goto fail;
	}
	/* Not a byte of a message that is not the one queued (a crash
	 * during its submission): the check sets it aside, and its
	 * recipients are no longer the job's to report. */
	if ((c->fd = open(job->path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (err = queue_job_check(job, c->fd)) != 0) {
		char text[256];

		if (c->fd == -1)
			err = errno;
		else {
			close(c->fd);
			c->fd = -1;
		}
		snprintf(text, sizeof(text), "cannot read message: %s",
		    strerror(err));
		for (i = 0; err != EBADMSG && i < job->nrcpt; i++)
			client_report(c, i, 4, "4.3.0", text);
		goto fail;
	}
	c->nreplies = c->naccepted = 0;
	c->mail_ok = 0;
	if (c->need_rset) {
		client_enter(c, S_RSET);
		client_deadline(c, c->conf->smtp_mail_timeout);
		send_line(c, "RSET");
	} else
		send_envelope(c);
	return 0;
fail:
	c->job = NULL;
	arm_idle(c);
	return -1;
}

void
client_quit(struct client *c)
{
	if (c->state != S_IDLE)
		return;
	evtimer_del(c->idle);
	client_enter(c, S_QUIT);
	client_deadline(c, c->conf->smtp_quit_timeout);
	send_line(c, "QUIT");
}
