/*
 * inbox_index_test.c - unit test of fs/inbox_index.c (TAP): a rendered
 * tree encoded and decoded gives the same tree (every name, size, small
 * file, raw slice, big file, rendered-only file); decoded bytes found
 * verbatim in the message are a slice of it; a damaged meta blob is
 * refused, never misread; the store keeps rows, checks their keys, serves
 * big files, forgets rows, and makes itself anew when its file is
 * garbage or gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "fs/inbox_index.h"
#include "fs/mime.h"
#include "lib/strv.h"
#include "tests/tap.h"

/* base64 of times copies of "aaa" (or "hhh"...: what b64 spells), in
 * lines of 76 */
static size_t
base64_lines(char *m, const char *b64, size_t times)
{
	size_t n = 0;

	for (size_t i = 0; i < times; i++) {
		memcpy(m + n, b64, 4);
		n += 4;
		if (i % 19 == 18)
			m[n++] = '\n';
	}
	return n;
}

/* a multipart message: small text, a big attachment (big blob), a huge
 * one (rendered only); both base64, so that their decoded bytes are not
 * the message's own */
static char *
message(size_t *len)
{
	size_t big = 1000, huge = INBOX_BIG_MAX / 3 + 1000, cap = 5 * huge + 4096, n;
	char *m = malloc(cap);

	n = (size_t)snprintf(m, cap, "From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\n"
	    "To: bob@example.test\nSubject: the index\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: text/plain\n\nhello\n"
	    "--b\nContent-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Disposition: attachment; filename=a.bin\n\n");
	n += base64_lines(m + n, "YWFh", big);
	n += (size_t)snprintf(m + n, cap - n, "\n--b\nContent-Type: "
	    "application/x-huge\nContent-Transfer-Encoding: base64\n\n");
	n += base64_lines(m + n, "aGho", huge);
	n += (size_t)snprintf(m + n, cap - n, "\n--b--\n");
	*len = n;
	return m;
}

/* the decoded tree d agrees with the rendered r (big: the big blob) */
static int
same(const struct mime_node *r, const struct mime_node *d,
    const struct mime_node *root, const unsigned char *big, size_t biglen,
    const char *path)
{
	size_t i;

	if (strcmp(r->name, d->name) || r->is_dir != d->is_dir ||
	    r->nkids != d->nkids || (!r->is_dir && r->len != d->len)) {
		printf("# %s/%s: differs\n", path, r->name);
		return 0;
	}
	for (i = 0; i < r->nkids; i++)
		if (!same(&r->kids[i], &d->kids[i], root, big, biglen, r->name))
			return 0;
	if (r->is_dir)
		return 1;
	switch (d->where) {
	case MIME_HERE:
		return d->data && memcmp(r->data, d->data, r->len) == 0;
	case MIME_IN_MESSAGE:
		return d->off + d->len <= root->len &&
		    memcmp(root->data + d->off, r->data, r->len) == 0;
	case MIME_IN_INDEX:
		return d->off + d->len <= biglen &&
		    memcmp(big + d->off, r->data, r->len) == 0;
	default:
		return d->len > INBOX_BIG_MAX;
	}
}

static int
count_where(const struct mime_node *n, enum mime_where w)
{
	int c = !n->is_dir && n->where == w;

	for (size_t i = 0; i < n->nkids; i++)
		c += count_where(&n->kids[i], w);
	return c;
}

static void
test_codec(void)
{
	struct inbox_row row = { .id = "x" };
	struct mime_node *r, *d;
	unsigned char *copy;
	size_t len, i, refused = 0;
	char *msg = message(&len), *info;
	size_t infolen;

	r = mime_render(msg, len);
	ok(r && mime_add_raw(r) == 0 &&
	    mime_add_file(r, "envelope", "from a@b\n", 9) == 0, "rendered");
	ok(inbox_index_encode(r, &row) == 0, "encoded");
	d = inbox_index_decode(row.meta, row.metalen);
	ok(d != NULL, "decoded");
	ok(d && same(r, d, r, row.big, row.biglen, ""),
	    "the same tree: names, sizes, bytes where they are said to be");
	ok(d && count_where(d, MIME_IN_MESSAGE) >= 3 &&
	    count_where(d, MIME_IN_INDEX) >= 1 &&
	    count_where(d, MIME_RENDERED) == 1,
	    "raw slices in the message, a big file in the index, a huge one rendered");
	ok(d && mime_find(d, "info")->where == MIME_HERE &&
	    mime_find(d, "subject")->where == MIME_HERE, "info, subject inline");
	ok(row.metalen < 2048, "meta is small (%zu bytes)", row.metalen);

	/* flags on info: as mime_render_flags shows them */
	{
		struct mime_node *f = mime_render_flags(msg, len, "RS");
		const struct mime_node *fi = mime_find(f, "info");
		const struct mime_node *di = mime_find(d, "info");

		ok(mime_info_flags(di->data, di->len, "RS", &info,
		    &infolen) == 0 && infolen == fi->len &&
		    memcmp(info, fi->data, infolen) == 0,
		    "info with flags from the index = as rendered with them");
		free(info);
		mime_free(f);
	}

	/* every single damaged byte, and every truncation, is refused */
	copy = malloc(row.metalen);
	for (i = 0; i < row.metalen; i++) {
		struct mime_node *bad;

		memcpy(copy, row.meta, row.metalen);
		copy[i] ^= 0x5a;
		if (!(bad = inbox_index_decode(copy, row.metalen)))
			refused++;
		mime_free(bad);
		if (!(bad = inbox_index_decode(row.meta, i)))
			refused++;
		mime_free(bad);
	}
	ok(refused == 2 * row.metalen, "damaged or truncated meta refused "
	    "(%zu of %zu)", refused, 2 * row.metalen);
	for (i = 0; i < row.metalen; i++)
		copy[i] = (unsigned char)rand();
	ok(inbox_index_decode(copy, row.metalen) == NULL, "garbage refused");
	free(copy);

	mime_free(d);
	mime_free(r);
	inbox_row_free(&row);
	free(msg);
}

/* a text body in 8bit is the message's own bytes: a slice, no big blob */
static void
test_verbatim(void)
{
	struct inbox_row row = { .id = "v" };
	struct mime_node *r, *d = NULL;
	const struct mime_node *b;
	size_t cap = 8192, n;
	char *m = malloc(cap);

	n = (size_t)snprintf(m, cap, "From: a@example.org\nSubject: long\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n\n");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(m + n, cap - n, "line %d of a body "
		    "long enough for the big blob, gr\xc3\xbc\xc3\x9f" "e\n", i);
	r = mime_render(m, n);
	ok(r && mime_add_raw(r) == 0 && inbox_index_encode(r, &row) == 0 &&
	    (d = inbox_index_decode(row.meta, row.metalen)) != NULL,
	    "verbatim: rendered, encoded, decoded");
	b = d ? mime_find(d, "body") : NULL;
	ok(b && b->len > INBOX_INLINE_MAX && b->where == MIME_IN_MESSAGE &&
	    row.biglen == 0 && same(r, d, r, row.big, row.biglen, ""),
	    "verbatim: the body is a slice of the message, the big blob empty");
	mime_free(d);
	mime_free(r);
	inbox_row_free(&row);
	free(m);
}

static void
test_store(void)
{
	char dir[] = "/tmp/inbox_index_test.XXXXXX", path[256], cmd[600];
	struct inbox_key k = { 100, 12345, 7 }, other = { 100, 12346, 7 };
	struct inbox_row rows[2] = { { .id = "a" }, { .id = "b" } };
	struct mime_node *r, *t = NULL;
	const struct mime_node *n;
	char *msg, *buf = NULL, **ids;
	size_t len, nids;
	unsigned gen;
	FILE *f;

	msg = message(&len);
	r = mime_render(msg, len);
	mime_add_raw(r);
	rows[0].key = rows[1].key = k;
	inbox_index_encode(r, &rows[0]);
	inbox_index_encode(r, &rows[1]);

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/inbox.index", dir);
	inbox_index_open(path);
	ok(inbox_index_get("a", &k, &t) == ENOENT, "empty: a miss");
	ok(inbox_index_put(rows, 2) == 0, "two rows put");
	ok(inbox_index_get("a", &k, &t) == 0 && t, "a row found");
	ok(inbox_index_get("b", &other, &t) == ENOENT,
	    "a row whose key differs is not used");
	n = t ? mime_find(t, "2/body") : NULL;
	ok(n && n->where == MIME_IN_INDEX &&
	    inbox_index_big("a", &k, n, &buf) == 0 &&
	    memcmp(buf, mime_find(r, "2/body")->data, n->len) == 0,
	    "a big file read back from the index");
	free(buf);
	ok(n && inbox_index_big("a", &other, n, &buf) == ENOENT,
	    "not with another key");
	ok(inbox_index_ids(&ids, &nids) == 0 && nids == 2 &&
	    strcmp(ids[0], "a") == 0 && strcmp(ids[1], "b") == 0, "ids");
	strv_free(ids, nids);
	inbox_index_delete(ids = (char *[]){ "a" }, 1);
	mime_free(t);
	t = NULL;
	ok(inbox_index_get("a", &k, &t) == ENOENT &&
	    inbox_index_get("b", &k, &t) == 0, "a row deleted, the other kept");
	mime_free(t);
	t = NULL;
	inbox_index_close();

	/* reopened: still there, before and after the rows are loaded */
	inbox_index_open(path);
	ok(inbox_index_get("b", &k, &t) == 0, "kept across a reopen");
	mime_free(t);
	t = NULL;
	inbox_index_load();
	ok(inbox_index_get("b", &k, &t) == 0 &&
	    inbox_index_get("b", &other, &t) == ENOENT &&
	    inbox_index_get("a", &k, &t) == ENOENT, "loaded: the same answers");
	mime_free(t);
	t = NULL;
	/* what changes after the load is in memory and in the file */
	ok(inbox_index_put(rows, 1) == 0 && inbox_index_get("a", &k, &t) == 0 &&
	    inbox_index_ids(&ids, &nids) == 0 && nids == 2, "loaded: put");
	strv_free(ids, nids);
	mime_free(t);
	t = NULL;
	inbox_index_delete(ids = (char *[]){ "b" }, 1);
	ok(inbox_index_get("b", &k, &t) == ENOENT &&
	    inbox_index_ids(&ids, &nids) == 0 && nids == 1 &&
	    strcmp(ids[0], "a") == 0, "loaded: delete");
	strv_free(ids, nids);
	inbox_index_close();
	inbox_index_open(path);
	ok(inbox_index_get("b", &k, &t) == ENOENT &&
	    inbox_index_get("a", &k, &t) == 0, "the file says the same");
	mime_free(t);
	t = NULL;
	ok(inbox_index_put(&rows[1], 1) == 0, "b back");
	inbox_index_close();

	/* garbage: made anew, empty, usable */
	f = fopen(path, "w");
	for (int i = 0; i < 20000; i++)
		fputc(rand() & 0xff, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -f %s-wal %s-shm", path, path);
	ok(system(cmd) == 0, "wal and shm removed");
	gen = inbox_index_generation();
	inbox_index_open(path);
	ok(inbox_index_generation() == gen + 1, "garbage: made anew");
	ok(inbox_index_get("b", &k, &t) == ENOENT, "garbage: empty");
	ok(inbox_index_put(rows, 1) == 0 && inbox_index_get("a", &k, &t) == 0,
	    "garbage: usable again");
	mime_free(t);
	t = NULL;

	/* deleted while open: noticed within a second, made anew */
	unlink(path);
	sleep(2);
	gen = inbox_index_generation();
	ok(inbox_index_get("a", &k, &t) == ENOENT &&
	    inbox_index_generation() == gen + 1 && access(path, F_OK) == 0,
	    "deleted: made anew at its path");
	inbox_index_close();

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ok(system(cmd) == 0, "cleaned up");
	inbox_row_free(&rows[0]);
	inbox_row_free(&rows[1]);
	mime_free(r);
	free(msg);
}

int
main(void)
{
	g_mime_init();
	test_codec();
	test_verbatim();
	test_store();
	g_mime_shutdown();
	return tap_done();
}
