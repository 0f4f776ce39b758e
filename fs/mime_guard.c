/*
 * mime_guard.c - the bytes GMime parses, kept off a leak of GMime 3.2.13:
 * its address parser leaks a buffer (~128 bytes) on a domain literal
 * followed by a comment left open to the end of the field, as in
 * "To: x@[1.2.3.4] (", and it parses the address fields of every message
 * header itself (the top level's and each embedded message/rfc822's), so
 * a remote sender could grow our memory one message at a time.
 *
 * API (mime_int.h): mime_guard_copy. It returns NULL when the message has
 * no such field (the common case: no copy), else a copy in which such a
 * comment (left open after a domain literal, in an address field) is
 * blanked out, from its '(' to the end of the field, byte for byte (CR
 * and LF kept): offsets stay those
 * of the message, so raw slices, which mime.c takes from the original,
 * line up with what GMime reports. Which lines are header fields is not
 * known before GMime parses, so any line that starts with an address
 * field's name is treated so; the comment was open to the end anyway, and
 * only GMime's copy changes.
 */
#include <string.h>
#include <strings.h>

#include "fs/mime_int.h"

/* The fields GMime parses as addresses, and those mime_decode.c does. */
static const char *const addr_fields[] = {
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"Resent-From", "Resent-Sender", "Resent-Reply-To", "Resent-To",
	"Resent-Cc", "Resent-Bcc",
};

/* Does the line at s (n bytes to the end) start an address field? Where
 * its value starts, or -1. */
static long
addr_field(const char *s, size_t n)
{
	size_t i, k;

	for (i = 0; i < sizeof(addr_fields) / sizeof(addr_fields[0]); i++) {
		k = strlen(addr_fields[i]);
		if (n > k && strncasecmp(s, addr_fields[i], k) == 0) {
			while (k < n && (s[k] == ' ' || s[k] == '\t'))
				k++;
			if (k < n && s[k] == ':')
				return (long)k + 1;
		}
	}
	return -1;
}

/* Where the field whose value starts at p ends: at the line end not
 * followed by a continuation line (blank-led). */
static size_t
field_end(const char *s, size_t p, size_t len)
{
	const char *nl;

	for (;;) {
		if ((nl = memchr(s + p, '\n', len - p)) == NULL)
			return len;
		p = (size_t)(nl - s) + 1;
		if (p >= len || (s[p] != ' ' && s[p] != '\t'))
			return p;
	}
}

/* Does the comment opened at s[p] run to end without closing? Nesting
 * and backslashes count, quotes do not: as GMime skips a comment. */
static int
left_open(const char *s, size_t p, size_t end)
{
	int depth = 0;

	for (; p < end; p++) {
		if (s[p] == '\\')
			p++;
		else if (s[p] == '(')
			depth++;
		else if (s[p] == ')' && --depth == 0)
			return 0;
	}
	return 1;
}

/* Where in s[p, end) the first comment left open after a domain literal
 * (a ']', then blanks) starts, or end if none does: what GMime leaks
 * on. Quotes are not taken into account (GMime's reading of broken ones
 * is its own), so this may find more than GMime would leak on. */
static size_t
open_comment(const char *s, size_t p, size_t end)
{
	size_t q;

	for (; p < end; p++) {
		if (s[p] != ']')
			continue;
		for (q = p + 1; q < end && memchr(" \t\r\n", s[q], 4) != NULL;
		    q++)
			;
		if (q < end && s[q] == '(' && left_open(s, q, end))
			return q;
	}
	return end;
}

GByteArray *
mime_guard_copy(const char *data, size_t len)
{
	GByteArray *ba = NULL;
	size_t p = 0, end, c;
	const char *nl;
	long v;

	while (p < len) {
		if ((v = addr_field(data + p, len - p)) < 0) {
			nl = memchr(data + p, '\n', len - p);
			p = nl != NULL ? (size_t)(nl - data) + 1 : len;
			continue;
		}
		end = field_end(data, p + (size_t)v, len);
		if ((c = open_comment(data, p + (size_t)v, end)) < end) {
			if (ba == NULL) {
				ba = g_byte_array_sized_new((guint)len + 1);
				g_byte_array_append(ba, (const guint8 *)data,
				    (guint)len);
			}
			for (; c < end; c++)
				if (ba->data[c] != '\r' && ba->data[c] != '\n')
					ba->data[c] = ' ';
		}
		p = end;
	}
	return ba;
}
