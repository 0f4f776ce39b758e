/*
 * proto.h - SMTP protocol helpers shared by the delivery client and the
 * listener: multi-line reply parsing (RFC 5321 §4.2), enhanced status codes
 * (RFC 3463: extraction from a reply, synthesis from a reply code), EHLO
 * keyword parsing, and dot-stuffing a CRLF message into an evbuffer.
 *
 * No I/O and no state beyond the structures passed in; safe in any thread.
 * Diagnostics: none; malformed input is reported by return values.
 */
#ifndef MAILFS_PROTO_H
#define MAILFS_PROTO_H

#include <stddef.h>

struct evbuffer;

#define PROTO_TEXT_MAX	2048	/* a reply's texts kept; the rest is cut */
#define PROTO_ESC_MAX	16	/* "5.123.123" with its NUL, and room */

/* One reply, possibly of several lines ("250-a", "250-b", "250 c"). */
struct proto_reply {
	int code;		/* 200..599 once complete */
	int nlines;
	size_t len;
	char text[PROTO_TEXT_MAX];	/* the lines' texts, each ended by '\n' */
};

void	proto_reply_init(struct proto_reply *r);
/*
 * proto_reply_feed - add one line (without its CRLF). Returns 1 when the
 * reply is complete, 0 when more lines follow, -1 when the line is not a
 * reply line or its code differs from the previous lines'.
 */
int	proto_reply_feed(struct proto_reply *r, const char *line, size_t len);

/*
 * proto_esc_parse - the enhanced status code at the start of s (class 2, 4
 * or 5, subject and detail of 1-3 digits, then a space or the end) copied
 * into esc; returns the length consumed (with the space) or 0 if none.
 */
size_t	proto_esc_parse(const char *s, char esc[PROTO_ESC_MAX]);
/*
 * proto_reply_esc - the reply's enhanced status code: the server's own when
 * its first line starts with one of the reply's class, else synthesized as
 * "C.0.0" from the reply code's first digit.
 */
void	proto_reply_esc(const struct proto_reply *r, char esc[PROTO_ESC_MAX]);
/*
 * proto_reply_format - the reply on one line for logs and status files:
 * "550 5.1.1 first line text second line text", control characters turned
 * into spaces, cut to fit outlen.
 */
void	proto_reply_format(const struct proto_reply *r, char *out, size_t outlen);

/* What an EHLO reply advertises (RFC 1870, 2920, 3207, 6152, 2034, and
 * 4954's AUTH with the two mechanisms we speak, PLAIN and LOGIN; the old
 * "AUTH=" spelling counts too). */
struct proto_ehlo {
	unsigned pipelining:1, eightbitmime:1, starttls:1, enhanced:1,
	    smtputf8:1, size:1, auth:1, auth_plain:1, auth_login:1;
	unsigned long long size_max;	/* 0: SIZE without a limit */
};

/* Parse the keywords of a complete EHLO reply (lines after the first). */
void	proto_ehlo_parse(const struct proto_reply *r, struct proto_ehlo *e);

/*
 * proto_dot_stuff - append len bytes of a CRLF message to out, doubling a
 * '.' that starts a line (RFC 5321 §4.5.2). *bol carries "at the beginning
 * of a line" from one call to the next: set it to 1 before the first.
 * proto_dot_end ends the data: CRLF if the message did not end with one,
 * then ".\r\n". Both return 0, or -1 when out cannot grow.
 */
int	proto_dot_stuff(struct evbuffer *out, const char *data, size_t len,
	    int *bol);
int	proto_dot_end(struct evbuffer *out, int bol);

#endif
