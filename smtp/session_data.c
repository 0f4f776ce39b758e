/*
 * session_data.c - the message of an inbound SMTP session, from DATA to
 * the final dot (internal API in session.h).
 *
 * The message is streamed into the Maildir's tmp/ as it arrives
 * (queue/maildir_stream.h), so a session holds at most about IN_HIGH +
 * CHUNK octets of it however big it is: the trace lines and the data
 * (in the stored form, from data_feed) collect in an evbuffer, and each
 * CHUNK of it goes to a worker; meanwhile the session is in S_FLUSH and
 * reads no further input, so its chunks stay in order and a client
 * faster than the disk is held back by TCP. At the final dot a commit
 * writes the rest, fsyncs, links into new/ and fsyncs the directories;
 * only then, out of S_WAIT, does the session answer 250. A refused
 * message, an error, a disconnect or a stop mid-DATA drop the stream,
 * which unlinks its file.
 *
 * After the final dot an SMTP session answers once; an LMTP session
 * (RFC 2033 §4.2) answers once per accepted recipient, in their order,
 * each with the same outcome: the message is stored once for all of
 * them, so one fsync stands behind every 250.
 *
 * In submission mode the message is not streamed: it collects whole (up
 * to max_size) and session_submit.c queues it at the final dot.
 *
 * Only CR LF "." CR LF ends the data; bare CR or LF, NUL, text lines
 * over 1000 octets, more than max_size octets or a mail loop make the
 * message refused after its end (smtp/data.h).
 */
#include "smtp/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "lib/conf.h"
#include "queue/maildir_stream.h"

#define CHUNK		(128 * 1024)	/* message data per write job */

static void	stream_done(void *arg, int rc);

/* 29 Nov 2026 03:04:05 +0000, independent of the locale */
static void
rfc5322_date(char *buf, size_t len)
{
	static const char *const day[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	snprintf(buf, len, "%s, %d %s %d %02d:%02d:%02d +0000",
	    day[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * Return-Path: and Received: on top of the message (RFC 5321 §4.4); a
 * message submitted gets its Return-Path: at its final delivery, and
 * "with ESMTPA"/"ESMTPSA" says its sender logged in (RFC 3848).
 */
static int
add_trace(struct session *s)
{
	char date[64], tlsinfo[160] = "", rpath[ADDR_PATH_MAX + 32] = "";
	const char *proto, *auth = session_auth_user(s) != NULL ? "A" : "";
	int v6 = strchr(s->ip, ':') != NULL;

	if (s->tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

		snprintf(tlsinfo, sizeof(tlsinfo), "\n\t(using %s with cipher %s)",
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	}
	proto = s->mode == SESSION_LMTP ? (s->smtputf8 ? "UTF8LMTP" : "LMTP") :
	    s->smtputf8 ? (s->tls ? "UTF8SMTPS" : "UTF8SMTP") :
	    !s->esmtp ? (s->tls ? "SMTPS" : "SMTP") :
	    (s->tls ? "ESMTPS" : "ESMTP");
	rfc5322_date(date, sizeof(date));
	if (s->mode != SESSION_SUBMISSION)	/* into the Maildir */
		snprintf(rpath, sizeof(rpath), "Return-Path: <%s>\n", s->from);
	return evbuffer_add_printf(s->msg,
	    "%s"
	    "Received: from %s (unknown [%s%s])%s\n"
	    "\tby %s with %s%s id %s%s%s%s;\n"
	    "\t%s\n",
	    rpath, s->helo, v6 ? "IPv6:" : "", s->ip, tlsinfo,
	    session_ctx.conf->hostname, proto, auth, s->id,
	    s->nrcpt == 1 ? "\n\tfor <" : "", s->nrcpt == 1 ? s->rcpt[0] : "",
	    s->nrcpt == 1 ? ">" : "", date);
}

static char *
envelope_text(struct session *s)
{
	struct evbuffer *b = evbuffer_new();
	char *text = NULL;
	size_t len;

	if (b == NULL)
		return NULL;
	evbuffer_add_printf(b, "from %s\n", s->from[0] ? s->from : "<>");
	for (size_t i = 0; i < s->nrcpt; i++)
		evbuffer_add_printf(b, "to %s\n", s->rcpt[i]);
	evbuffer_add_printf(b, "client %s\nhelo %s\ntls %s\n", s->ip, s->helo,
	    s->tls ? "yes" : "no");
	len = evbuffer_get_length(b);
	if ((text = malloc(len + 1)) != NULL) {
		evbuffer_remove(b, text, len);
		text[len] = '\0';
	}
	evbuffer_free(b);
	return text;
}

static char *
rcpt_list(struct session *s)
{
	size_t len = 1;
	char *p;

	for (size_t i = 0; i < s->nrcpt; i++)
		len += strlen(s->rcpt[i]) + 1;
	if ((p = malloc(len)) == NULL)
		return NULL;
	p[0] = '\0';
	for (size_t i = 0; i < s->nrcpt; i++) {
		if (i > 0)
			strcat(p, ",");
		strcat(p, s->rcpt[i]);
	}
	return p;
}

/*
 * final_reply - the answer to the final dot, "CODE X.Y.Z text": once, or
 * in LMTP once per recipient as "CODE X.Y.Z <rcpt> text". An error
 * counts once. Call it before the transaction is reset.
 */
static void
final_reply(struct session *s, int error, const char *text)
{
	const char *rest = strchr(text, ' ');

	rest = rest ? strchr(rest + 1, ' ') : NULL;
	if (s->mode != SESSION_LMTP || rest == NULL || s->nrcpt == 0) {
		if (error)
			session_error(s, "%s", text);
		else
			session_reply(s, "%s", text);
		return;
	}
	for (size_t i = 0; i < s->nrcpt; i++)
		if (error && i + 1 == s->nrcpt)
			session_error(s, "%.*s <%s>%s", (int)(rest - text),
			    text, s->rcpt[i], rest);
		else
			session_reply(s, "%.*s <%s>%s", (int)(rest - text),
			    text, s->rcpt[i], rest);
}

/* The refusals at the end of the data, by data_verdict. */
static const struct {
	const char	*text, *why;
} refusal[] = {
	[DATA_TOOBIG] = { "552 5.3.4 Error: message exceeds the size limit",
	    "message too big" },
	[DATA_BARE] = { "550 5.5.2 Error: bare <CR> or <LF> in the message",
	    "bare CR or LF in the data" },
	[DATA_NUL] = { "550 5.6.0 Error: NUL character in the message",
	    "NUL in the data" },
	[DATA_TOOLONG] = { "500 5.5.2 Error: message line longer than 1000 "
	    "octets", "text line too long" },
	[DATA_LOOP] = { "554 5.4.6 Error: too many Received: headers, mail "
	    "loop", "mail loop" },
};

void
session_data_begin(struct session *s)
{
	char tag[INET6_ADDRSTRLEN + 8];

	if ((s->msg = evbuffer_new()) == NULL) {
		session_reply(s, "451 4.3.0 Insufficient system resources");
		return;
	}
	maildir_make_id(s->id);
	snprintf(tag, sizeof(tag), "smtp %s", s->ip);
	if (add_trace(s) == -1 || (s->mode != SESSION_SUBMISSION &&
	    (s->stream = maildir_stream_new(s->id, s->ip, tag, stream_done,
	    s)) == NULL)) {
		session_reply(s, "451 4.3.0 Insufficient system resources");
		evbuffer_free(s->msg);
		s->msg = NULL;
		return;
	}
	data_init(&s->data, session_ctx.conf->max_size);
	s->werr = 0;
	session_enter(s, S_DATA);
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* The reply when the message could not be stored: 452 4.3.1 for a full
 * spool (RFC 3463), 451 4.3.0 for any other failure (in LMTP, for each
 * recipient). Before the transaction is reset. */
static void
store_failed(struct session *s, int rc)
{
	final_reply(s, 0, rc == ENOSPC || rc == EDQUOT ?
	    "452 4.3.1 Insufficient system storage" :
	    "451 4.3.0 Error: could not store the message, try again later");
}

/* A write failed or memory ran out: keep nothing more, read on to the
 * end of the data, then 451 (452 for a full spool). */
static void
data_fail(struct session *s, int rc)
{
	s->werr = rc;
	if (s->msg != NULL)
		evbuffer_free(s->msg);
	s->msg = NULL;
}

/* s->msg as pieces for the stream: *v malloc'd, n of them; -1 if out of
 * memory. */
static int
msg_pieces(struct session *s, struct iovec **v, size_t *n)
{
	int k = evbuffer_peek(s->msg, -1, NULL, NULL, 0);
	struct evbuffer_iovec *ev = calloc(k > 0 ? (size_t)k : 1,
	    sizeof(*ev));

	*v = calloc(k > 0 ? (size_t)k : 1, sizeof(**v));
	if (ev == NULL || *v == NULL) {
		free(ev);
		free(*v);
		return -1;
	}
	k = evbuffer_peek(s->msg, -1, NULL, ev, k);
	for (int i = 0; i < k; i++) {
		(*v)[i].iov_base = ev[i].iov_base;
		(*v)[i].iov_len = ev[i].iov_len;
	}
	*n = k > 0 ? (size_t)k : 0;
	free(ev);
	return 0;
}

/* The final dot: refuse what broke the rules, else store it. */
static void
data_end(struct session *s)
{
	enum data_verdict v = data_verdict(&s->data);
	struct iovec *iov = NULL;
	size_t n = 0;
	char *envelope = NULL, *to = NULL;
	int rc = ENOMEM;

	if (v != DATA_OK) {
		session_refuse(s->ip, refusal[v].why);
		final_reply(s, 1, refusal[v].text);
		session_reset(s);	/* which unlinks what was written */
		return;
	}
	if (s->werr != 0) {
		store_failed(s, s->werr);
		session_reset(s);
		return;
	}
	if (s->mode == SESSION_SUBMISSION) {
		session_submit(s);
		return;
	}
	if (msg_pieces(s, &iov, &n) == 0 &&
	    (envelope = envelope_text(s)) != NULL &&
	    (to = rcpt_list(s)) != NULL)
		rc = maildir_stream_commit(s->stream, iov, n, envelope,
		    s->from[0] ? s->from : "<>", to);
	free(iov);
	free(envelope);
	free(to);
	if (rc != 0) {
		store_failed(s, rc);
		session_reset(s);
		return;
	}
	evbuffer_free(s->msg);
	s->msg = NULL;
	session_enter(s, S_WAIT);
}

static int
chunk_full(const struct session *s)
{
	return s->msg != NULL && s->stream != NULL &&
	    evbuffer_get_length(s->msg) >= CHUNK;
}

/* The collected data to a worker, to append to tmp/ID. */
static void
chunk_write(struct session *s)
{
	struct iovec *iov;
	size_t n;

	if (msg_pieces(s, &iov, &n) == -1) {
		data_fail(s, ENOMEM);
		return;
	}
	if (maildir_stream_write(s->stream, iov, n) != 0) {
		free(iov);
		data_fail(s, ENOMEM);
		return;
	}
	free(iov);
	evbuffer_drain(s->msg, evbuffer_get_length(s->msg));
	session_enter(s, S_FLUSH);
}

/* Run len octets of input through data_feed into s->msg: how many were
 * consumed (up to the final dot). */
static size_t
feed(struct session *s, const char *p, size_t len)
{
	char out[8192];
	size_t used = 0, n;

	while (used < len && s->data.pos != DATA_END) {
		used += data_feed(&s->data, p + used, len - used, out,
		    sizeof(out), &n);
		if (n > 0 && s->msg != NULL)
			evbuffer_add(s->msg, out, n);
		if (s->data.count.toobig && s->msg != NULL) {
			/* keep nothing more, but read on to the end */
			evbuffer_free(s->msg);
			s->msg = NULL;
		}
	}
	return used;
}

/*
 * session_data_step - feed input to data_feed until a CHUNK is
 * collected, which goes to a worker: 1 if input was consumed or the data
 * ended (call again), 0 to wait for more input or for the chunk's job.
 * Meanwhile the input fills up to IN_HIGH and the bufferevent stops
 * reading.
 */
int
session_data_step(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v[16];
	int nv;
	size_t used = 0;

	nv = evbuffer_peek(in, -1, NULL, v, 16);
	if (nv > 16)
		nv = 16;
	for (int i = 0; i < nv && s->data.pos != DATA_END && !chunk_full(s);
	    i++)
		used += feed(s, v[i].iov_base, v[i].iov_len);
	evbuffer_drain(in, used);
	if (used > 0)
		session_progress(s, used);
	if (s->data.pos == DATA_END) {
		data_end(s);
		return 1;
	}
	if (chunk_full(s)) {
		chunk_write(s);
		return s->state == S_DATA;
	}
	return used > 0;
}

/* A worker is done with the stream: a chunk written, or the message
 * stored (the stream then gone). */
static void
stream_done(void *arg, int rc)
{
	struct session *s = arg;

	if (s->state == S_FLUSH) {
		if (rc != 0)
			data_fail(s, rc);
		session_enter(s, S_DATA);
	} else {
		char ok[64 + MAILDIR_ID_MAX];

		s->stream = NULL;
		snprintf(ok, sizeof(ok), "250 2.0.0 Ok: %s as %s",
		    s->mode == SESSION_LMTP ? "delivered" : "queued", s->id);
		if (rc == 0) {
			final_reply(s, 0, ok);
			s->junk = 0;	/* a client at work */
		} else {
			store_failed(s, rc);
		}
		session_reset(s);
	}
	session_resume(s);
}
