/*
 * client.h - one outbound SMTP session (RFC 5321): connect to the first
 * target that answers, EHLO (HELO when EHLO is refused), STARTTLS per the
 * tls setting, then any number of transactions, each one queue job: MAIL,
 * RCPT..., DATA (pipelined when PIPELINING is offered), SIZE and
 * BODY=8BITMIME when offered. Every recipient's outcome goes straight to
 * queue_report() with the relay "host[addr]:port".
 *
 * Session-level trouble (no connection, a refused greeting or EHLO, TLS
 * required but missing or failing) moves on to the next target; when none
 * is left the session ends with that error, for the caller to apply to
 * the mail it meant to send there. A connection lost in a transaction
 * defers that job's unfinished recipients (4.4.2).
 *
 * Event thread only. Diagnostics: log_debug of each state change; errors
 * end up in queue_report texts.
 */
#ifndef MAILFS_CLIENT_H
#define MAILFS_CLIENT_H

#include <stddef.h>

#include <openssl/ssl.h>

struct event_base;
struct conf;
struct client;
struct queue_job;
struct dns_target;

struct client_ops {
	/*
	 * ready - the session can take a job: the first time after the
	 * greeting and EHLO (done == NULL), then after each job (done, every
	 * recipient of which was reported; the caller finishes it with
	 * queue_job_done). Call client_send now or later; a session left
	 * without a job for CLIENT_IDLE seconds says QUIT and closes.
	 */
	void	(*ready)(struct client *cl, struct queue_job *done, void *arg);
	/*
	 * closed - the session is over and cl is freed after this returns.
	 * job: the one in flight, if any (its unfinished recipients were
	 * reported). class 0: it ended after reaching ready at least once;
	 * else 4 or 5 with code, text and relay of the last target's failure,
	 * no target having taken the session.
	 */
	void	(*closed)(struct client *cl, struct queue_job *job, int class,
		    const char *code, const char *text, const char *relay,
		    void *arg);
};

#define CLIENT_IDLE	5	/* seconds a connection waits for more mail */

/*
 * client_new - start a session trying targets in order (copied). tls_ctx
 * is shared by sessions and may be NULL with tls=none. NULL (logged) when
 * out of memory. The callbacks never run inside client_new.
 */
struct client *client_new(struct event_base *base, const struct conf *c,
	    SSL_CTX *tls_ctx, const struct dns_target *t, size_t n,
	    const struct client_ops *ops, void *arg);
/*
 * client_send - start the transaction of job on a ready session. Returns 0,
 * or -1 when it could not even start (message unreadable, larger than the
 * server's SIZE): its recipients were reported, the caller finishes it.
 */
int	client_send(struct client *cl, struct queue_job *job);
/* Say QUIT (on an idle session) and close; closed() follows. */
void	client_quit(struct client *cl);
/* Close at once, no callback; returns the job in flight or NULL (its
 * recipients not reported). */
struct queue_job *client_free(struct client *cl);

/* The SSL_CTX for c->tls (NULL with tls=none or on error, logged). */
SSL_CTX *client_tls_ctx(const struct conf *c);

#endif
