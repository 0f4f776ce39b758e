/*
 * strv_test.c - unit tests of lib/strv.c: sorting with strv_cmp and
 * freeing with strv_free. TAP.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/strv.h"
#include "tests/tap.h"

int
main(void)
{
	const char *in[] = { "b", "a10", "a2", "" };
	char **v = calloc(5, sizeof(*v));
	size_t i;

	for (i = 0; i < 4; i++)
		v[i] = strdup(in[i]);
	qsort(v, 4, sizeof(*v), strv_cmp);
	ok(strcmp(v[0], "") == 0 && strcmp(v[1], "a10") == 0 &&
	    strcmp(v[2], "a2") == 0 && strcmp(v[3], "b") == 0,
	    "strv_cmp sorts by strcmp");
	strv_free(v, 4);
	strv_free(NULL, 0);
	ok(1, "strv_free of an array and of NULL");
	return tap_done();
}
