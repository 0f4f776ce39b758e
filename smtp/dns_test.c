/*
 * dns_test.c - tests of smtp/dns.c (TAP) against a real dnsmasq on
 * 127.0.0.1 serving the .test zone: MX order, implicit MX, null MX,
 * NXDOMAIN, a name server that does not answer, literals. dnsmasq is
 * a peer tests/deps.sh installs: without it the test fails.
 */
#include "smtp/dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/conf.h"
#include "tests/tap.h"

static struct event_base *base;

struct result {
	int done, class, n;
	char code[16], text[512], first[256], addrs[1024];
};

static void
got(void *arg, int class, const char *code, const char *text,
    const struct dns_target *t, size_t n)
{
	struct result *r = arg;
	size_t i, o = 0;

	r->done = 1;
	r->class = class;
	r->n = (int)n;
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->text, sizeof(r->text), "%s", text);
	for (i = 0; i < n && o < sizeof(r->addrs) - 300; i++) {
		dns_target_format(&t[i], r->addrs + o, sizeof(r->addrs) - o);
		o += strlen(r->addrs + o);
		r->addrs[o++] = ' ';
		r->addrs[o] = '\0';
	}
	if (n > 0)
		snprintf(r->first, sizeof(r->first), "%s", t[0].host);
	event_base_loopbreak(base);
}

static void
run(struct result *r)
{
	while (!r->done)
		event_base_loop(base, EVLOOP_ONCE);
	printf("# %d %s %s: %s\n", r->class, r->code, r->text, r->addrs);
}

static int
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/*
 * Whether something listens on UDP 127.0.0.1:port (dnsmasq is up), read
 * from /proc/net/udp: binding the port to find out could itself keep
 * dnsmasq from binding it.
 */
static int
port_taken(int port)
{
	char line[256], want[32];
	FILE *fp = fopen("/proc/net/udp", "r");
	int taken = 0;

	if (fp == NULL)
		return 0;
	snprintf(want, sizeof(want), " 0100007F:%04X ", port);
	while (!taken && fgets(line, sizeof(line), fp) != NULL)
		taken = strstr(line, want) != NULL;
	fclose(fp);
	return taken;
}

/*
 * start_dnsmasq - dnsmasq for the .test zone on a free port; again on
 * another port if it exits (another process took the port between
 * free_port and dnsmasq's bind). Its port, or -1.
 */
static int
start_dnsmasq(pid_t *pid)
{
	char portarg[32];
	int port, status;

	for (int tries = 0; tries < 5; tries++) {
		port = free_port();
		snprintf(portarg, sizeof(portarg), "--port=%d", port);
		if ((*pid = fork()) == 0) {
			freopen("/dev/null", "w", stderr);
			execl("/usr/sbin/dnsmasq", "dnsmasq",
			    "--keep-in-foreground", portarg,
			    "--listen-address=127.0.0.1", "--bind-interfaces",
			    "--no-resolv", "--no-hosts", "--local=/test/",
			    "--pid-file=", "--user=root",
			    "--mx-host=a.test,mx2.a.test,20",
			    "--mx-host=a.test,mx1.a.test,10",
			    "--host-record=mx1.a.test,127.0.0.2",
			    "--host-record=mx2.a.test,127.0.0.3,::1",
			    "--host-record=b.test,127.0.0.4",
			    "--mx-host=null.test,.,0",
			    "--mx-host=bad.test,nowhere.test,10", (char *)NULL);
			_exit(127);
		}
		/* a loaded machine can take a while to start it: wait until
		 * it listens (at most 10 s), not for a fixed time */
		for (int i = 0; i < 1000; i++) {
			if (port_taken(port))
				return port;
			if (waitpid(*pid, &status, WNOHANG) == *pid)
				break;
			usleep(10000);
		}
	}
	return -1;
}

int
main(void)
{
	struct conf c;
	struct conf_addr dnsaddr;
	struct result r;
	pid_t pid;
	int port;

	if (access("/usr/sbin/dnsmasq", X_OK) != 0) {
		printf("1..0 # no /usr/sbin/dnsmasq (tests/deps.sh installs it)\n");
		return 1;
	}
	if ((port = start_dnsmasq(&pid)) == -1) {
		printf("1..0 # dnsmasq did not start\n");
		return 1;
	}

	memset(&c, 0, sizeof(c));
	memset(&dnsaddr, 0, sizeof(dnsaddr));
	snprintf(dnsaddr.host, sizeof(dnsaddr.host), "127.0.0.1");
	dnsaddr.port = port;
	c.dns = &dnsaddr;
	c.ndns = 1;
	base = event_base_new();
	ok(dns_start(base, &c) == 0, "channel set up");

	memset(&r, 0, sizeof(r));
	dns_resolve_mx("a.test", 25, got, &r);
	run(&r);
	/* Within a host, c-ares orders the addresses (RFC 6724). */
	ok(r.class == 0 && r.n == 3 && strncmp(r.addrs,
	    "mx1.a.test[127.0.0.2]:25 mx2.a.test", 35) == 0 &&
	    strstr(r.addrs, "mx2.a.test[127.0.0.3]:25") != NULL &&
	    strstr(r.addrs, "mx2.a.test[::1]:25") != NULL,
	    "MX hosts by preference, IPv4 and IPv6");

	memset(&r, 0, sizeof(r));
	dns_resolve_mx("b.test", 2525, got, &r);
	run(&r);
	ok(r.class == 0 && strcmp(r.addrs, "b.test[127.0.0.4]:2525 ") == 0,
	    "implicit MX");

	memset(&r, 0, sizeof(r));
	dns_resolve_mx("null.test", 25, got, &r);
	run(&r);
	ok(r.class == 5 && strcmp(r.code, "5.1.10") == 0, "null MX: 5.1.10");

	memset(&r, 0, sizeof(r));
	dns_resolve_mx("nx.test", 25, got, &r);
	run(&r);
	ok(r.class == 5 && strcmp(r.code, "5.1.2") == 0, "NXDOMAIN: 5.1.2");

	memset(&r, 0, sizeof(r));
	dns_resolve_mx("bad.test", 25, got, &r);
	run(&r);
	ok(r.class == 5 && strcmp(r.code, "5.4.4") == 0,
	    "MX host without address: 5.4.4");

	memset(&r, 0, sizeof(r));
	dns_resolve_mx("[127.0.0.9]", 25, got, &r);
	run(&r);
	ok(r.class == 0 && strcmp(r.addrs, "127.0.0.9[127.0.0.9]:25 ") == 0,
	    "domain literal");

	memset(&r, 0, sizeof(r));
	dns_resolve_host("mx2.a.test", 587, got, &r);
	run(&r);
	ok(r.class == 0 && r.n == 2 && strcmp(r.first, "mx2.a.test") == 0,
	    "relay host by name, no MX");

	memset(&r, 0, sizeof(r));
	dns_resolve_host("nx.test", 587, got, &r);
	run(&r);
	ok(r.class == 4, "relay host not found: deferred");

	{
		struct result r2;

		memset(&r2, 0, sizeof(r2));
		dns_cancel(dns_resolve_mx("a.test", 25, got, &r2));
		memset(&r, 0, sizeof(r));
		dns_resolve_mx("b.test", 25, got, &r);
		run(&r);
		ok(!r2.done, "cancelled request not answered");
	}

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	memset(&r, 0, sizeof(r));
	dns_resolve_mx("a.test", 25, got, &r);
	run(&r);
	ok(r.class == 4 && strcmp(r.code, "4.4.3") == 0,
	    "server down: 4.4.3");

	dns_stop();
	event_base_free(base);
	return tap_done();
}
