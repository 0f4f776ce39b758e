/*
 * dueheap_test.c - unit tests of queue/dueheap.c: the earliest node comes
 * first, ties by the `before` function, and any mix of inserts, moves
 * earlier or later and removals keeps the heap in order, checked against
 * a plain scan after every step. TAP.
 */
#include <stdlib.h>

#include "queue/dueheap.h"
#include "tests/tap.h"

#define N	500

struct item {
	struct dueheap_node node;	/* first: a node is its item */
	int seq;			/* the tie order */
	int in;
};

static struct item items[N];

static int
before(const struct dueheap_node *a, const struct dueheap_node *b)
{
	return ((const struct item *)a)->seq < ((const struct item *)b)->seq;
}

/* Every node's pos is its place, every parent goes before its children. */
static int
valid(const struct dueheap *h)
{
	size_t i, in = 0;

	for (i = 0; i < h->n; i++) {
		if (h->v[i]->pos != i + 1)
			return 0;
		if (i > 0 && (h->v[(i - 1) / 2]->due > h->v[i]->due ||
		    (h->v[(i - 1) / 2]->due == h->v[i]->due &&
		    !before(h->v[(i - 1) / 2], h->v[i]))))
			return 0;
	}
	for (i = 0; i < N; i++)
		in += items[i].in;
	return in == h->n;
}

/* The item a scan finds first: earliest, then lowest seq. */
static struct item *
scan_min(void)
{
	struct item *best = NULL;
	int i;

	for (i = 0; i < N; i++)
		if (items[i].in && (best == NULL ||
		    items[i].node.due < best->node.due ||
		    (items[i].node.due == best->node.due &&
		    items[i].seq < best->seq)))
			best = &items[i];
	return best;
}

int
main(void)
{
	struct dueheap h = DUEHEAP_INIT(before);
	struct dueheap_node *top;
	time_t last;
	int i, k, step, good = 1, popped, ordered;

	ok(dueheap_top(&h) == NULL, "an empty heap has no top");
	for (i = 0; i < N; i++)
		items[i].seq = i;

	/* Equal due times: by seq, whatever the order of insertion. */
	for (i = N - 1; i >= 0; i--) {
		dueheap_set(&h, &items[i].node, 100);
		items[i].in = 1;
	}
	ok(valid(&h), "heap order after %d inserts", N);
	ordered = 1;
	for (i = 0; i < N; i++) {
		top = dueheap_top(&h);
		ordered &= top == &items[i].node;
		dueheap_remove(&h, top);
		items[i].in = 0;
	}
	ok(ordered && h.n == 0, "equal due times come out by the tie order");
	ok(items[0].node.pos == 0, "a removed node knows it is out");
	dueheap_remove(&h, &items[0].node);
	ok(h.n == 0, "removing a node that is out does nothing");

	/* Random mix against a scan. */
	srand(9);
	for (step = 0; step < 20000 && good; step++) {
		k = rand() % N;
		switch (rand() % 4) {
		case 0:
		case 1:		/* insert, or move earlier or later */
			dueheap_set(&h, &items[k].node, rand() % 1000);
			items[k].in = 1;
			break;
		case 2:
			dueheap_remove(&h, &items[k].node);
			items[k].in = 0;
			break;
		case 3:		/* take the top, as the queue does */
			if ((top = dueheap_top(&h)) != NULL) {
				good &= (struct item *)top == scan_min();
				dueheap_remove(&h, top);
				((struct item *)top)->in = 0;
			}
			break;
		}
		good &= valid(&h) && (h.n == 0 ||
		    (struct item *)dueheap_top(&h) == scan_min());
	}
	ok(good, "20000 random sets, moves and removals keep the order");

	/* Draining gives due times in order. */
	last = 0;
	popped = 0;
	ordered = 1;
	while ((top = dueheap_top(&h)) != NULL) {
		ordered &= top->due >= last;
		last = top->due;
		dueheap_remove(&h, top);
		((struct item *)top)->in = 0;
		popped++;
	}
	ok(ordered, "draining %d nodes gives due times in order", popped);

	/* A node moved to the front, and one moved to the back. */
	for (i = 0; i < 10; i++) {
		dueheap_set(&h, &items[i].node, 50 + i);
		items[i].in = 1;
	}
	dueheap_set(&h, &items[7].node, 1);
	ok(dueheap_top(&h) == &items[7].node, "moved earlier: first");
	dueheap_set(&h, &items[7].node, 1000);
	ok(dueheap_top(&h) == &items[0].node && valid(&h),
	    "moved later: no longer first");
	dueheap_free(&h);
	ok(h.n == 0 && h.v == NULL && dueheap_top(&h) == NULL,
	    "free empties it");
	return tap_done();
}
