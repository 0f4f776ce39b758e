/*
 * deliver.h - outbound delivery: takes due jobs from the queue, groups them
 * by destination (recipient domain, or the relayhost), finds MX hosts with
 * c-ares, and runs up to `concurrency` SMTP client sessions (smtp/client.c)
 * on the shared event loop, reusing a connection for more messages to the
 * same destination. Results go back with queue_report().
 */
#ifndef MAILFS_DELIVER_H
#define MAILFS_DELIVER_H

struct event_base;
struct conf;

/*
 * Start on base (which runs in the event thread; evthread_use_pthreads()
 * must have been called before base was made, as the queue wakes delivery
 * up from other threads). c must outlive delivery. -1 (logged) on failure:
 * a tls_ca that cannot be loaded, no resolver.
 */
int	deliver_start(struct event_base *base, const struct conf *c);
/* Stop: close sessions at once; recipients in flight are deferred. Call
 * once the loop has ended (or from the event thread), before
 * event_base_free and queue_close. */
void	deliver_stop(void);

#endif
