/*
 * maildir_stream.h - messages streamed into the Maildir (queue/maildir.h)
 * as they arrive, the file work done by a pool of worker threads, so a
 * writer never holds a whole message and a slow disk stalls only the
 * message that waits for it. Used by the SMTP listener (as Postfix's
 * smtpd writes its queue file as it reads), but knows nothing of SMTP.
 *
 * Why workers even for write(): it costs microseconds while the page
 * cache takes the data, but once dirty pages pass the kernel's limit
 * (balance_dirty_pages) a writer sleeps until the disk catches up, and
 * that is just when many big messages arrive at once; on an event loop
 * it would stall everything, on a worker only its own message.
 *
 * A stream has at most one job out at a time: maildir_stream_write
 * appends (creating tmp/ID the first time), maildir_stream_commit
 * appends the rest, syncs and links into new/ (maildir_tmp_commit, its
 * syncfs rounds shared with the other workers) and logs "received" in
 * the mail log. Each job's done(arg, rc) runs on the owner's thread,
 * from maildir_stream_reap, which the owner calls whenever wake(warg)
 * (called on a worker) asks it to. After a commit's done the stream is
 * freed. maildir_stream_drop ends a stream for an owner that no longer
 * wants it: a commit under way is stored all the same (its client may
 * send it again: better twice than never), anything else is unlinked
 * (on a worker: unlinking a big file frees its blocks, which may take a
 * while); done is not called again.
 *
 * Diagnostics: log_warnx("TAG: storing ID: ...") on a failed write or
 * commit.
 */
#ifndef MAILFS_MAILDIR_STREAM_H
#define MAILFS_MAILDIR_STREAM_H

#include <stddef.h>
#include <sys/uio.h>

struct maildir_stream;
typedef void	maildir_stream_done_fn(void *arg, int rc);

/* Start n workers, with every signal blocked. -1 if none started. */
int	maildir_stream_start(int n, void (*wake)(void *), void *warg);
/* Run done for every finished job; on the owner's thread. */
void	maildir_stream_reap(void);
/* Finish every job handed out (maildir_stream_drop them first), join the
 * workers; streams not dropped are freed without their done. */
void	maildir_stream_stop(void);

/* A new stream for message id from client (its address, for the mail
 * log; tag prefixes diagnostics); NULL when out of memory. */
struct maildir_stream *maildir_stream_new(const char *id, const char *client,
	    const char *tag, maildir_stream_done_fn *done, void *arg);
/* Octets handed to write jobs so far. */
size_t	maildir_stream_size(const struct maildir_stream *st);
/*
 * maildir_stream_write - append the n pieces of v (copied) to the file:
 * 0 (done follows, rc 0 or the errno of the write, the file kept for
 * the owner to drop), or ENOMEM (nothing handed out).
 */
int	maildir_stream_write(struct maildir_stream *st, const struct iovec *v,
	    size_t n);
/*
 * maildir_stream_commit - append v and store the message with its
 * envelope text; from and to (comma-separated) for the mail log, which
 * gets "received" with the whole size. 0 (done follows, rc 0 once it is
 * durable, else an errno with nothing left behind) or ENOMEM.
 */
int	maildir_stream_commit(struct maildir_stream *st, const struct iovec *v,
	    size_t n, const char *envelope, const char *from, const char *to);
void	maildir_stream_drop(struct maildir_stream *st);

#endif
