/*
 * node_test.c - the inode table: numbers that depend only on the path,
 * lookup counts and forget, renames, collisions with reserved numbers,
 * when a lookup was last counted.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fs/node.h"

static int n, failed;

static void
ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	failed |= !cond;
}

int
main(void)
{
	char buf[256];
	uint64_t a, b, c, i;

	ok(node_ino("") == NODE_ROOT && node_path(NODE_ROOT, buf,
	    sizeof(buf)) == 0 && buf[0] == '\0', "the root is 1, path \"\"");

	a = node_ino("queue/X/status");
	ok(a > NODE_ROOT && a != 0xffffffffULL, "numbers avoid reserved ones");
	ok(node_path(a, buf, sizeof(buf)) == ESTALE,
	    "a number the kernel never got names nothing");
	b = node_ref("queue/X/status");
	ok(a == b, "a lookup gets the number the path has");
	ok(node_path(b, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "queue/X/status") == 0, "and names the path");
	node_ref("queue/X/status");
	node_forget(b, 1);
	ok(node_path(b, buf, sizeof(buf)) == 0, "kept while lookups remain");
	node_forget(b, 1);
	ok(node_path(b, buf, sizeof(buf)) == ESTALE && node_count() == 0,
	    "gone once forgotten");
	ok(node_ref("queue/X/status") == a, "the same number when looked up again");
	node_forget(a, 1);

	a = node_ref("outbox/.tmp");
	node_rename("outbox/.tmp", "outbox/msg");
	ok(node_path(a, buf, sizeof(buf)) == 0 && strcmp(buf, "outbox/msg") == 0,
	    "a renamed inode names its new path");
	ok(node_ino("outbox/msg") == a, "and the new path has its number");
	b = node_ref("outbox/other");
	node_rename("outbox/other", "outbox/msg");
	ok(node_path(a, buf, sizeof(buf)) == ESTALE,
	    "an inode renamed over is stale");
	ok(node_path(b, buf, sizeof(buf)) == 0 && strcmp(buf, "outbox/msg") == 0,
	    "the one renamed onto it names the path");
	node_forget(a, 1);
	node_forget(b, 1);
	ok(node_count() == 0, "all forgotten");

	for (i = 0; i < 10000; i++) {
		snprintf(buf, sizeof(buf), "sent/%llu/message",
		    (unsigned long long)i);
		node_ref(buf);
	}
	ok(node_count() == 10000, "10000 nodes");
	c = 0;
	for (i = 0; i < 10000; i++) {
		char p[256];

		snprintf(buf, sizeof(buf), "sent/%llu/message",
		    (unsigned long long)i);
		a = node_ino(buf);
		c += node_path(a, p, sizeof(p)) == 0 && strcmp(p, buf) == 0;
		node_forget(a, 1);
	}
	ok(c == 10000 && node_count() == 0, "each found by its number, then forgotten");

	{
		time_t t0 = time(NULL), given = 1;

		a = node_ino_given("inbox/I/subject", &given);
		ok(a == node_ino("inbox/I/subject") && given == 0,
		    "given: 0 while the kernel holds no lookup");
		b = node_ref("inbox/I/subject");
		ok(node_ino_given("inbox/I/subject", &given) == b &&
		    given >= t0 && given <= time(NULL),
		    "given: when the lookup was counted");
		node_forget(b, 1);
		ok(node_ino_given("inbox/I/subject", &given) == b && given == 0,
		    "given: 0 again once forgotten");
	}

	printf("1..%d\n", n);
	return failed;
}
