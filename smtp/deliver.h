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

/* Start on base (which runs in the event thread). -1 on failure. */
int	deliver_start(struct event_base *base, const struct conf *c);
/* Stop: close sessions; recipients in flight are deferred. */
void	deliver_stop(void);

#endif
