/*
 * mailq.h - the queue listed the way Postfix's mailq(1) does, read from
 * the spool's state files without the daemon (sendmail -bp, mailq).
 */
#ifndef MAILFS_MAILQ_H
#define MAILFS_MAILQ_H

#include <stdio.h>

/* Print every entry of SPOOL/queue to out: ID, size, arrival, sender,
 * then each pending recipient with its last status text; "Mail queue is
 * empty" when there is none. 0 or an errno (the spool cannot be read). */
int	mailq_print(const char *spool, FILE *out);

#endif
