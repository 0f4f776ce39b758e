/*
 * queue_int.h - private interfaces between the files of queue/: IDs
 * (id.c), the retry schedule (schedule.c), message preparation
 * (submit.c), and the hook through which qlog.c appends to a message's
 * own log (queue.c). Not for use outside queue/.
 */
#ifndef MAILFS_QUEUE_INT_H
#define MAILFS_QUEUE_INT_H

#include <stddef.h>
#include <time.h>

#include "queue/queue.h"

struct conf;

/* --- id.c --- */

#define QUEUE_ID_LEN	22	/* "20261129T030405.123456" */

/* A new ID: UTC time with microseconds, strictly increasing in this
 * process and greater than every ID passed to queue_id_seen. */
void	queue_id_new(char id[QUEUE_ID_LEN + 1]);
/* Note an ID found in the spool (after a restart the clock may be behind). */
void	queue_id_seen(const char *id);
/* 1 if s has the shape of an ID (so it is safe as a file name). */
int	queue_id_valid(const char *s);

/* --- schedule.c --- */

/* When a recipient deferred for the attempts'th time (1, 2, ...) is tried
 * again: conf->retry[attempts - 1], the last delay repeating. */
time_t	schedule_next(const struct conf *c, int attempts, time_t now);
/* 1 if a message that arrived at `arrival` is older than max_age. */
int	schedule_expired(const struct conf *c, time_t arrival, time_t now);
/* "1d2h", "5m", "30s": a duration the way the settings spell it. */
void	schedule_format_duration(time_t secs, char *buf, size_t len);

/* --- submit.c --- */

/* A message made ready to queue: the bytes to store and its envelope. */
struct submit_msg {
	char *data;		/* CRLF, Bcc: removed, Date:/Message-ID: added */
	size_t len;
	char *from;		/* envelope sender */
	char **rcpts;		/* each once: the origin's, then the header's */
	size_t nrcpt;
	int eightbit;
	const char *user;	/* who authenticated (SMTP AUTH), for the log;
				 * NULL none */
};

/*
 * submit_prepare - validate and prepare raw outbox bytes (LF or CRLF),
 * with the envelope of o (NULL: the header's; queue.h). Returns 0, EINVAL
 * or EFBIG (reason set to a short text for the log), or ENOMEM. Needs
 * g_mime_init() to have been called.
 */
int	submit_prepare(const struct conf *c, const char *raw, size_t len,
	    const struct queue_origin *o, struct submit_msg *m, char *reason,
	    size_t reasonlen);
void	submit_free(struct submit_msg *m);
/* The lower-case domain of an address (the part after the last '@'). */
char	*submit_domain(const char *addr);

/* --- queue.c --- */

/* Queue a prepared message (a submission, or a DSN from bounce.c) under a
 * new ID: 0, or an errno (EIO, ENOSPC) with reason set. */
int	queue_enqueue(const struct submit_msg *sm, const char *name, uid_t uid,
	    char id[QUEUE_ID_MAX], char *reason, size_t reasonlen);

/* --- bounce.c --- */

/* One recipient a delivery status notification reports on. */
struct bounce_rcpt {
	const char *addr;
	const char *code;	/* enhanced status code, "" unknown */
	const char *text;	/* the reply or error, NULL none */
	const char *relay;	/* "host[addr]" that said it, NULL unknown */
};
/* What it reports on: the message id from sender, arrived at arrival. */
struct bounce_report {
	const char *hostname;
	const char *id;
	const char *sender;	/* its envelope sender: the DSN's To: */
	time_t arrival;
	time_t until;		/* delayed: retried until then */
	int delayed;		/* Action: delayed, not failed */
	const struct bounce_rcpt *r;
	size_t nr;
	const char *header;	/* the message's header block, LF or CRLF */
	size_t headerlen;
};
/*
 * bounce_build - the RFC 3464 report (multipart/report, built with
 * GMime): the message bytes (CRLF) in *data (g_free), *len set. 0 or
 * ENOMEM. Needs g_mime_init().
 */
int	bounce_build(const struct bounce_report *b, char **data, size_t *len);

/* --- queue.c, for qlog.c --- */

/* Append one finished log line to the own log of outbound message id, if
 * there is such a message. */
void	queue_log_append(const char *id, const char *line, size_t len);

#endif
