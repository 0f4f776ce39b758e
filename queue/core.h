/*
 * core.h - the outbound queue's shared state and the operations on it
 * that its files share (private to queue/). queue.c owns the state, the
 * index and the disk moves of an entry; writer.c saves states; view.c renders entries and takes
 * the fs's verbs; jobs.c hands out and takes back delivery jobs; local.c
 * delivers to our own domains; bounce.c queues delivery status
 * notifications; load.c reloads the spool at start.
 *
 * Locking (see queue.c): queue.mu guards the memory and is never held
 * across an fsync; disk work on one entry is serialized by its wmu, taken
 * before queue.mu.
 */
#ifndef MAILFS_QUEUE_CORE_H
#define MAILFS_QUEUE_CORE_H

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <glib.h>

#include "queue/entry.h"
#include "queue/queue.h"
#include "queue/spool.h"

struct queue_state {
	pthread_mutex_t mu;
	const struct conf *conf;
	char *spool;
	int spoolfd, tmpfd;
	struct spool_dir dirs[3];	/* by enum queue_where */
	struct spool_dir fs;		/* syncfs rounds of the spool */
	GHashTable *index;		/* ID -> struct msg */
	GPtrArray *queued;		/* the queue/ entries, sorted by ID */
	void (*wakeup)(void *);
	void *wakeup_arg;
	/* The writer thread: persists reported state off the event thread. */
	pthread_t writer;
	pthread_cond_t writer_cv;
	GQueue unsaved;			/* entries with pending set */
	GQueue unwritten;		/* entries with dirty set: to retry */
	time_t retry_at;		/* when to retry them */
	int backoff;			/* seconds until the next retry */
	int writer_stop;
	/* The local delivery thread (local.c). */
	pthread_t local;
	pthread_cond_t local_cv;
	int local_running, local_stop, local_kicked;
	int notify;	/* DSNs on: from queue_local_start to queue_close */
};

extern struct queue_state queue;
/* The directory of each place, by enum queue_where. */
extern const char *const queue_dir_names[];

/* --- queue.c --- */

/* Caller holds queue.mu. Index m (and list it, if queued). */
void	queue_index_add(struct msg *m);
/* Caller holds queue.mu. Drop a reference to m (freed with the last). */
void	queue_msg_unref(struct msg *m);
/* Caller holds queue.mu and m->wmu. Rename m's directory into place to
 * (and the index with it): 0 or an errno. */
int	queue_entry_move(struct msg *m, enum queue_where to);
/* Caller holds queue.mu. The entry id in place w, or NULL. */
struct msg *queue_find(enum queue_where w, const char *id);
/* Where m belongs: queue/ until every recipient is finished, then failed/
 * if any failed, else sent/. */
enum queue_where queue_destination(const struct msg *m);
/* Call the wakeup hook (without queue.mu held). */
void	queue_wake(void);
/* Call the leaving hook (queue_set_leaving), without queue.mu held. */
void	queue_leaving(enum queue_where w, const char *id, int done);
/* Caller holds queue.mu. Call the changed hook (queue_set_changed) for m
 * (queue_due_update does, after every change of a recipient). */
void	queue_changed(const struct msg *m);
/* Take entry id out of place w and off the disk. 0, ENOENT or EIO. */
int	queue_drop(enum queue_where w, const char *id, int durable);
/* Take entry id out of place w (and the index), renamed into directory
 * tofd under its ID; not synced. 0, ENOENT or an errno. */
int	queue_take_out(enum queue_where w, const char *id, int tofd);
/* Caller holds queue.mu. SPOOL/PLACE/ID/file into path. */
void	queue_entry_path(const struct msg *m, const char *file,
	    char path[PATH_MAX]);

/* --- writer.c --- */

/* Write m's state and move it to where it belongs, now (see writer.c). */
int	queue_save(struct msg *m);
/* Caller holds queue.mu. Have the writer thread save m soon. */
void	queue_save_later(struct msg *m);
/* Caller holds queue.mu. Retry failed state writes now, not after the
 * backoff. */
void	queue_retry_writes(void);
/* The writer thread's body (queue_open starts it). */
void	*queue_writer_main(void *arg);

/* --- jobs.c --- */

/* Which recipients of a message one job takes. */
enum job_route {
	JOB_DOMAIN,	/* those of one remote domain */
	JOB_RELAY,	/* every remote one, through the relayhost */
	JOB_LOCAL	/* those in our domains (local.c) */
};
/* Caller holds queue.mu. The job for the due recipients of m that go the
 * way recipient first does, marked sending; NULL without memory. */
struct queue_job *queue_job_make(struct msg *m, size_t first, time_t now,
	    enum job_route route);
void	queue_job_free(struct queue_job *j);

/* --- due.c --- */

/* The two ways out of the queue, each with its heap of due entries. */
enum due_route {
	DUE_REMOTE,	/* by SMTP (jobs.c, for smtp/) */
	DUE_LOCAL,	/* into our inbox (local.c) */
	DUE_NROUTES
};
/* Caller holds queue.mu. After any change of m's recipients' states or
 * due times, or of where m is: its places in the heaps made right. */
void	queue_due_update(struct msg *m);
/* Caller holds queue.mu. m out of both heaps (it leaves queue/). */
void	queue_due_forget(struct msg *m);
/* Caller holds queue.mu. The entry with the earliest waiting recipient of
 * route k (*due set to when it is due), or NULL if none waits. */
struct msg *queue_due_first(enum due_route k, time_t *due);
/* Caller holds queue.mu. Both heaps emptied, their entries untouched
 * (queue_close, after freeing them). */
void	queue_due_free(void);

/* --- local.c --- */

/* 1 if r is in our domains: delivered into the inbox by local.c. */
int	queue_rcpt_is_local(const struct rcpt *r);
/* Caller holds queue.mu. Have the local delivery thread look for work. */
void	queue_local_kick(void);

/* --- bounce.c --- */

/* Called by queue_save without locks, holding m->wmu: queue a delivery
 * status notification for m's newly failed recipients, or a delay
 * warning, and mark them so in m (see bounce.c). */
void	bounce_notify(struct msg *m);

/* --- view.c --- */

/* t as 2026-11-30T17:29:42Z. */
void	queue_format_time(time_t t, char *buf, size_t len);

/* --- load.c --- */

/* Remove what a stop left half-written in tmp/. -1 + errno. */
int	queue_clean_tmp(void);
/* Load every entry of place w (after w's predecessors). -1 + errno. */
int	queue_load_dir(enum queue_where w);

#endif
