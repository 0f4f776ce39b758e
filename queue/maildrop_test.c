/*
 * maildrop_test.c - unit tests of queue/maildrop.c: From: added to a
 * header without one and to a bare body, the maildrop file built from the
 * queue's envelope (sendmail's arguments, -t, Bcc:, bare names) and read
 * back, files that are not maildrop files, and a durable write. TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "queue/maildrop.h"
#include "tests/tap.h"

static struct conf c;

/* maildrop_add_from of text, NUL-terminated */
static char *
add_from(const char *text)
{
	char *out;
	size_t len;

	if (maildrop_add_from(text, strlen(text), "<root@mailfs.test>", &out,
	    &len) != 0)
		return NULL;
	return out;
}

static void
test_add_from(void)
{
	char *s;

	s = add_from("Subject: x\nTo: a@b.test\n\nbody\n");
	ok(s && strcmp(s, "From: <root@mailfs.test>\nSubject: x\nTo: a@b.test"
	    "\n\nbody\n") == 0, "From: added to a header without one");
	free(s);
	s = add_from("Subject: x\nfrom: a@b.test\n\nbody\nFrom: not header\n");
	ok(s && strncmp(s, "Subject: x\nfrom:", 16) == 0,
	    "a From: (any case) is kept, one in the body does not count");
	free(s);
	s = add_from("hello world\nFrom: x\n");
	ok(s && strcmp(s, "From: <root@mailfs.test>\n\nhello world\nFrom: x\n")
	    == 0, "a bare body gets a header of its own");
	free(s);
	s = add_from("From x@y Mon Nov 30 17:00:00 2026\nSubject: s\n\nb\n");
	ok(s && strcmp(s, "From x@y Mon Nov 30 17:00:00 2026\nFrom: "
	    "<root@mailfs.test>\nSubject: s\n\nb\n") == 0,
	    "an mbox From_ line stays first");
	free(s);
	s = add_from("");
	ok(s && strcmp(s, "From: <root@mailfs.test>\n\n") == 0,
	    "empty input: a header alone");
	free(s);
}

static void
test_prepare_parse(void)
{
	static const char msg[] = "From: root (Cron Daemon)\nTo: t@a.test\n"
	    "Bcc: hidden@a.test\nSubject: s\n\nbody\n";
	static const char head[] = "mailfs-maildrop 1\n"
	    "from <root@mailfs.test>\nto <alice@mailfs.test>\nto <b@a.test>\n"
	    "to <t@A.test>\nto <hidden@a.test>\n\n";
	char *const args[] = { "alice", "<b@a.test>", "t@A.test" };
	struct queue_origin o = { .uid = 0, .from = "root", .rcpts = args,
	    .nrcpt = 3, .header_rcpts = 1 }, back;
	char reason[256], *file = NULL, *copy;
	const char *m;
	size_t len, mlen;
	int e;

	e = maildrop_prepare(&c, msg, sizeof(msg) - 1, &o, &file, &len,
	    reason, sizeof(reason));
	ok(e == 0 && len == strlen(head) + sizeof(msg) - 1 &&
	    memcmp(file, head, strlen(head)) == 0 &&
	    memcmp(file + strlen(head), msg, sizeof(msg) - 1) == 0,
	    "the file: the queue's envelope (qualified, each once), then the "
	    "message as given");
	copy = file ? strdup(file) : NULL;
	e = copy ? maildrop_parse(copy, len, &back, &m, &mlen) : -1;
	ok(e == 0 && strcmp(back.from, "root@mailfs.test") == 0 &&
	    back.nrcpt == 4 && strcmp(back.rcpts[3], "hidden@a.test") == 0 &&
	    back.header_rcpts == 0 && mlen == sizeof(msg) - 1 &&
	    memcmp(m, msg, mlen) == 0, "read back: envelope and message");
	free((void *)back.rcpts);
	free(copy);
	free(file);

	o.header_rcpts = 0;
	o.from = "";
	o.nrcpt = 1;
	e = maildrop_prepare(&c, msg, sizeof(msg) - 1, &o, &file, &len,
	    reason, sizeof(reason));
	ok(e == 0 && strncmp(file, "mailfs-maildrop 1\nfrom <>\n"
	    "to <alice@mailfs.test>\n\n", 50) == 0,
	    "without -t only the arguments; the null sender");
	e = maildrop_parse(file, len, &back, &m, &mlen);
	ok(e == 0 && strcmp(back.from, "") == 0 && back.nrcpt == 1,
	    "the null sender read back");
	free((void *)back.rcpts);
	free(file);

	e = maildrop_prepare(&c, "To: x@a.test\n\nb\n", 16, &o, &file, &len,
	    reason, sizeof(reason));
	ok(e == EINVAL && file == NULL && strstr(reason, "From"),
	    "a bad message is EINVAL with the queue's reason (%s)", reason);
}

static void
not_maildrop(const char *text, const char *what)
{
	struct queue_origin o;
	char *copy = strdup(text);
	const char *m;
	size_t mlen;

	ok(maildrop_parse(copy, strlen(copy), &o, &m, &mlen) == EINVAL &&
	    o.rcpts == NULL, "%s: EINVAL", what);
	free(copy);
}

static void
test_parse_bad(void)
{
	not_maildrop("", "empty");
	not_maildrop("From: a@b\n\nx\n", "a message");
	not_maildrop("mailfs-maildrop 1\nfrom <a@b.test>\n\nx\n", "no recipient");
	not_maildrop("mailfs-maildrop 1\nto <a@b.test>\n\nx\n", "no from");
	not_maildrop("mailfs-maildrop 1\nfrom <a@b.test>\nto <c@d.test>\n",
	    "no blank line");
	not_maildrop("mailfs-maildrop 1\nfrom <a@b.test>\nto c@d.test\n\nx\n",
	    "an address without brackets");
	not_maildrop("mailfs-maildrop 2\nfrom <a@b.test>\nto <c@d.test>\n\nx\n",
	    "another version");
}

static void
test_write(void)
{
	char dir[] = "/tmp/maildrop_test.XXXXXX", path[256];
	char name[MAILDROP_NAME_MAX], buf[64];
	struct stat st;
	ssize_t n;
	int fd, e;

	if (mkdtemp(dir) == NULL)
		return;
	ok(maildrop_write(dir, "x", 1, name) == ENOENT,
	    "no SPOOL/maildrop: ENOENT");
	snprintf(path, sizeof(path), "%s/maildrop", dir);
	mkdir(path, 0730);
	e = maildrop_write(dir, "hello", 5, name);
	snprintf(path, sizeof(path), "%s/maildrop/%s", dir, name);
	fd = open(path, O_RDONLY);
	n = fd == -1 ? -1 : read(fd, buf, sizeof(buf));
	ok(e == 0 && n == 5 && memcmp(buf, "hello", 5) == 0 &&
	    fstat(fd, &st) == 0 && S_ISREG(st.st_mode),
	    "written under a new name");
	if (fd != -1)
		close(fd);
	unlink(path);
	snprintf(path, sizeof(path), "%s/maildrop", dir);
	rmdir(path);
	rmdir(dir);
}

int
main(void)
{
	char err[128];

	g_mime_init();
	conf_init_defaults(&c);
	conf_set(&c, "hostname", "mailfs.test", err, sizeof(err));
	test_add_from();
	test_prepare_parse();
	test_parse_bad();
	test_write();
	conf_free(&c);
	g_mime_shutdown();
	return tap_done();
}
