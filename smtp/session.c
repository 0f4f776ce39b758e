/*
 * session.c - one inbound SMTP session: its state, replies and error
 * counting, its input (command lines here, the message in
 * session_data.c), its lifetime (API in session.h). Event thread only.
 *
 * The state lives in s->state and changes only in session_enter, which
 * logs "smtp IP: old -> new" at debug level (as smtp/client.c's enter).
 *
 * The input is hostile by assumption:
 *  - a command line must end within CMD_MAX octets, else 500 5.5.2 and
 *    the rest of it is discarded; NUL in a command is refused;
 *  - the input buffer has a high watermark and pipelined commands are
 *    answered only while the client reads our replies, so memory stays
 *    bounded whatever a client sends or fails to read;
 *  - every command line and every DATA_BLOCK of a message must come in
 *    within smtpd_timeout, a total not reset by each byte (RFC 5321
 *    §4.5.3.2): a client trickling its input gets 421 4.4.2 all the same;
 *  - too many errors get 421;
 *  - when every slot is taken, a session of the address holding the most
 *    gives its slot to a newcomer (session_reclaim).
 */
#include "smtp/session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/maildir_stream.h"
#include "queue/qlog.h"
#include "queue/stats.h"

#define DATA_BLOCK	(64 * 1024)	/* message octets per smtpd_timeout */
#define CUT_GRACE	5		/* seconds for a 421 to go out */
#define MAX_ERRORS	10		/* error replies before 421 4.7.0 */
#define JUNK_MAX	100		/* NOOP RSET VRFY HELP before they count
					 * as errors */
#define CMD_MAX		512		/* command line, with CRLF */
#define IN_HIGH		(128 * 1024)	/* input buffered per session */
#define OUT_HIGH	(64 * 1024)	/* replies a client leaves unread */
#define LINGER_MS	50		/* TLS close: wait for the last bytes */
#define LINGER_MAX	100		/* ... at most this many times */

static const char *const state_names[] = {
	"init", "helo", "mail", "rcpt", "data", "flush", "wait", "closing",
	"shutdown"
};

struct session_ctx session_ctx;

static TAILQ_HEAD(, session) sessions = TAILQ_HEAD_INITIALIZER(sessions);
static int nsessions;
static unsigned long long progress_seq;	/* orders the sessions' progress */

static void	session_settle(struct session *);

/* A new deadline: smtpd_timeout from now for the next command line or
 * DATA_BLOCK of the message. */
static void
deadline_arm(struct session *s)
{
	struct timeval tv = { session_ctx.conf->smtpd_timeout, 0 };

	s->block = 0;
	s->progress = ++progress_seq;
	evtimer_add(s->deadline, &tv);
}

void
session_progress(struct session *s, size_t octets)
{
	if (octets == 0 || (s->block += octets) >= DATA_BLOCK)
		deadline_arm(s);
}

void
session_enter(struct session *s, enum session_state state)
{
	if (s->state == state)
		return;
	log_debug("smtp %s: %s -> %s", s->ip, state_names[s->state],
	    state_names[state]);
	/* we were the slow one: the client's time starts now */
	if (s->state == S_FLUSH || s->state == S_WAIT)
		deadline_arm(s);
	s->state = state;
}

/* closing or closed down: nothing more is read */
static int
closing(const struct session *s)
{
	return s->state >= S_CLOSING;
}

/* -- replies ---------------------------------------------------------- */

/*
 * session_flush - at the end of each callback (session_settle), the
 * replies go out at once, from the output buffer straight to the socket.
 * A plain session keeps its bufferevent's EV_WRITE off, because enabling
 * it for a reply and disabling it once written costs two epoll_ctl and a
 * loop round per reply, seven replies a message; it is on only while the
 * socket takes less than we have (a client that reads slowly, which the
 * write timeout then watches) or the write failed (libevent's write
 * callback then reports the error), until session_cb_write. Under TLS
 * the bufferevent writes, as ever.
 */
static void
session_flush(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	if (s->tls || evbuffer_get_length(out) == 0 ||
	    (bufferevent_get_enabled(s->bev) & EV_WRITE))
		return;
	/* a bufferevent keeps the front of its output frozen but while it
	 * writes itself */
	evbuffer_unfreeze(out, 1);
	evbuffer_write(out, bufferevent_getfd(s->bev));
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(s->bev, EV_WRITE);
}

static void
vreply(struct session *s, const char *fmt, va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
}

void
session_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

void
session_close(struct session *s)
{
	session_enter(s, S_CLOSING);
	bufferevent_disable(s->bev, EV_READ);
}

/* A refused message, recipient or connection: the log says why. */
void
session_refuse(const char *ip, const char *reason)
{
	qlog_event(NULL, "refused", "client", ip, "reason", reason, NULL);
	stats_add(STATS_REFUSED, 1);
}

/* Too many error replies end the session (a client that only probes or
 * talks another protocol gets nowhere). */
static void
count_error(struct session *s)
{
	if (++s->errors >= MAX_ERRORS) {
		session_reply(s, "421 4.7.0 %s Error: too many errors",
		    session_ctx.conf->hostname);
		session_refuse(s->ip, "too many errors");
		session_close(s);
	}
}

void
session_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	count_error(s);
}

/*
 * session_junk - after a NOOP, RSET, VRFY or HELP: past JUNK_MAX of them
 * in a session (Postfix's smtpd_junk_command_limit) each counts as an
 * error, so NOOPs cannot hold a connection open forever.
 */
void
session_junk(struct session *s)
{
	if (++s->junk > JUNK_MAX)
		count_error(s);
}

const char *
session_tls_reason(unsigned long e)
{
	const char *r = ERR_reason_error_string(e);

	return r != NULL ? r : "unknown error";
}

/* -- the transaction ---------------------------------------------------- */

/* Forget the transaction; its file, if any, is unlinked. */
static void
transaction_clear(struct session *s)
{
	free(s->rcpt);
	s->rcpt = NULL;
	s->nrcpt = 0;
	s->from[0] = '\0';
	s->smtputf8 = 0;
	if (s->msg != NULL)
		evbuffer_free(s->msg);
	s->msg = NULL;
	if (s->stream != NULL)
		maildir_stream_drop(s->stream);
	s->stream = NULL;
}

void
session_reset(struct session *s)
{
	transaction_clear(s);
	if (s->state != S_INIT && !closing(s))
		session_enter(s, S_HELO);
}

/* -- command lines ------------------------------------------------------ */

/*
 * command_step - answer the next complete command line in the input: 1 if
 * one was consumed, 0 when more input is needed.
 */
static int
command_step(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
	char line[CMD_MAX + 1];
	size_t len;

	if (s->skipping) {
		/* the rest of an overlong line, up to its LF */
		evbuffer_drain(in, eol.pos < 0 ? evbuffer_get_length(in) :
		    (size_t)eol.pos + 1);
		if (eol.pos < 0)
			return 0;
		s->skipping = 0;
		session_progress(s, 0);
		return 1;
	}
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) < CMD_MAX)
			return 0;
		evbuffer_drain(in, evbuffer_get_length(in));
		s->skipping = 1;
		session_error(s, "500 5.5.2 Error: line too long");
		return 1;
	}
	len = (size_t)eol.pos;
	if (len + 1 > CMD_MAX) {
		evbuffer_drain(in, len + 1);
		session_error(s, "500 5.5.2 Error: line too long");
		return 1;
	}
	evbuffer_remove(in, line, len + 1);
	line[len] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	/* "EHLO name " and "DATA " from sloppy clients: Postfix takes them */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	if (memchr(line, '\0', len) != NULL) {
		session_error(s, "500 5.5.2 Error: NUL character in command");
		return 1;
	}
	session_progress(s, 0);
	session_command(s, line);
	return 1;
}

/* -- sessions ---------------------------------------------------------- */

static void
session_free(struct session *s)
{
	TAILQ_REMOVE(&sessions, s, entry);
	nsessions--;
	if (s->job != NULL)
		s->job->s = NULL;	/* its done frees it */
	session_auth_free(s);
	/* a message with a worker is stored all the same, a file cut
	 * short unlinked (maildir_stream_drop) */
	transaction_clear(s);
	if (s->linger != NULL)
		event_free(s->linger);
	event_free(s->deadline);
	bufferevent_free(s->bev);
	free(s);
}

static void
session_process(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	while (s->state != S_FLUSH && s->state != S_WAIT && !closing(s) &&
	    evbuffer_get_length(out) < OUT_HIGH) {
		int tls = s->tls;

		if (!(s->state == S_DATA ? session_data_step(s) :
		    command_step(s)))
			break;
		if (s->tls != tls)
			break;	/* a new bufferevent: its input is new too */
	}
	if (s->eof && s->state != S_FLUSH && s->state != S_WAIT &&
	    !closing(s) && evbuffer_get_length(out) < OUT_HIGH)
		session_close(s);	/* nothing more will come */
}

/* After a worker is done with the message, or new input, or replies
 * written: go on with the input. Processing stops at OUT_HIGH of unread
 * replies; when the socket takes them all at once no write callback
 * follows, so go on at once. */
void
session_resume(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	size_t held;

	do {
		session_process(s);
		held = evbuffer_get_length(out);
		session_flush(s);
	} while (held >= OUT_HIGH && evbuffer_get_length(out) == 0);
	session_settle(s);
}

static void
linger_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_settle(arg);
}

/*
 * session_settle - after every callback: free a closing session once its
 * last reply is out. Under TLS the filter's output drains into the
 * socket's bufferevent first, which reports nothing to us: poll it.
 */
static void
session_settle(struct session *s)
{
	struct bufferevent *under;
	struct timeval tv = { 0, LINGER_MS * 1000 };

	session_flush(s);
	if (!closing(s))
		return;
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return;		/* session_cb_write comes back */
	under = bufferevent_get_underlying(s->bev);
	if (s->tls && s->state == S_CLOSING) {
		/* close_notify, so the client knows it got everything */
		session_enter(s, S_SHUTDOWN);
		SSL_shutdown(bufferevent_openssl_get_ssl(s->bev));
	}
	if (under != NULL &&
	    evbuffer_get_length(bufferevent_get_output(under)) > 0 &&
	    s->lingered++ < LINGER_MAX) {
		if (s->linger == NULL)
			s->linger = evtimer_new(session_ctx.base, linger_cb, s);
		if (s->linger != NULL) {
			evtimer_add(s->linger, &tv);
			return;
		}
	}
	session_free(s);
}

static void
session_cb_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_resume(arg);
}

static void
session_cb_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	/* all written: a plain session writes by itself again */
	if (!s->tls)
		bufferevent_disable(bev, EV_WRITE);
	/* replies were held back while the client did not read them */
	session_resume(s);
}

static void
session_cb_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;		/* the TLS handshake is done */
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    !closing(s)) {
		/* the client may have shut down only its sending side, as
		 * "nc -N" does: answer all it said, then close */
		s->eof = 1;
		session_resume(s);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e;

		while ((e = bufferevent_get_openssl_error(s->bev)) != 0)
			log_debug("smtp %s: TLS: %s", s->ip,
			    session_tls_reason(e));
	}
	session_free(s);	/* EOF, error, or a write timeout */
}

/* End the session with 421 4.4.2 (its deadline, or its slot taken). A
 * client that does not read gets CUT_GRACE seconds for it, not a whole
 * smtpd_timeout, so cut sessions cannot pile up. */
static void
session_cut(struct session *s, const char *why)
{
	struct timeval grace = { CUT_GRACE, 0 };

	session_reply(s, "421 4.4.2 %s Error: %s", session_ctx.conf->hostname,
	    why);
	session_close(s);
	evtimer_add(s->deadline, &grace);
	session_settle(s);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (closing(s))
		session_free(s);	/* its last reply never went out */
	else if (s->state == S_FLUSH || s->state == S_WAIT)
		deadline_arm(s);	/* we are the slow one: keep waiting */
	else
		session_cut(s, "timeout exceeded");
}

/* The deadline is ours; the write timeout drops a client that stops
 * reading our replies. EV_WRITE only under TLS (s->tls set first): a
 * plain session writes its replies itself (session_flush). */
void
session_setup_bev(struct session *s)
{
	struct timeval wr = { session_ctx.conf->smtpd_timeout, 0 };

	bufferevent_setcb(s->bev, session_cb_read, session_cb_write,
	    session_cb_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, IN_HIGH);
	bufferevent_set_timeouts(s->bev, NULL, &wr);
	bufferevent_enable(s->bev, s->tls ? EV_READ | EV_WRITE : EV_READ);
	if (!s->tls)	/* a new bufferevent has it on */
		bufferevent_disable(s->bev, EV_WRITE);
}

/* Closing sessions do not count: they are gone within smtpd_timeout. */
void
session_count(const char *ip, int *all, int *same)
{
	struct session *s;

	*all = *same = 0;
	TAILQ_FOREACH(s, &sessions, entry)
		if (!closing(s)) {
			(*all)++;
			*same += strcmp(s->ip, ip) == 0;
		}
}

static int
by_ip(const void *a, const void *b)
{
	const struct session *x = *(struct session *const *)a;
	const struct session *y = *(struct session *const *)b;

	return strcmp(x->ip, y->ip);
}

/*
 * session_reclaim - the victim comes from the address holding the most
 * sessions (so a client with one connection outlasts a crowd from a few
 * addresses), and of those the one that made progress least recently.
 * Sessions a worker is busy with are never taken.
 */
int
session_reclaim(void)
{
	struct session **v, *s, *victim = NULL;
	size_t n = 0, i, run, best = 0;

	if ((v = calloc((size_t)nsessions + 1, sizeof(*v))) == NULL)
		return -1;
	TAILQ_FOREACH(s, &sessions, entry)
		if (!closing(s) && s->state != S_FLUSH && s->state != S_WAIT)
			v[n++] = s;
	qsort(v, n, sizeof(*v), by_ip);
	for (i = 0; i < n; i += run) {
		struct session *oldest = v[i];

		for (run = 1; i + run < n && by_ip(&v[i], &v[i + run]) == 0;
		    run++)
			if (v[i + run]->progress < oldest->progress)
				oldest = v[i + run];
		if (run > best || (run == best &&
		    oldest->progress < victim->progress)) {
			best = run;
			victim = oldest;
		}
	}
	free(v);
	if (victim == NULL)
		return -1;
	session_refuse(victim->ip, "slot reclaimed for a new client");
	session_cut(victim, "too slow, the slot is needed");
	return 0;
}

int
session_start(evutil_socket_t fd, const char *ip, enum session_mode mode,
    int tls)
{
	struct session *s = calloc(1, sizeof(*s));
	SSL *ssl = NULL;

	if (s == NULL)
		return -1;
	s->mode = mode;
	if (mode == SESSION_SUBMISSION && session_auth_new(s) == -1) {
		free(s);
		return -1;
	}
	if (tls && (ssl = SSL_new(session_ctx.ssl)) == NULL)
		s->bev = NULL;
	else if (tls)
		s->bev = bufferevent_openssl_socket_new(session_ctx.base, fd,
		    ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	else
		s->bev = bufferevent_socket_new(session_ctx.base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	s->deadline = evtimer_new(session_ctx.base, deadline_cb, s);
	if (s->bev == NULL || s->deadline == NULL) {
		if (s->bev != NULL)
			bufferevent_free(s->bev);
		else if (ssl != NULL)
			SSL_free(ssl);
		if (s->bev == NULL)
			evutil_closesocket(fd);
		if (s->deadline != NULL)
			event_free(s->deadline);
		session_auth_free(s);
		free(s);
		return 0;
	}
	if (tls)
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	s->tls = tls != 0;
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	s->state = S_INIT;
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;
	deadline_arm(s);
	session_setup_bev(s);
	session_reply(s, "220 %s %s mailfs", session_ctx.conf->hostname,
	    mode == SESSION_LMTP ? "LMTP" : "ESMTP");
	session_flush(s);
	return 0;
}

void
session_free_all(void)
{
	while (!TAILQ_EMPTY(&sessions))
		session_free(TAILQ_FIRST(&sessions));
}
