/*
 * mime.c - the decoded view of a received message, inbox/ID/, after Plan 9's
 * upas/fs, built with GMime 3.2.
 *
 * API (mime.h): mime_render and mime_render_flags parse a stored message
 * into a tree of mime_node; mime_find looks up a relative path; the caller
 * adds raw (mime_add_raw, no copy) and envelope (mime_add_file); mime_free.
 * This file builds the tree (the part dirs, their raw slices); the header
 * values and the decoding of text are mime_decode.c's (mime_int.h).
 *
 * The top level, in this order:
 *	from to cc replyto	the address list, decoded: Name <a@b>, c@d
 *				(the decoded header text when no address parses)
 *	subject date		the header, unfolded and RFC 2047-decoded
 *	messageid		without angle brackets, as upas/fs shows it
 *				(the header text when GMime finds no id)
 *	header			every field as "Name: value", unfolded and
 *				decoded, in the order of the message
 *	body			the text, transfer-decoded, in UTF-8, LF line
 *				ends: of a single-part message the message
 *				itself if text/plain or text/html; of a
 *				multipart one the first text/plain part depth
 *				first (so multipart/alternative gives its
 *				plain part), else the first text/html; never
 *				an attachment nor inside message/rfc822;
 *				else empty
 *	info			"field value" for the seven files above, then
 *				"size N" (bytes) and "flags F" (Maildir flags)
 *	1/ 2/ ...		only for a multipart message, its subparts, as
 *				upas/fs: a single-part message has no part dirs
 *				(its decoded text is body, its bytes raw);
 *				one whose body is message/rfc822 has dir 1
 *
 * Each part dir: type (the lower-case MIME type alone, "text/plain"; the
 * charset is in raw), filename (decoded, RFC 2231 too; empty if none), body
 * (the content transfer-decoded, bytes as they are, charset untouched; empty
 * for a multipart; for message/rfc822 the embedded message), raw (the part's
 * bytes exactly as in the message, header and content), and numbered dirs:
 * a multipart's subparts; for message/rfc822 the embedded message's subparts
 * when it is multipart, else one dir 1 holding its single part (a part dir
 * has no decoded text of its own, so the part must be there to be read).
 *
 * One-line files end in "\n", are empty when the header is absent, hold
 * valid UTF-8 and no control characters. Text in an unknown charset, or
 * undeclared 8-bit text that is not UTF-8, is read as ISO-8859-1.
 *
 * Hostile input: GMime guesses its way through any bytes (and nests at most
 * 1024 levels); the walk here stops at MAX_DEPTH levels and MAX_PARTS part
 * dirs: what lies beyond is left out, its bytes still in the enclosing raw.
 * GMime itself reads at most MAX_LINES lines that could start a part or a
 * header field (parse_limit), so a message of a million parts or fields
 * costs a few tenths of a second and ~100 MB, not gigabytes.
 * File contents are copies, except raw slices (and a message/rfc822 body),
 * which point into one copy of the message kept by the root: a message
 * costs about twice its size however deep its parts nest.
 *
 * GMime parses a copy in which a comment left open after a domain
 * literal in an address field is blanked out, when there is one
 * (mime_guard.c: GMime 3.2.13 leaks on it); raw slices come from the
 * original.
 *
 * Diagnostics: none; mime_render fails only for lack of memory (ENOMEM) or
 * a message over 2 GB (EFBIG).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "fs/mime.h"
#include "fs/mime_int.h"

#define MAX_LINES	50000	/* see parse_limit */

struct render {
	GByteArray *ba;		/* the root's copy of the message */
	const char *msg;	/* its bytes */
	gint64 len;
	gint64 cut;		/* where GMime stops reading: parse_limit */
	GMimeStream *stream;	/* over msg; content streams are its slices */
	size_t nparts;		/* part dirs made so far */
	int nomem;
};

/* the boundaries of the multiparts around a part, innermost first */
struct bounds {
	const char *boundary;	/* NULL when the multipart has none */
	const struct bounds *up;
};

static struct mime_node *
kid_new(struct mime_node *dir, const char *name, int is_dir)
{
	size_t n = dir->nkids;
	struct mime_node *k;

	/* capacity is the next power of two, at least 4: no field for it */
	if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
		k = realloc(dir->kids, (n ? 2 * n : 4) * sizeof *k);
		if (k == NULL)
			return NULL;
		dir->kids = k;
	}
	k = &dir->kids[n];
	memset(k, 0, sizeof *k);
	if ((k->name = strdup(name)) == NULL)
		return NULL;
	k->is_dir = is_dir;
	dir->nkids++;
	return k;
}

static void
node_clear(struct mime_node *n)
{
	size_t i;

	for (i = 0; i < n->nkids; i++)
		node_clear(&n->kids[i]);
	free(n->kids);
	free(n->name);
	if (!n->borrowed)
		free(n->data);
}

int
mime_add_file(struct mime_node *dir, const char *name, const char *data,
    size_t len)
{
	struct mime_node *k;

	if ((k = kid_new(dir, name, 0)) == NULL)
		return -1;
	if ((k->data = malloc(len + 1)) == NULL) {
		free(k->name);
		dir->nkids--;
		return -1;
	}
	if (len > 0)
		memcpy(k->data, data, len);
	k->data[len] = '\0';
	k->len = len;
	return 0;
}

int
mime_add_raw(struct mime_node *root)
{
	struct mime_node *k;

	if ((k = kid_new(root, "raw", 0)) == NULL)
		return -1;
	k->data = root->data;
	k->len = root->len;
	k->borrowed = 1;
	return 0;
}

/* a file taking over data, a NUL-terminated g_malloc'd buffer */
static void
file_take(struct render *r, struct mime_node *dir, const char *name,
    char *data, size_t len)
{
	struct mime_node *k;

	if ((k = kid_new(dir, name, 0)) == NULL) {
		r->nomem = 1;
		g_free(data);
		return;
	}
	/* g_malloc is the system malloc (GLib >= 2.46): free() may free it */
	k->data = data;
	k->len = len;
}

static void
file_string(struct render *r, struct mime_node *dir, const char *name,
    GString *s)
{
	size_t len = s->len;

	file_take(r, dir, name, g_string_free(s, FALSE), len);
}

static void
file_bytes(struct render *r, struct mime_node *dir, const char *name,
    GByteArray *ba)
{
	guint8 nul = 0;
	size_t len = ba->len;

	g_byte_array_append(ba, &nul, 1);	/* data never NULL */
	file_take(r, dir, name, (char *)g_byte_array_free(ba, FALSE), len);
}

static void
file_slice(struct render *r, struct mime_node *dir, const char *name,
    gint64 begin, gint64 end)
{
	struct mime_node *k;

	if ((k = kid_new(dir, name, 0)) == NULL) {
		r->nomem = 1;
		return;
	}
	k->data = (char *)r->msg + begin;
	k->len = (size_t)(end - begin);
	k->borrowed = 1;
}

/* obj's bytes in the message, [begin, end), or GMime's rewrite of them */
static void
file_range(struct render *r, struct mime_node *dir, const char *name,
    GMimeObject *obj, gint64 begin, gint64 end)
{
	char *s;

	if (begin >= 0 && begin <= end && end <= r->len) {
		file_slice(r, dir, name, begin, end);
		return;
	}
	s = obj ? g_mime_object_to_string(obj, NULL) : NULL;
	file_string(r, dir, name, g_string_new(s ? s : ""));
	g_free(s);
}

/* Does the line at s (after its "--", n bytes to the end) name a boundary? */
static int
bounds_match(const char *s, size_t n, const struct bounds *b)
{
	const char *nl = memchr(s, '\n', n);
	size_t len = nl != NULL ? (size_t)(nl - s) : n, blen;

	/* GMime allows white space after a boundary */
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r'))
		len--;
	for (; b != NULL; b = b->up) {
		if (b->boundary == NULL)
			continue;
		blen = strlen(b->boundary);
		if ((len == blen || (len == blen + 2 && s[blen] == '-' &&
		    s[blen + 1] == '-')) && memcmp(s, b->boundary, blen) == 0)
			return 1;
	}
	return 0;
}

/*
 * The end of the entity starting at from: the line break before the next
 * boundary line of an enclosing multipart (RFC 2046 gives that line break
 * to the boundary), or limit. Nothing inside the entity can be such a line:
 * GMime would have ended the entity there.
 */
static gint64
bounds_next(const struct render *r, gint64 from, gint64 limit,
    const struct bounds *b)
{
	const char *s = r->msg, *nl;
	gint64 p = from, end;

	while (b != NULL && p < limit) {
		if (limit - p > 2 && s[p] == '-' && s[p + 1] == '-' &&
		    bounds_match(s + p + 2, (size_t)(limit - p - 2), b)) {
			end = p;
			if (end > from && s[end - 1] == '\n')
				end--;
			if (end > from && s[end - 1] == '\r')
				end--;
			return end;
		}
		if ((nl = memchr(s + p, '\n', (size_t)(limit - p))) == NULL)
			break;
		p = nl - s + 1;
	}
	return limit;
}

/* Is stream a slice of the message (so its bounds are offsets in it)? */
static int
stream_in_message(const struct render *r, GMimeStream *stream)
{
	for (; stream != NULL; stream = stream->super_stream)
		if (stream == r->stream)
			return 1;
	return 0;
}

static void part_render(struct render *, struct mime_node *, GMimeObject *,
    gint64, gint64, const struct bounds *, int);

/* a multipart's subparts as dirs 1, 2, ... of dir */
static void
subparts_render(struct render *r, struct mime_node *dir, GMimeMultipart *mp,
    gint64 limit, const struct bounds *up, int depth)
{
	struct bounds b = { g_mime_multipart_get_boundary(mp), up };
	struct mime_node *k;
	GMimeObject *sub;
	char name[16];
	int i, n = g_mime_multipart_get_count(mp);

	for (i = 0; i < n && r->nparts < MAX_PARTS && !r->nomem; i++) {
		snprintf(name, sizeof name, "%d", i + 1);
		if ((k = kid_new(dir, name, 1)) == NULL) {
			r->nomem = 1;
			return;
		}
		r->nparts++;
		sub = g_mime_multipart_get_part(mp, i);
		part_render(r, k, sub, mime_headers_begin(sub), limit, &b, depth);
	}
}

/* Could the line s (n bytes) make GMime build an object: "--", "Name:"? */
static int
line_counts(const char *s, gint64 n)
{
	gint64 i = 0, name;

	if (n >= 2 && s[0] == '-' && s[1] == '-')
		return 1;
	while (i < n && (unsigned char)s[i] > ' ' && s[i] != ':' &&
	    s[i] != 0x7f)
		i++;
	name = i;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return name > 0 && i < n && s[i] == ':';
}

/*
 * GMime builds an object for every header field and every part it meets,
 * without a limit: 25 MB of "X:1" or of "--b" lines are millions of them
 * and gigabytes of memory. So GMime reads the message only up to the line
 * where MAX_LINES lines that could be either have been seen (a legitimate
 * message rarely has that many). The leaf cut there is read on to its end
 * by leaf_end; what lies after it is not shown, but stays in raw.
 */
static gint64
parse_limit(const char *s, gint64 len)
{
	const char *nl;
	gint64 p = 0, e, n = 0;

	while (p < len) {
		nl = memchr(s + p, '\n', (size_t)(len - p));
		e = nl != NULL ? nl - s : len;
		if (line_counts(s + p, e - p) && ++n > MAX_LINES)
			return p;
		p = e + 1;
	}
	return len;
}

/* a leaf's content stream when it is a slice of the message, else NULL */
static GMimeStream *
leaf_stream(const struct render *r, GMimePart *part)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *cs = dw != NULL ? g_mime_data_wrapper_get_stream(dw) :
	    NULL;

	return cs != NULL && stream_in_message(r, cs) ? cs : NULL;
}

/*
 * Where a leaf's content (cs) ends. When GMime stopped reading inside it
 * (parse_limit), the content is made to run on to the next boundary line
 * of up, or limit.
 */
static gint64
leaf_end(struct render *r, GMimePart *part, GMimeStream *cs, gint64 limit,
    const struct bounds *up)
{
	GMimeDataWrapper *dw;
	GMimeStream *s;
	gint64 end;

	if (r->cut == r->len || (cs->bound_end >= 0 && cs->bound_end < r->cut))
		return cs->bound_end < 0 ? limit : cs->bound_end;
	end = bounds_next(r, cs->bound_start, limit, up);
	s = g_mime_stream_mem_new_with_byte_array(r->ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
	g_mime_stream_set_bounds(s, cs->bound_start, end);
	dw = g_mime_data_wrapper_new_with_stream(s,
	    g_mime_data_wrapper_get_encoding(g_mime_part_get_content(part)));
	g_mime_part_set_content(part, dw);
	g_object_unref(dw);
	g_object_unref(s);
	return end;
}

/* a leaf's raw and body */
static void
leaf_render(struct render *r, struct mime_node *dir, GMimePart *part,
    gint64 begin, gint64 limit, const struct bounds *up)
{
	GMimeStream *cs = leaf_stream(r, part);
	gint64 end = -1;

	if (cs != NULL) {
		if (begin < 0) {
			/* no header: the part starts with its blank line */
			begin = cs->bound_start;
			if (begin > 0 && r->msg[begin - 1] == '\n')
				begin--;
			if (begin > 0 && r->msg[begin - 1] == '\r')
				begin--;
		}
		end = leaf_end(r, part, cs, limit, up);
	}
	file_bytes(r, dir, "body", mime_part_decode(part, 0));
	file_range(r, dir, "raw", GMIME_OBJECT(part), begin, end);
}

/*
 * The part dir of obj, which starts at begin and ends before limit, inside
 * the multiparts of up, depth levels down from the message.
 */
static void
part_render(struct render *r, struct mime_node *dir, GMimeObject *obj,
    gint64 begin, gint64 limit, const struct bounds *up, int depth)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	GMimeMessage *m;
	GMimeObject *inner;
	GString *s = g_string_new("");
	const char *fn;
	char *type;
	gint64 end;

	if (ct != NULL) {
		type = g_mime_content_type_get_mime_type(ct);
		mime_line_append(s, type);
		g_free(type);
		g_string_ascii_down(s);
		g_string_append_c(s, '\n');
	}
	file_string(r, dir, "type", s);
	s = g_string_new("");
	fn = g_mime_object_get_content_disposition_parameter(obj, "filename");
	if (fn == NULL)
		fn = g_mime_object_get_content_type_parameter(obj, "name");
	if (fn != NULL && *fn != '\0') {
		mime_line_append(s, fn);
		g_string_append_c(s, '\n');
	}
	file_string(r, dir, "filename", s);

	if (GMIME_IS_PART(obj)) {
		leaf_render(r, dir, GMIME_PART(obj), begin, limit, up);
		return;
	}
	end = begin >= 0 ? bounds_next(r, begin, limit, up) : -1;
	if (GMIME_IS_MULTIPART(obj)) {
		file_string(r, dir, "body", g_string_new(""));
		file_range(r, dir, "raw", obj, begin, end);
		if (depth < MAX_DEPTH)
			subparts_render(r, dir, GMIME_MULTIPART(obj), end < 0 ?
			    limit : end, up, depth + 1);
		return;
	}
	m = GMIME_IS_MESSAGE_PART(obj) ?
	    g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj)) : NULL;
	if (m != NULL)
		file_range(r, dir, "body", GMIME_OBJECT(m), mime_message_begin(m), end);
	else
		file_string(r, dir, "body", g_string_new(""));
	file_range(r, dir, "raw", obj, begin, end);
	if (m == NULL || depth >= MAX_DEPTH ||
	    (inner = g_mime_message_get_mime_part(m)) == NULL)
		return;
	if (end < 0)
		end = limit;
	if (GMIME_IS_MULTIPART(inner)) {
		subparts_render(r, dir, GMIME_MULTIPART(inner), end, up,
		    depth + 1);
	} else if (r->nparts < MAX_PARTS) {
		/* the single part of a message is the whole message */
		if ((dir = kid_new(dir, "1", 1)) == NULL) {
			r->nomem = 1;
			return;
		}
		r->nparts++;
		part_render(r, dir, inner, mime_message_begin(m), end, up, depth + 1);
	}
}

/* the header files, header, body, info and part dirs of root */
static void
message_render(struct render *r, struct mime_node *root, GMimeMessage *m,
    const char *flags)
{
	GString *info = g_string_new(""), *s;
	GMimeObject *top = m != NULL ? g_mime_message_get_mime_part(m) : NULL;
	GMimeStream *cs;
	GByteArray *ba;
	struct mime_node parts = { 0 }, *k;
	char *v;
	size_t i;

	/* parts first: they may extend a leaf that body then reads */
	if (top != NULL && GMIME_IS_MULTIPART(top))
		subparts_render(r, &parts, GMIME_MULTIPART(top), r->len, NULL, 1);
	else if (top != NULL && GMIME_IS_MESSAGE_PART(top)) {
		if ((k = kid_new(&parts, "1", 1)) == NULL) {
			r->nomem = 1;
		} else {
			r->nparts++;
			part_render(r, k, top, mime_headers_begin(top), r->len, NULL,
			    1);
		}
	} else if (top != NULL && GMIME_IS_PART(top) &&
	    (cs = leaf_stream(r, GMIME_PART(top))) != NULL)
		leaf_end(r, GMIME_PART(top), cs, r->len, NULL);

	for (i = 0; i < MIME_NHDRS; i++) {
		s = g_string_new("");
		v = m != NULL ? mime_header_value(m, i) : NULL;
		if (v != NULL)
			mime_line_append(s, v);
		g_free(v);
		g_string_append(info, mime_hdrs[i].file);
		if (s->len > 0) {
			g_string_append_printf(info, " %s", s->str);
			g_string_append_c(s, '\n');
		}
		g_string_append_c(info, '\n');
		file_string(r, root, mime_hdrs[i].file, s);
	}
	file_string(r, root, "header", m != NULL ? mime_header_block(m) :
	    g_string_new(""));
	if (m != NULL) {
		file_bytes(r, root, "body", mime_body_text(m));
	} else {
		/* not a message at all (no header): its text as it is */
		ba = g_byte_array_sized_new((guint)r->len);
		g_byte_array_append(ba, (const guint8 *)r->msg, (guint)r->len);
		mime_text_mend(ba, 0);
		file_bytes(r, root, "body", ba);
	}
	g_string_append_printf(info, "size %lld\nflags\n", (long long)r->len);
	if (flags != NULL && *flags != '\0') {
		s = info;
		info = g_string_new("");
		if (mime_info_flags(s->str, s->len, flags, &v, &i) == -1)
			r->nomem = 1;
		else
			g_string_append_len(info, v, i);
		free(v);
		g_string_free(s, TRUE);
	}
	file_string(r, root, "info", info);

	for (i = 0; i < parts.nkids; i++) {
		if ((k = kid_new(root, parts.kids[i].name, 1)) == NULL) {
			r->nomem = 1;
			break;
		}
		free(k->name);
		*k = parts.kids[i];
	}
	for (; i < parts.nkids; i++)
		node_clear(&parts.kids[i]);
	free(parts.kids);
}

int
mime_info_flags(const char *info, size_t len, const char *flags, char **out,
    size_t *outlen)
{
	GString *s = g_string_new_len(info, len);

	/* the last line is "flags": the flags go after it */
	if (s->len > 0 && s->str[s->len - 1] == '\n')
		g_string_truncate(s, s->len - 1);
	if (flags != NULL && *flags != '\0') {
		g_string_append_c(s, ' ');
		mime_line_append(s, flags);
	}
	g_string_append_c(s, '\n');
	*outlen = s->len;
	/* g_malloc is the system malloc (see file_take) */
	*out = g_string_free(s, FALSE);
	return 0;
}

struct mime_node *
mime_render_flags(const char *data, size_t len, const char *flags)
{
	struct render r = { 0 };
	struct mime_node *root;
	GByteArray *ba, *guarded;
	GMimeParser *parser;
	GMimeMessage *m;
	guint8 nul = 0;

	if (len > INT_MAX) {
		errno = EFBIG;
		return NULL;
	}
	if ((root = calloc(1, sizeof *root)) == NULL ||
	    (root->name = strdup("")) == NULL) {
		free(root);
		errno = ENOMEM;
		return NULL;
	}
	root->is_dir = 1;

	/* one copy, read by GMime and kept by the root for the raw slices */
	ba = g_byte_array_sized_new((guint)len + 1);
	g_byte_array_append(ba, (const guint8 *)data, (guint)len);
	g_byte_array_append(ba, &nul, 1);
	g_byte_array_set_size(ba, (guint)len);
	r.ba = ba;
	r.msg = (const char *)ba->data;
	r.len = (gint64)len;
	r.cut = parse_limit(r.msg, r.len);
	/* GMime reads a guarded copy when the message needs one: the same
	 * offsets, so the raw slices of the original line up */
	guarded = mime_guard_copy(r.msg, len);
	r.stream = g_mime_stream_mem_new_with_byte_array(guarded ? guarded : ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(r.stream), FALSE);
	g_mime_stream_set_bounds(r.stream, 0, r.cut);
	parser = g_mime_parser_new_with_stream(r.stream);
	m = g_mime_parser_construct_message(parser, NULL);

	message_render(&r, root, m, flags);

	if (m != NULL)
		g_object_unref(m);
	g_object_unref(parser);
	g_object_unref(r.stream);
	if (guarded != NULL)
		g_byte_array_free(guarded, TRUE);
	root->data = (char *)g_byte_array_free(ba, FALSE);
	root->len = len;
	if (r.nomem) {
		mime_free(root);
		errno = ENOMEM;
		return NULL;
	}
	return root;
}

struct mime_node *
mime_render(const char *data, size_t len)
{
	return mime_render_flags(data, len, NULL);
}

const struct mime_node *
mime_find(const struct mime_node *node, const char *relpath)
{
	const struct mime_node *k;
	size_t i, n;

	for (;;) {
		relpath += strspn(relpath, "/");
		if (*relpath == '\0' || node == NULL)
			return node;
		n = strcspn(relpath, "/");
		for (k = NULL, i = 0; node->is_dir && i < node->nkids; i++)
			if (strncmp(node->kids[i].name, relpath, n) == 0 &&
			    node->kids[i].name[n] == '\0') {
				k = &node->kids[i];
				break;
			}
		node = k;
		relpath += n;
	}
}

void
mime_free(struct mime_node *root)
{
	if (root == NULL)
		return;
	node_clear(root);
	free(root);
}
