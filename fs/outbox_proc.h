/*
 * outbox_proc.h - what /proc says about a process closing a file in
 * outbox/ (fs/outbox.c decides with it whether a close ends a message):
 * how the process ends, which process a thread belongs to, and whether it
 * still holds another descriptor on the file.
 *
 * Thread-safe. A close by a running program reads /proc/PID/statm only;
 * the rarer reads of /proc/PID/stat (an exit, an exec) are done by a few
 * long-lived helper threads (one per read in flight, kept for the next),
 * not a thread per close.
 */
#ifndef MAILFS_OUTBOX_PROC_H
#define MAILFS_OUTBOX_PROC_H

#include <sys/types.h>

/* How the process closing a file ends: the FLUSH of a dying writer's
 * files comes while it dies. */
enum outbox_writer_end { WRITER_ALIVE, WRITER_FAILED, WRITER_KILLED,
	WRITER_EXEC };

/* How thread/process pid stands (WRITER_ALIVE for pid <= 0 or when
 * /proc does not say). */
enum outbox_writer_end outbox_writer_end(pid_t pid);
/* 1 if process pid still has a descriptor on outbox/name, inode ino. */
int	outbox_holds_other(pid_t pid, unsigned long ino, const char *name);

#endif
