/*
 * dns.c - MX lookup and address resolution for delivery (see dns.h). Each
 * request has a c-ares channel of its own, whose sockets and timeout are
 * libevent events: ARES_OPT_SOCK_STATE_CB tells which sockets to watch,
 * ares_process_fd does the work, ares_timeout arms the request's timer.
 *
 * Why a channel each: a channel's state is shared by its queries. When
 * one name's answer is truncated and the TCP retry is refused, c-ares
 * marks the server failed for the channel and ends every query in flight
 * on it ("Could not contact DNS servers"), so one bad domain failed the
 * lookups of healthy ones made at the same moment. A channel per request
 * keeps a fault with the name that caused it, for a socket or two each.
 *
 * A request is one ares_query(T_MX) and then one ares_getaddrinfo per MX
 * host, all in parallel; the result is assembled when the last answer is
 * in and handed to the caller from an event, so callers never see their
 * callback run inside their own call.
 *
 * Diagnostics: log_warnx when the channel cannot be set up.
 */
#include "smtp/dns.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <arpa/nameser.h>
#include <event2/event.h>

#include "lib/conf.h"
#include "lib/log.h"

#define DNS_TIMEOUT_MS	3000	/* per try; c-ares default is 5 s */
#define DNS_TRIES	2
#define DNS_MAX_TARGETS	64
#define DNS_SERVERS_MAX	4096	/* the c-ares server list, as text */

struct dns_host {
	struct dns_req *req;
	char name[256];
	int pref;
	long rnd;		/* shuffles equal preferences */
	int status;		/* ARES_* of its address lookup */
	struct ares_addrinfo *ai;
};

struct dns_sock {
	ares_socket_t fd;
	struct event *ev;
};

struct dns_req {
	LIST_ENTRY(dns_req) link;	/* in dns_reqs */
	ares_channel channel;	/* NULL: none needed (a literal) */
	struct event *timer;	/* the channel's next timeout */
	struct dns_sock *socks;	/* the channel's sockets */
	size_t nsocks;
	dns_cb *cb;
	void *arg;
	int port;
	int relay;		/* a relayhost: errors are never permanent */
	int pending;		/* c-ares queries not answered yet */
	struct dns_host *hosts;
	size_t nhosts;
	char domain[256];
	/* the outcome, handed over by `done` */
	int class;
	char code[16];
	char text[512];
	struct dns_target *t;
	size_t nt;
	struct event *done;
};

static struct event_base *dns_base;
static const struct conf *dns_conf;
static LIST_HEAD(, dns_req) dns_reqs = LIST_HEAD_INITIALIZER(dns_reqs);

static void
arm_timer(struct dns_req *r)
{
	struct timeval tv, *tvp;

	if ((tvp = ares_timeout(r->channel, NULL, &tv)) == NULL)
		evtimer_del(r->timer);
	else
		evtimer_add(r->timer, tvp);
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_req *r = arg;

	ares_process_fd(r->channel,
	    what & EV_READ ? (ares_socket_t)fd : ARES_SOCKET_BAD,
	    what & EV_WRITE ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	arm_timer(r);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_req *r = arg;

	(void)fd, (void)what;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm_timer(r);
}

/* c-ares says which of the request's sockets to watch, and for what. */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_req *r = data;
	struct dns_sock *s = NULL, *grown;
	size_t i;
	short what = (short)((readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0));

	if (r == NULL)
		return;		/* dns_start's check: it sends nothing */
	for (i = 0; i < r->nsocks; i++)
		if (r->socks[i].fd == fd)
			s = &r->socks[i];
	if (s != NULL) {
		event_free(s->ev);
		if (what == 0) {
			*s = r->socks[--r->nsocks];
			return;
		}
	} else {
		if (what == 0)
			return;
		grown = realloc(r->socks, (r->nsocks + 1) * sizeof(*grown));
		if (grown == NULL)
			fatal("dns: socket table");
		r->socks = grown;
		s = &r->socks[r->nsocks++];
		s->fd = fd;
	}
	s->ev = event_new(dns_base, fd, what | EV_PERSIST, sock_cb, r);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1)
		fatalx("dns: cannot watch a resolver socket");
}

static int	set_servers(ares_channel ch, const struct conf *c);

/* A channel with our options and servers, its sockets reported to r
 * (NULL: only to check the settings). */
static int
channel_new(ares_channel *ch, struct dns_req *r)
{
	struct ares_options o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = r;
	o.timeout = DNS_TIMEOUT_MS;
	o.tries = DNS_TRIES;
	rc = ares_init_options(ch, &o, ARES_OPT_SOCK_STATE_CB |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		log_warnx("dns: c-ares: %s", ares_strerror(rc));
		return -1;
	}
	if (dns_conf->ndns > 0 && set_servers(*ch, dns_conf) == -1) {
		ares_destroy(*ch);
		return -1;
	}
	return 0;
}

/*
 * req_free - never from inside a c-ares callback of r's channel: the
 * callbacks only ever hand the outcome to the loop (finish). Destroying
 * the channel calls the queries still in flight with ARES_EDESTRUCTION,
 * which they ignore.
 */
static void
req_free(struct dns_req *r)
{
	size_t i;

	LIST_REMOVE(r, link);
	if (r->channel != NULL)
		ares_destroy(r->channel);
	for (i = 0; i < r->nsocks; i++)
		event_free(r->socks[i].ev);
	free(r->socks);
	for (i = 0; i < r->nhosts; i++)
		if (r->hosts[i].ai != NULL)
			ares_freeaddrinfo(r->hosts[i].ai);
	free(r->hosts);
	free(r->t);
	event_free(r->done);
	event_free(r->timer);
	free(r);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_req *r = arg;

	(void)fd, (void)what;
	r->cb(r->arg, r->class, r->code, r->text, r->t, r->nt);
	req_free(r);
}

/* Hand the outcome over from the loop; class 0 uses r->t. */
static void
finish(struct dns_req *r, int class, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
finish(struct dns_req *r, int class, const char *code, const char *fmt, ...)
{
	va_list ap;

	r->class = class;
	snprintf(r->code, sizeof(r->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	event_active(r->done, EV_TIMEOUT, 0);
}

static int
add_target(struct dns_req *r, const char *host, const struct sockaddr *sa,
    socklen_t len)
{
	struct dns_target *t;

	if (r->nt == DNS_MAX_TARGETS || len > sizeof(t->addr) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return 0;
	if ((t = realloc(r->t, (r->nt + 1) * sizeof(*t))) == NULL)
		return -1;
	r->t = t;
	t = &r->t[r->nt++];
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	memcpy(&t->addr, sa, len);
	t->addrlen = len;
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)&t->addr)->sin_port = htons(r->port);
	else
		((struct sockaddr_in6 *)&t->addr)->sin6_port = htons(r->port);
	return 0;
}

/* Every address lookup is in: the targets in MX order, or why none. */
static void
assemble(struct dns_req *r)
{
	struct ares_addrinfo_node *n;
	const struct dns_host *h, *failed = NULL;
	size_t i;

	for (i = 0; i < r->nhosts; i++) {
		h = &r->hosts[i];
		if (h->status != ARES_SUCCESS || h->ai == NULL) {
			/* A temporary failure outweighs a missing host. */
			if (failed == NULL || (h->status != ARES_ENOTFOUND &&
			    h->status != ARES_ENODATA))
				failed = h;
			continue;
		}
		for (n = h->ai->nodes; n != NULL; n = n->ai_next)
			if (add_target(r, h->name, n->ai_addr,
			    n->ai_addrlen) == -1) {
				finish(r, 4, "4.3.0", "out of memory");
				return;
			}
	}
	if (r->nt > 0)
		finish(r, 0, "", "%s", "");
	else if (failed == NULL)
		finish(r, 5, "5.4.4", "no address for %s", r->domain);
	else if (failed->status == ARES_ENOTFOUND && r->nhosts == 1 &&
	    strcmp(failed->name, r->domain) == 0)
		finish(r, r->relay ? 4 : 5, r->relay ? "4.4.4" : "5.1.2",
		    "host or domain name not found: %s", failed->name);
	else if (failed->status == ARES_ENOTFOUND ||
	    failed->status == ARES_ENODATA)
		finish(r, r->relay ? 4 : 5, r->relay ? "4.4.4" : "5.4.4",
		    "no address for host %s", failed->name);
	else
		finish(r, 4, "4.4.3", "address lookup for %s: %s",
		    failed->name, ares_strerror(failed->status));
}

static void
addr_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_host *h = arg;
	struct dns_req *r = h->req;

	(void)timeouts;
	h->status = status;
	h->ai = ai;
	if (--r->pending > 0 || status == ARES_EDESTRUCTION)
		return;		/* more to come, or req_free under way */
	assemble(r);
}

static void
lookup_hosts(struct dns_req *r)
{
	struct ares_addrinfo_hints hints;
	size_t i;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* Count them all first: an answer may come back synchronously. */
	r->pending += (int)r->nhosts;
	for (i = 0; i < r->nhosts; i++)
		ares_getaddrinfo(r->channel, r->hosts[i].name, NULL, &hints,
		    addr_cb, &r->hosts[i]);
	arm_timer(r);
}

static int
host_cmp(const void *a, const void *b)
{
	const struct dns_host *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->rnd < y->rnd ? -1 : x->rnd > y->rnd;
}

static int
set_hosts(struct dns_req *r, size_t n)
{
	if ((r->hosts = calloc(n, sizeof(*r->hosts))) == NULL)
		return -1;
	r->nhosts = n;
	while (n-- > 0)
		r->hosts[n].req = r;
	return 0;
}

static void
mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_req *r = arg;
	struct ares_mx_reply *mx = NULL, *m;
	size_t n = 0;

	(void)timeouts;
	r->pending--;
	if (status == ARES_EDESTRUCTION)
		return;		/* req_free under way */
	if (status == ARES_SUCCESS)
		status = ares_parse_mx_reply(abuf, alen, &mx);
	if (status == ARES_ENODATA) {
		/* RFC 5321 §5.1: no MX, the domain itself is the host. */
		if (set_hosts(r, 1) == -1)
			goto nomem;
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s",
		    r->domain);
		lookup_hosts(r);
		return;
	}
	if (status == ARES_ENOTFOUND) {
		finish(r, 5, "5.1.2", "domain not found: %s", r->domain);
		return;
	}
	if (status != ARES_SUCCESS) {
		finish(r, 4, "4.4.3", "MX lookup for %s: %s", r->domain,
		    ares_strerror(status));
		return;
	}
	for (m = mx; m != NULL; m = m->next)
		n++;
	/* RFC 7505: a single "MX 0 ." says the domain takes no mail. */
	if (n == 1 && (mx->host[0] == '\0' || strcmp(mx->host, ".") == 0)) {
		ares_free_data(mx);
		finish(r, 5, "5.1.10", "domain %s accepts no mail (null MX)",
		    r->domain);
		return;
	}
	if (set_hosts(r, n) == -1)
		goto nomem;
	for (m = mx, n = 0; m != NULL; m = m->next) {
		if (m->host[0] == '\0')
			continue;
		snprintf(r->hosts[n].name, sizeof(r->hosts[n].name), "%s",
		    m->host);
		r->hosts[n].pref = m->priority;
		r->hosts[n].rnd = random();
		n++;
	}
	r->nhosts = n;
	ares_free_data(mx);
	qsort(r->hosts, r->nhosts, sizeof(*r->hosts), host_cmp);
	if (r->nhosts == 0) {
		finish(r, 5, "5.4.4", "no usable MX host for %s", r->domain);
		return;
	}
	lookup_hosts(r);
	return;
nomem:
	ares_free_data(mx);
	finish(r, 4, "4.3.0", "out of memory");
}

static struct dns_req *
req_new(const char *name, int port, dns_cb *cb, void *arg)
{
	struct dns_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->done = event_new(dns_base, -1, 0, done_cb, r);
	r->timer = evtimer_new(dns_base, timer_cb, r);
	if (r->done == NULL || r->timer == NULL) {
		if (r->done != NULL)
			event_free(r->done);
		free(r);
		return NULL;
	}
	LIST_INSERT_HEAD(&dns_reqs, r, link);
	r->cb = cb;
	r->arg = arg;
	r->port = port;
	snprintf(r->domain, sizeof(r->domain), "%s", name);
	return r;
}

/* An IP literal, bare ("::1") or as a domain literal ("[IPv6:::1]"):
 * 1 (target added), 0 (not a literal), -1 (no memory). */
static int
literal(struct dns_req *r, const char *s)
{
	char buf[256];
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	size_t len = strlen(s);

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
		if (len >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
			s += 5;
			len -= 5;
		}
	}
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, buf, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return add_target(r, buf, (struct sockaddr *)&sin,
		    sizeof(sin)) == 0 ? 1 : -1;
	}
	if (inet_pton(AF_INET6, buf, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		return add_target(r, buf, (struct sockaddr *)&sin6,
		    sizeof(sin6)) == 0 ? 1 : -1;
	}
	return 0;
}

/*
 * req_begin - a new request for name; an IP literal needs no lookup and
 * is answered at once (*done set). NULL, logged, when out of memory.
 */
static struct dns_req *
req_begin(const char *name, int port, int relay, dns_cb *cb, void *arg,
    int *done)
{
	struct dns_req *r = req_new(name, port, cb, arg);
	int lit = -1;

	if (r != NULL) {
		r->relay = relay;
		lit = literal(r, name);
		if (lit == 0 && channel_new(&r->channel, r) == -1) {
			req_free(r);
			return NULL;
		}
	}
	if (lit == -1) {
		if (r != NULL)
			req_free(r);
		log_warnx("dns: out of memory");
		return NULL;
	}
	if ((*done = lit == 1))
		finish(r, 0, "", "%s", "");
	return r;
}

struct dns_req *
dns_resolve_mx(const char *domain, int port, dns_cb *cb, void *arg)
{
	int done;
	struct dns_req *r = req_begin(domain, port, 0, cb, arg, &done);

	if (r == NULL || done)
		return r;
	r->pending = 1;
	ares_query(r->channel, domain, ns_c_in, ns_t_mx, mx_cb, r);
	arm_timer(r);
	return r;
}

struct dns_req *
dns_resolve_host(const char *host, int port, dns_cb *cb, void *arg)
{
	int done;
	struct dns_req *r = req_begin(host, port, 1, cb, arg, &done);

	if (r == NULL || done)
		return r;
	if (set_hosts(r, 1) == -1) {
		req_free(r);
		log_warnx("dns: out of memory");
		return NULL;
	}
	snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", host);
	lookup_hosts(r);
	return r;
}

void
dns_cancel(struct dns_req *r)
{
	if (r != NULL)
		req_free(r);	/* its queries end with ARES_EDESTRUCTION */
}

void
dns_target_format(const struct dns_target *t, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (t->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&t->addr;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	} else if (t->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&t->addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(out, len, "%s[%s]:%d", t->host, ip, port);
}

/* conf->dns as c-ares wants it: "1.2.3.4:53,[::1]:5353". */
static int
set_servers(ares_channel ch, const struct conf *c)
{
	char csv[DNS_SERVERS_MAX] = "", one[300];
	size_t i;
	int rc;

	for (i = 0; i < c->ndns; i++) {
		const char *h = c->dns[i].host;
		int v6 = strchr(h, ':') != NULL;

		if (c->dns[i].port > 0)
			snprintf(one, sizeof(one), "%s%s%s%s:%d",
			    i ? "," : "", v6 ? "[" : "", h, v6 ? "]" : "",
			    c->dns[i].port);
		else
			snprintf(one, sizeof(one), "%s%s", i ? "," : "", h);
		if (strlen(csv) + strlen(one) >= sizeof(csv))
			break;
		strcat(csv, one);
	}
	if ((rc = ares_set_servers_ports_csv(ch, csv)) != ARES_SUCCESS) {
		log_warnx("dns: servers %s: %s", csv, ares_strerror(rc));
		return -1;
	}
	return 0;
}

int
dns_start(struct event_base *base, const struct conf *c)
{
	ares_channel check;
	int rc;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		log_warnx("dns: c-ares: %s", ares_strerror(rc));
		return -1;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	dns_base = base;
	dns_conf = c;
	/* a channel now, so bad settings show at start, not per message */
	if (channel_new(&check, NULL) == -1) {
		ares_library_cleanup();
		dns_base = NULL;
		return -1;
	}
	ares_destroy(check);
	return 0;
}

/* Requests not cancelled are never answered. */
void
dns_stop(void)
{
	if (dns_base == NULL)
		return;
	while (!LIST_EMPTY(&dns_reqs))
		req_free(LIST_FIRST(&dns_reqs));
	ares_library_cleanup();
	dns_base = NULL;
}
