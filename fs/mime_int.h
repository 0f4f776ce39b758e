/*
 * mime_int.h - private interface between mime.c (the part tree of
 * inbox/ID/), mime_decode.c (header values and text decoding) and
 * mime_guard.c (what GMime is given to parse). Not for use outside
 * fs/mime*.c.
 */
#ifndef MAILFS_MIME_INT_H
#define MAILFS_MIME_INT_H

#include <stddef.h>

#include <gmime/gmime.h>

#define MAX_DEPTH	32	/* part levels walked */
#define MAX_PARTS	1000	/* part dirs made, and parts visited for body */

/* The header files, in display order. */
#define MIME_NHDRS	7
struct mime_hdr {
	const char *file;
	const char *field;
	int addr;		/* GMimeAddressType, or -1 */
};
extern const struct mime_hdr mime_hdrs[MIME_NHDRS];

/* s appended as one line of valid UTF-8: controls become spaces, ends
 * trimmed. */
void	mime_line_append(GString *out, const char *s);
/* The decoded value of header file i, to g_free; NULL if absent. */
char	*mime_header_value(GMimeMessage *m, size_t i);
/* The header file: the message's fields and its part's, merged by
 * offset. */
GString	*mime_header_block(GMimeMessage *m);
/* Where obj's header starts in the message; -1 when it has none. */
gint64	mime_headers_begin(GMimeObject *obj);
/* The same for a message (its own fields and its part's Content-*). */
gint64	mime_message_begin(GMimeMessage *m);
/* Text bytes made valid UTF-8 in place (converted: from a charset
 * converter). */
void	mime_text_mend(GByteArray *ba, int converted);
/* A leaf's content, transfer-decoded; as text when text is set. */
GByteArray *mime_part_decode(GMimePart *part, int text);
/* NULL, or a copy of the message for GMime to parse, a comment left open
 * after a domain literal in an address field blanked out, offsets
 * unchanged: GMime 3.2.13 leaks on "x@[1.2.3.4] (" (mime_guard.c). */
GByteArray *mime_guard_copy(const char *data, size_t len);
/* The body file of a message: its first text/plain or text/html leaf. */
GByteArray *mime_body_text(GMimeMessage *m);

#endif
