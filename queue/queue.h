/*
 * queue.h - the durable outbound queue: submission of messages written into
 * outbox/, per-recipient delivery state, the retry schedule, and the sent/
 * and failed/ archives. Knows no FUSE and no sockets.
 *
 * On disk (SPOOL = conf->spool):
 *	SPOOL/tmp/ID/		being written; removed at start
 *	SPOOL/queue/ID/		message, state, log  (message never changes)
 *	SPOOL/sent/ID/, SPOOL/failed/ID/	finished, same files
 * Every file is written as tmp + fsync + rename, then the directory is
 * fsync'd (concurrent submitters share one directory fsync: group commit).
 * "sending" lives only in memory: after a crash or stop a recipient that
 * was being sent is simply deferred/queued again (better twice than never).
 *
 * Thread-safe: the FUSE threads and the event thread call in concurrently.
 */
#ifndef MAILFS_QUEUE_H
#define MAILFS_QUEUE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

struct conf;
struct msg;

#define QUEUE_ID_MAX	64	/* bytes for an ID, with its NUL */

enum queue_where { QUEUE_QUEUE, QUEUE_SENT, QUEUE_FAILED };

enum queue_rcpt_state {
	QUEUE_RCPT_QUEUED, QUEUE_RCPT_SENDING, QUEUE_RCPT_DEFERRED,
	QUEUE_RCPT_DELIVERED, QUEUE_RCPT_FAILED
};

/* Open (creating) the spool, clean tmp/, reload every entry. -1 + errno. */
int	queue_open(const struct conf *c);
void	queue_close(void);
/*
 * The mail system: local delivery (local.c: recipients in conf's domains
 * are written into the inbox Maildir, which must be open, by a thread of
 * the queue) and delivery status notifications (bounce.c). Start it once
 * the Maildir is open; stop it before the Maildir is closed (queue_close
 * stops it too). Until it runs, local recipients wait and failures are
 * recorded without a DSN.
 * queue_local_start: 0, or -1 + errno.
 */
int	queue_local_start(void);
/* 1 if domain d, or its other IDN spelling (U-labels or A-labels), is one
 * of c's domains: mail to it is ours (the listener's relay check uses it
 * too). Case-insensitive; safe in any thread. */
int	queue_domain_is_local(const struct conf *c, const char *d);
void	queue_local_stop(void);

/*
 * Who submitted a message and, for sendmail(8), its explicit envelope.
 * A NULL origin: uid unknown (-1), the envelope from the header.
 */
struct queue_origin {
	uid_t uid;		/* the writer's uid, recorded; (uid_t)-1: unknown */
	const char *from;	/* envelope sender ("" for <>); NULL: From: */
	char *const *rcpts;	/* envelope recipients (bare names qualified) */
	size_t nrcpt;
	int header_rcpts;	/* To:/Cc:/Bcc: are recipients too (sendmail -t) */
	const char *user;	/* SMTP AUTH user (submission), logged as
				 * user=; NULL none */
};

/*
 * queue_submit - validate, prepare and durably queue one message written
 * into outbox/ (or picked up from SPOOL/maildrop) under name. Parses with
 * GMime: recipients from To/Cc/Bcc (each once; or o's), sender from
 * From: (or o's), bare names qualified with hostname, Bcc: removed,
 * Date: and Message-ID: added when missing, line ends made CRLF. Returns
 * 0 once fsync'd (id set), or EINVAL (not a message, no From:, no
 * recipient, bad address), EFBIG (over max_size), ENOSPC or EIO; a
 * `rejected` log line names the file and the reason, a `queued` line
 * names from, rcpts, size, name and uid (and user when o gives one).
 */
/*
 * queue_submit_hold, queue_submit_unhold - around work that may end in
 * this thread's queue_submit (a writer's close being looked at): sync
 * rounds about to start wait for it (briefly), so that writers closing
 * at once share them. queue_submit takes the hold over; unhold drops it
 * when no submission came.
 */
void	queue_submit_hold(void);
void	queue_submit_unhold(void);
int	queue_submit(const char *data, size_t len, const char *name,
	    const struct queue_origin *o, char id[QUEUE_ID_MAX]);

/* Log a `rejected` line for a file refused before submission (e.g. EFBIG at
 * write, or a writer that died). */
void	queue_reject(const char *name, const char *reason);

/* --- the view the fs renders --- */

/* Sorted snapshot of the IDs in one place, as one block (what a listing
 * of 100,000 holds at once): the n IDs, each ended by its NUL, one after
 * another, *len bytes; free. */
int	queue_names(enum queue_where w, char **ids, size_t *len, size_t *n);
/*
 * The files of every queue/, sent/ and failed/ entry, in listing order
 * (interface.md): the one list the fs shows (names, modes, caching) and
 * queue_render serves. A dynamic file changes while it exists, so the fs
 * must not cache it (direct_io, no attribute timeout).
 */
enum queue_file_source {
	QUEUE_FILE_DISK,	/* a file in the entry's directory */
	QUEUE_FILE_MEMORY,	/* rendered from the entry in memory (text) */
	QUEUE_FILE_CTL		/* takes verbs (queue_ctl), reads empty */
};
struct queue_file {
	const char *name;
	mode_t mode;		/* 0444; 0200 for ctl */
	int dynamic;
	enum queue_file_source source;
	void (*text)(const struct msg *m, FILE *f);	/* QUEUE_FILE_MEMORY */
};
extern const struct queue_file queue_files[];
extern const size_t queue_nfiles;
/* The entry file called name, or NULL. */
const struct queue_file *queue_file_find(const char *name);

/* 0 if the entry exists there (mtime: when it arrived there), else ENOENT. */
int	queue_lookup(enum queue_where w, const char *id, time_t *mtime);
/*
 * queue_render - the contents of one file of an entry (queue_files).
 * *buf is malloc'd. For a QUEUE_FILE_DISK file that is not dynamic
 * ("message") and path given, *buf is NULL and *path set instead (served
 * from disk). Returns 0, ENOENT (no entry / no such file).
 */
int	queue_render(enum queue_where w, const char *id, const char *file,
	    char **buf, size_t *len, char path[PATH_MAX]);
/* Size of the file without rendering it all (for stat). */
int	queue_file_size(enum queue_where w, const char *id, const char *file,
	    size_t *len);
/* Verb on ID/ctl: "retry" (queue/ only: due now) or "delete" (drop the
 * entry; logged `deleted`). 0, ENOENT or EINVAL. */
int	queue_ctl(enum queue_where w, const char *id, const char *verb);
/* rm -r sent/ID or failed/ID: 0, ENOENT; EPERM for QUEUE_QUEUE. */
int	queue_forget(enum queue_where w, const char *id);
/* ctl "flush": every deferred recipient is due now. */
void	queue_flush(void);
/* ETRN: the deferred recipients in domain node (lower case), and with sub
 * in its subdomains too, are due now. Returns how many messages still
 * wait for such a recipient (0: nothing queued for it), -1 if the queue
 * is not open. */
int	queue_flush_domain(const char *node, int sub);
/* After a SIGHUP changed the settings: `domains` decides which recipients
 * are delivered locally, so the queue sorts its waiting ones again. */
void	queue_reload(void);
/* Drop sent/ and failed/ entries older than keep; called periodically. */
void	queue_expire(time_t now);

/* Free space in the spool (queue/space.c): bytes available, as a percent
 * of the file system, and min_free in bytes. 0, or -1 if unknown. */
int	queue_space(unsigned long long *avail, int *pct,
	    unsigned long long *keep);
/* 0 if need bytes fit in the spool with min_free left over, else ENOSPC:
 * the check before accepting new mail. */
int	queue_space_check(size_t need);

struct queue_gauges {
	long queue, deferred, sending;
};
void	queue_gauges(struct queue_gauges *g);

/* fn(arg) is called (from any thread, without queue locks held) whenever
 * there may be new due work: a submission, a flush, a retry. */
void	queue_set_wakeup(void (*fn)(void *), void *arg);

/*
 * fn(w, id, done) is called around every move or removal of an entry out
 * of place w (delivered to sent/ or failed/, deleted, expired): with done
 * 0 just before it leaves, done 1 after (whether it left or not), from the
 * thread that moves it (the writer, or a request's: ctl delete), without
 * queue.mu but maybe with the entry's wmu, so fn must not wait for
 * anything. The fs uses it to have the kernel forget the entry's name.
 * Set once, before queue_open.
 */
void	queue_set_leaving(void (*fn)(enum queue_where w, const char *id,
	    int done));
/*
 * fn(id) is called after every change of what queue/ID/status shows (a
 * recipient's state, attempts, reply or due time), with queue.mu held:
 * fn must not wait nor call into the queue. The fs uses it to have the
 * kernel forget the status's size. Set once, before queue_open.
 */
void	queue_set_changed(void (*fn)(const char *id));

/* --- the delivery side (event thread) --- */

/* One message to the recipients of one domain (or all of them, with a
 * relayhost), its recipients marked sending until reported. */
struct queue_job {
	char id[QUEUE_ID_MAX];
	char *from;		/* envelope sender, "" for <> */
	char *domain;		/* lower-case recipient domain; NULL via relayhost */
	char **rcpts;
	size_t nrcpt;
	char *path;		/* the message file to send (CRLF, not dot-stuffed) */
	size_t size;
	int eightbit;		/* the body has octets >= 0x80 */
	int has_crc;		/* crc known (older entries: size only) */
	uint32_t crc;		/* CRC-32 of the message file */
};
/*
 * queue_job_check - before a byte of job's message, open as fd, is sent:
 * 0 if it is the message that was queued (its size and CRC-32 those the
 * state recorded). Otherwise the entry is moved to SPOOL/corrupt/ and
 * logged, its recipients are no longer the job's to report, and the
 * result is EBADMSG (or an errno if fd could not be read: try later).
 */
int	queue_job_check(const struct queue_job *job, int fd);

/* Take every due job (at most max); *next = when the next one falls due
 * (0: none pending). Returns the number of jobs put in jobs[]. */
size_t	queue_take_due(time_t now, struct queue_job **jobs, size_t max,
	    time_t *next);
/*
 * queue_report - the outcome for one recipient of a job: class 2
 * (delivered), 4 (deferred: retry on the schedule, failed past max_age) or
 * 5 (failed). code is the enhanced status code ("2.0.0", "4.4.1"), text the
 * reply or error, relay the host (and address) that said it, or NULL.
 * Logs delivered/deferred/failed and returns at once: the queue's writer
 * thread persists the state (fsync) and moves the message to sent/ or
 * failed/ when its last recipient is done, so the event thread never
 * waits for the disk (a crash before that only means a recipient is tried
 * again). Until the move the entry stays listed in queue/.
 */
void	queue_report(const struct queue_job *job, const char *rcpt, int class,
	    const char *code, const char *text, const char *relay);
/* Recipients of the job not reported are deferred ("4.4.2" lost); frees. */
void	queue_job_done(struct queue_job *job);
/* At shutdown: recipients not reported go back as they were, with no
 * attempt counted (tried again at the next start); frees. */
void	queue_job_release(struct queue_job *job);

#endif
