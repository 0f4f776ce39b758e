/*
 * work.c - slow calls on threads of their own (API in work.h).
 *
 * A job's thread runs fn, puts the job on the done list and calls wake;
 * work_reap takes the list and runs each done. Jobs are detached
 * threads: work_stop waits on the count of those running instead of
 * joining them.
 */
#include "lib/work.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct job {
	struct job	*next;
	void		(*fn)(void *), (*done)(void *);
	void		*arg;
};

static struct {
	pthread_mutex_t	mu;
	pthread_cond_t	idle;		/* running fell to 0 */
	struct job	*done;
	int		running;
	void		(*wake)(void *);
	void		*warg;
} w = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
};

void
work_start(void (*wake)(void *), void *warg)
{
	pthread_mutex_lock(&w.mu);
	w.wake = wake;
	w.warg = warg;
	pthread_mutex_unlock(&w.mu);
}

static void *
job_main(void *arg)
{
	struct job *j = arg;
	void (*wake)(void *);
	void *warg;

	j->fn(j->arg);
	pthread_mutex_lock(&w.mu);
	j->next = w.done;
	w.done = j;
	wake = w.wake;
	warg = w.warg;
	if (wake != NULL)
		wake(warg);	/* under the lock: work_stop cannot pass by */
	if (--w.running == 0)
		pthread_cond_broadcast(&w.idle);
	pthread_mutex_unlock(&w.mu);
	return NULL;
}

int
work_run(void (*fn)(void *), void (*done)(void *), void *arg)
{
	struct job *j = malloc(sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int rc;

	if (j == NULL)
		return ENOMEM;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&w.mu);
	if ((rc = pthread_create(&t, &attr, job_main, j)) == 0)
		w.running++;
	pthread_mutex_unlock(&w.mu);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		free(j);
	return rc;
}

int
work_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void
work_reap(void)
{
	struct job *list, *next, *rev;

	pthread_mutex_lock(&w.mu);
	list = w.done;
	w.done = NULL;
	pthread_mutex_unlock(&w.mu);
	/* the list is newest first: run the oldest first */
	for (rev = NULL; list != NULL; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	for (; rev != NULL; rev = next) {
		next = rev->next;
		rev->done(rev->arg);
		free(rev);
	}
}

void
work_stop(void)
{
	pthread_mutex_lock(&w.mu);
	while (w.running > 0)
		pthread_cond_wait(&w.idle, &w.mu);
	w.wake = NULL;
	w.warg = NULL;
	pthread_mutex_unlock(&w.mu);
	work_reap();
}

void
work_deadline(struct timespec *ts, clockid_t clock, long ns)
{
	clock_gettime(clock, ts);
	ts->tv_sec += ns / 1000000000L;
	ts->tv_nsec += ns % 1000000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}
