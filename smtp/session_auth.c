/*
 * session_auth.c - the login of a submission session: AUTH PLAIN (RFC
 * 4616) and LOGIN, with an initial response or after a "334" challenge,
 * "*" to cancel (RFC 4954); the senders a user may give (internal API in
 * session.h, the users in lib/passwd.h).
 *
 * Passwords cross only under TLS: AUTH is neither advertised nor taken
 * before it (538 5.7.11), unless auth_cleartext_loopback is set and the
 * client is on loopback. The hash is checked on a thread of its own
 * (lib/work.h: yescrypt is slow on purpose), the session in S_WAIT
 * meanwhile. A failure is answered 535 5.7.8 only after a delay that
 * doubles with each failure from the client's address (1 s up to
 * DELAY_MAX, forgotten after FORGET), on a timer, never by sleeping; the
 * MAX_FAILS'th failure in a connection also ends it with 421 4.7.0.
 *
 * Every success and failure is an "auth" event in the mail log with the
 * client's address, the user and the mechanism; never the password,
 * which is wiped once checked.
 */
#include "smtp/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "lib/conf.h"
#include "lib/passwd.h"
#include "lib/work.h"
#include "queue/qlog.h"

#define MAX_FAILS	3	/* per connection, then 421 */
#define DELAY_MAX	10	/* seconds before a 535, at most */
#define FORGET		(15 * 60)	/* an address's failures, after */
#define ADDRS		128	/* addresses whose failures are kept */
#define SECRET_MAX	512	/* a decoded response */

struct session_auth {
	enum { A_NONE, A_PLAIN, A_LOGIN_USER, A_LOGIN_PASS } step;
	const char	*mech;
	char		user[PASSWD_USER_MAX];	/* logged in as; "" not yet */
	char		login[PASSWD_USER_MAX];	/* LOGIN's user name */
	int		fails;
	struct event	*delay;
};

struct check {
	struct session_job job;
	char		user[PASSWD_USER_MAX];
	char		pass[SECRET_MAX];
	const char	*mech;
	int		ok;
};

/* Failures by client address, the oldest replaced when full. */
static struct {
	char	ip[INET6_ADDRSTRLEN];
	int	fails;
	time_t	last;
} recent[ADDRS];

/* -- the client's failures ---------------------------------------------- */

static int
recent_find(const char *ip, time_t now, int add)
{
	int free_slot = -1, oldest = 0;

	for (int i = 0; i < ADDRS; i++) {
		if (recent[i].ip[0] != '\0' && now - recent[i].last > FORGET)
			recent[i].ip[0] = '\0';
		if (recent[i].ip[0] != '\0' && strcmp(recent[i].ip, ip) == 0)
			return i;
		if (recent[i].ip[0] == '\0' && free_slot == -1)
			free_slot = i;
		if (recent[i].last < recent[oldest].last)
			oldest = i;
	}
	if (!add)
		return -1;
	if (free_slot == -1)
		free_slot = oldest;
	snprintf(recent[free_slot].ip, sizeof(recent[free_slot].ip), "%s", ip);
	recent[free_slot].fails = 0;
	return free_slot;
}

/* One more failure from ip: the seconds to wait before saying so. */
static int
recent_fail(const char *ip)
{
	time_t now = time(NULL);
	int i = recent_find(ip, now, 1), n;

	recent[i].last = now;
	n = ++recent[i].fails;
	return n > 4 ? DELAY_MAX : (1 << (n - 1)) < DELAY_MAX ?
	    1 << (n - 1) : DELAY_MAX;
}

static void
recent_forget(const char *ip)
{
	int i = recent_find(ip, time(NULL), 0);

	if (i >= 0)
		recent[i].ip[0] = '\0';
}

/* -- the session's side ----------------------------------------------- */

int
session_auth_new(struct session *s)
{
	return (s->auth = calloc(1, sizeof(*s->auth))) == NULL ? -1 : 0;
}

void
session_auth_free(struct session *s)
{
	if (s->auth == NULL)
		return;
	if (s->auth->delay != NULL)
		event_free(s->auth->delay);
	free(s->auth);
	s->auth = NULL;
}

static int
is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	    strncmp(ip, "::ffff:127.", 11) == 0;
}

int
session_auth_offered(const struct session *s)
{
	return s->auth != NULL && s->auth->user[0] == '\0' && (s->tls ||
	    (session_ctx.conf->auth_cleartext_loopback && is_loopback(s->ip)));
}

const char *
session_auth_user(const struct session *s)
{
	return s->auth != NULL && s->auth->user[0] != '\0' ?
	    s->auth->user : NULL;
}

void
session_auth_forget(struct session *s)
{
	if (s->auth != NULL) {
		s->auth->user[0] = '\0';
		s->auth->step = A_NONE;
	}
}

int
session_auth_mail(struct session *s, const char *from)
{
	if (passwd_sender_ok(session_ctx.conf, s->auth->user, from))
		return 0;
	session_error(s, "553 5.7.1 <%s>: Sender address not owned by user "
	    "%s", from, s->auth->user);
	session_refuse(s->ip, "sender not allowed for the user");
	return -1;
}

static void
log_auth(struct session *s, const char *user, const char *mech,
    const char *result)
{
	qlog_event(NULL, "auth", "client", s->ip, "user", user, "mech", mech,
	    "result", result, NULL);
}

/* base64 into out (NUL-terminated, SECRET_MAX): its length, or -1. */
static int
decode(const char *in, unsigned char *out)
{
	size_t len = strlen(in);
	int n, pad = 0;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 >= SECRET_MAX)
		return -1;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in,
	    (int)len)) < 0)
		return -1;
	pad = (in[len - 1] == '=') + (in[len - 2] == '=');
	n -= pad;
	out[n] = '\0';
	return n;
}

/* -- the verdict ------------------------------------------------------- */

static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	session_enter(s, S_HELO);
	session_error(s, "535 5.7.8 Error: authentication failed");
	if (s->auth->fails >= MAX_FAILS && s->state != S_CLOSING) {
		session_reply(s, "421 4.7.0 %s Error: too many failed "
		    "authentications", session_ctx.conf->hostname);
		session_refuse(s->ip, "too many failed authentications");
		session_close(s);
	}
	session_resume(s);
}

/* Log the failure, then answer after the client's delay. */
static void
failed(struct session *s, const char *user, const char *mech)
{
	struct timeval tv = { recent_fail(s->ip), 0 };

	log_auth(s, user, mech, "fail");
	s->auth->fails++;
	session_enter(s, S_WAIT);
	if (s->auth->delay == NULL &&
	    (s->auth->delay = evtimer_new(session_ctx.base, delay_cb,
	    s)) == NULL) {
		delay_cb(-1, 0, s);
		return;
	}
	evtimer_add(s->auth->delay, &tv);
}

static void
check_fn(void *arg)
{
	struct check *c = arg;

	c->ok = passwd_check(c->user, c->pass);
	explicit_bzero(c->pass, sizeof(c->pass));
}

static void
check_done(void *arg)
{
	struct check *c = arg;
	struct session *s = c->job.s;

	if (s != NULL) {
		s->job = NULL;
		if (!c->ok) {
			failed(s, c->user, c->mech);
		} else {
			snprintf(s->auth->user, sizeof(s->auth->user), "%s",
			    c->user);
			recent_forget(s->ip);
			log_auth(s, c->user, c->mech, "ok");
			session_enter(s, S_HELO);
			session_reply(s, "235 2.7.0 Authentication successful");
			session_resume(s);
		}
	}
	free(c);
}

/* Check user's pass on a thread; the session waits in S_WAIT. */
static void
check(struct session *s, const char *user, const char *pass)
{
	struct check *c = calloc(1, sizeof(*c));

	s->auth->step = A_NONE;
	if (c == NULL) {
		session_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	c->job.s = s;
	c->mech = s->auth->mech;
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->pass, sizeof(c->pass), "%s", pass);
	if (work_run(check_fn, check_done, c) != 0) {
		explicit_bzero(c->pass, sizeof(c->pass));
		free(c);
		session_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->job = &c->job;
	session_enter(s, S_WAIT);
}

/* -- the exchange ------------------------------------------------------ */

/* PLAIN: authzid NUL authcid NUL passwd; the authzid empty or the same. */
static void
plain(struct session *s, unsigned char *buf, int n)
{
	char *authz = (char *)buf, *user, *pass;

	if ((user = memchr(buf, '\0', (size_t)n)) == NULL ||
	    (pass = memchr(user + 1, '\0', (size_t)(n - (user + 1 -
	    authz)))) == NULL) {
		s->auth->step = A_NONE;
		session_error(s, "501 5.5.2 Error: malformed PLAIN response");
		return;
	}
	user++;
	pass++;
	if (strlen(user) >= PASSWD_USER_MAX || user[0] == '\0' ||
	    (authz[0] != '\0' && strcmp(authz, user) != 0)) {
		s->auth->step = A_NONE;
		failed(s, user[0] ? user : authz, s->auth->mech);
		return;
	}
	check(s, user, pass);
}

/* One response: the initial one, or a line after 334. */
static void
respond(struct session *s, const char *text)
{
	unsigned char buf[SECRET_MAX];
	int n;

	if (strcmp(text, "*") == 0) {
		s->auth->step = A_NONE;
		session_error(s, "501 5.7.0 Error: authentication aborted");
		return;
	}
	if (strcmp(text, "=") == 0)
		n = 0, buf[0] = '\0';	/* an empty initial response */
	else if ((n = decode(text, buf)) == -1) {
		s->auth->step = A_NONE;
		session_error(s, "501 5.5.2 Error: cannot decode response");
		return;
	}
	switch (s->auth->step) {
	case A_PLAIN:
		plain(s, buf, n);
		break;
	case A_LOGIN_USER:
		if ((size_t)n != strlen((char *)buf) || n == 0 ||
		    n >= PASSWD_USER_MAX) {
			s->auth->step = A_NONE;
			session_error(s, "501 5.5.2 Error: bad user name");
			break;
		}
		memcpy(s->auth->login, buf, (size_t)n + 1);
		s->auth->step = A_LOGIN_PASS;
		session_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
		break;
	case A_LOGIN_PASS:
		if ((size_t)n != strlen((char *)buf))
			failed(s, s->auth->login, s->auth->mech);
		else
			check(s, s->auth->login, (char *)buf);
		s->auth->step = A_NONE;
		break;
	case A_NONE:
		break;
	}
	explicit_bzero(buf, sizeof(buf));
}

int
session_auth_response(struct session *s, const char *line)
{
	if (s->auth == NULL || s->auth->step == A_NONE)
		return 0;
	respond(s, line);
	return 1;
}

void
session_auth_command(struct session *s, const char *arg)
{
	char mech[16];
	const char *initial;
	size_t n = strcspn(arg, " ");

	if (s->auth->user[0] != '\0') {
		session_error(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (!session_auth_offered(s)) {
		session_error(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		session_refuse(s->ip, "AUTH without TLS");
		return;
	}
	snprintf(mech, sizeof(mech), "%.*s", (int)(n < sizeof(mech) ? n :
	    sizeof(mech) - 1), arg);
	initial = arg[n] == ' ' ? arg + n + 1 : NULL;
	if (strcasecmp(mech, "PLAIN") == 0) {
		s->auth->mech = "PLAIN";
		s->auth->step = A_PLAIN;
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		s->auth->mech = "LOGIN";
		s->auth->step = A_LOGIN_USER;
	} else {
		session_error(s, "504 5.5.4 Error: unrecognized "
		    "authentication type");
		return;
	}
	if (initial != NULL)
		respond(s, initial);
	else if (s->auth->step == A_PLAIN)
		session_reply(s, "334 ");
	else
		session_reply(s, "334 VXNlcm5hbWU6");	/* "Username:" */
}
