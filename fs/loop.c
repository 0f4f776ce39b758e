/*
 * loop.c - the FUSE request loop (API in fs.h): threads that take
 * requests from /dev/fuse and serve them, as libfuse's multi-threaded
 * loop does, but the thread waiting for the next request polls for a
 * while before it sleeps.
 *
 * Why: a shell tool over the tree (cat inbox/x/subject of 10,000
 * entries, rm -r, grep) sends one request at a time and waits for each
 * reply. On a virtual machine an idle CPU halts, and waking a halted CPU
 * costs more than serving most requests: with libfuse's loop, each
 * request woke a sleeping thread. Here the one thread waiting for the
 * device (the leader) reads it without blocking, again and again, for
 * SPIN_NS after its last request before it blocks in poll(), so a
 * request that follows soon is taken at once. Between its reads it
 * yields the CPU (sched_yield), so that polling takes only time no one
 * else wants: with the CPUs busy (eight cp processes writing outbox/),
 * a leader polling without yielding took CPU time from the writers and
 * their rate fell by a tenth or more. Only the leader touches
 * the device: the idle threads wait on a condition variable for their
 * turn, because a poll() by each of them would wake them all at every
 * request.
 *
 * A leader serves the request it took itself and then leads again: to
 * wake another thread for the lead at every request cost more than the
 * polling saved. So that a slow request does not hold up the others, a
 * request that may wait for the disk (a FLUSH of outbox/ waiting for
 * its fsync, a write, a create) gets the lead handed to an idle thread
 * (or a new one, up to MAX_THREADS) before it is served; and a watchdog
 * thread, awake while requests come, hands the lead on when a request
 * served by its leader has taken STALL_NS (a cold read, a lock held by
 * a sync round). So every request is taken within about STALL_NS while
 * a thread is free, as with libfuse's loop, which has MAX_THREADS too.
 *
 * The loop ends when the kernel ends the session (unmount: the read
 * fails with ENODEV) or when a signal has ended it (libfuse's handler
 * calls fuse_session_exit on the main thread, the only one that takes
 * SIGTERM and SIGINT: the loop's threads block every signal).
 */
#include "fs/fs.h"
#include "lib/log.h"
#include "lib/work.h"

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <linux/fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS		(100 * 1000)	/* polling after a request */
#define STALL_NS	(1000 * 1000)	/* a leader's request is slow */
#define AWAKE_NS	(100 * 1000 * 1000) /* the watchdog naps this long
					   after the last request */
#define MAX_THREADS	10		/* libfuse's default too */

static struct {
	struct fuse_session *se;
	int		fd;		/* /dev/fuse, non-blocking */
	int		stopfd;		/* eventfd: readable once done */
	pthread_mutex_t	mu;
	pthread_cond_t	turn;		/* the lead is free, or done */
	int		leader;		/* a thread is at the device */
	int		idle;		/* threads waiting for the lead */
	int		serving;	/* leaders serving their request */
	uint64_t	taken;		/* when the last request was taken */
	pthread_cond_t	watch;		/* wakes the watchdog */
	int		watch_sleeps;	/* without a timeout */
	pthread_t	watchdog;
	int		nthreads;
	pthread_t	threads[MAX_THREADS];
	atomic_int	done;
	int		error;		/* reading the device failed */
	sem_t		ended;		/* a thread saw the session end */
} l = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.turn = PTHREAD_COND_INITIALIZER,
	.watch = PTHREAD_COND_INITIALIZER,
};

static uint64_t
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * loop_receive - the next request into buf: > 0 its size, 0 the session
 * has ended, < 0 an errno. Polls the device for SPIN_NS, giving way to
 * any other thread ready to run between reads, then sleeps in poll()
 * until a request or the end.
 */
static int
loop_receive(struct fuse_buf *buf)
{
	struct pollfd p[2] = {
		{ .fd = l.fd, .events = POLLIN },
		{ .fd = l.stopfd, .events = POLLIN },
	};
	uint64_t end = 0;
	int res;

	for (;;) {
		res = fuse_session_receive_buf(l.se, buf);
		if (res != -EAGAIN)
			return res;
		if (atomic_load(&l.done))
			return 0;
		sched_yield();
		if (end == 0)
			end = loop_now() + SPIN_NS;
		else if (loop_now() >= end) {
			if (poll(p, 2, -1) == -1 && errno != EINTR)
				return -errno;
			end = 0;
		}
	}
}

static void	*loop_worker(void *arg);

/* loop_spawn - one more thread, under l.mu; false if it did not start */
static int
loop_spawn(void)
{
	int err;

	if (l.nthreads == MAX_THREADS || atomic_load(&l.done))
		return 0;
	if ((err = work_thread(&l.threads[l.nthreads], loop_worker, NULL))) {
		errno = err;
		log_warn("fuse: cannot start a request thread");
		return 0;
	}
	l.nthreads++;
	return 1;
}

/*
 * loop_quick - whether the request in buf is served from memory as a
 * rule (the tree, the index, the page cache of the spool): its leader
 * serves it and leads again. The others may write to or sync the spool.
 */
static int
loop_quick(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;

	switch (in->opcode) {
	case FUSE_LOOKUP:
	case FUSE_GETATTR:
	case FUSE_OPEN:
	case FUSE_READ:
	case FUSE_RELEASE:
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_OPENDIR:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
	case FUSE_RELEASEDIR:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
	case FUSE_ACCESS:
	case FUSE_STATFS:
		return 1;
	}
	return 0;
}

/* loop_pass - the lead to an idle thread, or a new one; under l.mu */
static void
loop_pass(void)
{
	if (l.idle > 0)
		pthread_cond_signal(&l.turn);
	else
		loop_spawn();
}

/*
 * loop_watch - the watchdog: while requests come, every STALL_NS, it
 * passes the lead on if nobody is at the device while a leader has been
 * serving a request for STALL_NS. Asleep when no request came for
 * AWAKE_NS; the next request taken wakes it.
 */
static void *
loop_watch(void *arg)
{
	struct timespec ts;
	uint64_t now;

	(void)arg;
	pthread_mutex_lock(&l.mu);
	while (!atomic_load(&l.done)) {
		now = loop_now();
		if (!l.leader && l.serving > 0 && now - l.taken >= STALL_NS)
			loop_pass();
		if (now - l.taken >= AWAKE_NS && l.serving == 0) {
			l.watch_sleeps = 1;
			pthread_cond_wait(&l.watch, &l.mu);
			l.watch_sleeps = 0;
			continue;
		}
		work_deadline(&ts, CLOCK_REALTIME, STALL_NS);	/* the cond's */
		pthread_cond_timedwait(&l.watch, &l.mu, &ts);
	}
	pthread_mutex_unlock(&l.mu);
	return NULL;
}

static void *
loop_worker(void *arg)
{
	struct fuse_buf buf = { .mem = NULL };
	int res, quick;

	(void)arg;
	pthread_mutex_lock(&l.mu);
	for (;;) {
		while (l.leader && !atomic_load(&l.done)) {
			l.idle++;
			pthread_cond_wait(&l.turn, &l.mu);
			l.idle--;
		}
		if (atomic_load(&l.done))
			break;
		l.leader = 1;
		pthread_mutex_unlock(&l.mu);
		res = loop_receive(&buf);
		pthread_mutex_lock(&l.mu);
		l.leader = 0;
		if (res == -EINTR)
			continue;
		if (res <= 0 || fuse_session_exited(l.se)) {
			if (res < 0 && !atomic_load(&l.done)) {
				errno = l.error = -res;
				log_warn("fuse: reading /dev/fuse");
				fuse_session_exit(l.se);
			}
			sem_post(&l.ended);
			break;
		}
		quick = loop_quick(&buf);
		if (quick) {
			l.serving++;
			l.taken = loop_now();
			if (l.watch_sleeps)
				pthread_cond_signal(&l.watch);
		} else
			loop_pass();
		pthread_mutex_unlock(&l.mu);
		fuse_session_process_buf(l.se, &buf);
		pthread_mutex_lock(&l.mu);
		if (quick)
			l.serving--;
	}
	pthread_mutex_unlock(&l.mu);
	free(buf.mem);
	return NULL;
}

int
loop_run(struct fuse_session *se)
{
	struct timespec ts;
	int flags, i, n, started;

	l.se = se;
	l.fd = fuse_session_fd(se);
	if ((flags = fcntl(l.fd, F_GETFL)) == -1 ||
	    fcntl(l.fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    (l.stopfd = eventfd(0, EFD_CLOEXEC)) == -1 ||
	    sem_init(&l.ended, 0, 0) == -1) {
		log_warn("fuse: cannot set up the request loop");
		return -1;
	}
	if ((n = work_thread(&l.watchdog, loop_watch, NULL))) {
		errno = n;
		log_warn("fuse: cannot start the watchdog");
		return -1;
	}
	pthread_mutex_lock(&l.mu);
	started = loop_spawn();
	pthread_mutex_unlock(&l.mu);
	/* a signal that comes between the test and the wait is seen at
	 * the next timeout: libfuse's handler only sets a flag */
	while (started && !fuse_session_exited(se)) {
		work_deadline(&ts, CLOCK_REALTIME, 1000000000L);
		if (sem_timedwait(&l.ended, &ts) == 0)
			break;
	}
	atomic_store(&l.done, 1);
	if (eventfd_write(l.stopfd, 1) == -1)
		log_warn("fuse: eventfd");
	pthread_mutex_lock(&l.mu);
	pthread_cond_broadcast(&l.turn);
	pthread_cond_signal(&l.watch);
	n = l.nthreads;
	pthread_mutex_unlock(&l.mu);
	for (i = 0; i < n; i++)
		pthread_join(l.threads[i], NULL);
	pthread_join(l.watchdog, NULL);
	close(l.stopfd);
	sem_destroy(&l.ended);
	return started && !l.error ? 0 : -1;
}
