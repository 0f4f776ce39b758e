/*
 * outbox_ghost_test.c - ghosts of names sent from outbox/: found by name
 * among many, one per name, gone when dropped, attributes set on them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/outbox_ghost.h"
#include "tests/tap.h"

#define MANY	5000

int
main(void)
{
	struct outbox_attr a = { .size = 99, .mode = 0644, .uid = 7 }, b;
	char name[32];
	int i, bad;

	ok(outbox_ghost_get("none", &b) == ENOENT, "no ghost at first");
	ok(outbox_ghost_drop("none") == ENOENT, "dropping none: ENOENT");
	outbox_ghost_add("one", &a);
	ok(outbox_ghost_get("one", &b) == 0 && b.mode == 0644 && b.uid == 7 &&
	    b.size == 0, "a ghost has the attributes, size 0");
	a.mode = 0600;
	outbox_ghost_add("one", &a);
	ok(outbox_ghost_get("one", &b) == 0 && b.mode == 0600,
	    "a name sent again: its newest ghost");
	ok(outbox_ghost_drop("one") == 0 && outbox_ghost_get("one", &b) ==
	    ENOENT && outbox_ghost_drop("one") == ENOENT,
	    "a name has one ghost: dropped, none is left");

	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		a.uid = (uid_t)i;
		outbox_ghost_add(name, &a);
	}
	for (i = bad = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		bad |= outbox_ghost_get(name, &b) != 0 || b.uid != (uid_t)i;
	}
	ok(!bad, "each of many ghosts found by its name");
	for (i = 0; i < MANY; i += 2) {
		snprintf(name, sizeof(name), "m%d", i);
		bad |= outbox_ghost_drop(name) != 0;
	}
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		bad |= (outbox_ghost_get(name, &b) == 0) != (i % 2 == 1);
	}
	ok(!bad, "dropping every other one leaves the rest");

	a.mode = 0644;
	b.mode = 0400;
	ok(outbox_ghost_set("m1", &b, OUTBOX_SET_MODE) == 0 &&
	    outbox_ghost_get("m1", &b) == 0 && b.mode == 0400,
	    "chmod of a ghost");
	b.size = 5;
	ok(outbox_ghost_set("m1", &b, OUTBOX_SET_SIZE) == EPERM,
	    "resizing a ghost: EPERM");
	ok(outbox_ghost_set("m0", &b, OUTBOX_SET_MODE) == ENOENT,
	    "setattr of a dropped ghost: ENOENT");
	return tap_done();
}
