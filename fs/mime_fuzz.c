/*
 * mime_fuzz.c - libFuzzer target for fs/mime.c: arbitrary bytes as a
 * received message go through mime_render_flags and mime_add_raw, then
 * the whole tree is walked. Seeds: tests/fuzz-seeds/mime_fuzz.
 *
 * Besides the sanitizers (every file's bytes are read) it checks what
 * inbox/ needs to show the tree as files: names that are valid and unique
 * in their directory (mime_find on each path finds that very node), dirs
 * without data, the raw file equal to the input. A GLib critical or
 * warning aborts: GMime called against its contract.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "fs/mime.h"
#include "tests/fuzz.h"

static unsigned sum;	/* keeps the reads of file bytes from being dropped */

static void
walk(const struct mime_node *root, const struct mime_node *n, char *path,
    size_t plen)
{
	size_t i, nl;

	if (mime_find(root, path) != n)
		abort();
	if (!n->is_dir) {
		if (n->nkids != 0 || (n->len > 0 && n->data == NULL))
			abort();
		for (i = 0; i < n->len; i++)
			sum += (unsigned char)n->data[i];
		return;
	}
	if (n->data != NULL && n != root)
		abort();
	for (i = 0; i < n->nkids; i++) {
		const char *name = n->kids[i].name;

		nl = strlen(name);
		if (nl == 0 || strchr(name, '/') != NULL ||
		    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			abort();
		if (plen + 1 + nl >= PATH_MAX)
			continue;	/* deeper than a test needs to look */
		path[plen] = '/';
		memcpy(path + plen + 1, name, nl + 1);
		walk(root, &n->kids[i], path, plen + 1 + nl);
		path[plen] = '\0';
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_glib_strict();
	g_mime_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[PATH_MAX];
	struct mime_node *root;
	const struct mime_node *raw;

	/* the flags come from a Maildir file name; the first byte picks */
	root = mime_render_flags((const char *)data, size,
	    size > 0 && data[0] & 1 ? "RS" : NULL);
	if (root == NULL)
		return 0;
	if (!root->is_dir || mime_add_raw(root) != 0)
		abort();
	raw = mime_find(root, "raw");
	if (raw == NULL || raw->is_dir || raw->len != size ||
	    (size > 0 && memcmp(raw->data, data, size) != 0))
		abort();
	path[0] = '\0';
	walk(root, root, path, 0);
	mime_free(root);
	return 0;
}
