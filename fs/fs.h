/*
 * fs.h - the FUSE face of mailfs (low-level API): the synthetic tree of
 * interface.md over queue/, the inbox and the event log.
 */
#ifndef MAILFS_FS_H
#define MAILFS_FS_H

struct fuse_lowlevel_ops;
struct conf;

/* The ops table; fs_init must be called before the session starts. */
const struct fuse_lowlevel_ops *fs_ops(void);
void	fs_init(const struct conf *c);
struct fuse_session;
/* The session, once made: for telling the kernel to forget entries that
 * changed without a request (inbox mail another tool deleted). */
void	fs_session(struct fuse_session *se);
/* After the session has ended: free the handles the kernel had not
 * released yet (outbox files excepted). */
void	fs_stop(void);
/* fs/loop.c: serve requests until the session ends (unmount, or a
 * signal through libfuse's handlers); 0, or -1 if the loop failed. */
int	loop_run(struct fuse_session *se);

#endif
