/*
 * work.h - slow calls (a password hash, a queue submission that fsyncs)
 * run off the event thread: each job on a thread of its own, its done
 * callback back on the owner's thread. For a few jobs a minute, not for
 * the message stream (queue/maildir_stream.h has its pool for that).
 *
 *	work_start(wake, warg)	wake(warg) is called on the job's thread
 *				when a done is ready: the owner then calls
 *				work_reap on its own thread
 *	work_run(fn, done, arg)	fn(arg) on a new thread (every signal
 *				blocked), then done(arg) from work_reap.
 *				0, or an errno (nothing runs)
 *	work_stop()		wait for every job, run their dones, forget
 *				wake; on the owner's thread
 *	work_thread(t, fn, arg)	a joinable thread of a module's own,
 *				every signal blocked (they are for the FUSE
 *				and event threads): 0, or an errno
 *	work_deadline(ts, clock, ns)
 *				*ts = ns nanoseconds from now on clock: the
 *				end of a pthread_cond_timedwait (whose
 *				clock is CLOCK_REALTIME unless its condattr
 *				says otherwise)
 *
 * Thread-safe: work_run and work_reap on the owner's thread, the rest
 * is guarded by a lock.
 */
#ifndef MAILFS_WORK_H
#define MAILFS_WORK_H

#include <pthread.h>
#include <time.h>

void	work_start(void (*wake)(void *), void *warg);
int	work_run(void (*fn)(void *), void (*done)(void *), void *arg);
void	work_reap(void);
void	work_stop(void);
int	work_thread(pthread_t *t, void *(*fn)(void *), void *arg);
void	work_deadline(struct timespec *ts, clockid_t clock, long ns);

#endif
