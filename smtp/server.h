/*
 * server.h - the inbound SMTP listener on the `listen` addresses: accepts
 * mail for `domains` into the Maildir (queue/maildir.h), 250 only after it
 * is fsync'd. Runs on the shared event loop; the file work happens on
 * worker threads (queue/maildir_stream.h) so one session never stalls
 * another. The `submission` and `submissions` addresses take mail from
 * the users of the passwd file into the outbound queue (RFC 6409). The
 * sessions themselves are in session.h.
 */
#ifndef MAILFS_SERVER_H
#define MAILFS_SERVER_H

struct event_base;
struct conf;

/*
 * server_start - bind every listen address and start accepting; conf must
 * outlive the server, and the base needs evthread locking (the delivery
 * workers wake it). -1 (logged) on failure: a bad address, port in use, or
 * tls_cert/tls_key that do not load.
 */
int	server_start(struct event_base *base, const struct conf *c);
/* Close the listeners and sessions; messages already handed to a worker
 * are stored first. Call it on the event thread or once its loop ended. */
void	server_stop(void);

#endif
