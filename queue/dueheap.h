/*
 * dueheap.h - a binary min-heap of due times (private to queue/), so the
 * next due message is found in O(1) and a due time is changed in
 * O(log n), whatever the size of the queue. Nodes live inside their owner
 * (struct msg); the heap holds pointers to them and each node knows its
 * place, so a node can be moved or taken out without a search. Ties of
 * equal due times go by the heap's `before` function (the queue: the
 * older ID first). Pure: no locking, no I/O; allocation failure aborts
 * (glib), as for the queue's other indexes.
 */
#ifndef MAILFS_DUEHEAP_H
#define MAILFS_DUEHEAP_H

#include <stddef.h>
#include <time.h>

struct dueheap_node {
	time_t due;
	size_t pos;		/* index + 1 in the heap; 0: not in it */
};

struct dueheap {
	struct dueheap_node **v;
	size_t n, cap;
	/* 1 if a goes before b at equal due times (NULL: any order) */
	int	(*before)(const struct dueheap_node *a,
		    const struct dueheap_node *b);
};

#define DUEHEAP_INIT(before)	{ NULL, 0, 0, (before) }

/* Put x in the heap due at due, or move it there if it is in already. */
void	dueheap_set(struct dueheap *h, struct dueheap_node *x, time_t due);
/* Take x out, if it is in. */
void	dueheap_remove(struct dueheap *h, struct dueheap_node *x);
/* The earliest node, or NULL when empty. */
struct dueheap_node *dueheap_top(const struct dueheap *h);
/* Empty the heap and free its array without touching the nodes (their
 * owners may be gone already). */
void	dueheap_free(struct dueheap *h);

#endif
