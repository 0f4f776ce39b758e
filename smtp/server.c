/*
 * server.c - the inbound SMTP listener (API in server.h): the listening
 * sockets, the limits on connections (smtpd_client_limit in all, where
 * the slowest session's slot is reclaimed for a newcomer; MAX_PER_IP from
 * one address), the TLS context for STARTTLS, and starting and stopping it all with the pool of
 * workers that store messages (queue/maildir_stream.h). Each accepted
 * connection becomes a session (session.h): the commands in
 * session_cmd.c, the message in session_data.c over the DATA stream
 * machine of data.c. The `submission` and `submissions` addresses are
 * listeners too, their sessions in submission mode (the latter with TLS
 * from the first byte); their slow calls run on lib/work.h's threads.
 *
 * The `lmtp` listener (a unix socket or host:port) starts its sessions in
 * SESSION_LMTP. Its socket file replaces a stale one at start (only a
 * socket nobody answers on: any other file there is an error, and so is
 * a live socket) and is removed at stop; it is made 0666, so who may
 * connect is up to the directory it is in.
 * Clients of a unix socket are all "unix": they share the limit on
 * connections in all, not the one per address.
 *
 * Everything here runs on the event thread; the workers hand finished
 * jobs back through an event activated from the worker (evthread
 * locking).
 *
 * Diagnostics: log_warn/log_warnx for the daemon's own trouble (binding,
 * TLS setup, storage errors); the mail log gets "received" and "refused"
 * events through qlog_event, counted in stats.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "lib/work.h"
#include "queue/maildir_stream.h"
#include "smtp/server.h"
#include "smtp/session.h"

#define MAX_PER_IP	20		/* from one client address */
#define WORKERS		32		/* concurrent deliveries */

static struct {
	struct evconnlistener **lis;
	size_t		nlis;
	struct event	*resume;	/* re-enable accepting after EMFILE */
	struct event	*done_ev;	/* a worker finished a job */
	const char	*unix_path;	/* the LMTP socket we made, to unlink */
} srv;

/* On a worker: have the event thread run the finished jobs' callbacks. */
static void
wake(void *arg)
{
	(void)arg;
	event_active(srv.done_ev, EV_READ, 0);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	maildir_stream_reap();
	work_reap();
}

/* -- the listener ------------------------------------------------------ */

/* What a listener's sessions are (its callback argument). */
enum listener_kind { L_SMTP, L_SUBMISSION, L_SUBMISSIONS, L_LMTP };
static const enum listener_kind kinds[] = { L_SMTP, L_SUBMISSION,
    L_SUBMISSIONS, L_LMTP };

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const char *why = NULL;
	int all, same;
	enum listener_kind kind = *(const enum listener_kind *)arg;

	(void)l;
	if (sa->sa_family == AF_UNIX)
		snprintf(ip, sizeof(ip), "unix");
	else
		getnameinfo(sa, (socklen_t)salen, ip, sizeof(ip), NULL, 0,
		    NI_NUMERICHOST);
	session_count(ip, &all, &same);
	/* at smtpd_client_limit the slowest session makes room, so idle or
	 * trickling connections cannot keep a new client out */
	if (same >= MAX_PER_IP && sa->sa_family != AF_UNIX)
		why = "too many connections from this address";
	else if (all >= session_ctx.conf->smtpd_client_limit &&
	    session_reclaim() == -1)
		why = "too many connections";
	if (why == NULL && session_start(fd, ip, kind == L_SMTP ?
	    SESSION_SMTP : kind == L_LMTP ? SESSION_LMTP : SESSION_SUBMISSION,
	    kind == L_SUBMISSIONS) == -1)
		why = "out of memory";
	if (why != NULL) {
		char msg[512];
		int n = snprintf(msg, sizeof(msg), "421 4.7.0 %s Error: %s\r\n",
		    session_ctx.conf->hostname, why);

		if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("smtp %s: %s", ip, strerror(errno));
		shutdown(fd, SHUT_WR);
		evutil_closesocket(fd);
		session_refuse(ip, why);
	}
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

/* l (NULL: failed) into srv.lis: -1 if it is not there */
static int
add_listener(struct evconnlistener *l)
{
	struct evconnlistener **v;

	if (l == NULL)
		return -1;
	evconnlistener_set_error_cb(l, accept_error_cb);
	if ((v = realloc(srv.lis, (srv.nlis + 1) * sizeof(*v))) == NULL) {
		evconnlistener_free(l);
		return -1;
	}
	srv.lis = v;
	srv.lis[srv.nlis++] = l;
	return 0;
}

/* 1 if something accepts connections on the socket at sun */
static int
answers(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd == -1)
		return 0;
	ok = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return ok;
}

/* lmtp = unix:PATH */
static int
listen_unix(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	evutil_socket_t fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		/* left by a daemon that did not stop, unless one answers */
		if (answers(&sun)) {
			log_warnx("lmtp: listen unix:%s: in use", path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("lmtp: listen unix:%s", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	srv.unix_path = path;
	if (chmod(path, 0666) == -1)
		log_warn("lmtp: chmod %s", path);
	if (add_listener(evconnlistener_new(session_ctx.base, accept_cb,
	    (void *)&kinds[L_LMTP], LEV_OPT_CLOSE_ON_FREE, 128, fd)) ==
	    -1) {
		log_warn("lmtp: listen unix:%s", path);
		return -1;	/* the fd with it, or not made */
	}
	return 0;
}

static int
listen_on(const struct conf_addr *a, const enum listener_kind *kind)
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
		struct evconnlistener *l;
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
		    (l = evconnlistener_new(session_ctx.base, accept_cb,
		    (void *)kind, LEV_OPT_CLOSE_ON_FREE, 128, fd)) == NULL) {
			log_warn("smtp: listen %s:%s", a->host, port);
			close(fd);
			break;
		}
		if (add_listener(l) == -1)
			break;
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
	/* TLS 1.3 with its default suites; TLS 1.2 only with forward
	 * secrecy and AEAD (CONF_TLS_CIPHERS), unless the operator widens it */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, c->smtpd_tls_ciphers != NULL ?
	    c->smtpd_tls_ciphers : CONF_TLS_CIPHERS) != 1) {
		log_warnx("smtp: smtpd_tls_ciphers: %s",
		    session_tls_reason(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_warnx("smtp: tls_cert %s / tls_key %s: %s", c->tls_cert,
		    c->tls_key, session_tls_reason(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
server_start(struct event_base *base, const struct conf *c)
{
	session_ctx.conf = c;
	session_ctx.base = base;
	if (c->tls_cert != NULL && c->tls_key != NULL &&
	    (session_ctx.ssl = tls_context(c)) == NULL)
		return -1;
	srv.done_ev = event_new(base, -1, 0, done_cb, NULL);
	srv.resume = evtimer_new(base, resume_cb, NULL);
	if (srv.done_ev == NULL || srv.resume == NULL)
		goto fail;
	if (maildir_stream_start(WORKERS, wake, NULL) == -1)
		goto fail;
	work_start(wake, NULL);
	for (size_t i = 0; i < c->nlisten; i++)
		if (listen_on(&c->listen[i], &kinds[L_SMTP]) == -1)
			goto fail;
	for (size_t i = 0; i < c->nsubmission; i++)
		if (listen_on(&c->submission[i], &kinds[L_SUBMISSION]) == -1)
			goto fail;
	for (size_t i = 0; i < c->nsubmissions; i++)
		if (listen_on(&c->submissions[i], &kinds[L_SUBMISSIONS]) == -1)
			goto fail;
	if (c->lmtp_path != NULL && listen_unix(c->lmtp_path) == -1)
		goto fail;
	if (c->lmtp.port != 0 && listen_on(&c->lmtp, &kinds[L_LMTP]) == -1)
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
	if (srv.unix_path != NULL)
		unlink(srv.unix_path);
	srv.unix_path = NULL;
	session_free_all();
	maildir_stream_stop();
	work_stop();
	if (srv.done_ev != NULL)
		event_free(srv.done_ev);
	if (srv.resume != NULL)
		event_free(srv.resume);
	srv.done_ev = srv.resume = NULL;
	if (session_ctx.ssl != NULL)
		SSL_CTX_free(session_ctx.ssl);
	session_ctx.ssl = NULL;
	session_ctx.conf = NULL;
}
