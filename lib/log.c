/*
 * log.c - daemon diagnostics to syslog (facility mail), and to stderr as
 * well when running in the foreground (-f). See log.h.
 *
 * Without a syslog daemon, syslog(3) tries to connect to /dev/log twice
 * for every line; so a failed connect is remembered and tried again only
 * after SYSLOG_RETRY seconds (a syslog daemon started later is found
 * then), the lines meanwhile going to stderr only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

#define SYSLOG_RETRY	60

static int log_stderr;
/* 0: syslog is there (or log_init was not called); else when to look
 * for it again */
static atomic_llong syslog_retry_at;

/* 1 if a syslog daemon listens on /dev/log (datagram or stream, as
 * syslog(3) tries). */
static int
syslog_listens(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t i;
	int fd, ok;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", "/dev/log");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if ((fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0)) == -1)
			continue;
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return 1;
	}
	return 0;
}

/* 1 if this line should go to syslog. */
static int
syslog_up(void)
{
	long long at = atomic_load(&syslog_retry_at);
	time_t now;

	if (at == 0)
		return 1;
	if ((now = time(NULL)) < at)
		return 0;
	if (syslog_listens()) {
		atomic_store(&syslog_retry_at, 0);
		return 1;
	}
	atomic_store(&syslog_retry_at, (long long)now + SYSLOG_RETRY);
	return 0;
}

void
log_init(int to_stderr)
{
	int saved = errno;

	log_stderr = to_stderr;
	if (syslog_listens())
		openlog("mailfs", LOG_PID | LOG_NDELAY, LOG_MAIL);
	else {
		/* connected by the first syslog() once there is a daemon */
		openlog("mailfs", LOG_PID, LOG_MAIL);
		atomic_store(&syslog_retry_at, (long long)time(NULL) +
		    SYSLOG_RETRY);
	}
	errno = saved;
}

/* One line to syslog and maybe stderr; errnum != 0 appends ": strerror". */
static void
log_emit(int prio, int errnum, const char *fmt, va_list ap)
{
	char msg[2048];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnum));
	}
	if (syslog_up())
		syslog(prio, "%s", msg);
	if (log_stderr)
		fprintf(stderr, "mailfs: %s\n", msg);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (getenv("MAILFS_DEBUG") == NULL)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
