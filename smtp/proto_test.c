/*
 * proto_test.c - unit tests of smtp/proto.c (TAP): reply parsing, enhanced
 * status codes, EHLO keywords, dot-stuffing across chunk boundaries.
 */
#include "smtp/proto.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include "tests/tap.h"

static int
feed(struct proto_reply *r, const char *line)
{
	return proto_reply_feed(r, line, strlen(line));
}

/* Dot-stuff msg cut into chunks of n bytes; compare with want. */
static int
stuffed(const char *msg, size_t n, const char *want)
{
	struct evbuffer *b = evbuffer_new();
	size_t len = strlen(msg), i, got;
	int bol = 1, same;

	for (i = 0; i < len; i += n)
		proto_dot_stuff(b, msg + i, len - i < n ? len - i : n, &bol);
	proto_dot_end(b, bol);
	got = evbuffer_get_length(b);
	same = got == strlen(want) &&
	    memcmp(evbuffer_pullup(b, -1), want, got) == 0;
	evbuffer_free(b);
	return same;
}

int
main(void)
{
	struct proto_reply r;
	struct proto_ehlo e;
	char esc[PROTO_ESC_MAX], line[256], big[PROTO_TEXT_MAX / 2];
	size_t n;

	proto_reply_init(&r);
	ok(feed(&r, "250 2.1.5 Ok") == 1 && r.code == 250, "single-line reply");
	proto_reply_esc(&r, esc);
	ok(strcmp(esc, "2.1.5") == 0, "server's enhanced code kept");
	proto_reply_format(&r, line, sizeof(line));
	ok(strcmp(line, "250 2.1.5 Ok") == 0, "formatted single line");

	proto_reply_init(&r);
	ok(feed(&r, "250-mx.a.test hello") == 0 &&
	    feed(&r, "250-PIPELINING") == 0 && feed(&r, "250-SIZE 1000") == 0 &&
	    feed(&r, "250-8bitmime") == 0 && feed(&r, "250-STARTTLS") == 0 &&
	    feed(&r, "250-SIZEX") == 0 &&
	    feed(&r, "250 ENHANCEDSTATUSCODES") == 1 && r.nlines == 7,
	    "multi-line reply");
	proto_ehlo_parse(&r, &e);
	ok(e.pipelining && e.size && e.size_max == 1000 && e.eightbitmime &&
	    e.starttls && e.enhanced && !e.smtputf8, "EHLO keywords");
	proto_reply_format(&r, line, sizeof(line));
	ok(strcmp(line, "250 mx.a.test hello PIPELINING SIZE 1000 8bitmime "
	    "STARTTLS SIZEX ENHANCEDSTATUSCODES") == 0, "formatted multi-line");

	ok(!e.auth && !e.auth_plain && !e.auth_login, "no AUTH: none");

	proto_reply_init(&r);
	ok(feed(&r, "250-relay.test") == 0 &&
	    feed(&r, "250-AUTH CRAM-MD5 login  PLAINX") == 0 &&
	    feed(&r, "250 AUTHX PLAIN") == 1, "reply with AUTH");
	proto_ehlo_parse(&r, &e);
	ok(e.auth && e.auth_login && !e.auth_plain,
	    "AUTH mechanisms: whole words, any case");
	proto_reply_init(&r);
	ok(feed(&r, "250-relay.test") == 0 && feed(&r, "250-AUTH=PLAIN") == 0 &&
	    feed(&r, "250 AUTH") == 1, "reply with AUTH= and a bare AUTH");
	proto_ehlo_parse(&r, &e);
	ok(e.auth && e.auth_plain && !e.auth_login, "AUTH= spelling counts");

	proto_reply_init(&r);
	ok(feed(&r, "250-a") == 0 && feed(&r, "251 b") == -1,
	    "code change inside a reply refused");
	proto_reply_init(&r);
	ok(feed(&r, "hello") == -1 && feed(&r, "25") == -1 &&
	    feed(&r, "250x") == -1 && feed(&r, "650 x") == -1,
	    "garbage refused");
	proto_reply_init(&r);
	ok(feed(&r, "354") == 1 && r.code == 354, "bare code accepted");

	proto_reply_init(&r);
	feed(&r, "550 Mailbox unavailable");
	proto_reply_esc(&r, esc);
	ok(strcmp(esc, "5.0.0") == 0, "5.0.0 synthesized");
	proto_reply_init(&r);
	feed(&r, "451 5.1.1 mismatched class");
	proto_reply_esc(&r, esc);
	ok(strcmp(esc, "4.0.0") == 0, "a code of another class is ignored");
	proto_reply_init(&r);
	feed(&r, "250 2.0.0");
	proto_reply_esc(&r, esc);
	ok(strcmp(esc, "2.0.0") == 0, "code alone");

	n = proto_esc_parse("5.7.1 Relaying denied", esc);
	ok(n == 6 && strcmp(esc, "5.7.1") == 0, "esc parse consumes the space");
	ok(proto_esc_parse("5.7.1234 x", esc) == 0 &&
	    proto_esc_parse("3.0.0 x", esc) == 0 &&
	    proto_esc_parse("5.7 x", esc) == 0 &&
	    proto_esc_parse("5.7.1x", esc) == 0, "bad codes refused");
	ok(proto_esc_parse("4.123.999", esc) == 9 &&
	    strcmp(esc, "4.123.999") == 0, "three-digit parts");

	/* a server's endless multi-line reply: the kept text is cut, never
	 * written past (found by smtp/proto_fuzz) */
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "250-", 4);
	big[sizeof(big) - 1] = '\0';
	proto_reply_init(&r);
	for (n = 0; n < 5; n++)
		feed(&r, big);
	ok(feed(&r, "250-more") == 0 && feed(&r, "250 end") == 1 &&
	    r.nlines == 7 && r.len == sizeof(r.text) - 1 &&
	    r.text[r.len - 1] == '\n' && r.text[r.len] == '\0',
	    "overlong multi-line reply cut at the text's end");

	proto_reply_init(&r);
	feed(&r, "220 tab\there\x01");
	proto_reply_format(&r, line, 12);
	ok(strcmp(line, "220 tab her") == 0, "format cuts and cleans");

	ok(stuffed("a\r\n.b\r\n..\r\n", 100, "a\r\n..b\r\n...\r\n.\r\n"),
	    "dots doubled at line starts");
	ok(stuffed("a\r\n.b\r\n..\r\n", 1, "a\r\n..b\r\n...\r\n.\r\n"),
	    "dots doubled across 1-byte chunks");
	ok(stuffed(".x", 100, "..x\r\n.\r\n"), "missing final CRLF added");
	ok(stuffed("", 100, ".\r\n"), "empty message");
	ok(stuffed("a.b\r\n.\r\n", 3, "a.b\r\n..\r\n.\r\n"),
	    "lone dot line stuffed, inner dot kept");

	return tap_done();
}
