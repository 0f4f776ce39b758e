/*
 * data.h - the SMTP DATA byte stream as a pure function over bytes: no
 * session, no I/O (data.c, tests in data_test.c).
 *
 * data_feed turns what a client sends after 354 into the stored form of
 * the message: dot-unstuffed, each CR LF turned into LF. Only CR LF "."
 * CR LF ends the data, so that nothing can be smuggled past it
 * (CVE-2023-51764 family): a bare CR or LF never ends a line nor the
 * data; it is kept, and marks the message to be refused.
 *
 * The limits are counted over the stored form as it streams by, so a
 * message is judged at its end without ever being held whole (the
 * counters sit apart from the dot machine, for BDAT to reuse): its size
 * against max_size (octets past it are not output), text lines against
 * DATA_TEXT_MAX (RFC 5321 §4.5.3.1.6), Received: lines in the header
 * against DATA_MAX_HOPS, NUL octets.
 */
#ifndef MAILFS_DATA_H
#define MAILFS_DATA_H

#include <stddef.h>

#define DATA_TEXT_MAX	1000	/* text line, with CRLF */
#define DATA_MAX_HOPS	30	/* Received: lines: a mail loop */

/* Where the dot machine stands relative to CR LF "." CR LF. */
enum data_pos { DATA_BOL, DATA_LINE, DATA_CR, DATA_DOT, DATA_DOTCR,
	DATA_END };

/* The verdict at the end, in the order they are checked. */
enum data_verdict {
	DATA_OK,
	DATA_TOOBIG,		/* more than max_size octets */
	DATA_BARE,		/* bare CR or LF */
	DATA_NUL,		/* a NUL octet */
	DATA_TOOLONG,		/* a text line over DATA_TEXT_MAX */
	DATA_LOOP		/* more than DATA_MAX_HOPS Received: lines */
};

/* The limit counters over the stored form. */
struct data_count {
	size_t		max_size;
	size_t		size;		/* octets so far, past max_size too */
	size_t		linelen;	/* octets in the line so far */
	size_t		hdrlen;		/* octets of hdr filled */
	char		hdr[9];		/* the start of the header line */
	int		hops;		/* Received: lines in the header */
	unsigned	in_header:1, bare:1, nul:1, toolong:1, toobig:1;
};

struct data_parser {
	enum data_pos	pos;
	struct data_count count;
};

#define DATA_OUT_MIN	2	/* one input octet gives at most 2 out */

void	data_init(struct data_parser *d, size_t max_size);
/*
 * data_feed - run up to len octets of in through the machine, writing
 * the stored form to out (room for cap octets, cap >= DATA_OUT_MIN):
 * returns the octets consumed, *n those written. It stops after the
 * final CR LF "." CR LF (d->pos is DATA_END, nothing after it is
 * consumed) or when out might overflow: call again with the rest.
 */
size_t	data_feed(struct data_parser *d, const char *in, size_t len,
	    char *out, size_t cap, size_t *n);
/* Count one octet of the stored form: 1 if it is kept, 0 past max_size. */
int	data_count_octet(struct data_count *c, char o);
enum data_verdict data_verdict(const struct data_parser *d);

#endif
