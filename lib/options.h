/*
 * options.h - the -o argument of mailfs(8): settings (key=value) and mount
 * options in one comma list, as mount(8) and fstab(5) give them.
 *
 *	options_apply(&conf, "allow_other,spool=/x,domains=a,b,_netdev", ...)
 *
 * FUSE's and the kernel's mount options are appended to conf.mount_opts
 * for libfuse; the generic ones of mount(8) and fstab(5) are dropped;
 * everything else is a setting (lib/conf.h). Returns 0, or -1 with one
 * line in err naming the key or the word (the caller exits 78).
 */
#ifndef MAILFS_OPTIONS_H
#define MAILFS_OPTIONS_H

#include <stddef.h>

#include "lib/conf.h"

enum options_kind {
	OPTIONS_SETTING,	/* not a mount option: a setting, or a mistake */
	OPTIONS_FUSE,		/* passed to libfuse (fuse_session_new's -o) */
	OPTIONS_DROP		/* accepted and ignored */
};

enum options_kind options_classify(const char *item);
int	options_apply(struct conf *c, const char *arg, char *err,
	    size_t errlen);

#endif
