/*
 * conf_access.c - the settings of who may use the tree and who owns what
 * mailfs writes into SPOOL/inbox (mailfs.conf(5)):
 *
 *	group = NAME|GID		members may submit and read the tree
 *	maildir_owner = USER[:GROUP]	owner of files made in SPOOL/inbox
 *	maildir_mode = 0600		their mode (directories add x bits)
 *
 * Names are resolved here, at load, so an unknown one is refused before
 * the mount (exit 78). API: conf_set_access in lib/conf.h.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"

/* A group name, or a number (which need not have a name). */
static int
access_group(const char *s, gid_t *out)
{
	struct group *gr;
	char *end;
	unsigned long v;

	if (s[0] >= '0' && s[0] <= '9') {
		v = strtoul(s, &end, 10);
		if (*end == '\0' && v < (gid_t)-1)
			return *out = (gid_t)v, 0;
		return -1;
	}
	if ((gr = getgrnam(s)) == NULL)
		return -1;
	*out = gr->gr_gid;
	return 0;
}

int
conf_set_access(struct conf *c, const char *key, const char *value,
    char *err, size_t errlen)
{
	char user[256], *colon, *end;
	struct passwd *pw;
	unsigned long v;

	if (strcmp(key, "group") == 0) {
		if ((c->has_group = value[0] != '\0' &&
		    strcmp(value, "none") != 0) &&
		    access_group(value, &c->group) == -1) {
			c->has_group = 0;
			snprintf(err, errlen, "group: no such group '%s'", value);
			return -1;
		}
	} else if (strcmp(key, "maildir_owner") == 0) {
		snprintf(user, sizeof(user), "%s", value);
		if ((colon = strchr(user, ':')) != NULL)
			*colon++ = '\0';
		if ((pw = getpwnam(user)) == NULL) {
			snprintf(err, errlen, "maildir_owner: no such user '%s'",
			    user);
			return -1;
		}
		c->maildir_uid = pw->pw_uid;
		c->maildir_gid = pw->pw_gid;
		if (colon != NULL && access_group(colon, &c->maildir_gid) == -1) {
			snprintf(err, errlen, "maildir_owner: no such group '%s'",
			    colon);
			return -1;
		}
	} else if (strcmp(key, "maildir_mode") == 0) {
		v = strtoul(value, &end, 8);
		if (value[0] < '0' || value[0] > '7' || *end != '\0' ||
		    (v & ~0666UL) != 0 || !(v & 0400)) {
			snprintf(err, errlen, "maildir_mode: '%s' is not an octal "
			    "file mode from 0400 to 0666 readable by its owner",
			    value);
			return -1;
		}
		c->maildir_mode = (mode_t)v;
	} else
		return 1;
	return 0;
}
