/*
 * qlog.h - the mail event log: SPOOL/log, one event a line, oldest first,
 *
 *	2026-11-29T03:04:05Z ID EVENT key=value ...
 *
 * Values with spaces, quotes or control characters are double-quoted
 * (with \" and \\ escaped; control characters become spaces). Each line
 * also goes to syslog (or stderr with -f) through lib/log.h, and, when the
 * ID is an outbound message, to that message's own log (queue/ID/log).
 * Thread-safe: called from FUSE threads and the event thread.
 */
#ifndef MAILFS_QLOG_H
#define MAILFS_QLOG_H

#include <stddef.h>

int	qlog_open(const char *spool);
void	qlog_close(void);

/*
 * qlog_event - append one event. id may be NULL ("-" is written). The
 * variable arguments are key, value pairs of strings ended by NULL; a NULL
 * value is written as "-". Example:
 *	qlog_event(id, "deferred", "to", rcpt, "relay", relay,
 *	    "code", "4.4.1", "text", "connection refused", NULL);
 */
void	qlog_event(const char *id, const char *event, ...)
	    __attribute__((sentinel));

/* Path of the global log file, for the fs to serve (it only grows). */
const char *qlog_path(void);

#endif
