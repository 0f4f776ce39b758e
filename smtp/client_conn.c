/*
 * client_conn.c - the connection of an outbound SMTP session (API in
 * client.h, the protocol in client.c): trying the targets in turn,
 * connecting, STARTTLS with its certificate checks (and the cleartext
 * retry of tls=may) or TLS from the first byte (relay_tls=wrapper), the
 * transport's events, creating and ending a session, and the client TLS
 * context.
 */
#include "smtp/client_int.h"

#include <arpa/inet.h>
#include <errno.h>
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

static int	try_target(struct client *c);
static void	event_cb(struct bufferevent *bev, short what, void *arg);
static SSL	*new_ssl(struct client *c);

void
client_close_file(struct client *c)
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
	if (c->deadline != NULL)
		evtimer_del(c->deadline);
}

static void
client_destroy(struct client *c)
{
	drop_connection(c);
	client_close_file(c);
	if (c->kick != NULL)
		event_free(c->kick);
	if (c->idle != NULL)
		event_free(c->idle);
	if (c->deadline != NULL)
		event_free(c->deadline);
	free(c->rstate);
	free(c->t);
	free(c);
}

/* The end: tell the owner, then free. Always returns -1. */
int
client_end_session(struct client *c, int class, const char *code,
    const char *text)
{
	struct queue_job *job = c->job;

	c->job = NULL;
	client_close_file(c);
	drop_connection(c);
	c->ops->closed(c, job, class, code, text, c->relay, c->arg);
	client_destroy(c);
	return -1;
}

/* A failure of this target before any transaction: on to the next. */
int
client_host_fail(struct client *c, int class, const char *code,
    const char *fmt, ...)
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

/*
 * trouble - the connection broke, timed out or spoke nonsense. Before the
 * session was ready: the next target. In a transaction: its recipients not
 * yet answered are deferred. Always returns -1.
 */
int
client_trouble(struct client *c, const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	switch (c->state) {
	case S_CONNECT: case S_GREETING: case S_EHLO: case S_HELO:
	case S_STARTTLS: case S_TLS: case S_AUTH:
		client_host_fail(c, 4, code, "%s", text);
		return -1;
	case S_IDLE: case S_QUIT:
		return client_end_session(c, 0, NULL, NULL);
	case S_RSET: case S_TXN: case S_BODY: case S_DOT:
		log_debug("smtp %s: %s", c->relay, text);
		for (i = 0; i < c->job->nrcpt; i++)
			client_report(c, i, 4, code, text);
		break;
	}
	return client_end_session(c, 0, NULL, NULL);
}

static int
is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* relay_tls=wrapper: a socket that speaks TLS from the first byte; its
 * "connected" event comes when the handshake is done. */
static struct bufferevent *
wrapper_new(struct client *c)
{
	struct bufferevent *b;
	SSL *ssl;

	if ((ssl = new_ssl(c)) == NULL)
		return NULL;
	b = bufferevent_openssl_socket_new(c->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (b == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
	return b;
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
		/* a new target starts afresh: logged as "connecting" below,
		 * not as a transition from the last one's state */
		c->state = S_CONNECT;
		log_debug("smtp %s: connecting%s", c->relay,
		    c->cleartext ? " without TLS" : "");
		if ((c->wrapper = conf_relay_wrapper(c->conf)))
			c->bev = wrapper_new(c);
		else
			c->bev = bufferevent_socket_new(c->base, -1,
			    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			return client_end_session(c, 4, "4.3.0",
			    "cannot create a connection or its TLS session");
		bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
		    event_cb, c);
		client_deadline(c, c->conf->smtp_connect_timeout);
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
	return client_end_session(c, c->eclass, c->ecode, c->etext);
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

/* A TLS session for the current target: its name for SNI, and with
 * tls=verify a certificate that must match it. */
static SSL *
new_ssl(struct client *c)
{
	const char *host = c->t[c->cur].host;
	SSL *ssl;

	if (c->tls_ctx == NULL || (ssl = SSL_new(c->tls_ctx)) == NULL)
		return NULL;
	if (!is_ip(host))
		SSL_set_tlsext_host_name(ssl, host);
	if (c->conf->tls == CONF_TLS_VERIFY) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		if (is_ip(host))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		else
			SSL_set1_host(ssl, host);
	}
	return ssl;
}

int
client_start_tls(struct client *c)
{
	struct bufferevent *tb;
	SSL *ssl;

	/* Anything the server sent after its 220 came before the TLS
	 * handshake: an injection attempt (CVE-2011-0411). */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		return client_trouble(c, "4.7.0",
		    "%s sent data after 220 to STARTTLS", c->relay);
	if ((ssl = new_ssl(c)) == NULL)
		return client_trouble(c, "4.7.0",
		    "cannot create a TLS session");
	tb = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		return client_trouble(c, "4.7.0", "cannot start TLS");
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	c->bev = tb;
	bufferevent_setcb(tb, client_read_cb, client_write_cb, event_cb, c);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	client_enter(c, S_TLS);
	client_deadline(c, c->conf->smtp_helo_timeout);
	return 0;
}

/* Why the TLS handshake failed, from OpenSSL's error queue; 0 when
 * OpenSSL has no reason and out holds errno's (the connection failed). */
static int
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
	else {
		snprintf(out, len, "%s", errno ? strerror(errno) :
		    "connection closed");
		return 0;
	}
	return 1;
}

/* The step under way took longer than its deadline. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd, (void)what;
	if (c->state == S_CONNECT)
		client_host_fail(c, 4, "4.4.1", "connect to %s: timed out",
		    c->relay);
	else if (c->state == S_IDLE)
		client_quit(c);
	else
		client_trouble(c, "4.4.2", "conversation with %s timed out "
		    "while %s", c->relay, client_doing(c));
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
			if (c->wrapper) {
				c->tls = 1;
				log_debug("smtp %s: TLS established", c->relay);
			}
			client_enter(c, S_GREETING);
			proto_reply_init(&c->reply);
			client_deadline(c, c->conf->smtp_helo_timeout);
			bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		} else if (c->state == S_TLS) {
			c->tls = 1;
			log_debug("smtp %s: TLS established", c->relay);
			client_send_ehlo(c);
		}
		return;
	}
	if (c->state == S_TLS) {
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
		client_host_fail(c, 4, "4.7.5",
		    "TLS handshake with %s failed: %s", c->relay, why);
		return;
	}
	if (c->state == S_CONNECT && c->wrapper) {
		/* the connect, or the handshake right after it */
		errno = err;
		if (tls_error(c, why, sizeof(why)))
			client_host_fail(c, 4, "4.7.5", "TLS handshake with %s "
			    "failed (TLS from the first byte): %s", c->relay,
			    why);
		else
			client_host_fail(c, 4, "4.4.1", "connect to %s: %s",
			    c->relay, why);
		return;
	}
	if (c->state == S_CONNECT) {
		client_host_fail(c, 4, "4.4.1", "connect to %s: %s", c->relay,
		    evutil_socket_error_to_string(err));
		return;
	}
	client_trouble(c, "4.4.2", "lost connection with %s while %s", c->relay,
	    client_doing(c));
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
	c->deadline = evtimer_new(base, deadline_cb, c);
	if (c->kick == NULL || c->idle == NULL || c->deadline == NULL)
		goto nomem;
	event_active(c->kick, EV_TIMEOUT, 0);
	return c;
nomem:
	if (c != NULL)
		client_destroy(c);
	log_warnx("smtp: out of memory");
	return NULL;
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
