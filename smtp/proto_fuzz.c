/*
 * proto_fuzz.c - libFuzzer target for smtp/proto.c, on both of its hostile
 * inputs. Seeds: tests/fuzz-seeds/proto_fuzz.
 *
 * Replies: the input, cut into lines, is fed to proto_reply_feed as a
 * server's replies; each complete reply goes through proto_reply_esc,
 * proto_reply_format (at several output sizes) and proto_ehlo_parse,
 * and each line through proto_esc_parse. Checked: the kept text stays
 * NUL-terminated within its array, formatted lines fit and hold no
 * control character, an enhanced code is of the reply's class.
 *
 * Dot-stuffing: the input as a message body is stuffed in one call and
 * again cut at chunk points taken from the input itself; both must give
 * the same bytes, no line of the stuffed data may be a lone "." before
 * the final one, and undoing the stuffing (RFC 5321 §4.5.2, the way a
 * receiver does) must give the message back, CRLF-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "smtp/proto.h"

#define OUT_MAX	4096	/* the largest formatting buffer tried */

static void
check_reply(const struct proto_reply *r)
{
	static const size_t sizes[] = { 1, 2, 4, 5, 17, 512, OUT_MAX };
	char esc[PROTO_ESC_MAX], out[OUT_MAX];
	struct proto_ehlo e;
	size_t i, n;

	if (r->len >= sizeof(r->text) || r->text[r->len] != '\0' ||
	    r->code < 200 || r->code > 599)
		abort();
	proto_reply_esc(r, esc);
	if (strlen(esc) >= PROTO_ESC_MAX || esc[0] != '0' + r->code / 100 ||
	    esc[1] != '.')
		abort();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(out, 'x', sizeof(out));
		proto_reply_format(r, out, sizes[i]);
		if ((n = strnlen(out, sizes[i])) >= sizes[i])
			abort();
		while (n-- > 0)
			if ((unsigned char)out[n] < 0x20 || out[n] == 0x7f)
				abort();
	}
	proto_ehlo_parse(r, &e);
}

static void
replies(const char *data, size_t size)
{
	struct proto_reply r;
	char esc[PROTO_ESC_MAX], *line;
	const char *p = data, *end = data + size, *nl;
	size_t len, n;

	proto_reply_init(&r);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		/* exactly len bytes, so ASan sees a read past the line */
		if ((line = malloc(len + 1)) == NULL)
			return;
		memcpy(line, p, len);
		line[len] = '\0';
		if ((n = proto_esc_parse(line, esc)) > len ||
		    (n > 0 && strlen(esc) >= PROTO_ESC_MAX))
			abort();
		switch (proto_reply_feed(&r, line, len)) {
		case 1:
			check_reply(&r);
			/* FALLTHROUGH */
		case -1:
			proto_reply_init(&r);
			break;
		}
		free(line);
	}
}

/* The stuffed bytes of data, cut into chunks where cuts says (NULL: none). */
static struct evbuffer *
stuff(const char *data, size_t size, const uint8_t *cuts, size_t ncuts)
{
	struct evbuffer *out = evbuffer_new();
	size_t off = 0, i = 0, n;
	int bol = 1;

	if (out == NULL)
		abort();
	while (off < size) {
		n = i < ncuts ? cuts[i++] % 17 : size - off;
		if (n > size - off)
			n = size - off;
		if (proto_dot_stuff(out, data + off, n, &bol) == -1)
			abort();
		off += n;
	}
	if (proto_dot_end(out, bol) == -1)
		abort();
	return out;
}

/* Undo the stuffing as a receiver does: the data before the final "."
 * line, each line's leading '.' dropped, must be body, CRLF-terminated. */
static void
check_unstuffed(const unsigned char *s, size_t len, const char *body,
    size_t blen)
{
	unsigned char *msg;
	size_t i = 0, o = 0, nl;

	if (len < 3 || memcmp(s + len - 3, ".\r\n", 3) != 0 ||
	    (len > 3 && s[len - 4] != '\n'))
		abort();
	len -= 3;
	if ((msg = malloc(len + 1)) == NULL)
		abort();
	while (i < len) {
		const unsigned char *e = memchr(s + i, '\n', len - i);

		nl = e ? (size_t)(e - s) + 1 : len;
		if (s[i] == '.') {
			if (nl - i == 3 && s[i + 1] == '\r')
				abort();	/* a "." line ends the data early */
			i++;
		}
		memcpy(msg + o, s + i, nl - i);
		o += nl - i;
		i = nl;
	}
	/* proto_dot_end adds CRLF when the message did not end a line */
	if (blen > 0 && body[blen - 1] != '\n') {
		if (o != blen + 2 || memcmp(msg + blen, "\r\n", 2) != 0)
			abort();
		o = blen;
	}
	if (o != blen || memcmp(msg, body, blen) != 0)
		abort();
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *whole, *cut;
	size_t len, ncuts = size < 16 ? size : 16;
	unsigned char *a, *b;

	replies((const char *)data, size);

	whole = stuff((const char *)data, size, NULL, 0);
	cut = stuff((const char *)data, size, data, ncuts);
	len = evbuffer_get_length(whole);
	if (evbuffer_get_length(cut) != len)
		abort();
	a = evbuffer_pullup(whole, -1);
	b = evbuffer_pullup(cut, -1);
	if (len > 0 && (a == NULL || b == NULL || memcmp(a, b, len) != 0))
		abort();
	check_unstuffed(a, len, (const char *)data, size);
	evbuffer_free(whole);
	evbuffer_free(cut);
	return 0;
}
