/*
 * qlog.c - the mail event log of interface.md: SPOOL/log,
 *
 *	2026-11-29T03:04:05Z ID EVENT key=value ...
 *
 * API: qlog_open, qlog_close, qlog_event, qlog_path (qlog.h).
 *
 * Each line is formatted whole and written with one write() on an
 * O_APPEND descriptor, so lines from concurrent threads never interleave
 * and `tail -f` sees whole lines. The same line (without the time, which
 * syslog adds) goes to log_info, and to the message's own log through
 * queue_log_append when the ID is an outbound message.
 *
 * Diagnostics: a failed open is returned (-1 + errno); a failed write is
 * reported once through log_warn (the event still reaches syslog).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "lib/log.h"
#include "queue/qlog.h"
#include "queue/queue_int.h"

static int log_fd = -1;
static char log_path[PATH_MAX];
static atomic_int write_warned;

int
qlog_open(const char *spool)
{
	int fd;

	if ((size_t)snprintf(log_path, sizeof(log_path), "%s/log", spool) >=
	    sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Called before queue_open, which would create it too. */
	if (g_mkdir_with_parents(spool, 0750) == -1)
		return -1;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	write_warned = 0;
	return 0;
}

void
qlog_close(void)
{
	if (log_fd != -1)
		close(log_fd);
	log_fd = -1;
}

const char *
qlog_path(void)
{
	return log_path;
}

/* Values are quoted when a reader splitting on spaces and '=' would get
 * them wrong: empty, or with a space, quote, backslash, '=' or control
 * character. */
static int
needs_quotes(const char *v)
{
	if (*v == '\0')
		return 1;
	for (; *v; v++)
		if ((unsigned char)*v <= ' ' || *v == 0x7f || *v == '"' ||
		    *v == '\\' || *v == '=')
			return 1;
	return 0;
}

static void
put_value(FILE *f, const char *v)
{
	if (v == NULL) {
		fputc('-', f);
		return;
	}
	if (!needs_quotes(v)) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		fputc((unsigned char)*v < ' ' || *v == 0x7f ? ' ' : *v, f);
	}
	fputc('"', f);
}

static int
write_line(int fd, const char *p, size_t len)
{
	ssize_t n;

	/* O_APPEND: a regular file takes the whole line in one write. */
	while ((n = write(fd, p, len)) == -1 && errno == EINTR)
		;
	return n == (ssize_t)len ? 0 : -1;
}

void
qlog_event(const char *id, const char *event, ...)
{
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	const char *key, *value;
	char *line = NULL;
	size_t len = 0, head;
	va_list ap;
	FILE *f;

	if ((f = open_memstream(&line, &len)) == NULL)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	fputs(stamp, f);
	head = strlen(stamp);
	fprintf(f, "%s %s", id ? id : "-", event);
	va_start(ap, event);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		fprintf(f, " %s=", key);
		put_value(f, value);
	}
	va_end(ap);
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(line);
		return;
	}
	if (log_fd != -1 && write_line(log_fd, line, len) == -1 &&
	    !atomic_exchange(&write_warned, 1)) {
		log_warn("%s: cannot append", log_path);
	}
	if (id != NULL)
		queue_log_append(id, line, len);
	log_info("%.*s", (int)(len - head - 1), line + head);
	free(line);
}
