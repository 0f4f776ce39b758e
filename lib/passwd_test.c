/*
 * passwd_test.c - unit tests of lib/passwd.c: yescrypt and sha512-crypt
 * hashes made once by `mkpasswd -m yescrypt` and `mkpasswd -m sha-512`
 * (password "secret123"), the file's mode, bad lines keeping the table
 * in use, reloading, and the senders a user may give. TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/passwd.h"
#include "tests/tap.h"

#define YESCRYPT "$y$j9T$ivRrfu6z5e.SflIXR0ejm1$" \
	"3OW8WeMZP5XSQSluKBQUFff0sIhDTF.xPpt0VIZ5Sg9"
#define SHA512 "$6$cEPTpj8Xvx4IvIOr$afZisuNwS7nzDNQIdYRrFt0tRyw6L.1Kr5DEYnD" \
	"JAYHCpMIsmBuw19zrWCTkVYoQ9ohWguh2frxJFwiE8gj80/"

static char path[64];

static void
write_file(const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

int
main(void)
{
	struct conf c;
	char err[512];
	int fd;

	snprintf(path, sizeof(path), "/tmp/passwd_test.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		return 1;
	close(fd);
	memset(&c, 0, sizeof(c));
	conf_init_defaults(&c);
	conf_set(&c, "hostname", "mx.example.org", err, sizeof(err));
	conf_set(&c, "domains", "example.org,example.net", err, sizeof(err));

	write_file("# users\n\nalice:" YESCRYPT "\n"
	    "bob:" SHA512 ":bob@other.test, @lists.test\n", 0600);
	ok(passwd_load(path, err, sizeof(err)) == 0, "a file of mode 0600 "
	    "loads (%s)", err);
	ok(passwd_check("alice", "secret123"), "yescrypt: the password");
	ok(!passwd_check("alice", "secret124"), "yescrypt: another one");
	ok(passwd_check("bob", "secret123"), "sha512-crypt: the password");
	ok(!passwd_check("bob", ""), "sha512-crypt: the empty one");
	ok(!passwd_check("carol", "secret123"), "an unknown user");
	ok(!passwd_check("", "secret123"), "the empty user");

	ok(passwd_sender_ok(&c, "alice", "alice@example.org") &&
	    passwd_sender_ok(&c, "alice", "x@EXAMPLE.NET"),
	    "without a list: any address in the domains");
	ok(!passwd_sender_ok(&c, "alice", "alice@other.test") &&
	    !passwd_sender_ok(&c, "alice", "") &&
	    !passwd_sender_ok(&c, "alice", "postmaster"),
	    "without a list: nothing else, not the null sender");
	ok(passwd_sender_ok(&c, "bob", "bob@other.test") &&
	    passwd_sender_ok(&c, "bob", "any@lists.test"),
	    "a list: its addresses and its @domains");
	ok(!passwd_sender_ok(&c, "bob", "bob@example.org") &&
	    !passwd_sender_ok(&c, "bob", "eve@other.test"),
	    "a list replaces the domains");
	ok(!passwd_sender_ok(&c, "carol", "carol@example.org"),
	    "an unknown user may send as nobody");

	write_file("alice:" YESCRYPT "\n", 0644);
	err[0] = '\0';
	ok(passwd_reload(err, sizeof(err)) == -1 &&
	    strstr(err, "group or others") != NULL,
	    "mode 0644 is refused: %s", err);
	ok(passwd_check("bob", "secret123"), "... and the table in use stays");
	chmod(path, 0640);
	ok(passwd_reload(err, sizeof(err)) == -1, "mode 0640 is refused");

	write_file("alice:" YESCRYPT "\nbob\n", 0600);
	ok(passwd_reload(err, sizeof(err)) == -1 &&
	    strstr(err, "line 2") != NULL, "a line without a hash: %s", err);
	write_file("alice:plaintext\n", 0600);
	ok(passwd_reload(err, sizeof(err)) == -1 &&
	    strstr(err, "line 1") != NULL, "a password in the clear: %s",
	    err);
	write_file("alice:" YESCRYPT "\nalice:" SHA512 "\n", 0600);
	ok(passwd_reload(err, sizeof(err)) == -1 &&
	    strstr(err, "twice") != NULL, "a user twice: %s", err);
	ok(passwd_check("bob", "secret123"), "the table in use stays");

	write_file("alice:" SHA512 "\n", 0600);
	ok(passwd_reload(err, sizeof(err)) == 0 &&
	    passwd_check("alice", "secret123") &&
	    !passwd_check("bob", "secret123"), "a good file replaces it");

	unlink(path);
	ok(passwd_load(path, err, sizeof(err)) == -1 &&
	    strstr(err, "cannot read") != NULL, "a missing file: %s", err);
	passwd_close();
	ok(!passwd_check("alice", "secret123"), "closed: nobody");
	conf_free(&c);
	return tap_done();
}
