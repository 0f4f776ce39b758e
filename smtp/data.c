/*
 * data.c - the SMTP DATA byte stream: the end-of-data machine and the
 * limit counters, pure functions over bytes (API and rules in data.h).
 */
#include "smtp/data.h"

#include <string.h>
#include <strings.h>

void
data_init(struct data_parser *d, size_t max_size)
{
	memset(d, 0, sizeof(*d));
	d->pos = DATA_BOL;
	d->count.max_size = max_size;
	d->count.in_header = 1;
}

int
data_count_octet(struct data_count *c, char o)
{
	if (++c->size > c->max_size) {
		c->toobig = 1;	/* keep nothing more, but read on */
		return 0;
	}
	if (o == '\n') {
		if (c->in_header) {
			if (c->linelen == 0)
				c->in_header = 0;
			else if (c->hdrlen == sizeof(c->hdr) &&
			    strncasecmp(c->hdr, "Received:", 9) == 0)
				c->hops++;
		}
		c->linelen = c->hdrlen = 0;
	} else {
		if (o == '\0')
			c->nul = 1;
		if (++c->linelen > DATA_TEXT_MAX - 2)
			c->toolong = 1;
		if (c->in_header && c->hdrlen < sizeof(c->hdr))
			c->hdr[c->hdrlen++] = o;
	}
	return 1;
}

static inline void
put(struct data_parser *d, char o, char *out, size_t *n)
{
	if (data_count_octet(&d->count, o))
		out[(*n)++] = o;
}

size_t
data_feed(struct data_parser *d, const char *in, size_t len, char *out,
    size_t cap, size_t *n)
{
	size_t i;

	*n = 0;
	for (i = 0; i < len && d->pos != DATA_END &&
	    *n + DATA_OUT_MIN <= cap; i++) {
		char c = in[i];

		switch (d->pos) {
		case DATA_BOL:
			if (c == '.') {
				d->pos = DATA_DOT;
				continue;
			}
			break;
		case DATA_LINE:
		case DATA_END:
			break;
		case DATA_CR:
			if (c == '\n') {
				put(d, '\n', out, n);
				d->pos = DATA_BOL;
				continue;
			}
			d->count.bare = 1;
			put(d, '\r', out, n);
			break;
		case DATA_DOT:
			if (c == '\r') {
				d->pos = DATA_DOTCR;
				continue;
			}
			break;	/* a stuffed dot: dropped */
		case DATA_DOTCR:
			if (c == '\n') {
				d->pos = DATA_END;
				continue;
			}
			d->count.bare = 1;
			put(d, '\r', out, n);
			break;
		}
		/* c is an octet within a line */
		if (c == '\r') {
			d->pos = DATA_CR;
			continue;
		}
		if (c == '\n')
			d->count.bare = 1;	/* and never the end of a line */
		d->pos = DATA_LINE;
		put(d, c, out, n);
	}
	return i;
}

enum data_verdict
data_verdict(const struct data_parser *d)
{
	const struct data_count *c = &d->count;

	if (c->toobig)
		return DATA_TOOBIG;
	if (c->bare)
		return DATA_BARE;
	if (c->nul)
		return DATA_NUL;
	if (c->toolong)
		return DATA_TOOLONG;
	if (c->hops > DATA_MAX_HOPS)
		return DATA_LOOP;
	return DATA_OK;
}
