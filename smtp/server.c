/*
 * server.c - the inbound SMTP listener (RFC 5321 with PIPELINING, SIZE,
 * 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS). API in server.h.
 *
 * Everything here runs on the event thread except the file work, done by
 * workers (struct job) that hand each job back through an event
 * activated from the worker (evthread locking). A message is streamed
 * into the Maildir's tmp/ as it arrives, so a session holds at most about
 * IN_HIGH + CHUNK octets of it however big it is (as Postfix's smtpd,
 * which writes to its queue file as it reads): the trace lines and the
 * data collect in an evbuffer, and each CHUNK of it goes to a worker
 * (J_WRITE, which also creates tmp/ID the first time). While that job is
 * out the session reads no further input, so its chunks stay in order and
 * a client faster than the disk is held back by TCP. At the final dot a
 * J_COMMIT job writes the rest, fsyncs, links into new/ and fsyncs the
 * directories (group commit with the other workers, maildir_tmp_commit);
 * only then does the session answer 250. A refused message, an error, a
 * disconnect or a stop mid-DATA give the file to a J_ABORT job, which
 * unlinks it. A session that went away while its job was out leaves
 * job->s NULL: a commit is stored all the same, a chunk's file aborted.
 *
 * Why workers even for write(): it costs microseconds while the page
 * cache takes the data, but once dirty pages pass the kernel's limit
 * (balance_dirty_pages) a writer sleeps until the disk catches up, and
 * that is just when many big messages arrive at once; on the event loop
 * it would stall every session, on a worker only its own.
 *
 * The input is hostile by assumption:
 *  - a command line must end within CMD_MAX octets, else 500 5.5.2 and
 *    the rest of it is discarded; NUL in a command is refused;
 *  - DATA is read as a byte stream by a small state machine (data_feed):
 *    only CR LF "." CR LF ends it. Bare CR or LF do not; they make the
 *    message refused after its end (550 5.5.2), so nothing can be smuggled
 *    (CVE-2023-51764 family). Text lines over TEXT_MAX, more than
 *    MAX_HOPS Received: lines or more than max_size octets are counted as
 *    they stream by; what was written of a refused message is unlinked;
 *  - the input buffer has a high watermark and pipelined commands are
 *    answered only while the client reads our replies, so memory stays
 *    bounded whatever a client sends or fails to read;
 *  - input pipelined after STARTTLS is thrown away (CVE-2011-0411);
 *  - idle clients, too many errors, too many connections in all or from
 *    one address get 421.
 *
 * Diagnostics: log_warn/log_warnx for the daemon's own trouble (binding,
 * TLS setup, storage errors); the mail log gets "received" and "refused"
 * events through qlog_event, counted in stats.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/maildir.h"
#include "queue/qlog.h"
#include "queue/stats.h"
#include "smtp/addr.h"
#include "smtp/server.h"

#define IDLE_TIMEOUT	300		/* seconds without input: 421 4.4.2 */
#define MAX_SESSIONS	100		/* in all */
#define MAX_PER_IP	20		/* from one client address */
#define MAX_ERRORS	10		/* error replies before 421 4.7.0 */
#define JUNK_MAX	100		/* NOOP RSET VRFY HELP before they count
					 * as errors */
#define MAX_RCPTS	100		/* RFC 5321 §4.5.3.1.8 minimum */
#define MAX_HOPS	30		/* Received: lines: a mail loop */
#define CMD_MAX		512		/* command line, with CRLF */
#define TEXT_MAX	1000		/* text line, with CRLF */
#define IN_HIGH		(128 * 1024)	/* input buffered per session */
#define CHUNK		(128 * 1024)	/* message data per write job */
#define OUT_HIGH	(64 * 1024)	/* replies a client leaves unread */
#define WORKERS		32		/* concurrent deliveries */
#define LINGER_MS	50		/* TLS close: wait for the last bytes */
#define LINGER_MAX	100		/* ... at most this many times */

enum state {
	S_INIT,		/* no HELO/EHLO yet */
	S_HELO,		/* ready for MAIL */
	S_MAIL,		/* MAIL given */
	S_RCPT,		/* at least one RCPT accepted */
	S_DATA,		/* reading the message */
	S_WAIT,		/* a worker is storing it */
	S_CLOSING	/* last reply on its way, then free */
};
#define ST(x)	(1u << (x))

/* data_feed's position relative to CR LF "." CR LF */
enum dstate { D_BOL, D_LINE, D_CR, D_DOT, D_DOTCR };

struct job;

struct session {
	TAILQ_ENTRY(session) entry;
	struct bufferevent *bev;
	struct event	*linger;
	int		lingered;
	enum state	state;
	char		ip[INET6_ADDRSTRLEN];
	char		helo[256];
	unsigned	esmtp:1, tls:1, skipping:1, shut:1, eof:1;
	int		errors, junk;
	struct job	*job;		/* in a worker's hands */

	/* the transaction */
	char		from[ADDR_PATH_MAX + 1];	/* "" for <> */
	char		(*rcpt)[ADDR_PATH_MAX + 1];
	size_t		nrcpt;
	unsigned	smtputf8:1;

	/* the message */
	struct evbuffer	*msg;		/* not yet written; NULL: discarding */
	struct maildir_tmp *tmp;	/* tmp/ID, NULL while a job has it */
	size_t		stored;		/* octets handed to write jobs */
	int		werr;		/* a write job's errno */
	char		id[MAILDIR_ID_MAX];
	enum dstate	ds;
	size_t		size, linelen, hdrlen;
	char		hdr[9];		/* the start of the header line */
	int		hops;
	unsigned	in_header:1, bare:1, nul:1, toolong:1, toobig:1;
};

struct job {
	struct job	*next;
	enum { J_WRITE, J_COMMIT, J_ABORT } kind;
	struct session	*s;		/* NULL once the session is gone */
	struct evbuffer	*msg;		/* to append to the file */
	struct maildir_tmp *tmp;	/* the file, once created */
	size_t		size;		/* J_COMMIT: the whole message */
	char		*envelope, *from, *to;
	char		id[MAILDIR_ID_MAX];
	char		ip[INET6_ADDRSTRLEN];
	int		rc;
};

static struct {
	const struct conf *conf;
	struct event_base *base;
	SSL_CTX		*ssl;
	struct evconnlistener **lis;
	size_t		nlis;
	struct event	*resume;	/* re-enable accepting after EMFILE */
	TAILQ_HEAD(, session) sessions;
	int		nsessions;

	pthread_mutex_t	mu;		/* guards the two job lists */
	pthread_cond_t	cv;
	struct job	*todo, **todo_tail, *done;
	int		stopping;
	pthread_t	worker[WORKERS];
	int		nworkers;
	struct event	*done_ev;
} srv = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static void	session_process(struct session *);
static void	session_settle(struct session *);
static void	tmp_discard(struct maildir_tmp *);

/* -- replies ---------------------------------------------------------- */

static void
vreply(struct session *s, const char *fmt, va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
}

static void
reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

static void
session_close(struct session *s)
{
	s->state = S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
}

/* A refused message, recipient or connection: the log says why. */
static void
refuse(const char *ip, const char *reason)
{
	qlog_event(NULL, "refused", "client", ip, "reason", reason, NULL);
	stats_add(STATS_REFUSED, 1);
}

/* An error reply; too many of them end the session (a client that only
 * probes or talks another protocol gets nowhere). */
static void
error(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void	count_error(struct session *);

static void
error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	count_error(s);
}

/*
 * junk - after a NOOP, RSET, VRFY or HELP: past JUNK_MAX of them in a
 * session (Postfix's smtpd_junk_command_limit) each counts as an error,
 * so NOOPs cannot hold a connection open forever.
 */
static void
junk(struct session *s)
{
	if (++s->junk > JUNK_MAX)
		count_error(s);
}

static void
count_error(struct session *s)
{
	if (++s->errors >= MAX_ERRORS) {
		reply(s, "421 4.7.0 %s Error: too many errors",
		    srv.conf->hostname);
		refuse(s->ip, "too many errors");
		session_close(s);
	}
}

static const char *
tls_error(unsigned long e)
{
	const char *r = ERR_reason_error_string(e);

	return r != NULL ? r : "unknown error";
}

/* -- the transaction ---------------------------------------------------- */

static void
transaction_reset(struct session *s)
{
	free(s->rcpt);
	s->rcpt = NULL;
	s->nrcpt = 0;
	s->from[0] = '\0';
	s->smtputf8 = 0;
	if (s->msg != NULL)
		evbuffer_free(s->msg);
	s->msg = NULL;
	if (s->tmp != NULL)
		tmp_discard(s->tmp);
	s->tmp = NULL;
	if (s->state != S_INIT && s->state != S_CLOSING)
		s->state = S_HELO;
}

static int
has_8bit(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

/* -- commands ---------------------------------------------------------- */

static int
valid_helo(const char *arg)
{
	size_t n = strlen(arg);

	if (n == 0 || n > 255)
		return 0;
	for (; *arg; arg++)
		if (*arg < 0x21 || *arg > 0x7e)
			return 0;
	return 1;
}

static void
cmd_ehlo(struct session *s, const char *arg, int esmtp)
{
	if (!valid_helo(arg)) {
		error(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	snprintf(s->helo, sizeof(s->helo), "%s", arg);
	s->esmtp = esmtp;
	s->state = S_HELO;
	transaction_reset(s);
	if (!esmtp) {
		reply(s, "250 %s", srv.conf->hostname);
		return;
	}
	reply(s, "250-%s", srv.conf->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %zu", srv.conf->max_size);
	reply(s, "250-8BITMIME");
	reply(s, "250-SMTPUTF8");
	if (srv.ssl != NULL && !s->tls)
		reply(s, "250-STARTTLS");
	reply(s, "250 ENHANCEDSTATUSCODES");
}

static void
do_ehlo(struct session *s, const char *arg)
{
	cmd_ehlo(s, arg, 1);
}

static void
do_helo(struct session *s, const char *arg)
{
	cmd_ehlo(s, arg, 0);
}

/* "FROM:" / "TO:" then the path: the path's parse status, p filled */
static enum addr_status
parse_arg(const char *arg, const char *kw, struct addr_path *p,
    const char **rest)
{
	size_t n = strlen(kw);

	if (strncasecmp(arg, kw, n) != 0)
		return ADDR_SYNTAX;
	return addr_parse_path(arg + n, p, rest);
}

/* The next ESMTP parameter of rest: KEY[=VALUE], into key/val. */
static int
next_param(const char **rest, char *key, size_t klen, char *val, size_t vlen)
{
	const char *p = *rest, *k, *eq;
	size_t n;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	k = p;
	while (*p && *p != ' ')
		p++;
	eq = memchr(k, '=', (size_t)(p - k));
	n = (size_t)((eq ? eq : p) - k);
	snprintf(key, klen, "%.*s", (int)(n < klen ? n : klen - 1), k);
	if (eq)
		snprintf(val, vlen, "%.*s", (int)(p - eq - 1), eq + 1);
	else
		val[0] = '\0';
	*rest = p;
	return 1;
}

static void
do_mail(struct session *s, const char *arg)
{
	struct addr_path p;
	const char *rest;
	char key[32], val[64];
	int utf8 = 0;

	switch (parse_arg(arg, "FROM:", &p, &rest)) {
	case ADDR_OK:
		break;
	case ADDR_TOOLONG:
		error(s, "501 5.5.4 Sender address too long");
		return;
	default:
		error(s, "501 5.1.7 Syntax: MAIL FROM:<address>");
		return;
	}
	if ((p.flags & ADDR_NODOMAIN) && strcasecmp(p.local, "postmaster")) {
		/* <"a@b">, <b!a>: only a recipient is parsed so, to be refused */
		error(s, "501 5.1.7 Syntax: MAIL FROM:<address>");
		return;
	}
	if (*rest != '\0' && *rest != ' ') {
		error(s, "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]");
		return;
	}
	while (next_param(&rest, key, sizeof(key), val, sizeof(val))) {
		if (!s->esmtp) {
			error(s, "555 5.5.4 MAIL parameters need EHLO");
			return;
		}
		if (strcasecmp(key, "SIZE") == 0) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(val, &end, 10);
			if (val[0] < '0' || val[0] > '9' || *end != '\0') {
				error(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (errno == ERANGE || n > srv.conf->max_size) {
				error(s, "552 5.3.4 Message size exceeds fixed "
				    "limit of %zu octets", srv.conf->max_size);
				refuse(s->ip, "message too big (SIZE)");
				return;
			}
		} else if (strcasecmp(key, "BODY") == 0) {
			if (strcasecmp(val, "7BIT") != 0 &&
			    strcasecmp(val, "8BITMIME") != 0) {
				error(s, "501 5.5.4 Bad BODY parameter");
				return;
			}
		} else if (strcasecmp(key, "SMTPUTF8") == 0 && val[0] == '\0') {
			utf8 = 1;
		} else {
			error(s, "555 5.5.4 Unsupported parameter %s", key);
			return;
		}
	}
	if (!utf8 && has_8bit(p.mailbox)) {
		error(s, "553 5.6.7 UTF-8 address needs SMTPUTF8");
		return;
	}
	memcpy(s->from, p.mailbox, sizeof(s->from));
	s->smtputf8 = utf8;
	s->state = S_MAIL;
	reply(s, "250 2.1.0 Ok");
}

static void
do_rcpt(struct session *s, const char *arg)
{
	struct addr_path p;
	const char *rest;
	char reason[ADDR_PATH_MAX + 64];

	switch (parse_arg(arg, "TO:", &p, &rest)) {
	case ADDR_OK:
		break;
	case ADDR_TOOLONG:
		error(s, "501 5.5.4 Recipient address too long");
		return;
	default:
		error(s, "501 5.1.3 Syntax: RCPT TO:<address>");
		return;
	}
	if (p.flags & ADDR_NULL) {
		/* a syntax error, not an attempt to relay */
		error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	while (*rest == ' ')
		rest++;
	if (*rest != '\0') {
		error(s, "555 5.5.4 Unsupported RCPT parameter");
		return;
	}
	if (!addr_is_local(srv.conf, &p)) {
		error(s, "550 5.7.1 <%s>: Relay access denied", p.mailbox);
		snprintf(reason, sizeof(reason), "relay access denied to <%s>",
		    p.mailbox);
		refuse(s->ip, reason);
		return;
	}
	if (!s->smtputf8 && has_8bit(p.mailbox)) {
		error(s, "553 5.6.7 UTF-8 address needs SMTPUTF8");
		return;
	}
	if (p.flags & ADDR_NODOMAIN)
		snprintf(p.mailbox, sizeof(p.mailbox), "postmaster@%s",
		    srv.conf->ndomains ? srv.conf->domains[0] :
		    srv.conf->hostname);
	for (size_t i = 0; i < s->nrcpt; i++)
		if (strcmp(s->rcpt[i], p.mailbox) == 0) {
			reply(s, "250 2.1.5 Ok");
			return;
		}
	if (s->nrcpt >= MAX_RCPTS) {
		/* not an error: RFC 5321 clients send the rest later */
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	void *r = realloc(s->rcpt, (s->nrcpt + 1) * sizeof(*s->rcpt));
	if (r == NULL) {
		reply(s, "452 4.3.1 Insufficient system resources");
		return;
	}
	s->rcpt = r;
	memcpy(s->rcpt[s->nrcpt++], p.mailbox, sizeof(*s->rcpt));
	s->state = S_RCPT;
	reply(s, "250 2.1.5 Ok");
}

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

/* Return-Path: and Received: on top of the message (RFC 5321 §4.4). */
static int
add_trace(struct session *s)
{
	char date[64], tlsinfo[160] = "";
	const char *proto;
	int v6 = strchr(s->ip, ':') != NULL;

	if (s->tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

		snprintf(tlsinfo, sizeof(tlsinfo), "\n\t(using %s with cipher %s)",
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	}
	proto = s->smtputf8 ? (s->tls ? "UTF8SMTPS" : "UTF8SMTP") :
	    !s->esmtp ? (s->tls ? "SMTPS" : "SMTP") :
	    (s->tls ? "ESMTPS" : "ESMTP");
	rfc5322_date(date, sizeof(date));
	return evbuffer_add_printf(s->msg,
	    "Return-Path: <%s>\n"
	    "Received: from %s (unknown [%s%s])%s\n"
	    "\tby %s with %s id %s%s%s%s;\n"
	    "\t%s\n",
	    s->from, s->helo, v6 ? "IPv6:" : "", s->ip, tlsinfo,
	    srv.conf->hostname, proto, s->id,
	    s->nrcpt == 1 ? "\n\tfor <" : "", s->nrcpt == 1 ? s->rcpt[0] : "",
	    s->nrcpt == 1 ? ">" : "", date);
}

static void
do_data(struct session *s, const char *arg)
{
	(void)arg;
	if ((s->msg = evbuffer_new()) == NULL) {
		reply(s, "451 4.3.0 Insufficient system resources");
		return;
	}
	maildir_make_id(s->id);
	if (add_trace(s) == -1) {
		reply(s, "451 4.3.0 Insufficient system resources");
		evbuffer_free(s->msg);
		s->msg = NULL;
		return;
	}
	s->ds = D_BOL;
	s->size = s->linelen = s->hdrlen = s->stored = 0;
	s->werr = 0;
	s->hops = 0;
	s->in_header = 1;
	s->bare = s->nul = s->toolong = s->toobig = 0;
	s->state = S_DATA;
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
do_rset(struct session *s, const char *arg)
{
	(void)arg;
	transaction_reset(s);
	reply(s, "250 2.0.0 Ok");
	junk(s);
}

static void
do_noop(struct session *s, const char *arg)
{
	(void)arg;
	reply(s, "250 2.0.0 Ok");
	junk(s);
}

static void
do_quit(struct session *s, const char *arg)
{
	(void)arg;
	reply(s, "221 2.0.0 Bye");
	session_close(s);
}

static void
do_vrfy(struct session *s, const char *arg)
{
	(void)arg;
	reply(s, "252 2.5.0 Cannot VRFY user, but will accept the message");
	junk(s);
}

static void
do_expn(struct session *s, const char *arg)
{
	(void)arg;
	error(s, "502 5.5.1 EXPN not available");
}

static void
do_help(struct session *s, const char *arg)
{
	(void)arg;
	reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP "
	    "QUIT VRFY HELP%s", srv.ssl && !s->tls ? " STARTTLS" : "");
	junk(s);
}

static void	session_cb_read(struct bufferevent *, void *);
static void	session_cb_write(struct bufferevent *, void *);
static void	session_cb_event(struct bufferevent *, short, void *);

static void
session_setup_bev(struct session *s)
{
	struct timeval idle = { IDLE_TIMEOUT, 0 };

	bufferevent_setcb(s->bev, session_cb_read, session_cb_write,
	    session_cb_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, IN_HIGH);
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
do_starttls(struct session *s, const char *arg)
{
	struct bufferevent *tls;
	SSL *ssl;

	(void)arg;
	if (s->tls) {
		error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (srv.ssl == NULL) {
		error(s, "502 5.5.1 STARTTLS not available");
		return;
	}
	if ((ssl = SSL_new(srv.ssl)) == NULL) {
		reply(s, "454 4.7.0 TLS not available due to local problem");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	/* what the client sent after STARTTLS was sent in the clear: it
	 * must not count as said under TLS (CVE-2011-0411) */
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
	tls = bufferevent_openssl_filter_new(srv.base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		session_close(s);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	s->bev = tls;
	session_setup_bev(s);
	/* RFC 3207 §4.2: forget everything said before */
	s->tls = 1;
	s->esmtp = 0;
	s->helo[0] = '\0';
	transaction_reset(s);
	s->state = S_INIT;
}

#define ARG_NONE	0	/* no argument allowed */
#define ARG_ANY		1
#define ARG_NEED	2

static const struct command {
	const char	*name;
	unsigned	states;		/* where it may come */
	const char	*seqerr;	/* 503 text elsewhere */
	int		arg;
	void		(*fn)(struct session *, const char *);
} commands[] = {
	{ "EHLO", ST(S_INIT) | ST(S_HELO) | ST(S_MAIL) | ST(S_RCPT), NULL,
	    ARG_ANY, do_ehlo },
	{ "HELO", ST(S_INIT) | ST(S_HELO) | ST(S_MAIL) | ST(S_RCPT), NULL,
	    ARG_ANY, do_helo },
	{ "MAIL", ST(S_HELO), "nested MAIL command", ARG_NEED, do_mail },
	{ "RCPT", ST(S_MAIL) | ST(S_RCPT), "need MAIL before RCPT", ARG_NEED,
	    do_rcpt },
	{ "DATA", ST(S_RCPT), NULL, ARG_NONE, do_data },
	{ "RSET", ~0u, NULL, ARG_NONE, do_rset },
	{ "NOOP", ~0u, NULL, ARG_ANY, do_noop },
	{ "QUIT", ~0u, NULL, ARG_NONE, do_quit },
	{ "VRFY", ~0u, NULL, ARG_NEED, do_vrfy },
	{ "EXPN", ~0u, NULL, ARG_ANY, do_expn },
	{ "HELP", ~0u, NULL, ARG_ANY, do_help },
	{ "STARTTLS", ST(S_INIT) | ST(S_HELO), "STARTTLS inside a transaction",
	    ARG_NONE, do_starttls },
};

static void
sequence_error(struct session *s, const struct command *c)
{
	const char *why = c->seqerr;

	if (s->state == S_INIT && c->fn != do_starttls)
		why = "send HELO/EHLO first";
	else if (why == NULL)	/* DATA */
		why = s->state == S_MAIL ? "need RCPT before DATA" :
		    "need MAIL before DATA";
	error(s, "503 5.5.1 Error: %s", why);
}

static void
command(struct session *s, char *line)
{
	char *arg = strchr(line, ' ');
	const struct command *c = NULL;
	size_t n = arg ? (size_t)(arg - line) : strlen(line);

	if (arg != NULL)
		while (*arg == ' ')
			arg++;
	else
		arg = line + n;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strlen(commands[i].name) == n &&
		    strncasecmp(commands[i].name, line, n) == 0)
			c = &commands[i];
	if (c == NULL) {
		error(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if (!(c->states & ST(s->state))) {
		sequence_error(s, c);
		return;
	}
	if (c->arg == ARG_NONE && *arg != '\0') {
		error(s, "501 5.5.4 Syntax: %s", c->name);
		return;
	}
	if (c->arg == ARG_NEED && *arg == '\0') {
		error(s, "501 5.5.4 Syntax: %s needs an argument", c->name);
		return;
	}
	c->fn(s, arg);
}

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
		return 1;
	}
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) < CMD_MAX)
			return 0;
		evbuffer_drain(in, evbuffer_get_length(in));
		s->skipping = 1;
		error(s, "500 5.5.2 Error: line too long");
		return 1;
	}
	len = (size_t)eol.pos;
	if (len + 1 > CMD_MAX) {
		evbuffer_drain(in, len + 1);
		error(s, "500 5.5.2 Error: line too long");
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
		error(s, "500 5.5.2 Error: NUL character in command");
		return 1;
	}
	command(s, line);
	return 1;
}

/* -- the message ------------------------------------------------------- */

static void
job_submit(struct job *j)
{
	pthread_mutex_lock(&srv.mu);
	j->next = NULL;
	*srv.todo_tail = j;
	srv.todo_tail = &j->next;
	pthread_cond_signal(&srv.cv);
	pthread_mutex_unlock(&srv.mu);
}

/* The message so far and its file go with j to a worker; the session
 * waits for it back. */
static void
job_hand(struct session *s, struct job *j)
{
	j->s = s;
	j->msg = s->msg;
	j->tmp = s->tmp;
	s->msg = NULL;
	s->tmp = NULL;
	memcpy(j->id, s->id, sizeof(j->id));
	memcpy(j->ip, s->ip, sizeof(j->ip));
	s->job = j;
	job_submit(j);
}

/* Unlink a file no session waits for (on a worker: the unlink of a big
 * file frees its blocks, which may take a while). */
static void
tmp_discard(struct maildir_tmp *t)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		maildir_tmp_abort(t);
		return;
	}
	j->kind = J_ABORT;
	j->tmp = t;
	job_submit(j);
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

/* A job's file is aborted here only at server_stop, the workers gone;
 * elsewhere a J_ABORT job does it. */
static void
job_free(struct job *j)
{
	if (j->msg != NULL)
		evbuffer_free(j->msg);
	if (j->tmp != NULL)
		maildir_tmp_abort(j->tmp);
	free(j->envelope);
	free(j->from);
	free(j->to);
	free(j);
}

/* The final dot: refuse what broke the rules, else store it. */
static void
data_end(struct session *s)
{
	const char *text = NULL, *why = NULL;
	struct job *j;

	if (s->toobig) {
		text = "552 5.3.4 Error: message exceeds the size limit";
		why = "message too big";
	} else if (s->bare) {
		text = "550 5.5.2 Error: bare <CR> or <LF> in the message";
		why = "bare CR or LF in the data";
	} else if (s->nul) {
		text = "550 5.6.0 Error: NUL character in the message";
		why = "NUL in the data";
	} else if (s->toolong) {
		text = "500 5.5.2 Error: message line longer than 1000 octets";
		why = "text line too long";
	} else if (s->hops > MAX_HOPS) {
		text = "554 5.4.6 Error: too many Received: headers, mail loop";
		why = "mail loop";
	}
	if (text != NULL) {
		refuse(s->ip, why);
		transaction_reset(s);	/* which unlinks what was written */
		error(s, "%s", text);
		return;
	}
	if (s->werr != 0) {
		transaction_reset(s);
		reply(s, "451 4.3.0 Error: could not store the message, try "
		    "again later");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->envelope = envelope_text(s)) == NULL ||
	    (j->from = strdup(s->from[0] ? s->from : "<>")) == NULL ||
	    (j->to = rcpt_list(s)) == NULL) {
		if (j != NULL)
			job_free(j);
		transaction_reset(s);
		reply(s, "451 4.3.0 Insufficient system resources");
		return;
	}
	j->kind = J_COMMIT;
	j->size = s->stored + evbuffer_get_length(s->msg);
	job_hand(s, j);
	s->state = S_WAIT;
}

/* A write failed or memory ran out: keep nothing more, read on to the
 * end of the data, then 451. */
static void
data_fail(struct session *s, int rc)
{
	s->werr = rc;
	if (s->msg != NULL)
		evbuffer_free(s->msg);
	s->msg = NULL;
}

static int
chunk_full(const struct session *s)
{
	return s->msg != NULL && evbuffer_get_length(s->msg) >= CHUNK;
}

/* The collected data to a worker, to append to tmp/ID. */
static void
chunk_write(struct session *s)
{
	struct job *j = calloc(1, sizeof(*j));
	struct evbuffer *next = evbuffer_new();

	if (j == NULL || next == NULL) {
		free(j);
		if (next != NULL)
			evbuffer_free(next);
		data_fail(s, ENOMEM);
		return;
	}
	j->kind = J_WRITE;
	s->stored += evbuffer_get_length(s->msg);
	job_hand(s, j);
	s->msg = next;
}

/* One octet of message content (dot-unstuffed, CR LF already turned into
 * LF), counted against the limits as it goes by. */
static inline void
data_octet(struct session *s, char c, char *out, size_t *n)
{
	if (++s->size > srv.conf->max_size) {
		if (!s->toobig) {
			/* keep nothing more, but read on to the end */
			s->toobig = 1;
			evbuffer_free(s->msg);
			s->msg = NULL;
		}
		return;
	}
	if (c == '\n') {
		if (s->in_header) {
			if (s->linelen == 0)
				s->in_header = 0;
			else if (s->hdrlen == sizeof(s->hdr) &&
			    strncasecmp(s->hdr, "Received:", 9) == 0)
				s->hops++;
		}
		s->linelen = s->hdrlen = 0;
	} else {
		if (c == '\0')
			s->nul = 1;
		if (++s->linelen > TEXT_MAX - 2)
			s->toolong = 1;
		if (s->in_header && s->hdrlen < sizeof(s->hdr))
			s->hdr[s->hdrlen++] = c;
	}
	out[(*n)++] = c;
}

/*
 * data_feed - run len octets of DATA through the end-of-data state
 * machine; returns how many were consumed, and sets *end when they
 * included the final CR LF "." CR LF.
 */
static size_t
data_feed(struct session *s, const char *p, size_t len, int *end)
{
	char out[8192 + 2];
	size_t n = 0, i;

	for (i = 0; i < len && !*end; i++) {
		char c = p[i];

		if (n >= sizeof(out) - 2) {
			if (s->msg != NULL)
				evbuffer_add(s->msg, out, n);
			n = 0;
		}
		switch (s->ds) {
		case D_BOL:
			if (c == '.') {
				s->ds = D_DOT;
				continue;
			}
			break;
		case D_LINE:
			break;
		case D_CR:
			if (c == '\n') {
				data_octet(s, '\n', out, &n);
				s->ds = D_BOL;
				continue;
			}
			s->bare = 1;
			data_octet(s, '\r', out, &n);
			break;
		case D_DOT:
			if (c == '\r') {
				s->ds = D_DOTCR;
				continue;
			}
			break;	/* a stuffed dot: dropped */
		case D_DOTCR:
			if (c == '\n') {
				*end = 1;
				continue;
			}
			s->bare = 1;
			data_octet(s, '\r', out, &n);
			break;
		}
		/* c is an octet within a line */
		if (c == '\r') {
			s->ds = D_CR;
			continue;
		}
		if (c == '\n')
			s->bare = 1;	/* and never the end of a line */
		s->ds = D_LINE;
		data_octet(s, c, out, &n);
	}
	if (n > 0 && s->msg != NULL)
		evbuffer_add(s->msg, out, n);
	return i;
}

/*
 * data_step - feed input to data_feed until a CHUNK is collected, which
 * goes to a worker: 1 if input was consumed or the data ended (call
 * again), 0 to wait for more input or for the chunk's job. Meanwhile
 * the input fills up to IN_HIGH and the bufferevent stops reading.
 */
static int
data_step(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v[16];
	int nv, end = 0;
	size_t used = 0;

	if (s->job != NULL)
		return 0;
	nv = evbuffer_peek(in, -1, NULL, v, 16);
	if (nv > 16)
		nv = 16;
	for (int i = 0; i < nv && !end && !chunk_full(s); i++)
		used += data_feed(s, v[i].iov_base, v[i].iov_len, &end);
	evbuffer_drain(in, used);
	if (end) {
		data_end(s);
		return 1;
	}
	if (chunk_full(s)) {
		chunk_write(s);
		return s->job == NULL;
	}
	return used > 0;
}

/* -- sessions ---------------------------------------------------------- */

static void
session_free(struct session *s)
{
	TAILQ_REMOVE(&srv.sessions, s, entry);
	srv.nsessions--;
	if (s->job != NULL)
		s->job->s = NULL;	/* no one to answer: a message is
					 * stored all the same, a chunk's file
					 * unlinked (job_done_cb) */
	transaction_reset(s);
	if (s->linger != NULL)
		event_free(s->linger);
	bufferevent_free(s->bev);
	free(s);
}

static void
session_process(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	while (s->state != S_WAIT && s->state != S_CLOSING &&
	    evbuffer_get_length(out) < OUT_HIGH) {
		int tls = s->tls;

		if (!(s->state == S_DATA ? data_step(s) : command_step(s)))
			break;
		if (s->tls != tls)
			break;	/* a new bufferevent: its input is new too */
	}
	if (s->eof && s->job == NULL && s->state != S_CLOSING &&
	    evbuffer_get_length(out) < OUT_HIGH)
		session_close(s);	/* nothing more will come */
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

	if (s->state != S_CLOSING)
		return;
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return;		/* session_cb_write comes back */
	under = bufferevent_get_underlying(s->bev);
	if (under != NULL && !s->shut) {
		/* close_notify, so the client knows it got everything */
		s->shut = 1;
		SSL_shutdown(bufferevent_openssl_get_ssl(s->bev));
	}
	if (under != NULL &&
	    evbuffer_get_length(bufferevent_get_output(under)) > 0 &&
	    s->lingered++ < LINGER_MAX) {
		if (s->linger == NULL)
			s->linger = evtimer_new(srv.base, linger_cb, s);
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
	session_process(arg);
	session_settle(arg);
}

static void
session_cb_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	/* replies were held back while the client did not read them */
	session_process(s);
	session_settle(s);
}

static void
session_cb_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;		/* the TLS handshake is done */
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    s->state != S_CLOSING) {
		if (s->job != NULL) {
			/* we are the slow one: keep waiting */
			bufferevent_enable(s->bev, EV_READ);
			return;
		}
		reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    srv.conf->hostname);
		session_close(s);
		session_settle(s);
		return;
	}
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    s->state != S_CLOSING) {
		/* the client may have shut down only its sending side, as
		 * "nc -N" does: answer all it said, then close */
		s->eof = 1;
		session_process(s);
		session_settle(s);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e;

		while ((e = bufferevent_get_openssl_error(s->bev)) != 0)
			log_debug("smtp %s: TLS: %s", s->ip, tls_error(e));
	}
	session_free(s);	/* EOF, error, or a write timeout */
}

static void
job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *list, *next;

	(void)fd;
	(void)what;
	(void)arg;
	pthread_mutex_lock(&srv.mu);
	list = srv.done;
	srv.done = NULL;
	pthread_mutex_unlock(&srv.mu);
	for (struct job *j = list; j != NULL; j = next) {
		struct session *s = j->s;

		next = j->next;
		if (s == NULL && j->tmp != NULL) {
			/* a chunk of a session gone: its file goes too */
			j->kind = J_ABORT;
			job_submit(j);
			continue;
		}
		if (s == NULL) {
			job_free(j);
			continue;
		}
		s->job = NULL;
		if (j->kind == J_WRITE) {
			s->tmp = j->tmp;
			j->tmp = NULL;
			if (j->rc != 0)
				data_fail(s, j->rc);
		} else {
			s->state = S_HELO;
			transaction_reset(s);
			if (j->rc == 0) {
				reply(s, "250 2.0.0 Ok: queued as %s", j->id);
				s->junk = 0;	/* a client at work */
			} else {
				reply(s, "451 4.3.0 Error: could not store "
				    "the message, try again later");
			}
		}
		job_free(j);
		session_process(s);
		session_settle(s);
	}
}

/* Append j's data to its file, created first if need be: 0 or an errno. */
static int
job_write(struct job *j)
{
	struct evbuffer_iovec ev[16];
	struct iovec v[16];
	int rc = 0;

	if (j->tmp == NULL && (rc = maildir_tmp_open(j->id, &j->tmp)) != 0)
		return rc;
	while (rc == 0 && evbuffer_get_length(j->msg) > 0) {
		int n = evbuffer_peek(j->msg, -1, NULL, ev, 16);
		size_t len = 0;

		if (n > 16)
			n = 16;
		for (int i = 0; i < n; i++) {
			v[i].iov_base = ev[i].iov_base;
			v[i].iov_len = ev[i].iov_len;
			len += ev[i].iov_len;
		}
		rc = maildir_tmp_write(j->tmp, v, (size_t)n);
		evbuffer_drain(j->msg, len);
	}
	return rc;
}

/* On a worker. A J_WRITE that fails keeps its file: the session aborts
 * it at the end of the data. */
static void
job_run(struct job *j)
{
	char size[32];

	if (j->kind == J_ABORT) {
		maildir_tmp_abort(j->tmp);
		j->tmp = NULL;
		return;
	}
	j->rc = job_write(j);
	if (j->kind == J_COMMIT) {
		if (j->rc == 0)
			j->rc = maildir_tmp_commit(j->tmp, j->envelope);
		else if (j->tmp != NULL)
			maildir_tmp_abort(j->tmp);
		j->tmp = NULL;
	}
	if (j->rc != 0) {
		log_warnx("smtp %s: storing %s: %s", j->ip, j->id,
		    strerror(j->rc));
	} else if (j->kind == J_COMMIT) {
		snprintf(size, sizeof(size), "%zu", j->size);
		qlog_event(j->id, "received", "from", j->from, "to", j->to,
		    "client", j->ip, "size", size, NULL);
		stats_add(STATS_RECEIVED, 1);
	}
}

static void *
worker_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&srv.mu);
	for (;;) {
		struct job *j;

		while (srv.todo == NULL && !srv.stopping)
			pthread_cond_wait(&srv.cv, &srv.mu);
		if ((j = srv.todo) == NULL)
			break;
		if ((srv.todo = j->next) == NULL)
			srv.todo_tail = &srv.todo;
		pthread_mutex_unlock(&srv.mu);

		job_run(j);

		pthread_mutex_lock(&srv.mu);
		j->next = srv.done;
		srv.done = j;
		event_active(srv.done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&srv.mu);
	return NULL;
}

/* -- the listener ------------------------------------------------------ */

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct session *s;
	char ip[INET6_ADDRSTRLEN] = "?";
	const char *why = NULL;
	int same = 0;

	(void)l;
	(void)arg;
	getnameinfo(sa, (socklen_t)salen, ip, sizeof(ip), NULL, 0,
	    NI_NUMERICHOST);
	TAILQ_FOREACH(s, &srv.sessions, entry)
		same += strcmp(s->ip, ip) == 0;
	if (srv.nsessions >= MAX_SESSIONS)
		why = "too many connections";
	else if (same >= MAX_PER_IP)
		why = "too many connections from this address";
	if (why == NULL && (s = calloc(1, sizeof(*s))) == NULL)
		why = "out of memory";
	if (why != NULL) {
		char msg[512];
		int n = snprintf(msg, sizeof(msg), "421 4.7.0 %s Error: %s\r\n",
		    srv.conf->hostname, why);

		if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("smtp %s: %s", ip, strerror(errno));
		shutdown(fd, SHUT_WR);
		evutil_closesocket(fd);
		refuse(ip, why);
		return;
	}
	s->bev = bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		evutil_closesocket(fd);
		free(s);
		return;
	}
	memcpy(s->ip, ip, sizeof(s->ip));
	s->state = S_INIT;
	TAILQ_INSERT_TAIL(&srv.sessions, s, entry);
	srv.nsessions++;
	session_setup_bev(s);
	reply(s, "220 %s ESMTP mailfs", srv.conf->hostname);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	for (size_t i = 0; i < srv.nlis; i++)
		evconnlistener_enable(srv.lis[i]);
}

/* Out of descriptors: stop accepting for a second instead of spinning. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval sec = { 1, 0 };

	(void)l;
	(void)arg;
	log_warn("smtp: accept");
	for (size_t i = 0; i < srv.nlis; i++)
		evconnlistener_disable(srv.lis[i]);
	evtimer_add(srv.resume, &sec);
}

static int
listen_on(const struct conf_addr *a)
{
	struct addrinfo hints, *res, *ai;
	char port[16];
	const char *host = a->host[0] && strcmp(a->host, "*") != 0 ?
	    a->host : NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", a->port ? a->port : 25);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("smtp: listen %s:%s: %s", a->host, port,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct evconnlistener *l, **v;
		int one = 1;
		evutil_socket_t fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd == -1)
			break;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    (l = evconnlistener_new(srv.base, accept_cb, NULL,
		    LEV_OPT_CLOSE_ON_FREE, 128, fd)) == NULL) {
			log_warn("smtp: listen %s:%s", a->host, port);
			close(fd);
			break;
		}
		evconnlistener_set_error_cb(l, accept_error_cb);
		if ((v = realloc(srv.lis, (srv.nlis + 1) * sizeof(*v))) == NULL) {
			evconnlistener_free(l);
			break;
		}
		srv.lis = v;
		srv.lis[srv.nlis++] = l;
	}
	freeaddrinfo(res);
	return ai == NULL ? 0 : -1;
}

static SSL_CTX *
tls_context(const struct conf *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_warnx("smtp: tls_cert %s / tls_key %s: %s", c->tls_cert,
		    c->tls_key, tls_error(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
server_start(struct event_base *base, const struct conf *c)
{
	sigset_t all, old;

	srv.conf = c;
	srv.base = base;
	TAILQ_INIT(&srv.sessions);
	srv.todo_tail = &srv.todo;
	if (c->tls_cert != NULL && c->tls_key != NULL &&
	    (srv.ssl = tls_context(c)) == NULL)
		return -1;
	srv.done_ev = event_new(base, -1, 0, job_done_cb, NULL);
	srv.resume = evtimer_new(base, resume_cb, NULL);
	if (srv.done_ev == NULL || srv.resume == NULL)
		goto fail;
	/* the workers must not take the signals meant for the FUSE loop */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; srv.nworkers < WORKERS; srv.nworkers++)
		if (pthread_create(&srv.worker[srv.nworkers], NULL, worker_main,
		    NULL) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (srv.nworkers == 0)
		goto fail;
	for (size_t i = 0; i < c->nlisten; i++)
		if (listen_on(&c->listen[i]) == -1)
			goto fail;
	return 0;
fail:
	server_stop();
	return -1;
}

/*
 * server_stop - on the event thread or once the loop has ended. Messages
 * already handed to a worker are stored before it returns (their
 * clients are gone, so they may come again: better twice than never);
 * the files of messages cut short mid-DATA are unlinked.
 */
void
server_stop(void)
{
	for (size_t i = 0; i < srv.nlis; i++)
		evconnlistener_free(srv.lis[i]);
	free(srv.lis);
	srv.lis = NULL;
	srv.nlis = 0;
	while (srv.conf != NULL && !TAILQ_EMPTY(&srv.sessions))
		session_free(TAILQ_FIRST(&srv.sessions));
	pthread_mutex_lock(&srv.mu);
	srv.stopping = 1;
	pthread_cond_broadcast(&srv.cv);
	pthread_mutex_unlock(&srv.mu);
	for (int i = 0; i < srv.nworkers; i++)
		pthread_join(srv.worker[i], NULL);
	srv.nworkers = 0;
	srv.stopping = 0;
	for (struct job *j = srv.done, *next; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	srv.done = NULL;
	if (srv.done_ev != NULL)
		event_free(srv.done_ev);
	if (srv.resume != NULL)
		event_free(srv.resume);
	srv.done_ev = srv.resume = NULL;
	if (srv.ssl != NULL)
		SSL_CTX_free(srv.ssl);
	srv.ssl = NULL;
	srv.conf = NULL;
}
