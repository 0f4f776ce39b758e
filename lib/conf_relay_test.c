/*
 * conf_relay_test.c - unit tests of lib/conf_relay.c: the relay_auth file
 * (owner-only, one "user password" line, a password with spaces, what
 * does not parse; the password never in an error text), relay_tls, port
 * 465 meaning wrapper, and conf_finish's checks across keys. TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "tests/tap.h"

static char path[] = "/tmp/conf_relay_test.XXXXXX";

/* path holding text with mode; then conf_set relay_auth to it */
static int
auth_file(struct conf *c, const char *text, mode_t mode, char *err,
    size_t errlen)
{
	FILE *fp = fopen(path, "w");

	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
	err[0] = '\0';
	return conf_set(c, "relay_auth", path, err, errlen);
}

int
main(void)
{
	struct conf c;
	char err[256];
	int fd;

	if ((fd = mkstemp(path)) == -1)
		return 1;
	close(fd);
	conf_init_defaults(&c);
	ok(c.relay_user == NULL && c.relay_tls == CONF_RELAY_STARTTLS &&
	    !conf_relay_wrapper(&c), "no login and STARTTLS by default");

	ok(auth_file(&c, "alice s3cret\n", 0600, err, sizeof(err)) == 0 &&
	    strcmp(c.relay_user, "alice") == 0 &&
	    strcmp(c.relay_pass, "s3cret") == 0, "user and password");
	ok(auth_file(&c, "bob@x.test two words \r\n", 0400, err,
	    sizeof(err)) == 0 && strcmp(c.relay_user, "bob@x.test") == 0 &&
	    strcmp(c.relay_pass, "two words ") == 0,
	    "the password is the rest of the line, spaces and all");
	ok(auth_file(&c, "alice hunter2\n", 0644, err, sizeof(err)) == -1 &&
	    strstr(err, "relay_auth") && strstr(err, "others") &&
	    !strstr(err, "hunter2") && c.relay_user == NULL,
	    "a file others can read is refused, without its contents");
	ok(auth_file(&c, "alice hunter2\n", 0640, err, sizeof(err)) == -1,
	    "a file its group can read is refused");
	ok(auth_file(&c, "alice\n", 0600, err, sizeof(err)) == -1 &&
	    strstr(err, "user password"), "no password refused");
	ok(auth_file(&c, "alice \n", 0600, err, sizeof(err)) == -1 &&
	    auth_file(&c, " hunter2\n", 0600, err, sizeof(err)) == -1 &&
	    auth_file(&c, "", 0600, err, sizeof(err)) == -1,
	    "an empty password, user or file refused");
	ok(auth_file(&c, "alice hunter2\nbob x\n", 0600, err,
	    sizeof(err)) == -1 && !strstr(err, "hunter2"),
	    "a second line refused");
	ok(auth_file(&c, "alice hunter2\n\n", 0600, err, sizeof(err)) == 0,
	    "blank line ends are fine");
	ok(conf_set(&c, "relay_auth", "none", err, sizeof(err)) == 0 &&
	    c.relay_user == NULL && c.relay_pass == NULL, "relay_auth none");
	unlink(path);
	ok(conf_set(&c, "relay_auth", path, err, sizeof(err)) == -1 &&
	    strstr(err, "relay_auth") && strstr(err, path), "a missing file "
	    "is refused, naming it");

	ok(conf_set(&c, "relay_tls", "wrapper", err, sizeof(err)) == 0 &&
	    c.relay_tls == CONF_RELAY_WRAPPER && !conf_relay_wrapper(&c),
	    "relay_tls wrapper, without a relayhost nothing");
	ok(conf_set(&c, "relayhost", "[127.0.0.1]:2525", err,
	    sizeof(err)) == 0 && conf_relay_wrapper(&c) &&
	    conf_set(&c, "relay_tls", "STARTTLS", err, sizeof(err)) == 0 &&
	    !conf_relay_wrapper(&c), "relay_tls with a relayhost");
	ok(conf_set(&c, "relayhost", "[smart.test]:587", err, sizeof(err)) == 0 &&
	    strcmp(c.relayhost.host, "smart.test") == 0 &&
	    c.relayhost.port == 587 && conf_set(&c, "relayhost", "[::1]:25",
	    err, sizeof(err)) == 0 && strcmp(c.relayhost.host, "::1") == 0 &&
	    conf_set(&c, "relayhost", "[]:25", err, sizeof(err)) == -1 &&
	    conf_set(&c, "relayhost", "[a b]", err, sizeof(err)) == -1,
	    "relayhost: Postfix's [host]:port");
	ok(conf_set(&c, "relayhost", "smart.test:465", err, sizeof(err)) == 0 &&
	    conf_relay_wrapper(&c), "port 465 implies wrapper");
	ok(conf_set(&c, "relay_tls", "ssl", err, sizeof(err)) == -1 &&
	    strstr(err, "relay_tls"), "a bad relay_tls refused");

	ok(conf_set(&c, "tls", "none", err, sizeof(err)) == 0 &&
	    conf_finish(&c, err, sizeof(err)) == -1 && strstr(err, "relay_tls"),
	    "port 465 with tls none refused");
	fd = mkstemp(path);
	close(fd);
	ok(auth_file(&c, "alice hunter2", 0600, err, sizeof(err)) == 0 &&
	    conf_set(&c, "relayhost", "smart.test:587", err, sizeof(err)) == 0 &&
	    conf_finish(&c, err, sizeof(err)) == -1 &&
	    strstr(err, "relay_auth") && strstr(err, "tls"),
	    "relay_auth with tls none refused");
	ok(conf_set(&c, "tls", "may", err, sizeof(err)) == 0 &&
	    conf_finish(&c, err, sizeof(err)) == 0, "relay_auth with tls may");
	ok(conf_set(&c, "relayhost", "none", err, sizeof(err)) == 0 &&
	    conf_finish(&c, err, sizeof(err)) == -1 &&
	    strstr(err, "relayhost"), "relay_auth without relayhost refused");
	unlink(path);
	conf_free(&c);
	return tap_done();
}
