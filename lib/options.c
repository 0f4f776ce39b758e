/*
 * options.c - the -o argument: which items are mount options, and the
 * rule that tells a list value's next item from the next option; see
 * options.h.
 *
 * What passes to libfuse is exactly what libfuse 3.14's mount code knows
 * (anything else makes fuse_session_new fail with "unknown option"). Of
 * the flags that mount.fuse3 and mount(8) add on their own, "suid" and
 * "dev" are dropped: the tree holds no set-user-ID files and no devices,
 * so the mount stays nosuid,nodev (libfuse's default) whatever fstab says.
 * The atime variants libfuse does not know are dropped too: mailfs keeps
 * no access times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/options.h"

static const char *const fuse_opts[] = {
	"allow_other", "default_permissions", "ro", "rw", "nosuid", "nodev",
	"exec", "noexec", "sync", "async", "dirsync", "atime", "noatime",
	NULL
};

/* mount(8)'s filesystem-independent options and fstab(5)'s own */
static const char *const dropped_opts[] = {
	"suid", "dev", "defaults", "auto", "noauto", "user", "nouser", "users",
	"owner", "group", "nofail", "_netdev", "relatime", "norelatime",
	"strictatime", "nostrictatime", "diratime", "nodiratime", "lazytime",
	"nolazytime", NULL
};

/* prefixes: systemd's and libmount's x-/X- options (with or without a
 * value), the user=NAME libmount adds for a "user" mount, comment= */
static const char *const dropped_prefixes[] = {
	"x-", "X-", "user=", "comment=", NULL
};

static int
in_list(const char *const *list, const char *item)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, item) == 0)
			return 1;
	return 0;
}

enum options_kind
options_classify(const char *item)
{
	if (in_list(fuse_opts, item))
		return OPTIONS_FUSE;
	if (in_list(dropped_opts, item))
		return OPTIONS_DROP;
	for (const char *const *p = dropped_prefixes; *p != NULL; p++)
		if (strncmp(item, *p, strlen(*p)) == 0)
			return OPTIONS_DROP;
	return OPTIONS_SETTING;
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		perror("mailfs");
		exit(71);
	}
	return p;
}

/* Append item to the comma list *list; NULL is no list yet, while ""
 * is one empty item, so that a stray comma stays visible. */
static void
append(char **list, const char *item)
{
	size_t n = *list ? strlen(*list) : 0;
	char *p = xrealloc(*list, n + strlen(item) + 2);

	if (*list != NULL)
		p[n++] = ',';
	strcpy(p + n, item);
	*list = p;
}

/*
 * Each item is
 *  - a mount option: FUSE's go to c->mount_opts, the others are dropped;
 *  - key=value, a setting;
 *  - otherwise a bare word, which continues the value before it only when
 *    that is a list setting (domains=a,b retry=1m,5m); elsewhere it is
 *    refused, naming it.
 * A mount option always ends the value before it, so a list item spelled
 * like one (a domain "user") must come first or go in the file.
 */
int
options_apply(struct conf *c, const char *arg, char *err, size_t errlen)
{
	char *copy = xrealloc(NULL, strlen(arg) + 1), *p, *next, *eq, *item;
	char *key = NULL, *value = NULL;
	enum options_kind kind;
	int rc = 0;

	for (p = strcpy(copy, arg); p != NULL && rc == 0; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		item = conf_trim_blanks(p);
		kind = options_classify(item);
		if (key != NULL && conf_is_list_key(key) &&
		    kind == OPTIONS_SETTING && strchr(item, '=') == NULL) {
			/* an empty one too: the list refuses a stray comma */
			append(&value, item);
			continue;
		}
		if (key != NULL && item[0] == '\0') {
			snprintf(err, errlen, "%s: '%s' is followed by an empty "
			    "item (a stray comma?)", key, value);
			rc = -1;
			break;
		}
		if (key != NULL && (rc = conf_set(c, key, value, err, errlen)) == -1)
			break;
		free(value);
		key = NULL;
		value = NULL;
		if (kind == OPTIONS_FUSE)
			append(&c->mount_opts, item);
		else if (kind == OPTIONS_DROP || item[0] == '\0')
			continue;
		else if ((eq = strchr(item, '=')) != NULL) {
			*eq = '\0';
			key = conf_trim_blanks(item);
			append(&value, conf_trim_blanks(eq + 1));
		} else {
			snprintf(err, errlen, "-o: '%s' is neither a setting "
			    "(key=value) nor a mount option", item);
			rc = -1;
		}
	}
	if (rc == 0 && key != NULL)
		rc = conf_set(c, key, value, err, errlen);
	free(value);
	free(copy);
	return rc;
}
