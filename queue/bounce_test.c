/*
 * bounce_test.c - unit tests of queue/bounce.c's DSN builder: a bounce and
 * a delay warning are built, parsed back with GMime, and their structure
 * (multipart/report with text/plain, message/delivery-status and
 * text/rfc822-headers), envelope-facing headers and per-recipient fields
 * checked; and the `notified`/`warned` marks of the state file (entry.c)
 * surviving a write and a read. TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "queue/entry.h"
#include "queue/queue_int.h"
#include "tests/tap.h"

static const char header[] =
    "From: Alice <alice@mailfs.test>\r\nTo: x@bad.test, y@slow.test\r\n"
    "Subject: the original\r\n";

static const struct bounce_rcpt rcpts[] = {
	{ "x@bad.test", "5.1.1", "550 5.1.1 no such user",
	    "mx.bad.test[127.0.0.3]:25" },
	{ "y@slow.test", "4.4.1", "expired after 5d in the queue: "
	    "connect to mx.slow.test: Connection refused", NULL },
};

/* The decoded content of part as a string with LF line ends (g_free). */
static char *
content(GMimeObject *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *ba;
	char *s, *o, *i;

	g_mime_data_wrapper_write_to_stream(w, mem);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	s = g_strndup((const char *)ba->data, ba->len);
	g_object_unref(mem);
	for (o = s, i = s; *i; i++)
		if (*i != '\r')
			*o++ = *i;
	*o = '\0';
	return s;
}

static GMimeMessage *
parse(const char *data, size_t len)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);

	g_object_unref(p);
	g_object_unref(st);
	return m;
}

static int
is_type(GMimeObject *o, const char *type, const char *sub)
{
	return o != NULL && g_mime_content_type_is_type(
	    g_mime_object_get_content_type(o), type, sub);
}

static int
crlf_only(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return 0;
	return 1;
}

static void
test_bounce(void)
{
	struct bounce_report b = {
		.hostname = "mailfs.test", .id = "20261130T175047.728545",
		.sender = "alice@mailfs.test", .arrival = 1796061047,
		.until = 1796061047 + 5 * 86400, .r = rcpts, .nr = 2,
		.header = header, .headerlen = sizeof(header) - 1,
	};
	GMimeMultipart *mp;
	GMimeMessage *m;
	InternetAddressList *l;
	GMimeObject *top;
	char *data, *st, *text, *hdr, *s;
	size_t len;

	ok(bounce_build(&b, &data, &len) == 0 && len == strlen(data),
	    "a bounce is built");
	ok(crlf_only(data, len), "every line ends in CRLF (as queued)");
	m = parse(data, len);
	ok(m != NULL, "GMime parses it back");
	if (m == NULL)
		return;
	l = g_mime_message_get_from(m);
	s = internet_address_list_to_string(l, NULL, FALSE);
	ok(strcmp(s, "Mail Delivery System <MAILER-DAEMON@mailfs.test>") == 0,
	    "From: Mail Delivery System <MAILER-DAEMON@hostname> (%s)", s);
	g_free(s);
	s = internet_address_list_to_string(g_mime_message_get_to(m), NULL,
	    FALSE);
	ok(strcmp(s, "alice@mailfs.test") == 0, "To: the envelope sender");
	g_free(s);
	ok(strcmp(g_mime_message_get_subject(m),
	    "Undelivered Mail Returned to Sender") == 0, "Subject");
	ok(g_mime_message_get_message_id(m) != NULL &&
	    g_mime_message_get_date(m) != NULL, "Message-ID and Date");
	ok(strcmp(g_mime_object_get_header(GMIME_OBJECT(m), "Auto-Submitted"),
	    "auto-replied") == 0, "Auto-Submitted: auto-replied");
	top = g_mime_message_get_mime_part(m);
	ok(is_type(top, "multipart", "report") && GMIME_IS_MULTIPART(top) &&
	    strcmp(g_mime_object_get_content_type_parameter(top,
	    "report-type"), "delivery-status") == 0,
	    "multipart/report; report-type=delivery-status");
	mp = GMIME_MULTIPART(top);
	ok(g_mime_multipart_get_count(mp) == 3 &&
	    is_type(g_mime_multipart_get_part(mp, 0), "text", "plain") &&
	    is_type(g_mime_multipart_get_part(mp, 1), "message",
	    "delivery-status") &&
	    is_type(g_mime_multipart_get_part(mp, 2), "text", "rfc822-headers"),
	    "parts: text/plain, message/delivery-status, text/rfc822-headers");
	if (g_mime_multipart_get_count(mp) != 3) {
		g_object_unref(m);
		g_free(data);
		return;
	}
	text = content(g_mime_multipart_get_part(mp, 0));
	ok(strstr(text, "<x@bad.test>: 550 5.1.1 no such user\n") &&
	    strstr(text, "<y@slow.test>: expired after 5d") &&
	    strstr(text, "given up"), "the text names each recipient and why");
	st = content(g_mime_multipart_get_part(mp, 1));
	ok(strncmp(st, "Reporting-MTA: dns; mailfs.test\n", 32) == 0 &&
	    strstr(st, "\nArrival-Date: ") != NULL,
	    "per message: Reporting-MTA, Arrival-Date");
	ok(strstr(st, "\n\nFinal-Recipient: rfc822; x@bad.test\nAction: failed\n"
	    "Status: 5.1.1\nRemote-MTA: dns; mx.bad.test\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 no such user\n") != NULL,
	    "a refused recipient: status, Remote-MTA, the reply");
	ok(strstr(st, "\n\nFinal-Recipient: rfc822; y@slow.test\nAction: failed\n"
	    "Status: 5.4.7\nDiagnostic-Code: X-mailfs; expired after 5d")
	    != NULL, "an expired one: 5.4.7, no Remote-MTA, our own text");
	ok(strstr(st, "Will-Retry-Until") == NULL, "no Will-Retry-Until");
	hdr = content(g_mime_multipart_get_part(mp, 2));
	ok(strcmp(hdr, "From: Alice <alice@mailfs.test>\nTo: x@bad.test, "
	    "y@slow.test\nSubject: the original\n") == 0,
	    "the original header, whole");
	g_free(text);
	g_free(st);
	g_free(hdr);
	g_object_unref(m);
	g_free(data);
}

static void
test_delayed(void)
{
	struct bounce_rcpt r = { "y@slow.test", "4.4.1", "connect to "
	    "mx.slow.test[127.0.0.9]:25: Connection refused",
	    "mx.slow.test[127.0.0.9]:25" };
	struct bounce_report b = {
		.hostname = "mailfs.test", .id = "X", .sender = "a@b.test",
		.arrival = 1796061047, .until = 1796061047 + 86400,
		.delayed = 1, .r = &r, .nr = 1, .header = "Subject: s\n",
		.headerlen = 11,
	};
	GMimeMessage *m;
	GMimeObject *top;
	char *data, *st, *text;
	size_t len;

	ok(bounce_build(&b, &data, &len) == 0, "a delay warning is built");
	m = parse(data, len);
	top = m ? g_mime_message_get_mime_part(m) : NULL;
	ok(top != NULL && GMIME_IS_MULTIPART(top) &&
	    g_mime_multipart_get_count(GMIME_MULTIPART(top)) == 3,
	    "the same three parts");
	if (top == NULL || !GMIME_IS_MULTIPART(top) ||
	    g_mime_multipart_get_count(GMIME_MULTIPART(top)) != 3) {
		g_free(data);
		return;
	}
	ok(strcmp(g_mime_message_get_subject(m),
	    "Delayed Mail (still being retried)") == 0, "its Subject");
	text = content(g_mime_multipart_get_part(GMIME_MULTIPART(top), 0));
	st = content(g_mime_multipart_get_part(GMIME_MULTIPART(top), 1));
	ok(strstr(text, "only a warning") != NULL, "the text says a warning");
	ok(strstr(st, "Action: delayed\nStatus: 4.4.1\nRemote-MTA: dns; "
	    "mx.slow.test\nDiagnostic-Code: X-mailfs; connect to ") &&
	    strstr(st, "\nWill-Retry-Until: ") != NULL,
	    "Action: delayed, 4.x.x, an error of ours, Will-Retry-Until");
	g_free(text);
	g_free(st);
	g_object_unref(m);
	g_free(data);
}

static void
test_state(void)
{
	struct msg *m = entry_new("20261130T175047.728545"), *back;
	char *text;
	size_t len;

	m->from = strdup("a@mailfs.test");
	m->name = strdup("n");
	entry_add_rcpt(m, "x@bad.test");
	entry_add_rcpt(m, "y@slow.test");
	m->r[0].state = QUEUE_RCPT_FAILED;
	m->r[0].notified = 1;
	m->warned = 1;
	text = entry_serialize(m, &len);
	back = entry_new(m->id);
	ok(text != NULL && entry_parse(back, text) == 0 && back->nr == 2 &&
	    back->r[0].notified && !back->r[1].notified && back->warned,
	    "notified and warned survive the state file");
	free(text);
	entry_free(back);
	m->warned = 0;
	m->r[0].notified = 0;
	text = entry_serialize(m, &len);
	ok(strstr(text, "notified") == NULL && strstr(text, "warned") == NULL,
	    "and are not written when unset (older readers see nothing new)");
	free(text);
	entry_free(m);
}

int
main(void)
{
	g_mime_init();
	test_bounce();
	test_delayed();
	test_state();
	g_mime_shutdown();
	return tap_done();
}
