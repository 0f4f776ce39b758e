/*
 * options_test.c - unit tests of lib/options.c: -o lists of settings and
 * mount options, which mount options reach libfuse, and what a bare word
 * means after each kind of setting. TAP.
 */
#include <string.h>

#include "lib/conf.h"
#include "lib/options.h"
#include "tests/tap.h"

/* apply ARG to a fresh conf; 0 or -1, err and the conf kept for a look */
static struct conf c;
static char err[256];

static int
apply(const char *arg)
{
	conf_free(&c);
	conf_init_defaults(&c);
	err[0] = '\0';
	return options_apply(&c, arg, err, sizeof(err));
}

int
main(void)
{
	conf_init_defaults(&c);
	ok(options_apply(&c, "domains=x.test,y.test,smtp_port=2526", err,
	    sizeof(err)) == 0 && c.ndomains == 2 && c.smtp_port == 2526,
	    "-o with a comma-list value");
	ok(options_apply(&c, "retry=1s,2s,3s", err, sizeof(err)) == 0 &&
	    c.nretry == 3, "-o retry list");
	ok(options_apply(&c, "nokey", err, sizeof(err)) == -1, "-o item without =");
	ok(options_apply(&c, " smtp_port = 2527 , concurrency=4", err,
	    sizeof(err)) == 0 && c.smtp_port == 2527 && c.concurrency == 4,
	    "-o key and value trimmed");

	ok(options_classify("allow_other") == OPTIONS_FUSE &&
	    options_classify("default_permissions") == OPTIONS_FUSE &&
	    options_classify("noexec") == OPTIONS_FUSE &&
	    options_classify("rw") == OPTIONS_FUSE, "FUSE's options pass");
	ok(options_classify("_netdev") == OPTIONS_DROP &&
	    options_classify("x-systemd.automount") == OPTIONS_DROP &&
	    options_classify("x-systemd.requires=a.mount") == OPTIONS_DROP &&
	    options_classify("user=joe") == OPTIONS_DROP &&
	    options_classify("suid") == OPTIONS_DROP &&
	    options_classify("dev") == OPTIONS_DROP, "mount(8)'s are dropped");
	ok(options_classify("spool=/x") == OPTIONS_SETTING &&
	    options_classify("allow_others") == OPTIONS_SETTING &&
	    options_classify("x") == OPTIONS_SETTING, "the rest is no mount option");

	ok(apply("listen=none,allow_other") == 0 && c.nlisten == 0 &&
	    strcmp(c.mount_opts, "allow_other") == 0,
	    "a mount option ends a list value (listen=none,allow_other)");
	ok(apply("allow_other,domains=a.test,b.test,default_permissions,ro,"
	    "_netdev,nofail,auto,noauto,user,x-systemd.automount,dev,suid,"
	    "nosuid,nodev,noexec,noatime,rw") == 0 && c.ndomains == 2 &&
	    strcmp(c.mount_opts, "allow_other,default_permissions,ro,nosuid,"
	    "nodev,noexec,noatime,rw") == 0, "FUSE's kept in order, the "
	    "rest dropped, the list between them whole");
	ok(apply("spool=/x") == 0 && c.mount_opts == NULL, "no mount options: "
	    "none for libfuse");
	ok(apply("listen=none,bogus") == -1 && strstr(err, "bogus") != NULL &&
	    strstr(err, "listen") != NULL, "a word after listen=none: refused, "
	    "naming it (%s)", err);
	ok(apply("smtp_port=25,bogus") == -1 && strstr(err, "'bogus'") != NULL,
	    "a bare word after a single value: refused, naming it (%s)", err);
	ok(apply("bogus,spool=/x") == -1 && strstr(err, "'bogus'") != NULL,
	    "a bare word first: refused, naming it");
	ok(apply("allow_other,bogus") == -1 && strstr(err, "'bogus'") != NULL,
	    "a bare word after a mount option: refused, naming it");
	ok(apply("retry=1m,bogus") == -1 && strstr(err, "retry") != NULL &&
	    strstr(err, "bogus") != NULL, "a bare word after a list: an item "
	    "of it, refused by the list (%s)", err);
	ok(apply("no_such=1,allow_other") == -1 && strstr(err, "no_such") != NULL,
	    "an unknown key is still an unknown setting");
	ok(apply("smtp_port=25,,spool=/x") == -1 && strstr(err, "smtp_port") &&
	    strstr(err, "stray comma"), "a stray comma after a single value");
	ok(apply("retry=1m,,5m") == -1 && strstr(err, "empty element"),
	    "a stray comma in a list: the list refuses it");
	ok(apply("retry=,1m") == -1 && strstr(err, "empty element"),
	    "an empty first item of a list is kept, and refused");
	ok(apply(",allow_other,") == 0 && strcmp(c.mount_opts, "allow_other")
	    == 0, "empty items between mount options are nothing");
	ok(apply("domains=a.test,user") == 0 && c.ndomains == 1,
	    "a list item spelled like a mount option is the mount option");
	conf_free(&c);
	return tap_done();
}
