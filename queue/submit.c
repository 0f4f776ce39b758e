/*
 * submit.c - turn the bytes written into outbox/ into a message ready to
 * queue: validate it, find its envelope, and prepare the stored form.
 *
 * API: submit_prepare, submit_free, submit_domain (queue_int.h).
 *
 * GMime parses the header (fields, address lists with groups, quoting and
 * RFC 2047 names); the stored bytes are the input itself with line ends
 * made CRLF, the Bcc: fields cut out at the offsets GMime reports, and
 * Date: / Message-ID: appended to the header when missing, so the body is
 * sent byte for byte as written. Dot-stuffing is left to the wire.
 * A bare name ("root", "alice") is qualified with the hostname, in the
 * header's addresses and in an explicit envelope (struct queue_origin,
 * from sendmail(8)), which replaces the header's sender and recipients.
 *
 * Diagnostics: EINVAL / EFBIG with a short reason for the `rejected` log
 * line ("no From:", "bad address in To: ...", "not a message: ...").
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "queue/queue_int.h"

/* A growing output buffer; on allocation failure it stays marked failed.
 * It starts at FIRST_CAP bytes and doubles. */
#define FIRST_CAP	4096

struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	size_t cap;
	char *np;

	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : FIRST_CAP;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Every line end (LF, CRLF or a bare CR) becomes CRLF: the canonical form
 * SMTP sends, and no bare CR or LF left to smuggle anything. */
static void
to_crlf(struct buf *b, const char *p, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (p[i] != '\r' && p[i] != '\n')
			continue;
		buf_add(b, p + start, i - start);
		buf_add(b, "\r\n", 2);
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	buf_add(b, p + start, len - start);
}

char *
submit_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	char *d, *q;

	if ((d = strdup(at ? at + 1 : "")) == NULL)
		return NULL;
	for (q = d; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return d;
}

/* A domain we can look up: LDH labels of 1-63 octets (already IDNA
 * encoded by GMime), or an address literal in brackets. */
static int
domain_ok(const char *d)
{
	size_t label = 0, total = strlen(d);
	const char *p;

	if (d[0] == '[')
		return total > 2 && d[total - 1] == ']' &&
		    strcspn(d + 1, "[]\\ ") == total - 2;
	if (total == 0 || total > 253)
		return 0;
	for (p = d; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
		} else if (isalnum((unsigned char)*p) ||
		    (*p == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
}

static int
addr_ok(const char *addr)
{
	const char *at = strrchr(addr, '@');
	const unsigned char *p;

	if (at == NULL || at == addr || at - addr > 64)
		return 0;
	for (p = (const unsigned char *)addr; p < (const unsigned char *)at; p++)
		if (*p < 0x21 && !(*p == ' ' && addr[0] == '"'))
			return 0;
	return domain_ok(at + 1);
}

/* The last octet of an RFC 2047 encoded-word starting at s, or NULL: its
 * text may hold ',' or ':' that are not list syntax. */
static const char *
encoded_word_end(const char *s)
{
	int marks = 0;

	for (s += 2; *s && !isspace((unsigned char)*s); s++) {
		if (*s != '?')
			continue;
		if (++marks >= 3 && s[1] == '=')
			return s + 1;
	}
	return NULL;
}

/*
 * count_elements - how many addresses the writer meant in one address
 * field: top-level elements separated by ',' or ';', where an element
 * ended by ':' names a group and is not an address. Quoted strings,
 * comments, encoded-words, angle-addrs and domain literals are skipped
 * whole. GMime
 * silently drops what it cannot parse, so comparing this count with the
 * mailboxes it returns is how "an address that does not parse" is found.
 * What GMime repairs instead of dropping is refused here: SIZE_MAX for an
 * unterminated quote, comment, angle-addr or literal, a stray '>', or a
 * second '@' in an element or an angle-addr (GMime reads "b@c@d" as b@c,
 * "<b@c" as b@c; its strict mode would refuse some, but leaks doing so).
 */
static size_t
count_elements(const char *s)
{
	const char *end;
	size_t n = 0;
	int depth = 0, quoted = 0, angle = 0, literal = 0, content = 0;
	int ats = 0, angle_ats = 0;

	for (; *s; s++) {
		if (quoted) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				quoted = 0;
			continue;
		}
		if (depth > 0) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')')
				depth--;
			continue;
		}
		if (angle || literal) {
			if ((angle && *s == '>') || (literal && *s == ']'))
				angle = literal = 0;
			else if (angle && (*s == ',' || *s == ':'))
				angle_ats = 0;	/* source route "<@a,@b:c@d>" */
			else if (angle && *s == '@' && ++angle_ats > 1)
				return SIZE_MAX;
			continue;
		}
		switch (*s) {
		case '(':
			depth = 1;
			break;
		case '=':
			if (s[1] == '?' && (end = encoded_word_end(s)) != NULL)
				s = end;
			content = 1;
			break;
		case '"':
			quoted = content = 1;
			break;
		case '<':
			angle = content = 1;
			angle_ats = 0;
			break;
		case '[':
			literal = content = 1;
			break;
		case '>':
			return SIZE_MAX;
		case '@':
			if (++ats > 1)
				return SIZE_MAX;
			content = 1;
			break;
		case ',': case ';':
			n += content;
			content = ats = 0;
			break;
		case ':':
			content = ats = 0;
			break;
		default:
			if (!isspace((unsigned char)*s))
				content = 1;
		}
	}
	if (quoted || depth > 0 || angle || literal)
		return SIZE_MAX;
	return n + content;
}

/* The mailboxes of an address list, groups flattened, in order. */
static void
flatten(InternetAddressList *l, GPtrArray *out)
{
	InternetAddress *a;
	int i, n = internet_address_list_length(l);

	for (i = 0; i < n; i++) {
		a = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(a))
			flatten(internet_address_group_get_members(
			    INTERNET_ADDRESS_GROUP(a)), out);
		else
			g_ptr_array_add(out, a);
	}
}

/* The state of one preparation, so helpers can set the reason. */
struct prep {
	char *reason;
	size_t reasonlen;
	const struct conf *c;
};

/*
 * qualify - addr as an envelope address (g_malloc'd): a bare name
 * ("root", as cron and mail(1) write it) gets @hostname, as Postfix's
 * myorigin does. NULL when the result is not something SMTP can carry.
 */
static char *
qualify(const struct prep *p, const char *addr)
{
	char *q;

	if (strchr(addr, '@') != NULL)
		q = g_strdup(addr);
	else if (addr[0] == '\0' || addr[0] == '"' ||
	    strcspn(addr, "()<>[]:;,\\") != strlen(addr))
		return NULL;
	else
		q = g_strdup_printf("%s@%s", addr, p->c->hostname ?
		    p->c->hostname : "localhost");
	if (!addr_ok(q)) {
		g_free(q);
		return NULL;
	}
	return q;
}

static int
reject(struct prep *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->reason, p->reasonlen, fmt, ap);
	va_end(ap);
	return err;
}

/*
 * field_addresses - parse one address field into out (strdup'd envelope
 * addresses, IDNA domains). EINVAL when an element did not parse or an
 * address is not something SMTP can carry.
 */
static int
field_addresses(struct prep *p, GMimeHeader *h, GPtrArray *out)
{
	const char *name = g_mime_header_get_name(h);
	char *value, *q;
	InternetAddressList *l;
	GPtrArray *boxes;
	const char *addr;
	char *qa;
	size_t want;
	guint i;
	int err = 0;

	/* Unfold: the raw value keeps its CRLFs. */
	value = g_strdup(g_mime_header_get_raw_value(h));
	for (q = value; *q; q++)
		if (*q == '\r' || *q == '\n')
			*q = ' ';
	g_strstrip(value);
	want = count_elements(value);
	l = want == SIZE_MAX ? NULL : internet_address_list_parse(NULL, value);
	boxes = g_ptr_array_new();
	if (l != NULL)
		flatten(l, boxes);
	if (boxes->len != want)
		err = reject(p, EINVAL, "bad address in %s: %s", name, value);
	for (i = 0; !err && i < boxes->len; i++) {
		addr = internet_address_mailbox_get_idn_addr(
		    INTERNET_ADDRESS_MAILBOX(boxes->pdata[i]));
		if ((qa = qualify(p, addr)) == NULL)
			err = reject(p, EINVAL, "bad address in %s: %s", name,
			    addr);
		else
			g_ptr_array_add(out, qa);
	}
	g_ptr_array_free(boxes, TRUE);
	if (l != NULL)
		g_object_unref(l);
	g_free(value);
	return err;
}

/* Same address: local part exact, domain case-insensitive. */
static int
same_addr(const char *a, const char *b)
{
	const char *da = strrchr(a, '@'), *db = strrchr(b, '@');

	return da - a == db - b && strncmp(a, b, (size_t)(da - a)) == 0 &&
	    strcasecmp(da, db) == 0;
}

static int
is_field(GMimeHeader *h, const char *name)
{
	return g_ascii_strcasecmp(g_mime_header_get_name(h), name) == 0;
}

/* An envelope address given by the origin ("<a@b>" or "a@b" or a bare
 * name) into out; "" or "<>" is the null sender when null_ok. */
static int
given_address(struct prep *p, const char *what, const char *a, int null_ok,
    GPtrArray *out)
{
	size_t n = strlen(a);
	char *bare, *qa;

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
		bare = g_strndup(a + 1, n - 2);
	else
		bare = g_strdup(a);
	if (bare[0] == '\0' && null_ok)
		qa = g_strdup("");
	else
		qa = qualify(p, bare);
	g_free(bare);
	if (qa == NULL)
		return reject(p, EINVAL, "bad %s address: %s", what, a);
	g_ptr_array_add(out, qa);
	return 0;
}

/*
 * envelope - sender and recipients: the origin's when it gives them, else
 * from the header. The header's sender is the From: mailbox; with several
 * (RFC 5322 3.6.2) the Sender: one, else the first. A From: is required
 * either way.
 */
static int
envelope(struct prep *p, GMimeHeaderList *hl, const struct queue_origin *o,
    struct submit_msg *m)
{
	GPtrArray *from = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *sender = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *rcpt = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *other = g_ptr_array_new_with_free_func(g_free);
	GMimeHeader *h;
	int i, n = g_mime_header_list_get_count(hl), err = 0;
	int header_rcpts = o == NULL || o->rcpts == NULL || o->header_rcpts;
	guint j, k;
	size_t r;

	for (r = 0; !err && o != NULL && o->rcpts != NULL && r < o->nrcpt; r++)
		err = given_address(p, "recipient", o->rcpts[r], 0, rcpt);
	for (i = 0; !err && i < n; i++) {
		h = g_mime_header_list_get_header_at(hl, i);
		if (is_field(h, "From"))
			err = field_addresses(p, h, from);
		else if (is_field(h, "Sender"))
			err = field_addresses(p, h, sender);
		else if (is_field(h, "To") || is_field(h, "Cc") ||
		    is_field(h, "Bcc"))
			err = field_addresses(p, h, header_rcpts ? rcpt :
			    other);
	}
	if (!err && from->len == 0)
		err = reject(p, EINVAL, "no From:");
	if (!err && o != NULL && o->from != NULL) {
		g_ptr_array_set_size(sender, 0);
		g_ptr_array_set_size(from, 0);
		err = given_address(p, "sender", o->from, 1, from);
	}
	if (!err && rcpt->len == 0)
		err = reject(p, EINVAL, "no recipient");
	if (!err) {
		m->from = strdup(from->len > 1 && sender->len > 0 ?
		    sender->pdata[0] : from->pdata[0]);
		m->rcpts = calloc(rcpt->len, sizeof(char *));
		if (m->from == NULL || m->rcpts == NULL)
			err = ENOMEM;
	}
	for (j = 0; !err && j < rcpt->len; j++) {
		for (k = 0; k < m->nrcpt; k++)
			if (same_addr(m->rcpts[k], rcpt->pdata[j]))
				break;
		if (k < m->nrcpt)
			continue;
		if ((m->rcpts[m->nrcpt] = strdup(rcpt->pdata[j])) == NULL)
			err = ENOMEM;
		else
			m->nrcpt++;
	}
	g_ptr_array_free(from, TRUE);
	g_ptr_array_free(sender, TRUE);
	g_ptr_array_free(rcpt, TRUE);
	g_ptr_array_free(other, TRUE);
	return err;
}

/* A new Message-ID (without the brackets), to g_free: 128 random bits
 * from getrandom(2), which, unlike GMime's generator, opens no file per
 * message; GMime's when the kernel has none to give. */
static char *
message_id(const char *host)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char r[16];
	char hex[sizeof(r) * 2 + 1];
	size_t i;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		return g_mime_utils_generate_message_id(host);
	for (i = 0; i < sizeof(r); i++) {
		hex[2 * i] = digits[r[i] >> 4];
		hex[2 * i + 1] = digits[r[i] & 0xf];
	}
	hex[sizeof(hex) - 1] = '\0';
	return g_strconcat(hex, "@", host, NULL);
}

/*
 * build - the stored form: header without Bcc:, Date: and Message-ID:
 * appended when missing, then the rest (blank line and body) as is, all
 * ending in CRLF. hdr_end is where the header block ends in c (the blank
 * line, or the end when there is no body).
 */
static void
build(const struct conf *c, GMimeHeaderList *hl, const char *text,
    size_t len, size_t hdr_end, struct buf *out)
{
	GMimeHeader *h;
	GDateTime *now;
	char *s;
	size_t start, end;
	int i, n = g_mime_header_list_get_count(hl);

	for (i = 0; i < n; i++) {
		h = g_mime_header_list_get_header_at(hl, i);
		start = (size_t)g_mime_header_get_offset(h);
		end = i + 1 < n ? (size_t)g_mime_header_get_offset(
		    g_mime_header_list_get_header_at(hl, i + 1)) : hdr_end;
		if (!is_field(h, "Bcc"))
			buf_add(out, text + start, end - start);
	}
	if (out->len >= 2 && memcmp(out->p + out->len - 2, "\r\n", 2) != 0)
		buf_add(out, "\r\n", 2);
	if (!g_mime_header_list_contains(hl, "Date")) {
		now = g_date_time_new_now_local();
		s = g_mime_utils_header_format_date(now);
		buf_str(out, "Date: ");
		buf_str(out, s);
		buf_str(out, "\r\n");
		g_free(s);
		g_date_time_unref(now);
	}
	if (!g_mime_header_list_contains(hl, "Message-ID")) {
		s = message_id(c->hostname ? c->hostname : "localhost");
		buf_str(out, "Message-ID: <");
		buf_str(out, s);
		buf_str(out, ">\r\n");
		g_free(s);
	}
	buf_add(out, text + hdr_end, len - hdr_end);
	if (out->len >= 2 && memcmp(out->p + out->len - 2, "\r\n", 2) != 0)
		buf_add(out, "\r\n", 2);
}

/* 1 if the bytes cannot be a message at all, with the reason set. */
static int
not_text(struct prep *p, const char *raw, size_t len)
{
	if (len == 0)
		return reject(p, 1, "not a message: empty");
	if (memchr(raw, '\0', len) != NULL)
		return reject(p, 1, "not a message: NUL byte");
	return 0;
}

/* Where the header block of CRLF text ends: its blank line, or len. */
static size_t
header_end(const char *text, size_t len)
{
	const char *p;

	if (len >= 2 && memcmp(text, "\r\n", 2) == 0)
		return 0;
	p = memmem(text, len, "\r\n\r\n", 4);
	return p ? (size_t)(p - text) + 2 : len;
}

/*
 * header_garbage - the number (from 1) of the first line of the header
 * block that is neither a field ("name:") nor a continuation, or 0. GMime
 * drops such a line silently and would leave it above the fields we add;
 * a person who wrote it meant something, so it is refused, not guessed at.
 */
static size_t
header_garbage(const char *text, size_t len)
{
	size_t i = 0, n, line = 0;

	while (i < len) {
		line++;
		for (n = 0; i + n < len && text[i + n] != '\n'; n++)
			;
		if (n == 0 || (n == 1 && text[i] == '\r'))
			return 0;	/* the blank line: the body follows */
		if (text[i] != ' ' && text[i] != '\t') {
			size_t k = 0;

			while (k < n && text[i + k] > ' ' && text[i + k] < 127 &&
			    text[i + k] != ':')
				k++;
			if (k == 0 || k == n || text[i + k] != ':')
				return line;
		}
		i += n + 1;
	}
	return 0;
}

int
submit_prepare(const struct conf *c, const char *raw, size_t len,
    const struct queue_origin *o, struct submit_msg *m, char *reason,
    size_t reasonlen)
{
	struct prep p = { reason, reasonlen, c };
	struct buf text = { 0 }, out = { 0 };
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeObject *msg;
	GMimeHeaderList *hl;
	size_t skip = 0, hend, i;
	int err;

	memset(m, 0, sizeof(*m));
	reason[0] = '\0';
	if (c->max_size > 0 && len > c->max_size)
		return reject(&p, EFBIG, "larger than max_size (%zu > %zu)",
		    len, c->max_size);
	if (not_text(&p, raw, len))
		return EINVAL;
	/* An mbox "From " line saved with the message is not part of it. */
	if (len > 5 && memcmp(raw, "From ", 5) == 0) {
		while (skip < len && raw[skip] != '\n')
			skip++;
		skip += skip < len;
	}
	to_crlf(&text, raw + skip, len - skip);
	if (text.failed)
		return ENOMEM;
	if (text.len == 0) {
		free(text.p);
		return reject(&p, EINVAL, "not a message: empty");
	}

	/*
	 * GMime gets the header block alone, as a part: only the fields and
	 * their offsets are needed, and parsing a message or its body makes
	 * GMime parse address fields on its own, also those of an attached
	 * message/rfc822; GMime 3.2.13 leaks doing so on "x@[1.2.3.4] ("
	 * (found by queue/submit_fuzz). field_addresses never gives it such
	 * a value.
	 */
	hend = header_end(text.p, text.len);
	stream = g_mime_stream_mem_new_with_buffer(text.p,
	    hend + 2 <= text.len ? hend + 2 : text.len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_part(parser, NULL);
	hl = msg ? g_mime_object_get_header_list(msg) : NULL;
	if (hl == NULL || g_mime_header_list_get_count(hl) == 0 ||
	    g_mime_header_get_offset(g_mime_header_list_get_header_at(hl, 0))
	    != 0)
		err = reject(&p, EINVAL, "not a message: no header");
	else if ((i = header_garbage(text.p, text.len)) != 0)
		err = reject(&p, EINVAL, "not a message: header line %zu is "
		    "not a field", i + (skip > 0));
	else
		err = envelope(&p, hl, o, m);
	if (!err) {
		build(c, hl, text.p, text.len, hend, &out);
		if (out.failed)
			err = ENOMEM;
	}
	if (msg)
		g_object_unref(msg);
	g_object_unref(parser);
	g_object_unref(stream);
	free(text.p);
	if (err) {
		free(out.p);
		submit_free(m);
		return err;
	}
	m->data = out.p;
	m->len = out.len;
	for (i = 0; i < out.len && (unsigned char)out.p[i] < 0x80; i++)
		;
	m->eightbit = i < out.len;
	return 0;
}

void
submit_free(struct submit_msg *m)
{
	size_t i;

	free(m->data);
	free(m->from);
	for (i = 0; i < m->nrcpt; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	memset(m, 0, sizeof(*m));
}
