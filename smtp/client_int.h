/*
 * client_int.h - the parts of an outbound SMTP session (client.h) shared
 * by its files: client.c runs the protocol (the state machine, its
 * replies and transactions), client_conn.c the connection (targets,
 * connecting, STARTTLS or TLS from the first byte, lifetime),
 * client_auth.c the login to the relayhost. Internal to smtp/.
 */
#ifndef MAILFS_CLIENT_INT_H
#define MAILFS_CLIENT_INT_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "smtp/client.h"
#include "smtp/proto.h"

struct bufferevent;
struct event;
struct event_base;
struct queue_job;

enum state {
	S_CONNECT, S_GREETING, S_EHLO, S_HELO, S_STARTTLS, S_TLS, S_AUTH,
	S_IDLE, S_RSET, S_TXN, S_BODY, S_DOT, S_QUIT
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
	int wrapper;		/* TLS from the first byte (relay_tls) */
	int auth_step;		/* client_auth.c: what AUTH sent last */
	int need_rset;		/* the last transaction did not finish */
	struct event *kick;	/* starts the first connection */
	struct event *idle;
	struct event *deadline;	/* of the step under way */

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

/* client.c: the protocol */
/* Every state change: logged as "smtp RELAY: old -> new". */
void	client_enter(struct client *c, enum state s);
/* What the state is doing, for "lost connection ... while ..." texts. */
const char *client_doing(const struct client *c);
/*
 * client_deadline - the step now under way must be done within secs (one
 * of the smtp_*_timeout settings, RFC 5321 §4.5.3.2): a total, however
 * slowly the server trickles its reply, so a tarpit cannot hold the slot.
 */
void	client_deadline(struct client *c, time_t secs);
void	client_report(struct client *c, size_t i, int class,
	    const char *code, const char *text);
int	client_send_ehlo(struct client *c);
void	client_read_cb(struct bufferevent *bev, void *arg);
void	client_write_cb(struct bufferevent *bev, void *arg);

/* client_conn.c: the connection; the int ones return -1 when c is gone */
void	client_close_file(struct client *c);
int	client_end_session(struct client *c, int class, const char *code,
	    const char *text);
int	client_host_fail(struct client *c, int class, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int	client_trouble(struct client *c, const char *code, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
int	client_start_tls(struct client *c);

/* client_auth.c: AUTH to the relayhost after EHLO. client_auth_start: 1
 * when no login is wanted, 0 when AUTH went out (state S_AUTH), -1 when
 * c is gone. client_auth_reply, for each reply in S_AUTH: 1 when logged
 * in, 0 to wait for the next reply, -1 when c is gone. */
int	client_auth_start(struct client *c);
int	client_auth_reply(struct client *c);

#endif
