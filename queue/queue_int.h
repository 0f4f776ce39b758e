/*
 * queue_int.h - private interfaces between the files of queue/: IDs
 * (id.c), the retry schedule (schedule.c), message preparation
 * (submit.c), and the hook through which qlog.c appends to a message's
 * own log (queue.c). Not for use outside queue/.
 */
#ifndef MAILFS_QUEUE_INT_H
#define MAILFS_QUEUE_INT_H

#include <stddef.h>
#include <stdint.h>
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

/* --- check.c: the integrity of a queued message --- */

/* Room for a seal name, "seal-SIZE-CRC". */
#define CHECK_SEAL_MAX	40

/* crc (0 to start) continued over len bytes at p: zlib's CRC-32. */
uint32_t check_crc(uint32_t crc, const void *p, size_t len);
/* 0 if a message of got bytes with CRC got_crc is the one a state of want
 * bytes (and want_crc, if has_crc) describes; else -1 with why set. */
int	check_verdict(size_t want, int has_crc, uint32_t want_crc, size_t got,
	    uint32_t got_crc, char *why, size_t whylen);
void	check_seal_name(size_t size, uint32_t crc, char name[CHECK_SEAL_MAX]);
/* 0 with size and crc set if name is a seal name, else -1. */
int	check_seal_parse(const char *name, size_t *size, uint32_t *crc);
/* Length and CRC of the whole file fd (read with pread): 0 or an errno. */
int	check_fd(int fd, size_t *len, uint32_t *crc);
/* The seal in entry directory dfd: 1 (size, crc set), 0 for a spare's
 * seal never renamed (a submission cut short), -1 for none (an entry of
 * an older version) or an error. */
int	check_find_seal(int dfd, size_t *size, uint32_t *crc);
/* 0 if the message file at path, of got bytes with CRC got_crc, is the
 * one queued (size, and want_crc if has_crc, from its state; without, its
 * seal if it has one), else -1 with why set. */
int	check_message(const char *path, size_t size, int has_crc,
	    uint32_t want_crc, uint32_t got_crc, size_t got, char *why,
	    size_t whylen);
/* SPOOL/corrupt, made if missing: an fd, or -1 with errno. */
int	check_corrupt_dir(void);
/* Entry id of queue/ failed a check (why): out of the index and moved to
 * SPOOL/corrupt/, logged; it is never sent. */
void	queue_set_aside(const char *id, const char *why);
/* check_message for the message of queue/id: 0, or EBADMSG once it is
 * set aside. */
int	queue_message_check(const char *id, const char *path, size_t size,
	    int has_crc, uint32_t want_crc, uint32_t got_crc, size_t got);

/* --- queue.c, for qlog.c --- */

/* Append one finished log line to the own log of outbound message id, if
 * there is such a message. */
void	queue_log_append(const char *id, const char *line, size_t len);

#endif
