/*
 * passwd.h - the users of message submission (SMTP AUTH): the `passwd`
 * file of mailfs.conf(5), one user a line,
 *
 *	user:crypt-hash[:allowed,allowed...]
 *
 * the hash as crypt(3) makes it (yescrypt, sha512-crypt: `mkpasswd`),
 * the optional third field the envelope senders the user may give
 * (addresses, or "@domain" for a whole domain); without it, any address
 * in the `domains`. Blank lines and lines starting with '#' are skipped.
 *
 * The file must not be readable or writable by group or others: a file
 * that is, or that does not parse, is refused (passwd_load fails, the
 * table in use stays). Thread-safe: the table is swapped under a lock,
 * and passwd_check runs crypt outside it (it is slow on purpose: call it
 * off the event thread).
 */
#ifndef MAILFS_PASSWD_H
#define MAILFS_PASSWD_H

#include <stddef.h>

struct conf;

#define PASSWD_USER_MAX	256	/* a user name, with its NUL */

/*
 * passwd_load - read path and make it the table in use: 0, or -1 with
 * one line in err (the file's mode, a bad line with its number, a read
 * error) and the old table kept.
 */
int	passwd_load(const char *path, char *err, size_t errlen);
/* passwd_reload - passwd_load again from the last path that loaded. */
int	passwd_reload(char *err, size_t errlen);
/* Forget the table. */
void	passwd_close(void);

/* 1 if user's password is pass, else 0 (no such user too). */
int	passwd_check(const char *user, const char *pass);
/* 1 if user may send as addr (envelope sender, "" the null sender: no). */
int	passwd_sender_ok(const struct conf *c, const char *user,
	    const char *addr);

#endif
