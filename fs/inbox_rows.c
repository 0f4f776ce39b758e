/*
 * inbox_rows.c - the index's rows in memory (see inbox_rows.h): a sorted
 * array of rows, each one allocation (the meta blob, then the id), found
 * by binary search. Rows come mostly in ID order (mail arrives in it),
 * so an insertion rarely moves much.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/inbox_rows.h"
#include "lib/strv.h"

/* what a row costs beyond its bytes: the allocation and its pointer */
#define ROW_UPKEEP	(sizeof(struct row) + 2 * sizeof(void *) + 16)

struct row {
	struct inbox_key key;
	size_t len;		/* of the meta */
	char *id;		/* after the meta */
	unsigned char meta[];
};

struct inbox_rows {
	struct row **v;
	size_t n, cap, bytes, max;
};

struct inbox_rows *
inbox_rows_new(size_t max)
{
	struct inbox_rows *t = calloc(1, sizeof(*t));

	if (t)
		t->max = max;
	return t;
}

void
inbox_rows_free(struct inbox_rows *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	free(t);
}

static size_t
cost(const struct row *r)
{
	return r->len + strlen(r->id) + 1 + ROW_UPKEEP;
}

/* The slot of id: where it is (*found) or would go. */
static size_t
slot(const struct inbox_rows *t, const char *id, int *found)
{
	size_t lo = 0, hi = t->n, mid;
	int c;

	/* rows mostly come in order: try the end first */
	if (t->n > 0 && strcmp(t->v[t->n - 1]->id, id) < 0) {
		*found = 0;
		return t->n;
	}
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if ((c = strcmp(t->v[mid]->id, id)) == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

int
inbox_rows_get(const struct inbox_rows *t, const char *id,
    struct inbox_key *key, const unsigned char **meta, size_t *len)
{
	size_t i;
	int found;

	i = slot(t, id, &found);
	if (!found)
		return ENOENT;
	*key = t->v[i]->key;
	*meta = t->v[i]->meta;
	*len = t->v[i]->len;
	return 0;
}

int
inbox_rows_put(struct inbox_rows *t, const char *id,
    const struct inbox_key *key, const void *meta, size_t len)
{
	size_t idlen = strlen(id), i, was = 0, cap;
	struct row *r, **v;
	int found;

	i = slot(t, id, &found);
	if (found)
		was = cost(t->v[i]);
	if (len + idlen + 1 + ROW_UPKEEP > t->max ||
	    t->bytes - was + len + idlen + 1 + ROW_UPKEEP > t->max)
		return E2BIG;
	if (!found && t->n == t->cap) {
		cap = t->cap ? 2 * t->cap : 256;
		if (!(v = realloc(t->v, cap * sizeof(*v))))
			return ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	if (!(r = malloc(sizeof(*r) + len + idlen + 1)))
		return ENOMEM;
	r->key = *key;
	r->len = len;
	if (len)
		memcpy(r->meta, meta, len);
	r->id = (char *)r->meta + len;
	memcpy(r->id, id, idlen + 1);
	if (found) {
		free(t->v[i]);
		t->bytes -= was;
	} else {
		memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof(*t->v));
		t->n++;
	}
	t->v[i] = r;
	t->bytes += cost(r);
	return 0;
}

void
inbox_rows_delete(struct inbox_rows *t, const char *id)
{
	size_t i;
	int found;

	i = slot(t, id, &found);
	if (!found)
		return;
	t->bytes -= cost(t->v[i]);
	free(t->v[i]);
	t->n--;
	memmove(t->v + i, t->v + i + 1, (t->n - i) * sizeof(*t->v));
}

int
inbox_rows_ids(const struct inbox_rows *t, char ***ids, size_t *n)
{
	char **v = malloc((t->n + 1) * sizeof(*v));
	size_t i;

	if (!v)
		return ENOMEM;
	for (i = 0; i < t->n; i++)
		if (!(v[i] = strdup(t->v[i]->id))) {
			strv_free(v, i);
			return ENOMEM;
		}
	*ids = v;
	*n = t->n;
	return 0;
}

size_t
inbox_rows_bytes(const struct inbox_rows *t)
{
	return t->bytes;
}
