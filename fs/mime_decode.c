/*
 * mime_decode.c - the decoding behind the MIME view (mime.c): the header
 * files (one line of UTF-8 each: unfolded, RFC 2047-decoded, addresses
 * as "Name <a@b>"), the merged header block, where a header starts in the
 * message, and text made readable (transfer- and charset-decoded, LF line
 * ends, valid UTF-8) for the body files. The rules are described in
 * mime.c's header comment.
 *
 * API: mime_int.h.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "fs/mime_int.h"

/* the header files, in display order */
const struct mime_hdr mime_hdrs[MIME_NHDRS] = {
	{ "from", "From", GMIME_ADDRESS_TYPE_FROM },
	{ "to", "To", GMIME_ADDRESS_TYPE_TO },
	{ "cc", "Cc", GMIME_ADDRESS_TYPE_CC },
	{ "replyto", "Reply-To", GMIME_ADDRESS_TYPE_REPLY_TO },
	{ "subject", "Subject", -1 },
	{ "date", "Date", -1 },
	{ "messageid", "Message-ID", -1 },
};

/* s as one line of valid UTF-8: controls become spaces, ends trimmed */
void
mime_line_append(GString *out, const char *s)
{
	char *v;
	const char *p;

	if (s == NULL)
		return;
	v = g_utf8_make_valid(s, -1);
	for (p = g_strstrip(v); *p != '\0'; p++)
		g_string_append_c(out, (unsigned char)*p < 0x20 || *p == 0x7f ?
		    ' ' : *p);
	g_free(v);
}

/*
 * GMime 3.2.13 decodes adjacent B encoded-words of one charset as one
 * base64 text and stops at the first one's padding, dropping the rest
 * (jstedfast/gmime#133, fixed after 3.2.13). Mailers split long names and
 * subjects that way. An empty encoded-word of another charset in between
 * keeps the words apart. Returns NULL when raw has no such pair.
 */
static char *
b64_unmerge(const char *raw)
{
	GString *s = NULL;
	const char *done = raw, *p, *q, *w;

	for (p = raw; (q = strstr(p, "=?=")) != NULL; p = q + 3) {
		w = q + 3 + strspn(q + 3, " \t\r\n");
		if (w == q + 3 || strncmp(w, "=?", 2) != 0)
			continue;
		if (s == NULL)
			s = g_string_new(NULL);
		g_string_append_len(s, done, q + 3 - done);
		g_string_append(s, " =?us-ascii?q?\?=");
		done = q + 3;
	}
	if (s == NULL)
		return NULL;
	g_string_append(s, done);
	return g_string_free(s, FALSE);
}

/* h's value, unfolded and decoded, to g_free */
static char *
header_decoded(GMimeHeader *h)
{
	const char *raw = g_mime_header_get_raw_value(h);
	const char *v = g_mime_header_get_value(h);
	char *fixed = raw != NULL ? b64_unmerge(raw) : NULL, *u, *d;

	if (fixed == NULL)
		return g_strdup(v != NULL ? v : "");
	u = g_mime_utils_header_unfold(fixed);
	d = g_mime_utils_header_decode_text(NULL, u);
	g_free(u);
	g_free(fixed);
	return d;
}

/* the decoded value of header file i, to g_free; NULL if absent */
char *
mime_header_value(GMimeMessage *m, size_t i)
{
	GMimeHeader *h = g_mime_header_list_get_header(
	    g_mime_object_get_header_list(GMIME_OBJECT(m)), mime_hdrs[i].field);
	InternetAddressList *l = NULL;
	const char *id, *raw;
	char *fixed, *u, *v = NULL;

	if (h == NULL)
		return NULL;
	if (mime_hdrs[i].addr >= 0) {
		/* unfolded first: GMime keeps a fold inside a quoted name,
		 * "A<CR><LF> B" turning into "A  B" */
		raw = g_mime_header_get_raw_value(h);
		fixed = raw != NULL ? b64_unmerge(raw) : NULL;
		if (raw != NULL) {
			u = g_mime_utils_header_unfold(fixed ? fixed : raw);
			l = internet_address_list_parse(NULL, u);
			g_free(u);
		} else if ((l = g_mime_message_get_addresses(m,
		    mime_hdrs[i].addr))) {
			g_object_ref(l);
		}
		g_free(fixed);
		if (l != NULL && internet_address_list_length(l) > 0)
			v = internet_address_list_to_string(l, NULL, FALSE);
		if (l != NULL)
			g_object_unref(l);
		if (v != NULL)
			return v;
	} else if (strcmp(mime_hdrs[i].file, "messageid") == 0) {
		if ((id = g_mime_message_get_message_id(m)) != NULL)
			return g_strdup(id);
	}
	return header_decoded(h);
}

static gint64
header_offset(GMimeHeaderList *l, int i)
{
	return g_mime_header_get_offset(g_mime_header_list_get_header_at(l, i));
}

/* where obj's header starts in the message; -1 when it has none */
gint64
mime_headers_begin(GMimeObject *obj)
{
	GMimeHeaderList *l = g_mime_object_get_header_list(obj);

	/* the parser lists fields in the order it met them */
	return l != NULL && g_mime_header_list_get_count(l) > 0 ?
	    header_offset(l, 0) : -1;
}

/* a message's header is split: its own fields, its part's Content-* ones */
gint64
mime_message_begin(GMimeMessage *m)
{
	GMimeObject *part = g_mime_message_get_mime_part(m);
	gint64 a = mime_headers_begin(GMIME_OBJECT(m));
	gint64 b = part != NULL ? mime_headers_begin(part) : -1;

	return a < 0 || (b >= 0 && b < a) ? b : a;
}

static void
field_append(GString *out, GMimeHeader *h)
{
	char *v;

	mime_line_append(out, g_mime_header_get_name(h));
	g_string_append(out, ": ");
	v = header_decoded(h);
	mime_line_append(out, v);
	g_free(v);
	g_string_append_c(out, '\n');
}

/* the header file: the message's fields and its part's, merged by offset */
GString *
mime_header_block(GMimeMessage *m)
{
	GString *out = g_string_new("");
	GMimeObject *part = g_mime_message_get_mime_part(m);
	GMimeHeaderList *x = g_mime_object_get_header_list(GMIME_OBJECT(m));
	GMimeHeaderList *y = part ? g_mime_object_get_header_list(part) : NULL;
	int nx = x ? g_mime_header_list_get_count(x) : 0;
	int ny = y ? g_mime_header_list_get_count(y) : 0;
	int i = 0, j = 0;

	while (i < nx || j < ny) {
		if (j >= ny || (i < nx && header_offset(x, i) <=
		    header_offset(y, j)))
			field_append(out, g_mime_header_list_get_header_at(x, i++));
		else
			field_append(out, g_mime_header_list_get_header_at(y, j++));
	}
	return out;
}

/*
 * Text bytes made valid UTF-8 in place: NULs dropped; what a charset
 * converter produced is mended, other bytes that are not UTF-8 are taken
 * as ISO-8859-1, which maps every byte.
 */
void
mime_text_mend(GByteArray *ba, int converted)
{
	guint i, j;
	char *fixed;
	gsize n = 0;

	for (i = j = 0; i < ba->len; i++)
		if (ba->data[i] != '\0')
			ba->data[j++] = ba->data[i];
	g_byte_array_set_size(ba, j);
	if (g_utf8_validate_len((char *)ba->data, ba->len, NULL))
		return;
	if (converted) {
		fixed = g_utf8_make_valid((char *)ba->data, ba->len);
		n = strlen(fixed);
	} else {
		fixed = g_convert((char *)ba->data, ba->len, "UTF-8",
		    "ISO-8859-1", NULL, &n, NULL);
	}
	if (fixed == NULL)
		return;
	g_byte_array_set_size(ba, 0);
	g_byte_array_append(ba, (guint8 *)fixed, n);
	g_free(fixed);
}

static int
charset_is_utf8(const char *cs)
{
	static const char *const same[] = { "utf-8", "utf8", "us-ascii",
	    "ascii" };
	size_t i;

	for (i = 0; i < sizeof same / sizeof same[0]; i++)
		if (g_ascii_strcasecmp(cs, same[i]) == 0)
			return 1;
	return 0;
}

/*
 * A leaf's content, transfer-decoded; as text (to UTF-8 from its charset,
 * LF line ends, mended) when text is set.
 */
GByteArray *
mime_part_decode(GMimePart *part, int text)
{
	GByteArray *ba = g_byte_array_new();
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *mem, *out;
	GMimeFilter *f;
	const char *cs;
	int converted = 0;

	if (dw == NULL)
		return ba;
	mem = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	out = mem;
	if (text) {
		out = g_mime_stream_filter_new(mem);
		cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part),
		    "charset");
		if (cs != NULL && !charset_is_utf8(cs) &&
		    (f = g_mime_filter_charset_new(cs, "UTF-8")) != NULL) {
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(out), f);
			g_object_unref(f);
			converted = 1;
		}
		f = g_mime_filter_dos2unix_new(FALSE);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(out), f);
		g_object_unref(f);
	}
	g_mime_data_wrapper_write_to_stream(dw, out);
	g_mime_stream_flush(out);
	if (out != mem)
		g_object_unref(out);
	g_object_unref(mem);
	if (text)
		mime_text_mend(ba, converted);
	return ba;
}

/*
 * The first leaf of type text/sub, depth first, not an attachment (but a
 * message consisting of one attachment is its own text), not inside
 * message/rfc822. budget bounds the visits.
 */
static GMimePart *
text_find(GMimeObject *obj, const char *sub, int depth, int *budget)
{
	GMimeMultipart *mp;
	GMimePart *p;
	int i, n;

	if (--*budget < 0 || depth > MAX_DEPTH)
		return NULL;
	if (GMIME_IS_MULTIPART(obj)) {
		mp = GMIME_MULTIPART(obj);
		n = g_mime_multipart_get_count(mp);
		for (i = 0; i < n; i++)
			if ((p = text_find(g_mime_multipart_get_part(mp, i), sub,
			    depth + 1, budget)) != NULL)
				return p;
		return NULL;
	}
	if (!GMIME_IS_PART(obj) || (depth > 0 &&
	    g_mime_part_is_attachment(GMIME_PART(obj))))
		return NULL;
	return g_mime_content_type_is_type(g_mime_object_get_content_type(obj),
	    "text", sub) ? GMIME_PART(obj) : NULL;
}

GByteArray *
mime_body_text(GMimeMessage *m)
{
	GMimeObject *top = g_mime_message_get_mime_part(m);
	GMimePart *p = NULL;
	int budget = MAX_PARTS;
	GByteArray *ba;

	if (top != NULL && (p = text_find(top, "plain", 0, &budget)) == NULL) {
		budget = MAX_PARTS;
		p = text_find(top, "html", 0, &budget);
	}
	if (p == NULL)
		return g_byte_array_new();
	/* a part ends before the line break its boundary line takes */
	ba = mime_part_decode(p, 1);
	if (ba->len > 0 && ba->data[ba->len - 1] != '\n')
		g_byte_array_append(ba, (const guint8 *)"\n", 1);
	return ba;
}
