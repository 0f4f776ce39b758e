/*
 * proto.c - SMTP protocol helpers: reply parsing, enhanced status codes,
 * EHLO keywords and dot-stuffing. See proto.h for the API; nothing here
 * logs or does I/O.
 */
#include "smtp/proto.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

void
proto_reply_init(struct proto_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	r->len = 0;
	r->text[0] = '\0';
}

/* Append to the kept text, cutting what does not fit but always keeping
 * room for the '\n' that ends each line. */
static void
reply_append(struct proto_reply *r, const char *s, size_t n)
{
	size_t room;

	/* full: the line's '\n' would not fit either, so nothing of it is
	 * kept (and room below cannot wrap around) */
	if (r->len + 2 > sizeof(r->text))
		return;
	room = sizeof(r->text) - r->len - 2;
	if (n > room)
		n = room;
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len++] = '\n';
	r->text[r->len] = '\0';
}

int
proto_reply_feed(struct proto_reply *r, const char *line, size_t len)
{
	int code;

	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code)
		return -1;
	r->code = code;
	r->nlines++;
	if (len > 4)
		reply_append(r, line + 4, len - 4);
	else
		reply_append(r, "", 0);
	return len > 3 && line[3] == '-' ? 0 : 1;
}

/* Up to 3 digits, at least one; returns how many, 0 if none. */
static size_t
digits(const char *s)
{
	size_t n = 0;

	while (n < 4 && isdigit((unsigned char)s[n]))
		n++;
	return n >= 1 && n <= 3 ? n : 0;
}

size_t
proto_esc_parse(const char *s, char esc[PROTO_ESC_MAX])
{
	size_t i, n;

	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	if ((n = digits(s + i)) == 0 || s[i + n] != '.')
		return 0;
	i += n + 1;
	if ((n = digits(s + i)) == 0)
		return 0;
	i += n;
	if (s[i] != '\0' && s[i] != ' ' && s[i] != '\n')
		return 0;
	memcpy(esc, s, i);
	esc[i] = '\0';
	return s[i] == ' ' ? i + 1 : i;
}

void
proto_reply_esc(const struct proto_reply *r, char esc[PROTO_ESC_MAX])
{
	int class = r->code / 100;

	if (proto_esc_parse(r->text, esc) > 0 && esc[0] - '0' == class)
		return;
	esc[0] = (char)('0' + (class >= 2 && class <= 5 ? class : 4));
	memcpy(esc + 1, ".0.0", 5);
}

void
proto_reply_format(const struct proto_reply *r, char *out, size_t outlen)
{
	size_t i, o;
	int n;

	if (outlen == 0)
		return;
	n = snprintf(out, outlen, "%03d", r->code);
	o = n < 0 ? 0 : (size_t)n < outlen ? (size_t)n : outlen - 1;
	for (i = 0; i < r->len && o + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)r->text[i];

		/* One space before each line's text; the last '\n' ends it. */
		if (i == 0 || r->text[i - 1] == '\n') {
			if (ch == '\n')
				continue;
			out[o++] = ' ';
			if (o + 1 >= outlen)
				break;
		}
		if (ch == '\n')
			continue;
		out[o++] = (char)(ch < 0x20 || ch == 0x7f ? ' ' : ch);
	}
	out[o] = '\0';
}

/* Does the keyword line start with kw, followed by its end or a space? */
static int
keyword(const char *line, size_t len, const char *kw, const char **arg)
{
	size_t n = strlen(kw);

	if (len < n || strncasecmp(line, kw, n) != 0 ||
	    (len > n && line[n] != ' ' && line[n] != '='))
		return 0;
	*arg = len > n ? line + n + 1 : line + len;
	return 1;
}

/* The mechanisms after AUTH: words separated by spaces. */
static void
auth_mechs(const char *arg, const char *end, struct proto_ehlo *e)
{
	const char *w;

	e->auth = 1;
	while (arg < end) {
		while (arg < end && *arg == ' ')
			arg++;
		for (w = arg; arg < end && *arg != ' '; arg++)
			;
		if (arg - w == 5 && strncasecmp(w, "PLAIN", 5) == 0)
			e->auth_plain = 1;
		else if (arg - w == 5 && strncasecmp(w, "LOGIN", 5) == 0)
			e->auth_login = 1;
	}
}

void
proto_ehlo_parse(const struct proto_reply *r, struct proto_ehlo *e)
{
	const char *p = r->text, *end = r->text + r->len, *nl, *arg;

	memset(e, 0, sizeof(*e));
	/* The first line is the server's greeting name, not a keyword. */
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return;
	for (p = nl + 1; p < end; p = nl + 1) {
		size_t len;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		len = (size_t)(nl - p);
		if (keyword(p, len, "PIPELINING", &arg))
			e->pipelining = 1;
		else if (keyword(p, len, "8BITMIME", &arg))
			e->eightbitmime = 1;
		else if (keyword(p, len, "STARTTLS", &arg))
			e->starttls = 1;
		else if (keyword(p, len, "ENHANCEDSTATUSCODES", &arg))
			e->enhanced = 1;
		else if (keyword(p, len, "SMTPUTF8", &arg))
			e->smtputf8 = 1;
		else if (keyword(p, len, "SIZE", &arg)) {
			e->size = 1;
			e->size_max = isdigit((unsigned char)*arg) ?
			    strtoull(arg, NULL, 10) : 0;
		} else if (keyword(p, len, "AUTH", &arg))
			auth_mechs(arg, nl, e);
	}
}

int
proto_dot_stuff(struct evbuffer *out, const char *data, size_t len, int *bol)
{
	const char *p = data, *end = data + len, *nl;

	while (p < end) {
		if (*bol && *p == '.' && evbuffer_add(out, ".", 1) == -1)
			return -1;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			*bol = 0;
			return evbuffer_add(out, p, (size_t)(end - p));
		}
		if (evbuffer_add(out, p, (size_t)(nl + 1 - p)) == -1)
			return -1;
		*bol = 1;
		p = nl + 1;
	}
	return 0;
}

int
proto_dot_end(struct evbuffer *out, int bol)
{
	return bol ? evbuffer_add(out, ".\r\n", 3) :
	    evbuffer_add(out, "\r\n.\r\n", 5);
}
