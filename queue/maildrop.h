/*
 * maildrop.h - how sendmail(8) hands a message to the running daemon
 * (Postfix's maildrop and pickup): one file in SPOOL/maildrop/ holding an
 * explicit envelope and the message. sendmail checks the message with the
 * queue's own parser (maildrop_prepare) and writes the file durably
 * (maildrop_write); the daemon's pickup thread (pickup.c) reads it back
 * (maildrop_parse), checks it again and queues it.
 *
 * The file: "mailfs-maildrop 1", "from <ADDR>" ("<>": the null sender),
 * one "to <ADDR>" line per recipient, a blank line, then the message as
 * given (LF or CRLF). Its owner is the submitter, recorded as the uid.
 * Names starting with '.' or ending in ".tmp" are not finished yet.
 */
#ifndef MAILFS_MAILDROP_H
#define MAILFS_MAILDROP_H

#include <stddef.h>

#include "queue/queue.h"

struct conf;

#define MAILDROP_DIR	"maildrop"
#define MAILDROP_NAME_MAX 64

/*
 * maildrop_prepare - validate raw (with the envelope of o, as
 * queue_submit would) and build the maildrop file in *out (malloc'd),
 * its envelope the one the queue will use: bare names qualified,
 * recipients each once. 0, or EINVAL / EFBIG with reason set (a bad
 * message), or ENOMEM. Needs g_mime_init().
 */
int	maildrop_prepare(const struct conf *c, const char *raw, size_t len,
	    const struct queue_origin *o, char **out, size_t *outlen,
	    char *reason, size_t reasonlen);
/*
 * maildrop_add_from - raw completed for submission: a From: field from_field
 * ("Name <addr>") added when the header has none, and input that starts
 * with no header at all (a bare body, as `echo hi | sendmail root` gives)
 * becomes the body of a header of that one field. *out is malloc'd.
 * 0 or ENOMEM.
 */
int	maildrop_add_from(const char *raw, size_t len, const char *from_field,
	    char **out, size_t *outlen);
/* Write buf durably as a new file in SPOOL/maildrop (temporary name,
 * fdatasync, rename, directory fsync); its name in name. 0 or errno. */
int	maildrop_write(const char *spool, const char *buf, size_t len,
	    char name[MAILDROP_NAME_MAX]);
/*
 * maildrop_parse - read a maildrop file back: o->from and o->rcpts point
 * into buf (modified), o->rcpts is malloc'd (free it), *msg into buf.
 * 0, or EINVAL when it is not a maildrop file.
 */
int	maildrop_parse(char *buf, size_t len, struct queue_origin *o,
	    const char **msg, size_t *msglen);

#endif
