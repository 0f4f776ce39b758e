/*
 * inbox_rows_test.c - unit test of fs/inbox_rows.c (TAP): rows put in any
 * order are found, replaced and deleted; the ids come sorted; a table
 * refuses what would take it past its bound and stays as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/inbox_rows.h"
#include "lib/strv.h"
#include "tests/tap.h"

int
main(void)
{
	struct inbox_rows *t = inbox_rows_new(1 << 20);
	struct inbox_key k = { 1, 2, 3 }, got;
	const unsigned char *meta;
	char id[32], **ids;
	size_t len, n, i, bytes;
	int bad = 0;

	ok(t != NULL, "made");
	/* out of order: every third, then the rest */
	for (i = 0; i < 300; i++) {
		size_t j = (i * 3) % 300 + (i * 3) / 300;

		snprintf(id, sizeof(id), "%05zu.id", j);
		k.size = (long long)j;
		if (inbox_rows_put(t, id, &k, id, strlen(id)))
			bad++;
	}
	ok(!bad, "300 put");
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "%05zu.id", i);
		if (inbox_rows_get(t, id, &got, &meta, &len) ||
		    got.size != (long long)i || len != strlen(id) ||
		    memcmp(meta, id, len))
			bad++;
	}
	ok(!bad, "each found with its key and meta");
	ok(inbox_rows_get(t, "00300.id", &got, &meta, &len) == ENOENT &&
	    inbox_rows_get(t, "", &got, &meta, &len) == ENOENT, "others not");
	ok(inbox_rows_ids(t, &ids, &n) == 0 && n == 300, "ids");
	for (i = 1; i < n; i++)
		if (strcmp(ids[i - 1], ids[i]) >= 0)
			bad++;
	ok(!bad, "sorted");
	strv_free(ids, n);

	bytes = inbox_rows_bytes(t);
	k.size = 7;
	ok(inbox_rows_put(t, "00010.id", &k, "longer meta", 11) == 0 &&
	    inbox_rows_get(t, "00010.id", &got, &meta, &len) == 0 &&
	    got.size == 7 && len == 11 && memcmp(meta, "longer meta", 11) == 0,
	    "replaced");
	ok(inbox_rows_bytes(t) == bytes + 11 - strlen("00010.id"),
	    "bytes follow a replacement");
	inbox_rows_delete(t, "00010.id");
	inbox_rows_delete(t, "nothing");
	ok(inbox_rows_get(t, "00010.id", &got, &meta, &len) == ENOENT &&
	    inbox_rows_ids(t, &ids, &n) == 0 && n == 299, "deleted");
	strv_free(ids, n);
	inbox_rows_free(t);

	/* the bound */
	{
		static char big[4096];

		t = inbox_rows_new(10000);
		for (i = 0; i < 2; i++) {
			snprintf(id, sizeof(id), "b%zu", i);
			if (inbox_rows_put(t, id, &k, big, sizeof(big)))
				bad++;
		}
		ok(!bad, "under the bound");
		bytes = inbox_rows_bytes(t);
		ok(inbox_rows_put(t, "b2", &k, big, sizeof(big)) == E2BIG &&
		    inbox_rows_get(t, "b2", &got, &meta, &len) == ENOENT &&
		    inbox_rows_bytes(t) == bytes, "past it: refused, unchanged");
		ok(inbox_rows_put(t, "b1", &k, big, 100) == 0 &&
		    inbox_rows_put(t, "b2", &k, big, 100) == 0,
		    "room again after a row shrank");
		inbox_rows_free(t);
	}
	return tap_done();
}
