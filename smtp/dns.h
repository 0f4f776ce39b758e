/*
 * dns.h - where to deliver: MX lookup (RFC 5321 §5.1, RFC 7505 null MX)
 * and address resolution with c-ares, driven by the libevent loop.
 *
 * Results come as an ordered list of targets: MX hosts by preference (equal
 * preferences shuffled), each host's IPv4 and IPv6 addresses in turn; or as
 * an error with its class and enhanced status code:
 *	5.1.10	null MX			5.1.2	domain not found (NXDOMAIN)
 *	5.4.4	no address for the host(s)
 *	4.4.3	SERVFAIL, timeout or any other lookup failure
 * Callbacks always run later from the loop, never inside the call that
 * asked. Event thread only.
 */
#ifndef MAILFS_DNS_H
#define MAILFS_DNS_H

#include <sys/socket.h>

struct event_base;
struct conf;
struct dns_req;

struct dns_target {
	char host[256];			/* MX or relay host name (TLS name) */
	struct sockaddr_storage addr;	/* with the port set */
	socklen_t addrlen;
};

/*
 * dns_cb - class 0 and n targets (n > 0), or class 4 / 5 with code and text
 * saying why. t is valid only during the call.
 */
typedef void dns_cb(void *arg, int class, const char *code, const char *text,
    const struct dns_target *t, size_t n);

/* Set up the channel: conf->dns servers, else resolv.conf. -1 (logged). */
int	dns_start(struct event_base *base, const struct conf *c);
/* Tear down; requests not cancelled before are never answered. */
void	dns_stop(void);

/* Targets for mail to domain on port; "[1.2.3.4]", "[IPv6:::1]" literals
 * are used as they are. NULL (logged) when out of memory. */
struct dns_req *dns_resolve_mx(const char *domain, int port, dns_cb *cb,
	    void *arg);
/* Targets for one host name or literal address (a relayhost): no MX. */
struct dns_req *dns_resolve_host(const char *host, int port, dns_cb *cb,
	    void *arg);
/* The callback will not be called. */
void	dns_cancel(struct dns_req *r);

/* "host[addr]:port" for logs and status files. */
void	dns_target_format(const struct dns_target *t, char *out, size_t len);

#endif
