/*
 * check_test.c - unit tests of queue/check.c, the integrity of a queued
 * message: the CRC-32 (a known vector, any split), the verdict on size
 * and checksum, seal names made and parsed (and what is not one), the
 * seal found in an entry directory, a file's length and CRC, and the
 * crc32 line of the state file (entry.c) written, read back, missing in
 * an older file, and refused when malformed. TAP.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/entry.h"
#include "queue/queue_int.h"
#include "queue/spool.h"
#include "tests/tap.h"

static const char state_old[] = "mailfs-state 1\nfrom a@b.test\nname -\n"
    "arrival 1\ndone 0\nsize 9\neightbit 0\n"
    "rcpt c@d.test queued 0 1 - -\n";

/* entry_parse of text with line (or nothing) inserted after the size */
static int
parse_with(const char *line, struct msg **out)
{
	char buf[512];
	const char *at = strstr(state_old, "eightbit");
	struct msg *m = entry_new("x");
	int r;

	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - state_old),
	    state_old, line, at);
	r = entry_parse(m, buf);
	*out = m;
	return r;
}

int
main(void)
{
	char why[128], name[CHECK_SEAL_MAX], dir[] = "/tmp/check_testXXXXXX";
	const char *v = "123456789";
	struct msg *m, *m2;
	uint32_t crc, c2;
	size_t size, len;
	char *text;
	int dfd = -1, fd;

	ok(check_crc(0, v, 9) == 0xcbf43926u, "CRC-32 of \"123456789\"");
	ok(check_crc(check_crc(0, v, 4), v + 4, 5) == 0xcbf43926u &&
	    check_crc(0, v, 0) == 0, "continued over pieces; empty is 0");

	ok(check_verdict(9, 1, 0xcbf43926u, 9, 0xcbf43926u, why,
	    sizeof(why)) == 0, "same size and checksum: the message");
	ok(check_verdict(9, 1, 0xcbf43926u, 9, 0xcbf43927u, why,
	    sizeof(why)) == -1 && strstr(why, "CRC-32 cbf43927") != NULL &&
	    strstr(why, "says cbf43926") != NULL,
	    "same size, other bytes: refused, both checksums named");
	ok(check_verdict(9, 1, 1, 8, 1, why, sizeof(why)) == -1 &&
	    strcmp(why, "its message is 8 bytes, its state says 9") == 0,
	    "other size: refused, sizes named");
	ok(check_verdict(9, 0, 0, 9, 12345, why, sizeof(why)) == 0 &&
	    check_verdict(9, 0, 0, 10, 12345, why, sizeof(why)) == -1,
	    "no checksum known: the size alone decides");

	check_seal_name(4258, 0xb08db10bu, name);
	ok(strcmp(name, "seal-4258-b08db10b") == 0, "seal name");
	ok(check_seal_parse(name, &size, &crc) == 0 && size == 4258 &&
	    crc == 0xb08db10bu, "seal name parsed back");
	check_seal_name(1, 0, name);
	ok(check_seal_parse(name, &size, &crc) == 0 && size == 1 && crc == 0,
	    "seal of a zero checksum: eight digits");
	ok(check_seal_parse("seal", &size, &crc) == -1 &&
	    check_seal_parse("seal-", &size, &crc) == -1 &&
	    check_seal_parse("seal--b08db10b", &size, &crc) == -1 &&
	    check_seal_parse("seal-12-b08db10", &size, &crc) == -1 &&
	    check_seal_parse("seal-12-b08db10b0", &size, &crc) == -1 &&
	    check_seal_parse("seal-12-B08DB10B", &size, &crc) == -1 &&
	    check_seal_parse("seal-1x-b08db10b", &size, &crc) == -1 &&
	    check_seal_parse("seal-99999999999999999999999-b08db10b", &size,
	    &crc) == -1 && check_seal_parse("state", &size, &crc) == -1,
	    "what is not a seal name is refused");

	ok(mkdtemp(dir) != NULL && (dfd = open(dir, O_RDONLY |
	    O_DIRECTORY)) != -1, "a directory for an entry");
	ok(check_find_seal(dfd, &size, &crc) == -1, "no seal: an older entry");
	fd = openat(dfd, "message", O_WRONLY | O_CREAT, 0600);
	ok(fd != -1 && write(fd, v, 9) == 9 && close(fd) == 0 &&
	    linkat(dfd, "message", dfd, "seal", 0) == 0 &&
	    check_find_seal(dfd, &size, &crc) == 0,
	    "a spare's seal never renamed: 0");
	check_seal_name(9, 0xcbf43926u, name);
	ok(renameat(dfd, "seal", dfd, name) == 0 &&
	    check_find_seal(dfd, &size, &crc) == 1 && size == 9 &&
	    crc == 0xcbf43926u, "the seal renamed: its size and checksum");
	fd = openat(dfd, "message", O_RDONLY);
	ok(fd != -1 && check_fd(fd, &len, &c2) == 0 && len == 9 &&
	    c2 == 0xcbf43926u && check_fd(fd, &len, &c2) == 0 && len == 9,
	    "check_fd: length and checksum of the whole file, again");
	close(fd);
	close(dfd);
	spool_remove_tree(AT_FDCWD, dir);

	ok(parse_with("", &m) == 0 && !m->has_crc && m->size == 9,
	    "a state without crc32 (older versions) parses, no checksum");
	entry_free(m);
	ok(parse_with("crc32 cbf43926\n", &m) == 0 && m->has_crc &&
	    m->crc == 0xcbf43926u, "crc32 line read");
	text = entry_serialize(m, &len);
	ok(text != NULL && strstr(text, "\ncrc32 cbf43926\n") != NULL,
	    "and written back");
	m2 = entry_new("x");
	ok(text != NULL && entry_parse(m2, text) == 0 && m2->has_crc &&
	    m2->crc == 0xcbf43926u, "round trip");
	free(text);
	entry_free(m2);
	entry_free(m);
	ok(parse_with("crc32 cbf4392\n", &m) == -1, "seven digits: refused");
	entry_free(m);
	ok(parse_with("crc32 cbf43926x\n", &m) == -1, "trailing junk: refused");
	entry_free(m);
	ok(parse_with("crc32 -\n", &m) == -1, "no digits: refused");
	entry_free(m);
	m = entry_new("x");
	m->crc = 0;
	m->has_crc = 0;
	text = entry_serialize(m, &len);
	ok(text != NULL && strstr(text, "crc32") == NULL,
	    "no checksum known: no crc32 line");
	free(text);
	entry_free(m);
	return tap_done();
}
