/*
 * bounce.c - delivery status notifications (RFC 3464) to the envelope
 * sender of a queued message: a bounce when recipients fail (a 5xx, a
 * domain that does not exist, a null MX, max_age), and, with
 * delay_warning set, one "still trying" warning per message.
 *
 * A DSN is a new message in the same queue, from the null sender <> and
 * from "Mail Delivery System <MAILER-DAEMON@hostname>", to the original
 * sender: it shows in queue/ and the log like any other and goes by MX,
 * or into the inbox when the sender is local. Its body is multipart/report
 * (report-type=delivery-status): a text/plain explanation, a
 * message/delivery-status part (Reporting-MTA, Arrival-Date, and per
 * recipient Final-Recipient, Action, Status, Remote-MTA when a remote host
 * answered, Diagnostic-Code), and the original header as
 * text/rfc822-headers.
 *
 * When: queue_save (queue.c, the writer thread) calls bounce_notify before
 * it writes an entry's state, so every batch of results that fails
 * recipients sends one bounce naming them (as Postfix does), and the state
 * written records them `notified`; a warning goes at the first deferral
 * after delay_warning (so within one retry delay of it), and `warned` is
 * recorded. A crash between queuing the DSN and writing that state sends
 * it again after the restart: better twice than never. A message from <>
 * never gets one (a bounce that fails ends there): that is logged.
 * DSNs, like local delivery, are sent only while queue_local_start has
 * the mail system running (the daemon; unit tests of the queue alone do
 * not start it).
 *
 * API: bounce_build (queue_int.h), bounce_notify (core.h).
 * Diagnostics: `dsn` events (action, to, dsn = the new ID, or text);
 * a DSN that cannot be queued is logged and tried at the next save.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "queue/core.h"
#include "queue/qlog.h"
#include "queue/queue_int.h"

#define HEADER_MAX	(64 * 1024)	/* of the original header, returned */

static char *
format_date(time_t t)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(t);
	char *s = g_mime_utils_header_format_date(dt);

	g_date_time_unref(dt);
	return s;
}

/* The Status: of a recipient: a failed one is 5.x.x even when it failed
 * for want of time (then 5.4.7, delivery time expired); a delayed one is
 * 4.x.x. */
static const char *
status_of(const struct bounce_report *b, const struct bounce_rcpt *r)
{
	if (b->delayed)
		return r->code[0] == '4' ? r->code : "4.0.0";
	if (r->code[0] == '5')
		return r->code;
	return r->code[0] == '4' ? "5.4.7" : "5.0.0";
}

/* 1 if text is an SMTP reply ("550 5.1.1 ..."), not an error of ours. */
static int
is_reply(const char *text)
{
	return text[0] >= '2' && text[0] <= '5' && g_ascii_isdigit(text[1]) &&
	    g_ascii_isdigit(text[2]) && (text[3] == ' ' || text[3] == '-' ||
	    text[3] == '\0');
}

static void
human_text(GString *s, const struct bounce_report *b)
{
	char *until = format_date(b->until);
	size_t i;

	g_string_append_printf(s, "This is the mail system at host %s.\n\n",
	    b->hostname);
	if (b->delayed)
		g_string_append_printf(s, "Your message has not yet been "
		    "delivered to the recipients below.\nThis is only a "
		    "warning: the mail system keeps trying until\n%s.\n"
		    "You need not send the message again.\n\n", until);
	else
		g_string_append(s, "Your message could not be delivered to "
		    "the recipients below;\nthe mail system has given up. Its "
		    "header is attached.\n\n");
	for (i = 0; i < b->nr; i++)
		g_string_append_printf(s, "<%s>: %s\n", b->r[i].addr,
		    b->r[i].text ? b->r[i].text : "no reason given");
	g_free(until);
}

static void
status_text(GString *s, const struct bounce_report *b)
{
	const struct bounce_rcpt *r;
	char *date = format_date(b->arrival), *until = format_date(b->until);
	size_t i, hlen;

	g_string_append_printf(s, "Reporting-MTA: dns; %s\nX-Mailfs-Queue-ID: "
	    "%s\nArrival-Date: %s\n", b->hostname, b->id, date);
	for (i = 0; i < b->nr; i++) {
		r = &b->r[i];
		g_string_append_printf(s, "\nFinal-Recipient: rfc822; %s\n"
		    "Action: %s\nStatus: %s\n", r->addr,
		    b->delayed ? "delayed" : "failed", status_of(b, r));
		/* "host[address]" as smtp/ reports it: the host is the name */
		hlen = r->relay ? strcspn(r->relay, "[") : 0;
		if (hlen > 0 && strcmp(r->relay, "local") != 0)
			g_string_append_printf(s, "Remote-MTA: dns; %.*s\n",
			    (int)hlen, r->relay);
		if (r->text != NULL)
			/* a remote host's reply, or an error of ours */
			g_string_append_printf(s, "Diagnostic-Code: %s; %s\n",
			    is_reply(r->text) ? "smtp" : "X-mailfs", r->text);
		if (b->delayed)
			g_string_append_printf(s, "Will-Retry-Until: %s\n",
			    until);
	}
	g_free(date);
	g_free(until);
}

/* A part of type/subtype holding text (LF line ends). */
static GMimeObject *
text_part(const char *type, const char *subtype, const char *text,
    size_t len)
{
	GMimePart *p = g_mime_part_new_with_type(type, subtype);
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(text, len);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(st,
	    GMIME_CONTENT_ENCODING_DEFAULT);
	size_t i;
	int eight = 0;

	for (i = 0; i < len; i++)
		eight |= (unsigned char)text[i] >= 0x80;
	g_mime_part_set_content(p, w);
	g_mime_part_set_content_encoding(p, eight ?
	    GMIME_CONTENT_ENCODING_8BIT : GMIME_CONTENT_ENCODING_7BIT);
	if (eight && strcmp(type, "text") == 0)
		g_mime_object_set_content_type_parameter(GMIME_OBJECT(p),
		    "charset", "utf-8");
	g_object_unref(w);
	g_object_unref(st);
	return GMIME_OBJECT(p);
}

int
bounce_build(const struct bounce_report *b, char **data, size_t *len)
{
	GMimeMessage *msg = g_mime_message_new(TRUE);
	GMimeMultipart *mp = g_mime_multipart_new_with_subtype("report");
	GMimeFormatOptions *fo = g_mime_format_options_clone(NULL);
	GString *human = g_string_new(NULL), *st = g_string_new(NULL);
	GString *hdr = g_string_new_len(b->header, (gssize)b->headerlen);
	GMimeObject *part;
	GDateTime *now = g_date_time_new_now_utc();
	char *from = g_strdup_printf("MAILER-DAEMON@%s", b->hostname);
	char *mid = g_mime_utils_generate_message_id(b->hostname);
	size_t i, o;

	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM,
	    "Mail Delivery System", from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, b->sender);
	g_mime_message_set_subject(msg, b->delayed ?
	    "Delayed Mail (still being retried)" :
	    "Undelivered Mail Returned to Sender", NULL);
	g_mime_message_set_date(msg, now);
	g_mime_message_set_message_id(msg, mid);
	/* RFC 3834: no auto-reply to this */
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted",
	    "auto-replied", NULL);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(mp),
	    "report-type", "delivery-status");

	human_text(human, b);
	status_text(st, b);
	/* The header as LF text, ending in one blank line at most. */
	for (i = o = 0; i < hdr->len; i++)
		if (hdr->str[i] != '\r')
			hdr->str[o++] = hdr->str[i];
	g_string_truncate(hdr, o);
	while (hdr->len > 0 && hdr->str[hdr->len - 1] == '\n')
		g_string_truncate(hdr, hdr->len - 1);
	g_string_append_c(hdr, '\n');

	part = text_part("text", "plain", human->str, human->len);
	g_mime_multipart_add(mp, part);
	g_object_unref(part);
	part = text_part("message", "delivery-status", st->str, st->len);
	g_mime_multipart_add(mp, part);
	g_object_unref(part);
	part = text_part("text", "rfc822-headers", hdr->str, hdr->len);
	g_mime_multipart_add(mp, part);
	g_object_unref(part);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(mp));

	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	*data = g_mime_object_to_string(GMIME_OBJECT(msg), fo);
	*len = *data ? strlen(*data) : 0;

	g_mime_format_options_free(fo);
	g_object_unref(mp);
	g_object_unref(msg);
	g_string_free(human, TRUE);
	g_string_free(st, TRUE);
	g_string_free(hdr, TRUE);
	g_date_time_unref(now);
	g_free(from);
	g_free(mid);
	return *data ? 0 : ENOMEM;
}

/* What a report may quote of a message. */
struct quoted {
	char path[PATH_MAX];
	size_t size;
	int has_crc;
	uint32_t crc;
};

/* The header block of the message file q->path (malloc'd), at most
 * HEADER_MAX bytes; "" when it cannot be read, or is not the message
 * queued (check.c: a crash cut its submission short). The entry is not
 * moved aside here, as the caller holds its wmu; any attempt to deliver
 * what it has left checks it again and does. */
static char *
read_header(const char *id, const struct quoted *q, size_t *len)
{
	GString *s = g_string_new(NULL);
	char line[1024], why[128];
	FILE *f = fopen(q->path, "re");
	uint32_t crc;
	size_t got;

	if (f != NULL && (check_fd(fileno(f), &got, &crc) != 0 ||
	    check_message(q->path, q->size, q->has_crc, q->crc, crc, got, why,
	    sizeof(why)) != 0)) {
		log_warnx("queue/%s: %s; its report does not quote it", id,
		    why);
		fclose(f);
		f = NULL;
	}
	/* Up to the blank line: an empty line, not the end of a long one. */
	while (f != NULL && s->len < HEADER_MAX &&
	    fgets(line, sizeof(line), f) != NULL &&
	    !((s->len == 0 || s->str[s->len - 1] == '\n') &&
	    (strcmp(line, "\r\n") == 0 || strcmp(line, "\n") == 0)))
		g_string_append(s, line);
	if (f != NULL)
		fclose(f);
	*len = s->len;
	return g_string_free(s, FALSE);
}

/* Queue the DSN b; the new ID into id. 0 or an errno (logged). */
static int
send_report(struct bounce_report *b, char id[QUEUE_ID_MAX])
{
	struct submit_msg sm = { 0 };
	char reason[512], *rcpt = (char *)b->sender;
	size_t i;
	int err;

	if ((err = bounce_build(b, &sm.data, &sm.len)) == 0) {
		sm.from = "";
		sm.rcpts = &rcpt;
		sm.nrcpt = 1;
		for (i = 0; i < sm.len; i++)
			sm.eightbit |= (unsigned char)sm.data[i] >= 0x80;
		/* submitted by the daemon itself */
		err = queue_enqueue(&sm, NULL, getuid(), id, reason,
		    sizeof(reason));
	} else {
		snprintf(reason, sizeof(reason), "out of memory");
	}
	g_free(sm.data);
	if (err)
		qlog_event(b->id, "dsn", "action", b->delayed ? "delayed" :
		    "failed", "to", b->sender, "text", reason, NULL);
	return err;
}

/* Caller holds queue.mu. Copy recipient r for a report. */
static void
add_rcpt(GArray *a, const struct rcpt *r)
{
	struct bounce_rcpt br = {
		g_strdup(r->addr), g_strdup(r->code), g_strdup(r->text),
		g_strdup(r->relay),
	};

	g_array_append_val(a, br);
}

static void
free_rcpts(GArray *a)
{
	struct bounce_rcpt *r;
	guint i;

	for (i = 0; i < a->len; i++) {
		r = &g_array_index(a, struct bounce_rcpt, i);
		g_free((char *)r->addr);
		g_free((char *)r->code);
		g_free((char *)r->text);
		g_free((char *)r->relay);
	}
	g_array_free(a, TRUE);
}

/* Caller holds queue.mu. Mark the recipients of a as told. */
static void
mark_notified(struct msg *m, GArray *a)
{
	size_t i;
	guint k;

	for (k = 0; k < a->len; k++)
		for (i = 0; i < m->nr; i++)
			if (strcmp(m->r[i].addr, g_array_index(a,
			    struct bounce_rcpt, k).addr) == 0)
				m->r[i].notified = 1;
}

/* Tell sender about the recipients in a (failed, or delayed); 1 once it
 * is done with (queued, or nobody to tell). */
static int
notify(struct bounce_report *b, GArray *a, const struct quoted *q)
{
	char id[QUEUE_ID_MAX], *header;
	int ok;

	b->r = (const struct bounce_rcpt *)(void *)a->data;
	b->nr = a->len;
	if (b->nr == 0)
		return 0;
	if (b->sender[0] == '\0') {
		qlog_event(b->id, "dsn", "action", b->delayed ? "delayed" :
		    "failed", "to", "<>", "text",
		    "no notification to the null sender", NULL);
		return 1;
	}
	header = read_header(b->id, q, &b->headerlen);
	b->header = header;
	ok = send_report(b, id) == 0;
	g_free(header);
	if (ok)
		qlog_event(b->id, "dsn", "action", b->delayed ? "delayed" :
		    "failed", "to", b->sender, "dsn", id, NULL);
	return ok;
}

void
bounce_notify(struct msg *m)
{
	GArray *failed = g_array_new(FALSE, FALSE, sizeof(struct bounce_rcpt));
	GArray *late = g_array_new(FALSE, FALSE, sizeof(struct bounce_rcpt));
	struct bounce_report b = { 0 };
	struct quoted q;
	char *from = NULL;
	time_t now = time(NULL);
	const struct conf *c;
	int warn, tell_failed, tell_late;
	size_t i;

	pthread_mutex_lock(&queue.mu);
	c = queue.conf;
	/* Without the mail system started (queue_local_start), the queue
	 * only keeps state: no DSN, and none is owed later. It stays on
	 * until queue_close, so results saved at a stop are told. */
	if (!queue.notify || m->gone) {
		pthread_mutex_unlock(&queue.mu);
		g_array_free(failed, TRUE);
		g_array_free(late, TRUE);
		return;
	}
	warn = !m->gone && !m->warned && c->delay_warning > 0 &&
	    now - m->arrival >= c->delay_warning;
	for (i = 0; !m->gone && i < m->nr; i++) {
		if (m->r[i].state == QUEUE_RCPT_FAILED && !m->r[i].notified)
			add_rcpt(failed, &m->r[i]);
		else if (warn && m->r[i].state == QUEUE_RCPT_DEFERRED)
			add_rcpt(late, &m->r[i]);
	}
	if (failed->len > 0 || late->len > 0) {
		from = g_strdup(m->from);
		queue_entry_path(m, "message", q.path);
		q.size = m->size;
		q.has_crc = m->has_crc;
		q.crc = m->crc;
		b.hostname = c->hostname;
		b.id = m->id;
		b.arrival = m->arrival;
		b.until = m->arrival + c->max_age;
	}
	pthread_mutex_unlock(&queue.mu);
	if (from == NULL) {
		free_rcpts(failed);
		free_rcpts(late);
		return;
	}

	/* Only this thread holding m->wmu moves m, so path stays right. */
	b.sender = from;
	tell_failed = notify(&b, failed, &q);
	b.delayed = 1;
	tell_late = notify(&b, late, &q);

	pthread_mutex_lock(&queue.mu);
	if (tell_failed)
		mark_notified(m, failed);
	if (tell_late)
		m->warned = 1;
	pthread_mutex_unlock(&queue.mu);
	g_free(from);
	free_rcpts(failed);
	free_rcpts(late);
}
