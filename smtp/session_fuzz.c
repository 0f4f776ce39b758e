/*
 * session_fuzz.c - libFuzzer target for the inbound SMTP session
 * (smtp/session*.c, data.c, behind the listener of server.c): the input
 * is what a client sends. The real listener runs
 * on 127.0.0.1 (a free port) over a temporary spool with its Maildir, on
 * its own event thread; each input is one TCP connection that sends the
 * bytes, shuts its side down and reads the replies to the end.
 * Seeds: tests/fuzz-seeds/session_fuzz.
 *
 * Besides the sanitizers it checks the replies: every line a reply line
 * (three digits, then ' ' or '-'), CRLF-terminated, at most 512 octets
 * (RFC 5321 §4.5.3.1.5), and the session always ending (a read that
 * waits 20 s aborts). Messages it stores are deleted after each input,
 * the spool when the run ends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <glib.h>

#include "lib/conf.h"
#include "lib/strv.h"
#include "queue/maildir.h"
#include "queue/qlog.h"
#include "smtp/proto.h"
#include "smtp/server.h"

static struct conf conf;
static struct sockaddr_in addr;
static char spool[] = "/tmp/mailfs-fuzz-XXXXXX";

static _Noreturn void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* A port nobody listens on now (the listener binds it right after). */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) == -1)
		die("free port");
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == -1 ? -1 : 0;
}

/* At the end of a run (not after a crash: then the spool is evidence). */
static void
remove_spool(void)
{
	nftw(spool, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void *
event_thread(void *base)
{
	event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char listen[64], err[256];
	struct event_base *base;
	pthread_t t;

	(void)argc;
	(void)argv;
	setenv("G_SLICE", "always-malloc", 1);
	if (mkdtemp(spool) == NULL)
		die("mkdtemp");
	atexit(remove_spool);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((uint16_t)free_port());
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", ntohs(addr.sin_port));
	conf_init_defaults(&conf);
	if (conf_set(&conf, "spool", spool, err, sizeof(err)) ||
	    conf_set(&conf, "hostname", "mx.fuzz.test", err, sizeof(err)) ||
	    conf_set(&conf, "domains", "fuzz.test,xn--bcher-kva.test", err,
	    sizeof(err)) ||
	    conf_set(&conf, "max_size", "2K", err, sizeof(err)) ||
	    conf_set(&conf, "listen", listen, err, sizeof(err)) ||
	    conf_finish(&conf, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	fprintf(stderr, "session_fuzz: spool %s, listening on %s\n", spool,
	    listen);
	if (qlog_open(spool) == -1 || maildir_open(spool, conf.hostname) == -1)
		die("spool");
	if (evthread_use_pthreads() == -1 || (base = event_base_new()) == NULL)
		die("event base");
	if (server_start(base, &conf) == -1)
		die("server_start");
	if (pthread_create(&t, NULL, event_thread, base) != 0)
		die("event thread");
	return 0;
}

/* Every line of the replies well-formed; the last one complete unless
 * the connection was reset, which may lose what was on its way. */
static void
check_replies(const char *p, size_t len, int reset)
{
	struct proto_reply r;
	const char *end = p + len, *nl;

	proto_reply_init(&r);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL && reset)
			return;
		if (nl == NULL || nl == p || nl[-1] != '\r' || nl + 1 - p > 512)
			abort();
		switch (proto_reply_feed(&r, p, (size_t)(nl - 1 - p))) {
		case -1:
			abort();
		case 1:
			proto_reply_init(&r);
		}
	}
	if (r.nlines != 0 && !reset)
		abort();
}

static void
clean_maildir(void)
{
	char **ids;
	size_t n, i;

	if (maildir_list(&ids, &n) == -1)
		return;
	for (i = 0; i < n; i++)
		maildir_delete(ids[i]);
	strv_free(ids, n);
	/* the mail log would only grow */
	if (truncate(qlog_path(), 0) == -1)
		return;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 20];
	struct timeval tv = { 20, 0 };
	size_t off = 0, len = 0;
	ssize_t n = 0;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1)
		die("connect");
	/* the server may hang up first (421 after too many errors) */
	while (off < size && (n = send(fd, data + off, size - off,
	    MSG_NOSIGNAL)) > 0)
		off += (size_t)n;
	shutdown(fd, SHUT_WR);
	while (len < sizeof(buf) &&
	    (n = recv(fd, buf + len, sizeof(buf) - len, 0)) > 0)
		len += (size_t)n;
	if (n == -1 && errno != ECONNRESET) {
		perror("session_fuzz: the session did not end");
		abort();
	}
	close(fd);
	check_replies(buf, len, n == -1);
	clean_maildir();
	return 0;
}
