/*
 * tree_int.h - private interfaces between the files of the FUSE face
 * (fs.h): place.c turns inodes and paths into places in the tree of
 * interface.md and gives their attributes; dir.c lists directories;
 * remove.c deletes (rm -r of inbox/, sent/ and failed/ entries);
 * status.c serves queue/ID/status through the page cache; xattr.c
 * refuses extended attributes; session.c starts and ends what needs the
 * session and tells the kernel what changed behind its back; tree.c
 * holds every other operation and the ops table. Not for use outside
 * fs/.
 */
#ifndef MAILFS_TREE_INT_H
#define MAILFS_TREE_INT_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "queue/maildir.h"
#include "queue/queue.h"

/* st_blksize: a page, the unit readers size their reads by. */
#define BLOCK_SIZE	4096

/* Entries and attributes that never change (the top level, and the files
 * of an inbox message but info). */
#define STATIC_TIMEOUT	3600.0
/* The attributes of a queue/, sent/ or failed/ entry's directory: kept
 * briefly, so a directory still open after its entry moved shows them
 * no longer than this. */
#define ENTRY_ATTR_TIMEOUT	1.0
/* outbox/'s attributes (its time is dropped from the kernel when it
 * changes: fs/session.c) and those a new outbox file is created with
 * (until its first write, which the kernel knows to make stale): kept
 * that long, so a `cp` asks for them once, not five times. (A name's
 * absence is not kept: cp's O_EXCL create looks it up again anyway.) */
#define OUTBOX_TIMEOUT	1.0
/* queue/ID and the names of its files: only mailfs takes an entry out of
 * queue/, and the kernel is made to forget the name before anyone can see
 * that it left (fs/session.c). */
#define QUEUE_TIMEOUT	3600.0
/* inbox/ID: how long another tool's deleting it may go unseen by a path
 * that was looked up before. */
#define INBOX_TIMEOUT	3600.0

enum area { AREA_NONE, AREA_OUTBOX, AREA_QUEUE, AREA_SENT, AREA_FAILED,
	AREA_INBOX, AREA_DRAFTS };
#define AREA_LAST	AREA_DRAFTS

enum kind {
	K_ROOT, K_CTL, K_LOG, K_STATS,
	K_AREA,			/* outbox/ queue/ sent/ failed/ inbox/ drafts/ */
	K_OUTFILE,		/* outbox/NAME */
	K_ENTRY,		/* queue/ID (sent, failed) */
	K_EFILE,		/* queue/ID/FILE */
	K_IENTRY,		/* inbox/ID */
	K_INODE,		/* inbox/ID/REL */
	K_DFILE			/* drafts/NAME: fs/drafts.c */
};

/* A place in the tree, parsed from a path. */
struct loc {
	enum kind kind;
	enum area area;
	char path[PATH_MAX];
	char id[MAILDIR_ID_MAX];
	const char *name;	/* outbox name, entry file, inbox rel path */
	const struct queue_file *qf;	/* K_EFILE: which file */
	char buf[PATH_MAX];	/* what name points into */
};

/* An open file. */
struct handle {
	int is_dir;		/* 0: tells a handle from a dir_handle */
	enum kind kind;
	char *buf;		/* rendered content, or */
	const char *data;	/* a view into msg */
	size_t len;
	int fd;			/* served from disk when >= 0, */
	off_t base;		/* from there (inbox raw slices: len bytes) */
	struct inbox_msg *msg;
	struct outbox_file *ob;
	int append;
	int writer;		/* opened for writing: its close() may send */
	pid_t owner;		/* the process that opened it (outbox_process) */
	char id[MAILDIR_ID_MAX];	/* ID/ctl: the entry, and where */
	enum queue_where where;
	fuse_ino_t status_ino;	/* read through the page cache (fs/status.c) */
	struct handle *prev, *next;	/* in the list of open files */
};

/* A snapshot of a directory for readdir: its n entries, each a type
 * byte ('d' or 'f') and the name with its NUL, one after another in one
 * block (a listing of 100,000 costs one allocation and about 30 bytes an
 * entry, not two and 60); at[i] is where entry i starts. fs/dir.c. */
struct dir_handle {
	int is_dir;		/* 1 */
	char *snap;
	size_t used, cap;	/* bytes of snap */
	uint32_t *at;
	size_t n, max;		/* entries, and room in at */
	char *path;		/* opendir: the directory, and who opened it */
	pid_t opener;
	struct dir_handle *next;	/* in the list of open directories */
};

/* --- place.c --- */

extern const char *const place_area_names[];	/* by enum area */
extern const char *const place_top_files[];	/* ctl log stats */
#define PLACE_NTOP	3

struct conf;
/* When the file system was mounted (times of the fixed entries), and the
 * settings that decide owners and modes. */
void	place_init(const struct conf *c);
enum queue_where place_where(enum area a);
/* Files whose content changes while they exist (no caching). */
int	place_is_dynamic(const struct loc *l);
/* ctl files: written with verbs, never read. */
int	place_is_ctl(const struct loc *l);
/* inbox/ID/info, which shows the Maildir flags: it changes. */
int	place_is_inbox_info(const struct loc *l);
/* How long the kernel may keep l's entry and attributes (seconds). */
double	place_entry_timeout(const struct loc *l);
double	place_attr_timeout(const struct loc *l);
/* Parse a path ("" is the root) into l: 0, ENOENT or ENAMETOOLONG. */
int	place_parse(const char *path, struct loc *l);
int	place_child_path(const char *parent, const char *name, char *out,
	    size_t len);
int	place_of_ino(fuse_ino_t ino, struct loc *l);
int	place_of_child(fuse_ino_t parent, const char *name, struct loc *l);
/* The stats file's text (malloc'd). */
int	place_render_stats(char **buf, size_t *len);
/*
 * place_stat - whether l exists, and its attributes. A handle, when given
 * (fstat), supplies the size of what it rendered. *gen is the inode
 * generation: outbox names are reused by new files.
 */
int	place_stat(const struct loc *l, const struct handle *h,
	    struct stat *st, uint64_t *gen);
/* place_stat of a node of inbox message m, which the caller holds
 * (inbox_get): readdirplus of inbox/ID gets the message once for all its
 * files, not once each. */
struct inbox_msg;
int	place_stat_inbox(const struct loc *l, struct inbox_msg *m,
	    struct stat *st, uint64_t *gen);
/* place_of_child and place_stat: what lookup does. */
int	place_lookup(fuse_ino_t parent, const char *name, struct loc *l,
	    struct stat *st, uint64_t *gen);
/* place_of_ino and place_stat (h as there). */
int	place_get(fuse_ino_t ino, const struct handle *h, struct loc *l,
	    struct stat *st, uint64_t *gen);

/* --- dir.c --- */

/* The visible entries of directory l, without "." and "..", into d. */
int	dir_list(const struct loc *l, struct dir_handle *d);
/* Free d's snapshot (d itself stays: dir_list into a struct of one's
 * own), or all of d (opendir's). */
void	dir_clear(struct dir_handle *d);
void	dir_free(struct dir_handle *d);
/* After the session: free the directories no releasedir came for. */
void	dir_stop(void);
/* 1 if process pid has directory path open (opendir, not yet released). */
int	dir_is_open_by(const char *path, pid_t pid);
void	dir_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void	dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	    struct fuse_file_info *fi);
void	dir_readplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	    struct fuse_file_info *fi);
void	dir_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* --- session.c --- */

/* The spool, for what session_init opens; hooks the queue's moves. */
void	session_spool(const char *spool);
/* 1 if the kernel may keep queue/ names (someone makes it forget them). */
int	session_queue_kept(void);
/* 1 while entry id, which left queue/, may still be known to the kernel
 * at its old name: not to be shown in sent/ or failed/ yet. */
int	session_queue_in_transit(const char *id);
/* Reply to a write of a ctl file (err, or size written) once the kernel
 * has forgotten what the verbs took out of queue/. */
void	session_reply_ctl(fuse_req_t req, int err, size_t size);
/* The ops init and destroy: what needs the session up (the inbox). */
void	session_init(void *userdata, struct fuse_conn_info *fc);
void	session_destroy(void *userdata);
/* Give the kernel's page cache the bytes of the small file ino being
 * opened (keep_cache), so that reading it needs no READ request: 0, or
 * -1 if it did not (too big, or the kernel refused). */
int	session_store(fuse_ino_t ino, const char *data, size_t len);
/* The kernel's attributes of ino, and those of replies to requests it
 * sent before this, are stale (it asks again). */
void	session_forget_attrs(fuse_ino_t ino);
/* 1 if the kernel was told of every change of queue/ID/status so far
 * (none is waiting for the notifier). */
int	session_status_told(const char *id);
/* How many times any queue/ID/status changed so far. */
unsigned long session_status_changes(void);

/* --- status.c: queue/ID/status through the page cache --- */

/* At the open of l (ino), rendered into h after session_status_changes
 * gave seen: 1 if h reads through the page cache (keep_cache: its bytes
 * are stored), 0 for direct_io. */
int	status_open(fuse_ino_t ino, const struct loc *l, struct handle *h,
	    unsigned long seen);
/* At the release of h (any handle): another may read ino so. */
void	status_release(struct handle *h);
/* The attribute timeout of a reply giving the kernel st for l (ino; of
 * handle h when it names one); may first make the kernel ignore it, or,
 * forced (a SETATTR's, which it cannot ignore), change st's size, so the
 * size a page cache reader of ino reads to stays its own. */
double	status_attr(fuse_ino_t ino, const struct loc *l, const struct handle *h,
	    struct stat *st, int forced);

/* --- xattr.c: extended attributes, none --- */

void	xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name,
	    const char *value, size_t size, int flags);
void	xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name,
	    size_t size);
void	xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size);
void	xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name);

/* --- remove.c --- */

/* 1 if path (or what it is under) was unlinked by an rm -r in progress. */
int	remove_is_hidden(const char *path);
void	remove_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void	remove_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);

#endif
