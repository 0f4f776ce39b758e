/*
 * log.h - diagnostics of the daemon itself (not the mail event log, which
 * is queue/qlog.h): syslog, and stderr as well with -f.
 *
 * log_warn appends strerror(errno); log_warnx does not; fatal is for broken
 * invariants only and exits 1.
 */
#ifndef MAILFS_LOG_H
#define MAILFS_LOG_H

void	log_init(int to_stderr);
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
