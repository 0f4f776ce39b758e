/*
 * dueheap.c - the min-heap of due times (see dueheap.h): an array in
 * heap order, each node's pos kept equal to its index + 1.
 *
 * API: dueheap_set, dueheap_remove, dueheap_top, dueheap_free. No
 * locking (the queue calls it under queue.mu); no diagnostics.
 */
#include <glib.h>

#include "queue/dueheap.h"

static int
less(const struct dueheap *h, const struct dueheap_node *a,
    const struct dueheap_node *b)
{
	if (a->due != b->due)
		return a->due < b->due;
	return h->before != NULL && h->before(a, b);
}

static void
place(struct dueheap *h, size_t i, struct dueheap_node *x)
{
	h->v[i] = x;
	x->pos = i + 1;
}

/* Move the node at i up while it goes before its parent. */
static void
sift_up(struct dueheap *h, size_t i)
{
	struct dueheap_node *x = h->v[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!less(h, x, h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, x);
}

/* Move the node at i down while a child goes before it. */
static void
sift_down(struct dueheap *h, size_t i)
{
	struct dueheap_node *x = h->v[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && less(h, h->v[c + 1], h->v[c]))
			c++;
		if (!less(h, h->v[c], x))
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, x);
}

void
dueheap_set(struct dueheap *h, struct dueheap_node *x, time_t due)
{
	time_t old = x->due;

	x->due = due;
	if (x->pos == 0) {
		if (h->n == h->cap) {
			h->cap = h->cap ? 2 * h->cap : 64;
			h->v = g_renew(struct dueheap_node *, h->v, h->cap);
		}
		place(h, h->n++, x);
		sift_up(h, h->n - 1);
	} else if (due < old) {
		sift_up(h, x->pos - 1);
	} else if (due > old) {
		sift_down(h, x->pos - 1);
	}
}

void
dueheap_remove(struct dueheap *h, struct dueheap_node *x)
{
	size_t i = x->pos - 1;
	struct dueheap_node *last;

	if (x->pos == 0)
		return;
	x->pos = 0;
	last = h->v[--h->n];
	if (last == x)
		return;
	place(h, i, last);
	/* The last node may go either way from x's old place. */
	sift_up(h, i);
	sift_down(h, last->pos - 1);
}

struct dueheap_node *
dueheap_top(const struct dueheap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

void
dueheap_free(struct dueheap *h)
{
	g_free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
