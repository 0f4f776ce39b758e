/*
 * session.h - the inbound SMTP session, internal to smtp/: the listener
 * (server.c) starts sessions on the connections it accepts; session.c
 * runs them (state, replies, errors, input, lifetime), session_cmd.c
 * answers their commands, session_data.c takes their messages,
 * session_etrn.c answers ETRN.
 *
 * A session has a mode, fixed by its listener: SMTP takes mail for our
 * domains into the Maildir; submission (RFC 6409) takes mail to anywhere
 * from the users of the passwd file once they have logged in
 * (session_auth.c) and queues it for delivery (session_submit.c); LMTP
 * is SMTP's final delivery behind another MTA, answering each recipient.
 *
 * Every state change goes through session_enter, which logs it at debug
 * level ("smtp IP: old -> new").
 */
#ifndef MAILFS_SESSION_H
#define MAILFS_SESSION_H

#include <stddef.h>
#include <sys/queue.h>
#include <netinet/in.h>

#include <event2/util.h>
#include <openssl/ssl.h>

#include "queue/maildir.h"
#include "smtp/addr.h"
#include "smtp/data.h"

enum session_state {
	S_INIT,		/* no HELO/EHLO yet */
	S_HELO,		/* ready for MAIL */
	S_MAIL,		/* MAIL given */
	S_RCPT,		/* at least one RCPT accepted */
	S_DATA,		/* reading the message */
	S_FLUSH,	/* a chunk is with a worker: input waits */
	S_WAIT,		/* a worker is storing the message or checking a
			 * password, or a failed login's delay runs */
	S_CLOSING,	/* last reply on its way, then free */
	S_SHUTDOWN	/* TLS close_notify sent, draining to the socket */
};
#define ST(x)	(1u << (x))

enum session_mode {
	SESSION_SMTP,		/* mail for our domains, into the Maildir */
	SESSION_SUBMISSION,	/* AUTH, then mail to anywhere, into the queue */
	SESSION_LMTP		/* `lmtp` (RFC 2033): LHLO, one reply per
				 * recipient, into the Maildir */
};

struct maildir_stream;
struct session_auth;

/* The start of a job a session has on a thread (lib/work.h): s becomes
 * NULL when the session is freed first, and the job's done then only
 * frees the job. */
struct session_job {
	struct session	*s;
};

struct session {
	TAILQ_ENTRY(session) entry;
	struct bufferevent *bev;
	struct event	*linger;
	int		lingered;
	struct event	*deadline;	/* smtpd_timeout for the next step */
	unsigned long long progress;	/* when it last made progress */
	size_t		block;		/* DATA octets since */
	enum session_state state;
	enum session_mode mode;
	struct session_auth *auth;	/* submission: the login */
	struct session_job *job;	/* out on a thread, or NULL */
	char		ip[INET6_ADDRSTRLEN];	/* "unix": an LMTP socket */
	char		helo[256];
	/*
	 * Flags, not states: each holds across several states. esmtp and
	 * tls say how the client talks; skipping (the rest of an overlong
	 * command line is discarded) keeps the protocol state it came in;
	 * eof (the client shut its sending side) lets every state finish
	 * what was said before it closes.
	 */
	unsigned	esmtp:1, tls:1, skipping:1, eof:1;
	int		errors, junk;

	/* the transaction */
	char		from[ADDR_PATH_MAX + 1];	/* "" for <> */
	char		(*rcpt)[ADDR_PATH_MAX + 1];
	size_t		nrcpt;
	unsigned	smtputf8:1;

	/* the message */
	struct evbuffer	*msg;		/* not yet written; NULL: discarding */
	struct maildir_stream *stream;	/* its file, NULL before DATA */
	int		werr;		/* a write job's errno */
	char		id[MAILDIR_ID_MAX];
	struct data_parser data;
};

/* What every session shares, set by server_start. */
struct session_ctx {
	const struct conf *conf;
	struct event_base *base;
	SSL_CTX		*ssl;		/* NULL: no STARTTLS */
};
extern struct session_ctx session_ctx;

/* session.c: lifetime, seen by the listener */
/* -1 when out of memory (fd untouched), else 0 (fd taken); tls: TLS
 * from the first byte (session_ctx.ssl) */
int	session_start(evutil_socket_t fd, const char *ip,
	    enum session_mode mode, int tls);
/* sessions in all and from ip, those closing left out */
void	session_count(const char *ip, int *all, int *same);
/* Close a session of the address holding the most, the one that made
 * progress least recently (421 4.4.2), to give its slot to a new client:
 * 0, or -1 if none can be closed. */
int	session_reclaim(void);
void	session_free_all(void);
void	session_refuse(const char *ip, const char *reason);
const char *session_tls_reason(unsigned long e);

/* session.c: for the commands and the message */
void	session_enter(struct session *s, enum session_state state);
void	session_reply(struct session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	session_error(struct session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	session_junk(struct session *s);
void	session_close(struct session *s);
void	session_reset(struct session *s);
void	session_setup_bev(struct session *s);
void	session_resume(struct session *s);
/* A command line (octets 0) or that many DATA octets came in: a new
 * deadline after the line or every DATA_BLOCK. */
void	session_progress(struct session *s, size_t octets);

/* session_cmd.c: answer one command line (CRLF and trailing blanks cut) */
void	session_command(struct session *s, char *line);

/* session_etrn.c: ETRN node (RFC 1985), from etrn_clients only */
void	session_etrn(struct session *s, const char *arg);

/* session_data.c: the message */
void	session_data_begin(struct session *s);
int	session_data_step(struct session *s);

/* session_auth.c: AUTH PLAIN and LOGIN (RFC 4954) in submission mode */
int	session_auth_new(struct session *s);	/* -1 out of memory */
void	session_auth_free(struct session *s);
void	session_auth_command(struct session *s, const char *arg);
/* 1 if a line is the answer to a 334 challenge: then it is taken */
int	session_auth_response(struct session *s, const char *line);
int	session_auth_offered(const struct session *s);	/* in EHLO */
const char *session_auth_user(const struct session *s);	/* NULL: none */
void	session_auth_forget(struct session *s);	/* STARTTLS */
/* MAIL FROM in submission mode: 0, or -1 with the refusal given */
int	session_auth_mail(struct session *s, const char *from);

/* session_submit.c: the message of a submission session to the queue */
void	session_submit(struct session *s);

#endif
