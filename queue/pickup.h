/*
 * pickup.h - the daemon's side of SPOOL/maildrop (maildrop.h): a thread
 * that queues every file sendmail(8) leaves there, at start and as they
 * arrive (inotify, with a slow rescan as a fallback).
 */
#ifndef MAILFS_PICKUP_H
#define MAILFS_PICKUP_H

struct conf;

/* Create SPOOL/maildrop (mode 1730, group conf->group when set) and start
 * the thread; call after queue_open. -1 + errno. */
int	pickup_start(const struct conf *c);
/* End the thread (before queue_close); files not yet queued stay. */
void	pickup_stop(void);

#endif
