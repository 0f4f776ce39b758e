/*
 * due.c - which queue/ entries have recipients waiting, and when the
 * earliest of them is due: two heaps (dueheap.h), one for the recipients
 * delivered by smtp/ (taken by jobs.c) and one for those in our domains
 * (taken by local.c), so neither ever scans the queue for work.
 *
 * The invariant, kept under queue.mu: a queue/ entry is in heap k exactly
 * when it has a queued or deferred recipient of that route, keyed by the
 * earliest `next` among them; ties go oldest ID first (the order of the
 * queue/ listing). Whoever changes a recipient's state or due time calls
 * queue_due_update (which so also tells the fs that the entry's status
 * changed: queue_changed); queue_drop, taking an entry out of queue/ unfinished,
 * calls queue_due_forget. A finished entry moved to sent/ or failed/ left
 * the heaps when its last recipient finished. A SIGHUP that may have
 * changed `domains` (which route a recipient takes) sorts every entry
 * again (queue_reload).
 *
 * API: queue_due_update, queue_due_forget, queue_due_first,
 * queue_due_free (core.h); queue_reload (queue.h). No diagnostics.
 */
#include <stddef.h>
#include <string.h>

#include "queue/core.h"

/* The entry whose node k is n. */
static struct msg *
msg_of(const struct dueheap_node *n, int k)
{
	return (struct msg *)(void *)((char *)(void *)(n - k) -
	    offsetof(struct msg, due));
}

static int
before_remote(const struct dueheap_node *a, const struct dueheap_node *b)
{
	return strcmp(msg_of(a, DUE_REMOTE)->id, msg_of(b, DUE_REMOTE)->id) < 0;
}

static int
before_local(const struct dueheap_node *a, const struct dueheap_node *b)
{
	return strcmp(msg_of(a, DUE_LOCAL)->id, msg_of(b, DUE_LOCAL)->id) < 0;
}

static struct dueheap heaps[DUE_NROUTES] = {
	[DUE_REMOTE] = DUEHEAP_INIT(before_remote),
	[DUE_LOCAL] = DUEHEAP_INIT(before_local),
};

/* Caller holds queue.mu. */
void
queue_due_update(struct msg *m)
{
	time_t first[DUE_NROUTES];
	int have[DUE_NROUTES] = { 0, 0 }, k;
	const struct rcpt *r;
	size_t i;

	if (m->where != QUEUE_QUEUE || m->gone) {
		queue_due_forget(m);
		return;
	}
	queue_changed(m);
	for (i = 0; i < m->nr; i++) {
		r = &m->r[i];
		if (r->state != QUEUE_RCPT_QUEUED &&
		    r->state != QUEUE_RCPT_DEFERRED)
			continue;
		k = queue_rcpt_is_local(r) ? DUE_LOCAL : DUE_REMOTE;
		if (!have[k] || r->next < first[k])
			first[k] = r->next;
		have[k] = 1;
	}
	for (k = 0; k < DUE_NROUTES; k++) {
		if (have[k])
			dueheap_set(&heaps[k], &m->due[k], first[k]);
		else
			dueheap_remove(&heaps[k], &m->due[k]);
	}
}

/* Caller holds queue.mu. */
void
queue_due_forget(struct msg *m)
{
	int k;

	for (k = 0; k < DUE_NROUTES; k++)
		dueheap_remove(&heaps[k], &m->due[k]);
}

/* Caller holds queue.mu. */
struct msg *
queue_due_first(enum due_route k, time_t *due)
{
	struct dueheap_node *top = dueheap_top(&heaps[k]);

	if (top == NULL)
		return NULL;
	*due = top->due;
	return msg_of(top, k);
}

/* Caller holds queue.mu. */
void
queue_due_free(void)
{
	int k;

	for (k = 0; k < DUE_NROUTES; k++)
		dueheap_free(&heaps[k]);
}

void
queue_reload(void)
{
	guint i;

	pthread_mutex_lock(&queue.mu);
	for (i = 0; queue.queued != NULL && i < queue.queued->len; i++)
		queue_due_update(queue.queued->pdata[i]);
	pthread_mutex_unlock(&queue.mu);
	queue_wake();
}
