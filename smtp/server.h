/*
 * server.h - the inbound SMTP listener on the `listen` addresses: accepts
 * mail for `domains` into the Maildir (queue/maildir.h), 250 only after it
 * is fsync'd. Runs on the shared event loop; fsyncs happen on a worker
 * thread so one session never stalls another.
 */
#ifndef MAILFS_SERVER_H
#define MAILFS_SERVER_H

struct event_base;
struct conf;

/* Bind every listen address and start accepting. -1 (logged) on failure. */
int	server_start(struct event_base *base, const struct conf *c);
void	server_stop(void);

#endif
