/*
 * strv.h - arrays of malloc'd strings, the shape every listing in mailfs
 * returns (char **v with n entries, each malloc'd, the array too).
 *
 * strv_free frees the n strings and the array (NULL is fine); strv_cmp is
 * the qsort comparator that sorts such an array by strcmp.
 */
#ifndef MAILFS_STRV_H
#define MAILFS_STRV_H

#include <stddef.h>

void	strv_free(char **v, size_t n);
int	strv_cmp(const void *a, const void *b);

#endif
