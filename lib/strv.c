/*
 * strv.c - arrays of malloc'd strings: freeing and sorting. API in strv.h.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/strv.h"

void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}
