/*
 * client.c - one outbound SMTP session (see client.h for the API).
 *
 * An explicit state machine over a bufferevent (a socket one, and an
 * OpenSSL filter on top of it after STARTTLS). Every reply is read whole
 * with proto_reply_feed and handled by the state that expected it. With
 * PIPELINING the MAIL, RCPT and DATA commands of a transaction go out in
 * one write (RFC 2920) and their replies are matched by position.
 *
 * Lifetime: only end_session() frees a client, and every function that
 * may reach it returns -1 so its callers stop touching the client.
 *
 * Diagnostics: log_debug per state change; every failure becomes the text
 * of a queue_report() or of the closed() callback.
 */
#include "smtp/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/queue.h"
#include "smtp/dns.h"
#include "smtp/proto.h"

/* RFC 5321 §4.5.3.2 timeouts, in seconds; connect and TLS as Postfix. */
#define TIMEOUT_CONNECT		30
#define TIMEOUT_GREETING	300
#define TIMEOUT_EHLO		300
#define TIMEOUT_TLS		300
#define TIMEOUT_MAIL		300
#define TIMEOUT_RCPT		300
#define TIMEOUT_DATA_INIT	120
#define TIMEOUT_DATA_BLOCK	180
#define TIMEOUT_DATA_TERM	600
#define TIMEOUT_QUIT		300

#define LINE_MAX_LEN	(64 * 1024)	/* a reply line longer is garbage */
#define BODY_CHUNK	(64 * 1024)	/* read from the message file at once */
#define BODY_QUEUED	(256 * 1024)	/* kept in the output buffer at most */

enum state {
	S_CONNECT, S_GREETING, S_EHLO, S_HELO, S_STARTTLS, S_TLS, S_IDLE,
	S_RSET, S_TXN, S_BODY, S_DOT, S_QUIT
};

static const char *state_names[] = {
	"connect", "greeting", "ehlo", "helo", "starttls", "tls", "idle",
	"rset", "transaction", "body", "dot", "quit"
};

/* What each state is doing, for "lost connection ... while ..." texts. */
static const char *state_doing[] = {
	"connecting", "receiving the initial server greeting",
	"performing the EHLO handshake", "performing the HELO handshake",
	"sending STARTTLS", "performing the TLS handshake", "idle",
	"sending RSET", "sending MAIL FROM, RCPT TO or DATA",
	"sending message body", "sending end of data", "sending QUIT"
};

enum { R_PENDING, R_ACCEPTED, R_DONE };	/* per recipient */

struct client {
	struct event_base *base;
	const struct conf *conf;
	SSL_CTX *tls_ctx;
	const struct client_ops *ops;
	void *arg;
	struct dns_target *t;
	size_t nt, cur;
	char relay[320];

	struct bufferevent *bev;
	enum state state;
	struct proto_reply reply;
	struct proto_ehlo ehlo;
	int tls;		/* the connection is encrypted */
	int cleartext;		/* tls=may and the handshake failed here */
	int need_rset;		/* the last transaction did not finish */
	struct event *kick;	/* starts the first connection */
	struct event *idle;

	/* the last target's failure */
	int eclass;
	char ecode[PROTO_ESC_MAX];
	char etext[512];

	/* the transaction */
	struct queue_job *job;
	unsigned char *rstate;
	size_t nreplies;	/* replies to MAIL (0), RCPTs, DATA so far */
	size_t naccepted;
	int mail_ok;
	int fd;			/* the message file */
	int bol;		/* dot-stuffing: at the start of a line */
};

static int	try_target(struct client *c);
static void	read_cb(struct bufferevent *bev, void *arg);
static void	write_cb(struct bufferevent *bev, void *arg);
static void	event_cb(struct bufferevent *bev, short what, void *arg);

static void
enter(struct client *c, enum state s)
{
	log_debug("smtp %s: %s -> %s", c->relay, state_names[c->state],
	    state_names[s]);
	c->state = s;
}

static void
set_timeouts(struct client *c, int rd, int wr)
{
	struct timeval r = { rd, 0 }, w = { wr, 0 };

	bufferevent_set_timeouts(c->bev, &r, &w);
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

static void
close_file(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

static void
drop_connection(struct client *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->tls = 0;
}

static void
client_destroy(struct client *c)
{
	drop_connection(c);
	close_file(c);
	if (c->kick != NULL)
		event_free(c->kick);
	if (c->idle != NULL)
		event_free(c->idle);
	free(c->rstate);
	free(c->t);
	free(c);
}

/* The end: tell the owner, then free. Always returns -1. */
static int
end_session(struct client *c, int class, const char *code, const char *text)
{
	struct queue_job *job = c->job;

	c->job = NULL;
	close_file(c);
	drop_connection(c);
	c->ops->closed(c, job, class, code, text, c->relay, c->arg);
	client_destroy(c);
	return -1;
}

static void
report(struct client *c, size_t i, int class, const char *code,
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
	report(c, i, class, esc, text);
}

/* A failure of this target before any transaction: on to the next. */
static int
host_fail(struct client *c, int class, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
host_fail(struct client *c, int class, const char *code, const char *fmt, ...)
{
	va_list ap;

	c->eclass = class;
	snprintf(c->ecode, sizeof(c->ecode), "%s", code);
	va_start(ap, fmt);
	vsnprintf(c->etext, sizeof(c->etext), fmt, ap);
	va_end(ap);
	log_debug("smtp %s: %s", c->relay, c->etext);
	drop_connection(c);
	c->cur++;
	c->cleartext = 0;
	return try_target(c);
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
	return host_fail(c, class, esc, "host %s refused %s: %s", c->relay,
	    what, text);
}

/*
 * trouble - the connection broke, timed out or spoke nonsense. Before the
 * session was ready: the next target. In a transaction: its recipients not
 * yet answered are deferred. Always returns -1.
 */
static int
trouble(struct client *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
trouble(struct client *c, const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	switch (c->state) {
	case S_CONNECT: case S_GREETING: case S_EHLO: case S_HELO:
	case S_STARTTLS: case S_TLS:
		host_fail(c, 4, code, "%s", text);
		return -1;
	case S_IDLE: case S_QUIT:
		return end_session(c, 0, NULL, NULL);
	case S_RSET: case S_TXN: case S_BODY: case S_DOT:
		log_debug("smtp %s: %s", c->relay, text);
		for (i = 0; i < c->job->nrcpt; i++)
			report(c, i, 4, code, text);
		break;
	}
	return end_session(c, 0, NULL, NULL);
}

static int
is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Connect to c->t[c->cur], or the next that can be tried; -1 when the
 * session ended because none is left. */
static int
try_target(struct client *c)
{
	const struct dns_target *t;

	for (; c->cur < c->nt; c->cur++) {
		t = &c->t[c->cur];
		dns_target_format(t, c->relay, sizeof(c->relay));
		c->state = S_CONNECT;
		log_debug("smtp %s: connecting%s", c->relay,
		    c->cleartext ? " without TLS" : "");
		c->bev = bufferevent_socket_new(c->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			return end_session(c, 4, "4.3.0", "out of memory");
		bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
		set_timeouts(c, TIMEOUT_GREETING, TIMEOUT_CONNECT);
		if (bufferevent_socket_connect(c->bev,
		    (const struct sockaddr *)&t->addr, (int)t->addrlen) == 0)
			return 0;
		c->eclass = 4;
		snprintf(c->ecode, sizeof(c->ecode), "4.4.1");
		snprintf(c->etext, sizeof(c->etext), "connect to %s: %s",
		    c->relay, strerror(errno));
		drop_connection(c);
		c->cleartext = 0;
	}
	if (c->eclass == 0) {
		c->eclass = 4;
		snprintf(c->ecode, sizeof(c->ecode), "4.4.1");
		snprintf(c->etext, sizeof(c->etext), "no host to connect to");
	}
	return end_session(c, c->eclass, c->ecode, c->etext);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	try_target(arg);
}

static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	client_quit(arg);
}

static int
send_ehlo(struct client *c)
{
	enter(c, S_EHLO);
	set_timeouts(c, TIMEOUT_EHLO, TIMEOUT_EHLO);
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
	enter(c, S_IDLE);
	set_timeouts(c, TIMEOUT_QUIT, TIMEOUT_QUIT);
	arm_idle(c);
	c->ops->ready(c, done, c->arg);
	return 0;
}

static int
start_tls(struct client *c)
{
	const char *host = c->t[c->cur].host;
	struct bufferevent *tb;
	SSL *ssl;

	/* Anything the server sent after its 220 came before the TLS
	 * handshake: an injection attempt (CVE-2011-0411). */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		return trouble(c, "4.7.0", "%s sent data after 220 to STARTTLS",
		    c->relay);
	if ((ssl = SSL_new(c->tls_ctx)) == NULL)
		return trouble(c, "4.7.0", "cannot create a TLS session");
	if (!is_ip(host))
		SSL_set_tlsext_host_name(ssl, host);
	if (c->conf->tls == CONF_TLS_VERIFY) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		if (is_ip(host))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		else
			SSL_set1_host(ssl, host);
	}
	tb = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		return trouble(c, "4.7.0", "cannot start TLS");
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	c->bev = tb;
	bufferevent_setcb(tb, read_cb, write_cb, event_cb, c);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	enter(c, S_TLS);
	set_timeouts(c, TIMEOUT_TLS, TIMEOUT_TLS);
	return 0;
}

/* Why the TLS handshake failed, from OpenSSL's error queue. */
static void
tls_error(struct client *c, char *out, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	unsigned long e, last = 0;
	long v;

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		last = e;
	if (ssl != NULL && (v = SSL_get_verify_result(ssl)) != X509_V_OK)
		snprintf(out, len, "certificate verification failed: %s",
		    X509_verify_cert_error_string(v));
	else if (last != 0)
		ERR_error_string_n(last, out, len);
	else
		snprintf(out, len, "%s", errno ? strerror(errno) :
		    "connection closed");
}

/* EHLO (or HELO) done: STARTTLS first if wanted, else ready. */
static int
after_ehlo(struct client *c)
{
	if (!c->tls && !c->cleartext && c->conf->tls != CONF_TLS_NONE &&
	    c->ehlo.starttls && c->tls_ctx != NULL) {
		enter(c, S_STARTTLS);
		set_timeouts(c, TIMEOUT_EHLO, TIMEOUT_EHLO);
		send_line(c, "STARTTLS");
		return 0;
	}
	if (!c->tls && c->conf->tls >= CONF_TLS_ENCRYPT)
		return host_fail(c, 4, "4.7.4",
		    "TLS is required, but was not offered by host %s",
		    c->relay);
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
	enter(c, S_TXN);
	set_timeouts(c, TIMEOUT_MAIL, TIMEOUT_MAIL);
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

	close_file(c);
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
			return trouble(c, "4.3.0", "cannot read message: %s",
			    strerror(errno));
		}
		if (n == 0) {
			proto_dot_end(out, c->bol);
			enter(c, S_DOT);
			set_timeouts(c, TIMEOUT_DATA_TERM, TIMEOUT_DATA_BLOCK);
			break;
		}
		if (proto_dot_stuff(out, buf, (size_t)n, &c->bol) == -1)
			return trouble(c, "4.3.0", "out of memory");
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
		} else if (!c->ehlo.pipelining) {
			set_timeouts(c, TIMEOUT_RCPT, TIMEOUT_RCPT);
			send_rcpt(c, 0);
		}
		return 0;
	}
	if (k <= j->nrcpt) {
		i = k - 1;
		if (c->mail_ok && class == 2) {
			c->rstate[i] = R_ACCEPTED;
			c->naccepted++;
		} else if (c->mail_ok)
			report_reply(c, i, "RCPT TO");
		if (c->ehlo.pipelining)
			return 0;
		if (k < j->nrcpt) {
			send_rcpt(c, k);
			return 0;
		}
		if (c->naccepted == 0) {
			c->need_rset = 1;
			return txn_end(c);
		}
		set_timeouts(c, TIMEOUT_DATA_INIT, TIMEOUT_DATA_INIT);
		send_line(c, "DATA");
		return 0;
	}
	/* The reply to DATA. */
	if (c->reply.code == 354 && c->naccepted > 0) {
		enter(c, S_BODY);
		c->bol = 1;
		set_timeouts(c, TIMEOUT_DATA_TERM, TIMEOUT_DATA_BLOCK);
		/* write_cb refills before the socket runs dry. */
		bufferevent_setwatermark(c->bev, EV_WRITE, BODY_QUEUED / 2, 0);
		return fill_body(c);
	}
	if (c->reply.code == 354) {
		/* RFC 2920 §3.1: no recipient, yet DATA accepted. */
		enter(c, S_DOT);
		set_timeouts(c, TIMEOUT_DATA_TERM, TIMEOUT_DATA_BLOCK);
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

	switch (c->state) {
	case S_GREETING:
		if (c->reply.code / 100 != 2)
			return host_fail_reply(c, "to talk to us");
		return send_ehlo(c);
	case S_EHLO:
		if (c->reply.code / 100 == 2) {
			proto_ehlo_parse(&c->reply, &c->ehlo);
			return after_ehlo(c);
		}
		if (c->reply.code / 100 != 5 || c->tls)
			return host_fail_reply(c, "EHLO");
		enter(c, S_HELO);
		send_line(c, "HELO %s", c->conf->hostname);
		return 0;
	case S_HELO:
		if (c->reply.code / 100 != 2)
			return host_fail_reply(c, "HELO");
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		return after_ehlo(c);
	case S_STARTTLS:
		if (c->reply.code / 100 == 2)
			return start_tls(c);
		if (c->conf->tls == CONF_TLS_MAY)
			return go_idle(c, NULL);
		return host_fail_reply(c, "STARTTLS");
	case S_RSET:
		if (c->reply.code / 100 != 2)
			return trouble(c, "4.5.0", "RSET refused by %s",
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
		return end_session(c, 0, NULL, NULL);
	case S_IDLE:
		/* Typically "421 idle too long": the server is closing. */
		return end_session(c, 0, NULL, NULL);
	case S_BODY:
		return trouble(c, "4.5.0", "%s replied %d during the message "
		    "body", c->relay, c->reply.code);
	case S_CONNECT: case S_TLS:
		break;
	}
	return trouble(c, "4.5.0", "unexpected reply %d from %s",
	    c->reply.code, c->relay);
}

static void
read_cb(struct bufferevent *bev, void *arg)
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
				trouble(c, "4.5.0", "reply line too long "
				    "from %s", c->relay);
			return;
		}
		rc = proto_reply_feed(&c->reply, line, len);
		free(line);
		if (rc == -1) {
			trouble(c, "4.5.0", "malformed reply from %s",
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

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (c->state == S_BODY)
		fill_body(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	char why[256];
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == S_CONNECT) {
			enter(c, S_GREETING);
			proto_reply_init(&c->reply);
			set_timeouts(c, TIMEOUT_GREETING, TIMEOUT_GREETING);
			bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		} else if (c->state == S_TLS) {
			c->tls = 1;
			log_debug("smtp %s: TLS established", c->relay);
			send_ehlo(c);
		}
		return;
	}
	if (c->state == S_TLS && !(what & BEV_EVENT_TIMEOUT)) {
		errno = err;
		tls_error(c, why, sizeof(why));
		if (c->conf->tls == CONF_TLS_MAY) {
			/* Opportunistic TLS: as Postfix, try this host
			 * again in clear rather than not at all. */
			log_debug("smtp %s: TLS failed (%s), again without",
			    c->relay, why);
			drop_connection(c);
			c->cleartext = 1;
			try_target(c);
			return;
		}
		host_fail(c, 4, "4.7.5", "TLS handshake with %s failed: %s",
		    c->relay, why);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->state == S_CONNECT)
			host_fail(c, 4, "4.4.1", "connect to %s: timed out",
			    c->relay);
		else if (c->state == S_IDLE)
			client_quit(c);
		else
			trouble(c, "4.4.2", "conversation with %s timed out "
			    "while %s", c->relay, state_doing[c->state]);
		return;
	}
	if (c->state == S_CONNECT) {
		host_fail(c, 4, "4.4.1", "connect to %s: %s", c->relay,
		    evutil_socket_error_to_string(err));
		return;
	}
	trouble(c, "4.4.2", "lost connection with %s while %s", c->relay,
	    state_doing[c->state]);
}

struct client *
client_new(struct event_base *base, const struct conf *conf, SSL_CTX *tls_ctx,
    const struct dns_target *t, size_t n, const struct client_ops *ops,
    void *arg)
{
	struct client *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->t = calloc(n ? n : 1, sizeof(*t))) == NULL)
		goto nomem;
	memcpy(c->t, t, n * sizeof(*t));
	c->nt = n;
	c->base = base;
	c->conf = conf;
	c->tls_ctx = tls_ctx;
	c->ops = ops;
	c->arg = arg;
	c->fd = -1;
	snprintf(c->relay, sizeof(c->relay), "%s", n ? t[0].host : "-");
	c->kick = evtimer_new(base, kick_cb, c);
	c->idle = evtimer_new(base, idle_cb, c);
	if (c->kick == NULL || c->idle == NULL)
		goto nomem;
	event_active(c->kick, EV_TIMEOUT, 0);
	return c;
nomem:
	if (c != NULL)
		client_destroy(c);
	log_warnx("smtp: out of memory");
	return NULL;
}

int
client_send(struct client *c, struct queue_job *job)
{
	size_t i;

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
			report(c, i, 5, "5.3.4", text);
		goto fail;
	}
	if ((c->fd = open(job->path, O_RDONLY | O_CLOEXEC)) == -1) {
		char text[256];

		snprintf(text, sizeof(text), "cannot read message: %s",
		    strerror(errno));
		for (i = 0; i < job->nrcpt; i++)
			report(c, i, 4, "4.3.0", text);
		goto fail;
	}
	c->nreplies = c->naccepted = 0;
	c->mail_ok = 0;
	if (c->need_rset) {
		enter(c, S_RSET);
		set_timeouts(c, TIMEOUT_MAIL, TIMEOUT_MAIL);
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
	enter(c, S_QUIT);
	set_timeouts(c, TIMEOUT_QUIT, TIMEOUT_QUIT);
	send_line(c, "QUIT");
}

struct queue_job *
client_free(struct client *c)
{
	struct queue_job *job = c->job;

	client_destroy(c);
	return job;
}

SSL_CTX *
client_tls_ctx(const struct conf *conf)
{
	SSL_CTX *ctx;

	if (conf->tls == CONF_TLS_NONE)
		return NULL;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		log_warnx("smtp: cannot create the TLS context");
		return NULL;
	}
	if (conf->tls_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, conf->tls_ca, NULL) != 1) {
			log_warnx("smtp: tls_ca %s: cannot load", conf->tls_ca);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else
		SSL_CTX_set_default_verify_paths(ctx);
	return ctx;
}
