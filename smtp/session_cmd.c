/*
 * session_cmd.c - the commands of an inbound SMTP session: the table of
 * verbs (the states each may come in, its argument, its handler) and the
 * handlers of EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY EXPN HELP
 * STARTTLS (RFC 5321 with PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
 * ENHANCEDSTATUSCODES, STARTTLS), and the table of the commands a mode
 * adds (submission: AUTH, session_auth.c; SMTP: ETRN, session_etrn.c).
 * In submission mode MAIL needs a login and a sender the user may give,
 * and RCPT takes any domain. In LMTP mode (RFC 2033) LHLO takes the
 * place of EHLO and HELO, which are unknown there as STARTTLS is, and a
 * bare local part as recipient is one of ours.
 * Internal API in session.h.
 *
 * Input pipelined after STARTTLS is thrown away (CVE-2011-0411).
 */
#include "smtp/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "lib/conf.h"
#include "queue/queue.h"
#include "smtp/addr.h"

#define MAX_RCPTS	100		/* RFC 5321 §4.5.3.1.8 minimum */
#define CMD_ARG_MAX	1024		/* an argument, qualified (lmtp) */

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
	int lmtp = s->mode == SESSION_LMTP;

	if (!valid_helo(arg)) {
		session_error(s, "501 5.5.4 Syntax: %s hostname",
		    lmtp ? "LHLO" : esmtp ? "EHLO" : "HELO");
		return;
	}
	snprintf(s->helo, sizeof(s->helo), "%s", arg);
	s->esmtp = esmtp;
	session_enter(s, S_HELO);
	session_reset(s);
	if (!esmtp) {
		session_reply(s, "250 %s", session_ctx.conf->hostname);
		return;
	}
	session_reply(s, "250-%s", session_ctx.conf->hostname);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-SIZE %zu", session_ctx.conf->max_size);
	if (s->mode == SESSION_SMTP)
		session_reply(s, "250-ETRN");
	session_reply(s, "250-8BITMIME");
	session_reply(s, "250-SMTPUTF8");
	if (session_ctx.ssl != NULL && !s->tls && !lmtp)
		session_reply(s, "250-STARTTLS");
	if (session_auth_offered(s))
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250 ENHANCEDSTATUSCODES");
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
	size_t size = 0;

	if (s->mode == SESSION_SUBMISSION && session_auth_user(s) == NULL) {
		session_error(s, "530 5.7.0 Authentication required");
		return;
	}
	switch (parse_arg(arg, "FROM:", &p, &rest)) {
	case ADDR_OK:
		break;
	case ADDR_TOOLONG:
		session_error(s, "501 5.5.4 Sender address too long");
		return;
	default:
		session_error(s, "501 5.1.7 Syntax: MAIL FROM:<address>");
		return;
	}
	if ((p.flags & ADDR_NODOMAIN) && strcasecmp(p.local, "postmaster")) {
		/* <"a@b">, <b!a>: only a recipient is parsed so, to be
		 * refused */
		session_error(s, "501 5.1.7 Syntax: MAIL FROM:<address>");
		return;
	}
	if (*rest != '\0' && *rest != ' ') {
		session_error(s, "501 5.5.4 Syntax: MAIL FROM:<address> "
		    "[parameters]");
		return;
	}
	while (next_param(&rest, key, sizeof(key), val, sizeof(val))) {
		if (!s->esmtp) {
			session_error(s, "555 5.5.4 MAIL parameters need EHLO");
			return;
		}
		if (strcasecmp(key, "SIZE") == 0) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(val, &end, 10);
			if (val[0] < '0' || val[0] > '9' || *end != '\0') {
				session_error(s, "501 5.5.4 Bad SIZE "
				    "parameter");
				return;
			}
			if (errno == ERANGE || n > session_ctx.conf->max_size) {
				session_error(s, "552 5.3.4 Message size "
				    "exceeds fixed limit of %zu octets",
				    session_ctx.conf->max_size);
				session_refuse(s->ip, "message too big (SIZE)");
				return;
			}
			size = (size_t)n;
		} else if (strcasecmp(key, "BODY") == 0) {
			if (strcasecmp(val, "7BIT") != 0 &&
			    strcasecmp(val, "8BITMIME") != 0) {
				session_error(s, "501 5.5.4 Bad BODY "
				    "parameter");
				return;
			}
		} else if (strcasecmp(key, "SMTPUTF8") == 0 && val[0] == '\0') {
			utf8 = 1;
		} else {
			session_error(s, "555 5.5.4 Unsupported parameter %s",
			    key);
			return;
		}
	}
	if (!utf8 && has_8bit(p.mailbox)) {
		session_error(s, "553 5.6.7 UTF-8 address needs SMTPUTF8");
		return;
	}
	if (s->mode == SESSION_SUBMISSION &&
	    session_auth_mail(s, p.mailbox) == -1)
		return;
	if (queue_space_check(size) != 0) {
		/* RFC 3463: the spool is below min_free, or SIZE= does
		 * not fit in what is left above it */
		session_reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	memcpy(s->from, p.mailbox, sizeof(s->from));
	s->smtputf8 = utf8;
	session_enter(s, S_MAIL);
	session_reply(s, "250 2.1.0 Ok");
}

/*
 * lmtp_qualify - in LMTP, "TO:<name>" without a domain means a mailbox of
 * ours (an MTA's local transport hands over bare names): into buf as
 * "TO:<name@DOMAIN>..." with our first domain (else hostname), the way
 * a bare <Postmaster> is qualified. Anything else is returned unchanged;
 * a name that routes on (u%remote) is refused by addr_is_local all the
 * same.
 */
static const char *
lmtp_qualify(const struct session *s, const char *arg, char *buf,
    size_t len)
{
	const struct conf *c = session_ctx.conf;
	const char *lt = strchr(arg, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (s->mode != SESSION_LMTP || gt == NULL || gt == lt + 1 ||
	    memchr(lt, '@', (size_t)(gt - lt)) != NULL ||
	    memchr(lt, '"', (size_t)(gt - lt)) != NULL)
		return arg;
	if ((size_t)snprintf(buf, len, "%.*s@%s%s", (int)(gt - arg), arg,
	    c->ndomains ? c->domains[0] : c->hostname, gt) >= len)
		return arg;	/* too long: refused as it is */
	return buf;
}

static void
do_rcpt(struct session *s, const char *arg)
{
	struct addr_path p;
	const char *rest;
	char reason[ADDR_PATH_MAX + 64], qualified[CMD_ARG_MAX];

	arg = lmtp_qualify(s, arg, qualified, sizeof(qualified));
	switch (parse_arg(arg, "TO:", &p, &rest)) {
	case ADDR_OK:
		break;
	case ADDR_TOOLONG:
		session_error(s, "501 5.5.4 Recipient address too long");
		return;
	default:
		session_error(s, "501 5.1.3 Syntax: RCPT TO:<address>");
		return;
	}
	if (p.flags & ADDR_NULL) {
		/* a syntax error, not an attempt to relay */
		session_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	while (*rest == ' ')
		rest++;
	if (*rest != '\0') {
		session_error(s, "555 5.5.4 Unsupported RCPT parameter");
		return;
	}
	/* a logged-in user may send anywhere (RFC 6409 §4.3) */
	if (s->mode != SESSION_SUBMISSION &&
	    !addr_is_local(session_ctx.conf, &p)) {
		session_error(s, "550 5.7.1 <%s>: Relay access denied",
		    p.mailbox);
		snprintf(reason, sizeof(reason), "relay access denied to <%s>",
		    p.mailbox);
		session_refuse(s->ip, reason);
		return;
	}
	if (!s->smtputf8 && has_8bit(p.mailbox)) {
		session_error(s, "553 5.6.7 UTF-8 address needs SMTPUTF8");
		return;
	}
	if (p.flags & ADDR_NODOMAIN)
		snprintf(p.mailbox, sizeof(p.mailbox), "postmaster@%s",
		    session_ctx.conf->ndomains ? session_ctx.conf->domains[0] :
		    session_ctx.conf->hostname);
	for (size_t i = 0; i < s->nrcpt; i++)
		if (strcmp(s->rcpt[i], p.mailbox) == 0) {
			session_reply(s, "250 2.1.5 Ok");
			return;
		}
	if (s->nrcpt >= MAX_RCPTS) {
		/* not an error: RFC 5321 clients send the rest later */
		session_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	void *r = realloc(s->rcpt, (s->nrcpt + 1) * sizeof(*s->rcpt));
	if (r == NULL) {
		session_reply(s, "452 4.3.1 Insufficient system resources");
		return;
	}
	s->rcpt = r;
	memcpy(s->rcpt[s->nrcpt++], p.mailbox, sizeof(*s->rcpt));
	session_enter(s, S_RCPT);
	session_reply(s, "250 2.1.5 Ok");
}

static void
do_data(struct session *s, const char *arg)
{
	(void)arg;
	session_data_begin(s);
}

static void
do_rset(struct session *s, const char *arg)
{
	(void)arg;
	session_reset(s);
	session_reply(s, "250 2.0.0 Ok");
	session_junk(s);
}

static void
do_noop(struct session *s, const char *arg)
{
	(void)arg;
	session_reply(s, "250 2.0.0 Ok");
	session_junk(s);
}

static void
do_quit(struct session *s, const char *arg)
{
	(void)arg;
	session_reply(s, "221 2.0.0 Bye");
	session_close(s);
}

static void
do_vrfy(struct session *s, const char *arg)
{
	(void)arg;
	session_reply(s, "252 2.5.0 Cannot VRFY user, but will accept the "
	    "message");
	session_junk(s);
}

static void
do_expn(struct session *s, const char *arg)
{
	(void)arg;
	session_error(s, "502 5.5.1 EXPN not available");
}

static void
do_help(struct session *s, const char *arg)
{
	(void)arg;
	if (s->mode == SESSION_LMTP)
		session_reply(s, "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET "
		    "NOOP QUIT VRFY HELP");
	else
		session_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA "
		    "RSET NOOP QUIT VRFY HELP%s%s%s",
		    session_ctx.ssl && !s->tls ? " STARTTLS" : "",
		    s->mode == SESSION_SUBMISSION ? " AUTH" : "",
		    s->mode == SESSION_SMTP ? " ETRN" : "");
	session_junk(s);
}

static void
do_starttls(struct session *s, const char *arg)
{
	struct bufferevent *tls;
	SSL *ssl;

	(void)arg;
	if (s->tls) {
		session_error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (session_ctx.ssl == NULL) {
		session_error(s, "502 5.5.1 STARTTLS not available");
		return;
	}
	if ((ssl = SSL_new(session_ctx.ssl)) == NULL) {
		session_reply(s, "454 4.7.0 TLS not available due to local "
		    "problem");
		return;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	/* what the client sent after STARTTLS was sent in the clear: it
	 * must not count as said under TLS (CVE-2011-0411) */
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
	tls = bufferevent_openssl_filter_new(session_ctx.base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		session_close(s);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	s->bev = tls;
	s->tls = 1;
	session_setup_bev(s);
	/* RFC 3207 §4.2: forget everything said before */
	s->esmtp = 0;
	s->helo[0] = '\0';
	session_auth_forget(s);
	session_reset(s);
	session_enter(s, S_INIT);
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

/* LMTP has no EHLO, HELO or STARTTLS (they are unknown to it, 500), and
 * no queue of ours to run for a client (ETRN 502) */
static void
do_not_lmtp(struct session *s, const char *arg)
{
	(void)arg;
	session_error(s, "500 5.5.2 Error: command not recognized");
}

static void
do_etrn_lmtp(struct session *s, const char *arg)
{
	(void)arg;
	session_error(s, "502 5.5.1 ETRN not available in LMTP");
}

/* What a mode adds to the commands above, or puts in their place. */
static const struct command submission_commands[] = {
	{ "AUTH", ST(S_HELO), "AUTH inside a transaction", ARG_NEED,
	    session_auth_command },
};
static const struct command smtp_commands[] = {
	{ "ETRN", ST(S_HELO), "MAIL transaction in progress", ARG_NEED,
	    session_etrn },
};
static const struct command lmtp_commands[] = {
	{ "LHLO", ST(S_INIT) | ST(S_HELO) | ST(S_MAIL) | ST(S_RCPT), NULL,
	    ARG_ANY, do_ehlo },
	{ "EHLO", ~0u, NULL, ARG_ANY, do_not_lmtp },
	{ "HELO", ~0u, NULL, ARG_ANY, do_not_lmtp },
	{ "STARTTLS", ~0u, NULL, ARG_ANY, do_not_lmtp },
	{ "ETRN", ~0u, NULL, ARG_ANY, do_etrn_lmtp },
};

static const struct {
	const struct command *v;
	size_t n;
} mode_commands[] = {
	[SESSION_SMTP] = { smtp_commands,
	    sizeof(smtp_commands) / sizeof(smtp_commands[0]) },
	[SESSION_LMTP] = { lmtp_commands,
	    sizeof(lmtp_commands) / sizeof(lmtp_commands[0]) },
	[SESSION_SUBMISSION] = { submission_commands,
	    sizeof(submission_commands) / sizeof(submission_commands[0]) },
};

static const struct command *
find_command(const struct command *v, size_t nv, const char *line, size_t n)
{
	for (size_t i = 0; i < nv; i++)
		if (strlen(v[i].name) == n &&
		    strncasecmp(v[i].name, line, n) == 0)
			return &v[i];
	return NULL;
}

static void
sequence_error(struct session *s, const struct command *c)
{
	const char *why = c->seqerr;

	if (s->state == S_INIT && c->fn != do_starttls)
		why = s->mode == SESSION_LMTP ? "send LHLO first" :
		    "send HELO/EHLO first";
	else if (why == NULL)	/* DATA */
		why = s->state == S_MAIL ? "need RCPT before DATA" :
		    "need MAIL before DATA";
	session_error(s, "503 5.5.1 Error: %s", why);
}

void
session_command(struct session *s, char *line)
{
	char *arg = strchr(line, ' ');
	const struct command *c = NULL;
	size_t n = arg ? (size_t)(arg - line) : strlen(line);

	if (session_auth_response(s, line))
		return;		/* the answer to a 334 challenge */
	if (arg != NULL)
		while (*arg == ' ')
			arg++;
	else
		arg = line + n;
	c = find_command(mode_commands[s->mode].v, mode_commands[s->mode].n,
	    line, n);
	if (c == NULL)
		c = find_command(commands, sizeof(commands) /
		    sizeof(commands[0]), line, n);
	if (c == NULL) {
		session_error(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if (!(c->states & ST(s->state))) {
		sequence_error(s, c);
		return;
	}
	if (c->arg == ARG_NONE && *arg != '\0') {
		session_error(s, "501 5.5.4 Syntax: %s", c->name);
		return;
	}
	if (c->arg == ARG_NEED && *arg == '\0') {
		session_error(s, "501 5.5.4 Syntax: %s needs an argument",
		    c->name);
		return;
	}
	c->fn(s, arg);
}
