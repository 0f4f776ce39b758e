/*
 * tap.h - the TAP lines every C unit test prints (`ok N - what`, then the
 * plan `1..N`), so that prove runs them beside the shell tests.
 *
 *	ok(cond, "what %s", arg);	one test point
 *	return tap_done();		the plan; non-zero if any failed
 */
#ifndef MAILFS_TAP_H
#define MAILFS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failed;

static inline void ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	fflush(stdout);
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed != 0;
}

#endif
